"""Sizes (SPEC "Guarantees, made precise"): a message that arrives
shorter than the server announced is delivered and recorded but stays
on the server, whatever the policy, unless size_mismatch = delete; a
body that grows past max_size is abandoned. Against scripted fake
servers (tests/fakeserver.py).
"""

import os
import re

import test_hostile as h

A = h.A
DATE = h.DATE
BODY20 = b"Subject: x\r\n\r\nshort!"  # 20 bytes, as the server counts
assert len(BODY20) == 20


def imap_short_server():
    """INBOX with UID 1 (RFC822.SIZE 5017, sent as {0}) and UID 2
    (RFC822.SIZE 5017, sent as a 20-byte literal)."""
    listing = b"".join(
        b"* %d FETCH (UID %d RFC822.SIZE 5017 FLAGS () INTERNALDATE %s)\r\n"
        % (u, u, DATE) for u in (1, 2))
    bodies = (b"* 1 FETCH (UID 1 BODY[] {0}\r\n)\r\n"
              b"* 2 FETCH (UID 2 BODY[] {20}\r\n" + BODY20 + b")\r\n")
    return h.imap_server(LISTING=listing + b"{tag} OK done\r\n",
                         FETCH=bodies + b"{tag} OK done\r\n")


def deletions(lines):
    return [l for l in lines if " STORE " in l or "EXPUNGE" in l or
            l.startswith("DELE")]


def test_imap_short_bodies_are_kept(env):
    with imap_short_server() as srv:
        o = h.check(env, srv, "imap", 0, None, keys={"keep": "no"})
        assert deletions(srv.lines) == [], srv.lines
    got = sorted(h.maildir_messages(env))
    assert got == [b"", BODY20.replace(b"\r\n", b"\n")], got
    warn = [l for l in o.err.splitlines() if "size mismatch" in l]
    assert len(warn) == 2, o.err
    assert re.match(r"acct: 1 .*announced 5017 bytes and sent 0;", warn[0]), \
        warn
    assert re.match(r"acct: 2 .*announced 5017 bytes and sent 20;", warn[1]), \
        warn
    assert "2 fetched, 0 deleted, 2 left on server" in \
        o.out, o.out
    # The next run keeps them too, and the plan says why.
    with imap_short_server() as srv:
        o = h.check(env, srv, "imap", 0, None, keys={"keep": "no"})
        assert deletions(srv.lines) == [], srv.lines
        assert not any("BODY" in l for l in srv.lines), srv.lines
    with imap_short_server() as srv:
        cfg = h.config(env, srv, "imap", keep="no", delete_after="1s")
        r = env.run(["-c", cfg, "-n"])
    assert r.rc == 0, r.err
    plan = [l.split("\t") for l in r.out.splitlines()]
    assert [(p[2], p[4], p[5]) for p in plan] == [
        ("1", "keep", "keep: size mismatch (announced 5017, received 0)"),
        ("2", "keep", "keep: size mismatch (announced 5017, received 20)"),
    ], r.out


def test_imap_short_bodies_deleted_with_size_mismatch_delete(env):
    with imap_short_server() as srv:
        o = h.check(env, srv, "imap", 0, None,
                    keys={"keep": "no", "size_mismatch": "delete"})
        assert any(" UID STORE " in l for l in srv.lines), srv.lines
        assert any("UID EXPUNGE" in l for l in srv.lines), srv.lines
    assert "size mismatch" in o.err, o.err
    assert len(h.maildir_messages(env)) == 2


def pop3_short_server():
    """Two messages; LIST says 5000 for the first, RETR sends it empty."""
    def retr(m):
        if m.group(1) == b"1":
            return b"+OK\r\n.\r\n"
        return b"+OK\r\n" + h.POP3_BODIES[1] + b".\r\n"

    return h.pop3_server(LIST=b"+OK\r\n1 5000\r\n2 %d\r\n.\r\n"
                         % len(h.POP3_BODIES[1]), RETR=retr)


def test_pop3_short_body_is_kept(env):
    with pop3_short_server() as srv:
        o = h.check(env, srv, "pop3", 0, None, keys={"keep": "no"})
        assert [l for l in srv.lines if l.startswith("DELE")] == \
            ["DELE 2"], srv.lines
    assert re.search(r"^acct: uid-one: size mismatch: the server announced "
                     r"5000 bytes and sent 0;", o.err, re.M), o.err
    assert sorted(h.maildir_messages(env)) == sorted(
        [b"", h.POP3_BODIES[1].replace(b"\r\n", b"\n")])
    # Later runs keep it as well (the fake server still lists message
    # 2, stored and recorded: that one goes).
    with pop3_short_server() as srv:
        h.check(env, srv, "pop3", 0, None, keys={"keep": "no"})
        assert deletions(srv.lines) == ["DELE 2"], srv.lines
        assert not any(l.startswith("RETR") for l in srv.lines)


def test_pop3_short_body_deleted_with_size_mismatch_delete(env):
    with pop3_short_server() as srv:
        h.check(env, srv, "pop3", 0, None,
                keys={"keep": "no", "size_mismatch": "delete"})
        assert sorted(l for l in srv.lines if l.startswith("DELE")) == \
            ["DELE 1", "DELE 2"], srv.lines


def test_pop3_message_without_final_newline_is_no_mismatch(env):
    # 7 bytes on the server, no final line end; POP3 adds CRLF.
    def retr(m):
        return b"+OK\r\nA: b\r\n\r\nx\r\n.\r\n"

    with h.pop3_server(STAT=b"+OK 1 0\r\n", UIDL=b"+OK\r\n1 u1\r\n.\r\n",
                       LIST=b"+OK\r\n1 9\r\n.\r\n", RETR=retr) as srv:
        o = h.check(env, srv, "pop3", 0, None, keys={"keep": "no"})
        assert "DELE 1" in srv.lines, srv.lines
    assert "mismatch" not in o.err, o.err


def test_body_past_max_size_is_abandoned(env):
    big = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 3000
    # IMAP: a literal of 3 MB where 24 bytes were announced.
    fetch = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n" % (len(big), big)
    with h.imap_server(FETCH=fetch + h.imap_bodies((2,)) +
                       b"{tag} OK done\r\n") as srv:
        o = h.check(env, srv, "imap", 76, r"1 in INBOX: the server announced "
                    r"23 bytes but sent more than max_size \(1048576\)",
                    keys={"keep": "no", "max_size": "1M"})
        assert deletions(srv.lines) == [], srv.lines
        assert not any(l.endswith("LOGOUT") for l in srv.lines)
    assert h.maildir_messages(env) == []
    assert os.listdir(env.path(A + "-Maildir", "tmp")) == []
    # POP3: a body that never ends.
    with h.pop3_server(RETR=(b"+OK\r\n" + big, "hold")) as srv:
        h.check(env, srv, "pop3", 76, r"uid-one: the server announced 24 "
                r"bytes but sent more than max_size", max_time=10,
                keys={"keep": "no", "max_size": "1M"})
        assert deletions(srv.lines) == [], srv.lines
        assert "QUIT" not in srv.lines
    assert h.maildir_messages(env) == []
    assert os.listdir(env.path(A + "-Maildir", "tmp")) == []


def imap_one_server(uid, body, announced):
    """INBOX with one message: RFC822.SIZE announced, BODY[] as body."""
    listing = (b"* 1 FETCH (UID %d RFC822.SIZE %d FLAGS () INTERNALDATE "
               b"%s)\r\n" % (uid, announced, DATE))
    fetch = b"* 1 FETCH (UID %d BODY[] {%d}\r\n%s)\r\n" % (
        uid, len(body), body)
    return h.imap_server(
        SELECT=b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
               b"{tag} OK [READ-WRITE] done\r\n",
        LISTING=listing + b"{tag} OK done\r\n",
        FETCH=fetch + b"{tag} OK done\r\n",
        EXPUNGE=b"* 1 EXPUNGE\r\n{tag} OK done\r\n")


def test_imap_bare_lf_counts_as_one_byte(env):
    # The size the server announces counts the literal's bytes; a line
    # that ends in a bare LF is one byte there, not two (SPEC "Sizes").
    # Exactly max_size bytes, as announced: fetched whole.
    body = b"Subject: lf\n\n" + b"z" * 1048561 + b"\n\n"
    assert len(body) == 1048576
    with imap_one_server(1, body, len(body)) as srv:
        o = h.check(env, srv, "imap", 0, None,
                    keys={"keep": "no", "max_size": "1M"})
        assert any(" UID STORE " in l for l in srv.lines), srv.lines
    assert h.maildir_messages(env) == [body], o.err
    assert "mismatch" not in o.err and "max_size" not in o.err, o.err
    # Two bytes announced beyond the 20 sent: short, though the 3 bare
    # LFs would make up for them were each counted as CRLF.
    short = b"Subject: x\n\nshort!!\n"
    assert len(short) == 20
    with imap_one_server(2, short, 22) as srv:
        o = h.check(env, srv, "imap", 0, None, keys={"keep": "no"})
        assert deletions(srv.lines) == [], srv.lines
    assert re.search(r"2 in INBOX: size mismatch: the server announced 22 "
                     r"bytes and sent 20;", o.err), o.err


def test_pop3_without_uidl_short_body_is_deleted_and_says_so(env):
    # keep = no on a server without UIDL: what arrived short cannot be
    # recorded, so kept it would be delivered again by every run (SPEC
    # "No duplicates" wins over "Sizes"): it is delivered and deleted,
    # with a warning that gives both sizes and says why.
    def retr(m):
        if m.group(1) == b"1":
            return b"+OK\r\n.\r\n"
        return b"+OK\r\n" + h.POP3_BODIES[1] + b".\r\n"

    over = {"UIDL": b"-ERR no UIDL here\r\n",
            "LIST": b"+OK\r\n1 5000\r\n2 %d\r\n.\r\n" % len(h.POP3_BODIES[1]),
            "RETR": retr}
    with h.pop3_server(**over) as srv:
        o = h.check(env, srv, "pop3", 0, None, keys={"keep": "no"})
        assert sorted(l for l in srv.lines if l.startswith("DELE")) == \
            ["DELE 1", "DELE 2"], srv.lines
        assert "QUIT" in srv.lines, srv.lines
    assert re.search(r"^acct: -: size mismatch: the server announced 5000 "
                     r"bytes and sent 0; delivered, and deleted from the "
                     r"server: without UIDL it cannot be recorded, so it "
                     r"cannot be kept without being downloaded again",
                     o.err, re.M), o.err
    assert sorted(h.maildir_messages(env)) == sorted(
        [b"", h.POP3_BODIES[1].replace(b"\r\n", b"\n")])

GROWN = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 1200  # ~1.2 MB


def grown_imap_server(first_run):
    """UID 1 announced at 23 bytes; on the first run its FETCH sends
    1.2 MB. Later runs answer the FETCH of UID 2 alone."""
    if first_run:
        fetch = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n" % (
            len(GROWN), GROWN) + h.imap_bodies((2,))
    else:
        fetch = b"* 2 FETCH (UID 2 BODY[] {%d}\r\n%s)\r\n" % (
            len(h.IMAP_BODIES[2]), h.IMAP_BODIES[2])
    return h.imap_server(FETCH=fetch + b"{tag} OK done\r\n",
                         EXPUNGE=b"* 2 EXPUNGE\r\n{tag} OK done\r\n")


def grown_pop3_server():
    """Message 1 (uid-one) announced at 24 bytes, RETR sends 1.2 MB;
    message 2 announced at its size."""
    def retr(m):
        if m.group(1) == b"1":
            return b"+OK\r\n" + GROWN + b".\r\n"
        return b"+OK\r\n" + h.POP3_BODIES[1] + b".\r\n"

    return h.pop3_server(RETR=retr, LIST=b"+OK\r\n1 24\r\n2 %d\r\n.\r\n"
                         % len(h.POP3_BODIES[1]))


def plan_of(env, srv, proto, keys):
    cfg = h.config(env, srv, proto, **keys)
    r = env.run(["-c", cfg, "-n"])
    assert r.rc == 0, r.err
    return [tuple(l.split("\t")[i] for i in (2, 4, 5))
            for l in r.out.splitlines()]


def test_body_past_max_size_is_skipped_by_later_runs(env):
    # SPEC "Sizes": a body that grows past max_size is abandoned, and
    # the message is skipped and kept: the run that finds it ends (76),
    # later runs fetch the others and succeed, and never delete it.
    keys = {"keep": "no", "max_size": "1M"}
    skip = "skip: grew past max_size (received more than 1048576)"
    for proto in ("imap", "pop3"):
        uid1 = "1" if proto == "imap" else "uid-one"
        srv_of = ((lambda first: grown_imap_server(first)) if proto == "imap"
                  else (lambda first: grown_pop3_server()))
        state = env.path("state", A + ".state")
        for p in (state, state + ".journal"):
            if os.path.exists(p):
                os.unlink(p)
        maildir = env.path(A + "-Maildir")
        for d in ("new", "cur", "tmp"):
            p = os.path.join(maildir, d)
            for n in (os.listdir(p) if os.path.isdir(p) else []):
                os.unlink(os.path.join(p, n))
        # Run 1, as before: abandoned, 76, nothing of it stored.
        with srv_of(True) as srv:
            o = h.check(env, srv, proto, 76, r"%s(?: in INBOX)?: the server "
                        r"announced \d+ bytes but sent more than max_size "
                        r"\(1048576\).*later runs skip it" % uid1, keys=keys)
            assert deletions(srv.lines) == [], srv.lines
        assert h.maildir_messages(env) == []
        assert os.listdir(os.path.join(maildir, "tmp")) == []
        # The plan says why it is skipped.
        with srv_of(False) as srv:
            plan = plan_of(env, srv, proto, keys)
        assert plan[0] == (uid1, "skip", skip), plan
        assert plan[1][1] == "fetch+delete", plan
        # Run 2: message 2 arrives, message 1 is neither fetched nor
        # deleted, and the run succeeds.
        with srv_of(False) as srv:
            o = h.check(env, srv, proto, 0, None, keys=keys)
            if proto == "imap":
                fetches = [l for l in srv.lines if " UID FETCH " in l
                           and "1:*" not in l]
                assert fetches and all(" UID FETCH 2 " in l
                                       for l in fetches), srv.lines
                stores = [l for l in srv.lines if " UID STORE " in l]
                assert stores and all(" UID STORE 2 " in l
                                      for l in stores), srv.lines
            else:
                assert [l for l in srv.lines if l.startswith("RETR")] == \
                    ["RETR 2"], srv.lines
                assert deletions(srv.lines) == ["DELE 2"], srv.lines
        body2 = (h.IMAP_BODIES[2] if proto == "imap"
                 else h.POP3_BODIES[1]).replace(b"\r\n", b"\n")
        assert h.maildir_messages(env) == [body2]
        assert "1 fetched" in o.out, o.out
        # Run 3: still skipped, still not deleted.
        with srv_of(False) as srv:
            h.check(env, srv, proto, 0, None, keys=keys)
            if proto == "pop3":
                assert "DELE 1" not in srv.lines, srv.lines
                assert not any(l.startswith("RETR 1") for l in srv.lines)
            else:
                assert not any(" UID STORE 1 " in l for l in srv.lines)
        with open(state) as f:
            text = f.read()
        assert re.search(r"^M\t\S+\t\d+\t\d+\t%s\tgrew=1048576$" % uid1,
                         text, re.M), text
