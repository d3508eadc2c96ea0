"""Planning ahead (SPEC "Planning ahead"): `-n --at WHEN` shows the plan of
a run at WHEN, the per-account totals line of a dry run on stderr, and the
usage errors of --at. Over POP3 and IMAP against the test Dovecot; the
state file's download times are written back into the past, so a plan at
+2d is tested without waiting two days, and a real run after a short wait
is checked against the plan made for its time."""

import datetime
import os
import re
import time

import harness

from test_imap import append, imap_client
from test_pop3 import maildir_messages

A = "acct"
DAY = 86400


def setup(env, proto, n, **keys):
    u = env.new_user()
    msgs = []
    for i in range(n):
        data = b"Subject: plan %d\n\nbody %d\n" % (i, i)
        env.dovecot.deliver(u.name, data)
        msgs.append(data)
    tls = "implicit"
    cfg = env.config(env.account(A, proto, tls, u, **keys))
    return u, cfg, msgs


def plan(r):
    """The plan's lines: (folder, uid, action, reason) each."""
    out = []
    for line in r.out.splitlines():
        f = line.split("\t")
        assert len(f) == 6 and f[0] == A, "not a plan line: %r" % line
        out.append((f[1], f[2], f[4], f[5]))
    return out


def totals(r):
    """The totals line of the dry run on stderr, as it stands."""
    lines = [l for l in r.err.splitlines() if l.startswith(A + ": plan: ")]
    assert len(lines) == 1, "want one totals line in %r" % r.err
    return lines[0]


def state_path(env):
    return env.path("state", A + ".state")


def set_fetch_times(env, times):
    """Write the download times of the state's records (uid -> Unix
    time) back into the state file, as if they had been fetched then."""
    path = state_path(env)
    # As text of version 1: the next run recounts what version 2 keeps
    # per folder (the earliest download among them).
    lines = harness.compact_state(path).split("\n")
    done = set()
    for i, line in enumerate(lines):
        f = line.split("\t")
        if f[0] == "M" and f[4] in times:
            f[3] = str(int(times[f[4]]))
            lines[i] = "\t".join(f)
            done.add(f[4])
    assert done == set(times), "no records for %r in %r" % (
        set(times) - done, lines)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def plan_at_two_days(env, proto):
    """delete_after = 30d: records 29d and 27d old, one fresh, one new
    message. Now all are kept; at +2d exactly the one older than 28d
    (delete_after - 2d) is deleted. Nothing changes anywhere."""
    u, cfg, msgs = setup(env, proto, 3, keep="yes", delete_after="30d")
    env.expect(env.run(["-c", cfg]), 0)
    env.dovecot.deliver(u.name, b"Subject: plan new\n\nnew\n")
    uids = [p[1] for p in plan(env.expect(env.run(["-c", cfg, "-n"]), 0))]
    assert len(uids) == 4, uids
    now = time.time()
    set_fetch_times(env, {uids[0]: now - 29 * DAY - 3600,
                          uids[1]: now - 27 * DAY})
    state = read(state_path(env))
    server = env.dovecot.snapshot(u.name)
    folder = "INBOX" if proto == "imap" else "-"

    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    assert [(p[0], p[1], p[2]) for p in plan(r)] == [
        (folder, uids[0], "keep"), (folder, uids[1], "keep"),
        (folder, uids[2], "keep"), (folder, uids[3], "fetch")], r.out
    assert totals(r) == "%s: plan: 1 fetch, 0 delete, 3 keep, 0 skip" % A

    r = env.expect(env.run(["-c", cfg, "-n", "--at", "+2d"]), 0)
    p = plan(r)
    assert [(x[0], x[1], x[2]) for x in p] == [
        (folder, uids[0], "delete"), (folder, uids[1], "keep"),
        (folder, uids[2], "keep"), (folder, uids[3], "fetch")], r.out
    # The reasons speak of the plan's time: ages two days on.
    assert p[0][3] == "delete: fetched 31d ago, delete_after 30d", p[0]
    assert p[1][3] == "keep: fetched 29d ago, delete_after 30d", p[1]
    assert p[2][3] == "keep: fetched 2d ago, delete_after 30d", p[2]
    assert totals(r) == "%s: plan: 1 fetch, 1 delete, 2 keep, 0 skip" % A
    # The totals come after the plan's lines: stdout holds only those.
    assert r.out.count("\n") == 4, r.out

    # A local date: 00:00 of the day after tomorrow (TZ=UTC) is between
    # 1d and 2d ahead, so the same one message is due.
    day = (datetime.datetime.fromtimestamp(now, datetime.timezone.utc) +
           datetime.timedelta(days=2)).strftime("%Y-%m-%d")
    r = env.expect(env.run(["-c", cfg, "-n", "--at", day]), 0)
    assert [x[2] for x in plan(r)] == ["delete", "keep", "keep", "fetch"]
    assert totals(r) == "%s: plan: 1 fetch, 1 delete, 2 keep, 0 skip" % A
    # At +3d the 27-day-old record is due too.
    r = env.expect(env.run(["-c", cfg, "-n", "--at", "+3d"]), 0)
    assert [x[2] for x in plan(r)] == ["delete", "delete", "keep", "fetch"]
    assert totals(r) == "%s: plan: 1 fetch, 2 delete, 1 keep, 0 skip" % A

    # Dry runs: nothing changed on the server, in the state, on disk.
    assert read(state_path(env)) == state
    assert env.dovecot.snapshot(u.name) == server
    assert len(maildir_messages(env.path(A + "-Maildir"))) == 3


def test_pop3_plan_at_two_days(env):
    plan_at_two_days(env, "pop3")


def test_imap_plan_at_two_days(env):
    plan_at_two_days(env, "imap")


def real_run_agrees(env, proto):
    """The plan at +3s is what a real run 3 seconds later does. With
    delete_after = 1000s, record a falls due 2s after its time is written
    back, record b 300s after, record c (just fetched) 1000s after; d is
    new. A run that comes later only makes a more overdue, so the
    outcome holds on a loaded machine: only a delay of minutes could
    make b due."""
    u, cfg, msgs = setup(env, proto, 3, keep="yes", delete_after="1000s")
    env.expect(env.run(["-c", cfg]), 0)
    new = b"Subject: plan later\n\nlater\n"
    env.dovecot.deliver(u.name, new)
    uids = [p[1] for p in plan(env.expect(env.run(["-c", cfg, "-n"]), 0))]
    assert len(uids) == 4, uids
    now = time.time()
    set_fetch_times(env, {uids[0]: now - 998, uids[1]: now - 700})

    r = env.expect(env.run(["-c", cfg, "-n", "--at", "+3s"]), 0)
    planned_by = time.time()
    want = ["delete", "keep", "keep", "fetch"]
    assert [x[2] for x in plan(r)] == want, r.out
    assert totals(r) == "%s: plan: 1 fetch, 1 delete, 2 keep, 0 skip" % A

    # Past the plan's time (its clock was read before planned_by), by a
    # whole second, since the clock of a run is in whole seconds. Waited
    # for on the wall clock itself, which is the one a run reads.
    while time.time() < planned_by + 4:
        time.sleep(0.1)
    r = env.expect(env.run(["-c", cfg]), 0)
    m = re.search(r"^%s: (\d+) fetched, (\d+) deleted, (\d+) left on "
                  r"server$" % A, r.out, re.M)
    assert m and m.groups() == ("1", "1", "3"), r.out
    left = env.dovecot.messages(u.name)
    assert sorted(left) == sorted(msgs[1:] + [new]), left
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == \
        sorted(msgs + [new])


def test_pop3_real_run_agrees_with_plan_at(env):
    real_run_agrees(env, "pop3")


def test_imap_real_run_agrees_with_plan_at(env):
    real_run_agrees(env, "imap")


def test_totals_count_fetch_delete_in_both(env):
    """keep = no: a fetch+delete counts as a fetch and as a delete; a
    message over max_size is a skip. IMAP folders add up to one line per
    account; -q leaves the line out; -j keeps it."""
    d = env.dovecot
    u = env.new_user()
    c = imap_client(d, u)
    c.create('"Other"')
    for i in range(2):
        append(c, "INBOX", b"Subject: in %d\n\nx\n" % i)
    append(c, "INBOX", b"Subject: big\n\n" + b"b" * 3000 + b"\n")
    append(c, "Other", b"Subject: other\n\ny\n")
    c.logout()
    cfg = env.config(env.account(A, "imap", "implicit", u, keep="no",
                                 max_size="1k", folders="INBOX, Other") +
                     env.account("pop", "pop3", "implicit", u, keep="no"))
    r = env.expect(env.run(["-c", cfg, "-n", A]), 0)
    assert [(x[0], x[2]) for x in plan(r)] == [
        ("INBOX", "fetch+delete"), ("INBOX", "fetch+delete"),
        ("INBOX", "skip"), ("Other", "fetch+delete")], r.out
    assert r.err == "%s: plan: 3 fetch, 3 delete, 0 keep, 1 skip\n" % A, \
        r.err
    r = env.expect(env.run(["-c", cfg, "-n", "-q", A]), 0)
    assert len(plan(r)) == 4 and r.err == "", r.err
    # -j prints each account whole, in the order the accounts finish.
    r = env.expect(env.run(["-c", cfg, "-n", "-j", "2"]), 0)
    assert sorted(r.err.splitlines()) == [
        "%s: plan: 3 fetch, 3 delete, 0 keep, 1 skip" % A,
        "pop: plan: 3 fetch, 3 delete, 0 keep, 0 skip"], r.err


def test_at_usage_errors(env):
    """--at without -n, in the past, or malformed: 64, saying what is
    wrong, before anything connects or is created."""
    u, cfg, msgs = setup(env, "pop3", 1)
    for args, what in (
            (["--at", "+2d"], "--at needs -n"),
            (["--check", "--at", "+2d"], "--at needs -n"),
            (["-n", "--at", "2020-01-01"], "in the past"),
            (["-n", "--at", "2020-01-01T10:00"], "in the past"),
            (["-n", "--at", "soon"], "expected +DURATION"),
            (["-n", "--at", "2d"], "expected +DURATION"),
            (["-n", "--at", "+2w"], "expected +DURATION"),
            (["-n", "--at", "2030-02-30"], "2030-02 has no day 30"),
            (["-n", "--at", "2030-01-01T25:00"], "no time 25:00"),
            (["-n", "--at"], "requires an argument")):
        r = env.run(["-c", cfg] + args)
        assert r.rc == 64, (args, r.rc, r.err)
        assert what in r.err, (args, r.err)
        assert r.out == "", (args, r.out)
    assert not os.path.exists(env.path("state"))
    assert not os.path.exists(env.path(A + "-Maildir"))
    assert env.dovecot.messages(u.name) == msgs
