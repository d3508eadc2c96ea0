/*
 * The mirror pass of one folder (SPEC "Mirror (IMAP)"): what
 * ops->select_sync reported, applied to the local copies the state
 * records. The order and why it survives kill -9 are argued in
 * mirror.c: plan, apply locally, maildir_sync, then the records in one
 * state sync; the caller sets the folder's HIGHESTMODSEQ after it
 * (saved by state_save only, so a crash asks the server again from the
 * older one).
 */
#ifndef SYNC_H
#define SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/source.h"
#include "account.h"
#include "maildir.h"
#include "state.h"

struct msync_upd {
	uint32_t uid;
	unsigned flags; /* MSG_* on the server */
};

struct msync_range {
	uint32_t lo, hi;
};

/* A message the pass removes: the record's uid and file. */
struct msync_gone {
	char *uid;
	char *file; /* NULL: none recorded */
};

struct msync {
	/* Set by the caller (msync_init). */
	const struct acct *ac;
	struct state *st;
	const char *key; /* the folder in the state */
	const char *folder; /* as the plan and messages show it */
	uint32_t uidv; /* the records' UIDVALIDITY (the known one) */
	int dryrun, verbose, accept;

	/* Collected by the change sink: the flags that differ from the
	 * records', and the vanished ranges. O(changes). */
	struct msync_upd *upd;
	size_t nupd, capupd;
	struct msync_range *van;
	size_t nvan, capvan;

	/* The records that are gone (msync_prepare). */
	struct msync_gone *gone;
	size_t ngone;

	/* What the pass did (a dry run: what it would do). */
	uint64_t updated, removed;
	int held; /* the removal guard held: nothing removed */
	int failed; /* a local failure, said already; status in status */
	int status;
};

void msync_init(struct msync *, const struct acct *ac, struct state *st,
    const char *key, const char *folder, uint32_t uidv);

/* The change sink for ops->select_sync; WHOLE is told by marks
 * (state_mark), so nothing is held per unchanged message. */
void msync_sink(struct msync *, struct change_sink *chg);

/* After select_sync: find the records that are gone (kind DELTA or
 * WHOLE; VOID: every record of ms->uidv). Returns 1 when the pass may
 * change a local file (the folder's Maildir is needed), else 0. */
int msync_prepare(struct msync *, enum src_sync kind);

/*
 * Apply what select_sync reported and msync_prepare found (kind as
 * given to it) to the local copies in md (the
 * folder's Maildir, sub its Maildir++ name; md NULL in a dry run, which
 * prints the plan's update and remove lines instead). Returns 0, or -1
 * after a local failure (said on stderr, exit status in ms->status).
 */
int msync_pass(
    struct msync *, enum src_sync kind, struct maildir *md, const char *sub);

/*
 * Local changes (SPEC: "Local changes to flags are replaced by the
 * server's at the next run"): give each recorded copy in md whose
 * letters differ from the recorded ones (the server's as last applied)
 * those letters again; a record without letters (reconciled after a
 * crash) takes the file's. O(records of the folder): the caller runs it
 * only when the folder's new/ or cur/ changed since the last run.
 * Returns as msync_pass, and makes its changes durable as it does.
 */
int msync_scan(struct msync *, struct maildir *md, const char *sub);

void msync_free(struct msync *);

#endif
