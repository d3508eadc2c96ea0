"""Integration test harness: throwaway servers on loopback, and Env.

Dovecot(root_dir=None) runs a private Dovecot instance from a temporary
directory of its own: its own CA and server certificate, its own
dovecot.conf (the system's is never read), its own base_dir, state_dir
and log, and listeners on 127.0.0.1 only (POP3, POP3S, IMAP, IMAPS) on
free ports. Mail is kept in Maildir++ form under ROOT/mail/USER.

Server-side message files are written and read here with LF line
endings, as Dovecot stores them; Dovecot turns them into CRLF on the
wire. A byte-exact fetch therefore yields exactly the bytes given to
deliver() (and returned by messages()).

MailutilsImap runs GNU Mailutils' imap4d the same way (IMAP and IMAPS,
the same kind of certificates), for the paths an IMAP server without
CONDSTORE, QRESYNC or UIDPLUS takes; its class says what it does oddly.

Env is what an integration test function receives from tests/run.py:
paths, a temporary directory, the shared Dovecot, config helpers, and
run(), which checks every output of mailfetch for every known password.

Only the Python standard library is used.
"""

import atexit
import base64
import datetime
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HOST = "127.0.0.1"
DEFAULT_MECHS = "plain login cram-md5 scram-sha-1 scram-sha-256 apop"
PROTOCOLS = ("pop3", "pop3s", "imap", "imaps")
SUBMISSION = ("submission", "submissions")
DEFAULT_USERS = (("alice", "pw-alice-7Qz"), ("bob", "pw-bob-4Kx9"))
START_TIMEOUT = 10.0

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class HarnessError(Exception):
    """The harness could not do what was asked (Dovecot did not start)."""


def _which(name):
    path = shutil.which(name)
    if path:
        return path
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise HarnessError("%s not found (run: sh tests/deps.sh)" % name)


def _run(argv, **kw):
    """Run a helper command, raising with its output when it fails."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       **kw)
    if p.returncode != 0:
        raise HarnessError("%s failed (%d): %s" % (
            " ".join(argv), p.returncode,
            p.stderr.decode("utf-8", "replace").strip()))
    return p.stdout


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies,
    even by SIGKILL, so no Dovecot outlives its test run (Linux)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def closed_port():
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    return free_port()


def _port_open(port, timeout=0.2):
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _write_file(path, data, mode=0o644, owner=None):
    """Write atomically (temp file and rename) with mode and owner."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = "%s.tmp%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, owner[0], owner[1])
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _mkdir(path, mode=0o755, owner=None):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner[0], owner[1])


def _group_members(pgid):
    """Pids of the live (not zombie) processes of process group pgid."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(d))
    return found


class _TestServer:
    """What the throwaway servers share: their root directory (a new
    one in /tmp that stop() removes, or root_dir, kept), a test CA, an
    unrelated CA and a server certificate for 127.0.0.1 signed by the
    first (see Dovecot for the attributes it sets), and the server's
    main process (self._proc), which runs in a process group of its own
    that stop() ends. A subclass sets self._root_dir, self._own_root,
    self.root = None, self._proc = None and self._openssl, and has
    _prepare() (what start() makes before the server runs),
    _start_once() and log_tail()."""

    def _p(self, *parts):
        return os.path.join(self.root, *parts)

    def _start(self, prefix, tries):
        """The root directory, _prepare(), then _start_once(), again on
        another port while a port turns out to be taken; on any failure
        stop() and raise."""
        atexit.register(self.stop)
        if self._own_root:
            self.root = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        else:
            self.root = os.path.abspath(self._root_dir)
            os.makedirs(self.root, exist_ok=True)
        try:
            os.chmod(self.root, 0o755)
            self._prepare()
            last = None
            for _ in range(tries):
                try:
                    self._start_once()
                    return self
                except HarnessError as e:
                    last = e
                    if "in use" not in str(e):
                        raise
            raise last
        except BaseException:
            self.stop()
            raise

    def _spawn(self, argv, out_path, preexec_fn):
        """Start the server's main process in a session (and process
        group) of its own, its output to out_path."""
        out = open(out_path, "wb")
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                cwd=self.root, start_new_session=True,
                preexec_fn=preexec_fn)
        finally:
            out.close()

    def _wait_listening(self, what, ports):
        """Wait until every port accepts connections; raise with the
        log's tail if the server exits or is not listening in time."""
        deadline = time.monotonic() + START_TIMEOUT
        pending = list(ports)
        while pending:
            if self._proc.poll() is not None:
                msg = "%s exited with status %d" % (what,
                                                    self._proc.returncode)
                self._kill()
                raise HarnessError(msg + "\n" + self.log_tail())
            if _port_open(pending[0]):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                self._kill()
                raise HarnessError("%s did not listen on port %d within "
                                   "%gs\n%s" % (what, pending[0],
                                                START_TIMEOUT,
                                                self.log_tail()))
            time.sleep(0.02)

    def _kill(self):
        """SIGTERM to the server's process group; once the main process
        has gone, SIGKILL to what is left of the group (a session
        process may ignore SIGTERM while it waits for its client)."""
        p = self._proc
        if p is None:
            return
        pgid = p.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if p.poll() is not None and not _group_members(pgid):
                break
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            time.sleep(0.02)
        p.wait()
        self._proc = None

    def stop(self):
        """Stop the server (_kill) and remove its root directory when
        it is a temporary one."""
        if self.root is None:
            return
        self._kill()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self):
        """The server's main process (its master or daemon), or None."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self):
        if self.root is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _make_ca(self, name, cn):
        key, crt = self._p(name + ".key"), self._p(name + ".crt")
        _run([self._openssl, "req", "-x509", "-newkey", "ec",
              "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", crt, "-days", "2", "-subj",
              "/O=mailfetch tests/CN=" + cn,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        os.chmod(key, 0o600)
        return key, crt

    def _make_certs(self):
        cakey, self.ca_file = self._make_ca("ca", "mailfetch test CA")
        _, self.wrong_ca_file = self._make_ca("wrong-ca",
                                              "mailfetch wrong CA")
        key, csr = self._p("server.key"), self._p("server.csr")
        self.cert_file = self._p("server.crt")
        ext = self._p("server.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                    "basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, "
                    "keyEncipherment\n"
                    "extendedKeyUsage = serverAuth\n")
        _run([self._openssl, "req", "-new", "-newkey", "ec",
              "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", csr,
              "-subj", "/O=mailfetch tests/CN=127.0.0.1"])
        os.chmod(key, 0o600)
        _run([self._openssl, "x509", "-req", "-in", csr, "-CA", self.ca_file,
              "-CAkey", cakey, "-set_serial", str(secrets.randbits(63)),
              "-days", "2", "-sha256", "-extfile", ext,
              "-out", self.cert_file])
        self.key_file = key
        der = _run([self._openssl, "x509", "-in", self.cert_file,
                    "-outform", "DER"])
        self.cert_der = der
        self.fingerprint = "SHA256:" + hashlib.sha256(der).hexdigest()
        dates = _run([self._openssl, "x509", "-in", self.cert_file,
                      "-noout", "-startdate", "-enddate"]).decode()
        got = {}
        for line in dates.splitlines():
            k, _, v = line.partition("=")
            got[k.strip()] = datetime.datetime.strptime(
                v.strip().replace(" GMT", ""), "%b %d %H:%M:%S %Y").date()
        self.not_before = got["notBefore"]
        self.not_after = got["notAfter"]
        subj = _run([self._openssl, "x509", "-in", self.cert_file,
                     "-noout", "-subject", "-issuer"]).decode()
        self.cert_subject = subj.splitlines()[0].partition("=")[2].strip()
        self.cert_issuer = subj.splitlines()[1].partition("=")[2].strip()


class Dovecot(_TestServer):
    """A throwaway Dovecot listening on 127.0.0.1.

    Attributes after start(): host, ports {"pop3", "pop3s", "imap",
    "imaps"}, ca_file (the CA that signed the server certificate),
    wrong_ca_file (an unrelated CA), cert_file, fingerprint
    ("SHA256:" + lowercase hex of the DER certificate), not_before and
    not_after (datetime.date, UTC), root (the temporary directory),
    users {name: password}. extra_config: text appended to the
    generated dovecot.conf (later settings win).

    start(submission=True) also runs Dovecot's submission service on
    ports["submission"] (plain, STARTTLS offered) and
    ports["submissions"] (implicit TLS), the same users and certificate.
    It must relay to another server and connects to it after each
    login, so a scripted relay (relay, a fakeserver.FakeServer) answers
    for it; the relay refuses MAIL, RCPT and DATA, so nothing is ever
    sent. Needs the dovecot-submissiond package.

    When run as root, the mail processes run as the "dovecot" (or
    "mail") system user, never as uid 0; otherwise everything runs as
    the current user.
    """

    def __init__(self, root_dir=None, mechanisms=DEFAULT_MECHS,
                 users=DEFAULT_USERS, extra_config=""):
        self.host = HOST
        self.ports = {}
        self.users = {}
        self.mechanisms = mechanisms
        self.extra_config = extra_config
        self._initial_users = list(users)
        self.submission = False
        self.relay = None
        self._root_dir = root_dir
        self._own_root = root_dir is None
        self.root = None
        self._proc = None
        self._pw_stamp = 0
        self._seq = 0
        self._last_name_time = (0, 0)
        self._dovecot = _which("dovecot")
        self._openssl = _which("openssl")
        self._ids()

    # --- identities -----------------------------------------------------

    def _ids(self):
        import grp
        import pwd
        uid = os.getuid()
        self.as_root = uid == 0
        if self.as_root:
            ent = None
            for name in ("dovecot", "mail"):
                try:
                    ent = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if ent is None:
                raise HarnessError("no 'dovecot' or 'mail' user to run "
                                   "mail processes as")
            self.mail_uid, self.mail_gid = ent.pw_uid, ent.pw_gid
            self.internal_user = ent.pw_name
            self.internal_group = grp.getgrgid(ent.pw_gid).gr_name
            try:
                self.login_user = pwd.getpwnam("dovenull").pw_name
            except KeyError:
                self.login_user = ent.pw_name
        else:
            self.mail_uid, self.mail_gid = uid, os.getgid()
            self.internal_user = pwd.getpwuid(uid).pw_name
            self.internal_group = grp.getgrgid(os.getgid()).gr_name
            self.login_user = self.internal_user
        self.owner = (self.mail_uid, self.mail_gid)

    # --- paths ----------------------------------------------------------

    @property
    def conf_file(self):
        return self._p("dovecot.conf")

    @property
    def log_file(self):
        return self._p("dovecot.log")

    @property
    def base_dir(self):
        return self._p("run")

    def maildir(self, user, folder="INBOX"):
        """The server-side Maildir of user's folder ("INBOX" or a
        hierarchical name such as "Lists/demo", stored as .Lists.demo)."""
        base = self._p("mail", user)
        if folder.upper() == "INBOX":
            return base
        return os.path.join(base, "." + folder.replace("/", "."))

    # --- configuration --------------------------------------------------

    def _config(self):
        r = self.root
        lines = [
            "# Generated by tests/harness.py; a throwaway test instance.",
            "instance_name = mfdv-%s" % os.path.basename(r),
            "base_dir = %s/run" % r,
            "state_dir = %s/state" % r,
            "log_path = %s" % self.log_file,
            "info_log_path = %s" % self.log_file,
            "protocols = imap pop3%s" % (
                " submission" if self.submission else ""),
            "listen = 127.0.0.1",
            "ssl = yes",
            "ssl_cert = <%s" % self.cert_file,
            "ssl_key = <%s" % self.key_file,
            "ssl_min_protocol = TLSv1.2",
            "disable_plaintext_auth = no",
            "auth_mechanisms = %s" % self.mechanisms,
            # No growing penalty for repeated failed logins from
            # 127.0.0.1 (it would make tests slow and timing-dependent):
            # the auth process cannot connect to a socket of mode 0.
            "auth_failure_delay = 1s",
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "default_internal_user = %s" % self.internal_user,
            "default_internal_group = %s" % self.internal_group,
            "default_login_user = %s" % self.login_user,
            "first_valid_uid = %d" % min(self.mail_uid, 1),
            "first_valid_gid = %d" % min(self.mail_gid, 1),
            "mail_location = maildir:%s/mail/%%u" % r,
            "pop3_uidl_format = %08Xu%08Xv",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            "}",
            "passdb {",
            "  driver = passwd-file",
            "  args = scheme=PLAIN username_format=%%u %s/passwd.d/%%u" % r,
            "}",
            "userdb {",
            "  driver = static",
            "  args = uid=%d gid=%d home=%s/home/%%u" % (
                self.mail_uid, self.mail_gid, r),
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            "    address = 127.0.0.1",
            "    port = %d" % self.ports["imap"],
            "  }",
            "  inet_listener imaps {",
            "    address = 127.0.0.1",
            "    port = %d" % self.ports["imaps"],
            "    ssl = yes",
            "  }",
            "}",
            "service pop3-login {",
            "  inet_listener pop3 {",
            "    address = 127.0.0.1",
            "    port = %d" % self.ports["pop3"],
            "  }",
            "  inet_listener pop3s {",
            "    address = 127.0.0.1",
            "    port = %d" % self.ports["pop3s"],
            "    ssl = yes",
            "  }",
            "}",
        ]
        # COMPRESS=DEFLATE (RFC 4978), offered after login.
        lines += ["protocol imap {",
                  "  mail_plugins = $mail_plugins imap_zlib",
                  "}"]
        if os.path.exists("/usr/share/dovecot/dh.pem"):
            lines.append("ssl_dh = </usr/share/dovecot/dh.pem")
        if self.submission:
            lines += [
                "submission_relay_host = %s" % self.relay.host,
                "submission_relay_port = %d" % self.relay.port,
                "service submission-login {",
                "  inet_listener submission {",
                "    address = 127.0.0.1",
                "    port = %d" % self.ports["submission"],
                "  }",
                "  inet_listener submissions {",
                "    address = 127.0.0.1",
                "    port = %d" % self.ports["submissions"],
                "    ssl = yes",
                "  }",
                "}",
            ]
            if not self.as_root:
                lines += ["service submission-login {", "  chroot =", "}"]
        if not self.as_root:
            # A non-root master cannot chroot or change users.
            lines += [
                "service imap-login {", "  chroot =", "}",
                "service pop3-login {", "  chroot =", "}",
                "service imap-urlauth-login {", "  chroot =", "}",
                "service anvil {", "  chroot =", "}",
                "service auth-worker {", "  user = $default_internal_user",
                "}",
            ]
        return "\n".join(lines) + "\n" + self.extra_config + "\n"

    def _write_passwd(self, user):
        # One passwd-file per user: Dovecot stats a passwd-file at most
        # once a second, so a single file would hide users added right
        # after a login; a file of a new path is always read afresh.
        path = self._p("passwd.d", user)
        existed = os.path.exists(path)
        _write_file(path, "%s:{PLAIN}%s\n" % (user, self.users[user]),
                    0o600, self.owner)
        if existed:
            # A changed file is seen once its mtime differs and a second
            # has passed since the last look at it.
            self._pw_stamp = max(int(time.time()) + 1, self._pw_stamp + 1)
            os.utime(path, (self._pw_stamp, self._pw_stamp))
            time.sleep(max(0.0, self._pw_stamp - time.time()) + 0.05)

    # --- start and stop -------------------------------------------------

    def start(self, mechanisms=None, tries=5, submission=False):
        """Create everything and start Dovecot; wait until all its
        ports accept connections. Raises HarnessError with the tail of
        the Dovecot log on failure. submission: see the class."""
        if mechanisms is not None:
            self.mechanisms = mechanisms
        self.submission = submission
        return self._start("mfdv", tries)

    def _prepare(self):
        for d in ("run", "state"):
            _mkdir(self._p(d), 0o755)
        _mkdir(self._p("mail"), 0o755, self.owner)
        _mkdir(self._p("home"), 0o755, self.owner)
        _mkdir(self._p("passwd.d"), 0o700, self.owner)
        self._make_certs()
        for u, p in self._initial_users:
            self.add_user(u, p)
        if self.submission:
            self._start_relay()

    def _start_relay(self):
        if not os.path.exists("/usr/lib/dovecot/submission"):
            raise HarnessError("Dovecot's submission service is not "
                               "installed (apt-get install "
                               "dovecot-submissiond)")
        from fakeserver import FakeServer
        self.relay = FakeServer(
            "respond", greeting=b"220 relay.invalid ESMTP test relay\r\n",
            rules=[
                (rb"(?i)^EHLO ",
                 b"250-relay.invalid\r\n250-8BITMIME\r\n250 PIPELINING\r\n"),
                (rb"(?i)^QUIT", b"221 2.0.0 bye\r\n", "close"),
                (rb"(?i)^(MAIL|RCPT|DATA|BDAT)",
                 b"554 5.7.1 the test relay takes no mail\r\n"),
            ], default=b"250 2.0.0 ok\r\n", max_conns=1 << 30).start()

    def pause(self):
        """Stop Dovecot, keeping its directory, mail and ports, so that
        resume() can start it again (a server restart)."""
        self._kill()

    def resume(self):
        """Start Dovecot again after pause(), on the same ports."""
        self._start_once(keep_ports=True)

    def _start_once(self, keep_ports=False):
        names = PROTOCOLS + (SUBMISSION if self.submission else ())
        ports = set()
        while not keep_ports and len(ports) < len(names):
            ports.add(free_port())
        if not keep_ports:
            self.ports = dict(zip(names, sorted(ports)))
        with open(self.conf_file, "w") as f:
            f.write(self._config())
        if os.path.exists(self.log_file):
            os.truncate(self.log_file, 0)
        self._spawn([self._dovecot, "-F", "-c", self.conf_file],
                    self._p("dovecot.out"), _die_with_parent)
        self._wait_listening("dovecot", self.ports.values())

    def log_tail(self, n=30):
        """The last n lines of Dovecot's log and its own output."""
        text = ""
        for name in ("dovecot.out", "dovecot.log"):
            try:
                with open(self._p(name), "rb") as f:
                    data = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            if data.strip():
                text += "--- %s:\n%s" % (name, "\n".join(
                    data.splitlines()[-n:]))
        return text or "(dovecot log is empty)"

    def stop(self):
        """Stop Dovecot (SIGTERM to its process group, then SIGKILL to
        what lingers) and the relay, and remove the temporary
        directory."""
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        super().stop()

    # --- users ----------------------------------------------------------

    def _make_user_dirs(self, user):
        _mkdir(self._p("home", user), 0o700, self.owner)
        base = self.maildir(user)
        _mkdir(base, 0o700, self.owner)
        for sub in ("tmp", "new", "cur"):
            _mkdir(os.path.join(base, sub), 0o700, self.owner)

    def add_user(self, name, password):
        """Add (or change) a user; Dovecot re-reads the passwd-file."""
        if not _NAME_RE.match(name):
            raise ValueError("bad user name %r" % name)
        if ":" in password or "\n" in password or not password:
            raise ValueError("password must be non-empty, without ':' or "
                             "newline")
        self.users[name] = password
        self._make_user_dirs(name)
        self._write_passwd(name)

    # --- mail on the server ---------------------------------------------

    def create_folder(self, user, name):
        """Create the Maildir++ folder name ("Lists/demo" is stored as
        .Lists.demo) with tmp/, new/, cur/. Returns its path."""
        path = self.maildir(user, name)
        _mkdir(path, 0o700, self.owner)
        for sub in ("tmp", "new", "cur"):
            _mkdir(os.path.join(path, sub), 0o700, self.owner)
        with open(os.path.join(path, "maildirfolder"), "w"):
            pass
        os.chown(os.path.join(path, "maildirfolder"), *self.owner)
        return path

    def _unique_name(self):
        # Names sort in delivery order: Dovecot gives new files UIDs in
        # the order of their names.
        now = time.time()
        sec, usec = int(now), int((now - int(now)) * 1e6)
        if (sec, usec) <= self._last_name_time:
            sec, usec = self._last_name_time
            usec += 1
            if usec >= 1000000:
                sec, usec = sec + 1, 0
        self._last_name_time = (sec, usec)
        self._seq += 1
        return "%d.M%06dP%dQ%06d.mfharness" % (sec, usec, os.getpid(),
                                                self._seq)

    def deliver(self, user, data, folder="INBOX", flags="", cur=False):
        """Store one message for user directly in the server Maildir.

        data is bytes with LF line endings (as Dovecot stores mail; it
        sends CRLF on the wire). With flags (Maildir letters, e.g. "S")
        or cur=True, the file goes to cur/ as NAME:2,FLAGS, else to new/.
        Note that Dovecot moves files from new/ to cur/ when a session
        opens the mailbox read-write (any POP3 login, IMAP SELECT), so
        deliver with cur=True to compare file names across a POP3 login.
        Returns the path of the file."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        base = self.maildir(user, folder)
        if not os.path.isdir(os.path.join(base, "new")):
            if folder.upper() == "INBOX":
                self._make_user_dirs(user)
            else:
                self.create_folder(user, folder)
        name = self._unique_name()
        tmp = os.path.join(base, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, *self.owner)
        os.chmod(tmp, 0o600)
        if flags or cur:
            dest = os.path.join(base, "cur", name + ":2," +
                                "".join(sorted(flags)))
        else:
            dest = os.path.join(base, "new", name)
        os.rename(tmp, dest)
        return dest

    def message_files(self, user, folder="INBOX"):
        """Paths (relative to the folder's Maildir, e.g. "new/NAME") of
        every message stored, sorted by base name (delivery order)."""
        base = self.maildir(user, folder)
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            for n in names:
                if not n.startswith("."):
                    found.append((n.split(":")[0], sub + "/" + n))
        return [p for _, p in sorted(found)]

    def snapshot(self, user, folder="INBOX"):
        """{relative path: bytes} of every message file: compare two
        snapshots to see that nothing changed on the server (not even a
        file moved from new/ to cur/ or a flag).

        Dovecot may be moving a file from new/ to cur/ (or renaming it
        for a flag) while this reads, in a session a test just killed
        the client of: a file that vanished between the listing and the
        read makes it list again, until two listings agree."""
        base = self.maildir(user, folder)
        for _ in range(50):
            snap = {}
            try:
                for rel in self.message_files(user, folder):
                    with open(os.path.join(base, rel), "rb") as f:
                        snap[rel] = f.read()
            except FileNotFoundError:
                time.sleep(0.02)
                continue
            return snap
        raise HarnessError("%s/%s kept changing while being read"
                           % (user, folder))

    def messages(self, user, folder="INBOX"):
        """The bytes (LF line endings) of every message currently stored
        in user's folder, in delivery order."""
        snap = self.snapshot(user, folder)
        order = {rel: i for i, rel in enumerate(
            sorted(snap, key=lambda r: os.path.basename(r).split(":")[0]))}
        return [snap[rel] for rel in sorted(snap, key=order.get)]

    def clear(self, user, folder=None):
        """Remove every message of user (of one folder, or all of them)."""
        base = self.maildir(user)
        dirs = []
        if folder is not None:
            dirs.append(self.maildir(user, folder))
        else:
            dirs.append(base)
            try:
                dirs += [os.path.join(base, n) for n in os.listdir(base)
                         if n.startswith(".") and
                         os.path.isdir(os.path.join(base, n))]
            except FileNotFoundError:
                pass
        for d in dirs:
            for sub in ("new", "cur", "tmp"):
                p = os.path.join(d, sub)
                try:
                    names = os.listdir(p)
                except FileNotFoundError:
                    continue
                for n in names:
                    os.unlink(os.path.join(p, n))


# --- GNU Mailutils imap4d: an IMAP server without CONDSTORE or UIDPLUS ----

MU_DOMAIN = "imap4d.test"

_MU_NAME_RE = re.compile(r"^(\d+)\.[^M]*M(\d+)(?:[^Q]*Q(\d+))?")


def _mu_order(name):
    """The delivery order imap4d gives a Maildir file name (Mailutils'
    maildir_message_cmp: seconds, then the numbers after M and Q)."""
    m = _MU_NAME_RE.match(name)
    if not m:
        return (0, 0, 0, name)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), name)


class MailutilsImap(_TestServer):
    """A throwaway GNU Mailutils imap4d (Debian mailutils-imap4d)
    listening on 127.0.0.1: the real IMAP server without CONDSTORE,
    QRESYNC, UIDPLUS or ENABLE that the tests of fallback paths need.

    It runs as a daemon of its own (imap4d --config-file, mode daemon,
    in the foreground, in a process group of its own that stop() ends)
    with a generated configuration file; the site-wide one is never
    read. Ports: ports["imap"] (plaintext, STARTTLS offered, LOGIN
    allowed without TLS) and ports["imaps"] (implicit TLS); the
    certificate is signed by ca_file, like the Dovecot class's.

    Users are virtual: imap4d's "virtdomain" authorization reads
    root/virt/imap4d.test, a passwd(5)-format file with SHA-512 crypt
    hashes, and its "generic" authentication checks the password, so
    nothing in /etc is touched. A virtual user logs in as
    NAME@imap4d.test (a daemon cannot tell virtual domains apart by
    address). SASL (GNU SASL) is turned off, as a site whose users
    have no SASL secrets would: the server offers no AUTH= mechanism and
    clients use LOGIN.

    Mail: the user's home is root/home/NAME, INBOX is the Maildir
    home/NAME/INBOX, and a folder "Lists/dev" the Maildir
    home/NAME/Lists/dev (hierarchy delimiter "/", one personal
    namespace ""). Files are stored with LF line endings; imap4d sends
    CRLF. imap4d keeps each message's UID in its file name (",u=N"),
    numbers messages in the order of their names (seconds, then the
    numbers after M and Q) and, when a file appears that sorts before a
    numbered one, renumbers them all and changes UIDVALIDITY: deliver()
    names files so that they sort last. It empties tmp/ when it opens a
    folder, so deliver() writes elsewhere first.

    Other oddities of imap4d 3.15 (Debian bookworm) a test may meet: it
    confirms each expunged message with "* N EXPUNGED" (RFC 3501 says
    EXPUNGE), to the session that expunged and to others; it rebuilds
    each message's header when it sends it (see served()); APPEND ignores
    the flags and the date given; INTERNALDATE is the Date: field, or the
    time of the FETCH when there is none; \\Recent is seen by the first
    session only; LIST shows INBOX as (\\NoInferiors) with a NIL
    delimiter; UID FETCH ignores a CHANGEDSINCE modifier (it answers for
    every message). extra_config "gsasl { enable yes; };" gives Debian's
    default: every mechanism GNU SASL knows offered (SCRAM-SHA-256 among
    them, though no SASL secret is set, so it fails).

    When run as root, imap4d runs as the "mail" user (never as uid 0);
    otherwise as the current user.
    """

    def __init__(self, root_dir=None, extra_config=""):
        self.host = HOST
        self.ports = {}
        self.users = {}
        self.extra_config = extra_config
        self._root_dir = root_dir
        self._own_root = root_dir is None
        self.root = None
        self._proc = None
        self._hashes = {}
        self._last = (0, 0)
        self._seq = 0
        self._imap4d = _which("imap4d")
        self._openssl = _which("openssl")
        import grp
        import pwd
        if os.getuid() == 0:
            try:
                ent = pwd.getpwnam("mail")
            except KeyError:
                raise HarnessError("no 'mail' user to run imap4d as")
            self.owner = (ent.pw_uid, ent.pw_gid)
        else:
            self.owner = (os.getuid(), os.getgid())
        try:
            grp.getgrnam("mail")
        except KeyError:
            # imap4d's daemon mode wants the group (for the mail spool).
            raise HarnessError("imap4d needs a 'mail' group")

    # --- paths ----------------------------------------------------------

    @property
    def conf_file(self):
        return self._p("imap4d.conf")

    @property
    def log_file(self):
        return self._p("imap4d.log")

    @staticmethod
    def local_part(user):
        """"alice" of the login name "alice@imap4d.test" (or of "alice")."""
        return user.split("@", 1)[0]

    def home(self, user):
        return self._p("home", self.local_part(user))

    def maildir(self, user, folder="INBOX"):
        """The server-side Maildir of user's folder: home/NAME/INBOX, or
        home/NAME/Lists/dev for the folder "Lists/dev"."""
        if folder.upper() == "INBOX":
            folder = "INBOX"
        return os.path.join(self.home(user), *folder.split("/"))

    def server(self, tls="implicit"):
        """What env.account(server=...) takes: host and the port for tls
        ("implicit": imaps, else imap)."""
        class _Endpoint:
            pass
        e = _Endpoint()
        e.host = self.host
        e.port = self.ports["imaps" if tls == "implicit" else "imap"]
        return e

    # --- configuration --------------------------------------------------

    def _config(self):
        q = '"%s"'
        lines = [
            "# Generated by tests/harness.py (MailutilsImap); a throwaway",
            "# test instance.",
            "logging { syslog no; };",
            "auth {",
            "  authorization virtdomain;",
            "  authentication generic;",
            "};",
            "virtdomain { passwd-dir %s; };" % (q % self._p("virt")),
            "gsasl { enable no; };",
            "mailbox { mailbox-type maildir; };",
            "tcp-wrappers { enable no; };",
            "mode daemon;",
            "foreground yes;",
            "max-children 64;",
            "timeout 300;",
            "pidfile %s;" % (q % self._p("run", "imap4d.pid")),
            "tls {",
            "  ssl-certificate-file %s;" % (q % self.cert_file),
            "  ssl-key-file %s;" % (q % self.key_file),
            "};",
            "server 127.0.0.1:%d {" % self.ports["imap"],
            "  tls-mode stls;",
            "};",
            "server 127.0.0.1:%d {" % self.ports["imaps"],
            "  tls-mode connection;",
            "};",
        ]
        return "\n".join(lines) + "\n" + self.extra_config + "\n"

    # --- start and stop -------------------------------------------------

    def start(self, tries=5):
        """Create everything and start imap4d; wait until both ports
        accept connections. Raises HarnessError with the log's tail."""
        return self._start("mfmu", tries)

    def _prepare(self):
        _mkdir(self._p("run"), 0o755, self.owner)
        _mkdir(self._p("home"), 0o755, self.owner)
        _mkdir(self._p("virt"), 0o700, self.owner)
        _mkdir(self._p("spool"), 0o700, self.owner)
        self._make_certs()
        os.chown(self.key_file, *self.owner)

    def _start_once(self):
        ports = set()
        while len(ports) < 2:
            ports.add(free_port())
        self.ports = dict(zip(("imap", "imaps"), sorted(ports)))
        _write_file(self.conf_file, self._config(), 0o644)
        uid, gid = self.owner
        # Loaded here: the child, no longer root, may not be able to
        # read Python's modules.
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)

        def child():
            # Become the mail user first: a change of user clears the
            # death signal (subprocess's user= would come too late). The
            # signal: see _die_with_parent.
            if os.getuid() != uid:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        self._spawn([self._imap4d, "--config-file", self.conf_file],
                    self.log_file, child)
        self._wait_listening("imap4d", (self.ports["imap"],
                                        self.ports["imaps"]))

    def log_tail(self, n=30):
        """The last n lines of imap4d's log (its stderr)."""
        try:
            with open(self.log_file, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no imap4d log)"
        return "--- imap4d.log:\n" + "\n".join(data.splitlines()[-n:])

    # --- users ----------------------------------------------------------

    def add_user(self, name, password):
        """Add (or change) the virtual user name (a local part); returns
        the login name, name@imap4d.test. imap4d reads the password file
        afresh at each login."""
        if not _NAME_RE.match(name):
            raise ValueError("bad user name %r" % name)
        if "\n" in password or not password:
            raise ValueError("password must be non-empty, one line")
        login = "%s@%s" % (name, MU_DOMAIN)
        self.users[login] = password
        self._hashes[name] = _run([self._openssl, "passwd", "-6",
                                   "-stdin"],
                                  input=password.encode()).decode().strip()
        home = self.home(name)
        _mkdir(home, 0o700, self.owner)
        inbox = self.maildir(name)
        _mkdir(inbox, 0o700, self.owner)
        for sub in ("tmp", "new", "cur"):
            _mkdir(os.path.join(inbox, sub), 0o700, self.owner)
        lines = ["%s:%s:%d:%d::%s:/bin/false\n" % (
            n, h, self.owner[0], self.owner[1], self.home(n))
            for n, h in sorted(self._hashes.items())]
        _write_file(self._p("virt", MU_DOMAIN), "".join(lines), 0o600,
                    self.owner)
        return login

    # --- mail on the server, as files -------------------------------------

    def _unique_name(self, folder_dir):
        # After every name in the folder, in imap4d's order, so that
        # imap4d gives the file the next UID and renumbers nothing.
        last = self._last
        for sub in ("new", "cur"):
            try:
                names = os.listdir(os.path.join(folder_dir, sub))
            except FileNotFoundError:
                continue
            for n in names:
                sec, usec, _, _ = _mu_order(n)
                last = max(last, (sec, usec))
        now = time.time()
        sec, usec = int(now), int((now - int(now)) * 1e6)
        if (sec, usec) <= last:
            sec, usec = last[0], last[1] + 1
            if usec >= 1000000:
                sec, usec = sec + 1, 0
        self._last = (sec, usec)
        self._seq += 1
        return "%d.M%dP%dQ%d.mfharness" % (sec, usec, os.getpid(),
                                           self._seq)

    def deliver(self, user, data, folder="INBOX", flags="", settle=True):
        """Store one message (bytes, LF line endings) for user in folder
        (which must exist: create_folder) as a file in new/, as an MDA
        (Mailutils' own included) does.

        imap4d gives a message in new/ its UID for good only when a
        session opens the folder read-write; until then each EXAMINE
        numbers it afresh (other UIDs each time, and a new UIDVALIDITY
        once the second has changed). settle=True does what a mail
        client's session would: it opens the folder read-write (settle())
        and returns the message's UID. settle=False leaves it in new/ and
        returns its path (deliver several, then settle() once). flags
        (IMAP flags, e.g. "\\Seen \\Flagged") are set with STORE, which
        needs settle=True."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        base = self.maildir(user, folder)
        if not os.path.isdir(os.path.join(base, "new")):
            raise HarnessError("no folder %r of %s" % (folder, user))
        if flags and not settle:
            raise ValueError("flags need settle=True")
        name = self._unique_name(base)
        tmp = self._p("spool", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, *self.owner)
        os.chmod(tmp, 0o600)
        dest = os.path.join(base, "new", name)
        os.rename(tmp, dest)
        if not settle:
            return dest
        return self.settle(user, folder, flags)

    def settle(self, user, folder="INBOX", flags=""):
        """Open folder read-write (SELECT, then LOGOUT: nothing is
        expunged), so that imap4d moves new/ to cur/ and numbers the new
        messages for good. Returns the highest UID, after setting flags on
        it when given."""
        c = self.client(user)
        try:
            self._ok("SELECT", c.select(self._quote(folder)))
            data = self._ok("UID SEARCH", c.uid("SEARCH", "ALL"))
            uids = [int(x) for x in data[0].split()] if data[0] else []
            last = max(uids) if uids else None
            if flags:
                self._ok("UID STORE", c.uid("STORE", str(last),
                                            "+FLAGS.SILENT",
                                            "(%s)" % flags))
        finally:
            c.logout()
        return last

    def message_files(self, user, folder="INBOX"):
        """Paths (relative to the folder, e.g. "cur/NAME") of every
        message stored, in imap4d's order (the order of UIDs)."""
        base = self.maildir(user, folder)
        found = []
        for sub in ("new", "cur"):
            try:
                names = os.listdir(os.path.join(base, sub))
            except FileNotFoundError:
                continue
            found += [(_mu_order(n), sub + "/" + n) for n in names
                      if not n.startswith(".")]
        return [p for _, p in sorted(found)]

    def messages(self, user, folder="INBOX"):
        """The bytes (LF line endings) of every message stored in user's
        folder, in UID order. A file imap4d renames while this reads
        (new/ to cur/, a flag) makes it look again."""
        base = self.maildir(user, folder)
        for _ in range(50):
            out = []
            try:
                for rel in self.message_files(user, folder):
                    with open(os.path.join(base, rel), "rb") as f:
                        out.append(f.read())
            except FileNotFoundError:
                time.sleep(0.02)
                continue
            return out
        raise HarnessError("%s/%s kept changing while being read"
                           % (user, folder))

    # --- mail on the server, through IMAP ---------------------------------

    def client(self, user):
        """An imaplib session of user (a login name; its password is
        known) over implicit TLS, logged in."""
        import imaplib
        import ssl
        ctx = ssl.create_default_context(cafile=self.ca_file)
        c = imaplib.IMAP4_SSL(self.host, self.ports["imaps"],
                              ssl_context=ctx)
        c.login(user, self.users[user])
        return c

    @staticmethod
    def _ok(what, reply):
        typ, data = reply
        if typ != "OK":
            raise HarnessError("imap4d refused %s: %s %r" % (what, typ, data))
        return data

    @staticmethod
    def _quote(folder):
        return '"%s"' % folder.replace("\\", "\\\\").replace('"', '\\"')

    def create_folder(self, user, folder):
        """CREATE folder ("Lists/dev": imap4d makes the Maildir
        home/NAME/Lists/dev and lists Lists as \\Noselect). Returns the
        folder's path."""
        c = self.client(user)
        try:
            self._ok("CREATE " + folder, c.create(self._quote(folder)))
        finally:
            c.logout()
        return self.maildir(user, folder)

    def append(self, user, data, folder="INBOX"):
        """APPEND data (LF line endings) to folder. imap4d ignores the
        flags and date APPEND may carry (INTERNALDATE is the Date:
        header's, or the time of each FETCH without one), so none are
        sent: set flags with store()."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        c = self.client(user)
        try:
            self._ok("APPEND", c.append(self._quote(folder), None, None,
                                        data.replace(b"\n", b"\r\n")))
        finally:
            c.logout()

    def store(self, user, uids, flags, folder="INBOX", op="+FLAGS.SILENT"):
        """UID STORE uids (e.g. "1:3" or [1, 2]) op (+FLAGS.SILENT,
        -FLAGS.SILENT, FLAGS.SILENT) flags (e.g. "\\Seen \\Deleted")."""
        if not isinstance(uids, str):
            uids = ",".join(str(u) for u in uids)
        c = self.client(user)
        try:
            self._ok("SELECT", c.select(self._quote(folder)))
            self._ok("UID STORE", c.uid("STORE", uids, op,
                                        "(%s)" % flags))
        finally:
            c.logout()

    def expunge(self, user, folder="INBOX"):
        """EXPUNGE folder: every message flagged \\Deleted goes."""
        c = self.client(user)
        try:
            self._ok("SELECT", c.select(self._quote(folder)))
            self._ok("EXPUNGE", c.expunge())
        finally:
            c.logout()

    def served(self, user, folder="INBOX"):
        """What imap4d sends for each message of folder (BODY.PEEK[] in
        UID order, CRLF turned to LF as a fetch stores it), through
        EXAMINE. Not always the stored bytes: imap4d rebuilds the header
        (one space after each field's colon, a leading "From " line
        turned into a "From :" field, a header without the blank line
        after it lost)."""
        c = self.client(user)
        try:
            self._ok("EXAMINE", c.select(self._quote(folder), readonly=True))
            data = self._ok("UID FETCH", c.uid("FETCH", "1:*",
                                               "(UID BODY.PEEK[])"))
        finally:
            c.logout()
        out = []
        for item in data:
            if isinstance(item, tuple):
                m = re.search(rb"UID (\d+)", item[0])
                out.append((int(m.group(1)), item[1].replace(b"\r\n",
                                                             b"\n")))
        return [body for _, body in sorted(out)]

    def listing(self, user, folder="INBOX"):
        """[(uid, flags)] of folder in UID order, flags a sorted tuple
        without \\Recent (which only the first session sees), through
        EXAMINE (changes nothing), with UIDVALIDITY: returns
        (uidvalidity, listing)."""
        c = self.client(user)
        try:
            self._ok("EXAMINE", c.select(self._quote(folder), readonly=True))
            uidvalidity = int(c.untagged_responses["UIDVALIDITY"][0])
            data = self._ok("UID FETCH", c.uid("FETCH", "1:*",
                                               "(UID FLAGS)"))
        finally:
            c.logout()
        out = []
        for item in data:
            if item is None:
                continue
            if isinstance(item, tuple):
                item = item[0]
            m = re.search(rb"UID (\d+)", item)
            f = re.search(rb"FLAGS \(([^)]*)\)", item)
            if not m or not f:
                continue
            flags = tuple(sorted(x for x in f.group(1).decode().split()
                                 if x != "\\Recent"))
            out.append((int(m.group(1)), flags))
        return uidvalidity, sorted(out)


# --- Env: what each integration test gets --------------------------------

_SAN_START = re.compile(r"ERROR: (Address|Leak|Memory|Thread|Undefined"
                        r"Behavior)Sanitizer|runtime error:")


def condense(text, n=40):
    """The useful part of a program's stderr: for a sanitizer report,
    from its first error line to its SUMMARY line (no shadow-byte
    maps); otherwise the last n lines."""
    lines = text.rstrip("\n").split("\n")
    for i, x in enumerate(lines):
        if _SAN_START.search(x):
            out = []
            for y in lines[max(0, i - 3):]:
                if y.startswith("Shadow byte"):
                    break
                out.append(y)
                if y.startswith("SUMMARY:"):
                    break
            if len(out) > n:
                out = out[:n] + ["... (cut)"]
            return "\n".join(out)
    if len(lines) > n:
        lines = ["... (%d lines before)" % (len(lines) - n)] + lines[-n:]
    return "\n".join(lines)


class Result:
    """The outcome of one mailfetch run."""

    def __init__(self, args, rc, out, err, elapsed):
        self.args = args
        self.rc = rc
        self.out_bytes = out
        self.err_bytes = err
        self.out = out.decode("utf-8", "replace")
        self.err = err.decode("utf-8", "replace")
        self.elapsed = elapsed

    def __str__(self):
        return ("$ %s\nexit status: %s (%.2fs)\n--- stdout:\n%s--- stderr:\n%s"
                % (" ".join(self.args), self.rc, self.elapsed,
                   _shown(self.out), _shown(self.err)))


def _shown(s):
    if not s:
        return "(empty)\n"
    text = condense(s, 60) + "\n"
    return text if s.endswith("\n") else text + "(no final newline)\n"


class User:
    """A test user: name and password."""

    def __init__(self, name, password):
        self.name = name
        self.password = password

    def __repr__(self):
        return "User(%r)" % self.name


_shared = {"dovecot": None, "error": None, "submission": None,
           "submission_error": None, "mailutils": None,
           "mailutils_error": None}


def _main_thread_only(what):
    """A server started by another thread would be killed when that
    thread ends: PR_SET_PDEATHSIG (see _die_with_parent) follows the
    thread that forked it, not the process."""
    if threading.current_thread() is not threading.main_thread():
        raise HarnessError("%s must be started by the main thread; touch "
                           "env.dovecot before starting threads" % what)


def shared_dovecot():
    """The one Dovecot of the test run, started on first use. A failure
    to start is remembered and raised again for every later test."""
    if _shared["error"] is not None:
        raise HarnessError("Dovecot could not be started earlier: %s"
                           % _shared["error"])
    if _shared["dovecot"] is None:
        _main_thread_only("the shared Dovecot")
        try:
            _shared["dovecot"] = Dovecot().start()
        except Exception as e:
            _shared["error"] = str(e)
            raise
    return _shared["dovecot"]


def shared_submission_dovecot():
    """A second shared Dovecot, started on first use, that also runs the
    submission service (Dovecot.start(submission=True)); for the tests
    of outgoing settings. Its users are its own: add them with
    add_user and register their passwords with Env.secret."""
    if _shared["submission_error"] is not None:
        raise HarnessError("Dovecot with submission could not be started "
                           "earlier: %s" % _shared["submission_error"])
    if _shared["submission"] is None:
        _main_thread_only("the shared Dovecot with submission")
        try:
            _shared["submission"] = Dovecot().start(submission=True)
        except Exception as e:
            _shared["submission_error"] = str(e)
            raise
    return _shared["submission"]


def shared_mailutils():
    """The one GNU Mailutils imap4d of the test run (MailutilsImap),
    started on first use, like shared_dovecot(). Its users are its own:
    add them with add_user (env.mailutils_user does)."""
    if _shared["mailutils_error"] is not None:
        raise HarnessError("imap4d could not be started earlier: %s"
                           % _shared["mailutils_error"])
    if _shared["mailutils"] is None:
        _main_thread_only("the shared imap4d")
        try:
            _shared["mailutils"] = MailutilsImap().start()
        except Exception as e:
            _shared["mailutils_error"] = str(e)
            raise
    return _shared["mailutils"]


def shutdown():
    """Stop the shared servers, if they were started."""
    for key in ("dovecot", "submission", "mailutils"):
        d = _shared[key]
        _shared[key] = None
        if d is not None:
            d.stop()


def secret_forms(secret, user=None):
    """A secret and the encoded forms it could leak in."""
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    if user is not None:
        forms.add(base64.b64encode(
            ("\0%s\0%s" % (user, secret)).encode()).decode())
        forms.add(base64.b64encode(
            ("%s\0%s\0%s" % (user, user, secret)).encode()).decode())
    return forms


class Env:
    """What a test function receives.

    env.mailfetch  absolute path of the binary under test
    env.build      absolute build directory; env.root: the repository
    env.tmp        a fresh directory for this test (removed on success)
    env.dovecot    the shared Dovecot (started on first use)
    env.runs       every Result of env.run in this test
    """

    def __init__(self, root, build, name="test"):
        self.root = root
        self.build = os.path.abspath(build)
        self.mailfetch = os.path.join(self.build, "mailfetch")
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="mft-", dir="/tmp")
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home, 0o700)
        self.runs = []
        self._secrets = set()
        self._cleanups = []

    @property
    def dovecot(self):
        return shared_dovecot()

    @property
    def mailutils(self):
        """The shared GNU Mailutils imap4d (started on first use)."""
        return shared_mailutils()

    def secret(self, text, user=None):
        """Register a string that must never appear in any output."""
        self._secrets |= secret_forms(text, user)

    def _all_secrets(self):
        found = set(self._secrets)
        for key in ("dovecot", "mailutils"):
            d = _shared[key]
            if d is not None:
                # Test threads add users meanwhile: iterate over a copy
                # (made in one step under the GIL), not the live dict.
                for u, p in list(d.users.items()):
                    found |= secret_forms(p, u)
        return found

    def new_user(self, prefix="u"):
        """A fresh user on the shared Dovecot, with a random, distinctive
        password and an empty mailbox."""
        d = self.dovecot
        name = "%s%s" % (prefix, secrets.token_hex(4))
        password = "Pw%sZq" % secrets.token_hex(8)
        d.add_user(name, password)
        return User(name, password)

    def mailutils_user(self, prefix="u"):
        """A fresh user on the shared imap4d (login name
        NAME@imap4d.test), with a random password and an empty INBOX."""
        m = self.mailutils
        name = "%s%s" % (prefix, secrets.token_hex(4))
        password = "Pw%sZq" % secrets.token_hex(8)
        return User(m.add_user(name, password), password)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def config(self, text, mode=0o600, name="fetchrc"):
        """Write a config file into env.tmp with mode; returns its path."""
        path = self.path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def account(self, name, protocol, tls, user, server=None, **keys):
        """A config section for the test Dovecot. protocol: "pop3" or
        "imap"; tls: "implicit", "starttls" or "none"; user: a User (its
        password is filled in) or a name. keys override or add keys; a
        key given as None is left out. maildir is env.tmp/NAME-Maildir,
        state_file env.tmp/state/NAME.state. server: another server
        (anything with .host and .port, e.g. a FakeServer) instead of
        the Dovecot; tls_ca_file is then left out unless given."""
        if server is not None:
            kv = {"protocol": protocol, "host": server.host,
                  "port": str(server.port), "tls": tls}
        else:
            d = self.dovecot
            port = d.ports[protocol + ("s" if tls == "implicit" else "")]
            kv = {"protocol": protocol, "host": d.host, "port": str(port),
                  "tls": tls}
            if tls != "none":
                kv["tls_ca_file"] = d.ca_file
        if tls == "none":
            kv["allow_plaintext"] = "yes"
        if isinstance(user, User):
            kv["user"] = user.name
            kv["password"] = user.password
            self.secret(user.password, user.name)
        else:
            kv["user"] = user
        kv["maildir"] = self.path(name + "-Maildir")
        kv["state_file"] = self.path("state", name + ".state")
        for k, v in keys.items():
            if v is None:
                kv.pop(k, None)
            else:
                kv[k] = str(v)
        return "[%s]\n%s\n" % (name, "".join(
            "%s = %s\n" % (k, v) for k, v in kv.items()))

    def run_env(self):
        e = dict(os.environ)
        for k in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME",
                  "XDG_CACHE_HOME"):
            e.pop(k, None)
        e["HOME"] = self.home
        # Dates in --check output are compared with the certificate's.
        e["TZ"] = "UTC"
        return e

    def kill_when(self, args, path, n, timeout=30):
        """Start mailfetch with args and SIGKILL it as soon as directory
        path (or the directories of a list, together) holds n more
        entries than when it started: a moment tied to its progress (the
        nth file begun in tmp/, the first renamed into new/), not to the
        clock. Returns True when the kill landed while it ran, False when
        it ended first."""
        paths = [path] if isinstance(path, str) else path

        def count():
            c = 0
            for d in paths:
                try:
                    c += len(os.listdir(d))
                except FileNotFoundError:
                    pass
            return c
        base = count()
        p = subprocess.Popen([self.mailfetch] + [str(a) for a in args],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=self.run_env())
        end = time.monotonic() + timeout
        try:
            while p.poll() is None and time.monotonic() < end:
                if count() - base >= n:
                    p.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.0002)
            else:
                if p.poll() is None:
                    raise AssertionError("%s did not reach %d entries in "
                                         "%s within %ds" % (
                                             args, n, path, timeout))
        finally:
            if p.poll() is None and time.monotonic() >= end:
                p.kill()
            p.wait()
        return p.returncode == -signal.SIGKILL

    def run(self, args, timeout=60, input=None, cwd=None, check_secrets=True,
            extra_env=None):
        """Run mailfetch with args; returns a Result (.rc, .out, .err,
        .elapsed). Fails the test if any known password (or an encoded
        form of it) appears in stdout or stderr. extra_env: variables
        added to its environment."""
        argv = [self.mailfetch] + [str(a) for a in args]
        if not os.access(self.mailfetch, os.X_OK):
            raise AssertionError("%s is not built (make %s)" % (
                self.mailfetch, os.path.relpath(self.mailfetch, self.root)))
        if isinstance(input, str):
            input = input.encode("utf-8")
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, input=input,
                               stdin=None if input is not None
                               else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, cwd=cwd or self.tmp,
                               env=dict(self.run_env(), **(extra_env or {})))
        except subprocess.TimeoutExpired as e:
            r = Result(argv, None, e.stdout or b"", e.stderr or b"",
                       time.monotonic() - t0)
            self.runs.append(r)
            raise AssertionError("mailfetch did not finish within %ss"
                                 % timeout)
        r = Result(argv, p.returncode, p.stdout, p.stderr,
                   time.monotonic() - t0)
        self.runs.append(r)
        if check_secrets:
            for s in sorted(self._all_secrets()):
                for where, text in (("stdout", r.out), ("stderr", r.err)):
                    if s in text:
                        raise AssertionError(
                            "a secret leaked into %s: %r" % (where, s))
        return r

    def expect(self, r, rc):
        """Assert r's exit status is rc."""
        if r.rc != rc:
            raise AssertionError("expected exit status %s, got %s"
                                 % (rc, r.rc))
        return r

    def on_cleanup(self, fn):
        self._cleanups.append(fn)

    def close(self, keep_tmp=False):
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception:
                pass
        self._cleanups = []
        if not keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def tree(path):
    """Every file and directory under path, relative, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        for n in dirnames + filenames:
            out.append(os.path.normpath(os.path.join(rel, n)))
    return sorted(out)


def _state_lines(path):
    """The complete lines of a file (a torn last line left out), [] when
    it is missing."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]


def state_replayed(path):
    """The state at path as mailfetch reads it: the state file (version
    1 or 2) with its journal replayed over it (cmd/state_v1.c and
    cmd/store.c say how). Returns (generation, folders, intents,
    records): folders maps an escaped name to [uidvalidity, uidnext,
    modseq] in the order first seen; intents and records map (name, uid)
    to the fields of the I or M line after the uid."""
    base = _state_lines(path)
    gen = int(base[1][2:]) if len(base) > 1 else 0
    folders, intents, recs = {}, {}, {}

    def reset(name, uv):
        folders[name] = [uv, 0, 0]
        for d in (intents, recs):
            for k in [k for k in d if k[0] == name]:
                del d[k]

    def use(name, uv):
        if name not in folders or folders[name][0] != uv:
            reset(name, uv)

    for line in base[2:]:
        f = line.split("\t")
        if f[0] == "F":
            nums = [int(x) for x in f[3:5]] + [0, 0]
            folders[f[1]] = [int(f[2]), nums[0], nums[1]]
        elif f[0] == "I":
            intents[(f[1], f[4])] = [f[3]] + f[5:]
        elif f[0] == "M" and int(f[2]) == folders.get(f[1], [None])[0]:
            recs[(f[1], f[4])] = [f[3]] + f[5:]
    journal = _state_lines(path + ".journal")
    if len(journal) > 1 and int(journal[1][2:]) >= gen:
        for line in journal[2:]:
            f = line.split("\t")
            if f[0] == "F":
                reset(f[1], int(f[2]))
                continue
            use(f[1], int(f[2]))
            if f[0] == "S":
                folders[f[1]][1:] = [int(f[3]), int(f[4])]
                continue
            key = (f[1], f[4])
            intents.pop(key, None)
            if f[0] == "I":
                intents[key] = [f[3]] + f[5:]
            elif f[0] == "X":
                recs.pop(key, None)
            else:
                old = recs.get(key)
                grew = any(x.startswith("grew=") for x in f[5:])
                if old and not grew and not any(
                        x.startswith("grew=") for x in old[1:]):
                    f[3] = str(min(int(f[3]), int(old[0])))
                recs[key] = [f[3]] + f[5:]
    return gen, folders, intents, recs


def state_text(path):
    """The state at path as the text of a version 1 state file (what
    tests read and edit): the journal replayed, F lines with uidnext and
    modseq only where set, then I and M lines."""
    gen, folders, intents, recs = state_replayed(path)
    out = ["mailfetch-state 1", "G\t%d" % gen]
    for name, (uv, uidnext, modseq) in folders.items():
        f = ["F", name, str(uv)]
        if modseq:
            f += [str(uidnext), str(modseq)]
        elif uidnext:
            f += [str(uidnext)]
        out.append("\t".join(f))
    for kind, d in (("I", intents), ("M", recs)):
        for (name, uid), rest in d.items():
            out.append("\t".join([kind, name, str(folders[name][0]),
                                  rest[0], uid] + rest[1:]))
    return "\n".join(out) + "\n"


def compact_state(path):
    """Write the state at path as one version 1 file without a journal,
    for a test to edit as text (the next run converts it)."""
    text = state_text(path)
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
    if os.path.exists(path + ".journal"):
        os.unlink(path + ".journal")
    return text
