"""One IMAP mailbox however `folders` writes it (SPEC "Folder selection
(IMAP)"): INBOX in any case, a name in UTF-8 or in modified UTF-7. Naming
one mailbox twice is a config error; writing it another way in a later
run downloads nothing again, also when the state was written by an
earlier mailfetch under the other spelling."""

import os
import re

from test_imap import append, imap_client, summary
from test_pop3 import maildir_messages

A = "acct"
UTF8 = "INBOX/\u00dcn\u00efc\u00f6d\u00e9"  # INBOX/Ünïcödé
UTF7 = "INBOX/&ANw-n&AO8-c&APY-d&AOk-"      # the same, modified UTF-7
SUB = ".INBOX.\u00dcn\u00efc\u00f6d\u00e9"  # its Maildir++ folder


def setup(env, folder="INBOX", n=3):
    u = env.new_user()
    c = imap_client(env.dovecot, u)
    if folder != "INBOX":
        typ, resp = c.create('"%s"' % folder)
        assert typ == "OK", resp
    msgs = [b"Subject: %d in %s\n\nbody\n" % (i, folder.encode())
            for i in range(n)]
    for m in msgs:
        append(c, folder, m)
    c.logout()
    return u, msgs


def config(env, u, folders):
    return env.config(env.account(A, "imap", "implicit", u,
                                  folders=folders))


def state_file(env):
    return env.path("state", A + ".state")


def state_folders(env):
    """The folder names of the state file's F lines."""
    with open(state_file(env), encoding="utf-8") as f:
        return [l.split("\t")[1] for l in f.read().split("\n")
                if l.startswith("F\t")]


def respell_state(env, names):
    """Write the state's folders under other names (old -> new), as an
    earlier mailfetch that keyed the state by the config's spelling did."""
    path = state_file(env)
    assert not os.path.exists(path + ".journal")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, l in enumerate(lines):
        f = l.split("\t")
        if f[0] in ("F", "M", "I") and f[1] in names:
            f[1] = names[f[1]]
            lines[i] = "\t".join(f)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def test_inbox_in_any_case_is_one_mailbox(env):
    u, msgs = setup(env)
    r = env.expect(env.run(["-c", config(env, u, "INBOX")]), 0)
    assert summary(r) == (3, 0, 3), r.out
    for spelling in ("inbox", "Inbox"):
        cfg = config(env, u, spelling)
        r = env.expect(env.run(["-c", cfg, "-n"]), 0)
        acts = [l.split("\t")[4] for l in r.out.splitlines()]
        assert acts == ["keep"] * 3, r.out
        r = env.expect(env.run(["-c", cfg]), 0)
        assert summary(r) == (0, 0, 3), (spelling, r.out)
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == sorted(msgs)
    assert state_folders(env) == ["INBOX"]


def test_utf8_and_modified_utf7_are_one_mailbox(env):
    u, msgs = setup(env, UTF7, 2)
    r = env.expect(env.run(["-c", config(env, u, UTF8)]), 0)
    assert summary(r) == (2, 0, 2), r.out
    md = env.path(A + "-Maildir", SUB)
    assert sorted(maildir_messages(md)) == sorted(msgs)
    for spelling in (UTF7, UTF8):
        r = env.expect(env.run(["-c", config(env, u, spelling)]), 0)
        assert summary(r) == (0, 0, 2), (spelling, r.out)
    assert sorted(maildir_messages(md)) == sorted(msgs)
    # The state knows the folder by its server name.
    assert state_folders(env) == [UTF7]


def test_one_mailbox_named_twice_is_a_config_error(env):
    u, msgs = setup(env)
    for folders, first, second in (
            ("INBOX, inbox", "INBOX", "inbox"),
            ("Sent, %s, %s" % (UTF8, UTF7), UTF8, UTF7)):
        cfg = config(env, u, folders)
        r = env.expect(env.run(["-c", cfg]), 78)
        line = [i for i, l in enumerate(open(cfg).read().split("\n"), 1)
                if l.startswith("folders =")][0]
        assert re.search(r"^mailfetch: %s:%d: folders: " % (
            re.escape(cfg), line), r.err, re.M), r.err
        assert '"%s" and "%s" are one mailbox' % (first, second) in r.err, \
            r.err
        assert not os.path.exists(env.path(A + "-Maildir"))
    assert sorted(env.dovecot.messages(u.name)) == sorted(msgs)


def test_state_of_an_older_spelling_still_counts(env):
    """States written before names were made canonical are keyed by the
    config's spelling; they go on working, and are rewritten under the
    server name."""
    u, msgs = setup(env)
    c = imap_client(env.dovecot, u)
    typ, resp = c.create('"%s"' % UTF7)
    assert typ == "OK", resp
    other = [b"Subject: unicode %d\n\nx\n" % i for i in range(2)]
    for m in other:
        append(c, UTF7, m)
    c.logout()
    cfg = config(env, u, "INBOX, " + UTF8)
    r = env.expect(env.run(["-c", cfg]), 0)
    assert summary(r) == (5, 0, 5), r.out
    respell_state(env, {"INBOX": "inbox", UTF7: UTF8})
    assert state_folders(env) == ["inbox", UTF8]
    r = env.expect(env.run(["-c", config(env, u, "INBOX, " + UTF7)]), 0)
    assert summary(r) == (0, 0, 5), r.out
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == sorted(msgs)
    assert sorted(maildir_messages(env.path(A + "-Maildir", SUB))) == \
        sorted(other)
    assert state_folders(env) == ["INBOX", UTF7]


def test_prefix_dropped_never_maps_a_folder_onto_inbox(env):
    # On Courier or Cyrus (personal namespace "INBOX."), "INBOX.INBOX" is
    # a folder of its own. Without its prefix it is "INBOX", but its mail
    # goes to the subfolder .INBOX, never into the Maildir itself, where
    # the real INBOX's mail is.
    from test_hostile import imap_server
    srv = imap_server(
        CAPABILITY=b"* CAPABILITY IMAP4rev1 NAMESPACE\r\n{tag} OK done\r\n",
        LIST=b'* LIST () "." INBOX.INBOX\r\n{tag} OK done\r\n',
        **{r"^(\S+) NAMESPACE": lambda m: b'* NAMESPACE (("INBOX." ".")) '
           b"NIL NIL\r\n" + m.group(1) + b" OK done\r\n"})
    with srv:
        cfg = env.config(env.account("acct", "imap", "none", "fred",
                                     server=srv, password="pw-fred-1Qa",
                                     folders="INBOX.INBOX"))
        env.secret("pw-fred-1Qa", "fred")
        r = env.expect(env.run(["-c", cfg]), 0)
    md = env.path("acct-Maildir")
    top = [n for d in ("new", "cur") if os.path.isdir(os.path.join(md, d))
           for n in os.listdir(os.path.join(md, d))]
    assert top == [], "INBOX.INBOX's mail went into INBOX: %r" % top
    sub = [n for d in ("new", "cur")
           for n in os.listdir(os.path.join(md, ".INBOX", d))]
    assert len(sub) == 2, (sorted(os.listdir(md)), r.out, r.err)
