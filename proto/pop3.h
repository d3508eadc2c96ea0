/*
 * POP3 client (RFC 1939, CAPA and PIPELINING per RFC 2449, STLS per
 * RFC 2595), and the pure parsers it is built on, exposed for tests.
 */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* A new POP3 session for cfg (borrowed; must outlive it). Not connected
 * until ops->open. */
/* What a POP3 source can do, without making one. */
extern const struct source_ops pop3_ops;

struct source *pop3_new(const struct source_cfg *cfg);

/* Status of a reply line: 1 for "+OK", 0 for "-ERR", -1 for anything
 * else. *text points past the status word and one space (may be ""). */
int pop3_status(const char *line, size_t len, const char **text);

/* One line of a UIDL listing: "num uid". uid is 1-70 bytes in
 * 0x21-0x7E (RFC 1939 section 7). Returns 0 and fills num, *uid (points
 * into line) and *uidlen; -1 when the line breaks that grammar. */
int pop3_parse_uidl(const char *line, size_t len, uint32_t *num,
    const char **uid, size_t *uidlen);

/* One line of a LIST listing, or the text after "+OK " of STAT: "a b"
 * with two decimal numbers. Returns 0, or -1 on bad grammar or
 * overflow. */
int pop3_parse_pair(const char *line, size_t len, uint32_t *a, uint64_t *b);

/* Streaming decoder of a multi-line response body: removes
 * dot-stuffing, turns CRLF into LF, and stops at the terminating
 * ".CRLF" line. */
struct pop3_dec {
	int state; /* private */
};

void pop3_dec_init(struct pop3_dec *);

/* Decode in[0..inlen-1] into out (which must hold inlen bytes). Returns
 * the number of input bytes consumed; *outlen is the number of output
 * bytes; *done is set to 1 when the terminating line was consumed (no
 * byte after it is consumed). It may consume less than inlen before the
 * end of the message (a held-back dot or CR filled out): call it again
 * with the rest. */
size_t pop3_dec_feed(struct pop3_dec *, const char *in, size_t inlen, char *out,
    size_t *outlen, int *done);

/* The APOP timestamp "<...>" in a greeting: 0 and *ts, *tslen set, or
 * -1 when there is none. */
int pop3_apop_stamp(
    const char *greeting, size_t len, const char **ts, size_t *tslen);

#endif
