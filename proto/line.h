/*
 * The line session the protocol clients share (POP3, IMAP, the SMTP
 * check): a command line goes out with its trace, a credential in it
 * shown as <redacted>; a reply line comes in with its trace; a failure
 * of either is recorded on the source (src_connfail, src_fail).
 */
#ifndef LINE_H
#define LINE_H

#include <stddef.h>

#include "source.h"

/* How a protocol's command lines go: the longest line line_cmd builds
 * (CRLF included) and the words for a failure. */
struct line_proto {
	size_t cmdmax;
	const char *sending; /* what failed when a write fails */
	const char *toolong; /* the error when a command does not fit */
};

/* Connect to cfg->host and cfg->port within the connect timeout, and
 * with implicit TLS shake hands; tlswhat names that step in an error
 * ("TLS"). Returns 0, or -1 with the failure recorded. */
int line_connect(struct source *, const char *tlswhat);

/* Hand one line (len bytes, no CRLF) to the trace, if any. */
void line_trace(struct source *, int dir, const char *s, size_t len);

/* The same, formatted; cut at 255 bytes. */
void line_tracef(struct source *, int dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write buf, a whole command line with its CRLF; the trace shows show
 * instead when it is not NULL (a line that carries a secret). Returns
 * 0, or -1 with the failure recorded. */
int line_send(struct source *, const struct line_proto *, const char *buf,
    size_t len, const char *show);

/* Format one command line without a secret in it, add CRLF, send it.
 * SRC_FCONFIG when it does not fit lp->cmdmax. */
int line_cmd(struct source *, const struct line_proto *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read a reply line of at most max bytes (see conn_getline) and trace
 * it; what names the command it answers, for the error ("reading the
 * reply to what"). */
int line_read(
    struct source *, char **line, size_t *len, size_t max, const char *what);

#endif
