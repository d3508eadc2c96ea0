"""Integration tests of the outgoing settings in `mailfetch --check`
(smtp_host, smtp_port, smtp_tls, smtp_user): once the incoming checks
pass, --check connects to the submission server, reports its TLS details
and EHLO extensions, authenticates and quits, sending no mail.

The real server is Dovecot's submission service (harness:
shared_submission_dovecot), whose relay is a scripted server that takes
no mail; scripted fake SMTP servers play what Dovecot will not do.
"""

import os
import re
import secrets
import ssl
import subprocess

import harness
from fakeserver import FakeServer
from test_check import find

A = "acct"
MSG = (b"From: Sender <s@example.org>\nTo: u@example.org\n"
       b"Subject: smtp check\nMessage-ID: <smtp1@example.org>\n\nHello.\n")
TLS_WORD = {"implicit": "implicit TLS", "starttls": "STARTTLS",
            "none": "no TLS"}


# --- helpers ---------------------------------------------------------------

def new_user(env, d):
    name = "s%s" % secrets.token_hex(4)
    pw = "Sm%sQz" % secrets.token_hex(8)
    d.add_user(name, pw)
    env.secret(pw, name)
    return harness.User(name, pw)


def setup(env, mode="starttls", server=None, **keys):
    """A user with one message on the submission Dovecot and a config
    whose incoming side is IMAP with implicit TLS there; the outgoing
    side is that Dovecot's submission service (or server) with smtp_tls
    = mode, with keys added or overriding (None leaves a key out)."""
    d = harness.shared_submission_dovecot()
    u = new_user(env, d)
    d.deliver(u.name, MSG, cur=True)
    kv = {"protocol": "imap", "host": d.host,
          "port": str(d.ports["imaps"]), "tls": "implicit",
          "tls_ca_file": d.ca_file, "user": u.name, "password": u.password,
          "maildir": env.path("Maildir"),
          "state_file": env.path("state", A + ".state")}
    if server is not None:
        kv["smtp_host"] = server.host
        kv["smtp_port"] = str(server.port)
    else:
        kv["smtp_host"] = d.host
        kv["smtp_port"] = str(d.ports["submissions" if mode == "implicit"
                                     else "submission"])
    kv["smtp_tls"] = mode
    if mode == "none":
        kv["allow_plaintext"] = "yes"
    for k, v in keys.items():
        if v is None:
            kv.pop(k, None)
        else:
            kv[k] = str(v)
    text = "[%s]\n%s" % (A, "".join("%s = %s\n" % x for x in kv.items()))
    return d, u, env.config(text), kv


def lines_of(text):
    return [x for x in text.split("\n") if x != ""]


def err_lines_named(r):
    lines = lines_of(r.err)
    assert lines, "nothing on stderr"
    for x in lines:
        assert x.startswith(A + ": "), "stderr line %r" % x


def nothing_created(env):
    assert harness.tree(env.tmp) == ["fetchrc", "home"], \
        "--check created files: %s" % harness.tree(env.tmp)


def no_smtp_success(r):
    out = lines_of(r.out)
    assert A + ": ok" not in out, "ok printed after a failure"
    assert not [x for x in out if x.startswith(A + ": smtp: authenticated")]


def relay_took_no_mail(d):
    for x in d.relay.lines:
        assert not re.match(r"(?i)(MAIL|RCPT|DATA|BDAT)\b", x), \
            "the relay was asked to take mail: %r" % x


def check_ok(env, smtp_tls):
    d, u, cfg, kv = setup(env, smtp_tls)
    before = d.snapshot(u.name)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert r.err == "", "stderr not empty on success"
    lines = lines_of(r.out)
    for x in lines:
        assert x.startswith(A + ": "), "stdout line %r" % x
    _, incoming = find(lines, re.escape(A + ": INBOX: 1 messages"), "count")
    order = [incoming]
    _, i = find(lines, re.escape("%s: smtp: connected to 127.0.0.1 port %s "
                                 "(%s)" % (A, kv["smtp_port"],
                                           TLS_WORD[smtp_tls])),
                "smtp connected")
    order.append(i)
    if smtp_tls == "none":
        for x in lines:
            assert not x.startswith(A + ": smtp: TLS:"), x
            assert not x.startswith(A + ": smtp: certificate:"), x
    else:
        _, i = find(lines, re.escape(A) + r": smtp: TLS: TLSv1\.[23], \S+",
                    "smtp TLS")
        order.append(i)
        m, i = find(lines, re.escape(A) + r": smtp: certificate: subject "
                    r"(.+); issuer (.+)", "smtp certificate subject")
        assert "127.0.0.1" in m.group(1), m.group(1)
        assert "mailfetch test CA" in m.group(2), m.group(2)
        order.append(i)
        _, i = find(lines, re.escape(
            "%s: smtp: certificate: valid from %s to %s; %s" % (
                A, d.not_before.isoformat(), d.not_after.isoformat(),
                d.fingerprint)), "smtp certificate validity")
        order.append(i)
    m, i = find(lines, re.escape(A) + r": smtp: extensions: (.+)",
                "smtp extensions")
    exts = m.group(1).split(", ")
    auth = [x for x in exts if x.upper().startswith("AUTH ")]
    assert auth and "SCRAM-SHA-256" in auth[0].upper(), exts
    assert "PIPELINING" in exts, exts
    # RFC 3207 section 4.2: the extensions are those listed after TLS,
    # where Dovecot no longer offers STARTTLS.
    if smtp_tls == "starttls":
        assert "STARTTLS" not in exts, exts
    else:
        assert "STARTTLS" in exts or smtp_tls == "implicit", exts
    order.append(i)
    _, i = find(lines, re.escape("%s: smtp: authenticated as %s "
                                 "(SCRAM-SHA-256)" % (A, u.name)),
                "smtp authenticated")
    order.append(i)
    assert lines[-1] == A + ": ok", "last line is not ok: %r" % lines[-1]
    order.append(len(lines) - 1)
    assert order == sorted(order), "lines out of order: %r" % lines
    assert d.snapshot(u.name) == before, "--check changed the mailbox"
    relay_took_no_mail(d)
    nothing_created(env)


def fake_smtp(rules, greeting=b"220 fake.invalid ESMTP\r\n", **kw):
    return FakeServer("respond", greeting=greeting, rules=rules,
                      default=b"502 5.5.2 unknown command\r\n", **kw)


# --- against Dovecot's submission service ------------------------------------

def test_starttls(env):
    check_ok(env, "starttls")


def test_implicit(env):
    check_ok(env, "implicit")


def test_none_with_allow_plaintext(env):
    check_ok(env, "none")


def test_trace_sends_no_mail_and_redacts(env):
    """-vv: the commands sent are EHLO, STARTTLS, EHLO, AUTH and QUIT,
    credentials shown as <redacted>; nothing that would send mail."""
    d, u, cfg, _ = setup(env, "starttls")
    r = env.run(["-c", cfg, "--check", "-vv"])
    env.expect(r, 0)
    err = lines_of(r.err)
    start = [i for i, x in enumerate(err)
             if x.startswith(A + ": < 220 ")]
    assert start, "no SMTP greeting in the trace"
    sent = [x[len(A + ": > "):] for x in err[start[0]:]
            if x.startswith(A + ": > ")]
    assert sent == ["EHLO localhost", "STARTTLS", "EHLO localhost",
                    "AUTH SCRAM-SHA-256 <redacted>", "<redacted>",
                    "<redacted>", "QUIT"], sent
    assert "%s: < 235 " % A in r.err
    relay_took_no_mail(d)


def test_smtp_user(env):
    """smtp_user replaces user for the submission server only: another
    user with the same password logs in there."""
    other = "o%s" % secrets.token_hex(4)
    d, u, cfg, _ = setup(env, "starttls", smtp_user=other)
    d.add_user(other, u.password)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    out = lines_of(r.out)
    assert "%s: authenticated as %s (SCRAM-SHA-256)" % (A, u.name) in out
    assert "%s: smtp: authenticated as %s (SCRAM-SHA-256)" % (
        A, other) in out


def test_auth_names_the_mechanism(env):
    """auth = plain is used for the submission server too; auth = login
    (IMAP LOGIN for incoming) is SASL LOGIN there."""
    _, u, cfg, _ = setup(env, "starttls", auth="plain")
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert "%s: smtp: authenticated as %s (PLAIN)" % (A, u.name) in \
        lines_of(r.out)
    _, u, cfg, _ = setup(env, "implicit", auth="login")
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 0)
    assert "%s: smtp: authenticated as %s (LOGIN)" % (A, u.name) in \
        lines_of(r.out)


def test_wrong_password(env):
    """A wrong password fails with 77 at the incoming server, before the
    submission server is tried."""
    bad = "Wrong-smtp-pw-7k"
    env.secret(bad)
    d, u, cfg, _ = setup(env, "starttls", password=bad)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    err_lines_named(r)
    assert not [x for x in lines_of(r.out) if ": smtp: " in x], \
        "SMTP checked though the incoming login failed"
    no_smtp_success(r)
    nothing_created(env)


def test_wrong_password_smtp(env):
    """The incoming login passes; the submission server refuses the
    login (smtp_user is another user, whose password differs): 77."""
    d = harness.shared_submission_dovecot()
    other = new_user(env, d)
    _, u, cfg, kv = setup(env, "starttls", smtp_user=other.name)
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    err_lines_named(r)
    assert "SMTP authentication failed" in r.err, r.err
    assert "535" in r.err, "the server's reply is not quoted"
    out = lines_of(r.out)
    assert "%s: authenticated as %s (SCRAM-SHA-256)" % (A, u.name) in out
    assert "%s: smtp: connected to 127.0.0.1 port %s (STARTTLS)" % (
        A, kv["smtp_port"]) in out
    no_smtp_success(r)
    nothing_created(env)


def test_wrong_password_smtp_implicit(env):
    d = harness.shared_submission_dovecot()
    other = new_user(env, d)
    _, u, cfg, _ = setup(env, "implicit", smtp_user=other.name,
                         auth="plain")
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 77)
    assert "SMTP authentication failed" in r.err, r.err
    no_smtp_success(r)


def test_not_an_smtp_server(env):
    """smtp_port pointing at the IMAP port: 76, and the hint names the
    SMTP settings."""
    d = harness.shared_submission_dovecot()
    _, u, cfg, _ = setup(env, "implicit", smtp_port=d.ports["imaps"])
    r = env.run(["-c", cfg, "--check"])
    env.expect(r, 76)
    err_lines_named(r)
    assert "smtp_port" in r.err, r.err
    no_smtp_success(r)


def test_connection_refused(env):
    port = harness.closed_port()
    _, u, cfg, _ = setup(env, "starttls", smtp_port=port)
    r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 69)
    err_lines_named(r)
    assert "smtp_host" in r.err, r.err
    no_smtp_success(r)
    nothing_created(env)


def test_smtp_tls_none_refused_by_config(env):
    """smtp_tls = none without allow_plaintext: exit 78 before any
    connection, naming the line."""
    with fake_smtp([]) as f:
        d, u, cfg, kv = setup(env, "starttls", server=f, smtp_tls="none")
        r = env.run(["-c", cfg, "--check"], timeout=30)
        assert not f.wait_conns(1, timeout=0.3), "connected to SMTP"
    env.expect(r, 78)
    lineno = list(kv).index("smtp_tls") + 2
    assert "%s:%d: smtp_tls:" % (cfg, lineno) in r.err, r.err


# --- scripted servers --------------------------------------------------------

def test_starttls_not_offered(env):
    """No STARTTLS in the EHLO reply: 76, and AUTH is never sent."""
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n250-AUTH PLAIN LOGIN\r\n"
             b"250 PIPELINING\r\n"),
            (rb"^QUIT", b"221 bye\r\n", "close"),
    ]) as f:
        _, u, cfg, _ = setup(env, "starttls", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
        assert f.conns == 1, "did not connect to the fake SMTP server"
    env.expect(r, 76)
    err_lines_named(r)
    assert "does not offer STARTTLS" in r.err, r.err
    sent = [x.split(" ")[0].upper() for x in f.lines]
    assert sent == ["EHLO"], "sent more than EHLO: %r" % f.lines
    assert u.password.encode() not in f.received
    no_smtp_success(r)


def test_starttls_refused(env):
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n250-STARTTLS\r\n"
             b"250 AUTH PLAIN\r\n"),
            (rb"^STARTTLS", b"454 4.7.0 TLS not available\r\n"),
    ]) as f:
        _, u, cfg, _ = setup(env, "starttls", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 76)
    assert "454 4.7.0 TLS not available" in r.err, r.err
    assert "AUTH" not in [x.split(" ")[0].upper() for x in f.lines]


def test_plaintext_auth_only_with_allow_plaintext(env):
    """smtp_tls = none with allow_plaintext = yes authenticates over
    the plain connection (the fake server sees AUTH PLAIN)."""
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n250 AUTH PLAIN\r\n"),
            (rb"^AUTH PLAIN \S+", b"235 2.7.0 ok\r\n"),
            (rb"^QUIT", b"221 bye\r\n", "close"),
    ]) as f:
        _, u, cfg, _ = setup(env, "none", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 0)
    assert "%s: smtp: authenticated as %s (PLAIN)" % (A, u.name) in \
        lines_of(r.out)
    assert [x.split(" ")[0] for x in f.lines] == ["EHLO", "AUTH", "QUIT"]


def test_greeting_421(env):
    with fake_smtp([], greeting=b"421 4.3.2 too busy, try later\r\n") as f:
        _, u, cfg, _ = setup(env, "starttls", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 75)
    assert "421 4.3.2 too busy" in r.err, r.err


def test_malformed_ehlo_reply(env):
    """A multi-line reply whose code changes breaks RFC 5321's grammar:
    65."""
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n251-STARTTLS\r\n250 x\r\n"),
    ]) as f:
        _, u, cfg, _ = setup(env, "starttls", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 65)
    assert "251-STARTTLS" in r.err, r.err


def test_endless_ehlo_reply(env):
    """A reply of more lines than the cap ends the session with 76."""
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n" + b"250-X-FILLER\r\n" * 5000 +
             b"250 PIPELINING\r\n"),
    ]) as f:
        _, u, cfg, _ = setup(env, "starttls", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 76)
    assert "more than" in r.err, r.err


def test_auth_not_offered(env):
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n250 PIPELINING\r\n"),
    ]) as f:
        _, u, cfg, _ = setup(env, "none", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 76)
    assert "does not offer AUTH" in r.err, r.err


def test_auth_temporary_failure(env):
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n250 AUTH PLAIN\r\n"),
            (rb"^AUTH", b"454 4.7.0 temporary authentication failure\r\n"),
    ]) as f:
        _, u, cfg, _ = setup(env, "none", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 75)
    assert "454 4.7.0" in r.err, r.err


def test_scram_without_server_proof(env):
    """A 235 that skips SCRAM's server-final message (the server never
    proved it knows the password) is not accepted: 77."""
    with fake_smtp([
            (rb"^EHLO", b"250-fake.invalid\r\n250 AUTH SCRAM-SHA-256\r\n"),
            (rb"^AUTH SCRAM-SHA-256 \S+", b"235 2.7.0 welcome\r\n"),
    ]) as f:
        _, u, cfg, _ = setup(env, "none", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 77)
    assert "did not prove" in r.err, r.err
    no_smtp_success(r)


def test_silent_server_times_out(env):
    with FakeServer("silent") as f:
        _, u, cfg, _ = setup(env, "starttls", server=f, timeout=2)
        r = env.run(["-c", cfg, "--check"], timeout=30)
        assert f.conns == 1, "did not connect to the fake SMTP server"
    env.expect(r, 75)
    err_lines_named(r)
    assert r.elapsed < 10, "timeout = 2 but took %.1fs" % r.elapsed


def test_incoming_failure_skips_smtp(env):
    """The submission server is tried only after the incoming checks
    pass."""
    with fake_smtp([]) as f:
        _, u, cfg, _ = setup(env, "starttls", server=f,
                             user="nosuchuser", auth="plain")
        r = env.run(["-c", cfg, "--check"], timeout=30)
        assert not f.wait_conns(1, timeout=0.3), "connected to SMTP"
    env.expect(r, 77)


def test_certificate_rejected(env):
    """An SMTP server whose certificate the CA file does not vouch for
    (a self-signed one): 77, and nothing is sent after the handshake."""
    certdir = env.path("certs")
    os.mkdir(certdir)
    key, crt = os.path.join(certdir, "k.pem"), os.path.join(certdir, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    with fake_smtp([(rb"^EHLO", b"250-fake.invalid\r\n250 AUTH PLAIN\r\n")],
                   tls=ctx) as f:
        _, u, cfg, _ = setup(env, "implicit", server=f)
        r = env.run(["-c", cfg, "--check"], timeout=30)
    env.expect(r, 77)
    err_lines_named(r)
    assert "certificate" in r.err.lower(), r.err
    assert f.lines == [], "sent %r over a rejected TLS session" % f.lines
