/*
 * Unit tests for cmd/maildir.c, in a fresh directory under /tmp.
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
#include "../../cmd/maildir.h"

static char tdir[64];

/* A new Maildir path (not yet created) under the test directory. */
static char *
mdpath(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", tdir, name);
	return p;
}

/* Read a whole file (small); returns its length or -1. */
static long
slurp(const char *path, char *buf, size_t cap)
{
	long n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((r = read(fd, buf + n, cap - (size_t)n)) > 0)
		n += r;
	close(fd);
	return n;
}

/* Number of entries in a directory, not counting . and .. */
static int
nentries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
isdir0700(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)
	    && (sb.st_mode & 0777) == 0700;
}

/* Write a message in chunks of the given sizes and finish it. */
static struct maildir_msg *
write_msg(struct maildir *md, const char *data, size_t len, size_t chunk)
{
	struct maildir_msg *m;
	size_t off = 0, n;

	if ((m = maildir_begin(md)) == NULL)
		return NULL;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		if (maildir_write(m, data + off, n) == -1) {
			maildir_abort(m);
			return NULL;
		}
		off += n;
	}
	if (maildir_finish(m) == -1) {
		maildir_abort(m);
		return NULL;
	}
	return m;
}

static void
t_open_creates(const void *arg)
{
	char err[512], p[512];
	struct maildir *md;
	const char *path = mdpath("a/b/c/Mail");

	(void)arg;
	md = maildir_open(path, err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	CHECK_STR(maildir_path(md), path);
	CHECK(isdir0700(path));
	snprintf(p, sizeof(p), "%s/a/b", tdir);
	CHECK(isdir0700(p));
	snprintf(p, sizeof(p), "%s/tmp", path);
	CHECK(isdir0700(p));
	snprintf(p, sizeof(p), "%s/new", path);
	CHECK(isdir0700(p));
	snprintf(p, sizeof(p), "%s/cur", path);
	CHECK(isdir0700(p));
	maildir_close(md);
	/* Opening again works, and a missing tmp/ is recreated. */
	snprintf(p, sizeof(p), "%s/tmp", path);
	CHECK(rmdir(p) == 0);
	md = maildir_open(path, err, sizeof(err));
	CHECK(md != NULL);
	CHECK(isdir0700(p));
	maildir_close(md);
}

static void
t_not_a_directory(const void *arg)
{
	char err[1024], file[256], path[512];
	struct maildir *md;
	int fd;

	(void)arg;
	snprintf(file, sizeof(file), "%s/plainfile", tdir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1);
	close(fd);
	snprintf(path, sizeof(path), "%s/sub/Mail", file);
	err[0] = '\0';
	errno = 0;
	md = maildir_open(path, err, sizeof(err));
	CHECK(md == NULL);
	CHECK(errno == ENOTDIR);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, strerror(ENOTDIR)) != NULL);
	maildir_close(md);
	/* The Maildir itself a regular file. */
	errno = 0;
	md = maildir_open(file, err, sizeof(err));
	CHECK(md == NULL);
	CHECK(errno == ENOTDIR);
	CHECK(strstr(err, file) != NULL);
	maildir_close(md);
}

/* Name layout: <sec>.M<usec>P<pid>Q<n>.<host>,S=<size> */
static int
name_ok(const char *name, unsigned long size)
{
	char pid[32], tail[32];
	const char *s = name;

	if (*s < '0' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	if (strncmp(s, ".M", 2) != 0)
		return 0;
	s += 2;
	while (*s >= '0' && *s <= '9')
		s++;
	snprintf(pid, sizeof(pid), "P%ldQ", (long)getpid());
	if (strncmp(s, pid, strlen(pid)) != 0)
		return 0;
	s += strlen(pid);
	if (*s < '0' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s != '.')
		return 0;
	snprintf(tail, sizeof(tail), ",S=%lu", size);
	if (strlen(s) <= strlen(tail)
	    || strcmp(s + strlen(s) - strlen(tail), tail) != 0)
		return 0;
	return strchr(name, '/') == NULL && strchr(name, ':') == NULL;
}

static void
t_chunks(const void *arg)
{
	static char data[200000], got[300000];
	char err[512], p[512];
	struct maildir *md;
	struct maildir_msg *m;
	size_t chunk = *(const size_t *)arg, i;
	long n;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 251);
	md = maildir_open(mdpath("chunks"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	m = write_msg(md, data, sizeof(data), chunk);
	CHECK(m != NULL);
	if (m == NULL)
		goto done;
	CHECK(name_ok(maildir_name(m), sizeof(data)));
	CHECK(maildir_commit(m, "", 0) == 0);
	CHECK(maildir_sync(md) == 0);
	snprintf(p, sizeof(p), "%s/new/%s", maildir_path(md), maildir_name(m));
	n = slurp(p, got, sizeof(got));
	CHECK(n == (long)sizeof(data));
	CHECK(n == (long)sizeof(data) && memcmp(got, data, sizeof(data)) == 0);
	snprintf(p, sizeof(p), "%s/tmp", maildir_path(md));
	CHECK(nentries(p) == 0);
	maildir_msg_free(m);
done:
	maildir_close(md);
	t_rmtree(mdpath("chunks"));
}

static void
t_small_exact(const void *arg)
{
	const char msg[] = "From: a@b\nSubject: x\n\n\x80\xff body\r\nno eol";
	char err[512], p[512], got[256];
	struct maildir *md;
	struct maildir_msg *m;
	struct stat sb;

	(void)arg;
	md = maildir_open(mdpath("small"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	m = write_msg(md, msg, sizeof(msg) - 1, 5);
	CHECK(m != NULL);
	if (m != NULL) {
		CHECK(maildir_commit(m, NULL, 0) == 0);
		snprintf(p, sizeof(p), "%s/new/%s", maildir_path(md),
		    maildir_name(m));
		CHECK(slurp(p, got, sizeof(got)) == (long)sizeof(msg) - 1);
		CHECK(memcmp(got, msg, sizeof(msg) - 1) == 0);
		CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
		CHECK(name_ok(maildir_name(m), sizeof(msg) - 1));
		maildir_msg_free(m);
	}
	maildir_close(md);
}

static void
t_empty(const void *arg)
{
	char err[512], p[512], got[16];
	struct maildir *md;
	struct maildir_msg *m;

	(void)arg;
	md = maildir_open(mdpath("empty"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	m = maildir_begin(md);
	CHECK(m != NULL);
	if (m != NULL) {
		CHECK(maildir_write(m, "", 0) == 0);
		CHECK(maildir_finish(m) == 0);
		CHECK(name_ok(maildir_name(m), 0));
		CHECK(maildir_commit(m, "", 0) == 0);
		snprintf(p, sizeof(p), "%s/new/%s", maildir_path(md),
		    maildir_name(m));
		CHECK(slurp(p, got, sizeof(got)) == 0);
		maildir_msg_free(m);
	}
	maildir_close(md);
}

static void
t_flags_mtime(const void *arg)
{
	char err[512], p[512], got[16];
	struct maildir *md;
	struct maildir_msg *m;
	struct stat sb;

	(void)arg;
	md = maildir_open(mdpath("flags"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	m = write_msg(md, "hello\n", 6, 100);
	CHECK(m != NULL);
	if (m != NULL) {
		CHECK(maildir_commit(m, "FS", 1234567890) == 0);
		CHECK(maildir_sync(md) == 0);
		snprintf(p, sizeof(p), "%s/cur/%s:2,FS", maildir_path(md),
		    maildir_name(m));
		/* Before reading it: a read may update the atime. */
		CHECK(stat(p, &sb) == 0);
		CHECK(sb.st_mtime == 1234567890);
		CHECK(sb.st_atime == 1234567890);
		CHECK(slurp(p, got, sizeof(got)) == 6);
		CHECK(memcmp(got, "hello\n", 6) == 0);
		snprintf(p, sizeof(p), "%s/new", maildir_path(md));
		CHECK(nentries(p) == 0);
		CHECK(maildir_has(md, maildir_name(m)) == 1);
		maildir_msg_free(m);
	}
	maildir_close(md);
}

static void
t_bad_flags(const void *arg)
{
	char err[512], p[512];
	struct maildir *md;
	struct maildir_msg *m;

	(void)arg;
	md = maildir_open(mdpath("badflags"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	m = write_msg(md, "x\n", 2, 100);
	CHECK(m != NULL);
	if (m != NULL) {
		CHECK(maildir_commit(m, "S/../x", 0) == -1);
		CHECK(maildir_errno(md) == EINVAL);
		maildir_abort(m);
	}
	snprintf(p, sizeof(p), "%s/tmp", maildir_path(md));
	CHECK(nentries(p) == 0);
	snprintf(p, sizeof(p), "%s/cur", maildir_path(md));
	CHECK(nentries(p) == 0);
	maildir_close(md);
}

static void
t_abort(const void *arg)
{
	char err[512], p[512];
	struct maildir *md;
	struct maildir_msg *m;

	(void)arg;
	md = maildir_open(mdpath("abort"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	/* Abort while writing. */
	m = maildir_begin(md);
	CHECK(m != NULL);
	CHECK(m != NULL && maildir_write(m, "abc", 3) == 0);
	snprintf(p, sizeof(p), "%s/tmp", maildir_path(md));
	CHECK(nentries(p) == 1);
	maildir_abort(m);
	CHECK(nentries(p) == 0);
	/* Abort after finish, before commit. */
	m = write_msg(md, "abc", 3, 1);
	CHECK(m != NULL);
	CHECK(nentries(p) == 1);
	maildir_abort(m);
	CHECK(nentries(p) == 0);
	snprintf(p, sizeof(p), "%s/new", maildir_path(md));
	CHECK(nentries(p) == 0);
	snprintf(p, sizeof(p), "%s/cur", maildir_path(md));
	CHECK(nentries(p) == 0);
	maildir_abort(NULL);
	maildir_msg_free(NULL);
	maildir_close(NULL);
	maildir_close(md);
}

static void
t_unique_names(const void *arg)
{
	char err[512], p[512];
	struct maildir *md, *md2;
	struct maildir_msg *m[4];
	int i, j;

	(void)arg;
	md = maildir_open(mdpath("uniq"), err, sizeof(err));
	md2 = maildir_open(mdpath("uniq"), err, sizeof(err));
	CHECK(md != NULL && md2 != NULL);
	if (md == NULL || md2 == NULL) {
		maildir_close(md);
		maildir_close(md2);
		return;
	}
	for (i = 0; i < 4; i++) {
		m[i] = write_msg(i % 2 ? md2 : md, "same\n", 5, 5);
		CHECK(m[i] != NULL);
		if (m[i] == NULL)
			return;
	}
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			CHECK(strcmp(maildir_name(m[i]), maildir_name(m[j])));
	for (i = 0; i < 4; i++) {
		CHECK(maildir_commit(m[i], "", 0) == 0);
		maildir_msg_free(m[i]);
	}
	CHECK(maildir_sync(md) == 0);
	snprintf(p, sizeof(p), "%s/new", maildir_path(md));
	CHECK(nentries(p) == 4);
	maildir_close(md);
	maildir_close(md2);
}

static void
t_no_overwrite(const void *arg)
{
	const char *flags = arg;
	char err[512], p[512], tp[512], got[64];
	struct maildir *md;
	struct maildir_msg *m;
	int fd;

	md = maildir_open(
	    mdpath(flags[0] ? "noover-cur" : "noover-new"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	m = write_msg(md, "new message\n", 12, 100);
	CHECK(m != NULL);
	if (m == NULL)
		goto done;
	if (flags[0])
		snprintf(p, sizeof(p), "%s/cur/%s:2,%s", maildir_path(md),
		    maildir_name(m), flags);
	else
		snprintf(p, sizeof(p), "%s/new/%s", maildir_path(md),
		    maildir_name(m));
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd != -1);
	CHECK(write(fd, "older", 5) == 5);
	close(fd);
	CHECK(maildir_commit(m, flags, 0) == -1);
	CHECK(maildir_errno(md) == EEXIST);
	CHECK(strstr(maildir_error(md), maildir_name(m)) != NULL);
	CHECK(strstr(maildir_error(md), strerror(EEXIST)) != NULL);
	/* The existing file is untouched, the tmp file intact. */
	CHECK(slurp(p, got, sizeof(got)) == 5 && memcmp(got, "older", 5) == 0);
	snprintf(tp, sizeof(tp), "%s/tmp", maildir_path(md));
	CHECK(nentries(tp) == 1);
	snprintf(tp, sizeof(tp), "%s/tmp/%.*s", maildir_path(md),
	    (int)(strstr(maildir_name(m), ",S=") - maildir_name(m)),
	    maildir_name(m));
	CHECK(slurp(tp, got, sizeof(got)) == 12
	    && memcmp(got, "new message\n", 12) == 0);
	maildir_abort(m);
	CHECK(access(tp, F_OK) == -1);
	CHECK(slurp(p, got, sizeof(got)) == 5);
done:
	maildir_close(md);
}

static void
t_has(const void *arg)
{
	char err[512], from[512], to[512];
	struct maildir *md, *md2;
	struct maildir_msg *a, *b, *c;
	char *bn = NULL;

	(void)arg;
	md = maildir_open(mdpath("has"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	a = write_msg(md, "a\n", 2, 10);
	b = write_msg(md, "b\n", 2, 10);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto done;
	CHECK(maildir_has(md, maildir_name(a)) == 0);
	CHECK(maildir_commit(a, "", 0) == 0);
	CHECK(maildir_commit(b, "", 0) == 0);
	CHECK(maildir_has(md, maildir_name(a)) == 1);
	CHECK(maildir_has(md, maildir_name(b)) == 1);
	/* A mail reader moves b to cur/ and adds flags. */
	snprintf(
	    from, sizeof(from), "%s/new/%s", maildir_path(md), maildir_name(b));
	snprintf(to, sizeof(to), "%s/cur/%s:2,RS", maildir_path(md),
	    maildir_name(b));
	CHECK(rename(from, to) == 0);
	CHECK(maildir_has(md, maildir_name(b)) == 1);
	bn = strdup(maildir_name(b));
	/* With the suffix given, too. */
	snprintf(to, sizeof(to), "%s:2,S", maildir_name(b));
	CHECK(maildir_has(md, to) == 1);
	CHECK(maildir_has(md, "1.M2P3Q4.nohost,S=5") == 0);
	CHECK(maildir_has(md, "") == 0);
	CHECK(maildir_has(md, "../new") == 0);
	/* A fresh handle finds the flagged name by reading cur/. */
	md2 = maildir_open(mdpath("has"), err, sizeof(err));
	CHECK(md2 != NULL);
	if (md2 != NULL) {
		CHECK(maildir_has(md2, bn) == 1);
		CHECK(maildir_has(md2, maildir_name(a)) == 1);
		CHECK(maildir_has(md2, "1.M2P3Q4.nohost,S=5") == 0);
		maildir_close(md2);
	}
	/* The cache built above learns of later commits. */
	c = write_msg(md, "c\n", 2, 10);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(maildir_commit(c, "S", 0) == 0);
		snprintf(to, sizeof(to), "%s:2,", maildir_name(c));
		CHECK(maildir_has(md, to) == 1);
		maildir_msg_free(c);
	}
done:
	free(bn);
	maildir_msg_free(a);
	maildir_msg_free(b);
	maildir_close(md);
}

struct scase {
	const char *name;
	const char *folder;
	char delim;
	const char *want;
};

static const struct scase scases[] = {
	{ "subfolder INBOX", "INBOX", '/', "" },
	{ "subfolder inbox lowercase", "inbox", '/', "" },
	{ "subfolder INBOX child", "INBOX/x", '/', ".INBOX.x" },
	{ "subfolder Lists/foo", "Lists/foo", '/', ".Lists.foo" },
	{ "subfolder dot inside", "a.b", '/', ".a%2Eb" },
	{ "subfolder dot-dot escape", "../etc", '/', ".%2E%2E.etc" },
	{ "subfolder dot-dot middle", "x/../y", '/', ".x.%2E%2E.y" },
	{ "subfolder single dot", ".", '/', ".%2E" },
	{ "subfolder UTF-8", "Ünïcode", '/', ".Ünïcode" },
	{ "subfolder dot delimiter", "Lists.foo", '.', ".Lists.foo" },
	{ "subfolder slash with dot delimiter", "a/b", '.', ".a%2Fb" },
	{ "subfolder no hierarchy", "a/b", '\0', ".a%2Fb" },
	{ "subfolder empty components", "/a//", '/', ".%00.a.%00.%00" },
	{ "subfolder empty name", "", '/', ".%00" },
	{ "subfolder specials", "50%:\\\x01\x7f", '/', ".50%25%3A%5C%01%7F" },
	{ "subfolder space kept", "Sent Items", '/', ".Sent Items" },
	/* The examples of fetchrc(5), Folder names. */
	{ "subfolder doc ampersand", "INBOX.A&B", '.', ".INBOX.A&B" },
	{ "subfolder doc percent", "Reports 50%", '/', ".Reports 50%25" },
};

static void
t_subfolder(const void *arg)
{
	const struct scase *c = arg;
	char *s = maildir_subfolder(c->folder, c->delim);

	CHECK_STR(s, c->want);
	CHECK(strchr(s, '/') == NULL);
	CHECK(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	free(s);
}

/* Files left in tmp/ by interrupted deliveries go once old enough; new
 * ones, and messages being written, stay. */
static void
t_clean_tmp(const void *arg)
{
	char err[512], path[600];
	struct maildir *md;
	struct maildir_msg *m;
	int64_t now = (int64_t)time(NULL);
	FILE *f;

	(void)arg;
	md = maildir_open(mdpath("clean"), err, sizeof(err));
	CHECK(md != NULL);
	if (md == NULL)
		return;
	snprintf(path, sizeof(path), "%s/tmp/left.behind", maildir_path(md));
	CHECK((f = fopen(path, "w")) != NULL);
	if (f != NULL)
		fclose(f);
	m = maildir_begin(md);
	CHECK(m != NULL);
	CHECK(maildir_clean_tmp(md, now, 36 * 3600) == 0);
	CHECK(access(path, F_OK) == 0);
	/* 37 hours on, both are stale by their status change time. */
	CHECK(maildir_clean_tmp(md, now + 37 * 3600, 36 * 3600) == 2);
	CHECK(access(path, F_OK) == -1);
	CHECK(maildir_clean_tmp(md, now + 37 * 3600, 36 * 3600) == 0);
	maildir_abort(m);
	maildir_close(md);
}

int
main(void)
{
	static const size_t chunks[] = { 1, 1000, 65536, 70000, 200000 };
	static const char *names[] = { "chunks of 1 byte", "chunks of 1000",
		"chunks of 64 KiB", "chunks of 70000", "one write" };
	size_t i;
	int rc;

	snprintf(tdir, sizeof(tdir), "/tmp/mailfetch-test-maildir.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN("open creates the tree", t_open_creates, NULL);
	T_RUN("path under a regular file: ENOTDIR", t_not_a_directory, NULL);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		T_RUN(names[i], t_chunks, &chunks[i]);
	T_RUN("small message byte-exact", t_small_exact, NULL);
	T_RUN("empty message", t_empty, NULL);
	T_RUN("flags to cur/ and mtime", t_flags_mtime, NULL);
	T_RUN("bad flags refused", t_bad_flags, NULL);
	T_RUN("abort leaves nothing", t_abort, NULL);
	T_RUN("names are unique", t_unique_names, NULL);
	T_RUN("commit never overwrites new/", t_no_overwrite, "");
	T_RUN("commit never overwrites cur/", t_no_overwrite, "S");
	T_RUN("maildir_has in new and cur", t_has, NULL);
	T_RUN("stale files in tmp are removed", t_clean_tmp, NULL);
	for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++)
		T_RUN(scases[i].name, t_subfolder, &scases[i]);
	rc = T_DONE();
	t_rmtree(tdir);
	return rc;
}
