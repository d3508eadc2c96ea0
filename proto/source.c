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
	return src_fail(src, f, "%s: %s", what, conn_error(src->conn));
}

void
src_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; i < len && i < dstlen - 1; i++) {
		unsigned char c = s[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}
