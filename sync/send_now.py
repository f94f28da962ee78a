""""Kirim sekarang": the operator's one-shot send, for the UI (the bootstrap wires it in).

When the sync daemon runs, it is woken (``SIGUSR1``, :mod:`sync.daemon_state`) and watched
while it sends: a second MQTT session under the kit's name would knock the daemon's off the
broker. When none runs, one uplink session sends what waits, exactly as ``rekam sync
--once`` does, on a connection to ``kit.db`` of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.kit import open_kit
from sync.daemon_state import CONNECTED, RETRYING, DaemonState, read_state, wake

DAEMON_WAIT = 30.0
"""How long "kirim sekarang" watches the woken sync daemon before reporting what it saw."""
DAEMON_POLL = 0.5


@dataclass(frozen=True)
class SyncResult:
    sent: int
    acked: int
    waiting: int
    error_code: str = ""  # "transport", "sync_stopped"; "" when none
    error_detail: str = ""


class SendNow:
    """Sends the kit's queue once. ``waiting`` counts what still waits (the caller's kit,
    under the caller's lock): the watch of a woken daemon polls it."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def daemon(self) -> DaemonState | None:
        """The running sync daemon's state, or None when none runs."""
        return read_state(self.home)

    def __call__(self, waiting: Callable[[], int], *, timeout: float = 60.0) -> SyncResult:
        """Raises :class:`~edge.errors.RekamError` when the send cannot even start (no
        broker, keys)."""
        from sync.settings import SyncSettings  # the MQTT client loads only when it sends
        from sync.uplink import Uplink

        waiting_before = waiting()
        woken_at = time.time()
        # The operator waits: a link that does not answer says so within one connect
        # timeout (15 s), not after every broker's and a whole send's.
        settings = SyncSettings.load(self.home, once_timeout=timeout).for_a_person()
        if wake(self.home) is not None:
            return self._watch_daemon(waiting, waiting_before, woken_at,
                                      min(timeout, DAEMON_WAIT, settings.connect_timeout))
        with open_kit(self.home) as kit:
            uplink = Uplink(kit, settings)

            async def run() -> None:
                await uplink.run(asyncio.Event(), once=True)

            asyncio.run(run())
            left = kit.outbox.counts().waiting
        stats = uplink.stats
        failed = stats.last_error and (left or stats.connects == 0)
        return SyncResult(sent=stats.packets_sent, acked=stats.acked, waiting=left,
                          error_code="transport" if failed else "",
                          error_detail=stats.last_error if failed else "")

    def _watch_daemon(self, waiting: Callable[[], int], waiting_before: int, woken_at: float,
                      timeout: float) -> SyncResult:
        """Watch the woken daemon work: done when nothing waits, failed when it had to go
        back to waiting for a retry after it was woken, else what it managed in time."""
        deadline = time.monotonic() + timeout
        while True:
            left = waiting()
            daemon = read_state(self.home)
            done = max(0, waiting_before - left)
            if daemon is None:
                code, detail = "sync_stopped", ""
            elif daemon.state == RETRYING and daemon.since > woken_at:
                code, detail = "transport", daemon.last_error
            else:
                code, detail = "", ""
            if time.monotonic() >= deadline and not code and daemon is not None \
                    and daemon.state != CONNECTED and not done:
                # woken, yet not connected within the connect timeout: HQ is not reached
                code, detail = "hq_unreachable", daemon.last_error
            if left == 0 or code or time.monotonic() >= deadline:
                return SyncResult(sent=done, acked=done, waiting=left, error_code=code,
                                  error_detail=detail)
            time.sleep(DAEMON_POLL)

