/*
 * Unit tests for cmd/config.c: every error the "Config file" section of
 * SPEC.md lists, every default, [defaults], the line checks made for
 * inih, the duration and size parsers, and fetchrc.example. Config
 * files are written to a mkdtemp(3) directory; HOME points into it.
 */
#define _XOPEN_SOURCE 700 /* nftw(3) */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../cmd/config.h"
#include "t.h"

static char tdir[64]; /* the temporary directory */
static char home[128]; /* $HOME during the tests */
static char cfgpath[128]; /* the config file the cases write */
static char errbuf[1024]; /* the last cfg_load error */

/* An account with the four required keys, lines 1 to 5. */
#define ACCT                                                                   \
	"[work]\n"                                                             \
	"protocol = pop3\n"                                                    \
	"host = mail.example.com\n"                                            \
	"user = alice\n"                                                       \
	"maildir = ~/Mail\n"

#define IMAP                                                                   \
	"[work]\n"                                                             \
	"protocol = imap\n"                                                    \
	"host = mail.example.com\n"                                            \
	"user = alice\n"                                                       \
	"maildir = ~/Mail\n"

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || fchmod(fd, mode) == -1
	    || write(fd, text, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/* Write text as the config file with the given mode and load it. */
static struct cfg *
load_mode(const char *text, size_t len, mode_t mode)
{
	write_file(cfgpath, text, len, mode);
	memset(errbuf, 'x', sizeof(errbuf));
	return cfg_load(cfgpath, errbuf, sizeof(errbuf));
}

static struct cfg *
load(const char *text)
{
	return load_mode(text, strlen(text), 0600);
}

/* The error must start with the config path followed by want. */
static void
check_err(struct cfg *cfg, const char *want)
{
	char full[512];

	CHECK(cfg == NULL);
	cfg_free(cfg);
	snprintf(full, sizeof(full), "%s%s", cfgpath, want);
	if (strncmp(errbuf, full, strlen(full)) != 0) {
		fprintf(stderr, "error: %s\nwanted: %s...\n", errbuf, full);
		t_case_failed = 1;
	}
}

static void
check_ok(struct cfg *cfg)
{
	CHECK(cfg != NULL);
	if (cfg == NULL)
		fprintf(stderr, "unexpected error: %s\n", errbuf);
	else
		CHECK_STR(errbuf, "");
}

/* Error cases: config text and the start of the error after the path. */
struct errcase {
	const char *name;
	const char *text;
	const char *want;
};

static const struct errcase errcases[] = {
	{ "unknown key", ACCT "colour = blue\n", ":6: colour: unknown key" },
	{ "unknown key not echoed unless key-like", ACCT "hunter 2 = x\n",
	    ":6: unknown key" },
	{ "empty key", ACCT "= x\n", ":6: unknown key" },
	{ "keys are case-sensitive", ACCT "Host = x\n",
	    ":6: Host: unknown key" },
	{ "protocol bad", "[work]\nprotocol = smtp\n",
	    ":2: protocol: must be pop3 or imap, not \"smtp\"" },
	{ "protocol empty", "[work]\nprotocol =\n",
	    ":2: protocol: must be pop3 or imap, not \"\"" },
	{ "host empty", "[work]\nhost =\n",
	    ":2: host: must be a host name or address, not empty" },
	{ "host with space", "[work]\nhost = mail example\n",
	    ":2: host: must be a host name or address, not \"mail example\"" },
	{ "port too big", ACCT "\n# comment\nport = 99999\n",
	    ":8: port: must be a number from 1 to 65535, not \"99999\"" },
	{ "port 0", ACCT "port = 0\n",
	    ":6: port: must be a number from 1 to 65535, not \"0\"" },
	{ "port trailing junk", ACCT "port = 110x\n",
	    ":6: port: must be a number from 1 to 65535, not \"110x\"" },
	{ "port negative", ACCT "port = -1\n",
	    ":6: port: must be a number from 1 to 65535, not \"-1\"" },
	{ "port plus sign", ACCT "port = +110\n",
	    ":6: port: must be a number from 1 to 65535, not \"+110\"" },
	{ "port empty", ACCT "port =\n",
	    ":6: port: must be a number from 1 to 65535, not \"\"" },
	{ "port overflow", ACCT "port = 18446744073709551727\n",
	    ":6: port: must be a number from 1 to 65535" },
	{ "tls bad", ACCT "tls = ssl\n",
	    ":6: tls: must be implicit, starttls or none, not \"ssl\"" },
	{ "tls_verify bad", ACCT "tls_verify = maybe\n",
	    ":6: tls_verify: must be yes or no, not \"maybe\"" },
	{ "bool only yes or no", ACCT "tls_verify = true\n",
	    ":6: tls_verify: must be yes or no, not \"true\"" },
	{ "tls_ca_file ~user", ACCT "tls_ca_file = ~bob/ca.pem\n",
	    ":6: tls_ca_file: \"~user\" is not supported, in \"~bob/ca.pem\"" },
	{ "tls_ca_file empty", ACCT "tls_ca_file =\n",
	    ":6: tls_ca_file: must be a path, not empty" },
	{ "tls_fingerprint short", ACCT "tls_fingerprint = SHA256:abcd\n",
	    ":6: tls_fingerprint: must be SHA256: and the 64 hex digits" },
	{ "tls_fingerprint 65 digits",
	    ACCT "tls_fingerprint = SHA256:"
		 "0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef0\n",
	    ":6: tls_fingerprint: must be SHA256: and the 64 hex digits" },
	{ "tls_fingerprint not hex",
	    ACCT "tls_fingerprint = SHA256:"
		 "0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdeg\n",
	    ":6: tls_fingerprint: must be SHA256: and the 64 hex digits" },
	{ "tls_fingerprint wrong hash",
	    ACCT "tls_fingerprint = SHA1:"
		 "0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef\n",
	    ":6: tls_fingerprint: must be SHA256: and the 64 hex digits" },
	{ "tls_protocols unknown word", ACCT "tls_protocols = tlsv1.4\n",
	    ":6: tls_protocols: \"tlsv1.4\" is not a TLS protocol" },
	{ "tls_protocols '-' is not libtls syntax",
	    ACCT "tls_protocols = all,-tlsv1.0\n",
	    ":6: tls_protocols: \"-tlsv1.0\" is not a TLS protocol" },
	{ "tls_protocols trailing space",
	    ACCT "tls_protocols = tlsv1.2 ,tlsv1.3\n",
	    ":6: tls_protocols: \"tlsv1.2 \" is not a TLS protocol" },
	{ "tls_protocols empty word", ACCT "tls_protocols = tlsv1.2,\n",
	    ":6: tls_protocols: \"\" is not a TLS protocol" },
	{ "tls_protocols none left", ACCT "tls_protocols = !all\n",
	    ":6: tls_protocols: \"!all\" leaves no TLS protocol to use" },
	{ "user empty", "[work]\nuser =\n",
	    ":2: user: must be a login name, not empty" },
	{ "password empty", ACCT "password =\n", ":6: password: is empty" },
	{ "password_command empty", ACCT "password_command =\n",
	    ":6: password_command: must be a shell command, not empty" },
	{ "auth bad", ACCT "auth = digest-md5\n",
	    ":6: auth: must be auto, user, apop, login, plain, cram-md5, "
	    "scram-sha-1, scram-sha-256, xoauth2 or oauthbearer, not "
	    "\"digest-md5\"" },
	{ "log bad", ACCT "log = journal\n",
	    ":6: log: must be stderr or syslog" },
	{ "allow_plaintext bad", ACCT "allow_plaintext = sure\n",
	    ":6: allow_plaintext: must be yes or no, not \"sure\"" },
	{ "maildir empty", "[work]\nmaildir =\n",
	    ":2: maildir: must be a path, not empty" },
	{ "maildir ~user", "[work]\nmaildir = ~alice/Mail\n",
	    ":2: maildir: \"~user\" is not supported" },
	{ "folders empty name", IMAP "folders = INBOX,,Sent\n",
	    ":6: folders: must be mailbox names separated by ',', and "
	    "\"INBOX,,Sent\" has an empty one" },
	{ "folders trailing comma", IMAP "folders = INBOX, \n",
	    ":6: folders: must be mailbox names separated by ','" },
	{ "folders empty", IMAP "folders =\n",
	    ":6: folders: must be mailbox names separated by ','" },
	{ "folders twice", IMAP "folders = INBOX, Sent,INBOX\n",
	    ":6: folders: names \"INBOX\" twice" },
	{ "folders INBOX and inbox", IMAP "folders = INBOX, inbox\n",
	    ":6: folders: \"INBOX\" and \"inbox\" are one mailbox (INBOX on "
	    "the server); name it once" },
	{ "folders Inbox and INBOX", IMAP "folders = Sent, Inbox, INBOX\n",
	    ":6: folders: \"Inbox\" and \"INBOX\" are one mailbox" },
	{ "folders UTF-8 and modified UTF-7",
	    IMAP "folders = INBOX.\xc3\x9cn\xc3\xaf"
		 "c\xc3\xb6"
		 "d\xc3\xa9, INBOX.&ANw-n&AO8-c&APY-d&AOk-\n",
	    ":6: folders: \"INBOX.\xc3\x9cn\xc3\xaf"
	    "c\xc3\xb6"
	    "d\xc3\xa9\" and \"INBOX.&ANw-n&AO8-c&APY-d&AOk-\" are one mailbox "
	    "(INBOX.&ANw-n&AO8-c&APY-d&AOk- on the server); name it once" },
	{ "folders modified UTF-7 and UTF-8",
	    IMAP
	    "folders = INBOX.&ANw-n&AO8-c&APY-d&AOk-, INBOX.\xc3\x9cn\xc3\xaf"
	    "c\xc3\xb6"
	    "d\xc3\xa9\n",
	    ":6: folders: \"INBOX.&ANw-n&AO8-c&APY-d&AOk-\" and \"INBOX." },
	{ "folders & and &-", IMAP "folders = Tom & Jerry, Tom &- Jerry\n",
	    ":6: folders: \"Tom & Jerry\" and \"Tom &- Jerry\" are one "
	    "mailbox" },
	{ "folders not UTF-8", IMAP "folders = INBOX, bad\xff\n",
	    ":6: folders: \"bad\xff\" is neither UTF-8 nor modified UTF-7" },
	{ "folders with pop3", ACCT "folders = INBOX, Sent\n",
	    ":6: folders: POP3 has only INBOX, and [work] uses pop3" },
	{ "folders ! alone", IMAP "folders = *, !\n",
	    ":6: folders: \"!\" alone excludes nothing; write a mailbox "
	    "name, a pattern or a special-use attribute after it" },
	{ "folders ! and spaces alone", IMAP "folders = *, !  , Sent\n",
	    ":6: folders: \"!\" alone excludes nothing" },
	{ "folders unknown attribute", IMAP "folders = *, !\\Spam\n",
	    ":6: folders: \"\\Spam\" is not a special-use attribute; write "
	    "\\All, \\Archive, \\Drafts, \\Flagged, \\Junk, \\Sent or "
	    "\\Trash" },
	{ "folders pattern not UTF-8", IMAP "folders = Lists/*\xff\n",
	    ":6: folders: \"Lists/*\xff\" is neither UTF-8 nor modified "
	    "UTF-7" },
	{ "folders pattern twice", IMAP "folders = Lists/*, INBOX, Lists/*\n",
	    ":6: folders: names \"Lists/*\" twice" },
	{ "folders pattern in UTF-8 and modified UTF-7",
	    IMAP "folders = \xc3\x9c%, &ANw-%\n",
	    ":6: folders: \"\xc3\x9c%\" and \"&ANw-%\" are one mailbox (&ANw-% "
	    "on the server); name it once" },
	{ "folders attribute twice in two cases",
	    IMAP "folders = *, !\\Junk, !\\junk\n",
	    ":6: folders: \"!\\Junk\" and \"!\\junk\" are one attribute; "
	    "name it once" },
	{ "folders name included and excluded",
	    IMAP "folders = Trash, !trash, !Trash\n",
	    ":6: folders: \"Trash\" and \"!Trash\" are one mailbox (Trash on "
	    "the server); name it once" },
	{ "mirror bad", IMAP "mirror = sometimes\n",
	    ":6: mirror: must be yes or no, not \"sometimes\"" },
	{ "mirror with pop3", ACCT "mirror = yes\n",
	    ":6: mirror: yes works only with protocol imap, and [work] uses "
	    "pop3; remove mirror or use protocol imap" },
	{ "mirror with keep = no", IMAP "keep = no\nmirror = yes\n",
	    ":7: mirror: yes never changes the server, and [work] has keep = "
	    "no (line 6); remove keep = no, or mirror" },
	{ "mirror with delete_after", IMAP "mirror = yes\ndelete_after = 30d\n",
	    ":6: mirror: yes never changes the server, and [work] has "
	    "delete_after (line 7); remove delete_after (or set it to 0), or "
	    "mirror" },
	{ "mirror from defaults with keep = no",
	    "[defaults]\nmirror = yes\n" IMAP "keep = no\n",
	    ":2: mirror: yes never changes the server, and [work] has keep = "
	    "no (line 8)" },
	{ "keep bad", ACCT "keep = 2\n",
	    ":6: keep: must be yes or no, not \"2\"" },
	{ "delete_after fraction", ACCT "delete_after = 1.5d\n",
	    ":6: delete_after: must be a number with unit s, m, h or d "
	    "(a bare number is days; 0 never), not \"1.5d\"" },
	{ "delete_after bad unit", ACCT "delete_after = 5x\n",
	    ":6: delete_after: must be a number with unit" },
	{ "delete_after overflow", ACCT "delete_after = 99999999999999999d\n",
	    ":6: delete_after: must be a number with unit" },
	{ "max_size bad unit", ACCT "max_size = 10m\n",
	    ":6: max_size: must be a number of bytes with optional unit k, M "
	    "or G (0 no limit), not \"10m\"" },
	{ "size_mismatch bad", ACCT "size_mismatch = yes\n",
	    ":6: size_mismatch: must be keep or delete, not \"yes\"" },
	{ "max_messages negative", ACCT "max_messages = -1\n",
	    ":6: max_messages: must be a number of messages (0 no limit), "
	    "not \"-1\"" },
	{ "max_messages overflow", ACCT "max_messages = 18446744073709551616\n",
	    ":6: max_messages: must be a number of messages" },
	{ "connect_timeout 0", ACCT "connect_timeout = 0\n",
	    ":6: connect_timeout: must be a number of seconds from 1 to "
	    "86400, not \"0\"" },
	{ "timeout over the cap", ACCT "timeout = 86401\n",
	    ":6: timeout: must be a number of seconds from 1 to 86400, not "
	    "\"86401\"" },
	{ "state_file empty", ACCT "state_file =\n",
	    ":6: state_file: must be a path, not empty" },
	{ "state_file ~user", ACCT "state_file = ~x\n",
	    ":6: state_file: \"~user\" is not supported" },
	{ "smtp_host empty", ACCT "smtp_host =\n",
	    ":6: smtp_host: must be a host name or address, not empty" },
	{ "smtp_host with space", ACCT "smtp_host = smtp example\n",
	    ":6: smtp_host: must be a host name or address, not "
	    "\"smtp example\"" },
	{ "smtp_port 0", ACCT "smtp_host = s\nsmtp_port = 0\n",
	    ":7: smtp_port: must be a number from 1 to 65535, not \"0\"" },
	{ "smtp_port junk", ACCT "smtp_host = s\nsmtp_port = 587/tcp\n",
	    ":7: smtp_port: must be a number from 1 to 65535, not "
	    "\"587/tcp\"" },
	{ "smtp_tls bad", ACCT "smtp_host = s\nsmtp_tls = ssl\n",
	    ":7: smtp_tls: must be implicit, starttls or none, not \"ssl\"" },
	{ "smtp_user empty", ACCT "smtp_host = s\nsmtp_user =\n",
	    ":7: smtp_user: must be a login name, not empty" },
	{ "smtp_host twice", ACCT "smtp_host = a\nsmtp_host = b\n",
	    ":7: smtp_host: given twice in [work] (first at line 6)" },
	{ "smtp_port without smtp_host", ACCT "smtp_port = 587\n",
	    ":6: smtp_port: [work] has no smtp_host; set smtp_host, or remove "
	    "smtp_port" },
	{ "smtp_tls without smtp_host", ACCT "keep = no\nsmtp_tls = implicit\n",
	    ":7: smtp_tls: [work] has no smtp_host; set smtp_host, or remove "
	    "smtp_tls" },
	{ "smtp_user without smtp_host",
	    "[defaults]\nsmtp_tls = implicit\n" ACCT "smtp_user = bob\n",
	    ":8: smtp_user: [work] has no smtp_host" },
	{ "smtp_tls none refused", ACCT "smtp_host = s\nsmtp_tls = none\n",
	    ":7: smtp_tls: none: plaintext authentication is refused, since "
	    "it would send the login unencrypted; use starttls or implicit, "
	    "or set allow_plaintext = yes to accept it" },
	{ "smtp_tls none from defaults refused",
	    "[defaults]\nsmtp_tls = none\n" ACCT "smtp_host = s\n",
	    ":2: smtp_tls: none: plaintext authentication is refused" },

	{ "missing protocol",
	    "# mine\n\n[work]\nhost = h\nuser = u\nmaildir = /m\n",
	    ":3: protocol: missing in [work]; every account needs it" },
	{ "missing host",
	    "# mine\n\n[work]\nprotocol = imap\nuser = u\nmaildir = /m\n",
	    ":3: host: missing in [work]" },
	{ "missing user",
	    "# mine\n\n[work]\nprotocol = imap\nhost = h\nmaildir = /m\n",
	    ":3: user: missing in [work]" },
	{ "missing maildir",
	    "# mine\n\n[work]\nprotocol = imap\nhost = h\nuser = u\n",
	    ":3: maildir: missing in [work]" },
	{ "empty account", ACCT "[other]\n",
	    ":6: protocol: missing in [other]" },
	{ "missing key in second account", ACCT "[b]\nprotocol = pop3\n",
	    ":6: host: missing in [b]" },

	{ "key twice", ACCT "host = other.example.com\n",
	    ":6: host: given twice in [work] (first at line 3)" },
	{ "key twice in defaults", "[defaults]\nkeep = no\nkeep = no\n" ACCT,
	    ":3: keep: given twice in [defaults] (first at line 2)" },
	{ "section twice", ACCT "keep = no\n[work]\n",
	    ":7: [work]: section given twice (first at line 1)" },
	{ "defaults twice", "[defaults]\nkeep = no\n" ACCT "[defaults]\n",
	    ":8: [defaults]: section given twice (first at line 1)" },
	{ "key before any section", "\nprotocol = pop3\n" ACCT,
	    ":2: protocol: comes before any [account] section header" },
	{ "section without ]", "[work\n", ":1: section header without ']'" },
	{ "text after ]", "[work] # mine\n",
	    ":1: text after the section header's ']'" },
	{ "inline comment on section", "[work] ; mine\n",
	    ":1: whitespace followed by ';' would start a comment" },
	{ "empty section name", "[]\n", ":1: []: the account name is empty" },
	{ "section name with space", "[my mail]\n",
	    ":1: [my mail]: account names may contain only letters, digits" },
	{ "section name with slash", "[../x]\n",
	    ":1: [../x]: account names may contain only" },
	{ "section name too long",
	    "[a123456789b123456789c123456789d123456789e123456789]\n",
	    ":1: account name longer than 49 bytes" },
	{ "Defaults is reserved", "[Defaults]\n",
	    ":1: [Defaults]: write [defaults] for the defaults section" },
	{ "line without =", ACCT "keep\n",
	    ":6: expected \"key = value\", \"[account]\" or a comment" },

	{ "whitespace and ; in a value", ACCT "password = abc ;def\n",
	    ":6: password: the value contains whitespace followed by ';', "
	    "where it would be cut off as a comment; comments must be on a "
	    "line of their own, and a password like this must come from "
	    "password_command" },
	{ "tab and ; in a value", ACCT "host = h\t;x\n",
	    ":6: host: the value contains whitespace followed by ';'" },
	{ "leading whitespace", ACCT "  keep = no\n",
	    ":6: keep: the line starts with whitespace, so it would be "
	    "joined to the previous value" },
	{ "leading tab", ACCT "\tkeep = no\n",
	    ":6: keep: the line starts with whitespace" },
	{ "indented section header", ACCT " [b]\n",
	    ":6: the line starts with whitespace" },

	{ "password and password_command",
	    ACCT "password = x\npassword_command = pass mail\n",
	    ":7: password_command: [work] has both password_command and "
	    "password (line 6); keep one" },
	{ "password_command then password",
	    ACCT "password_command = pass mail\npassword = x\n",
	    ":7: password: [work] has both password and password_command "
	    "(line 6); keep one" },
	{ "password with password_command from defaults",
	    "[defaults]\npassword_command = pass mail\n" ACCT "password = x\n",
	    ":8: password: [work] has both password and password_command "
	    "(line 2); keep one" },
	{ "tls none refused", ACCT "tls = none\n",
	    ":6: tls: none: plaintext authentication is refused, since it "
	    "would send the login unencrypted; use implicit or starttls, or "
	    "set allow_plaintext = yes to accept it" },
	{ "tls none refused with allow_plaintext no",
	    ACCT "allow_plaintext = no\ntls = none\n",
	    ":7: tls: none: plaintext authentication is refused" },
	{ "tls none from defaults refused", "[defaults]\ntls = none\n" ACCT,
	    ":2: tls: none: plaintext authentication is refused" },
	{ "auth user with imap", IMAP "auth = user\n",
	    ":6: auth: user works only with protocol pop3, and [work] uses "
	    "imap" },
	{ "auth apop with imap", IMAP "auth = apop\n",
	    ":6: auth: apop works only with protocol pop3" },
	{ "bad value in defaults", "[defaults]\nkeep = yes\nport = 0\n" ACCT,
	    ":3: port: must be a number from 1 to 65535, not \"0\"" },
	{ "defaults after the accounts", ACCT "[defaults]\ntimeout = -5\n",
	    ":7: timeout: must be a number of seconds" },
	{ "folders from defaults with pop3",
	    "[defaults]\nfolders = Sent\n" ACCT,
	    ":2: folders: POP3 has only INBOX" },
	{ "first error wins", ACCT "port = 0\ntls = x\n", ":6: port:" },

	{ "empty file", "", ": no accounts" },
	{ "only comments", "# nothing\n; here\n\n", ": no accounts" },
	{ "only defaults", "[defaults]\nkeep = no\n", ": no accounts" },
	{ "shared state_file",
	    ACCT "state_file = /tmp/s.state\n[b]\nprotocol = imap\nhost = h\n"
		 "user = u\nmaildir = /m\nstate_file = /tmp/s.state\n",
	    ":12: state_file: [work] and [b] would share the state file "
	    "/tmp/s.state; each account needs its own" },
	{ "state_file in defaults shared",
	    "[defaults]\nstate_file = /tmp/s.state\n" ACCT
	    "[b]\nprotocol = imap\nhost = h\nuser = u\nmaildir = /m\n",
	    ":2: state_file: [work] and [b] would share the state file" },
};

static void
t_err(const void *arg)
{
	const struct errcase *e = arg;

	check_err(load(e->text), e->want);
}

/* The defaults of a minimal POP3 account. */
static void
t_minimal(const void *arg)
{
	struct cfg *cfg = load(ACCT);
	struct cfg_account *a;
	char want[256];

	(void)arg;
	check_ok(cfg);
	if (cfg == NULL)
		return;
	CHECK_STR(cfg->path, cfgpath);
	CHECK(cfg->nacct == 1);
	a = &cfg->acct[0];
	CHECK_STR(a->name, "work");
	CHECK(a->line == 1);
	CHECK(a->protocol == CFG_POP3);
	CHECK_STR(a->host, "mail.example.com");
	CHECK(a->port == 995);
	CHECK(a->tls == SRC_TLS_IMPLICIT);
	CHECK(a->tls_verify == 1);
	CHECK(a->tls_ca_file == NULL);
	CHECK(a->tls_fingerprint == NULL);
	CHECK(a->tls_protocols == NULL);
	CHECK_STR(a->user, "alice");
	CHECK(a->password == NULL);
	CHECK(a->password_command == NULL);
	CHECK(a->auth == SRC_AUTH_AUTO);
	CHECK(a->allow_plaintext == 0);
	CHECK(a->log_syslog == 0);
	snprintf(want, sizeof(want), "%s/Mail", home);
	CHECK_STR(a->maildir, want);
	CHECK(a->nfolders == 1);
	if (a->nfolders == 1)
		CHECK_STR(a->folders[0], "INBOX");
	CHECK(a->keep == 1);
	CHECK(a->delete_after == 0);
	CHECK(a->max_size == 0);
	CHECK(a->max_messages == 0);
	CHECK(a->size_mismatch_delete == 0);
	CHECK(a->connect_timeout == 30);
	CHECK(a->timeout == 60);
	snprintf(
	    want, sizeof(want), "%s/.local/state/mailfetch/work.state", home);
	CHECK_STR(a->state_file, want);
	CHECK(a->smtp_host == NULL);
	CHECK(a->smtp_port == 0);
	CHECK(a->smtp_tls == SRC_TLS_STARTTLS);
	CHECK(a->smtp_user == NULL);
	cfg_free(cfg);
}

/* Every key set, values as parsed. */
static void
t_full(const void *arg)
{
	struct cfg *cfg;
	struct cfg_account *a;

	(void)arg;
	cfg = load("[full]\n"
		   "protocol = imap\n"
		   "host = ::1\n"
		   "port = 10993\n"
		   "tls = starttls\n"
		   "tls_verify = no\n"
		   "tls_ca_file = /etc/ssl/ca.pem\n"
		   "tls_fingerprint = SHA256:" /* 64 digits */
		   "00112233445566778899aabbccddeeff"
		   "00112233445566778899aabbccddeeff\n"
		   "tls_protocols = tlsv1.2,tlsv1.3\n"
		   "user = alice@example.com\n"
		   "password_command = pass show mail = work\n"
		   "auth = scram-sha-256\n"
		   "allow_plaintext = yes\n"
		   "maildir = /var/mail/alice\n"
		   "folders =  INBOX ,Lists/dev,  Sent Items\n"
		   "keep = no\n"
		   "delete_after = 12h\n"
		   "max_size = 20M\n"
		   "max_messages = 500\n"
		   "size_mismatch = delete\n"
		   "connect_timeout = 5\n"
		   "timeout = 86400\n"
		   "state_file = /var/lib/full.state\n"
		   "smtp_host = smtp.example.com\n"
		   "smtp_port = 2525\n"
		   "smtp_tls = none\n"
		   "smtp_user = alice+out@example.com\n"
		   "log = syslog\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	a = cfg_find(cfg, "full");
	CHECK(a == &cfg->acct[0]);
	CHECK(a->protocol == CFG_IMAP);
	CHECK_STR(a->host, "::1");
	CHECK(a->port == 10993);
	CHECK(a->tls == SRC_TLS_STARTTLS);
	CHECK(a->tls_verify == 0);
	CHECK_STR(a->tls_ca_file, "/etc/ssl/ca.pem");
	CHECK_STR(a->tls_fingerprint,
	    "SHA256:00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff");
	CHECK_STR(a->tls_protocols, "tlsv1.2,tlsv1.3");
	CHECK_STR(a->user, "alice@example.com");
	CHECK_STR(a->password_command, "pass show mail = work");
	CHECK(a->auth == SRC_AUTH_SCRAM_SHA_256);
	CHECK(a->allow_plaintext == 1);
	CHECK(a->log_syslog == 1);
	CHECK_STR(a->maildir, "/var/mail/alice");
	CHECK(a->nfolders == 3);
	if (a->nfolders == 3) {
		CHECK_STR(a->folders[0], "INBOX");
		CHECK_STR(a->folders[1], "Lists/dev");
		CHECK_STR(a->folders[2], "Sent Items");
	}
	CHECK(a->keep == 0);
	CHECK(a->delete_after == 12 * 3600);
	CHECK(a->max_size == 20 * 1024 * 1024);
	CHECK(a->max_messages == 500);
	CHECK(a->size_mismatch_delete == 1);
	CHECK(a->connect_timeout == 5);
	CHECK(a->timeout == 86400);
	CHECK_STR(a->state_file, "/var/lib/full.state");
	CHECK_STR(a->smtp_host, "smtp.example.com");
	CHECK(a->smtp_port == 2525);
	CHECK(a->smtp_tls == SRC_TLS_NONE);
	CHECK_STR(a->smtp_user, "alice+out@example.com");
	cfg_free(cfg);
}

/* The outgoing keys and their defaults. */
struct smtpcase {
	const char *name;
	const char *text;
	const char *host; /* NULL: no SMTP settings */
	int port;
	enum src_tls tls;
	const char *user;
};

static const struct smtpcase smtpcases[] = {
	{ "smtp unset", ACCT, NULL, 0, SRC_TLS_STARTTLS, NULL },
	{ "smtp defaults", ACCT "smtp_host = smtp.example.com\n",
	    "smtp.example.com", 587, SRC_TLS_STARTTLS, "alice" },
	{ "smtp implicit port", ACCT "smtp_host = s\nsmtp_tls = implicit\n",
	    "s", 465, SRC_TLS_IMPLICIT, "alice" },
	{ "smtp starttls named", ACCT "smtp_tls = STARTTLS\nsmtp_host = s\n",
	    "s", 587, SRC_TLS_STARTTLS, "alice" },
	{ "smtp none with allow_plaintext",
	    ACCT "allow_plaintext = yes\nsmtp_host = s\nsmtp_tls = none\n", "s",
	    587, SRC_TLS_NONE, "alice" },
	{ "smtp port explicit",
	    ACCT "smtp_host = s\nsmtp_tls = implicit\nsmtp_port = 2465\n", "s",
	    2465, SRC_TLS_IMPLICIT, "alice" },
	{ "smtp_user set", ACCT "smtp_host = s\nsmtp_user = bob@example.com\n",
	    "s", 587, SRC_TLS_STARTTLS, "bob@example.com" },
	{ "smtp port not from tls", ACCT "tls = starttls\nsmtp_host = s\n", "s",
	    587, SRC_TLS_STARTTLS, "alice" },
	{ "smtp_host from defaults", "[defaults]\nsmtp_host = out\n" ACCT,
	    "out", 587, SRC_TLS_STARTTLS, "alice" },
	{ "smtp keys in defaults without smtp_host",
	    "[defaults]\nsmtp_tls = none\nsmtp_port = 25\nsmtp_user = x\n" ACCT,
	    NULL, 0, SRC_TLS_STARTTLS, NULL },
	{ "smtp keys from defaults",
	    "[defaults]\nsmtp_tls = implicit\nsmtp_user = x\n" ACCT
	    "smtp_host = s\n",
	    "s", 465, SRC_TLS_IMPLICIT, "x" },
};

static void
t_smtp(const void *arg)
{
	const struct smtpcase *c = arg;
	struct cfg *cfg = load(c->text);
	struct cfg_account *a;

	check_ok(cfg);
	if (cfg == NULL)
		return;
	a = &cfg->acct[0];
	if (c->host == NULL)
		CHECK(a->smtp_host == NULL);
	else
		CHECK_STR(a->smtp_host, c->host);
	CHECK(a->smtp_port == c->port);
	CHECK(a->smtp_tls == c->tls);
	if (c->user == NULL)
		CHECK(a->smtp_user == NULL);
	else
		CHECK_STR(a->smtp_user, c->user);
	cfg_free(cfg);
}

/* Default ports for each protocol and tls. */
struct portcase {
	const char *name;
	const char *text;
	int port;
};

static const struct portcase portcases[] = {
	{ "port pop3 implicit", ACCT, 995 },
	{ "port pop3 implicit named", ACCT "tls = implicit\n", 995 },
	{ "port pop3 starttls", ACCT "tls = starttls\n", 110 },
	{ "port pop3 none", ACCT "tls = none\nallow_plaintext = yes\n", 110 },
	{ "port imap implicit", IMAP, 993 },
	{ "port imap starttls", IMAP "tls = starttls\n", 143 },
	{ "port imap none", IMAP "allow_plaintext = yes\ntls = none\n", 143 },
	{ "port explicit", IMAP "port = 1\n", 1 },
	{ "port explicit max", ACCT "tls = starttls\nport = 65535\n", 65535 },
	{ "port leading zeros", ACCT "port = 0995\n", 995 },
	{ "port from defaults", "[defaults]\nport = 2110\n" ACCT, 2110 },
};

static void
t_port(const void *arg)
{
	const struct portcase *p = arg;
	struct cfg *cfg = load(p->text);

	check_ok(cfg);
	if (cfg != NULL)
		CHECK(cfg->acct[0].port == p->port);
	cfg_free(cfg);
}

/* Keys given in [defaults] apply unless the account sets them. */
static void
t_defaults(const void *arg)
{
	struct cfg *cfg;
	struct cfg_account *a, *b, *c;

	(void)arg;
	cfg = load("[a]\n"
		   "protocol = imap\n"
		   "host = a.example.com\n"
		   "maildir = /m/a\n"
		   "keep = yes\n"
		   "\n"
		   "[defaults]\n"
		   "user = shared\n"
		   "keep = no\n"
		   "timeout = 300\n"
		   "folders = INBOX, Archive\n"
		   "password_command = pass mail\n"
		   "\n"
		   "[b]\n"
		   "protocol = imap\n"
		   "host = b.example.com\n"
		   "maildir = /m/b\n"
		   "user = own\n"
		   "timeout = 10\n"
		   "[c]\n"
		   "protocol = imap\n"
		   "host = c.example.com\n"
		   "maildir = /m/c\n"
		   "folders = Sent\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	CHECK(cfg->nacct == 3);
	CHECK(cfg_find(cfg, "defaults") == NULL);
	a = cfg_find(cfg, "a");
	b = cfg_find(cfg, "b");
	c = cfg_find(cfg, "c");
	CHECK(a == &cfg->acct[0] && b == &cfg->acct[1] && c == &cfg->acct[2]);
	if (a == NULL || b == NULL || c == NULL) {
		cfg_free(cfg);
		return;
	}
	CHECK(b->line == 14);
	CHECK_STR(a->user, "shared");
	CHECK(a->keep == 1);
	CHECK(a->timeout == 300);
	CHECK_STR(a->password_command, "pass mail");
	CHECK(a->nfolders == 2);
	CHECK_STR(b->user, "own");
	CHECK(b->keep == 0);
	CHECK(b->timeout == 10);
	CHECK(b->nfolders == 2);
	if (b->nfolders == 2) {
		CHECK_STR(b->folders[0], "INBOX");
		CHECK_STR(b->folders[1], "Archive");
	}
	CHECK(c->nfolders == 1);
	if (c->nfolders == 1)
		CHECK_STR(c->folders[0], "Sent");
	CHECK(c->timeout == 300);
	cfg_free(cfg);
}

/* A POP3 account may inherit folders = INBOX. */
static void
t_defaults_fixed(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load("[defaults]\nfolders = INBOX\nuser = shared\n" ACCT
		   "[b]\nprotocol = imap\nhost = h\nmaildir = /m\n");
	check_ok(cfg);
	if (cfg != NULL) {
		CHECK(cfg->acct[0].nfolders == 1);
		CHECK_STR(cfg->acct[0].user, "alice");
		CHECK_STR(cfg->acct[1].user, "shared");
	}
	cfg_free(cfg);
}

/* Folder items and mirror from [defaults], copied into each account;
 * the default folders is the item INBOX. */
static void
t_folder_items(const void *arg)
{
	struct cfg *cfg;
	const struct cfg_account *a, *b;

	(void)arg;
	cfg = load("[defaults]\nfolders = *, !\\Junk, Lists/%\nmirror = yes\n"
		   "protocol = imap\n" IMAP "[b]\nhost = h\nuser = u\n"
		   "maildir = /m\nfolders = \xc3\x9c"
		   "ber\nmirror = no\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	a = &cfg->acct[0];
	b = &cfg->acct[1];
	CHECK(a->mirror == 1 && b->mirror == 0);
	CHECK(a->nfitems == 3 && a->nfolders == 3);
	if (a->nfitems == 3) {
		CHECK(a->fitems[0].kind == CFG_FPATTERN);
		CHECK(!a->fitems[0].exclude);
		CHECK(a->fitems[1].kind == CFG_FSPECIAL);
		CHECK(a->fitems[1].exclude);
		CHECK(a->fitems[1].special == CFG_SU_JUNK);
		CHECK_STR(a->fitems[1].text, "!\\Junk");
		CHECK_STR(a->fitems[2].utf8, "Lists/%");
		CHECK_STR(a->folders[2], "Lists/%");
	}
	CHECK(b->nfitems == 1);
	if (b->nfitems == 1) {
		CHECK(b->fitems[0].kind == CFG_FNAME);
		CHECK_STR(b->fitems[0].canon, "&ANw-ber");
	}
	cfg_free(cfg);
	cfg = load(IMAP);
	check_ok(cfg);
	if (cfg != NULL) {
		a = &cfg->acct[0];
		CHECK(a->mirror == 0);
		CHECK(a->nfitems == 1 && a->nfolders == 1);
		if (a->nfitems == 1)
			CHECK_STR(a->fitems[0].canon, "INBOX");
	}
	cfg_free(cfg);
}

/* Account names in file order; cfg_find by exact name. */
static void
t_find(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load(ACCT "[a.b_c-d@e+f]\nprotocol = imap\nhost = h\nuser = u\n"
			"maildir = /m\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	CHECK(cfg->nacct == 2);
	CHECK_STR(cfg->acct[0].name, "work");
	CHECK_STR(cfg->acct[1].name, "a.b_c-d@e+f");
	CHECK(cfg->acct[1].line == 6);
	CHECK(cfg_find(cfg, "a.b_c-d@e+f") == &cfg->acct[1]);
	CHECK(cfg_find(cfg, "Work") == NULL);
	CHECK(cfg_find(cfg, "") == NULL);
	CHECK(cfg_find(NULL, "work") == NULL);
	cfg_free(cfg);
	cfg_free(NULL);
}

static void
t_name_49(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load("[a123456789b123456789c123456789d123456789e12345678]\n"
		   "protocol = imap\nhost = h\nuser = u\nmaildir = /m\n");
	check_ok(cfg);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].name,
		    "a123456789b123456789c123456789d123456789e12345678");
	cfg_free(cfg);
}

/* state_file's default follows XDG_STATE_HOME. */
struct statecase {
	const char *name;
	const char *xdg; /* NULL: unset */
	const char *want; /* NULL: under $HOME */
};

static const struct statecase statecases[] = {
	{ "state_file default without XDG_STATE_HOME", NULL, NULL },
	{ "state_file default with XDG_STATE_HOME", "/x/state",
	    "/x/state/mailfetch/work.state" },
	{ "state_file default with XDG_STATE_HOME empty", "", NULL },
	{ "state_file default with XDG_STATE_HOME relative", "rel/state",
	    NULL },
};

static void
t_state(const void *arg)
{
	const struct statecase *s = arg;
	struct cfg *cfg;
	char want[256];

	if (s->xdg != NULL)
		setenv("XDG_STATE_HOME", s->xdg, 1);
	cfg = load(ACCT);
	unsetenv("XDG_STATE_HOME");
	check_ok(cfg);
	if (s->want != NULL)
		snprintf(want, sizeof(want), "%s", s->want);
	else
		snprintf(want, sizeof(want),
		    "%s/.local/state/mailfetch/work.state", home);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].state_file, want);
	cfg_free(cfg);
}

/* ~ expansion of every path key. */
static void
t_tilde(const void *arg)
{
	struct cfg *cfg;
	struct cfg_account *a;
	char want[256];

	(void)arg;
	cfg = load("[work]\nprotocol = pop3\nhost = h\nuser = u\n"
		   "maildir = ~\n"
		   "tls_ca_file = ~/ca.pem\n"
		   "state_file = rel/s.state\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	a = &cfg->acct[0];
	CHECK_STR(a->maildir, home);
	snprintf(want, sizeof(want), "%s/ca.pem", home);
	CHECK_STR(a->tls_ca_file, want);
	CHECK_STR(a->state_file, "rel/s.state");
	cfg_free(cfg);

	/* A HOME with a trailing slash gives no double slash. */
	snprintf(want, sizeof(want), "%s/", home);
	setenv("HOME", want, 1);
	cfg = load(ACCT);
	setenv("HOME", home, 1);
	check_ok(cfg);
	snprintf(want, sizeof(want), "%s/Mail", home);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].maildir, want);
	cfg_free(cfg);
}

/* Without HOME, ~ is the home directory of the password database. */
static void
t_tilde_passwd(const void *arg)
{
	struct passwd *pw;
	struct cfg *cfg;
	char want[512];

	(void)arg;
	pw = getpwuid(getuid());
	CHECK(pw != NULL);
	if (pw == NULL)
		return;
	snprintf(want, sizeof(want), "%s/Mail", pw->pw_dir);
	unsetenv("HOME");
	cfg = load(ACCT);
	setenv("HOME", home, 1);
	check_ok(cfg);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].maildir, want);
	cfg_free(cfg);
}

static void
t_fingerprint(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load(ACCT "tls_fingerprint = sha256:AB:cd:EF:01:23:45:67:89:"
			"ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
			"ab:cd:ef:01:23:45:67:89\n");
	check_ok(cfg);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].tls_fingerprint,
		    "SHA256:abcdef0123456789abcdef0123456789"
		    "abcdef0123456789abcdef0123456789");
	cfg_free(cfg);
}

/* Keyword values in any case; ';' without whitespace before is kept. */
static void
t_words(const void *arg)
{
	struct cfg *cfg;
	struct cfg_account *a;

	(void)arg;
	cfg = load("[work]\nprotocol = IMAP\nhost = h\nuser = u\n"
		   "maildir = /m\n"
		   "tls = StartTLS\n"
		   "auth = SCRAM-SHA-1\n"
		   "keep = No\n"
		   "tls_protocols = ALL:!TLSv1.0: !tlsv1.1\n"
		   "password_command = pass a;b # not a comment\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	a = &cfg->acct[0];
	CHECK(a->protocol == CFG_IMAP);
	CHECK(a->tls == SRC_TLS_STARTTLS);
	CHECK(a->auth == SRC_AUTH_SCRAM_SHA_1);
	CHECK(a->keep == 0);
	CHECK_STR(a->tls_protocols, "ALL:!TLSv1.0: !tlsv1.1");
	CHECK_STR(a->password_command, "pass a;b # not a comment");
	cfg_free(cfg);
}

/* Every auth word maps to its enum src_auth. */
static void
t_auth(const void *arg)
{
	static const struct {
		const char *word;
		enum src_auth auth;
	} auths[] = {
		{ "auto", SRC_AUTH_AUTO },
		{ "user", SRC_AUTH_USER },
		{ "apop", SRC_AUTH_APOP },
		{ "login", SRC_AUTH_LOGIN },
		{ "plain", SRC_AUTH_PLAIN },
		{ "cram-md5", SRC_AUTH_CRAM_MD5 },
		{ "scram-sha-1", SRC_AUTH_SCRAM_SHA_1 },
		{ "scram-sha-256", SRC_AUTH_SCRAM_SHA_256 },
		{ "xoauth2", SRC_AUTH_XOAUTH2 },
		{ "oauthbearer", SRC_AUTH_OAUTHBEARER },
	};
	char text[256];
	struct cfg *cfg;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(auths) / sizeof(auths[0]); i++) {
		snprintf(text, sizeof(text), ACCT "auth = %s\n", auths[i].word);
		cfg = load(text);
		check_ok(cfg);
		if (cfg != NULL)
			CHECK(cfg->acct[0].auth == auths[i].auth);
		cfg_free(cfg);
	}
}

/* A password is kept as written, up to the first whitespace-';'. */
static void
t_password(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load(ACCT "password = s3cr;et=x:y#z\n");
	check_ok(cfg);
	if (cfg != NULL) {
		CHECK_STR(cfg->acct[0].password, "s3cr;et=x:y#z");
		CHECK(cfg->acct[0].password_command == NULL);
	}
	cfg_free(cfg);
}

/*
 * How many times the stack below the caller's frame, where cfg_load and
 * inih had theirs, holds s. The array is read, never written: it shows
 * what those frames left behind.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
static __attribute__((noinline)) int
stack_count(const char *s)
{
	volatile char region[128 * 1024];
	size_t i, j, n = strlen(s);
	int found = 0;

	for (i = 0; i + n <= sizeof(region); i++) {
		for (j = 0; j < n && region[i + j] == s[j]; j++)
			;
		found += j == n;
	}
	return found;
}
#pragma GCC diagnostic pop

/*
 * SPEC "Secrets": a config password stays in the config only. The
 * password line last, inih's line buffer held it when it returned; a
 * config that then fails its checks (no maildir) leaves cfg_load little
 * else to do that would overwrite that stack.
 */
static void
t_password_not_on_stack(const void *arg)
{
	static const char pw[] = "Pw-stack-5c1b9e7d";
	struct cfg *cfg;

	(void)arg;
	cfg = load("[work]\nprotocol = pop3\nhost = mail.example.com\n"
		   "user = alice\npassword = Pw-stack-5c1b9e7d\n");
	CHECK(stack_count(pw) == 0);
	check_err(cfg, ":1: maildir: missing");
	cfg = load(ACCT "password = Pw-stack-5c1b9e7d\n");
	CHECK(stack_count(pw) == 0);
	check_ok(cfg);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].password, pw);
	cfg_free(cfg);
}

/* Errors about a password line never show the password. */
static void
t_password_not_shown(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load(ACCT "password = hunter2 ;x\n");
	check_err(cfg, ":6: password:");
	CHECK(strstr(errbuf, "hunter2") == NULL);
	cfg = load(ACCT "hunter2 ;x\n");
	check_err(cfg, ":6: whitespace followed by ';'");
	CHECK(strstr(errbuf, "hunter2") == NULL);
	cfg = load(ACCT " hunter2=x\n");
	check_err(cfg, ":6: hunter2: the line starts with whitespace");
	cfg = load(ACCT "hunter 2\n");
	check_err(cfg, ":6: expected");
	CHECK(strstr(errbuf, "hunter") == NULL);
}

/* The file's mode matters only when it holds a password. */
struct modecase {
	const char *name;
	const char *text;
	mode_t mode;
	int ok;
	int pwline;
};

static const struct modecase modecases[] = {
	{ "mode 0644 with password", ACCT "password = x\n", 0644, 0, 6 },
	{ "mode 0640 with password in defaults",
	    "[defaults]\npassword = x\n" ACCT, 0640, 0, 2 },
	{ "mode 0620 with password", ACCT "password = x\n", 0620, 0, 6 },
	{ "mode 0604 with password", ACCT "password = x\n", 0604, 0, 6 },
	{ "mode 0644 without password", ACCT "password_command = pass x\n",
	    0644, 1, 0 },
	{ "mode 0600 with password", ACCT "password = x\n", 0600, 1, 0 },
	{ "mode 0400 with password", ACCT "password = x\n", 0400, 1, 0 },
};

static void
t_mode(const void *arg)
{
	const struct modecase *m = arg;
	struct cfg *cfg;
	char want[512];

	cfg = load_mode(m->text, strlen(m->text), m->mode);
	if (m->ok) {
		check_ok(cfg);
		cfg_free(cfg);
		return;
	}
	snprintf(want, sizeof(want),
	    ": has a password (line %d) but group or others can access it "
	    "(mode %04o); chmod 600 %s, or use password_command",
	    m->pwline, (unsigned)m->mode, cfgpath);
	check_err(cfg, want);
}

/*
 * Line lengths: a raw line of 200 bytes or more, counting its line
 * ending, is refused; 199 is fine, with LF, CRLF or nothing at the end
 * of the file.
 */
struct linecase {
	const char *name;
	size_t len; /* bytes of the line with its ending */
	const char *end; /* "\n", "\r\n" or "" */
	int ok;
};

static const struct linecase linecases[] = {
	{ "line of 199 bytes", 199, "\n", 1 },
	{ "line of 200 bytes", 200, "\n", 0 },
	{ "line of 1000 bytes", 1000, "\n", 0 },
	{ "line of 199 bytes with CRLF", 199, "\r\n", 1 },
	{ "line of 200 bytes with CRLF", 200, "\r\n", 0 },
	{ "last line of 199 bytes without newline", 199, "", 1 },
	{ "last line of 200 bytes without newline", 200, "", 0 },
};

static void
t_line(const void *arg)
{
	const struct linecase *l = arg;
	char text[1200], want[256], *p;
	struct cfg *cfg;
	size_t n, pad;

	n = (size_t)snprintf(text, sizeof(text), ACCT);
	p = text + n;
	n = (size_t)sprintf(p, "password_command = echo ");
	pad = l->len - n - strlen(l->end);
	memset(p + n, 'x', pad);
	strcpy(p + n + pad, l->end);
	CHECK(strlen(p) == l->len);
	cfg = load(text);
	if (l->ok) {
		check_ok(cfg);
		if (cfg != NULL)
			CHECK(strlen(cfg->acct[0].password_command) == pad + 5);
		cfg_free(cfg);
		return;
	}
	snprintf(want, sizeof(want),
	    ":6: password_command: the line is %zu bytes long with its line "
	    "ending; lines must be shorter than 200 bytes",
	    l->len);
	check_err(cfg, want);
}

/* A comment line is held to the same limit. */
static void
t_line_comment(const void *arg)
{
	char text[512];
	size_t n;

	(void)arg;
	n = (size_t)snprintf(text, sizeof(text), "#");
	memset(text + n, '-', 250);
	strcpy(text + n + 250, "\n" ACCT);
	check_err(
	    load(text), ":1: the line is 252 bytes long with its line ending");
}

/* A file with CRLF line endings reads like one with LF. */
static void
t_crlf(const void *arg)
{
	struct cfg *cfg;
	struct cfg_account *a;

	(void)arg;
	cfg = load("; CRLF\r\n[work]\r\nprotocol = imap\r\nhost = h\r\n"
		   "user = u\r\nmaildir = /m\r\n\r\nfolders = INBOX,Sent\r\n"
		   "port = 993\r\npassword = pw\r\n");
	check_ok(cfg);
	if (cfg == NULL)
		return;
	a = &cfg->acct[0];
	CHECK(a->line == 2);
	CHECK_STR(a->host, "h");
	CHECK_STR(a->maildir, "/m");
	CHECK(a->port == 993);
	CHECK_STR(a->password, "pw");
	CHECK(a->nfolders == 2);
	if (a->nfolders == 2)
		CHECK_STR(a->folders[1], "Sent");
	cfg_free(cfg);
	check_err(load("[work]\r\nprotocol = imap\r\nport = 0\r\n"),
	    ":3: port: must be a number from 1 to 65535, not \"0\"");
}

/* No newline at the end of the file; a UTF-8 byte order mark. */
static void
t_ends(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load(ACCT "keep = no");
	check_ok(cfg);
	if (cfg != NULL)
		CHECK(cfg->acct[0].keep == 0);
	cfg_free(cfg);
	cfg = load("\xEF\xBB\xBF" ACCT);
	check_ok(cfg);
	if (cfg != NULL)
		CHECK_STR(cfg->acct[0].name, "work");
	cfg_free(cfg);
	check_err(load(ACCT "port = 0"), ":6: port:");
}

/* Blank and whitespace-only lines, comments, indented comments. */
static void
t_blank(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load("\n   \n\t\n# a\n; b\n  # c\n\t; d\n" ACCT
		   "\n \t \n# keep = yes\n  ;x = y\nkeep = no\n# end ; x\n");
	check_ok(cfg);
	if (cfg != NULL) {
		CHECK(cfg->acct[0].line == 8);
		CHECK(cfg->acct[0].keep == 0);
	}
	cfg_free(cfg);
}

/* "key: value" is inih's other form; it works the same. */
static void
t_colon(const void *arg)
{
	struct cfg *cfg;

	(void)arg;
	cfg = load(ACCT "port: 2995\n");
	check_ok(cfg);
	if (cfg != NULL)
		CHECK(cfg->acct[0].port == 2995);
	cfg_free(cfg);
}

static void
t_nul(const void *arg)
{
	static const char text[] = ACCT "keep = n\0o\n";

	(void)arg;
	check_err(load_mode(text, sizeof(text) - 1, 0600),
	    ":6: the line contains a NUL byte");
}

static void
t_missing_file(const void *arg)
{
	char path[256];
	struct cfg *cfg;

	(void)arg;
	snprintf(path, sizeof(path), "%s/nonexistent", tdir);
	cfg = cfg_load(path, errbuf, sizeof(errbuf));
	CHECK(cfg == NULL);
	snprintf(path, sizeof(path),
	    "%s/nonexistent: cannot open: No such file or directory", tdir);
	CHECK_STR(errbuf, path);
	cfg = cfg_load(tdir, errbuf, sizeof(errbuf));
	CHECK(cfg == NULL);
	snprintf(path, sizeof(path), "%s: cannot read: Is a directory", tdir);
	CHECK_STR(errbuf, path);
}

/* A short error buffer gets a cut, terminated message; none is fine. */
static void
t_errbuf(const void *arg)
{
	char small[8];
	struct cfg *cfg;

	(void)arg;
	write_file(cfgpath, "", 0, 0600);
	memset(small, 'x', sizeof(small));
	cfg = cfg_load(cfgpath, small, sizeof(small));
	CHECK(cfg == NULL);
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(strncmp(small, cfgpath, sizeof(small) - 1) == 0);
	CHECK(cfg_load(cfgpath, NULL, 0) == NULL);
}

/* The shipped example parses, with its two accounts. */
static void
t_example(const void *arg)
{
	struct cfg *cfg;
	struct cfg_account *a;
	char want[256];

	(void)arg;
	cfg = cfg_load("fetchrc.example", errbuf, sizeof(errbuf));
	check_ok(cfg);
	if (cfg == NULL)
		return;
	CHECK(cfg->nacct == 2);
	if ((a = cfg_find(cfg, "home")) != NULL) {
		CHECK(a == &cfg->acct[0]);
		CHECK(a->protocol == CFG_POP3);
		CHECK_STR(a->host, "mail.example.com");
		CHECK(a->port == 995);
		CHECK(a->keep == 0);
		CHECK(a->password == NULL);
		CHECK(a->password_command != NULL);
		CHECK(a->timeout == 120);
		CHECK(a->max_size == 50 * 1024 * 1024);
		snprintf(want, sizeof(want), "%s/Mail/home", home);
		CHECK_STR(a->maildir, want);
	} else
		CHECK(!"no account home");
	if ((a = cfg_find(cfg, "work")) != NULL) {
		CHECK(a->protocol == CFG_IMAP);
		CHECK_STR(a->host, "imap.example.com");
		CHECK(a->tls == SRC_TLS_STARTTLS);
		CHECK(a->port == 143);
		CHECK(a->auth == SRC_AUTH_SCRAM_SHA_256);
		CHECK(a->nfolders == 2);
		CHECK(a->delete_after == 30 * 86400);
		CHECK(a->timeout == 120);
		CHECK_STR(a->smtp_host, "smtp.example.com");
		CHECK(a->smtp_port == 587);
		CHECK(a->smtp_tls == SRC_TLS_STARTTLS);
		CHECK_STR(a->smtp_user, "alice@example.com");
	} else
		CHECK(!"no account work");
	cfg_free(cfg);
}

static void
t_default_path(const void *arg)
{
	char want[256], dir[256];
	char *p;

	(void)arg;
	unsetenv("XDG_CONFIG_HOME");
	p = cfg_default_path();
	snprintf(want, sizeof(want), "%s/.fetchrc", home);
	CHECK_STR(p, want);
	free(p);

	snprintf(dir, sizeof(dir), "%s/.config", home);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/.config/mailfetch", home);
	mkdir(dir, 0700);
	snprintf(want, sizeof(want), "%s/.config/mailfetch/fetchrc", home);
	write_file(want, "", 0, 0600);
	p = cfg_default_path();
	CHECK_STR(p, want);
	free(p);

	/* XDG_CONFIG_HOME without a fetchrc: ~/.fetchrc. */
	snprintf(dir, sizeof(dir), "%s/xdg", tdir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	p = cfg_default_path();
	snprintf(want, sizeof(want), "%s/.fetchrc", home);
	CHECK_STR(p, want);
	free(p);

	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/xdg/mailfetch", tdir);
	mkdir(dir, 0700);
	snprintf(want, sizeof(want), "%s/xdg/mailfetch/fetchrc", tdir);
	write_file(want, "", 0, 0600);
	p = cfg_default_path();
	CHECK_STR(p, want);
	free(p);

	/* Empty or relative XDG_CONFIG_HOME: ~/.config. */
	setenv("XDG_CONFIG_HOME", "", 1);
	p = cfg_default_path();
	snprintf(want, sizeof(want), "%s/.config/mailfetch/fetchrc", home);
	CHECK_STR(p, want);
	free(p);
	setenv("XDG_CONFIG_HOME", "xdg", 1);
	p = cfg_default_path();
	CHECK_STR(p, want);
	free(p);
	unsetenv("XDG_CONFIG_HOME");
}

/* cfg_parse_duration. */
struct durcase {
	const char *in;
	int ok;
	int64_t secs;
};

static const struct durcase durcases[] = {
	{ "0", 1, 0 },
	{ "0s", 1, 0 },
	{ "30", 1, 30 * 86400 },
	{ "30d", 1, 30 * 86400 },
	{ "45s", 1, 45 },
	{ "15m", 1, 900 },
	{ "12h", 1, 43200 },
	{ "007d", 1, 7 * 86400 },
	{ "9223372036854775807s", 1, INT64_MAX },
	{ "106751991167300d", 1, INT64_C(106751991167300) * 86400 },
	{ "", 0, 0 },
	{ "d", 0, 0 },
	{ "5x", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ " 1", 0, 0 },
	{ "1 d", 0, 0 },
	{ "1.5d", 0, 0 },
	{ "1D", 0, 0 },
	{ "1dd", 0, 0 },
	{ "1w", 0, 0 },
	{ "9223372036854775808s", 0, 0 },
	{ "106751991167301d", 0, 0 },
	{ "99999999999999999999d", 0, 0 },
	{ "18446744073709551616", 0, 0 },
};

static void
t_durations(const void *arg)
{
	int64_t secs;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(durcases) / sizeof(durcases[0]); i++) {
		const struct durcase *d = &durcases[i];

		secs = -42;
		if (cfg_parse_duration(d->in, &secs) != (d->ok ? 0 : -1)
		    || (d->ok && secs != d->secs) || (!d->ok && secs != -42)) {
			fprintf(stderr, "duration \"%s\": got %lld\n", d->in,
			    (long long)secs);
			t_case_failed = 1;
		}
	}
}

/*
 * cfg_parse_at, in the time zone each case names (set with TZ). now is
 * 2026-01-01 00:00 UTC unless a case says otherwise; the expected times
 * were computed with Python's zoneinfo, which reads a skipped time with
 * the offset from before the change and a repeated one as its first
 * occurrence (fold = 0), as RFC 5545 section 3.3.5 does.
 */
#define NOW2026 INT64_C(1767225600)

struct atcase {
	const char *name;
	const char *tz;
	const char *in;
	int64_t now; /* 0: NOW2026 */
	int64_t at; /* -1: an error containing err */
	const char *err;
};

static const struct atcase atcases[] = {
	{ "+30d", "UTC", "+30d", 0, NOW2026 + 30 * 86400, NULL },
	{ "+12h", "UTC", "+12h", 0, NOW2026 + 12 * 3600, NULL },
	{ "+15m", "UTC", "+15m", 0, NOW2026 + 900, NULL },
	{ "+45s", "UTC", "+45s", 0, NOW2026 + 45, NULL },
	{ "+2 bare is days", "UTC", "+2", 0, NOW2026 + 2 * 86400, NULL },
	{ "+0 is now", "UTC", "+0", 0, NOW2026, NULL },
	{ "+DURATION ignores the zone", "Europe/Berlin", "+1d", 0,
	    NOW2026 + 86400, NULL },
	{ "+ alone", "UTC", "+", 0, -1, "expected +DURATION" },
	{ "duration without +", "UTC", "30d", 0, -1, "expected +DURATION" },
	{ "+-1d", "UTC", "+-1d", 0, -1, "expected +DURATION" },
	{ "+1w", "UTC", "+1w", 0, -1, "expected +DURATION" },
	{ "+1.5d", "UTC", "+1.5d", 0, -1, "expected +DURATION" },
	{ "+ 1d", "UTC", "+ 1d", 0, -1, "expected +DURATION" },
	{ "+1D", "UTC", "+1D", 0, -1, "expected +DURATION" },
	{ "+ past the end of time", "UTC", "+9223372036854775807s", 0, -1,
	    "too far in the future" },
	{ "date UTC", "UTC", "2027-01-01", 0, INT64_C(1798761600), NULL },
	{ "date Berlin winter", "Europe/Berlin", "2027-01-01", 0,
	    INT64_C(1798758000), NULL },
	{ "date and time Berlin summer", "Europe/Berlin", "2026-07-01T12:00", 0,
	    INT64_C(1782900000), NULL },
	{ "Berlin before the clocks go forward", "Europe/Berlin",
	    "2026-03-29T01:59", 0, INT64_C(1774745940), NULL },
	{ "Berlin 02:00 skipped: 03:00 CEST", "Europe/Berlin",
	    "2026-03-29T02:00", 0, INT64_C(1774746000), NULL },
	{ "Berlin 02:30 skipped: 03:30 CEST", "Europe/Berlin",
	    "2026-03-29T02:30", 0, INT64_C(1774747800), NULL },
	{ "Berlin 03:00 after the gap", "Europe/Berlin", "2026-03-29T03:00", 0,
	    INT64_C(1774746000), NULL },
	{ "Berlin before the clocks go back", "Europe/Berlin",
	    "2026-10-25T01:59", 0, INT64_C(1792886340), NULL },
	{ "Berlin 02:30 twice: the first, CEST", "Europe/Berlin",
	    "2026-10-25T02:30", 0, INT64_C(1792888200), NULL },
	{ "Berlin 03:00 once, CET", "Europe/Berlin", "2026-10-25T03:00", 0,
	    INT64_C(1792893600), NULL },
	{ "New York 02:30 skipped: 03:30 EDT", "America/New_York",
	    "2026-03-08T02:30", 0, INT64_C(1772955000), NULL },
	{ "New York 01:30 twice: the first, EDT", "America/New_York",
	    "2026-11-01T01:30", 0, INT64_C(1793511000), NULL },
	{ "Lord Howe half-hour gap", "Australia/Lord_Howe", "2026-10-04T02:15",
	    0, INT64_C(1791042300), NULL },
	{ "Santiago midnight skipped: 01:00", "America/Santiago", "2026-09-06",
	    0, INT64_C(1788667200), NULL },
	{ "leap day of a leap year", "Europe/Berlin", "2400-02-29", 0,
	    INT64_C(13574559600), NULL },
	{ "February 30", "UTC", "2026-02-30", 0, -1,
	    "2026-02 has no day 30 (it has 28)" },
	{ "February 29 of 2100", "UTC", "2100-02-29", 0, -1,
	    "2100-02 has no day 29 (it has 28)" },
	{ "April 31", "UTC", "2026-04-31", 0, -1,
	    "2026-04 has no day 31 (it has 30)" },
	{ "day 00", "UTC", "2026-12-00", 0, -1, "has no day 00" },
	{ "month 13", "UTC", "2026-13-01", 0, -1, "there is no month 13" },
	{ "month 00", "UTC", "2026-00-10", 0, -1, "there is no month 00" },
	{ "24:00", "UTC", "2027-01-01T24:00", 0, -1, "there is no time 24:00" },
	{ "minute 60", "UTC", "2027-01-01T23:60", 0, -1,
	    "there is no time 23:60" },
	{ "one-digit month", "UTC", "2027-1-01", 0, -1, "expected +DURATION" },
	{ "hour without minutes", "UTC", "2027-01-01T12", 0, -1,
	    "expected +DURATION" },
	{ "space for T", "UTC", "2027-01-01 12:00", 0, -1,
	    "expected +DURATION" },
	{ "lowercase t", "UTC", "2027-01-01t12:00", 0, -1,
	    "expected +DURATION" },
	{ "seconds", "UTC", "2027-01-01T12:00:00", 0, -1,
	    "expected +DURATION" },
	{ "trailing Z", "UTC", "2027-01-01T12:00Z", 0, -1,
	    "expected +DURATION" },
	{ "empty", "UTC", "", 0, -1, "expected +DURATION" },
	{ "a word", "UTC", "tomorrow", 0, -1, "expected +DURATION" },
	{ "yesterday", "UTC", "2025-12-31", 0, -1,
	    "that is in the past (2025-12-31 00:00 UTC, and it is now "
	    "2026-01-01 00:00 UTC)" },
	{ "earlier today", "Europe/Berlin", "2026-01-01", 0, -1,
	    "in the past (2026-01-01 00:00 CET, and it is now 2026-01-01 "
	    "01:00 CET)" },
	{ "this very minute", "UTC", "2026-01-01T00:00", 0, NOW2026, NULL },
	{ "a minute ago", "UTC", "2026-01-01T00:00", NOW2026 + 60, -1,
	    "in the past" },
};

static void
t_at(const void *arg)
{
	const struct atcase *c = arg;
	char err[512] = "";
	int64_t at = -42, now = c->now ? c->now : NOW2026;
	int rv;

	setenv("TZ", c->tz, 1);
	tzset();
	rv = cfg_parse_at(c->in, now, &at, err, sizeof(err));
	if (c->at != -1) {
		CHECK(rv == 0);
		if (at != c->at)
			fprintf(stderr, "--at %s in %s: got %lld, want %lld\n",
			    c->in, c->tz, (long long)at, (long long)c->at);
		CHECK(at == c->at);
	} else {
		CHECK(rv == -1);
		CHECK(at == -42);
		if (strstr(err, c->err) == NULL)
			fprintf(stderr,
			    "--at \"%s\": error \"%s\" lacks \"%s\"\n", c->in,
			    err, c->err);
		CHECK(strstr(err, c->err) != NULL);
	}
	unsetenv("TZ");
	tzset();
}

/* The zones of the table exist: a missing one would read as UTC. */
static void
t_at_zones(const void *arg)
{
	static const char *const zones[] = { "Europe/Berlin",
		"America/New_York", "Australia/Lord_Howe", "America/Santiago" };
	char path[128];
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		snprintf(
		    path, sizeof(path), "/usr/share/zoneinfo/%s", zones[i]);
		if (access(path, R_OK) == -1)
			fprintf(stderr,
			    "%s: missing; install tzdata (tests/deps.sh)\n",
			    path);
		CHECK(access(path, R_OK) == 0);
	}
}

/* cfg_parse_size. */
struct sizecase {
	const char *in;
	int ok;
	uint64_t bytes;
};

static const struct sizecase sizecases[] = {
	{ "0", 1, 0 },
	{ "1", 1, 1 },
	{ "512", 1, 512 },
	{ "1k", 1, 1024 },
	{ "20M", 1, 20 * 1024 * 1024 },
	{ "3G", 1, UINT64_C(3) * 1024 * 1024 * 1024 },
	{ "18446744073709551615", 1, UINT64_MAX },
	{ "17179869183G", 1, UINT64_C(17179869183) << 30 },
	{ "", 0, 0 },
	{ "k", 0, 0 },
	{ "5x", 0, 0 },
	{ "-1", 0, 0 },
	{ "1.5M", 0, 0 },
	{ "1K", 0, 0 },
	{ "1m", 0, 0 },
	{ "1g", 0, 0 },
	{ "1kB", 0, 0 },
	{ "1 M", 0, 0 },
	{ "18446744073709551616", 0, 0 },
	{ "17179869184G", 0, 0 },
	{ "99999999999999999999d", 0, 0 },
};

static void
t_sizes(const void *arg)
{
	uint64_t bytes;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(sizecases) / sizeof(sizecases[0]); i++) {
		const struct sizecase *s = &sizecases[i];

		bytes = 42;
		if (cfg_parse_size(s->in, &bytes) != (s->ok ? 0 : -1)
		    || (s->ok && bytes != s->bytes)
		    || (!s->ok && bytes != 42)) {
			fprintf(stderr, "size \"%s\": got %llu\n", s->in,
			    (unsigned long long)bytes);
			t_case_failed = 1;
		}
	}
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	size_t i;
	int rc;

	snprintf(tdir, sizeof(tdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(home, sizeof(home), "%s/home", tdir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/fetchrc", tdir);
	if (mkdir(home, 0700) == -1) {
		perror(home);
		return 1;
	}
	setenv("HOME", home, 1);
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CONFIG_HOME");

	for (i = 0; i < sizeof(errcases) / sizeof(errcases[0]); i++)
		T_RUN(errcases[i].name, t_err, &errcases[i]);
	for (i = 0; i < sizeof(portcases) / sizeof(portcases[0]); i++)
		T_RUN(portcases[i].name, t_port, &portcases[i]);
	for (i = 0; i < sizeof(statecases) / sizeof(statecases[0]); i++)
		T_RUN(statecases[i].name, t_state, &statecases[i]);
	for (i = 0; i < sizeof(modecases) / sizeof(modecases[0]); i++)
		T_RUN(modecases[i].name, t_mode, &modecases[i]);
	for (i = 0; i < sizeof(linecases) / sizeof(linecases[0]); i++)
		T_RUN(linecases[i].name, t_line, &linecases[i]);
	for (i = 0; i < sizeof(smtpcases) / sizeof(smtpcases[0]); i++)
		T_RUN(smtpcases[i].name, t_smtp, &smtpcases[i]);
	T_RUN("minimal account and its defaults", t_minimal, NULL);
	T_RUN("every key set", t_full, NULL);
	T_RUN("[defaults] inherited and overridden", t_defaults, NULL);
	T_RUN("[defaults] folders INBOX with pop3", t_defaults_fixed, NULL);
	T_RUN("folder items and mirror, from [defaults]", t_folder_items, NULL);
	T_RUN("accounts in file order, cfg_find", t_find, NULL);
	T_RUN("account name of 49 bytes", t_name_49, NULL);
	T_RUN("~ expansion", t_tilde, NULL);
	T_RUN("~ expansion without HOME", t_tilde_passwd, NULL);
	T_RUN("fingerprint normalised", t_fingerprint, NULL);
	T_RUN("keywords in any case, ';' without whitespace", t_words, NULL);
	T_RUN("every auth word", t_auth, NULL);
	T_RUN("password kept verbatim", t_password, NULL);
	T_RUN("password never in an error", t_password_not_shown, NULL);
	T_RUN("password not left on the stack", t_password_not_on_stack, NULL);
	T_RUN("comment line too long", t_line_comment, NULL);
	T_RUN("CRLF line endings", t_crlf, NULL);
	T_RUN("no final newline, byte order mark", t_ends, NULL);
	T_RUN("blank lines and comments", t_blank, NULL);
	T_RUN("key: value", t_colon, NULL);
	T_RUN("NUL byte", t_nul, NULL);
	T_RUN("missing file, directory", t_missing_file, NULL);
	T_RUN("short error buffer", t_errbuf, NULL);
	T_RUN("fetchrc.example", t_example, NULL);
	T_RUN("cfg_default_path", t_default_path, NULL);
	T_RUN("cfg_parse_duration table", t_durations, NULL);
	T_RUN("cfg_parse_size table", t_sizes, NULL);
	T_RUN("time zones for cfg_parse_at installed", t_at_zones, NULL);
	for (i = 0; i < sizeof(atcases) / sizeof(atcases[0]); i++)
		T_RUN(atcases[i].name, t_at, &atcases[i]);

	rc = T_DONE();
	nftw(tdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
