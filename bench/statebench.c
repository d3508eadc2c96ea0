/*
 * Micro-benchmark of the state store: cmd/state.c (version 1, loaded
 * whole) against cmd/store.c (version 2, sorted and mapped). Not run by
 * make check or make bench; built by hand:
 *
 *	make all
 *	cc -std=c99 -D_DEFAULT_SOURCE -O2 -o build/statebench \
 *	    bench/statebench.c build/libmailfetch.a \
 *	    $(pkg-config --libs libtls inih libcrypto zlib) -lresolv -pthread
 *	build/statebench [DIR]		(10 000 and 100 000 records)
 *
 * For each size it writes an account's state as a mirror leaves it
 * (20 folders, IMAP UIDs, file= and flags= on every record: ~94 bytes
 * a line) with cmd/state.c, converts a copy to version 2 with the
 * store, then runs each measurement in a process of its own (this
 * program exec'ed again), so that peak RSS (wait4's ru_maxrss) is that
 * of the work alone:
 *
 *	open	lock and load (old) / map and read the header (new)
 *	lookup	1000 lookups of existing records after the open, per lookup
 *	resync	a mirror resync of 15 changes: open, 10 set_local + 5
 *		forget in 10 folders, a sync per folder, modseq set for 10
 *		folders, save; total
 *	pop3	a POP3 poll over one folder holding every record: open,
 *		for each what run.c's look_up asks (old: lookup, short,
 *		grew, mark; new: store_look_mark), prune, save; total
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
#include "../cmd/store.h"

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

/* Write the version 1 state of n records with cmd/state.c. */
static int
gen(const char *path, size_t n, int pop3)
{
	struct state *st = state_new(path);
	char f[16], u[40], file[128];
	size_t i;

	if (state_lock(st) == -1 || state_load(st, 0) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		folder_name(f, sizeof(f), i % NFOLDERS, pop3);
		uid_of(u, sizeof(u), i, pop3);
		snprintf(file, sizeof(file),
		    ".%s/1733390000.M%zuP4242Q1.bench,S=8192,W=8300:2,S", f, i);
		if (state_add(st, f, pop3 ? 0 : 17, u, 1733390000 + i) == -1
		    || (!pop3
			&& state_set_local(st, f, 17, u, file, "S") == -1))
			goto fail;
	}
	for (i = 0; i < (pop3 ? 1 : NFOLDERS); i++) {
		folder_name(f, sizeof(f), i, pop3);
		state_set_uidnext(st, f, pop3 ? 0 : 17, (uint32_t)(n + 1));
		if (!pop3)
			state_set_modseq(st, f, 17, 1000);
	}
	if (state_sync(st) == -1 || state_save(st) == -1)
		goto fail;
	state_free(st);
	return 0;
fail:
	fprintf(stderr, "gen: %s\n", state_error(st));
	state_free(st);
	return -1;
}

/* Convert a copy to version 2 with the store. */
static int
convert(const char *from, const char *to)
{
	char cmd[1024];
	struct store *s;
	int rv;

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	if (system(cmd) != 0)
		return -1;
	s = store_new(to);
	rv = store_lock(s) == -1 || store_open(s, 0) == -1
		|| store_save(s) == -1
	    ? -1
	    : 0;
	if (rv == -1)
		fprintf(stderr, "convert: %s\n", store_error(s));
	store_free(s);
	return rv;
}

/* The measurements, in this process. Prints seconds. */

static int
open_old(const char *path, struct state **st)
{
	*st = state_new(path);
	return state_lock(*st) == -1 || state_load(*st, 0) == -1 ? -1 : 0;
}

static int
open_new(const char *path, struct store **s)
{
	*s = store_new(path);
	return store_lock(*s) == -1 || store_open(*s, 0) == -1 ? -1 : 0;
}

static double
do_lookups(struct state *st, struct store *s, size_t n, int pop3)
{
	char f[16], u[40];
	double t0 = now_s();
	size_t i, k, miss = 0;

	for (k = 0; k < 1000; k++) {
		i = (k * 7919) % n;
		folder_name(f, sizeof(f), i % NFOLDERS, pop3);
		uid_of(u, sizeof(u), i, pop3);
		if ((st ? state_lookup(st, f, 17, u)
			: store_lookup(s, f, 17, u))
		    == 0)
			miss++;
	}
	if (miss != 0)
		fprintf(stderr, "lookup: %zu missed\n", miss);
	return (now_s() - t0) / 1000;
}

static int
do_resync(struct state *st, struct store *s, size_t n)
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
			rv |= st ? state_set_local(st, f, 17, u, file, "FS")
				 : store_set_local(s, f, 17, u, file, "FS");
		else
			rv |= st ? state_forget(st, f, 17, u)
				 : store_forget(s, f, 17, u);
		rv |= st ? state_sync(st) : store_sync(s);
		if (st)
			state_set_modseq(st, f, 17, 2000 + c);
		else
			store_set_modseq(s, f, 17, 2000 + c);
	}
	return rv | (st ? state_save(st) : store_save(s));
}

static int
do_pop3(struct state *st, struct store *s, size_t n)
{
	uint64_t an, re, gr;
	char u[40];
	size_t i, miss = 0;

	for (i = 0; i < n; i++) {
		uid_of(u, sizeof(u), i, 1);
		/* As run.c's look_up: four calls on the old store, one
		 * on the new. */
		if (st) {
			miss += state_lookup(st, "-", 0, u) == 0;
			state_short(st, "-", 0, u, &an, &re);
			state_grew(st, "-", 0, u, &gr);
			state_mark(st, "-", 0, u);
		} else
			miss += store_look_mark(s, "-", 0, u, &an, &re, &gr)
			    == 0;
	}
	if (miss != 0)
		fprintf(stderr, "pop3: %zu missed\n", miss);
	if (st) {
		state_prune(st, "-", 1800000000);
		return state_save(st);
	}
	store_prune(s, "-", 1800000000);
	return store_save(s);
}

static int
child(const char *what, const char *which, const char *path, size_t n)
{
	struct state *st = NULL;
	struct store *s = NULL;
	int old = strcmp(which, "old") == 0, rv;
	double t0 = now_s(), t;

	if (strcmp(what, "empty") == 0) {
		printf("0\n");
		return 0;
	}
	rv = old ? open_old(path, &st) : open_new(path, &s);
	t = now_s() - t0;
	if (rv == 0 && strcmp(what, "lookup") == 0)
		t = do_lookups(st, s, n, 0);
	else if (rv == 0 && strcmp(what, "resync") == 0) {
		rv = do_resync(st, s, n);
		t = now_s() - t0;
	} else if (rv == 0 && strcmp(what, "pop3") == 0) {
		rv = do_pop3(st, s, n);
		t = now_s() - t0;
	}
	if (rv != 0)
		fprintf(stderr, "%s %s: %s\n", what, which,
		    old ? state_error(st) : store_error(s));
	printf("%.9f\n", t);
	state_free(st);
	store_free(s);
	return rv != 0;
}

/* Run this program as a child: its time (stdout) and peak RSS (KB). */
static int
measure(const char *self, const char *what, const char *which, const char *path,
    size_t n, double *t, long *kb)
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
		execl(self, self, "-c", what, which, path, nbuf, (char *)NULL);
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
	const char *which[2] = { "old", "new" }, *path[2] = { p1, p2 };
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
			    || measure(self, what, which[k], tmp, n, &t, &kb)
				== -1) {
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
	long base;
	size_t i;
	pid_t pid;
	int status;

	if (argc == 6 && strcmp(argv[1], "-c") == 0)
		return child(
		    argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 10));
	snprintf(
	    dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "/tmp/statebench");
	mkdir(dir, 0700);
	if (measure(argv[0], "empty", "old", "/nonexistent", 1, &t, &base)
	    == -1)
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
		row(argv[0], "pop3", p1, p2, sizes[i], base);
	}
	return 0;
}
