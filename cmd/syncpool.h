/*
 * A few threads that fdatasync files, so that the files of a batch
 * become durable together, and while the next messages still arrive,
 * rather than one after the other between network reads. Concurrent
 * syncs on one filesystem share its device cache flushes; in a row,
 * each pays for its own.
 *
 * The caller owns each job; the pool borrows it from syncpool_submit
 * until syncpool_wait has returned for it. The job's fd passes to the
 * pool, which closes it after the sync: a batch waiting for a slow disk
 * holds no more descriptors than it has syncs still to run. Jobs run in
 * no particular order. Only the calling thread submits and waits.
 */
#ifndef SYNCPOOL_H
#define SYNCPOOL_H

struct syncpool;

struct syncjob {
	int fd; /* set by the caller; closed by the pool */
	int err; /* 0, or the errno of fdatasync or else of close: valid
		  * after syncpool_wait */
	int done; /* the pool's: the sync has run */
	struct syncjob *next; /* the pool's: queue link */
};

/* A pool of up to nthreads threads, started on the first submit. Never
 * NULL. */
struct syncpool *syncpool_new(int nthreads);

/* Queue fdatasync(j->fd) and close(j->fd). When no thread can be
 * started, they run here, at once. */
void syncpool_submit(struct syncpool *, struct syncjob *j);

/* Wait for j to have run; returns 0, or -1 with errno set to j->err. */
int syncpool_wait(struct syncpool *, struct syncjob *j);

/* Stop and join the threads (after the queue is empty) and free.
 * Accepts NULL. */
void syncpool_free(struct syncpool *);

#endif
