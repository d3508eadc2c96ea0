/*
 * SMTP submission client for --check: greeting, EHLO (RFC 5321),
 * STARTTLS (RFC 3207), AUTH (RFC 4954), QUIT. It sends no mail. See
 * smtp.h.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../tls/conn.h"
#include "../tls/util.h"
#include "line.h"
#include "sasl.h"
#include "smtp.h"

/* Reply lines. RFC 5321 section 4.5.3.1.5 caps a reply line at 512
 * octets; some servers exceed it a little. */
#define SMTP_LINE 1000
/* AUTH challenges carry base64 (RFC 4954 section 4). */
#define SMTP_AUTHLINE 8192
/* A command line with its CRLF (RFC 5321 section 4.5.3.1.4); an AUTH
 * with an initial response longer than that is not sent (RFC 4954
 * section 4). */
#define SMTP_CMDMAX 512
#define SMTP_MAXSTEPS 20
/*
 * The name given in EHLO. RFC 5321 section 4.1.4 asks for the client's
 * domain; a submission server identifies the client by its login, and
 * the host name would only tell it more than it needs (as msmtp, we say
 * "localhost").
 */
#define SMTP_HELO "localhost"

static const struct line_proto smtp_line = { SMTP_CMDMAX,
	"sending a command to the SMTP server", "SMTP command too long" };

struct smtp {
	unsigned ext; /* SMTP_EXT_* of the last EHLO */
	unsigned mechs; /* offered mechanisms, bit per src_auth */
	int broken; /* a failure left the session unusable */
	int ended; /* QUIT was answered */
};

int
smtp_parse_line(const char *line, size_t len, int *code, int *more,
    const char **text, size_t *textlen)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0'
	    || line[1] > '5' || line[2] < '0' || line[2] > '9')
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3) {
		*more = 0;
		*text = line + 3;
		*textlen = 0;
		return 0;
	}
	if (line[3] != ' ' && line[3] != '-')
		return -1;
	*more = line[3] == '-';
	*text = line + 4;
	*textlen = len - 4;
	return 0;
}

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

int
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	const char *text;
	size_t tl;
	int code, more;

	if (r->nlines == 0)
		src_quote(r->first, sizeof(r->first), line, len);
	if (smtp_parse_line(line, len, &code, &more, &text, &tl) == -1)
		return SMTP_RBAD;
	/* RFC 5321 section 4.2.1: every line of a reply has its code. */
	if (r->nlines > 0 && code != r->code)
		return SMTP_RBAD;
	r->code = code;
	if (++r->nlines > SMTP_MAXLINES)
		return SMTP_RLONG;
	return more ? SMTP_RMORE : SMTP_RDONE;
}

/* Is the keyword of text (len) kw, followed by the end, a space, or
 * (for the old AUTH= form) '='? */
static int
keyword(const char *text, size_t len, const char *kw, int eq)
{
	size_t n = strlen(kw);

	return len >= n && strncasecmp(text, kw, n) == 0
	    && (len == n || text[n] == ' ' || (eq && text[n] == '='));
}

unsigned
smtp_ehlo_line(const char *text, size_t len, unsigned *mechs)
{
	size_t i, j;

	if (keyword(text, len, "STARTTLS", 0))
		return SMTP_EXT_STARTTLS;
	if (!keyword(text, len, "AUTH", 1))
		return 0;
	for (i = 5; i < len; i = j) {
		while (i < len && text[i] == ' ')
			i++;
		for (j = i; j < len && text[j] != ' '; j++)
			;
		if (j > i)
			*mechs |= sasl_mech_bit(text + i, j - i);
	}
	return SMTP_EXT_AUTH;
}

/* Called with each line's text (after the code and separator). */
typedef void (*line_fn)(struct source *, size_t i, const char *, size_t);

/*
 * Read the rest of a reply to what into r, lines of at most max bytes,
 * handing each line's text to fn when it is not NULL. A line that
 * breaks the grammar fails with bad: the greeting's caller passes
 * SRC_FPROTO, since a server that does not speak SMTP at all is most
 * likely on the wrong port.
 */
static int
readmore(struct source *src, const char *what, size_t max, struct smtp_reply *r,
    line_fn fn, enum src_fail bad)
{
	char q[SMTP_QUOTE + 1];
	const char *text;
	char *line;
	size_t len, tl;
	int code, more, rc;

	for (;;) {
		if (line_read(src, &line, &len, max, what) == -1)
			return -1;
		rc = smtp_reply_feed(r, line, len);
		if (rc == SMTP_RBAD) {
			src_quote(q, sizeof(q), line, len);
			return src_fail(src, bad,
			    "malformed SMTP reply to %s: \"%s\"", what, q);
		}
		if (rc == SMTP_RLONG)
			return src_fail(src, SRC_FPROTO,
			    "the SMTP reply to %s has more than %d lines", what,
			    SMTP_MAXLINES);
		if (fn != NULL
		    && smtp_parse_line(line, len, &code, &more, &text, &tl)
			== 0)
			fn(src, r->nlines - 1, text, tl);
		if (rc == SMTP_RDONE)
			return 0;
	}
}

/* Read a whole reply; see readmore. */
static int
readreply(struct source *src, const char *what, size_t max,
    struct smtp_reply *r, line_fn fn, enum src_fail bad)
{
	smtp_reply_init(r);
	return readmore(src, what, max, r, fn, bad);
}

/* A reply other than the one wanted: 4yz is a temporary failure (421:
 * the server is closing the connection, RFC 5321 section 3.8), 5yz
 * fails with cls. */
static int
refused(struct source *src, const char *what, const struct smtp_reply *r,
    enum src_fail cls)
{
	if (r->code / 100 == 4)
		return src_fail(src, SRC_FTEMP,
		    "SMTP server temporarily refused %s: \"%s\"", what,
		    r->first);
	return src_fail(
	    src, cls, "SMTP server refused %s: \"%s\"", what, r->first);
}

static int
greeting(struct source *src)
{
	struct smtp_reply r;

	if (readreply(src, "the greeting", SMTP_LINE, &r, NULL, SRC_FPROTO)
	    == -1)
		return -1;
	/* RFC 5321 section 3.1: 554 instead of 220 means no service. */
	if (r.code != 220)
		return refused(src, "the session", &r, SRC_FPROTO);
	return 0;
}

/* Note one line of the EHLO reply: the first names the server, the
 * others are extensions. */
static void
ehlo_line(struct source *src, size_t i, const char *text, size_t len)
{
	struct smtp *p = src->priv;
	size_t used;

	if (i == 0)
		return;
	p->ext |= smtp_ehlo_line(text, len, &p->mechs);
	used = strlen(src->caps);
	if (used > 0 && used + 2 < sizeof(src->caps)) {
		memcpy(src->caps + used, ", ", 3);
		used += 2;
	}
	if (used + 1 < sizeof(src->caps))
		src_quote(
		    src->caps + used, sizeof(src->caps) - used, text, len);
}

/* EHLO (RFC 5321 section 4.1.1.1). A server that refuses it cannot
 * offer STARTTLS or AUTH, so there is no HELO fallback. */
static int
ehlo(struct source *src)
{
	struct smtp *p = src->priv;
	struct smtp_reply r;

	p->ext = 0;
	p->mechs = 0;
	src->caps[0] = '\0';
	if (line_cmd(src, &smtp_line, "EHLO %s", SMTP_HELO) == -1
	    || readreply(src, "EHLO", SMTP_LINE, &r, ehlo_line, SRC_FDATA)
		== -1)
		return -1;
	if (r.code != 250) {
		src->caps[0] = '\0';
		return refused(src, "EHLO", &r, SRC_FPROTO);
	}
	return 0;
}

/* STARTTLS (RFC 3207 section 4). */
static int
starttls(struct source *src)
{
	const struct source_cfg *cfg = src->cfg;
	struct smtp *p = src->priv;
	struct smtp_reply r;

	if (!(p->ext & SMTP_EXT_STARTTLS))
		return src_fail(
		    src, SRC_FPROTO, "SMTP server does not offer STARTTLS");
	if (line_cmd(src, &smtp_line, "STARTTLS") == -1
	    || readreply(src, "STARTTLS", SMTP_LINE, &r, NULL, SRC_FDATA) == -1)
		return -1;
	if (r.code != 220) {
		if (r.code == 421)
			return refused(src, "STARTTLS", &r, SRC_FTEMP);
		return src_fail(src, SRC_FPROTO,
		    "SMTP server refused STARTTLS: \"%s\"", r.first);
	}
	/* conn_starttls refuses bytes the server sent ahead of the
	 * handshake (RFC 3207 section 6: a plaintext injection). */
	if (conn_starttls(src->conn, cfg->host, &cfg->tlsopts) == -1)
		return src_connfail(src, "TLS with the SMTP server");
	/* RFC 3207 section 4.2: forget what was learnt before TLS. */
	return ehlo(src);
}

static int
is_scram(enum src_auth m)
{
	return m == SRC_AUTH_SCRAM_SHA_1 || m == SRC_AUTH_SCRAM_SHA_256;
}

/* The failure an AUTH reply other than 235 or 334 stands for
 * (RFC 4954 section 6). */
static int
authfail(struct source *src, const struct smtp_reply *r)
{
	switch (r->code) {
	case 432: /* a password transition is needed */
	case 534: /* mechanism too weak */
	case 535: /* credentials invalid */
	case 538: /* encryption required for the mechanism */
		return src_fail(src, SRC_FAUTH,
		    "SMTP authentication failed: \"%s\"", r->first);
	case 500:
	case 501:
	case 502:
	case 503:
	case 504:
		return src_fail(src, SRC_FPROTO,
		    "SMTP server refused AUTH: \"%s\"", r->first);
	default:
		if (r->code / 100 == 4)
			return refused(src, "AUTH", r, SRC_FTEMP);
		return src_fail(src, SRC_FAUTH,
		    "SMTP authentication failed: \"%s\"", r->first);
	}
}

/*
 * Read one line of the AUTH exchange: a 334 challenge (RFC 4954 section
 * 4: a single line, its text base64) sets *chal and *chlen and returns
 * 1; a final reply, read whole into the struct smtp_reply at arg,
 * returns 0.
 */
static int
authline(struct source *src, void *arg, const char **chal, size_t *chlen)
{
	struct smtp_reply *r = arg;
	char q[SMTP_QUOTE + 1];
	const char *text;
	char *line;
	size_t len, tl;
	int code, more;

	if (line_read(src, &line, &len, SMTP_AUTHLINE, "AUTH") == -1)
		return -1;
	if (smtp_parse_line(line, len, &code, &more, &text, &tl) == -1) {
		src_quote(q, sizeof(q), line, len);
		return src_fail(
		    src, SRC_FDATA, "malformed SMTP reply to AUTH: \"%s\"", q);
	}
	if (code == 334) {
		if (more) {
			src_quote(q, sizeof(q), line, len);
			return src_fail(src, SRC_FPROTO,
			    "SMTP AUTH challenge of more than one line: "
			    "\"%s\"",
			    q);
		}
		*chal = text;
		*chlen = tl;
		return 1;
	}
	smtp_reply_init(r);
	if (smtp_reply_feed(r, line, len) == SMTP_RDONE)
		return 0;
	return readmore(src, "AUTH", SMTP_LINE, r, NULL, SRC_FDATA);
}

/* AUTH (RFC 4954 section 4). */
static int
auth_sasl(struct source *src, enum src_auth mech)
{
	const struct source_cfg *cfg = src->cfg;
	struct smtp_reply r;
	struct sasl_line how
	    = { SMTP_CMDMAX, SMTP_MAXSTEPS, "SMTP ", &smtp_line, authline, &r };
	struct sasl *s;
	const char *name;
	int rc = -1;

	name = sasl_mech_name(mech);
	xstrlcpy(src->mech, name, sizeof(src->mech));
	s = sasl_new(mech, cfg->user, cfg->secret, cfg->host, cfg->port);
	if (sasl_exchange(src, s, name, &how) == -1)
		goto done;
	if (r.code != 235)
		authfail(src, &r);
	else if (is_scram(mech) && sasl_done(s) != 1)
		/* RFC 5802 section 5: the server proves it knows the
		 * password in its final message; a 235 without that proof
		 * is not accepted. */
		src_fail(src, SRC_FAUTH,
		    "SMTP server did not prove it knows the password (%s)",
		    name);
	else
		rc = 0;
done:
	sasl_free(s);
	return rc;
}

/* Pick the mechanism: the one named, or the first of auto_pref the
 * server offers. */
static int
authenticate(struct source *src)
{
	const struct source_cfg *cfg = src->cfg;
	struct smtp *p = src->priv;
	enum src_auth mech = cfg->auth;

	/* The plaintext rule of the other clients, checked again here
	 * whatever the config said. */
	if (!conn_is_tls(src->conn) && !cfg->allow_plaintext)
		return src_fail(src, SRC_FCONFIG,
		    "refusing to send credentials to the SMTP server over an "
		    "unencrypted connection (set allow_plaintext = yes to "
		    "allow)");
	if (cfg->user == NULL || *cfg->user == '\0')
		return src_fail(src, SRC_FCONFIG, "no SMTP user name");
	if (cfg->secret == NULL)
		return src_fail(src, SRC_FCONFIG, "no password");
	if (mech != SRC_AUTH_AUTO && sasl_mech_name(mech) == NULL)
		return src_fail(src, SRC_FCONFIG,
		    "SMTP authenticates only with SASL mechanisms");
	if (!(p->ext & SMTP_EXT_AUTH))
		return src_fail(src, SRC_FPROTO,
		    "SMTP server does not offer AUTH%s",
		    conn_is_tls(src->conn) ? "" : " without TLS");
	if (mech == SRC_AUTH_AUTO) {
		if ((mech = sasl_auto_pick(p->mechs)) == SRC_AUTH_AUTO)
			return src_fail(src, SRC_FPROTO,
			    "SMTP server offers none of SCRAM-SHA-256, "
			    "SCRAM-SHA-1, PLAIN, LOGIN; set auth to a "
			    "mechanism it offers");
	} else if (!(p->mechs & (1u << mech)))
		return src_fail(src, SRC_FPROTO,
		    "SMTP server does not offer AUTH %s", sasl_mech_name(mech));
	return auth_sasl(src, mech);
}

/* Mark the session unusable after a failure rc (-1); returns rc. */
static int
settle(struct source *src, int rc)
{
	if (rc == -1)
		((struct smtp *)src->priv)->broken = 1;
	return rc;
}

static int
do_open(struct source *src)
{
	const struct source_cfg *cfg = src->cfg;

	if (src->conn != NULL)
		return src_fail(src, SRC_FPROTO, "session already open");
	if (line_connect(src, "TLS with the SMTP server") == -1
	    || greeting(src) == -1 || ehlo(src) == -1)
		return -1;
	if (cfg->tls == SRC_TLS_STARTTLS && starttls(src) == -1)
		return -1;
	src->mechs = ((struct smtp *)src->priv)->mechs;
	return 0;
}

int
smtp_open(struct source *src)
{
	return settle(src, do_open(src));
}

int
smtp_auth(struct source *src)
{
	struct smtp *p = src->priv;

	if (p->broken)
		return -1;
	if (src->conn == NULL)
		return src_fail(src, SRC_FPROTO, "session not open");
	return settle(src, authenticate(src));
}

/* The probe of --configure: open, and authenticate unless nologin. */
static int
probe_open(struct source *src)
{
	if (smtp_open(src) == -1)
		return -1;
	return src->cfg->nologin ? 0 : smtp_auth(src);
}

/* QUIT (RFC 5321 section 4.1.1.10): the server answers 221. */
int
smtp_quit(struct source *src)
{
	struct smtp *p = src->priv;
	struct smtp_reply r;

	if (p->broken)
		return -1;
	if (p->ended)
		return src_fail(src, SRC_FPROTO, "session already ended");
	if (src->conn == NULL)
		return src_fail(src, SRC_FPROTO, "session not open");
	if (line_cmd(src, &smtp_line, "QUIT") == -1
	    || readreply(src, "QUIT", SMTP_LINE, &r, NULL, SRC_FDATA) == -1) {
		p->broken = 1;
		return -1;
	}
	if (r.code / 100 != 2) {
		p->broken = 1;
		return refused(src, "QUIT", &r, SRC_FPROTO);
	}
	p->ended = 1;
	return 0;
}

void
smtp_free(struct source *src)
{
	src_free(src, sizeof(struct smtp));
}

/* Only what --configure's probe uses; the mail operations are NULL. */
static const struct source_ops smtp_probe_ops = {
	.open = probe_open,
	.quit = smtp_quit,
	.free = smtp_free,
};

struct source *
smtp_new(const struct source_cfg *cfg)
{
	return src_new(&smtp_probe_ops, cfg, sizeof(struct smtp));
}
