/*
 * The pure half of the IMAP client: a tokenizer and parsers for server
 * responses (RFC 3501 section 9, RFC 9051 section 9), INTERNALDATE,
 * UID sets, literal announcements, and the CRLF to LF decoder for
 * message bodies. Nothing here does I/O, so tests and fuzzers drive it
 * with plain buffers.
 *
 * A response is given as the bytes of the wire form: the first line
 * without its CRLF, and where a line ended in a literal "{n}" (or
 * "{n+}"), CRLF, the n bytes, and the rest of the response after them.
 * Parsers return pointers into that buffer; they never allocate.
 */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The largest literal size accepted at all (2^40); larger is a broken
 * reply. */
#define IMAP_LITERAL_MAX ((uint64_t)1 << 40)

enum imap_tokt {
	IMAP_TEOF, /* end of the buffer */
	IMAP_TATOM, /* atom, number or flag; may hold "[...]" and "<n>" */
	IMAP_TQUOTED, /* quoted string: p/len is the text between the
			 * quotes, escapes still in (see imap_unquote) */
	IMAP_TLITERAL, /* literal: p/len is its content */
	IMAP_TNIL, /* the atom NIL, any case */
	IMAP_TLPAR, /* "(" */
	IMAP_TRPAR, /* ")" */
	IMAP_TERR /* bytes that fit no token */
};

struct imap_tok {
	enum imap_tokt t;
	const char *p;
	size_t len;
};

struct imap_lex {
	const char *buf;
	size_t len;
	size_t pos;
};

void imap_lex_init(struct imap_lex *, const char *buf, size_t len);

/* The next token, skipping spaces before it. Returns its type (also in
 * tok->t). After IMAP_TEOF or IMAP_TERR it keeps returning the same. */
enum imap_tokt imap_lex_next(struct imap_lex *, struct imap_tok *tok);

/* Skip one value: a string, atom, NIL, or a parenthesized list of values
 * (nested at most 64 deep). Returns 0, or -1 on bad grammar or when the
 * buffer ends inside the value. */
int imap_lex_skip(struct imap_lex *);

/* Copy the text of a quoted string (tok->p, tok->len) into out without
 * its escapes; out must hold len bytes. Returns the length written. */
size_t imap_unquote(const char *p, size_t len, char *out);

/* The decimal number in an atom token, at most max. Returns 0, or -1
 * when it is not all digits or exceeds max. */
int imap_tok_num(const struct imap_tok *, uint64_t max, uint64_t *out);

/* 1 when the token is an atom equal to s, ignoring case. */
int imap_tok_is(const struct imap_tok *, const char *s);
/* 1 when the len bytes at p are the string s, ASCII case ignored. */
int imap_eqi(const char *p, size_t len, const char *s);

enum imap_rtype {
	IMAP_RTAGGED, /* "tag OK|NO|BAD ..." */
	IMAP_RUNTAGGED, /* "* ..." */
	IMAP_RCONT /* "+ ..." */
};

enum imap_status {
	IMAP_SNONE, /* untagged data ("* 3 EXISTS", "* LIST ...") */
	IMAP_SOK,
	IMAP_SNO,
	IMAP_SBAD,
	IMAP_SBYE,
	IMAP_SPREAUTH
};

struct imap_resp {
	enum imap_rtype type;
	const char *tag; /* tagged: the tag */
	size_t taglen;
	enum imap_status status;
	int hasnum; /* untagged data led by a number: "* 3 FETCH" */
	uint32_t num;
	const char *kw; /* untagged data: its keyword ("FETCH", "LIST") */
	size_t kwlen;
	const char *code; /* status: the response code without its
			   * brackets ("UIDVALIDITY 3"), or NULL */
	size_t codelen;
	const char *text; /* status and continuation: the text after the
			   * code */
	size_t textlen;
	const char *data; /* untagged data: what follows the keyword */
	size_t datalen;
};

/* Split a response into the parts above. Returns 0, or -1 when it does
 * not follow the grammar (no tag, a tagged reply other than OK, NO or
 * BAD, an untagged one without a keyword, a number out of range). */
int imap_parse_resp(const char *buf, size_t len, struct imap_resp *);

/* 1 when a response code (resp->code) starts with the atom name
 * (ignoring case); *arg and *arglen are then what follows it and one
 * space. */
int imap_code_is(const char *code, size_t codelen, const char *name,
    const char **arg, size_t *arglen);

/* Does a line end in a literal announcement "{n}" or "{n+}"? Returns 1
 * and sets *n and *start (the offset of the "{"), 0 when it does not,
 * and -1 when it looks like one but the size is not a number or above
 * IMAP_LITERAL_MAX. */
int imap_literal_end(const char *line, size_t len, uint64_t *n, size_t *start);

/* BODY[] as it appears in a FETCH response. */
enum imap_body {
	IMAP_BODY_NONE, /* no BODY[] item */
	IMAP_BODY_NIL, /* BODY[] NIL */
	IMAP_BODY_QUOTED,
	IMAP_BODY_LITERAL
};

struct imap_fetch {
	int has_uid;
	uint32_t uid;
	int has_size;
	uint64_t size; /* RFC822.SIZE */
	int has_flags;
	unsigned flags; /* MSG_* of source.h */
	int has_date;
	int64_t date; /* INTERNALDATE as Unix time */
	int has_modseq;
	uint64_t modseq; /* MODSEQ (n), RFC 7162 section 3.1.4.1 */
	enum imap_body body;
	const char *bodyp; /* the first BODY[] item's string, as the
			    * token gives it */
	size_t bodylen;
};

/* Parse the data of a FETCH response (what follows "FETCH "): the
 * items in any order, unknown ones skipped; of two BODY[] items the
 * first counts. Returns 0, or -1 on bad grammar (including a UID of 0,
 * two different UIDs, a bad INTERNALDATE). */
int imap_parse_fetch(const char *data, size_t len, struct imap_fetch *);

/* data is the start of FETCH data that ends where a literal begins
 * (just before its "{"). Returns 1 when that literal is the value of a
 * BODY[] item; *uid is then the UID given before it, or 0 when none
 * was. Returns 0 for any other literal or bad grammar. */
int imap_fetch_pending_body(const char *data, size_t len, uint32_t *uid);

/* The data of a LIST response: "(flags) delim name". *delim is the
 * hierarchy delimiter, 0 for NIL. Returns 0, or -1 on bad grammar. */
int imap_parse_list(const char *data, size_t len, char *delim);

/* The data of a LIST response in full: "(attributes) delim name",
 * then any LIST-EXTENDED data (RFC 5258 section 6), skipped. */
struct imap_mbox {
	unsigned attrs; /* MBX_* of source.h */
	char delim; /* 0 for NIL */
	struct imap_tok name; /* atom (NIL included), quoted or literal */
};

/* Returns 0, or -1 on bad grammar (an attribute that is not an atom, a
 * delimiter of other than one character, no name, trailing bytes that
 * are not values). */
int imap_parse_mailbox(const char *data, size_t len, struct imap_mbox *);

/* The data of a STATUS response (RFC 3501 section 7.2.4): the mailbox
 * and the items of its list that a pre-check uses (RFC 7162 adds
 * HIGHESTMODSEQ); other items are skipped. */
#define IMAP_ST_MESSAGES 0x01
#define IMAP_ST_UIDNEXT 0x02
#define IMAP_ST_UIDVALIDITY 0x04
#define IMAP_ST_HIGHESTMODSEQ 0x08

struct imap_mbstatus {
	struct imap_tok name; /* atom (NIL included), quoted or literal */
	unsigned has; /* IMAP_ST_* of the items that came */
	uint32_t messages;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
};

/* Returns 0, or -1 on bad grammar (no name, no list, an item without a
 * value, a known item's value not a number in range, trailing bytes). */
int imap_parse_status(const char *data, size_t len, struct imap_mbstatus *);

/* The data of a NAMESPACE response (RFC 2342 section 5): its first
 * personal namespace. *known is 0 when the personal namespaces are NIL;
 * else *prefix is the prefix's string token (quoted or literal) and
 * *delim its delimiter (0 for NIL). The other namespaces and extension
 * data are checked for grammar only. Returns 0, or -1 on bad grammar. */
int imap_parse_namespace(const char *data, size_t len, struct imap_tok *prefix,
    char *delim, int *known);

/* A sequence set of UIDs, "1:5,7,9:8" (no "*"), read one range at a
 * time without storing it. */
struct imap_set {
	const char *p;
	size_t len;
	size_t pos;
};

void imap_set_init(struct imap_set *, const char *p, size_t len);

/* The next range, as *lo <= *hi (a range given backwards is turned
 * round). Returns 1, 0 at the end, or -1 on bad grammar (a number of 0
 * or over 2^32 - 1, "*", an empty element). */
int imap_set_next(struct imap_set *, uint32_t *lo, uint32_t *hi);

/* The data of a VANISHED response (RFC 7162 section 3.2.10): *earlier
 * when it has "(EARLIER)", and the UID set (check it with imap_set_*).
 * Returns 0, or -1 on bad grammar. */
int imap_parse_vanished(const char *data, size_t len, int *earlier,
    const char **set, size_t *setlen);

/* The data of an ESEARCH response (RFC 4731 section 3.1): *uid when it
 * has UID, *tag and *taglen the correlator's tag (NULL when none), and
 * the set of ALL (NULL and 0 when there is no ALL: nothing matched).
 * Returns 0, or -1 on bad grammar. */
int imap_parse_esearch(const char *data, size_t len, const char **tag,
    size_t *taglen, int *uid, const char **set, size_t *setlen);

/* An INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz" (without the quotes; the
 * day may be " d") as Unix time. Returns 0, or -1 when malformed. */
int imap_parse_date(const char *s, size_t len, int64_t *out);

/* The sorted, duplicate-free UIDs v[0..n-1] as a sequence set with
 * ranges: 1,2,3,5 -> "1:3,5". Returns a new string. */
char *imap_uidset(const uint32_t *v, size_t n);

/* Streaming CRLF to LF conversion across chunks: a CR at the end of one
 * chunk and an LF at the start of the next are one LF; a CR not
 * followed by LF is kept, and so is a bare LF. */
struct imap_crlf {
	int cr; /* a CR is pending from the previous chunk */
};

/* Convert in[0..len-1] into out, which must hold len + 1 bytes. Returns
 * the bytes written. */
size_t imap_crlf_feed(
    struct imap_crlf *, const char *in, size_t len, char *out);

/* At the end of the data: the pending CR, if any, into out (1 byte).
 * Returns 0 or 1. */
size_t imap_crlf_flush(struct imap_crlf *, char *out);

#endif
