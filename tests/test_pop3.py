"""POP3 fetch into a Maildir against the test Dovecot: byte-exact delivery,
the leave-a-copy policy, dry run, state, locking and crashes."""

import fcntl
import hashlib
import os
import re
import signal
import subprocess
import time

from fakeserver import FakeServer

A = "acct"

# Messages as Dovecot stores them (LF line endings). Each is unique.
CORPUS = [
    b"Subject: dots\n\n.starts with a dot\n..two dots\n.\n...\n. x\nend\n",
    b"Subject: long lines\n\n" + b"x" * 5000 + b"\n" + b"y" * 998 +
    b"\n" + b"z" * 999 + b"\n",
    b"Subject: eight bit\n\n" +
    bytes(b for b in range(1, 256) if b not in (10, 13)) + b"\n" +
    "Grüße, ½ €\n".encode("utf-8"),
    b"Subject: no final newline\n\nthe last line has no newline",
    b"Subject: empty body\n\n",
    b"Subject: header only, no blank line\n",
    b"Subject: blank lines\n\n\n\n\n",
    b"Subject: tabs and spaces\n\n\t \t\n  trailing  \n",
]


def big_message(mb, tag=b"big"):
    """A deterministic message of about mb megabytes."""
    line = b"%s 0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
    n = mb * 1024 * 1024 // 64
    body = b"".join(line % (b"%08d" % i) for i in range(n))
    return b"Subject: " + tag + b"\n\n" + body


def pop3_expected(data):
    """What a POP3 fetch stores: POP3 cannot carry a missing final
    newline, so the file then ends with one LF."""
    return data if data == b"" or data.endswith(b"\n") else data + b"\n"


def maildir_files(path):
    """Paths of every message file in new/ and cur/ under path."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    return out


def maildir_messages(path):
    out = []
    for p in maildir_files(path):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def summary(r, name=A):
    """(fetched, deleted, left) from the summary line of name."""
    m = re.search(r"^%s: (\d+) fetched, (\d+) deleted, (\d+) left on "
                  r"server$" % re.escape(name), r.out, re.M)
    assert m, "no summary line for %s in %r" % (name, r.out)
    return tuple(int(x) for x in m.groups())


def setup(env, n=0, tls="starttls", **keys):
    """A new user with n numbered messages, and a config for it."""
    u = env.new_user()
    msgs = []
    for i in range(n):
        data = b"Subject: message %d\n\nbody of %d\n" % (i, i)
        env.dovecot.deliver(u.name, data)
        msgs.append(data)
    cfg = env.config(env.account(A, "pop3", tls, u, **keys))
    return u, cfg, msgs


def sorted_eq(a, b):
    return sorted(a) == sorted(b)


def test_byte_exact_corpus(env):
    d = env.dovecot
    u = env.new_user()
    corpus = CORPUS + [big_message(20)]
    for data in corpus:
        d.deliver(u.name, data)
    cfg = env.config(env.account(A, "pop3", "implicit", u))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (len(corpus), 0, len(corpus)), r.out
    got = maildir_messages(env.path(A + "-Maildir"))
    want = [pop3_expected(m) for m in corpus]
    assert len(got) == len(want), "%d files, want %d" % (len(got), len(want))
    for m in want:
        assert m in got, "message %r... not delivered byte-exact" % m[:40]
    # The S= in the name is the file's size.
    for p in maildir_files(env.path(A + "-Maildir")):
        m = re.search(r",S=(\d+)", p)
        assert m and int(m.group(1)) == os.path.getsize(p), p
    # The server still has every message, unchanged.
    assert sorted_eq(d.messages(u.name), corpus)


def test_second_run_fetches_nothing(env):
    u, cfg, msgs = setup(env, 5)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (5, 0, 5)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 5)
    assert sorted_eq(maildir_messages(env.path(A + "-Maildir")), msgs)


def test_keep_no_deletes_exactly_what_was_fetched(env):
    u, cfg, msgs = setup(env, 4, keep="no", max_size="1k")
    big = b"Subject: too big\n\n" + b"b" * 3000 + b"\n"
    env.dovecot.deliver(u.name, big)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (4, 4, 1), r.out
    assert env.dovecot.messages(u.name) == [big]
    assert sorted_eq(maildir_messages(env.path(A + "-Maildir")), msgs)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 1), r.out


def test_keep_yes_deletes_nothing(env):
    u, cfg, msgs = setup(env, 6, keep="yes")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (6, 0, 6)
    assert sorted_eq(env.dovecot.messages(u.name), msgs)


def test_delete_after_expires(env):
    # 5 s leaves a loaded machine room for the second run to come
    # before the first run's records are due.
    u, cfg, old = setup(env, 3, keep="yes", delete_after="5s")
    r = env.expect(env.run(["-c", cfg]), 0)
    first = time.monotonic()
    assert summary(r) == (3, 0, 3)
    new = b"Subject: arrives later\n\nlater\n"
    env.dovecot.deliver(u.name, new)
    # Not yet expired: nothing deleted, the new one fetched.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 0, 4), r.out
    time.sleep(max(0, first + 5.2 - time.monotonic()))
    newer = b"Subject: arrives last\n\nlast\n"
    env.dovecot.deliver(u.name, newer)
    # The first three expired; the fourth was fetched under 5 s ago
    # (or just about: allow it to expire too, but never the new one).
    r = env.expect(env.run(["-c", cfg]), 0)
    fetched, deleted, left = summary(r)
    assert fetched == 1 and deleted in (3, 4) and left == 5 - deleted, r.out
    left_msgs = env.dovecot.messages(u.name)
    assert newer in left_msgs, "a message not yet downloaded was deleted"
    for m in old:
        assert m not in left_msgs, "an expired message was kept"
    assert sorted_eq(maildir_messages(env.path(A + "-Maildir")),
                     old + [new, newer])


def test_max_messages_oldest_first(env):
    u, cfg, msgs = setup(env, 5, max_messages="2")
    got = []
    for want in ((2, 0, 5), (2, 0, 5), (1, 0, 5), (0, 0, 5)):
        r = env.expect(env.run(["-c", cfg]), 0)
        assert summary(r) == want, r.out
    got = maildir_messages(env.path(A + "-Maildir"))
    assert sorted_eq(got, msgs)


def test_max_messages_takes_the_oldest(env):
    u, cfg, msgs = setup(env, 4, max_messages="2")
    env.expect(env.run(["-c", cfg]), 0)
    assert sorted_eq(maildir_messages(env.path(A + "-Maildir")), msgs[:2])


def test_max_size_skips_and_keeps(env):
    u, cfg, msgs = setup(env, 2, keep="no", max_size="2k")
    big = b"Subject: big\n\n" + b"q" * 4096 + b"\n"
    env.dovecot.deliver(u.name, big)
    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    lines = [l.split("\t") for l in r.out.splitlines()]
    assert [l[4] for l in lines] == ["fetch+delete", "fetch+delete", "skip"]
    assert "max_size" in lines[2][5]
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (2, 2, 1)
    assert env.dovecot.messages(u.name) == [big]


def test_dry_run_changes_nothing(env):
    u, cfg, msgs = setup(env, 3, keep="no")
    before = env.dovecot.messages(u.name)
    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    lines = r.out.splitlines()
    assert len(lines) == 3, r.out
    uids = set()
    for l in lines:
        f = l.split("\t")
        assert len(f) == 6, "not 6 tab-separated fields: %r" % l
        assert f[0] == A and f[1] == "-" and f[4] == "fetch+delete", l
        assert int(f[3]) > 0
        uids.add(f[2])
    assert len(uids) == 3
    assert not os.path.exists(env.path(A + "-Maildir")), "Maildir created"
    assert not os.path.exists(env.path("state")), "state created"
    assert env.dovecot.messages(u.name) == before


def test_dry_run_plan_after_a_fetch(env):
    u, cfg, msgs = setup(env, 3, keep="yes", delete_after="30d")
    env.expect(env.run(["-c", cfg]), 0)
    env.dovecot.deliver(u.name, b"Subject: new one\n\nnew\n")
    state = env.path("state", A + ".state")
    with open(state, "rb") as f:
        saved = f.read()
    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    acts = [l.split("\t")[4] for l in r.out.splitlines()]
    assert acts == ["keep", "keep", "keep", "fetch"], r.out
    reasons = [l.split("\t")[5] for l in r.out.splitlines()]
    assert "delete_after 30d" in reasons[0], reasons[0]
    with open(state, "rb") as f:
        assert f.read() == saved, "dry run changed the state file"
    assert len(maildir_files(env.path(A + "-Maildir"))) == 3


def test_corrupt_state_is_65_and_fetches_nothing(env):
    u, cfg, msgs = setup(env, 2)
    os.makedirs(env.path("state"))
    with open(env.path("state", A + ".state"), "w") as f:
        f.write("this is not a state file\n")
    r = env.expect(env.run(["-c", cfg]), 65)
    assert r.err.startswith(A + ": "), r.err
    assert A + ".state" in r.err, r.err
    assert maildir_files(env.path(A + "-Maildir")) == []


def test_truncated_state_is_65(env):
    u, cfg, msgs = setup(env, 2)
    env.expect(env.run(["-c", cfg]), 0)
    path = env.path("state", A + ".state")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-3])
    env.dovecot.deliver(u.name, b"Subject: x\n\ny\n")
    env.expect(env.run(["-c", cfg]), 65)
    assert len(maildir_files(env.path(A + "-Maildir"))) == 2


def test_locked_account_is_75(env):
    u, cfg, msgs = setup(env, 2)
    os.makedirs(env.path("state"))
    fd = os.open(env.path("state", A + ".state.lock"),
                 os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = env.expect(env.run(["-c", cfg], timeout=20), 75)
        # At once, not after the 20 s the test allows (room for load).
        assert r.elapsed < 10, "waited for the lock: %.1fs" % r.elapsed
        assert "lock" in r.err, r.err
    finally:
        os.close(fd)
    assert maildir_files(env.path(A + "-Maildir")) == []
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (2, 0, 2)


def test_concurrent_runs_no_duplicates(env):
    u = env.new_user()
    msgs = []
    for i in range(300):
        data = b"Subject: c%d\n\n" % i + b"line %d\n" % i * 200
        env.dovecot.deliver(u.name, data)
        msgs.append(data)
    cfg = env.config(env.account(A, "pop3", "none", u, keep="yes"))
    procs = [subprocess.Popen([env.mailfetch, "-c", cfg],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env.run_env()) for _ in range(2)]
    rcs = sorted(p.wait(timeout=60) for p in procs)
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert rcs in ([0, 0], [0, 75]), "exit statuses %r" % rcs
    env.expect(env.run(["-c", cfg]), 0)
    got = maildir_messages(env.path(A + "-Maildir"))
    assert len(got) == 300, "%d messages in the Maildir" % len(got)
    assert sorted_eq(got, msgs)


def check_invariant(env, u, msgs):
    """Every message is on the server or in the Maildir; none is in the
    Maildir twice; every Maildir file is a whole message."""
    got = maildir_messages(env.path(A + "-Maildir"))
    server = env.dovecot.messages(u.name)
    want = set(msgs)
    for m in got:
        assert m in want, "an incomplete or foreign file in the Maildir"
    assert len(got) == len(set(got)), "a message was delivered twice"
    missing = want - set(got) - set(server)
    assert not missing, "%d messages lost" % len(missing)
    tmp = env.path(A + "-Maildir", "tmp")
    return got, server


def test_sigkill_at_many_points_loses_nothing(env):
    """SIGKILL at moments tied to progress: while messages are being
    written to tmp/ (first, 40th), and right after the first rename into
    new/ (the rest of the batch, the records and the DELEs not done).
    300 messages make two batches, so the later kills also land between
    a recorded batch and the next."""
    u = env.new_user()
    msgs = []

    def deliver(n):
        for _ in range(n):
            i = len(msgs)
            data = b"Subject: k%d\n\n" % i + (b"%d " % i) * 1500 + b"\n"
            env.dovecot.deliver(u.name, data)
            msgs.append(data)

    deliver(270)
    cfg = env.config(env.account(A, "pop3", "implicit", u, keep="no"))
    md = env.path(A + "-Maildir")
    kills = 0
    for sub, n in (("tmp", 1), ("tmp", 40), ("new", 1), ("tmp", 1),
                   ("tmp", 20), ("new", 1), ("new", 1)):
        # New mail each time: every run has at least 30 to fetch.
        deliver(30)
        if env.kill_when(["-c", cfg], os.path.join(md, sub), n):
            kills += 1
        check_invariant(env, u, msgs)
    # Each moment comes before the run can end, so every kill lands.
    assert kills == 7, "only %d of 7 runs were killed mid-way" % kills
    r = env.expect(env.run(["-c", cfg]), 0)
    got, server = check_invariant(env, u, msgs)
    assert server == [], "%d left on the server" % len(server)
    assert sorted_eq(got, msgs)


def sent(r, cmd):
    """How many times a -vv trace shows the client sending cmd."""
    return len(re.findall(r"^%s: > %s$" % (A, cmd), r.err, re.M))


def test_poll_lists_sizes_only_when_needed(env):
    """LIST (the sizes) is sent only when a message may be downloaded,
    or for the dry-run plan: a run that finds nothing new sends UIDL
    alone. max_size still holds for a new message."""
    u, cfg, msgs = setup(env, 3, max_size="1k")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (3, 0, 3), r.out
    assert (sent(r, "UIDL"), sent(r, "LIST")) == (1, 1), r.err
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 3), r.out
    assert (sent(r, "UIDL"), sent(r, "LIST")) == (1, 0), r.err
    r = env.expect(env.run(["-c", cfg, "-n", "-vv"]), 0)
    assert sent(r, "LIST") == 1, r.err
    assert re.search(r"^%s\t-\t\S+\t\d{2}\tkeep\t" % A, r.out, re.M), \
        r.out
    big = b"Subject: big\n\n" + b"x" * 2000 + b"\n"
    small = b"Subject: small\n\nnew\n"
    env.dovecot.deliver(u.name, big)
    env.dovecot.deliver(u.name, small)
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (1, 0, 5), r.out
    assert sent(r, "LIST") == 1, r.err
    got = maildir_messages(env.path(A + "-Maildir"))
    assert sorted_eq(got, msgs + [small])


def test_no_uidl_with_keep_is_refused(env):
    script = [
        (None, b"+OK fake POP3\r\n"),
        (r"^CAPA", b"+OK\r\nUSER\r\n.\r\n"),
        (r"^USER u", b"+OK\r\n"),
        (r"^PASS ", b"+OK\r\n"),
        (r"^STAT", b"+OK 1 10\r\n"),
        (r"^UIDL", b"-ERR no UIDL here\r\n"),
        (r"^LIST", b"+OK\r\n1 10\r\n.\r\n"),
    ]
    with FakeServer("script", script) as srv:
        cfg = env.config(env.account(A, "pop3", "none", "u", server=srv,
                                     password="pw-fake-91", keep="yes"))
        env.secret("pw-fake-91")
        r = env.expect(env.run(["-c", cfg], timeout=20), 76)
        assert "UIDL" in r.err, r.err
        assert not any(l.startswith("RETR") for l in srv.lines), srv.lines
        assert not any(l.startswith("DELE") for l in srv.lines), srv.lines


def test_trace_redacts_password(env):
    u, cfg, msgs = setup(env, 1, tls="implicit", auth="user")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert "PASS <redacted>" in r.err, r.err
    assert "> USER " + u.name in r.err, r.err
