/*
 * Unit tests of cmd/dns.c: the order SRV records are tried in (RFC 2782
 * priority, then weight, made deterministic).
 */
#include <string.h>

#include "../../cmd/dns.h"
#include "t.h"

struct sortcase {
	const char *name;
	size_t n;
	struct dns_srv in[4];
	const char *want; /* targets in order, space-separated */
};

static const struct sortcase cases[] = {
	{ "priority first", 3,
	    { { "c", 20, 100, 1 }, { "a", 5, 0, 1 }, { "b", 10, 50, 1 } },
	    "a b c" },
	{ "heavier weight first", 3,
	    { { "light", 10, 1, 1 }, { "heavy", 10, 90, 1 },
		{ "mid", 10, 9, 1 } },
	    "heavy mid light" },
	{ "equal weights by name", 3,
	    { { "z", 0, 5, 1 }, { "m", 0, 5, 1 }, { "a", 0, 5, 1 } }, "a m z" },
	{ "priority beats weight", 2,
	    { { "heavy", 2, 65535, 1 }, { "light", 1, 0, 1 } }, "light heavy" },
	{ "same name by port", 2, { { "x", 0, 0, 995 }, { "x", 0, 0, 993 } },
	    "x x" },
};

static void
t_sort(const void *arg)
{
	const struct sortcase *c = arg;
	struct dns_srv v[4];
	char got[64] = "";
	size_t i;

	memcpy(v, c->in, sizeof(v));
	dns_srv_sort(v, c->n);
	for (i = 0; i < c->n; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, v[i].target);
	}
	CHECK_STR(got, c->want);
	if (strcmp(c->name, "same name by port") == 0)
		CHECK(v[0].port == 993 && v[1].port == 995);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		T_RUN(cases[i].name, t_sort, &cases[i]);
	return T_DONE();
}
