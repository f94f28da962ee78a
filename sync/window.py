"""How many packets a kit has awaiting HQ's ack at once: a window that adapts to HQ's queue.

One kit on a 3G/4G link needs several packets in flight to fill it (measured with
``bench/bench_sync_fieldlink.py``: on 4G a window of 8 moves 1.5 times what a window of 2
does); hundreds of kits sending to one HQ at once need few each, because everything a kit
has in flight waits in the broker's queue in front of ingest, and a crash of any part of HQ
costs the fleet the time to work through that queue again. The kit tells the two apart by
how long HQ took to ack a packet once its last chunk reached the broker: that is HQ's queue
(plus one trip of the ack), not the kit's link.

- An ack within ``TARGET`` seconds: the window grows by one (up to the configured
  ``window``), so a lone kit reaches its full window after a few packets.
- An ack that took longer: HQ is queueing; the window halves (to no less than one), at most
  once every ``TARGET`` seconds, since the acks of one round arrive together.
- A packet whose ack timeout passed: HQ is down or cut off; the window falls to one, and
  the back-off of the ack timeout (sync/PROTOCOL.md) keeps a silent HQ from being flooded.
"""

from __future__ import annotations

import math

TARGET = 2.0  # seconds from a packet's last chunk at the broker to HQ's ack: HQ keeps up
INITIAL = 2  # packets a kit starts with, before it has heard from HQ


class AckWindow:
    """The number of packets awaiting HQ's ack a kit may have (see the module)."""

    def __init__(self, maximum: int, *, target: float = TARGET, initial: int = INITIAL) -> None:
        self.maximum = max(1, maximum)
        self.target = target
        self._size = float(min(max(1, initial), self.maximum))
        self._halved_at = -math.inf

    @property
    def size(self) -> int:
        return max(1, int(self._size))

    def acked(self, waited: float, now: float) -> None:
        """HQ acked a packet ``waited`` seconds after its last chunk reached the broker."""
        if waited <= self.target:
            self._size = min(float(self.maximum), self._size + 1.0)
        elif now - self._halved_at >= self.target:
            self._size = max(1.0, self._size / 2)
            self._halved_at = now

    def timed_out(self, now: float) -> None:
        """No ack came for a packet within its ack timeout."""
        self._size = 1.0
        self._halved_at = now
