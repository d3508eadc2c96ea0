/*
 * IMAP client: the pure parsers (tokens, responses, FETCH items, LIST,
 * INTERNALDATE, literals, UID sets, modified UTF-7, CRLF decoding), and
 * whole sessions against a scripted fake server on 127.0.0.1 that the
 * test forks: it checks each command the client sends and answers with
 * canned responses, "$T" standing for the client's tag.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tls.h>

#include "../../proto/imap.h"
#include "../../proto/imap_parse.h"
#include "../../proto/sasl.h"
#include "../../tls/util.h"
#include "t.h"

#define PW "s3cr3t-pw"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The tokenizer: each token rendered as text, "!" for an error, "E" for
 * the end.
 */
static void
render(const char *in, size_t len, char *out, size_t outlen)
{
	struct imap_lex l;
	struct imap_tok tok;
	size_t o = 0, i;
	int done = 0;

	imap_lex_init(&l, in, len);
	out[0] = '\0';
	while (!done && o + 64 < outlen) {
		const char *pre = "";

		switch (imap_lex_next(&l, &tok)) {
		case IMAP_TEOF:
			o += (size_t)snprintf(out + o, outlen - o, "E");
			done = 1;
			continue;
		case IMAP_TERR:
			o += (size_t)snprintf(out + o, outlen - o, "!");
			done = 1;
			continue;
		case IMAP_TNIL:
			o += (size_t)snprintf(out + o, outlen - o, "N ");
			continue;
		case IMAP_TLPAR:
			o += (size_t)snprintf(out + o, outlen - o, "( ");
			continue;
		case IMAP_TRPAR:
			o += (size_t)snprintf(out + o, outlen - o, ") ");
			continue;
		case IMAP_TATOM:
			pre = "A:";
			break;
		case IMAP_TQUOTED:
			pre = "Q:";
			break;
		case IMAP_TLITERAL:
			pre = "L:";
			break;
		}
		o += (size_t)snprintf(out + o, outlen - o, "%s", pre);
		for (i = 0; i < tok.len && o + 8 < outlen; i++) {
			unsigned char c = (unsigned char)tok.p[i];

			if (c < 0x20 || c >= 0x7f)
				o += (size_t)snprintf(
				    out + o, outlen - o, "\\x%02x", c);
			else
				out[o++] = (char)c;
		}
		out[o++] = ' ';
		out[o] = '\0';
	}
}

struct lexcase {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
};

static const struct lexcase lexcases[] = {
	{ "lex_fetch_list", "(UID 5 FLAGS (\\Seen $Junk))", 0,
	    "( A:UID A:5 A:FLAGS ( A:\\Seen A:$Junk ) ) E" },
	{ "lex_quoted_escapes", "\"a\\\"b\\\\c\" x", 0, "Q:a\\\"b\\\\c A:x E" },
	{ "lex_literal", "{5}\r\nab\r\nc rest", 0, "L:ab\\x0d\\x0ac A:rest E" },
	{ "lex_literal_plus", "{3+}\r\nabc", 0, "L:abc E" },
	{ "lex_literal_nul", "{3}\r\na\0b)", 9, "L:a\\x00b ) E" },
	{ "lex_literal_empty", "{0}\r\n NIL", 0, "L: N E" },
	{ "lex_nil_any_case", "NIL nil \"NIL\"", 0, "N N Q:NIL E" },
	{ "lex_section", "BODY[HEADER.FIELDS (FROM TO)]<0> x", 0,
	    "A:BODY[HEADER.FIELDS (FROM TO)]<0> A:x E" },
	{ "lex_empty", "", 0, "E" },
	{ "lex_spaces", "   a   b  ", 0, "A:a A:b E" },
	{ "lex_err_unterminated_quote", "\"abc", 0, "!" },
	{ "lex_err_bad_escape", "\"a\\bc\"", 0, "!" },
	{ "lex_err_cr_in_quote", "\"a\rb\"", 0, "!" },
	{ "lex_err_short_literal", "{5}\r\nab", 0, "!" },
	{ "lex_err_literal_no_crlf", "{2}ab", 0, "!" },
	{ "lex_err_literal_not_number", "{x}\r\n", 0, "!" },
	{ "lex_err_literal_huge", "{99999999999999999999}\r\n", 0, "!" },
	{ "lex_err_unclosed_bracket", "BODY[TEXT", 0, "!" },
	{ "lex_err_stray_bracket", "a ]", 0, "A:a !" },
	{ "lex_err_ctl", "a \001", 0, "A:a !" },
};

static void
t_lex(const void *arg)
{
	const struct lexcase *c = arg;
	char out[512];

	render(c->in, c->len ? c->len : strlen(c->in), out, sizeof(out));
	CHECK_STR(out, c->want);
}

static void
t_lex_skip(const void *arg)
{
	struct imap_lex l;
	const char *env = "(\"d\" \"s\" ((NIL NIL \"a\" \"b\")) NIL {2}\r\n)( "
			  "NIL NIL) after";
	char deep[200];
	size_t i;

	(void)arg;
	imap_lex_init(&l, env, strlen(env));
	CHECK(imap_lex_skip(&l) == 0);
	CHECK(strncmp(env + l.pos, " after", 6) == 0);
	imap_lex_init(&l, "(a (b", 5);
	CHECK(imap_lex_skip(&l) == -1);
	imap_lex_init(&l, ")", 1);
	CHECK(imap_lex_skip(&l) == -1);
	/* 70 levels of parentheses exceed the depth cap. */
	for (i = 0; i < 70; i++)
		deep[i] = '(';
	for (i = 0; i < 70; i++)
		deep[70 + i] = ')';
	imap_lex_init(&l, deep, 140);
	CHECK(imap_lex_skip(&l) == -1);
	imap_lex_init(&l, deep + 10, 120);
	CHECK(imap_lex_skip(&l) == 0);
}

static void
t_unquote(const void *arg)
{
	char out[32];
	size_t n;

	(void)arg;
	n = imap_unquote("a\\\"b\\\\c", 7, out);
	CHECK(n == 5 && memcmp(out, "a\"b\\c", 5) == 0);
	n = imap_unquote("", 0, out);
	CHECK(n == 0);
}

/*
 * Responses.
 */
struct respcase {
	const char *name;
	const char *in;
	int rv;
	enum imap_rtype type;
	enum imap_status st;
	const char *tag;
	long num; /* -1: none */
	const char *kw;
	const char *code;
	const char *text;
	const char *data;
};

static const struct respcase respcases[] = {
	{ "resp_tagged_ok_code", "A1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in",
	    0, IMAP_RTAGGED, IMAP_SOK, "A1", -1, NULL,
	    "CAPABILITY IMAP4rev1 IDLE", "Logged in", NULL },
	{ "resp_tagged_lower", "a7 no nope", 0, IMAP_RTAGGED, IMAP_SNO, "a7",
	    -1, NULL, NULL, "nope", NULL },
	{ "resp_tagged_bad_no_text", "A2 BAD", 0, IMAP_RTAGGED, IMAP_SBAD, "A2",
	    -1, NULL, NULL, "", NULL },
	{ "resp_tagged_unavailable", "A3 NO [UNAVAILABLE] try later", 0,
	    IMAP_RTAGGED, IMAP_SNO, "A3", -1, NULL, "UNAVAILABLE", "try later",
	    NULL },
	{ "resp_exists", "* 3 EXISTS", 0, IMAP_RUNTAGGED, IMAP_SNONE, NULL, 3,
	    "EXISTS", NULL, NULL, "" },
	{ "resp_fetch", "* 12 FETCH (UID 5)", 0, IMAP_RUNTAGGED, IMAP_SNONE,
	    NULL, 12, "FETCH", NULL, NULL, "(UID 5)" },
	{ "resp_uidvalidity", "* OK [UIDVALIDITY 42] UIDs valid", 0,
	    IMAP_RUNTAGGED, IMAP_SOK, NULL, -1, "OK", "UIDVALIDITY 42",
	    "UIDs valid", NULL },
	{ "resp_bye", "* BYE shutting down", 0, IMAP_RUNTAGGED, IMAP_SBYE, NULL,
	    -1, "BYE", NULL, "shutting down", NULL },
	{ "resp_preauth", "* PREAUTH [CAPABILITY IMAP4rev1] hi", 0,
	    IMAP_RUNTAGGED, IMAP_SPREAUTH, NULL, -1, "PREAUTH",
	    "CAPABILITY IMAP4rev1", "hi", NULL },
	{ "resp_list", "* LIST (\\HasNoChildren) \"/\" INBOX", 0,
	    IMAP_RUNTAGGED, IMAP_SNONE, NULL, -1, "LIST", NULL, NULL,
	    "(\\HasNoChildren) \"/\" INBOX" },
	{ "resp_search_empty", "* SEARCH", 0, IMAP_RUNTAGGED, IMAP_SNONE, NULL,
	    -1, "SEARCH", NULL, NULL, "" },
	{ "resp_cont", "+ YWJj", 0, IMAP_RCONT, IMAP_SNONE, NULL, -1, NULL,
	    NULL, "YWJj", NULL },
	{ "resp_cont_bare", "+", 0, IMAP_RCONT, IMAP_SNONE, NULL, -1, NULL,
	    NULL, "", NULL },
	{ "resp_code_unclosed", "* OK [ALERT oops", 0, IMAP_RUNTAGGED, IMAP_SOK,
	    NULL, -1, "OK", NULL, "[ALERT oops", NULL },
	{ .name = "resp_err_status", .in = "A2 FOO bar", .rv = -1 },
	{ .name = "resp_err_preauth_tagged", .in = "A2 PREAUTH x", .rv = -1 },
	{ .name = "resp_err_num_overflow",
	    .in = "* 4294967296 EXISTS",
	    .rv = -1 },
	{ .name = "resp_err_num_alone", .in = "* 17", .rv = -1 },
	{ .name = "resp_err_garbage", .in = "garbage", .rv = -1 },
	{ .name = "resp_err_empty", .in = "", .rv = -1 },
	{ .name = "resp_err_star_space", .in = "* ", .rv = -1 },
	{ .name = "resp_err_http", .in = "HTTP/1.1 400 Bad Request", .rv = -1 },
	{ .name = "resp_err_plus_tag", .in = "A+1 OK x", .rv = -1 },
};

static int
span_is(const char *p, size_t len, const char *want)
{
	if (want == NULL)
		return p == NULL;
	return p != NULL && strlen(want) == len && memcmp(p, want, len) == 0;
}

static void
t_resp(const void *arg)
{
	const struct respcase *c = arg;
	struct imap_resp r;
	int rv;

	rv = imap_parse_resp(c->in, strlen(c->in), &r);
	CHECK(rv == c->rv);
	if (rv != 0 || c->rv != 0)
		return;
	CHECK(r.type == c->type);
	CHECK(r.status == c->st);
	CHECK(span_is(r.tag, r.taglen, c->tag));
	CHECK(c->num == -1 ? !r.hasnum : (r.hasnum && r.num == c->num));
	if (c->kw != NULL)
		CHECK(span_is(r.kw, r.kwlen, c->kw));
	CHECK(span_is(r.code, r.codelen, c->code));
	CHECK(span_is(r.text, r.textlen, c->text));
	CHECK(span_is(r.data, r.datalen, c->data));
}

static void
t_code_is(const void *arg)
{
	const char *a;
	size_t n;

	(void)arg;
	CHECK(imap_code_is("UIDVALIDITY 42", 14, "UIDVALIDITY", &a, &n)
	    && n == 2 && memcmp(a, "42", 2) == 0);
	CHECK(imap_code_is("unavailable", 11, "UNAVAILABLE", &a, &n) && n == 0);
	CHECK(!imap_code_is("UIDVALIDITYX 4", 14, "UIDVALIDITY", &a, &n));
	CHECK(!imap_code_is("UID", 3, "UIDVALIDITY", &a, &n));
	CHECK(!imap_code_is(NULL, 0, "ALERT", &a, &n));
}

struct litcase {
	const char *name;
	const char *in;
	int rv;
	uint64_t n;
	size_t start;
};

static const struct litcase litcases[] = {
	{ "litend_plain", "* 1 FETCH (BODY[] {123}", 1, 123, 18 },
	{ "litend_plus", "x {5+}", 1, 5, 2 },
	{ "litend_zero", "{0}", 1, 0, 0 },
	{ "litend_max", "x {1099511627776}", 1, (uint64_t)1 << 40, 2 },
	{ "litend_none", "* OK done", 0, 0, 0 },
	{ "litend_brace_text", "abc}", 0, 0, 0 },
	{ "litend_not_digits", "x {12a}", 0, 0, 0 },
	{ "litend_empty", "x {}", -1, 0, 0 },
	{ "litend_empty_plus", "x {+}", -1, 0, 0 },
	{ "litend_over_max", "x {1099511627777}", -1, 0, 0 },
	{ "litend_overflow", "x {99999999999999999999999}", -1, 0, 0 },
};

static void
t_litend(const void *arg)
{
	const struct litcase *c = arg;
	uint64_t n = 0;
	size_t start = 0;

	CHECK(imap_literal_end(c->in, strlen(c->in), &n, &start) == c->rv);
	if (c->rv == 1)
		CHECK(n == c->n && start == c->start);
}

/*
 * FETCH items.
 */
struct fetchcase {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	int rv;
	long uid; /* -1: none */
	long long size;
	unsigned flags;
	int has_date;
	int64_t date;
	enum imap_body body;
	const char *bodytext;
};

static const struct fetchcase fetchcases[] = {
	{ "fetch_all_items",
	    "(UID 7 RFC822.SIZE 1234 FLAGS (\\Seen \\Deleted $Junk) "
	    "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")",
	    0, 0, 7, 1234, MSG_SEEN | MSG_DELETED, 1, 837596665, IMAP_BODY_NONE,
	    NULL },
	{ "fetch_any_order",
	    "(INTERNALDATE \" 1-Jan-1970 00:00:00 +0000\" FLAGS "
	    "(\\Answered \\Flagged \\Draft \\Recent) RFC822.SIZE 0 UID 9)",
	    0, 0, 9, 0, MSG_ANSWERED | MSG_FLAGGED | MSG_DRAFT, 1, 0,
	    IMAP_BODY_NONE, NULL },
	{ "fetch_flags_case", "(FLAGS (\\SEEN \\deleted) UID 1)", 0, 0, 1, -1,
	    MSG_SEEN | MSG_DELETED, 0, 0, IMAP_BODY_NONE, NULL },
	{ "fetch_flags_only", "(FLAGS ())", 0, 0, -1, -1, 0, 0, 0,
	    IMAP_BODY_NONE, NULL },
	{ "fetch_body_nil", "(UID 5 BODY[] NIL)", 0, 0, 5, -1, 0, 0, 0,
	    IMAP_BODY_NIL, NULL },
	{ "fetch_body_quoted", "(UID 5 BODY[] \"hi \\\"x\\\"\")", 0, 0, 5, -1,
	    0, 0, 0, IMAP_BODY_QUOTED, "hi \\\"x\\\"" },
	{ "fetch_body_literal", "(UID 5 BODY[] {4}\r\na\r\nb)", 0, 0, 5, -1, 0,
	    0, 0, IMAP_BODY_LITERAL, "a\r\nb" },
	{ "fetch_body_literal_first", "(BODY[] {2}\r\nab UID 6)", 0, 0, 6, -1,
	    0, 0, 0, IMAP_BODY_LITERAL, "ab" },
	{ "fetch_skip_unknown",
	    "(UID 5 ENVELOPE (\"d\" \"s\" ((NIL NIL \"a\" \"b\")) NIL NIL NIL "
	    "NIL NIL NIL \"<id>\") BODY[HEADER.FIELDS (FROM)] {4}\r\nab\r\n "
	    "X-GM-LABELS (\\Inbox) MODSEQ (12))",
	    0, 0, 5, -1, 0, 0, 0, IMAP_BODY_NONE, NULL },
	{ "fetch_partial_is_not_body", "(UID 5 BODY[]<0> {2}\r\nab)", 0, 0, 5,
	    -1, 0, 0, 0, IMAP_BODY_NONE, NULL },
	{ "fetch_uid_max", "(UID 4294967295)", 0, 0, 4294967295L, -1, 0, 0, 0,
	    IMAP_BODY_NONE, NULL },
	{ "fetch_uid_twice_same", "(UID 3 UID 3)", 0, 0, 3, -1, 0, 0, 0,
	    IMAP_BODY_NONE, NULL },
	{ .name = "fetch_err_uid_zero", .in = "(UID 0)", .rv = -1 },
	{ .name = "fetch_err_uid_overflow",
	    .in = "(UID 4294967296)",
	    .rv = -1 },
	{ .name = "fetch_err_uid_word", .in = "(UID x)", .rv = -1 },
	{ .name = "fetch_err_uid_twice_differ",
	    .in = "(UID 3 UID 4)",
	    .rv = -1 },
	{ .name = "fetch_err_unclosed", .in = "(UID 5", .rv = -1 },
	{ .name = "fetch_err_trailing", .in = "(UID 5) junk", .rv = -1 },
	{ .name = "fetch_err_no_paren", .in = "UID 5", .rv = -1 },
	{ .name = "fetch_err_size",
	    .in = "(RFC822.SIZE 99999999999999999999)",
	    .rv = -1 },
	{ .name = "fetch_err_date",
	    .in = "(INTERNALDATE \"32-Jul-1996 02:44:25 -0700\")",
	    .rv = -1 },
	{ .name = "fetch_err_date_atom",
	    .in = "(INTERNALDATE 17-Jul-1996)",
	    .rv = -1 },
	{ .name = "fetch_err_flags", .in = "(FLAGS \\Seen)", .rv = -1 },
	{ .name = "fetch_err_body_list", .in = "(BODY[] (a))", .rv = -1 },
	{ .name = "fetch_err_item_value", .in = "(FOO", .rv = -1 },
};

static void
t_fetch(const void *arg)
{
	const struct fetchcase *c = arg;
	struct imap_fetch f;
	int rv;

	rv = imap_parse_fetch(c->in, c->len ? c->len : strlen(c->in), &f);
	CHECK(rv == c->rv);
	if (rv != 0 || c->rv != 0)
		return;
	CHECK(c->uid == -1 ? !f.has_uid : (f.has_uid && f.uid == c->uid));
	CHECK(c->size == -1 ? !f.has_size
			    : (f.has_size && f.size == (uint64_t)c->size));
	CHECK(f.flags == c->flags);
	CHECK(f.has_date == c->has_date);
	if (c->has_date)
		CHECK(f.date == c->date);
	CHECK(f.body == c->body);
	if (c->bodytext != NULL)
		CHECK(span_is(f.bodyp, f.bodylen, c->bodytext));
}

struct pendcase {
	const char *name;
	const char *in;
	int rv;
	uint32_t uid;
};

static const struct pendcase pendcases[] = {
	{ "pending_body_uid_first", "(UID 5 BODY[] ", 1, 5 },
	{ "pending_body_no_uid", "(BODY[] ", 1, 0 },
	{ "pending_body_after_flags", "(FLAGS (\\Seen) UID 8 BODY[] ", 1, 8 },
	{ "pending_body_after_literal", "(UID 9 BODY[HEADER] {2}\r\nab BODY[] ",
	    1, 9 },
	{ "pending_other_section", "(UID 5 BODY[HEADER] ", 0, 0 },
	{ "pending_inside_envelope", "(UID 5 ENVELOPE (\"x\" ", 0, 0 },
	{ "pending_partial", "(UID 5 BODY[]<0> ", 0, 0 },
	{ "pending_no_paren", "UID 5 BODY[] ", 0, 0 },
	{ "pending_bad_uid", "(UID x BODY[] ", 0, 0 },
};

static void
t_pending(const void *arg)
{
	const struct pendcase *c = arg;
	uint32_t uid = 77;

	CHECK(imap_fetch_pending_body(c->in, strlen(c->in), &uid) == c->rv);
	if (c->rv == 1)
		CHECK(uid == c->uid);
}

struct listcase {
	const char *name;
	const char *in;
	int rv;
	char delim;
};

static const struct listcase listcases[] = {
	{ "list_slash", "(\\HasNoChildren) \"/\" INBOX", 0, '/' },
	{ "list_nil_delim", "() NIL INBOX", 0, '\0' },
	{ "list_literal_name", "(\\Noselect) \".\" {5}\r\nab cd", 0, '.' },
	{ "list_quoted_name", "() \".\" \"a b\"", 0, '.' },
	{ "list_escaped_delim", "() \"\\\\\" x", 0, '\\' },
	{ "list_extended", "() \"/\" x (CHILDINFO (\"SUBSCRIBED\"))", 0, '/' },
	{ "list_err_long_delim", "() \"ab\" x", -1, 0 },
	{ "list_err_no_name", "() \"/\"", -1, 0 },
	{ "list_err_flag_string", "(\\A \"x\") \"/\" y", -1, 0 },
	{ "list_err_no_paren", "\\A \"/\" y", -1, 0 },
};

static void
t_list(const void *arg)
{
	const struct listcase *c = arg;
	char delim = 'z';

	CHECK(imap_parse_list(c->in, strlen(c->in), &delim) == c->rv);
	if (c->rv == 0)
		CHECK(delim == c->delim);
}

struct datecase {
	const char *name;
	const char *in;
	int rv;
	int64_t t;
};

static const struct datecase datecases[] = {
	{ "date_rfc_example", "17-Jul-1996 02:44:25 -0700", 0, 837596665 },
	{ "date_epoch_zone", "01-Jan-1970 01:00:00 +0100", 0, 0 },
	{ "date_space_day", " 1-Jan-1970 00:00:00 +0000", 0, 0 },
	{ "date_one_digit_day", "1-Jan-1970 00:00:00 +0000", 0, 0 },
	{ "date_leap_day", "29-Feb-2000 12:00:00 +0000", 0, 951825600 },
	{ "date_before_epoch", "31-Dec-1969 23:59:59 +0000", 0, -1 },
	{ "date_odd_zone", "05-Mar-2024 23:30:00 -1130", 0, 1709722800 },
	{ "date_1900", "01-Jan-1900 00:00:00 +0000", 0, -2208988800LL },
	{ "date_month_case", "31-DEC-2099 23:59:59 +0000", 0, 4102444799LL },
	{ "date_err_month", "17-Jux-1996 02:44:25 -0700", -1, 0 },
	{ "date_err_no_zone", "17-Jul-1996 02:44:25", -1, 0 },
	{ "date_err_hour", "17-Jul-1996 24:00:00 +0000", -1, 0 },
	{ "date_err_day", "00-Jul-1996 01:00:00 +0000", -1, 0 },
	{ "date_err_short_year", "17-Jul-96 02:44:25 -0700", -1, 0 },
	{ "date_err_trailing", "17-Jul-1996 02:44:25 -0700x", -1, 0 },
	{ "date_err_zone_sign", "17-Jul-1996 02:44:25 0700", -1, 0 },
	{ "date_err_space_two_digits", " 17-Jul-1996 02:44:25 -0700", -1, 0 },
	{ "date_err_empty", "", -1, 0 },
};

static void
t_date(const void *arg)
{
	const struct datecase *c = arg;
	int64_t t = 12345;

	CHECK(imap_parse_date(c->in, strlen(c->in), &t) == c->rv);
	if (c->rv == 0)
		CHECK(t == c->t);
}

static void
t_uidset(const void *arg)
{
	static const uint32_t a[] = { 1, 2, 3, 5 }, b[] = { 7 },
			      c[] = { 1, 3, 5 },
			      d[] = { 4294967294u, 4294967295u };
	uint32_t e[62];
	size_t i, n = 0;
	char *s;

	(void)arg;
	CHECK_STR(s = imap_uidset(a, 4), "1:3,5");
	free(s);
	CHECK_STR(s = imap_uidset(b, 1), "7");
	free(s);
	CHECK_STR(s = imap_uidset(c, 3), "1,3,5");
	free(s);
	CHECK_STR(s = imap_uidset(d, 2), "4294967294:4294967295");
	free(s);
	CHECK_STR(s = imap_uidset(a, 0), "");
	free(s);
	for (i = 1; i <= 50; i++)
		e[n++] = (uint32_t)i;
	e[n++] = 53;
	for (i = 60; i <= 70; i++)
		e[n++] = (uint32_t)i;
	CHECK_STR(s = imap_uidset(e, n), "1:50,53,60:70");
	free(s);
}

/*
 * Modified UTF-7.
 */
struct utf7case {
	const char *name;
	const char *utf7;
	const char *utf8;
};

static const struct utf7case utf7cases[] = {
	{ "utf7_rfc_example", "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "utf7_ampersand", "&-", "&" },
	{ "utf7_ascii", "INBOX/Sent Items", "INBOX/Sent Items" },
	{ "utf7_umlaut", "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "utf7_surrogate_pair", "&2D3eAA-", "\xf0\x9f\x98\x80" },
	{ "utf7_control", "a&AAk-b", "a\tb" },
	{ "utf7_mixed", "&AMQ-&-&ANY-", "\xc3\x84&\xc3\x96" },
	{ "utf7_runs", "&ZeVnLIqe-x&2D3eAA-y",
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9ex\xf0\x9f\x98\x80y" },
	{ "utf7_empty", "", "" },
	/* The examples of fetchrc(5), Folder names. */
	{ "utf7_doc_ampersand", "INBOX.A&-B", "INBOX.A&B" },
	{ "utf7_doc_mixed", "R&-D Entw&APw-rfe", "R&D Entw\xc3\xbcrfe" },
};

static void
t_utf7(const void *arg)
{
	const struct utf7case *c = arg;
	char *s;

	s = imap_utf7_decode(c->utf7);
	CHECK_STR(s, c->utf8);
	free(s);
	s = imap_utf7_encode(c->utf8);
	CHECK_STR(s, c->utf7);
	free(s);
}

/* imap_mailbox_canon: one spelling per mailbox. */
struct canoncase {
	const char *name;
	const char *in;
	const char *want; /* NULL: refused */
};

static const struct canoncase canoncases[] = {
	{ "canon_inbox", "INBOX", "INBOX" },
	{ "canon_inbox_lower", "inbox", "INBOX" },
	{ "canon_inbox_mixed", "InBoX", "INBOX" },
	{ "canon_inbox_child_as_is", "inbox/Sent", "inbox/Sent" },
	{ "canon_ascii", "Lists/dev", "Lists/dev" },
	{ "canon_utf8",
	    "INBOX.\xc3\x9cn\xc3\xaf"
	    "c\xc3\xb6"
	    "d\xc3\xa9",
	    "INBOX.&ANw-n&AO8-c&APY-d&AOk-" },
	{ "canon_utf7", "INBOX.&ANw-n&AO8-c&APY-d&AOk-",
	    "INBOX.&ANw-n&AO8-c&APY-d&AOk-" },
	{ "canon_utf7_split_runs", "&AMQ-&AMQ-", "&AMQAxA-" },
	{ "canon_bare_ampersand", "Tom & Jerry", "Tom &- Jerry" },
	{ "canon_encoded_ampersand", "Tom &- Jerry", "Tom &- Jerry" },
	{ "canon_control", "a\tb", "a&AAk-b" },
	{ "canon_not_utf8", "bad\xff", NULL },
	{ "canon_empty", "", "" },
};

static void
t_canon(const void *arg)
{
	const struct canoncase *c = arg;
	char *s = imap_mailbox_canon(c->in);

	if (c->want == NULL)
		CHECK(s == NULL);
	else
		CHECK_STR(s, c->want);
	free(s);
}

struct badcase {
	const char *name;
	const char *in;
};

static const struct badcase utf7bad[] = {
	{ "utf7_bad_unterminated", "&U,BTFw" },
	{ "utf7_bad_lone_amp", "&" },
	{ "utf7_bad_printable_encoded", "&AGE-" },
	{ "utf7_bad_lone_high", "&2D0-" },
	{ "utf7_bad_lone_low", "&3gA-" },
	{ "utf7_bad_padding", "&U,BTFw=-" },
	{ "utf7_bad_slash", "&U/BTFw-" },
	{ "utf7_bad_raw_8bit", "caf\xc3\xa9" },
	{ "utf7_bad_raw_ctl", "a\tb" },
	{ "utf7_bad_nul_unit", "&AAA-" },
	{ "utf7_bad_leftover", "&U,BTF-" },
	{ "utf7_bad_nonzero_bits", "&AOR-" },
};

static void
t_utf7_bad(const void *arg)
{
	const struct badcase *c = arg;
	char *s;

	s = imap_utf7_decode(c->in);
	CHECK(s == NULL);
	free(s);
}

static const struct badcase utf8bad[] = {
	{ "utf8_bad_ff", "a\xff" },
	{ "utf8_bad_truncated", "\xc3" },
	{ "utf8_bad_surrogate", "\xed\xa0\x80" },
	{ "utf8_bad_overlong", "\xc0\xaf" },
	{ "utf8_bad_overlong3", "\xe0\x80\xaf" },
	{ "utf8_bad_above_max", "\xf4\x90\x80\x80" },
	{ "utf8_bad_cont_start", "\x80" },
};

static void
t_utf8_bad(const void *arg)
{
	const struct badcase *c = arg;
	char *s;

	s = imap_utf7_encode(c->in);
	CHECK(s == NULL);
	free(s);
}

/*
 * CRLF to LF across chunks: every way of cutting the input in two and in
 * three pieces gives the same output.
 */
static size_t
crlf_pieces(
    const char *in, size_t len, const size_t *cut, size_t ncut, char *out)
{
	struct imap_crlf st = { 0 };
	size_t o = 0, prev = 0, i;

	for (i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cut[i] : len;

		o += imap_crlf_feed(&st, in + prev, end - prev, out + o);
		prev = end;
	}
	o += imap_crlf_flush(&st, out + o);
	return o;
}

struct crlfcase {
	const char *name;
	const char *in;
	const char *want;
};

static const struct crlfcase crlfcases[] = {
	{ "crlf_mixed", "a\r\nb\rc\n\r\n\r", "a\nb\rc\n\n\r" },
	{ "crlf_double_cr", "x\r\r\ny", "x\r\ny" },
	{ "crlf_only_crs", "\r\r\r", "\r\r\r" },
	{ "crlf_headers", "From: a\r\nTo: b\r\n\r\nbody\r\n",
	    "From: a\nTo: b\n\nbody\n" },
	{ "crlf_none", "plain", "plain" },
};

static void
t_crlf(const void *arg)
{
	const struct crlfcase *c = arg;
	size_t len = strlen(c->in), wlen = strlen(c->want), i, j, n;
	char out[128];
	size_t cut[2];

	for (i = 0; i <= len; i++) {
		cut[0] = i;
		n = crlf_pieces(c->in, len, cut, 1, out);
		CHECK(n == wlen && memcmp(out, c->want, n) == 0);
		for (j = i; j <= len; j++) {
			cut[1] = j;
			n = crlf_pieces(c->in, len, cut, 2, out);
			CHECK(n == wlen && memcmp(out, c->want, n) == 0);
		}
	}
	{
		size_t every[64];

		for (i = 0; i + 1 < len; i++)
			every[i] = i + 1;
		n = crlf_pieces(c->in, len, every, len ? len - 1 : 0, out);
		CHECK(n == wlen && memcmp(out, c->want, n) == 0);
	}
}

/*
 * The fake server.
 */
enum {
	S_END,
	S_SEND, /* send a */
	S_EXPECT, /* read "tag a" (a ending in "*": prefix), send b */
	S_RAW, /* read the line a exactly, send b (tag: the last one) */
	S_CLOSE, /* close the connection at once */
	S_EOF, /* the client must close now, sending nothing */
	S_SCRAM, /* AUTHENTICATE SCRAM-SHA-256 with IR; b: "noproof",
		  * "forged" */
	S_TLS /* TLS handshake as the server now (after a STARTTLS OK, or
	       * first thing for implicit TLS) */
};

struct step {
	int k;
	const char *a;
	const char *b;
};

struct srv {
	pid_t pid;
	char port[16];
	char logpath[64];
};

/* A self-signed certificate and its key, PEM, made once by main. */
struct testcert {
	char *cert;
	size_t certlen;
	char *key;
	size_t keylen;
};

static struct testcert testcert;

/* The server's end of the connection, plain or TLS. */
struct sio {
	int fd;
	int logfd;
	struct tls *tls;
	char buf[1 << 18];
	size_t off;
	size_t len;
};

static void
sio_write(struct sio *io, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (io->tls != NULL) {
			n = tls_write(io->tls, s, len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				continue;
		} else
			n = write(io->fd, s, len);
		if (n <= 0) {
			if (n == -1 && io->tls == NULL && errno == EINTR)
				continue;
			/* The client has gone: what it did is in the log. */
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

static void
logwrite(int fd, const char *s, size_t len)
{
	if (write(fd, s, len) != (ssize_t)len)
		_exit(5);
}

/* Send s with each "$T" replaced by tag, in one write: pieces would
 * meet Nagle's algorithm and delayed ACKs and slow every test. */
static void
srv_send(struct sio *io, const char *s, const char *tag)
{
	const char *p;
	char *out;
	size_t o = 0, n, tl = strlen(tag);

	out = xmalloc(strlen(s) * (tl > 2 ? tl : 2) + 1);
	while ((p = strstr(s, "$T")) != NULL) {
		n = (size_t)(p - s);
		memcpy(out + o, s, n);
		memcpy(out + o + n, tag, tl);
		o += n + tl;
		s = p + 2;
	}
	n = strlen(s);
	memcpy(out + o, s, n);
	sio_write(io, out, o + n);
	free(out);
}

/* One line from the client into line (NUL-terminated, without CRLF),
 * and into the log. Returns -1 at the end of the connection. */
static int
srv_line(struct sio *io, char *line, size_t size)
{
	char *lf;
	size_t n;
	ssize_t r;

	for (;;) {
		lf = memchr(io->buf + io->off, '\n', io->len);
		if (lf != NULL)
			break;
		if (io->off > 0) {
			memmove(io->buf, io->buf + io->off, io->len);
			io->off = 0;
		}
		if (io->len == sizeof(io->buf))
			_exit(8);
		if (io->tls != NULL) {
			r = tls_read(io->tls, io->buf + io->len,
			    sizeof(io->buf) - io->len);
			if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT)
				continue;
		} else
			r = read(io->fd, io->buf + io->len,
			    sizeof(io->buf) - io->len);
		if (r == -1 && io->tls == NULL && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		io->len += (size_t)r;
	}
	n = (size_t)(lf - (io->buf + io->off));
	if (n >= size)
		_exit(8);
	memcpy(line, io->buf + io->off, n);
	io->off += n + 1;
	io->len -= n + 1;
	while (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	logwrite(io->logfd, line, n);
	logwrite(io->logfd, "\n", 1);
	return 0;
}

static void srv_mismatch(struct sio *, const char *) __attribute__((noreturn));

static void
srv_mismatch(struct sio *io, const char *want)
{
	logwrite(io->logfd, "MISMATCH want: ", 15);
	logwrite(io->logfd, want ? want : "EOF", strlen(want ? want : "EOF"));
	logwrite(io->logfd, "\n", 1);
	_exit(2);
}

static void
srv_tls(struct sio *io)
{
	struct tls_config *cfg;
	struct tls *srv;
	int rv;

	/* STARTTLS must not find client bytes sent ahead of it. */
	if (io->len != 0)
		srv_mismatch(io, "nothing before the TLS handshake");
	if ((cfg = tls_config_new()) == NULL
	    || tls_config_set_keypair_mem(cfg, (const uint8_t *)testcert.cert,
		   testcert.certlen, (const uint8_t *)testcert.key,
		   testcert.keylen)
		== -1
	    || (srv = tls_server()) == NULL || tls_configure(srv, cfg) == -1
	    || tls_accept_socket(srv, &io->tls, io->fd) == -1)
		_exit(9);
	while ((rv = tls_handshake(io->tls)) == TLS_WANT_POLLIN
	    || rv == TLS_WANT_POLLOUT)
		;
	if (rv == -1) {
		logwrite(io->logfd, "TLSFAIL\n", 8);
		_exit(0);
	}
	logwrite(io->logfd, "TLSUP\n", 6);
}

/* The server side of SCRAM-SHA-256, up to where it should prove itself:
 * then it either says OK without proof or sends a forged proof. */
static void
srv_scram(struct sio *io, const char *how)
{
	char line[4096], tag[64], *sp, *b64, *msg;
	unsigned char *dec;
	size_t declen;
	const char *r;

	if (srv_line(io, line, sizeof(line)) == -1)
		srv_mismatch(io, "AUTHENTICATE SCRAM-SHA-256");
	if ((sp = strchr(line, ' ')) == NULL
	    || strncmp(sp + 1, "AUTHENTICATE SCRAM-SHA-256 ", 27) != 0)
		srv_mismatch(io, "AUTHENTICATE SCRAM-SHA-256 ...");
	snprintf(tag, sizeof(tag), "%.*s", (int)(sp - line), line);
	dec = sasl_b64_decode(sp + 28, strlen(sp + 28), &declen);
	if (dec == NULL || (r = strstr((char *)dec, ",r=")) == NULL)
		srv_mismatch(io, "a client-first message");
	xasprintf(&msg, "r=%sSRVNONCE,s=QSXCR+Q6sek8bf92,i=4096", r + 3);
	b64 = sasl_b64_encode(msg, strlen(msg));
	free(msg);
	xasprintf(&msg, "+ %s\r\n", b64);
	srv_send(io, msg, tag);
	free(b64);
	free(msg);
	free(dec);
	if (srv_line(io, line, sizeof(line)) == -1)
		srv_mismatch(io, "client-final");
	/* The empty answer to server-final comes at once, before it. */
	if (srv_line(io, line, sizeof(line)) == -1 || line[0] != '\0')
		srv_mismatch(io, "an empty line");
	if (strcmp(how, "noproof") == 0)
		srv_send(io, "$T OK done\r\n", tag);
	else {
		/* A forged signature: the client ends the session; it
		 * cannot cancel an exchange it answered already. */
		r = "v=Zm9yZ2VkIGZvcmdlZCBmb3JnZWQgZm9y";
		b64 = sasl_b64_encode(r, strlen(r));
		xasprintf(&msg, "+ %s\r\n", b64);
		srv_send(io, msg, tag);
		free(b64);
		free(msg);
	}
}

static void
srv_run(struct sio *io, const struct step *st)
{
	static char line[200000];
	char tag[64], *sp;
	const char *cmd;
	size_t n;

	tag[0] = '\0';
	for (; st->k != S_END; st++) {
		switch (st->k) {
		case S_SEND:
			srv_send(io, st->a, "");
			break;
		case S_EXPECT:
		case S_RAW:
			if (srv_line(io, line, sizeof(line)) == -1)
				srv_mismatch(io, st->a);
			cmd = line;
			if (st->k == S_EXPECT) {
				if ((sp = strchr(line, ' ')) == NULL
				    || (size_t)(sp - line) >= sizeof(tag))
					srv_mismatch(io, st->a);
				memcpy(tag, line, (size_t)(sp - line));
				tag[sp - line] = '\0';
				cmd = sp + 1;
			}
			n = strlen(st->a);
			if (n > 0 && st->a[n - 1] == '*'
				? strncmp(cmd, st->a, n - 1) != 0
				: strcmp(cmd, st->a) != 0)
				srv_mismatch(io, st->a);
			if (st->b != NULL)
				srv_send(io, st->b, tag);
			break;
		case S_CLOSE:
			_exit(0);
		case S_EOF:
			if (srv_line(io, line, sizeof(line)) == 0)
				srv_mismatch(io, NULL);
			break;
		case S_SCRAM:
			srv_scram(io, st->b);
			break;
		case S_TLS:
			srv_tls(io);
			break;
		}
	}
	/* Anything after the script is unexpected. */
	if (srv_line(io, line, sizeof(line)) == 0)
		_exit(4);
	_exit(0);
}

static void
srv_start(struct srv *s, const struct step *steps)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct sio *io;
	int ls, fd, logfd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1
	    || bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1
	    || listen(ls, 4) == -1
	    || getsockname(ls, (struct sockaddr *)&sin, &slen) == -1) {
		perror("fake server");
		exit(1);
	}
	snprintf(s->port, sizeof(s->port), "%u", ntohs(sin.sin_port));
	snprintf(s->logpath, sizeof(s->logpath), "/tmp/test_imap.XXXXXX");
	if ((logfd = mkstemp(s->logpath)) == -1) {
		perror("mkstemp");
		exit(1);
	}
	fflush(stdout);
	fflush(stderr);
	if ((s->pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (s->pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		alarm(10);
		if ((fd = accept(ls, NULL, NULL)) == -1)
			_exit(7);
		close(ls);
		io = xcalloc(1, sizeof(*io));
		io->fd = fd;
		io->logfd = logfd;
		srv_run(io, steps);
	}
	close(ls);
	close(logfd);
}

/* Wait for the server; returns its exit status and what it received. */
static int
srv_wait(struct srv *s, char **log)
{
	FILE *f;
	size_t n;
	int status;

	while (waitpid(s->pid, &status, 0) == -1 && errno == EINTR)
		;
	*log = xcalloc(1, 1 << 20);
	if ((f = fopen(s->logpath, "r")) != NULL) {
		n = fread(*log, 1, (1 << 20) - 1, f);
		(*log)[n] = '\0';
		fclose(f);
	}
	unlink(s->logpath);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 100 + WTERMSIG(status);
}

/* A throwaway P-256 key and a self-signed certificate for the fake
 * server. */
static int
make_cert(struct testcert *tc)
{
	EVP_PKEY *pk;
	X509 *x;
	X509_NAME *nm;
	BIO *b1 = NULL, *b2 = NULL;
	char *p;
	long n;
	int rv = -1;

	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		return -1;
	nm = X509_get_subject_name(x);
	if (!X509_set_version(x, 2)
	    || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1)
	    || !X509_gmtime_adj(X509_getm_notBefore(x), -3600)
	    || !X509_gmtime_adj(X509_getm_notAfter(x), 86400)
	    || !X509_set_pubkey(x, pk)
	    || !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
		(const unsigned char *)"localhost", -1, -1, 0)
	    || !X509_set_issuer_name(x, nm) || !X509_sign(x, pk, EVP_sha256())
	    || (b1 = BIO_new(BIO_s_mem())) == NULL
	    || (b2 = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(b1, x)
	    || !PEM_write_bio_PrivateKey(b2, pk, NULL, NULL, 0, NULL, NULL))
		goto done;
	n = BIO_get_mem_data(b1, &p);
	tc->cert = xstrndup(p, (size_t)n);
	tc->certlen = (size_t)n;
	n = BIO_get_mem_data(b2, &p);
	tc->key = xstrndup(p, (size_t)n);
	tc->keylen = (size_t)n;
	rv = 0;
done:
	BIO_free(b1);
	BIO_free(b2);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rv;
}

/*
 * The client side: config, trace and a sink that records.
 */
struct tracebuf {
	char s[1 << 16];
	size_t len;
};

static void
trace_fn(void *arg, int dir, const char *line, size_t len)
{
	struct tracebuf *t = arg;

	if (t->len + len + 4 >= sizeof(t->s))
		return;
	t->s[t->len++] = (char)dir;
	t->s[t->len++] = ' ';
	memcpy(t->s + t->len, line, len);
	t->len += len;
	t->s[t->len++] = '\n';
	t->s[t->len] = '\0';
}

struct rec {
	char ev[4096];
	size_t evlen;
	char **data;
	size_t *len;
	size_t n;
	int fail_begin; /* index whose begin fails, or -1 */
	int fail_write;
	int open;
};

static void
rec_init(struct rec *r, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->data = xcalloc(n, sizeof(*r->data));
	r->len = xcalloc(n, sizeof(*r->len));
	r->fail_begin = r->fail_write = -1;
	r->open = -1;
}

static void
rec_free(struct rec *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->data[i]);
	free(r->data);
	free(r->len);
}

static void
rec_ev(struct rec *r, char c, size_t i)
{
	if (r->evlen + 16 < sizeof(r->ev))
		r->evlen += (size_t)snprintf(r->ev + r->evlen,
		    sizeof(r->ev) - r->evlen, "%s%c%zu", r->evlen ? " " : "", c,
		    i);
}

static int
rec_begin(void *arg, size_t i)
{
	struct rec *r = arg;

	rec_ev(r, 'b', i);
	if (i >= r->n || r->open != -1 || (int)i == r->fail_begin)
		return -1;
	r->open = (int)i;
	return 0;
}

static int
rec_write(void *arg, const char *buf, size_t len)
{
	struct rec *r = arg;
	size_t i;

	if (r->open < 0 || r->open == r->fail_write)
		return -1;
	i = (size_t)r->open;
	r->data[i] = xreallocarray(r->data[i], r->len[i] + len + 1, 1);
	memcpy(r->data[i] + r->len[i], buf, len);
	r->len[i] += len;
	r->data[i][r->len[i]] = '\0';
	return 0;
}

static int
rec_end(void *arg, size_t i)
{
	struct rec *r = arg;

	rec_ev(r, 'e', i);
	if ((int)i != r->open)
		return -1;
	r->open = -1;
	return 0;
}

static int
rec_is(const struct rec *r, size_t i, const char *want, size_t wlen)
{
	return i < r->n && r->len[i] == wlen
	    && (wlen == 0 || memcmp(r->data[i], want, wlen) == 0);
}

static void
cfg_init(struct source_cfg *c, const struct srv *s, struct tracebuf *t)
{
	memset(c, 0, sizeof(*c));
	c->host = "127.0.0.1";
	c->port = s->port;
	c->tls = SRC_TLS_NONE;
	c->user = "user";
	c->secret = PW;
	c->auth = SRC_AUTH_AUTO;
	c->allow_plaintext = 1;
	c->connect_timeout = 5;
	c->timeout = 5;
	if (t != NULL) {
		t->len = 0;
		t->s[0] = '\0';
		c->trace = trace_fn;
		c->trace_arg = t;
	}
}

/* A session with the script; runs open and, when it fails, checks the
 * class. */
struct sess {
	struct srv srv;
	struct source_cfg cfg;
	struct tracebuf tr;
	struct source *src;
	char *log;
	int status;
};

static int
sess_open(struct sess *s, const struct step *steps,
    void (*tweak)(struct source_cfg *))
{
	srv_start(&s->srv, steps);
	cfg_init(&s->cfg, &s->srv, &s->tr);
	if (tweak != NULL)
		tweak(&s->cfg);
	s->src = imap_new(&s->cfg);
	s->log = NULL;
	return s->src->ops->open(s->src);
}

static void
sess_end(struct sess *s)
{
	s->src->ops->free(s->src);
	s->status = srv_wait(&s->srv, &s->log);
}

#define GREET "* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] ready\r\n"
#define LOGIN_OK                                                               \
	{                                                                      \
		S_EXPECT, "LOGIN \"user\" \"" PW "\"",                         \
		    "$T OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS IDLE] "      \
		    "in\r\n"                                                   \
	}
/* The client sends LOGOUT and goes, without waiting for the answer. */
#define LOGOUT                                                                 \
	{                                                                      \
		S_EXPECT, "LOGOUT", NULL                                       \
	}
/* INBOX is selected without a LIST first: nothing to send. */
#define INBOX_LIST                                                             \
	{                                                                      \
		S_SEND, "", NULL                                               \
	}

/* A script as a table field. */
#define STEPS(...)                                                             \
	((const struct step[]) { __VA_ARGS__, { S_END, NULL, NULL } })

static const char body1[] = "From: a\r\nSubject: x\r\n\r\nline1\r\nline2\r\n";
static const char want1[] = "From: a\nSubject: x\n\nline1\nline2\n";
static const char body2[] = "bare\rcr\nlf and no final newline";
static const char body3[] = "ends in cr\r";

static void
t_e2e_session(const void *arg)
{
	char *fetchresp;
	struct sess s;
	struct folder_info fi;
	struct msglist l = { 0 };
	struct msginfo *msgs[3];
	struct sink sink = { rec_begin, rec_write, rec_end, NULL };
	struct rec r;
	char want[64];
	size_t i;

	(void)arg;
	xasprintf(&fetchresp,
	    "* 1 FETCH (UID 3 BODY[] {%zu}\r\n%s)\r\n"
	    "* 3 FETCH (BODY[] {%zu}\r\n%s UID 9)\r\n"
	    "* 2 FETCH (FLAGS (\\Seen) UID 5 BODY[] {%zu}\r\n%s)\r\n"
	    "$T OK done\r\n",
	    strlen(body1), body1, strlen(body2), body2, strlen(body3), body3);
	{
		struct step steps[] = {
			{ S_SEND, GREET, NULL },
			LOGIN_OK,
			INBOX_LIST,
			{ S_EXPECT, "EXAMINE \"INBOX\"",
			    "* FLAGS (\\Seen \\Deleted)\r\n* 3 EXISTS\r\n"
			    "* 0 RECENT\r\n* OK [UIDVALIDITY 1234] ok\r\n"
			    "* OK [UIDNEXT 10] next\r\n"
			    "$T OK [READ-ONLY] done\r\n" },
			{ S_EXPECT,
			    "UID FETCH 1:* (UID RFC822.SIZE FLAGS "
			    "INTERNALDATE)",
			    "* 1 FETCH (UID 3 RFC822.SIZE 38 FLAGS (\\Seen) "
			    "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n"
			    "* 3 FETCH (INTERNALDATE \" 1-Jan-1970 00:00:00 "
			    "+0000\" RFC822.SIZE 11 UID 9 FLAGS ($Junk))\r\n"
			    "* 2 FETCH (FLAGS (\\Answered \\Flagged) UID 5 "
			    "RFC822.SIZE 31 INTERNALDATE \"01-Jan-1970 "
			    "01:00:01 +0100\")\r\n"
			    "* 3 FETCH (UID 9 RFC822.SIZE 11 FLAGS ())\r\n"
			    "$T OK done\r\n" },
			{ S_EXPECT, "UID FETCH 3,5,9 (UID BODY.PEEK[])",
			    fetchresp },
			LOGOUT,
			{ S_END, NULL, NULL },
		};

		CHECK(sess_open(&s, steps, NULL) == 0);
		CHECK_STR(s.src->mech, "LOGIN");
		CHECK(strstr(s.src->caps, "IDLE") != NULL);
		CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == 0);
		CHECK(fi.uidvalidity == 1234 && fi.exists == 3
		    && fi.uidplus == 1);
		/* INBOX is not listed: no delimiter learnt. */
		CHECK(s.src->delim == '\0');
		CHECK(s.src->ops->list(s.src, 0, &l) == 0);
		CHECK(l.n == 3);
		if (l.n == 3) {
			CHECK_STR(l.v[0].uid, "3");
			CHECK_STR(l.v[1].uid, "5");
			CHECK_STR(l.v[2].uid, "9");
			CHECK(l.v[0].num == 3 && l.v[1].num == 5
			    && l.v[2].num == 9);
			CHECK(l.v[0].size == 38 && l.v[1].size == 31
			    && l.v[2].size == 11);
			CHECK(l.v[0].flags == MSG_SEEN);
			CHECK(l.v[1].flags == (MSG_ANSWERED | MSG_FLAGGED));
			CHECK(l.v[2].flags == 0);
			CHECK(l.v[0].date == 837596665);
			CHECK(l.v[1].date == 1);
			CHECK(l.v[2].date == 0);
			rec_init(&r, 3);
			sink.arg = &r;
			for (i = 0; i < 3; i++)
				msgs[i] = &l.v[i];
			CHECK(s.src->ops->fetch(s.src, msgs, 3, &sink) == 0);
			CHECK_STR(r.ev, "b0 e0 b2 e2 b1 e1");
			CHECK(rec_is(&r, 0, want1, strlen(want1)));
			CHECK(rec_is(&r, 1, body3, strlen(body3)));
			CHECK(rec_is(&r, 2, body2, strlen(body2)));
			rec_free(&r);
		}
		CHECK(s.src->ops->quit(s.src) == 0);
		sess_end(&s);
	}
	CHECK(s.status == 0);
	CHECK(strstr(s.tr.s, "> A1 LOGIN \"user\" <redacted>\n") != NULL);
	CHECK(strstr(s.tr.s, PW) == NULL);
	snprintf(want, sizeof(want), "< [literal %zu bytes]\n", strlen(body1));
	CHECK(strstr(s.tr.s, want) != NULL);
	CHECK(strstr(s.tr.s, "line1") == NULL);
	CHECK(strstr(s.tr.s, "< * 3 EXISTS\n") != NULL);
	msglist_free(&l);
	free(s.log);
	free(fetchresp);
}

/* Literals in untagged responses, unsolicited data mid-fetch, EXPUNGE
 * shifting message numbers before a body that precedes its UID. */
static void
t_e2e_unsolicited(const void *arg)
{
	struct sess s;
	struct folder_info fi;
	struct msglist l = { 0 };
	struct msginfo *msgs[3];
	struct sink sink = { rec_begin, rec_write, rec_end, NULL };
	struct rec r;
	size_t i;
	struct step steps[] = {
		{ S_SEND, "* OK hello\r\n", NULL },
		{ S_EXPECT, "CAPABILITY",
		    "* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\n"
		    "$T OK done\r\n" },
		LOGIN_OK,
		{ S_EXPECT, "LIST \"\" \"Lists.hello\"",
		    "* LIST (\\HasNoChildren) \".\" {11}\r\nLists.hello\r\n"
		    "* STATUS {3}\r\nfoo (MESSAGES 1)\r\n"
		    "* 7 RECENT\r\n$T OK done\r\n" },
		{ S_EXPECT, "SELECT \"Lists.hello\"",
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
		    "* OK [PERMANENTFLAGS (\\Deleted \\*)] ok\r\n"
		    "$T OK [READ-WRITE] done\r\n" },
		{ S_EXPECT,
		    "UID FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE)",
		    "* 1 FETCH (UID 3 RFC822.SIZE 1 ENVELOPE (\"d\" {5}\r\n"
		    "s\r\nub NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
		    "* 2 FETCH (UID 5 RFC822.SIZE 2)\r\n"
		    "* 3 FETCH (UID 9 RFC822.SIZE 3)\r\n"
		    "$T OK done\r\n" },
		{ S_EXPECT, "UID FETCH 3,5,9 (UID BODY.PEEK[])",
		    "* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n"
		    "* 4 EXISTS\r\n* 1 RECENT\r\n"
		    "* 2 EXPUNGE\r\n"
		    "* 1 FETCH (FLAGS (\\Seen))\r\n"
		    "* OK [ALERT] system going down soon\r\n"
		    "* FLAGS (\\Seen \\Deleted $Junk)\r\n"
		    "* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\n"
		    "* 2 FETCH (BODY[] {4}\r\nd\r\ne UID 9)\r\n"
		    "$T OK done\r\n" },
		LOGOUT,
		{ S_END, NULL, NULL },
	};

	(void)arg;
	CHECK(sess_open(&s, steps, NULL) == 0);
	CHECK(s.src->ops->select(s.src, "Lists.hello", 1, &fi) == 0);
	CHECK(s.src->delim == '.');
	CHECK(fi.uidvalidity == 7 && fi.exists == 3);
	CHECK(s.src->ops->list(s.src, 0, &l) == 0);
	CHECK(l.n == 3);
	if (l.n == 3) {
		rec_init(&r, 3);
		sink.arg = &r;
		for (i = 0; i < 3; i++)
			msgs[i] = &l.v[i];
		CHECK(s.src->ops->fetch(s.src, msgs, 3, &sink) == 0);
		/* UID 5 was expunged: it never begins. */
		CHECK_STR(r.ev, "b0 e0 b2 e2");
		CHECK(rec_is(&r, 0, "abc", 3));
		CHECK(rec_is(&r, 2, "d\ne", 3));
		CHECK(r.len[1] == 0);
		rec_free(&r);
	}
	CHECK(s.src->ops->quit(s.src) == 0);
	sess_end(&s);
	CHECK(s.status == 0);
	msglist_free(&l);
	free(s.log);
}

/* Selected, listed: the common head of the mark/expunge scripts. */
#define GREET_CAPS(caps)                                                       \
	{                                                                      \
		S_SEND, "* OK [CAPABILITY IMAP4rev1 " caps "] hi\r\n", NULL    \
	}
#define LOGIN_CAPS(caps)                                                       \
	{                                                                      \
		S_EXPECT, "LOGIN \"user\" \"" PW "\"",                         \
		    "$T OK [CAPABILITY IMAP4rev1 " caps "] in\r\n"             \
	}
#define SELECT_3                                                               \
	{                                                                      \
		S_EXPECT, "SELECT \"INBOX\"",                                  \
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n$T OK y\r\n"      \
	}
#define LIST_3_4_9                                                             \
	{                                                                      \
		S_EXPECT,                                                      \
		    "UID FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE)",      \
		    "* 1 FETCH (UID 3 RFC822.SIZE 1)\r\n"                      \
		    "* 2 FETCH (UID 4 RFC822.SIZE 1)\r\n"                      \
		    "* 3 FETCH (UID 9 RFC822.SIZE 1)\r\n$T OK z\r\n"           \
	}
#define SELECT_3_4_9(caps)                                                     \
	GREET_CAPS(caps), LOGIN_CAPS(caps), INBOX_LIST, SELECT_3, LIST_3_4_9

static int
select_and_list(struct sess *s, struct msglist *l, struct msginfo **m)
{
	struct folder_info fi;

	if (s->src->ops->select(s->src, "INBOX", 1, &fi) == -1
	    || s->src->ops->list(s->src, 0, l) == -1 || l->n != 3)
		return -1;
	m[0] = &l->v[0];
	m[1] = &l->v[1];
	m[2] = &l->v[2];
	return 0;
}

static void
no_plaintext(struct source_cfg *c)
{
	c->allow_plaintext = 0;
}

static void
starttls_mode(struct source_cfg *c)
{
	c->tls = SRC_TLS_STARTTLS;
}

struct authfail {
	const char *name;
	const char *reply;
	enum src_fail fail;
	const char *err;
};

static const struct authfail authfails[] = {
	{ "e2e_login_no",
	    "$T NO [AUTHENTICATIONFAILED] Invalid credentials\r\n", SRC_FAUTH,
	    "authentication failed: \"Invalid credentials\"" },
	{ "e2e_login_bad", "$T BAD what\r\n", SRC_FAUTH,
	    "authentication failed: \"what\"" },
	{ "e2e_login_unavailable", "$T NO [UNAVAILABLE] backend down\r\n",
	    SRC_FTEMP, "server cannot authenticate now: \"backend down\"" },
	{ "e2e_login_wrong_tag", "X9 OK fine\r\n", SRC_FDATA,
	    "server answered a command that was not sent (tag X9)" },
	{ "e2e_login_bye_close", "* BYE go away\r\n", SRC_FTEMP,
	    "server closed the connection: \"go away\"" },
};

static void
t_e2e_login_fail(const void *arg)
{
	const struct authfail *c = arg;
	struct sess s;
	struct step steps[] = {
		{ S_SEND, GREET, NULL },
		{ S_EXPECT, "LOGIN \"user\" \"" PW "\"", c->reply },
		{ S_CLOSE, NULL, NULL },
		{ S_END, NULL, NULL },
	};

	CHECK(sess_open(&s, steps, NULL) == -1);
	CHECK(s.src->fail == c->fail);
	CHECK_STR(s.src->err, c->err);
	sess_end(&s);
	CHECK(s.status == 0);
	free(s.log);
}

static void
weird_password(struct source_cfg *c)
{
	c->secret = "pa\"ss\\w";
	c->auth = SRC_AUTH_LOGIN;
}

static void
weird_both(struct source_cfg *c)
{
	weird_password(c);
	c->user = "us\"er";
}

static void
want_cram(struct source_cfg *c)
{
	c->auth = SRC_AUTH_CRAM_MD5;
}

static void
want_pop3_user(struct source_cfg *c)
{
	c->auth = SRC_AUTH_USER;
}

static void
first_folder(struct source_cfg *cfg)
{
	cfg->first_folder = "Lists/a";
}

/*
 * The first folder's LIST and EXAMINE (and CAPABILITY, for a login
 * answer without them, as here) go out behind LOGIN before its
 * answer (the server reads all three before it answers: a client that
 * waited would hang here), and the select of that folder takes their
 * answers without a word on the wire. A refused login: 77, and nothing
 * more is sent.
 */
static void
t_e2e_first_folder_pipelined(const void *arg)
{
	static const struct step ok[] = {
		{ S_SEND, GREET, NULL },
		{ S_EXPECT, "LOGIN \"user\" \"" PW "\"", NULL },
		{ S_EXPECT, "CAPABILITY", NULL },
		{ S_EXPECT, "LIST \"\" \"Lists/a\"", NULL },
		{ S_EXPECT, "EXAMINE \"Lists/a\"", NULL },
		{ S_SEND,
		    "A1 OK in\r\n"
		    "* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\nA2 OK caps\r\n"
		    "* LIST () \"/\" Lists/a\r\nA3 OK listed\r\n"
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n"
		    "* OK [UIDNEXT 4] n\r\nA4 OK [READ-ONLY] done\r\n",
		    NULL },
		{ S_EOF, NULL, NULL },
		{ S_END, NULL, NULL },
	};
	static const struct step refused[] = {
		{ S_SEND, GREET, NULL },
		{ S_EXPECT, "LOGIN \"user\" \"" PW "\"", NULL },
		{ S_EXPECT, "CAPABILITY", NULL },
		{ S_EXPECT, "LIST \"\" \"Lists/a\"", NULL },
		{ S_EXPECT, "EXAMINE \"Lists/a\"", NULL },
		{ S_SEND,
		    "A1 NO [AUTHENTICATIONFAILED] no\r\n"
		    "* CAPABILITY IMAP4rev1\r\nA2 OK caps\r\n"
		    "A3 BAD not authenticated\r\n"
		    "A4 BAD not authenticated\r\n",
		    NULL },
		{ S_EOF, NULL, NULL },
		{ S_END, NULL, NULL },
	};
	struct folder_info fi;
	struct sess s;

	(void)arg;
	CHECK(sess_open(&s, ok, first_folder) == 0);
	CHECK(s.src->ops->select(s.src, "Lists/a", 0, &fi) == 0);
	CHECK(fi.exists == 3 && fi.uidvalidity == 9 && fi.uidnext == 4);
	CHECK(s.src->delim == '/');
	sess_end(&s);
	CHECK(s.status == 0);
	free(s.log);

	CHECK(sess_open(&s, refused, first_folder) == -1);
	CHECK(s.src->fail == SRC_FAUTH);
	sess_end(&s);
	CHECK(s.status == 0);
	free(s.log);
}

struct scramcase {
	const char *name;
	const char *how;
	const char *err;
};

static const struct scramcase scramcases[] = {
	{ "e2e_scram_ok_without_proof", "noproof",
	    "server did not prove it knows the password" },
	{ "e2e_scram_forged_proof", "forged", NULL },
};

static void
t_e2e_scram(const void *arg)
{
	const struct scramcase *c = arg;
	struct sess s;
	struct step steps[] = {
		{ S_SEND,
		    "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN "
		    "AUTH=SCRAM-SHA-1 AUTH=SCRAM-SHA-256] hi\r\n",
		    NULL },
		{ S_SCRAM, NULL, c->how },
		{ S_EOF, NULL, NULL },
		{ S_END, NULL, NULL },
	};

	CHECK(sess_open(&s, steps, NULL) == -1);
	CHECK(s.src->fail == SRC_FAUTH);
	if (c->err != NULL)
		CHECK_STR(s.src->err, c->err);
	else
		CHECK(strncmp(s.src->err, "authentication failed: ", 23) == 0);
	sess_end(&s);
	CHECK(s.status == 0);
	if (s.status != 0)
		fprintf(stderr, "server: %d %s\nerr %s\ntrace %s\n", s.status,
		    s.log, s.src ? "" : "", s.tr.s);
	CHECK(strstr(s.tr.s, "AUTHENTICATE SCRAM-SHA-256 <redacted>") != NULL);
	free(s.log);
}

/* Session failures in the middle of listing or fetching. */
struct midcase {
	const char *name;
	const char *listreply; /* answer to the listing */
	const char *fetchreply; /* answer to UID FETCH 3 ..., NULL: none */
	int fail_begin;
	enum src_fail fail;
	const char *err; /* prefix of src->err */
	const char *events; /* sink events */
};

#define LIST1 "* 1 FETCH (UID 3 RFC822.SIZE 10)\r\n$T OK done\r\n"

static const struct midcase midcases[] = {
	{ "e2e_huge_nonbody_literal",
	    "* 1 FETCH (UID 3 X-FOO {1000000000000}\r\n", NULL, -1, SRC_FPROTO,
	    "server sent a 1000000000000-byte literal", "" },
	{ "e2e_absurd_literal", "* 1 FETCH (UID 3 X-FOO {2000000000000}\r\n",
	    NULL, -1, SRC_FDATA, "server announced a literal of impossible",
	    "" },
	{ "e2e_too_many_messages", "* 300001 EXISTS\r\n", NULL, -1, SRC_FPROTO,
	    "the folder holds 300001 messages", "" },
	{ "e2e_bye_then_close", "* BYE shutting down\r\n", NULL, -1, SRC_FTEMP,
	    "server closed the connection: \"shutting down\"", "" },
	{ "e2e_malformed_fetch", "* 1 FETCH (UID 3 RFC822.SIZE\r\n", NULL, -1,
	    SRC_FDATA, "server sent a malformed FETCH", "" },
	{ "e2e_list_no", "$T NO [SERVERBUG] oops\r\n", NULL, -1, SRC_FPROTO,
	    "listing the folder failed: \"oops\"", "" },
	{ "e2e_unexpected_cont", "+ what\r\n", NULL, -1, SRC_FPROTO,
	    "server sent an unexpected continuation", "" },
	{ "e2e_drop_mid_literal", LIST1, "* 1 FETCH (UID 3 BODY[] {100}\r\nabc",
	    -1, SRC_FTEMP, "reading from the server", "b0" },
	{ "e2e_sink_fails", LIST1, "* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n", 0,
	    SRC_FLOCAL, "could not store message UID 3", "b0" },
	{ "e2e_fetch_no", LIST1,
	    "* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n$T NO [SERVERBUG] x\r\n",
	    -1, SRC_FPROTO, "fetching messages failed: \"x\"", "b0 e0" },
	{ "e2e_body_uid_mismatch", LIST1,
	    "* 1 FETCH (BODY[] {3}\r\nabc UID 4)\r\n", -1, SRC_FDATA,
	    "server sent the body of UID 3 in a FETCH response without", "b0" },
	{ "e2e_body_no_uid", LIST1, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n", -1,
	    SRC_FDATA, "server sent the body of UID 3", "b0" },
	{ "e2e_body_unknown_seq", LIST1, "* 2 FETCH (BODY[] {3}\r\nabc)\r\n",
	    -1, SRC_FDATA, "server sent the body of message 2 before its UID",
	    "" },
	{ "e2e_foreign_tag", LIST1, "A99 OK done\r\n", -1, SRC_FDATA,
	    "server answered a command that was not sent (tag A99)", "" },
};

static void
t_e2e_mid(const void *arg)
{
	const struct midcase *c = arg;
	struct sess s;
	struct folder_info fi;
	struct msglist l = { 0 };
	struct msginfo *m[1];
	struct sink sink = { rec_begin, rec_write, rec_end, NULL };
	struct rec r;
	int64_t t0;
	struct step steps[] = {
		{ S_SEND, GREET, NULL },
		LOGIN_OK,
		INBOX_LIST,
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 1 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n$T OK y\r\n" },
		{ S_EXPECT,
		    "UID FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE)",
		    c->listreply },
		{ c->fetchreply ? S_EXPECT : S_CLOSE,
		    "UID FETCH 3 (UID BODY.PEEK[])", c->fetchreply },
		{ S_CLOSE, NULL, NULL },
		{ S_END, NULL, NULL },
	};

	rec_init(&r, 1);
	r.fail_begin = c->fail_begin;
	sink.arg = &r;
	CHECK(sess_open(&s, steps, NULL) == 0);
	CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == 0);
	t0 = mono_ms();
	if (c->fetchreply == NULL) {
		CHECK(s.src->ops->list(s.src, 0, &l) == -1);
	} else {
		CHECK(s.src->ops->list(s.src, 0, &l) == 0 && l.n == 1);
		m[0] = &l.v[0];
		if (l.n == 1)
			CHECK(s.src->ops->fetch(s.src, m, 1, &sink) == -1);
	}
	/* Failing takes no waiting for a timeout. */
	CHECK(mono_ms() - t0 < 2000);
	CHECK(s.src->fail == c->fail);
	if (strncmp(s.src->err, c->err, strlen(c->err)) != 0) {
		fprintf(stderr, "err: %s\n", s.src->err);
		CHECK(0);
	}
	CHECK_STR(r.ev, c->events);
	sess_end(&s);
	rec_free(&r);
	msglist_free(&l);
	free(s.log);
}

/* BODY[] NIL, a body not asked for, a quoted body, a duplicate. */
static void
t_e2e_fetch_odd_bodies(const void *arg)
{
	struct sess s;
	struct msglist l = { 0 };
	struct msginfo *m[3];
	struct sink sink = { rec_begin, rec_write, rec_end, NULL };
	struct rec r;
	struct step steps[] = {
		SELECT_3_4_9("UIDPLUS"),
		{ S_EXPECT, "UID FETCH 3:4,9 (UID BODY.PEEK[])",
		    "* 1 FETCH (UID 3 BODY[] NIL)\r\n"
		    "* 7 FETCH (UID 77 BODY[] {5}\r\nxxxxx)\r\n"
		    "* 2 FETCH (UID 4 BODY[] \"hi \\\"there\\\"\")\r\n"
		    "* 3 FETCH (UID 9 BODY[] {2}\r\nok)\r\n"
		    "* 3 FETCH (UID 9 BODY[] {3}\r\nnot)\r\n"
		    "$T OK done\r\n" },
		LOGOUT,
		{ S_END, NULL, NULL },
	};

	(void)arg;
	rec_init(&r, 3);
	sink.arg = &r;
	CHECK(sess_open(&s, steps, NULL) == 0);
	CHECK(select_and_list(&s, &l, m) == 0);
	CHECK(s.src->ops->fetch(s.src, m, 3, &sink) == 0);
	CHECK_STR(r.ev, "b1 e1 b2 e2");
	CHECK(rec_is(&r, 1, "hi \"there\"", 10));
	CHECK(rec_is(&r, 2, "ok", 2));
	CHECK(s.src->ops->quit(s.src) == 0);
	sess_end(&s);
	CHECK(s.status == 0);
	rec_free(&r);
	msglist_free(&l);
	free(s.log);
}

/* 600 messages: two pipelined UID FETCH commands, both sent before the
 * first is answered. */
static void
t_e2e_pipelined_batches(const void *arg)
{
	struct sess s;
	struct folder_info fi;
	struct msginfo *info, **m;
	struct sink sink = { rec_begin, rec_write, rec_end, NULL };
	struct rec r;
	char *resp1, *resp2, *p;
	size_t i, o, cap = 600 * 64;
	int ok = 1;

	(void)arg;
	resp1 = xmalloc(cap);
	resp2 = xmalloc(cap);
	for (o = 0, i = 1; i <= 500; i++)
		o += (size_t)snprintf(resp1 + o, cap - o,
		    "* %zu FETCH (UID %zu BODY[] {5}\r\nm%04zu)\r\n", i, i, i);
	snprintf(resp1 + o, cap - o, "A3 OK first\r\n");
	for (o = 0, i = 501; i <= 600; i++)
		o += (size_t)snprintf(resp2 + o, cap - o,
		    "* %zu FETCH (UID %zu BODY[] {5}\r\nm%04zu)\r\n", i, i, i);
	snprintf(resp2 + o, cap - o, "A4 OK second\r\n");
	{
		struct step steps[] = {
			{ S_SEND, GREET, NULL },
			LOGIN_OK,
			INBOX_LIST,
			{ S_EXPECT, "EXAMINE \"INBOX\"",
			    "* 600 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n"
			    "$T OK y\r\n" },
			{ S_EXPECT, "UID FETCH 1:500 (UID BODY.PEEK[])", NULL },
			{ S_EXPECT, "UID FETCH 501:600 (UID BODY.PEEK[])",
			    resp1 },
			{ S_SEND, resp2, NULL },
			LOGOUT,
			{ S_END, NULL, NULL },
		};

		info = xcalloc(600, sizeof(*info));
		m = xcalloc(600, sizeof(*m));
		/* In reverse order: indexes are found by UID. */
		for (i = 0; i < 600; i++) {
			info[i].num = (uint32_t)(600 - i);
			m[i] = &info[i];
		}
		rec_init(&r, 600);
		sink.arg = &r;
		CHECK(sess_open(&s, steps, NULL) == 0);
		CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == 0);
		CHECK(s.src->ops->fetch(s.src, m, 600, &sink) == 0);
		for (i = 0; i < 600; i++) {
			char want[8];

			snprintf(want, sizeof(want), "m%04zu", 600 - i);
			if (!rec_is(&r, i, want, 5))
				ok = 0;
		}
		CHECK(ok);
		p = strstr(r.ev, "b599 e599 b598 e598");
		CHECK(p == r.ev);
		CHECK(s.src->ops->quit(s.src) == 0);
		sess_end(&s);
	}
	CHECK(s.status == 0);
	rec_free(&r);
	free(info);
	free(m);
	free(resp1);
	free(resp2);
	free(s.log);
}

/*
 * relist: UID FETCH of the UIDs asked for, the set as ranges; only
 * those UIDs kept, whatever else the server sends; a UID it no longer
 * has left out; NO fails.
 */
#define NUMS(...)                                                              \
	(const uint32_t[]) { __VA_ARGS__ },                                    \
	    NELEM(((const uint32_t[]) { __VA_ARGS__ }))
#define RELIST_ITEMS " (UID RFC822.SIZE FLAGS INTERNALDATE)"

struct relistcase {
	const char *name;
	int select; /* EXAMINE INBOX first */
	const uint32_t *nums;
	size_t n;
	const char *cmd; /* the command the server expects; NULL none */
	const char *reply;
	int rc;
	enum src_fail fail;
	const char *err; /* prefix of src->err when rc is -1 */
	const char *want; /* "uid size flags date", comma-separated */
};

static const struct relistcase relistcases[] = {
	{ "e2e_relist_set", 1, NUMS(1, 2, 3, 7, 9, 10),
	    "UID FETCH 1:3,7,9:10" RELIST_ITEMS,
	    "* 7 FETCH (UID 9 RFC822.SIZE 19 FLAGS ())\r\n"
	    "* 1 FETCH (UID 1 RFC822.SIZE 11 FLAGS (\\Seen) "
	    "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n"
	    "* 2 FETCH (UID 2 RFC822.SIZE 12 FLAGS (\\Deleted))\r\n"
	    "* 3 FETCH (UID 3 RFC822.SIZE 13)\r\n"
	    "* 6 FETCH (UID 7 RFC822.SIZE 17)\r\n"
	    "* 8 FETCH (UID 10 RFC822.SIZE 4000000000)\r\n"
	    "$T OK done\r\n",
	    0, SRC_FNONE, NULL,
	    "1 11 1 837596665,2 12 16 0,3 13 0 0,7 17 0 0,9 19 0 0,"
	    "10 4000000000 0 0" },
	{ "e2e_relist_gone", 1, NUMS(3, 5, 8), "UID FETCH 3,5,8" RELIST_ITEMS,
	    "* 2 FETCH (UID 3 RFC822.SIZE 13)\r\n"
	    "* 4 FETCH (UID 8 RFC822.SIZE 18)\r\n$T OK done\r\n",
	    0, SRC_FNONE, NULL, "3 13 0 0,8 18 0 0" },
	{ "e2e_relist_extra", 1, NUMS(3, 5), "UID FETCH 3,5" RELIST_ITEMS,
	    "* 1 FETCH (UID 1 RFC822.SIZE 11)\r\n"
	    "* 2 FETCH (UID 3 RFC822.SIZE 13)\r\n"
	    "* 3 FETCH (UID 4 RFC822.SIZE 14)\r\n"
	    "* 4 FETCH (FLAGS (\\Seen))\r\n"
	    "* 4 FETCH (UID 5 RFC822.SIZE 15)\r\n"
	    "* 4 FETCH (UID 5 RFC822.SIZE 15)\r\n"
	    "* 9 FETCH (UID 90 RFC822.SIZE 90)\r\n$T OK done\r\n",
	    0, SRC_FNONE, NULL, "3 13 0 0,5 15 0 0" },
	{ "e2e_relist_none_left", 1, NUMS(4), "UID FETCH 4" RELIST_ITEMS,
	    "$T OK done\r\n", 0, SRC_FNONE, NULL, "" },
	{ "e2e_relist_no", 1, NUMS(3, 4), "UID FETCH 3:4" RELIST_ITEMS,
	    "* 2 FETCH (UID 3 RFC822.SIZE 13)\r\n$T NO [SERVERBUG] oops\r\n",
	    -1, SRC_FPROTO, "listing the messages again failed: \"oops\"",
	    NULL },
	{ "e2e_relist_malformed", 1, NUMS(3), "UID FETCH 3" RELIST_ITEMS,
	    "* 2 FETCH (UID 3 RFC822.SIZE\r\n", -1, SRC_FDATA,
	    "server sent a malformed FETCH", NULL },
	{ "e2e_relist_nothing", 1, NULL, 0, NULL, NULL, 0, SRC_FNONE, NULL,
	    "" },
	{ "e2e_relist_unselected", 0, NUMS(3), NULL, NULL, -1, SRC_FPROTO,
	    "no folder selected", NULL },
};

/* "uid size flags date" for each entry, comma-separated; the uid
 * string must be num in decimal. */
static void
render_msgs(const struct msglist *l, char *out, size_t size)
{
	char num[16];
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < l->n && o < size; i++) {
		snprintf(num, sizeof(num), "%" PRIu32, l->v[i].num);
		if (l->v[i].uid == NULL || strcmp(l->v[i].uid, num) != 0)
			snprintf(num, sizeof(num), "BADUID");
		o += (size_t)snprintf(out + o, size - o,
		    "%s%s %" PRIu64 " %u %" PRId64, i > 0 ? "," : "", num,
		    l->v[i].size, l->v[i].flags, l->v[i].date);
	}
}

static void
t_e2e_relist(const void *arg)
{
	const struct relistcase *c = arg;
	struct sess s;
	struct folder_info fi;
	struct msglist out = { 0 };
	char got[512];
	int rc;
	struct step steps[] = {
		{ S_SEND, GREET, NULL },
		LOGIN_OK,
		INBOX_LIST,
		{ c->select ? S_EXPECT : S_SEND,
		    c->select ? "EXAMINE \"INBOX\"" : "",
		    c->select ? "* 10 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n"
				"$T OK y\r\n"
			      : NULL },
		{ c->cmd != NULL ? S_EXPECT : S_SEND, c->cmd ? c->cmd : "",
		    c->reply },
		{ c->rc == 0 ? S_EXPECT : S_EOF, "LOGOUT", NULL },
		{ S_END, NULL, NULL },
	};

	CHECK(sess_open(&s, steps, NULL) == 0);
	CHECK(s.src->ops->relist != NULL);
	if (c->select)
		CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == 0);
	/* Whatever out held goes first. */
	msglist_add(&out, &(struct msginfo) { .uid = "77", .num = 77 });
	rc = s.src->ops->relist(s.src, c->nums, c->n, &out);
	CHECK(rc == c->rc);
	if (rc != c->rc)
		; /* failed already */
	else if (rc == 0) {
		CHECK(out.nosizes == 0 && out.window == 0);
		render_msgs(&out, got, sizeof(got));
		CHECK_STR(got, c->want);
		CHECK(s.src->ops->quit(s.src) == 0);
	} else {
		CHECK(s.src->fail == c->fail);
		CHECK(strncmp(s.src->err, c->err, strlen(c->err)) == 0);
		CHECK(out.n == 0);
	}
	if (t_case_failed)
		fprintf(stderr, "err: %s\n", s.src->err);
	sess_end(&s);
	CHECK(s.status == 0);
	if (s.status != 0)
		fprintf(stderr, "server log:\n%s\n", s.log);
	msglist_free(&out);
	free(s.log);
}

/* 1100 UIDs, every other one: three commands of at most 500 UIDs, the
 * second sent before the first is answered, the third once it is. */
static void
t_e2e_relist_batches(const void *arg)
{
	struct sess s;
	struct folder_info fi;
	struct msglist out = { 0 };
	uint32_t nums[1100];
	char *cmd[3], *resp[3], *set;
	size_t i, b, o, cap = 1100 * 64;
	int ok = 1;

	(void)arg;
	for (i = 0; i < 1100; i++)
		nums[i] = (uint32_t)(2 * (i + 1));
	for (b = 0; b < 3; b++) {
		set = imap_uidset(nums + 500 * b, b < 2 ? 500 : 100);
		xasprintf(&cmd[b], "UID FETCH %s" RELIST_ITEMS, set);
		free(set);
		resp[b] = xmalloc(cap);
		o = 0;
		for (i = 500 * b; i < 1100 && i < 500 * (b + 1); i++)
			o += (size_t)snprintf(resp[b] + o, cap - o,
			    "* %zu FETCH (UID %" PRIu32 " RFC822.SIZE %zu)\r\n",
			    i + 1, nums[i], 1000 + i);
		snprintf(resp[b] + o, cap - o, "A%zu OK part\r\n", 3 + b);
	}
	{
		struct step steps[] = {
			{ S_SEND, GREET, NULL },
			LOGIN_OK,
			INBOX_LIST,
			{ S_EXPECT, "EXAMINE \"INBOX\"",
			    "* 1100 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n"
			    "$T OK y\r\n" },
			{ S_EXPECT, cmd[0], NULL },
			{ S_EXPECT, cmd[1], resp[0] },
			{ S_EXPECT, cmd[2], resp[1] },
			{ S_SEND, resp[2], NULL },
			LOGOUT,
			{ S_END, NULL, NULL },
		};

		CHECK(sess_open(&s, steps, NULL) == 0);
		CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == 0);
		CHECK(s.src->ops->relist(s.src, nums, 1100, &out) == 0);
		CHECK(out.n == 1100);
		for (i = 0; i < out.n && i < 1100; i++)
			if (out.v[i].num != nums[i]
			    || out.v[i].size != 1000 + i)
				ok = 0;
		CHECK(ok);
		CHECK(s.src->ops->quit(s.src) == 0);
		if (t_case_failed)
			fprintf(stderr, "err: %s\n", s.src->err);
		sess_end(&s);
	}
	CHECK(s.status == 0);
	/* No command line longer than 500 UIDs of 10 digits would make. */
	for (b = 0; b < 3; b++) {
		CHECK(strlen(cmd[b]) < 500 * 11 + 64);
		free(cmd[b]);
		free(resp[b]);
	}
	msglist_free(&out);
	free(s.log);
}

/* A message of 3 MB in CRLF lines comes out byte-exact with LF. */
static void
t_e2e_big_body(const void *arg)
{
	struct sess s;
	struct folder_info fi;
	struct msglist l = { 0 };
	struct msginfo *m[1];
	struct sink sink = { rec_begin, rec_write, rec_end, NULL };
	struct rec r;
	char *body, *want, *resp;
	size_t i, n = 3 * 1024 * 1024, o = 0, w = 0;

	(void)arg;
	body = xmalloc(n + 1);
	want = xmalloc(n + 1);
	for (i = 0; o + 2 <= n; i++) {
		if (i % 77 == 76) {
			body[o++] = '\r';
			body[o++] = '\n';
			want[w++] = '\n';
		} else {
			body[o++] = (char)('!' + i % 90);
			want[w++] = (char)('!' + i % 90);
		}
	}
	body[o] = '\0';
	xasprintf(&resp, "* 1 FETCH (UID 3 BODY[] {%zu}\r\n%s)\r\n$T OK\r\n", o,
	    body);
	{
		struct step steps[] = {
			{ S_SEND, GREET, NULL },
			LOGIN_OK,
			INBOX_LIST,
			{ S_EXPECT, "EXAMINE \"INBOX\"",
			    "* 1 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n"
			    "$T OK y\r\n" },
			{ S_EXPECT,
			    "UID FETCH 1:* (UID RFC822.SIZE FLAGS "
			    "INTERNALDATE)",
			    LIST1 },
			{ S_EXPECT, "UID FETCH 3 (UID BODY.PEEK[])", resp },
			LOGOUT,
			{ S_END, NULL, NULL },
		};

		rec_init(&r, 1);
		sink.arg = &r;
		CHECK(sess_open(&s, steps, NULL) == 0);
		CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == 0);
		CHECK(s.src->ops->list(s.src, 0, &l) == 0 && l.n == 1);
		m[0] = &l.v[0];
		CHECK(s.src->ops->fetch(s.src, m, 1, &sink) == 0);
		CHECK(rec_is(&r, 0, want, w));
		CHECK(s.src->ops->quit(s.src) == 0);
		sess_end(&s);
	}
	CHECK(s.status == 0);
	rec_free(&r);
	msglist_free(&l);
	free(body);
	free(want);
	free(resp);
	free(s.log);
}

/* Folder names: UTF-8 sent as modified UTF-7, a quote as a literal
 * (waiting for "+"), an unknown folder refused with the session still
 * usable, a missing UIDVALIDITY. */
static void
t_e2e_folders(const void *arg)
{
	struct sess s;
	struct folder_info fi;
	struct msglist l = { 0 };
	struct msginfo one = { 0 };
	struct step steps[] = {
		{ S_SEND, "* OK [CAPABILITY IMAP4rev1] hi\r\n", NULL },
		{ S_EXPECT, "LOGIN \"user\" \"" PW "\"",
		    "$T OK [CAPABILITY IMAP4rev1] in\r\n" },
		{ S_EXPECT, "LIST \"\" \"Entw&APw-rfe\"",
		    "* LIST () NIL Entw&APw-rfe\r\n$T OK done\r\n" },
		{ S_EXPECT, "EXAMINE \"Entw&APw-rfe\"",
		    "* 0 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n$T OK y\r\n" },
		{ S_EXPECT, "LIST \"\" {3}", "+ go\r\n" },
		{ S_RAW, "a\"b", "$T OK nothing\r\n" },
		{ S_EXPECT, "SELECT {3}", "+ go\r\n" },
		{ S_RAW, "a\"b", "$T NO [NONEXISTENT] no such mailbox\r\n" },
		{ S_EXPECT, "EXAMINE \"INBOX\"", "* 2 EXISTS\r\n$T OK y\r\n" },
		{ S_CLOSE, NULL, NULL },
		{ S_END, NULL, NULL },
	};

	(void)arg;
	CHECK(sess_open(&s, steps, NULL) == 0);
	CHECK(s.src->ops->select(s.src, "Entw\xc3\xbcrfe", 0, &fi) == 0);
	CHECK(fi.uidvalidity == 5 && fi.exists == 0 && fi.uidplus == 0);
	CHECK(s.src->delim == '\0');
	one.uid = "1";
	msglist_add(&l, &one);
	CHECK(s.src->ops->list(s.src, 0, &l) == 0 && l.n == 0);
	CHECK(s.src->ops->select(s.src, "a\"b", 1, &fi) == -1);
	CHECK(s.src->fail == SRC_FREFUSED);
	CHECK_STR(s.src->err, "no folder a\"b: \"no such mailbox\"");
	CHECK(s.src->ops->list(s.src, 0, &l) == -1);
	CHECK(s.src->ops->select(s.src, "INBOX", 0, &fi) == -1);
	CHECK(s.src->fail == SRC_FDATA);
	CHECK(strstr(s.src->err, "UIDVALIDITY") != NULL);
	CHECK(s.src->ops->select(s.src, "\xff", 0, &fi) == -1);
	CHECK(s.src->fail == SRC_FCONFIG);
	sess_end(&s);
	CHECK(s.status == 0);
	free(s.log);
}

static void
t_e2e_long_line(const void *arg)
{
	struct sess s;
	char *big;
	size_t n = 70000;

	(void)arg;
	big = xmalloc(n + 16);
	memset(big, 'x', n);
	memcpy(big, "* OK ", 5);
	memcpy(big + n, "\r\n", 3);
	{
		struct step steps[] = {
			{ S_SEND, big, NULL },
			{ S_EOF, NULL, NULL },
			{ S_END, NULL, NULL },
		};

		CHECK(sess_open(&s, steps, NULL) == -1);
		CHECK(s.src->fail == SRC_FPROTO);
		CHECK(strstr(s.src->err, "longer than") != NULL);
		sess_end(&s);
	}
	CHECK(s.status == 0);
	free(big);
	free(s.log);
}

static void
starttls_noverify(struct source_cfg *c)
{
	c->tls = SRC_TLS_STARTTLS;
	c->tlsopts.verify = 0;
	c->allow_plaintext = 0;
}

static void
implicit_noverify(struct source_cfg *c)
{
	c->tls = SRC_TLS_IMPLICIT;
	c->tlsopts.verify = 0;
	c->allow_plaintext = 0;
}

static void
t_e2e_refused_port(const void *arg)
{
	struct source_cfg cfg;
	const struct source_ops *ops;
	struct source *src;
	struct srv fake;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd;

	(void)arg;
	/* A port that was just free: bind, note it, close. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd != -1 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0
	    && getsockname(fd, (struct sockaddr *)&sin, &slen) == 0);
	snprintf(fake.port, sizeof(fake.port), "%u", ntohs(sin.sin_port));
	close(fd);
	cfg_init(&cfg, &fake, NULL);
	src = imap_new(&cfg);
	CHECK(src->ops->open(src) == -1);
	CHECK(src->fail == SRC_FHOST);
	src->ops->free(src);
	src = imap_new(&cfg);
	ops = src->ops;
	ops->free(src);
	ops->free(NULL);
}

/*
 * Mirror and folder selection: the parsers of LIST, NAMESPACE,
 * VANISHED, ESEARCH and UID sets, then the mailboxes, namespace and
 * select_sync ops in scripted sessions, as tables.
 */
struct mbxcase {
	const char *name;
	const char *in;
	int rv;
	unsigned attrs;
	char delim;
	const char *mbox; /* the name, unquoted */
};

static const struct mbxcase mbxcases[] = {
	{ "mbx_atom", "(\\HasNoChildren) \"/\" INBOX", 0, 0, '/', "INBOX" },
	{ "mbx_quoted", "(\\Sent) \".\" \"Sent Items\"", 0, MBX_SENT, '.',
	    "Sent Items" },
	{ "mbx_quoted_escapes", "() \"\\\\\" \"a\\\\b\\\"c\"", 0, 0, '\\',
	    "a\\b\"c" },
	{ "mbx_literal", "(\\Noselect \\HasChildren) \"/\" {5}\r\nLists", 0,
	    MBX_NOSELECT, '/', "Lists" },
	{ "mbx_nil_delim", "(\\All \\Junk) NIL \"R&-D\"", 0, MBX_ALL | MBX_JUNK,
	    '\0', "R&-D" },
	{ "mbx_nonexistent", "(\\NonExistent) \"/\" Lists", 0,
	    MBX_NONEXISTENT | MBX_NOSELECT, '/', "Lists" },
	{ "mbx_special_use_all",
	    "(\\archive \\DRAFTS \\Flagged \\Trash \\Marked $x) \"/\" x", 0,
	    MBX_ARCHIVE | MBX_DRAFTS | MBX_FLAGGED | MBX_TRASH, '/', "x" },
	{ "mbx_extended_data",
	    "() \"/\" Drafts (\"CHILDINFO\" (\"SUBSCRIBED\"))", 0, 0, '/',
	    "Drafts" },
	{ "mbx_gmail_quoted",
	    "(\\HasNoChildren \\All) \"/\" \"[Gmail]/All Mail\"", 0, MBX_ALL,
	    '/', "[Gmail]/All Mail" },
	{ "mbx_gmail_atom", "(\\Sent) \"/\" [Gmail]/Sent", 0, MBX_SENT, '/',
	    "[Gmail]/Sent" },
	{ "mbx_name_nil", "() \"/\" NIL", 0, 0, '/', "NIL" },
	{ "mbx_err_attr_string", "(\\Noselect \"x\") \"/\" foo", -1, 0, 0,
	    NULL },
	{ "mbx_err_long_delim", "() \"ab\" foo", -1, 0, 0, NULL },
	{ "mbx_err_no_name", "() \"/\"", -1, 0, 0, NULL },
	{ "mbx_err_no_parens", "\\Sent \"/\" foo", -1, 0, 0, NULL },
	{ "mbx_err_trailing", "() \"/\" foo )", -1, 0, 0, NULL },
};

static void
t_mbx(const void *arg)
{
	const struct mbxcase *c = arg;
	struct imap_mbox m;
	char name[64];
	size_t n;

	CHECK(imap_parse_mailbox(c->in, strlen(c->in), &m) == c->rv);
	if (c->rv == -1)
		return;
	CHECK(m.attrs == c->attrs);
	CHECK(m.delim == c->delim);
	if (m.name.t == IMAP_TQUOTED)
		n = imap_unquote(m.name.p, m.name.len, name);
	else
		memcpy(name, m.name.p, n = m.name.len);
	name[n] = '\0';
	CHECK_STR(name, c->mbox);
}

struct nscase {
	const char *name;
	const char *in;
	int rv;
	int known;
	const char *prefix; /* as the token holds it */
	char delim;
};

static const struct nscase nscases[] = {
	{ "ns_dovecot", "((\"\" \"/\")) NIL NIL", 0, 1, "", '/' },
	{ "ns_inbox_dot", "((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))", 0,
	    1, "INBOX.", '.' },
	{ "ns_nil_personal", "NIL ((\"Other/\" \"/\")) NIL", 0, 0, "", '\0' },
	{ "ns_literal", "(({6}\r\nINBOX/ \"/\")) NIL NIL", 0, 1, "INBOX/",
	    '/' },
	{ "ns_two_personal", "((\"a.\" \".\")(\"b/\" \"/\")) NIL NIL", 0, 1,
	    "a.", '.' },
	{ "ns_nil_delim", "((\"\" NIL)) NIL NIL", 0, 1, "", '\0' },
	{ "ns_extension",
	    "((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL", 0, 1,
	    "", '/' },
	{ "ns_err_two_only", "((\"\" \"/\")) NIL", -1, 0, NULL, 0 },
	{ "ns_err_empty_list", "() NIL NIL", -1, 0, NULL, 0 },
	{ "ns_err_atom_prefix", "((INBOX \".\")) NIL NIL", -1, 0, NULL, 0 },
	{ "ns_err_trailing", "NIL NIL NIL x", -1, 0, NULL, 0 },
	{ "ns_err_unclosed", "((\"\" \"/\") NIL NIL", -1, 0, NULL, 0 },
};

static void
t_ns(const void *arg)
{
	const struct nscase *c = arg;
	struct imap_tok p;
	char delim;
	int known;

	CHECK(imap_parse_namespace(c->in, strlen(c->in), &p, &delim, &known)
	    == c->rv);
	if (c->rv == -1)
		return;
	CHECK(known == c->known);
	CHECK(delim == c->delim);
	CHECK(p.len == strlen(c->prefix)
	    && (p.len == 0 || memcmp(p.p, c->prefix, p.len) == 0));
}

struct stcase {
	const char *name;
	const char *in;
	int rv;
	const char *mbox; /* as the token holds it */
	unsigned has;
	uint32_t messages, uidnext, uidvalidity;
	uint64_t modseq;
};

#define ST_ALL3 (IMAP_ST_MESSAGES | IMAP_ST_UIDNEXT | IMAP_ST_UIDVALIDITY)

static const struct stcase stcases[] = {
	{ "st_dovecot",
	    "Lists/dev (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1796468535 "
	    "HIGHESTMODSEQ 3)",
	    0, "Lists/dev", ST_ALL3 | IMAP_ST_HIGHESTMODSEQ, 2, 3, 1796468535,
	    3 },
	{ "st_quoted_any_order",
	    "\"Sent Items\" (UIDVALIDITY 7 MESSAGES 0 "
	    "UIDNEXT 1)",
	    0, "Sent Items", ST_ALL3, 0, 1, 7, 0 },
	{ "st_literal", "{5}\r\nR&-D. (UIDNEXT 9)", 0, "R&-D.", IMAP_ST_UIDNEXT,
	    0, 9, 0, 0 },
	{ "st_unknown_items_skipped",
	    "INBOX (SIZE 1234 X-LIST (a b) UNSEEN 1 RECENT 0 MESSAGES 4)", 0,
	    "INBOX", IMAP_ST_MESSAGES, 4, 0, 0, 0 },
	{ "st_empty_list", "INBOX ()", 0, "INBOX", 0, 0, 0, 0, 0 },
	{ "st_modseq_64", "x (HIGHESTMODSEQ 9223372036854775807)", 0, "x",
	    IMAP_ST_HIGHESTMODSEQ, 0, 0, 0, 9223372036854775807ULL },
	{ "st_err_modseq_big", "x (HIGHESTMODSEQ 9223372036854775808)", -1,
	    NULL, 0, 0, 0, 0, 0 },
	{ "st_err_uidnext_big", "x (UIDNEXT 4294967296)", -1, NULL, 0, 0, 0, 0,
	    0 },
	{ "st_err_not_number", "x (MESSAGES many)", -1, NULL, 0, 0, 0, 0, 0 },
	{ "st_err_no_value", "x (MESSAGES)", -1, NULL, 0, 0, 0, 0, 0 },
	{ "st_err_no_list", "x MESSAGES 1", -1, NULL, 0, 0, 0, 0, 0 },
	{ "st_err_unclosed", "x (MESSAGES 1", -1, NULL, 0, 0, 0, 0, 0 },
	{ "st_err_trailing", "x (MESSAGES 1) y", -1, NULL, 0, 0, 0, 0, 0 },
	{ "st_err_no_name", "", -1, NULL, 0, 0, 0, 0, 0 },
};

static void
t_st(const void *arg)
{
	const struct stcase *c = arg;
	struct imap_mbstatus st;

	CHECK(imap_parse_status(c->in, strlen(c->in), &st) == c->rv);
	if (c->rv == -1)
		return;
	CHECK(st.name.len == strlen(c->mbox)
	    && memcmp(st.name.p, c->mbox, st.name.len) == 0);
	CHECK(st.has == c->has);
	CHECK(st.messages == c->messages);
	CHECK(st.uidnext == c->uidnext);
	CHECK(st.uidvalidity == c->uidvalidity);
	CHECK(st.highestmodseq == c->modseq);
}

/* A set rendered as "lo-hi lo-hi", "!" at an error. */
static void
render_set(const char *p, size_t len, char *out, size_t outlen)
{
	struct imap_set s;
	uint32_t lo, hi;
	size_t o = 0;
	int k;

	out[0] = '\0';
	imap_set_init(&s, p, len);
	while ((k = imap_set_next(&s, &lo, &hi)) == 1 && o + 32 < outlen)
		o += (size_t)snprintf(out + o, outlen - o,
		    "%s%" PRIu32 "-%" PRIu32, o ? " " : "", lo, hi);
	if (k == -1)
		snprintf(out + o, outlen - o, "%s!", o ? " " : "");
}

struct setcase {
	const char *name;
	const char *in;
	const char *want;
};

static const struct setcase setcases[] = {
	{ "set_one", "7", "7-7" },
	{ "set_ranges", "1:5,7,9:8", "1-5 7-7 8-9" },
	{ "set_max", "4294967295", "4294967295-4294967295" },
	{ "set_err_zero", "0", "!" },
	{ "set_err_over", "4294967296", "!" },
	{ "set_err_star", "3:*", "!" },
	{ "set_err_empty_elem", "1,,2", "1-1 !" },
	{ "set_err_trailing_comma", "1,", "1-1 !" },
	{ "set_err_junk", "1x", "!" },
};

static void
t_set(const void *arg)
{
	const struct setcase *c = arg;
	char out[256];

	render_set(c->in, strlen(c->in), out, sizeof(out));
	CHECK_STR(out, c->want);
}

struct vancase {
	const char *name;
	const char *in;
	int rv;
	int earlier;
	const char *set;
};

static const struct vancase vancases[] = {
	{ "van_earlier", "(EARLIER) 3:4,9", 0, 1, "3:4,9" },
	{ "van_earlier_case", "(earlier) 1", 0, 1, "1" },
	{ "van_plain", "300:310,405", 0, 0, "300:310,405" },
	{ "van_err_bad_set", "(EARLIER) 3:x", -1, 0, NULL },
	{ "van_err_other_tag", "(LATER) 3", -1, 0, NULL },
	{ "van_err_no_set", "(EARLIER)", -1, 0, NULL },
	{ "van_err_trailing", "1:2 3", -1, 0, NULL },
};

static void
t_van(const void *arg)
{
	const struct vancase *c = arg;
	const char *set;
	size_t setlen;
	int earlier;

	CHECK(imap_parse_vanished(c->in, strlen(c->in), &earlier, &set, &setlen)
	    == c->rv);
	if (c->rv == -1)
		return;
	CHECK(earlier == c->earlier);
	CHECK(setlen == strlen(c->set) && memcmp(set, c->set, setlen) == 0);
}

struct escase {
	const char *name;
	const char *in;
	int rv;
	int uid;
	const char *tag; /* NULL: none */
	const char *set; /* NULL: no ALL */
};

static const struct escase escases[] = {
	{ "es_all", "(TAG \"A3\") UID ALL 1:2,5", 0, 1, "A3", "1:2,5" },
	{ "es_empty", "(TAG \"A3\") UID", 0, 1, "A3", NULL },
	{ "es_min_max", "(TAG \"x\") UID MIN 2 MAX 9 ALL 2,9", 0, 1, "x",
	    "2,9" },
	{ "es_no_tag", "ALL 4", 0, 0, NULL, "4" },
	{ "es_err_bad_all", "(TAG \"A3\") UID ALL 0", -1, 0, NULL, NULL },
	{ "es_err_tag_atom", "(TAG A3) UID ALL 1", -1, 0, NULL, NULL },
	{ "es_err_value_missing", "UID ALL", -1, 0, NULL, NULL },
};

static void
t_es(const void *arg)
{
	const struct escase *c = arg;
	const char *tag, *set;
	size_t taglen, setlen;
	int uid;

	CHECK(imap_parse_esearch(
		  c->in, strlen(c->in), &tag, &taglen, &uid, &set, &setlen)
	    == c->rv);
	if (c->rv == -1)
		return;
	CHECK(uid == c->uid);
	CHECK(c->tag == NULL ? tag == NULL
			     : tag != NULL && taglen == strlen(c->tag)
		    && memcmp(tag, c->tag, taglen) == 0);
	CHECK(c->set == NULL ? set == NULL
			     : set != NULL && setlen == strlen(c->set)
		    && memcmp(set, c->set, setlen) == 0);
}

static void
t_fetch_modseq(const void *arg)
{
	struct imap_fetch f;
	const char *ok = "(UID 5 FLAGS (\\Seen) MODSEQ (12345678901))";

	(void)arg;
	CHECK(imap_parse_fetch(ok, strlen(ok), &f) == 0);
	CHECK(f.has_modseq && f.modseq == 12345678901ULL && f.uid == 5
	    && f.flags == MSG_SEEN);
	CHECK(imap_parse_fetch("(MODSEQ 5)", 10, &f) == -1);
	CHECK(imap_parse_fetch("(MODSEQ (5 6))", 14, &f) == -1);
	CHECK(imap_parse_fetch("(MODSEQ (x))", 12, &f) == -1);
	CHECK(imap_parse_fetch("(MODSEQ (9223372036854775808))", 30, &f) == -1);
}

/*
 * The ops in sessions. Each case runs its op on a session opened with
 * its script and renders what the op reported into a line of events;
 * a case that wants success ends with quit (LOGOUT in the script).
 */
struct evbuf {
	char s[1024];
	size_t len;
};

static void ev_add(struct evbuf *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ev_add(struct evbuf *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->len > 0 && e->len + 1 < sizeof(e->s))
		e->s[e->len++] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(e->s + e->len, sizeof(e->s) - e->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		e->len += (size_t)n;
	if (e->len >= sizeof(e->s))
		e->len = sizeof(e->s) - 1;
}

static int
ev_mailbox(void *arg, const struct mailbox *m)
{
	ev_add(arg, "%s|%s|%c|%x", m->name, m->utf8 ? m->utf8 : "-",
	    m->delim ? m->delim : '0', m->attrs);
	return 0;
}

static int
ev_flags(void *arg, uint32_t uid, unsigned flags)
{
	ev_add(arg, "f%" PRIu32 "=%x", uid, flags);
	return 0;
}

static int
ev_vanished(void *arg, uint32_t lo, uint32_t hi)
{
	ev_add(arg, "v%" PRIu32 "-%" PRIu32, lo, hi);
	return 0;
}

struct opcase {
	const char *name;
	const struct step *steps;
	int (*op)(struct source *, const struct opcase *, struct evbuf *);
	struct sync_known known; /* op_sync */
	const char *folder; /* op_sync: NULL for INBOX; op_expunge: which */
	int rv;
	enum src_fail fail;
	const char *want; /* the events */
};

static int
op_mailboxes(struct source *src, const struct opcase *c, struct evbuf *e)
{
	(void)c;
	return src->ops->mailboxes(src, ev_mailbox, e);
}

static int
op_namespace(struct source *src, const struct opcase *c, struct evbuf *e)
{
	struct src_namespace ns;
	int rv;

	(void)c;
	rv = src->ops->namespace(src, &ns);
	ev_add(e, "ns%d \"%s\" %c", ns.known, ns.prefix,
	    ns.delim ? ns.delim : '0');
	return rv;
}

static const char syncname[] = { 'V', 'D', 'W' };

static int
sync_one(struct source *src, const struct opcase *c, const struct sync_known *k,
    struct evbuf *e)
{
	struct change_sink chg = { ev_flags, ev_vanished, e };
	struct folder_info fi;
	enum src_sync kind = SRC_SYNC_DELTA;
	int rv;

	rv = src->ops->select_sync(
	    src, c->folder ? c->folder : "INBOX", k, &chg, &fi, &kind);
	if (rv == 0)
		ev_add(e, "%c uv%" PRIu32 " ms%" PRIu64 " n%" PRIu32 " c%d%d",
		    syncname[kind], fi.uidvalidity, fi.highestmodseq, fi.exists,
		    fi.condstore, fi.qresync);
	return rv;
}

static int
op_sync(struct source *src, const struct opcase *c, struct evbuf *e)
{
	return sync_one(src, c, &c->known, e);
}

/* Twice: the known state, then the same with a UIDVALIDITY one more. */
static int
op_sync_twice(struct source *src, const struct opcase *c, struct evbuf *e)
{
	struct sync_known k = c->known;

	if (sync_one(src, c, &k, e) == -1)
		return -1;
	k.uidvalidity++;
	return sync_one(src, c, &k, e);
}

/* A sync, then the usual listing of what is new. */
static int
op_sync_list(struct source *src, const struct opcase *c, struct evbuf *e)
{
	struct msglist l = { 0 };
	size_t i;
	int rv;

	if (sync_one(src, c, &c->known, e) == -1)
		return -1;
	rv = src->ops->list(src, c->known.uidnext, &l);
	for (i = 0; rv == 0 && i < l.n; i++)
		ev_add(e, "l%s", l.v[i].uid);
	msglist_free(&l);
	return rv;
}

/* Mark and expunge the listed messages picked by the case's name:
 * "3:4" the first two, "9" the last, "9,3" the last and the first
 * without marking (marked by another session). */
static int
op_expunge(struct source *src, const struct opcase *c, struct evbuf *e)
{
	struct sess s = { .src = src };
	struct msglist l = { 0 };
	struct msginfo *m[3], *pick[2];
	size_t n = 0, gone = 99;
	int rv = -1;

	if (select_and_list(&s, &l, m) == -1)
		goto done;
	if (strcmp(c->folder, "3:4") == 0) {
		pick[n++] = m[0];
		pick[n++] = m[1];
	} else
		pick[n++] = m[2];
	if (strcmp(c->folder, "9,3") == 0)
		pick[n++] = m[0];
	else if (src->ops->mark(src, pick, n) == -1)
		goto done;
	rv = src->ops->expunge(src, pick, n, &gone);
	ev_add(e, "gone%zu%s%s", gone, src->err[0] ? " " : "", src->err);
done:
	msglist_free(&l);
	return rv;
}

/* Select INBOX read-only and list it from UID known.uidnext. */
static int
op_select_list(struct source *src, const struct opcase *c, struct evbuf *e)
{
	struct folder_info fi;
	struct msglist l = { 0 };
	size_t i;
	int rv;

	if (src->ops->select(src, "INBOX", 0, &fi) == -1)
		return -1;
	ev_add(e, "n%" PRIu32, fi.exists);
	rv = src->ops->list(src, c->known.uidnext, &l);
	for (i = 0; rv == 0 && i < l.n; i++)
		ev_add(e, "l%s", l.v[i].uid);
	msglist_free(&l);
	return rv;
}

/* What a peek of these folders reports, one event a folder: "name:0"
 * unknown, or "name:uidvalidity/uidnext/messages/highestmodseq". */
static const char *const peeked[] = { "INBOX", "Lists/dev", "Nope", "Half" };

static int
peek_events(struct source *src, struct evbuf *e)
{
	struct folder_peek pk[4];
	size_t i;

	if (src->ops->peek(src, peeked, 4, pk) == -1)
		return -1;
	for (i = 0; i < 4; i++)
		if (!pk[i].known)
			ev_add(e, "%s:0", peeked[i]);
		else
			ev_add(e,
			    "%s:%" PRIu32 "/%" PRIu32 "/%" PRIu32 "/%" PRIu64,
			    peeked[i], pk[i].uidvalidity, pk[i].uidnext,
			    pk[i].messages, pk[i].highestmodseq);
	return 0;
}

/* Select Lists/dev after a peek or a listing: its delimiter is known,
 * no LIST of its own goes out (the scripts expect none). */
static int
select_dev(struct source *src, struct evbuf *e)
{
	struct folder_info fi;

	if (src->ops->select(src, "Lists/dev", 0, &fi) == -1)
		return -1;
	ev_add(e, "sel%" PRIu32 "%c", fi.uidvalidity, src->delim);
	return 0;
}

/* INBOX selected, then a peek (INBOX not asked about), then Lists/dev
 * selected. */
static int
op_peek(struct source *src, const struct opcase *c, struct evbuf *e)
{
	struct folder_info fi;

	(void)c;
	if (src->ops->select(src, "INBOX", 0, &fi) == -1
	    || peek_events(src, e) == -1)
		return -1;
	return select_dev(src, e);
}

/* With peek_in_list: the mailboxes listed with LIST-STATUS, then a peek
 * that sends nothing, then Lists/dev selected. */
static int
op_list_peek(struct source *src, const struct opcase *c, struct evbuf *e)
{
	/* The test's own cfg (struct sess), not a const object. */
	((struct source_cfg *)(uintptr_t)src->cfg)->peek_in_list = 1;
	(void)c;
	if (src->ops->mailboxes(src, ev_mailbox, e) == -1
	    || peek_events(src, e) == -1)
		return -1;
	return select_dev(src, e);
}

#define MB_CAPS "LIST-EXTENDED SPECIAL-USE"
#define QR_CAPS "ENABLE CONDSTORE QRESYNC"
#define PEEK_ITEMS " (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)"
#define DEV_EXAMINE                                                            \
	{                                                                      \
		S_EXPECT, "EXAMINE \"Lists/dev\"",                             \
		    "* 0 EXISTS\r\n* OK [UIDVALIDITY 8] x\r\n$T OK y\r\n"      \
	}
#define HEAD(caps) GREET_CAPS(caps), LOGIN_CAPS(caps)
#define EXAMINE_CS(resp)                                                       \
	{                                                                      \
		S_EXPECT, "EXAMINE \"INBOX\" (CONDSTORE)", resp                \
	}

static const struct opcase opcases[] = {
	/* STATUS pipelined, a LIST before each but INBOX's; INBOX is
	 * selected, so no STATUS names it. A refused STATUS, or one
	 * without every item, leaves its folder unknown; one without
	 * HIGHESTMODSEQ has none. */
	{ "op_peek_status",
	    STEPS(HEAD("CONDSTORE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n$T OK y\r\n" },
		{ S_EXPECT, "LIST \"\" \"Lists/dev\"",
		    "* LIST () \"/\" Lists/dev\r\n$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Lists/dev\"" PEEK_ITEMS,
		    "* STATUS \"Lists/dev\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY "
		    "8)\r\n$T OK done\r\n" },
		{ S_EXPECT, "LIST \"\" \"Nope\"", "$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Nope\"" PEEK_ITEMS,
		    "$T NO no such mailbox\r\n" },
		{ S_EXPECT, "LIST \"\" \"Half\"",
		    "* LIST () \".\" Half\r\n$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Half\"" PEEK_ITEMS,
		    "* STATUS Half (MESSAGES 1 HIGHESTMODSEQ 4)\r\n"
		    "$T OK done\r\n" },
		DEV_EXAMINE, LOGOUT),
	    op_peek, { 0 }, NULL, 0, SRC_FNONE,
	    "INBOX:0 Lists/dev:8/1/0/0 Nope:0 Half:0 sel8/" },
	/* Without CONDSTORE, no HIGHESTMODSEQ is asked for. */
	{ "op_peek_status_no_condstore",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n$T OK y\r\n" },
		{ S_EXPECT, "LIST \"\" \"Lists/dev\"",
		    "* LIST () \"/\" Lists/dev\r\n$T OK done\r\n" },
		{ S_EXPECT,
		    "STATUS \"Lists/dev\" (UIDVALIDITY UIDNEXT MESSAGES)",
		    "* STATUS Lists/dev (MESSAGES 2 UIDNEXT 5 UIDVALIDITY 8 "
		    "HIGHESTMODSEQ 4)\r\n$T OK done\r\n" },
		{ S_EXPECT, "LIST \"\" \"Nope\"", "$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Nope\" (UIDVALIDITY UIDNEXT MESSAGES)",
		    "$T BAD what\r\n" },
		{ S_EXPECT, "LIST \"\" \"Half\"", "$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Half\" (UIDVALIDITY UIDNEXT MESSAGES)",
		    "* STATUS Half (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3)\r\n"
		    "$T OK done\r\n" },
		DEV_EXAMINE, LOGOUT),
	    op_peek, { 0 }, NULL, 0, SRC_FNONE,
	    "INBOX:0 Lists/dev:8/5/2/0 Nope:0 Half:3/2/1/0 sel8/" },
	/* LIST-STATUS: the listing brings the items; the peek sends
	 * nothing, and a folder without a STATUS (not listed) is asked
	 * about then. */
	{ "op_peek_list_status",
	    STEPS(HEAD("LIST-EXTENDED LIST-STATUS CONDSTORE"),
		{ S_EXPECT, "LIST \"\" \"*\" RETURN (STATUS" PEEK_ITEMS ")",
		    "* LIST () \"/\" INBOX\r\n"
		    "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7 "
		    "HIGHESTMODSEQ 9)\r\n"
		    "* LIST () \"/\" Lists/dev\r\n"
		    "* STATUS Lists/dev (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 8 "
		    "HIGHESTMODSEQ 2)\r\n"
		    "* LIST () \".\" Half\r\n"
		    "$T OK done\r\n" },
		{ S_EXPECT, "LIST \"\" \"Nope\"", "$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Nope\"" PEEK_ITEMS, "$T NO nope\r\n" },
		{ S_EXPECT, "STATUS \"Half\"" PEEK_ITEMS,
		    "* STATUS Half (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3 "
		    "HIGHESTMODSEQ 5)\r\n$T OK done\r\n" },
		DEV_EXAMINE, LOGOUT),
	    op_list_peek, { 0 }, NULL, 0, SRC_FNONE,
	    "INBOX|INBOX|/|0 Lists/dev|Lists/dev|/|0 Half|Half|.|0 "
	    "INBOX:7/4/3/9 Lists/dev:8/1/0/2 Nope:0 Half:3/2/1/5 sel8/" },
	{ "op_peek_bad_status",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n$T OK y\r\n" },
		{ S_EXPECT, "LIST \"\" \"Lists/dev\"", "$T OK done\r\n" },
		{ S_EXPECT,
		    "STATUS \"Lists/dev\" (UIDVALIDITY UIDNEXT MESSAGES)",
		    "$T OK done\r\n" },
		{ S_EXPECT, "LIST \"\" \"Nope\"", "$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Nope\" (UIDVALIDITY UIDNEXT MESSAGES)",
		    "$T OK done\r\n" },
		{ S_EXPECT, "LIST \"\" \"Half\"", "$T OK done\r\n" },
		{ S_EXPECT, "STATUS \"Half\" (UIDVALIDITY UIDNEXT MESSAGES)",
		    "* STATUS Half (MESSAGES x)\r\n$T OK done\r\n" },
		{ S_EOF, NULL, NULL }),
	    op_peek, { 0 }, NULL, -1, SRC_FDATA, "" },
	/* EXISTS said 2, but the listing brings nothing: an empty list. */
	{ "e2e_list_nothing",
	    STEPS({ S_SEND, GREET, NULL }, LOGIN_OK, INBOX_LIST,
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n$T OK y\r\n" },
		{ S_EXPECT,
		    "UID FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE)",
		    "* 1 FETCH (FLAGS (\\Seen))\r\n$T OK done\r\n" },
		LOGOUT),
	    op_select_list, { 0 }, NULL, 0, SRC_FNONE, "n2" },
	/* Marking and expunging: UID EXPUNGE with UIDPLUS; without it,
	 * EXPUNGE only when no other message carries \Deleted. */
	{ "e2e_uid_expunge",
	    STEPS(SELECT_3_4_9("UIDPLUS"),
		{ S_EXPECT, "UID STORE 3:4 +FLAGS.SILENT (\\Deleted)",
		    "* 1 FETCH (FLAGS (\\Deleted))\r\n$T OK stored\r\n" },
		{ S_EXPECT, "UID EXPUNGE 3:4",
		    "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n$T OK gone\r\n" },
		LOGOUT),
	    op_expunge, { 0 }, "3:4", 0, SRC_FNONE, "gone2" },
	{ "e2e_no_uidplus_other_deleted",
	    STEPS(SELECT_3_4_9("IDLE"),
		{ S_EXPECT, "UID STORE 9 +FLAGS.SILENT (\\Deleted)",
		    "$T OK stored\r\n" },
		{ S_EXPECT, "UID SEARCH DELETED",
		    "* SEARCH 4 9\r\n$T OK found\r\n" },
		LOGOUT),
	    op_expunge, { 0 }, "9", 0, SRC_FNONE,
	    "gone0 1 message stays flagged \\Deleted: 1 other message in "
	    "the folder is also flagged \\Deleted and the server lacks "
	    "UIDPLUS, so EXPUNGE would remove it too" },
	{ "e2e_no_uidplus_only_ours",
	    STEPS(SELECT_3_4_9("IDLE"),
		{ S_EXPECT, "UID SEARCH DELETED",
		    "* SEARCH 9 3\r\n$T OK found\r\n" },
		{ S_EXPECT, "EXPUNGE",
		    "* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n$T OK gone\r\n" },
		LOGOUT),
	    op_expunge, { 0 }, "9,3", 0, SRC_FNONE, "gone2" },
	/* QRESYNC on: expunges come as VANISHED; ours are counted. */
	{ "e2e_uid_expunge_vanished",
	    STEPS(SELECT_3_4_9("UIDPLUS"),
		{ S_EXPECT, "UID STORE 3:4 +FLAGS.SILENT (\\Deleted)",
		    "$T OK stored\r\n" },
		{ S_EXPECT, "UID EXPUNGE 3:4",
		    "* VANISHED 3:4,7\r\n$T OK gone\r\n" },
		LOGOUT),
	    op_expunge, { 0 }, "3:4", 0, SRC_FNONE, "gone2" },
	{ "op_mailboxes_special_use",
	    STEPS(HEAD(MB_CAPS),
		{ S_EXPECT, "LIST \"\" \"*\" RETURN (SPECIAL-USE)",
		    "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
		    "* LIST (\\Sent) \"/\" \"Sent Items\"\r\n"
		    "* LIST (\\Noselect \\HasChildren) \"/\" {5}\r\nLists\r\n"
		    "* LIST (\\All \\Junk) NIL \"R&-D &AOk-t&AOk-\"\r\n"
		    "* LIST (\\NonExistent) \"\\\\\" \"a\\\\b\"\r\n"
		    "* LIST () \".\" Drafts (\"CHILDINFO\" (\"SUBSCRIBED\"))"
		    "\r\n* LIST () \"/\" \"&Jjo\"\r\n"
		    "$T OK done\r\n" },
		LOGOUT),
	    op_mailboxes, { 0 }, NULL, 0, SRC_FNONE,
	    "INBOX|INBOX|/|0 Sent Items|Sent Items|/|200 Lists|Lists|/|1 "
	    "R&-D &AOk-t&AOk-|R&D \xc3\xa9t\xc3\xa9|0|110 a\\b|a\\b|\\|3 "
	    "Drafts|Drafts|.|0 &Jjo|-|/|0" },
	{ "op_mailboxes_plain_list",
	    STEPS(HEAD("SPECIAL-USE"),
		{ S_EXPECT, "LIST \"\" \"*\"",
		    "* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n"
		    "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
		    "$T OK done\r\n" },
		LOGOUT),
	    op_mailboxes, { 0 }, NULL, 0, SRC_FNONE,
	    "Trash|Trash|/|400 INBOX|INBOX|/|0" },
	{ "op_mailboxes_bad_grammar",
	    STEPS(HEAD(MB_CAPS),
		{ S_EXPECT, "LIST \"\" \"*\" RETURN (SPECIAL-USE)",
		    "* LIST (\\Sent) \"/\" \"Sent\"\r\n"
		    "* LIST (\\Noselect \"x\") \"/\" foo\r\n"
		    "$T OK done\r\n" }),
	    op_mailboxes, { 0 }, NULL, -1, SRC_FDATA, "Sent|Sent|/|200" },
	{ "op_mailboxes_empty_name",
	    STEPS(HEAD(MB_CAPS),
		{ S_EXPECT, "LIST \"\" \"*\" RETURN (SPECIAL-USE)",
		    "* LIST () \"/\" \"\"\r\n$T OK done\r\n" }),
	    op_mailboxes, { 0 }, NULL, -1, SRC_FDATA, "" },
	{ "op_mailboxes_refused",
	    STEPS(HEAD(""),
		{ S_EXPECT, "LIST \"\" \"*\"", "$T NO no lists today\r\n" }),
	    op_mailboxes, { 0 }, NULL, -1, SRC_FPROTO, "" },
	{ "op_namespace_inbox_dot",
	    STEPS(HEAD("NAMESPACE"),
		{ S_EXPECT, "NAMESPACE",
		    "* NAMESPACE ((\"INBOX.\" \".\")) NIL "
		    "((\"#shared.\" \".\"))\r\n$T OK done\r\n" },
		LOGOUT),
	    op_namespace, { 0 }, NULL, 0, SRC_FNONE, "ns1 \"INBOX.\" ." },
	{ "op_namespace_nil_personal",
	    STEPS(HEAD("NAMESPACE"),
		{ S_EXPECT, "NAMESPACE",
		    "* NAMESPACE NIL NIL NIL\r\n$T OK done\r\n" },
		LOGOUT),
	    op_namespace, { 0 }, NULL, 0, SRC_FNONE, "ns0 \"\" 0" },
	{ "op_namespace_literal",
	    STEPS(HEAD("NAMESPACE"),
		{ S_EXPECT, "NAMESPACE",
		    "* NAMESPACE (({6}\r\nINBOX/ \"/\")) NIL NIL\r\n"
		    "$T OK done\r\n" },
		LOGOUT),
	    op_namespace, { 0 }, NULL, 0, SRC_FNONE, "ns1 \"INBOX/\" /" },
	/* The prefix comes in UTF-8; one that is no valid modified
	 * UTF-7 is none. */
	{ "op_namespace_utf7_prefix",
	    STEPS(HEAD("NAMESPACE"),
		{ S_EXPECT, "NAMESPACE",
		    "* NAMESPACE ((\"Bo&AO4-te.\" \".\")) NIL NIL\r\n"
		    "$T OK done\r\n" },
		LOGOUT),
	    op_namespace, { 0 }, NULL, 0, SRC_FNONE,
	    "ns1 \"Bo\xc3\xaete.\" ." },
	{ "op_namespace_bad_utf7_prefix",
	    STEPS(HEAD("NAMESPACE"),
		{ S_EXPECT, "NAMESPACE",
		    "* NAMESPACE ((\"Bo&AO4te.\" \".\")) NIL NIL\r\n"
		    "$T OK done\r\n" },
		LOGOUT),
	    op_namespace, { 0 }, NULL, 0, SRC_FNONE, "ns0 \"\" ." },
	/* No NAMESPACE capability: no command, nothing known. */
	{ "op_namespace_not_offered", STEPS(HEAD("IDLE"), LOGOUT), op_namespace,
	    { 0 }, NULL, 0, SRC_FNONE, "ns0 \"\" 0" },
	{ "op_namespace_bad_grammar",
	    STEPS(HEAD("NAMESPACE"),
		{ S_EXPECT, "NAMESPACE",
		    "* NAMESPACE ((INBOX \".\")) NIL NIL\r\n$T OK done\r\n" }),
	    op_namespace, { 0 }, NULL, -1, SRC_FDATA, "ns0 \"\" 0" },
	/* QRESYNC: ENABLE goes out with the EXAMINE (the server answers
	 * neither before it has both), once per session; the changes
	 * come during the EXAMINE. Then a stale UIDVALIDITY: nothing. */
	{ "op_sync_qresync",
	    STEPS(HEAD(QR_CAPS), { S_EXPECT, "ENABLE QRESYNC", NULL },
		{ S_EXPECT, "EXAMINE \"INBOX\" (QRESYNC (7 100))",
		    "* ENABLED QRESYNC\r\nA2 OK enabled\r\n"
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
		    "* OK [UIDNEXT 20] x\r\n* OK [HIGHESTMODSEQ 120] x\r\n"
		    "* VANISHED (EARLIER) 3:4,9\r\n"
		    "* 2 FETCH (UID 5 FLAGS (\\Seen \\Flagged) "
		    "MODSEQ (110))\r\n"
		    "* 3 FETCH (FLAGS (\\Seen) UID 12 MODSEQ (111))\r\n"
		    "$T OK [READ-ONLY] done\r\n" },
		{ S_EXPECT, "EXAMINE \"INBOX\" (QRESYNC (8 100))",
		    "* OK [CLOSED] x\r\n* 3 EXISTS\r\n"
		    "* OK [UIDVALIDITY 7] x\r\n* OK [HIGHESTMODSEQ 120] x\r\n"
		    "$T OK [READ-ONLY] done\r\n" },
		LOGOUT),
	    op_sync_twice, { 7, 100, 5, 19 }, NULL, 0, SRC_FNONE,
	    "v3-4 v9-9 f5=5 f12=1 D uv7 ms120 n3 c11 V uv7 ms120 n3 c11" },
	/* QRESYNC on a first sync: enabled (HIGHESTMODSEQ to keep), no
	 * parameters, nothing to report; a folder that is not INBOX is
	 * listed for its delimiter as select does. */
	{ "op_sync_qresync_first",
	    STEPS(HEAD(QR_CAPS),
		{ S_EXPECT, "LIST \"\" \"Lists/dev\"",
		    "* LIST () \"/\" Lists/dev\r\n$T OK x\r\n" },
		{ S_EXPECT, "ENABLE QRESYNC", NULL },
		{ S_EXPECT, "EXAMINE \"Lists/dev\"",
		    "* ENABLED QRESYNC\r\nA3 OK enabled\r\n"
		    "* 2 EXISTS\r\n* OK [UIDVALIDITY 9] x\r\n"
		    "* OK [HIGHESTMODSEQ 4] x\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 0 }, "Lists/dev", 0, SRC_FNONE, "V uv9 ms4 n2 c11" },
	{ "op_sync_qresync_not_enabled",
	    STEPS(HEAD(QR_CAPS), { S_EXPECT, "ENABLE QRESYNC", NULL },
		{ S_EXPECT, "EXAMINE \"INBOX\" (QRESYNC (7 100))",
		    "A2 OK nothing enabled\r\n$T BAD no QRESYNC\r\n" }),
	    op_sync, { 7, 100, 0, 0 }, NULL, -1, SRC_FPROTO, "" },
	{ "op_sync_qresync_bad_vanished",
	    STEPS(HEAD(QR_CAPS), { S_EXPECT, "ENABLE QRESYNC", NULL },
		{ S_EXPECT, "EXAMINE \"INBOX\" (QRESYNC (7 100))",
		    "* ENABLED QRESYNC\r\nA2 OK enabled\r\n"
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
		    "* VANISHED (EARLIER) 3:x\r\n$T OK done\r\n" }),
	    op_sync, { 7, 100, 0, 0 }, NULL, -1, SRC_FDATA, "" },
	{ "op_sync_qresync_bad_fetch",
	    STEPS(HEAD(QR_CAPS), { S_EXPECT, "ENABLE QRESYNC", NULL },
		{ S_EXPECT, "EXAMINE \"INBOX\" (QRESYNC (7 100))",
		    "* ENABLED QRESYNC\r\nA2 OK enabled\r\n"
		    "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
		    "* 1 FETCH (UID 4 MODSEQ 9)\r\n$T OK done\r\n" }),
	    op_sync, { 7, 100, 0, 0 }, NULL, -1, SRC_FDATA, "" },
	/* CONDSTORE alone: flags CHANGEDSINCE, and with UIDNEXT moved the
	 * UIDs (ESEARCH), whose gaps are gone up to UIDNEXT - 1. */
	{ "op_sync_changedsince_esearch",
	    STEPS(HEAD("CONDSTORE ESEARCH"),
		EXAMINE_CS("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [UIDNEXT 12] x\r\n"
			   "* OK [HIGHESTMODSEQ 130] x\r\n$T OK done\r\n"),
		{ S_EXPECT, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 100)",
		    "* 1 FETCH (UID 2 FLAGS () MODSEQ (120))\r\n"
		    "$T OK done\r\n" },
		{ S_EXPECT, "UID SEARCH RETURN (ALL) 1:3",
		    "* ESEARCH (TAG \"A4\") UID ALL 2,5:6\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 7, 100, 3, 10 }, NULL, 0, SRC_FNONE,
	    "f2=0 v1-1 v3-4 v7-11 D uv7 ms130 n3 c10" },
	{ "op_sync_changedsince_search",
	    STEPS(HEAD("CONDSTORE"),
		EXAMINE_CS("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [UIDNEXT 9] x\r\n"
			   "* OK [HIGHESTMODSEQ 100] x\r\n$T OK done\r\n"),
		{ S_EXPECT, "UID SEARCH 1:2",
		    "* SEARCH 3 8\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 7, 100, 4, 9 }, NULL, 0, SRC_FNONE,
	    "v1-2 v4-7 D uv7 ms100 n2 c10" },
	/* Nothing changed: no command after the EXAMINE, then the listing
	 * of what is new as a poll makes it. */
	{ "op_sync_changedsince_unchanged",
	    STEPS(HEAD("CONDSTORE"),
		EXAMINE_CS("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [UIDNEXT 9] x\r\n"
			   "* OK [HIGHESTMODSEQ 100] x\r\n$T OK done\r\n"),
		{ S_EXPECT,
		    "UID FETCH 9:* (UID RFC822.SIZE FLAGS INTERNALDATE)",
		    "* 2 FETCH (UID 8 RFC822.SIZE 3)\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync_list, { 7, 100, 2, 9 }, NULL, 0, SRC_FNONE,
	    "D uv7 ms100 n2 c10 l8" },
	{ "op_sync_changedsince_emptied",
	    STEPS(HEAD("CONDSTORE"),
		EXAMINE_CS("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [UIDNEXT 9] x\r\n"
			   "* OK [HIGHESTMODSEQ 104] x\r\n$T OK done\r\n"),
		LOGOUT),
	    op_sync, { 7, 100, 2, 9 }, NULL, 0, SRC_FNONE,
	    "v1-8 D uv7 ms104 n0 c10" },
	{ "op_sync_search_out_of_order",
	    STEPS(HEAD("CONDSTORE"),
		EXAMINE_CS("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [UIDNEXT 9] x\r\n"
			   "* OK [HIGHESTMODSEQ 100] x\r\n$T OK done\r\n"),
		{ S_EXPECT, "UID SEARCH 1:2",
		    "* SEARCH 8 3\r\n$T OK done\r\n" }),
	    op_sync, { 7, 100, 3, 9 }, NULL, -1, SRC_FDATA, "v1-7" },
	/* NOMODSEQ: the flags whole. */
	{ "op_sync_nomodseq",
	    STEPS(HEAD("CONDSTORE"),
		EXAMINE_CS("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [NOMODSEQ] x\r\n$T OK done\r\n"),
		{ S_EXPECT, "UID FETCH 1:* (FLAGS)",
		    "* 1 FETCH (UID 3 FLAGS (\\Draft))\r\n"
		    "* 2 FETCH (UID 8 FLAGS (\\Deleted \\Answered))\r\n"
		    "$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 7, 100, 2, 9 }, NULL, 0, SRC_FNONE,
	    "f3=8 f8=12 W uv7 ms0 n2 c10" },
	/* Neither CONDSTORE nor QRESYNC (GNU Mailutils): the flags whole,
	 * a plain EXAMINE as select sends. */
	{ "op_sync_whole",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n$T OK done\r\n" },
		{ S_EXPECT, "UID FETCH 1:* (FLAGS)",
		    "* 1 FETCH (UID 3 FLAGS (\\Seen))\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 7, 0, 2, 9 }, NULL, 0, SRC_FNONE,
	    "f3=1 W uv7 ms0 n1 c00" },
	{ "op_sync_whole_empty",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 7, 0, 2, 9 }, NULL, 0, SRC_FNONE, "W uv7 ms0 n0 c00" },
	{ "op_sync_whole_stale",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 1 EXISTS\r\n* OK [UIDVALIDITY 8] x\r\n$T OK done\r\n" },
		LOGOUT),
	    op_sync, { 7, 0, 2, 9 }, NULL, 0, SRC_FNONE, "V uv8 ms0 n1 c00" },
	{ "op_sync_whole_bad_fetch",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"",
		    "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n$T OK done\r\n" },
		{ S_EXPECT, "UID FETCH 1:* (FLAGS)",
		    "* 1 FETCH (UID 3 FLAGS (\\Seen)\r\n$T OK done\r\n" }),
	    op_sync, { 7, 0, 2, 9 }, NULL, -1, SRC_FDATA, "" },
	{ "op_sync_bad_highestmodseq",
	    STEPS(HEAD("CONDSTORE"),
		EXAMINE_CS("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
			   "* OK [HIGHESTMODSEQ 0] x\r\n$T OK done\r\n")),
	    op_sync, { 7, 100, 2, 9 }, NULL, -1, SRC_FDATA, "" },
	{ "op_sync_missing_folder",
	    STEPS(HEAD("IDLE"),
		{ S_EXPECT, "EXAMINE \"INBOX\"", "$T NO no such\r\n" }, LOGOUT),
	    op_sync, { 7, 0, 2, 9 }, NULL, -1, SRC_FREFUSED, "" },
};

static void
t_op(const void *arg)
{
	const struct opcase *c = arg;
	struct evbuf e = { "", 0 };
	struct sess s;
	int rv;

	CHECK(sess_open(&s, c->steps, NULL) == 0);
	rv = c->op(s.src, c, &e);
	CHECK(rv == c->rv);
	if (rv == -1) {
		CHECK(s.src->fail == c->fail);
		if (s.src->fail != c->fail)
			fprintf(stderr, "%s: %s\n", c->name, s.src->err);
	}
	CHECK_STR(e.s, c->want);
	if (rv == 0 || c->fail == SRC_FREFUSED)
		CHECK(s.src->ops->quit(s.src) == 0);
	sess_end(&s);
	CHECK(s.status == 0);
	if (s.status != 0)
		fprintf(stderr, "%s: server log:\n%s\n", c->name, s.log);
	free(s.log);
}

/*
 * Opening a session: each case's script, the config tweak, and what
 * open must do; then quit when asked, and the checks on the trace and
 * on what the server received.
 */
struct opencase {
	const char *name;
	const struct step *steps;
	void (*tweak)(struct source_cfg *);
	int rv; /* of open */
	enum src_fail fail; /* when rv is -1 */
	const char *err; /* src->err; "~..." a part of it; NULL: any */
	const char *mech; /* src->mech when rv is 0; NULL: any */
	const char *caps; /* src->caps; NULL: any */
	int quit; /* call quit after a successful open */
	int tls; /* conn_is_tls must say 1 */
	const char *trace_has[2]; /* in the trace */
	const char *trace_not[2]; /* not in the trace */
	const char *log_has; /* in what the server received */
	const char *log_not[2]; /* not in it */
};

#define EOF_STEP                                                               \
	{                                                                      \
		S_EOF, NULL, NULL                                              \
	}

static const struct opencase opencases[] = {
	{ "e2e_plaintext_refused", STEPS({ S_SEND, GREET, NULL }, EOF_STEP),
	    no_plaintext, -1, SRC_FCONFIG, "~allow_plaintext", NULL, NULL, 0, 0,
	    { NULL }, { NULL }, NULL, { "LOGIN", PW } },
	{ "e2e_starttls_not_offered",
	    STEPS({ S_SEND, "* OK hi\r\n", NULL },
		{ S_EXPECT, "CAPABILITY",
		    "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n"
		    "$T OK done\r\n" },
		EOF_STEP),
	    starttls_mode, -1, SRC_FPROTO, "server does not offer STARTTLS",
	    NULL, NULL, 0, 0, { NULL }, { NULL }, NULL,
	    { "AUTHENTICATE", "LOGIN" } },
	{ "e2e_starttls_preauth",
	    STEPS({ S_SEND, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n",
		      NULL },
		EOF_STEP),
	    starttls_mode, -1, SRC_FPROTO, "~PREAUTH", NULL, NULL, 0, 0,
	    { NULL }, { NULL }, NULL, { NULL } },
	{ "e2e_preauth",
	    STEPS({ S_SEND, "* PREAUTH [CAPABILITY IMAP4rev1] welcome\r\n",
		      NULL },
		LOGOUT),
	    no_plaintext, 0, SRC_FNONE, NULL, "PREAUTH", NULL, 1, 0, { NULL },
	    { NULL }, NULL, { NULL } },
	{ "e2e_greeting_bye",
	    STEPS({ S_SEND, "* BYE too many connections\r\n", NULL }, EOF_STEP),
	    NULL, -1, SRC_FPROTO, "~too many connections", NULL, NULL, 0, 0,
	    { NULL }, { NULL }, NULL, { NULL } },
	{ "e2e_greeting_garbage",
	    STEPS({ S_SEND, "+OK POP3 server ready\r\n", NULL }, EOF_STEP),
	    NULL, -1, SRC_FPROTO, "~POP3 server ready", NULL, NULL, 0, 0,
	    { NULL }, { NULL }, NULL, { NULL } },
	{ "e2e_logindisabled",
	    STEPS({ S_SEND, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n",
		      NULL },
		EOF_STEP),
	    NULL, -1, SRC_FPROTO, "~server disables LOGIN", NULL, NULL, 0, 0,
	    { NULL }, { NULL }, NULL, { NULL } },
	/* A password with a quote goes as a literal; without LITERAL+ the
	 * client waits for "+", and the trace shows neither it nor its
	 * length. */
	{ "e2e_login_literal_sync",
	    STEPS({ S_SEND, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
		      NULL },
		{ S_EXPECT, "LOGIN \"user\" {7}", "+ go ahead\r\n" },
		{ S_RAW, "pa\"ss\\w", "$T OK [CAPABILITY IMAP4rev1] done\r\n" },
		{ S_CLOSE, NULL, NULL }),
	    weird_password, 0, SRC_FNONE, NULL, "LOGIN", NULL, 0, 0,
	    { "> A1 LOGIN \"user\" <redacted>\n" }, { "{7}", "pa\"ss" }, NULL,
	    { NULL } },
	/* The capabilities after login replace those before. */
	{ "e2e_login_literal_plus",
	    STEPS({ S_SEND, GREET, NULL },
		{ S_EXPECT, "LOGIN \"user\" {7+}", NULL },
		{ S_RAW, "pa\"ss\\w", "$T OK done\r\n" },
		{ S_EXPECT, "CAPABILITY",
		    "* CAPABILITY IMAP4rev1 UIDPLUS\r\n$T OK done\r\n" },
		{ S_CLOSE, NULL, NULL }),
	    weird_password, 0, SRC_FNONE, NULL, NULL, "IMAP4rev1 UIDPLUS", 0, 0,
	    { NULL }, { NULL }, NULL, { NULL } },
	/* Refused before "+": the rest of the command, the password with
	 * it, is never sent. */
	{ "e2e_login_literal_refused",
	    STEPS({ S_SEND, "* OK [CAPABILITY IMAP4rev1] hi\r\n", NULL },
		{ S_EXPECT, "LOGIN {5}", "$T NO go away\r\n" }, EOF_STEP),
	    weird_both, -1, SRC_FAUTH, "authentication failed: \"go away\"",
	    NULL, NULL, 0, 0, { "> A1 LOGIN {5}\n> [literal 5 bytes]\n" },
	    { NULL }, NULL, { NULL } },
	{ "e2e_auth_plain_ir",
	    STEPS({ S_SEND,
		      "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN "
		      "AUTH=CRAM-MD5] hi\r\n",
		      NULL },
		{ S_EXPECT, "AUTHENTICATE PLAIN AHVzZXIAczNjcjN0LXB3",
		    "$T OK [CAPABILITY IMAP4rev1 IDLE] done\r\n" },
		{ S_CLOSE, NULL, NULL }),
	    NULL, 0, SRC_FNONE, NULL, "PLAIN", NULL, 0, 0,
	    { "> A1 AUTHENTICATE PLAIN <redacted>\n" }, { "AHVz" }, NULL,
	    { NULL } },
	{ "e2e_auth_plain_no_ir",
	    STEPS({ S_SEND, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
		      NULL },
		{ S_EXPECT, "AUTHENTICATE PLAIN", "+ \r\n" },
		{ S_RAW, "AHVzZXIAczNjcjN0LXB3",
		    "* CAPABILITY IMAP4rev1 X\r\n$T OK done\r\n" },
		{ S_CLOSE, NULL, NULL }),
	    NULL, 0, SRC_FNONE, NULL, "PLAIN", "IMAP4rev1 X", 0, 0,
	    { "> <redacted>\n" }, { NULL }, NULL, { NULL } },
	{ "e2e_auth_plain_no",
	    STEPS({ S_SEND,
		      "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n",
		      NULL },
		{ S_EXPECT, "AUTHENTICATE PLAIN *",
		    "$T NO [AUTHENTICATIONFAILED] nope\r\n" },
		EOF_STEP),
	    NULL, -1, SRC_FAUTH, "authentication failed: \"nope\"", NULL, NULL,
	    0, 0, { NULL }, { NULL }, NULL, { NULL } },
	{ "e2e_auth_not_offered", STEPS({ S_SEND, GREET, NULL }, EOF_STEP),
	    want_cram, -1, SRC_FPROTO, "~AUTH=CRAM-MD5", NULL, NULL, 0, 0,
	    { NULL }, { NULL }, NULL, { NULL } },
	{ "e2e_auth_pop3_only", STEPS({ S_SEND, GREET, NULL }, EOF_STEP),
	    want_pop3_user, -1, SRC_FCONFIG, NULL, NULL, NULL, 0, 0, { NULL },
	    { NULL }, NULL, { NULL } },
	{ "e2e_quit_close_after_bye",
	    STEPS({ S_SEND, GREET, NULL }, LOGIN_OK,
		{ S_EXPECT, "LOGOUT", "* BYE see you\r\n" },
		{ S_CLOSE, NULL, NULL }),
	    NULL, 0, SRC_FNONE, NULL, NULL, NULL, 1, 0, { NULL }, { NULL },
	    NULL, { NULL } },
	/* STARTTLS: the capabilities from before TLS (here LOGINDISABLED,
	 * no AUTH=PLAIN) are forgotten, CAPABILITY is asked again, and
	 * credentials go over TLS without allow_plaintext. */
	{ "e2e_starttls_ok",
	    STEPS({ S_SEND,
		      "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] "
		      "hi\r\n",
		      NULL },
		{ S_EXPECT, "STARTTLS", "$T OK begin TLS\r\n" },
		{ S_TLS, NULL, NULL },
		{ S_EXPECT, "CAPABILITY",
		    "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\n"
		    "$T OK done\r\n" },
		{ S_EXPECT, "AUTHENTICATE PLAIN AHVzZXIAczNjcjN0LXB3",
		    "$T OK [CAPABILITY IMAP4rev1 IDLE] in\r\n" },
		LOGOUT),
	    starttls_noverify, 0, SRC_FNONE, NULL, "PLAIN", "IMAP4rev1 IDLE", 1,
	    1, { NULL }, { NULL }, "TLSUP\nA2 CAPABILITY\n", { NULL } },
	/* Bytes after the STARTTLS OK, before the handshake, are a
	 * plaintext injection (CVE-2011-0411 and its kind): refused. */
	{ "e2e_starttls_injection",
	    STEPS(
		{ S_SEND, "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", NULL },
		{ S_EXPECT, "STARTTLS",
		    "$T OK begin TLS\r\n* CAPABILITY IMAP4rev1 "
		    "AUTH=PLAIN\r\n" },
		{ S_TLS, NULL, NULL }, EOF_STEP),
	    starttls_noverify, -1, SRC_FPROTO, NULL, NULL, NULL, 0, 0, { NULL },
	    { NULL }, NULL, { "AUTHENTICATE", "LOGIN" } },
	/* SCRAM's first message goes out before the greeting (auth =
	 * auto): refused, it is withdrawn, and LOGIN follows. */
	{ "e2e_implicit_tls",
	    STEPS({ S_TLS, NULL, NULL }, { S_SEND, GREET, NULL },
		{ S_EXPECT, "AUTHENTICATE SCRAM-SHA-256 *",
		    "$T NO no such mechanism\r\n" },
		LOGIN_OK, LOGOUT),
	    implicit_noverify, 0, SRC_FNONE, NULL, "LOGIN", NULL, 1, 1,
	    { NULL }, { NULL }, NULL, { NULL } },
};

static void
t_open(const void *arg)
{
	const struct opencase *c = arg;
	struct sess s;
	size_t i;
	int rv;

	rv = sess_open(&s, c->steps, c->tweak);
	CHECK(rv == c->rv);
	if (rv == -1)
		CHECK(s.src->fail == c->fail);
	if (c->err != NULL && c->err[0] == '~')
		CHECK(strstr(s.src->err, c->err + 1) != NULL);
	else if (c->err != NULL)
		CHECK_STR(s.src->err, c->err);
	if (c->mech != NULL)
		CHECK_STR(s.src->mech, c->mech);
	if (c->caps != NULL)
		CHECK_STR(s.src->caps, c->caps);
	if (c->tls)
		CHECK(conn_is_tls(s.src->conn) == 1);
	if (rv == 0 && c->quit)
		CHECK(s.src->ops->quit(s.src) == 0);
	sess_end(&s);
	CHECK(s.status == 0);
	CHECK(strstr(s.tr.s, PW) == NULL);
	for (i = 0; i < 2; i++) {
		if (c->trace_has[i] != NULL)
			CHECK(strstr(s.tr.s, c->trace_has[i]) != NULL);
		if (c->trace_not[i] != NULL)
			CHECK(strstr(s.tr.s, c->trace_not[i]) == NULL);
		if (c->log_not[i] != NULL)
			CHECK(strstr(s.log, c->log_not[i]) == NULL);
	}
	if (c->log_has != NULL)
		CHECK(strstr(s.log, c->log_has) != NULL);
	free(s.log);
}

#define RUN_TABLE(tab, fn)                                                     \
	do {                                                                   \
		size_t t_i;                                                    \
		for (t_i = 0; t_i < NELEM(tab); t_i++)                         \
			T_RUN((tab)[t_i].name, fn, &(tab)[t_i]);               \
	} while (0)

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (make_cert(&testcert) == -1) {
		fprintf(stderr, "cannot make a test certificate\n");
		return 1;
	}

	RUN_TABLE(lexcases, t_lex);
	T_RUN("lex_skip", t_lex_skip, NULL);
	T_RUN("unquote", t_unquote, NULL);
	RUN_TABLE(respcases, t_resp);
	T_RUN("code_is", t_code_is, NULL);
	RUN_TABLE(litcases, t_litend);
	RUN_TABLE(fetchcases, t_fetch);
	RUN_TABLE(pendcases, t_pending);
	RUN_TABLE(listcases, t_list);
	RUN_TABLE(datecases, t_date);
	T_RUN("uidset", t_uidset, NULL);
	RUN_TABLE(utf7cases, t_utf7);
	RUN_TABLE(utf7bad, t_utf7_bad);
	RUN_TABLE(utf8bad, t_utf8_bad);
	RUN_TABLE(crlfcases, t_crlf);

	T_RUN("e2e_session", t_e2e_session, NULL);
	T_RUN("e2e_unsolicited", t_e2e_unsolicited, NULL);
	RUN_TABLE(opencases, t_open);
	RUN_TABLE(authfails, t_e2e_login_fail);
	RUN_TABLE(scramcases, t_e2e_scram);
	T_RUN("e2e_first_folder_pipelined", t_e2e_first_folder_pipelined, NULL);
	RUN_TABLE(midcases, t_e2e_mid);
	T_RUN("e2e_fetch_odd_bodies", t_e2e_fetch_odd_bodies, NULL);
	T_RUN("e2e_pipelined_batches", t_e2e_pipelined_batches, NULL);
	RUN_TABLE(relistcases, t_e2e_relist);
	T_RUN("e2e_relist_batches", t_e2e_relist_batches, NULL);
	T_RUN("e2e_big_body", t_e2e_big_body, NULL);
	T_RUN("e2e_folders", t_e2e_folders, NULL);
	T_RUN("e2e_long_line", t_e2e_long_line, NULL);
	T_RUN("e2e_refused_port", t_e2e_refused_port, NULL);
	RUN_TABLE(canoncases, t_canon);
	RUN_TABLE(mbxcases, t_mbx);
	RUN_TABLE(nscases, t_ns);
	RUN_TABLE(stcases, t_st);
	RUN_TABLE(setcases, t_set);
	RUN_TABLE(vancases, t_van);
	RUN_TABLE(escases, t_es);
	T_RUN("fetch_modseq", t_fetch_modseq, NULL);
	RUN_TABLE(opcases, t_op);
	free(testcert.cert);
	free(testcert.key);
	return T_DONE();
}
