"""A scripted fake TCP server on 127.0.0.1, for timeout and hostile-server
tests. It runs in a thread on an ephemeral port and records everything
it receives.

Modes:
  "silent"   accept connections and never send anything; read and record
             what the client sends until it closes or the server stops.
  "script"   play a list of steps, in order, on each connection. A step is
             (expect, reply) or (expect, reply, options):
               expect   None: do not read, just send reply; else a regex
                        (str or bytes) that the next line received (CRLF
                        or LF stripped) must match (re.search). On a
                        mismatch the server records an error in .errors
                        and closes the connection.
               reply    bytes (or str, sent as UTF-8) to send, or None;
                        may be a callable(match) returning bytes.
               options  a dict: {"close": True} closes the connection
                        after the reply; {"delay": SECONDS} waits before
                        replying; {"starttls": ssl.SSLContext} turns the
                        connection into TLS (server side) after the reply;
                        {"hold": True} stops here, reading and recording,
                        sending nothing more; {"drip": SECONDS} sends the
                        reply one byte at a time, SECONDS apart, and with
                        {"drip_range": (START, END)} only reply[START:END]
                        so (what comes before and after goes at once);
                        {"peek": SECONDS} before replying keeps reading for
                        SECONDS and appends to .peeked the list of lines
                        that arrived after the expected one, still unread
                        by the script (what the client sent without
                        waiting for this reply). The
                        string "close" is short for {"close": True}.
             After the last step the server keeps reading and recording
             (sending nothing) until the client closes, unless after=
             "close".
  "respond"  send greeting (if any), then answer each line received with
             the reply of the first rule (regex, reply[, options]) whose
             regex matches; lines no rule matches get default (or
             nothing when default is None). A reply may be a callable
             (match) -> bytes. Options as in "script".

FakeServer(mode, script=None, greeting=None, rules=None, default=None,
           after="hold", tls=None, max_conns=1)
  tls: an ssl.SSLContext to wrap every accepted connection in (implicit
  TLS) before anything else.

Attributes: host, port, received (bytes of all connections, in order),
lines (each line received, decoded as Latin-1, CRLF stripped), conns
(connections accepted), errors (script mismatches and exceptions).
Use as a context manager, or call start() and stop().
"""

import re
import socket
import ssl
import threading
import time


def _b(x):
    if x is None or isinstance(x, bytes):
        return x
    return x.encode("utf-8")


def _opts(step):
    if len(step) < 3 or step[2] is None:
        return {}
    o = step[2]
    if o == "close":
        return {"close": True}
    if o == "hold":
        return {"hold": True}
    return dict(o)


class _Closed(Exception):
    pass


class FakeServer:
    def __init__(self, mode="script", script=None, greeting=None, rules=None,
                 default=None, after="hold", tls=None, max_conns=1):
        if mode not in ("silent", "script", "respond"):
            raise ValueError("unknown mode %r" % mode)
        self.mode = mode
        self.script = list(script or [])
        self.greeting = _b(greeting)
        self.rules = [(re.compile(_b(r[0])), r[1], _opts(r)) for r in
                      (rules or [])]
        self.default = default
        self.after = after
        self.tls = tls
        self.max_conns = max_conns
        self.host = "127.0.0.1"
        self.port = None
        self.received = b""
        self.lines = []
        self.peeked = []
        self.conns = 0
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks = []
        self._threads = []
        self._listener = None

    # --- lifecycle ------------------------------------------------------

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, 0))
        s.listen(8)
        s.settimeout(0.1)
        self._listener = s
        self.port = s.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self):
        if self.port is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def wait_conns(self, n=1, timeout=5.0):
        """Wait until n connections were accepted; True if they were."""
        deadline = time.monotonic() + timeout
        while self.conns < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.conns >= n

    # --- server side ----------------------------------------------------

    def _accept_loop(self):
        while not self._stop.is_set():
            if self.conns >= self.max_conns:
                time.sleep(0.05)
                continue
            try:
                c, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.conns += 1
                self._socks.append(c)
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, c):
        conn = _Conn(self, c)
        try:
            if self.tls is not None:
                conn.wrap(self.tls)
            if self.mode == "silent":
                conn.drain()
            elif self.mode == "script":
                self._play(conn)
            else:
                self._respond(conn)
        except _Closed:
            pass
        except Exception as e:  # recorded for the test to look at
            if not self._stop.is_set():
                self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            conn.close()

    def _peek(self, conn, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end and not self._stop.is_set():
            try:
                data = conn.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError:
                break
            if not data:
                break
            with self._lock:
                self.received += data
            conn.buf += data
        self.peeked.append([x.rstrip(b"\r").decode("latin-1")
                            for x in conn.buf.split(b"\n")[:-1]])

    def _do(self, conn, reply, opts, m=None):
        if opts.get("peek"):
            self._peek(conn, opts["peek"])
        if opts.get("delay"):
            self._stop.wait(opts["delay"])
        if callable(reply):
            reply = reply(m)
        if reply is not None and opts.get("drip"):
            self._drip(conn, _b(reply), opts["drip"], opts.get("drip_range"))
        elif reply is not None:
            conn.send(_b(reply))
        if opts.get("starttls") is not None:
            conn.wrap(opts["starttls"])
        if opts.get("close"):
            raise _Closed()
        if opts.get("hold"):
            conn.drain()
            raise _Closed()

    def _drip(self, conn, data, secs, rng=None):
        start, end = rng if rng is not None else (0, len(data))
        conn.send(data[:start])
        for i in range(start, end):
            if self._stop.wait(secs):
                raise _Closed()
            conn.send(data[i:i + 1])
        conn.send(data[end:])

    def _play(self, conn):
        if self.greeting is not None:
            conn.send(self.greeting)
        for step in self.script:
            expect, reply = step[0], step[1]
            m = None
            if expect is not None:
                line = conn.readline()
                m = re.search(_b(expect), line)
                if m is None:
                    self.errors.append("expected %r, got %r"
                                       % (_b(expect), line))
                    raise _Closed()
            self._do(conn, reply, _opts(step), m)
        if self.after == "close":
            raise _Closed()
        conn.drain()

    def _respond(self, conn):
        if self.greeting is not None:
            conn.send(self.greeting)
        while True:
            line = conn.readline()
            for rx, reply, opts in self.rules:
                m = rx.search(line)
                if m is not None:
                    self._do(conn, reply, opts, m)
                    break
            else:
                if self.default is not None:
                    self._do(conn, self.default, {})


class _Conn:
    """One accepted connection: line reading with recording."""

    def __init__(self, server, sock):
        self.srv = server
        self.sock = sock
        self.sock.settimeout(0.1)
        self.buf = b""

    def wrap(self, ctx):
        self.sock.settimeout(None)
        self.sock.setblocking(True)
        s = ctx.wrap_socket(self.sock, server_side=True,
                            do_handshake_on_connect=False)
        s.settimeout(10)
        s.do_handshake()
        s.settimeout(0.1)
        with self.srv._lock:
            self.srv._socks.append(s)
        self.sock = s

    def _recv(self):
        while not self.srv._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError:
                raise _Closed()
            if not data:
                raise _Closed()
            with self.srv._lock:
                self.srv.received += data
            return data
        raise _Closed()

    def readline(self):
        while b"\n" not in self.buf:
            self.buf += self._recv()
        line, _, self.buf = self.buf.partition(b"\n")
        line = line.rstrip(b"\r")
        self.srv.lines.append(line.decode("latin-1"))
        return line

    def drain(self):
        while True:
            self.buf += self._recv()
            while b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                self.srv.lines.append(line.rstrip(b"\r").decode("latin-1"))

    def send(self, data):
        view = memoryview(data)
        while len(view):
            if self.srv._stop.is_set():
                raise _Closed()
            try:
                n = self.sock.send(view)
            except (socket.timeout, ssl.SSLWantWriteError):
                continue
            except OSError:
                raise _Closed()
            view = view[n:]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
