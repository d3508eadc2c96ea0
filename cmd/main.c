/*
 * mailfetch: fetch mail from POP3 and IMAP servers into Maildirs.
 * Options, accounts, exit statuses. See ../shared/SPEC.md and
 * mailfetch(1).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../tls/util.h"
#include "config.h"
#include "run.h"

#define VERSION "0.1"

static void
usage(FILE *f)
{
	fputs("usage: mailfetch [-c FILE] [-n] [-q] [-v]... [--check] "
	      "[ACCOUNT...]\n"
	      "  -c, --config FILE  config file (default: "
	      "$XDG_CONFIG_HOME/mailfetch/fetchrc,\n"
	      "                     then ~/.fetchrc)\n"
	      "  -n, --dry-run      print the plan, change nothing\n"
	      "      --check        test the accounts' settings\n"
	      "  -q, --quiet        print nothing but errors\n"
	      "  -v, --verbose      more detail; twice: protocol trace\n"
	      "  -V, --version      print the version\n"
	      "  -h, --help         print this help\n",
	    f);
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
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct runopts o;
	struct cfg *cfg;
	char err[1024], *path = NULL;
	size_t i;
	int ch, status = 0, st;

	memset(&o, 0, sizeof(o));
	while (
	    (ch = getopt_long(argc, argv, "c:nqvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			free(path);
			path = xstrdup(optarg);
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

	/* A vanished peer must give EPIPE, not kill the run mid-delivery;
	 * and what mailfetch creates is for the user alone. */
	signal(SIGPIPE, SIG_IGN);
	umask(077);

	if (path == NULL)
		path = cfg_default_path();
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

	/* Accounts in file order, or as named; one failing account does
	 * not stop the others, and the first failure gives the status. */
	for (i = 0; i < cfg->nacct; i++) {
		struct cfg_account *a = &cfg->acct[i];
		int named = argc == 0, j;

		for (j = 0; j < argc && !named; j++)
			named = strcmp(argv[j], a->name) == 0;
		if (!named)
			continue;
		st = o.check ? run_check(a, &o) : run_fetch(a, &o);
		if (st != 0 && status == 0)
			status = st;
	}
	cfg_free(cfg);
	return status;
}
