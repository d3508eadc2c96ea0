#!/usr/bin/env python3
"""The benchmark of issue 8: mailfetch against its peers and two limits.

    python3 bench/bench.py --build build [--quick] [--case a,b,c,d,e,w]
        [--reps N] [--peers mpop,mbsync,...] [--no-profile]
        [--workdir DIR --keep] [--no-results]

--quick is a sanity run (200 messages, a 5 MB message, mailboxes of 500
and 2000, one repetition, a few minutes); the full run takes about 40
minutes and more on a loaded machine. Run as root, the clients run as
"nobody" (getmail refuses to deliver as root).

It starts a throwaway Dovecot on 127.0.0.1 (tests/harness.py), writes a
deterministic corpus, and runs mailfetch and each peer (mpop, mbsync,
fdm, fetchmail with procmail, getmail6) in turn on the same mailbox
state, interleaved (A B C A B C ...), several times, each under
/usr/bin/time -v. Reported: the median wall time, CPU (user + system)
and peak RSS of each, mailfetch's ratio to each, and two limits:

  proto  bench/rawfetch.c: one pipelined session that fetches (lists,
         deletes) everything and throws the bytes away;
  disk   bench/diskwrite.c: the same messages written as Maildir files,
         each fsync'ed and renamed, the directory fsync'ed, no network.

Every delivered file is checked against the corpus, byte for byte
(LF line endings; header fields a peer adds on top, such as Received:,
are recognised and reported as "+hdr"); a run that lost, duplicated or
changed a message is reported as such, not silently timed.

In the first fetches over loopback (cases a, b, e), the CPU time
Dovecot spends serving each run (all its processes, Server.cpu) is
measured in the same run, and each client's CPU and wall time are
given as ratios to it: the server's own work is the wall a client on
the same machine cannot pass.

Cases:
  a  first fetch of the mixed corpus (2000 messages, ~90 MB) over POP3
     and IMAP, TLS and plain (IMAP also with compress = no);
  b  one 50 MB message (TLS), and mailfetch fetching one 10 KB message
     for its baseline memory;
  c  steady-state poll of a 20 000-message mailbox, all already fetched
     and kept, nothing new (mailfetch against mpop and mbsync);
  d  a delete_after sweep deleting every message of the mailbox
     (5 000 and 20 000), against the protocol limit;
  e  scaling: first fetch of 5 000, 20 000 and 80 000 messages; the
     time per message must stay flat.
  w  a WAN link: bench/delayproxy.py between the clients and Dovecot
     (RTT 50 ms; then RTT 50 ms at 10 Mbit/s, mailfetch against mpop
     and mbsync only), first fetch of 200 messages of the mixed corpus
     and a poll, TLS; wall time and the round trips each client waits
     for.

The results are added on top of bench/RESULTS.md (previous results are
kept below), with the date, the versions and the machine.

Nothing is deleted between runs: each run writes a Maildir of its own,
and all of them are removed at the end (on an ext4 file system without
a journal, creating files is slow for a while after mass deletes).
"""

import argparse
import base64
import datetime
import hashlib
import json
import math
import os
import platform
import pwd
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, os.path.join(ROOT, "tests"))

import harness  # noqa: E402

TIME = "/usr/bin/time"
USER_PW = "bench-Pw-5tq8Ls"
RUN_TIMEOUT = 3600

PEERS = ("mpop", "mbsync", "fdm", "fetchmail", "getmail")
PEER_PKGS = {"mpop": "mpop", "mbsync": "isync", "fdm": "fdm",
             "fetchmail": "fetchmail", "procmail": "procmail",
             "getmail": "getmail6"}


def _run_user():
    """Run as root, the clients run as "nobody": getmail refuses to
    deliver as root, fetchmail warns, and no user fetches mail as root."""
    if os.getuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return (pw.pw_uid, pw.pw_gid, pw.pw_name)


RUN_AS = _run_user()

# The 1-minute load average before each measured run: other work on the
# machine shows in the numbers.
LOADS = []


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


# --- processes (/proc/PID/stat, stat(5)) ---------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, comm, own CPU s, reaped children's CPU s) of pid. Fields
    14-17 of stat(5) are utime, stime, cutime and cstime in clock ticks;
    the name is between the first "(" and the last ")"."""
    with open("/proc/%s/stat" % pid) as f:
        s = f.read()
    f2 = s[s.rindex(")") + 2:].split()
    ut, st, cut, cst = (int(x) for x in f2[11:15])
    return (int(f2[1]), s[s.index("(") + 1:s.rindex(")")],
            (ut + st) / CLK_TCK, (cut + cst) / CLK_TCK)


def proc_stats():
    """{pid: _stat(pid)} of every process now."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                out[int(p)] = _stat(p)
            except (OSError, ValueError, IndexError):
                continue
    return out


def proc_cpu(pid):
    """(own CPU s, reaped children's CPU s) of pid; OSError once it is
    gone."""
    return _stat(pid)[2:]


def tree_pids(pid, stats=None):
    """pid and its descendants (of stats, default now)."""
    kids = {}
    for p, st in (stats or proc_stats()).items():
        kids.setdefault(st[0], []).append(p)
    out, todo = [], [pid]
    while todo:
        x = todo.pop()
        out.append(x)
        todo += kids.get(x, [])
    return out


def own(path):
    """Give path (a run directory) to the user the clients run as; the
    messages in Maildirs are left alone (the client wrote them)."""
    if RUN_AS is None:
        return
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, RUN_AS[0], RUN_AS[1])
        if os.path.basename(dirpath) in ("new", "cur", "tmp"):
            dirnames[:] = []
            continue
        for n in filenames:
            os.chown(os.path.join(dirpath, n), RUN_AS[0], RUN_AS[1])


def as_user(argv):
    if RUN_AS is None:
        return argv
    return ["setpriv", "--reuid=%d" % RUN_AS[0], "--regid=%d" % RUN_AS[1],
            "--clear-groups", "--"] + argv


def log(fmt, *args):
    sys.stderr.write((fmt % args if args else fmt) + "\n")
    sys.stderr.flush()


def write_file(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def make_maildir(path):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


# --- the corpus ---------------------------------------------------------

# Header fields that peers add to a message (on top of its header).
# The corpus itself has none of these.
ADDED_FIELDS = re.compile(
    rb"(?i)(received|delivered-to|return-path|x-original-to|"
    rb"x-getmail-retrieved-from-mailbox|x-tuid|status|x-status|x-uid|"
    rb"x-keywords|content-length|lines):")
SEQ_RE = re.compile(rb"X-Bench-Seq: ([a-z0-9]+)-([0-9]+)")

SPECIAL_LINES = [
    ".", "..", "...", ".hidden line after a dot", "From the start of a line",
    ">From already quoted", " leading space", "trailing space  ",
    "\ttab first", "", "--", "-- ", "=?utf-8?q?not_a_header?=",
]
EIGHTBIT_LINES = [
    "Grüße aus Köln, naïve café, ½ € — ok",
    "日本語のテキストも入っています。漢字とかな。",
    "Ελληνικά και русский текст в одной строке",
    "Latin-1 would be \xe9 here but this is UTF-8: \u00e9\u00e8\u00ea",
]


class Corpus:
    """A deterministic set of messages stored as files (LF endings) in
    dir, named 000000, 000001, ...; md5 digests of the form expected
    over IMAP (the bytes as stored) and over POP3 (the same, except that
    a message without a final newline gets one)."""

    def __init__(self, name, directory):
        self.name = name
        self.dir = directory
        self.files = []
        self.sizes = []
        self.dig_imap = []
        self.dig_pop3 = []

    def __len__(self):
        return len(self.files)

    def add(self, data, owner, mtime):
        i = len(self.files)
        path = os.path.join(self.dir, "%06d" % i)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, *owner)
        # Readable by the clients' user: the disk limit copies them.
        os.chmod(path, 0o644)
        os.utime(path, (mtime, mtime))
        self.files.append(path)
        self.sizes.append(len(data))
        self.dig_imap.append(hashlib.md5(data).digest())
        if data and not data.endswith(b"\n"):
            data += b"\n"
        self.dig_pop3.append(hashlib.md5(data).digest())

    def total(self, n=None):
        return sum(self.sizes[:n])

    def listfile(self, n, path):
        with open(path, "w") as f:
            for p in self.files[:n]:
                f.write(p + "\n")
        return path


class Generator:
    """Messages from pools of lines, all from one seeded random source."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        rng = self.rng
        letters = "abcdefghijklmnopqrstuvwxyz"
        words = ["".join(rng.choice(letters)
                         for _ in range(rng.randint(1, 11)))
                 for _ in range(4000)]
        self.text = []
        for _ in range(30000):
            n = rng.randint(20, 76)
            line = []
            size = 0
            while size < n:
                w = rng.choice(words)
                line.append(w)
                size += len(w) + 1
            self.text.append(" ".join(line))
        self.b64 = [base64.b64encode(rng.randbytes(57)).decode()
                    for _ in range(30000)]
        self.words = words

    def header(self, corpus, seq, subject, extra=""):
        t = datetime.datetime(2024, 1, 1) + datetime.timedelta(
            minutes=seq)
        return ("X-Bench-Seq: %s-%06d\n"
                "Message-ID: <%s.%06d@bench.invalid>\n"
                "Date: %s +0000\n"
                "From: Sender %d <sender%d@example.org>\n"
                "To: Alice Example <alice@example.net>\n"
                "Subject: %s\n"
                "MIME-Version: 1.0\n%s" % (
                    corpus, seq, corpus, seq,
                    t.strftime("%a, %d %b %Y %H:%M:%S"), seq % 97,
                    seq % 97, subject, extra))

    def text_lines(self, size, eightbit=True, special=True):
        rng = self.rng
        out = []
        n = 0
        while n < size:
            r = rng.random()
            if special and r < 0.01:
                line = rng.choice(SPECIAL_LINES)
            elif eightbit and r < 0.03:
                line = rng.choice(EIGHTBIT_LINES)
            elif r < 0.08:
                line = ""
            else:
                line = rng.choice(self.text)
            out.append(line)
            n += len(line) + 1
        return out

    def message(self, corpus, seq, size):
        """A message of about size bytes. Some seq numbers give the
        awkward ones: a header without a blank line and body, no final
        newline, an empty body, a line longer than 8 KB."""
        rng = self.rng
        kind = seq % 499
        if kind == 7:
            # No blank line after the header: a header-only message.
            return self.header(corpus, seq, "Header only, no body",
                               "X-Note: no blank line follows\n").encode()
        if kind == 13:
            h = self.header(corpus, seq, "Empty body",
                            "Content-Type: text/plain\n")
            return (h + "\n").encode()
        if kind == 19:
            h = self.header(corpus, seq, "No final newline",
                            "Content-Type: text/plain\n")
            body = "\n".join(self.text_lines(max(200, size // 4)))
            return (h + "\n" + body).encode()
        if kind in (3, 101, 211, 307, 401):
            # One very long line (fetchmail once broke lines > 8 KB).
            h = self.header(corpus, seq, "A long line",
                            "Content-Type: text/html; charset=utf-8\n")
            n = max(9000, size - len(h) - 200)
            parts = []
            m = 0
            while m < n:
                w = rng.choice(self.words)
                parts.append(w)
                m += len(w) + 1
            body = ("<html><body><p>" + " ".join(parts) +
                    "</p></body></html>\nend\n")
            return (h + "\n" + body).encode()
        if size > 24 * 1024 or rng.random() < 0.15:
            boundary = "=_bench_%06d" % seq
            h = self.header(
                corpus, seq, "With an attachment %d" % seq,
                "Content-Type: multipart/mixed; boundary=\"%s\"\n"
                % boundary)
            text = self.text_lines(min(size // 8 + 200, 4000))
            nb = max(1, (size - len(h) - 600) // 77)
            start = rng.randrange(len(self.b64))
            b64 = [self.b64[(start + i) % len(self.b64)]
                   for i in range(nb)]
            body = ("This is a multi-part message in MIME format.\n\n"
                    "--%s\nContent-Type: text/plain; charset=utf-8\n"
                    "Content-Transfer-Encoding: 8bit\n\n%s\n\n"
                    "--%s\nContent-Type: application/octet-stream\n"
                    "Content-Transfer-Encoding: base64\n"
                    "Content-Disposition: attachment; "
                    "filename=\"data%d.bin\"\n\n%s\n--%s--\n" % (
                        boundary, "\n".join(text), boundary, seq,
                        "\n".join(b64), boundary))
            return (h + "\n" + body).encode()
        h = self.header(corpus, seq, "Plain text %d" % seq,
                        "Content-Type: text/plain; charset=utf-8\n"
                        "Content-Transfer-Encoding: 8bit\n")
        body = "\n".join(self.text_lines(max(0, size - len(h)))) + "\n"
        return (h + "\n" + body).encode()

    def big(self, corpus, seq, size):
        """One message of size bytes: a base64 attachment."""
        boundary = "=_bench_big"
        h = self.header(corpus, seq, "A big attachment",
                        "Content-Type: multipart/mixed; boundary=\"%s\"\n"
                        % boundary)
        head = (h + "\n--%s\nContent-Type: text/plain\n\nSee attached.\n\n"
                "--%s\nContent-Type: application/octet-stream\n"
                "Content-Transfer-Encoding: base64\n\n" % (
                    boundary, boundary)).encode()
        tail = ("--%s--\n" % boundary).encode()
        nb = (size - len(head) - len(tail)) // 77
        pool = "\n".join(self.b64).encode() + b"\n"
        body = bytearray()
        while len(body) < nb * 77:
            body += pool
        del body[nb * 77:]
        return head + bytes(body) + tail


def lognormal_size(rng, median, sigma, lo, hi):
    return int(min(hi, max(lo, math.exp(rng.gauss(math.log(median),
                                                  sigma)))))


def fill_mbox(c, gen, n, owner, mtime0=1700000000):
    """Add n messages of the kind a mailbox holds to corpus c (from
    gen): median 8 KB, at most 128 KB (bench/mirror.py uses it too)."""
    rng = random.Random(2)
    for i in range(n):
        size = lognormal_size(rng, 8192, 0.8, 400, 128 * 1024)
        c.add(gen.message(c.name, i, size), owner, mtime0 + i * 10)
    return c


def build_corpora(work, owner, opts):
    """The corpora this run needs, written under work/corpus."""
    t0 = time.monotonic()
    base = os.path.join(work, "corpus")
    os.makedirs(base, exist_ok=True)
    gen = Generator(20240808)
    mtime0 = 1700000000
    out = {}

    def new(name):
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        c = Corpus(name, d)
        out[name] = c
        return c

    # The mixed corpus: median 8 KB, 2.5% between 256 KB and 2 MB.
    c = new("mixed")
    rng = random.Random(1)
    nbig = max(1, opts.mixed // 40)
    bigs = set(rng.sample(range(opts.mixed), nbig))
    for i in range(opts.mixed):
        if i in bigs:
            size = rng.randint(256 * 1024, 2 * 1024 * 1024)
        else:
            size = lognormal_size(rng, 8192, 1.0, 400, 256 * 1024)
        c.add(gen.message("mixed", i, size), owner, mtime0 + i * 60)

    c = new("big")
    c.add(gen.big("big", 0, opts.big), owner, mtime0)
    c = new("small")
    c.add(gen.message("small", 0, 10 * 1024), owner, mtime0)

    # The mailbox for polls, sweeps and scaling: median 8 KB, at most
    # 128 KB.
    n = opts.mbox_max
    if n > 0:
        fill_mbox(new("mbox"), gen, n, owner)
    log("corpus: %s in %.1fs", ", ".join(
        "%s %d msgs %.1f MB" % (k, len(v), v.total() / 1e6)
        for k, v in out.items()), time.monotonic() - t0)
    return out


def strip_added(data):
    """data without the header fields (and a leading "From " line) that
    a peer added; returns (stripped, lines removed)."""
    pos = 0
    removed = 0
    out = []
    if data.startswith(b"From "):
        nl = data.find(b"\n")
        pos = len(data) if nl < 0 else nl + 1
        removed += 1
    keep_from = pos
    dropping = False
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        line = data[pos:end]
        if line in (b"\n", b"\r\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if dropping:
                out.append((keep_from, pos))
                keep_from = end
                removed += 1
        elif ADDED_FIELDS.match(line):
            out.append((keep_from, pos))
            keep_from = end
            dropping = True
            removed += 1
        else:
            dropping = False
        pos = end
    if not removed:
        return data, 0
    parts = [data[a:b] for a, b in out] + [data[keep_from:]]
    return b"".join(parts), removed


def verify(maildirs, corpus, n, proto, expect=None):
    """Check every message file under the Maildirs (new/ and cur/)
    against the first n messages of corpus (or, with expect, against
    the messages of corpus whose indexes it holds). Returns a dict:
    files, exact, hdr (exact once added header fields are removed),
    corrupt, missing, dup, unknown, status (text), and where (corpus
    index: the path of its file)."""
    dig = corpus.dig_pop3 if proto == "pop3" else corpus.dig_imap
    if expect is None:
        expect = range(n)
    seen = {}
    res = {"files": 0, "exact": 0, "hdr": 0, "corrupt": [],
           "missing": 0, "dup": 0, "unknown": 0, "where": seen}
    for md in maildirs:
        for sub in ("new", "cur"):
            d = os.path.join(md, sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith("."):
                    continue
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    data = f.read()
                res["files"] += 1
                stripped, removed = strip_added(data)
                m = SEQ_RE.search(stripped, 0, 4096)
                if m is None or m.group(1).decode() != corpus.name:
                    res["unknown"] += 1
                    continue
                i = int(m.group(2))
                if i not in expect:
                    res["unknown"] += 1
                    continue
                if i in seen:
                    res["dup"] += 1
                    continue
                seen[i] = path
                if hashlib.md5(stripped).digest() != dig[i]:
                    res["corrupt"].append(i)
                    if "first" not in res:
                        res["first"] = describe_diff(
                            corpus, i, stripped, proto)
                elif removed:
                    res["hdr"] += 1
                else:
                    res["exact"] += 1
    res["missing"] = len(expect) - len(seen)
    bad = []
    if res["corrupt"]:
        bad.append("%d changed (first: %s)" % (len(res["corrupt"]),
                                                res["first"]))
    if res["missing"]:
        bad.append("%d missing" % res["missing"])
    if res["dup"]:
        bad.append("%d dup" % res["dup"])
    if res["unknown"]:
        bad.append("%d unknown" % res["unknown"])
    if bad:
        res["status"] = "BAD: " + ", ".join(bad)
    elif res["hdr"]:
        res["status"] = "ok +hdr"
    else:
        res["status"] = "ok"
    res["ok"] = not bad
    return res


def describe_diff(corpus, i, got, proto):
    """Where message i as delivered (got) first differs from the
    corpus, in a few words."""
    with open(corpus.files[i], "rb") as f:
        want = f.read()
    if proto == "pop3" and want and not want.endswith(b"\n"):
        want += b"\n"
    k = 0
    n = min(len(want), len(got))
    while k < n and want[k] == got[k]:
        k += 1
    return "message %d of %d bytes, at byte %d: expected %r, got %r" % (
        i, len(want), k, want[k:k + 12], got[k:k + 12])


def count_files(maildir):
    n = 0
    for sub in ("new", "cur"):
        try:
            n += sum(1 for x in os.listdir(os.path.join(maildir, sub))
                     if not x.startswith("."))
        except FileNotFoundError:
            pass
    return n


# --- the server -----------------------------------------------------------

class Server:
    """The throwaway Dovecot and the users (mailboxes) of the benchmark.
    A mailbox is filled by hard-linking corpus files into cur/ (Dovecot
    never changes a message file in place, only renames or unlinks it),
    then warmed up: a first session builds Dovecot's index."""

    def __init__(self, work, name="dovecot", extra_config=""):
        self.d = harness.Dovecot(root_dir=os.path.join(work, name),
                                 extra_config=extra_config)
        self.d.start()
        self.boxes = {}

    @property
    def owner(self):
        return self.d.owner

    def stop(self):
        self.d.stop()

    def port(self, proto, tls):
        return self.d.ports[proto + ("s" if tls else "")]

    def mailbox(self, user, corpus, n, raw):
        """A user holding the first n messages of corpus."""
        if user in self.boxes:
            return user
        self.d.add_user(user, USER_PW)
        self.link(user, "INBOX", corpus, range(n))
        self.boxes[user] = (corpus, n)
        # Warm up: Dovecot indexes the mailbox, computes the sizes.
        for proto in ("imap", "pop3"):
            r = raw.run(self, proto, True, user, "list")
            if not r["ok"]:
                raise RuntimeError("warm-up of %s failed: %s"
                                   % (user, r["status"]))
        return user

    def link(self, user, folder, corpus, indexes, flags=None):
        """Hard-link the corpus messages of these indexes into the
        cur/ of user's folder (created as a Maildir++ folder when
        missing), each with the Maildir flags flags(i) (default none).
        The file name holds the index: "...Q<index>.bench:2,FLAGS"."""
        base = self.d.maildir(user, folder)
        if not os.path.isdir(os.path.join(base, "cur")):
            self.d.create_folder(user, folder)
        cur = os.path.join(base, "cur")
        for i in indexes:
            os.link(corpus.files[i], os.path.join(
                cur, "%d.M%06dP1Q%d.bench:2,%s" % (
                    1700000000 + i, i, i, flags(i) if flags else "")))

    def reset_flags(self, user):
        """Undo flag changes a client made (Dovecot's POP3 sets \\Seen
        on RETR, some IMAP clients set it): every file back to ":2,".
        Returns how many files were renamed."""
        base = self.d.maildir(user)
        n = 0
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            for name in os.listdir(d):
                stem, sep, flags = name.partition(":2,")
                if sub == "cur" and sep and not flags:
                    continue
                os.rename(os.path.join(d, name),
                          os.path.join(base, "cur", stem + ":2,"))
                n += 1
        return n

    def count(self, user):
        return count_files(self.d.maildir(user))

    # Dovecot's processes that serve one connection and exit when it
    # ends (service_count = 1, Dovecot's default for these): the login
    # processes, which also hold TLS, and the mail processes.
    PER_CONNECTION = ("imap-login", "pop3-login", "imap", "pop3")

    def cpu(self, timeout=10):
        """The CPU seconds (user + system) all of Dovecot's processes
        have used so far, once no per-connection process is left; NaN
        if one is still there after timeout seconds.

        Exact to a clock tick a process: a process's own time is in its
        /proc/PID/stat while it lives (a zombie's too), and moves into
        its parent's reaped-children time (cutime, cstime) when the
        parent reaps it. So the sum, over the master and every
        descendant, of own + reaped children's time counts each process
        once, alive or gone, as long as none exits between the reads.
        Hence the wait: a client that does not wait for the answer to
        its LOGOUT or QUIT exits while Dovecot still works for it. The
        long-lived processes (auth, config, log, stats, anvil) stay, and
        their share (authentication, logging) is counted as it grows.
        The difference of two calls is what Dovecot spent between them:
        around a client's run, serving it."""
        end = time.monotonic() + timeout
        while True:
            stats = proc_stats()
            pids = tree_pids(self.d.pid, stats)
            busy = [p for p in pids[1:]
                    if stats[p][1] in self.PER_CONNECTION]
            if not busy:
                return sum(sum(stats[p][2:]) for p in pids if p in stats)
            if time.monotonic() > end:
                return float("nan")
            time.sleep(0.01)


# --- measuring ------------------------------------------------------------

def parse_time(path):
    got = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().rpartition(": ")
            got[k] = v
    return {
        "user": float(got.get("User time (seconds)", "nan")),
        "sys": float(got.get("System time (seconds)", "nan")),
        "rss": int(got.get("Maximum resident set size (kbytes)", "0")),
    }


def measure(argv, env, cwd, timeout=RUN_TIMEOUT):
    """Run argv under /usr/bin/time -v: wall, user, sys, rss (KB), rc,
    out, err."""
    tf = os.path.join(cwd, ".time")
    # Nothing left to write back from setup or the previous run.
    os.sync()
    LOADS.append(loadavg())
    t0 = time.monotonic()
    try:
        p = subprocess.run(as_user([TIME, "-v", "-o", tf] + argv), env=env,
                           cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        rc = p.returncode
        out, err = p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or b"", e.stderr or b""
    wall = time.monotonic() - t0
    r = {"wall": wall, "rc": rc, "out": out.decode("utf-8", "replace"),
         "err": err.decode("utf-8", "replace")}
    try:
        r.update(parse_time(tf))
    except (OSError, ValueError):
        r.update({"user": float("nan"), "sys": float("nan"), "rss": 0})
    r["cpu"] = r["user"] + r["sys"]
    return r


def base_env(home):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("XDG_") and k not in ("MAILDIR", "MAIL")}
    os.makedirs(home, exist_ok=True)
    e["HOME"] = home
    e["TZ"] = "UTC"
    e["LC_ALL"] = "C"
    return e


class Acct:
    def __init__(self, server, proto, tls, user):
        self.proto = proto
        self.tls = tls
        self.host = "127.0.0.1"
        self.port = server.port(proto, tls)
        self.user = user
        self.password = USER_PW
        self.ca = server.d.ca_file


# --- the clients -----------------------------------------------------------

class Tool:
    """A client under test. setup() writes its configuration into the
    run directory rd and returns (argv, env); maildirs() names the
    Maildirs it delivers to. rd may hold an earlier run's state (polls,
    sweeps)."""
    name = "?"
    protos = ("pop3", "imap")
    limit = False

    def maildirs(self, rd):
        return [os.path.join(rd, "Maildir")]

    def available(self):
        return True

    def version(self):
        return ""


def dpkg_version(pkg):
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            check=True).stdout.decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


class Mailfetch(Tool):
    name = "mailfetch"

    def __init__(self, binary):
        self.bin = binary

    def version(self):
        try:
            v = subprocess.run([self.bin, "-V"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL).stdout.decode()
        except OSError:
            v = "?"
        return v.strip()

    def setup(self, rd, a, extra=None):
        md = os.path.join(rd, "Maildir")
        make_maildir(md)
        kv = [("protocol", a.proto), ("host", a.host), ("port", a.port),
              ("tls", "implicit" if a.tls else "none")]
        if a.tls:
            kv.append(("tls_ca_file", a.ca))
        else:
            kv.append(("allow_plaintext", "yes"))
        kv += [("user", a.user), ("password", a.password),
               ("maildir", md),
               ("state_file", os.path.join(rd, "state", "bench.state")),
               ("keep", "yes"), ("timeout", "600")]
        kv += [(k, v) for k, v in (extra or {}).items()
               if k not in ("poll", "wan")]
        cfg = os.path.join(rd, "fetchrc")
        write_file(cfg, "[bench]\n" + "".join(
            "%s = %s\n" % (k, v) for k, v in kv))
        return [self.bin, "-c", cfg, "bench"], base_env(
            os.path.join(rd, "home"))

    @staticmethod
    def summary(out):
        m = re.search(r"^bench: (\d+) fetched, (\d+) deleted, (\d+) left "
                      r"on server$", out, re.M)
        return tuple(int(x) for x in m.groups()) if m else None


class Mpop(Tool):
    name = "mpop"
    protos = ("pop3",)

    def available(self):
        return shutil.which("mpop") is not None

    def version(self):
        return dpkg_version("mpop")

    def setup(self, rd, a, extra=None):
        md = os.path.join(rd, "Maildir")
        make_maildir(md)
        rc = os.path.join(rd, "mpoprc")
        lines = ["defaults"]
        if a.tls:
            lines += ["tls on", "tls_starttls off",
                      "tls_trust_file %s" % a.ca]
        else:
            lines += ["tls off", "auth user"]
        lines += ["", "account bench", "host %s" % a.host,
                  "port %d" % a.port, "user %s" % a.user,
                  "password %s" % a.password,
                  "delivery maildir %s" % md, "keep on",
                  "uidls_file %s" % os.path.join(rd, "mpop.uidls"), ""]
        write_file(rc, "\n".join(lines))
        return ["mpop", "-q", "-C", rc, "bench"], base_env(
            os.path.join(rd, "home"))


class Mbsync(Tool):
    name = "mbsync"
    protos = ("imap",)
    # New messages from the server only: what a fetch client does (no
    # flag or deletion sync).
    channel = ["Sync Pull New", "Create Near", "Expunge None"]

    def store(self, rd, md):
        """The MaildirStore's lines: INBOX in md, others under rd/mb."""
        return ["Path %s/" % os.path.join(rd, "mb"), "Inbox %s" % md]

    def available(self):
        return shutil.which("mbsync") is not None

    def version(self):
        return dpkg_version("isync")

    def setup(self, rd, a, extra=None):
        md = os.path.join(rd, "Maildir")
        os.makedirs(os.path.join(rd, "mb"), exist_ok=True)
        rc = os.path.join(rd, "mbsyncrc")
        lines = ["IMAPAccount bench", "Host %s" % a.host,
                 "Port %d" % a.port, "User %s" % a.user,
                 "Pass %s" % a.password]
        if a.tls:
            lines += ["SSLType IMAPS", "CertificateFile %s" % a.ca,
                      "SystemCertificates no"]
        else:
            lines += ["SSLType None", "AuthMechs LOGIN"]
        lines += ["", "IMAPStore remote", "Account bench", "",
                  "MaildirStore local"] + self.store(rd, md) + [
                  "", "Channel bench", "Far :remote:", "Near :local:"
                  ] + self.channel + ["SyncState *", ""]
        write_file(rc, "\n".join(lines))
        return ["mbsync", "-q", "-c", rc, "bench"], base_env(
            os.path.join(rd, "home"))


class Fdm(Tool):
    name = "fdm"

    def available(self):
        return shutil.which("fdm") is not None

    def version(self):
        return dpkg_version("fdm")

    def setup(self, rd, a, extra=None):
        md = os.path.join(rd, "Maildir")
        make_maildir(md)
        rc = os.path.join(rd, "fdm.conf")
        kind = a.proto + ("s" if a.tls else "")
        lines = ['set lock-file "%s"' % os.path.join(rd, "fdm.lock"),
                 "set maximum-size 1G"]
        if a.tls:
            lines.append("set verify-certificates")
        lines += ['account "bench" %s server "%s" port %d user "%s" '
                  'pass "%s" keep' % (kind, a.host, a.port, a.user,
                                      a.password),
                  'action "md" maildir "%s"' % md,
                  'match all action "md"', ""]
        write_file(rc, "\n".join(lines))
        env = base_env(os.path.join(rd, "home"))
        env["SSL_CERT_FILE"] = a.ca
        return ["fdm", "-q", "-f", rc, "fetch"], env


class Fetchmail(Tool):
    name = "fetchmail"

    def available(self):
        return (shutil.which("fetchmail") is not None and
                shutil.which("procmail") is not None)

    def version(self):
        return "%s + procmail %s" % (dpkg_version("fetchmail"),
                                     dpkg_version("procmail"))

    def setup(self, rd, a, extra=None):
        md = os.path.join(rd, "Maildir")
        make_maildir(md)
        pm = os.path.join(rd, "procmailrc")
        write_file(pm, "MAILDIR=%s\nDEFAULT=%s/\n:0\n%s/\n" % (rd, md, md),
                   0o644)
        rc = os.path.join(rd, "fetchmailrc")
        # fetchall on a first fetch (Dovecot's POP3 marks what it sent
        # \Seen, the bench resets that between runs), not on a poll.
        opts = ["keep", "no rewrite"]
        if not (extra or {}).get("poll"):
            opts.insert(1, "fetchall")
        # Polls: remember the UIDs (Dovecot has no LAST); a server
        # option, on the poll line.
        uidl = " uidl" if (extra or {}).get("wan") and a.proto == "pop3" \
            else ""
        if a.tls:
            # The certificate names 127.0.0.1 as an IP address, which
            # fetchmail does not match; its other name is localhost.
            opts += ["ssl", "sslcertck", 'sslcertfile "%s"' % a.ca,
                     'sslcommonname "localhost"']
        else:
            opts += ["sslproto ''", "no sslcertck"]
        text = ("set no syslog\n"
                "poll %s protocol %s port %d%s:\n"
                "  user \"%s\" there with password \"%s\" is %s here\n"
                "  options %s\n"
                "  mda \"/usr/bin/procmail -m %s\"\n" % (
                    a.host, a.proto.upper(), a.port, uidl, a.user,
                    a.password,
                    RUN_AS[2] if RUN_AS else pwd.getpwuid(os.getuid())[0],
                    " ".join(opts), pm))
        write_file(rc, text)
        return (["fetchmail", "-s", "-f", rc,
                 "-i", os.path.join(rd, "fetchids"),
                 "--pidfile", os.path.join(rd, "fetchmail.pid")],
                base_env(os.path.join(rd, "home")))


class Getmail(Tool):
    name = "getmail"

    def available(self):
        return shutil.which("getmail") is not None

    def version(self):
        return dpkg_version("getmail6")

    def setup(self, rd, a, extra=None):
        md = os.path.join(rd, "Maildir")
        make_maildir(md)
        gd = os.path.join(rd, "getmail")
        os.makedirs(gd, exist_ok=True)
        kind = {"pop3": "SimplePOP3", "imap": "SimpleIMAP"}[a.proto]
        kind += "SSLRetriever" if a.tls else "Retriever"
        lines = ["[retriever]", "type = %s" % kind,
                 "server = %s" % a.host, "port = %d" % a.port,
                 "username = %s" % a.user, "password = %s" % a.password,
                 # Also how long getmail waits for its delivery child: a
                 # lost SIGCHLD (a race in getmail) costs this long.
                 "timeout = 15"]
        if a.tls:
            lines.append("ca_certs = %s" % a.ca)
        lines += ["", "[destination]", "type = Maildir",
                  "path = %s/" % md, "", "[options]", "verbose = 0",
                  # Case w polls: only what it has not retrieved.
                  "read_all = %s" % (
                      "false" if (extra or {}).get("wan") else "true"),
                  "delete = false",
                  "message_log_syslog = false", ""]
        rc = os.path.join(gd, "getmailrc")
        write_file(rc, "\n".join(lines))
        return (["getmail", "--getmaildir=%s" % gd, "--rcfile=getmailrc"],
                base_env(os.path.join(rd, "home")))


class Raw:
    """The protocol limit (bench/rawfetch)."""

    def __init__(self, binary, work):
        self.bin = binary
        self.work = work
        self.seq = 0

    def run(self, server, proto, tls, user, mode="fetch"):
        self.seq += 1
        cwd = os.path.join(self.work, "runs", "raw")
        if not os.path.isdir(cwd):
            os.makedirs(os.path.join(cwd, "home"))
            own(cwd)
        r = measure([self.bin, proto, "127.0.0.1",
                     str(server.port(proto, tls)),
                     "tls" if tls else "plain", server.d.ca_file, user,
                     USER_PW, mode], base_env(os.path.join(cwd, "home")),
                    cwd)
        m = re.search(r"messages (\d+) bytes (\d+)", r["out"])
        corpus, n = server.boxes.get(user, (None, None))
        if r["rc"] != 0 or m is None:
            r["ok"] = False
            r["status"] = "BAD: exit %s: %s" % (r["rc"], r["err"].strip())
        elif mode == "fetch" and n is not None and int(m.group(1)) != n:
            r["ok"] = False
            r["status"] = "BAD: %s of %d messages" % (m.group(1), n)
        else:
            r["ok"] = True
            r["status"] = "ok"
        r["msgs"] = int(m.group(1)) if m else 0
        return r


class DelayProxy:
    """bench/delayproxy.py in front of one server port; mark() and
    collect() give the round trips of the connections in between."""

    def __init__(self, port, rtt, rate, work):
        self.logpath = os.path.join(work, "delayproxy-%d-%d-%d.log" % (
            port, rtt, rate))
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(BENCH, "delayproxy.py"),
             "--to", "127.0.0.1:%d" % port, "--rtt", str(rtt),
             "--rate", str(rate), "--log", self.logpath],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.p.stdout.readline().decode()
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError("delayproxy did not start")
        self.port = int(line.split()[1])

    def stop(self):
        self.p.kill()
        self.p.wait()

    def mark(self):
        try:
            return os.path.getsize(self.logpath)
        except FileNotFoundError:
            return 0

    def collect(self, mark, timeout=30):
        """(round trips, connections) of the connections opened since
        mark, once all of them are closed."""
        t_end = time.monotonic() + timeout
        while True:
            try:
                with open(self.logpath) as f:
                    f.seek(mark)
                    recs = [json.loads(x) for x in f if x.endswith("\n")]
            except FileNotFoundError:
                recs = []
            opened = {r["id"] for r in recs if r["ev"] == "open"}
            closed = {r["id"]: r for r in recs if r["ev"] == "close"}
            if opened <= set(closed) or time.monotonic() > t_end:
                got = [closed[i] for i in opened if i in closed]
                return (sum(x["rt"] for x in got), len(opened),
                        sum(x["down"] for x in got))
            time.sleep(0.05)


# --- results --------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


class Row:
    """The samples of one client in one column."""

    def __init__(self, label):
        self.label = label
        self.samples = []
        self.notes = set()

    def add(self, r):
        self.samples.append(r)

    @property
    def wall(self):
        return med([s["wall"] for s in self.samples])

    @property
    def cpu(self):
        return med([s["cpu"] for s in self.samples])

    @property
    def rss(self):
        return med([s["rss"] for s in self.samples])

    @property
    def srv_cpu(self):
        """Dovecot's CPU seconds serving the client (Server.cpu)."""
        return med([s.get("srv_cpu", float("nan")) for s in self.samples])

    def per_srv_cpu(self, key):
        """The median, over the samples, of the sample's key ("cpu",
        "wall") divided by Dovecot's CPU in the same run."""
        return med([s[key] / s["srv_cpu"] for s in self.samples
                    if s.get("srv_cpu", 0) > 0])

    @property
    def ok(self):
        return bool(self.samples) and all(s["ok"] for s in self.samples)

    @property
    def status(self):
        bad = [s["status"] for s in self.samples if not s["ok"]]
        if bad:
            st = bad[0]
            if len(bad) < len(self.samples):
                st += " (%d of %d runs)" % (len(bad), len(self.samples))
            return st
        sts = sorted(set(s["status"] for s in self.samples))
        return ", ".join(sts)

    def spread(self):
        w = [s["wall"] for s in self.samples]
        if len(w) < 2:
            return ""
        return "%.2f–%.2f" % (min(w), max(w))


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def login_methods(path, pos):
    """The SASL mechanisms of the logins Dovecot logged after pos
    ("Login: user=<...>, method=SCRAM-SHA-256, ..."), as "A" or "A+B"."""
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "?"
    ms = []
    for m in re.findall(r"Login: user=<[^>]*>, method=([A-Z0-9-]+)", text):
        if m not in ms:
            ms.append(m)
    return "+".join(ms) or "?"


def fmt_mech(*rows):
    """The mechanisms the rows' samples logged in with."""
    ms = []
    for row in rows:
        for s in row.samples:
            for m in (s.get("mech") or "?").split("+"):
                if m not in ms:
                    ms.append(m)
    return ", ".join(ms)


def fmt_rt(row):
    rts = [s.get("rt") for s in row.samples if s.get("rt") is not None]
    if not rts:
        return "–"
    lo, hi = min(rts), max(rts)
    m = med(rts)
    txt = "%d" % m if m == int(m) else "%.1f" % m
    return txt if lo == hi else "%s (%d–%d)" % (txt, lo, hi)


def fmt_ratio(a, b):
    if not (a == a and b == b) or b <= 0:
        return "–"
    return "%.2fx" % (a / b)


def fmt_x(x):
    return "%.2fx" % x if x == x else "–"


def fmt_us(x):
    return "%.0f" % (x * 1e6) if x == x else "–"


def fmt_s(x):
    if x != x:
        return "–"
    if x < 0.1:
        return "%.3f" % x
    return "%.2f" % x


def fmt_rss(kb):
    if not kb or kb != kb:
        return "–"
    if kb >= 10240:
        return "%.0f MB" % (kb / 1024)
    return "%.1f MB" % (kb / 1024)


def column_table(col, rows, mf_key="mailfetch", limit_keys=()):
    """A markdown table of one column: each client's medians and
    mailfetch's ratio to it; where the runs measured Dovecot's CPU
    (Bench.served), that too, and each client's CPU and wall as ratios
    to it."""
    mf = rows.get(mf_key)
    srv = any(r.srv_cpu == r.srv_cpu for r in rows.values() if r.samples)
    extra = (" Dovecot CPU s | CPU / Dovecot CPU | wall / Dovecot CPU |"
             if srv else "")
    out = ["| client | wall s (median) | range | CPU s | peak RSS | "
           "mailfetch / it | delivered |" + extra,
           "|---|---|---|---|---|---|---|" + ("---|---|---|" if srv else "")]
    for key, row in rows.items():
        if not row.samples:
            continue
        ratio = "" if key == mf_key or mf is None else fmt_ratio(
            mf.wall, row.wall)
        line = "| %s | %s | %s | %s | %s | %s | %s |" % (
            row.label, fmt_s(row.wall), row.spread(), fmt_s(row.cpu),
            fmt_rss(row.rss), ratio, row.status)
        if srv:
            line += " %s | %s | %s |" % (
                fmt_s(row.srv_cpu), fmt_x(row.per_srv_cpu("cpu")),
                fmt_x(row.per_srv_cpu("wall")))
        out.append(line)
    return "\n".join(out)


# --- the cases ----------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.workdir
        self.build = os.path.abspath(args.build)
        self.mf = Mailfetch(os.path.join(self.build, "mailfetch"))
        self.results = []  # (title, markdown) sections
        self.targets = []  # (case, text, met: True/False/None)
        self.runno = 0
        self.peers = []
        self.flag_changes = {}
        self.skipped = []

    # -- helpers

    def rundir(self, case, label):
        self.runno += 1
        rd = os.path.join(self.work, "runs", case,
                          "%04d-%s" % (self.runno, label))
        os.makedirs(rd)
        return rd

    def run_tool(self, tool, rd, acct, corpus, n, extra=None,
                 check="fetch"):
        """Run a client once; check is "fetch" (every message of the
        first n of corpus delivered, verified), "poll" (nothing new: the
        Maildir still holds n files), or "sweep" (mailfetch deleted n)."""
        argv, env = tool.setup(rd, acct, extra)
        own(rd)
        r = measure(argv, env, rd)
        with open(os.path.join(rd, "output.txt"), "a") as f:
            f.write("$ %s\nexit %s\n--- stdout:\n%s--- stderr:\n%s" % (
                " ".join(argv), r["rc"], r["out"], r["err"]))
        mds = tool.maildirs(rd)
        problems = []
        # fetchmail says "no mail" with status 1.
        if r["rc"] != 0 and not (check == "poll" and r["rc"] == 1 and
                                 tool.name == "fetchmail"):
            problems.append("exit %s" % r["rc"])
        if check == "fetch":
            v = verify(mds, corpus, n, acct.proto)
            r["verify"] = v
            st = v["status"]
            if problems:
                st = ("BAD: " + ", ".join(problems) + "; " +
                      st.replace("BAD: ", ""))
            r["ok"] = v["ok"] and not problems
            r["status"] = st
        else:
            have = sum(count_files(m) for m in mds)
            if check == "poll" and have != n:
                problems.append("Maildir holds %d files, not %d"
                                % (have, n))
            r["ok"] = not problems
            r["status"] = "ok" if r["ok"] else "BAD: " + ", ".join(problems)
        if isinstance(tool, Mailfetch) and r["rc"] == 0:
            s = Mailfetch.summary(r["out"])
            want = {"fetch": (n, 0, n), "poll": (0, 0, n),
                    "sweep": (0, n, 0)}[check]
            if s != want:
                r["ok"] = False
                r["status"] = ("BAD: summary %r, expected %r; " % (
                    s, want)) + r["status"]
        if not r["ok"]:
            # procmail, run as a user whose home is /nonexistent, says
            # so for every message.
            text = "\n".join(x for x in (r["err"] + r["out"]).splitlines()
                             if "Couldn't chdir to" not in x)
            log("  %s: %s\n    %s", tool.name, r["status"],
                harness.condense(text, 8).replace("\n", "\n    "))
        return r

    def served(self, server, run):
        """r = run(), with r["srv_cpu"]: the CPU seconds Dovecot spent
        meanwhile (Server.cpu), serving that run's client alone."""
        before = server.cpu()
        r = run()
        r["srv_cpu"] = server.cpu() - before
        return r

    def srv_cpu_note(self, case, name, mf):
        """The target note: mailfetch's CPU and wall as ratios to the
        CPU Dovecot spent serving the same fetch."""
        self.targets.append((
            case, "%s: mailfetch CPU %s s and wall %s s against Dovecot's "
            "CPU serving the same fetch (%s s): CPU %s, wall %s (medians "
            "of the ratios in each run)" % (
                name, fmt_s(mf.cpu), fmt_s(mf.wall), fmt_s(mf.srv_cpu),
                fmt_x(mf.per_srv_cpu("cpu")),
                fmt_x(mf.per_srv_cpu("wall"))), None))

    def after_run(self, server, user, who):
        n = server.reset_flags(user)
        if n:
            self.flag_changes.setdefault(who, n)

    def disk(self, corpus, n, label):
        rd = self.rundir("disk", label)
        lf = corpus.listfile(n, os.path.join(rd, "list"))
        os.makedirs(os.path.join(rd, "home"))
        own(rd)
        r = measure([self.diskwrite, os.path.join(rd, "Maildir"), lf],
                    base_env(os.path.join(rd, "home")), rd)
        v = verify([os.path.join(rd, "Maildir")], corpus, n, "imap")
        r["ok"] = r["rc"] == 0 and v["ok"]
        r["status"] = v["status"] if r["rc"] == 0 else "BAD: exit %s" % r[
            "rc"]
        return r

    def order(self, items, rep):
        """Rotate the order each repetition, so no client always runs
        right after the same one."""
        k = rep % len(items) if items else 0
        return items[k:] + items[:k]

    # -- case a: first fetch of the mixed corpus

    def case_a(self, server, corpora):
        c = corpora["mixed"]
        n = len(c)
        user = server.mailbox("mixed", c, n, self.raw)
        cols = [("pop3", True), ("pop3", False), ("imap", True),
                ("imap", False)]
        rows = {}
        diskrow = Row("disk limit (diskwrite)")
        for proto, tls in cols:
            rows[(proto, tls)] = {"proto": Row("proto limit (rawfetch)"),
                                  "mailfetch": Row("**mailfetch**")}
            if proto == "imap":
                # COMPRESS=DEFLATE (on by default) costs Dovecot CPU
                # that a loopback link does not pay back.
                rows[(proto, tls)]["mailfetch-nc"] = Row(
                    "mailfetch, compress = no")
            for t in self.peers:
                if proto in t.protos:
                    rows[(proto, tls)][t.name] = Row(t.name)
        for rep in range(self.args.reps):
            log("a: repetition %d of %d", rep + 1, self.args.reps)
            diskrow.add(self.disk(c, n, "a"))
            for proto, tls in cols:
                a = Acct(server, proto, tls, user)
                keys = [k for k in rows[(proto, tls)]]
                for key in self.order(keys, rep):
                    row = rows[(proto, tls)][key]
                    if key == "proto":
                        r = self.served(server, lambda: self.raw.run(
                            server, proto, tls, user))
                    else:
                        tool = self.mf if key.startswith(
                            "mailfetch") else next(
                            t for t in self.peers if t.name == key)
                        ex = {"compress": "no"} if key == "mailfetch-nc" \
                            else None
                        rd = self.rundir("a", "%s-%s-%s" % (
                            key, proto, "tls" if tls else "plain"))
                        r = self.served(server, lambda: self.run_tool(
                            tool, rd, a, c, n, ex))
                    row.add(r)
                    self.after_run(server, user, key + " " + proto)
                    log("  %-9s %-4s %-5s %6.2fs cpu %5.2fs rss %6d KB %s",
                        key, proto, "tls" if tls else "plain", r["wall"],
                        r["cpu"], r["rss"], r["status"])
        text = ["Mixed corpus: %d messages, %.1f MB (median %.1f KB, "
                "largest %.2f MB), leave on server, empty Maildir. "
                "Disk limit: %s s wall (%s), the same in every column." % (
                    n, c.total() / 1e6,
                    statistics.median(c.sizes) / 1024,
                    max(c.sizes) / 1048576, fmt_s(diskrow.wall),
                    diskrow.status)]
        for (proto, tls), rs in rows.items():
            name = "%s %s" % (proto.upper(), "TLS" if tls else "plain")
            rs2 = dict(rs)
            rs2["disk"] = diskrow
            text.append("\n**%s**\n\n%s" % (name, column_table(name, rs2)))
            mf, pr = rs["mailfetch"], rs["proto"]
            peers = [r for k, r in rs.items()
                     if not k.startswith(("proto", "mailfetch")) and
                     r.samples]
            good = [r for r in peers if r.ok]
            if good:
                best = min(good, key=lambda r: r.wall)
                ok = mf.ok and mf.wall <= 0.6 * best.wall
                self.targets.append((
                    "a", "%s: mailfetch %.2f s <= 0.6 x fastest correct "
                    "peer (%s %.2f s): ratio %.2f" % (
                        name, mf.wall, best.label, best.wall,
                        mf.wall / best.wall), ok))
            fast_bad = [r for r in peers if not r.ok and
                        (not good or r.wall < min(g.wall for g in good))]
            for r in fast_bad:
                self.targets.append((
                    "a", "%s: %s was faster (%.2f s; mailfetch / it %.2f) "
                    "but did not deliver every message intact (%s); not "
                    "counted" % (name, r.label, r.wall, mf.wall / r.wall,
                                 r.status), None))
            self.srv_cpu_note("a", name, mf)
            if "mailfetch-nc" in rs:
                self.srv_cpu_note("a", name + ", compress = no",
                                  rs["mailfetch-nc"])
            lim = pr.wall + diskrow.wall
            self.targets.append((
                "a", "%s: mailfetch %.2f s <= 1.5 x (proto %.2f + disk "
                "%.2f = %.2f s): ratio %.2f" % (
                    name, mf.wall, pr.wall, diskrow.wall, lim,
                    mf.wall / lim), mf.ok and mf.wall <= 1.5 * lim))
        self.results.append(("(a) First fetch, mixed corpus",
                             "\n".join(text)))

    # -- case b: one big message

    def case_b(self, server, corpora):
        big, small = corpora["big"], corpora["small"]
        ubig = server.mailbox("big", big, 1, self.raw)
        usmall = server.mailbox("small", small, 1, self.raw)
        cols = [("pop3", True), ("imap", True)]
        rows = {}
        diskrow = Row("disk limit (diskwrite)")
        for col in cols:
            rows[col] = {"proto": Row("proto limit (rawfetch)"),
                         "mailfetch": Row("**mailfetch**"),
                         "mailfetch-10k": Row("mailfetch, one 10 KB "
                                              "message")}
            for t in self.peers:
                if col[0] in t.protos:
                    rows[col][t.name] = Row(t.name)
        for rep in range(self.args.reps):
            log("b: repetition %d of %d", rep + 1, self.args.reps)
            diskrow.add(self.disk(big, 1, "b"))
            for proto, tls in cols:
                keys = list(rows[(proto, tls)])
                for key in self.order(keys, rep):
                    row = rows[(proto, tls)][key]
                    if key == "proto":
                        r = self.served(server, lambda: self.raw.run(
                            server, proto, tls, ubig))
                    elif key == "mailfetch-10k":
                        rd = self.rundir("b", "mailfetch10k-" + proto)
                        r = self.served(server, lambda: self.run_tool(
                            self.mf, rd, Acct(server, proto, tls, usmall),
                            small, 1))
                    else:
                        tool = self.mf if key == "mailfetch" else next(
                            t for t in self.peers if t.name == key)
                        rd = self.rundir("b", "%s-%s" % (key, proto))
                        r = self.served(server, lambda: self.run_tool(
                            tool, rd, Acct(server, proto, tls, ubig), big,
                            1))
                    row.add(r)
                    self.after_run(server, ubig, key + " " + proto)
                    self.after_run(server, usmall, key + " " + proto)
                    log("  %-13s %-4s %6.2fs cpu %5.2fs rss %7d KB %s",
                        key, proto, r["wall"], r["cpu"], r["rss"],
                        r["status"])
        text = ["One message of %.1f MB (base64 attachment), TLS. Disk "
                "limit (write + fsync): %s s." % (
                    big.total() / 1e6, fmt_s(diskrow.wall))]
        for (proto, tls), rs in rows.items():
            name = "%s TLS" % proto.upper()
            rs2 = dict(rs)
            rs2["disk"] = diskrow
            text.append("\n**%s**\n\n%s" % (name, column_table(name, rs2)))
            mf, pr, mf10 = rs["mailfetch"], rs["proto"], rs["mailfetch-10k"]
            self.srv_cpu_note("b", name, mf)
            self.targets.append((
                "b", "%s: mailfetch wall %.2f s <= 1.2 x proto limit "
                "%.2f s: ratio %.2f" % (name, mf.wall, pr.wall,
                                        mf.wall / pr.wall),
                mf.ok and mf.wall <= 1.2 * pr.wall))
            self.targets.append((
                "b", "%s: mailfetch peak RSS %d KB within 512 KB of its "
                "own peak fetching one 10 KB message (%d KB): %+d KB" % (
                    name, mf.rss, mf10.rss, mf.rss - mf10.rss),
                mf.ok and mf.rss <= mf10.rss + 512))
            if "mpop" in rs and rs["mpop"].samples:
                mp = rs["mpop"]
                self.targets.append((
                    "b", "%s: mailfetch peak RSS %d KB below mpop's "
                    "(%d KB)" % (name, mf.rss, mp.rss),
                    mf.ok and mf.rss < mp.rss))
            elif "mbsync" in rs and rs["mbsync"].samples:
                mb = rs["mbsync"]
                self.targets.append((
                    "b", "%s: mailfetch peak RSS %d KB vs mbsync's %d KB "
                    "(information; the target names mpop)" % (
                        name, mf.rss, mb.rss), None))
        self.results.append(("(b) One big message", "\n".join(text)))

    # -- case c: steady-state poll

    def case_c(self, server, corpora):
        c = corpora["mbox"]
        n = self.args.poll
        user = server.mailbox("mbox%d" % n, c, n, self.raw)
        cols = [("pop3", True, "mpop"), ("imap", True, "mbsync")]
        rows = {}
        first = {}
        dirs = {}
        for proto, tls, peer in cols:
            a = Acct(server, proto, tls, user)
            rows[proto] = {"proto": Row("proto limit (rawfetch list)"),
                           "mailfetch": Row("**mailfetch**")}
            tools = [self.mf] + [t for t in self.peers if t.name == peer]
            for t in tools:
                rows[proto].setdefault(t.name, Row(t.name))
                rd = self.rundir("c", "%s-%s" % (t.name, proto))
                log("c: %s %s: first fetch of %d messages", t.name, proto,
                    n)
                r = self.run_tool(t, rd, a, c, n)
                self.after_run(server, user, t.name + " " + proto)
                first[(proto, t.name)] = r
                log("  first fetch %.2fs %s", r["wall"], r["status"])
                # A client that skipped or broke some messages still
                # polls: what it has must not change.
                have = sum(count_files(m) for m in t.maildirs(rd))
                if r["rc"] == 0 and have > 0:
                    dirs[(proto, t.name)] = (rd, have)
        for rep in range(self.args.reps):
            log("c: repetition %d of %d", rep + 1, self.args.reps)
            for proto, tls, peer in cols:
                a = Acct(server, proto, tls, user)
                keys = list(rows[proto])
                for key in self.order(keys, rep):
                    if key == "proto":
                        r = self.raw.run(server, proto, tls, user, "list")
                        if r["ok"] and r["msgs"] != n:
                            r["ok"] = False
                            r["status"] = "BAD: listed %d" % r["msgs"]
                    else:
                        if (proto, key) not in dirs:
                            continue
                        tool = self.mf if key == "mailfetch" else next(
                            t for t in self.peers if t.name == key)
                        rd, have = dirs[(proto, key)]
                        r = self.run_tool(tool, rd, a, c, have,
                                          check="poll")
                    rows[proto][key].add(r)
                    self.after_run(server, user, key + " " + proto)
                    log("  %-9s %-4s %6.3fs cpu %5.3fs rss %6d KB %s", key,
                        proto, r["wall"], r["cpu"], r["rss"], r["status"])
        text = ["A mailbox of %d messages (%.0f MB), all fetched by an "
                "earlier run of the same client and kept on the server; "
                "nothing new. TLS. The limit lists the mailbox (POP3 UIDL; "
                "IMAP EXAMINE + UID FETCH 1:* (UID)). mbsync runs with "
                "`Sync Pull New`." % (n, c.total(n) / 1e6)]
        for (proto, tls, peer) in cols:
            rs = rows[proto]
            text.append("\n**%s TLS, poll**\n\n%s" % (
                proto.upper(), column_table(proto, rs)))
            firsts = ["%s %.2f s (%s)" % (k, r["wall"], r["status"])
                      for (p, k), r in first.items() if p == proto]
            text.append("\nFirst fetch (setup, one run each): " +
                        "; ".join(firsts) + ".")
            mf = rs["mailfetch"]
            if peer in rs and rs[peer].samples:
                pr = rs[peer]
                self.targets.append((
                    "c", "%s poll: mailfetch %.3f s <= 0.5 x %s %.3f s: "
                    "ratio %.2f" % (proto.upper(), mf.wall, peer, pr.wall,
                                    mf.wall / pr.wall),
                    mf.ok and pr.ok and mf.wall <= 0.5 * pr.wall))
        self.results.append(("(c) Steady-state poll", "\n".join(text)))

    # -- case d: delete_after sweep

    def case_d(self, server, corpora):
        c = corpora["mbox"]
        sizes = self.args.sweep_sizes
        protos = ("pop3", "imap")
        rows = {(p, s, k): Row(k) for p in protos for s in sizes
                for k in ("mailfetch", "proto")}
        for rep in range(self.args.reps):
            log("d: repetition %d of %d", rep + 1, self.args.reps)
            for n in sizes:
                for proto in protos:
                    for key in self.order(["mailfetch", "proto"], rep):
                        user = "sweep%s%s%dr%d" % (key[:2], proto, n, rep)
                        self.sweep_one(server, c, n, proto, key, user,
                                       rows[(proto, n, key)])
        text = ["mailfetch deletes every message of a mailbox with "
                "`delete_after = 1s`, all fetched (and recorded) by an "
                "earlier run more than a second before; the limit deletes "
                "them in one session (POP3: pipelined DELE; IMAP: UID "
                "STORE 1:* +FLAGS.SILENT (\\Deleted), UID EXPUNGE). TLS. "
                "A fresh mailbox (same messages) for every run.",
                "", "| protocol | messages | mailfetch wall s | µs/msg | "
                "CPU s | peak RSS | proto limit s | µs/msg | "
                "mailfetch / limit | checked |", "|---|---|---|---|---|---|"
                "---|---|---|---|"]
        for proto in protos:
            per = []
            for n in sizes:
                mf, pr = rows[(proto, n, "mailfetch")], rows[
                    (proto, n, "proto")]
                per.append(mf.wall / n)
                text.append("| %s | %d | %s | %.0f | %s | %s | %s | %.0f | "
                            "%s | %s |" % (
                                proto.upper(), n, fmt_s(mf.wall),
                                mf.wall / n * 1e6, fmt_s(mf.cpu),
                                fmt_rss(mf.rss), fmt_s(pr.wall),
                                pr.wall / n * 1e6,
                                fmt_ratio(mf.wall, pr.wall),
                                "mailfetch " + mf.status + ", limit " +
                                pr.status))
            self.targets.append((
                "d", "%s sweep: per-message cost %s µs; largest / smallest "
                "size: %.2f (linear if <= 1.25)" % (
                    proto.upper(), " / ".join("%.0f" % (x * 1e6)
                                              for x in per),
                    per[-1] / per[0]),
                per[-1] <= 1.25 * per[0] and all(
                    rows[(proto, n, "mailfetch")].ok for n in sizes)))
        self.results.append(("(d) delete_after sweep", "\n".join(text)))

    def sweep_one(self, server, c, n, proto, key, user, row):
        server.mailbox(user, c, n, self.raw)
        a = Acct(server, proto, True, user)
        if key == "proto":
            r = self.raw.run(server, proto, True, user, "delete")
            if r["ok"] and r["msgs"] not in (0, n):
                r["ok"] = False
                r["status"] = "BAD: deleted %d" % r["msgs"]
        else:
            rd = self.rundir("d", "mailfetch-%s-%d" % (proto, n))
            r0 = self.run_tool(self.mf, rd, a, c, n)
            if not r0["ok"]:
                r0["status"] = "BAD: first fetch: " + r0["status"]
                row.add(r0)
                return
            t_first = time.time()
            time.sleep(max(0.0, t_first + 1.2 - time.time()))
            # The first fetch moved its Maildir files nowhere; the
            # sweep must fetch nothing.
            r = self.run_tool(self.mf, rd, a, c, n,
                              extra={"delete_after": "1s"}, check="sweep")
        left = server.count(user)
        if r["ok"] and left != 0:
            r["ok"] = False
            r["status"] = "BAD: %d left on the server" % left
        row.add(r)
        log("  %-9s %-4s %6d %6.2fs cpu %5.2fs rss %6d KB %s", key, proto,
            n, r["wall"], r["cpu"], r["rss"], r["status"])

    # -- case e: scaling

    def case_e(self, server, corpora):
        c = corpora["mbox"]
        sizes = self.args.scale_sizes
        rows = {}
        keys = ["mailfetch-pop3", "mailfetch-imap", "proto-pop3",
                "proto-imap", "disk"]
        for n in sizes:
            server.mailbox("mbox%d" % n, c, n, self.raw)
            for k in keys:
                rows[(n, k)] = Row(k)
        for rep in range(self.args.reps):
            log("e: repetition %d of %d", rep + 1, self.args.reps)
            for n in sizes:
                user = "mbox%d" % n
                for key in self.order(keys, rep):
                    if key == "disk":
                        r = self.disk(c, n, "e%d" % n)
                    elif key.startswith("proto"):
                        r = self.served(server, lambda: self.raw.run(
                            server, key[6:], True, user))
                    else:
                        proto = key[10:]
                        rd = self.rundir("e", "%s-%d" % (key, n))
                        r = self.served(server, lambda: self.run_tool(
                            self.mf, rd, Acct(server, proto, True, user),
                            c, n))
                    rows[(n, key)].add(r)
                    self.after_run(server, user, key)
                    log("  %-14s %6d %6.2fs cpu %5.2fs rss %6d KB %s", key,
                        n, r["wall"], r["cpu"], r["rss"], r["status"])
        text = ["First fetch of the first N messages of the mailbox "
                "corpus (median %.1f KB), TLS, empty Maildir. Per-message "
                "cost = median wall / N." % (
                    statistics.median(c.sizes) / 1024), "",
                "| messages | MB | client | wall s | µs/msg | CPU µs/msg | "
                "peak RSS | mailfetch / (proto + disk) | checked | "
                "Dovecot CPU µs/msg | CPU / Dovecot CPU | "
                "wall / Dovecot CPU |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for n in sizes:
            for k in keys:
                row = rows[(n, k)]
                ratio = ""
                if k.startswith("mailfetch"):
                    p = rows[(n, "proto-" + k[10:])]
                    ratio = fmt_ratio(row.wall,
                                      p.wall + rows[(n, "disk")].wall)
                text.append("| %d | %.0f | %s | %s | %.0f | %.0f | %s | %s "
                            "| %s | %s | %s | %s |" % (
                                n, c.total(n) / 1e6, k, fmt_s(row.wall),
                                row.wall / n * 1e6, row.cpu / n * 1e6,
                                fmt_rss(row.rss), ratio, row.status,
                                fmt_us(row.srv_cpu / n),
                                fmt_x(row.per_srv_cpu("cpu")),
                                fmt_x(row.per_srv_cpu("wall"))))
        for k in ("mailfetch-pop3", "mailfetch-imap"):
            for n in sizes:
                self.srv_cpu_note("e", "%s, %d messages" % (k, n),
                                  rows[(n, k)])
            per = [rows[(n, k)].wall / n for n in sizes]
            rss = [rows[(n, k)].rss for n in sizes]
            self.targets.append((
                "e", "%s: µs/msg at %s messages: %s; largest / smallest: "
                "%.2f (flat if <= 1.25); peak RSS %s KB" % (
                    k, " / ".join(str(n) for n in sizes),
                    " / ".join("%.0f" % (x * 1e6) for x in per),
                    per[-1] / per[0], " / ".join(str(x) for x in rss)),
                per[-1] <= 1.25 * per[0] and all(
                    rows[(n, k)].ok for n in sizes)))
        self.results.append(("(e) Scaling", "\n".join(text)))

    # -- case w: a WAN link (bench/delayproxy.py)

    WAN_SETTINGS = (("RTT 50 ms", 50, 0), ("RTT 50 ms, 10 Mbit/s", 50, 10))
    # At 10 Mbit/s only the fast peers (the others take minutes there).
    WAN_SLOW_PEERS = ("mpop", "mbsync")
    # auth = auto picks SCRAM-SHA-256 from Dovecot (SPEC), which takes two
    # round trips more than PLAIN with SASL-IR: both are shown.
    WAN_VARIANTS = {"imap": [("mailfetch, compress = no",
                              {"compress": "no"}),
                             ("mailfetch, auth = plain", {"auth": "plain"})],
                    "pop3": [("mailfetch, auth = plain", {"auth": "plain"})]}

    def case_w(self, server, corpora):
        c = corpora["mixed"]
        n = min(len(c), 200)
        user = server.mailbox("wan%d" % n, c, n, self.raw)
        text = ["The first %d messages of the mixed corpus (%.1f MB), TLS, "
                "through bench/delayproxy.py: every chunk held RTT/2 in "
                "each direction, in order, the TCP handshake emulated "
                "(1 RTT). \"RT\" is the number of round trips the client "
                "waited for, summed over its connections: 1 for the TCP "
                "handshake plus one per turn (the client sends or closes "
                "after it received data, with nothing more on its way to "
                "it); see bench/delayproxy.py. First fetch into an empty "
                "Maildir, then a poll (nothing new) with the state the "
                "fetch left. \"MB from server\" is what crossed the "
                "link towards the client on the first fetch (TLS records; "
                "compressed where the session was). Dovecot offers "
                "COMPRESS=DEFLATE (imap_zlib); mailfetch uses it unless "
                "`compress = no`, mbsync (1.4) uses it whenever offered "
                "(it has no option for it). Medians of %d interleaved "
                "repetitions." % (
                    n, c.total(n) / 1e6, self.args.reps)]
        for title, rtt, rate in self.WAN_SETTINGS:
            text.append("\n#### %s\n" % title)
            for proto in ("pop3", "imap"):
                text.append(self.wan_column(server, c, n, user, proto,
                                            rtt, rate, title))
        self.results.append(("(w) WAN: round trips, delay and bandwidth",
                             "\n".join(text)))

    def wan_column(self, server, c, n, user, proto, rtt, rate, title):
        px = DelayProxy(server.port(proto, True), rtt, rate, self.work)
        try:
            a = Acct(server, proto, True, user)
            a.port = px.port
            tools = [("mailfetch", self.mf, None)]
            tools += [(lab, self.mf, ex)
                      for lab, ex in self.WAN_VARIANTS.get(proto, [])]
            tools += [(t.name, t, None) for t in self.peers
                      if proto in t.protos and t.name != "fdm" and
                      (not rate or t.name in self.WAN_SLOW_PEERS)]
            rows = {k: (Row(k), Row(k)) for k, _, _ in tools}
            for rep in range(self.args.reps):
                for key, tool, extra in self.order(tools, rep):
                    rd = self.rundir("w", "%s-%s-%d" % (
                        key.split(",")[0], proto, rate))
                    for i, check in enumerate(("fetch", "poll")):
                        mark = px.mark()
                        lpos = log_size(server.d.log_file)
                        ex = dict(extra or {}, wan=True)
                        if check == "poll":
                            ex["poll"] = True
                        r = self.run_tool(tool, rd, a, c, n, ex, check)
                        r["rt"], r["conns"], r["down"] = px.collect(mark)
                        r["mech"] = login_methods(server.d.log_file, lpos)
                        rows[key][i].add(r)
                    # Flags only after the poll: fetchmail's IMAP poll
                    # skips what is \Seen.
                    self.after_run(server, user, key + " " + proto)
                    for i, check in enumerate(("fetch", "poll")):
                        r = rows[key][i].samples[-1]
                        log("  w %-26s %-4s %-5s %3d Mbit %6.2fs rt %3d %s",
                            key, proto, check, rate, r["wall"], r["rt"],
                            r["status"])
        finally:
            px.stop()
        out = ["**%s TLS, %s**\n" % (proto.upper(), title),
               "| client | auth | first fetch s | range | RT | MB from server "
               "| poll s | range | RT | mailfetch / it: fetch, poll "
               "| delivered |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        mf = rows["mailfetch"]
        for key, (f, p) in rows.items():
            ratio = "" if key == "mailfetch" else "%s, %s" % (
                fmt_ratio(mf[0].wall, f.wall), fmt_ratio(mf[1].wall, p.wall))
            out.append("| %s | %s | %s | %s | %s | %.1f | %s | %s | %s | %s "
                       "| %s |" % (
                "**mailfetch**" if key == "mailfetch" else key,
                fmt_mech(f, p), fmt_s(f.wall), f.spread(), fmt_rt(f),
                med([x["down"] for x in f.samples]) / 1e6, fmt_s(p.wall),
                p.spread(), fmt_rt(p), ratio,
                f.status if f.status == p.status else
                "fetch %s, poll %s" % (f.status, p.status)))
        self.wan_targets(proto, rate, rows)
        return "\n".join(out) + "\n"

    def wan_targets(self, proto, rate, rows):
        mf = rows["mailfetch"]
        name = "%s%s" % (proto.upper(), ", 10 Mbit/s" if rate else "")
        if rate:
            off = rows.get("mailfetch, compress = no")
            if off:
                self.targets.append((
                    "w", "%s: first fetch compressed %.2f s <= 0.6 x "
                    "uncompressed %.2f s: ratio %.2f" % (
                        name, mf[0].wall, off[0].wall,
                        mf[0].wall / off[0].wall),
                    mf[0].ok and mf[0].wall <= 0.6 * off[0].wall))
            mb = rows.get("mbsync")
            if mb and mb[0].samples:
                self.targets.append((
                    "w", "%s: first fetch compressed %.2f s ahead of mbsync "
                    "(compressed) %.2f s: ratio %.2f%s" % (
                        name, mf[0].wall, mb[0].wall,
                        mf[0].wall / mb[0].wall,
                        "" if mb[0].ok else " (mbsync: %s)" % mb[0].status),
                    mf[0].ok and mf[0].wall < mb[0].wall))
            return
        lim = {"fetch": 6 if proto == "pop3" else 5, "poll": 5}
        for i, what in enumerate(("fetch", "poll")):
            for key in ("mailfetch", "mailfetch, auth = plain"):
                if key not in rows:
                    continue
                r = rows[key][i]
                rt = med([s["rt"] for s in r.samples])
                self.targets.append((
                    "w", "%s %s: %s (%s) waits %s round trips <= %d" % (
                        name, what, key, fmt_mech(r), fmt_rt(r),
                        lim[what]),
                    r.ok and rt <= lim[what]))
            peers = [r[i] for k, r in rows.items()
                     if not k.startswith("mailfetch") and r[i].ok]
            if not peers:
                continue
            best = min(peers, key=lambda r: r.wall)
            f = 0.8 if what == "fetch" else 0.6
            for key in ("mailfetch", "mailfetch, auth = plain"):
                if key not in rows:
                    continue
                r = rows[key][i]
                self.targets.append((
                    "w", "%s %s: %s (%s) %.2f s <= %.1f x fastest peer "
                    "(%s, %s, %.2f s): ratio %.2f" % (
                        name, what, key, fmt_mech(r), r.wall, f,
                        best.label, fmt_mech(best), best.wall,
                        r.wall / best.wall),
                    r.ok and r.wall <= f * best.wall))

    # -- profile

    def profile(self, server, corpora):
        """perf (on-CPU samples) and strace -c -w (time in system calls,
        wall) of mailfetch's first fetch of the mixed corpus."""
        c = corpora["mixed"]
        n = len(c)
        user = server.mailbox("mixed", c, n, self.raw)
        out = []
        for proto in ("pop3", "imap"):
            a = Acct(server, proto, True, user)
            if shutil.which("perf"):
                rd = self.rundir("prof", "perf-" + proto)
                argv, env = self.mf.setup(rd, a)
                data = os.path.join(rd, "perf.data")
                p = subprocess.run(
                    ["perf", "record", "-e", "cpu-clock", "-F", "4000",
                     "-g", "-o", data, "--"] + argv, env=env, cwd=rd,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.after_run(server, user, "profile")
                if p.returncode == 0:
                    rep = subprocess.run(
                        ["perf", "report", "-i", data, "--stdio",
                         "--no-children", "--sort", "dso,symbol",
                         "-g", "none", "--percent-limit", "1.5"],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL).stdout.decode(
                            "utf-8", "replace")
                    lines = [x for x in rep.splitlines()
                             if x.strip() and not x.startswith("#")]
                    out.append("perf, %s TLS, on-CPU samples by DSO and "
                               "symbol (>= 1.5%%):\n\n```\n%s\n```" % (
                                   proto.upper(), "\n".join(lines[:30])))
                else:
                    out.append("perf record failed: %s" %
                               p.stderr.decode()[-300:])
            if shutil.which("strace"):
                rd = self.rundir("prof", "strace-" + proto)
                argv, env = self.mf.setup(rd, a)
                sf = os.path.join(rd, "strace.txt")
                t0 = time.monotonic()
                subprocess.run(["strace", "-f", "-c", "-w", "-o", sf, "--"]
                               + argv, env=env, cwd=rd,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                wall = time.monotonic() - t0
                self.after_run(server, user, "profile")
                with open(sf) as f:
                    lines = f.read().rstrip().splitlines()
                out.append("strace -c -w (wall time inside each system "
                           "call; the run took %.2f s under strace), %s "
                           "TLS:\n\n```\n%s\n```" % (
                               wall, proto.upper(), "\n".join(lines[:18])))
        self.results.append(("Profile of mailfetch, case (a)",
                             "\n\n".join(out)))

    # -- the whole run

    def prepare_tools(self):
        cc = os.environ.get("CC", "cc")
        libs = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libtls"],
            stdout=subprocess.PIPE, check=True).stdout.decode().split()
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir, exist_ok=True)
        for prog, extra in (("rawfetch", libs), ("diskwrite", [])):
            subprocess.run([cc, "-std=c99", "-D_DEFAULT_SOURCE", "-O2",
                            "-Wall", "-Wextra", "-o",
                            os.path.join(bindir, prog),
                            os.path.join(BENCH, prog + ".c")] + extra,
                           check=True)
        self.raw = Raw(os.path.join(bindir, "rawfetch"), self.work)
        self.diskwrite = os.path.join(bindir, "diskwrite")
        if not os.access(self.mf.bin, os.X_OK):
            raise SystemExit("bench: %s is not built (make)" % self.mf.bin)
        if not os.access(TIME, os.X_OK):
            raise SystemExit("bench: %s missing (sh tests/deps.sh bench)"
                             % TIME)
        want = set(self.args.peers)
        for t in (Mpop(), Mbsync(), Fdm(), Fetchmail(), Getmail()):
            if t.name not in want:
                continue
            if t.available():
                self.peers.append(t)
            else:
                self.skipped.append(t.name)
                log("bench: %s is not installed; skipped "
                    "(sh tests/deps.sh bench)", t.name)

    def run(self):
        t0 = time.monotonic()
        started = datetime.datetime.now(datetime.timezone.utc)
        self.rev = git_rev()
        self.prepare_tools()
        server = Server(self.work)
        try:
            corpora = build_corpora(self.work, server.owner, self.args)
            for case in "abcedw":
                if case in self.args.cases:
                    log("== case %s", case)
                    getattr(self, "case_" + case)(server, corpora)
            if self.args.profile:
                log("== profile")
                self.profile(server, corpora)
            self.dovecot_version = dovecot_version()
        finally:
            server.stop()
        self.elapsed = time.monotonic() - t0
        self.started = started
        return self.report()

    def report(self):
        a = self.args
        lines = []
        head = "## %s — %s, cases %s, %d repetition%s" % (
            self.started.strftime("%Y-%m-%d %H:%M UTC"),
            "quick" if a.quick else "full", ",".join(a.cases), a.reps,
            "" if a.reps == 1 else "s")
        lines += [head, ""]
        lines += ["Machine: %s." % machine(self.work),
                  "", "Versions: %s (%s); Dovecot %s; %s." % (
                      self.mf.version(), self.rev,
                      self.dovecot_version,
                      "; ".join("%s %s" % (t.name, t.version())
                                for t in self.peers)),
                  "", "Wall time is the median of the repetitions, "
                  "interleaved; CPU is user + system of the client (and "
                  "its children: procmail), not of Dovecot; \"Dovecot "
                  "CPU\" is that of all Dovecot's processes while they "
                  "served the run (the ratios to it are the medians of "
                  "each run's); peak RSS is "
                  "the largest of the client's processes. \"mailfetch / "
                  "it\" below 1 means mailfetch is faster. \"delivered\" "
                  "is the check of every message file against the corpus: "
                  "`ok` byte-exact, `ok +hdr` exact apart from header "
                  "fields the client added on top (Received:, ...). "
                  "The run took %.0f s." % self.elapsed]
        if LOADS:
            lines += ["", "Background load (1-minute load average before "
                      "each of the %d measured runs, %d CPUs): median "
                      "%.2f, max %.2f. Other work on the machine makes "
                      "the numbers noisier." % (
                          len(LOADS), os.cpu_count() or 0, med(LOADS),
                          max(LOADS))]
        if self.skipped:
            lines += ["", "Not installed, skipped: %s." % ", ".join(
                self.skipped)]
        if self.flag_changes:
            lines += ["", "Server flags changed (reset before the next "
                      "run): " + "; ".join(
                          "%s (%d files)" % (k, v)
                          for k, v in sorted(self.flag_changes.items())) +
                      ". Dovecot's POP3 sets \\Seen on RETR."]
        lines += ["", "### Targets", ""]
        for case, text, met in self.targets:
            mark = {True: "met", False: "**NOT met**", None: "note"}[met]
            lines.append("- (%s) %s — %s" % (case, text, mark))
        for title, body in self.results:
            lines += ["", "### " + title, "", body]
        return "\n".join(lines) + "\n"


def git_rev():
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                              "HEAD"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=env,
                             check=True).stdout.decode().strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL,
                               env=env).stdout.strip()
        return "git %s%s" % (rev, " with uncommitted changes"
                             if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"


def machine(work):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GB" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    fs = "?"
    try:
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,OPTIONS", "-T",
                             work], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL).stdout.decode(
                                ).strip()
    except OSError:
        pass
    deb = ""
    try:
        with open("/etc/debian_version") as f:
            deb = "Debian " + f.read().strip()
    except OSError:
        pass
    return "%s, %d CPUs, %s RAM, Linux %s, %s, %s on %s" % (
        cpu, os.cpu_count() or 0, mem, platform.release(), deb,
        fs.split()[0] if fs else "?", work)


def save_results(path, section):
    title = ("# mailfetch benchmark results\n\n"
             "Made by `make bench` (bench/bench.py); the newest first. "
             "See bench/bench.py for what each case measures.\n")
    old = ""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        pass
    i = old.find("\n## ")
    rest = old[i + 1:] if i >= 0 else ""
    with open(path + ".tmp", "w") as f:
        f.write(title + "\n" + section + ("\n" + rest if rest else ""))
    os.rename(path + ".tmp", path)


def dovecot_version():
    return subprocess.run(["dovecot", "--version"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.decode().strip()


# --- what bench.py, idle.py, mirror.py and memory.py share ---------------

def common_args(p):
    """The options of every bench script: where mailfetch is, the work
    directory, and where the results go."""
    p.add_argument("--build", default="build",
                   help="the build directory holding mailfetch")
    p.add_argument("--workdir", help="where the run's files go (default: "
                   "a new directory in /tmp)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory")
    p.add_argument("--results", default=os.path.join(BENCH, "RESULTS.md"),
                   help="the results file (default %(default)s)")
    p.add_argument("--no-results", action="store_true",
                   help="print the results, do not write the file")


def bench_main(name, args, run):
    """The main of each bench script: in the work directory
    (args.workdir, made if missing, or a new one in /tmp), section =
    run(args); the directory is removed after unless --keep, and the
    section printed and added on top of args.results unless
    --no-results."""
    if args.workdir is None:
        args.workdir = tempfile.mkdtemp(prefix="mf%s-" % name, dir="/tmp")
        # Dovecot's mail processes (not root) must reach the mailboxes.
        os.chmod(args.workdir, 0o755)
    else:
        os.makedirs(args.workdir, exist_ok=True)
        args.workdir = os.path.abspath(args.workdir)
    log("%s: work directory %s", name, args.workdir)
    try:
        section = run(args)
    finally:
        if not args.keep:
            log("%s: removing %s", name, args.workdir)
            shutil.rmtree(args.workdir, ignore_errors=True)
    sys.stdout.write(section)
    if not args.no_results:
        save_results(args.results, section)
        log("%s: results added to %s", name, args.results)
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_args(p)
    p.add_argument("--quick", action="store_true",
                   help="small corpus, one repetition: a sanity run")
    p.add_argument("--case", default="a,b,c,d,e,w",
                   help="cases to run, e.g. a,c (default all)")
    p.add_argument("--reps", type=int, help="repetitions (default 3, "
                   "quick 1)")
    p.add_argument("--peers", default=",".join(PEERS),
                   help="peers to compare with (default %(default)s)")
    p.add_argument("--profile", action="store_true", default=None,
                   help="profile mailfetch on case a (perf, strace); the "
                   "default in a full run with case a")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    a = p.parse_args(argv)
    a.cases = [x.strip() for x in a.case.split(",") if x.strip()]
    for x in a.cases:
        if x not in "abcdew" or len(x) != 1:
            p.error("unknown case %r" % x)
    a.peers = [x.strip() for x in a.peers.split(",") if x.strip()]
    for x in a.peers:
        if x not in PEERS:
            p.error("unknown peer %r (known: %s)" % (x, ", ".join(PEERS)))
    if a.quick:
        a.reps = a.reps or 1
        a.mixed, a.big, a.poll = 200, 5 * 1024 * 1024, 2000
        a.sweep_sizes, a.scale_sizes = [500, 2000], [500, 2000]
    else:
        a.reps = a.reps or 3
        a.mixed, a.big, a.poll = 2000, 50 * 1024 * 1024, 20000
        a.sweep_sizes, a.scale_sizes = [5000, 20000], [5000, 20000, 80000]
    need = []
    if "c" in a.cases:
        need.append(a.poll)
    if "d" in a.cases:
        need += a.sweep_sizes
    if "e" in a.cases:
        need += a.scale_sizes
    a.mbox_max = max(need) if need else 0
    if a.profile is None:
        a.profile = not a.quick and "a" in a.cases
    return a


def main(argv):
    return bench_main("bench", parse_args(argv),
                      lambda args: Bench(args).run())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
