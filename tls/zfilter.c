/*
 * Raw deflate in both directions for IMAP COMPRESS=DEFLATE. See
 * zfilter.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "util.h"
#include "zfilter.h"

struct zfilter {
	z_stream in; /* inflate: from the server */
	z_stream out; /* deflate: to the server */
	char *ibuf; /* compressed bytes, ibuf[ioff] to ibuf[ioff + ilen - 1] */
	size_t icap, ioff, ilen;
	int broken;
	int ended; /* the server finished its stream (at LOGOUT) */
	char err[128];
};

struct zfilter *
zfilter_new(size_t incap)
{
	struct zfilter *z = xcalloc(1, sizeof(*z));

	/* windowBits -15: raw deflate, a 32 KB window (RFC 4978 section
	 * 4 allows any; the server picks its own). */
	if (inflateInit2(&z->in, -15) != Z_OK
	    || deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
		   Z_DEFAULT_STRATEGY)
		!= Z_OK) {
		/* Out of memory only. */
		zfilter_free(z);
		return NULL;
	}
	z->ibuf = xmalloc(incap);
	z->icap = incap;
	return z;
}

void
zfilter_free(struct zfilter *z)
{
	if (z == NULL)
		return;
	/* inflateEnd and deflateEnd accept a stream whose init failed. */
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z->ibuf);
	free(z);
}

int
zfilter_put(struct zfilter *z, const void *buf, size_t len)
{
	if (z->ilen == 0)
		z->ioff = 0;
	if (len > z->icap - z->ilen)
		return -1;
	if (len > z->icap - z->ioff - z->ilen) {
		memmove(z->ibuf, z->ibuf + z->ioff, z->ilen);
		z->ioff = 0;
	}
	memcpy(z->ibuf + z->ioff + z->ilen, buf, len);
	z->ilen += len;
	return 0;
}

size_t
zfilter_pending(const struct zfilter *z)
{
	return z->ilen;
}

ssize_t
zfilter_inflate(struct zfilter *z, void *out, size_t outsz)
{
	size_t used, made;
	int r;

	if (z->broken)
		return -1;
	if (outsz > 1024 * 1024 * 1024)
		outsz = 1024 * 1024 * 1024;
	if (z->ilen == 0 || outsz == 0)
		return 0;
	if (z->ended) {
		z->broken = 1;
		snprintf(z->err, sizeof(z->err),
		    "data after the end of the compressed stream");
		return -1;
	}
	z->in.next_in = (Bytef *)z->ibuf + z->ioff;
	z->in.avail_in = (uInt)z->ilen;
	z->in.next_out = out;
	z->in.avail_out = (uInt)outsz;
	r = inflate(&z->in, Z_SYNC_FLUSH);
	used = z->ilen - z->in.avail_in;
	made = outsz - z->in.avail_out;
	z->ioff += used;
	z->ilen -= used;
	/* Dovecot ends its stream when it closes the connection: what
	 * came before is good; anything after it is not. */
	if (r == Z_STREAM_END) {
		z->ended = 1;
		if (made == 0 && z->ilen > 0)
			return zfilter_inflate(z, out, outsz);
	} else if (r != Z_OK && r != Z_BUF_ERROR) {
		z->broken = 1;
		snprintf(z->err, sizeof(z->err), "bad compressed data: %s",
		    z->in.msg != NULL ? z->in.msg : "inflate failed");
		return -1;
	}
	return (ssize_t)made;
}

int
zfilter_deflate(struct zfilter *z, const void *in, size_t len,
    int (*write)(void *arg, const void *chunk, size_t n), void *arg)
{
	unsigned char chunk[ZFILTER_CHUNK];
	const unsigned char *p = in;
	size_t step;
	int flush, r;

	if (len == 0)
		return 0;
	for (;;) {
		/* uInt is at least 32 bits; feed at most 1 GB at a time. */
		step = len > (1u << 30) ? (1u << 30) : len;
		flush = step == len ? Z_SYNC_FLUSH : Z_NO_FLUSH;
		z->out.next_in = (Bytef *)p;
		z->out.avail_in = (uInt)step;
		do {
			z->out.next_out = chunk;
			z->out.avail_out = sizeof(chunk);
			r = deflate(&z->out, flush);
			if (r != Z_OK && r != Z_BUF_ERROR) {
				snprintf(z->err, sizeof(z->err),
				    "deflate failed (%d)", r);
				return -1;
			}
			if (sizeof(chunk) - z->out.avail_out > 0
			    && write(
				   arg, chunk, sizeof(chunk) - z->out.avail_out)
				== -1)
				return -1;
		} while (z->out.avail_out == 0 || z->out.avail_in > 0);
		p += step;
		len -= step;
		if (flush == Z_SYNC_FLUSH)
			return 0;
	}
}

const char *
zfilter_error(const struct zfilter *z)
{
	return z->err;
}
