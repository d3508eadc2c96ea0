#!/usr/bin/env python3
"""The benchmark of issue 14: resyncing a mirror after a few changes.

    python3 bench/mirror.py --build build [--quick] [--messages N]
        [--folders F] [--small N] [--reps R]
        [--clients mbsync,mailfetch,nocondstore] [--plain]
        [--workdir DIR --keep] [--no-results]

--quick is a sanity run (2000 messages in 4 folders, under a minute).
The full size takes a while, mostly the initial mirrors: mbsync copied
20 000 messages (240 MB) in about 3 minutes here on a loaded 2-CPU
machine, so 100 000 take about 15 minutes for each client.

A throwaway Dovecot on 127.0.0.1 (tests/harness.py, started as
bench/bench.py starts it) holds one user with N messages (default
100 000) spread over F folders (default 20: f01, f02, ..., Maildir++
folders .f01 ... on the server; INBOX is empty), filled by hard-linking
the files of a deterministic corpus (bench.fill_mbox: median 8 KB, at
most 128 KB) into the folders' cur/, with a fixed mix of flags (3 of 4
\\Seen, some \\Flagged or \\Answered), then warmed up (every folder
SELECTed and its flags and sizes fetched once, so Dovecot's index is
built).

Each client mirrors the whole mailbox once (the initial mirror, timed
but not in the ratios), then, three times (--reps): on the server 10
flag changes and 5 expunges (an IMAP session of the bench's own,
plain IMAP on loopback; the messages are fixed: a seeded permutation of
the mailbox, a fresh slice each round, spread over the folders), then
each client's resync, timed (wall, under /usr/bin/time -v for its peak
RSS), clients in turn. Each round the clients see the same changes.

After each run the local copy is checked against the server's Maildir:
the same messages in each folder (by the corpus index in the message,
byte-exact: every file after the initial mirror and after the last
resync; in between by name, as a mirror renames files but does not
rewrite them) and the same flags (the Maildir info letters D F P R S T;
a file in new/ without info has none).

Clients (the clients run as "nobody" when run as root, as in
bench/bench.py):

  mbsync       isync's mbsync, the closest one-way mirror: Sync Pull
               (new messages, flags and expunges from far to near),
               Create Near, Remove Near, Expunge Near, Patterns *,
               SubFolders Maildir++, SyncState * (its state in each
               local folder). It has no CONDSTORE: each run fetches the
               flags of every message of every folder.
  mailfetch    mailfetch with mirror = yes, keep = yes, folders = *
               (CONDSTORE / QRESYNC: Dovecot offers both).
  nocondstore  mailfetch, the same configuration, against a second
               Dovecot serving the same mail (same mail_location and
               index) whose imap_capability leaves out CONDSTORE and
               QRESYNC (checked: neither is advertised, before or after
               login): the fallback that lists every folder's flags.

A build of mailfetch without mirroring (the config key `mirror` is
unknown: exit 78) is detected before the mailbox is filled; its rows
are then skipped and the ratios are n/a.

Memory: mailfetch's resync is also run against a second user holding
N/10 messages (--small) in the same F folders; the median peak RSS of
its resyncs at both sizes is compared.

Targets (issue 14): mailfetch's resync <= 0.25 s; <= 0.2 x mbsync's;
peak RSS at N at most 2 MB above that at N/10. The fallback's cost is
reported beside them.

The results are added on top of bench/RESULTS.md as a section of their
own (--no-results: only printed).
"""

import argparse
import datetime
import imaplib
import os
import random
import re
import shutil
import statistics
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

# bench.py also puts tests/ on sys.path, for harness.
from bench import (LOADS, USER_PW, Acct, Corpus, Generator,  # noqa: E402
                   Mailfetch, Mbsync, Row, Server, bench_main, common_args,
                   dovecot_version, fill_mbox, fmt_rss, fmt_s, git_rev,
                   harness, log, machine, measure, med, own, verify)

TARGET_S = 0.25
TARGET_RATIO = 0.2
TARGET_RSS_KB = 2048
FLAG_LETTERS = "DFPRST"
SEED = 14


def initial_flags(i):
    """The server flags message i starts with (Maildir letters)."""
    if i % 29 == 0:
        return "FS"
    if i % 31 == 0:
        return "RS"
    return "S" if i % 4 else ""


def shown_path(path):
    """path relative to the source tree when it is inside it."""
    rel = os.path.relpath(path, os.path.dirname(BENCH_DIR))
    return path if rel.startswith("..") else rel


def header_only(corpus):
    """The indexes of the messages whose header is not followed by a
    blank line (bench.Generator makes a few; they are small)."""
    out = set()
    for i, size in enumerate(corpus.sizes):
        if size < 4096:
            with open(corpus.files[i], "rb") as f:
                data = f.read()
            if b"\n\n" not in data:
                out.add(i)
    return out


def folder_names(nfolders):
    return ["f%02d" % (k + 1) for k in range(nfolders)]


def folder_of(i, nfolders):
    return "f%02d" % (i % nfolders + 1)


# --- the server side -------------------------------------------------------

IDX_RE = re.compile(r"Q(\d+)\.bench")


def server_state(server, user, folders):
    """{folder: {corpus index: flags}} as the server's Maildir holds it
    now (the file names carry both)."""
    out = {}
    for f in ["INBOX"] + folders:
        base = server.d.maildir(user, f)
        got = {}
        for sub in ("new", "cur"):
            try:
                names = os.listdir(os.path.join(base, sub))
            except FileNotFoundError:
                continue
            for name in names:
                m = IDX_RE.search(name)
                if m is None:
                    continue
                got[int(m.group(1))] = norm_flags(name)
        out[f] = got
    return out


def norm_flags(name):
    info = name.partition(":2,")[2]
    return "".join(sorted(set(c for c in info if c in FLAG_LETTERS)))


def uid_map(server, user, folders):
    """{corpus index: (folder, UID)} from each folder's dovecot-uidlist
    (Dovecot's record of the UID it gave each file name)."""
    out = {}
    for f in folders:
        path = os.path.join(server.d.maildir(user, f), "dovecot-uidlist")
        with open(path) as fh:
            next(fh)
            for line in fh:
                uid = line.split(" ", 1)[0]
                m = IDX_RE.search(line)
                if m and uid.isdigit():
                    out[int(m.group(1))] = (f, int(uid))
    return out


def imap_session(server, user):
    c = imaplib.IMAP4("127.0.0.1", server.port("imap", False))
    c.login(user, USER_PW)
    return c


def ok(what, typ, data):
    if typ != "OK":
        raise RuntimeError("%s failed: %r" % (what, data))
    return data


def warm_up(server, user, folders):
    """SELECT every folder and fetch its flags and sizes once: Dovecot
    builds its index and cache, as a long-used mailbox has them."""
    c = imap_session(server, user)
    try:
        for f in ["INBOX"] + folders:
            n = int(ok("SELECT " + f, *c.select(f))[0])
            if n:
                ok("FETCH " + f,
                   *c.fetch("1:*", "(UID FLAGS RFC822.SIZE)"))
            c.close()
    finally:
        c.logout()


class Changes:
    """The server-side changes of each round: a fixed permutation of
    the mailbox's messages, a fresh slice of it each round; the first
    nflags of a slice get their flags changed, the rest are expunged.
    A message with \\Seen loses it and gains \\Flagged, one without
    gains \\Seen (never \\Deleted: mbsync would expunge such a message
    on the near side, a mirror keeps it)."""

    def __init__(self, server, user, indexes, folders, nflags, nexpunge):
        self.server = server
        self.user = user
        self.nflags = nflags
        self.nexpunge = nexpunge
        self.order = sorted(indexes)
        random.Random(SEED).shuffle(self.order)
        self.uids = uid_map(server, user, folders)
        self.round = 0

    def apply(self):
        k = self.nflags + self.nexpunge
        pick = self.order[self.round * k:(self.round + 1) * k]
        if len(pick) < k:
            raise RuntimeError("mailbox too small for another round")
        self.round += 1
        state = server_state(self.server, self.user,
                             sorted({self.uids[i][0] for i in pick}))
        cur = {i: fl for box in state.values() for i, fl in box.items()}
        by_folder = {}
        for n, i in enumerate(pick):
            by_folder.setdefault(self.uids[i][0], []).append(
                (i, n < self.nflags))
        c = imap_session(self.server, self.user)
        try:
            for f in sorted(by_folder):
                ok("SELECT " + f, *c.select(f))
                gone = []
                for i, flag in by_folder[f]:
                    uid = str(self.uids[i][1])
                    if flag and "S" in cur[i]:
                        ok("STORE", *c.uid("STORE", uid, "-FLAGS",
                                           r"(\Seen)"))
                        ok("STORE", *c.uid("STORE", uid, "+FLAGS",
                                           r"(\Flagged)"))
                    elif flag:
                        ok("STORE", *c.uid("STORE", uid, "+FLAGS",
                                           r"(\Seen)"))
                    else:
                        gone.append(uid)
                if gone:
                    s = ",".join(gone)
                    ok("STORE", *c.uid("STORE", s, "+FLAGS.SILENT",
                                       r"(\Deleted)"))
                    ok("EXPUNGE", *c.uid("EXPUNGE", s))
                c.close()
        finally:
            c.logout()
        return pick


def capabilities(server):
    """(before login, after login) capability lists of a Dovecot."""
    c = imaplib.IMAP4("127.0.0.1", server.port("imap", False))
    try:
        pre = [x.upper() for x in c.capabilities]
        c.login("probe", USER_PW)
        typ, data = c.capability()
        post = data[0].decode().upper().split()
    finally:
        c.logout()
    return pre, post


# --- the clients -----------------------------------------------------------

class MbsyncMirror(Mbsync):
    """mbsync as a one-way mirror of every mailbox. It does not copy a
    message whose header is not followed by a blank line ("message N
    from far side has incomplete header; skipping."): such messages are
    left out of its check, and its status says how many."""
    skips_header_only = True
    channel = ["Patterns *", "Sync Pull", "Create Near", "Remove Near",
               "Expunge Near"]

    def store(self, rd, md):
        return ["SubFolders Maildir++", "Inbox %s" % md]


class MailfetchMirror(Mailfetch):
    """mailfetch as a mirror of every mailbox (keep = yes is in
    bench.Mailfetch's configuration already)."""

    def setup(self, rd, a, extra=None):
        return super().setup(rd, a, {"mirror": "yes", "folders": "*"})


SUMMARY_RE = re.compile(
    r"^bench: (\d+) fetched, (\d+) deleted, (\d+) left on server, "
    r"(\d+) updated, (\d+) removed here$", re.M)


def unavailable(r):
    """Whether a mailfetch run says this build has no mirror."""
    text = r["err"] + r["out"]
    return r["rc"] == 78 and "mirror" in text


# --- checking a local copy -------------------------------------------------

CONDSTORE_RE = re.compile(r"\b(CONDSTORE|QRESYNC|CHANGEDSINCE)\b", re.I)


def asked_condstore(logdir):
    """The first command line in Dovecot's rawlogs (*.in) under logdir
    that uses CONDSTORE or QRESYNC, or None."""
    for name in sorted(os.listdir(logdir)):
        if not name.endswith(".in"):
            continue
        with open(os.path.join(logdir, name), "rb") as f:
            for line in f:
                text = line.decode("utf-8", "replace").strip()
                if CONDSTORE_RE.search(text):
                    return text.split(" ", 1)[-1][:120]
    return None


def local_dir(root, folder):
    return root if folder == "INBOX" else os.path.join(root, "." + folder)


def local_files(d):
    out = []
    for sub in ("new", "cur"):
        try:
            names = os.listdir(os.path.join(d, sub))
        except FileNotFoundError:
            continue
        out += [(sub, n) for n in names if not n.startswith(".")]
    return out


def check_copy(root, want, corpus, known, full):
    """Compare the local Maildir root with want ({folder: {index:
    flags}}). full: read every file and check it byte for byte against
    the corpus (bench.verify), and remember which name holds which
    message in known ({(folder, unique name): index}); else identify
    files by known. Returns (ok, status text)."""
    bad = []
    wrong_flags = 0
    for folder, msgs in sorted(want.items()):
        d = local_dir(root, folder)
        if not os.path.isdir(os.path.join(d, "cur")) and msgs:
            bad.append("%s missing" % folder)
            continue
        have = {}
        if full:
            v = verify([d], corpus, None, "imap", expect=msgs)
            if not v["ok"]:
                bad.append("%s: %s" % (folder, v["status"][5:].replace(
                    " unknown", " not on the server")))
            for i, path in v["where"].items():
                name = os.path.basename(path)
                known[(folder, name.split(":")[0])] = i
                have[i] = name
        else:
            unknown = dup = 0
            for sub, name in local_files(d):
                i = known.get((folder, name.split(":")[0]))
                if i is None or i not in msgs:
                    unknown += 1
                elif i in have:
                    dup += 1
                else:
                    have[i] = name
            missing = len(msgs) - len(have)
            for n, what in ((missing, "missing"), (dup, "dup"),
                            (unknown, "not on the server")):
                if n:
                    bad.append("%s: %d %s" % (folder, n, what))
        for i, name in have.items():
            if norm_flags(name) != msgs[i]:
                wrong_flags += 1
                if wrong_flags == 1:
                    first = "%s message %d: %r, server %r" % (
                        folder, i, norm_flags(name), msgs[i])
    if wrong_flags:
        bad.append("%d wrong flags (first: %s)" % (wrong_flags, first))
    extra = sorted(n[1:] for n in os.listdir(root)
                   if n.startswith(".") and n[1:] not in want and
                   os.path.isdir(os.path.join(root, n, "cur")) and
                   local_files(os.path.join(root, n)))
    if extra:
        bad.append("folders not on the server: %s" % ", ".join(extra))
    if bad:
        return False, "BAD: " + "; ".join(bad)
    return True, "ok" + ("" if full else " (by name)")


# --- the run -----------------------------------------------------------------

class Client:
    """A client under test, its account, run directory, and rows."""

    def __init__(self, key, label, tool, acct, rd):
        self.key = key
        self.label = label
        self.tool = tool
        self.acct = acct
        self.rd = rd
        self.initial = Row(label)
        self.resync = Row(label)
        self.unchanged = Row(label)
        self.known = {}
        self.failed = False
        self.owner = None
        self.server = None  # the Server it talks to: its CPU is measured


class MirrorBench:
    def __init__(self, args):
        self.args = args
        self.work = args.workdir
        self.mf_bin = os.path.join(os.path.abspath(args.build), "mailfetch")
        self.targets = []
        self.notes = []
        self.clients = []
        self.small = None
        self.mf_available = None
        self.mf_why = None
        self.runno = 0

    def rundir(self, label):
        self.runno += 1
        rd = os.path.join(self.work, "runs", "%02d-%s" % (self.runno,
                                                          label))
        os.makedirs(rd)
        return rd

    def run_client(self, cl, want, corpus, full, expect, resync):
        """One run of cl; its check against want. expect: mailfetch's
        summary counts (fetched, updated, removed; None: any) or None.
        A resync of the fallback's is checked for CONDSTORE and QRESYNC
        in its commands."""
        argv, env = cl.tool.setup(cl.rd, cl.acct)
        own(cl.rd)
        logdir = None
        if cl.key == "nocondstore" and resync:
            logdir = os.path.join(self.rawlog, cl.acct.user)
            os.makedirs(logdir)
            os.chown(logdir, *cl.owner)
        c0 = cl.server.cpu() if cl.server is not None else float("nan")
        r = measure(argv, env, cl.rd)
        # What Dovecot spent serving the run (bench.Server.cpu): the
        # part of the wall no client can pass.
        r["dcpu"] = (cl.server.cpu() - c0) if cl.server is not None \
            else float("nan")
        asked = asked_condstore(logdir) if logdir else None
        if logdir:
            shutil.rmtree(logdir)
        with open(os.path.join(cl.rd, "output.txt"), "a") as f:
            f.write("$ %s\nexit %s\n--- stdout:\n%s--- stderr:\n%s" % (
                " ".join(argv), r["rc"], r["out"], r["err"]))
        left_out = 0
        if getattr(cl.tool, "skips_header_only", False):
            left_out = sum(1 for box in want.values() for i in box
                           if i in self.header_only)
            want = {f: {i: fl for i, fl in box.items()
                        if i not in self.header_only}
                    for f, box in want.items()}
        good, status = check_copy(os.path.join(cl.rd, "Maildir"), want,
                                  corpus, cl.known, full)
        if left_out:
            status += (", without the %d messages whose header has no "
                       "blank line after it (%s skips them)" % (
                           left_out, cl.tool.name))
        problems = []
        if r["rc"] != 0:
            problems.append("exit %s" % r["rc"])
        if expect is not None and r["rc"] == 0:
            m = SUMMARY_RE.search(r["out"])
            got = (int(m.group(1)), int(m.group(4)), int(m.group(5))) \
                if m else None
            if got is None or any(w is not None and g != w
                                  for g, w in zip(got, expect)):
                problems.append("summary %s, expected %s fetched, %s "
                                "updated, %s removed here" % ((
                                    m.group(0) if m else "missing",) +
                                    tuple("any" if x is None else x
                                          for x in expect)))
        if asked:
            problems.append("asked for CONDSTORE or QRESYNC, which the "
                            "server did not offer: %r" % asked)
        if problems:
            status = "BAD: " + "; ".join(problems) + "; " + (
                status[5:] if status.startswith("BAD: ") else status)
            good = False
        r["ok"] = good
        r["status"] = status
        if not good:
            cl.failed = True
            log("  %s: %s\n    %s", cl.label, status, harness.condense(
                r["err"] + r["out"], 8).replace("\n", "\n    "))
        return r

    def probe(self, server):
        """Whether this mailfetch mirrors: a run against an empty
        account; exit 78 naming `mirror` means no."""
        rd = self.rundir("probe")
        tool = MailfetchMirror(self.mf_bin)
        argv, env = tool.setup(rd, Acct(server, "imap", self.args.tls,
                                        "probe"))
        own(rd)
        r = measure(argv, env, rd)
        if unavailable(r):
            self.mf_why = "mailfetch: mirror not available in this build"
            print(self.mf_why)
            log("mailfetch: mirror not available in this build (%s)",
                harness.condense(r["err"], 2))
            self.notes.append(
                "mailfetch: mirror not available in this build (%s: "
                "exit %s, `%s`); its rows are skipped, the ratios are "
                "n/a." % (shown_path(self.mf_bin), r["rc"],
                          r["err"].strip().splitlines()[0]
                          if r["err"].strip() else ""))
            return False
        if r["rc"] != 0:
            err = harness.condense(r["err"].strip(), 3)
            self.mf_why = "mailfetch failed on an empty account"
            log("mirror: mailfetch failed on an empty account (exit %s): "
                "%s; its rows are skipped", r["rc"], err)
            self.notes.append(
                "mailfetch failed its first run, on an empty account "
                "(exit %s: `%s`); its rows are skipped, the ratios are "
                "n/a." % (r["rc"], err.replace("\n", " ")))
            return False
        return True

    def fill(self, server, user, corpus, n, folders):
        t0 = time.monotonic()
        server.d.add_user(user, USER_PW)
        for f in folders:
            server.link(user, f, corpus,
                        range(folders.index(f), n, len(folders)),
                        initial_flags)
        warm_up(server, user, folders)
        log("mailbox %s: %d messages in %d folders, filled and warmed up "
            "in %.1f s", user, n, len(folders), time.monotonic() - t0)

    def nocs_server(self, server):
        """A second Dovecot on the same mail, without CONDSTORE and
        QRESYNC in its capabilities."""
        pre, post = capabilities(server)
        keep = [x for x in post if x not in ("CONDSTORE", "QRESYNC")]
        # Dovecot still honours CONDSTORE and QRESYNC when a client asks
        # for them: the resyncs' commands are logged (rawlog_dir; a
        # user's directory exists only during a resync) and checked.
        self.rawlog = os.path.join(self.work, "rawlog-nocs")
        os.makedirs(self.rawlog)
        os.chown(self.rawlog, *server.owner)
        extra = ("mail_location = maildir:%s/mail/%%u\n"
                 "imap_capability = %s\n"
                 "rawlog_dir = %s/%%u\n" % (server.d.root, " ".join(keep),
                                            self.rawlog))
        s2 = Server(self.work, "dovecot-nocs", extra)
        s2.d.add_user("probe", USER_PW)
        pre2, post2 = capabilities(s2)
        gone = [x for x in ("CONDSTORE", "QRESYNC")
                if x in pre2 or x in post2]
        had = [x for x in ("CONDSTORE", "QRESYNC") if x in post]
        self.notes.append(
            "Capabilities after login: the Dovecot of the mirror offers "
            "%s; the fallback's Dovecot (same mail, `imap_capability` "
            "without them) %s (%d capabilities before login, %d after)." % (
                " and ".join(had) or "neither CONDSTORE nor QRESYNC",
                "still offers " + " and ".join(gone) if gone else
                "offers neither, before or after login",
                len(pre2), len(post2)))
        if gone:
            raise SystemExit("mirror: the fallback Dovecot still offers %s"
                             % ", ".join(gone))
        return s2

    def run(self):
        a = self.args
        t_start = time.monotonic()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.rev = git_rev()
        folders = folder_names(a.folders)
        want_mf = "mailfetch" in a.clients or "nocondstore" in a.clients
        if want_mf and not os.access(self.mf_bin, os.X_OK):
            raise SystemExit("mirror: %s is not built (make)" % self.mf_bin)
        if "mbsync" in a.clients and not MbsyncMirror().available():
            log("mirror: mbsync is not installed (sh tests/deps.sh bench); "
                "skipped")
            self.notes.append("mbsync is not installed: skipped.")
            a.clients.remove("mbsync")
        server = Server(self.work)
        servers = [server]
        try:
            server.d.add_user("probe", USER_PW)
            if want_mf:
                self.mf_available = self.probe(server)
            nocs = None
            if "nocondstore" in a.clients:
                nocs = self.nocs_server(server)
                servers.append(nocs)
            gen = Generator(20240808)
            corpus = Corpus("mirror", os.path.join(self.work, "corpus"))
            os.makedirs(corpus.dir)
            t0 = time.monotonic()
            fill_mbox(corpus, gen, a.messages, server.owner)
            log("corpus: %d messages, %.1f MB in %.1f s", len(corpus),
                corpus.total() / 1e6, time.monotonic() - t0)
            self.corpus_mb = corpus.total() / 1e6
            self.header_only = header_only(corpus)
            self.fill(server, "mirror", corpus, a.messages, folders)
            self.clients = self.make_clients(server, nocs, "mirror")
            self.rounds(server, "mirror", corpus, a.messages, folders,
                        self.clients)
            if self.mf_available and a.small and "mailfetch" in a.clients:
                self.fill(server, "small", corpus, a.small, folders)
                self.small = [c for c in self.make_clients(
                    server, None, "small") if c.key == "mailfetch"]
                self.rounds(server, "small", corpus, a.small, folders,
                            self.small)
            self.dovecot_version = dovecot_version()
        finally:
            for s in reversed(servers):
                s.stop()
        self.elapsed = time.monotonic() - t_start
        self.evaluate()
        return self.report()

    def make_clients(self, server, nocs, user):
        a = self.args
        out = []
        if "mbsync" in a.clients:
            out.append(Client("mbsync", "mbsync", MbsyncMirror(),
                              Acct(server, "imap", a.tls, user),
                              self.rundir(user + "-mbsync")))
            out[-1].server = server
        if self.mf_available:
            if "mailfetch" in a.clients:
                out.append(Client(
                    "mailfetch", "mailfetch (CONDSTORE)",
                    MailfetchMirror(self.mf_bin),
                    Acct(server, "imap", a.tls, user),
                    self.rundir(user + "-mailfetch")))
                out[-1].server = server
            if nocs is not None:
                nocs.d.add_user(user, USER_PW)
                out.append(Client(
                    "nocondstore", "mailfetch, no CONDSTORE",
                    MailfetchMirror(self.mf_bin),
                    Acct(nocs, "imap", a.tls, user),
                    self.rundir(user + "-nocondstore")))
                out[-1].owner = nocs.owner
                out[-1].server = nocs
        return out

    def rounds(self, server, user, corpus, n, folders, clients):
        a = self.args
        want = server_state(server, user, folders)
        log("== %s: initial mirror", user)
        for cl in clients:
            # Whether a message fetched with flags counts as updated too
            # is not for the bench to say.
            expect = (n, None, 0) if isinstance(cl.tool, Mailfetch) \
                else None
            r = self.run_client(cl, want, corpus, True, expect, False)
            cl.initial.add(r)
            log("  %s: %.2f s, %s", cl.label, r["wall"], r["status"])
        changes = Changes(server, user, range(n), folders, a.changes,
                          a.expunges)
        for rep in range(a.reps):
            changes.apply()
            want = server_state(server, user, folders)
            left = sum(len(v) for v in want.values())
            if left != n - a.expunges * (rep + 1):
                raise RuntimeError("the server holds %d messages, not %d"
                                   % (left, n - a.expunges * (rep + 1)))
            last = rep == a.reps - 1
            k = rep % len(clients) if clients else 0
            for cl in clients[k:] + clients[:k]:
                expect = (0, a.changes, a.expunges) if isinstance(
                    cl.tool, Mailfetch) else None
                r = self.run_client(cl, want, corpus, last, expect, True)
                cl.resync.add(r)
                log("  %s: resync %d: %.3f s, %.1f MB, %s", cl.label,
                    rep + 1, r["wall"], r["rss"] / 1024, r["status"])
        # A run with nothing changed: what logging in and asking costs,
        # on both sides, below any resync.
        for cl in clients:
            expect = (0, 0, 0) if isinstance(cl.tool, Mailfetch) else None
            r = self.run_client(cl, want, corpus, False, expect, True)
            cl.unchanged.add(r)
            log("  %s: unchanged: %.3f s, Dovecot CPU %.3f s, %s",
                cl.label, r["wall"], r["dcpu"], r["status"])

    # -- results

    def evaluate(self):
        a = self.args
        by = {c.key: c for c in self.clients}
        mb = by.get("mbsync")
        mf = by.get("mailfetch")
        nc = by.get("nocondstore")
        na = "n/a (%s)" % (self.mf_why or "not run")

        def good(c):
            return c is not None and c.resync.ok

        if good(mf):
            self.targets.append((
                "mailfetch resync %s s <= %.2f s" % (
                    fmt_s(mf.resync.wall), TARGET_S),
                mf.resync.wall <= TARGET_S))
        else:
            self.targets.append(("mailfetch resync <= %.2f s: %s" % (
                TARGET_S, na if mf is None else "its runs failed"), False
                if mf is not None else None))
        if good(mf) and good(mb):
            x = mf.resync.wall / mb.resync.wall
            self.targets.append((
                "mailfetch resync / mbsync resync = %s / %s s = %.3f <= "
                "%.1f" % (fmt_s(mf.resync.wall), fmt_s(mb.resync.wall), x,
                          TARGET_RATIO), x <= TARGET_RATIO))
        else:
            self.targets.append((
                "mailfetch resync / mbsync resync <= %.1f: %s" % (
                    TARGET_RATIO, na if mf is None else
                    "a client's runs failed"),
                None if mf is None else False))
        sm = self.small[0] if self.small else None
        if good(mf) and good(sm):
            d = mf.resync.rss - sm.resync.rss
            self.targets.append((
                "mailfetch resync peak RSS at %d messages %s, at %d %s: "
                "%+d KB <= +%d KB" % (a.small, fmt_rss(sm.resync.rss),
                                      a.messages, fmt_rss(mf.resync.rss),
                                      d, TARGET_RSS_KB),
                d <= TARGET_RSS_KB))
        else:
            self.targets.append((
                "mailfetch resync peak RSS growth from %d to %d messages "
                "<= %d KB: %s" % (a.small, a.messages, TARGET_RSS_KB,
                                  na if mf is None else
                                  "not measured (--small 0)" if not a.small
                                  else "a run failed"),
                None if mf is None or not a.small else False))
        if good(nc):
            txt = "fallback without CONDSTORE: resync %s s" % fmt_s(
                nc.resync.wall)
            if good(mf):
                txt += ", %.1f x mailfetch with CONDSTORE" % (
                    nc.resync.wall / mf.resync.wall)
            if good(mb):
                txt += ", %.2f x mbsync" % (nc.resync.wall /
                                             mb.resync.wall)
            self.targets.append((txt, None))
        elif "nocondstore" in a.clients:
            self.targets.append(("fallback without CONDSTORE: %s" % (
                na if nc is None else "its runs failed"), None
                if nc is None else False))

    def table(self, clients, n):
        out = ["| client | messages | initial mirror s | resync s "
               "(median) | range | resync CPU s | Dovecot CPU s (resync) "
               "| nothing changed: wall s, Dovecot CPU s "
               "| resync peak RSS | verified |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        for c in clients:
            ok = c.initial.ok and c.resync.ok
            st = "yes" if ok else "**no**: " + (
                c.initial.status if not c.initial.ok else c.resync.status)
            last = c.resync.samples[-1]["status"] if c.resync.samples \
                else ""
            if ok and ", without " in last:
                st += "," + last.split(",", 1)[1]
            dcpu = statistics.median(
                [x["dcpu"] for x in c.resync.samples] or [float("nan")])
            un = c.unchanged.samples[-1] if c.unchanged.samples else None
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |"
                       % (c.label, n, fmt_s(c.initial.wall),
                          fmt_s(c.resync.wall), c.resync.spread(),
                          fmt_s(c.resync.cpu), fmt_s(dcpu),
                          "%s, %s" % (fmt_s(un["wall"]), fmt_s(un["dcpu"]))
                          if un else "–",
                          fmt_rss(c.resync.rss), st.replace("|", "\\|")))
        return out

    def report(self):
        a = self.args
        vers = ["%s (%s)" % (Mailfetch(self.mf_bin).version(), self.rev),
                "Dovecot %s" % self.dovecot_version]
        if any(c.key == "mbsync" for c in self.clients):
            vers.append("mbsync (isync) %s" % MbsyncMirror().version())
        lines = ["## %s — Mirror resync: %d messages in %d folders, %d "
                 "flag changes and %d expunges" % (
                     self.started.strftime("%Y-%m-%d %H:%M UTC"),
                     a.messages, a.folders, a.changes, a.expunges), ""]
        lines += [
            "Made by bench/mirror.py (`make bench`; alone: `python3 "
            "bench/mirror.py --build build`, sizes with --messages and "
            "--folders).", "",
            "Machine: %s." % machine(self.work), "",
            "Versions: %s." % "; ".join(vers), "",
            "Corpus %.0f MB (median 8 KB); %s; each resync after %d flag "
            "changes and %d expunges on the server, the median of %d "
            "(clients in turn, the same changes for each). The run took "
            "%.0f s." % (self.corpus_mb, "implicit TLS" if a.tls else
                         "plain IMAP", a.changes, a.expunges, a.reps,
                         self.elapsed)]
        if LOADS:
            lines[-1] += (" Background load (1-minute load average before "
                          "each of the %d measured runs, %d CPUs): median "
                          "%.2f, max %.2f." % (len(LOADS),
                                               os.cpu_count() or 0,
                                               med(LOADS), max(LOADS)))
        for n in self.notes:
            lines += ["", n]
        lines += ["", "### Targets (mirror)", ""]
        for text, met in self.targets:
            lines.append("- %s — %s" % (text, {True: "met", False:
                                               "**not met**",
                                               None: "note"}[met]))
        lines += ["", "### Initial mirror and resync", ""]
        lines += self.table(self.clients, a.messages)
        if self.small:
            lines += self.table(self.small, a.small)[2:]
        return "\n".join(lines) + "\n"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_args(p)
    p.add_argument("--quick", action="store_true",
                   help="a sanity run: 2000 messages in 4 folders")
    p.add_argument("--messages", type=int,
                   help="messages in the mailbox (default 100000)")
    p.add_argument("--folders", type=int,
                   help="folders they are spread over (default 20)")
    p.add_argument("--small", type=int,
                   help="messages of the second mailbox, for mailfetch's "
                   "memory (default --messages / 10; 0: none)")
    p.add_argument("--reps", type=int, default=3,
                   help="resyncs per client (default %(default)s)")
    p.add_argument("--changes", type=int, default=10,
                   help="flag changes before each resync (default "
                   "%(default)s)")
    p.add_argument("--expunges", type=int, default=5,
                   help="expunges before each resync (default "
                   "%(default)s)")
    p.add_argument("--clients", default="mbsync,mailfetch,nocondstore",
                   help="clients (default %(default)s)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tls", dest="tls", action="store_true", default=True,
                   help="clients use implicit TLS (the default)")
    g.add_argument("--plain", dest="tls", action="store_false",
                   help="clients use plain IMAP")
    a = p.parse_args(argv)
    a.clients = [x.strip() for x in a.clients.split(",") if x.strip()]
    for x in a.clients:
        if x not in ("mbsync", "mailfetch", "nocondstore"):
            p.error("unknown client %r" % x)
    a.messages = a.messages or (2000 if a.quick else 100000)
    a.folders = a.folders or (4 if a.quick else 20)
    if a.small is None:
        a.small = a.messages // 10
    if a.folders < 1 or a.messages < a.folders:
        p.error("need at least one message per folder")
    need = (a.changes + a.expunges) * a.reps
    if min(a.messages, a.small or a.messages) < need:
        p.error("each mailbox needs at least %d messages (--messages, "
                "--small)" % need)
    return a


def main(argv):
    return bench_main("mirror", parse_args(argv),
                      lambda args: MirrorBench(args).run())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
