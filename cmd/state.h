/*
 * The state store: for one account, which messages were downloaded and
 * when first. A record is keyed by (folder, uidvalidity, uid); POP3
 * uses folder "-" and uidvalidity 0.
 *
 * On disk, two plain-text files a person can read (format: state_v1.c
 * for the lines, store.c for version 2): the state file itself, its
 * records sorted, read where a lookup needs it rather than loaded
 * whole, and a journal beside it ("<path>.journal") that each batch
 * appends to and fsyncs (state_sync), and state_save too, so a run
 * costs O(changes), not O(records). state_load replays the journal; a
 * compaction (state_compact, or state_save once the journal has grown)
 * merges it into a new state file atomically (temp file, fsync,
 * rename, fsync of the directory). A state file of version 1 (an
 * older mailfetch) is read whole and converted by the first save.
 *
 * Strings a lookup gives (state_get, state_next: struct state_rec) stay
 * valid until the next call into the state, lookups included: copy
 * what is kept longer. Those of state_pending stay until state_free.
 *
 * The journal also carries intents: before a message file is renamed
 * into the Maildir, its final name is journaled; if a crash comes
 * between the rename and the record, the next load reports the intent
 * as pending, and the caller looks for the file and records it rather
 * than downloading the message again.
 *
 * Errors: -1 with the message in state_error(); state_errkind() says
 * whether the file was corrupt (exit 65), locked by another run (75) or
 * an OS error (errno kept: 74 for EIO/ENOSPC/EDQUOT/EROFS, else 71).
 */
#ifndef STATE_H
#define STATE_H

#include <stddef.h>
#include <stdint.h>

struct state;

enum state_errkind {
	STATE_EOS, /* an OS error; state_errno() has errno */
	STATE_ECORRUPT, /* the file or journal does not parse */
	STATE_ELOCKED /* another run holds the lock */
};

/*
 * A message delivered, or about to be, into the Maildir: the record it
 * is for and its file. Strings borrowed by state_intend, owned by the
 * state when state_pending gives them.
 */
struct state_intent {
	const char *folder;
	uint32_t uidvalidity;
	const char *uid;
	const char *sub; /* Maildir++ subfolder (".name"), "" for the Maildir */
	const char *name; /* the file's base name, as maildir_name gave it */
	int64_t when; /* pending: when the intent was journaled */
};

/* A new, empty state for the file at path (copied). */
struct state *state_new(const char *path);

/*
 * How the protocol knows a folder: canon(name) returns the name a folder
 * named name in the state file or journal is to be known by (a new
 * string), or NULL to keep name. Set before state_load, when the state
 * may hold names that an older mailfetch kept as the config spelled
 * them (IMAP: INBOX in any case, UTF-8 or modified UTF-7). The folders
 * load under their new names, several names of one folder merge (the
 * records of the highest UIDVALIDITY count), and the next state_save
 * writes the new names.
 */
void state_set_canon(struct state *, char *(*canon)(const char *));

/* Take the lock (flock on "<path>.lock", created with its directory
 * when missing) without waiting; ELOCKED when another run has it. */
int state_lock(struct state *);

/* Read the state file and replay the journal. A missing file is an
 * empty state; a corrupt or truncated one is ECORRUPT, never treated as
 * empty. readonly: do not create anything (dry run, --check). */
int state_load(struct state *, int readonly);

/* The intents found pending by state_load: count, and the i-th. */
size_t state_npending(const struct state *);
const struct state_intent *state_pending(const struct state *, size_t i);

/* The UIDVALIDITY recorded for folder; 0 when none. */
uint32_t state_uidvalidity(const struct state *, const char *folder);

/* Void every record of folder and remember uidvalidity for it. */
void state_reset_folder(
    struct state *, const char *folder, uint32_t uidvalidity);

/* The IMAP UIDNEXT below which every message of folder (with this
 * UIDVALIDITY) was recorded when the state was last saved, as
 * state_set_uidnext left it; 0 when unknown. A void (reset) folder has
 * none. */
uint32_t state_uidnext(
    const struct state *, const char *folder, uint32_t uidvalidity);

/* Remember that every message of folder below uidnext is recorded (or
 * 0: unknown). The caller asserts it; saved by state_save only. */
void state_set_uidnext(
    struct state *, const char *folder, uint32_t uidvalidity, uint32_t uidnext);

/* Number of live records of folder with this UIDVALIDITY that the
 * last complete listing showed (records missing from it left out), and
 * in *oldest a lower bound of the earliest download time among them
 * (exact after a compaction or a prune that walked the folder; 0 when
 * none). O(1). */
size_t state_folder_count(const struct state *, const char *folder,
    uint32_t uidvalidity, int64_t *oldest);

/* When the message was first downloaded (Unix time); 0 when it is not
 * recorded. O(log n). */
int64_t state_lookup(const struct state *, const char *folder,
    uint32_t uidvalidity, const char *uid);

/* Journal an intent: the message is about to be renamed into the
 * Maildir as in->sub/in->name (in->when is ignored: now). A name that
 * could point outside the Maildir is refused (EINVAL). Buffered until
 * state_sync. */
int state_intend(struct state *, const struct state_intent *in);

/* Record a download at time when (kept if already recorded earlier).
 * Buffered in the journal until state_sync. */
int state_add(struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, int64_t when);

/* As state_add, for a message that arrived shorter than announced
 * (received < announced, both counted with CRLF line ends): the record
 * keeps both sizes (SPEC "Sizes"). With received >= announced, the
 * same as state_add. */
int state_add_short(struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, int64_t when, uint64_t announced, uint64_t received);

/* 1 when the message is recorded as having arrived short, with the two
 * sizes in *announced and *received; else 0 and both 0. */
int state_short(const struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, uint64_t *announced, uint64_t *received);

/* The message was not downloaded: its body grew past max_size, limit
 * bytes, though the server had announced less (SPEC "Sizes"). Recorded
 * at time when so that later runs skip it while max_size <= limit; not
 * a download (state_lookup says 0, state_count and state_folder_count
 * leave it out), forgotten as other records once gone (state_prune),
 * replaced by state_add. Nothing when the message is recorded as
 * downloaded. Buffered in the journal until state_sync. */
int state_add_grew(struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, int64_t when, uint64_t limit);

/* 1 when the message is recorded as having grown past max_size, with
 * that max_size in *limit; else 0 and *limit 0. */
int state_grew(const struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, uint64_t *limit);

/* Append what is buffered to the journal and fsync it. After 0, every
 * record and intent given so far survives a crash. When the changes in
 * memory have grown past a bound, it also merges them into a new state
 * file (as state_compact, crash-safe) to keep the memory bounded: an
 * iteration (state_next) does not last across it. */
int state_sync(struct state *);

/* How long a record is kept after the listings stopped showing its
 * message (SPEC "Records"): 30 days. */
#define STATE_KEEP_GONE (30 * 86400)

/* Pruning: mark a record still present on the server; after a folder
 * was listed completely, state_prune notes the time now on each record
 * not marked ("missing since"), clears that note on the marked ones,
 * and forgets a record once it has been missing for STATE_KEEP_GONE
 * seconds. A missing record still counts for state_lookup, so a
 * message that comes back is not downloaded again; state_folder_count
 * leaves it out. */
void state_mark(
    struct state *, const char *folder, uint32_t uidvalidity, const char *uid);
void state_prune(struct state *, const char *folder, int64_t now);

/* A listed message in one search: state_lookup's answer, state_short's
 * sizes (0 when whole), state_grew's limit (0 when none), and
 * state_mark. */
int64_t state_look_mark(struct state *, const char *folder,
    uint32_t uidvalidity, const char *uid, uint64_t *announced,
    uint64_t *received, uint64_t *grew);

/* What state_look_mark answers. */
struct state_look {
	int64_t when;
	uint64_t announced, received, grew;
	/* The record was marked present earlier in this run: a listing
	 * that names its UID twice (run.c checks a long POP3 listing's
	 * windows so). */
	int seen;
};

/* state_look_mark for a whole listing of n messages: the i-th one's
 * UID is uid(i, arg) (NULL: it has none, all answers 0), and its
 * answers go to answer(i, look, arg), in any order. uid may be asked
 * for the same i again, and the strings it gives must all stay valid
 * until this returns (the listing's own). A long listing
 * (POP3's UIDL) is matched against the folder's records in one
 * sequential pass rather than searched message by message. */
void state_look_mark_all(struct state *, const char *folder,
    uint32_t uidvalidity, size_t n, const char *(*uid)(size_t, void *),
    void (*answer)(size_t, const struct state_look *, void *), void *arg);

/* Every record of folder downloaded under uidvalidity, also those a
 * listing no longer showed (not those that grew): O(1). */
size_t state_folder_records(
    const struct state *, const char *folder, uint32_t uidvalidity);

/*
 * For the mirror (SPEC "Mirror (IMAP)"): what the state knows of a
 * record besides its download, the local file and the flags last
 * applied to it, and of a folder, the HIGHESTMODSEQ reached. Runs that
 * do not mirror never set them, and their files stay as they were.
 */
struct state_rec {
	const char *uid; /* owned by the state: see the top */
	int64_t when; /* first downloaded */
	const char *file; /* relative to the Maildir, as delivered (NAME or
			     .SUB/NAME); NULL when not known */
	int has_flags; /* flags were applied: */
	char flags[8]; /* their Maildir letters, in ASCII order */
	int marked; /* state_mark was called for it in this run */
};

/* Note the local file (relative to the Maildir: NAME or .SUB/NAME;
 * NULL: leave as it is) and the flags last applied (Maildir letters
 * from "DFPRST" in ASCII order; NULL: leave as they are) of a record.
 * -1 (EINVAL) when there is no such record or a value is not valid.
 * Buffered in the journal until state_sync. */
int state_set_local(struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, const char *file, const char *flags);

/* The record of uid into *out: 1, or 0 when it is not recorded as
 * downloaded. */
int state_get(const struct state *, const char *folder, uint32_t uidvalidity,
    const char *uid, struct state_rec *out);

/* Iterate the records of folder downloaded under uidvalidity: start
 * with *pos = 0; each call gives the next in *out and returns 1, or 0
 * at the end. Records added during the iteration may or may not come;
 * none is given twice. */
int state_next(const struct state *, const char *folder, uint32_t uidvalidity,
    size_t *pos, struct state_rec *out);

/* Forget a record now (the mirror removed the message): journaled, so
 * it stays forgotten after a crash once state_sync returned. Nothing
 * when it is not recorded. */
int state_forget(
    struct state *, const char *folder, uint32_t uidvalidity, const char *uid);

/* The HIGHESTMODSEQ the mirror reached in folder under uidvalidity, 0
 * when none; set it (saved by state_save only: a crash before leaves
 * the older one, which asks the server for more changes, never fewer).
 * A reset folder has none. */
uint64_t state_modseq(
    const struct state *, const char *folder, uint32_t uidvalidity);
void state_set_modseq(
    struct state *, const char *folder, uint32_t uidvalidity, uint64_t modseq);

/* The name of the i-th folder the state knows (any order), NULL past
 * the last: to find the folders a LIST no longer shows. */
const char *state_folder_name(const struct state *, size_t i);

/* Make what changed durable: the folders' values are appended to the
 * journal (fsync'ed) with what state_sync had not written yet; when the
 * journal has grown past an eighth of the state file (or 256 KB), or
 * the file is missing or of version 1, state_compact. Does nothing when
 * the file exists and nothing changed since the load. */
int state_save(struct state *);

/* Merge the journal into a new state file of version 2 now (temp file,
 * fsync, rename, fsync of the directory, then the journal removed). */
int state_compact(struct state *);

/* Number of records (for tests and messages). */
size_t state_count(const struct state *);

const char *state_error(const struct state *);
enum state_errkind state_errkind(const struct state *);
int state_errno(const struct state *);

/* Release the lock and free. Accepts NULL. */
void state_free(struct state *);

#endif
