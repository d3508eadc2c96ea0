/*
 * The growing byte buffer that may hold secrets. See buf.h.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void
buf_add(struct buf *b, const void *s, size_t n)
{
	size_t cap;
	char *p;

	if (n == 0)
		return;
	if (b->cap - b->len < n + 1) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len < n + 1)
			cap *= 2;
		p = xmalloc(cap);
		if (b->len > 0)
			memcpy(p, b->p, b->len);
		if (b->p != NULL)
			explicit_bzero(b->p, b->cap);
		free(b->p);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_wipe(struct buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	buf_wipe(b);
	free(b->p);
	b->p = NULL;
	b->cap = 0;
}
