/*
 * Crash-safe delivery: the one owner of the order that keeps mail safe
 * when a batch of fetched messages goes into the Maildir and the state
 * (SPEC "Guarantees"):
 *
 *   1. each message is in a file in tmp/, flushed and fsync'ed
 *      (maildir_finish, done by the caller as the message arrives);
 *   2. the intended final names are journaled and the journal fsync'ed,
 *      so a crash after a rename cannot lead to a second download;
 *   3. the files are renamed into new/ (or cur/) and the directories
 *      fsync'ed;
 *   4. the messages are recorded in the state journal and it fsync'ed.
 *
 * Only after that may the caller delete anything on the server. After
 * a crash between 3 and 4, deliver_reconcile finds the files the
 * journaled intents name and records them.
 */
#ifndef DELIVER_H
#define DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"
#include "state.h"

/* Where a batch goes: the Maildir of one folder, and how the state
 * knows that folder. */
struct deliver_to {
	struct state *st;
	struct maildir *md;
	const char *sub; /* md's Maildir++ subfolder, "" for the Maildir */
	const char *folder; /* the folder's name in the state */
	uint32_t uidvalidity;
	int64_t now; /* the records' time */
	/* The mirror: record each message's file (relative to the
	 * Maildir) and its flags with it (state_set_local). */
	int local;
};

/* One message of a batch. */
struct deliver_msg {
	/* Finished (maildir_finish), or NULL when it did not arrive. Owned
	 * by deliver_batch from the call on: committed or removed, freed,
	 * and NULL after it. */
	struct maildir_msg *m;
	const char *uid; /* NULL: cannot be recorded (POP3 without UIDL) */
	char flags[8]; /* Maildir flag letters, "" for new/ */
	int64_t mtime; /* 0: leave it */
	uint64_t announced; /* the size the server announced ... */
	uint64_t received; /* ... and what arrived (SPEC "Sizes") */
	int ok; /* set by deliver_batch: stored, and recorded if it can be */
};

/* What failed, bits of deliver_batch's result. */
#define DELIVER_ESTATE 0x01 /* the state: state_error() */
#define DELIVER_EMAILDIR 0x02 /* the Maildir: maildir_error() */

/*
 * Deliver msgs[0..n-1] (steps 2 to 4 above) and set ok on each that is
 * now stored and recorded. Returns 0, or DELIVER_* bits for what
 * failed. After a Maildir failure the messages committed before it are
 * still recorded and ok; after a state failure none is ok (their
 * intents are journaled, or nothing was renamed).
 */
unsigned deliver_batch(
    const struct deliver_to *, struct deliver_msg *msgs, size_t n);

/*
 * Record the messages whose intents state_load found pending and whose
 * files are in the Maildir at path (an interrupted delivery got them
 * there), and sync the state. *found says how many. local (the
 * mirror): note each one's file too, flags unknown. Returns 0, or -1
 * when the state failed (state_error).
 */
int deliver_reconcile(
    struct state *, const char *path, int local, size_t *found);

#endif
