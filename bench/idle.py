#!/usr/bin/env python3
"""The benchmark of issue 15: mail pushed over IMAP IDLE, and the
daemon at rest.

    python3 bench/idle.py --build build [--quick] [--reps N]
        [--watch-seconds S] [--part latency,watch] [--tls|--plain]
        [--workdir DIR --keep] [--no-results]

Two parts, against a throwaway Dovecot on 127.0.0.1 (tests/harness.py,
started the way bench/bench.py starts it), the clients run as "nobody"
when run as root (as in bench/bench.py):

latency  Each client is started as a long-running process, one Dovecot
         user each: mailfetch -d (its IDLE watcher), fetchmail --idle
         (daemon mode, -N, with procmail as its MDA, the setup of
         bench.py but without "fetchall", which with "keep" would fetch
         every message again on each wake-up) and getmail6
         --idle=INBOX (the setup of bench.py but read_all = false, for
         the same reason). Once a client has fetched a first message
         and the server shows its connection in IDLE (Dovecot's
         verbose_proctitle), a message is APPENDed to its INBOX over
         IMAP (Python's imaplib, plain IMAP on loopback, a session
         logged in beforehand) and the time is taken from just before
         the APPEND command is sent to the moment the message's file
         appears in the client's Maildir new/ or cur/. The arrival is
         seen with inotify (ctypes; IN_CREATE and IN_MOVED_TO on new/
         and cur/), or, where inotify is not available, an os.scandir
         loop with 1 ms sleeps (the report says which). 20 messages per
         client (--reps), interleaved A B C, B C A, ... The APPEND's own
         round trip is reported too: it is in every client's number.
         Each delivered file is then checked against the message that
         was appended, byte for byte (header fields a client adds on
         top, such as Received:, are recognised: "ok +hdr"), counting
         losses and duplicates.
         A fourth row, "server notice", is the server's own part: a
         bare IDLE session (imaplib) timing the "* N EXISTS" after the
         same APPEND. Dovecot waits 500 ms after a change before it
         tells its IDLE sessions (NOTIFY_DELAY_MSECS in its
         src/lib-storage/mailbox-watch.c), a floor under every client;
         each client's median less that one is what the client itself
         takes.
         Target: mailfetch's median <= 0.5 x the faster peer's.

watch    mailfetch -d with 3 IMAP accounts (3 users, implicit TLS,
         default settings: idle = yes, poll_interval = 5m) left alone
         for --watch-seconds (default 600, --quick 60) once its three
         watchers wait in IDLE. /proc/PID/stat (utime + stime, and the
         children's cutime + cstime) and /proc/PID/status (VmRSS) are
         read at the start and every 10 s. Target: under 1 s of CPU in
         all over the watch; RSS flat, which here means the last sample
         is at most 256 KB above the first.

The clients talk implicit TLS (IMAPS) by default, as they would to a
real server (--plain: plain IMAP); mailfetch's daemon opens a session
(connect, TLS, login) for each run, its peers fetch over the IDLE
connection itself.

The results are added on top of bench/RESULTS.md as a section of their
own, with the date, the versions and the machine.
"""

import argparse
import ctypes
import ctypes.util
import datetime
import hashlib
import imaplib
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

# bench.py also puts tests/ on sys.path, for harness.
import bench  # noqa: E402
from bench import (USER_PW, Acct, Fetchmail, Getmail,  # noqa: E402
                   Mailfetch, as_user, base_env, bench_main, common_args,
                   dovecot_version, git_rev, harness, loadavg, log,
                   machine, make_maildir, own, proc_cpu, strip_added,
                   tree_pids, write_file)

ARRIVAL_TIMEOUT = 60.0
IDLE_TIMEOUT = 60.0
SEQ_RE = re.compile(rb"X-Bench-Idle: ([a-z0-9]+)-([0-9]+)")
RSS_FLAT_KB = 256
CPU_TARGET_S = 1.0
SAMPLE_S = 10


# --- noticing a new file -------------------------------------------------

IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000


class Inotify:
    """inotify(7) through ctypes: the names created in or moved into a
    set of directories."""

    def __init__(self):
        name = ctypes.util.find_library("c") or "libc.so.6"
        self.libc = ctypes.CDLL(name, use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def add(self, path):
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path),
                                         IN_CREATE | IN_MOVED_TO)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)
        return wd

    def names(self, timeout):
        """Wait up to timeout s for events; the names they carry."""
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return []
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out = []
        i = 0
        while i + 16 <= len(buf):
            _wd, _mask, _cookie, ln = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + ln].rstrip(b"\0")
            out.append(name.decode("utf-8", "replace"))
            i += 16 + ln
        return out

    def close(self):
        os.close(self.fd)


def inotify_available():
    try:
        Inotify().close()
        return True
    except (OSError, AttributeError):
        return False


def list_messages(md):
    out = set()
    for sub in ("new", "cur"):
        try:
            with os.scandir(os.path.join(md, sub)) as it:
                for e in it:
                    if not e.name.startswith("."):
                        out.add((sub, e.name))
        except FileNotFoundError:
            pass
    return out


class Arrival:
    """Waits for a message file that was not in the Maildir before."""

    def __init__(self, md, use_inotify):
        self.md = md
        self.ino = None
        if use_inotify:
            self.ino = Inotify()
            for sub in ("new", "cur"):
                self.ino.add(os.path.join(md, sub))
        self.before = list_messages(md)

    def wait(self, timeout):
        """The monotonic time at which a new file was seen, or None."""
        end = time.perf_counter() + timeout
        try:
            while True:
                now = time.perf_counter()
                if now >= end:
                    return None
                if self.ino is not None:
                    names = self.ino.names(end - now)
                    t = time.perf_counter()
                    if any(not n.startswith(".") for n in names) and \
                            list_messages(self.md) - self.before:
                        return t
                    # A rename from new/ to cur/ of an old file is no
                    # arrival.
                    continue
                if list_messages(self.md) - self.before:
                    return time.perf_counter()
                time.sleep(0.001)
        finally:
            if self.ino is not None:
                self.ino.close()


# --- the server ------------------------------------------------------------

class Server(bench.Server):
    """bench.Server with verbose_proctitle, so that a session waiting in
    IDLE shows it."""

    def __init__(self, work):
        super().__init__(work, extra_config="verbose_proctitle = yes\n")
        # The title of its imap processes: "dovecot-INSTANCE/imap [USER
        # IP STATE]" (instance_name in tests/harness.py).
        self.title = ("dovecot-mfdv-%s/imap [" % os.path.basename(
            self.d.root)).encode()

    def idle_sessions(self, user):
        """How many of user's imap processes are in IDLE now."""
        n = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ")
            except OSError:
                continue
            if not cmd.startswith(self.title):
                continue
            if cmd[len(self.title):].startswith(user.encode() + b" ") \
                    and b" IDLE]" in cmd:
                n += 1
        return n

    def wait_idle(self, user, n=1, timeout=IDLE_TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.idle_sessions(user) >= n:
                return True
            time.sleep(0.01)
        return False


class Appender:
    """An IMAP session of user's, logged in, that APPENDs to INBOX."""

    def __init__(self, server, user):
        self.c = imaplib.IMAP4("127.0.0.1", server.port("imap", False))
        self.c.login(user, USER_PW)

    def append(self, data):
        """APPEND data; returns (t sent, t answered), perf_counter."""
        t0 = time.perf_counter()
        typ, resp = self.c.append("INBOX", None, None,
                                  data.replace(b"\n", b"\r\n"))
        t1 = time.perf_counter()
        if typ != "OK":
            raise RuntimeError("APPEND failed: %r" % (resp,))
        return t0, t1

    def close(self):
        try:
            self.c.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


class Notice:
    """The server's part: a bare IMAP session of user's waiting in IDLE
    on INBOX (imaplib, plain, on loopback) that only reads the untagged
    "* N EXISTS" the server sends after an APPEND; no fetch, no
    delivery. Dovecot waits 500 ms after a change before it tells its
    IDLE sessions (NOTIFY_DELAY_MSECS in its mailbox-watch.c), so this
    is the floor under every client's number."""
    name = "server notice"

    def __init__(self, server, user):
        self.c = imaplib.IMAP4("127.0.0.1", server.port("imap", False))
        self.c.login(user, USER_PW)
        self.c.select("INBOX")
        self.idle()

    def idle(self):
        self.tag = self.c._new_tag()
        self.c.send(self.tag + b" IDLE\r\n")
        line = self.c.readline()
        if not line.startswith(b"+"):
            raise RuntimeError("IDLE refused: %r" % line)

    def wait_exists(self, timeout):
        """The perf_counter time of the next EXISTS, or None; then
        DONE and IDLE again."""
        self.c.sock.settimeout(timeout)
        t = None
        try:
            while True:
                line = self.c.readline()
                if not line:
                    raise RuntimeError("connection closed")
                if line.startswith(b"* ") and b" EXISTS" in line:
                    t = time.perf_counter()
                    break
        except OSError:
            pass
        self.c.sock.settimeout(None)
        self.c.send(b"DONE\r\n")
        while not self.c.readline().startswith(self.tag):
            pass
        self.idle()
        return t

    def close(self):
        try:
            self.c.sock.close()
        except OSError:
            pass


def message(who, i):
    """A small message of the kind one waits for (a login code)."""
    body = "".join("Line %02d of the message for %s, number %d.\n" % (
        k, who, i) for k in range(40))
    return ("From: Sender <sender@example.org>\n"
            "To: %s@example.org\n"
            "Subject: Your code %06d\n"
            "Date: Sat, 05 Dec 2026 06:00:00 +0000\n"
            "Message-ID: <idle-%s-%d@example.org>\n"
            "X-Bench-Idle: %s-%d\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "\n"
            "Your code is %06d.\n\n%s" % (
                who, 100000 + i, who, i, who, i, 100000 + i,
                body)).encode()


# --- the clients, as long-running processes --------------------------------

class Proc:
    """A client started in the background, its output in files."""

    def __init__(self, name, argv, env, rd):
        self.name = name
        self.rd = rd
        self.out = os.path.join(rd, "stdout.txt")
        self.err = os.path.join(rd, "stderr.txt")
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen(as_user(argv), env=env, cwd=rd,
                                      stdin=subprocess.DEVNULL, stdout=o,
                                      stderr=e, start_new_session=True)
        self.pid = self.p.pid
        with open(os.path.join(rd, "argv.txt"), "w") as f:
            f.write(" ".join(argv) + "\n")

    def alive(self):
        return self.p.poll() is None

    def text(self):
        t = ""
        for path in (self.out, self.err):
            try:
                with open(path, "rb") as f:
                    t += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return t

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait()
        return self.p.returncode


def proc_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class MailfetchIdle(Mailfetch):
    name = "mailfetch"

    def start(self, rd, a):
        argv, env = self.setup(rd, a)
        argv = [argv[0], "-d", "-v"] + argv[1:]
        own(rd)
        return Proc(self.name, argv, env, rd)


class FetchmailIdle(Fetchmail):
    """bench.Fetchmail as a daemon in IDLE: -d (in the foreground, -N)
    and --idle; "fetchall" dropped (with "keep" it would fetch every
    message again at each wake-up: fetchmail then takes the unseen
    ones, and marks what it fetched seen)."""
    name = "fetchmail"

    def start(self, rd, a):
        argv, env = self.setup(rd, a)
        rc = argv[argv.index("-f") + 1]
        with open(rc) as f:
            text = f.read()
        if "keep fetchall" not in text:
            raise RuntimeError("bench.Fetchmail's options changed: %r"
                               % text)
        write_file(rc, text.replace("keep fetchall", "keep"))
        argv = argv[:1] + ["-N", "-d", "300", "--idle"] + argv[1:]
        own(rd)
        return Proc(self.name, argv, env, rd)


class GetmailIdle(Getmail):
    """bench.Getmail with --idle=INBOX and read_all = false (with
    read_all = true it would fetch every message again at each
    wake-up)."""
    name = "getmail"

    def start(self, rd, a):
        argv, env = self.setup(rd, a)
        rc = os.path.join(argv[1].split("=", 1)[1], "getmailrc")
        with open(rc) as f:
            text = f.read()
        if "read_all = true" not in text:
            raise RuntimeError("bench.Getmail's options changed: %r"
                               % text)
        write_file(rc, text.replace("read_all = true", "read_all = false"))
        argv = argv + ["--idle=INBOX"]
        own(rd)
        return Proc(self.name, argv, env, rd)


# --- checking what was delivered --------------------------------------------

def verify(md, who, sent):
    """Every message file in md against the messages sent (index ->
    bytes): exact, hdr, changed, missing, dup, unknown, status."""
    res = {"files": 0, "exact": 0, "hdr": 0, "changed": 0, "dup": 0,
           "unknown": 0}
    seen = set()
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        for name in sorted(os.listdir(d)):
            if name.startswith("."):
                continue
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            res["files"] += 1
            stripped, removed = strip_added(data)
            m = SEQ_RE.search(stripped, 0, 4096)
            if m is None or m.group(1).decode() != who or \
                    int(m.group(2)) not in sent:
                res["unknown"] += 1
                continue
            i = int(m.group(2))
            if i in seen:
                res["dup"] += 1
                continue
            seen.add(i)
            if hashlib.md5(stripped).digest() != hashlib.md5(
                    sent[i]).digest():
                res["changed"] += 1
            elif removed:
                res["hdr"] += 1
            else:
                res["exact"] += 1
    res["missing"] = len(sent) - len(seen)
    bad = ["%d %s" % (res[k], k) for k in ("changed", "missing", "dup",
                                           "unknown") if res[k]]
    res["ok"] = not bad
    res["status"] = ("BAD: " + ", ".join(bad) if bad else
                     "ok +hdr" if res["hdr"] else "ok")
    return res


# --- the benchmark -----------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ms(x):
    return "—" if x != x else "%.1f" % (x * 1000)


class IdleBench:
    def __init__(self, args):
        self.args = args
        self.work = args.workdir
        self.mf_bin = os.path.join(os.path.abspath(args.build), "mailfetch")
        self.targets = []  # (text, met)
        self.sections = []  # (title, body)
        self.loads = []
        self.notes = []

    def acct(self, server, user):
        return Acct(server, "imap", self.args.tls, user)

    def rundir(self, *parts):
        rd = os.path.join(self.work, "runs", *parts)
        os.makedirs(rd)
        return rd

    def start_client(self, server, tool, user, sent):
        """Start tool for user; deliver a first message and wait until it
        is fetched and the client waits in IDLE again."""
        rd = self.rundir("latency", tool.name)
        server.d.add_user(user, USER_PW)
        a = self.acct(server, user)
        ap = Appender(server, user)
        sent[0] = message(tool.name, 0)
        ap.append(sent[0])
        p = tool.start(rd, a)
        md = os.path.join(rd, "Maildir")
        end = time.monotonic() + IDLE_TIMEOUT
        while time.monotonic() < end and p.alive():
            if list_messages(md):
                break
            time.sleep(0.05)
        ok = bool(list_messages(md)) and server.wait_idle(user) and \
            p.alive()
        if not ok:
            log("  %s: did not fetch its first message and wait in IDLE "
                "within %.0f s%s\n    %s", tool.name, IDLE_TIMEOUT,
                "" if p.alive() else " (exited %s)" % p.p.returncode,
                harness.condense(p.text(), 8).replace("\n", "\n    "))
        return p, ap, md, ok

    def latency(self, server):
        a = self.args
        tools = [MailfetchIdle(self.mf_bin), FetchmailIdle(),
                 GetmailIdle()]
        tools = [t for t in tools if t.name == "mailfetch" or
                 (t.name in a.peers and t.available())]
        for name in a.peers:
            if name not in [t.name for t in tools]:
                self.notes.append("%s is not installed; skipped "
                                  "(sh tests/deps.sh bench)." % name)
        self.tools = tools
        use_ino = inotify_available()
        self.how = ("inotify (IN_CREATE, IN_MOVED_TO on new/ and cur/)"
                    if use_ino else "an os.scandir loop with 1 ms sleeps")
        st = {}
        for k, t in enumerate(tools):
            sent = {}
            p, ap, md, ok = self.start_client(server, t, "idle%d" % k,
                                              sent)
            st[t.name] = {"tool": t, "proc": p, "ap": ap, "md": md,
                          "ok": ok, "user": "idle%d" % k, "sent": sent,
                          "lat": [], "rtt": [], "lost": 0,
                          "not_idle": 0}
        nu = "notice"
        server.d.add_user(nu, USER_PW)
        notice = {"tool": Notice(server, nu), "ap": Appender(server, nu),
                  "user": nu, "lat": [], "rtt": [], "lost": 0,
                  "not_idle": 0, "sent": {}}
        self.notice = notice
        try:
            live = [t.name for t in tools if st[t.name]["ok"]]
            cpu0 = {n: self.tree_cpu(st[n]["proc"].pid) for n in live}
            for rep in range(a.reps):
                k = rep % len(live) if live else 0
                for name in live[k:] + live[:k]:
                    self.one(server, st[name], rep + 1, use_ino)
                self.one_notice(server, notice, rep + 1)
                log("  rep %d/%d: %s", rep + 1, a.reps, ", ".join(
                    "%s %s ms" % (n, fmt_ms(st[n]["lat"][-1])
                                  if st[n]["lat"] else "—")
                    for n in live))
            # The last deliveries settle (a client may still be writing).
            time.sleep(2)
            for n in live:
                s = st[n]
                s["cpu"] = self.tree_cpu(s["proc"].pid) - cpu0[n]
                s["rss"] = sum(self.rss_or0(x)
                               for x in tree_pids(s["proc"].pid))
        finally:
            for s in st.values():
                s["rc"] = s["proc"].stop()
                s["ap"].close()
            notice["tool"].close()
            notice["ap"].close()
        for s in st.values():
            s["verify"] = verify(s["md"], s["tool"].name, s["sent"])
            with open(os.path.join(os.path.dirname(s["md"]), "output.txt"),
                      "w") as f:
                f.write(s["proc"].text())
        self.st = st
        self.latency_report(st, tools, notice)

    @staticmethod
    def rss_or0(pid):
        try:
            return proc_rss(pid)
        except OSError:
            return 0

    @staticmethod
    def tree_cpu(pid):
        own_s, kids = proc_cpu(pid)
        return own_s + kids

    def one(self, server, s, i, use_ino):
        name = s["tool"].name
        if not server.wait_idle(s["user"]):
            s["not_idle"] += 1
        s["sent"][i] = data = message(name, i)
        arr = Arrival(s["md"], use_ino)
        self.loads.append(loadavg())
        t0, t1 = s["ap"].append(data)
        t = arr.wait(ARRIVAL_TIMEOUT)
        s["rtt"].append(t1 - t0)
        if t is None:
            s["lost"] += 1
            log("  %s: message %d not in the Maildir within %.0f s",
                name, i, ARRIVAL_TIMEOUT)
            return
        s["lat"].append(t - t0)

    def one_notice(self, server, s, i):
        if not server.wait_idle(s["user"]):
            s["not_idle"] += 1
        t0, t1 = s["ap"].append(message("notice", i))
        t = s["tool"].wait_exists(ARRIVAL_TIMEOUT)
        s["rtt"].append(t1 - t0)
        if t is None:
            s["lost"] += 1
            return
        s["lat"].append(t - t0)

    def latency_report(self, st, tools, notice):
        a = self.args
        nlat = sorted(notice["lat"])
        floor = med(nlat)

        def cells(lat):
            return [fmt_ms(med(lat)),
                    "%s–%s" % (fmt_ms(lat[0]), fmt_ms(lat[-1]))
                    if lat else "—",
                    fmt_ms(lat[int(0.9 * (len(lat) - 1))]) if lat else "—",
                    fmt_ms(med(lat) - floor) if lat else "—",
                    "%d/%d" % (len(lat), a.reps)]

        rows = []
        for t in tools:
            s = st[t.name]
            if not s["ok"]:
                rows.append([t.name] + ["—"] * 7 + [
                    "did not start: see its output"])
                continue
            lat = sorted(s["lat"])
            v = s["verify"]
            status = v["status"]
            if s["lost"]:
                status += "; %d not seen within %.0f s" % (
                    s["lost"], ARRIVAL_TIMEOUT)
            s["good"] = v["ok"] and not s["lost"] and len(lat) == a.reps
            s["median"] = med(lat)
            rows.append(["**%s**" % t.name if t.name == "mailfetch" else
                         t.name] + cells(lat) + [
                "%.2f" % s.get("cpu", float("nan")),
                "%d KB" % s.get("rss", 0), status])
        rows.append(["server notice (bare IDLE session)"] + cells(nlat)[:3]
                     + ["0", "%d/%d" % (len(nlat), a.reps), "—", "—",
                        "no delivery; %d not seen" % notice["lost"]
                        if notice["lost"] else "no delivery"])
        mf = st.get("mailfetch")
        rtt = [x for s in list(st.values()) + [notice] for x in s["rtt"]]
        head = ("| client | median ms | range ms | p90 ms | median after "
                "the server's notice ms | arrived | CPU s (%d msgs) | "
                "RSS after | delivered |\n|---|---|---|---|---|---|---|---|"
                "---|" % a.reps)
        body = head + "\n" + "\n".join("| " + " | ".join(r) + " |"
                                       for r in rows)
        peers = [st[t.name] for t in tools if t.name != "mailfetch" and
                 st[t.name].get("good")]
        text = (
            "From just before the APPEND command is sent to the file in "
            "the Maildir, %d messages per client, interleaved (each round "
            "in a rotated order); the clients over IMAP%s. The arrival is "
            "seen with %s. The APPEND's own round trip (in every number): "
            "median %s ms. \"server notice\" is a bare IDLE session "
            "(imaplib) timing the server's \"* N EXISTS\" after the same "
            "APPEND: Dovecot waits 500 ms after a change before it tells "
            "its IDLE sessions (NOTIFY_DELAY_MSECS in "
            "src/lib-storage/mailbox-watch.c), so that is the floor under "
            "every client; \"median after the server's notice\" is a "
            "client's median less the notice's, what the client itself "
            "takes. CPU is the client's user + system time (with its "
            "children: procmail, getmail's delivery child) over the %d "
            "deliveries; RSS is the sum over the client's processes "
            "after them." % (
                a.reps, "S (implicit TLS)" if a.tls else " (plain)",
                self.how, fmt_ms(med(rtt)), a.reps))
        nidle = sum(s["not_idle"] for s in list(st.values()) + [notice])
        if nidle:
            text += (" %d times a client was not seen in IDLE within %.0f "
                     "s before a message (measured anyway)." % (
                         nidle, IDLE_TIMEOUT))
        self.sections.append(("Latency: APPEND to new/ over IDLE",
                              text + "\n\n" + body))
        if not (mf and mf.get("good")):
            self.targets.append((
                "latency: mailfetch -d did not deliver all %d messages "
                "intact: %s" % (a.reps, mf["verify"]["status"] if mf and
                                "verify" in mf else "did not start"),
                False))
            return
        if not peers:
            self.targets.append(("latency: mailfetch -d median %s ms; no "
                                 "peer delivered every message intact, "
                                 "nothing to compare with" %
                                 fmt_ms(mf["median"]), None))
            return
        best = min(peers, key=lambda s: s["median"])
        ratio = mf["median"] / best["median"]
        self.targets.append((
            "latency: mailfetch -d median %s ms <= 0.5 x the faster peer "
            "(%s %s ms): ratio %.2f" % (
                fmt_ms(mf["median"]), best["tool"].name,
                fmt_ms(best["median"]), ratio), ratio <= 0.5))
        mine, theirs = mf["median"] - floor, best["median"] - floor
        self.targets.append((
            "latency, the clients' own part (after the server's notice, "
            "median %s ms): mailfetch %s ms, %s %s ms: ratio %.2f "
            "(information: the target counts the whole time)" % (
                fmt_ms(floor), fmt_ms(mine), best["tool"].name,
                fmt_ms(theirs), mine / theirs if theirs > 0 else
                float("nan")), None))
        for t in tools:
            s = st[t.name]
            if t.name != "mailfetch" and s["ok"] and not s.get("good"):
                self.targets.append((
                    "latency: %s (median %s ms) did not deliver every "
                    "message intact (%s); not counted" % (
                        t.name, fmt_ms(s.get("median", float("nan"))),
                        s["verify"]["status"]), None))

    # -- the watch

    def watch(self, server):
        a = self.args
        rd = self.rundir("watch")
        names = ["w1", "w2", "w3"]
        sections = []
        mds = {}
        for n in names:
            user = "watch-" + n
            server.d.add_user(user, USER_PW)
            server.d.deliver(user, message(n, 0))
            acct = Acct(server, "imap", True, user)
            md = os.path.join(rd, n, "Maildir")
            make_maildir(md)
            mds[n] = md
            sections.append(
                "[%s]\nprotocol = imap\nhost = %s\nport = %d\n"
                "tls = implicit\ntls_ca_file = %s\nuser = %s\n"
                "password = %s\nmaildir = %s\nstate_file = %s\n"
                "keep = yes\n" % (
                    n, acct.host, acct.port, acct.ca, user, USER_PW, md,
                    os.path.join(rd, n, "state")))
        cfg = os.path.join(rd, "fetchrc")
        write_file(cfg, "\n".join(sections))
        os.makedirs(os.path.join(rd, "home"))
        own(rd)
        p = Proc("mailfetch", [self.mf_bin, "-d", "-v", "-c", cfg],
                 base_env(os.path.join(rd, "home")), rd)
        samples = []
        try:
            ready = True
            for n in names:
                if not server.wait_idle("watch-" + n):
                    ready = False
            # The watcher of an account may wait in IDLE before the
            # account's first fetch has ended.
            end = time.monotonic() + IDLE_TIMEOUT
            while ready and not all(list_messages(m) for m in mds.values()):
                if time.monotonic() > end or not p.alive():
                    ready = False
                time.sleep(0.05)
            if not ready or not p.alive():
                log("  watch: the daemon did not fetch and wait in IDLE "
                    "for the 3 accounts:\n    %s",
                    harness.condense(p.text(), 8).replace("\n", "\n    "))
                self.targets.append(("watch: the daemon did not start "
                                     "its 3 watchers", False))
                return
            start_cpu = sum(proc_cpu(p.pid))
            t0 = time.monotonic()
            nxt = t0
            log("  watch: %d s, a sample every %d s", a.watch_seconds,
                SAMPLE_S)
            while True:
                now = time.monotonic()
                if now >= nxt:
                    own_s, kids = proc_cpu(p.pid)
                    samples.append((now - t0, own_s + kids, own_s,
                                    proc_rss(p.pid)))
                    if now - t0 >= a.watch_seconds - 0.5:
                        break
                    nxt += SAMPLE_S
                    if nxt > t0 + a.watch_seconds:
                        nxt = t0 + a.watch_seconds
                if not p.alive():
                    break
                time.sleep(max(0.0, min(1.0, nxt - time.monotonic())))
            alive = p.alive()
        finally:
            rc = p.stop()
        with open(os.path.join(rd, "output.txt"), "w") as f:
            f.write(p.text())
        with open(os.path.join(rd, "samples.tsv"), "w") as f:
            f.write("t_s\tcpu_s\town_cpu_s\trss_kb\n")
            for s in samples:
                f.write("%.1f\t%.2f\t%.2f\t%d\n" % s)
        self.watch_report(samples, start_cpu, alive, rc, p.text(), mds)

    def watch_report(self, samples, start_cpu, alive, rc, out, mds):
        a = self.args
        cpu = samples[-1][1] - samples[0][1]
        rss = [s[3] for s in samples]
        dur = samples[-1][0]
        runs = len(re.findall(r"^w\d: \d+ fetched, ", out, re.M))
        polls = len(re.findall(r"^w\d: INBOX: nothing new", out, re.M))
        errors = [x for x in out.splitlines()
                  if re.match(r"^w\d: ", x) and "waiting for mail" not in
                  x and " fetched" not in x and "nothing new" not in x]
        lines = [
            "mailfetch -d -v, 3 IMAP accounts (implicit TLS, idle = yes, "
            "poll_interval = 5m: the defaults), each with one message "
            "fetched at the start, then no mail for %.0f s; %d samples "
            "of /proc, every %d s. CPU counts user + system time of the "
            "daemon and of its children (it forks none for this "
            "configuration). The start (3 runs and 3 watchers) took "
            "%.2f s of CPU before the watch began." % (
                dur, len(samples), SAMPLE_S, start_cpu),
            "",
            "| | value |", "|---|---|",
            "| CPU during the watch | %.2f s (%.2f ms per minute) |" % (
                cpu, cpu * 60000 / dur if dur else float("nan")),
            "| RSS first / last | %d / %d KB (%+d KB) |" % (
                rss[0], rss[-1], rss[-1] - rss[0]),
            "| RSS min / max | %d / %d KB |" % (min(rss), max(rss)),
            "| still running at the end | %s (exit %s after SIGTERM) |" % (
                "yes" if alive else "**no**", rc),
            "| runs that fetched (the 3 at the start) | %d |" % runs,
            "| runs that found nothing new (the polls) | %d |" % polls,
        ]
        if errors:
            lines.append("| other account lines | %s |" % "; ".join(
                errors[:5]).replace("|", "\\|"))
        prog = [("%.0f" % s[0], "%.2f" % s[1], "%d" % s[3])
                for s in samples[::max(1, len(samples) // 10)]]
        lines += ["", "Samples (t s: CPU s, RSS KB): " + ", ".join(
            "%s: %s, %s" % x for x in prog) + "."]
        self.sections.append(("Watch: the daemon at rest, 3 accounts",
                              "\n".join(lines)))
        self.targets.append((
            "watch: CPU over %.0f s of 3 idle accounts %.2f s < %.0f s"
            % (dur, cpu, CPU_TARGET_S), cpu < CPU_TARGET_S and alive))
        self.targets.append((
            "watch: RSS flat (last - first <= %d KB): %d -> %d KB, %+d KB "
            "(min %d, max %d)" % (RSS_FLAT_KB, rss[0], rss[-1],
                                  rss[-1] - rss[0], min(rss), max(rss)),
            rss[-1] - rss[0] <= RSS_FLAT_KB and alive))
        if dur < 600:
            self.targets.append((
                "watch: %.0f s, not the 10 minutes of the target (--quick "
                "or --watch-seconds)" % dur, None))

    def run(self):
        t0 = time.monotonic()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.rev = git_rev()
        if not os.access(self.mf_bin, os.X_OK):
            raise SystemExit("idle: %s is not built (make)" % self.mf_bin)
        server = Server(self.work)
        try:
            if "latency" in self.args.parts:
                log("== latency")
                self.latency(server)
            if "watch" in self.args.parts:
                log("== watch")
                self.watch(server)
            self.dovecot_version = dovecot_version()
        finally:
            server.stop()
        self.elapsed = time.monotonic() - t0
        return self.report()

    def report(self):
        a = self.args
        mf = Mailfetch(self.mf_bin)
        vers = ["%s (%s)" % (mf.version(), self.rev),
                "Dovecot %s" % self.dovecot_version]
        if "latency" in a.parts:
            vers += ["%s %s" % (t.name, t.version()) for t in self.tools
                     if t.name != "mailfetch"]
        lines = ["## %s — IDLE: latency and the daemon at rest (%s%s)" % (
            self.started.strftime("%Y-%m-%d %H:%M UTC"),
            "quick" if a.quick else "full", "" if a.parts == [
                "latency", "watch"] else ", " + ",".join(a.parts)), ""]
        lines += ["Made by bench/idle.py (`make bench`; alone: `python3 "
                  "bench/idle.py --build build`).", "",
                  "Machine: %s." % machine(self.work), "",
                  "Versions: %s." % "; ".join(vers), "",
                  "The run took %.0f s." % self.elapsed]
        if self.loads:
            lines[-1] += (" Background load (1-minute load average before "
                          "each of the %d messages, %d CPUs): median %.2f, "
                          "max %.2f." % (len(self.loads),
                                         os.cpu_count() or 0,
                                         med(self.loads), max(self.loads)))
        for n in self.notes:
            lines += ["", n]
        lines += ["", "### Targets (IDLE)", ""]
        for text, met in self.targets:
            lines.append("- %s — %s" % (text, {True: "met", False:
                                               "**NOT met**",
                                               None: "note"}[met]))
        for title, body in self.sections:
            lines += ["", "### " + title, "", body]
        return "\n".join(lines) + "\n"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common_args(p)
    p.add_argument("--quick", action="store_true",
                   help="5 messages per client, a 60 s watch")
    p.add_argument("--reps", type=int,
                   help="messages per client (default 20, quick 5)")
    p.add_argument("--watch-seconds", type=int,
                   help="length of the watch (default 600, quick 60)")
    p.add_argument("--part", default="latency,watch",
                   help="parts to run (default %(default)s)")
    p.add_argument("--peers", default="fetchmail,getmail",
                   help="peers (default %(default)s)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tls", dest="tls", action="store_true", default=True,
                   help="clients use implicit TLS (the default)")
    g.add_argument("--plain", dest="tls", action="store_false",
                   help="clients use plain IMAP")
    a = p.parse_args(argv)
    a.parts = [x.strip() for x in a.part.split(",") if x.strip()]
    for x in a.parts:
        if x not in ("latency", "watch"):
            p.error("unknown part %r" % x)
    a.peers = [x.strip() for x in a.peers.split(",") if x.strip()]
    for x in a.peers:
        if x not in ("fetchmail", "getmail"):
            p.error("unknown peer %r" % x)
    a.reps = a.reps or (5 if a.quick else 20)
    a.watch_seconds = a.watch_seconds or (60 if a.quick else 600)
    return a


def main(argv):
    return bench_main("idle", parse_args(argv),
                      lambda args: IdleBench(args).run())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
