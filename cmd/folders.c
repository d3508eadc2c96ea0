/*
 * Folder selection: the items of folders and the mailboxes they
 * select. See folders.h and SPEC.md "Folder selection (IMAP)".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../proto/imap.h"
#include "../tls/util.h"
#include "folders.h"

/* The special-use attributes of RFC 6154, as written in folders. */
static const struct {
	const char *name;
	unsigned bit;
} fld_special[] = {
	{ "\\All", CFG_SU_ALL },
	{ "\\Archive", CFG_SU_ARCHIVE },
	{ "\\Drafts", CFG_SU_DRAFTS },
	{ "\\Flagged", CFG_SU_FLAGGED },
	{ "\\Junk", CFG_SU_JUNK },
	{ "\\Sent", CFG_SU_SENT },
	{ "\\Trash", CFG_SU_TRASH },
};

static int
parse_special(const char *s, struct cfg_folder *it, char *msg, size_t len)
{
	char q[CFG_QUOTE + 4];
	size_t i;

	for (i = 0; i < sizeof(fld_special) / sizeof(fld_special[0]); i++) {
		if (strcasecmp(s, fld_special[i].name) == 0) {
			it->kind = CFG_FSPECIAL;
			it->special = fld_special[i].bit;
			return 0;
		}
	}
	snprintf(msg, len,
	    "\"%s\" is not a special-use attribute; write \\All, \\Archive, "
	    "\\Drafts, \\Flagged, \\Junk, \\Sent or \\Trash",
	    cfg_quote(q, s));
	return -1;
}

/* A name or pattern: its server spelling and its UTF-8 form. */
static int
parse_name(const char *s, struct cfg_folder *it, char *msg, size_t len)
{
	char q[CFG_QUOTE + 4];

	it->kind = strpbrk(s, "*%") != NULL ? CFG_FPATTERN : CFG_FNAME;
	if ((it->canon = imap_mailbox_canon(s)) == NULL
	    || (it->utf8 = imap_utf7_decode(it->canon)) == NULL) {
		snprintf(msg, len, "\"%s\" is neither UTF-8 nor modified UTF-7",
		    cfg_quote(q, s));
		return -1;
	}
	return 0;
}

int
folders_parse_item(
    const char *text, struct cfg_folder *it, char *msg, size_t len)
{
	const char *s = text;
	int rc;

	memset(it, 0, sizeof(*it));
	if (*s == '!') {
		it->exclude = 1;
		for (s++; isspace((unsigned char)*s); s++)
			;
		if (*s == '\0') {
			snprintf(msg, len,
			    "\"!\" alone excludes nothing; write a mailbox "
			    "name, a pattern or a special-use attribute after "
			    "it");
			return -1;
		}
	}
	if (*s == '\\')
		rc = parse_special(s, it, msg, len);
	else
		rc = parse_name(s, it, msg, len);
	if (rc == -1) {
		folders_item_free(it);
		return -1;
	}
	it->text = xstrdup(text);
	return 0;
}

void
folders_item_free(struct cfg_folder *it)
{
	free(it->text);
	free(it->canon);
	free(it->utf8);
	memset(it, 0, sizeof(*it));
}

int
folders_same(const struct cfg_folder *a, const struct cfg_folder *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == CFG_FSPECIAL)
		return a->special == b->special;
	return strcmp(a->canon, b->canon) == 0;
}

/* A copy of s with a leading INBOX component in upper case. */
static char *
inbox_upper(const char *s, char delim)
{
	char *c = xstrdup(s);

	if (strncasecmp(c, "INBOX", 5) == 0
	    && (c[5] == '\0' || (delim != '\0' && c[5] == delim)))
		memcpy(c, "INBOX", 5);
	return c;
}

/*
 * The pattern against the name, one pattern character at a time:
 * row[j] tells whether the pattern so far matches the first j bytes of
 * the name. Time length(pattern) x length(name), no backtracking.
 */
static int
glob(const char *p, const char *s, char delim)
{
	size_t n = strlen(s), j;
	unsigned char *row = xcalloc(n + 1, 1);
	int m;

	row[0] = 1;
	for (; *p != '\0'; p++) {
		if (*p == '*' || *p == '%') {
			for (j = 1; j <= n; j++)
				if (row[j - 1]
				    && (*p == '*' || delim == '\0'
					|| s[j - 1] != delim))
					row[j] = 1;
			continue;
		}
		for (j = n; j > 0; j--)
			row[j] = row[j - 1] && s[j - 1] == *p;
		row[0] = 0;
	}
	m = row[n];
	free(row);
	return m;
}

int
folders_match(const char *pattern, const char *name, char delim)
{
	char *p = inbox_upper(pattern, delim), *s = inbox_upper(name, delim);
	int m = glob(p, s, delim);

	free(p);
	free(s);
	return m;
}

/* Does item it match mailbox mb? */
static int
item_matches(const struct cfg_folder *it, const struct fld_mailbox *mb)
{
	if (it->kind == CFG_FSPECIAL)
		return (mb->attrs & it->special) != 0;
	return folders_match(it->utf8, mb->utf8, mb->delim);
}

long
folders_select(
    const struct cfg_folder *items, size_t n, const struct fld_mailbox *mb)
{
	long first = -1;
	size_t i;

	if (mb->attrs & (FLD_NOSELECT | FLD_NONEXISTENT))
		return -1;
	for (i = 0; i < n; i++) {
		if (!item_matches(&items[i], mb))
			continue;
		if (items[i].exclude)
			return -1;
		if (first == -1)
			first = (long)i;
	}
	return first;
}

int
folders_need_list(const struct cfg_folder *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i].kind != CFG_FNAME)
			return 1;
	return 0;
}

int
folders_literal(const struct cfg_folder *it)
{
	return it->kind == CFG_FNAME && !it->exclude;
}
