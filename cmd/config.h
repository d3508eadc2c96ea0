/*
 * The config file: INI through inih, one section per account, keys as
 * ../shared/SPEC.md lists them, [defaults] applied to every account.
 * The whole file is validated before anything connects.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/source.h"

enum cfg_proto { CFG_POP3, CFG_IMAP };

/* Special-use attributes (RFC 6154), as bits. */
#define CFG_SU_ALL (1u << 0)
#define CFG_SU_ARCHIVE (1u << 1)
#define CFG_SU_DRAFTS (1u << 2)
#define CFG_SU_FLAGGED (1u << 3)
#define CFG_SU_JUNK (1u << 4)
#define CFG_SU_SENT (1u << 5)
#define CFG_SU_TRASH (1u << 6)

enum cfg_fkind {
	CFG_FNAME, /* a mailbox name */
	CFG_FPATTERN, /* with '*' or '%' */
	CFG_FSPECIAL /* a special-use attribute */
};

/* One item of folders (SPEC "Folder selection (IMAP)"); see folders.h. */
struct cfg_folder {
	char *text; /* as written, '!' included */
	enum cfg_fkind kind;
	int exclude; /* preceded by '!' */
	char *canon; /* name, pattern: as the server knows it (modified
			UTF-7, INBOX upper case); NULL for an attribute */
	char *utf8; /* name, pattern: in UTF-8, what is matched */
	unsigned special; /* CFG_SU_* of an attribute */
};

struct cfg_account {
	char *name;
	int line; /* line of the section header */
	enum cfg_proto protocol;
	char *host;
	int port; /* default from protocol and tls when unset */
	enum src_tls tls;
	int tls_verify;
	char *tls_ca_file; /* ~ expanded; NULL: system store */
	char *tls_fingerprint; /* "SHA256:" + lowercase hex, no ':' */
	char *tls_protocols; /* NULL: libtls default */
	char *user;
	char *password; /* NULL unless set; wiped on cfg_free */
	char *password_command;
	enum src_auth auth;
	int allow_plaintext;
	int log_syslog; /* log = syslog */
	char *maildir; /* ~ expanded */
	char **folders; /* the items of folders as written; default
			   {"INBOX"} */
	size_t nfolders;
	struct cfg_folder *fitems; /* the same items, parsed */
	size_t nfitems;
	int mirror; /* mirror = yes: a one-way copy (SPEC "Mirror") */
	int keep;
	int64_t delete_after; /* seconds; 0 never */
	uint64_t max_size; /* bytes; 0 no limit */
	uint64_t max_messages; /* 0 no limit */
	/* size_mismatch = delete: a message that arrived shorter than
	 * announced is deleted as the policy says; keep (0): it stays. */
	int size_mismatch_delete;
	int connect_timeout; /* seconds */
	int timeout; /* seconds */
	char *state_file; /* ~ expanded, default filled in */
	/* Outgoing (SMTP submission), tested by --check only. */
	char *smtp_host; /* NULL: not set, no SMTP check */
	int smtp_port; /* default 587, or 465 with smtp_tls = implicit */
	enum src_tls smtp_tls; /* default starttls */
	char *smtp_user; /* default user; NULL when smtp_host is */
	/* Staying connected (SPEC.md "Staying connected"). */
	char *on_new; /* shell command after a run that delivered; NULL */
	int idle; /* IMAP: wait for mail with IDLE in --daemon */
	int64_t poll_interval; /* seconds between polls in --daemon */
	int compress; /* IMAP COMPRESS=DEFLATE; default 1 */
};

struct cfg {
	char *path;
	struct cfg_account *acct;
	size_t nacct;
};

/*
 * Parse and validate the file at path. Returns the config, or NULL with
 * "FILE:LINE: key: what is wrong" (or "FILE: what is wrong" for the
 * file as a whole: missing, unreadable, permissions) in err. Every
 * error here is a configuration error (exit 78).
 */
struct cfg *cfg_load(const char *path, char *err, size_t errlen);

/* The default config path: $XDG_CONFIG_HOME/mailfetch/fetchrc (or
 * ~/.config/...) when it exists, else ~/.fetchrc. A new string. */
char *cfg_default_path(void);

/* The two places cfg_default_path looks, in its order: *xdg (NULL when
 * neither XDG_CONFIG_HOME nor HOME is set) and *home_rc. New strings. */
void cfg_default_paths(char **xdg, char **home_rc);

/* Find an account by section name; NULL when absent. */
struct cfg_account *cfg_find(struct cfg *, const char *name);

/* Free everything, wiping passwords. Accepts NULL. */
void cfg_free(struct cfg *);

/* Parse a duration: number with optional unit s, m, h, d (bare: days).
 * Returns 0 and *secs, or -1. Exposed for tests. */
int cfg_parse_duration(const char *s, int64_t *secs);

/*
 * Parse the WHEN of --at: "+DURATION" (as cfg_parse_duration: +30d,
 * +12h; a bare number is days), or a local date "YYYY-MM-DD" (its
 * 00:00) or "YYYY-MM-DDTHH:MM", read in the local time zone (TZ). A
 * local time that occurs twice (the hour the clocks go back) is its
 * first occurrence; one that does not occur (the clocks skip it) is
 * read with the UTC offset from before the change, as RFC 5545 section
 * 3.3.5 does: 02:30 on the night Europe/Berlin goes from 02:00 CET to
 * 03:00 CEST is 03:30 CEST. now is the current Unix time; nothing here
 * reads the clock. Returns 0 and in *at the Unix time, not before now;
 * or -1 with what is wrong, for a person, in err (a usage error).
 */
int cfg_parse_at(
    const char *s, int64_t now, int64_t *at, char *err, size_t errlen);

/* The shortest poll_interval in seconds: 30, or less when the testing
 * aid MAILFETCH_MIN_INTERVAL says so. */
int64_t cfg_min_interval(void);

/* Copy a value for an error message into dst: at most CFG_QUOTE bytes
 * of it (then "..."), control characters as '?'. Returns dst. */
#define CFG_QUOTE 64
const char *cfg_quote(char dst[CFG_QUOTE + 4], const char *v);

/* Parse a size: bytes with optional k, M, G (powers of 1024). Returns 0
 * and *bytes, or -1. Exposed for tests. */
int cfg_parse_size(const char *s, uint64_t *bytes);

#endif
