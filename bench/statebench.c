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
 * build/statebench -f [DIR] measures a first fetch instead (5 000 and
 * 100 000 messages into an empty state), as deliver.c's batches of 100
 * do it: the batch's intents journaled and synced, then its records
 * added and synced; a save at the end. It prints the time, the peak
 * RSS and the bytes the process wrote (/proc/self/io wchar: journal
 * and base rewrites together).
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

/* A first fetch of n messages in batches of 100 (deliver_batch's two
 * syncs), then the save. */
static int
do_fetch(struct state *st, size_t n)
{
	struct state_intent in;
	char u[40], name[80];
	size_t i, b;
	int rv = 0;

	memset(&in, 0, sizeof(in));
	in.folder = "-";
	in.sub = "";
	in.uid = u;
	in.name = name;
	for (b = 0; b < n && rv == 0; b += 100) {
		for (i = b; i < n && i < b + 100; i++) {
			uid_of(u, sizeof(u), i, 1);
			snprintf(name, sizeof(name),
			    "1733390000.M%zuP4242Q1.bench,S=8192,W=8300", i);
			rv |= state_intend(st, &in);
		}
		rv |= state_sync(st);
		for (i = b; i < n && i < b + 100; i++) {
			uid_of(u, sizeof(u), i, 1);
			rv |= state_add(st, "-", 0, u, 1733390000);
		}
		rv |= state_sync(st);
	}
	return rv | state_save(st);
}

/* What this process wrote so far (/proc/self/io wchar), 0 unknown. */
static unsigned long long
written(void)
{
	unsigned long long w = 0;
	char line[128];
	FILE *fp = fopen("/proc/self/io", "r");

	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "wchar: %llu", &w) == 1)
			break;
	if (fp != NULL)
		fclose(fp);
	return w;
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
		printf("0 0\n");
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
	} else if (rv == 0 && strcmp(what, "fetch") == 0) {
		rv = do_fetch(st, n);
		t = now_s() - t0;
	}
	if (rv != 0)
		fprintf(stderr, "%s: %s\n", what, state_error(st));
	printf("%.9f %llu\n", t, written());
	state_free(st);
	free(l.u);
	return rv != 0;
}

/* Run this program as a child: its time (stdout) and peak RSS (KB). */
static int
measure(const char *self, const char *what, const char *path, size_t n,
    double *t, long *kb, unsigned long long *wrote)
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
	if (sscanf(out, "%lf %llu", t, wrote) != 2)
		return -1;
	*kb = ru.ru_maxrss;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void
row(const char *self, const char *what, const char *p1, const char *p2,
    size_t n, long base)
{
	const char *which[2] = { "v1", "v2" }, *path[2] = { p1, p2 };
	unsigned long long w;
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
			    || measure(self, what, tmp, n, &t, &kb, &w) == -1) {
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

/* The first fetches: 3 runs each, into a fresh empty state. */
static int
fetch_rows(const char *self, const char *dir, long base)
{
	static const size_t sizes[] = { 5000, 100000 };
	unsigned long long w, maxw;
	char path[300], cmd[700];
	double t, best;
	long kb, maxkb;
	size_t i;
	int rep;

	for (i = 0; i < 2; i++) {
		best = 1e9;
		maxkb = 0;
		maxw = 0;
		snprintf(path, sizeof(path), "%s/fetch%zu", dir, sizes[i]);
		for (rep = 0; rep < 3; rep++) {
			snprintf(cmd, sizeof(cmd), "rm -f %s %s.*", path, path);
			if (system(cmd) != 0
			    || measure(
				   self, "fetch", path, sizes[i], &t, &kb, &w)
				== -1) {
				printf("fetch %7zu  failed\n", sizes[i]);
				return 1;
			}
			if (t < best)
				best = t;
			if (kb > maxkb)
				maxkb = kb;
			if (w > maxw)
				maxw = w;
		}
		printf("fetch %7zu  %10.3f ms  peak RSS %7.1f MB (+%.1f MB)  "
		       "wrote %.1f MB\n",
		    sizes[i], best * 1e3, maxkb / 1024.0,
		    (maxkb - base) / 1024.0, maxw / 1048576.0);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 10000, 100000 };
	char dir[256], v1[300], v2[300], p1[300], p2[300];
	unsigned long long w;
	double t;
	long base, lbase;
	size_t i;
	pid_t pid;
	int status, fetch;

	if (argc == 5 && strcmp(argv[1], "-c") == 0)
		return child(argv[2], argv[3], strtoul(argv[4], NULL, 10));
	fetch = argc > 1 && strcmp(argv[1], "-f") == 0;
	snprintf(dir, sizeof(dir), "%s",
	    argc > 1 + fetch ? argv[1 + fetch] : "/tmp/statebench");
	mkdir(dir, 0700);
	if (measure(argv[0], "empty", "/nonexistent", 1, &t, &base, &w) == -1)
		return 1;
	printf("empty process: peak RSS %.1f MB\n", base / 1024.0);
	if (fetch)
		return fetch_rows(argv[0], dir, base);
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
			&lbase, &w)
		    == -1)
			return 1;
		printf("listing %7zu  peak RSS %.1f MB (the pop3 rows' base)\n",
		    sizes[i], lbase / 1024.0);
		row(argv[0], "pop3", p1, p2, sizes[i], lbase);
	}
	return 0;
}
