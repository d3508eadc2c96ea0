/*
 * Micro-benchmark of the state store (cmd/state.h over cmd/store.c).
 * Not run by make check or make bench; built by hand:
 *
 *	make all
 *	cc -std=c99 -D_DEFAULT_SOURCE -O2 -o build/statebench \
 *	    bench/statebench.c build/libmailfetch.a \
 *	    $(pkg-config --libs libtls inih libcrypto zlib) -lresolv -pthread
 *	build/statebench [DIR]		(10 000 and 100 000 records)
 *
 * For each size it writes an account's state as an older mailfetch
 * (version 1) left it after a mirror (20 folders, IMAP UIDs, file= and
 * flags= on every record: ~94 bytes a line) and after POP3 (one
 * folder), converts a copy to version 2, then runs each measurement on
 * both, each in a process of its own (this program exec'ed again), so
 * that peak RSS (wait4's ru_maxrss) is that of the work alone. The v1
 * rows are the first run after an upgrade (the file read whole and
 * converted: what every run cost before version 2); the v2 rows every
 * run after it:
 *
 *	open	lock and load
 *	lookup	1000 lookups of existing records after the open, per lookup
 *	resync	a mirror resync of 15 changes: open, 10 set_local + 5
 *		forget in 10 folders, a sync per folder, modseq set for 10
 *		folders, save; total
 *	pop3	a POP3 poll over one folder holding every record, listed in
 *		an order of its own: open, state_look_mark_all (run.c's
 *		look_up), prune, save; total
 *
 * Each process's peak RSS is printed beside an empty one's (the
 * process itself, no state).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cmd/state.h"

#define NFOLDERS 20

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
folder_name(char *buf, size_t len, size_t i, int pop3)
{
	if (pop3)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "f%02zu", i + 1);
}

static void
uid_of(char *buf, size_t len, size_t i, int pop3)
{
	if (pop3)
		snprintf(
		    buf, len, "%08zx%08zx", i * 2654435761u % 0xffffffff, i);
	else
		snprintf(buf, len, "%zu", i / NFOLDERS + 1);
}

/* Write the version 1 state of n records, as an older mailfetch left
 * it (one file, folders first, records in any order). */
static int
gen(const char *path, size_t n, int pop3)
{
	FILE *fp = fopen(path, "w");
	char f[16], u[40];
	size_t i;

	if (fp == NULL)
		return -1;
	fprintf(fp, "mailfetch-state 1\nG\t1\n");
	for (i = 0; i < (pop3 ? 1 : NFOLDERS); i++) {
		folder_name(f, sizeof(f), i, pop3);
		if (pop3)
			fprintf(fp, "F\t-\t0\t%zu\n", n + 1);
		else
			fprintf(fp, "F\t%s\t17\t%zu\t1000\n", f, n + 1);
	}
	for (i = 0; i < n; i++) {
		folder_name(f, sizeof(f), i % NFOLDERS, pop3);
		uid_of(u, sizeof(u), i, pop3);
		fprintf(fp, "M\t%s\t%d\t%zu\t%s", f, pop3 ? 0 : 17,
		    (size_t)1733390000 + i, u);
		if (!pop3)
			fprintf(fp,
			    "\tfile=.%s/1733390000.M%zuP4242Q1.bench,S=8192,"
			    "W=8300:2,S\tflags=S",
			    f, i);
		fputc('\n', fp);
	}
	return fclose(fp) == 0 ? 0 : -1;
}

/* Convert a copy to version 2: what the first run does. */
static int
convert(const char *from, const char *to)
{
	char cmd[1024];
	struct state *st;
	int rv;

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	if (system(cmd) != 0)
		return -1;
	st = state_new(to);
	rv = state_lock(st) == -1 || state_load(st, 0) == -1
		|| state_save(st) == -1
	    ? -1
	    : 0;
	if (rv == -1)
		fprintf(stderr, "convert: %s\n", state_error(st));
	state_free(st);
	return rv;
}

/* The measurements, in this process. Prints seconds. */

static int
open_state(const char *path, struct state **st)
{
	*st = state_new(path);
	return state_lock(*st) == -1 || state_load(*st, 0) == -1 ? -1 : 0;
}

static double
do_lookups(struct state *st, size_t n, int pop3)
{
	char f[16], u[40];
	double t0 = now_s();
	size_t i, k, miss = 0;

	for (k = 0; k < 1000; k++) {
		i = (k * 7919) % n;
		folder_name(f, sizeof(f), i % NFOLDERS, pop3);
		uid_of(u, sizeof(u), i, pop3);
		if (state_lookup(st, f, 17, u) == 0)
			miss++;
	}
	if (miss != 0)
		fprintf(stderr, "lookup: %zu missed\n", miss);
	return (now_s() - t0) / 1000;
}

static int
do_resync(struct state *st, size_t n)
{
	char f[16], u[40], file[80];
	size_t c, i;
	int rv = 0;

	for (c = 0; c < 15; c++) {
		i = (c * 104729 + 7) % n;
		folder_name(f, sizeof(f), i % NFOLDERS, 0);
		uid_of(u, sizeof(u), i, 0);
		snprintf(file, sizeof(file), ".%s/changed%zu:2,FS", f, c);
		if (c < 10)
			rv |= state_set_local(st, f, 17, u, file, "FS");
		else
			rv |= state_forget(st, f, 17, u);
		rv |= state_sync(st);
		state_set_modseq(st, f, 17, 2000 + c);
	}
	return rv | state_save(st);
}

/* The POP3 listing, as proto/ holds it (here 20 bytes a UID, made
 * before the clock starts; its RSS is the "listing" row's): UIDL order
 * is the server's, not the state's. */
struct listing {
	size_t n, miss;
	char (*u)[20];
};

static void
make_listing(struct listing *l, size_t n)
{
	size_t i;

	l->n = n;
	l->miss = 0;
	l->u = calloc(n, sizeof(*l->u));
	/* n is prime to 7919: every record once. */
	for (i = 0; l->u != NULL && i < n; i++)
		uid_of(l->u[i], sizeof(l->u[i]), (i * 7919) % n, 1);
}

static const char *
listed(size_t i, void *arg)
{
	struct listing *l = arg;

	return l->u[i];
}

static void
answered(size_t i, const struct state_look *lk, void *arg)
{
	struct listing *l = arg;

	(void)i;
	l->miss += lk->when == 0;
}

static int
do_pop3(struct state *st, struct listing *l)
{
	/* As run.c's look_up. */
	state_look_mark_all(st, "-", 0, l->n, listed, answered, l);
	if (l->miss != 0)
		fprintf(stderr, "pop3: %zu missed\n", l->miss);
	state_prune(st, "-", 1800000000);
	return state_save(st);
}

static int
child(const char *what, const char *path, size_t n)
{
	struct state *st = NULL;
	struct listing l = { 0, 0, NULL };
	double t0, t;
	int rv;

	if (strcmp(what, "pop3") == 0 || strcmp(what, "listing") == 0)
		make_listing(&l, n);
	if (strcmp(what, "empty") == 0 || strcmp(what, "listing") == 0) {
		printf("0\n");
		return 0;
	}
	t0 = now_s();
	rv = open_state(path, &st);
	t = now_s() - t0;
	if (rv == 0 && strcmp(what, "lookup") == 0)
		t = do_lookups(st, n, 0);
	else if (rv == 0 && strcmp(what, "resync") == 0) {
		rv = do_resync(st, n);
		t = now_s() - t0;
	} else if (rv == 0 && strcmp(what, "pop3") == 0) {
		rv = do_pop3(st, &l);
		t = now_s() - t0;
	}
	if (rv != 0)
		fprintf(stderr, "%s: %s\n", what, state_error(st));
	printf("%.9f\n", t);
	state_free(st);
	free(l.u);
	return rv != 0;
}

/* Run this program as a child: its time (stdout) and peak RSS (KB). */
static int
measure(const char *self, const char *what, const char *path, size_t n,
    double *t, long *kb)
{
	char nbuf[32], out[64];
	struct rusage ru;
	int fds[2], status;
	ssize_t r;
	pid_t pid;

	snprintf(nbuf, sizeof(nbuf), "%zu", n);
	if (pipe(fds) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(self, self, "-c", what, path, nbuf, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	r = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) == -1 || r <= 0)
		return -1;
	out[r] = '\0';
	*t = atof(out);
	*kb = ru.ru_maxrss;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void
row(const char *self, const char *what, const char *p1, const char *p2,
    size_t n, long base)
{
	const char *which[2] = { "v1", "v2" }, *path[2] = { p1, p2 };
	double t, best;
	long kb, maxkb;
	int k, rep;

	for (k = 0; k < 2; k++) {
		best = 1e9;
		maxkb = 0;
		for (rep = 0; rep < 3; rep++) {
			/* Each rep on a fresh copy: resync and pop3 write. */
			char cmd[1024], tmp[600];

			snprintf(tmp, sizeof(tmp), "%s.run", path[k]);
			snprintf(cmd, sizeof(cmd), "rm -f %s.run*; cp %s %s",
			    path[k], path[k], tmp);
			if (system(cmd) != 0
			    || measure(self, what, tmp, n, &t, &kb) == -1) {
				printf("%-7s %-3s %7zu  failed\n", what,
				    which[k], n);
				return;
			}
			if (t < best)
				best = t;
			if (kb > maxkb)
				maxkb = kb;
		}
		printf(
		    "%-7s %-3s %7zu  %10.3f ms  peak RSS %7.1f MB (+%.1f MB)\n",
		    what, which[k], n,
		    strcmp(what, "lookup") == 0 ? best * 1e6 / 1e3 : best * 1e3,
		    maxkb / 1024.0, (maxkb - base) / 1024.0);
	}
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 10000, 100000 };
	char dir[256], v1[300], v2[300], p1[300], p2[300];
	double t;
	long base, lbase;
	size_t i;
	pid_t pid;
	int status;

	if (argc == 5 && strcmp(argv[1], "-c") == 0)
		return child(argv[2], argv[3], strtoul(argv[4], NULL, 10));
	snprintf(
	    dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "/tmp/statebench");
	mkdir(dir, 0700);
	if (measure(argv[0], "empty", "/nonexistent", 1, &t, &base) == -1)
		return 1;
	printf("empty process: peak RSS %.1f MB\n", base / 1024.0);
	printf("(lookup: us per lookup; others: ms in all, best of 3)\n");
	for (i = 0; i < 2; i++) {
		snprintf(v1, sizeof(v1), "%s/mirror%zu.v1", dir, sizes[i]);
		snprintf(v2, sizeof(v2), "%s/mirror%zu.v2", dir, sizes[i]);
		snprintf(p1, sizeof(p1), "%s/pop%zu.v1", dir, sizes[i]);
		snprintf(p2, sizeof(p2), "%s/pop%zu.v2", dir, sizes[i]);
		/* In a child: its heap would count in the measured ones'
		 * peak RSS, which Linux keeps across fork and exec. */
		if ((pid = fork()) == 0)
			_exit(gen(v1, sizes[i], 0) == -1
			    || convert(v1, v2) == -1
			    || gen(p1, sizes[i], 1) == -1
			    || convert(p1, p2) == -1);
		if (pid == -1 || waitpid(pid, &status, 0) == -1
		    || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return 1;
		row(argv[0], "open", v1, v2, sizes[i], base);
		row(argv[0], "lookup", v1, v2, sizes[i], base);
		row(argv[0], "resync", v1, v2, sizes[i], base);
		if (measure(argv[0], "listing", "/nonexistent", sizes[i], &t,
			&lbase)
		    == -1)
			return 1;
		printf("listing %7zu  peak RSS %.1f MB (the pop3 rows' base)\n",
		    sizes[i], lbase / 1024.0);
		row(argv[0], "pop3", p1, p2, sizes[i], lbase);
	}
	return 0;
}
