/*
 * Tests of the POP3 client: the pure parsers (tables of named cases),
 * the body decoder at every split of its input, and the whole client
 * against a scripted fake server on 127.0.0.1 (a forked child that reads
 * the client's commands, checks each against its script and sends the
 * canned reply; plain TCP, or TLS through libtls with a throwaway
 * self-signed certificate).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "../../proto/pop3.h"
#include "../../proto/sasl.h"
#include "../../tls/util.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A growing byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 256;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Does hay (hlen bytes) contain the string needle? */
static int
contains(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle), i;

	if (hay == NULL)
		return 0;
	for (i = 0; i + n <= hlen; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * pop3_status
 */

struct status_case {
	const char *name;
	const char *line;
	int want;
	const char *text;
};

static const struct status_case status_cases[] = {
	{ "status ok alone", "+OK", 1, "" },
	{ "status ok text", "+OK 2 messages", 1, "2 messages" },
	{ "status ok space only", "+OK ", 1, "" },
	{ "status ok two spaces", "+OK  x", 1, " x" },
	{ "status err alone", "-ERR", 0, "" },
	{ "status err text", "-ERR no such message", 0, "no such message" },
	{ "status err code", "-ERR [IN-USE] locked", 0, "[IN-USE] locked" },
	{ "status okx invalid", "+OKX", -1, NULL },
	{ "status okay invalid", "+OKAY done", -1, NULL },
	{ "status errx invalid", "-ERRX", -1, NULL },
	{ "status lowercase ok invalid", "+ok", -1, NULL },
	{ "status lowercase err invalid", "-err no", -1, NULL },
	{ "status tab invalid", "+OK\tx", -1, NULL },
	{ "status empty invalid", "", -1, NULL },
	{ "status plus alone invalid", "+", -1, NULL },
	{ "status continuation invalid", "+ abc", -1, NULL },
	{ "status ok without plus", "OK", -1, NULL },
	{ "status leading space", " +OK", -1, NULL },
	{ "status truncated err", "-ER", -1, NULL },
};

static void
t_status(const void *arg)
{
	const struct status_case *c = arg;
	const char *text = NULL;
	size_t len = strlen(c->line);
	int r;

	r = pop3_status(c->line, len, &text);
	CHECK(r == c->want);
	if (c->text != NULL) {
		CHECK(text != NULL);
		if (text != NULL) {
			CHECK(text >= c->line && text <= c->line + len);
			CHECK_STR(text, c->text);
		}
	}
}

/*
 * pop3_parse_uidl
 */

struct uidl_case {
	const char *name;
	const char *line;
	int want;
	uint32_t num;
	const char *uid;
};

static const char uid70[] = "0123456789012345678901234567890123456789"
			    "012345678901234567890123456789";
static const char line70[] = "7 0123456789012345678901234567890123456789"
			     "012345678901234567890123456789";
static const char line71[] = "7 0123456789012345678901234567890123456789"
			     "0123456789012345678901234567890";

static const struct uidl_case uidl_cases[] = {
	{ "uidl simple", "1 abc", 0, 1, "abc" },
	{ "uidl dovecot form", "12 000000015a2b3c4d", 0, 12,
	    "000000015a2b3c4d" },
	{ "uidl printable range ends", "3 !~", 0, 3, "!~" },
	{ "uidl max num", "4294967295 x", 0, 4294967295u, "x" },
	{ "uidl leading zeros accepted", "007 x", 0, 7, "x" },
	{ "uidl uid 70 chars", line70, 0, 7, uid70 },
	{ "uidl uid 71 chars bad", line71, -1, 0, NULL },
	{ "uidl num overflow bad", "4294967296 x", -1, 0, NULL },
	{ "uidl huge num bad", "99999999999999999999999 x", -1, 0, NULL },
	{ "uidl num zero bad", "0 x", -1, 0, NULL },
	{ "uidl zeros only bad", "000 x", -1, 0, NULL },
	{ "uidl negative bad", "-1 x", -1, 0, NULL },
	{ "uidl plus sign bad", "+1 x", -1, 0, NULL },
	{ "uidl leading space bad", " 1 x", -1, 0, NULL },
	{ "uidl missing uid bad", "1 ", -1, 0, NULL },
	{ "uidl no separator bad", "1", -1, 0, NULL },
	{ "uidl empty bad", "", -1, 0, NULL },
	{ "uidl two spaces bad", "1  x", -1, 0, NULL },
	{ "uidl tab separator bad", "1\tx", -1, 0, NULL },
	{ "uidl space in uid bad", "1 a b", -1, 0, NULL },
	{ "uidl trailing space bad", "1 ab ", -1, 0, NULL },
	{ "uidl control char bad", "1 a\001b", -1, 0, NULL },
	{ "uidl del char bad", "1 a\177", -1, 0, NULL },
	{ "uidl 8-bit bad", "1 a\200", -1, 0, NULL },
	{ "uidl letters for num bad", "abc def", -1, 0, NULL },
	{ "uidl num with junk bad", "1x y", -1, 0, NULL },
};

static void
t_uidl(const void *arg)
{
	const struct uidl_case *c = arg;
	const char *uid = NULL;
	size_t uidlen = 0;
	uint32_t num = 0;
	int r;

	r = pop3_parse_uidl(c->line, strlen(c->line), &num, &uid, &uidlen);
	CHECK(r == c->want);
	if (r == 0 && c->want == 0) {
		CHECK(num == c->num);
		CHECK(uidlen == strlen(c->uid));
		CHECK(uid != NULL && memcmp(uid, c->uid, uidlen) == 0);
	}
}

/* A NUL in the middle of a line is a control character too. */
static void
t_uidl_nul(const void *arg)
{
	const char line[] = "1 ab\0cd";
	const char *uid;
	size_t uidlen;
	uint32_t num;

	(void)arg;
	CHECK(
	    pop3_parse_uidl(line, sizeof(line) - 1, &num, &uid, &uidlen) == -1);
}

/*
 * pop3_parse_pair
 */

struct pair_case {
	const char *name;
	const char *line;
	int want;
	uint32_t a;
	uint64_t b;
};

static const struct pair_case pair_cases[] = {
	{ "pair simple", "1 2", 0, 1, 2 },
	{ "pair zeros", "0 0", 0, 0, 0 },
	{ "pair max", "4294967295 18446744073709551615", 0, 4294967295u,
	    UINT64_MAX },
	{ "pair trailing text allowed", "2 320 octets", 0, 2, 320 },
	{ "pair trailing space allowed", "2 320 ", 0, 2, 320 },
	{ "pair first overflow bad", "4294967296 1", -1, 0, 0 },
	{ "pair second overflow bad", "1 18446744073709551616", -1, 0, 0 },
	{ "pair second huge bad", "1 999999999999999999999", -1, 0, 0 },
	{ "pair negative first bad", "-1 2", -1, 0, 0 },
	{ "pair negative second bad", "1 -2", -1, 0, 0 },
	{ "pair plus sign bad", "1 +2", -1, 0, 0 },
	{ "pair junk after number bad", "1 2x", -1, 0, 0 },
	{ "pair junk in first bad", "1a 2", -1, 0, 0 },
	{ "pair two spaces bad", "1  2", -1, 0, 0 },
	{ "pair tab bad", "1\t2", -1, 0, 0 },
	{ "pair one number bad", "1", -1, 0, 0 },
	{ "pair missing second bad", "1 ", -1, 0, 0 },
	{ "pair empty bad", "", -1, 0, 0 },
	{ "pair leading space bad", " 1 2", -1, 0, 0 },
	{ "pair letters bad", "a b", -1, 0, 0 },
};

static void
t_pair(const void *arg)
{
	const struct pair_case *c = arg;
	uint32_t a = 99;
	uint64_t b = 99;
	int r;

	r = pop3_parse_pair(c->line, strlen(c->line), &a, &b);
	CHECK(r == c->want);
	if (r == 0 && c->want == 0) {
		CHECK(a == c->a);
		CHECK(b == c->b);
	}
}

/*
 * pop3_apop_stamp
 */

struct stamp_case {
	const char *name;
	const char *greeting;
	const char *stamp; /* NULL: none */
};

static const struct stamp_case stamp_cases[] = {
	{ "stamp rfc1939 example",
	    "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
	    "<1896.697170952@dbc.mtview.ca.us>" },
	{ "stamp in the middle", "+OK <1.2@host> ready", "<1.2@host>" },
	{ "stamp none", "+OK POP3 ready", NULL },
	{ "stamp empty brackets", "+OK <>", NULL },
	{ "stamp without at", "+OK <ready>", NULL },
	{ "stamp with space skipped", "+OK <a b@c>", NULL },
	{ "stamp unterminated", "+OK <1.2@host", NULL },
	{ "stamp after a bad one", "+OK <hello <1.2@h>", "<1.2@h>" },
	{ "stamp after text in brackets", "+OK <Dovecot> <9.8@x.y>",
	    "<9.8@x.y>" },
	{ "stamp control char", "+OK <1\001@h>", NULL },
};

static void
t_stamp(const void *arg)
{
	const struct stamp_case *c = arg;
	const char *ts = NULL;
	size_t tslen = 0;
	int r;

	r = pop3_apop_stamp(c->greeting, strlen(c->greeting), &ts, &tslen);
	if (c->stamp == NULL)
		CHECK(r == -1);
	else {
		CHECK(r == 0);
		CHECK(r == 0 && tslen == strlen(c->stamp)
		    && memcmp(ts, c->stamp, tslen) == 0);
	}
}

/*
 * pop3_dec_feed
 */

struct dec_case {
	const char *name;
	const char *in;
	size_t inlen; /* 0: strlen(in) */
	const char *out;
	size_t outlen; /* 0 with out "": empty; else strlen when 0 */
	size_t used; /* input consumed; 0: all */
	int done;
};

#define LONGLINE 5000

static const struct dec_case dec_cases[] = {
	{ "dec empty message", ".\r\n", 0, "", 0, 3, 1 },
	{ "dec two lines", "a\r\nb\r\n.\r\n", 0, "a\nb\n", 0, 0, 1 },
	{ "dec stuffed dot line", "..\r\n.\r\n", 0, ".\n", 0, 0, 1 },
	{ "dec three dots", "...\r\n.\r\n", 0, "..\n", 0, 0, 1 },
	{ "dec stuffed text", "..x\r\n.\r\n", 0, ".x\n", 0, 0, 1 },
	{ "dec unstuffed dot kept", ".x\r\n.\r\n", 0, ".x\n", 0, 0, 1 },
	{ "dec dot space", ". \r\n.\r\n", 0, ". \n", 0, 0, 1 },
	{ "dec two stuffed lines", "..\r\n..\r\n.\r\n", 0, ".\n.\n", 0, 0, 1 },
	{ "dec dot inside line", "a.\r\n.\r\n", 0, "a.\n", 0, 0, 1 },
	{ "dec dot dot inside line", "a..b\r\n.\r\n", 0, "a..b\n", 0, 0, 1 },
	{ "dec empty lines", "\r\n\r\n.\r\n", 0, "\n\n", 0, 0, 1 },
	{ "dec bare cr", "a\rb\r\n.\r\n", 0, "a\rb\n", 0, 0, 1 },
	{ "dec cr cr lf", "a\r\r\n.\r\n", 0, "a\r\n", 0, 0, 1 },
	{ "dec many cr", "\r\r\r\n.\r\n", 0, "\r\r\n", 0, 0, 1 },
	{ "dec cr at line start", "\rx\r\n.\r\n", 0, "\rx\n", 0, 0, 1 },
	{ "dec bare lf", "a\nb\r\n.\r\n", 0, "a\nb\n", 0, 0, 1 },
	{ "dec bare lf then dot is data", "a\n.\r\n.\r\n", 0, "a\n.\n", 0, 0,
	    1 },
	{ "dec bare lf then two dots kept", "a\n..b\r\n.\r\n", 0, "a\n..b\n", 0,
	    0, 1 },
	{ "dec lf at line start", "\nx\r\n.\r\n", 0, "\nx\n", 0, 0, 1 },
	{ "dec dot lf", ".\n.\r\n.\r\n", 0, ".\n.\n", 0, 0, 1 },
	{ "dec dot cr x", ".\rx\r\n.\r\n", 0, ".\rx\n", 0, 0, 1 },
	{ "dec dot cr cr lf", ".\r\r\n.\r\n", 0, ".\r\n", 0, 0, 1 },
	{ "dec dot cr dot", ".\r.\r\n.\r\n", 0, ".\r.\n", 0, 0, 1 },
	{ "dec eight bit and nul", "\377\376\200\r\n\000z\r\n.\r\n", 12,
	    "\377\376\200\n\000z\n", 7, 0, 1 },
	{ "dec data after terminator", ".\r\n+OK next", 0, "", 0, 3, 1 },
	{ "dec next reply after message", "a\r\n.\r\n+OK 5\r\n", 0, "a\n", 0, 6,
	    1 },
	{ "dec terminator then dots", "x\r\n.\r\n..\r\n", 0, "x\n", 0, 6, 1 },
	{ "dec no final newline header", "Subject: x\r\n\r\nbody\r\n.\r\n", 0,
	    "Subject: x\n\nbody\n", 0, 0, 1 },
	{ "dec unterminated text", "abc", 0, "abc", 0, 0, 0 },
	{ "dec unterminated cr held", "abc\r", 0, "abc", 0, 0, 0 },
	{ "dec unterminated dot held", "a\r\n.", 0, "a\n", 0, 0, 0 },
	{ "dec unterminated dot cr held", "a\r\n.\r", 0, "a\n", 0, 0, 0 },
	{ "dec unterminated stuffed", "a\r\n..", 0, "a\n.", 0, 0, 0 },
	{ "dec nothing", "", 0, "", 0, 0, 0 },
};

/* Feed in to a fresh decoder in chunks ending at cuts[] (ascending),
 * each chunk copied into its own buffer of exactly its size and each
 * call given an output buffer of exactly the size the header promises,
 * so that ASan sees any byte read or written past them. */
static size_t
dec_run(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    struct buf *out, int *done, int *stuck)
{
	struct pop3_dec d;
	size_t pos = 0, end, k = 0, n, olen, calls = 0;
	char *ib, *ob;

	pop3_dec_init(&d);
	*done = 0;
	*stuck = 0;
	while (!*done && pos < len) {
		end = k < ncuts ? cuts[k] : len;
		if (end <= pos) {
			k++;
			continue;
		}
		ib = xmalloc(end - pos);
		memcpy(ib, in + pos, end - pos);
		ob = xmalloc(end - pos);
		n = pop3_dec_feed(&d, ib, end - pos, ob, &olen, done);
		if (olen > end - pos || n > end - pos)
			*stuck = 1;
		else
			buf_add(out, ob, olen);
		free(ib);
		free(ob);
		if ((n == 0 && olen == 0) || ++calls > 4 * len + 8) {
			*stuck = 1;
			break;
		}
		pos += n;
		if (pos == end)
			k++;
	}
	return pos;
}

static void
dec_check(const struct dec_case *c, const char *in, size_t inlen,
    const char *want, size_t wantlen, size_t used, const size_t *cuts,
    size_t ncuts)
{
	struct buf out = { 0 };
	size_t got;
	int done, stuck;

	/* Report only the first failure of a case. */
	if (t_case_failed)
		return;
	got = dec_run(in, inlen, cuts, ncuts, &out, &done, &stuck);
	if (stuck || got != used || done != c->done || out.len != wantlen
	    || (wantlen > 0 && memcmp(out.p, want, wantlen) != 0)) {
		fprintf(stderr, "%s: cuts", c->name);
		for (size_t i = 0; i < ncuts; i++)
			fprintf(stderr, " %zu", cuts[i]);
		fprintf(stderr, ": used %zu/%zu done %d stuck %d out %zu/%zu\n",
		    got, used, done, stuck, out.len, wantlen);
		t_case_failed = 1;
	}
	buf_free(&out);
}

static void
t_dec(const void *arg)
{
	const struct dec_case *c = arg;
	size_t inlen = c->inlen ? c->inlen : strlen(c->in);
	size_t outlen = c->outlen ? c->outlen : strlen(c->out);
	size_t used = c->used ? c->used : inlen;
	size_t i, j, cuts[2], *ones;

	/* Whole. */
	dec_check(c, c->in, inlen, c->out, outlen, used, NULL, 0);
	/* Split once at every position. */
	for (i = 1; i < inlen; i++) {
		cuts[0] = i;
		dec_check(c, c->in, inlen, c->out, outlen, used, cuts, 1);
	}
	/* Split twice at every pair of positions. */
	for (i = 1; i < inlen; i++)
		for (j = i + 1; j < inlen; j++) {
			cuts[0] = i;
			cuts[1] = j;
			dec_check(
			    c, c->in, inlen, c->out, outlen, used, cuts, 2);
		}
	/* One byte at a time. */
	if (inlen > 0) {
		ones = xreallocarray(NULL, inlen, sizeof(*ones));
		for (i = 0; i < inlen; i++)
			ones[i] = i + 1;
		dec_check(c, c->in, inlen, c->out, outlen, used, ones, inlen);
		free(ones);
	}
}

/* A long line, and a long stuffed line, at every split. */
static void
t_dec_long(const void *arg)
{
	struct dec_case c = { "dec long lines", NULL, 0, NULL, 0, 0, 1 };
	struct buf in = { 0 }, want = { 0 };
	size_t i, cut, inlen, *ones;
	char line[LONGLINE];

	(void)arg;
	memset(line, 'x', sizeof(line));
	buf_add(&in, line, sizeof(line));
	buf_adds(&in, "\r\n..");
	buf_add(&in, line, sizeof(line));
	buf_adds(&in, "\r\n.\r\nQUIT");
	buf_add(&want, line, sizeof(line));
	buf_adds(&want, "\n.");
	buf_add(&want, line, sizeof(line));
	buf_adds(&want, "\n");
	inlen = in.len - 4;
	for (cut = 1; cut < in.len; cut += 7) {
		dec_check(&c, in.p, in.len, want.p, want.len, inlen, &cut, 1);
		if (t_case_failed)
			break;
	}
	ones = xreallocarray(NULL, in.len, sizeof(*ones));
	for (i = 0; i < in.len; i++)
		ones[i] = i + 1;
	dec_check(&c, in.p, in.len, want.p, want.len, inlen, ones, in.len);
	free(ones);
	buf_free(&in);
	buf_free(&want);
}

/* Random bodies: stuff and encode them as a server would, decode at
 * random splits, compare with the original. */
static void
t_dec_random(const void *arg)
{
	struct dec_case c = { "dec random", NULL, 0, NULL, 0, 0, 1 };
	static const char alpha[] = { '.', '.', '\r', '\n', 'a', '\377', ' ' };
	struct buf body = { 0 }, wire = { 0 };
	size_t round, i, ncuts, cuts[8], bol;
	unsigned seed = 12345;
	char ch;

	(void)arg;
	for (round = 0; round < 3000 && !t_case_failed; round++) {
		body.len = wire.len = 0;
		/* A body of tricky bytes ending with LF, as a Maildir file
		 * holds it. */
		for (i = 0; i < (size_t)(rand_r(&seed) % 40); i++) {
			ch = alpha[rand_r(&seed) % sizeof(alpha)];
			buf_add(&body, &ch, 1);
		}
		if (body.len == 0 || body.p[body.len - 1] != '\n')
			buf_adds(&body, "\n");
		/* Encode it as a server does: every LF becomes CRLF (so a
		 * CR before it stays: "\r\r\n"), and a line that starts
		 * with "." gets one more. */
		bol = 1;
		for (i = 0; i < body.len; i++) {
			ch = body.p[i];
			if (bol && ch == '.')
				buf_adds(&wire, ".");
			if (ch == '\n') {
				buf_adds(&wire, "\r\n");
				bol = 1;
				continue;
			}
			buf_add(&wire, &ch, 1);
			bol = 0;
		}
		buf_adds(&wire, ".\r\n+OK");
		ncuts = rand_r(&seed) % NELEM(cuts);
		for (i = 0; i < ncuts; i++)
			cuts[i] = 1 + rand_r(&seed) % (wire.len - 1);
		/* Sort the cuts. */
		for (i = 1; i < ncuts; i++)
			for (size_t j = i; j > 0 && cuts[j] < cuts[j - 1];
			     j--) {
				size_t t = cuts[j];

				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		dec_check(&c, wire.p, wire.len, body.p, body.len, wire.len - 3,
		    cuts, ncuts);
	}
	buf_free(&body);
	buf_free(&wire);
}

/*
 * The fake server.
 */

#define F_CLOSE 0x01 /* close the connection after the reply */
#define F_ALONE 0x02 /* nothing may be buffered before or after it */
#define F_STLS 0x04 /* start TLS after the reply */
#define F_COUNT 0x08 /* wait for quiet, then count buffered commands */

struct step {
	const char *expect; /* a command line; "X*": starts with X; NULL:
			     * none (greeting) */
	const char *reply; /* NULL: none */
	size_t replylen; /* 0: strlen(reply) */
	int flags;
	int count; /* with F_COUNT */
	char *(*gen)(const char *line, void *arg); /* makes the reply */
	void *genarg;
};

struct fake {
	pid_t pid;
	char port[16];
	int logfd;
	int strict; /* every command must come alone */
	int implicit; /* TLS from the start */
	struct buf log;
	int status; /* the child's exit status */
};

struct srv {
	int fd;
	struct tls *ctx, *cctx;
	struct tls_config *cfg;
	char buf[1 << 16];
	size_t len;
	int logfd;
};

static const char test_key[]
    = "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfx3WPq8D3vamVl3V\n"
      "WRbXeK7KJ+eTaXSSIW9+P1rYX8OhRANCAAQ0NkE2UpeGmyL22qA7x+6JkaBiKtwr\n"
      "byg7KrZ+pbWLj5RNWX/UuOoxzptdk+KDmnEPOljcR22jlxKYbEYwB5oX\n"
      "-----END PRIVATE KEY-----\n";

static const char test_cert[]
    = "-----BEGIN CERTIFICATE-----\n"
      "MIIBmjCCAUGgAwIBAgIUJATPG9hGxIXLWmXeO1qWfj/pDh8wCgYIKoZIzj0EAwIw\n"
      "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjA1MjYwMVoYDzIxMjYxMDI5\n"
      "MDUyNjAxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
      "PQMBBwNCAAQ0NkE2UpeGmyL22qA7x+6JkaBiKtwrbyg7KrZ+pbWLj5RNWX/UuOox\n"
      "zptdk+KDmnEPOljcR22jlxKYbEYwB5oXo28wbTAdBgNVHQ4EFgQUOQ7ufsPhMEIv\n"
      "u/5giWGxUTz6snEwHwYDVR0jBBgwFoAUOQ7ufsPhMEIvu/5giWGxUTz6snEwDwYD\n"
      "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI\n"
      "zj0EAwIDRwAwRAIgBmT8v+GfCvqlHh4R6AslQWnS9j14AzLrnh+kOXp7EdUCIDYH\n"
      "7fI8xHrZZEIuUq+cOpl9OC92xh3QxyB4TZ6ftSjO\n"
      "-----END CERTIFICATE-----\n";

static void __attribute__((noreturn, format(printf, 1, 2)))
srv_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fake server: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	_exit(2);
}

/* Read more into the buffer; 0 at EOF. */
static ssize_t
srv_read(struct srv *s)
{
	ssize_t n;

	if (s->len == sizeof(s->buf))
		srv_die("buffer full");
	for (;;) {
		if (s->cctx != NULL) {
			n = tls_read(
			    s->cctx, s->buf + s->len, sizeof(s->buf) - s->len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				continue;
		} else
			n = read(
			    s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
		if (n == -1 && s->cctx == NULL && errno == EINTR)
			continue;
		break;
	}
	if (n > 0) {
		if (write(s->logfd, s->buf + s->len, n) != n)
			srv_die("log write");
		s->len += n;
	}
	return n;
}

static void
srv_write(struct srv *s, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (s->cctx != NULL) {
			n = tls_write(s->cctx, p, len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				continue;
		} else
			n = write(s->fd, p, len);
		if (n <= 0)
			_exit(3); /* the client went away */
		p += n;
		len -= n;
	}
}

/* The next CRLF-terminated line into line (NUL-terminated, without
 * CRLF); -1 at EOF. */
static int
srv_line(struct srv *s, char *line, size_t max)
{
	char *e;
	size_t n;

	while ((e = memchr(s->buf, '\n', s->len)) == NULL)
		if (srv_read(s) <= 0)
			return -1;
	n = e - s->buf + 1;
	if (n < 2 || e[-1] != '\r')
		srv_die("line without CRLF");
	if (n - 2 >= max)
		srv_die("line too long");
	memcpy(line, s->buf, n - 2);
	line[n - 2] = '\0';
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	return 0;
}

static void
srv_tls(struct srv *s)
{
	int r;

	if (s->len != 0)
		srv_die("client sent data before the TLS handshake");
	if ((s->cfg = tls_config_new()) == NULL
	    || tls_config_set_keypair_mem(s->cfg, (const uint8_t *)test_cert,
		   sizeof(test_cert) - 1, (const uint8_t *)test_key,
		   sizeof(test_key) - 1)
		== -1
	    || (s->ctx = tls_server()) == NULL
	    || tls_configure(s->ctx, s->cfg) == -1
	    || tls_accept_socket(s->ctx, &s->cctx, s->fd) == -1)
		srv_die("TLS setup failed");
	do
		r = tls_handshake(s->cctx);
	while (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT);
	if (r == -1)
		srv_die("TLS handshake: %s", tls_error(s->cctx));
}

/* Count the complete lines buffered once the client has been quiet for
 * a while. */
static int
srv_quiet_count(struct srv *s)
{
	struct pollfd pfd;
	int n = 0;
	size_t i;

	/* The first command, however long the client takes. */
	while (memchr(s->buf, '\n', s->len) == NULL)
		if (srv_read(s) <= 0)
			srv_die("EOF waiting for commands");
	pfd.fd = s->fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 150) == 1)
		if (srv_read(s) <= 0)
			break;
	for (i = 0; i < s->len; i++)
		if (s->buf[i] == '\n')
			n++;
	return n;
}

static int
srv_match(const char *expect, const char *line)
{
	size_t n = strlen(expect);

	if (n > 0 && expect[n - 1] == '*')
		return strncmp(expect, line, n - 1) == 0;
	return strcmp(expect, line) == 0;
}

static void __attribute__((noreturn))
srv_run(struct fake *f, int lfd, const struct step *st, size_t n)
{
	struct srv s;
	char line[16384];
	const char *reply;
	char *made;
	size_t i, len;
	int alone, k;

	memset(&s, 0, sizeof(s));
	s.logfd = f->logfd;
	alarm(10);
	if ((s.fd = accept(lfd, NULL, NULL)) == -1)
		srv_die("accept");
	close(lfd);
	if (f->implicit)
		srv_tls(&s);
	line[0] = '\0';
	for (i = 0; i < n; i++) {
		if (st[i].expect != NULL) {
			if (st[i].flags & F_COUNT
			    && (k = srv_quiet_count(&s)) != st[i].count)
				srv_die("%d commands buffered at %s, not %d", k,
				    st[i].expect, st[i].count);
			alone = f->strict || (st[i].flags & F_ALONE)
			    || strcmp(st[i].expect, "QUIT") == 0;
			if (alone && s.len > 0)
				srv_die("a command came before the reply "
					"to the previous one was read (%s)",
				    st[i].expect);
			if (srv_line(&s, line, sizeof(line)) == -1)
				srv_die("EOF waiting for %s", st[i].expect);
			if (alone && s.len > 0)
				srv_die(
				    "a command was pipelined after %s", line);
			if (!srv_match(st[i].expect, line))
				srv_die("expected \"%s\", got \"%s\"",
				    st[i].expect, line);
		}
		made = NULL;
		reply = st[i].reply;
		if (st[i].gen != NULL)
			reply = made = st[i].gen(line, st[i].genarg);
		if (reply != NULL) {
			len = st[i].replylen ? st[i].replylen : strlen(reply);
			srv_write(&s, reply, len);
		}
		free(made);
		if (st[i].flags & F_STLS)
			srv_tls(&s);
		if (st[i].flags & F_CLOSE)
			_exit(0);
	}
	/* Past the script the client may only close. */
	if (srv_line(&s, line, sizeof(line)) == 0)
		srv_die("unexpected command \"%s\"", line);
	_exit(0);
}

/* Listen on an ephemeral port of 127.0.0.1 and fork the server. */
static int
fake_start(struct fake *f, const struct step *st, size_t n)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char tmpl[] = "/tmp/pop3_test_log.XXXXXX";
	int lfd;

	memset(&f->log, 0, sizeof(f->log));
	if ((f->logfd = mkstemp(tmpl)) == -1)
		return -1;
	unlink(tmpl);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1
	    || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1
	    || listen(lfd, 1) == -1
	    || getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1)
		return -1;
	snprintf(f->port, sizeof(f->port), "%u", ntohs(sin.sin_port));
	fflush(stdout);
	fflush(stderr);
	if ((f->pid = fork()) == -1)
		return -1;
	if (f->pid == 0)
		srv_run(f, lfd, st, n);
	close(lfd);
	return 0;
}

/* Wait for the server; 0 when it played its whole script. The bytes it
 * received are in f->log. */
static int
fake_end(struct fake *f)
{
	char b[65536];
	ssize_t r;
	off_t off = 0;
	int st;

	if (waitpid(f->pid, &st, 0) == -1)
		return -1;
	f->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	while ((r = pread(f->logfd, b, sizeof(b), off)) > 0) {
		buf_add(&f->log, b, r);
		off += r;
	}
	close(f->logfd);
	return f->status;
}

static int
logged(const struct fake *f, const char *s)
{
	return contains(f->log.p, f->log.len, s);
}

/* The trace, as "> line" and "< line" lines. */
static void
trace_cb(void *arg, int dir, const char *line, size_t len)
{
	struct buf *b = arg;
	char d[2] = { (char)dir, ' ' };

	buf_add(b, d, 2);
	buf_add(b, line, len);
	buf_adds(b, "\n");
}

static void
cfg_init(struct source_cfg *c, const struct fake *f, struct buf *tr)
{
	memset(c, 0, sizeof(*c));
	c->host = "127.0.0.1";
	c->port = f->port;
	c->tls = SRC_TLS_NONE;
	c->user = "user";
	c->secret = "secret";
	c->auth = SRC_AUTH_USER;
	c->allow_plaintext = 1;
	c->connect_timeout = 5;
	c->timeout = 5;
	c->trace = trace_cb;
	c->trace_arg = tr;
}

static int
traced(const struct buf *tr, const char *s)
{
	return contains(tr->p, tr->len, s);
}

/* A sink that keeps each message in memory and checks the call order. */
#define MSINK_MAX 128

struct msink {
	struct buf m[MSINK_MAX];
	int begun[MSINK_MAX], ended[MSINK_MAX];
	long cur;
	int bad; /* calls out of order */
	int fail_begin; /* fail at the nth call (1-based); 0 never */
	int fail_write;
	int fail_end;
	int nbegin, nwrite, nend;
};

static int
ms_begin(void *arg, size_t i)
{
	struct msink *s = arg;

	if (i >= MSINK_MAX || s->cur != -1 || s->begun[i])
		s->bad = 1;
	if (++s->nbegin == s->fail_begin)
		return -1;
	if (i < MSINK_MAX)
		s->begun[i] = 1;
	s->cur = i;
	return 0;
}

static int
ms_write(void *arg, const char *p, size_t len)
{
	struct msink *s = arg;

	if (s->cur == -1 || len == 0) {
		s->bad = 1;
		return 0;
	}
	if (++s->nwrite == s->fail_write)
		return -1;
	buf_add(&s->m[s->cur], p, len);
	return 0;
}

static int
ms_end(void *arg, size_t i)
{
	struct msink *s = arg;

	if (s->cur != (long)i)
		s->bad = 1;
	if (++s->nend == s->fail_end)
		return -1;
	if (i < MSINK_MAX)
		s->ended[i] = 1;
	s->cur = -1;
	return 0;
}

static void
ms_init(struct msink *s, struct sink *k)
{
	memset(s, 0, sizeof(*s));
	s->cur = -1;
	k->begin = ms_begin;
	k->write = ms_write;
	k->end = ms_end;
	k->arg = s;
}

static void
ms_free(struct msink *s)
{
	for (size_t i = 0; i < MSINK_MAX; i++)
		buf_free(&s->m[i]);
}

static int
ms_is(const struct msink *s, size_t i, const char *want, size_t len)
{
	return s->m[i].len == len
	    && (len == 0 || memcmp(s->m[i].p, want, len) == 0);
}

/* Common script pieces. */
#define GREETING                                                               \
	{                                                                      \
		NULL, "+OK POP3 ready\r\n", 0, 0, 0, NULL, NULL                \
	}
#define CAPA_NONE                                                              \
	{                                                                      \
		"CAPA", "-ERR unknown command\r\n", 0, 0, 0, NULL, NULL        \
	}
#define USER_OK                                                                \
	{                                                                      \
		"USER user", "+OK\r\n", 0, 0, 0, NULL, NULL                    \
	}
#define PASS_OK                                                                \
	{                                                                      \
		"PASS secret", "+OK logged in\r\n", 0, 0, 0, NULL, NULL        \
	}
#define S(e, r)                                                                \
	{                                                                      \
		e, r, 0, 0, 0, NULL, NULL                                      \
	}
#define SF(e, r, f)                                                            \
	{                                                                      \
		e, r, 0, f, 0, NULL, NULL                                      \
	}

/* Start the fake server with its script, and make a session for it
 * (not yet open). */
static struct source *
start_session(struct fake *f, const struct step *st, size_t n,
    struct source_cfg *cfg, struct buf *tr)
{
	struct source *src;

	if (fake_start(f, st, n) == -1) {
		fprintf(stderr, "cannot start the fake server\n");
		t_case_failed = 1;
	}
	cfg_init(cfg, f, tr);
	src = pop3_new(cfg);
	return src;
}

/*
 * End-to-end: the basic session.
 */

static const char r1[] = "+OK 18 octets\r\nSubject: a\r\n\r\nhello\r\n.\r\n";
static const char m1[] = "Subject: a\n\nhello\n";
static const char r2[]
    = "+OK\r\n..leading dot\r\n...\r\n..\r\nx\ry\r\n.x\r\nend.\r\n.\r\n";
static const char m2[] = ".leading dot\n..\n.\nx\ry\n.x\nend.\n";
static const char r3[] = "+OK\r\n\377\376 8bit\r\n.\r\n";
static const char m3[] = "\377\376 8bit\n";

static void
t_e2e_basic(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		S("CAPA",
		    "+OK Capability list follows\r\nUSER\r\nUIDL\r\n"
		    "TOP\r\n.\r\n"),
		USER_OK,
		PASS_OK,
		S("STAT", "+OK 3 600\r\n"),
		S("UIDL",
		    "+OK\r\n1 uid-one\r\n2 uid-two\r\n3 uid-three\r\n"
		    ".\r\n"),
		S("LIST", "+OK 3 messages\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n"),
		S("RETR 1", r1),
		S("RETR 3", r3),
		S("RETR 2", r2),
		S("DELE 1", "+OK\r\n"),
		S("DELE 3", "+OK\r\n"),
		S("QUIT", "+OK bye\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct folder_info fi;
	struct msglist l = { 0 };
	struct msginfo *pick[3];
	struct msink ms;
	struct sink k;
	struct source *src;
	size_t gone = 99;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	ms_init(&ms, &k);
	CHECK(src->ops->open(src) == 0);
	CHECK_STR(src->mech, "USER");
	CHECK_STR(src->caps, "USER UIDL TOP");
	memset(&fi, 0xff, sizeof(fi));
	CHECK(src->ops->select(src, "INBOX", 1, &fi) == 0);
	CHECK(fi.exists == 3 && fi.uidvalidity == 0 && fi.uidplus == 0);
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(l.n == 3);
	if (l.n == 3) {
		CHECK(l.v[0].num == 1 && l.v[1].num == 2 && l.v[2].num == 3);
		CHECK_STR(l.v[0].uid, "uid-one");
		CHECK_STR(l.v[1].uid, "uid-two");
		CHECK_STR(l.v[2].uid, "uid-three");
		CHECK(l.v[0].size == 100 && l.v[1].size == 200
		    && l.v[2].size == 300);
		CHECK(l.v[0].flags == 0 && l.v[0].date == 0);
		pick[0] = &l.v[0];
		pick[1] = &l.v[2];
		pick[2] = &l.v[1];
		CHECK(src->ops->fetch(src, pick, 3, &k) == 0);
		CHECK(ms.bad == 0);
		CHECK(ms.ended[0] && ms.ended[1] && ms.ended[2]);
		CHECK(ms_is(&ms, 0, m1, sizeof(m1) - 1));
		CHECK(ms_is(&ms, 1, m3, sizeof(m3) - 1));
		CHECK(ms_is(&ms, 2, m2, sizeof(m2) - 1));
		pick[1] = &l.v[2];
		CHECK(src->ops->mark(src, pick, 2) == 0);
		CHECK(src->ops->expunge(src, pick, 2, &gone) == 0);
		CHECK(gone == 0);
	}
	CHECK(src->ops->quit(src) == 0);
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(traced(&tr, "> USER user\n"));
	CHECK(traced(&tr, "> PASS <redacted>\n"));
	CHECK(traced(&tr, "< +OK logged in\n"));
	CHECK(traced(&tr, "< 3 uid-three\n"));
	CHECK(traced(&tr, "> RETR 3\n"));
	CHECK(traced(&tr, "< [message body, 18 bytes]\n"));
	CHECK(!traced(&tr, "hello"));
	CHECK(!traced(&tr, "secret"));
	CHECK(!traced(&tr, "\r"));
	msglist_free(&l);
	ms_free(&ms);
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: pipelining, a window of outstanding commands, a large
 * message streamed.
 */

#define PIPE_N 100
#define BIG_N 37

struct pipe_data {
	struct buf big_wire, big_body;
	char *replies[PIPE_N];
	char *bodies[PIPE_N];
	char cmds[2 * PIPE_N][16];
};

static void
t_e2e_pipelining(const void *arg)
{
	struct pipe_data *pd;
	struct step st[2 * PIPE_N + 8];
	struct source_cfg cfg;
	struct fake f = { 0 };
	struct buf tr = { 0 }, uidl = { 0 }, list = { 0 };
	struct msglist l = { 0 };
	struct msginfo *v[PIPE_N];
	struct folder_info fi;
	struct msink ms;
	struct sink k;
	struct source *src;
	char line[128];
	size_t n = 0, i;

	(void)arg;
	pd = xcalloc(1, sizeof(*pd));
	/* A big message: 1 MB of lines, some of them stuffed. */
	for (i = 0; i < 14000; i++) {
		snprintf(line, sizeof(line),
		    "%s%05zu abcdefghijklmnopqrstuvwxyz0123456789 "
		    "abcdefghijklmnopqrstuvwxyz",
		    i % 7 == 0 ? "." : "", i);
		buf_adds(&pd->big_body, line);
		buf_adds(&pd->big_body, "\n");
		if (line[0] == '.')
			buf_adds(&pd->big_wire, ".");
		buf_adds(&pd->big_wire, line);
		buf_adds(&pd->big_wire, "\r\n");
	}
	buf_adds(&pd->big_wire, ".\r\n");
	buf_adds(&uidl, "+OK\r\n");
	buf_adds(&list, "+OK\r\n");
	for (i = 0; i < PIPE_N; i++) {
		snprintf(line, sizeof(line), "%zu u%zu\r\n", i + 1, i + 1);
		buf_adds(&uidl, line);
		snprintf(line, sizeof(line), "%zu %zu\r\n", i + 1,
		    i == BIG_N ? pd->big_body.len : 10 + i);
		buf_adds(&list, line);
		if (i == BIG_N) {
			xasprintf(&pd->replies[i], "+OK\r\n%s", pd->big_wire.p);
			pd->bodies[i] = xstrdup(pd->big_body.p);
		} else {
			xasprintf(&pd->replies[i],
			    "+OK\r\nmessage %zu\r\n.\r\n", i + 1);
			xasprintf(&pd->bodies[i], "message %zu\n", i + 1);
		}
	}
	buf_adds(&uidl, ".\r\n");
	buf_adds(&list, ".\r\n");
	st[n++] = (struct step)GREETING;
	st[n++] = (struct step)S(
	    "CAPA", "+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n");
	st[n++] = (struct step)USER_OK;
	st[n++] = (struct step)PASS_OK;
	/* STAT, UIDL and LIST go out behind PASS, before its answer. */
	st[n++] = (struct step) { "STAT", "+OK 100 1000\r\n", 0, F_COUNT, 3,
		NULL, NULL };
	st[n++] = (struct step)S("UIDL", uidl.p);
	st[n++] = (struct step)S("LIST", list.p);
	for (i = 0; i < PIPE_N; i++) {
		snprintf(pd->cmds[i], sizeof(pd->cmds[i]), "RETR %zu", i + 1);
		/* The messages add up to ~1 MB, under the window's bytes:
		 * all 100 commands go before any reply. */
		st[n++] = (struct step) { pd->cmds[i], pd->replies[i], 0,
			i == 0 ? F_COUNT : 0, PIPE_N, NULL, NULL };
	}
	for (i = 0; i < PIPE_N; i++) {
		snprintf(pd->cmds[PIPE_N + i], sizeof(pd->cmds[0]), "DELE %zu",
		    i + 1);
		st[n++] = (struct step) { pd->cmds[PIPE_N + i], "+OK\r\n", 0,
			i == 0 ? F_COUNT : 0, PIPE_N, NULL, NULL };
	}
	st[n++] = (struct step)S("QUIT", "+OK\r\n");

	src = start_session(&f, st, n, &cfg, &tr);
	cfg.trace = NULL;
	ms_init(&ms, &k);
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->select(src, "INBOX", 0, &fi) == 0);
	CHECK(fi.exists == PIPE_N);
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(l.n == PIPE_N);
	if (l.n == PIPE_N) {
		CHECK_STR(l.v[PIPE_N - 1].uid, "u100");
		CHECK(l.v[BIG_N].size == pd->big_body.len);
		for (i = 0; i < PIPE_N; i++)
			v[i] = &l.v[i];
		CHECK(src->ops->fetch(src, v, PIPE_N, &k) == 0);
		CHECK(ms.bad == 0);
		for (i = 0; i < PIPE_N; i++)
			if (!ms.ended[i]
			    || !ms_is(
				&ms, i, pd->bodies[i], strlen(pd->bodies[i])))
				break;
		CHECK(i == PIPE_N);
		CHECK(src->ops->mark(src, v, PIPE_N) == 0);
	}
	CHECK(src->ops->quit(src) == 0);
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	msglist_free(&l);
	ms_free(&ms);
	for (i = 0; i < PIPE_N; i++) {
		free(pd->replies[i]);
		free(pd->bodies[i]);
	}
	buf_free(&pd->big_wire);
	buf_free(&pd->big_body);
	free(pd);
	buf_free(&uidl);
	buf_free(&list);
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: a server without UIDL.
 */
static void
t_e2e_no_uidl(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		CAPA_NONE,
		USER_OK,
		PASS_OK,
		S("UIDL", "-ERR unknown command\r\n"),
		S("LIST", "+OK\r\n1 120\r\n2 4000 extra\r\n.\r\n"),
		S("QUIT", "+OK\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct msglist l = { 0 };
	struct source *src;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	CHECK(src->ops->open(src) == 0);
	CHECK_STR(src->caps, "");
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(l.n == 2);
	if (l.n == 2) {
		CHECK(l.v[0].uid == NULL && l.v[1].uid == NULL);
		CHECK(l.v[0].num == 1 && l.v[0].size == 120);
		CHECK(l.v[1].num == 2 && l.v[1].size == 4000);
	}
	CHECK(src->ops->quit(src) == 0);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	msglist_free(&l);
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: credentials are never sent in the clear unless allowed.
 */

struct refuse_case {
	const char *name;
	enum src_auth auth;
	enum src_tls tls;
	const char *capa;
	enum src_fail want;
	const char *err;
};

static const struct refuse_case refuse_cases[] = {
	{ "plaintext refused user", SRC_AUTH_USER, SRC_TLS_NONE,
	    "+OK\r\nUSER\r\nSTLS\r\n.\r\n", SRC_FCONFIG,
	    "refusing to send credentials over an unencrypted connection" },
	{ "plaintext refused auto", SRC_AUTH_AUTO, SRC_TLS_NONE,
	    "+OK\r\nSASL PLAIN LOGIN\r\n.\r\n", SRC_FCONFIG,
	    "set allow_plaintext = yes" },
	{ "plaintext refused apop", SRC_AUTH_APOP, SRC_TLS_NONE, "-ERR\r\n",
	    SRC_FCONFIG, "unencrypted" },
	{ "stls not offered", SRC_AUTH_USER, SRC_TLS_STARTTLS,
	    "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n", SRC_FPROTO,
	    "server does not offer STLS (STARTTLS)" },
	{ "stls not offered no capa", SRC_AUTH_PLAIN, SRC_TLS_STARTTLS,
	    "-ERR\r\n", SRC_FPROTO, "does not offer STLS" },
};

static void
t_e2e_refuse(const void *arg)
{
	const struct refuse_case *c = arg;
	struct step st[] = {
		{ NULL, "+OK POP3 ready <1.2@h>\r\n", 0, 0, 0, NULL, NULL },
		S("CAPA", c->capa),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct source *src;

	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.auth = c->auth;
	cfg.tls = c->tls;
	cfg.allow_plaintext = c->tls == SRC_TLS_STARTTLS;
	CHECK(src->ops->open(src) == -1);
	CHECK(src->fail == c->want);
	CHECK(strstr(src->err, c->err) != NULL);
	/* And quit after a failure sends nothing. */
	CHECK(src->ops->quit(src) == -1);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	/* Not one credential byte, nor any command past CAPA. */
	CHECK(!logged(&f, "USER"));
	CHECK(!logged(&f, "PASS"));
	CHECK(!logged(&f, "AUTH"));
	CHECK(!logged(&f, "APOP"));
	CHECK(!logged(&f, "user"));
	CHECK(!logged(&f, "STLS"));
	CHECK(!logged(&f, "QUIT"));
	CHECK(f.log.len == strlen("CAPA\r\n"));
	buf_free(&tr);
	buf_free(&f.log);
}

/* Settings that cannot work are refused before a credential is sent. */
struct badcfg_case {
	const char *name;
	enum src_auth auth;
	const char *user;
	const char *secret;
	const char *err;
};

static const struct badcfg_case badcfg_cases[] = {
	{ "config no password", SRC_AUTH_USER, "user", NULL, "no password" },
	{ "config no password sasl", SRC_AUTH_PLAIN, "user", NULL,
	    "no password" },
	{ "config empty user", SRC_AUTH_USER, "", "secret", "no user name" },
	{ "config user with line break", SRC_AUTH_USER, "user\r\nDELE 1",
	    "secret", "line break" },
	{ "config password with line break", SRC_AUTH_USER, "user",
	    "secret\r\nDELE 1", "line break" },
};

static void
t_e2e_badcfg(const void *arg)
{
	const struct badcfg_case *c = arg;
	static const struct step st[] = {
		GREETING,
		CAPA_NONE,
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct source *src;

	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.auth = c->auth;
	cfg.user = c->user;
	cfg.secret = c->secret;
	CHECK(src->ops->open(src) == -1);
	CHECK(src->fail == SRC_FCONFIG);
	CHECK(strstr(src->err, c->err) != NULL);
	CHECK(!contains(src->err, strlen(src->err), "secret"));
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(f.log.len == strlen("CAPA\r\n"));
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: authentication refused, or the mailbox busy.
 */

struct autherr_case {
	const char *name;
	enum src_auth auth;
	const char *cmd;
	const char *reply;
	enum src_fail want;
	const char *err;
};

static const struct autherr_case autherr_cases[] = {
	{ "pass err", SRC_AUTH_USER, "PASS secret", "-ERR invalid password\r\n",
	    SRC_FAUTH, "authentication failed: \"invalid password\"" },
	{ "pass err auth code", SRC_AUTH_USER, "PASS secret",
	    "-ERR [AUTH] bad credentials\r\n", SRC_FAUTH,
	    "authentication failed: \"[AUTH] bad credentials\"" },
	{ "pass err in-use", SRC_AUTH_USER, "PASS secret",
	    "-ERR [IN-USE] mailbox locked\r\n", SRC_FTEMP,
	    "[IN-USE] mailbox locked" },
	{ "pass err sys/temp", SRC_AUTH_USER, "PASS secret",
	    "-ERR [SYS/TEMP] try later\r\n", SRC_FTEMP, "[SYS/TEMP]" },
	{ "pass err sys/temp lowercase", SRC_AUTH_USER, "PASS secret",
	    "-ERR [sys/temp] try later\r\n", SRC_FTEMP, "try later" },
	{ "pass err login-delay", SRC_AUTH_USER, "PASS secret",
	    "-ERR [LOGIN-DELAY] wait\r\n", SRC_FTEMP, "wait" },
	{ "pass err sys/perm", SRC_AUTH_USER, "PASS secret",
	    "-ERR [SYS/PERM] broken\r\n", SRC_FAUTH, "authentication failed" },
	{ "pass err in-use-x is not in-use", SRC_AUTH_USER, "PASS secret",
	    "-ERR [IN-USEX] x\r\n", SRC_FAUTH, "authentication failed" },
	{ "pass err control chars quoted", SRC_AUTH_USER, "PASS secret",
	    "-ERR bad\033[1m\r\n", SRC_FAUTH, "\"bad?[1m\"" },
	{ "pass garbage reply", SRC_AUTH_USER, "PASS secret", "+OKAY\r\n",
	    SRC_FPROTO, "unexpected reply to PASS" },
	{ "pass connection closed", SRC_AUTH_USER, "PASS secret", "", SRC_FTEMP,
	    "" },
	{ "plain err", SRC_AUTH_PLAIN, "AUTH PLAIN AHVzZXIAc2VjcmV0",
	    "-ERR [AUTH] nope\r\n", SRC_FAUTH,
	    "authentication failed: \"[AUTH] nope\"" },
	{ "plain err in-use", SRC_AUTH_PLAIN, "AUTH PLAIN AHVzZXIAc2VjcmV0",
	    "-ERR [IN-USE] locked\r\n", SRC_FTEMP, "locked" },
	{ "scram ok without proof", SRC_AUTH_SCRAM_SHA_256,
	    "AUTH SCRAM-SHA-256 *", "+OK welcome\r\n", SRC_FAUTH,
	    "server did not prove" },
	{ "scram-1 ok without proof", SRC_AUTH_SCRAM_SHA_1,
	    "AUTH SCRAM-SHA-1 *", "+OK welcome\r\n", SRC_FAUTH,
	    "server did not prove" },
};

static void
t_e2e_autherr(const void *arg)
{
	const struct autherr_case *c = arg;
	struct step st[] = {
		GREETING,
		CAPA_NONE,
		USER_OK,
		{ c->cmd, c->reply, 0, *c->reply ? 0 : F_CLOSE, 0, NULL, NULL },
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct source *src;

	if (c->auth != SRC_AUTH_USER)
		st[2] = st[3];
	src = start_session(
	    &f, st, NELEM(st) - (c->auth != SRC_AUTH_USER), &cfg, &tr);
	cfg.auth = c->auth;
	CHECK(src->ops->open(src) == -1);
	CHECK(src->fail == c->want);
	CHECK(strstr(src->err, c->err) != NULL);
	CHECK(!contains(src->err, strlen(src->err), "secret"));
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	CHECK(src->ops->quit(src) == -1);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(!traced(&tr, "secret"));
	CHECK(!traced(&tr, "AHVzZXIAc2VjcmV0"));
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: sessions that end at open, one row each: the script, the
 * settings, what open does, what the trace shows and what is never
 * sent.
 */
static const struct step st_apop[] = {
	S(NULL,
	    "+OK POP3 server ready "
	    "<1896.697170952@dbc.mtview.ca.us>\r\n"),
	CAPA_NONE,
	S("APOP mrose c4c9334bac560ecc979e58001b3e22fb",
	    "+OK maildrop has 1 message (369 octets)\r\n"),
	S("QUIT", "+OK\r\n"),
};

static const struct step st_apop_nostamp[] = {
	S(NULL, "+OK POP3 ready\r\n"),
	CAPA_NONE,
};

/* SASL LOGIN: two challenges, two redacted responses. */
static const struct step st_login[] = {
	GREETING,
	S("CAPA", "+OK\r\nSASL LOGIN\r\n.\r\n"),
	S("AUTH LOGIN", "+ VXNlcm5hbWU6\r\n"),
	S("dXNlcg==", "+ UGFzc3dvcmQ6\r\n"),
	S("c2VjcmV0", "+OK welcome\r\n"),
	S("QUIT", "+OK\r\n"),
};

/* Bytes injected after the STLS reply, before the handshake, must not
 * be taken as the server's words. */
static const struct step st_stls_injected[] = {
	GREETING,
	S("CAPA", "+OK\r\nSTLS\r\n.\r\n"),
	S("STLS", "+OK begin TLS\r\n+OK injected\r\n"),
};

static const struct step st_stls_refused[] = {
	GREETING,
	S("CAPA", "+OK\r\nSTLS\r\n.\r\n"),
	S("STLS", "-ERR not now\r\n"),
};

#define STEPS(a) a, NELEM(a)

struct open_case {
	const char *name;
	const struct step *st;
	size_t nst;
	enum src_auth auth;
	enum src_tls tls; /* STARTTLS: without the certificate check */
	const char *user, *secret; /* NULL: cfg_init's */
	enum src_fail fail; /* SRC_FNONE: open and quit succeed */
	const char *err; /* in src->err when open fails; NULL: none */
	const char *mech; /* src->mech; NULL: not checked */
	const char *traced; /* in the trace; NULL: none */
	const char *untraced; /* never in the trace; NULL: none */
	const char *unsent[2]; /* never sent; NULL: none */
	int any_end; /* the server's own view depends on timing */
};

static const struct open_case open_cases[] = {
	{ "e2e apop", STEPS(st_apop), SRC_AUTH_APOP, SRC_TLS_NONE, "mrose",
	    "tanstaaf", SRC_FNONE, NULL, "APOP", "> APOP mrose <redacted>\n",
	    "c4c9334b", { NULL, NULL }, 0 },
	{ "e2e apop without timestamp", STEPS(st_apop_nostamp), SRC_AUTH_APOP,
	    SRC_TLS_NONE, NULL, NULL, SRC_FPROTO,
	    "server greeting has no APOP timestamp", NULL, NULL, NULL,
	    { "APOP", NULL }, 0 },
	{ "e2e sasl login", STEPS(st_login), SRC_AUTH_AUTO, SRC_TLS_NONE, NULL,
	    NULL, SRC_FNONE, NULL, "LOGIN",
	    "> AUTH LOGIN\n< + VXNlcm5hbWU6\n> <redacted>\n"
	    "< + UGFzc3dvcmQ6\n> <redacted>\n< +OK welcome\n",
	    "c2VjcmV0", { NULL, NULL }, 0 },
	{ "e2e stls injected bytes", STEPS(st_stls_injected), SRC_AUTH_USER,
	    SRC_TLS_STARTTLS, NULL, NULL, SRC_FPROTO, NULL, NULL, NULL, NULL,
	    { "USER", "CAPA\r\nSTLS\r\nCAPA" }, 1 },
	{ "e2e stls refused", STEPS(st_stls_refused), SRC_AUTH_USER,
	    SRC_TLS_STARTTLS, NULL, NULL, SRC_FPROTO, "not now", NULL, NULL,
	    NULL, { "USER", NULL }, 0 },
};

static void
t_e2e_open(const void *arg)
{
	const struct open_case *c = arg;
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct source *src;
	size_t i;

	src = start_session(&f, c->st, c->nst, &cfg, &tr);
	cfg.auth = c->auth;
	cfg.tls = c->tls;
	cfg.user = c->user != NULL ? c->user : cfg.user;
	cfg.secret = c->secret != NULL ? c->secret : cfg.secret;
	CHECK(src->ops->open(src) == (c->fail == SRC_FNONE ? 0 : -1));
	CHECK(src->fail == c->fail);
	if (c->err != NULL)
		CHECK(strstr(src->err, c->err) != NULL);
	if (c->mech != NULL)
		CHECK_STR(src->mech, c->mech);
	if (c->fail == SRC_FNONE)
		CHECK(src->ops->quit(src) == 0);
	src->ops->free(src);
	if (c->any_end)
		fake_end(&f);
	else
		CHECK(fake_end(&f) == 0);
	if (c->traced != NULL)
		CHECK(traced(&tr, c->traced));
	if (c->untraced != NULL)
		CHECK(!traced(&tr, c->untraced));
	for (i = 0; i < NELEM(c->unsent) && c->unsent[i] != NULL; i++)
		CHECK(!logged(&f, c->unsent[i]));
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: SASL, and what auto picks.
 */

struct auto_case {
	const char *name;
	enum src_auth auth;
	const char *capa;
	const char *cmd; /* the first authentication command */
	const char *reply; /* its reply */
	const char *mech; /* src->mech */
	int ok;
};

static const struct auto_case auto_cases[] = {
	{ "auto prefers plain", SRC_AUTH_AUTO,
	    "+OK\r\nSASL CRAM-MD5 LOGIN PLAIN\r\nUSER\r\n.\r\n",
	    "AUTH PLAIN AHVzZXIAc2VjcmV0", "+OK\r\n", "PLAIN", 1 },
	{ "auto prefers scram-sha-256", SRC_AUTH_AUTO,
	    "+OK\r\nSASL PLAIN SCRAM-SHA-1 scram-sha-256\r\n.\r\n",
	    "AUTH SCRAM-SHA-256 biws*", "-ERR [AUTH] no\r\n", "SCRAM-SHA-256",
	    0 },
	{ "auto scram-sha-1 no fallback", SRC_AUTH_AUTO,
	    "+OK\r\nSASL LOGIN SCRAM-SHA-1 PLAIN\r\n.\r\n",
	    "AUTH SCRAM-SHA-1 biws*", "-ERR no\r\n", "SCRAM-SHA-1", 0 },
	{ "auto plain failure no fallback", SRC_AUTH_AUTO,
	    "+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n", "AUTH PLAIN AHVzZXIAc2VjcmV0",
	    "-ERR no\r\n", "PLAIN", 0 },
	{ "auto cram-md5 only means user", SRC_AUTH_AUTO,
	    "+OK\r\nSASL CRAM-MD5 XOAUTH2\r\n.\r\n", "USER user", "-ERR no\r\n",
	    "USER", 0 },
	{ "auto without sasl means user", SRC_AUTH_AUTO, "+OK\r\nUSER\r\n.\r\n",
	    "USER user", "-ERR no\r\n", "USER", 0 },
	{ "auto without capa means user", SRC_AUTH_AUTO, "-ERR\r\n",
	    "USER user", "-ERR no\r\n", "USER", 0 },
	{ "named plain without capa is tried", SRC_AUTH_PLAIN, "-ERR\r\n",
	    "AUTH PLAIN AHVzZXIAc2VjcmV0", "+OK\r\n", "PLAIN", 1 },
	{ "named cram-md5", SRC_AUTH_CRAM_MD5, "-ERR\r\n", "AUTH CRAM-MD5",
	    "-ERR no\r\n", "CRAM-MD5", 0 },
	{ "xoauth2 short token on the line", SRC_AUTH_XOAUTH2, "-ERR\r\n",
	    "AUTH XOAUTH2 dXNlcj11c2VyAWF1dGg9QmVhcmVyIHNlY3JldAEB", "+OK\r\n",
	    "XOAUTH2", 1 },
};

static void
t_e2e_auto(const void *arg)
{
	const struct auto_case *c = arg;
	struct step st[] = {
		GREETING,
		S("CAPA", c->capa),
		S(c->cmd, c->reply),
		S("QUIT", "+OK\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct source *src;

	src = start_session(&f, st, NELEM(st) - !c->ok, &cfg, &tr);
	cfg.auth = c->auth;
	CHECK(src->ops->open(src) == (c->ok ? 0 : -1));
	CHECK_STR(src->mech, c->mech);
	if (c->ok)
		CHECK(src->ops->quit(src) == 0);
	else
		CHECK(src->fail == SRC_FAUTH);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(!traced(&tr, "secret"));
	CHECK(!traced(&tr, "AHVzZXIAc2VjcmV0"));
	CHECK(!traced(&tr, "biws"));
	if (strncmp(c->cmd, "AUTH ", 5) == 0 && strchr(c->cmd + 5, ' '))
		CHECK(traced(&tr, "<redacted>\n"));
	buf_free(&tr);
	buf_free(&f.log);
}

/* An initial response that would make AUTH longer than 255 octets waits
 * for an empty challenge (RFC 5034 section 4). */
static void
t_e2e_long_ir(const void *arg)
{
	struct step st[] = {
		GREETING,
		CAPA_NONE,
		S("AUTH XOAUTH2", "+ \r\n"),
		S(NULL, "+OK\r\n"),
		S("QUIT", "+OK\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 }, raw = { 0 };
	struct source *src;
	char tok[301], *b64;

	(void)arg;
	memset(tok, 'T', 300);
	tok[300] = '\0';
	buf_adds(&raw, "user=user\001auth=Bearer ");
	buf_adds(&raw, tok);
	buf_adds(&raw, "\001\001");
	b64 = sasl_b64_encode(raw.p, raw.len);
	st[3].expect = b64;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.auth = SRC_AUTH_XOAUTH2;
	cfg.secret = tok;
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->quit(src) == 0);
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(traced(&tr, "> AUTH XOAUTH2\n< + \n> <redacted>\n< +OK\n"));
	CHECK(!traced(&tr, "TTTT"));
	free(b64);
	buf_free(&raw);
	buf_free(&tr);
	buf_free(&f.log);
}

/* SCRAM: a server-first message built from the client's nonce, then a
 * server signature that cannot be right. */
static char *
scram_first(const char *line, void *arg)
{
	const char *p = strchr(line + 5, ' ');
	unsigned char *cf;
	char *sf, *b64, *reply, *r;
	size_t len;

	(void)arg;
	if (p == NULL
	    || (cf = sasl_b64_decode(p + 1, strlen(p + 1), &len)) == NULL)
		srv_die("no initial response");
	if ((r = strstr((char *)cf, ",r=")) == NULL)
		srv_die("no nonce");
	xasprintf(&sf, "r=%sSERVERNONCE,s=c2FsdHNhbHQ=,i=4096", r + 3);
	b64 = sasl_b64_encode(sf, strlen(sf));
	xasprintf(&reply, "+ %s\r\n", b64);
	free(cf);
	free(sf);
	free(b64);
	return reply;
}

static char *
scram_forged(const char *line, void *arg)
{
	unsigned char sig[32];
	char *v, *b64, *reply, *s;

	(void)line;
	(void)arg;
	memset(sig, 'A', sizeof(sig));
	s = sasl_b64_encode(sig, sizeof(sig));
	xasprintf(&v, "v=%s", s);
	b64 = sasl_b64_encode(v, strlen(v));
	xasprintf(&reply, "+ %s\r\n", b64);
	free(s);
	free(v);
	free(b64);
	return reply;
}

static void
t_e2e_scram_forged(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		S("CAPA", "+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n"),
		{ "AUTH SCRAM-SHA-256 *", NULL, 0, 0, 0, scram_first, NULL },
		{ "*", NULL, 0, 0, 0, scram_forged, NULL },
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct source *src;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.auth = SRC_AUTH_AUTO;
	CHECK(src->ops->open(src) == -1);
	CHECK(src->fail == SRC_FAUTH);
	CHECK(strncmp(src->err, "authentication failed: ", 23) == 0);
	CHECK(strlen(src->err) > 23);
	CHECK_STR(src->mech, "SCRAM-SHA-256");
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(traced(&tr, "> AUTH SCRAM-SHA-256 <redacted>\n"));
	CHECK(traced(&tr, "> <redacted>\n"));
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: SCRAM's first message behind CAPA, before the greeting
 * (implicit TLS, auth auto or scram-*), taken on where CAPA offers the
 * mechanism auth picks, else withdrawn; never early with another
 * mechanism or with nologin.
 */

/* CAPA, counted: the early AUTH came in the same write. */
#define CAPA_EARLY(r)                                                          \
	{                                                                      \
		"CAPA", r, 0, F_COUNT, 2, NULL, NULL                           \
	}
#define SCRAM_FIRST(e)                                                         \
	{                                                                      \
		e, NULL, 0, 0, 0, scram_first, NULL                            \
	}

static const struct step st_early_forged[] = {
	GREETING,
	CAPA_EARLY("+OK\r\nSASL PLAIN SCRAM-SHA-256\r\n.\r\n"),
	SCRAM_FIRST("AUTH SCRAM-SHA-256 biws*"),
	{ "*", NULL, 0, 0, 0, scram_forged, NULL },
};

static const struct step st_early_sha1[] = {
	GREETING,
	CAPA_EARLY("+OK\r\nSASL SCRAM-SHA-1\r\n.\r\n"),
	SCRAM_FIRST("AUTH SCRAM-SHA-1 biws*"),
	S("*", "-ERR [AUTH] bad proof\r\n"),
};

/* Refused before any challenge though offered: asked again, once. */
static const struct step st_early_again[] = {
	GREETING,
	CAPA_EARLY("+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n"),
	S("AUTH SCRAM-SHA-256 biws*", "-ERR not yet\r\n"),
	S("AUTH SCRAM-SHA-256 biws*", "-ERR [IN-USE] locked\r\n"),
};

/* No CAPA: the early AUTH, begun by the server, is cancelled, and the
 * named mechanism asked as without CAPA. */
static const struct step st_early_nocapa[] = {
	GREETING,
	CAPA_EARLY("-ERR what\r\n"),
	S("AUTH SCRAM-SHA-256 biws*", "+ \r\n"),
	S("*", "-ERR cancelled\r\n"),
	SCRAM_FIRST("AUTH SCRAM-SHA-256 biws*"),
	S("*", "-ERR [AUTH] no\r\n"),
};

/* A server that takes the cancelled exchange as a login. */
static const struct step st_early_cancel_ok[] = {
	GREETING,
	CAPA_EARLY("+OK\r\nSASL PLAIN\r\n.\r\n"),
	S("AUTH SCRAM-SHA-256 biws*", "+ \r\n"),
	S("*", "+OK welcome\r\n"),
};

/* The early AUTH is withdrawn; with the server's -ERR read, USER. */
static const struct step st_early_user[] = {
	GREETING,
	CAPA_EARLY("+OK\r\nUSER\r\n.\r\n"),
	S("AUTH SCRAM-SHA-256 biws*", "-ERR unknown command\r\n"),
	USER_OK,
	PASS_OK,
	S("QUIT", "+OK\r\n"),
};

/* Never early: CAPA comes alone (strict). */
static const struct step st_early_nologin[] = {
	GREETING,
	S("CAPA", "+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n"),
	S("QUIT", "+OK\r\n"),
};

static const struct step st_early_plain[] = {
	GREETING,
	S("CAPA", "+OK\r\nSASL PLAIN SCRAM-SHA-256\r\n.\r\n"),
	S("AUTH PLAIN AHVzZXIAc2VjcmV0", "+OK\r\n"),
	S("QUIT", "+OK\r\n"),
};

struct early_case {
	const char *name;
	const struct step *st;
	size_t nst;
	enum src_auth auth;
	int nologin;
	enum src_fail fail; /* SRC_FNONE: open and quit succeed */
	const char *err; /* in src->err when open fails */
	const char *traced; /* in the trace */
};

static const struct early_case early_cases[] = {
	{ "early scram behind capa", STEPS(st_early_forged), SRC_AUTH_AUTO, 0,
	    SRC_FAUTH, "authentication failed: ",
	    "> CAPA\n> AUTH SCRAM-SHA-256 <redacted>\n< +OK POP3 ready\n"
	    "< +OK\n< SASL PLAIN SCRAM-SHA-256\n< .\n< + " },
	{ "early scram-sha-1 named", STEPS(st_early_sha1), SRC_AUTH_SCRAM_SHA_1,
	    0, SRC_FAUTH, "authentication failed: \"[AUTH] bad proof\"",
	    "> CAPA\n> AUTH SCRAM-SHA-1 <redacted>\n" },
	{ "early scram refused is asked again", STEPS(st_early_again),
	    SRC_AUTH_AUTO, 0, SRC_FTEMP, "locked",
	    "< -ERR not yet\n> AUTH SCRAM-SHA-256 <redacted>\n" },
	{ "early scram cancelled without capa", STEPS(st_early_nocapa),
	    SRC_AUTH_SCRAM_SHA_256, 0, SRC_FAUTH,
	    "authentication failed: \"[AUTH] no\"",
	    "< + \n> *\n< -ERR cancelled\n> AUTH SCRAM-SHA-256 <redacted>\n" },
	{ "early scram cancel accepted", STEPS(st_early_cancel_ok),
	    SRC_AUTH_AUTO, 0, SRC_FPROTO,
	    "server accepted an authentication the client cancelled",
	    "> *\n< +OK welcome\n" },
	{ "early scram withdrawn for user", STEPS(st_early_user), SRC_AUTH_AUTO,
	    0, SRC_FNONE, NULL, "< -ERR unknown command\n> USER user\n" },
	{ "early never with nologin", STEPS(st_early_nologin), SRC_AUTH_AUTO, 1,
	    SRC_FNONE, NULL, "> CAPA\n< +OK POP3 ready\n" },
	{ "early never with plain", STEPS(st_early_plain), SRC_AUTH_PLAIN, 0,
	    SRC_FNONE, NULL, "> CAPA\n< +OK POP3 ready\n" },
};

static void
t_e2e_early(const void *arg)
{
	const struct early_case *c = arg;
	struct source_cfg cfg;
	struct fake f = { .implicit = 1 };
	struct buf tr = { 0 };
	struct source *src;

	/* Where nothing goes early, every command comes alone. */
	f.strict = c->nologin || c->auth == SRC_AUTH_PLAIN;
	src = start_session(&f, c->st, c->nst, &cfg, &tr);
	cfg.tls = SRC_TLS_IMPLICIT;
	cfg.tlsopts.verify = 0;
	cfg.allow_plaintext = 0;
	cfg.auth = c->auth;
	cfg.nologin = c->nologin;
	CHECK(src->ops->open(src) == (c->fail == SRC_FNONE ? 0 : -1));
	CHECK(src->fail == c->fail);
	if (c->err != NULL)
		CHECK(strstr(src->err, c->err) != NULL);
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	if (c->fail == SRC_FNONE)
		CHECK(src->ops->quit(src) == 0);
	src->ops->free(src);
	/* The server played its script; past it, nothing came. */
	CHECK(fake_end(&f) == 0);
	CHECK(traced(&tr, c->traced));
	CHECK(!traced(&tr, "secret"));
	CHECK(!traced(&tr, "biws"));
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: failures during the session.
 */

struct sinkfail_case {
	const char *name;
	int fail_begin, fail_write, fail_end;
};

static const struct sinkfail_case sinkfail_cases[] = {
	{ "sink begin fails", 1, 0, 0 },
	{ "sink write fails", 0, 1, 0 },
	{ "sink end fails", 0, 0, 1 },
	{ "sink fails on second message", 2, 0, 0 },
};

static void
t_e2e_sinkfail(const void *arg)
{
	const struct sinkfail_case *c = arg;
	static const struct step st[] = {
		GREETING,
		CAPA_NONE,
		USER_OK,
		PASS_OK,
		S("RETR 1", r1),
		S("RETR 2", r2),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct msginfo m[2] = { { .num = 1 }, { .num = 2 } };
	struct msginfo *v[2] = { &m[0], &m[1] };
	struct msink ms;
	struct sink k;
	struct source *src;

	src = start_session(
	    &f, st, 4 + (c->fail_begin == 2 ? 2 : 1), &cfg, &tr);
	ms_init(&ms, &k);
	ms.fail_begin = c->fail_begin;
	ms.fail_write = c->fail_write;
	ms.fail_end = c->fail_end;
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->fetch(src, v, 2, &k) == -1);
	CHECK(src->fail == SRC_FLOCAL);
	/* The session is unusable: no QUIT, so nothing is committed. */
	CHECK(src->ops->quit(src) == -1);
	CHECK(src->fail == SRC_FLOCAL);
	CHECK(src->ops->mark(src, v, 1) == -1);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	CHECK(!logged(&f, "QUIT"));
	CHECK(!logged(&f, "DELE"));
	ms_free(&ms);
	buf_free(&tr);
	buf_free(&f.log);
}

struct sess_case {
	const char *name;
	const char *cmd; /* the failing step's command */
	const char *reply; /* its reply */
	int close; /* drop the connection after it */
	const char *op; /* "select", "list", "fetch", "mark", "quit",
			     * "open" */
	enum src_fail want; /* SRC_FNONE: success */
	const char *err;
};

static const struct sess_case sess_cases[] = {
	{ "greeting err", NULL, "-ERR go away\r\n", 0, "open", SRC_FPROTO,
	    "server greeting: \"-ERR go away\"" },
	{ "greeting sys/temp", NULL, "-ERR [SYS/TEMP] busy\r\n", 0, "open",
	    SRC_FTEMP, "busy" },
	{ "greeting garbage", NULL, "hello there\r\n", 0, "open", SRC_FPROTO,
	    "hello there" },
	{ "greeting closed", NULL, "", 1, "open", SRC_FTEMP, "greeting" },
	{ "greeting too long", NULL, NULL, 0, "open", SRC_FPROTO, "" },
	{ "stat err", "STAT", "-ERR no\r\n", 0, "select", SRC_FPROTO,
	    "STAT failed: \"no\"" },
	{ "stat garbage", "STAT", "+OK lots\r\n", 0, "select", SRC_FDATA,
	    "bad STAT reply: \"lots\"" },
	{ "retr err", "RETR 1", "-ERR no such message\r\n", 0, "fetch",
	    SRC_FPROTO, "RETR 1 failed: \"no such message\"" },
	{ "retr garbage status", "RETR 1", "200 ok\r\n", 0, "fetch", SRC_FPROTO,
	    "unexpected reply to RETR" },
	{ "retr dropped mid body", "RETR 1", "+OK\r\nline one\r\nline t", 1,
	    "fetch", SRC_FTEMP, "" },
	{ "retr dropped before terminator", "RETR 1", "+OK\r\nline one\r\n", 1,
	    "fetch", SRC_FTEMP, "" },
	{ "retr dropped after status", "RETR 1", "+OK\r\n", 1, "fetch",
	    SRC_FTEMP, "" },
	{ "dele err", "DELE 1", "-ERR message locked\r\n", 0, "mark",
	    SRC_FPROTO, "DELE 1 failed: \"message locked\"" },
	/* After DELE, QUIT's answer decides: it is waited for. */
	{ "quit err", "QUIT", "-ERR some deleted messages not removed\r\n", 0,
	    "markquit", SRC_FPROTO, "QUIT failed" },
	{ "quit dropped", "QUIT", "", 1, "markquit", SRC_FTEMP, "" },
	{ "quit ok", "QUIT", "+OK bye\r\n", 0, "markquit", SRC_FNONE, "" },
	/* Nothing marked: QUIT is sent, its answer not waited for. */
	{ "quit unmarked", "QUIT", "-ERR not read\r\n", 0, "quit", SRC_FNONE,
	    "" },
};

static void
t_e2e_sess(const void *arg)
{
	const struct sess_case *c = arg;
	struct step st[8];
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 }, longline = { 0 };
	struct folder_info fi;
	struct msginfo m = { .num = 1 }, *v = &m;
	struct msink ms;
	struct sink k;
	struct source *src;
	size_t n = 0;
	int rc, r = 0, i;

	memset(st, 0, sizeof(st));
	if (c->cmd == NULL) {
		st[n].reply = c->reply;
		if (c->reply == NULL) {
			for (i = 0; i < 1100; i++)
				buf_adds(&longline, "x");
			st[n].reply = longline.p;
		}
		st[n++].flags = c->close ? F_CLOSE : 0;
		/* CAPA went out with the end of the handshake, before the
		 * greeting was read. */
		if (!c->close)
			st[n++].expect = "CAPA";
	} else {
		st[n++] = (struct step)GREETING;
		st[n++] = (struct step)CAPA_NONE;
		st[n++] = (struct step)USER_OK;
		st[n++] = (struct step)PASS_OK;
		if (strcmp(c->op, "markquit") == 0) {
			st[n].expect = "DELE 1";
			st[n++].reply = "+OK\r\n";
		}
		st[n].expect = c->cmd;
		st[n].reply = c->reply;
		st[n++].flags = c->close ? F_CLOSE : 0;
	}
	src = start_session(&f, st, n, &cfg, &tr);
	ms_init(&ms, &k);
	if (strcmp(c->op, "open") == 0)
		r = src->ops->open(src);
	else {
		CHECK(src->ops->open(src) == 0);
		if (strcmp(c->op, "select") == 0)
			r = src->ops->select(src, "INBOX", 1, &fi);
		else if (strcmp(c->op, "fetch") == 0) {
			r = src->ops->fetch(src, &v, 1, &k);
			CHECK(ms.ended[0] == 0);
			CHECK(ms.bad == 0);
		} else if (strcmp(c->op, "mark") == 0)
			r = src->ops->mark(src, &v, 1);
		else if (strcmp(c->op, "markquit") == 0) {
			CHECK(src->ops->mark(src, &v, 1) == 0);
			r = src->ops->quit(src);
		} else
			r = src->ops->quit(src);
	}
	if (c->want == SRC_FNONE)
		CHECK(r == 0);
	else {
		CHECK(r == -1);
		CHECK(src->fail == c->want);
		CHECK(strstr(src->err, c->err) != NULL);
		if (t_case_failed)
			fprintf(stderr, "err: %d %s\n", src->fail, src->err);
		/* No QUIT after a failure. */
		if (strstr(c->op, "quit") == NULL)
			CHECK(src->ops->quit(src) == -1);
	}
	src->ops->free(src);
	rc = fake_end(&f);
	/* The server may see the client go before it sent its reply. */
	CHECK(rc == 0 || (c->reply == NULL && rc == 3));
	if (strstr(c->op, "quit") == NULL)
		CHECK(!logged(&f, "QUIT"));
	ms_free(&ms);
	buf_free(&longline);
	buf_free(&tr);
	buf_free(&f.log);
}

/* The RETR window counts the bytes LIST announced: two messages of
 * 10 MB fill it (16 MB), so RETR 3 waits until the first reply is in;
 * then it goes out at once, before the second reply is read. */
static void
t_e2e_window_bytes(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		S("CAPA", "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"),
		USER_OK,
		PASS_OK,
		{ "STAT", "+OK 3 31457280\r\n", 0, F_COUNT, 3, NULL, NULL },
		S("UIDL", "+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n"),
		S("LIST",
		    "+OK\r\n1 10485760\r\n2 10485760\r\n3 10485760\r\n.\r\n"),
		{ "RETR 1", "+OK\r\none\r\n.\r\n", 0, F_COUNT, 2, NULL, NULL },
		{ "RETR 2", "+OK\r\ntwo\r\n.\r\n", 0, F_COUNT, 2, NULL, NULL },
		S("RETR 3", "+OK\r\nthree\r\n.\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { 0 };
	struct buf tr = { 0 };
	struct msglist l = { 0 };
	struct msginfo *v[3];
	struct msink ms;
	struct sink k;
	struct source *src;
	size_t i;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	ms_init(&ms, &k);
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(l.n == 3 && l.nosizes == 0);
	if (l.n == 3) {
		for (i = 0; i < 3; i++)
			v[i] = &l.v[i];
		CHECK(src->ops->fetch(src, v, 3, &k) == 0);
		CHECK(ms.ended[0] && ms.ended[1] && ms.ended[2]);
		CHECK(ms_is(&ms, 2, "three\n", 6));
	}
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	msglist_free(&l);
	ms_free(&ms);
	buf_free(&tr);
	buf_free(&f.log);
}

/* lazy_sizes: list sends UIDL alone, even with PIPELINING; sizes sends
 * LIST once. Without UIDL, LIST comes at once: it numbers the
 * messages. */
static void
t_e2e_lazy_sizes(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		S("CAPA", "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"),
		USER_OK,
		PASS_OK,
		/* Behind PASS: STAT and UIDL, not LIST. */
		{ "STAT", "+OK 2 30\r\n", 0, F_COUNT, 2, NULL, NULL },
		S("UIDL", "+OK\r\n2 b\r\n1 a\r\n.\r\n"),
		S("LIST", "+OK\r\n1 10\r\n2 20\r\n.\r\n"),
		S("UIDL", "-ERR not here\r\n"),
		S("LIST", "+OK\r\n1 30\r\n.\r\n"),
		S("UIDL", "+OK\r\n1 a\r\n.\r\n"),
		S("LIST", "+OK\r\n1 10\r\n2 20\r\n.\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { 0 };
	struct buf tr = { 0 };
	struct msglist l = { 0 };
	struct source *src;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.lazy_sizes = 1;
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(l.n == 2 && l.nosizes == 1);
	CHECK(tr.p != NULL && strstr(tr.p, "LIST") == NULL);
	if (l.n == 2) {
		CHECK(l.v[0].num == 1 && l.v[0].size == 0);
		CHECK_STR(l.v[1].uid, "b");
	}
	CHECK(src->ops->sizes(src, &l) == 0);
	CHECK(l.nosizes == 0);
	if (l.n == 2)
		CHECK(l.v[0].size == 10 && l.v[1].size == 20);
	/* Known now: no second LIST. */
	CHECK(src->ops->sizes(src, &l) == 0);

	/* No UIDL: the listing comes from LIST, sizes and all. */
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(l.n == 1 && l.nosizes == 0);
	if (l.n == 1)
		CHECK(l.v[0].uid == NULL && l.v[0].size == 30);

	/* LIST that disagrees with UIDL is caught when the sizes come. */
	CHECK(src->ops->list(src, 0, &l) == 0);
	CHECK(src->ops->sizes(src, &l) == -1);
	CHECK(src->fail == SRC_FDATA);
	CHECK_STR(src->err, "message 2 is in LIST but not in UIDL");
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	msglist_free(&l);
	buf_free(&tr);
	buf_free(&f.log);
}

/* A folder other than INBOX is refused, and the session goes on. */
static void
t_e2e_select(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		CAPA_NONE,
		USER_OK,
		PASS_OK,
		S("STAT", "+OK 0 0\r\n"),
		S("STAT", "+OK 2 300 extra\r\n"),
		S("QUIT", "+OK\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct folder_info fi;
	struct source *src;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->select(src, "Sent", 1, &fi) == -1);
	CHECK(src->fail == SRC_FREFUSED);
	CHECK_STR(src->err, "POP3 has no folder Sent");
	CHECK(src->ops->select(src, "INBOX", 0, &fi) == 0);
	CHECK(fi.exists == 0);
	CHECK(src->ops->select(src, "inbox", 1, &fi) == 0);
	CHECK(fi.exists == 2);
	CHECK(src->ops->select(src, "INBOX/x", 1, &fi) == -1);
	CHECK(src->fail == SRC_FREFUSED);
	CHECK(src->ops->quit(src) == 0);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end: listings that break the grammar or disagree.
 */

struct listing_case {
	const char *name;
	const char *uidl;
	const char *list; /* NULL: LIST is not reached */
	enum src_fail want;
	const char *err;
};

static const struct listing_case listing_cases[] = {
	{ "listing garbage uidl line", "+OK\r\n1 abc def\r\n.\r\n", NULL,
	    SRC_FDATA, "bad UIDL line: \"1 abc def\"" },
	{ "listing uidl 71 chars",
	    "+OK\r\n1 01234567890123456789012345678"
	    "90123456789012345678901234567890123456789"
	    "0\r\n.\r\n",
	    NULL, SRC_FDATA, "bad UIDL line" },
	{ "listing uidl control char quoted", "+OK\r\n1 a\033b c\r\n.\r\n",
	    NULL, SRC_FDATA, "\"1 a?b c\"" },
	{ "listing uidl too long line", NULL, NULL, SRC_FPROTO, "" },
	{ "listing garbage list line", "+OK\r\n1 a\r\n.\r\n",
	    "+OK\r\n1 abc\r\n.\r\n", SRC_FDATA, "bad LIST line: \"1 abc\"" },
	{ "listing list num zero", "+OK\r\n1 a\r\n.\r\n",
	    "+OK\r\n0 10\r\n.\r\n", SRC_FDATA, "bad LIST line" },
	{ "listing list err", "+OK\r\n1 a\r\n.\r\n", "-ERR busy\r\n",
	    SRC_FPROTO, "LIST failed: \"busy\"" },
	{ "listing uidl extra message", "+OK\r\n1 a\r\n2 b\r\n.\r\n",
	    "+OK\r\n1 10\r\n.\r\n", SRC_FDATA,
	    "message 2 is in UIDL but not in LIST" },
	{ "listing list extra message", "+OK\r\n1 a\r\n.\r\n",
	    "+OK\r\n1 10\r\n2 20\r\n.\r\n", SRC_FDATA,
	    "message 2 is in LIST but not in UIDL" },
	{ "listing numbers differ", "+OK\r\n1 a\r\n3 b\r\n.\r\n",
	    "+OK\r\n1 10\r\n2 20\r\n.\r\n", SRC_FDATA,
	    "message 2 is in LIST but not in UIDL" },
	/* A bad UIDL listing fails before LIST is sent. */
	{ "listing duplicate uid", "+OK\r\n1 a\r\n2 a\r\n.\r\n", NULL,
	    SRC_FDATA, "UIDL names uid a twice" },
	{ "listing duplicate uidl num", "+OK\r\n1 a\r\n1 b\r\n.\r\n", NULL,
	    SRC_FDATA, "UIDL names message 1 twice" },
	{ "listing duplicate list num", "+OK\r\n1 a\r\n2 b\r\n.\r\n",
	    "+OK\r\n2 10\r\n2 20\r\n.\r\n", SRC_FDATA,
	    "LIST names message 2 twice" },
	{ "listing stuffed line", "+OK\r\n..1 a\r\n.\r\n", NULL, SRC_FDATA,
	    "bad UIDL line: \".1 a\"" },
	{ "listing connection lost", "+OK\r\n1 a\r\n", NULL, SRC_FTEMP, "" },
	{ "listing out of order merged", "+OK\r\n3 c\r\n1 a\r\n2 b\r\n.\r\n",
	    "+OK\r\n2 20\r\n1 10\r\n3 30\r\n.\r\n", SRC_FNONE, "" },
	{ "listing empty", "+OK\r\n.\r\n", "+OK 0 messages\r\n.\r\n", SRC_FNONE,
	    "" },
};

static void
t_e2e_listing(const void *arg)
{
	const struct listing_case *c = arg;
	struct step st[8];
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 }, longline = { 0 };
	struct msglist l = { 0 };
	struct source *src;
	size_t n = 0;
	int rc, i;

	memset(st, 0, sizeof(st));
	st[n++] = (struct step)GREETING;
	st[n++] = (struct step)CAPA_NONE;
	st[n++] = (struct step)USER_OK;
	st[n++] = (struct step)PASS_OK;
	st[n].expect = "UIDL";
	st[n].reply = c->uidl;
	if (c->uidl == NULL) {
		buf_adds(&longline, "+OK\r\n1 ");
		for (i = 0; i < 1100; i++)
			buf_adds(&longline, "x");
		buf_adds(&longline, "\r\n.\r\n");
		st[n].reply = longline.p;
	}
	if (strcmp(c->name, "listing connection lost") == 0)
		st[n].flags = F_CLOSE;
	n++;
	if (c->list != NULL) {
		st[n].expect = "LIST";
		st[n++].reply = c->list;
	}
	src = start_session(&f, st, n, &cfg, &tr);
	CHECK(src->ops->open(src) == 0);
	/* The list is emptied first. */
	msglist_add(&l, &(struct msginfo) { .uid = "stale", .num = 9 });
	rc = src->ops->list(src, 0, &l);
	if (c->want == SRC_FNONE) {
		CHECK(rc == 0);
		for (i = 0; i < (int)l.n; i++) {
			CHECK(l.v[i].num == (uint32_t)i + 1);
			CHECK(l.v[i].size == 10 * ((uint64_t)i + 1));
			CHECK(l.v[i].uid != NULL && l.v[i].uid[0] == 'a' + i
			    && l.v[i].uid[1] == '\0');
		}
	} else {
		CHECK(rc == -1);
		CHECK(src->fail == c->want);
		CHECK(strstr(src->err, c->err) != NULL);
		CHECK(l.n == 0 && l.v == NULL);
		if (t_case_failed)
			fprintf(stderr, "err: %d %s\n", src->fail, src->err);
	}
	src->ops->free(src);
	CHECK(fake_end(&f) == 0 || c->uidl == NULL);
	msglist_free(&l);
	buf_free(&longline);
	buf_free(&tr);
	buf_free(&f.log);
}

/* More than 300 000 messages: the listing is refused. */
static void
t_e2e_huge_listing(const void *arg)
{
	struct step st[] = {
		GREETING,
		CAPA_NONE,
		USER_OK,
		PASS_OK,
		{ "UIDL", NULL, 0, 0, 0, NULL, NULL },
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 }, big = { 0 };
	struct msglist l = { 0 };
	struct source *src;
	char line[32];
	int i, n;

	(void)arg;
	buf_adds(&big, "+OK\r\n");
	for (i = 1; i <= 300001; i++) {
		n = snprintf(line, sizeof(line), "%d u\r\n", i);
		buf_add(&big, line, n);
	}
	buf_adds(&big, ".\r\n");
	st[4].reply = big.p;
	st[4].replylen = big.len;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.trace = NULL;
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->list(src, 0, &l) == -1);
	CHECK(src->fail == SRC_FPROTO);
	CHECK(strstr(src->err, "listing too long") != NULL);
	CHECK(l.n == 0);
	src->ops->free(src);
	fake_end(&f);
	buf_free(&big);
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * End-to-end over TLS: STLS, and implicit TLS.
 */
static void
t_e2e_stls(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		S("CAPA", "+OK\r\nSTLS\r\nSASL LOGIN\r\nPIPELINING\r\n.\r\n"),
		SF("STLS", "+OK begin TLS\r\n", F_STLS),
		/* Capabilities after TLS replace the ones before. */
		S("CAPA", "+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n"),
		S("AUTH PLAIN AHVzZXIAc2VjcmV0", "+OK\r\n"),
		S("UIDL", "+OK\r\n1 a\r\n.\r\n"),
		S("LIST", "+OK\r\n1 10\r\n.\r\n"),
		S("QUIT", "+OK\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1 };
	struct buf tr = { 0 };
	struct msglist l = { 0 };
	struct source *src;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	cfg.tls = SRC_TLS_STARTTLS;
	cfg.tlsopts.verify = 0;
	cfg.allow_plaintext = 0;
	cfg.auth = SRC_AUTH_AUTO;
	CHECK(src->ops->open(src) == 0);
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	CHECK(conn_is_tls(src->conn) == 1);
	CHECK_STR(src->caps, "SASL PLAIN USER");
	CHECK_STR(src->mech, "PLAIN");
	/* Not pipelined: PIPELINING was offered only before TLS. */
	CHECK(src->ops->list(src, 0, &l) == 0 && l.n == 1);
	CHECK(src->ops->quit(src) == 0);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	msglist_free(&l);
	buf_free(&tr);
	buf_free(&f.log);
}

static void
t_e2e_implicit(const void *arg)
{
	static const struct step st[] = {
		GREETING,
		S("CAPA", "+OK\r\nUSER\r\n.\r\n"),
		USER_OK,
		PASS_OK,
		S("RETR 1", r2),
		S("QUIT", "+OK\r\n"),
	};
	struct source_cfg cfg;
	struct fake f = { .strict = 1, .implicit = 1 };
	struct buf tr = { 0 };
	struct msginfo m = { .num = 1 }, *v = &m;
	struct msink ms;
	struct sink k;
	struct source *src;

	(void)arg;
	src = start_session(&f, st, NELEM(st), &cfg, &tr);
	ms_init(&ms, &k);
	cfg.tls = SRC_TLS_IMPLICIT;
	cfg.tlsopts.verify = 0;
	cfg.allow_plaintext = 0;
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->fetch(src, &v, 1, &k) == 0);
	CHECK(ms_is(&ms, 0, m2, sizeof(m2) - 1));
	CHECK(src->ops->quit(src) == 0);
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	ms_free(&ms);
	buf_free(&tr);
	buf_free(&f.log);
}

/*
 * relist: "UIDL n" and "LIST n" for each message asked for, pipelined
 * with PIPELINING, one at a time without; "LIST n" alone for a server
 * without UIDL; a message refused is left out; a reply about another
 * message breaks the grammar.
 */

/* A step of a relist script: with count, the server first waits for
 * that many commands to be buffered (all sent before any reply). */
#define SC(e, r, count)                                                        \
	{                                                                      \
		e, r, 0, (count) ? F_COUNT : 0, count, NULL, NULL              \
	}
#define RSTEPS(...)                                                            \
	(const struct step[]) { __VA_ARGS__ },                                 \
	    NELEM(((const struct step[]) { __VA_ARGS__ }))
#define NUMS(...)                                                              \
	(const uint32_t[]) { __VA_ARGS__ },                                    \
	    NELEM(((const uint32_t[]) { __VA_ARGS__ }))

struct relist_case {
	const char *name;
	int pipelining; /* the server offers PIPELINING */
	int uidl; /* the server has UIDL */
	const uint32_t *nums;
	size_t n;
	const struct step *steps; /* the relist's part of the script */
	size_t nsteps;
	int rc;
	enum src_fail fail;
	const char *err; /* prefix of src->err when rc is -1 */
	const char *want; /* the list: "num uid size", uid "-" for NULL */
	const char *wire; /* what the server received, from the end of
			   * the listing ("LIST\r\n") on */
};

static const struct relist_case relist_cases[] = {
	{ "e2e relist pipelined", 1, 1, NUMS(2, 5, 7),
	    RSTEPS(SC("UIDL 2", "+OK 2 u2\r\n", 6),
		S("LIST 2", "+OK 2 200\r\n"), S("UIDL 5", "+OK 5 u5\r\n"),
		S("LIST 5", "+OK 5 500 x\r\n"), S("UIDL 7", "+OK 7 u7\r\n"),
		S("LIST 7", "+OK 7 700\r\n")),
	    0, SRC_FNONE, NULL, "2 u2 200,5 u5 500,7 u7 700",
	    "LIST\r\nUIDL 2\r\nLIST 2\r\nUIDL 5\r\nLIST 5\r\nUIDL 7\r\n"
	    "LIST 7\r\nQUIT\r\n" },
	{ "e2e relist one at a time", 0, 1, NUMS(2, 5),
	    RSTEPS(S("UIDL 2", "+OK 2 u2\r\n"), S("LIST 2", "+OK 2 200\r\n"),
		S("UIDL 5", "+OK 5 u5\r\n"), S("LIST 5", "+OK 5 500\r\n")),
	    0, SRC_FNONE, NULL, "2 u2 200,5 u5 500",
	    "LIST\r\nUIDL 2\r\nLIST 2\r\nUIDL 5\r\nLIST 5\r\nQUIT\r\n" },
	{ "e2e relist err left out", 1, 1, NUMS(2, 5, 7),
	    RSTEPS(SC("UIDL 2", "+OK 2 u2\r\n", 6),
		S("LIST 2", "+OK 2 200\r\n"),
		S("UIDL 5", "-ERR no such message\r\n"),
		S("LIST 5", "-ERR no such message\r\n"),
		S("UIDL 7", "+OK 7 u7\r\n"), S("LIST 7", "+OK 7 700\r\n")),
	    0, SRC_FNONE, NULL, "2 u2 200,7 u7 700", NULL },
	{ "e2e relist one of two err", 1, 1, NUMS(2, 5, 7),
	    RSTEPS(SC("UIDL 2", "+OK 2 u2\r\n", 6),
		S("LIST 2", "+OK 2 200\r\n"), S("UIDL 5", "-ERR no\r\n"),
		S("LIST 5", "+OK 5 500\r\n"), S("UIDL 7", "+OK 7 u7\r\n"),
		S("LIST 7", "-ERR no\r\n")),
	    0, SRC_FNONE, NULL, "2 u2 200", NULL },
	{ "e2e relist uidl other number", 1, 1, NUMS(2, 5),
	    RSTEPS(SC("UIDL 2", "+OK 2 u2\r\n", 4),
		S("LIST 2", "+OK 2 200\r\n"), S("UIDL 5", "+OK 6 u6\r\n"),
		S("LIST 5", NULL)),
	    -1, SRC_FDATA, "the server answered UIDL 5 about message 6", "",
	    NULL },
	{ "e2e relist list other number", 0, 1, NUMS(2, 5),
	    RSTEPS(S("UIDL 2", "+OK 2 u2\r\n"), S("LIST 2", "+OK 3 200\r\n")),
	    -1, SRC_FDATA, "the server answered LIST 2 about message 3", "",
	    NULL },
	{ "e2e relist bad uidl reply", 0, 1, NUMS(2),
	    RSTEPS(S("UIDL 2", "+OK 2\r\n")), -1, SRC_FDATA,
	    "bad reply to UIDL 2: \"2\"", "", NULL },
	{ "e2e relist bad list reply", 0, 1, NUMS(2),
	    RSTEPS(S("UIDL 2", "+OK 2 u2\r\n"), S("LIST 2", "+OK 2 big\r\n")),
	    -1, SRC_FDATA, "bad reply to LIST 2: \"2 big\"", "", NULL },
	{ "e2e relist uid twice", 0, 1, NUMS(2, 5),
	    RSTEPS(S("UIDL 2", "+OK 2 same\r\n"), S("LIST 2", "+OK 2 200\r\n"),
		S("UIDL 5", "+OK 5 same\r\n"), S("LIST 5", "+OK 5 500\r\n")),
	    -1, SRC_FDATA, "UIDL names uid same twice", "", NULL },
	{ "e2e relist no uidl", 0, 0, NUMS(2, 5),
	    RSTEPS(S("LIST 2", "+OK 2 200\r\n"), S("LIST 5", "+OK 5 500\r\n")),
	    0, SRC_FNONE, NULL, "2 - 200,5 - 500",
	    "LIST\r\nLIST 2\r\nLIST 5\r\nQUIT\r\n" },
	{ "e2e relist no uidl pipelined", 1, 0, NUMS(2, 5, 7),
	    RSTEPS(SC("LIST 2", "+OK 2 200\r\n", 3),
		S("LIST 5", "-ERR no such message\r\n"),
		S("LIST 7", "+OK 7 700\r\n")),
	    0, SRC_FNONE, NULL, "2 - 200,7 - 700",
	    "LIST\r\nLIST 2\r\nLIST 5\r\nLIST 7\r\nQUIT\r\n" },
	{ "e2e relist nothing", 1, 1, NULL, 0, NULL, 0, 0, SRC_FNONE, NULL, "",
	    "LIST\r\nQUIT\r\n" },
};

/* "num uid size" for each entry, comma-separated. */
static void
render_list(const struct msglist *l, char *out, size_t size)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < l->n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%u %s %llu",
		    i > 0 ? "," : "", l->v[i].num,
		    l->v[i].uid ? l->v[i].uid : "-",
		    (unsigned long long)l->v[i].size);
}

static void
t_e2e_relist(const void *arg)
{
	const struct relist_case *c = arg;
	struct step st[32];
	struct source_cfg cfg;
	struct fake f = { .strict = !c->pipelining };
	struct buf tr = { 0 };
	struct msglist l = { 0 }, out = { 0 };
	struct source *src;
	const char *tail;
	char got[256];
	size_t n = 0, i;
	int rc;

	st[n++] = (struct step)GREETING;
	if (c->pipelining)
		st[n++] = (struct step)S(
		    "CAPA", "+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n");
	else
		st[n++] = (struct step)CAPA_NONE;
	st[n++] = (struct step)USER_OK;
	st[n++] = (struct step)PASS_OK;
	/* With PIPELINING STAT, UIDL and LIST go behind PASS. */
	if (c->pipelining)
		st[n++] = (struct step)S("STAT", "+OK 3 1400\r\n");
	st[n++] = (struct step)S("UIDL",
	    c->uidl ? "+OK\r\n2 u2\r\n5 u5\r\n7 u7\r\n.\r\n"
		    : "-ERR unknown command\r\n");
	st[n++]
	    = (struct step)S("LIST", "+OK\r\n2 200\r\n5 500\r\n7 700\r\n.\r\n");
	for (i = 0; i < c->nsteps; i++)
		st[n++] = c->steps[i];
	if (c->rc == 0)
		st[n++] = (struct step)S("QUIT", NULL);

	src = start_session(&f, st, n, &cfg, &tr);
	CHECK(src->ops->relist != NULL);
	CHECK(src->ops->open(src) == 0);
	CHECK(src->ops->list(src, 0, &l) == 0 && l.n == 3);
	/* Whatever out held goes first. */
	msglist_add(&out, &(struct msginfo) { .uid = "old", .num = 1 });
	rc = src->ops->relist(src, c->nums, c->n, &out);
	CHECK(rc == c->rc);
	if (rc != c->rc)
		; /* failed already */
	else if (rc == 0) {
		CHECK(out.nosizes == 0 && out.window == 0);
		for (i = 0; i < out.n; i++)
			CHECK(out.v[i].flags == 0 && out.v[i].date == 0);
		render_list(&out, got, sizeof(got));
		CHECK_STR(got, c->want);
		CHECK(src->ops->quit(src) == 0);
	} else {
		CHECK(src->fail == c->fail);
		CHECK(strncmp(src->err, c->err, strlen(c->err)) == 0);
		CHECK(out.n == 0);
		/* The session is unusable now. */
		CHECK(src->ops->quit(src) == -1);
	}
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", src->err);
	src->ops->free(src);
	CHECK(fake_end(&f) == 0);
	if (c->wire != NULL) {
		/* The bytes the server received after the listing. */
		tail = NULL;
		for (i = 0; i + 6 <= f.log.len; i++)
			if (memcmp(f.log.p + i, "LIST\r\n", 6) == 0)
				tail = f.log.p + i;
		CHECK(tail != NULL
		    && (size_t)(f.log.p + f.log.len - tail) == strlen(c->wire)
		    && memcmp(tail, c->wire, strlen(c->wire)) == 0);
	}
	msglist_free(&l);
	msglist_free(&out);
	buf_free(&tr);
	buf_free(&f.log);
}

/* Nothing connects: the class says so. */
static void
t_e2e_refused_port(const void *arg)
{
	struct source_cfg cfg;
	struct fake f = { 0 };
	struct buf tr = { 0 };
	struct source *src;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	(void)arg;
	/* A port that was just free. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sin, &sl) == 0);
	snprintf(f.port, sizeof(f.port), "%u", ntohs(sin.sin_port));
	close(fd);
	cfg_init(&cfg, &f, &tr);
	src = pop3_new(&cfg);
	CHECK(src->ops->open(src) == -1);
	CHECK(src->fail == SRC_FHOST);
	CHECK(src->ops->list(src, 0, &(struct msglist) { 0 }) == -1);
	src->ops->free(src);
	src = pop3_new(&cfg);
	CHECK(src->ops->quit(src) == -1);
	CHECK(src->fail == SRC_FPROTO);
	src->ops->free(src);
	src = pop3_new(&cfg);
	src->ops->free(NULL);
	src->ops->free(src);
	buf_free(&tr);
}

/* The decoder's speed, for the record (not a pass/fail criterion under
 * sanitizers). */
static void
t_dec_speed(const void *arg)
{
	struct pop3_dec d;
	struct buf wire = { 0 };
	struct timespec t0, t1;
	char *out;
	size_t off, olen, n, total = 0;
	double secs;
	int done, i;

	(void)arg;
	for (i = 0; i < 100000; i++)
		buf_adds(&wire,
		    "Lorem ipsum dolor sit amet, consectetur "
		    "adipiscing elit, sed do eiusmod tempor\r\n");
	out = xmalloc(65536);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 5; i++) {
		pop3_dec_init(&d);
		for (off = 0; off < wire.len; off += n) {
			n = wire.len - off > 65536 ? 65536 : wire.len - off;
			n = pop3_dec_feed(
			    &d, wire.p + off, n, out, &olen, &done);
			total += olen;
		}
		CHECK(!done);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "decoder: %.0f MB/s\n",
	    secs > 0 ? 5.0 * wire.len / secs / 1e6 : 0.0);
	CHECK(total == 5 * (wire.len - 100000));
	free(out);
	buf_free(&wire);
}

int
main(void)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < NELEM(status_cases); i++)
		T_RUN(status_cases[i].name, t_status, &status_cases[i]);
	for (i = 0; i < NELEM(uidl_cases); i++)
		T_RUN(uidl_cases[i].name, t_uidl, &uidl_cases[i]);
	T_RUN("uidl nul byte bad", t_uidl_nul, NULL);
	for (i = 0; i < NELEM(pair_cases); i++)
		T_RUN(pair_cases[i].name, t_pair, &pair_cases[i]);
	for (i = 0; i < NELEM(stamp_cases); i++)
		T_RUN(stamp_cases[i].name, t_stamp, &stamp_cases[i]);
	for (i = 0; i < NELEM(dec_cases); i++)
		T_RUN(dec_cases[i].name, t_dec, &dec_cases[i]);
	T_RUN("dec long lines", t_dec_long, NULL);
	T_RUN("dec random bodies", t_dec_random, NULL);
	T_RUN("dec speed", t_dec_speed, NULL);
	T_RUN("e2e basic session", t_e2e_basic, NULL);
	T_RUN("e2e pipelining", t_e2e_pipelining, NULL);
	T_RUN("e2e no uidl", t_e2e_no_uidl, NULL);
	for (i = 0; i < NELEM(refuse_cases); i++)
		T_RUN(refuse_cases[i].name, t_e2e_refuse, &refuse_cases[i]);
	for (i = 0; i < NELEM(badcfg_cases); i++)
		T_RUN(badcfg_cases[i].name, t_e2e_badcfg, &badcfg_cases[i]);
	for (i = 0; i < NELEM(autherr_cases); i++)
		T_RUN(autherr_cases[i].name, t_e2e_autherr, &autherr_cases[i]);
	for (i = 0; i < NELEM(open_cases); i++)
		T_RUN(open_cases[i].name, t_e2e_open, &open_cases[i]);
	for (i = 0; i < NELEM(auto_cases); i++)
		T_RUN(auto_cases[i].name, t_e2e_auto, &auto_cases[i]);
	T_RUN("e2e long initial response", t_e2e_long_ir, NULL);
	T_RUN("e2e scram forged signature", t_e2e_scram_forged, NULL);
	for (i = 0; i < NELEM(early_cases); i++)
		T_RUN(early_cases[i].name, t_e2e_early, &early_cases[i]);
	for (i = 0; i < NELEM(sinkfail_cases); i++)
		T_RUN(
		    sinkfail_cases[i].name, t_e2e_sinkfail, &sinkfail_cases[i]);
	for (i = 0; i < NELEM(sess_cases); i++)
		T_RUN(sess_cases[i].name, t_e2e_sess, &sess_cases[i]);
	T_RUN("e2e select", t_e2e_select, NULL);
	for (i = 0; i < NELEM(listing_cases); i++)
		T_RUN(listing_cases[i].name, t_e2e_listing, &listing_cases[i]);
	T_RUN("e2e listing over 300000", t_e2e_huge_listing, NULL);
	T_RUN("e2e stls", t_e2e_stls, NULL);
	T_RUN("e2e implicit tls", t_e2e_implicit, NULL);
	T_RUN("e2e lazy sizes", t_e2e_lazy_sizes, NULL);
	T_RUN("e2e window by bytes", t_e2e_window_bytes, NULL);
	for (i = 0; i < NELEM(relist_cases); i++)
		T_RUN(relist_cases[i].name, t_e2e_relist, &relist_cases[i]);
	T_RUN("e2e connection refused", t_e2e_refused_port, NULL);
	return T_DONE();
}
