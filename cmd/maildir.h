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
