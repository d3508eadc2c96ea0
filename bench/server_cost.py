#!/usr/bin/env python3
"""What Dovecot itself spends serving a mirror's sessions (issue 14).

bench/mirror.py shows that a mailfetch resync's wall time is mostly
Dovecot's CPU. This splits that CPU up, on the same kind of mailbox
(--messages spread over --folders Maildir folders, warmed up):

  - sessions of single commands over plain IMAP (imaplib, LOGIN):
    login and logout alone, LIST "*", LIST "*" RETURN (STATUS ...), a
    STATUS per folder, one EXAMINE;
  - mailfetch's mirror (implicit TLS, auth = auto): the initial mirror,
    then polls with nothing changed, then resyncs after bench/mirror.py's
    changes (10 flag changes and 5 expunges), each one right after the
    changes or --delay seconds later.

Dovecot's CPU is bench.Server.cpu() before and after each session
(user + system time of all its processes, counted once each). Each
line prints the CPU and wall of every repetition; the CPU has the
kernel's clock-tick granularity (10 ms).

  python3 bench/server_cost.py --build build --messages 100000
"""

import argparse
import imaplib
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "tests"))

import bench  # noqa: E402
import mirror  # noqa: E402
from bench import USER_PW, Acct, Corpus, Generator, Server  # noqa: E402

USER = "m"
STATUS_ITEMS = "(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)"


def line(label, samples):
    print("%-44s Dovecot CPU %s s; wall %s s" % (
        label, " ".join("%.3f" % c for c, _ in samples),
        " ".join("%.3f" % w for _, w in samples)), flush=True)


def timed(server, fn):
    c0, t0 = server.cpu(), time.monotonic()
    fn()
    t1 = time.monotonic()
    return server.cpu() - c0, t1 - t0


def imap_commands(server, folders, reps):
    def session(cmds):
        def run():
            c = imaplib.IMAP4("127.0.0.1", server.port("imap", False))
            c.login(USER, USER_PW)
            for cmd in cmds:
                cmd(c)
            c.logout()
        return run

    cases = [
        ("login, logout", []),
        ('LIST "" "*"', [lambda c: c.list('""', '"*"')]),
        ('LIST "" "*" RETURN (STATUS ...)', [
            lambda c: c._simple_command(
                "LIST", '""', '"*"', "RETURN",
                "(STATUS %s)" % STATUS_ITEMS)]),
        ("a STATUS per folder (%d)" % len(folders), [
            lambda c, f=f: c.status(f, STATUS_ITEMS) for f in folders]),
        ("EXAMINE one folder", [
            lambda c: c.select(folders[0], readonly=True)]),
    ]
    for label, cmds in cases:
        line(label, [timed(server, session(cmds)) for _ in range(reps)])


def mailfetch_mirror(server, build, work, n, folders, reps, delay):
    tool = mirror.MailfetchMirror(os.path.join(build, "mailfetch"))
    rd = os.path.join(work, "mailfetch")
    os.makedirs(rd)
    argv, env = tool.setup(rd, Acct(server, "imap", True, USER))
    bench.own(rd)

    def run():
        p = subprocess.run(argv, env=env, cwd=rd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise SystemExit("mailfetch failed (%d): %s" % (
                p.returncode, p.stderr.decode(errors="replace")))

    line("mailfetch: initial mirror", [timed(server, run)])
    line("mailfetch: poll, nothing changed",
         [timed(server, run) for _ in range(reps)])
    changes = mirror.Changes(server, USER, range(n), folders, 10, 5)
    for wait in (0, delay):
        samples = []
        for _ in range(reps):
            changes.apply()
            time.sleep(wait)
            samples.append(timed(server, run))
        line("mailfetch: resync, %g s after the changes" % wait, samples)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--messages", type=int, default=100000)
    p.add_argument("--folders", type=int, default=20)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--delay", type=float, default=2.0)
    a = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="mfcost-")
    os.chmod(work, 0o755)  # Dovecot's processes read below it
    server = Server(work)
    try:
        folders = mirror.folder_names(a.folders)
        corpus = Corpus("mirror", os.path.join(work, "corpus"))
        os.makedirs(corpus.dir)
        bench.fill_mbox(corpus, Generator(20240808), a.messages,
                        server.owner)
        server.d.add_user(USER, USER_PW)
        for f in folders:
            server.link(USER, f, corpus,
                        range(folders.index(f), a.messages, a.folders),
                        mirror.initial_flags)
        mirror.warm_up(server, USER, folders)
        print("%d messages in %d folders (Maildir), %s" % (
            a.messages, a.folders, bench.dovecot_version()), flush=True)
        imap_commands(server, folders, a.reps)
        mailfetch_mirror(server, os.path.abspath(a.build), work,
                         a.messages, folders, a.reps, a.delay)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
