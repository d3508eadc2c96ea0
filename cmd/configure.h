/*
 * --configure ADDRESS: find the servers of the address's domain with
 * DNS SRV records (RFC 6186, implicit TLS first as RFC 8314 prefers),
 * visit each one found without logging in, and print an account
 * section for fetchrc on stdout. Writes no file.
 */
#ifndef CONFIGURE_H
#define CONFIGURE_H

#include "account.h"

/* Which incoming protocols --configure may choose. */
enum configure_proto { CONFIGURE_ANY, CONFIGURE_POP3, CONFIGURE_IMAP };

/*
 * Look up, visit and print as above; progress and problems on stderr,
 * and with o->verbose of 2 or more the visits' protocol trace.
 * Returns 0, 64 (ADDRESS is not an address), 65 (a malformed DNS
 * answer), or 69 (no incoming server found, or none of those found
 * answered).
 */
int configure_run(
    const char *address, enum configure_proto, const struct runopts *);

#endif
