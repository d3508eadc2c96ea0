/*
 * Unit tests for cmd/policy.c: one table row per branch of the policy,
 * plus the budget carried across folders and the duration format.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "../../cmd/policy.h"

#define NOW ((int64_t)1700000000)
#define DAY ((int64_t)86400)
#define MIB ((uint64_t)1024 * 1024)
#define NOLIMIT UINT64_MAX

struct pcase {
	const char *name;
	int keep;
	int64_t delete_after;
	uint64_t max_size;
	uint64_t max_messages;
	uint64_t size;
	int64_t fetched_at;
	int has_uid;
	int may_delete;
	uint64_t budget;
	enum policy_action want;
	const char *reason;
	uint64_t budget_after;
};

static const struct pcase cases[] = {
	{ "new, keep", 1, 0, 0, 0, 100, 0, 1, 1, NOLIMIT, POLICY_FETCH, "new",
	    NOLIMIT },
	{ "new, keep = no", 0, 0, 0, 0, 100, 0, 1, 1, NOLIMIT,
	    POLICY_FETCH_DELETE, "new, keep = no", NOLIMIT },
	{ "new, keep = no, no uid (pop3 without UIDL)", 0, 0, 0, 0, 100, 0, 0,
	    1, NOLIMIT, POLICY_FETCH_DELETE, "new, keep = no", NOLIMIT },
	{ "new, keep, no uid", 1, 0, 0, 0, 100, 0, 0, 1, NOLIMIT, POLICY_SKIP,
	    "skip: no UIDL, cannot record it", NOLIMIT },
	{ "new, uidvalidity changed, keep = no", 0, 0, 0, 0, 100, 0, 1, 0,
	    NOLIMIT, POLICY_FETCH, "new; no deletion: UIDVALIDITY changed",
	    NOLIMIT },
	{ "new, uidvalidity changed, keep", 1, 0, 0, 0, 100, 0, 1, 0, NOLIMIT,
	    POLICY_FETCH, "new; no deletion: UIDVALIDITY changed", NOLIMIT },
	{ "new, too big", 1, 0, 10 * MIB, 0, 12 * MIB, 0, 1, 1, NOLIMIT,
	    POLICY_SKIP, "skip: 12.0M > max_size 10.0M", NOLIMIT },
	{ "new, size equal to max_size", 1, 0, 10 * MIB, 0, 10 * MIB, 0, 1, 1,
	    NOLIMIT, POLICY_FETCH, "new", NOLIMIT },
	{ "new, one byte over max_size", 1, 0, 1000, 0, 1001, 0, 1, 1, 5,
	    POLICY_SKIP, "skip: 1001B > max_size 1000B", 5 },
	{ "new, kilobytes over max_size", 1, 0, 1024, 0, 1536, 0, 1, 1, 5,
	    POLICY_SKIP, "skip: 1.5k > max_size 1.0k", 5 },
	{ "new, too big takes no budget and beats budget", 1, 0, 10, 3, 11, 0,
	    1, 1, 0, POLICY_SKIP, "skip: 11B > max_size 10B", 0 },
	{ "new, budget exhausted", 1, 0, 0, 3, 100, 0, 1, 1, 0, POLICY_SKIP,
	    "skip: over max_messages 3", 0 },
	{ "new, budget takes one", 0, 0, 0, 3, 100, 0, 1, 1, 2,
	    POLICY_FETCH_DELETE, "new, keep = no", 1 },
	{ "old, uidvalidity changed", 0, 0, 0, 0, 100, NOW - 3 * DAY, 1, 0,
	    NOLIMIT, POLICY_KEEP,
	    "keep: UIDVALIDITY changed, nothing deleted this run", NOLIMIT },
	{ "old, keep = no (earlier deletion did not complete)", 0, 0, 0, 0, 100,
	    NOW - 3 * DAY, 1, 1, NOLIMIT, POLICY_DELETE,
	    "delete: fetched 3d ago, keep = no", NOLIMIT },
	{ "old, past delete_after", 1, 30 * DAY, 0, 0, 100, NOW - 31 * DAY, 1,
	    1, NOLIMIT, POLICY_DELETE,
	    "delete: fetched 31d ago, delete_after 30d", NOLIMIT },
	{ "old, exactly delete_after", 1, 30 * DAY, 0, 0, 100, NOW - 30 * DAY,
	    1, 1, NOLIMIT, POLICY_DELETE,
	    "delete: fetched 30d ago, delete_after 30d", NOLIMIT },
	{ "old, one second before delete_after", 1, 30 * DAY, 0, 0, 100,
	    NOW - 30 * DAY + 1, 1, 1, NOLIMIT, POLICY_KEEP,
	    "keep: fetched 29d ago, delete_after 30d", NOLIMIT },
	{ "old, within delete_after", 1, 30 * DAY, 0, 0, 100, NOW - 3 * DAY, 1,
	    1, NOLIMIT, POLICY_KEEP, "keep: fetched 3d ago, delete_after 30d",
	    NOLIMIT },
	{ "old, keep, no delete_after", 1, 0, 0, 0, 100, NOW - 3 * DAY, 1, 1,
	    NOLIMIT, POLICY_KEEP, "keep: fetched 3d ago", NOLIMIT },
	{ "old, fetched in the future (clock moved back)", 1, 60, 0, 0, 100,
	    NOW + 3600, 1, 1, NOLIMIT, POLICY_KEEP,
	    "keep: fetched 0s ago, delete_after 1m", NOLIMIT },
	{ "old, delete_after in hours", 1, 3 * 3600, 0, 0, 100, NOW - 4 * 3600,
	    1, 1, NOLIMIT, POLICY_DELETE,
	    "delete: fetched 4h ago, delete_after 3h", NOLIMIT },
	{ "old, takes no budget even when exhausted", 1, 0, 0, 2, 100, NOW - 45,
	    1, 1, 0, POLICY_KEEP, "keep: fetched 45s ago", 0 },
	{ "old, too big is still deleted (not a new download)", 0, 0, 10, 0,
	    100, NOW - 120, 1, 1, NOLIMIT, POLICY_DELETE,
	    "delete: fetched 2m ago, keep = no", NOLIMIT },
};

static void
t_case(const void *arg)
{
	const struct pcase *c = arg;
	struct policy_cfg cfg;
	struct policy_in in;
	struct policy_out out;
	uint64_t budget = c->budget;
	char why[96];

	memset(&cfg, 0, sizeof(cfg));
	memset(&in, 0, sizeof(in));
	cfg.keep = c->keep;
	cfg.delete_after = c->delete_after;
	cfg.max_size = c->max_size;
	cfg.max_messages = c->max_messages;
	in.size = c->size;
	in.fetched_at = c->fetched_at;
	in.has_uid = c->has_uid;
	memset(&out, 0xff, sizeof(out));
	policy_plan(&cfg, &in, 1, NOW, c->may_delete, &budget, &out);
	CHECK(out.action == c->want);
	CHECK_STR(policy_action_name(out.action), policy_action_name(c->want));
	policy_reason(&cfg, &in, &out, NOW, why, sizeof(why));
	CHECK_STR(why, c->reason);
	CHECK(budget == c->budget_after);
}

/* A recorded message that arrived shorter than announced. */
struct mcase {
	const char *name;
	int keep;
	int64_t delete_after;
	int64_t fetched_at;
	int may_delete;
	uint64_t announced, received;
	int mismatch_delete;
	enum policy_action want;
	const char *reason;
};

static const struct mcase mcases[] = {
	{ "old, size mismatch, keep = no: kept", 0, 0, NOW - 120, 1, 5017, 20,
	    0, POLICY_KEEP,
	    "keep: size mismatch (announced 5017, received 20)" },
	{ "old, size mismatch, received nothing: kept", 0, 0, NOW - 120, 1,
	    5017, 0, 0, POLICY_KEEP,
	    "keep: size mismatch (announced 5017, received 0)" },
	{ "old, size mismatch, past delete_after: kept", 1, 30 * DAY,
	    NOW - 31 * DAY, 1, 5017, 20, 0, POLICY_KEEP,
	    "keep: size mismatch (announced 5017, received 20)" },
	{ "old, size mismatch, size_mismatch = delete, keep = no", 0, 0,
	    NOW - 120, 1, 5017, 20, 1, POLICY_DELETE,
	    "delete: fetched 2m ago, keep = no" },
	{ "old, size mismatch, size_mismatch = delete, keep", 1, 0, NOW - 120,
	    1, 5017, 20, 1, POLICY_KEEP, "keep: fetched 2m ago" },
	{ "old, size mismatch, uidvalidity changed", 0, 0, NOW - 120, 0, 5017,
	    20, 0, POLICY_KEEP,
	    "keep: UIDVALIDITY changed, nothing deleted this run" },
	{ "old, more received than announced: no mismatch", 0, 0, NOW - 120, 1,
	    100, 102, 0, POLICY_DELETE, "delete: fetched 2m ago, keep = no" },
	{ "old, as many received as announced: no mismatch", 0, 0, NOW - 120, 1,
	    100, 100, 0, POLICY_DELETE, "delete: fetched 2m ago, keep = no" },
};

static void
t_mismatch(const void *arg)
{
	const struct mcase *c = arg;
	struct policy_cfg cfg;
	struct policy_in in;
	struct policy_out out;
	uint64_t budget = NOLIMIT;
	char why[96];

	memset(&cfg, 0, sizeof(cfg));
	memset(&in, 0, sizeof(in));
	cfg.keep = c->keep;
	cfg.delete_after = c->delete_after;
	cfg.mismatch_delete = c->mismatch_delete;
	in.size = c->announced;
	in.fetched_at = c->fetched_at;
	in.has_uid = 1;
	in.announced = c->announced;
	in.received = c->received;
	policy_plan(&cfg, &in, 1, NOW, c->may_delete, &budget, &out);
	CHECK(out.action == c->want);
	policy_reason(&cfg, &in, &out, NOW, why, sizeof(why));
	CHECK_STR(why, c->reason);
	CHECK(policy_size_mismatch(c->announced, c->received)
	    == (c->received < c->announced));
}

/* A message an earlier run found growing past max_size (not
 * downloaded: fetched_at 0). */
struct gcase {
	const char *name;
	int keep;
	uint64_t max_size;
	uint64_t grew;
	int may_delete;
	uint64_t budget;
	enum policy_action want;
	const char *reason;
	uint64_t budget_after;
};

static const struct gcase gcases[] = {
	{ "grew past max_size, keep = no: skipped, not deleted", 0, MIB, MIB, 1,
	    NOLIMIT, POLICY_SKIP,
	    "skip: grew past max_size (received more than 1048576)", NOLIMIT },
	{ "grew past max_size, keep: skipped", 1, MIB, MIB, 1, 5, POLICY_SKIP,
	    "skip: grew past max_size (received more than 1048576)", 5 },
	{ "grew past a larger max_size than now: skipped", 0, 1000, MIB, 1,
	    NOLIMIT, POLICY_SKIP,
	    "skip: grew past max_size (received more than 1048576)", NOLIMIT },
	{ "grew, uidvalidity changed: skipped", 0, MIB, MIB, 0, NOLIMIT,
	    POLICY_SKIP,
	    "skip: grew past max_size (received more than 1048576)", NOLIMIT },
	{ "grew, max_size raised since: fetched again", 0, 2 * MIB, MIB, 1, 5,
	    POLICY_FETCH_DELETE, "new, keep = no", 4 },
	{ "grew, max_size removed since: fetched again", 1, 0, MIB, 1, NOLIMIT,
	    POLICY_FETCH, "new", NOLIMIT },
};

static void
t_grew(const void *arg)
{
	const struct gcase *c = arg;
	struct policy_cfg cfg;
	struct policy_in in;
	struct policy_out out;
	uint64_t budget = c->budget;
	char why[96];

	memset(&cfg, 0, sizeof(cfg));
	memset(&in, 0, sizeof(in));
	cfg.keep = c->keep;
	cfg.max_size = c->max_size;
	in.size = 100; /* the server announced less */
	in.has_uid = 1;
	in.grew = c->grew;
	memset(&out, 0xff, sizeof(out));
	policy_plan(&cfg, &in, 1, NOW, c->may_delete, &budget, &out);
	CHECK(out.action == c->want);
	policy_reason(&cfg, &in, &out, NOW, why, sizeof(why));
	CHECK_STR(why, c->reason);
	CHECK(budget == c->budget_after);
}

/* max_messages across two folders: the budget is carried. */
static void
t_budget_carried(const void *arg)
{
	struct policy_cfg cfg = { 1, 0, 0, 3, 0 };
	struct policy_in a[2]
	    = { { 10, 0, 1, 0, 0, 0 }, { 10, 0, 1, 0, 0, 0 } };
	struct policy_in b[3] = { { 10, NOW - 5, 1, 0, 0, 0 },
		{ 10, 0, 1, 0, 0, 0 }, { 10, 0, 1, 0, 0, 0 } };
	struct policy_out oa[2], ob[3];
	uint64_t budget = 3;
	char why[96];

	(void)arg;
	policy_plan(&cfg, a, 2, NOW, 1, &budget, oa);
	CHECK(budget == 1);
	CHECK(oa[0].action == POLICY_FETCH);
	CHECK(oa[1].action == POLICY_FETCH);
	policy_plan(&cfg, b, 3, NOW, 1, &budget, ob);
	CHECK(budget == 0);
	CHECK(ob[0].action == POLICY_KEEP);
	CHECK(ob[1].action == POLICY_FETCH);
	CHECK(ob[2].action == POLICY_SKIP);
	policy_reason(&cfg, &b[2], &ob[2], NOW, why, sizeof(why));
	CHECK_STR(why, "skip: over max_messages 3");
}

/* UINT64_MAX is unlimited and is never decremented. */
static void
t_budget_unlimited(const void *arg)
{
	struct policy_cfg cfg = { 0, 0, 0, 0, 0 };
	struct policy_in in[100];
	struct policy_out out[100];
	uint64_t budget = UINT64_MAX;
	size_t i;
	int ok = 1;

	(void)arg;
	memset(in, 0, sizeof(in));
	for (i = 0; i < 100; i++) {
		in[i].size = i;
		in[i].fetched_at = 0;
		in[i].has_uid = 1;
	}
	policy_plan(&cfg, in, 100, NOW, 1, &budget, out);
	CHECK(budget == UINT64_MAX);
	for (i = 0; i < 100; i++)
		if (out[i].action != POLICY_FETCH_DELETE)
			ok = 0;
	CHECK(ok);
}

/* Nothing with fetched_at == 0 is ever planned for deletion. */
static void
t_never_delete_undownloaded(const void *arg)
{
	struct policy_cfg cfg;
	struct policy_in in;
	struct policy_out out;
	uint64_t budget;
	int keep, md, uid, bud, ok = 1;

	(void)arg;
	memset(&in, 0, sizeof(in));
	for (keep = 0; keep < 2; keep++)
		for (md = 0; md < 2; md++)
			for (uid = 0; uid < 2; uid++)
				for (bud = 0; bud < 2; bud++) {
					cfg.keep = keep;
					cfg.delete_after = 1;
					cfg.max_size = 50;
					cfg.max_messages = 1;
					in.size = bud ? 10 : 100;
					in.fetched_at = 0;
					in.has_uid = uid;
					budget = (uint64_t)bud;
					policy_plan(&cfg, &in, 1, NOW, md,
					    &budget, &out);
					if (out.action == POLICY_DELETE
					    || out.action == POLICY_KEEP)
						ok = 0;
					if (!md
					    && out.action
						== POLICY_FETCH_DELETE)
						ok = 0;
				}
	CHECK(ok);
}

struct dcase {
	const char *name;
	int64_t secs;
	const char *want;
};

static const struct dcase dcases[] = {
	{ "duration 0", 0, "0s" },
	{ "duration 45s", 45, "45s" },
	{ "duration 59s", 59, "59s" },
	{ "duration 60s", 60, "1m" },
	{ "duration 12m", 12 * 60 + 59, "12m" },
	{ "duration 3599s", 3599, "59m" },
	{ "duration 3h", 3 * 3600, "3h" },
	{ "duration 23h59m", 86399, "23h" },
	{ "duration 1d", 86400, "1d" },
	{ "duration 30d", 30 * 86400 + 3600, "30d" },
	{ "duration negative", -5, "0s" },
};

static void
t_duration(const void *arg)
{
	const struct dcase *c = arg;
	char buf[32];

	policy_fmt_duration(c->secs, buf, sizeof(buf));
	CHECK_STR(buf, c->want);
}

static void
t_duration_short_buffer(const void *arg)
{
	char buf[3];

	(void)arg;
	policy_fmt_duration(1234, buf, sizeof(buf));
	CHECK_STR(buf, "20");
}

static void
t_action_names(const void *arg)
{
	(void)arg;
	CHECK_STR(policy_action_name(POLICY_FETCH), "fetch");
	CHECK_STR(policy_action_name(POLICY_FETCH_DELETE), "fetch+delete");
	CHECK_STR(policy_action_name(POLICY_DELETE), "delete");
	CHECK_STR(policy_action_name(POLICY_KEEP), "keep");
	CHECK_STR(policy_action_name(POLICY_SKIP), "skip");
}

/* policy_list_from: keep, delete_after, saved, uidnext, exists, nrec,
 * oldest, and the UID to list from. */
struct lcase {
	const char *name;
	int keep;
	int64_t delete_after;
	uint32_t saved, uidnext, exists;
	size_t nrec;
	int64_t oldest;
	uint32_t want;
};

static const struct lcase lcases[] = {
	{ "list: nothing saved", 1, 0, 0, 100, 99, 99, NOW - DAY, 1 },
	{ "list: server sent no UIDNEXT", 1, 0, 100, 0, 99, 99, NOW - DAY, 1 },
	{ "list: unchanged, all recorded: nothing", 1, 0, 100, 100, 99, 99,
	    NOW - DAY, 0 },
	{ "list: unchanged, empty folder: nothing", 1, 0, 100, 100, 0, 0, 0,
	    0 },
	{ "list: new mail: from the saved UIDNEXT", 1, 0, 100, 105, 104, 99,
	    NOW - DAY, 100 },
	{ "list: new mail and some deleted elsewhere: from saved", 1, 0, 100,
	    105, 100, 99, NOW - DAY, 100 },
	{ "list: keep = no: whole folder", 0, 0, 100, 100, 99, 99, NOW - DAY,
	    1 },
	{ "list: keep = no, empty: whole folder", 0, 0, 100, 100, 0, 0, 0, 1 },
	{ "list: a record due for delete_after: whole folder", 1, 30 * DAY, 100,
	    100, 99, 99, NOW - 30 * DAY, 1 },
	{ "list: no record due yet: nothing", 1, 30 * DAY, 100, 100, 99, 99,
	    NOW - 30 * DAY + 1, 0 },
	{ "list: delete_after, new mail, none due: from saved", 1, 30 * DAY,
	    100, 101, 100, 99, NOW - DAY, 100 },
	{ "list: delete_after, clock moved back: nothing", 1, 60, 100, 100, 99,
	    99, NOW + DAY, 0 },
	{ "list: messages gone elsewhere: whole folder (prune)", 1, 0, 100, 100,
	    97, 99, NOW - DAY, 1 },
	{ "list: more messages than records below UIDNEXT: whole folder", 1, 0,
	    100, 100, 100, 99, NOW - DAY, 1 },
	{ "list: saved above UIDNEXT (server reset): whole folder", 1, 0, 200,
	    100, 99, 99, NOW - DAY, 1 },
};

static void
t_list_from(const void *arg)
{
	const struct lcase *c = arg;
	struct policy_cfg cfg = { c->keep, c->delete_after, 0, 0, 0 };

	CHECK(policy_list_from(&cfg, c->saved, c->uidnext, c->exists, c->nrec,
		  c->oldest, NOW)
	    == c->want);
}

/* policy_unchanged: the pre-check's decision, one condition a row. */
struct ucase {
	const char *name;
	int keep;
	int64_t delete_after;
	struct policy_peek p;
	int want;
};

/* The server as the state left it: UIDVALIDITY 7, UIDNEXT 10, 4
 * messages, HIGHESTMODSEQ 50; 4 records, the oldest a day old. */
#define SAME 7, 10, 4, 50, 7, 10, 4, NOW - DAY
#define MIRROR_SAME SAME, 1, 50, 4, 0

static const struct ucase ucases[] = {
	{ "unchanged: keep, nothing new", 1, 0, { SAME, 0, 0, 0, 0 }, 1 },
	{ "unchanged: never synced", 1, 0,
	    { 7, 10, 4, 50, 0, 0, 0, 0, 0, 0, 0, 0 }, 0 },
	{ "unchanged: UIDVALIDITY changed", 1, 0,
	    { 8, 10, 4, 50, 7, 10, 4, NOW - DAY, 0, 0, 0, 0 }, 0 },
	{ "unchanged: new mail (UIDNEXT moved)", 1, 0,
	    { 7, 11, 5, 50, 7, 10, 4, NOW - DAY, 0, 0, 0, 0 }, 0 },
	{ "unchanged: no UIDNEXT saved", 1, 0,
	    { 7, 10, 4, 50, 7, 0, 4, NOW - DAY, 0, 0, 0, 0 }, 0 },
	{ "unchanged: expunged (fewer messages than records)", 1, 0,
	    { 7, 10, 3, 50, 7, 10, 4, NOW - DAY, 0, 0, 0, 0 }, 0 },
	{ "unchanged: delete_after, none due", 1, 2 * DAY, { SAME, 0, 0, 0, 0 },
	    1 },
	{ "unchanged: delete_after, the oldest due", 1, DAY,
	    { SAME, 0, 0, 0, 0 }, 0 },
	{ "unchanged: keep = no, messages to fetch and delete", 0, 0,
	    { SAME, 0, 0, 0, 0 }, 0 },
	{ "unchanged: keep = no, empty, records gone", 0, 0,
	    { 7, 10, 0, 0, 7, 10, 0, 0, 0, 0, 0, 0 }, 1 },
	{ "unchanged: keep = no, empty, records not yet noted gone", 0, 0,
	    { 7, 10, 0, 0, 7, 10, 2, NOW - DAY, 0, 0, 0, 0 }, 0 },
	{ "unchanged: mirror, nothing changed", 1, 0, { MIRROR_SAME }, 1 },
	{ "unchanged: mirror, flags changed (HIGHESTMODSEQ moved)", 1, 0,
	    { 7, 10, 4, 51, 7, 10, 4, NOW - DAY, 1, 50, 4, 0 }, 0 },
	{ "unchanged: mirror without CONDSTORE", 1, 0,
	    { 7, 10, 4, 0, 7, 10, 4, NOW - DAY, 1, 0, 4, 0 }, 0 },
	{ "unchanged: mirror, no modseq in the state", 1, 0,
	    { 7, 10, 4, 50, 7, 10, 4, NOW - DAY, 1, 0, 4, 0 }, 0 },
	/* A server whose HIGHESTMODSEQ stays at an expunge: the count. */
	{ "unchanged: mirror, expunged, modseq unmoved", 1, 0,
	    { 7, 10, 4, 50, 7, 10, 4, NOW - DAY, 1, 50, 5, 0 }, 0 },
	{ "unchanged: mirror, a guard or a local change pending", 1, 0,
	    { 7, 10, 4, 50, 7, 10, 4, NOW - DAY, 1, 50, 4, 1 }, 0 },
};

static void
t_unchanged(const void *arg)
{
	const struct ucase *c = arg;
	struct policy_cfg cfg = { c->keep, c->delete_after, 0, 0, 0 };

	CHECK(policy_unchanged(&cfg, &c->p, NOW) == c->want);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		T_RUN(cases[i].name, t_case, &cases[i]);
	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++)
		T_RUN(mcases[i].name, t_mismatch, &mcases[i]);
	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++)
		T_RUN(dcases[i].name, t_duration, &dcases[i]);
	for (i = 0; i < sizeof(gcases) / sizeof(gcases[0]); i++)
		T_RUN(gcases[i].name, t_grew, &gcases[i]);
	for (i = 0; i < sizeof(ucases) / sizeof(ucases[0]); i++)
		T_RUN(ucases[i].name, t_unchanged, &ucases[i]);
	T_RUN("budget carried across two folders", t_budget_carried, NULL);
	T_RUN("UINT64_MAX budget is unlimited", t_budget_unlimited, NULL);
	T_RUN("never delete what was not downloaded",
	    t_never_delete_undownloaded, NULL);
	T_RUN("duration into a short buffer", t_duration_short_buffer, NULL);
	T_RUN("action names", t_action_names, NULL);
	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++)
		T_RUN(lcases[i].name, t_list_from, &lcases[i]);
	return T_DONE();
}
