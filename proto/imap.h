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

/* Decode a mailbox name from modified UTF-7 (RFC 3501 section 5.1.3)
 * into UTF-8. Returns a new string, or NULL when the name is not valid
 * modified UTF-7. */
char *imap_utf7_decode(const char *name);

/* Encode a UTF-8 mailbox name into modified UTF-7. Returns a new string,
 * or NULL when the input is not valid UTF-8. */
char *imap_utf7_encode(const char *name);

#endif
