/*
 * libFuzzer target for the pure POP3 parsers of proto/pop3.c: the
 * status line, UIDL and LIST/STAT lines, the APOP timestamp, and the
 * streaming body decoder. The input is split into lines, each given to
 * every line parser; the whole input also goes through the decoder in
 * one piece and again in pieces whose sizes the input chooses, and the
 * two outputs must agree (the decoder's contract: the split points do
 * not matter).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_line(const char *line, size_t len)
{
	const char *text, *uid, *ts;
	size_t uidlen, tslen, i;
	uint32_t num, a;
	uint64_t b;
	int st;

	st = pop3_status(line, len, &text);
	if (text < line || text > line + len)
		abort();
	if (st == 1 && (len < 3 || memcmp(line, "+OK", 3) != 0))
		abort();
	if (st == 0 && (len < 4 || memcmp(line, "-ERR", 4) != 0))
		abort();
	if (pop3_parse_uidl(line, len, &num, &uid, &uidlen) == 0) {
		/* RFC 1939 section 7: 1 to 70 bytes in 0x21 to 0x7E. */
		if (num == 0 || uidlen < 1 || uidlen > 70 || uid < line
		    || uid + uidlen != line + len)
			abort();
		for (i = 0; i < uidlen; i++)
			if ((unsigned char)uid[i] < 0x21
			    || (unsigned char)uid[i] > 0x7e)
				abort();
	}
	(void)pop3_parse_pair(line, len, &a, &b);
	if (pop3_apop_stamp(line, len, &ts, &tslen) == 0) {
		if (ts < line || ts + tslen > line + len || tslen < 3
		    || ts[0] != '<' || ts[tslen - 1] != '>')
			abort();
	}
}

/* Decode in[0..len-1], fed in pieces of the sizes that sizes[] gives
 * (cycled; 0 means the rest), into out. Returns the output length and
 * sets *used to the input consumed up to the end line. */
static size_t
decode(const char *in, size_t len, const uint8_t *sizes, size_t nsizes,
    char *out, size_t *used)
{
	struct pop3_dec d;
	size_t pos = 0, o = 0, piece, k, olen, step = 0;
	int done = 0;

	pop3_dec_init(&d);
	while (pos < len && !done) {
		piece = nsizes > 0 ? sizes[step++ % nsizes] : 0;
		if (piece == 0 || piece > len - pos)
			piece = len - pos;
		/* A piece may need more than one call (held bytes). */
		while (piece > 0 && !done) {
			k = pop3_dec_feed(
			    &d, in + pos, piece, out + o, &olen, &done);
			if (k > piece || olen > piece)
				abort();
			if (k == 0 && olen == 0 && !done)
				abort(); /* no progress */
			pos += k;
			piece -= k;
			o += olen;
		}
	}
	*used = pos;
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sizes;
	const char *in, *p, *nl;
	char *buf, *out1, *out2;
	size_t nsizes, len, o1, o2, u1, u2;

	/* The first byte says how many split sizes follow. */
	nsizes = size > 0 ? data[0] % 16 : 0;
	if (size < 1 + nsizes)
		return 0;
	sizes = data + 1;
	len = size - 1 - nsizes;
	/* A copy of exactly len bytes, so reads past it are caught. */
	buf = malloc(len ? len : 1);
	memcpy(buf, data + 1 + nsizes, len);
	in = buf;

	for (p = in; p < in + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(in + len - p));
		if (nl == NULL) {
			check_line(p, (size_t)(in + len - p));
			break;
		}
		check_line(p, (size_t)(nl - p - (nl > p && nl[-1] == '\r')));
	}

	out1 = malloc(len ? len : 1);
	out2 = malloc(len ? len : 1);
	o1 = decode(in, len, NULL, 0, out1, &u1);
	o2 = decode(in, len, sizes, nsizes, out2, &u2);
	if (o1 != o2 || u1 != u2 || memcmp(out1, out2, o1) != 0)
		abort();
	free(out1);
	free(out2);
	free(buf);
	return 0;
}
