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

/* What an IMAP source can do, without making one (the daemon asks
 * whether an account can be watched). */
extern const struct source_ops imap_ops;

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
