/*
 * Unit tests for proto/smtp.c: the reply line grammar (RFC 5321 section
 * 4.2), multi-line replies and their bounds, the EHLO keywords the
 * client uses (STARTTLS, AUTH and its mechanisms), and that a session
 * refuses the mail operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/sasl.h"
#include "../../proto/smtp.h"
#include "t.h"

#define BIT(m) (1u << (m))

struct linecase {
	const char *name;
	const char *line;
	int ok;
	int code;
	int more;
	const char *text;
};

static const struct linecase linecases[] = {
	{ "line: last", "250 OK", 1, 250, 0, "OK" },
	{ "line: continued", "250-PIPELINING", 1, 250, 1, "PIPELINING" },
	{ "line: code alone", "220", 1, 220, 0, "" },
	{ "line: code and space", "250 ", 1, 250, 0, "" },
	{ "line: code and dash", "250-", 1, 250, 1, "" },
	{ "line: text kept whole", "535 5.7.8 Authentication failed", 1, 535, 0,
	    "5.7.8 Authentication failed" },
	{ "line: highest code", "559 x", 1, 559, 0, "x" },
	{ "line: lowest code", "200 x", 1, 200, 0, "x" },
	{ "line: 334 challenge", "334 VXNlcm5hbWU6", 1, 334, 0,
	    "VXNlcm5hbWU6" },
	{ "line: first digit 1", "199 x", 0, 0, 0, NULL },
	{ "line: first digit 6", "600 x", 0, 0, 0, NULL },
	{ "line: second digit 6", "260 x", 0, 0, 0, NULL },
	{ "line: letter in code", "2a0 x", 0, 0, 0, NULL },
	{ "line: two digits", "25", 0, 0, 0, NULL },
	{ "line: empty", "", 0, 0, 0, NULL },
	{ "line: no separator", "250OK", 0, 0, 0, NULL },
	{ "line: tab separator", "250\tOK", 0, 0, 0, NULL },
	{ "line: four digits", "2500 OK", 0, 0, 0, NULL },
	{ "line: IMAP greeting", "* OK IMAP4rev1 ready", 0, 0, 0, NULL },
	{ "line: POP3 greeting", "+OK POP3 ready", 0, 0, 0, NULL },
};

static void
t_line(const void *arg)
{
	const struct linecase *c = arg;
	const char *text = NULL;
	size_t tl = 0;
	int code = -1, more = -1, rc;
	char buf[128];

	rc = smtp_parse_line(
	    c->line, strlen(c->line), &code, &more, &text, &tl);
	if (!c->ok) {
		CHECK(rc == -1);
		return;
	}
	CHECK(rc == 0);
	if (rc != 0)
		return;
	CHECK(code == c->code);
	CHECK(more == c->more);
	CHECK(tl < sizeof(buf));
	memcpy(buf, text, tl);
	buf[tl] = '\0';
	CHECK_STR(buf, c->text);
	CHECK(text >= c->line && text + tl == c->line + strlen(c->line));
}

/* Feed lines; the result of each is checked. */
struct feedcase {
	const char *name;
	const char *lines[6];
	int want[6];
	int code; /* r.code at the end */
	size_t nlines;
	const char *first;
};

static const struct feedcase feedcases[] = {
	{ "reply: one line", { "220 mx ESMTP ready" }, { SMTP_RDONE }, 220, 1,
	    "220 mx ESMTP ready" },
	{ "reply: EHLO listing",
	    { "250-mx.example.org", "250-STARTTLS", "250-AUTH PLAIN",
		"250 PIPELINING" },
	    { SMTP_RMORE, SMTP_RMORE, SMTP_RMORE, SMTP_RDONE }, 250, 4,
	    "250-mx.example.org" },
	{ "reply: multi-line error",
	    { "535-5.7.8 Username and Password not accepted.",
		"535 5.7.8 Learn more" },
	    { SMTP_RMORE, SMTP_RDONE }, 535, 2,
	    "535-5.7.8 Username and Password not accepted." },
	{ "reply: code changes", { "250-a", "251 b" },
	    { SMTP_RMORE, SMTP_RBAD }, 250, 1, "250-a" },
	{ "reply: garbage inside", { "250-a", "250-b", "hello" },
	    { SMTP_RMORE, SMTP_RMORE, SMTP_RBAD }, 250, 2, "250-a" },
	{ "reply: garbage first", { "* OK IMAP" }, { SMTP_RBAD }, 0, 0,
	    "* OK IMAP" },
	{ "reply: control characters quoted", { "421 bye\x01\x7f" },
	    { SMTP_RDONE }, 421, 1, "421 bye??" },
};

static void
t_feed(const void *arg)
{
	const struct feedcase *c = arg;
	struct smtp_reply r;
	size_t i;

	smtp_reply_init(&r);
	CHECK(r.code == 0 && r.nlines == 0);
	for (i = 0; i < 6 && c->lines[i] != NULL; i++)
		CHECK(smtp_reply_feed(&r, c->lines[i], strlen(c->lines[i]))
		    == c->want[i]);
	CHECK(r.code == c->code);
	CHECK(r.nlines == c->nlines);
	CHECK_STR(r.first, c->first);
}

/* SMTP_MAXLINES lines make a reply; one more is refused. */
static void
t_feed_bound(const void *arg)
{
	struct smtp_reply r;
	size_t i;
	int rc = SMTP_RMORE;

	(void)arg;
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_MAXLINES - 1; i++)
		if ((rc = smtp_reply_feed(&r, "250-x", 5)) != SMTP_RMORE)
			break;
	CHECK(rc == SMTP_RMORE);
	CHECK(smtp_reply_feed(&r, "250 last", 8) == SMTP_RDONE);
	CHECK(r.nlines == SMTP_MAXLINES);

	smtp_reply_init(&r);
	for (i = 0; i < SMTP_MAXLINES; i++)
		if ((rc = smtp_reply_feed(&r, "250-x", 5)) != SMTP_RMORE)
			break;
	CHECK(rc == SMTP_RMORE);
	CHECK(smtp_reply_feed(&r, "250 last", 8) == SMTP_RLONG);
}

/* A long first line is cut for messages, not refused. */
static void
t_feed_long_first(const void *arg)
{
	char line[SMTP_QUOTE * 2 + 1];
	struct smtp_reply r;

	(void)arg;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "554 ", 4);
	smtp_reply_init(&r);
	CHECK(smtp_reply_feed(&r, line, strlen(line)) == SMTP_RDONE);
	CHECK(r.code == 554);
	CHECK(strlen(r.first) == SMTP_QUOTE);
	CHECK(strncmp(r.first, line, SMTP_QUOTE) == 0);
}

struct ehlocase {
	const char *name;
	const char *text;
	unsigned mechs_in;
	unsigned ext;
	unsigned mechs;
};

static const struct ehlocase ehlocases[] = {
	{ "ehlo: STARTTLS", "STARTTLS", 0, SMTP_EXT_STARTTLS, 0 },
	{ "ehlo: starttls in lower case", "starttls", 0, SMTP_EXT_STARTTLS, 0 },
	{ "ehlo: STARTTLSX is another keyword", "STARTTLSX", 0, 0, 0 },
	{ "ehlo: AUTH mechanisms", "AUTH PLAIN LOGIN SCRAM-SHA-256", 0,
	    SMTP_EXT_AUTH,
	    BIT(SRC_AUTH_PLAIN) | BIT(SRC_AUTH_LOGIN)
		| BIT(SRC_AUTH_SCRAM_SHA_256) },
	{ "ehlo: AUTH= form", "AUTH=LOGIN PLAIN", 0, SMTP_EXT_AUTH,
	    BIT(SRC_AUTH_LOGIN) | BIT(SRC_AUTH_PLAIN) },
	{ "ehlo: auth in lower case, unknown skipped",
	    "auth scram-sha-1 GSSAPI cram-md5", 0, SMTP_EXT_AUTH,
	    BIT(SRC_AUTH_SCRAM_SHA_1) | BIT(SRC_AUTH_CRAM_MD5) },
	{ "ehlo: AUTH with extra spaces", "AUTH  XOAUTH2   OAUTHBEARER ", 0,
	    SMTP_EXT_AUTH, BIT(SRC_AUTH_XOAUTH2) | BIT(SRC_AUTH_OAUTHBEARER) },
	{ "ehlo: AUTH alone", "AUTH", 0, SMTP_EXT_AUTH, 0 },
	{ "ehlo: -PLUS is another mechanism", "AUTH SCRAM-SHA-256-PLUS", 0,
	    SMTP_EXT_AUTH, 0 },
	{ "ehlo: mechanisms add up", "AUTH PLAIN", BIT(SRC_AUTH_LOGIN),
	    SMTP_EXT_AUTH, BIT(SRC_AUTH_LOGIN) | BIT(SRC_AUTH_PLAIN) },
	{ "ehlo: AUTHX is another keyword", "AUTHX PLAIN", 0, 0, 0 },
	{ "ehlo: SIZE", "SIZE 10240000", 0, 0, 0 },
	{ "ehlo: empty", "", 0, 0, 0 },
};

static void
t_ehlo(const void *arg)
{
	const struct ehlocase *c = arg;
	unsigned mechs = c->mechs_in;

	CHECK(smtp_ehlo_line(c->text, strlen(c->text), &mechs) == c->ext);
	CHECK(mechs == c->mechs);
}

/* The session is no mail source: it has no mail operations, and auth
 * and quit before open say so. */
static void
t_notmail(const void *arg)
{
	struct source_cfg cfg;
	struct source *src;

	(void)arg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = "127.0.0.1";
	cfg.port = "1";
	src = smtp_new(&cfg);
	CHECK(src != NULL && !src_has_conn(src));
	CHECK(src->ops->select == NULL && src->ops->list == NULL
	    && src->ops->sizes == NULL && src->ops->fetch == NULL
	    && src->ops->mark == NULL && src->ops->expunge == NULL);
	CHECK(src->ops->quit == smtp_quit && src->ops->free == smtp_free);
	CHECK(smtp_auth(src) == -1);
	CHECK(src->fail == SRC_FPROTO);
	CHECK_STR(src->err, "session not open");
	src->fail = SRC_FNONE;
	CHECK(smtp_quit(src) == -1);
	CHECK(src->fail == SRC_FPROTO);
	CHECK_STR(src->err, "session not open");
	CHECK(src_errcode(src) == CONN_OK);
	smtp_free(src);
	smtp_free(NULL);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(linecases) / sizeof(linecases[0]); i++)
		T_RUN(linecases[i].name, t_line, &linecases[i]);
	for (i = 0; i < sizeof(feedcases) / sizeof(feedcases[0]); i++)
		T_RUN(feedcases[i].name, t_feed, &feedcases[i]);
	T_RUN("reply: SMTP_MAXLINES bound", t_feed_bound, NULL);
	T_RUN("reply: long first line quoted", t_feed_long_first, NULL);
	for (i = 0; i < sizeof(ehlocases) / sizeof(ehlocases[0]); i++)
		T_RUN(ehlocases[i].name, t_ehlo, &ehlocases[i]);
	T_RUN("session: no mail operations", t_notmail, NULL);
	return T_DONE();
}
