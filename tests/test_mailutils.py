"""IMAP fetch against GNU Mailutils' imap4d (harness.MailutilsImap): a
real server without CONDSTORE, QRESYNC, UIDPLUS or ENABLE, with "/" as
hierarchy delimiter and one personal namespace "". Byte-exact delivery
from INBOX and a folder, the leave-a-copy policy, deleting without
UIDPLUS (nothing expunged while a message mailfetch did not mark carries
\\Deleted), and what --check reports.

The imap4d is shared by the module's tests (env.mailutils); each test
has users of its own (env.mailutils_user). Mail is delivered as an MDA
does and the folder then opened read-write once (harness: deliver,
settle), as a mail client would, so that imap4d has numbered it for
good (see harness.MailutilsImap.deliver for why).
"""

import os
import re

from test_pop3 import CORPUS, big_message, maildir_messages, summary

A = "acct"
FOLDER = "Lists/dev"
LOCAL = ".Lists.dev"  # its Maildir++ name on our side


def config(env, u, tls="implicit", **keys):
    m = env.mailutils
    if tls != "none":
        keys.setdefault("tls_ca_file", m.ca_file)
    return env.config(env.account(A, "imap", tls, u, server=m.server(tls),
                                  **keys))


def deliver_all(m, u, msgs, folder="INBOX"):
    for data in msgs:
        m.deliver(u.name, data, folder=folder, settle=False)
    m.settle(u.name, folder)


def server_state(m, u, folders=("INBOX",)):
    """Everything a fetch could change on the server: each folder's
    UIDVALIDITY, UIDs and flags, and its files' names and bytes."""
    out = {}
    for f in folders:
        base = m.maildir(u.name, f)
        files = {}
        for rel in m.message_files(u.name, f):
            with open(os.path.join(base, rel), "rb") as fh:
                files[rel] = fh.read()
        out[f] = (m.listing(u.name, f), files)
    return out


def test_check_reports_no_condstore(env):
    m = env.mailutils
    u = env.mailutils_user()
    deliver_all(m, u, [b"Subject: one\n\n1\n", b"Subject: two\n\n2\n"])
    for tls in ("implicit", "starttls"):
        cfg = config(env, u, tls)
        r = env.expect(env.run(["-c", cfg, "--check"]), 0)
        caps = {}
        for when in ("before", "after"):
            mm = re.search(r"^%s: capabilities %s login: (.+)$" % (A, when),
                           r.out, re.M)
            assert mm, "no capabilities %s login in %r" % (when, r.out)
            caps[when] = set(mm.group(1).upper().split())
        for when, c in caps.items():
            assert "IMAP4REV1" in c and "NAMESPACE" in c, (when, c)
            for ext in ("CONDSTORE", "QRESYNC", "UIDPLUS", "ENABLE"):
                assert ext not in c, (when, ext, c)
        # imap4d offers the same before and after login (mailfetch
        # asks again after STARTTLS); GNU SASL is off, so there is no
        # AUTH= mechanism and mailfetch logs in with LOGIN.
        assert caps["before"] == caps["after"], caps
        assert not [c for c in caps["before"] if c.startswith("AUTH=")]
        how = "STARTTLS" if tls == "starttls" else "implicit TLS"
        assert re.search(r"^%s: connected to 127\.0\.0\.1 port %d \(.*%s"
                         % (A, m.server(tls).port, how), r.out, re.M), r.out
        assert re.search(r"^%s: authenticated as %s \(LOGIN\)$"
                         % (A, re.escape(u.name)), r.out, re.M), r.out
        assert re.search(r"^%s: INBOX: 2 messages$" % A, r.out, re.M), r.out


# imap4d serves this one as a bare "\n": it rebuilds each header and
# loses one that no blank line ends (harness.MailutilsImap.served).
HEADER_ONLY = b"Subject: header only, no blank line\n"


def test_inbox_and_folder_byte_exact_and_keep(env):
    m = env.mailutils
    u = env.mailutils_user()
    m.create_folder(u.name, FOLDER)
    inbox = CORPUS + [big_message(2)]
    lists = [b"Subject: list %d\n\nto the list\n" % i for i in range(3)]
    deliver_all(m, u, inbox)
    deliver_all(m, u, lists, FOLDER)
    m.store(u.name, "2", r"\Seen \Flagged", folder=FOLDER)
    sent = m.served(u.name)
    assert [x for x, y in zip(inbox, sent) if x != y] == [HEADER_ONLY]
    assert sent[inbox.index(HEADER_ONLY)] == b"\n"
    assert m.served(u.name, FOLDER) == lists
    before = server_state(m, u, ("INBOX", FOLDER))
    cfg = config(env, u, "starttls", folders="INBOX, " + FOLDER)
    n = len(inbox) + len(lists)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (n, 0, n), r.out
    # Byte-exact: each file holds what the server sent.
    md = env.path(A + "-Maildir")
    assert sorted(maildir_messages(md)) == sorted(sent)
    assert sorted(maildir_messages(os.path.join(md, LOCAL))) == \
        sorted(lists)
    assert sorted(os.listdir(md)) == [LOCAL, "cur", "new", "tmp"]
    # The server's flags came along: the one \Seen \Flagged message is
    # in cur/ as :2,FS, the others in new/.
    flagged = os.listdir(os.path.join(md, LOCAL, "cur"))
    assert len(flagged) == 1 and flagged[0].endswith(":2,FS"), flagged
    assert len(os.listdir(os.path.join(md, LOCAL, "new"))) == 2
    # keep = yes: nothing changed on the server (EXAMINE, BODY.PEEK),
    # and the next run fetches nothing.
    assert server_state(m, u, ("INBOX", FOLDER)) == before
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, n), r.out
    assert server_state(m, u, ("INBOX", FOLDER)) == before
    assert len(maildir_messages(md)) == len(inbox)
    assert len(maildir_messages(os.path.join(md, LOCAL))) == len(lists)
    # New mail in each folder: only that is fetched.
    new = [b"Subject: later in INBOX\n\nx\n", b"Subject: later, list\n\ny\n"]
    deliver_all(m, u, new[:1])
    deliver_all(m, u, new[1:], FOLDER)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (2, 0, n + 2), r.out
    assert sorted(maildir_messages(md)) == sorted(sent + new[:1])
    assert sorted(maildir_messages(os.path.join(md, LOCAL))) == \
        sorted(lists + new[1:])


def test_keep_no_expunges_without_uidplus(env):
    m = env.mailutils
    u = env.mailutils_user()
    m.create_folder(u.name, FOLDER)
    inbox = [b"Subject: in %d\n\n%d\n" % (i, i) for i in range(4)]
    lists = [b"Subject: list %d\n\n%d\n" % (i, i) for i in range(2)]
    deliver_all(m, u, inbox)
    deliver_all(m, u, lists, FOLDER)
    cfg = config(env, u, keep="no", folders="INBOX, " + FOLDER)
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    # (The deleted and left counts: test_expunge_is_counted.)
    assert summary(r)[0] == 6, r.out
    # Without UIDPLUS there is no UID EXPUNGE: each folder's messages
    # are flagged, no other carries \Deleted, one plain EXPUNGE each.
    assert not re.search(r"> \S+ UID EXPUNGE", r.err), r.err
    assert re.findall(r"> \S+ (UID STORE 1:\d+ \+FLAGS.SILENT "
                      r"\(\\Deleted\)|EXPUNGE)$", r.err, re.M) == [
        "UID STORE 1:4 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
        "UID STORE 1:2 +FLAGS.SILENT (\\Deleted)", "EXPUNGE"], r.err
    assert m.messages(u.name) == [] and m.messages(u.name, FOLDER) == []
    assert m.listing(u.name)[1] == [] and m.listing(u.name, FOLDER)[1] == []
    md = env.path(A + "-Maildir")
    assert sorted(maildir_messages(md)) == sorted(inbox)
    assert sorted(maildir_messages(os.path.join(md, LOCAL))) == \
        sorted(lists)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 0), r.out
    assert len(maildir_messages(md)) == 4


def test_foreign_deleted_blocks_expunge_without_uidplus(env):
    """keep = no on a server without UIDPLUS: while a message mailfetch
    did not mark (too big to fetch here) carries \\Deleted from another
    client, mailfetch fetches and marks its own but expunges nothing;
    once that flag is gone, the next run expunges exactly its own."""
    m = env.mailutils
    u = env.mailutils_user()
    ours = [b"Subject: ours %d\n\n%d\n" % (i, i) for i in range(2)]
    theirs = b"Subject: theirs, too big\n\n" + b"t" * 3000 + b"\n"
    deliver_all(m, u, ours + [theirs])
    m.store(u.name, "3", r"\Deleted")
    cfg = config(env, u, keep="no", max_size="1k")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 3), r.out
    assert re.search(r"^%s: 2 of them flagged \\Deleted but not expunged: "
                     r".*UIDPLUS" % A, r.out, re.M), r.out
    assert not re.search(r"> \S+ (UID )?EXPUNGE", r.err), r.err
    assert m.messages(u.name) == ours + [theirs]
    uidv, listing = m.listing(u.name)
    assert listing == [(1, ("\\Deleted",)), (2, ("\\Deleted",)),
                       (3, ("\\Deleted",))], listing
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == \
        sorted(ours)
    # The other client takes its \Deleted back: the next run expunges
    # (plain EXPUNGE) exactly the two it fetched before.
    m.store(u.name, "3", r"\Deleted", op="-FLAGS.SILENT")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r)[0] == 0, r.out
    assert re.findall(r"> \S+ ((?:UID )?EXPUNGE)$", r.err, re.M) == \
        ["EXPUNGE"], r.err
    assert m.messages(u.name) == [theirs]
    assert m.listing(u.name) == (uidv, [(3, ())])
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == \
        sorted(ours)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (0, 0, 1), r.out


def test_expunge_is_counted(env):
    """imap4d 3.15 confirms each expunged message with "* N EXPUNGED",
    not RFC 3501's "* N EXPUNGE"; the summary must still count the
    messages that are gone as deleted, not as left on the server."""
    m = env.mailutils
    u = env.mailutils_user()
    msgs = [b"Subject: gone %d\n\n%d\n" % (i, i) for i in range(3)]
    deliver_all(m, u, msgs)
    cfg = config(env, u, keep="no")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert m.messages(u.name) == []
    assert summary(r) == (3, 3, 0), r.out
    assert "not expunged" not in r.out, r.out
