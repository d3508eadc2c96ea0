"""Valgrind (memcheck, full leak check) on one whole POP3 and one whole
IMAP fetch from the test Dovecot, over TLS, with keep = no: no memory
error and no leak, or the run fails.

Valgrind cannot run a binary built with ASan, so under `make check
SAN=1` the test builds and checks the plain binary (make all, SAN off,
into build/) instead.
"""

import os
import subprocess

A = "acct"
VALGRIND = "/usr/bin/valgrind"

MESSAGES = [
    b"Subject: v1\n\nfirst\n",
    b"Subject: v2\n\n" + b"long line " * 3000 + b"\n.\n..\n",
    b"Subject: v3 no final newline\n\nlast",
]


def plain_binary(env):
    if "san" not in os.path.basename(env.build):
        return env.mailfetch
    e = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        e.pop(k, None)
    p = subprocess.run(["make", "-C", env.root, "SAN=0", "BUILD=build",
                        "all"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=e, timeout=600)
    assert p.returncode == 0, "building the plain binary failed:\n%s" % (
        p.stdout.decode("utf-8", "replace")[-3000:])
    return os.path.join(env.root, "build", "mailfetch")


def fetch_under_valgrind(env, protocol):
    assert os.access(VALGRIND, os.X_OK), \
        "valgrind is missing (run: sh tests/deps.sh)"
    u = env.new_user()
    for m in MESSAGES:
        env.dovecot.deliver(u.name, m)
    cfg = env.config(env.account(A, protocol, "implicit", u, keep="no",
                                 timeout=60, connect_timeout=60),
                     name="fetchrc-" + protocol)
    log = env.path("valgrind-%s.log" % protocol)
    argv = [VALGRIND, "--leak-check=full", "--error-exitcode=99",
            "--errors-for-leak-kinds=definite,possible",
            "--track-fds=no", "--log-file=" + log, plain_binary(env),
            "-c", cfg]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env.run_env(), cwd=env.tmp, timeout=300)
    with open(log, "rb") as f:
        report = f.read().decode("utf-8", "replace")
    assert p.returncode == 0, "exit %d under valgrind:\n%s\n%s" % (
        p.returncode, p.stderr.decode("utf-8", "replace"), report[-6000:])
    assert "ERROR SUMMARY: 0 errors" in report, report[-6000:]
    out = p.stdout.decode()
    assert "%s: 3 fetched, 3 deleted, 0 left on server" % A in out, out
    assert env.dovecot.messages(u.name) == []
    got = []
    for sub in ("new", "cur"):
        d = env.path(A + "-Maildir", sub)
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                got.append(f.read())
    want = [m if m.endswith(b"\n") or protocol == "imap" else m + b"\n"
            for m in MESSAGES]
    assert sorted(got) == sorted(want)


def test_valgrind_pop3(env):
    fetch_under_valgrind(env, "pop3")


def test_valgrind_imap(env):
    fetch_under_valgrind(env, "imap")
