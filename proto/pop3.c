/*
 * POP3 client: RFC 1939, CAPA and PIPELINING (RFC 2449), STLS
 * (RFC 2595), AUTH (RFC 5034), response codes (RFC 2449 section 8,
 * RFC 3206). See pop3.h and source.h.
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
#include "pop3.h"
#include "sasl.h"

/* Status, capability and listing lines. RFC 2449 section 4 caps a
 * response line at 512 octets; some servers exceed it a little. */
#define POP3_LINE 1000
/* SASL challenges carry base64 (RFC 5034 section 4). */
#define POP3_AUTHLINE 8192
/* A command line, initial response included (RFC 2449 section 4,
 * RFC 5034 section 4). */
#define POP3_CMDMAX 255
/* Bounds against a hostile server. */
/* 300 000 messages keep a hostile listing under SPEC's 64 MB bound. */
#define POP3_MAXMSGS 300000
#define POP3_MAXUIDBYTES (32 * 1024 * 1024)
#define POP3_MAXCAPS 1000
#define POP3_MAXSTEPS 20
/*
 * The window of outstanding RETR/DELE commands with PIPELINING, topped
 * up as each reply completes: commands until the messages they ask for
 * add up to POP3_WINBYTES (as LIST announced them), and never more
 * than POP3_WINCMDS (at most ~8 KB of command lines, which the socket
 * buffers take without the server reading: no deadlock while its
 * replies fill the other direction). Neither costs memory here: the
 * replies are streamed to the sink as they come.
 */
#define POP3_WINBYTES (16 * 1024 * 1024)
#define POP3_WINCMDS 512
/* Decoded body bytes handed to the sink at once. */
#define POP3_BODYBUF 65536
/* Server text quoted into an error. */
#define POP3_QUOTE 200

static const struct line_proto pop3_line
    = { POP3_LINE, "sending a command", "command too long" };

#define CAP_STLS 0x01
#define CAP_PIPELINING 0x02

struct pop3 {
	unsigned caps; /* CAP_* */
	unsigned sasl; /* offered mechanisms, bit per src_auth */
	int capa; /* the server answered CAPA */
	char offer[POP3_QUOTE + 1]; /* its SASL line's names, quoted */
	char stamp[POP3_LINE + 1]; /* APOP timestamp of the greeting */
	size_t stamplen; /* 0: none */
	int broken; /* a failure left the session unusable */
	int ended; /* QUIT was answered */
	int marked; /* DELE was sent: QUIT's answer decides */
	int nouidl; /* UIDL answered -ERR: the server has none */
	char *body; /* POP3_BODYBUF bytes for fetch */
	/*
	 * With PIPELINING, STAT and UIDL (and LIST without lazy_sizes) go
	 * out behind the client's last authentication message; their
	 * answers are read where they are asked for: STAT's by select,
	 * the listing by list, straight into the caller's (windowed)
	 * list. pre: 0 none unread, 1 all unread, 2 STAT read into prefi
	 * (prestat until select takes it), the listing unread.
	 */
	int pre;
	int prestat;
	struct folder_info prefi;
	int prelist; /* LIST was sent along */
	/* SCRAM's first message, sent behind CAPA before the greeting
	 * was read (early_send): authenticate goes on with its exchange
	 * when it would send the same AUTH, else early_drop withdraws
	 * it. */
	struct {
		struct sasl *sasl; /* NULL: none in flight */
		enum src_auth mech;
	} early;
};

/* Decoder states; see pop3_dec_feed. */
enum {
	DEC_BOL, /* at the start of a line */
	DEC_DOT, /* "." at the start of a line, held */
	DEC_DOTCR, /* ".CR" at the start of a line, held */
	DEC_MID, /* inside a line */
	DEC_CR, /* CR inside a line, held */
	DEC_DONE /* the terminating line was consumed */
};

int
pop3_status(const char *line, size_t len, const char **text)
{
	/* RFC 1939 section 3: the status indicators are upper case. */
	if (len >= 3 && memcmp(line, "+OK", 3) == 0
	    && (len == 3 || line[3] == ' ')) {
		*text = line + (len == 3 ? 3 : 4);
		return 1;
	}
	if (len >= 4 && memcmp(line, "-ERR", 4) == 0
	    && (len == 4 || line[4] == ' ')) {
		*text = line + (len == 4 ? 4 : 5);
		return 0;
	}
	*text = line + len;
	return -1;
}

int
pop3_parse_uidl(const char *line, size_t len, uint32_t *num, const char **uid,
    size_t *uidlen)
{
	uint64_t v;
	size_t i = 0, start;

	if (parse_dec(line, len, &i, UINT32_MAX, &v) == -1 || v == 0)
		return -1;
	if (i >= len || line[i] != ' ')
		return -1;
	start = ++i;
	/* RFC 1939 section 7: 1 to 70 characters in 0x21 to 0x7E. */
	for (; i < len; i++) {
		unsigned char c = line[i];

		if (c < 0x21 || c > 0x7e)
			return -1;
	}
	if (len - start < 1 || len - start > 70)
		return -1;
	*num = (uint32_t)v;
	*uid = line + start;
	*uidlen = len - start;
	return 0;
}

int
pop3_parse_pair(const char *line, size_t len, uint32_t *a, uint64_t *b)
{
	uint64_t va, vb;
	size_t i = 0;

	if (parse_dec(line, len, &i, UINT32_MAX, &va) == -1)
		return -1;
	if (i >= len || line[i] != ' ')
		return -1;
	i++;
	if (parse_dec(line, len, &i, UINT64_MAX, &vb) == -1)
		return -1;
	/* RFC 1939 section 5 (STAT, LIST): anything may follow
	 * the size after a space. */
	if (i < len && line[i] != ' ')
		return -1;
	*a = (uint32_t)va;
	*b = vb;
	return 0;
}

void
pop3_dec_init(struct pop3_dec *d)
{
	d->state = DEC_BOL;
}

/*
 * The body of a multi-line response (RFC 1939 section 3) is a series of
 * lines, each ended by CRLF; only CRLF ends a line. A line that starts
 * with "." has that first "." removed; a line that is "." alone ends the
 * body. CRLF becomes LF. A bare CR and a bare LF are data: they pass
 * through unchanged, and the byte after them is not at the start of a
 * line (so "a\n.b" stays "a\n.b"). A line that starts with "." not
 * followed by "." or CRLF breaks the byte-stuffing rule; its "." is kept.
 *
 * Bytes that cannot be judged yet (a "." at the start of a line, a CR)
 * are consumed and held in the state; they are emitted, when they turn
 * out to be data, before the next input byte is consumed. So every
 * output byte comes from its own input byte, and out never needs more
 * than inlen bytes; when held bytes fill out, the call returns before
 * consuming all of in (at least one byte is consumed or emitted per
 * call while inlen > 0).
 */
/*
 * One step of the decoder on the byte c in a state other than DEC_MID
 * before a byte that is not CR (which pop3_dec_feed copies in bulk):
 * the next state, whether c is consumed (*eat), and the byte to emit
 * first (*emit, -1 for none).
 */
static int
dec_step(int st, char c, int *eat, int *emit)
{
	*eat = 1;
	*emit = -1;
	switch (st) {
	case DEC_BOL:
		if (c == '.')
			return DEC_DOT;
		*eat = 0;
		return DEC_MID;
	case DEC_DOT:
		if (c == '\r')
			return DEC_DOTCR;
		*emit = '.';
		/* "..": the stuffed dot is dropped. */
		*eat = c == '.';
		return DEC_MID;
	case DEC_DOTCR:
		if (c == '\n')
			return DEC_DONE;
		*emit = '.';
		*eat = 0;
		return DEC_CR;
	case DEC_CR:
		*emit = c == '\n' ? '\n' : '\r';
		*eat = c == '\n';
		return c == '\n' ? DEC_BOL : DEC_MID;
	default: /* DEC_MID at a CR */
		return DEC_CR;
	}
}

size_t
pop3_dec_feed(struct pop3_dec *d, const char *in, size_t inlen, char *out,
    size_t *outlen, int *done)
{
	const char *cr;
	size_t i = 0, o = 0, n;
	int st = d->state, next, eat, emit;

	while (i < inlen && st != DEC_DONE) {
		if (st == DEC_MID && in[i] != '\r') {
			cr = memchr(in + i, '\r', inlen - i);
			n = cr ? (size_t)(cr - (in + i)) : inlen - i;
			if (n > inlen - o)
				n = inlen - o;
			if (n == 0)
				break;
			memcpy(out + o, in + i, n);
			i += n;
			o += n;
			continue;
		}
		next = dec_step(st, in[i], &eat, &emit);
		if (emit != -1) {
			if (o == inlen)
				break;
			out[o++] = (char)emit;
		}
		i += eat;
		st = next;
	}
	d->state = st;
	*outlen = o;
	*done = st == DEC_DONE;
	return i;
}

int
pop3_apop_stamp(
    const char *greeting, size_t len, const char **ts, size_t *tslen)
{
	size_t i, j;
	int at;

	/* RFC 1939 section 7: the timestamp is a msg-id, "<" addr-spec
	 * ">", somewhere in the greeting. */
	for (i = 0; i < len; i++) {
		if (greeting[i] != '<')
			continue;
		at = 0;
		for (j = i + 1; j < len; j++) {
			unsigned char c = greeting[j];

			if (c == '>' || c == '<' || c < 0x21 || c > 0x7e)
				break;
			if (c == '@')
				at = 1;
		}
		if (j < len && greeting[j] == '>' && at && j > i + 1) {
			*ts = greeting + i;
			*tslen = j - i + 1;
			return 0;
		}
	}
	return -1;
}

/* Read a status line: 0 with *ok 1 (+OK) or 0 (-ERR) and the text after
 * it, or -1 on an I/O error or a line that is neither. */
static int
reply(struct source *src, const char *what, int *ok, const char **text,
    size_t *textlen)
{
	char q[POP3_QUOTE + 1];
	char *line;
	size_t len;
	int st;

	/* A reply starts: it must be complete, multi-line part included,
	 * within the timeout (SPEC "Time"); a message body is exempt. */
	conn_reply_begin(src->conn);
	if (line_read(src, &line, &len, POP3_LINE, what) == -1)
		return -1;
	st = pop3_status(line, len, text);
	if (st == -1) {
		src_quote(q, sizeof(q), line, len);
		return src_fail(
		    src, SRC_FPROTO, "unexpected reply to %s: \"%s\"", what, q);
	}
	*ok = st;
	*textlen = len - (*text - line);
	return 0;
}

/* Read one line of a multi-line response, with the byte-stuffing
 * removed (RFC 1939 section 3). *end is 1 at the terminating ".". */
static int
mline(struct source *src, const char *what, char **line, size_t *len, int *end)
{
	if (line_read(src, line, len, POP3_LINE, what) == -1)
		return -1;
	*end = 0;
	if (*len == 1 && (*line)[0] == '.')
		*end = 1;
	else if (*len > 0 && (*line)[0] == '.') {
		(*line)++;
		(*len)--;
	}
	return 0;
}

/* 1 when text starts with an RFC 2449 section 8 response code that
 * says the failure is temporary: [IN-USE], [SYS/TEMP] (RFC 3206) or
 * [LOGIN-DELAY]. Codes are hierarchical: "SYS/TEMP/x" is "SYS/TEMP". */
static int
tempcode(const char *text, size_t len)
{
	static const char *const codes[]
	    = { "IN-USE", "SYS/TEMP", "LOGIN-DELAY" };
	const char *end;
	size_t i, n, cl;

	if (len < 2 || text[0] != '[')
		return 0;
	if ((end = memchr(text, ']', len)) == NULL)
		return 0;
	n = end - (text + 1);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cl = strlen(codes[i]);
		if (n >= cl && strncasecmp(text + 1, codes[i], cl) == 0
		    && (n == cl || text[1 + cl] == '/'))
			return 1;
	}
	return 0;
}

/* A -ERR to an authentication command. */
static int
authfail(struct source *src, const char *text, size_t len)
{
	char q[POP3_QUOTE + 1];

	src_quote(q, sizeof(q), text, len);
	if (tempcode(text, len))
		return src_fail(src, SRC_FTEMP,
		    "mailbox temporarily unavailable: \"%s\"", q);
	return src_fail(src, SRC_FAUTH, "authentication failed: \"%s\"", q);
}

/* Is word w (len wl) the first word of line s? Case-insensitive
 * (RFC 2449 section 6). */
static int
firstword(const char *s, size_t len, const char *w)
{
	size_t wl = strlen(w);

	return len >= wl && strncasecmp(s, w, wl) == 0
	    && (len == wl || s[wl] == ' ');
}

/* Note one capability line. */
static void
addcap(struct source *src, struct pop3 *p, const char *s, size_t len)
{
	size_t i, j, used;

	if (firstword(s, len, "STLS"))
		p->caps |= CAP_STLS;
	else if (firstword(s, len, "PIPELINING"))
		p->caps |= CAP_PIPELINING;
	else if (firstword(s, len, "SASL")) {
		src_quote(p->offer, sizeof(p->offer), s + 4 + (len > 4),
		    len - 4 - (len > 4));
		for (i = 4; i < len; i = j) {
			while (i < len && s[i] == ' ')
				i++;
			for (j = i; j < len && s[j] != ' '; j++)
				;
			if (j > i)
				p->sasl |= sasl_mech_bit(s + i, j - i);
		}
	}
	/* Keep what fits of the listing, lines joined by spaces. */
	used = strlen(src->caps);
	if (used > 0 && used + 1 < sizeof(src->caps))
		src->caps[used++] = ' ';
	if (used + 1 < sizeof(src->caps))
		src_quote(src->caps + used, sizeof(src->caps) - used, s, len);
}

/* The answer to CAPA (RFC 2449 section 5), sent already: -ERR means
 * no capabilities. */
static int
capa_read(struct source *src, struct pop3 *p)
{
	const char *text;
	char *line;
	size_t len, tl, n;
	int ok, end;

	p->caps = 0;
	p->sasl = 0;
	p->capa = 0;
	p->offer[0] = '\0';
	src->caps[0] = '\0';
	if (reply(src, "CAPA", &ok, &text, &tl) == -1)
		return -1;
	if (!ok)
		return 0;
	p->capa = 1;
	for (n = 0;; n++) {
		if (mline(src, "CAPA", &line, &len, &end) == -1)
			return -1;
		if (end)
			return 0;
		if (n == POP3_MAXCAPS)
			return src_fail(
			    src, SRC_FPROTO, "capability listing too long");
		addcap(src, p, line, len);
	}
}

static int
capa(struct source *src, struct pop3 *p)
{
	if (line_cmd(src, &pop3_line, "CAPA") == -1)
		return -1;
	return capa_read(src, p);
}

static int
greeting(struct source *src, struct pop3 *p)
{
	char q[POP3_QUOTE + 1];
	const char *text, *ts;
	char *line;
	size_t len, tslen;
	int st;

	conn_reply_begin(src->conn);
	if (conn_getline(src->conn, &line, &len, POP3_LINE) == -1)
		return src_connfail(src, "reading the greeting");
	line_trace(src, SRC_TRACE_IN, line, len);
	st = pop3_status(line, len, &text);
	if (st != 1) {
		src_quote(q, sizeof(q), line, len);
		if (st == 0 && tempcode(text, len - (text - line)))
			return src_fail(src, SRC_FTEMP,
			    "server temporarily unavailable: \"%s\"", q);
		return src_fail(src, SRC_FPROTO, "server greeting: \"%s\"", q);
	}
	p->stamplen = 0;
	if (pop3_apop_stamp(line, len, &ts, &tslen) == 0) {
		memcpy(p->stamp, ts, tslen);
		p->stamp[tslen] = '\0';
		p->stamplen = tslen;
	}
	return 0;
}

static int
has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int pre_send(struct source *, void *);
static int read_stat(struct source *, struct folder_info *);
static int read_uidls(struct source *, struct msglist *);
static int read_sizes(struct source *, struct msglist *, int);

/* USER and PASS (RFC 1939 section 7). */
static int
auth_user(struct source *src)
{
	const struct source_cfg *cfg = src->cfg;
	const char *text;
	char *line;
	size_t tl;
	int ok, n;

	if (has_crlf(cfg->secret))
		return src_fail(
		    src, SRC_FCONFIG, "the password contains a line break");
	xstrlcpy(src->mech, "USER", sizeof(src->mech));
	if (line_cmd(src, &pop3_line, "USER %s", cfg->user) == -1
	    || reply(src, "USER", &ok, &text, &tl) == -1)
		return -1;
	if (!ok)
		return authfail(src, text, tl);
	n = xasprintf(&line, "PASS %s\r\n", cfg->secret);
	if (line_send(src, &pop3_line, line, n, "PASS <redacted>") == -1) {
		freezero_str(line);
		return -1;
	}
	freezero_str(line);
	if (pre_send(src, NULL) == -1)
		return -1;
	if (reply(src, "PASS", &ok, &text, &tl) == -1)
		return -1;
	if (!ok)
		return authfail(src, text, tl);
	return 0;
}

/* APOP (RFC 1939 section 7): MD5 of the greeting's timestamp and the
 * secret. */
static int
auth_apop(struct source *src, struct pop3 *p)
{
	const struct source_cfg *cfg = src->cfg;
	const char *text;
	char hex[33], show[POP3_LINE], *line;
	size_t tl;
	int ok, n, rc;

	if (p->stamplen == 0)
		return src_fail(
		    src, SRC_FPROTO, "server greeting has no APOP timestamp");
	xstrlcpy(src->mech, "APOP", sizeof(src->mech));
	sasl_apop_digest(p->stamp, p->stamplen, cfg->secret, hex);
	n = xasprintf(&line, "APOP %s %s\r\n", cfg->user, hex);
	explicit_bzero(hex, sizeof(hex));
	snprintf(show, sizeof(show), "APOP %s <redacted>", cfg->user);
	rc = line_send(src, &pop3_line, line, n, show);
	freezero_str(line);
	if (rc == -1 || pre_send(src, NULL) == -1
	    || reply(src, "APOP", &ok, &text, &tl) == -1)
		return -1;
	if (!ok)
		return authfail(src, text, tl);
	return 0;
}

static int
is_scram(enum src_auth m)
{
	return m == SRC_AUTH_SCRAM_SHA_1 || m == SRC_AUTH_SCRAM_SHA_256;
}

/* The final reply of an AUTH exchange, kept by auth_next. */
struct auth_final {
	char *line;
	size_t len;
	struct sasl *s;
	int early; /* early_send's AUTH, no challenge to it yet */
};

/* Is line a challenge ("+" and, after a space, base64; RFC 5034
 * section 4)? Its text into *chal, *chlen. */
static int
challenge(const char *line, size_t len, const char **chal, size_t *chlen)
{
	if (len == 0 || line[0] != '+' || (len > 1 && line[1] != ' '))
		return 0;
	*chal = len > 1 ? line + 2 : line + 1;
	*chlen = len > 1 ? len - 2 : 0;
	return 1;
}

/* One line of AUTH: "+ " and a challenge, or the final status line.
 * Called after each client message went out: behind the last one
 * (sasl_last) go the pipelined commands (pre_send). */
static int
auth_next(struct source *src, void *arg, const char **chal, size_t *chlen)
{
	struct auth_final *f = arg;
	char *line;
	size_t len;

	if (sasl_last(f->s) && pre_send(src, NULL) == -1)
		return -1;

	conn_reply_begin(src->conn);
	if (line_read(src, &line, &len, POP3_AUTHLINE, "AUTH") == -1)
		return -1;
	if (challenge(line, len, chal, chlen)) {
		f->early = 0;
		return 1;
	}
	f->line = line;
	f->len = len;
	return 0;
}

/*
 * SCRAM's first message carries no secret, only the user name and a
 * nonce: with implicit TLS it goes out behind CAPA, with the end of the
 * handshake, instead of after the greeting, and the server's first
 * challenge then comes with the greeting and the capabilities, a round
 * trip less. The capabilities still decide: where authenticate would
 * not send that same AUTH (no SASL line, another mechanism, CAPA
 * refused), early_drop withdraws it first. No password or token ever
 * goes out before the greeting: the server might not speak POP3, and
 * SCRAM's proof goes only in answer to the server's challenge.
 */
static int
early_send(struct source *src, struct pop3 *p)
{
	const struct source_cfg *cfg = src->cfg;
	const struct sasl_line how
	    = { POP3_CMDMAX, POP3_MAXSTEPS, "", &pop3_line, NULL, NULL };
	enum src_auth mech = cfg->auth;
	struct sasl *s;
	char show[SASL_SHOW], *auth, *line;
	int n, rc;

	if (mech == SRC_AUTH_AUTO)
		mech = SRC_AUTH_SCRAM_SHA_256;
	if (cfg->tls != SRC_TLS_IMPLICIT || cfg->nologin || !is_scram(mech)
	    || cfg->user == NULL || *cfg->user == '\0' || has_crlf(cfg->user)
	    || cfg->secret == NULL)
		return line_cmd(src, &pop3_line, "CAPA");
	s = sasl_new(mech, cfg->user, cfg->secret, cfg->host, cfg->port);
	if (sasl_start(s, sasl_mech_name(mech), &how, &auth, show) == -1) {
		/* authenticate says why, if it picks this mechanism. */
		sasl_free(s);
		return line_cmd(src, &pop3_line, "CAPA");
	}
	p->early.sasl = s;
	p->early.mech = mech;
	/* One write: CAPA and AUTH, an initial response (RFC 5034). */
	n = xasprintf(&line, "CAPA\r\n%s", auth);
	freezero_str(auth);
	line_trace(src, SRC_TRACE_OUT, "CAPA", 4);
	rc = line_send(src, &pop3_line, line, (size_t)n, show);
	freezero_str(line);
	return rc;
}

/* Withdraw what early_send sent: read the server's answer to the
 * AUTH; a challenge is answered "*", which cancels the exchange (RFC
 * 5034 section 4), and the -ERR that follows is read. */
static int
early_drop(struct source *src, struct pop3 *p)
{
	const char *text;
	char q[POP3_QUOTE + 1], *line;
	size_t len, tl;
	int st;

	if (p->early.sasl == NULL)
		return 0;
	sasl_free(p->early.sasl);
	p->early.sasl = NULL;
	conn_reply_begin(src->conn);
	if (line_read(src, &line, &len, POP3_AUTHLINE, "AUTH") == -1)
		return -1;
	if (challenge(line, len, &text, &tl)
	    && (line_cmd(src, &pop3_line, "*") == -1
		|| line_read(src, &line, &len, POP3_AUTHLINE, "AUTH") == -1))
		return -1;
	if ((st = pop3_status(line, len, &text)) == 0)
		return 0;
	if (st == 1)
		return src_fail(src, SRC_FPROTO,
		    "server accepted an authentication the client cancelled");
	src_quote(q, sizeof(q), line, len);
	return src_fail(src, SRC_FPROTO, "unexpected reply to AUTH: \"%s\"", q);
}

/*
 * The exchange of mech up to its final reply, in f: the one early_send
 * began when authenticate kept it, else a new one. A -ERR straight to
 * the early AUTH, before any challenge, withdraws it as early_drop
 * would (the server may not take commands before its greeting): the
 * exchange starts again as without it.
 */
static int
auth_run(struct source *src, struct pop3 *p, enum src_auth mech,
    const struct sasl_line *how, struct auth_final *f)
{
	const struct source_cfg *cfg = src->cfg;
	const char *text;

	if (p->early.sasl != NULL) {
		f->s = p->early.sasl;
		p->early.sasl = NULL;
		f->early = 1;
		if (sasl_answer(src, f->s, how) == -1)
			return -1;
		if (!f->early || pop3_status(f->line, f->len, &text) != 0)
			return 0;
		sasl_free(f->s);
	}
	f->s = sasl_new(mech, cfg->user, cfg->secret, cfg->host, cfg->port);
	f->early = 0;
	return sasl_exchange(src, f->s, sasl_mech_name(mech), how);
}

/* AUTH (RFC 5034 section 4). */
static int
auth_sasl(struct source *src, struct pop3 *p, enum src_auth mech)
{
	struct auth_final f = { NULL, 0, NULL, 0 };
	struct sasl_line how
	    = { POP3_CMDMAX, POP3_MAXSTEPS, "", &pop3_line, auth_next, &f };
	const char *name, *text;
	char q[POP3_QUOTE + 1];
	int st, rc = -1;

	name = sasl_mech_name(mech);
	if (name == NULL)
		return src_fail(
		    src, SRC_FCONFIG, "no such authentication mechanism");
	/* As IMAP does: a mechanism the server does not list is not
	 * tried, and no credential is sent. A server that answers no
	 * CAPA (RFC 1734 only) lists nothing; AUTH is asked then. */
	if (p->capa && !sasl_offered(p->sasl, mech))
		return src_fail(src, SRC_FPROTO,
		    "server does not offer SASL %s (it offers: %s); choose "
		    "one of those with auth = ...",
		    name, *p->offer ? p->offer : "no SASL mechanism");
	xstrlcpy(src->mech, name, sizeof(src->mech));
	if (auth_run(src, p, mech, &how, &f) == -1)
		goto done;
	st = pop3_status(f.line, f.len, &text);
	if (st == 0)
		authfail(src, text, f.len - (size_t)(text - f.line));
	else if (st != 1) {
		src_quote(q, sizeof(q), f.line, f.len);
		src_fail(
		    src, SRC_FPROTO, "unexpected reply to AUTH: \"%s\"", q);
	} else if (is_scram(mech) && sasl_done(f.s) != 1)
		/* RFC 5802 section 5: the server proves it knows the
		 * password in its final message; an OK without that proof
		 * is not accepted. */
		src_fail(src, SRC_FAUTH,
		    "server did not prove it knows the password (%s)", name);
	else
		rc = 0;
done:
	sasl_free(f.s);
	return rc;
}

static int
authenticate(struct source *src, struct pop3 *p)
{
	const struct source_cfg *cfg = src->cfg;
	enum src_auth mech = cfg->auth;

	if (!conn_is_tls(src->conn) && !cfg->allow_plaintext)
		return src_fail(src, SRC_FCONFIG,
		    "refusing to send credentials over an unencrypted "
		    "connection (set allow_plaintext = yes to allow)");
	if (cfg->user == NULL || *cfg->user == '\0')
		return src_fail(src, SRC_FCONFIG, "no user name");
	if (has_crlf(cfg->user))
		return src_fail(
		    src, SRC_FCONFIG, "the user name contains a line break");
	if (cfg->secret == NULL)
		return src_fail(src, SRC_FCONFIG, "no password");
	if (mech == SRC_AUTH_AUTO
	    && (mech = sasl_auto_pick(p->sasl)) == SRC_AUTH_AUTO)
		mech = SRC_AUTH_USER;
	/* early_send's AUTH goes on only where it is the one chosen from
	 * the capabilities the server listed. */
	if ((mech != p->early.mech || !p->capa || !sasl_offered(p->sasl, mech))
	    && early_drop(src, p) == -1)
		return -1;
	switch (mech) {
	case SRC_AUTH_USER:
		return auth_user(src);
	case SRC_AUTH_APOP:
		return auth_apop(src, p);
	default:
		return auth_sasl(src, p, mech);
	}
}

/*
 * With PIPELINING (RFC 2449 section 6.6): STAT and UIDL (and LIST
 * without lazy_sizes, or on a first fetch: cfg->first_list) right
 * behind the client's last authentication
 * message, so that a poll waits once for the login and the listing
 * together. Harmless if the login fails: in the AUTHORIZATION state
 * the server answers them -ERR, the session ends with the failure, and
 * nothing more is sent.
 */
static int
pre_send(struct source *src, void *arg)
{
	struct pop3 *p = src->priv;
	static const char three[] = "STAT\r\nUIDL\r\nLIST\r\n";
	size_t n;

	(void)arg;
	if (!(p->caps & CAP_PIPELINING) || p->pre != 0)
		return 0;
	p->prelist = !src->cfg->lazy_sizes || src->cfg->first_list;
	n = p->prelist ? strlen(three) : strlen("STAT\r\nUIDL\r\n");
	line_trace(src, SRC_TRACE_OUT, "STAT", 4);
	if (p->prelist)
		line_trace(src, SRC_TRACE_OUT, "UIDL", 4);
	if (line_send(src, &pop3_line, three, n, p->prelist ? "LIST" : "UIDL")
	    == -1)
		return -1;
	p->pre = 1;
	return 0;
}

/* The answer to the STAT pre_send sent, once. */
static int
pre_stat(struct source *src, struct pop3 *p)
{
	if (p->pre != 1)
		return 0;
	if (read_stat(src, &p->prefi) == -1)
		return -1;
	p->prestat = 1;
	p->pre = 2;
	return 0;
}

static int
do_open(struct source *src, struct pop3 *p)
{
	const struct source_cfg *cfg = src->cfg;
	const char *text;
	char q[POP3_QUOTE + 1];
	size_t tl;
	int ok;

	if (src->conn != NULL)
		return src_fail(src, SRC_FPROTO, "session already open");
	/* CAPA goes out with the end of the TLS handshake, before the
	 * greeting is read: the greeting and its answer then come in one
	 * round trip. Harmless whatever the greeting says: CAPA changes
	 * nothing on the server. With implicit TLS, SCRAM's first message
	 * may go with it (early_send). */
	if (line_connect(src, "TLS") == -1 || early_send(src, p) == -1
	    || greeting(src, p) == -1 || capa_read(src, p) == -1)
		return -1;
	if (cfg->tls == SRC_TLS_STARTTLS) {
		if (!(p->caps & CAP_STLS))
			return src_fail(src, SRC_FPROTO,
			    "server does not offer STLS (STARTTLS)");
		if (line_cmd(src, &pop3_line, "STLS") == -1
		    || reply(src, "STLS", &ok, &text, &tl) == -1)
			return -1;
		if (!ok) {
			src_quote(q, sizeof(q), text, tl);
			return src_fail(
			    src, SRC_FPROTO, "server refused STLS: \"%s\"", q);
		}
		if (conn_starttls(src->conn, cfg->host, &cfg->tlsopts) == -1)
			return src_connfail(src, "TLS");
		/* RFC 2595 section 4: forget what was learnt before TLS. */
		if (capa(src, p) == -1)
			return -1;
	}
	src->mechs = p->sasl;
	if (cfg->nologin)
		return 0;
	return authenticate(src, p);
}

/* After a failure the session is unusable, except after a refusal
 * (SRC_FREFUSED). */
static int
settle(struct source *src, int rc)
{
	struct pop3 *p = src->priv;

	if (rc == -1 && src->fail != SRC_FREFUSED)
		p->broken = 1;
	return rc;
}

/* An operation may run only on an open, unbroken session. */
static int
usable(struct source *src)
{
	struct pop3 *p = src->priv;

	/* src->err still says what broke the session. */
	if (p->broken)
		return -1;
	if (p->ended)
		return src_fail(src, SRC_FPROTO, "session already ended");
	if (src->conn == NULL)
		return src_fail(src, SRC_FPROTO, "session not open");
	return 0;
}

static int
pop3_open(struct source *src)
{
	return settle(src, do_open(src, src->priv));
}

/* The answer to STAT, sent already, into *fi. */
static int
read_stat(struct source *src, struct folder_info *fi)
{
	const char *text;
	char q[POP3_QUOTE + 1];
	uint64_t size;
	size_t tl;
	int ok;

	if (reply(src, "STAT", &ok, &text, &tl) == -1)
		return -1;
	src_quote(q, sizeof(q), text, tl);
	if (!ok)
		return src_fail(src, SRC_FPROTO, "STAT failed: \"%s\"", q);
	memset(fi, 0, sizeof(*fi));
	if (pop3_parse_pair(text, tl, &fi->exists, &size) == -1)
		return src_fail(src, SRC_FDATA, "bad STAT reply: \"%s\"", q);
	return 0;
}

static int
pop3_select(
    struct source *src, const char *folder, int rw, struct folder_info *fi)
{
	struct pop3 *p = src->priv;
	char q[POP3_QUOTE + 1];

	(void)rw;
	if (usable(src) == -1)
		return -1;
	if (strcasecmp(folder, "INBOX") != 0) {
		src_quote(q, sizeof(q), folder, strlen(folder));
		return src_fail(src, SRC_FREFUSED, "POP3 has no folder %s", q);
	}
	if (pre_stat(src, p) == -1)
		return settle(src, -1);
	if (p->prestat) {
		/* Asked behind the login. */
		p->prestat = 0;
		*fi = p->prefi;
		return 0;
	}
	if (line_cmd(src, &pop3_line, "STAT") == -1 || read_stat(src, fi) == -1)
		return settle(src, -1);
	return 0;
}

struct pair {
	uint32_t num;
	uint64_t size;
};

static int
cmp_msgnum(const void *a, const void *b)
{
	const struct msginfo *x = a, *y = b;

	return (x->num > y->num) - (x->num < y->num);
}

static int
cmp_pairnum(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	return (x->num > y->num) - (x->num < y->num);
}

static int
cmp_uid(const void *a, const void *b)
{
	const struct msginfo *const *x = a, *const *y = b;

	return strcmp((*x)->uid, (*y)->uid);
}

static int check_uidl(struct source *, struct msglist *);

/* Read the UIDL listing into l (uids, sizes 0), checked, a window at a
 * time when l is windowed. */
static int
read_uidl(struct source *src, struct msglist *l)
{
	struct msginfo m;
	char q[POP3_QUOTE + 1], *line;
	const char *uid;
	size_t len, uidlen, bytes = 0;
	int end;

	memset(&m, 0, sizeof(m));
	for (;;) {
		if (mline(src, "UIDL", &line, &len, &end) == -1)
			return -1;
		if (end)
			break;
		if (l->nflushed + l->n == POP3_MAXMSGS)
			return src_fail(
			    src, SRC_FPROTO, "UIDL listing too long");
		if (pop3_parse_uidl(line, len, &m.num, &uid, &uidlen) == -1) {
			src_quote(q, sizeof(q), line, len);
			return src_fail(
			    src, SRC_FDATA, "bad UIDL line: \"%s\"", q);
		}
		if ((bytes += uidlen) > POP3_MAXUIDBYTES)
			return src_fail(
			    src, SRC_FPROTO, "UIDL listing too long");
		/* The uid runs to the end of the line, which the connection
		 * terminated with a NUL. */
		m.uid = (char *)uid;
		msglist_add(l, &m);
		if (l->window != 0 && l->n == l->window
		    && (check_uidl(src, l) == -1
			|| msglist_window(src, l) == -1))
			return -1;
	}
	return check_uidl(src, l);
}

/* Read the LIST listing into *v, *n; with v NULL, check and count it
 * only. */
static int
read_list(struct source *src, struct pair **v, size_t *n)
{
	char q[POP3_QUOTE + 1], *line;
	size_t len, cap = 0;
	struct pair pr;
	int end;

	for (;;) {
		if (mline(src, "LIST", &line, &len, &end) == -1)
			return -1;
		if (end)
			return 0;
		if (*n == POP3_MAXMSGS)
			return src_fail(
			    src, SRC_FPROTO, "LIST listing too long");
		if (pop3_parse_pair(line, len, &pr.num, &pr.size) == -1
		    || pr.num == 0) {
			src_quote(q, sizeof(q), line, len);
			return src_fail(
			    src, SRC_FDATA, "bad LIST line: \"%s\"", q);
		}
		if (v == NULL) {
			(*n)++;
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			*v = xreallocarray(*v, cap, sizeof(**v));
		}
		(*v)[(*n)++] = pr;
	}
}

/* Put the UIDL listing in message order and check it: no number
 * twice, no uid twice. */
static int
check_uidl(struct source *src, struct msglist *out)
{
	struct msginfo **byuid;
	char q[POP3_QUOTE + 1];
	size_t i;

	/* Servers list in message order; sort only when one does not. */
	for (i = 1; i < out->n && out->v[i - 1].num < out->v[i].num; i++)
		;
	if (i < out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_msgnum);
	for (i = 1; i < out->n; i++)
		if (out->v[i].num == out->v[i - 1].num)
			return src_fail(src, SRC_FDATA,
			    "UIDL names message %u twice", out->v[i].num);
	if (out->n < 2)
		return 0;
	byuid = xreallocarray(NULL, out->n, sizeof(*byuid));
	for (i = 0; i < out->n; i++)
		byuid[i] = &out->v[i];
	qsort(byuid, out->n, sizeof(*byuid), cmp_uid);
	for (i = 1; i < out->n; i++)
		if (strcmp(byuid[i]->uid, byuid[i - 1]->uid) == 0) {
			src_quote(
			    q, sizeof(q), byuid[i]->uid, strlen(byuid[i]->uid));
			free(byuid);
			return src_fail(
			    src, SRC_FDATA, "UIDL names uid %s twice", q);
		}
	free(byuid);
	return 0;
}

/* Put the LIST listing in message order and check it (no number
 * twice); then either make it the listing (a server without UIDL), or
 * give its sizes to the checked UIDL listing in out, which must name
 * the same messages. */
static int
merge(struct source *src, struct msglist *out, int have_uidl, struct pair *v,
    size_t n)
{
	struct msginfo m;
	size_t i;

	for (i = 1; i < n && v[i - 1].num < v[i].num; i++)
		;
	if (i < n)
		qsort(v, n, sizeof(*v), cmp_pairnum);
	for (i = 1; i < n; i++)
		if (v[i].num == v[i - 1].num)
			return src_fail(src, SRC_FDATA,
			    "LIST names message %u twice", v[i].num);
	if (!have_uidl) {
		memset(&m, 0, sizeof(m));
		for (i = 0; i < n; i++) {
			m.num = v[i].num;
			m.size = v[i].size;
			msglist_add(out, &m);
			if (msglist_window(src, out) == -1)
				return -1;
		}
		return 0;
	}
	for (i = 0; i < out->n && i < n; i++) {
		if (out->v[i].num != v[i].num)
			break;
		out->v[i].size = v[i].size;
	}
	if (i < out->n || i < n) {
		/* The smaller number at the first difference is missing
		 * from the other listing. */
		if (i == n || (i < out->n && out->v[i].num < v[i].num))
			return src_fail(src, SRC_FDATA,
			    "message %u is in UIDL but not in LIST",
			    out->v[i].num);
		return src_fail(src, SRC_FDATA,
		    "message %u is in LIST but not in UIDL", v[i].num);
	}
	return 0;
}

/* Read the reply to LIST, sent already, and merge it into out. */
static int
read_sizes(struct source *src, struct msglist *out, int have_uidl)
{
	struct pair *v = NULL;
	const char *text;
	char q[POP3_QUOTE + 1];
	size_t tl, n = 0;
	int ok, rc = -1;

	if (reply(src, "LIST", &ok, &text, &tl) == -1)
		return -1;
	if (!ok) {
		src_quote(q, sizeof(q), text, tl);
		return src_fail(src, SRC_FPROTO, "LIST failed: \"%s\"", q);
	}
	/* A listing taken in windows gets its sizes with relist: this
	 * answer (sent behind the login on a first fetch) is only read. */
	if (have_uidl && out->nflushed > 0) {
		out->nosizes = 1;
		return read_list(src, NULL, &n);
	}
	if (read_list(src, &v, &n) == 0
	    && merge(src, out, have_uidl, v, n) == 0)
		rc = 0;
	free(v);
	return rc;
}

/* The answer to UIDL, sent already, into out: 1, 0 when the server
 * has no UIDL (-ERR: RFC 1939 section 7 makes it optional), -1. */
static int
read_uidls(struct source *src, struct msglist *out)
{
	const char *text;
	size_t tl;
	int ok;

	if (reply(src, "UIDL", &ok, &text, &tl) == -1)
		return -1;
	((struct pop3 *)src->priv)->nouidl = !ok;
	if (ok && read_uidl(src, out) == -1)
		return -1;
	return ok;
}

/*
 * UIDL, then LIST for the sizes; both at once with PIPELINING (RFC 2449
 * section 6.6). With cfg->lazy_sizes, LIST waits for pop3_sizes unless
 * the server has no UIDL, when LIST alone numbers the messages. sent:
 * what pre_send sent behind the login already (0, 1 UIDL, 2 UIDL and
 * LIST).
 */
static int
do_list(struct source *src, struct msglist *out, int sent)
{
	static const char both[] = "UIDL\r\nLIST\r\n";
	struct pop3 *p = src->priv;
	int sizes = !src->cfg->lazy_sizes, ok;

	if (sent == 0 && sizes && (p->caps & CAP_PIPELINING)) {
		line_trace(src, SRC_TRACE_OUT, "UIDL", 4);
		if (line_send(src, &pop3_line, both, 12, "LIST") == -1)
			return -1;
		sent = 2;
	} else if (sent == 0) {
		if (line_cmd(src, &pop3_line, "UIDL") == -1)
			return -1;
		sent = 1;
	}
	if ((ok = read_uidls(src, out)) == -1)
		return -1;
	if (ok && !sizes && sent == 1) {
		out->nosizes = 1;
		return 0;
	}
	if (sent == 1 && line_cmd(src, &pop3_line, "LIST") == -1)
		return -1;
	return read_sizes(src, out, ok);
}

static int
pop3_list(struct source *src, uint32_t from, struct msglist *out)
{
	struct pop3 *p = src->priv;
	int sent = 0;

	(void)from;
	msglist_free(out);
	/* The sizes of a windowed listing come with relist. */
	if (!src->cfg->lazy_sizes)
		out->window = 0;
	if (usable(src) == -1)
		return -1;
	if (p->pre != 0) {
		/* Asked behind the login: STAT's answer comes first. */
		if (pre_stat(src, p) == -1)
			return settle(src, -1);
		sent = p->prelist ? 2 : 1;
		p->pre = 0;
	}
	if (do_list(src, out, sent) == -1) {
		msglist_free(out);
		return settle(src, -1);
	}
	return 0;
}

static int
pop3_sizes(struct source *src, struct msglist *l)
{
	if (!l->nosizes)
		return 0;
	if (usable(src) == -1)
		return -1;
	if (line_cmd(src, &pop3_line, "LIST") == -1
	    || read_sizes(src, l, 1) == -1)
		return settle(src, -1);
	l->nosizes = 0;
	return 0;
}

/*
 * What pipeline sends, for each of n messages: one command "VERB num"
 * per verb, in order; and what it does with each reply.
 */
struct pipe {
	const char *const *verbs; /* NULL-terminated */
	size_t n;
	uint32_t (*num)(void *arg, size_t i); /* message i's number */
	/* The bytes of message i that its reply carries (RETR, as LIST
	 * announced them); NULL: replies are short. */
	uint64_t (*size)(void *arg, size_t i);
	/* Read and handle the reply to command c: message c / verbs,
	 * verb c % verbs. */
	int (*handle)(struct source *, size_t c, void *arg);
	void *arg;
};

/*
 * Send pp's commands and handle each reply in order. With PIPELINING
 * (RFC 2449 section 6.6) a window of commands is outstanding
 * (POP3_WINBYTES, POP3_WINCMDS; bytes counts the messages' announced
 * sizes), topped up as each reply completes so that the server never
 * waits for the next command while the link is idle. Without
 * PIPELINING, one command at a time.
 */
static int
pipeline(struct source *src, const struct pipe *pp)
{
	struct pop3 *p = src->priv;
	char buf[8192];
	size_t per, ncmds, sent = 0, got, len, maxcmds;
	uint64_t out = 0, sz; /* announced bytes outstanding */
	int k;

	for (per = 0; pp->verbs[per] != NULL; per++)
		;
	ncmds = pp->n * per;
	maxcmds = (p->caps & CAP_PIPELINING) ? POP3_WINCMDS : 1;
	for (got = 0; got < ncmds; got++) {
		len = 0;
		while (sent < ncmds && sent - got < maxcmds
		    && (sent == got || out < POP3_WINBYTES)
		    && len + 32 < sizeof(buf)) {
			k = snprintf(buf + len, sizeof(buf) - len, "%s %u\r\n",
			    pp->verbs[sent % per],
			    pp->num(pp->arg, sent / per));
			line_trace(src, SRC_TRACE_OUT, buf + len, k - 2);
			len += k;
			if (pp->size != NULL && sent % per == 0)
				out += pp->size(pp->arg, sent / per);
			sent++;
		}
		if (len > 0 && conn_write(src->conn, buf, len) == -1)
			return src_connfail(src, "sending a command");
		if (pp->handle(src, got, pp->arg) == -1)
			return -1;
		if (pp->size != NULL && got % per == per - 1) {
			sz = pp->size(pp->arg, got / per);
			out -= out < sz ? out : sz;
		}
	}
	return 0;
}

/* The messages of a RETR or DELE pipeline (sink NULL for DELE). */
struct fetch {
	struct msginfo *const *msgs;
	const struct sink *sink;
};

static uint32_t
fetch_num(void *arg, size_t i)
{
	return ((struct fetch *)arg)->msgs[i]->num;
}

static uint64_t
fetch_size(void *arg, size_t i)
{
	return ((struct fetch *)arg)->msgs[i]->size;
}

/* The bytes buf[0..len-1] stand for on the server: each LF was a CRLF
 * there. */
static uint64_t
crlf_bytes(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	uint64_t n = len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* One RETR reply into the sink. */
static int
retr_one(struct source *src, size_t i, void *arg)
{
	const struct fetch *f = arg;
	const struct sink *sink = f->sink;
	struct pop3 *p = src->priv;
	struct pop3_dec d;
	const char *text, *buf;
	char q[POP3_QUOTE + 1];
	size_t tl, len, used, olen;
	uint64_t total = 0;
	int ok, fin;

	if (reply(src, "RETR", &ok, &text, &tl) == -1)
		return -1;
	if (!ok) {
		src_quote(q, sizeof(q), text, tl);
		return src_fail(src, SRC_FPROTO, "RETR %u failed: \"%s\"",
		    f->msgs[i]->num, q);
	}
	src->received = 0;
	if (sink->begin(sink->arg, i) == -1)
		return src_fail(src, SRC_FLOCAL, "storing a message failed");
	/* The body: only the inactivity timeout holds. */
	conn_reply_end(src->conn);
	pop3_dec_init(&d);
	do {
		if (conn_peek(src->conn, &buf, &len) == -1)
			return src_connfail(src, "reading a message");
		if (len > POP3_BODYBUF)
			len = POP3_BODYBUF;
		used = pop3_dec_feed(&d, buf, len, p->body, &olen, &fin);
		conn_consume(src->conn, used);
		src->received += crlf_bytes(p->body, olen);
		if (olen > 0 && sink->write(sink->arg, p->body, olen) == -1)
			return src_fail(
			    src, SRC_FLOCAL, "storing a message failed");
		total += olen;
	} while (!fin);
	if (sink->end(sink->arg, i) == -1)
		return src_fail(src, SRC_FLOCAL, "storing a message failed");
	line_tracef(src, SRC_TRACE_IN, "[message body, %llu bytes]",
	    (unsigned long long)total);
	return 0;
}

static int
pop3_fetch(struct source *src, struct msginfo *const *msgs, size_t n,
    const struct sink *sink)
{
	static const char *const retr[] = { "RETR", NULL };
	struct pop3 *p = src->priv;
	struct fetch f = { msgs, sink };
	struct pipe pp = { retr, n, fetch_num, fetch_size, retr_one, &f };

	if (usable(src) == -1)
		return -1;
	if (p->body == NULL)
		p->body = xmalloc(POP3_BODYBUF);
	return settle(src, pipeline(src, &pp));
}

static int
dele_one(struct source *src, size_t i, void *arg)
{
	struct msginfo *const *msgs = ((struct fetch *)arg)->msgs;
	const char *text;
	char q[POP3_QUOTE + 1];
	size_t tl;
	int ok;

	if (reply(src, "DELE", &ok, &text, &tl) == -1)
		return -1;
	if (!ok) {
		src_quote(q, sizeof(q), text, tl);
		return src_fail(
		    src, SRC_FPROTO, "DELE %u failed: \"%s\"", msgs[i]->num, q);
	}
	return 0;
}

static int
pop3_mark(struct source *src, struct msginfo *const *msgs, size_t n)
{
	static const char *const dele[] = { "DELE", NULL };
	struct fetch f = { msgs, NULL };
	struct pipe pp = { dele, n, fetch_num, NULL, dele_one, &f };

	if (usable(src) == -1)
		return -1;
	if (n > 0)
		((struct pop3 *)src->priv)->marked = 1;
	return settle(src, pipeline(src, &pp));
}

/* A relist in progress: the messages asked for, and where they go. */
struct relist {
	const uint32_t *nums;
	struct msglist *out;
	int uidl; /* "UIDL n" goes before each "LIST n" */
	int have_uid; /* the last UIDL n was answered: uid holds it */
	char uid[71]; /* RFC 1939 section 7: 1 to 70 characters */
	size_t bytes; /* of the uids so far */
};

static uint32_t
relist_num(void *arg, size_t i)
{
	return ((struct relist *)arg)->nums[i];
}

/* The reply to "verb num" (sent already): 1 for +OK with the text
 * after it ("num ..."), 0 for -ERR, -1. A reply about another message
 * breaks the grammar (RFC 1939 section 5 and 7: "+OK n ..."). */
static int
relist_reply(struct source *src, const char *verb, uint32_t num,
    int (*parse)(const char *, size_t, uint32_t *, void *), void *val)
{
	const char *text;
	char what[32], q[POP3_QUOTE + 1];
	uint32_t got;
	size_t tl;
	int ok;

	snprintf(what, sizeof(what), "%s %u", verb, num);
	if (reply(src, what, &ok, &text, &tl) == -1)
		return -1;
	if (!ok)
		return 0;
	if (parse(text, tl, &got, val) == -1) {
		src_quote(q, sizeof(q), text, tl);
		return src_fail(
		    src, SRC_FDATA, "bad reply to %s: \"%s\"", what, q);
	}
	if (got != num)
		return src_fail(src, SRC_FDATA,
		    "the server answered %s about message %u", what, got);
	return 1;
}

/* "n uid" into *num and the relist's uid; -1 when it is not one. */
static int
parse_uid(const char *text, size_t len, uint32_t *num, void *arg)
{
	struct relist *r = arg;
	const char *uid;
	size_t uidlen;

	if (pop3_parse_uidl(text, len, num, &uid, &uidlen) == -1)
		return -1;
	memcpy(r->uid, uid, uidlen);
	r->uid[uidlen] = '\0';
	r->bytes += uidlen;
	return 0;
}

/* "n size" into *num and the uint64_t at arg. */
static int
parse_size(const char *text, size_t len, uint32_t *num, void *arg)
{
	return pop3_parse_pair(text, len, num, arg);
}

/* The reply to command c of a relist: UIDL n (its uid kept for the
 * LIST that follows), or LIST n (the message added when both were
 * answered +OK; a -ERR leaves it out). */
static int
relist_one(struct source *src, size_t c, void *arg)
{
	struct relist *r = arg;
	struct msginfo m;
	int rv;

	memset(&m, 0, sizeof(m));
	m.num = r->nums[r->uidl ? c / 2 : c];
	if (r->uidl && c % 2 == 0) {
		rv = relist_reply(src, "UIDL", m.num, parse_uid, r);
		r->have_uid = rv == 1;
		if (rv == 1 && r->bytes > POP3_MAXUIDBYTES)
			return src_fail(
			    src, SRC_FPROTO, "UIDL listing too long");
		return rv == -1 ? -1 : 0;
	}
	if ((rv = relist_reply(src, "LIST", m.num, parse_size, &m.size)) != 1)
		return rv;
	if (r->uidl && !r->have_uid)
		return 0;
	m.uid = r->uidl ? r->uid : NULL;
	msglist_add(r->out, &m);
	return 0;
}

/*
 * "UIDL n" and "LIST n" for each message (RFC 1939 section 5 and 7),
 * pipelined as RETR is; "LIST n" alone when the server has no UIDL.
 * A message refused (-ERR) is left out.
 */
static int
pop3_relist(
    struct source *src, const uint32_t *nums, size_t n, struct msglist *out)
{
	static const char *const both[] = { "UIDL", "LIST", NULL };
	static const char *const list[] = { "LIST", NULL };
	struct pop3 *p = src->priv;
	struct relist r;
	struct pipe pp;

	msglist_free(out);
	if (usable(src) == -1)
		return -1;
	memset(&r, 0, sizeof(r));
	r.nums = nums;
	r.out = out;
	r.uidl = !p->nouidl;
	pp = (struct pipe) { r.uidl ? both : list, n, relist_num, NULL,
		relist_one, &r };
	/* Each reply names the number asked (nums ascending, distinct):
	 * what check_uidl can still find is a uid twice. */
	if (pipeline(src, &pp) == -1
	    || (r.uidl && check_uidl(src, out) == -1)) {
		msglist_free(out);
		return settle(src, -1);
	}
	return 0;
}

static int
pop3_expunge(
    struct source *src, struct msginfo *const *msgs, size_t n, size_t *gone)
{
	(void)src;
	(void)msgs;
	(void)n;
	/* RFC 1939 section 6: DELE takes effect at QUIT. */
	*gone = 0;
	return 0;
}

static int
pop3_quit(struct source *src)
{
	const char *text;
	char q[POP3_QUOTE + 1];
	size_t tl;
	int ok;

	/* Every operation reads all its replies before it returns, so
	 * QUIT never follows an unread response; after a failure it is
	 * not sent at all, and nothing is committed. */
	if (usable(src) == -1)
		return -1;
	/* Nothing marked: QUIT's answer decides nothing; a round trip
	 * saved. */
	if (!((struct pop3 *)src->priv)->marked) {
		if (line_cmd(src, &pop3_line, "QUIT") == -1)
			return settle(src, -1);
		((struct pop3 *)src->priv)->ended = 1;
		return 0;
	}
	if (line_cmd(src, &pop3_line, "QUIT") == -1
	    || reply(src, "QUIT", &ok, &text, &tl) == -1)
		return settle(src, -1);
	if (!ok) {
		/* RFC 1939 section 6: "-ERR some deleted messages not
		 * removed". */
		src_quote(q, sizeof(q), text, tl);
		return settle(
		    src, src_fail(src, SRC_FPROTO, "QUIT failed: \"%s\"", q));
	}
	((struct pop3 *)src->priv)->ended = 1;
	return 0;
}

static void
pop3_free(struct source *src)
{
	struct pop3 *p;

	if (src == NULL)
		return;
	p = src->priv;
	if (p != NULL) {
		free(p->body);
		sasl_free(p->early.sasl);
	}
	src_free(src, sizeof(*p));
}

const struct source_ops pop3_ops = {
	.caps = SRC_CAP_DELETE_AT_QUIT | SRC_CAP_ADDS_EOL,
	.open = pop3_open,
	.select = pop3_select,
	.list = pop3_list,
	.relist = pop3_relist,
	.sizes = pop3_sizes,
	.fetch = pop3_fetch,
	.mark = pop3_mark,
	.expunge = pop3_expunge,
	.quit = pop3_quit,
	.free = pop3_free,
};

struct source *
pop3_new(const struct source_cfg *cfg)
{
	return src_new(&pop3_ops, cfg, sizeof(struct pop3));
}
