/*
 * IMAP client (RFC 3501, RFC 9051; UIDPLUS RFC 4315; LITERAL+), and the
 * pure parsers it is built on, exposed for tests.
 */
#ifndef IMAP_H
#define IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* A new IMAP session for cfg (borrowed; must outlive it). Not connected
 * until ops->open. */
struct source *imap_new(const struct source_cfg *cfg);

/*
 * IDLE (RFC 2177) on the selected folder, for the daemon. Errors as for
 * the source ops; a server without IDLE, or one that refuses it, fails
 * with SRC_FREFUSED.
 *
 * imap_idle_start sends IDLE and waits (within the timeout) for the
 * server's go-ahead. Then, whenever the socket (conn_fd) is readable,
 * imap_idle_read takes the responses that have arrived, without
 * waiting for more, and sets *news when EXISTS or RECENT announced new
 * mail; -1 when the connection is lost or the server ended IDLE.
 * imap_idle_done sends DONE and waits for the end of IDLE, setting
 * *news as imap_idle_read. imap_noop sends NOOP and waits for its
 * answer (outside IDLE).
 */
int imap_idle_start(struct source *);
/* NOTIFY (RFC 5465), before the folder is selected: new mail in the
 * selected folder and in folders[0..n-1] is announced (in IDLE). */
int imap_notify(struct source *, char *const *folders, size_t n);
int imap_idle_read(struct source *, int *news);
int imap_idle_done(struct source *, int *news);
int imap_noop(struct source *);

/* Decode a mailbox name from modified UTF-7 (RFC 3501 section 5.1.3)
 * into UTF-8. Returns a new string, or NULL when the name is not valid
 * modified UTF-7. */
char *imap_utf7_decode(const char *name);

/* Encode a UTF-8 mailbox name into modified UTF-7. Returns a new string,
 * or NULL when the input is not valid UTF-8. */
char *imap_utf7_encode(const char *name);

/*
 * The name the server knows a mailbox by, however the config wrote it:
 * INBOX in any case is "INBOX" (RFC 3501 section 5.1); any other name
 * is in modified UTF-7, normalised, whether given in UTF-8 or already in
 * modified UTF-7 (a name that decodes as modified UTF-7 is taken as
 * such). Two names are one mailbox when these are equal. Returns a new
 * string, or NULL when the name is neither valid modified UTF-7 nor
 * valid UTF-8.
 */
char *imap_mailbox_canon(const char *name);

#endif
