"""Records (SPEC "Guarantees, made precise"): a record of a message
that a listing no longer shows is kept for 30 days, so a message that
comes back is not downloaded twice; against scripted fake servers
(tests/fakeserver.py), one fresh server per run.
"""

import test_hostile as h

A = h.A


def imap_run(env, exists, uids, keys=None):
    """One run against a fake IMAP server whose INBOX (UIDVALIDITY 7,
    UIDNEXT 3) holds uids; returns the server's received lines."""
    select = (b"* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
              b"* OK [UIDNEXT 3] next\r\n{tag} OK [READ-WRITE] done\r\n"
              % exists)
    over = {"SELECT": select,
            "LISTING": h.imap_listing(uids) + b"{tag} OK done\r\n",
            "FETCH": h.imap_bodies(uids) + b"{tag} OK done\r\n"}
    with h.imap_server(**over) as srv:
        h.check(env, srv, "imap", 0, None, keys=keys)
        return list(srv.lines)


def fetches(lines):
    return [l for l in lines if " UID FETCH " in l and "BODY" in l]


def test_imap_message_back_after_an_empty_listing(env):
    # Three runs, same UIDVALIDITY: EXISTS 1, then 0, then 1.
    first = imap_run(env, 1, (1,))
    assert len(fetches(first)) == 1, first
    assert len(h.maildir_messages(env)) == 1
    imap_run(env, 0, ())
    third = imap_run(env, 1, (1,))
    assert fetches(third) == [], third
    assert len(h.maildir_messages(env)) == 1


def test_imap_missing_record_plan(env):
    imap_run(env, 1, (1,))
    imap_run(env, 0, ())
    select = (b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
              b"{tag} OK [READ-ONLY] done\r\n")
    with h.imap_server(SELECT=select, LISTING=h.imap_listing((1,)) +
                       b"{tag} OK done\r\n") as srv:
        cfg = h.config(env, srv, "imap")
        r = env.run(["-c", cfg, "-n"])
    assert r.rc == 0, r.err
    fields = r.out.strip().split("\t")
    assert fields[2] == "1" and fields[4] == "keep", r.out


def pop3_run(env, uids):
    """One run against a fake POP3 server listing uids (of the two
    messages POP3_BODIES); returns the server's received lines."""
    n = len(uids)
    uidl = b"+OK\r\n" + b"".join(b"%d %s\r\n" % (i + 1, u)
                                  for i, u in enumerate(uids)) + b".\r\n"
    lst = b"+OK\r\n" + b"".join(b"%d %d\r\n" % (i + 1, len(h.POP3_BODIES[i]))
                                 for i in range(n)) + b".\r\n"
    with h.pop3_server(STAT=b"+OK %d 0\r\n" % n, UIDL=uidl, LIST=lst) as srv:
        h.check(env, srv, "pop3", 0, None)
        return list(srv.lines)


def test_pop3_message_back_after_an_empty_uidl(env):
    first = pop3_run(env, [b"uid-one"])
    assert [l for l in first if l.startswith("RETR")] == ["RETR 1"], first
    pop3_run(env, [])
    third = pop3_run(env, [b"uid-one"])
    assert not any(l.startswith("RETR") for l in third), third
    assert len(h.maildir_messages(env)) == 1
