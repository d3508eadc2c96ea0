"""Secrets in memory (SPEC.md, "Guarantees, made precise — Secrets").

A mailfetch process is stopped right after its login, by a fake server
that holds the first command after it unanswered, and its whole memory is
read through /proc/PID/mem (the tests run as root, which may read a
non-dumpable process). Every copy of the secret made for the login must
be wiped by then: none at all with password_command, and at most the
one in the config with password. The process is not dumpable: its /proc
files belong to root even when it runs as another user, and its core
file size limit is 0.
"""

import hashlib
import hmac
import os
import pwd
import re
import secrets
import shutil
import subprocess
import time

import harness
from authserver import ImapSasl, PlainServer, Pop3Sasl, ScramServer
from fakeserver import FakeServer

A = "acct"
USER = "fred"


PAGE = os.sysconf("SC_PAGE_SIZE")


def present_runs(pagemap, lo, hi):
    """The runs [start, end) of pages of lo..hi that are in memory or
    swapped out (pagemap(5) bits 63 and 62): the rest was never touched
    and reads as zeros, so there is nothing to look for in it."""
    pagemap.seek(lo // PAGE * 8)
    data = pagemap.read((hi - lo) // PAGE * 8)
    runs, start = [], None
    for i in range(len(data) // 8):
        e = int.from_bytes(data[8 * i:8 * i + 8], "little")
        addr = lo + i * PAGE
        if e >> 62:
            if start is None:
                start = addr
        elif start is not None:
            runs.append((start, addr))
            start = None
    if start is not None:
        runs.append((start, hi))
    return runs


def read_memory(pid):
    """Every page of process pid's readable mappings that it has used, as
    a list of bytes (one per run of pages)."""
    chunks = []
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem, \
            open("/proc/%d/pagemap" % pid, "rb", 0) as pagemap:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            name = f[5] if len(f) > 5 else ""
            if "r" not in f[1] or name in ("[vvar]", "[vsyscall]"):
                continue
            # A sanitizer build reserves terabytes of shadow memory; the
            # program's own mappings (heap, stacks, libraries) are far
            # smaller.
            if hi - lo > 1 << 32:
                continue
            for a, b in present_runs(pagemap, lo, hi):
                try:
                    mem.seek(a)
                    chunks.append(mem.read(b - a))
                except (OSError, ValueError, OverflowError):
                    pass
    return chunks


def count(chunks, needle):
    return sum(c.count(needle) for c in chunks)


def scram_keys(hashname, password, salt=b"mailfetch-salt-16", it=4096):
    """SaltedPassword, ClientKey and ServerKey of RFC 5802 for the fake
    ScramServer's defaults: values derived from the password, each as
    good as it for a login."""
    sp = hashlib.pbkdf2_hmac(hashname, password.encode(), salt, it)
    return [sp, hmac.new(sp, b"Client Key", hashname).digest(),
            hmac.new(sp, b"Server Key", hashname).digest()]


def needles(pw, mech):
    """The secret and the forms of it a login may leave, as bytes."""
    out = [s.encode() for s in harness.secret_forms(pw, USER)]
    if mech.startswith("scram"):
        out += scram_keys("sha1" if mech == "scram-sha-1" else "sha256", pw)
    return out


def pop3_user_server():
    """USER/PASS and APOP, then hold STAT/UIDL/LIST unanswered."""
    return FakeServer("respond", greeting=b"+OK hi <1896.697170952@fake>\r\n",
                      rules=[
                          (rb"^CAPA$", b"+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
                          (rb"^(USER|PASS|APOP) ", b"+OK\r\n"),
                          (rb"^(STAT|UIDL|LIST)\b", None, "hold"),
                      ])


def imap_login_server():
    """IMAP LOGIN, then hold the first command after it."""
    return FakeServer("respond", greeting=b"* OK [CAPABILITY IMAP4rev1] hi"
                      b"\r\n", rules=[
                          (rb"^(\S+) CAPABILITY$",
                           lambda m: b"* CAPABILITY IMAP4rev1\r\n" +
                           m.group(1) + b" OK done\r\n"),
                          (rb"^(\S+) LOGIN ",
                           lambda m: m.group(1) + b" OK [CAPABILITY "
                           b"IMAP4rev1] in\r\n"),
                          (rb".", None, "hold"),
                      ])


class LoginServer:
    """SASL LOGIN: the user name, then the password, each asked for."""

    def __init__(self, user, password):
        self.want = [user.encode(), password.encode()]

    def start(self, ir):
        return ("cont", b"Username:") if ir is None else self.step(ir)

    def step(self, data):
        if data != self.want.pop(0):
            return ("fail", "[AUTH] Authentication failed.")
        return ("cont", b"Password:") if self.want else ("ok", None)


class CramServer:
    """CRAM-MD5 (RFC 2195): checks the HMAC-MD5 of its challenge."""

    def __init__(self, user, password):
        self.user, self.password = user, password
        self.challenge = b"<1896.697170952@fake>"

    def start(self, ir):
        # The session hands the first response to start as well.
        return ("cont", self.challenge) if ir is None else self.step(ir)

    def step(self, data):
        want = hmac.new(self.password.encode(), self.challenge,
                        "md5").hexdigest()
        if data != ("%s %s" % (self.user, want)).encode():
            return ("fail", "[AUTH] Authentication failed.")
        return ("ok", None)


def sasl_server(proto, mech, pw):
    name = mech.upper()

    def factory(m):
        if m == "LOGIN":
            return LoginServer(USER, pw)
        if m == "CRAM-MD5":
            return CramServer(USER, pw)
        if m.startswith("SCRAM-"):
            return ScramServer("sha1" if m == "SCRAM-SHA-1" else "sha256",
                               USER, pw)
        return PlainServer(USER, pw)
    fs = (Pop3Sasl if proto == "pop3" else ImapSasl)([name], factory)
    hold = (rb"^(STAT|UIDL|LIST)\b" if proto == "pop3" else
            rb"^\S+ (SELECT|EXAMINE|LIST|LSUB|STATUS|ENABLE|ID|NAMESPACE)\b")
    fs.server.rules.insert(0, (re.compile(hold), None, {"hold": True}))
    return fs, fs.server


def held(srv, proto):
    """The server holds the first command after the login."""
    rx = (r"^(STAT|UIDL|LIST)\b" if proto == "pop3" else
          r"^\S+ (SELECT|EXAMINE|LIST|LSUB|STATUS|ENABLE|ID|NAMESPACE|"
          r"NOOP|UID|FETCH|CAPABILITY)\b")
    logged_in = False
    for line in list(srv.lines):
        if re.match(r"^(PASS|APOP|AUTH)\b|^\S+ (LOGIN|AUTHENTICATE)\b",
                    line):
            logged_in = True
        elif logged_in and re.match(rx, line):
            return True
    return False


def stalled_memory(env, cfg, srv, proto, clean=None):
    """Start mailfetch on cfg, wait until srv holds it after its login,
    and return its memory; then end it. clean(mem): true once the memory
    is as wanted; it is read again until then, for up to 3 s: the
    command the server holds may have gone out behind the login, before
    mailfetch read the login's answer (issue 16), so seeing it does not
    mean that mailfetch is done with the login yet."""
    p = subprocess.Popen([env.mailfetch, "-c", cfg], env=env.run_env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 20
        while not held(srv, proto):
            if p.poll() is not None or time.monotonic() > end:
                out, err = p.communicate(timeout=10)
                raise AssertionError(
                    "mailfetch did not reach the command after its login"
                    " (exit %s)\n%s%s\nserver saw: %r" % (
                        p.returncode, out.decode(), err.decode(), srv.lines))
            time.sleep(0.01)
        mem = read_memory(p.pid)
        end = time.monotonic() + 3
        while clean is not None and not clean(mem) and \
                time.monotonic() < end:
            time.sleep(0.05)
            mem = read_memory(p.pid)
        return mem
    finally:
        p.kill()
        out, err = p.communicate(timeout=10)
        for s in env._all_secrets():
            assert s.encode() not in out + err, "a secret in the output"


CASES = [("pop3", "user"), ("pop3", "apop"), ("pop3", "plain"),
         ("pop3", "login"), ("pop3", "cram-md5"), ("pop3", "scram-sha-256"),
         ("imap", "login"), ("imap", "plain"), ("imap", "cram-md5"),
         ("imap", "scram-sha-1")]


def test_no_copy_of_the_secret_after_login(env):
    """password_command: no copy of the secret, nor of a form of it, is
    left after the login; password: the one in the config only."""
    failures = []
    for proto, mech in CASES:
        for source in ("password_command", "password"):
            pw = "Pw-mem-%s-Zq" % secrets.token_hex(8)
            env.secret(pw, USER)
            if proto == "pop3" and mech in ("user", "apop"):
                fs, srv = None, pop3_user_server()
            elif proto == "imap" and mech == "login":
                fs, srv = None, imap_login_server()
            else:
                fs, srv = sasl_server(proto, mech, pw)
            srv.start()
            env.on_cleanup(srv.stop)
            keys = {"auth": mech, "timeout": 30}
            last = ""
            if source == "password":
                # Last in the file: what inih read last stays in its
                # line buffer, unless wiped.
                last = "password = %s\n" % pw
            else:
                path = env.path("pw-%s-%s.sh" % (proto, mech))
                with open(path, "w") as f:
                    f.write("#!/bin/sh\nprintf '%%s\\n' '%s'\n" % pw)
                os.chmod(path, 0o700)
                keys["password_command"] = path
            cfg = env.config(env.account(A, proto, "none", USER, server=srv,
                                         **keys) + last,
                             name="rc-%s-%s-%s" % (proto, mech, source))
            allowed = 1 if source == "password" else 0

            def clean(mem):
                return count(mem, pw.encode()) <= allowed and not any(
                    count(mem, n) for n in needles(pw, mech)
                    if n != pw.encode())
            mem = stalled_memory(env, cfg, srv, proto, clean)
            srv.stop()
            raw = count(mem, pw.encode())
            derived = {n: count(mem, n) for n in needles(pw, mech)
                       if n != pw.encode()}
            if raw > allowed or any(derived.values()):
                failures.append("%s %s with %s: %d copies of the password "
                                "(at most %d allowed), derived forms %r" % (
                                    proto, mech, source, raw, allowed,
                                    [v for v in derived.values()]))
            if source == "password" and raw == 0:
                failures.append("%s %s: the config's password not found: "
                                "is the memory read at all?" % (proto, mech))
    assert not failures, "\n".join(failures)


def test_process_is_not_dumpable(env):
    """Run as an unprivileged user, a dumpable process owns its /proc
    files; a non-dumpable one's belong to root. And no core file: its
    RLIMIT_CORE is 0 even when started with a larger one."""
    nobody = pwd.getpwnam("nobody")
    home = env.path("nobody")
    os.mkdir(home, 0o700)
    os.chmod(env.tmp, 0o711)
    srv = FakeServer("silent").start()
    env.on_cleanup(srv.stop)
    cfg = os.path.join(home, "fetchrc")
    with open(cfg, "w") as f:
        f.write(env.account(A, "pop3", "none", USER, server=srv,
                            password="Pw-dump-unused", timeout=30,
                            maildir=os.path.join(home, "Maildir"),
                            state_file=os.path.join(home, "st")))
    os.chmod(cfg, 0o600)
    for p in (home, cfg):
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    e = env.run_env()
    e["HOME"] = home

    def as_nobody():
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20))
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)
    p = subprocess.Popen([env.mailfetch, "-c", cfg], env=e, cwd=home,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=as_nobody)
    try:
        # Connected and waiting for the greeting: past main's start.
        if not srv.wait_conns(1, timeout=20):
            p.kill()
            out, err = p.communicate(timeout=10)
            raise AssertionError("mailfetch did not connect\n%s%s" % (
                out.decode(), err.decode()))
        st = os.stat("/proc/%d/status" % p.pid)
        with open("/proc/%d/status" % p.pid) as f:
            uids = [ln.split()[1:] for ln in f if ln.startswith("Uid:")]
        assert uids == [[str(nobody.pw_uid)] * 4], uids
        assert st.st_uid == 0, (
            "/proc/PID/status belongs to uid %d: the process is dumpable"
            % st.st_uid)
        with open("/proc/%d/limits" % p.pid) as f:
            core = [ln for ln in f if ln.startswith("Max core file size")]
        assert core and core[0].split()[4:6] == ["0", "0"], core
    finally:
        p.kill()
        p.communicate(timeout=10)
        shutil.rmtree(home, ignore_errors=True)
