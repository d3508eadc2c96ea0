/*
 * tls/zfilter.c: raw deflate both ways (IMAP COMPRESS=DEFLATE).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../../tls/zfilter.h"
#include "t.h"

struct out {
	unsigned char *p;
	size_t len, cap;
	size_t maxchunk;
	int calls;
};

static int
collect(void *arg, const void *chunk, size_t n)
{
	struct out *o = arg;

	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->p = realloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, chunk, n);
	o->len += n;
	if (n > o->maxchunk)
		o->maxchunk = n;
	o->calls++;
	return 0;
}

/* Text that compresses, deterministic. */
static unsigned char *
sample(size_t n)
{
	static const char *words[] = { "mail ", "fetch ", "deflate ",
		"From: a@example.org\r\n", "\r\n", "x", "Subject: hi\r\n" };
	unsigned char *p = malloc(n);
	size_t i = 0, k = 7, w;

	while (i < n) {
		k = k * 1103515245 + 12345;
		w = strlen(words[(k >> 16) % 7]);
		if (w > n - i)
			w = n - i;
		memcpy(p + i, words[(k >> 16) % 7], w);
		i += w;
	}
	return p;
}

/* Inflate all of in (fed in pieces of feed bytes) with outsz bytes per
 * call; returns the bytes or NULL on error; checks the bound. */
static unsigned char *
inflate_all(struct zfilter *z, const unsigned char *in, size_t len, size_t feed,
    size_t outsz, size_t *outlen, int *bounded)
{
	unsigned char *res = malloc(len * 20 + 16), *buf = malloc(outsz);
	size_t got = 0, off = 0, k;
	ssize_t n;

	*bounded = 1;
	while (off < len || zfilter_pending(z) > 0) {
		if (zfilter_pending(z) == 0) {
			k = len - off < feed ? len - off : feed;
			if (zfilter_put(z, in + off, k) == -1)
				goto fail;
			off += k;
		}
		while ((n = zfilter_inflate(z, buf, outsz)) > 0) {
			if ((size_t)n > outsz)
				*bounded = 0;
			memcpy(res + got, buf, (size_t)n);
			got += (size_t)n;
		}
		if (n == -1)
			goto fail;
	}
	free(buf);
	*outlen = got;
	return res;
fail:
	free(buf);
	free(res);
	return NULL;
}

static void
t_roundtrip(const void *arg)
{
	size_t n = (size_t)(uintptr_t)arg, got = 0;
	struct zfilter *a = zfilter_new(4096), *b = zfilter_new(4096);
	unsigned char *src = sample(n), *res;
	struct out o = { 0 };
	int bounded;

	/* Two writes: each is flushed, so each can be read at once. */
	CHECK(zfilter_deflate(a, src, n / 3, collect, &o) == 0);
	CHECK(zfilter_deflate(a, src + n / 3, n - n / 3, collect, &o) == 0);
	CHECK(o.maxchunk <= ZFILTER_CHUNK);
	if (n > 10000)
		CHECK(o.len < n / 2);
	res = inflate_all(b, o.p, o.len, 1000, 777, &got, &bounded);
	CHECK(res != NULL);
	CHECK(bounded);
	CHECK(got == n);
	CHECK(res != NULL && memcmp(res, src, n) == 0);
	free(res);
	free(src);
	free(o.p);
	zfilter_free(a);
	zfilter_free(b);
}

/* A flushed write is readable by itself: the first half inflates in
 * full before the second is sent. */
static void
t_flush(const void *arg)
{
	struct zfilter *a = zfilter_new(4096), *b = zfilter_new(4096);
	struct out o = { 0 };
	char buf[64];
	ssize_t n;

	(void)arg;
	CHECK(zfilter_deflate(a, "A1 LOGOUT\r\n", 11, collect, &o) == 0);
	CHECK(o.len >= 4 && memcmp(o.p + o.len - 4, "\0\0\xff\xff", 4) == 0);
	CHECK(zfilter_put(b, o.p, o.len) == 0);
	n = zfilter_inflate(b, buf, sizeof(buf));
	CHECK(n == 11 && memcmp(buf, "A1 LOGOUT\r\n", 11) == 0);
	CHECK(zfilter_inflate(b, buf, sizeof(buf)) == 0);
	/* Nothing to send: nothing written. */
	o.calls = 0;
	CHECK(zfilter_deflate(a, "", 0, collect, &o) == 0 && o.calls == 0);
	free(o.p);
	zfilter_free(a);
	zfilter_free(b);
}

static void
t_garbage(const void *arg)
{
	const char *g = arg;
	struct zfilter *z = zfilter_new(4096);
	char buf[256];
	ssize_t n;
	int i;

	CHECK(zfilter_put(z, g, strlen(g)) == 0);
	for (i = 0; i < 10 && (n = zfilter_inflate(z, buf, sizeof(buf))) > 0;
	     i++)
		;
	CHECK(n == -1);
	CHECK(strlen(zfilter_error(z)) > 0);
	/* Broken stays broken. */
	zfilter_put(z, "x", 1);
	CHECK(zfilter_inflate(z, buf, sizeof(buf)) == -1);
	zfilter_free(z);
}

/* A finished stream (Dovecot at LOGOUT) gives what it holds; data after
 * its end is an error. */
static void
t_end(const void *arg)
{
	z_stream s;
	unsigned char c[256];
	char buf[64];
	struct zfilter *z = zfilter_new(4096);
	size_t n;

	(void)arg;
	memset(&s, 0, sizeof(s));
	deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	s.next_in = (Bytef *)"* BYE bye\r\n";
	s.avail_in = 11;
	s.next_out = c;
	s.avail_out = sizeof(c);
	deflate(&s, Z_FINISH);
	n = sizeof(c) - s.avail_out;
	deflateEnd(&s);
	CHECK(zfilter_put(z, c, n) == 0);
	CHECK(zfilter_inflate(z, buf, sizeof(buf)) == 11);
	CHECK(zfilter_inflate(z, buf, sizeof(buf)) == 0);
	CHECK(zfilter_put(z, "\0\0\xff\xff", 4) == 0);
	CHECK(zfilter_inflate(z, buf, sizeof(buf)) == -1);
	zfilter_free(z);
}

static void
t_overflow(const void *arg)
{
	struct zfilter *z = zfilter_new(16);
	char big[17] = { 0 };

	(void)arg;
	CHECK(zfilter_put(z, big, 17) == -1);
	CHECK(zfilter_put(z, big, 16) == 0);
	CHECK(zfilter_put(z, big, 1) == -1);
	zfilter_free(z);
}

int
main(void)
{
	T_RUN("roundtrip small", t_roundtrip, (void *)(uintptr_t)100);
	T_RUN("roundtrip 1 MB", t_roundtrip, (void *)(uintptr_t)(1 << 20));
	T_RUN("flush per write", t_flush, NULL);
	T_RUN("garbage text", t_garbage, "* 1 FETCH (UID 1 BODY[] {5}\r\n");
	T_RUN("garbage reserved block type", t_garbage, "\xff\xff\xff\xff");
	T_RUN("stream end, then data", t_end, NULL);
	T_RUN("input buffer bounded", t_overflow, NULL);
	return T_DONE();
}
