#!/usr/bin/env python3
"""A WAN in front of a local server: a TCP proxy that delays every chunk
by half a round-trip time in each direction, keeping order, optionally
at a limited bandwidth, and counts the round trips the client waits for.

    python3 bench/delayproxy.py --to HOST:PORT [--listen HOST:PORT]
        [--rtt MS] [--rate MBIT] --log FILE

It prints "port N" on stdout once it listens (port 0 picks a free one),
then serves until killed. For every connection it appends two JSON lines
to FILE: {"ev": "open", "id": N} at accept and {"ev": "close", "id": N,
"rt": ..., "up": bytes, "down": bytes, "secs": ...} when both directions
are done.

The link model (per direction): a chunk read at time t leaves at
max(t, link free) and is delivered at leave + len * 8 / rate + rtt/2 (the
link is busy for len * 8 / rate; without --rate it is never busy). Order
is kept. The kernel completes the client's connect at once, so the TCP
handshake is emulated: the proxy opens its connection to the server
1.5 RTT after accepting (the SYN's way there, the SYN-ACK's way back and
the ACK's way there), and holds the client's data until then; the
server's first bytes reach the client 2 RTT after connect(), as on a real
link. (Linux netem would do all of this in the kernel; this kernel has
no sch_netem.)

Round trips waited for, per connection: 1 for the TCP handshake, plus 1
for every "turn": a moment where the client sends (or closes) after it
has received data since its last send, and the proxy holds nothing more
for it (every byte the server sent so far has been delivered). A client
that pipelines, or refills a window while replies are still coming,
makes no turn; a client that stops and waits for the server makes one
per stop. So a plain serial exchange counts one per command, TLS 1.3
counts one for the handshake, a client that closes after sending LOGOUT
without waiting for the reply counts none for it, and one that waits
for the reply counts one.
"""

import argparse
import asyncio
import json
import os
import socket
import sys
import time

CHUNK = 16384


class Direction:
    """One direction of a connection: a queue of (deliver at, bytes)
    and the link's state."""

    def __init__(self, delay, rate):
        self.delay = delay
        self.rate = rate
        self.free = 0.0
        self.queue = asyncio.Queue()
        self.pending = 0  # chunks queued, not yet written
        self.nbytes = 0

    def put(self, data, not_before=0.0):
        now = time.monotonic()
        leave = max(now, self.free, not_before)
        if self.rate:
            self.free = leave + len(data) * 8 / self.rate
            at = self.free + self.delay
        else:
            at = leave + self.delay
        self.pending += 1
        self.nbytes += len(data)
        self.queue.put_nowait((at, data))


class Conn:
    def __init__(self, proxy, cid, creader, cwriter):
        self.p = proxy
        self.id = cid
        self.cr, self.cw = creader, cwriter
        self.up = Direction(proxy.delay, proxy.rate)
        self.down = Direction(proxy.delay, proxy.rate)
        self.rt = 1  # the TCP handshake
        self.recv_since_send = False
        self.t0 = time.monotonic()

    def client_turn(self):
        """The client sends or closes: a turn if it received something
        since its last send and nothing more is on its way to it."""
        if self.recv_since_send and self.down.pending == 0:
            self.rt += 1
        self.recv_since_send = False

    async def run(self):
        self.p.log({"ev": "open", "id": self.id})
        connect_at = self.t0 + 3 * self.p.delay
        tasks = [asyncio.create_task(self.pump_client(connect_at))]
        try:
            await asyncio.sleep(max(0.0, connect_at - time.monotonic()))
            sr, sw = await asyncio.open_connection(*self.p.target)
            sw.get_extra_info("socket").setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tasks += [asyncio.create_task(self.deliver(self.up, sw, False)),
                      asyncio.create_task(self.pump_server(sr)),
                      asyncio.create_task(self.deliver(self.down, self.cw,
                                                       True))]
            await asyncio.gather(*tasks, return_exceptions=True)
            sw.close()
        except OSError:
            for t in tasks:
                t.cancel()
        self.cw.close()
        self.p.log({"ev": "close", "id": self.id, "rt": self.rt,
                    "up": self.up.nbytes, "down": self.down.nbytes,
                    "secs": round(time.monotonic() - self.t0, 4)})

    async def pump_client(self, connect_at):
        try:
            while True:
                data = await self.cr.read(CHUNK)
                self.client_turn()
                if not data:
                    break
                self.up.put(data, connect_at)
        except OSError:
            pass
        self.up.put(b"")

    async def pump_server(self, sr):
        try:
            while True:
                data = await sr.read(CHUNK)
                if not data:
                    break
                self.down.put(data)
        except OSError:
            pass
        self.down.put(b"")

    async def deliver(self, d, writer, to_client):
        """Write d's chunks at their time; b"" half-closes."""
        broken = False
        while True:
            at, data = await d.queue.get()
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                d.pending -= 1
                if not broken:
                    try:
                        writer.write_eof()
                    except (OSError, RuntimeError):
                        pass
                return
            if not broken:
                try:
                    writer.write(data)
                    await writer.drain()
                except (OSError, RuntimeError):
                    broken = True
            d.pending -= 1
            if to_client and not broken:
                self.recv_since_send = True


class Proxy:
    def __init__(self, target, rtt_ms, rate_mbit, logpath):
        self.target = target
        self.delay = rtt_ms / 2000.0
        self.rate = rate_mbit * 1e6 if rate_mbit else 0
        self.logf = open(logpath, "a", buffering=1)
        self.next_id = 0

    def log(self, rec):
        self.logf.write(json.dumps(rec) + "\n")

    async def handle(self, r, w):
        self.next_id += 1
        w.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await Conn(self, self.next_id, r, w).run()


def hostport(s):
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


async def amain(a):
    p = Proxy(hostport(a.to), a.rtt, a.rate, a.log)
    host, port = hostport(a.listen)
    srv = await asyncio.start_server(p.handle, host, port)
    sys.stdout.write("port %d\n" % srv.sockets[0].getsockname()[1])
    sys.stdout.flush()
    async with srv:
        await srv.serve_forever()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--to", required=True, help="the server, HOST:PORT")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--rtt", type=float, default=50.0,
                    help="round-trip time in ms (default 50)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="bandwidth per direction in Mbit/s (0: no limit)")
    ap.add_argument("--log", default=os.devnull,
                    help="append a JSON line per connection event here")
    a = ap.parse_args(argv)
    try:
        asyncio.run(amain(a))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
