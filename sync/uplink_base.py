"""What every part of the kit's uplink shares (:mod:`sync.uplink` builds the whole from
:mod:`sync.uplink_send` and :mod:`sync.uplink_receive`): the link it talks over, its
statistics and back-off, a packet in flight, the uplink's state (:class:`UplinkBase`) and
what it says of itself to HQ: signed status (heartbeats), reports, and the purge of
acknowledged packets.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from edge import __version__, readiness
from edge.keys import b64
from edge.kit import Kit
from edge.kitdb import atomic
from sync import downlink
from sync.errors import PublishTimeout
from sync.mqtt import ConnectOptions, Incoming
from sync.protocol.status import Report, Status, sign_report, sign_status
from sync.protocol.topics import Channel, topic
from sync.sdnotify import Notifier
from sync.settings import SyncSettings
from sync.window import AckWindow

log = logging.getLogger("rekam.sync")

CONFIG_PROBLEMS_REPORTED = "config_problems_reported"



class Link(Protocol):
    """What the uplink needs of a connection (``sync.mqtt.Connection`` or a test fake)."""

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                      timeout: float | None = None) -> None: ...

    async def subscribe(self, topic: str, *, timeout: float | None = None) -> None: ...

    def messages(self) -> AsyncIterator[Incoming]: ...

    def queued(self) -> int: ...


Connector = Callable[[ConnectOptions], AbstractAsyncContextManager[Link]]


def default_connector() -> Connector:
    from sync.mqtt import connect

    return connect


class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random, so a
    hall full of kits coming back after an outage does not reconnect in lock-step."""

    def __init__(self, initial: float, maximum: float,
                 rng: Callable[[], float] = random.random) -> None:
        self.initial, self.maximum, self._rng = initial, maximum, rng
        self.attempt = 0

    def next(self) -> float:
        base = min(self.maximum, self.initial * float(2 ** min(self.attempt, 30)))
        self.attempt += 1
        return base / 2 + self._rng() * base / 2

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class SyncStats:
    connects: int = 0
    connect_failures: int = 0
    packets_sent: int = 0
    packets_resent: int = 0
    chunks_published: int = 0
    publish_timeouts: int = 0
    acked: int = 0
    repeated_acks: int = 0
    refused_acks: int = 0
    rejected_by_hq: int = 0
    purged: int = 0
    reports: int = 0
    bytes_published: int = 0
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Flight:
    """A packet handed to the broker in this process and not yet acked by HQ."""

    sha256: str
    count: int
    deadline: float = math.inf  # monotonic; set once every chunk was published
    wait: float = 0.0  # the ack wait it was sent under (see Uplink._ack_wait)
    early: bool = False  # its deadline was brought forward by HQ's "online" announcement
    started: float = 0.0  # monotonic: when this send began
    resumed: bool = False  # its first chunks went on an earlier connection
    sent: float = 0.0  # monotonic: when every chunk had its PUBACK (marked sent)
    done: set[int] = field(default_factory=set)  # chunk indexes with a PUBACK
    tasks: list[asyncio.Task[bool]] = field(default_factory=list)


def _unreachable(tried: dict[str, str], settings: SyncSettings) -> str:
    """One line for the technician: what was tried, what happened, what to check."""
    what = "; ".join(why if url in why else f"{url}: {why}" for url, why in tried.items())
    return (f"HQ not reached ({what}; connect timeout {settings.connect_timeout:.0f} s): "
            "check the kit's network (SIM, signal, cable), the broker address (rekam "
            "config show), the clock (rekam doctor) and that HQ's broker is up")


class _Finished(Exception):
    """--once: everything is acknowledged (or the time is up)."""


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Until ``event`` is set or ``timeout`` passes. Not ``wait_for(event.wait())``: on
    Python 3.11 that swallows a cancellation arriving in the loop turn the event is set
    in, so a session's task woken by an ack batch as the session ends could never end."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until every one has ended, cancelling again any that
    survived (a cancellation swallowed by a library must not hang the session)."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1.0)
    for task in tasks:
        _quiet(task)


def _quiet(task: asyncio.Task[Any]) -> None:
    """Retrieve a fire-and-forget task's outcome (no "exception never retrieved")."""
    if not task.cancelled():
        task.exception()



class UplinkBase:
    """The uplink's state, and its status, reports and purge (the sending, receiving and
    connection parts are in the subclasses that make up :class:`sync.uplink.Uplink`)."""

    def __init__(self, kit: Kit, settings: SyncSettings, *,
                 connector: Connector | None = None, notifier: Notifier | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.kit = kit
        # Everything this connection writes is recovered by the protocol if a power cut
        # undoes it (a lost "sent" or "acked" mark means one more send, which HQ acks as a
        # duplicate), so it skips the per-commit fsync: WAL keeps the order and the
        # consistency, and sealed packets stay durable (the enrolment's own connection
        # commits them with synchronous=FULL).
        kit.conn.execute("PRAGMA synchronous=NORMAL")
        self.settings = settings
        self.connector = connector or default_connector()
        self.notifier = notifier or Notifier()
        self.monotonic = monotonic
        self.stats = SyncStats()
        self._flights: dict[str, _Flight] = {}
        self._window = AckWindow(settings.window)  # packets awaiting HQ's ack at once
        self._resume: dict[str, int] = {}  # packet id → first chunk to send after a drop
        self._parked: dict[str, float] = {}  # rejected by HQ: not before this monotonic time
        self._changed: asyncio.Event | None = None
        self._ack_wait = settings.ack_timeout  # grows while HQ acks nothing
        self._woken = asyncio.Event()  # send_now() before run() still counts
        self._acks_in: asyncio.Event | None = None  # set by each batch of acks (--once)
        self._chunk_tasks: set[asyncio.Task[Any]] = set()
        self._last_purge = -math.inf
        self._session_id = ""
        self._to_mark: list[tuple[str, _Flight]] = []
        self._try_last_good = False
        self._mark_timer: asyncio.TimerHandle | None = None
        # HQ's "ingest online" announcement: packets sent before it and still unacked are
        # sent again at _early_at (monotonic); once such an early round has sent something,
        # the next only after HQ acked something (a crash-looping ingest must not make kits
        # re-send every time), unless it went out on a later connection than the
        # announcement came on (see _spend_early_round).
        self._early_armed = True
        self._early_connection = 0  # stats.connects when the announcement came
        self._early_at = math.inf
        self._early_cutoff: datetime | None = None  # the kit's clock when it arrived
        self._early_ids: set[str] = set()  # expired early, to send whatever their sent_at
        self._early_pending: set[str] = set()  # sent before the announcement, unacked
        # Monotonic, and the kit's clock, when this connection sent its SUBSCRIBE to HQ's
        # announcements: a retained one it brings was made before the broker had that
        # SUBSCRIBE, so what was begun after it went to the worker that made it.
        self._online_asked = -math.inf
        self._online_asked_clock: datetime | None = None
        self._last_session_end = -math.inf


    def _spend_early_round(self) -> None:
        """An early round sent something: the next announcement waits for an ack from HQ,
        unless this round went out on a later connection than its announcement came on.
        The kit reconnected meanwhile (the broker or the link went away), so the round may
        have gone to a restarted broker before any worker subscribed there: dropped, and
        the announcement that worker makes next must count (a crash-looping ingest does
        not drop the kits' connections, so it still costs one round)."""
        if self.stats.connects == self._early_connection:
            self._early_armed = False

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # --- status, reports, purge ----------------------------------------------------------

    def status(self, state: str) -> Status:
        kit = self.kit
        counts = kit.outbox.counts()
        oldest = kit.outbox.oldest_unacked()
        roster, pending = downlink.roster_versions(kit)
        summary = readiness.load(kit.paths.root)
        worklist_key = kit.worklist_public_key()
        return Status(
            device_id=kit.device_id, state=state, at=kit.clock(),
            software_version=__version__, queue_depth=counts.waiting,
            oldest_queued=None if oldest is None else oldest.isoformat(), outbox=counts,
            free_disk_mb=kit.free_disk_mb(), roster_version=roster,
            roster_expires_at=kit.state.get("roster_expires_at"),
            pending_worklist_version=pending,
            config_version=int(kit.state.get(downlink.CONFIG_VERSION) or 0),
            session=self._session_id, audit_head=kit.audit.head_record(),
            readiness=None if summary is None else summary.to_dict(),
            worklist_key=None if worklist_key is None else b64(worklist_key.raw),
            training=kit.config.training,
        )

    async def _publish_status(self, link: Link, state: str, *,
                              timeout: float | None = None) -> None:
        payload = sign_status(self.status(state), self.kit.device_key())
        await link.publish(topic(self.kit.device_id, Channel.STATUS), payload, timeout=timeout)

    async def _publish_report(self, link: Link, report: Report) -> None:
        payload = sign_report(report, self.kit.device_key())
        try:
            await link.publish(topic(self.kit.device_id, Channel.REPORT), payload)
            self.stats.reports += 1
        except PublishTimeout as exc:
            log.info("%s", exc)

    async def _beat(self, link: Link) -> None:
        try:
            await self._publish_status(link, "online")
        except PublishTimeout as exc:  # a busy slow link: the next one will do
            log.info("%s", exc)

    def config_problems_report(self) -> Report | None:
        """Settings that were out of range in config.json and fell back to their defaults,
        once per distinct set, for HQ (``up/report``, subject ``config``)."""
        problems = "; ".join(self.kit.config.problems)
        if not problems or self.kit.state.get(CONFIG_PROBLEMS_REPORTED) == problems:
            return None
        return Report(self.kit.device_id, self.kit.clock(), "config", "defaulted",
                      detail=problems)

    async def _heartbeat(self, link: Link) -> None:
        await self._beat(link)  # beside the first packets, not before them
        problems = self.config_problems_report()
        if problems is not None:
            await self._publish_report(link, problems)
            with atomic(self.kit.conn):
                self.kit.state.set(CONFIG_PROBLEMS_REPORTED, problems.detail)
        while True:
            self.kit.wipe_roster_if_due()  # HQ's grace after the worklist expired is over
            report = downlink.unreported_apply_result(self.kit)
            if report is not None:
                await self._publish_report(link, report)
                downlink.mark_reported(self.kit)
            if self.monotonic() - self._last_purge >= self.settings.purge_every:
                self.purge()
            await asyncio.sleep(self.settings.heartbeat)
            await self._beat(link)

    def purge(self, *, on_ack: bool = False) -> int:
        self._last_purge = self.monotonic()
        grace = timedelta(hours=self.kit.config.ack_grace_hours)
        purged = self.kit.outbox.purge_acked(grace=grace)
        if purged:  # with no grace, each batch of acks purges: one line each is noise
            log.log(logging.DEBUG if on_ack else logging.INFO,
                    "purged %d acknowledged packets (grace %s)", purged, grace)
        self.stats.purged += purged
        return purged
