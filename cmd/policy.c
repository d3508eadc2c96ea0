/*
 * The fetch policy: per message, fetch, keep, delete or skip, and why.
 * Pure: no I/O, no clock of its own. See policy.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

const char *
policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_FETCH:
		return "fetch";
	case POLICY_FETCH_DELETE:
		return "fetch+delete";
	case POLICY_DELETE:
		return "delete";
	case POLICY_KEEP:
		return "keep";
	case POLICY_SKIP:
		return "skip";
	}
	return "?";
}

void
policy_fmt_duration(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(buf, len, "%" PRId64 "d", secs / 86400);
	else if (secs >= 3600)
		snprintf(buf, len, "%" PRId64 "h", secs / 3600);
	else if (secs >= 60)
		snprintf(buf, len, "%" PRId64 "m", secs / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", secs);
}

/*
 * A size for a person, in the units the config file takes: "512B",
 * "12.0k", "10.0M", "1.5G" (powers of 1024, one decimal).
 */
static void
fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "kMG";
	double v;
	int u;

	if (n < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", n);
		return;
	}
	v = (double)n / 1024;
	u = 0;
	/* Move up a unit when the value would print as 1024.0. */
	while (v >= 1023.95 && u < 2) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
}

/* How long ago the message was first downloaded; a clock moved back
 * makes a future fetched_at: age 0. */
static int64_t
age(const struct policy_in *in, int64_t now)
{
	return now > in->fetched_at ? now - in->fetched_at : 0;
}

static void
plan_new(const struct policy_cfg *cfg, const struct policy_in *in,
    int may_delete, uint64_t *budget, struct policy_out *out)
{
	if (cfg->max_size != 0 && in->size > cfg->max_size) {
		out->action = POLICY_SKIP;
		out->why = WHY_TOO_BIG;
		return;
	}
	/* It grew past max_size when last tried: abandoned then, skipped
	 * now, until max_size is raised above what it grew past. */
	if (in->grew != 0 && cfg->max_size != 0 && cfg->max_size <= in->grew) {
		out->action = POLICY_SKIP;
		out->why = WHY_GREW;
		return;
	}
	/*
	 * A message that stays on the server must be recorded, or the next
	 * run would download it again; without a UID it cannot be. The
	 * caller refuses such an account before planning; this is the
	 * second line of defence.
	 */
	if (!in->has_uid && (cfg->keep || !may_delete)) {
		out->action = POLICY_SKIP;
		out->why = WHY_NO_UID;
		return;
	}
	if (*budget == 0) {
		out->action = POLICY_SKIP;
		out->why = WHY_BUDGET;
		return;
	}
	if (*budget != UINT64_MAX)
		(*budget)--;
	if (!may_delete) {
		out->action = POLICY_FETCH;
		out->why = WHY_NEW_UIDVALIDITY;
	} else if (cfg->keep) {
		out->action = POLICY_FETCH;
		out->why = WHY_NEW;
	} else {
		out->action = POLICY_FETCH_DELETE;
		out->why = WHY_NEW_KEEP_NO;
	}
}

int
policy_size_mismatch(uint64_t announced, uint64_t received)
{
	return received < announced;
}

static void
plan_old(const struct policy_cfg *cfg, const struct policy_in *in, int64_t now,
    int may_delete, struct policy_out *out)
{
	if (!may_delete) {
		out->action = POLICY_KEEP;
		out->why = WHY_OLD_UIDVALIDITY;
	} else if (policy_size_mismatch(in->announced, in->received)
	    && !cfg->mismatch_delete) {
		/* What is on disk may be a truncated copy: the server's
		 * stays, whatever keep or delete_after say. */
		out->action = POLICY_KEEP;
		out->why = WHY_OLD_SIZE_MISMATCH;
	} else if (!cfg->keep) {
		/* Stored by an earlier run whose deletion did not complete. */
		out->action = POLICY_DELETE;
		out->why = WHY_OLD_KEEP_NO;
	} else if (cfg->delete_after > 0) {
		out->action = age(in, now) >= cfg->delete_after ? POLICY_DELETE
								: POLICY_KEEP;
		out->why = WHY_OLD_DELETE_AFTER;
	} else {
		out->action = POLICY_KEEP;
		out->why = WHY_OLD_KEEP;
	}
}

void
policy_reason(const struct policy_cfg *cfg, const struct policy_in *in,
    const struct policy_out *out, int64_t now, char *buf, size_t len)
{
	char a[32], b[32];

	switch (out->why) {
	case WHY_TOO_BIG:
		fmt_size(in->size, a, sizeof(a));
		fmt_size(cfg->max_size, b, sizeof(b));
		snprintf(buf, len, "skip: %s > max_size %s", a, b);
		break;
	case WHY_GREW:
		snprintf(buf, len,
		    "skip: grew past max_size (received more than %" PRIu64 ")",
		    in->grew);
		break;
	case WHY_NO_UID:
		snprintf(buf, len, "skip: no UIDL, cannot record it");
		break;
	case WHY_BUDGET:
		snprintf(buf, len, "skip: over max_messages %" PRIu64,
		    cfg->max_messages);
		break;
	case WHY_NEW_UIDVALIDITY:
		snprintf(buf, len, "new; no deletion: UIDVALIDITY changed");
		break;
	case WHY_NEW:
		snprintf(buf, len, "new");
		break;
	case WHY_NEW_KEEP_NO:
		snprintf(buf, len, "new, keep = no");
		break;
	case WHY_OLD_UIDVALIDITY:
		snprintf(buf, len,
		    "keep: UIDVALIDITY changed, nothing deleted this run");
		break;
	case WHY_OLD_KEEP_NO:
		policy_fmt_duration(age(in, now), a, sizeof(a));
		snprintf(buf, len, "delete: fetched %s ago, keep = no", a);
		break;
	case WHY_OLD_DELETE_AFTER:
		policy_fmt_duration(age(in, now), a, sizeof(a));
		policy_fmt_duration(cfg->delete_after, b, sizeof(b));
		snprintf(buf, len, "%s: fetched %s ago, delete_after %s",
		    policy_action_name(out->action), a, b);
		break;
	case WHY_OLD_KEEP:
		policy_fmt_duration(age(in, now), a, sizeof(a));
		snprintf(buf, len, "keep: fetched %s ago", a);
		break;
	case WHY_OLD_SIZE_MISMATCH:
		snprintf(buf, len,
		    "keep: size mismatch (announced %" PRIu64
		    ", received %" PRIu64 ")",
		    in->announced, in->received);
		break;
	default:
		snprintf(buf, len, "?");
		break;
	}
}

uint32_t
policy_list_from(const struct policy_cfg *cfg, uint32_t saved, uint32_t uidnext,
    uint32_t exists, size_t nrec, int64_t oldest, int64_t now)
{
	if (saved == 0 || uidnext == 0 || saved > uidnext || !cfg->keep)
		return 1;
	/* As plan_old: due when its age reaches delete_after. */
	if (cfg->delete_after > 0 && nrec > 0 && now > oldest
	    && now - oldest >= cfg->delete_after)
		return 1;
	/* More records than messages: some left the server; fewer, with
	 * UIDNEXT unchanged, cannot be (every message below it was
	 * recorded), so look. */
	if (nrec > exists || (saved == uidnext && nrec != exists))
		return 1;
	return saved == uidnext ? 0 : saved;
}

int
policy_unchanged(
    const struct policy_cfg *cfg, const struct policy_peek *p, int64_t now)
{
	if (p->known_uidvalidity == 0 || p->uidvalidity != p->known_uidvalidity
	    || p->saved == 0 || p->uidnext != p->saved)
		return 0;
	if (!cfg->keep)
		return p->messages == 0 && p->nrec == 0;
	if (policy_list_from(
		cfg, p->saved, p->uidnext, p->messages, p->nrec, p->oldest, now)
	    != 0)
		return 0;
	if (!p->mirror)
		return 1;
	return p->highestmodseq != 0 && p->highestmodseq == p->modseq
	    && p->nall == p->messages && !p->pending;
}

void
policy_plan(const struct policy_cfg *cfg, const struct policy_in *in, size_t n,
    int64_t now, int may_delete, uint64_t *budget, struct policy_out *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		/* Never delete what was not downloaded: only a recorded
		 * message (fetched_at != 0) can be planned for deletion. */
		if (in[i].fetched_at == 0)
			plan_new(cfg, &in[i], may_delete, budget, &out[i]);
		else
			plan_old(cfg, &in[i], now, may_delete, &out[i]);
	}
}
