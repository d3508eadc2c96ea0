/*
 * Unit tests for cmd/deliver.c: a batch goes into the Maildir and the
 * state in the safe order, and an interrupted delivery is recorded by
 * the next run. In a fresh directory under /tmp.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "../../cmd/deliver.h"

static char tdir[64];
static int seq;

/* A case's Maildir and state file, fresh. */
struct place {
	char maildir[256], state[256];
};

static void
newplace(struct place *p)
{
	seq++;
	snprintf(p->maildir, sizeof(p->maildir), "%s/m%d", tdir, seq);
	snprintf(p->state, sizeof(p->state), "%s/s%d/state", tdir, seq);
}

static struct state *
open_state(const char *path)
{
	struct state *st = state_new(path);

	if (state_lock(st) == -1 || state_load(st, 0) == -1) {
		fprintf(stderr, "open_state: %s\n", state_error(st));
		state_free(st);
		return NULL;
	}
	return st;
}

/* A finished message in md's tmp/ holding text. */
static struct maildir_msg *
message(struct maildir *md, const char *text)
{
	struct maildir_msg *m = maildir_begin(md);

	if (m == NULL || maildir_write(m, text, strlen(text)) == -1
	    || maildir_finish(m) == -1) {
		maildir_abort(m);
		return NULL;
	}
	return m;
}

/* Entries in dir (tmp, new or cur) of the Maildir at path. */
static int
entries(const char *path, const char *dir)
{
	char p[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", path, dir);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
t_batch(const void *arg)
{
	struct deliver_msg b[3];
	struct deliver_to to;
	struct place pl;
	struct maildir *md;
	struct state *st;
	char err[256];
	uint64_t a, r;

	(void)arg;
	newplace(&pl);
	md = maildir_open(pl.maildir, err, sizeof(err));
	st = open_state(pl.state);
	CHECK(md != NULL && st != NULL);
	if (md == NULL || st == NULL)
		goto out;
	memset(b, 0, sizeof(b));
	b[0].m = message(md, "one\n");
	b[0].uid = "1";
	b[0].announced = b[0].received = 5;
	b[1].m = message(md, "two\n");
	b[1].uid = "2";
	strcpy(b[1].flags, "S");
	b[1].announced = 50; /* arrived short */
	b[1].received = 5;
	b[2].m = message(md, "three\n"); /* no UID: stored, not recorded */
	to = (struct deliver_to) { st, md, "", "INBOX", 7, 1000, 0 };
	CHECK(deliver_batch(&to, b, 3) == 0);
	CHECK(b[0].ok && b[1].ok && b[2].ok);
	CHECK(b[0].m == NULL && b[1].m == NULL && b[2].m == NULL);
	CHECK(entries(pl.maildir, "new") == 2);
	CHECK(entries(pl.maildir, "cur") == 1);
	CHECK(entries(pl.maildir, "tmp") == 0);
	CHECK(state_lookup(st, "INBOX", 7, "1") == 1000);
	CHECK(state_short(st, "INBOX", 7, "2", &a, &r) == 1);
	CHECK(a == 50 && r == 5);
	CHECK(state_count(st) == 2);
	/* Durable: a crash now loses nothing, and nothing is pending. */
	state_free(st);
	st = open_state(pl.state);
	CHECK(st != NULL);
	if (st != NULL) {
		CHECK(state_count(st) == 2);
		CHECK(state_npending(st) == 0);
	}
out:
	state_free(st);
	maildir_close(md);
}

/*
 * A crash between the rename and the record: the intent is journaled
 * and the file is in place. The next run records it; an intent whose
 * file is not there is not recorded.
 */
static void
t_reconcile(const void *arg)
{
	const char *sub = arg;
	struct state_intent in = { "Lists", 3, "u1", sub, NULL, 0 };
	struct maildir_msg *m;
	struct place pl;
	struct maildir *md;
	struct state *st;
	char err[256], path[512];
	size_t found = 99;

	newplace(&pl);
	snprintf(
	    path, sizeof(path), "%s%s%s", pl.maildir, *sub ? "/" : "", sub);
	md = maildir_open(path, err, sizeof(err));
	st = open_state(pl.state);
	CHECK(md != NULL && st != NULL);
	if (md == NULL || st == NULL)
		goto out;
	CHECK((m = message(md, "body\n")) != NULL);
	if (m == NULL)
		goto out;
	in.name = maildir_name(m);
	CHECK(state_intend(st, &in) == 0);
	in.uid = "u2";
	in.name = "1.M1P1Q1.gone,S=5";
	CHECK(state_intend(st, &in) == 0);
	CHECK(state_sync(st) == 0);
	CHECK(maildir_commit(m, "", 0) == 0 && maildir_sync(md) == 0);
	maildir_msg_free(m);
	state_free(st); /* the crash: no record */
	st = open_state(pl.state);
	CHECK(st != NULL);
	if (st == NULL)
		goto out;
	CHECK(state_npending(st) == 2);
	CHECK(state_lookup(st, "Lists", 3, "u1") == 0);
	CHECK(deliver_reconcile(st, pl.maildir, 0, &found) == 0);
	CHECK(found == 1);
	CHECK(state_lookup(st, "Lists", 3, "u1") != 0);
	CHECK(state_lookup(st, "Lists", 3, "u2") == 0);
	state_free(st);
	st = open_state(pl.state);
	CHECK(st != NULL);
	if (st != NULL) {
		CHECK(state_lookup(st, "Lists", 3, "u1") != 0);
		CHECK(deliver_reconcile(st, pl.maildir, 0, &found) == 0);
		CHECK(found == 0);
	}
out:
	state_free(st);
	maildir_close(md);
}

int
main(void)
{
	int rc;

	snprintf(tdir, sizeof(tdir), "/tmp/mailfetch-test-deliver.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN("batch: stored, recorded, short kept so", t_batch, NULL);
	T_RUN("reconcile: intent in the Maildir", t_reconcile, "");
	T_RUN("reconcile: intent in a subfolder", t_reconcile, ".Lists");
	rc = T_DONE();
	t_rmtree(tdir);
	return rc;
}
