"""Hostile servers: scripted fake POP3 and IMAP servers (tests/fakeserver.py)
that send what no real server should: a 100 MB line, a literal of 10^12
bytes, literals in every kind of untagged response, negative and
overflowing numbers, replies that never end, NUL and control bytes,
UIDLs with spaces or of 1000 bytes, mailbox names that try to climb
out of the Maildir, plaintext after a STARTTLS go-ahead, a greeting that
never comes.

Each case asserts: the exact exit status (per SPEC.md's list: 65 for a
reply that breaks the grammar, 76 for a protocol error or a reply over
a cap, 75 for a stall, 0 where the bytes are legal), a first stderr line
"acct: ..." that says what went wrong, no crash (no signal, no sanitizer
report), no file written outside the Maildir and the state directory,
and peak RSS (GNU time's "Maximum resident set size") under 64 MB.
"""

import os
import re
import shutil
import subprocess
import time

import harness
from fakeserver import FakeServer

A = "acct"
RSS_LIMIT_KB = 64 * 1024
# An ASan+UBSan build carries its shadow memory and quarantine: the
# bound is looser there, but still a bound.
RSS_LIMIT_SAN_KB = 160 * 1024
TIME = "/usr/bin/time"
# Seconds a loaded machine (CI with two cores) may add to a run's time.
LOAD_ALLOWANCE = 6
MB100 = 100 * 1024 * 1024
# A stall: the inactivity timeout, or the reply's time (SPEC "Time").
STALL = r"no data from server|did not complete its reply"


def rss_limit(env):
    return RSS_LIMIT_SAN_KB if "san" in os.path.basename(env.build) \
        else RSS_LIMIT_KB


class Outcome:
    def __init__(self, rc, out, err, elapsed, rss_kb):
        self.rc = rc
        self.out = out
        self.err = err
        self.elapsed = elapsed
        self.rss_kb = rss_kb

    def __str__(self):
        return "exit %s after %.1fs, RSS %s kB\n--- stdout:\n%s--- stderr:\n%s" % (
            self.rc, self.elapsed, self.rss_kb, self.out,
            harness.condense(self.err, 30))


def run_timed(env, cfg, timeout=30):
    """Run mailfetch -c cfg under GNU time -v; returns an Outcome."""
    if not os.access(TIME, os.X_OK):
        raise AssertionError("%s is missing (run: sh tests/deps.sh)" % TIME)
    report = env.path("time.report")
    argv = [TIME, "-v", "-o", report, env.mailfetch, "-c", cfg]
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=env.tmp, env=env.run_env())
    except subprocess.TimeoutExpired:
        raise AssertionError("mailfetch did not finish within %ss" % timeout)
    elapsed = time.monotonic() - t0
    with open(report) as f:
        rep = f.read()
    os.unlink(report)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rep)
    assert m, "no RSS in GNU time's report: %r" % rep
    sig = re.search(r"Command terminated by signal (\d+)", rep)
    assert sig is None, "mailfetch was killed by signal %s:\n%s" % (
        sig.group(1), p.stderr.decode("utf-8", "replace"))
    err = p.stderr.decode("utf-8", "replace")
    for s in env._all_secrets():
        assert s not in err and s not in p.stdout.decode("utf-8", "replace"), \
            "a secret leaked"
    return Outcome(p.returncode, p.stdout.decode("utf-8", "replace"), err,
                   elapsed, int(m.group(1)))


def config(env, server, protocol, **keys):
    kv = {"protocol": protocol, "host": server.host, "port": str(server.port),
          "tls": "none", "allow_plaintext": "yes", "user": "u",
          "password": "pw-hostile-73", "maildir": env.path(A + "-Maildir"),
          "state_file": env.path("state", A + ".state"), "timeout": "2",
          "connect_timeout": "2"}
    env.secret("pw-hostile-73", "u")
    kv.update({k: str(v) for k, v in keys.items()})
    return env.config("[%s]\n%s" % (A, "".join("%s = %s\n" % x
                                               for x in kv.items())))


def allowed_new(rel):
    """Paths mailfetch may create: under the Maildir and the state
    directory."""
    return (rel == A + "-Maildir" or rel.startswith(A + "-Maildir/") or
            rel == "state" or rel.startswith("state/"))


def check(env, server, protocol, rc, msg, keys=None, max_time=None,
          timeout=30):
    """Run against server and assert everything common to the cases;
    returns the Outcome."""
    cfg = config(env, server, protocol, **(keys or {}))
    before = set(harness.tree(env.tmp))
    o = run_timed(env, cfg, timeout=timeout)
    after = set(harness.tree(env.tmp))
    assert o.rc == rc, "exit %s, want %s:\n%s" % (o.rc, rc, o)
    assert not harness._SAN_START.search(o.err), "sanitizer report:\n%s" % o
    if rc != 0:
        first = o.err.split("\n", 1)[0]
        assert first.startswith(A + ": "), "stderr: %r" % o.err
        assert re.search(msg, o.err), "stderr does not match %r:\n%s" % (
            msg, o.err)
    for rel in sorted(after - before):
        assert allowed_new(rel), "wrote outside the Maildir and state: %s" % rel
    assert o.rss_kb < rss_limit(env), "peak RSS %d kB over %d kB" % (
        o.rss_kb, rss_limit(env))
    if max_time is not None:
        # max_time is what an idle machine needs (timeout = 2 in these
        # configs); LOAD_ALLOWANCE is room for a loaded one. Either way
        # the bound is far below what a missing deadline would take.
        limit = max_time + LOAD_ALLOWANCE
        assert o.elapsed < limit, "took %.1fs (limit %.1fs)" % (
            o.elapsed, limit)
    assert not server.errors, "fake server: %r" % server.errors
    return o


def maildir_messages(env, sub=""):
    out = []
    base = os.path.join(env.path(A + "-Maildir"), sub)
    for d in ("new", "cur"):
        p = os.path.join(base, d)
        if os.path.isdir(p):
            for n in sorted(os.listdir(p)):
                with open(os.path.join(p, n), "rb") as f:
                    out.append(f.read())
    return out


# --- POP3 -------------------------------------------------------------------

POP3_BODIES = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond\r\n"]


def pop3_server(greeting=b"+OK fake POP3 ready\r\n", **over):
    """A fake POP3 server for a normal two-message session; over maps a
    command (CAPA, USER, PASS, STAT, UIDL, LIST, RETR, DELE, QUIT,
    STLS) to a reply (bytes, or a callable(match)), or to (reply,
    options) as fakeserver takes them."""
    def retr(m):
        i = int(m.group(1)) - 1
        return b"+OK\r\n" + POP3_BODIES[i] + b".\r\n"

    replies = {
        "CAPA": b"+OK\r\nUSER\r\nUIDL\r\n.\r\n",
        "USER": b"+OK\r\n",
        "PASS": b"+OK\r\n",
        "STAT": b"+OK 2 48\r\n",
        "UIDL": b"+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n",
        "LIST": b"+OK\r\n1 24\r\n2 25\r\n.\r\n",
        "RETR": retr,
        "DELE": b"+OK\r\n",
        "QUIT": (b"+OK bye\r\n", "close"),
        "STLS": b"-ERR no\r\n",
    }
    replies.update(over)
    rules = []
    for cmd, rep in replies.items():
        rx = r"^%s(?: (\d+))?" % cmd
        if isinstance(rep, tuple):
            rules.append((rx, rep[0], rep[1]))
        else:
            rules.append((rx, rep))
    return FakeServer("respond", greeting=greeting, rules=rules,
                      default=b"-ERR unknown\r\n")


def test_pop3_greeting_never_comes(env):
    with FakeServer("silent") as srv:
        check(env, srv, "pop3", 75, r"greeting.*(no data from server|did "
              r"not complete its reply) (for|within) 2 "
              r"seconds", max_time=4)


def test_pop3_100mb_line(env):
    with FakeServer("script", [], greeting=b"+OK " + b"x" * MB100) as srv:
        check(env, srv, "pop3", 76, r"greeting.*longer than")


def test_pop3_100mb_line_in_listing(env):
    with pop3_server(UIDL=b"+OK\r\n1 " + b"u" * MB100) as srv:
        check(env, srv, "pop3", 76, r"UIDL.*longer than")
    assert maildir_messages(env) == []


def test_pop3_greeting_err_and_garbage(env):
    with pop3_server(greeting=b"-ERR go away\r\n") as srv:
        check(env, srv, "pop3", 76, r"greeting.*go away")
    with pop3_server(greeting=b"\x00\x01\x02 hello\r\n") as srv:
        check(env, srv, "pop3", 76, r"greeting")


def test_pop3_bad_numbers(env):
    cases = [
        ("STAT", b"+OK -1 48\r\n", r"bad STAT"),
        ("STAT", b"+OK 4294967296 48\r\n", r"bad STAT"),
        ("STAT", b"+OK 2 99999999999999999999999\r\n", r"bad STAT"),
        ("LIST", b"+OK\r\n1 -24\r\n2 25\r\n.\r\n", r"bad LIST"),
        ("LIST", b"+OK\r\n1 18446744073709551616\r\n2 25\r\n.\r\n",
         r"bad LIST"),
        ("LIST", b"+OK\r\n0 24\r\n2 25\r\n.\r\n", r"bad LIST"),
        ("LIST", b"+OK\r\n4294967296 24\r\n2 25\r\n.\r\n", r"bad LIST"),
        ("UIDL", b"+OK\r\n-1 uid-one\r\n2 uid-two\r\n.\r\n", r"bad UIDL"),
        ("UIDL", b"+OK\r\n0 uid-one\r\n2 uid-two\r\n.\r\n", r"bad UIDL"),
        ("UIDL", b"+OK\r\n99999999999 uid-one\r\n.\r\n", r"bad UIDL"),
        ("UIDL", b"+OK\r\n1 uid-one\r\n1 uid-two\r\n.\r\n", r"twice"),
        ("UIDL", b"+OK\r\n1 same\r\n2 same\r\n.\r\n", r"twice"),
        ("UIDL", b"+OK\r\n1 uid-one\r\n3 uid-two\r\n.\r\n", r"UIDL but not "
         r"in LIST|LIST but not in UIDL"),
    ]
    for cmd, reply, msg in cases:
        with pop3_server(**{cmd: reply}) as srv:
            try:
                check(env, srv, "pop3", 65, msg)
            except AssertionError as e:
                raise AssertionError("%s %r: %s" % (cmd, reply, e))
            assert not any(l.startswith(("RETR", "DELE")) for l in
                           srv.lines), "%s %r: went on: %r" % (
                               cmd, reply, srv.lines)
    assert maildir_messages(env) == []


def test_pop3_hostile_uidls(env):
    cases = [
        (b"+OK\r\n1 uid with spaces\r\n2 b\r\n.\r\n", 65, r"bad UIDL"),
        (b"+OK\r\n1 uid\x01ctl\r\n2 b\r\n.\r\n", 65, r"bad UIDL.*uid\?ctl"),
        (b"+OK\r\n1 uid\x00nul\r\n2 b\r\n.\r\n", 65, r"bad UIDL"),
        (b"+OK\r\n1 uid\x7f\r\n2 b\r\n.\r\n", 65, r"bad UIDL"),
        (b"+OK\r\n1 " + b"u" * 71 + b"\r\n2 b\r\n.\r\n", 65, r"bad UIDL"),
        (b"+OK\r\n1 ../../etc/passwd\r\n2 b\r\n.\r\n", 0, None),
        # 1000 bytes is past the reply line cap (SPEC: capped, 76).
        (b"+OK\r\n1 " + b"u" * 1000 + b"\r\n2 b\r\n.\r\n", 76, r"longer than"),
    ]
    for reply, rc, msg in cases:
        with pop3_server(UIDL=reply) as srv:
            try:
                check(env, srv, "pop3", rc, msg)
            except AssertionError as e:
                raise AssertionError("UIDL %r: %s" % (reply[:40], e))
    # The one legal case stored both messages, and its uid stayed a
    # key in the state, never a path.
    assert sorted(maildir_messages(env)) == sorted(
        b.replace(b"\r\n", b"\n") for b in POP3_BODIES)


def test_pop3_replies_that_never_end(env):
    # A listing that stops coming: a stall (75) within timeout + 2 s.
    with pop3_server(UIDL=(b"+OK\r\n1 uid-one\r\n", "hold")) as srv:
        check(env, srv, "pop3", 75, r"UIDL.*(no data from server|did not "
              r"complete its reply)", max_time=4)
    # A message that stops coming: nothing stored, nothing deleted.
    with pop3_server(RETR=(b"+OK\r\nSubject: x\r\n\r\nhalf", "hold")) as srv:
        check(env, srv, "pop3", 75, STALL, max_time=4,
              keys={"keep": "no"})
        assert not any(l.startswith("DELE") for l in srv.lines), srv.lines
    assert maildir_messages(env) == []
    # Endless capability and UIDL listings hit their caps (76).
    caps = b"+OK\r\n" + b"".join(b"X-CAP-%d\r\n" % i for i in range(5000))
    with pop3_server(CAPA=(caps, "hold")) as srv:
        check(env, srv, "pop3", 76, r"capability listing too long")
    uidl = b"+OK\r\n" + b"".join(b"%d u%d\r\n" % (i, i)
                                  for i in range(1, 300100))
    with pop3_server(UIDL=(uidl, "hold")) as srv:
        check(env, srv, "pop3", 76, r"UIDL listing too long")
    # A message body far longer than the size LIST gave, that never
    # ends: the stall ends it (75); nothing of it is kept.
    body = b"+OK\r\nSubject: endless\r\n\r\n" + (b"z" * 998 + b"\r\n") * 3000
    with pop3_server(RETR=(body, "hold")) as srv:
        check(env, srv, "pop3", 75, STALL, max_time=4,
              keys={"keep": "no"})
        assert not any(l.startswith("DELE") for l in srv.lines), srv.lines
    assert maildir_messages(env) == []
    assert os.listdir(env.path(A + "-Maildir", "tmp")) == []


def test_pop3_nul_bytes_in_a_message_are_data(env):
    body = b"Subject: nul\r\n\r\na\x00b\r\n\x00\r\n..\x00\r\n"
    bodies = [body, POP3_BODIES[1]]

    def retr(m):
        return b"+OK\r\n" + bodies[int(m.group(1)) - 1] + b".\r\n"

    with pop3_server(RETR=retr, greeting=b"+OK hel\x00lo\r\n",
                     LIST=b"+OK\r\n1 30\r\n2 25\r\n.\r\n") as srv:
        check(env, srv, "pop3", 0, None)
    got = sorted(maildir_messages(env))
    assert got == sorted([b"Subject: nul\n\na\x00b\n\x00\n.\x00\n",
                          POP3_BODIES[1].replace(b"\r\n", b"\n")]), got


def test_pop3_stls_then_plaintext(env):
    caps = b"+OK\r\nSTLS\r\nUSER\r\n.\r\n"
    # The go-ahead and plaintext right behind it, in one packet.
    with pop3_server(CAPA=caps,
                     STLS=b"+OK begin TLS\r\n+OK injected\r\n") as srv:
        check(env, srv, "pop3", 76, r"TLS", keys={"tls": "starttls",
                                                  "allow_plaintext": "no"})
        assert not any(l.startswith(("USER", "PASS")) for l in srv.lines)
    # The go-ahead, then plaintext where the handshake should be.
    script = [
        (r"^CAPA", caps),
        (r"^STLS", b"+OK begin TLS\r\n"),
        (None, b"+OK not TLS at all\r\n", {"delay": 0.3}),
    ]
    with FakeServer("script", script, greeting=b"+OK hi\r\n") as srv:
        check(env, srv, "pop3", 76, r"TLS", keys={"tls": "starttls",
                                                  "allow_plaintext": "no"})
        assert not any(l.startswith(("USER", "PASS")) for l in srv.lines)


# --- IMAP -------------------------------------------------------------------

IMAP_BODIES = {1: b"Subject: one\r\n\r\nfirst\r\n",
               2: b"Subject: two\r\n\r\nsecond\r\n"}
DATE = b'"01-Jan-2024 00:00:00 +0000"'


def imap_listing(uids=(1, 2)):
    return b"".join(b"* %d FETCH (UID %d RFC822.SIZE %d FLAGS () "
                    b"INTERNALDATE %s)\r\n" % (i + 1, u, len(IMAP_BODIES[u]),
                                                DATE)
                    for i, u in enumerate(uids))


def imap_bodies(uids=(1, 2)):
    return b"".join(b"* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n" % (
        i + 1, u, len(IMAP_BODIES[u]), IMAP_BODIES[u])
        for i, u in enumerate(uids))


def imap_server(greeting=b"* OK fake IMAP ready\r\n", **over):
    """A fake IMAP server for a normal two-message session. over maps a
    step (CAPABILITY, LOGIN, LIST, SELECT, LISTING, FETCH, STORE,
    EXPUNGE, LOGOUT, STARTTLS) to the reply, bytes where b"{tag}"
    stands for the command's tag (the tagged line is not added), or to
    (reply, options)."""
    replies = {
        "CAPABILITY": b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n{tag} OK done\r\n",
        "LOGIN": b"{tag} OK logged in\r\n",
        "LIST": b'* LIST () "/" INBOX\r\n{tag} OK done\r\n',
        "SELECT": b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
                  b"{tag} OK [READ-WRITE] done\r\n",
        "LISTING": imap_listing() + b"{tag} OK done\r\n",
        "FETCH": imap_bodies() + b"{tag} OK done\r\n",
        "STORE": b"{tag} OK done\r\n",
        "EXPUNGE": b"* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n{tag} OK done\r\n",
        "LOGOUT": (b"* BYE bye\r\n{tag} OK done\r\n", "close"),
        "STARTTLS": b"{tag} NO not here\r\n",
    }
    replies.update(over)
    order = [
        ("CAPABILITY", r"^(\S+) CAPABILITY"),
        ("LOGIN", r"^(\S+) LOGIN "),
        ("LIST", r"^(\S+) LIST "),
        ("SELECT", r"^(\S+) (?:SELECT|EXAMINE) "),
        # From UID 1: "1:*", or a first fetch's bounded listing.
        ("LISTING", r"^(\S+) UID FETCH 1:(?:\*|\d+) \(UID RFC822\.SIZE"),
        ("FETCH", r"^(\S+) UID FETCH "),
        ("STORE", r"^(\S+) UID STORE "),
        ("EXPUNGE", r"^(\S+) (?:UID )?EXPUNGE"),
        ("LOGOUT", r"^(\S+) LOGOUT"),
        ("STARTTLS", r"^(\S+) STARTTLS"),
    ]
    rules = []
    for name, rx in order:
        rep = replies.pop(name)
        opts = None
        if isinstance(rep, tuple):
            rep, opts = rep

        def fn(m, rep=rep):
            return rep.replace(b"{tag}", m.group(1))

        rules.append((rx, fn, opts))
    for rx, rep in replies.items():  # extra raw rules
        rules.append((rx, rep))
    # Any other command (COMPRESS, where the test did not add it), as a
    # server without it answers.
    rules.append((r"^(\S+) ", lambda m: m.group(1) + b" BAD unknown\r\n"))
    return FakeServer("respond", greeting=greeting, rules=rules,
                      default=None)


def test_imap_greeting_never_comes(env):
    with FakeServer("silent") as srv:
        check(env, srv, "imap", 75, r"(no data from server for|did not "
              r"complete its reply within) 2 seconds",
              max_time=4)


def test_imap_100mb_line(env):
    with FakeServer("script", [], greeting=b"* OK " + b"x" * MB100) as srv:
        check(env, srv, "imap", 76, r"longer than")
    with imap_server(LISTING=b"* 1 FETCH (UID 1 " + b"x" * MB100) as srv:
        check(env, srv, "imap", 76, r"longer than")


def test_imap_literal_of_10_to_the_12(env):
    # Where a short reply is expected: refused at once, nothing read.
    with imap_server(CAPABILITY=b"* CAPABILITY {1000000000000}\r\n") as srv:
        o = check(env, srv, "imap", 76, r"1000000000000-byte literal")
        assert o.elapsed < 2 + LOAD_ALLOWANCE
    # As a message body we asked for: streamed to disk until the server
    # goes, then nothing of it is kept.
    fetch = b"* 1 FETCH (UID 1 BODY[] {1000000000000}\r\nSubject: x\r\n\r\n"
    with imap_server(FETCH=(fetch + b"y" * 100000, "close")) as srv:
        check(env, srv, "imap", 75, r"closed|lost")
    assert maildir_messages(env) == []
    assert os.listdir(env.path(A + "-Maildir", "tmp")) == []
    # Past 2^40: not a size at all.
    with imap_server(LISTING=b"* 1 FETCH (UID 1 BODY[] "
                     b"{99999999999999999999}\r\n") as srv:
        check(env, srv, "imap", 65, r"literal of impossible size")


# Literals inside untagged responses of every kind, sent in the middle
# of the SELECT response, and what each must lead to: harmless data is
# skipped (0); a literal where the grammar wants a number or a flag
# breaks it (65); status text cannot hold a literal, so what follows is
# a malformed response (65).
UNTAGGED_LITERALS = [
    (b"* CAPABILITY IMAP4rev1 {5}\r\nAUTH=\r\n", 0),
    (b'* LIST () "/" {5}\r\nINBOX\r\n', 0),
    (b"* FLAGS ({7}\r\n\\Seen x)\r\n", 0),
    (b"* 2 RECENT {3}\r\nabc\r\n", 0),
    (b"* SEARCH 1 {3}\r\n2 3\r\n", 0),
    (b"* STATUS {5}\r\nINBOX (MESSAGES 2)\r\n", 0),
    (b"* NAMESPACE (({0}\r\n \"/\")) NIL NIL\r\n", 0),
    (b"* ENABLED {4}\r\nX Y\r\n", 0),
    (b"* ID ({4}\r\nname {4}\r\nfake)\r\n", 0),
    (b"* XUNKNOWN {10}\r\n\x00\x01\r\n\xff\xfe\r\n..\r\n", 0),
    (b"* 2 EXISTS {3}\r\nabc\r\n", 0),
    (b"* 1 FETCH (FLAGS (\\Seen) X-GM-LABELS ({5}\r\nlabel))\r\n", 0),
    (b"* 1 FETCH (UID {1}\r\n1)\r\n", 65),
    (b"* 1 FETCH (FLAGS ({5}\r\n\\Seen))\r\n", 65),
    (b"* 1 FETCH (UID 1 INTERNALDATE {26}\r\n01-Jan-2024 00:00:00 +0000)"
     b"\r\n", 65),
    (b"* 1 FETCH (UID 1 RFC822.SIZE {2}\r\n24)\r\n", 65),
    (b"* OK [ALERT] look {5}\r\nhello\r\n", 65),
    (b"* BYE going {5}\r\nhello\r\n", 65),
    (b"* 1 EXPUNGE {3}\r\nabc\r\n", 0),
]


def test_imap_literals_in_untagged_responses(env):
    for extra, rc in UNTAGGED_LITERALS:
        select = (b"* 2 EXISTS\r\n" + extra +
                  b"* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] done\r\n")
        if extra.startswith(b"* 1 EXPUNGE"):
            # One message gone: the listing shows the other.
            over = {"SELECT": select, "LISTING": imap_listing((2,)) +
                    b"{tag} OK done\r\n",
                    "FETCH": imap_bodies((2,)) + b"{tag} OK done\r\n"}
        else:
            over = {"SELECT": select}
        with imap_server(**over) as srv:
            try:
                check(env, srv, "imap", rc, r"malformed|literal")
            except AssertionError as e:
                raise AssertionError("%r: %s" % (extra, e))


def test_imap_bad_numbers(env):
    sel = b"{tag} OK [READ-WRITE] done\r\n"
    cases = [
        ({"SELECT": b"* 4294967296 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" +
          sel}, 65, r"malformed"),
        ({"SELECT": b"* 1000001 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" +
          sel}, 76, r"more than"),
        ({"SELECT": b"* 2 EXISTS\r\n* OK [UIDVALIDITY 4294967296] x\r\n" +
          sel}, 65, r"UIDVALIDITY"),
        ({"SELECT": b"* 2 EXISTS\r\n* OK [UIDVALIDITY -7] x\r\n" + sel}, 65,
         r"UIDVALIDITY"),
        ({"SELECT": b"* 2 EXISTS\r\n" + sel}, 65, r"no UIDVALIDITY"),
        ({"LISTING": b"* 1 FETCH (UID 1 RFC822.SIZE -24)\r\n{tag} OK x\r\n"},
         65, r"malformed FETCH"),
        ({"LISTING": b"* 1 FETCH (UID 1 RFC822.SIZE "
          b"99999999999999999999)\r\n{tag} OK x\r\n"}, 65, r"malformed FETCH"),
        ({"LISTING": b"* 1 FETCH (UID 0 RFC822.SIZE 24)\r\n{tag} OK x\r\n"},
         65, r"malformed FETCH"),
        ({"LISTING": b"* 1 FETCH (UID 4294967296 RFC822.SIZE 24)\r\n"
          b"{tag} OK x\r\n"}, 65, r"malformed FETCH"),
        ({"LISTING": b"* -1 FETCH (UID 1 RFC822.SIZE 24)\r\n{tag} OK x\r\n"},
         0, None),
        ({"EXPUNGE": b"* 0 EXPUNGE\r\n{tag} OK x\r\n"}, 65, r"expunged"),
        ({"EXPUNGE": b"* 99 EXPUNGE\r\n{tag} OK x\r\n"}, 65, r"expunged"),
        ({"LOGIN": b"A999 OK logged in\r\n"}, 65, r"not sent"),
        ({"LOGIN": b"{tag}\x00 OK logged in\r\n"}, 65, r"malformed"),
    ]
    for over, rc, msg in cases:
        with imap_server(**over) as srv:
            try:
                check(env, srv, "imap", rc, msg, keys={"keep": "no"})
            except AssertionError as e:
                raise AssertionError("%r: %s" % (over, e))


def test_imap_replies_that_never_end(env):
    # A listing whose tagged end never comes.
    with imap_server(LISTING=(imap_listing(), "hold")) as srv:
        check(env, srv, "imap", 75, STALL, max_time=4)
    # A message literal that stops short: nothing stored or expunged.
    fetch = b"* 1 FETCH (UID 1 BODY[] {1000}\r\nSubject: x\r\n\r\nhalf"
    with imap_server(FETCH=(fetch, "hold")) as srv:
        check(env, srv, "imap", 75, STALL, max_time=4,
              keys={"keep": "no"})
        assert not any(" STORE " in l or "EXPUNGE" in l for l in srv.lines)
    assert maildir_messages(env) == []
    # Status text cannot carry a literal: what follows "{5}" is read as
    # the next response, which breaks the grammar (65).
    with FakeServer("respond", greeting=b"* OK {5}\r\nhello\r\n") as srv:
        check(env, srv, "imap", 65, r"malformed server response: \"hello\"")


def test_imap_untagged_flood_ends_the_session(env):
    # Untagged data at full speed never trips the inactivity timeout:
    # the count of untagged responses to one command is capped.
    flood = b"* OK [ALERT] flood\r\n" * 700000
    with imap_server(LISTING=(flood, "hold")) as srv:
        check(env, srv, "imap", 76, r"more than \d+ untagged responses",
              max_time=20)


def test_imap_nul_bytes(env):
    nul = b"a\x00b\r\n\x00\x00\r\n.."
    bodies = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n" % (len(nul), nul) + \
        b"* 2 FETCH (UID 2 BODY[] {%d}\r\n%s)\r\n" % (len(IMAP_BODIES[2]),
                                                        IMAP_BODIES[2])
    with imap_server(greeting=b"* OK hel\x00lo\r\n",
                     FETCH=bodies + b"{tag} OK done\r\n") as srv:
        check(env, srv, "imap", 0, None)
    assert sorted(maildir_messages(env)) == sorted(
        [b"a\x00b\n\x00\x00\n..", IMAP_BODIES[2].replace(b"\r\n", b"\n")])


def test_imap_mailbox_names_stay_inside_the_maildir(env):
    """Folder names that try ../ and /, with each kind of delimiter:
    the messages land in a Maildir++ subfolder inside the Maildir."""
    names = ["../../etc", "/etc/cron.d", "a/../../b", "..", ".", "x/..",
             "..\\..", ".hidden/../.."]
    for delim in (b'"/"', b'"."', b"NIL"):
        for name in names:
            qname = b'"' + name.encode().replace(b"\\", b"\\\\") + b'"'
            lst = b"* LIST () %s %s\r\n{tag} OK done\r\n" % (delim, qname)
            with imap_server(LIST=lst) as srv:
                try:
                    check(env, srv, "imap", 0, None,
                          keys={"folders": name})
                except AssertionError as e:
                    raise AssertionError("%s %r: %s" % (delim, name, e))
            md = env.path(A + "-Maildir")
            subs = [n for n in os.listdir(md) if n not in
                    ("tmp", "new", "cur")]
            assert len(subs) == 1, "%s %r: %r" % (delim, name, subs)
            sub = subs[0]
            assert "/" not in sub and sub not in (".", ".."), sub
            got = sorted(maildir_messages(env, sub))
            assert got == sorted(b.replace(b"\r\n", b"\n") for b in
                                 IMAP_BODIES.values()), (delim, name, got)
            real = os.path.realpath(os.path.join(md, sub))
            assert real.startswith(os.path.realpath(md) + "/"), real
            shutil.rmtree(env.path(A + "-Maildir"))
            shutil.rmtree(env.path("state"))


def test_imap_starttls_then_plaintext(env):
    caps = b"* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK done\r\n"
    keys = {"tls": "starttls", "allow_plaintext": "no"}
    with imap_server(CAPABILITY=caps,
                     STARTTLS=b"{tag} OK go\r\n* OK injected\r\n") as srv:
        check(env, srv, "imap", 76, r"TLS", keys=keys)
        assert not any(" LOGIN " in l for l in srv.lines)
    script = [
        (r"^(\S+) CAPABILITY", lambda m: caps.replace(b"{tag}", m.group(1))),
        (r"^(\S+) STARTTLS", lambda m: m.group(1) + b" OK go\r\n"),
        (None, b"* OK not TLS at all\r\n", {"delay": 0.3}),
    ]
    with FakeServer("script", script, greeting=b"* OK hi\r\n") as srv:
        check(env, srv, "imap", 76, r"TLS", keys=keys)
        assert not any(" LOGIN " in l for l in srv.lines)


def test_imap_bye_greeting_and_preauth_over_plaintext(env):
    with imap_server(greeting=b"* BYE too busy\r\n") as srv:
        check(env, srv, "imap", 76, r"refused the session.*too busy")
    with imap_server(greeting=b"* PREAUTH welcome\r\n",
                     CAPABILITY=b"* CAPABILITY IMAP4rev1 STARTTLS\r\n"
                     b"{tag} OK done\r\n") as srv:
        check(env, srv, "imap", 76, r"PREAUTH",
              keys={"tls": "starttls", "allow_plaintext": "no"})
