/*
 * The folders of an IMAP run. See mailboxes.h.
 */
#include <stdlib.h>
#include <string.h>

#include "../tls/util.h"
#include "folders.h"
#include "mailboxes.h"

/* A mailbox an item selected: the item's index, then LIST order. */
struct pick {
	long item;
	size_t seq;
	char *name;
};

struct expand {
	const struct cfg_account *a;
	char **all;
	size_t nall, capall;
	struct pick *v;
	size_t n, cap;
	char *found; /* found[i]: literal item i is listed */
};

/* The attributes of a LIST answer as the matcher knows them. */
static unsigned
fld_attrs(unsigned mbx)
{
	static const struct {
		unsigned mbx, fld;
	} map[] = {
		{ MBX_NOSELECT, FLD_NOSELECT },
		{ MBX_NONEXISTENT, FLD_NONEXISTENT },
		{ MBX_ALL, CFG_SU_ALL },
		{ MBX_ARCHIVE, CFG_SU_ARCHIVE },
		{ MBX_DRAFTS, CFG_SU_DRAFTS },
		{ MBX_FLAGGED, CFG_SU_FLAGGED },
		{ MBX_JUNK, CFG_SU_JUNK },
		{ MBX_SENT, CFG_SU_SENT },
		{ MBX_TRASH, CFG_SU_TRASH },
	};
	unsigned f = 0;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (mbx & map[i].mbx)
			f |= map[i].fld;
	return f;
}

static int
on_mailbox(void *arg, const struct mailbox *m)
{
	struct expand *e = arg;
	const struct cfg_account *a = e->a;
	struct fld_mailbox mb;
	size_t i;
	long item;

	mb.name = m->name;
	/* A name that is not modified UTF-7 is matched as it is. */
	mb.utf8 = m->utf8 != NULL ? m->utf8 : m->name;
	mb.delim = m->delim;
	mb.attrs = fld_attrs(m->attrs);
	if (!(mb.attrs & (FLD_NOSELECT | FLD_NONEXISTENT))) {
		if (e->nall == e->capall) {
			e->capall = e->capall ? 2 * e->capall : 16;
			e->all
			    = xreallocarray(e->all, e->capall, sizeof(*e->all));
		}
		e->all[e->nall++] = xstrdup(m->name);
	}
	if (!(mb.attrs & (FLD_NOSELECT | FLD_NONEXISTENT)))
		for (i = 0; i < a->nfitems; i++)
			if (folders_literal(&a->fitems[i])
			    && folders_match(
				a->fitems[i].utf8, mb.utf8, mb.delim))
				e->found[i] = 1;
	if ((item = folders_select(a->fitems, a->nfitems, &mb)) < 0)
		return 0;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 16;
		e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
	}
	e->v[e->n].item = item;
	e->v[e->n].seq = e->n;
	e->v[e->n++].name = xstrdup(m->name);
	return 0;
}

static int
pick_cmp(const void *x, const void *y)
{
	const struct pick *a = x, *b = y;

	if (a->item != b->item)
		return a->item < b->item ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The names as written, without LIST: each including item once. */
static void
as_written(const struct cfg_account *a, struct mbx_list *out)
{
	size_t i;

	out->name = xcalloc(a->nfolders + 1, sizeof(*out->name));
	for (i = 0; i < a->nfolders; i++) {
		if (i < a->nfitems && a->fitems[i].exclude)
			continue;
		out->name[out->n++] = xstrdup(a->folders[i]);
	}
}

/* Each literal item the LIST lacks, said as a refused SELECT says it. */
static void
say_missing(const struct acct *ac, const struct expand *e, struct mbx_list *out,
    int say)
{
	const struct cfg_account *a = ac->a;
	char q[200];
	size_t i;

	for (i = 0; i < a->nfitems; i++) {
		if (!folders_literal(&a->fitems[i]) || e->found[i])
			continue;
		src_quote(
		    q, sizeof(q), a->fitems[i].text, strlen(a->fitems[i].text));
		if (say)
			acct_err(ac,
			    "no folder %s: the server does not list it; check "
			    "the name in folders",
			    q);
		out->missing = 1;
	}
}

int
mbx_expand(const struct acct *ac, struct mbx_list *out, int say)
{
	const struct cfg_account *a = ac->a;
	struct source *src = ac->src;
	struct expand e;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!(src->ops->caps & SRC_CAP_FOLDERS) || src->ops->mailboxes == NULL
	    || !folders_need_list(a->fitems, a->nfitems)) {
		as_written(a, out);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	e.a = a;
	e.found = xcalloc(a->nfitems + 1, 1);
	if (src->ops->mailboxes(src, on_mailbox, &e) == -1) {
		for (i = 0; i < e.n; i++)
			free(e.v[i].name);
		for (i = 0; i < e.nall; i++)
			free(e.all[i]);
		free(e.all);
		free(e.v);
		free(e.found);
		return acct_srcerr(ac);
	}
	if (e.n > 1)
		qsort(e.v, e.n, sizeof(*e.v), pick_cmp);
	out->name = xcalloc(e.n + 1, sizeof(*out->name));
	for (i = 0; i < e.n; i++)
		out->name[out->n++] = e.v[i].name;
	out->listed = 1;
	out->all = e.all;
	out->nall = e.nall;
	say_missing(ac, &e, out, say);
	free(e.v);
	free(e.found);
	return 0;
}

int
mbx_has(const struct mbx_list *l, const char *name, int listed)
{
	char **v = listed ? l->all : l->name;
	size_t i, n = listed ? l->nall : l->n;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

void
mbx_free(struct mbx_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->name[i]);
	free(l->name);
	for (i = 0; i < l->nall; i++)
		free(l->all[i]);
	free(l->all);
	memset(l, 0, sizeof(*l));
}
