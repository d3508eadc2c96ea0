/*
 * Unit tests for cmd/syncpool.c: every job runs once, closes its fd and
 * reports its own result, whatever the number of threads, and the pool
 * can be freed with threads idle or never started.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "../../cmd/syncpool.h"

#define NJOBS 200

/* Jobs on NJOBS files, every seventh on a pipe (fdatasync: EINVAL) and
 * every eleventh on a closed descriptor (EBADF). */
static void
t_jobs(const void *arg)
{
	int nthreads = *(const int *)arg;
	struct syncjob *j = calloc(NJOBS, sizeof(*j));
	int(*pipes)[2] = calloc(NJOBS, sizeof(*pipes));
	struct syncpool *p = syncpool_new(nthreads);
	char dir[] = "/tmp/mf-syncpool-XXXXXX", path[64];
	int i, want, e;

	CHECK(j != NULL && pipes != NULL && mkdtemp(dir) != NULL);
	if (j == NULL || pipes == NULL)
		return;
	for (i = 0; i < NJOBS; i++) {
		pipes[i][0] = pipes[i][1] = -1;
		if (i % 7 == 3) {
			CHECK(pipe(pipes[i]) == 0);
			j[i].fd = pipes[i][1];
		} else if (i % 11 == 5)
			j[i].fd = 1000000;
		else {
			snprintf(path, sizeof(path), "%s/%d", dir, i);
			j[i].fd = open(path, O_WRONLY | O_CREAT, 0600);
			CHECK(j[i].fd != -1 && write(j[i].fd, "x\n", 2) == 2);
		}
		syncpool_submit(p, &j[i]);
	}
	/* Waited for in reverse order: each still says its own result. */
	for (i = NJOBS - 1; i >= 0; i--) {
		want = i % 7 == 3 ? EINVAL : i % 11 == 5 ? EBADF : 0;
		errno = 0;
		e = syncpool_wait(p, &j[i]);
		CHECK(j[i].done == 1);
		CHECK(j[i].err == want);
		CHECK(e == (want ? -1 : 0));
		if (want)
			CHECK(errno == want);
		/* The pool closed it. */
		CHECK(
		    want == EBADF || (close(j[i].fd) == -1 && errno == EBADF));
		if (pipes[i][0] != -1)
			close(pipes[i][0]);
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		(void)unlink(path);
	}
	/* A job waited for twice gives the same answer. */
	CHECK(syncpool_wait(p, &j[0]) == 0);
	syncpool_free(p);
	CHECK(rmdir(dir) == 0);
	free(j);
	free(pipes);
}

static void
t_free_unused(const void *arg)
{
	(void)arg;
	syncpool_free(syncpool_new(16));
	syncpool_free(NULL);
}

int
main(void)
{
	static const int zero = 0, one = 1, sixteen = 16, many = 1000;

	T_RUN("no thread: jobs run at submit", t_jobs, &zero);
	T_RUN("one thread", t_jobs, &one);
	T_RUN("sixteen threads", t_jobs, &sixteen);
	T_RUN("more threads asked than allowed", t_jobs, &many);
	T_RUN("free a pool never used, and NULL", t_free_unused, NULL);
	return T_DONE();
}
