"""Mirror passes against scripted fake IMAP servers: what a server that
changes the folder while the pass lists it must not make the mirror do.
"""

import os

from fakeserver import FakeServer

A = "acct"
PW = "pw-fred-1Qa"


def tagged(text):
    return lambda m: m.group(1) + b" " + text + b"\r\n"


def fake_imap(caps, select, more=()):
    """The rules of a fake IMAP server that offers caps (after
    IMAP4rev1; with QRESYNC, ENABLE answers) and answers EXAMINE or
    SELECT with the untagged lines select; the rules more come before
    LOGOUT and the catch-all."""
    rules = [
        (rb"^(\S+) CAPABILITY", lambda m: b"* CAPABILITY IMAP4rev1 " +
         caps + b"\r\n" + m.group(1) + b" OK done\r\n"),
        (rb"^(\S+) (LOGIN|AUTHENTICATE)", tagged(b"OK logged in"))]
    if b"QRESYNC" in caps:
        rules.append((rb"^(\S+) ENABLE", lambda m: b"* ENABLED QRESYNC\r\n" +
                      m.group(1) + b" OK enabled\r\n"))
    rules.append((rb"^(\S+) (EXAMINE|SELECT) ", lambda m: select +
                  m.group(1) + b" OK [READ-ONLY] done\r\n"))
    return rules + list(more) + [
        (rb"^(\S+) LOGOUT", lambda m: b"* BYE bye\r\n" + m.group(1) +
         b" OK bye\r\n", "close"),
        (rb"^(\S+) ", tagged(b"OK done"))]


def run_mirror(env, rules, timeout=60, **keys):
    """A mirror run (-v) of account A against a fake server with rules:
    (the server, with the lines it got; the result)."""
    with FakeServer("respond", greeting=b"* OK fake ready\r\n",
                    rules=rules) as srv:
        cfg = env.config(env.account(A, "imap", "none", "fred", server=srv,
                                     password=PW, mirror="yes", **keys))
        env.secret(PW, "fred")
        return srv, env.run(["-v", "-c", cfg], timeout=timeout)


def write_mirror_state(env, nrec, uidv, uidnext, modseq):
    """A Maildir with nrec copies in cur/ and a state whose records
    (UIDs 1..nrec) name them, as a mirror run leaves them."""
    md = env.path(A + "-Maildir")
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    os.makedirs(env.path("state"), exist_ok=True)
    lines = ["mailfetch-state 1", "G\t1",
             "F\tINBOX\t%d\t%d\t%d" % (uidv, uidnext, modseq)]
    for u in range(1, nrec + 1):
        name = "1700000000.M%dP1.host,S=10" % u
        with open(os.path.join(md, "cur", name + ":2,S"), "wb") as f:
            f.write(b"Subject: x\n\nbody\n")
        lines.append("M\tINBOX\t%d\t1700000000\t%d\tfile=%s\tflags=S"
                     % (uidv, u, name))
    with open(env.path("state", A + ".state"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return md


def test_mirror_gap_search_expunge_between_chunks(env):
    # CONDSTORE without QRESYNC: the UIDs are searched by message number
    # 5000 at a time. UID 10 is expunged (by another client) while the
    # second chunk is asked for: the message numbers shift down by one,
    # so the second chunk's "5001:5001" no longer names UID 5001, which
    # is still on the server. Its copy must not be removed.
    n = 5002
    write_mirror_state(env, n, 7, n + 1, 50)
    state = {"gone": False}

    def search(m):
        lo, hi = int(m.group(2)), int(m.group(3))
        uids = [u for u in range(1, n + 1) if u != n]  # UID n expunged
        out = b""
        if lo > 5000 and not state["gone"]:
            state["gone"] = True
            out += b"* 10 EXPUNGE\r\n"
        if state["gone"]:
            uids.remove(10)
        sel = uids[lo - 1:hi]
        out += b"* SEARCH" + b"".join(b" %d" % u for u in sel) + b"\r\n"
        return out + m.group(1) + b" OK done\r\n"

    rules = fake_imap(
        b"CONDSTORE AUTH=PLAIN",
        b"* FLAGS (\\Seen)\r\n* %d EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
        b"* OK [UIDNEXT %d] n\r\n* OK [HIGHESTMODSEQ 50] h\r\n"
        % (n - 1, n + 1),
        [(rb"^(\S+) UID SEARCH (\d+):(\d+)", search)])
    srv, r = run_mirror(env, rules, timeout=120)
    env.expect(r, 75)
    assert "expunged from the folder while it was listed" in r.err, r.err
    md = env.path(A + "-Maildir")
    assert state["gone"], srv.lines[-10:]
    assert os.path.exists(os.path.join(
        md, "cur", "1700000000.M5001P1.host,S=10:2,S")), \
        "the copy of UID 5001, still on the server, was removed: " + \
        r.out + r.err


def test_mirror_vanished_overlapping_ranges(env):
    # QRESYNC: VANISHED (EARLIER) with ranges that overlap (a set need
    # not be normalised, RFC 9051 section 4.1.1): 1:5000 holds 2:3.
    # Every recorded message 1..10 is gone and all ten copies go.
    n = 10
    md = write_mirror_state(env, n, 7, n + 1, 50)
    srv, r = run_mirror(env, fake_imap(
        b"CONDSTORE QRESYNC ENABLE AUTH=PLAIN",
        b"* FLAGS (\\Seen)\r\n* 0 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
        b"* OK [UIDNEXT 5001] n\r\n* OK [HIGHESTMODSEQ 60] h\r\n"
        b"* VANISHED (EARLIER) 1:5000,2:3\r\n"))
    env.expect(r, 0)
    assert any(" (QRESYNC (7 50))" in x for x in srv.lines), srv.lines
    left = sorted(os.listdir(os.path.join(md, "cur")))
    assert left == [], "copies of vanished messages kept: %r\n%s" % (
        left, r.out)


def test_mirror_folder_named_like_a_shadow_keeps_its_records(env):
    # A server may name a mailbox "Work&AAk-" (modified UTF-7 of "Work"
    # and a TAB). Its records are that folder's, not the old copies of
    # "Work" a guard kept: a pass over "Work" must not forget them (the
    # next run would fetch its messages a second time).
    md = env.path(A + "-Maildir")
    for d in ("", ".Work", ".Work%09"):
        for s in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, d, s), exist_ok=True)
    os.makedirs(env.path("state"), exist_ok=True)
    lines = ["mailfetch-state 1", "G\t1", "F\tWork\t7\t4\t50",
             "F\tWork&AAk-\t7\t4\t50"]
    for u in range(1, 4):
        for key, sub in (("Work", ".Work"), ("Work&AAk-", ".Work%2509")):
            name = "1700000000.M%dP%d.host,S=10" % (u, len(key))
            on_disk = sub.replace("%25", "%")
            with open(os.path.join(md, on_disk, "cur", name + ":2,S"),
                      "wb") as f:
                f.write(b"Subject: x\n\nbody\n")
            lines.append("M\t%s\t7\t1700000000\t%d\tfile=%s/%s\tflags=S"
                         % (key, u, sub, name))
    with open(env.path("state", A + ".state"), "w") as f:
        f.write("\n".join(lines) + "\n")
    srv, r = run_mirror(env, fake_imap(
        b"CONDSTORE QRESYNC ENABLE AUTH=PLAIN",
        b"* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
        b"* OK [UIDNEXT 4] n\r\n* OK [HIGHESTMODSEQ 50] h\r\n"),
        folders="Work")
    env.expect(r, 0)
    assert any("EXAMINE" in x and "Work" in x for x in srv.lines), srv.lines
    with open(env.path("state", A + ".state")) as f:
        text = f.read()
    jp = env.path("state", A + ".state.journal")
    if os.path.exists(jp):
        with open(jp) as f:
            text += f.read()
    kept = [x for x in text.splitlines() if x.startswith("M\tWork&AAk-\t")
            and "X\tWork&AAk-\t7\t" not in text]
    assert len(kept) == 3, text + r.out
    assert "removed here" in r.out and " 0 removed here" in r.out, r.out


def test_mirror_esearch_without_uid_is_refused(env):
    # UID SEARCH RETURN (ALL) must be answered with UIDs (RFC 4731: the
    # UID indicator). An ESEARCH without it gives message numbers, which
    # are no UIDs: taken as UIDs they make copies of messages still on
    # the server look gone. Refused as malformed, nothing removed. The
    # server holds UIDs 3..30 (28 messages): "ALL 1:28" as UIDs would
    # remove the copies of 29 and 30.
    n = 30
    md = write_mirror_state(env, n, 7, n + 1, 50)

    def esearch(m):
        return (b'* ESEARCH (TAG "%s") ALL 1:%d\r\n' % (m.group(1), n - 2)
                + m.group(1) + b" OK done\r\n")

    srv, r = run_mirror(env, fake_imap(
        b"CONDSTORE ESEARCH AUTH=PLAIN",
        b"* FLAGS (\\Seen)\r\n* %d EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
        b"* OK [UIDNEXT %d] n\r\n* OK [HIGHESTMODSEQ 50] h\r\n"
        % (n - 2, n + 1),
        [(rb"^(\S+) UID SEARCH RETURN \(ALL\) ", esearch)]))
    assert any("UID SEARCH RETURN (ALL)" in x for x in srv.lines), srv.lines
    assert len(os.listdir(os.path.join(md, "cur"))) == n, r.out + r.err
    env.expect(r, 65)
    assert "ESEARCH" in r.err, r.err
