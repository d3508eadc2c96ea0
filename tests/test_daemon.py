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
