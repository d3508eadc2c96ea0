/*
 * --check: connect, show the TLS session and the certificate, the
 * server's capabilities, authenticate, count the messages of each
 * folder, log out. Read-only: folders are opened with EXAMINE, and no
 * Maildir or state is touched. When the account has smtp_host, then
 * the same for its submission server: connect, TLS, EHLO extensions,
 * authenticate, QUIT; no mail is sent.
 */
#include <stdio.h>
#include <sysexits.h>
#include <time.h>

#include "../proto/sasl.h"
#include "../proto/smtp.h"
#include "mailboxes.h"
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

/* The TLS session and the certificate, each line after "NAME: " and
 * pre. */
static void
show_tls(const char *n, const char *pre, const struct source *src)
{
	struct conn_tlsinfo ti;
	char from[16], to[16];

	if (src_tls_info(src, &ti) == -1)
		return;
	fmt_date(ti.notbefore, from, sizeof(from));
	fmt_date(ti.notafter, to, sizeof(to));
	printf("%s: %sTLS: %s, %s\n", n, pre, ti.version, ti.cipher);
	printf("%s: %scertificate: subject %s; issuer %s\n", n, pre, ti.subject,
	    ti.issuer);
	printf("%s: %scertificate: valid from %s to %s; %s\n", n, pre, from, to,
	    ti.fingerprint);
}

/* What to check after a failure of the submission session, by class.
 * The error of SRC_FHOST names host and port, not that it is SMTP. */
static const char *const smtp_hints[] = {
	[SRC_FHOST] = "; check smtp_host and smtp_port, and that the "
		      "submission server runs",
	[SRC_FTEMP] = "; the server or the network is slow or gone, try "
		      "again later",
	[SRC_FAUTH] = "; check smtp_user, the password and the server's "
		      "certificate settings (tls_ca_file, tls_fingerprint)",
	[SRC_FPROTO] = "; check smtp_port and smtp_tls for this server",
	[SRC_FDATA] = "; check smtp_port and smtp_tls for this server",
};

/* Print the submission session's failure with a hint of what to check,
 * and return its exit status. */
static int
smtp_err(const struct acct *ac, const struct source *src)
{
	const char *hint = NULL;

	if ((size_t)src->fail < sizeof(smtp_hints) / sizeof(smtp_hints[0]))
		hint = smtp_hints[src->fail];
	acct_err(ac, "%s%s", src->err, hint != NULL ? hint : "");
	return acct_status(src->fail, 0);
}

/*
 * The submission server: the account's TLS settings, secret and
 * allow_plaintext, its own host, port, TLS mode and user. The mechanism
 * is the account's auth when that names a SASL mechanism, else chosen
 * as auth = auto chooses.
 */
static int
check_smtp(struct acct *ac)
{
	const struct cfg_account *a = ac->a;
	const char *n = a->name;
	struct source_cfg sc = ac->sc;
	struct source *src;
	char port[8];
	int status = 0;

	snprintf(port, sizeof(port), "%d", a->smtp_port);
	sc.host = a->smtp_host;
	sc.port = port;
	sc.tls = a->smtp_tls;
	sc.user = a->smtp_user;
	sc.auth = sasl_mech_name(a->auth) != NULL ? a->auth : SRC_AUTH_AUTO;
	src = smtp_new(&sc);
	/* The failure is printed after what was learnt before it. */
	if (smtp_open(src) == -1 || smtp_auth(src) == -1)
		status = acct_status(src->fail, 0);
	if (!src_has_conn(src)) {
		if (status != 0)
			smtp_err(ac, src);
		goto out;
	}
	if (status == 0 || src->fail != SRC_FHOST)
		printf("%s: smtp: connected to %s port %s (%s)\n", n,
		    a->smtp_host, port, tls_mode(a->smtp_tls));
	show_tls(n, "smtp: ", src);
	if (src->caps[0] != '\0')
		printf("%s: smtp: extensions: %s\n", n, src->caps);
	if (status != 0) {
		smtp_err(ac, src);
		goto out;
	}
	printf(
	    "%s: smtp: authenticated as %s (%s)\n", n, a->smtp_user, src->mech);
	if (smtp_quit(src) == -1)
		status = smtp_err(ac, src);
out:
	smtp_free(src);
	return status;
}

/* What the session learnt before it authenticated, or failed: what a
 * failure leaves still helps. */
static void
show_session(const struct acct *ac, int status)
{
	const struct cfg_account *a = ac->a;
	const struct source *src = ac->src;

	if (status == 0 || src->fail != SRC_FHOST)
		printf("%s: connected to %s port %s (%s, %s)\n", a->name,
		    a->host, ac->port,
		    a->protocol == CFG_POP3 ? "pop3" : "imap",
		    tls_mode(a->tls));
	show_tls(a->name, "", src);
	/* IMAP lists them again after login, often different (Cyrus
	 * offers AUTH= only before): both, each labelled. */
	if (src->caps_pre[0] != '\0')
		printf("%s: capabilities before login: %s\n", a->name,
		    src->caps_pre);
	else if (src->caps[0] != '\0')
		printf("%s: capabilities: %s\n", a->name, src->caps);
}

/*
 * The message count of each folder, the account's items expanded as a
 * run expands them (mailboxes.c: patterns and special-use attributes
 * through LIST). Returns 0 or the first failure's exit status; the
 * session is still usable when src->fail is SRC_FREFUSED.
 */
static int
check_folders(struct acct *ac)
{
	struct mbx_list fl;
	struct folder_info fi;
	size_t i;
	int status;

	if ((status = mbx_expand(ac, &fl, 1)) != 0)
		return status;
	for (i = 0; i < fl.n; i++) {
		if (ac->src->ops->select(ac->src, fl.name[i], 0, &fi) == -1) {
			if (status == 0)
				status = acct_srcerr(ac);
			if (ac->src->fail != SRC_FREFUSED)
				break;
			continue;
		}
		printf("%s: %s: %u messages\n", ac->a->name, fl.name[i],
		    fi.exists);
	}
	if (status == 0 && fl.missing)
		status = EX_PROTOCOL;
	mbx_free(&fl);
	return status;
}

int
run_check(const struct cfg_account *a, const struct runopts *opts)
{
	struct runopts oo = *opts, *o = &oo;
	struct acct ac;
	const char *n = a->name;
	int status;

	oo.syslog |= a->log_syslog;
	acct_init(&ac, a, o);
	ac.defer_err = 1;
	status = acct_open(&ac);
	if (ac.src == NULL)
		goto out;
	if (!src_has_conn(ac.src)) {
		if (status != 0)
			acct_srcerr(&ac);
		goto out;
	}
	show_session(&ac, status);
	if (status != 0) {
		acct_srcerr(&ac);
		goto out;
	}
	printf("%s: authenticated as %s (%s)\n", n, a->user, ac.src->mech);
	if (ac.src->caps_pre[0] != '\0')
		printf("%s: capabilities after login: %s\n", n, ac.src->caps);
	if ((status = check_folders(&ac)) != 0 && ac.src->fail != SRC_FREFUSED)
		goto out;
	if (ac.src->ops->quit(ac.src) == -1 && status == 0)
		status = acct_srcerr(&ac);
	/* Outgoing only once incoming passed: one failure at a time. */
	if (status == 0 && a->smtp_host != NULL) {
		fflush(stdout);
		status = check_smtp(&ac);
	}
	acct_wipe_secret(&ac);
	if (status == 0)
		printf("%s: ok\n", n);
out:
	fflush(stdout);
	acct_fini(&ac);
	return status;
}
