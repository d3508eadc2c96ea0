"""Time (SPEC "Guarantees, made precise"): outside message bodies each
reply must be complete within `timeout` seconds of its command, however
its bytes trickle in (75); more than 100 000 untagged responses to one
command, or 64 MB of them in a session, end it (76). Message bodies keep
the inactivity timeout alone. Against scripted fake servers.
"""

import test_hostile as h
from fakeserver import FakeServer

A = h.A
DRIP = b"* X\r\n" * 40
SELECT_TAIL = b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n" \
    b"{tag} OK [READ-WRITE] done\r\n"


def test_imap_dripped_reply_ends_at_the_timeout(env):
    # One byte every 1.5 s never trips a 2 s inactivity timeout.
    with h.imap_server(SELECT=(DRIP + SELECT_TAIL, {"drip": 1.5})) as srv:
        o = h.check(env, srv, "imap", 75,
                    r"did not complete its reply within 2 seconds",
                    max_time=15)
    assert o.elapsed < 15, o


def test_imap_dripped_greeting_ends_at_the_timeout(env):
    script = [(None, b"* OK " + b"x" * 40 + b"\r\n", {"drip": 1.5})]
    with FakeServer("script", script) as srv:
        h.check(env, srv, "imap", 75,
                r"did not complete its reply within 2 seconds", max_time=15)


def test_imap_dripped_body_is_only_an_inactivity_matter(env):
    # The body literal trickles in for about 4 s (timeout 2): that is
    # a message body, not a reply's other data, and it arrives.
    head = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(h.IMAP_BODIES[1])
    fetch = head + h.IMAP_BODIES[1] + b")\r\n" + \
        b"* 2 FETCH (UID 2 BODY[] {%d}\r\n%s)\r\n" % (
            len(h.IMAP_BODIES[2]), h.IMAP_BODIES[2]) + b"{tag} OK done\r\n"
    with h.imap_server(FETCH=(fetch, {"drip": 0.2,
                                      "drip_range": (len(head),
                                                     len(head) + 20)})) as srv:
        o = h.check(env, srv, "imap", 0, None)
    assert o.elapsed > 3.5, o
    assert len(h.maildir_messages(env)) == 2


def test_pop3_dripped_listing_ends_at_the_timeout(env):
    uidl = b"+OK\r\n" + b"".join(b"%d uid-%d\r\n" % (i, i)
                                  for i in range(1, 20)) + b".\r\n"
    with h.pop3_server(UIDL=(uidl, {"drip": 1.5})) as srv:
        h.check(env, srv, "pop3", 75,
                r"UIDL.*did not complete its reply within 2 seconds",
                max_time=15)
    # The lines of a listing, each in time, still make a reply that
    # never ends in time.
    with h.pop3_server(UIDL=(uidl, {"drip": 0.4, "drip_range": (5, 200)})) \
            as srv:
        h.check(env, srv, "pop3", 75,
                r"UIDL.*did not complete its reply within 2 seconds",
                max_time=15)


def test_pop3_dripped_body_is_only_an_inactivity_matter(env):
    # 20 bytes of each body at 0.2 s a byte: about 8 s, timeout 2.
    def retr(m):
        return b"+OK\r\n" + h.POP3_BODIES[int(m.group(1)) - 1] + b".\r\n"

    with h.pop3_server(RETR=(retr, {"drip": 0.2, "drip_range": (5, 25)})) \
            as srv:
        o = h.check(env, srv, "pop3", 0, None)
    assert o.elapsed > 7, o
    assert len(h.maildir_messages(env)) == 2


def flood_select(n):
    # n untagged responses in all, the two SELECT needs included.
    return (b"* OK filler\r\n" * (n - 2)) + SELECT_TAIL


def test_imap_untagged_responses_to_one_command(env):
    with h.imap_server(SELECT=flood_select(100000)) as srv:
        h.check(env, srv, "imap", 0, None)
    with h.imap_server(SELECT=flood_select(100001)) as srv:
        h.check(env, srv, "imap", 76,
                r"more than 100000 untagged responses to one command")


def test_imap_untagged_bytes_in_a_session(env):
    # 20 000 000 bytes of untagged data to each command the session
    # sends: CAPABILITY (twice: before and after login), LOGIN and
    # EXAMINE (and LIST, should the client ask). No command gets near a
    # cap of its own (that cap counts responses, not bytes); the session
    # passes 64 MB (2^26 bytes) at EXAMINE, the fourth command.
    mb = b"* XFLOOD {1000000}\r\n" + b"f" * 1000000 + b"\r\n"
    flood = mb * 20
    with h.imap_server(
            CAPABILITY=flood + b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n"
            b"{tag} OK done\r\n",
            LOGIN=flood + b"{tag} OK logged in\r\n",
            LIST=flood + b'* LIST () "/" INBOX\r\n{tag} OK done\r\n',
            SELECT=flood + SELECT_TAIL) as srv:
        h.check(env, srv, "imap", 76,
                r"more than 64 MB of untagged responses in one session",
                timeout=60)
        assert any(" EXAMINE " in l for l in srv.lines), srv.lines
        # (A first fetch's listing went behind the login; no body.)
        assert not any("BODY" in l for l in srv.lines), srv.lines


def test_imap_large_folder_is_listed_in_parts(env):
    n = 120000

    def part(m):
        lo, hi = int(m.group(2)), int(m.group(3))
        return b"".join(b"* %d FETCH (UID %d RFC822.SIZE 10 FLAGS () "
                        b"INTERNALDATE %s)\r\n" % (i, 2 * i, h.DATE)
                        for i in range(lo, hi + 1)) + \
            m.group(1) + b" OK done\r\n"

    select = (b"* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
              b"{tag} OK [READ-ONLY] done\r\n" % n)
    with h.imap_server(SELECT=select,
                       **{r"^(\S+) FETCH (\d+):(\d+) \(UID": part}) as srv:
        cfg = h.config(env, srv, "imap")
        r = env.run(["-c", cfg, "-n"], timeout=120)
        lines = [l for l in srv.lines if " FETCH " in l]
    assert r.rc == 0, r.err[-2000:]
    plan = r.out.splitlines()
    assert len(plan) == n, len(plan)
    assert plan[0].split("\t")[2] == "2" and plan[-1].split("\t")[2] == \
        str(2 * n), (plan[0], plan[-1])
    assert [l.split(" ", 1)[1] for l in lines] == [
        "FETCH 70001:120000 (UID RFC822.SIZE FLAGS INTERNALDATE)",
        "FETCH 20001:70000 (UID RFC822.SIZE FLAGS INTERNALDATE)",
        "FETCH 1:20000 (UID RFC822.SIZE FLAGS INTERNALDATE)"], lines
