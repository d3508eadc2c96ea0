"""IMAP fetch and mailbox mirroring against the test Dovecot: byte-exact
delivery, the leave-a-copy policy, Maildir++ folders, flags and dates,
expunging only what was marked, UIDVALIDITY changes, mail arriving during
a run, and crashes."""

import imaplib
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

import harness
from test_pop3 import CORPUS, big_message, maildir_files, maildir_messages

A = "acct"


def summary(r, name=A):
    m = re.search(r"^%s: (\d+) fetched, (\d+) deleted, (\d+) left on "
                  r"server$" % re.escape(name), r.out, re.M)
    assert m, "no summary line for %s in %r" % (name, r.out)
    return tuple(int(x) for x in m.groups())


def imap_client(d, user):
    ctx = ssl.create_default_context(cafile=d.ca_file)
    c = imaplib.IMAP4_SSL(d.host, d.ports["imaps"], ssl_context=ctx)
    c.login(user.name, user.password)
    return c


def append(c, folder, data, flags="", when=None):
    """APPEND data (LF endings) to folder with flags and INTERNALDATE."""
    date = imaplib.Time2Internaldate(when if when else time.time())
    typ, resp = c.append('"%s"' % folder, "(%s)" % flags if flags else None,
                         date, data.replace(b"\n", b"\r\n"))
    assert typ == "OK", resp


def setup(env, n=0, **keys):
    u = env.new_user()
    msgs = []
    for i in range(n):
        data = b"Subject: message %d\n\nbody of %d\n" % (i, i)
        env.dovecot.deliver(u.name, data)
        msgs.append(data)
    cfg = env.config(env.account(A, "imap", "implicit", u, **keys))
    return u, cfg, msgs


def test_byte_exact_corpus_and_server_untouched(env):
    d = env.dovecot
    u = env.new_user()
    corpus = CORPUS + [big_message(20)]
    for data in corpus:
        d.deliver(u.name, data, cur=True)
    before = d.snapshot(u.name)
    cfg = env.config(env.account(A, "imap", "starttls", u))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (len(corpus), 0, len(corpus)), r.out
    got = maildir_messages(env.path(A + "-Maildir"))
    # IMAP carries the message exactly, missing final newline included.
    assert sorted(got) == sorted(corpus)
    # keep = yes: not a flag changed, not a file moved on the server.
    assert d.snapshot(u.name) == before, "the server mailbox changed"
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, len(corpus))
    assert d.snapshot(u.name) == before


def test_keep_no_expunges_exactly_what_was_fetched(env):
    u, cfg, msgs = setup(env, 4, keep="no", max_size="1k")
    big = b"Subject: too big\n\n" + b"b" * 3000 + b"\n"
    env.dovecot.deliver(u.name, big)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (4, 4, 1), r.out
    assert env.dovecot.messages(u.name) == [big]
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == sorted(msgs)


def test_delete_after_expires(env):
    u, cfg, old = setup(env, 3, keep="yes", delete_after="2s")
    env.expect(env.run(["-c", cfg]), 0)
    time.sleep(2.2)
    new = b"Subject: arrives later\n\nlater\n"
    env.dovecot.deliver(u.name, new)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 3, 1), r.out
    assert env.dovecot.messages(u.name) == [new]
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == \
        sorted(old + [new])


def test_folders_in_config_order_and_max_messages(env):
    d = env.dovecot
    u = env.new_user()
    c = imap_client(d, u)
    c.create('"Other"')
    inbox = [b"Subject: in %d\n\nx\n" % i for i in range(3)]
    other = [b"Subject: other %d\n\ny\n" % i for i in range(3)]
    for m in inbox:
        append(c, "INBOX", m)
    for m in other:
        append(c, "Other", m)
    c.logout()
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 folders="INBOX, Other", max_messages=4))
    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    plan = [l.split("\t") for l in r.out.splitlines()]
    assert [(p[1], p[2], p[4]) for p in plan] == [
        ("INBOX", "1", "fetch"), ("INBOX", "2", "fetch"),
        ("INBOX", "3", "fetch"), ("Other", "1", "fetch"),
        ("Other", "2", "skip"), ("Other", "3", "skip")], r.out
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (4, 0, 6)
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == sorted(inbox)
    assert maildir_messages(env.path(A + "-Maildir", ".Other")) == [other[0]]
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (2, 0, 6)


def test_dry_run_changes_nothing(env):
    u, cfg, msgs = setup(env, 2, keep="no")
    before = env.dovecot.snapshot(u.name)
    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    plan = [l.split("\t") for l in r.out.splitlines()]
    assert [(p[0], p[1], p[2], p[4]) for p in plan] == [
        (A, "INBOX", "1", "fetch+delete"), (A, "INBOX", "2", "fetch+delete")]
    assert env.dovecot.snapshot(u.name) == before
    assert not os.path.exists(env.path(A + "-Maildir"))
    assert not os.path.exists(env.path("state"))


def fs_layout_dovecot(env):
    """A second Dovecot whose mailboxes use LAYOUT=fs, so folder names
    may contain dots (Maildir++ on the server side forbids them)."""
    root = tempfile.mkdtemp(prefix="mfdv", dir="/tmp")
    d = harness.Dovecot(root_dir=root, extra_config=(
        "mail_location = maildir:%s/fs/%%u:LAYOUT=fs\n" % root))
    d.start()
    env.on_cleanup(d.stop)
    os.makedirs(os.path.join(root, "fs"), exist_ok=True)
    os.chown(os.path.join(root, "fs"), *d.owner)
    return d


def test_folders_mirror_to_maildirpp_safely(env):
    d = fs_layout_dovecot(env)
    u = harness.User("mirror", "pw-mirror-5Tq")
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    # Server names (modified UTF-7) and the Maildir++ folder expected.
    folders = [("INBOX", ""), ("Lists/foo", ".Lists.foo"),
               ("Entw&APw-rfe", ".Entwürfe"), ("dots..x", ".dots%2E%2Ex"),
               (".hidden", ".%2Ehidden"), ("a.b", ".a%2Eb")]
    c = imap_client(d, u)
    want = {}
    for name, sub in folders:
        if name != "INBOX":
            typ, resp = c.create('"%s"' % name)
            assert typ == "OK", (name, resp)
        data = b"Subject: in " + name.encode() + b"\n\nhello\n"
        append(c, name, data)
        want[sub] = [data]
    c.logout()
    # The config may name a folder in UTF-8 or in modified UTF-7.
    names = ["INBOX", "Lists/foo", "Entwürfe", "dots..x", ".hidden", "a.b"]
    cfg = env.config(env.account(
        A, "imap", "implicit", u, host=d.host, port=d.ports["imaps"],
        tls_ca_file=d.ca_file, folders=", ".join(names)))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (6, 0, 6), r.out
    md = env.path(A + "-Maildir")
    for sub, msgs in want.items():
        path = os.path.join(md, sub) if sub else md
        assert maildir_messages(path) == msgs, "folder %r" % sub
        if sub:
            assert os.path.isfile(os.path.join(path, "maildirfolder"))
    # Nothing was written outside the Maildir and the state directory.
    top = sorted(os.listdir(env.tmp))
    assert top == sorted(["home", "fetchrc", "state", A + "-Maildir"]), top
    subs = sorted(n for n in os.listdir(md) if n.startswith("."))
    assert subs == sorted(s for s in want if s), subs


def test_flags_and_dates_mirrored(env):
    d = env.dovecot
    u = env.new_user()
    c = imap_client(d, u)
    t1 = int(time.time()) - 3 * 86400
    t2 = int(time.time()) - 40 * 86400
    append(c, "INBOX", b"Subject: seen flagged\n\na\n", r"\Seen \Flagged", t1)
    append(c, "INBOX", b"Subject: answered draft\n\nb\n",
           r"\Answered \Draft", t2)
    append(c, "INBOX", b"Subject: unseen\n\nc\n", "", t1)
    c.logout()
    cfg = env.config(env.account(A, "imap", "implicit", u))
    env.expect(env.run(["-c", cfg]), 0)
    files = maildir_files(env.path(A + "-Maildir"))
    by_subject = {}
    for p in files:
        with open(p, "rb") as f:
            by_subject[f.readline().strip()] = p
    p = by_subject[b"Subject: seen flagged"]
    assert "/cur/" in p and p.endswith(":2,FS"), p
    assert int(os.stat(p).st_mtime) == t1
    p = by_subject[b"Subject: answered draft"]
    assert "/cur/" in p and p.endswith(":2,DR"), p
    assert int(os.stat(p).st_mtime) == t2
    p = by_subject[b"Subject: unseen"]
    assert "/new/" in p and ":2," not in p, p
    assert int(os.stat(p).st_mtime) == t1


def other_client_deleted(env, d, u, cfg):
    """Two messages of ours expire; then another client's message,
    flagged \\Deleted, arrives. Returns the result of our run."""
    c = imap_client(d, u)
    append(c, "INBOX", b"Subject: ours 1\n\n1\n")
    append(c, "INBOX", b"Subject: ours 2\n\n2\n")
    c.logout()
    env.expect(env.run(["-c", cfg]), 0)
    time.sleep(1.2)
    c = imap_client(d, u)
    append(c, "INBOX", b"Subject: theirs\n\n3\n", r"\Deleted")
    c.logout()
    return env.expect(env.run(["-c", cfg]), 0)


def test_other_clients_deleted_message_survives_uid_expunge(env):
    d = env.dovecot
    u = env.new_user()
    cfg = env.config(env.account(A, "imap", "implicit", u, keep="yes",
                                 delete_after="1s"))
    r = other_client_deleted(env, d, u, cfg)
    assert summary(r) == (1, 2, 1), r.out
    left = d.messages(u.name)
    assert left == [b"Subject: theirs\n\n3\n"], left


def test_without_uidplus_nothing_is_expunged_under_foreign_deleted(env):
    d = harness.Dovecot(extra_config=(
        "imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE NAMESPACE\n"))
    d.start()
    env.on_cleanup(d.stop)
    u = harness.User("nouidplus", "pw-nouidplus-3Wd")
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    cfg = env.config(env.account(
        A, "imap", "implicit", u, host=d.host, port=d.ports["imaps"],
        tls_ca_file=d.ca_file, keep="yes", delete_after="1s"))
    r = other_client_deleted(env, d, u, cfg)
    assert summary(r) == (1, 0, 3), r.out
    assert re.search(r"^%s: 2 of them flagged \\Deleted but not expunged: "
                     r".*UIDPLUS" % A, r.out, re.M), r.out
    assert len(d.messages(u.name)) == 3
    # Once the other client takes its \Deleted back, nothing foreign is
    # flagged, and every expired message (all three now) is expunged.
    c = imap_client(d, u)
    c.select("INBOX")
    typ, resp = c.uid("SEARCH", "SUBJECT", "theirs")
    c.uid("STORE", resp[0].decode(), "-FLAGS.SILENT", r"(\Deleted)")
    c.logout()
    time.sleep(1.2)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 3, 0), r.out
    assert d.messages(u.name) == []


def test_uidvalidity_change_deletes_nothing_and_loses_nothing(env):
    d = env.dovecot
    u, cfg, msgs = setup(env, 3, keep="yes", delete_after="1s")
    env.expect(env.run(["-c", cfg]), 0)
    # Recreate the mailbox: Dovecot forgets its UIDs and picks a new
    # UIDVALIDITY (time-based, hence the pause).
    time.sleep(1.2)
    base = d.maildir(u.name)
    for n in os.listdir(base):
        if n.startswith("dovecot"):
            os.unlink(os.path.join(base, n))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert "UIDVALIDITY changed" in r.err, r.err
    assert summary(r) == (3, 0, 3), r.out
    assert sorted(d.messages(u.name)) == sorted(msgs)
    time.sleep(1.2)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 3, 0), r.out
    got = maildir_messages(env.path(A + "-Maildir"))
    assert sorted(set(got)) == sorted(msgs)


def test_mail_arriving_during_a_run_is_not_lost(env):
    d = env.dovecot
    u = env.new_user()
    msgs = []
    for i in range(400):
        data = b"Subject: early %d\n\n" % i + b"%d\n" % i * 2000
        d.deliver(u.name, data)
        msgs.append(data)
    cfg = env.config(env.account(A, "imap", "implicit", u, keep="no"))
    p = subprocess.Popen([env.mailfetch, "-c", cfg], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env.run_env())
    time.sleep(0.15)
    late = []
    c = imap_client(d, u)
    for i in range(5):
        data = b"Subject: late %d\n\nlate\n" % i
        append(c, "INBOX", data)
        late.append(data)
    c.logout()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    got = maildir_messages(env.path(A + "-Maildir"))
    left = d.messages(u.name)
    for m in late:
        assert m in got or m in left, "a message that arrived was lost"
    r = env.expect(env.run(["-c", cfg]), 0)
    assert d.messages(u.name) == []
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == \
        sorted(msgs + late)


def listings(r):
    """The UID FETCH listing commands of a -vv trace, as "FROM:*" (or
    "1:4096", a first fetch's listing sent behind the login)."""
    return re.findall(r"> \S+ UID FETCH (\d+:(?:\*|\d+)) \(UID RFC822.SIZE",
                      r.err)


def test_poll_lists_only_what_is_new(env):
    """A run after a complete one lists nothing when UIDNEXT has not
    moved, only the new UIDs when it has, and the whole folder when a
    recorded message left it (so its record goes) or one is due for
    delete_after; the state file is rewritten only when it changed."""
    d = env.dovecot
    u, cfg, msgs = setup(env, 3)
    state = env.path("state", A + ".state")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (3, 0, 3), r.out
    assert listings(r) == ["1:4096"], r.err
    st = [os.stat(p) if os.path.exists(p) else None
          for p in (state, state + ".journal")]
    assert "\tINBOX\t" in harness.state_text(state)

    # Nothing new: no listing, no fetch, the state (file and journal)
    # untouched.
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 3), r.out
    assert listings(r) == [], r.err
    assert not re.search(r"> \S+ UID FETCH", r.err), r.err
    st2 = [os.stat(p) if os.path.exists(p) else None
           for p in (state, state + ".journal")]
    assert [(x.st_ino, x.st_mtime_ns) if x else None for x in st] == \
        [(x.st_ino, x.st_mtime_ns) if x else None for x in st2]
    r = env.expect(env.run(["-c", cfg, "-v"]), 0)
    assert re.search(r"^%s: INBOX: nothing new, 3 messages kept" % A,
                     r.out, re.M), r.out

    # Two new messages: listed from the UIDNEXT the last run saw.
    c = imap_client(d, u)
    for i in (3, 4):
        data = b"Subject: message %d\n\nbody of %d\n" % (i, i)
        append(c, "INBOX", data)
        msgs.append(data)
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 5), r.out
    assert listings(r) == ["4:*"], r.err
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == \
        sorted(msgs)

    # Another client deletes one: the whole folder is listed once, the
    # record goes, and the next run lists nothing again.
    c.select("INBOX")
    c.uid("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 4), r.out
    assert listings(r) == ["1:*"], r.err
    assert re.search(r"^M\tINBOX\t\d+\t\d+\t2$",
                     harness.state_text(state), re.M) is None
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert listings(r) == [], r.err

    # Mail that arrives after a run with max_messages left some behind
    # is still fetched: that run saved no UIDNEXT past what it skipped.
    for i in (5, 6, 7):
        data = b"Subject: message %d\n\nbody of %d\n" % (i, i)
        append(c, "INBOX", data)
        msgs.append(data)
    c.logout()
    cfg1 = env.config(env.account(A, "imap", "implicit", u,
                                  max_messages="1"), name="max1.rc")
    r = env.expect(env.run(["-c", cfg1]), 0)
    assert summary(r) == (1, 0, 7), r.out
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 7), r.out
    assert listings(r) == ["6:*"], r.err
    got = maildir_messages(env.path(A + "-Maildir"))
    assert sorted(got) == sorted(msgs), "lost or doubled"

    # delete_after: nothing listed until a record is due, then all. The
    # records are made due by writing their download times back an hour
    # (the state file is plain text), not by waiting: a test that waits
    # for a short delete_after depends on how fast the runs before it
    # were.
    cfg2 = env.config(env.account(A, "imap", "implicit", u,
                                  delete_after="1h"), name="da.rc")
    r = env.expect(env.run(["-c", cfg2, "-vv"]), 0)
    assert listings(r) == [] and summary(r) == (0, 0, 7), r
    lines = harness.compact_state(state).split("\n")
    due = str(int(time.time()) - 3601)
    aged = 0
    for i, line in enumerate(lines):
        fld = line.split("\t")
        # The record of the message another client deleted stays (for
        # 30 days, marked gone=): it is not in the folder to be due.
        if fld[0] == "M" and not any(x.startswith("gone=") for x in fld):
            fld[3] = due
            lines[i] = "\t".join(fld)
            aged += 1
    assert aged == 7, lines
    with open(state, "w") as f:
        f.write("\n".join(lines))
    r = env.expect(env.run(["-c", cfg2, "-vv"]), 0)
    assert listings(r) == ["1:*"], r.err
    assert summary(r) == (0, 7, 0), r.out
    assert d.messages(u.name) == []


def test_sigkill_loses_nothing(env):
    """SIGKILL at moments tied to progress (see the POP3 test): while
    bodies stream into tmp/, and after the first rename into new/."""
    d = env.dovecot
    u = env.new_user()
    msgs = []

    def deliver(n):
        for _ in range(n):
            i = len(msgs)
            data = b"Subject: k%d\n\n" % i + (b"%d " % i) * 1500 + b"\n"
            d.deliver(u.name, data)
            msgs.append(data)

    deliver(270)
    cfg = env.config(env.account(A, "imap", "implicit", u, keep="no"))
    md = env.path(A + "-Maildir")
    kills = 0
    for sub, n in (("tmp", 1), ("tmp", 50), ("new", 1), ("tmp", 10),
                   ("new", 1), ("new", 1)):
        deliver(30)
        if env.kill_when(["-c", cfg], os.path.join(md, sub), n):
            kills += 1
        got = maildir_messages(md)
        left = d.messages(u.name)
        assert len(got) == len(set(got)), "a message delivered twice"
        assert all(m in msgs for m in got), "an incomplete file"
        assert set(msgs) <= set(got) | set(left), "a message was lost"
    assert kills == 6, "only %d of 6 runs were killed mid-way" % kills
    env.expect(env.run(["-c", cfg]), 0)
    assert d.messages(u.name) == []
    assert sorted(maildir_messages(md)) == sorted(msgs)


def crash_state(env, folder, sub):
    """Turn the record of the one message of folder into the intent a
    crash between rename and record leaves behind (state.c's format)."""
    path = env.path("state", A + ".state")
    files = maildir_files(env.path(A + "-Maildir", sub) if sub
                          else env.path(A + "-Maildir"))
    assert len(files) == 1, files
    rel = os.path.basename(files[0]).split(":")[0]
    if sub:
        rel = sub + "/" + rel
    out = []
    harness.compact_state(path)
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "M" and fields[1] == folder:
                line = "\t".join(["I"] + fields[1:] + [rel]) + "\n"
            out.append(line)
    with open(path, "w") as f:
        f.write("".join(out))
    return files[0]


def test_crash_between_rename_and_record_is_reconciled(env):
    d = env.dovecot
    u = env.new_user()
    c = imap_client(d, u)
    c.create('"Lists/foo"')
    append(c, "INBOX", b"Subject: inbox\n\n1\n")
    append(c, "Lists/foo", b"Subject: list\n\n2\n")
    c.logout()
    cfg = env.config(env.account(A, "imap", "implicit", u,
                                 folders="INBOX, Lists/foo"))
    env.expect(env.run(["-c", cfg]), 0)
    crash_state(env, "INBOX", "")
    crash_state(env, "Lists/foo", ".Lists.foo")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 2), r.out
    assert len(maildir_files(env.path(A + "-Maildir"))) == 1
    assert len(maildir_files(env.path(A + "-Maildir", ".Lists.foo"))) == 1
    # The records are back: a third run fetches nothing either.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 2), r.out
    # An intent whose file never made it is fetched again.
    gone = crash_state(env, "Lists/foo", ".Lists.foo")
    os.unlink(gone)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 0, 2), r.out
    assert maildir_messages(env.path(A + "-Maildir", ".Lists.foo")) == \
        [b"Subject: list\n\n2\n"]
