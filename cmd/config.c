/*
 * The config file. See config.h, and the "Config file" section of
 * SPEC.md for the keys.
 *
 * inih parses the file, but Debian's libinih (r55) reads it through a
 * 200-byte line buffer and cuts longer lines silently, ends a value at
 * whitespace followed by ';' (an inline comment), joins an indented line
 * to the previous key's value, and does not tell its handler line
 * numbers. So inih reads through a reader of ours that sees each raw
 * line first: it counts lines, follows the [section] headers itself
 * (inih calls the handler only for keys), and rejects every line that
 * inih would read as something other than what the user wrote.
 *
 * Values are checked as they are read, so that errors come in file
 * order and name the line where the value was written, and are kept as
 * text per section. Once the whole file is read, each account is built
 * from its own values and those of [defaults], and the checks that
 * involve several keys are made.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pwd.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../proto/imap.h"
#include "../tls/util.h"
#include "config.h"
#include "folders.h"

/*
 * inih's line buffer is 200 bytes; a line and its line ending must fit
 * with the terminating NUL, so a raw line of 200 bytes or more is
 * refused. inih also cuts section names at 49 bytes.
 */
#define CFG_MAXLINE 200
#define CFG_MAXNAME 49
#define CFG_MAXTIMEOUT 86400

enum cfg_key {
	K_PROTOCOL,
	K_HOST,
	K_PORT,
	K_TLS,
	K_TLS_VERIFY,
	K_TLS_CA_FILE,
	K_TLS_FINGERPRINT,
	K_TLS_PROTOCOLS,
	K_USER,
	K_PASSWORD,
	K_PASSWORD_COMMAND,
	K_AUTH,
	K_ALLOW_PLAINTEXT,
	K_MAILDIR,
	K_FOLDERS,
	K_KEEP,
	K_DELETE_AFTER,
	K_MAX_SIZE,
	K_MAX_MESSAGES,
	K_SIZE_MISMATCH,
	K_CONNECT_TIMEOUT,
	K_TIMEOUT,
	K_STATE_FILE,
	K_SMTP_HOST,
	K_SMTP_PORT,
	K_SMTP_TLS,
	K_SMTP_USER,
	K_LOG,
	K_ON_NEW,
	K_IDLE,
	K_POLL_INTERVAL,
	K_COMPRESS,
	K_MIRROR,
	K_N
};

/*
 * One section as written: its values, parsed once as they are read, and
 * the line each key was set on (0: not set), which is the section's
 * "set" mask.
 */
struct cfg_sect {
	char *name;
	int line;
	struct cfg_account v;
	int vline[K_N];
};

struct cfg_ctx {
	const char *path;
	FILE *fp;
	int lineno;
	int failed;
	int errline;
	char *err;
	size_t errlen;
	struct cfg_sect *sect;
	size_t nsect;
	long cur; /* the section being read; -1 before the first */
	long defs; /* [defaults]; -1 when absent */
	char line[CFG_MAXLINE + 1];
};

/* How a key's field is kept in struct cfg_account: copied and freed. */
enum cfg_ftype { F_INT, F_I64, F_U64, F_STR, F_SECRET, F_FOLDERS };

struct cfg_keydef;

/*
 * A value parser: set the field from the value, or return -1 with what
 * is wrong in msg. It never quotes a password.
 */
typedef int cfg_parse_fn(
    const struct cfg_keydef *, const char *, void *, char *, size_t);

/* One key: its name, its field, its parser and what limits it. */
struct cfg_keydef {
	const char *name;
	enum cfg_ftype type;
	size_t off; /* of the field in struct cfg_account */
	cfg_parse_fn *parse;
	uint64_t min, max; /* numbers */
	const char *const *words; /* words: NULL-terminated */
	const int *vals; /* the value of each word; NULL: its index */
	int exact; /* words: case matters */
	const char *what; /* "must be WHAT, not ..." */
};

static cfg_parse_fn p_word, p_num, p_host, p_path, p_fingerprint,
    p_tls_protocols, p_user, p_nonempty, p_log, p_measure, p_folders,
    p_poll_interval;

/* In the order of enum src_auth. */
static const char *const cfg_auths[]
    = { "auto", "user", "apop", "login", "plain", "cram-md5", "scram-sha-1",
	      "scram-sha-256", "xoauth2", "oauthbearer", NULL };
static const char *const w_bool[] = { "no", "yes", NULL };
static const char *const w_proto[] = { "pop3", "imap", NULL };
static const int v_proto[] = { CFG_POP3, CFG_IMAP };
static const char *const w_tls[] = { "implicit", "starttls", "none", NULL };
static const int v_tls[] = { SRC_TLS_IMPLICIT, SRC_TLS_STARTTLS, SRC_TLS_NONE };
static const char *const w_mismatch[] = { "keep", "delete", NULL };

/* Enum fields are set through an int. */
_Static_assert(sizeof(enum cfg_proto) == sizeof(int)
	&& sizeof(enum src_tls) == sizeof(int)
	&& sizeof(enum src_auth) == sizeof(int),
    "enum fields are ints");

#define F(field) offsetof(struct cfg_account, field)
#define BOOL(key, field)                                                       \
	{                                                                      \
		key, F_INT, F(field), p_word, 0, 0, w_bool, NULL, 0,           \
		    "yes or no"                                                \
	}
#define TLS(key, field)                                                        \
	{                                                                      \
		key, F_INT, F(field), p_word, 0, 0, w_tls, v_tls, 0,           \
		    "implicit, starttls or none"                               \
	}
#define PORT(key, field)                                                       \
	{                                                                      \
		key, F_INT, F(field), p_num, 1, 65535, NULL, NULL, 0,          \
		    "a number from 1 to 65535"                                 \
	}
#define TIMEOUT(key, field)                                                    \
	{                                                                      \
		key, F_INT, F(field), p_num, 1, CFG_MAXTIMEOUT, NULL, NULL, 0, \
		    "a number of seconds from 1 to 86400"                      \
	}
#define STR(key, type, field, parse, what)                                     \
	{                                                                      \
		key, type, F(field), parse, 0, 0, NULL, NULL, 0, what          \
	}

/* Every key, in the order of enum cfg_key. */
static const struct cfg_keydef cfg_keys[K_N] = {
	[K_PROTOCOL] = { "protocol", F_INT, F(protocol), p_word, 0, 0, w_proto,
	    v_proto, 0, "pop3 or imap" },
	[K_HOST] = STR("host", F_STR, host, p_host, "a host name or address"),
	[K_PORT] = PORT("port", port),
	[K_TLS] = TLS("tls", tls),
	[K_TLS_VERIFY] = BOOL("tls_verify", tls_verify),
	[K_TLS_CA_FILE] = STR("tls_ca_file", F_STR, tls_ca_file, p_path, NULL),
	[K_TLS_FINGERPRINT]
	= STR("tls_fingerprint", F_STR, tls_fingerprint, p_fingerprint, NULL),
	[K_TLS_PROTOCOLS]
	= STR("tls_protocols", F_STR, tls_protocols, p_tls_protocols, NULL),
	[K_USER] = STR("user", F_STR, user, p_user, NULL),
	[K_PASSWORD] = STR("password", F_SECRET, password, p_nonempty,
	    "is empty; remove the line or set a password"),
	[K_PASSWORD_COMMAND] = STR("password_command", F_SECRET,
	    password_command, p_nonempty, "must be a shell command, not empty"),
	[K_AUTH] = { "auth", F_INT, F(auth), p_word, 0, 0, cfg_auths, NULL, 0,
	    "auto, user, apop, login, plain, cram-md5, scram-sha-1, "
	    "scram-sha-256, xoauth2 or oauthbearer" },
	[K_ALLOW_PLAINTEXT] = BOOL("allow_plaintext", allow_plaintext),
	[K_MAILDIR] = STR("maildir", F_STR, maildir, p_path, NULL),
	[K_FOLDERS] = STR("folders", F_FOLDERS, folders, p_folders, NULL),
	[K_KEEP] = BOOL("keep", keep),
	[K_DELETE_AFTER] = STR("delete_after", F_I64, delete_after, p_measure,
	    "a number with unit s, m, h or d (a bare number is days; 0 "
	    "never)"),
	[K_MAX_SIZE] = STR("max_size", F_U64, max_size, p_measure,
	    "a number of bytes with optional unit k, M or G (0 no limit)"),
	[K_MAX_MESSAGES] = { "max_messages", F_U64, F(max_messages), p_num, 0,
	    UINT64_MAX, NULL, NULL, 0, "a number of messages (0 no limit)" },
	[K_SIZE_MISMATCH] = { "size_mismatch", F_INT, F(size_mismatch_delete),
	    p_word, 0, 0, w_mismatch, NULL, 1, "keep or delete" },
	[K_CONNECT_TIMEOUT] = TIMEOUT("connect_timeout", connect_timeout),
	[K_TIMEOUT] = TIMEOUT("timeout", timeout),
	[K_STATE_FILE] = STR("state_file", F_STR, state_file, p_path, NULL),
	[K_SMTP_HOST]
	= STR("smtp_host", F_STR, smtp_host, p_host, "a host name or address"),
	[K_SMTP_PORT] = PORT("smtp_port", smtp_port),
	[K_SMTP_TLS] = TLS("smtp_tls", smtp_tls),
	[K_SMTP_USER] = STR("smtp_user", F_STR, smtp_user, p_user, NULL),
	[K_LOG] = STR("log", F_INT, log_syslog, p_log, NULL),
	[K_ON_NEW] = STR("on_new", F_STR, on_new, p_nonempty,
	    "must be a shell command, not empty"),
	[K_IDLE] = BOOL("idle", idle),
	[K_POLL_INTERVAL]
	= STR("poll_interval", F_I64, poll_interval, p_poll_interval, NULL),
	[K_COMPRESS] = BOOL("compress", compress),
	[K_MIRROR] = BOOL("mirror", mirror),
};

#undef F
#undef BOOL
#undef TLS
#undef PORT
#undef TIMEOUT
#undef STR

static void cfg_err(struct cfg_ctx *, int, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Record the first error as "FILE:LINE: KEY: message", leaving out the
 * key when it is NULL and the line when it is 0.
 */
static void
cfg_err(struct cfg_ctx *c, int line, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	c->errline = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err == NULL || c->errlen == 0)
		return;
	if (line > 0 && key != NULL)
		snprintf(c->err, c->errlen, "%s:%d: %s: %s", c->path, line, key,
		    msg);
	else if (line > 0)
		snprintf(c->err, c->errlen, "%s:%d: %s", c->path, line, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
}

const char *
cfg_quote(char dst[CFG_QUOTE + 4], const char *v)
{
	size_t n = strlen(v);

	src_quote(dst, CFG_QUOTE + 1, v, n);
	if (n > CFG_QUOTE)
		memcpy(dst + CFG_QUOTE, "...", 4);
	return dst;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* The home directory: $HOME, else the password database. A new string. */
static char *
home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && *h != '\0')
		return xstrdup(h);
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir != NULL
	    && *pw->pw_dir != '\0')
		return xstrdup(pw->pw_dir);
	return NULL;
}

/*
 * An XDG base directory variable: its value when it is an absolute path,
 * else NULL (the XDG Base Directory Specification says to ignore a
 * relative one).
 */
static const char *
xdg_dir(const char *var)
{
	const char *v = getenv(var);

	return v != NULL && v[0] == '/' ? v : NULL;
}

/* Expand "~" and "~/..." with the home directory into a new string. */
static int
expand_path(const char *v, char **out, char *msg, size_t len)
{
	char q[CFG_QUOTE + 4], *home;
	size_t n;

	if (*v == '\0') {
		snprintf(msg, len, "must be a path, not empty");
		return -1;
	}
	if (v[0] != '~') {
		*out = xstrdup(v);
		return 0;
	}
	if (v[1] != '\0' && v[1] != '/') {
		snprintf(msg, len,
		    "\"~user\" is not supported, in \"%s\"; write the full "
		    "path "
		    "or start it with ~/",
		    cfg_quote(q, v));
		return -1;
	}
	if ((home = home_dir()) == NULL) {
		snprintf(msg, len,
		    "cannot expand ~: HOME is not set and the user has no home "
		    "directory");
		return -1;
	}
	n = strlen(home);
	if (v[1] == '/' && n > 0 && home[n - 1] == '/')
		home[n - 1] = '\0';
	xasprintf(out, "%s%s", home, v + 1);
	free(home);
	return 0;
}

static void
set_str(char **p, const char *v)
{
	free(*p);
	*p = xstrdup(v);
}

/* Parse a whole string of decimal digits, without sign or spaces. */
static int
parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t n = 0;
	const char *p;
	unsigned d;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (p == s)
		return -1;
	*end = p;
	*out = n;
	return 0;
}

static int
parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t n;

	if (parse_u64(s, &end, &n) == -1 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* A number's units: its suffix and what it multiplies by. */
struct cfg_unit {
	const char *suffix;
	uint64_t mult;
};

/* A number with one of the units (NULL-terminated), at most max. */
static int
parse_units(
    const char *s, const struct cfg_unit *u, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t n;

	if (parse_u64(s, &end, &n) == -1)
		return -1;
	for (; u->suffix != NULL; u++)
		if (strcmp(end, u->suffix) == 0)
			break;
	if (u->suffix == NULL || n > max / u->mult)
		return -1;
	*out = n * u->mult;
	return 0;
}

int
cfg_parse_duration(const char *s, int64_t *secs)
{
	static const struct cfg_unit units[] = { { "s", 1 }, { "m", 60 },
		{ "h", 3600 }, { "d", 86400 }, { "", 86400 }, { NULL, 0 } };
	uint64_t n;

	if (parse_units(s, units, INT64_MAX, &n) == -1)
		return -1;
	*secs = (int64_t)n;
	return 0;
}

int
cfg_parse_size(const char *s, uint64_t *bytes)
{
	static const struct cfg_unit units[]
	    = { { "", 1 }, { "k", 1024 }, { "M", 1024 * 1024 },
		      { "G", 1024 * 1024 * 1024 }, { NULL, 0 } };

	return parse_units(s, units, UINT64_MAX, bytes);
}

/* The WHEN of --at. */

#define AT_FORMS                                                               \
	"+DURATION (a number with unit s, m, h or d, as for delete_after: "    \
	"+30d, +12h), YYYY-MM-DD or YYYY-MM-DDTHH:MM"

/* n decimal digits at s into *out. */
static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[]
	    = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Whether the local time at t reads the date and time of want. */
static int
local_reads(time_t t, const struct tm *want)
{
	struct tm lt;

	return localtime_r(&t, &lt) != NULL && lt.tm_year == want->tm_year
	    && lt.tm_mon == want->tm_mon && lt.tm_mday == want->tm_mday
	    && lt.tm_hour == want->tm_hour && lt.tm_min == want->tm_min;
}

/*
 * The Unix time at which the local clock reads want (see cfg_parse_at
 * for the hour that occurs twice and the one that does not occur).
 * mktime with tm_isdst -1 finds it, but may pick either reading of an
 * hour that occurs twice, and normalises one that does not occur in a
 * way of its own: every hint is tried, and only a time at which the
 * clock reads want counts.
 */
static int64_t
local_instant(const struct tm *want)
{
	static const int hints[] = { -1, 0, 1 };
	struct tm tm, lt;
	time_t t, probe;
	int64_t best = 0, days, wall;
	size_t i;
	int found = 0;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		tm = *want;
		tm.tm_isdst = hints[i];
		t = mktime(&tm);
		if (local_reads(t, want) && (!found || (int64_t)t < best)) {
			best = (int64_t)t;
			found = 1;
		}
	}
	if (found)
		return best;
	/* Skipped by the clocks: read with the offset in force two days
	 * before (no zone changes its offset twice within two days). */
	days = days_from_civil(
	    want->tm_year + 1900LL, want->tm_mon + 1, want->tm_mday);
	wall = days * 86400 + want->tm_hour * 3600 + want->tm_min * 60;
	probe = (time_t)(wall - 2 * 86400);
	if (localtime_r(&probe, &lt) == NULL)
		return wall;
	return wall - lt.tm_gmtoff;
}

/* "YYYY-MM-DD[THH:MM]" into *tm, the fields checked against the
 * calendar. */
static int
parse_local_date(const char *s, struct tm *tm, char *err, size_t errlen)
{
	size_t n = strlen(s);
	int y, mo, d, h = 0, mi = 0;

	if ((n != 10 && n != 16) || digits(s, 4, &y) == -1 || s[4] != '-'
	    || digits(s + 5, 2, &mo) == -1 || s[7] != '-'
	    || digits(s + 8, 2, &d) == -1
	    || (n == 16
		&& (s[10] != 'T' || digits(s + 11, 2, &h) == -1 || s[13] != ':'
		    || digits(s + 14, 2, &mi) == -1))) {
		snprintf(err, errlen, "expected %s", AT_FORMS);
		return -1;
	}
	if (mo < 1 || mo > 12) {
		snprintf(err, errlen, "there is no month %02d", mo);
		return -1;
	}
	if (d < 1 || d > days_in_month(y, mo)) {
		snprintf(err, errlen, "%04d-%02d has no day %02d (it has %d)",
		    y, mo, d, days_in_month(y, mo));
		return -1;
	}
	if (h > 23 || mi > 59) {
		snprintf(err, errlen, "there is no time %02d:%02d", h, mi);
		return -1;
	}
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = mo - 1;
	tm->tm_mday = d;
	tm->tm_hour = h;
	tm->tm_min = mi;
	return 0;
}

/* A Unix time as the local clock reads it, for a person. */
static void
fmt_local(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL
	    || strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

int
cfg_parse_at(const char *s, int64_t now, int64_t *at, char *err, size_t errlen)
{
	struct tm tm;
	char a[64], b[64];
	int64_t secs, t;

	if (s[0] == '+') {
		if (cfg_parse_duration(s + 1, &secs) == -1) {
			snprintf(err, errlen, "expected %s", AT_FORMS);
			return -1;
		}
		if (secs > INT64_MAX - now) {
			snprintf(err, errlen, "too far in the future");
			return -1;
		}
		*at = now + secs;
		return 0;
	}
	if (parse_local_date(s, &tm, err, errlen) == -1)
		return -1;
	t = local_instant(&tm);
	if (t < now) {
		fmt_local(t, a, sizeof(a));
		fmt_local(now, b, sizeof(b));
		snprintf(err, errlen,
		    "that is in the past (%s, and it is now %s); --at plans a "
		    "run to come",
		    a, b);
		return -1;
	}
	*at = t;
	return 0;
}

/* Index of v in a NULL-terminated list of words, or -1. */
static int
word(const char *v, const char *const *words, int exact)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if ((exact ? strcmp(v, words[i]) : strcasecmp(v, words[i]))
		    == 0)
			return i;
	return -1;
}

/* The common error: "must be WHAT, not "VALUE"". Returns -1. */
static int
not_what(const struct cfg_keydef *k, const char *v, char *msg, size_t len)
{
	char q[CFG_QUOTE + 4];

	snprintf(msg, len, "must be %s, not \"%s\"", k->what, cfg_quote(q, v));
	return -1;
}

/* One of the key's words (yes/no, pop3/imap, ...). */
static int
p_word(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	int i;

	if ((i = word(v, k->words, k->exact)) == -1)
		return not_what(k, v, msg, len);
	*(int *)field = k->vals != NULL ? k->vals[i] : i;
	return 0;
}

/* A decimal number from k->min to k->max, into an int or a uint64_t. */
static int
p_num(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	uint64_t n;

	if (parse_num(v, k->min, k->max, &n) == -1)
		return not_what(k, v, msg, len);
	if (k->type == F_INT)
		*(int *)field = (int)n;
	else
		*(uint64_t *)field = n;
	return 0;
}

/* A number with a unit: a duration (int64_t) or a size (uint64_t). */
static int
p_measure(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	int rc;

	if (k->type == F_I64)
		rc = cfg_parse_duration(v, field);
	else
		rc = cfg_parse_size(v, field);
	return rc == -1 ? not_what(k, v, msg, len) : 0;
}

/* A string that must not be empty; k->what says so. */
static int
p_nonempty(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	if (*v == '\0') {
		snprintf(msg, len, "%s", k->what);
		return -1;
	}
	set_str(field, v);
	return 0;
}

static int
p_host(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	if (*v == '\0') {
		snprintf(msg, len, "must be %s, not empty", k->what);
		return -1;
	}
	if (has_ctl(v) || strchr(v, ' ') != NULL)
		return not_what(k, v, msg, len);
	set_str(field, v);
	return 0;
}

static int
p_path(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	char *p;

	(void)k;
	if (expand_path(v, &p, msg, len) == -1)
		return -1;
	free(*(char **)field);
	*(char **)field = p;
	return 0;
}

/*
 * "SHA256:" and 64 hex digits, in any case, with any ':' separators.
 * Kept as tls_peer_cert_hash(3) reports it: "SHA256:" and lowercase hex.
 */
static int
p_fingerprint(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	char q[CFG_QUOTE + 4], hex[65];
	const char *p;
	size_t n = 0;

	(void)k;
	if (strncasecmp(v, "SHA256:", 7) != 0)
		goto bad;
	for (p = v + 7; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == 64)
			goto bad;
		hex[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 64)
		goto bad;
	hex[n] = '\0';
	free(*(char **)field);
	xasprintf((char **)field, "SHA256:%s", hex);
	return 0;
bad:
	snprintf(msg, len,
	    "must be SHA256: and the 64 hex digits of the certificate's "
	    "SHA-256 hash, not \"%s\"",
	    cfg_quote(q, v));
	return -1;
}

/* The words of tls_config_parse_protocols(3), those of LibreTLS 3.7. */
enum { P10 = 1, P11 = 2, P12 = 4, P13 = 8, PALL = P10 | P11 | P12 | P13 };

static const struct {
	const char *name;
	unsigned protos;
} tls_words[] = {
	{ "all", PALL },
	{ "legacy", PALL },
	{ "default", P12 | P13 },
	{ "secure", P12 | P13 },
	{ "tlsv1", PALL },
	{ "tlsv1.0", P10 },
	{ "tlsv1.1", P11 },
	{ "tlsv1.2", P12 },
	{ "tlsv1.3", P13 },
};

/* The protocols of one word, or 0 when it names none. */
static unsigned
tls_word(const char *w)
{
	size_t i;

	for (i = 0; i < sizeof(tls_words) / sizeof(tls_words[0]); i++)
		if (strcasecmp(w, tls_words[i].name) == 0)
			return tls_words[i].protos;
	return 0;
}

/*
 * The syntax tls_config_parse_protocols(3) accepts: words separated by
 * ',' or ':', each after optional spaces or tabs and an optional '!',
 * which removes the word's protocols (from all of them when it comes
 * first). The set must not end up empty.
 */
static int
p_tls_protocols(const struct cfg_keydef *k, const char *v, void *field,
    char *msg, size_t len)
{
	char q[CFG_QUOTE + 4], *s, *rest, *w;
	unsigned protos = 0, proto;
	int neg;

	(void)k;
	rest = s = xstrdup(v);
	while ((w = strsep(&rest, ",:")) != NULL) {
		w += strspn(w, " \t");
		if ((neg = *w == '!')) {
			w++;
			if (protos == 0)
				protos = PALL;
		}
		if ((proto = tls_word(w)) == 0) {
			snprintf(msg, len,
			    "\"%s\" is not a TLS protocol; write words such as "
			    "tlsv1.2, tlsv1.3, secure or all, separated by ',' "
			    "(a '!' before a word removes it)",
			    cfg_quote(q, w));
			free(s);
			return -1;
		}
		protos = neg ? protos & ~proto : protos | proto;
	}
	free(s);
	if (protos == 0) {
		snprintf(msg, len, "\"%s\" leaves no TLS protocol to use",
		    cfg_quote(q, v));
		return -1;
	}
	set_str(field, v);
	return 0;
}

static int
p_user(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	(void)k;
	if (*v == '\0') {
		snprintf(msg, len, "must be a login name, not empty");
		return -1;
	}
	if (has_ctl(v)) {
		snprintf(msg, len, "must not contain control characters");
		return -1;
	}
	set_str(field, v);
	return 0;
}

/* log = stderr (the default) or syslog: summaries and errors also go to
 * syslog(3), as --syslog does for every account. */
static int
p_log(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	static const char *const words[] = { "stderr", "syslog", NULL };
	int i;

	(void)k;
	if ((i = word(v, words, 1)) == -1) {
		snprintf(msg, len, "must be stderr or syslog");
		return -1;
	}
	*(int *)field = i;
	return 0;
}

static void
free_folders(char **f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(f[i]);
	free(f);
}

static void
free_items(struct cfg_folder *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		folders_item_free(&it[i]);
	free(it);
}

/* Set the account's folders, as written and parsed. */
static void
set_folders(struct cfg_account *a, char **f, struct cfg_folder *it, size_t n)
{
	free_folders(a->folders, a->nfolders);
	free_items(a->fitems, a->nfitems);
	a->folders = f;
	a->fitems = it;
	a->nfolders = a->nfitems = n;
}

/* Item b names what item a named: say so. */
static void
twice(const struct cfg_folder *a, const struct cfg_folder *b, char *msg,
    size_t len)
{
	char q[CFG_QUOTE + 4], q2[CFG_QUOTE + 4];

	if (strcmp(a->text, b->text) == 0)
		snprintf(msg, len, "names \"%s\" twice", cfg_quote(q, b->text));
	else if (a->kind == CFG_FSPECIAL)
		snprintf(msg, len,
		    "\"%s\" and \"%s\" are one attribute; name it once",
		    cfg_quote(q, a->text), cfg_quote(q2, b->text));
	else
		snprintf(msg, len,
		    "\"%s\" and \"%s\" are one mailbox (%s on the server); "
		    "name it once",
		    cfg_quote(q, a->text), cfg_quote(q2, b->text), b->canon);
}

/* The next item of a comma-separated list, trimmed; NULL at the end. */
static char *
next_item(char **rest)
{
	char *w, *end;

	if ((w = strsep(rest, ",")) == NULL)
		return NULL;
	while (isspace((unsigned char)*w))
		w++;
	end = w + strlen(w);
	while (end > w && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return w;
}

/*
 * Comma-separated items (folders.h: names, patterns, special-use
 * attributes, each optionally after '!'), none empty, and no mailbox
 * named twice: two names are one mailbox when the server knows them by
 * the same name (imap_mailbox_canon), as INBOX and inbox, or a name in
 * UTF-8 and in modified UTF-7; two patterns are one when they are the
 * same string so.
 */
static int
p_folders(const struct cfg_keydef *k, const char *v, void *field, char *msg,
    size_t len)
{
	struct cfg_account *a = (struct cfg_account *)((char *)field
	    - offsetof(struct cfg_account, folders));
	char q[CFG_QUOTE + 4], *s, *rest, *w, **f = NULL;
	struct cfg_folder *it = NULL;
	size_t i, n = 0;

	(void)k;
	rest = s = xstrdup(v);
	while ((w = next_item(&rest)) != NULL) {
		if (*w == '\0') {
			snprintf(msg, len,
			    "must be mailbox names separated by ',', and "
			    "\"%s\" has an empty one",
			    cfg_quote(q, v));
			goto fail;
		}
		it = xreallocarray(it, n + 1, sizeof(*it));
		if (folders_parse_item(w, &it[n], msg, len) == -1)
			goto fail;
		for (i = 0; i < n; i++)
			if (folders_same(&it[i], &it[n]))
				break;
		f = xreallocarray(f, n + 1, sizeof(*f));
		f[n] = xstrdup(w);
		if (i < n++) {
			twice(&it[i], &it[n - 1], msg, len);
			goto fail;
		}
	}
	free(s);
	set_folders(a, f, it, n);
	return 0;
fail:
	free(s);
	free_folders(f, n);
	free_items(it, n);
	return -1;
}

/*
 * The shortest poll_interval is 30 seconds. MAILFETCH_MIN_INTERVAL
 * (seconds) lowers it, for tests only: see mailfetch(1), ENVIRONMENT.
 */
int64_t
cfg_min_interval(void)
{
	const char *e = getenv("MAILFETCH_MIN_INTERVAL");
	uint64_t n;

	if (e != NULL && parse_num(e, 1, 30, &n) == 0)
		return (int64_t)n;
	return 30;
}

static int
p_poll_interval(const struct cfg_keydef *k, const char *v, void *field,
    char *msg, size_t len)
{
	char q[CFG_QUOTE + 4];
	int64_t min = cfg_min_interval(), *secs = field;

	(void)k;
	if (cfg_parse_duration(v, secs) == -1 || *secs < min) {
		snprintf(msg, len,
		    "must be a number with unit s, m, h or d (a bare number "
		    "is days), at least %llds, not \"%s\"",
		    (long long)min, cfg_quote(q, v));
		return -1;
	}
	return 0;
}

/* Parse key k's value into its field of account a. */
static int
key_parse(int k, struct cfg_account *a, const char *v, char *msg, size_t len)
{
	return cfg_keys[k].parse(
	    &cfg_keys[k], v, (char *)a + cfg_keys[k].off, msg, len);
}

/* Copy the folders, as written and parsed. */
static void
copy_folders(struct cfg_account *to, const struct cfg_account *from)
{
	char **f = xcalloc(from->nfolders, sizeof(*f));
	struct cfg_folder *it = xcalloc(from->nfitems, sizeof(*it));
	size_t i;

	for (i = 0; i < from->nfolders; i++) {
		f[i] = xstrdup(from->folders[i]);
		it[i] = from->fitems[i];
		it[i].text = xstrdup(it[i].text);
		if (it[i].canon != NULL)
			it[i].canon = xstrdup(it[i].canon);
		if (it[i].utf8 != NULL)
			it[i].utf8 = xstrdup(it[i].utf8);
	}
	set_folders(to, f, it, from->nfolders);
}

/* Copy key k's field from account from to account to. */
static void
key_copy(int k, struct cfg_account *to, const struct cfg_account *from)
{
	const char *src = (const char *)from + cfg_keys[k].off;
	char *dst = (char *)to + cfg_keys[k].off;

	switch (cfg_keys[k].type) {
	case F_INT:
		memcpy(dst, src, sizeof(int));
		break;
	case F_I64:
	case F_U64:
		memcpy(dst, src, sizeof(uint64_t));
		break;
	case F_STR:
	case F_SECRET:
		set_str((char **)dst, *(char *const *)src);
		break;
	case F_FOLDERS:
		copy_folders(to, from);
		break;
	}
}

/* Free every field of the account, wiping the secrets. */
static void
acct_clear(struct cfg_account *a)
{
	char **p;
	int k;

	for (k = 0; k < K_N; k++) {
		p = (char **)((char *)a + cfg_keys[k].off);
		if (cfg_keys[k].type == F_STR)
			free(*p);
		else if (cfg_keys[k].type == F_SECRET)
			freezero_str(*p);
	}
	free(a->name);
	free_folders(a->folders, a->nfolders);
	free_items(a->fitems, a->nfitems);
	memset(a, 0, sizeof(*a));
}

static int
key_index(const char *name)
{
	int k;

	for (k = 0; k < K_N; k++)
		if (strcmp(name, cfg_keys[k].name) == 0)
			return k;
	return -1;
}

/*
 * Copy the first n bytes of s to buf when they look like a key, for an
 * error message; else NULL (they could be a password written without
 * its key).
 */
static const char *
ident(const char *s, size_t n, char *buf, size_t len)
{
	size_t i;

	if (n == 0 || n >= len)
		return NULL;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* The key of a "key = value" line, as ident() gives it. */
static const char *
line_key(const char *s, char *buf, size_t len)
{
	size_t n = strcspn(s, "=:");

	if (*s == '[' || s[n] == '\0')
		return NULL;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return ident(s, n, buf, len);
}

static int
name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-@+", *s) == NULL)
			return 0;
	return 1;
}

/* Is name fit for a section: not empty, short, of the allowed
 * characters, not [defaults] misspelt, not given before? */
static int
section_name_ok(struct cfg_ctx *c, const char *name)
{
	char q[CFG_QUOTE + 4];
	size_t i;

	if (*name == '\0')
		cfg_err(c, c->lineno, "[]", "the account name is empty");
	else if (strlen(name) > CFG_MAXNAME)
		cfg_err(c, c->lineno, NULL, "account name longer than %d bytes",
		    CFG_MAXNAME);
	else if (!name_ok(name))
		cfg_err(c, c->lineno, NULL,
		    "[%s]: account names may contain only letters, digits and "
		    ". _ - @ +",
		    cfg_quote(q, name));
	else if (strcasecmp(name, "defaults") == 0 && strcmp(name, "defaults"))
		cfg_err(c, c->lineno, NULL,
		    "[%s]: write [defaults] for the defaults section; the name "
		    "is reserved",
		    name);
	for (i = 0; i < c->nsect && !c->failed; i++)
		if (strcmp(c->sect[i].name, name) == 0)
			cfg_err(c, c->lineno, NULL,
			    "[%s]: section given twice (first at line %d)",
			    name, c->sect[i].line);
	return !c->failed;
}

/* A "[name]" line: start a section. */
static int
start_section(struct cfg_ctx *c, const char *s)
{
	const char *end, *p;
	struct cfg_sect *sect;
	char *name;

	if ((end = strchr(s + 1, ']')) == NULL) {
		cfg_err(c, c->lineno, NULL,
		    "section header without ']'; write [account]");
		return -1;
	}
	for (p = end + 1; isspace((unsigned char)*p); p++)
		;
	if (*p != '\0') {
		cfg_err(c, c->lineno, NULL,
		    "text after the section header's ']'; comments must be on "
		    "a line of their own");
		return -1;
	}
	name = xstrndup(s + 1, (size_t)(end - (s + 1)));
	if (!section_name_ok(c, name)) {
		free(name);
		return -1;
	}
	c->sect = xreallocarray(c->sect, c->nsect + 1, sizeof(*c->sect));
	sect = &c->sect[c->nsect];
	memset(sect, 0, sizeof(*sect));
	sect->name = name;
	sect->line = c->lineno;
	c->cur = (long)c->nsect;
	if (strcmp(name, "defaults") == 0)
		c->defs = c->cur;
	c->nsect++;
	return 0;
}

/*
 * Check one line, without its line ending, for what inih would misread,
 * and follow section headers.
 */
static int
check_line(struct cfg_ctx *c, const char *line)
{
	char kbuf[CFG_MAXNAME + 1];
	const char *s = line, *key, *p;

	/* inih skips a UTF-8 byte order mark at the start of the file. */
	if (c->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	for (p = s; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0' || *p == ';' || *p == '#')
		return 0;
	key = line_key(p, kbuf, sizeof(kbuf));
	if (p != s) {
		cfg_err(c, c->lineno, key,
		    "the line starts with whitespace, so it would be joined to "
		    "the previous value; remove the indentation");
		return -1;
	}
	for (p = s + 1; *p != '\0'; p++) {
		if (*p != ';' || !isspace((unsigned char)p[-1]))
			continue;
		if (key != NULL)
			cfg_err(c, c->lineno, key,
			    "the value contains whitespace followed by ';', "
			    "where it would be cut off as a comment; comments "
			    "must be on a line of their own, and a password "
			    "like this must come from password_command");
		else
			cfg_err(c, c->lineno, NULL,
			    "whitespace followed by ';' would start a comment "
			    "here; comments must be on a line of their own");
		return -1;
	}
	if (*s == '[')
		return start_section(c, s);
	if (s[strcspn(s, "=:")] == '\0') {
		cfg_err(c, c->lineno, NULL,
		    "expected \"key = value\", \"[account]\" or a comment");
		return -1;
	}
	if (c->cur < 0) {
		cfg_err(c, c->lineno, key,
		    "comes before any [account] section header");
		return -1;
	}
	return 0;
}

/*
 * The reader inih calls like fgets(3): hand it the next line once it is
 * checked, or NULL to end the parse (at the end of the file, or at the
 * first error).
 */
static char *
reader(char *str, int num, void *arg)
{
	struct cfg_ctx *c = arg;
	char kbuf[CFG_MAXNAME + 1];
	const char *key;
	size_t n = 0, len, max;
	int ch, nul = 0;

	if (c->failed)
		return NULL;
	while ((ch = getc(c->fp)) != EOF) {
		if (n < sizeof(c->line) - 1)
			c->line[n] = (char)ch;
		if (ch == '\0')
			nul = 1;
		n++;
		if (ch == '\n')
			break;
	}
	if (ferror(c->fp)) {
		cfg_err(c, 0, NULL, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (n == 0)
		return NULL;
	c->lineno++;
	max = num > 0 && (size_t)num < CFG_MAXLINE ? (size_t)num : CFG_MAXLINE;
	if (n >= max) {
		c->line[sizeof(c->line) - 1] = '\0';
		for (key = c->line; isspace((unsigned char)*key); key++)
			;
		key = line_key(key, kbuf, sizeof(kbuf));
		cfg_err(c, c->lineno, key,
		    "the line is %zu bytes long with its line ending; lines "
		    "must be shorter than %zu bytes",
		    n, max);
		return NULL;
	}
	if (nul) {
		cfg_err(c, c->lineno, NULL, "the line contains a NUL byte");
		return NULL;
	}
	len = n;
	c->line[len] = '\0';
	if (len > 0 && c->line[len - 1] == '\n')
		c->line[--len] = '\0';
	if (len > 0 && c->line[len - 1] == '\r')
		c->line[--len] = '\0';
	if (check_line(c, c->line) == -1)
		return NULL;
	memcpy(str, c->line, len);
	if (len + 2 <= (size_t)num)
		str[len++] = '\n';
	str[len] = '\0';
	return str;
}

/* inih's callback for each "key = value": parse the value into its
 * section's values. */
static int
handler(void *arg, const char *section, const char *name, const char *value)
{
	struct cfg_ctx *c = arg;
	struct cfg_sect *s;
	char msg[512], kbuf[CFG_MAXNAME + 1];
	int k;

	if (c->failed)
		return 0;
	if (c->cur < 0 || strcmp(c->sect[c->cur].name, section) != 0) {
		cfg_err(
		    c, c->lineno, NULL, "key outside of any [account] section");
		return 0;
	}
	s = &c->sect[c->cur];
	if ((k = key_index(name)) == -1) {
		cfg_err(c, c->lineno,
		    ident(name, strlen(name), kbuf, sizeof(kbuf)),
		    "unknown key");
		return 0;
	}
	if (s->vline[k] != 0) {
		cfg_err(c, c->lineno, name,
		    "given twice in [%s] (first at line %d)", s->name,
		    s->vline[k]);
		return 0;
	}
	if (key_parse(k, &s->v, value, msg, sizeof(msg)) == -1) {
		cfg_err(c, c->lineno, name, "%s", msg);
		return 0;
	}
	s->vline[k] = c->lineno;
	return 1;
}

static char *
default_state_file(const char *name)
{
	const char *x;
	char *home, *p;

	if ((x = xdg_dir("XDG_STATE_HOME")) != NULL) {
		xasprintf(&p, "%s/mailfetch/%s.state", x, name);
		return p;
	}
	if ((home = home_dir()) == NULL)
		return NULL;
	xasprintf(&p, "%s/.local/state/mailfetch/%s.state", home, name);
	free(home);
	return p;
}

/*
 * The outgoing keys. smtp_port, smtp_tls and smtp_user mean nothing
 * without smtp_host: an account that sets them itself must set it too
 * ([defaults] may set them for the accounts that do). smtp_tls = none
 * follows the rule of tls = none.
 */
static int
check_smtp(struct cfg_ctx *c, const struct cfg_sect *s, struct cfg_account *a,
    const int *line)
{
	static const int keys[] = { K_SMTP_PORT, K_SMTP_TLS, K_SMTP_USER };
	size_t i;
	int k;

	if (line[K_SMTP_HOST] == 0) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			k = keys[i];
			if (s->vline[k] == 0)
				continue;
			cfg_err(c, s->vline[k], cfg_keys[k].name,
			    "[%s] has no smtp_host; set smtp_host, or remove "
			    "%s",
			    s->name, cfg_keys[k].name);
			return -1;
		}
		a->smtp_port = 0;
		a->smtp_tls = SRC_TLS_STARTTLS;
		free(a->smtp_user);
		a->smtp_user = NULL;
		return 0;
	}
	if (a->smtp_tls == SRC_TLS_NONE && !a->allow_plaintext) {
		cfg_err(c, line[K_SMTP_TLS], "smtp_tls",
		    "none: plaintext authentication is refused, since it "
		    "would send the login unencrypted; use starttls or "
		    "implicit, or set allow_plaintext = yes to accept it");
		return -1;
	}
	if (line[K_SMTP_PORT] == 0)
		a->smtp_port = a->smtp_tls == SRC_TLS_IMPLICIT ? 465 : 587;
	if (a->smtp_user == NULL)
		a->smtp_user = xstrdup(a->user);
	return 0;
}

/* The values of an account that sets nothing. */
static void
acct_defaults(struct cfg_account *a, const struct cfg_sect *s)
{
	a->name = xstrdup(s->name);
	a->line = s->line;
	a->protocol = CFG_POP3;
	a->tls = SRC_TLS_IMPLICIT;
	a->tls_verify = 1;
	a->auth = SRC_AUTH_AUTO;
	a->keep = 1;
	a->connect_timeout = 30;
	a->timeout = 60;
	a->compress = 1;
	a->smtp_tls = SRC_TLS_STARTTLS;
	a->idle = 1;
	a->poll_interval = 300;
}

/* Take each key from section s, else from [defaults] d, noting in
 * line[] where it was set (0: nowhere). */
static void
merge(struct cfg_account *a, const struct cfg_sect *s, const struct cfg_sect *d,
    int *line)
{
	int k;

	for (k = 0; k < K_N; k++) {
		line[k] = 0;
		if (s->vline[k] != 0) {
			key_copy(k, a, &s->v);
			line[k] = s->vline[k];
		} else if (d != NULL && d->vline[k] != 0) {
			key_copy(k, a, &d->v);
			line[k] = d->vline[k];
		}
	}
}

/* The keys every account needs, and password or password_command. */
static int
check_required(struct cfg_ctx *c, const struct cfg_sect *s, const int *line)
{
	static const int required[] = { K_PROTOCOL, K_HOST, K_USER, K_MAILDIR };
	size_t i;
	int k;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		k = required[i];
		if (line[k] == 0) {
			cfg_err(c, s->line, cfg_keys[k].name,
			    "missing in [%s]; every account needs it", s->name);
			return -1;
		}
	}
	if (line[K_PASSWORD] == 0 || line[K_PASSWORD_COMMAND] == 0)
		return 0;
	if (line[K_PASSWORD] > line[K_PASSWORD_COMMAND])
		cfg_err(c, line[K_PASSWORD], "password",
		    "[%s] has both password and password_command (line %d); "
		    "keep one",
		    s->name, line[K_PASSWORD_COMMAND]);
	else
		cfg_err(c, line[K_PASSWORD_COMMAND], "password_command",
		    "[%s] has both password_command and password (line %d); "
		    "keep one",
		    s->name, line[K_PASSWORD]);
	return -1;
}

/* What the protocol allows: auth, folders, tls = none. */
static int
check_protocol(struct cfg_ctx *c, const struct cfg_sect *s,
    const struct cfg_account *a, const int *line)
{
	if (a->protocol == CFG_IMAP
	    && (a->auth == SRC_AUTH_USER || a->auth == SRC_AUTH_APOP)) {
		cfg_err(c, line[K_AUTH], "auth",
		    "%s works only with protocol pop3, and [%s] uses imap",
		    cfg_auths[a->auth], s->name);
		return -1;
	}
	if (a->protocol == CFG_POP3 && line[K_FOLDERS] != 0
	    && (a->nfolders != 1 || strcasecmp(a->folders[0], "INBOX") != 0)) {
		cfg_err(c, line[K_FOLDERS], "folders",
		    "POP3 has only INBOX, and [%s] uses pop3; remove folders "
		    "or use protocol imap",
		    s->name);
		return -1;
	}
	if (a->tls == SRC_TLS_NONE && !a->allow_plaintext) {
		cfg_err(c, line[K_TLS], "tls",
		    "none: plaintext authentication is refused, since it "
		    "would send the login unencrypted; use implicit or "
		    "starttls, or set allow_plaintext = yes to accept it");
		return -1;
	}
	return 0;
}

/*
 * mirror = yes: IMAP only, and it never changes the server, so neither
 * keep = no nor a delete_after.
 */
static int
check_mirror(struct cfg_ctx *c, const struct cfg_sect *s,
    const struct cfg_account *a, const int *line)
{
	if (!a->mirror)
		return 0;
	if (a->protocol == CFG_POP3)
		cfg_err(c, line[K_MIRROR], "mirror",
		    "yes works only with protocol imap, and [%s] uses pop3; "
		    "remove mirror or use protocol imap",
		    s->name);
	else if (!a->keep)
		cfg_err(c, line[K_MIRROR], "mirror",
		    "yes never changes the server, and [%s] has keep = no "
		    "(line %d); remove keep = no, or mirror",
		    s->name, line[K_KEEP]);
	else if (a->delete_after != 0)
		cfg_err(c, line[K_MIRROR], "mirror",
		    "yes never changes the server, and [%s] has "
		    "delete_after (line %d); remove delete_after (or set it "
		    "to 0), or mirror",
		    s->name, line[K_DELETE_AFTER]);
	else
		return 0;
	return -1;
}

/* The defaults that depend on other keys: port, folders, state_file. */
static int
fill_defaults(struct cfg_ctx *c, const struct cfg_sect *s,
    struct cfg_account *a, const int *line)
{
	if (line[K_PORT] == 0) {
		if (a->protocol == CFG_POP3)
			a->port = a->tls == SRC_TLS_IMPLICIT ? 995 : 110;
		else
			a->port = a->tls == SRC_TLS_IMPLICIT ? 993 : 143;
	}
	if (a->nfolders == 0)
		key_parse(K_FOLDERS, a, "INBOX", NULL, 0);
	if (a->state_file == NULL
	    && (a->state_file = default_state_file(s->name)) == NULL) {
		cfg_err(c, s->line, "state_file",
		    "no default: neither XDG_STATE_HOME nor HOME is set, nor "
		    "has the user a home directory; set state_file");
		return -1;
	}
	return 0;
}

/* Build account a from section s and [defaults], and check it whole. */
static int
build(struct cfg_ctx *c, const struct cfg_sect *s, struct cfg_account *a)
{
	const struct cfg_sect *d = c->defs >= 0 ? &c->sect[c->defs] : NULL;
	int line[K_N];

	acct_defaults(a, s);
	merge(a, s, d, line);
	if (check_required(c, s, line) == -1
	    || check_protocol(c, s, a, line) == -1
	    || check_mirror(c, s, a, line) == -1
	    || check_smtp(c, s, a, line) == -1)
		return -1;
	return fill_defaults(c, s, a, line);
}

/* Find the section the account's state_file came from, for its line. */
static int
state_line(const struct cfg_ctx *c, const struct cfg_account *a)
{
	size_t i;

	for (i = 0; i < c->nsect; i++) {
		if (strcmp(c->sect[i].name, a->name) != 0)
			continue;
		if (c->sect[i].vline[K_STATE_FILE] != 0)
			return c->sect[i].vline[K_STATE_FILE];
		if (c->defs >= 0 && c->sect[c->defs].vline[K_STATE_FILE] != 0)
			return c->sect[c->defs].vline[K_STATE_FILE];
	}
	return a->line;
}

/*
 * inih reads each line into a buffer in its own stack frame (Debian's
 * r55 keeps ini_use_stack on: a 200-byte array), and leaves it there
 * when it returns; the frames of our reader and handler, below it, held
 * the lines and values too. A password line may be among them. Called
 * from the frame that called ini_parse_stream, right after it returned,
 * this function's frame lies where those frames were: its array, far
 * larger than all of them (inih's line and locals, our reader's and
 * handler's buffers, the libc calls they make), is wiped with
 * explicit_bzero, which the compiler may not drop. noinline: it must
 * have a frame of its own at that depth.
 */
#define CFG_STACKWIPE (64 * 1024)

static __attribute__((noinline)) void
wipe_parse_stack(void)
{
	char region[CFG_STACKWIPE];

	explicit_bzero(region, sizeof(region));
}

static void
ctx_free(struct cfg_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nsect; i++) {
		free(c->sect[i].name);
		acct_clear(&c->sect[i].v);
	}
	free(c->sect);
	c->sect = NULL;
	c->nsect = 0;
	explicit_bzero(c->line, sizeof(c->line));
}

/* Open the file for reading; *st its status. */
static int
open_file(struct cfg_ctx *c, struct stat *st)
{
	int fd;

	if ((fd = open(c->path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_err(c, 0, NULL, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1 || (c->fp = fdopen(fd, "r")) == NULL) {
		cfg_err(c, 0, NULL, "cannot read: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return 0;
}

/* Read the whole file into its sections' values. */
static int
parse_file(struct cfg_ctx *c)
{
	char iobuf[4096];
	int rc;

	/* Our own buffer, so that the password in it can be wiped. */
	setvbuf(c->fp, iobuf, _IOFBF, sizeof(iobuf));
	rc = ini_parse_stream(reader, c, handler, c);
	wipe_parse_stack();
	fclose(c->fp);
	c->fp = NULL;
	explicit_bzero(iobuf, sizeof(iobuf));
	/*
	 * The reader refuses every line inih could not parse, so inih's
	 * own errors are not expected; should one come first, it wins.
	 */
	if (rc > 0 && (!c->failed || rc < c->errline)) {
		c->failed = 0;
		cfg_err(c, rc, NULL, "inih cannot parse this line");
	} else if (rc < 0 && !c->failed)
		cfg_err(c, 0, NULL, "inih failed (%d)", rc);
	return c->failed ? -1 : 0;
}

/* The file as a whole: a password only in a private file, and at least
 * one account. Returns the number of accounts, or -1. */
static long
check_file(struct cfg_ctx *c, const struct stat *st)
{
	long n = 0;
	size_t i;
	int pwline = 0;

	for (i = 0; i < c->nsect; i++) {
		if ((long)i != c->defs)
			n++;
		if (pwline == 0)
			pwline = c->sect[i].vline[K_PASSWORD];
	}
	if (pwline != 0 && (st->st_mode & 077) != 0) {
		cfg_err(c, 0, NULL,
		    "has a password (line %d) but group or others can access "
		    "it (mode %04o); chmod 600 %s, or use password_command",
		    pwline, (unsigned)(st->st_mode & 07777), c->path);
		return -1;
	}
	if (n == 0) {
		cfg_err(c, 0, NULL,
		    "no accounts: add a section such as [work] with protocol, "
		    "host, user and maildir");
		return -1;
	}
	return n;
}

/* No two accounts may share a state file. */
static int
check_state_files(struct cfg_ctx *c, const struct cfg *cfg)
{
	const struct cfg_account *a, *b;
	size_t i, j;

	for (i = 0; i < cfg->nacct; i++) {
		for (j = 0; j < i; j++) {
			a = &cfg->acct[i];
			b = &cfg->acct[j];
			if (strcmp(a->state_file, b->state_file) != 0)
				continue;
			cfg_err(c, state_line(c, a), "state_file",
			    "[%s] and [%s] would share the state file %s; "
			    "each account needs its own",
			    b->name, a->name, a->state_file);
			return -1;
		}
	}
	return 0;
}

struct cfg *
cfg_load(const char *path, char *err, size_t errlen)
{
	struct cfg_ctx c;
	struct cfg *cfg = NULL;
	struct stat st;
	size_t i;
	long n;

	memset(&c, 0, sizeof(c));
	c.path = path;
	c.err = err;
	c.errlen = errlen;
	c.cur = c.defs = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (open_file(&c, &st) == -1)
		return NULL;
	if (parse_file(&c) == -1 || (n = check_file(&c, &st)) == -1)
		goto fail;
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(path);
	cfg->acct = xcalloc((size_t)n, sizeof(*cfg->acct));
	for (i = 0; i < c.nsect; i++) {
		if ((long)i == c.defs)
			continue;
		if (build(&c, &c.sect[i], &cfg->acct[cfg->nacct++]) == -1)
			goto fail;
	}
	if (check_state_files(&c, cfg) == -1)
		goto fail;
	ctx_free(&c);
	return cfg;
fail:
	cfg_free(cfg);
	ctx_free(&c);
	return NULL;
}

void
cfg_default_paths(char **xdg, char **home_rc)
{
	const char *x;
	char *home;

	home = home_dir();
	if ((x = xdg_dir("XDG_CONFIG_HOME")) != NULL)
		xasprintf(xdg, "%s/mailfetch/fetchrc", x);
	else if (home != NULL)
		xasprintf(xdg, "%s/.config/mailfetch/fetchrc", home);
	else
		*xdg = NULL;
	if (home != NULL)
		xasprintf(home_rc, "%s/.fetchrc", home);
	else
		*home_rc = xstrdup(".fetchrc");
	free(home);
}

char *
cfg_default_path(void)
{
	struct stat st;
	char *xdg, *home_rc;

	cfg_default_paths(&xdg, &home_rc);
	if (xdg != NULL && stat(xdg, &st) == 0) {
		free(home_rc);
		return xdg;
	}
	free(xdg);
	return home_rc;
}

struct cfg_account *
cfg_find(struct cfg *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL)
		return NULL;
	for (i = 0; i < cfg->nacct; i++)
		if (strcmp(cfg->acct[i].name, name) == 0)
			return &cfg->acct[i];
	return NULL;
}

void
cfg_free(struct cfg *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nacct; i++)
		acct_clear(&cfg->acct[i]);
	free(cfg->acct);
	free(cfg->path);
	free(cfg);
}
