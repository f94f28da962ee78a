"""A user-space stand-in for ``tc qdisc ... netem delay D loss L rate R limit N``.

Some kernels (this project's development machines among them) ship without ``sch_netem``.
This process owns two TUN devices, moves each into its network namespace, and relays every
IP packet that one end sends to the other end, shaping each direction on its own:

1. **loss**: each packet is dropped with probability L (Bernoulli, as netem does on
   enqueue), from a seeded generator so that a run can be repeated;
2. **queue**: a packet arriving while N packets are already on their way is tail-dropped
   (netem's ``limit``, 1000 by default: a 3G/4G modem's deep buffer);
3. **rate**: packets leave one after another at R bit/s of their IP length;
4. **delay**: each packet arrives D ms after it has left.

The order within a direction is kept (a constant delay after a FIFO serialiser), so TCP
sees loss and queueing, never reordering. It prints ``READY`` once both devices are in
their namespaces, and on SIGTERM/SIGINT writes its counters as JSON (to ``--stats`` and
stdout) and exits; the TUN devices vanish with it. Normally started by ``fieldlink.py up``.
Needs root (``/dev/net/tun`` and ``ip link set ... netns``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fcntl
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65535


@dataclass(frozen=True)
class LinkShape:
    """What the link does to every packet, the same each way."""

    delay_ms: float = 150.0
    loss_pct: float = 2.0
    rate_bps: float = 2_000_000.0
    limit: int = 1000

    def __post_init__(self) -> None:
        if self.delay_ms < 0 or not 0 <= self.loss_pct <= 100:
            raise ValueError("delay must be >= 0 ms and loss between 0 and 100 %")
        if self.rate_bps <= 0 or self.limit < 1:
            raise ValueError("rate must be > 0 bit/s and the queue limit >= 1 packet")


@dataclass
class Counters:
    received: int = 0
    received_bytes: int = 0
    delivered: int = 0
    delivered_bytes: int = 0
    dropped_loss: int = 0
    dropped_queue: int = 0
    dropped_write: int = 0
    max_queued: int = 0


@dataclass
class Direction:
    """One way of the link: packets read from one TUN device, shaped, written to the other."""

    name: str
    out_fd: int
    shape: LinkShape
    rng: random.Random
    loop: asyncio.AbstractEventLoop
    counters: Counters = field(default_factory=Counters)
    _queue: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    _last_departure: float = 0.0
    _timer: asyncio.TimerHandle | None = None

    def offer(self, packet: bytes) -> None:
        c = self.counters
        c.received += 1
        c.received_bytes += len(packet)
        if self.shape.loss_pct and self.rng.random() * 100 < self.shape.loss_pct:
            c.dropped_loss += 1
            return
        if len(self._queue) >= self.shape.limit:
            c.dropped_queue += 1
            return
        now = self.loop.time()
        departure = max(now, self._last_departure) + len(packet) * 8 / self.shape.rate_bps
        self._last_departure = departure
        self._queue.append((departure + self.shape.delay_ms / 1000, packet))
        c.max_queued = max(c.max_queued, len(self._queue))
        if self._timer is None:
            self._timer = self.loop.call_at(self._queue[0][0], self._deliver_due)

    def _deliver_due(self) -> None:
        self._timer = None
        now = self.loop.time()
        while self._queue and self._queue[0][0] <= now:
            _, packet = self._queue.popleft()
            try:
                os.write(self.out_fd, packet)
            except OSError:  # the far end is down or its queue is full: the packet is lost
                self.counters.dropped_write += 1
                continue
            self.counters.delivered += 1
            self.counters.delivered_bytes += len(packet)
        if self._queue:
            self._timer = self.loop.call_at(self._queue[0][0], self._deliver_due)


def open_tun(name: str) -> int:
    """A non-persistent TUN device (raw IP, no packet-info header): gone when fd closes."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def _read_into(fd: int, direction: Direction) -> None:
    for _ in range(64):  # a burst at a time, then let the timers run
        try:
            packet = os.read(fd, MAX_PACKET)
        except (BlockingIOError, OSError):
            return
        direction.offer(packet)


async def relay(ns_a: str, dev_a: str, ns_b: str, dev_b: str, shape: LinkShape, seed: int,
                stats: Path | None) -> None:
    loop = asyncio.get_running_loop()
    fd_a, fd_b = open_tun(dev_a), open_tun(dev_b)
    for dev, ns in ((dev_a, ns_a), (dev_b, ns_b)):
        subprocess.run(["ip", "link", "set", dev, "netns", ns], check=True)
    rng = random.Random(seed)
    a_to_b = Direction(f"{ns_a}->{ns_b}", fd_b, shape, rng, loop)
    b_to_a = Direction(f"{ns_b}->{ns_a}", fd_a, shape, rng, loop)
    loop.add_reader(fd_a, _read_into, fd_a, a_to_b)
    loop.add_reader(fd_b, _read_into, fd_b, b_to_a)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    print("READY", flush=True)
    await stop.wait()
    report = {"shape": asdict(shape), "seed": seed,
              "uptime_s": round(time.monotonic() - started, 1),
              a_to_b.name: asdict(a_to_b.counters), b_to_a.name: asdict(b_to_a.counters)}
    text = json.dumps(report, indent=1)
    if stats is not None:
        stats.write_text(text + "\n")
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("ns_a")
    ap.add_argument("dev_a")
    ap.add_argument("ns_b")
    ap.add_argument("dev_b")
    ap.add_argument("--delay", type=float, default=LinkShape.delay_ms, help="ms each way")
    ap.add_argument("--loss", type=float, default=LinkShape.loss_pct, help="%% each way")
    ap.add_argument("--rate", type=float, default=LinkShape.rate_bps, help="bit/s each way")
    ap.add_argument("--limit", type=int, default=LinkShape.limit, help="packets queued")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--stats", type=Path)
    args = ap.parse_args(argv)
    try:
        shape = LinkShape(args.delay, args.loss, args.rate, args.limit)
    except ValueError as e:
        print(f"linkemu: {e}", file=sys.stderr)
        return 2
    asyncio.run(relay(args.ns_a, args.dev_a, args.ns_b, args.dev_b, shape, args.seed,
                      args.stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
