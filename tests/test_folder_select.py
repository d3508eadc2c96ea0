"""Folder selection (SPEC "Folder selection (IMAP)", issue 14) against
real servers: `*` and `%` patterns, special-use attributes, `!`
exclusions wherever they stand, mailboxes taken in the order of the
items (each pattern's matches in LIST order), a mailbox matched by
several items fetched once, \\Noselect skipped, a literal name the server
lacks (76) against a pattern matching nothing (0), Maildir++ names
without the personal namespace prefix (a Dovecot of the test's own whose
personal namespace is "INBOX." with "." as delimiter, as on Courier and
Cyrus: it answers NAMESPACE (("INBOX." ".")) NIL NIL), and names in
UTF-8.

Which mailboxes a run took is read twice: from the -vv trace (the
EXAMINE commands, in order) and from the Maildir (each folder's
messages, byte for byte)."""

import os
import re
import tempfile

import harness
from test_imap import append, imap_client, summary
from test_mirror import special_use_dovecot
from test_pop3 import maildir_messages

A = "acct"

# The mailboxes of setup(), in the order Dovecot creates them here, and
# their Maildir++ folders on our side.
BOXES = ["Work", "Lists/dev", "Lists/dev/rust", "Lists/ops",
         "Entw&APw-rfe"]
LOCAL = {"INBOX": "", "Work": ".Work", "Lists/dev": ".Lists.dev",
         "Lists/dev/rust": ".Lists.dev.rust", "Lists/ops": ".Lists.ops",
         "Entw&APw-rfe": ".Entw\u00fcrfe"}


def body(name):
    return b"Subject: in " + name.encode() + b"\n\nhello\n"


def setup(env):
    """A user with one message in INBOX and in each of BOXES (Lists
    itself exists only as a parent: \\Noselect)."""
    u = env.new_user()
    c = imap_client(env.dovecot, u)
    for name in BOXES:
        typ, resp = c.create('"%s"' % name)
        assert typ == "OK", (name, resp)
    for name in ["INBOX"] + BOXES:
        append(c, name, body(name))
    c.logout()
    return u


def examined(r):
    """The mailboxes a -vv run opened, in order."""
    return re.findall(r"^%s: > A\d+ (?:EXAMINE|SELECT) \"([^\"]*)\""
                      % A, r.err, re.M)


def listed(r):
    """The mailboxes the LIST "" "*" of a -vv trace returned, in its
    order (not the LIST of one name that finds a folder's delimiter)."""
    out, tag = [], None
    for line in r.err.splitlines():
        m = re.match(r"^%s: > (A\d+) LIST \"\" \"\*\"" % A, line)
        if m:
            tag = m.group(1)
            continue
        if tag is None:
            continue
        if line.startswith("%s: < %s " % (A, tag)):
            break
        m = re.match(r"^%s: < \* LIST \([^)]*\) (?:\"[^\"]*\"|NIL) "
                     r"(?:\"([^\"]*)\"|(\S+))$" % A, line)
        if m:
            out.append(m.group(1) or m.group(2))
    return out


def run(env, u, folders, rc=0, **keys):
    cfg = env.config(env.account(A, "imap", "implicit", u, folders=folders,
                                 **keys))
    return env.expect(env.run(["-c", cfg, "-vv"]), rc)


def local_folders(env):
    md = env.path(A + "-Maildir")
    if not os.path.isdir(md):
        return {}
    out = {}
    if maildir_messages(md):
        out["INBOX"] = sorted(maildir_messages(md))
    for n in sorted(os.listdir(md)):
        if n.startswith("."):
            out[n] = sorted(maildir_messages(os.path.join(md, n)))
    return out


def want_local(names):
    """local_folders() after fetching names (one message each)."""
    return {("INBOX" if n == "INBOX" else LOCAL[n]): [body(n)]
            for n in names}


def fresh(env):
    import shutil
    shutil.rmtree(env.path(A + "-Maildir"), ignore_errors=True)
    shutil.rmtree(env.path("state"), ignore_errors=True)


def test_star_and_percent(env):
    u = setup(env)
    cases = [
        ("Lists/%", ["Lists/dev", "Lists/ops"]),
        ("Lists/*", ["Lists/dev", "Lists/dev/rust", "Lists/ops"]),
        ("%", ["INBOX", "Work", "Entw&APw-rfe"]),
        ("*", ["INBOX"] + BOXES),
        ("Lists/dev/%", ["Lists/dev/rust"]),
        ("*/rust", ["Lists/dev/rust"]),
        ("%/rust", []),
        ("inbox", ["INBOX"]),
    ]
    for folders, want in cases:
        fresh(env)
        r = run(env, u, folders)
        got = examined(r)
        order = [n for n in (listed(r) or ["INBOX"]) if n in want]
        assert sorted(got) == sorted(want), (
            "folders = %s: want %r opened, got %r" % (folders, want, got))
        assert got == order, ("folders = %s: want LIST order %r, got %r"
                              % (folders, order, got))
        assert summary(r) == (len(want), 0, len(want)), (folders, r.out)
        assert local_folders(env) == want_local(want), folders
        # The \Noselect parent is never opened.
        assert "Lists" not in got, got


def test_noselect_parent_is_listed_and_skipped(env):
    u = setup(env)
    r = run(env, u, "*")
    attrs = re.search(r"^%s: < \* LIST \(([^)]*)\) \S+ \"?Lists\"?$" % A,
                      r.err, re.M)
    # \NonExistent (RFC 5258) where the LIST has RETURN options (the
    # pre-check's STATUS): it implies \Noselect.
    assert attrs and re.search(r"\\no(select|nexistent)\b",
                               attrs.group(1).lower()), (
        "the test needs Lists listed as \\Noselect: %r" % r.err)
    assert "Lists" not in examined(r), examined(r)
    assert not os.path.exists(env.path(A + "-Maildir", ".Lists",
                                       "maildirfolder"))


def test_exclusions_wherever_they_stand(env):
    u = setup(env)
    want = ["INBOX", "Work", "Entw&APw-rfe"]
    for folders in ("*, !Lists/*", "!Lists/*, *", "*, !Lists/%, "
                    "!Lists/dev/rust"):
        fresh(env)
        r = run(env, u, folders)
        order = [n for n in listed(r) if n in want]
        assert sorted(order) == sorted(want), listed(r)
        assert examined(r) == order, (folders, examined(r))
        assert local_folders(env) == want_local(want), folders
    # An exclusion of a name, and of INBOX in another case.
    fresh(env)
    r = run(env, u, "*, !inbox, !Work")
    assert sorted(examined(r)) == sorted(["Lists/dev", "Lists/dev/rust",
                                          "Lists/ops", "Entw&APw-rfe"]), \
        examined(r)


def test_order_of_items_and_matched_twice_fetched_once(env):
    u = setup(env)
    r = run(env, u, "Work, Lists/*, INBOX, Lists/dev, *")
    got = examined(r)
    lists = [n for n in listed(r) if n.startswith("Lists/")]
    rest = [n for n in listed(r) if n in ("Entw&APw-rfe",)]
    assert got == ["Work"] + lists + ["INBOX"] + rest, got
    assert len(got) == len(set(got)), "a mailbox opened twice: %r" % got
    assert summary(r) == (6, 0, 6), r.out
    assert local_folders(env) == want_local(["INBOX"] + BOXES)
    # Another run fetches nothing again.
    r = run(env, u, "Work, Lists/*, INBOX, Lists/dev, *")
    assert summary(r) == (0, 0, 6), r.out


def test_literal_missing_is_76_pattern_matching_nothing_is_0(env):
    u = setup(env)
    r = run(env, u, "*, Nowhere", rc=76)
    assert re.search(r"^%s: .*Nowhere" % A, r.err, re.M), r.err
    fresh(env)
    r = run(env, u, "INBOX, Nowhere/*, \\Archive")
    assert examined(r) == ["INBOX"], examined(r)
    assert summary(r) == (1, 0, 1), r.out


def test_special_use_items(env):
    d, u = special_use_dovecot(env)
    c = imap_client(d, u)
    for name in ("INBOX", "All Mail", "Junk"):
        append(c, name, body(name))
    c.logout()
    base = dict(host=d.host, port=d.ports["imaps"], tls_ca_file=d.ca_file)
    for folders, want in (("\\Junk", ["Junk"]), ("\\all", ["All Mail"]),
                          ("*, !\\All", ["INBOX", "Junk"]),
                          ("\\Junk, INBOX", ["Junk", "INBOX"]),
                          ("\\Sent", [])):
        fresh(env)
        r = run(env, u, folders, **base)
        got = examined(r)
        if folders.startswith("*"):
            want = [n for n in listed(r) if n in want]
        assert got == want, (folders, got)
        # Asked with RETURN (SPECIAL-USE): Dovecot offers LIST-EXTENDED
        # and SPECIAL-USE (and LIST-STATUS: the pre-check's items).
        assert re.search(r"^%s: > A\d+ LIST \"\" \"\*\" RETURN "
                         r"\(SPECIAL-USE( STATUS \([A-Z ]+\))?\)$" % A,
                         r.err, re.M), r.err
        loc = {"INBOX": "INBOX", "All Mail": ".All Mail", "Junk": ".Junk"}
        assert local_folders(env) == {loc[n]: [body(n)] for n in want}, \
            folders


def namespace_dovecot(env):
    """A Dovecot of the test's own whose personal namespace is "INBOX."
    with "." as delimiter (Courier's and Cyrus's layout)."""
    root = tempfile.mkdtemp(prefix="mfdv", dir="/tmp")
    d = harness.Dovecot(root_dir=root, extra_config=(
        "namespace inbox {\n  prefix = INBOX.\n  separator = .\n}\n"))
    d.start()
    env.on_cleanup(d.stop)
    u = harness.User("courierish", "pw-courierish-2Hb")
    d.add_user(u.name, u.password)
    env.secret(u.password, u.name)
    return d, u


def test_personal_namespace_prefix_dropped_on_disk(env):
    d, u = namespace_dovecot(env)
    names = ["INBOX.Lists.dev", "INBOX.Entw&APw-rfe", "INBOX.a&-b"]
    c = imap_client(d, u)
    for name in names:
        typ, resp = c.create('"%s"' % name)
        assert typ == "OK", (name, resp)
    for name in ["INBOX"] + names:
        append(c, name, body(name))
    c.logout()
    base = dict(host=d.host, port=d.ports["imaps"], tls_ca_file=d.ca_file)
    want = {"INBOX": [body("INBOX")],
            ".Lists.dev": [body("INBOX.Lists.dev")],
            ".Entw\u00fcrfe": [body("INBOX.Entw&APw-rfe")],
            ".a&b": [body("INBOX.a&-b")]}
    for folders in ("*", "INBOX, INBOX.Lists.dev, INBOX.Entwürfe, "
                    "INBOX.a&-b", "INBOX, INBOX.*"):
        fresh(env)
        r = run(env, u, folders, **base)
        assert sorted(examined(r)) == sorted(["INBOX"] + names), (
            folders, examined(r))
        assert re.search(r"^%s: < \* NAMESPACE \(\(\"INBOX\.\" \"\.\"\)\)"
                         % A, r.err, re.M), r.err
        assert local_folders(env) == want, (folders, local_folders(env))
        top = sorted(os.listdir(env.path(A + "-Maildir")))
        assert not [n for n in top if n.startswith(".INBOX")], top


def test_utf8_names_and_patterns(env):
    u = setup(env)
    c = imap_client(env.dovecot, u)
    typ, resp = c.create('"R&AOk-sum&AOk-s/2026"')  # Résumés/2026
    assert typ == "OK", resp
    append(c, "R&AOk-sum&AOk-s/2026", body("R&AOk-sum&AOk-s/2026"))
    c.logout()
    loc = dict(LOCAL)
    loc["R&AOk-sum&AOk-s/2026"] = ".R\u00e9sum\u00e9s.2026"
    for folders, want in (
            ("Entw\u00fc*", ["Entw&APw-rfe"]),
            ("Entw&APw-*", ["Entw&APw-rfe"]),
            ("*\u00fcrfe", ["Entw&APw-rfe"]),
            ("R\u00e9sum\u00e9s/%", ["R&AOk-sum&AOk-s/2026"]),
            ("*, !Entw\u00fcrfe, !Lists/*, !Work",
             ["INBOX", "R&AOk-sum&AOk-s/2026"])):
        fresh(env)
        r = run(env, u, folders)
        assert sorted(examined(r)) == sorted(want), (folders, examined(r))
        assert local_folders(env) == {
            ("INBOX" if n == "INBOX" else loc[n]): [body(n)]
            for n in want}, (folders, local_folders(env))
