/*
 * DNS SRV lookups through glibc's resolver. See dns.h.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>

#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tls/util.h"
#include "dns.h"

/* The largest DNS message (over TCP, which res_query falls back to). */
#define DNS_MSGMAX 65535

static int
srv_cmp(const void *a, const void *b)
{
	const struct dns_srv *x = a, *y = b;
	int c;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	if ((c = strcmp(x->target, y->target)) != 0)
		return c;
	return x->port < y->port ? -1 : x->port > y->port;
}

void
dns_srv_sort(struct dns_srv *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), srv_cmp);
}

/*
 * One SRV record's data (RFC 2782): priority, weight, port, then the
 * target's name, which must fill the rest of the data exactly. Returns
 * 0 or -1 (malformed).
 */
static int
srv_rdata(const ns_msg *msg, const ns_rr *rr, struct dns_srv *s)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t len = ns_rr_rdlen(*rr);
	int n;

	if (len < 7)
		return -1;
	s->priority = ns_get16(rd);
	s->weight = ns_get16(rd + 2);
	s->port = ns_get16(rd + 4);
	n = dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd + 6, s->target,
	    sizeof(s->target));
	if (n < 0 || (size_t)n != len - 6)
		return -1;
	/* The root name, however the resolver writes it, means "not
	 * offered here" (RFC 2782). */
	if (s->target[0] == '\0')
		xstrlcpy(s->target, ".", sizeof(s->target));
	return 0;
}

static int
lookup_failed(const char *name, char *err, size_t errlen)
{
	switch (h_errno) {
	case HOST_NOT_FOUND:
	case NO_DATA:
		return 0;
	case TRY_AGAIN:
		snprintf(err, errlen,
		    "%s: no answer from the DNS server (it failed or did not "
		    "answer in time)",
		    name);
		return DNS_EFAIL;
	default:
		snprintf(
		    err, errlen, "%s: the DNS server refused the query", name);
		return DNS_EFAIL;
	}
}

int
dns_srv_lookup(const char *name, struct dns_srv **out, char *err, size_t errlen)
{
	unsigned char *ans = xmalloc(DNS_MSGMAX);
	struct dns_srv *v = NULL;
	ns_msg msg;
	ns_rr rr;
	size_t n = 0;
	int len, i, count, rv = DNS_EMALFORMED;

	*out = NULL;
	err[0] = '\0';
	if ((len = res_query(name, ns_c_in, ns_t_srv, ans, DNS_MSGMAX)) < 0) {
		rv = lookup_failed(name, err, errlen);
		goto done;
	}
	if (len > DNS_MSGMAX)
		len = DNS_MSGMAX;
	if (ns_initparse(ans, len, &msg) == -1) {
		snprintf(err, errlen,
		    "%s: malformed DNS answer (its sections do not fit its "
		    "%d bytes)",
		    name, len);
		goto done;
	}
	count = ns_msg_count(msg, ns_s_an);
	v = xcalloc(count > 0 ? (size_t)count : 1, sizeof(*v));
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1) {
			snprintf(err, errlen,
			    "%s: malformed DNS answer (record %d of %d cannot "
			    "be read)",
			    name, i + 1, count);
			goto done;
		}
		/* A CNAME on the way may come first; only SRV counts. */
		if (ns_rr_type(rr) != ns_t_srv || ns_rr_class(rr) != ns_c_in)
			continue;
		if (srv_rdata(&msg, &rr, &v[n]) == -1) {
			snprintf(err, errlen,
			    "%s: malformed DNS answer (SRV record %d: %u bytes "
			    "of data that are not priority, weight, port and "
			    "a name)",
			    name, i + 1, (unsigned)ns_rr_rdlen(rr));
			goto done;
		}
		n++;
	}
	dns_srv_sort(v, n);
	rv = (int)n;
	if (n > 0) {
		*out = v;
		v = NULL;
	}
done:
	free(v);
	free(ans);
	return rv;
}
