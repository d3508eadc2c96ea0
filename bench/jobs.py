#!/usr/bin/env python3
"""`-j 4` against serial runs: four accounts on the throwaway Dovecot,
each with its own mailbox, fetched over IMAP with TLS into empty
Maildirs. Runs alternate (serial, parallel, serial, ...), every delivered
byte is checked, and the medians and their ratio are printed.

    python3 bench/jobs.py --build build [--messages 400] [--reps 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import harness  # noqa: E402

ACCOUNTS = 4


def corpus(k, n):
    """n deterministic messages of about 8 KB for account k."""
    return [b"Subject: account %d message %d\n\n" % (k, i) +
            b"%d %d line of text for the benchmark\n" % (k, i) * 220
            for i in range(n)]


def maildir_contents(path):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for name in os.listdir(d) if os.path.isdir(d) else ():
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
    return sorted(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    binary = os.path.abspath(os.path.join(args.build, "mailfetch"))
    work = tempfile.mkdtemp(prefix="mfjobs-", dir="/tmp")
    aside = os.path.join(work, "aside")
    os.mkdir(aside)
    d = harness.Dovecot()
    d.start()
    try:
        users, mail = [], []
        for k in range(ACCOUNTS):
            name, pw = "jobs%d" % k, "pw-jobs-%d-Xq" % k
            d.add_user(name, pw)
            msgs = corpus(k, args.messages)
            for m in msgs:
                d.deliver(name, m, cur=True)
            users.append((name, pw))
            mail.append(sorted(msgs))
        conf = os.path.join(work, "fetchrc")
        text = ""
        for k, (name, pw) in enumerate(users):
            text += ("[a%d]\nprotocol = imap\nhost = %s\nport = %d\n"
                     "tls_ca_file = %s\nuser = %s\npassword = %s\n"
                     "maildir = %s/run/a%d\nstate_file = %s/run/a%d.state\n"
                     % (k, d.host, d.ports["imaps"], d.ca_file, name, pw,
                        work, k, work, k))
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        times = {"serial": [], "-j 4": []}
        for rep in range(args.reps):
            for label, extra in (("serial", []), ("-j 4", ["-j", "4"])):
                run = os.path.join(work, "run")
                if os.path.exists(run):
                    # Moved aside, deleted after the measurements
                    # (STYLE.md: mass deletes slow this disk down).
                    os.rename(run, os.path.join(aside, "%d-%s" % (
                        rep, label.replace(" ", ""))))
                t0 = time.monotonic()
                p = subprocess.run([binary, "-q", "-c", conf] + extra,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
                elapsed = time.monotonic() - t0
                if p.returncode != 0:
                    sys.exit("%s: exit %d: %s" % (label, p.returncode,
                                                  p.stderr.decode()))
                for k in range(ACCOUNTS):
                    got = maildir_contents(os.path.join(run, "a%d" % k))
                    if got != mail[k]:
                        sys.exit("%s: account %d not byte-exact" % (label, k))
                times[label].append(elapsed)
        s = statistics.median(times["serial"])
        j = statistics.median(times["-j 4"])
        print("jobs: %d accounts x %d messages, IMAP over TLS, median of %d"
              % (ACCOUNTS, args.messages, args.reps))
        print("jobs: serial %.2f s, -j 4 %.2f s, ratio %.2f (all bytes "
              "checked)" % (s, j, j / s))
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
