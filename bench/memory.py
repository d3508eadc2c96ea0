#!/usr/bin/env python3
"""The benchmark of issue 16's memory target: peak RSS flat in mailbox size.

    python3 bench/memory.py --build build [--quick] [--sizes 5000,100000]
        [--protos pop3,imap] [--reps R] [--also LABEL=BUILD ...]
        [--profile] [--workdir DIR --keep] [--no-results]

A throwaway Dovecot on 127.0.0.1 (tests/harness.py, started as
bench/bench.py starts it) holds one user per size (default 5 000 and
100 000; --quick: 1 000 and 20 000) with that many small messages
(about 300 bytes each, deterministic, bench.Corpus files hard-linked
into the user's cur/ as bench.Server does), warmed up (an IMAP SELECT
and FETCH of every UID and size, a POP3 UIDL and LIST: Dovecot's index
is built before anything is measured).

For each build (--build, and each --also, e.g. a branch built into a
directory of its own), protocol (POP3 and IMAP, implicit TLS, keep =
yes) and size, mailfetch runs twice under /usr/bin/time -v (its peak
RSS is wait4's ru_maxrss): the first fetch into an empty Maildir
(every message verified byte for byte against the corpus) and, right
after it, a poll with nothing new (the Maildir still holds N files,
the summary says 0 fetched). --reps R repeats each pair in a fresh
run directory; the medians are reported.

Target (issue 16): peak RSS at the largest size at most 2 MB above
that at the smallest, for each build, protocol and run (first fetch,
poll). Each row also gives the growth in bytes per message (the RSS
difference over the difference in messages), which is what a profile
has to explain.

--profile also runs, for the largest size, each build's first fetch
and poll under heaptrack (when installed) and reports the peak heap
consumption and its largest allocation sites.

The results are added on top of bench/RESULTS.md as a section of their
own (--no-results: only printed).
"""

import argparse
import datetime
import imaplib
import os
import poplib
import shutil
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

# bench.py also puts tests/ on sys.path, for harness.
from bench import (LOADS, USER_PW, Acct, Corpus, Mailfetch,  # noqa: E402
                   Row, Server, bench_main, common_args, count_files,
                   dovecot_version, fmt_rss, fmt_s, git_rev, harness, log,
                   machine, measure, med, own, verify)

TARGET_KB = 2048
MSG_SIZE = 300


# --- the mailbox -------------------------------------------------------------

def small_message(i, size=MSG_SIZE):
    """Message i of the corpus: a short header (with the X-Bench-Seq
    line bench.verify recognises) and a body padded to about size
    bytes."""
    head = ("X-Bench-Seq: mem-%06d\n"
            "Message-ID: <mem.%06d@bench.invalid>\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\n"
            "From: Sender %d <sender%d@example.org>\n"
            "To: Alice Example <alice@example.net>\n"
            "Subject: Small message %d\n\n" % (i, i, i % 97, i % 97, i))
    body = "Message %d, a line of text to fill it up.\n" % i
    n = max(1, (size - len(head)) // len(body))
    return (head + body * n).encode()


def make_corpus(work, n, owner):
    c = Corpus("mem", os.path.join(work, "corpus"))
    os.makedirs(c.dir)
    t0 = time.monotonic()
    for i in range(n):
        c.add(small_message(i), owner, 1700000000 + i)
    log("corpus: %d messages, %.1f MB in %.1f s", n, c.total() / 1e6,
        time.monotonic() - t0)
    return c


def warm_up(server, user, n):
    """Dovecot builds its index (IMAP) and counts the sizes (POP3) once,
    as a long-used mailbox has them; both see n messages."""
    c = imaplib.IMAP4("127.0.0.1", server.port("imap", False))
    try:
        c.login(user, USER_PW)
        typ, data = c.select("INBOX", readonly=True)
        if typ != "OK" or int(data[0]) != n:
            raise RuntimeError("warm-up: %s holds %r messages, not %d"
                               % (user, data, n))
        c.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
    finally:
        c.logout()
    p = poplib.POP3("127.0.0.1", server.port("pop3", False))
    try:
        p.user(user)
        p.pass_(USER_PW)
        got = len(p.uidl()[1])
        p.list()
        if got != n:
            raise RuntimeError("warm-up: POP3 UIDL of %s lists %d, not %d"
                               % (user, got, n))
    finally:
        p.quit()


# --- the runs ----------------------------------------------------------------

class MemBench:
    def __init__(self, args):
        self.args = args
        self.work = args.workdir
        # [(label, Mailfetch)]
        self.builds = [(lbl, Mailfetch(os.path.join(os.path.abspath(d),
                                                    "mailfetch")))
                       for lbl, d in args.builds]
        self.rows = {}  # (build, proto, phase, n): Row
        self.runno = 0
        self.targets = []
        self.profiles = []
        self.notes = []

    def rundir(self, label):
        self.runno += 1
        rd = os.path.join(self.work, "runs", "%03d-%s" % (self.runno,
                                                          label))
        os.makedirs(rd)
        return rd

    def row(self, key):
        return self.rows.setdefault(key, Row(" ".join(map(str, key))))

    def check(self, r, rd, tool, corpus, n, proto, phase):
        """r["ok"], r["status"]: exit 0, the summary, and the Maildir
        (first fetch: every message byte-exact; poll: still n files)."""
        with open(os.path.join(rd, "output.txt"), "a") as f:
            f.write("exit %s\n--- stdout:\n%s--- stderr:\n%s" % (
                r["rc"], r["out"], r["err"]))
        problems = []
        if r["rc"] != 0:
            problems.append("exit %s" % r["rc"])
        want = (n, 0, n) if phase == "fetch" else (0, 0, n)
        got = Mailfetch.summary(r["out"])
        if r["rc"] == 0 and got != want:
            problems.append("summary %r, expected %r" % (got, want))
        md = tool.maildirs(rd)
        if phase == "fetch":
            v = verify(md, corpus, n, proto)
            if not v["ok"]:
                problems.append(v["status"][5:])
        else:
            have = sum(count_files(m) for m in md)
            if have != n:
                problems.append("Maildir holds %d files, not %d" % (have,
                                                                    n))
        r["ok"] = not problems
        r["status"] = "ok" if r["ok"] else "BAD: " + "; ".join(problems)
        if problems:
            log("  %s", r["status"])
            log("    %s", harness.condense(r["err"] + r["out"], 6).replace(
                "\n", "\n    "))

    def pair(self, server, label, tool, proto, user, corpus, n):
        """A first fetch and a poll right after it, in a new run
        directory."""
        rd = self.rundir("%s-%s-%d" % (label, proto, n))
        acct = Acct(server, proto, True, user)
        for phase in ("fetch", "poll"):
            argv, env = tool.setup(rd, acct)
            own(rd)
            r = measure(argv, env, rd)
            self.check(r, rd, tool, corpus, n, proto, phase)
            self.row((label, proto, phase, n)).add(r)
            log("  %-8s %-4s %-5s %6d: %6.2f s, peak RSS %6d KB, %s",
                label, proto, phase, n, r["wall"], r["rss"], r["status"])
            # Dovecot's POP3 sets \Seen on RETR: back to no flags.
            server.reset_flags(user)
        return rd

    def profile(self, server, label, tool, proto, user, n):
        """heaptrack of a first fetch and of a poll of n messages."""
        rd = self.rundir("heaptrack-%s-%s-%d" % (label, proto, n))
        acct = Acct(server, proto, True, user)
        for phase in ("fetch", "poll"):
            argv, env = tool.setup(rd, acct)
            own(rd)
            out = os.path.join(rd, "heaptrack-%s" % phase)
            p = subprocess.run(["heaptrack", "-o", out] + argv, env=env,
                               cwd=rd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            server.reset_flags(user)
            files = [f for f in os.listdir(rd)
                     if f.startswith("heaptrack-%s" % phase)]
            if p.returncode != 0 or not files:
                self.profiles.append("heaptrack %s %s %s failed: %s" % (
                    label, proto, phase, p.stdout.decode()[-300:]))
                continue
            rep = subprocess.run(
                ["heaptrack_print", "--print-peaks", "--print-allocators=0",
                 "--print-temporary=0", "--print-leaks=0", "--peak-limit",
                 "8", "--sub-peak-limit", "6",
                 os.path.join(rd, files[0])],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            text = rep.stdout.decode("utf-8", "replace")
            self.profiles.append(
                "heaptrack, build %s, %s, %s of %d messages (peak heap "
                "consumers; heaptrack_print --print-peaks):\n\n```\n%s\n```"
                % (label, proto.upper(), "first fetch" if phase == "fetch"
                   else "poll", n, condense_heaptrack(text)))

    def run(self):
        a = self.args
        t_start = time.monotonic()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.rev = git_rev()
        for lbl, tool in self.builds:
            if not os.access(tool.bin, os.X_OK):
                raise SystemExit("memory: %s is not built (make)"
                                 % tool.bin)
        server = Server(self.work)
        try:
            corpus = make_corpus(self.work, max(a.sizes), server.owner)
            users = {}
            for n in a.sizes:
                t0 = time.monotonic()
                users[n] = "mem%d" % n
                server.d.add_user(users[n], USER_PW)
                server.link(users[n], "INBOX", corpus, range(n))
                warm_up(server, users[n], n)
                log("mailbox %s: %d messages, filled and warmed up in "
                    "%.1f s", users[n], n, time.monotonic() - t0)
            for rep in range(a.reps):
                log("== repetition %d of %d", rep + 1, a.reps)
                for n in a.sizes:
                    for lbl, tool in self.builds:
                        for proto in a.protos:
                            rd = self.pair(server, lbl, tool, proto,
                                           users[n], corpus, n)
                            if not a.keep:
                                shutil.rmtree(rd, ignore_errors=True)
            if a.profile and shutil.which("heaptrack"):
                n = max(a.sizes)
                for lbl, tool in self.builds:
                    for proto in a.protos:
                        log("== heaptrack %s %s %d", lbl, proto, n)
                        self.profile(server, lbl, tool, proto, users[n], n)
            elif a.profile:
                self.notes.append("heaptrack is not installed: no "
                                  "profile.")
            self.dovecot_version = dovecot_version()
        finally:
            server.stop()
        self.elapsed = time.monotonic() - t_start
        return self.report()

    # -- results

    def table(self):
        a = self.args
        lo, hi = min(a.sizes), max(a.sizes)
        out = ["| build | protocol | run | peak RSS at %d | at %d | growth "
               "| bytes / message | wall s at %d | at %d | checked |"
               % (lo, hi, lo, hi),
               "|---|---|---|---|---|---|---|---|---|---|"]
        for lbl, tool in self.builds:
            for proto in a.protos:
                for phase in ("fetch", "poll"):
                    r0 = self.row((lbl, proto, phase, lo))
                    r1 = self.row((lbl, proto, phase, hi))
                    ok = r0.ok and r1.ok
                    d = r1.rss - r0.rss
                    per = d * 1024 / (hi - lo)
                    run = "first fetch" if phase == "fetch" else "poll"
                    st = "ok" if ok else (r0.status if not r0.ok
                                          else r1.status)
                    out.append("| %s | %s | %s | %s | %s | %+.1f MB | %.0f "
                               "| %s | %s | %s |" % (
                                   lbl, proto.upper(), run, fmt_rss(r0.rss),
                                   fmt_rss(r1.rss), d / 1024, per,
                                   fmt_s(r0.wall), fmt_s(r1.wall),
                                   st.replace("|", "\\|")))
                    self.targets.append((
                        "%s, %s %s: peak RSS growth from %d to %d <= 2 MB: "
                        "%s -> %s, %+d KB (%.0f bytes per message)" % (
                            lbl, proto.upper(), run, lo, hi,
                            fmt_rss(r0.rss), fmt_rss(r1.rss), d, per),
                        ok and d <= TARGET_KB))
        return out

    def report(self):
        a = self.args
        lo, hi = min(a.sizes), max(a.sizes)
        vers = ["%s: %s" % (lbl, tool.version()) for lbl, tool in
                self.builds]
        lines = ["## %s — Memory: peak RSS at %d and %d messages" % (
            self.started.strftime("%Y-%m-%d %H:%M UTC"), lo, hi), ""]
        lines += [
            "Made by bench/memory.py (`make bench`; alone: `python3 "
            "bench/memory.py --build build`, other builds beside it with "
            "`--also LABEL=DIR`).", "",
            "Machine: %s." % machine(self.work), "",
            "Versions: %s (script %s); Dovecot %s. Builds: %s." % (
                "; ".join(vers), self.rev, self.dovecot_version,
                "; ".join("%s = %s" % (lbl, d) for lbl, d in a.builds)), "",
            "Messages of about %d bytes, POP3 and IMAP over implicit TLS, "
            "keep = yes; each size its own user (warmed up). For each "
            "build, protocol and size: a first fetch into an empty "
            "Maildir (verified byte for byte), then a poll with nothing "
            "new; peak RSS is /usr/bin/time's (wait4 ru_maxrss), the "
            "median of %d. The run took %.0f s." % (
                MSG_SIZE, a.reps, self.elapsed)]
        if LOADS:
            lines[-1] += (" Background load (1-minute load average before "
                          "each of the %d measured runs, %d CPUs): median "
                          "%.2f, max %.2f." % (len(LOADS),
                                               os.cpu_count() or 0,
                                               med(LOADS), max(LOADS)))
        for n in self.notes:
            lines += ["", n]
        table = self.table()
        lines += ["", "### Targets (memory)", ""]
        for text, met in self.targets:
            lines.append("- %s — %s" % (text, "met" if met else
                                        "**NOT met**"))
        lines += ["", "### Peak RSS", ""] + table
        if self.profiles:
            lines += ["", "### Profile (heaptrack)", ""]
            lines += ["\n\n".join(self.profiles)]
        return "\n".join(lines) + "\n"


def condense_heaptrack(text, frames=6, min_bytes=100e3):
    """heaptrack_print's peak consumers of at least min_bytes at the
    peak, one line each: the size, and the chain of functions (innermost
    first, from the one that called the allocator: xmalloc, ...) that
    made the allocation; then the peak heap and RSS."""
    out = []
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if " consumed over " in s:
            cur = []
            size = s.split()[0]
            top = "peak memory consumed" in s
            out.append([("" if top else "  ") + size, cur, top])
        elif s.startswith(("total runtime", "calls to allocation",
                           "temporary memory", "peak heap", "peak RSS",
                           "total memory leaked")):
            cur = None
            out.append([s, None, False])
        elif cur is not None and s and not s.startswith(("at ", "in ")):
            if s.startswith("and ") or s.startswith("0x"):
                continue
            cur.append(s)
    lines, tail = [], []
    for head, chain, top in out:
        if chain is None:
            if head.startswith(("peak heap", "peak RSS")):
                tail.append(head)
            continue
        if top or heap_bytes(head) < min_bytes:
            continue
        own_fns = [f for f in chain if not f.startswith("_")]
        lines.append((heap_bytes(head), "%-8s %s" % (
            head.strip(), " < ".join(own_fns[:frames]))))
    lines.sort(key=lambda x: -x[0])
    return "\n".join([x[1] for x in lines] + tail)


def heap_bytes(text):
    """heaptrack's "1.05M", "800.00K", "208B" in bytes."""
    text = text.strip()
    mult = {"B": 1, "K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 0)
    try:
        return float(text[:-1]) * mult
    except ValueError:
        return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_args(p)
    p.add_argument("--quick", action="store_true",
                   help="a sanity run: 1000 and 20000 messages")
    p.add_argument("--sizes", help="mailbox sizes, the smallest and the "
                   "largest are compared (default 5000,100000)")
    p.add_argument("--protos", default="pop3,imap",
                   help="protocols (default %(default)s)")
    p.add_argument("--reps", type=int, default=1,
                   help="repetitions of each first fetch and poll "
                   "(default %(default)s)")
    p.add_argument("--label", default="this",
                   help="the name of --build in the table (default "
                   "%(default)s)")
    p.add_argument("--also", action="append", default=[],
                   metavar="LABEL=DIR", help="another build to measure "
                   "beside --build (repeatable)")
    p.add_argument("--profile", action="store_true",
                   help="heaptrack each build at the largest size")
    a = p.parse_args(argv)
    if a.sizes:
        a.sizes = sorted(int(x) for x in a.sizes.split(","))
    else:
        a.sizes = [1000, 20000] if a.quick else [5000, 100000]
    if len(a.sizes) < 2 or a.sizes[0] < 1 or a.sizes[0] == a.sizes[-1]:
        p.error("--sizes needs two different sizes")
    a.protos = [x.strip() for x in a.protos.split(",") if x.strip()]
    for x in a.protos:
        if x not in ("pop3", "imap"):
            p.error("unknown protocol %r" % x)
    a.builds = [(a.label, a.build)]
    for x in a.also:
        lbl, sep, d = x.partition("=")
        if not sep or not lbl or not d:
            p.error("--also wants LABEL=DIR, not %r" % x)
        a.builds.append((lbl, d))
    return a


def main(argv):
    return bench_main("memory", parse_args(argv),
                      lambda args: MemBench(args).run())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
