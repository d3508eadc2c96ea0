/*
 * libFuzzer target for the inflate path of IMAP COMPRESS=DEFLATE
 * (tls/zfilter.c), as conn.c drives it: compressed bytes put in pieces
 * whose sizes the input chooses, inflated into small output buffers.
 * Whatever the bytes, inflate never writes more than it is given room
 * for, never takes more input than its buffer holds, and stays failed
 * once it failed. Then the input itself is deflated by one filter and
 * inflated by another, and must come back byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tls/zfilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define INCAP 4096

struct acc {
	uint8_t *p;
	size_t len, cap;
};

static int
acc_add(void *arg, const void *chunk, size_t n)
{
	struct acc *a = arg;

	if (n == 0 || n > ZFILTER_CHUNK)
		abort();
	if (a->len + n > a->cap) {
		a->cap = (a->len + n) * 2;
		if ((a->p = realloc(a->p, a->cap)) == NULL)
			abort();
	}
	memcpy(a->p + a->len, chunk, n);
	a->len += n;
	return 0;
}

/* Inflate in, put in pieces of 1..64 bytes (sizes from sz), out in
 * pieces of 1..256 bytes; returns the output length or -1. At most
 * outcap bytes are kept in out (NULL: none kept). */
static long
run_inflate(const uint8_t *in, size_t len, const uint8_t *sz, size_t nsz,
    uint8_t *out, size_t outcap)
{
	struct zfilter *z = zfilter_new(INCAP);
	uint8_t buf[257];
	size_t off = 0, k, i = 0, total = 0, osz;
	ssize_t n;
	long rv = -1;

	if (z == NULL)
		abort();
	for (;;) {
		if (zfilter_pending(z) == 0) {
			if (off == len)
				break;
			k = nsz ? sz[i++ % nsz] % 64 + 1 : 64;
			if (k > len - off)
				k = len - off;
			if (zfilter_put(z, in + off, k) == -1)
				abort(); /* nothing was pending */
			off += k;
		}
		osz = nsz ? sz[i++ % nsz] % 256 + 1 : 256;
		/* The guard byte past the room given must not change. */
		buf[osz] = 0xa5;
		n = zfilter_inflate(z, buf, osz);
		if (buf[osz] != 0xa5 || n > (ssize_t)osz)
			abort();
		if (n == -1) {
			if (zfilter_inflate(z, buf, osz) != -1)
				abort();
			goto done;
		}
		if (out != NULL && total + (size_t)n <= outcap)
			memcpy(out + total, buf, (size_t)n);
		total += (size_t)n;
		/* Deflate expands at most 1032 to 1. */
		if (total > len * 1032 + 1024)
			abort();
	}
	rv = (long)total;
done:
	zfilter_free(z);
	return rv;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sz = data;
	size_t nsz = size < 8 ? size : 8;
	struct zfilter *d;
	struct acc a = { 0 };
	uint8_t *back;
	long n;

	if (size > 65536)
		return 0;
	/* The input as compressed data from a server. */
	(void)run_inflate(data, size, sz, nsz, NULL, 0);

	/* The input as plain text, in two flushed writes. */
	if ((d = zfilter_new(INCAP)) == NULL)
		abort();
	if (zfilter_deflate(d, data, size / 2, acc_add, &a) == -1
	    || zfilter_deflate(d, data + size / 2, size - size / 2, acc_add, &a)
		== -1)
		abort();
	zfilter_free(d);
	back = malloc(size + 1);
	n = run_inflate(a.p, a.len, sz, nsz, back, size);
	if (n != (long)size || memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(a.p);
	return 0;
}
