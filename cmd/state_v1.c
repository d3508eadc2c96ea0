/*
 * The version 1 state file, as mailfetch wrote it before the version 2
 * store (store.c), read whole and strictly for conversion: store.c
 * opens an older file through v1_load, puts its records into its
 * overlay, and the first save writes them as version 2. It also reads
 * a version 2 base whose folder names state_set_canon respells (its F
 * lines have the 10 fields of store.c's; the counts are recomputed),
 * so that several spellings of one folder merge as below.
 *
 * The line syntax, the attributes and the journal described here are
 * also version 2's (store.c adds its F line fields and the journal's S
 * line).
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
 * table on (folder, uid), linear in the number of records: this is the
 * converter, run once per file.
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

#define STATE_HEADER "mailfetch-state 1"
#define STATE_HEADER_V2 "mailfetch-state 2"
#define MAXFIELDS 10 /* version 2 F lines; 9 for version 1 */

/*
 * An intent's file name is relative to the account's Maildir: a message
 * file name, or a Maildir++ subfolder (".name") and a file name. Nothing
 * else, so a state file can never point outside the Maildir.
 */
int
stline_name_ok(const char *s)
{
	const char *slash = strchr(s, '/'), *base = slash ? slash + 1 : s;

	if (slash != NULL
	    && (s[0] != '.' || slash - s < 2 || strchr(base, '/') != NULL
		|| (slash - s == 2 && s[1] == '.')))
		return 0;
	return base[0] != '\0' && strcmp(base, ".") != 0
	    && strcmp(base, "..") != 0;
}

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

struct v1 {
	char *path;
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
	struct shortrec *shorts;
	size_t nshorts;
	uint64_t gen; /* generation of the state file */
	int v2; /* the file is version 2 (respelled names: see store.c) */
	enum state_errkind kind;
	int errnum;
	char err[1024];
};

static void st_fail(struct v1 *, enum state_errkind, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* Record an error; for STATE_EOS, ": strerror(e)" is appended. */
static void
st_fail(struct v1 *st, enum state_errkind kind, int e, const char *fmt, ...)
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

/* Buffers. */

int
stline_esc_needed(unsigned char c)
{
	return c <= ' ' || c == 0x7f || c == '%';
}

static const struct shortrec *short_find(const struct v1 *, size_t);

/* Folders and records. */

/* Folders are few (the config's list): a linear search is enough. */
static size_t
folder_find(const struct v1 *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nfolders; i++)
		if (strcmp(st->folders[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static size_t
folder_add(struct v1 *st, const char *name, uint32_t uv)
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
rec_void(struct v1 *st, struct rec *r)
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
folder_void(struct v1 *st, size_t fidx)
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
folder_reset(struct v1 *st, const char *name, uint32_t uv)
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
rec_find(const struct v1 *st, size_t fidx, const char *uid, uint32_t h)
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
tab_put(struct v1 *st, size_t idx)
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
rec_reserve(struct v1 *st, size_t n)
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
rec_get(struct v1 *st, size_t fidx, const char *uid)
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
rec_record(struct v1 *st, struct rec *r, int64_t when)
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
short_pos(const struct v1 *st, size_t idx)
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
short_find(const struct v1 *st, size_t idx)
{
	size_t i = short_pos(st, idx);

	return i < st->nshorts && st->shorts[i].rec == idx ? &st->shorts[i]
							   : NULL;
}

/* Keep two sizes for record r. Records are mostly noted in the order
 * they were created, so the insertion is mostly at the end. */
static void
sizes_put(struct v1 *st, struct rec *r, uint64_t announced, uint64_t received)
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
rec_short(struct v1 *st, struct rec *r, uint64_t announced, uint64_t received)
{
	sizes_put(st, r, announced, received);
	r->isshort = 1;
}

/* Note that the message of r grew past max_size limit, found at time
 * when; nothing if it was downloaded already. */
static void
rec_grew(struct v1 *st, struct rec *r, int64_t when, uint64_t limit)
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

/*
 * Read the whole file into a new buffer with a NUL after it. Returns 0,
 * or 1 when the file does not exist, or -1.
 */
static int
read_file(struct v1 *st, const char *path, char **data, size_t *len)
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
int
stline_unescape(char *s)
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
		} else if (stline_esc_needed((unsigned char)*s))
			return -1;
		else
			*w++ = *s;
	}
	*w = '\0';
	return 0;
}

int
stline_parse_u64(const char *s, uint64_t max, uint64_t *v)
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
int
stline_parse_flags(const char *s, uint8_t *f)
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

/* "A/R": announced and received sizes, R < A. */
static int
parse_short(char *s, struct attrs *at)
{
	char *slash;
	int rv;

	if ((slash = strchr(s, '/')) == NULL)
		return -1;
	*slash = '\0';
	rv = stline_parse_u64(s, UINT64_MAX, &at->announced) == -1
		|| stline_parse_u64(slash + 1, UINT64_MAX, &at->received) == -1
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
			if (stline_parse_u64(f[i] + 5, INT64_MAX, &v) == -1
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
			if (stline_unescape(f[i] + 5) == -1
			    || !stline_name_ok(f[i] + 5)) {
				*what = "bad file= name";
				return -1;
			}
			at->file = f[i] + 5;
		} else if (strncmp(f[i], "flags=", 6) == 0 && at->flags == 0) {
			if (stline_parse_flags(f[i] + 6, &at->flags) == -1) {
				*what = "bad flags= letters";
				return -1;
			}
		} else if (strncmp(f[i], "grew=", 5) == 0 && at->grew == 0) {
			if (stline_parse_u64(f[i] + 5, UINT64_MAX, &at->grew)
				== -1
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
raw_find(struct v1 *st, const char *name)
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
raw_free(struct v1 *st)
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
canon_name(struct v1 *st, const char *raw, int *respelled)
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
apply_rec(struct v1 *st, char *const *fld, size_t f, int64_t when,
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
load_line(struct v1 *st, char *const *fld, const char *name, uint32_t uv,
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

/* Cut line at its TABs and check its type and number of fields: a
 * version 1 F line has 3 to 5, a version 2 one (v2) exactly 10. */
static int
split_line(struct line *l, char *line, int v2, const char **what)
{
	char *s;

	l->fld[l->nf++] = line;
	for (s = line; *s != '\0'; s++)
		if (*s == '\t') {
			if (l->nf == (v2 ? MAXFIELDS : MAXFIELDS - 1)) {
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
	else {
		*what = "unknown line type";
		return -1;
	}
	/* Only F lines carry a UIDNEXT and a MODSEQ (and in version 2 the
	 * counts, recomputed here); M lines may carry attributes. */
	if (l->nf != l->want
	    && !(l->want == 3 && !v2 && l->nf >= 4 && l->nf <= 5)
	    && !(l->want == 3 && v2 && l->nf == 10)
	    && !(l->fld[0][0] == 'M' && l->nf > l->want)) {
		*what = "wrong number of fields";
		return -1;
	}
	return 0;
}

/* Check and convert the fields' values, in order; *what names the
 * first that is wrong. */
static int
check_fields(struct line *l, int v2, const char **what)
{
	char **fld = l->fld;

	if (stline_unescape(fld[1]) == -1)
		return *what = "bad folder name", -1;
	if (stline_parse_u64(fld[2], UINT32_MAX, &l->uv) == -1)
		return *what = "bad uidvalidity", -1;
	/* A UIDNEXT alone is not 0; before a MODSEQ it may be (version 2
	 * writes both, 0 for none). */
	if (l->want == 3 && l->nf >= 4
	    && (stline_parse_u64(fld[3], UINT32_MAX, &l->fm[0]) == -1
		|| (l->fm[0] == 0 && l->nf == 4)))
		return *what = "bad uidnext", -1;
	if (l->want == 3 && l->nf >= 5
	    && (stline_parse_u64(fld[4], UINT64_MAX, &l->fm[1]) == -1
		|| (l->fm[1] == 0 && !v2)))
		return *what = "bad modseq", -1;
	if (l->want >= 5
	    && (stline_parse_u64(fld[3], INT64_MAX, &l->when) == -1
		|| l->when == 0))
		return *what = "bad time", -1;
	if (l->want >= 5
	    && (stline_unescape(fld[4]) == -1 || fld[4][0] == '\0'))
		return *what = "bad uid", -1;
	if (l->want == 6
	    && (stline_unescape(fld[5]) == -1 || !stline_name_ok(fld[5])))
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
parse_line(struct v1 *st, char *line, const char **what)
{
	struct line l;
	const char *name;
	int respelled;

	memset(&l, 0, sizeof(l));
	if (split_line(&l, line, st->v2, what) == -1
	    || check_fields(&l, st->v2, what) == -1)
		return -1;
	name = canon_name(st, l.fld[1], &respelled);
	return load_line(st, l.fld, name, (uint32_t)l.uv, l.fm, (int64_t)l.when,
	    &l.at, what);
}

/*
 * The first two lines, p being line number line (1 or 2): the header,
 * then the generation. Returns 0 or -1.
 */
static int
parse_head(struct v1 *st, const char *path, const char *p, size_t line)
{
	uint64_t gen;

	if (line == 1) {
		if (strcmp(p, STATE_HEADER_V2) == 0)
			st->v2 = 1;
		if (st->v2 || strcmp(p, STATE_HEADER) == 0)
			return 0;
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:1: bad header, expected \"%s\"", path, STATE_HEADER_V2);
		return -1;
	}
	if (strncmp(p, "G\t", 2) != 0
	    || stline_parse_u64(p + 2, INT64_MAX, &gen) == -1) {
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:2: expected the generation line", path);
		return -1;
	}
	st->gen = gen;
	return 0;
}

/* Parse a whole file. */
static int
parse_file(struct v1 *st, const char *path, char *data, size_t len)
{
	const char *what;
	char *p = data, *end = data + len, *nl;
	size_t line = 0;
	int have_gen = 0;

	if (len == 0) {
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:1: empty file, expected \"%s\"", path, STATE_HEADER_V2);
		return -1;
	}
	for (; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
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
		if (line <= 2 && parse_head(st, path, p, line) != 0)
			return -1;
		have_gen |= line == 2;
		if (line > 2 && parse_line(st, p, &what) == -1) {
			st_fail(st, STATE_ECORRUPT, 0, "%s:%zu: %s", path, line,
			    what);
			return -1;
		}
	}
	if (!have_gen) {
		st_fail(st, STATE_ECORRUPT, 0,
		    "%s:2: expected the generation line (truncated file)",
		    path);
		return -1;
	}
	return 0;
}

/* The interface. */

struct v1 *
v1_new(const char *path, char *(*canon)(const char *))
{
	struct v1 *st = xcalloc(1, sizeof(*st));

	st->path = xstrdup(path);
	st->canon = canon;
	return st;
}

int
v1_load(struct v1 *st)
{
	char *data;
	size_t len;
	int rc;

	if ((rc = read_file(st, st->path, &data, &len)) != 0) {
		if (rc == 1)
			st_fail(st, STATE_EOS, ENOENT, "open %s", st->path);
		return -1;
	}
	/* A record's line is at least 24 bytes ("M\t-\t0\t" and a time
	 * of ten digits, a uid, LF); most are a little longer. */
	rec_reserve(st, len / 32);
	rc = parse_file(st, st->path, data, len);
	free(data);
	raw_free(st);
	return rc;
}

uint64_t
v1_gen(const struct v1 *st)
{
	return st->gen;
}

const char *
v1_folder(const struct v1 *st, size_t i, uint32_t *uv, uint32_t *uidnext,
    uint64_t *modseq)
{
	if (i >= st->nfolders)
		return NULL;
	*uv = st->folders[i].uv;
	*uidnext = st->folders[i].uidnext;
	*modseq = st->folders[i].modseq;
	return st->folders[i].name;
}

int
v1_rec(const struct v1 *st, size_t i, struct v1_rec *out)
{
	const struct rec *r;
	const struct shortrec *s;

	if (i >= st->nrecs)
		return 0;
	r = &st->recs[i];
	memset(out, 0, sizeof(*out));
	out->folder = r->fidx;
	out->uid = r->uid;
	out->when = r->when;
	out->gone = r->gone;
	out->file = r->file;
	out->flags = r->flags;
	out->intent = r->intent;
	out->intent_when = r->intent_when;
	out->grew = r->grew;
	out->isshort = r->isshort;
	if ((r->isshort || r->grew) && (s = short_find(st, i)) != NULL) {
		out->announced = s->announced;
		out->received = s->received;
	}
	return 1;
}

const char *
v1_error(const struct v1 *st)
{
	return st->err;
}

enum state_errkind
v1_errkind(const struct v1 *st)
{
	return st->kind;
}

int
v1_errno(const struct v1 *st)
{
	return st->errnum;
}

void
v1_free(struct v1 *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nrecs; i++) {
		free(st->recs[i].intent);
		free(st->recs[i].file);
	}
	strpool_free(&st->uids);
	for (i = 0; i < st->nfolders; i++)
		free(st->folders[i].name);
	raw_free(st);
	free(st->recs);
	free(st->tab);
	free(st->shorts);
	free(st->folders);
	free(st->path);
	free(st);
}
