/*
 * The connection: a non-blocking socket, an optional libtls context, a
 * read buffer and deadlines. It knows nothing of mail. Every read and
 * write waits at most the inactivity timeout, and a read also not past
 * the end of the reply awaited (conn_reply_begin); connecting (TCP and
 * the TLS handshake) at most the connect timeout.
 *
 * Errors: a function that fails returns -1 (or NULL) and leaves a message
 * in conn_error() and a class in conn_errcode(); the class is what the
 * caller maps to an exit status. After any I/O error the connection is
 * unusable except for conn_free().
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct conn;

enum conn_err {
	CONN_OK = 0,
	CONN_ERESOLVE, /* host name unknown (getaddrinfo failed) */
	CONN_EREFUSED, /* connection refused, host or network unreachable */
	CONN_ETIMEOUT, /* connect timeout or inactivity timeout passed */
	CONN_ECLOSED, /* peer closed the connection */
	CONN_EIO, /* other socket error while connected */
	CONN_ECERT, /* certificate rejected: chain, name or fingerprint */
	CONN_ETLS, /* other TLS failure: handshake, protocol, alert */
	CONN_ECONFIG, /* bad TLS settings: CA file, protocols string */
	CONN_ETOOLONG, /* a line longer than the caller's cap */
	CONN_ESINK, /* the caller's sink returned -1 */
	CONN_EDATA /* compressed data from the server is not valid */
};

struct conn_tlsopts {
	int verify; /* check the chain and the host name */
	const char *ca_file; /* PEM bundle; NULL: the system store */
	const char *fingerprint; /* "SHA256:hex"; NULL: none. When set it
				  * replaces the chain and name checks */
	const char *protocols; /* libtls protocol string; NULL: default */
};

struct conn_tlsinfo {
	char version[32];
	char cipher[64];
	char subject[256];
	char issuer[256];
	time_t notbefore;
	time_t notafter;
	char fingerprint[80]; /* as tls_peer_cert_hash(3): "SHA256:hex" */
};

/* Receives bytes read by conn_read_to_sink; returns 0, or -1 to stop. */
typedef int (*conn_sink_fn)(void *arg, const char *buf, size_t len);

/* A new unconnected connection with the two timeouts in seconds. */
struct conn *conn_new(int connect_timeout, int timeout);

/* Resolve host (IPv4 and IPv6), try each address in turn within the
 * connect timeout overall. Errors: ERESOLVE, EREFUSED, ETIMEOUT. */
int conn_connect(struct conn *, const char *host, const char *port);

/* Start TLS on the connected socket (implicit TLS right after connect,
 * or STARTTLS after the server agreed) and finish the handshake within
 * the connect timeout. servername is checked against the certificate
 * unless verify is off or a fingerprint is given. Any bytes already
 * buffered from the plaintext phase are an error (ETLS): a server must
 * not send data ahead of the handshake. Errors: ECERT, ETLS, ECONFIG,
 * ETIMEOUT, ECLOSED. */
int conn_starttls(
    struct conn *, const char *servername, const struct conn_tlsopts *);

/* 1 when TLS is up, 0 otherwise. */
int conn_is_tls(const struct conn *);

/* Fill *info from the TLS session; -1 when TLS is not up. */
int conn_tls_info(struct conn *, struct conn_tlsinfo *info);

/* Read one line. On success *line points into the connection's buffer
 * (valid until the next call on this connection), NUL-terminated, with
 * the final LF and any CR before it removed; *len is its length. A line
 * longer than max bytes fails with ETOOLONG. max must not exceed
 * CONN_LINE_MAX. */
#define CONN_LINE_MAX 65536
int conn_getline(struct conn *, char **line, size_t *len, size_t max);

/* Make sure some bytes are buffered (reading, within the timeout, if
 * none are) and give a borrowed view of all that is buffered. Use with
 * conn_consume for bulk parsing (message bodies). Returns 0 or -1. */
int conn_peek(struct conn *, const char **buf, size_t *len);

/* Drop n bytes (n <= what conn_peek gave) from the front of the buffer. */
void conn_consume(struct conn *, size_t n);

/* Read exactly n bytes and hand them to fn in pieces as they arrive
 * (IMAP literals). Errors: ESINK when fn returned -1, or an I/O class. */
int conn_read_to_sink(struct conn *, uint64_t n, conn_sink_fn fn, void *arg);

/* Bound the reply now awaited (SPEC "Time"): from now on, reads fail
 * with ETIMEOUT once the timeout has passed, however the bytes trickle
 * in, and not only after that long without a byte. Holds until
 * conn_reply_end; a new call starts the clock again (the next reply).
 * Message bodies, and waits such as IDLE, read without it. */
void conn_reply_begin(struct conn *);
void conn_reply_end(struct conn *);

/* Write all len bytes within the timeout. */
int conn_write(struct conn *, const void *buf, size_t len);

/* Compress both directions from now on (IMAP COMPRESS=DEFLATE, RFC
 * 4978, after the server's OK): raw deflate, flushed at the end of each
 * conn_write. Bytes already buffered are taken as compressed. Bad
 * compressed input fails the read with EDATA. */
int conn_compress(struct conn *);
int conn_is_compressed(const struct conn *);

/* Bytes read and written so far, TLS payload or plain. */
uint64_t conn_bytes_in(const struct conn *);
uint64_t conn_bytes_out(const struct conn *);

/* The last error as text, and its class. */
const char *conn_error(const struct conn *);
enum conn_err conn_errcode(const struct conn *);

/* The socket, for poll(2) by a caller that waits on many connections
 * (the daemon's IDLE); -1 when not connected. Data may already be
 * buffered: see conn_line_ready. */
int conn_fd(const struct conn *);

/* Turn on TCP keepalive: probes after idle seconds without traffic,
 * so that a peer that vanished without a word is noticed. */
int conn_keepalive(struct conn *, int idle);

/* Read what has arrived without waiting. Returns 1 when a whole line is
 * buffered (conn_getline will not wait for it), 0 when not yet, -1 on
 * an error or end of file (ECLOSED). */
int conn_line_ready(struct conn *);

/* The class of a failed TLS step from libtls's error text msg and the
 * errno it left (saved): ECERT when checks (chain and name verified)
 * and the text speaks of the certificate, ECLOSED when the peer hung
 * up, ETLS otherwise. Exposed for its unit test. */
enum conn_err conn_tls_errclass(const char *msg, int checks, int saved);

/* Close TLS (errors ignored: a vanished peer is no failure of the
 * mail) and the socket, and free. Accepts NULL. */
void conn_free(struct conn *);

#endif
