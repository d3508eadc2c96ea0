/*
 * Small helpers every layer may use: allocation that cannot fail (it
 * exits on exhaustion), string copies that always terminate, wiping of
 * secrets, and the monotonic clock that deadlines are measured on.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocate or exit(70) with a message on stderr; never return NULL. */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);

/* Like asprintf(3), but exits on failure; returns the length. */
int xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));

/* Copy at most size-1 bytes of src into dst and terminate it; return
 * strlen(src), so a result >= size means the copy was cut. */
size_t xstrlcpy(char *dst, const char *src, size_t size);

/* Wipe a NUL-terminated secret with explicit_bzero, then free it.
 * Accepts NULL. */
void freezero_str(char *);

/* Write all n bytes to fd (a file: no deadline), retrying on EINTR and
 * short writes. Returns 0, or -1 with errno set. */
int write_full(int fd, const void *buf, size_t n);

/* fsync the directory that holds path (the part before its last '/',
 * "." without one), so that an entry created or renamed there is
 * durable. Returns 0, or -1 with errno set. */
int fsync_parent(const char *path);

/*
 * Many small strings that live and die together (the UIDs of a listing
 * or of the state), copied into large blocks: no allocator overhead per
 * string, and one free for all. A string stays where it was put until
 * strpool_free. A zeroed struct is an empty pool.
 */
struct strpool {
	char *cur; /* free space in the newest block */
	size_t left;
	char **blocks;
	size_t nblocks;
};

/* A copy of s in the pool. */
char *strpool_add(struct strpool *, const char *s);

/* Free every string of the pool and empty it. */
void strpool_free(struct strpool *);

/* Milliseconds on CLOCK_MONOTONIC, for deadlines. */
int64_t mono_ms(void);

#endif
