/*
 * libFuzzer target for the IMAP response parsers of proto/imap_parse.c.
 * The input is a response in wire form (first line, then where a line
 * ends in "{n}" CRLF and n bytes, as the client assembles it): it goes
 * through imap_parse_resp and, by kind, the FETCH, LIST (in full, and
 * for the delimiter), NAMESPACE, STATUS, VANISHED, ESEARCH and code
 * parsers,
 * every UID set they return read range by range, the tokenizer (token by token and skipping values), the
 * literal announcement check on each line, INTERNALDATE, modified UTF-7
 * (decode, and encode-decode round trip), UID sets, and the CRLF
 * decoder split at a point the input chooses, which must give what the
 * whole input gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/imap.h"
#include "../../proto/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
lex_all(const char *buf, size_t len)
{
	struct imap_lex l;
	struct imap_tok tok;
	enum imap_tokt t;
	uint64_t n;
	char *q;
	size_t steps = 0, qlen;

	imap_lex_init(&l, buf, len);
	do {
		t = imap_lex_next(&l, &tok);
		if (tok.p < buf || tok.p + tok.len > buf + len)
			abort();
		if (t == IMAP_TQUOTED) {
			q = malloc(tok.len ? tok.len : 1);
			qlen = imap_unquote(tok.p, tok.len, q);
			if (qlen > tok.len)
				abort();
			free(q);
		}
		(void)imap_tok_num(&tok, UINT32_MAX, &n);
		(void)imap_tok_is(&tok, "NIL");
		if (++steps > len + 2)
			abort(); /* every token but EOF/ERR eats a byte */
	} while (t != IMAP_TEOF && t != IMAP_TERR);
	imap_lex_init(&l, buf, len);
	while (imap_lex_skip(&l) == 0)
		if (++steps > 2 * len + 4)
			abort();
}

static void
inside(const char *p, size_t n, const char *buf, size_t len)
{
	if (p != NULL && (p < buf || p + n > buf + len))
		abort();
}

/* Every range of a set, each lo <= hi and neither 0. */
static void
set_all(const char *p, size_t n)
{
	struct imap_set s;
	uint32_t lo, hi;
	size_t steps = 0;

	imap_set_init(&s, p, n);
	while (imap_set_next(&s, &lo, &hi) == 1) {
		if (lo == 0 || lo > hi || ++steps > n)
			abort();
	}
}

/* The mirror's parsers: LIST in full, NAMESPACE, VANISHED, ESEARCH;
 * and the pre-check's STATUS. */
static void
mirror(const char *data, size_t len)
{
	struct imap_mbstatus st;
	struct imap_mbox m;
	struct imap_tok p;
	const char *tag, *set;
	size_t taglen, setlen;
	char delim;
	int known, earlier, uid;

	if (imap_parse_mailbox(data, len, &m) == 0)
		inside(m.name.p, m.name.len, data, len);
	if (imap_parse_status(data, len, &st) == 0)
		inside(st.name.p, st.name.len, data, len);
	if (imap_parse_namespace(data, len, &p, &delim, &known) == 0 && known)
		inside(p.p, p.len, data, len);
	if (imap_parse_vanished(data, len, &earlier, &set, &setlen) == 0) {
		inside(set, setlen, data, len);
		set_all(set, setlen);
	}
	if (imap_parse_esearch(data, len, &tag, &taglen, &uid, &set, &setlen)
	    == 0) {
		inside(tag, taglen, data, len);
		inside(set, setlen, data, len);
		set_all(set, setlen);
	}
	set_all(data, len);
}

static void
resp(const char *buf, size_t len)
{
	struct imap_resp r;
	struct imap_fetch f;
	const char *arg;
	size_t arglen;
	uint32_t uid;
	char delim;

	if (imap_parse_resp(buf, len, &r) == -1)
		return;
	if (r.code != NULL) {
		if (r.code < buf || r.code + r.codelen > buf + len)
			abort();
		(void)imap_code_is(
		    r.code, r.codelen, "UIDVALIDITY", &arg, &arglen);
		(void)imap_code_is(
		    r.code, r.codelen, "CAPABILITY", &arg, &arglen);
	}
	if (r.text != NULL && (r.text < buf || r.text + r.textlen > buf + len))
		abort();
	if (r.data == NULL)
		return;
	if (r.data < buf || r.data + r.datalen > buf + len)
		abort();
	if (imap_parse_fetch(r.data, r.datalen, &f) == 0) {
		if ((f.has_uid && f.uid == 0)
		    || (f.has_modseq && f.modseq > INT64_MAX))
			abort();
		if ((f.body == IMAP_BODY_QUOTED || f.body == IMAP_BODY_LITERAL)
		    && (f.bodyp < r.data
			|| f.bodyp + f.bodylen > r.data + r.datalen))
			abort();
	}
	(void)imap_fetch_pending_body(r.data, r.datalen, &uid);
	(void)imap_parse_list(r.data, r.datalen, &delim);
	mirror(r.data, r.datalen);
}

static void
lines(const char *buf, size_t len)
{
	const char *p, *nl;
	size_t l, start;
	uint64_t n;

	for (p = buf; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		l = nl != NULL ? (size_t)(nl - p) : (size_t)(buf + len - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (imap_literal_end(p, l, &n, &start) == 1
		    && (start >= l || p[start] != '{' || n > IMAP_LITERAL_MAX))
			abort();
		if (nl == NULL)
			break;
	}
}

static void
utf7(const char *buf, size_t len)
{
	char *s, *dec, *enc, *back;

	s = malloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	if ((dec = imap_utf7_decode(s)) != NULL) {
		/* What decodes re-encodes to something that decodes to
		 * the same. */
		if ((enc = imap_utf7_encode(dec)) == NULL)
			abort();
		if ((back = imap_utf7_decode(enc)) == NULL
		    || strcmp(back, dec) != 0)
			abort();
		free(back);
		free(enc);
		free(dec);
	}
	if ((enc = imap_utf7_encode(s)) != NULL) {
		if ((back = imap_utf7_decode(enc)) == NULL
		    || strcmp(back, s) != 0)
			abort();
		free(back);
		free(enc);
	}
	free(s);
}

static void
crlf(const char *buf, size_t len, size_t split)
{
	struct imap_crlf c1 = { 0 }, c2 = { 0 };
	char *o1, *o2;
	size_t n1, n2;

	if (split > len)
		split = len;
	o1 = malloc(len + 2);
	o2 = malloc(len + 3);
	n1 = imap_crlf_feed(&c1, buf, len, o1);
	n1 += imap_crlf_flush(&c1, o1 + n1);
	n2 = imap_crlf_feed(&c2, buf, split, o2);
	n2 += imap_crlf_feed(&c2, buf + split, len - split, o2 + n2);
	n2 += imap_crlf_flush(&c2, o2 + n2);
	if (n1 != n2 || n1 > len || memcmp(o1, o2, n1) != 0)
		abort();
	free(o1);
	free(o2);
}

static void
uidset(const uint8_t *data, size_t size)
{
	uint32_t v[64];
	size_t n = 0, i;
	uint32_t last = 0;
	char *s;

	/* Sorted, duplicate-free, non-zero UIDs from the input's bytes. */
	for (i = 0; i + 1 < size && n < 64; i += 2) {
		last += (uint32_t)data[i] % 4 == 0 ? 1 : data[i + 1] + 1u;
		if (last == 0)
			break;
		v[n++] = last;
	}
	s = imap_uidset(v, n);
	if (n > 0 && s[0] == '\0')
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	int64_t t;

	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	resp(buf, size);
	lex_all(buf, size);
	lines(buf, size);
	(void)imap_parse_date(buf, size, &t);
	if (size < 4096)
		utf7(buf, size);
	crlf(buf, size, size > 0 ? data[0] : 0);
	uidset(data, size);
	free(buf);
	return 0;
}
