/*
 * Unit tests for cmd/store.c (the version 2 state store), in a fresh
 * directory under /tmp. The main one runs the same operations on two
 * stores, one answering from its sorted base, the other from its
 * journal's overlay (and one round from a version 1 file), and
 * compares what both answer; test_state.c checks the semantics.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "../../cmd/state.h"
#include "../../cmd/store.h"

static char tdir[64];
static int seq;

static const char *
newpath(void)
{
	static char p[256];
	char d[200];

	snprintf(d, sizeof(d), "%s/s%d", tdir, ++seq);
	mkdir(d, 0700);
	snprintf(p, sizeof(p), "%s/acct.state", d);
	return p;
}

static char *
slurp(const char *path)
{
	char *p = NULL;
	size_t n;
	FILE *f = fopen(path, "r");
	long len;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	p = calloc(1, (size_t)len + 1);
	n = fread(p, 1, (size_t)len, f);
	p[n] = '\0';
	fclose(f);
	return p;
}

static void
put(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	fputs(data, f);
	fclose(f);
}

static struct store *
sopen(const char *path)
{
	struct store *s = store_new(path);

	if (store_lock(s) == -1 || store_open(s, 0) == -1) {
		fprintf(stderr, "open: %s\n", store_error(s));
		store_free(s);
		return NULL;
	}
	return s;
}

/* A deterministic sequence (no random seed). */
static uint32_t lcg = 12345;

static uint32_t
next_rand(void)
{
	lcg = lcg * 1103515245u + 12345u;
	return lcg >> 8;
}

static const char *const folders[] = { "INBOX", "Sent", "a b%c", "-" };

/* Lookups, gets, counts and iteration agree between the two stores. */
static void
compare(struct store *old, struct store *s, size_t nuids)
{
	struct state_rec a, b;
	uint64_t x1, y1, x2, y2;
	int64_t o1, o2;
	size_t fi, i, pos, n1, n2;
	char uid[32];
	uint32_t uv;

	CHECK(store_count(old) == store_count(s));
	for (fi = 0; fi < 4; fi++) {
		uv = store_uidvalidity(old, folders[fi]);
		CHECK(uv == store_uidvalidity(s, folders[fi]));
		CHECK(store_uidnext(old, folders[fi], uv)
		    == store_uidnext(s, folders[fi], uv));
		CHECK(store_modseq(old, folders[fi], uv)
		    == store_modseq(s, folders[fi], uv));
		for (i = 1; i <= nuids; i++) {
			snprintf(
			    uid, sizeof(uid), fi == 3 ? "u%zu x" : "%zu", i);
			if (store_lookup(old, folders[fi], uv, uid)
			    != store_lookup(s, folders[fi], uv, uid)) {
				fprintf(stderr,
				    "%s %s: %" PRId64 " != %" PRId64 "\n",
				    folders[fi], uid,
				    store_lookup(old, folders[fi], uv, uid),
				    store_lookup(s, folders[fi], uv, uid));
				CHECK(0);
				return;
			}
			n1 = (size_t)store_get(old, folders[fi], uv, uid, &a);
			n2 = (size_t)store_get(s, folders[fi], uv, uid, &b);
			CHECK(n1 == n2);
			if (n1 && n2) {
				CHECK((a.file == NULL) == (b.file == NULL));
				if (a.file && b.file)
					CHECK_STR(a.file, b.file);
				CHECK(a.has_flags == b.has_flags);
				CHECK_STR(a.flags, b.flags);
			}
			CHECK(store_short(old, folders[fi], uv, uid, &x1, &y1)
			    == store_short(s, folders[fi], uv, uid, &x2, &y2));
			CHECK(x1 == x2 && y1 == y2);
			CHECK(store_grew(old, folders[fi], uv, uid, &x1)
			    == store_grew(s, folders[fi], uv, uid, &x2));
			CHECK(x1 == x2);
		}
		for (pos = 0, n1 = 0;
		     store_next(old, folders[fi], uv, &pos, &a);)
			n1++;
		CHECK(n1 == store_folder_records(s, folders[fi], uv));
		n1 = store_folder_count(old, folders[fi], uv, &o1);
		n2 = store_folder_count(s, folders[fi], uv, &o2);
		CHECK(n1 == n2);
		CHECK(o2 <= o1); /* a lower bound */
		for (pos = 0, n1 = 0;
		     store_next(old, folders[fi], uv, &pos, &a);)
			n1++;
		for (pos = 0, n2 = 0; store_next(s, folders[fi], uv, &pos, &b);)
			n2++;
		CHECK(n1 == n2);
	}
}

/* run.c's look_up as four calls on one, store_look_mark on the other. */
static void
look_mark(struct store *old, struct store *s, const char *f, uint32_t uv,
    const char *uid)
{
	uint64_t a1, r1, g1, a2, r2, g2;
	int64_t w1, w2;

	w1 = store_lookup(old, f, uv, uid);
	store_short(old, f, uv, uid, &a1, &r1);
	store_grew(old, f, uv, uid, &g1);
	store_mark(old, f, uv, uid);
	w2 = store_look_mark(s, f, uv, uid, &a2, &r2, &g2);
	CHECK(w1 == w2 && a1 == a2 && r1 == r2 && g1 == g2);
}

/* A listing for store_look_mark_all: 300 UIDs in a scrambled order,
 * every seventh without one. */
struct lm {
	char uids[300][32];
	struct state_look got[300];
	int answered[300];
};

static const char *
lm_uid(size_t i, void *arg)
{
	struct lm *l = arg;

	return i % 7 == 3 ? NULL : l->uids[i];
}

static void
lm_answer(size_t i, const struct state_look *lk, void *arg)
{
	struct lm *l = arg;

	l->got[i] = *lk;
	l->answered[i]++;
}

/* store_look_mark_all on one (sorted, walked), store_look_mark one by
 * one on the other. */
static void
look_mark_all(
    struct store *a, struct store *b, size_t fi, uint32_t uv, size_t nuids)
{
	static struct lm l;
	uint64_t x, y, g;
	int64_t w;
	size_t i;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < 300; i++)
		snprintf(l.uids[i], sizeof(l.uids[i]),
		    fi == 3 ? "u%zu x" : "%zu", (i * 7919) % nuids + 1);
	store_look_mark_all(a, folders[fi], uv, 300, lm_uid, lm_answer, &l);
	for (i = 0; i < 300; i++) {
		CHECK(l.answered[i] == 1);
		if (i % 7 == 3) {
			CHECK(l.got[i].when == 0 && l.got[i].grew == 0);
			continue;
		}
		w = store_look_mark(b, folders[fi], uv, l.uids[i], &x, &y, &g);
		CHECK(w == l.got[i].when && x == l.got[i].announced
		    && y == l.got[i].received && g == l.got[i].grew);
	}
}

/* The marks agree: the records store_next gives as marked, by uid. */
static void
compare_marks(struct store *a, struct store *b, size_t nuids)
{
	static char ma[301], mb[301];
	struct state_rec rec;
	size_t fi, pos, u;
	uint32_t uv;

	for (fi = 0; fi < 4 && nuids <= 300; fi++) {
		uv = store_uidvalidity(a, folders[fi]);
		memset(ma, 0, sizeof(ma));
		memset(mb, 0, sizeof(mb));
		for (pos = 0; store_next(a, folders[fi], uv, &pos, &rec);)
			if (sscanf(rec.uid + (fi == 3), "%zu", &u) == 1
			    && u <= nuids)
				ma[u] = rec.marked ? 'm' : '-';
		for (pos = 0; store_next(b, folders[fi], uv, &pos, &rec);)
			if (sscanf(rec.uid + (fi == 3), "%zu", &u) == 1
			    && u <= nuids)
				mb[u] = rec.marked ? 'm' : '-';
		CHECK(memcmp(ma, mb, sizeof(ma)) == 0);
	}
}

static int64_t clock_now = 1000000;

/* Mode 3 of t_differential: the first store syncs (and so may fold)
 * every sync_every operations; nfolds counts the syncs that folded. */
static size_t sync_every, nfolds;

/* A sync of both, every sync_every operations. */
static void
sync_both(struct store *old, struct store *s, size_t i)
{
	size_t before = store_noverlay(old);

	if (sync_every == 0 || i % sync_every != sync_every - 1)
		return;
	CHECK(store_sync(old) == 0 && store_sync(s) == 0);
	nfolds += store_noverlay(old) < before;
}

/* Mode 3's extra operations: an intent, or a folder voided. */
static void
ops_more(struct store *old, struct store *s, size_t fi, uint32_t uv,
    const char *uid, uint32_t r)
{
	struct state_intent in;
	char name[32];

	if (sync_every == 0)
		return;
	if (r % 16 == 1) {
		snprintf(name, sizeof(name), "%u.M1P1.host", r);
		memset(&in, 0, sizeof(in));
		in.folder = folders[fi];
		in.uidvalidity = uv;
		in.uid = uid;
		in.sub = "";
		in.name = name;
		CHECK(store_intend(old, &in) == 0 && store_intend(s, &in) == 0);
	} else if (r % 97 == 5) {
		store_reset_folder(old, folders[fi], uv);
		store_reset_folder(s, folders[fi], uv);
	}
}

/* Random operations, the same on both. */
static void
ops(struct store *old, struct store *s, size_t nops, size_t nuids)
{
	static const char *const flags[] = { "", "S", "FS", "RST" };
	size_t i, fi;
	char uid[32], file[64];
	uint32_t r, uv;

	for (i = 0; i < nops; i++) {
		r = next_rand();
		fi = r % 4;
		uv = fi == 2 ? 7 : 1;
		snprintf(uid, sizeof(uid), fi == 3 ? "u%zu x" : "%zu",
		    (size_t)(next_rand() % nuids) + 1);
		switch ((r >> 4) % 13) {
		case 0:
		case 1:
		case 2:
		case 3:
			store_add(old, folders[fi], uv, uid, 1000 + r % 500);
			store_add(s, folders[fi], uv, uid, 1000 + r % 500);
			break;
		case 4:
			snprintf(file, sizeof(file), "%u.M1P1.host:2,%s", r,
			    flags[r % 4]);
			if (store_set_local(
				old, folders[fi], uv, uid, file, flags[r % 4])
			    == 0)
				CHECK(store_set_local(s, folders[fi], uv, uid,
					  file, flags[r % 4])
				    == 0);
			else
				CHECK(store_set_local(s, folders[fi], uv, uid,
					  file, flags[r % 4])
				    == -1);
			break;
		case 5:
			store_forget(old, folders[fi], uv, uid);
			store_forget(s, folders[fi], uv, uid);
			break;
		case 6:
			store_add_short(old, folders[fi], uv, uid, 900, 50, 40);
			store_add_short(s, folders[fi], uv, uid, 900, 50, 40);
			break;
		case 7:
			store_add_grew(old, folders[fi], uv, uid, 800, 99);
			store_add_grew(s, folders[fi], uv, uid, 800, 99);
			break;
		case 8:
			store_set_uidnext(old, folders[fi], uv, r % 1000);
			store_set_uidnext(s, folders[fi], uv, r % 1000);
			store_set_modseq(old, folders[fi], uv, r % 77);
			store_set_modseq(s, folders[fi], uv, r % 77);
			break;
		case 10:
			store_mark(old, folders[fi], uv, uid);
			store_mark(s, folders[fi], uv, uid);
			break;
		case 11:
			look_mark(old, s, folders[fi], uv, uid);
			break;
		case 12:
			if (r % 3 == 0) {
				clock_now += 11 * 86400;
				store_prune(old, folders[fi], clock_now);
				store_prune(s, folders[fi], clock_now);
			}
			break;
		case 9:
			if (r % 16 == 0)
				look_mark_all(old, s, fi, uv, nuids);
			else
				ops_more(old, s, fi, uv, uid, r);
			break;
		default:
			if (r % 97 == 0) {
				store_reset_folder(old, folders[fi], uv);
				store_reset_folder(s, folders[fi], uv);
			}
			break;
		}
		sync_both(old, s, i);
	}
}

/*
 * The base at path (version 2, compacted) as a version 1 file, the way
 * fetchrc(5) says to downgrade: header 1, each F line cut to folder,
 * uidvalidity, and uidnext and modseq where set. Written to v1path.
 */
static void
write_v1(const char *path, const char *v1path)
{
	char *data = slurp(path), *line, *next, *f[10], *t;
	FILE *out = fopen(v1path, "w");
	int n;

	CHECK(data != NULL && out != NULL
	    && strncmp(data, "mailfetch-state 2\n", 18) == 0);
	if (data == NULL || out == NULL) {
		free(data);
		if (out != NULL)
			fclose(out);
		return;
	}
	fputs("mailfetch-state 1\n", out);
	for (line = strchr(data, '\n') + 1; *line != '\0'; line = next) {
		next = strchr(line, '\n') + 1;
		if (line[0] != 'F') {
			fwrite(line, 1, (size_t)(next - line), out);
			continue;
		}
		next[-1] = '\0';
		for (n = 0, t = line; n < 10 && t != NULL; n++) {
			f[n] = t;
			if ((t = strchr(t, '\t')) != NULL)
				*t++ = '\0';
		}
		CHECK(n == 10);
		if (n < 5)
			break;
		if (strcmp(f[4], "0") != 0)
			fprintf(
			    out, "F\t%s\t%s\t%s\t%s\n", f[1], f[2], f[3], f[4]);
		else if (strcmp(f[3], "0") != 0)
			fprintf(out, "F\t%s\t%s\t%s\n", f[1], f[2], f[3]);
		else
			fprintf(out, "F\t%s\t%s\n", f[1], f[2]);
	}
	fclose(out);
	free(data);
}

/*
 * The same operations on two stores, in rounds, each ended by a save
 * (arg 0), or by a sync only on odd rounds: a crash before the save
 * (arg 1); then both reopened and compared. One store (a) is compacted
 * after every round, so that its answers come from the sorted base
 * (binary searches, ranges, the mark bitmap, prune walks); the other
 * (b) keeps its journal as long as store_save lets it, so that its
 * answers come from the overlay. With arg 2, b is replaced at round 2
 * by a's base made version 1 as fetchrc(5) says, and must read it
 * through the converter (state_v1.c) with the same answers. With arg
 * 3, a is never compacted but syncs every 10 operations with its
 * overlay bounded to 16 records (store_set_fold_min): it folds its
 * overlay into a new base mid-run, many times, between marks and the
 * prunes after them, and must answer as b does (marks too), also
 * after a crash (odd rounds) or a save.
 */
static void
t_differential(const void *arg)
{
	int mode = *(const int *)arg;
	char apath[256], bpath[256], j[300];
	struct store *a, *b;
	int round;

	snprintf(apath, sizeof(apath), "%s", newpath());
	snprintf(bpath, sizeof(bpath), "%s", newpath());
	lcg = 4242;
	clock_now = 1000000;
	sync_every = mode == 3 ? 10 : 0;
	nfolds = 0;
	for (round = 0; round < 6; round++) {
		if (mode == 2 && round == 2) {
			write_v1(apath, bpath);
			snprintf(j, sizeof(j), "%s.journal", bpath);
			unlink(j);
		}
		a = sopen(apath);
		b = sopen(bpath);
		if (a == NULL || b == NULL) {
			CHECK(0);
			store_free(a);
			store_free(b);
			return;
		}
		if (mode == 3)
			store_set_fold_min(a, 16);
		CHECK(round == 0 || mode == 1 || mode == 3
		    || store_noverlay(a) == 0);
		compare(a, b, 300);
		ops(a, b, round == 0 ? 1500 : mode == 3 ? 600 : 200, 300);
		compare(a, b, 300);
		compare_marks(a, b, 300);
		CHECK(store_sync(a) == 0 && store_sync(b) == 0);
		if (mode == 3 && round % 2 == 0) {
			CHECK(store_save(a) == 0 && store_save(b) == 0);
			compare(a, b, 300);
		} else if (mode != 3 && (mode != 1 || round % 2 == 0)) {
			CHECK(store_save(a) == 0 && store_compact(a) == 0);
			CHECK(store_save(b) == 0);
			compare(a, b, 300);
		}
		store_free(a);
		store_free(b);
	}
	/* A last compaction, and the result read again. */
	a = sopen(apath);
	if ((b = sopen(bpath)) != NULL) {
		if (store_compact(b) == -1) {
			fprintf(stderr, "%s\n", store_error(b));
			CHECK(0);
		}
		if (a != NULL)
			compare(a, b, 300);
		CHECK(store_noverlay(b) == 0);
		store_free(b);
	}
	store_free(a);
	CHECK(mode != 3 || nfolds >= 20);
	if (mode == 3)
		fprintf(stderr, "differential: %zu folds\n", nfolds);
	sync_every = 0;
}

/* The base is version 2, its M lines sorted by folder, then uid by
 * length and bytes; what a crash left in the journal is replayed, and
 * only it is in memory. */
static void
t_sorted_and_journal(const void *arg)
{
	const char *path = newpath();
	struct state_rec rec;
	struct store *s;
	char uid[16], *data, *p, prev[256] = "", cur[256];
	int i, sorted = 1;

	(void)arg;
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 1000; i >= 1; i--) {
		snprintf(uid, sizeof(uid), "%d", (i * 7919) % 1000 + 1);
		store_add(s, i % 2 ? "INBOX" : "Archive", 5, uid, 100 + i);
	}
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_free(s);
	data = slurp(path);
	CHECK(data != NULL
	    && strncmp(data, "mailfetch-state 2\nG\t1\n", 22) == 0);
	for (p = data; p != NULL && (p = strstr(p, "\nM\t")) != NULL; p++) {
		char f[64];
		unsigned u;

		if (sscanf(p + 3, "%63[^\t]\t%*u\t%*u\t%u", f, &u) != 2)
			break;
		snprintf(cur, sizeof(cur), "%s %010u", f, u);
		if (strcmp(prev, cur) >= 0)
			sorted = 0;
		memcpy(prev, cur, sizeof(prev));
	}
	CHECK(sorted);
	free(data);

	/* A run changes three records and crashes before its save. */
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_noverlay(s) == 0);
	CHECK(store_lookup(s, "INBOX", 5, "8") != 0);
	CHECK(store_set_local(s, "INBOX", 5, "8", ".x/1.a:2,S", "S") == 0);
	CHECK(store_forget(s, "Archive", 5, "3") == 0);
	CHECK(store_add(s, "INBOX", 5, "1001", 5) == 0);
	CHECK(store_sync(s) == 0);
	store_free(s);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_noverlay(s) == 3);
	CHECK(store_get(s, "INBOX", 5, "8", &rec) == 1);
	CHECK_STR(rec.file, ".x/1.a:2,S");
	CHECK_STR(rec.flags, "S");
	CHECK(store_lookup(s, "Archive", 5, "3") == 0);
	CHECK(store_lookup(s, "Archive", 5, "5") != 0);
	CHECK(store_lookup(s, "INBOX", 5, "1001") == 5);
	CHECK(store_lookup(s, "INBOX", 5, "1002") == 0);
	CHECK(store_lookup(s, "INBOX", 6, "8") == 0);
	store_free(s);
}

/* Prune: O(1) when every live record was listed; a walk when one
 * vanished; gone= kept 30 days, then forgotten. */
static void
t_prune(const void *arg)
{
	const char *path = newpath();
	struct store *s;
	int64_t now = 2000000000, oldest;
	char uid[16];
	int i;

	(void)arg;
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 1; i <= 500; i++) {
		snprintf(uid, sizeof(uid), "U%d", i);
		store_add(s, "-", 0, uid, 100);
	}
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_free(s);

	/* Everything listed: nothing walked. */
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 500; i >= 1; i--) {
		snprintf(uid, sizeof(uid), "U%d", i);
		store_mark(s, "-", 0, uid);
	}
	CHECK(store_prune(s, "-", now) == 0);
	CHECK(store_walked(s) == 0);
	CHECK(store_noverlay(s) == 0);
	CHECK(store_folder_count(s, "-", 0, &oldest) == 500);
	CHECK(store_save(s) == 0);
	store_free(s);

	/* U7 and U300 vanished: one walk. */
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 1; i <= 500; i++) {
		snprintf(uid, sizeof(uid), "U%d", i);
		if (i != 7 && i != 300)
			store_mark(s, "-", 0, uid);
	}
	CHECK(store_prune(s, "-", now) == 0);
	CHECK(store_walked(s) > 0);
	CHECK(store_folder_count(s, "-", 0, &oldest) == 498);
	CHECK(store_lookup(s, "-", 0, "U7") == 100); /* still recorded */
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_free(s);

	/* Listed as before a day later: nothing newly missing, none due. */
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_folder_count(s, "-", 0, &oldest) == 498);
	for (i = 1; i <= 500; i++) {
		snprintf(uid, sizeof(uid), "U%d", i);
		if (i != 7 && i != 300)
			store_mark(s, "-", 0, uid);
	}
	CHECK(store_prune(s, "-", now + 86400) == 0);
	CHECK(store_walked(s) == 0);
	/* U300 comes back (counted again from the prune on, as state.c
	 * does); U7 stays away 30 days. */
	store_mark(s, "-", 0, "U300");
	CHECK(store_folder_count(s, "-", 0, &oldest) == 498);
	CHECK(store_prune(s, "-", now + STATE_KEEP_GONE) == 0);
	CHECK(store_folder_count(s, "-", 0, &oldest) == 499);
	CHECK(store_walked(s) > 0);
	CHECK(store_lookup(s, "-", 0, "U7") == 0);
	CHECK(store_lookup(s, "-", 0, "U300") == 100);
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_free(s);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_lookup(s, "-", 0, "U7") == 0);
	CHECK(store_folder_count(s, "-", 0, &oldest) == 499);
	store_free(s);
}

/* A corrupt base is ECORRUPT, never an empty store. */
struct ccase {
	const char *name, *data;
};

static const struct ccase ccases[] = {
	{ "empty base", "" },
	{ "bad header", "mailfetch-state 9\nG\t1\n" },
	{ "no final newline",
	    "mailfetch-state "
	    "2\nG\t1\nF\tINBOX\t1\t0\t0\t1\t1\t1\t5\t0\nM\tINBOX\t1\t5\t1" },
	{ "bad F line", "mailfetch-state 2\nG\t1\nF\tINBOX\t1\t0\n" },
	{ "unknown head line", "mailfetch-state 2\nG\t1\nQ\tx\n" },
};

static void
t_corrupt(const void *arg)
{
	const struct ccase *c = arg;
	const char *path = newpath();
	struct store *s;

	put(path, c->data);
	s = store_new(path);
	CHECK(store_open(s, 1) == -1);
	CHECK(store_errkind(s) == STATE_ECORRUPT);
	store_free(s);
}

/* Compaction: a stale temp file is no matter; the journal of the
 * older generation, left by a crash after the rename, is ignored
 * (its F line would void the folder if replayed). */
static void
t_compact_crash(const void *arg)
{
	const char *path = newpath();
	char j[300], t[300], *old;
	struct store *s;

	(void)arg;
	snprintf(j, sizeof(j), "%s.journal", path);
	snprintf(t, sizeof(t), "%s.tmp", path);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	store_add(s, "INBOX", 1, "1", 10);
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_reset_folder(s, "INBOX", 2);
	store_add(s, "INBOX", 2, "5", 20);
	CHECK(store_sync(s) == 0);
	old = slurp(j);
	CHECK(old != NULL && strstr(old, "\nF\tINBOX\t2\n") != NULL);
	put(t, "garbage");
	CHECK(store_compact(s) == 0);
	store_add(s, "INBOX", 2, "6", 30);
	CHECK(store_sync(s) == 0);
	store_free(s);
	/* The crash: the journal of generation 1 back in place. */
	if (old != NULL)
		put(j, old);
	free(old);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_lookup(s, "INBOX", 2, "5") == 20);
	CHECK(store_lookup(s, "INBOX", 2, "6") == 0); /* lost with it */
	CHECK(store_lookup(s, "INBOX", 1, "1") == 0);
	CHECK(store_uidvalidity(s, "INBOX") == 2);
	store_free(s);
}

/* A base out of order (edited by hand) is found corrupt at the next
 * compaction, which checks the order as it merges. */
static void
t_out_of_order(const void *arg)
{
	const char *path = newpath();
	struct store *s;

	(void)arg;
	put(path,
	    "mailfetch-state 2\nG\t1\n"
	    "F\tINBOX\t1\t0\t0\t2\t2\t2\t5\t0\n"
	    "M\tINBOX\t1\t5\t10\nM\tINBOX\t1\t5\t9\n");
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_compact(s) == -1);
	CHECK(store_errkind(s) == STATE_ECORRUPT);
	CHECK(strstr(store_error(s), "out of order") != NULL);
	store_free(s);
}

/* A save of a few changes appends to the journal and leaves the base
 * alone (same inode); once the journal passed an eighth of the base
 * (and 64 KB), the save compacts: a new base, no journal, nothing in
 * memory. */
static void
t_save_cost(const void *arg)
{
	const char *path = newpath();
	struct stat a, b;
	struct store *s;
	char uid[16], j[300];
	off_t jsize;
	int i, round;

	(void)arg;
	snprintf(j, sizeof(j), "%s.journal", path);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 1; i <= 20000; i++) {
		snprintf(uid, sizeof(uid), "%d", i);
		store_add(s, "INBOX", 3, uid, 1700000000);
	}
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_free(s);
	CHECK(stat(path, &a) == 0 && a.st_size > 400000);
	/* (The sync folded the overlay: the save journaled the header.) */
	jsize = stat(j, &b) == 0 ? b.st_size : -1;
	/* An unchanged run writes nothing. */
	if ((s = sopen(path)) != NULL) {
		CHECK(store_save(s) == 0);
		store_free(s);
	}
	CHECK(jsize == (stat(j, &b) == 0 ? b.st_size : -1));
	for (round = 0; round < 200; round++) {
		if ((s = sopen(path)) == NULL) {
			CHECK(0);
			return;
		}
		for (i = 0; i < 10; i++) {
			snprintf(uid, sizeof(uid), "%d", round * 10 + i + 1);
			CHECK(
			    store_set_local(s, "INBOX", 3, uid,
				".INBOX/1700000000.M1P1.host,S=100:2,FS", "FS")
			    == 0);
		}
		store_set_modseq(s, "INBOX", 3, (uint64_t)round + 1);
		CHECK(store_sync(s) == 0 && store_save(s) == 0);
		CHECK(stat(path, &b) == 0);
		if (access(j, F_OK) == 0) {
			/* Not compacted yet: the base untouched. */
			CHECK(b.st_ino == a.st_ino && b.st_size == a.st_size);
			CHECK(store_noverlay(s) == (size_t)(round + 1) * 10);
		} else {
			CHECK(b.st_ino != a.st_ino);
			CHECK(store_noverlay(s) == 0);
			CHECK(round > 20); /* ~60 KB of journal at least */
			store_free(s);
			break;
		}
		store_free(s);
	}
	CHECK(round < 200);
	if ((s = sopen(path)) != NULL) {
		CHECK(store_modseq(s, "INBOX", 3) == (uint64_t)round + 1);
		CHECK(store_count(s) == 20000);
		store_free(s);
	}
}

/* A record line of the base that does not parse: the lookup cannot
 * fail, but the next sync does, with ECORRUPT, before anything could
 * be deleted. */
static void
t_bad_line(const void *arg)
{
	const char *path = newpath();
	struct store *s;

	(void)arg;
	put(path,
	    "mailfetch-state 2\nG\t1\n"
	    "F\tINBOX\t1\t0\t0\t2\t2\t2\t5\t0\n"
	    "M\tINBOX\t1\t5\t9\tcolour=blue\nM\tINBOX\t1\t5\t10\n");
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_lookup(s, "INBOX", 1, "10") == 5);
	CHECK(store_sync(s) == 0);
	CHECK(store_lookup(s, "INBOX", 1, "9") == 0);
	CHECK(store_add(s, "INBOX", 1, "11", 6) == 0);
	CHECK(store_sync(s) == -1);
	CHECK(store_errkind(s) == STATE_ECORRUPT);
	CHECK(strstr(store_error(s), "bad record line") != NULL);
	CHECK(store_save(s) == -1);
	store_free(s);
}

/* Iterating while changing: each record once. */
static void
t_next_once(const void *arg)
{
	const char *path = newpath();
	struct state_rec rec;
	struct store *s;
	size_t pos = 0, n = 0;
	char uid[16];
	int i;

	(void)arg;
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 1; i <= 100; i++) {
		snprintf(uid, sizeof(uid), "%d", i);
		store_add(s, "F", 1, uid, 10);
	}
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_add(s, "F", 1, "101", 10);
	while (store_next(s, "F", 1, &pos, &rec)) {
		n++;
		snprintf(uid, sizeof(uid), "%s", rec.uid);
		CHECK(store_set_local(s, "F", 1, uid, "n:2,", "") == 0);
		CHECK(strcmp(rec.uid, uid) == 0);
	}
	CHECK(n == 101);
	store_free(s);
}

/*
 * A first fetch of 50 000 messages as deliver.c makes it, in batches of
 * 100 (their intents, a sync, their records, a sync): after each sync
 * the overlay holds at most 8192 records (the base never holds 16
 * times that: the bound is 8192), and every record is there at the
 * end, also after a reopen. The code before folds kept all 50 000.
 */
static void
t_fold_bounded(const void *arg)
{
	const char *path = newpath();
	struct state_intent in;
	struct store *s;
	char uid[16], name[48];
	size_t i, k, maxov = 0, miss = 0, folds = 0, before;
	int pass;

	(void)arg;
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	memset(&in, 0, sizeof(in));
	in.folder = "-";
	in.sub = "";
	in.uid = uid;
	in.name = name;
	for (i = 0; i < 50000; i += 100) {
		for (k = i; k < i + 100; k++) {
			snprintf(uid, sizeof(uid), "U%zu", k);
			snprintf(name, sizeof(name), "%zu.M1P1.host,S=10", k);
			CHECK(store_intend(s, &in) == 0);
		}
		before = store_noverlay(s);
		CHECK(store_sync(s) == 0);
		folds += store_noverlay(s) < before;
		if (store_noverlay(s) > maxov)
			maxov = store_noverlay(s);
		for (k = i; k < i + 100; k++) {
			snprintf(uid, sizeof(uid), "U%zu", k);
			CHECK(store_add(s, "-", 0, uid, 1700000000) == 0);
		}
		before = store_noverlay(s);
		CHECK(store_sync(s) == 0);
		folds += store_noverlay(s) < before;
		if (store_noverlay(s) > maxov)
			maxov = store_noverlay(s);
	}
	fprintf(
	    stderr, "bounded: %zu folds, overlay at most %zu\n", folds, maxov);
	CHECK(maxov <= 8192);
	CHECK(folds >= 5);
	for (pass = 0; pass < 2 && s != NULL; pass++) {
		for (k = 0, miss = 0; k < 50000; k++) {
			snprintf(uid, sizeof(uid), "U%zu", k);
			miss += store_lookup(s, "-", 0, uid) != 1700000000;
		}
		CHECK(miss == 0);
		CHECK(store_count(s) == 50000);
		CHECK(store_folder_records(s, "-", 0) == 50000);
		CHECK(store_npending(s) == 0);
		CHECK(pass == 1 || store_save(s) == 0);
		store_free(s);
		s = pass == 0 ? sopen(path) : NULL;
		CHECK(pass == 1 || s != NULL);
	}
	store_free(s);
}

/* A version 1 file, loaded whole into the overlay, is folded by the
 * first sync past the bound: a version 2 base from then on, uidnext as
 * the file had it until the save. */
static void
t_fold_v1(const void *arg)
{
	const char *path = newpath();
	struct store *s;
	char *data, uid[16];
	int i, miss = 0;
	FILE *f;

	(void)arg;
	if ((f = fopen(path, "w")) == NULL) {
		CHECK(0);
		return;
	}
	fprintf(f, "mailfetch-state 1\nG\t4\nF\tINBOX\t9\t101\n");
	for (i = 1; i <= 100; i++)
		fprintf(f, "M\tINBOX\t9\t%d\t%d\tflags=S\n", 1000 + i, i);
	fclose(f);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	store_set_fold_min(s, 16);
	CHECK(store_noverlay(s) == 100);
	store_set_uidnext(s, "INBOX", 9, 102);
	CHECK(store_add(s, "INBOX", 9, "101", 5000) == 0);
	CHECK(store_sync(s) == 0);
	CHECK(store_noverlay(s) == 0);
	data = slurp(path);
	CHECK(data != NULL
	    && strncmp(data, "mailfetch-state 2\nG\t5\nF\tINBOX\t9\t101\t", 30)
		== 0);
	free(data);
	for (i = 1; i <= 101; i++) {
		snprintf(uid, sizeof(uid), "%d", i);
		miss += store_lookup(s, "INBOX", 9, uid)
		    != (i <= 100 ? 1000 + i : 5000);
	}
	CHECK(miss == 0);
	CHECK(store_uidnext(s, "INBOX", 9) == 102);
	CHECK(store_save(s) == 0);
	store_free(s);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_count(s) == 101 && store_uidnext(s, "INBOX", 9) == 102);
	store_free(s);
}

static const struct state_intent *
pending_of(struct store *s, const char *uid)
{
	size_t i;

	for (i = 0; i < store_npending(s); i++)
		if (strcmp(store_pending(s, i)->uid, uid) == 0)
			return store_pending(s, i);
	return NULL;
}

static void
intend(struct store *s, const char *uid, const char *sub, const char *name)
{
	struct state_intent in;

	memset(&in, 0, sizeof(in));
	in.folder = "INBOX";
	in.uidvalidity = 3;
	in.uid = uid;
	in.sub = sub;
	in.name = name;
	CHECK(store_intend(s, &in) == 0);
}

/*
 * A fold keeps the intents still open: those pending at the open that
 * nothing recorded since, and the run's own not yet recorded. In
 * memory (state_pending's strings stay valid) and in the new base: a
 * crash after the fold (the journal gone with it) finds them pending.
 */
static void
t_fold_intents(const void *arg)
{
	const char *path = newpath();
	const struct state_intent *p;
	char uid[16], j[300];
	struct store *s;
	size_t i, before, folds = 0;

	(void)arg;
	snprintf(j, sizeof(j), "%s.journal", path);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 1; i <= 10; i++) {
		snprintf(uid, sizeof(uid), "%zu", i);
		store_add(s, "INBOX", 3, uid, 100);
	}
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	intend(s, "p1", ".Sub", "p1name");
	intend(s, "p2", "", "p2name");
	CHECK(store_sync(s) == 0);
	store_free(s); /* the crash */
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	store_set_fold_min(s, 16);
	CHECK(store_npending(s) == 2);
	CHECK(store_add(s, "INBOX", 3, "p2", 50) == 0); /* found */
	intend(s, "n1", "", "n1name");
	intend(s, "n2", "", "n2name");
	CHECK(store_sync(s) == 0);
	CHECK(store_add(s, "INBOX", 3, "n2", 60) == 0);
	CHECK(store_sync(s) == 0);
	/* Records, a sync every 10, until the third fold: the last thing
	 * the run does (no journal after it). */
	for (i = 100; folds < 3 && i < 1000; i++) {
		snprintf(uid, sizeof(uid), "%zu", i);
		CHECK(store_add(s, "INBOX", 3, uid, 200) == 0);
		if (i % 10 != 9)
			continue;
		before = store_noverlay(s);
		CHECK(store_sync(s) == 0);
		folds += store_noverlay(s) < before;
	}
	CHECK(folds == 3);
	CHECK(access(j, F_OK) == -1);
	CHECK(store_npending(s) == 2);
	CHECK((p = pending_of(s, "p1")) != NULL);
	if (p != NULL) {
		CHECK_STR(p->folder, "INBOX");
		CHECK_STR(p->sub, ".Sub");
		CHECK_STR(p->name, "p1name");
	}
	store_free(s); /* the crash */
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(store_npending(s) == 2);
	CHECK((p = pending_of(s, "p1")) != NULL);
	if (p != NULL) {
		CHECK_STR(p->sub, ".Sub");
		CHECK_STR(p->name, "p1name");
		CHECK(p->uidvalidity == 3);
	}
	CHECK((p = pending_of(s, "n1")) != NULL);
	if (p != NULL) {
		CHECK_STR(p->sub, "");
		CHECK_STR(p->name, "n1name");
	}
	CHECK(store_lookup(s, "INBOX", 3, "p2") == 50);
	CHECK(store_lookup(s, "INBOX", 3, "n2") == 60);
	CHECK(store_lookup(s, "INBOX", 3, "n1") == 0);
	CHECK(store_count(s) == 12 + (i - 100));
	store_free(s);
}

/*
 * The kill -9 test's run (this program with --fold-child PATH, under
 * strace): a POP3 poll over a base of 200 records B1..B200 of which
 * B1..B150 are listed (marked), an intent P never recorded, 60 new
 * records N0..N59 with a sync every 10, the prune, the save; the overlay
 * bounded to 16 records, so that the syncs fold. What each sync made
 * durable is printed after it.
 */
static int
fold_child(const char *path)
{
	struct state_intent in;
	struct store *s = store_new(path);
	char uid[16];
	int i;

	if (store_lock(s) == -1 || store_open(s, 0) == -1) {
		fprintf(stderr, "fold child: %s\n", store_error(s));
		return 1;
	}
	store_set_fold_min(s, 16);
	for (i = 1; i <= 150; i++) {
		snprintf(uid, sizeof(uid), "B%d", i);
		store_mark(s, "-", 0, uid);
	}
	memset(&in, 0, sizeof(in));
	in.folder = "-";
	in.uid = "P";
	in.sub = "";
	in.name = "1.M1P1.host";
	if (store_intend(s, &in) == -1 || store_sync(s) == -1)
		goto fail;
	printf("P\n");
	fflush(stdout);
	for (i = 0; i < 60; i++) {
		snprintf(uid, sizeof(uid), "N%d", i);
		if (store_add(s, "-", 0, uid, 500) == -1)
			goto fail;
		if (i % 10 != 9)
			continue;
		if (store_sync(s) == -1)
			goto fail;
		printf("N %d\n", i);
		fflush(stdout);
	}
	if (store_prune(s, "-", 2000000000) == -1 || store_sync(s) == -1)
		goto fail;
	printf("pruned\n");
	fflush(stdout);
	if (store_save(s) == -1)
		goto fail;
	store_free(s);
	return 0;
fail:
	fprintf(stderr, "fold child: %s\n", store_error(s));
	store_free(s);
	return 1;
}

static const char *self;

/* Run the child under strace, killed (SIGKILL) at the k-th call of
 * syscall (k 0: not killed). Its report in *out. Returns 0 when it
 * ended by itself, 1 when killed, -1 else. */
static int
run_child(const char *path, const char *syscall, int k, char *out, size_t len)
{
	char inject[64], env[512];
	const char *opts;
	int fds[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	snprintf(inject, sizeof(inject), "inject=%s:signal=SIGKILL:when=%d",
	    syscall, k);
	if (pipe(fds) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		/* LeakSanitizer cannot work under ptrace (SAN=1). */
		opts = getenv("ASAN_OPTIONS");
		snprintf(env, sizeof(env), "%s%sdetect_leaks=0",
		    opts ? opts : "", opts ? ":" : "");
		setenv("ASAN_OPTIONS", env, 1);
		if (k == 0)
			execl(self, self, "--fold-child", path, (char *)NULL);
		else
			execlp("strace", "strace", "-f", "-qq", "-o",
			    "/dev/null", "-e", inject, self, "--fold-child",
			    path, (char *)NULL);
		fprintf(stderr, "exec strace: %s (apt-get install strace)\n",
		    strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while (n + 1 < len && (r = read(fds[0], out + n, len - n - 1)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if ((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
	    || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL))
		return 1;
	fprintf(stderr, "%s #%d: status %d\n", syscall, k, status);
	return -1;
}

/* After a kill with report out: the state opens and holds all that
 * the report says was durable. */
static void
check_after_kill(const char *path, const char *out, const char *what)
{
	const char *p = strstr(out, "N "), *q;
	struct store *s = sopen(path);
	size_t fc, nn = 0;
	int64_t oldest;
	char uid[16];
	int i, last = -1;

	if (s == NULL) {
		fprintf(stderr, "%s: does not open\n", what);
		CHECK(0);
		return;
	}
	for (q = p; q != NULL; q = strstr(q + 1, "N "))
		sscanf(q, "N %d", &last);
	for (i = 1; i <= 200; i++) {
		snprintf(uid, sizeof(uid), "B%d", i);
		CHECK(store_lookup(s, "-", 0, uid) == 100);
	}
	/* Durable: at least what the report says (the kill may have come
	 * between a sync and its report). */
	for (i = 0; i < 60; i++) {
		snprintf(uid, sizeof(uid), "N%d", i);
		if (store_lookup(s, "-", 0, uid) == 500)
			nn++;
		else
			CHECK(i > last);
	}
	if (strstr(out, "P\n") != NULL)
		CHECK(pending_of(s, "P") != NULL);
	fc = store_folder_count(s, "-", 0, &oldest);
	CHECK(store_count(s) == 200 + nn);
	if (strstr(out, "pruned\n") != NULL)
		CHECK(fc == 150 + 60);
	else
		CHECK(fc == 200 + nn || (nn == 60 && fc == 150 + 60));
	if (t_case_failed)
		fprintf(stderr, "%s: state wrong after \"%s\"\n", what, out);
	store_free(s);
}

/*
 * kill -9 at every write, fdatasync, fsync, rename and unlink of
 * fold_child's run (its syncs, the folds they make, the prune, the
 * save), each from the same base: each time the state opens and holds
 * every record, intent and gone= the run had made durable; a clean run
 * after it ends as one that was never killed.
 */
static void
t_fold_kill(const void *arg)
{
	static const char *const calls[]
	    = { "write", "fdatasync", "fsync", "rename", "unlink" };
	const char *path = newpath();
	char snap[300], out[4096], what[64], uid[16], *data, j[300];
	struct store *s;
	size_t c;
	int k, rc, points = 0;
	int64_t oldest;

	(void)arg;
	snprintf(snap, sizeof(snap), "%s.snap", path);
	snprintf(j, sizeof(j), "%s.journal", path);
	if ((s = sopen(path)) == NULL) {
		CHECK(0);
		return;
	}
	for (k = 1; k <= 200; k++) {
		snprintf(uid, sizeof(uid), "B%d", k);
		store_add(s, "-", 0, uid, 100);
	}
	CHECK(store_sync(s) == 0 && store_save(s) == 0);
	store_free(s);
	CHECK(access(j, F_OK) == -1);
	data = slurp(path);
	if (data == NULL) {
		CHECK(0);
		return;
	}
	put(snap, data);
	for (c = 0; c < sizeof(calls) / sizeof(calls[0]); c++)
		for (k = 1; k < 200; k++) {
			put(path, data);
			unlink(j);
			snprintf(what, sizeof(what), "killed at %s #%d",
			    calls[c], k);
			rc = run_child(path, calls[c], k, out, sizeof(out));
			CHECK(rc != -1);
			if (rc == -1)
				break;
			check_after_kill(path, out, what);
			if (rc == 0) {
				CHECK(strstr(out, "pruned\n") != NULL);
				break;
			}
			points++;
			/* A clean run after it. */
			CHECK(run_child(path, "", 0, out, sizeof(out)) == 0);
			check_after_kill(path, out, what);
			if ((s = sopen(path)) != NULL) {
				CHECK(store_folder_count(s, "-", 0, &oldest)
				    == 210);
				CHECK(store_count(s) == 260);
				store_free(s);
			}
			if (t_case_failed)
				return;
		}
	fprintf(stderr, "killed at %d system calls\n", points);
	CHECK(points >= 30);
	free(data);
}

static void
t_lock(const void *arg)
{
	const char *path = newpath();
	struct store *a = store_new(path), *b = store_new(path);

	(void)arg;
	CHECK(store_lock(a) == 0);
	CHECK(store_lock(b) == -1 && store_errkind(b) == STATE_ELOCKED);
	store_free(a);
	store_free(b);
}

int
main(int argc, char **argv)
{
	static const int save = 0, crash = 1, v1 = 2, fold = 3;
	size_t i;

	if (argc == 3 && strcmp(argv[1], "--fold-child") == 0)
		return fold_child(argv[2]);
	self = argv[0];

	snprintf(tdir, sizeof(tdir), "/tmp/mailfetch-test-store.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN("base and overlay answer alike, saved each round", t_differential,
	    &save);
	T_RUN("base and overlay answer alike, crashes between", t_differential,
	    &crash);
	T_RUN("base and overlay answer alike, from a version 1 file",
	    t_differential, &v1);
	T_RUN("base and overlay answer alike, overlay folded mid-run",
	    t_differential, &fold);
	T_RUN("sorted base, journal replayed", t_sorted_and_journal, NULL);
	T_RUN("prune O(1) unless something vanished", t_prune, NULL);
	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++)
		T_RUN(ccases[i].name, t_corrupt, &ccases[i]);
	T_RUN("compaction crash: stale journal ignored", t_compact_crash, NULL);
	T_RUN("base out of order: corrupt at compaction", t_out_of_order, NULL);
	T_RUN("a bad record line fails the next sync", t_bad_line, NULL);
	T_RUN("iteration gives each record once", t_next_once, NULL);
	T_RUN("a save appends; compaction past an eighth", t_save_cost, NULL);
	T_RUN("overlay bounded over a first fetch of 50 000", t_fold_bounded,
	    NULL);
	T_RUN("a fold keeps the open intents", t_fold_intents, NULL);
	T_RUN("a version 1 file folded at the first sync", t_fold_v1, NULL);
	T_RUN("kill -9 at every write, sync, rename, unlink of folds",
	    t_fold_kill, NULL);
	T_RUN("lock", t_lock, NULL);
	t_rmtree(tdir);
	return T_DONE();
}
