/*
 * Setting up and tearing down one account's protocol session, and the
 * account's error and trace output. See account.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "../proto/imap.h"
#include "../proto/pop3.h"
#include "../tls/util.h"
#include "account.h"
#include "secret.h"

void
acct_trace_line(
    const char *prefix, const char *who, int dir, const char *line, size_t len)
{
	char buf[1024];

	/* The protocol clients redact credentials before this point; only
	 * control characters are made harmless here. */
	src_quote(buf, sizeof(buf), line, len);
	/* What stdout holds happened before this line: keep the order
	 * when both go to one pipe (cron mail, the journal). */
	fflush(stdout);
	fprintf(stderr, "%s%s: %c %s\n", prefix, who, dir, buf);
}

static void
trace(void *arg, int dir, const char *line, size_t len)
{
	const struct acct *ac = arg;

	acct_trace_line("", ac->a->name, dir, line, len);
}

/* The protocols: what each can do, and how a session of it is made. */
static const struct {
	const struct source_ops *ops;
	struct source *(*make)(const struct source_cfg *);
} protocols[] = {
	[CFG_POP3] = { &pop3_ops, pop3_new },
	[CFG_IMAP] = { &imap_ops, imap_new },
};

const struct source_ops *
acct_ops(const struct cfg_account *a)
{
	return protocols[a->protocol].ops;
}

void
acct_init(struct acct *ac, const struct cfg_account *a, const struct runopts *o)
{
	memset(ac, 0, sizeof(*ac));
	ac->a = a;
	ac->o = o;
	snprintf(ac->port, sizeof(ac->port), "%d", a->port);
	ac->sc.host = a->host;
	ac->sc.port = ac->port;
	ac->sc.tls = a->tls;
	ac->sc.tlsopts.verify = a->tls_verify;
	ac->sc.tlsopts.ca_file = a->tls_ca_file;
	ac->sc.tlsopts.fingerprint = a->tls_fingerprint;
	ac->sc.tlsopts.protocols = a->tls_protocols;
	ac->sc.user = a->user;
	ac->sc.auth = a->auth;
	ac->sc.allow_plaintext = a->allow_plaintext;
	ac->sc.connect_timeout = a->connect_timeout;
	ac->sc.timeout = a->timeout;
	ac->sc.lazy_sizes = 1;
	ac->sc.compress = a->compress;
	if (a->nfitems > 0 && a->fitems[0].kind == CFG_FNAME
	    && !a->fitems[0].exclude && !a->mirror)
		ac->sc.first_folder = a->folders[0];
	if (o->verbose >= 2) {
		ac->sc.trace = trace;
		ac->sc.trace_arg = ac;
	}
}

int
acct_open(struct acct *ac)
{
	char err[512];
	int st, rc;

	/* A password from the config is used where it is, not copied. */
	if (ac->a->password != NULL)
		ac->sc.secret = ac->a->password;
	else if ((ac->secret
		     = secret_get(ac->a, ac->a->timeout, &st, err, sizeof(err)))
	    == NULL) {
		acct_err(ac, "%s", err);
		return st;
	} else
		ac->sc.secret = ac->secret;
	ac->src = protocols[ac->a->protocol].make(&ac->sc);
	rc = ac->src->ops->open(ac->src);
	/* The login is done: --check logs in to the submission server
	 * next, with the same secret; everything else is done with it. */
	if (!ac->o->check || ac->a->smtp_host == NULL)
		acct_wipe_secret(ac);
	if (rc == -1)
		return ac->defer_err ? acct_status(ac->src->fail, 0)
				     : acct_srcerr(ac);
	return 0;
}

void
acct_wipe_secret(struct acct *ac)
{
	freezero_str(ac->secret);
	ac->secret = NULL;
	ac->sc.secret = NULL;
}

void
acct_fini(struct acct *ac)
{
	if (ac->src != NULL)
		ac->src->ops->free(ac->src);
	ac->src = NULL;
	acct_wipe_secret(ac);
}

int
acct_oserr(int e)
{
	switch (e) {
	case EIO:
	case ENOSPC:
	case EDQUOT:
	case EROFS:
		return EX_IOERR;
	default:
		return EX_OSERR;
	}
}

int
acct_status(enum src_fail fail, int local_errno)
{
	switch (fail) {
	case SRC_FNONE:
		return 0;
	case SRC_FHOST:
		return EX_UNAVAILABLE;
	case SRC_FTEMP:
		return EX_TEMPFAIL;
	case SRC_FPROTO:
	case SRC_FREFUSED:
		return EX_PROTOCOL;
	case SRC_FDATA:
		return EX_DATAERR;
	case SRC_FAUTH:
		return EX_NOPERM;
	case SRC_FCONFIG:
		return EX_CONFIG;
	case SRC_FLOCAL:
		return acct_oserr(local_errno);
	}
	return EX_SOFTWARE;
}

void
acct_log(const struct acct *ac, int prio, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (prio != LOG_ERR) {
		if (!ac->o->quiet)
			printf("%s: %s\n", ac->a->name, msg);
	} else {
		/* Output in the order it happened, also in one pipe: stdout
		 * is fully buffered there (line buffering costs the plan of
		 * 100 000 messages 20 times its time), so it is flushed
		 * before each error instead. */
		fflush(stdout);
		if (ac->o->color)
			fprintf(stderr, "\033[1;31m%s:\033[0m %s\n",
			    ac->a->name, msg);
		else
			fprintf(stderr, "%s: %s\n", ac->a->name, msg);
	}
	if (ac->o->syslog)
		syslog(prio, "%s: %s", ac->a->name, msg);
}

int
acct_srcerr(const struct acct *ac)
{
	const struct source *src = ac->src;
	const char *hint = "";

	switch (src->fail) {
	case SRC_FHOST:
		if (src_errcode(src) == CONN_ERESOLVE)
			hint = "; check host";
		else
			hint = "; check host and port, and that the server "
			       "runs";
		break;
	case SRC_FTEMP:
		hint = "; the server or the network is slow or gone, "
		       "try again later";
		break;
	case SRC_FAUTH:
		if (src_errcode(src) == CONN_ECERT)
			hint = "; check tls_ca_file or tls_fingerprint, and "
			       "that host is the name on the certificate";
		else
			hint = "; check user and password (or the token "
			       "command) and auth";
		break;
	case SRC_FPROTO:
	case SRC_FDATA:
		hint = "; check protocol, port and tls for this server";
		break;
	default:
		break;
	}
	acct_err(ac, "%s%s", src->err, hint);
	return acct_status(src->fail, 0);
}
