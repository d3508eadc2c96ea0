/*
 * Sets of message numbers as ranges. See numset.h.
 */
#include <stdlib.h>

#include "../tls/util.h"
#include "numset.h"

void
numset_add(struct numset *s, uint32_t num)
{
	struct numrange *last = s->n > 0 ? &s->v[s->n - 1] : NULL;

	if (last != NULL && num >= last->lo && num <= last->hi)
		return;
	if (last != NULL && last->hi != UINT32_MAX && num == last->hi + 1) {
		last->hi = num;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n].lo = s->v[s->n].hi = num;
	s->n++;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct numrange *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

void
numset_done(struct numset *s)
{
	size_t i, k;

	/* Listings come in order: a sort only for one that did not. */
	for (i = 1; i < s->n && s->v[i - 1].lo < s->v[i].lo; i++)
		;
	if (i < s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_range);
	s->count = 0;
	for (i = k = 0; i < s->n; i++) {
		if (k > 0
		    && (uint64_t)s->v[i].lo <= (uint64_t)s->v[k - 1].hi + 1) {
			if (s->v[i].hi > s->v[k - 1].hi)
				s->v[k - 1].hi = s->v[i].hi;
			continue;
		}
		s->v[k++] = s->v[i];
	}
	s->n = k;
	for (i = 0; i < s->n; i++)
		s->count += (size_t)s->v[i].hi - s->v[i].lo + 1;
}

size_t
numset_take(const struct numset *s, uint64_t *pos, uint32_t *out, size_t max)
{
	size_t i, got = 0;
	uint64_t skip = *pos, len;

	/* *pos counts numbers from the start: find its range. */
	for (i = 0; i < s->n; i++) {
		len = (uint64_t)s->v[i].hi - s->v[i].lo + 1;
		if (skip < len)
			break;
		skip -= len;
	}
	for (; i < s->n && got < max; i++, skip = 0) {
		len = (uint64_t)s->v[i].hi - s->v[i].lo + 1;
		for (; skip < len && got < max; skip++)
			out[got++] = (uint32_t)(s->v[i].lo + skip);
	}
	*pos += got;
	return got;
}

int
numset_has(const struct numset *s, uint32_t num)
{
	size_t lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->v[mid].hi < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->v[lo].lo <= num;
}

void
numset_free(struct numset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = s->count = 0;
}
