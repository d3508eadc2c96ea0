/*
 * What a run of one account holds, whatever it does with it (fetch, dry
 * run, --check): the options, the protocol session and its settings,
 * the secret. Also the mapping of failures to exit statuses, and the
 * account's error and trace output.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <signal.h>
#include <stdint.h>
#include <sysexits.h>
#include <syslog.h>

#include "../proto/source.h"
#include "config.h"

struct runopts {
	int dryrun;
	int check;
	int quiet;
	int verbose; /* 2 and more: protocol trace on stderr */
	int progress; /* redraw a progress line on stderr (a terminal) */
	int color; /* colour the account name of errors */
	int syslog; /* summary and errors also go to syslog(3) */
	int64_t at; /* --at: the clock of the dry run's plan; 0: now */
	int daemon; /* summary only for a run that did something or failed */
	/* --accept-removals: a mirror run may remove more local copies
	 * than the removal guard allows (SPEC "Mirror (IMAP)"). */
	int accept_removals;
	/* When set and non-zero (a signal came), a run stops at the next
	 * safe point: after the message being written and its record. */
	const volatile sig_atomic_t *stop;
};

struct acct {
	const struct cfg_account *a;
	const struct runopts *o;
	struct source_cfg sc;
	char port[8];
	char *secret;
	struct source *src;
	/* acct_open leaves a session's failure for the caller to print
	 * with acct_srcerr, after what it shows of the session. */
	int defer_err;
};

/* Fill in ac for account a: no I/O yet. */
/* What the account's protocol can do (its source_ops), without a
 * session. */
const struct source_ops *acct_ops(const struct cfg_account *a);

void acct_init(
    struct acct *ac, const struct cfg_account *a, const struct runopts *o);

/* Get the secret, create the protocol session and open it (connect,
 * TLS, authenticate). Returns 0, or an exit status after printing what
 * failed (not a failure of the session when ac->defer_err). The
 * session, when created, stays in ac->src for acct_fini. The secret is
 * wiped once the login is done, except with --check when a submission
 * server is still to be tried (see acct_wipe_secret). */
int acct_open(struct acct *ac);

/* Wipe and free the secret from password_command, and forget the
 * secret (a config password stays in the config). */
void acct_wipe_secret(struct acct *ac);

/* Free the session (without QUIT if quit was not called) and wipe the
 * secret. */
void acct_fini(struct acct *ac);

/* The exit status for a session failure. For SRC_FLOCAL the caller
 * passes the errno of the local failure. */
int acct_status(enum src_fail fail, int local_errno);

/* The exit status for a local error with errno e: 74 for I/O errors
 * (EIO, ENOSPC, EDQUOT, EROFS), else 71. */
int acct_oserr(int e);

/* Print a line of a protocol trace (-vv) on stderr: PREFIXWHO: DIR LINE,
 * with control characters in the line made harmless. */
void acct_trace_line(
    const char *prefix, const char *who, int dir, const char *line, size_t len);

/*
 * With prio LOG_ERR, print "NAME: message" on stderr (the name coloured
 * when asked); with LOG_INFO, on stdout unless quiet: the summary
 * lines. Either also goes to syslog when asked.
 */
void acct_log(const struct acct *ac, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error line, and a summary line. */
#define acct_err(ac, ...) acct_log((ac), LOG_ERR, __VA_ARGS__)
#define acct_info(ac, ...) acct_log((ac), LOG_INFO, __VA_ARGS__)

/* Print the session's failure on stderr with a hint of what to check,
 * and return its exit status. */
int acct_srcerr(const struct acct *ac);

#endif
