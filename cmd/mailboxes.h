/*
 * The folders of an IMAP run (SPEC "Folder selection (IMAP)"): the
 * items of folders expanded against the server's LIST where they need
 * it (patterns, special-use attributes), else the names as written, so
 * that a run of plain names sends no LIST. Shared by a run and the
 * daemon's watcher. Prints what fails (cmd/ only prints).
 */
#ifndef MAILBOXES_H
#define MAILBOXES_H

#include <stddef.h>

#include "account.h"

struct mbx_list {
	char **name; /* to select: the server's name (LIST), or as written */
	size_t n;
	/* Literal items the server does not list: the run goes on with
	 * the others and ends with 76 (as a SELECT refused would). */
	int missing;
	int listed; /* the names came from a LIST */
	/* With listed: every selectable mailbox the LIST gave, selected
	 * or not (to tell a mailbox gone from one left out). */
	char **all;
	size_t nall;
};

/*
 * Expand the account's folders on the open session ac->src into *out:
 * with LIST when folders_need_list, else the including items as
 * written. Mailboxes in the order of the items, each pattern's in LIST
 * order, each once. A literal name the LIST lacks: out->missing, and
 * with say a line "no folder ..." on stderr. Returns 0, or an exit status after
 * printing what failed (the session then is unusable).
 */
int mbx_expand(const struct acct *ac, struct mbx_list *out, int say);

/* 1 when name (the server's) is in l; listed: among all the LIST
 * gave rather than those selected. */
int mbx_has(const struct mbx_list *l, const char *name, int listed);

void mbx_free(struct mbx_list *l);

#endif
