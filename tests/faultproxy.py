"""A loopback TCP proxy that injects faults, for tests/test_faults.py.

FaultProxy(host, port) listens on 127.0.0.1 (an ephemeral port, .port)
and forwards each accepted connection to host:port, in a thread running
an asyncio loop. Byte counts are per direction: "c2s" (client to server)
and "s2c" (server to client). Before a run, set one fault with
set_fault(); it applies to every connection accepted after that:

  set_fault("drop", direction, n, rst=False)
      forward exactly the first n bytes of that direction, then close
      both sides at once (with rst, by a TCP reset: SO_LINGER 0).
  set_fault("stall", direction, n)
      forward exactly n bytes of that direction, then forward nothing
      more that way and keep both sides open (the other direction goes
      on; what is sent that way is read and dropped), until the client
      gives up.
  set_fault("drip", "s2c", chunk=7, delay=0.0002)
      forward the server's bytes in pieces of 1 to chunk bytes, each
      written alone (TCP_NODELAY) after delay seconds (0: at once, but
      still one write each).
  set_fault(None)
      pass everything through.

blackhole() is not a fault of the connections to come but of those open
now, as a network that went away under them (a suspend, a lost Wi-Fi):
from then on nothing more is forwarded on them either way and the
proxy closes nothing of its own accord: what either side sends is read
and dropped, a half-close is not passed on (only when the client closes
does the proxy end its connection to the server too). Connections
accepted later pass (with the fault set, if any). It returns how many connections it cut off; open_conns() says
how many are open.

Attributes: total {"c2s": n, "s2c": n} (all connections, since the last
reset_counts()), conns (connections accepted), streams (with
record=True: per connection {"c2s": bytes, "s2c": bytes} as forwarded),
faults_fired (connections where the fault took effect). Use as a
context manager, or start() and stop().

Only the Python standard library; only loopback addresses.
"""

import asyncio
import random
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, host, port, record=False):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("FaultProxy forwards to loopback only")
        self.target = (host, port)
        self.host = "127.0.0.1"
        self.port = None
        self.record = record
        self.streams = []
        self.total = {"c2s": 0, "s2c": 0}
        self.conns = 0
        self.faults_fired = 0
        self.fired_at = []  # time.monotonic() of each fault, in order
        self._fault = (None, None, 0, {})
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._server = None
        self._writers = set()
        self._open = []  # per open connection: {"hole": False, ...}
        self._rng = random.Random(7)

    # --- control --------------------------------------------------------

    def set_fault(self, kind=None, direction="s2c", n=0, **opts):
        if kind not in (None, "drop", "stall", "drip"):
            raise ValueError("unknown fault %r" % kind)
        if direction not in ("c2s", "s2c"):
            raise ValueError("unknown direction %r" % direction)
        with self._lock:
            self._fault = (kind, direction, int(n), dict(opts))

    def blackhole(self):
        with self._lock:
            for st in self._open:
                st["hole"] = True
            return len(self._open)

    def open_conns(self):
        """How many accepted connections are not closed yet."""
        with self._lock:
            return len(self._open)

    def reset_counts(self):
        with self._lock:
            self.total = {"c2s": 0, "s2c": 0}
            self.streams = []
            self.conns = 0
            self.faults_fired = 0
            self.fired_at = []

    def start(self):
        ready = threading.Event()
        err = []

        def main():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, 0))
                self.port = self._server.sockets[0].getsockname()[1]
            except Exception as e:  # reported to start()
                err.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(10)
        if err:
            raise err[0]
        if self.port is None:
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self):
        if self._loop is None:
            return

        async def shutdown():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    def __enter__(self):
        if self.port is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- forwarding -----------------------------------------------------

    async def _handle(self, creader, cwriter):
        try:
            await self._forward(creader, cwriter)
        except asyncio.CancelledError:
            # stop(): the connection is aborted; nothing to report.
            pass

    async def _forward(self, creader, cwriter):
        with self._lock:
            kind, fdir, limit, opts = self._fault
            self.conns += 1
            rec = {"c2s": bytearray(), "s2c": bytearray()}
            if self.record:
                self.streams.append(rec)
        self._writers.add(cwriter)
        try:
            sreader, swriter = await asyncio.open_connection(*self.target)
        except OSError:
            cwriter.transport.abort()
            self._writers.discard(cwriter)
            return
        self._writers.add(swriter)
        for w in (cwriter, swriter):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = {"done": asyncio.Event(), "sent": {"c2s": 0, "s2c": 0},
              "hole": False}
        with self._lock:
            self._open.append(st)

        def close_all(rst):
            for w in (cwriter, swriter):
                if rst:
                    sock = w.get_extra_info("socket")
                    if sock is not None:
                        try:
                            sock.setsockopt(socket.SOL_SOCKET,
                                            socket.SO_LINGER,
                                            struct.pack("ii", 1, 0))
                        except OSError:
                            pass
                    w.transport.abort()
                else:
                    w.close()
            st["done"].set()

        async def pump(reader, writer, d):
            stalled = False
            try:
                while True:
                    data = await reader.read(65536)
                    with self._lock:
                        hole = st["hole"]
                    if not data:
                        # EOF: pass the half-close on, then end.
                        if not stalled and not hole:
                            try:
                                writer.write_eof()
                            except (OSError, RuntimeError):
                                pass
                        break
                    if stalled or hole:
                        continue
                    if kind in ("drop", "stall") and d == fdir:
                        left = limit - st["sent"][d]
                        if len(data) >= left:
                            await self._send(writer, data[:left], d, st,
                                             rec)
                            with self._lock:
                                self.faults_fired += 1
                                self.fired_at.append(time.monotonic())
                            if kind == "drop":
                                close_all(opts.get("rst", False))
                                return
                            # Forward nothing more this way; what the
                            # sender still sends is read and dropped,
                            # so its closing is seen.
                            stalled = True
                            continue
                    if kind == "drip" and d == fdir:
                        await self._drip(writer, data, d, st, rec, opts)
                    else:
                        await self._send(writer, data, d, st, rec)
            except (OSError, asyncio.CancelledError, RuntimeError):
                pass
            finally:
                if d == "c2s" and not st["done"].is_set():
                    # The client went away: end the whole connection.
                    close_all(False)

        t1 = asyncio.ensure_future(pump(creader, swriter, "c2s"))
        t2 = asyncio.ensure_future(pump(sreader, cwriter, "s2c"))
        await st["done"].wait()
        with self._lock:
            self._open.remove(st)
        for t in (t1, t2):
            t.cancel()
        await asyncio.gather(t1, t2, return_exceptions=True)
        for w in (cwriter, swriter):
            try:
                w.close()
            except Exception:
                pass
            self._writers.discard(w)

    async def _send(self, writer, data, d, st, rec):
        if not data:
            return
        writer.write(data)
        await writer.drain()
        st["sent"][d] += len(data)
        with self._lock:
            self.total[d] += len(data)
        if self.record:
            rec[d] += data

    async def _drip(self, writer, data, d, st, rec, opts):
        chunk = max(1, int(opts.get("chunk", 7)))
        delay = float(opts.get("delay", 0.0002))
        i = 0
        while i < len(data):
            k = self._rng.randint(1, chunk)
            await self._send(writer, data[i:i + k], d, st, rec)
            i += k
            # Even without a delay, yield: each piece goes out alone.
            await asyncio.sleep(delay)
