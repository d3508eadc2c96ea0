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

    count = 0

    def __init__(self, env, args, extra_env=None):
        self.env = env
        Daemon.count += 1
        self.outp = env.path("daemon.%d.out" % Daemon.count)
        self.errp = env.path("daemon.%d.err" % Daemon.count)
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


def test_daemon_mail_during_the_run_is_not_left_for_the_poll(env):
    # A message that comes while the run's hook sleeps (after its
    # SELECT) must not wait for poll_interval (1h): the watcher, not
    # yet in IDLE or already in it, must see it.
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, b"Subject: first\n\nstarts the hook\n")
    mark = env.path("hook.started")
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 poll_interval="1h",
                                 on_new="touch %s; sleep 3" % mark))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    wait_for("the hook", lambda: os.path.exists(mark), 30, step=0.01)
    d.deliver(u.name, b"Subject: second\n\nduring the hook\n")
    t0 = time.monotonic()
    wait_for("the second message", lambda: maildir_count(md) == 2, 20)
    assert time.monotonic() - t0 < 10
    assert dm.stop() == 0


def test_daemon_idle_delivers_within_seconds(env):
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, b"Subject: before\n\nalready there\n")
    # keep = no: the watcher also sees the runs' expunges go by.
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 poll_interval="1h", keep="no"))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    dm.wait_out(r"^%s: 1 fetched, 1 deleted, 0 left on server$" % A)
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
    assert d.messages(u.name) == []


def test_daemon_idle_outlasts_the_reply_deadline(env):
    """SPEC "Time": a wait in IDLE has no reply deadline. With timeout =
    2, the watcher waits 7 s in IDLE without an error, and mail that comes
    then is fetched over that same IDLE (one "waiting" line, not a new
    watcher after a failure)."""
    d = env.dovecot
    u = env.new_user()
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 poll_interval="1h", timeout="2"))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    time.sleep(7)
    c = imap_client(d, u)
    try:
        append(c, "INBOX", b"Subject: late\n\nafter a long wait\n")
    finally:
        c.logout()
    wait_for("the message in the Maildir", lambda: maildir_count(md) == 1,
             10, step=0.01)
    assert dm.stop() == 0
    assert dm.err() == "", dm.err()
    assert dm.out().count("waiting for mail in INBOX with IDLE") == 1, \
        dm.out()


def test_daemon_pop3_polled_at_poll_interval(env):
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, b"Subject: p0\n\nfirst\n")
    cfg = env.config(env.account(A, "pop3", "implicit", u,
                                 poll_interval="2s"))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-c", cfg])
    dm.wait_out(r"^%s: 1 fetched" % A)
    for i in range(1, 3):
        d.deliver(u.name, b"Subject: p%d\n\nnext\n" % i)
        wait_for("message %d polled" % i,
                 lambda: maildir_count(md) == 1 + i, 15)
    assert dm.stop() == 0
    assert dm.err() == ""


def test_daemon_sigusr1_polls_now(env):
    d = env.dovecot
    u = env.new_user()
    cfg = env.config(env.account(A, "pop3", "implicit", u,
                                 poll_interval="1h") +
                     env.account("other", "imap", "implicit", u,
                                 idle="no", poll_interval="1h"))
    md, md2 = env.path(A + "-Maildir"), env.path("other-Maildir")
    d.deliver(u.name, b"Subject: u0\n\nfirst\n", cur=True)
    dm = Daemon(env, ["-c", cfg])
    dm.wait_out(r"^%s: 1 fetched" % A)
    dm.wait_out(r"^other: 1 fetched")
    d.deliver(u.name, b"Subject: u1\n\nsignal me\n", cur=True)
    # Nothing polls for an hour: without the signal, nothing comes.
    time.sleep(3)
    assert maildir_count(md) == 1 and maildir_count(md2) == 1
    dm.signal(signal.SIGUSR1)
    wait_for("both accounts polled", lambda: maildir_count(md) == 2 and
             maildir_count(md2) == 2, 15)
    assert dm.stop() == 0


def test_daemon_sighup_reads_the_config_again(env):
    d = env.dovecot
    u, v = env.new_user(), env.new_user()
    one = env.account(A, "imap", "implicit", u, poll_interval="1h")
    two = env.account("second", "imap", "implicit", v, poll_interval="1h")
    cfg = env.config(one)
    md, md2 = env.path(A + "-Maildir"), env.path("second-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    d.deliver(v.name, b"Subject: s1\n\nfor the second\n")
    # A valid new config: the new account is served.
    env.config(one + two)
    dm.signal(signal.SIGHUP)
    wait_for("second account fetched", lambda: maildir_count(md2) == 1, 15)
    dm.wait_out(r"^second: waiting for mail in INBOX with IDLE$")
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A, count=2)
    # An invalid one: reported, and the old one stays in force.
    env.config(one + two + "[third]\nbogus_key = 1\n")
    dm.signal(signal.SIGHUP)
    dm.wait_err(r"^mailfetch: .*fetchrc:\d+: .*bogus_key.*; the "
                r"configuration in force stays$")
    c = imap_client(d, v)
    try:
        append(c, "INBOX", b"Subject: s2\n\nstill served\n")
    finally:
        c.logout()
    wait_for("second account over IDLE", lambda: maildir_count(md2) == 2,
             10)
    assert dm.stop() == 0
    assert maildir_count(md) == 0


def test_daemon_sigterm_during_a_big_fetch(env):
    d = env.dovecot
    u = env.new_user()
    big = big_message(20)
    small = [b"Subject: s%d\n\nsmall %d\n" % (i, i) for i in range(30)]
    d.deliver(u.name, big)
    for m in small:
        d.deliver(u.name, m)
    cfg = env.config(env.account(A, "imap", "implicit", u, keep="no",
                                 poll_interval="1h"))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-c", cfg])
    # The big message is being written: stop now.
    wait_for("the big message begun", lambda: os.path.isdir(
        os.path.join(md, "tmp")) and len(os.listdir(
            os.path.join(md, "tmp"))) > 0, 30, step=0.001)
    dm.signal(signal.SIGTERM)
    assert dm.p.wait(timeout=60) == 0, dm.err()
    assert dm.err() == "", dm.err()
    got = maildir_messages(md)
    # The message being written was finished and recorded.
    assert big in got
    assert len(got) < 1 + len(small), "the stop came too late to test"
    assert os.listdir(os.path.join(md, "tmp")) == []
    # Nothing is both lost and nothing twice: the rest is on the server.
    on_server = d.messages(u.name)
    assert sorted(got + [m for m in on_server if m not in got]) == \
        sorted([big] + small)
    # The next start fetches the rest, nothing twice.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert sorted(maildir_messages(md)) == sorted([big] + small)
    assert d.messages(u.name) == []


def test_daemon_sigterm_at_many_points(env):
    d = env.dovecot
    msgs = [b"Subject: m%02d\n\n" % i + b"line\n" * (i * 300)
            for i in range(40)]
    points = 0
    cases = [("imap", n) for n in (1, 3, 7, 12, 20, 30)] + \
        [("pop3", n) for n in (1, 5, 15, 30)]
    for proto, n in cases:
        u = env.new_user()
        for m in msgs:
            d.deliver(u.name, m)
        name = "%s%d" % (proto, n)
        md = env.path(name + "-Maildir")
        cfg = env.config(env.account(name, proto, "implicit", u, keep="no",
                                     poll_interval="1h"),
                         name="fetchrc-" + name)
        dm = Daemon(env, ["-c", cfg])

        def begun():
            c = 0
            for sub in ("tmp", "new", "cur"):
                try:
                    c += len(os.listdir(os.path.join(md, sub)))
                except FileNotFoundError:
                    pass
            return c >= n
        wait_for("progress", begun, 30, step=0.0005)
        dm.signal(signal.SIGTERM)
        rc = dm.p.wait(timeout=30)
        assert rc == 0, (rc, dm.err())
        got = maildir_messages(md)
        assert len(got) == len(set(got)), "a message stored twice"
        on_server = d.messages(u.name)
        assert sorted(set(got) | set(on_server)) == sorted(msgs), \
            "a message lost"
        # The next start fetches the rest, nothing twice.
        env.expect(env.run(["-c", cfg]), 0)
        assert sorted(maildir_messages(md)) == sorted(msgs)
        assert d.messages(u.name) == []
        points += 1
    print("stopped at %d points" % points)


def test_daemon_holds_the_lock_while_it_runs(env):
    d = env.dovecot
    u = env.new_user()
    d.deliver(u.name, big_message(20))
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 poll_interval="1h"))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-c", cfg])
    wait_for("the daemon's run begun", lambda: os.path.isdir(
        os.path.join(md, "tmp")) and len(os.listdir(
            os.path.join(md, "tmp"))) > 0, 30, step=0.001)
    r = env.run(["-c", cfg])
    print("cron run: %s" % r.rc)
    # Unless the daemon's run ended first, the cron run was locked out.
    if maildir_count(md) == 0 or r.rc == 75:
        env.expect(r, 75)
        assert "lock" in r.err, r.err
    dm.wait_out(r"^%s: 1 fetched" % A, timeout=60)
    assert dm.stop() == 0
    assert maildir_count(md) == 1


def test_daemon_server_restart_backs_off_and_comes_back(env):
    d = harness.Dovecot().start()
    env.on_cleanup(d.stop)
    u = harness.User("rita", "pw-rita-9Xq")
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    d.deliver(u.name, b"Subject: r0\n\nbefore\n")
    cfg = env.config(
        "[%s]\nprotocol = imap\nhost = %s\nport = %d\ntls_ca_file = %s\n"
        "user = %s\npassword = %s\nmaildir = %s\nstate_file = %s\n"
        "poll_interval = 1h\ntimeout = 5\nconnect_timeout = 5\n" % (
            A, d.host, d.ports["imaps"], d.ca_file, u.name, u.password,
            env.path(A + "-Maildir"), env.path("state", A + ".state")))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    # The watcher opens first, then the run.
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    dm.wait_out(r"^%s: 1 fetched" % A)
    assert maildir_count(md) == 1
    d.pause()
    # Dovecot's imap process of the IDLE session may outlive its
    # master: poll now. The runs fail and back off, waiting longer each
    # time (1 s, 2 s, ... with the testing aid).
    dm.signal(signal.SIGUSR1)
    dm.wait_err(r"^%s: trying again in 1s$" % A)
    dm.wait_err(r"^%s: trying again in 2s$" % A)
    # Each failure is logged: what failed, where.
    assert len(re.findall(r"^%s: .*127\.0\.0\.1 port %d: " % (
        A, d.ports["imaps"]), dm.err(), re.M)) >= 2, dm.err()
    d.resume()
    d.deliver(u.name, b"Subject: r1\n\nafter\n")
    wait_for("the daemon came back", lambda: maildir_count(md) == 2, 30)
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A, count=2)
    d.deliver(u.name, b"Subject: r2\n\nover IDLE again\n")
    wait_for("IDLE again", lambda: maildir_count(md) == 3, 10)
    assert dm.stop() == 0


def fake_imap(has_idle=True, answer_done=True, close_idle=False,
              has_notify=False, idle_data=b""):
    """A scripted IMAP server of one empty INBOX; with answer_done False
    it never answers DONE (a connection that died silently); with
    close_idle it says BYE and closes right after the start of IDLE;
    idle_data follows each "+" to IDLE."""
    from fakeserver import FakeServer
    caps = b"IMAP4rev1 AUTH=PLAIN" + (b" IDLE" if has_idle else b"") + \
        (b" NOTIFY" if has_notify else b"")

    idle = {}

    def tagged(text):
        return lambda m: m.group(1) + b" " + text + b"\r\n"

    def start_idle(m):
        idle["tag"] = m.group(1)
        return b"+ idling\r\n" + idle_data
    rules = [
        (rb"^(\S+) CAPABILITY", lambda m: b"* CAPABILITY " + caps +
         b"\r\n" + m.group(1) + b" OK done\r\n"),
        (rb"^(\S+) (LOGIN|AUTHENTICATE)", tagged(b"OK logged in")),
        (rb"^(\S+) LIST", lambda m: b'* LIST () "/" INBOX\r\n' +
         m.group(1) + b" OK done\r\n"),
        (rb"^(\S+) UID FETCH", tagged(b"OK done")),
        (rb"^(\S+) (SELECT|EXAMINE)", lambda m:
         b"* 0 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
         b"* OK [UIDNEXT 1] n\r\n" + m.group(1) + b" OK done\r\n"),
        (rb"^(\S+) NOOP", tagged(b"OK noop")),
        # The pre-check of several folders: refused, each is opened.
        (rb"^(\S+) STATUS", tagged(b"NO no status here")),
        (rb"^(\S+) NOTIFY", tagged(b"OK notify")),
        (rb"^(\S+) IDLE", start_idle) if not close_idle else
        (rb"^(\S+) IDLE", b"+ idling\r\n* BYE going away\r\n", "close"),
        (rb"^(\S+) LOGOUT", lambda m: b"* BYE bye\r\n" + m.group(1) +
         b" OK bye\r\n"),
    ]
    if answer_done:
        rules.append((rb"^DONE", lambda m: idle["tag"] + b" OK done\r\n"))
    return FakeServer("respond", greeting=b"* OK fake ready\r\n",
                      rules=rules, max_conns=1 << 20).start()


def test_daemon_renews_idle_and_notices_a_dead_connection(env):
    srv = fake_imap(answer_done=False)
    env.on_cleanup(srv.stop)
    cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                 password="pw-fred-1Qa", timeout=2,
                                 poll_interval="1h"))
    env.secret("pw-fred-1Qa", "fred")
    t0 = time.monotonic()
    dm = Daemon(env, ["-v", "-c", cfg],
                extra_env={"MAILFETCH_IDLE_RENEW": "2"})
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    # At the renewal, DONE goes unanswered: within the timeout (2 s)
    # the daemon gives the connection up, and connects again.
    dm.wait_err(r"^%s: waiting for mail: .*no data from server for 2 "
                r"seconds" % A, timeout=20)
    assert time.monotonic() - t0 < 20
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A, count=2)
    assert dm.stop() == 0
    assert "DONE" in srv.lines


def test_daemon_untagged_cap_counts_from_each_idle(env):
    # 20 MB of untagged data after each "+" to IDLE: four renewals
    # bring the one watcher session past 64 MB, each renewal period
    # stays far below it. The watcher keeps its connection.
    mb = b"* XFLOOD {1000000}\r\n" + b"f" * 1000000 + b"\r\n"
    srv = fake_imap(idle_data=mb * 20)
    env.on_cleanup(srv.stop)
    cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                 password="pw-fred-1Qa", timeout=30,
                                 poll_interval="1h"))
    env.secret("pw-fred-1Qa", "fred")
    dm = Daemon(env, ["-v", "-c", cfg],
                extra_env={"MAILFETCH_IDLE_RENEW": "1"})
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    wait_for("five IDLE commands", lambda: sum(
        1 for x in list(srv.lines) if x.endswith(" IDLE")) >= 5, 120)
    assert "64 MB" not in dm.err(), dm.err()
    assert len(re.findall(r"^%s: waiting for mail in INBOX with IDLE$" % A,
                          dm.out(), re.M)) == 1, dm.out()
    assert dm.stop() == 0
    assert "64 MB" not in dm.err(), dm.err()


def test_daemon_renews_idle(env):
    srv = fake_imap()
    env.on_cleanup(srv.stop)
    cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                 password="pw-fred-1Qa", timeout=5,
                                 poll_interval="1h"))
    env.secret("pw-fred-1Qa", "fred")
    dm = Daemon(env, ["-v", "-c", cfg],
                extra_env={"MAILFETCH_IDLE_RENEW": "1"})
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    wait_for("three renewals", lambda: srv.lines.count("DONE") >= 3, 20)
    # Each renewal: DONE, then NOOP, then IDLE again on one connection.
    seq = [x.split(" ", 1)[-1] for x in srv.lines
           if x == "DONE" or x.endswith((" NOOP", " IDLE"))]
    assert seq[-7:-1] == ["DONE", "NOOP", "IDLE"] * 2 or \
        seq[-6:] == ["DONE", "NOOP", "IDLE"] * 2, seq
    assert dm.stop() == 0
    assert dm.err() == "", dm.err()


def test_daemon_polls_a_server_without_idle(env):
    srv = fake_imap(has_idle=False)
    env.on_cleanup(srv.stop)
    cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                 password="pw-fred-1Qa",
                                 poll_interval="2s"))
    env.secret("pw-fred-1Qa", "fred")
    dm = Daemon(env, ["-c", cfg])
    dm.wait_out(r"^%s: server does not offer IDLE; polling every 2s$" % A)
    # Polled: a new session (and EXAMINE/SELECT) every poll_interval.
    wait_for("three polls", lambda: len([
        x for x in srv.lines
        if re.match(r"\S+ (LOGIN|AUTHENTICATE) ", x)]) >= 4, 20)
    assert dm.stop() == 0
    assert not any(x.endswith(" IDLE") for x in srv.lines)


def test_daemon_lost_idle_connection_is_logged_and_retried(env):
    srv = fake_imap(close_idle=True)
    env.on_cleanup(srv.stop)
    cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                 password="pw-fred-1Qa", poll_interval="1h"))
    env.secret("pw-fred-1Qa", "fred")
    dm = Daemon(env, ["-c", cfg])
    dm.wait_err(r'^%s: waiting for mail: server closed the connection: '
                r'"going away"' % A, count=2)
    dm.wait_err(r"^%s: trying again in 1s$" % A)
    assert dm.stop() == 0


def test_daemon_config_errors(env):
    cfg = env.config("[a]\nprotocol = imap\nhost = h\nuser = u\n"
                     "maildir = /tmp/x\npassword = p\npoll_interval = 10s\n")
    r = env.expect(env.run(["-d", "-c", cfg], timeout=10), 78)
    assert re.search(r"fetchrc:7: poll_interval: .*at least 30s", r.err), \
        r.err
    r = env.expect(env.run(["-d", "-c", env.path("missing")], timeout=10),
                   78)
    env.expect(env.run(["-d", "-n", "-c", cfg], timeout=10), 64)
    env.expect(env.run(["-d", "--check", "-c", cfg], timeout=10), 64)


# --- systemd units ------------------------------------------------------

def analyze_verify(env, prefix, units):
    """systemd-analyze verify of user units: works without a running
    systemd (as in a container) given a runtime directory of our own;
    man pages of Documentation= are looked up in prefix's tree."""
    rt = env.path("runtime")
    os.makedirs(rt, mode=0o700, exist_ok=True)
    e = env.run_env()
    e["XDG_RUNTIME_DIR"] = rt
    e["MANPATH"] = os.path.join(prefix, "share/man")
    p = subprocess.run(["systemd-analyze", "--user", "verify"] + units,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=60, cwd=env.tmp)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def test_systemd_units_install_and_verify(env):
    prefix = env.path("p")
    p = subprocess.run(["make", "-s", "-C", env.root, "-o",
                        os.path.join(env.build, "mailfetch"),
                        "BUILD=" + env.build, "DESTDIR=", "PREFIX=" + prefix,
                        "install"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, p.stdout.decode()
    udir = os.path.join(prefix, "lib/systemd/user")
    names = ["mailfetch.service", "mailfetch-oneshot.service",
             "mailfetch.timer"]
    assert sorted(os.listdir(udir)) == sorted(names)
    units = [os.path.join(udir, n) for n in names]
    text = {}
    for n, u in zip(names, units):
        with open(u) as f:
            text[n] = f.read()
    binary = os.path.join(prefix, "bin/mailfetch")
    assert re.search(r"^ExecStart=%s --daemon -q$" % re.escape(binary),
                     text["mailfetch.service"], re.M)
    assert re.search(r"^ExecStart=%s -q$" % re.escape(binary),
                     text["mailfetch-oneshot.service"], re.M)
    assert re.search(r"^Unit=mailfetch-oneshot.service$",
                     text["mailfetch.timer"], re.M)
    rc, out = analyze_verify(env, prefix, units)
    assert rc == 0 and out == "", "systemd-analyze verify: %d\n%s" % (rc, out)
    # The check can fail: a unit with a mistake is reported.
    bad = env.path("mailfetch.service")
    with open(bad, "w") as f:
        f.write(text["mailfetch.service"].replace("Type=simple",
                                                  "Type=simpel"))
    rc, out = analyze_verify(env, prefix, [bad])
    assert "simpel" in out, out


def test_daemon_notify_watches_every_folder(env):
    # Dovecot offers NOTIFY with its mailbox list index (STYLE.md).
    d = harness.Dovecot(extra_config="mailbox_list_index = yes\n").start()
    env.on_cleanup(d.stop)
    u = harness.User("nora", "pw-nora-5Tz")
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    for f in ("Lists/dev", "Other"):
        d.create_folder(u.name, f)
    cfg = env.config(
        "[%s]\nprotocol = imap\nhost = %s\nport = %d\ntls_ca_file = %s\n"
        "user = %s\npassword = %s\nmaildir = %s\nstate_file = %s\n"
        "folders = INBOX, Lists/dev, Other\npoll_interval = 1h\n" % (
            A, d.host, d.ports["imaps"], d.ca_file, u.name, u.password,
            env.path(A + "-Maildir"), env.path("state", A + ".state")))
    md = env.path(A + "-Maildir")
    dm = Daemon(env, ["-v", "-c", cfg])
    dm.wait_out(r"^%s: waiting for mail in INBOX and 2 other folders with "
                r"NOTIFY and IDLE$" % A)
    c = imap_client(d, u)
    try:
        for folder, sub in (("Lists/dev", ".Lists.dev"), ("Other", ".Other"),
                            ("INBOX", "")):
            append(c, folder, b"Subject: to %s\n\nnotify\n" % folder.encode())
            wait_for("message in %s" % folder, lambda: maildir_count(
                os.path.join(md, sub) if sub else md) == 1, 10, step=0.01)
    finally:
        c.logout()
    assert dm.stop() == 0
    assert dm.err() == "", dm.err()


def test_daemon_notify_command_and_fallback(env):
    env.secret("pw-fred-1Qa", "fred")
    for has_notify in (True, False):
        srv = fake_imap(has_notify=has_notify)
        env.on_cleanup(srv.stop)
        cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                     password="pw-fred-1Qa",
                                     folders="INBOX, R&D, C",
                                     poll_interval="1h"))
        dm = Daemon(env, ["-v", "-c", cfg])
        if has_notify:
            # The names as EXAMINE spells them: "R&D" is "R&-D" in
            # modified UTF-7 (RFC 3501 section 5.1.3).
            dm.wait_out(r"^%s: waiting for mail in INBOX and 2 other "
                        r"folders with NOTIFY and IDLE$" % A)
            sent = [x for x in srv.lines if " NOTIFY " in x]
            assert [x.split(" ", 1)[1] for x in sent] == [
                'NOTIFY SET (selected (MessageNew MessageExpunge)) '
                '(mailboxes "R&-D" (MessageNew MessageExpunge)) '
                '(mailboxes "C" (MessageNew MessageExpunge))'], sent
        else:
            # NOTIFY hidden: IDLE on the first folder, the rest polled.
            dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
            assert not any(" NOTIFY " in x for x in srv.lines)
        assert dm.stop() == 0


def test_daemon_on_new_once_per_run_that_delivered(env):
    d = env.dovecot
    u = env.new_user()
    out = env.path("hook.out")
    d.deliver(u.name, b"Subject: h0\n\nfirst\n")
    d.deliver(u.name, b"Subject: h1\n\nsecond\n")
    cfg = env.config(env.account(
        A, "imap", "implicit", u, poll_interval="1h",
        on_new='echo "$MAILFETCH_ACCOUNT $MAILFETCH_FETCHED" >> %s' % out))
    dm = Daemon(env, ["-v", "-c", cfg])
    # The watcher opens first, then the run.
    dm.wait_out(r"^%s: waiting for mail in INBOX with IDLE$" % A)
    dm.wait_out(r"^%s: 2 fetched" % A)
    c = imap_client(d, u)
    try:
        append(c, "INBOX", b"Subject: h2\n\nthird\n")
        dm.wait_out(r"^%s: 1 fetched" % A)
    finally:
        c.logout()
    # SIGUSR1: a run that finds nothing new runs no hook.
    dm.signal(signal.SIGUSR1)
    time.sleep(1)
    assert dm.stop() == 0
    with open(out) as f:
        assert f.read() == "%s 2\n%s 1\n" % (A, A)
