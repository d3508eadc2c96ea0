/*
 * Maildir delivery. See maildir.h.
 *
 * The Maildir and its tmp/, new/ and cur/ are opened once; every file
 * operation is relative to those directory descriptors (openat,
 * renameat, ...), so names are resolved once and a directory renamed
 * under us is not followed half-way.
 *
 * A message goes: open tmp/NAME with O_EXCL, write (buffered), then
 * fdatasync and close in one of the Maildir's sync threads (syncpool.c)
 * while the caller goes on with the next message; maildir_commit waits
 * for both to have succeeded before it renames to new/NAME,S=<size> (or
 * cur/...:2,FLAGS) without ever replacing an existing file;
 * maildir_sync fsyncs the directories that received files, which makes
 * the renames durable.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "../tls/util.h"
#include "maildir.h"
#include "syncpool.h"

#define MSG_BUFSZ (64 * 1024)
#define NAME_TRIES 1000

/* Sync threads per Maildir: with 16, the syncs of a batch take about a
 * third of the time they take one after the other (bench/RESULTS.md). */
#define SYNC_THREADS 16

/* RENAME_NOREPLACE of renameat2(2), from <linux/fs.h>. */
#define MD_RENAME_NOREPLACE 1

enum msg_state {
	MSG_OPEN,
	MSG_SYNCING, /* written; its fdatasync is queued or running */
	MSG_FINISHED, /* durable and closed */
	MSG_COMMITTED,
	MSG_FAILED
};

/* A set of base names (without any ":2,..." suffix), open addressing. */
struct nameset {
	char **slot;
	size_t cap, n;
};

struct maildir {
	char *path;
	int dfd, tmpfd, newfd, curfd;
	int new_dirty, cur_dirty;
	char *host; /* escaped host name for file names */
	struct nameset *seen;
	struct syncpool *pool; /* started with the first finished message */
	int errnum;
	char err[1024];
};

struct maildir_msg {
	struct maildir *md;
	int fd;
	enum msg_state state;
	char *tmpname;
	char *name;
	char *buf;
	size_t buflen;
	uint64_t size;
	struct syncjob job;
};

/*
 * The Q<n> part of file names. It is per process rather than per
 * Maildir so that two handles on the same Maildir in one process (two
 * accounts delivering to one place) never build the same name.
 */
static unsigned long md_seq;

static void md_fail(struct maildir *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
md_fail(struct maildir *md, int e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(md->err, sizeof(md->err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(md->err))
		snprintf(md->err + n, sizeof(md->err) - n, ": %s", strerror(e));
	md->errnum = e;
	errno = e;
}

static uint64_t
hash_str(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The length of a name up to its ":2,..." info suffix. */
static size_t
base_len(const char *name)
{
	const char *c = strchr(name, ':');

	return c ? (size_t)(c - name) : strlen(name);
}

static int
nameset_has(const struct nameset *s, const char *name, size_t len)
{
	size_t i = hash_str(name, len) & (s->cap - 1);

	while (s->slot[i] != NULL) {
		if (strlen(s->slot[i]) == len
		    && memcmp(s->slot[i], name, len) == 0)
			return 1;
		i = (i + 1) & (s->cap - 1);
	}
	return 0;
}

static void
nameset_add(struct nameset *s, const char *name, size_t len)
{
	char **old;
	size_t i, oldcap;

	if (nameset_has(s, name, len))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		old = s->slot;
		oldcap = s->cap;
		s->cap *= 2;
		s->slot = xcalloc(s->cap, sizeof(*s->slot));
		for (i = 0; i < oldcap; i++) {
			size_t j;

			if (old[i] == NULL)
				continue;
			j = hash_str(old[i], strlen(old[i])) & (s->cap - 1);
			while (s->slot[j] != NULL)
				j = (j + 1) & (s->cap - 1);
			s->slot[j] = old[i];
		}
		free(old);
	}
	i = hash_str(name, len) & (s->cap - 1);
	while (s->slot[i] != NULL)
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = xstrndup(name, len);
	s->n++;
}

static void
nameset_free(struct nameset *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	free(s);
}

/* Add the base names of the entries of the directory dirfd. */
static int
nameset_scan(struct nameset *s, int dirfd)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			nameset_add(s, de->d_name, base_len(de->d_name));
		errno = 0;
	}
	if (errno != 0) {
		int e = errno;

		closedir(d);
		errno = e;
		return -1;
	}
	closedir(d);
	return 0;
}

/*
 * mkdir -p with mode 0700. On failure, p is cut at the component that
 * failed (for the message) and errno says why. Each directory created
 * is made durable by an fsync of its parent.
 */
static int
mkdirs(char *p)
{
	char *s, c;

	if (p[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) == 0) {
			if (fsync_parent(p) == -1)
				return -1;
		} else if (errno != EEXIST)
			return -1;
		*s = c;
		if (c == '\0')
			return 0;
	}
}

static int
open_dir(int at, const char *name)
{
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * tmp/, new/ or cur/ of the Maildir, not through a symbolic link: one
 * planted there would send the mail, and the files mailfetch creates and
 * removes in tmp/, to wherever it points. A symlink gives ELOOP.
 */
static int
open_subdir(int dfd, const char *name)
{
	struct stat sb;
	int fd, e;

	if ((fd = openat(
		 dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
	    != -1)
		return fd;
	e = errno;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0
	    && S_ISLNK(sb.st_mode))
		e = ELOOP;
	errno = e;
	return -1;
}

static void
host_name(struct maildir *md)
{
	char h[256], out[256 * 4 + 1];
	size_t i, o;

	if (gethostname(h, sizeof(h)) == -1 || h[0] == '\0')
		xstrlcpy(h, "localhost", sizeof(h));
	h[sizeof(h) - 1] = '\0';
	/* The Maildir convention: '/' and ':' cannot be in a name. */
	for (i = o = 0; h[i] != '\0'; i++) {
		if (h[i] == '/') {
			memcpy(out + o, "\\057", 4);
			o += 4;
		} else if (h[i] == ':') {
			memcpy(out + o, "\\072", 4);
			o += 4;
		} else
			out[o++] = h[i];
	}
	out[o] = '\0';
	md->host = xstrdup(out);
}

/* Open the Maildir's directory at path, creating it and its missing
 * parents. Returns the descriptor, or -1 with errno set and err said. */
static int
open_top(const char *path, char *err, size_t errlen)
{
	char *p;
	int fd, e;

	if ((fd = open_dir(AT_FDCWD, path)) != -1 || errno != ENOENT)
		goto done;
	p = xstrdup(path);
	if (mkdirs(p) == -1) {
		e = errno;
		snprintf(err, errlen, "create Maildir %s: mkdir %s: %s", path,
		    p, strerror(e));
		free(p);
		errno = e;
		return -1;
	}
	free(p);
	fd = open_dir(AT_FDCWD, path);
done:
	if (fd == -1) {
		e = errno;
		snprintf(err, errlen, "open Maildir %s: %s", path, strerror(e));
		errno = e;
	}
	return fd;
}

/* Open tmp/, new/ or cur/ (name) of the Maildir at dfd, creating it
 * when missing (*created set). Returns the descriptor, or -1 with errno
 * set and err said. */
static int
open_part(int dfd, const char *path, const char *name, int *created, char *err,
    size_t errlen)
{
	int fd, e;

	if ((fd = open_subdir(dfd, name)) != -1)
		return fd;
	if (errno == ENOENT) {
		if (mkdirat(dfd, name, 0700) == -1 && errno != EEXIST) {
			e = errno;
			snprintf(err, errlen, "mkdir %s/%s: %s", path, name,
			    strerror(e));
			errno = e;
			return -1;
		}
		*created = 1;
		fd = open_subdir(dfd, name);
	}
	e = errno;
	if (fd == -1 && e == ELOOP)
		snprintf(err, errlen,
		    "%s/%s is a symbolic link, and mail is not "
		    "delivered through one; make it a directory",
		    path, name);
	else if (fd == -1)
		snprintf(
		    err, errlen, "open %s/%s: %s", path, name, strerror(e));
	errno = e;
	return fd;
}

struct maildir *
maildir_open(const char *path, char *err, size_t errlen)
{
	static const char *sub[3] = { "tmp", "new", "cur" };
	struct maildir *md;
	int *fds[3], i, created = 0, e = 0;

	md = xcalloc(1, sizeof(*md));
	md->dfd = md->tmpfd = md->newfd = md->curfd = -1;
	md->path = xstrdup(path);
	fds[0] = &md->tmpfd;
	fds[1] = &md->newfd;
	fds[2] = &md->curfd;
	if ((md->dfd = open_top(path, err, errlen)) == -1)
		goto fail;
	for (i = 0; i < 3; i++)
		if ((*fds[i] = open_part(
			 md->dfd, path, sub[i], &created, err, errlen))
		    == -1)
			goto fail;
	if (created && fsync(md->dfd) == -1) {
		e = errno;
		snprintf(err, errlen, "fsync %s: %s", path, strerror(e));
		errno = e;
		goto fail;
	}
	host_name(md);
	return md;

fail:
	e = errno;
	maildir_close(md);
	errno = e;
	return NULL;
}

int
maildir_clean_tmp(struct maildir *md, int64_t now, int64_t age)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, n = 0;

	/* fdopendir takes the descriptor: give it a copy. */
	if ((fd = dup(md->tmpfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.'
		    || fstatat(md->tmpfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW)
			== -1
		    || !S_ISREG(sb.st_mode) || now - (int64_t)sb.st_ctime < age)
			continue;
		if (unlinkat(md->tmpfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

struct maildir_msg *
maildir_begin(struct maildir *md)
{
	struct maildir_msg *m;
	struct timespec ts;
	char *name;
	int fd, i;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (i = 0; i < NAME_TRIES; i++) {
		xasprintf(&name, "%lld.M%ldP%ldQ%lu.%s", (long long)ts.tv_sec,
		    (long)(ts.tv_nsec / 1000), (long)getpid(), md_seq++,
		    md->host);
		fd = openat(md->tmpfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1) {
			m = xcalloc(1, sizeof(*m));
			m->md = md;
			m->fd = fd;
			m->state = MSG_OPEN;
			m->tmpname = name;
			m->buf = xmalloc(MSG_BUFSZ);
			return m;
		}
		if (errno != EEXIST) {
			md_fail(md, errno, "create %s/tmp/%s", md->path, name);
			free(name);
			return NULL;
		}
		free(name);
	}
	md_fail(md, EEXIST, "create a file in %s/tmp", md->path);
	return NULL;
}

static int
msg_flush(struct maildir_msg *m)
{
	if (m->buflen == 0)
		return 0;
	if (write_full(m->fd, m->buf, m->buflen) == -1) {
		md_fail(
		    m->md, errno, "write %s/tmp/%s", m->md->path, m->tmpname);
		m->state = MSG_FAILED;
		return -1;
	}
	m->buflen = 0;
	return 0;
}

int
maildir_write(struct maildir_msg *m, const char *buf, size_t len)
{
	if (m->state == MSG_FAILED)
		return -1;
	if (m->state != MSG_OPEN) {
		md_fail(
		    m->md, EINVAL, "write %s/tmp/%s", m->md->path, m->tmpname);
		return -1;
	}
	if (len == 0)
		return 0;
	m->size += len;
	if (m->buflen + len <= MSG_BUFSZ) {
		memcpy(m->buf + m->buflen, buf, len);
		m->buflen += len;
		return 0;
	}
	if (msg_flush(m) == -1)
		return -1;
	if (len >= MSG_BUFSZ) {
		/* Large writes bypass the buffer. */
		if (write_full(m->fd, buf, len) == -1) {
			md_fail(m->md, errno, "write %s/tmp/%s", m->md->path,
			    m->tmpname);
			m->state = MSG_FAILED;
			return -1;
		}
		return 0;
	}
	memcpy(m->buf, buf, len);
	m->buflen = len;
	return 0;
}

int
maildir_finish(struct maildir_msg *m)
{
	struct maildir *md = m->md;

	if (m->state == MSG_FAILED)
		return -1;
	if (m->state != MSG_OPEN) {
		md_fail(md, EINVAL, "finish %s/tmp/%s", md->path, m->tmpname);
		return -1;
	}
	if (msg_flush(m) == -1)
		return -1;
	free(m->buf);
	m->buf = NULL;
	xasprintf(&m->name, "%s,S=%" PRIu64, m->tmpname, m->size);
	/* fdatasync covers the data and the size, all a reader needs. */
	if (md->pool == NULL)
		md->pool = syncpool_new(SYNC_THREADS);
	m->job.fd = m->fd;
	syncpool_submit(md->pool, &m->job);
	m->state = MSG_SYNCING;
	return 0;
}

/* Wait for the message's sync and the close of its file. */
static int
msg_durable(struct maildir_msg *m)
{
	struct maildir *md = m->md;
	int rc;

	if (m->state != MSG_SYNCING)
		return m->state == MSG_FINISHED ? 0 : -1;
	rc = syncpool_wait(md->pool, &m->job);
	m->fd = -1;
	if (rc == -1) {
		md_fail(md, errno, "fsync %s/tmp/%s", md->path, m->tmpname);
		m->state = MSG_FAILED;
		return -1;
	}
	m->state = MSG_FINISHED;
	return 0;
}

const char *
maildir_name(const struct maildir_msg *m)
{
	return m->name;
}

/*
 * Move old (in ofd) to new (in nfd), failing with EEXIST rather than
 * replace a file already there: a name clash must never cost a message
 * that was delivered before. renameat2(RENAME_NOREPLACE) does that in
 * one step; where the kernel or the file system lacks it (ENOSYS,
 * EINVAL), link(2) fails with EEXIST just as well, and the tmp name is
 * unlinked after. Where the file system has no hard links either, the
 * target is checked first; the names carry pid, counter and
 * microseconds, so only a foreign writer could race us there.
 */
static int
move_noreplace(int ofd, const char *old, int nfd, const char *new)
{
	struct stat sb;

#ifdef SYS_renameat2
	if (syscall(SYS_renameat2, ofd, old, nfd, new, MD_RENAME_NOREPLACE)
	    == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -1;
#endif
	if (linkat(ofd, old, nfd, new, 0) == 0) {
		/*
		 * The message is delivered now; a tmp name left behind by a
		 * failed unlink is a harmless duplicate link that Maildir
		 * readers clean up, not a reason to fail.
		 */
		(void)unlinkat(ofd, old, 0);
		return 0;
	}
	if (errno != EPERM && errno != ENOSYS && errno != ENOTSUP
	    && errno != EOPNOTSUPP)
		return -1;
	if (fstatat(nfd, new, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(ofd, old, nfd, new);
}

int
maildir_commit(struct maildir_msg *m, const char *flags, int64_t mtime)
{
	struct maildir *md = m->md;
	struct timespec ts[2];
	const char *f;
	char *dest = NULL;
	int dirfd;

	if (m->state == MSG_SYNCING && msg_durable(m) == -1)
		return -1;
	if (m->state != MSG_FINISHED) {
		md_fail(md, EINVAL, "commit %s/tmp/%s: not finished", md->path,
		    m->tmpname);
		return -1;
	}
	if (flags == NULL)
		flags = "";
	for (f = flags; *f != '\0'; f++)
		if (!((*f >= 'A' && *f <= 'Z') || (*f >= 'a' && *f <= 'z'))) {
			md_fail(md, EINVAL,
			    "commit %s/tmp/%s: bad flags \"%s\"", md->path,
			    m->tmpname, flags);
			return -1;
		}
	/*
	 * The time is set on the tmp file, before the rename: rename keeps
	 * it, and a failure here leaves nothing half delivered.
	 */
	if (mtime != 0) {
		ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (utimensat(md->tmpfd, m->tmpname, ts, 0) == -1) {
			md_fail(md, errno, "set time of %s/tmp/%s", md->path,
			    m->tmpname);
			return -1;
		}
	}
	if (flags[0] != '\0') {
		xasprintf(&dest, "%s:2,%s", m->name, flags);
		dirfd = md->curfd;
	} else {
		dest = xstrdup(m->name);
		dirfd = md->newfd;
	}
	if (move_noreplace(md->tmpfd, m->tmpname, dirfd, dest) == -1) {
		md_fail(md, errno, "rename %s/tmp/%s to %s/%s/%s", md->path,
		    m->tmpname, md->path, flags[0] ? "cur" : "new", dest);
		free(dest);
		return -1;
	}
	if (flags[0] != '\0')
		md->cur_dirty = 1;
	else
		md->new_dirty = 1;
	if (md->seen != NULL)
		nameset_add(md->seen, m->name, strlen(m->name));
	m->state = MSG_COMMITTED;
	free(dest);
	return 0;
}

void
maildir_abort(struct maildir_msg *m)
{
	if (m == NULL)
		return;
	/* The sync thread may still be using the fd; it closes it. */
	if (m->state == MSG_SYNCING) {
		(void)syncpool_wait(m->md->pool, &m->job);
		m->fd = -1;
	}
	if (m->fd != -1)
		close(m->fd);
	if (m->state != MSG_COMMITTED)
		(void)unlinkat(m->md->tmpfd, m->tmpname, 0);
	free(m->buf);
	free(m->tmpname);
	free(m->name);
	free(m);
}

void
maildir_msg_free(struct maildir_msg *m)
{
	/* An uncommitted message is not delivered: its tmp file goes. */
	maildir_abort(m);
}

int
maildir_sync(struct maildir *md)
{
	if (md->new_dirty) {
		if (fsync(md->newfd) == -1) {
			md_fail(md, errno, "fsync %s/new", md->path);
			return -1;
		}
		md->new_dirty = 0;
	}
	if (md->cur_dirty) {
		if (fsync(md->curfd) == -1) {
			md_fail(md, errno, "fsync %s/cur", md->path);
			return -1;
		}
		md->cur_dirty = 0;
	}
	return 0;
}

/*
 * Used for crash recovery only. An exact name in new/ or cur/ is found
 * with a stat; a name a mail reader moved to cur/ and gave flags
 * (NAME:2,FLAGS) is found in a set of the names of new/ and cur/, read
 * once on first use and kept up to date with our own commits. When the
 * directories cannot be read, the answer is 0: the message is then
 * downloaded again (a duplicate at worst), never taken as stored.
 */
int
maildir_has(struct maildir *md, const char *name)
{
	struct stat sb;
	size_t len;

	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL)
		return 0;
	len = base_len(name);
	if (len == strlen(name)) {
		if (fstatat(md->newfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0
		    || fstatat(md->curfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			return 1;
	}
	if (md->seen == NULL) {
		md->seen = xcalloc(1, sizeof(*md->seen));
		md->seen->cap = 1024;
		md->seen->slot = xcalloc(md->seen->cap, sizeof(char *));
		if (nameset_scan(md->seen, md->newfd) == -1
		    || nameset_scan(md->seen, md->curfd) == -1) {
			md_fail(md, errno, "read %s/new and cur", md->path);
			nameset_free(md->seen);
			md->seen = NULL;
			return 0;
		}
	}
	return nameset_has(md->seen, name, len);
}

/* Bytes escaped inside a subfolder name component. */
static int
sub_escaped(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '.' || c == '/' || c == '\\'
	    || c == '%' || c == ':';
}

/*
 * Each component of the folder name becomes one part of a Maildir++
 * name ".a.b.c"; inside a part, '.', '/', '\\', '%', ':' and control
 * characters are written %XX (uppercase hex), so "." and ".." become
 * "%2E" and "%2E%2E", and the whole is a single directory entry that
 * maps back to exactly one folder name. An empty component is written
 * "%00": no folder name holds a NUL byte, so that cannot be ambiguous.
 * Bytes from 0x80 (UTF-8) pass unchanged.
 */
char *
maildir_subfolder(const char *folder, char delim)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s;
	size_t len = strlen(folder), o = 0;
	char *out;
	int empty = 1;

	if (strcasecmp(folder, "INBOX") == 0)
		return xstrdup("");
	/* Each byte takes at most 3 bytes, plus "." and "%00" per part. */
	out = xmalloc(7 * len + 8);
	out[o++] = '.';
	for (s = (const unsigned char *)folder;; s++) {
		if (*s == '\0'
		    || (delim != '\0' && *s == (unsigned char)delim)) {
			if (empty) {
				memcpy(out + o, "%00", 3);
				o += 3;
			}
			if (*s == '\0')
				break;
			out[o++] = '.';
			empty = 1;
			continue;
		}
		empty = 0;
		if (sub_escaped(*s)) {
			out[o++] = '%';
			out[o++] = hex[*s >> 4];
			out[o++] = hex[*s & 0xf];
		} else
			out[o++] = (char)*s;
	}
	out[o] = '\0';
	return out;
}

const char *
maildir_error(const struct maildir *md)
{
	return md->err;
}

int
maildir_errno(const struct maildir *md)
{
	return md->errnum;
}

const char *
maildir_path(const struct maildir *md)
{
	return md->path;
}

void
maildir_close(struct maildir *md)
{
	if (md == NULL)
		return;
	if (md->curfd != -1)
		close(md->curfd);
	if (md->newfd != -1)
		close(md->newfd);
	if (md->tmpfd != -1)
		close(md->tmpfd);
	if (md->dfd != -1)
		close(md->dfd);
	syncpool_free(md->pool);
	nameset_free(md->seen);
	free(md->host);
	free(md->path);
	free(md);
}

/*
 * Mirror: finding a delivered message's file and changing it.
 *
 * Cost. A lookup first tries the names the file most likely has, one
 * fstatat each (O(1), no directory read): new/UNIQUE, then cur/ with the
 * recorded info, with the info about to be set (the state of a rename
 * whose record was lost), with an empty info and without any. Only when
 * all miss (a mail reader changed the flags, or the file is gone) are
 * new/ and cur/ read: O(files in the folder) in readdir(3) once, after
 * which every lookup through the same index is O(1) again. Without an
 * index each miss reads the directories anew.
 */

/* One name in an index: key the unique part, where "new/E" or "cur/E",
 * or NULL once the file is gone. */
struct md_ient {
	char *key;
	char *where;
};

struct maildir_index {
	struct md_ient *slot;
	size_t cap, n;
	int loaded;
	unsigned reads;
};

/* Where a lookup found a file. */
struct md_loc {
	int dirfd;
	int incur;
	char *entry; /* the name in new/ or cur/ */
	struct stat sb;
};

/* 1 when the directory entry e is the unique part u (len bytes) with
 * no info or with a ":2,..." info. */
static int
md_matches(const char *e, const char *u, size_t len)
{
	return strncmp(e, u, len) == 0
	    && (e[len] == '\0' || strncmp(e + len, ":2,", 3) == 0);
}

struct maildir_index *
maildir_index_new(void)
{
	struct maildir_index *ix = xcalloc(1, sizeof(*ix));

	ix->cap = 64;
	ix->slot = xcalloc(ix->cap, sizeof(*ix->slot));
	return ix;
}

unsigned
maildir_index_reads(const struct maildir_index *ix)
{
	return ix->reads;
}

void
maildir_index_free(struct maildir_index *ix)
{
	size_t i;

	if (ix == NULL)
		return;
	for (i = 0; i < ix->cap; i++) {
		free(ix->slot[i].key);
		free(ix->slot[i].where);
	}
	free(ix->slot);
	free(ix);
}

static struct md_ient *
ix_slot(struct maildir_index *ix, const char *key, size_t len)
{
	size_t i = hash_str(key, len) & (ix->cap - 1);

	while (ix->slot[i].key != NULL
	    && !(strlen(ix->slot[i].key) == len
		&& memcmp(ix->slot[i].key, key, len) == 0))
		i = (i + 1) & (ix->cap - 1);
	return &ix->slot[i];
}

static void
ix_grow(struct maildir_index *ix)
{
	struct md_ient *old = ix->slot, *s;
	size_t i, oldcap = ix->cap;

	ix->cap *= 2;
	ix->slot = xcalloc(ix->cap, sizeof(*ix->slot));
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		s = ix_slot(ix, old[i].key, strlen(old[i].key));
		*s = old[i];
	}
	free(old);
}

/* Set where for the key of entry e (dir "new" or "cur"); a key already
 * there keeps its first file unless replace. */
static void
ix_put(struct maildir_index *ix, const char *dir, const char *e, int replace)
{
	struct md_ient *s;
	size_t len = base_len(e);

	if ((ix->n + 1) * 2 > ix->cap)
		ix_grow(ix);
	s = ix_slot(ix, e, len);
	if (s->key == NULL) {
		s->key = xstrndup(e, len);
		ix->n++;
	} else if (s->where != NULL && !replace)
		return;
	free(s->where);
	xasprintf(&s->where, "%s/%s", dir, e);
}

/* The file of key is gone. */
static void
ix_drop(struct maildir_index *ix, const char *key, size_t len)
{
	struct md_ient *s = ix_slot(ix, key, len);

	free(s->where);
	s->where = NULL;
}

/* Call fn(arg, entry) for each entry of dirfd not starting with '.',
 * until it returns non-zero (returned). -1: the directory cannot be
 * read (errno). */
static int
md_each(int dirfd, int (*fn)(void *, const char *), void *arg)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0, e;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	errno = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			rc = fn(arg, de->d_name);
		errno = 0;
	}
	e = errno;
	closedir(d);
	if (rc == 0 && e != 0) {
		errno = e;
		return -1;
	}
	return rc;
}

struct md_load {
	struct maildir_index *ix;
	const char *dir;
};

static int
md_load_one(void *arg, const char *e)
{
	struct md_load *l = arg;

	ix_put(l->ix, l->dir, e, 0);
	return 0;
}

/* Read the names of new/ and cur/ into ix (new/ first: a unique part
 * in both is looked up where a new message is first). */
static int
ix_load(struct maildir *md, struct maildir_index *ix)
{
	struct md_load l;

	ix->reads++;
	l.ix = ix;
	l.dir = "new";
	if (md_each(md->newfd, md_load_one, &l) == -1)
		return -1;
	l.dir = "cur";
	if (md_each(md->curfd, md_load_one, &l) == -1)
		return -1;
	ix->loaded = 1;
	return 0;
}

struct md_scan {
	const char *u;
	size_t len;
	char *found;
};

static int
md_scan_one(void *arg, const char *e)
{
	struct md_scan *s = arg;

	if (!md_matches(e, s->u, s->len))
		return 0;
	s->found = xstrdup(e);
	return 1;
}

/* Stat dirfd/e into loc; 0 found, MAILDIR_MISSING, -1 error. */
static int
md_try(struct maildir *md, int incur, const char *e, struct md_loc *loc)
{
	int dirfd = incur ? md->curfd : md->newfd;

	if (fstatat(dirfd, e, &loc->sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT || errno == ENAMETOOLONG)
			return MAILDIR_MISSING;
		md_fail(md, errno, "stat %s/%s/%s", md->path,
		    incur ? "cur" : "new", e);
		return -1;
	}
	if (S_ISDIR(loc->sb.st_mode))
		return MAILDIR_MISSING;
	loc->dirfd = dirfd;
	loc->incur = incur;
	loc->entry = xstrdup(e);
	return 0;
}

/* Read new/ and cur/ for unique part u, without an index. */
static int
md_scan(struct maildir *md, const char *u, size_t len, struct md_loc *loc)
{
	struct md_scan s;
	int i, rc, fds[2];

	fds[0] = md->newfd;
	fds[1] = md->curfd;
	s.u = u;
	s.len = len;
	for (i = 0; i < 2; i++) {
		s.found = NULL;
		if ((rc = md_each(fds[i], md_scan_one, &s)) == -1) {
			md_fail(md, errno, "read %s/%s", md->path,
			    i ? "cur" : "new");
			return -1;
		}
		if (rc == 0)
			continue;
		rc = md_try(md, i, s.found, loc);
		free(s.found);
		if (rc != MAILDIR_MISSING)
			return rc;
	}
	return MAILDIR_MISSING;
}

/* Look u up in ix, reading the directories on first use. A name the
 * index holds but that is gone since (changed behind our back) sends
 * the lookup to the directories themselves. */
static int
md_lookup(struct maildir *md, struct maildir_index *ix, const char *u,
    size_t len, struct md_loc *loc)
{
	struct md_ient *s;
	int rc;

	if (ix == NULL)
		return md_scan(md, u, len, loc);
	if (!ix->loaded && ix_load(md, ix) == -1) {
		md_fail(md, errno, "read %s/new and cur", md->path);
		return -1;
	}
	s = ix_slot(ix, u, len);
	if (s->key == NULL || s->where == NULL)
		return MAILDIR_MISSING;
	rc = md_try(md, s->where[0] == 'c', s->where + 4, loc);
	if (rc != MAILDIR_MISSING)
		return rc;
	ix->reads++;
	return md_scan(md, u, len, loc);
}

/*
 * Find the file of name (see maildir_find) into loc: the direct tries,
 * then the index or the directories.
 */
static int
md_locate(struct maildir *md, struct maildir_index *ix, const char *name,
    const char *flags, struct md_loc *loc)
{
	const char *info = NULL, *tries[4];
	char *e;
	size_t len, i, n = 0;
	int rc;

	memset(loc, 0, sizeof(*loc));
	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL) {
		md_fail(md, EINVAL, "find \"%s\" in %s", name, md->path);
		return -1;
	}
	len = base_len(name);
	if (strncmp(name + len, ":2,", 3) == 0)
		info = name + len + 3;
	xasprintf(&e, "%.*s", (int)len, name);
	rc = md_try(md, 0, e, loc);
	free(e);
	if (rc != MAILDIR_MISSING)
		return rc;
	if (info != NULL)
		tries[n++] = info;
	if (flags != NULL && (info == NULL || strcmp(flags, info) != 0))
		tries[n++] = flags;
	if ((info == NULL || info[0] != '\0')
	    && (flags == NULL || flags[0] != '\0'))
		tries[n++] = "";
	for (i = 0; i < n; i++) {
		xasprintf(&e, "%.*s:2,%s", (int)len, name, tries[i]);
		rc = md_try(md, 1, e, loc);
		free(e);
		if (rc != MAILDIR_MISSING)
			return rc;
	}
	xasprintf(&e, "%.*s", (int)len, name);
	rc = md_try(md, 1, e, loc);
	free(e);
	if (rc == MAILDIR_MISSING)
		rc = md_lookup(md, ix, name, len, loc);
	if (rc == 0 && ix != NULL && ix->loaded)
		ix_put(ix, loc->incur ? "cur" : "new", loc->entry, 1);
	return rc;
}

int
maildir_find(struct maildir *md, struct maildir_index *ix, const char *name,
    const char *flags, char **where)
{
	struct md_loc loc;
	int rc;

	*where = NULL;
	if ((rc = md_locate(md, ix, name, flags, &loc)) != 0)
		return rc;
	xasprintf(where, "%s/%s", loc.incur ? "cur" : "new", loc.entry);
	free(loc.entry);
	return 0;
}

int
maildir_info_merge(const char *cur, const char *flags, char *out, size_t outlen)
{
	unsigned char on[256];
	const char *p;
	size_t o = 0;
	int c;

	memset(on, 0, sizeof(on));
	for (p = flags; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) {
			errno = EINVAL;
			return -1;
		}
		on[(unsigned char)*p] = 1;
	}
	for (p = cur; p != NULL && *p != '\0'; p++)
		if (((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		    && strchr("DFRST", *p) == NULL)
			on[(unsigned char)*p] = 1;
	for (c = 'A'; c <= 'z'; c++) {
		if (!on[c])
			continue;
		if (o + 1 >= outlen) {
			errno = EINVAL;
			return -1;
		}
		out[o++] = (char)c;
	}
	if (outlen == 0) {
		errno = EINVAL;
		return -1;
	}
	out[o] = '\0';
	return 0;
}

/*
 * Rename the file at loc to cur/target, never over another file. When
 * target is there already as the same file (inode), an earlier rename
 * done as link and unlink (move_noreplace without renameat2) was cut
 * between the two: the old name is removed, which finishes it.
 */
static int
md_move_cur(struct maildir *md, struct maildir_index *ix,
    const struct md_loc *loc, const char *target)
{
	struct stat sb;
	int e;

	if (move_noreplace(loc->dirfd, loc->entry, md->curfd, target) == -1) {
		e = errno;
		if (e != EEXIST
		    || fstatat(md->curfd, target, &sb, AT_SYMLINK_NOFOLLOW)
			== -1
		    || sb.st_dev != loc->sb.st_dev
		    || sb.st_ino != loc->sb.st_ino) {
			md_fail(md, e, "rename %s/%s/%s to %s/cur/%s", md->path,
			    loc->incur ? "cur" : "new", loc->entry, md->path,
			    target);
			return -1;
		}
		if (unlinkat(loc->dirfd, loc->entry, 0) == -1
		    && errno != ENOENT) {
			md_fail(md, errno, "remove %s/%s/%s", md->path,
			    loc->incur ? "cur" : "new", loc->entry);
			return -1;
		}
	}
	md->cur_dirty = 1;
	if (!loc->incur)
		md->new_dirty = 1;
	if (ix != NULL && ix->loaded)
		ix_put(ix, "cur", target, 1);
	return 0;
}

int
maildir_set_flags(struct maildir *md, struct maildir_index *ix,
    const char *name, const char *flags, char **newname)
{
	struct md_loc loc;
	char info[MAILDIR_INFOSZ], *target;
	const char *ci = "";
	size_t len;
	int rc;

	if (newname != NULL)
		*newname = NULL;
	if (flags == NULL)
		flags = "";
	if ((rc = md_locate(md, ix, name, flags, &loc)) != 0)
		return rc;
	len = base_len(loc.entry);
	if (strncmp(loc.entry + len, ":2,", 3) == 0)
		ci = loc.entry + len + 3;
	if (maildir_info_merge(ci, flags, info, sizeof(info)) == -1) {
		md_fail(md, EINVAL, "set flags \"%s\" on %s in %s", flags,
		    loc.entry, md->path);
		free(loc.entry);
		return -1;
	}
	if (!loc.incur && info[0] == '\0')
		target = xstrdup(loc.entry);
	else
		xasprintf(&target, "%.*s:2,%s", (int)len, loc.entry, info);
	if (!loc.incur && info[0] == '\0')
		rc = 0;
	else if (loc.incur && strcmp(target, loc.entry) == 0)
		rc = 0;
	else
		rc = md_move_cur(md, ix, &loc, target);
	if (rc == 0 && newname != NULL)
		*newname = target;
	else
		free(target);
	free(loc.entry);
	return rc;
}

/* Unlink the file at loc, marking its directory for maildir_sync. */
static int
md_unlink(struct maildir *md, const struct md_loc *loc)
{
	if (unlinkat(loc->dirfd, loc->entry, 0) == -1) {
		if (errno == ENOENT)
			return MAILDIR_MISSING;
		md_fail(md, errno, "remove %s/%s/%s", md->path,
		    loc->incur ? "cur" : "new", loc->entry);
		return -1;
	}
	if (loc->incur)
		md->cur_dirty = 1;
	else
		md->new_dirty = 1;
	return 0;
}

int
maildir_remove(struct maildir *md, struct maildir_index *ix, const char *name)
{
	struct md_loc loc, other;
	nlink_t left;
	int rc, removed;

	if ((rc = md_locate(md, ix, name, NULL, &loc)) != 0)
		return rc;
	rc = md_unlink(md, &loc);
	removed = rc == 0;
	if (rc == 0 && ix != NULL && ix->loaded)
		ix_drop(ix, name, base_len(name));
	/*
	 * More links to the file: an interrupted link-and-unlink rename
	 * left it under two names of this Maildir. Those are removed too;
	 * a link elsewhere (a backup) is not found and stays.
	 */
	for (left = loc.sb.st_nlink; rc == 0 && left > 1; left--) {
		if ((rc = md_locate(md, NULL, name, NULL, &other)) != 0)
			break;
		if (other.sb.st_dev == loc.sb.st_dev
		    && other.sb.st_ino == loc.sb.st_ino)
			rc = md_unlink(md, &other);
		else
			left = 1;
		free(other.entry);
	}
	free(loc.entry);
	/* The copy itself went: a missing second name is no error. */
	return rc == MAILDIR_MISSING && removed ? 0 : rc;
}
