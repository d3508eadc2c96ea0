/*
 * --configure: DNS SRV lookups, a visit to each server found without
 * logging in (the protocol clients' open with nologin), and the
 * account section. See configure.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/imap.h"
#include "../proto/pop3.h"
#include "../proto/sasl.h"
#include "../proto/smtp.h"
#include "configure.h"
#include "dns.h"

/* Seconds for a visit: to connect (with TLS), and for each reply. */
#define CONFIGURE_CTIMEOUT 15
#define CONFIGURE_TIMEOUT 30
/* Servers tried per service, in RFC 2782 order: each may take the
 * timeouts above, twice when its certificate fails. */
#define CONFIGURE_MAXTARGETS 10

enum svc_proto { SVC_IMAP, SVC_POP3, SVC_SMTP };

/* The services of RFC 6186 and RFC 8314 section 5.1, in the order they
 * are looked up: implicit TLS first. */
static const struct service {
	const char *label;
	enum svc_proto proto;
	enum src_tls tls;
} services[] = {
	{ "_imaps._tcp", SVC_IMAP, SRC_TLS_IMPLICIT },
	{ "_pop3s._tcp", SVC_POP3, SRC_TLS_IMPLICIT },
	{ "_submissions._tcp", SVC_SMTP, SRC_TLS_IMPLICIT },
	{ "_imap._tcp", SVC_IMAP, SRC_TLS_STARTTLS },
	{ "_pop3._tcp", SVC_POP3, SRC_TLS_STARTTLS },
	{ "_submission._tcp", SVC_SMTP, SRC_TLS_STARTTLS },
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

/* What the lookup of one service found. */
struct found {
	char name[DNS_NAMEMAX + 32]; /* the SRV name looked up */
	struct dns_srv *v;
	int n; /* records, or DNS_EFAIL */
	char err[DNS_NAMEMAX + 128];
};

/* One visit to a server. */
struct visit {
	const struct service *svc;
	const struct dns_srv *rec;
	char port[8];
	int verified; /* the certificate passed the system's checks */
	char certerr[512]; /* why it did not */
	struct conn_tlsinfo ti;
	char caps[1024];
	unsigned mechs;
	char err[512]; /* why the visit failed */
	int trace; /* -vv: the protocol trace on stderr */
};

static const char *
tls_word(enum src_tls t)
{
	return t == SRC_TLS_IMPLICIT ? "implicit" : "starttls";
}

static const char *
tls_words(enum src_tls t)
{
	return t == SRC_TLS_IMPLICIT ? "implicit TLS" : "STARTTLS";
}

static const char *
proto_word(enum svc_proto p)
{
	return p == SVC_IMAP ? "imap" : p == SVC_POP3 ? "pop3" : "smtp";
}

/* The domain of an address, or NULL when it is not local@domain with a
 * plausible domain name. The address goes into the section as it is,
 * so it must be one word of printable ASCII (RFC 5321 section 4.5.3.1.3
 * allows 254 bytes). */
static const char *
address_domain(const char *address)
{
	const char *at = strrchr(address, '@'), *d;

	if (at == NULL || at == address || at[1] == '\0'
	    || strlen(address) > 254)
		return NULL;
	for (d = address; *d != '\0'; d++)
		if (!isgraph((unsigned char)*d))
			return NULL;
	for (d = at + 1; *d != '\0'; d++)
		if (!isalnum((unsigned char)*d) && *d != '-' && *d != '.')
			return NULL;
	if (at[1] == '.' || strstr(at + 1, "..") != NULL)
		return NULL;
	return at + 1;
}

/* A line of the protocol trace (-vv), after the server's name. */
static void
trace(void *arg, int dir, const char *line, size_t len)
{
	const struct visit *v = arg;

	acct_trace_line("mailfetch: ", v->rec->target, dir, line, len);
}

/*
 * Open a session of the visit's protocol that stops before login, with
 * the certificate checked when verify. Returns 0 with what was learnt
 * in v, or -1 with v->err; *certfail tells a rejected certificate.
 */
static int
visit_once(struct visit *v, int verify, int *certfail)
{
	struct source_cfg sc;
	struct source *src;
	int rv = -1;

	memset(&sc, 0, sizeof(sc));
	sc.host = v->rec->target;
	sc.port = v->port;
	sc.tls = v->svc->tls;
	sc.tlsopts.verify = verify;
	sc.auth = SRC_AUTH_AUTO;
	sc.connect_timeout = CONFIGURE_CTIMEOUT;
	sc.timeout = CONFIGURE_TIMEOUT;
	sc.nologin = 1;
	if (v->trace) {
		sc.trace = trace;
		sc.trace_arg = v;
	}
	if (v->svc->proto == SVC_IMAP)
		src = imap_new(&sc);
	else if (v->svc->proto == SVC_POP3)
		src = pop3_new(&sc);
	else
		src = smtp_new(&sc);
	*certfail = 0;
	if (src->ops->open(src) == -1) {
		*certfail = src_errcode(src) == CONN_ECERT;
		xstrlcpy(v->err, src->err, sizeof(v->err));
		goto done;
	}
	(void)src_tls_info(src, &v->ti);
	xstrlcpy(v->caps, src->caps, sizeof(v->caps));
	v->mechs = src->mechs;
	/* A polite end; the server's answer to it changes nothing. */
	src->ops->quit(src);
	rv = 0;
done:
	src->ops->free(src);
	return rv;
}

/*
 * Visit the server of one SRV record. A certificate the system does not
 * trust is no reason to pass the server over (no credentials are sent):
 * it is visited again without the check, and the section says so.
 */
static int
visit(struct visit *v)
{
	const char *why;
	int certfail;

	snprintf(v->port, sizeof(v->port), "%u", v->rec->port);
	v->verified = 1;
	if (visit_once(v, 1, &certfail) == 0)
		return 0;
	if (!certfail)
		return -1;
	v->verified = 0;
	/* The reason alone: host and port are on the line before. */
	if ((why = strstr(v->err, "rejected: ")) != NULL)
		why += strlen("rejected: ");
	xstrlcpy(v->certerr, why != NULL ? why : v->err, sizeof(v->certerr));
	return visit_once(v, 0, &certfail);
}

/* Look up every service; returns 0, or 65 after printing a malformed
 * answer. */
static int
lookup_all(const char *domain, struct found *f)
{
	size_t i;

	for (i = 0; i < NSERVICES; i++) {
		snprintf(f[i].name, sizeof(f[i].name), "%s.%s",
		    services[i].label, domain);
		f[i].n = dns_srv_lookup(
		    f[i].name, &f[i].v, f[i].err, sizeof(f[i].err));
		if (f[i].n == DNS_EMALFORMED) {
			fflush(stdout);
			fprintf(stderr,
			    "mailfetch: %s; check the DNS server "
			    "(resolv.conf), or ask the domain's "
			    "administrator\n",
			    f[i].err);
			return EX_DATAERR;
		}
	}
	return 0;
}

/* A service is offered when it has a record other than the single "."
 * of RFC 2782. */
static int
offered(const struct found *f)
{
	return f->n > 0 && !(f->n == 1 && strcmp(f->v[0].target, ".") == 0);
}

static int
wanted(const struct service *s, enum configure_proto p)
{
	if (s->proto == SVC_SMTP)
		return 0;
	return p == CONFIGURE_ANY
	    || (p == CONFIGURE_IMAP && s->proto == SVC_IMAP)
	    || (p == CONFIGURE_POP3 && s->proto == SVC_POP3);
}

/*
 * The first server that answers, trying the services of kind smtp (or
 * the incoming ones wanted) in order and each service's records in
 * order. Each server passed over is told on stderr, counted in *tried
 * and named in list (", "-separated). Returns 0 with *out filled, or
 * -1.
 */
static int
first_answering(const struct found *f, int smtp, enum configure_proto p,
    int trace, struct visit *out, int *tried, char *list, size_t listlen)
{
	size_t used, i;
	int k, n, left;

	for (i = 0; i < NSERVICES; i++) {
		if (smtp ? services[i].proto != SVC_SMTP
			 : !wanted(&services[i], p))
			continue;
		if (!offered(&f[i]))
			continue;
		for (k = 0, n = 0, left = 0; k < f[i].n; k++) {
			if (strcmp(f[i].v[k].target, ".") == 0)
				continue;
			if (n == CONFIGURE_MAXTARGETS) {
				left++;
				continue;
			}
			n++;
			memset(out, 0, sizeof(*out));
			out->svc = &services[i];
			out->rec = &f[i].v[k];
			out->trace = trace;
			(*tried)++;
			if (visit(out) == 0)
				return 0;
			used = strlen(list);
			snprintf(list + used, listlen - used, "%s%s port %s",
			    used > 0 ? ", " : "", out->rec->target, out->port);
			/* The connection's errors name host and port. */
			fflush(stdout);
			if (strstr(out->err, out->rec->target) != NULL)
				fprintf(stderr,
				    "mailfetch: %s: %s; passed over\n",
				    f[i].name, out->err);
			else
				fprintf(stderr,
				    "mailfetch: %s: %s port %s: %s; passed "
				    "over\n",
				    f[i].name, out->rec->target, out->port,
				    out->err);
		}
		if (left > 0) {
			fflush(stdout);
			fprintf(stderr,
			    "mailfetch: %s: %d more server%s not tried (at "
			    "most %d per service)\n",
			    f[i].name, left, left == 1 ? "" : "s",
			    CONFIGURE_MAXTARGETS);
		}
	}
	return -1;
}

/* Nothing found: say what was looked up and what each lookup gave. */
static void
say_nothing_found(
    const char *domain, const struct found *f, enum configure_proto p)
{
	size_t i;

	fflush(stdout);
	fprintf(stderr,
	    "mailfetch: no %sserver found for %s; looked up these DNS SRV "
	    "records:\n",
	    p == CONFIGURE_IMAP       ? "IMAP "
		: p == CONFIGURE_POP3 ? "POP3 "
				      : "",
	    domain);
	for (i = 0; i < NSERVICES; i++) {
		if (f[i].n == DNS_EFAIL)
			fprintf(stderr, "mailfetch:   %s\n", f[i].err);
		else if (f[i].n > 0 && !offered(&f[i]))
			fprintf(stderr,
			    "mailfetch:   %s: \".\", the service is not "
			    "offered\n",
			    f[i].name);
		else if (f[i].n > 0)
			fprintf(stderr, "mailfetch:   %s: %d server%s%s\n",
			    f[i].name, f[i].n, f[i].n == 1 ? "" : "s",
			    wanted(&services[i], p)
				    || services[i].proto == SVC_SMTP
				? ""
				: " (not the protocol asked for)");
		else
			fprintf(stderr, "mailfetch:   %s: none\n", f[i].name);
	}
	fputs("mailfetch: ask the provider for its server names, and write "
	      "the account by hand (fetchrc(5))\n",
	    stderr);
}

/* The offered mechanisms as names, space-separated. */
static void
mech_names(unsigned mechs, char *buf, size_t len)
{
	static const enum src_auth order[] = { SRC_AUTH_SCRAM_SHA_256,
		SRC_AUTH_SCRAM_SHA_1, SRC_AUTH_PLAIN, SRC_AUTH_LOGIN,
		SRC_AUTH_CRAM_MD5, SRC_AUTH_OAUTHBEARER, SRC_AUTH_XOAUTH2 };
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (mechs & (1u << order[i]))
			o += snprintf(buf + o, o < len ? len - o : 0, "%s%s",
			    o > 0 ? " " : "", sasl_mech_name(order[i]));
	if (buf[0] == '\0')
		xstrlcpy(buf, "none", len);
}

/* Where the value came from: the SRV record and the visit. The
 * account's TLS settings serve the submission server too (in, when
 * given, is the incoming server's visit): one tls_fingerprint cannot
 * pin two certificates. */
static void
print_origin(const struct visit *v, const char *srvname, const struct visit *in)
{
	printf("# %s: %s port %s (priority %u, weight %u)\n", srvname,
	    v->rec->target, v->port, v->rec->priority, v->rec->weight);
	if (!v->verified && in != NULL)
		printf("# %s confirmed by a visit, but the certificate is not "
		       "trusted\n# here (%s).\n%s\n",
		    tls_words(v->svc->tls), v->certerr,
		    !in->verified
			    && strcmp(in->ti.fingerprint, v->ti.fingerprint)
				== 0
			? "# It is the incoming server's: tls_fingerprint "
			  "above covers both."
			: "# Set tls_ca_file to the CA that signed it "
			  "(tls_fingerprint cannot pin two\n# servers).");
	else if (v->verified)
		printf("# %s confirmed by a visit; certificate of %s, "
		       "issued by %s, valid\n",
		    tls_words(v->svc->tls), v->ti.subject, v->ti.issuer);
	else
		printf("# %s confirmed by a visit, but the certificate is not "
		       "trusted\n# here (%s).\n# Set tls_ca_file to the CA "
		       "that signed it, or, once you have compared its\n"
		       "# fingerprint with one the provider publishes, "
		       "uncomment:\n# tls_fingerprint = %s\n",
		    tls_words(v->svc->tls), v->certerr, v->ti.fingerprint);
}

/* auth: auto when it finds a mechanism, else an OAuth one offered. */
static void
print_auth(const struct visit *v)
{
	char names[256];
	enum src_auth pick = sasl_auto_pick(v->mechs);

	mech_names(v->mechs, names, sizeof(names));
	printf("# Login mechanisms offered: %s\n", names);
	if (pick != SRC_AUTH_AUTO)
		printf("# (auth = auto uses %s)\n", sasl_mech_name(pick));
	else if (v->mechs & (1u << SRC_AUTH_OAUTHBEARER))
		printf("# Only OAuth: password_command must print an access "
		       "token.\nauth = oauthbearer\n");
	else if (v->mechs & (1u << SRC_AUTH_XOAUTH2))
		printf("# Only OAuth: password_command must print an access "
		       "token.\nauth = xoauth2\n");
	else if (v->svc->proto == SVC_POP3)
		printf("# (auth = auto uses USER and PASS)\n");
}

static void
print_smtp(const struct found *f, const struct visit *s, int found_smtp,
    int tried, const struct visit *in)
{
	char names[256];
	size_t i;

	if (found_smtp) {
		for (i = 0; i < NSERVICES && s->svc != &services[i]; i++)
			;
		printf("\n# Outgoing (for mailfetch --check):\n");
		print_origin(s, f[i].name, in);
		mech_names(s->mechs, names, sizeof(names));
		printf("# Login mechanisms offered: %s\n", names);
		printf("smtp_host = %s\nsmtp_port = %s\nsmtp_tls = %s\n",
		    s->rec->target, s->port, tls_word(s->svc->tls));
		return;
	}
	printf("\n# Outgoing: %s\n# smtp_host =\n",
	    tried > 0 ? "none of the submission servers found "
			"answered"
		      : "no SRV record for _submissions._tcp or "
			"_submission._tcp");
}

/* The section name: the address itself when fetchrc allows it as one,
 * else its domain. */
static void
section_name(const char *address, const char *domain, char *buf, size_t len)
{
	const char *s;

	for (s = address; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-@+", *s) == NULL)
			break;
	xstrlcpy(
	    buf, *s == '\0' && strlen(address) < 48 ? address : domain, len);
}

static void
print_section(const char *address, const char *domain, const struct found *f,
    const struct visit *in, const struct visit *out, int found_smtp,
    int smtp_tried)
{
	char name[64];
	size_t i;

	for (i = 0; i < NSERVICES && in->svc != &services[i]; i++)
		;
	section_name(address, domain, name, sizeof(name));
	printf("# Found by mailfetch --configure %s, from DNS SRV records\n"
	       "# (RFC 6186) and a visit to each server without logging in.\n"
	       "# Fill in password_command, then test with mailfetch --check."
	       "\n[%s]\n",
	    address, name);
	print_origin(in, f[i].name, NULL);
	printf("protocol = %s\nhost = %s\nport = %s\ntls = %s\n",
	    proto_word(in->svc->proto), in->rec->target, in->port,
	    tls_word(in->svc->tls));
	if (!in->verified)
		printf("# tls_ca_file =\n");
	printf(
	    "# The address, as most providers want it\nuser = %s\n", address);
	print_auth(in);
	printf("# A command that prints the password (empty: not valid until "
	       "filled),\n# e.g. pass show mail/%s\npassword_command =\n",
	    address);
	printf("# Where the mail goes; created when missing\n"
	       "maildir = ~/Mail/%s\n",
	    name);
	print_smtp(f, out, found_smtp, smtp_tried, in);
}

int
configure_run(
    const char *address, enum configure_proto p, const struct runopts *o)
{
	struct found f[NSERVICES];
	struct visit in, out;
	const char *domain;
	size_t i;
	char list[2048] = "", slist[2048] = "";
	int status, tried = 0, smtp_tried = 0, any = 0, found_smtp;

	if ((domain = address_domain(address)) == NULL) {
		fprintf(stderr,
		    "mailfetch: --configure wants a mail address, "
		    "local@domain, not \"%s\"\n",
		    address);
		return EX_USAGE;
	}
	memset(f, 0, sizeof(f));
	if ((status = lookup_all(domain, f)) != 0)
		goto done;
	for (i = 0; i < NSERVICES; i++)
		if (wanted(&services[i], p) && offered(&f[i]))
			any = 1;
	if (!any) {
		say_nothing_found(domain, f, p);
		status = EX_UNAVAILABLE;
		goto done;
	}
	if (first_answering(
		f, 0, p, o->verbose >= 2, &in, &tried, list, sizeof(list))
	    == -1) {
		fflush(stdout);
		fprintf(stderr,
		    "mailfetch: none of the %d server%s found for %s "
		    "answered: %s; check the network, or ask the provider\n",
		    tried, tried == 1 ? "" : "s", domain, list);
		status = EX_UNAVAILABLE;
		goto done;
	}
	found_smtp = first_answering(f, 1, p, o->verbose >= 2, &out,
			 &smtp_tried, slist, sizeof(slist))
	    == 0;
	print_section(address, domain, f, &in, &out, found_smtp, smtp_tried);
	status = 0;
done:
	fflush(stdout);
	for (i = 0; i < NSERVICES; i++)
		free(f[i].v);
	return status;
}
