/*
 * A minimal SMTP submission client for --check (RFC 6409): connect,
 * implicit TLS (RFC 8314) or STARTTLS (RFC 3207), EHLO (RFC 5321),
 * AUTH (RFC 4954) through the SASL mechanisms of sasl.h, QUIT. It
 * never sends MAIL, RCPT or DATA: it sends no mail, and it is no mail
 * source: it has its own calls, smtp_open, smtp_auth and smtp_quit.
 *
 * The session is recorded in a struct source, the record of the line
 * session (line.h) every client keeps: src->fail and src->err after a
 * failure, src->caps for the EHLO extensions (the last EHLO's keyword
 * lines, joined by ", "), src->mechs the mechanisms offered, src->mech
 * the one used; src_tls_info for the TLS details. Its ops hold only
 * open (smtp_open, then smtp_auth unless cfg->nologin), quit and free,
 * for --configure's probe, which opens every protocol alike; the mail
 * operations are NULL.
 *
 * The settings come from a struct source_cfg as for the other clients.
 * auth is SRC_AUTH_AUTO (the first the server offers of SCRAM-SHA-256,
 * SCRAM-SHA-1, PLAIN, LOGIN) or a SASL mechanism; USER and APOP are
 * POP3's and fail with SRC_FCONFIG.
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#include "source.h"

/* A new submission session for cfg (borrowed; must outlive it). Not
 * connected until smtp_open. */
struct source *smtp_new(const struct source_cfg *cfg);

/* Connect, read the greeting, send EHLO, and STARTTLS and EHLO again
 * when cfg->tls is SRC_TLS_STARTTLS (SRC_FPROTO when the server does
 * not offer it). Returns 0, or -1 with src->fail and src->err set. */
int smtp_open(struct source *);

/* Authenticate (AUTH) after smtp_open. Refuses (SRC_FCONFIG) to send
 * credentials over
 * an unencrypted connection unless allow_plaintext. */
int smtp_auth(struct source *);

/* Send QUIT and want a 2xx reply. */
int smtp_quit(struct source *);

/* Drop the connection and free everything. Accepts NULL. */
void smtp_free(struct source *);

/* The pure parsers the client is built on, exposed for tests. */

/*
 * One reply line (RFC 5321 section 4.2): a code of three digits, the
 * first 2 to 5 and the second 0 to 5, then "-" when more lines follow,
 * or " " or nothing on the last line. Returns 0 and sets *code, *more
 * (1 after "-"), *text and *textlen (the text after the separator,
 * pointing into line); -1 when the line breaks that grammar.
 */
int smtp_parse_line(const char *line, size_t len, int *code, int *more,
    const char **text, size_t *textlen);

/* Bounds of a reply against a hostile server. */
#define SMTP_MAXLINES 100
#define SMTP_QUOTE 200

/* A reply being read, line by line. */
struct smtp_reply {
	int code; /* 0 until the first line is in */
	size_t nlines;
	char first[SMTP_QUOTE + 1]; /* the first line, quoted for messages */
};

/* Reset r for a new reply. */
void smtp_reply_init(struct smtp_reply *r);

#define SMTP_RMORE 0 /* more lines follow */
#define SMTP_RDONE 1 /* the reply is complete */
#define SMTP_RBAD                                                              \
	(-1) /* a line that is not a reply line, or whose code
			* differs from the first line's (RFC 5321 4.2.1) */
#define SMTP_RLONG (-2) /* more than SMTP_MAXLINES lines */

/* Add one line (without CRLF) to r; returns one of SMTP_R*. */
int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len);

#define SMTP_EXT_STARTTLS 0x01
#define SMTP_EXT_AUTH 0x02

/*
 * One EHLO keyword line, the text after "250-" or "250 " (RFC 5321
 * section 4.1.1.1: a keyword, in any case, and parameters separated by
 * spaces). Returns the SMTP_EXT_* bit of a keyword we use, else 0. For
 * AUTH (RFC 4954 section 3), and the "AUTH=" form older servers send,
 * each mechanism sasl.h knows is added to *mechs as 1u << its enum
 * src_auth value.
 */
unsigned smtp_ehlo_line(const char *text, size_t len, unsigned *mechs);

#endif
