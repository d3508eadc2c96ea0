/*
 * The compression layer of IMAP COMPRESS=DEFLATE (RFC 4978): raw deflate
 * (no zlib or gzip header) in each direction, one zlib stream per
 * direction for the rest of the session. It knows nothing of sockets:
 * conn.c feeds it what it read and writes what it produced.
 *
 * Memory is bounded: the zlib states (about 300 KB for deflate at level
 * 6, window 32 KB, 44 KB for inflate) and one input buffer of the size
 * given to zfilter_new. Output goes to the caller's buffers, at most
 * their size per call.
 */
#ifndef ZFILTER_H
#define ZFILTER_H

#include <stddef.h>
#include <sys/types.h>

struct zfilter;

/* A new filter whose input buffer holds incap bytes of compressed data
 * not yet inflated; NULL when zlib cannot get its memory. */
struct zfilter *zfilter_new(size_t incap);

/* Free; accepts NULL. */
void zfilter_free(struct zfilter *);

/* Take len compressed bytes from the server. Returns 0, or -1 when they
 * do not fit beside those not yet inflated (the caller inflates first:
 * zfilter_inflate until it returns 0). */
int zfilter_put(struct zfilter *, const void *buf, size_t len);

/* Compressed bytes taken and not yet inflated. */
size_t zfilter_pending(const struct zfilter *);

/* Inflate what was put into out, at most outsz bytes. Returns the bytes
 * written (0: all input used, more is needed), or -1 when the data is
 * not a valid deflate stream or goes on after the stream's end (a
 * server may end it before it closes); zfilter_error says why. After -1 the filter is unusable. */
ssize_t zfilter_inflate(struct zfilter *, void *out, size_t outsz);

/*
 * Deflate len bytes of in and flush them (Z_SYNC_FLUSH), so the server
 * can read all of it. Calls write(arg, chunk, n) for each piece of at
 * most ZFILTER_CHUNK bytes; returns 0, or -1 when a write returned -1.
 */
#define ZFILTER_CHUNK 16384
int zfilter_deflate(struct zfilter *, const void *in, size_t len,
    int (*write)(void *arg, const void *chunk, size_t n), void *arg);

/* Why the last call failed. */
const char *zfilter_error(const struct zfilter *);

#endif
