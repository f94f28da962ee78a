"""The kit's store-and-forward uplink: ``rekam sync`` (daemon) and ``rekam sync --once``.

One loop per process::

    connect (fresh client, mTLS, persistent session, last will "offline")
      ├─ receiver:  down/ack → outbox acked (signed ack only); down/worklist → staged;
      │             down/config → applied; each result reported on up/report
      ├─ sender:    outbox oldest first (streamed, a window at a time) → chunk frames on
      │             up/packet, at most ``max_inflight`` publishes awaiting PUBACK and
      │             ``window`` packets awaiting HQ's ack; marked sent when published;
      │             sent again when no ack came within ``ack_timeout``
      └─ heartbeat: signed status on up/status; purge of acked packets after the grace
    on any transport error: drop the client, back off exponentially with jitter, repeat.

The outbox in ``kit.db`` is the only durable queue (paho keeps nothing across restarts),
so a SIGKILL at any point loses nothing: sealed packets are sent, sent-but-unacked ones are
sent again after the ack timeout, and HQ de-duplicates by packet id and hash. Within a
process, a packet interrupted by a disconnect resumes from its first chunk without a PUBACK.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from edge import __version__, readiness
from edge.errors import InvalidInput, NotFound, RekamError
from edge.keys import b64
from edge.kit import Kit
from edge.kitdb import atomic
from edge.outbox import OutboxEntry, PacketState
from sync import downlink
from sync.errors import (
    ConnectFailed,
    HqUnreachable,
    NotAuthorized,
    PublishTimeout,
    TransportError,
)
from sync.mqtt import BrokerAddress, ConnectOptions, Incoming, TlsFiles
from sync.protocol import (
    ONLINE_TOPIC,
    Channel,
    Chunk,
    Report,
    Status,
    kit_subscription,
    parse_topic,
    sign_report,
    sign_status,
    split_packet,
    topic,
    verify_online,
)
from sync.sdnotify import Notifier
from sync.settings import SyncSettings

log = logging.getLogger("rekam.sync")

LAST_GOOD_BROKER = "broker_last_good"
HQ_ONLINE_SINCE = "hq_online_since"  # the last "ingest online since" HQ announced
HQ_BROKER_SINCE = "hq_broker_since"  # ... and when it said the broker had started
CONFIG_PROBLEMS_REPORTED = "config_problems_reported"
MARK_SENT_DELAY = 0.02  # seconds: packets published within it are marked sent together


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


class Uplink:
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
        # re-send every time).
        self._early_armed = True
        self._early_at = math.inf
        self._early_cutoff: datetime | None = None  # the kit's clock when it arrived
        self._early_ids: set[str] = set()  # expired early, to send whatever their sent_at
        self._early_pending: set[str] = set()  # sent before the announcement, unacked
        self._session_began = -math.inf  # monotonic, and the kit's clock, when this
        self._session_clock: datetime | None = None  # connection was made
        self._last_session_end = -math.inf

    # --- the connection loop -----------------------------------------------------------------

    def broker_url(self) -> str:
        """The configured broker; after it failed to connect, every other attempt goes to
        the last broker this kit reached, if that was another one. So a wrong broker pushed
        by HQ (or typed at the kit) cannot cut the kit off from the HQ that can fix it."""
        configured = self.kit.config.broker
        last_good = self.kit.state.get(LAST_GOOD_BROKER) or ""
        if self._try_last_good and last_good and last_good != configured:
            return last_good
        return configured

    def connect_options(self) -> ConnectOptions:
        paths, s = self.kit.paths, self.settings
        address = BrokerAddress.parse(self.broker_url())
        self._session_id = self.kit.clock().isoformat()
        will = Status(self.kit.device_id, "offline", self.kit.clock(),
                      software_version=__version__, session=self._session_id,
                      audit_head=self.kit.audit.head_record(),
                      training=self.kit.config.training)
        return ConnectOptions(
            address=address, client_id=self.kit.device_id,
            tls=TlsFiles(paths.ca_cert, paths.device_cert, paths.device_tls_key)
            if address.tls else None,
            persistent=True, session_expiry=s.session_expiry, keepalive=s.keepalive,
            connect_timeout=s.connect_timeout, publish_timeout=s.publish_timeout,
            will=(topic(self.kit.device_id, Channel.STATUS),
                  sign_status(will, self.kit.device_key())),
            max_inflight=s.max_inflight, tcp_congestion=s.tcp_congestion,
        )

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> SyncStats:
        """Until ``stop`` is set (daemon), or until the outbox is acknowledged or
        ``once_timeout`` passes (``once``)."""
        self._changed = asyncio.Event()
        self._acks_in = asyncio.Event()
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        began = self.monotonic()
        give_up = began + self.settings.once_timeout if once else math.inf
        tried: dict[str, str] = {}  # broker URL -> why it could not be reached
        watchdog = asyncio.create_task(self._watchdog())
        self.notifier.ready("starting")
        try:
            while not stop.is_set():
                started = self.monotonic()
                finished = False
                url = ""
                try:
                    url = self.broker_url()
                    options = self.connect_options()
                    async with self.connector(options) as link:
                        self._session_began = self.monotonic()
                        self._session_clock = self.kit.clock()
                        self.stats.connects += 1
                        self._reached(url)
                        self.notifier.connected(str(options.address))
                        try:
                            finished = await self._session(link, stop,
                                                           give_up if once else None)
                        finally:
                            self._last_session_end = self.monotonic()
                except TransportError as exc:
                    if isinstance(exc, ConnectFailed):
                        self.stats.connect_failures += 1
                        self._try_last_good = not self._try_last_good
                        tried.setdefault(url, str(exc))
                    self.stats.last_error = str(exc)
                    log.warning("%s", exc)
                    if once and isinstance(exc, ConnectFailed) and not self.stats.connects:
                        # Someone is waiting: try each broker once, within one connect
                        # timeout in all (a silent one has used it up), then say why.
                        spent = self.monotonic() - began
                        if (self.broker_url() not in tried
                                and spent < self.settings.connect_timeout):
                            continue
                        raise HqUnreachable(_unreachable(tried, self.settings)) from None
                except InvalidInput as exc:  # no or bad broker URL: wait for a config change
                    if once:
                        raise
                    self.stats.last_error = str(exc)
                    log.error("%s", exc)
                finally:
                    self._end_session()
                if finished or stop.is_set() or self.monotonic() >= give_up:
                    break
                if self.monotonic() - started > 30:
                    backoff.reset()
                delay = backoff.next()
                if self.monotonic() - self._last_session_end < self.settings.reconnect_fast_for:
                    # The broker (or the link) went away moments ago: it is usually back
                    # within seconds (a restart), so look often for a while; a kit kept
                    # out for long (no coverage, a refused certificate) backs off to
                    # backoff_max, so a metered modem is not spent on handshakes.
                    delay = min(delay, self.settings.reconnect_fast_max)
                delay = min(delay, max(0.0, give_up - self.monotonic()))
                self.notifier.retrying(delay, self.stats.last_error)
                log.info("reconnecting in %.1f s", delay)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_or_wake(stop), timeout=delay)
                if self._woken.is_set():  # "kirim sekarang": try now, and soon again
                    self._woken.clear()
                    backoff.reset()
        finally:
            watchdog.cancel()
            self._mark_sent()  # packets published in the last moments
            self.notifier.stopping()
        self.purge()
        return self.stats

    def _reached(self, url: str) -> None:
        self._try_last_good = False
        if url and self.kit.state.get(LAST_GOOD_BROKER) != url:
            with atomic(self.kit.conn):
                self.kit.state.set(LAST_GOOD_BROKER, url)
        if url != self.kit.config.broker:
            log.warning("the configured broker %s did not answer; connected to %s, the last "
                        "broker that worked", self.kit.config.broker, url)

    def send_now(self) -> None:
        """Send now (``SIGUSR1``, the operator's "kirim sekarang"): look at the outbox at
        once, and when offline, end the wait before reconnecting."""
        self._woken.set()
        self._wake()

    async def _stop_or_wake(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if not interval:
            return
        while True:  # pinged from the event loop: a wedged loop stops the pings
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def _session(self, link: Link, stop: asyncio.Event, give_up: float | None) -> bool:
        # The SUBSCRIBE goes out first, but nothing waits for its SUBACK: the first chunks
        # follow it in the same round trip (a refused subscription still ends the session).
        # Nothing is lost meanwhile: the client writes packets in the order they are made,
        # and the broker handles one connection's packets in order, so the subscription
        # exists before any of our packets reaches HQ, hence before any ack; and the
        # persistent session holds it from the last connection anyway.
        tasks = [asyncio.create_task(self._subscribe(link), name="subscribe"),
                 asyncio.create_task(self._receiver(link), name="receiver"),
                 asyncio.create_task(self._sender(link), name="sender"),
                 asyncio.create_task(self._heartbeat(link), name="heartbeat")]
        if give_up is not None:
            tasks.append(asyncio.create_task(self._until_done(give_up), name="once"))
        stopper = asyncio.create_task(stop.wait(), name="stop")
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel_all([*tasks, stopper])
        for task in done:
            if task is stopper:
                continue
            exc = task.exception()
            if isinstance(exc, _Finished):
                await self._goodbye(link)
                return True
            if exc is not None:
                raise exc
        await self._goodbye(link)
        return False

    async def _subscribe(self, link: Link) -> None:
        await link.subscribe(kit_subscription(self.kit.device_id))
        try:  # the retained announcement arrives at once, and each new one as it is made
            await link.subscribe(ONLINE_TOPIC)
        except NotAuthorized as exc:  # a broker ACL older than the announcement
            log.warning("%s (HQ's restarts then cost the ack timeout)", exc)
        await asyncio.Event().wait()  # only an error ends the session from here

    async def _goodbye(self, link: Link) -> None:
        """A clean stop sends no last will: say "offline" ourselves.

        Without waiting for its PUBACK (a round trip on a slow link): the status is handed
        to the client before the DISCONNECT that follows it on the same TLS stream, so the
        broker has it before it sees the DISCONNECT. The task is dropped in _end_session."""
        task = asyncio.create_task(self._publish_status(link, "offline", timeout=3))
        self._chunk_tasks.add(task)
        task.add_done_callback(self._chunk_tasks.discard)
        task.add_done_callback(_quiet)
        await asyncio.sleep(0)  # the task's first step queues the PUBLISH

    def _end_session(self) -> None:
        for task in self._chunk_tasks:
            task.cancel()
        self._chunk_tasks.clear()
        for packet_id, flight in list(self._flights.items()):
            if flight.deadline == math.inf:  # interrupted mid-packet: resume there
                first_missing = next((i for i in range(flight.count) if i not in flight.done),
                                     flight.count)
                self._resume[packet_id] = first_missing
                del self._flights[packet_id]

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # --- sending --------------------------------------------------------------------------

    def _expire(self) -> None:
        now = self.monotonic()
        for packet_id, flight in list(self._flights.items()):
            if flight.deadline <= now:
                del self._flights[packet_id]
                self._resume.pop(packet_id, None)
                if flight.early:  # HQ's ingest came back: not a round HQ left unanswered
                    log.info("packet %s sent again after HQ's ingest came back", packet_id)
                    self._early_ids.add(packet_id)
                    self._early_armed = False  # the early round is spent until an ack
                    continue
                log.info("no ack for packet %s within %.0f s; it will be sent again",
                         packet_id, flight.wait)
                at_current_wait = flight.wait >= self._ack_wait  # not one of an older round
                if at_current_wait and self._ack_wait < self.settings.ack_timeout_max:
                    # A whole round went unanswered: HQ's ingest is down or cut off.
                    self._ack_wait = min(2 * self._ack_wait, self.settings.ack_timeout_max)
                    log.warning("HQ acknowledged nothing for %.1f s; next re-sends after "
                                "%.1f s", flight.wait, self._ack_wait)
        for packet_id, until in list(self._parked.items()):
            if until <= now:
                del self._parked[packet_id]

    def _next_wait(self) -> float:
        deadlines = [f.deadline for f in self._flights.values() if f.deadline < math.inf]
        if self._early_at > self.monotonic():
            deadlines.append(self._early_at)
        wait = self.settings.poll
        if deadlines:
            wait = min(wait, max(0.0, min(deadlines) - self.monotonic()))
        return max(wait, 0.01)

    async def _wait_change(self) -> None:
        assert self._changed is not None
        await _wait_event(self._changed, self._next_wait())
        self._changed.clear()

    def _due(self, room: int) -> list[OutboxEntry]:
        skip = len(self._flights) + len(self._parked)
        wait = self._ack_wait
        early = self._early_cutoff is not None and self.monotonic() >= self._early_at
        if early:
            # Also due: sent before HQ's announcement (in this process or an earlier one)
            # and not acked since. Sent after it, they wait for the ack timeout as usual.
            assert self._early_cutoff is not None
            wait = min(wait, max(0.0, (self.kit.clock() - self._early_cutoff).total_seconds()))
        entries = self.kit.outbox.pending(resend_after=timedelta(seconds=wait),
                                          limit=room + skip)
        chosen = [e for e in entries
                  if e.packet_id not in self._flights and e.packet_id not in self._parked]
        if early and any(e.state is PacketState.SENT for e in chosen):
            self._early_armed = False  # the early round is spent until an ack
        while self._early_ids and len(chosen) < room:  # went out as HQ came back (marked
            packet_id = self._early_ids.pop()           # sent after the announcement)
            with suppress(NotFound):
                entry = self.kit.outbox.get(packet_id)
                if (entry.state in (PacketState.SEALED, PacketState.SENT)
                        and packet_id not in self._flights
                        and all(e.packet_id != packet_id for e in chosen)):
                    chosen.append(entry)
        return chosen[:room]

    async def _sender(self, link: Link) -> None:
        slots = asyncio.Semaphore(self.settings.max_inflight)
        while True:
            self._expire()
            room = self.settings.window - len(self._flights)
            entries = self._due(room) if room > 0 else []
            if not entries:
                await self._wait_change()
                continue
            for entry in entries:
                await self._start_packet(link, entry, slots)

    async def _start_packet(self, link: Link, entry: OutboxEntry,
                            slots: asyncio.Semaphore) -> None:
        try:
            data = self.kit.outbox.data(entry.packet_id)
        except NotFound:
            return  # purged meanwhile
        start = self._resume.pop(entry.packet_id, 0)
        chunks = list(split_packet(entry.packet_id, data, chunk_size=self.settings.chunk_size,
                                   start=start, sha256=entry.sha256))
        del data
        count = chunks[0].count if chunks else 0
        flight = _Flight(entry.sha256, count, done=set(range(start)), started=self.monotonic())
        self._flights[entry.packet_id] = flight
        if entry.state is PacketState.SENT or entry.send_count:
            self.stats.packets_resent += 1
        if start:
            log.info("resuming packet %s at chunk %d of %d", entry.packet_id, start, count)
        name = topic(self.kit.device_id, Channel.PACKET)
        for chunk in chunks:
            await slots.acquire()
            task = asyncio.create_task(self._publish_chunk(link, name, chunk, flight, slots))
            flight.tasks.append(task)
            self._chunk_tasks.add(task)
            task.add_done_callback(self._chunk_tasks.discard)
        finisher = asyncio.create_task(self._finish_packet(entry.packet_id, flight))
        self._chunk_tasks.add(finisher)
        finisher.add_done_callback(self._chunk_tasks.discard)

    async def _publish_chunk(self, link: Link, name: str, chunk: Chunk, flight: _Flight,
                             slots: asyncio.Semaphore) -> bool:
        try:
            payload = chunk.encode()
            await link.publish(name, payload)
        except PublishTimeout as exc:
            self.stats.publish_timeouts += 1
            log.info("%s (it may still arrive; HQ's ack decides)", exc)
            return False
        finally:
            slots.release()
        flight.done.add(chunk.index)
        self.stats.chunks_published += 1
        self.stats.bytes_published += len(chunk.data)
        return True

    async def _finish_packet(self, packet_id: str, flight: _Flight) -> None:
        results = await asyncio.gather(*flight.tasks, return_exceptions=True)
        flight.tasks.clear()
        if any(isinstance(r, BaseException) for r in results):
            return  # the connection dropped: _end_session records where to resume
        if self._flights.get(packet_id) is not flight:
            return  # acked (or expired) while its last chunks were in the air
        # Packets finishing within MARK_SENT_DELAY are marked in one transaction (on
        # loopback a few hundred finish per second: one commit each cost the kit ~1 ms).
        if not self._to_mark:
            self._mark_timer = asyncio.get_running_loop().call_later(MARK_SENT_DELAY,
                                                                     self._mark_sent)
        self._to_mark.append((packet_id, flight))

    def _mark_sent(self) -> None:
        if self._mark_timer is not None:
            self._mark_timer.cancel()  # when called directly (the end of run)
            self._mark_timer = None
        if not self._to_mark:
            return
        try:
            self._mark_sent_batch()
        except sqlite3.Error as exc:  # kit.db busy or full: those packets are simply re-sent
            log.error("cannot mark packets sent: %s", exc)

    def _mark_sent_batch(self) -> None:
        batch, self._to_mark = self._to_mark, []
        deadline = self.monotonic() + self._ack_wait
        for _, flight in batch:  # the ack clock runs even if the mark below fails
            flight.deadline, flight.wait = deadline, self._ack_wait
            if flight.early:  # begun before HQ's "online" announcement
                flight.deadline = min(deadline, max(self._early_at, self.monotonic()))
        with atomic(self.kit.conn):
            for packet_id, flight in batch:
                self.stats.packets_sent += 1  # every chunk of it was published
                if self._flights.get(packet_id) is not flight:
                    continue  # acked in the meantime: nothing to mark
                with suppress(NotFound):
                    self.kit.outbox.mark_sent(packet_id)
        self._wake()

    # --- receiving -------------------------------------------------------------------------

    async def _receiver(self, link: Link) -> None:
        messages = link.messages().__aiter__()
        while True:
            batch = [await messages.__anext__()]
            while link.queued() and len(batch) < 256:
                batch.append(await messages.__anext__())
            await self._dispatch(link, batch)

    async def _dispatch(self, link: Link, batch: list[Incoming]) -> None:
        acks: list[bytes] = []
        reports: list[Report] = []
        for message in batch:
            if message.topic == ONLINE_TOPIC:
                self._online(message.payload, retained=message.retain)
                continue
            try:
                device, channel = parse_topic(message.topic)
            except RekamError as exc:
                log.warning("ignored a message on %s: %s", message.topic, exc)
                continue
            if device != self.kit.device_id:
                log.warning("ignored a message for %s on our session", device)
                continue
            if channel is Channel.ACK:
                acks.append(message.payload)
            elif channel is Channel.WORKLIST and message.payload:
                report = downlink.handle_worklist(self.kit, message.payload)
                if report:
                    reports.append(report)
            elif channel is Channel.CONFIG and message.payload:
                report = downlink.handle_config(self.kit, message.payload)
                if report:
                    reports.append(report)
        if acks:
            outcome = downlink.handle_acks(self.kit, acks)
            self.stats.acked += len(outcome.acked)
            self.stats.repeated_acks += len(outcome.repeated)
            self.stats.refused_acks += len(outcome.refused)
            for packet_id in [*outcome.acked, *outcome.repeated]:
                self._flights.pop(packet_id, None)
                self._resume.pop(packet_id, None)
            if outcome.acked or outcome.repeated:
                self._ack_wait = self.settings.ack_timeout  # HQ is listening again
                self._early_armed = True
                backlog = self._early_pending & {*outcome.acked, *outcome.repeated}
                if backlog:  # HQ is still storing what the broker kept from before
                    self._early_pending -= backlog
                    self._postpone_early()
            for ack in outcome.rejected:
                self.stats.rejected_by_hq += 1
                self._flights.pop(ack.packet_id, None)
                self._parked[ack.packet_id] = (self.monotonic()
                                               + 10 * self.settings.ack_timeout)
                reports.append(Report(self.kit.device_id, self.kit.clock(), "packet",
                                      "rejected", detail=f"{ack.packet_id}: {ack.reason}"))
            if outcome.acked and self.kit.config.ack_grace_hours <= 0:
                self.purge(on_ack=True)  # no grace: bytes go now, before the next acks
            self._wake()
            if self._acks_in is not None:
                self._acks_in.set()
        for report in reports:
            await self._publish_report(link, report)

    def _postpone_early(self) -> None:
        """Acks for packets sent before the announcement are coming in while an early re-send
        waits: HQ is working through what the broker kept (a backlog may take longer than
        ``resend_settle``), so sending it all again now would only double HQ's work. The
        early re-send waits until no such ack came for ``resend_settle``; what the broker
        lost goes then (acks for packets sent since do not hold it back)."""
        now = self.monotonic()
        if not now < self._early_at < math.inf:
            return
        self._early_at = now + self.settings.resend_settle
        for flight in self._flights.values():
            if flight.early and flight.deadline < math.inf:
                flight.deadline = max(flight.deadline, self._early_at)

    def _online(self, payload: bytes, *, retained: bool = False) -> None:
        """HQ's ingest announced itself online (retained, so also on every connect). A new
        announcement may follow an outage in which the broker lost or dropped what the kit
        handed it (ingest down past its session, a broker crash): every packet sent before
        it and not acked within ``resend_settle`` seconds (time for what the broker kept to
        be stored and acked, longer while acks keep coming: :meth:`_postpone_early`) is sent
        again, instead of after the ack timeout."""
        try:
            online = verify_online(payload, trusted=self.kit.trusted_hq_keys())
        except RekamError as exc:
            log.warning("ignored an HQ online announcement: %s", exc)
            return
        since = online.since.isoformat()
        if self.kit.state.get(HQ_ONLINE_SINCE) == since:
            return  # the retained one again
        last_broker = self.kit.state.get(HQ_BROKER_SINCE)
        with atomic(self.kit.conn):
            self.kit.state.set(HQ_ONLINE_SINCE, since)
            if online.broker_since is not None:
                self.kit.state.set(HQ_BROKER_SINCE, online.broker_since.isoformat())
        if not online.may_have_lost(datetime.fromisoformat(last_broker) if last_broker
                                    else None):
            log.info("HQ ingest online since %s (%s) with its queue kept at the broker: "
                     "nothing to send again", since, online.worker or "?")
            return
        if not self._early_armed:
            log.info("HQ ingest online since %s, but HQ acked nothing since the last early "
                     "re-send: unacked packets wait for their ack timeout", since)
            return
        now = self.monotonic()
        self._early_at = now + self.settings.resend_settle
        # Delivered as retained (on our subscribe): made before this connection, so what
        # this connection sent went to the worker that made it; what went before may be
        # lost. Delivered live: everything sent so far.
        before = self._session_began if retained else now
        self._early_cutoff = (self._session_clock if retained and self._session_clock
                              else self.kit.clock())
        # A packet cut by a dropped connection resumes where its PUBACKs stopped; the
        # broker may have lost chunks it had PUBACKed: those go again from the first.
        self._resume.clear()
        self._early_pending = {r[0] for r in self.kit.conn.execute(
            "SELECT packet_id FROM outbox WHERE state = 'sent' AND sent_at < ?",
            (self._early_cutoff.isoformat(),))}
        for packet_id, flight in self._flights.items():
            if flight.started >= before:
                continue
            self._early_pending.add(packet_id)
            if flight.deadline == math.inf:  # still going out: early once it is marked sent
                flight.early = True
            elif self._early_at < flight.deadline:
                flight.deadline, flight.early = self._early_at, True
        log.info("HQ ingest online since %s (%s): unacked packets go again in %.0f s",
                 since, online.worker or "?", self.settings.resend_settle)
        self._wake()

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

    # --- --once ---------------------------------------------------------------------------

    def unacked(self) -> int:
        return self.kit.outbox.counts().waiting

    async def _until_done(self, give_up: float) -> None:
        """Ends the session as soon as an ack batch leaves nothing unacknowledged (woken by
        the receiver, not polled: a poll would add its interval to every technician's sync)."""
        assert self._acks_in is not None
        while True:
            if self.unacked() == 0 or self.monotonic() >= give_up:
                raise _Finished
            await _wait_event(self._acks_in, max(0.01, min(1.0, give_up - self.monotonic())))
            self._acks_in.clear()
