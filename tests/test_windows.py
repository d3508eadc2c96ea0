"""A long listing taken in windows (issue 16, memory flat in mailbox
size), against the test Dovecot: the first pass streams the listing and
keeps only the numbers of what may be acted on, the second lists those
again a window at a time (POP3 "UIDL n" and "LIST n", IMAP a UID FETCH
of the set), plans, fetches and records them. MAILFETCH_LIST_WINDOW
makes the window 3 messages here (4096 otherwise), so that ten messages
take four windows; the outcome must be exactly that of a whole
listing."""

import re
import time

import test_hostile
from test_imap import summary
from test_pop3 import maildir_messages, sorted_eq

WINDOW = {"MAILFETCH_LIST_WINDOW": "3"}


def setup(env, proto, n, **keys):
    """A user with n messages and an account named after proto."""
    u = env.new_user()
    msgs = [b"Subject: message %d\n\nbody of %d\n" % (i, i)
            for i in range(n)]
    for data in msgs:
        env.dovecot.deliver(u.name, data)
    cfg = env.config(env.account(proto, proto, "implicit", u, **keys))
    return u, cfg, msgs


def run(env, cfg, *args):
    return env.expect(env.run(["-c", cfg, "-vv"] + list(args),
                              extra_env=WINDOW), 0)


def relisted(r, proto):
    """What the second pass listed again, from a -vv trace: POP3 the
    number of each "UIDL n", IMAP the set of each UID FETCH of sizes
    that names UIDs (not the first pass's "N:*", nor the "1:4096"
    behind the login)."""
    if proto == "pop3":
        return [int(n) for n in re.findall(r"> UIDL (\d+)$", r.err, re.M)]
    return [s for s in re.findall(
        r"> \S+ UID FETCH ([\d:,*]+) \(UID RFC822\.SIZE", r.err)
        if "*" not in s and s != "1:4096"]


def got(env, proto):
    return maildir_messages(env.path(proto + "-Maildir"))


def first_fetch_poll_and_new_mail(env, proto):
    u, cfg, msgs = setup(env, proto, 10)
    r = run(env, cfg)
    assert summary(r, proto) == (10, 0, 10), r.out
    assert sorted_eq(got(env, proto), msgs)
    want = {"pop3": list(range(1, 11)),
            "imap": ["1:3", "4:6", "7:9", "10"]}[proto]
    assert relisted(r, proto) == want, r.err

    # A poll: every window looked up, nothing listed again; -v says
    # why each message stays, from the first pass.
    r = run(env, cfg)
    assert summary(r, proto) == (0, 0, 10), r.out
    assert relisted(r, proto) == [], r.err
    if proto == "pop3":
        kept = re.findall(r"^pop3: \S+: keep: fetched", r.out, re.M)
        assert len(kept) == 10, r.out

    late = [b"Subject: late %d\n\nlate\n" % i for i in range(2)]
    for data in late:
        env.dovecot.deliver(u.name, data)
    r = run(env, cfg)
    assert summary(r, proto) == (2, 0, 12), r.out
    if proto == "pop3":
        assert relisted(r, proto) == [11, 12], r.err
    assert sorted_eq(got(env, proto), msgs + late)


def test_pop3_windowed_first_fetch_poll_and_new_mail(env):
    """Ten messages in windows of three: all fetched byte for byte, each
    listed again once (UIDL 1 to 10); a poll lists nothing again and
    says why each stays; two new ones are the only ones listed again."""
    first_fetch_poll_and_new_mail(env, "pop3")


def test_imap_windowed_first_fetch_poll_and_new_mail(env):
    """As for POP3: the second pass asks for the UIDs in four sets."""
    first_fetch_poll_and_new_mail(env, "imap")


def keep_no(env, proto):
    u, cfg, msgs = setup(env, proto, 8, keep="no")
    r = run(env, cfg)
    assert summary(r, proto) == (8, 8, 0), r.out
    assert env.dovecot.messages(u.name) == []
    assert sorted_eq(got(env, proto), msgs)
    r = run(env, cfg)
    assert summary(r, proto) == (0, 0, 0), r.out


def test_pop3_windowed_keep_no(env):
    """keep = no across three windows: every message fetched and then
    deleted, none left, none lost."""
    keep_no(env, "pop3")


def test_imap_windowed_keep_no(env):
    keep_no(env, "imap")


def max_messages(env, proto):
    u, cfg, msgs = setup(env, proto, 10, max_messages="4")
    for want in ((4, 0, 10), (4, 0, 10), (2, 0, 10), (0, 0, 10)):
        r = run(env, cfg)
        assert summary(r, proto) == want, r.out
    assert sorted_eq(got(env, proto), msgs)


def test_pop3_windowed_max_messages(env):
    """max_messages = 4 spends its budget across windows, oldest first,
    and the next runs take the rest: 4, 4, 2, 0."""
    max_messages(env, "pop3")


def test_imap_windowed_max_messages(env):
    """As for POP3; IMAP must not note the folder recorded whole (its
    UIDNEXT) while messages were left for the next run."""
    max_messages(env, "imap")


def delete_after(env, proto):
    u, cfg, old = setup(env, proto, 7, delete_after="3s")
    r = run(env, cfg)
    t0 = time.monotonic()
    assert summary(r, proto) == (7, 0, 7), r.out
    time.sleep(max(0, t0 + 3.2 - time.monotonic()))
    new = b"Subject: arrives later\n\nlater\n"
    env.dovecot.deliver(u.name, new)
    r = run(env, cfg)
    assert summary(r, proto) == (1, 7, 1), r.out
    assert env.dovecot.messages(u.name) == [new]
    assert sorted_eq(got(env, proto), old + [new])


def test_pop3_windowed_delete_after(env):
    """delete_after across windows: the seven due are deleted (found in
    the first pass, listed again in the second), the new one fetched and
    kept."""
    delete_after(env, "pop3")


def test_imap_windowed_delete_after(env):
    delete_after(env, "imap")


BODY = b"Subject: x\r\n\r\nx\r\n"  # 17 bytes, as LIST says


def uid_server(uids):
    """A fake POP3 server of len(uids) messages, uids[n] the uid of
    message n (read at each command, so a test may change it), that
    answers "UIDL n" and "LIST n" as well as whole listings."""
    def uidl(m):
        if m.group(1):
            n = int(m.group(1))
            return b"+OK %d %s\r\n" % (n, uids[n])
        return b"+OK\r\n" + b"".join(
            b"%d %s\r\n" % x for x in sorted(uids.items())) + b".\r\n"

    def list_(m):
        if m.group(1):
            return b"+OK %d %d\r\n" % (int(m.group(1)), len(BODY))
        return b"+OK\r\n" + b"".join(
            b"%d %d\r\n" % (n, len(BODY)) for n in sorted(uids)) + b".\r\n"

    def stat(m):
        return b"+OK %d %d\r\n" % (len(uids), len(BODY) * len(uids))

    return test_hostile.pop3_server(STAT=stat, UIDL=uidl, LIST=list_,
                                    RETR=b"+OK\r\n" + BODY + b".\r\n")


def run_one_window(env, srv, keep):
    cfg = test_hostile.config(env, srv, "pop3", keep=keep)
    return env.run(["-c", cfg], extra_env={"MAILFETCH_LIST_WINDOW": "1"})


def test_pop3_uid_twice_across_windows_is_65(env):
    """A uid that comes again in another window (a window is one
    message here) is caught as in a whole listing, before anything is
    done with the second message: 65."""
    with uid_server({1: b"one", 2: b"same", 3: b"same"}) as srv:
        r = run_one_window(env, srv, "no")
        assert r.rc == 65, r
        assert "lists uid same for two messages" in r.err, r.err
        # Messages 1 and 2 may have been fetched in their windows (the
        # session then ends without QUIT: no DELE takes effect); the
        # second "same" is neither fetched nor deleted.
        assert "UIDL 3" in srv.lines, srv.lines
        assert "RETR 3" not in srv.lines and "DELE 3" not in srv.lines, \
            srv.lines
        assert "QUIT" not in srv.lines, srv.lines
    assert len(test_hostile.maildir_messages(env)) <= 2


def test_pop3_recorded_uid_twice_across_windows_is_65(env):
    """A uid recorded by an earlier run that the listing names again for
    another message in a later window: found in the first pass, before
    anything is fetched or deleted (a whole listing's check says so
    too)."""
    uids = {1: b"one", 2: b"same"}
    with uid_server(uids) as srv:
        assert run_one_window(env, srv, "yes").rc == 0
    uids[3] = b"same"
    with uid_server(uids) as srv:
        r = run_one_window(env, srv, "yes")
        assert r.rc == 65, r
        assert "lists uid same for two messages" in r.err, r.err
        assert not any(l.startswith(("RETR", "DELE", "UIDL ", "LIST "))
                       for l in srv.lines), srv.lines
