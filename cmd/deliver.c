/*
 * Crash-safe delivery. See deliver.h.
 */
#include <stdlib.h>
#include <string.h>

#include "../tls/util.h"
#include "deliver.h"

/* Step 2: journal where each message that can be recorded goes. */
static int
journal_intents(const struct deliver_to *to, struct deliver_msg *msgs, size_t n)
{
	struct state_intent in;
	size_t i;

	memset(&in, 0, sizeof(in));
	in.folder = to->folder;
	in.uidvalidity = to->uidvalidity;
	in.sub = to->sub;
	for (i = 0; i < n; i++) {
		if (msgs[i].m == NULL || msgs[i].uid == NULL)
			continue;
		in.uid = msgs[i].uid;
		in.name = maildir_name(msgs[i].m);
		if (state_intend(to->st, &in) == -1)
			return -1;
	}
	return state_sync(to->st);
}

/* Step 3: rename into new/ or cur/ in order, up to the first failure;
 * the rest is removed from tmp/. Then the directories' fsync: without
 * it nothing counts as stored. */
static unsigned
commit_files(const struct deliver_to *to, struct deliver_msg *msgs, size_t n)
{
	unsigned rv = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (msgs[i].m == NULL)
			continue;
		if (maildir_commit(msgs[i].m, msgs[i].flags, msgs[i].mtime)
		    == -1) {
			rv = DELIVER_EMAILDIR;
			break;
		}
		msgs[i].ok = 1;
	}
	for (; i < n; i++) {
		maildir_abort(msgs[i].m);
		msgs[i].m = NULL;
	}
	if (maildir_sync(to->md) == -1) {
		/* The journaled intents let the next run find the files. */
		for (i = 0; i < n; i++)
			msgs[i].ok = 0;
		return DELIVER_EMAILDIR;
	}
	return rv;
}

/* The mirror's note of a stored message: its file as committed (in
 * cur/ with ":2,FLAGS" when it has flags) and the flags. */
static int
record_local(const struct deliver_to *to, const struct deliver_msg *m)
{
	char *file;
	int rv;

	xasprintf(&file, "%s%s%s%s%s", to->sub, *to->sub != '\0' ? "/" : "",
	    maildir_name(m->m), m->flags[0] != '\0' ? ":2," : "", m->flags);
	rv = state_set_local(
	    to->st, to->folder, to->uidvalidity, m->uid, file, m->flags);
	free(file);
	return rv;
}

/* Step 4: record what was stored; one that arrived short is recorded
 * so (SPEC "Sizes"). */
static int
record(const struct deliver_to *to, struct deliver_msg *msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!msgs[i].ok || msgs[i].uid == NULL)
			continue;
		if (state_add_short(to->st, to->folder, to->uidvalidity,
			msgs[i].uid, to->now, msgs[i].announced,
			msgs[i].received)
		    == -1)
			return -1;
		if (to->local && record_local(to, &msgs[i]) == -1)
			return -1;
	}
	return state_sync(to->st);
}

/* Free what was committed, remove the rest from tmp/. */
static void
release(struct deliver_msg *msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (msgs[i].ok)
			maildir_msg_free(msgs[i].m);
		else
			maildir_abort(msgs[i].m);
		msgs[i].m = NULL;
	}
}

unsigned
deliver_batch(const struct deliver_to *to, struct deliver_msg *msgs, size_t n)
{
	unsigned rv = 0;
	size_t i;

	for (i = 0; i < n; i++)
		msgs[i].ok = 0;
	if (journal_intents(to, msgs, n) == -1)
		rv = DELIVER_ESTATE;
	else {
		rv = commit_files(to, msgs, n);
		if (record(to, msgs, n) == -1)
			rv |= DELIVER_ESTATE;
	}
	release(msgs, n);
	/* Not recorded: the intents let the next run find the files. */
	if (rv & DELIVER_ESTATE)
		for (i = 0; i < n; i++)
			msgs[i].ok = 0;
	return rv;
}

/* 1 when the file an intent names is in the Maildir at root. */
static int
intent_found(const char *root, const struct state_intent *p)
{
	struct maildir *md;
	char err[512], *path;
	int has = 0;

	if (*p->sub == '\0')
		path = xstrdup(root);
	else
		xasprintf(&path, "%s/%s", root, p->sub);
	if ((md = maildir_open(path, err, sizeof(err))) != NULL) {
		has = maildir_has(md, p->name);
		maildir_close(md);
	}
	free(path);
	return has;
}

/* The file of a message recorded from its intent, for the mirror (its
 * flags are not known: the mirror compares the server's with none). */
static int
reconcile_local(struct state *st, const struct state_intent *p)
{
	char *file;
	int rv;

	xasprintf(&file, "%s%s%s", p->sub, *p->sub != '\0' ? "/" : "", p->name);
	rv = state_set_local(st, p->folder, p->uidvalidity, p->uid, file, NULL);
	free(file);
	return rv;
}

int
deliver_reconcile(struct state *st, const char *root, int local, size_t *found)
{
	const struct state_intent *p;
	size_t i, n = state_npending(st);

	*found = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		p = state_pending(st, i);
		if (!intent_found(root, p))
			continue;
		if (state_add(st, p->folder, p->uidvalidity, p->uid, p->when)
			== -1
		    || (local && reconcile_local(st, p) == -1))
			return -1;
		(*found)++;
	}
	return state_sync(st);
}
