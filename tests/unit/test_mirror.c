/*
 * Unit tests for cmd/mirror.c and the mirror's functions of
 * cmd/maildir.c (find, set flags, remove), in a fresh directory under
 * /tmp; and passes interrupted at every step, then repeated.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "../../proto/source.h"
#include "../../cmd/maildir.h"
#include "../../cmd/mirror.h"

static char tdir[64];

/* A fresh Maildir under the test directory. */
static struct maildir *
fresh(const char *name)
{
	char err[512], p[256];
	struct maildir *md;

	snprintf(p, sizeof(p), "%s/%s", tdir, name);
	if ((md = maildir_open(p, err, sizeof(err))) == NULL)
		fprintf(stderr, "%s\n", err);
	return md;
}

/* Create the file SUB/NAME in md (SUB: "new", "cur", "tmp") holding
 * text. */
static int
put(struct maildir *md, const char *sub, const char *name, const char *text)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", maildir_path(md), sub, name);
	if ((f = fopen(p, "w")) == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* 1 when SUB/NAME exists in md and holds text. */
static int
holds(struct maildir *md, const char *sub, const char *name, const char *text)
{
	char p[1024], buf[256];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", maildir_path(md), sub, name);
	if ((f = fopen(p, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

/* Entries in SUB of md, not counting . and .. */
static int
count(struct maildir *md, const char *sub)
{
	char p[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", maildir_path(md), sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Rename SUB/A to SUB2/B in md, as a mail reader would. */
static int
mv(struct maildir *md, const char *a, const char *b)
{
	char pa[1024], pb[1024];

	snprintf(pa, sizeof(pa), "%s/%s", maildir_path(md), a);
	snprintf(pb, sizeof(pb), "%s/%s", maildir_path(md), b);
	return rename(pa, pb);
}

/* ---- pure functions ---- */

struct lcase {
	const char *name;
	unsigned flags;
	const char *letters;
};

static const struct lcase lcases[] = {
	{ "letters: none", 0, "" },
	{ "letters: seen", MSG_SEEN, "S" },
	{ "letters: all, ASCII order",
	    MSG_SEEN | MSG_ANSWERED | MSG_FLAGGED | MSG_DRAFT | MSG_DELETED,
	    "DFRST" },
	{ "letters: flagged seen", MSG_SEEN | MSG_FLAGGED, "FS" },
	{ "letters: answered deleted", MSG_ANSWERED | MSG_DELETED, "RT" },
	{ "letters: draft", MSG_DRAFT, "D" },
	{ "letters: unknown bits ignored", 0x100 | MSG_SEEN, "S" },
};

static void
t_letters(const void *arg)
{
	const struct lcase *c = arg;
	char buf[MIRROR_FLAGSZ];

	mirror_letters(c->flags, buf);
	CHECK_STR(buf, c->letters);
	CHECK(mirror_flags(buf) == (c->flags & 0x1f));
}

static void
t_flags_of_info(const void *arg)
{
	(void)arg;
	CHECK(mirror_flags(NULL) == 0);
	CHECK(mirror_flags("") == 0);
	CHECK(mirror_flags("SF") == (MSG_SEEN | MSG_FLAGGED));
	/* Keywords and other letters are not IMAP system flags. */
	CHECK(mirror_flags("PSabc") == MSG_SEEN);
	CHECK(mirror_flags("s") == 0);
	CHECK(mirror_flags("T") == MSG_DELETED);
}

static void
t_info(const void *arg)
{
	(void)arg;
	CHECK_STR(mirror_info("123.M4P5Q6.host,S=10"), "");
	CHECK_STR(mirror_info("123.M4P5Q6.host,S=10:2,"), "");
	CHECK_STR(mirror_info("123.M4P5Q6.host,S=10:2,FS"), "FS");
	CHECK_STR(mirror_info("123.M4P5Q6.host,S=10:1,xyz"), "");
}

struct pcase {
	const char *name;
	const char *recorded;
	unsigned server;
	int gone;
	enum mirror_action action;
	const char *flags;
	const char *reason;
};

static const struct pcase pcases[] = {
	{ "plan: unchanged", "S", MSG_SEEN, 0, MIRROR_KEEP, "S", "" },
	{ "plan: none, unchanged", NULL, 0, 0, MIRROR_KEEP, "", "" },
	{ "plan: gains a flag", "S", MSG_SEEN | MSG_FLAGGED, 0, MIRROR_UPDATE,
	    "FS", "update: flags S -> FS" },
	{ "plan: first flag", "", MSG_SEEN, 0, MIRROR_UPDATE, "S",
	    "update: flags - -> S" },
	{ "plan: NULL recorded", NULL, MSG_ANSWERED, 0, MIRROR_UPDATE, "R",
	    "update: flags - -> R" },
	{ "plan: loses every flag", "FS", 0, 0, MIRROR_UPDATE, "",
	    "update: flags FS -> -" },
	{ "plan: deleted flag is T", "S", MSG_SEEN | MSG_DELETED, 0,
	    MIRROR_UPDATE, "ST", "update: flags S -> ST" },
	{ "plan: keywords do not count", "Sab", MSG_SEEN, 0, MIRROR_KEEP, "S",
	    "" },
	{ "plan: recorded order does not count", "SF", MSG_SEEN | MSG_FLAGGED,
	    0, MIRROR_KEEP, "FS", "" },
	{ "plan: all five", "", 0x1f, 0, MIRROR_UPDATE, "DFRST",
	    "update: flags - -> DFRST" },
	{ "plan: gone", "S", MSG_SEEN, 1, MIRROR_REMOVE, "",
	    "remove: gone from the server" },
	{ "plan: gone without flags", NULL, 0, 1, MIRROR_REMOVE, "",
	    "remove: gone from the server" },
};

static void
t_plan(const void *arg)
{
	const struct pcase *c = arg;
	struct mirror_plan p;

	mirror_plan(c->recorded, c->server, c->gone, &p);
	CHECK(p.action == c->action);
	if (c->action != MIRROR_REMOVE)
		CHECK_STR(p.flags, c->flags);
	CHECK_STR(p.reason, c->reason);
}

struct gcase {
	const char *name;
	size_t gone, local;
	int accept, holds;
};

static const struct gcase gcases[] = {
	{ "guard: nothing gone", 0, 0, 0, 0 },
	{ "guard: 20 of 20 (not more than 20)", 20, 20, 0, 0 },
	{ "guard: 21 of 21", 21, 21, 0, 1 },
	{ "guard: 21 of 41 (more than half)", 21, 41, 0, 1 },
	{ "guard: 21 of 42 (exactly half)", 21, 42, 0, 0 },
	{ "guard: 22 of 42", 22, 42, 0, 1 },
	{ "guard: 50 of 200", 50, 200, 0, 0 },
	{ "guard: 100000 of 100000", 100000, 100000, 0, 1 },
	{ "guard: accepted", 100, 100, 1, 0 },
	{ "guard: 5 of 6 (few)", 5, 6, 0, 0 },
};

static void
t_guard(const void *arg)
{
	const struct gcase *c = arg;

	CHECK(mirror_guard_holds(c->gone, c->local, c->accept) == c->holds);
}

static void
t_guard_message(const void *arg)
{
	char *s = mirror_guard_message("work", "Lists/foo", 30, 40);

	(void)arg;
	CHECK_STR(s,
	    "work: Lists/foo: 30 of 40 messages are gone from the server; "
	    "nothing removed here; run with --accept-removals to remove "
	    "them");
	free(s);
}

struct mcase {
	const char *name;
	const char *cur, *flags;
	int rc;
	const char *out;
};

static const struct mcase mcases[] = {
	{ "merge: first flag", "", "S", 0, "S" },
	{ "merge: NULL info", NULL, "FS", 0, "FS" },
	{ "merge: flags cleared", "FS", "", 0, "" },
	{ "merge: keywords kept", "Sab", "FS", 0, "FSab" },
	{ "merge: other capitals kept (P)", "PS", "R", 0, "PR" },
	{ "merge: T is the server's", "ST", "S", 0, "S" },
	{ "merge: sorted, once", "zaS", "SF", 0, "FSaz" },
	{ "merge: non-letters dropped", "a,1b", "", 0, "ab" },
	{ "merge: bad flags", "", "S1", -1, NULL },
};

static void
t_merge(const void *arg)
{
	const struct mcase *c = arg;
	char out[MAILDIR_INFOSZ];

	CHECK(maildir_info_merge(c->cur, c->flags, out, sizeof(out)) == c->rc);
	if (c->rc == 0)
		CHECK_STR(out, c->out);
}

static void
t_merge_small(const void *arg)
{
	char out[3];

	(void)arg;
	CHECK(maildir_info_merge("", "FS", out, sizeof(out)) == 0);
	CHECK_STR(out, "FS");
	CHECK(maildir_info_merge("", "DFS", out, sizeof(out)) == -1);
	CHECK(errno == EINVAL);
}

/* ---- Maildir: find, set flags, remove ---- */

#define U "1700000000.M1P2Q3.host,S=5"

static void
t_find_new(const void *arg)
{
	struct maildir *md = fresh("find-new");
	struct maildir_index *ix = maildir_index_new();
	char *w;

	(void)arg;
	CHECK(md != NULL);
	if (md == NULL)
		return;
	CHECK(put(md, "new", U, "hello") == 0);
	CHECK(maildir_find(md, ix, U, NULL, &w) == 0);
	CHECK_STR(w, "new/" U);
	free(w);
	/* A direct hit reads no directory. */
	CHECK(maildir_index_reads(ix) == 0);
	maildir_index_free(ix);
	maildir_close(md);
}

/* The recorded info and the info about to be set are tried with a stat
 * each: no directory is read. */
static void
t_find_direct(const void *arg)
{
	struct maildir *md = fresh("find-direct");
	struct maildir_index *ix = maildir_index_new();
	char *w;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "cur", U ":2,FS", "hello") == 0);
	CHECK(maildir_find(md, ix, U ":2,FS", NULL, &w) == 0);
	CHECK_STR(w, "cur/" U ":2,FS");
	free(w);
	/* Renamed but not recorded: found under the letters to set. */
	CHECK(maildir_find(md, ix, U ":2,S", "FS", &w) == 0);
	CHECK_STR(w, "cur/" U ":2,FS");
	free(w);
	CHECK(mv(md, "cur/" U ":2,FS", "cur/" U ":2,") == 0);
	CHECK(maildir_find(md, ix, U, NULL, &w) == 0);
	CHECK_STR(w, "cur/" U ":2,");
	free(w);
	CHECK(mv(md, "cur/" U ":2,", "cur/" U) == 0);
	CHECK(maildir_find(md, ix, U ":2,S", "S", &w) == 0);
	CHECK_STR(w, "cur/" U);
	free(w);
	CHECK(maildir_index_reads(ix) == 0);
	maildir_index_free(ix);
	maildir_close(md);
}

/* A mail reader gave the file other letters: the directories are read
 * once, and later lookups through the index read them no more. */
static void
t_find_scan(const void *arg)
{
	struct maildir *md = fresh("find-scan");
	struct maildir_index *ix = maildir_index_new();
	char *w;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "cur", U ":2,RSa", "one") == 0);
	CHECK(put(md, "cur", "1700000001.M1P2Q4.host,S=3:2,P", "two") == 0);
	CHECK(put(md, "new", "1700000002.M1P2Q5.host,S=3:2,S", "three") == 0);
	CHECK(maildir_find(md, ix, U, NULL, &w) == 0);
	CHECK_STR(w, "cur/" U ":2,RSa");
	free(w);
	CHECK(maildir_index_reads(ix) == 1);
	CHECK(maildir_find(md, ix, "1700000001.M1P2Q4.host,S=3:2,S", "S", &w)
	    == 0);
	CHECK_STR(w, "cur/1700000001.M1P2Q4.host,S=3:2,P");
	free(w);
	/* Info in new/ is accepted too. */
	CHECK(
	    maildir_find(md, ix, "1700000002.M1P2Q5.host,S=3", NULL, &w) == 0);
	CHECK_STR(w, "new/1700000002.M1P2Q5.host,S=3:2,S");
	free(w);
	/* A name that is only a prefix of another is not it. */
	CHECK(maildir_find(md, ix, "1700000001.M1P2Q4.host,S=", NULL, &w)
	    == MAILDIR_MISSING);
	CHECK(w == NULL);
	CHECK(maildir_index_reads(ix) == 1);
	/* Without an index, a miss reads the directories. */
	CHECK(maildir_find(md, NULL, U, NULL, &w) == 0);
	CHECK_STR(w, "cur/" U ":2,RSa");
	free(w);
	maildir_index_free(ix);
	maildir_close(md);
}

/* The index is out of date (the user renamed the file since it was
 * read): the file is still found. */
static void
t_find_stale_index(const void *arg)
{
	struct maildir *md = fresh("find-stale");
	struct maildir_index *ix = maildir_index_new();
	char *w;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "cur", U ":2,a", "one") == 0);
	CHECK(maildir_find(md, ix, U, NULL, &w) == 0);
	free(w);
	CHECK(mv(md, "cur/" U ":2,a", "cur/" U ":2,Pb") == 0);
	CHECK(maildir_find(md, ix, U, NULL, &w) == 0);
	CHECK_STR(w, "cur/" U ":2,Pb");
	free(w);
	maildir_index_free(ix);
	maildir_close(md);
}

/* tmp/, other folders and bad names are never looked at. */
static void
t_find_missing(const void *arg)
{
	struct maildir *md = fresh("find-missing");
	struct maildir_index *ix = maildir_index_new();
	char *w = NULL;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "tmp", U, "partial") == 0);
	CHECK(maildir_find(md, ix, U, "S", &w) == MAILDIR_MISSING);
	CHECK(maildir_find(md, NULL, U, "S", &w) == MAILDIR_MISSING);
	CHECK(w == NULL);
	CHECK(maildir_find(md, ix, "../tmp/" U, NULL, &w) == -1);
	CHECK(errno == EINVAL);
	CHECK(maildir_find(md, ix, ".hidden", NULL, &w) == -1);
	CHECK(maildir_find(md, ix, "", NULL, &w) == -1);
	CHECK(maildir_remove(md, ix, U) == MAILDIR_MISSING);
	CHECK(maildir_set_flags(md, ix, U, "S", NULL) == MAILDIR_MISSING);
	CHECK(holds(md, "tmp", U, "partial"));
	maildir_index_free(ix);
	maildir_close(md);
}

static void
t_set_flags(const void *arg)
{
	struct maildir *md = fresh("setflags");
	struct maildir_index *ix = maildir_index_new();
	char *nn;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "new", U, "hello") == 0);
	/* No letters: stays in new/, nothing renamed. */
	CHECK(maildir_set_flags(md, ix, U, "", &nn) == 0);
	CHECK_STR(nn, U);
	free(nn);
	CHECK(holds(md, "new", U, "hello"));
	/* Gains a flag: moves to cur/. */
	CHECK(maildir_set_flags(md, ix, U, "S", &nn) == 0);
	CHECK_STR(nn, U ":2,S");
	free(nn);
	CHECK(count(md, "new") == 0);
	CHECK(holds(md, "cur", U ":2,S", "hello"));
	/* The user's mail reader adds a keyword; the server's letters
	 * replace D F R S T, the keyword stays. */
	CHECK(mv(md, "cur/" U ":2,S", "cur/" U ":2,Sa") == 0);
	CHECK(maildir_set_flags(md, ix, U ":2,S", "FS", &nn) == 0);
	CHECK_STR(nn, U ":2,FSa");
	free(nn);
	CHECK(holds(md, "cur", U ":2,FSa", "hello"));
	/* Already so: nothing to do. */
	CHECK(maildir_set_flags(md, ix, U ":2,FSa", "FS", &nn) == 0);
	CHECK_STR(nn, U ":2,FSa");
	free(nn);
	/* Loses every flag: stays in cur/. */
	CHECK(mv(md, "cur/" U ":2,FSa", "cur/" U ":2,FST") == 0);
	CHECK(maildir_set_flags(md, ix, U ":2,FSa", "", &nn) == 0);
	CHECK_STR(nn, U ":2,");
	free(nn);
	CHECK(holds(md, "cur", U ":2,", "hello"));
	CHECK(count(md, "cur") == 1 && count(md, "new") == 0);
	CHECK(maildir_set_flags(md, ix, U, "S1", &nn) == -1);
	CHECK(nn == NULL);
	CHECK(maildir_sync(md) == 0);
	maildir_index_free(ix);
	maildir_close(md);
}

/* Another file has the target name already: it is not replaced, and the
 * message's file stays where it is. */
static void
t_set_flags_no_overwrite(const void *arg)
{
	struct maildir *md = fresh("setflags-clash");
	char *nn;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "new", U, "mine") == 0);
	CHECK(put(md, "cur", U ":2,FS", "other") == 0);
	CHECK(maildir_set_flags(md, NULL, U, "FS", &nn) == -1);
	CHECK(errno == EEXIST);
	CHECK(maildir_errno(md) == EEXIST);
	CHECK(strstr(maildir_error(md), "rename") != NULL);
	CHECK(holds(md, "new", U, "mine"));
	CHECK(holds(md, "cur", U ":2,FS", "other"));
	maildir_close(md);
}

/* A rename done as link and unlink, cut in between: one file under two
 * names. Setting the flags finishes it; removing removes both. */
static void
t_two_links(const void *arg)
{
	struct maildir *md = fresh("twolinks");
	char a[1024], b[1024];

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "new", U, "hello") == 0);
	snprintf(a, sizeof(a), "%s/new/" U, maildir_path(md));
	snprintf(b, sizeof(b), "%s/cur/" U ":2,S", maildir_path(md));
	CHECK(link(a, b) == 0);
	CHECK(maildir_set_flags(md, NULL, U, "S", NULL) == 0);
	CHECK(count(md, "new") == 0);
	CHECK(count(md, "cur") == 1);
	CHECK(holds(md, "cur", U ":2,S", "hello"));

	CHECK(link(b, a) == 0);
	CHECK(maildir_remove(md, NULL, U ":2,S") == 0);
	CHECK(count(md, "new") == 0);
	CHECK(count(md, "cur") == 0);
	maildir_close(md);
}

static void
t_remove(const void *arg)
{
	struct maildir *md = fresh("remove");
	struct maildir *arch = fresh("remove/.Archive");
	struct maildir_index *ix = maildir_index_new();
#define V "1700000001.M1P2Q4.host,S=3"

	(void)arg;
	if (md == NULL || arch == NULL)
		return;
	CHECK(put(md, "new", U, "one") == 0);
	CHECK(put(md, "cur", V ":2,RS", "two") == 0);
	CHECK(maildir_remove(md, ix, U) == 0);
	CHECK(count(md, "new") == 0);
	/* Found through the index (the user answered it locally). */
	CHECK(maildir_remove(md, ix, V ":2,S") == 0);
	CHECK(count(md, "cur") == 0);
	CHECK(maildir_remove(md, ix, V ":2,S") == MAILDIR_MISSING);
	CHECK(maildir_sync(md) == 0);
	/* Moved by the user to another folder: left there. */
	CHECK(put(arch, "cur", U ":2,S", "one") == 0);
	CHECK(maildir_remove(md, ix, U ":2,S") == MAILDIR_MISSING);
	CHECK(holds(arch, "cur", U ":2,S", "one"));
	maildir_index_free(ix);
	maildir_close(arch);
	maildir_close(md);
}

/* A copy with a second link outside the folder (the user's backup):
 * removing it removes it, and says so (0, not MAILDIR_MISSING). */
static void
t_remove_linked_elsewhere(const void *arg)
{
	struct maildir *md = fresh("linked");
	char a[1024], b[1024];

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "cur", U ":2,S", "one") == 0);
	snprintf(a, sizeof(a), "%s/cur/" U ":2,S", maildir_path(md));
	snprintf(b, sizeof(b), "%s/backup", maildir_path(md));
	CHECK(link(a, b) == 0);
	CHECK(maildir_remove(md, NULL, U ":2,S") == 0);
	CHECK(count(md, "cur") == 0);
	CHECK(access(b, F_OK) == 0);
	maildir_close(md);
}

/* Renamed by the user to something that is no longer its unique part:
 * left alone, never a second copy. */
static void
t_unique_changed(const void *arg)
{
	struct maildir *md = fresh("renamed");
	struct mirror_plan p;
	char *nn = NULL;

	(void)arg;
	if (md == NULL)
		return;
	CHECK(put(md, "cur", "mine:2,S", "one") == 0);
	mirror_plan("S", MSG_SEEN | MSG_FLAGGED, 0, &p);
	CHECK(mirror_apply(md, NULL, U ":2,S", &p, &nn) == MAILDIR_MISSING);
	CHECK(nn == NULL);
	mirror_plan("S", 0, 1, &p);
	CHECK(mirror_apply(md, NULL, U ":2,S", &p, &nn) == MAILDIR_MISSING);
	CHECK(holds(md, "cur", "mine:2,S", "one"));
	CHECK(count(md, "cur") == 1 && count(md, "new") == 0);
	maildir_close(md);
}

/* ---- passes interrupted at each step ---- */

#define NMSG 7

/* How a pass is cut short. */
enum cut {
	CUT_NONE,
	CUT_APPLY, /* after `ops` local changes, before maildir_sync */
	CUT_SYNC, /* after maildir_sync, before any record */
	CUT_RECORD /* after `ops` records of the batch */
};

/* A folder: the local Maildir, the state's records (the file name as
 * last recorded; NULL once forgotten) and the server. */
struct sim {
	struct maildir *md;
	char *uniq[NMSG];
	char *rec[NMSG];
	unsigned server[NMSG];
	int gone[NMSG];
};

/* Deliver message i with flags as a run does (tmp/, then new/ or cur/)
 * and record its name. */
static void
sim_deliver(struct sim *s, int i, unsigned flags)
{
	struct maildir_msg *m = maildir_begin(s->md);
	char letters[MIRROR_FLAGSZ], text[32];

	snprintf(text, sizeof(text), "message %d\n", i);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK(maildir_write(m, text, strlen(text)) == 0);
	CHECK(maildir_finish(m) == 0);
	mirror_letters(flags, letters);
	CHECK(maildir_commit(m, letters, 0) == 0);
	s->uniq[i] = strdup(maildir_name(m));
	if (letters[0] != '\0') {
		s->rec[i] = malloc(strlen(s->uniq[i]) + 4 + strlen(letters));
		sprintf(s->rec[i], "%s:2,%s", s->uniq[i], letters);
	} else
		s->rec[i] = strdup(s->uniq[i]);
	maildir_msg_free(m);
}

/* The folder before the pass, and the server's changes since. */
static int
sim_setup(struct sim *s, const char *name)
{
	static const unsigned before[NMSG]
	    = { MSG_SEEN, 0, MSG_SEEN, MSG_SEEN, 0, MSG_FLAGGED, 0 };
	static const unsigned after[NMSG] = { MSG_SEEN | MSG_FLAGGED, MSG_SEEN,
		0, 0, 0, MSG_FLAGGED, MSG_ANSWERED | MSG_SEEN };
	static const int gone[NMSG] = { 0, 0, 0, 1, 1, 0, 0 };
	int i;

	memset(s, 0, sizeof(*s));
	if ((s->md = fresh(name)) == NULL)
		return -1;
	for (i = 0; i < NMSG; i++) {
		sim_deliver(s, i, before[i]);
		s->server[i] = after[i];
		s->gone[i] = gone[i];
	}
	CHECK(maildir_sync(s->md) == 0);
	return 0;
}

static void
sim_free(struct sim *s)
{
	int i;

	for (i = 0; i < NMSG; i++) {
		free(s->uniq[i]);
		free(s->rec[i]);
	}
	maildir_close(s->md);
}

/*
 * One pass in the order of mirror.c: plan, apply, maildir_sync, then the
 * records; cut as told. Returns the number of local changes planned.
 */
static int
sim_pass(struct sim *s, enum cut cut, int ops)
{
	struct maildir_index *ix = maildir_index_new();
	struct mirror_plan p[NMSG];
	char *nn[NMSG];
	int rc[NMSG], i, n = 0, done = 0, gone = 0, local = 0;

	for (i = 0; i < NMSG; i++) {
		nn[i] = NULL;
		rc[i] = -2;
		if (s->rec[i] == NULL)
			continue;
		local++;
		mirror_plan(
		    mirror_info(s->rec[i]), s->server[i], s->gone[i], &p[i]);
		gone += p[i].action == MIRROR_REMOVE;
		n += p[i].action != MIRROR_KEEP;
	}
	CHECK(!mirror_guard_holds(gone, local, 0));
	for (i = 0; i < NMSG; i++) {
		if (s->rec[i] == NULL || p[i].action == MIRROR_KEEP)
			continue;
		if (cut == CUT_APPLY && done == ops)
			break;
		rc[i] = mirror_apply(s->md, ix, s->rec[i], &p[i], &nn[i]);
		CHECK(rc[i] == 0 || rc[i] == MAILDIR_MISSING);
		done++;
	}
	if (cut != CUT_APPLY) {
		CHECK(maildir_sync(s->md) == 0);
		for (i = done = 0; cut != CUT_SYNC && i < NMSG; i++) {
			if (rc[i] == -2 || (cut == CUT_RECORD && done == ops))
				continue;
			done++;
			if (p[i].action == MIRROR_REMOVE) {
				free(s->rec[i]);
				s->rec[i] = NULL;
			} else if (rc[i] == 0) {
				free(s->rec[i]);
				s->rec[i] = nn[i];
				nn[i] = NULL;
			}
		}
	}
	for (i = 0; i < NMSG; i++)
		free(nn[i]);
	maildir_index_free(ix);
	return n;
}

/* Count a difference, and say what it is unless quiet. */
#define DIFFER(cond, quiet, n)                                                 \
	do {                                                                   \
		if (cond) {                                                    \
			if (!(quiet))                                          \
				fprintf(stderr, "%s:%d: differs: %s\n",        \
				    __FILE__, __LINE__, #cond);                \
			(n)++;                                                 \
		}                                                              \
	} while (0)

/*
 * How far the Maildir and the records are from the server (0: equal):
 * each message there has exactly one file, with the server's letters
 * (plus extra, not standard, letters for message 0 when the user added
 * them), recorded under its name; each message gone has no file and no
 * record; nothing else is in new/, cur/ or tmp/.
 */
static int
sim_differences(struct sim *s, const char *extra, int quiet)
{
	char want[MAILDIR_INFOSZ], letters[MIRROR_FLAGSZ], *w;
	int i, n = 0, d = 0;

	for (i = 0; i < NMSG; i++) {
		if (s->gone[i]) {
			DIFFER(s->rec[i] != NULL, quiet, d);
			DIFFER(maildir_find(s->md, NULL, s->uniq[i], NULL, &w)
				!= MAILDIR_MISSING,
			    quiet, d);
			free(w);
			continue;
		}
		n++;
		DIFFER(s->rec[i] == NULL, quiet, d);
		if (s->rec[i] == NULL)
			continue;
		mirror_letters(s->server[i], letters);
		DIFFER(maildir_info_merge(
			   i == 0 ? extra : "", letters, want, sizeof(want))
			!= 0,
		    quiet, d);
		DIFFER(strcmp(mirror_info(s->rec[i]), want) != 0, quiet, d);
		DIFFER(maildir_find(s->md, NULL, s->rec[i], NULL, &w) != 0,
		    quiet, d);
		DIFFER(w != NULL && strcmp(w + 4, s->rec[i]) != 0, quiet, d);
		free(w);
	}
	DIFFER(count(s->md, "new") + count(s->md, "cur") != n, quiet, d);
	DIFFER(count(s->md, "tmp") != 0, quiet, d);
	return d;
}

static void
sim_check(struct sim *s, const char *extra)
{
	CHECK(sim_differences(s, extra, 0) == 0);
}

struct icase {
	const char *name;
	enum cut cut;
	int ops;
};

static const struct icase icases[] = {
	{ "interrupted: before any change", CUT_APPLY, 0 },
	{ "interrupted: after 1 change", CUT_APPLY, 1 },
	{ "interrupted: after 2 changes", CUT_APPLY, 2 },
	{ "interrupted: after 3 changes", CUT_APPLY, 3 },
	{ "interrupted: after 4 changes", CUT_APPLY, 4 },
	{ "interrupted: after 5 changes", CUT_APPLY, 5 },
	{ "interrupted: after every change, before the sync", CUT_APPLY, 6 },
	{ "interrupted: after the sync, no record", CUT_SYNC, 0 },
	{ "interrupted: 1 record written", CUT_RECORD, 1 },
	{ "interrupted: 3 records written", CUT_RECORD, 3 },
	{ "interrupted: 5 records written", CUT_RECORD, 5 },
	{ "not interrupted", CUT_NONE, 0 },
};

static void
t_interrupted(const void *arg)
{
	const struct icase *c = arg;
	struct sim s;
	char name[64];

	snprintf(name, sizeof(name), "sim-%d-%d", (int)c->cut, c->ops);
	if (sim_setup(&s, name) == -1) {
		CHECK(0);
		return;
	}
	/* Messages 0-2 and 6 change flags, 3-4 are gone, 5 is as it was:
	 * six changes. */
	CHECK(sim_pass(&s, c->cut, c->ops) == 6);
	/* The next run repeats the pass, to the end. */
	sim_pass(&s, CUT_NONE, 0);
	sim_check(&s, "");
	/* And the one after has nothing left to do. */
	CHECK(sim_pass(&s, CUT_NONE, 0) == 0);
	sim_check(&s, "");
	sim_free(&s);
}

/* The user's mail reader renamed files (letters, new/ to cur/) before
 * an interrupted pass: still one file each, the user's keyword kept. */
static void
t_interrupted_user_renamed(const void *arg)
{
	struct sim s;
	char a[1024], b[1024];

	(void)arg;
	if (sim_setup(&s, "sim-user") == -1)
		return;
	snprintf(a, sizeof(a), "cur/%s", s.rec[0]);
	snprintf(b, sizeof(b), "cur/%s:2,Sa", s.uniq[0]);
	CHECK(mv(s.md, a, b) == 0);
	snprintf(a, sizeof(a), "new/%s", s.rec[6]);
	snprintf(b, sizeof(b), "cur/%s:2,", s.uniq[6]);
	CHECK(mv(s.md, a, b) == 0);
	snprintf(a, sizeof(a), "new/%s", s.rec[4]);
	snprintf(b, sizeof(b), "cur/%s:2,S", s.uniq[4]);
	CHECK(mv(s.md, a, b) == 0);
	CHECK(sim_pass(&s, CUT_APPLY, 3) == 6);
	sim_pass(&s, CUT_NONE, 0);
	sim_check(&s, "a");
	CHECK(sim_pass(&s, CUT_NONE, 0) == 0);
	sim_free(&s);
}

/* A rename cut between its link and its unlink (no renameat2): the
 * next pass leaves one file. */
static void
t_interrupted_link(const void *arg)
{
	struct sim s;
	char a[1024], b[1024];

	(void)arg;
	if (sim_setup(&s, "sim-link") == -1)
		return;
	/* Message 1 (new/, no flags) was being given S. */
	snprintf(a, sizeof(a), "%s/new/%s", maildir_path(s.md), s.rec[1]);
	snprintf(b, sizeof(b), "%s/cur/%s:2,S", maildir_path(s.md), s.uniq[1]);
	CHECK(link(a, b) == 0);
	/* Message 4 (new/, gone) was being given S before it went. */
	snprintf(a, sizeof(a), "%s/new/%s", maildir_path(s.md), s.rec[4]);
	snprintf(b, sizeof(b), "%s/cur/%s:2,S", maildir_path(s.md), s.uniq[4]);
	CHECK(link(a, b) == 0);
	sim_pass(&s, CUT_NONE, 0);
	sim_check(&s, "");
	sim_free(&s);
}

/* A file left in tmp/ by an interrupted delivery is not a message of
 * the pass and is not touched by it. */
static void
t_stray_tmp(const void *arg)
{
	struct sim s;
	char p[1024];

	(void)arg;
	if (sim_setup(&s, "sim-tmp") == -1)
		return;
	CHECK(put(s.md, "tmp", s.uniq[3], "message 3\n") == 0);
	sim_pass(&s, CUT_NONE, 0);
	CHECK(holds(s.md, "tmp", s.uniq[3], "message 3\n"));
	snprintf(p, sizeof(p), "%s/tmp/%s", maildir_path(s.md), s.uniq[3]);
	CHECK(unlink(p) == 0);
	sim_check(&s, "");
	sim_free(&s);
}

/*
 * The control: in the wrong order (records first, then the local
 * changes), a pass cut between the two leaves messages with the old
 * letters and a removed message's file behind, and the next run, which
 * finds nothing to do, never mends it. The check above sees that.
 */
static void
t_wrong_order(const void *arg)
{
	struct mirror_plan p;
	struct sim s;
	int i;

	(void)arg;
	if (sim_setup(&s, "sim-wrong") == -1)
		return;
	for (i = 0; i < NMSG; i++) {
		mirror_plan(mirror_info(s.rec[i]), s.server[i], s.gone[i], &p);
		free(s.rec[i]);
		s.rec[i] = NULL;
		if (p.action == MIRROR_REMOVE)
			continue;
		s.rec[i] = malloc(strlen(s.uniq[i]) + 4 + strlen(p.flags));
		sprintf(s.rec[i], "%s:2,%s", s.uniq[i], p.flags);
	}
	CHECK(sim_pass(&s, CUT_NONE, 0) == 0);
	CHECK(sim_differences(&s, "", 1) > 0);
	sim_free(&s);
}

int
main(void)
{
	size_t i;
	int rc;

	snprintf(tdir, sizeof(tdir), "/tmp/mailfetch-test-mirror.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++)
		T_RUN(lcases[i].name, t_letters, &lcases[i]);
	T_RUN("flags of info letters", t_flags_of_info, NULL);
	T_RUN("info of a file name", t_info, NULL);
	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++)
		T_RUN(pcases[i].name, t_plan, &pcases[i]);
	for (i = 0; i < sizeof(gcases) / sizeof(gcases[0]); i++)
		T_RUN(gcases[i].name, t_guard, &gcases[i]);
	T_RUN("guard message", t_guard_message, NULL);
	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++)
		T_RUN(mcases[i].name, t_merge, &mcases[i]);
	T_RUN("merge: output too small", t_merge_small, NULL);
	T_RUN("find in new/", t_find_new, NULL);
	T_RUN("find by direct tries, no directory read", t_find_direct, NULL);
	T_RUN("find other letters: one directory read", t_find_scan, NULL);
	T_RUN("find after the index went stale", t_find_stale_index, NULL);
	T_RUN("not found: tmp/, bad names", t_find_missing, NULL);
	T_RUN("set flags", t_set_flags, NULL);
	T_RUN("set flags never overwrites", t_set_flags_no_overwrite, NULL);
	T_RUN("two links of one file", t_two_links, NULL);
	T_RUN("remove", t_remove, NULL);
	T_RUN(
	    "remove a copy linked elsewhere", t_remove_linked_elsewhere, NULL);
	T_RUN("unique part changed by the user", t_unique_changed, NULL);
	for (i = 0; i < sizeof(icases) / sizeof(icases[0]); i++)
		T_RUN(icases[i].name, t_interrupted, &icases[i]);
	T_RUN("interrupted after the user renamed files",
	    t_interrupted_user_renamed, NULL);
	T_RUN("interrupted link and unlink", t_interrupted_link, NULL);
	T_RUN("stray tmp file", t_stray_tmp, NULL);
	T_RUN("control: the wrong order is caught", t_wrong_order, NULL);
	rc = T_DONE();
	t_rmtree(tdir);
	return rc;
}
