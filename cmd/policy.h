/*
 * The fetch policy: a pure function of the server listing, what the
 * state says about each message, the config and the clock. It decides,
 * per message, whether to download it, keep it on the server or delete
 * it there, and says why in words for a person. No I/O.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <stdint.h>

enum policy_action {
	POLICY_FETCH, /* download, leave on the server */
	POLICY_FETCH_DELETE, /* download, then delete once durable */
	POLICY_DELETE, /* downloaded earlier, now delete */
	POLICY_KEEP, /* downloaded earlier, stays */
	POLICY_SKIP /* not downloaded: too big, over max_messages */
};

struct policy_cfg {
	int keep; /* leave a copy on the server */
	int64_t delete_after; /* seconds; 0 never (with keep) */
	uint64_t max_size; /* bytes; 0 no limit */
	uint64_t max_messages; /* per run, all folders; 0 no limit */
	int mismatch_delete; /* size_mismatch = delete */
};

/* What the policy knows of one message. */
struct policy_in {
	uint64_t size; /* as the server reports it */
	int64_t fetched_at; /* first downloaded (Unix time); 0: never */
	int has_uid; /* the message can be recorded (POP3 UIDL) */
	/* A recorded message that arrived shorter than the server had
	 * announced (SPEC "Sizes"): both sizes, announced > received;
	 * both 0 when it arrived whole. */
	uint64_t announced, received;
	/* Not downloaded: an earlier run found its body growing past
	 * max_size, this many bytes (SPEC "Sizes"); 0: never. */
	uint64_t grew;
};

/* Why, for policy_reason. */
enum policy_why {
	WHY_NEW,
	WHY_NEW_KEEP_NO,
	WHY_NEW_UIDVALIDITY,
	WHY_TOO_BIG,
	WHY_GREW,
	WHY_NO_UID,
	WHY_BUDGET,
	WHY_OLD_KEEP,
	WHY_OLD_KEEP_NO,
	WHY_OLD_DELETE_AFTER,
	WHY_OLD_UIDVALIDITY,
	WHY_OLD_SIZE_MISMATCH
};

/* Two bytes a message: a listing of many keeps its plan small. */
struct policy_out {
	unsigned char action; /* enum policy_action */
	unsigned char why; /* enum policy_why */
};

/* 1 when a message of announced size arrived with only received bytes
 * (both counted as the server counts, CRLF line ends): fewer than
 * announced. */
int policy_size_mismatch(uint64_t announced, uint64_t received);

/*
 * Decide for in[0..n-1] (server order: oldest first) into out[0..n-1].
 * now is the current Unix time. *budget is how many more messages this
 * run may download (max_messages across folders; UINT64_MAX when
 * unlimited): each fetch decision takes one, and the caller carries it
 * to the next folder. may_delete = 0 forbids every deletion in this
 * folder (its UIDVALIDITY changed: old records are void this run).
 */
void policy_plan(const struct policy_cfg *cfg, const struct policy_in *in,
    size_t n, int64_t now, int may_delete, uint64_t *budget,
    struct policy_out *out);

/*
 * IMAP: the UID to list a folder from. saved is the UIDNEXT below which
 * an earlier run recorded every message of the folder (0: unknown);
 * uidnext and exists are what SELECT says now (uidnext 0: not sent);
 * nrec and oldest are the folder's live records that the last complete
 * listing showed (state_folder_count: those noted missing are left out)
 * and the earliest download time among them. A message below saved can only be due for
 * deletion, so when none can be (keep, and no record old enough for
 * delete_after), listing from saved finds everything to do: returns
 * saved, or 0 when there is nothing at all to list (UIDNEXT has not
 * moved and the folder holds just the recorded messages). Otherwise 1:
 * the whole folder, which also shows which messages left the server
 * (their records are noted missing) and which came back.
 */
uint32_t policy_list_from(const struct policy_cfg *cfg, uint32_t saved,
    uint32_t uidnext, uint32_t exists, size_t nrec, int64_t oldest,
    int64_t now);

/*
 * The pre-check of a folder (ops->peek): what the server says of it
 * now, without opening it, and what the state says of the last run.
 */
struct policy_peek {
	/* The server now (STATUS): */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint64_t highestmodseq; /* 0: none (no CONDSTORE) */
	/* The state: */
	uint32_t known_uidvalidity; /* 0: never synced */
	uint32_t saved; /* as for policy_list_from (state_uidnext) */
	size_t nrec; /* live records, and the oldest's download time */
	int64_t oldest;
	/* A mirror's (SPEC "Mirror"): */
	int mirror;
	uint64_t modseq; /* the HIGHESTMODSEQ the state reached, 0 none */
	size_t nall; /* every record of the folder */
	int pending; /* old copies a guard kept, or copies changed here */
};

/*
 * 1 when opening the folder would find nothing to do, so that it can be
 * left unopened: the same UIDVALIDITY and UIDNEXT as the state's, and
 * - keep: policy_list_from says there is nothing to list (as many
 *   messages as live records, none due for delete_after);
 * - keep = no: an empty folder whose records are all noted gone;
 * - a mirror, besides: HIGHESTMODSEQ as the state's (never without
 *   one: a flag may have changed unseen), as many messages as records
 *   (every message below UIDNEXT was recorded and the mirror forgets
 *   what it removes, so fewer is an expunge), and nothing pending.
 * Otherwise 0: when in doubt, the folder is opened.
 */
int policy_unchanged(
    const struct policy_cfg *cfg, const struct policy_peek *p, int64_t now);

/* The decision out, made for in with cfg at time now, in words for a
 * person ("keep: fetched 3d ago", "skip: 12.0M > max_size 10.0M",
 * "skip: grew past max_size (received more than 1048576)",
 * "keep: size mismatch (announced 5017, received 20)"). */
void policy_reason(const struct policy_cfg *cfg, const struct policy_in *in,
    const struct policy_out *out, int64_t now, char *buf, size_t len);

/* The action's word in the dry-run plan: "fetch", "fetch+delete",
 * "delete", "keep", "skip". */
const char *policy_action_name(enum policy_action);

/* Format a duration for a person: "45s", "12m", "3h", "30d". */
void policy_fmt_duration(int64_t secs, char *buf, size_t len);

#endif
