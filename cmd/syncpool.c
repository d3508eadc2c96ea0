/*
 * The sync threads. See syncpool.h.
 *
 * One mutex guards the queue and every job's done flag; a worker takes
 * the oldest job, syncs it without the lock, and wakes the waiters.
 * Threads start one per submit while fewer than the maximum exist and
 * more jobs wait than threads are idle, so a folder with one new
 * message starts one thread, not all of them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../tls/util.h"
#include "syncpool.h"

/* fdatasync, then close (which can report a delayed write error, on
 * NFS); the first error. */
static int
sync_close(int fd)
{
	int e = fdatasync(fd) == -1 ? errno : 0;

	if (close(fd) == -1 && e == 0)
		e = errno;
	return e;
}

#define SYNCPOOL_MAXTHREADS 64

struct syncpool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job has run */
	struct syncjob *head, *tail;
	size_t queued; /* jobs in the queue */
	int nthreads, maxthreads, idle;
	int stop;
	pthread_t tid[SYNCPOOL_MAXTHREADS];
};

static void *
worker(void *arg)
{
	struct syncpool *p = arg;
	struct syncjob *j;
	int e;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == NULL && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->mu);
			p->idle--;
		}
		if ((j = p->head) == NULL)
			break; /* stop, and nothing left */
		if ((p->head = j->next) == NULL)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		e = sync_close(j->fd);
		pthread_mutex_lock(&p->mu);
		j->err = e;
		j->done = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct syncpool *
syncpool_new(int nthreads)
{
	struct syncpool *p = xcalloc(1, sizeof(*p));

	if (nthreads > SYNCPOOL_MAXTHREADS)
		nthreads = SYNCPOOL_MAXTHREADS;
	p->maxthreads = nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	return p;
}

void
syncpool_submit(struct syncpool *p, struct syncjob *j)
{
	j->done = 0;
	j->err = 0;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if ((size_t)p->idle <= p->queued && p->nthreads < p->maxthreads
	    && pthread_create(&p->tid[p->nthreads], NULL, worker, p) == 0)
		p->nthreads++;
	if (p->nthreads == 0) {
		/* No thread: do it here. */
		pthread_mutex_unlock(&p->mu);
		j->err = sync_close(j->fd);
		j->done = 1;
		return;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

int
syncpool_wait(struct syncpool *p, struct syncjob *j)
{
	pthread_mutex_lock(&p->mu);
	while (!j->done)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (j->err != 0) {
		errno = j->err;
		return -1;
	}
	return 0;
}

void
syncpool_free(struct syncpool *p)
{
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
