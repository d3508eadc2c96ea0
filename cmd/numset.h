/*
 * A set of message numbers (POP3) or UIDs (IMAP) kept as ranges: what
 * the first pass over a long listing keeps to act on (run.c), about
 * nothing for a first fetch (one range) and 8 bytes a gap otherwise.
 */
#ifndef NUMSET_H
#define NUMSET_H

#include <stddef.h>
#include <stdint.h>

struct numrange {
	uint32_t lo, hi; /* lo <= hi */
};

struct numset {
	struct numrange *v;
	size_t n, cap;
	size_t count; /* numbers in the set, once numset_done ran */
};

/* Add num, in any order, repeats allowed. */
void numset_add(struct numset *, uint32_t num);
/* Put the ranges in order and merge those that touch or overlap, and
 * count the numbers; before numset_take. */
void numset_done(struct numset *);
/* Copy the next at most max numbers, in ascending order, into out
 * from *pos (0 at first; it moves on); returns how many (0: no more). */
size_t numset_take(
    const struct numset *, uint64_t *pos, uint32_t *out, size_t max);
/* 1 when num is in the set (after numset_done): O(log ranges). */
int numset_has(const struct numset *, uint32_t num);
void numset_free(struct numset *);

#endif
