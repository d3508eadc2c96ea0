"""The command line for people and for cron: -q, -v, the progress line on a
terminal only, colour and NO_COLOR, --syslog, -j N, usage errors."""

import os
import re
import shlex
import socket
import subprocess

import dnsserver

A = "acct"


def fill(env, n, tag=b"m"):
    u = env.new_user()
    msgs = []
    for i in range(n):
        data = b"Subject: %s %d\n\n" % (tag, i) + b"text %d\n" % i * 50
        env.dovecot.deliver(u.name, data)
        msgs.append(data)
    return u, msgs


def maildir_messages(path):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            for n in os.listdir(d):
                with open(os.path.join(d, n), "rb") as f:
                    out.append(f.read())
    return sorted(out)


def in_pty(env, args, extra_env=None):
    """Run mailfetch under a pseudo-terminal (script(1)); returns what
    the terminal showed, stdout and stderr together."""
    cmd = " ".join(shlex.quote(a) for a in [env.mailfetch] + args)
    e = env.run_env()
    if extra_env:
        e.update(extra_env)
    p = subprocess.run(["script", "-q", "-e", "-c", cmd, "/dev/null"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def test_quiet_prints_nothing_on_success(env):
    u, msgs = fill(env, 3)
    cfg = env.config(env.account(A, "pop3", "implicit", u))
    r = env.expect(env.run(["-q", "-c", cfg]), 0)
    assert r.out == "" and r.err == "", (r.out, r.err)
    assert maildir_messages(env.path(A + "-Maildir")) == sorted(msgs)


def test_quiet_still_prints_errors(env):
    u, msgs = fill(env, 1)
    cfg = env.config(env.account(A, "pop3", "implicit", u,
                                 password="wrong-pw-77"))
    env.secret("wrong-pw-77")
    r = env.expect(env.run(["-q", "-c", cfg]), 77)
    assert r.out == ""
    assert r.err.startswith(A + ": "), r.err


def test_verbose_lists_each_message(env):
    u, msgs = fill(env, 3)
    cfg = env.config(env.account(A, "imap", "implicit", u, max_messages=2))
    r = env.expect(env.run(["-v", "-c", cfg]), 0)
    fetched = re.findall(r"^%s: INBOX \d+: fetched" % A, r.out, re.M)
    skipped = re.findall(r"^%s: INBOX 3: skip: over max_messages 2$" % A,
                         r.out, re.M)
    assert len(fetched) == 2 and len(skipped) == 1, r.out


def test_progress_on_a_terminal_only(env):
    u, msgs = fill(env, 40)
    cfg = env.config(env.account(A, "pop3", "implicit", u))
    rc, screen = in_pty(env, ["-c", cfg])
    assert rc == 0, screen
    assert re.search(r"\r\x1b\[K%s: INBOX \d+/40 messages, .*ETA" % A,
                     screen), repr(screen[:300])
    # Gone when done: the line is cleared before the summary.
    assert re.search(r"\r\x1b\[K%s: 40 fetched" % A, screen), repr(screen)
    # Not a terminal: no progress, no escape sequences.
    env.dovecot.deliver(u.name, b"Subject: one more\n\nx\n")
    r = env.expect(env.run(["-c", cfg]), 0)
    assert "\r" not in r.err and "\x1b" not in r.err + r.out, repr(r.err)


def test_colour_only_without_no_color(env):
    u, msgs = fill(env, 1)
    cfg = env.config(env.account(A, "pop3", "implicit", u,
                                 password="wrong-pw-78"))
    env.secret("wrong-pw-78")
    rc, screen = in_pty(env, ["-c", cfg])
    assert rc == 77 and "\x1b[1;31m" + A + ":" in screen, repr(screen)
    rc, screen = in_pty(env, ["-c", cfg], {"NO_COLOR": "1"})
    assert rc == 77 and "\x1b[" not in screen, repr(screen)
    assert A + ": " in screen


def syslog_lines(env, args):
    """Run mailfetch with args; return (exit status, the datagrams sent
    to the syslog socket). /dev/log is absent here (no syslog daemon),
    so the test binds its own socket there; where a daemon owns
    /dev/log, it uses a private mount namespace instead."""
    sockpath = env.path("log.sock")
    if os.path.exists(sockpath):
        os.unlink(sockpath)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sockpath)
    try:
        cmd = [env.mailfetch] + args
        if os.path.exists("/dev/log"):
            argv = ["unshare", "-m", "sh", "-c",
                    'mount --bind "$0" /dev/log && exec "$@"', sockpath] + cmd
            made = False
        else:
            os.symlink(sockpath, "/dev/log")
            argv = cmd
            made = True
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env.run_env(),
                               stdin=subprocess.DEVNULL, timeout=60)
        finally:
            if made:
                os.unlink("/dev/log")
        got = []
        s.settimeout(0.5)
        try:
            while True:
                got.append(s.recv(4096).decode("utf-8", "replace"))
        except socket.timeout:
            pass
    finally:
        s.close()
    return p.returncode, got


def test_syslog_gets_summary_and_errors(env):
    u, msgs = fill(env, 2)
    good = env.account(A, "pop3", "implicit", u)
    bad = env.account("bad", "pop3", "implicit", u.name,
                      password="wrong-pw-79")
    env.secret("wrong-pw-79")
    cfg = env.config(good + bad)
    rc, got = syslog_lines(env, ["--syslog", "-c", cfg])
    assert rc == 77, rc
    text = "\n".join(got)
    assert re.search(r"mailfetch\[\d+\]: %s: 2 fetched, 0 deleted, 2 left "
                     r"on server" % A, text), text
    assert re.search(r"mailfetch\[\d+\]: bad: .*authentication failed",
                     text), text
    # LOG_MAIL (2) * 8 + LOG_ERR (3) = 19; LOG_INFO (6): 22.
    assert any(g.startswith("<19>") for g in got), got
    assert any(g.startswith("<22>") for g in got), got


def test_log_syslog_in_config_is_per_account(env):
    u, msgs = fill(env, 1)
    cfg = env.config(env.account("loud", "pop3", "implicit", u,
                                 log="syslog") +
                     env.account("plain", "imap", "implicit", u))
    rc, got = syslog_lines(env, ["-c", cfg])
    assert rc == 0, rc
    text = "\n".join(got)
    assert re.search(r"loud: 1 fetched", text), text
    assert "plain:" not in text, text


def test_jobs_same_maildirs_as_serial(env):
    users = [fill(env, 30, tag=b"u%d" % k) for k in range(4)]
    serial = "".join(env.account("s%d" % k, "imap", "implicit", u)
                     for k, (u, _) in enumerate(users))
    parallel = "".join(env.account("p%d" % k, "pop3", "implicit", u)
                       for k, (u, _) in enumerate(users))
    r = env.expect(env.run(["-c", env.config(serial, name="serial")]), 0)
    r = env.expect(env.run(["-j", "4", "-c",
                            env.config(parallel, name="parallel")]), 0)
    lines = r.out.splitlines()
    assert sorted(lines) == sorted("p%d: 30 fetched, 0 deleted, 30 left on "
                                   "server" % k for k in range(4)), r.out
    for k, (u, msgs) in enumerate(users):
        s = maildir_messages(env.path("s%d-Maildir" % k))
        p = maildir_messages(env.path("p%d-Maildir" % k))
        assert p == sorted(msgs) and s == p, "account %d differs" % k


def test_jobs_status_is_first_failure_in_file_order(env):
    u, msgs = fill(env, 2)
    cfg = env.config(
        env.account("a1", "pop3", "implicit", u) +
        env.account("a2", "pop3", "implicit", u.name, password="wrong-80",
                    state_file=env.path("state", "a2.state")) +
        env.account("a3", "pop3", "implicit", u,
                    port=env.dovecot.ports["pop3s"], host="127.0.0.1",
                    tls_ca_file=env.dovecot.wrong_ca_file))
    env.secret("wrong-80")
    r = env.run(["-j", "3", "-c", cfg])
    assert r.rc == 77, r.rc
    for name in ("a2", "a3"):
        assert re.search(r"^%s: " % name, r.err, re.M), r.err
    assert re.search(r"^a1: 2 fetched", r.out, re.M), r.out


def test_usage_errors(env):
    u, msgs = fill(env, 1)
    cfg = env.config(env.account(A, "pop3", "implicit", u))
    for args in (["--no-such-option"], ["-j", "0"], ["-j", "x"],
                 ["--check", "-n"]):
        r = env.run(["-c", cfg] + args)
        assert r.rc == 64, (args, r.rc, r.err)
    r = env.expect(env.run(["-V"]), 0)
    assert re.match(r"^mailfetch \d+\.\d+", r.out), r.out
    r = env.expect(env.run(["-h"]), 0)
    assert "usage: mailfetch" in r.out


def test_no_config_names_both_places_and_how_to_start(env):
    # No -c, and neither default file exists (HOME is empty, no
    # XDG_CONFIG_HOME): both places are named, and the way to begin.
    r = env.expect(env.run([]), 78)
    assert r.out == "", r.out
    xdg = os.path.join(env.home, ".config", "mailfetch", "fetchrc")
    rc = os.path.join(env.home, ".fetchrc")
    lines = r.err.splitlines()
    assert lines[0] == "mailfetch: no config file: looked for %s and %s" % (
        xdg, rc), r.err
    assert "fetchrc.example" in r.err and "fetchrc(5)" in r.err, r.err
    assert "--configure ADDRESS" in r.err, r.err
    for x in lines:
        assert x.startswith("mailfetch: "), r.err
    # With XDG_CONFIG_HOME set, that is the first place named.
    e = env.run_env()
    e["XDG_CONFIG_HOME"] = env.path("xdg")
    p = subprocess.run([env.mailfetch], env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert p.returncode == 78
    assert p.stderr.decode().splitlines()[0] == (
        "mailfetch: no config file: looked for %s and %s" % (
            env.path("xdg", "mailfetch", "fetchrc"), rc)), p.stderr


def test_unknown_host_is_one_clear_sentence(env):
    # The host name is unknown to the DNS server (NXDOMAIN): one line,
    # naming the host once, with what to check; exit 69.
    cfg = env.config(env.account(A, "imap", "implicit", "nobody",
                                 host="imap.example.invalid",
                                 password="Unused-pw-5t"))
    with dnsserver.Dnsmasq() as dns:
        r = env.run(["-c", cfg], extra_env=dns.env())
    env.expect(r, 69)
    assert r.err == ("%s: cannot resolve host name imap.example.invalid: "
                     "Name or service not known; check host\n" % A), r.err
    assert "query[A] imap.example.invalid" in dns.log, dns.log


def test_jobs_output_beyond_pipe_buffers_flows(env):
    # Two accounts whose plan (stdout) and protocol trace (stderr) each
    # pass 64 KiB, the size of a pipe: the parent of -j must drain both
    # pipes of every child, whatever order they fill in, and still print
    # each account's output whole.
    n = 2500
    users = []
    for k in range(2):
        u = env.new_user()
        for i in range(n):
            env.dovecot.deliver(u.name, b"Subject: %d\n\nx\n" % i)
        users.append(u)
    cfg = env.config("".join(env.account("j%d" % k, "pop3", "implicit", u)
                             for k, u in enumerate(users)))
    r = env.expect(env.run(["-n", "-vv", "-j", "2", "-c", cfg],
                           timeout=90), 0)
    assert len(r.out) > 65536 and len(r.err) > 65536, (len(r.out),
                                                        len(r.err))
    for k in range(2):
        plan = [ln for ln in r.out.splitlines()
                if ln.startswith("j%d\t" % k)]
        assert len(plan) == n, (k, len(plan))
        assert len(set(ln.split("\t")[2] for ln in plan)) == n, k
    # Whole: each account's plan lines are one block, not interleaved.
    names = [ln.split("\t")[0] for ln in r.out.splitlines() if "\t" in ln]
    assert names == sorted(names) or names == sorted(names, reverse=True)
    # Each account's trace is one block of stderr too.
    tags = [ln.split(":")[0] for ln in r.err.splitlines()
            if ln.startswith(("j0:", "j1:"))]
    changes = sum(1 for a, b in zip(tags, tags[1:]) if a != b)
    assert changes == 1, changes


def test_mirror_and_folder_item_errors_exit_78(env):
    # Each is refused before anything connects: exit 78, one line
    # "mailfetch: FILE:LINE: KEY: ..." saying what to change, no Maildir.
    u, msgs = fill(env, 1)
    cases = [
        ("pop3", {"mirror": "yes"}, "mirror",
         "yes works only with protocol imap, and [acct] uses pop3; remove "
         "mirror or use protocol imap"),
        ("imap", {"mirror": "yes", "keep": "no"}, "mirror",
         "yes never changes the server, and [acct] has keep = no (line "),
        ("imap", {"mirror": "yes", "delete_after": "30d"}, "mirror",
         "yes never changes the server, and [acct] has delete_after (line "),
        ("imap", {"folders": "*, !"}, "folders",
         "\"!\" alone excludes nothing"),
        ("imap", {"folders": "*, !\\Spam"}, "folders",
         "\"\\Spam\" is not a special-use attribute"),
        ("imap", {"folders": "Lists/*, INBOX, Lists/*"}, "folders",
         "names \"Lists/*\" twice"),
        ("imap", {"folders": "&ANw-ber, \u00dcber"}, "folders",
         "\"&ANw-ber\" and \"\u00dcber\" are one mailbox"),
    ]
    for proto, keys, key, want in cases:
        text = env.account(A, proto, "implicit", u, **keys)
        cfg = env.config(text)
        line = [i + 1 for i, x in enumerate(text.splitlines())
                if x.startswith(key + " = ")][0]
        r = env.expect(env.run(["-c", cfg]), 78)
        prefix = "mailfetch: %s:%d: %s: " % (cfg, line, key)
        assert r.err.startswith(prefix + want), (keys, r.err)
        assert r.err.count("\n") == 1 and r.out == "", (keys, r.err, r.out)
        assert not os.path.exists(env.path(A + "-Maildir")), keys


def test_mirror_no_and_accept_removals_change_nothing_today(env):
    # mirror = no is today's fetch; --accept-removals is accepted (it
    # matters only to a mirror's removals) and changes nothing else.
    u, msgs = fill(env, 2)
    cfg = env.config(env.account(A, "imap", "implicit", u, mirror="no",
                                 folders="INBOX"))
    r = env.expect(env.run(["--accept-removals", "-c", cfg]), 0)
    assert re.search(r"^%s: 2 fetched" % A, r.out, re.M), r.out
    assert maildir_messages(env.path(A + "-Maildir")) == sorted(msgs)
    r = env.expect(env.run(["-h"]), 0)
    assert "--accept-removals" in r.out, r.out
