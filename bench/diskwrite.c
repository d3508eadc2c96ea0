/*
 * The disk limit for the benchmark: write the given messages into a
 * Maildir as mailfetch must, with no network. For each message: create
 * tmp/NAME (O_EXCL), write it, fsync, close, rename into new/NAME; the
 * new/ directory is fsync'ed after every BATCH messages and at the end
 * (mailfetch makes its renames durable once per batch, too).
 *
 *   diskwrite MAILDIR LISTFILE [BATCH]
 *
 * LISTFILE names one source file (the message, LF line endings) per
 * line. Prints "messages N bytes B".
 */
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static void
dirsync(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY)) == -1)
		err(1, "%s", path);
	if (fsync(fd) == -1)
		err(1, "fsync %s", path);
	close(fd);
}

int
main(int argc, char *argv[])
{
	static char buf[CHUNK];
	char src[4096], tmp[4096], dst[4096], newdir[4096];
	FILE *list;
	uint64_t n = 0, bytes = 0;
	long long now;
	long batch;
	ssize_t r;
	int in, out;
	char *nl;

	if (argc < 3 || argc > 4)
		errx(64, "usage: diskwrite MAILDIR LISTFILE [BATCH]");
	batch = argc == 4 ? atol(argv[3]) : 256;
	if (batch < 1)
		batch = 1;
	snprintf(newdir, sizeof(newdir), "%s/new", argv[1]);
	snprintf(tmp, sizeof(tmp), "%s/tmp", argv[1]);
	if ((mkdir(argv[1], 0700) == -1 || mkdir(tmp, 0700) == -1
		|| mkdir(newdir, 0700) == -1))
		err(1, "mkdir %s", argv[1]);
	snprintf(dst, sizeof(dst), "%s/cur", argv[1]);
	if (mkdir(dst, 0700) == -1)
		err(1, "mkdir %s", dst);
	if ((list = fopen(argv[2], "r")) == NULL)
		err(1, "%s", argv[2]);
	while (fgets(src, sizeof(src), list) != NULL) {
		if ((nl = strchr(src, '\n')) != NULL)
			*nl = '\0';
		if (*src == '\0')
			continue;
		if ((in = open(src, O_RDONLY)) == -1)
			err(1, "%s", src);
		now = time(NULL);
		snprintf(tmp, sizeof(tmp),
		    "%s/tmp/%lld.M%06" PRIu64 "P%ld.bench", argv[1], now, n,
		    (long)getpid());
		snprintf(dst, sizeof(dst),
		    "%s/new/%lld.M%06" PRIu64 "P%ld.bench", argv[1], now, n,
		    (long)getpid());
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (out == -1)
			err(1, "%s", tmp);
		while ((r = read(in, buf, sizeof(buf))) > 0) {
			if (write(out, buf, r) != r)
				err(1, "write %s", tmp);
			bytes += r;
		}
		if (r == -1)
			err(1, "read %s", src);
		close(in);
		if (fsync(out) == -1)
			err(1, "fsync %s", tmp);
		if (close(out) == -1)
			err(1, "close %s", tmp);
		if (rename(tmp, dst) == -1)
			err(1, "rename %s", tmp);
		if (++n % batch == 0)
			dirsync(newdir);
	}
	dirsync(newdir);
	fclose(list);
	printf("messages %" PRIu64 " bytes %" PRIu64 "\n", n, bytes);
	return 0;
}
