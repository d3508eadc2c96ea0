/*
 * What the protocol clients share: the message list, and recording a
 * failure on a session. See source.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tls/util.h"
#include "source.h"

void
msglist_add(struct msglist *l, const struct msginfo *m)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n] = *m;
	l->v[l->n].uid = m->uid ? strpool_add(&l->uids, m->uid) : NULL;
	l->n++;
}

void
msglist_free(struct msglist *l)
{
	strpool_free(&l->uids);
	l->nosizes = 0;
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
	l->nflushed = 0;
}

int
msglist_window(struct source *src, struct msglist *l)
{
	if (l->window == 0 || l->n < l->window)
		return 0;
	if (l->flush(l->flush_arg, l) == -1)
		return src_fail(src, SRC_FLOCAL, "could not take the listing");
	l->nflushed += l->n;
	l->n = 0;
	strpool_free(&l->uids);
	return 0;
}

struct source *
src_new(
    const struct source_ops *ops, const struct source_cfg *cfg, size_t privsize)
{
	struct source *src = xcalloc(1, sizeof(*src));

	src->ops = ops;
	src->cfg = cfg;
	src->priv = xcalloc(1, privsize);
	return src;
}

void
src_free(struct source *src, size_t privsize)
{
	if (src == NULL)
		return;
	conn_free(src->conn);
	if (src->priv != NULL) {
		explicit_bzero(src->priv, privsize);
		free(src->priv);
	}
	explicit_bzero(src, sizeof(*src));
	free(src);
}

int
src_fail(struct source *src, enum src_fail fail, const char *fmt, ...)
{
	va_list ap;

	src->fail = fail;
	va_start(ap, fmt);
	vsnprintf(src->err, sizeof(src->err), fmt, ap);
	va_end(ap);
	return -1;
}

int
src_connfail(struct source *src, const char *what)
{
	enum src_fail f;

	switch (conn_errcode(src->conn)) {
	case CONN_ERESOLVE:
	case CONN_EREFUSED:
		f = SRC_FHOST;
		break;
	case CONN_ETIMEOUT:
	case CONN_ECLOSED:
	case CONN_EIO:
		f = SRC_FTEMP;
		break;
	case CONN_ECERT:
		f = SRC_FAUTH;
		break;
	case CONN_ECONFIG:
		f = SRC_FCONFIG;
		break;
	case CONN_ESINK:
		f = SRC_FLOCAL;
		break;
	case CONN_EDATA:
		f = SRC_FDATA;
		break;
	case CONN_ETLS:
	case CONN_ETOOLONG:
	default:
		f = SRC_FPROTO;
		break;
	}
	if (what == NULL)
		return src_fail(src, f, "%s", conn_error(src->conn));
	return src_fail(src, f, "%s: %s", what, conn_error(src->conn));
}

int
src_has_conn(const struct source *src)
{
	return src->conn != NULL;
}

enum conn_err
src_errcode(const struct source *src)
{
	return src->conn != NULL ? conn_errcode(src->conn) : CONN_OK;
}

int
src_tls_info(const struct source *src, struct conn_tlsinfo *info)
{
	if (src->conn == NULL) {
		memset(info, 0, sizeof(*info));
		return -1;
	}
	return conn_tls_info(src->conn, info);
}

int
src_fd(const struct source *src)
{
	return src->conn != NULL ? conn_fd(src->conn) : -1;
}

int
src_keepalive(struct source *src, int idle)
{
	return src->conn != NULL ? conn_keepalive(src->conn, idle) : -1;
}

/* The length of the well-formed UTF-8 sequence of two to four bytes at
 * s[0..len-1] (RFC 3629 section 4: no overlong form, no surrogate,
 * nothing past U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo;
		hi = s[0] == 0xed ? 0x9f : hi;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Control characters become '?': C0, DEL, and C1 (U+0080 to U+009F),
 * which a terminal obeys both as single bytes 0x80-0x9F (CSI is 0x9B)
 * and, in UTF-8, as C2 80 to C2 9F. Other well-formed UTF-8 is kept
 * whole, never cut at the end of dst; other bytes from 0xA0 up are kept
 * (Latin-1 text).
 */
void
src_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, n;

	if (dstlen == 0)
		return;
	while (i < len && o < dstlen - 1) {
		if (u[i] >= 0x80 && (n = utf8_len(u + i, len - i)) > 0) {
			if (n == 2 && u[i] == 0xc2 && u[i + 1] <= 0x9f)
				dst[o++] = '?';
			else if (o + n > dstlen - 1)
				break;
			else {
				memcpy(dst + o, s + i, n);
				o += n;
			}
			i += n;
			continue;
		}
		dst[o++] = u[i] < 0x20 || (u[i] >= 0x7f && u[i] <= 0x9f) ? '?'
									 : s[i];
		i++;
	}
	dst[o] = '\0';
}
