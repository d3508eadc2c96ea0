"""`mailfetch --configure ADDRESS` (SPEC.md: Finding the settings).

A throwaway dnsmasq on 127.0.0.1 serves the SRV records of the domain
example.test, pointing at the test Dovecot (the one with submission, so
every service of RFC 6186 has a server); mailfetch asks it alone
(MAILFETCH_NAMESERVER). The targets are "localhost", the name on the
Dovecot's certificate. A malformed answer comes from a tiny responder
in Python (dnsserver.RawDNS).
"""

import re
import struct

import harness
from dnsserver import Dnsmasq, RawDNS

ADDR = "alice@example.test"
D = "example.test"


def dovecot():
    return harness.shared_submission_dovecot()


def configure(env, dns, *args):
    return env.run(["--configure", ADDR] + list(args), extra_env=dns.env())


def keys(out):
    """The section's key = value lines (comments left out)."""
    kv = {}
    for x in out.splitlines():
        m = re.match(r"^([a-z_]+) = ?(.*)$", x)
        if m:
            assert m.group(1) not in kv, "key twice: %r" % x
            kv[m.group(1)] = m.group(2)
    return kv


def fill(out, password_command, pin=True):
    """The printed section as a user completes it: password_command
    filled, and the certificate's fingerprint (which the test CA cannot
    vouch for through the system store) uncommented."""
    out = out.replace("password_command =\n",
                      "password_command = %s\n" % password_command)
    if pin:
        out = re.sub(r"^# tls_fingerprint = ", "tls_fingerprint = ", out,
                     count=1, flags=re.M)
    return out


def test_implicit_tls_found_and_the_section_works(env):
    d = dovecot()
    u = env.new_user()
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    srv = [("_imaps._tcp." + D, "localhost", d.ports["imaps"], 0, 1),
           ("_imap._tcp." + D, "localhost", d.ports["imap"], 0, 1),
           ("_submissions._tcp." + D, "localhost", d.ports["submissions"],
            0, 1)]
    with Dnsmasq(srv=srv) as dns:
        r = configure(env, dns)
    env.expect(r, 0)
    kv = keys(r.out)
    assert kv["protocol"] == "imap" and kv["host"] == "localhost", r.out
    assert kv["port"] == str(d.ports["imaps"]) and kv["tls"] == "implicit"
    assert kv["user"] == ADDR and kv["password_command"] == "", r.out
    assert kv["smtp_host"] == "localhost", r.out
    assert kv["smtp_port"] == str(d.ports["submissions"]), r.out
    assert kv["smtp_tls"] == "implicit", r.out
    assert "[%s]" % ADDR in r.out.splitlines(), r.out
    # Where each value came from.
    assert "# _imaps._tcp.%s: localhost port %d (priority 0, weight 1)" % (
        D, d.ports["imaps"]) in r.out, r.out
    assert re.search(r"^# Login mechanisms offered: .*SCRAM-SHA-256", r.out,
                     re.M), r.out
    # The test CA is not the system's: the fingerprint is offered once,
    # for the account (the submission server has the same certificate).
    assert r.out.count("# tls_fingerprint = %s\n" % d.fingerprint) == 1, \
        r.out
    assert "# It is the incoming server's: tls_fingerprint above covers " \
        "both." in r.out, r.out
    assert "_submissions._tcp.%s" % D in r.out
    # Nothing written: the test directory holds the empty home only.
    assert harness.tree(env.tmp) == ["home"], harness.tree(env.tmp)
    # As printed it is not a valid config (password_command is empty)...
    cfg = env.config(r.out.replace("user = " + ADDR, "user = " + u.name)
                     .replace("maildir = ~/Mail/", "maildir = %s/" %
                              env.tmp))
    bad = env.run(["-c", cfg, "--check"])
    env.expect(bad, 78)
    assert "password_command" in bad.err, bad.err
    # ...and once password_command is filled (and the fingerprint
    # pinned), --check logs in with it, incoming and outgoing.
    cfg = env.config(fill(open(cfg).read(), "echo %s" % u.password))
    ok = env.run(["-c", cfg, "--check"])
    env.expect(ok, 0)
    assert re.search(r"^%s: smtp: authenticated as %s" % (
        re.escape(ADDR), u.name), ok.out, re.M), ok.out
    assert ok.out.splitlines()[-1] == ADDR + ": ok", ok.out


def test_only_starttls(env):
    d = dovecot()
    srv = [("_pop3._tcp." + D, "localhost", d.ports["pop3"], 0, 1),
           ("_submission._tcp." + D, "localhost", d.ports["submission"], 0,
            1),
           ("_imaps._tcp." + D, ".", 0, 0, 0)]
    with Dnsmasq(srv=srv) as dns:
        r = configure(env, dns)
    env.expect(r, 0)
    kv = keys(r.out)
    assert (kv["protocol"], kv["port"], kv["tls"]) == (
        "pop3", str(d.ports["pop3"]), "starttls"), r.out
    assert (kv["smtp_port"], kv["smtp_tls"]) == (
        str(d.ports["submission"]), "starttls"), r.out
    assert "# STARTTLS confirmed by a visit" in r.out, r.out


def test_protocol_restricts_incoming(env):
    d = dovecot()
    srv = [("_imaps._tcp." + D, "localhost", d.ports["imaps"], 0, 1),
           ("_pop3s._tcp." + D, "localhost", d.ports["pop3s"], 0, 1)]
    with Dnsmasq(srv=srv) as dns:
        r = configure(env, dns, "--protocol", "pop3")
    env.expect(r, 0)
    kv = keys(r.out)
    assert (kv["protocol"], kv["port"]) == ("pop3", str(d.ports["pop3s"]))
    assert "# Outgoing: no SRV record" in r.out, r.out


def test_nothing_found_says_what_was_tried(env):
    # A "." target says the service is not offered (RFC 2782).
    with Dnsmasq(srv=[("_imaps._tcp." + D, ".", 0, 0, 0)]) as dns:
        r = configure(env, dns)
    env.expect(r, 69)
    assert r.out == "", r.out
    assert ('mailfetch:   _imaps._tcp.%s: ".", the service is not offered\n'
            % D) in r.err, r.err
    for label in ("_pop3s._tcp", "_submissions._tcp",
                  "_imap._tcp", "_pop3._tcp", "_submission._tcp"):
        assert "mailfetch:   %s.%s: none\n" % (label, D) in r.err, r.err
    for label in ("_imaps._tcp", "_imap._tcp"):
        assert "query[SRV] %s.%s" % (label, D) in dns.log, dns.log


def test_refusing_target_is_passed_over(env):
    d = dovecot()
    dead = harness.closed_port()
    srv = [("_imaps._tcp." + D, "dead.example.test", dead, 0, 1),
           ("_imaps._tcp." + D, "localhost", d.ports["imaps"], 5, 1),
           ("_submission._tcp." + D, "dead.example.test", dead, 0, 1)]
    with Dnsmasq(srv=srv, hosts=[("dead.example.test", "127.0.0.1")]) as dns:
        r = configure(env, dns)
    env.expect(r, 0)
    assert keys(r.out)["host"] == "localhost", r.out
    # Outgoing found but silent: said so, and no smtp_ key set.
    assert "# Outgoing: none of the submission servers found answered\n" \
        in r.out, r.out
    assert "smtp_host" not in keys(r.out), r.out
    assert "mailfetch: _submission._tcp.%s: connect to " % D in r.err
    assert re.search(r"^mailfetch: _imaps\._tcp\.example\.test: connect to "
                     r"dead\.example\.test \(127\.0\.0\.1\) port %d: "
                     r"Connection refused; passed over$" % dead, r.err,
                     re.M), r.err


def test_none_answers(env):
    dead1, dead2 = harness.closed_port(), harness.closed_port()
    srv = [("_imaps._tcp." + D, "dead.example.test", dead1, 0, 1),
           ("_pop3s._tcp." + D, "dead.example.test", dead2, 0, 1)]
    with Dnsmasq(srv=srv, hosts=[("dead.example.test", "127.0.0.1")]) as dns:
        r = configure(env, dns)
    env.expect(r, 69)
    assert r.out == ""
    for p in (dead1, dead2):
        assert "connect to dead.example.test (127.0.0.1) port %d: " % p \
            in r.err, r.err
    assert ("mailfetch: none of the 2 servers found for example.test "
            "answered: dead.example.test port %d, dead.example.test port %d; "
            % (dead1, dead2)) in r.err, r.err


def test_at_most_ten_servers_per_service(env):
    # Twelve targets: the first eleven refuse, the twelfth would answer.
    # Ten are tried, in priority order; the other two are left out, and
    # stderr says so.
    d = dovecot()
    names = "abcdefghijk"
    srv = [("_imaps._tcp." + D, n + ".example.test", harness.closed_port(),
            i, 1) for i, n in enumerate(names)]
    srv.append(("_imaps._tcp." + D, "localhost", d.ports["imaps"], 20, 1))
    hosts = [(n + ".example.test", "127.0.0.1") for n in names]
    with Dnsmasq(srv=srv, hosts=hosts) as dns:
        r = configure(env, dns, "--protocol", "imap")
    env.expect(r, 69)
    tried = re.findall(r"^mailfetch: _imaps\._tcp\.example\.test: connect to "
                       r"(\w)\.example\.test ", r.err, re.M)
    assert tried == list(names[:10]), r.err
    assert "localhost" not in r.err.split("2 more")[0], r.err
    assert ("mailfetch: _imaps._tcp.example.test: 2 more servers not tried "
            "(at most 10 per service)\n") in r.err, r.err


def test_priority_then_weight_order(env):
    # Lower priority first; within one priority the heavier weight. The
    # first two refuse, so the visits show the order.
    d = dovecot()
    p = [harness.closed_port() for _ in range(3)]
    srv = [("_imaps._tcp." + D, "c.example.test", p[2], 10, 90),
           ("_imaps._tcp." + D, "localhost", d.ports["imaps"], 20, 100),
           ("_imaps._tcp." + D, "b.example.test", p[1], 10, 10),
           ("_imaps._tcp." + D, "a.example.test", p[0], 5, 0)]
    hosts = [(n + ".example.test", "127.0.0.1") for n in "abc"]
    with Dnsmasq(srv=srv, hosts=hosts) as dns:
        r = configure(env, dns)
    env.expect(r, 0)
    tried = re.findall(r"^mailfetch: _imaps\._tcp\.example\.test: connect to "
                       r"(\w)\.example\.test ", r.err, re.M)
    assert tried == ["a", "c", "b"], r.err
    assert keys(r.out)["host"] == "localhost"
    assert "(priority 20, weight 100)" in r.out


def srv_answer(rdata):
    """An answer to the query q with one SRV record of data rdata."""
    def answer(q):
        qid = q[:2]
        question = q[12:]
        hdr = qid + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
        rr = (b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 60, len(rdata)) +
              rdata)
        return hdr + question + rr
    return answer


def test_malformed_answer(env):
    # SRV data of 4 bytes: no port, no target.
    with RawDNS(srv_answer(b"\x00\x01\x00\x02")) as dns:
        r = configure(env, dns)
    env.expect(r, 65)
    assert r.out == ""
    assert r.err.startswith("mailfetch: _imaps._tcp.example.test: malformed "
                            "DNS answer (SRV record 1: 4 bytes"), r.err
    assert dns.queries, "mailfetch asked nothing"


def test_malformed_target_name(env):
    # The target's name runs past the end of the data.
    with RawDNS(srv_answer(b"\x00\x01\x00\x02\x03\xe1\x05mail")) as dns:
        r = configure(env, dns)
    env.expect(r, 65)
    assert "malformed DNS answer" in r.err, r.err


def test_usage(env):
    for args, want in ((["--configure", "not-an-address"], "local@domain"),
                       (["--configure", "a\n[x]@example.test"],
                        "local@domain"),
                       (["--configure", "a b@example.test"], "local@domain"),
                       (["--configure", ADDR, "--protocol", "smtp"],
                        "pop3 or imap"),
                       (["--configure", ADDR, "--check"], "--check"),
                       (["--configure", ADDR, "acct"], "no account"),
                       (["--protocol", "imap"], "--configure ADDRESS")):
        r = env.run(args)
        env.expect(r, 64)
        assert want in r.err, (args, r.err)


def test_starttls_not_offered_is_passed_over(env):
    # A server on a STARTTLS service that does not offer it is not
    # suggested with tls = none: it is passed over.
    from fakeserver import FakeServer
    d = dovecot()

    def caps(m):
        return b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + m.group(1) + \
            b" OK done\r\n"
    with FakeServer("respond", greeting=b"* OK plain only\r\n", rules=[
            (rb"^(\S+) CAPABILITY", caps),
            (rb"^(\S+) ", lambda m: m.group(1) + b" BAD no\r\n"),
    ]) as f:
        srv = [("_imap._tcp." + D, "plain.example.test", f.port, 0, 1),
               ("_imap._tcp." + D, "localhost", d.ports["imap"], 1, 1)]
        with Dnsmasq(srv=srv,
                     hosts=[("plain.example.test", "127.0.0.1")]) as dns:
            r = configure(env, dns)
    env.expect(r, 0)
    assert ("mailfetch: _imap._tcp.%s: plain.example.test port %d: server "
            "does not offer STARTTLS; passed over\n" % (D, f.port)) in r.err, \
        r.err
    kv = keys(r.out)
    assert (kv["host"], kv["port"], kv["tls"]) == (
        "localhost", str(d.ports["imap"]), "starttls"), r.out
    assert [x for x in f.lines if "STARTTLS" in x.upper()] == [], f.lines


def test_trace_of_the_visits(env):
    # -vv shows the visit: the greeting (with Dovecot's capabilities),
    # no login, LOGOUT.
    d = dovecot()
    srv = [("_imaps._tcp." + D, "localhost", d.ports["imaps"], 0, 1)]
    with Dnsmasq(srv=srv) as dns:
        r = configure(env, dns, "-vv")
    env.expect(r, 0)
    assert re.search(r"^mailfetch: localhost: < \* OK \[CAPABILITY ", r.err,
                     re.M), r.err
    assert not re.search(r"^mailfetch: localhost: > \S+ (LOGIN|AUTHENTICATE)",
                         r.err, re.M), r.err
    assert re.search(r"^mailfetch: localhost: > \S+ LOGOUT$", r.err, re.M)
