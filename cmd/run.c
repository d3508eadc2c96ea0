/*
 * The run of one account, folder by folder, in three steps a folder at
 * a time:
 *
 *   plan: select, list (from the first UID not yet recorded whole where
 *         the protocol can), look each message up in the state, and let
 *         the policy decide (plan_folder);
 *   apply: mark for deletion what earlier runs stored, fetch what is
 *         new in batches, each made durable by deliver.c before any of
 *         it is marked, then expunge (apply_folder);
 *   tally: settle the records and count what was fetched, deleted and
 *         left (settle_records, tally_folder).
 *
 * What differs between protocols the source says as capabilities
 * (SRC_CAP_*): POP3 deletions take effect at QUIT, IMAP ones at (UID)
 * EXPUNGE at the end of each folder. A failure anywhere stops the
 * fetching; whatever was made durable before stays recorded, and the
 * session is dropped without QUIT, so a POP3 server deletes nothing
 * from it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../proto/imap.h"
#include "../tls/util.h"
#include "deliver.h"
#include "folders.h"
#include "hook.h"
#include "maildir.h"
#include "mailboxes.h"
#include "mirror.h"
#include "numset.h"
#include "policy.h"
#include "run.h"
#include "state.h"
#include "sync.h"

/* A batch ends at this many messages or bytes (as the server reports
 * sizes), whichever comes first: large enough to keep the pipe full,
 * small enough that a failure loses little work. */
#define BATCH_MSGS 256
#define BATCH_BYTES (64ULL * 1024 * 1024)

#define POP3_FOLDER "-"

/*
 * A listing of more messages than this is taken in windows (issue 16:
 * memory flat in mailbox size): the first pass streams it, looks each
 * window up in the state and keeps only the numbers of the messages
 * something may be done with (as ranges: cmd/numset.h); the second lists those
 * again a window at a time (ops->relist), plans, fetches and records
 * them. A shorter listing is held whole, as always, and costs no
 * second listing. MAILFETCH_LIST_WINDOW lowers it, for tests.
 */
#define LIST_WINDOW 4096

/* Files in tmp/ older than this were left by an interrupted delivery
 * (the Maildir convention's 36 hours). */
#define TMP_MAXAGE (36 * 3600)

struct run {
	struct acct ac;
	const struct cfg_account *a;
	const struct runopts *o;
	struct state *st;
	int64_t now;
	uint64_t budget;
	int status; /* the first failure's exit status */
	int listed; /* a folder was listed: the summary means something */
	int stopped; /* a stop was asked for and the run ended early */
	uint64_t fetched, deleted, left, flagged;
	uint64_t updated, removed; /* the mirror's (a dry run: planned) */
	char flagged_why[512];
	uint64_t quit_marked; /* deletions that take effect at QUIT */
	uint64_t plan[POLICY_SKIP + 1]; /* a dry run's actions, counted */

	/* The folders to work on (mailboxes.c). */
	struct mbx_list folders;
	/* The personal namespace (NAMESPACE), asked for once, when a folder
	 * other than INBOX needs a Maildir++ name. */
	struct src_namespace ns;
	int ns_asked;
	/* When the state was last written, at the start (0: never; see
	 * state_written): a mirrored folder whose new/ or cur/ changed
	 * later is scanned for local flag changes; scanned: one was, so
	 * the state file is touched after the save. */
	struct timespec state_mt;
	int scanned;
	int nosave; /* mirror_fail: do not save the state */

	/* The folder being worked on. */
	const char *folder; /* as in the config */
	char *key; /* its name in the state: as the server knows it */
	uint32_t uidv;
	struct maildir *md;
	char *sub; /* its Maildir++ subfolder, "" for the Maildir itself */

	/* The progress line (a terminal only): what this folder's fetch
	 * has done of what it set out to do. */
	uint64_t p_msgs, p_total, p_bytes, p_totalbytes;
	int64_t p_start, p_last;

	/* The batch being fetched: the sink's state. */
	struct deliver_msg *batch; /* [i].m: finished, not yet delivered */
	struct maildir_msg *cur;
	int local_errno;
	size_t cur_i;
	int oversize; /* the one arriving grew past max_size: abandoned */
};

/* One folder's work: its plan, and what applying it did. */
struct folder_run {
	struct run *r;
	struct folder_info fi;
	struct policy_cfg pc;
	struct msglist l; /* the listing, or the window of it in hand */
	struct policy_in *in;
	struct policy_out *out;
	uint32_t from; /* listed from this UID (1: all); 0: not listed */
	int may_delete;
	/* The plan's messages by action, and those marked for deletion. */
	struct msginfo **fetch, **dele, **marked;
	char *fdel; /* fdel[i]: delete fetch[i] once stored */
	size_t nfetch, ndele, nmarked, nskip, gone;
	/* A listing taken in windows (LIST_WINDOW): the nums of the
	 * messages to list again (todo), and what the whole listing held:
	 * nlisted messages, nlater of them from UIDNEXT on (see
	 * tally_folder). gone_all: gone over all windows. refused: the
	 * listing was refused and said so (no_uidl, uid_twice).
	 * Where a uid may name two messages (no SRC_CAP_UID_IS_NUM), what
	 * a whole listing's check sees at once is checked across windows:
	 * the first pass notes a record already marked by an earlier
	 * window (dup: 1 + its index), and keeps the new messages (fresh),
	 * which the second must still find unrecorded. */
	int windowed;
	struct numset todo, fresh;
	size_t nlisted, nlater, gone_all;
	int refused;
	int checkdup;
	size_t dup;
	/* For the progress line: messages planned and bytes to fetch in
	 * the windows so far. */
	uint64_t p_msgs, p_bytes;
};

static void
fail(struct run *r, int status)
{
	if (r->status == 0)
		r->status = status;
}

/*
 * A mirror pass failed. Its renames and removals may not be durable
 * (maildir_sync failed) while the records it changed are in memory:
 * the state is then not saved at the end of the run, so that only what
 * state_sync made durable counts and the next run repeats the pass.
 */
static void
mirror_fail(struct run *r, const struct msync *ms)
{
	fail(r, ms->status);
	r->nosave = 1;
}

static void
human(uint64_t n, char *buf, size_t len)
{
	if (n >= 10 * 1024 * 1024)
		snprintf(buf, len, "%" PRIu64 " MB", n >> 20);
	else if (n >= 10 * 1024)
		snprintf(buf, len, "%" PRIu64 " kB", n >> 10);
	else
		snprintf(buf, len, "%" PRIu64 " B", n);
}

/* Redraw the progress line in place, at most ten times a second. */
static void
progress(struct run *r, int force)
{
	char done[32], rate[32], eta[32] = "?";
	int64_t now = mono_ms(), ms;
	uint64_t bps;

	if (!r->o->progress || (!force && now - r->p_last < 100))
		return;
	r->p_last = now;
	ms = now - r->p_start > 0 ? now - r->p_start : 1;
	bps = r->p_bytes * 1000 / (uint64_t)ms;
	human(r->p_bytes, done, sizeof(done));
	human(bps, rate, sizeof(rate));
	if (bps > 0 && r->p_totalbytes > r->p_bytes)
		policy_fmt_duration(
		    (int64_t)((r->p_totalbytes - r->p_bytes) / bps), eta,
		    sizeof(eta));
	else if (r->p_totalbytes <= r->p_bytes)
		snprintf(eta, sizeof(eta), "0s");
	fflush(stdout);
	fprintf(stderr,
	    "\r\033[K%s: %s %" PRIu64 "/%" PRIu64 " messages, %s, %s/s, "
	    "ETA %s",
	    r->a->name, r->folder, r->p_msgs, r->p_total, done, rate, eta);
	fflush(stderr);
}

static void
progress_clear(struct run *r)
{
	if (r->o->progress) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* The protocol's capabilities (SRC_CAP_*). */
static unsigned
caps(const struct run *r)
{
	return r->ac.src->ops->caps;
}

/* One line of -v about one message: "NAME: [FOLDER ]UID: what". */
static void
say_msg(const struct run *r, const struct msginfo *m, const char *what)
{
	const char *uid = m->uid ? m->uid : "-";

	if (!(caps(r) & SRC_CAP_FOLDERS))
		printf("%s: %s: %s\n", r->a->name, uid, what);
	else
		printf("%s: %s %s: %s\n", r->a->name, r->folder, uid, what);
}

/* A stop was asked for (--daemon, SIGTERM): note it and say so. */
static int
stopping(struct run *r)
{
	if (r->o->stop != NULL && *r->o->stop)
		r->stopped = 1;
	return r->stopped;
}

static int
sink_begin(void *arg, size_t i)
{
	struct run *r = arg;

	r->cur_i = i;
	/* The messages before this one are whole and get recorded; this
	 * one is not begun. The session cannot go on after the refusal. */
	if (stopping(r)) {
		r->local_errno = 0;
		return -1;
	}
	maildir_abort(r->cur);
	if ((r->cur = maildir_begin(r->md)) == NULL) {
		r->local_errno = maildir_errno(r->md);
		return -1;
	}
	return 0;
}

static int
sink_write(void *arg, const char *buf, size_t len)
{
	struct run *r = arg;
	uint64_t max = r->a->max_size;

	/* max_size holds for what arrives, whatever the size the server
	 * announced (SPEC "Sizes"); a line end the protocol adds to a
	 * message without one is no growth. */
	if (max != 0
	    && r->ac.src->received
		> max + (caps(r) & SRC_CAP_ADDS_EOL ? 2 : 0)) {
		r->oversize = 1;
		return -1;
	}
	if (maildir_write(r->cur, buf, len) == -1) {
		r->local_errno = maildir_errno(r->md);
		return -1;
	}
	r->p_bytes += len;
	progress(r, 0);
	return 0;
}

static int
sink_end(void *arg, size_t i)
{
	struct run *r = arg;

	if (maildir_finish(r->cur) == -1) {
		r->local_errno = maildir_errno(r->md);
		maildir_abort(r->cur);
		r->cur = NULL;
		return -1;
	}
	maildir_abort(r->batch[i].m);
	r->batch[i].m = r->cur;
	r->cur = NULL;
	r->batch[i].received = r->ac.src->received;
	r->p_msgs++;
	progress(r, r->p_msgs == 1);
	return 0;
}

static void
state_fail(struct run *r)
{
	acct_err(&r->ac, "%s", state_error(r->st));
	switch (state_errkind(r->st)) {
	case STATE_ECORRUPT:
		fail(r, EX_DATAERR);
		break;
	case STATE_ELOCKED:
		fail(r, EX_TEMPFAIL);
		break;
	default:
		fail(r, acct_oserr(state_errno(r->st)));
		break;
	}
}

static void
maildir_fail(struct run *r)
{
	acct_err(&r->ac,
	    "%s; check that the Maildir is writable and the "
	    "disk is not full",
	    maildir_error(r->md));
	fail(r, acct_oserr(maildir_errno(r->md)));
}

/* A message arrived with fewer bytes than the server announced: say
 * so, and that it stays on the server unless size_mismatch = delete or
 * it has no UID (see short_deletable). */
static void
warn_short(struct run *r, const struct msginfo *m, uint64_t got)
{
	char where[300] = "";

	if (caps(r) & SRC_CAP_FOLDERS)
		snprintf(where, sizeof(where), " in %s", r->folder);
	acct_err(&r->ac,
	    "%s%s: size mismatch: the server announced %" PRIu64
	    " bytes and sent %" PRIu64 "; %s",
	    m->uid ? m->uid : "-", where, m->size, got,
	    r->a->size_mismatch_delete ? "delivered (size_mismatch = delete)"
		: m->uid == NULL
		? "delivered, and deleted from the server: without UIDL it "
		  "cannot be recorded, so it cannot be kept without being "
		  "downloaded again by every run"
		: "delivered, and kept on the server (set size_mismatch = "
		  "delete for a server known to report sizes loosely)");
}

/*
 * Whether a message stored with got bytes may be deleted as planned.
 * One that arrived short stays on the server (SPEC "Sizes"), unless
 * size_mismatch = delete, or it has no UID (POP3 without UIDL): then
 * it cannot be recorded, and kept it would be delivered again by each
 * run (SPEC "No duplicates" wins).
 */
static int
short_deletable(const struct run *r, const struct msginfo *m, uint64_t got)
{
	return !policy_size_mismatch(m->size, got) || r->a->size_mismatch_delete
	    || m->uid == NULL;
}

/* A body grew past max_size: abandoned, and the session with it. */
static void
warn_oversize(struct run *r, const struct msginfo *m)
{
	char where[300] = "";

	if (caps(r) & SRC_CAP_FOLDERS)
		snprintf(where, sizeof(where), " in %s", r->folder);
	acct_err(&r->ac,
	    "%s%s: the server announced %" PRIu64 " bytes but sent more "
	    "than max_size (%" PRIu64 "); the message was abandoned, "
	    "nothing of it stored, and it stays on the server; the "
	    "session was ended%s",
	    m->uid ? m->uid : "-", where, m->size, r->a->max_size,
	    m->uid ? "; later runs skip it (raise max_size to fetch it)"
		   : "; without UIDL it cannot be recorded, so the next "
		     "run tries it again");
}

/*
 * Remember a message whose body grew past max_size, so that later runs
 * skip it rather than end on it again (SPEC "Sizes"). Without a UID it
 * cannot be. Returns 0, or -1 after reporting a state failure.
 */
static int
record_oversize(struct run *r, const struct msginfo *m)
{
	if (m->uid == NULL)
		return 0;
	if (state_add_grew(
		r->st, r->key, r->uidv, m->uid, r->now, r->a->max_size)
		== -1
	    || state_sync(r->st) == -1) {
		state_fail(r);
		return -1;
	}
	return 0;
}

/* Report what a batch's delivery did: failures, then each message
 * stored. */
static void
report_batch(struct run *r, struct msginfo *const *b, size_t n, unsigned err)
{
	char what[64];
	size_t i;

	if (err & DELIVER_EMAILDIR)
		maildir_fail(r);
	if (err & DELIVER_ESTATE)
		state_fail(r);
	for (i = 0; i < n; i++) {
		if (!r->batch[i].ok)
			continue;
		if (policy_size_mismatch(b[i]->size, r->batch[i].received))
			warn_short(r, b[i], r->batch[i].received);
		r->fetched++;
		if (r->o->verbose) {
			snprintf(what, sizeof(what),
			    "fetched, %" PRIu64 " bytes", b[i]->size);
			say_msg(r, b[i], what);
		}
	}
}

/*
 * Make the finished messages of the batch b durable (deliver.c), and
 * set r->batch[i].ok for each that is now safely stored and recorded.
 * Returns 0, or -1 after reporting a local failure (what was made
 * durable before the failure is still ok).
 */
static int
persist(struct run *r, struct msginfo *const *b, size_t n)
{
	struct deliver_to to
	    = { r->st, r->md, r->sub, r->key, r->uidv, r->now, r->a->mirror };
	/* A mirror's copy has the server's flags, \Deleted (T) too; a
	 * fetched copy has them but \Deleted. */
	unsigned mask = r->a->mirror ? ~0u : ~(unsigned)MSG_DELETED;
	unsigned err;
	size_t i;

	for (i = 0; i < n; i++) {
		r->batch[i].uid = b[i]->uid;
		mirror_letters(b[i]->flags & mask, r->batch[i].flags);
		r->batch[i].mtime = b[i]->date;
		r->batch[i].announced = b[i]->size;
	}
	err = deliver_batch(&to, r->batch, n);
	report_batch(r, b, n, err);
	return err != 0 ? -1 : 0;
}

/* The end of the batch that starts at msgs[start]: BATCH_MSGS
 * messages or BATCH_BYTES bytes, whichever comes first. */
static size_t
batch_end(struct msginfo *const *msgs, size_t start, size_t n)
{
	uint64_t bytes = 0;
	size_t end;

	for (end = start; end < n && end - start < BATCH_MSGS
	     && (end == start || bytes < BATCH_BYTES);
	     end++)
		bytes += msgs[end]->size;
	return end;
}

/* A fetch failed: say why, unless a stop was asked for. */
static void
fetch_failed(struct run *r, struct msginfo *const *b)
{
	struct source *src = r->ac.src;

	if (src->fail == SRC_FLOCAL && r->stopped)
		return;
	if (src->fail == SRC_FLOCAL && r->oversize) {
		/* The session stopped in the middle of a reply: it ends
		 * here, and nothing more is deleted (no QUIT, no EXPUNGE). */
		warn_oversize(r, b[r->cur_i]);
		fail(r, EX_PROTOCOL);
		record_oversize(r, b[r->cur_i]);
	} else if (src->fail == SRC_FLOCAL) {
		acct_err(&r->ac,
		    "%s; check that the Maildir is writable and the disk is "
		    "not full",
		    maildir_error(r->md));
		fail(r, acct_oserr(r->local_errno));
	} else
		fail(r, acct_srcerr(&r->ac));
}

/* Fetch the batch b[0..n-1] and make what arrived whole durable, even
 * after a failure. last: the folder's last batch. Returns 0, or -1
 * when the session or the disk failed. */
static int
fetch_batch(struct run *r, struct msginfo *const *b, size_t n, int last)
{
	struct sink sink = { sink_begin, sink_write, sink_end, r };
	struct source *src = r->ac.src;
	int rv, frv;

	memset(r->batch, 0, n * sizeof(*r->batch));
	r->local_errno = 0;
	r->oversize = 0;
	frv = src->ops->fetch(src, b, n, &sink);
	maildir_abort(r->cur);
	r->cur = NULL;
	if (frv == -1 || last)
		progress_clear(r);
	rv = persist(r, b, n);
	if (frv == -1) {
		fetch_failed(r, b);
		rv = -1;
	}
	return rv;
}

/* Mark for deletion those of the batch b[0..n-1] that were stored and
 * del[] says to delete; f->marked collects them. */
static int
mark_batch(struct run *r, struct msginfo *const *b, const char *del, size_t n,
    struct folder_run *f)
{
	struct source *src = r->ac.src;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (!r->batch[i].ok || !del[i])
			continue;
		/* What is on disk may be a truncated copy. */
		if (!short_deletable(r, b[i], r->batch[i].received))
			continue;
		f->marked[f->nmarked + k++] = b[i];
	}
	if (k > 0 && src->ops->mark(src, f->marked + f->nmarked, k) == -1) {
		fail(r, acct_srcerr(&r->ac));
		return -1;
	}
	f->nmarked += k;
	return 0;
}

/* The progress line's totals for the fetch of f->fetch: the folder's
 * whole, or (a listing in windows) what the first pass kept, with the
 * bytes guessed from the windows so far. */
static void
progress_start(struct run *r, struct folder_run *f)
{
	size_t i;

	if (f->p_msgs == 0) {
		r->p_msgs = r->p_bytes = 0;
		r->p_start = mono_ms();
		r->p_last = 0;
	}
	for (i = 0; i < f->nfetch; i++)
		f->p_bytes += f->fetch[i]->size;
	f->p_msgs += f->l.n;
	r->p_total = f->windowed ? f->todo.count : f->nfetch;
	r->p_totalbytes = f->windowed && f->p_msgs > 0
	    ? f->p_bytes * f->todo.count / f->p_msgs
	    : f->p_bytes;
}

/*
 * Fetch the folder's new messages in batches, make each batch durable,
 * then mark for deletion those of the batch the plan says to delete.
 * Returns 0, or -1 when the session or the disk failed.
 */
static int
fetch_all(struct run *r, struct folder_run *f)
{
	size_t start, end;
	int rv = 0;

	r->batch = xcalloc(BATCH_MSGS, sizeof(*r->batch));
	progress_start(r, f);
	for (start = 0; start < f->nfetch && rv == 0; start = end) {
		if (stopping(r))
			break;
		end = batch_end(f->fetch, start, f->nfetch);
		if (fetch_batch(
			r, f->fetch + start, end - start, end == f->nfetch)
			== -1
		    || mark_batch(
			   r, f->fetch + start, f->fdel + start, end - start, f)
			== -1)
			rv = -1;
	}
	free(r->batch);
	r->batch = NULL;
	return rv;
}

static void
print_plan(struct run *r, const struct folder_run *f)
{
	const struct msglist *l = &f->l;
	char why[128];
	size_t i;

	for (i = 0; i < l->n; i++) {
		policy_reason(
		    &f->pc, &f->in[i], &f->out[i], r->now, why, sizeof(why));
		printf("%s\t%s\t%s\t%" PRIu64 "\t%s\t%s\n", r->a->name,
		    caps(r) & SRC_CAP_FOLDERS ? r->folder : "-",
		    l->v[i].uid ? l->v[i].uid : "-", l->v[i].size,
		    policy_action_name(f->out[i].action), why);
		r->plan[f->out[i].action]++;
	}
}

/*
 * After a dry run's plan, its totals on stderr: "NAME: plan: F fetch, D
 * delete, K keep, S skip", where a fetch+delete counts as a fetch and
 * as a delete.
 */
static void
print_plan_totals(const struct run *r)
{
	const uint64_t *p = r->plan;

	if (r->o->quiet)
		return;
	fflush(stdout);
	fprintf(stderr,
	    "%s: plan: %" PRIu64 " fetch, %" PRIu64 " delete, %" PRIu64
	    " keep, %" PRIu64 " skip",
	    r->a->name, p[POLICY_FETCH] + p[POLICY_FETCH_DELETE],
	    p[POLICY_DELETE] + p[POLICY_FETCH_DELETE], p[POLICY_KEEP],
	    p[POLICY_SKIP]);
	if (r->a->mirror)
		fprintf(stderr, ", %" PRIu64 " update, %" PRIu64 " remove",
		    r->updated, r->removed);
	fputc('\n', stderr);
}

/* Maildir++: a subfolder holds an empty "maildirfolder"; not created
 * through a planted symbolic link (ELOOP): it would create a file
 * wherever it points. */
static void
mark_subfolder(struct run *r, const char *path)
{
	char *marker;
	int fd;

	xasprintf(&marker, "%s/maildirfolder", path);
	fd = open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd != -1)
		close(fd);
	else if (errno == ELOOP)
		acct_err(&r->ac,
		    "warning: %s is a symbolic link; not followed, remove it",
		    marker);
	free(marker);
}

/* The personal namespace's prefix in UTF-8 ("" when none), asked for
 * at the first call. NULL when the session failed (said already). */
static char *
ns_prefix(struct run *r)
{
	struct source *src = r->ac.src;

	if (!r->ns_asked) {
		r->ns_asked = 1;
		if (src->ops->namespace != NULL
		    && src->ops->namespace(src, &r->ns) == -1) {
			fail(r, acct_srcerr(&r->ac));
			r->ns_asked = 0;
			return NULL;
		}
	}
	return xstrdup(r->ns.known ? r->ns.prefix : "");
}

/* name without the personal namespace's prefix pfx (SPEC "Folder
 * selection"): on Courier and Cyrus "INBOX.Lists.dev" is "Lists.dev";
 * INBOX in the prefix in any case. A name that is the prefix alone
 * keeps it. */
static const char *
strip_prefix(const char *name, const char *pfx)
{
	size_t n = strlen(pfx), k = 0;

	if (n == 0 || strlen(name) <= n)
		return name;
	if (strncasecmp(pfx, "INBOX", 5) == 0
	    && strncasecmp(name, "INBOX", 5) == 0)
		k = 5;
	return strncmp(name + k, pfx + k, n - k) == 0 ? name + n : name;
}

/* The Maildir++ subfolder of a folder, "" for INBOX and a protocol
 * without folders; NULL when asking for the namespace failed. */
static char *
local_subfolder(struct run *r, const char *folder)
{
	struct source *src = r->ac.src;
	const char *base;
	char *name, *sub, *pfx = NULL, delim;

	if (src->ops->local_name == NULL)
		return xstrdup("");
	/* INBOX is the Maildir itself: no NAMESPACE for it. */
	if (strcasecmp(folder, "INBOX") != 0 && (pfx = ns_prefix(r)) == NULL)
		return NULL;
	name = src->ops->local_name(src, folder, &delim);
	base = pfx != NULL ? strip_prefix(name, pfx) : name;
	sub = maildir_subfolder(base, delim);
	/* "INBOX.INBOX" without its prefix is not the INBOX. */
	if (*sub == '\0' && strcasecmp(folder, "INBOX") != 0) {
		free(sub);
		xasprintf(&sub, ".%s", base);
	}
	free(name);
	free(pfx);
	return sub;
}

/* The Maildir of a folder: the account's Maildir for INBOX (and POP3),
 * a Maildir++ subfolder for the others. */
static struct maildir *
open_folder_maildir(struct run *r, const char *folder)
{
	struct maildir *md;
	char err[512], *path;

	free(r->sub);
	if ((r->sub = local_subfolder(r, folder)) == NULL)
		return NULL;
	if (*r->sub == '\0')
		path = xstrdup(r->a->maildir);
	else
		xasprintf(&path, "%s/%s", r->a->maildir, r->sub);
	if ((md = maildir_open(path, err, sizeof(err))) == NULL) {
		int e = errno;

		acct_err(&r->ac, "%s; check that the Maildir is writable", err);
		fail(r, acct_oserr(e));
	} else if (maildir_clean_tmp(md, time(NULL), TMP_MAXAGE) > 0
	    && r->o->verbose)
		printf("%s: removed files older than 36 hours from %s/tmp\n",
		    r->a->name, path);
	if (md != NULL && *r->sub != '\0')
		mark_subfolder(r, path);
	free(path);
	return md;
}

/* The folder's name in the state: as the server knows it; a protocol
 * without folders has one, POP3_FOLDER. */
static void
set_folder_key(struct run *r, const char *folder)
{
	free(r->key);
	if (!(caps(r) & SRC_CAP_FOLDERS))
		r->key = xstrdup(POP3_FOLDER);
	else if ((r->key = imap_mailbox_canon(folder)) == NULL)
		r->key = xstrdup(folder); /* refused by the config */
}

/*
 * Select the folder and compare its UIDVALIDITY with the state's.
 * Returns 0, 1 when the server refused the folder (go on with the
 * next), -1 when the session can no longer be used.
 */
static int
select_folder(struct run *r, struct folder_run *f, const char *folder)
{
	struct source *src = r->ac.src;
	uint32_t olduidv;
	int rw;

	rw = !r->o->dryrun && (!f->pc.keep || f->pc.delete_after > 0);
	r->folder = folder;
	set_folder_key(r, folder);
	if (src->ops->select(src, folder, rw, &f->fi) == -1) {
		fail(r, acct_srcerr(&r->ac));
		return src->fail == SRC_FREFUSED ? 1 : -1;
	}
	r->uidv = f->fi.uidvalidity;
	olduidv = state_uidvalidity(r->st, r->key);
	if (olduidv != r->uidv) {
		if (olduidv != 0) {
			/* RFC 3501 section 2.3.1.1: the old UIDs mean
			 * nothing now. Records of the folder are void, and
			 * nothing is deleted from it this run. */
			acct_err(&r->ac,
			    "%s: UIDVALIDITY changed from %" PRIu32
			    " to %" PRIu32 ": its messages are fetched as "
			    "new and nothing is deleted from it this run",
			    folder, olduidv, r->uidv);
			f->may_delete = 0;
		}
		state_reset_folder(r->st, r->key, r->uidv);
	}
	return 0;
}

/* The folder's Maildir, opened once for the mirror pass and the
 * fetch. */
static int
folder_maildir(struct run *r)
{
	if (r->md == NULL && (r->md = open_folder_maildir(r, r->key)) == NULL)
		return -1;
	return 0;
}

/* 1 when the state has a record of folder key under uidv. */
static int
has_records(const struct run *r, const char *key, uint32_t uidv)
{
	struct state_rec rec;
	size_t pos = 0;

	return uidv != 0 && state_next(r->st, key, uidv, &pos, &rec);
}

/*
 * The old copies of a folder whose UIDVALIDITY changed while the guard
 * held are recorded under the folder's name with this suffix, a raw
 * TAB, which no folder's key holds (its modified UTF-7 form is
 * printable ASCII; a server may well name a mailbox "Work&AAk-"): they
 * stay on disk, the folder is fetched again under its new UIDVALIDITY,
 * and each later run offers the old copies' removal to the guard
 * again, until --accept-removals (or fewer of them) lets it happen.
 */
#define SHADOW_SUFFIX "\t"

static int
is_shadow(const char *name)
{
	size_t n = strlen(name), k = strlen(SHADOW_SUFFIX);

	return n > k && strcmp(name + n - k, SHADOW_SUFFIX) == 0;
}

/* The state's canon (state_set_canon): a folder's name as the server
 * knows it, and a shadow key as its folder's and the suffix. */
static char *
key_canon(const char *name)
{
	char *base, *c, *s;

	if (!is_shadow(name))
		return imap_mailbox_canon(name);
	base = xstrndup(name, strlen(name) - strlen(SHADOW_SUFFIX));
	if ((c = imap_mailbox_canon(base)) == NULL)
		c = base;
	else
		free(base);
	xasprintf(&s, "%s%s", c, SHADOW_SUFFIX);
	free(c);
	return s;
}

static char *
shadow_key(const char *key)
{
	char *s;

	xasprintf(&s, "%s%s", key, SHADOW_SUFFIX);
	return s;
}

/* Move the folder's records of UIDVALIDITY old to its shadow and reset
 * the folder, in one journal sync. */
static int
shadow_keep(struct run *r, uint32_t old)
{
	struct state_rec rec;
	char *sk = shadow_key(r->key);
	size_t pos = 0;
	int rv = 0;

	while (rv == 0 && state_next(r->st, r->key, old, &pos, &rec))
		if (state_add(r->st, sk, old, rec.uid, rec.when) == -1
		    || state_set_local(r->st, sk, old, rec.uid, rec.file,
			   rec.has_flags ? rec.flags : NULL)
			== -1)
			rv = -1;
	free(sk);
	state_reset_folder(r->st, r->key, r->uidv);
	if (rv == 0 && !r->o->dryrun && state_sync(r->st) == -1)
		rv = -1;
	if (rv == -1)
		state_fail(r);
	return rv;
}

/* The old copies a guard kept (see SHADOW_SUFFIX): gone, under the
 * guard. */
static int
shadow_pass(struct run *r)
{
	char *sk = shadow_key(r->key);
	uint32_t uv = state_uidvalidity(r->st, sk);
	struct msync ms;
	int rv = 0;

	if (has_records(r, sk, uv)) {
		msync_init(&ms, &r->ac, r->st, sk, r->folder, uv);
		if (msync_prepare(&ms, SRC_SYNC_VOID) && !r->o->dryrun
		    && folder_maildir(r) == -1)
			rv = -1;
		else if (msync_pass(&ms, SRC_SYNC_VOID, r->md, r->sub) == -1) {
			mirror_fail(r, &ms);
			rv = -1;
		}
		r->updated += ms.updated;
		r->removed += ms.removed;
		msync_free(&ms);
	}
	free(sk);
	return rv;
}

/*
 * UIDVALIDITY changed under a mirror: the old copies count as gone
 * (SPEC "Mirror"), and are removed unless the guard holds; either way
 * the folder's messages are fetched again under the new UIDVALIDITY.
 * When the guard holds, the old copies stay and their records move to
 * the folder's shadow (SHADOW_SUFFIX), so that a later run can still
 * remove them. Returns 0 (go on: fetch everything), or -1.
 */
static int
mirror_void(struct run *r, struct msync *ms, uint32_t old)
{
	acct_err(&r->ac,
	    "%s: UIDVALIDITY changed from %" PRIu32 " to %" PRIu32
	    ": its local copies count as gone, and its messages are fetched "
	    "again",
	    r->folder, old, r->uidv);
	if (msync_prepare(ms, SRC_SYNC_VOID) && !r->o->dryrun
	    && folder_maildir(r) == -1)
		return -1;
	if (msync_pass(ms, SRC_SYNC_VOID, r->md, r->sub) == -1) {
		mirror_fail(r, ms);
		return -1;
	}
	if (ms->held) {
		ms->held = 0; /* the folder itself goes on afresh */
		return shadow_keep(r, old);
	}
	state_reset_folder(r->st, r->key, r->uidv);
	return 0;
}

/* 1 when a is later than b. */
static int
ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec
				      : a->tv_nsec > b->tv_nsec;
}

/*
 * Whether the user may have changed flags here since the last run: the
 * folder's new/ or cur/ changed after the state was last written
 * (state_written: every run that changes the Maildir journals it
 * after; a run that scanned touches the file). The folder's Maildir++ name is the one its
 * records were delivered to, so no NAMESPACE is needed to tell. Its
 * path into *path (a new string) when 1.
 */
static int
local_changed_at(struct run *r, struct msync *ms, char **path)
{
	static const char *const dirs[] = { "new", "cur" };
	struct state_rec rec;
	struct stat sb;
	const char *slash;
	char *p;
	size_t pos = 0, i;
	int changed = 0;

	*path = NULL;
	if (r->state_mt.tv_sec == 0 && r->state_mt.tv_nsec == 0)
		return 0; /* no earlier run: nothing to compare with */
	do
		if (!state_next(r->st, ms->key, ms->uidv, &pos, &rec))
			return 0;
	while (rec.file == NULL);
	if ((slash = strchr(rec.file, '/')) != NULL)
		xasprintf(path, "%s/%.*s", r->a->maildir,
		    (int)(slash - rec.file), rec.file);
	else
		*path = xstrdup(r->a->maildir);
	for (i = 0; i < 2 && !changed; i++) {
		xasprintf(&p, "%s/%s", *path, dirs[i]);
		changed
		    = stat(p, &sb) == 0 && ts_after(&sb.st_mtim, &r->state_mt);
		free(p);
	}
	if (!changed) {
		free(*path);
		*path = NULL;
	}
	return changed;
}

static int
local_changed(struct run *r, struct msync *ms)
{
	char *path;
	int c = local_changed_at(r, ms, &path);

	free(path);
	return c;
}

/* Give the copies whose flags were changed here the server's again
 * (msync_scan). A dry run reads the Maildir as it is and creates
 * nothing. */
static int
mirror_scan(struct run *r, struct msync *ms)
{
	struct maildir *md;
	char err[512], *path, *sub;
	int rv;

	if (!r->o->dryrun) {
		if (folder_maildir(r) == -1)
			return -1;
		r->scanned = 1;
		if ((rv = msync_scan(ms, r->md, r->sub)) == -1)
			mirror_fail(r, ms);
		return rv;
	}
	if (!local_changed_at(r, ms, &path))
		return 0;
	sub = strrchr(path, '/');
	sub = strlen(path) > strlen(r->a->maildir) && sub != NULL ? sub + 1
								  : "";
	if ((md = maildir_open(path, err, sizeof(err))) != NULL) {
		rv = msync_scan(ms, md, sub);
		maildir_close(md);
	} else
		rv = 0;
	free(path);
	return rv;
}

/*
 * The mirror's pass over the folder select_sync opened: what it
 * reported applied to the local copies, then the folder's
 * HIGHESTMODSEQ noted (not when the guard held: the next run must be
 * told of those removals again). Returns as mirror_void.
 */
static int
mirror_folder(struct run *r, struct folder_run *f, struct msync *ms,
    enum src_sync kind, uint32_t old)
{
	int rv = 0, changed;

	r->listed = 1;
	/* Asked before the pass: its own renames and removals change
	 * new/ and cur/ too, and are no reason to scan the folder. */
	changed = kind != SRC_SYNC_VOID && local_changed(r, ms);
	if (kind == SRC_SYNC_VOID && has_records(r, r->key, old))
		rv = mirror_void(r, ms, old);
	else if (kind == SRC_SYNC_VOID)
		state_reset_folder(r->st, r->key, r->uidv);
	else if (!msync_prepare(ms, kind))
		;
	else if (!r->o->dryrun && folder_maildir(r) == -1)
		rv = -1;
	else if (msync_pass(ms, kind, r->md, r->sub) == -1) {
		mirror_fail(r, ms);
		rv = -1;
	}
	if (rv == 0 && changed)
		rv = mirror_scan(r, ms);
	if (rv == 0 && kind != SRC_SYNC_VOID)
		rv = shadow_pass(r);
	r->updated += ms->updated;
	r->removed += ms->removed;
	if (rv == 0 && !ms->held)
		state_set_modseq(r->st, r->key, r->uidv, f->fi.highestmodseq);
	return rv;
}

/*
 * EXISTS and UIDNEXT as the last run left the folder, for CONDSTORE
 * without QRESYNC (select_sync: when both are as known, nothing was
 * expunged, and no UID SEARCH is needed): every message below the
 * recorded UIDNEXT was recorded, and the mirror forgets what it
 * removes, so the records are the folder's messages then. Not needed
 * for a server with QRESYNC.
 */
static void
known_counts(struct run *r, struct sync_known *k)
{
	size_t n;

	if (k->uidvalidity == 0 || strstr(r->ac.src->caps, "QRESYNC") != NULL)
		return;
	k->uidnext = state_uidnext(r->st, r->key, k->uidvalidity);
	/* Every record, also one a listing no longer showed (a guard kept
	 * it): a count below the server's would hide an expunge. */
	n = state_folder_records(r->st, r->key, k->uidvalidity);
	k->exists = k->uidnext != 0 && n <= UINT32_MAX ? (uint32_t)n : 0;
}

/* Select the folder of a mirror with what the state knows of it, and
 * apply the changes. Returns 0, 1 (the server refused the folder), 2
 * (skip it: the guard held a UIDVALIDITY change), -1. */
static int
select_mirror(struct run *r, struct folder_run *f, const char *folder)
{
	struct source *src = r->ac.src;
	struct change_sink chg;
	struct sync_known k;
	struct msync ms;
	enum src_sync kind;
	int rv;

	r->folder = folder;
	set_folder_key(r, folder);
	memset(&k, 0, sizeof(k));
	k.uidvalidity = state_uidvalidity(r->st, r->key);
	k.highestmodseq = state_modseq(r->st, r->key, k.uidvalidity);
	known_counts(r, &k);
	msync_init(&ms, &r->ac, r->st, r->key, folder, k.uidvalidity);
	msync_sink(&ms, &chg);
	if (src->ops->select_sync(src, folder, &k, &chg, &f->fi, &kind) == -1) {
		msync_free(&ms);
		fail(r, acct_srcerr(&r->ac));
		return src->fail == SRC_FREFUSED ? 1 : -1;
	}
	r->uidv = f->fi.uidvalidity;
	rv = mirror_folder(r, f, &ms, kind, k.uidvalidity);
	msync_free(&ms);
	return rv;
}

/* Where to list from: what earlier runs recorded whole need not be
 * listed again (policy_list_from), where the protocol can say so. A
 * dry run shows the whole plan. 0: nothing new. */
static uint32_t
list_from(struct run *r, struct folder_run *f)
{
	size_t nrec;
	int64_t oldest;

	if (!(caps(r) & SRC_CAP_UIDNEXT) || r->o->dryrun || !f->may_delete)
		return 1;
	nrec = state_folder_count(r->st, r->key, r->uidv, &oldest);
	return policy_list_from(&f->pc, state_uidnext(r->st, r->key, r->uidv),
	    f->fi.uidnext, f->fi.exists, nrec, oldest, r->now);
}

/* The messages of a POP3 server without UIDL cannot be told apart
 * from one run to the next: refuse a policy that keeps them (l: what
 * has been listed so far). Returns 0, or -1 after saying so. */
static int
no_uidl(struct run *r, struct folder_run *f)
{
	if (f->l.n == 0 || f->l.v[0].uid != NULL || !f->pc.keep)
		return 0;
	acct_err(&r->ac,
	    "the server has no UIDL, so mailfetch cannot tell old messages "
	    "from new ones; keep = yes needs it (set keep = no to fetch and "
	    "delete everything)");
	fail(r, EX_PROTOCOL);
	f->refused = 1;
	return -1;
}

static const char *
listed_uid(size_t i, void *arg)
{
	const struct folder_run *f = arg;

	return f->l.v[i].uid;
}

static void
looked_up(size_t i, const struct state_look *lk, void *arg)
{
	struct folder_run *f = arg;

	if (f->checkdup && lk->seen && f->dup == 0)
		f->dup = i + 1;
	f->in[i].fetched_at = lk->when;
	f->in[i].announced = lk->announced;
	f->in[i].received = lk->received;
	f->in[i].grew = lk->grew;
}

/* Look the listed messages up in the state (and mark them present).
 * Returns how many are not recorded as downloaded. */
static size_t
look_up(struct run *r, struct folder_run *f)
{
	size_t i, nnew = 0;

	f->in = xcalloc(f->l.n, sizeof(*f->in));
	f->out = xcalloc(f->l.n, sizeof(*f->out));
	state_look_mark_all(
	    r->st, r->key, r->uidv, f->l.n, listed_uid, looked_up, f);
	for (i = 0; i < f->l.n; i++) {
		f->in[i].has_uid = f->l.v[i].uid != NULL;
		nnew += f->in[i].fetched_at == 0;
	}
	return nnew;
}

/* -v: why the message listed i-th is kept or skipped. */
static void
say_reason(struct run *r, const struct folder_run *f, size_t i)
{
	char why[128];

	if (!r->o->verbose
	    || (f->out[i].action != POLICY_KEEP
		&& f->out[i].action != POLICY_SKIP))
		return;
	policy_reason(&f->pc, &f->in[i], &f->out[i], r->now, why, sizeof(why));
	say_msg(r, &f->l.v[i], why);
}

/* The server named one uid for two messages, m one of them: nothing
 * more is done with the folder. Returns -1. */
static int
uid_twice(struct run *r, struct folder_run *f, const struct msginfo *m)
{
	acct_err(&r->ac,
	    "the server lists uid %s for two messages; nothing more is "
	    "fetched or deleted (check the server: a uid names one message)",
	    m->uid);
	fail(r, EX_DATAERR);
	f->refused = 1;
	return -1;
}

/*
 * A window of a long listing (msglist.flush), in f->l: look it up and
 * keep the nums of the messages that are not simply kept (new, or due
 * for deletion) for the second pass, which plans them with their sizes.
 * Those kept are done with here. Returns 0, or -1 (no_uidl).
 */
static int
take_window(void *arg, struct msglist *l)
{
	struct folder_run *f = arg;
	struct run *r = f->r;
	uint64_t budget = UINT64_MAX; /* the second pass spends it */
	size_t i;

	if (no_uidl(r, f) == -1)
		return -1;
	f->windowed = 1;
	f->checkdup = !(caps(r) & SRC_CAP_UID_IS_NUM);
	f->dup = 0;
	look_up(r, f);
	f->checkdup = 0;
	if (f->dup != 0)
		return uid_twice(r, f, &l->v[f->dup - 1]);
	policy_plan(
	    &f->pc, f->in, l->n, r->now, f->may_delete, &budget, f->out);
	for (i = 0; i < l->n; i++) {
		f->nlater += f->from > 1 && l->v[i].num >= f->fi.uidnext;
		if (f->out[i].action == POLICY_KEEP) {
			say_reason(r, f, i);
			continue;
		}
		numset_add(&f->todo, l->v[i].num);
		if (!(caps(r) & SRC_CAP_UID_IS_NUM) && f->in[i].fetched_at == 0)
			numset_add(&f->fresh, l->v[i].num);
	}
	f->nlisted += l->n;
	free(f->in);
	free(f->out);
	f->in = NULL;
	f->out = NULL;
	return 0;
}

/* The end of a listing taken in windows: the rest of it as one more,
 * and the nums to list again in order, each once (windows may come in
 * any order, and a server may repeat a message). */
static int
windows_end(struct folder_run *f)
{
	if (f->l.n > 0 && take_window(f, &f->l) == -1)
		return -1;
	msglist_free(&f->l);
	f->l.window = 0;
	numset_done(&f->todo);
	numset_done(&f->fresh);
	return 0;
}

/* The window of a listing's messages to hold at once. */
static size_t
list_window(void)
{
	const char *e = getenv("MAILFETCH_LIST_WINDOW");
	uint64_t n;
	size_t i = 0;

	if (e != NULL && parse_dec(e, strlen(e), &i, LIST_WINDOW, &n) == 0
	    && e[i] == '\0' && n > 0)
		return (size_t)n;
	return LIST_WINDOW;
}

/* List the folder from f->from, a window at a time when it is long
 * (not for a dry run, which shows every message with its size).
 * Returns 0, or -1 when the session cannot go on. */
static int
list_folder(struct run *r, struct folder_run *f)
{
	struct source *src = r->ac.src;

	f->r = r;
	if (!r->o->dryrun && src->ops->relist != NULL) {
		f->l.window = list_window();
		f->l.flush = take_window;
		f->l.flush_arg = f;
	}
	if (src->ops->list(src, f->from, &f->l) == -1) {
		if (!f->refused)
			fail(r, acct_srcerr(&r->ac));
		r->left += f->nlisted;
		return -1;
	}
	r->listed = 1;
	if (f->windowed)
		return windows_end(f);
	f->l.window = 0;
	if (no_uidl(r, f) == -1) {
		r->left += f->l.n;
		return -1;
	}
	return 0;
}

/* Plan f->l, the whole listing or a window of the second pass: look
 * it up, get the sizes where they wait (POP3), and let the policy
 * decide each message's action into f->out. Returns 0, or -1 when the
 * session cannot go on. */
static int
plan_list(struct run *r, struct folder_run *f)
{
	struct source *src = r->ac.src;
	size_t i, nnew;

	nnew = look_up(r, f);
	/* A lazy list (POP3) asks for the sizes only when a message may be
	 * downloaded, or for the plan: the others need none. */
	if (f->l.nosizes && (nnew > 0 || r->o->dryrun)
	    && src->ops->sizes(src, &f->l) == -1) {
		fail(r, acct_srcerr(&r->ac));
		return -1;
	}
	for (i = 0; i < f->l.n; i++)
		f->in[i].size = f->l.v[i].size;
	policy_plan(
	    &f->pc, f->in, f->l.n, r->now, f->may_delete, &r->budget, f->out);
	return 0;
}

/*
 * The plan: list, look up, and let the policy decide each message's
 * action into f->out; a long listing only lists here and keeps what to
 * plan later (f->windowed, apply_windows). Returns 0, 1 when there is
 * nothing to do (nothing new since the last run), -1 when the session
 * cannot go on.
 */
static int
plan_folder(struct run *r, struct folder_run *f)
{
	if ((f->from = list_from(r, f)) == 0) {
		if (r->o->verbose)
			printf("%s: %s: nothing new, %" PRIu32 " messages kept "
			       "(UIDNEXT %" PRIu32 " as last time)\n",
			    r->a->name, r->folder, f->fi.exists, f->fi.uidnext);
		r->listed = 1;
		r->left += f->fi.exists;
		return 1;
	}
	if (list_folder(r, f) == -1)
		return -1;
	return f->windowed ? 0 : plan_list(r, f);
}

/* -v: why each message kept or skipped is. */
static void
say_reasons(struct run *r, const struct folder_run *f)
{
	size_t i;

	for (i = 0; i < f->l.n; i++)
		say_reason(r, f, i);
}

/* Sort the plan's messages by action into f->fetch and f->dele. */
static void
sort_plan(struct folder_run *f)
{
	size_t i;

	f->fetch = xcalloc(f->l.n, sizeof(*f->fetch));
	f->fdel = xcalloc(f->l.n, 1);
	f->dele = xcalloc(f->l.n, sizeof(*f->dele));
	f->marked = xcalloc(f->l.n, sizeof(*f->marked));
	for (i = 0; i < f->l.n; i++) {
		switch (f->out[i].action) {
		case POLICY_FETCH_DELETE:
			f->fdel[f->nfetch] = 1;
			/* FALLTHROUGH */
		case POLICY_FETCH:
			f->fetch[f->nfetch++] = &f->l.v[i];
			break;
		case POLICY_DELETE:
			f->dele[f->ndele++] = &f->l.v[i];
			break;
		case POLICY_SKIP:
			f->nskip++;
			break;
		default:
			break;
		}
	}
}

/* Mark for deletion the messages stored by earlier runs: their records
 * are durable. */
static int
mark_stored(struct run *r, struct folder_run *f)
{
	struct source *src = r->ac.src;

	if (f->ndele == 0)
		return 0;
	if (src->ops->mark(src, f->dele, f->ndele) == -1) {
		fail(r, acct_srcerr(&r->ac));
		return -1;
	}
	memcpy(f->marked, f->dele, f->ndele * sizeof(*f->dele));
	f->nmarked = f->ndele;
	return 0;
}

/* Fetch what is new. Returns 0, or -1 when the session or the disk
 * failed. */
static int
fetch_new(struct run *r, struct folder_run *f)
{
	uint64_t fetched = r->fetched;
	int rv;

	if (f->nfetch == 0)
		return 0;
	rv = fetch_all(r, f);
	/* One that did not arrive, was it gone, or not sent? */
	if (r->fetched - fetched != f->nfetch)
		f->nskip++;
	return rv;
}

/* Make the marked deletions happen, where the protocol does that
 * before QUIT. */
static int
expunge_marked(struct run *r, struct folder_run *f)
{
	struct source *src = r->ac.src;

	if (f->nmarked == 0)
		return 0;
	if (src->ops->expunge(src, f->marked, f->nmarked, &f->gone) == -1) {
		fail(r, acct_srcerr(&r->ac));
		f->gone = 0;
		return -1;
	}
	if (!(caps(r) & SRC_CAP_DELETE_AT_QUIT) && f->gone < f->nmarked) {
		r->flagged += f->nmarked - f->gone;
		xstrlcpy(
		    r->flagged_why, r->ac.src->err, sizeof(r->flagged_why));
	}
	return 0;
}

/* After the fetch: forget what is gone, and remember how far the
 * folder is recorded whole. */
static void
settle_records(struct run *r, const struct folder_run *f, int rv)
{
	/* Only a complete listing can tell which records are gone. */
	if (f->from == 1)
		state_prune(r->st, r->key, r->now);
	/* Every message below the UIDNEXT that SELECT gave is recorded
	 * now, unless one was skipped or did not arrive. */
	if (rv == 0 && f->nskip == 0 && f->fi.uidnext != 0)
		state_set_uidnext(r->st, r->key, r->uidv, f->fi.uidnext);
}

/*
 * Apply the plan of f->l (the whole listing, or a window): delete what
 * earlier runs stored, fetch and store what is new (deleting as
 * planned), expunge. Returns 0, or -1 when the session or the disk
 * failed.
 */
static int
apply_list(struct run *r, struct folder_run *f)
{
	size_t i;
	int rv;

	say_reasons(r, f);
	sort_plan(f);
	if (mark_stored(r, f) == -1)
		return -1;
	if (f->nfetch > 0 && folder_maildir(r) == -1)
		return -1;
	rv = fetch_new(r, f);
	if (rv == 0 && expunge_marked(r, f) == -1)
		rv = -1;
	if ((caps(r) & SRC_CAP_DELETE_AT_QUIT) && rv == 0)
		r->quit_marked += f->nmarked;
	if (r->o->verbose)
		for (i = 0; i < f->nmarked; i++)
			say_msg(r, f->marked[i], "marked for deletion");
	f->gone_all += f->gone;
	return rv;
}

/* Free what planning and applying f->l held, for the next window. */
static void
plan_free(struct folder_run *f)
{
	free(f->fetch);
	free(f->fdel);
	free(f->dele);
	free(f->marked);
	free(f->in);
	free(f->out);
	f->fetch = f->dele = f->marked = NULL;
	f->fdel = NULL;
	f->in = NULL;
	f->out = NULL;
	f->nfetch = f->ndele = f->nmarked = f->gone = 0;
}

/* A message the first pass found new must still be unrecorded: one
 * that an earlier window recorded shares its uid with another message.
 * Returns 0, or -1 (uid_twice). */
static int
still_fresh(struct run *r, struct folder_run *f)
{
	size_t i;

	for (i = 0; i < f->l.n; i++)
		if (f->in[i].fetched_at != 0
		    && numset_has(&f->fresh, f->l.v[i].num))
			return uid_twice(r, f, &f->l.v[i]);
	return 0;
}

/* The second pass over a listing taken in windows: list again, plan
 * and apply what the first kept, a window at a time. Returns as
 * apply_list. */
static int
apply_windows(struct run *r, struct folder_run *f)
{
	struct source *src = r->ac.src;
	size_t n, w = list_window();
	uint32_t *nums = xreallocarray(NULL, w, sizeof(*nums));
	uint64_t pos = 0;
	int rv = 0;

	while (rv == 0 && (n = numset_take(&f->todo, &pos, nums, w)) > 0) {
		if (stopping(r)) {
			f->nskip++; /* not all recorded */
			break;
		}
		plan_free(f);
		if (src->ops->relist(src, nums, n, &f->l) == -1) {
			fail(r, acct_srcerr(&r->ac));
			rv = -1;
		} else if (plan_list(r, f) == -1 || still_fresh(r, f) == -1)
			rv = -1;
		else
			rv = apply_list(r, f);
		/* One that came back no more is not recorded. */
		if (rv == 0 && f->l.n < n)
			f->nskip++;
	}
	free(nums);
	return rv;
}

/* Apply the plan, the whole listing's or window by window, then
 * settle the folder's records. */
static int
apply_folder(struct run *r, struct folder_run *f)
{
	int rv;

	rv = f->windowed ? apply_windows(r, f) : apply_list(r, f);
	settle_records(r, f, rv);
	return rv;
}

/* Count what was deleted and what is left of the folder. */
static void
tally_folder(struct run *r, struct folder_run *f)
{
	size_t i;

	if (!f->windowed) {
		f->nlisted = f->l.n;
		for (i = 0; i < f->l.n; i++)
			f->nlater
			    += f->from > 1 && f->l.v[i].num >= f->fi.uidnext;
	}
	/* A partial listing holds the messages from UID "from": those
	 * that arrived since SELECT are not in its EXISTS. */
	r->deleted += f->gone_all;
	r->left += (f->from > 1 ? f->fi.exists + f->nlater : f->nlisted)
	    - f->gone_all;
}

static void
folder_init(struct run *r, struct folder_run *f)
{
	memset(f, 0, sizeof(*f));
	f->pc.keep = r->a->keep;
	f->pc.delete_after = r->a->delete_after;
	f->pc.max_size = r->a->max_size;
	f->pc.max_messages = r->a->max_messages;
	f->pc.mismatch_delete = r->a->size_mismatch_delete;
	f->may_delete = 1;
}

static void
folder_free(struct run *r, struct folder_run *f)
{
	maildir_close(r->md);
	r->md = NULL;
	plan_free(f);
	numset_free(&f->todo);
	numset_free(&f->fresh);
	msglist_free(&f->l);
}

/*
 * What a visit of a mirror's folder would have to do besides the
 * server's changes: old copies a guard kept (each visit offers their
 * removal again), or copies changed here (new/ or cur/ changed since
 * the state was written: a visit gives them the server's flags again).
 */
static int
mirror_pending(struct run *r, uint32_t uv)
{
	struct msync ms;
	char *sk = shadow_key(r->key);
	int pending;

	pending = has_records(r, sk, state_uidvalidity(r->st, sk));
	free(sk);
	if (pending)
		return 1;
	msync_init(&ms, &r->ac, r->st, r->key, r->folder, uv);
	pending = local_changed(r, &ms);
	msync_free(&ms);
	return pending;
}

/*
 * The pre-check of the folder r->key (policy_unchanged): 1 when pk, as
 * ops->peek found it, says that a visit would do nothing. The records
 * are counted only for a folder whose UIDVALIDITY and UIDNEXT are as
 * the state's.
 */
static int
peek_unchanged(
    struct run *r, const struct folder_run *f, const struct folder_peek *pk)
{
	struct policy_peek p;
	uint32_t uv;

	if (!pk->known)
		return 0;
	memset(&p, 0, sizeof(p));
	p.uidvalidity = pk->uidvalidity;
	p.uidnext = pk->uidnext;
	p.messages = pk->messages;
	p.highestmodseq = pk->highestmodseq;
	p.known_uidvalidity = uv = state_uidvalidity(r->st, r->key);
	p.saved = state_uidnext(r->st, r->key, uv);
	if (uv == 0 || uv != p.uidvalidity || p.saved != p.uidnext)
		return 0;
	p.nrec = state_folder_count(r->st, r->key, uv, &p.oldest);
	if ((p.mirror = r->a->mirror)) {
		p.modseq = state_modseq(r->st, r->key, uv);
		p.nall = state_folder_records(r->st, r->key, uv);
		p.pending = mirror_pending(r, uv);
	}
	return policy_unchanged(&f->pc, &p, r->now);
}

/* Leave the folder unopened when the pre-check says a visit would do
 * nothing; it counts as such a visit does. 1 when left. */
static int
skip_unchanged(struct run *r, const struct folder_run *f, const char *folder,
    const struct folder_peek *pk)
{
	if (pk == NULL)
		return 0;
	r->folder = folder;
	set_folder_key(r, folder);
	if (!peek_unchanged(r, f, pk))
		return 0;
	if (r->o->verbose)
		printf("%s: %s: unchanged (STATUS), %" PRIu32
		       " messages kept (UIDNEXT %" PRIu32 " as last time)\n",
		    r->a->name, folder, pk->messages, pk->uidnext);
	r->listed = 1;
	r->left += pk->messages;
	return 1;
}

/*
 * One folder: plan, then print the plan (a dry run) or apply it, and
 * tally. pk: what the pre-check found of it, or NULL. Returns 0 to go
 * on with the next folder, -1 when the session can no longer be used.
 */
static int
do_folder(struct run *r, const char *folder, const struct folder_peek *pk)
{
	struct folder_run f;
	int rv;

	folder_init(r, &f);
	if (skip_unchanged(r, &f, folder, pk))
		rv = 3; /* left unopened, counted */
	else if (r->a->mirror && r->ac.src->ops->select_sync != NULL)
		rv = select_mirror(r, &f, folder);
	else
		rv = select_folder(r, &f, folder);
	if (rv == 2)
		r->left += f.fi.exists;
	if (rv != 0)
		rv = rv == -1 ? -1 : 1;
	else if ((rv = plan_folder(r, &f)) != 0)
		;
	else if (r->o->dryrun) {
		print_plan(r, &f);
		r->left += f.l.n;
	} else {
		rv = apply_folder(r, &f);
		tally_folder(r, &f);
	}
	folder_free(r, &f);
	return rv == -1 ? -1 : 0;
}

/*
 * A crash between the rename into the Maildir and the record leaves an
 * intent in the journal: record the message when its file is there, so
 * it is not downloaded twice. A dry run creates nothing, not even a
 * Maildir to look in.
 */
static int
reconcile(struct run *r)
{
	size_t found;

	if (r->o->dryrun)
		return 0;
	if (deliver_reconcile(r->st, r->a->maildir, r->a->mirror, &found) == -1)
		return -1;
	if (found > 0 && r->o->verbose)
		printf("%s: %zu messages stored by an interrupted run were "
		       "recorded\n",
		    r->a->name, found);
	return 0;
}

/*
 * The state loads in a thread of its own while the session is set up:
 * connecting, the TLS handshake and the login are mostly waits for the
 * server, and a state of many records takes a while to read.
 */
/* The on_new hook; its failure changes neither mail nor status. */
static void
run_hook(struct run *r)
{
	char err[1024];

	if (hook_run(r->a, r->fetched, err, sizeof(err)) == -1)
		acct_err(&r->ac, "%s", err);
}

/*
 * When the state was last written (zero: never): the later of the
 * state file's and its journal's mtime. A save that changed anything
 * appends to the journal (or rewrites the file), and a run that
 * scanned touches the file.
 */
static void
state_written(struct run *r)
{
	struct stat sb;
	char *j;

	if (stat(r->a->state_file, &sb) == 0)
		r->state_mt = sb.st_mtim;
	xasprintf(&j, "%s.journal", r->a->state_file);
	if (stat(j, &sb) == 0 && ts_after(&sb.st_mtim, &r->state_mt))
		r->state_mt = sb.st_mtim;
	free(j);
}

/* 1 when the run fetches the first folder for the first time (the
 * state knows nothing of it): its listing (POP3: LIST, the sizes) may
 * go behind the login (source_cfg.first_list). Not for a dry run,
 * which fetches nothing. */
static int
first_fetch(struct run *r)
{
	const char *folder = r->ac.sc.first_folder;
	char *key;
	int first;

	if (r->o->dryrun || folder == NULL)
		return 0;
	/* POP3 has no UIDVALIDITY: a mailbox without a record is new. */
	if (!(acct_ops(r->a)->caps & SRC_CAP_FOLDERS))
		return state_folder_records(r->st, POP3_FOLDER, 0) == 0;
	if ((key = key_canon(folder)) == NULL)
		return 0;
	first = state_uidvalidity(r->st, key) == 0;
	free(key);
	return first;
}

/* Lock and load the state (O(folders + journal): before the session,
 * so that a state that cannot be read fails the run before any
 * connection), set up the session, then record what an interrupted
 * run left. Returns 0, or -1 after reporting. */
static int
run_open(struct run *r)
{
	int status;

	state_written(r);
	r->st = state_new(r->a->state_file);
	/* The state knows a folder by its server name, also when an older
	 * mailfetch wrote it as the config spelled it (POP3's one folder,
	 * POP3_FOLDER, is spelled so already). */
	state_set_canon(r->st, key_canon);
	if ((!r->o->dryrun && state_lock(r->st) == -1)
	    || state_load(r->st, r->o->dryrun) == -1) {
		state_fail(r);
		return -1;
	}
	r->ac.sc.first_list = first_fetch(r);
	status = acct_open(&r->ac);
	/* What an interrupted run left comes first: it is why nothing
	 * happens, whatever the server said. */
	if (reconcile(r) == -1) {
		state_fail(r);
		return -1;
	}
	if (status != 0) {
		fail(r, status);
		return -1;
	}
	return 0;
}

/* 1 when name is a literal item of folders (its absence is an error
 * said already). */
static int
is_literal(const struct cfg_account *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nfitems; i++)
		if (folders_literal(&a->fitems[i]) && a->fitems[i].canon != NULL
		    && strcmp(a->fitems[i].canon, name) == 0)
			return 1;
	return 0;
}

/* The folders the state has copies of that the LIST no longer shows:
 * they stay on disk and are not updated (SPEC "Mirror"); say so. */
static void
say_lost(struct run *r)
{
	struct state_rec rec;
	const char *name;
	size_t i, pos;
	uint32_t uv;

	for (i = 0; (name = state_folder_name(r->st, i)) != NULL; i++) {
		pos = 0;
		uv = state_uidvalidity(r->st, name);
		if (mbx_has(&r->folders, name, 1) || is_literal(r->a, name)
		    || is_shadow(name)
		    || !state_next(r->st, name, uv, &pos, &rec))
			continue;
		acct_err(&r->ac,
		    "%s: the server no longer lists this folder; its local "
		    "copies stay as they are and are no longer updated; check "
		    "whether it was renamed or deleted on the server",
		    name);
	}
}

/* The folders of the run (mailboxes.c): the items of folders, expanded
 * with LIST where they need it. Returns 0, or -1 when the session
 * failed. */
static int
run_folders(struct run *r)
{
	int st;

	if ((st = mbx_expand(&r->ac, &r->folders, 1)) != 0) {
		fail(r, st);
		return -1;
	}
	if (r->folders.missing)
		fail(r, EX_PROTOCOL);
	if (r->folders.listed) {
		r->listed = 1; /* a summary also when nothing matched */
		say_lost(r);
	}
	return 0;
}

/*
 * The pre-check of an account of two or more folders (not a dry run,
 * which shows every folder's whole plan): what each holds now, asked of
 * all at once where the protocol can (ops->peek), so that do_folder
 * opens only those where something can have changed. *pk: one entry a
 * folder, or NULL. Returns 0, or -1 when the session failed.
 */
static int
run_peek(struct run *r, struct folder_peek **pk)
{
	struct source *src = r->ac.src;

	*pk = NULL;
	if (src->ops->peek == NULL || r->folders.n < 2 || r->o->dryrun)
		return 0;
	*pk = xcalloc(r->folders.n, sizeof(**pk));
	if (src->ops->peek(
		src, (const char *const *)r->folders.name, r->folders.n, *pk)
	    == -1) {
		fail(r, acct_srcerr(&r->ac));
		free(*pk);
		*pk = NULL;
		return -1;
	}
	return 0;
}

/* End the session; the deletions that take effect at QUIT count once
 * the server confirmed it. */
static void
run_quit(struct run *r)
{
	if (r->ac.src->ops->quit(r->ac.src) == 0) {
		r->deleted += r->quit_marked;
		r->left -= r->quit_marked;
		return;
	}
	if (r->quit_marked > 0)
		acct_err(&r->ac,
		    "the server did not confirm QUIT, so its %" PRIu64
		    " deletions may not have happened; the next run retries "
		    "them",
		    r->quit_marked);
	fail(r, acct_srcerr(&r->ac));
}

/* The summary: a dry run's plan totals, or what was fetched, deleted
 * and left. */
static void
run_summary(struct run *r)
{
	if (!r->listed)
		return;
	if (r->o->dryrun) {
		print_plan_totals(r);
		return;
	}
	if (r->o->daemon && r->fetched == 0 && r->deleted == 0
	    && r->updated == 0 && r->removed == 0 && r->status == 0)
		return;
	if (r->a->mirror)
		acct_info(&r->ac,
		    "%" PRIu64 " fetched, %" PRIu64 " deleted, %" PRIu64
		    " left on server, %" PRIu64 " updated, %" PRIu64
		    " removed here",
		    r->fetched, r->deleted, r->left, r->updated, r->removed);
	else
		acct_info(&r->ac,
		    "%" PRIu64 " fetched, %" PRIu64 " deleted, %" PRIu64
		    " left on server",
		    r->fetched, r->deleted, r->left);
	if (r->flagged > 0)
		acct_info(&r->ac,
		    "%" PRIu64 " of them flagged \\Deleted but not "
		    "expunged: %s",
		    r->flagged, r->flagged_why);
}

int
run_fetch(const struct cfg_account *a, const struct runopts *opts)
{
	struct runopts oo = *opts, *o = &oo;
	struct folder_peek *pk = NULL;
	struct run r;
	size_t i;
	int broken = 0;

	oo.syslog |= a->log_syslog;
	memset(&r, 0, sizeof(r));
	r.a = a;
	r.o = o;
	/* --at changes the clock of a dry run, and nothing else. */
	r.now = o->dryrun && o->at != 0 ? o->at : time(NULL);
	r.budget = a->max_messages ? a->max_messages : UINT64_MAX;
	acct_init(&r.ac, a, o);
	/* A listing of the folders brings what the pre-check needs. */
	r.ac.sc.peek_in_list = !o->dryrun;
	if (run_open(&r) == 0 && run_folders(&r) == 0) {
		broken = run_peek(&r, &pk) == -1;
		for (i = 0; i < r.folders.n && !broken && !stopping(&r); i++)
			broken = do_folder(&r, r.folders.name[i],
				     pk != NULL ? &pk[i] : NULL)
			    == -1;
		free(pk);
		if (!broken)
			run_quit(&r);
		if (!o->dryrun && !r.nosave && state_save(r.st) == -1)
			state_fail(&r);
		/* The scans are done: local changes after this are new. */
		else if (!o->dryrun && !r.nosave && r.scanned)
			(void)utimensat(AT_FDCWD, a->state_file, NULL, 0);
		run_summary(&r);
	}
	fflush(stdout);
	acct_fini(&r.ac);
	state_free(r.st);
	mbx_free(&r.folders);
	free(r.sub);
	free(r.key);
	/* After the lock is released: the hook may take its time. */
	if (r.fetched > 0 && !o->dryrun && a->on_new != NULL)
		run_hook(&r);
	return r.status;
}
