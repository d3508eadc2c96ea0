/*
 * The connection: a non-blocking socket, an optional libtls context, one
 * bounded read buffer and deadlines. See conn.h.
 *
 * Every wait is a poll(2) on the socket with the time left to a deadline
 * on the monotonic clock, in the manner of OpenBSD nc(1): the socket and
 * libtls are always called first, and poll(2) is used only when they say
 * they would block (EAGAIN, TLS_WANT_POLLIN, TLS_WANT_POLLOUT).
 *
 * This is the only file that includes <tls.h>.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "conn.h"
#include "util.h"
#include "zfilter.h"

/*
 * The read buffer holds one line of up to CONN_LINE_MAX bytes with its
 * CR LF, and still leaves room for a read of CONN_READSZ bytes. Its size
 * is fixed, so memory does not depend on what the server sends.
 */
#define CONN_READSZ (64 * 1024)
#define CONN_BUFSZ (CONN_LINE_MAX + 2 + CONN_READSZ + 254)

/* What libtls reads from the socket through conn_rawread. */
#define CONN_RAWSZ (64 * 1024)

/* The most handed to one write: libtls takes an int's worth. */
#define CONN_WRITEMAX (1024 * 1024 * 1024)

/* How long conn_free waits for the TLS close_notify to go out. */
#define CONN_CLOSE_MS 1000

struct conn {
	int fd;
	struct tls *tls;
	struct tls_config *cfg;
	int tls_up; /* the handshake completed */
	int ctimeout;
	int timeout;
	int64_t reply_deadline; /* the reply awaited ends by then; 0: none */
	char *host;
	char *port;
	char *buf;
	size_t off; /* buffered bytes are buf[off] to buf[off + len - 1] */
	size_t len;
	char *raw; /* TLS records read ahead from the socket */
	size_t rawoff, rawlen;
	uint64_t nin;
	uint64_t nout;
	enum conn_err code;
	char err[512];
	struct zfilter *z; /* COMPRESS=DEFLATE after conn_compress */
	int zraw; /* conn_write is sending compressed bytes */
};

static void conn_seterr(struct conn *, enum conn_err, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
conn_seterr(struct conn *c, enum conn_err code, const char *fmt, ...)
{
	va_list ap;

	c->code = code;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static const char *
plural(int n)
{
	return n == 1 ? "" : "s";
}

static int64_t
deadline_after(int seconds)
{
	return mono_ms() + (int64_t)(seconds > 0 ? seconds : 0) * 1000;
}

/*
 * Wait until fd is ready for events or the deadline passes. Returns 0
 * when ready (or when poll reports an error condition, which the next
 * read or write reports precisely), 1 at the deadline, and -1 with errno
 * set when poll fails.
 */
static int
conn_poll(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	for (;;) {
		if ((left = deadline - mono_ms()) <= 0)
			return 1;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (r == 0)
			continue;
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		return 0;
	}
}

/* As conn_poll on the connection's socket, keeping the error. */
static int
conn_wait(struct conn *c, short events, int64_t deadline)
{
	int r;

	/* libtls may want more after a record that carried no data (a
	 * TLS 1.3 session ticket) while the next records already wait in
	 * c->raw: those are ready now, whatever the socket says. */
	if ((events & POLLIN) && c->rawlen > 0)
		return 0;
	if ((r = conn_poll(c->fd, events, deadline)) == -1)
		conn_seterr(c, CONN_EIO, "%s port %s: poll: %s", c->host,
		    c->port, strerror(errno));
	return r;
}

/* A libtls error text, never NULL. */
static const char *
nz(const char *s)
{
	return s != NULL ? s : "unknown error";
}

static void
conn_timeout_read(struct conn *c)
{
	conn_seterr(c, CONN_ETIMEOUT,
	    "%s port %s: no data from server for %d second%s", c->host, c->port,
	    c->timeout, plural(c->timeout));
}

static void
conn_timeout_reply(struct conn *c)
{
	conn_seterr(c, CONN_ETIMEOUT,
	    "%s port %s: the server did not complete its reply within %d "
	    "second%s",
	    c->host, c->port, c->timeout, plural(c->timeout));
}

static void
conn_timeout_write(struct conn *c)
{
	conn_seterr(c, CONN_ETIMEOUT,
	    "%s port %s: server took no data for %d second%s", c->host, c->port,
	    c->timeout, plural(c->timeout));
}

/*
 * libtls has no error codes, only text, so the class of a failure is a
 * heuristic on that text: the first row whose pattern the text contains
 * (case ignored) gives it. When the chain and name are checked, text
 * that speaks of the certificate or its verification is a rejected
 * certificate (ECERT): OpenSSL's X509 verify strings ("certificate
 * verify failed", "unable to get local issuer certificate",
 * "certificate has expired", "self signed certificate") and libtls's
 * own ("certificate verification failed", "name `x' not present in
 * server certificate"). A peer that hung up ("unexpected eof while
 * reading" from OpenSSL, "EOF" from libtls, or a reset) is ECLOSED.
 */
static const struct {
	const char *pat; /* lower case */
	enum conn_err code;
} conn_tls_pats[] = {
	{ "certificate", CONN_ECERT },
	{ "verif", CONN_ECERT },
	{ "issuer", CONN_ECERT },
	{ "expired", CONN_ECERT },
	{ "not yet valid", CONN_ECERT },
	{ "self signed", CONN_ECERT },
	{ "self-signed", CONN_ECERT },
	{ "not present in", CONN_ECERT },
	{ "eof", CONN_ECLOSED },
	{ "connection reset", CONN_ECLOSED },
};

enum conn_err
conn_tls_errclass(const char *msg, int checks, int saved)
{
	char low[512];
	size_t i;

	for (i = 0; msg[i] != '\0' && i < sizeof(low) - 1; i++)
		low[i] = (msg[i] >= 'A' && msg[i] <= 'Z') ? msg[i] - 'A' + 'a'
							  : msg[i];
	low[i] = '\0';
	for (i = 0; i < sizeof(conn_tls_pats) / sizeof(conn_tls_pats[0]); i++) {
		if (conn_tls_pats[i].code == CONN_ECERT && !checks)
			continue;
		if (strstr(low, conn_tls_pats[i].pat) != NULL)
			return conn_tls_pats[i].code;
	}
	if (saved == ECONNRESET || saved == EPIPE)
		return CONN_ECLOSED;
	return CONN_ETLS;
}

/*
 * A failed read or write ("read", "write"), unless a failed poll said
 * so already. libtls formats the system error of the underlying read
 * or write, so errno or the text tells a vanished peer (ECLOSED) apart
 * from a TLS failure (ETLS).
 */
static void
conn_ioerr(struct conn *c, const char *what, int saved)
{
	const char *e;

	if (c->code != CONN_OK)
		return;
	if (c->tls == NULL) {
		conn_seterr(c,
		    saved == EPIPE || saved == ECONNRESET ? CONN_ECLOSED
							  : CONN_EIO,
		    "%s port %s: %s: %s", c->host, c->port, what,
		    strerror(saved));
		return;
	}
	e = nz(tls_error(c->tls));
	if (conn_tls_errclass(e, 0, saved) == CONN_ECLOSED)
		conn_seterr(c, CONN_ECLOSED, "%s port %s: connection lost: %s",
		    c->host, c->port, e);
	else
		conn_seterr(c, CONN_ETLS, "%s port %s: TLS %s: %s", c->host,
		    c->port, what, e);
}

enum conn_op { CONN_OP_READ, CONN_OP_WRITE, CONN_OP_HANDSHAKE, CONN_OP_CLOSE };

/* At the deadline, conn_io returns this (TLS_WANT_* are -2 and -3). */
#define CONN_IO_TIMEOUT (-4)

/*
 * One attempt: bytes read or written (0 for a handshake or a close
 * done), -1 with *saved = errno, or TLS_WANT_POLLIN / TLS_WANT_POLLOUT
 * when it would block (also for the plain socket).
 */
static ssize_t
conn_io_once(struct conn *c, enum conn_op op, void *p, size_t n, int *saved)
{
	ssize_t r;

	errno = 0;
	if (c->tls != NULL) {
		if (op == CONN_OP_READ)
			r = tls_read(c->tls, p, n);
		else if (op == CONN_OP_WRITE)
			r = tls_write(c->tls, p, n);
		else if (op == CONN_OP_HANDSHAKE)
			r = tls_handshake(c->tls);
		else
			r = tls_close(c->tls);
		*saved = errno;
		return r;
	}
	do
		/* MSG_NOSIGNAL: a closed peer gives EPIPE. */
		r = op == CONN_OP_READ ? read(c->fd, p, n)
				       : send(c->fd, p, n, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	*saved = errno;
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return op == CONN_OP_READ ? TLS_WANT_POLLIN : TLS_WANT_POLLOUT;
	return r;
}

/*
 * The one I/O loop, in the manner of nc(1)'s timeout_tls(): try the
 * step, and while the socket or libtls would block, wait for what it
 * wants until the deadline. Returns what conn_io_once returned, or
 * CONN_IO_TIMEOUT at the deadline, or -1 with the error set when poll
 * failed. A deadline already past tries once without waiting.
 */
static ssize_t
conn_io(struct conn *c, enum conn_op op, void *p, size_t n, int64_t deadline,
    int *saved)
{
	ssize_t r;
	int w;

	for (;;) {
		r = conn_io_once(c, op, p, n, saved);
		if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT)
			return r;
		w = conn_wait(
		    c, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, deadline);
		if (w != 0)
			return w == 1 ? CONN_IO_TIMEOUT : -1;
	}
}

struct conn *
conn_new(int connect_timeout, int timeout)
{
	struct conn *c;

	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	c->ctimeout = connect_timeout;
	c->timeout = timeout;
	c->host = xstrdup("(not connected)");
	c->port = xstrdup("-");
	c->buf = xmalloc(CONN_BUFSZ);
	c->code = CONN_OK;
	c->err[0] = '\0';
	return c;
}

/* Refuse I/O on a connection that already failed or is not connected. */
static int
conn_usable(struct conn *c)
{
	if (c->code != CONN_OK)
		return 0;
	if (c->fd == -1) {
		conn_seterr(c, CONN_EIO, "not connected");
		return 0;
	}
	return 1;
}

static int
conn_sockopts(int s)
{
	int fl, on = 1;

	if (fcntl(s, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	if ((fl = fcntl(s, F_GETFL)) == -1
	    || fcntl(s, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	/* Commands are small and each waits for a reply: no Nagle. */
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return 0;
}

/* Connection failures that mean the host cannot be reached. */
static enum conn_err
conn_connect_class(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return CONN_ETIMEOUT;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return CONN_EIO;
	default:
		return CONN_EREFUSED;
	}
}

/*
 * Start a non-blocking connect to one address and wait for it within the
 * deadline. Returns the socket, or -1 with *err set to an errno value
 * (ETIMEDOUT at the deadline).
 */
static int
conn_try(const struct addrinfo *ai, int64_t deadline, int *err)
{
	socklen_t sl;
	int s, r, soerr;

	if ((s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol))
	    == -1) {
		*err = errno;
		return -1;
	}
	if (conn_sockopts(s) == -1) {
		*err = errno;
		goto fail;
	}
	if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
		return s;
	/* After EINTR the connection goes on in the background. */
	if (errno != EINPROGRESS && errno != EINTR) {
		*err = errno;
		goto fail;
	}
	if ((r = conn_poll(s, POLLOUT, deadline)) != 0) {
		*err = r == 1 ? ETIMEDOUT : errno;
		goto fail;
	}
	sl = sizeof(soerr);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1) {
		*err = errno;
		goto fail;
	}
	if (soerr != 0) {
		*err = soerr;
		goto fail;
	}
	return s;
fail:
	close(s);
	return -1;
}

/* No address answered: say which was tried last, and how it failed. */
static void
conn_connect_err(struct conn *c, const char *addr, int err)
{
	char who[NI_MAXHOST + 256];

	if (err == 0)
		err = EADDRNOTAVAIL;
	if (strcmp(c->host, addr) != 0 && addr[0] != '\0')
		snprintf(who, sizeof(who), "%s (%s)", c->host, addr);
	else
		snprintf(who, sizeof(who), "%s", c->host);
	if (err == ETIMEDOUT)
		conn_seterr(c, CONN_ETIMEOUT,
		    "connect to %s port %s: timed out after %d second%s", who,
		    c->port, c->ctimeout, plural(c->ctimeout));
	else
		conn_seterr(c, conn_connect_class(err),
		    "connect to %s port %s: %s", who, c->port, strerror(err));
}

int
conn_connect(struct conn *c, const char *host, const char *port)
{
	struct addrinfo hints, *res = NULL, *ai;
	char addr[NI_MAXHOST];
	int64_t deadline;
	int e, s = -1, err = 0;

	if (c->code != CONN_OK)
		return -1;
	if (c->fd != -1) {
		conn_seterr(c, CONN_EIO, "%s port %s: already connected",
		    c->host, c->port);
		return -1;
	}
	free(c->host);
	free(c->port);
	c->host = xstrdup(host);
	c->port = xstrdup(port);
	deadline = deadline_after(c->ctimeout);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		conn_seterr(c, CONN_ERESOLVE, "cannot resolve host name %s: %s",
		    host, e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		return -1;
	}
	addr[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
			NULL, 0, NI_NUMERICHOST)
		    != 0)
			xstrlcpy(addr, "?", sizeof(addr));
		if (mono_ms() >= deadline) {
			err = ETIMEDOUT;
			break;
		}
		if ((s = conn_try(ai, deadline, &err)) != -1)
			break;
		/* The connect timeout is for all addresses together. */
		if (err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (s == -1) {
		conn_connect_err(c, addr, err);
		return -1;
	}
	c->fd = s;
	return 0;
}

/*
 * Reduce "SHA256:AB:cd..." to lower-case hex without separators. Returns
 * 0, or -1 when it is not a SHA-256 fingerprint.
 */
static int
conn_fp_norm(const char *in, char *out, size_t outsz)
{
	static const char pfx[] = "sha256:";
	size_t i, n = 0;
	char ch;

	for (i = 0; pfx[i] != '\0'; i++) {
		ch = in[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = ch - 'A' + 'a';
		if (ch != pfx[i])
			return -1;
	}
	for (in += i; *in != '\0'; in++) {
		ch = *in;
		if (ch == ':')
			continue;
		if (ch >= 'A' && ch <= 'F')
			ch = ch - 'A' + 'a';
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -1;
		if (n + 1 >= outsz)
			return -1;
		out[n++] = ch;
	}
	out[n] = '\0';
	return n == 64 ? 0 : -1;
}

/*
 * The socket side of libtls. Given the socket itself, libtls reads each
 * TLS record with two read(2) calls, its 5-byte header and then its
 * body: some 40 000 system calls for 90 MB. Reading ahead into c->raw
 * serves several records per call. libtls can say TLS_WANT_POLLIN
 * with records still in c->raw (after one that carried no data), so
 * conn_wait does not poll while c->raw holds any.
 */
static ssize_t
conn_rawread(struct tls *t, void *buf, size_t len, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	(void)t;
	if (c->rawlen == 0) {
		do
			n = read(c->fd, c->raw, CONN_RAWSZ);
		while (n == -1 && errno == EINTR);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TLS_WANT_POLLIN;
		if (n <= 0)
			return n;
		c->rawoff = 0;
		c->rawlen = (size_t)n;
	}
	if (len > c->rawlen)
		len = c->rawlen;
	memcpy(buf, c->raw + c->rawoff, len);
	c->rawoff += len;
	c->rawlen -= len;
	return (ssize_t)len;
}

static ssize_t
conn_rawwrite(struct tls *t, const void *buf, size_t len, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	(void)t;
	do
		/* MSG_NOSIGNAL: a closed peer gives EPIPE. */
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return TLS_WANT_POLLOUT;
	return n;
}

static int
conn_tls_config(struct conn *c, const struct conn_tlsopts *o)
{
	uint32_t protos;

	if ((c->cfg = tls_config_new()) == NULL) {
		conn_seterr(c, CONN_ETLS, "cannot create TLS configuration");
		return -1;
	}
	if (o->ca_file != NULL
	    && tls_config_set_ca_file(c->cfg, o->ca_file) == -1) {
		conn_seterr(
		    c, CONN_ECONFIG, "%s", nz(tls_config_error(c->cfg)));
		return -1;
	}
	if (o->protocols != NULL) {
		if (tls_config_parse_protocols(&protos, o->protocols) == -1) {
			conn_seterr(c, CONN_ECONFIG,
			    "invalid TLS protocols \"%s\"", o->protocols);
			return -1;
		}
		if (tls_config_set_protocols(c->cfg, protos) == -1) {
			conn_seterr(c, CONN_ECONFIG, "TLS protocols \"%s\": %s",
			    o->protocols, nz(tls_config_error(c->cfg)));
			return -1;
		}
	}
	/* A fingerprint replaces the chain and name checks (SPEC.md). */
	if (!o->verify || o->fingerprint != NULL) {
		tls_config_insecure_noverifycert(c->cfg);
		tls_config_insecure_noverifyname(c->cfg);
	}
	return 0;
}

/* What must hold before a handshake starts. */
static int
conn_tls_ready(
    struct conn *c, const struct conn_tlsopts *o, char *want, size_t wantsz)
{
	if (!conn_usable(c))
		return -1;
	if (c->tls != NULL) {
		conn_seterr(c, CONN_ETLS, "%s port %s: TLS is already active",
		    c->host, c->port);
		return -1;
	}
	/*
	 * Bytes that arrived before the handshake would be taken as if they
	 * had come over TLS: the STARTTLS injection of CVE-2011-0411.
	 */
	if (c->len > 0) {
		conn_seterr(c, CONN_ETLS,
		    "%s port %s: server sent data before the TLS handshake",
		    c->host, c->port);
		return -1;
	}
	if (o->fingerprint != NULL
	    && conn_fp_norm(o->fingerprint, want, wantsz) == -1) {
		conn_seterr(c, CONN_ECONFIG,
		    "invalid fingerprint \"%s\": want SHA256: and 64 hex "
		    "digits",
		    o->fingerprint);
		return -1;
	}
	return 0;
}

/* The libtls client over the socket, configured, not yet shaking hands. */
static int
conn_tls_client(
    struct conn *c, const char *servername, const struct conn_tlsopts *o)
{
	c->raw = xmalloc(CONN_RAWSZ);
	c->rawoff = c->rawlen = 0;
	if (conn_tls_config(c, o) == -1)
		return -1;
	if ((c->tls = tls_client()) == NULL) {
		conn_seterr(c, CONN_ETLS, "cannot create TLS context");
		return -1;
	}
	if (tls_configure(c->tls, c->cfg) == -1) {
		conn_seterr(c, CONN_ECONFIG, "TLS configuration: %s",
		    nz(tls_error(c->tls)));
		return -1;
	}
	if (tls_connect_cbs(c->tls, conn_rawread, conn_rawwrite, c, servername)
	    == -1) {
		conn_seterr(c, CONN_ETLS, "%s port %s: TLS: %s", c->host,
		    c->port, nz(tls_error(c->tls)));
		return -1;
	}
	return 0;
}

/* The handshake within the connect timeout; checks: chain and name. */
static int
conn_handshake(struct conn *c, int checks)
{
	const char *e;
	ssize_t r;
	int saved;

	r = conn_io(
	    c, CONN_OP_HANDSHAKE, NULL, 0, deadline_after(c->ctimeout), &saved);
	if (r == 0)
		return 0;
	if (r == CONN_IO_TIMEOUT)
		conn_seterr(c, CONN_ETIMEOUT,
		    "%s port %s: TLS handshake timed out after %d second%s",
		    c->host, c->port, c->ctimeout, plural(c->ctimeout));
	if (c->code != CONN_OK)
		return -1;
	e = nz(tls_error(c->tls));
	switch (conn_tls_errclass(e, checks, saved)) {
	case CONN_ECERT:
		conn_seterr(c, CONN_ECERT,
		    "%s port %s: server certificate rejected: %s", c->host,
		    c->port, e);
		break;
	case CONN_ECLOSED:
		conn_seterr(c, CONN_ECLOSED,
		    "%s port %s: connection closed during the TLS handshake: "
		    "%s",
		    c->host, c->port, e);
		break;
	default:
		conn_seterr(c, CONN_ETLS,
		    "%s port %s: TLS handshake failed: %s", c->host, c->port,
		    e);
		break;
	}
	return -1;
}

int
conn_starttls(
    struct conn *c, const char *servername, const struct conn_tlsopts *o)
{
	char want[80], got[80];
	const char *hash;

	if (conn_tls_ready(c, o, want, sizeof(want)) == -1
	    || conn_tls_client(c, servername, o) == -1
	    || conn_handshake(c, o->verify && o->fingerprint == NULL) == -1)
		return -1;
	c->tls_up = 1;

	if (o->fingerprint != NULL) {
		if ((hash = tls_peer_cert_hash(c->tls)) == NULL)
			hash = "(none)";
		if (conn_fp_norm(hash, got, sizeof(got)) == -1
		    || strcmp(want, got) != 0) {
			conn_seterr(c, CONN_ECERT,
			    "%s port %s: certificate fingerprint mismatch: "
			    "expected %s, server has %s",
			    c->host, c->port, o->fingerprint, hash);
			return -1;
		}
	}
	return 0;
}

int
conn_is_tls(const struct conn *c)
{
	return c->tls_up;
}

int
conn_tls_info(struct conn *c, struct conn_tlsinfo *info)
{
	const char *s;

	memset(info, 0, sizeof(*info));
	if (!c->tls_up)
		return -1;
	if ((s = tls_conn_version(c->tls)) != NULL)
		xstrlcpy(info->version, s, sizeof(info->version));
	if ((s = tls_conn_cipher(c->tls)) != NULL)
		xstrlcpy(info->cipher, s, sizeof(info->cipher));
	if ((s = tls_peer_cert_subject(c->tls)) != NULL)
		xstrlcpy(info->subject, s, sizeof(info->subject));
	if ((s = tls_peer_cert_issuer(c->tls)) != NULL)
		xstrlcpy(info->issuer, s, sizeof(info->issuer));
	if ((s = tls_peer_cert_hash(c->tls)) != NULL)
		xstrlcpy(info->fingerprint, s, sizeof(info->fingerprint));
	info->notbefore = tls_peer_cert_notbefore(c->tls);
	info->notafter = tls_peer_cert_notafter(c->tls);
	return 0;
}

void
conn_reply_begin(struct conn *c)
{
	c->reply_deadline = deadline_after(c->timeout);
}

void
conn_reply_end(struct conn *c)
{
	c->reply_deadline = 0;
}

/* At the deadline of a read: which of the two it was. */
static void
conn_timeout_fill(struct conn *c, int byreply)
{
	if (byreply)
		conn_timeout_reply(c);
	else
		conn_timeout_read(c);
}

/*
 * COMPRESS=DEFLATE (RFC 4978). conn_fill hands what it read to the
 * filter and takes the inflated bytes; conn_write deflates and sends
 * through itself with zraw set.
 */
int
conn_compress(struct conn *c)
{
	if (!conn_usable(c))
		return -1;
	if (c->z != NULL)
		return 0;
	if ((c->z = zfilter_new(CONN_BUFSZ)) == NULL) {
		conn_seterr(c, CONN_EIO,
		    "%s port %s: out of memory for "
		    "compression",
		    c->host, c->port);
		return -1;
	}
	/* What the server sent after its OK is compressed already. */
	if (c->len > 0) {
		zfilter_put(c->z, c->buf + c->off, c->len);
		c->off = c->len = 0;
	}
	return 0;
}

int
conn_is_compressed(const struct conn *c)
{
	return c->z != NULL;
}

/*
 * Put n compressed bytes (raw; none when NULL) into the filter and
 * inflate into p (space bytes). Returns 1 when bytes were added to the
 * buffer, 0 when more input is needed, -1 on bad data (EDATA).
 */
static int
conn_zin(struct conn *c, char *p, size_t space, const char *raw, size_t n)
{
	ssize_t made;

	if (raw != NULL && zfilter_put(c->z, raw, n) == -1)
		made = -1; /* cannot happen: conn_fill drains first */
	else
		made = zfilter_inflate(c->z, p, space);
	if (made == -1) {
		conn_seterr(c, CONN_EDATA, "%s port %s: %s", c->host, c->port,
		    raw != NULL && zfilter_pending(c->z) + n > CONN_BUFSZ
			? "compressed input overflows"
			: zfilter_error(c->z));
		return -1;
	}
	c->len += (size_t)made;
	c->nin += (uint64_t)made;
	return made > 0;
}

static int
conn_zchunk(void *arg, const void *buf, size_t len)
{
	return conn_write(arg, buf, len);
}

static int
conn_zwrite(struct conn *c, const void *buf, size_t len)
{
	int r;

	c->zraw = 1;
	r = zfilter_deflate(c->z, buf, len, conn_zchunk, c);
	c->zraw = 0;
	if (r == -1 && c->code == CONN_OK)
		conn_seterr(c, CONN_EIO, "%s port %s: %s", c->host, c->port,
		    zfilter_error(c->z));
	return r;
}

/*
 * Read once what the socket has into the free end of the buffer (through
 * the inflater when compressed), waiting until the deadline at most.
 * Returns 1 with at least one more byte buffered, 0 at the deadline, or
 * -1 (ECLOSED at end of file, with "in the middle of a line" when
 * midline is set and bytes are buffered).
 */
static int
conn_read_some(struct conn *c, int64_t deadline, int midline)
{
	ssize_t n;
	size_t space;
	char *p;
	int r, saved;

	if (c->len == 0)
		c->off = 0;
	else if (CONN_BUFSZ - c->off - c->len < CONN_READSZ && c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len);
		c->off = 0;
	}
	space = CONN_BUFSZ - c->off - c->len;
	if (space == 0) {
		conn_seterr(c, CONN_EIO, "%s port %s: read buffer full",
		    c->host, c->port);
		return -1;
	}
	p = c->buf + c->off + c->len;
	if (c->z != NULL && (r = conn_zin(c, p, space, NULL, 0)) != 0)
		return r;
	for (;;) {
		n = conn_io(c, CONN_OP_READ, p, space, deadline, &saved);
		if (n == CONN_IO_TIMEOUT)
			return 0;
		if (n < 0) {
			conn_ioerr(c, "read", saved);
			return -1;
		}
		if (n == 0) {
			conn_seterr(c, CONN_ECLOSED,
			    "%s port %s: connection closed by server%s",
			    c->host, c->port,
			    midline && c->len > 0 ? " in the middle of a line"
						  : "");
			return -1;
		}
		if (c->z == NULL) {
			c->len += (size_t)n;
			c->nin += (uint64_t)n;
			return 1;
		}
		/* Compressed: read on until a byte comes out. */
		if ((r = conn_zin(c, p, space, p, (size_t)n)) != 0)
			return r;
	}
}

/*
 * Read what the socket has, waiting at most the inactivity timeout for
 * it, and not past the end of the reply when one is awaited. Returns 0
 * with at least one more byte buffered, or -1.
 */
static int
conn_fill(struct conn *c)
{
	int64_t deadline;
	int r, byreply = 0;

	deadline = deadline_after(c->timeout);
	/* A reply's end that comes first binds; within 0.1 s of the
	 * inactivity deadline, a silent server is named as such. */
	if (c->reply_deadline != 0 && c->reply_deadline + 100 < deadline) {
		deadline = c->reply_deadline;
		byreply = 1;
	}
	if ((r = conn_read_some(c, deadline, 1)) == 0)
		conn_timeout_fill(c, byreply);
	return r == 1 ? 0 : -1;
}

int
conn_getline(struct conn *c, char **line, size_t *len, size_t max)
{
	size_t scanned = 0, n;
	char *start, *lf;

	if (!conn_usable(c))
		return -1;
	if (max > CONN_LINE_MAX)
		max = CONN_LINE_MAX;
	for (;;) {
		start = c->buf + c->off;
		lf = memchr(start + scanned, '\n', c->len - scanned);
		if (lf != NULL)
			break;
		scanned = c->len;
		/* Even a LF next could not end a line of max bytes. */
		if (c->len > max + 1
		    || (c->len == max + 1 && start[max] != '\r')) {
			conn_seterr(c, CONN_ETOOLONG,
			    "%s port %s: line longer than %zu bytes", c->host,
			    c->port, max);
			return -1;
		}
		if (conn_fill(c) == -1)
			return -1;
	}
	n = (size_t)(lf - start);
	c->off += n + 1;
	c->len -= n + 1;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	if (n > max) {
		conn_seterr(c, CONN_ETOOLONG,
		    "%s port %s: line longer than %zu bytes", c->host, c->port,
		    max);
		return -1;
	}
	start[n] = '\0';
	*line = start;
	*len = n;
	return 0;
}

int
conn_peek(struct conn *c, const char **buf, size_t *len)
{
	if (!conn_usable(c))
		return -1;
	if (c->len == 0 && conn_fill(c) == -1)
		return -1;
	*buf = c->buf + c->off;
	*len = c->len;
	return 0;
}

void
conn_consume(struct conn *c, size_t n)
{
	if (n > c->len)
		n = c->len;
	c->off += n;
	c->len -= n;
	if (c->len == 0)
		c->off = 0;
}

int
conn_read_to_sink(struct conn *c, uint64_t n, conn_sink_fn fn, void *arg)
{
	size_t k;

	if (!conn_usable(c))
		return -1;
	while (n > 0) {
		if (c->len == 0 && conn_fill(c) == -1)
			return -1;
		k = c->len;
		if ((uint64_t)k > n)
			k = (size_t)n;
		if (fn(arg, c->buf + c->off, k) == -1) {
			conn_seterr(c, CONN_ESINK,
			    "%s port %s: reading stopped by the receiver",
			    c->host, c->port);
			return -1;
		}
		conn_consume(c, k);
		n -= k;
	}
	return 0;
}

int
conn_write(struct conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;
	size_t chunk;
	int saved;

	if (!conn_usable(c))
		return -1;
	if (c->z != NULL && !c->zraw)
		return conn_zwrite(c, buf, len);
	while (len > 0) {
		chunk = len > CONN_WRITEMAX ? CONN_WRITEMAX : len;
		/* The inactivity timeout starts again with each progress. */
		n = conn_io(c, CONN_OP_WRITE, (void *)p, chunk,
		    deadline_after(c->timeout), &saved);
		if (n == CONN_IO_TIMEOUT) {
			conn_timeout_write(c);
			return -1;
		}
		if (n < 0) {
			conn_ioerr(c, "write", saved);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		c->nout += (uint64_t)n;
	}
	return 0;
}

uint64_t
conn_bytes_in(const struct conn *c)
{
	return c->nin;
}

uint64_t
conn_bytes_out(const struct conn *c)
{
	return c->nout;
}

const char *
conn_error(const struct conn *c)
{
	return c->err;
}

enum conn_err
conn_errcode(const struct conn *c)
{
	return c->code;
}

void
conn_free(struct conn *c)
{
	int saved;

	if (c == NULL)
		return;
	/*
	 * Send close_notify, waiting only briefly, unless the socket or the
	 * TLS session already failed. A peer that has gone makes tls_close
	 * fail, and that is no failure of ours.
	 */
	if (c->tls_up && c->fd != -1 && c->code != CONN_ETLS
	    && c->code != CONN_ECLOSED && c->code != CONN_EIO)
		(void)conn_io(c, CONN_OP_CLOSE, NULL, 0,
		    mono_ms() + CONN_CLOSE_MS, &saved);
	zfilter_free(c->z);
	tls_free(c->tls);
	tls_config_free(c->cfg);
	if (c->fd != -1)
		close(c->fd);
	free(c->buf);
	free(c->raw);
	free(c->host);
	free(c->port);
	free(c);
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

int
conn_keepalive(struct conn *c, int idle)
{
	int on = 1, intvl = 15, cnt = 4;

	if (c->fd == -1
	    || setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on))
		== -1) {
		conn_seterr(c, CONN_EIO, "%s port %s: SO_KEEPALIVE: %s",
		    c->host, c->port, strerror(errno));
		return -1;
	}
#ifdef TCP_KEEPIDLE
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(
	    c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
	(void)idle;
	(void)intvl;
	(void)cnt;
#endif
	return 0;
}

int
conn_line_ready(struct conn *c)
{
	int r;

	if (!conn_usable(c))
		return -1;
	for (;;) {
		if (c->len > 0 && memchr(c->buf + c->off, '\n', c->len) != NULL)
			return 1;
		if (c->len == CONN_BUFSZ) {
			conn_seterr(c, CONN_ETOOLONG,
			    "%s port %s: line longer than %d bytes", c->host,
			    c->port, CONN_LINE_MAX);
			return -1;
		}
		/* A deadline now: what has arrived, without waiting. */
		if ((r = conn_read_some(c, mono_ms(), 0)) != 1)
			return r;
	}
}
