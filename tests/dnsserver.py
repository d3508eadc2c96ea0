"""Throwaway DNS servers on 127.0.0.1 for the tests of --configure and of
host name errors. mailfetch is pointed at one with the environment
variable MAILFETCH_NAMESERVER=127.0.0.1:PORT (mailfetch(1), ENVIRONMENT),
so no test asks the system's resolver anything.

Dnsmasq(srv=(), hosts=(), local=("example.test", "invalid"))
  runs Debian's dnsmasq as a child on a free port, with no upstream
  server, no /etc/hosts and no config file. srv: (name, target, port,
  priority, weight) tuples (--srv-host; target "." says the service is
  not offered); hosts: (name, address) tuples (--host-record). Names
  under a domain in local that it has no record for get NXDOMAIN.
  Attributes: port, log (its query log, read after stop()); env() gives
  the environment entry.

RawDNS(answer)
  a UDP responder in a thread that answers each query with the bytes
  answer(query) returns: for answers no real server sends (malformed
  ones). Tests may hand-craft DNS bytes; mailfetch must not.

Both are context managers, and stop() may be called twice.
"""

import socket
import struct
import subprocess
import tempfile
import threading
import time

import harness

HOST = "127.0.0.1"


def free_udp_port():
    """A port free for UDP and TCP on 127.0.0.1 a moment ago."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((HOST, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((HOST, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise harness.HarnessError("no free port for the DNS server")


def query_bytes(name, qtype=33, qid=0x1234):
    """A DNS query (RD set) for name and qtype (33 = SRV)."""
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode("ascii")
    return q + b"\0" + struct.pack("!HH", qtype, 1)


def _answers(port, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(query_bytes(name), (HOST, port))
        s.recvfrom(4096)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Dnsmasq:
    def __init__(self, srv=(), hosts=(), local=("example.test", "invalid")):
        self.srv = list(srv)
        self.hosts = list(hosts)
        self.local = list(local)
        self.port = None
        self.log = ""
        self._proc = None
        self._logf = None

    def start(self):
        exe = harness._which("dnsmasq")
        self.port = free_udp_port()
        argv = [exe, "--port=%d" % self.port, "--listen-address=" + HOST,
                "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--keep-in-foreground",
                "--pid-file", "--log-queries", "--log-facility=-"]
        for d in self.local:
            argv.append("--local=/%s/" % d)
        for name, target, port, prio, weight in self.srv:
            if target == ".":
                argv.append("--srv-host=%s" % name)
            else:
                argv.append("--srv-host=%s,%s,%d,%d,%d" % (
                    name, target, port, prio, weight))
        for name, addr in self.hosts:
            argv.append("--host-record=%s,%s" % (name, addr))
        self._logf = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._logf,
            stderr=subprocess.STDOUT, preexec_fn=harness._die_with_parent)
        end = time.monotonic() + harness.START_TIMEOUT
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                break
            if _answers(self.port, "ready.invalid"):
                return self
            time.sleep(0.05)
        self.stop()
        raise harness.HarnessError("dnsmasq did not start: %s" % self.log)

    def env(self):
        return {"MAILFETCH_NAMESERVER": "%s:%d" % (HOST, self.port)}

    def stop(self):
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._logf is not None:
            self._logf.seek(0)
            self.log = self._logf.read().decode("utf-8", "replace")
            self._logf.close()
            self._logf = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RawDNS:
    def __init__(self, answer):
        self.answer = answer
        self.port = None
        self.queries = []
        self._sock = None
        self._thread = None
        self._stop = False

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((HOST, 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self):
        while not self._stop:
            try:
                q, peer = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries.append(q)
            try:
                self._sock.sendto(self.answer(q), peer)
            except OSError:
                pass

    def env(self):
        return {"MAILFETCH_NAMESERVER": "%s:%d" % (HOST, self.port)}

    def stop(self):
        self._stop = True
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
