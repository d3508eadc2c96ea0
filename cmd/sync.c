/*
 * The mirror pass of one folder. See sync.h, and mirror.c for why the
 * order of its steps makes it safe to interrupt anywhere.
 *
 * The sink keeps only what differs from the records: a flags report
 * equal to the recorded letters costs a lookup and nothing more, and
 * WHOLE's "anything not reported is gone" is told by state_mark, so an
 * unchanged folder holds nothing per message. Vanished ranges are kept
 * as ranges; a range wider than the records are many is matched by
 * walking the records rather than the range.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tls/util.h"
#include "mirror.h"
#include "sync.h"

/* Ranges this wide in total are matched by walking the records. */
#define RANGE_WALK 4096

void
msync_init(struct msync *ms, const struct acct *ac, struct state *st,
    const char *key, const char *folder, uint32_t uidv)
{
	memset(ms, 0, sizeof(*ms));
	ms->ac = ac;
	ms->st = st;
	ms->key = key;
	ms->folder = folder;
	ms->uidv = uidv;
	ms->dryrun = ac->o->dryrun;
	ms->verbose = ac->o->verbose;
	ms->accept = ac->o->accept_removals;
}

static int
on_flags(void *arg, uint32_t uid, unsigned flags)
{
	struct msync *ms = arg;
	struct mirror_plan plan;
	struct state_rec rec;
	char u[16];

	snprintf(u, sizeof(u), "%" PRIu32, uid);
	state_mark(ms->st, ms->key, ms->uidv, u);
	if (!state_get(ms->st, ms->key, ms->uidv, u, &rec))
		return 0; /* not downloaded yet: the listing gets its flags */
	mirror_plan(rec.has_flags ? rec.flags : NULL, flags, 0, &plan);
	if (plan.action == MIRROR_KEEP)
		return 0;
	if (ms->nupd == ms->capupd) {
		ms->capupd = ms->capupd ? 2 * ms->capupd : 64;
		ms->upd = xreallocarray(ms->upd, ms->capupd, sizeof(*ms->upd));
	}
	ms->upd[ms->nupd].uid = uid;
	ms->upd[ms->nupd++].flags = flags;
	return 0;
}

static int
on_vanished(void *arg, uint32_t lo, uint32_t hi)
{
	struct msync *ms = arg;

	if (ms->nvan > 0 && ms->van[ms->nvan - 1].hi != UINT32_MAX
	    && ms->van[ms->nvan - 1].hi + 1 == lo) {
		ms->van[ms->nvan - 1].hi = hi;
		return 0;
	}
	if (ms->nvan == ms->capvan) {
		ms->capvan = ms->capvan ? 2 * ms->capvan : 16;
		ms->van = xreallocarray(ms->van, ms->capvan, sizeof(*ms->van));
	}
	ms->van[ms->nvan].lo = lo;
	ms->van[ms->nvan++].hi = hi;
	return 0;
}

void
msync_sink(struct msync *ms, struct change_sink *chg)
{
	chg->flags = on_flags;
	chg->vanished = on_vanished;
	chg->arg = ms;
}

static int
range_cmp(const void *x, const void *y)
{
	const struct msync_range *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* 1 when uid is in one of the (sorted) ranges. */
static int
in_ranges(const struct msync *ms, uint32_t uid)
{
	size_t lo = 0, hi = ms->nvan, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ms->van[mid].hi < uid)
			lo = mid + 1;
		else if (ms->van[mid].lo > uid)
			hi = mid;
		else
			return 1;
	}
	return 0;
}

static int
uid_num(const char *s, uint32_t *uid)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > UINT32_MAX)
		return -1;
	*uid = (uint32_t)v;
	return 0;
}

static void
gone_add(
    struct msync_gone **v, size_t *n, size_t *cap, const struct state_rec *r)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[*n].uid = xstrdup(r->uid);
	(*v)[(*n)++].file = r->file != NULL ? xstrdup(r->file) : NULL;
}

/* The records that are gone: all (VOID), those in the vanished
 * ranges, and with WHOLE those the sink did not see. */
static size_t
collect_gone(struct msync *ms, enum src_sync kind, struct msync_gone **v)
{
	struct state_rec rec;
	uint64_t span = 0;
	size_t i, n = 0, cap = 0, pos = 0;
	uint32_t uid, u;
	char s[16];

	*v = NULL;
	for (i = 0; i < ms->nvan; i++)
		span += (uint64_t)ms->van[i].hi - ms->van[i].lo + 1;
	if (kind == SRC_SYNC_DELTA && span <= RANGE_WALK) {
		for (i = 0; i < ms->nvan; i++)
			for (u = ms->van[i].lo;; u++) {
				snprintf(s, sizeof(s), "%" PRIu32, u);
				if (state_get(
					ms->st, ms->key, ms->uidv, s, &rec))
					gone_add(v, &n, &cap, &rec);
				if (u == ms->van[i].hi)
					break;
			}
		return n;
	}
	if (kind == SRC_SYNC_DELTA && ms->nvan == 0)
		return 0;
	while (state_next(ms->st, ms->key, ms->uidv, &pos, &rec)) {
		if (kind == SRC_SYNC_VOID
		    || (kind == SRC_SYNC_WHOLE && !rec.marked)
		    || (uid_num(rec.uid, &uid) == 0 && in_ranges(ms, uid)))
			gone_add(v, &n, &cap, &rec);
	}
	return n;
}

/* The folder's records, counted only when the guard may hold. */
static size_t
count_local(const struct msync *ms)
{
	struct state_rec rec;
	size_t pos = 0, n = 0;

	while (state_next(ms->st, ms->key, ms->uidv, &pos, &rec))
		n++;
	return n;
}

/* The size in a Maildir name (",S=N"), 0 when it has none. */
static uint64_t
file_size(const char *file)
{
	const char *s = file != NULL ? strstr(file, ",S=") : NULL;

	return s != NULL ? strtoull(s + 3, NULL, 10) : 0;
}

static void
plan_line(const struct msync *ms, const char *uid, const char *file,
    const struct mirror_plan *plan)
{
	printf("%s\t%s\t%s\t%" PRIu64 "\t%s\t%s\n", ms->ac->a->name, ms->folder,
	    uid, file_size(file),
	    plan->action == MIRROR_UPDATE ? "update" : "remove", plan->reason);
}

/* -v: a copy the pass could not find, or has no name of. */
static void
say_missing(
    const struct msync *ms, const char *uid, const char *file, const char *what)
{
	if (!ms->verbose)
		return;
	if (file == NULL)
		printf("%s: %s %s: no local file recorded (downloaded before "
		       "mirror = yes); %s\n",
		    ms->ac->a->name, ms->folder, uid, what);
	else
		printf("%s: %s %s: local copy %s not found; %s\n",
		    ms->ac->a->name, ms->folder, uid, file, what);
}

static int
local_fail(struct msync *ms, struct maildir *md)
{
	acct_err(ms->ac,
	    "%s: %s; check that the Maildir is writable and the disk is not "
	    "full",
	    ms->folder, maildir_error(md));
	ms->failed = 1;
	ms->status = acct_oserr(maildir_errno(md));
	return -1;
}

/* The base name of a recorded file (NAME or .SUB/NAME). */
static const char *
base_of(const char *file)
{
	const char *s = strchr(file, '/');

	return s != NULL ? s + 1 : file;
}

/* Apply plan to one recorded copy and note the result in the state
 * (buffered: it reaches the journal at the state sync that follows the
 * Maildir's). */
static int
apply_one(struct msync *ms, struct maildir *md, struct maildir_index *ix,
    const char *sub, const char *uid, const char *file,
    const struct mirror_plan *plan)
{
	char *newname = NULL, *rel;
	int rc;

	if (ms->dryrun) {
		plan_line(ms, uid, file, plan);
		if (plan->action == MIRROR_UPDATE)
			ms->updated++;
		else
			ms->removed++;
		return 0;
	}
	if (file == NULL) {
		say_missing(ms, uid, file,
		    plan->action == MIRROR_UPDATE ? "not updated"
						  : "its record is forgotten");
		if (plan->action == MIRROR_REMOVE)
			state_forget(ms->st, ms->key, ms->uidv, uid);
		return 0;
	}
	rc = mirror_apply(md, ix, base_of(file), plan, &newname);
	if (rc == -1)
		return local_fail(ms, md);
	if (plan->action == MIRROR_REMOVE) {
		if (rc == MAILDIR_MISSING)
			say_missing(ms, uid, file, "its record is forgotten");
		else
			ms->removed++;
		return state_forget(ms->st, ms->key, ms->uidv, uid);
	}
	if (rc == MAILDIR_MISSING) {
		say_missing(ms, uid, file, "not updated");
		return 0;
	}
	ms->updated++;
	if (*sub != '\0')
		xasprintf(&rel, "%s/%s", sub, newname);
	else
		rel = xstrdup(newname);
	rc = state_set_local(ms->st, ms->key, ms->uidv, uid, rel, plan->flags);
	free(rel);
	free(newname);
	return rc;
}

/* The flag updates, but of messages that are gone too. */
static int
apply_updates(struct msync *ms, struct maildir *md, struct maildir_index *ix,
    const char *sub)
{
	struct mirror_plan plan;
	struct state_rec rec;
	size_t i;
	char u[16];

	for (i = 0; i < ms->nupd; i++) {
		if (in_ranges(ms, ms->upd[i].uid))
			continue;
		snprintf(u, sizeof(u), "%" PRIu32, ms->upd[i].uid);
		if (!state_get(ms->st, ms->key, ms->uidv, u, &rec))
			continue;
		mirror_plan(rec.has_flags ? rec.flags : NULL, ms->upd[i].flags,
		    0, &plan);
		if (plan.action == MIRROR_KEEP)
			continue;
		if (apply_one(ms, md, ix, sub, u, rec.file, &plan) == -1)
			return -1;
	}
	return 0;
}

/* The removals, unless the guard holds. */
static int
apply_removals(struct msync *ms, struct maildir *md, struct maildir_index *ix,
    const char *sub, struct msync_gone *g, size_t ng)
{
	struct mirror_plan plan;
	size_t i, local;
	char *msg;

	if (ng > MIRROR_GUARD_MIN) {
		local = count_local(ms);
		if (mirror_guard_holds(ng, local, ms->accept)) {
			msg = mirror_guard_message(
			    ms->ac->a->name, ms->folder, ng, local);
			acct_err(
			    ms->ac, "%s", msg + strlen(ms->ac->a->name) + 2);
			free(msg);
			ms->held = 1;
			return 0;
		}
	}
	mirror_plan(NULL, 0, 1, &plan);
	for (i = 0; i < ng; i++)
		if (apply_one(ms, md, ix, sub, g[i].uid, g[i].file, &plan)
		    == -1)
			return -1;
	return 0;
}

/* The renames and removals durable first, then the records. */
static int
finish(struct msync *ms, struct maildir *md, int rv)
{
	if (ms->dryrun)
		return rv;
	if (md != NULL && maildir_sync(md) == -1 && rv == 0)
		rv = local_fail(ms, md);
	if (rv == 0 && state_sync(ms->st) == -1) {
		acct_err(ms->ac, "%s", state_error(ms->st));
		ms->failed = 1;
		ms->status = state_errkind(ms->st) == STATE_ECORRUPT
		    ? EX_DATAERR
		    : acct_oserr(state_errno(ms->st));
		rv = -1;
	}
	return rv;
}

/* Sort the ranges and merge those that overlap or touch: in_ranges'
 * binary search needs them disjoint, and a server's set need not be. */
static void
merge_ranges(struct msync *ms)
{
	size_t i, n = 0;

	if (ms->nvan < 2)
		return;
	qsort(ms->van, ms->nvan, sizeof(*ms->van), range_cmp);
	for (i = 1; i < ms->nvan; i++) {
		if (ms->van[n].hi == UINT32_MAX
		    || ms->van[i].lo <= ms->van[n].hi + 1) {
			if (ms->van[i].hi > ms->van[n].hi)
				ms->van[n].hi = ms->van[i].hi;
		} else
			ms->van[++n] = ms->van[i];
	}
	ms->nvan = n + 1;
}

int
msync_prepare(struct msync *ms, enum src_sync kind)
{
	merge_ranges(ms);
	ms->ngone = collect_gone(ms, kind, &ms->gone);
	return ms->ngone > 0 || (kind != SRC_SYNC_VOID && ms->nupd > 0);
}

int
msync_pass(
    struct msync *ms, enum src_sync kind, struct maildir *md, const char *sub)
{
	struct maildir_index *ix;
	int rv;

	ix = ms->dryrun ? NULL : maildir_index_new();
	rv = kind == SRC_SYNC_VOID ? 0 : apply_updates(ms, md, ix, sub);
	if (rv == 0)
		rv = apply_removals(ms, md, ix, sub, ms->gone, ms->ngone);
	maildir_index_free(ix);
	return finish(ms, md, rv);
}

/* One recorded copy against its record's letters. */
static int
scan_one(struct msync *ms, struct maildir *md, struct maildir_index *ix,
    const char *sub, const struct state_rec *rec)
{
	struct mirror_plan plan;
	char *where = NULL, have[MIRROR_FLAGSZ];
	int rc;

	rc = maildir_find(md, ix, base_of(rec->file), rec->flags, &where);
	if (rc == -1)
		return local_fail(ms, md);
	if (rc == MAILDIR_MISSING)
		return 0;
	mirror_letters(mirror_flags(mirror_info(where)), have);
	free(where);
	if (!rec->has_flags)
		return ms->dryrun ? 0
				  : state_set_local(ms->st, ms->key, ms->uidv,
				      rec->uid, NULL, have);
	mirror_plan(have, mirror_flags(rec->flags), 0, &plan);
	if (plan.action == MIRROR_KEEP)
		return 0;
	return apply_one(ms, md, ix, sub, rec->uid, rec->file, &plan);
}

int
msync_scan(struct msync *ms, struct maildir *md, const char *sub)
{
	struct maildir_index *ix = maildir_index_new();
	struct state_rec rec;
	size_t pos = 0;
	int rv = 0;

	while (rv == 0 && state_next(ms->st, ms->key, ms->uidv, &pos, &rec))
		if (rec.file != NULL)
			rv = scan_one(ms, md, ix, sub, &rec);
	maildir_index_free(ix);
	return finish(ms, md, rv);
}

void
msync_free(struct msync *ms)
{
	size_t i;

	for (i = 0; i < ms->ngone; i++) {
		free(ms->gone[i].uid);
		free(ms->gone[i].file);
	}
	free(ms->gone);
	ms->gone = NULL;
	ms->ngone = 0;
	free(ms->upd);
	free(ms->van);
	ms->upd = NULL;
	ms->van = NULL;
	ms->nupd = ms->nvan = 0;
}
