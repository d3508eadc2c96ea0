/*
 * Unit tests for tls/conn.c. Each case starts its own server on 127.0.0.1
 * with an ephemeral port, in a forked child that accepts one connection
 * and plays a script. The TLS cases use a throwaway CA and server
 * certificate made with the openssl command at the start, and a libtls
 * server in the child (so this test, unlike the project's code, includes
 * <tls.h>).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>
#include <zlib.h>

#include "t.h"
#include "../../tls/conn.h"
#include "../../tls/util.h"

/* A server's script: runs in the child on the accepted socket. */
typedef int (*serve_fn)(int fd, const void *arg);

struct server {
	pid_t pid;
	int port;
	char portstr[16];
};

/* Paths made by make_certs. */
static struct {
	char dir[64];
	char ca[128];
	char other[128];
	char cert[128];
	char key[128];
	char fp[128]; /* "SHA256:AB:CD:..." as openssl prints it */
} certs;

static void
msleep(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Byte i of every test payload: all 251 byte values, CR and LF too. */
static char
pat(uint64_t i)
{
	return (char)(unsigned char)(i % 251);
}

static char *
payload(size_t n)
{
	char *p = xmalloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(i);
	return p;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_str(int fd, const char *s)
{
	return write_all(fd, s, strlen(s));
}

/* Read until the client closes. */
static void
drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Read one line of at most size-1 bytes into buf, byte by byte. */
static int
read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char ch;

	while (n + 1 < size) {
		if (read(fd, &ch, 1) != 1)
			return -1;
		buf[n++] = ch;
		if (ch == '\n')
			break;
	}
	buf[n] = '\0';
	return 0;
}

static int
listen_any(int backlog, int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1
	    || listen(fd, backlog) == -1
	    || getsockname(fd, (struct sockaddr *)&sin, &sl) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * Fork a server that accepts one connection and runs fn on it; rcvbuf,
 * when not 0, is the size of its socket's receive buffer.
 */
static int
server_start_buf(struct server *sv, serve_fn fn, const void *arg, int rcvbuf)
{
	int lfd, cfd, on = 1;

	memset(sv, 0, sizeof(*sv));
	sv->pid = -1;
	if ((lfd = listen_any(4, &sv->port)) == -1)
		return -1;
	if (rcvbuf != 0)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	snprintf(sv->portstr, sizeof(sv->portstr), "%d", sv->port);
	fflush(stdout);
	fflush(stderr);
	if ((sv->pid = fork()) == -1) {
		close(lfd);
		return -1;
	}
	if (sv->pid == 0) {
		alarm(15);
		signal(SIGPIPE, SIG_IGN);
		if ((cfd = accept(lfd, NULL, NULL)) == -1)
			_exit(99);
		close(lfd);
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		_exit(fn(cfd, arg));
	}
	close(lfd);
	return 0;
}

static int
server_start(struct server *sv, serve_fn fn, const void *arg)
{
	return server_start_buf(sv, fn, arg, 0);
}

/* Wait (at most 5 s) for the server; its exit status, or -1. */
static int
server_wait(struct server *sv)
{
	int64_t end = mono_ms() + 5000;
	int st;
	pid_t r;

	if (sv->pid <= 0)
		return -1;
	while ((r = waitpid(sv->pid, &st, WNOHANG)) == 0 && mono_ms() < end)
		msleep(5);
	if (r == 0) {
		kill(sv->pid, SIGKILL);
		waitpid(sv->pid, &st, 0);
		sv->pid = -1;
		return -1;
	}
	sv->pid = -1;
	return r == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void
server_kill(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGKILL);
		waitpid(sv->pid, NULL, 0);
	}
	sv->pid = -1;
}

/* A connection to the server, or NULL (the case then fails). */
static struct conn *
client(const struct server *sv, int connect_timeout, int timeout)
{
	struct conn *c = conn_new(connect_timeout, timeout);

	if (conn_connect(c, "127.0.0.1", sv->portstr) == -1) {
		fprintf(stderr, "connect: %s\n", conn_error(c));
		conn_free(c);
		return NULL;
	}
	return c;
}

struct sinkst {
	uint64_t got;
	size_t calls;
	size_t maxchunk;
	size_t fail_at; /* return -1 on this call; 0: never */
	int bad; /* a byte differed from pat() */
};

static int
sink_check(void *arg, const char *buf, size_t len)
{
	struct sinkst *s = arg;
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pat(s->got + i))
			s->bad = 1;
	s->got += len;
	s->calls++;
	if (len > s->maxchunk)
		s->maxchunk = len;
	if (s->fail_at != 0 && s->calls >= s->fail_at)
		return -1;
	return 0;
}

/*
 * Lines.
 */

struct line_case {
	const char *name;
	const char *send[6]; /* written one by one, with a pause between */
	size_t max;
	const char *want[6];
	enum conn_err end; /* what the conn_getline after the last gives */
};

static const struct line_case line_cases[] = {
	{ "lines with CRLF", { "one\r\ntwo\r\n" }, 100, { "one", "two" },
	    CONN_ECLOSED },
	{ "lines with LF", { "one\ntwo\n" }, 100, { "one", "two" },
	    CONN_ECLOSED },
	{ "mixed endings", { "a\r\nb\nc\r\n" }, 100, { "a", "b", "c" },
	    CONN_ECLOSED },
	{ "lines split across small writes",
	    { "he", "ll", "o\r", "\nwo", "rld", "\n" }, 100,
	    { "hello", "world" }, CONN_ECLOSED },
	{ "CR inside a line is kept", { "a\rb\r\n" }, 100, { "a\rb" },
	    CONN_ECLOSED },
	{ "empty lines", { "\r\n\n\r\n" }, 100, { "", "", "" }, CONN_ECLOSED },
	{ "EOF in the middle of a line", { "abc\r\ndef" }, 100, { "abc" },
	    CONN_ECLOSED },
	{ "EOF after a CR", { "abc\r" }, 100, { NULL }, CONN_ECLOSED },
	{ "line of exactly max", { "0123456789\r\n" }, 10, { "0123456789" },
	    CONN_ECLOSED },
	{ "line of exactly max, LF only", { "0123456789\n" }, 10,
	    { "0123456789" }, CONN_ECLOSED },
	{ "line of max, CR and LF apart", { "0123456789\r", "\n" }, 10,
	    { "0123456789" }, CONN_ECLOSED },
	{ "line of max+1", { "01234567890\r\n" }, 10, { NULL }, CONN_ETOOLONG },
	{ "line of max+1, LF apart", { "01234567890", "\n" }, 10, { NULL },
	    CONN_ETOOLONG },
	{ "line of max+1 ending in CR", { "0123456789x\r", "\n" }, 10, { NULL },
	    CONN_ETOOLONG },
	{ "long line after short ones", { "ok\r\n0123456789AB\r\n" }, 10,
	    { "ok" }, CONN_ETOOLONG },
};

static int
srv_chunks(int fd, const void *arg)
{
	const struct line_case *lc = arg;
	size_t i;

	for (i = 0; i < 6 && lc->send[i] != NULL; i++) {
		if (i > 0)
			msleep(10);
		if (write_str(fd, lc->send[i]) == -1)
			return 1;
	}
	return 0;
}

/* conn_line_ready: a part of a line, then the rest on request, then
 * the end of the connection. */
static int
srv_ready(int fd, const void *arg)
{
	char buf[16];

	(void)arg;
	if (write_str(fd, "par") == -1 || read_line(fd, buf, sizeof(buf)) == -1
	    || write_str(fd, "tial\r\nnext") == -1
	    || read_line(fd, buf, sizeof(buf)) == -1)
		return 1;
	return 0;
}

static int
wait_readable(struct conn *c)
{
	struct pollfd pfd = { .fd = conn_fd(c), .events = POLLIN };

	return poll(&pfd, 1, 5000) == 1 ? 0 : -1;
}

static void
test_line_ready(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	(void)arg;
	CHECK(server_start(&sv, srv_ready, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_fd(c) >= 0);
	CHECK(conn_keepalive(c, 60) == 0);
	CHECK(wait_readable(c) == 0);
	CHECK(conn_line_ready(c) == 0);
	CHECK(conn_write(c, "1\n", 2) == 0);
	msleep(50);
	CHECK(wait_readable(c) == 0);
	CHECK(conn_line_ready(c) == 1);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "partial");
	CHECK(conn_line_ready(c) == 0);
	CHECK(conn_write(c, "2\n", 2) == 0);
	CHECK(wait_readable(c) == 0);
	msleep(50);
	CHECK(conn_line_ready(c) == -1);
	CHECK(conn_errcode(c) == CONN_ECLOSED);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/* conn_line_ready on a compressed connection (RFC 4978): the server
 * sends two lines deflated, the second after the client writes. */
static int
srv_zready(int fd, const void *arg)
{
	static const char *const text[] = { "hello there\r\nsec", "ond\r\n" };
	unsigned char out[256];
	char buf[16];
	z_stream z;
	int i, rv = 0;

	(void)arg;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
		Z_DEFAULT_STRATEGY)
	    != Z_OK)
		return 1;
	for (i = 0; i < 2 && rv == 0; i++) {
		/* The client's "1" comes compressed: any bytes will do. */
		if (i == 1 && read(fd, buf, sizeof(buf)) <= 0)
			rv = 1;
		z.next_in = (unsigned char *)(uintptr_t)text[i];
		z.avail_in = (uInt)strlen(text[i]);
		z.next_out = out;
		z.avail_out = sizeof(out);
		if (rv == 0
		    && (deflate(&z, Z_SYNC_FLUSH) != Z_OK
			|| write_all(fd, out, sizeof(out) - z.avail_out) == -1))
			rv = 1;
	}
	deflateEnd(&z);
	drain(fd);
	return rv;
}

static void
test_line_ready_compressed(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	(void)arg;
	CHECK(server_start(&sv, srv_zready, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_compress(c) == 0);
	CHECK(wait_readable(c) == 0);
	msleep(50);
	CHECK(conn_line_ready(c) == 1);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "hello there");
	CHECK(conn_line_ready(c) == 0);
	CHECK(conn_write(c, "1\n", 2) == 0);
	CHECK(wait_readable(c) == 0);
	msleep(50);
	CHECK(conn_line_ready(c) == 1);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "second");
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

static void
test_lines(const void *arg)
{
	const struct line_case *lc = arg;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len, i;

	CHECK(server_start(&sv, srv_chunks, lc) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	for (i = 0; i < 6 && lc->want[i] != NULL; i++) {
		if (conn_getline(c, &line, &len, lc->max) == -1) {
			fprintf(stderr, "line %zu: %s\n", i, conn_error(c));
			CHECK(0);
			break;
		}
		CHECK(len == strlen(lc->want[i]));
		CHECK(line[len] == '\0');
		CHECK_STR(line, lc->want[i]);
	}
	CHECK(conn_getline(c, &line, &len, lc->max) == -1);
	CHECK(conn_errcode(c) == lc->end);
	CHECK(strstr(conn_error(c), "127.0.0.1 port") != NULL);
	/* After an error the connection stays failed. */
	CHECK(conn_getline(c, &line, &len, lc->max) == -1);
	CHECK(conn_errcode(c) == lc->end);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

struct longline_case {
	const char *name;
	size_t linelen; /* bytes before the terminator */
	const char *eol; /* NULL: no terminator, just linelen bytes */
	enum conn_err want;
};

static const struct longline_case longline_cases[] = {
	{ "line of CONN_LINE_MAX with CRLF", CONN_LINE_MAX, "\r\n", CONN_OK },
	{ "line of CONN_LINE_MAX with LF", CONN_LINE_MAX, "\n", CONN_OK },
	{ "line of CONN_LINE_MAX+1", CONN_LINE_MAX + 1, "\r\n", CONN_ETOOLONG },
	{ "endless line of 8 MiB", 8 * 1024 * 1024, NULL, CONN_ETOOLONG },
};

static int
srv_longline(int fd, const void *arg)
{
	const struct longline_case *lc = arg;
	char *p = xmalloc(lc->linelen);

	memset(p, 'x', lc->linelen);
	/* The client may stop reading early: write errors are expected. */
	if (write_all(fd, "first\r\n", 7) == 0
	    && write_all(fd, p, lc->linelen) == 0 && lc->eol != NULL)
		write_str(fd, lc->eol);
	write_str(fd, "next\r\n");
	free(p);
	drain(fd);
	return 0;
}

static void
test_longline(const void *arg)
{
	const struct longline_case *lc = arg;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len, i;
	int r;

	CHECK(server_start(&sv, srv_longline, lc) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_getline(c, &line, &len, CONN_LINE_MAX) == 0);
	CHECK_STR(line, "first");
	r = conn_getline(c, &line, &len, CONN_LINE_MAX);
	if (lc->want == CONN_OK) {
		CHECK(r == 0);
		CHECK(len == lc->linelen);
		for (i = 0; r == 0 && i < len; i++)
			if (line[i] != 'x')
				break;
		CHECK(r == 0 && i == len && line[len] == '\0');
		CHECK(conn_getline(c, &line, &len, CONN_LINE_MAX) == 0);
		CHECK_STR(line, "next");
	} else {
		CHECK(r == -1);
		CHECK(conn_errcode(c) == lc->want);
		/* Gave up without reading what the server still sends. */
		CHECK(conn_bytes_in(c) < 512 * 1024);
	}
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/*
 * Bulk access: conn_peek, conn_consume.
 */

static int
srv_peek(int fd, const void *arg)
{
	(void)arg;
	write_str(fd, "abcdef");
	msleep(50);
	write_str(fd, "ghi\r\nrest\r\n");
	return 0;
}

static void
test_peek(const void *arg)
{
	struct server sv;
	struct conn *c;
	const char *b;
	char *line = NULL;
	size_t len;

	(void)arg;
	CHECK(server_start(&sv, srv_peek, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_peek(c, &b, &len) == 0);
	CHECK(len == 6 && memcmp(b, "abcdef", 6) == 0);
	conn_consume(c, 1);
	/* Bytes are buffered: no read, the same bytes less the first. */
	CHECK(conn_peek(c, &b, &len) == 0);
	CHECK(len == 5 && memcmp(b, "bcdef", 5) == 0);
	conn_consume(c, 2);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "defghi");
	CHECK(conn_peek(c, &b, &len) == 0);
	CHECK(len == 6 && memcmp(b, "rest\r\n", 6) == 0);
	conn_consume(c, len);
	CHECK(conn_peek(c, &b, &len) == -1);
	CHECK(conn_errcode(c) == CONN_ECLOSED);
	CHECK(conn_bytes_in(c) == 17);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/*
 * conn_read_to_sink.
 */

struct sink_case {
	const char *name;
	size_t n; /* the literal's size */
	size_t sent; /* what the server sends of it before TAIL or EOF */
	size_t fail_at; /* the sink fails on this call; 0: never */
	enum conn_err want;
};

static const struct sink_case sink_cases[] = {
	{ "literal larger than the buffer", 1000000, 1000000, 0, CONN_OK },
	{ "literal of 0 bytes", 0, 0, 0, CONN_OK },
	{ "literal already buffered", 5, 5, 0, CONN_OK },
	{ "sink fails", 1000000, 1000000, 2, CONN_ESINK },
	{ "EOF inside the literal", 300000, 150000, 0, CONN_ECLOSED },
};

static int
srv_literal(int fd, const void *arg)
{
	const struct sink_case *sc = arg;
	char *p = payload(sc->sent), *msg;
	size_t len;

	/* One buffer, so a small literal arrives with HEAD in one read. */
	len = 6 + sc->sent + 6;
	msg = xmalloc(len);
	memcpy(msg, "HEAD\r\n", 6);
	memcpy(msg + 6, p, sc->sent);
	memcpy(msg + 6 + sc->sent, "TAIL\r\n", 6);
	if (sc->sent < sc->n)
		len -= 6;
	write_all(fd, msg, len);
	free(p);
	free(msg);
	if (sc->sent == sc->n)
		drain(fd);
	return 0;
}

static void
test_sink(const void *arg)
{
	const struct sink_case *sc = arg;
	struct sinkst st;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	memset(&st, 0, sizeof(st));
	st.fail_at = sc->fail_at;
	CHECK(server_start(&sv, srv_literal, sc) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "HEAD");
	if (sc->want == CONN_OK) {
		CHECK(conn_read_to_sink(c, sc->n, sink_check, &st) == 0);
		CHECK(st.got == sc->n);
		CHECK(!st.bad);
		CHECK(sc->n > 0 || st.calls == 0);
		CHECK(st.maxchunk <= 256 * 1024);
		CHECK(conn_getline(c, &line, &len, 100) == 0);
		CHECK_STR(line, "TAIL");
		CHECK(conn_bytes_in(c) == 6 + sc->n + 6);
	} else {
		CHECK(conn_read_to_sink(c, sc->n, sink_check, &st) == -1);
		CHECK(conn_errcode(c) == sc->want);
		CHECK(!st.bad);
		if (sc->want == CONN_ESINK)
			CHECK(st.calls == sc->fail_at);
		else
			CHECK(st.got == sc->sent);
	}
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/*
 * Timeouts, writes, connecting.
 */

static int
srv_silent(int fd, const void *arg)
{
	(void)arg;
	drain(fd);
	return 0;
}

static void
test_read_timeout(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;
	int64_t t0, dt;

	(void)arg;
	CHECK(server_start(&sv, srv_silent, NULL) == 0);
	if ((c = client(&sv, 5, 1)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	t0 = mono_ms();
	CHECK(conn_getline(c, &line, &len, 100) == -1);
	dt = mono_ms() - t0;
	CHECK(conn_errcode(c) == CONN_ETIMEOUT);
	CHECK(dt >= 900 && dt < 2000);
	CHECK(
	    strstr(conn_error(c), "no data from server for 1 second") != NULL);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/* Send s one byte every 300 ms; stop when the client has gone. */
static int
drip(int fd, const char *s)
{
	for (; *s != '\0'; s++) {
		msleep(300);
		if (write(fd, s, 1) != 1)
			return -1;
	}
	return 0;
}

static int
srv_drip(int fd, const void *arg)
{
	(void)arg;
	if (drip(fd, "abcde\n") == -1)
		return 1;
	(void)drip(fd, "a line that never ends in time\n");
	return 0;
}

/*
 * A reply armed with conn_reply_begin ends at the timeout however its
 * bytes trickle in; without it (conn_reply_end: message bodies) only
 * inactivity counts.
 */
static void
test_reply_deadline(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;
	int64_t t0, dt;

	(void)arg;
	CHECK(server_start(&sv, srv_drip, NULL) == 0);
	if ((c = client(&sv, 5, 1)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	conn_reply_begin(c);
	conn_reply_end(c);
	t0 = mono_ms();
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK(mono_ms() - t0 >= 1500);
	CHECK(line != NULL && strcmp(line, "abcde") == 0);
	conn_reply_begin(c);
	t0 = mono_ms();
	CHECK(conn_getline(c, &line, &len, 100) == -1);
	dt = mono_ms() - t0;
	CHECK(conn_errcode(c) == CONN_ETIMEOUT);
	CHECK(dt >= 900 && dt < 2000);
	CHECK(
	    strstr(conn_error(c), "did not complete its reply within 1 second")
	    != NULL);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

#define WRITE_N (4 * 1024 * 1024)

/* Read WRITE_N bytes, check them, answer with a line. */
static int
srv_count(int fd, const void *arg)
{
	char buf[65536];
	size_t got = 0, i;
	ssize_t n;
	int bad = 0;

	(void)arg;
	while (got < WRITE_N && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pat(got + i))
				bad = 1;
		got += (size_t)n;
	}
	write_str(fd, got == WRITE_N && !bad ? "OK\r\n" : "BAD\r\n");
	drain(fd);
	return got == WRITE_N && !bad ? 0 : 1;
}

static void
test_write(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *p, *line = NULL;
	size_t len;

	(void)arg;
	CHECK(server_start(&sv, srv_count, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	p = payload(WRITE_N);
	CHECK(conn_write(c, p, WRITE_N) == 0);
	CHECK(conn_bytes_out(c) == WRITE_N);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "OK");
	free(p);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

static int
srv_close(int fd, const void *arg)
{
	(void)arg;
	close(fd);
	return 0;
}

/* With SIGPIPE at its default, a write to a closed peer is ECLOSED. */
static void
test_write_closed(const void *arg)
{
	struct server sv;
	struct conn *c;
	char buf[1000];
	int i, r = 0;

	(void)arg;
	signal(SIGPIPE, SIG_DFL);
	memset(buf, 'x', sizeof(buf));
	CHECK(server_start(&sv, srv_close, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		signal(SIGPIPE, SIG_IGN);
		return;
	}
	CHECK(server_wait(&sv) == 0);
	msleep(20);
	for (i = 0; i < 100 && (r = conn_write(c, buf, sizeof(buf))) == 0; i++)
		msleep(5);
	CHECK(r == -1);
	CHECK(conn_errcode(c) == CONN_ECLOSED);
	conn_free(c);
	signal(SIGPIPE, SIG_IGN);
}

static int
srv_stall(int fd, const void *arg)
{
	(void)fd;
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void
test_write_timeout(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *p;
	int64_t t0 = 0, dt;
	int i, r = 0;

	(void)arg;
	CHECK(server_start(&sv, srv_stall, NULL) == 0);
	if ((c = client(&sv, 5, 1)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	p = xcalloc(1, 1024 * 1024);
	for (i = 0; i < 256; i++) {
		t0 = mono_ms();
		if ((r = conn_write(c, p, 1024 * 1024)) == -1)
			break;
	}
	dt = mono_ms() - t0;
	CHECK(r == -1);
	CHECK(conn_errcode(c) == CONN_ETIMEOUT);
	CHECK(dt >= 900 && dt < 2000);
	free(p);
	conn_free(c);
	server_kill(&sv);
}

#define SLOW_N (16 * 1024 * 1024)

/* Take SLOW_N bytes in bursts of 1 MiB, pausing 150 ms after each. */
static int
srv_slow(int fd, const void *arg)
{
	char buf[65536];
	size_t got = 0, burst;
	ssize_t n;

	(void)arg;
	while (got < SLOW_N) {
		for (burst = 0; burst < 1024 * 1024 && got < SLOW_N;) {
			if ((n = read(fd, buf, sizeof(buf))) <= 0)
				return 1;
			burst += (size_t)n;
			got += (size_t)n;
		}
		msleep(150);
	}
	write_str(fd, "OK\r\n");
	drain(fd);
	return 0;
}

/*
 * The timeout is for inactivity: a write that makes progress may take
 * longer in all than the timeout.
 */
static void
test_write_slow(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *p, *line = NULL;
	size_t len;
	int64_t t0, dt;

	(void)arg;
	CHECK(server_start_buf(&sv, srv_slow, NULL, 64 * 1024) == 0);
	if ((c = client(&sv, 5, 1)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	p = xcalloc(1, SLOW_N);
	t0 = mono_ms();
	CHECK(conn_write(c, p, SLOW_N) == 0);
	dt = mono_ms() - t0;
	CHECK(dt > 1300);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "OK");
	free(p);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

static void
test_refused(const void *arg)
{
	struct conn *c;
	char want[128], port[16];
	int fd, p;

	(void)arg;
	/* A port that was free a moment ago, with no listener now. */
	CHECK((fd = listen_any(1, &p)) != -1);
	close(fd);
	snprintf(port, sizeof(port), "%d", p);
	snprintf(want, sizeof(want),
	    "connect to 127.0.0.1 port %d: Connection refused", p);
	c = conn_new(5, 5);
	CHECK(conn_connect(c, "127.0.0.1", port) == -1);
	CHECK(conn_errcode(c) == CONN_EREFUSED);
	CHECK_STR(conn_error(c), want);
	conn_free(c);
}

/*
 * A label longer than 63 bytes cannot be put in a DNS query (RFC 1035
 * section 2.3.4), so the resolver fails at once, without the network.
 */
static void
test_resolve(const void *arg)
{
	struct conn *c;
	char host[128];
	int64_t t0;

	(void)arg;
	memset(host, 'a', 70);
	memcpy(host + 70, ".invalid", 9);
	c = conn_new(5, 5);
	t0 = mono_ms();
	CHECK(conn_connect(c, host, "110") == -1);
	CHECK(mono_ms() - t0 < 2000);
	CHECK(conn_errcode(c) == CONN_ERESOLVE);
	CHECK(strncmp(conn_error(c), "cannot resolve host name aaaa", 29) == 0);
	conn_free(c);
}

static int
srv_hello(int fd, const void *arg)
{
	(void)arg;
	write_str(fd, "hello\r\n");
	drain(fd);
	return 0;
}

static void
test_by_name(const void *arg)
{
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	(void)arg;
	CHECK(server_start(&sv, srv_hello, NULL) == 0);
	c = conn_new(5, 5);
	CHECK(conn_connect(c, "localhost", sv.portstr) == 0);
	CHECK(conn_is_tls(c) == 0);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "hello");
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/*
 * A listener whose queue is full and that never accepts: Linux then drops
 * further SYNs, so a connect hangs until the connect timeout.
 */
static void
test_connect_timeout(const void *arg)
{
	struct sockaddr_in sin;
	struct conn *c;
	char port[16];
	int lfd, fill[8], i, p;
	int64_t t0, dt;

	(void)arg;
	CHECK((lfd = listen_any(0, &p)) != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(p);
	for (i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM, 0);
		fcntl(fill[i], F_SETFL, O_NONBLOCK);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	msleep(50);
	snprintf(port, sizeof(port), "%d", p);
	c = conn_new(1, 5);
	t0 = mono_ms();
	CHECK(conn_connect(c, "127.0.0.1", port) == -1);
	dt = mono_ms() - t0;
	CHECK(conn_errcode(c) == CONN_ETIMEOUT);
	CHECK(dt >= 900 && dt < 2000);
	CHECK(strstr(conn_error(c), "timed out after 1 second") != NULL);
	conn_free(c);
	for (i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
}

static void
test_misc(const void *arg)
{
	struct conn_tlsinfo info;
	struct conn *c;
	char *line = NULL;
	size_t len;

	(void)arg;
	conn_free(NULL);
	c = conn_new(5, 5);
	CHECK(conn_errcode(c) == CONN_OK);
	CHECK_STR(conn_error(c), "");
	CHECK(conn_is_tls(c) == 0);
	CHECK(conn_tls_info(c, &info) == -1);
	CHECK(conn_getline(c, &line, &len, 10) == -1);
	CHECK(conn_bytes_in(c) == 0 && conn_bytes_out(c) == 0);
	conn_free(c);
}

/*
 * STARTTLS and TLS.
 */

static struct tls *
tls_srv_accept(int fd, const char *protocols)
{
	struct tls_config *cfg;
	struct tls *srv, *cctx = NULL;
	uint32_t protos;
	int r;

	if ((cfg = tls_config_new()) == NULL
	    || tls_config_set_keypair_file(cfg, certs.cert, certs.key) == -1)
		return NULL;
	if (protocols != NULL
	    && (tls_config_parse_protocols(&protos, protocols) == -1
		|| tls_config_set_protocols(cfg, protos) == -1))
		return NULL;
	if ((srv = tls_server()) == NULL || tls_configure(srv, cfg) == -1
	    || tls_accept_socket(srv, &cctx, fd) == -1)
		return NULL;
	while ((r = tls_handshake(cctx)) == TLS_WANT_POLLIN
	    || r == TLS_WANT_POLLOUT)
		;
	return r == 0 ? cctx : NULL;
}

static int
tls_srv_write(struct tls *t, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = tls_write(t, p, len);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
tls_srv_drain(struct tls *t)
{
	char buf[4096];
	ssize_t n;

	while ((n = tls_read(t, buf, sizeof(buf))) > 0 || n == TLS_WANT_POLLIN
	    || n == TLS_WANT_POLLOUT)
		;
}

/* "SHA256:aB:Cd..." to lower-case hex. */
static void
fp_hex(const char *in, char *out, size_t size)
{
	size_t n = 0;

	if (strncasecmp(in, "sha256:", 7) == 0)
		in += 7;
	for (; *in != '\0' && n + 1 < size; in++)
		if (*in != ':' && *in != '\n')
			out[n++]
			    = (char)(*in >= 'A' && *in <= 'F' ? *in - 'A' + 'a'
							      : *in);
	out[n] = '\0';
}

enum { CA_NONE, CA_GOOD, CA_OTHER, CA_MISSING };
enum { FP_NONE, FP_GOOD, FP_PLAIN, FP_BAD, FP_MALFORMED };

struct tls_case {
	const char *name;
	const char *servername;
	int verify;
	int ca;
	int fp;
	const char *protocols;
	const char *srv_protocols;
	enum conn_err want;
	const char *version; /* the version wanted; NULL: any */
	const char *errpart; /* text the error must contain */
};

static const struct tls_case tls_cases[] = {
	{ "CA file verifies chain and IP", "127.0.0.1", 1, CA_GOOD, FP_NONE,
	    NULL, NULL, CONN_OK, NULL, NULL },
	{ "CA file verifies chain and DNS name", "localhost", 1, CA_GOOD,
	    FP_NONE, NULL, NULL, CONN_OK, NULL, NULL },
	{ "wrong CA", "127.0.0.1", 1, CA_OTHER, FP_NONE, NULL, NULL, CONN_ECERT,
	    NULL, "unable to get local issuer" },
	{ "system store lacks the test CA", "127.0.0.1", 1, CA_NONE, FP_NONE,
	    NULL, NULL, CONN_ECERT, NULL, "certificate rejected" },
	{ "name mismatch", "wrong.example", 1, CA_GOOD, FP_NONE, NULL, NULL,
	    CONN_ECERT, NULL, "wrong.example" },
	{ "verify off", "wrong.example", 0, CA_OTHER, FP_NONE, NULL, NULL,
	    CONN_OK, NULL, NULL },
	{ "fingerprint match replaces checks", "wrong.example", 1, CA_OTHER,
	    FP_GOOD, NULL, NULL, CONN_OK, NULL, NULL },
	{ "fingerprint lower case without colons", "127.0.0.1", 1, CA_NONE,
	    FP_PLAIN, NULL, NULL, CONN_OK, NULL, NULL },
	{ "fingerprint mismatch", "127.0.0.1", 1, CA_GOOD, FP_BAD, NULL, NULL,
	    CONN_ECERT, NULL, "fingerprint mismatch" },
	{ "malformed fingerprint", "127.0.0.1", 1, CA_GOOD, FP_MALFORMED, NULL,
	    NULL, CONN_ECONFIG, NULL, "SHA256:xyz" },
	{ "protocols tlsv1.2", "127.0.0.1", 1, CA_GOOD, FP_NONE, "tlsv1.2",
	    NULL, CONN_OK, "TLSv1.2", NULL },
	{ "protocols tlsv1.3", "127.0.0.1", 1, CA_GOOD, FP_NONE, "tlsv1.3",
	    NULL, CONN_OK, "TLSv1.3", NULL },
	{ "no common protocol is not a certificate error", "127.0.0.1", 1,
	    CA_GOOD, FP_NONE, "tlsv1.2", "tlsv1.3", CONN_ETLS, NULL,
	    "TLS handshake failed" },
	{ "bad protocols string", "127.0.0.1", 1, CA_GOOD, FP_NONE, "tlsv9",
	    NULL, CONN_ECONFIG, NULL, "tlsv9" },
	{ "missing CA file", "127.0.0.1", 1, CA_MISSING, FP_NONE, NULL, NULL,
	    CONN_ECONFIG, NULL, "/nonexistent/ca.pem" },
};

static int
srv_tls_hello(int fd, const void *arg)
{
	const struct tls_case *tc = arg;
	struct tls *t;

	if ((t = tls_srv_accept(fd, tc->srv_protocols)) == NULL)
		return 0;
	tls_srv_write(t, "hello over tls\r\n", 16);
	tls_srv_drain(t);
	tls_close(t);
	return 0;
}

static void
test_tls(const void *arg)
{
	const struct tls_case *tc = arg;
	static const char badfp[] = "SHA256:00112233445566778899aabbccddeeff"
				    "00112233445566778899aabbccddeeff";
	struct conn_tlsopts o;
	struct conn_tlsinfo info;
	struct server sv;
	struct conn *c;
	char plain[80], a[80], b[80], *line = NULL;
	size_t len;
	time_t now = time(NULL);
	int r;

	memset(&o, 0, sizeof(o));
	o.verify = tc->verify;
	o.protocols = tc->protocols;
	o.ca_file = tc->ca == CA_GOOD ? certs.ca
	    : tc->ca == CA_OTHER      ? certs.other
	    : tc->ca == CA_MISSING    ? "/nonexistent/ca.pem"
				      : NULL;
	fp_hex(certs.fp, plain, sizeof(plain));
	o.fingerprint = tc->fp == FP_GOOD ? certs.fp
	    : tc->fp == FP_PLAIN          ? plain
	    : tc->fp == FP_BAD            ? badfp
	    : tc->fp == FP_MALFORMED      ? "SHA256:xyz"
					  : NULL;
	if (tc->fp == FP_PLAIN) {
		memmove(plain + 7, plain, strlen(plain) + 1);
		memcpy(plain, "sha256:", 7);
	}

	CHECK(server_start(&sv, srv_tls_hello, tc) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	r = conn_starttls(c, tc->servername, &o);
	if (r == -1 && tc->want == CONN_OK)
		fprintf(stderr, "starttls: %s\n", conn_error(c));
	CHECK(conn_errcode(c) == tc->want);
	if (tc->want != CONN_OK || r == -1) {
		CHECK(r == -1);
		CHECK(tc->errpart != NULL
		    && strstr(conn_error(c), tc->errpart) != NULL);
		if (tc->fp == FP_BAD) {
			CHECK(strstr(conn_error(c), badfp) != NULL);
			CHECK(conn_tls_info(c, &info) == 0);
			CHECK(strstr(conn_error(c), info.fingerprint) != NULL);
		}
		conn_free(c);
		server_kill(&sv);
		return;
	}
	CHECK(r == 0);
	CHECK(conn_is_tls(c) == 1);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "hello over tls");
	CHECK(conn_tls_info(c, &info) == 0);
	CHECK(info.version[0] != '\0');
	CHECK(info.cipher[0] != '\0');
	CHECK(strstr(info.subject, "CN=127.0.0.1") != NULL);
	CHECK(strstr(info.issuer, "CN=mailfetch test CA") != NULL);
	CHECK(info.notbefore <= now && now < info.notafter);
	fp_hex(info.fingerprint, a, sizeof(a));
	fp_hex(certs.fp, b, sizeof(b));
	CHECK(strncmp(info.fingerprint, "SHA256:", 7) == 0);
	CHECK(strlen(a) == 64);
	CHECK_STR(a, b);
	if (tc->version != NULL)
		CHECK_STR(info.version, tc->version);
	CHECK(conn_bytes_in(c) == 16);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

#define TLS_BIG (3 * 1024 * 1024)

static int
srv_tls_big(int fd, const void *arg)
{
	struct tls *t;
	char *p = payload(TLS_BIG), buf[65536];
	size_t got = 0, i;
	ssize_t n;
	int bad = 0;

	(void)arg;
	if ((t = tls_srv_accept(fd, NULL)) == NULL)
		return 1;
	if (tls_srv_write(t, "HEAD\r\n", 6) == -1
	    || tls_srv_write(t, p, TLS_BIG) == -1
	    || tls_srv_write(t, "TAIL\r\n", 6) == -1)
		return 1;
	/* Then take WRITE_N bytes from the client and check them. */
	while (got < WRITE_N) {
		n = tls_read(t, buf, sizeof(buf));
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pat(got + i))
				bad = 1;
		got += (size_t)n;
	}
	tls_srv_write(t, bad || got != WRITE_N ? "BAD\r\n" : "OK\r\n", 4);
	tls_srv_drain(t);
	free(p);
	return bad || got != WRITE_N;
}

static void
tls_opts_ca(struct conn_tlsopts *o)
{
	memset(o, 0, sizeof(*o));
	o->verify = 1;
	o->ca_file = certs.ca;
}

static void
test_tls_bulk(const void *arg)
{
	struct conn_tlsopts o;
	struct sinkst st;
	struct server sv;
	struct conn *c;
	char *line = NULL, *p;
	size_t len;

	(void)arg;
	tls_opts_ca(&o);
	memset(&st, 0, sizeof(st));
	CHECK(server_start(&sv, srv_tls_big, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_starttls(c, "127.0.0.1", &o) == 0);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "HEAD");
	CHECK(conn_read_to_sink(c, TLS_BIG, sink_check, &st) == 0);
	CHECK(st.got == TLS_BIG && !st.bad);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "TAIL");
	p = payload(WRITE_N);
	CHECK(conn_write(c, p, WRITE_N) == 0);
	free(p);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "OK");
	CHECK(conn_bytes_in(c) == 6 + TLS_BIG + 6 + 4);
	CHECK(conn_bytes_out(c) == WRITE_N);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

/* A literal announced as 10^12 bytes, of which 1000 come. */
static int
srv_tls_stall(int fd, const void *arg)
{
	struct tls *t;
	char *p = payload(1000);

	(void)arg;
	if ((t = tls_srv_accept(fd, NULL)) == NULL)
		return 1;
	tls_srv_write(t, "* 1 FETCH (BODY[] {1000000000000}\r\n", 35);
	tls_srv_write(t, p, 1000);
	free(p);
	tls_srv_drain(t);
	return 0;
}

static void
test_tls_stall(const void *arg)
{
	struct conn_tlsopts o;
	struct sinkst st;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;
	int64_t t0, dt;

	(void)arg;
	tls_opts_ca(&o);
	memset(&st, 0, sizeof(st));
	CHECK(server_start(&sv, srv_tls_stall, NULL) == 0);
	if ((c = client(&sv, 5, 1)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_starttls(c, "127.0.0.1", &o) == 0);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	t0 = mono_ms();
	CHECK(conn_read_to_sink(c, 1000000000000ULL, sink_check, &st) == -1);
	dt = mono_ms() - t0;
	CHECK(conn_errcode(c) == CONN_ETIMEOUT);
	CHECK(dt >= 900 && dt < 2000);
	CHECK(st.got == 1000 && !st.bad);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

static int
srv_tls_bye(int fd, const void *arg)
{
	struct tls *t;

	(void)arg;
	if ((t = tls_srv_accept(fd, NULL)) == NULL)
		return 1;
	tls_srv_write(t, "bye\r\n", 5);
	while (tls_close(t) == TLS_WANT_POLLIN)
		;
	close(fd);
	return 0;
}

static void
test_tls_eof(const void *arg)
{
	struct conn_tlsopts o;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	(void)arg;
	tls_opts_ca(&o);
	CHECK(server_start(&sv, srv_tls_bye, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_starttls(c, "127.0.0.1", &o) == 0);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "bye");
	CHECK(conn_getline(c, &line, &len, 100) == -1);
	CHECK(conn_errcode(c) == CONN_ECLOSED);
	CHECK(server_wait(&sv) == 0);
	/* Closing after the peer has gone is quiet and quick. */
	conn_free(c);
}

/* The server goes without a TLS close_notify, in the middle of a line. */
static int
srv_tls_vanish(int fd, const void *arg)
{
	struct tls *t;

	(void)arg;
	if ((t = tls_srv_accept(fd, NULL)) == NULL)
		return 1;
	tls_srv_write(t, "ok\r\npart", 9);
	close(fd);
	return 0;
}

static void
test_tls_vanish(const void *arg)
{
	struct conn_tlsopts o;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	(void)arg;
	tls_opts_ca(&o);
	CHECK(server_start(&sv, srv_tls_vanish, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_starttls(c, "127.0.0.1", &o) == 0);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "ok");
	CHECK(conn_getline(c, &line, &len, 100) == -1);
	CHECK(conn_errcode(c) == CONN_ECLOSED);
	CHECK(server_wait(&sv) == 0);
	conn_free(c);
}

static void
test_handshake_timeout(const void *arg)
{
	struct conn_tlsopts o;
	struct server sv;
	struct conn *c;
	int64_t t0, dt;

	(void)arg;
	tls_opts_ca(&o);
	CHECK(server_start(&sv, srv_silent, NULL) == 0);
	if ((c = client(&sv, 1, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	t0 = mono_ms();
	CHECK(conn_starttls(c, "127.0.0.1", &o) == -1);
	dt = mono_ms() - t0;
	CHECK(conn_errcode(c) == CONN_ETIMEOUT);
	CHECK(dt >= 900 && dt < 2000);
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

static void
test_handshake_closed(const void *arg)
{
	struct conn_tlsopts o;
	struct server sv;
	struct conn *c;

	(void)arg;
	tls_opts_ca(&o);
	CHECK(server_start(&sv, srv_close, NULL) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(server_wait(&sv) == 0);
	CHECK(conn_starttls(c, "127.0.0.1", &o) == -1);
	CHECK(conn_errcode(c) == CONN_ECLOSED);
	conn_free(c);
}

struct stls_case {
	const char *name;
	const char *reply; /* the server's answer to STLS, in one write */
	enum conn_err want;
};

static const struct stls_case stls_cases[] = {
	{ "STARTTLS upgrade", "+OK begin TLS\r\n", CONN_OK },
	{ "data before the TLS handshake", "+OK begin TLS\r\n+OK injected\r\n",
	    CONN_ETLS },
};

static int
srv_stls(int fd, const void *arg)
{
	const struct stls_case *sc = arg;
	struct tls *t;
	char buf[100];

	if (write_str(fd, "+OK ready\r\n") == -1
	    || read_line(fd, buf, sizeof(buf)) == -1
	    || strcmp(buf, "STLS\r\n") != 0 || write_str(fd, sc->reply) == -1)
		return 1;
	if (sc->want != CONN_OK) {
		drain(fd);
		return 0;
	}
	if ((t = tls_srv_accept(fd, NULL)) == NULL)
		return 1;
	tls_srv_write(t, "+OK secure\r\n", 12);
	tls_srv_drain(t);
	return 0;
}

static void
test_stls(const void *arg)
{
	const struct stls_case *sc = arg;
	struct conn_tlsopts o;
	struct server sv;
	struct conn *c;
	char *line = NULL;
	size_t len;

	tls_opts_ca(&o);
	CHECK(server_start(&sv, srv_stls, sc) == 0);
	if ((c = client(&sv, 5, 5)) == NULL) {
		CHECK(0);
		server_kill(&sv);
		return;
	}
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "+OK ready");
	CHECK(conn_write(c, "STLS\r\n", 6) == 0);
	CHECK(conn_getline(c, &line, &len, 100) == 0);
	CHECK_STR(line, "+OK begin TLS");
	if (sc->want == CONN_OK) {
		CHECK(conn_is_tls(c) == 0);
		CHECK(conn_starttls(c, "127.0.0.1", &o) == 0);
		CHECK(conn_is_tls(c) == 1);
		CHECK(conn_getline(c, &line, &len, 100) == 0);
		CHECK_STR(line, "+OK secure");
	} else {
		CHECK(conn_starttls(c, "127.0.0.1", &o) == -1);
		CHECK(conn_errcode(c) == sc->want);
		CHECK(strstr(conn_error(c),
			  "server sent data before the TLS handshake")
		    != NULL);
		CHECK(conn_is_tls(c) == 0);
	}
	conn_free(c);
	CHECK(server_wait(&sv) == 0);
}

static int
make_certs(void)
{
	char cmd[2048], *nl;
	FILE *f;

	xstrlcpy(certs.dir, "/tmp/test_conn.XXXXXX", sizeof(certs.dir));
	if (mkdtemp(certs.dir) == NULL)
		return -1;
	snprintf(certs.ca, sizeof(certs.ca), "%s/ca.pem", certs.dir);
	snprintf(certs.other, sizeof(certs.other), "%s/other.pem", certs.dir);
	snprintf(certs.cert, sizeof(certs.cert), "%s/srv.pem", certs.dir);
	snprintf(certs.key, sizeof(certs.key), "%s/srv.key", certs.dir);
	snprintf(cmd, sizeof(cmd),
	    "(cd %s && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca.key -out ca.pem -days 2 "
	    "-subj '/CN=mailfetch test CA' && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout other.key -out other.pem -days 2 "
	    "-subj '/CN=other CA' && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
	    "basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' "
	    "> ext.cnf && "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out srv.pem -days 2 -extfile ext.cnf && "
	    "openssl x509 -noout -fingerprint -sha256 -in srv.pem > fp.txt"
	    ") >/dev/null 2>&1",
	    certs.dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/fp.txt", certs.dir);
	if ((f = fopen(cmd, "r")) == NULL)
		return -1;
	/* "sha256 Fingerprint=AB:CD:..." */
	if (fgets(cmd, sizeof(cmd), f) == NULL
	    || (nl = strchr(cmd, '=')) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(certs.fp, sizeof(certs.fp), "SHA256:%s", nl + 1);
	if ((nl = strchr(certs.fp, '\n')) != NULL)
		*nl = '\0';
	return 0;
}

static void
remove_certs(void)
{
	char cmd[128];

	if (certs.dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certs.dir);
}

static void
test_certs(const void *arg)
{
	(void)arg;
	CHECK(make_certs() == 0);
	CHECK(strlen(certs.fp) == 7 + 95);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The cases that wait for a timeout run side by side, each in a child
 * process of its own, so that the whole run takes seconds.
 */
struct bg {
	const char *name;
	void (*fn)(const void *);
	pid_t pid;
};

static struct bg bgs[] = {
	{ "silent server: inactivity timeout", test_read_timeout, -1 },
	{ "dripping server: reply deadline", test_reply_deadline, -1 },
	{ "server takes no data: write timeout", test_write_timeout, -1 },
	{ "connect timeout", test_connect_timeout, -1 },
	{ "TLS hostile literal stalls", test_tls_stall, -1 },
	{ "TLS handshake timeout", test_handshake_timeout, -1 },
	{ "slow reader: write longer than the timeout", test_write_slow, -1 },
};

static void
bg_start(struct bg *b)
{
	fflush(stdout);
	fflush(stderr);
	if ((b->pid = fork()) == 0) {
		t_case_failed = 0;
		b->fn(NULL);
		_exit(t_case_failed ? 1 : 0);
	}
}

static void
bg_join(const void *arg)
{
	const struct bg *b = arg;
	int st;

	CHECK(b->pid > 0);
	if (b->pid <= 0)
		return;
	CHECK(waitpid(b->pid, &st, 0) == b->pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * The classes of libtls error texts (conn_tls_errclass): each row of
 * the table in conn.c, with and without the certificate checks, and
 * errno for a peer that hung up.
 */
struct errclass_case {
	const char *msg;
	int checks;
	int saved;
	enum conn_err want;
};

static const struct errclass_case errclass_cases[] = {
	{ "certificate verify failed", 1, 0, CONN_ECERT },
	{ "certificate verify failed", 0, 0, CONN_ETLS },
	{ "Certificate Verification Failed", 1, 0, CONN_ECERT },
	{ "unable to get local issuer", 1, 0, CONN_ECERT },
	{ "certificate has expired", 1, 0, CONN_ECERT },
	{ "x: not yet valid", 1, 0, CONN_ECERT },
	{ "x: Self Signed", 1, 0, CONN_ECERT },
	{ "x: self-signed", 1, 0, CONN_ECERT },
	{ "x: verify error", 1, 0, CONN_ECERT },
	{ "name `h' not present in server cert", 1, 0, CONN_ECERT },
	{ "unexpected EOF while reading", 1, 0, CONN_ECLOSED },
	{ "unexpected eof while reading", 0, 0, CONN_ECLOSED },
	{ "read: Connection reset by peer", 0, 0, CONN_ECLOSED },
	{ "handshake failure", 0, ECONNRESET, CONN_ECLOSED },
	{ "handshake failure", 1, EPIPE, CONN_ECLOSED },
	{ "handshake failure", 1, 0, CONN_ETLS },
	{ "certificate expired, then eof", 0, 0, CONN_ECLOSED },
	{ "certificate expired, then eof", 1, 0, CONN_ECERT },
	{ "no known words", 1, 0, CONN_ETLS },
};

static void
test_errclass(const void *arg)
{
	const struct errclass_case *k = arg;

	CHECK(conn_tls_errclass(k->msg, k->checks, k->saved) == k->want);
}

int
main(void)
{
	size_t i;

	/* As main must: libtls writes on the socket itself. */
	signal(SIGPIPE, SIG_IGN);

	T_RUN("make test certificates", test_certs, NULL);
	for (i = 0; i < NELEM(bgs); i++)
		bg_start(&bgs[i]);

	for (i = 0; i < NELEM(line_cases); i++)
		T_RUN(line_cases[i].name, test_lines, &line_cases[i]);
	for (i = 0; i < NELEM(longline_cases); i++)
		T_RUN(
		    longline_cases[i].name, test_longline, &longline_cases[i]);
	T_RUN("peek and consume", test_peek, NULL);
	T_RUN("a line ready, without waiting", test_line_ready, NULL);
	T_RUN("a line ready on a compressed connection",
	    test_line_ready_compressed, NULL);
	for (i = 0; i < NELEM(sink_cases); i++)
		T_RUN(sink_cases[i].name, test_sink, &sink_cases[i]);
	T_RUN("write 4 MiB", test_write, NULL);
	T_RUN("write to a closed peer", test_write_closed, NULL);
	T_RUN("connection refused", test_refused, NULL);
	T_RUN("unresolvable name", test_resolve, NULL);
	T_RUN("connect by name", test_by_name, NULL);
	T_RUN("unconnected connection", test_misc, NULL);

	for (i = 0; i < NELEM(tls_cases); i++)
		T_RUN(tls_cases[i].name, test_tls, &tls_cases[i]);
	T_RUN("TLS literal, line and write", test_tls_bulk, NULL);
	T_RUN("TLS close then EOF", test_tls_eof, NULL);
	T_RUN("TLS peer vanishes mid-line", test_tls_vanish, NULL);
	T_RUN("peer closes before the handshake", test_handshake_closed, NULL);
	for (i = 0; i < NELEM(errclass_cases); i++)
		T_RUN(errclass_cases[i].msg, test_errclass, &errclass_cases[i]);
	for (i = 0; i < NELEM(stls_cases); i++)
		T_RUN(stls_cases[i].name, test_stls, &stls_cases[i]);

	for (i = 0; i < NELEM(bgs); i++)
		T_RUN(bgs[i].name, bg_join, &bgs[i]);
	remove_certs();
	return T_DONE();
}
