/*
 * The line session the protocol clients share. See line.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../tls/conn.h"
#include "line.h"

/* The longest command line any protocol builds with line_cmd. */
#define LINE_CMDBUF 1024

int
line_connect(struct source *src, const char *tlswhat)
{
	const struct source_cfg *cfg = src->cfg;

	src->conn = conn_new(cfg->connect_timeout, cfg->timeout);
	/* The connection's error names the host and port itself. */
	if (conn_connect(src->conn, cfg->host, cfg->port) == -1)
		return src_connfail(src, NULL);
	if (cfg->tls == SRC_TLS_IMPLICIT
	    && conn_starttls(src->conn, cfg->host, &cfg->tlsopts) == -1)
		return src_connfail(src, tlswhat);
	return 0;
}

void
line_trace(struct source *src, int dir, const char *s, size_t len)
{
	if (src->cfg->trace != NULL)
		src->cfg->trace(src->cfg->trace_arg, dir, s, len);
}

void
line_tracef(struct source *src, int dir, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (src->cfg->trace == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	line_trace(src, dir, buf, n);
}

int
line_send(struct source *src, const struct line_proto *lp, const char *buf,
    size_t len, const char *show)
{
	if (show != NULL)
		line_trace(src, SRC_TRACE_OUT, show, strlen(show));
	else
		line_trace(src, SRC_TRACE_OUT, buf, len - 2);
	if (conn_write(src->conn, buf, len) == -1)
		return src_connfail(src, lp->sending);
	return 0;
}

int
line_cmd(struct source *src, const struct line_proto *lp, const char *fmt, ...)
{
	char buf[LINE_CMDBUF];
	size_t max = lp->cmdmax < sizeof(buf) ? lp->cmdmax : sizeof(buf);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, max - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= max - 2)
		return src_fail(src, SRC_FCONFIG, "%s", lp->toolong);
	memcpy(buf + n, "\r\n", 2);
	return line_send(src, lp, buf, n + 2, NULL);
}

int
line_read(
    struct source *src, char **line, size_t *len, size_t max, const char *what)
{
	char buf[64];

	if (conn_getline(src->conn, line, len, max) == -1) {
		snprintf(buf, sizeof(buf), "reading the reply to %s", what);
		return src_connfail(src, buf);
	}
	line_trace(src, SRC_TRACE_IN, *line, *len);
	return 0;
}
