#!/usr/bin/env python3
"""`make demo`: mailfetch against a throwaway Dovecot, step by step.

Starts a private Dovecot on 127.0.0.1 (tests/harness.py) with a user,
a handful of sample messages in INBOX and two in the folder
"Lists/demo", writes demo/fetchrc (mode 0600) with two accounts (POP3
over STARTTLS into demo/Maildir, IMAP over implicit TLS into
demo/Mirror), then runs --check, a dry run, a fetch and a second fetch,
showing each command and its output, and finally what is where. Dovecot
is stopped at the end; demo/ stays for you to look at (a previous one
is removed first).
"""

import argparse
import os
import shutil
import subprocess
import time
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import harness  # noqa: E402

USER = "demo"
PASSWORD = "Demo-pw-Xk4v9q"

LONG = ("This line is long on purpose: " +
        " ".join("word%04d" % i for i in range(200)))

INBOX = [
    b"From: Alice Example <alice@example.org>\n"
    b"To: Demo User <demo@example.org>\n"
    b"Subject: Plain text\n"
    b"Date: Mon, 02 Jun 2025 09:00:00 +0000\n"
    b"Message-ID: <demo-1@example.org>\n"
    b"\n"
    b"Hello,\n\nthis is a plain text message.\n"
    b".A line starting with a dot (POP3 dot-stuffs it).\n\nAlice\n",

    b"From: Bob Example <bob@example.org>\n"
    b"To: Demo User <demo@example.org>\n"
    b"Subject: A very long line\n"
    b"Date: Mon, 02 Jun 2025 09:05:00 +0000\n"
    b"Message-ID: <demo-2@example.org>\n"
    b"\n" + LONG.encode() + b"\n",

    "From: Carla Exemple <carla@example.org>\n"
    "To: Demo User <demo@example.org>\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
    "Date: Mon, 02 Jun 2025 09:10:00 +0000\n"
    "Message-ID: <demo-3@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Grüße aus Köln — ça va? Ünïcödé, 8-bit, unencoded.\n".encode("utf-8"),

    b"From: Dan Example <dan@example.org>\n"
    b"To: Demo User <demo@example.org>\n"
    b"Subject: Report with an attachment\n"
    b"Date: Mon, 02 Jun 2025 09:15:00 +0000\n"
    b"Message-ID: <demo-4@example.org>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"=-=demo-boundary=-=\"\n"
    b"\n"
    b"--=-=demo-boundary=-=\n"
    b"Content-Type: text/plain; charset=us-ascii\n"
    b"\n"
    b"The report is attached.\n"
    b"\n"
    b"--=-=demo-boundary=-=\n"
    b"Content-Type: application/octet-stream; name=\"report.bin\"\n"
    b"Content-Disposition: attachment; filename=\"report.bin\"\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\n"
    b"MDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n"
    b"--=-=demo-boundary=-=--\n",

    b"From: Eve Example <eve@example.org>\n"
    b"To: Demo User <demo@example.org>\n"
    b"Subject: No final newline\n"
    b"Date: Mon, 02 Jun 2025 09:20:00 +0000\n"
    b"Message-ID: <demo-5@example.org>\n"
    b"\n"
    b"This message does not end with a newline.",
]

LISTS = [
    b"From: list@lists.example.org\nTo: demo-list@lists.example.org\n"
    b"Subject: [demo] Welcome\nMessage-ID: <list-1@lists.example.org>\n"
    b"List-Id: <demo.lists.example.org>\n\nWelcome to the list.\n",
    b"From: list@lists.example.org\nTo: demo-list@lists.example.org\n"
    b"Subject: [demo] Second post\nMessage-ID: <list-2@lists.example.org>\n"
    b"List-Id: <demo.lists.example.org>\n\nA second post.\n",
]


def say(text):
    print("== " + text)
    sys.stdout.flush()


def run(argv, shown):
    print("\n$ " + " ".join(shown))
    sys.stdout.flush()
    try:
        p = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        out, rc = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode("utf-8", "replace"), "timeout"
    except OSError as e:
        out, rc = "%s\n" % e, "not run"
    if PASSWORD in out:
        out = out.replace(PASSWORD, "<the password!>")
        print("!! the password appeared in the output")
        rc = "password leaked"
    sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
    print("(exit status %s)" % rc)
    return rc


def files_under(path):
    out = []
    for dirpath, _, names in os.walk(path):
        for n in names:
            out.append(os.path.join(dirpath, n))
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    build = os.path.join(ROOT, args.build)
    binary = os.path.join(build, "mailfetch")
    rel_bin = os.path.relpath(binary, ROOT)
    demo = os.path.join(ROOT, "demo")
    shutil.rmtree(demo, ignore_errors=True)
    os.makedirs(demo)

    say("starting a throwaway Dovecot on 127.0.0.1")
    failed = []
    with harness.Dovecot(users=[(USER, PASSWORD)]) as d:
        print("   POP3 (STARTTLS) port %d, IMAPS port %d, its own CA"
              % (d.ports["pop3"], d.ports["imaps"]))
        for m in INBOX:
            d.deliver(USER, m)
        d.create_folder(USER, "Lists/demo")
        for m in LISTS:
            d.deliver(USER, m, folder="Lists/demo")
        say("user %s: %d messages in INBOX, %d in Lists/demo" % (
            USER, len(INBOX), len(LISTS)))
        ca = os.path.join(demo, "ca.crt")
        shutil.copyfile(d.ca_file, ca)
        conf = os.path.join(demo, "fetchrc")
        text = (
            "# mailfetch demo: a throwaway Dovecot on 127.0.0.1.\n"
            "[defaults]\n"
            "host = 127.0.0.1\n"
            "user = %(user)s\n"
            "password = %(pw)s\n"
            "tls_ca_file = %(ca)s\n"
            "\n"
            "# POP3 with STARTTLS; leave a copy on the server for 5 seconds\n"
            "# (a month, 30d, is more usual; 5s lets the demo show it).\n"
            "[pop]\n"
            "protocol = pop3\n"
            "port = %(pop3)d\n"
            "tls = starttls\n"
            "maildir = %(demo)s/Maildir\n"
            "keep = yes\n"
            "delete_after = 5s\n"
            "state_file = %(demo)s/state/pop.state\n"
            "\n"
            "# IMAP with implicit TLS; mirror two folders, change nothing.\n"
            "[mirror]\n"
            "protocol = imap\n"
            "port = %(imaps)d\n"
            "tls = implicit\n"
            "folders = INBOX,Lists/demo\n"
            "maildir = %(demo)s/Mirror\n"
            "keep = yes\n"
            "state_file = %(demo)s/state/mirror.state\n" % {
                "user": USER, "pw": PASSWORD, "ca": ca, "demo": demo,
                "pop3": d.ports["pop3"], "imaps": d.ports["imaps"]})
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        say("wrote demo/fetchrc (mode 0600):")
        for line in text.splitlines():
            if line.startswith("password"):
                line = "password = ********"
            print("   " + line)

        rel_conf = os.path.relpath(conf, ROOT)
        steps = [
            ("test the settings", ["--check"]),
            ("dry run: the plan, nothing changes", ["-n"]),
            ("fetch", []),
            ("fetch again: nothing new", []),
            ("after delete_after: the POP3 copies go (-v: each message)",
             ["-v"]),
        ]
        for what, extra in steps:
            print()
            if extra == ["-v"]:
                say("waiting 5 seconds for delete_after = 5s to pass")
                time.sleep(5.5)
            say(what)
            rc = run([binary, "-c", conf] + extra,
                     [rel_bin, "-c", rel_conf] + extra)
            if rc != 0:
                failed.append("%s (exit status %s)" % (what, rc))

        print()
        say("what is where")
        listing = []
        for sub in ("Maildir", "Mirror"):
            listing += files_under(os.path.join(demo, sub))
        print("\n$ find demo/Maildir demo/Mirror -type f | head")
        for p in listing[:10]:
            print(os.path.relpath(p, ROOT))
        for sub, folders in (("Maildir", [""]),
                             ("Mirror", ["", ".Lists.demo"])):
            for fo in folders:
                base = os.path.join(demo, sub, fo)
                n = sum(len(os.listdir(os.path.join(base, x)))
                        for x in ("new", "cur")
                        if os.path.isdir(os.path.join(base, x)))
                print("   %-26s %d messages" % (
                    os.path.relpath(base, ROOT).rstrip("/") + "/", n))
        # Byte for byte: what the Maildir holds is what the server had
        # (POP3 cannot carry a missing final newline: it gets one).
        want = sorted(m if m.endswith(b"\n") else m + b"\n" for m in INBOX)
        got = []
        for p in files_under(os.path.join(demo, "Maildir")):
            if os.path.basename(os.path.dirname(p)) in ("new", "cur"):
                with open(p, "rb") as f:
                    got.append(f.read())
        same = sum(1 for m in sorted(got) if m in want)
        print("   demo/Maildir: %d of %d messages identical to the "
              "server's" % (same, len(INBOX)))
        print("   on the server: INBOX %d messages, Lists/demo %d" % (
            len(d.messages(USER)), len(d.messages(USER, "Lists/demo"))))
        states = [os.path.relpath(p, ROOT)
                  for p in files_under(os.path.join(demo, "state"))]
        print("   state: %s" % (", ".join(states) or "none"))
        say("stopping Dovecot")
    print()
    if failed:
        say("demo finished with failures: " + "; ".join(failed))
        return 1
    say("done; look around in demo/ (demo/fetchrc points at a Dovecot "
        "that is gone now)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
