/*
 * mailfetch: fetch mail from POP3 and IMAP servers into Maildirs.
 * Options, accounts, exit statuses. See ../shared/SPEC.md and
 * mailfetch(1).
 */
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <resolv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "../tls/util.h"
#include "config.h"
#include "configure.h"
#include "daemon.h"
#include "run.h"

#define VERSION "0.1"

static void
usage(FILE *f)
{
	fputs("usage: mailfetch [-c FILE] [-n [--at WHEN]] [-q] [-v]... [-j N] "
	      "[--check]\n"
	      "                 [--syslog] [--accept-removals] [ACCOUNT...]\n"
	      "       mailfetch -d [-c FILE] [-q] [-v]... [--syslog] "
	      "[ACCOUNT...]\n"
	      "       mailfetch --configure ADDRESS [--protocol pop3|imap]\n"
	      "  -c, --config FILE  config file (default: "
	      "$XDG_CONFIG_HOME/mailfetch/fetchrc,\n"
	      "                     then ~/.fetchrc)\n"
	      "  -n, --dry-run      print the plan, change nothing\n"
	      "      --at WHEN      with -n: the plan as a run at WHEN would "
	      "make it;\n"
	      "                     WHEN is +DURATION (+30d, +12h) or a "
	      "local date,\n"
	      "                     YYYY-MM-DD or YYYY-MM-DDTHH:MM\n"
	      "      --check        test the accounts' settings\n"
	      "  -q, --quiet        print nothing but errors\n"
	      "  -v, --verbose      more detail; twice: protocol trace\n"
	      "  -j, --jobs N       run up to N accounts at once\n"
	      "  -d, --daemon       stay running: IMAP IDLE, polls, signals\n"
	      "      --configure ADDRESS\n"
	      "                     find the address's servers (DNS SRV) "
	      "and print an\n"
	      "                     account section; writes no file\n"
	      "      --protocol P   with --configure: only pop3 or imap\n"
	      "      --syslog       also send summaries and errors to "
	      "syslog\n"
	      "      --accept-removals\n"
	      "                     mirror: remove local copies even past "
	      "the removal\n"
	      "                     guard\n"
	      "  -V, --version      print the version\n"
	      "  -h, --help         print this help\n",
	    f);
}

/*
 * MAILFETCH_NAMESERVER=ADDRESS[:PORT] (IPv4, default port 53): send
 * every DNS query of this process (host names and --configure's SRV
 * records) to that server alone, in place of resolv.conf's. A testing
 * aid: glibc's resolver honours changes to _res made after res_init().
 * Returns 0, or -1 when the value is malformed.
 */
static int
nameserver_override(void)
{
	const char *v = getenv("MAILFETCH_NAMESERVER");
	char addr[INET_ADDRSTRLEN], *colon, *end;
	struct in_addr in;
	long port = 53;

	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) >= sizeof(addr) + 6)
		return -1;
	xstrlcpy(addr, v, sizeof(addr));
	if ((colon = strchr(v, ':')) != NULL) {
		if ((size_t)(colon - v) >= sizeof(addr))
			return -1;
		addr[colon - v] = '\0';
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || *end != '\0' || port < 1 || port > 65535)
			return -1;
	}
	if (inet_pton(AF_INET, addr, &in) != 1 || res_init() == -1)
		return -1;
	memset(&_res.nsaddr_list[0], 0, sizeof(_res.nsaddr_list[0]));
	_res.nsaddr_list[0].sin_family = AF_INET;
	_res.nsaddr_list[0].sin_port = htons((uint16_t)port);
	_res.nsaddr_list[0].sin_addr = in;
	_res.nscount = 1;
	return 0;
}

/* No -c, and neither default file exists: say where it looked and how
 * to begin. */
static void
no_config(void)
{
	char *xdg, *home_rc;

	cfg_default_paths(&xdg, &home_rc);
	fflush(stdout);
	if (xdg != NULL)
		fprintf(stderr,
		    "mailfetch: no config file: looked for %s and %s\n", xdg,
		    home_rc);
	else
		fprintf(stderr, "mailfetch: no config file: looked for %s\n",
		    home_rc);
	fputs("mailfetch: to start, copy fetchrc.example (shipped with "
	      "mailfetch) to one of them and edit it;\n"
	      "mailfetch: fetchrc(5) describes each key, and "
	      "`mailfetch --configure ADDRESS`\n"
	      "mailfetch: prints an account section for your address\n",
	    stderr);
	free(xdg);
	free(home_rc);
}

/* --configure ADDRESS [--protocol P]: alone, but for -v and -q. */
static int
configure_main(const char *address, const char *proto, int nargs,
    const char *opath, const struct runopts *o)
{
	enum configure_proto p = CONFIGURE_ANY;

	if (address == NULL) {
		fputs("mailfetch: --protocol goes with --configure ADDRESS\n",
		    stderr);
		return EX_USAGE;
	}
	if (nargs > 0 || opath != NULL || o->check || o->dryrun) {
		fputs("mailfetch: --configure takes no account, -c, -n or "
		      "--check\n",
		    stderr);
		return EX_USAGE;
	}
	if (proto != NULL && strcmp(proto, "pop3") == 0)
		p = CONFIGURE_POP3;
	else if (proto != NULL && strcmp(proto, "imap") == 0)
		p = CONFIGURE_IMAP;
	else if (proto != NULL) {
		fprintf(stderr,
		    "mailfetch: --protocol takes pop3 or imap, not \"%s\"\n",
		    proto);
		return EX_USAGE;
	}
	return configure_run(address, p, o);
}

/* --at WHEN: the clock of the plan, for a dry run only. */
static int
parse_at(const char *at, struct runopts *o)
{
	char err[512];

	if (!o->dryrun) {
		fprintf(stderr,
		    "mailfetch: --at %s: --at needs -n (--dry-run); it shows "
		    "the plan of a run at that time and changes nothing\n",
		    at);
		return -1;
	}
	if (cfg_parse_at(at, (int64_t)time(NULL), &o->at, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "mailfetch: --at %s: %s\n", at, err);
		return -1;
	}
	return 0;
}

static int
run_one(const struct cfg_account *a, const struct runopts *o)
{
	return o->check ? run_check(a, o) : run_fetch(a, o);
}

/*
 * What a child printed on one of its streams so far: the first JOB_MEMCAP
 * bytes in memory, the rest spilled to an unlinked temporary file, so
 * that a child's output of any size flows out of its pipe while the
 * parent's memory stays bounded.
 */
#define JOB_MEMCAP (64 * 1024)

struct jobout {
	char *buf;
	size_t len;
	FILE *spill;
	int direct; /* no spill file: pass the output straight through */
};

/* A child running one account. */
struct job {
	size_t acct;
	pid_t pid;
	int fd[2]; /* its stdout and stderr; -1 once closed */
	struct jobout out[2];
	int status;
};

static FILE *
job_stream(int k)
{
	return k == 0 ? stdout : stderr;
}

/* Copy what o holds to f, and empty it. */
static void
jobout_flush(struct jobout *o, FILE *f)
{
	char tmp[8192];
	size_t n;

	if (o->len > 0)
		fwrite(o->buf, 1, o->len, f);
	o->len = 0;
	if (o->spill != NULL) {
		rewind(o->spill);
		while ((n = fread(tmp, 1, sizeof(tmp), o->spill)) > 0)
			fwrite(tmp, 1, n, f);
		fclose(o->spill);
		o->spill = NULL;
	}
	fflush(f);
}

/*
 * Keep data for later. Past the memory cap it goes to a temporary file;
 * when none can be made or written, the output kept so far and all that
 * follows goes straight to f: interleaved with other accounts' lines
 * (each starts with its account's name), but never lost or stuck.
 */
static void
jobout_add(struct jobout *o, const char *data, size_t n, FILE *f)
{
	size_t done = 0;

	if (!o->direct && o->spill == NULL && o->len + n <= JOB_MEMCAP) {
		if (o->buf == NULL)
			o->buf = xmalloc(JOB_MEMCAP);
		memcpy(o->buf + o->len, data, n);
		o->len += n;
		return;
	}
	if (!o->direct && o->spill == NULL) {
		if ((o->spill = tmpfile()) == NULL)
			o->direct = 1;
		else /* not for the later jobs' commands */
			fcntl(fileno(o->spill), F_SETFD, FD_CLOEXEC);
	}
	if (!o->direct && (done = fwrite(data, 1, n, o->spill)) == n)
		return;
	if (!o->direct || o->len > 0) {
		fprintf(stderr,
		    "mailfetch: cannot keep a job's output in a "
		    "temporary file, printing it as it comes; check "
		    "the space in /tmp\n");
		jobout_flush(o, f); /* what was kept comes first */
		o->direct = 1;
	}
	fwrite(data + done, 1, n - done, f);
	fflush(f);
}

/* Read what poll said is there; close the pipe at its end. */
static void
job_read(struct job *j, int k)
{
	char tmp[8192];
	ssize_t n;

	if ((n = read(j->fd[k], tmp, sizeof(tmp))) > 0) {
		jobout_add(&j->out[k], tmp, n, job_stream(k));
		return;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	close(j->fd[k]);
	j->fd[k] = -1;
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
	/* The parent reads only what poll reported, and never waits in
	 * read: a child blocked on a full stderr pipe while the parent
	 * sat in read on its empty stdout was a deadlock. */
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);
	fcntl(out[0], F_SETFD, FD_CLOEXEC);
	fcntl(err[0], F_SETFD, FD_CLOEXEC);
	j->fd[0] = out[0];
	j->fd[1] = err[0];
}

/* The child's pipes are closed: reap it and print all it said. */
static void
job_finish(struct job *j)
{
	int ws, k;

	while (waitpid(j->pid, &ws, 0) == -1 && errno == EINTR)
		;
	j->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : EX_SOFTWARE;
	j->pid = 0;
	for (k = 0; k < 2; k++) {
		jobout_flush(&j->out[k], job_stream(k));
		free(j->out[k].buf);
		j->out[k].buf = NULL;
	}
}

/*
 * Run the accounts in idx[0..n-1] with up to jobs children at once. Each
 * child's output is collected and printed whole when it ends (stdout,
 * then stderr), in the order the children end, so the accounts' lines
 * never interleave. Returns the exit status of the first failing account
 * in file order.
 */
static int
run_jobs(struct cfg *cfg, const size_t *idx, size_t n, int jobs,
    const struct runopts *o)
{
	struct job *j = xcalloc(n, sizeof(*j));
	struct pollfd *pfd = xcalloc(2 * n, sizeof(*pfd));
	size_t *who = xcalloc(2 * n, sizeof(*who));
	size_t next = 0, running = 0, finished = 0, i, p, np;
	int status = 0, k;

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
					pfd[np].revents = 0;
					who[np++] = 2 * i + k;
				}
		if (np > 0 && poll(pfd, np, -1) == -1) {
			if (errno == EINTR)
				continue;
			perror("mailfetch: poll");
			exit(EX_OSERR);
		}
		for (p = 0; p < np; p++)
			if (pfd[p].revents != 0)
				job_read(&j[who[p] / 2], who[p] % 2);
		for (i = 0; i < next; i++) {
			if (j[i].pid <= 0 || j[i].fd[0] != -1
			    || j[i].fd[1] != -1)
				continue;
			job_finish(&j[i]);
			running--;
			finished++;
		}
	}
	for (i = 0; i < n && status == 0; i++)
		status = j[i].status;
	free(who);
	free(pfd);
	free(j);
	return status;
}

/*
 * SPEC "Secrets": no core file, and no ptrace or /proc/PID/mem by other
 * users (a non-dumpable process's /proc files belong to root). Forked
 * jobs inherit both; password_command, exec'ed, is its own program.
 */
static void
not_dumpable(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
#ifdef PR_SET_DUMPABLE
	prctl(PR_SET_DUMPABLE, 0);
#endif
}

/* The long options without a short form. */
enum {
	OPT_AT = 0x100,
	OPT_CHECK,
	OPT_SYSLOG,
	OPT_CONFIGURE,
	OPT_PROTOCOL,
	OPT_ACCEPT_REMOVALS
};

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "at", required_argument, NULL, OPT_AT },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "daemon", no_argument, NULL, 'd' },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "configure", required_argument, NULL, OPT_CONFIGURE },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "accept-removals", no_argument, NULL, OPT_ACCEPT_REMOVALS },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line asks for. */
struct cmdline {
	struct runopts o;
	const char *opath, *address, *proto, *at;
	long jobs;
	int daemon;
	char **names; /* the accounts named; none: all */
	int nnames;
};

/* -j N: 0, or -1 after saying what is wrong. */
static int
parse_jobs(const char *s, long *jobs)
{
	char *end;

	errno = 0;
	*jobs = strtol(s, &end, 10);
	if (errno || *end != '\0' || *jobs < 1 || *jobs > 64) {
		fputs("mailfetch: -j takes a number from 1 to 64\n", stderr);
		return -1;
	}
	return 0;
}

/*
 * Read the options into cl. Returns -1 to go on, or the exit status of
 * a run that ends here (-V, -h, a usage error). A flat switch over the
 * options.
 */
static int
parse_options(int argc, char *argv[], struct cmdline *cl)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "c:dj:nqvVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c':
			cl->opath = optarg;
			break;
		case 'n':
			cl->o.dryrun = 1;
			break;
		case OPT_AT:
			cl->at = optarg;
			break;
		case OPT_CHECK:
			cl->o.check = 1;
			break;
		case 'q':
			cl->o.quiet = 1;
			break;
		case 'v':
			cl->o.verbose++;
			break;
		case 'j':
			if (parse_jobs(optarg, &cl->jobs) == -1)
				return EX_USAGE;
			break;
		case OPT_SYSLOG:
			cl->o.syslog = 1;
			break;
		case OPT_CONFIGURE:
			cl->address = optarg;
			break;
		case OPT_PROTOCOL:
			cl->proto = optarg;
			break;
		case OPT_ACCEPT_REMOVALS:
			cl->o.accept_removals = 1;
			break;
		case 'd':
			cl->daemon = 1;
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
	cl->names = argv + optind;
	cl->nnames = argc - optind;
	return -1;
}

/* Options that exclude each other, and --at. -1 to go on, or the exit
 * status. */
static int
check_options(struct cmdline *cl)
{
	if (cl->o.check && cl->o.dryrun) {
		fputs("mailfetch: --check and --dry-run exclude each other\n",
		    stderr);
		return EX_USAGE;
	}
	if (cl->at != NULL && parse_at(cl->at, &cl->o) == -1)
		return EX_USAGE;
	if (cl->daemon && (cl->o.check || cl->o.dryrun)) {
		fputs("mailfetch: --daemon excludes --check and --dry-run\n",
		    stderr);
		return EX_USAGE;
	}
	return -1;
}

/* Load the config and check that the accounts named are in it. 0, or
 * the exit status. */
static int
load_config(const struct cmdline *cl, struct cfg **cfgp)
{
	struct cfg *cfg;
	char err[1024], *path;
	int i;

	path = cl->opath != NULL ? xstrdup(cl->opath) : cfg_default_path();
	if (cl->opath == NULL && access(path, F_OK) == -1 && errno == ENOENT) {
		free(path);
		no_config();
		return EX_CONFIG;
	}
	if ((cfg = cfg_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mailfetch: %s\n", err);
		free(path);
		return EX_CONFIG;
	}
	free(path);
	for (i = 0; i < cl->nnames; i++) {
		if (cfg_find(cfg, cl->names[i]) == NULL) {
			fprintf(stderr, "mailfetch: no account \"%s\" in %s\n",
			    cl->names[i], cfg->path);
			cfg_free(cfg);
			return EX_USAGE;
		}
	}
	*cfgp = cfg;
	return 0;
}

/* Progress line, colour and syslog, as the output and config allow. */
static void
setup_output(struct runopts *o, const struct cfg *cfg, long jobs)
{
	size_t i;

	/* A progress line and colour only for a person at a terminal,
	 * never in cron mail, and never in a protocol trace. */
	if (isatty(STDERR_FILENO) && jobs == 1) {
		o->progress
		    = !o->quiet && o->verbose < 2 && !o->check && !o->dryrun;
		o->color = getenv("NO_COLOR") == NULL;
	}
	for (i = 0; i < cfg->nacct; i++)
		if (o->syslog || cfg->acct[i].log_syslog) {
			openlog("mailfetch", LOG_PID, LOG_MAIL);
			break;
		}
}

/* Is account a among the names (or are there none)? */
static int
named(const struct cmdline *cl, const struct cfg_account *a)
{
	int j;

	for (j = 0; j < cl->nnames; j++)
		if (strcmp(cl->names[j], a->name) == 0)
			return 1;
	return cl->nnames == 0;
}

/* Run the accounts in file order, or as named; one failing account
 * does not stop the others, and the first failure gives the status. */
static int
run_accounts(struct cfg *cfg, const struct cmdline *cl)
{
	size_t i, n, *idx = xcalloc(cfg->nacct, sizeof(*idx));
	int status = 0, st;

	for (i = 0, n = 0; i < cfg->nacct; i++)
		if (named(cl, &cfg->acct[i]))
			idx[n++] = i;
	if (cl->jobs > 1 && n > 1)
		status = run_jobs(cfg, idx, n, (int)cl->jobs, &cl->o);
	else
		for (i = 0; i < n; i++) {
			st = run_one(&cfg->acct[idx[i]], &cl->o);
			if (st != 0 && status == 0)
				status = st;
		}
	free(idx);
	return status;
}

int
main(int argc, char *argv[])
{
	struct cmdline cl;
	struct cfg *cfg;
	int status;

	not_dumpable();
	memset(&cl, 0, sizeof(cl));
	cl.jobs = 1;
	if ((status = parse_options(argc, argv, &cl)) != -1)
		return status;
	/* A vanished peer must give EPIPE, not kill the run mid-delivery. */
	signal(SIGPIPE, SIG_IGN);
	if (nameserver_override() == -1) {
		fputs(
		    "mailfetch: MAILFETCH_NAMESERVER must be an IPv4 address, "
		    "optionally with :PORT\n",
		    stderr);
		return EX_USAGE;
	}
	if (cl.address != NULL || cl.proto != NULL)
		return configure_main(
		    cl.address, cl.proto, cl.nnames, cl.opath, &cl.o);
	if ((status = check_options(&cl)) != -1)
		return status;
	/* What mailfetch creates is for the user alone. */
	umask(077);
	if ((status = load_config(&cl, &cfg)) != 0)
		return status;
	setup_output(&cl.o, cfg, cl.jobs);
	if (cl.daemon)
		return daemon_main(cfg, cl.names, cl.nnames, &cl.o);
	status = run_accounts(cfg, &cl);
	cfg_free(cfg);
	return status;
}
