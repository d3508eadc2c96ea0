/*
 * A minimal table-friendly unit test harness. Each test program runs
 * named cases with T_RUN; a case fails when any CHECK in it fails. The
 * program prints "ok NAME" or "FAIL NAME" per case and ends with
 * "N passed, M failed", exiting 1 when any case failed.
 */
#ifndef T_H
#define T_H

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int t_case_failed, t_passed, t_failed;

/* rm -r, for a test's own directory. */
static inline void
t_rmtree(const char *path)
{
	struct dirent *de;
	struct stat sb;
	char sub[4096];
	DIR *d;

	if (lstat(path, &sb) == -1)
		return;
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0
			    || strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(
				sub, sizeof(sub), "%s/%s", path, de->d_name)
			    < (int)sizeof(sub))
				t_rmtree(sub);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
			    __LINE__, #cond);                                  \
			t_case_failed = 1;                                     \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *t_a = (a), *t_b = (b);                             \
		if (t_a == NULL || t_b == NULL || strcmp(t_a, t_b)) {          \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, \
			    __LINE__, t_a ? t_a : "(null)",                    \
			    t_b ? t_b : "(null)");                             \
			t_case_failed = 1;                                     \
		}                                                              \
	} while (0)

/* Run one named case: fn(arg). */
#define T_RUN(name, fn, arg)                                                   \
	do {                                                                   \
		t_case_failed = 0;                                             \
		fn(arg);                                                       \
		if (t_case_failed) {                                           \
			printf("FAIL %s\n", (name));                           \
			t_failed++;                                            \
		} else {                                                       \
			printf("ok %s\n", (name));                             \
			t_passed++;                                            \
		}                                                              \
	} while (0)

#define T_DONE()                                                               \
	(printf("%d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
