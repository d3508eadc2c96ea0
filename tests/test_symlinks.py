"""Planted symbolic links where mailfetch creates files: the state's lock
and journal files, a Maildir's tmp/ (and new/, cur/), and a Maildir++
folder's maildirfolder marker. None is followed: nothing is created or
written where such a link points, and the account fails with 71 (a
local OS error) naming the link; the marker is only warned about."""

import os

A = "acct"


def fill(env, n=2, folder="INBOX"):
    u = env.new_user()
    for i in range(n):
        env.dovecot.deliver(u.name, b"Subject: %d\n\nbody %d\n" % (i, i),
                            folder=folder)
    return u


def files_in(path):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            out += os.listdir(d)
    return out


def test_state_lock_and_journal_symlinks_not_followed(env):
    for which in ("journal", "lock"):
        u = fill(env)
        name = "%s-%s" % (A, which)
        os.makedirs(env.path("state"), exist_ok=True)
        victim = env.path("victim-" + which)
        link = env.path("state", "%s.state.%s" % (name, which))
        os.symlink(victim, link)
        cfg = env.config(env.account(name, "pop3", "implicit", u,
                                     keep="no"), name="rc-" + which)
        r = env.run(["-c", cfg], timeout=60)
        assert r.rc == 71, r
        assert "symbolic link" in r.err and link in r.err, r
        assert not os.path.lexists(victim), "%s: followed" % which
        # (The journal's name may be unlinked when the state is saved:
        # that removes the link, not what it points to.)
        if which == "lock":
            assert os.path.islink(link)
        # Nothing was deleted from the server.
        assert len(env.dovecot.messages(u.name)) == 2, which


def test_maildir_tmp_symlink_refused(env):
    for sub in ("tmp", "new"):
        u = fill(env)
        name = "%s-%s" % (A, sub)
        md = env.path(name + "-Maildir")
        elsewhere = env.path("elsewhere-" + sub)
        os.makedirs(elsewhere)
        for s in ("tmp", "new", "cur"):
            if s == sub:
                os.makedirs(md, exist_ok=True)
                os.symlink(elsewhere, os.path.join(md, s))
            else:
                os.makedirs(os.path.join(md, s))
        cfg = env.config(env.account(name, "pop3", "implicit", u,
                                     keep="no"), name="rc-" + sub)
        r = env.run(["-c", cfg], timeout=60)
        assert r.rc == 71, r
        assert "%s/%s is a symbolic link" % (md, sub) in r.err, r
        assert os.listdir(elsewhere) == [], "written through %s/" % sub
        assert files_in(md) == [], r
        assert len(env.dovecot.messages(u.name)) == 2, sub


def test_maildirfolder_symlink_not_followed(env):
    u = fill(env, 1, folder="Other")
    md = env.path(A + "-Maildir")
    sub = os.path.join(md, ".Other")
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(sub, s))
    victim = env.path("victim-marker")
    os.symlink(victim, os.path.join(sub, "maildirfolder"))
    cfg = env.config(env.account(A, "imap", "implicit", u, folders="Other"))
    r = env.expect(env.run(["-c", cfg], timeout=60), 0)
    assert not os.path.lexists(victim), "maildirfolder was followed"
    assert "maildirfolder is a symbolic link" in r.err, r
    assert len(files_in(sub)) == 1, r
