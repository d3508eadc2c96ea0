/*
 * mailfetch: fetch mail from POP3 and IMAP servers into Maildirs.
 * Options, accounts, exit statuses. See ../shared/SPEC.md and
 * mailfetch(1).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "../tls/util.h"
#include "config.h"
#include "daemon.h"
#include "run.h"

#define VERSION "0.1"

static void
usage(FILE *f)
{
	fputs("usage: mailfetch [-c FILE] [-n] [-q] [-v]... [-j N] [--check] "
	      "[--syslog] [ACCOUNT...]\n"
	      "       mailfetch -d [-c FILE] [-q] [-v]... [--syslog] "
	      "[ACCOUNT...]\n"
	      "  -c, --config FILE  config file (default: "
	      "$XDG_CONFIG_HOME/mailfetch/fetchrc,\n"
	      "                     then ~/.fetchrc)\n"
	      "  -n, --dry-run      print the plan, change nothing\n"
	      "      --check        test the accounts' settings\n"
	      "  -q, --quiet        print nothing but errors\n"
	      "  -v, --verbose      more detail; twice: protocol trace\n"
	      "  -j, --jobs N       run up to N accounts at once\n"
	      "  -d, --daemon       stay running: IMAP IDLE, polls, signals\n"
	      "      --syslog       also send summaries and errors to "
	      "syslog\n"
	      "  -V, --version      print the version\n"
	      "  -h, --help         print this help\n",
	    f);
}

static int
run_one(const struct cfg_account *a, const struct runopts *o)
{
	return o->check ? run_check(a, o) : run_fetch(a, o);
}

/* A child running one account, and what it printed so far. */
struct job {
	size_t acct;
	pid_t pid;
	int fd[2]; /* its stdout and stderr; -1 once closed */
	char *buf[2];
	size_t len[2];
	int status;
};

static void
job_read(struct job *j, int k)
{
	char tmp[8192];
	ssize_t n;

	if ((n = read(j->fd[k], tmp, sizeof(tmp))) <= 0) {
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return;
		close(j->fd[k]);
		j->fd[k] = -1;
		return;
	}
	j->buf[k] = xreallocarray(j->buf[k], j->len[k] + n, 1);
	memcpy(j->buf[k] + j->len[k], tmp, n);
	j->len[k] += n;
}

static void
job_start(struct job *j, const struct cfg_account *a, const struct runopts *o)
{
	int out[2], err[2];

	if (pipe(out) == -1 || pipe(err) == -1 || (j->pid = fork()) == -1) {
		fprintf(stderr, "%s: cannot start a job: %s\n", a->name,
		    strerror(errno));
		exit(EX_OSERR);
	}
	if (j->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		_exit(run_one(a, o));
	}
	close(out[1]);
	close(err[1]);
	j->fd[0] = out[0];
	j->fd[1] = err[0];
}

/*
 * Run the accounts in idx[0..n-1] with up to jobs children at once. Each
 * child's output is collected and printed whole when it ends, so the
 * accounts' lines never interleave. Returns the exit status of the first
 * failing account in file order.
 */
static int
run_jobs(struct cfg *cfg, const size_t *idx, size_t n, int jobs,
    const struct runopts *o)
{
	struct job *j = xcalloc(n, sizeof(*j));
	struct pollfd *pfd = xcalloc(2 * n, sizeof(*pfd));
	size_t next = 0, running = 0, finished = 0, i, np;
	int status = 0, k, ws;

	fflush(stdout);
	fflush(stderr);
	while (finished < n) {
		while (running < (size_t)jobs && next < n) {
			j[next].acct = idx[next];
			job_start(&j[next], &cfg->acct[idx[next]], o);
			next++;
			running++;
		}
		for (i = 0, np = 0; i < next; i++)
			for (k = 0; k < 2; k++)
				if (j[i].fd[k] != -1 && j[i].pid > 0) {
					pfd[np].fd = j[i].fd[k];
					pfd[np].events = POLLIN;
					np++;
				}
		if (np > 0 && poll(pfd, np, -1) == -1 && errno != EINTR) {
			perror("mailfetch: poll");
			exit(EX_OSERR);
		}
		for (i = 0; i < next; i++) {
			if (j[i].pid <= 0)
				continue;
			for (k = 0; k < 2; k++)
				if (j[i].fd[k] != -1)
					job_read(&j[i], k);
			if (j[i].fd[0] != -1 || j[i].fd[1] != -1)
				continue;
			while (
			    waitpid(j[i].pid, &ws, 0) == -1 && errno == EINTR)
				;
			j[i].status
			    = WIFEXITED(ws) ? WEXITSTATUS(ws) : EX_SOFTWARE;
			j[i].pid = 0;
			if (j[i].len[0] > 0)
				fwrite(j[i].buf[0], 1, j[i].len[0], stdout);
			fflush(stdout);
			if (j[i].len[1] > 0)
				fwrite(j[i].buf[1], 1, j[i].len[1], stderr);
			fflush(stderr);
			free(j[i].buf[0]);
			free(j[i].buf[1]);
			running--;
			finished++;
		}
	}
	for (i = 0; i < n && status == 0; i++)
		status = j[i].status;
	free(pfd);
	free(j);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct runopts o;
	struct cfg *cfg;
	char err[1024], *path, *end;
	const char *opath = NULL;
	size_t i, n, *idx;
	long jobs = 1;
	int ch, status = 0, st, daemon = 0;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "c:dj:nqvVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c':
			opath = optarg;
			break;
		case 'n':
			o.dryrun = 1;
			break;
		case 'C':
			o.check = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'j':
			errno = 0;
			jobs = strtol(optarg, &end, 10);
			if (errno || *end != '\0' || jobs < 1 || jobs > 64) {
				fputs("mailfetch: -j takes a number from 1 to "
				      "64\n",
				    stderr);
				return EX_USAGE;
			}
			break;
		case 'S':
			o.syslog = 1;
			break;
		case 'd':
			daemon = 1;
			break;
		case 'V':
			printf("mailfetch %s\n", VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (o.check && o.dryrun) {
		fputs("mailfetch: --check and --dry-run exclude each other\n",
		    stderr);
		return EX_USAGE;
	}
	if (daemon && (o.check || o.dryrun)) {
		fputs("mailfetch: --daemon excludes --check and --dry-run\n",
		    stderr);
		return EX_USAGE;
	}

	/* A vanished peer must give EPIPE, not kill the run mid-delivery;
	 * and what mailfetch creates is for the user alone. */
	signal(SIGPIPE, SIG_IGN);
	umask(077);

	path = opath != NULL ? xstrdup(opath) : cfg_default_path();
	if ((cfg = cfg_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mailfetch: %s\n", err);
		free(path);
		return EX_CONFIG;
	}
	free(path);
	for (i = 0; i < (size_t)argc; i++) {
		if (cfg_find(cfg, argv[i]) == NULL) {
			fprintf(stderr, "mailfetch: no account \"%s\" in %s\n",
			    argv[i], cfg->path);
			cfg_free(cfg);
			return EX_USAGE;
		}
	}

	/* A progress line and colour only for a person at a terminal,
	 * never in cron mail, and never in a protocol trace. */
	if (isatty(STDERR_FILENO) && jobs == 1) {
		o.progress = !o.quiet && o.verbose < 2 && !o.check && !o.dryrun;
		o.color = getenv("NO_COLOR") == NULL;
	}
	for (i = 0; i < cfg->nacct; i++)
		if (o.syslog || cfg->acct[i].log_syslog) {
			openlog("mailfetch", LOG_PID, LOG_MAIL);
			break;
		}

	if (daemon)
		return daemon_main(cfg, argv, argc, &o);

	/* Accounts in file order, or as named; one failing account does
	 * not stop the others, and the first failure gives the status. */
	idx = xcalloc(cfg->nacct, sizeof(*idx));
	for (i = 0, n = 0; i < cfg->nacct; i++) {
		int named = argc == 0, j;

		for (j = 0; j < argc && !named; j++)
			named = strcmp(argv[j], cfg->acct[i].name) == 0;
		if (named)
			idx[n++] = i;
	}
	if (jobs > 1 && n > 1)
		status = run_jobs(cfg, idx, n, (int)jobs, &o);
	else
		for (i = 0; i < n; i++) {
			st = run_one(&cfg->acct[idx[i]], &o);
			if (st != 0 && status == 0)
				status = st;
		}
	free(idx);
	cfg_free(cfg);
	return status;
}
