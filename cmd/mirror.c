/*
 * Mirror, the local side. See mirror.h.
 *
 * Crash safety. A pass over a folder goes in this order:
 *
 *   1. plan each message from its record (file name, letters last
 *      given) and the server's flags or its absence (mirror_plan), and
 *      hold the folder's removals when the guard says so;
 *   2. apply the plan locally (mirror_apply: a rename within the
 *      Maildir, or an unlink), never touching tmp/;
 *   3. maildir_sync: new/ and cur/ fsync'ed once for the batch;
 *   4. only then the records (new name and letters, or forgotten) and
 *      the folder's HIGHESTMODSEQ, in one journal sync.
 *
 * The server is never changed, so the mail's only copy outside the
 * server is the local file, and a step either happened or did not:
 * rename(2) and unlink(2) are atomic, and a rename done as link and
 * unlink (where renameat2 is missing) that is cut between the two
 * leaves one file under two names, which the next rename or removal of
 * it finishes (maildir.c). Whatever the point of interruption, the
 * state still holds the old records and the old HIGHESTMODSEQ until
 * step 4 is durable, so the next run gets the same changes from the
 * server again (CONDSTORE asks from the old modseq; without it the
 * whole listing is compared) and repeats the pass; each step of it is
 * idempotent:
 *
 * - renamed, record not updated: the file is looked up by its unique
 *   part, cur/UNIQUE:2,<new letters> among the first tries, and given
 *   the letters it has already: nothing more is done, the record is
 *   written;
 * - removed, record kept: the file is missing, MAILDIR_MISSING, and
 *   the record is forgotten;
 * - interrupted before step 3: a rename or unlink that did not reach
 *   the disk is as if not done, and is done again;
 * - a partial journal (some records of the batch written): those plan
 *   nothing, the others are repeated as above.
 *
 * A stray tmp/ file is never taken for a message (lookups look in new/
 * and cur/ only) and is removed by maildir_clean_tmp after 36 hours. A
 * file the user renamed (other info letters) or moved between new/ and
 * cur/ is found by its unique part; one moved out of the folder, or
 * whose unique part was changed, is not found: it is left where it is
 * (an update is not applied, a removal forgets the record and leaves
 * the file). Nothing is ever renamed over another file, so no pass can
 * lose a message or make a second copy of one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/source.h"
#include "../tls/util.h"
#include "maildir.h"
#include "mirror.h"

/* The letters, in ASCII order, and their flags. */
static const struct {
	char letter;
	unsigned flag;
} letters[] = {
	{ 'D', MSG_DRAFT },
	{ 'F', MSG_FLAGGED },
	{ 'R', MSG_ANSWERED },
	{ 'S', MSG_SEEN },
	{ 'T', MSG_DELETED },
};

#define NLETTERS (sizeof(letters) / sizeof(letters[0]))

void
mirror_letters(unsigned flags, char *buf)
{
	size_t i;
	char *p = buf;

	for (i = 0; i < NLETTERS; i++)
		if (flags & letters[i].flag)
			*p++ = letters[i].letter;
	*p = '\0';
}

unsigned
mirror_flags(const char *info)
{
	unsigned flags = 0;
	size_t i;

	for (; info != NULL && *info != '\0'; info++)
		for (i = 0; i < NLETTERS; i++)
			if (*info == letters[i].letter)
				flags |= letters[i].flag;
	return flags;
}

const char *
mirror_info(const char *name)
{
	const char *c = strchr(name, ':');

	return c != NULL && strncmp(c, ":2,", 3) == 0 ? c + 3 : "";
}

void
mirror_plan(
    const char *recorded, unsigned server, int gone, struct mirror_plan *plan)
{
	char old[MIRROR_FLAGSZ];

	memset(plan, 0, sizeof(*plan));
	if (gone) {
		plan->action = MIRROR_REMOVE;
		snprintf(plan->reason, sizeof(plan->reason),
		    "remove: gone from the server");
		return;
	}
	mirror_letters(mirror_flags(recorded), old);
	mirror_letters(server, plan->flags);
	if (strcmp(old, plan->flags) == 0) {
		plan->action = MIRROR_KEEP;
		return;
	}
	plan->action = MIRROR_UPDATE;
	snprintf(plan->reason, sizeof(plan->reason), "update: flags %s -> %s",
	    old[0] != '\0' ? old : "-",
	    plan->flags[0] != '\0' ? plan->flags : "-");
}

int
mirror_guard_holds(size_t gone, size_t local, int accept_removals)
{
	/* gone > local / 2 in integers is gone > local / 2 in reals. */
	return !accept_removals && gone > MIRROR_GUARD_MIN && gone > local / 2;
}

char *
mirror_guard_message(
    const char *account, const char *folder, size_t gone, size_t local)
{
	char *s;

	xasprintf(&s,
	    "%s: %s: %zu of %zu messages are gone from the server; nothing "
	    "removed here; run with --accept-removals to remove them",
	    account, folder, gone, local);
	return s;
}

int
mirror_apply(struct maildir *md, struct maildir_index *ix, const char *name,
    const struct mirror_plan *plan, char **newname)
{
	if (newname != NULL)
		*newname = NULL;
	switch (plan->action) {
	case MIRROR_UPDATE:
		return maildir_set_flags(md, ix, name, plan->flags, newname);
	case MIRROR_REMOVE:
		return maildir_remove(md, ix, name);
	default:
		return 0;
	}
}
