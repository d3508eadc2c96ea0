/*
 * Small helpers shared by every layer. See util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void
oom(void)
{
	fputs("mailfetch: out of memory\n", stderr);
	exit(70);
}

void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		oom();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom();
	if ((p = realloc(p, n * size > 0 ? n * size : 1)) == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		oom();
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	*ret = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(*ret, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return n;
}

size_t
xstrlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void
freezero_str(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

int
write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fsync_parent(const char *path)
{
	const char *s = strrchr(path, '/');
	char *dir;
	int fd, e;

	if (s == NULL)
		dir = xstrdup(".");
	else if (s == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(s - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd == -1)
		return -1;
	if (fsync(fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Blocks of 64 KB: a 20 000-message listing takes about ten. */
#define STRPOOL_BLOCK (64 * 1024)

char *
strpool_add(struct strpool *p, const char *s)
{
	size_t n = strlen(s) + 1, sz;
	char *d;

	if (n > p->left) {
		sz = n > STRPOOL_BLOCK ? n : STRPOOL_BLOCK;
		p->blocks = xreallocarray(
		    p->blocks, p->nblocks + 1, sizeof(*p->blocks));
		p->blocks[p->nblocks++] = p->cur = xmalloc(sz);
		p->left = sz;
	}
	d = p->cur;
	memcpy(d, s, n);
	p->cur += n;
	p->left -= n;
	return d;
}

void
strpool_free(struct strpool *p)
{
	size_t i;

	for (i = 0; i < p->nblocks; i++)
		free(p->blocks[i]);
	free(p->blocks);
	p->cur = NULL;
	p->left = 0;
	p->blocks = NULL;
	p->nblocks = 0;
}
