/*
 * The state store. See state.h.
 *
 * Files. Both are plain text: one item per line, fields separated by
 * one TAB, every line ended by LF. String fields (folder, uid, file
 * name) are percent-escaped: '%', space, control characters (TAB, LF,
 * CR, ...) and DEL are written %XX with two uppercase hex digits; every
 * other byte, UTF-8 included, stands for itself. A raw byte that should
 * have been escaped, a bad escape or %00 does not parse. Numbers are
 * unsigned decimal; `when` is Unix seconds, at least 1.
 *
 * The state file, <path>:
 *
 *	mailfetch-state 1
 *	G	generation
 *	F	folder	uidvalidity	[uidnext	[modseq]]
 *	M	folder	uidvalidity	when	uid	[attr]...
 *	I	folder	uidvalidity	when	uid	filename
 *
 * The first line is exactly the header, the second the generation,
 * which each state_save increments. An F line declares a folder and
 * its UIDVALIDITY, once, and may add the IMAP UIDNEXT below which every
 * message of the folder was recorded (see state_set_uidnext; not 0
 * when alone, 0 for "unknown" before a modseq) and the HIGHESTMODSEQ
 * the mirror reached (state_set_modseq; at least 1); an M
 * line is a message downloaded first at `when`, followed by optional
 * attributes, each a field NAME=VALUE, each name at most once, in any
 * order:
 *
 *	gone=T		the listings have not shown the message since T
 *			(Unix seconds); the record is forgotten once T is
 *			STATE_KEEP_GONE (30 days) in the past
 *	short=A/R	the message arrived shorter than the server had
 *			announced: A bytes announced, R received (R < A,
 *			both counted with CRLF line ends); it stays on
 *			the server (SPEC "Sizes")
 *	grew=N		the message was not downloaded: its body grew past
 *			max_size, N bytes, though the server had announced
 *			less; `when` is the time that was found. It is
 *			skipped and kept on the server while max_size is
 *			at most N (SPEC "Sizes"). Not a download: not
 *			counted, never planned for deletion, but forgotten
 *			as any other record once gone; a download later
 *			(max_size raised) replaces it. Never with short=.
 *	file=NAME	the mirror: the local file as delivered, relative to
 *			the Maildir as an intent's (NAME or .SUB/NAME),
 *			percent-escaped as string fields are
 *	flags=LETTERS	the mirror: the Maildir flags last applied, letters
 *			of "DFPRST" in that order, each at most once; may
 *			be empty (none)
 *
 * A file without attributes (as mailfetch wrote before they existed)
 * is read as before; an unknown attribute does not parse. Format
 * changes stay backward compatible: a file an older mailfetch wrote
 * loads (file=, flags= and the modseq field came with the mirror, and
 * are written only when set), though an older mailfetch cannot read
 * what a newer one added. An I line
 * an intent
 * journaled that no record followed (kept so that the next run still
 * looks for its file). M and I lines name a folder declared above with
 * the same UIDVALIDITY. Folder names are as the protocol knows them
 * (state_set_canon); a file or journal of an older mailfetch may name
 * one folder in several ways, which merge as they load (load_line,
 * replay_line). A file that does not parse, misses its final LF
 * or is empty is corrupt: only a missing file is an empty state
 * (generation 0).
 *
 * The journal, <path>.journal, appended to by state_sync:
 *
 *	mailfetch-journal 1
 *	G	generation	of the state file it continues
 *	F	folder	uidvalidity		the folder was reset
 *	I	folder	uidvalidity	when	uid	filename
 *	M	folder	uidvalidity	when	uid	[attr]...
 *	X	folder	uidvalidity	when	uid
 *
 * Replayed in order over the state file: F voids the folder's records
 * and intents and sets its UIDVALIDITY; I notes an intent; M records a
 * message (keeping the earliest `when`; its file= and flags= replace
 * the record's) and settles its intent; X forgets the record (the
 * mirror removed the message; `when` is the time it did). An I or
 * M line whose UIDVALIDITY differs from the folder's voids the folder
 * first, as state_add does. The journal is only ever appended whole
 * lines then fsync'ed, so a last line without LF is a write a crash
 * cut short and is ignored (and cut off before the next append); a
 * complete line that does not parse is corruption.
 *
 * The generation makes the replay happen exactly once: state_save
 * writes generation N+1 and renames it into place before it unlinks the
 * journal of generation N. Should a crash come in between, the journal
 * left behind is older than the state file, which already holds all of
 * it, and is ignored (and replaced on the next state_sync) rather than
 * replayed a second time, where its F lines would void records saved
 * since.
 *
 * In memory, records are an array indexed by an open-addressing hash
 * table on (folder, uid); a record voided or pruned stays in the table
 * with when = 0, so nothing is ever removed from the table and a void
 * record can come back to life. Load, save and lookups are linear or
 * O(1) in the number of records.
 */
#ifndef STATE_STORE2 /* see state_v2.c */
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
#include "state.h"

#define STATE_HEADER "mailfetch-state 1"
#define JOURNAL_HEADER "mailfetch-journal 1"
#define SAVE_CHUNK (1024 * 1024)
#define MAXFIELDS 9

/*
 * An intent's file name is relative to the account's Maildir: a message
 * file name, or a Maildir++ subfolder (".name") and a file name. Nothing
 * else, so a state file can never point outside the Maildir.
 */
static int
intent_name_ok(const char *s)
{
	const char *slash = strchr(s, '/'), *base = slash ? slash + 1 : s;

	if (slash != NULL
	    && (s[0] != '.' || slash - s < 2 || strchr(base, '/') != NULL
		|| (slash - s == 2 && s[1] == '.')))
		return 0;
	return base[0] != '\0' && strcmp(base, ".") != 0
	    && strcmp(base, "..") != 0;
}

struct buf {
	char *p;
	size_t len, cap;
};

struct folder {
	char *name;
	uint32_t uv;
	uint32_t uidnext; /* everything below was recorded; 0: unknown */
	uint64_t modseq; /* HIGHESTMODSEQ the mirror reached; 0: none */
};

struct rec {
	char *uid; /* in the state's uid pool */
	char *intent; /* file name journaled, no record since */
	char *file; /* the local file, as delivered (state_set_local) */
	int64_t when; /* first download; 0: void, not recorded */
	int64_t intent_when; /* when the intent was journaled */
	int64_t gone; /* not listed since; 0: listed (or not known) */
	uint32_t hash;
	uint32_t fidx : 29; /* index into folders */
	uint32_t marked : 1;
	uint32_t isshort : 1; /* it arrived short: see st->shorts */
	uint32_t grew : 1; /* grew past max_size, not downloaded: the
			      limit is in st->shorts, as received */
	uint8_t flags; /* the flags last applied: FLAG_KNOWN | bits of
			  FLAG_LETTERS */
};

/* Maildir flag letters a record can carry, in ASCII order; bit i of
 * rec.flags stands for FLAG_LETTERS[i]. */
#define FLAG_LETTERS "DFPRST"
#define FLAG_KNOWN 0x80

/* The sizes of a record that arrived short (or, for one that grew, the
 * max_size it grew past, in received). Such records are rare, so
 * they live in a list of their own rather than in every record, sorted
 * by record index (short_find). */
struct shortrec {
	size_t rec; /* index into recs */
	uint64_t announced, received;
};

/* A folder name as the state file wrote it, while the file loads. */
struct rawname {
	char *name;
	uint32_t uv;
};

struct state {
	char *path, *jpath, *lpath, *tpath, *dir;
	struct folder *folders;
	size_t nfolders;
	char *(*canon)(const char *); /* see state_set_canon */
	struct rawname *raw; /* the state file's F lines, while loading */
	size_t nraw, rawlast;
	int respelled; /* a name was loaded under another spelling */
	char *craw, *cname; /* the last name canonicalised, and to what */
	int crespelled;
	struct rec *recs;
	size_t nrecs, caprecs, count;
	struct strpool uids;
	uint32_t *tab; /* record index + 1; 0: empty slot */
	size_t tabcap;
	struct state_intent *pend;
	size_t npend;
	struct shortrec *shorts;
	size_t nshorts;
	struct buf jbuf; /* journal lines not yet synced */
	int jfd;
	off_t jvalid; /* bytes of the journal known good */
	uint64_t gen; /* generation of the state file */
	int loaded, readonly;
	int existed; /* the state file was there at load */
	int dirty; /* something to save: a change, or a journal to fold */
	int lockfd;
	enum state_errkind kind;
	int errnum;
	char err[1024];
};

static void st_fail(struct state *, enum state_errkind, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* Record an error; for STATE_EOS, ": strerror(e)" is appended. */
static void
st_fail(struct state *st, enum state_errkind kind, int e, const char *fmt, ...)
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

/* An open of the lock or journal file failed; O_NOFOLLOW makes a
 * planted symbolic link fail with ELOOP. */
static void
open_fail(struct state *st, const char *path)
{
	int e = errno;

	if (e == ELOOP)
		st_fail(st, STATE_EOS, e,
		    "%s is a symbolic link, not followed (remove it)", path);
	else
		st_fail(st, STATE_EOS, e, "open %s", path);
}

/* Buffers. */

static void
buf_need(struct buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return;
	while (b->cap - b->len < n)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xreallocarray(b->p, b->cap, 1);
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
buf_addc(struct buf *b, char c)
{
	buf_need(b, 1);
	b->p[b->len++] = c;
}

static void
buf_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_add(b, tmp + i, sizeof(tmp) - i);
}

static int
esc_needed(unsigned char c)
{
	return c <= ' ' || c == 0x7f || c == '%';
}

/* s escaped. */
static void
buf_esc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);

	buf_need(b, 3 * n);
	for (; *u != '\0'; u++) {
		if (esc_needed(*u)) {
			b->p[b->len++] = '%';
			b->p[b->len++] = hex[*u >> 4];
			b->p[b->len++] = hex[*u & 0xf];
		} else
			b->p[b->len++] = (char)*u;
	}
}

/* A TAB, then s escaped. */
static void
buf_field(struct buf *b, const char *s)
{
	buf_addc(b, '\t');
	buf_esc(b, s);
}

/* An F line; uidnext and modseq 0 are left out (modseq only by the
 * state file). */
static void
line_f(struct buf *b, const char *folder, uint32_t uv, uint32_t uidnext,
    uint64_t modseq)
{
	buf_addc(b, 'F');
	buf_field(b, folder);
	buf_addc(b, '\t');
	buf_u64(b, uv);
	if (uidnext != 0 || modseq != 0) {
		buf_addc(b, '\t');
		buf_u64(b, uidnext);
	}
	if (modseq != 0) {
		buf_addc(b, '\t');
		buf_u64(b, modseq);
	}
	buf_addc(b, '\n');
}

/* The letters of flag bits f into buf (8 bytes). */
static void
flag_letters(uint8_t f, char *buf)
{
	size_t i;

	for (i = 0; FLAG_LETTERS[i] != '\0'; i++)
		if (f & (1u << i))
			*buf++ = FLAG_LETTERS[i];
	*buf = '\0';
}

static const struct shortrec *short_find(const struct state *, size_t);

/* The mirror's attributes of a record: file= and flags=. */
static void
line_m_local(struct buf *b, const struct rec *r)
{
	char letters[8];

	if (r->file != NULL) {
		buf_add(b, "\tfile=", 6);
		buf_esc(b, r->file);
	}
	if (r->flags & FLAG_KNOWN) {
		flag_letters(r->flags, letters);
		buf_add(b, "\tflags=", 7);
		buf_add(b, letters, strlen(letters));
	}
}

static void
line_m(struct buf *b, const struct state *st, const char *folder, uint32_t uv,
    const struct rec *r)
{
	const struct shortrec *sh;

	buf_addc(b, 'M');
	buf_field(b, folder);
	buf_addc(b, '\t');
	buf_u64(b, uv);
	buf_addc(b, '\t');
	buf_u64(b, (uint64_t)r->when);
	buf_field(b, r->uid);
	if (r->gone != 0) {
		buf_add(b, "\tgone=", 6);
		buf_u64(b, (uint64_t)r->gone);
	}
	if (r->isshort
	    && (sh = short_find(st, (size_t)(r - st->recs))) != NULL) {
		buf_add(b, "\tshort=", 7);
		buf_u64(b, sh->announced);
		buf_addc(b, '/');
		buf_u64(b, sh->received);
	}
	if (r->grew && (sh = short_find(st, (size_t)(r - st->recs))) != NULL) {
		buf_add(b, "\tgrew=", 6);
		buf_u64(b, sh->received);
	}
	line_m_local(b, r);
	buf_addc(b, '\n');
}

static void
line_i(struct buf *b, const char *folder, uint32_t uv, int64_t when,
    const char *uid, const char *filename)
{
	buf_addc(b, 'I');
	buf_field(b, folder);
	buf_addc(b, '\t');
	buf_u64(b, uv);
	buf_addc(b, '\t');
	buf_u64(b, (uint64_t)when);
	buf_field(b, uid);
	buf_field(b, filename);
	buf_addc(b, '\n');
}

/* Folders and records. */

/* Folders are few (the config's list): a linear search is enough. */
static size_t
folder_find(const struct state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nfolders; i++)
		if (strcmp(st->folders[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static size_t
folder_add(struct state *st, const char *name, uint32_t uv)
{
	st->folders = xreallocarray(
	    st->folders, st->nfolders + 1, sizeof(*st->folders));
	st->folders[st->nfolders].name = xstrdup(name);
	st->folders[st->nfolders].uv = uv;
	st->folders[st->nfolders].uidnext = 0;
	st->folders[st->nfolders].modseq = 0;
	return st->nfolders++;
}

/* Void a record: it stays in the table, with when = 0, and may come
 * back to life. */
static void
rec_void(struct state *st, struct rec *r)
{
	if (r->when != 0 && !r->grew)
		st->count--;
	r->when = 0;
	r->gone = 0;
	r->isshort = 0;
	r->grew = 0;
	free(r->file);
	r->file = NULL;
	r->flags = 0;
}

/* Void every record and intent of folder fidx. */
static void
folder_void(struct state *st, size_t fidx)
{
	struct rec *r;
	size_t i;

	for (i = 0; i < st->nrecs; i++) {
		r = &st->recs[i];
		if (r->fidx != fidx)
			continue;
		rec_void(st, r);
		r->marked = 0;
		free(r->intent);
		r->intent = NULL;
	}
}

static size_t
folder_reset(struct state *st, const char *name, uint32_t uv)
{
	size_t f;

	if ((f = folder_find(st, name)) == SIZE_MAX)
		return folder_add(st, name, uv);
	folder_void(st, f);
	st->folders[f].uv = uv;
	st->folders[f].uidnext = 0;
	st->folders[f].modseq = 0;
	return f;
}

/*
 * The folder for a new intent or record with UIDVALIDITY uv: created
 * when unknown; voided first when its UIDVALIDITY differs (its records
 * are void then). With journal set, an F line says so.
 */
static size_t
folder_use(struct state *st, const char *name, uint32_t uv, int journal)
{
	size_t f;

	if ((f = folder_find(st, name)) != SIZE_MAX && st->folders[f].uv == uv)
		return f;
	f = folder_reset(st, name, uv);
	if (journal) {
		line_f(&st->jbuf, name, uv, 0, 0);
		st->dirty = 1;
	}
	return f;
}

static uint32_t
rec_hash(size_t fidx, const char *uid)
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

static struct rec *
rec_find(const struct state *st, size_t fidx, const char *uid, uint32_t h)
{
	struct rec *r;
	size_t i;

	if (st->tabcap == 0)
		return NULL;
	for (i = h & (st->tabcap - 1); st->tab[i] != 0;
	     i = (i + 1) & (st->tabcap - 1)) {
		r = &st->recs[st->tab[i] - 1];
		if (r->hash == h && r->fidx == fidx && strcmp(r->uid, uid) == 0)
			return r;
	}
	return NULL;
}

static void
tab_put(struct state *st, size_t idx)
{
	size_t i;

	for (i = st->recs[idx].hash & (st->tabcap - 1); st->tab[i] != 0;
	     i = (i + 1) & (st->tabcap - 1))
		;
	st->tab[i] = (uint32_t)(idx + 1);
}

/* Room for n records, so that a load does not grow and rehash the
 * table again and again. */
static void
rec_reserve(struct state *st, size_t n)
{
	size_t i, cap;

	if (n > UINT32_MAX / 4)
		return;
	if (n > st->caprecs) {
		st->caprecs = n;
		st->recs
		    = xreallocarray(st->recs, st->caprecs, sizeof(*st->recs));
	}
	for (cap = st->tabcap ? st->tabcap : 1024; cap < n * 2; cap *= 2)
		;
	if (cap > st->tabcap) {
		free(st->tab);
		st->tabcap = cap;
		st->tab = xcalloc(st->tabcap, sizeof(*st->tab));
		for (i = 0; i < st->nrecs; i++)
			tab_put(st, i);
	}
}

/* The record for (fidx, uid), created void when missing. */
static struct rec *
rec_get(struct state *st, size_t fidx, const char *uid)
{
	struct rec *r;
	uint32_t h = rec_hash(fidx, uid);
	size_t i;

	if ((r = rec_find(st, fidx, uid, h)) != NULL)
		return r;
	if (st->nrecs >= UINT32_MAX - 1) {
		fputs("mailfetch: too many state records\n", stderr);
		exit(70);
	}
	if ((st->nrecs + 1) * 2 > st->tabcap) {
		free(st->tab);
		st->tabcap = st->tabcap ? st->tabcap * 2 : 1024;
		st->tab = xcalloc(st->tabcap, sizeof(*st->tab));
		for (i = 0; i < st->nrecs; i++)
			tab_put(st, i);
	}
	if (st->nrecs == st->caprecs) {
		st->caprecs = st->caprecs ? st->caprecs * 2 : 1024;
		st->recs
		    = xreallocarray(st->recs, st->caprecs, sizeof(*st->recs));
	}
	r = &st->recs[st->nrecs];
	memset(r, 0, sizeof(*r));
	r->uid = strpool_add(&st->uids, uid);
	r->fidx = (uint32_t)fidx;
	r->hash = h;
	tab_put(st, st->nrecs++);
	return r;
}

static void
rec_record(struct state *st, struct rec *r, int64_t when)
{
	r->gone = 0;
	if (r->when == 0 || r->grew) {
		/* A record of one that grew past max_size is replaced. */
		r->when = when;
		r->isshort = 0;
		r->grew = 0;
		st->count++;
	} else if (when < r->when)
		r->when = when;
	free(r->intent);
	r->intent = NULL;
}

/* Where the sizes of record idx are, or would go: st->shorts is kept
 * sorted by record index, so this is a binary search. */
static size_t
short_pos(const struct state *st, size_t idx)
{
	size_t lo = 0, hi = st->nshorts, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (st->shorts[mid].rec < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct shortrec *
short_find(const struct state *st, size_t idx)
{
	size_t i = short_pos(st, idx);

	return i < st->nshorts && st->shorts[i].rec == idx ? &st->shorts[i]
							   : NULL;
}

/* Keep two sizes for record r. Records are mostly noted in the order
 * they were created, so the insertion is mostly at the end. */
static void
sizes_put(
    struct state *st, struct rec *r, uint64_t announced, uint64_t received)
{
	struct shortrec *sh;
	size_t idx = (size_t)(r - st->recs), i = short_pos(st, idx);

	if (i == st->nshorts || st->shorts[i].rec != idx) {
		if ((st->nshorts & (st->nshorts - 1)) == 0)
			st->shorts = xreallocarray(st->shorts,
			    st->nshorts ? st->nshorts * 2 : 1,
			    sizeof(*st->shorts));
		memmove(&st->shorts[i + 1], &st->shorts[i],
		    (st->nshorts - i) * sizeof(*st->shorts));
		st->nshorts++;
		st->shorts[i].rec = idx;
	}
	sh = &st->shorts[i];
	sh->announced = announced;
	sh->received = received;
}

/* Note that record r arrived short. */
static void
rec_short(
    struct state *st, struct rec *r, uint64_t announced, uint64_t received)
{
	sizes_put(st, r, announced, received);
	r->isshort = 1;
}

/* Note that the message of r grew past max_size limit, found at time
 * when; nothing if it was downloaded already. */
static void
rec_grew(struct state *st, struct rec *r, int64_t when, uint64_t limit)
{
	if (r->when != 0 && !r->grew)
		return;
	r->when = when;
	r->gone = 0;
	r->isshort = 0;
	r->grew = 1;
	sizes_put(st, r, 0, limit);
}

static void
rec_intend(struct rec *r, const char *filename, int64_t when)
{
	free(r->intent);
	r->intent = xstrdup(filename);
	r->intent_when = when;
}

/* Files. */

static char *
dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		return xstrdup(".");
	if (s == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(s - path));
}

/* fsync the directory that holds path (tls/util.c), failing st. */
static int
sync_parent(struct state *st, const char *path)
{
	char *dir;
	int e;

	if (fsync_parent(path) == 0)
		return 0;
	e = errno;
	dir = dir_of(path);
	st_fail(st, STATE_EOS, e, "fsync %s", dir);
	free(dir);
	return -1;
}

static int
fsync_dir(struct state *st)
{
	int fd, e;

	if ((fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		st_fail(st, STATE_EOS, errno, "open %s", st->dir);
		return -1;
	}
	if (fsync(fd) == -1) {
		e = errno;
		close(fd);
		st_fail(st, STATE_EOS, e, "fsync %s", st->dir);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * mkdir -p the state file's directory, mode 0700; each directory
 * created is made durable by an fsync of its parent.
 */
static int
make_dir(struct state *st)
{
	char *p, *s, c;

	p = xstrdup(st->dir);
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) == 0) {
			if (sync_parent(st, p) == -1)
				goto fail;
		} else if (errno != EEXIST) {
			st_fail(st, STATE_EOS, errno, "mkdir %s", p);
			goto fail;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return 0;

fail:
	free(p);
	return -1;
}

/*
 * Read the whole file into a new buffer with a NUL after it. Returns 0,
 * or 1 when the file does not exist, or -1.
 */
static int
read_file(struct state *st, const char *path, char **data, size_t *len)
{
	struct stat sb;
	char *p = NULL;
	size_t cap, n = 0;
	ssize_t r;
	int fd, e;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		st_fail(st, STATE_EOS, errno, "open %s", path);
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		e = errno;
		goto fail;
	}
	cap = sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096;
	p = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			p = xreallocarray(p, cap, 1);
		}
		if ((r = read(fd, p + n, cap - n - 1)) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;

fail:
	free(p);
	close(fd);
	st_fail(st, STATE_EOS, e, "read %s", path);
	return -1;
}

/* Parsing. */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo the escaping in place. */
static int
unescape(char *s)
{
	char *w = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((hi = hexval(s[1])) == -1
			    || (lo = hexval(s[2])) == -1 || (hi | lo) == 0)
				return -1;
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else if (esc_needed((unsigned char)*s))
			return -1;
		else
			*w++ = *s;
	}
	*w = '\0';
	return 0;
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

/* The optional attributes of an M line. */
struct attrs {
	int64_t gone;
	int isshort;
	uint64_t announced, received;
	uint64_t grew; /* grew=N; 0: none */
	char *file; /* file=NAME, unescaped in place; NULL: none */
	uint8_t flags; /* flags=LETTERS: FLAG_KNOWN and the letters' bits */
};

/* "flags=" letters: FLAG_LETTERS in order, each at most once. */
static int
parse_flags(const char *s, uint8_t *f)
{
	const char *p = FLAG_LETTERS, *c;

	*f = FLAG_KNOWN;
	for (; *s != '\0'; s++) {
		if ((c = strchr(p, *s)) == NULL)
			return -1;
		*f |= (uint8_t)(1u << (c - FLAG_LETTERS));
		p = c + 1;
	}
	return 0;
}

static int intent_name_ok(const char *);

/* "A/R": announced and received sizes, R < A. */
static int
parse_short(char *s, struct attrs *at)
{
	char *slash;
	int rv;

	if ((slash = strchr(s, '/')) == NULL)
		return -1;
	*slash = '\0';
	rv = parse_u64(s, UINT64_MAX, &at->announced) == -1
		|| parse_u64(slash + 1, UINT64_MAX, &at->received) == -1
		|| at->received >= at->announced
	    ? -1
	    : 0;
	*slash = '/';
	return rv;
}

/* Parse the n attribute fields f[0..n-1] of an M line into *at. */
static int
parse_attrs(char **f, size_t n, struct attrs *at, const char **what)
{
	uint64_t v;
	size_t i;

	memset(at, 0, sizeof(*at));
	for (i = 0; i < n; i++) {
		if (strncmp(f[i], "gone=", 5) == 0 && at->gone == 0) {
			if (parse_u64(f[i] + 5, INT64_MAX, &v) == -1
			    || v == 0) {
				*what = "bad gone= time";
				return -1;
			}
			at->gone = (int64_t)v;
		} else if (strncmp(f[i], "short=", 6) == 0 && !at->isshort) {
			if (parse_short(f[i] + 6, at) == -1) {
				*what = "bad short= sizes";
				return -1;
			}
			at->isshort = 1;
		} else if (strncmp(f[i], "file=", 5) == 0 && at->file == NULL) {
			if (unescape(f[i] + 5) == -1
			    || !intent_name_ok(f[i] + 5)) {
				*what = "bad file= name";
				return -1;
			}
			at->file = f[i] + 5;
		} else if (strncmp(f[i], "flags=", 6) == 0 && at->flags == 0) {
			if (parse_flags(f[i] + 6, &at->flags) == -1) {
				*what = "bad flags= letters";
				return -1;
			}
		} else if (strncmp(f[i], "grew=", 5) == 0 && at->grew == 0) {
			if (parse_u64(f[i] + 5, UINT64_MAX, &at->grew) == -1
			    || at->grew == 0) {
				*what = "bad grew= size";
				return -1;
			}
		} else {
			*what = "unknown or repeated attribute";
			return -1;
		}
	}
	if (at->isshort && at->grew != 0) {
		*what = "short= and grew= together";
		return -1;
	}
	return 0;
}

/* The F line that declared name; the last one found is tried first, as
 * a file's lines come grouped by folder. */
static size_t
raw_find(struct state *st, const char *name)
{
	size_t i;

	if (st->rawlast < st->nraw
	    && strcmp(st->raw[st->rawlast].name, name) == 0)
		return st->rawlast;
	for (i = 0; i < st->nraw; i++)
		if (strcmp(st->raw[i].name, name) == 0)
			return st->rawlast = i;
	return SIZE_MAX;
}

static void
raw_free(struct state *st)
{
	size_t i;

	for (i = 0; i < st->nraw; i++)
		free(st->raw[i].name);
	free(st->raw);
	st->raw = NULL;
	st->nraw = 0;
	free(st->craw);
	free(st->cname);
	st->craw = st->cname = NULL;
}

/*
 * The name the folder raw of a line is known by (state_set_canon), and
 * in *respelled whether that is another. The last one is remembered: a
 * file's lines come grouped by folder.
 */
static const char *
canon_name(struct state *st, const char *raw, int *respelled)
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
		st->respelled |= st->crespelled;
	}
	*respelled = st->crespelled;
	return st->cname;
}

/* M or I: record the download with its attributes, or note the
 * intent. */
static void
apply_rec(struct state *st, char *const *fld, size_t f, int64_t when,
    const struct attrs *at)
{
	struct rec *r = rec_get(st, f, fld[4]);

	if (fld[0][0] == 'X') {
		rec_void(st, r);
		free(r->intent);
		r->intent = NULL;
		return;
	}
	if (fld[0][0] == 'M') {
		free(r->file);
		r->file = at->file != NULL ? xstrdup(at->file) : NULL;
		r->flags = at->flags;
	}
	if (fld[0][0] == 'M' && at->grew != 0) {
		rec_grew(st, r, when, at->grew);
		r->gone = at->gone;
	} else if (fld[0][0] == 'M') {
		rec_record(st, r, when);
		r->gone = at->gone;
		if (at->isshort)
			rec_short(st, r, at->announced, at->received);
	} else
		rec_intend(r, fld[5], when);
}

/*
 * A line of the state file. An F line declares a folder under the name
 * it is written with (fld[1]), once; M and I lines name a folder
 * declared above, with its UIDVALIDITY. name is the folder the line
 * belongs to (see state_set_canon): when a file written by an older
 * mailfetch holds one folder under several names, their records merge,
 * those of the highest UIDVALIDITY (RFC 3501 section 2.3.1.1: it only
 * grows) and with the higher UIDNEXT; the others are void.
 */
static int
load_line(struct state *st, char *const *fld, const char *name, uint32_t uv,
    const uint64_t *fm, int64_t when, const struct attrs *at, const char **what)
{
	size_t r = raw_find(st, fld[1]), f;

	if (fld[0][0] == 'F') {
		if (r != SIZE_MAX) {
			*what = "folder declared twice";
			return -1;
		}
		st->raw
		    = xreallocarray(st->raw, st->nraw + 1, sizeof(*st->raw));
		st->raw[st->nraw].name = xstrdup(fld[1]);
		st->raw[st->nraw++].uv = uv;
		f = folder_find(st, name);
		if (f == SIZE_MAX || uv > st->folders[f].uv)
			f = folder_reset(st, name, uv);
		if (uv == st->folders[f].uv && fm[0] > st->folders[f].uidnext)
			st->folders[f].uidnext = (uint32_t)fm[0];
		if (uv == st->folders[f].uv && fm[1] > st->folders[f].modseq)
			st->folders[f].modseq = fm[1];
		return 0;
	}
	if (r == SIZE_MAX) {
		*what = "folder not declared by an F line";
		return -1;
	}
	if (st->raw[r].uv != uv) {
		*what = "uidvalidity differs from the folder's";
		return -1;
	}
	/* Declared, so the folder exists; another name's higher
	 * UIDVALIDITY voids this one's records. */
	f = folder_find(st, name);
	if (st->folders[f].uv == uv)
		apply_rec(st, fld, f, when, at);
	return 0;
}

/*
 * A line of the journal, replayed over the state: F resets the folder,
 * M and I apply to the folder with their UIDVALIDITY, voiding it first
 * when it had another. A line of an older mailfetch that names the
 * folder otherwise (respelled) merges as load_line does instead: it
 * resets nothing of the same or a higher UIDVALIDITY.
 */
static int
replay_line(struct state *st, char *const *fld, const char *name, int respelled,
    uint32_t uv, int64_t when, const struct attrs *at)
{
	size_t f = folder_find(st, name);

	if (respelled && f != SIZE_MAX
	    && (uv < st->folders[f].uv
		|| (uv == st->folders[f].uv && fld[0][0] == 'F')))
		return 0;
	if (fld[0][0] == 'F') {
		folder_reset(st, name, uv);
		return 0;
	}
	apply_rec(st, fld, folder_use(st, name, uv, 0), when, at);
	return 0;
}

/* A line cut into its fields, and its values once checked. */
struct line {
	char *fld[MAXFIELDS];
	size_t nf;
	size_t
	    want; /* the fields of its type: 3 F, 5 M (and attributes), 6 I */
	uint64_t uv, when;
	uint64_t fm[2]; /* F: uidnext, modseq */
	struct attrs at;
};

/* Cut line at its TABs and check its type and number of fields. */
static int
split_line(struct line *l, char *line, int journal, const char **what)
{
	char *s;

	l->fld[l->nf++] = line;
	for (s = line; *s != '\0'; s++)
		if (*s == '\t') {
			if (l->nf == MAXFIELDS) {
				*what = "too many fields";
				return -1;
			}
			*s = '\0';
			l->fld[l->nf++] = s + 1;
		}
	if (strcmp(l->fld[0], "F") == 0)
		l->want = 3;
	else if (strcmp(l->fld[0], "M") == 0)
		l->want = 5;
	else if (strcmp(l->fld[0], "I") == 0)
		l->want = 6;
	else if (strcmp(l->fld[0], "X") == 0 && journal)
		l->want = 5;
	else {
		*what = "unknown line type";
		return -1;
	}
	/* Only the state file's F lines carry a UIDNEXT and a MODSEQ; M
	 * lines may carry attributes. */
	if (l->nf != l->want
	    && !(l->want == 3 && l->nf >= 4 && l->nf <= 5 && !journal)
	    && !(l->fld[0][0] == 'M' && l->nf > l->want)) {
		*what = "wrong number of fields";
		return -1;
	}
	return 0;
}

/* Check and convert the fields' values, in order; *what names the
 * first that is wrong. */
static int
check_fields(struct line *l, const char **what)
{
	char **fld = l->fld;

	if (unescape(fld[1]) == -1)
		return *what = "bad folder name", -1;
	if (parse_u64(fld[2], UINT32_MAX, &l->uv) == -1)
		return *what = "bad uidvalidity", -1;
	/* A UIDNEXT alone is not 0; before a MODSEQ it may be. */
	if (l->want == 3 && l->nf >= 4
	    && (parse_u64(fld[3], UINT32_MAX, &l->fm[0]) == -1
		|| (l->fm[0] == 0 && l->nf == 4)))
		return *what = "bad uidnext", -1;
	if (l->want == 3 && l->nf == 5
	    && (parse_u64(fld[4], UINT64_MAX, &l->fm[1]) == -1
		|| l->fm[1] == 0))
		return *what = "bad modseq", -1;
	if (l->want >= 5
	    && (parse_u64(fld[3], INT64_MAX, &l->when) == -1 || l->when == 0))
		return *what = "bad time", -1;
	if (l->want >= 5 && (unescape(fld[4]) == -1 || fld[4][0] == '\0'))
		return *what = "bad uid", -1;
	if (l->want == 6 && (unescape(fld[5]) == -1 || !intent_name_ok(fld[5])))
		return *what = "bad file name", -1;
	if (fld[0][0] == 'M'
	    && parse_attrs(fld + 5, l->nf - 5, &l->at, what) == -1)
		return -1;
	return 0;
}

/*
 * Apply one line (NUL-terminated, without its LF). Returns 0, or -1
 * with what is wrong in *what.
 */
static int
parse_line(struct state *st, char *line, int journal, const char **what)
{
	struct line l;
	const char *name;
	int respelled;

	memset(&l, 0, sizeof(l));
	if (split_line(&l, line, journal, what) == -1
	    || check_fields(&l, what) == -1)
		return -1;
	name = canon_name(st, l.fld[1], &respelled);
	if (journal)
		return replay_line(st, l.fld, name, respelled, (uint32_t)l.uv,
		    (int64_t)l.when, &l.at);
	return load_line(st, l.fld, name, (uint32_t)l.uv, l.fm, (int64_t)l.when,
	    &l.at, what);
}

/*
 * The first two lines, p being line number line (1 or 2): the header,
 * then the generation. Returns 0, 1 for a journal older than the state
 * file (ignored), or -1.
 */
static int
parse_head(
    struct state *st, const char *path, const char *p, size_t line, int journal)
{
	const char *hdr = journal ? JOURNAL_HEADER : STATE_HEADER;
	uint64_t gen;

	if (line == 1) {
		if (strcmp(p, hdr) == 0)
			return 0;
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:1: bad header, expected \"%s\"", path, hdr);
		return -1;
	}
	if (strncmp(p, "G\t", 2) != 0
	    || parse_u64(p + 2, INT64_MAX, &gen) == -1) {
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:2: expected the generation line", path);
		return -1;
	}
	if (!journal)
		st->gen = gen;
	else if (gen < st->gen)
		return 1;
	return 0;
}

/*
 * Parse a whole file. For the journal, a last line without LF is cut
 * off (a write torn by a crash) and st->jvalid set to the length of
 * what parsed; a journal older than the state file is ignored, with
 * st->jvalid 0 so that the next append replaces it.
 */
static int
parse_file(
    struct state *st, const char *path, char *data, size_t len, int journal)
{
	const char *what;
	char *p = data, *end = data + len, *nl;
	size_t line = 0;
	int rc, have_gen = 0;

	if (len == 0 && !journal) {
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:1: empty file, expected \"%s\"", path, STATE_HEADER);
		return -1;
	}
	for (; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			if (journal)
				break;
			st_fail(st, STATE_ECORRUPT, 0,
			    "%s:%zu: last line has no newline "
			    "(truncated file)",
			    path, line);
			return -1;
		}
		*nl = '\0';
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			st_fail(st, STATE_ECORRUPT, 0, "%s:%zu: NUL byte", path,
			    line);
			return -1;
		}
		if (line <= 2
		    && (rc = parse_head(st, path, p, line, journal)) != 0) {
			if (rc == 1)
				st->jvalid = 0;
			return rc == 1 ? 0 : -1;
		}
		have_gen |= line == 2;
		if (line > 2 && parse_line(st, p, journal, &what) == -1) {
			st_fail(st, STATE_ECORRUPT, 0, "%s:%zu: %s", path, line,
			    what);
			return -1;
		}
	}
	if (!journal && !have_gen) {
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:2: expected the generation line (truncated file)",
		    path);
		return -1;
	}
	/* A journal cut before its generation line holds nothing. */
	if (journal)
		st->jvalid = have_gen ? (off_t)(p - data) : 0;
	return 0;
}

/* The interface. */

struct state *
state_new(const char *path)
{
	struct state *st;

	st = xcalloc(1, sizeof(*st));
	st->path = xstrdup(path);
	xasprintf(&st->jpath, "%s.journal", path);
	xasprintf(&st->lpath, "%s.lock", path);
	xasprintf(&st->tpath, "%s.tmp", path);
	st->dir = dir_of(path);
	st->jfd = -1;
	st->lockfd = -1;
	return st;
}

void
state_set_canon(struct state *st, char *(*canon)(const char *))
{
	st->canon = canon;
}

int
state_lock(struct state *st)
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
			st_fail(st, STATE_ELOCKED, 0,
			    "another mailfetch run holds the lock on %s",
			    st->lpath);
		else
			st_fail(st, STATE_EOS, errno, "lock %s", st->lpath);
		close(fd);
		return -1;
	}
	st->lockfd = fd;
	return 0;
}

/*
 * Intents that no record followed are pending; the others are done. A
 * pending one's journaled name "SUB/NAME" or "NAME" (intent_name_ok) is
 * split into its subfolder and name, in place.
 */
static void
collect_pending(struct state *st)
{
	struct state_intent *p;
	struct rec *r;
	char *slash;
	size_t i, n;

	for (i = n = 0; i < st->nrecs; i++) {
		r = &st->recs[i];
		if (r->intent != NULL && r->when != 0 && !r->grew) {
			free(r->intent);
			r->intent = NULL;
		} else if (r->intent != NULL)
			n++;
	}
	st->pend = xcalloc(n, sizeof(*st->pend));
	for (i = 0; i < st->nrecs; i++) {
		r = &st->recs[i];
		if (r->intent == NULL)
			continue;
		p = &st->pend[st->npend++];
		p->folder = st->folders[r->fidx].name;
		p->uidvalidity = st->folders[r->fidx].uv;
		p->uid = r->uid;
		if ((slash = strchr(r->intent, '/')) != NULL) {
			*slash = '\0';
			p->sub = r->intent;
			p->name = slash + 1;
		} else {
			p->sub = "";
			p->name = r->intent;
		}
		p->when = r->intent_when;
		r->intent = NULL;
	}
}

int
state_load(struct state *st, int readonly)
{
	char *data;
	size_t len;
	int rc;

	st->readonly = readonly;
	if ((rc = read_file(st, st->path, &data, &len)) == -1)
		return -1;
	/* A record's line is at least 24 bytes ("M\t-\t0\t" and a time
	 * of ten digits, a uid, LF); most are a little longer. */
	if (rc == 0)
		rec_reserve(st, len / 32);
	if (rc == 0 && parse_file(st, st->path, data, len, 0) == -1) {
		free(data);
		return -1;
	}
	free(data);
	st->existed = rc == 0;
	if ((rc = read_file(st, st->jpath, &data, &len)) == -1)
		return -1;
	/* A journal, even a stale one, is folded in by the next save. */
	st->dirty = rc == 0;
	if (rc == 1)
		st->jvalid = 0;
	else if (parse_file(st, st->jpath, data, len, 1) == -1) {
		free(data);
		return -1;
	}
	free(data);

	/* Names respelled are saved under their new spelling. */
	if (st->respelled)
		st->dirty = 1;
	raw_free(st);
	collect_pending(st);
	st->loaded = 1;
	return 0;
}

size_t
state_npending(const struct state *st)
{
	return st->npend;
}

const struct state_intent *
state_pending(const struct state *st, size_t i)
{
	return i < st->npend ? &st->pend[i] : NULL;
}

uint32_t
state_uidvalidity(const struct state *st, const char *folder)
{
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX)
		return 0;
	return st->folders[f].uv;
}

void
state_reset_folder(struct state *st, const char *folder, uint32_t uidvalidity)
{
	folder_reset(st, folder, uidvalidity);
	line_f(&st->jbuf, folder, uidvalidity, 0, 0);
	st->dirty = 1;
}

uint32_t
state_uidnext(const struct state *st, const char *folder, uint32_t uidvalidity)
{
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX
	    || st->folders[f].uv != uidvalidity)
		return 0;
	return st->folders[f].uidnext;
}

void
state_set_uidnext(struct state *st, const char *folder, uint32_t uidvalidity,
    uint32_t uidnext)
{
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX)
		f = folder_add(st, folder, uidvalidity);
	if (st->folders[f].uv != uidvalidity
	    || st->folders[f].uidnext == uidnext)
		return;
	st->folders[f].uidnext = uidnext;
	st->dirty = 1;
}

size_t
state_folder_count(const struct state *st, const char *folder,
    uint32_t uidvalidity, int64_t *oldest)
{
	const struct rec *r;
	size_t f, i, n = 0;

	*oldest = 0;
	if ((f = folder_find(st, folder)) == SIZE_MAX
	    || st->folders[f].uv != uidvalidity)
		return 0;
	for (i = 0; i < st->nrecs; i++) {
		r = &st->recs[i];
		if (r->fidx != f || r->when == 0 || r->gone != 0 || r->grew)
			continue;
		if (n++ == 0 || r->when < *oldest)
			*oldest = r->when;
	}
	return n;
}

/* The record of (folder, uidvalidity, uid), void or not; NULL when
 * there is none. */
static struct rec *
rec_lookup(const struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid)
{
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX
	    || st->folders[f].uv != uidvalidity)
		return NULL;
	return rec_find(st, f, uid, rec_hash(f, uid));
}

/* The sizes a live record with the attribute short= (grew = 0) or
 * grew= (grew = 1) keeps; NULL when it has none. */
static const struct shortrec *
sizes_lookup(const struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, int grew)
{
	struct rec *r = rec_lookup(st, folder, uidvalidity, uid);

	if (r == NULL || r->when == 0 || (grew ? !r->grew : !r->isshort))
		return NULL;
	return short_find(st, (size_t)(r - st->recs));
}

int64_t
state_lookup(const struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid)
{
	struct rec *r = rec_lookup(st, folder, uidvalidity, uid);

	return r == NULL || r->grew ? 0 : r->when;
}

int
state_short(const struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, uint64_t *announced, uint64_t *received)
{
	const struct shortrec *sh;

	*announced = *received = 0;
	if ((sh = sizes_lookup(st, folder, uidvalidity, uid, 0)) == NULL)
		return 0;
	*announced = sh->announced;
	*received = sh->received;
	return 1;
}

int
state_intend(struct state *st, const struct state_intent *in)
{
	int64_t now = (int64_t)time(NULL);
	char *filename;
	size_t f;

	/* Journaled relative to the account's Maildir: finding the file
	 * needs no server delimiter. */
	if (*in->sub == '\0')
		filename = xstrdup(in->name);
	else
		xasprintf(&filename, "%s/%s", in->sub, in->name);
	if (in->uid[0] == '\0' || !intent_name_ok(filename)) {
		st_fail(st, STATE_EOS, EINVAL, "%s: intent for \"%s\"",
		    st->path, filename);
		free(filename);
		return -1;
	}
	if (now < 1)
		now = 1;
	f = folder_use(st, in->folder, in->uidvalidity, 1);
	rec_intend(rec_get(st, f, in->uid), filename, now);
	line_i(&st->jbuf, in->folder, in->uidvalidity, now, in->uid, filename);
	free(filename);
	st->dirty = 1;
	return 0;
}

/* A record just made, of a message on the server (not pruned this
 * run), into the journal's buffer. */
static void
journal_rec(
    struct state *st, const char *folder, uint32_t uidvalidity, struct rec *r)
{
	r->marked = 1;
	line_m(&st->jbuf, st, folder, uidvalidity, r);
	st->dirty = 1;
}

int
state_add(struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, int64_t when)
{
	return state_add_short(st, folder, uidvalidity, uid, when, 0, 0);
}

int
state_add_short(struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, int64_t when, uint64_t announced, uint64_t received)
{
	struct rec *r;
	size_t f;

	if (uid[0] == '\0') {
		st_fail(st, STATE_EOS, EINVAL, "%s: record with an empty uid",
		    st->path);
		return -1;
	}
	/* A time of 0 would read as "not recorded". */
	if (when < 1)
		when = 1;
	f = folder_use(st, folder, uidvalidity, 1);
	r = rec_get(st, f, uid);
	rec_record(st, r, when);
	if (received < announced)
		rec_short(st, r, announced, received);
	/* It was just downloaded, so it is on the server: not pruned. */
	journal_rec(st, folder, uidvalidity, r);
	return 0;
}

int
state_add_grew(struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, int64_t when, uint64_t limit)
{
	struct rec *r;
	size_t f;

	if (uid[0] == '\0' || limit == 0) {
		st_fail(st, STATE_EOS, EINVAL, "%s: bad record of \"%s\"",
		    st->path, uid);
		return -1;
	}
	if (when < 1)
		when = 1;
	f = folder_use(st, folder, uidvalidity, 1);
	r = rec_get(st, f, uid);
	if (r->when != 0 && !r->grew)
		return 0; /* downloaded already: that record stands */
	rec_grew(st, r, when, limit);
	journal_rec(st, folder, uidvalidity, r);
	return 0;
}

int
state_grew(const struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, uint64_t *limit)
{
	const struct shortrec *sh;

	*limit = 0;
	if ((sh = sizes_lookup(st, folder, uidvalidity, uid, 1)) == NULL)
		return 0;
	*limit = sh->received;
	return 1;
}

/*
 * Open the journal for appending. What a torn write left after the
 * last good line is cut off first, so new lines start on a line of
 * their own; an empty journal gets its header.
 */
static int
journal_open(struct state *st)
{
	struct buf b = { NULL, 0, 0 };
	struct stat sb;
	int fd, e;

	if (make_dir(st) == -1)
		return -1;
	fd = open(st->jpath,
	    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		open_fail(st, st->jpath);
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		e = errno;
		goto fail;
	}
	if (sb.st_size != st->jvalid && ftruncate(fd, st->jvalid) == -1) {
		e = errno;
		goto fail;
	}
	if (st->jvalid == 0) {
		buf_add(&b, JOURNAL_HEADER "\nG\t", sizeof(JOURNAL_HEADER) + 2);
		buf_u64(&b, st->gen);
		buf_addc(&b, '\n');
		if (write_full(fd, b.p, b.len) == -1) {
			e = errno;
			goto fail;
		}
		/* The journal is new: make it and its name durable. */
		if (fdatasync(fd) == -1) {
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
	st_fail(st, STATE_EOS, e, "write %s", st->jpath);
	return -1;
}

/*
 * Writing is for a state loaded for writing: what a file holds that was
 * not loaded would be overwritten.
 */
static int
writable(struct state *st, const char *path)
{
	if (!st->loaded || st->readonly) {
		st_fail(st, STATE_EOS, st->readonly ? EROFS : EINVAL,
		    "%s: not written, state %s", path,
		    st->readonly ? "loaded read-only" : "not loaded");
		return -1;
	}
	return 0;
}

int
state_sync(struct state *st)
{
	int e;

	if (st->jbuf.len == 0)
		return 0;
	if (writable(st, st->jpath) == -1)
		return -1;
	if (st->jfd == -1 && journal_open(st) == -1)
		return -1;
	if (write_full(st->jfd, st->jbuf.p, st->jbuf.len) == -1
	    || fdatasync(st->jfd) == -1) {
		/*
		 * Part of the batch may be on disk, and not durably. Close
		 * the journal: the next attempt cuts it back to the last
		 * good line and writes the whole batch again.
		 */
		e = errno;
		close(st->jfd);
		st->jfd = -1;
		st_fail(st, STATE_EOS, e, "write %s", st->jpath);
		return -1;
	}
	st->jvalid += (off_t)st->jbuf.len;
	st->jbuf.len = 0;
	return 0;
}

void
state_mark(
    struct state *st, const char *folder, uint32_t uidvalidity, const char *uid)
{
	struct rec *r = rec_lookup(st, folder, uidvalidity, uid);

	if (r != NULL)
		r->marked = 1;
}

void
state_prune(struct state *st, const char *folder, int64_t now)
{
	struct rec *r;
	size_t f, i;

	if ((f = folder_find(st, folder)) == SIZE_MAX)
		return;
	if (now < 1)
		now = 1;
	for (i = 0; i < st->nrecs; i++) {
		r = &st->recs[i];
		if (r->fidx != f || r->when == 0)
			continue;
		if (r->marked) {
			/* Listed again: it came back, or never left. */
			if (r->gone != 0) {
				r->gone = 0;
				st->dirty = 1;
			}
		} else if (r->gone == 0) {
			r->gone = now;
			st->dirty = 1;
		} else if (now - r->gone >= STATE_KEEP_GONE) {
			/* A clock moved back keeps it longer, never less. */
			rec_void(st, r);
			st->dirty = 1;
		}
	}
}

static int
save_flush(struct state *st, int fd, struct buf *b)
{
	if (write_full(fd, b->p, b->len) == -1) {
		st_fail(st, STATE_EOS, errno, "write %s", st->tpath);
		return -1;
	}
	b->len = 0;
	return 0;
}

/* Write the whole state, generation st->gen + 1, to fd. */
static int
save_lines(struct state *st, int fd)
{
	struct buf b = { NULL, 0, 0 };
	struct folder *fo;
	struct rec *r;
	size_t i;
	int rv = -1;

	buf_need(&b, SAVE_CHUNK + 4096);
	buf_add(&b, STATE_HEADER "\nG\t", sizeof(STATE_HEADER) + 2);
	buf_u64(&b, st->gen + 1);
	buf_addc(&b, '\n');
	for (i = 0; i < st->nfolders; i++)
		line_f(&b, st->folders[i].name, st->folders[i].uv,
		    st->folders[i].uidnext, st->folders[i].modseq);
	for (i = 0; i < st->nrecs; i++) {
		r = &st->recs[i];
		fo = &st->folders[r->fidx];
		if (r->when != 0)
			line_m(&b, st, fo->name, fo->uv, r);
		/* One that grew may have an intent of a later download. */
		if ((r->when == 0 || r->grew) && r->intent != NULL)
			line_i(&b, fo->name, fo->uv, r->intent_when, r->uid,
			    r->intent);
		if (b.len >= SAVE_CHUNK && save_flush(st, fd, &b) == -1)
			goto done;
	}
	rv = save_flush(st, fd, &b);
done:
	free(b.p);
	return rv;
}

/* Write the whole state into a new temp file and make it durable; the
 * lock is held, so a stale temp file is a crashed run's. */
static int
save_temp(struct state *st)
{
	int fd, e;

	if (unlink(st->tpath) == -1 && errno != ENOENT) {
		st_fail(st, STATE_EOS, errno, "unlink %s", st->tpath);
		return -1;
	}
	fd = open(st->tpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		st_fail(st, STATE_EOS, errno, "create %s", st->tpath);
		return -1;
	}
	if (save_lines(st, fd) == -1)
		goto fail;
	if (fdatasync(fd) == -1) {
		st_fail(st, STATE_EOS, errno, "fsync %s", st->tpath);
		goto fail;
	}
	e = close(fd);
	fd = -1;
	if (e == -1) {
		st_fail(st, STATE_EOS, errno, "close %s", st->tpath);
		goto fail;
	}
	return 0;

fail:
	if (fd != -1)
		close(fd);
	(void)unlink(st->tpath);
	return -1;
}

int
state_save(struct state *st)
{
	/* Nothing changed: the file on disk says it all already (a poll
	 * that found nothing new rewrites nothing). */
	if (st->existed && !st->dirty)
		return 0;
	if (writable(st, st->path) == -1 || make_dir(st) == -1
	    || save_temp(st) == -1)
		return -1;
	if (rename(st->tpath, st->path) == -1) {
		st_fail(st, STATE_EOS, errno, "rename %s to %s", st->tpath,
		    st->path);
		(void)unlink(st->tpath);
		return -1;
	}
	/*
	 * The new file holds everything the journal does, and what is still
	 * buffered for it. From here the journal on disk is stale whatever
	 * happens: its generation is older, a load ignores it, and the next
	 * state_sync starts it afresh.
	 */
	st->gen++;
	st->jbuf.len = 0;
	st->jvalid = 0;
	st->existed = 1;
	st->dirty = 0;
	if (st->jfd != -1) {
		close(st->jfd);
		st->jfd = -1;
	}
	if (fsync_dir(st) == -1)
		return -1;
	if (unlink(st->jpath) == -1 && errno != ENOENT) {
		st_fail(st, STATE_EOS, errno, "unlink %s", st->jpath);
		return -1;
	}
	return fsync_dir(st);
}

/* Mirror support. */

static void
rec_out(const struct rec *r, struct state_rec *out)
{
	out->uid = r->uid;
	out->when = r->when;
	out->file = r->file;
	out->has_flags = (r->flags & FLAG_KNOWN) != 0;
	flag_letters(r->flags, out->flags);
	out->marked = r->marked;
}

int
state_set_local(struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, const char *file, const char *flags)
{
	struct rec *r = rec_lookup(st, folder, uidvalidity, uid);
	uint8_t f = 0;

	if (r == NULL || r->when == 0 || r->grew
	    || (file != NULL && !intent_name_ok(file))
	    || (flags != NULL && parse_flags(flags, &f) == -1)) {
		st_fail(st, STATE_EOS, EINVAL,
		    "%s: cannot note the file of \"%s\"", st->path, uid);
		return -1;
	}
	if (file != NULL) {
		free(r->file);
		r->file = xstrdup(file);
	}
	if (flags != NULL)
		r->flags = f;
	line_m(&st->jbuf, st, folder, uidvalidity, r);
	st->dirty = 1;
	return 0;
}

int
state_get(const struct state *st, const char *folder, uint32_t uidvalidity,
    const char *uid, struct state_rec *out)
{
	struct rec *r = rec_lookup(st, folder, uidvalidity, uid);

	if (r == NULL || r->when == 0 || r->grew)
		return 0;
	rec_out(r, out);
	return 1;
}

int
state_next(const struct state *st, const char *folder, uint32_t uidvalidity,
    size_t *pos, struct state_rec *out)
{
	const struct rec *r;
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX
	    || st->folders[f].uv != uidvalidity)
		return 0;
	for (; *pos < st->nrecs; (*pos)++) {
		r = &st->recs[*pos];
		if (r->fidx != f || r->when == 0 || r->grew)
			continue;
		rec_out(r, out);
		(*pos)++;
		return 1;
	}
	return 0;
}

int
state_forget(
    struct state *st, const char *folder, uint32_t uidvalidity, const char *uid)
{
	struct rec *r = rec_lookup(st, folder, uidvalidity, uid);
	int64_t now = (int64_t)time(NULL);

	if (r == NULL || r->when == 0)
		return 0;
	rec_void(st, r);
	free(r->intent);
	r->intent = NULL;
	/* X folder uidvalidity when uid: the shape of an M line. */
	buf_addc(&st->jbuf, 'X');
	buf_field(&st->jbuf, folder);
	buf_addc(&st->jbuf, '\t');
	buf_u64(&st->jbuf, uidvalidity);
	buf_addc(&st->jbuf, '\t');
	buf_u64(&st->jbuf, (uint64_t)(now < 1 ? 1 : now));
	buf_field(&st->jbuf, uid);
	buf_addc(&st->jbuf, '\n');
	st->dirty = 1;
	return 0;
}

uint64_t
state_modseq(const struct state *st, const char *folder, uint32_t uidvalidity)
{
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX
	    || st->folders[f].uv != uidvalidity)
		return 0;
	return st->folders[f].modseq;
}

void
state_set_modseq(
    struct state *st, const char *folder, uint32_t uidvalidity, uint64_t modseq)
{
	size_t f;

	if ((f = folder_find(st, folder)) == SIZE_MAX)
		f = folder_add(st, folder, uidvalidity);
	if (st->folders[f].uv != uidvalidity || st->folders[f].modseq == modseq)
		return;
	st->folders[f].modseq = modseq;
	st->dirty = 1;
}

const char *
state_folder_name(const struct state *st, size_t i)
{
	return i < st->nfolders ? st->folders[i].name : NULL;
}

size_t
state_count(const struct state *st)
{
	return st->count;
}

const char *
state_error(const struct state *st)
{
	return st->err;
}

enum state_errkind
state_errkind(const struct state *st)
{
	return st->kind;
}

int
state_errno(const struct state *st)
{
	return st->errnum;
}

void
state_free(struct state *st)
{
	size_t i;

	if (st == NULL)
		return;
	if (st->jfd != -1)
		close(st->jfd);
	if (st->lockfd != -1)
		close(st->lockfd);
	for (i = 0; i < st->nrecs; i++) {
		free(st->recs[i].intent);
		free(st->recs[i].file);
	}
	strpool_free(&st->uids);
	/* The subfolder, when there is one, starts the buffer. */
	for (i = 0; i < st->npend; i++)
		free((char *)(*st->pend[i].sub != '\0' ? st->pend[i].sub
						       : st->pend[i].name));
	for (i = 0; i < st->nfolders; i++)
		free(st->folders[i].name);
	raw_free(st);
	free(st->recs);
	free(st->tab);
	free(st->pend);
	free(st->shorts);
	free(st->folders);
	free(st->jbuf.p);
	free(st->path);
	free(st->jpath);
	free(st->lpath);
	free(st->tpath);
	free(st->dir);
	free(st);
}
#endif
