/*
 * cmd/numset.c: the set of numbers the first pass over a long listing
 * keeps, as ranges.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../cmd/numset.h"
#include "t.h"

/* Take everything, window by window, into a flat array. */
static size_t
take_all(const struct numset *s, size_t window, uint32_t *out, size_t max)
{
	uint64_t pos = 0;
	size_t got = 0, n;

	while (got < max
	    && (n = numset_take(s, &pos, out + got,
		    window < max - got ? window : max - got))
		> 0)
		got += n;
	return got;
}

static void
first_fetch_is_one_range(void *arg)
{
	struct numset s = { 0 };
	uint32_t i, out[8];
	uint64_t pos = 0;

	(void)arg;
	for (i = 1; i <= 100000; i++)
		numset_add(&s, i);
	numset_done(&s);
	CHECK(s.n == 1);
	CHECK(s.count == 100000);
	CHECK(numset_take(&s, &pos, out, 3) == 3);
	CHECK(out[0] == 1 && out[2] == 3 && pos == 3);
	pos = 99998;
	CHECK(numset_take(&s, &pos, out, 8) == 2);
	CHECK(out[0] == 99999 && out[1] == 100000);
	CHECK(numset_take(&s, &pos, out, 8) == 0);
	numset_free(&s);
}

static void
parts_newest_first_and_repeats(void *arg)
{
	/* IMAP lists a large folder's parts newest first; a server may
	 * repeat a message. */
	static const uint32_t in[] = { 7, 8, 9, 12, 3, 4, 5, 9, 1, 12, 2 };
	static const uint32_t want[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12 };
	struct numset s = { 0 };
	uint32_t out[16];
	size_t i, n;

	(void)arg;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		numset_add(&s, in[i]);
	numset_done(&s);
	CHECK(s.count == 9);
	CHECK(s.n == 3); /* 1:5, 7:9, 12 */
	n = take_all(&s, 2, out, 16);
	CHECK(n == 9);
	for (i = 0; i < n && i < 9; i++)
		CHECK(out[i] == want[i]);
	for (i = 0; i <= 13; i++)
		CHECK(numset_has(&s, (uint32_t)i)
		    == (i >= 1 && i <= 12 && i != 6 && i != 10 && i != 11));
	numset_free(&s);
}

static void
gaps_and_extremes(void *arg)
{
	struct numset s = { 0 };
	uint32_t out[8];
	size_t n;

	(void)arg;
	numset_add(&s, UINT32_MAX - 1);
	numset_add(&s, UINT32_MAX);
	numset_add(&s, UINT32_MAX); /* no wrap past the top */
	numset_add(&s, 1);
	numset_add(&s, 3);
	numset_done(&s);
	CHECK(s.count == 4);
	n = take_all(&s, 3, out, 8);
	CHECK(n == 4);
	CHECK(out[0] == 1 && out[1] == 3 && out[2] == UINT32_MAX - 1
	    && out[3] == UINT32_MAX);
	CHECK(!numset_has(&s, 0) && numset_has(&s, 1) && !numset_has(&s, 2));
	CHECK(numset_has(&s, UINT32_MAX) && !numset_has(&s, UINT32_MAX - 2));
	numset_free(&s);
}

static void
empty_set(void *arg)
{
	struct numset s = { 0 };
	uint32_t out[1];
	uint64_t pos = 0;

	(void)arg;
	numset_done(&s);
	CHECK(s.count == 0);
	CHECK(numset_take(&s, &pos, out, 1) == 0);
	CHECK(!numset_has(&s, 1));
	numset_free(&s);
}

static void
many_gaps_differential(void *arg)
{
	/* Every third number of 1..30000, added in blocks out of order:
	 * the ranges must give back exactly those, in order. */
	struct numset s = { 0 };
	uint32_t *out = calloc(20001, sizeof(*out));
	size_t i, n, bad = 0;
	uint32_t b, k;

	(void)arg;
	for (b = 9; b-- > 0;)
		for (k = b * 3333 + 1;
		     k <= (b == 8 ? 30000 : (b + 1) * 3333 + 1); k++)
			if (k % 3 != 0)
				numset_add(&s, k);
	numset_done(&s);
	n = take_all(&s, 4096, out, 20001);
	CHECK(n == s.count && n == 20000);
	for (i = 0, k = 1; i < n; i++, k++) {
		if (k % 3 == 0)
			k++;
		bad += out[i] != k;
	}
	CHECK(bad == 0);
	free(out);
	numset_free(&s);
}

int
main(void)
{
	T_RUN("first_fetch_is_one_range", first_fetch_is_one_range, NULL);
	T_RUN("parts_newest_first_and_repeats", parts_newest_first_and_repeats,
	    NULL);
	T_RUN("gaps_and_extremes", gaps_and_extremes, NULL);
	T_RUN("empty_set", empty_set, NULL);
	T_RUN("many_gaps_differential", many_gaps_differential, NULL);
	return T_DONE();
}
