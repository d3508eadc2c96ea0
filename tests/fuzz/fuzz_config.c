/*
 * libFuzzer target for the config parser (cmd/config.c). cfg_load
 * takes a path, so each input is written to a file in a private
 * temporary directory (mode 0600, as a config with a password must
 * have) and loaded. A config that loads must be usable: every account
 * has the required keys and a findable name; an error must say what is
 * wrong.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cmd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

static char dir[64];
static char path[128];

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/mf-fuzzcfg.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/fetchrc", dir);
	atexit(cleanup);
	/* ~ in paths expands to this; nothing is created there. */
	setenv("HOME", dir, 1);
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CONFIG_HOME");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *cfg;
	char err[512];
	size_t i, off;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1)
		abort();
	for (off = 0; off < size; off += (size_t)n)
		if ((n = write(fd, data + off, size - off)) <= 0)
			abort();
	close(fd);
	cfg = cfg_load(path, err, sizeof(err));
	if (cfg == NULL) {
		if (err[0] == '\0' || strlen(err) >= sizeof(err))
			abort();
		return 0;
	}
	if (cfg->nacct == 0)
		abort();
	for (i = 0; i < cfg->nacct; i++) {
		struct cfg_account *a = &cfg->acct[i];

		if (a->name == NULL || a->host == NULL || a->user == NULL
		    || a->maildir == NULL || a->state_file == NULL
		    || a->nfolders == 0 || a->port < 1 || a->port > 65535
		    || a->timeout < 1 || a->connect_timeout < 1)
			abort();
		if (cfg_find(cfg, a->name) == NULL)
			abort();
	}
	cfg_free(cfg);
	return 0;
}
