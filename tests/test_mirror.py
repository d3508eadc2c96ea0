"""Mirror (SPEC "Mirror (IMAP)", issue 14), end to end against two real
servers: the test Dovecot, which offers CONDSTORE and QRESYNC (a run asks
only for what changed), and GNU Mailutils' imap4d, which offers neither
(a run lists every message's flags: the WHOLE path). Most scenarios run
on both (test_X_dovecot and test_X_mailutils call one scenario with a
Server of each kind).

What is proved here: flags another IMAP session changes appear in the
Maildir (info letters, new/ to cur/); an expunge there removes the copy
here; a message a mirror run fetches has the server's flags in that run;
a new mailbox matching `*` appears; a mailbox deleted on the server stays
on disk with a line on stderr; the removal guard (more than half and
more than 20: nothing removed in that folder, one exact stderr line,
exit 0) and --accept-removals; a UIDVALIDITY change (old copies gone,
under the guard; the messages fetched again); --dry-run changes nothing
and prints SPEC's update/remove lines; the summary's two extra counts;
kill -9 at every step of an update/removal pass, then a clean run whose
Maildir equals the server; Gmail-like \\All excluded by !\\All; a user's
local rename (a keyword letter, new/ to cur/) neither lost nor
duplicated; an unchanged mirror polled with no more round trips than
today's "nothing new" poll; the config errors (78) test_cli.py does not
already cover.

Every check compares exact outcomes: the Maildir's messages byte for
byte with their info letters against what the server holds (through an
EXAMINE session: bodies and flags), the summary's counts, the plan's
lines."""

import imaplib
import os
import re
import subprocess
import tempfile
import time

import harness
from test_imap import append, imap_client

A = "acct"

# IMAP flags and their Maildir info letters (SPEC "Mirror (IMAP)").
LETTER = {"\\Seen": "S", "\\Answered": "R", "\\Flagged": "F",
          "\\Draft": "D", "\\Deleted": "T"}


def letters(flags):
    """The info letters of IMAP flags (a string or a sequence), sorted."""
    if isinstance(flags, str):
        flags = flags.split()
    return "".join(sorted(LETTER[f] for f in flags if f in LETTER))


def summary(r, name=A):
    """(fetched, deleted, left, updated, removed) of a mirror account's
    summary line (SPEC: two more counts)."""
    m = re.search(r"^%s: (\d+) fetched, (\d+) deleted, (\d+) left on "
                  r"server, (\d+) updated, (\d+) removed here$"
                  % re.escape(name), r.out, re.M)
    assert m, ("no mirror summary line 'acct: F fetched, D deleted, L "
               "left on server, U updated, R removed here' in %r" % r.out)
    return tuple(int(x) for x in m.groups())


# --- the servers -------------------------------------------------------------

def _uids(c):
    typ, data = c.uid("SEARCH", "ALL")
    assert typ == "OK", data
    return [int(x) for x in data[0].split()] if data[0] else []


def _quote(folder):
    return '"%s"' % folder.replace("\\", "\\\\").replace('"', '\\"')


# A Dovecot that offers CONDSTORE but not QRESYNC: the third path of
# select_sync (UID FETCH ... (CHANGEDSINCE m), expunges found with UID
# SEARCH). Started on first use, shared by the module's tests.
CONDSTORE_ONLY = ("imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE "
                  "IDLE NAMESPACE UIDPLUS CHILDREN LIST-EXTENDED "
                  "SPECIAL-USE CONDSTORE ESEARCH\n")
_condstore = []


def condstore_dovecot():
    if not _condstore:
        d = harness.Dovecot(extra_config=CONDSTORE_ONLY)
        d.start()
        _condstore.append(d)
    return _condstore[0]


class Server:
    """One user on one real server, and what a test does to it through
    IMAP as another client would: add mail, change flags, expunge,
    create and delete mailboxes, and read back what the server holds.
    kind: "dovecot" (CONDSTORE and QRESYNC), "condstore" (a Dovecot
    offering CONDSTORE only), "mailutils" (neither)."""

    def __init__(self, env, kind):
        self.env = env
        self.kind = kind
        if kind == "dovecot":
            self.srv = env.dovecot
            self.user = env.new_user()
        elif kind == "condstore":
            import secrets
            self.srv = condstore_dovecot()
            self.user = harness.User("c%s" % secrets.token_hex(4),
                                     "Pw%sZq" % secrets.token_hex(8))
            self.srv.add_user(self.user.name, self.user.password)
            env.secret(self.user.password, self.user.name)
        else:
            self.srv = env.mailutils
            self.user = env.mailutils_user()

    def config(self, name="fetchrc", **keys):
        """A config file for the user: mirror = yes unless keys say."""
        keys.setdefault("mirror", "yes")
        if self.kind == "dovecot":
            text = self.env.account(A, "imap", "implicit", self.user, **keys)
        elif self.kind == "condstore":
            d = self.srv
            keys.setdefault("tls_ca_file", d.ca_file)
            keys.setdefault("port", d.ports["imaps"])
            keys.setdefault("host", d.host)
            text = self.env.account(A, "imap", "implicit", self.user,
                                    **keys)
        else:
            keys.setdefault("tls_ca_file", self.srv.ca_file)
            text = self.env.account(A, "imap", "implicit", self.user,
                                    server=self.srv.server("implicit"),
                                    **keys)
        return self.env.config(text, name=name)

    def client(self):
        if self.kind in ("dovecot", "condstore"):
            return imap_client(self.srv, self.user)
        return self.srv.client(self.user.name)

    def add(self, msgs, folder="INBOX"):
        """Store msgs (LF line endings) in folder; returns their UIDs in
        order."""
        if self.kind == "mailutils":
            for data in msgs:
                self.srv.deliver(self.user.name, data, folder=folder,
                                 settle=False)
            self.srv.settle(self.user.name, folder)
            uids = [u for u, _ in self.srv.listing(self.user.name, folder)[1]]
            return uids[len(uids) - len(msgs):]
        c = self.client()
        try:
            for data in msgs:
                append(c, folder, data)
            c.select(_quote(folder), readonly=True)
            uids = _uids(c)
        finally:
            c.logout()
        return uids[len(uids) - len(msgs):]

    def store(self, uids, flags, op="+FLAGS.SILENT", folder="INBOX"):
        c = self.client()
        try:
            typ, resp = c.select(_quote(folder))
            assert typ == "OK", resp
            typ, resp = c.uid("STORE", ",".join(str(u) for u in uids), op,
                              "(%s)" % flags)
            assert typ == "OK", resp
        finally:
            c.logout()

    def expunge(self, uids, folder="INBOX"):
        """Another client deletes these messages (and only these: no
        other carries \\Deleted in the tests)."""
        self.store(uids, "\\Deleted", folder=folder)
        c = self.client()
        try:
            c.select(_quote(folder))
            typ, resp = c.expunge()
            assert typ == "OK", resp
        finally:
            c.logout()

    def create(self, folder):
        c = self.client()
        try:
            typ, resp = c.create(_quote(folder))
            assert typ == "OK", resp
        finally:
            c.logout()

    def delete(self, folder):
        c = self.client()
        try:
            typ, resp = c.delete(_quote(folder))
            assert typ == "OK", resp
        finally:
            c.logout()

    def view(self, folder="INBOX"):
        """{uid: (bytes with LF endings, info letters)} of folder, as the
        server serves it now (EXAMINE: changes nothing)."""
        c = self.client()
        try:
            typ, resp = c.select(_quote(folder), readonly=True)
            assert typ == "OK", resp
            if not _uids(c):
                return {}
            typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            assert typ == "OK", data
        finally:
            c.logout()
        out = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode("latin-1")
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)
            out[uid] = (item[1].replace(b"\r\n", b"\n"), letters(flags))
        return out

    def uidvalidity(self, folder="INBOX"):
        c = self.client()
        try:
            c.select(_quote(folder), readonly=True)
            return int(c.untagged_responses["UIDVALIDITY"][0])
        finally:
            c.logout()

    def renumber(self, folder="INBOX"):
        """Make the server give folder a new UIDVALIDITY, every message
        kept (and new UIDs). Returns the messages added doing it (bytes),
        if any."""
        before = self.uidvalidity(folder)
        added = []
        if self.kind in ("dovecot", "condstore"):
            # Forget the UIDs (test_imap does the same): Dovecot picks a
            # new, time-based UIDVALIDITY, hence the pause.
            time.sleep(1.1)
            base = self.srv.maildir(self.user.name, folder)
            for n in os.listdir(base):
                if n.startswith("dovecot"):
                    os.unlink(os.path.join(base, n))
        else:
            # imap4d renumbers a folder, with a new UIDVALIDITY, when a
            # file appears that sorts before a numbered one
            # (harness.MailutilsImap).
            time.sleep(1.1)
            data = b"Subject: sorts first\n\nrenumbers the folder\n"
            base = self.srv.maildir(self.user.name, folder)
            tmp = os.path.join(self.srv.root, "spool", "early")
            with open(tmp, "wb") as f:
                f.write(data)
            os.chown(tmp, *self.srv.owner)
            os.rename(tmp, os.path.join(base, "new",
                                        "1.M1P1Q1.mfearly"))
            self.srv.settle(self.user.name, folder)
            added.append(data)
        after = self.uidvalidity(folder)
        assert after != before, "the server kept UIDVALIDITY %d" % before
        return added


def servers(env):
    return [Server(env, "dovecot"), Server(env, "mailutils")]


# --- the Maildir ----------------------------------------------------------

def local(md):
    """[(bytes, info letters of D F R S T, "new" or "cur", name)] of every
    message file of the Maildir folder md. A file in new/ has no info."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                data = f.read()
            info = n.split(":2,", 1)[1] if ":2," in n else ""
            out.append((data, "".join(sorted(c for c in info
                                             if c in "DFRST")), sub, n))
    return out


def assert_equal_to_server(srv, md, folder="INBOX", what=""):
    """The Maildir folder md holds exactly the server folder's messages,
    byte for byte, each once, with the server's flags as info letters
    (in cur/ when it has any; in new/ only without), and tmp/ is
    empty."""
    want = sorted(srv.view(folder).values())
    files = local(md)
    got = sorted((data, info) for data, info, _, _ in files)
    bodies = [data for data, _, _, _ in files]
    dups = sorted(set(b for b in bodies if bodies.count(b) > 1))
    assert not dups, "%s: in the Maildir more than once: %r" % (
        what, [b[:40] for b in dups])
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    assert not missing and not extra, (
        "%s: the Maildir differs from the server: missing here (bytes, "
        "letters) %r, here but not so on the server %r" % (
            what, [(b[:30], f) for b, f in missing],
            [(b[:30], f) for b, f in extra]))
    for data, info, sub, n in files:
        assert sub == "cur" or not info, "%s: %s has letters in new/" % (
            what, n)
    tmp = os.listdir(os.path.join(md, "tmp"))
    assert tmp == [], "%s: files left in tmp/: %r" % (what, tmp)


def msgs(tag, n, start=0):
    tag = tag.encode()
    return [b"Subject: %s %d\n\nbody of %s %d\n" % (tag, i, tag, i)
            for i in range(start, start + n)]


def maildir(env, sub=""):
    md = env.path(A + "-Maildir")
    return os.path.join(md, sub) if sub else md


# --- flags and expunges from another session ---------------------------------

def flags_and_expunge(env, kind):
    s = Server(env, kind)
    m = msgs("fl", 4)
    uids = s.add(m)
    s.store(uids[3:], "\\Seen")
    cfg = s.config()
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (4, 0, 4, 0, 0), r.out
    md = maildir(env)
    assert_equal_to_server(s, md, what="first run")
    # Another session reads, flags, answers, un-sees and expunges.
    s.store(uids[:1], "\\Seen")
    s.store(uids[1:2], "\\Flagged \\Answered \\Draft")
    s.store(uids[3:], "\\Seen", op="-FLAGS.SILENT")
    s.expunge(uids[2:3])
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 3, 3, 1), r.out
    assert_equal_to_server(s, md, what="after the changes")
    by_body = {d: (info, sub) for d, info, sub, _ in local(md)}
    assert by_body[m[0]] == ("S", "cur"), by_body[m[0]]
    assert by_body[m[1]] == ("DFR", "cur"), by_body[m[1]]
    # A message that loses its only letter stays in cur/ (as :2,).
    assert by_body[m[3]] == ("", "cur"), by_body[m[3]]
    assert m[2] not in by_body
    # Nothing changed since: nothing updated or removed.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 3, 0, 0), r.out
    assert_equal_to_server(s, md, what="third run")
    return s, cfg


def test_flags_and_expunge_from_another_session_dovecot(env):
    s, cfg = flags_and_expunge(env, "dovecot")
    # QRESYNC: a run with one change gets that change only (during the
    # EXAMINE), never the whole folder's flags.
    s.store(s.add(msgs("more", 1)), "\\Flagged")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 0, 4, 0, 0), r.out
    uids = sorted(s.view())
    s.store(uids[:1], "\\Deleted")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 4, 1, 0), r.out
    sent = re.findall(r"^%s: > (.*)$" % A, r.err, re.M)
    assert [c for c in sent if re.match(r"A\d+ EXAMINE \"INBOX\" \(QRESYNC "
                                        r"\(\d+ \d+\)\)$", c)], sent
    assert not [c for c in sent if "FETCH 1:* (FLAGS)" in c], sent
    got = [l for l in re.findall(r"^%s: < (.*)$" % A, r.err, re.M)
           if re.match(r"\* \d+ FETCH", l)]
    assert len(got) == 1 and "UID %d" % uids[0] in got[0], got
    assert_equal_to_server(s, maildir(env), what="a \\Deleted flag")
    by_body = {d: info for d, info, _, _ in local(maildir(env))}
    assert sorted(by_body.values()).count("ST") == 1, by_body


def test_flags_and_expunge_from_another_session_condstore(env):
    s, cfg = flags_and_expunge(env, "condstore")
    # CONDSTORE without QRESYNC: the changed flags with CHANGEDSINCE,
    # never the whole folder's.
    uids = sorted(s.view())
    s.store(uids[:1], "\\Draft")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, 3, 1, 0), r.out
    sent = re.findall(r"^%s: > (.*)$" % A, r.err, re.M)
    assert [c for c in sent if re.search(r"UID FETCH 1:\* \(FLAGS\) "
                                         r"\(CHANGEDSINCE \d+\)$", c)], sent
    assert not [c for c in sent if "QRESYNC" in c or
                re.search(r"FETCH 1:\* \(FLAGS\)$", c)], sent
    assert_equal_to_server(s, maildir(env), what="CHANGEDSINCE")


def test_removal_guard_condstore(env):
    removal_guard(env, "condstore")


def test_flags_and_expunge_from_another_session_mailutils(env):
    s, cfg = flags_and_expunge(env, "mailutils")
    # No CONDSTORE: the whole folder's flags are listed.
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    sent = re.findall(r"^%s: > (.*)$" % A, r.err, re.M)
    assert [c for c in sent if re.search(r"UID FETCH 1:\* \(FLAGS\)$", c)], \
        sent
    assert not [c for c in sent if "QRESYNC" in c or "CHANGEDSINCE" in c], \
        sent


# --- a message fetched by a mirror run --------------------------------------

def fetched_with_flags(env, kind):
    s = Server(env, kind)
    m = msgs("new", 3)
    uids = s.add(m)
    s.store(uids[:1], "\\Seen \\Flagged")
    s.store(uids[1:2], "\\Answered")
    cfg = s.config()
    r = env.expect(env.run(["-c", cfg]), 0)
    # Delivered with its flags: not counted as updated as well.
    assert summary(r) == (3, 0, 3, 0, 0), r.out
    assert_equal_to_server(s, maildir(env), what="first run")
    by_body = {d: (info, sub) for d, info, sub, _ in local(maildir(env))}
    assert by_body == {m[0]: ("FS", "cur"), m[1]: ("R", "cur"),
                       m[2]: ("", "new")}, by_body
    # Its flags were recorded as given: the next run changes nothing.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 3, 0, 0), r.out
    # A message that arrives with flags, beside a flag change.
    more = msgs("later", 1)
    s.store(s.add(more), "\\Draft")
    s.store(uids[2:3], "\\Seen")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 0, 4, 1, 0), r.out
    assert_equal_to_server(s, maildir(env), what="second fetch")


def test_fetched_message_has_server_flags_dovecot(env):
    fetched_with_flags(env, "dovecot")


def test_fetched_message_has_server_flags_mailutils(env):
    fetched_with_flags(env, "mailutils")


# --- mailboxes that appear and disappear --------------------------------------

def folders_come_and_go(env, kind):
    s = Server(env, kind)
    s.create("Work")
    inbox, work = msgs("inbox", 2), msgs("work", 2)
    s.add(inbox)
    s.add(work, "Work")
    cfg = s.config(folders="*")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (4, 0, 4, 0, 0), r.out
    assert_equal_to_server(s, maildir(env), what="INBOX")
    assert_equal_to_server(s, maildir(env, ".Work"), "Work", what="Work")
    # A mailbox created on the server is picked up by the next run.
    s.create("Lists/dev")
    dev = msgs("dev", 3)
    s.add(dev, "Lists/dev")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (3, 0, 7, 0, 0), r.out
    assert_equal_to_server(s, maildir(env, ".Lists.dev"), "Lists/dev",
                           what="the new mailbox")
    # A mailbox deleted on the server stays here, untouched, and a line
    # on stderr says so; it is not an error.
    kept = local(maildir(env, ".Work"))
    # Left out by the config while the server still has it: not mirrored
    # any more, the local copy kept.
    excl = env.expect(env.run(["-c", s.config(name="ex.rc",
                                              folders="*, !Work")]), 0)
    assert summary(excl) == (0, 0, 5, 0, 0), excl.out
    assert local(maildir(env, ".Work")) == kept, "the local copy changed"
    s.delete("Work")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 5, 0, 0), r.out
    lines = [l for l in r.err.splitlines() if l.startswith(A + ": Work: ")]
    assert len(lines) == 1, ("want one stderr line 'acct: Work: ...' "
                             "saying the mailbox is gone from the server "
                             "and kept here, got %r" % r.err)
    assert re.search(r"\bserver\b", lines[0]), lines
    assert local(maildir(env, ".Work")) == kept, "the local copy changed"
    # That line is for a mailbox the server lost, not for one the config
    # left out.
    assert lines[0] not in excl.err.splitlines(), (
        "with folders = *, !Work (Work still on the server) the run said "
        "%r" % lines[0])
    r = env.expect(env.run(["-c", cfg]), 0)
    assert local(maildir(env, ".Work")) == kept


def test_folders_appear_and_disappear_dovecot(env):
    folders_come_and_go(env, "dovecot")


def test_folders_appear_and_disappear_mailutils(env):
    folders_come_and_go(env, "mailutils")


# --- the removal guard ---------------------------------------------------------

GUARD = ("%s: INBOX: %d of %d messages are gone from the server; nothing "
         "removed here; run with --accept-removals to remove them")


def removal_guard(env, kind):
    s = Server(env, kind)
    uids = s.add(msgs("g", 42))
    cfg = s.config()
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (42, 0, 42, 0, 0), r.out
    md = maildir(env)
    # Exactly half (21 of 42), more than 20: not more than half, so
    # they go.
    s.expunge(uids[:21])
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 21, 0, 21), r.out
    assert "--accept-removals" not in r.err, r.err
    assert_equal_to_server(s, md, what="21 of 42")
    # 21 more arrive; then 22 of 42 go: more than half and more than 20.
    uids = sorted(s.view())
    new = s.add(msgs("h", 21))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (21, 0, 42, 0, 0), r.out
    before = local(md)
    s.expunge(uids + new[:1])
    for i in range(2):
        r = env.expect(env.run(["-c", cfg]), 0)
        assert summary(r) == (0, 0, 20, 0, 0), r.out
        assert r.err.splitlines() == [GUARD % (A, 22, 42)], (
            "want exactly the guard's line on stderr, got %r" % r.err)
        assert local(md) == before, "a copy changed under the guard"
    r = env.expect(env.run(["-c", cfg, "--accept-removals"]), 0)
    assert summary(r) == (0, 0, 20, 0, 22), r.out
    assert "gone from the server" not in r.err, r.err
    assert_equal_to_server(s, md, what="--accept-removals")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 20, 0, 0), r.out
    assert r.err == "", r.err


def test_removal_guard_dovecot(env):
    removal_guard(env, "dovecot")


def test_removal_guard_mailutils(env):
    removal_guard(env, "mailutils")


# --- UIDVALIDITY ---------------------------------------------------------------

def uidvalidity_change(env, kind):
    s = Server(env, kind)
    m = msgs("uv", 3)
    s.store(s.add(m)[:1], "\\Seen")
    cfg = s.config()
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (3, 0, 3, 0, 0), r.out
    added = s.renumber()
    n = 3 + len(added)
    # The old copies are gone (3 of 3, not more than 20: no guard); the
    # messages are fetched again under the new UIDVALIDITY.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (n, 0, n, 0, 3), r.out
    assert_equal_to_server(s, maildir(env), what="after UIDVALIDITY")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, n, 0, 0), r.out

    # Under the guard: 25 of 25 copies gone, none removed, the messages
    # fetched again; --accept-removals then removes the old copies.
    s2 = Server(env, kind)
    m2 = msgs("uw", 25)
    s2.add(m2)
    cfg2 = s2.config(name="guard.rc", maildir=env.path("g-Maildir"),
                     state_file=env.path("state", "g.state"))
    r = env.expect(env.run(["-c", cfg2]), 0)
    assert summary(r) == (25, 0, 25, 0, 0), r.out
    added = s2.renumber()
    n = 25 + len(added)
    r = env.expect(env.run(["-c", cfg2]), 0)
    assert summary(r) == (n, 0, n, 0, 0), r.out
    assert GUARD % (A, 25, 25) in r.err.splitlines(), r.err
    got = sorted(d for d, _, _, _ in local(env.path("g-Maildir")))
    assert got == sorted(m2 * 2 + added), "want each old copy and its new one"
    r = env.expect(env.run(["-c", cfg2, "--accept-removals"]), 0)
    assert summary(r)[0] == 0 and summary(r)[4] == 25, r.out
    assert_equal_to_server(s2, env.path("g-Maildir"), what="accepted")


def test_uidvalidity_change_dovecot(env):
    uidvalidity_change(env, "dovecot")


def test_uidvalidity_change_mailutils(env):
    uidvalidity_change(env, "mailutils")


# --- dry run -----------------------------------------------------------------

def snapshot(env):
    """Every file under env.tmp but the config: names and bytes."""
    out = {}
    for rel in harness.tree(env.tmp):
        p = os.path.join(env.tmp, rel)
        if os.path.isfile(p) and not rel.endswith(".rc") and \
                rel != "fetchrc":
            with open(p, "rb") as f:
                out[rel] = f.read()
    return out


def dry_run(env, kind):
    s = Server(env, kind)
    m = msgs("dr", 4)
    uids = s.add(m)
    s.store(uids[:1], "\\Seen")
    cfg = s.config()
    env.expect(env.run(["-c", cfg]), 0)
    s.store(uids[:1], "\\Flagged")
    s.store(uids[1:2], "\\Seen \\Answered")
    s.expunge(uids[2:3])
    new = s.add(msgs("dr-new", 1))
    before = snapshot(env)
    server_before = s.view()
    r = env.expect(env.run(["-c", cfg, "-n"]), 0)
    plan = [l.split("\t") for l in r.out.splitlines()]
    assert all(len(p) == 6 and p[0] == A and p[1] == "INBOX"
               for p in plan), r.out
    acts = {(int(p[2]), p[4], p[5]) for p in plan if p[4] != "keep"}
    want = {(uids[0], "update", "update: flags S -> FS"),
            (uids[1], "update", "update: flags - -> RS"),
            (uids[2], "remove", "remove: gone from the server")}
    assert {a for a in acts if a[1] != "fetch"} == want, r.out
    assert [a[0] for a in acts if a[1] == "fetch"] == new, r.out
    assert re.search(r"^%s: plan: 1 fetch, 0 delete, \d+ keep, 0 skip, "
                     r"2 update, 1 remove$" % A, r.err, re.M), r.err
    assert snapshot(env) == before, "the dry run changed a local file"
    assert s.view() == server_before, "the dry run changed the server"
    # The run it planned does what the plan says.
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 0, 4, 2, 1), r.out
    assert_equal_to_server(s, maildir(env), what="after the plan")


def test_dry_run_dovecot(env):
    dry_run(env, "dovecot")


def test_dry_run_mailutils(env):
    dry_run(env, "mailutils")


# --- a user's local changes ------------------------------------------------------

def user_renames(env, kind):
    s = Server(env, kind)
    m = msgs("ur", 3)
    uids = s.add(m)
    cfg = s.config()
    env.expect(env.run(["-c", cfg]), 0)
    md = maildir(env)
    files = {d: n for d, _, sub, n in local(md)}
    assert len(files) == 3 and all(sub == "new" for _, _, sub, _ in
                                   local(md)), local(md)
    # A mail reader gives message 0 a keyword (letter "a") and moves
    # message 1 to cur/ without letters.
    os.rename(os.path.join(md, "new", files[m[0]]),
              os.path.join(md, "cur", files[m[0]] + ":2,a"))
    os.rename(os.path.join(md, "new", files[m[1]]),
              os.path.join(md, "cur", files[m[1]] + ":2,"))
    s.store(uids[:1], "\\Seen")
    s.store(uids[2:3], "\\Flagged")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 3, 2, 0), r.out
    names = sorted(n for _, _, _, n in local(md))
    want = sorted([files[m[0]] + ":2,Sa", files[m[1]] + ":2,",
                   files[m[2]] + ":2,F"])
    assert names == want, "want %r (the keyword kept), got %r" % (want,
                                                                  names)
    assert sorted(d for d, _, _, _ in local(md)) == sorted(m)
    # The message the user moved goes when the server expunges it.
    s.expunge(uids[1:2])
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 2, 0, 1), r.out
    assert sorted(n for _, _, _, n in local(md)) == sorted(
        [files[m[0]] + ":2,Sa", files[m[2]] + ":2,F"])
    assert os.listdir(os.path.join(md, "tmp")) == []


def test_user_rename_neither_lost_nor_doubled_dovecot(env):
    user_renames(env, "dovecot")


def test_user_rename_neither_lost_nor_doubled_mailutils(env):
    user_renames(env, "mailutils")


def local_flags_replaced(env, kind):
    """SPEC: "Local changes to flags are replaced by the server's at the
    next run" (the server's flags having stayed as they were)."""
    s = Server(env, kind)
    m = msgs("lf", 2)
    uids = s.add(m)
    s.store(uids[:1], "\\Seen")
    cfg = s.config()
    env.expect(env.run(["-c", cfg]), 0)
    md = maildir(env)
    files = {d: (sub, n) for d, _, sub, n in local(md)}
    assert files[m[0]][0] == "cur" and files[m[1]][0] == "new", files
    # A mail reader un-reads message 0 and flags it, and reads message 1
    # (adding a keyword to it); the server's flags stay as they are.
    x = files[m[0]][1]
    os.rename(os.path.join(md, "cur", x),
              os.path.join(md, "cur", x.split(":2,")[0] + ":2,F"))
    y = files[m[1]][1]
    os.rename(os.path.join(md, "new", y), os.path.join(md, "cur", y +
                                                        ":2,Sa"))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert_equal_to_server(s, md, what="local flags changed, server's not")
    names = sorted(n for _, _, _, n in local(md))
    assert names == sorted([x.split(":2,")[0] + ":2,S", y + ":2,a"]), names
    assert summary(r) == (0, 0, 2, 2, 0), r.out


def test_local_flag_changes_replaced_by_server_dovecot(env):
    local_flags_replaced(env, "dovecot")


def test_local_flag_changes_replaced_by_server_mailutils(env):
    local_flags_replaced(env, "mailutils")


# --- kill -9 during an update/removal pass ------------------------------------------

def check_consistent(s, md, m, what):
    """After a kill: every message here is whole and here once, each
    server message is here (no pass removes one the server has), and
    tmp/ is empty (a pass never writes there)."""
    files = local(md)
    bodies = [d for d, _, _, _ in files]
    assert len(bodies) == len(set(bodies)), "%s: a message twice" % what
    assert set(bodies) <= set(m), "%s: a file that is no message" % what
    on_server = {d for d, _ in s.view().values()}
    assert on_server <= set(bodies), "%s: a server message lost" % what
    assert os.listdir(os.path.join(md, "tmp")) == [], what


# The system calls by which a pass changes the disk: the Maildir's
# renames and removals, the syncs, and the state's journal and rewrite.
STEPS = ("renameat2", "renameat", "rename", "linkat", "link", "unlinkat",
         "unlink", "fsync", "fdatasync")


def copy_local(env, src, dst):
    """Copy the Maildir and the state directory of env.tmp from src
    ("" for env.tmp itself) to dst, removing what dst had."""
    import shutil
    for name in (A + "-Maildir", "state"):
        a = os.path.join(env.tmp, src, name) if src else env.path(name)
        b = os.path.join(env.tmp, dst, name) if dst else env.path(name)
        shutil.rmtree(b, ignore_errors=True)
        shutil.copytree(a, b, symlinks=True)


def test_kill9_at_every_syscall_of_a_pass(env):
    """The same pass (8 updates, new/ to cur/ and within cur/, and 4
    removals) killed by SIGKILL on entry to its k-th call of each of
    STEPS, for every k until a run no longer reaches it: before and
    after every rename, removal and sync of the pass and of the state
    writes after it. Each time from the same local copy and state (the
    server does not change: a mirror never changes it); each kill is
    followed by a clean run, whose Maildir must equal the server, and a
    second that finds nothing left to do."""
    import shutil
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace)"
    s = Server(env, "dovecot")
    m = msgs("s", 20)
    uids = s.add(m)
    cfg = s.config()
    md = maildir(env)
    env.expect(env.run(["-c", cfg]), 0)
    s.store(uids[:4], "\\Seen")
    env.expect(env.run(["-c", cfg]), 0)
    s.store(uids[:4], "\\Flagged")
    s.store(uids[4:8], "\\Answered")
    s.expunge(uids[16:])
    os.mkdir(env.path("snap"))
    copy_local(env, "", "snap")
    # LeakSanitizer cannot work under ptrace (SAN=1 builds): leaks are
    # looked for by the other tests.
    run_env = env.run_env()
    if "ASAN_OPTIONS" in run_env:
        run_env["ASAN_OPTIONS"] = re.sub(r"detect_leaks=\d", "detect_leaks=0",
                                         run_env["ASAN_OPTIONS"])
    points = 0
    for call in STEPS:
        k = 0
        while True:
            k += 1
            p = subprocess.run(
                [strace, "-f", "-qq", "-o", "/dev/null", "-e",
                 "inject=%s:signal=SIGKILL:when=%d" % (call, k),
                 env.mailfetch, "-c", cfg], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=run_env, timeout=60)
            what = "killed at %s #%d" % (call, k)
            if p.returncode == 0:
                # Never reached: the whole pass is done; it must be right.
                assert_equal_to_server(s, md, what=what + " (not reached)")
                copy_local(env, "snap", "")
                break
            assert p.returncode in (-9, 137), (what, p.returncode,
                                               p.stderr[-500:])
            points += 1
            check_consistent(s, md, m, what)
            r = env.expect(env.run(["-c", cfg]), 0)
            assert summary(r)[:3] == (0, 0, 16), (what, r.out)
            assert_equal_to_server(s, md, what="the run after " + what)
            r = env.expect(env.run(["-c", cfg]), 0)
            assert summary(r) == (0, 0, 16, 0, 0), (what, r.out)
            copy_local(env, "snap", "")
    # 8 renames and 4 removals at least, and the syncs.
    assert points >= 14, "only %d kill points were reached" % points
    print("killed at %d system calls" % points)


# --- Gmail-like \All ---------------------------------------------------------------

def special_use_dovecot(env):
    """A Dovecot of the test's own whose mailboxes "All Mail" and "Junk"
    carry the special-use attributes \\All and \\Junk (auto-created)."""
    root = tempfile.mkdtemp(prefix="mfdv", dir="/tmp")
    d = harness.Dovecot(root_dir=root, extra_config=(
        "namespace inbox {\n"
        "  mailbox \"All Mail\" {\n    special_use = \\All\n"
        "    auto = create\n  }\n"
        "  mailbox Junk {\n    special_use = \\Junk\n    auto = create\n"
        "  }\n}\n"))
    d.start()
    env.on_cleanup(d.stop)
    u = harness.User("gmailish", "pw-gmailish-8Rt")
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    return d, u


def test_all_mail_excluded_by_not_all(env):
    d, u = special_use_dovecot(env)
    c = imap_client(d, u)
    inbox = msgs("in", 2)
    junk = msgs("junk", 1)
    for data in inbox:
        append(c, "INBOX", data)
        append(c, "All Mail", data)  # Gmail: every message is in All Mail
    append(c, "Junk", junk[0])
    append(c, "All Mail", junk[0])
    c.logout()
    cfg = env.config(env.account(
        A, "imap", "implicit", u, host=d.host, port=d.ports["imaps"],
        tls_ca_file=d.ca_file, mirror="yes", folders="*, !\\All, !\\Junk"))
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 2, 0, 0), r.out
    sent = re.findall(r"^%s: > (.*)$" % A, r.err, re.M)
    assert not [x for x in sent if "All Mail" in x or "Junk" in x], sent
    assert sorted(os.listdir(maildir(env))) == ["cur", "new", "tmp"]
    assert sorted(d for d, _, _, _ in local(maildir(env))) == sorted(inbox)
    # Without the exclusion, All Mail is one more mailbox.
    cfg = env.config(env.account(
        A, "imap", "implicit", u, host=d.host, port=d.ports["imaps"],
        tls_ca_file=d.ca_file, mirror="yes", folders="*, !\\Junk"),
        name="all.rc")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (3, 0, 5, 0, 0), r.out
    assert sorted(d for d, _, _, _ in local(maildir(env, ".All Mail"))) == \
        sorted(inbox + junk)


# --- round trips -------------------------------------------------------------------

def round_trips(err):
    """How often the client waited for the server: the "> " lines of a
    -vv trace followed directly by a "< " line. Commands sent together
    (pipelined) count once; the unanswered LOGOUT not at all."""
    lines = [l for l in err.splitlines()
             if l.startswith(A + ": > ") or l.startswith(A + ": < ")]
    return sum(1 for a, b in zip(lines, lines[1:])
               if a.startswith(A + ": > ") and b.startswith(A + ": < "))


def test_unchanged_mirror_poll_costs_no_more_round_trips(env):
    """The "nothing new" poll with AUTH=PLAIN (SASL-IR): one round trip
    to log in; for one folder its EXAMINE (behind the login unless a
    mirror, whose EXAMINE carries QRESYNC parameters from the state,
    which loads beside the login): 1 plain, 2 mirror. Two folders or
    more: one round trip more for the pre-check (a STATUS of each folder
    not selected, and a LIST for its delimiter), and no folder opened
    but the one behind the login: 2 either way (before the pre-check: 3
    plain and 4 mirror, a LIST and an EXAMINE per folder but INBOX)."""
    s = Server(env, "dovecot")
    s.create("Lists/dev")
    s.add(msgs("rt", 3))
    s.add(msgs("rt-dev", 2), "Lists/dev")
    for folders, want in (("INBOX", {"no": 1, "yes": 2}),
                          ("INBOX, Lists/dev", {"no": 2, "yes": 2})):
        for mirror in ("no", "yes"):
            tag = "%s-%d" % (mirror, len(folders))
            cfg = s.config(name=tag + ".rc", mirror=mirror, auth="plain",
                           folders=folders,
                           maildir=env.path(tag + "-Maildir"),
                           state_file=env.path("state", tag + ".state"))
            env.expect(env.run(["-c", cfg]), 0)
            env.expect(env.run(["-c", cfg]), 0)
            r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
            n = round_trips(r.err)
            assert n == want[mirror], (
                "mirror = %s, folders = %s: an unchanged poll took %d "
                "round trips, not %d" % (mirror, folders, n, want[mirror]))
            sent = re.findall(r"^%s: > (.*)$" % A, r.err, re.M)
            assert not [c for c in sent if "FETCH" in c], sent
            if mirror == "yes":
                assert summary(r)[3:] == (0, 0), r.out


# --- config errors not in test_cli.py ---------------------------------------------------

def test_mirror_config_errors_and_what_is_allowed(env):
    u = env.new_user()
    cases = [
        # A malformed pattern: neither UTF-8 nor modified UTF-7.
        ({"folders": "INBOX, Lists/\udcff*"}, "folders",
         "is neither UTF-8 nor modified UTF-7"),
        # One mailbox twice, once excluded.
        ({"folders": "INBOX, !inbox"}, "folders", "are one mailbox"),
        ({"mirror": "sometimes"}, "mirror", ""),
    ]
    for keys, key, want in cases:
        text = env.account(A, "imap", "implicit", u, **keys)
        cfg = env.path("fetchrc")
        with open(cfg, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.chmod(cfg, 0o600)
        line = [i + 1 for i, x in enumerate(text.splitlines())
                if x.startswith(key + " = ")][0]
        r = env.expect(env.run(["-c", cfg]), 78)
        prefix = "mailfetch: %s:%d: %s: " % (cfg, line, key)
        assert r.err.startswith(prefix) and want in r.err, (keys, r.err)
        assert not os.path.exists(env.path(A + "-Maildir")), keys
    # A mirror in [defaults] with keep = no in the account: refused too.
    text = ("[defaults]\nmirror = yes\n\n" +
            env.account(A, "imap", "implicit", u, keep="no"))
    r = env.expect(env.run(["-c", env.config(text)]), 78)
    assert "mirror" in r.err and "keep = no" in r.err, r.err
    # delete_after = 0 and keep = yes are what a mirror is: accepted.
    env.dovecot.deliver(u.name, b"Subject: ok\n\nok\n")
    cfg = env.config(env.account(A, "imap", "implicit", u, mirror="yes",
                                 keep="yes", delete_after="0"))
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (1, 0, 1, 0, 0), r.out


def test_failed_directory_sync_saves_no_record_of_the_pass(env):
    """The fsync of cur/ after the pass's renames fails (EIO, injected
    with strace on the Maildir's directories only): the run fails with
    74 and must not save the records the pass changed, because the
    renames may not survive a crash. The crash that loses them is
    played by putting the Maildir back as it was before the run (its
    directories' times too, as a power cut would leave them); the next
    run must then make the Maildir equal to the server again."""
    import shutil
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace)"
    s = Server(env, "dovecot")
    m = msgs("e", 6)
    uids = s.add(m)
    cfg = s.config()
    md = maildir(env)
    env.expect(env.run(["-c", cfg]), 0)
    s.store(uids[:3], "\\Seen")
    env.expect(env.run(["-c", cfg]), 0)
    s.store(uids[:3], "\\Flagged")
    before = os.path.join(env.tmp, "before")
    shutil.copytree(md, before, symlinks=True)
    run_env = env.run_env()
    if "ASAN_OPTIONS" in run_env:
        run_env["ASAN_OPTIONS"] = re.sub(r"detect_leaks=\d", "detect_leaks=0",
                                         run_env["ASAN_OPTIONS"])
    p = subprocess.run(
        [strace, "-f", "-qq", "-o", "/dev/null",
         "-P", os.path.join(md, "cur"), "-P", os.path.join(md, "new"),
         "-e", "trace=fsync", "-e", "inject=fsync:error=EIO:when=1",
         env.mailfetch, "-c", cfg], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=run_env, timeout=60)
    assert p.returncode == 74, (p.returncode, p.stderr[-500:])
    # The renames were not durable: a crash takes them back.
    shutil.rmtree(md)
    shutil.copytree(before, md, symlinks=True)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 6, 3, 0), r.out
    assert_equal_to_server(s, md, what="after the failed sync")


def test_own_pass_does_not_trigger_a_scan(env):
    """The check for flags changed here by hand compares new/ and cur/
    with the time the state was last written; it is made before the
    pass, whose own renames change those directories too. A resync of
    one flag change among 40 messages looks up that message's file only,
    not every record's (counted with strace: file lookups inside cur/ or
    new/). Twice: the second resync follows one whose save only appended
    to the journal (the state file itself untouched since the first
    run), so the journal's time must count."""
    import shutil
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace)"
    s = Server(env, "dovecot")
    m = msgs("o", 40)
    uids = s.add(m)
    cfg = s.config()
    md = maildir(env)
    env.expect(env.run(["-c", cfg]), 0)
    for k in range(2):
        s.store(uids[k:k + 1], "\\Seen")
        log = env.path("strace%d.log" % k)
        run_env = env.run_env()
        if "ASAN_OPTIONS" in run_env:
            run_env["ASAN_OPTIONS"] = re.sub(
                r"detect_leaks=\d", "detect_leaks=0",
                run_env["ASAN_OPTIONS"])
        p = subprocess.run(
            [strace, "-f", "-qq", "-y", "-o", log, "-e",
             "trace=newfstatat,fstatat64,statx,stat,lstat,access,faccessat,"
             "faccessat2",
             env.mailfetch, "-c", cfg], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=run_env, timeout=60)
        assert p.returncode == 0, p.stderr[-500:]
        assert summary(harness.Result([], 0, p.stdout, b"", 0)) == \
            (0, 0, 40, 1, 0), p.stdout
        with open(log) as f:
            calls = f.read().splitlines()
        # Lookups of message files (a name, not the directory itself).
        # (-y shows a directory fd's path: NAME relative to cur/ or new/.)
        looked = [c for c in calls
                  if re.search(r'/(?:cur|new)>, "[^"/]+"|"(?:[^"]*/)?'
                               r'(?:cur|new)/[^"/]+"', c)]
        assert len(looked) <= 8, "resync %d: %d lookups of message " \
            "files:\n%s" % (k + 1, len(looked), "\n".join(looked[:20]))
    assert_equal_to_server(s, md, what="after the resync")
