/*
 * The interface the protocol clients share: open a session, select a
 * folder, list it, fetch messages into a sink, mark messages deleted,
 * make the deletions happen, and end the session. POP3 and IMAP each
 * fill one struct source_ops. Nothing here touches files: message bytes
 * go to the caller's sink, already decoded (CRLF turned to LF, POP3
 * dot-stuffing removed, nothing else changed).
 *
 * Errors: an operation that fails returns -1 and sets src->fail (the
 * class, which cmd/ maps to an exit status) and src->err (what failed,
 * in our words, with the server's words quoted after them where there
 * are any). After a failure other than SRC_FREFUSED the session is
 * unusable: the only safe next step is ops->free, which drops the
 * connection without committing anything (a POP3 session dropped
 * without QUIT deletes nothing).
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "../tls/conn.h"
#include "../tls/util.h"

enum src_tls { SRC_TLS_IMPLICIT, SRC_TLS_STARTTLS, SRC_TLS_NONE };

enum src_auth {
	SRC_AUTH_AUTO,
	SRC_AUTH_USER, /* POP3 USER/PASS */
	SRC_AUTH_APOP,
	SRC_AUTH_LOGIN, /* IMAP LOGIN, or SASL LOGIN */
	SRC_AUTH_PLAIN,
	SRC_AUTH_CRAM_MD5,
	SRC_AUTH_SCRAM_SHA_1,
	SRC_AUTH_SCRAM_SHA_256,
	SRC_AUTH_XOAUTH2,
	SRC_AUTH_OAUTHBEARER
};

enum src_fail {
	SRC_FNONE,
	SRC_FHOST, /* host unknown, unreachable, refused (69) */
	SRC_FTEMP, /* timeout, connection lost (75) */
	SRC_FPROTO, /* unexpected reply, no STARTTLS, TLS failure (76) */
	SRC_FDATA, /* a reply that breaks the grammar (65) */
	SRC_FAUTH, /* authentication failed, certificate rejected (77) */
	SRC_FCONFIG, /* the settings cannot work, e.g. plaintext refused (78) */
	SRC_FLOCAL, /* the sink failed; the caller knows why */
	SRC_FREFUSED /* the server said -ERR/NO to one command; session
			 * still usable (e.g. a folder that does not exist) */
};

/* Direction of a trace line. */
#define SRC_TRACE_IN '<'
#define SRC_TRACE_OUT '>'

struct source_cfg {
	const char *host;
	const char *port;
	enum src_tls tls;
	struct conn_tlsopts tlsopts;
	const char *user;
	const char *secret; /* password or OAuth token; never traced */
	enum src_auth auth;
	int allow_plaintext; /* authenticate over an unencrypted session */
	int connect_timeout;
	int timeout;
	/* POP3: list with UIDL alone and leave the sizes to ops->sizes,
	 * so that a run that finds nothing new skips LIST. */
	int lazy_sizes;
	/* Open stops before authentication: connect, TLS, greeting,
	 * capabilities (after STARTTLS), and nothing more; no user or
	 * secret needed (--configure's probe). */
	int nologin;
	/* IMAP: COMPRESS=DEFLATE (RFC 4978) when the server offers it. */
	int compress;
	/* Protocol trace (-vv), one line at a time without CRLF. Lines that
	 * carry a credential arrive with it replaced by <redacted>. NULL:
	 * no trace. */
	void (*trace)(void *arg, int dir, const char *line, size_t len);
	void *trace_arg;
};

/* Flags as IMAP reports them (POP3 leaves them 0). */
#define MSG_SEEN 0x01
#define MSG_ANSWERED 0x02
#define MSG_FLAGGED 0x04
#define MSG_DRAFT 0x08
#define MSG_DELETED 0x10

struct msginfo {
	char *uid; /* POP3 UIDL, or IMAP UID in decimal; NULL when a
			 * POP3 server has no UIDL. Owned by the msglist. */
	uint64_t size; /* as the server reports it */
	int64_t date; /* IMAP INTERNALDATE as Unix time; 0 unknown */
	uint32_t num; /* POP3 message number; IMAP UID */
	unsigned flags; /* MSG_* */
};

struct msglist {
	struct msginfo *v;
	size_t n;
	size_t cap;
	struct strpool uids; /* where the entries' uid strings live */
	int nosizes; /* the sizes are not known yet: see ops->sizes */
};

/* Append a copy of *m (uid duplicated) to l. */
void msglist_add(struct msglist *l, const struct msginfo *m);
/* Free the entries and reset l to empty. Accepts an empty list. */
void msglist_free(struct msglist *l);

struct folder_info {
	uint32_t uidvalidity; /* 0 for POP3 */
	uint32_t exists; /* messages in the folder (IMAP) */
	uint32_t uidnext; /* IMAP UIDNEXT, 0 when the server sent none */
	int uidplus; /* the server can UID EXPUNGE */
};

/*
 * Receives fetched messages. For each message that arrives the client
 * calls begin(i) with the message's index in the array given to fetch,
 * then write zero or more times with decoded bytes, then end(i) once
 * the whole message is in. Messages may arrive in any order, and a
 * message the server no longer has may not arrive at all (no begin).
 * A callback returning -1 stops the fetch: it fails with SRC_FLOCAL.
 */
struct sink {
	int (*begin)(void *arg, size_t i);
	int (*write)(void *arg, const char *buf, size_t len);
	int (*end)(void *arg, size_t i);
	void *arg;
};

struct source;

struct source_ops {
	/* Connect, TLS (implicit or STARTTLS), greeting, capabilities,
	 * authentication (none with cfg->nologin: then only quit and free
	 * may follow). Refuses (SRC_FCONFIG) to send credentials over an
	 * unencrypted connection unless allow_plaintext. */
	int (*open)(struct source *);
	/* Open a folder; POP3 has only "INBOX" (STAT). rw = 0 opens it
	 * read-only (IMAP EXAMINE). An unknown folder: SRC_FREFUSED. */
	int (*select)(
	    struct source *, const char *folder, int rw, struct folder_info *);
	/* List the selected folder into *out (emptied first), in server
	 * order: POP3 message order, IMAP ascending UID. IMAP lists only
	 * the messages with a UID of at least from, and with from > 1 may
	 * add the one with the highest UID (RFC 3501 section 6.4.8: "N:*"
	 * always names it); POP3 ignores from and lists everything. */
	int (*list)(struct source *, uint32_t from, struct msglist *out);
	/* When l->nosizes (a POP3 list with lazy_sizes), fill in the sizes
	 * of l's entries (LIST) and clear it; otherwise nothing to do. */
	int (*sizes)(struct source *, struct msglist *l);
	/* Fetch msgs[0..n-1] of the selected folder into the sink,
	 * pipelined or batched as the protocol allows. IMAP fetches with
	 * BODY.PEEK, so no flag changes. */
	int (*fetch)(struct source *, struct msginfo *const *msgs, size_t n,
	    const struct sink *);
	/* Mark msgs deleted: POP3 DELE (effective at quit), IMAP UID STORE
	 * +FLAGS.SILENT (\Deleted). */
	int (*mark)(struct source *, struct msginfo *const *msgs, size_t n);
	/* IMAP: remove the marked messages of the selected folder now: UID
	 * EXPUNGE with UIDPLUS, else EXPUNGE only when no other message
	 * carries \Deleted. *gone is how many of them were removed; the
	 * rest stay flagged and src->err says why. POP3: does nothing and
	 * sets *gone to 0 (DELE takes effect at quit). */
	int (*expunge)(struct source *, struct msginfo *const *msgs, size_t n,
	    size_t *gone);
	/* End the session politely: POP3 QUIT (0 means the server
	 * confirmed, and so committed its DELEs), IMAP LOGOUT. Does not
	 * free. */
	int (*quit)(struct source *);
	/* Drop the connection (without QUIT if quit was not called) and
	 * free everything. Accepts NULL. */
	void (*free)(struct source *);
};

struct source {
	const struct source_ops *ops;
	const struct source_cfg *cfg; /* borrowed; outlives the source */
	struct conn *conn; /* NULL until open */
	enum src_fail fail;
	char err[512];
	char caps[1024]; /* capabilities as the server last listed them */
	/* IMAP: the capabilities as listed before authentication, once
	 * it was tried (they may change with it, RFC 3501 section 6.2.3);
	 * "" otherwise. */
	char caps_pre[1024];
	/* The mechanisms the server offered before authentication, a bit
	 * (1u << SRC_AUTH_...) each: SASL ones, and for IMAP
	 * SRC_AUTH_LOGIN when the LOGIN command is not disabled. */
	unsigned mechs;
	char mech[32]; /* the authentication mechanism used */
	char delim; /* IMAP hierarchy delimiter, 0 when none */
	void *priv; /* the protocol's own state */
};

/* A new session of the protocol ops with a zeroed private state of
 * privsize bytes; cfg is borrowed. For the protocols' *_new. */
struct source *src_new(const struct source_ops *ops,
    const struct source_cfg *cfg, size_t privsize);

/* Drop the connection, wipe and free the private state (privsize
 * bytes) and src. For the protocols' free; accepts NULL. */
void src_free(struct source *, size_t privsize);

/* Record a failure on src: class and printf-style message. Returns -1 so
 * a caller can write `return src_fail(...)`. */
int src_fail(struct source *, enum src_fail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a failure from the connection layer, mapping its class:
 * ERESOLVE/EREFUSED to FHOST, ETIMEOUT/ECLOSED/EIO to FTEMP, ECERT to
 * FAUTH, ETLS to FPROTO, ECONFIG to FCONFIG, ETOOLONG to FPROTO, ESINK
 * to FLOCAL. what says what we were doing; NULL when the connection's
 * error says it already (connect names the host and port). Returns -1. */
int src_connfail(struct source *, const char *what);

/* 1 when open was tried and left a connection (failed or not), 0
 * before open. */
int src_has_conn(const struct source *);

/* The class of the connection's last error: CONN_OK when none, or
 * before open. For a hint that depends on it (an unknown host, a
 * rejected certificate). */
enum conn_err src_errcode(const struct source *);

/* Fill *info with the TLS session and the server's certificate: 0, or
 * -1 (info zeroed) when TLS is not up. */
int src_tls_info(const struct source *, struct conn_tlsinfo *info);

/* The connection's socket, for poll(2) by a caller that waits on
 * many sessions (see conn_fd); -1 before open. */
int src_fd(const struct source *);

/* TCP keepalive on the connection (see conn_keepalive): 0, or -1
 * before open or when the socket refuses. */
int src_keepalive(struct source *, int idle);

/* Copy server text into dst (at most dstlen - 1 bytes and a NUL) for an
 * error message, control characters (C0, DEL, C1 as a byte or in UTF-8)
 * replaced by '?'; well-formed UTF-8 is kept and never cut in two. */
void src_quote(char *dst, size_t dstlen, const char *s, size_t len);

#endif
