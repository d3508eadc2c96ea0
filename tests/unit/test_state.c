/*
 * Unit tests for cmd/state.c, in a fresh directory under /tmp.
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
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "../../cmd/state.h"

static char tdir[64];
static int seq;

/* A fresh state file path for each case. */
static const char *
newpath(void)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/s%d/acct.state", tdir, ++seq);
	return p;
}

/* Journal an intent for the file sub/name ("" sub: the Maildir). */
static int
intend(struct state *st, const char *folder, uint32_t uv, const char *uid,
    const char *sub, const char *name)
{
	struct state_intent in = { folder, uv, uid, sub, name, 0 };

	return state_intend(st, &in);
}

static const char *
jpath(const char *path)
{
	static char p[300];

	snprintf(p, sizeof(p), "%s.journal", path);
	return p;
}

static int
put(const char *path, const char *data, size_t len)
{
	char dir[256], *s;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((s = strrchr(dir, '/')) != NULL) {
		*s = '\0';
		mkdir(dir, 0700);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static long
slurp(const char *path, char *buf, size_t cap)
{
	long n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((r = read(fd, buf + n, cap - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = '\0';
	return n;
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* A new state on path, locked and loaded; NULL on failure. */
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

/* Open the state at path into st, or fail the case and return. */
#define OPEN_OR_RETURN(st, path)                                               \
	do {                                                                   \
		(st) = open_state(path);                                       \
		CHECK((st) != NULL);                                           \
		if ((st) == NULL)                                              \
			return;                                                \
	} while (0)

/* Free st (a run that ends) and open the state at path again. */
#define REOPEN_OR_RETURN(st, path)                                             \
	do {                                                                   \
		state_free(st);                                                \
		OPEN_OR_RETURN(st, path);                                      \
	} while (0)

static void
t_missing(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	char dir[256];

	(void)arg;
	st = state_new(p);
	CHECK(state_load(st, 1) == 0);
	CHECK(state_count(st) == 0);
	CHECK(state_npending(st) == 0);
	CHECK(state_pending(st, 0) == NULL);
	CHECK(state_uidvalidity(st, "INBOX") == 0);
	CHECK(state_lookup(st, "INBOX", 1, "1") == 0);
	state_free(st);
	snprintf(dir, sizeof(dir), "%s/s%d", tdir, seq);
	CHECK(!exists(dir));
	st = state_new(p);
	CHECK(state_load(st, 0) == 0);
	CHECK(state_count(st) == 0);
	state_free(st);
	CHECK(!exists(dir));
}

static const char *folders[] = { "INBOX", "Sent Items", "tab\there", "50% off",
	"\xc3\x9cn\xc3\xaf", "-", "new\nline\r", "" };
static const char *uids[] = { "1", "uid with space", "t\tab", "%41",
	"\xe2\x82\xac", "line\nfeed", "x\x7f", "4294967295" };

static void
t_roundtrip(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	size_t i, j;
	int sync = *(const int *)arg;

	OPEN_OR_RETURN(st, p);
	for (i = 0; i < 8; i++)
		for (j = 0; j < 8; j++)
			CHECK(
			    state_add(st, folders[i], (uint32_t)(i * 1000 + 7),
				uids[j], (int64_t)(1600000000 + i * 10 + j))
			    == 0);
	CHECK(state_count(st) == 64);
	if (sync)
		CHECK(state_sync(st) == 0);
	else
		CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(exists(p) == !sync);
	CHECK(exists(jpath(p)) == sync);

	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 64);
	for (i = 0; i < 8; i++) {
		CHECK(state_uidvalidity(st, folders[i]) == i * 1000 + 7);
		for (j = 0; j < 8; j++)
			CHECK(state_lookup(st, folders[i],
				  (uint32_t)(i * 1000 + 7), uids[j])
			    == (int64_t)(1600000000 + i * 10 + j));
	}
	state_free(st);
}

static void
t_lookup(const void *arg)
{
	struct state *st;

	(void)arg;
	OPEN_OR_RETURN(st, newpath());
	CHECK(state_add(st, "INBOX", 5, "42", 1000) == 0);
	CHECK(state_lookup(st, "INBOX", 5, "42") == 1000);
	CHECK(state_lookup(st, "INBOX", 5, "43") == 0);
	CHECK(state_lookup(st, "INBOX", 5, "4") == 0);
	CHECK(state_lookup(st, "INBOX", 5, "420") == 0);
	CHECK(state_lookup(st, "INBOX", 6, "42") == 0);
	CHECK(state_lookup(st, "Inbox", 5, "42") == 0);
	CHECK(state_lookup(st, "Other", 5, "42") == 0);
	/* The same uid in another folder is another record. */
	CHECK(state_add(st, "Other", 5, "42", 2000) == 0);
	CHECK(state_lookup(st, "INBOX", 5, "42") == 1000);
	CHECK(state_lookup(st, "Other", 5, "42") == 2000);
	CHECK(state_count(st) == 2);
	/* A time of 0 is stored as 1, so it still reads as recorded. */
	CHECK(state_add(st, "INBOX", 5, "zero", 0) == 0);
	CHECK(state_lookup(st, "INBOX", 5, "zero") == 1);
	CHECK(state_add(st, "INBOX", 5, "", 10) == -1);
	state_free(st);
}

static void
t_earliest(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	int save = *(const int *)arg;

	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 1, "a", 100) == 0);
	CHECK(state_add(st, "INBOX", 1, "a", 50) == 0);
	CHECK(state_add(st, "INBOX", 1, "a", 200) == 0);
	CHECK(state_lookup(st, "INBOX", 1, "a") == 50);
	CHECK(state_count(st) == 1);
	CHECK(save ? state_save(st) == 0 : state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_lookup(st, "INBOX", 1, "a") == 50);
	CHECK(state_count(st) == 1);
	/* A later download of it keeps the first time. */
	CHECK(state_add(st, "INBOX", 1, "a", 300) == 0);
	CHECK(state_sync(st) == 0);
	state_free(st);
	st = open_state(p);
	CHECK(st != NULL);
	if (st != NULL)
		CHECK(state_lookup(st, "INBOX", 1, "a") == 50);
	state_free(st);
}

/* A crash: records synced but never saved come back from the journal;
 * records not synced do not. */
static void
t_journal_replay(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	char buf[4096];

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 9, "1", 111) == 0);
	CHECK(state_add(st, "INBOX", 9, "2", 222) == 0);
	CHECK(state_sync(st) == 0);
	CHECK(state_add(st, "INBOX", 9, "3", 333) == 0);
	state_free(st);
	CHECK(!exists(p));
	CHECK(slurp(jpath(p), buf, sizeof(buf)) > 0);
	CHECK(strncmp(buf, "mailfetch-journal 2\n", 20) == 0);
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 2);
	CHECK(state_lookup(st, "INBOX", 9, "1") == 111);
	CHECK(state_lookup(st, "INBOX", 9, "2") == 222);
	CHECK(state_lookup(st, "INBOX", 9, "3") == 0);
	CHECK(state_uidvalidity(st, "INBOX") == 9);
	/* Appending after a replay, then saving. */
	CHECK(state_add(st, "INBOX", 9, "3", 333) == 0);
	CHECK(state_sync(st) == 0);
	CHECK(state_save(st) == 0);
	CHECK(exists(p));
	CHECK(!exists(jpath(p)));
	state_free(st);
	st = open_state(p);
	CHECK(st != NULL);
	if (st != NULL)
		CHECK(state_count(st) == 3);
	state_free(st);
}

static void
t_intent_pending(const void *arg)
{
	const struct state_intent *pd;
	struct state *st;
	const char *p = newpath();
	int save = *(const int *)arg;
	time_t t0 = time(NULL);

	OPEN_OR_RETURN(st, p);
	CHECK(intend(st, "Lists/foo", 77, "u 1", ".Lists.foo", "1.M2P3Q4.h,S=5")
	    == 0);
	CHECK(intend(st, "Lists/foo", 77, "u2", ".Lists.foo", "1.M2P3Q5.h,S=6")
	    == 0);
	CHECK(state_add(st, "Lists/foo", 77, "u2", 500) == 0);
	CHECK(state_count(st) == 1);
	CHECK(save ? state_save(st) == 0 : state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_npending(st) == 1);
	pd = state_pending(st, 0);
	CHECK(pd != NULL);
	if (pd != NULL) {
		CHECK_STR(pd->folder, "Lists/foo");
		CHECK(pd->uidvalidity == 77);
		CHECK_STR(pd->uid, "u 1");
		CHECK_STR(pd->sub, ".Lists.foo");
		CHECK_STR(pd->name, "1.M2P3Q4.h,S=5");
		CHECK(pd->when >= (int64_t)t0 && pd->when <= time(NULL));
	}
	CHECK(state_pending(st, 1) == NULL);
	CHECK(state_lookup(st, "Lists/foo", 77, "u 1") == 0);
	CHECK(state_lookup(st, "Lists/foo", 77, "u2") == 500);
	/* The caller finds the file and records it: settled next time. */
	CHECK(state_add(st, pd->folder, pd->uidvalidity, pd->uid, 600) == 0);
	CHECK_STR(pd->name, "1.M2P3Q4.h,S=5");
	CHECK(state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_npending(st) == 0);
	CHECK(state_lookup(st, "Lists/foo", 77, "u 1") == 600);
	CHECK(state_count(st) == 2);
	/* Pending intents from the last load are dropped by a save. */
	state_free(st);
}

static void
t_intent_bad(const void *arg)
{
	static const char *const bad[][2] = {
		{ "", "" },
		{ "a", "b" },
		{ ".", "b" },
		{ ".a/b", "c" },
		{ ".a", "" },
		{ ".a", ".." },
		{ ".a", "b/c" },
		{ "", "/b" },
		{ "", ".." },
		{ "", "." },
	};
	struct state *st;
	size_t i;

	(void)arg;
	OPEN_OR_RETURN(st, newpath());
	CHECK(intend(st, "INBOX", 1, "1", "..", "x") == -1);
	CHECK(state_errkind(st) == STATE_EOS);
	CHECK(state_errno(st) == EINVAL);
	/* Only NAME or .SUBFOLDER/NAME: nothing can point outside. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(intend(st, "INBOX", 1, "1", bad[i][0], bad[i][1]) == -1);
	CHECK(intend(st, "INBOX", 1, "1", ".Lists.foo", "1.M2P3Q4.h") == 0);
	CHECK(intend(st, "INBOX", 1, "2", "", "1.M2P3Q5.h") == 0);
	state_free(st);
}

static void
t_torn_journal(const void *arg)
{
	const char *tail = arg;
	struct state *st;
	const char *p = newpath();
	char body[512], buf[4096];

	size_t n;

	n = (size_t)snprintf(body, sizeof(body),
	    "mailfetch-journal 1\nG\t0\nM\tINBOX\t3\t100\t1\n%s", tail);
	/* "0" stands for a tail of NUL bytes, as a crash can leave. */
	if (strcmp(tail, "0") == 0) {
		memset(body + n - 1, 0, 100);
		n += 99;
	}
	CHECK(put(jpath(p), body, n) == 0);
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 1);
	CHECK(state_lookup(st, "INBOX", 3, "1") == 100);
	CHECK(state_lookup(st, "INBOX", 3, "2") == 0);
	/* The next append starts on a fresh line. */
	CHECK(state_add(st, "INBOX", 3, "5", 500) == 0);
	CHECK(state_sync(st) == 0);
	state_free(st);
	CHECK(slurp(jpath(p), buf, sizeof(buf)) > 0);
	/* The torn tail is gone: no fragment, no NUL byte. */
	if (tail[0] != '\0' && strcmp(tail, "0") != 0)
		CHECK(strstr(buf, tail) == NULL);
	CHECK(strlen(buf) == (size_t)slurp(jpath(p), buf, sizeof(buf)));
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 2);
	CHECK(state_lookup(st, "INBOX", 3, "5") == 500);
	state_free(st);
}

/* A journal cut short before its first record: it holds nothing, and
 * the next sync starts it afresh. */
struct tornhead {
	const char *name;
	const char *journal;
};

static const struct tornhead tornheads[] = {
	{ "torn journal header", "mailfetch-jou" },
	{ "journal cut inside its generation line",
	    "mailfetch-journal 1\nG\t" },
	{ "empty journal is no journal", "" },
};

static void
t_torn_header(const void *arg)
{
	const struct tornhead *c = arg;
	struct state *st;
	const char *p = newpath();

	CHECK(put(jpath(p), c->journal, strlen(c->journal)) == 0);
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 0);
	CHECK(state_add(st, "-", 0, "abc", 10) == 0);
	CHECK(state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_lookup(st, "-", 0, "abc") == 10);
	state_free(st);
}

struct ccase {
	const char *name;
	int journal; /* the content goes to the journal, else the state */
	const char *content;
	size_t len; /* 0: strlen */
	const char *msg; /* expected after the path in the error */
};

#define SH "mailfetch-state 1\nG\t1\n"
#define JH "mailfetch-journal 1\nG\t0\n"

static const struct ccase ccases[] = {
	{ "corrupt: flags= out of order", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tflags=SF\n", 0,
	    ":4: bad flags= letters" },
	{ "corrupt: flags= twice", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tflags=S\tflags=S\n", 0,
	    ":4: unknown or repeated attribute" },
	{ "corrupt: file= outside the Maildir", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tfile=../x\n", 0,
	    ":4: bad file= name" },
	{ "corrupt: modseq 0", 0, SH "F\tINBOX\t1\t0\t0\n", 0,
	    ":3: bad modseq" },
	{ "corrupt: uidnext 0 alone", 0, SH "F\tINBOX\t1\t0\n", 0,
	    ":3: bad uidnext" },
	{ "corrupt: F line with six fields", 0, SH "F\tINBOX\t1\t2\t3\t4\n", 0,
	    ":3: wrong number of fields" },
	{ "corrupt: X line in the state file", 0,
	    SH "F\tINBOX\t1\nX\tINBOX\t1\t5\t1\n", 0, ":4: unknown line type" },
	{ "corrupt: empty state file", 0, "", 0, ":1: empty file" },
	{ "corrupt: bad header", 0, "mailfetch-state 3\nG\t1\n", 0,
	    ":1: bad header" },
	{ "corrupt: header with CR", 0, "mailfetch-state 1\r\nG\t1\n", 0,
	    ":1: bad header" },
	{ "corrupt: header only", 0, "mailfetch-state 1\n", 0,
	    ":2: expected the generation line" },
	{ "corrupt: header only, no newline", 0, "mailfetch-state 1", 0,
	    ":1: last line has no newline" },
	{ "corrupt: bad generation line", 0, "mailfetch-state 1\nF\tINBOX\t1\n",
	    0, ":2: expected the generation line" },
	{ "corrupt: garbage line", 0, SH "F\tINBOX\t1\nhello world\n", 0,
	    ":4: unknown line type" },
	{ "corrupt: missing final newline", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t100\t1", 0,
	    ":4: last line has no newline" },
	{ "corrupt: record before its folder", 0, SH "M\tINBOX\t1\t100\t1\n", 0,
	    ":3: folder not declared" },
	{ "corrupt: record uidvalidity differs", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t2\t100\t1\n", 0, ":4: uidvalidity" },
	{ "corrupt: folder twice", 0, SH "F\tINBOX\t1\nF\tINBOX\t1\n", 0,
	    ":4: folder declared twice" },
	{ "corrupt: time 0", 0, SH "F\tINBOX\t1\nM\tINBOX\t1\t0\t1\n", 0,
	    ":4: bad time" },
	{ "corrupt: time not a number", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t12x\t1\n", 0, ":4: bad time" },
	{ "corrupt: uidvalidity too big", 0, SH "F\tINBOX\t4294967296\n", 0,
	    ":3: bad uidvalidity" },
	{ "corrupt: empty uid", 0, SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t\n", 0,
	    ":4: bad uid" },
	{ "corrupt: bad escape", 0, SH "F\tIN%4\t1\n", 0,
	    ":3: bad folder name" },
	{ "corrupt: escaped NUL", 0, SH "F\tIN%00\t1\n", 0,
	    ":3: bad folder name" },
	{ "corrupt: raw space", 0, SH "F\tSent Items\t1\n", 0,
	    ":3: bad folder name" },
	{ "corrupt: too many fields", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\t2\t3\t4\t5\t6\n", 0,
	    ":4: too many fields" },
	{ "corrupt: unknown attribute", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tflag=1\n", 0,
	    ":4: unknown or repeated attribute" },
	{ "corrupt: attribute twice", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tgone=9\tgone=9\n", 0,
	    ":4: unknown or repeated attribute" },
	{ "corrupt: short= received not below announced", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tshort=20/20\n", 0,
	    ":4: bad short= sizes" },
	{ "corrupt: short= without slash", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tshort=20\n", 0,
	    ":4: bad short= sizes" },
	{ "corrupt: grew=0", 0, SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tgrew=0\n",
	    0, ":4: bad grew= size" },
	{ "corrupt: grew= and short= together", 0,
	    SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tgrew=9\tshort=9/8\n", 0,
	    ":4: short= and grew= together" },
	{ "corrupt: gone=0", 0, SH "F\tINBOX\t1\nM\tINBOX\t1\t5\t1\tgone=0\n",
	    0, ":4: bad gone= time" },
	{ "corrupt: attribute on an intent", 1,
	    JH "I\tINBOX\t3\t100\t1\tname\tgone=9\n", 0,
	    ":3: wrong number of fields" },
	{ "corrupt: too few fields", 0, SH "F\tINBOX\n", 0,
	    ":3: wrong number of fields" },
	{ "corrupt: NUL byte", 0, SH "F\tIN\0BOX\t1\n",
	    sizeof(SH "F\tIN\0BOX\t1\n") - 1, ":3: NUL byte" },
	{ "corrupt: empty line", 0, SH "F\tINBOX\t1\n\n", 0,
	    ":4: unknown line type" },
	{ "corrupt: second generation line", 0, SH "G\t2\n", 0,
	    ":3: unknown line type" },
	{ "corrupt: journal bad header", 1, "mailfetch-state 1\nG\t0\n", 0,
	    ":1: bad header" },
	{ "corrupt: journal without generation", 1,
	    "mailfetch-journal 1\nM\tINBOX\t3\t100\t1\n", 0,
	    ":2: expected the generation line" },
	{ "corrupt: journal line mid-file", 1,
	    JH "M\tINBOX\t3\t100\t1\nM\tINBOX\tx\t100\t2\n"
	       "M\tINBOX\t3\t100\t3\n",
	    0, ":4: bad uidvalidity" },
	{ "corrupt: journal bad last complete line", 1,
	    JH "M\tINBOX\t3\t100\t1\nQ\n", 0, ":4: unknown line type" },
	{ "corrupt: journal bad file name", 1, JH "I\tINBOX\t3\t100\t1\ta/b\n",
	    0, ":3: bad file name" },
	{ "corrupt: uidnext 0", 0, SH "F\tINBOX\t1\t0\n", 0,
	    ":3: bad uidnext" },
	{ "corrupt: uidnext not a number", 0, SH "F\tINBOX\t1\t7x\n", 0,
	    ":3: bad uidnext" },
	{ "corrupt: uidnext over 32 bits", 0, SH "F\tINBOX\t1\t4294967296\n", 0,
	    ":3: bad uidnext" },
	{ "corrupt: uidnext in the journal", 1, JH "F\tINBOX\t3\t100\n", 0,
	    ":3: wrong number of fields" },
};

static void
t_corrupt(const void *arg)
{
	const struct ccase *c = arg;
	struct state *st;
	const char *p = newpath();
	const char *file = c->journal ? jpath(p) : p;
	char want[512];
	int ro;

	CHECK(put(file, c->content, c->len ? c->len : strlen(c->content)) == 0);
	snprintf(want, sizeof(want), "%s%s", file, c->msg);
	for (ro = 0; ro < 2; ro++) {
		st = state_new(p);
		CHECK(state_load(st, ro) == -1);
		CHECK(state_errkind(st) == STATE_ECORRUPT);
		if (strncmp(state_error(st), want, strlen(want)) != 0) {
			fprintf(stderr, "got \"%s\", want \"%s...\"\n",
			    state_error(st), want);
			t_case_failed = 1;
		}
		state_free(st);
	}
}

static void
t_reset_folder(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	int save = *(const int *)arg;

	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 1, "a", 10) == 0);
	CHECK(state_add(st, "INBOX", 1, "b", 10) == 0);
	CHECK(state_add(st, "Other", 1, "a", 10) == 0);
	CHECK(state_save(st) == 0);
	state_reset_folder(st, "INBOX", 2);
	CHECK(state_uidvalidity(st, "INBOX") == 2);
	CHECK(state_lookup(st, "INBOX", 1, "a") == 0);
	CHECK(state_lookup(st, "INBOX", 2, "a") == 0);
	CHECK(state_count(st) == 1);
	CHECK(state_add(st, "INBOX", 2, "b", 20) == 0);
	CHECK(save ? state_save(st) == 0 : state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_uidvalidity(st, "INBOX") == 2);
	CHECK(state_lookup(st, "INBOX", 2, "a") == 0);
	CHECK(state_lookup(st, "INBOX", 2, "b") == 20);
	CHECK(state_lookup(st, "INBOX", 1, "b") == 0);
	CHECK(state_lookup(st, "Other", 1, "a") == 10);
	CHECK(state_count(st) == 2);
	/* A reset to the same UIDVALIDITY voids the records, too. */
	state_reset_folder(st, "Other", 1);
	CHECK(state_lookup(st, "Other", 1, "a") == 0);
	CHECK(state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_lookup(st, "Other", 1, "a") == 0);
	CHECK(state_uidvalidity(st, "Other") == 1);
	CHECK(state_count(st) == 1);
	state_free(st);
}

/* state_add with a new UIDVALIDITY voids the folder's old records. */
static void
t_uidvalidity_change(const void *arg)
{
	struct state *st;
	const char *p = newpath();

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 1, "a", 10) == 0);
	CHECK(state_sync(st) == 0);
	CHECK(state_add(st, "INBOX", 2, "b", 20) == 0);
	CHECK(state_lookup(st, "INBOX", 1, "a") == 0);
	CHECK(state_lookup(st, "INBOX", 2, "a") == 0);
	CHECK(state_count(st) == 1);
	CHECK(state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_uidvalidity(st, "INBOX") == 2);
	CHECK(state_lookup(st, "INBOX", 2, "a") == 0);
	CHECK(state_lookup(st, "INBOX", 2, "b") == 20);
	CHECK(state_count(st) == 1);
	state_free(st);
}

#define T0 1700000000

static void
t_prune(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	int64_t oldest;

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "X", 1, "a", 10) == 0);
	CHECK(state_add(st, "X", 1, "b", 10) == 0);
	CHECK(state_add(st, "X", 1, "c", 10) == 0);
	CHECK(state_add(st, "Y", 1, "d", 10) == 0);
	CHECK(state_save(st) == 0);
	REOPEN_OR_RETURN(st, p);
	state_mark(st, "X", 1, "a");
	state_mark(st, "X", 1, "zzz");
	state_mark(st, "X", 2, "b");
	CHECK(state_add(st, "X", 1, "e", 20) == 0);
	/* b and c are missing from the listing: kept, noted missing. */
	state_prune(st, "X", T0);
	CHECK(state_lookup(st, "X", 1, "a") == 10);
	CHECK(state_lookup(st, "X", 1, "b") == 10);
	CHECK(state_lookup(st, "X", 1, "c") == 10);
	CHECK(state_lookup(st, "X", 1, "e") == 20);
	CHECK(state_lookup(st, "Y", 1, "d") == 10);
	CHECK(state_count(st) == 5);
	CHECK(state_folder_count(st, "X", 1, &oldest) == 2 && oldest == 10);
	state_prune(st, "nonexistent", T0);
	CHECK(state_count(st) == 5);
	CHECK(state_save(st) == 0);
	state_free(st);

	/* The note survives a save; c comes back, b stays missing. */
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 5);
	CHECK(state_folder_count(st, "X", 1, &oldest) == 2);
	state_mark(st, "X", 1, "a");
	state_mark(st, "X", 1, "c");
	state_mark(st, "X", 1, "e");
	state_prune(st, "X", T0 + STATE_KEEP_GONE - 1);
	CHECK(state_lookup(st, "X", 1, "b") == 10);
	CHECK(state_folder_count(st, "X", 1, &oldest) == 3);
	CHECK(state_save(st) == 0);
	state_free(st);

	/* 30 days after b went missing it is forgotten; c, listed again
	 * since, is not, and neither is a clock moved back. */
	OPEN_OR_RETURN(st, p);
	state_mark(st, "X", 1, "a");
	state_mark(st, "X", 1, "c");
	state_mark(st, "X", 1, "e");
	state_prune(st, "X", T0 - 100);
	CHECK(state_lookup(st, "X", 1, "b") == 10);
	state_prune(st, "X", T0 + STATE_KEEP_GONE);
	CHECK(state_lookup(st, "X", 1, "b") == 0);
	CHECK(state_lookup(st, "X", 1, "a") == 10);
	CHECK(state_lookup(st, "X", 1, "c") == 10);
	CHECK(state_lookup(st, "Y", 1, "d") == 10);
	CHECK(state_count(st) == 4);
	CHECK(state_save(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 4);
	CHECK(state_lookup(st, "X", 1, "b") == 0);
	CHECK(state_folder_count(st, "X", 1, &oldest) == 3);
	state_free(st);
}

/* A record that arrived short keeps both sizes, through the journal
 * and through a save; whole records have none. */
static void
t_short(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	uint64_t a, r;
	char buf[4096];
	int pass;

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add_short(st, "INBOX", 7, "1", 100, 5017, 20) == 0);
	CHECK(state_add_short(st, "INBOX", 7, "2", 100, 20, 20) == 0);
	CHECK(state_add(st, "INBOX", 7, "3", 100) == 0);
	CHECK(state_sync(st) == 0);
	state_free(st);
	CHECK(slurp(jpath(p), buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "M\tINBOX\t7\t100\t1\tshort=5017/20\n") != NULL);
	for (pass = 0; pass < 2; pass++) {
		/* Pass 0 replays the journal, pass 1 reads the saved file. */
		st = open_state(p);
		CHECK(st != NULL);
		if (st == NULL)
			return;
		CHECK(state_short(st, "INBOX", 7, "1", &a, &r) == 1);
		CHECK(a == 5017 && r == 20);
		CHECK(state_short(st, "INBOX", 7, "2", &a, &r) == 0);
		CHECK(a == 0 && r == 0);
		CHECK(state_short(st, "INBOX", 7, "3", &a, &r) == 0);
		CHECK(state_short(st, "INBOX", 8, "1", &a, &r) == 0);
		CHECK(state_lookup(st, "INBOX", 7, "1") == 100);
		CHECK(state_save(st) == 0);
		state_free(st);
	}
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "M\tINBOX\t7\t100\t1\tshort=5017/20\n") != NULL);
	CHECK(strstr(buf, "M\tINBOX\t7\t100\t2\n") != NULL);
	/* A UIDVALIDITY change voids it with the record. */
	OPEN_OR_RETURN(st, p);
	state_reset_folder(st, "INBOX", 8);
	CHECK(state_add(st, "INBOX", 8, "1", 200) == 0);
	CHECK(state_short(st, "INBOX", 8, "1", &a, &r) == 0);
	state_free(st);
}

/*
 * A message that grew past max_size: remembered through the journal and
 * a save, but not as a download (no lookup time, not counted), pruned
 * as any record, and replaced by a download.
 */
static void
t_grew(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	uint64_t lim;
	int64_t oldest;
	char buf[4096];
	int pass;

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 7, "1", 100) == 0);
	CHECK(state_add_grew(st, "INBOX", 7, "2", 150, 1048576) == 0);
	CHECK(state_add_grew(st, "INBOX", 7, "3", 150, 1000) == 0);
	/* A download stands: no grew record over it. */
	CHECK(state_add_grew(st, "INBOX", 7, "1", 160, 1000) == 0);
	CHECK(state_sync(st) == 0);
	state_free(st);
	CHECK(slurp(jpath(p), buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "M\tINBOX\t7\t150\t2\tgrew=1048576\n") != NULL);
	for (pass = 0; pass < 2; pass++) {
		/* Pass 0 replays the journal, pass 1 reads the saved file. */
		st = open_state(p);
		CHECK(st != NULL);
		if (st == NULL)
			return;
		CHECK(state_grew(st, "INBOX", 7, "2", &lim) == 1);
		CHECK(lim == 1048576);
		CHECK(
		    state_grew(st, "INBOX", 7, "3", &lim) == 1 && lim == 1000);
		CHECK(state_grew(st, "INBOX", 7, "1", &lim) == 0 && lim == 0);
		CHECK(state_grew(st, "INBOX", 8, "2", &lim) == 0);
		CHECK(state_lookup(st, "INBOX", 7, "1") == 100);
		CHECK(state_lookup(st, "INBOX", 7, "2") == 0);
		CHECK(state_count(st) == 1);
		CHECK(state_folder_count(st, "INBOX", 7, &oldest) == 1);
		CHECK(oldest == 100);
		CHECK(state_save(st) == 0);
		state_free(st);
	}
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "M\tINBOX\t7\t150\t2\tgrew=1048576\n") != NULL);
	CHECK(strstr(buf, "M\tINBOX\t7\t100\t1\n") != NULL);
	/* 3 is downloaded after all (max_size raised): a plain record
	 * now. 2 leaves the listing: kept 30 days, then forgotten. */
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 7, "3", 300) == 0);
	CHECK(state_grew(st, "INBOX", 7, "3", &lim) == 0);
	CHECK(state_lookup(st, "INBOX", 7, "3") == 300);
	CHECK(state_count(st) == 2);
	state_mark(st, "INBOX", 7, "1");
	state_prune(st, "INBOX", 1000);
	CHECK(state_grew(st, "INBOX", 7, "2", &lim) == 1);
	state_mark(st, "INBOX", 7, "1");
	state_mark(st, "INBOX", 7, "3");
	state_prune(st, "INBOX", 1000 + STATE_KEEP_GONE - 1);
	CHECK(state_grew(st, "INBOX", 7, "2", &lim) == 1);
	state_mark(st, "INBOX", 7, "1");
	state_mark(st, "INBOX", 7, "3");
	state_prune(st, "INBOX", 1000 + STATE_KEEP_GONE);
	CHECK(state_grew(st, "INBOX", 7, "2", &lim) == 0);
	CHECK(state_count(st) == 2);
	CHECK(state_save(st) == 0 && state_compact(st) == 0);
	state_free(st);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "grew=") == NULL);
	CHECK(strstr(buf, "M\tINBOX\t7\t300\t3\n") != NULL);
	/* A UIDVALIDITY change voids it. */
	OPEN_OR_RETURN(st, p);
	CHECK(state_add_grew(st, "INBOX", 7, "4", 400, 10) == 0);
	state_reset_folder(st, "INBOX", 8);
	CHECK(state_grew(st, "INBOX", 7, "4", &lim) == 0);
	CHECK(state_count(st) == 0);
	state_free(st);
}

/* A state file written before records had attributes loads as it
 * always did; one with them loads them. */
static void
t_attrs_load(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	int64_t oldest;

	(void)arg;
	static const char file[] = "mailfetch-state 1\nG\t3\nF\tINBOX\t7\t5\n"
				   "M\tINBOX\t7\t100\t1\n"
				   "M\tINBOX\t7\t200\t2\tgone=300\n"
				   "M\tINBOX\t7\t200\t3\tshort=9/8\tgone=9\n";
	uint64_t an, re;

	CHECK(put(p, file, sizeof(file) - 1) == 0);
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 3);
	CHECK(state_lookup(st, "INBOX", 7, "1") == 100);
	CHECK(state_lookup(st, "INBOX", 7, "2") == 200);
	CHECK(state_short(st, "INBOX", 7, "1", &an, &re) == 0);
	CHECK(state_short(st, "INBOX", 7, "3", &an, &re) == 1);
	CHECK(an == 9 && re == 8);
	CHECK(state_folder_count(st, "INBOX", 7, &oldest) == 1);
	CHECK(oldest == 100);
	state_free(st);
}

/*
 * Many short records: every other record of a state file is short;
 * then the journal makes the whole ones short too, newest first (each
 * insertion lands before those already there), with a UIDVALIDITY
 * reset of another folder in between. Every record keeps its own
 * sizes through the journal and a save.
 */
static void
t_many_short(const void *arg)
{
	const int n = *(const int *)arg;
	struct state *st;
	const char *p = newpath();
	char uid[32], line[128];
	uint64_t a, r;
	size_t len = 0, cap = 64 + (size_t)n * 64;
	char *file = malloc(cap);
	int i, pass, bad;

	CHECK(file != NULL);
	if (file == NULL)
		return;
	len += (size_t)snprintf(
	    file, cap, "mailfetch-state 1\nG\t1\nF\tINBOX\t7\nF\tOther\t3\n");
	for (i = 0; i < n; i++) {
		if (i % 2 == 0)
			snprintf(line, sizeof(line),
			    "M\tINBOX\t7\t100\t%d\tshort=%d/%d\n", i, i + 1000,
			    i);
		else
			snprintf(line, sizeof(line), "M\t%s\t%u\t100\t%d\n",
			    i % 4 == 1 ? "INBOX" : "Other",
			    i % 4 == 1 ? 7u : 3u, i);
		len += (size_t)snprintf(file + len, cap - len, "%s", line);
	}
	CHECK(put(p, file, len) == 0);
	free(file);
	OPEN_OR_RETURN(st, p);
	for (i = n - 1; i >= 0; i--) {
		if (i % 4 != 1)
			continue;
		snprintf(uid, sizeof(uid), "%d", i);
		CHECK(state_add_short(st, "INBOX", 7, uid, 100,
			  (uint64_t)i + 2000, (uint64_t)i + 1)
		    == 0);
	}
	state_reset_folder(st, "Other", 4);
	CHECK(state_sync(st) == 0);
	state_free(st);
	for (pass = 0; pass < 2; pass++) {
		/* Pass 0 replays the journal, pass 1 reads the saved file. */
		st = open_state(p);
		CHECK(st != NULL);
		if (st == NULL)
			return;
		bad = 0;
		for (i = 0; i < n; i++) {
			snprintf(uid, sizeof(uid), "%d", i);
			if (i % 2 == 0)
				bad += state_short(st, "INBOX", 7, uid, &a, &r)
					!= 1
				    || a != (uint64_t)i + 1000
				    || r != (uint64_t)i;
			else if (i % 4 == 1)
				bad += state_short(st, "INBOX", 7, uid, &a, &r)
					!= 1
				    || a != (uint64_t)i + 2000
				    || r != (uint64_t)i + 1;
			else
				bad += state_short(st, "Other", 3, uid, &a, &r)
					!= 0
				    || state_short(st, "Other", 4, uid, &a, &r)
					!= 0
				    || state_lookup(st, "Other", 3, uid) != 0;
		}
		CHECK(bad == 0);
		CHECK(state_count(st) == (size_t)(n - n / 4));
		CHECK(state_save(st) == 0);
		state_free(st);
	}
}

static void
t_lock(const void *arg)
{
	struct state *a, *b;
	const char *p = newpath();
	char lp[300];

	(void)arg;
	a = state_new(p);
	CHECK(state_lock(a) == 0);
	snprintf(lp, sizeof(lp), "%s.lock", p);
	CHECK(exists(lp));
	b = state_new(p);
	CHECK(state_lock(b) == -1);
	CHECK(state_errkind(b) == STATE_ELOCKED);
	CHECK(strstr(state_error(b), "another mailfetch run holds the lock")
	    != NULL);
	CHECK(strstr(state_error(b), p) != NULL);
	state_free(a);
	CHECK(state_lock(b) == 0);
	state_free(b);
}

/* A crash after the rename of the new state file but before the
 * journal was unlinked: replaying the journal changes nothing. */
static void
t_stale_journal(const void *arg)
{
	static char jbuf[65536];
	struct state *st;
	const char *p = newpath();
	long n;

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 1, "old", 5) == 0);
	CHECK(state_save(st) == 0);
	state_reset_folder(st, "INBOX", 2);
	CHECK(state_add(st, "INBOX", 2, "a", 10) == 0);
	CHECK(state_add(st, "INBOX", 2, "b", 20) == 0);
	CHECK(intend(st, "INBOX", 2, "c", "", "cfile") == 0);
	CHECK(state_add(st, "Other", 4, "a", 30) == 0);
	CHECK(state_sync(st) == 0);
	n = slurp(jpath(p), jbuf, sizeof(jbuf));
	CHECK(n > 0);
	CHECK(state_add(st, "INBOX", 2, "a", 5) == 0);
	CHECK(state_save(st) == 0 && state_compact(st) == 0);
	state_free(st);
	CHECK(!exists(jpath(p)));
	CHECK(put(jpath(p), jbuf, (size_t)n) == 0);
	OPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 3);
	CHECK(state_uidvalidity(st, "INBOX") == 2);
	CHECK(state_lookup(st, "INBOX", 2, "a") == 5);
	CHECK(state_lookup(st, "INBOX", 2, "b") == 20);
	CHECK(state_lookup(st, "INBOX", 1, "old") == 0);
	CHECK(state_lookup(st, "Other", 4, "a") == 30);
	CHECK(state_npending(st) == 1);
	state_free(st);
}

/* The version 2 file: the folders with their counts, the pending
 * intents, then the records sorted by (folder, uid). */
static void
t_format(const void *arg)
{
	static const char want[]
	    = "mailfetch-state 2\n"
	      "G\t1\n"
	      "F\t-\t0\t0\t0\t1\t1\t1\t100\t0\n"
	      "F\tSent%20Items\t42\t0\t0\t1\t1\t1\t200\t0\n"
	      "I\tSent%20Items\t42\t";
	static const char rest[] = "\t8%208\tf,S=1\n"
				   "M\t-\t0\t100\tUID%251\n"
				   "M\tSent%20Items\t42\t200\t7\n";
	struct state *st;
	const char *p = newpath();
	char buf[1024];

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "-", 0, "UID%1", 100) == 0);
	CHECK(state_add(st, "Sent Items", 42, "7", 200) == 0);
	CHECK(intend(st, "Sent Items", 42, "8 8", "", "f,S=1") == 0);
	CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	if (strncmp(buf, want, sizeof(want) - 1) != 0
	    || strchr(buf + sizeof(want) - 1, '\t') == NULL
	    || strcmp(strchr(buf + sizeof(want) - 1, '\t'), rest) != 0) {
		fprintf(stderr, "got:\n%s", buf);
		t_case_failed = 1;
	}
}

/* UIDNEXT: saved with the folder, dropped when the folder is reset. */
static void
t_uidnext(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	char buf[1024];
	int64_t oldest;

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_uidnext(st, "INBOX", 5) == 0);
	CHECK(state_add(st, "INBOX", 5, "3", 300) == 0);
	CHECK(state_add(st, "INBOX", 5, "4", 200) == 0);
	CHECK(state_add(st, "Sent", 9, "1", 100) == 0);
	state_set_uidnext(st, "INBOX", 5, 10);
	state_set_uidnext(st, "INBOX", 6, 20); /* other UIDVALIDITY: no */
	state_set_uidnext(st, "Empty", 2, 1);
	CHECK(state_uidnext(st, "INBOX", 5) == 10);
	CHECK(
	    state_folder_count(st, "INBOX", 5, &oldest) == 2 && oldest == 200);
	CHECK(state_folder_count(st, "INBOX", 6, &oldest) == 0 && oldest == 0);
	CHECK(state_folder_count(st, "Empty", 2, &oldest) == 0);
	CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\nF\tINBOX\t5\t10\t0\t2\t2\t2\t200\t0\n") != NULL);
	CHECK(strstr(buf, "\nF\tSent\t9\t0\t0\t1\t1\t1\t100\t0\n") != NULL);
	CHECK(strstr(buf, "\nF\tEmpty\t2\t1\t0\t0\t0\t0\t0\t0\n") != NULL);

	OPEN_OR_RETURN(st, p);
	CHECK(state_uidnext(st, "INBOX", 5) == 10);
	CHECK(state_uidnext(st, "INBOX", 6) == 0);
	CHECK(state_uidnext(st, "Sent", 9) == 0);
	CHECK(state_uidnext(st, "Empty", 2) == 1);
	/* A reset, replayed from the journal, forgets it. */
	state_reset_folder(st, "INBOX", 5);
	CHECK(state_uidnext(st, "INBOX", 5) == 0);
	CHECK(state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_uidnext(st, "INBOX", 5) == 0);
	CHECK(state_uidnext(st, "Empty", 2) == 1);
	state_free(st);
}

static long
fsize(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec
	    && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A run that changed nothing writes nothing; any change is appended to
 * the journal, and the state file stays as it is until a compaction
 * folds the journal in. */
static void
t_save_unchanged(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	struct stat a, b;
	long j;

	(void)arg;
	OPEN_OR_RETURN(st, p);
	/* No file yet: the first save writes one, even empty. */
	CHECK(state_save(st) == 0);
	CHECK(exists(p) && !exists(jpath(p)));
	CHECK(state_add(st, "INBOX", 5, "3", 300) == 0);
	state_set_uidnext(st, "INBOX", 5, 4);
	CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(stat(p, &a) == 0);
	CHECK((j = fsize(jpath(p))) > 0);

	/* Looked up, marked, pruned with nothing gone: no change. */
	OPEN_OR_RETURN(st, p);
	CHECK(state_lookup(st, "INBOX", 5, "3") == 300);
	state_mark(st, "INBOX", 5, "3");
	state_prune(st, "INBOX", T0);
	state_set_uidnext(st, "INBOX", 5, 4);
	CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(stat(p, &b) == 0 && same_file(&a, &b));
	CHECK(fsize(jpath(p)) == j);

	/* A new UIDNEXT is a change: journaled. */
	OPEN_OR_RETURN(st, p);
	state_set_uidnext(st, "INBOX", 5, 9);
	CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(stat(p, &b) == 0 && same_file(&a, &b));
	CHECK(fsize(jpath(p)) > j);
	j = fsize(jpath(p));

	/* A compaction folds the journal in and removes it. */
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 5, "7", 700) == 0);
	CHECK(state_sync(st) == 0);
	CHECK(state_compact(st) == 0);
	state_free(st);
	CHECK(!exists(jpath(p)));
	CHECK(stat(p, &b) == 0 && a.st_ino != b.st_ino);
	OPEN_OR_RETURN(st, p);
	CHECK(state_uidnext(st, "INBOX", 5) == 9);
	CHECK(state_lookup(st, "INBOX", 5, "7") == 700);
	/* Noting a record missing is a change. */
	state_mark(st, "INBOX", 5, "7");
	state_prune(st, "INBOX", T0);
	CHECK(state_save(st) == 0);
	CHECK(fsize(jpath(p)) > 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 2 && state_lookup(st, "INBOX", 5, "3") == 300);
	/* Forgetting it is one too. */
	j = fsize(jpath(p));
	state_mark(st, "INBOX", 5, "7");
	state_prune(st, "INBOX", T0 + STATE_KEEP_GONE);
	CHECK(state_save(st) == 0);
	CHECK(fsize(jpath(p)) > j);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == 1 && state_lookup(st, "INBOX", 5, "3") == 0);
	state_free(st);
}

static void
t_readonly(const void *arg)
{
	struct state *st;
	const char *p = newpath();

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 1, "a", 10) == 0);
	CHECK(state_save(st) == 0);
	state_free(st);
	st = state_new(p);
	CHECK(state_load(st, 1) == 0);
	CHECK(state_lookup(st, "INBOX", 1, "a") == 10);
	CHECK(state_add(st, "INBOX", 1, "b", 10) == 0);
	CHECK(state_sync(st) == -1);
	CHECK(state_save(st) == -1);
	CHECK(state_errkind(st) == STATE_EOS);
	state_free(st);
	CHECK(!exists(jpath(p)));
}

static void
t_os_error(const void *arg)
{
	struct state *st;
	const char *p = newpath();

	(void)arg;
	/* The state file is a directory. */
	CHECK(put(jpath(p), "", 0) == 0);
	CHECK(mkdir(p, 0700) == 0);
	st = state_new(p);
	CHECK(state_load(st, 1) == -1);
	CHECK(state_errkind(st) == STATE_EOS);
	CHECK(state_errno(st) == EISDIR);
	CHECK(strstr(state_error(st), p) != NULL);
	state_free(st);
}

static void
t_many(const void *arg)
{
	struct state *st;
	const char *p = newpath();
	char uid[32];
	size_t i, hits = 0;
	int n = *(const int *)arg;

	OPEN_OR_RETURN(st, p);
	for (i = 0; i < (size_t)n; i++) {
		snprintf(uid, sizeof(uid), "%zu", i * 7919);
		state_add(st, i % 2 ? "INBOX" : "Archive", 1, uid,
		    (int64_t)(1700000000 + i));
	}
	CHECK(state_sync(st) == 0);
	CHECK(state_count(st) == (size_t)n);
	CHECK(state_save(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_count(st) == (size_t)n);
	for (i = 0; i < (size_t)n; i++) {
		snprintf(uid, sizeof(uid), "%zu", i * 7919);
		if (state_lookup(st, i % 2 ? "INBOX" : "Archive", 1, uid)
		    == (int64_t)(1700000000 + i))
			hits++;
	}
	CHECK(hits == (size_t)n);
	CHECK(state_lookup(st, "INBOX", 1, "7918") == 0);
	state_free(st);
}

/*
 * state_set_canon: an older mailfetch keyed the state by the config's
 * spelling of a folder. canon_upper stands in for the protocol's
 * canonical names ("inbox" and "INBOX" are one folder).
 */
static char *
canon_upper(const char *name)
{
	char *s = strdup(name), *p;

	for (p = s; p != NULL && *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return s;
}

#define JH1 "mailfetch-journal 1\nG\t1\n"

struct lookcase {
	const char *folder;
	uint32_t uv;
	const char *uid;
	int64_t when; /* 0: not recorded */
};

struct canoncase {
	const char *name;
	int canon; /* set canon_upper */
	const char *file;
	const char *journal; /* NULL: none */
	uint32_t uv; /* of INBOX after the load */
	uint32_t uidnext; /* of INBOX with uv */
	size_t count;
	struct lookcase look[4];
	const char *saved; /* the F lines state_save writes */
};

static const struct canoncase canoncases[] = {
	{ "canon: two spellings merge, earliest time, higher uidnext", 1,
	    SH "F\tinbox\t5\t10\nF\tINBOX\t5\t20\nM\tinbox\t5\t100\t1\n"
	       "M\tINBOX\t5\t50\t1\nM\tINBOX\t5\t60\t2\nM\tinbox\t5\t70\t3\n",
	    NULL, 5, 20, 3,
	    { { "INBOX", 5, "1", 50 }, { "INBOX", 5, "2", 60 },
		{ "INBOX", 5, "3", 70 }, { "inbox", 5, "1", 0 } },
	    "F\tINBOX\t5\t20\t0\t3\t3\t3\t50\t0\n" },
	{ "canon: one old spelling is renamed", 1,
	    SH "F\tinbox\t5\t4\nM\tinbox\t5\t100\t1\n", NULL, 5, 4, 1,
	    { { "INBOX", 5, "1", 100 } },
	    "F\tINBOX\t5\t4\t0\t1\t1\t1\t100\t0\n" },
	{ "canon: the higher uidvalidity wins, declared first", 1,
	    SH "F\tINBOX\t7\nF\tinbox\t5\t9\nM\tinbox\t5\t100\t1\n"
	       "M\tINBOX\t7\t200\t2\n",
	    NULL, 7, 0, 1,
	    { { "INBOX", 7, "1", 0 }, { "INBOX", 7, "2", 200 },
		{ "INBOX", 5, "1", 0 } },
	    "F\tINBOX\t7\t0\t0\t1\t1\t1\t200\t0\n" },
	{ "canon: the higher uidvalidity wins, declared last", 1,
	    SH "F\tinbox\t5\t9\nM\tinbox\t5\t100\t1\nF\tINBOX\t7\n"
	       "M\tINBOX\t7\t200\t2\n",
	    NULL, 7, 0, 1, { { "INBOX", 7, "1", 0 }, { "INBOX", 7, "2", 200 } },
	    "F\tINBOX\t7\t0\t0\t1\t1\t1\t200\t0\n" },
	{ "canon: old journal spelling merges, resets nothing", 1,
	    SH "F\tINBOX\t5\nM\tINBOX\t5\t100\t1\n",
	    JH1 "F\tinbox\t5\nM\tinbox\t5\t90\t1\nM\tinbox\t5\t300\t2\n", 5, 0,
	    2, { { "INBOX", 5, "1", 90 }, { "INBOX", 5, "2", 300 } },
	    "F\tINBOX\t5\t0\t0\t2\t2\t2\t90\t0\n" },
	{ "canon: old journal spelling of a lower uidvalidity is void", 1,
	    SH "F\tINBOX\t7\nM\tINBOX\t7\t100\t1\n",
	    JH1 "F\tinbox\t5\nM\tinbox\t5\t50\t9\n", 7, 0, 1,
	    { { "INBOX", 7, "1", 100 }, { "INBOX", 7, "9", 0 } },
	    "F\tINBOX\t7\t0\t0\t1\t1\t1\t100\t0\n" },
	{ "canon: old journal spelling of a higher uidvalidity resets", 1,
	    SH "F\tINBOX\t5\nM\tINBOX\t5\t100\t1\n",
	    JH1 "F\tinbox\t7\nM\tinbox\t7\t300\t2\n", 7, 0, 1,
	    { { "INBOX", 7, "1", 0 }, { "INBOX", 7, "2", 300 } },
	    "F\tINBOX\t7\t0\t0\t1\t1\t1\t300\t0\n" },
	{ "canon: a journal F of the same name still resets", 1,
	    SH "F\tINBOX\t5\nM\tINBOX\t5\t100\t1\n", JH1 "F\tINBOX\t5\n", 5, 0,
	    0, { { "INBOX", 5, "1", 0 } },
	    "F\tINBOX\t5\t0\t0\t0\t0\t0\t0\t0\n" },
	{ "canon: none set, spellings stay apart", 0,
	    SH "F\tinbox\t5\nF\tINBOX\t5\nM\tinbox\t5\t100\t1\n", NULL, 5, 0, 1,
	    { { "INBOX", 5, "1", 0 }, { "inbox", 5, "1", 100 } },
	    "F\tinbox\t5\t0\t0\t1\t1\t1\t100\t0\n"
	    "F\tINBOX\t5\t0\t0\t0\t0\t0\t0\t0\n" },
};

static void
t_canon(const void *arg)
{
	const struct canoncase *c = arg;
	const struct lookcase *l;
	struct state *st;
	const char *p = newpath();
	char buf[4096], *f;
	size_t i;

	CHECK(put(p, c->file, strlen(c->file)) == 0);
	if (c->journal != NULL)
		CHECK(put(jpath(p), c->journal, strlen(c->journal)) == 0);
	st = state_new(p);
	if (c->canon)
		state_set_canon(st, canon_upper);
	CHECK(state_lock(st) == 0);
	if (state_load(st, 0) == -1) {
		fprintf(stderr, "load: %s\n", state_error(st));
		t_case_failed = 1;
		state_free(st);
		return;
	}
	CHECK(state_uidvalidity(st, "INBOX") == c->uv);
	CHECK(state_uidnext(st, "INBOX", c->uv) == c->uidnext);
	CHECK(state_count(st) == c->count);
	for (i = 0; i < sizeof(c->look) / sizeof(c->look[0]); i++) {
		l = &c->look[i];
		if (l->folder == NULL)
			break;
		if (state_lookup(st, l->folder, l->uv, l->uid) != l->when) {
			fprintf(stderr, "lookup %s %u %s: %lld, want %lld\n",
			    l->folder, (unsigned)l->uv, l->uid,
			    (long long)state_lookup(
				st, l->folder, l->uv, l->uid),
			    (long long)l->when);
			t_case_failed = 1;
		}
	}
	/* Saved under the new names, even with nothing else changed. */
	CHECK(state_save(st) == 0);
	state_free(st);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	f = strstr(buf, "\nF\t");
	CHECK(f != NULL);
	if (f != NULL && strncmp(f + 1, c->saved, strlen(c->saved)) != 0) {
		fprintf(stderr, "saved:\n%s\nwant F lines:\n%s", buf, c->saved);
		t_case_failed = 1;
	}
	if (f != NULL)
		CHECK(strstr(f + 1 + strlen(c->saved), "\nF\t") == NULL);
}

/* One spelling declared twice, or a record of a spelling with another
 * UIDVALIDITY than its own F line, is still corruption. */
static const struct ccase canon_corrupt[] = {
	{ "canon: same spelling twice is corrupt", 0,
	    SH "F\tinbox\t5\nF\tINBOX\t5\nF\tinbox\t5\n", 0,
	    ":5: folder declared twice" },
	{ "canon: record of its own spelling's uidvalidity", 0,
	    SH "F\tinbox\t5\nF\tINBOX\t7\nM\tinbox\t7\t100\t1\n", 0,
	    ":5: uidvalidity differs" },
	{ "canon: record of an undeclared spelling", 0,
	    SH "F\tINBOX\t5\nM\tinbox\t5\t100\t1\n", 0,
	    ":4: folder not declared" },
};

static void
t_canon_corrupt(const void *arg)
{
	const struct ccase *c = arg;
	struct state *st;
	const char *p = newpath();
	char want[512];

	CHECK(put(p, c->content, strlen(c->content)) == 0);
	snprintf(want, sizeof(want), "%s%s", p, c->msg);
	st = state_new(p);
	state_set_canon(st, canon_upper);
	CHECK(state_load(st, 1) == -1);
	CHECK(state_errkind(st) == STATE_ECORRUPT);
	if (strncmp(state_error(st), want, strlen(want)) != 0) {
		fprintf(stderr, "got \"%s\", want \"%s...\"\n", state_error(st),
		    want);
		t_case_failed = 1;
	}
	state_free(st);
}

/* An intent journaled under an old spelling is pending under the new. */
static void
t_canon_intent(const void *arg)
{
	const struct state_intent *pd;
	struct state *st;
	const char *p = newpath();
	static const char file[] = SH "F\tinbox\t5\nI\tinbox\t5\t100\t7\tf1\n";

	(void)arg;
	CHECK(put(p, file, strlen(file)) == 0);
	st = state_new(p);
	state_set_canon(st, canon_upper);
	CHECK(state_load(st, 1) == 0);
	CHECK(state_npending(st) == 1);
	if ((pd = state_pending(st, 0)) != NULL) {
		CHECK_STR(pd->folder, "INBOX");
		CHECK(pd->uidvalidity == 5);
		CHECK_STR(pd->uid, "7");
		CHECK_STR(pd->sub, "");
		CHECK_STR(pd->name, "f1");
	}
	state_free(st);
}

/* The mirror's record fields: file and flags survive a sync (the
 * journal) and a save (the file), and a later download keeps none. */
static void
t_local(const void *arg)
{
	struct state_rec sr;
	struct state *st;
	const char *p = newpath();
	int save = *(const int *)arg;
	char buf[4096];

	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "Lists/a b", 3, "7", 100) == 0);
	CHECK(state_add(st, "Lists/a b", 3, "8", 200) == 0);
	CHECK(state_get(st, "Lists/a b", 3, "7", &sr) == 1);
	CHECK(sr.file == NULL && !sr.has_flags && sr.when == 100);
	CHECK(state_set_local(
		  st, "Lists/a b", 3, "7", ".Lists.a b/1.M2P3.h,S=9", "FS")
	    == 0);
	CHECK(state_set_local(st, "Lists/a b", 3, "8", NULL, "") == 0);
	/* Nothing for a record that is not there, or a bad value. */
	CHECK(state_set_local(st, "Lists/a b", 3, "9", "x", NULL) == -1);
	CHECK(state_set_local(st, "Lists/a b", 4, "7", "x", NULL) == -1);
	CHECK(state_set_local(st, "Lists/a b", 3, "7", "../x", NULL) == -1);
	CHECK(state_set_local(st, "Lists/a b", 3, "7", NULL, "SF") == -1);
	CHECK(state_set_local(st, "Lists/a b", 3, "7", NULL, "X") == -1);
	CHECK(save ? state_save(st) == 0 : state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_get(st, "Lists/a b", 3, "7", &sr) == 1);
	CHECK_STR(sr.file, ".Lists.a b/1.M2P3.h,S=9");
	CHECK(sr.has_flags);
	CHECK_STR(sr.flags, "FS");
	CHECK(sr.when == 100);
	CHECK(state_get(st, "Lists/a b", 3, "8", &sr) == 1);
	CHECK(sr.file == NULL && sr.has_flags && sr.flags[0] == '\0');
	CHECK(state_get(st, "Lists/a b", 3, "9", &sr) == 0);
	/* Only flags change: the file stays. */
	CHECK(state_set_local(st, "Lists/a b", 3, "7", NULL, "DRST") == 0);
	CHECK(state_save(st) == 0 && state_compact(st) == 0);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\tfile=.Lists.a%20b/1.M2P3.h,S=9\tflags=DRST\n")
	    != NULL);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_get(st, "Lists/a b", 3, "7", &sr) == 1);
	CHECK_STR(sr.file, ".Lists.a b/1.M2P3.h,S=9");
	CHECK_STR(sr.flags, "DRST");
	state_free(st);
}

/* state_forget: journaled, the record is gone after a crash, and the
 * saved file does not hold it. */
static void
t_forget(const void *arg)
{
	struct state_rec sr;
	struct state *st;
	const char *p = newpath();
	char buf[4096];

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 1, "a", 10) == 0);
	CHECK(state_add(st, "INBOX", 1, "b", 20) == 0);
	CHECK(state_set_local(st, "INBOX", 1, "a", "fa", "S") == 0);
	CHECK(state_save(st) == 0);
	CHECK(state_forget(st, "INBOX", 1, "a") == 0);
	CHECK(state_forget(st, "INBOX", 1, "zz") == 0);
	CHECK(state_lookup(st, "INBOX", 1, "a") == 0);
	CHECK(state_count(st) == 1);
	CHECK(state_sync(st) == 0);
	REOPEN_OR_RETURN(st, p); /* a crash: the journal replays */
	CHECK(state_lookup(st, "INBOX", 1, "a") == 0);
	CHECK(state_get(st, "INBOX", 1, "a", &sr) == 0);
	CHECK(state_lookup(st, "INBOX", 1, "b") == 20);
	CHECK(state_count(st) == 1);
	CHECK(state_save(st) == 0 && state_compact(st) == 0);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\ta\t") == NULL && strstr(buf, "\ta\n") == NULL);
	/* Downloaded again, it is a new record, without the old file. */
	CHECK(state_add(st, "INBOX", 1, "a", 30) == 0);
	CHECK(state_get(st, "INBOX", 1, "a", &sr) == 1);
	CHECK(sr.when == 30 && sr.file == NULL && !sr.has_flags);
	state_free(st);
}

/* state_look.seen: a record a lookup of this run marked already
 * (run.c finds a uid named in two windows of a long listing so), for
 * records of the saved file and of this run, looked up alone or in a
 * batch; never for a UID without a record. */
struct seen_list {
	const char *const *uids;
	int seen[400];
	int64_t when[400];
};

static const char *
seen_uid(size_t i, void *arg)
{
	return ((struct seen_list *)arg)->uids[i];
}

static void
seen_answer(size_t i, const struct state_look *lk, void *arg)
{
	struct seen_list *l = arg;

	l->seen[i] = lk->seen;
	l->when[i] = lk->when;
}

static void
t_seen(const void *arg)
{
	static const char *su[400];
	static char names[400][8];
	struct seen_list l;
	struct state *st;
	const char *p = newpath();
	size_t i, bad = 0;

	(void)arg;
	for (i = 0; i < 400; i++) {
		snprintf(names[i], sizeof(names[i]), "u%03zu", i);
		su[i] = names[i];
	}
	OPEN_OR_RETURN(st, p);
	/* 300 in the saved file, 50 more this run, 50 never recorded. */
	for (i = 0; i < 300; i++)
		CHECK(state_add(st, "INBOX", 1, su[i], 10) == 0);
	CHECK(state_save(st) == 0 && state_compact(st) == 0);
	REOPEN_OR_RETURN(st, p);
	for (i = 300; i < 350; i++)
		CHECK(state_add(st, "INBOX", 1, su[i], 20) == 0);
	memset(&l, 0, sizeof(l));
	l.uids = su;
	/* A first window: the first 200 (batched: walked). */
	state_look_mark_all(st, "INBOX", 1, 200, seen_uid, seen_answer, &l);
	for (i = 0; i < 200; i++)
		bad += l.seen[i] != 0 || l.when[i] != 10;
	CHECK(bad == 0);
	/* All 400: the first 200 were seen, no other was. */
	memset(&l, 0, sizeof(l));
	l.uids = su;
	state_look_mark_all(st, "INBOX", 1, 400, seen_uid, seen_answer, &l);
	for (i = 0, bad = 0; i < 400; i++)
		bad += l.seen[i] != (i < 200);
	CHECK(bad == 0);
	/* Again, one by one through a batch of 1: every recorded one is
	 * seen now, the unrecorded never. */
	for (i = 0, bad = 0; i < 400; i++) {
		memset(&l, 0, sizeof(l));
		l.uids = su + i;
		state_look_mark_all(
		    st, "INBOX", 1, 1, seen_uid, seen_answer, &l);
		bad += l.seen[0] != (i < 350);
	}
	CHECK(bad == 0);
	state_free(st);
}

/* HIGHESTMODSEQ per folder: saved with the F line, forgotten on reset;
 * an F line without it (older files) loads as 0. */
static void
t_modseq(const void *arg)
{
	static const char old[] = SH "F\tINBOX\t5\t3\nM\tINBOX\t5\t10\t1\n";
	struct state *st;
	const char *p = newpath();
	char buf[4096];

	(void)arg;
	OPEN_OR_RETURN(st, p);
	CHECK(state_add(st, "INBOX", 5, "1", 10) == 0);
	CHECK(state_add(st, "Sent", 6, "1", 10) == 0);
	CHECK(state_modseq(st, "INBOX", 5) == 0);
	state_set_modseq(st, "INBOX", 5, 12345678901ULL);
	state_set_modseq(st, "INBOX", 4, 99); /* another UIDVALIDITY: no */
	state_set_uidnext(st, "Sent", 6, 9);
	state_set_modseq(st, "Sent", 6, 7);
	CHECK(state_modseq(st, "INBOX", 5) == 12345678901ULL);
	CHECK(state_save(st) == 0 && state_compact(st) == 0);
	CHECK(slurp(p, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\nF\tINBOX\t5\t0\t12345678901\t1\t") != NULL);
	CHECK(strstr(buf, "\nF\tSent\t6\t9\t7\t1\t") != NULL);
	REOPEN_OR_RETURN(st, p);
	CHECK(state_modseq(st, "INBOX", 5) == 12345678901ULL);
	CHECK(state_uidnext(st, "INBOX", 5) == 0);
	CHECK(state_modseq(st, "Sent", 6) == 7);
	CHECK(state_uidnext(st, "Sent", 6) == 9);
	CHECK(state_modseq(st, "INBOX", 4) == 0);
	state_reset_folder(st, "INBOX", 8);
	CHECK(state_modseq(st, "INBOX", 8) == 0);
	state_free(st);
	/* A file of an older mailfetch. */
	p = newpath();
	CHECK(put(p, old, strlen(old)) == 0);
	OPEN_OR_RETURN(st, p);
	CHECK(state_modseq(st, "INBOX", 5) == 0);
	CHECK(state_uidnext(st, "INBOX", 5) == 3);
	CHECK(state_lookup(st, "INBOX", 5, "1") == 10);
	state_free(st);
}

/* state_next gives each live record of the folder once. */
static void
t_iterate(const void *arg)
{
	struct state_rec sr;
	struct state *st;
	char uid[16], seen[50] = { 0 };
	size_t pos = 0, n = 0;
	int i;

	(void)arg;
	OPEN_OR_RETURN(st, newpath());
	for (i = 0; i < 50; i++) {
		snprintf(uid, sizeof(uid), "%d", i);
		CHECK(state_add(st, i % 2 ? "A" : "B", 1, uid, 10 + i) == 0);
	}
	CHECK(state_add_grew(st, "A", 1, "grew", 10, 100) == 0);
	CHECK(state_forget(st, "A", 1, "1") == 0);
	while (state_next(st, "A", 1, &pos, &sr)) {
		i = atoi(sr.uid);
		CHECK(i % 2 == 1 && i != 1 && !seen[i]);
		CHECK(sr.when == 10 + i);
		seen[i] = 1;
		n++;
	}
	CHECK(n == 24);
	pos = 0;
	CHECK(state_next(st, "A", 2, &pos, &sr) == 0);
	pos = 0;
	CHECK(state_next(st, "C", 1, &pos, &sr) == 0);
	state_free(st);
}

int
main(void)
{
	static const int zero = 0, one = 1, many = 100000, manyshort = 50000;
	size_t i;
	int rc;

	snprintf(tdir, sizeof(tdir), "/tmp/mailfetch-test-state.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN("missing file is an empty state", t_missing, NULL);
	T_RUN("round trip through save", t_roundtrip, &zero);
	T_RUN("round trip through the journal", t_roundtrip, &one);
	T_RUN("lookup hit and miss", t_lookup, NULL);
	T_RUN("earliest time kept (journal)", t_earliest, &zero);
	T_RUN("earliest time kept (save)", t_earliest, &one);
	T_RUN("journal replay after a crash", t_journal_replay, NULL);
	T_RUN("intent pending (journal)", t_intent_pending, &zero);
	T_RUN("intent pending (saved)", t_intent_pending, &one);
	T_RUN("intent with a bad file name", t_intent_bad, NULL);
	T_RUN("torn last journal line ignored", t_torn_journal,
	    "M\tINBOX\t3\t200\t2");
	T_RUN("torn journal tail of NUL bytes ignored", t_torn_journal, "0");
	T_RUN("journal without torn tail", t_torn_journal, "");
	for (i = 0; i < sizeof(tornheads) / sizeof(tornheads[0]); i++)
		T_RUN(tornheads[i].name, t_torn_header, &tornheads[i]);
	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++)
		T_RUN(ccases[i].name, t_corrupt, &ccases[i]);
	T_RUN("reset folder (save)", t_reset_folder, &one);
	T_RUN("reset folder (journal)", t_reset_folder, &zero);
	T_RUN("uidvalidity change in state_add", t_uidvalidity_change, NULL);
	T_RUN("prune keeps a missing record 30 days", t_prune, NULL);
	T_RUN("old and new record lines load", t_attrs_load, NULL);
	T_RUN("short record keeps both sizes", t_short, NULL);
	T_RUN("grew past max_size: remembered, not a download", t_grew, NULL);
	T_RUN("50000 short records keep their sizes", t_many_short, &manyshort);
	T_RUN("lock held by another state", t_lock, NULL);
	T_RUN("stale journal after save replays idempotently", t_stale_journal,
	    NULL);
	T_RUN("state file format", t_format, NULL);
	T_RUN("uidnext saved, and forgotten on reset", t_uidnext, NULL);
	T_RUN("save skipped when nothing changed", t_save_unchanged, NULL);
	T_RUN("read-only load writes nothing", t_readonly, NULL);
	T_RUN("state file is a directory", t_os_error, NULL);
	T_RUN("100000 records add, save, load", t_many, &many);
	for (i = 0; i < sizeof(canoncases) / sizeof(canoncases[0]); i++)
		T_RUN(canoncases[i].name, t_canon, &canoncases[i]);
	for (i = 0; i < sizeof(canon_corrupt) / sizeof(canon_corrupt[0]); i++)
		T_RUN(
		    canon_corrupt[i].name, t_canon_corrupt, &canon_corrupt[i]);
	T_RUN("canon: intent pending under the new name", t_canon_intent, NULL);
	T_RUN("mirror: file and flags (journal)", t_local, &zero);
	T_RUN("mirror: file and flags (save)", t_local, &one);
	T_RUN("mirror: forget a record, journaled", t_forget, NULL);
	T_RUN("mirror: highestmodseq per folder", t_modseq, NULL);
	T_RUN("mirror: iterate a folder's records", t_iterate, NULL);
	T_RUN("look: seen, a record marked earlier in the run", t_seen, NULL);
	rc = T_DONE();
	t_rmtree(tdir);
	return rc;
}
