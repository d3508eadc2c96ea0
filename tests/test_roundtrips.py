"""Round trips a session does not need (issue 16), seen in the -vv
trace against the test Dovecot: IMAP selects INBOX without a LIST and
does not wait for the answer to LOGOUT; POP3 does not wait for the
answer to QUIT unless a DELE was sent (then the answer decides). A
wrong password still ends the session with 77 before any mailbox
command."""

import base64
import re
import ssl

from test_imap import summary
from test_pop3 import maildir_files

A = "acct"


def sent(err):
    """The commands mailfetch sent, in order (trace lines "> ...")."""
    return [m.group(1) for m in re.finditer(r"^%s: > (.*)$" % A, err, re.M)]


def got(err):
    return [m.group(1) for m in re.finditer(r"^%s: < (.*)$" % A, err, re.M)]


def setup(env, protocol, n=2, **keys):
    u = env.new_user()
    for i in range(n):
        env.dovecot.deliver(u.name, b"Subject: %d\n\nbody %d\n" % (i, i))
    cfg = env.config(env.account(A, protocol, "implicit", u, **keys))
    return u, cfg


def test_imap_no_list_of_inbox_and_no_wait_for_logout(env):
    u, cfg = setup(env, "imap")
    for want in ((2, 0, 2), (0, 0, 2)):  # first fetch, then a poll
        r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
        assert summary(r) == want, r.out
        cmds = sent(r.err)
        assert not [c for c in cmds if " LIST " in c], cmds
        assert any(re.match(r"A\d+ EXAMINE \"INBOX\"$", c) for c in cmds)
        assert re.match(r"A\d+ LOGOUT$", cmds[-1]), cmds
        # Its answer was not read: the trace has no BYE, no OK to it.
        assert not [x for x in got(r.err) if "BYE" in x or
                    "Logout completed" in x], got(r.err)
    assert len(maildir_files(env.path(A + "-Maildir"))) == 2


def test_pop3_quit_not_waited_for_without_dele(env):
    u, cfg = setup(env, "pop3")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 2), r.out
    assert sent(r.err)[-1] == "QUIT"
    assert not [x for x in got(r.err) if "Logging out" in x], got(r.err)


def test_pop3_quit_waited_for_after_dele(env):
    # keep = no: DELE, and QUIT's answer is what commits it.
    u, cfg = setup(env, "pop3", keep="no")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 2, 0), r.out
    assert sent(r.err)[-1] == "QUIT"
    assert [x for x in got(r.err) if "Logging out" in x], got(r.err)
    assert env.dovecot.snapshot(u.name) == {}, "the server still holds mail"


def test_wrong_password_is_77_and_nothing_else_happens(env):
    for protocol in ("imap", "pop3"):
        u, cfg = setup(env, protocol, password="not-the-password-9q")
        r = env.expect(env.run(["-c", cfg, "-vv"]), 77)
        cmds = sent(r.err)
        # IMAP's SCRAM sends the reads of the first folder (a first
        # fetch: its listing and COMPRESS too) with its last message;
        # they are refused, and nothing follows the failure.
        if protocol == "imap":
            assert cmds[3:] == [
                "A2 CAPABILITY", 'A3 EXAMINE "INBOX"',
                "A4 UID FETCH 1:4096 (UID RFC822.SIZE FLAGS INTERNALDATE)",
                "A5 COMPRESS DEFLATE"], cmds
            cmds = cmds[:3]
        assert not [c for c in cmds if re.search(
            r"EXAMINE|SELECT|FETCH|STORE|EXPUNGE|STAT|UIDL|LIST|RETR|DELE",
            c)], cmds
        assert maildir_files(env.path(A + "-Maildir")) == []


# --- Round trips counted (issue 16) ------------------------------------
#
# bench/delayproxy.py between mailfetch and the test Dovecot counts the
# round trips a client waits for: 1 for the TCP handshake, then one per
# turn (the client sends after it received data, with nothing more on
# its way to it). The delay (RTT 100 ms) keeps the turns apart even on
# a loaded machine (a turn the client did not wait for is counted only
# if it stalls for a round trip); what is asserted is the count, never
# a time.

import json
import os
import subprocess
import sys
import time

from fakeserver import FakeServer

PROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                     "bench", "delayproxy.py")


class Proxy:
    def __init__(self, env, port):
        self.log = env.path("proxy-%d.log" % port)
        self.p = subprocess.Popen(
            [sys.executable, PROXY, "--to", "127.0.0.1:%d" % port,
             "--rtt", "100", "--log", self.log],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.p.stdout.readline().decode()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])

    def records(self):
        try:
            with open(self.log) as f:
                return [json.loads(x) for x in f if x.strip()]
        except FileNotFoundError:
            return []

    def round_trips(self, since):
        """The round trips of the connections opened after record
        number since, once all of them closed (progress-based wait)."""
        for _ in range(300):
            recs = self.records()[since:]
            opened = {r["id"] for r in recs if r["ev"] == "open"}
            closed = {r["id"]: r["rt"] for r in recs if r["ev"] == "close"}
            if opened and set(closed) == opened:
                return sum(closed.values())
            time.sleep(0.05)
        raise AssertionError("the proxy did not see every connection "
                             "close: %r" % self.records()[since:])

    def stop(self):
        self.p.kill()
        self.p.wait()


def count_run(env, px, cfg, rc=0):
    since = len(px.records())
    r = env.expect(env.run(["-c", cfg, "-vv"]), rc)
    return r, px.round_trips(since)


# (protocol, auth): round trips of a first fetch and of a poll. Over
# TLS: TCP 1, TLS 1.3 1, then IMAP: greeting -> AUTHENTICATE (PLAIN
# with SASL-IR: the first folder's EXAMINE behind it), the listing with
# COMPRESS behind it, the bodies, LOGOUT (not awaited, but sent after
# the answers: a turn); a poll lists nothing. SCRAM adds its
# client-final, with the empty answer to the server's final message and
# the EXAMINE sent behind it at once (IMAP only: Dovecot's POP3 refuses
# that early line, so there it waits for server-final). Both send
# SCRAM's client-first before the greeting is read. POP3: CAPA goes
# with the end of the handshake; greeting -> AUTH (STAT and UIDL behind
# it, and LIST too on a first fetch: every message is new), one window
# of RETR, QUIT; a poll needs no LIST and no RETR. SCRAM: its AUTH goes
# with CAPA, and the greeting brings its challenge -> client-final,
# server-final -> the empty answer (STAT and UIDL behind it): one round
# trip more than PLAIN.
WANT = {("imap", "plain"): (5, 4), ("imap", "scram-sha-256"): (5, 4),
        ("pop3", "plain"): (5, 4), ("pop3", "scram-sha-256"): (6, 5)}


def test_round_trips_counted(env):
    got = {}
    for (protocol, auth) in sorted(WANT):
        u = env.new_user()
        for i in range(3):
            env.dovecot.deliver(u.name, b"Subject: %d\n\nbody %d\n" % (i, i))
        d = env.dovecot
        px = Proxy(env, d.ports[protocol + "s"])
        try:
            name = "%s-%s" % (protocol, auth)
            cfg = env.config(env.account(
                A, protocol, "implicit", u, port=px.port, auth=auth,
                maildir=env.path(name + "-Maildir"),
                state_file=env.path("state", name + ".state")),
                name="fetchrc-" + name)
            r1, fetch = count_run(env, px, cfg)
            assert summary(r1) == (3, 0, 3), r1.out
            r2, poll = count_run(env, px, cfg)
            assert summary(r2) == (0, 0, 3), r2.out
            assert len(maildir_files(env.path(name + "-Maildir"))) == 3
        finally:
            px.stop()
        got[(protocol, auth)] = (fetch, poll)
    assert got == WANT, got


def test_imap_examine_pipelined_behind_the_login(env):
    u, cfg = setup(env, "imap", auth="plain")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 2), r.out
    tr = re.findall(r"^%s: ([<>] .*)$" % A, r.err, re.M)
    i = [k for k, x in enumerate(tr) if x.startswith("> A1 AUTHENTICATE")]
    # CAPABILITY first, for a server whose login answer lists none;
    # a first fetch (no state yet) also sends the listing and COMPRESS.
    assert i and tr[i[0] + 1:i[0] + 5] == [
        "> A2 CAPABILITY", '> A3 EXAMINE "INBOX"',
        "> A4 UID FETCH 1:4096 (UID RFC822.SIZE FLAGS INTERNALDATE)",
        "> A5 COMPRESS DEFLATE"], tr
    # The answers came after all were sent.
    assert tr[i[0] + 5].startswith("< A1 OK"), tr
    # The next run has a state: no listing, no COMPRESS behind the login.
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 2), r.out
    cmds = sent(r.err)
    assert cmds[1:] == ["A2 CAPABILITY", 'A3 EXAMINE "INBOX"',
                        "A4 LOGOUT"], cmds


def test_failed_login_with_pipelined_commands_stops_there(env):
    for protocol, behind in (("imap", [
            "A2 CAPABILITY", 'A3 EXAMINE "INBOX"',
            "A4 UID FETCH 1:4096 (UID RFC822.SIZE FLAGS INTERNALDATE)",
            "A5 COMPRESS DEFLATE"]),
                             ("pop3", ["STAT", "UIDL", "LIST"])):
        u, cfg = setup(env, protocol, auth="plain",
                       password="not-the-password-9q")
        r = env.expect(env.run(["-c", cfg, "-vv"]), 77)
        cmds = sent(r.err)
        if protocol == "pop3":
            assert cmds[0] == "CAPA", cmds
            cmds = cmds[1:]
        # The login, what went behind it, and nothing once the failure
        # was known.
        assert len(cmds) == 1 + len(behind), cmds
        assert cmds[0].startswith("A1 AUTHENTICATE PLAIN" if protocol ==
                                  "imap" else "AUTH PLAIN"), cmds
        assert cmds[1:] == behind, cmds
        assert maildir_files(env.path(A + "-Maildir")) == []
        assert "authentication failed" in r.err, r.err


def test_first_folder_missing_is_76_with_its_message(env):
    u, cfg = setup(env, "imap", auth="plain", folders="Nope, INBOX")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 76)
    cmds = sent(r.err)
    # LIST and EXAMINE went behind the login, and were not sent again.
    assert cmds[1:4] == ["A2 CAPABILITY", 'A3 LIST "" "Nope"',
                         'A4 EXAMINE "Nope"'], cmds
    assert len([c for c in cmds if "EXAMINE \"Nope\"" in c]) == 1, cmds
    tr = re.findall(r"^%s: ([<>] .*)$" % A, r.err, re.M)
    assert tr.index('> A4 EXAMINE "Nope"') < [
        k for k, x in enumerate(tr) if x.startswith("< A1 OK")][0], tr
    assert re.search(r"^%s: no folder Nope: \"Mailbox doesn't exist: "
                     r"Nope[ .(]" % A, r.err, re.M), r.err
    # The next folder is fetched all the same.
    assert summary(r) == (2, 0, 2), r.out


def pop3_fake(pipelining):
    capa = b"+OK\r\nUSER\r\nUIDL\r\n%s.\r\n" % (
        b"PIPELINING\r\n" if pipelining else b"")
    script = [("^CAPA$", capa), ("^USER u$", b"+OK\r\n"),
              ("^PASS ", b"+OK logged in\r\n", {"peek": 0.5}),
              ("^STAT$", b"+OK 0 0\r\n"), ("^UIDL$", b"+OK\r\n.\r\n")]
    if pipelining:
        script.append(("^LIST$", b"+OK\r\n.\r\n"))
    script.append(("^QUIT$", b"+OK bye\r\n"))
    return FakeServer("script", script, greeting=b"+OK fake ready\r\n")


def pop3_fake_cfg(env, srv):
    env.secret("pw-rt-55", "u")
    return env.config(env.account(A, "pop3", "none", "u", server=srv,
                                  password="pw-rt-55", auth="user"))


def test_pop3_pipelines_behind_pass_only_with_pipelining(env):
    # A first fetch (no state yet): LIST goes along, every message
    # being new.
    for pipelining, want in ((True, ["STAT", "UIDL", "LIST"]),
                             (False, [])):
        with pop3_fake(pipelining) as srv:
            r = env.expect(env.run(["-c", pop3_fake_cfg(env, srv)]), 0)
            assert summary(r) == (0, 0, 0), r.out
            assert srv.errors == [], srv.errors
            # What arrived behind PASS before its answer.
            assert srv.peeked == [want], srv.peeked
            # (QUIT is not waited for: the server may not read it.)
            assert srv.lines[:5] == ["CAPA", "USER u", "PASS pw-rt-55",
                                     "STAT", "UIDL"], srv.lines
            assert ("LIST" in srv.lines) == pipelining, srv.lines


# --- SCRAM's first message before the greeting ---------------------------
#
# With implicit TLS and auth = auto or scram-*, IMAP sends SCRAM's first
# message (no secret in it) with the end of the handshake. The greeting
# still decides; these fake servers say otherwise, and the early command
# must be withdrawn and the session go on as if it had not been sent.

def tls_fake(env, script, greeting):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(env.dovecot.cert_file, env.dovecot.key_file)
    return FakeServer("script", script, greeting=greeting, tls=ctx)


SCRAM1 = r"^A1 AUTHENTICATE SCRAM-SHA-256 [A-Za-z0-9+/=]+$"


# What --check sends behind its login (tags left out).
BEHIND = ["CAPABILITY", 'EXAMINE "INBOX"']


def verbs(lines):
    """Each line the fake server received, to its tag and verb."""
    return [" ".join(l.split(" ")[:2]) for l in lines]


def run_fake(env, f, **keys):
    cfg = env.config(env.account(A, "imap", "implicit", "fred", server=f,
                                 password="pw-fake-Early-3x",
                                 tls_ca_file=env.dovecot.ca_file, **keys))
    return env.run(["-c", cfg, "--check", "-vv"], timeout=30)


def test_early_scram_cancelled_when_the_greeting_lists_no_capabilities(env):
    # The server began the early exchange ("+"): the client cancels it
    # ("*"), asks CAPABILITY, and, PLAIN being all there is, logs in
    # with it; refused here, so 77 and nothing more.
    script = [(SCRAM1, b"+ \r\n"), (r"^\*$", b"A1 BAD cancelled\r\n"),
              (r"^A2 CAPABILITY$", b"* CAPABILITY IMAP4rev1 SASL-IR "
               b"AUTH=PLAIN\r\nA2 OK done\r\n"),
              (r"^A3 AUTHENTICATE PLAIN \S+$", b"A3 NO wrong\r\n")]
    with tls_fake(env, script, b"* OK ready\r\n") as f:
        r = run_fake(env, f)
    assert f.errors == [], f.errors
    env.expect(r, 77)
    assert verbs(f.lines)[:4] == ["A1 AUTHENTICATE", "*", "A2 CAPABILITY",
                                  "A3 AUTHENTICATE"], f.lines
    assert [c.split(" ", 1)[1] for c in sent(r.err)[4:]] == BEHIND, r.err
    assert "authentication failed" in r.err, r.err


def test_early_scram_withdrawn_for_another_mechanism_or_preauth(env):
    caps = b"IMAP4rev1 SASL-IR AUTH=PLAIN"
    # No SCRAM offered: its NO is read, then PLAIN (auth = auto).
    script = [(SCRAM1, b"A1 NO unsupported mechanism\r\n"),
              (r"^A2 AUTHENTICATE PLAIN \S+$", b"A2 NO wrong\r\n")]
    with tls_fake(env, script, b"* OK [CAPABILITY %s] hi\r\n" % caps) as f:
        r = run_fake(env, f)
    assert f.errors == [], f.errors
    env.expect(r, 77)
    assert verbs(f.lines)[:2] == ["A1 AUTHENTICATE", "A2 AUTHENTICATE"], \
        f.lines
    assert [c.split(" ", 1)[1] for c in sent(r.err)[2:]] == BEHIND, r.err
    assert "authentication failed" in r.err, r.err
    # SCRAM offered without SASL-IR: the early command is refused, and
    # SCRAM starts again the way RFC 4959 leaves it, without one.
    caps = b"IMAP4rev1 AUTH=SCRAM-SHA-256"
    script = [(SCRAM1, b"A1 BAD no SASL-IR here\r\n"),
              (r"^A2 AUTHENTICATE SCRAM-SHA-256$", b"A2 NO stop\r\n")]
    with tls_fake(env, script, b"* OK [CAPABILITY %s] hi\r\n" % caps) as f:
        r = run_fake(env, f)
    assert f.errors == [], f.errors
    env.expect(r, 77)
    assert verbs(f.lines) == ["A1 AUTHENTICATE", "A2 AUTHENTICATE"], \
        f.lines
    # PREAUTH: already logged in; the early command's BAD is read and
    # the session goes on without a login.
    script = [(SCRAM1, b"A1 BAD already authenticated\r\n"),
              (r"^A2 EXAMINE \"INBOX\"$", b"* 0 EXISTS\r\n* OK [UIDVALIDITY"
               b" 7] x\r\n* OK [UIDNEXT 1] x\r\nA2 OK [READ-ONLY] done\r\n"),
              (r"^A3 LOGOUT$", b"* BYE bye\r\nA3 OK bye\r\n")]
    with tls_fake(env, script, b"* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n") \
            as f:
        r = run_fake(env, f)
    assert f.errors == [], f.errors
    env.expect(r, 0)
    assert "PREAUTH" in r.out, r.out


# --- POP3: SCRAM's first message behind CAPA, before the greeting --------
#
# With implicit TLS and auth = auto or scram-*, POP3 sends "AUTH
# SCRAM-SHA-256 <client-first>" (no secret in it) in one write with
# CAPA. Where CAPA's answer does not offer the mechanism auth would
# pick, the early AUTH is withdrawn ("*" if the server began it) and
# the login goes on as if it had not been sent.

from authserver import ScramServer, b64, unb64

POP3_SCRAM1 = r"^AUTH SCRAM-SHA-256 ([A-Za-z0-9+/=]+)$"
POP3_PW = "pw-fake-Early-p3"
POP3_HI = b"+OK fake POP3 ready\r\n"
# What --check sends once logged in (no PIPELINING offered): STAT, then
# QUIT, whose answer it does not wait for.
POP3_REST = [("^STAT$", b"+OK 0 0\r\n"), ("^QUIT$", b"+OK bye\r\n")]


def run_pop3_fake(env, f, **keys):
    env.secret(POP3_PW, "fred")
    cfg = env.config(env.account(A, "pop3", "implicit", "fred", server=f,
                                 password=POP3_PW, timeout=10,
                                 tls_ca_file=env.dovecot.ca_file, **keys))
    return env.run(["-c", cfg, "--check", "-vv"], timeout=30)


def closed(f):
    """Wait until the fake server saw the client close (progress-based:
    mailfetch has exited), so .lines holds all it sent."""
    for t in f._threads[1:]:
        t.join(timeout=10)
        assert not t.is_alive(), "the fake server still serves"


def early_auth(f):
    """The early AUTH the server received: its client-first, decoded."""
    m = re.match(POP3_SCRAM1, f.lines[1])
    assert f.lines[0] == "CAPA" and m, f.lines
    cf = unb64(m.group(1))
    assert re.match(rb"^n,,n=fred,r=[A-Za-z0-9+/=]+$", cf), cf
    return cf


def test_pop3_early_scram_withdrawn_when_capa_has_no_sasl(env):
    # The early AUTH is refused (-ERR, read); auto then means USER/PASS.
    script = [("^CAPA$", b"+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
              (POP3_SCRAM1, b"-ERR unknown command\r\n"),
              ("^USER fred$", b"+OK\r\n"),
              ("^PASS %s$" % POP3_PW, b"+OK logged in\r\n")] + POP3_REST
    with tls_fake(env, script, POP3_HI) as f:
        r = run_pop3_fake(env, f)
        closed(f)
    assert f.errors == [], f.errors
    env.expect(r, 0)
    early_auth(f)
    assert f.lines[2:] == ["USER fred", "PASS " + POP3_PW, "STAT",
                           "QUIT"], f.lines
    assert sent(r.err)[:2] == ["CAPA", "AUTH SCRAM-SHA-256 <redacted>"], \
        r.err
    assert "PASS <redacted>" in sent(r.err), r.err
    assert "%s: authenticated as fred (USER)\n" % A in r.out, r.out


def test_pop3_early_scram_withdrawn_for_plain(env):
    # SASL PLAIN only: the early AUTH's -ERR is read, PLAIN follows.
    plain = b64(b"\0fred\0" + POP3_PW.encode())
    script = [("^CAPA$", b"+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n"),
              (POP3_SCRAM1, b"-ERR Unsupported authentication mechanism\r\n"),
              ("^AUTH PLAIN %s$" % re.escape(plain), b"+OK logged in\r\n")
              ] + POP3_REST
    with tls_fake(env, script, POP3_HI) as f:
        r = run_pop3_fake(env, f)
        closed(f)
    assert f.errors == [], f.errors
    env.expect(r, 0)
    early_auth(f)
    assert f.lines[2:] == ["AUTH PLAIN " + plain, "STAT", "QUIT"], f.lines
    assert "%s: authenticated as fred (PLAIN)\n" % A in r.out, r.out


def test_pop3_early_scram_cancelled_when_capa_lacks_it(env):
    # The server began the early exchange ("+ "), though CAPA offers
    # only PLAIN: the client cancels it ("*"), reads the -ERR, then
    # logs in with PLAIN.
    plain = b64(b"\0fred\0" + POP3_PW.encode())
    script = [("^CAPA$", b"+OK\r\nSASL PLAIN\r\n.\r\n"),
              (POP3_SCRAM1, b"+ " + base64.b64encode(
                  b"r=nonce,s=c2FsdA==,i=4096") + b"\r\n"),
              (r"^\*$", b"-ERR cancelled\r\n"),
              ("^AUTH PLAIN %s$" % re.escape(plain), b"+OK logged in\r\n")
              ] + POP3_REST
    with tls_fake(env, script, POP3_HI) as f:
        r = run_pop3_fake(env, f)
        closed(f)
    assert f.errors == [], f.errors
    env.expect(r, 0)
    early_auth(f)
    assert f.lines[2:] == ["*", "AUTH PLAIN " + plain, "STAT", "QUIT"], \
        f.lines
    assert sent(r.err)[:3] == ["CAPA", "AUTH SCRAM-SHA-256 <redacted>",
                               "*"], r.err
    assert "%s: authenticated as fred (PLAIN)\n" % A in r.out, r.out


def test_pop3_early_scram_refused_with_capa_offering_it_starts_again(env):
    # CAPA offers SCRAM, but the early AUTH was refused before any
    # challenge (a server that takes no command before its greeting):
    # SCRAM starts again, once, as without the early AUTH; its refusal
    # is the answer (77), and nothing follows.
    script = [("^CAPA$", b"+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n"),
              (POP3_SCRAM1, b"-ERR not yet\r\n"),
              (POP3_SCRAM1, b"-ERR [AUTH] no such user\r\n")]
    with tls_fake(env, script, POP3_HI) as f:
        r = run_pop3_fake(env, f)
        closed(f)
    assert f.errors == [], f.errors
    env.expect(r, 77)
    early_auth(f)
    assert len(f.lines) == 3 and f.lines[2] != f.lines[1], f.lines
    assert "no such user" in r.err, r.err


def test_pop3_early_scram_wrong_password_before_the_greeting(env):
    # The server greets only once CAPA and the early AUTH arrived (a
    # client that waits for the greeting first never gets it): the
    # greeting, CAPA's answer and the server-first message then come
    # together. The proof of a wrong password is refused: 77, and
    # nothing is sent after the failure.
    scram = ScramServer("sha256", "fred", "the-right-password-9")

    def first(m):
        kind, val = scram.start(unb64(m.group(1)))
        assert kind == "cont", (kind, val)
        return (POP3_HI + b"+OK\r\nSASL PLAIN SCRAM-SHA-256\r\nUSER\r\n"
                b".\r\n+ " + base64.b64encode(val) + b"\r\n")

    def final(m):
        kind, val = scram.step(unb64(m.group(0)))
        assert kind == "fail", (kind, val)
        return b"-ERR " + val.encode() + b"\r\n"

    script = [("^CAPA$", None), (POP3_SCRAM1, first),
              (r"^[A-Za-z0-9+/=]+$", final)]
    with tls_fake(env, script, None) as f:
        r = run_pop3_fake(env, f)
        closed(f)
    assert f.errors == [], f.errors
    env.expect(r, 77)
    assert scram.proof_ok is False, scram.error
    early_auth(f)
    assert len(f.lines) == 3, f.lines
    assert sent(r.err) == ["CAPA", "AUTH SCRAM-SHA-256 <redacted>",
                           "<redacted>"], r.err
    assert "authentication failed" in r.err, r.err
