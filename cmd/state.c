/*
 * The state store: cmd/state.h over the version 2 store (store.c, the
 * design at its top). Older (version 1) files are read by state_v1.c
 * and converted by the first save.
 */
#include <stdlib.h>

#include "../tls/util.h"
#include "state.h"
#include "store.h"

struct state {
	struct store *s;
};

/* The store behind a const state: lookups use its scratch space. */
static struct store *
S(const struct state *st)
{
	return st->s;
}

struct state *
state_new(const char *path)
{
	struct state *st = xcalloc(1, sizeof(*st));

	st->s = store_new(path);
	return st;
}

void
state_set_canon(struct state *st, char *(*canon)(const char *))
{
	store_set_canon(st->s, canon);
}

int
state_lock(struct state *st)
{
	return store_lock(st->s);
}

int
state_load(struct state *st, int readonly)
{
	return store_open(st->s, readonly);
}

size_t
state_npending(const struct state *st)
{
	return store_npending(S(st));
}

const struct state_intent *
state_pending(const struct state *st, size_t i)
{
	return store_pending(S(st), i);
}

uint32_t
state_uidvalidity(const struct state *st, const char *folder)
{
	return store_uidvalidity(S(st), folder);
}

void
state_reset_folder(struct state *st, const char *folder, uint32_t uv)
{
	store_reset_folder(st->s, folder, uv);
}

uint32_t
state_uidnext(const struct state *st, const char *folder, uint32_t uv)
{
	return store_uidnext(S(st), folder, uv);
}

void
state_set_uidnext(
    struct state *st, const char *folder, uint32_t uv, uint32_t uidnext)
{
	store_set_uidnext(st->s, folder, uv, uidnext);
}

size_t
state_folder_count(
    const struct state *st, const char *folder, uint32_t uv, int64_t *oldest)
{
	return store_folder_count(S(st), folder, uv, oldest);
}

int64_t
state_lookup(
    const struct state *st, const char *folder, uint32_t uv, const char *uid)
{
	return store_lookup(S(st), folder, uv, uid);
}

int
state_intend(struct state *st, const struct state_intent *in)
{
	return store_intend(st->s, in);
}

int
state_add(struct state *st, const char *folder, uint32_t uv, const char *uid,
    int64_t when)
{
	return store_add(st->s, folder, uv, uid, when);
}

int
state_add_short(struct state *st, const char *folder, uint32_t uv,
    const char *uid, int64_t when, uint64_t announced, uint64_t received)
{
	return store_add_short(
	    st->s, folder, uv, uid, when, announced, received);
}

int
state_short(const struct state *st, const char *folder, uint32_t uv,
    const char *uid, uint64_t *announced, uint64_t *received)
{
	return store_short(S(st), folder, uv, uid, announced, received);
}

int
state_add_grew(struct state *st, const char *folder, uint32_t uv,
    const char *uid, int64_t when, uint64_t limit)
{
	return store_add_grew(st->s, folder, uv, uid, when, limit);
}

int
state_grew(const struct state *st, const char *folder, uint32_t uv,
    const char *uid, uint64_t *limit)
{
	return store_grew(S(st), folder, uv, uid, limit);
}

int
state_sync(struct state *st)
{
	return store_sync(st->s);
}

void
state_mark(struct state *st, const char *folder, uint32_t uv, const char *uid)
{
	store_mark(st->s, folder, uv, uid);
}

int64_t
state_look_mark(struct state *st, const char *folder, uint32_t uv,
    const char *uid, uint64_t *announced, uint64_t *received, uint64_t *grew)
{
	return store_look_mark(
	    st->s, folder, uv, uid, announced, received, grew);
}

void
state_look_mark_all(struct state *st, const char *folder, uint32_t uv, size_t n,
    const char *(*uid)(size_t, void *),
    void (*answer)(size_t, const struct state_look *, void *), void *arg)
{
	store_look_mark_all(st->s, folder, uv, n, uid, answer, arg);
}

size_t
state_folder_records(const struct state *st, const char *folder, uint32_t uv)
{
	return store_folder_records(S(st), folder, uv);
}

void
state_prune(struct state *st, const char *folder, int64_t now)
{
	store_prune(st->s, folder, now);
}

int
state_set_local(struct state *st, const char *folder, uint32_t uv,
    const char *uid, const char *file, const char *flags)
{
	return store_set_local(st->s, folder, uv, uid, file, flags);
}

int
state_get(const struct state *st, const char *folder, uint32_t uv,
    const char *uid, struct state_rec *out)
{
	return store_get(S(st), folder, uv, uid, out);
}

int
state_next(const struct state *st, const char *folder, uint32_t uv, size_t *pos,
    struct state_rec *out)
{
	return store_next(S(st), folder, uv, pos, out);
}

int
state_forget(struct state *st, const char *folder, uint32_t uv, const char *uid)
{
	return store_forget(st->s, folder, uv, uid);
}

uint64_t
state_modseq(const struct state *st, const char *folder, uint32_t uv)
{
	return store_modseq(S(st), folder, uv);
}

void
state_set_modseq(
    struct state *st, const char *folder, uint32_t uv, uint64_t modseq)
{
	store_set_modseq(st->s, folder, uv, modseq);
}

const char *
state_folder_name(const struct state *st, size_t i)
{
	return store_folder_name(S(st), i);
}

int
state_save(struct state *st)
{
	return store_save(st->s);
}

int
state_compact(struct state *st)
{
	return store_compact(st->s);
}

size_t
state_count(const struct state *st)
{
	return store_count(S(st));
}

const char *
state_error(const struct state *st)
{
	return store_error(S(st));
}

enum state_errkind
state_errkind(const struct state *st)
{
	return store_errkind(S(st));
}

int
state_errno(const struct state *st)
{
	return store_errno(S(st));
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	store_free(st->s);
	free(st);
}
