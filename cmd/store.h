/*
 * The state store, version 2: the records of cmd/state.h kept in a
 * sorted base file and an append-only journal, so that a run costs
 * O(changes) rather than O(records). The design is at the top of
 * store.c. The functions mirror state.h's; state.c is a thin shell
 * over them.
 *
 * Errors as state.h's: -1, with store_error(), store_errkind() and
 * store_errno().
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

struct store;

struct store *store_new(const char *path);
/* As state_set_canon; before store_open. */
void store_set_canon(struct store *, char *(*canon)(const char *));
int store_lock(struct store *);
/* Map the base file, read its header, replay the journal. A missing
 * file is an empty store; a corrupt one ECORRUPT. */
int store_open(struct store *, int readonly);

uint32_t store_uidvalidity(const struct store *, const char *folder);
void store_reset_folder(struct store *, const char *folder, uint32_t uv);
uint32_t store_uidnext(const struct store *, const char *folder, uint32_t uv);
void store_set_uidnext(
    struct store *, const char *folder, uint32_t uv, uint32_t uidnext);
uint64_t store_modseq(const struct store *, const char *folder, uint32_t uv);
void store_set_modseq(
    struct store *, const char *folder, uint32_t uv, uint64_t modseq);
/* Live records of folder and a lower bound of their oldest download:
 * O(1), from the folder's header. */
size_t store_folder_count(
    const struct store *, const char *folder, uint32_t uv, int64_t *oldest);

/* O(log n): the overlay, then a binary search over the mapping. */
int64_t store_lookup(
    struct store *, const char *folder, uint32_t uv, const char *uid);
int store_get(struct store *, const char *folder, uint32_t uv, const char *uid,
    struct state_rec *out);
int store_short(struct store *, const char *folder, uint32_t uv,
    const char *uid, uint64_t *announced, uint64_t *received);
int store_grew(struct store *, const char *folder, uint32_t uv, const char *uid,
    uint64_t *limit);

int store_add(struct store *, const char *folder, uint32_t uv, const char *uid,
    int64_t when);
int store_add_short(struct store *, const char *folder, uint32_t uv,
    const char *uid, int64_t when, uint64_t announced, uint64_t received);
int store_add_grew(struct store *, const char *folder, uint32_t uv,
    const char *uid, int64_t when, uint64_t limit);
int store_set_local(struct store *, const char *folder, uint32_t uv,
    const char *uid, const char *file, const char *flags);
int store_forget(
    struct store *, const char *folder, uint32_t uv, const char *uid);
int store_intend(struct store *, const struct state_intent *);
size_t store_npending(const struct store *);
const struct state_intent *store_pending(const struct store *, size_t i);
const char *store_folder_name(const struct store *, size_t i);

/* Iterate a folder's records in key order of the base, then those only
 * the overlay has. The strings of *out stay valid until the next call. */
int store_next(struct store *, const char *folder, uint32_t uv, size_t *pos,
    struct state_rec *out);

void store_mark(
    struct store *, const char *folder, uint32_t uv, const char *uid);
/* run.c's look_up in one search: store_lookup, store_short, store_grew
 * and store_mark of a listed message together. */
int64_t store_look_mark(struct store *, const char *folder, uint32_t uv,
    const char *uid, uint64_t *announced, uint64_t *received, uint64_t *grew);
/* state_look_mark_all: a long listing is sorted (O(m log m), 8 bytes
 * per message) and matched against the folder's lines in one
 * sequential walk, not searched message by message. */
void store_look_mark_all(struct store *, const char *folder, uint32_t uv,
    size_t n, const char *(*uid)(size_t, void *),
    void (*answer)(size_t, const struct state_look *, void *), void *arg);
/* After a complete listing; O(1) when nothing vanished or expires. */
int store_prune(struct store *, const char *folder, int64_t now);

/* Make the journal durable; then, when the overlay holds more than
 * max(8192, base records / 16) records, fold it into a new base (as
 * store_compact, crash-safe) and free it: the run's marks, pending
 * intents and folder values stay. Never when read-only. */
int store_sync(struct store *);
/* For tests: the 8192 above. */
void store_set_fold_min(struct store *, size_t);
/* Journal the folders' header values; compact when the journal passed
 * an eighth of the base (or the base is version 1). */
int store_save(struct store *);
/* Merge the journal into a new base now (crash-safe). */
int store_compact(struct store *);

/* All records of folder, also those gone= (run.c's known_counts walks
 * for it today): O(1). */
size_t store_folder_records(
    const struct store *, const char *folder, uint32_t uv);
size_t store_count(const struct store *);
/* For tests and the bench: records in the overlay, and how many
 * lines the last prune walked. */
size_t store_noverlay(const struct store *);
size_t store_walked(const struct store *);

const char *store_error(const struct store *);
enum state_errkind store_errkind(const struct store *);
int store_errno(const struct store *);
void store_free(struct store *);

#endif
