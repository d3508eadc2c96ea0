/*
 * A test aid, not part of mailfetch: preloaded (LD_PRELOAD) by
 * tests/test_daemon_wake.py, it makes CLOCK_BOOTTIME run ahead of
 * CLOCK_MONOTONIC by the seconds written in the file that
 * MAILFETCH_TEST_BOOTTIME names, as a suspend of that long does. The
 * file is read at every call, so a test moves the clock while the
 * daemon runs; without the file the clocks are left alone.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int clock_gettime(clockid_t, struct timespec *);

static long long
asleep_seconds(void)
{
	const char *path = getenv("MAILFETCH_TEST_BOOTTIME");
	char buf[32];
	ssize_t n;
	int fd, e = errno;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		errno = e;
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	errno = e;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (real(id, ts) == -1)
		return -1;
	if (id == CLOCK_BOOTTIME)
		ts->tv_sec += asleep_seconds();
	return 0;
}
