/*
 * Folder selection (SPEC.md "Folder selection (IMAP)"): the items of
 * the folders key, and which of the mailboxes a LIST returned they
 * select. Pure: no I/O, no output.
 */
#ifndef FOLDERS_H
#define FOLDERS_H

#include <stddef.h>

#include "config.h"

/* LIST attributes beyond the special-use ones (CFG_SU_*). */
#define FLD_NOSELECT (1u << 8) /* \Noselect */
#define FLD_NONEXISTENT (1u << 9) /* \NonExistent */

/* One mailbox as LIST returned it. */
struct fld_mailbox {
	const char *name; /* the server's name, modified UTF-7 */
	const char *utf8; /* the same in UTF-8 */
	char delim; /* hierarchy delimiter; '\0' for NIL */
	unsigned attrs; /* CFG_SU_* and FLD_* bits */
};

/*
 * Parse one item of folders, trimmed, into *it: "!" (exclusion), then a
 * mailbox name, a pattern with '*' or '%', or a special-use attribute
 * (\All, \Archive, \Drafts, \Flagged, \Junk, \Sent, \Trash, any case).
 * Returns 0, or -1 with what is wrong in msg (a config error). Free
 * with folders_item_free.
 */
int folders_parse_item(
    const char *text, struct cfg_folder *it, char *msg, size_t len);

void folders_item_free(struct cfg_folder *it);

/* 1 when a and b name the same mailbox, pattern or attribute, in any
 * spelling, with or without '!'. */
int folders_same(const struct cfg_folder *a, const struct cfg_folder *b);

/*
 * Does the pattern (UTF-8, '*' and '%' as LIST has them) match the
 * mailbox name (UTF-8) with hierarchy delimiter delim? INBOX and a
 * leading "INBOX" component are matched in any case.
 */
int folders_match(const char *pattern, const char *name, char delim);

/*
 * Which item selects mailbox mb: the index of the first including item
 * that matches it, or -1 when none does, when an exclusion ('!') item
 * matches it, or when it is \Noselect or \NonExistent. Mailboxes are
 * taken in the order of these indexes, those of one item in LIST
 * order; a mailbox matched by several items is taken once, here.
 */
long folders_select(
    const struct cfg_folder *items, size_t n, const struct fld_mailbox *mb);

/* 1 when the items need a LIST: any pattern or special-use attribute.
 * With only plain names the folders are selected by name, as before. */
int folders_need_list(const struct cfg_folder *items, size_t n);

/* 1 when item i is an including plain name: a mailbox the server must
 * have (a name it lacks is an error, 76; a pattern matching nothing is
 * not). */
int folders_literal(const struct cfg_folder *it);

#endif
