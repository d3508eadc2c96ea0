"""Staying connected when the network is not (SPEC.md "Staying
connected", issue 15): the daemon's watcher goes through
tests/faultproxy.py to the test Dovecot, and the proxy's blackhole()
cuts it off without closing it, as a network that went away does.

- A dead connection: at the renewal, DONE goes unanswered; within
  `timeout` the daemon says so, connects again and fetches what came
  meanwhile.
- A frozen process (SIGSTOP longer than the renewal time, as a laptop
  whose lid was shut): after SIGCONT it finds the dead connection within
  `timeout`, not a renewal time later.
- A real suspend, where CLOCK_BOOTTIME runs ahead of CLOCK_MONOTONIC:
  tests/clockshim.c (built by `make unit`, preloaded) moves
  CLOCK_BOOTTIME; with a renewal time of 10 minutes the watcher is
  renewed (DONE, NOOP, IDLE seen by the proxy) within seconds of the
  jump, and a dead one is replaced and its mail fetched. An account
  waiting out the delay after a failure is tried again on waking.
"""

import os
import re
import signal
import subprocess
import time

from faultproxy import FaultProxy
from test_daemon import Daemon, maildir_count, wait_for
from test_imap import append, imap_client

A = "acct"
TIMEOUT = 2  # the account's timeout: how long an unanswered DONE waits
DEAD = r"^%s: waiting for mail: .*no data from server for %d seconds" % (
    A, TIMEOUT)
WATCHING = r"^%s: waiting for mail in INBOX with IDLE$" % A
# Daemon sets the testing aid MAILFETCH_MIN_INTERVAL to 1 s; this puts
# the real first delay after a failure (30 s) back.
REAL_BACKOFF = {"MAILFETCH_MIN_INTERVAL": "30"}


def watched(env, renew, tls="implicit", record=False, extra_env=None):
    """A user with one message, a proxy in front of the test Dovecot and
    a daemon (-v) whose account goes through it, its first run done and
    its watcher in IDLE, the watcher's the only connection open.
    Returns (user, proxy, daemon, maildir)."""
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, b"Subject: first\n\nbefore the daemon\n")
    px = FaultProxy(d.host, d.ports["imaps" if tls == "implicit" else "imap"],
                    record=record).start()
    env.on_cleanup(px.stop)
    keys = {"tls_ca_file": d.ca_file} if tls == "implicit" else {}
    cfg = env.config(env.account(A, "imap", tls, u, server=px,
                                 poll_interval="1h", timeout=TIMEOUT,
                                 **keys))
    md = env.path(A + "-Maildir")
    e = {"MAILFETCH_IDLE_RENEW": str(renew)}
    e.update(extra_env or {})
    dm = Daemon(env, ["-v", "-c", cfg], extra_env=e)
    dm.wait_out(WATCHING)
    dm.wait_out(r"^%s: 1 fetched" % A)
    # The run has logged out: only the watcher is left.
    wait_for("the run's connection closed", lambda: px.open_conns() == 1,
             20)
    assert maildir_count(md) == 1
    return u, px, dm, md


def keepalive_timer(px):
    """The timer of the one client socket connected to the proxy, as
    ss(8) shows it: "keepalive,1min59sec,0" when TCP keepalive is on."""
    p = subprocess.run(["ss", "-tnoH", "state", "established",
                        "dport = :%d" % px.port], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    lines = p.stdout.decode().splitlines()
    assert p.returncode == 0 and len(lines) == 1, lines
    m = re.search(r"timer:\(([^)]*)\)", lines[0])
    return m.group(1) if m else ""


def assert_came_back(env, u, dm, md, n):
    """The daemon logged the dead watcher once, watches again with a new
    one, and that one works: mail appended now arrives over it."""
    assert len(re.findall(DEAD, dm.err(), re.M)) == 1, dm.err()
    dm.wait_out(WATCHING, count=2)
    c = imap_client(env.dovecot, u)
    try:
        append(c, "INBOX", b"Subject: after\n\nover the new watcher\n")
    finally:
        c.logout()
    wait_for("mail over the new watcher", lambda: maildir_count(md) == n + 1,
             10, step=0.01)
    assert dm.stop() == 0


def test_daemon_notices_a_dead_connection(env):
    renew = 3
    u, px, dm, md = watched(env, renew)
    # TCP keepalive is on (probes after 2 minutes of silence): what finds
    # a peer gone between renewals.
    t = keepalive_timer(px)
    assert re.fullmatch(r"keepalive,(1min\d+sec|2min),0", t), t
    assert px.blackhole() == 1
    t0 = time.monotonic()
    env.dovecot.deliver(u.name, b"Subject: second\n\nwhile cut off\n")
    # The EXISTS is lost in the blackhole: only noticing the dead
    # connection at the renewal (DONE unanswered within the timeout),
    # connecting again and running brings the message.
    wait_for("the message after the reconnect",
             lambda: maildir_count(md) == 2, renew + TIMEOUT + 10, step=0.01)
    took = time.monotonic() - t0
    dm.wait_err(DEAD)
    print("delivered %.1f s after the blackhole" % took)
    assert_came_back(env, u, dm, md, 2)


def test_daemon_reconnects_after_a_freeze(env):
    # A renewal time well above the bound after SIGCONT: a daemon that
    # would wait for another renewal period after waking fails. The
    # delay after a failure is the real one (30 s): a watcher that had
    # worked for a while is opened again at once, not after it.
    renew = 20
    u, px, dm, md = watched(env, renew, extra_env=REAL_BACKOFF)
    dm.signal(signal.SIGSTOP)
    try:
        assert px.blackhole() == 1
        env.dovecot.deliver(u.name, b"Subject: second\n\nwhile frozen\n")
        # Frozen for half as long again as the renewal time, as a
        # suspended laptop: the renewal is overdue when it wakes.
        time.sleep(renew * 1.5)
    finally:
        dm.signal(signal.SIGCONT)
    t0 = time.monotonic()
    wait_for("the message after waking", lambda: maildir_count(md) == 2,
             TIMEOUT + 12, step=0.01)
    print("delivered %.1f s after SIGCONT" % (time.monotonic() - t0))
    dm.wait_err(DEAD)
    assert_came_back(env, u, dm, md, 2)


def clockshim(env):
    """The environment that preloads tests/clockshim.c, and the file
    whose number of seconds it adds to CLOCK_BOOTTIME."""
    so = os.path.join(env.build, "clockshim.so")
    assert os.path.exists(so), "%s missing: `make unit` builds it" % so
    path = env.path("asleep")
    set_asleep(path, 0)
    e = {"LD_PRELOAD": so, "MAILFETCH_TEST_BOOTTIME": path}
    if "ASAN_OPTIONS" in os.environ:
        # The shim is built without ASan: let it come first.
        e["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + \
            ":verify_asan_link_order=0"
    return e, path


def set_asleep(path, seconds):
    with open(path + ".new", "w") as f:
        f.write("%d\n" % seconds)
    os.rename(path + ".new", path)


def test_daemon_renews_at_once_after_a_suspend(env):
    e, asleep = clockshim(env)
    # Renewal every 10 minutes: only the wake path renews in time. The
    # jumps (1 and 2 minutes) stay far below it and below poll_interval
    # (1h), so neither the renewal nor a run is due by the clock alone.
    e.update(REAL_BACKOFF)
    u, px, dm, md = watched(env, 600, tls="none", record=True,
                            extra_env=e)
    watcher = px.streams[0]["c2s"]
    assert watcher.endswith(b" IDLE\r\n"), bytes(watcher)
    conns = px.conns
    sent = len(watcher)
    time.sleep(1)
    assert len(watcher) == sent, "the watcher spoke before the jump"
    # Asleep for a minute: the watcher is renewed on its connection.
    set_asleep(asleep, 60)
    t0 = time.monotonic()
    wait_for("DONE, NOOP, IDLE after the jump",
             lambda: re.fullmatch(rb"DONE\r\n\S+ NOOP\r\n\S+ IDLE\r\n",
                                  bytes(watcher[sent:])), 15, step=0.01)
    print("renewed %.1f s after the jump" % (time.monotonic() - t0))
    assert px.conns == conns and dm.err() == "", dm.err()
    dm.wait_out(r"^mailfetch: the system was asleep for "
                r"1m: checking the connections$")
    # Asleep again, and the network gone meanwhile: the dead watcher is
    # found within the timeout, replaced, and the mail fetched.
    assert px.blackhole() == 1
    env.dovecot.deliver(u.name, b"Subject: second\n\nwhile asleep\n")
    set_asleep(asleep, 180)
    wait_for("the message after the wake", lambda: maildir_count(md) == 2,
             TIMEOUT + 15, step=0.01)
    dm.wait_err(DEAD)
    assert_came_back(env, u, dm, md, 2)


def test_daemon_retries_at_once_after_a_suspend(env):
    """An account waiting out the delay after a failure when the system
    sleeps is tried again on waking, not at the end of the delay: the
    network is likely another one now. The first delay is the real one
    (30 s); the jump (5 s) leaves 25 s of it."""
    e, asleep = clockshim(env)
    e.update(REAL_BACKOFF)
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, b"Subject: first\n\nafter the wake\n")
    px = FaultProxy(d.host, d.ports["imaps"]).start()
    env.on_cleanup(px.stop)
    # Every connection is closed before the server's greeting.
    px.set_fault("drop", "s2c", 0)
    cfg = env.config(env.account(A, "imap", "implicit", u, server=px,
                                 tls_ca_file=d.ca_file, poll_interval="1h",
                                 timeout=TIMEOUT))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg], extra_env=e)
    dm.wait_err(r"^%s: trying again in 30s$" % A)
    px.set_fault(None)
    set_asleep(asleep, 5)
    t0 = time.monotonic()
    dm.wait_out(r"^mailfetch: the system was asleep for 5s: checking the "
                r"connections$", timeout=10)
    # Within the few seconds the daemon takes to look at the clocks,
    # far from the 25 s left of the delay.
    dm.wait_out(WATCHING, timeout=18)
    print("watching %.1f s after the jump" % (time.monotonic() - t0))
    assert time.monotonic() - t0 < 18
    wait_for("the message", lambda: maildir_count(md) == 1, 10)
    assert len(re.findall(r"trying again", dm.err())) == 1, dm.err()
    assert dm.stop() == 0
