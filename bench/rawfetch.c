/*
 * The protocol limit for the benchmark: the least a client can do over
 * one session, with nothing written to disk. It logs in, then
 *
 *   fetch   POP3: STAT, RETR 1..N pipelined (a window of commands in
 *           flight); IMAP: EXAMINE INBOX, UID FETCH 1:* BODY.PEEK[];
 *   list    POP3: UIDL; IMAP: EXAMINE INBOX, UID FETCH 1:* (UID);
 *   delete  POP3: DELE 1..N pipelined, QUIT; IMAP: SELECT INBOX,
 *           UID STORE 1:* +FLAGS.SILENT (\Deleted), UID EXPUNGE 1:*;
 *
 * and logs out. Message bytes are counted and thrown away. It prints
 * "messages N bytes B" (B: the message bytes as sent, CRLF included,
 * dot-stuffing not undone) so the caller can check it got everything.
 *
 *   rawfetch pop3|imap HOST PORT tls|plain CAFILE USER PASS [MODE]
 *
 * Only for the benchmark: blocking I/O, no timeouts, no care for
 * hostile servers.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#define RBUF (256 * 1024)
#define WINDOW 64 /* POP3 commands in flight */

struct rd {
	struct tls *tls;
	int fd;
	char buf[RBUF];
	size_t off;
	size_t len;
};

static struct rd R;
static uint64_t nbytes;
static uint64_t nmsgs;

static void
fill(struct rd *r)
{
	ssize_t n;

	if (r->off > 0 && r->off == r->len)
		r->off = r->len = 0;
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (r->len == sizeof(r->buf))
		errx(1, "line too long");
	for (;;) {
		if (r->tls != NULL) {
			n = tls_read(
			    r->tls, r->buf + r->len, sizeof(r->buf) - r->len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				continue;
			if (n == -1)
				errx(1, "tls_read: %s", tls_error(r->tls));
		} else {
			n = read(
			    r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				err(1, "read");
		}
		break;
	}
	if (n == 0)
		errx(1, "connection closed");
	r->len += n;
}

/*
 * Consume one line through its LF. The first up to cap-1 bytes go to
 * head, NUL-terminated. Returns the line's length.
 */
static size_t
getln(struct rd *r, char *head, size_t cap)
{
	size_t total = 0, hl = 0, n, c;
	char *p;

	for (;;) {
		if (r->off == r->len)
			fill(r);
		p = memchr(r->buf + r->off, '\n', r->len - r->off);
		n = p ? (size_t)(p - (r->buf + r->off)) + 1 : r->len - r->off;
		if (hl + 1 < cap) {
			c = n < cap - 1 - hl ? n : cap - 1 - hl;
			memcpy(head + hl, r->buf + r->off, c);
			hl += c;
		}
		r->off += n;
		total += n;
		if (p != NULL)
			break;
	}
	head[hl] = '\0';
	return total;
}

static void
skipn(struct rd *r, uint64_t n)
{
	size_t c;

	while (n > 0) {
		if (r->off == r->len)
			fill(r);
		c = r->len - r->off;
		if (c > n)
			c = n;
		r->off += c;
		n -= c;
	}
}

static void
sendbuf(const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (R.tls != NULL) {
			n = tls_write(R.tls, s, len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				continue;
			if (n == -1)
				errx(1, "tls_write: %s", tls_error(R.tls));
		} else {
			n = write(R.fd, s, len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				err(1, "write");
		}
		s += n;
		len -= n;
	}
}

static void
sendstr(const char *s)
{
	sendbuf(s, strlen(s));
}

static void
pop3_ok(const char *what)
{
	char line[512];

	getln(&R, line, sizeof(line));
	if (strncmp(line, "+OK", 3) != 0)
		errx(1, "%s: %s", what, line);
}

/* A multi-line response body, through its ".\r\n" line. */
static void
pop3_body(int count)
{
	char head[8];
	size_t n;

	for (;;) {
		n = getln(&R, head, sizeof(head));
		if (n == 3 && memcmp(head, ".\r\n", 3) == 0)
			break;
		if (count)
			nbytes += n;
	}
	if (count)
		nmsgs++;
}

/* Send commands fmt % 1..n with at most WINDOW in flight; each reply
 * is read by rd(). */
static void
pop3_pipe(const char *verb, unsigned long n, void (*rd)(void))
{
	char cmd[64 * WINDOW];
	unsigned long sent = 1, got = 1;
	size_t len;

	while (got <= n) {
		len = 0;
		/* Top the window up when half of it was answered. */
		while (sent <= n && sent - got < WINDOW
		    && (len > 0 || sent - got <= WINDOW / 2)) {
			len += snprintf(cmd + len, sizeof(cmd) - len,
			    "%s %lu\r\n", verb, sent);
			sent++;
		}
		if (len > 0)
			sendbuf(cmd, len);
		rd();
		got++;
	}
}

static void
rd_retr(void)
{
	pop3_ok("RETR");
	pop3_body(1);
}

static void
rd_dele(void)
{
	pop3_ok("DELE");
	nmsgs++;
}

static void
pop3(const char *user, const char *pass, const char *mode)
{
	char line[512];
	unsigned long n;

	pop3_ok("greeting");
	snprintf(line, sizeof(line), "USER %s\r\n", user);
	sendstr(line);
	pop3_ok("USER");
	snprintf(line, sizeof(line), "PASS %s\r\n", pass);
	sendstr(line);
	pop3_ok("PASS");
	sendstr("STAT\r\n");
	getln(&R, line, sizeof(line));
	if (sscanf(line, "+OK %lu", &n) != 1)
		errx(1, "STAT: %s", line);
	if (strcmp(mode, "fetch") == 0)
		pop3_pipe("RETR", n, rd_retr);
	else if (strcmp(mode, "list") == 0) {
		sendstr("UIDL\r\n");
		pop3_ok("UIDL");
		pop3_body(0);
		nmsgs = n;
	} else if (strcmp(mode, "delete") == 0)
		pop3_pipe("DELE", n, rd_dele);
	else
		errx(1, "unknown mode %s", mode);
	sendstr("QUIT\r\n");
	pop3_ok("QUIT");
}

/* Read responses up to the tagged one; literals are skipped. Returns
 * the number of untagged FETCH responses seen. */
static uint64_t
imap_wait(const char *tag, int count)
{
	char line[1024], *p;
	size_t taglen = strlen(tag), n;
	uint64_t lit, fetches = 0;
	int first;

	for (;;) {
		first = 1;
		for (;;) {
			n = getln(&R, line, sizeof(line));
			if (first && strncmp(line, "* ", 2) == 0
			    && strstr(line, " FETCH ") != NULL)
				fetches++;
			if (first && strncmp(line, tag, taglen) == 0
			    && line[taglen] == ' ') {
				if (strncmp(line + taglen + 1, "OK", 2) != 0)
					errx(1, "%s", line);
				return fetches;
			}
			first = 0;
			/* A literal announced at the end of the line. */
			if (n >= 4 && n < sizeof(line) - 1 && line[n - 3] == '}'
			    && (p = strrchr(line, '{')) != NULL) {
				lit = strtoull(p + 1, NULL, 10);
				skipn(&R, lit);
				if (count)
					nbytes += lit;
				continue;
			}
			break;
		}
	}
}

static void
imap(const char *user, const char *pass, const char *mode)
{
	char line[1024];

	getln(&R, line, sizeof(line));
	if (strncmp(line, "* OK", 4) != 0)
		errx(1, "greeting: %s", line);
	snprintf(line, sizeof(line), "a1 LOGIN \"%s\" \"%s\"\r\n", user, pass);
	sendstr(line);
	imap_wait("a1", 0);
	if (strcmp(mode, "fetch") == 0) {
		sendstr("a2 EXAMINE INBOX\r\na3 UID FETCH 1:* BODY.PEEK[]\r\n");
		imap_wait("a2", 0);
		nmsgs = imap_wait("a3", 1);
	} else if (strcmp(mode, "list") == 0) {
		sendstr("a2 EXAMINE INBOX\r\na3 UID FETCH 1:* (UID)\r\n");
		imap_wait("a2", 0);
		nmsgs = imap_wait("a3", 0);
	} else if (strcmp(mode, "delete") == 0) {
		sendstr("a2 SELECT INBOX\r\n"
			"a3 UID STORE 1:* +FLAGS.SILENT (\\Deleted)\r\n"
			"a4 UID EXPUNGE 1:*\r\n");
		imap_wait("a2", 0);
		imap_wait("a3", 0);
		imap_wait("a4", 0);
	} else
		errx(1, "unknown mode %s", mode);
	sendstr("a9 LOGOUT\r\n");
	imap_wait("a9", 0);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	struct tls_config *cfg;
	const char *mode;
	int one = 1, rv;

	if (argc < 8 || argc > 9)
		errx(64,
		    "usage: rawfetch pop3|imap HOST PORT tls|plain "
		    "CAFILE USER PASS [fetch|list|delete]");
	mode = argc == 9 ? argv[8] : "fetch";
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
		errx(1, "bad address %s", argv[2]);
	if ((R.fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	setsockopt(R.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(R.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "connect");
	if (strcmp(argv[4], "tls") == 0) {
		if ((cfg = tls_config_new()) == NULL
		    || tls_config_set_ca_file(cfg, argv[5]) == -1)
			errx(1, "tls config");
		if ((R.tls = tls_client()) == NULL
		    || tls_configure(R.tls, cfg) == -1)
			errx(1, "tls client");
		if (tls_connect_socket(R.tls, R.fd, argv[2]) == -1)
			errx(1, "tls: %s", tls_error(R.tls));
		while ((rv = tls_handshake(R.tls)) != 0)
			if (rv == -1)
				errx(1, "handshake: %s", tls_error(R.tls));
	}
	if (strcmp(argv[1], "pop3") == 0)
		pop3(argv[6], argv[7], mode);
	else
		imap(argv[6], argv[7], mode);
	printf("messages %" PRIu64 " bytes %" PRIu64 "\n", nmsgs, nbytes);
	return 0;
}
