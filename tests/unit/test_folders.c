/*
 * Unit tests for cmd/folders.c: parsing folder items, LIST pattern
 * matching (RFC 3501 section 6.3.8), and which item selects a mailbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/folders.h"
#include "t.h"

/* Parse: an item, and what it becomes (kind, exclude, utf8, bits), or
 * the start of its error. */
struct parsecase {
	const char *text;
	int ok;
	enum cfg_fkind kind;
	int exclude;
	const char *canon; /* NULL: not checked (attributes) */
	const char *utf8;
	unsigned special;
	const char *err; /* start of the error when !ok */
};

static const struct parsecase parsecases[] = {
	{ "INBOX", 1, CFG_FNAME, 0, "INBOX", "INBOX", 0, NULL },
	{ "inbox", 1, CFG_FNAME, 0, "INBOX", "INBOX", 0, NULL },
	{ "Lists/dev", 1, CFG_FNAME, 0, "Lists/dev", "Lists/dev", 0, NULL },
	{ "&ANw-ber", 1, CFG_FNAME, 0, "&ANw-ber",
	    "\xc3\x9c"
	    "ber",
	    0, NULL },
	{ "\xc3\x9c"
	  "ber",
	    1, CFG_FNAME, 0, "&ANw-ber",
	    "\xc3\x9c"
	    "ber",
	    0, NULL },
	{ "*", 1, CFG_FPATTERN, 0, "*", "*", 0, NULL },
	{ "Lists/%", 1, CFG_FPATTERN, 0, "Lists/%", "Lists/%", 0, NULL },
	{ "!Trash", 1, CFG_FNAME, 1, "Trash", "Trash", 0, NULL },
	{ "! Trash", 1, CFG_FNAME, 1, "Trash", "Trash", 0, NULL },
	{ "!\\All", 1, CFG_FSPECIAL, 1, NULL, NULL, CFG_SU_ALL, NULL },
	{ "\\archive", 1, CFG_FSPECIAL, 0, NULL, NULL, CFG_SU_ARCHIVE, NULL },
	{ "\\Drafts", 1, CFG_FSPECIAL, 0, NULL, NULL, CFG_SU_DRAFTS, NULL },
	{ "\\Flagged", 1, CFG_FSPECIAL, 0, NULL, NULL, CFG_SU_FLAGGED, NULL },
	{ "\\JUNK", 1, CFG_FSPECIAL, 0, NULL, NULL, CFG_SU_JUNK, NULL },
	{ "\\Sent", 1, CFG_FSPECIAL, 0, NULL, NULL, CFG_SU_SENT, NULL },
	{ "\\Trash", 1, CFG_FSPECIAL, 0, NULL, NULL, CFG_SU_TRASH, NULL },
	{ "!", 0, 0, 0, NULL, NULL, 0, "\"!\" alone excludes nothing" },
	{ "!  ", 0, 0, 0, NULL, NULL, 0, "\"!\" alone excludes nothing" },
	{ "\\Important", 0, 0, 0, NULL, NULL, 0,
	    "\"\\Important\" is not a special-use attribute" },
	{ "\\", 0, 0, 0, NULL, NULL, 0, "\"\\\" is not a special-use" },
	{ "bad\xff", 0, 0, 0, NULL, NULL, 0,
	    "\"bad\xff\" is neither UTF-8 nor modified UTF-7" },
	{ "!*\xc3", 0, 0, 0, NULL, NULL, 0, "\"*\xc3\" is neither UTF-8" },
};

static void
t_parse(const void *arg)
{
	const struct parsecase *c = arg;
	struct cfg_folder it;
	char msg[256] = "";
	int rc = folders_parse_item(c->text, &it, msg, sizeof(msg));

	CHECK(rc == (c->ok ? 0 : -1));
	if (!c->ok) {
		CHECK(strncmp(msg, c->err, strlen(c->err)) == 0);
		if (strncmp(msg, c->err, strlen(c->err)) != 0)
			fprintf(stderr, "got: %s\n", msg);
		return;
	}
	if (rc == -1)
		return;
	CHECK_STR(it.text, c->text);
	CHECK(it.kind == c->kind);
	CHECK(it.exclude == c->exclude);
	CHECK(it.special == c->special);
	if (c->canon != NULL) {
		CHECK_STR(it.canon, c->canon);
		CHECK_STR(it.utf8, c->utf8);
	}
	folders_item_free(&it);
}

/* Same: two items, and whether they name one thing. */
struct samecase {
	const char *a, *b;
	int same;
};

static const struct samecase samecases[] = {
	{ "INBOX", "inbox", 1 },
	{ "Sent", "sent", 0 },
	{ "&ANw-ber",
	    "\xc3\x9c"
	    "ber",
	    1 },
	{ "Trash", "!Trash", 1 },
	{ "Lists/*", "Lists/*", 1 },
	{ "Lists/*", "Lists/%", 0 },
	{ "\\Junk", "!\\junk", 1 },
	{ "\\Junk", "\\Trash", 0 },
	{ "\\Sent", "Sent", 0 },
	{ "*", "INBOX", 0 },
};

static void
t_same(const void *arg)
{
	const struct samecase *c = arg;
	struct cfg_folder a, b;
	char msg[256];

	CHECK(folders_parse_item(c->a, &a, msg, sizeof(msg)) == 0);
	CHECK(folders_parse_item(c->b, &b, msg, sizeof(msg)) == 0);
	CHECK(folders_same(&a, &b) == c->same);
	CHECK(folders_same(&b, &a) == c->same);
	folders_item_free(&a);
	folders_item_free(&b);
}

/* Match: pattern, name, delimiter, result. */
struct matchcase {
	const char *pattern, *name;
	char delim;
	int match;
};

static const struct matchcase matchcases[] = {
	{ "*", "INBOX", '/', 1 },
	{ "*", "Lists/dev/rust", '/', 1 },
	{ "%", "Lists", '/', 1 },
	{ "%", "Lists/dev", '/', 0 },
	{ "Lists/*", "Lists/dev/rust", '/', 1 },
	{ "Lists/*", "Lists", '/', 0 },
	{ "Lists*", "Lists", '/', 1 },
	{ "Lists/%", "Lists/dev", '/', 1 },
	{ "Lists/%", "Lists/dev/rust", '/', 0 },
	{ "Lists/%/rust", "Lists/dev/rust", '/', 1 },
	{ "%/%", "a/b", '/', 1 },
	{ "%/%", "a/b/c", '/', 0 },
	{ "%", "a.b", '/', 1 },
	{ "%", "a.b", '.', 0 },
	{ "%", "a/b", '\0', 1 },
	{ "a*b", "ab", '/', 1 },
	{ "a*b", "axxb/yb", '/', 1 },
	{ "a*b", "axxbc", '/', 0 },
	{ "a%b", "ax/b", '/', 0 },
	{ "**%*", "x/y", '/', 1 },
	{ "", "", '/', 1 },
	{ "", "a", '/', 0 },
	{ "Sent", "Sent", '/', 1 },
	{ "Sent", "sent", '/', 0 },
	{ "Sent", "Sent Items", '/', 0 },
	{ "inbox", "INBOX", '/', 1 },
	{ "INBOX", "inbox", '/', 1 },
	{ "inbox/*", "INBOX/Lists", '/', 1 },
	{ "inbox.%", "INBOX.Lists", '.', 1 },
	{ "inboxes", "INBOXES", '/', 0 },
	{ "\xc3\x9c*",
	    "\xc3\x9c"
	    "ber/x",
	    '/', 1 },
	{ "%r",
	    "\xc3\x9c"
	    "ber",
	    '/', 1 },
	{ "*a*a*a*a*a*a*a*a*a*a*a*a*b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", '/', 0 },
};

static void
t_match(const void *arg)
{
	const struct matchcase *c = arg;

	CHECK(folders_match(c->pattern, c->name, c->delim) == c->match);
}

/* Select: items (comma-separated), a mailbox, the index selected. */
struct selcase {
	const char *name;
	const char *items;
	const char *mailbox; /* UTF-8 */
	unsigned attrs;
	long want;
};

static const struct selcase selcases[] = {
	{ "plain name", "INBOX,Sent", "Sent", 0, 1 },
	{ "not named", "INBOX,Sent", "Drafts", 0, -1 },
	{ "first including item", "Lists/*,*", "Lists/dev", 0, 0 },
	{ "later item", "Lists/*,*", "Sent", 0, 1 },
	{ "excluded by a later item", "*,!Trash", "Trash", 0, -1 },
	{ "excluded by an earlier item", "!Trash,*", "Trash", 0, -1 },
	{ "exclusion of another", "*,!Trash", "Sent", 0, 0 },
	{ "special-use", "\\Sent", "Sent Messages", CFG_SU_SENT, 0 },
	{ "special-use not carried", "\\Sent", "Sent", 0, -1 },
	{ "excluded \\All", "*,!\\Junk,!\\All", "[Gmail]/All Mail", CFG_SU_ALL,
	    -1 },
	{ "\\All kept by others", "*,!\\Junk,!\\All", "[Gmail]/Sent Mail",
	    CFG_SU_SENT, 0 },
	{ "\\Noselect skipped", "*", "[Gmail]", FLD_NOSELECT, -1 },
	{ "\\NonExistent skipped", "Lists/*", "Lists/gone", FLD_NONEXISTENT,
	    -1 },
	{ "INBOX any case", "inbox", "INBOX", 0, 0 },
	{ "pattern in modified UTF-7", "&ANw-*",
	    "\xc3\x9c"
	    "ber",
	    0, 0 },
	{ "% stops at delimiter", "%", "Lists/dev", 0, -1 },
};

/* Parse comma-separated items (no error expected). */
static size_t
parse_items(const char *s, struct cfg_folder *it, size_t max)
{
	char buf[256], msg[256], *p = buf, *w;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	while ((w = strsep(&p, ",")) != NULL && n < max)
		CHECK(folders_parse_item(w, &it[n++], msg, sizeof(msg)) == 0);
	return n;
}

static void
t_select(const void *arg)
{
	const struct selcase *c = arg;
	struct cfg_folder it[8];
	struct fld_mailbox mb = { c->mailbox, c->mailbox, '/', c->attrs };
	size_t n = parse_items(c->items, it, 8), i;

	CHECK(folders_select(it, n, &mb) == c->want);
	for (i = 0; i < n; i++)
		folders_item_free(&it[i]);
}

/* Need a LIST, and which items are literal. */
struct listcase {
	const char *items;
	int need_list;
	const char *literal; /* '1' or '0' per item */
};

static const struct listcase listcases[] = {
	{ "INBOX", 0, "1" },
	{ "INBOX,Sent,Lists/dev", 0, "111" },
	{ "INBOX,!Sent", 0, "10" },
	{ "INBOX,Lists/*", 1, "10" },
	{ "%", 1, "0" },
	{ "INBOX,\\Sent", 1, "10" },
	{ "*,!\\All", 1, "00" },
};

static void
t_list(const void *arg)
{
	const struct listcase *c = arg;
	struct cfg_folder it[8];
	size_t n = parse_items(c->items, it, 8), i;

	CHECK(folders_need_list(it, n) == c->need_list);
	CHECK(n == strlen(c->literal));
	for (i = 0; i < n; i++) {
		CHECK(folders_literal(&it[i]) == (c->literal[i] == '1'));
		folders_item_free(&it[i]);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int
main(void)
{
	char name[128];
	size_t i;

	for (i = 0; i < N(parsecases); i++) {
		snprintf(name, sizeof(name), "parse %s", parsecases[i].text);
		T_RUN(name, t_parse, &parsecases[i]);
	}
	for (i = 0; i < N(samecases); i++) {
		snprintf(name, sizeof(name), "same %s ~ %s", samecases[i].a,
		    samecases[i].b);
		T_RUN(name, t_same, &samecases[i]);
	}
	for (i = 0; i < N(matchcases); i++) {
		snprintf(name, sizeof(name), "match %s ~ %s (%c)",
		    matchcases[i].pattern, matchcases[i].name,
		    matchcases[i].delim ? matchcases[i].delim : '0');
		T_RUN(name, t_match, &matchcases[i]);
	}
	for (i = 0; i < N(selcases); i++)
		T_RUN(selcases[i].name, t_select, &selcases[i]);
	for (i = 0; i < N(listcases); i++) {
		snprintf(name, sizeof(name), "list %s", listcases[i].items);
		T_RUN(name, t_list, &listcases[i]);
	}
	return T_DONE();
}
