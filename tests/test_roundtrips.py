"""Round trips a session does not need (issue 16), seen in the -vv
trace against the test Dovecot: IMAP selects INBOX without a LIST and
does not wait for the answer to LOGOUT; POP3 does not wait for the
answer to QUIT unless a DELE was sent (then the answer decides). A
wrong password still ends the session with 77 before any mailbox
command."""

import re

from test_imap import summary
from test_pop3 import maildir_files

A = "acct"


def sent(err):
    """The commands mailfetch sent, in order (trace lines "> ...")."""
    return [m.group(1) for m in re.finditer(r"^%s: > (.*)$" % A, err, re.M)]


def got(err):
    return [m.group(1) for m in re.finditer(r"^%s: < (.*)$" % A, err, re.M)]


def setup(env, protocol, n=2, **keys):
    u = env.new_user()
    for i in range(n):
        env.dovecot.deliver(u.name, b"Subject: %d\n\nbody %d\n" % (i, i))
    cfg = env.config(env.account(A, protocol, "implicit", u, **keys))
    return u, cfg


def test_imap_no_list_of_inbox_and_no_wait_for_logout(env):
    u, cfg = setup(env, "imap")
    for want in ((2, 0, 2), (0, 0, 2)):  # first fetch, then a poll
        r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
        assert summary(r) == want, r.out
        cmds = sent(r.err)
        assert not [c for c in cmds if " LIST " in c], cmds
        assert any(re.match(r"A\d+ EXAMINE \"INBOX\"$", c) for c in cmds)
        assert re.match(r"A\d+ LOGOUT$", cmds[-1]), cmds
        # Its answer was not read: the trace has no BYE, no OK to it.
        assert not [x for x in got(r.err) if "BYE" in x or
                    "Logout completed" in x], got(r.err)
    assert len(maildir_files(env.path(A + "-Maildir"))) == 2


def test_pop3_quit_not_waited_for_without_dele(env):
    u, cfg = setup(env, "pop3")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 0, 2), r.out
    assert sent(r.err)[-1] == "QUIT"
    assert not [x for x in got(r.err) if "Logging out" in x], got(r.err)


def test_pop3_quit_waited_for_after_dele(env):
    # keep = no: DELE, and QUIT's answer is what commits it.
    u, cfg = setup(env, "pop3", keep="no")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (2, 2, 0), r.out
    assert sent(r.err)[-1] == "QUIT"
    assert [x for x in got(r.err) if "Logging out" in x], got(r.err)
    assert env.dovecot.snapshot(u.name) == {}, "the server still holds mail"


def test_wrong_password_is_77_and_nothing_else_happens(env):
    for protocol in ("imap", "pop3"):
        u, cfg = setup(env, protocol, password="not-the-password-9q")
        r = env.expect(env.run(["-c", cfg, "-vv"]), 77)
        cmds = sent(r.err)
        assert not [c for c in cmds if re.search(
            r"EXAMINE|SELECT|FETCH|STORE|EXPUNGE|STAT|UIDL|LIST|RETR|DELE",
            c)], cmds
        assert maildir_files(env.path(A + "-Maildir")) == []
