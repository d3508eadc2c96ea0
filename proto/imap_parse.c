/*
 * IMAP response tokenizer and parsers, modified UTF-7, UID sets and the
 * CRLF decoder. Pure functions over buffers. See imap_parse.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../tls/util.h"
#include "imap.h"
#include "imap_parse.h"

#define LEX_DEPTH 64

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int
imap_eqi(const char *p, size_t len, const char *s)
{
	return strlen(s) == len && strncasecmp(p, s, len) == 0;
}

/*
 * ATOM-CHAR of RFC 3501 section 9, loosened: list wildcards and the
 * backslash of flags are allowed, and so are 8-bit bytes some servers
 * put into mailbox names. "]" ends an atom unless a "[" opened it.
 */
static int
atomch(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return 0;
	return c != '(' && c != ')' && c != '{' && c != '"' && c != ']';
}

void
imap_lex_init(struct imap_lex *l, const char *buf, size_t len)
{
	l->buf = buf;
	l->len = len;
	l->pos = 0;
}

static enum imap_tokt
lex_err(struct imap_lex *l, struct imap_tok *tok)
{
	l->pos = l->len + 1;
	tok->t = IMAP_TERR;
	tok->p = l->buf + l->len;
	tok->len = 0;
	return IMAP_TERR;
}

/* A literal "{n}" or "{n+}", CRLF and n bytes, starting at l->pos. */
static enum imap_tokt
lex_literal(struct imap_lex *l, struct imap_tok *tok)
{
	const char *b = l->buf;
	size_t i = l->pos + 1, digits = 0;
	uint64_t n = 0;

	while (i < l->len && b[i] >= '0' && b[i] <= '9') {
		if (n > (IMAP_LITERAL_MAX - (uint64_t)(b[i] - '0')) / 10)
			return lex_err(l, tok);
		n = n * 10 + (uint64_t)(b[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0)
		return lex_err(l, tok);
	if (i < l->len && b[i] == '+')
		i++;
	if (l->len - i < 3 || b[i] != '}' || b[i + 1] != '\r'
	    || b[i + 2] != '\n')
		return lex_err(l, tok);
	i += 3;
	if (n > l->len - i)
		return lex_err(l, tok);
	tok->t = IMAP_TLITERAL;
	tok->p = b + i;
	tok->len = (size_t)n;
	l->pos = i + (size_t)n;
	return tok->t;
}

static enum imap_tokt
lex_quoted(struct imap_lex *l, struct imap_tok *tok)
{
	const char *b = l->buf;
	size_t i = l->pos + 1;

	for (;;) {
		if (i >= l->len)
			return lex_err(l, tok);
		if (b[i] == '"')
			break;
		if (b[i] == '\\') {
			if (i + 1 >= l->len
			    || (b[i + 1] != '\\' && b[i + 1] != '"'))
				return lex_err(l, tok);
			i += 2;
			continue;
		}
		if (b[i] == '\r' || b[i] == '\n' || b[i] == '\0')
			return lex_err(l, tok);
		i++;
	}
	tok->t = IMAP_TQUOTED;
	tok->p = b + l->pos + 1;
	tok->len = i - l->pos - 1;
	l->pos = i + 1;
	return tok->t;
}

/* An atom, which may carry a section in brackets with spaces and
 * parentheses inside ("BODY[HEADER.FIELDS (FROM)]") and a partial
 * "<n>" after it. */
static enum imap_tokt
lex_atom(struct imap_lex *l, struct imap_tok *tok)
{
	const char *b = l->buf;
	size_t i = l->pos, depth = 0;
	unsigned char c;

	while (i < l->len) {
		c = (unsigned char)b[i];
		if (c == '[')
			depth++;
		else if (c == ']') {
			if (depth == 0)
				break;
			depth--;
		} else if (depth > 0) {
			if (c == '\r' || c == '\n' || c == '\0')
				return lex_err(l, tok);
		} else if (!atomch(c))
			break;
		i++;
	}
	if (depth > 0 || i == l->pos)
		return lex_err(l, tok);
	tok->p = b + l->pos;
	tok->len = i - l->pos;
	tok->t = imap_eqi(tok->p, tok->len, "NIL") ? IMAP_TNIL : IMAP_TATOM;
	l->pos = i;
	return tok->t;
}

enum imap_tokt
imap_lex_next(struct imap_lex *l, struct imap_tok *tok)
{
	unsigned char c;

	if (l->pos > l->len)
		return lex_err(l, tok);
	while (l->pos < l->len && l->buf[l->pos] == ' ')
		l->pos++;
	tok->p = l->buf + l->pos;
	tok->len = 0;
	if (l->pos == l->len) {
		tok->t = IMAP_TEOF;
		return tok->t;
	}
	c = (unsigned char)l->buf[l->pos];
	switch (c) {
	case '(':
		tok->t = IMAP_TLPAR;
		tok->len = 1;
		l->pos++;
		return tok->t;
	case ')':
		tok->t = IMAP_TRPAR;
		tok->len = 1;
		l->pos++;
		return tok->t;
	case '"':
		return lex_quoted(l, tok);
	case '{':
		return lex_literal(l, tok);
	default:
		if (atomch(c) || c == '[')
			return lex_atom(l, tok);
		return lex_err(l, tok);
	}
}

static int
lex_skip(struct imap_lex *l, int depth)
{
	struct imap_tok tok;
	size_t save;

	switch (imap_lex_next(l, &tok)) {
	case IMAP_TATOM:
	case IMAP_TQUOTED:
	case IMAP_TLITERAL:
	case IMAP_TNIL:
		return 0;
	case IMAP_TLPAR:
		if (depth >= LEX_DEPTH)
			return -1;
		for (;;) {
			save = l->pos;
			switch (imap_lex_next(l, &tok)) {
			case IMAP_TRPAR:
				return 0;
			case IMAP_TEOF:
			case IMAP_TERR:
				return -1;
			default:
				l->pos = save;
				if (lex_skip(l, depth + 1) == -1)
					return -1;
			}
		}
	default:
		return -1;
	}
}

int
imap_lex_skip(struct imap_lex *l)
{
	return lex_skip(l, 0);
}

size_t
imap_unquote(const char *p, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (p[i] == '\\' && i + 1 < len)
			i++;
		out[o++] = p[i];
	}
	return o;
}

int
imap_tok_num(const struct imap_tok *tok, uint64_t max, uint64_t *out)
{
	uint64_t n = 0, d;
	size_t i;

	if (tok->t != IMAP_TATOM || tok->len == 0)
		return -1;
	for (i = 0; i < tok->len; i++) {
		if (tok->p[i] < '0' || tok->p[i] > '9')
			return -1;
		d = (uint64_t)(tok->p[i] - '0');
		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

int
imap_tok_is(const struct imap_tok *tok, const char *s)
{
	return (tok->t == IMAP_TATOM || tok->t == IMAP_TNIL)
	    && imap_eqi(tok->p, tok->len, s);
}

/* The resp-text after a status word at buf[i]: "[code] text" or text. */
static void
resp_text(const char *buf, size_t len, size_t i, struct imap_resp *r)
{
	const char *close;

	if (i < len && buf[i] == ' ')
		i++;
	if (i < len && buf[i] == '['
	    && (close = memchr(buf + i, ']', len - i)) != NULL) {
		r->code = buf + i + 1;
		r->codelen = (size_t)(close - r->code);
		i = (size_t)(close - buf) + 1;
		if (i < len && buf[i] == ' ')
			i++;
	}
	r->text = buf + i;
	r->textlen = len - i;
}

static enum imap_status
status_word(const char *p, size_t len)
{
	if (imap_eqi(p, len, "OK"))
		return IMAP_SOK;
	if (imap_eqi(p, len, "NO"))
		return IMAP_SNO;
	if (imap_eqi(p, len, "BAD"))
		return IMAP_SBAD;
	if (imap_eqi(p, len, "BYE"))
		return IMAP_SBYE;
	if (imap_eqi(p, len, "PREAUTH"))
		return IMAP_SPREAUTH;
	return IMAP_SNONE;
}

/* "* ...": status, or data led by a number or a keyword. */
static int
parse_untagged(const char *buf, size_t len, struct imap_resp *r)
{
	size_t i = 2, w;
	uint64_t n = 0;

	r->type = IMAP_RUNTAGGED;
	if (i < len && buf[i] >= '0' && buf[i] <= '9') {
		while (i < len && buf[i] >= '0' && buf[i] <= '9') {
			n = n * 10 + (uint64_t)(buf[i] - '0');
			if (n > UINT32_MAX)
				return -1;
			i++;
		}
		if (i >= len || buf[i] != ' ')
			return -1;
		i++;
		r->hasnum = 1;
		r->num = (uint32_t)n;
	}
	for (w = i; i < len && atomch((unsigned char)buf[i]); i++)
		;
	if (i == w || (i < len && buf[i] != ' '))
		return -1;
	r->kw = buf + w;
	r->kwlen = i - w;
	if (!r->hasnum
	    && (r->status = status_word(r->kw, r->kwlen)) != IMAP_SNONE) {
		resp_text(buf, len, i, r);
		return 0;
	}
	if (i < len)
		i++;
	r->data = buf + i;
	r->datalen = len - i;
	return 0;
}

int
imap_parse_resp(const char *buf, size_t len, struct imap_resp *r)
{
	size_t i, w;

	memset(r, 0, sizeof(*r));
	if (len >= 1 && buf[0] == '+') {
		r->type = IMAP_RCONT;
		i = 1;
		if (i < len && buf[i] == ' ')
			i++;
		r->text = buf + i;
		r->textlen = len - i;
		return 0;
	}
	if (len >= 2 && buf[0] == '*' && buf[1] == ' ')
		return parse_untagged(buf, len, r);
	/* tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 section 9). */
	r->type = IMAP_RTAGGED;
	for (i = 0; i < len && (atomch((unsigned char)buf[i]) || buf[i] == ']')
	     && buf[i] != '+';
	     i++)
		;
	if (i == 0 || i >= len || buf[i] != ' ')
		return -1;
	r->tag = buf;
	r->taglen = i;
	for (w = ++i; i < len && buf[i] != ' '; i++)
		;
	r->status = status_word(buf + w, i - w);
	if (r->status != IMAP_SOK && r->status != IMAP_SNO
	    && r->status != IMAP_SBAD)
		return -1;
	resp_text(buf, len, i, r);
	return 0;
}

int
imap_code_is(const char *code, size_t codelen, const char *name,
    const char **arg, size_t *arglen)
{
	size_t k = strlen(name);

	if (code == NULL || codelen < k || !imap_eqi(code, k, name)
	    || (codelen > k && code[k] != ' '))
		return 0;
	if (codelen > k) {
		*arg = code + k + 1;
		*arglen = codelen - k - 1;
	} else {
		*arg = code + k;
		*arglen = 0;
	}
	return 1;
}

int
imap_literal_end(const char *line, size_t len, uint64_t *n, size_t *start)
{
	size_t i, j;
	uint64_t v = 0, d;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	j = len - 1;
	if (line[j - 1] == '+')
		j--;
	for (i = j; i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9'; i--)
		;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (i == j)
		return -1;
	for (*start = i - 1; i < j; i++) {
		d = (uint64_t)(line[i] - '0');
		if (v > (IMAP_LITERAL_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*n = v;
	return 1;
}

static unsigned
flag_bit(const struct imap_tok *tok)
{
	if (imap_tok_is(tok, "\\Seen"))
		return MSG_SEEN;
	if (imap_tok_is(tok, "\\Answered"))
		return MSG_ANSWERED;
	if (imap_tok_is(tok, "\\Flagged"))
		return MSG_FLAGGED;
	if (imap_tok_is(tok, "\\Draft"))
		return MSG_DRAFT;
	if (imap_tok_is(tok, "\\Deleted"))
		return MSG_DELETED;
	return 0;
}

static int
fetch_flags(struct imap_lex *l, unsigned *flags)
{
	struct imap_tok tok;

	*flags = 0;
	if (imap_lex_next(l, &tok) != IMAP_TLPAR)
		return -1;
	for (;;) {
		switch (imap_lex_next(l, &tok)) {
		case IMAP_TRPAR:
			return 0;
		case IMAP_TATOM:
			*flags |= flag_bit(&tok);
			break;
		default:
			return -1;
		}
	}
}

/* "(n)": a mod-sequence value of RFC 7162 section 7 (below 2^63). */
static int
fetch_modseq(struct imap_lex *l, uint64_t *modseq)
{
	struct imap_tok tok;

	if (imap_lex_next(l, &tok) != IMAP_TLPAR)
		return -1;
	imap_lex_next(l, &tok);
	if (imap_tok_num(&tok, INT64_MAX, modseq) == -1)
		return -1;
	return imap_lex_next(l, &tok) == IMAP_TRPAR ? 0 : -1;
}

/* The value of BODY[]: NIL, a quoted string or a literal. */
static int
fetch_body(struct imap_lex *l, struct imap_fetch *f)
{
	struct imap_tok v;

	switch (imap_lex_next(l, &v)) {
	case IMAP_TNIL:
		f->body = IMAP_BODY_NIL;
		break;
	case IMAP_TQUOTED:
		f->body = IMAP_BODY_QUOTED;
		break;
	case IMAP_TLITERAL:
		f->body = IMAP_BODY_LITERAL;
		break;
	default:
		return -1;
	}
	f->bodyp = v.p;
	f->bodylen = v.len;
	return 0;
}

/* The value of INTERNALDATE, a quoted date. */
static int
fetch_date(struct imap_lex *l, int64_t *date)
{
	struct imap_tok v;
	char s[64];
	size_t n;

	if (imap_lex_next(l, &v) != IMAP_TQUOTED || v.len >= sizeof(s))
		return -1;
	n = imap_unquote(v.p, v.len, s);
	return imap_parse_date(s, n, date);
}

/* The value of the item named tok into f; unknown items skipped. */
static int
fetch_item(struct imap_lex *l, const struct imap_tok *tok, struct imap_fetch *f)
{
	struct imap_tok v;
	uint64_t n;

	if (imap_tok_is(tok, "UID")) {
		imap_lex_next(l, &v);
		if (imap_tok_num(&v, UINT32_MAX, &n) == -1 || n == 0
		    || (f->has_uid && f->uid != n))
			return -1;
		f->has_uid = 1;
		f->uid = (uint32_t)n;
	} else if (imap_tok_is(tok, "RFC822.SIZE")) {
		imap_lex_next(l, &v);
		if (imap_tok_num(&v, INT64_MAX, &f->size) == -1)
			return -1;
		f->has_size = 1;
	} else if (imap_tok_is(tok, "FLAGS")) {
		if (fetch_flags(l, &f->flags) == -1)
			return -1;
		f->has_flags = 1;
	} else if (imap_tok_is(tok, "INTERNALDATE")) {
		if (fetch_date(l, &f->date) == -1)
			return -1;
		f->has_date = 1;
	} else if (imap_tok_is(tok, "MODSEQ")) {
		if (fetch_modseq(l, &f->modseq) == -1)
			return -1;
		f->has_modseq = 1;
	} else if (imap_tok_is(tok, "BODY[]") && f->body == IMAP_BODY_NONE)
		return fetch_body(l, f);
	else
		return imap_lex_skip(l);
	return 0;
}

int
imap_parse_fetch(const char *data, size_t len, struct imap_fetch *f)
{
	struct imap_lex l;
	struct imap_tok tok;

	memset(f, 0, sizeof(*f));
	imap_lex_init(&l, data, len);
	if (imap_lex_next(&l, &tok) != IMAP_TLPAR)
		return -1;
	for (;;) {
		if (imap_lex_next(&l, &tok) == IMAP_TRPAR)
			break;
		if (tok.t != IMAP_TATOM || fetch_item(&l, &tok, f) == -1)
			return -1;
	}
	return imap_lex_next(&l, &tok) == IMAP_TEOF ? 0 : -1;
}

int
imap_fetch_pending_body(const char *data, size_t len, uint32_t *uid)
{
	struct imap_lex l;
	struct imap_tok name, v;
	size_t save;
	uint64_t n;

	*uid = 0;
	imap_lex_init(&l, data, len);
	if (imap_lex_next(&l, &name) != IMAP_TLPAR)
		return 0;
	for (;;) {
		if (imap_lex_next(&l, &name) != IMAP_TATOM)
			return 0;
		save = l.pos;
		if (imap_lex_next(&l, &v) == IMAP_TEOF)
			return imap_tok_is(&name, "BODY[]");
		l.pos = save;
		if (imap_tok_is(&name, "UID")) {
			imap_lex_next(&l, &v);
			if (imap_tok_num(&v, UINT32_MAX, &n) == -1 || n == 0)
				return 0;
			*uid = (uint32_t)n;
		} else if (imap_lex_skip(&l) == -1)
			return 0;
	}
}

static const struct {
	const char *name;
	unsigned bit;
} mbxattrs[] = {
	{ "\\Noselect", MBX_NOSELECT },
	{ "\\NonExistent", MBX_NONEXISTENT | MBX_NOSELECT },
	{ "\\All", MBX_ALL },
	{ "\\Archive", MBX_ARCHIVE },
	{ "\\Drafts", MBX_DRAFTS },
	{ "\\Flagged", MBX_FLAGGED },
	{ "\\Junk", MBX_JUNK },
	{ "\\Sent", MBX_SENT },
	{ "\\Trash", MBX_TRASH },
};

static unsigned
mbx_bit(const struct imap_tok *tok)
{
	size_t i;

	for (i = 0; i < sizeof(mbxattrs) / sizeof(mbxattrs[0]); i++)
		if (imap_tok_is(tok, mbxattrs[i].name))
			return mbxattrs[i].bit;
	return 0;
}

/* A delimiter: NIL, or a quoted string of one character. */
static int
delim_tok(struct imap_lex *l, char *delim)
{
	struct imap_tok tok;
	char c[2];

	switch (imap_lex_next(l, &tok)) {
	case IMAP_TNIL:
		*delim = '\0';
		return 0;
	case IMAP_TQUOTED:
		if (tok.len > 2 || imap_unquote(tok.p, tok.len, c) != 1)
			return -1;
		*delim = c[0];
		return 0;
	default:
		return -1;
	}
}

/* The head of LIST data: "(attributes) delimiter". */
static int
list_head(struct imap_lex *l, unsigned *attrs, char *delim)
{
	struct imap_tok tok;

	*attrs = 0;
	if (imap_lex_next(l, &tok) != IMAP_TLPAR)
		return -1;
	while (imap_lex_next(l, &tok) != IMAP_TRPAR) {
		if (tok.t != IMAP_TATOM)
			return -1;
		*attrs |= mbx_bit(&tok);
	}
	return delim_tok(l, delim);
}

int
imap_parse_list(const char *data, size_t len, char *delim)
{
	struct imap_lex l;
	struct imap_tok tok;
	unsigned attrs;

	imap_lex_init(&l, data, len);
	if (list_head(&l, &attrs, delim) == -1)
		return -1;
	switch (imap_lex_next(&l, &tok)) {
	case IMAP_TATOM:
	case IMAP_TQUOTED:
	case IMAP_TLITERAL:
		return 0;
	default:
		return -1;
	}
}

int
imap_parse_mailbox(const char *data, size_t len, struct imap_mbox *m)
{
	struct imap_lex l;
	struct imap_tok tok;

	memset(m, 0, sizeof(*m));
	imap_lex_init(&l, data, len);
	if (list_head(&l, &m->attrs, &m->delim) == -1)
		return -1;
	switch (imap_lex_next(&l, &m->name)) {
	case IMAP_TATOM:
	case IMAP_TNIL: /* a mailbox called "NIL", sent as an atom */
	case IMAP_TQUOTED:
	case IMAP_TLITERAL:
		break;
	default:
		return -1;
	}
	/* mbox-list-extended: "(" tagged-ext ... ")", skipped. */
	for (;;) {
		size_t save = l.pos;

		if (imap_lex_next(&l, &tok) == IMAP_TEOF)
			return 0;
		l.pos = save;
		if (imap_lex_skip(&l) == -1)
			return -1;
	}
}

/* A STATUS item's number: the 32-bit ones, and HIGHESTMODSEQ's 63 bits
 * (RFC 7162 section 7, mod-sequence-valzer). */
static int
status_item(struct imap_mbstatus *st, const struct imap_tok *att,
    const struct imap_tok *val)
{
	static const struct {
		const char *name;
		unsigned bit;
	} items[] = {
		{ "MESSAGES", IMAP_ST_MESSAGES },
		{ "UIDNEXT", IMAP_ST_UIDNEXT },
		{ "UIDVALIDITY", IMAP_ST_UIDVALIDITY },
		{ "HIGHESTMODSEQ", IMAP_ST_HIGHESTMODSEQ },
	};
	uint64_t n;
	size_t i;

	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (imap_tok_is(att, items[i].name))
			break;
	if (i == sizeof(items) / sizeof(items[0]))
		return 0;
	if (imap_tok_num(val,
		items[i].bit == IMAP_ST_HIGHESTMODSEQ ? INT64_MAX : UINT32_MAX,
		&n)
	    == -1)
		return -1;
	st->has |= items[i].bit;
	switch (items[i].bit) {
	case IMAP_ST_MESSAGES:
		st->messages = (uint32_t)n;
		break;
	case IMAP_ST_UIDNEXT:
		st->uidnext = (uint32_t)n;
		break;
	case IMAP_ST_UIDVALIDITY:
		st->uidvalidity = (uint32_t)n;
		break;
	default:
		st->highestmodseq = n;
		break;
	}
	return 0;
}

int
imap_parse_status(const char *data, size_t len, struct imap_mbstatus *st)
{
	struct imap_lex l;
	struct imap_tok att, val;
	size_t save;

	memset(st, 0, sizeof(*st));
	imap_lex_init(&l, data, len);
	switch (imap_lex_next(&l, &st->name)) {
	case IMAP_TATOM:
	case IMAP_TNIL:
	case IMAP_TQUOTED:
	case IMAP_TLITERAL:
		break;
	default:
		return -1;
	}
	if (imap_lex_next(&l, &att) != IMAP_TLPAR)
		return -1;
	while (imap_lex_next(&l, &att) != IMAP_TRPAR) {
		if (att.t != IMAP_TATOM)
			return -1;
		save = l.pos;
		if (imap_lex_next(&l, &val) == IMAP_TATOM) {
			if (status_item(st, &att, &val) == -1)
				return -1;
			continue;
		}
		/* An extension's value of another kind. */
		l.pos = save;
		if (val.t == IMAP_TRPAR || val.t == IMAP_TEOF
		    || imap_lex_skip(&l) == -1)
			return -1;
	}
	return imap_lex_next(&l, &att) == IMAP_TEOF ? 0 : -1;
}

/* One Namespace_Descr list, "((prefix delim ext...) ...)", or NIL; the
 * first description goes to *prefix and *delim when want. */
static int
ns_list(struct imap_lex *l, int want, struct imap_tok *prefix, char *delim,
    int *known)
{
	struct imap_tok tok;
	int first = 1;

	if (imap_lex_next(l, &tok) == IMAP_TNIL)
		return 0;
	if (tok.t != IMAP_TLPAR)
		return -1;
	while (imap_lex_next(l, &tok) != IMAP_TRPAR) {
		struct imap_tok p;
		char d;

		if (tok.t != IMAP_TLPAR)
			return -1;
		imap_lex_next(l, &p);
		if ((p.t != IMAP_TQUOTED && p.t != IMAP_TLITERAL)
		    || delim_tok(l, &d) == -1)
			return -1;
		/* Namespace_Response_Extension: skipped. */
		while (imap_lex_next(l, &tok) != IMAP_TRPAR) {
			if (tok.t == IMAP_TEOF || tok.t == IMAP_TERR)
				return -1;
			l->pos -= tok.t == IMAP_TLPAR ? 1 : 0;
			if (tok.t == IMAP_TLPAR && imap_lex_skip(l) == -1)
				return -1;
		}
		if (want && first) {
			*prefix = p;
			*delim = d;
			*known = 1;
		}
		first = 0;
	}
	return first ? -1 : 0;
}

int
imap_parse_namespace(const char *data, size_t len, struct imap_tok *prefix,
    char *delim, int *known)
{
	struct imap_lex l;
	struct imap_tok tok;

	*known = 0;
	*delim = '\0';
	memset(prefix, 0, sizeof(*prefix));
	imap_lex_init(&l, data, len);
	if (ns_list(&l, 1, prefix, delim, known) == -1
	    || ns_list(&l, 0, NULL, NULL, NULL) == -1
	    || ns_list(&l, 0, NULL, NULL, NULL) == -1)
		return -1;
	return imap_lex_next(&l, &tok) == IMAP_TEOF ? 0 : -1;
}

void
imap_set_init(struct imap_set *s, const char *p, size_t len)
{
	s->p = p;
	s->len = len;
	s->pos = 0;
}

/* A number of a set, 1 to 2^32 - 1, at s->pos. */
static int
set_num(struct imap_set *s, uint32_t *v)
{
	uint64_t n = 0;
	size_t start = s->pos;

	while (s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9') {
		n = n * 10 + (uint64_t)(s->p[s->pos++] - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	if (s->pos == start || n == 0)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

int
imap_set_next(struct imap_set *s, uint32_t *lo, uint32_t *hi)
{
	uint32_t t;

	if (s->pos >= s->len)
		return 0;
	if (s->pos > 0 && s->p[s->pos++] != ',')
		return -1;
	if (set_num(s, lo) == -1)
		return -1;
	*hi = *lo;
	if (s->pos < s->len && s->p[s->pos] == ':') {
		s->pos++;
		if (set_num(s, hi) == -1)
			return -1;
	}
	if (s->pos < s->len && s->p[s->pos] != ',')
		return -1;
	if (*lo > *hi) {
		t = *lo;
		*lo = *hi;
		*hi = t;
	}
	return 1;
}

/* A whole set token: an atom that imap_set_next reads to its end. */
static int
set_tok(const struct imap_tok *tok)
{
	struct imap_set s;
	uint32_t lo, hi;
	int r;

	if (tok->t != IMAP_TATOM)
		return -1;
	imap_set_init(&s, tok->p, tok->len);
	while ((r = imap_set_next(&s, &lo, &hi)) == 1)
		;
	return r;
}

int
imap_parse_vanished(const char *data, size_t len, int *earlier,
    const char **set, size_t *setlen)
{
	struct imap_lex l;
	struct imap_tok tok;

	*earlier = 0;
	imap_lex_init(&l, data, len);
	if (imap_lex_next(&l, &tok) == IMAP_TLPAR) {
		if (imap_lex_next(&l, &tok) != IMAP_TATOM
		    || !imap_tok_is(&tok, "EARLIER")
		    || imap_lex_next(&l, &tok) != IMAP_TRPAR)
			return -1;
		*earlier = 1;
		imap_lex_next(&l, &tok);
	}
	if (set_tok(&tok) == -1)
		return -1;
	*set = tok.p;
	*setlen = tok.len;
	return imap_lex_next(&l, &tok) == IMAP_TEOF ? 0 : -1;
}

/* The search correlator "(TAG string)" of RFC 4731 section 3.1. */
static int
esearch_tag(struct imap_lex *l, const char **tag, size_t *taglen)
{
	struct imap_tok tok;

	if (imap_lex_next(l, &tok) != IMAP_TATOM || !imap_tok_is(&tok, "TAG")
	    || (imap_lex_next(l, &tok) != IMAP_TQUOTED
		&& tok.t != IMAP_TLITERAL))
		return -1;
	*tag = tok.p;
	*taglen = tok.len;
	return imap_lex_next(l, &tok) == IMAP_TRPAR ? 0 : -1;
}

int
imap_parse_esearch(const char *data, size_t len, const char **tag,
    size_t *taglen, int *uid, const char **set, size_t *setlen)
{
	struct imap_lex l;
	struct imap_tok tok, v;

	*tag = *set = NULL;
	*taglen = *setlen = 0;
	*uid = 0;
	imap_lex_init(&l, data, len);
	if (imap_lex_next(&l, &tok) == IMAP_TLPAR) {
		if (esearch_tag(&l, tag, taglen) == -1)
			return -1;
		imap_lex_next(&l, &tok);
	}
	if (imap_tok_is(&tok, "UID")) {
		*uid = 1;
		imap_lex_next(&l, &tok);
	}
	/* search-return-data: name value, the value skipped unless ALL. */
	for (; tok.t != IMAP_TEOF; imap_lex_next(&l, &tok)) {
		if (tok.t != IMAP_TATOM)
			return -1;
		if (imap_tok_is(&tok, "ALL")) {
			if (imap_lex_next(&l, &v) != IMAP_TATOM
			    || set_tok(&v) == -1)
				return -1;
			*set = v.p;
			*setlen = v.len;
		} else if (imap_lex_skip(&l) == -1)
			return -1;
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n decimal digits at s[*i] into *v. */
static int
digits(const char *s, size_t len, size_t *i, size_t n, int *v)
{
	size_t k;

	*v = 0;
	for (k = 0; k < n; k++, (*i)++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		*v = *v * 10 + (s[*i] - '0');
	}
	return 0;
}

static int
expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

int
imap_parse_date(const char *s, size_t len, int64_t *out)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	size_t i = 0, k;
	int day, mon = 0, year, hh, mm, ss, zh, zm, sign;

	/* date-day-fixed = (SP DIGIT) / 2DIGIT; a single digit is taken
	 * too. */
	if (len > 0 && s[0] == ' ')
		i++;
	if (digits(s, len, &i, 1, &day) == -1)
		return -1;
	if (i < len && s[i] >= '0' && s[i] <= '9' && s[0] != ' ')
		day = day * 10 + (s[i++] - '0');
	if (expect(s, len, &i, '-') == -1 || len - i < 3)
		return -1;
	for (k = 0; k < 12; k++)
		if (lower((unsigned char)s[i]) == months[k * 3]
		    && lower((unsigned char)s[i + 1]) == months[k * 3 + 1]
		    && lower((unsigned char)s[i + 2]) == months[k * 3 + 2])
			mon = (int)k + 1;
	if (mon == 0)
		return -1;
	i += 3;
	if (expect(s, len, &i, '-') == -1 || digits(s, len, &i, 4, &year) == -1
	    || expect(s, len, &i, ' ') == -1 || digits(s, len, &i, 2, &hh) == -1
	    || expect(s, len, &i, ':') == -1 || digits(s, len, &i, 2, &mm) == -1
	    || expect(s, len, &i, ':') == -1 || digits(s, len, &i, 2, &ss) == -1
	    || expect(s, len, &i, ' ') == -1 || i >= len)
		return -1;
	if (s[i] == '+')
		sign = 1;
	else if (s[i] == '-')
		sign = -1;
	else
		return -1;
	i++;
	if (digits(s, len, &i, 2, &zh) == -1 || digits(s, len, &i, 2, &zm) == -1
	    || i != len)
		return -1;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return -1;
	*out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60
	    + ss - sign * (zh * 3600 + zm * 60);
	return 0;
}

char *
imap_uidset(const uint32_t *v, size_t n)
{
	char *s;
	size_t i, j, o = 0, cap;

	/* At most ",4294967295:4294967295" per range. */
	cap = n * 22 + 1;
	s = xmalloc(cap);
	s[0] = '\0';
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j] == v[j - 1] + 1 && v[j] != 0; j++)
			;
		if (j - i == 1)
			o += (size_t)snprintf(s + o, cap - o, "%s%lu",
			    i > 0 ? "," : "", (unsigned long)v[i]);
		else
			o += (size_t)snprintf(s + o, cap - o, "%s%lu:%lu",
			    i > 0 ? "," : "", (unsigned long)v[i],
			    (unsigned long)v[j - 1]);
	}
	return s;
}

size_t
imap_crlf_feed(struct imap_crlf *st, const char *in, size_t len, char *out)
{
	const char *cr;
	size_t i = 0, o = 0, k;

	if (len == 0)
		return 0;
	if (st->cr) {
		st->cr = 0;
		if (in[0] == '\n')
			i = 1;
		else
			out[o++] = '\r';
		if (i == 1)
			out[o++] = '\n';
	}
	while (i < len) {
		cr = memchr(in + i, '\r', len - i);
		k = cr != NULL ? (size_t)(cr - (in + i)) : len - i;
		memcpy(out + o, in + i, k);
		o += k;
		i += k;
		if (i == len)
			break;
		if (i + 1 == len) {
			st->cr = 1;
			break;
		}
		if (in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
		} else {
			out[o++] = '\r';
			i++;
		}
	}
	return o;
}

size_t
imap_crlf_flush(struct imap_crlf *st, char *out)
{
	if (!st->cr)
		return 0;
	st->cr = 0;
	out[0] = '\r';
	return 1;
}

/*
 * Modified UTF-7, RFC 3501 section 5.1.3: printable US-ASCII stands for
 * itself except "&", which is "&-"; anything else is UTF-16 in a BASE64
 * variant with "," for "/" and no padding, between "&" and "-".
 */
static const char b64[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * One base64 run of modified UTF-7, s[*i] just after its "&", up to
 * and past its "-": UTF-16 into UTF-8 at out + *o. Returns 0, or -1
 * when the run is empty, not base64, not well-formed UTF-16, encodes
 * what must go as itself, or leaves bits over.
 */
static int
utf7_run(const unsigned char *s, size_t *i, char *out, size_t *o)
{
	uint32_t bits = 0, u, hi = 0;
	size_t units = 0;
	int nbits = 0, v;

	for (; s[*i] != '-'; (*i)++) {
		if ((v = b64val(s[*i])) == -1)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (hi != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return -1;
			*o += utf8_put(out + *o,
			    0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00));
			hi = 0;
		} else if (u >= 0xd800 && u <= 0xdbff)
			hi = u;
		else if (u >= 0xdc00 && u <= 0xdfff)
			return -1;
		else if (u == 0 || (u >= 0x20 && u <= 0x7e))
			return -1; /* must have been sent as is */
		else
			*o += utf8_put(out + *o, u);
	}
	(*i)++;
	/* Leftover bits: fewer than 6 and all zero. */
	return units == 0 || hi != 0 || nbits >= 6 || bits != 0 ? -1 : 0;
}

char *
imap_utf7_decode(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	char *out;
	size_t i = 0, o = 0;

	out = xmalloc(strlen(name) * 3 + 1);
	while (s[i] != '\0') {
		if (s[i] < 0x20 || s[i] > 0x7e)
			goto fail;
		if (s[i] != '&')
			out[o++] = (char)s[i++];
		else if (s[++i] == '-') {
			out[o++] = '&';
			i++;
		} else if (utf7_run(s, &i, out, &o) == -1)
			goto fail;
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/* One UTF-8 character at s into *cp; returns its length, or 0 when the
 * bytes are not valid UTF-8 (overlong forms and surrogates included). */
static size_t
utf8_get(const unsigned char *s, uint32_t *cp)
{
	size_t n, k;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		*cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		*cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (k = 1; k < n; k++) {
		if (s[k] < lo || s[k] > hi)
			return 0;
		*cp = (*cp << 6) | (s[k] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

char *
imap_utf7_encode(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	char *out;
	size_t i = 0, o = 0, k;
	uint32_t cp, bits, units[2];
	int nbits, nu, j;

	/* Worst case: a lone encoded byte costs "&" + 3 + "-". */
	out = xmalloc(strlen(name) * 5 + 1);
	while (s[i] != '\0') {
		if (s[i] >= 0x20 && s[i] <= 0x7e) {
			out[o++] = (char)s[i];
			if (s[i++] == '&')
				out[o++] = '-';
			continue;
		}
		out[o++] = '&';
		bits = 0;
		nbits = 0;
		while (s[i] != '\0' && (s[i] < 0x20 || s[i] > 0x7e)) {
			if ((k = utf8_get(s + i, &cp)) == 0)
				goto fail;
			i += k;
			if (cp >= 0x10000) {
				units[0] = 0xd800 + ((cp - 0x10000) >> 10);
				units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				nu = 2;
			} else {
				units[0] = cp;
				nu = 1;
			}
			for (j = 0; j < nu; j++) {
				bits = (bits << 16) | units[j];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					out[o++] = b64[(bits >> nbits) & 0x3f];
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0)
			out[o++] = b64[(bits << (6 - nbits)) & 0x3f];
		out[o++] = '-';
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

char *
imap_mailbox_canon(const char *name)
{
	char *utf8, *s;

	/* RFC 3501 section 5.1: INBOX in any case is INBOX. */
	if (strcasecmp(name, "INBOX") == 0)
		return xstrdup("INBOX");
	/*
	 * Modified UTF-7 is printable ASCII only, so a name that decodes is
	 * taken as modified UTF-7 (as the server lists it), any other as
	 * UTF-8 (as a person types it). Encoding the decoded name again
	 * gives one spelling per name: one base64 run per stretch of
	 * non-ASCII characters, '&' as "&-".
	 */
	if ((utf8 = imap_utf7_decode(name)) != NULL) {
		s = imap_utf7_encode(utf8);
		free(utf8);
		return s;
	}
	return imap_utf7_encode(name);
}
