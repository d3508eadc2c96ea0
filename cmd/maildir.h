/*
 * Maildir delivery. A message is written to tmp/ (created O_EXCL),
 * flushed and fsync'ed, then renamed into new/ (or cur/ with flags),
 * and the directory fsync'ed. Names follow the Maildir convention:
 * "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>" with '/' and ':' in the host
 * name escaped as \057 and \072.
 *
 * Errors: -1 with errno kept and a message in maildir_error(); ENOSPC,
 * EIO, EDQUOT and EROFS are I/O errors (exit 74), the rest OS errors
 * (exit 71).
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>
#include <stdint.h>

struct maildir;
struct maildir_msg;

/* Open the Maildir at path, creating it (and tmp, new, cur) when
 * missing, as well as missing parent directories. */
struct maildir *maildir_open(const char *path, char *err, size_t errlen);

/* Start a message: a new file in tmp/. */
struct maildir_msg *maildir_begin(struct maildir *);

/* Append bytes (buffered). */
int maildir_write(struct maildir_msg *, const char *buf, size_t len);

/* Flush the tmp file, compute the final name (with S=<size>) and queue
 * the file's fdatasync, which runs while the caller goes on; commit
 * waits for it. After 0, maildir_name() gives the name. */
int maildir_finish(struct maildir_msg *);

/* The final base name (valid after maildir_finish). */
const char *maildir_name(const struct maildir_msg *);

/* Wait until the finished file's data is durable (fsync and close
 * checked), then rename it into new/, or into cur/ with ":2,FLAGS"
 * when flags (letters in ASCII order, e.g. "FS") is non-empty; set its
 * mtime to mtime when non-zero. The rename is not durable until
 * maildir_sync. A failed sync is reported here. */
int maildir_commit(struct maildir_msg *, const char *flags, int64_t mtime);

/* Remove the tmp file if not committed, and free. Accepts NULL. */
void maildir_abort(struct maildir_msg *);

/* Free a committed message's handle. Accepts NULL. */
void maildir_msg_free(struct maildir_msg *);

/* Remove the files in tmp/ whose status last changed at least age
 * seconds before now: what interrupted deliveries left behind (the
 * Maildir convention says 36 hours). The status change time is used
 * because setting a file's mtime changes it, so a file being delivered
 * is never old. Returns how many were removed, or -1. */
int maildir_clean_tmp(struct maildir *, int64_t now, int64_t age);

/* fsync new/ and cur/ so the renames are durable. */
int maildir_sync(struct maildir *);

/* 1 when a file named name (as maildir_name gave it, with or without a
 * ":2,..." suffix added since) is in new/ or cur/, else 0. */
int maildir_has(struct maildir *, const char *name);

/* Map a folder name (UTF-8, hierarchy delimiter delim) to its Maildir++
 * subfolder name: "Lists/foo" -> ".Lists.foo". Components that are
 * empty, "." or "..", and '/', control characters and a leading '.'
 * inside a component are escaped, so the result is one directory
 * entry that cannot leave the Maildir. "INBOX" maps to "" (the Maildir
 * itself). Returns a new string. */
char *maildir_subfolder(const char *folder, char delim);

const char *maildir_error(const struct maildir *);
int maildir_errno(const struct maildir *);
const char *maildir_path(const struct maildir *);

/* Close and free. Accepts NULL. */
void maildir_close(struct maildir *);

#endif

/*
 * Mirror: the local copy of a delivered message, found by the name the
 * state recorded, given the server's flags or removed. A message's file
 * is found by its unique part (the name maildir_name gave, before any
 * ":2,INFO"), in new/ or in cur/ with any ":2,INFO": a mail reader may
 * have moved it or changed its flags. A file not found is MAILDIR_MISSING,
 * which is not an error: the caller leaves the message and says so. The
 * renames and removals are durable after maildir_sync, once per batch.
 * Errors are as above (-1, errno kept, maildir_error).
 */
#define MAILDIR_MISSING 1

/* Room for any info this module writes: each letter at most once. */
#define MAILDIR_INFOSZ 53

/*
 * The names of new/ and cur/ by unique part, read on the first lookup
 * that the direct tries miss and kept up to date with the renames and
 * removals made through it, so that a batch costs one read of the
 * directories at most. Use one per Maildir and batch; NULL in the
 * calls below reads the directories at every miss instead. A name the
 * index holds but that changed since is looked for in the directories
 * again; a unique part the index does not hold is missing (a file that
 * appears after the read is seen by the next index).
 */
struct maildir_index;
struct maildir_index *maildir_index_new(void);
/* How many times the directories were read through ix (for tests). */
unsigned maildir_index_reads(const struct maildir_index *);
/* Free. Accepts NULL. */
void maildir_index_free(struct maildir_index *);

/*
 * Find the file of the message recorded as name ("UNIQUE" or
 * "UNIQUE:2,INFO", no directory). Tried first, one stat each: new/UNIQUE,
 * cur/UNIQUE:2,INFO, cur/UNIQUE:2,<flags> (flags may be NULL), cur/UNIQUE:2,
 * and cur/UNIQUE; only when all miss are the names of new/ and cur/
 * read (through ix). 0: found, *where (a new string) is "new/ENTRY" or
 * "cur/ENTRY"; MAILDIR_MISSING; -1: error (EINVAL for a name with '/' or
 * a leading '.', or a directory that cannot be read).
 */
int maildir_find(struct maildir *, struct maildir_index *ix, const char *name,
    const char *flags, char **where);

/*
 * Give the message recorded as name the info letters flags (ASCII
 * order): the standard letters D, F, R, S and T become exactly those in
 * flags; any other letter the file has (a mail reader's keywords) is
 * kept. The file is renamed to cur/UNIQUE:2,INFO, never over another
 * file; a file in new/ that gets no letter stays there. 0: done or
 * already so, and *newname (when not NULL) is the file's name now, as
 * maildir_find takes it; MAILDIR_MISSING; -1: error.
 */
int maildir_set_flags(struct maildir *, struct maildir_index *ix,
    const char *name, const char *flags, char **newname);

/* Remove the file of the message recorded as name (and any other link
 * to it that an interrupted rename left). 0: removed; MAILDIR_MISSING;
 * -1: error. */
int maildir_remove(
    struct maildir *, struct maildir_index *ix, const char *name);

/*
 * The info of a file whose info is cur once it gets flags: the letters
 * of flags, and the letters of cur other than D, F, R, S and T, in
 * ASCII order, each once; bytes of cur that are not letters are
 * dropped. -1 (EINVAL) when flags holds a byte that is not a letter or
 * out (outlen bytes, MAILDIR_INFOSZ suffice) is too small.
 */
int maildir_info_merge(
    const char *cur, const char *flags, char *out, size_t outlen);
