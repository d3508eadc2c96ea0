/*
 * SASL client mechanisms: PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195),
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), XOAUTH2 and
 * OAUTHBEARER (RFC 7628), and the APOP digest (RFC 1939). The protocol
 * clients (POP3 AUTH, IMAP AUTHENTICATE) carry the base64 lines; this
 * module computes them. Crypto and base64 come from libcrypto.
 *
 * Every buffer that held a secret or a value derived from one is wiped
 * before it is freed.
 */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>

#include "line.h"
#include "source.h"

struct sasl;

/* The IANA name of a SASL mechanism ("SCRAM-SHA-256"), or NULL for
 * SRC_AUTH_AUTO, USER and APOP, which are not SASL. */
const char *sasl_mech_name(enum src_auth);

/* The bit (1u << mech) of the SASL mechanism named name[0..len-1]
 * (case-insensitive), or 0 for a name we do not know. Protocol clients
 * collect the mechanisms a server offers as such bits. */
unsigned sasl_mech_bit(const char *name, size_t len);

/* 1 when mech is among the offered bits (as sasl_mech_bit gives them),
 * else 0; always 0 for SRC_AUTH_AUTO, USER and APOP. */
int sasl_offered(unsigned offered, enum src_auth mech);

/* What auth = auto picks among the mechanisms offered (bits as
 * sasl_mech_bit gives them): the first offered of SCRAM-SHA-256,
 * SCRAM-SHA-1, PLAIN and LOGIN, or SRC_AUTH_AUTO when none is. */
enum src_auth sasl_auto_pick(unsigned offered);

/* A new exchange for mech as user with secret (password, or access
 * token for XOAUTH2/OAUTHBEARER). host and port go into the OAUTHBEARER
 * message. Strings are copied. */
struct sasl *sasl_new(enum src_auth mech, const char *user, const char *secret,
    const char *host, const char *port);

/* 1 when the mechanism sends a client-first message (an initial
 * response: PLAIN, SCRAM, XOAUTH2, OAUTHBEARER), 0 when the server
 * speaks first (LOGIN, CRAM-MD5). */
int sasl_client_first(const struct sasl *);

/*
 * One step. in is the server's challenge as base64 text (without the
 * "+ " prefix), or NULL to ask for the initial response. On success
 * returns 0 and *out is a new NUL-terminated base64 line to send (may
 * be empty ""); the caller frees it with freezero_str. Returns -1 when
 * the challenge is malformed or fails verification (a SCRAM server
 * signature that does not match: the server is not who it claims);
 * sasl_error says why.
 */
int sasl_step(struct sasl *, const char *in, size_t inlen, char **out);

/* 1 when the exchange reached its end and, for SCRAM, the server's
 * signature was verified. A protocol client must not accept the
 * server's final OK for SCRAM unless this is 1. */
int sasl_done(const struct sasl *);

/* 1 when the message the last step produced is the client's last one
 * if the server accepts it (PLAIN, LOGIN, CRAM-MD5, SCRAM's empty
 * answer to the verified server-final): a protocol client may pipeline
 * commands behind it. Always 0 for XOAUTH2 and OAUTHBEARER, whose
 * server answers a failure with a challenge that wants one more line. */
int sasl_last(const struct sasl *);

/* 1 when the client's next message is known before the server's next
 * challenge arrives and is its last if the server accepts it: SCRAM
 * after client-final, whose answer to the server-final message is
 * empty (RFC 5802 section 5). A protocol that lets a client send ahead
 * (IMAP) may send that empty line, and commands behind it, at once;
 * the server-final message must still go through sasl_step, which
 * verifies its signature, and sasl_done decides as before. */
int sasl_answer_known(const struct sasl *);

/* What went wrong in the last failed step. */
const char *sasl_error(const struct sasl *);

/* Wipe and free. Accepts NULL. */
void sasl_free(struct sasl *);

/*
 * How a line protocol carries SASL: POP3 AUTH (RFC 5034) and SMTP AUTH
 * (RFC 4954) both send "AUTH <mech> [initial-response]", then answer
 * each challenge line with a response line until the final reply; only
 * the framing of the server's lines differs, and that is the caller's.
 */
struct sasl_line {
	size_t cmdmax; /* longest command line, CRLF included */
	size_t maxsteps; /* challenges accepted before giving up */
	const char *who; /* put before our messages: "" or "SMTP " */
	const struct line_proto *lp; /* how lines go out (line_send) */
	/* Read the server's next reply: 1 with a challenge's base64 text
	 * in *chal and *chlen; 0 for the final reply, which the caller
	 * keeps in arg to judge; -1 on failure, src->err set. */
	int (*next)(
	    struct source *, void *arg, const char **chal, size_t *chlen);
	void *arg;
};

/* What the trace shows of an AUTH command, NUL included, at most. */
#define SASL_SHOW 64

/*
 * The exchange of sasl_exchange in its two halves, for a client that
 * sends the AUTH command with other bytes (POP3 sends SCRAM's first
 * message behind CAPA): sasl_start makes the command, "AUTH name
 * [initial-response]" with its CRLF, into a new *line (freed with
 * freezero_str) and what the trace shows of it into show; it returns
 * the line's length, or -1 when the initial response cannot be made
 * (sasl_error says why). An initial response too long for how->cmdmax
 * is held in s for the server's empty challenge. Once the command went
 * out, sasl_answer answers the challenges until the final reply and
 * returns as sasl_exchange does.
 */
int sasl_start(struct sasl *s, const char *name, const struct sasl_line *how,
    char **line, char show[SASL_SHOW]);
int sasl_answer(
    struct source *src, struct sasl *s, const struct sasl_line *how);

/*
 * Run the exchange of s, mechanism name, over src as how describes,
 * from the AUTH command to the final reply. Returns 0 when the final
 * reply came (the caller judges it, then asks sasl_done for SCRAM), or
 * -1 with src->fail and src->err set. Every line that carries a
 * credential is traced as <redacted>.
 */
int sasl_exchange(struct source *src, struct sasl *s, const char *name,
    const struct sasl_line *how);

/* For tests only: use nonce (printable, no ',') as the SCRAM client
 * nonce instead of a random one. Call before the first step. */
void sasl_test_set_nonce(struct sasl *, const char *nonce);

/* APOP digest: lowercase hex MD5 of stamp followed by secret, into
 * hex[33]. */
void sasl_apop_digest(
    const char *stamp, size_t stamplen, const char *secret, char hex[33]);

/* Base64 (RFC 4648, with padding) through libcrypto. encode returns a
 * new string; decode returns a new buffer with *outlen bytes (plus a NUL
 * after them), or NULL on invalid input. */
char *sasl_b64_encode(const void *in, size_t len);
unsigned char *sasl_b64_decode(const char *in, size_t len, size_t *outlen);

#endif
