"""The pre-check of an account of two or more folders (issues 14, 16):
one round trip asks every folder what it holds (STATUS pipelined, or
LIST-STATUS with the LIST "*" a pattern needs anyway), and only the
folders where something can have changed are opened. A poll of N
unchanged folders costs what a poll of two does; a change in one folder
opens that one; a change of each kind in a folder that looks skippable
is still found; a server without CONDSTORE never has a mirror folder
skipped (a flag may have changed unseen)."""

import re
import time

from test_mirror import (A, Server, assert_equal_to_server, maildir, msgs,
                         round_trips, summary)
from test_imap import summary as fetch_summary
from test_roundtrips import Proxy, count_run


def sent(err):
    return re.findall(r"^%s: > (.*)$" % A, err, re.M)


def opened(err):
    """The folders EXAMINEd or SELECTed, in order, each once (keep = no
    SELECTs the folder whose EXAMINE went behind the login)."""
    out = []
    for f in re.findall(r'^%s: > A\d+ (?:EXAMINE|SELECT) "([^"]*)"' % A,
                        err, re.M):
        if f not in out:
            out.append(f)
    return out


def statused(err):
    return re.findall(r'^%s: > A\d+ STATUS "([^"]*)"' % A, err, re.M)


def listed(err):
    """The folders a LIST of its own asked about (not LIST "*")."""
    return [f for f in re.findall(r'^%s: > A\d+ LIST "" "([^"]*)"' % A,
                                  err, re.M) if f != "*"]


def folders_server(env, kind, n):
    """A server with INBOX and folders F1..F(n-1), two messages each."""
    s = Server(env, kind)
    s.add(msgs("in", 2))
    names = ["F%d" % i for i in range(1, n)]
    for f in names:
        s.create(f)
        s.add(msgs(f, 2), f)
    return s, ", ".join(["INBOX"] + names)


# --- round trips ---------------------------------------------------------------

def test_poll_round_trips_do_not_grow_with_folders(env):
    """Through bench/delayproxy.py: an unchanged poll of 2 folders and
    of 6 costs the same, 5 round trips: TCP, TLS, the login (with the
    first folder's EXAMINE behind it when not a mirror), the pre-check
    (a STATUS per other folder, and a LIST for its delimiter), LOGOUT.
    Before the pre-check, a LIST and an EXAMINE per folder: 6, 14 and
    42 for 2, 6 and 20 folders (7, 15, 43 a mirror). A new message in
    one folder opens that folder only: after TLS (counted in the -vv
    trace; the proxy's count of a fetching run may differ by one, as
    COMPRESS may be answered out of order) the login, the pre-check,
    its EXAMINE (the pre-check's LIST gave its delimiter), its listing,
    NAMESPACE (for its name on disk), the fetch: 6, whatever the number
    of folders (before: 6, 14 and 42 plain, 7, 15 and 43 a mirror)."""
    px = Proxy(env, env.dovecot.ports["imaps"])
    try:
        got = {}
        for mirror in ("no", "yes"):
            for n in (2, 6):
                s, folders = folders_server(env, "dovecot", n)
                tag = "%s-%d" % (mirror, n)
                cfg = s.config(name=tag + ".rc", mirror=mirror,
                               auth="plain", folders=folders,
                               port=px.port,
                               maildir=env.path(tag + "-Maildir"),
                               state_file=env.path("state", tag + ".state"))
                count_run(env, px, cfg)
                r, rt = count_run(env, px, cfg)
                left = 2 * n
                if mirror == "yes":
                    assert summary(r) == (0, 0, left, 0, 0), r.out
                    assert opened(r.err) == [], r.err
                else:
                    assert fetch_summary(r) == (0, 0, left), r.out
                    # The first folder went behind the login; no STATUS
                    # names it (it is selected).
                    assert opened(r.err) == ["INBOX"], r.err
                    assert "INBOX" not in statused(r.err), r.err
                assert not [c for c in sent(r.err) if "FETCH" in c], r.err
                got[(mirror, n, "poll")] = rt
                # One folder changes: only it is opened.
                s.add(msgs("new", 1), "F1")
                r, rt = count_run(env, px, cfg)
                want = ["F1"] if mirror == "yes" else ["INBOX", "F1"]
                assert opened(r.err) == want, r.err
                # Its delimiter came with the pre-check: no LIST again.
                assert listed(r.err) == ["F%d" % i for i in range(1, n)], \
                    r.err
                if mirror == "yes":
                    assert summary(r) == (1, 0, left + 1, 0, 0), r.out
                else:
                    assert fetch_summary(r) == (1, 0, left + 1), r.out
                got[(mirror, n, "change")] = round_trips(r.err)
    finally:
        px.stop()
    assert got == {
        ("no", 2, "poll"): 5, ("no", 6, "poll"): 5,
        ("no", 2, "change"): 6, ("no", 6, "change"): 6,
        ("yes", 2, "poll"): 5, ("yes", 6, "poll"): 5,
        ("yes", 2, "change"): 6, ("yes", 6, "change"): 6}, got


def test_pattern_folders_take_status_from_the_list(env):
    """Dovecot offers LIST-STATUS: the LIST "*" a pattern needs carries
    the STATUS items (HIGHESTMODSEQ too: CONDSTORE), so the pre-check
    sends nothing of its own, and no folder needs a LIST for its
    delimiter. An unchanged mirror then costs the login and the LIST."""
    s, _ = folders_server(env, "dovecot", 4)
    cfg = s.config(folders="*", auth="plain")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (8, 0, 8, 0, 0), r.out
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 8, 0, 0), r.out
    lists = [c for c in sent(r.err) if " LIST " in c]
    assert len(lists) == 1 and re.search(
        r'LIST "" "\*" RETURN \((SPECIAL-USE )?STATUS \(UIDVALIDITY UIDNEXT '
        r'MESSAGES HIGHESTMODSEQ\)\)$', lists[0]), lists
    assert statused(r.err) == [] and opened(r.err) == [], r.err
    assert round_trips(r.err) == 2, r.err
    # -v says why a folder was not opened.
    r = env.expect(env.run(["-c", cfg, "-v"]), 0)
    assert re.search(r"^%s: F2: unchanged \(STATUS\), 2 messages kept "
                     r"\(UIDNEXT 3 as last time\)$" % A, r.out, re.M), r.out
    # A change in one: that one is opened, with no LIST of its own.
    s.add(msgs("more", 1), "F2")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (1, 0, 9, 0, 0), r.out
    assert opened(r.err) == ["F2"] and listed(r.err) == [], r.err


# --- every kind of change is still found ---------------------------------------

def changes_found(env, kind):
    """A mirror of INBOX, F1, F2, F3: each kind of change in one folder
    that the others leave looking unchanged is found, and only that
    folder is opened where the server has CONDSTORE."""
    s, folders = folders_server(env, kind, 4)
    cfg = s.config(folders=folders)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (8, 0, 8, 0, 0), r.out

    def run(want, folder):
        r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
        assert summary(r) == want, (folder, r.out)
        if kind != "mailutils":
            assert opened(r.err) == [folder], (folder, opened(r.err))
        else:
            # Without CONDSTORE a mirror folder is never skipped.
            assert opened(r.err) == folders.split(", "), opened(r.err)
        assert_equal_to_server(s, maildir(env, "." + folder), folder,
                               what=folder)
        return r

    # New mail.
    s.add(msgs("new", 1), "F1")
    run((1, 0, 9, 0, 0), "F1")
    # A flag changed (HIGHESTMODSEQ moved; UIDNEXT and MESSAGES not).
    uids = sorted(s.view("F2"))
    s.store(uids[:1], "\\Flagged", folder="F2")
    run((0, 0, 9, 1, 0), "F2")
    # An expunge (MESSAGES below the records).
    s.expunge(uids[1:2], folder="F2")
    run((0, 0, 8, 0, 1), "F2")
    # UIDVALIDITY changed: the old copies gone, fetched again.
    added = s.renumber("F3")
    n = 2 + len(added)
    run((n, 0, 8 + len(added), 0, 2), "F3")
    # Nothing changed since: nothing opened (CONDSTORE), nothing done.
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 8 + len(added), 0, 0), r.out
    if kind != "mailutils":
        assert opened(r.err) == [], r.err
    return r


def test_changes_found_dovecot(env):
    changes_found(env, "dovecot")


def test_changes_found_condstore_without_list_status(env):
    """A Dovecot with CONDSTORE but no QRESYNC and no LIST-STATUS: the
    pre-check pipelines one STATUS per folder, HIGHESTMODSEQ with it."""
    r = changes_found(env, "condstore")
    st = [c for c in sent(r.err) if " STATUS " in c]
    assert len(st) == 4 and all(c.endswith(
        "(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)") for c in st), st


def test_mirror_never_skipped_without_condstore_mailutils(env):
    """GNU Mailutils' imap4d has neither CONDSTORE nor LIST-STATUS: the
    STATUS path without HIGHESTMODSEQ, and every mirror folder opened."""
    r = changes_found(env, "mailutils")
    st = [c for c in sent(r.err) if " STATUS " in c]
    assert len(st) == 4 and all(
        c.endswith("(UIDVALIDITY UIDNEXT MESSAGES)") for c in st), st


def test_fetch_poll_uses_status_mailutils(env):
    """keep = yes retrieval on imap4d: unchanged folders are not opened
    (but the first, pipelined behind the login), new mail in one is
    fetched, and an expunge there opens it."""
    s, folders = folders_server(env, "mailutils", 3)
    cfg = s.config(folders=folders, mirror="no")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert fetch_summary(r) == (6, 0, 6), r.out
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert fetch_summary(r) == (0, 0, 6), r.out
    assert statused(r.err) == ["F1", "F2"], r.err
    assert opened(r.err) == ["INBOX"], r.err
    s.add(msgs("late", 1), "F2")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert fetch_summary(r) == (1, 0, 7), r.out
    assert opened(r.err) == ["INBOX", "F2"], r.err
    s.expunge(sorted(s.view("F1"))[:1],
              folder="F1")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert fetch_summary(r) == (0, 0, 6), r.out
    assert opened(r.err) == ["INBOX", "F1"], r.err


def test_delete_after_and_keep_no_are_not_skipped_while_work_is_due(env):
    """keep = no: a folder with messages is always opened (they are to
    be fetched and deleted), an empty one whose records are gone is not.
    delete_after: a folder whose oldest copy is not due yet is not
    opened; a dry run opens every folder (it prints the whole plan)."""
    s, folders = folders_server(env, "dovecot", 3)
    cfg = s.config(name="no.rc", folders=folders, mirror="no", keep="no",
                   maildir=env.path("no-Maildir"),
                   state_file=env.path("state", "no.state"))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert fetch_summary(r) == (6, 6, 0), r.out
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert fetch_summary(r) == (0, 0, 0), r.out
    # Emptied by the first run; the second noted its records gone.
    s.add(msgs("again", 1), "F2")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert fetch_summary(r) == (1, 1, 0), r.out
    assert "F2" in opened(r.err), r.err
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert fetch_summary(r) == (0, 0, 0), r.out
    assert opened(r.err) == ["INBOX"], r.err

    s2, folders2 = folders_server(env, "dovecot", 3)
    cfg2 = s2.config(name="da.rc", folders=folders2, mirror="no",
                     delete_after="1d", maildir=env.path("da-Maildir"),
                     state_file=env.path("state", "da.state"))
    r = env.expect(env.run(["-c", cfg2]), 0)
    assert fetch_summary(r) == (6, 0, 6), r.out
    r = env.expect(env.run(["-c", cfg2, "-vv"]), 0)
    assert fetch_summary(r) == (0, 0, 6), r.out
    assert opened(r.err) == ["INBOX"], r.err
    # A dry run opens every folder: it shows the whole plan.
    r = env.expect(env.run(["-c", cfg2, "-n", "-vv", "--at", "+3d"]), 0)
    assert opened(r.err) == ["INBOX", "F1", "F2"], r.err
    assert statused(r.err) == [], r.err

    # delete_after = 1s: once the copies are due, every folder is opened
    # and its messages deleted, though nothing else changed.
    s3, folders3 = folders_server(env, "dovecot", 3)
    cfg3 = s3.config(name="due.rc", folders=folders3, mirror="no",
                     delete_after="1s", maildir=env.path("due-Maildir"),
                     state_file=env.path("state", "due.state"))
    r = env.expect(env.run(["-c", cfg3]), 0)
    assert fetch_summary(r) == (6, 0, 6), r.out
    time.sleep(2.1)
    r = env.expect(env.run(["-c", cfg3, "-vv"]), 0)
    assert fetch_summary(r) == (0, 6, 0), r.out
    assert sorted(opened(r.err)) == ["F1", "F2", "INBOX"], r.err


# --- memory ----------------------------------------------------------------------

def test_precheck_under_valgrind(env):
    """Valgrind (memcheck, full leak check) on polls that pre-check: a
    mirror of "*" (LIST-STATUS) and a fetch of named folders (STATUS
    pipelined), each after a first run, with a change in one folder."""
    import subprocess
    from test_valgrind import VALGRIND, plain_binary
    s, folders = folders_server(env, "dovecot", 4)
    for name, keys in (("mirror", {"folders": "*"}),
                       ("named", {"folders": folders, "mirror": "no"})):
        cfg = s.config(name=name + ".rc", timeout=60, connect_timeout=60,
                       maildir=env.path(name + "-Maildir"),
                       state_file=env.path("state", name + ".state"),
                       **keys)
        env.expect(env.run(["-c", cfg]), 0)
        s.add(msgs(name, 1), "F2")
        log = env.path("valgrind-%s.log" % name)
        p = subprocess.run(
            [VALGRIND, "--leak-check=full", "--error-exitcode=99",
             "--errors-for-leak-kinds=definite,possible", "--track-fds=no",
             "--log-file=" + log, plain_binary(env), "-c", cfg, "-vv"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env.run_env(), cwd=env.tmp,
            timeout=300)
        with open(log, "rb") as f:
            report = f.read().decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 0, "exit %d under valgrind:\n%s\n%s" % (
            p.returncode, err[-3000:], report[-6000:])
        assert "ERROR SUMMARY: 0 errors" in report, report[-6000:]
        assert opened(err) == (["F2"] if name == "mirror"
                               else ["INBOX", "F2"]), err
        assert re.search(r"^%s: 1 fetched" % A, p.stdout.decode(), re.M), \
            p.stdout
