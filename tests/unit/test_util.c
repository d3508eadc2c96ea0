/*
 * Unit tests for tls/util.c and tls/buf.c: the decimal parser and the
 * wiped growing buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "../../tls/buf.h"
#include "../../tls/util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct dec_case {
	const char *name;
	const char *in;
	size_t start;
	uint64_t max;
	int rc;
	uint64_t want;
	size_t end; /* *i after a success */
};

static const struct dec_case dec_cases[] = {
	{ "dec: one digit", "7", 0, 9, 0, 7, 1 },
	{ "dec: stops at a space", "12 34", 0, 100, 0, 12, 2 },
	{ "dec: from an offset", "x 0042y", 2, 100, 0, 42, 6 },
	{ "dec: no digit", "x", 0, 100, -1, 0, 0 },
	{ "dec: empty", "", 0, 100, -1, 0, 0 },
	{ "dec: sign refused", "-1", 0, 100, -1, 0, 0 },
	{ "dec: at max", "4294967295", 0, UINT32_MAX, 0, UINT32_MAX, 10 },
	{ "dec: above max", "4294967296", 0, UINT32_MAX, -1, 0, 0 },
	{ "dec: u64 max", "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX,
	    20 },
	{ "dec: u64 overflow", "18446744073709551616", 0, UINT64_MAX, -1, 0,
	    0 },
	{ "dec: small max", "10", 0, 9, -1, 0, 0 },
	{ "dec: digit above a small max", "5", 0, 3, -1, 0, 0 },
};

static void
t_dec(const void *arg)
{
	const struct dec_case *c = arg;
	uint64_t v = 12345;
	size_t i = c->start;

	CHECK(parse_dec(c->in, strlen(c->in), &i, c->max, &v) == c->rc);
	if (c->rc == 0) {
		CHECK(v == c->want);
		CHECK(i == c->end);
	} else
		CHECK(v == 12345);
}

static void
t_buf(const void *arg)
{
	struct buf b = { 0 };
	char big[1000];
	size_t i;

	(void)arg;
	buf_add(&b, "", 0);
	CHECK(b.p == NULL && b.len == 0);
	buf_str(&b, "abc");
	CHECK(b.len == 3 && strcmp(b.p, "abc") == 0);
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 5; i++)
		buf_add(&b, big, sizeof(big));
	CHECK(b.len == 5003 && b.p[5003] == '\0' && b.cap > 5003);
	CHECK(memcmp(b.p, "abcxxx", 6) == 0);
	buf_wipe(&b);
	CHECK(b.len == 0 && b.p != NULL && b.p[0] == '\0');
	buf_str(&b, "d");
	CHECK(b.len == 1 && strcmp(b.p, "d") == 0);
	buf_free(&b);
	CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < NELEM(dec_cases); i++)
		T_RUN(dec_cases[i].name, t_dec, &dec_cases[i]);
	T_RUN("buf: grows, stays terminated, wipes", t_buf, NULL);
	return T_DONE();
}
