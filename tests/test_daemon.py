"""Staying connected (SPEC.md "Staying connected"): the on_new hook in
one-shot runs, and the daemon (-d): IDLE, polling, signals, backoff and
the lock, against the test Dovecot."""

import os
import re
import signal
import subprocess
import time

import harness
from test_imap import append, imap_client
from test_pop3 import big_message, maildir_files, maildir_messages

A = "acct"


def wait_for(what, cond, timeout, step=0.05):
    """Wait until cond() is true; fail naming what after timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("%s: not within %ss" % (what, timeout))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


# --- on_new ---------------------------------------------------------------

def hook_setup(env, hook, n=2, protocol="imap", **keys):
    u = env.new_user()
    for i in range(n):
        env.dovecot.deliver(u.name, b"Subject: h%d\n\nhook %d\n" % (i, i))
    tls = "implicit"
    cfg = env.config(env.account(A, protocol, tls, u, on_new=hook,
                                 **keys))
    return u, cfg


def test_on_new_runs_once_with_its_environment(env):
    out = env.path("hook.out")
    hook = ('printf "%%s|%%s|%%s|%%s\\n" "$MAILFETCH_ACCOUNT" '
            '"$MAILFETCH_FETCHED" "$MAILFETCH_MAILDIR" "$(cat)" >> %s'
            % out)
    u, cfg = hook_setup(env, hook, n=3)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert "3 fetched" in r.out, r.out
    with open(out) as f:
        lines = f.read().splitlines()
    # stdin is /dev/null: $(cat) is empty.
    assert lines == ["%s|3|%s|" % (A, env.path(A + "-Maildir"))], lines
    # Nothing new: the hook does not run.
    env.expect(env.run(["-c", cfg]), 0)
    with open(out) as f:
        assert f.read().splitlines() == lines
    # A dry run and --check never run it.
    env.dovecot.deliver(u.name, b"Subject: later\n\nx\n")
    env.expect(env.run(["-n", "-c", cfg]), 0)
    env.expect(env.run(["--check", "-c", cfg]), 0)
    with open(out) as f:
        assert f.read().splitlines() == lines
    r = env.expect(env.run(["-c", cfg]), 0)
    with open(out) as f:
        assert f.read().splitlines() == lines + [
            "%s|1|%s|" % (A, env.path(A + "-Maildir"))]


def test_on_new_pop3(env):
    out = env.path("hook.out")
    u, cfg = hook_setup(env, "echo $MAILFETCH_FETCHED >> %s" % out, n=2,
                        protocol="pop3")
    env.expect(env.run(["-c", cfg]), 0)
    with open(out) as f:
        assert f.read() == "2\n"


def test_on_new_failure_changes_nothing(env):
    u, cfg = hook_setup(env, "echo hook-said-this; exit 3", n=2, keep="no")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert "2 fetched, 2 deleted" in r.out, r.out
    assert re.search(r"^%s: on_new command .* exited with status 3$" % A,
                     r.err, re.M), r.err
    assert len(maildir_files(env.path(A + "-Maildir"))) == 2
    assert env.dovecot.message_files(u.name) == []


def test_on_new_hanging_is_killed_with_its_group(env):
    pidfile = env.path("grandchild.pid")
    # The shell starts a grandchild and waits for it: both must go.
    hook = "sleep 60 & echo $! > %s; wait" % pidfile
    u, cfg = hook_setup(env, hook, n=1, timeout=2)
    r = env.expect(env.run(["-c", cfg], timeout=30), 0)
    assert r.elapsed < 20, r.elapsed
    assert re.search(r"^%s: on_new command .* did not finish within 2 "
                     r"seconds and was killed$" % A, r.err, re.M), r.err
    assert "1 fetched" in r.out
    with open(pidfile) as f:
        pid = int(f.read())
    wait_for("the hook's grandchild gone", lambda: not alive(pid), 5)


# --- the daemon -----------------------------------------------------------

class Daemon:
    """mailfetch -d running in the background, its output in files."""

    def __init__(self, env, args, extra_env=None):
        self.env = env
        self.outp = env.path("daemon.%d.out" % len(env.runs))
        self.errp = env.path("daemon.%d.err" % len(env.runs))
        e = env.run_env()
        # Testing aids (mailfetch(1), ENVIRONMENT): short retry delays.
        e["MAILFETCH_MIN_INTERVAL"] = "1"
        e.update(extra_env or {})
        with open(self.outp, "wb") as o, open(self.errp, "wb") as er:
            self.p = subprocess.Popen(
                [env.mailfetch, "-d"] + [str(a) for a in args],
                stdin=subprocess.DEVNULL, stdout=o, stderr=er, env=e,
                cwd=env.tmp)
        env.on_cleanup(self.kill)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def out(self):
        with open(self.outp, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def err(self):
        with open(self.errp, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_out(self, pattern, timeout=20, count=1, where="out"):
        """Wait until pattern (a regex) matches count lines."""
        def found():
            if self.p.poll() is not None:
                raise AssertionError("the daemon ended (%s): %s%s" % (
                    self.p.returncode, self.out(), self.err()))
            text = self.out() if where == "out" else self.err()
            return len(re.findall(pattern, text, re.M)) >= count
        try:
            wait_for("daemon %s: %r" % (where, pattern), found, timeout)
        except AssertionError as e:
            raise AssertionError("%s\n--- stdout:\n%s--- stderr:\n%s" % (
                e, self.out(), self.err()))

    def wait_err(self, pattern, timeout=20, count=1):
        self.wait_out(pattern, timeout, count, where="err")

    def signal(self, sig):
        self.p.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM; the exit status."""
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("the daemon did not stop within %ss"
                                 % timeout)


def maildir_count(path):
    return len(maildir_files(path))


def test_daemon_idle_delivers_within_seconds(env):
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, b"Subject: before\n\nalready there\n")
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 poll_interval="1h"))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    dm.wait_out(r"^%s: 1 fetched, 0 deleted, 1 left on server$" % A)
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    c = imap_client(d, u)
    try:
        for i in range(3):
            t0 = time.monotonic()
            append(c, "INBOX", b"Subject: idle %d\n\nover IDLE\n" % i)
            wait_for("message %d in the Maildir" % i,
                     lambda: maildir_count(md) == 2 + i, 10, step=0.01)
            took = time.monotonic() - t0
            assert took < 10, took
    finally:
        c.logout()
    assert dm.stop() == 0
    got = sorted(maildir_messages(md))
    assert got == sorted([b"Subject: before\n\nalready there\n"] +
                         [b"Subject: idle %d\n\nover IDLE\n" % i
                          for i in range(3)]), got
    # Only runs that did something print a line.
    assert "0 fetched" not in dm.out(), dm.out()
    assert dm.err() == "", dm.err()
