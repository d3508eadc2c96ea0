/*
 * Unit tests for proto/source.c: src_quote, which makes server text safe
 * to print on a terminal.
 */
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "../../proto/source.h"

struct quotecase {
	const char *name;
	const char *in;
	size_t len;
	size_t dstlen;
	const char *want;
};

#define Q(name, in, dstlen, want)                                              \
	{                                                                      \
		name, in, sizeof(in) - 1, dstlen, want                         \
	}

static const struct quotecase quotecases[] = {
	Q("plain text", "-ERR no such user", 64, "-ERR no such user"),
	Q("C0 controls and DEL", "a\001b\033[31mc\177d", 64, "a?b?[31mc?d"),
	Q("NUL", "a\0b", 64, "a?b"),
	Q("lone C1 CSI",
	    "a\x9b"
	    "31mb",
	    64, "a?31mb"),
	Q("every C1 byte alone", "\x80\x85\x8d\x90\x9b\x9d\x9f", 64, "???????"),
	Q("C1 as UTF-8 is a control too",
	    "a\xc2\x9b"
	    "31m",
	    64, "a?31m"),
	Q("UTF-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", 64,
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"),
	Q("UTF-8 continuation bytes in C1 range kept", "\xe2\x80\x9c", 64,
	    "\xe2\x80\x9c"),
	Q("truncated sequence: its C1 byte replaced", "\xe2\x80", 64, "\xe2?"),
	Q("overlong form replaced", "\xc0\x9b", 64, "\xc0?"),
	Q("surrogate replaced", "\xed\xa0\x80", 64, "\xed\xa0?"),
	Q("Latin-1 letter kept", "caf\xe9", 64, "caf\xe9"),
	Q("cut at the end of dst", "abcdef", 4, "abc"),
	Q("a sequence not cut in two", "ab\xe2\x82\xac", 5, "ab"),
	Q("empty", "", 8, ""),
};

static void
t_quote(const void *arg)
{
	const struct quotecase *c = arg;
	char dst[64];

	memset(dst, 'x', sizeof(dst));
	src_quote(dst, c->dstlen, c->in, c->len);
	CHECK_STR(dst, c->want);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(quotecases) / sizeof(quotecases[0]); i++)
		T_RUN(quotecases[i].name, t_quote, &quotecases[i]);
	return T_DONE();
}
