/*
 * The state store, version 2: O(changes) per run. cmd/state.c puts
 * cmd/state.h over it; cmd/state_v1.c reads older files for it.
 *
 * STATUS (2026-12-05, session wt-store)
 *
 * The state store of mailfetch (wired in): the DESIGN below, tested by
 * tests/unit/test_store.c (a differential test between answers from the
 * sorted base and from the journal's overlay, and from a version 1 file
 * made as fetchrc(5) says to downgrade; store_look_mark_all against
 * one-by-one lookups) and tests/unit/test_state.c (the semantics, the
 * version 2 format, version 1 files and their corrupt cases through the
 * converter, canon), and end to end by the integration tests that read
 * or write state files (tests/harness.py's state_text and
 * compact_state read a state with its journal replayed).
 *
 * STATUS (2026-12-05, session wt-overlay, issue 16): the overlay is
 * bounded (DESIGN 5a, folds): a first fetch of 100 000 messages no
 * longer holds every record it adds until the save. Tested by
 * test_store.c: the differential test's mode 3 (folds mid-run, between
 * marks and prunes, with crashes and saves; marks compared), a first
 * fetch of 50 000 (the overlay <= 8192 after each sync; every record
 * there, also after a reopen), the open intents a fold keeps, and kill
 * -9 (strace's fault injection) at every write, fdatasync, fsync,
 * rename and unlink of a run that folds.
 *
 * Not done: the lookups of a mirror resync are one binary search each
 * (~11 page reads, ~15-20 us, from the 64-page cache); a page index
 * written at compaction would make them 1-2. A version 1 file's first
 * run holds both the converter's records and the overlay (~375 B a
 * record, once).
 *
 * MEASURED: bench/statebench.c and bench/RESULTS.md ("State store").
 *
 * Why. cmd/state.c (version 1) reads every record into memory at each
 * run (~265 B of RSS and ~1.5 us of CPU per record) and state_save
 * rewrites the whole file whenever anything changed. At 100 000
 * records that is +24 MB of RSS, 160-180 ms of CPU to load and 35-57 ms
 * (9.7 MB written) to save, whatever the run did: an unchanged IMAP
 * poll or a mirror resync of 15 changes pays for the whole mailbox
 * (bench/RESULTS.md, "Mirror resync").
 *
 * DESIGN
 *
 * 1. On disk: the same three files as today, <path>, <path>.journal and
 *    <path>.lock, and the same line syntax (one item per line, TAB
 *    separated, percent-escaped strings; see state.c), so a person can
 *    still read them. What changes is the order and the header of the
 *    base file:
 *
 *	mailfetch-state 2
 *	G	generation
 *	F	folder	uv	uidnext	modseq	records	live	present	oldest	gonemin
 *	...				(every folder, any order)
 *	I	folder	uv	when	uid	filename
 *	...				(pending intents: few)
 *	M	folder	uv	when	uid	[attr]...
 *	...				(every record, SORTED)
 *
 *    M lines come last, sorted by key = (folder, uid), each compared as
 *    its escaped bytes in the file: folder by bytes (strcmp), uid first
 *    by length, then by bytes. For IMAP's decimal UIDs (no leading
 *    zero) that is numeric order; for POP3's UIDL strings it is a total
 *    order too. A folder's records are thus one contiguous range, in UID
 *    order. The F line carries what used to need a pass over the
 *    records: records (downloaded, not grew=, gone= or not: what
 *    state_count and run.c's known_counts need), live (downloaded,
 *    not grew=, not gone=: what
 *    state_folder_count answers), present (recorded, grew= too, not
 *    gone=: what a complete listing must show for nothing to be
 *    pruned), oldest (a lower bound of the live records' earliest
 *    `when`; exact after a compaction or a prune's walk) and gonemin
 *    (the earliest gone= among its records, 0: none; the same).
 *    Compaction checks the order as it merges (a base out of order,
 *    edited by hand, is corrupt: 65); lookups trust it.
 *
 * 2. Lookups without loading. The base file is read by pread through a
 *    cache of 64 pages of 4 KB (not mapped: each fault on a mapping
 *    brings the 64 KB around it into the RSS). The header (F and I
 *    lines) is parsed at open: O(folders + intents). A record is found
 *    by a binary search over the byte range of the M lines: probe the
 *    middle byte, step back to the start of its line, compare keys;
 *    ~log2(n) probes (17 at 100 000), each one page, the first few
 *    cached for every search. The search key is escaped once. Nothing per record is
 *    allocated. A folder's range is two such searches (first key >=
 *    (folder, -inf), first key > (folder, +inf)); iterating a folder
 *    (state_next) walks its range line by line.
 *
 * 3. Changes in memory, O(changes) up to a bound (5a): an overlay, a
 *    hash table of the records this run (or the journal) touched:
 *    added, set_local, forgotten (kept with when = 0: it masks the
 *    base's line), gone= set or cleared, intents. A lookup asks the
 *    overlay first, then the
 *    base. A folder reset (UIDVALIDITY changed) marks the folder
 *    "base void": its base lines no longer count; its overlay entries
 *    are voided.
 *
 * 4. The journal is as today (append whole lines, fdatasync; a torn
 *    last line is cut off; generation check), now with header
 *    "mailfetch-journal 2" and one more line type, written by
 *    state_save instead of rewriting the base:
 *
 *	S	folder	uv	uidnext	modseq	oldest	gonemin
 *
 *    (a folder's header values as of this save; live and present are
 *    kept exact by the replay of the M and X lines themselves).
 *    Version 1 journals (no S line) are read as before. The load
 *    replays the journal into the overlay: O(journal). state_prune's
 *    gone= changes and forgets, which the old save carried, are
 *    journaled as M lines with gone= and X lines (the v1 replay already
 *    takes gone= from an M line): they become durable at the next
 *    state_sync, not only at state_save (stricter than version 1; a
 *    run that crashes after a prune keeps its gone= notes).
 *
 * 5. Compaction, the only O(n) write: when the journal has grown past
 *    an eighth of the base or 256 KB (and at least 64 KB), or the base
 *    is v1 or missing, or (to do) a folder was respelled. The 256 KB
 *    cap bounds the overlay a load replays (~2 500 records, ~0.5 MB)
 *    at the price of more compactions on large files: at 100 000
 *    records one 9.4 MB rewrite per ~100 resyncs of 15 changes, ~0.1 MB
 *    written per run on average instead of 9.7 MB. The base's sorted lines
 *    and the overlay (sorted: O(c log c)) are merged in one sequential
 *    pass into <path>.tmp, (a first identical pass computes the exact
 *    F values), fdatasync, rename over <path>, fsync of the directory,
 *    unlink of the journal, fsync again: exactly state.c's order and
 *    generation rule (base N+1 is in place before journal N goes; a
 *    journal older than the base is ignored), so a crash anywhere
 *    leaves either the old base and its journal, or the new base (and
 *    maybe a stale journal, ignored). Below the cap each journal byte
 *    is merged at most 8 times: O(changes) per run on average; a run's
 *    worst case is one O(n) sequential merge (~10 MB at 100 000) that
 *    needs O(overlay + 1 MB buffer) of memory.
 *
 * 5a. Folds: the overlay bounded. A first fetch of 100 000 messages
 *    adds 100 000 records in one run; kept in the overlay until the
 *    save (~105 B each with the hash slot and the UID) they made the
 *    peak RSS grow ~10 MB from 5 000 messages to 100 000. So
 *    store_sync, once the journal is durable, folds the overlay into
 *    a new base when it holds more than max(8192, base lines / 16)
 *    records (FOLD_MIN, FOLD_FRACTION): the merge of 5 (the same temp
 *    file, fdatasync, rename, directory fsync, journal unlinked, fsync:
 *    a crash anywhere leaves the old base and its journal, or the new
 *    base), then the run goes on from the new base without reopening
 *    it. What the run holds in memory must come through unchanged:
 *     - marks: the merge's second pass knows each line's new offset and
 *       sets its bit in a new bitmap (a base line's old bit, an overlay
 *       record's flag); each folder's nmarked is recounted by pass 1;
 *     - records that came back (marked, with gone=) stay in the
 *       overlay, where store_prune clears their gone= (the bound is
 *       counted above them, or each sync would fold again); and so do
 *       open intents (not recorded yet), written as I lines too;
 *     - intents pending at the open (state_pending's list stays as it
 *       is, its UIDs in a pool of their own) are written as I lines
 *       while nothing recorded or replaced them: a crash after the fold
 *       finds them pending again, as it would have in the journal;
 *     - uidnext and modseq: the F lines get the values the files had
 *       (the last S or F line), not the run's: those are the caller's
 *       claims for state_save alone (a crash must not make them hold);
 *       the folder stays metadirty, its S line comes at the save;
 *     - records, live, present, oldest, gonemin come from pass 1, exact;
 *       a reset folder's old lines are gone from the new base, so it
 *       is no longer base void;
 *     - the overlay's arrays, hash table and UID pool are freed and
 *       remade for what stays (RSS flat, not just n = 0); the page
 *       cache reads the new base (opened before the rename: nothing can
 *       fail between the rename and the switch).
 *    A read-only store never folds. An iteration (store_next's pos)
 *    does not last across a sync; no caller keeps one across.
 *    Cost: each fold reads the base twice and rewrites it; the bound
 *    keeps the total O(n) asymptotically: below 131 072 lines (where
 *    base / 16 = 8192) a fold every ~8 100 records, ~n^2 / 16 000
 *    lines in all (at most ~8 times the final base); above, each fold
 *    adds at least 1/16 of the base, a geometric series: at most ~17
 *    times the final base. At 100 000 records a first fetch folds 12 times
 *    and rewrites ~630 000 lines, 6.3 times the final base: ~60 MB at
 *    94 B a line (a mirror), ~22 MB at POP3's 35 B (measured, POP3,
 *    bench/statebench.c -f: 34.6 MB written in all against 14.0 MB
 *    before; 1.8 s against 0.6 s of the whole run's state work, most
 *    of it the binary search each new record's first change makes in
 *    the base, ~4 page reads, as in any later run: the fetch itself
 *    takes minutes). Memory: the overlay (<= 8192 + a batch: ~0.9 MB),
 *    during a fold its sorted keys (~50 B a record) and a 256 KB write
 *    buffer, the marks (base / 64: 150 KB at 100 000 mirror lines).
 *
 * 6. Mark and prune without touching every record. state_mark looks
 *    the uid up (O(log n)) and sets a bit in a bitmap over the base's
 *    byte offsets / 8 (a line is at least 10 bytes, so each line has a
 *    bit of its own: file size / 64 bytes, 147 KB at 100 000),
 *    allocated at the first mark; overlay records have a flag. A
 *    marked record with gone= is copied into the overlay (it came
 *    back; the prune clears its gone=, as state.c's does). Each first
 *    mark of a present record counts. state_prune after a complete
 *    listing: first the overlay's came-back records lose gone=
 *    (O(changes)); then when the count equals the folder's present and
 *    gonemin is 0 or less than STATE_KEEP_GONE old, no record is newly
 *    missing and none expires: O(1). Otherwise (something vanished,
 *    or a gone= record may expire) one walk of the folder's range sets
 *    gone=now on the unmarked present records and forgets the expired
 *    ones (journaled), and makes oldest and gonemin exact. IMAP with UIDNEXT
 *    (list_from > 1) lists only new messages and prunes nothing, as
 *    today; the mirror's QRESYNC/CHANGEDSINCE pass forgets by
 *    state_forget and never prunes.
 *
 * 7. Older files. A base with header "mailfetch-state 1" (unsorted), or
 *    a version 2 one whose folder names state_set_canon respells, or one
 *    that does not start or end right, is read whole and strictly by
 *    state_v1.c (canon applied, spellings merged, errors with line
 *    numbers) into the overlay, once, and the first state_save compacts
 *    it into version 2: one run pays what every run paid before. A
 *    journal of version 1 is replayed as is, its folder names through
 *    canon too. An older mailfetch refuses a version 2 base (65, "bad
 *    header"): fetchrc(5) FILES says how to edit it back (the base's
 *    header and F lines, the journal's header and S lines).
 *
 * 8. Memory bound per run: the folders and pending intents (few), the
 *    overlay (O(changes) up to the bound of 5a, ~100 B per touched
 *    record: <= ~0.9 MB below 131 072 lines), the mark bitmap
 *    (file/64 bytes, only when marking: POP3 and whole listings), the
 *    journal buffer of the batch, and the page cache (256 KB).
 *
 * Cost per run at 100 000 records (94 B per line: 9.4 MB base), est.:
 *  - unchanged IMAP poll: open = parse 20 F lines + an empty journal:
 *    < 1 ms; UIDNEXT unchanged: no lookup; save: nothing changed,
 *    nothing written. Memory: the page cache. (Version 1: 160-180 ms of
 *    CPU and +24 MB.)
 *  - mirror resync, 15 changes (QRESYNC or CHANGEDSINCE): ~20 lookups
 *    of ~17 probes, 15 overlay records, 15 journal lines + 20 S lines
 *    (~3 KB, one fdatasync per changed folder, as before); no base
 *    rewrite until the journal passes 256 KB (~80 such runs), then one
 *    ~30-60 ms compaction. Caveat outside the store: msync_scan (only
 *    when the user changed the Maildir) walks a folder: O(folder) by
 *    nature, streaming.
 *  - POP3 poll, UIDL of 100 000 (store_look_mark_all): the listing's
 *    indices sorted (8 B each while sorting), one sequential walk of
 *    the folder's lines (each page read once), marks in a 147 KB
 *    bitmap, prune O(1) when nothing vanished: O(n + m log m).
 *
 * MEASURED (bench/statebench.c, 2 CPUs shared with other work, so times
 * are noisy; best of 3, each in its own process; the state as a
 * 20-folder mirror leaves it, ~94 B a line; RSS beside an empty
 * process's 1.2 MB; POP3 beside a process holding the listing alone).
 * "v1 (old)": version 1's state.c as measured before it was replaced
 * (10:21 UTC); "v2": this store (11:25 UTC); bench/RESULTS.md has the
 * latest run.
 *
 *			v1 (old)		v2
 *   10 000 records
 *     open		12.4 ms, +2.5 MB	0.7 ms, +0.4 MB
 *     lookup		<1 us			13 us
 *     resync 15	23.5 ms, +2.7 MB	27 ms, +0.8 MB (fsyncs)
 *     POP3 poll	9.5 ms, +1.3 MB		6.1 ms, +0.3 MB
 *   100 000 records (9.2 MB)
 *     open		176 ms, +25.7 MB	0.5 ms, +0.4 MB
 *     lookup		1 us			20 us
 *     resync 15	170 ms, +25.7 MB	18 ms, +0.6 MB (fsyncs)
 *     POP3 poll	79 ms, +12.2 MB		48 ms, +0.7 MB
 *
 * First fetch (bench/statebench.c -f: POP3 UIDs into an empty state,
 * batches of 100 as deliver.c makes them; peak RSS beside an empty
 * process; heaptrack's peak heap of the same run; wt-overlay):
 *
 *			before folds (5a)		with folds
 *     5 000	29 ms, +1.6 MB, 1.44 MB		29 ms, +1.5 MB, 1.49 MB
 *     100 000	632 ms, +19.8 MB, 21.4 MB	1801 ms, +2.7 MB, 2.33 MB
 *     (written at 100 000: 14.0 MB before, 34.6 MB with folds)
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tls/util.h"
#include "state_v1.h"
#include "store.h"

#define BASE_HEADER "mailfetch-state 2"
#define BASE_HEADER_V1 "mailfetch-state 1"
#define JOURNAL_HEADER "mailfetch-journal 2"
#define JOURNAL_HEADER_V1 "mailfetch-journal 1"
#define FLAG_LETTERS "DFPRST"
#define FLAG_KNOWN 0x80
#define MAXFIELDS 12
#define COMPACT_MIN (64 * 1024)
#define COMPACT_FRACTION 8
#define COMPACT_MAX (256 * 1024) /* the overlay a journal makes: ~0.5 MB */
#define PAGE 4096
#define BATCH_MIN 256 /* a listing this long is sorted and walked... */
#define BATCH_DENSE 32 /* ...when it holds 1/32 of the folder or more */
#define NPAGE 64 /* the page cache: 256 KB, whatever the file's size */
#define FOLD_MIN 8192 /* the overlay's bound: max(this, base lines / 16) */
#define FOLD_FRACTION 16
#define WCHUNK (256 * 1024) /* a compaction's writes */

/*
 * The base file is read with pread through a small cache of pages,
 * not mapped: each fault on a mapping brings the 64 KB around it into
 * the RSS (the kernel's fault-around), so that a few hundred lookups
 * would map most of a large file. A page goes to slot (number % NPAGE):
 * the first probes of every binary search stay cached.
 */
struct pcache {
	int fd;
	size_t size; /* of the file */
	size_t no[NPAGE]; /* the page number + 1 in each slot; 0: none */
	char *buf; /* NPAGE * PAGE */
	char *line; /* a line across pages, put together */
	size_t linecap, lineoff, linelen;
	int err; /* errno of a read that failed, else 0 */
};

struct sbuf {
	char *p;
	size_t len, cap;
};

struct sfolder {
	char *name, *ename; /* as known, and escaped as in the files */
	uint32_t uv, uidnext;
	uint64_t modseq;
	uint32_t duidnext; /* uidnext and modseq as the files have them */
	uint64_t dmodseq; /* (state_save writes them): what a fold keeps */
	size_t records; /* downloaded, not grew= (gone= too) */
	size_t live; /* downloaded, not grew=, not gone= */
	int64_t oldest; /* lower bound of their `when`; 0: none */
	int64_t gonemin; /* earliest gone= among them; 0: none */
	size_t present; /* recorded (grew= too), not gone=: a listing
			   that shows them all leaves nothing to prune */
	size_t nmarked; /* present records marked this run */
	int basevoid; /* reset: the base's lines do not count */
	int ranged; /* blo, bhi known */
	size_t blo, bhi; /* its M lines in the mapping */
	int metadirty; /* an S line is due */
};

/* A record of the overlay; also the form a base line is parsed into. */
struct orec {
	char *uid;
	char *file;
	char *intent;
	int64_t when; /* 0: not recorded (masks the base's line) */
	int64_t gone, intent_when;
	uint64_t announced, received; /* short=A/R; grew=: received */
	uint32_t fidx, hash;
	uint8_t flags;
	unsigned isshort : 1, grew : 1, marked : 1, inbase : 1;
	/* Looked up (look_mark_at) this run: state_look.seen. marked is
	 * also set by a download, which is no second listing. */
	unsigned looked : 1;
};

struct store {
	char *path, *jpath, *lpath, *tpath, *dir;
	struct sfolder *f;
	size_t nf;
	struct pcache *pc; /* the base file; NULL: none */
	size_t maplen, rbeg, rend; /* its size; [rbeg, rend): its M lines */
	uint8_t *marks; /* a bit per 8 bytes of [rbeg, rend) */
	size_t walked;
	int v1; /* the base is version 1 (or respelled): loaded whole,
		   compact at the first save */
	char *(*canon)(const char *); /* see state_set_canon */
	char *craw, *cname; /* the last name canonicalised, and to what */
	int crespelled;
	struct orec *o;
	size_t no, capo;
	uint32_t *tab; /* overlay index + 1 */
	size_t tabcap;
	struct strpool uids;
	size_t nbase; /* M lines of the base (about: from its F lines) */
	size_t nkept; /* records that came back the last fold kept */
	size_t foldmin; /* FOLD_MIN, or what a test set */
	struct strpool puids; /* the uids of pend */
	struct orec scratch; /* a base line, parsed */
	char *sbuf; /* its strings */
	size_t sbufcap;
	struct orec iscratch; /* the record store_next gave */
	char *ibuf;
	size_t ibufcap;
	struct state_intent *pend; /* pending at the open */
	size_t npend;
	struct sbuf jbuf;
	int jfd;
	off_t jvalid;
	uint64_t gen;
	int opened, readonly, existed, dirty;
	int corrupt; /* a base line did not parse: base_bad */
	int lockfd;
	size_t count;
	enum state_errkind kind;
	int errnum;
	char err[1024];
};

static void fail(struct store *, enum state_errkind, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail(struct store *st, enum state_errkind kind, int e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	if (kind == STATE_EOS && n >= 0 && (size_t)n < sizeof(st->err))
		snprintf(st->err + n, sizeof(st->err) - n, ": %s", strerror(e));
	st->kind = kind;
	st->errnum = kind == STATE_EOS ? e : 0;
}

/* An open of the lock or journal failed; O_NOFOLLOW makes a planted
 * symbolic link fail with ELOOP. */
static void
open_fail(struct store *st, const char *path)
{
	int e = errno;

	if (e == ELOOP)
		fail(st, STATE_EOS, e,
		    "%s is a symbolic link, not followed (remove it)", path);
	else
		fail(st, STATE_EOS, e, "open %s", path);
}

/* Buffers and escaping (the syntax: state_v1.c). */

static void
b_need(struct sbuf *b, size_t n)
{
	size_t cap = b->cap;

	while (cap == 0 || cap - b->len < n)
		cap = cap ? cap * 2 : 4096;
	if (cap != b->cap) {
		b->p = xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
}

static void
b_add(struct sbuf *b, const char *s, size_t n)
{
	b_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
b_c(struct sbuf *b, char c)
{
	b_add(b, &c, 1);
}

static void
b_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	b_add(b, tmp + i, sizeof(tmp) - i);
}

static void
b_tu64(struct sbuf *b, uint64_t v)
{
	b_c(b, '\t');
	b_u64(b, v);
}

static void
b_esc(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;

	b_need(b, 3 * strlen(s));
	for (; *u != '\0'; u++)
		if (stline_esc_needed(*u)) {
			b->p[b->len++] = '%';
			b->p[b->len++] = hex[*u >> 4];
			b->p[b->len++] = hex[*u & 0xf];
		} else
			b->p[b->len++] = (char)*u;
}

static void
b_tesc(struct sbuf *b, const char *s)
{
	b_c(b, '\t');
	b_esc(b, s);
}

static char *
escaped(const char *s)
{
	struct sbuf b = { NULL, 0, 0 };

	b_esc(&b, s);
	b_c(&b, '\0');
	/* b_need starts at 4 KB: a key kept per record (compaction) must
	 * not hold that much. */
	return xreallocarray(b.p, b.len, 1);
}

static void
flag_letters(uint8_t f, char *buf)
{
	size_t i;

	for (i = 0; FLAG_LETTERS[i] != '\0'; i++)
		if (f & (1u << i))
			*buf++ = FLAG_LETTERS[i];
	*buf = '\0';
}

/* As state.c's intent_name_ok: NAME or .SUB/NAME, nothing outside. */
/* Keys: (folder, uid), compared as escaped bytes; uids by length
 * first (numeric order for IMAP UIDs). */
static int
uid_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

/* The field after n TABs of the line at p (ending at LF): start and
 * length. */
static const char *
field_at(const char *p, const char *end, int n, size_t *len)
{
	const char *q;

	for (; n > 0; n--) {
		if ((q = memchr(p, '\t', (size_t)(end - p))) == NULL)
			return NULL;
		p = q + 1;
	}
	for (q = p; q < end && *q != '\t' && *q != '\n'; q++)
		;
	*len = (size_t)(q - p);
	return p;
}

/* The page pno of the cache's file, read when it is not cached. A read
 * that fails leaves the page empty (lines do not parse) and pc->err. */
static const char *
page_get(struct pcache *pc, size_t pno)
{
	size_t slot = pno % NPAGE, n = 0;
	char *p = pc->buf + slot * PAGE;
	ssize_t r;

	if (pc->no[slot] == pno + 1)
		return p;
	pc->no[slot] = 0;
	while (n < PAGE && pno * PAGE + n < pc->size) {
		r = pread(pc->fd, p + n, PAGE - n, (off_t)(pno * PAGE + n));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			pc->err = r == 0 ? EIO : errno;
			memset(p, 0, PAGE);
			return p;
		}
		n += (size_t)r;
	}
	pc->no[slot] = pno + 1;
	return p;
}

static char
byte_at(const struct store *st, size_t off)
{
	return page_get(st->pc, off / PAGE)[off % PAGE];
}

/* The line at off, LF included, into *len: valid until the next call
 * (it may be in the cache's line buffer, or in a page). */
static const char *
line_at(const struct store *st, size_t off, size_t *len)
{
	struct pcache *pc = st->pc;
	const char *p = page_get(pc, off / PAGE) + off % PAGE, *nl;
	size_t avail = PAGE - off % PAGE, n;

	if (avail > pc->size - off)
		avail = pc->size - off;
	if ((nl = memchr(p, '\n', avail)) != NULL || off + avail == pc->size) {
		*len = nl != NULL ? (size_t)(nl - p) + 1 : avail;
		return p;
	}
	if (pc->linelen > 0 && pc->lineoff == off) {
		*len = pc->linelen;
		return pc->line;
	}
	for (n = 0;;) {
		if (n + avail > pc->linecap) {
			pc->linecap = (n + avail) * 2;
			pc->line = xreallocarray(pc->line, pc->linecap, 1);
		}
		nl = memchr(p, '\n', avail);
		memcpy(
		    pc->line + n, p, nl != NULL ? (size_t)(nl - p) + 1 : avail);
		n += nl != NULL ? (size_t)(nl - p) + 1 : avail;
		if (nl != NULL || off + n >= pc->size)
			break;
		p = page_get(pc, (off + n) / PAGE);
		avail = PAGE < pc->size - off - n ? PAGE : pc->size - off - n;
	}
	pc->lineoff = off;
	pc->linelen = n;
	*len = n;
	return pc->line;
}

/* Compare the key of the M line at off with (ef, eu); eu NULL: the
 * lowest uid of ef when hi = 0, past the highest when hi = 1. */
static int
line_cmp(const struct store *st, size_t off, const char *ef, const char *eu,
    size_t eulen, int hi)
{
	const char *p, *end, *f, *u;
	size_t flen, ulen, eflen = strlen(ef), len;
	int c;

	p = line_at(st, off, &len);
	end = p + len;
	if ((f = field_at(p, end, 1, &flen)) == NULL
	    || (u = field_at(f, end, 3, &ulen)) == NULL)
		return 0;
	c = memcmp(f, ef, flen < eflen ? flen : eflen);
	if (c != 0)
		return c < 0 ? -1 : 1;
	if (flen != eflen)
		return flen < eflen ? -1 : 1;
	if (eu == NULL)
		return hi ? -1 : 1;
	return uid_cmp(u, ulen, eu, eulen);
}

static size_t
line_end(const struct store *st, size_t off)
{
	size_t len;

	(void)line_at(st, off, &len);
	return off + len;
}

/* The start of the line that holds byte off, not before lo. */
static size_t
line_start(const struct store *st, size_t lo, size_t off)
{
	const char *p;
	size_t i;

	while (off > lo) {
		p = page_get(st->pc, (off - 1) / PAGE);
		/* Back through the page's bytes before off. */
		for (i = (off - 1) % PAGE + 1; i > 0 && off > lo; i--, off--)
			if (p[i - 1] == '\n')
				return off;
	}
	return lo;
}

/* The first M line in [lo, hi) whose key is >= the key (or, for eu
 * NULL, see line_cmp); hi when none. */
static size_t
lower_bound(const struct store *st, size_t lo, size_t hi, const char *ef,
    const char *eu, size_t eulen, int high)
{
	size_t s;

	while (lo < hi) {
		s = line_start(st, lo, lo + (hi - lo) / 2);
		if (line_cmp(st, s, ef, eu, eulen, high) < 0)
			lo = line_end(st, s);
		else
			hi = s;
	}
	return lo;
}

static void
folder_range(struct store *st, struct sfolder *f)
{
	if (f->ranged)
		return;
	f->blo = lower_bound(st, st->rbeg, st->rend, f->ename, NULL, 0, 0);
	f->bhi = lower_bound(st, f->blo, st->rend, f->ename, NULL, 0, 1);
	f->ranged = 1;
}

/* Folders. */

static size_t
folder_find(const struct store *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nf; i++)
		if (strcmp(st->f[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static size_t
folder_add(struct store *st, const char *name, uint32_t uv)
{
	struct sfolder *f;

	st->f = xreallocarray(st->f, st->nf + 1, sizeof(*st->f));
	f = &st->f[st->nf];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->ename = escaped(name);
	f->uv = uv;
	f->basevoid = 1; /* a folder the base does not declare */
	f->ranged = 1;
	return st->nf++;
}

static int
present_of(const struct orec *r)
{
	return r->when != 0 && r->gone == 0;
}

static int
live_of(const struct orec *r)
{
	return r->when != 0 && !r->grew && r->gone == 0;
}

static void
orec_void(struct orec *r)
{
	r->when = 0;
	r->gone = 0;
	r->isshort = r->grew = 0;
	free(r->file);
	r->file = NULL;
	r->flags = 0;
}

static void
folder_reset(struct store *st, size_t fi, uint32_t uv)
{
	struct sfolder *f = &st->f[fi];
	size_t i;

	for (i = 0; i < st->no; i++)
		if (st->o[i].fidx == fi) {
			orec_void(&st->o[i]);
			free(st->o[i].intent);
			st->o[i].intent = NULL;
			st->o[i].inbase = 0;
			st->o[i].marked = 0;
		}
	st->count -= st->count >= f->records ? f->records : st->count;
	f->records = 0;
	f->basevoid = 1;
	f->uv = uv;
	f->uidnext = f->duidnext = 0;
	f->modseq = f->dmodseq = 0;
	f->live = 0;
	f->present = 0;
	f->oldest = f->gonemin = 0;
	f->nmarked = 0;
	f->metadirty = 1;
}

static size_t
folder_use(struct store *st, const char *name, uint32_t uv, int journal)
{
	size_t fi = folder_find(st, name);

	if (fi != SIZE_MAX && st->f[fi].uv == uv)
		return fi;
	if (fi == SIZE_MAX)
		fi = folder_add(st, name, uv);
	else
		folder_reset(st, fi, uv);
	if (journal) {
		b_c(&st->jbuf, 'F');
		b_tesc(&st->jbuf, name);
		b_tu64(&st->jbuf, uv);
		b_c(&st->jbuf, '\n');
		st->dirty = 1;
	}
	return fi;
}

static const struct sfolder *
folder_uv(const struct store *st, const char *name, uint32_t uv)
{
	size_t fi = folder_find(st, name);

	return fi == SIZE_MAX || st->f[fi].uv != uv ? NULL : &st->f[fi];
}

/* Base lines. */

/* Parse the M line at off into *r, its strings in *buf. */
static int
parse_into(
    const struct store *st, size_t off, struct orec *r, char **buf, size_t *cap)
{
	size_t len, nf = 0, i;
	const char *line = line_at(st, off, &len);
	char *fld[MAXFIELDS], *s;
	uint64_t v;
	uint8_t fl;

	if (len + 1 > *cap) {
		*cap = len + 1 + 256;
		*buf = xreallocarray(*buf, *cap, 1);
	}
	memcpy(*buf, line, len);
	(*buf)[len > 0 && (*buf)[len - 1] == '\n' ? len - 1 : len] = '\0';
	fld[nf++] = *buf;
	for (s = *buf; *s != '\0'; s++)
		if (*s == '\t') {
			if (nf == MAXFIELDS)
				return -1;
			*s = '\0';
			fld[nf++] = s + 1;
		}
	memset(r, 0, sizeof(*r));
	if (nf < 5 || strcmp(fld[0], "M") != 0
	    || stline_parse_u64(fld[3], INT64_MAX, &v) == -1 || v == 0
	    || stline_unescape(fld[4]) == -1)
		return -1;
	r->when = (int64_t)v;
	r->uid = fld[4];
	for (i = 5; i < nf; i++) {
		if (strncmp(fld[i], "gone=", 5) == 0
		    && stline_parse_u64(fld[i] + 5, INT64_MAX, &v) == 0)
			r->gone = (int64_t)v;
		else if (strncmp(fld[i], "file=", 5) == 0
		    && stline_unescape(fld[i] + 5) == 0
		    && stline_name_ok(fld[i] + 5))
			r->file = fld[i] + 5;
		else if (strncmp(fld[i], "flags=", 6) == 0
		    && stline_parse_flags(fld[i] + 6, &fl) == 0)
			r->flags = fl;
		else if (strncmp(fld[i], "grew=", 5) == 0
		    && stline_parse_u64(fld[i] + 5, UINT64_MAX, &r->received)
			== 0)
			r->grew = 1;
		else if (strncmp(fld[i], "short=", 6) == 0
		    && (s = strchr(fld[i] + 6, '/')) != NULL) {
			*s = '\0';
			if (stline_parse_u64(
				fld[i] + 6, UINT64_MAX, &r->announced)
				== -1
			    || stline_parse_u64(s + 1, UINT64_MAX, &r->received)
				== -1)
				return -1;
			r->isshort = 1;
		} else
			return -1;
	}
	return 0;
}

/* Lookups parse into st->sbuf, iterations into st->ibuf: a record an
 * iteration gave stays valid across lookups. */
static int
parse_base(struct store *st, size_t off, struct orec *r)
{
	return parse_into(st, off, r, &st->sbuf, &st->sbufcap);
}

/* A base line that does not parse: the file is corrupt. Lookups cannot
 * fail, so it is remembered, and the next sync or save fails with it
 * (before anything is deleted: that comes after a sync). */
static int
base_bad(struct store *st, size_t off)
{
	if (!st->corrupt && st->pc->err != 0)
		fail(st, STATE_EOS, st->pc->err, "read %s", st->path);
	else if (!st->corrupt)
		fail(st, STATE_ECORRUPT, 0, "%s: bad record line at byte %zu",
		    st->path, off);
	st->corrupt = 1;
	return -1;
}

/* The base line of (f, uid): its offset, or SIZE_MAX. */
static size_t
base_find(struct store *st, struct sfolder *f, const char *uid)
{
	char *eu;
	size_t off;

	if (f->basevoid || st->pc == NULL)
		return SIZE_MAX;
	folder_range(st, f);
	if (f->blo == f->bhi)
		return SIZE_MAX;
	eu = escaped(uid);
	off = lower_bound(st, f->blo, f->bhi, f->ename, eu, strlen(eu), 0);
	if (off >= f->bhi || line_cmp(st, off, f->ename, eu, strlen(eu), 0))
		off = SIZE_MAX;
	free(eu);
	return off;
}

/* The overlay. */

static uint32_t
ohash(size_t fidx, const char *uid)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *u = (const unsigned char *)uid;

	h ^= (uint64_t)fidx;
	h *= 1099511628211ULL;
	for (; *u != '\0'; u++) {
		h ^= *u;
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static struct orec *
ov_find(const struct store *st, size_t fidx, const char *uid)
{
	uint32_t h = ohash(fidx, uid);
	struct orec *r;
	size_t i;

	if (st->tabcap == 0)
		return NULL;
	for (i = h & (st->tabcap - 1); st->tab[i] != 0;
	     i = (i + 1) & (st->tabcap - 1)) {
		r = &st->o[st->tab[i] - 1];
		if (r->hash == h && r->fidx == fidx && strcmp(r->uid, uid) == 0)
			return r;
	}
	return NULL;
}

static void
tab_put(struct store *st, size_t idx)
{
	size_t i;

	for (i = st->o[idx].hash & (st->tabcap - 1); st->tab[i] != 0;
	     i = (i + 1) & (st->tabcap - 1))
		;
	st->tab[i] = (uint32_t)(idx + 1);
}

/* The overlay's bound: past it, store_sync folds. */
static size_t
fold_bound(const struct store *st)
{
	size_t n = st->nbase / FOLD_FRACTION;

	return n > st->foldmin ? n : st->foldmin;
}

/* A new, zeroed record at the overlay's end (st->no not counted yet);
 * the arrays grown as needed. */
static struct orec *
ov_slot(struct store *st)
{
	struct orec *r;
	size_t i;

	if ((st->no + 1) * 2 > st->tabcap) {
		free(st->tab);
		st->tabcap = st->tabcap ? st->tabcap * 2 : 64;
		st->tab = xcalloc(st->tabcap, sizeof(*st->tab));
		for (i = 0; i < st->no; i++)
			tab_put(st, i);
	}
	/* Past the fold's bound by a batch or so: not twice the bound (far
	 * past it, a version 1 file loaded whole: doubled again). */
	if (st->no == st->capo) {
		st->capo += st->capo == 0 ? 64
		    : st->capo >= fold_bound(st)
			&& st->capo < 2 * fold_bound(st)
		    ? st->capo / 8
		    : st->capo;
		st->o = xreallocarray(st->o, st->capo, sizeof(*st->o));
	}
	r = &st->o[st->no];
	memset(r, 0, sizeof(*r));
	return r;
}

/* The overlay record of (fidx, uid), made from the base's line (or
 * void) when missing. */
static struct orec *
ov_get(struct store *st, size_t fidx, const char *uid)
{
	struct orec *r, b;
	size_t off;

	if ((r = ov_find(st, fidx, uid)) != NULL)
		return r;
	r = ov_slot(st);
	off = base_find(st, &st->f[fidx], uid);
	if (off != SIZE_MAX && parse_base(st, off, &b) == -1)
		base_bad(st, off);
	else if (off != SIZE_MAX) {
		*r = b;
		r->file = b.file != NULL ? xstrdup(b.file) : NULL;
		r->inbase = 1;
		r->marked = st->marks != NULL
		    && (st->marks[(off - st->rbeg) / 64]
			& (1u << ((off - st->rbeg) / 8 % 8)));
	}
	r->uid = strpool_add(&st->uids, uid);
	r->fidx = (uint32_t)fidx;
	r->hash = ohash(fidx, uid);
	tab_put(st, st->no++);
	return r;
}

/* Account for a change of r in its folder's header values. */
static void
ov_settle(
    struct store *st, struct orec *r, int waslive, int wasrec, int waspres)
{
	struct sfolder *f = &st->f[r->fidx];
	int now = live_of(r), rec = r->when != 0 && !r->grew;

	if (present_of(r) && !waspres)
		f->present++;
	else if (!present_of(r) && waspres && f->present > 0)
		f->present--;

	if (now && !waslive)
		f->live++;
	else if (!now && waslive && f->live > 0)
		f->live--;
	if (rec && !wasrec) {
		st->count++;
		f->records++;
	} else if (!rec && wasrec && st->count > 0 && f->records > 0) {
		st->count--;
		f->records--;
	}
	if (now && (f->oldest == 0 || r->when < f->oldest))
		f->oldest = r->when;
	if (r->gone != 0 && (f->gonemin == 0 || r->gone < f->gonemin))
		f->gonemin = r->gone;
	f->metadirty = 1;
	st->dirty = 1;
}

struct snap {
	int live, rec, pres, mp;
};

static struct snap
snap_of(const struct orec *r)
{
	struct snap s;

	s.live = live_of(r);
	s.rec = r->when != 0 && !r->grew;
	s.pres = present_of(r);
	s.mp = s.pres && r->marked;
	return s;
}

static void
settle(struct store *st, struct orec *r, struct snap was)
{
	struct sfolder *f = &st->f[r->fidx];
	int mp = present_of(r) && r->marked;

	if (mp && !was.mp)
		f->nmarked++;
	else if (!mp && was.mp && f->nmarked > 0)
		f->nmarked--;
	ov_settle(st, r, was.live, was.rec, was.pres);
}

/* A record as lookups see it: the overlay's, else the base's (parsed
 * into st->scratch), else NULL. */
static const struct orec *
rec_lookup(struct store *st, const char *folder, uint32_t uv, const char *uid)
{
	size_t fi = folder_find(st, folder), off;
	struct orec *r;

	if (fi == SIZE_MAX || st->f[fi].uv != uv)
		return NULL;
	if ((r = ov_find(st, fi, uid)) != NULL)
		return r->when != 0 ? r : NULL;
	off = base_find(st, &st->f[fi], uid);
	if (off == SIZE_MAX)
		return NULL;
	if (parse_base(st, off, &st->scratch) == -1) {
		base_bad(st, off);
		return NULL;
	}
	return &st->scratch;
}

/* Lines. */

static void
line_m(struct sbuf *b, const struct store *st, const struct orec *r)
{
	const struct sfolder *f = &st->f[r->fidx];
	char letters[8];

	b_c(b, 'M');
	b_tesc(b, f->name);
	b_tu64(b, f->uv);
	b_tu64(b, (uint64_t)r->when);
	b_tesc(b, r->uid);
	if (r->gone != 0) {
		b_add(b, "\tgone=", 6);
		b_u64(b, (uint64_t)r->gone);
	}
	if (r->isshort) {
		b_add(b, "\tshort=", 7);
		b_u64(b, r->announced);
		b_c(b, '/');
		b_u64(b, r->received);
	}
	if (r->grew) {
		b_add(b, "\tgrew=", 6);
		b_u64(b, r->received);
	}
	if (r->file != NULL) {
		b_add(b, "\tfile=", 6);
		b_esc(b, r->file);
	}
	if (r->flags & FLAG_KNOWN) {
		flag_letters(r->flags, letters);
		b_add(b, "\tflags=", 7);
		b_add(b, letters, strlen(letters));
	}
	b_c(b, '\n');
}

static void
line_key(struct sbuf *b, char type, const char *folder, uint32_t uv,
    int64_t when, const char *uid)
{
	b_c(b, type);
	b_tesc(b, folder);
	b_tu64(b, uv);
	b_tu64(b, (uint64_t)when);
	b_tesc(b, uid);
}

/* A line of the journal or of a version 1 base, split and checked. */
struct jline {
	char *fld[MAXFIELDS];
	size_t nf;
	uint64_t uv, when, n[4];
	struct orec at; /* M: its attributes */
};

static int
split(struct jline *l, char *line, const char **what)
{
	char *s;

	memset(l, 0, sizeof(*l));
	l->fld[l->nf++] = line;
	for (s = line; *s != '\0'; s++)
		if (*s == '\t') {
			if (l->nf == MAXFIELDS)
				return *what = "too many fields", -1;
			*s = '\0';
			l->fld[l->nf++] = s + 1;
		}
	if (l->nf < 3 || strlen(l->fld[0]) != 1
	    || strchr("FSMIX", l->fld[0][0]) == NULL)
		return *what = "unknown line type", -1;
	if (stline_unescape(l->fld[1]) == -1)
		return *what = "bad folder name", -1;
	if (stline_parse_u64(l->fld[2], UINT32_MAX, &l->uv) == -1)
		return *what = "bad uidvalidity", -1;
	return 0;
}

static int
check_attrs(struct jline *l, const char **what)
{
	struct orec *a = &l->at;
	uint64_t v;
	size_t i;
	char *s;

	for (i = 5; i < l->nf; i++) {
		s = l->fld[i];
		if (strncmp(s, "gone=", 5) == 0
		    && stline_parse_u64(s + 5, INT64_MAX, &v) == 0 && v != 0)
			a->gone = (int64_t)v;
		else if (strncmp(s, "file=", 5) == 0
		    && stline_unescape(s + 5) == 0 && stline_name_ok(s + 5))
			a->file = s + 5;
		else if (strncmp(s, "flags=", 6) == 0
		    && stline_parse_flags(s + 6, &a->flags) == 0)
			;
		else if (strncmp(s, "grew=", 5) == 0
		    && stline_parse_u64(s + 5, UINT64_MAX, &a->received) == 0
		    && a->received != 0)
			a->grew = 1;
		else if (strncmp(s, "short=", 6) == 0
		    && sscanf(s + 6, "%" SCNu64 "/%" SCNu64, &a->announced,
			   &a->received)
			== 2
		    && a->received < a->announced)
			a->isshort = 1;
		else
			return *what = "bad attribute", -1;
	}
	return 0;
}

static int
check_rec(struct jline *l, char type, const char **what)
{
	if (l->nf < 5 || (type != 'M' && l->nf != (type == 'I' ? 6u : 5u)))
		return *what = "wrong number of fields", -1;
	if (stline_parse_u64(l->fld[3], INT64_MAX, &l->when) == -1
	    || l->when == 0)
		return *what = "bad time", -1;
	if (stline_unescape(l->fld[4]) == -1 || l->fld[4][0] == '\0')
		return *what = "bad uid", -1;
	if (type == 'I'
	    && (stline_unescape(l->fld[5]) == -1 || !stline_name_ok(l->fld[5])))
		return *what = "bad file name", -1;
	return type == 'M' ? check_attrs(l, what) : 0;
}

/* Record a download into r, as state.c's apply_rec does. */
static void
rec_apply_m(struct orec *r, int64_t when, const struct orec *at)
{
	char *file = at->file != NULL ? xstrdup(at->file) : NULL;

	free(r->file); /* at->file may be it */
	r->file = file;
	r->flags = at->flags;
	if (at->grew) {
		if (r->when == 0 || r->grew) {
			r->when = when;
			r->isshort = 0;
			r->grew = 1;
			r->received = at->received;
		}
	} else {
		if (r->when == 0 || r->grew || when < r->when)
			r->when = when;
		if (r->grew)
			r->isshort = 0;
		r->grew = 0;
		if (at->isshort) {
			r->isshort = 1;
			r->announced = at->announced;
			r->received = at->received;
		}
	}
	r->gone = at->gone;
	free(r->intent);
	r->intent = NULL;
}

static const char *canon_name(struct store *, const char *, int *);

/* Apply a line of the journal (or of a version 2 base's header, v1base). */
static int
apply_line(struct store *st, char *line, int v1base, const char **what)
{
	struct jline l;
	struct orec *r;
	struct snap was;
	size_t fi;
	int respelled;
	char t;

	if (split(&l, line, what) == -1)
		return -1;
	t = l.fld[0][0];
	l.fld[1] = (char *)canon_name(st, l.fld[1], &respelled);
	fi = folder_find(st, l.fld[1]);
	/* A line of an older mailfetch that names the folder otherwise
	 * merges as state_v1.c's load_line does: it resets nothing of the
	 * same or a higher UIDVALIDITY. */
	if (respelled && fi != SIZE_MAX
	    && ((uint32_t)l.uv < st->f[fi].uv
		|| ((uint32_t)l.uv == st->f[fi].uv && t == 'F')))
		return 0;
	if (t == 'F' || t == 'S') {
		if ((t == 'F' && l.nf != 3) || (t == 'S' && l.nf != 7))
			return *what = "wrong number of fields", -1;
		if ((t == 'S' && l.nf != 7)
		    || (l.nf >= 4
			&& stline_parse_u64(l.fld[3], UINT32_MAX, &l.n[0]))
		    || (l.nf >= 5
			&& stline_parse_u64(l.fld[4], UINT64_MAX, &l.n[1]))
		    || (t == 'S'
			&& (stline_parse_u64(l.fld[5], INT64_MAX, &l.n[2])
			    || stline_parse_u64(l.fld[6], INT64_MAX, &l.n[3]))))
			return *what = "bad folder line", -1;
		if (t == 'F' && !v1base && fi != SIZE_MAX)
			folder_reset(st, fi, (uint32_t)l.uv);
		else
			fi = folder_use(st, l.fld[1], (uint32_t)l.uv, 0);
		st->f[fi].uidnext = st->f[fi].duidnext = (uint32_t)l.n[0];
		st->f[fi].modseq = st->f[fi].dmodseq = l.n[1];
		if (t == 'S') {
			/* Exact as of that save (a prune's walk), or lower
			 * bounds: either stands until a later change. */
			st->f[fi].oldest = (int64_t)l.n[2];
			st->f[fi].gonemin = (int64_t)l.n[3];
		}
		return 0;
	}
	if (check_rec(&l, t, what) == -1)
		return -1;
	fi = folder_use(st, l.fld[1], (uint32_t)l.uv, 0);
	r = ov_get(st, fi, l.fld[4]);
	was = snap_of(r);
	if (t == 'M')
		rec_apply_m(r, (int64_t)l.when, &l.at);
	else if (t == 'X') {
		orec_void(r);
		free(r->intent);
		r->intent = NULL;
	} else {
		free(r->intent);
		r->intent = xstrdup(l.fld[5]);
		r->intent_when = (int64_t)l.when;
	}
	settle(st, r, was);
	return 0;
}

/* Apply every line of [p, end) of a file that starts at data, after
 * its two head lines. For a journal, a last line without LF is a torn
 * write: cut off (st->jvalid says how much is good). */
static int
apply_lines(struct store *st, const char *path, char *data, char *p, char *end,
    int v1base)
{
	const char *what;
	size_t lineno = 3;
	char *nl;
	int nul;

	for (; p < end; p = nl + 1, lineno++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			if (!v1base)
				break;
			fail(st, STATE_ECORRUPT, 0,
			    "%s:%zu: last line has no newline (truncated file)",
			    path, lineno);
			return -1;
		}
		*nl = '\0';
		nul = memchr(p, '\0', (size_t)(nl - p)) != NULL;
		if (nul || apply_line(st, p, v1base, &what) == -1) {
			fail(st, STATE_ECORRUPT, 0, "%s:%zu: %s", path, lineno,
			    nul ? "NUL byte" : what);
			return -1;
		}
	}
	if (!v1base)
		st->jvalid = (off_t)(p - data);
	return 0;
}

/* Files. */

static int
read_all(struct store *st, const char *path, char **data, size_t *len)
{
	struct sbuf b = { NULL, 0, 0 };
	ssize_t r;
	int fd, e;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		fail(st, STATE_EOS, errno, "open %s", path);
		return -1;
	}
	for (;;) {
		b_need(&b, 65536);
		if ((r = read(fd, b.p + b.len, b.cap - b.len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			free(b.p);
			fail(st, STATE_EOS, e, "read %s", path);
			return -1;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
	}
	close(fd);
	b.p[b.len] = '\0';
	*data = b.p;
	*len = b.len;
	return 0;
}

/* The two head lines of a file at p: its header (one of two) and the
 * generation into *gen. Returns the offset past them, or 0. */
static size_t
parse_head(const char *p, size_t len, const char *h1, const char *h2,
    uint64_t *gen, int *which)
{
	const char *nl = memchr(p, '\n', len), *nl2;
	char tmp[32];
	size_t n;

	if (nl == NULL)
		return 0;
	n = (size_t)(nl - p);
	if (n == strlen(h1) && memcmp(p, h1, n) == 0)
		*which = 1;
	else if (n == strlen(h2) && memcmp(p, h2, n) == 0)
		*which = 2;
	else
		return 0;
	nl2 = memchr(nl + 1, '\n', len - n - 1);
	if (nl2 == NULL || nl2 - nl - 1 < 3 || nl2 - nl - 1 > 22 || nl[1] != 'G'
	    || nl[2] != '\t')
		return 0;
	memcpy(tmp, nl + 3, (size_t)(nl2 - nl - 3));
	tmp[nl2 - nl - 3] = '\0';
	if (stline_parse_u64(tmp, INT64_MAX, gen) == -1)
		return 0;
	return (size_t)(nl2 - p) + 1;
}

static void store_clear(struct store *);

/*
 * The name the folder raw of a line is known by (state_set_canon), and
 * in *respelled whether that is another. The last one is remembered: a
 * file's lines come grouped by folder.
 */
static const char *
canon_name(struct store *st, const char *raw, int *respelled)
{
	*respelled = 0;
	if (st->canon == NULL)
		return raw;
	if (st->craw == NULL || strcmp(st->craw, raw) != 0) {
		free(st->craw);
		free(st->cname);
		st->craw = xstrdup(raw);
		if ((st->cname = st->canon(raw)) == NULL)
			st->cname = xstrdup(raw);
		st->crespelled = strcmp(st->cname, raw) != 0;
	}
	*respelled = st->crespelled;
	return st->cname;
}

/* A record of the converter into the overlay. */
static void
import_rec(struct store *st, const size_t *fmap, const struct v1_rec *v)
{
	struct orec *r;
	struct snap was;

	if (v->when == 0 && v->intent == NULL)
		return;
	r = ov_get(st, fmap[v->folder], v->uid);
	was = snap_of(r);
	r->when = v->when;
	r->gone = v->gone;
	r->file = v->file != NULL ? xstrdup(v->file) : NULL;
	r->flags = v->flags;
	r->isshort = v->isshort != 0;
	r->grew = v->grew != 0;
	r->announced = v->announced;
	r->received = v->received;
	if (v->intent != NULL) {
		r->intent = xstrdup(v->intent);
		r->intent_when = v->intent_when;
	}
	settle(st, r, was);
}

/*
 * A base of version 1, or of version 2 with folder names canon
 * respells: read whole and strictly by state_v1.c (the names merged
 * there), put into the overlay, and compacted into version 2 by the
 * first save. One run pays what every run paid before version 2.
 */
static int
open_convert(struct store *st)
{
	struct v1 *v = v1_new(st->path, st->canon);
	struct v1_rec rec;
	const char *name;
	size_t i, *fmap = NULL;
	uint32_t uv, uidnext;
	uint64_t modseq;
	int rv = -1;

	store_clear(st);
	if (v1_load(v) == -1) {
		/* The text has strerror already. */
		fail(st, STATE_ECORRUPT, 0, "%s", v1_error(v));
		st->kind = v1_errkind(v);
		st->errnum = v1_errno(v);
		goto done;
	}
	st->v1 = st->existed = 1;
	st->gen = v1_gen(v);
	for (i = 0; (name = v1_folder(v, i, &uv, &uidnext, &modseq)); i++) {
		fmap = xreallocarray(fmap, i + 1, sizeof(*fmap));
		fmap[i] = folder_use(st, name, uv, 0);
		st->f[fmap[i]].uidnext = st->f[fmap[i]].duidnext = uidnext;
		st->f[fmap[i]].modseq = st->f[fmap[i]].dmodseq = modseq;
	}
	for (i = 0; v1_rec(v, i, &rec); i++)
		import_rec(st, fmap, &rec);
	rv = 0;
done:
	free(fmap);
	v1_free(v);
	return rv;
}

/* Whether canon respells a folder name of the base. */
static int
respelled_base(struct store *st)
{
	size_t i;
	int r;

	for (i = 0; i < st->nf; i++) {
		(void)canon_name(st, st->f[i].name, &r);
		if (r)
			return 1;
	}
	return 0;
}

/* An F line of a version 2 base. */
static int
head_f(struct store *st, char *line)
{
	char *fld[11], *s;
	uint64_t v[8];
	struct sfolder *f;
	size_t nf = 0, i;

	fld[nf++] = line;
	for (s = line; *s != '\0'; s++)
		if (*s == '\t') {
			if (nf == 11)
				return -1;
			*s = '\0';
			fld[nf++] = s + 1;
		}
	if (nf != 10 || stline_unescape(fld[1]) == -1
	    || folder_find(st, fld[1]) != SIZE_MAX)
		return -1;
	for (i = 0; i < 8; i++)
		if (stline_parse_u64(fld[i + 2],
			i == 0 || i == 1 ? UINT32_MAX : INT64_MAX, &v[i])
		    == -1)
			return -1;
	i = folder_add(st, fld[1], (uint32_t)v[0]);
	f = &st->f[i]; /* after: folder_add moves st->f */
	f->basevoid = 0;
	f->ranged = 0;
	f->uidnext = f->duidnext = (uint32_t)v[1];
	f->modseq = f->dmodseq = v[2];
	f->records = (size_t)v[3];
	f->live = (size_t)v[4];
	f->present = (size_t)v[5];
	f->oldest = (int64_t)v[6];
	f->gonemin = (int64_t)v[7];
	st->count += f->records;
	st->nbase += f->records;
	return 0;
}

/* The F and I lines of a version 2 base, [head, rbeg). */
static int
open_head(struct store *st, size_t head)
{
	const char *what = "bad folder line", *p;
	char *line;
	size_t off, n, lineno = 3;
	int rv = 0;

	for (off = head; off < st->rbeg && rv == 0; off += n + 1, lineno++) {
		p = line_at(st, off, &n);
		n--; /* the LF */
		line = xstrndup(p, n);
		if (strlen(line) != n)
			rv = -1, what = "NUL byte";
		else if (line[0] == 'F' && line[1] == '\t')
			rv = head_f(st, line);
		else if (line[0] == 'I' && line[1] == '\t')
			rv = apply_line(st, line, 0, &what);
		else
			rv = -1, what = "unknown line type";
		free(line);
		if (rv == -1)
			fail(st, STATE_ECORRUPT, 0, "%s:%zu: %s", st->path,
			    lineno, what);
	}
	return rv;
}

static int
open_base(struct store *st)
{
	struct stat sb;
	const char *p;
	size_t head, off;
	int fd, which, e;

	if ((fd = open(st->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		fail(st, STATE_EOS, errno, "open %s", st->path);
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		e = errno;
		close(fd);
		fail(st, STATE_EOS, e, "stat %s", st->path);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		fail(st, STATE_EOS, S_ISDIR(sb.st_mode) ? EISDIR : EINVAL,
		    "read %s", st->path);
		return -1;
	}
	st->existed = 1;
	if (sb.st_size == 0) {
		close(fd);
		fail(st, STATE_ECORRUPT, 0, "%s:1: empty file", st->path);
		return -1;
	}
	st->maplen = (size_t)sb.st_size;
	st->pc = xcalloc(1, sizeof(*st->pc));
	st->pc->fd = fd;
	st->pc->size = st->maplen;
	st->pc->buf = xmalloc(NPAGE * PAGE);
	p = page_get(st->pc, 0);
	head = parse_head(p, st->maplen < PAGE ? st->maplen : PAGE,
	    BASE_HEADER_V1, BASE_HEADER, &st->gen, &which);
	if (st->pc->err != 0) {
		fail(st, STATE_EOS, st->pc->err, "read %s", st->path);
		return -1;
	}
	/* Version 1, or a file that does not even start or end right:
	 * the strict loader converts it, or says where it is wrong. */
	if (head == 0 || byte_at(st, st->maplen - 1) != '\n' || which == 1)
		return open_convert(st);
	/* The M lines start at the first line that is one. */
	for (off = head; off < st->maplen; off = line_end(st, off))
		if (byte_at(st, off) == 'M')
			break;
	st->rbeg = off;
	st->rend = st->maplen;
	if (open_head(st, head) == -1)
		return -1;
	return respelled_base(st) ? open_convert(st) : 0;
}

/*
 * The journal's two head lines, as state_v1.c reads a file's: 0 and the
 * offset past them in *head (0: the journal was cut before its
 * generation line and holds nothing), or -1.
 */
static int
journal_head(
    struct store *st, const char *data, size_t len, size_t *head, uint64_t *gen)
{
	const char *nl = memchr(data, '\n', len), *nl2;
	int which;

	*head = 0;
	if (nl == NULL)
		return 0;
	if (!((size_t)(nl - data) == strlen(JOURNAL_HEADER)
		&& memcmp(data, JOURNAL_HEADER, strlen(JOURNAL_HEADER)) == 0)
	    && !((size_t)(nl - data) == strlen(JOURNAL_HEADER_V1)
		&& memcmp(data, JOURNAL_HEADER_V1, strlen(JOURNAL_HEADER_V1))
		    == 0)) {
		fail(st, STATE_ECORRUPT, 0, "%s:1: bad header, expected \"%s\"",
		    st->jpath, JOURNAL_HEADER);
		return -1;
	}
	if ((nl2 = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - data))) == NULL)
		return 0;
	*head = parse_head(
	    data, len, JOURNAL_HEADER_V1, JOURNAL_HEADER, gen, &which);
	if (*head == 0) {
		fail(st, STATE_ECORRUPT, 0,
		    "%s:2: expected the generation line", st->jpath);
		return -1;
	}
	return 0;
}

static int
open_journal(struct store *st)
{
	char *data;
	size_t len, head;
	uint64_t gen;
	int rc;

	if ((rc = read_all(st, st->jpath, &data, &len)) != 0) {
		st->jvalid = 0;
		return rc == 1 ? 0 : -1;
	}
	st->dirty = 1;
	rc = journal_head(st, data, len, &head, &gen);
	if (rc == -1 || head == 0 || gen < st->gen)
		/* Cut before its generation line: it holds nothing; older
		 * than the base: folded in already. */
		st->jvalid = 0;
	else
		rc = apply_lines(
		    st, st->jpath, data, data + head, data + len, 0);
	free(data);
	return rc;
}

struct store *
store_new(const char *path)
{
	struct store *st = xcalloc(1, sizeof(*st));
	const char *s;

	st->path = xstrdup(path);
	xasprintf(&st->jpath, "%s.journal", path);
	xasprintf(&st->lpath, "%s.lock", path);
	xasprintf(&st->tpath, "%s.tmp", path);
	s = strrchr(path, '/');
	st->dir = s == NULL
	    ? xstrdup(".")
	    : xstrndup(path, s == path ? 1 : (size_t)(s - path));
	st->jfd = st->lockfd = -1;
	st->foldmin = FOLD_MIN;
	return st;
}

/* mkdir -p the store's directory, 0700, each new one made durable. */
static int
make_dir(struct store *st)
{
	char *p = xstrdup(st->dir), *s, c;

	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) == 0) {
			if (fsync_parent(p) == -1) {
				fail(st, STATE_EOS, errno, "fsync parent of %s",
				    p);
				free(p);
				return -1;
			}
		} else if (errno != EEXIST) {
			fail(st, STATE_EOS, errno, "mkdir %s", p);
			free(p);
			return -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return 0;
}

void
store_set_canon(struct store *st, char *(*canon)(const char *))
{
	st->canon = canon;
}

int
store_lock(struct store *st)
{
	int fd;

	if (st->lockfd != -1)
		return 0;
	if (make_dir(st) == -1)
		return -1;
	fd = open(st->lpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		open_fail(st, st->lpath);
		return -1;
	}
	/* flock locks belong to the open file description: a second open
	 * in this very process conflicts too. */
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			fail(st, STATE_ELOCKED, 0,
			    "another mailfetch run holds the lock on %s",
			    st->lpath);
		else
			fail(st, STATE_EOS, errno, "lock %s", st->lpath);
		close(fd);
		return -1;
	}
	st->lockfd = fd;
	return 0;
}

static void collect_pending(struct store *);

int
store_open(struct store *st, int readonly)
{
	size_t i;

	st->readonly = readonly;
	if (open_base(st) == -1 || open_journal(st) == -1)
		return -1;
	/* What the files hold is no change: a save writes nothing until
	 * something changes (a version 1 or missing base is converted
	 * anyway: store_save). */
	for (i = 0; i < st->nf; i++)
		st->f[i].metadirty = 0;
	st->dirty = 0;
	collect_pending(st);
	st->opened = 1;
	return 0;
}

uint32_t
store_uidvalidity(const struct store *st, const char *folder)
{
	size_t fi = folder_find(st, folder);

	return fi == SIZE_MAX ? 0 : st->f[fi].uv;
}

void
store_reset_folder(struct store *st, const char *folder, uint32_t uv)
{
	size_t fi = folder_find(st, folder);

	if (fi == SIZE_MAX)
		fi = folder_add(st, folder, uv);
	else
		folder_reset(st, fi, uv);
	b_c(&st->jbuf, 'F');
	b_tesc(&st->jbuf, folder);
	b_tu64(&st->jbuf, uv);
	b_c(&st->jbuf, '\n');
	st->dirty = 1;
}

uint32_t
store_uidnext(const struct store *st, const char *folder, uint32_t uv)
{
	const struct sfolder *f = folder_uv(st, folder, uv);

	return f == NULL ? 0 : f->uidnext;
}

uint64_t
store_modseq(const struct store *st, const char *folder, uint32_t uv)
{
	const struct sfolder *f = folder_uv(st, folder, uv);

	return f == NULL ? 0 : f->modseq;
}

static struct sfolder *
folder_meta(struct store *st, const char *folder, uint32_t uv)
{
	size_t fi = folder_find(st, folder);

	if (fi == SIZE_MAX)
		fi = folder_add(st, folder, uv);
	return st->f[fi].uv == uv ? &st->f[fi] : NULL;
}

void
store_set_uidnext(
    struct store *st, const char *folder, uint32_t uv, uint32_t uidnext)
{
	struct sfolder *f = folder_meta(st, folder, uv);

	if (f != NULL && f->uidnext != uidnext) {
		f->uidnext = uidnext;
		f->metadirty = st->dirty = 1;
	}
}

void
store_set_modseq(
    struct store *st, const char *folder, uint32_t uv, uint64_t modseq)
{
	struct sfolder *f = folder_meta(st, folder, uv);

	if (f != NULL && f->modseq != modseq) {
		f->modseq = modseq;
		f->metadirty = st->dirty = 1;
	}
}

size_t
store_folder_count(
    const struct store *st, const char *folder, uint32_t uv, int64_t *oldest)
{
	const struct sfolder *f = folder_uv(st, folder, uv);

	*oldest = f != NULL && f->live > 0 ? f->oldest : 0;
	return f == NULL ? 0 : f->live;
}

int64_t
store_lookup(struct store *st, const char *folder, uint32_t uv, const char *uid)
{
	const struct orec *r = rec_lookup(st, folder, uv, uid);

	return r == NULL || r->grew ? 0 : r->when;
}

static void
rec_out(const struct orec *r, struct state_rec *out)
{
	out->uid = r->uid;
	out->when = r->when;
	out->file = r->file;
	out->has_flags = (r->flags & FLAG_KNOWN) != 0;
	flag_letters(r->flags, out->flags);
	out->marked = r->marked;
}

int
store_get(struct store *st, const char *folder, uint32_t uv, const char *uid,
    struct state_rec *out)
{
	const struct orec *r = rec_lookup(st, folder, uv, uid);

	if (r == NULL || r->grew)
		return 0;
	rec_out(r, out);
	return 1;
}

int
store_short(struct store *st, const char *folder, uint32_t uv, const char *uid,
    uint64_t *announced, uint64_t *received)
{
	const struct orec *r = rec_lookup(st, folder, uv, uid);

	*announced = *received = 0;
	if (r == NULL || !r->isshort || r->grew)
		return 0;
	*announced = r->announced;
	*received = r->received;
	return 1;
}

int
store_grew(struct store *st, const char *folder, uint32_t uv, const char *uid,
    uint64_t *limit)
{
	const struct orec *r = rec_lookup(st, folder, uv, uid);

	*limit = r != NULL && r->grew ? r->received : 0;
	return r != NULL && r->grew;
}

/* Changes: the overlay record, changed, journaled. */

static int
bad(struct store *st, const char *what, const char *uid)
{
	fail(st, STATE_EOS, EINVAL, "%s: %s \"%s\"", st->path, what, uid);
	return -1;
}

int
store_add_short(struct store *st, const char *folder, uint32_t uv,
    const char *uid, int64_t when, uint64_t announced, uint64_t received)
{
	struct orec *r, at;
	struct snap was;

	if (uid[0] == '\0')
		return bad(st, "record with an empty uid", uid);
	memset(&at, 0, sizeof(at));
	r = ov_get(st, folder_use(st, folder, uv, 1), uid);
	at.file = r->file;
	at.flags = r->flags;
	if (received < announced) {
		at.isshort = 1;
		at.announced = announced;
		at.received = received;
	} else if (r->isshort && !r->grew && r->when != 0) {
		at.isshort = 1; /* kept, as state.c keeps it */
		at.announced = r->announced;
		at.received = r->received;
	}
	was = snap_of(r);
	rec_apply_m(r, when < 1 ? 1 : when, &at);
	r->marked = 1; /* just downloaded: on the server */
	settle(st, r, was);
	line_m(&st->jbuf, st, r);
	return 0;
}

int
store_add(struct store *st, const char *folder, uint32_t uv, const char *uid,
    int64_t when)
{
	return store_add_short(st, folder, uv, uid, when, 0, 0);
}

int
store_add_grew(struct store *st, const char *folder, uint32_t uv,
    const char *uid, int64_t when, uint64_t limit)
{
	struct orec *r, at;
	struct snap was;

	if (uid[0] == '\0' || limit == 0)
		return bad(st, "bad record of", uid);
	r = ov_get(st, folder_use(st, folder, uv, 1), uid);
	if (r->when != 0 && !r->grew)
		return 0;
	memset(&at, 0, sizeof(at));
	at.grew = 1;
	at.received = limit;
	was = snap_of(r);
	r->when = 0; /* replaced */
	rec_apply_m(r, when < 1 ? 1 : when, &at);
	r->marked = 1;
	settle(st, r, was);
	line_m(&st->jbuf, st, r);
	return 0;
}

int
store_set_local(struct store *st, const char *folder, uint32_t uv,
    const char *uid, const char *file, const char *flags)
{
	const struct sfolder *f = folder_uv(st, folder, uv);
	struct orec *r;
	uint8_t fl = 0;

	if (f == NULL || (file != NULL && !stline_name_ok(file))
	    || (flags != NULL && stline_parse_flags(flags, &fl) == -1))
		return bad(st, "cannot note the file of", uid);
	r = ov_get(st, (size_t)(f - st->f), uid);
	if (r->when == 0 || r->grew)
		return bad(st, "cannot note the file of", uid);
	if (file != NULL) {
		free(r->file);
		r->file = xstrdup(file);
	}
	if (flags != NULL)
		r->flags = fl;
	line_m(&st->jbuf, st, r);
	st->dirty = 1;
	return 0;
}

int
store_forget(struct store *st, const char *folder, uint32_t uv, const char *uid)
{
	const struct sfolder *f = folder_uv(st, folder, uv);
	int64_t now = (int64_t)time(NULL);
	struct orec *r;
	struct snap was;

	if (f == NULL || rec_lookup(st, folder, uv, uid) == NULL)
		return 0;
	r = ov_get(st, (size_t)(f - st->f), uid);
	was = snap_of(r);
	orec_void(r);
	free(r->intent);
	r->intent = NULL;
	settle(st, r, was);
	line_key(&st->jbuf, 'X', folder, uv, now < 1 ? 1 : now, uid);
	b_c(&st->jbuf, '\n');
	return 0;
}

int
store_intend(struct store *st, const struct state_intent *in)
{
	int64_t now = (int64_t)time(NULL);
	struct orec *r;
	char *name;

	if (*in->sub == '\0')
		name = xstrdup(in->name);
	else
		xasprintf(&name, "%s/%s", in->sub, in->name);
	if (in->uid[0] == '\0' || !stline_name_ok(name)) {
		free(name);
		return bad(st, "intent for", in->uid);
	}
	r = ov_get(st, folder_use(st, in->folder, in->uidvalidity, 1), in->uid);
	free(r->intent);
	r->intent = name;
	r->intent_when = now < 1 ? 1 : now;
	line_key(&st->jbuf, 'I', in->folder, in->uidvalidity, r->intent_when,
	    in->uid);
	b_tesc(&st->jbuf, name);
	b_c(&st->jbuf, '\n');
	st->dirty = 1;
	return 0;
}

/* The intents pending at the open, as state_pending gives them. */
static void
collect_pending(struct store *st)
{
	struct state_intent *p;
	struct orec *r;
	char *slash;
	size_t i;

	for (i = 0; i < st->no; i++) {
		r = &st->o[i];
		if (r->intent != NULL && r->when != 0 && !r->grew) {
			free(r->intent);
			r->intent = NULL;
		}
		if (r->intent == NULL)
			continue;
		st->pend
		    = xreallocarray(st->pend, st->npend + 1, sizeof(*st->pend));
		p = &st->pend[st->npend++];
		p->folder = st->f[r->fidx].name;
		p->uidvalidity = st->f[r->fidx].uv;
		p->uid = strpool_add(&st->puids, r->uid); /* a fold frees r */
		p->when = r->intent_when;
		if ((slash = strchr(r->intent, '/')) != NULL) {
			*slash = '\0';
			p->sub = r->intent;
			p->name = slash + 1;
		} else {
			p->sub = "";
			p->name = r->intent;
		}
		r->intent = NULL; /* now the pending list's */
	}
}

size_t
store_npending(const struct store *st)
{
	return st->npend;
}

const struct state_intent *
store_pending(const struct store *st, size_t i)
{
	return i < st->npend ? &st->pend[i] : NULL;
}

const char *
store_folder_name(const struct store *st, size_t i)
{
	return i < st->nf ? st->f[i].name : NULL;
}

/* The journal. */

static int
fsync_dir(struct store *st)
{
	int fd, e;

	if ((fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fail(st, STATE_EOS, errno, "open %s", st->dir);
		return -1;
	}
	if (fsync(fd) == -1) {
		e = errno;
		close(fd);
		fail(st, STATE_EOS, e, "fsync %s", st->dir);
		return -1;
	}
	close(fd);
	return 0;
}

static int
writable(struct store *st, const char *path)
{
	if (st->opened && !st->readonly)
		return 0;
	fail(st, STATE_EOS, st->readonly ? EROFS : EINVAL,
	    "%s: not written, store %s", path,
	    st->readonly ? "opened read-only" : "not opened");
	return -1;
}

static int
journal_open(struct store *st)
{
	struct sbuf b = { NULL, 0, 0 };
	int fd, e;

	fd = open(st->jpath,
	    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		open_fail(st, st->jpath);
		return -1;
	}
	if (ftruncate(fd, st->jvalid) == -1) {
		e = errno;
		goto fail;
	}
	if (st->jvalid == 0) {
		b_add(&b, JOURNAL_HEADER "\nG\t", sizeof(JOURNAL_HEADER) + 2);
		b_u64(&b, st->gen);
		b_c(&b, '\n');
		if (write_full(fd, b.p, b.len) == -1 || fdatasync(fd) == -1) {
			e = errno;
			goto fail;
		}
		st->jvalid = (off_t)b.len;
		free(b.p);
		b.p = NULL;
		if (fsync_dir(st) == -1) {
			close(fd);
			return -1;
		}
	}
	st->jfd = fd;
	return 0;

fail:
	free(b.p);
	close(fd);
	fail(st, STATE_EOS, e, "write %s", st->jpath);
	return -1;
}

/* Append what the journal buffer holds, durably. */
static int
journal_sync(struct store *st)
{
	int e;

	if (st->corrupt)
		return -1; /* the error is set already */
	if (st->jbuf.len == 0)
		return 0;
	if (writable(st, st->jpath) == -1)
		return -1;
	if (st->jfd == -1 && journal_open(st) == -1)
		return -1;
	if (write_full(st->jfd, st->jbuf.p, st->jbuf.len) == -1
	    || fdatasync(st->jfd) == -1) {
		e = errno;
		close(st->jfd);
		st->jfd = -1;
		fail(st, STATE_EOS, e, "write %s", st->jpath);
		return -1;
	}
	st->jvalid += (off_t)st->jbuf.len;
	st->jbuf.len = 0;
	return 0;
}

/* Mark and prune. */

static int
bit_get(const struct store *st, size_t off)
{
	size_t b = (off - st->rbeg) / 8;

	return st->marks != NULL && (st->marks[b / 8] & (1u << (b % 8)));
}

static void
bit_set(struct store *st, size_t off)
{
	size_t b = (off - st->rbeg) / 8;

	if (st->marks == NULL)
		st->marks = xcalloc((st->rend - st->rbeg) / 64 + 1, 1);
	st->marks[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* Marking is no change to save: only the count a prune compares. */
static void
mark_rec(struct store *st, struct orec *r)
{
	if (!r->marked && present_of(r))
		st->f[r->fidx].nmarked++;
	r->marked = 1;
}

void
store_mark(struct store *st, const char *folder, uint32_t uv, const char *uid)
{
	const struct sfolder *cf = folder_uv(st, folder, uv);
	struct sfolder *f;
	struct orec *r, b;
	size_t off, fi;

	if (cf == NULL)
		return;
	fi = (size_t)(cf - st->f);
	f = &st->f[fi];
	if ((r = ov_find(st, fi, uid)) == NULL) {
		off = base_find(st, f, uid);
		if (off == SIZE_MAX || bit_get(st, off))
			return;
		if (parse_base(st, off, &b) == -1) {
			base_bad(st, off);
			return;
		}
		bit_set(st, off);
		if (b.gone == 0) {
			f->nmarked += present_of(&b);
			return;
		}
		/* It came back: the prune clears its gone=. */
		r = ov_get(st, fi, uid);
	}
	if (r->when != 0)
		mark_rec(st, r);
}

/* store_look_mark for uid in folder fi, whose base line is at off
 * (SIZE_MAX: none) unless the overlay has it. */
static void
look_mark_at(struct store *st, size_t fi, const char *uid, size_t off,
    struct state_look *lk)
{
	struct orec *r, b;

	memset(lk, 0, sizeof(*lk));
	if ((r = ov_find(st, fi, uid)) == NULL) {
		if (off == SIZE_MAX)
			return;
		if (parse_base(st, off, &b) == -1) {
			base_bad(st, off);
			return;
		}
		lk->seen = bit_get(st, off);
		if (b.gone != 0 || lk->seen)
			r = ov_get(st, fi, uid); /* as store_mark does */
		else {
			bit_set(st, off);
			st->f[fi].nmarked += present_of(&b);
			r = &b;
		}
	}
	/* A base line's bit is set by a lookup (or, for IMAP, by the
	 * mirror's state_mark; or carried by a fold from a record this run
	 * downloaded, which POP3's first pass, before any download, does
	 * not meet but after a reconcile that folded). */
	if (r != &b && r->looked)
		lk->seen = 1;
	if (r != &b)
		r->looked = 1;
	if (r->when == 0)
		return;
	if (r->isshort && !r->grew) {
		lk->announced = r->announced;
		lk->received = r->received;
	}
	if (r->grew)
		lk->grew = r->received;
	lk->when = r->grew ? 0 : r->when;
	if (r != &b)
		mark_rec(st, r);
}

/* store_look_mark's answers, all of them, into *lk. */
static void
look_mark_one(struct store *st, const char *folder, uint32_t uv,
    const char *uid, struct state_look *lk)
{
	const struct sfolder *cf = folder_uv(st, folder, uv);
	size_t fi, off;

	memset(lk, 0, sizeof(*lk));
	if (cf == NULL)
		return;
	fi = (size_t)(cf - st->f);
	off = ov_find(st, fi, uid) != NULL ? SIZE_MAX
					   : base_find(st, &st->f[fi], uid);
	look_mark_at(st, fi, uid, off, lk);
}

int64_t
store_look_mark(struct store *st, const char *folder, uint32_t uv,
    const char *uid, uint64_t *announced, uint64_t *received, uint64_t *grew)
{
	struct state_look lk;

	look_mark_one(st, folder, uv, uid, &lk);
	*announced = lk.announced;
	*received = lk.received;
	*grew = lk.grew;
	return lk.when;
}

/* A string's bytes as escaped in the files (b_esc), one at a time. */
struct estream {
	const unsigned char *s;
	char buf[3];
	int n, i;
};

static int
es_next(struct estream *e)
{
	static const char hex[] = "0123456789ABCDEF";

	if (e->i < e->n)
		return (unsigned char)e->buf[e->i++];
	if (*e->s == '\0')
		return -1;
	if (!stline_esc_needed(*e->s))
		return *e->s++;
	e->buf[1] = hex[*e->s >> 4];
	e->buf[2] = hex[*e->s & 15];
	e->s++;
	e->n = 3;
	e->i = 1;
	return '%';
}

static size_t
esc_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += stline_esc_needed((unsigned char)*s) ? 3 : 1;
	return n;
}

/* uid_cmp of the escaped forms of a and b, without making them. */
static int
esc_cmp(const char *a, const char *b)
{
	struct estream x = { (const unsigned char *)a, "", 0, 0 },
		       y = { (const unsigned char *)b, "", 0, 0 };
	size_t la = esc_len(a), lb = esc_len(b);
	int ca, cb;

	if (la != lb)
		return la < lb ? -1 : 1;
	do {
		ca = es_next(&x);
		cb = es_next(&y);
	} while (ca == cb && ca != -1);
	return ca == cb ? 0 : ca < cb ? -1 : 1;
}

struct listing {
	const char *(*uid)(size_t, void *);
	void *arg;
	int plain; /* no UID has a byte to escape */
};

/* The order of the keys in the files (uid_cmp of escaped forms). */
static int
key_cmp(const struct listing *l, const char *a, const char *b)
{
	size_t la, lb;
	int c;

	if (!l->plain)
		return esc_cmp(a, b);
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	c = memcmp(a, b, la);
	return c < 0 ? -1 : c > 0;
}

/* Sort v[0..n) (indices of the listing) by their UIDs' key order:
 * bottom-up merge sort, tmp as large as v. */
static void
sort_listing(uint32_t *v, uint32_t *tmp, size_t n, const struct listing *l)
{
	uint32_t *src = v, *dst = tmp, *t;
	size_t w, i, a, b, m, h, k;

	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			m = i + w < n ? i + w : n;
			h = i + 2 * w < n ? i + 2 * w : n;
			for (a = i, b = m, k = i; a < m || b < h;)
				dst[k++] = b < h
					&& (a == m
					    || key_cmp(l,
						   l->uid(src[b], l->arg),
						   l->uid(src[a], l->arg))
						< 0)
				    ? src[b++]
				    : src[a++];
		}
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/* The walk of store_look_mark_all: the sorted listing v[0..n) against
 * the folder's base lines from off on (where the first may be), in one
 * pass. */
static void
look_mark_walk(struct store *st, size_t fi, const uint32_t *v, size_t n,
    const struct listing *l, size_t off,
    void (*answer)(size_t, const struct state_look *, void *))
{
	struct sfolder *f = &st->f[fi];
	struct sbuf eu = { NULL, 0, 0 };
	struct state_look lk;
	size_t k;
	const char *u;
	int c = 1;

	for (k = 0; k < n; k++) {
		u = l->uid(v[k], l->arg);
		eu.len = 0;
		b_esc(&eu, u);
		while (off < f->bhi
		    && (c = line_cmp(st, off, f->ename, eu.p, eu.len, 0)) < 0)
			off = line_end(st, off);
		look_mark_at(
		    st, fi, u, off < f->bhi && c == 0 ? off : SIZE_MAX, &lk);
		answer(v[k], &lk, l->arg);
	}
	free(eu.p);
}

/* The base lines, from where the first of the sorted listing
 * v[0..m) may be to where the last may be: their offsets, and so
 * whether a walk over them costs less than a search per key. */
static int
look_mark_dense(struct store *st, struct sfolder *f, const uint32_t *v,
    size_t m, const struct listing *l, size_t *start)
{
	struct sbuf eu = { NULL, 0, 0 };
	size_t end;
	uint64_t span;

	b_esc(&eu, l->uid(v[0], l->arg));
	*start = lower_bound(st, f->blo, f->bhi, f->ename, eu.p, eu.len, 0);
	eu.len = 0;
	b_esc(&eu, l->uid(v[m - 1], l->arg));
	end = lower_bound(st, *start, f->bhi, f->ename, eu.p, eu.len, 0);
	free(eu.p);
	/* Lines in the span, from its share of the folder's bytes. */
	span = f->bhi > f->blo
	    ? (uint64_t)(end - *start) * f->records / (f->bhi - f->blo)
	    : 0;
	return span <= (uint64_t)m * BATCH_DENSE;
}

/* store_look_mark_all one key at a time, in v's order (all of the
 * listing when v is NULL). */
static void
look_mark_each(struct store *st, const char *folder, uint32_t uv,
    const uint32_t *v, size_t n, const struct listing *l,
    void (*answer)(size_t, const struct state_look *, void *))
{
	struct state_look lk;
	const char *u;
	size_t i, k;

	for (k = 0; k < n; k++) {
		i = v != NULL ? v[k] : k;
		memset(&lk, 0, sizeof(lk));
		if ((u = l->uid(i, l->arg)) != NULL)
			look_mark_one(st, folder, uv, u, &lk);
		answer(i, &lk, l->arg);
	}
}

void
store_look_mark_all(struct store *st, const char *folder, uint32_t uv, size_t n,
    const char *(*uid)(size_t, void *),
    void (*answer)(size_t, const struct state_look *, void *), void *arg)
{
	const struct sfolder *cf = folder_uv(st, folder, uv);
	struct listing l = { uid, arg, 1 };
	struct state_look lk;
	struct sfolder *f;
	uint32_t *v, *tmp;
	size_t i, m = 0, start;
	const char *u;

	if (cf == NULL || cf->basevoid || st->pc == NULL || n < BATCH_MIN
	    || n > UINT32_MAX) {
		look_mark_each(st, folder, uv, NULL, n, &l, answer);
		return;
	}
	v = xcalloc(n, sizeof(*v));
	memset(&lk, 0, sizeof(lk));
	for (i = 0; i < n; i++)
		if ((u = uid(i, arg)) != NULL) {
			v[m++] = (uint32_t)i;
			l.plain &= esc_len(u) == strlen(u);
		} else
			answer(i, &lk, arg);
	tmp = xcalloc(m + 1, sizeof(*tmp));
	sort_listing(v, tmp, m, &l);
	free(tmp);
	f = &st->f[cf - st->f];
	folder_range(st, f);
	/* A window of a long listing (run.c) is dense where the server
	 * lists in key order (Dovecot's UIDLs): walk just its span. */
	if (m > 0 && look_mark_dense(st, f, v, m, &l, &start))
		look_mark_walk(
		    st, (size_t)(cf - st->f), v, m, &l, start, answer);
	else
		look_mark_each(st, folder, uv, v, m, &l, answer);
	free(v);
}

/* One record of a complete listing's folder: gone now, or forgotten
 * when gone for long enough; *gonemin follows. */
static void
prune_one(struct store *st, struct orec *r, int64_t now, int64_t *gonemin)
{
	struct snap was = snap_of(r);

	if (r->when == 0 || r->marked)
		return;
	if (r->gone == 0) {
		r->gone = now;
		line_m(&st->jbuf, st, r);
	} else if (now - r->gone >= STATE_KEEP_GONE) {
		orec_void(r);
		line_key(&st->jbuf, 'X', st->f[r->fidx].name, st->f[r->fidx].uv,
		    now, r->uid);
		b_c(&st->jbuf, '\n');
	}
	settle(st, r, was);
	if (r->gone != 0 && (*gonemin == 0 || r->gone < *gonemin))
		*gonemin = r->gone;
}

static void
low(int64_t *v, int64_t t)
{
	if (t != 0 && (*v == 0 || t < *v))
		*v = t;
}

/* The walk of a prune: each base line of the folder the overlay does
 * not hold, then the overlay's records; the folder's oldest and
 * gonemin come out exact. */
static void
prune_walk(struct store *st, size_t fi, int64_t now)
{
	struct sfolder *f = &st->f[fi];
	int64_t gonemin = 0, oldest = 0;
	struct orec b, *r;
	size_t off, i;
	char *u;

	folder_range(st, f);
	for (off = f->blo; !f->basevoid && off < f->bhi;
	     off = line_end(st, off)) {
		st->walked++;
		if (parse_base(st, off, &b) == -1) {
			base_bad(st, off);
			continue;
		}
		if (ov_find(st, fi, b.uid) != NULL)
			continue;
		if (bit_get(st, off)
		    || (b.gone != 0 && now - b.gone < STATE_KEEP_GONE)) {
			if (live_of(&b))
				low(&oldest, b.when);
			low(&gonemin, b.gone);
			continue;
		}
		u = xstrdup(b.uid);
		prune_one(st, ov_get(st, fi, u), now, &gonemin);
		free(u);
	}
	for (i = 0; i < st->no; i++) {
		r = &st->o[i];
		if (r->fidx != fi)
			continue;
		st->walked++;
		prune_one(st, r, now, &gonemin);
		if (live_of(r))
			low(&oldest, r->when);
	}
	f->gonemin = gonemin;
	f->oldest = oldest;
	f->metadirty = st->dirty = 1;
}

static void
come_back(struct store *st, struct orec *r)
{
	struct snap was = snap_of(r);

	r->gone = 0;
	line_m(&st->jbuf, st, r);
	settle(st, r, was);
}

int
store_prune(struct store *st, const char *folder, int64_t now)
{
	size_t fi = folder_find(st, folder), i;
	struct sfolder *f;

	st->walked = 0;
	if (fi == SIZE_MAX)
		return 0;
	f = &st->f[fi];
	if (now < 1)
		now = 1;
	/* Those that came back are in the overlay (store_mark). */
	for (i = 0; i < st->no; i++)
		if (st->o[i].fidx == fi && st->o[i].marked && st->o[i].gone != 0
		    && st->o[i].when != 0)
			come_back(st, &st->o[i]);
	if (f->nmarked == f->present
	    && (f->gonemin == 0 || now - f->gonemin < STATE_KEEP_GONE))
		return 0;
	prune_walk(st, fi, now);
	return 0;
}

/* Iteration: first the folder's base lines (pos: the offset from its
 * first), then the overlay's records the base has not (POS_OV | the
 * overlay index). */
#define POS_OV ((size_t)1 << (sizeof(size_t) * 8 - 1))

static int
next_base(
    struct store *st, struct sfolder *f, size_t *pos, struct state_rec *out)
{
	size_t fi = (size_t)(f - st->f), off, end;
	struct orec *it = &st->iscratch, *o;

	folder_range(st, f);
	for (off = f->blo + *pos; off < f->bhi; off = end) {
		end = line_end(st, off);
		*pos = end - f->blo;
		st->walked += end - off;
		if (parse_into(st, off, it, &st->ibuf, &st->ibufcap) == -1) {
			base_bad(st, off);
			continue;
		}
		if ((o = ov_find(st, fi, it->uid)) != NULL) {
			if (o->when == 0 || o->grew)
				continue;
			rec_out(o, out);
			return 1;
		}
		if (it->grew)
			continue;
		it->marked = bit_get(st, off);
		rec_out(it, out);
		return 1;
	}
	return 0;
}

int
store_next(struct store *st, const char *folder, uint32_t uv, size_t *pos,
    struct state_rec *out)
{
	const struct sfolder *cf = folder_uv(st, folder, uv);
	size_t fi, i;
	struct orec *o;

	if (cf == NULL)
		return 0;
	fi = (size_t)(cf - st->f);
	if (!(*pos & POS_OV)) {
		if (!st->f[fi].basevoid && st->pc != NULL
		    && next_base(st, &st->f[fi], pos, out))
			return 1;
		*pos = POS_OV;
	}
	for (i = *pos & ~POS_OV; i < st->no; i++) {
		o = &st->o[i];
		if (o->fidx != fi || o->inbase || o->when == 0 || o->grew)
			continue;
		*pos = POS_OV | (i + 1);
		rec_out(o, out);
		return 1;
	}
	*pos = POS_OV | st->no;
	return 0;
}

/* Compaction. */

struct okey {
	const char *ef;
	char *eu;
	size_t eulen, idx;
};

static int
okey_cmp(const void *x, const void *y)
{
	const struct okey *a = x, *b = y;
	int c = strcmp(a->ef, b->ef);

	return c != 0 ? (c < 0 ? -1 : 1)
		      : uid_cmp(a->eu, a->eulen, b->eu, b->eulen);
}

struct fsum {
	size_t records, live, present, marked;
	int64_t oldest, gonemin;
};

static void
sum_rec(struct fsum *s, const struct orec *r, int marked)
{
	s->present += present_of(r);
	s->marked += marked && present_of(r);
	s->records += r->when != 0 && !r->grew;
	if (live_of(r)) {
		s->live++;
		if (s->oldest == 0 || r->when < s->oldest)
			s->oldest = r->when;
	}
	if (r->gone != 0 && (s->gonemin == 0 || r->gone < s->gonemin))
		s->gonemin = r->gone;
}

static size_t
folder_by_ename(const struct store *st, const char *ef, size_t len)
{
	size_t i;

	for (i = 0; i < st->nf; i++)
		if (strlen(st->f[i].ename) == len
		    && memcmp(st->f[i].ename, ef, len) == 0)
			return i;
	return SIZE_MAX;
}

struct merge {
	struct okey *k;
	size_t nk;
	char *keys; /* the k[].eu, one after the other */
	struct fsum *sum; /* pass 1: the folders' header values */
	size_t lines; /* pass 1: M lines of the new base */
	int fd; /* pass 2: where the lines go */
	struct sbuf b;
	size_t out; /* pass 2: bytes written before b */
	struct sbuf prev; /* pass 1: the key of the line before */
	size_t prevoff; /* and its offset */
	int fold; /* a fold (store_sync), not store_compact: */
	size_t head; /* the new base's M lines start here */
	uint8_t *marks; /* the marks at their new offsets */
	size_t markcap;
};

static int
merge_flush(struct store *st, struct merge *m, size_t min)
{
	if (m->fd == -1 || m->b.len < min)
		return 0;
	if (write_full(m->fd, m->b.p, m->b.len) == -1) {
		fail(st, STATE_EOS, errno, "write %s", st->tpath);
		return -1;
	}
	m->out += m->b.len;
	m->b.len = 0;
	return 0;
}

/* A fold's pass 2: the line about to be written is marked. */
static void
merge_mark(struct merge *m)
{
	size_t b = (m->out + m->b.len - m->head) / 8, old = m->markcap;

	if (b / 8 >= m->markcap) {
		m->markcap = (b / 8 + 1) * 2;
		m->marks = xreallocarray(m->marks, m->markcap, 1);
		memset(m->marks + old, 0, m->markcap - old);
	}
	m->marks[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* One of the merge's lines: the base line at off, or (off SIZE_MAX)
 * the overlay record r. */
static void
merge_emit(struct store *st, struct merge *m, size_t fi, size_t off,
    const struct orec *r)
{
	struct orec pr;
	const char *p;
	size_t len;
	int marked
	    = off == SIZE_MAX ? r != NULL && r->marked : bit_get(st, off);

	if (off == SIZE_MAX && r->when == 0)
		return;
	if (m->fd == -1) {
		m->lines++;
		if (off == SIZE_MAX)
			sum_rec(&m->sum[r->fidx], r, marked);
		else if (parse_base(st, off, &pr) == 0)
			sum_rec(&m->sum[fi], &pr, marked);
		return;
	}
	if (m->fold && marked)
		merge_mark(m);
	if (off == SIZE_MAX)
		line_m(&m->b, st, r);
	else {
		p = line_at(st, off, &len);
		b_add(&m->b, p, len);
	}
}

/* Pass 1 checks the base's order, which lookups rely on: each line's
 * key above the one before (m->prev: its folder, NUL, uid). */
static int
merge_order(struct store *st, struct merge *m, size_t off)
{
	const char *p, *end, *f, *u;
	size_t flen, ulen, len;
	int rv = 0;

	if (m->prev.len > 0 && off == m->prevoff)
		return 0; /* the same line, after an overlay record */
	m->prevoff = off;
	p = line_at(st, off, &len);
	end = p + len;
	if ((f = field_at(p, end, 1, &flen)) == NULL
	    || (u = field_at(f, end, 3, &ulen)) == NULL)
		return -1;
	if (m->prev.len > 0) {
		rv = line_cmp(st, off, m->prev.p,
			 m->prev.p + strlen(m->prev.p) + 1,
			 m->prev.len - strlen(m->prev.p) - 2, 0)
			> 0
		    ? 0
		    : -1;
	}
	m->prev.len = 0;
	b_add(&m->prev, f, flen);
	b_c(&m->prev, '\0');
	b_add(&m->prev, u, ulen);
	b_c(&m->prev, '\0');
	return rv;
}

/* The base's lines and the overlay's, in key order, the overlay's
 * winning. */
static int
merge(struct store *st, struct merge *m)
{
	size_t off = st->rbeg, end = 0, j = 0, fi = SIZE_MAX, flen, len;
	const char *ff, *p;
	int c;

	while (off < st->rend || j < m->nk) {
		c = 1;
		if (off < st->rend) {
			p = line_at(st, off, &len);
			end = off + len;
			ff = field_at(p, p + len, 1, &flen);
			if (ff == NULL) {
				fail(st, STATE_ECORRUPT, 0,
				    "%s: bad line at byte %zu", st->path, off);
				return -1;
			}
			if (fi == SIZE_MAX || strlen(st->f[fi].ename) != flen
			    || memcmp(st->f[fi].ename, ff, flen) != 0)
				fi = folder_by_ename(st, ff, flen);
			if (fi == SIZE_MAX
			    || (m->fd == -1 && merge_order(st, m, off) == -1)) {
				fail(st, STATE_ECORRUPT, 0,
				    "%s: line at byte %zu %s", st->path, off,
				    fi == SIZE_MAX
					? "names an undeclared folder"
					: "is out of order");
				return -1;
			}
			if (st->f[fi].basevoid) {
				off = end;
				continue;
			}
			c = j < m->nk ? line_cmp(st, off, m->k[j].ef,
				m->k[j].eu, m->k[j].eulen, 0)
				      : -1;
		}
		if (c >= 0) {
			merge_emit(st, m, 0, SIZE_MAX, &st->o[m->k[j++].idx]);
			if (c == 0)
				off = end;
		} else {
			merge_emit(st, m, fi, off, NULL);
			off = end;
		}
		if (merge_flush(st, m, WCHUNK - PAGE) == -1)
			return -1;
	}
	return merge_flush(st, m, 0);
}

/* An intent pending at the open that nothing since resolved or
 * replaced: a fold keeps it in the new base. */
static int
pend_open(struct store *st, const struct state_intent *p)
{
	size_t fi = folder_find(st, p->folder);
	const struct orec *r;

	if (fi == SIZE_MAX || st->f[fi].uv != p->uidvalidity)
		return 0;
	if ((r = ov_find(st, fi, p->uid)) != NULL && r->intent != NULL)
		return 0; /* the run's own, written from the overlay */
	r = rec_lookup(st, p->folder, p->uidvalidity, p->uid);
	return r == NULL || r->grew;
}

static void
line_i(struct sbuf *b, const char *folder, uint32_t uv, int64_t when,
    const char *uid, const char *sub, const char *name)
{
	line_key(b, 'I', folder, uv, when, uid);
	b_c(b, '\t');
	if (*sub != '\0') {
		b_esc(b, sub);
		b_c(b, '/');
	}
	b_esc(b, name);
	b_c(b, '\n');
}

/*
 * The head of the new base: header, generation, F and I lines. A fold
 * writes each folder's uidnext and modseq as the files have them
 * (state_save writes the run's), and the intents pending at the open
 * that are still open beside the overlay's.
 */
static void
merge_head(struct store *st, struct merge *m)
{
	const struct state_intent *p;
	const struct sfolder *f;
	const struct orec *r;
	size_t i;

	b_add(&m->b, BASE_HEADER "\nG\t", sizeof(BASE_HEADER) + 2);
	b_u64(&m->b, st->gen + 1);
	b_c(&m->b, '\n');
	for (i = 0; i < st->nf; i++) {
		f = &st->f[i];
		b_c(&m->b, 'F');
		b_tesc(&m->b, f->name);
		b_tu64(&m->b, f->uv);
		b_tu64(&m->b, m->fold ? f->duidnext : f->uidnext);
		b_tu64(&m->b, m->fold ? f->dmodseq : f->modseq);
		b_tu64(&m->b, m->sum[i].records);
		b_tu64(&m->b, m->sum[i].live);
		b_tu64(&m->b, m->sum[i].present);
		b_tu64(&m->b, (uint64_t)m->sum[i].oldest);
		b_tu64(&m->b, (uint64_t)m->sum[i].gonemin);
		b_c(&m->b, '\n');
	}
	for (i = 0; i < st->no; i++) {
		r = &st->o[i];
		if (r->intent == NULL || (r->when != 0 && !r->grew))
			continue;
		line_i(&m->b, st->f[r->fidx].name, st->f[r->fidx].uv,
		    r->intent_when, r->uid, "", r->intent);
	}
	for (i = 0; m->fold && i < st->npend; i++) {
		p = &st->pend[i];
		if (pend_open(st, p))
			line_i(&m->b, p->folder, p->uidvalidity, p->when,
			    p->uid, p->sub, p->name);
	}
	m->head = m->b.len;
}

/* Write the merged base into the temp file, durably. */
static int
compact_temp(struct store *st, struct merge *m)
{
	int e;

	(void)unlink(st->tpath);
	m->fd = open(st->tpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd == -1) {
		fail(st, STATE_EOS, errno, "create %s", st->tpath);
		return -1;
	}
	merge_head(st, m);
	if (merge(st, m) == -1)
		goto fail;
	if (fdatasync(m->fd) == -1) {
		fail(st, STATE_EOS, errno, "fsync %s", st->tpath);
		goto fail;
	}
	e = close(m->fd);
	m->fd = -1;
	if (e == -1) {
		fail(st, STATE_EOS, errno, "close %s", st->tpath);
		goto fail;
	}
	return 0;

fail:
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	(void)unlink(st->tpath);
	return -1;
}

/* The overlay's keys, escaped (one buffer), sorted; the sums. */
static void
merge_init(struct store *st, struct merge *m, int fold)
{
	struct sbuf kb = { NULL, 0, 0 };
	size_t i, len;
	char *p;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->fold = fold;
	m->nk = st->no;
	m->k = xcalloc(m->nk + 1, sizeof(*m->k));
	for (i = 0; i < st->no; i++) {
		len = kb.len;
		b_esc(&kb, st->o[i].uid);
		b_c(&kb, '\0');
		m->k[i].ef = st->f[st->o[i].fidx].ename;
		m->k[i].eulen = kb.len - len - 1;
		m->k[i].idx = i;
	}
	for (i = 0, p = kb.p; i < st->no; p += m->k[i++].eulen + 1)
		m->k[i].eu = p;
	m->keys = kb.p;
	qsort(m->k, m->nk, sizeof(*m->k), okey_cmp);
	m->sum = xcalloc(st->nf + 1, sizeof(*m->sum));
}

static void
merge_free(struct merge *m)
{
	free(m->k);
	free(m->keys);
	free(m->sum);
	free(m->b.p);
	free(m->prev.p);
	free(m->marks);
}

/* Base N+1 is in place: journal N is stale whatever happens. Make
 * that durable and remove the journal. */
static int
compact_done(struct store *st)
{
	st->gen++;
	if (st->jfd != -1)
		close(st->jfd);
	st->jfd = -1;
	st->jvalid = 0;
	if (fsync_dir(st) == -1)
		return -1;
	if (unlink(st->jpath) == -1 && errno != ENOENT) {
		fail(st, STATE_EOS, errno, "unlink %s", st->jpath);
		return -1;
	}
	return fsync_dir(st);
}

static int
compact_rename(struct store *st)
{
	if (rename(st->tpath, st->path) == 0)
		return 0;
	fail(st, STATE_EOS, errno, "rename %s to %s", st->tpath, st->path);
	(void)unlink(st->tpath);
	return -1;
}

int
store_compact(struct store *st)
{
	struct merge m;
	int rv = -1, ro;

	if (writable(st, st->path) == -1 || journal_sync(st) == -1)
		return -1;
	merge_init(st, &m, 0);
	if (merge(st, &m) == -1 || compact_temp(st, &m) == -1
	    || compact_rename(st) == -1 || compact_done(st) == -1)
		goto done;
	/* Start afresh from the new base (marks are dropped). */
	ro = st->readonly;
	store_clear(st);
	rv = store_open(st, ro);
done:
	merge_free(&m);
	return rv;
}

/* Folds: the overlay kept to O(bound). */

/* Whether a fold keeps r in the overlay: an intent still open (the
 * run may record it), or a record that came back (marked, gone=:
 * store_prune finds those in the overlay). */
static int
ov_keeps(const struct orec *r)
{
	return (r->intent != NULL && (r->when == 0 || r->grew))
	    || (r->marked && r->gone != 0 && r->when != 0);
}

/* The overlay, down to what ov_keeps, in arrays of its size. */
static void
ov_shrink(struct store *st)
{
	struct strpool pool = st->uids;
	struct orec *o = st->o, *r;
	size_t no = st->no, i;

	st->o = NULL;
	st->no = st->capo = st->tabcap = 0;
	free(st->tab);
	st->tab = NULL;
	memset(&st->uids, 0, sizeof(st->uids));
	st->nkept = 0;
	for (i = 0; i < no; i++) {
		if (!ov_keeps(&o[i])) {
			free(o[i].file);
			free(o[i].intent);
			continue;
		}
		r = ov_slot(st);
		*r = o[i];
		r->uid = strpool_add(&st->uids, o[i].uid);
		r->inbase = r->when != 0;
		tab_put(st, st->no++);
		/* Those stay until the prune: not counted against the bound
		 * (the next fold would keep them again). An open intent is
		 * recorded or dropped within its batch. */
		st->nkept += r->gone != 0;
	}
	strpool_free(&pool);
	free(o);
}

/* After a fold's rename: read the new base (fd, size bytes), its
 * marks where the merge put them, its folders' values. */
static void
fold_switch(struct store *st, struct merge *m, int fd, size_t size)
{
	struct pcache *pc = st->pc;
	struct sfolder *f;
	size_t i, n;

	if (pc == NULL) {
		pc = st->pc = xcalloc(1, sizeof(*pc));
		pc->buf = xmalloc(NPAGE * PAGE);
	} else
		close(pc->fd);
	pc->fd = fd;
	pc->size = st->maplen = size;
	memset(pc->no, 0, sizeof(pc->no));
	pc->linelen = 0;
	pc->err = 0;
	st->rbeg = m->head;
	st->rend = size;
	free(st->marks);
	st->marks = NULL;
	if (m->marks != NULL) {
		n = (st->rend - st->rbeg) / 64 + 1;
		st->marks = xreallocarray(m->marks, n, 1);
		if (n > m->markcap)
			memset(st->marks + m->markcap, 0, n - m->markcap);
		m->marks = NULL;
	}
	st->count = 0;
	for (i = 0; i < st->nf; i++) {
		f = &st->f[i];
		f->basevoid = f->ranged = 0;
		f->records = m->sum[i].records;
		f->live = m->sum[i].live;
		f->present = m->sum[i].present;
		f->nmarked = m->sum[i].marked;
		f->oldest = m->sum[i].oldest;
		f->gonemin = m->sum[i].gonemin;
		st->count += f->records;
	}
	st->nbase = m->lines;
	st->existed = 1;
	st->v1 = 0;
	ov_shrink(st);
}

/*
 * Fold the overlay into a new base: store_compact's files and steps,
 * but what the run holds in memory stays (marks, moved to the new
 * lines' offsets; the pending intents; the folders' values) and the
 * overlay is freed. The new base is opened before the rename, so that
 * nothing can fail between the rename and the switch to it.
 */
static int
fold(struct store *st)
{
	struct merge m;
	struct stat sb;
	int fd = -1, rv = -1, e;

	merge_init(st, &m, 1);
	if (merge(st, &m) == -1 || compact_temp(st, &m) == -1)
		goto done;
	if ((fd = open(st->tpath, O_RDONLY | O_CLOEXEC)) == -1
	    || fstat(fd, &sb) == -1) {
		e = errno;
		fail(st, STATE_EOS, e, "open %s", st->tpath);
		(void)unlink(st->tpath);
		goto done;
	}
	if (compact_rename(st) == -1)
		goto done;
	fold_switch(st, &m, fd, (size_t)sb.st_size);
	fd = -1;
	rv = compact_done(st);
done:
	if (fd != -1)
		close(fd);
	merge_free(&m);
	return rv;
}

int
store_sync(struct store *st)
{
	if (journal_sync(st) == -1)
		return -1;
	if (st->readonly || !st->opened || st->no <= fold_bound(st) + st->nkept)
		return 0;
	return fold(st);
}

void
store_set_fold_min(struct store *st, size_t n)
{
	st->foldmin = n;
}

int
store_save(struct store *st)
{
	size_t i;

	if (st->corrupt)
		return -1;
	if (!st->dirty && st->existed && !st->v1)
		return 0;
	if (writable(st, st->path) == -1)
		return -1;
	for (i = 0; i < st->nf; i++) {
		if (!st->f[i].metadirty)
			continue;
		b_c(&st->jbuf, 'S');
		b_tesc(&st->jbuf, st->f[i].name);
		b_tu64(&st->jbuf, st->f[i].uv);
		b_tu64(&st->jbuf, st->f[i].uidnext);
		b_tu64(&st->jbuf, st->f[i].modseq);
		b_tu64(&st->jbuf, (uint64_t)st->f[i].oldest);
		b_tu64(&st->jbuf, (uint64_t)st->f[i].gonemin);
		b_c(&st->jbuf, '\n');
		st->f[i].metadirty = 0;
		st->f[i].duidnext = st->f[i].uidnext;
		st->f[i].dmodseq = st->f[i].modseq;
	}
	if (journal_sync(st) == -1)
		return -1;
	st->dirty = 0;
	if (st->v1 || !st->existed
	    || ((size_t)st->jvalid > COMPACT_MIN
		&& ((size_t)st->jvalid > st->maplen / COMPACT_FRACTION
		    || (size_t)st->jvalid > COMPACT_MAX)))
		return store_compact(st);
	return 0;
}

size_t
store_folder_records(const struct store *st, const char *folder, uint32_t uv)
{
	const struct sfolder *f = folder_uv(st, folder, uv);

	return f == NULL ? 0 : f->records;
}

size_t
store_count(const struct store *st)
{
	return st->count;
}

size_t
store_noverlay(const struct store *st)
{
	return st->no;
}

size_t
store_walked(const struct store *st)
{
	return st->walked;
}

const char *
store_error(const struct store *st)
{
	return st->err;
}

enum state_errkind
store_errkind(const struct store *st)
{
	return st->kind;
}

int
store_errno(const struct store *st)
{
	return st->errnum;
}

/* Everything loaded, not the paths, the lock or the generation. */
static void
store_clear(struct store *st)
{
	size_t i;

	for (i = 0; i < st->no; i++) {
		free(st->o[i].file);
		free(st->o[i].intent);
	}
	for (i = 0; i < st->nf; i++) {
		free(st->f[i].name);
		free(st->f[i].ename);
	}
	strpool_free(&st->uids);
	strpool_free(&st->puids);
	if (st->pc != NULL) {
		close(st->pc->fd);
		free(st->pc->buf);
		free(st->pc->line);
		free(st->pc);
	}
	if (st->jfd != -1)
		close(st->jfd);
	free(st->o);
	free(st->tab);
	free(st->f);
	free(st->marks);
	free(st->jbuf.p);
	for (i = 0; i < st->npend; i++)
		free((char *)(*st->pend[i].sub != '\0' ? st->pend[i].sub
						       : st->pend[i].name));
	free(st->pend);
	st->pend = NULL;
	st->npend = 0;
	st->o = NULL;
	st->tab = NULL;
	st->f = NULL;
	st->marks = NULL;
	st->pc = NULL;
	memset(&st->jbuf, 0, sizeof(st->jbuf));
	st->no = st->capo = st->tabcap = st->nf = 0;
	st->maplen = st->rbeg = st->rend = 0;
	st->nbase = st->nkept = 0;
	st->jfd = -1;
	st->jvalid = 0;
	st->v1 = st->opened = st->existed = st->dirty = st->corrupt = 0;
	st->count = 0;
}

void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	store_clear(st);
	if (st->lockfd != -1)
		close(st->lockfd);
	free(st->craw);
	free(st->cname);
	free(st->sbuf);
	free(st->ibuf);
	free(st->path);
	free(st->jpath);
	free(st->lpath);
	free(st->tpath);
	free(st->dir);
	free(st);
}
