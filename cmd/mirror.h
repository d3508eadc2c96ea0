/*
 * Mirror (SPEC "Mirror (IMAP)"), the local side: which change a message
 * needs, the removal guard, and applying a change to the local copy.
 * Everything but mirror_apply is a pure function. The order that makes
 * a pass safe to interrupt is argued in mirror.c.
 */
#ifndef MIRROR_H
#define MIRROR_H

#include <stddef.h>

struct maildir;
struct maildir_index;

/* Room for the standard info letters "DFRST" and a NUL. */
#define MIRROR_FLAGSZ 6

/* Messages a folder must lose before the guard may hold (SPEC). */
#define MIRROR_GUARD_MIN 20

/*
 * The Maildir info letters of IMAP flags (MSG_* of proto/source.h), in
 * ASCII order: \Draft D, \Flagged F, \Answered R, \Seen S, \Deleted T.
 * Other bits are ignored. buf holds MIRROR_FLAGSZ bytes. (It replaces
 * flag_letters in cmd/run.c, which has no T.)
 */
void mirror_letters(unsigned flags, char *buf);

/* The MSG_* flags of the standard letters D, F, R, S and T in info
 * (any order); other bytes are ignored. NULL: none. */
unsigned mirror_flags(const char *info);

/* The info letters of a Maildir file name: what follows ":2,", or ""
 * when it has none. Points into name. */
const char *mirror_info(const char *name);

enum mirror_action {
	MIRROR_KEEP, /* nothing to do */
	MIRROR_UPDATE, /* give the local copy the flags in plan.flags */
	MIRROR_REMOVE /* remove the local copy */
};

struct mirror_plan {
	enum mirror_action action;
	char flags[MIRROR_FLAGSZ]; /* UPDATE: the server's letters */
	char reason[40]; /* the dry run's REASON; "" for KEEP */
};

/*
 * The plan for one recorded message. recorded: the info letters the
 * local copy was last given (as recorded; only D, F, R, S and T count;
 * NULL or "" for none); server: its flags on the server (MSG_*); gone:
 * the server no longer has it (or its UIDVALIDITY changed). UPDATE has
 * the reason "update: flags OLD -> NEW" ("-" for no letter), REMOVE
 * "remove: gone from the server".
 */
void mirror_plan(
    const char *recorded, unsigned server, int gone, struct mirror_plan *plan);

/*
 * The removal guard: 1 when removing gone of a folder's local messages
 * must not happen in this run (more than half of them and more than
 * MIRROR_GUARD_MIN, and not accept_removals); then none of the folder's
 * removals are applied and their records stay.
 */
int mirror_guard_holds(size_t gone, size_t local, int accept_removals);

/* The stderr line (no newline) for a guard that holds:
 * "ACCOUNT: FOLDER: N of M messages are gone from the server; nothing
 * removed here; run with --accept-removals to remove them". A new
 * string. */
char *mirror_guard_message(
    const char *account, const char *folder, size_t gone, size_t local);

/*
 * Apply plan to the local copy recorded as name ("UNIQUE" or
 * "UNIQUE:2,INFO") in md (the folder's Maildir), through ix (may be
 * NULL; see maildir.h). Durable only after maildir_sync. Returns:
 * - 0: done (or nothing to do, or already so); for UPDATE, *newname
 *   (when not NULL) is the file's name now, to record with the flags;
 *   for REMOVE the record is to be forgotten;
 * - MAILDIR_MISSING: no such file here (the user removed it, or moved
 *   it to another folder, or an interrupted pass removed it already).
 *   UPDATE: the record stays as it is; REMOVE: the record is forgotten.
 *   Nothing is changed; the caller says so at -v;
 * - -1: error, in maildir_error(md) (errno kept: 74 for EIO, ENOSPC,
 *   EDQUOT, EROFS, else 71).
 */
int mirror_apply(struct maildir *md, struct maildir_index *ix, const char *name,
    const struct mirror_plan *plan, char **newname);

#endif
