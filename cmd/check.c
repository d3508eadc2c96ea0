/*
 * --check: connect, show the TLS session and the certificate, the
 * server's capabilities, authenticate, count the messages of each
 * folder, log out. Read-only: folders are opened with EXAMINE, and no
 * Maildir or state is touched.
 */
#include <stdio.h>
#include <time.h>

#include "run.h"

static void
fmt_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == -1 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "?");
	else
		strftime(buf, len, "%Y-%m-%d", &tm);
}

static const char *
tls_mode(enum src_tls t)
{
	switch (t) {
	case SRC_TLS_IMPLICIT:
		return "implicit TLS";
	case SRC_TLS_STARTTLS:
		return "STARTTLS";
	default:
		return "no TLS";
	}
}

int
run_check(const struct cfg_account *a, const struct runopts *o)
{
	struct acct ac;
	struct conn_tlsinfo ti;
	struct folder_info fi;
	char from[16], to[16];
	const char *n = a->name;
	size_t i;
	int status;

	acct_init(&ac, a, o);
	status = acct_open(&ac);
	if (ac.src == NULL || ac.src->conn == NULL)
		goto out;
	/* What was learnt before a failure still helps: show it. */
	if (status == 0 || ac.src->fail != SRC_FHOST)
		printf("%s: connected to %s port %s (%s, %s)\n", n, a->host,
		    ac.port, a->protocol == CFG_POP3 ? "pop3" : "imap",
		    tls_mode(a->tls));
	if (conn_is_tls(ac.src->conn)
	    && conn_tls_info(ac.src->conn, &ti) == 0) {
		fmt_date(ti.notbefore, from, sizeof(from));
		fmt_date(ti.notafter, to, sizeof(to));
		printf("%s: TLS: %s, %s\n", n, ti.version, ti.cipher);
		printf("%s: certificate: subject %s; issuer %s\n", n,
		    ti.subject, ti.issuer);
		printf("%s: certificate: valid from %s to %s; %s\n", n, from,
		    to, ti.fingerprint);
	}
	if (ac.src->caps[0] != '\0')
		printf("%s: capabilities: %s\n", n, ac.src->caps);
	if (status != 0)
		goto out;
	printf("%s: authenticated as %s (%s)\n", n, a->user, ac.src->mech);
	for (i = 0; i < a->nfolders; i++) {
		if (ac.src->ops->select(ac.src, a->folders[i], 0, &fi) == -1) {
			if (status == 0)
				status = acct_srcerr(&ac);
			if (ac.src->fail != SRC_FREFUSED)
				goto out;
			continue;
		}
		printf("%s: %s: %u messages\n", n, a->folders[i], fi.exists);
	}
	if (ac.src->ops->quit(ac.src) == -1 && status == 0)
		status = acct_srcerr(&ac);
	if (status == 0)
		printf("%s: ok\n", n);
out:
	fflush(stdout);
	acct_fini(&ac);
	return status;
}
