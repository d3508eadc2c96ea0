/*
 * libFuzzer target for the state-file parser (cmd/state.c). The input
 * is a state file, optionally followed by a line "%%journal" and the
 * journal to replay over it; both are written into a private temporary
 * directory and loaded read-only (nothing is created). A state that
 * loads is then queried: every pending intent is looked up, and
 * folders' UIDVALIDITY read.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cmd/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

#define SEP "\n%%journal\n"

static char dir[64];
static char path[128];
static char jpath[160];

static void
cleanup(void)
{
	unlink(path);
	unlink(jpath);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/mf-fuzzstate.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/acct.state", dir);
	snprintf(jpath, sizeof(jpath), "%s.journal", path);
	atexit(cleanup);
	return 0;
}

static void
put(const char *p, const uint8_t *data, size_t size)
{
	size_t off;
	ssize_t n;
	int fd;

	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1)
		abort();
	for (off = 0; off < size; off += (size_t)n)
		if ((n = write(fd, data + off, size - off)) <= 0)
			abort();
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct state_intent *p;
	const uint8_t *sep = NULL;
	struct state *st;
	size_t i, n, k = strlen(SEP);

	for (i = 0; i + k <= size; i++)
		if (memcmp(data + i, SEP, k) == 0) {
			sep = data + i;
			break;
		}
	if (sep != NULL) {
		/* The state file keeps its final LF. */
		put(path, data, (size_t)(sep - data) + 1);
		put(jpath, sep + k, size - (size_t)(sep - data) - k);
	} else {
		put(path, data, size);
		unlink(jpath);
	}
	st = state_new(path);
	if (state_load(st, 1) == 0) {
		n = state_npending(st);
		for (i = 0; i < n; i++) {
			p = state_pending(st, i);
			if (p == NULL || p->folder == NULL || p->uid == NULL
			    || p->sub == NULL || p->name == NULL)
				abort();
			(void)state_uidvalidity(st, p->folder);
			(void)state_lookup(
			    st, p->folder, p->uidvalidity, p->uid);
		}
		(void)state_count(st);
	} else if (state_error(st) == NULL || *state_error(st) == '\0')
		abort();
	state_free(st);
	return 0;
}
