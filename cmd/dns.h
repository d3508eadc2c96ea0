/*
 * DNS SRV lookups (RFC 2782) through glibc's resolver, for
 * --configure. The resolver parses the answer (ns_initparse,
 * ns_parserr, dn_expand); nothing here builds or reads wire format by
 * hand beyond the SRV record's three numbers.
 */
#ifndef DNS_H
#define DNS_H

#include <stdint.h>

#define DNS_NAMEMAX 1025 /* NS_MAXDNAME */

struct dns_srv {
	char target[DNS_NAMEMAX]; /* "." when the service is not offered */
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
};

/* Results of dns_srv_lookup other than a count. */
#define DNS_EMALFORMED -1 /* the answer breaks the DNS grammar (65) */
#define DNS_EFAIL -2 /* no usable answer: server failure, timeout */

/*
 * Look up the SRV records of name. Returns how many there are (0 when
 * the name or its SRV records do not exist), with the records in *out
 * (a new array, NULL when none; the caller frees it) in the order to
 * try them: priority ascending; within one priority, heavier weight
 * first, then by target name and port. That is the most likely order
 * of RFC 2782's weighted random choice, made deterministic so that a
 * run can be repeated. Returns DNS_EMALFORMED or DNS_EFAIL with err
 * saying what happened.
 */
int dns_srv_lookup(
    const char *name, struct dns_srv **out, char *err, size_t errlen);

/* Sort n records as dns_srv_lookup returns them. */
void dns_srv_sort(struct dns_srv *v, size_t n);

#endif
