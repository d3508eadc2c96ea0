/*
 * The version 1 state file (and a version 2 one whose folder names are
 * respelled), read whole and strictly, for store.c to convert. See
 * state_v1.c.
 */
#ifndef STATE_V1_H
#define STATE_V1_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* The line syntax of both versions (see state_v1.c): a byte written
 * %XX, undoing that in place (-1: bad), an unsigned decimal up to max,
 * "flags=" letters (FLAG_KNOWN 0x80 and the bits of "DFPRST"), and a
 * file name relative to the Maildir (NAME or .SUB/NAME). */
int stline_esc_needed(unsigned char);
int stline_unescape(char *);
int stline_parse_u64(const char *, uint64_t max, uint64_t *);
int stline_parse_flags(const char *, uint8_t *);
int stline_name_ok(const char *);

struct v1;

/* A record as the file left it (when 0: void, but maybe an intent). */
struct v1_rec {
	size_t folder; /* index for v1_folder */
	const char *uid, *file, *intent;
	int64_t when, gone, intent_when;
	uint8_t flags; /* FLAG_KNOWN (0x80) | bits of "DFPRST" */
	int isshort, grew;
	uint64_t announced, received; /* grew=: the limit in received */
};

struct v1 *v1_new(const char *path, char *(*canon)(const char *));
/* Read the file whole; -1 with v1_error(), v1_errkind(), v1_errno(). */
int v1_load(struct v1 *);
uint64_t v1_gen(const struct v1 *);
/* The i-th folder's name and values, NULL past the last. */
const char *v1_folder(const struct v1 *, size_t i, uint32_t *uv,
    uint32_t *uidnext, uint64_t *modseq);
/* The i-th record into *out: 1, or 0 past the last. Strings owned by
 * the struct v1. */
int v1_rec(const struct v1 *, size_t i, struct v1_rec *out);
const char *v1_error(const struct v1 *);
enum state_errkind v1_errkind(const struct v1 *);
int v1_errno(const struct v1 *);
void v1_free(struct v1 *);

#endif
