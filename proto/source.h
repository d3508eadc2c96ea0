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
	/* IMAP: the folder the run selects first (read-only), as the
	 * config names it, or NULL when unknown. Its LIST and EXAMINE go
	 * out behind the login without waiting, and the first select of
	 * exactly this name with rw = 0 takes their answers (issue 16). */
	const char *first_folder;
	/* The state knows nothing of the first folder (a first fetch).
	 * IMAP: its listing from UID 1 and COMPRESS DEFLATE go behind its
	 * EXAMINE as well, and the first listing from UID 1 takes that
	 * answer where it covers the whole folder. POP3: LIST goes behind
	 * the login with STAT and UIDL even with lazy_sizes (every message
	 * is new), its sizes taken where the listing is held whole. */
	int first_list;
	/* The run will ask ops->peek about several folders: a listing of
	 * the mailboxes (ops->mailboxes) gathers what peek reports too,
	 * where the server can say it in the same answer (IMAP
	 * LIST-STATUS, RFC 5819), so that peek then sends nothing. */
	int peek_in_list;
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

struct source;

struct msglist {
	struct msginfo *v;
	size_t n;
	size_t cap;
	struct strpool uids; /* where the entries' uid strings live */
	int nosizes; /* the sizes are not known yet: see ops->sizes */
	/*
	 * A listing in windows, so that a long one is never held whole
	 * (issue 16): with window not 0, each time ops->list has window
	 * entries it puts them in order, checks them as it checks a whole
	 * listing, hands them to flush and empties the list; what is left
	 * at the end stays in it, as a short listing would. A uid named
	 * in two windows is for the caller to find (SRC_CAP_UID_IS_NUM:
	 * it cannot happen). POP3 windows only a lazy_sizes listing (the
	 * sizes come with relist). The windows
	 * need not come in order (IMAP lists a large folder's parts
	 * newest first), and a server that repeats a message may repeat
	 * it in another window: flush must cope. flush returning -1 stops
	 * the listing: SRC_FLOCAL. Set by the caller; msglist_free keeps
	 * them.
	 */
	size_t window;
	int (*flush)(void *arg, struct msglist *l);
	void *flush_arg;
	size_t nflushed; /* entries handed to flush by this listing */
};

/* Append a copy of *m (uid duplicated) to l. */
void msglist_add(struct msglist *l, const struct msginfo *m);
/* Free the entries and reset l to empty, keeping its window (window,
 * flush, flush_arg). Accepts an empty list. */
void msglist_free(struct msglist *l);
/* For a protocol's list, with l's entries in order and checked: when
 * l is windowed and full, hand them to l->flush and empty l (keeping
 * its array). 0, or -1 with src failed. */
int msglist_window(struct source *src, struct msglist *l);

struct folder_info {
	uint32_t uidvalidity; /* 0 for POP3 */
	uint32_t exists; /* messages in the folder (IMAP) */
	uint32_t uidnext; /* IMAP UIDNEXT, 0 when the server sent none */
	int uidplus; /* the server can UID EXPUNGE */
	/* IMAP CONDSTORE / QRESYNC (RFC 7162): the server offers each
	 * (QRESYNC implies CONDSTORE), and the folder's HIGHESTMODSEQ,
	 * 0 when the server sent [NOMODSEQ] or none (no CONDSTORE). */
	int condstore;
	int qresync;
	uint64_t highestmodseq;
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

/*
 * Mailboxes, as ops->mailboxes reports them (IMAP LIST, RFC 3501 section
 * 6.3.8, RFC 9051 section 6.3.9; attributes of RFC 5258 and RFC 6154).
 */
#define MBX_NOSELECT 0x0001 /* \Noselect: cannot be selected */
#define MBX_NONEXISTENT 0x0002 /* \NonExistent (implies \Noselect) */
#define MBX_ALL 0x0010 /* special use (RFC 6154 section 2) */
#define MBX_ARCHIVE 0x0020
#define MBX_DRAFTS 0x0040
#define MBX_FLAGGED 0x0080
#define MBX_JUNK 0x0100
#define MBX_SENT 0x0200
#define MBX_TRASH 0x0400

struct mailbox {
	/* The name as the server sent it, NUL-terminated (quoted strings
	 * unescaped, literals taken whole): modified UTF-7 (RFC 3501
	 * section 5.1.3). This is the name to select and to key state by.
	 * Never empty, never holds a NUL byte. */
	const char *name;
	/* Its UTF-8 form (imap_utf7_decode), for Maildir++ names and
	 * patterns; NULL when name is not valid modified UTF-7. */
	const char *utf8;
	char delim; /* hierarchy delimiter, 0 for NIL (flat) */
	unsigned attrs; /* MBX_*; other attributes are dropped */
};

/* The personal namespace (RFC 2342), as ops->namespace reports it. */
struct src_namespace {
	int known; /* 0: the server has no NAMESPACE or no personal
		    * namespace (NIL); prefix "" and delim 0 then */
	char prefix[256]; /* e.g. "INBOX." on Courier and Cyrus, "" on
			   * Dovecot; in UTF-8 (decoded from modified
			   * UTF-7; one that is not valid: not known) */
	char delim; /* its hierarchy delimiter, 0 for NIL */
};

/*
 * What the caller knows of a folder from its previous sync, for
 * ops->select_sync. uidvalidity 0: nothing known (first sync).
 * highestmodseq 0: no modseq known (the last sync had no CONDSTORE).
 * exists and uidnext: the folder's EXISTS and UIDNEXT as the previous
 * select_sync reported them (0 unknown); CONDSTORE without QRESYNC uses
 * them to find out whether anything can have been expunged.
 */
struct sync_known {
	uint32_t uidvalidity;
	uint64_t highestmodseq;
	uint32_t exists;
	uint32_t uidnext;
};

/*
 * Receives the changes select_sync finds. flags: message uid has
 * exactly these flags (MSG_*) now. vanished: no message with a UID in
 * lo..hi (lo <= hi) is in the folder any more; the range may cover UIDs
 * the caller never had (ignore those). Both may come in any order and
 * more than once for a UID (the last flags count). A callback returning
 * -1 stops select_sync: it fails with SRC_FLOCAL.
 */
struct change_sink {
	int (*flags)(void *arg, uint32_t uid, unsigned flags);
	int (*vanished)(void *arg, uint32_t lo, uint32_t hi);
	void *arg;
};

/* What select_sync reported. */
enum src_sync {
	/* Nothing: known->uidvalidity was 0 or differs from the folder's
	 * (fi->uidvalidity), so everything the caller knew of the folder
	 * is void (all its old copies count as gone); list it anew. */
	SRC_SYNC_VOID,
	/* Only what changed since known->highestmodseq: flags of the
	 * messages whose flags changed, vanished for expunged UIDs. A
	 * message not reported is unchanged. */
	SRC_SYNC_DELTA,
	/* Every message's flags (flags at least once per message): a
	 * message of the caller's whose flags were not reported is gone.
	 * vanished may come too (QRESYNC's answer before the server's
	 * HIGHESTMODSEQ turned out lower than the known one); it is
	 * true, and redundant. */
	SRC_SYNC_WHOLE
};

/*
 * What a folder holds now, as ops->peek reports it without opening it.
 * known 0: the protocol could not tell (the folder is missing, the
 * server refused, or it is the folder open already); the caller then
 * opens the folder to know. highestmodseq 0: none (no CONDSTORE, or
 * the folder has no modseqs).
 */
struct folder_peek {
	int known;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint64_t highestmodseq;
};

/*
 * What a protocol can do, as bits of source_ops.caps (after isync's
 * get_caps()): what differs between POP3 and IMAP, for cmd/ to ask
 * rather than to name the protocol.
 */
/* Named folders, each its own place in the state and the Maildir
 * (IMAP); without it one folder, INBOX (POP3). */
#define SRC_CAP_FOLDERS 0x01
/* select reports UIDNEXT and list can start at a UID, so that a run
 * need not list again what earlier runs recorded (IMAP). */
#define SRC_CAP_UIDNEXT 0x02
/* mark takes effect only at quit (POP3 DELE); expunge does nothing. */
#define SRC_CAP_DELETE_AT_QUIT 0x04
/* A message may arrive with a final line end it did not have on the
 * server (POP3 ends the last line before "."): up to 2 bytes more than
 * announced is no growth. */
#define SRC_CAP_ADDS_EOL 0x08
/* A message's uid is its num (IMAP UIDs): no two messages of a listing
 * can share one. Without it (POP3 UIDL) a server may name one uid for
 * two messages, which the run must catch before it acts on either. */
#define SRC_CAP_UID_IS_NUM 0x10

struct source_ops {
	unsigned caps; /* SRC_CAP_* */
	/* Connect, TLS (implicit or STARTTLS), greeting, capabilities,
	 * authentication (none with cfg->nologin: then only quit and free
	 * may follow). Refuses (SRC_FCONFIG) to send credentials over an
	 * unencrypted connection unless allow_plaintext. */
	int (*open)(struct source *);
	/* Open a folder; POP3 has only "INBOX" (STAT). rw = 0 opens it
	 * read-only (IMAP EXAMINE). An unknown folder: SRC_FREFUSED. */
	int (*select)(
	    struct source *, const char *folder, int rw, struct folder_info *);
	/* The name of a selected folder for the local side: UTF-8 (a new
	 * string), and in *delim the server's hierarchy delimiter, 0 when
	 * none. NULL for a protocol without folders (its one is INBOX). */
	char *(*local_name)(struct source *, const char *folder, char *delim);
	/* List the selected folder into *out (emptied first), in server
	 * order: POP3 message order, IMAP ascending UID. IMAP lists only
	 * the messages with a UID of at least from, and with from > 1 may
	 * add the one with the highest UID (RFC 3501 section 6.4.8: "N:*"
	 * always names it); POP3 ignores from and lists everything. */
	int (*list)(struct source *, uint32_t from, struct msglist *out);
	/* A windowed listing's second pass: list again exactly the
	 * messages nums[0..n-1] (nums as list gave them: POP3 message
	 * numbers, IMAP UIDs; ascending) into *out (emptied first, not
	 * windowed), sizes included; one the server no longer has is left
	 * out. One round trip where the protocol can pipeline: POP3
	 * "UIDL n" and "LIST n" for each (LIST alone for a server
	 * without UIDL), IMAP UID FETCH of the set. */
	int (*relist)(struct source *, const uint32_t *nums, size_t n,
	    struct msglist *out);
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

	/*
	 * Mirror and folder selection: IMAP only, NULL for POP3.
	 *
	 * mailboxes: LIST "" "*" (with RETURN (SPECIAL-USE) where the
	 * server offers LIST-EXTENDED and SPECIAL-USE; else the
	 * attributes LIST gives), each mailbox to fn in the order the
	 * server sends them; struct mailbox and its strings live only
	 * during the call. fn returning -1 stops the listing: SRC_FLOCAL.
	 * One round trip; the session's untagged caps apply.
	 */
	int (*mailboxes)(struct source *,
	    int (*fn)(void *arg, const struct mailbox *), void *arg);
	/* namespace: the personal namespace (NAMESPACE, RFC 2342): one
	 * round trip when the server offers NAMESPACE, none (ns->known 0)
	 * when it does not. Call it only when the prefix matters. */
	int (*namespace)(struct source *, struct src_namespace *ns);
	/*
	 * select_sync: open folder read-only as select(folder, rw = 0)
	 * does (the same LIST for src->delim unless INBOX, the same
	 * errors: SRC_FREFUSED for a folder the server lacks), fill *fi
	 * (highestmodseq included), and report the changes since known
	 * to chg; *kind says what was reported (enum src_sync). list,
	 * fetch etc. then work as after select. By the server's
	 * capabilities:
	 * - QRESYNC: "ENABLE QRESYNC" once per session, sent just before
	 *   the EXAMINE without waiting for its answer; with a known
	 *   state (uidvalidity and highestmodseq not 0)
	 *   EXAMINE f (QRESYNC (uidvalidity highestmodseq)), and the
	 *   changes arrive during it as VANISHED (EARLIER) (to vanished)
	 *   and FETCH (UID FLAGS MODSEQ) (to flags): DELTA. Without a
	 *   known modseq, a plain EXAMINE (HIGHESTMODSEQ comes, QRESYNC
	 *   being on) and the WHOLE listing below.
	 * - CONDSTORE only: EXAMINE f (CONDSTORE); when HIGHESTMODSEQ
	 *   moved, UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq); when
	 *   EXISTS or UIDNEXT differ from known's (or are 0), the UIDs
	 *   present, UID SEARCH [RETURN (ALL)] lo:hi by message number
	 *   5000 at a time (ESEARCH where offered), every gap between
	 *   them and up to UIDNEXT - 1 reported vanished: DELTA. An
	 *   unchanged folder costs no command after the EXAMINE.
	 * - Neither, [NOMODSEQ], no known modseq, or a HIGHESTMODSEQ
	 *   below the known one: UID FETCH 1:* (FLAGS) (over 50 000
	 *   messages: FETCH lo:hi (UID FLAGS) in parts), WHOLE; an empty
	 *   folder reports nothing (so all is gone).
	 * - known->uidvalidity 0 or not the folder's: nothing fetched,
	 *   VOID (with QRESYNC the server ignores stale parameters).
	 * Nothing is held per message. A QRESYNC delta of more than
	 * 100 000 responses hits SPEC's cap on untagged responses and
	 * fails (SRC_FPROTO); a retry with known->highestmodseq 0 takes
	 * the WHOLE path in parts. With VOID, ignore whatever chg got.
	 * Unsolicited VANISHED (QRESYNC on) later in the session is
	 * applied as EXPUNGE is (and counted by expunge).
	 */
	int (*select_sync)(struct source *, const char *folder,
	    const struct sync_known *known, const struct change_sink *chg,
	    struct folder_info *fi, enum src_sync *kind);

	/*
	 * Waiting for new mail, for the daemon's watcher: IMAP IDLE (RFC
	 * 2177) on the selected folder; NULL for POP3, which is polled.
	 * A server without IDLE, or one that refuses it, fails with
	 * SRC_FREFUSED.
	 *
	 * idle_start sends IDLE and waits (within the timeout) for the
	 * server's go-ahead. Then, whenever the socket (src_fd) is
	 * readable, idle_read takes the responses that have arrived,
	 * without waiting for more, and sets *news when one announced new
	 * mail; -1 when the connection is lost or the server ended IDLE.
	 * idle_done sends DONE and waits for the end of IDLE, setting
	 * *news as idle_read. noop sends NOOP and waits for its answer
	 * (outside IDLE). notify (NOTIFY, RFC 5465; SRC_FREFUSED where the
	 * server lacks it), before the folder is selected: new mail in
	 * the selected folder and in folders[0..n-1] is announced too.
	 */
	int (*idle_start)(struct source *);
	int (*idle_read)(struct source *, int *news);
	int (*idle_done)(struct source *, int *news);
	int (*noop)(struct source *);
	int (*notify)(struct source *, char *const *folders, size_t n);
	/*
	 * peek: what each of folders[0..n-1] (names as select takes them)
	 * holds now, into out[i], without opening any: one round trip for
	 * all of them, or none when a listing with cfg->peek_in_list said
	 * it already. NULL for a protocol with one folder (POP3). IMAP:
	 * STATUS (UIDVALIDITY UIDNEXT MESSAGES), and HIGHESTMODSEQ where
	 * the server offers CONDSTORE, pipelined (RFC 3501 section
	 * 6.3.10); the folder selected or pipelined behind the login is
	 * not asked about (RFC 3501 advises against STATUS on the selected
	 * mailbox), nor one whose name would need a synchronizing literal
	 * (a round trip of its own): both come back with known 0. A
	 * folder the server refuses: known 0, and the session goes on.
	 * -1 only when the session failed.
	 */
	int (*peek)(struct source *, const char *const *folders, size_t n,
	    struct folder_peek *out);
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
	/* Bytes of the message being fetched received so far, counted as
	 * the server counts a message's size (SPEC "Sizes"): IMAP the
	 * literal's bytes, POP3 the message's with CRLF line ends and
	 * without dot-stuffing. 0 at the sink's begin, updated before each
	 * write, whole at its end. */
	uint64_t received;
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
