/*
 * A growing byte buffer that may hold secrets (commands with a
 * password, SASL messages): when it grows, the old copy is wiped before
 * it is freed (by hand rather than realloc(3)), and after any add it is
 * NUL-terminated. A zeroed struct is empty.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

/* Append n bytes of s. */
void buf_add(struct buf *, const void *s, size_t n);
/* Append the string s. */
void buf_str(struct buf *, const char *s);
/* Wipe the contents and empty the buffer, keeping its memory. */
void buf_wipe(struct buf *);
/* Wipe and free; the buffer is empty again. */
void buf_free(struct buf *);

#endif
