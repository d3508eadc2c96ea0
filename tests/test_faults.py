"""Reliability under faults: nothing is lost, nothing is stored twice.

Through tests/faultproxy.py between mailfetch and the test Dovecot, for
POP3 and IMAP with keep = no and keep = yes, the connection is dropped
at many byte offsets of each direction (24 spread evenly over the
server's bytes of a clean session and 6 over the client's, half that
under SAN=1, plus every protocol boundary of it: the start of every
status line, the start and middle of the first and last command of
each kind); after each faulted run the invariant is checked
(every original message is on the server or in the Maildir, none is in
the Maildir twice, every Maildir file is a whole original, nothing is
left in tmp/), then a clean run must complete with the Maildir holding
each original exactly once. Stalls must end with exit 75 within
timeout + 2 s; a server dripping bytes must still give a byte-exact
fetch. mailfetch is also killed with SIGKILL at 56 moments spread over
its runs (the invariant after each; files a killed run leaves in tmp/
are allowed there, never in new/ or cur/), and run against a Maildir on
a full tmpfs (exit 74, nothing deleted from the server, and a complete
run once there is room).
Each test prints how many fault points it tried.
"""

import concurrent.futures
import hashlib
import os
import random
import re
import shutil
import subprocess
import threading
import time

import harness
from faultproxy import FaultProxy
from test_pop3 import maildir_files

A = "acct"

# Messages as Dovecot stores them (LF line endings); each is unique.
SMALL_CORPUS = [
    b"Subject: f0\n\nshort one\n",
    b"Subject: f1 dots\n\n.\n..\n.x\n...\nend\n",
    b"Subject: f2 long\n\n" + b"".join(b"line %04d of a longer message\n" % i
                                     for i in range(120)),
    b"Subject: f3 no final newline\n\nlast line without LF",
    b"Subject: f4 eight bit\n\n" + "Grüße ½ €\n".encode("utf-8") * 20,
    b"Subject: f5\n\n" + b"z" * 900 + b"\n" + b"short\n" * 40,
]


def pop3_form(data):
    """What a POP3 fetch stores: a missing final newline becomes one
    LF (POP3 cannot carry its absence)."""
    return data if data == b"" or data.endswith(b"\n") else data + b"\n"


def imap_form(data):
    return data


def form_of(protocol):
    return pop3_form if protocol == "pop3" else imap_form


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Checker:
    """The invariant, for one user's mailbox and one Maildir. Files in
    the Maildir and on the server are read once each (their contents
    never change under a name), so checking stays cheap as they grow."""

    def __init__(self, env, user, maildir, form):
        self.env = env
        self.user = user
        self.maildir = maildir
        self.form = form
        self.originals = []
        self._cache = {}
        self.checks = 0

    def add(self, data):
        self.originals.append(data)

    def _digest(self, path, key):
        h = self._cache.get(key)
        if h is None:
            h = hashlib.sha256(read(path)).digest()
            self._cache[key] = h
        return h

    def server_digests(self):
        d = self.env.dovecot
        base = d.maildir(self.user)
        out = []
        for rel in d.message_files(self.user):
            key = ("srv", rel.split("/", 1)[1].split(":")[0])
            try:
                out.append(self._digest(os.path.join(base, rel), key))
            except FileNotFoundError:
                # Moved from new/ to cur/ just now: read it again.
                return self.server_digests()
        return out

    def maildir_digests(self):
        return [self._digest(p, ("md", p)) for p in
                maildir_files(self.maildir)]

    def check(self, allow_tmp=False, what=""):
        """Assert the invariant; returns (#in Maildir, #on server)."""
        self.checks += 1
        got = self.maildir_digests()
        server = set(self.server_digests())
        want = {}
        for m in self.originals:
            want[hashlib.sha256(self.form(m)).digest()] = m
        orig = set(hashlib.sha256(m).digest() for m in self.originals)
        for h in got:
            assert h in want, ("%s: a Maildir file is not a whole "
                               "original message" % what)
        assert len(got) == len(set(got)), ("%s: a message is in the Maildir "
                                           "twice" % what)
        have = set(got)
        lost = [m for m in self.originals
                if hashlib.sha256(self.form(m)).digest() not in have and
                hashlib.sha256(m).digest() not in server]
        assert not lost, "%s: %d message(s) lost, e.g. %r" % (
            what, len(lost), lost[0][:40])
        assert server <= orig, "%s: a foreign message on the server" % what
        if not allow_tmp:
            tmp = os.path.join(self.maildir, "tmp")
            left = os.listdir(tmp) if os.path.isdir(tmp) else []
            assert not left, "%s: files left in tmp/: %r" % (what, left)
        return len(got), len(server)

    def check_complete(self, keep, what="", allow_tmp=False):
        """After a clean run: the Maildir holds every original exactly
        once; the server all of them (keep) or none."""
        self.check(allow_tmp=allow_tmp, what=what)
        got = sorted(self.maildir_digests())
        want = sorted(hashlib.sha256(self.form(m)).digest()
                      for m in self.originals)
        assert got == want, "%s: the Maildir has %d messages, want %d" % (
            what, len(got), len(want))
        n = len(self.server_digests())
        if keep:
            assert n == len(self.originals), (
                "%s: %d on the server, want all %d" % (
                    what, n, len(self.originals)))
        else:
            assert n == 0, "%s: %d still on the server" % (what, n)


def account(env, protocol, tls, user, port, name=A, tag=None, **keys):
    """A config section for user through the proxy at port."""
    tag = tag or name
    kv = {"protocol": protocol, "host": "127.0.0.1", "port": str(port),
          "tls": tls, "user": user.name, "password": user.password,
          "maildir": env.path(tag + "-Maildir"),
          "state_file": env.path("state", tag + ".state"),
          "timeout": "3", "connect_timeout": "3"}
    if tls == "none":
        kv["allow_plaintext"] = "yes"
    else:
        kv["tls_ca_file"] = env.dovecot.ca_file
    env.secret(user.password, user.name)
    for k, v in keys.items():
        kv[k] = str(v)
    return "[%s]\n%s" % (name, "".join("%s = %s\n" % x for x in kv.items()))


def dovecot_port(env, protocol, tls):
    return env.dovecot.ports[protocol + ("s" if tls == "implicit" else "")]


def fresh(env, tag):
    """Remove a previous Maildir and state of tag."""
    shutil.rmtree(env.path(tag + "-Maildir"), ignore_errors=True)
    for suffix in ("", ".journal", ".lock"):
        try:
            os.unlink(env.path("state", tag + ".state" + suffix))
        except FileNotFoundError:
            pass


def spread(total, n):
    """n byte offsets spread evenly over 1..total-1."""
    if total < 2:
        return []
    return sorted(set(max(1, min(total - 1, total * (i + 1) // (n + 1)))
                      for i in range(n)))


def boundaries(stream, line_re, every=True):
    """Offsets in a recorded stream at the lines that line_re matches:
    with every, the start of each such line (a drop between two
    exchanges); else the start and the middle of the first and the last
    line of each kind (the kind is what line_re matched: e.g. the first
    and the last DELE)."""
    out = set()
    seen = {}
    pos = 0
    for line in stream.split(b"\n"):
        m = line_re.match(line)
        if m:
            if every:
                out.add(pos)
            seen.setdefault(m.group(0), []).append((pos, len(line)))
        pos += len(line) + 1
    if not every:
        for occ in seen.values():
            for p, n in (occ[0], occ[-1]):
                out.add(p)
                out.add(p + max(1, n // 2))
    return sorted(x for x in out if 0 < x < len(stream))


POP3_STATUS = re.compile(rb"^(\+OK|-ERR)")
POP3_CMD = re.compile(rb"^[A-Z]{3,4}\b")
IMAP_STATUS = re.compile(rb"^(A\d+ |\* (OK|BYE|PREAUTH|CAPABILITY))")
IMAP_CMD = re.compile(rb"^A\d+ ([A-Z]+( [A-Z]+)?)?")

# Users and their messages are made one at a time (the harness's
# delivery is not thread-safe); the runs go in parallel.
_MAKE = threading.Lock()


def new_mailbox(env, msgs):
    with _MAKE:
        u = env.new_user()
        for m in msgs:
            env.dovecot.deliver(u.name, m)
    return u


def parallel(jobs, workers):
    """Run the callables jobs on workers threads; re-raise the first
    failure (in job order)."""
    # The shared Dovecot must be started here, by the main thread: its
    # PR_SET_PDEATHSIG follows the thread that started it.
    harness.shared_dovecot()
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        futs = [ex.submit(j) for j in jobs]
        for f in futs:
            f.result()


def drop_matrix(env, protocol, keep, tls="none", spread_s2c=24,
                spread_c2s=6, landmarks=True, workers=4, compress="no"):
    """Drop the connection at every chosen point of a session; returns
    how many points were tried. IMAP COMPRESS=DEFLATE is off unless
    compress = "yes": the landmarks are those of the plain protocol."""
    port = dovecot_port(env, protocol, tls)
    form = form_of(protocol)
    keepv = "yes" if keep else "no"
    name = "%s%s keep=%s" % (protocol, "/TLS" if tls != "none" else "",
                             keepv)
    if "san" in os.path.basename(env.build):
        # Under ASan+UBSan every run costs several times as much: half
        # the evenly spread points, still every protocol boundary.
        spread_s2c, spread_c2s = spread_s2c // 2, max(2, spread_c2s // 2)
    with FaultProxy("127.0.0.1", port, record=True) as px:
        # A clean session through the proxy, to calibrate the offsets.
        u = new_mailbox(env, SMALL_CORPUS)
        tag = "cal"
        fresh(env, tag)
        cfg = env.config(account(env, protocol, tls, u, px.port, tag=tag,
                                 keep=keepv, compress=compress),
                         name=tag + ".rc")
        r = env.run(["-c", cfg], timeout=20)
        assert r.rc == 0, "clean proxied run failed:\n%s" % r
        ck = Checker(env, u.name, env.path(tag + "-Maildir"), form)
        for m in SMALL_CORPUS:
            ck.add(m)
        ck.check_complete(keep, "clean run")
        s2c, c2s = px.total["s2c"], px.total["c2s"]
        points = set(("s2c", n) for n in spread(s2c, spread_s2c))
        points |= set(("c2s", n) for n in spread(c2s, spread_c2s))
        if landmarks:
            st, cm = ((POP3_STATUS, POP3_CMD) if protocol == "pop3"
                      else (IMAP_STATUS, IMAP_CMD))
            points |= set(("s2c", n) for n in
                          boundaries(px.streams[0]["s2c"], st))
            points |= set(("c2s", n) for n in
                          boundaries(px.streams[0]["c2s"], cm, every=False))
    points = sorted(points)
    fired = [0]
    queue = list(enumerate(points))
    qlock = threading.Lock()

    def worker(w):
        tag = "w%d" % w
        cfg = None
        with FaultProxy("127.0.0.1", port) as wpx:
            while True:
                with qlock:
                    if not queue:
                        return
                    i, (d, n) = queue.pop(0)
                what = "%s: drop %s at %d of %d" % (
                    name, d, n, s2c if d == "s2c" else c2s)
                u = new_mailbox(env, SMALL_CORPUS)
                cfg = env.config(account(env, protocol, tls, u, wpx.port,
                                         tag=tag, keep=keepv,
                                         compress=compress),
                                 name=tag + ".rc")
                fresh(env, tag)
                ck = Checker(env, u.name, env.path(tag + "-Maildir"), form)
                for m in SMALL_CORPUS:
                    ck.add(m)
                wpx.set_fault("drop", d, n, rst=(i % 3 == 2))
                before = wpx.faults_fired
                r = env.run(["-c", cfg], timeout=20)
                with qlock:
                    fired[0] += wpx.faults_fired - before
                # A drop ends the run at once, far from the 20 s the
                # test allows; the bound leaves room for a loaded machine.
                assert r.elapsed < 12, "%s: took %.1fs" % (what, r.elapsed)
                if r.rc == 0:
                    # Only a drop after the session's end lets it pass.
                    ck.check_complete(keep, what + " (exit 0)")
                    continue
                assert r.rc == 75, "%s: exit %s, want 75:\n%s" % (
                    what, r.rc, r)
                assert r.err.startswith(A + ": "), "%s: %r" % (what, r.err)
                ck.check(what=what)
                wpx.set_fault(None)
                r = env.run(["-c", cfg], timeout=20)
                assert r.rc == 0, "%s: the clean run after failed:\n%s" % (
                    what, r)
                ck.check_complete(keep, what + ", then a clean run")

    parallel([lambda w=w: worker(w) for w in range(workers)], workers)
    assert fired[0] >= len(points) * 0.9, (
        "only %d of %d faults took effect" % (fired[0], len(points)))
    print("%s: %d drop points tried (%d s2c bytes, %d c2s bytes)"
          % (name, len(points), s2c, c2s))
    return len(points)


def least(env, n):
    """The fewest points a matrix may have: n, or a bit under half of
    it under SAN=1 (see drop_matrix)."""
    return n * 7 // 10 if "san" in os.path.basename(env.build) else n


def test_drop_imap_compressed(env):
    # The session compressed after login (the test Dovecot offers
    # COMPRESS=DEFLATE): drops inside the deflate stream lose nothing.
    assert drop_matrix(env, "imap", keep=True, compress="yes") >= least(
        env, 30)


def test_drop_pop3_keep_no(env):
    assert drop_matrix(env, "pop3", keep=False) >= least(env, 50)


def test_drop_pop3_keep_yes(env):
    assert drop_matrix(env, "pop3", keep=True) >= least(env, 50)


def test_drop_imap_keep_no(env):
    assert drop_matrix(env, "imap", keep=False) >= least(env, 50)


def test_drop_imap_keep_yes(env):
    # No LIST of INBOX, no LOGOUT answer: fewer landmarks, more
    # evenly spread points.
    assert drop_matrix(env, "imap", keep=True, spread_s2c=30) >= least(
        env, 50)


def test_drop_over_tls(env):
    """Drops inside TLS records (and the handshake) are lost
    connections too: exit 75, nothing lost or stored twice."""
    n = 0
    for protocol in ("pop3", "imap"):
        n += drop_matrix(env, protocol, keep=False, tls="implicit",
                         spread_s2c=10, spread_c2s=4, landmarks=False)
    assert n >= least(env, 20)


def test_stall_is_75_within_timeout(env):
    """A stall in either direction, at any point, ends with 75 about
    timeout seconds after the stall began, and loses nothing. The runs go
    in parallel. The time is taken from the stall (the proxy notes it),
    not from the start, and the bound leaves room for a loaded machine:
    the mechanism under test is that the run ends at all, near its
    timeout, where a stall without a deadline would last forever."""
    timeout = 2
    cases = []
    for protocol in ("pop3", "imap"):
        for d, frac in (("s2c", 0.0), ("s2c", 0.02), ("s2c", 0.3),
                        ("s2c", 0.6), ("s2c", 0.97), ("c2s", 0.0),
                        ("c2s", 0.5), ("c2s", 0.95)):
            cases.append((protocol, d, frac))
    # Calibrate each protocol's session size once.
    sizes = {}
    for protocol in ("pop3", "imap"):
        with FaultProxy("127.0.0.1",
                        dovecot_port(env, protocol, "none")) as px:
            u = new_mailbox(env, SMALL_CORPUS)
            cfg = env.config(account(env, protocol, "none", u, px.port,
                                     tag="cal-" + protocol, keep="no"),
                             name="cal-" + protocol)
            env.expect(env.run(["-c", cfg], timeout=20), 0)
            sizes[protocol] = dict(px.total)
    runs = []
    try:
        for k, (protocol, d, frac) in enumerate(cases):
            px = FaultProxy("127.0.0.1", dovecot_port(env, protocol, "none"))
            px.start()
            env.on_cleanup(px.stop)
            n = int(sizes[protocol][d] * frac)
            px.set_fault("stall", d, n)
            u = new_mailbox(env, SMALL_CORPUS)
            tag = "s%d" % k
            cfg = env.config(account(env, protocol, "none", u, px.port,
                                     tag=tag, keep="no", timeout=timeout),
                             name=tag + ".rc")
            ck = Checker(env, u.name, env.path(tag + "-Maildir"),
                         form_of(protocol))
            for m in SMALL_CORPUS:
                ck.add(m)
            p = subprocess.Popen([env.mailfetch, "-c", cfg],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env.run_env())
            runs.append((protocol, d, n, px, cfg, ck, p, time.monotonic()))
        # Reap them all first, noting when each ended.
        ended = {}
        deadline = time.monotonic() + timeout + 60
        while len(ended) < len(runs) and time.monotonic() < deadline:
            for k, run in enumerate(runs):
                if k not in ended and run[6].poll() is not None:
                    ended[k] = time.monotonic()
            time.sleep(0.01)
        for k, (protocol, d, n, px, cfg, ck, p, t0) in enumerate(runs):
            what = "%s stall %s after %d bytes" % (protocol, d, n)
            assert k in ended, "%s: still running after %ds" % (
                what, timeout + 60)
            out, err = p.communicate()
            assert px.fired_at, (
                "%s: the stall never began (exit %s; this session: %r, "
                "%d connections; calibration: %r)" % (
                    what, p.returncode, px.total, px.conns, sizes[protocol]))
            elapsed = ended[k] - px.fired_at[0]
            err = err.decode("utf-8", "replace")
            assert p.returncode == 75, "%s: exit %s, want 75: %s" % (
                what, p.returncode, err)
            assert elapsed < timeout + 5, "%s: ended %.1fs after the stall" % (
                what, elapsed)
            assert err.startswith(A + ": "), "%s: %r" % (what, err)
            assert "no data from server" in err or \
                "took no data" in err or \
                "did not complete its reply" in err, "%s: %r" % (what, err)
            assert px.faults_fired == 1, what
            ck.check(what=what)
            px.set_fault(None)
            r = env.run(["-c", cfg], timeout=20)
            assert r.rc == 0, "%s: the clean run after failed:\n%s" % (
                what, r)
            ck.check_complete(False, what + ", then a clean run")
    finally:
        for run in runs:
            if run[6].poll() is None:
                run[6].kill()
                run[6].wait()
    print("%d stall points tried" % len(cases))


def test_drip_is_byte_exact(env):
    """A server whose bytes arrive a few at a time (every line and
    message split at random points) still gives a byte-exact fetch."""
    for protocol in ("pop3", "imap"):
        with FaultProxy("127.0.0.1",
                        dovecot_port(env, protocol, "none")) as px:
            px.set_fault("drip", "s2c", chunk=5, delay=0)
            u = new_mailbox(env, SMALL_CORPUS)
            cfg = env.config(account(env, protocol, "none", u, px.port,
                                     tag="d-" + protocol, keep="no"),
                             name="d-" + protocol)
            r = env.run(["-c", cfg], timeout=60)
            assert r.rc == 0, "%s drip:\n%s" % (protocol, r)
            ck = Checker(env, u.name, env.path("d-%s-Maildir" % protocol),
                         form_of(protocol))
            for m in SMALL_CORPUS:
                ck.add(m)
            ck.check_complete(False, protocol + " drip")


def kill_points(env, protocol, npoints, seed):
    """SIGKILL mailfetch at npoints moments spread over runs of about a
    second (several batches); the invariant after each. Returns how many
    kills landed while mailfetch ran."""
    rng = random.Random(seed)
    tls = "implicit"
    with _MAKE:
        u = env.new_user()
    port = dovecot_port(env, protocol, tls)
    tag = "k-" + protocol
    cfg = env.config(account(env, protocol, tls, u, port, tag=tag,
                             keep="no", timeout=10), name=tag + ".rc")
    ck = Checker(env, u.name, env.path(tag + "-Maildir"),
                 form_of(protocol))
    seq = [0]

    def deliver(n):
        for _ in range(n):
            i = seq[0]
            seq[0] += 1
            data = (b"Subject: k%d\n\n" % i +
                    b"%06d the quick brown fox jumps over the lazy dog\n" %
                    i * 600)
            # Each thread delivers to its own user only, so no lock:
            # names need only be unique within one user's Maildir.
            env.dovecot.deliver(u.name, data)
            ck.add(data)

    # Calibrate: how long does a run of m messages (34 KB each) take?
    # Then use as many as make a run of about a second.
    m0 = 60
    deliver(m0)
    t0 = time.monotonic()
    env.expect(env.run(["-c", cfg], timeout=120), 0)
    t = time.monotonic() - t0
    ck.check_complete(False, "calibration")
    span, m = t, m0
    # The fixed costs of a run make each estimate low: time a run of
    # the new size, up to three times, until one lasts most of a
    # second.
    for _ in range(3):
        if span >= 0.7:
            break
        m = max(m, min(1500, int(m * 1.0 / max(span, 0.01))))
        deliver(m)
        t0 = time.monotonic()
        env.expect(env.run(["-c", cfg], timeout=120), 0)
        span = time.monotonic() - t0
        ck.check_complete(False, "calibration")
    kills = 0
    # The moments: when the kth message of the run is begun (its file
    # made in tmp/; it stays there or moves to new/), k spread over the
    # m messages each run has to fetch, so a kill cannot come after the
    # run's end; the first points of a batch find the earlier batch
    # renamed but not yet recorded, or recorded but not yet deleted.
    md = env.path(tag + "-Maildir")
    points = [max(1, int(m * (i + 0.5) / npoints)) for i in range(npoints)]
    rng.shuffle(points)
    for k in points:
        # Top up: about m messages not yet fetched are on the server.
        have = set(ck.maildir_digests())
        todo = sum(1 for m_ in ck.originals
                   if hashlib.sha256(ck.form(m_)).digest() not in have)
        if todo < m:
            deliver(m - todo)
        if env.kill_when(["-c", cfg], [os.path.join(md, d)
                                        for d in ("tmp", "new", "cur")],
                         k, timeout=120):
            kills += 1
        ck.check(allow_tmp=True, what="%s killed at message %d" % (
            protocol, k))
    r = env.run(["-c", cfg], timeout=120)
    assert r.rc == 0, "the run after the kills failed:\n%s" % r
    # A killed run leaves its unfinished files in tmp/ (never in new/
    # or cur/): Maildir readers ignore them.
    ck.check_complete(False, "%s after %d kills" % (protocol, kills),
                      allow_tmp=True)
    print("%s: %d kill points tried (%d killed mid-run, %d messages, "
          "a run of %d messages took %.2fs)" % (protocol, npoints, kills,
                                                  len(ck.originals), m,
                                                  span))
    return kills


def test_sigkill_at_56_points(env):
    """POP3 and IMAP side by side, 28 kill points each, every one of
    them while mailfetch runs."""
    kills = {}

    def one(protocol, seed):
        kills[protocol] = kill_points(env, protocol, 28, seed)

    parallel([lambda: one("pop3", 1), lambda: one("imap", 2)], 2)
    print("%d runs killed mid-way in all" % sum(kills.values()))
    assert sum(kills.values()) == 56, "only %d of 56 runs were killed " \
        "mid-way" % sum(kills.values())


def test_full_disk_is_74_and_loses_nothing(env):
    """The Maildir on a 2 MB tmpfs and 4 MB of mail: exit 74, nothing
    deleted from the server that is not stored; with room, the next run
    completes with every message exactly once."""
    for protocol in ("pop3", "imap"):
        mnt = env.path("small-" + protocol)
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m",
                            "tmpfs", mnt], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        assert p.returncode == 0, "cannot mount a tmpfs (run as root): %s" % (
            p.stdout.decode("utf-8", "replace").strip())
        env.on_cleanup(lambda m=mnt: subprocess.run(
            ["umount", "-l", m], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        u = env.new_user()
        maildir = os.path.join(mnt, "Maildir")
        tls = "implicit"
        cfg = env.config(account(env, protocol, tls, u,
                                 dovecot_port(env, protocol, tls),
                                 tag="fd-" + protocol, keep="no",
                                 maildir=maildir),
                         name="fd-%s.rc" % protocol)
        ck = Checker(env, u.name, maildir, form_of(protocol))
        for i in range(14):
            data = b"Subject: disk %d\n\n" % i + (b"%d" % i) * 300000 + b"\n"
            env.dovecot.deliver(u.name, data)
            ck.add(data)
        r = env.run(["-c", cfg], timeout=60)
        assert r.rc == 74, "%s: exit %s, want 74:\n%s" % (protocol, r.rc, r)
        assert r.err.startswith(A + ": "), r.err
        assert "No space left" in r.err or "disk" in r.err, r.err
        stored, on_server = ck.check(what=protocol + " disk full")
        assert stored < 14, "everything fitted on 2 MB?"
        # Nothing deleted from the server: POP3 ends without QUIT, IMAP
        # marks nothing of a batch that did not fit.
        assert on_server == 14, "%s: %d deleted" % (protocol, 14 - on_server)
        p = subprocess.run(["mount", "-o", "remount,size=64m", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert p.returncode == 0, p.stdout
        r = env.run(["-c", cfg], timeout=60)
        assert r.rc == 0, "%s: with room:\n%s" % (protocol, r)
        ck.check_complete(False, protocol + " after the disk had room")
        subprocess.run(["umount", mnt])
    print("full disk: 2 points tried (pop3, imap)")
