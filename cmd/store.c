/*
 * The state store, version 2: O(changes) per run. A PROTOTYPE, not yet
 * behind cmd/state.h (see STATUS).
 *
 * STATUS: see the end of this comment (kept current by each session).
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
 *	F	folder	uv	uidnext	modseq	live	oldest	gonemin
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
 *    records: live (records downloaded, not grew=, not gone=), oldest
 *    (a lower bound of their earliest `when`; exact after a compaction)
 *    and gonemin (the earliest gone= time among its records, 0: none).
 *
 * 2. Lookups without loading. The base file is mmap'ed read-only. The
 *    header (F and I lines) is parsed at open: O(folders + intents). A
 *    record is found by a binary search over the byte range of the M
 *    lines: probe the middle byte, step back to the start of its line,
 *    compare keys; ~log2(n) probes (17 at 100 000), each touching one
 *    page. The search key is escaped once. Nothing per record is
 *    allocated. A folder's range is two such searches (first key >=
 *    (folder, -inf), first key > (folder, +inf)); iterating a folder
 *    (state_next) walks its range line by line.
 *
 * 3. Changes in memory, O(changes): an overlay, a hash table of the
 *    records this run (or the journal) touched: added, set_local,
 *    forgotten (kept with when = 0: it masks the base's line), gone=
 *    set or cleared, intents. A lookup asks the overlay first, then the
 *    base. A folder reset (UIDVALIDITY changed) marks the folder
 *    "base void": its base lines no longer count; its overlay entries
 *    are voided.
 *
 * 4. The journal is as today (append whole lines, fdatasync; a torn
 *    last line is cut off; generation check), now with header
 *    "mailfetch-journal 2" and one more line type, written by
 *    state_save instead of rewriting the base:
 *
 *	S	folder	uv	uidnext	modseq	live	oldest	gonemin
 *
 *    (a folder's header values as of this save). Version 1 journals
 *    (no S line) are read as before. The load replays the journal into
 *    the overlay: O(journal). state_prune's gone= changes, which the
 *    old save carried, are journaled as M lines with gone= (the v1
 *    replay already takes gone= from an M line).
 *
 * 5. Compaction, the only O(n) write: when the journal has grown past
 *    an eighth of the base (and at least 64 KB), or the base is v1, or
 *    a folder was respelled (state_set_canon). The base's sorted lines
 *    and the overlay (sorted: O(c log c)) are merged in one sequential
 *    pass into <path>.tmp, (a first identical pass computes the exact
 *    F values), fdatasync, rename over <path>, fsync of the directory,
 *    unlink of the journal, fsync again: exactly state.c's order and
 *    generation rule (base N+1 is in place before journal N goes; a
 *    journal older than the base is ignored), so a crash anywhere
 *    leaves either the old base and its journal, or the new base (and
 *    maybe a stale journal, ignored). Amortised, each journal byte is
 *    merged at most 8 times: O(changes) per run on average, and a
 *    run's worst case is one O(n) sequential merge (~10 MB at 100 000)
 *    that needs O(changes + 1 MB buffer) of memory.
 *
 * 6. Mark and prune without touching every record. state_mark looks
 *    the uid up (O(log n)) and sets a bit in a bitmap over the base's
 *    byte offsets / 8 (a line is at least 10 bytes, so each line has a
 *    bit of its own: file size / 64 bytes, 147 KB at 100 000),
 *    allocated at the first mark; overlay records have a flag. A
 *    marked record with gone= gets it cleared at once (overlay, live
 *    +1). Each first mark of a live record counts. state_prune after a
 *    complete listing: when the count equals the folder's live and
 *    gonemin is 0 or less than STATE_KEEP_GONE old, no record is newly
 *    missing and none expires: O(1). Otherwise (something vanished,
 *    or a gone= record may expire) one walk of the folder's range sets
 *    gone=now on the unmarked live records and forgets the expired
 *    ones (journaled), and recomputes gonemin. IMAP with UIDNEXT
 *    (list_from > 1) lists only new messages and prunes nothing, as
 *    today; the mirror's QRESYNC/CHANGEDSINCE pass forgets by
 *    state_forget and never prunes.
 *
 * 7. Older files. A base with header "mailfetch-state 1" (unsorted) is
 *    loaded whole the old way, into the overlay, once, and the first
 *    state_save compacts it into version 2: one run pays what every run
 *    pays today. A journal of version 1 is replayed as is. An older
 *    mailfetch refuses a version 2 base (65, "bad header"): a downgrade
 *    needs the file converted (a v2 base with the header line changed to
 *    1 and the F lines cut to 5 fields is a valid v1 file; documented
 *    in fetchrc(5) when wired in).
 *
 * 8. Memory bound per run: the folders and pending intents (few), the
 *    overlay (O(changes), ~200 B per touched record), the mark bitmap
 *    (file/64 bytes, only when marking: POP3 and whole listings), the
 *    journal buffer of the batch, and the pages of the mapping the
 *    run touched. Those are file-backed and clean, but count in RSS:
 *    a long walk or many lookups madvise(MADV_DONTNEED) the mapping
 *    every STORE_DROP_EVERY lookups or 1 MB walked, so they stay under
 *    ~1 MB whatever the size of the file.
 *
 * Cost per run at 100 000 records (94 B per line: 9.4 MB base), est.:
 *  - unchanged IMAP poll: open = mmap + parse 20 F lines + an empty
 *    journal: < 0.1 ms; UIDNEXT unchanged: no lookup; save: nothing
 *    changed, nothing written. Memory: a few KB. (Today: 160-180 ms
 *    of CPU and +24 MB.)
 *  - mirror resync, 15 changes (QRESYNC or CHANGEDSINCE): ~20 lookups
 *    of ~17 probes (~40 us in all), 15 overlay records, 15 journal
 *    lines + 20 S lines (~3 KB, one fdatasync per changed folder, as
 *    today); no base rewrite until the journal passes 1.2 MB (~400
 *    such runs), then one ~30-60 ms compaction. RSS: under 1 MB of
 *    the store. Caveats outside the store: run.c's known_counts (only
 *    without QRESYNC) and msync_scan (only when the user changed the
 *    Maildir) walk a folder: O(folder) by nature, now streaming.
 *  - POP3 poll, UIDL of 100 000: 100 000 lookups at ~1-2 us (binary
 *    search over the mapping; measured below), marks in a 147 KB
 *    bitmap, prune O(1) when nothing vanished. Time O(m log n); memory
 *    the bitmap + ~1 MB of pages (the listing itself is issue 16's:
 *    held by proto/, ~100 B per message). A sorted batch lookup (sort
 *    the listing, walk the range once) would make it O(n + m log m).
 *
 * STATUS (2026-12-05, session wt-store): see below; filled in at the
 * end of the session.
 */
