"""Authentication and secrets (SPEC.md: auth, password, password_command,
allow_plaintext; "Secrets stay secret").

Every mechanism against the test Dovecot, with the right and a wrong
password; auto's choice; no fallback after a failure; SCRAM server
signatures and XOAUTH2/OAUTHBEARER initial responses against fake servers
(tests/authserver.py); password_command; plaintext refusal before any
credential is sent; bounded server failure text.

Env.run fails a test when any known password, token or encoded form of
one appears in stdout or stderr, so every run here (most with -vv) is
also a leak check. Independent runs go in parallel to keep this quick:
Dovecot delays each failed login by a second.
"""

import os
import re
import secrets
import time
import types
from concurrent.futures import ThreadPoolExecutor

import harness
from authserver import (ImapSasl, OAuthServer, PlainServer, Pop3Sasl,
                        ScramServer)
from fakeserver import FakeServer

A = "acct"

# (protocol, auth) -> (mechanism mailfetch names, method Dovecot logs).
# Dovecot logs USER/PASS and IMAP LOGIN as PLAIN.
DOVECOT_CASES = {
    ("pop3", "user"): ("USER", "PLAIN"),
    ("pop3", "apop"): ("APOP", "APOP"),
    ("pop3", "plain"): ("PLAIN", "PLAIN"),
    ("pop3", "login"): ("LOGIN", "LOGIN"),
    ("pop3", "cram-md5"): ("CRAM-MD5", "CRAM-MD5"),
    ("pop3", "scram-sha-1"): ("SCRAM-SHA-1", "SCRAM-SHA-1"),
    ("pop3", "scram-sha-256"): ("SCRAM-SHA-256", "SCRAM-SHA-256"),
    ("pop3", "auto"): ("SCRAM-SHA-256", "SCRAM-SHA-256"),
    ("imap", "login"): ("LOGIN", "PLAIN"),
    ("imap", "plain"): ("PLAIN", "PLAIN"),
    ("imap", "cram-md5"): ("CRAM-MD5", "CRAM-MD5"),
    ("imap", "scram-sha-1"): ("SCRAM-SHA-1", "SCRAM-SHA-1"),
    ("imap", "scram-sha-256"): ("SCRAM-SHA-256", "SCRAM-SHA-256"),
    ("imap", "auto"): ("SCRAM-SHA-256", "SCRAM-SHA-256"),
}

# What a client line of a -vv trace may be ("ACCOUNT: > LINE"): commands
# without credentials, or a credential replaced by <redacted>. A SASL
# response line that is anything but "<redacted>" (or "*", the IMAP
# cancel) fails the test, so base64 data never reaches the trace.
_CLIENT_LINE = re.compile(
    r"^(?:"
    r"CAPA|STLS|STAT|QUIT|NOOP|RSET|UIDL|LIST|(?:UIDL|LIST|RETR|DELE) \d+"
    r"|USER \S+|PASS <redacted>|APOP \S+ <redacted>"
    r"|AUTH [A-Z0-9-]+(?: <redacted>)?"
    r"|A\d+ (?:CAPABILITY|LOGOUT|NOOP|STARTTLS|CLOSE|EXPUNGE)"
    r"|A\d+ (?:LIST|EXAMINE|SELECT|ENABLE|UID|ID|STATUS) .*"
    r"|A\d+ LOGIN \"[^\"]+\" <redacted>"
    r"|A\d+ AUTHENTICATE [A-Z0-9-]+(?: <redacted>)?"
    r"|<redacted>|\*"
    r")$")


# --- helpers -----------------------------------------------------------------

def run_all(env, jobs, workers=8):
    """Run env.run(args, **kw) for every (key, args, kw) in parallel;
    returns {key: Result}."""
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futs = [(k, ex.submit(env.run, args, **kw)) for k, args, kw in jobs]
        return {k: f.result() for k, f in futs}


def mech_of(r, user):
    """The mechanism of the "authenticated as USER (MECH)" line."""
    m = re.search(r"^%s: authenticated as %s \((\S+)\)$" % (
        A, re.escape(user)), r.out, re.M)
    assert m, "no 'authenticated as %s' line:\n%s" % (user, r)
    return m.group(1)


def check_trace(r, want_redacted=True):
    """Every stderr line is the account's; every client line of the trace
    is a credential-free command or <redacted>."""
    n = 0
    for line in r.err.splitlines():
        assert line.startswith(A + ": "), "stray stderr line %r\n%s" % (
            line, r)
        body = line[len(A) + 2:]
        if body.startswith("> "):
            assert _CLIENT_LINE.match(body[2:]), \
                "trace line may carry a credential: %r\n%s" % (line, r)
            n += body.count("<redacted>")
    if want_redacted:
        assert n > 0, "no <redacted> in the -vv trace\n%s" % r


def client_lines(r):
    return [l[len(A) + 4:] for l in r.err.splitlines()
            if l.startswith(A + ": > ")]


def log_lines(d, user, pattern, n=1, timeout=3.0):
    """Lines of Dovecot's log about user matching pattern; waits (the
    log process writes asynchronously) until there are at least n."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        with open(d.log_file, encoding="utf-8", errors="replace") as f:
            got = [l for l in f if "user=<%s>" % user in l and rx.search(l)]
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def script(env, name, body):
    """An executable /bin/sh script in env.tmp; returns its path (a
    password_command that does not itself contain the secret)."""
    path = env.path(name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o700)
    return path


def no_control_chars(text):
    bad = [c for c in text if (ord(c) < 32 and c != "\n") or ord(c) == 127]
    assert not bad, "control characters in output: %r" % bad


def fake_cfg(env, srv, protocol, user, name="fetchrc", **keys):
    return env.config(env.account(A, protocol, "none", user, server=srv,
                                  **keys), name=name)


# --- every mechanism against Dovecot -----------------------------------------

def test_each_mechanism_right_password(env):
    d = env.dovecot
    users = {case: env.new_user() for case in DOVECOT_CASES}
    jobs = []
    for (proto, auth), u in users.items():
        tls = "implicit" if proto == "pop3" else "starttls"
        cfg = env.config(env.account(A, proto, tls, u, auth=auth),
                         name="fetchrc-%s-%s" % (proto, auth))
        jobs.append(((proto, auth), ["-c", cfg, "--check", "-vv"], {}))
    res = run_all(env, jobs)
    for (proto, auth), r in res.items():
        u = users[(proto, auth)]
        shown, logged = DOVECOT_CASES[(proto, auth)]
        assert r.rc == 0, "%s auth=%s: exit %s\n%s" % (proto, auth, r.rc, r)
        assert mech_of(r, u.name) == shown, "%s auth=%s\n%s" % (
            proto, auth, r)
        check_trace(r)
        got = log_lines(d, u.name, r"Login: user=<[^>]*>, method=")
        assert len(got) == 1, "%s auth=%s: Dovecot log: %r" % (
            proto, auth, got)
        assert "method=%s," % logged in got[0], "%s auth=%s: %r" % (
            proto, auth, got[0])


def test_each_mechanism_wrong_password(env):
    d = env.dovecot
    users = {case: env.new_user() for case in DOVECOT_CASES}
    jobs = []
    for (proto, auth), u in users.items():
        wrong = "Wrong%s" % secrets.token_hex(6)
        env.secret(wrong, u.name)
        tls = "implicit" if proto == "pop3" else "starttls"
        cfg = env.config(env.account(A, proto, tls, u.name, auth=auth,
                                     password=wrong),
                         name="fetchrc-%s-%s" % (proto, auth))
        jobs.append(((proto, auth), ["-c", cfg, "--check", "-vv"], {}))
    res = run_all(env, jobs, workers=len(jobs))
    for (proto, auth), r in res.items():
        u = users[(proto, auth)]
        _, logged = DOVECOT_CASES[(proto, auth)]
        assert r.rc == 77, "%s auth=%s: exit %s\n%s" % (proto, auth, r.rc, r)
        assert "authenticated as" not in r.out, r
        assert re.search(r"^%s: authentication failed" % A, r.err, re.M), r
        check_trace(r)
        # One attempt, by the mechanism asked for: no fallback.
        assert log_lines(d, u.name, r"Login: ", timeout=0) == []
        got = log_lines(d, u.name, r"auth failed")
        assert len(got) == 1, "%s auth=%s: %r" % (proto, auth, got)
        assert "auth failed, 1 attempts" in got[0], got[0]
        assert "method=%s," % logged in got[0], got[0]


def test_fetch_pop3_scram(env):
    u = env.new_user()
    msgs = [b"Subject: one\n\nfirst\n", b"Subject: two\n\nsecond\n.dot\n"]
    for m in msgs:
        env.dovecot.deliver(u.name, m)
    cfg = env.config(env.account(A, "pop3", "starttls", u,
                                 auth="scram-sha-256"))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert r.out == "%s: 2 fetched, 0 deleted, 2 left on server\n" % A, r
    got = harness.tree(env.path(A + "-Maildir", "new"))
    data = sorted(open(env.path(A + "-Maildir", "new", n), "rb").read()
                  for n in got)
    assert data == sorted(msgs), data
    assert log_lines(env.dovecot, u.name, r"method=SCRAM-SHA-256,")


def test_fetch_imap_scram_with_password_command(env):
    u = env.new_user()
    msgs = [b"Subject: imap one\n\nfirst\n", b"Subject: imap two\n\nx\n"]
    for m in msgs:
        env.dovecot.deliver(u.name, m)
    cmd = script(env, "pw.sh", "printf '%%s\\n' '%s'" % u.password)
    env.secret(u.password, u.name)
    cfg = env.config(env.account(A, "imap", "implicit", u.name,
                                 auth="scram-sha-1", password_command=cmd))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert r.out == "%s: 2 fetched, 0 deleted, 2 left on server\n" % A, r
    names = harness.tree(env.path(A + "-Maildir", "new")) + \
        harness.tree(env.path(A + "-Maildir", "cur"))
    assert len(names) == 2, names
    assert log_lines(env.dovecot, u.name, r"method=SCRAM-SHA-1,")


def test_password_with_special_characters(env):
    """Quotes, backslash, space, %, # and UTF-8 reach the server intact
    by every mechanism (IMAP LOGIN sends such a password as a literal),
    and never show in a trace."""
    d = env.dovecot
    cases = [("pop3", "user"), ("pop3", "apop"), ("pop3", "plain"),
             ("pop3", "login"), ("pop3", "cram-md5"),
             ("pop3", "scram-sha-256"), ("imap", "login"),
             ("imap", "plain"), ("imap", "scram-sha-1")]
    users, jobs = {}, []
    for proto, auth in cases:
        u = harness.User("sp%s" % secrets.token_hex(4),
                         'Sp ec"ia\\l%%#x-\u00fc\u20ac-%s'
                         % secrets.token_hex(3))
        d.add_user(u.name, u.password)
        users[(proto, auth)] = u
        cfg = env.config(env.account(A, proto, "implicit", u, auth=auth),
                         name="rc-%s-%s" % (proto, auth))
        jobs.append(((proto, auth), ["-c", cfg, "--check", "-vv"], {}))
    res = run_all(env, jobs)
    for (proto, auth), r in res.items():
        assert r.rc == 0, "%s auth=%s\n%s" % (proto, auth, r)
        mech_of(r, users[(proto, auth)].name)
        check_trace(r)


def test_imap_login_synchronizing_literal(env):
    """Without LITERAL+, IMAP LOGIN waits for the server's go-ahead
    before the password literal; the literal carries the exact bytes and
    the trace shows neither."""
    pw = 'Pw"lit\\eral-%s' % secrets.token_hex(4)
    env.secret(pw, "fred")
    raw = pw.encode()
    tag = []

    def go_ahead(m):
        tag.append(m.group(1))
        return b"+ go ahead\r\n"

    scr = [(None, b"* OK fake IMAP\r\n"),
           (r"^(\S+) CAPABILITY$", lambda m: b"* CAPABILITY IMAP4rev1\r\n" +
            m.group(1) + b" OK done\r\n"),
           (r'^(\S+) LOGIN "fred" \{%d\}$' % len(raw), go_ahead),
           (r"^" + re.escape(pw) + r"$", lambda m: tag[0] +
            b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")]
    with FakeServer("script", scr) as srv:
        cfg = fake_cfg(env, srv, "imap", "fred", password=pw, auth="login")
        r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
    assert not srv.errors, "%r\n%s" % (srv.errors, r)
    assert r.rc == 77, r
    # After the password only what goes behind the login (issue 16).
    i = srv.lines.index(pw)
    assert [re.sub(r"^\S+ ", "", x) for x in srv.lines[i + 1:]] in (
        [], ["CAPABILITY"], ["CAPABILITY", 'EXAMINE "INBOX"']), srv.lines
    check_trace(r)


# --- auto, and no fallback ------------------------------------------------

def test_auto_on_a_plain_login_only_server(env):
    d2 = harness.Dovecot(mechanisms="plain login",
                         users=(("carol", "pw-carol-Plain-8Hq"),))
    env.on_cleanup(d2.stop)
    d2.start()
    env.secret("pw-carol-Plain-8Hq", "carol")

    def srv(proto):
        return types.SimpleNamespace(host=d2.host, port=d2.ports[proto])

    jobs = []
    for proto in ("pop3", "imap"):
        for auth in ("auto", "scram-sha-256", "cram-md5"):
            cfg = env.config(env.account(
                A, proto, "implicit", "carol", server=srv(proto + "s"),
                password="pw-carol-Plain-8Hq", auth=auth,
                tls_ca_file=d2.ca_file), name="rc-%s-%s" % (proto, auth))
            jobs.append(((proto, auth), ["-c", cfg, "--check", "-vv"], {}))
    # APOP needs a timestamp in the greeting; without the apop
    # mechanism Dovecot sends none, and nothing may be sent.
    cfg = env.config(env.account(
        A, "pop3", "implicit", "carol", server=srv("pop3s"),
        password="pw-carol-Plain-8Hq", auth="apop", tls_ca_file=d2.ca_file),
        name="rc-apop")
    jobs.append((("pop3", "apop"), ["-c", cfg, "--check", "-vv"], {}))
    res = run_all(env, jobs)
    for proto in ("pop3", "imap"):
        r = res[(proto, "auto")]
        assert r.rc == 0, r
        assert mech_of(r, "carol") == "PLAIN", r
        check_trace(r)
        for auth in ("scram-sha-256", "cram-md5"):
            r = res[(proto, auth)]
            assert r.rc == 76, "%s auth=%s\n%s" % (proto, auth, r)
            check_trace(r, want_redacted=False)
            sent = client_lines(r)
            tries = [l for l in sent if re.match(
                r"^(AUTH|USER|PASS|APOP|A\d+ (AUTHENTICATE|LOGIN))\b", l)]
            # Both see the mechanism is not offered and send nothing,
            # but SCRAM's first message, which carries no secret, went
            # out before the greeting (implicit TLS: a round trip less
            # where the server has SCRAM; POP3: with CAPA) and was
            # withdrawn.
            if proto == "imap" and auth.startswith("scram"):
                assert tries == ["A1 AUTHENTICATE SCRAM-SHA-256 "
                                 "<redacted>"], sent
                assert len([l for l in sent if l.strip()]) == 1, sent
            elif auth.startswith("scram"):
                assert sent == ["CAPA", "AUTH SCRAM-SHA-256 <redacted>"], \
                    sent
            else:
                assert tries == [], sent
            assert "does not offer" in r.err, r
            assert ("AUTH=" if proto == "imap" else "SASL ") + \
                auth.upper() in r.err, r
    r = res[("pop3", "apop")]
    assert r.rc == 76 and "timestamp" in r.err, r
    assert not [l for l in client_lines(r) if l.startswith(("APOP", "USER",
                                                            "PASS", "AUTH"))]
    # Exactly the two auto runs logged in, both with PLAIN.
    got = log_lines(d2, "carol", r"Login: ", n=2)
    assert len(got) == 2 and all("method=PLAIN," in l for l in got), got


def _pick(mechs, user, password):
    def factory(mech):
        if mech.startswith("SCRAM-"):
            h = "sha1" if mech == "SCRAM-SHA-1" else "sha256"
            return ScramServer(h, user, password)
        return PlainServer(user, password)
    return factory


def test_auto_preference_order(env):
    pw = "Pw-order-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    cases = [
        (["PLAIN", "SCRAM-SHA-1", "LOGIN"], "SCRAM-SHA-1"),
        (["LOGIN", "CRAM-MD5", "PLAIN", "XOAUTH2"], "PLAIN"),
        (["SCRAM-SHA-1", "PLAIN", "SCRAM-SHA-256"], "SCRAM-SHA-256"),
    ]
    for proto, cls in (("pop3", Pop3Sasl), ("imap", ImapSasl)):
        for offered, want in cases:
            fs = cls(offered, _pick(offered, "fred", pw))
            with fs.server as srv:
                cfg = fake_cfg(env, srv, proto, "fred", password=pw)
                r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
            assert r.rc == 0, "%s %s\n%s" % (proto, offered, r)
            assert mech_of(r, "fred") == want, r
            assert fs.auths == [want], (offered, fs.auths)
            check_trace(r)


def test_no_fallback_after_a_failure(env):
    """auto picks SCRAM-SHA-256; when it fails, PLAIN, LOGIN and USER
    (all offered) are not tried."""
    pw = "Pw-nofall-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    for proto, cls in (("pop3", Pop3Sasl), ("imap", ImapSasl)):
        offered = ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
        scrams = []

        def factory(mech):
            s = ScramServer("sha256", "fred", "the-server-knows-another")
            scrams.append(s)
            return s if mech == "SCRAM-SHA-256" else PlainServer("fred", pw)

        fs = cls(offered, factory)
        with fs.server as srv:
            cfg = fake_cfg(env, srv, proto, "fred", password=pw)
            r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
            srv.wait_conns(2, timeout=0.3)
        assert r.rc == 77, r
        assert fs.auths == ["SCRAM-SHA-256"], fs.auths
        assert scrams[0].proof_ok is False, "the fake accepted the proof"
        assert srv.conns == 1, "reconnected %d times" % (srv.conns - 1)
        assert not [l for l in srv.lines if re.match(
            r"^(USER|PASS|APOP|\S+ LOGIN)\b", l)], srv.lines
        check_trace(r)


def test_named_mechanism_not_offered_no_other_tried(env):
    """auth = scram-sha-256 where the server offers PLAIN, LOGIN and
    CRAM-MD5 (Courier's POP3): 76 "server does not offer", naming what
    it offers, and nothing is sent: neither that mechanism nor another
    (nor USER/PASS or LOGIN)."""
    pw = "Pw-named-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    for proto, cls in (("pop3", Pop3Sasl), ("imap", ImapSasl)):
        fs = cls(["PLAIN", "LOGIN", "CRAM-MD5"], _pick(["PLAIN"], "fred", pw))
        with fs.server as srv:
            cfg = fake_cfg(env, srv, proto, "fred", password=pw,
                           auth="scram-sha-256")
            r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
            srv.wait_conns(2, timeout=0.3)
        assert r.rc == 76, r
        assert "authenticated as" not in r.out
        assert re.search(r"server does not offer (SASL |AUTH=)SCRAM-SHA-256 .*"
                         r"PLAIN.*LOGIN.*CRAM-MD5", r.err), r
        assert fs.auths == [], fs.auths
        assert srv.conns == 1, "reconnected"
        assert not [l for l in srv.lines if re.match(
            r"^(USER|PASS|APOP|AUTH|\S+ LOGIN|\S+ AUTHENTICATE)\b", l)], \
            srv.lines
        check_trace(r, want_redacted=False)


# --- SCRAM server signature --------------------------------------------------

def test_scram_server_signature(env):
    pw = "Pw-scram-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    for h, mech in (("sha1", "SCRAM-SHA-1"), ("sha256", "SCRAM-SHA-256")):
        for proto, cls in (("pop3", Pop3Sasl), ("imap", ImapSasl)):
            for forge in (None, "signature", "skip"):
                scrams = []

                def factory(m, h=h, forge=forge):
                    s = ScramServer(h, "fred", pw, salt=b"NaCl-fixed-salt",
                                    iterations=4096, forge=forge)
                    scrams.append(s)
                    return s

                fs = cls([mech], factory)
                with fs.server as srv:
                    cfg = fake_cfg(env, srv, proto, "fred", password=pw,
                                   auth=mech.lower())
                    r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
                what = "%s %s forge=%s" % (proto, mech, forge)
                assert len(scrams) == 1 and scrams[0].proof_ok is True, \
                    "%s: the client proof was wrong\n%s" % (what, r)
                check_trace(r)
                if forge is None:
                    assert r.rc == 0, "%s\n%s" % (what, r)
                    assert mech_of(r, "fred") == mech
                    continue
                assert r.rc == 77, "%s\n%s" % (what, r)
                assert "authenticated as" not in r.out, r
                if forge == "signature":
                    assert "signature" in r.err, "%s\n%s" % (what, r)
                else:
                    assert "prove" in r.err, "%s\n%s" % (what, r)
                # Nothing after the failed exchange but a cancel. IMAP
                # sends its empty answer to server-final at once, with
                # the reads of the first folder behind it (one round
                # trip less): those, and nothing else, reach the
                # server before its final message is judged.
                if proto == "pop3":
                    assert not [l for l in srv.lines
                                if l.startswith(("STAT", "UIDL", "LIST"))]
                else:
                    # (The fake server may close before it reads them.)
                    cmds = [l.split(" ", 1)[1] for l in srv.lines
                            if re.match(r"^A\d+ ", l)]
                    i = [k for k, c in enumerate(cmds)
                         if c.startswith("AUTHENTICATE")]
                    assert i, srv.lines
                    assert cmds[i[0] + 1:] in (
                        [], ["CAPABILITY"],
                        ["CAPABILITY", 'EXAMINE "INBOX"']), \
                        "%s: %s" % (what, srv.lines)


# --- XOAUTH2 and OAUTHBEARER -------------------------------------------------

def _oauth_expect(mech, user, token, port):
    if mech == "XOAUTH2":
        return ("user=%s\x01auth=Bearer %s\x01\x01" % (user, token)).encode()
    return ("n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s\x01\x01"
            % (user, port, token)).encode()


def _oauth_run(env, proto, mech, saslir, error, token, user, cmd):
    holder = {}
    cls = Pop3Sasl if proto == "pop3" else ImapSasl
    kw = {} if proto == "pop3" else {"saslir": saslir}

    def factory(m):
        s = OAuthServer(holder["expect"], error=error)
        holder.setdefault("mechs", []).append(s)
        return s

    fs = cls([mech, "PLAIN"], factory, **kw)
    with fs.server as srv:
        holder["expect"] = _oauth_expect(mech, user, token, srv.port)
        env.secret(holder["expect"].decode())
        cfg = fake_cfg(env, srv, proto, user, password_command=cmd,
                       auth=mech.lower())
        r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
    return r, fs, holder.get("mechs", [])


def test_oauth_initial_response(env):
    short = "ya29.Fake-Token_%s" % secrets.token_hex(8)
    # Real access tokens are long: a POP3 AUTH command with this one
    # would pass 255 octets, so the response follows an empty challenge
    # (RFC 5034 section 4).
    long = "EwBwA8l6BAAU%s-_.~+/" % secrets.token_hex(400)
    user = "fred@example.com"
    for mech, token in (("XOAUTH2", short), ("OAUTHBEARER", short),
                        ("XOAUTH2", long), ("OAUTHBEARER", long)):
        env.secret(token)
        # The token command's first line, without its CR LF, is the token.
        cmd = script(env, "token.sh",
                     "printf '%%s\\r\\nexpires_in=3599\\n' '%s'" % token)
        for proto, saslir in (("pop3", None), ("imap", True),
                              ("imap", False)):
            r, fs, mechs = _oauth_run(env, proto, mech, saslir, False,
                                      token, user, cmd)
            what = "%s %s saslir=%s token of %d" % (proto, mech, saslir,
                                                     len(token))
            assert len(mechs) == 1, "%s: %r\n%s" % (what, fs.auths, r)
            assert mechs[0].got == mechs[0].expect, "%s: sent %r, want %r" % (
                what, mechs[0].got, mechs[0].expect)
            assert r.rc == 0, "%s\n%s" % (what, r)
            assert mech_of(r, user) == mech, r
            assert fs.auths == [mech], fs.auths
            if proto == "pop3":
                # Inline only while the command fits in 255 octets.
                inline = len(token) < 100
                assert ("AUTH " + mech in fs.server.lines) != inline, \
                    fs.server.lines
            check_trace(r)


def test_oauth_error_challenge(env):
    token = "ya29.Expired_%s" % secrets.token_hex(8)
    env.secret(token)
    user = "fred@example.com"
    cmd = script(env, "token.sh", "echo '%s'" % token)
    for mech, answer in (("XOAUTH2", b""), ("OAUTHBEARER", b"\x01")):
        for proto in ("pop3", "imap"):
            r, fs, mechs = _oauth_run(env, proto, mech, True, True, token,
                                      user, cmd)
            what = "%s %s" % (proto, mech)
            assert r.rc == 77, "%s\n%s" % (what, r)
            assert len(mechs) == 1 and mechs[0].got == mechs[0].expect, what
            # RFC 7628 section 3.2.3: the client answers the error
            # challenge (a dummy response) and the server then fails.
            assert mechs[0].error_answer == answer, "%s answered %r" % (
                what, mechs[0].error_answer)
            assert fs.auths == [mech], fs.auths
            assert "authentication failed" in r.err, r
            check_trace(r)


# --- password_command --------------------------------------------------------

def test_password_command_first_line(env):
    """The first line, without its CR LF, is the password; a config
    without a password may be readable by others."""
    jobs = []
    users = {}
    bodies = {
        "crlf": "printf '%s\\r\\nsecond line\\n'",
        "no-newline": "printf '%s'",
        "two-lines": "printf '%s\\n\\nmore\\n'",
    }
    for proto, auth in (("pop3", "plain"), ("imap", "login")):
        for kind, body in bodies.items():
            u = env.new_user()
            env.secret(u.password, u.name)
            users[(proto, kind)] = u
            cmd = script(env, "pw-%s-%s.sh" % (proto, kind),
                         body % u.password)
            cfg = env.config(env.account(
                A, proto, "implicit", u.name, auth=auth,
                password_command=cmd), mode=0o644,
                name="rc-%s-%s" % (proto, kind))
            jobs.append(((proto, kind), ["-c", cfg, "--check", "-vv"], {}))
    res = run_all(env, jobs)
    for (proto, kind), r in res.items():
        assert r.rc == 0, "%s %s\n%s" % (proto, kind, r)
        mech_of(r, users[(proto, kind)].name)
        check_trace(r)


def run_on_a_tty(env, args, feed, timeout=60):
    """mailfetch in a session of its own whose controlling terminal is a
    pty (stdin, stdout, stderr on it, echo off), feed written to it;
    (exit status, output, seconds)."""
    import pty
    import termios
    argv = [env.mailfetch] + [str(a) for a in args]
    e = dict(env.run_env())
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(env.tmp)
            a = termios.tcgetattr(0)
            a[3] &= ~termios.ECHO
            termios.tcsetattr(0, termios.TCSANOW, a)
            os.execve(argv[0], argv, e)
        finally:
            os._exit(127)
    out = b""
    try:
        # The terminal's input queue keeps feed until someone reads it.
        time.sleep(0.2)
        os.write(fd, feed)
        while time.monotonic() - t0 < timeout:
            try:
                b = os.read(fd, 4096)
            except OSError:
                break
            if not b:
                break
            out += b
    finally:
        os.close(fd)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, 9)
            _, st = os.waitpid(pid, 0)
    return (os.waitstatus_to_exitcode(st), out.decode("utf-8", "replace"),
            time.monotonic() - t0)


def test_password_command_reads_the_terminal(env):
    """A password_command that asks on /dev/tty (age -d, bw get) gets
    the terminal, not SIGTTIN; the timeout still ends one that gets no
    answer."""
    u = env.new_user()
    env.secret(u.password, u.name)
    cfg = env.config(env.account(
        A, "imap", "implicit", u.name, timeout=3,
        password_command='read -r x </dev/tty; echo "$x"'))
    rc, out, _ = run_on_a_tty(env, ["-c", cfg],
                              (u.password + "\n").encode())
    assert rc == 0, out
    assert u.password not in out, out
    rc, out, took = run_on_a_tty(env, ["-c", cfg], b"")
    assert rc == 75, out
    assert "did not finish within 3 seconds" in out, out
    assert took < 20, took


def test_password_command_failures(env):
    secret = "Pw-Leaky-%s" % secrets.token_hex(6)
    env.secret(secret)
    secret_file = env.path("secret.txt")
    with open(secret_file, "w") as f:
        f.write(secret + "\n")
    cases = {
        "exit1": ("printf '%%s\\n' '%s'; exit 1"
                  % secret, "status 1"),
        "empty": ("true", None),
        "newline": ("printf '\\n'", None),
        "crlf": ("printf '\\r\\n'", None),
        # Inline: the shell mailfetch starts is the one killed.
        "signal": ("cat %s; kill -9 $$" % secret_file, "signal 9"),
        # Inline, so that sleep replaces the shell mailfetch starts and
        # is the process it kills (a grandchild would outlive it).
        "slow": ("printf 'partial-output'; exec sleep 30", "within 2"),
    }
    servers = {}
    jobs = []
    for kind, (body, _) in cases.items():
        if kind in ("slow", "signal"):
            cmd = body
        else:
            cmd = script(env, "pw-%s.sh" % kind, body)
        srv = FakeServer("silent").start()
        env.on_cleanup(srv.stop)
        servers[kind] = (srv, cmd)
        cfg = env.config(env.account(A, "pop3", "implicit", "fred",
                                     server=srv, password_command=cmd,
                                     timeout=2, connect_timeout=2,
                                     state_file=env.path(kind + ".state")),
                         name="rc-%s" % kind)
        jobs.append((kind, ["-c", cfg, "-vv"], {"timeout": 20}))
    res = run_all(env, jobs)
    for kind, r in res.items():
        srv, cmd = servers[kind]
        want = cases[kind][1]
        # Too slow is a temporary failure (SPEC "Time"), the rest config.
        assert r.rc == (75 if kind == "slow" else 78), "%s\n%s" % (kind, r)
        assert secret not in r.err and secret not in r.out
        assert cmd in r.err, "%s: the command is not named\n%s" % (kind, r)
        if want:
            assert want in r.err, "%s\n%s" % (kind, r)
        assert r.out == "", r
        err_lines = r.err.splitlines()
        assert len(err_lines) == 1 and err_lines[0].startswith(A + ": "), r
        assert not srv.wait_conns(1, timeout=0.2), \
            "%s: connected although there is no password" % kind
    r = res["slow"]
    # Ends near timeout = 2, not at the 30 s the command would take; the
    # upper bound leaves room for a loaded machine.
    assert 1.5 < r.elapsed < 12, "timeout = 2 took %.1fs" % r.elapsed
    # Named in the command, and its partial output not shown besides.
    assert r.err.count("partial-output") == 1, r


def _procs_with(token):
    """PIDs of the processes whose command line holds token."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if token.encode() in f.read():
                        found.append(int(d))
            except OSError:
                pass
    return found


def test_password_command_deadline_covers_its_exit(env):
    """password_command has timeout seconds to print and exit: one that
    closes its stdout and then lingers is killed with its process group
    at the deadline (75), and a background job it leaves behind holding
    the run's stderr is killed once it is done."""
    srv = FakeServer("silent").start()
    env.on_cleanup(srv.stop)
    # Durations as markers: these processes are ours to look for.
    cmd = "echo pw-unused; exec >&-; sleep 31.4159"
    cfg = env.config(env.account(A, "pop3", "implicit", "fred", server=srv,
                                 password_command=cmd, timeout=2,
                                 connect_timeout=2), name="rc-linger")
    r = env.run(["-c", cfg], timeout=40)
    assert r.rc == 75, r
    assert r.elapsed < 15, "timeout = 2 took %.1fs" % r.elapsed
    assert "did not finish within 2 seconds" in r.err and cmd in r.err, r
    assert not srv.wait_conns(1, timeout=0.2), "connected without password"
    assert _procs_with("31.4159") == [], "the sleep outlived the run"

    u = env.new_user()
    env.dovecot.deliver(u.name, b"Subject: bg\n\nbody\n")
    cmd = script(env, "pw-bg.sh", "printf '%%s\\n' '%s'\n"
                 "sleep 27.1828 >/dev/null &\n" % u.password)
    cfg = env.config(env.account(A, "pop3", "implicit", u.name,
                                 password_command=cmd), name="rc-bg")
    env.secret(u.password, u.name)
    r = env.run(["-c", cfg], timeout=40)
    assert r.rc == 0, r
    assert r.elapsed < 15, "the background job held the run %.1fs" % (
        r.elapsed)
    assert "1 fetched" in r.out, r
    assert _procs_with("27.1828") == [], "the background job outlived it"


def test_password_in_readable_config(env):
    srv = FakeServer("silent").start()
    env.on_cleanup(srv.stop)
    pw = "Pw-exposed-%s" % secrets.token_hex(4)
    for mode in (0o644, 0o640, 0o604, 0o660):
        cfg = env.config(env.account(A, "pop3", "implicit", "fred",
                                     server=srv, password=pw), mode=mode)
        env.secret(pw, "fred")
        r = env.run(["-c", cfg, "--check"], timeout=20)
        assert r.rc == 78, "mode %o\n%s" % (mode, r)
        assert "password" in r.err and "600" in r.err, r
    assert not srv.wait_conns(1, timeout=0.2), "connected"


# --- plaintext --------------------------------------------------------------

def test_plaintext_refused_before_connecting(env):
    srv = FakeServer("silent").start()
    env.on_cleanup(srv.stop)
    pw = "Pw-plain-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    for proto in ("pop3", "imap"):
        for allow in ("no", None):
            cfg = env.config(env.account(A, proto, "none", "fred",
                                         server=srv, password=pw,
                                         allow_plaintext=allow))
            # The harness adds allow_plaintext = yes for tls = none.
            with open(cfg) as f:
                text = f.read()
            assert ("allow_plaintext = no" in text) == (allow == "no")
            assert "allow_plaintext = yes" not in text
            r = env.run(["-c", cfg, "--check"], timeout=20)
            assert r.rc == 78, r
            assert "allow_plaintext" in r.err, r
    assert not srv.wait_conns(1, timeout=0.2), "connected"
    assert srv.received == b""


_NOT_TLS = b"this is not a TLS handshake\r\n" * 8


def _stls_scripts(variant):
    """POP3 and IMAP scripts whose STARTTLS upgrade fails."""
    if variant == "refused":
        pop, imap = b"-ERR no TLS today\r\n", b" NO no TLS today\r\n"
        opts = None
    else:
        pop, imap = b"+OK begin TLS\r\n", b" OK begin TLS\r\n"
        opts = "close" if variant == "close" else None
    after = []
    if variant == "garbage":
        # After the client's ClientHello, not buffered before it.
        after = [(None, _NOT_TLS, {"delay": 0.3})]
    if variant == "early-garbage":
        pop, imap = pop + _NOT_TLS, imap + _NOT_TLS
    p = [(None, b"+OK fake POP3\r\n"),
         (r"^CAPA$", b"+OK\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"),
         (r"^STLS$", pop, opts)] + after
    i = [(None, b"* OK fake IMAP\r\n"),
         (r"^(\S+) CAPABILITY$", lambda m: b"* CAPABILITY IMAP4rev1 STARTTLS "
          b"SASL-IR AUTH=PLAIN AUTH=LOGIN\r\n" + m.group(1) + b" OK done\r\n"),
         (r"^(\S+) STARTTLS$", lambda m: m.group(1) + imap, opts)] + after
    return {"pop3": p, "imap": i}


def test_failed_starttls_sends_no_credentials(env):
    pw = "Pw-stls-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    forms = [f.encode() for f in harness.secret_forms(pw, "fred")]
    for variant in ("garbage", "early-garbage", "close", "refused"):
        for proto in ("pop3", "imap"):
            scr = _stls_scripts(variant)[proto]
            with FakeServer("script", scr) as srv:
                cfg = env.config(env.account(
                    A, proto, "starttls", "fred", server=srv, password=pw,
                    auth="plain", tls_ca_file=env.dovecot.ca_file))
                r = env.run(["-c", cfg, "--check", "-vv"], timeout=20)
                time.sleep(0.1)
            what = "%s %s" % (proto, variant)
            assert r.rc != 0 and r.rc is not None, "%s\n%s" % (what, r)
            assert r.rc in ((75, 76) if variant == "close" else (76,)), \
                "%s\n%s" % (what, r)
            assert "authenticated as" not in r.out
            assert not srv.errors, "%s: %r" % (what, srv.errors)
            cmds = [l for l in srv.lines if re.match(
                r"^(\S+ )?(USER|PASS|APOP|AUTH|LOGIN|AUTHENTICATE)\b", l)]
            assert cmds == [], "%s: sent %r" % (what, cmds)
            for f in forms:
                assert f not in srv.received, "%s: the password was sent" % (
                    what)
            check_trace(r, want_redacted=False)


# --- the server's failure text -----------------------------------------------

def test_server_failure_text_bounded(env):
    pw = "Pw-text-%s" % secrets.token_hex(4)
    env.secret(pw, "fred")
    junk = (b"Bogus-Reason \x1b[31mred\x1b[0m bell\x07 bs\x08 tab\t "
            b"del\x7f soh\x01 esc\x1b]0;title\x07 ")
    long_junk = junk + b"x" * 2000
    cases = {
        "pop3-auth": [
            (None, b"+OK fake\r\n"),
            (r"^CAPA$", b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
            (r"^AUTH PLAIN ", b"-ERR " + long_junk + b"\r\n")],
        # Within POP3's 1000-byte line limit.
        "pop3-pass": [
            (None, b"+OK fake\r\n"),
            (r"^CAPA$", b"+OK\r\nUSER\r\n.\r\n"),
            (r"^USER fred$", b"+OK\r\n"),
            (r"^PASS ", b"-ERR " + junk + b"y" * 900 + b"\r\n")],
        "imap-authenticate": [
            (None, b"* OK fake\r\n"),
            (r"^(\S+) CAPABILITY$", lambda m: b"* CAPABILITY IMAP4rev1 "
             b"SASL-IR AUTH=PLAIN\r\n" + m.group(1) + b" OK done\r\n"),
            (r"^(\S+) AUTHENTICATE PLAIN ", lambda m: m.group(1) +
             b" NO [AUTHENTICATIONFAILED] " + long_junk + b"\r\n")],
        "imap-login": [
            (None, b"* OK fake\r\n"),
            (r"^(\S+) CAPABILITY$", lambda m: b"* CAPABILITY IMAP4rev1\r\n" +
             m.group(1) + b" OK done\r\n"),
            (r"^(\S+) LOGIN ", lambda m: m.group(1) + b" NO " + long_junk +
             b"\r\n")],
    }
    for name, scr in cases.items():
        proto = name.split("-")[0]
        auth = {"pop3-auth": "plain", "pop3-pass": "user",
                "imap-authenticate": "plain", "imap-login": "login"}[name]
        with FakeServer("script", scr) as srv:
            cfg = fake_cfg(env, srv, proto, "fred", password=pw, auth=auth)
            r = env.run(["-c", cfg, "--check"], timeout=20)
        assert r.rc == 77, "%s\n%s" % (name, r)
        no_control_chars(r.err)
        no_control_chars(r.out)
        lines = [l for l in r.err.splitlines() if "Bogus-Reason" in l]
        assert lines, "%s: the server's text is not shown\n%s" % (name, r)
        for l in r.err.splitlines():
            assert len(l) < 600, "%s: a %d-character line" % (name, len(l))
