"""Tests of the documentation and the install: the man pages lint clean
under mandoc and document every config key and option; `make install`
puts the binary and both pages where PREFIX, DESTDIR and MANDIR say; the
README's crontab example works as written.
"""

import os
import re
import stat
import subprocess

import harness

PAGES = ("mailfetch.1", "fetchrc.5")
MSG1 = (b"From: Cron One <one@example.org>\nTo: u@example.org\n"
        b"Subject: cron one\nMessage-ID: <cron1@example.org>\n\nOne.\n")
MSG2 = (b"From: Cron Two <two@example.org>\nTo: u@example.org\n"
        b"Subject: cron two\nMessage-ID: <cron2@example.org>\n\nTwo,\n"
        b"in two lines.\n")
CRON_FIELD = r"[0-9*/,-]+"
CRON_LINE = re.compile(r"^\s*((?:%s\s+){5})(\S.*)$" % CRON_FIELD)


def read(env, name):
    with open(os.path.join(env.root, name), encoding="utf-8") as f:
        return f.read()


def config_keys(env):
    """The keys cmd/config.c knows, from its table of keys."""
    keys = re.findall(r'\[K_\w+\]\s*=\s*(?:\w+\()?\s*\{?\s*"(\w+)"',
                      read(env, "cmd/config.c"))
    assert len(keys) >= 26, "found only %r in cmd/config.c" % keys
    return keys


# --- the man pages -------------------------------------------------------------

def test_mandoc_lint(env):
    """mandoc -Tlint reports nothing at warning level or above."""
    for page in PAGES:
        path = os.path.join(env.root, page)
        assert os.path.isfile(path), "%s is missing" % page
        try:
            p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", path],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        except FileNotFoundError:
            raise AssertionError("mandoc is not installed "
                                 "(apt-get install mandoc)")
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        assert p.returncode == 0 and out == "", \
            "mandoc -Tlint -W warning %s (%d):\n%s" % (page, p.returncode,
                                                       out)


def test_pages_render(env):
    """Each page renders with its name, section and main sections."""
    want = {
        "mailfetch.1": ("MAILFETCH(1)", "SYNOPSIS", "DESCRIPTION",
                        "OPTIONS", "EXIT STATUS", "FILES", "EXAMPLES",
                        "SEE ALSO", "STANDARDS", "CAVEATS"),
        "fetchrc.5": ("FETCHRC(5)", "DESCRIPTION", "ACCOUNT KEYS",
                      "EXAMPLES", "SEE ALSO"),
    }
    for page, heads in want.items():
        p = subprocess.run(["mandoc", "-Tascii", os.path.join(env.root,
                                                                page)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        text = re.sub(r".\x08", "", p.stdout.decode("ascii", "replace"))
        lines = text.split("\n")
        assert lines[0].startswith(heads[0]), lines[0]
        for h in heads[1:]:
            assert h in lines, "%s has no section %s" % (page, h)


def test_fetchrc5_documents_every_key(env):
    """Every key of cmd/config.c has an entry in fetchrc(5) and in
    fetchrc.example."""
    page = read(env, "fetchrc.5")
    example = read(env, "fetchrc.example")
    for k in config_keys(env):
        assert re.search(r"^\.It Cm %s No = " % re.escape(k), page, re.M), \
            "fetchrc.5 has no entry for %s" % k
        assert re.search(r"^# %s = " % re.escape(k), example, re.M), \
            "fetchrc.example does not document %s" % k


def test_mailfetch1_documents_every_option(env):
    """Every option of cmd/main.c, long and short, is in mailfetch(1)'s
    OPTIONS and every short one in its SYNOPSIS; every exit status of
    SPEC.md has an entry."""
    main = read(env, "cmd/main.c")
    page = read(env, "mailfetch.1")
    longs = re.findall(r'\{ "([\w-]+)", (?:no|required)_argument, NULL, '
                       r"('\w'|OPT_\w+) \}", main)
    assert len(longs) >= 7, "found only %r in cmd/main.c" % longs
    m = re.search(r'getopt_long\(argc, argv, "([^"]+)"', main)
    assert m, "no getopt_long option string in cmd/main.c"
    shorts = m.group(1).replace(":", "")
    opts = page[page.index(".Sh OPTIONS"):page.index(".Ss Output")]
    synopsis = page[page.index(".Sh SYNOPSIS"):page.index(".Sh DESCRIPTION")]
    for name, _ in longs:
        assert re.search(r"^\.It .*Fl \\-%s\b" % re.escape(name), opts,
                         re.M), "OPTIONS has no --%s" % name
    for c in shorts:
        assert re.search(r"^\.It Fl %s\b" % c, opts, re.M), \
            "OPTIONS has no -%s" % c
        assert re.search(r"^\.Op Fl (\w*%s\w*|%s Ar \w+)$" % (c, c),
                         synopsis, re.M), "SYNOPSIS has no -%s" % c
    status = page[page.index(".Sh EXIT STATUS"):page.index(".Sh EXAMPLES")]
    codes = re.findall(r"^\.It (\d+)$", status, re.M)
    assert codes == ["64", "65", "69", "70", "71", "74", "75", "76", "77",
                     "78"], codes


# --- make install -------------------------------------------------------------

def make_install(env, dest, *args):
    """make install into dest, without rebuilding the binary under test."""
    binary = os.path.join(env.build, "mailfetch")
    p = subprocess.run(["make", "-s", "-C", env.root, "-o", binary,
                        "BUILD=" + env.build, "DESTDIR=" + dest] +
                       list(args) + ["install"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    assert p.returncode == 0, "make install failed (%d):\n%s" % (
        p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace"))


def same_file(a, b, mode):
    with open(a, "rb") as f, open(b, "rb") as g:
        assert f.read() == g.read(), "%s differs from %s" % (b, a)
    got = stat.S_IMODE(os.stat(b).st_mode)
    assert got == mode, "%s has mode %o, not %o" % (b, got, mode)


def test_make_install(env):
    dest = env.path("dest")
    make_install(env, dest)
    found = harness.tree(dest)
    want = ["usr", "usr/local", "usr/local/bin", "usr/local/bin/mailfetch",
            "usr/local/lib", "usr/local/lib/systemd",
            "usr/local/lib/systemd/user",
            "usr/local/lib/systemd/user/mailfetch-oneshot.service",
            "usr/local/lib/systemd/user/mailfetch.service",
            "usr/local/lib/systemd/user/mailfetch.timer",
            "usr/local/share", "usr/local/share/doc",
            "usr/local/share/doc/mailfetch",
            "usr/local/share/doc/mailfetch/README.md",
            "usr/local/share/doc/mailfetch/fetchrc.example",
            "usr/local/share/man",
            "usr/local/share/man/man1",
            "usr/local/share/man/man1/mailfetch.1",
            "usr/local/share/man/man5", "usr/local/share/man/man5/fetchrc.5"]
    assert found == want, "installed: %r" % found
    same_file(os.path.join(env.build, "mailfetch"),
              os.path.join(dest, "usr/local/bin/mailfetch"), 0o755)
    for page, sec in (("mailfetch.1", "man1"), ("fetchrc.5", "man5")):
        same_file(os.path.join(env.root, page),
                  os.path.join(dest, "usr/local/share/man", sec, page), 0o644)
    same_file(os.path.join(env.root, "fetchrc.example"),
              os.path.join(dest, "usr/local/share/doc/mailfetch",
                           "fetchrc.example"), 0o644)
    # man(1) finds the pages in the installed tree.
    mandir = os.path.join(dest, "usr/local/share/man")
    for sec, name, page in (("1", "mailfetch", "man1/mailfetch.1"),
                            ("5", "fetchrc", "man5/fetchrc.5")):
        p = subprocess.run(["man", "-M", mandir, "-w", sec, name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        assert p.returncode == 0, "man -w %s %s: %s" % (sec, name,
                                                       p.stderr.decode())
        assert p.stdout.decode().strip() == os.path.join(mandir, page)
    r = subprocess.run([os.path.join(dest, "usr/local/bin/mailfetch"), "-V"],
                       stdout=subprocess.PIPE, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith(b"mailfetch "), r


def test_make_install_prefix_mandir(env):
    dest = env.path("dest")
    make_install(env, dest, "PREFIX=/opt/mf", "MANDIR=/opt/mf/man")
    assert harness.tree(dest) == [
        "opt", "opt/mf", "opt/mf/bin", "opt/mf/bin/mailfetch", "opt/mf/lib",
        "opt/mf/lib/systemd", "opt/mf/lib/systemd/user",
        "opt/mf/lib/systemd/user/mailfetch-oneshot.service",
        "opt/mf/lib/systemd/user/mailfetch.service",
        "opt/mf/lib/systemd/user/mailfetch.timer", "opt/mf/man",
        "opt/mf/man/man1", "opt/mf/man/man1/mailfetch.1", "opt/mf/man/man5",
        "opt/mf/man/man5/fetchrc.5", "opt/mf/share", "opt/mf/share/doc",
        "opt/mf/share/doc/mailfetch", "opt/mf/share/doc/mailfetch/README.md",
        "opt/mf/share/doc/mailfetch/fetchrc.example"], harness.tree(dest)
    same_file(os.path.join(env.root, "fetchrc.5"),
              os.path.join(dest, "opt/mf/man/man5/fetchrc.5"), 0o644)


# --- the crontab example --------------------------------------------------------

def crontab_example(text, where):
    """The PATH line and the command of the crontab example in text."""
    path = cmd = None
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("PATH=") and path is None:
            path = s[len("PATH="):]
            continue
        m = CRON_LINE.match(line)
        if m and "mailfetch" in m.group(2) and path is not None:
            cmd = m.group(2).strip()
            break
    assert path and cmd, "%s has no crontab example (a PATH= line, then " \
        "a schedule line running mailfetch)" % where
    return path, cmd


def cron_env(env, dest, path):
    """The environment cron gives a job: HOME, LOGNAME, SHELL and the
    crontab's PATH, its directories taken from the install in dest."""
    dirs = []
    for d in path.split(":"):
        inst = dest + d
        dirs.append(inst if os.path.isdir(inst) else d)
    import pwd
    return {"HOME": env.home, "LOGNAME": pwd.getpwuid(os.getuid()).pw_name,
            "SHELL": "/bin/sh", "PATH": ":".join(dirs)}


def run_cron(env, cmd, e):
    return subprocess.run(["/bin/sh", "-c", cmd], env=e, cwd=env.home,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def test_cron_line(env):
    """The README's crontab lines, run as cron would (sh -c, its PATH,
    HOME holding ~/.config/mailfetch/fetchrc, nothing else in the
    environment): silent, exit 0, and the mail arrives, once."""
    path, cmd = crontab_example(read(env, "README.md"), "README.md")
    assert (path, cmd) == crontab_example(read(env, "mailfetch.1"),
                                          "mailfetch.1"), \
        "README.md and mailfetch(1) show different crontab lines"
    assert cmd.split()[0] == "mailfetch", cmd
    dest = env.path("dest")
    make_install(env, dest)
    e = cron_env(env, dest, path)
    assert os.path.join(dest, "usr/local/bin") in e["PATH"].split(":"), \
        "the crontab's PATH does not reach the installed mailfetch: %s" % path

    d = env.dovecot
    u = env.new_user("cron")
    d.deliver(u.name, MSG1)
    d.deliver(u.name, MSG2)
    conf = os.path.join(env.home, ".config", "mailfetch")
    os.makedirs(conf, mode=0o700)
    text = env.account("cron", "imap", "implicit", u, maildir="~/Mail/cron",
                       state_file=None)
    fd = os.open(os.path.join(conf, "fetchrc"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)

    for n in (1, 2):
        p = run_cron(env, cmd, e)
        assert p.returncode == 0, "run %d: exit %d:\n%s" % (
            n, p.returncode, p.stderr.decode("utf-8", "replace"))
        assert p.stdout == b"" and p.stderr == b"", \
            "run %d printed something (cron would mail it): %r %r" % (
                n, p.stdout, p.stderr)
        new = os.path.join(env.home, "Mail", "cron", "new")
        got = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                got.append(f.read())
        assert sorted(got) == sorted([MSG1, MSG2]), \
            "run %d: the Maildir holds %d messages" % (n, len(got))
    assert os.path.isfile(os.path.join(env.home, ".local", "state",
                                       "mailfetch", "cron.state"))


def test_cron_line_reports_errors(env):
    """The same line with a wrong password: cron gets the error on
    stderr (to mail it) and the exit status 77; no password in it."""
    path, cmd = crontab_example(read(env, "README.md"), "README.md")
    dest = env.path("dest")
    make_install(env, dest)
    e = cron_env(env, dest, path)
    u = env.new_user("cronbad")
    bad = "Cron-wrong-pw-9q"
    env.secret(bad)
    conf = os.path.join(env.home, ".config", "mailfetch")
    os.makedirs(conf, mode=0o700)
    text = env.account("cron", "pop3", "implicit", u.name, password=bad,
                       maildir="~/Mail/cron", state_file=None)
    fd = os.open(os.path.join(conf, "fetchrc"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    p = run_cron(env, cmd, e)
    assert p.returncode == 77, "exit %d" % p.returncode
    assert p.stdout == b"", p.stdout
    err = p.stderr.decode("utf-8", "replace")
    assert err.startswith("cron: ") and "authentication" in err.lower(), err
    for s in env._all_secrets():
        assert s not in err, "a secret leaked into stderr"
