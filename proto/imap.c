/*
 * IMAP client: RFC 3501 and RFC 9051, with STARTTLS, SASL-IR (RFC 4959),
 * LITERAL+ and LITERAL- (RFC 7888) and UIDPLUS (RFC 4315). See imap.h
 * and source.h.
 *
 * Every command goes out tagged "A<n>" and is finished by reading
 * responses until the tagged one arrives; untagged responses in between
 * are applied as they come (EXISTS, EXPUNGE, CAPABILITY, BYE, response
 * codes) or collected for the command in progress (LIST, FETCH, SEARCH).
 * A response is read line by line; where a line ends in a literal the
 * literal is kept (small), dropped (larger), or, when it is the BODY[]
 * of a message being fetched, streamed to the caller's sink through the
 * CRLF decoder. The bytes kept of one response are handed whole to the
 * pure parsers of imap_parse.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../tls/conn.h"
#include "../tls/buf.h"
#include "../tls/util.h"
#include "imap.h"
#include "imap_parse.h"
#include "line.h"
#include "sasl.h"

#define IMAP_LINEMAX CONN_LINE_MAX /* one response line */
#define IMAP_KEEPMAX (64 * 1024) /* a literal kept in memory */
#define IMAP_RESPMAX (1024 * 1024) /* non-body bytes of one response */
/* Messages in one folder: 300 000 keep a hostile listing under SPEC's
 * 64 MB bound. */
#define IMAP_MSGMAX 300000
/* Untagged responses to one command, and their bytes (other than
 * message bodies) in a whole session (SPEC "Time"): a server that sends
 * more is flooding, and the session ends, as a slow trickle ends at the
 * end of the reply's time. A listing needs one response per message:
 * a folder of more than IMAP_LISTCHUNK messages is listed in parts. */
#define IMAP_UNTAGGEDMAX 100000
#define IMAP_SESSIONMAX (64ULL * 1024 * 1024)
#define IMAP_LISTCHUNK 50000
/* The UIDs a first fetch's listing behind the login asks for (pre_list):
 * the whole of most folders, and never more than a listing window. */
#define IMAP_PRECHUNK 4096
/* Messages per UID SEARCH of a CONDSTORE resync: 5000 UIDs of 10 digits
 * keep a SEARCH line under IMAP_LINEMAX. */
#define IMAP_GAPCHUNK 5000
/*
 * UIDs per UID FETCH, STORE or EXPUNGE command. Even without ranges 500
 * UIDs keep a command under 5.6 KB, below the 8000 octets RFC 7162
 * section 4 asks clients to stay under. Two commands are in flight at
 * once while fetching, so the server streams the next batch while the
 * last bodies of one are still arriving, and a failure never leaves
 * more than two commands to be answered.
 */
#define IMAP_BATCH 500
#define IMAP_PIPE 2
/* Folders a peek asks about in one round trip (a STATUS each, and a
 * LIST where the delimiter is not known yet), and the bytes of their
 * commands at most: the answers to a window fit in the socket buffers,
 * so that sending it cannot wait on the server's writing. */
#define IMAP_PEEKWIN 100
#define IMAP_PEEKBYTES 32768
/* Commands in flight at most: the fetch's IMAP_PIPE, the login with the
 * first folder's LIST and EXAMINE behind it, or a peek's window. */
#define IMAP_PENDMAX (6 + 2 * IMAP_PEEKWIN)
#define IMAP_SASLSTEPS 16 /* challenges in one AUTHENTICATE */
#define IMAP_LITMINUS 4096 /* LITERAL- non-synchronizing limit */
#define IMAP_CHUNK 16384 /* decoded body bytes per sink write */

/* Capabilities acted upon. */
#define CAP_STARTTLS 0x0001
#define CAP_LOGINDISABLED 0x0002
#define CAP_SASLIR 0x0004
#define CAP_LITERALPLUS 0x0008
#define CAP_LITERALMINUS 0x0010
#define CAP_UIDPLUS 0x0020
#define CAP_IDLE 0x0040
#define CAP_NOTIFY 0x0080
#define CAP_COMPRESS 0x8000
#define CAP_AUTH_PLAIN 0x0100
#define CAP_AUTH_LOGIN 0x0200
#define CAP_AUTH_CRAM_MD5 0x0400
#define CAP_AUTH_SCRAM_SHA_1 0x0800
#define CAP_AUTH_SCRAM_SHA_256 0x1000
#define CAP_AUTH_XOAUTH2 0x2000
#define CAP_AUTH_OAUTHBEARER 0x4000
#define CAP_CONDSTORE 0x10000
#define CAP_QRESYNC 0x20000
#define CAP_LISTEXT 0x40000
#define CAP_SPECIALUSE 0x80000
#define CAP_NAMESPACE 0x100000
#define CAP_ESEARCH 0x200000
#define CAP_LISTSTATUS 0x400000

/* What untagged responses of the command in progress are collected
 * for. */
enum imap_ctx {
	CTX_NONE,
	CTX_SELECT, /* [UIDVALIDITY n] */
	CTX_LIST, /* LIST: the hierarchy delimiter */
	CTX_MSGS, /* FETCH (UID RFC822.SIZE ...): the listing */
	CTX_FETCH, /* FETCH (UID BODY[]): messages into the sink */
	CTX_SEARCH, /* SEARCH: UIDs */
	CTX_EXPUNGE, /* EXPUNGE: count ours */
	CTX_MAILBOXES, /* LIST "" "*": each mailbox to the caller */
	CTX_NAMESPACE, /* NAMESPACE: the personal namespace */
	CTX_CHANGES, /* FETCH (UID FLAGS): to the change sink */
	CTX_GAPS, /* SEARCH, ESEARCH: the UIDs between, as vanished */
	CTX_PEEK /* STATUS, LIST: to the mailboxes known (peek) */
};

/*
 * A mailbox as the session learned of it: its delimiter from a LIST,
 * and what a STATUS (or LIST-STATUS) said of it, until a peek reports
 * that.
 */
struct known_mbx {
	char *name; /* as the server sent it */
	int listed; /* a LIST gave delim */
	char delim;
	int peeked; /* a STATUS came, not reported yet: */
	struct imap_mbstatus st; /* its items (st.name not kept) */
};

/* A command in flight and, once done, its tagged response. */
struct pend {
	unsigned tag;
	int done;
	enum imap_status st;
	int unavailable; /* response code [UNAVAILABLE] (RFC 5530) */
	char text[256]; /* server text, quoted */
};

/* A UID of the caller's array and its index there. */
struct uidix {
	uint32_t uid;
	size_t i;
};

struct fetchctx {
	const struct sink *sink;
	uint64_t *received; /* the source's count of the message's bytes */
	struct uidix *ix; /* sorted by UID, UIDs unique */
	size_t nix;
	char *done; /* per index of the caller's array */
	/* The response being read. */
	int handled; /* its BODY[] literal was consumed */
	int streamed; /* ... into the sink, for index cur */
	size_t cur;
	uint32_t curuid;
	struct imap_crlf crlf;
	char out[IMAP_CHUNK + 1];
};

struct imap {
	struct buf rbuf; /* the response being read */
	struct buf wbuf; /* the command being written; wiped */
	struct buf tbuf; /* its trace line */
	uint64_t nonbody; /* bytes of the response other than bodies */
	uint32_t nuntagged; /* untagged responses since a tagged one */
	uint64_t untagged_bytes; /* their bytes in the session, no bodies */
	unsigned tagn;
	struct pend pend[IMAP_PENDMAX];
	size_t npend;
	/* The first folder (cfg->first_folder), pipelined behind the
	 * login: its LIST (ltag, 0 for INBOX) and EXAMINE (etag), sent
	 * with the client's last authentication message and answered
	 * during open; the first select of that folder takes the answers
	 * (list, sel) instead of asking again. */
	struct {
		int state; /* 0 none, 1 sent, 2 answered */
		int armed; /* the login succeeded: read them before any
			    * other answer (wait_tag) */
		unsigned ctag, ltag, etag;
		struct pend list, sel;
		int gotlist;
		char delim;
		/* With cfg->first_list: the listing of UIDs 1 to
		 * IMAP_PRECHUNK (ftag; msgs, listed: its answer was OK)
		 * and COMPRESS (ztag). */
		unsigned ftag, ztag;
		struct msglist msgs;
		int listed;
	} pre;
	/* SCRAM's first message, sent before the greeting was read
	 * (early_send): authenticate takes it when it would send the
	 * same, else early_drop withdraws it. */
	struct {
		unsigned tag; /* 0: none in flight */
		enum src_auth mech;
		struct sasl *sasl;
	} early;
	unsigned caps;
	int capseen; /* a capability list arrived since reset */
	int preauth;
	int byeseen;
	/* The tag of COMPRESS DEFLATE in flight, 0 none: compression
	 * starts right after its tagged OK, whenever that is read (Dovecot
	 * may answer it before a command sent earlier, whose answer then
	 * comes compressed). */
	unsigned ztag;
	char bye[256];
	/* The selected mailbox. */
	int selected;
	uint32_t exists;
	uint32_t uidvalidity;
	uint32_t uidnext; /* 0: not sent */
	uint64_t highestmodseq; /* [HIGHESTMODSEQ n]; 0: not sent */
	int nomodseq; /* [NOMODSEQ] */
	uint32_t *seq; /* UID of each message number, 0 unknown */
	size_t seqcap;
	unsigned long expunges; /* EXPUNGE and VANISHED seen: numbers moved */
	/* The command in progress. */
	enum imap_ctx ctx;
	int gotlist;
	char delim;
	struct msglist *out; /* CTX_MSGS */
	uint32_t listfrom; /* CTX_MSGS: drop UIDs below (list_parts) */
	uint32_t listlow; /* CTX_MSGS: the lowest UID of this command */
	struct fetchctx *fx; /* CTX_FETCH */
	uint32_t *found; /* CTX_SEARCH */
	size_t nfound, foundcap;
	const struct uidix *ours; /* CTX_EXPUNGE */
	size_t nours;
	size_t gone;
	/* IDLE (RFC 2177): the tag of the IDLE command while it runs, and
	 * whether EXISTS or RECENT told of new mail. */
	unsigned idletag;
	int news;
	int notify; /* NOTIFY SET was accepted */
	/* Mirror: QRESYNC enabled (ENABLED QRESYNC came); where changes
	 * go (CTX_CHANGES, and FETCH and VANISHED (EARLIER) during a
	 * select_sync with QRESYNC); the next UID a CTX_GAPS search may
	 * name without a gap before it. */
	int qresync_on;
	const struct change_sink *chg;
	uint64_t gapnext;
	int (*mbfn)(void *, const struct mailbox *); /* CTX_MAILBOXES */
	void *mbarg;
	struct src_namespace *ns; /* CTX_NAMESPACE */
	/* The mailboxes known, the first nsorted of them sorted by name
	 * (see known_find); the name of the one selected. */
	struct known_mbx *kn;
	size_t nkn, capkn, nsorted;
	char *selname;
};

static const struct {
	const char *name;
	unsigned bit;
} capnames[] = {
	{ "STARTTLS", CAP_STARTTLS },
	{ "LOGINDISABLED", CAP_LOGINDISABLED },
	{ "SASL-IR", CAP_SASLIR },
	{ "LITERAL+", CAP_LITERALPLUS },
	{ "LITERAL-", CAP_LITERALMINUS },
	{ "UIDPLUS", CAP_UIDPLUS },
	{ "IDLE", CAP_IDLE },
	{ "NOTIFY", CAP_NOTIFY },
	{ "COMPRESS=DEFLATE", CAP_COMPRESS },
	{ "AUTH=PLAIN", CAP_AUTH_PLAIN },
	{ "AUTH=LOGIN", CAP_AUTH_LOGIN },
	{ "AUTH=CRAM-MD5", CAP_AUTH_CRAM_MD5 },
	{ "AUTH=SCRAM-SHA-1", CAP_AUTH_SCRAM_SHA_1 },
	{ "AUTH=SCRAM-SHA-256", CAP_AUTH_SCRAM_SHA_256 },
	{ "AUTH=XOAUTH2", CAP_AUTH_XOAUTH2 },
	{ "AUTH=OAUTHBEARER", CAP_AUTH_OAUTHBEARER },
	{ "CONDSTORE", CAP_CONDSTORE },
	{ "QRESYNC", CAP_QRESYNC | CAP_CONDSTORE },
	{ "LIST-EXTENDED", CAP_LISTEXT },
	{ "SPECIAL-USE", CAP_SPECIALUSE },
	{ "NAMESPACE", CAP_NAMESPACE },
	{ "ESEARCH", CAP_ESEARCH },
	{ "LIST-STATUS", CAP_LISTSTATUS },
};

static void
trace_literal(struct source *src, int dir, uint64_t n)
{
	char s[64];
	int len;

	len = snprintf(s, sizeof(s), "[literal %" PRIu64 " bytes]", n);
	line_trace(src, dir, s, (size_t)len);
}

static int
uidix_cmp(const void *a, const void *b)
{
	const struct uidix *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Sort ix[0..n-1] by UID and drop duplicates (the first index is
 * kept). Returns the count left. */
static size_t
uidix_sort(struct uidix *ix, size_t n)
{
	size_t i, k;

	qsort(ix, n, sizeof(*ix), uidix_cmp);
	for (i = k = 0; i < n; i++)
		if (k == 0 || ix[k - 1].uid != ix[i].uid)
			ix[k++] = ix[i];
	return k;
}

/* The caller's messages sorted by UID, duplicates dropped (the first
 * index is kept). Returns the count. */
static size_t
uidix_make(struct msginfo *const *msgs, size_t n, struct uidix **out)
{
	struct uidix *ix;
	size_t i;

	ix = xcalloc(n, sizeof(*ix));
	for (i = 0; i < n; i++) {
		ix[i].uid = msgs[i]->num;
		ix[i].i = i;
	}
	*out = ix;
	return uidix_sort(ix, n);
}

/* The same for UIDs nums[0..n-1] (n > 0). */
static size_t
uidix_nums(const uint32_t *nums, size_t n, struct uidix **out)
{
	struct uidix *ix;
	size_t i;

	ix = xcalloc(n, sizeof(*ix));
	for (i = 0; i < n; i++) {
		ix[i].uid = nums[i];
		ix[i].i = i;
	}
	*out = ix;
	return uidix_sort(ix, n);
}

static const struct uidix *
uidix_find(const struct uidix *ix, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ix[mid].uid == uid)
			return &ix[mid];
		if (ix[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* How many of ix have a UID in lo..hi. */
static size_t
uidix_count(const struct uidix *ix, size_t n, uint32_t lo, uint32_t hi)
{
	size_t a = 0, b = n, mid, first;

	while (a < b) {
		mid = a + (b - a) / 2;
		if (ix[mid].uid < lo)
			a = mid + 1;
		else
			b = mid;
	}
	first = a;
	for (b = n; a < b;) {
		mid = a + (b - a) / 2;
		if (ix[mid].uid <= hi)
			a = mid + 1;
		else
			b = mid;
	}
	return a - first;
}

/* The UID set of ix[start..start+n-1]. */
static char *
uidix_set(const struct uidix *ix, size_t start, size_t n)
{
	uint32_t *v;
	size_t i;
	char *s;

	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = ix[start + i].uid;
	s = imap_uidset(v, n);
	free(v);
	return s;
}

/*
 * Reading responses.
 */

/* A read failed: after "* BYE" the server closing is what it said it
 * would do. */
static int
readfail(struct source *src)
{
	struct imap *im = src->priv;

	if (im->byeseen && conn_errcode(src->conn) == CONN_ECLOSED)
		return src_fail(src, SRC_FTEMP,
		    "server closed the connection: \"%s\"", im->bye);
	if (conn_errcode(src->conn) == CONN_ETOOLONG)
		return src_fail(src, SRC_FPROTO,
		    "server sent a response line longer than %d bytes",
		    IMAP_LINEMAX);
	return src_connfail(src, "reading from the server");
}

/* Literals can only be part of untagged data; status responses and
 * continuation requests carry text, which may end in "}" (RFC 3501
 * section 9, resp-text). */
static int
may_have_literals(const char *line, size_t len)
{
	size_t i;

	if (len < 2 || line[0] != '*' || line[1] != ' ')
		return 0;
	for (i = 2; i < len && line[i] != ' '; i++)
		;
	return !(imap_eqi(line + 2, i - 2, "OK")
	    || imap_eqi(line + 2, i - 2, "NO")
	    || imap_eqi(line + 2, i - 2, "BAD")
	    || imap_eqi(line + 2, i - 2, "BYE")
	    || imap_eqi(line + 2, i - 2, "PREAUTH"));
}

static int
keep_fn(void *arg, const char *buf, size_t len)
{
	buf_add(arg, buf, len);
	return 0;
}

static int
null_fn(void *arg, const char *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

static int
body_fn(void *arg, const char *buf, size_t len)
{
	struct fetchctx *fx = arg;
	size_t k, o;

	while (len > 0) {
		k = len < IMAP_CHUNK ? len : IMAP_CHUNK;
		*fx->received += k;
		o = imap_crlf_feed(&fx->crlf, buf, k, fx->out);
		if (o > 0 && fx->sink->write(fx->sink->arg, fx->out, o) == -1)
			return -1;
		buf += k;
		len -= k;
	}
	return 0;
}

static void
lit_placeholder(struct imap *im, uint64_t n)
{
	char s[32];
	int len;

	len = snprintf(s, sizeof(s), "{%" PRIu64 "}\r\n", n);
	buf_add(&im->rbuf, s, (size_t)len);
}

/* Drop a literal of n bytes that is not kept; it still counts against
 * the response's cap. */
static int
lit_discard(struct source *src, uint64_t n)
{
	struct imap *im = src->priv;

	if (n > IMAP_RESPMAX - im->nonbody)
		return src_fail(src, SRC_FPROTO,
		    "server sent a %" PRIu64 "-byte literal where a short "
		    "reply was expected (the limit is %d bytes)",
		    n, IMAP_RESPMAX);
	im->nonbody += n;
	if (conn_read_to_sink(src->conn, n, null_fn, NULL) == -1)
		return readfail(src);
	lit_placeholder(im, 0);
	return 0;
}

/*
 * A literal of n bytes starts; the response so far is rbuf[0..start-1].
 * When it is the BODY[] of a message we were asked for, stream it to
 * the sink and set *done.
 */
static int
fetch_literal(struct source *src, size_t start, uint64_t n, int *done)
{
	struct imap *im = src->priv;
	struct fetchctx *fx = im->fx;
	const struct uidix *x;
	struct imap_resp r;
	uint32_t uid;
	size_t o;

	*done = 0;
	if (fx->handled || imap_parse_resp(im->rbuf.p, start, &r) == -1
	    || r.type != IMAP_RUNTAGGED || !r.hasnum
	    || !imap_eqi(r.kw, r.kwlen, "FETCH")
	    || !imap_fetch_pending_body(r.data, r.datalen, &uid))
		return 0;
	fx->handled = 1;
	/*
	 * RFC 3501 section 6.4.8 puts the UID into every response to a UID
	 * FETCH, but not necessarily before BODY[]. Then the message number
	 * tells, by what the listing and later EXISTS and EXPUNGE said; the
	 * UID, when it comes, must agree before the message counts.
	 */
	if (uid == 0 && r.num >= 1 && r.num <= im->exists)
		uid = im->seq[r.num - 1];
	if (uid == 0)
		return src_fail(src, SRC_FDATA,
		    "server sent the body of message %" PRIu32 " before its "
		    "UID, and its UID is not known",
		    r.num);
	if ((x = uidix_find(fx->ix, fx->nix, uid)) == NULL || fx->done[x->i]) {
		/* Not asked for, or already delivered. */
		if (lit_discard(src, n) == -1)
			return -1;
		*done = 1;
		return 0;
	}
	fx->streamed = 1;
	fx->cur = x->i;
	fx->curuid = uid;
	fx->crlf.cr = 0;
	src->received = 0;
	if (fx->sink->begin(fx->sink->arg, x->i) == -1)
		return src_fail(src, SRC_FLOCAL,
		    "could not store message UID %" PRIu32, uid);
	/* A body has only the inactivity timeout; the reply's clock
	 * starts again after it, as each body we asked for is progress. */
	conn_reply_end(src->conn);
	if (conn_read_to_sink(src->conn, n, body_fn, fx) == -1) {
		if (conn_errcode(src->conn) == CONN_ESINK)
			return src_fail(src, SRC_FLOCAL,
			    "could not store message UID %" PRIu32, uid);
		return readfail(src);
	}
	conn_reply_begin(src->conn);
	if ((o = imap_crlf_flush(&fx->crlf, fx->out)) > 0
	    && fx->sink->write(fx->sink->arg, fx->out, o) == -1)
		return src_fail(src, SRC_FLOCAL,
		    "could not store message UID %" PRIu32, uid);
	lit_placeholder(im, 0);
	*done = 1;
	return 0;
}

/* The literal announced at rbuf[start..]: body, kept, or dropped. */
static int
literal(struct source *src, size_t start, uint64_t n)
{
	struct imap *im = src->priv;
	int done;

	im->rbuf.len = start;
	trace_literal(src, SRC_TRACE_IN, n);
	if (im->fx != NULL) {
		if (fetch_literal(src, start, n, &done) == -1)
			return -1;
		if (done)
			return 0;
	}
	if (n > IMAP_KEEPMAX)
		return lit_discard(src, n);
	if (n > IMAP_RESPMAX - im->nonbody)
		return src_fail(src, SRC_FPROTO,
		    "server response longer than %d bytes", IMAP_RESPMAX);
	im->nonbody += n;
	lit_placeholder(im, n);
	if (conn_read_to_sink(src->conn, n, keep_fn, &im->rbuf) == -1)
		return readfail(src);
	return 0;
}

/* Read one whole response into rbuf and split it into *r. */
static int
read_resp(struct source *src, struct imap_resp *r)
{
	struct imap *im = src->priv;
	char *line;
	size_t len, start;
	uint64_t n;
	int lits = 0, first = 1, rv;

	im->rbuf.len = 0;
	im->nonbody = 0;
	if (im->fx != NULL)
		im->fx->handled = im->fx->streamed = 0;
	for (;;) {
		if (conn_getline(src->conn, &line, &len, IMAP_LINEMAX) == -1)
			return readfail(src);
		line_trace(src, SRC_TRACE_IN, line, len);
		if (len > IMAP_RESPMAX - im->nonbody)
			return src_fail(src, SRC_FPROTO,
			    "server response longer than %d bytes",
			    IMAP_RESPMAX);
		im->nonbody += len;
		buf_add(&im->rbuf, line, len);
		if (first)
			lits = may_have_literals(line, len);
		first = 0;
		if (!lits
		    || (rv = imap_literal_end(line, len, &n, &start)) == 0)
			break;
		if (rv == -1)
			return src_fail(src, SRC_FDATA,
			    "server announced a literal of impossible size");
		if (literal(src, im->rbuf.len - len + start, n) == -1)
			return -1;
	}
	if (imap_parse_resp(im->rbuf.p, im->rbuf.len, r) == -1) {
		char q[128];

		src_quote(q, sizeof(q), im->rbuf.p, im->rbuf.len);
		return src_fail(
		    src, SRC_FDATA, "malformed server response: \"%s\"", q);
	}
	return 0;
}

/*
 * Applying untagged responses.
 */

static void
set_caps(struct source *src, const char *s, size_t len)
{
	struct imap *im = src->priv;
	size_t i, j, k;

	src_quote(src->caps, sizeof(src->caps), s, len);
	im->caps = 0;
	im->capseen = 1;
	for (i = 0; i < len; i = j + 1) {
		for (j = i; j < len && s[j] != ' '; j++)
			;
		for (k = 0; k < sizeof(capnames) / sizeof(capnames[0]); k++)
			if (imap_eqi(s + i, j - i, capnames[k].name))
				im->caps |= capnames[k].bit;
	}
}

/* The number after a response code's name: 1 to max, else -1. */
static int
code_num(const char *arg, size_t arglen, uint64_t max, uint64_t *n)
{
	struct imap_lex l;
	struct imap_tok tok;

	imap_lex_init(&l, arg, arglen);
	imap_lex_next(&l, &tok);
	if (imap_tok_num(&tok, max, n) == -1 || *n == 0)
		return -1;
	return 0;
}

/* A response code of a status response, tagged or not. */
static int
resp_code(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;
	const char *arg;
	size_t arglen;
	uint64_t n;

	if (imap_code_is(r->code, r->codelen, "CAPABILITY", &arg, &arglen))
		set_caps(src, arg, arglen);
	if (im->ctx != CTX_SELECT)
		return 0;
	if (imap_code_is(r->code, r->codelen, "UIDVALIDITY", &arg, &arglen)) {
		if (code_num(arg, arglen, UINT32_MAX, &n) == -1)
			return src_fail(src, SRC_FDATA,
			    "server sent a malformed UIDVALIDITY");
		im->uidvalidity = (uint32_t)n;
	} else if (imap_code_is(
		       r->code, r->codelen, "UIDNEXT", &arg, &arglen)) {
		if (code_num(arg, arglen, UINT32_MAX, &n) == -1)
			return src_fail(
			    src, SRC_FDATA, "server sent a malformed UIDNEXT");
		im->uidnext = (uint32_t)n;
	} else if (imap_code_is(
		       r->code, r->codelen, "HIGHESTMODSEQ", &arg, &arglen)) {
		/* RFC 7162 section 7: mod-sequence-value, below 2^63. */
		if (code_num(arg, arglen, INT64_MAX, &n) == -1)
			return src_fail(src, SRC_FDATA,
			    "server sent a malformed HIGHESTMODSEQ");
		im->highestmodseq = n;
	} else if (imap_code_is(r->code, r->codelen, "NOMODSEQ", &arg, &arglen))
		im->nomodseq = 1;
	return 0;
}

static int
on_exists(struct source *src, uint32_t n)
{
	struct imap *im = src->priv;

	if (n > IMAP_MSGMAX)
		return src_fail(src, SRC_FPROTO,
		    "the folder holds %" PRIu32 " messages, more than the "
		    "%d mailfetch handles",
		    n, IMAP_MSGMAX);
	if (n > im->seqcap) {
		im->seq = xreallocarray(im->seq, n, sizeof(*im->seq));
		im->seqcap = n;
	}
	if (n > im->exists)
		memset(im->seq + im->exists, 0,
		    (n - im->exists) * sizeof(*im->seq));
	im->exists = n;
	return 0;
}

static int
on_expunge(struct source *src, uint32_t n)
{
	struct imap *im = src->priv;
	uint32_t uid;

	if (n == 0 || n > im->exists)
		return src_fail(src, SRC_FDATA,
		    "server expunged message %" PRIu32 " of %" PRIu32, n,
		    im->exists);
	uid = im->seq[n - 1];
	im->expunges++;
	memmove(
	    im->seq + n - 1, im->seq + n, (im->exists - n) * sizeof(*im->seq));
	im->exists--;
	/* An expunged message whose UID is unknown (it arrived after the
	 * listing) is counted as ours; the count is capped later. */
	if (im->ctx == CTX_EXPUNGE
	    && (uid == 0 || uidix_find(im->ours, im->nours, uid) != NULL))
		im->gone++;
	return 0;
}

/* A body that came whole (a quoted string) into the sink. */
static int
sink_whole(struct source *src, size_t i, const char *s, size_t len)
{
	const struct sink *k = ((struct imap *)src->priv)->fx->sink;

	src->received = 0;
	if (k->begin(k->arg, i) == -1)
		return -1;
	src->received = len;
	if (len > 0 && k->write(k->arg, s, len) == -1)
		return -1;
	return k->end(k->arg, i);
}

/* Deliver a BODY[] that came as a quoted string. */
static int
fetch_quoted(struct source *src, const struct imap_fetch *f)
{
	struct fetchctx *fx = ((struct imap *)src->priv)->fx;
	const struct uidix *x;
	char *s;
	size_t len;
	int rv = 0;

	if (!f->has_uid)
		return src_fail(src, SRC_FDATA,
		    "server sent a message body without its UID");
	if ((x = uidix_find(fx->ix, fx->nix, f->uid)) == NULL || fx->done[x->i])
		return 0;
	s = xmalloc(f->bodylen + 1);
	len = imap_unquote(f->bodyp, f->bodylen, s);
	if (sink_whole(src, x->i, s, len) == -1)
		rv = src_fail(src, SRC_FLOCAL,
		    "could not store message UID %" PRIu32, f->uid);
	else
		fx->done[x->i] = 1;
	free(s);
	return rv;
}

static int
msginfo_cmp(const void *a, const void *b)
{
	const struct msginfo *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

/* Put a listing (or one window of it) in UID order and drop what came
 * twice. Servers answer in message number order, which is UID order,
 * so the sort is there to be sure. An empty listing has no array at
 * all, and qsort(3) must not be given NULL. */
static void
list_tidy(struct msglist *l)
{
	size_t i, k;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), msginfo_cmp);
	for (i = k = 0; i < l->n; i++)
		if (k == 0 || l->v[i].num != l->v[k - 1].num)
			l->v[k++] = l->v[i];
	l->n = k;
}

static int
on_fetch(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;
	struct fetchctx *fx = im->fx;
	struct imap_fetch f;
	struct msginfo m;
	char uid[16];

	if (imap_parse_fetch(r->data, r->datalen, &f) == -1)
		return src_fail(
		    src, SRC_FDATA, "server sent a malformed FETCH response");
	if (f.has_uid && r->num >= 1 && r->num <= im->exists)
		im->seq[r->num - 1] = f.uid;
	switch (im->ctx) {
	case CTX_SELECT: /* QRESYNC: the changes come with the select */
	case CTX_CHANGES:
		if (im->chg == NULL || !f.has_uid || !f.has_flags)
			break;
		if (im->chg->flags(im->chg->arg, f.uid, f.flags) == -1)
			return src_fail(src, SRC_FLOCAL,
			    "could not apply the flags of UID %" PRIu32, f.uid);
		break;
	case CTX_MSGS:
		/* Responses without UID and size are flag updates. */
		if (!f.has_uid || !f.has_size)
			break;
		if (im->out->n >= IMAP_MSGMAX)
			return src_fail(src, SRC_FPROTO,
			    "the folder lists more than %d messages",
			    IMAP_MSGMAX);
		if (f.uid < im->listlow)
			im->listlow = f.uid;
		if (f.uid < im->listfrom)
			break;
		snprintf(uid, sizeof(uid), "%" PRIu32, f.uid);
		m.uid = uid;
		m.num = f.uid;
		m.size = f.size;
		m.flags = f.flags;
		m.date = f.has_date ? f.date : 0;
		msglist_add(im->out, &m);
		if (im->out->n == im->out->window) {
			list_tidy(im->out);
			return msglist_window(src, im->out);
		}
		break;
	case CTX_FETCH:
		if (fx->streamed) {
			fx->streamed = 0;
			if (!f.has_uid || f.uid != fx->curuid)
				return src_fail(src, SRC_FDATA,
				    "server sent the body of UID %" PRIu32
				    " in a FETCH response without that UID",
				    fx->curuid);
			if (fx->sink->end(fx->sink->arg, fx->cur) == -1)
				return src_fail(src, SRC_FLOCAL,
				    "could not store message UID %" PRIu32,
				    fx->curuid);
			fx->done[fx->cur] = 1;
		} else if (!fx->handled && f.body == IMAP_BODY_QUOTED)
			return fetch_quoted(src, &f);
		break;
	default:
		break;
	}
	return 0;
}

/* UIDs lo..hi are in the folder (CTX_GAPS): the UIDs since the last
 * ones reported, up to lo, are gone. The server lists them ascending. */
static int
gap_range(struct source *src, uint32_t lo, uint32_t hi)
{
	struct imap *im = src->priv;

	if (lo < im->gapnext)
		return src_fail(src, SRC_FDATA,
		    "server listed UID %" PRIu32 " out of order in a search",
		    lo);
	if (lo > im->gapnext
	    && im->chg->vanished(im->chg->arg, (uint32_t)im->gapnext, lo - 1)
		== -1)
		return src_fail(src, SRC_FLOCAL,
		    "could not remove messages gone from the server");
	im->gapnext = (uint64_t)hi + 1;
	return 0;
}

/* One UID of a SEARCH response. */
static int
search_uid(struct source *src, uint32_t uid)
{
	struct imap *im = src->priv;

	if (im->ctx == CTX_GAPS)
		return gap_range(src, uid, uid);
	if (im->nfound >= IMAP_MSGMAX)
		return src_fail(src, SRC_FPROTO,
		    "server found more than %d messages", IMAP_MSGMAX);
	if (im->nfound == im->foundcap) {
		im->foundcap = im->foundcap ? im->foundcap * 2 : 256;
		im->found = xreallocarray(
		    im->found, im->foundcap, sizeof(*im->found));
	}
	im->found[im->nfound++] = uid;
	return 0;
}

static int
on_search(struct source *src, const struct imap_resp *r)
{
	struct imap_lex l;
	struct imap_tok tok;
	uint64_t n;

	imap_lex_init(&l, r->data, r->datalen);
	for (;;) {
		switch (imap_lex_next(&l, &tok)) {
		case IMAP_TEOF:
			return 0;
		case IMAP_TATOM:
			if (imap_tok_num(&tok, UINT32_MAX, &n) == -1 || n == 0)
				goto bad;
			if (search_uid(src, (uint32_t)n) == -1)
				return -1;
			break;
		case IMAP_TLPAR:
			/* (MODSEQ n) of RFC 7162 section 3.1.5. */
			l.pos--;
			if (imap_lex_skip(&l) == -1)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
bad:
	return src_fail(
	    src, SRC_FDATA, "server sent a malformed SEARCH response");
}

/* ESEARCH (RFC 4731) in CTX_GAPS: the ALL set, range by range. */
static int
on_esearch(struct source *src, const struct imap_resp *r)
{
	struct imap_set set;
	const char *tag, *sp;
	size_t taglen, splen;
	uint32_t lo, hi;
	int uid, k;

	if (imap_parse_esearch(
		r->data, r->datalen, &tag, &taglen, &uid, &sp, &splen)
	    == -1)
		return src_fail(
		    src, SRC_FDATA, "server sent a malformed ESEARCH response");
	/* UID SEARCH: without the UID indicator the set holds message
	 * numbers, which taken as UIDs would make messages look gone. */
	if (!uid)
		return src_fail(src, SRC_FDATA,
		    "server answered UID SEARCH with an ESEARCH response "
		    "without UID (message numbers, RFC 4731)");
	imap_set_init(&set, sp, splen);
	while ((k = imap_set_next(&set, &lo, &hi)) == 1)
		if (gap_range(src, lo, hi) == -1)
			return -1;
	return 0;
}

/*
 * VANISHED (RFC 7162 section 3.2.10). With EARLIER, during a
 * select_sync with QRESYNC: the expunges since the caller's modseq.
 * Without: messages expunged now, as EXPUNGE would say once QRESYNC is
 * on; their numbers are not given, so the number-to-UID map is
 * forgotten (FETCH responses fill it again).
 */
static int
on_vanished(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;
	struct imap_set set;
	const char *sp;
	size_t splen;
	uint32_t lo, hi;
	uint64_t count = 0;
	int earlier, k;

	if (imap_parse_vanished(r->data, r->datalen, &earlier, &sp, &splen)
	    == -1)
		return src_fail(src, SRC_FDATA,
		    "server sent a malformed VANISHED response");
	imap_set_init(&set, sp, splen);
	while ((k = imap_set_next(&set, &lo, &hi)) == 1) {
		if (earlier && im->chg != NULL && im->ctx == CTX_SELECT
		    && im->chg->vanished(im->chg->arg, lo, hi) == -1)
			return src_fail(src, SRC_FLOCAL,
			    "could not remove messages gone from the server");
		count += (uint64_t)hi - lo + 1;
		if (im->ctx == CTX_EXPUNGE)
			im->gone += uidix_count(im->ours, im->nours, lo, hi);
	}
	if (earlier)
		return 0;
	if (count > im->exists)
		return src_fail(src, SRC_FDATA,
		    "server expunged %" PRIu64 " of %" PRIu32 " messages",
		    count, im->exists);
	im->exists -= (uint32_t)count;
	im->expunges++;
	if (im->exists > 0)
		memset(im->seq, 0, im->exists * sizeof(*im->seq));
	return 0;
}

/* ENABLED (RFC 5161 section 3.2): what the server turned on. */
static void
on_enabled(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;
	struct imap_lex l;
	struct imap_tok tok;

	imap_lex_init(&l, r->data, r->datalen);
	while (imap_lex_next(&l, &tok) == IMAP_TATOM)
		if (imap_tok_is(&tok, "QRESYNC"))
			im->qresync_on = 1;
}

/* A mailbox name token as a new string; NULL when it is empty or holds
 * a NUL byte. */
static char *
tok_name(const struct imap_tok *t)
{
	char *name = xmalloc(t->len + 1);
	size_t len;

	if (t->t == IMAP_TQUOTED)
		len = imap_unquote(t->p, t->len, name);
	else
		memcpy(name, t->p, len = t->len);
	name[len] = '\0';
	if (len == 0 || memchr(name, '\0', len) != NULL) {
		free(name);
		return NULL;
	}
	return name;
}

/*
 * The mailboxes known to the session (struct known_mbx): what LIST "*"
 * and the LISTs of a peek said of their delimiters, so that opening one
 * needs no LIST of its own, and what STATUS said of them. INBOX is
 * known so in any case.
 */

static int
known_cmp(const void *a, const void *b)
{
	const struct known_mbx *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* name, INBOX in any case as "INBOX". */
static const char *
known_key(const char *name)
{
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

/* The mailbox called name, or NULL: the newest if not sorted yet (a
 * LIST-STATUS's STATUS follows its LIST), else a binary search of the
 * sorted ones; never a scan, which a server sending many names could
 * make quadratic. */
static struct known_mbx *
known_find(struct imap *im, const char *name)
{
	struct known_mbx key;

	name = known_key(name);
	if (im->nkn > im->nsorted
	    && strcmp(im->kn[im->nkn - 1].name, name) == 0)
		return &im->kn[im->nkn - 1];
	if (im->nsorted == 0)
		return NULL; /* bsearch wants an array, even of none */
	memset(&key, 0, sizeof(key));
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, im->kn, im->nsorted, sizeof(*im->kn), known_cmp);
}

/* A new mailbox called name, unsorted. */
static struct known_mbx *
known_add(struct imap *im, const char *name)
{
	struct known_mbx *k;

	if (im->nkn == im->capkn) {
		im->capkn = im->capkn ? 2 * im->capkn : 32;
		im->kn = xreallocarray(im->kn, im->capkn, sizeof(*im->kn));
	}
	k = &im->kn[im->nkn++];
	memset(k, 0, sizeof(*k));
	k->name = xstrdup(known_key(name));
	return k;
}

/* The mailbox called name, added when unknown. */
static struct known_mbx *
known_get(struct imap *im, const char *name)
{
	struct known_mbx *k = known_find(im, name);

	return k != NULL ? k : known_add(im, name);
}

static void
known_sort(struct imap *im)
{
	if (im->nsorted == im->nkn)
		return;
	qsort(im->kn, im->nkn, sizeof(*im->kn), known_cmp);
	im->nsorted = im->nkn;
}

static void
known_clear(struct imap *im)
{
	size_t i;

	for (i = 0; i < im->nkn; i++)
		free(im->kn[i].name);
	free(im->kn);
	im->kn = NULL;
	im->nkn = im->capkn = im->nsorted = 0;
}

/* A STATUS response (a peek's, or LIST-STATUS's) of a mailbox known
 * (listed, or asked about), kept until a peek reports it; of another,
 * ignored. */
static int
on_status(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;
	struct imap_mbstatus st;
	struct known_mbx *k;
	char *name;

	if (imap_parse_status(r->data, r->datalen, &st) == -1)
		return src_fail(
		    src, SRC_FDATA, "server sent a malformed STATUS response");
	if ((name = tok_name(&st.name)) == NULL)
		return 0; /* no mailbox of ours */
	k = known_find(im, name);
	free(name);
	if (k == NULL)
		return 0;
	memset(&st.name, 0, sizeof(st.name));
	k->st = st;
	k->peeked = 1;
	return 0;
}

/* A LIST response in a peek: the delimiter of a mailbox asked about. */
static int
on_peek_list(struct source *src, const struct imap_resp *r)
{
	struct known_mbx *k = NULL;
	struct imap_mbox m;
	char *name;

	if (imap_parse_mailbox(r->data, r->datalen, &m) == -1)
		return src_fail(
		    src, SRC_FDATA, "server sent a malformed LIST response");
	if ((name = tok_name(&m.name)) != NULL)
		k = known_find(src->priv, name);
	free(name);
	if (k != NULL) {
		k->listed = 1;
		k->delim = m.delim;
	}
	return 0;
}

/* A LIST response in CTX_MAILBOXES, to the caller. */
static int
on_mailbox(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;
	struct imap_mbox m;
	struct mailbox mb;
	char *name, *utf8;
	int rv;

	if (imap_parse_mailbox(r->data, r->datalen, &m) == -1)
		return src_fail(
		    src, SRC_FDATA, "server sent a malformed LIST response");
	if ((name = tok_name(&m.name)) == NULL)
		return src_fail(src, SRC_FDATA,
		    "server listed a mailbox with an empty name, a NUL byte "
		    "in it, or a name longer than %d bytes",
		    IMAP_KEEPMAX);
	/* Each once in a LIST: no search (imap_mailboxes sorts them). */
	if (!(m.attrs & (MBX_NOSELECT | MBX_NONEXISTENT))) {
		struct known_mbx *k = known_add(im, name);

		k->listed = 1;
		k->delim = m.delim;
	}
	utf8 = imap_utf7_decode(name);
	mb.name = name;
	mb.utf8 = utf8;
	mb.delim = m.delim;
	mb.attrs = m.attrs;
	rv = im->mbfn(im->mbarg, &mb);
	free(name);
	free(utf8);
	if (rv == -1)
		return src_fail(
		    src, SRC_FLOCAL, "listing the mailboxes stopped");
	return 0;
}

/* NAMESPACE in CTX_NAMESPACE: the first personal namespace. */
static int
on_namespace(struct source *src, const struct imap_resp *r)
{
	struct src_namespace *ns = ((struct imap *)src->priv)->ns;
	struct imap_tok p;
	size_t len;
	char *u;

	if (imap_parse_namespace(
		r->data, r->datalen, &p, &ns->delim, &ns->known)
	    == -1)
		return src_fail(src, SRC_FDATA,
		    "server sent a malformed NAMESPACE response");
	ns->prefix[0] = '\0';
	if (!ns->known)
		return 0;
	if (p.len >= sizeof(ns->prefix))
		return src_fail(src, SRC_FDATA,
		    "server sent a namespace prefix longer than %zu bytes",
		    sizeof(ns->prefix) - 1);
	if (p.t == IMAP_TQUOTED)
		len = imap_unquote(p.p, p.len, ns->prefix);
	else
		memcpy(ns->prefix, p.p, len = p.len);
	ns->prefix[len] = '\0';
	if (memchr(ns->prefix, '\0', len) != NULL)
		return src_fail(src, SRC_FDATA,
		    "server sent a namespace prefix with a NUL byte");
	/* In UTF-8, as local names are; a prefix that is no valid
	 * modified UTF-7 is as good as none: no name loses it. */
	if ((u = imap_utf7_decode(ns->prefix)) == NULL
	    || strlen(u) >= sizeof(ns->prefix)) {
		ns->known = 0;
		ns->prefix[0] = '\0';
	} else
		xstrlcpy(ns->prefix, u, sizeof(ns->prefix));
	free(u);
	return 0;
}

/* An untagged response that tells of new mail. */
static int
is_news(const struct imap *im, const struct imap_resp *r)
{
	if (imap_eqi(r->kw, r->kwlen, "STATUS"))
		return 1;
	if (!r->hasnum)
		return 0;
	return (imap_eqi(r->kw, r->kwlen, "EXISTS") && r->num > im->exists)
	    || (imap_eqi(r->kw, r->kwlen, "RECENT") && r->num > 0);
}

static int
untagged(struct source *src, const struct imap_resp *r)
{
	struct imap *im = src->priv;

	switch (r->status) {
	case IMAP_SBYE:
		src_quote(im->bye, sizeof(im->bye), r->text, r->textlen);
		im->byeseen = 1;
		return 0;
	case IMAP_SOK:
	case IMAP_SNO:
	case IMAP_SBAD:
		return r->code != NULL ? resp_code(src, r) : 0;
	case IMAP_SPREAUTH:
		return 0;
	case IMAP_SNONE:
		break;
	}
	/* New mail, for IDLE: EXISTS or RECENT after SELECT (not the
	 * counts SELECT itself reports), or STATUS, which comes only with
	 * NOTIFY, about another mailbox (not the answers to a peek's or
	 * LIST-STATUS's own). */
	if (im->ctx != CTX_SELECT && is_news(im, r)
	    && !((im->ctx == CTX_PEEK || im->ctx == CTX_MAILBOXES)
		&& imap_eqi(r->kw, r->kwlen, "STATUS")))
		im->news = 1;
	if (imap_eqi(r->kw, r->kwlen, "CAPABILITY"))
		set_caps(src, r->data, r->datalen);
	else if (r->hasnum && imap_eqi(r->kw, r->kwlen, "EXISTS"))
		return on_exists(src, r->num);
	else if (r->hasnum
	    && (imap_eqi(r->kw, r->kwlen, "EXPUNGE")
		|| imap_eqi(r->kw, r->kwlen, "EXPUNGED")))
		/* "EXPUNGED": GNU Mailutils' imap4d (3.15) spells EXPUNGE
		 * so, with the same meaning; no RFC gives the word another
		 * one. */
		return on_expunge(src, r->num);
	else if (r->hasnum && imap_eqi(r->kw, r->kwlen, "FETCH"))
		return on_fetch(src, r);
	else if (imap_eqi(r->kw, r->kwlen, "VANISHED"))
		return on_vanished(src, r);
	else if (imap_eqi(r->kw, r->kwlen, "ENABLED"))
		on_enabled(src, r);
	else if (im->ctx == CTX_MAILBOXES && imap_eqi(r->kw, r->kwlen, "LIST"))
		return on_mailbox(src, r);
	else if (im->ctx == CTX_PEEK && imap_eqi(r->kw, r->kwlen, "LIST"))
		return on_peek_list(src, r);
	else if ((im->ctx == CTX_PEEK || im->ctx == CTX_MAILBOXES)
	    && imap_eqi(r->kw, r->kwlen, "STATUS"))
		return on_status(src, r);
	else if (im->ctx == CTX_NAMESPACE
	    && imap_eqi(r->kw, r->kwlen, "NAMESPACE"))
		return on_namespace(src, r);
	else if (im->ctx == CTX_GAPS && imap_eqi(r->kw, r->kwlen, "ESEARCH"))
		return on_esearch(src, r);
	else if (im->ctx == CTX_LIST && imap_eqi(r->kw, r->kwlen, "LIST")) {
		char delim;

		if (imap_parse_list(r->data, r->datalen, &delim) == -1)
			return src_fail(src, SRC_FDATA,
			    "server sent a malformed LIST response");
		if (!im->gotlist)
			im->delim = delim;
		im->gotlist = 1;
	} else if ((im->ctx == CTX_SEARCH || im->ctx == CTX_GAPS)
	    && imap_eqi(r->kw, r->kwlen, "SEARCH"))
		return on_search(src, r);
	/* Anything else (RECENT, FLAGS, NAMESPACE, ...) is of no use. */
	return 0;
}

static struct pend *
pend_find(struct imap *im, const char *tag, size_t taglen)
{
	char s[16];
	size_t i;
	int n;

	for (i = 0; i < im->npend; i++) {
		n = snprintf(s, sizeof(s), "A%u", im->pend[i].tag);
		if ((size_t)n == taglen && memcmp(s, tag, taglen) == 0)
			return &im->pend[i];
	}
	return NULL;
}

/* Apply one response read while commands are in flight. Returns 1 for
 * a continuation request when cont is set, else 0, or -1. */
static int
dispatch(struct source *src, const struct imap_resp *r, int cont)
{
	struct imap *im = src->priv;
	struct pend *p;
	const char *arg;
	size_t arglen;
	char q[64];

	switch (r->type) {
	case IMAP_RCONT:
		if (cont)
			return 1;
		return src_fail(src, SRC_FPROTO,
		    "server sent an unexpected continuation request");
	case IMAP_RUNTAGGED:
		if (++im->nuntagged > IMAP_UNTAGGEDMAX)
			return src_fail(src, SRC_FPROTO,
			    "server sent more than %d untagged responses to "
			    "one command",
			    IMAP_UNTAGGEDMAX);
		im->untagged_bytes += im->nonbody;
		if (im->untagged_bytes > IMAP_SESSIONMAX)
			return src_fail(src, SRC_FPROTO,
			    "server sent more than %llu MB of untagged "
			    "responses in one session",
			    IMAP_SESSIONMAX >> 20);
		return untagged(src, r);
	case IMAP_RTAGGED:
		break;
	}
	im->nuntagged = 0;
	/* A pipelined command's reply comes next: its clock starts. */
	conn_reply_begin(src->conn);
	if ((p = pend_find(im, r->tag, r->taglen)) == NULL || p->done) {
		src_quote(q, sizeof(q), r->tag, r->taglen);
		return src_fail(src, SRC_FDATA,
		    "server answered a command that was not sent (tag %s)", q);
	}
	if (r->code != NULL && resp_code(src, r) == -1)
		return -1;
	p->done = 1;
	p->st = r->status;
	p->unavailable
	    = imap_code_is(r->code, r->codelen, "UNAVAILABLE", &arg, &arglen);
	src_quote(p->text, sizeof(p->text), r->text, r->textlen);
	if (p->tag == im->ztag) {
		im->ztag = 0;
		if (p->st == IMAP_SOK && conn_compress(src->conn) == -1)
			return src_connfail(src, "starting compression");
	}
	return 0;
}

static int pre_wait(struct source *);

/* Wait for the tagged response to command tag; *out gets it. The
 * answers to what went behind the login come first (pre_wait), each
 * read as its command wants. */
static int
wait_tag(struct source *src, unsigned tag, struct pend *out)
{
	struct imap *im = src->priv;
	struct imap_resp r;
	size_t i;

	if (im->pre.state == 1 && im->pre.armed && tag != im->pre.ctag
	    && tag != im->pre.ltag && tag != im->pre.etag && tag != im->pre.ftag
	    && tag != im->pre.ztag && pre_wait(src) == -1)
		return -1;
	for (;;) {
		for (i = 0; i < im->npend; i++) {
			if (im->pend[i].tag != tag || !im->pend[i].done)
				continue;
			*out = im->pend[i];
			memmove(im->pend + i, im->pend + i + 1,
			    (im->npend - i - 1) * sizeof(*im->pend));
			im->npend--;
			return 0;
		}
		if (read_resp(src, &r) == -1 || dispatch(src, &r, 0) == -1)
			return -1;
	}
}

/* The newest command in flight. */
static struct pend *
cmd_pend(struct imap *im)
{
	return &im->pend[im->npend - 1];
}

/* Read responses until the server's "+" (1, *r holds it) or until
 * command tag is answered instead (0); -1 on failure. */
static int
wait_cont(struct source *src, unsigned tag, struct imap_resp *r)
{
	struct imap *im = src->priv;
	size_t i;
	int x;

	for (;;) {
		if (read_resp(src, r) == -1 || (x = dispatch(src, r, 1)) == -1)
			return -1;
		if (x == 1)
			return 1;
		for (i = 0; i < im->npend; i++)
			if (im->pend[i].tag == tag && im->pend[i].done)
				return 0;
	}
}

/*
 * Writing commands. cmd_begin starts one with a new tag; cmd_add and
 * cmd_string append to it, both to the wire and to the trace line;
 * cmd_send ends it. A synchronizing literal sends what is built so far
 * and waits for the server's "+"; if the server answers the command
 * instead, the rest is not sent and wait_tag finds that answer.
 */
static unsigned
cmd_begin(struct source *src, const char *verb)
{
	struct imap *im = src->priv;
	char s[16];
	struct pend *p;

	buf_wipe(&im->wbuf);
	im->tbuf.len = 0;
	/* Only a session that already failed can have this many commands
	 * unanswered; forget the oldest rather than overrun. */
	if (im->npend == IMAP_PENDMAX) {
		memmove(im->pend, im->pend + 1,
		    (IMAP_PENDMAX - 1) * sizeof(*im->pend));
		im->npend--;
	}
	snprintf(s, sizeof(s), "A%u", ++im->tagn);
	buf_str(&im->wbuf, s);
	buf_str(&im->tbuf, s);
	p = &im->pend[im->npend++];
	memset(p, 0, sizeof(*p));
	p->tag = im->tagn;
	if (verb != NULL) {
		buf_add(&im->wbuf, " ", 1);
		buf_str(&im->wbuf, verb);
		buf_add(&im->tbuf, " ", 1);
		buf_str(&im->tbuf, verb);
	}
	return im->tagn;
}

/* Append s to the command; a secret is traced as " <redacted>". */
static void
cmd_add(struct source *src, const char *s, size_t len, int secret)
{
	struct imap *im = src->priv;

	buf_add(&im->wbuf, s, len);
	if (!secret)
		buf_add(&im->tbuf, s, len);
}

static int
cmd_flush(struct source *src)
{
	struct imap *im = src->priv;
	int rv = 0;

	if (im->wbuf.len > 0
	    && conn_write(src->conn, im->wbuf.p, im->wbuf.len) == -1)
		rv = src_connfail(src, "writing to the server");
	/* The reply must be complete within the timeout (SPEC "Time"). */
	if (rv == 0 && src->conn != NULL)
		conn_reply_begin(src->conn);
	buf_wipe(&im->wbuf);
	if (im->tbuf.len > 0)
		line_trace(src, SRC_TRACE_OUT, im->tbuf.p, im->tbuf.len);
	im->tbuf.len = 0;
	return rv;
}

/* Append SP and s as a quoted string when it is plain ASCII without
 * quote or backslash, else as a literal. Returns 0, or -1. */
static int
cmd_string(struct source *src, const char *s, int secret)
{
	struct imap *im = src->priv;
	struct imap_resp r;
	size_t i, len = strlen(s);
	char ann[32];
	int n, plus, rv;

	/* The server answered already: nothing more goes out. */
	if (cmd_pend(im)->done)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			break;
	if (secret)
		buf_str(&im->tbuf, " <redacted>");
	if (i == len) {
		cmd_add(src, " \"", 2, secret);
		cmd_add(src, s, len, secret);
		cmd_add(src, "\"", 1, secret);
		return 0;
	}
	plus = (im->caps & CAP_LITERALPLUS)
	    || ((im->caps & CAP_LITERALMINUS) && len <= IMAP_LITMINUS);
	n = snprintf(ann, sizeof(ann), " {%zu%s}", len, plus ? "+" : "");
	cmd_add(src, ann, (size_t)n, secret);
	cmd_add(src, "\r\n", 2, 1);
	if (!secret) {
		line_trace(src, SRC_TRACE_OUT, im->tbuf.p, im->tbuf.len);
		im->tbuf.len = 0;
		trace_literal(src, SRC_TRACE_OUT, len);
	}
	if (!plus) {
		/* RFC 3501 section 7.5: wait for the server's go-ahead. */
		if (cmd_flush(src) == -1
		    || (rv = wait_cont(src, cmd_pend(im)->tag, &r)) == -1)
			return -1;
		if (rv == 0)
			return 0;
	}
	buf_add(&im->wbuf, s, len);
	return 0;
}

static int
cmd_send(struct source *src)
{
	struct imap *im = src->priv;

	if (cmd_pend(im)->done) {
		buf_wipe(&im->wbuf);
		im->tbuf.len = 0;
		return 0;
	}
	buf_add(&im->wbuf, "\r\n", 2);
	/* The trace line does not get the CRLF. */
	return cmd_flush(src);
}

/* A command without arguments or with plain ones, sent and waited for
 * (after the answers to what went behind the login, see pre_wait).
 * Returns 0 with *p the tagged response, or -1. */
static int
simple(struct source *src, const char *cmd, struct pend *p)
{
	unsigned tag;

	if (pre_wait(src) == -1)
		return -1;

	tag = cmd_begin(src, cmd);
	if (cmd_send(src) == -1)
		return -1;
	return wait_tag(src, tag, p);
}

/* The answer to CAPABILITY: OK, with the capabilities listed. */
static int
capability_ok(struct source *src, const struct pend *p)
{
	struct imap *im = src->priv;

	if (p->st != IMAP_SOK)
		return src_fail(
		    src, SRC_FPROTO, "CAPABILITY failed: \"%s\"", p->text);
	if (!im->capseen)
		return src_fail(src, SRC_FPROTO,
		    "server answered CAPABILITY without capabilities");
	return 0;
}

static int
capability(struct source *src)
{
	struct imap *im = src->priv;
	struct pend p;

	im->capseen = 0;
	if (simple(src, "CAPABILITY", &p) == -1)
		return -1;
	return capability_ok(src, &p);
}

/*
 * Opening: greeting, STARTTLS, authentication.
 */

static int
greeting(struct source *src)
{
	struct imap *im = src->priv;
	struct imap_resp r;
	char q[200];

	conn_reply_begin(src->conn);
	if (read_resp(src, &r) == -1) {
		if (src->fail == SRC_FDATA)
			src->fail = SRC_FPROTO; /* not an IMAP server */
		return -1;
	}
	if (r.type != IMAP_RUNTAGGED
	    || (r.status != IMAP_SOK && r.status != IMAP_SPREAUTH
		&& r.status != IMAP_SBYE)) {
		src_quote(q, sizeof(q), im->rbuf.p, im->rbuf.len);
		return src_fail(src, SRC_FPROTO,
		    "unexpected greeting from the server: \"%s\"", q);
	}
	if (r.status == IMAP_SBYE) {
		src_quote(q, sizeof(q), r.text, r.textlen);
		return src_fail(
		    src, SRC_FPROTO, "server refused the session: \"%s\"", q);
	}
	im->preauth = r.status == IMAP_SPREAUTH;
	return r.code != NULL ? resp_code(src, &r) : 0;
}

static int
starttls(struct source *src)
{
	struct imap *im = src->priv;
	const struct source_cfg *cfg = src->cfg;
	struct pend p;

	/* RFC 3501 section 6.2.1 allows STARTTLS only before login; a
	 * PREAUTH greeting over plaintext is a way to skip it. */
	if (im->preauth)
		return src_fail(src, SRC_FPROTO,
		    "server sent PREAUTH, so STARTTLS is impossible; "
		    "refusing to go on unencrypted");
	if (!(im->caps & CAP_STARTTLS))
		return src_fail(
		    src, SRC_FPROTO, "server does not offer STARTTLS");
	if (simple(src, "STARTTLS", &p) == -1)
		return -1;
	if (p.st != IMAP_SOK)
		return src_fail(
		    src, SRC_FPROTO, "STARTTLS failed: \"%s\"", p.text);
	if (conn_starttls(src->conn, cfg->host, &cfg->tlsopts) == -1)
		return src_connfail(src, "TLS handshake");
	/* RFC 3501 section 6.2.1: forget what was said in the clear. */
	im->caps = 0;
	src->caps[0] = '\0';
	return capability(src);
}

static void reset_mailbox(struct imap *);

/* 1 when cmd_string sends s without waiting for the server: a quoted
 * string, or a non-synchronizing literal. */
static int
string_unsync(const struct imap *im, const char *s)
{
	size_t i, len = strlen(s);

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			break;
	return i == len || (im->caps & CAP_LITERALPLUS)
	    || ((im->caps & CAP_LITERALMINUS) && len <= IMAP_LITMINUS);
}

static int compress_wanted(struct source *);
static unsigned compress_send(struct source *);
static int compress_wait(struct source *, unsigned);

/* A first fetch of the first folder: its listing goes behind its
 * EXAMINE, by UID and bounded (a UID range names at most that many
 * messages, so the answer stays under IMAP_UNTAGGEDMAX whatever the
 * folder holds), and COMPRESS last, for nothing may follow it before
 * its answer (RFC 4978 section 3). The login's answer is not known
 * yet, nor so whether the server has COMPRESS: a server without it
 * answers BAD, and the session goes on uncompressed. A failed login
 * or EXAMINE makes both harmless refusals. Where the answer does not
 * cover the folder (UIDNEXT beyond the range), imap_list lists the
 * rest. */
static int
pre_list(struct source *src)
{
	struct imap *im = src->priv;
	char cmd[96];

	snprintf(cmd, sizeof(cmd),
	    "UID FETCH 1:%d (UID RFC822.SIZE FLAGS INTERNALDATE)",
	    IMAP_PRECHUNK);
	im->pre.ftag = cmd_begin(src, cmd);
	if (cmd_send(src) == -1)
		return -1;
	if (!src->cfg->compress)
		return 0;
	im->pre.ztag = compress_send(src);
	return im->pre.ztag == 0 ? -1 : 0;
}

/*
 * Behind the client's last authentication message, without waiting for
 * the answer: the first folder's LIST (for its delimiter; none for
 * INBOX) and EXAMINE, so that a poll waits once for the login and the
 * folder together. Harmless if the login fails: the server refuses
 * both in the not-authenticated state (RFC 3501 section 6.3), the
 * session ends with the failure and nothing else is sent. Only names
 * that go out without a synchronizing literal, which would wait.
 */
static int
pre_send(struct source *src)
{
	struct imap *im = src->priv;
	const char *folder = src->cfg->first_folder;
	char *name;
	int rv = -1;

	if (folder == NULL || im->pre.state != 0
	    || (name = imap_mailbox_canon(folder)) == NULL)
		return 0;
	if (!string_unsync(im, name)) {
		free(name);
		return 0;
	}
	im->pre.state = 1;
	/* First CAPABILITY, for a server that does not list them in the
	 * login's answer: its answer comes before the folder's, so open
	 * need not wait for those (see pre_wait). */
	im->pre.ctag = cmd_begin(src, "CAPABILITY");
	if (cmd_send(src) == -1)
		goto done;
	if (strcasecmp(name, "INBOX") != 0) {
		im->pre.ltag = cmd_begin(src, "LIST \"\"");
		if (cmd_string(src, name, 0) == -1 || cmd_send(src) == -1)
			goto done;
	}
	im->pre.etag = cmd_begin(src, "EXAMINE");
	if (cmd_string(src, name, 0) == -1 || cmd_send(src) == -1)
		goto done;
	rv = src->cfg->first_list ? pre_list(src) : 0;
done:
	free(name);
	return rv;
}

/* The answer to the CAPABILITY pre_send sent first, as capability()
 * judges it. */
static int
pre_caps(struct source *src)
{
	struct imap *im = src->priv;
	struct pend p;
	unsigned tag = im->pre.ctag;

	im->capseen = 0;
	if (wait_tag(src, tag, &p) == -1)
		return -1;
	im->pre.ctag = 0;
	return capability_ok(src, &p);
}

/* The answers to what pre_list sent: the listing into pre.msgs, and
 * COMPRESS, which dispatch starts on its OK. */
static int
pre_listed(struct source *src)
{
	struct imap *im = src->priv;
	struct pend p;
	int rv;

	if (im->pre.ftag == 0)
		return 0;
	im->ctx = CTX_MSGS;
	im->out = &im->pre.msgs;
	rv = wait_tag(src, im->pre.ftag, &p);
	im->out = NULL;
	im->pre.ftag = 0;
	im->pre.listed
	    = rv == 0 && p.st == IMAP_SOK && im->pre.sel.st == IMAP_SOK;
	if (rv == 0 && im->pre.ztag != 0)
		rv = compress_wait(src, im->pre.ztag);
	im->pre.ztag = 0;
	return rv;
}

/* After a successful login: read the answers to what pre_send sent, as
 * folder_delim and select_cmd would, and keep them for the first
 * select. Not during open, which returns as soon as the login is
 * answered (the caller wipes the secret then: no copy of it is left
 * while the session waits for the server), but at the first select,
 * or before any other command that waits for an answer. */
static int
pre_wait(struct source *src)
{
	struct imap *im = src->priv;
	enum imap_ctx ctx = im->ctx; /* the caller's, e.g. CTX_MAILBOXES */
	int rv = -1;

	if (im->pre.state != 1)
		return 0;
	if (im->pre.ctag != 0 && pre_caps(src) == -1)
		goto done;
	if (im->pre.ltag != 0) {
		im->ctx = CTX_LIST;
		im->gotlist = 0;
		im->delim = 0;
		if (wait_tag(src, im->pre.ltag, &im->pre.list) == -1)
			goto done;
		im->pre.gotlist = im->gotlist;
		im->pre.delim = im->delim;
	}
	reset_mailbox(im);
	im->ctx = CTX_SELECT;
	if (wait_tag(src, im->pre.etag, &im->pre.sel) == -1
	    || pre_listed(src) == -1)
		goto done;
	im->pre.state = 2;
	rv = 0;
done:
	im->ctx = ctx;
	return rv;
}

/* The tagged answer to LOGIN or AUTHENTICATE was not OK. */
static int
auth_refused(struct source *src, const struct pend *p)
{
	if (p->unavailable)
		return src_fail(src, SRC_FTEMP,
		    "server cannot authenticate now: \"%s\"", p->text);
	return src_fail(
	    src, SRC_FAUTH, "authentication failed: \"%s\"", p->text);
}

static int early_drop(struct source *);

static int
login(struct source *src)
{
	struct imap *im = src->priv;
	const struct source_cfg *cfg = src->cfg;
	struct pend p;
	unsigned tag;

	if (im->caps & CAP_LOGINDISABLED)
		return src_fail(src, SRC_FPROTO,
		    "server disables LOGIN (LOGINDISABLED)%s; choose a SASL "
		    "mechanism with auth = ...",
		    cfg->auth == SRC_AUTH_AUTO
			? " and offers none of SCRAM-SHA-256, "
			  "SCRAM-SHA-1, PLAIN"
			: "");
	if (early_drop(src) == -1)
		return -1;
	im->capseen = 0;
	tag = cmd_begin(src, "LOGIN");
	if (cmd_string(src, cfg->user, 0) == -1
	    || cmd_string(src, cfg->secret, 1) == -1 || cmd_send(src) == -1
	    || (!cmd_pend(im)->done && pre_send(src) == -1)
	    || wait_tag(src, tag, &p) == -1)
		return -1;
	if (p.st != IMAP_SOK)
		return auth_refused(src, &p);
	xstrlcpy(src->mech, "LOGIN", sizeof(src->mech));
	return 0;
}

static int
mech_offered(const struct imap *im, enum src_auth mech)
{
	switch (mech) {
	case SRC_AUTH_PLAIN:
		return (im->caps & CAP_AUTH_PLAIN) != 0;
	case SRC_AUTH_CRAM_MD5:
		return (im->caps & CAP_AUTH_CRAM_MD5) != 0;
	case SRC_AUTH_SCRAM_SHA_1:
		return (im->caps & CAP_AUTH_SCRAM_SHA_1) != 0;
	case SRC_AUTH_SCRAM_SHA_256:
		return (im->caps & CAP_AUTH_SCRAM_SHA_256) != 0;
	case SRC_AUTH_XOAUTH2:
		return (im->caps & CAP_AUTH_XOAUTH2) != 0;
	case SRC_AUTH_OAUTHBEARER:
		return (im->caps & CAP_AUTH_OAUTHBEARER) != 0;
	default:
		return 0;
	}
}

/* Send one SASL response line, traced as <redacted>. */
static int
sasl_send(struct source *src, const char *line)
{
	struct imap *im = src->priv;

	buf_wipe(&im->wbuf);
	im->tbuf.len = 0;
	buf_str(&im->wbuf, line);
	buf_add(&im->wbuf, "\r\n", 2);
	buf_str(
	    &im->tbuf, *line == '*' && line[1] == '\0' ? "*" : "<redacted>");
	return cmd_flush(src);
}

/* The initial response of SASL-IR (RFC 4959) onto the command. */
static int
auth_ir(struct source *src, struct sasl *sasl)
{
	struct imap *im = src->priv;
	char *out = NULL;

	if (sasl_step(sasl, NULL, 0, &out) == -1) {
		freezero_str(out);
		return src_fail(src, SRC_FAUTH, "authentication failed: %s",
		    sasl_error(sasl));
	}
	buf_str(&im->tbuf, " <redacted>");
	cmd_add(src, " ", 1, 1);
	/* An empty initial response is "=" (RFC 4959 section 3). */
	cmd_add(src, *out ? out : "=", *out ? strlen(out) : 1, 1);
	freezero_str(out);
	return 0;
}

/*
 * SCRAM's first message carries no secret, only the user name and a
 * nonce: with implicit TLS it goes out with the end of the handshake
 * instead of after the greeting, and the server's first challenge then
 * comes with the greeting, a round trip less. The greeting still
 * decides: where auth would not send that same command (another
 * mechanism, no SASL-IR, PREAUTH, no capabilities in the greeting),
 * early_drop withdraws it first. No password or token ever goes out
 * before the greeting: the server might not speak IMAP.
 */
static int
early_send(struct source *src)
{
	struct imap *im = src->priv;
	const struct source_cfg *cfg = src->cfg;
	enum src_auth mech = cfg->auth;
	const char *name;

	if (mech == SRC_AUTH_AUTO)
		mech = SRC_AUTH_SCRAM_SHA_256;
	if (cfg->tls != SRC_TLS_IMPLICIT || cfg->nologin || cfg->user == NULL
	    || cfg->secret == NULL
	    || (mech != SRC_AUTH_SCRAM_SHA_256 && mech != SRC_AUTH_SCRAM_SHA_1))
		return 0;
	name = sasl_mech_name(mech);
	im->early.mech = mech;
	im->early.sasl
	    = sasl_new(mech, cfg->user, cfg->secret, cfg->host, cfg->port);
	im->early.tag = cmd_begin(src, "AUTHENTICATE");
	cmd_add(src, " ", 1, 0);
	cmd_add(src, name, strlen(name), 0);
	return auth_ir(src, im->early.sasl) == -1 ? -1 : cmd_send(src);
}

/* Withdraw what early_send sent: cancel the exchange if the server
 * began it (RFC 3501 section 6.2.2) and read its answer. */
static int
early_drop(struct source *src)
{
	struct imap *im = src->priv;
	struct imap_resp r;
	struct pend p;
	unsigned tag = im->early.tag;
	int x;

	if (tag == 0)
		return 0;
	im->early.tag = 0;
	sasl_free(im->early.sasl);
	im->early.sasl = NULL;
	if ((x = wait_cont(src, tag, &r)) == 1)
		x = sasl_send(src, "*");
	if (x == -1 || wait_tag(src, tag, &p) == -1)
		return -1;
	if (p.st == IMAP_SOK)
		return src_fail(src, SRC_FPROTO,
		    "server accepted an authentication the client cancelled");
	return 0;
}

/* Answer the server's challenges until it answers command tag; sent:
 * the client's first message went out with it already. Behind the
 * client's last message go the first folder's commands (pre_send).
 * Where the last message is known before its challenge (SCRAM's empty
 * answer to server-final), it goes out at once with those commands
 * behind it, saving a round trip; the challenge is still verified when
 * it comes, and nothing behind is more than a read. */
static int
auth_exchange(
    struct source *src, struct sasl *sasl, unsigned tag, int first, int sent)
{
	struct imap_resp r;
	char *out = NULL;
	int steps = 0, ahead = 0, x;

	while ((x = wait_cont(src, tag, &r)) == 1) {
		if (++steps > IMAP_SASLSTEPS) {
			sasl_send(src, "*");
			return src_fail(src, SRC_FPROTO,
			    "server sent more than %d SASL challenges",
			    IMAP_SASLSTEPS);
		}
		if (first && !sent)
			x = sasl_step(sasl, NULL, 0, &out);
		else
			x = sasl_step(sasl, r.text, r.textlen, &out);
		sent = 1;
		if (x == -1) {
			/* Cancel (RFC 3501 section 6.2.2), unless the
			 * answer went out already; the session ends. */
			freezero_str(out);
			if (!ahead)
				sasl_send(src, "*");
			return src_fail(src, SRC_FAUTH,
			    "authentication failed: %s", sasl_error(sasl));
		}
		if (ahead) { /* sent before this challenge came */
			freezero_str(out);
			out = NULL;
			ahead = 0;
			continue;
		}
		x = sasl_send(src, out);
		freezero_str(out);
		out = NULL;
		if (x != -1 && sasl_answer_known(sasl)) {
			ahead = 1;
			x = sasl_send(src, "");
		}
		if (x == -1
		    || ((ahead || sasl_last(sasl)) && pre_send(src) == -1))
			return -1;
	}
	return x;
}

/* RFC 3501 section 6.2.2, with the initial response of RFC 4959. */
static int
authenticate(struct source *src, enum src_auth mech)
{
	struct imap *im = src->priv;
	const struct source_cfg *cfg = src->cfg;
	const char *name = sasl_mech_name(mech);
	struct sasl *sasl;
	struct pend p;
	unsigned tag;
	int first, ir, rv = -1;

	if (name == NULL)
		return src_fail(
		    src, SRC_FCONFIG, "no such SASL mechanism for IMAP");
	if (!mech_offered(im, mech))
		return src_fail(src, SRC_FPROTO,
		    "server does not offer AUTH=%s (it offers: %s)", name,
		    src->caps);
	if ((im->early.mech != mech || !(im->caps & CAP_SASLIR))
	    && early_drop(src) == -1)
		return -1;
	im->capseen = 0;
	if (im->early.tag != 0) { /* sent already, with its first message */
		sasl = im->early.sasl;
		tag = im->early.tag;
		im->early.sasl = NULL;
		im->early.tag = 0;
		first = ir = 1;
	} else {
		sasl = sasl_new(
		    mech, cfg->user, cfg->secret, cfg->host, cfg->port);
		first = sasl_client_first(sasl);
		ir = first && (im->caps & CAP_SASLIR);
		tag = cmd_begin(src, "AUTHENTICATE");
		cmd_add(src, " ", 1, 0);
		cmd_add(src, name, strlen(name), 0);
		if ((ir && auth_ir(src, sasl) == -1) || cmd_send(src) == -1)
			goto done;
	}
	if ((ir && sasl_last(sasl) && pre_send(src) == -1)
	    || auth_exchange(src, sasl, tag, first, ir) == -1
	    || wait_tag(src, tag, &p) == -1)
		goto done;
	if (p.st != IMAP_SOK) {
		auth_refused(src, &p);
		goto done;
	}
	if ((mech == SRC_AUTH_SCRAM_SHA_1 || mech == SRC_AUTH_SCRAM_SHA_256)
	    && sasl_done(sasl) != 1) {
		src_fail(src, SRC_FAUTH,
		    "server did not prove it knows the password");
		goto done;
	}
	xstrlcpy(src->mech, name, sizeof(src->mech));
	rv = 0;
done:
	sasl_free(sasl);
	return rv;
}

static int
auth(struct source *src)
{
	struct imap *im = src->priv;
	const struct source_cfg *cfg = src->cfg;
	enum src_auth mech = cfg->auth;

	if (mech == SRC_AUTH_USER || mech == SRC_AUTH_APOP)
		return src_fail(src, SRC_FCONFIG, "auth = %s is for POP3 only",
		    mech == SRC_AUTH_USER ? "user" : "apop");
	if (cfg->user == NULL)
		return src_fail(src, SRC_FCONFIG, "no user name given");
	if (cfg->secret == NULL)
		return src_fail(src, SRC_FCONFIG, "no password given");
	if (!conn_is_tls(src->conn) && !cfg->allow_plaintext)
		return src_fail(src, SRC_FCONFIG,
		    "refusing to send credentials over an unencrypted "
		    "connection (set allow_plaintext = yes to allow)");
	if (mech == SRC_AUTH_AUTO) {
		if (im->caps & CAP_AUTH_SCRAM_SHA_256)
			mech = SRC_AUTH_SCRAM_SHA_256;
		else if (im->caps & CAP_AUTH_SCRAM_SHA_1)
			mech = SRC_AUTH_SCRAM_SHA_1;
		else if (im->caps & CAP_AUTH_PLAIN)
			mech = SRC_AUTH_PLAIN;
		else
			mech = SRC_AUTH_LOGIN;
	}
	if ((mech == SRC_AUTH_LOGIN ? login(src) : authenticate(src, mech))
	    == -1)
		return -1;
	im->pre.armed = 1;
	/* Capabilities may change with login (RFC 3501 section 6.2.3);
	 * where pre_send asked already, its answer comes first. */
	if (im->capseen)
		return 0;
	return im->pre.ctag != 0 ? pre_caps(src) : capability(src);
}

static int
imap_open(struct source *src)
{
	struct imap *im = src->priv;
	const struct source_cfg *cfg = src->cfg;
	enum src_auth mech;

	if (src->conn != NULL)
		return src_fail(src, SRC_FCONFIG, "session already open");
	src->conn = conn_new(cfg->connect_timeout, cfg->timeout);
	/* The connection's error names the host and port itself. */
	if (conn_connect(src->conn, cfg->host, cfg->port) == -1)
		return src_connfail(src, NULL);
	if (cfg->tls == SRC_TLS_IMPLICIT
	    && conn_starttls(src->conn, cfg->host, &cfg->tlsopts) == -1)
		return src_connfail(src, "TLS handshake");
	if (early_send(src) == -1 || greeting(src) == -1)
		return -1;
	if ((!im->capseen || im->preauth) && early_drop(src) == -1)
		return -1;
	if (!im->capseen && capability(src) == -1)
		return -1;
	if (cfg->tls == SRC_TLS_STARTTLS && starttls(src) == -1)
		return -1;
	for (mech = SRC_AUTH_PLAIN; mech <= SRC_AUTH_OAUTHBEARER; mech++)
		if (mech_offered(im, mech))
			src->mechs |= 1u << mech;
	if (!(im->caps & CAP_LOGINDISABLED))
		src->mechs |= 1u << SRC_AUTH_LOGIN;
	if (im->preauth) {
		xstrlcpy(src->mech, "PREAUTH", sizeof(src->mech));
		return 0;
	}
	if (cfg->nologin)
		return 0;
	xstrlcpy(src->caps_pre, src->caps, sizeof(src->caps_pre));
	return auth(src);
}

/*
 * Folders and messages.
 */

/* How a folder is selected. */
enum sel {
	SEL_PLAIN, /* no parameters */
	SEL_CONDSTORE, /* (CONDSTORE): HIGHESTMODSEQ comes */
	SEL_ENABLED, /* QRESYNC enabled, no state to resync from */
	SEL_QRESYNC /* (QRESYNC (uidvalidity modseq)) */
};

static void
reset_mailbox(struct imap *im)
{
	im->selected = 0;
	free(im->selname);
	im->selname = NULL;
	im->exists = 0;
	im->uidvalidity = 0;
	im->uidnext = 0;
	im->highestmodseq = 0;
	im->nomodseq = 0;
}

/* The answer to LIST "" name (folder_delim, or pipelined by pre_send). */
static int
delim_result(struct source *src, const struct pend *p, const char *q)
{
	struct imap *im = src->priv;

	if (p->st == IMAP_SNO)
		return src_fail(
		    src, SRC_FREFUSED, "no folder %s: \"%s\"", q, p->text);
	if (p->st != IMAP_SOK)
		return src_fail(
		    src, SRC_FPROTO, "LIST %s failed: \"%s\"", q, p->text);
	src->delim = im->gotlist ? im->delim : 0;
	return 0;
}

/* 1 when a LIST of the session gave name's delimiter, into *delim. */
static int
listed_delim(struct imap *im, const char *name, char *delim)
{
	struct known_mbx *k = known_find(im, name);

	if (k == NULL || !k->listed)
		return 0;
	*delim = k->delim;
	return 1;
}

/* LIST "" name, for the folder's hierarchy delimiter (src->delim). q
 * is the name as the config gave it, quoted for messages. */
static int
folder_delim(struct source *src, const char *name, const char *q)
{
	struct imap *im = src->priv;
	struct pend p;
	unsigned tag;

	im->ctx = CTX_LIST;
	im->gotlist = 0;
	im->delim = 0;
	tag = cmd_begin(src, "LIST \"\"");
	if (cmd_string(src, name, 0) == -1 || cmd_send(src) == -1
	    || wait_tag(src, tag, &p) == -1)
		return -1;
	return delim_result(src, &p, q);
}

/* ENABLE QRESYNC (RFC 7162 section 3.2.3), once per session; sent
 * without waiting, the EXAMINE that needs it goes right after. Returns
 * its tag (0: not needed). */
static unsigned
enable_qresync(struct source *src)
{
	struct imap *im = src->priv;
	unsigned tag;

	if (im->qresync_on)
		return 0;
	tag = cmd_begin(src, "ENABLE QRESYNC");
	return cmd_send(src) == -1 ? 0 : tag;
}

/* The answer to a pipelined ENABLE QRESYNC. */
static int
enabled_qresync(struct source *src, unsigned tag)
{
	struct imap *im = src->priv;
	struct pend p;

	if (tag == 0)
		return 0;
	if (wait_tag(src, tag, &p) == -1)
		return -1;
	if (p.st != IMAP_SOK || !im->qresync_on)
		return src_fail(src, SRC_FPROTO,
		    "server offers QRESYNC but did not enable it: \"%s\"",
		    p.text);
	return 0;
}

/* The parameters of a select for a sync (RFC 7162 section 3.1.8 and
 * 3.2.5): a CONDSTORE enabling one, so that HIGHESTMODSEQ comes, and
 * QRESYNC's known state where there is one. */
static void
select_params(struct source *src, enum sel how, const struct sync_known *k)
{
	char par[96];

	if (how == SEL_CONDSTORE)
		snprintf(par, sizeof(par), " (CONDSTORE)");
	else if (how == SEL_QRESYNC)
		snprintf(par, sizeof(par),
		    " (QRESYNC (%" PRIu32 " %" PRIu64 "))", k->uidvalidity,
		    k->highestmodseq);
	else
		return;
	cmd_add(src, par, strlen(par), 0);
}

/* The answer to SELECT or EXAMINE (select_cmd, or pipelined by
 * pre_send). */
static int
select_result(struct source *src, const struct pend *p, const char *q, int rw)
{
	struct imap *im = src->priv;

	if (p->st == IMAP_SNO) {
		reset_mailbox(im);
		return src_fail(
		    src, SRC_FREFUSED, "no folder %s: \"%s\"", q, p->text);
	}
	if (p->st != IMAP_SOK)
		return src_fail(src, SRC_FPROTO, "%s %s failed: \"%s\"",
		    rw ? "SELECT" : "EXAMINE", q, p->text);
	if (im->uidvalidity == 0)
		return src_fail(src, SRC_FDATA,
		    "server sent no UIDVALIDITY for folder %s", q);
	return 0;
}

/*
 * The first select of the session, of the folder pipelined behind the
 * login, read-only: the answers pre_send's commands got, judged as
 * if they came now. 1 when taken (rv in *rv), 0 when the folder or
 * mode differs (the pipelined answers are then forgotten; the select
 * that follows replaces their mailbox).
 */
static int
pre_take(struct source *src, const char *folder, int rw, enum sel how,
    const char *name, const char *q, int *rv)
{
	struct imap *im = src->priv;
	int state;

	if (pre_wait(src) == -1) {
		*rv = -1;
		return 1;
	}
	state = im->pre.state;
	im->pre.state = 0;
	if (state != 2 || rw || how != SEL_PLAIN
	    || strcmp(folder, src->cfg->first_folder) != 0) {
		im->pre.listed = 0;
		msglist_free(&im->pre.msgs);
		return 0;
	}
	if (strcasecmp(name, "INBOX") == 0)
		src->delim = 0;
	else {
		im->gotlist = im->pre.gotlist;
		im->delim = im->pre.delim;
		if (delim_result(src, &im->pre.list, q) == -1) {
			reset_mailbox(im);
			*rv = -1;
			return 1;
		}
	}
	*rv = select_result(src, &im->pre.sel, q, rw);
	return 1;
}

/* SELECT or EXAMINE name, as how says (ENABLE QRESYNC goes first for
 * SEL_QRESYNC and SEL_ENABLED where needed). */
static int
select_cmd(struct source *src, const char *name, const char *q, int rw,
    enum sel how, const struct sync_known *known)
{
	struct imap *im = src->priv;
	struct pend p;
	unsigned tag, entag = 0;

	/* A failed SELECT leaves no mailbox selected (section 6.3.1). */
	reset_mailbox(im);
	im->ctx = CTX_SELECT;
	if ((how == SEL_QRESYNC || how == SEL_ENABLED)
	    && (entag = enable_qresync(src)) == 0 && !im->qresync_on)
		return -1;
	tag = cmd_begin(src, rw ? "SELECT" : "EXAMINE");
	if (cmd_string(src, name, 0) == -1)
		return -1;
	select_params(src, how, known);
	if (cmd_send(src) == -1 || enabled_qresync(src, entag) == -1
	    || wait_tag(src, tag, &p) == -1)
		return -1;
	return select_result(src, &p, q, rw);
}

/* Open folder (LIST for its delimiter unless INBOX, then SELECT or
 * EXAMINE) and fill *fi: imap_select, and the first step of
 * imap_select_sync. */
static int
open_folder(struct source *src, const char *folder, int rw, enum sel how,
    const struct sync_known *known, struct folder_info *fi)
{
	struct imap *im = src->priv;
	char *name, q[200];
	int rv = -1, taken;

	memset(fi, 0, sizeof(*fi));
	src_quote(q, sizeof(q), folder, strlen(folder));
	/* The config holds names in UTF-8 or in modified UTF-7; the server
	 * wants modified UTF-7 (RFC 3501 section 5.1.3), and INBOX so. */
	if ((name = imap_mailbox_canon(folder)) == NULL)
		return src_fail(src, SRC_FCONFIG,
		    "folder name \"%s\" is not valid UTF-8", q);
	/* INBOX always exists (RFC 3501 section 5.1) and is the Maildir
	 * itself, whatever the delimiter: no LIST, a round trip saved. */
	if (pre_take(src, folder, rw, how, name, q, &taken)) {
		if (taken == -1)
			goto done;
	} else {
		if (strcasecmp(name, "INBOX") == 0)
			src->delim = 0;
		else if (listed_delim(im, name, &src->delim))
			; /* LIST "*" or a peek gave it */
		else if (folder_delim(src, name, q) == -1)
			goto done;
		if (select_cmd(src, name, q, rw, how, known) == -1)
			goto done;
	}
	im->selected = 1;
	im->selname = name;
	name = NULL;
	fi->uidvalidity = im->uidvalidity;
	fi->exists = im->exists;
	fi->uidnext = im->uidnext;
	fi->uidplus = (im->caps & CAP_UIDPLUS) != 0;
	fi->condstore = (im->caps & CAP_CONDSTORE) != 0;
	fi->qresync = (im->caps & CAP_QRESYNC) != 0;
	/* A HIGHESTMODSEQ from a server that does not offer CONDSTORE
	 * (Dovecot with CONDSTORE left out of imap_capability still sends
	 * it) cannot be used: CHANGEDSINCE would be refused. */
	fi->highestmodseq
	    = im->nomodseq || !fi->condstore ? 0 : im->highestmodseq;
	rv = 0;
done:
	im->ctx = CTX_NONE;
	free(name);
	return rv;
}

static int
imap_select(
    struct source *src, const char *folder, int rw, struct folder_info *fi)
{
	return open_folder(src, folder, rw, SEL_PLAIN, NULL, fi);
}

/* One listing command, its FETCH responses collected into im->out;
 * with zip, COMPRESS DEFLATE right behind it (see compress): where
 * there may be mail to fetch, the round trip it costs is shared with
 * the listing's. */
static int
list_cmd(struct source *src, const char *cmd, int zip)
{
	struct pend p;
	unsigned tag, ztag = 0;

	tag = cmd_begin(src, cmd);
	if (cmd_send(src) == -1)
		return -1;
	if (zip && compress_wanted(src) && (ztag = compress_send(src)) == 0)
		return -1;
	if (wait_tag(src, tag, &p) == -1
	    || (ztag != 0 && compress_wait(src, ztag) == -1))
		return -1;
	if (p.st != IMAP_SOK)
		return src_fail(src, SRC_FPROTO,
		    "listing the folder failed: \"%s\"", p.text);
	return 0;
}

/*
 * A folder of more messages than one command may answer with (SPEC
 * "Time" caps the untagged responses to one command): listed by
 * message numbers, IMAP_LISTCHUNK at a time, from the newest down, and
 * only until a part reaches below UID from. The numbers stay put from
 * one command to the next: RFC 3501 section 7.4.1 sends no EXPUNGE
 * during a FETCH, nor while no command is in progress.
 */
static int
list_parts(struct source *src, uint32_t from)
{
	struct imap *im = src->priv;
	uint32_t hi, lo;
	char cmd[96];

	im->listfrom = from;
	for (hi = im->exists; hi >= 1; hi = lo - 1) {
		lo = hi > IMAP_LISTCHUNK ? hi - IMAP_LISTCHUNK + 1 : 1;
		snprintf(cmd, sizeof(cmd),
		    "FETCH %" PRIu32 ":%" PRIu32
		    " (UID RFC822.SIZE FLAGS INTERNALDATE)",
		    lo, hi);
		im->listlow = UINT32_MAX;
		if (list_cmd(src, cmd, 0) == -1)
			return -1;
		if (from > 1 && im->listlow < from)
			break;
	}
	return 0;
}

/* What the listing pre_list asked for gives this one (once), moved
 * into out a window at a time: 2 the whole of it (from UID 1, and
 * UIDNEXT within the range, so that it names every message), 1 the
 * messages below UID IMAP_PRECHUNK + 1, 0 nothing; -1 when a window's
 * flush failed. */
static int
pre_listing(struct source *src, uint32_t from, struct msglist *out)
{
	struct imap *im = src->priv;
	struct msglist *pre = &im->pre.msgs;
	size_t i;
	int rv = 0;

	if (im->pre.listed && from <= 1 && im->uidnext != 0) {
		rv = im->uidnext <= IMAP_PRECHUNK + 1 ? 2 : 1;
		list_tidy(pre);
		for (i = 0; i < pre->n && rv != -1; i++) {
			msglist_add(out, &pre->v[i]);
			if (out->n == out->window
			    && msglist_window(src, out) == -1)
				rv = -1;
		}
	}
	im->pre.listed = 0;
	msglist_free(pre);
	return rv;
}

static int
imap_list(struct source *src, uint32_t from, struct msglist *out)
{
	struct imap *im = src->priv;
	char cmd[96];
	int rv = -1, pre;

	msglist_free(out);
	if (!im->selected)
		return src_fail(src, SRC_FPROTO, "no folder selected");
	if ((pre = pre_listing(src, from, out)) == 2)
		return 0;
	if (pre == -1)
		goto done;
	if (pre == 1)
		from = IMAP_PRECHUNK + 1;
	if (im->exists == 0)
		return 0;
	im->ctx = CTX_MSGS;
	im->out = out;
	im->listfrom = 0;
	if (im->exists > IMAP_LISTCHUNK) {
		if (list_parts(src, from) == -1)
			goto done;
	} else {
		/* "N:*" names every message from UID N: "*" is the highest
		 * UID in use, and a range may be given backwards (RFC 3501
		 * section 6.4.8), so a non-empty folder never answers with
		 * nothing. */
		snprintf(cmd, sizeof(cmd),
		    "UID FETCH %" PRIu32
		    ":* (UID RFC822.SIZE FLAGS INTERNALDATE)",
		    from > 1 ? from : 1);
		if (list_cmd(src, cmd, im->uidnext == 0 || im->uidnext > from)
		    == -1)
			goto done;
	}
	list_tidy(out);
	rv = 0;
done:
	if (rv == -1)
		msglist_free(out);
	im->ctx = CTX_NONE;
	im->out = NULL;
	im->listfrom = 0;
	return rv;
}

/* Send "UID <verb> <set><tail>" for ix[start..start+n-1]; returns the
 * tag, or 0 on failure. */
static unsigned
uid_cmd(struct source *src, const char *verb, const struct uidix *ix,
    size_t start, size_t n, const char *tail)
{
	char *set;
	unsigned tag;

	tag = cmd_begin(src, verb);
	set = uidix_set(ix, start, n);
	cmd_add(src, " ", 1, 0);
	cmd_add(src, set, strlen(set), 0);
	cmd_add(src, tail, strlen(tail), 0);
	free(set);
	return cmd_send(src) == -1 ? 0 : tag;
}

/*
 * COMPRESS DEFLATE (RFC 4978) before the first download of a session,
 * when the server offers it and the account wants it: after login, so
 * no credential is ever compressed, and only when there is mail to
 * fetch, so a poll pays no round trip for it. A refusal is no failure:
 * the session goes on uncompressed.
 */
static int
compress_wanted(struct source *src)
{
	struct imap *im = src->priv;

	return src->cfg->compress && (im->caps & CAP_COMPRESS)
	    && !conn_is_compressed(src->conn);
}

/* Send COMPRESS DEFLATE: the last command of a flight, for the client
 * must send nothing after it until its answer (RFC 4978 section 3).
 * Returns its tag, 0 on failure. */
static unsigned
compress_send(struct source *src)
{
	struct imap *im = src->priv;
	unsigned tag;

	tag = cmd_begin(src, "COMPRESS DEFLATE");
	if (cmd_send(src) == -1)
		return 0;
	im->ztag = tag;
	return tag;
}

/* Its answer; dispatch starts compression right after an OK, and a
 * refusal is no failure: the session goes on uncompressed. */
static int
compress_wait(struct source *src, unsigned tag)
{
	struct pend p;

	return wait_tag(src, tag, &p);
}

static int
compress(struct source *src)
{
	unsigned tag;

	if (!compress_wanted(src))
		return 0;
	if ((tag = compress_send(src)) == 0)
		return -1;
	return compress_wait(src, tag);
}

/*
 * Run "UID <verb> <set><tail>" over all of ix, IMAP_BATCH UIDs per
 * command, with up to depth (at most IMAP_PIPE) commands in flight: the
 * server answers the next while the last responses to one are still
 * arriving. A command not answered OK fails (what says what failed).
 */
static int
uid_batches(struct source *src, const char *verb, const struct uidix *ix,
    size_t nix, const char *tail, const char *what, size_t depth)
{
	struct pend p;
	unsigned tags[IMAP_PIPE];
	size_t next = 0, k, ntags = 0;

	if (depth > IMAP_PIPE)
		depth = IMAP_PIPE;
	while (next < nix || ntags > 0) {
		while (ntags < depth && next < nix) {
			k = nix - next < IMAP_BATCH ? nix - next : IMAP_BATCH;
			if ((tags[ntags]
				= uid_cmd(src, verb, ix, next, k, tail))
			    == 0)
				return -1;
			ntags++;
			next += k;
		}
		if (wait_tag(src, tags[0], &p) == -1)
			return -1;
		memmove(tags, tags + 1, (ntags - 1) * sizeof(*tags));
		ntags--;
		if (p.st != IMAP_SOK)
			return src_fail(
			    src, SRC_FPROTO, "%s failed: \"%s\"", what, p.text);
	}
	return 0;
}

/* Drop from a listing the UIDs not in ix[0..nix-1] (a server may
 * answer about messages not asked for). */
static void
list_only(struct msglist *l, const struct uidix *ix, size_t nix)
{
	size_t i, k;

	for (i = k = 0; i < l->n; i++)
		if (uidix_find(ix, nix, l->v[i].num) != NULL)
			l->v[k++] = l->v[i];
	l->n = k;
}

/*
 * A windowed listing's second pass: UID FETCH of the UIDs asked for,
 * the same items as imap_list, into out through the listing's path
 * (CTX_MSGS); a UID the server no longer has gets no answer, and one
 * not asked for is dropped.
 */
static int
imap_relist(
    struct source *src, const uint32_t *nums, size_t n, struct msglist *out)
{
	struct imap *im = src->priv;
	struct uidix *ix;
	size_t nix;
	int rv;

	msglist_free(out);
	if (!im->selected)
		return src_fail(src, SRC_FPROTO, "no folder selected");
	if (n == 0)
		return 0;
	nix = uidix_nums(nums, n, &ix);
	im->ctx = CTX_MSGS;
	im->out = out;
	rv = uid_batches(src, "UID FETCH", ix, nix,
	    " (UID RFC822.SIZE FLAGS INTERNALDATE)",
	    "listing the messages again", IMAP_PIPE);
	im->ctx = CTX_NONE;
	im->out = NULL;
	if (rv == 0) {
		list_tidy(out);
		list_only(out, ix, nix);
	} else
		msglist_free(out);
	free(ix);
	return rv;
}

static int
imap_fetch(struct source *src, struct msginfo *const *msgs, size_t n,
    const struct sink *sink)
{
	struct imap *im = src->priv;
	struct fetchctx *fx;
	int rv;

	if (n == 0)
		return 0;
	if (!im->selected)
		return src_fail(src, SRC_FPROTO, "no folder selected");
	if (compress(src) == -1)
		return -1;
	fx = xcalloc(1, sizeof(*fx));
	fx->sink = sink;
	fx->received = &src->received;
	fx->nix = uidix_make(msgs, n, &fx->ix);
	fx->done = xcalloc(n, 1);
	im->fx = fx;
	im->ctx = CTX_FETCH;
	rv = uid_batches(src, "UID FETCH", fx->ix, fx->nix,
	    " (UID BODY.PEEK[])", "fetching messages", IMAP_PIPE);
	im->ctx = CTX_NONE;
	im->fx = NULL;
	free(fx->ix);
	free(fx->done);
	free(fx);
	return rv;
}

static int
imap_mark(struct source *src, struct msginfo *const *msgs, size_t n)
{
	struct uidix *ix;
	size_t nix;
	int rv;

	if (n == 0)
		return 0;
	if (!((struct imap *)src->priv)->selected)
		return src_fail(src, SRC_FPROTO, "no folder selected");
	nix = uidix_make(msgs, n, &ix);
	rv = uid_batches(src, "UID STORE", ix, nix,
	    " +FLAGS.SILENT (\\Deleted)", "marking messages deleted", 1);
	free(ix);
	return rv;
}

/*
 * Without UIDPLUS: plain EXPUNGE removes every message flagged
 * \Deleted, including ones another client flagged and means to keep
 * for now; so only when ours (ix) are the only ones. (A client flagging
 * one between SEARCH and EXPUNGE is a race no server without UIDPLUS
 * lets us close.) Returns 1 when others are flagged (nothing sent,
 * src->err says why), 0 after the EXPUNGE, -1 on failure.
 */
static int
expunge_plain(struct source *src, const struct uidix *ix, size_t nix)
{
	struct imap *im = src->priv;
	struct pend p;
	size_t i, other = 0;

	im->ctx = CTX_SEARCH;
	im->nfound = 0;
	if (simple(src, "UID SEARCH DELETED", &p) == -1)
		return -1;
	if (p.st != IMAP_SOK)
		return src_fail(src, SRC_FPROTO,
		    "searching for deleted messages failed: \"%s\"", p.text);
	for (i = 0; i < im->nfound; i++)
		if (uidix_find(ix, nix, im->found[i]) == NULL)
			other++;
	if (other > 0) {
		snprintf(src->err, sizeof(src->err),
		    "%zu message%s stay%s flagged \\Deleted: %zu other "
		    "message%s in the folder %s also flagged \\Deleted and "
		    "the server lacks UIDPLUS, so EXPUNGE would remove %s too",
		    nix, nix == 1 ? "" : "s", nix == 1 ? "s" : "", other,
		    other == 1 ? "" : "s", other == 1 ? "is" : "are",
		    other == 1 ? "it" : "them");
		return 1;
	}
	im->ctx = CTX_EXPUNGE;
	if (simple(src, "EXPUNGE", &p) == -1)
		return -1;
	if (p.st != IMAP_SOK)
		return src_fail(src, SRC_FPROTO,
		    "expunging messages failed: \"%s\"", p.text);
	return 0;
}

static int
imap_expunge(
    struct source *src, struct msginfo *const *msgs, size_t n, size_t *gone)
{
	struct imap *im = src->priv;
	struct uidix *ix;
	size_t nix;
	int rv;

	*gone = 0;
	src->err[0] = '\0';
	if (n == 0)
		return 0;
	if (!im->selected)
		return src_fail(src, SRC_FPROTO, "no folder selected");
	nix = uidix_make(msgs, n, &ix);
	im->ours = ix;
	im->nours = nix;
	im->gone = 0;
	if (im->caps & CAP_UIDPLUS) {
		/* RFC 4315 section 2.1: only the messages named go. */
		im->ctx = CTX_EXPUNGE;
		rv = uid_batches(
		    src, "UID EXPUNGE", ix, nix, "", "expunging messages", 1);
	} else
		rv = expunge_plain(src, ix, nix);
	if (rv == 0) {
		*gone = im->gone < nix ? im->gone : nix;
		if (*gone < nix)
			snprintf(src->err, sizeof(src->err),
			    "the server reported %zu of %zu marked messages "
			    "expunged; the others may stay flagged \\Deleted",
			    *gone, nix);
	}
	im->ctx = CTX_NONE;
	im->ours = NULL;
	im->nours = 0;
	free(ix);
	return rv == -1 ? -1 : 0;
}

/* Every command before LOGOUT was answered and nothing depends on its
 * answer (RFC 3501 section 6.1.3: BYE, then OK): send it and go, a
 * round trip saved. */
static int
imap_quit(struct source *src)
{
	if (src->conn == NULL)
		return src_fail(src, SRC_FPROTO, "not connected");
	cmd_begin(src, "LOGOUT");
	return cmd_send(src);
}

static void
imap_free(struct source *src)
{
	struct imap *im;

	if (src == NULL)
		return;
	im = src->priv;
	conn_free(src->conn);
	sasl_free(im->early.sasl);
	msglist_free(&im->pre.msgs);
	buf_free(&im->rbuf);
	buf_free(&im->wbuf);
	buf_free(&im->tbuf);
	free(im->seq);
	free(im->found);
	known_clear(im);
	free(im->selname);
	explicit_bzero(im, sizeof(*im));
	free(im);
	explicit_bzero(src, sizeof(*src));
	free(src);
}

/* IMAP lists every message with its size. */
static int
imap_sizes(struct source *src, struct msglist *l)
{
	(void)src;
	(void)l;
	return 0;
}

/*
 * Waiting for mail: IDLE (RFC 2177) on the selected folder.
 */

static int
imap_idle_start(struct source *src)
{
	struct imap *im = src->priv;
	struct imap_resp r;
	struct pend p;
	unsigned tag;
	int x;

	if (!im->selected && !im->notify)
		return src_fail(src, SRC_FPROTO, "no folder selected");
	if (!(im->caps & CAP_IDLE))
		return src_fail(
		    src, SRC_FREFUSED, "server does not offer IDLE");
	/*
	 * The session cap on untagged bytes (IMAP_SESSIONMAX) counts from
	 * here: a daemon's watcher lives for days, and a busy folder's
	 * EXISTS and EXPUNGE would pass 64 MB in time. Resetting at each
	 * IDLE (the first and every renewal) rather than not counting in
	 * IDLE keeps a bound on a server that floods without end: 64 MB
	 * per renewal period, which honest mail does not come near.
	 */
	im->untagged_bytes = 0;
	tag = cmd_begin(src, "IDLE");
	if (cmd_send(src) == -1)
		return -1;
	/* Untagged data may come before the server's "+". */
	if ((x = wait_cont(src, tag, &r)) == -1)
		return -1;
	if (x == 0) {
		if (wait_tag(src, tag, &p) == -1)
			return -1;
		return src_fail(
		    src, SRC_FREFUSED, "server refused IDLE: \"%s\"", p.text);
	}
	im->idletag = tag;
	/* SPEC "Time": the wait in IDLE has no reply deadline; it ends at
	 * the renewal (imap_idle_done). */
	conn_reply_end(src->conn);
	return 0;
}

static int
imap_notify(struct source *src, char *const *folders, size_t n)
{
	struct imap *im = src->priv;
	struct pend p;
	char *name;
	unsigned tag;
	size_t i;
	int rv;

	if (!(im->caps & CAP_NOTIFY))
		return src_fail(
		    src, SRC_FREFUSED, "server does not offer NOTIFY");
	/* RFC 5465 section 5: MessageNew goes with MessageExpunge. New
	 * mail in the selected folder comes as EXISTS, in the others as
	 * STATUS. */
	tag = cmd_begin(
	    src, "NOTIFY SET (selected (MessageNew MessageExpunge))");
	for (i = 0; i < n; i++) {
		/* The same spelling as EXAMINE sends (imap_select): "R&D"
		 * is "R&-D" on the wire. */
		if ((name = imap_mailbox_canon(folders[i])) == NULL)
			return src_fail(src, SRC_FCONFIG,
			    "a folder name is not valid UTF-8");
		cmd_add(src, " (mailboxes", 11, 0);
		rv = cmd_string(src, name, 0);
		free(name);
		if (rv == -1)
			return -1;
		cmd_add(src, " (MessageNew MessageExpunge))", 29, 0);
	}
	if (cmd_send(src) == -1 || wait_tag(src, tag, &p) == -1)
		return -1;
	if (p.st != IMAP_SOK)
		return src_fail(
		    src, SRC_FREFUSED, "server refused NOTIFY: \"%s\"", p.text);
	im->notify = 1;
	return 0;
}

static int
imap_idle_read(struct source *src, int *news)
{
	struct imap *im = src->priv;
	struct imap_resp r;
	int k;

	*news = 0;
	while ((k = conn_line_ready(src->conn)) == 1) {
		if (read_resp(src, &r) == -1 || dispatch(src, &r, 0) == -1)
			return -1;
		/* The server may end IDLE itself (RFC 2177 section 3). */
		if (im->idletag != 0 && cmd_pend(im)->done)
			return src_fail(src, SRC_FTEMP,
			    "server ended IDLE: \"%s\"", cmd_pend(im)->text);
	}
	*news = im->news;
	im->news = 0;
	if (k == -1)
		return readfail(src);
	return 0;
}

static int
imap_idle_done(struct source *src, int *news)
{
	struct imap *im = src->priv;
	struct pend p;
	unsigned tag = im->idletag;

	*news = 0;
	if (tag == 0)
		return src_fail(src, SRC_FPROTO, "not in IDLE");
	im->idletag = 0;
	if (conn_write(src->conn, "DONE\r\n", 6) == -1)
		return src_connfail(src, "writing to the server");
	line_trace(src, SRC_TRACE_OUT, "DONE", 4);
	conn_reply_begin(src->conn);
	if (wait_tag(src, tag, &p) == -1)
		return -1;
	*news = im->news;
	im->news = 0;
	if (p.st != IMAP_SOK)
		return src_fail(
		    src, SRC_FPROTO, "IDLE ended with \"%s\"", p.text);
	return 0;
}

static int
imap_noop(struct source *src)
{
	struct pend p;

	if (simple(src, "NOOP", &p) == -1)
		return -1;
	if (p.st != IMAP_SOK)
		return src_fail(src, SRC_FPROTO, "NOOP failed: \"%s\"", p.text);
	return 0;
}

/*
 * Mirror: mailboxes, namespace, and the changes since a known state.
 */

/* One command whose untagged responses are applied in ctx; what names
 * it in an error. */
static int
ctx_cmd(
    struct source *src, enum imap_ctx ctx, const char *cmd, const char *what)
{
	struct imap *im = src->priv;
	struct pend p;
	int rv;

	im->ctx = ctx;
	rv = simple(src, cmd, &p);
	im->ctx = CTX_NONE;
	if (rv == 0 && p.st != IMAP_SOK)
		rv = src_fail(
		    src, SRC_FPROTO, "%s failed: \"%s\"", what, p.text);
	return rv;
}

/* The items a peek asks for (RFC 3501 section 6.3.10; RFC 7162 section
 * 3.1.9: HIGHESTMODSEQ only from a server that offers CONDSTORE). */
static const char *
peek_items(const struct imap *im)
{
	return im->caps & CAP_CONDSTORE
	    ? "STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)"
	    : "STATUS (UIDVALIDITY UIDNEXT MESSAGES)";
}

/* What a STATUS said of name, reported into *out once (known 0 when it
 * lacked an item): 1, or 0 when none is waiting. */
static int
peek_take(struct imap *im, const char *name, struct folder_peek *out)
{
	const unsigned need
	    = IMAP_ST_MESSAGES | IMAP_ST_UIDNEXT | IMAP_ST_UIDVALIDITY;
	struct known_mbx *k = known_find(im, name);

	memset(out, 0, sizeof(*out));
	if (k == NULL || !k->peeked)
		return 0;
	k->peeked = 0;
	if ((k->st.has & need) != need || k->st.uidvalidity == 0)
		return 1;
	out->known = 1;
	out->uidvalidity = k->st.uidvalidity;
	out->uidnext = k->st.uidnext;
	out->messages = k->st.messages;
	if ((im->caps & CAP_CONDSTORE) && (k->st.has & IMAP_ST_HIGHESTMODSEQ))
		out->highestmodseq = k->st.highestmodseq;
	return 1;
}

/* 1 when a peek may send STATUS for name: not the mailbox selected, or
 * pipelined behind the login (RFC 3501 section 6.3.10 advises against
 * STATUS on the selected mailbox), and without a synchronizing
 * literal (a round trip of its own). */
static int
peek_askable(struct source *src, const char *name)
{
	struct imap *im = src->priv;
	const char *first = src->cfg->first_folder;
	char *c;
	int same = 0;

	if (im->pre.state != 0 && first != NULL
	    && (c = imap_mailbox_canon(first)) != NULL) {
		same = strcmp(known_key(c), known_key(name)) == 0;
		free(c);
	}
	if (im->selected && im->selname != NULL
	    && strcmp(known_key(im->selname), known_key(name)) == 0)
		same = 1;
	return !same && string_unsync(im, name);
}

/* Send the STATUS of name (and its LIST first when its delimiter is not
 * known yet) into tags; *bytes counts what was sent. */
static int
peek_send(struct source *src, const char *name, unsigned *tags, size_t *ntags,
    size_t *bytes)
{
	struct imap *im = src->priv;
	struct known_mbx *k = known_find(im, name);
	const char *items = peek_items(im);

	if (strcasecmp(name, "INBOX") != 0 && (k == NULL || !k->listed)) {
		tags[(*ntags)++] = cmd_begin(src, "LIST \"\"");
		if (cmd_string(src, name, 0) == -1 || cmd_send(src) == -1)
			return -1;
		*bytes += strlen(name) + 24;
	}
	tags[(*ntags)++] = cmd_begin(src, "STATUS");
	if (cmd_string(src, name, 0) == -1)
		return -1;
	cmd_add(src, " ", 1, 0);
	cmd_add(src, items + 7, strlen(items + 7), 0);
	*bytes += strlen(name) + strlen(items) + 24;
	return cmd_send(src);
}

/* One window of a peek, from folders[*next]: up to IMAP_PEEKWIN
 * folders' commands sent together, then their answers read. */
static int
peek_window(struct source *src, const char *const *folders, size_t n,
    size_t *next, struct folder_peek *out)
{
	struct imap *im = src->priv;
	unsigned tags[2 * IMAP_PEEKWIN];
	size_t ask[IMAP_PEEKWIN], nask = 0, ntags = 0, bytes = 0, i, j;
	struct pend p;
	char *name;
	int rv = -1;

	for (i = *next; i < n && nask < IMAP_PEEKWIN && bytes < IMAP_PEEKBYTES;
	     i++) {
		if ((name = imap_mailbox_canon(folders[i])) == NULL)
			continue;
		if (!peek_askable(src, name) || peek_take(im, name, &out[i])) {
			free(name);
			continue;
		}
		j = peek_send(src, name, tags, &ntags, &bytes);
		/* Known, so that its answers are taken (on_status). */
		if (j == 0)
			known_get(im, name);
		free(name);
		if (j != 0)
			return -1;
		ask[nask++] = i;
	}
	*next = i;
	known_sort(im);
	im->ctx = CTX_PEEK;
	/* Refusals (a folder the server lacks) leave it unknown. */
	for (j = 0; j < ntags; j++)
		if (wait_tag(src, tags[j], &p) == -1)
			goto done;
	known_sort(im);
	for (j = 0; j < nask; j++) {
		if ((name = imap_mailbox_canon(folders[ask[j]])) != NULL)
			peek_take(im, name, &out[ask[j]]);
		free(name);
	}
	rv = 0;
done:
	im->ctx = CTX_NONE;
	return rv;
}

static int
imap_peek(struct source *src, const char *const *folders, size_t n,
    struct folder_peek *out)
{
	size_t next = 0;

	memset(out, 0, n * sizeof(*out));
	/* The answers behind the login first: the first folder's EXAMINE
	 * is then answered, and no STATUS names it (peek_askable). */
	if (pre_wait(src) == -1)
		return -1;
	known_sort(src->priv);
	while (next < n)
		if (peek_window(src, folders, n, &next, out) == -1)
			return -1;
	return 0;
}

static int
imap_mailboxes(
    struct source *src, int (*fn)(void *arg, const struct mailbox *), void *arg)
{
	struct imap *im = src->priv;
	int rv;

	char cmd[160];
	int su, st;

	im->mbfn = fn;
	im->mbarg = arg;
	/* RFC 6154 section 5.1: special-use attributes on request with
	 * LIST-EXTENDED; without it, whatever attributes LIST gives. */
	su = (im->caps & CAP_LISTEXT) && (im->caps & CAP_SPECIALUSE);
	/* RFC 5819 (a RETURN option of LIST-EXTENDED): what a peek
	 * reports, in the same answer. */
	st = src->cfg->peek_in_list && (im->caps & CAP_LISTEXT)
	    && (im->caps & CAP_LISTSTATUS);
	snprintf(cmd, sizeof(cmd), "LIST \"\" \"*\"%s%s%s%s%s",
	    su || st ? " RETURN (" : "", su ? "SPECIAL-USE" : "",
	    su && st ? " " : "", st ? peek_items(im) : "", su || st ? ")" : "");
	/* What an earlier listing said is replaced. */
	known_clear(im);
	rv = ctx_cmd(src, CTX_MAILBOXES, cmd, "listing the mailboxes");
	known_sort(im);
	im->mbfn = NULL;
	im->mbarg = NULL;
	return rv;
}

static int
imap_namespace(struct source *src, struct src_namespace *ns)
{
	struct imap *im = src->priv;
	int rv;

	memset(ns, 0, sizeof(*ns));
	if (!(im->caps & CAP_NAMESPACE))
		return 0;
	im->ns = ns;
	rv = ctx_cmd(src, CTX_NAMESPACE, "NAMESPACE", "NAMESPACE");
	im->ns = NULL;
	if (rv == -1)
		memset(ns, 0, sizeof(*ns));
	return rv;
}

/*
 * Messages were expunged while a folder was listed by message number:
 * the numbers asked for next, or just answered, no longer name the
 * messages they did, and a message not reported would be taken for
 * gone. Nothing of the pass is applied; the next run lists again.
 */
static int
numbers_moved(struct source *src)
{
	return src_fail(src, SRC_FTEMP,
	    "messages were expunged from the folder while it was listed; "
	    "nothing removed here, run again");
}

/*
 * The flags of every message, or with modseq those changed since it
 * (CHANGEDSINCE, RFC 7162 section 3.1.4.1), to the change sink. A
 * folder of more than IMAP_LISTCHUNK messages goes in parts by message
 * number (as list_parts), within SPEC's cap on untagged responses.
 */
static int
sync_flags(struct source *src, uint64_t modseq)
{
	struct imap *im = src->priv;
	char cmd[128], tail[48] = "";
	uint32_t lo, hi;
	unsigned long exp;

	if (im->exists == 0)
		return 0;
	if (modseq != 0)
		snprintf(
		    tail, sizeof(tail), " (CHANGEDSINCE %" PRIu64 ")", modseq);
	if (im->exists <= IMAP_LISTCHUNK) {
		snprintf(cmd, sizeof(cmd), "UID FETCH 1:* (FLAGS)%s", tail);
		return ctx_cmd(
		    src, CTX_CHANGES, cmd, "listing the folder's flags");
	}
	exp = im->expunges;
	for (lo = 1; lo <= im->exists; lo = hi + 1) {
		hi = im->exists - lo < IMAP_LISTCHUNK ? im->exists
						      : lo + IMAP_LISTCHUNK - 1;
		snprintf(cmd, sizeof(cmd),
		    "FETCH %" PRIu32 ":%" PRIu32 " (UID FLAGS)%s", lo, hi,
		    tail);
		if (ctx_cmd(src, CTX_CHANGES, cmd, "listing the folder's flags")
		    == -1)
			return -1;
		if (im->expunges != exp)
			return numbers_moved(src);
	}
	return 0;
}

/*
 * CONDSTORE without QRESYNC reports no expunges: the UIDs in the folder,
 * by message number IMAP_GAPCHUNK at a time (one response line stays
 * under IMAP_LINEMAX), and every gap between them reported vanished.
 */
static int
sync_gaps(struct source *src)
{
	struct imap *im = src->priv;
	char cmd[96];
	uint32_t lo, hi, top, n;
	unsigned long exp;

	im->gapnext = 1;
	exp = im->expunges;
	n = im->exists;
	for (lo = 1; lo <= im->exists; lo = hi + 1) {
		hi = im->exists - lo < IMAP_GAPCHUNK ? im->exists
						     : lo + IMAP_GAPCHUNK - 1;
		snprintf(cmd, sizeof(cmd), "UID SEARCH %s%" PRIu32 ":%" PRIu32,
		    im->caps & CAP_ESEARCH ? "RETURN (ALL) " : "", lo, hi);
		if (ctx_cmd(src, CTX_GAPS, cmd, "searching the folder") == -1)
			return -1;
		/* One chunk (1:EXISTS) names every message left. */
		if (n > IMAP_GAPCHUNK && im->expunges != exp)
			return numbers_moved(src);
	}
	/* No message of the caller's can have a UID from UIDNEXT on. */
	top = im->uidnext != 0 ? im->uidnext - 1 : UINT32_MAX;
	if (im->gapnext <= top
	    && im->chg->vanished(im->chg->arg, (uint32_t)im->gapnext, top)
		== -1)
		return src_fail(src, SRC_FLOCAL,
		    "could not remove messages gone from the server");
	return 0;
}

/* The changes after the folder is open (fi filled). */
static int
sync_changes(struct source *src, const struct sync_known *known,
    const struct folder_info *fi, int qr, enum src_sync *kind)
{
	if (known->uidvalidity == 0 || fi->uidvalidity != known->uidvalidity) {
		*kind = SRC_SYNC_VOID;
		return 0;
	}
	/* A HIGHESTMODSEQ below the known one (a server restored from a
	 * backup without a new UIDVALIDITY) cannot say what changed. */
	if (known->highestmodseq == 0 || fi->highestmodseq == 0
	    || fi->highestmodseq < known->highestmodseq) {
		*kind = SRC_SYNC_WHOLE;
		return sync_flags(src, 0);
	}
	*kind = SRC_SYNC_DELTA;
	if (qr)
		return 0; /* VANISHED (EARLIER) and FETCH came already */
	/* A flag change raises HIGHESTMODSEQ (RFC 7162 section 3.1.1); an
	 * expunge changes EXISTS or, with an arrival, UIDNEXT. */
	if (fi->highestmodseq != known->highestmodseq
	    && sync_flags(src, known->highestmodseq) == -1)
		return -1;
	if (fi->exists == known->exists && fi->uidnext == known->uidnext
	    && fi->uidnext != 0)
		return 0;
	return sync_gaps(src);
}

static int
imap_select_sync(struct source *src, const char *folder,
    const struct sync_known *known, const struct change_sink *chg,
    struct folder_info *fi, enum src_sync *kind)
{
	struct imap *im = src->priv;
	enum sel how = SEL_PLAIN;
	int rv;

	*kind = SRC_SYNC_VOID;
	/* QRESYNC parameters only with a state to resync from (RFC 7162
	 * section 3.2.5); a stale UIDVALIDITY makes the server ignore
	 * them. */
	if (im->caps & CAP_QRESYNC)
		how = known->uidvalidity != 0 && known->highestmodseq != 0
		    ? SEL_QRESYNC
		    : SEL_ENABLED;
	else if (im->caps & CAP_CONDSTORE)
		how = SEL_CONDSTORE;
	/* During the EXAMINE, FETCH and VANISHED (EARLIER) are changes
	 * only when they answer QRESYNC parameters. */
	im->chg = how == SEL_QRESYNC ? chg : NULL;
	rv = open_folder(src, folder, 0, how, known, fi);
	im->chg = chg;
	if (rv == 0)
		rv = sync_changes(src, known, fi, how == SEL_QRESYNC, kind);
	im->chg = NULL;
	im->ctx = CTX_NONE;
	return rv;
}

static char *
imap_local_name(struct source *src, const char *folder, char *delim)
{
	char *name;

	*delim = src->delim;
	/* The server's name, in modified UTF-7; the Maildir gets UTF-8. */
	if ((name = imap_utf7_decode(folder)) == NULL)
		name = xstrdup(folder);
	return name;
}

const struct source_ops imap_ops = {
	.caps = SRC_CAP_FOLDERS | SRC_CAP_UIDNEXT | SRC_CAP_UID_IS_NUM,
	.open = imap_open,
	.select = imap_select,
	.local_name = imap_local_name,
	.list = imap_list,
	.relist = imap_relist,
	.sizes = imap_sizes,
	.fetch = imap_fetch,
	.mark = imap_mark,
	.expunge = imap_expunge,
	.quit = imap_quit,
	.free = imap_free,
	.mailboxes = imap_mailboxes,
	.namespace = imap_namespace,
	.select_sync = imap_select_sync,
	.idle_start = imap_idle_start,
	.idle_read = imap_idle_read,
	.idle_done = imap_idle_done,
	.noop = imap_noop,
	.notify = imap_notify,
	.peek = imap_peek,
};

struct source *
imap_new(const struct source_cfg *cfg)
{
	return src_new(&imap_ops, cfg, sizeof(struct imap));
}
