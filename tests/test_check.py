"""Integration tests of `mailfetch --check` (SPEC.md: --check; exit status).

--check connects, reports TLS details, capabilities, authentication and
the message count, one line each prefixed "ACCOUNT: ", and changes
nothing: not the server's mailbox, not the local disk (no Maildir, no
state file, no lock).
"""

import hashlib
import os
import re

import harness
from fakeserver import FakeServer

A = "acct"
MSG1 = (b"From: Sender One <one@example.org>\nTo: user@example.org\n"
        b"Subject: check one\nMessage-ID: <check1@example.org>\n\n"
        b"First message.\n")
MSG2 = (b"From: Sender Two <two@example.org>\nTo: user@example.org\n"
        b"Subject: check two\nMessage-ID: <check2@example.org>\n\n"
        b"Second message,\nwith two lines.\n")
TLS_WORD = {"implicit": "implicit TLS", "starttls": "STARTTLS",
            "none": "no TLS"}


# --- helpers ---------------------------------------------------------------

def setup(env, protocol, tls, cur=True, **keys):
    """A fresh user with two messages and a config for it. cur=True
    stores the messages in cur/, where a POP3 login does not rename
    them, so file names can be compared."""
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, MSG1, cur=cur)
    d.deliver(u.name, MSG2, cur=cur)
    cfg = env.config(env.account(A, protocol, tls, u, **keys))
    return d, u, cfg


def lines_of(text):
    return [x for x in text.split("\n") if x != ""]


def err_lines_named(r, name=A):
    """Every line on stderr starts with "NAME: "."""
    lines = lines_of(r.err)
    assert lines, "nothing on stderr"
    for x in lines:
        assert x.startswith(name + ": "), \
            "stderr line does not start with %r: %r" % (name + ": ", x)


def find(lines, pattern, what):
    """The match of the first line matching pattern (re.match, whole
    line), and its index."""
    rx = re.compile(pattern + r"\Z")
    for i, x in enumerate(lines):
        m = rx.match(x)
        if m:
            return m, i
    raise AssertionError("no %s line matching %r in stdout" % (what,
                                                              pattern))


def nothing_created(env, cfg):
    """--check creates nothing: only the config and the empty home."""
    assert harness.tree(env.tmp) == ["fetchrc", "home"], \
        "--check created files: %s" % harness.tree(env.tmp)
    assert os.path.basename(cfg) == "fetchrc"


def check_ok(env, protocol, tls):
    d, u, cfg = setup(env, protocol, tls)
    before = d.snapshot(u.name)
    assert len(before) == 2
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert r.err == "", "stderr not empty on success"
    lines = lines_of(r.out)
    for x in lines:
        assert x.startswith(A + ": "), "stdout line without %r: %r" % (
            A + ": ", x)
    port = d.ports[protocol + ("s" if tls == "implicit" else "")]
    order = []
    _, i = find(lines, re.escape("%s: connected to 127.0.0.1 port %d (%s, %s)"
                                 % (A, port, protocol, TLS_WORD[tls])),
                "connected")
    order.append(i)
    if tls == "none":
        for x in lines:
            assert not x.startswith(A + ": TLS:"), "TLS line without TLS"
            assert not x.startswith(A + ": certificate:"), \
                "certificate line without TLS"
    else:
        m, i = find(lines, re.escape(A) + r": TLS: (TLSv1\.\d), (\S+)", "TLS")
        order.append(i)
        m, i = find(lines, re.escape(A) +
                    r": certificate: subject (.+); issuer (.+)",
                    "certificate subject")
        assert "127.0.0.1" in m.group(1), "subject %r" % m.group(1)
        assert "mailfetch test CA" in m.group(2), "issuer %r" % m.group(2)
        order.append(i)
        _, i = find(lines, re.escape(
            "%s: certificate: valid from %s to %s; %s" % (
                A, d.not_before.isoformat(), d.not_after.isoformat(),
                d.fingerprint)), "certificate validity and fingerprint")
        order.append(i)
    # IMAP lists capabilities before and after login, each labelled;
    # POP3 once.
    label = "capabilities" if protocol == "pop3" else \
        "capabilities before login"
    m, i = find(lines, re.escape(A) + r": %s: (.+)" % label, "capabilities")
    want = "UIDL" if protocol == "pop3" else "IMAP4REV1"
    assert want in m.group(1).upper(), "capabilities lack %s: %r" % (
        want, m.group(1))
    if protocol == "imap":
        assert "AUTH=SCRAM-SHA-256" in m.group(1).upper(), m.group(1)
    order.append(i)
    # auth = auto picks SCRAM-SHA-256, the first Dovecot offers of those
    # tried in order (SPEC: auth).
    m, i = find(lines, re.escape("%s: authenticated as %s (" % (A, u.name)) +
                r"(\S+)\)", "authenticated")
    assert m.group(1).upper() == "SCRAM-SHA-256", "mechanism %r" % m.group(1)
    order.append(i)
    if protocol == "imap":
        m, i = find(lines, re.escape(A) + r": capabilities after login: (.+)",
                    "capabilities after login")
        assert "IMAP4REV1" in m.group(1).upper(), m.group(1)
        order.append(i)
    else:
        assert not [x for x in lines if "after login" in x], lines
    if protocol == "imap":
        _, i = find(lines, re.escape(A + ": INBOX: 2 messages"), "count")
    else:
        _, i = find(lines, re.escape(A) + r": (?:\S+: )?2 messages", "count")
    order.append(i)
    assert lines[-1] == A + ": ok", "last line is not %r" % (A + ": ok")
    order.append(len(lines) - 1)
    assert order == sorted(order), "lines out of order: %r" % lines
    assert d.snapshot(u.name) == before, "--check changed the server mailbox"
    nothing_created(env, cfg)


# --- every protocol and TLS mode -------------------------------------------

def test_pop3_none(env):
    check_ok(env, "pop3", "none")


def test_pop3_starttls(env):
    check_ok(env, "pop3", "starttls")


def test_pop3_implicit(env):
    check_ok(env, "pop3", "implicit")


def test_imap_none(env):
    check_ok(env, "imap", "none")


def test_imap_starttls(env):
    check_ok(env, "imap", "starttls")


def test_imap_implicit(env):
    check_ok(env, "imap", "implicit")


def test_imap_examines_read_only(env):
    """Messages in new/ stay there: --check does not SELECT the mailbox
    read-write (which would take their \\Recent flag and move them)."""
    d, u, cfg = setup(env, "imap", "implicit", cur=False)
    before = d.snapshot(u.name)
    assert all(k.startswith("new/") for k in before)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert A + ": INBOX: 2 messages" in lines_of(r.out)
    assert d.snapshot(u.name) == before, \
        "--check moved messages out of new/: %s" % sorted(
            d.snapshot(u.name))


def test_two_accounts_and_selection(env):
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, MSG1, cur=True)
    cfg = env.config(env.account("p", "pop3", "starttls", u) + "\n" +
                     env.account("i", "imap", "implicit", u))
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    lines = lines_of(r.out)
    assert "p: ok" in lines and "i: ok" in lines, "both accounts checked"
    assert lines.index("p: ok") < lines.index("i: ok"), "file order"
    r = env.run(["-c", cfg, "--check", "i"])
    env.expect(r, 0)
    lines = lines_of(r.out)
    assert "i: ok" in lines
    assert not [x for x in lines if x.startswith("p: ")], \
        "account p checked though only i was named"


# --- certificates ----------------------------------------------------------

def test_wrong_ca_implicit(env):
    d, u, cfg = setup(env, "pop3", "implicit",
                      tls_ca_file=env.dovecot.wrong_ca_file)
    before = d.snapshot(u.name)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    err_lines_named(r)
    assert "certificate" in r.err.lower(), "stderr does not name the " \
        "certificate problem"
    assert d.snapshot(u.name) == before
    nothing_created(env, cfg)


def test_wrong_ca_starttls(env):
    d, u, cfg = setup(env, "imap", "starttls",
                      tls_ca_file=env.dovecot.wrong_ca_file)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    err_lines_named(r)
    assert "certificate" in r.err.lower(), "stderr does not name the " \
        "certificate problem"


def test_fingerprint_replaces_chain(env):
    """tls_fingerprint with tls_verify at its default and no tls_ca_file:
    the test CA is not in the system store, so only the fingerprint can
    make this succeed."""
    d = env.dovecot
    _, u, cfg = setup(env, "imap", "implicit", tls_ca_file=None,
                      tls_fingerprint=d.fingerprint)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert A + ": ok" in lines_of(r.out)
    assert d.fingerprint in r.out


def test_fingerprint_case_and_colons(env):
    d = env.dovecot
    hexd = d.fingerprint.split(":", 1)[1].upper()
    fp = "SHA256:" + ":".join(hexd[i:i + 2] for i in range(0, len(hexd), 2))
    _, u, cfg = setup(env, "pop3", "starttls", tls_ca_file=None,
                      tls_fingerprint=fp)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert A + ": ok" in lines_of(r.out)


def test_fingerprint_mismatch(env):
    """A fingerprint that does not match fails even though the chain
    would verify (tls_ca_file is the right CA)."""
    wrong = "SHA256:" + hashlib.sha256(b"not the certificate").hexdigest()
    d, u, cfg = setup(env, "pop3", "implicit", tls_fingerprint=wrong)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    err_lines_named(r)
    low = r.err.lower()
    assert "fingerprint" in low or "certificate" in low, \
        "stderr does not name the fingerprint"


# --- connection failures -----------------------------------------------------

def test_connection_refused(env):
    port = harness.closed_port()
    cfg = env.config("[%s]\nprotocol = imap\nhost = 127.0.0.1\nport = %d\n"
                     "tls = implicit\nuser = nobody\npassword = Refused-9x\n"
                     "maildir = %s\nstate_file = %s\n" % (
                         A, port, env.path("Maildir"), env.path("st")))
    env.secret("Refused-9x")
    r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 69)
    err_lines_named(r)
    assert r.elapsed < 20, "took %.1fs" % r.elapsed
    nothing_created(env, cfg)


def test_silent_server_times_out(env):
    env.secret("Silent-pw-5t")
    with FakeServer("silent") as f:
        cfg = env.config(env.account(A, "pop3", "none", "nobody", server=f,
                                     password="Silent-pw-5t", timeout=2))
        r = env.run(["-c", cfg, "--check"], timeout=30)
        assert f.conns == 1, "did not connect to the fake server"
    env.expect(r, 75)
    err_lines_named(r)
    # Near timeout = 2, with room for a loaded machine; without the
    # deadline it would wait for the 30 s the test allows.
    assert r.elapsed < 12, "timeout = 2 but took %.1fs" % r.elapsed
    assert r.elapsed >= 1.5, "gave up after %.1fs, before timeout = 2" \
        % r.elapsed


def test_silent_server_tls_handshake_times_out(env):
    """The TLS handshake is bounded by connect_timeout."""
    env.secret("Silent-pw-6u")
    with FakeServer("silent") as f:
        cfg = env.config(env.account(A, "imap", "implicit", "nobody",
                                     server=f, password="Silent-pw-6u",
                                     connect_timeout=2, timeout=60))
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 75)
    err_lines_named(r)
    # connect_timeout = 2, not timeout = 60, with room for load.
    assert r.elapsed < 12, "connect_timeout = 2 but took %.1fs" % r.elapsed


# --- authentication ----------------------------------------------------------

def wrong_password(env, protocol, tls):
    bad = "Wrong-pw-%s-3v" % protocol
    env.secret(bad)
    d, u, cfg = setup(env, protocol, tls, password=bad)
    before = d.snapshot(u.name)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    err_lines_named(r)
    assert d.snapshot(u.name) == before
    nothing_created(env, cfg)


def test_wrong_password_pop3(env):
    wrong_password(env, "pop3", "starttls")


def test_wrong_password_imap(env):
    wrong_password(env, "imap", "implicit")


def test_pop3_starttls_not_offered(env):
    pw = "NoStls-pw-8w"
    env.secret(pw)
    with FakeServer("respond", greeting=b"+OK fake POP3 ready\r\n", rules=[
            (rb"^CAPA", b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n"),
            (rb"^STLS", b"-ERR STLS not supported\r\n"),
            (rb"^QUIT", b"+OK bye\r\n", "close"),
    ], default=b"-ERR unknown command\r\n") as f:
        cfg = env.config(env.account(A, "pop3", "starttls", "nobody",
                                     server=f, password=pw))
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 76)
    err_lines_named(r)
    sent = [x.split(" ")[0].upper() for x in f.lines]
    for cmd in ("USER", "PASS", "AUTH", "APOP"):
        assert cmd not in sent, "sent %s without TLS: %r" % (cmd, f.lines)
    assert pw.encode() not in f.received


def test_imap_starttls_not_offered(env):
    pw = "NoStarttls-pw-2y"
    env.secret(pw)

    def caps(m):
        return (b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + m.group(1) +
                b" OK done\r\n")

    def bad(m):
        return m.group(1) + b" BAD STARTTLS not supported\r\n"

    def bye(m):
        return b"* BYE bye\r\n" + m.group(1) + b" OK done\r\n"
    with FakeServer("respond", greeting=b"* OK fake IMAP ready\r\n", rules=[
            (rb"^(\S+) CAPABILITY", caps),
            (rb"^(\S+) STARTTLS", bad),
            (rb"^(\S+) LOGOUT", bye, "close"),
            (rb"^(\S+) ", lambda m: m.group(1) + b" BAD unknown\r\n"),
    ]) as f:
        cfg = env.config(env.account(A, "imap", "starttls", "nobody",
                                     server=f, password=pw))
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 76)
    err_lines_named(r)
    sent = [(x.split(" ") + [""])[1].upper() for x in f.lines]
    for cmd in ("LOGIN", "AUTHENTICATE"):
        assert cmd not in sent, "sent %s without TLS: %r" % (cmd, f.lines)
    assert pw.encode() not in f.received


# --- configuration and usage errors ------------------------------------------

def fake_section(name, port, extra=""):
    return ("[%s]\nprotocol = pop3\nhost = 127.0.0.1\nport = %s\n"
            "tls = none\nallow_plaintext = yes\nuser = nobody\n"
            "password = Cfg-pw-4r\nmaildir = /tmp/unused-mf-Maildir\n"
            "state_file = /tmp/unused-mf.state\n%s" % (name, port, extra))


def config_error(env, text, line, mode=0o600, key=None):
    env.secret("Cfg-pw-4r")
    with FakeServer("silent") as f:
        cfg = env.config(text.replace("PORT", str(f.port)), mode=mode)
        r = env.run(["-c", cfg, "--check"], timeout=30)
        assert not f.wait_conns(1, timeout=0.3), \
            "connected despite a config error"
    env.expect(r, 78)
    want = "%s:%d" % (cfg, line) if line else cfg + ":"
    assert want in r.err, "stderr does not name %r" % want
    if key:
        assert key in r.err, "stderr does not name the key %r" % key
    nothing_created(env, cfg)
    return r


def test_config_unknown_key(env):
    config_error(env, "[acct]\nprotocol = pop3\nbogus_key = 1\n"
                 "host = 127.0.0.1\nport = PORT\ntls = none\n"
                 "allow_plaintext = yes\nuser = nobody\n"
                 "password = Cfg-pw-4r\nmaildir = /tmp/unused-mf-Maildir\n",
                 3, key="bogus_key")


def test_config_leading_whitespace(env):
    config_error(env, "[acct]\nprotocol = pop3\nhost = 127.0.0.1\n"
                 "  port = PORT\ntls = none\nallow_plaintext = yes\n"
                 "user = nobody\npassword = Cfg-pw-4r\n"
                 "maildir = /tmp/unused-mf-Maildir\n", 4)


def test_config_password_in_readable_file(env):
    config_error(env, fake_section(A, "PORT"), None, mode=0o644)


def test_config_validated_before_any_connection(env):
    """The error is in the second account; the first is never tried."""
    text = (fake_section("first", "PORT") + "\n" +
            fake_section("second", 1, "max_size = lots\n"))
    lines = text.split("\n")
    bad = lines.index("max_size = lots") + 1
    config_error(env, text, bad, key="max_size")


def test_unknown_account(env):
    env.secret("Cfg-pw-4r")
    with FakeServer("silent") as f:
        cfg = env.config(fake_section(A, f.port))
        r = env.run(["-c", cfg, "--check", "nosuch"], timeout=30)
        assert not f.wait_conns(1, timeout=0.3), "connected anyway"
    env.expect(r, 64)
    assert "nosuch" in r.err, "stderr does not name the unknown account"
    nothing_created(env, cfg)


def test_missing_config_file(env):
    path = env.path("no-such-fetchrc")
    r = env.run(["-c", path, "--check"], timeout=30)
    env.expect(r, 78)
    assert path in r.err, "stderr does not name the file"
    assert harness.tree(env.tmp) == ["home"], harness.tree(env.tmp)


# --- output order in one pipe --------------------------------------------------

def run_merged(env, args):
    """Run mailfetch with stdout and stderr into one pipe (as `2>&1 | cat`,
    cron mail or the journal see it); returns (status, lines)."""
    import subprocess
    p = subprocess.run([env.mailfetch] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env.run_env(), cwd=env.tmp, timeout=60)
    text = p.stdout.decode("utf-8", "replace")
    for s in env._all_secrets():
        assert s not in text, "a secret leaked: %r" % s
    return p.returncode, lines_of(text)


def index_of(lines, pattern):
    rx = re.compile(pattern)
    for i, x in enumerate(lines):
        if rx.search(x):
            return i
    raise AssertionError("no line matching %r in %r" % (pattern, lines))


def test_error_comes_after_its_context_in_one_pipe(env):
    bad = "Wrong-pw-order-5k"
    env.secret(bad)
    d, u, cfg = setup(env, "imap", "implicit", password=bad)
    rc, lines = run_merged(env, ["-c", cfg, "--check"])
    assert rc == 77, lines
    order = [index_of(lines, r"^acct: connected to "),
             index_of(lines, r"^acct: TLS: "),
             index_of(lines, r"^acct: certificate: subject"),
             index_of(lines, r"^acct: capabilities"),
             index_of(lines, r"^acct: authentication failed")]
    assert order == sorted(order), lines
    assert order[-1] == len(lines) - 1, lines


def test_trace_in_order_with_the_summary_in_one_pipe(env):
    d, u, cfg = setup(env, "imap", "implicit")
    rc, lines = run_merged(env, ["-vv", "-c", cfg, "--check"])
    assert rc == 0, lines
    # The summary of the opening comes after its trace and before the
    # trace of what follows; the count before LOGOUT; "ok" last. (The
    # EXAMINE of the first folder goes out behind the login, issue 16:
    # it is part of the opening's trace, before the count.)
    order = [index_of(lines, r"^acct: < \* OK"),
             index_of(lines, r"^acct: connected to "),
             index_of(lines, r"^acct: INBOX: 2 messages"),
             index_of(lines, r"^acct: > \S+ LOGOUT"),
             index_of(lines, r"^acct: ok$")]
    assert order == sorted(order), "\n".join(lines)
    assert order[0] < index_of(lines, r"^acct: > \S+ (EXAMINE|SELECT)") < \
        order[2], "\n".join(lines)
    assert order[-1] == len(lines) - 1, lines


def test_imap_capabilities_before_and_after_login(env):
    # Like Cyrus IMAPd: AUTH= mechanisms only before login, a different
    # list after it. --check shows both, each labelled.
    pw = "Cyrus-like-pw-2m"
    env.secret(pw, "nobody")
    pre = b"IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=OAUTHBEARER ID"
    post = b"IMAP4rev1 IDLE UIDPLUS NAMESPACE"
    asked = []

    def caps(m):
        asked.append(1)
        return (b"* CAPABILITY " + (pre if len(asked) == 1 else post) +
                b"\r\n" + m.group(1) + b" OK done\r\n")
    with FakeServer("respond", greeting=b"* OK fake Cyrus ready\r\n", rules=[
            (rb"^(\S+) CAPABILITY", caps),
            (rb"^(\S+) AUTHENTICATE PLAIN", lambda m: m.group(1) +
             b" OK Success\r\n"),
            (rb'^(\S+) LIST "" ', lambda m: b'* LIST () "." INBOX\r\n' +
             m.group(1) + b" OK done\r\n"),
            (rb"^(\S+) EXAMINE", lambda m: b"* 3 EXISTS\r\n"
             b"* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 4] ok\r\n" +
             m.group(1) + b" OK [READ-ONLY] done\r\n"),
            (rb"^(\S+) LOGOUT", lambda m: b"* BYE bye\r\n" + m.group(1) +
             b" OK done\r\n", "close"),
            (rb"^(\S+) ", lambda m: m.group(1) + b" BAD unknown\r\n"),
    ], max_conns=2) as f:
        cfg = env.config(env.account(A, "imap", "none", "nobody", server=f,
                                     password=pw))
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 0)
    lines = lines_of(r.out)
    _, i = find(lines, re.escape("%s: capabilities before login: %s" % (
        A, pre.decode())), "capabilities before login")
    _, j = find(lines, re.escape("%s: authenticated as nobody (PLAIN)" % A),
                "authenticated")
    _, k = find(lines, re.escape("%s: capabilities after login: %s" % (
        A, post.decode())), "capabilities after login")
    assert i < j < k, lines
    assert not [x for x in lines if x.startswith(A + ": capabilities: ")]
    assert lines[-1] == A + ": ok", lines


def test_imap_folder_patterns_are_expanded(env):
    """folders = *, !Trash: --check counts the messages of each mailbox
    the pattern selects (LIST), as a run would fetch them, never the
    pattern itself; a literal name the server lacks is 76."""
    d, u, cfg = setup(env, "imap", "implicit", folders="*, !Trash")
    d.create_folder(u.name, "Lists/dev")
    d.create_folder(u.name, "Trash")
    d.deliver(u.name, MSG1, folder="Lists/dev", cur=True)
    r = env.expect(env.run(["-c", cfg, "--check"]), 0)
    counts = sorted(x for x in lines_of(r.out) if x.endswith(" messages"))
    assert counts == sorted([A + ": INBOX: 2 messages",
                             A + ": Lists/dev: 1 messages"]), r.out
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 folders="INBOX, Nowhere"), name="lit.rc")
    r = env.expect(env.run(["-c", cfg, "--check"]), 76)
    assert A + ": INBOX: 2 messages" in lines_of(r.out), r.out
    assert "Nowhere" in r.err, r.err
