/*
 * The run of one account. The order of operations here is what keeps
 * mail safe; for each batch of messages:
 *
 *   1. fetch into files in tmp/, each flushed and fsync'ed (maildir.c);
 *   2. journal the intended final names and fsync the journal, so a
 *      crash after the rename cannot lead to a second download;
 *   3. rename into new/ (or cur/), then fsync the directories;
 *   4. record the messages in the state journal and fsync it;
 *   5. only then mark for deletion on the server the messages the
 *      policy says to delete.
 *
 * POP3 deletions take effect at QUIT, IMAP ones at (UID) EXPUNGE at the
 * end of each folder. A failure anywhere stops the fetching; whatever
 * was made durable before stays recorded, and the session is dropped
 * without QUIT, so a POP3 server deletes nothing from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../proto/imap.h"
#include "../tls/util.h"
#include "hook.h"
#include "maildir.h"
#include "policy.h"
#include "run.h"
#include "state.h"

/* A batch ends at this many messages or bytes (as the server reports
 * sizes), whichever comes first: large enough to keep the pipe full,
 * small enough that a failure loses little work. */
#define BATCH_MSGS 256
#define BATCH_BYTES (64ULL * 1024 * 1024)

#define POP3_FOLDER "-"

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
	char flagged_why[512];
	uint64_t pop3_marked; /* DELEs that take effect at QUIT */
	uint64_t plan[POLICY_SKIP + 1]; /* a dry run's actions, counted */

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
	struct maildir_msg **done; /* [i]: finished, not yet committed */
	struct maildir_msg *cur;
	int local_errno;
	/* Bytes received of each message of the batch, and of the one
	 * arriving, counted as the server counts a message's size: with
	 * CRLF line ends (SPEC "Sizes"). */
	uint64_t *got;
	uint64_t cur_got;
	size_t cur_i;
	int oversize; /* the one arriving grew past max_size: abandoned */
};

static void
fail(struct run *r, int status)
{
	if (r->status == 0)
		r->status = status;
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

/* One line of -v about one message: "NAME: [FOLDER ]UID: what". */
static void
say_msg(const struct run *r, const struct msginfo *m, const char *what)
{
	const char *uid = m->uid ? m->uid : "-";

	if (r->a->protocol == CFG_POP3)
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
	r->cur_got = 0;
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

/* The bytes buf[0..len-1] stand for on the server: each LF was a CRLF
 * there. */
static uint64_t
server_bytes(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	uint64_t n = len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

static int
sink_write(void *arg, const char *buf, size_t len)
{
	struct run *r = arg;
	uint64_t max = r->a->max_size;

	r->cur_got += server_bytes(buf, len);
	/* max_size holds for what arrives, whatever the size the server
	 * announced (SPEC "Sizes"); over POP3 the line end it adds to a
	 * message without one is no growth. */
	if (max != 0
	    && r->cur_got > max + (r->a->protocol == CFG_POP3 ? 2 : 0)) {
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
	maildir_abort(r->done[i]);
	r->done[i] = r->cur;
	r->cur = NULL;
	r->got[i] = r->cur_got;
	r->p_msgs++;
	progress(r, r->p_msgs == 1);
	return 0;
}

/* Maildir flag letters, in ASCII order, for IMAP flags. */
static void
flag_letters(unsigned flags, char *buf)
{
	char *p = buf;

	if (flags & MSG_DRAFT)
		*p++ = 'D';
	if (flags & MSG_FLAGGED)
		*p++ = 'F';
	if (flags & MSG_ANSWERED)
		*p++ = 'R';
	if (flags & MSG_SEEN)
		*p++ = 'S';
	*p = '\0';
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

	if (r->a->protocol == CFG_IMAP)
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

	if (r->a->protocol == CFG_IMAP)
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

/*
 * Make the finished messages of a batch durable (steps 2 to 4 above).
 * ok[i] is set for each message that is now safely stored and
 * recorded. Returns 0, or -1 after reporting a local failure (what was
 * made durable before the failure is still flagged in ok).
 */
static int
persist(struct run *r, struct msginfo *const *b, size_t n, char *ok)
{
	char flags[8];
	size_t i;
	int rv = 0;

	for (i = 0; i < n; i++) {
		char *where;
		int irv;

		if (r->done[i] == NULL || b[i]->uid == NULL)
			continue;
		/* The intent names the file relative to the account's
		 * Maildir, so finding it needs no server delimiter. */
		if (*r->sub == '\0')
			where = xstrdup(maildir_name(r->done[i]));
		else
			xasprintf(
			    &where, "%s/%s", r->sub, maildir_name(r->done[i]));
		irv = state_intend(r->st, r->key, r->uidv, b[i]->uid, where);
		free(where);
		if (irv == -1)
			goto statefail;
	}
	if (state_sync(r->st) == -1)
		goto statefail;
	for (i = 0; i < n; i++) {
		if (r->done[i] == NULL)
			continue;
		flag_letters(b[i]->flags, flags);
		if (maildir_commit(r->done[i], flags, b[i]->date) == -1) {
			maildir_fail(r);
			rv = -1;
			break;
		}
		ok[i] = 1;
	}
	/* The messages not committed are removed from tmp/. */
	for (; i < n; i++) {
		maildir_abort(r->done[i]);
		r->done[i] = NULL;
	}
	if (maildir_sync(r->md) == -1) {
		/* The renames may not be durable: record nothing. The
		 * journaled intents let the next run find the files. */
		maildir_fail(r);
		memset(ok, 0, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!ok[i] || b[i]->uid == NULL)
			continue;
		/* One that arrived short is recorded so (SPEC "Sizes"). */
		if (state_add_short(r->st, r->key, r->uidv, b[i]->uid, r->now,
			b[i]->size, r->got[i])
		    == -1)
			goto statefail;
	}
	if (state_sync(r->st) == -1)
		goto statefail;
	for (i = 0; i < n; i++) {
		maildir_msg_free(r->done[i]);
		r->done[i] = NULL;
		if (ok[i] && policy_size_mismatch(b[i]->size, r->got[i]))
			warn_short(r, b[i], r->got[i]);
		if (ok[i]) {
			r->fetched++;
			if (r->o->verbose) {
				char what[64];

				snprintf(what, sizeof(what),
				    "fetched, %" PRIu64 " bytes", b[i]->size);
				say_msg(r, b[i], what);
			}
		}
	}
	return rv;

statefail:
	state_fail(r);
	for (i = 0; i < n; i++) {
		if (!ok[i])
			maildir_abort(r->done[i]);
		else
			maildir_msg_free(r->done[i]);
		r->done[i] = NULL;
	}
	memset(ok, 0, n);
	return -1;
}

/*
 * Fetch msgs in batches, make each batch durable, then mark for deletion
 * those of the batch that del[] says to delete. marked collects what
 * was marked. Returns 0, or -1 when the session or the disk failed.
 */
static int
fetch_all(struct run *r, struct msginfo **msgs, const char *del, size_t n,
    struct msginfo **marked, size_t *nmarked)
{
	struct sink sink = { sink_begin, sink_write, sink_end, r };
	struct source *src = r->ac.src;
	size_t start, end, i, k;
	uint64_t bytes;
	char *ok;
	int rv = 0, frv;

	r->done = xcalloc(BATCH_MSGS, sizeof(*r->done));
	r->got = xcalloc(BATCH_MSGS, sizeof(*r->got));
	ok = xmalloc(BATCH_MSGS);
	r->p_msgs = r->p_bytes = r->p_totalbytes = 0;
	r->p_total = n;
	r->p_start = mono_ms();
	r->p_last = 0;
	for (i = 0; i < n; i++)
		r->p_totalbytes += msgs[i]->size;
	for (start = 0; start < n && rv == 0; start = end) {
		if (stopping(r))
			break;
		bytes = 0;
		for (end = start; end < n && end - start < BATCH_MSGS
		     && (end == start || bytes < BATCH_BYTES);
		     end++)
			bytes += msgs[end]->size;
		memset(ok, 0, BATCH_MSGS);
		memset(r->got, 0, BATCH_MSGS * sizeof(*r->got));
		r->local_errno = 0;
		r->oversize = 0;
		frv = src->ops->fetch(src, msgs + start, end - start, &sink);
		maildir_abort(r->cur);
		r->cur = NULL;
		if (frv == -1 || end == n)
			progress_clear(r);
		/* Whatever arrived whole is kept, even after a failure. */
		if (persist(r, msgs + start, end - start, ok) == -1)
			rv = -1;
		if (frv == -1 && src->fail == SRC_FLOCAL && r->stopped)
			rv = -1;
		else if (frv == -1) {
			if (src->fail == SRC_FLOCAL && r->oversize) {
				/* The session stopped in the middle of a
				 * reply: it ends here, and nothing more is
				 * deleted (no QUIT, no EXPUNGE). */
				warn_oversize(r, msgs[start + r->cur_i]);
				fail(r, EX_PROTOCOL);
				record_oversize(r, msgs[start + r->cur_i]);
			} else if (src->fail == SRC_FLOCAL) {
				acct_err(&r->ac,
				    "%s; check that the Maildir "
				    "is writable and the disk is "
				    "not full",
				    maildir_error(r->md));
				fail(r, acct_oserr(r->local_errno));
			} else
				fail(r, acct_srcerr(&r->ac));
			rv = -1;
		}
		if (rv == -1)
			break;
		for (i = start, k = 0; i < end; i++) {
			if (!ok[i - start] || !del[i])
				continue;
			/* What is on disk may be a truncated copy. */
			if (!short_deletable(r, msgs[i], r->got[i - start]))
				continue;
			marked[*nmarked + k++] = msgs[i];
		}
		if (k > 0 && src->ops->mark(src, marked + *nmarked, k) == -1) {
			fail(r, acct_srcerr(&r->ac));
			rv = -1;
		} else
			*nmarked += k;
	}
	free(r->done);
	r->done = NULL;
	free(r->got);
	r->got = NULL;
	free(ok);
	return rv;
}

static void
print_plan(struct run *r, const struct policy_cfg *pc, const struct msglist *l,
    const struct policy_in *in, const struct policy_out *out)
{
	char why[128];
	size_t i;

	for (i = 0; i < l->n; i++) {
		policy_reason(pc, &in[i], &out[i], r->now, why, sizeof(why));
		printf("%s\t%s\t%s\t%" PRIu64 "\t%s\t%s\n", r->a->name,
		    r->a->protocol == CFG_POP3 ? "-" : r->folder,
		    l->v[i].uid ? l->v[i].uid : "-", l->v[i].size,
		    policy_action_name(out[i].action), why);
		r->plan[out[i].action]++;
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
	    " keep, %" PRIu64 " skip\n",
	    r->a->name, p[POLICY_FETCH] + p[POLICY_FETCH_DELETE],
	    p[POLICY_DELETE] + p[POLICY_FETCH_DELETE], p[POLICY_KEEP],
	    p[POLICY_SKIP]);
}

/* The Maildir of a folder: the account's Maildir for INBOX (and POP3),
 * a Maildir++ subfolder for the others. */
static struct maildir *
open_folder_maildir(struct run *r, const char *folder)
{
	struct maildir *md;
	char err[512], *sub, *name, *path;

	if (r->a->protocol == CFG_POP3)
		sub = xstrdup("");
	else {
		/* The server's name, in modified UTF-7; the Maildir gets
		 * UTF-8. */
		if ((name = imap_utf7_decode(folder)) == NULL)
			name = xstrdup(folder);
		sub = maildir_subfolder(name, r->ac.src->delim);
		free(name);
	}
	if (*sub == '\0')
		path = xstrdup(r->a->maildir);
	else
		xasprintf(&path, "%s/%s", r->a->maildir, sub);
	free(r->sub);
	r->sub = sub;
	if ((md = maildir_open(path, err, sizeof(err))) == NULL) {
		int e = errno;

		acct_err(&r->ac, "%s; check that the Maildir is writable", err);
		fail(r, acct_oserr(e));
	} else if (maildir_clean_tmp(md, time(NULL), TMP_MAXAGE) > 0
	    && r->o->verbose)
		printf("%s: removed files older than 36 hours from %s/tmp\n",
		    r->a->name, path);
	if (md != NULL && *sub != '\0') {
		/* Maildir++: a subfolder holds an empty "maildirfolder". */
		char *marker;
		int fd;

		/* Not through a planted symbolic link (ELOOP): it would
		 * create a file wherever it points. */
		xasprintf(&marker, "%s/maildirfolder", path);
		fd = open(
		    marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			close(fd);
		else if (errno == ELOOP)
			acct_err(&r->ac,
			    "warning: %s is a symbolic link; not followed, "
			    "remove it",
			    marker);
		free(marker);
	}
	free(path);
	return md;
}

/*
 * One folder: select, list, plan, and (unless a dry run) fetch, store,
 * delete. Returns 0 to go on with the next folder, -1 when the session
 * can no longer be used.
 */
static int
do_folder(struct run *r, const char *folder)
{
	struct source *src = r->ac.src;
	struct folder_info fi;
	struct msglist l = { 0 };
	struct policy_cfg pc;
	struct policy_in *in = NULL;
	struct policy_out *out = NULL;
	struct msginfo **fetch = NULL, **dele = NULL, **marked = NULL;
	char *fdel = NULL;
	size_t i, nfetch = 0, ndele = 0, nmarked = 0, gone = 0, nskip = 0;
	size_t nrec, later = 0, nnew = 0;
	uint64_t fetched;
	int64_t oldest;
	uint32_t olduidv, from = 1;
	int rw, may_delete = 1, rv = 0;

	pc.keep = r->a->keep;
	pc.delete_after = r->a->delete_after;
	pc.max_size = r->a->max_size;
	pc.max_messages = r->a->max_messages;
	pc.mismatch_delete = r->a->size_mismatch_delete;
	rw = !r->o->dryrun && (!pc.keep || pc.delete_after > 0);

	r->folder = folder;
	free(r->key);
	if (r->a->protocol == CFG_POP3)
		r->key = xstrdup(POP3_FOLDER);
	else if ((r->key = imap_mailbox_canon(folder)) == NULL)
		r->key = xstrdup(folder); /* refused by the config */
	memset(&fi, 0, sizeof(fi));
	if (src->ops->select(src, folder, rw, &fi) == -1) {
		fail(r, acct_srcerr(&r->ac));
		return src->fail == SRC_FREFUSED ? 0 : -1;
	}
	r->uidv = fi.uidvalidity;
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
			may_delete = 0;
		}
		state_reset_folder(r->st, r->key, r->uidv);
	}

	/* IMAP: what earlier runs recorded whole need not be listed again
	 * (policy_list_from). A dry run shows the whole plan. */
	if (r->a->protocol == CFG_IMAP && !r->o->dryrun && may_delete) {
		nrec = state_folder_count(r->st, r->key, r->uidv, &oldest);
		from = policy_list_from(&pc,
		    state_uidnext(r->st, r->key, r->uidv), fi.uidnext,
		    fi.exists, nrec, oldest, r->now);
	}
	if (from == 0) {
		if (r->o->verbose)
			printf("%s: %s: nothing new, %" PRIu32 " messages kept "
			       "(UIDNEXT %" PRIu32 " as last time)\n",
			    r->a->name, folder, fi.exists, fi.uidnext);
		r->listed = 1;
		r->left += fi.exists;
		return 0;
	}
	if (src->ops->list(src, from, &l) == -1) {
		fail(r, acct_srcerr(&r->ac));
		return -1;
	}
	r->listed = 1;
	if (l.n > 0 && l.v[0].uid == NULL && pc.keep) {
		acct_err(&r->ac,
		    "the server has no UIDL, so mailfetch cannot "
		    "tell old messages from new ones; keep = yes "
		    "needs it (set keep = no to fetch and delete "
		    "everything)");
		fail(r, EX_PROTOCOL);
		r->left += l.n;
		msglist_free(&l);
		return -1;
	}

	in = xcalloc(l.n, sizeof(*in));
	out = xcalloc(l.n, sizeof(*out));
	for (i = 0; i < l.n; i++) {
		in[i].has_uid = l.v[i].uid != NULL;
		if (l.v[i].uid != NULL) {
			in[i].fetched_at
			    = state_lookup(r->st, r->key, r->uidv, l.v[i].uid);
			state_short(r->st, r->key, r->uidv, l.v[i].uid,
			    &in[i].announced, &in[i].received);
			state_grew(
			    r->st, r->key, r->uidv, l.v[i].uid, &in[i].grew);
			state_mark(r->st, r->key, r->uidv, l.v[i].uid);
		}
		nnew += in[i].fetched_at == 0;
	}
	/* POP3 asks for the sizes (LIST) only when a message may be
	 * downloaded, or for the plan: the others need none. */
	if (l.nosizes && (nnew > 0 || r->o->dryrun)
	    && src->ops->sizes(src, &l) == -1) {
		fail(r, acct_srcerr(&r->ac));
		rv = -1;
		goto done;
	}
	for (i = 0; i < l.n; i++)
		in[i].size = l.v[i].size;
	policy_plan(&pc, in, l.n, r->now, may_delete, &r->budget, out);

	if (r->o->dryrun) {
		print_plan(r, &pc, &l, in, out);
		r->left += l.n;
		goto done;
	}
	if (r->o->verbose)
		for (i = 0; i < l.n; i++)
			if (out[i].action == POLICY_KEEP
			    || out[i].action == POLICY_SKIP) {
				char why[128];

				policy_reason(&pc, &in[i], &out[i], r->now, why,
				    sizeof(why));
				say_msg(r, &l.v[i], why);
			}

	fetch = xcalloc(l.n, sizeof(*fetch));
	fdel = xcalloc(l.n, 1);
	dele = xcalloc(l.n, sizeof(*dele));
	marked = xcalloc(l.n, sizeof(*marked));
	for (i = 0; i < l.n; i++) {
		switch (out[i].action) {
		case POLICY_FETCH_DELETE:
			fdel[nfetch] = 1;
			/* FALLTHROUGH */
		case POLICY_FETCH:
			fetch[nfetch++] = &l.v[i];
			break;
		case POLICY_DELETE:
			dele[ndele++] = &l.v[i];
			break;
		case POLICY_SKIP:
			nskip++;
			break;
		default:
			break;
		}
	}

	/* Messages stored by earlier runs: their records are durable. */
	if (ndele > 0) {
		if (src->ops->mark(src, dele, ndele) == -1) {
			fail(r, acct_srcerr(&r->ac));
			rv = -1;
			goto account;
		}
		memcpy(marked, dele, ndele * sizeof(*dele));
		nmarked = ndele;
	}
	if (nfetch > 0) {
		if ((r->md = open_folder_maildir(r, r->key)) == NULL) {
			rv = -1;
			goto account;
		}
		fetched = r->fetched;
		if (fetch_all(r, fetch, fdel, nfetch, marked, &nmarked) == -1)
			rv = -1;
		/* One that did not arrive, was it gone, or not sent? */
		if (r->fetched - fetched != nfetch)
			nskip++;
	}
	if (rv == 0 && nmarked > 0) {
		if (src->ops->expunge(src, marked, nmarked, &gone) == -1) {
			fail(r, acct_srcerr(&r->ac));
			rv = -1;
			gone = 0;
		} else if (r->a->protocol == CFG_IMAP && gone < nmarked) {
			r->flagged += nmarked - gone;
			xstrlcpy(
			    r->flagged_why, src->err, sizeof(r->flagged_why));
		}
	}
	if (r->a->protocol == CFG_POP3 && rv == 0)
		r->pop3_marked += nmarked;
	if (r->o->verbose)
		for (i = 0; i < nmarked; i++)
			say_msg(r, marked[i], "marked for deletion");
	/* Only a complete listing can tell which records are gone. */
	if (from == 1)
		state_prune(r->st, r->key, r->now);
	/* Every message below the UIDNEXT that SELECT gave is recorded
	 * now, unless one was skipped or did not arrive. */
	if (rv == 0 && nskip == 0 && fi.uidnext != 0)
		state_set_uidnext(r->st, r->key, r->uidv, fi.uidnext);

account:
	/* A partial listing holds the messages from UID "from": those
	 * that arrived since SELECT are not in its EXISTS. */
	if (from > 1)
		for (i = 0; i < l.n; i++)
			later += l.v[i].num >= fi.uidnext;
	r->deleted += gone;
	r->left += (from > 1 ? fi.exists + later : l.n) - gone;
done:
	maildir_close(r->md);
	r->md = NULL;
	free(fetch);
	free(fdel);
	free(dele);
	free(marked);
	free(in);
	free(out);
	msglist_free(&l);
	return rv;
}

/*
 * A crash between the rename into the Maildir and the record leaves an
 * intent in the journal: record the message when its file is there, so
 * it is not downloaded twice.
 */
static int
reconcile(struct run *r)
{
	const struct state_pending *p;
	struct maildir *md = NULL;
	char err[512];
	size_t i, n = state_npending(r->st);
	int found = 0;

	/* A dry run creates nothing, not even a Maildir to look in. */
	if (n == 0 || r->o->dryrun)
		return 0;
	/* Intents name files relative to the account's Maildir. */
	for (i = 0; i < n; i++) {
		const char *name, *slash;
		char *path;
		int has = 0;

		p = state_pending(r->st, i);
		if ((slash = strrchr(p->filename, '/')) != NULL) {
			xasprintf(&path, "%s/%.*s", r->a->maildir,
			    (int)(slash - p->filename), p->filename);
			name = slash + 1;
		} else {
			path = xstrdup(r->a->maildir);
			name = p->filename;
		}
		if ((md = maildir_open(path, err, sizeof(err))) != NULL) {
			has = maildir_has(md, name);
			maildir_close(md);
		}
		free(path);
		if (has) {
			if (state_add(r->st, p->folder, p->uidvalidity, p->uid,
				p->when)
			    == -1)
				return -1;
			found++;
		}
	}
	if (found > 0 && r->o->verbose)
		printf("%s: %d messages stored by an interrupted run were "
		       "recorded\n",
		    r->a->name, found);
	return state_sync(r->st);
}

/*
 * The state loads in a thread of its own while the session is set up:
 * connecting, the TLS handshake and the login are mostly waits for the
 * server, and a state of many records takes a while to read.
 */
struct loader {
	struct state *st;
	int readonly;
	int rv;
};

static void *
load_state(void *arg)
{
	struct loader *l = arg;

	l->rv = state_load(l->st, l->readonly);
	return NULL;
}

/* The on_new hook; its failure changes neither mail nor status. */
static void
run_hook(struct run *r)
{
	char err[1024];

	if (hook_run(r->a, r->fetched, err, sizeof(err)) == -1)
		acct_err(&r->ac, "%s", err);
}

int
run_fetch(const struct cfg_account *a, const struct runopts *opts)
{
	struct runopts oo = *opts, *o = &oo;
	struct loader ld;
	struct run r;
	pthread_t tid;
	size_t i;
	int status, threaded, broken = 0;

	oo.syslog |= a->log_syslog;
	memset(&r, 0, sizeof(r));
	r.a = a;
	r.o = o;
	/* --at changes the clock of a dry run, and nothing else. */
	r.now = o->dryrun && o->at != 0 ? o->at : time(NULL);
	r.budget = a->max_messages ? a->max_messages : UINT64_MAX;
	acct_init(&r.ac, a, o);

	r.st = state_new(a->state_file);
	/* The state knows a folder by its server name, also when an older
	 * mailfetch wrote it as the config spelled it. */
	if (a->protocol == CFG_IMAP)
		state_set_canon(r.st, imap_mailbox_canon);
	if (!o->dryrun && state_lock(r.st) == -1) {
		state_fail(&r);
		goto out;
	}
	ld.st = r.st;
	ld.readonly = o->dryrun;
	ld.rv = -1;
	threaded = pthread_create(&tid, NULL, load_state, &ld) == 0;
	if (!threaded)
		load_state(&ld);
	status = acct_open(&r.ac);
	if (threaded)
		pthread_join(tid, NULL);
	/* A state that cannot be read comes first: it is why nothing
	 * happens, whatever the server said. */
	if (ld.rv == -1 || reconcile(&r) == -1) {
		state_fail(&r);
		goto out;
	}
	if (status != 0) {
		fail(&r, status);
		goto out;
	}
	for (i = 0; i < a->nfolders && !broken && !stopping(&r); i++)
		broken = do_folder(&r, a->folders[i]) == -1;
	if (!broken) {
		if (r.ac.src->ops->quit(r.ac.src) == 0) {
			r.deleted += r.pop3_marked;
			r.left -= r.pop3_marked;
		} else {
			if (r.pop3_marked > 0)
				acct_err(&r.ac,
				    "the server did not confirm QUIT, so its "
				    "%" PRIu64 " deletions may not have "
				    "happened; the next run retries them",
				    r.pop3_marked);
			fail(&r, acct_srcerr(&r.ac));
		}
	}
	if (!o->dryrun && state_save(r.st) == -1)
		state_fail(&r);
	if (r.listed && o->dryrun)
		print_plan_totals(&r);
	if (r.listed && !o->dryrun
	    && (!o->daemon || r.fetched > 0 || r.deleted > 0
		|| r.status != 0)) {
		acct_info(&r.ac,
		    "%" PRIu64 " fetched, %" PRIu64 " deleted, %" PRIu64
		    " left on server",
		    r.fetched, r.deleted, r.left);
		if (r.flagged > 0)
			acct_info(&r.ac,
			    "%" PRIu64 " of them flagged \\Deleted but not "
			    "expunged: %s",
			    r.flagged, r.flagged_why);
	}
out:
	fflush(stdout);
	acct_fini(&r.ac);
	state_free(r.st);
	free(r.sub);
	free(r.key);
	/* After the lock is released: the hook may take its time. */
	if (r.fetched > 0 && !o->dryrun && a->on_new != NULL)
		run_hook(&r);
	return r.status;
}
