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

This module holds the connection loop and its sessions; the sender is
:mod:`sync.uplink_send`, the receiver :mod:`sync.uplink_receive`, and their shared state,
heartbeat and purge :mod:`sync.uplink_base`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from contextlib import suppress

from edge import __version__
from edge.errors import InvalidInput
from edge.kitdb import atomic
from sync.errors import ConnectFailed, HqUnreachable, NotAuthorized, TransportError
from sync.mqtt import BrokerAddress, ConnectOptions, TlsFiles
from sync.protocol.status import Status, sign_status
from sync.protocol.topics import ONLINE_TOPIC, Channel, kit_subscription, topic
from sync.uplink_base import (
    Backoff,
    Link,
    SyncStats,
    _cancel_all,
    _Finished,
    _quiet,
    _unreachable,
    _wait_event,
)
from sync.uplink_receive import UplinkReceiver
from sync.uplink_send import UplinkSender

log = logging.getLogger("rekam.sync")

LAST_GOOD_BROKER = "broker_last_good"


class Uplink(UplinkSender, UplinkReceiver):
    """The kit's uplink: the connection loop and its sessions (sending in
    :class:`sync.uplink_send.UplinkSender`, receiving in
    :class:`sync.uplink_receive.UplinkReceiver`, shared state in
    :class:`sync.uplink_base.UplinkBase`)."""

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
                        self._online_asked, self._online_asked_clock = -math.inf, None
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
                    # backoff_max, so a metered modem is not spent on handshakes. Capped
                    # with jitter over the cap's upper half: a hall of kits cut together
                    # (the broker killed) must not come back in lock-step.
                    cap = self.settings.reconnect_fast_max
                    if delay > cap:
                        delay = cap / 2 + random.random() * cap / 2
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
        # The SUBSCRIBEs go out first, but nothing waits for their SUBACKs: the first chunks
        # follow them in the same round trip (a refused subscription still ends the session).
        # Nothing is lost meanwhile: the client writes packets in the order they are made,
        # and the broker handles one connection's packets in order, so the subscription
        # exists before any of our packets reaches HQ, hence before any ack; and the
        # persistent session holds it from the last connection anyway.
        # Both SUBSCRIBEs ahead of the first chunk (each task queues its SUBSCRIBE in its
        # first step, and these run first): see _subscribe_online.
        tasks = [asyncio.create_task(self._subscribe(link), name="subscribe"),
                 asyncio.create_task(self._subscribe_online(link), name="subscribe-online"),
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
        await asyncio.Event().wait()  # only an error ends the session from here

    async def _subscribe_online(self, link: Link) -> None:
        """HQ's announcements: the retained one arrives at once, each new one as it is made.

        Subscribed ahead of the first chunk, without waiting for the first SUBACK: a
        retained announcement, made before the broker had this SUBSCRIBE, was then made
        before any chunk of this connection reached the broker, so they went to the worker
        that made it. Behind the chunks, a worker subscribing and announcing itself in that
        round trip (ingest coming up, a broker restarted without its sessions) would not
        have been there for them, and the kit would wait out its ack timeout."""
        # Taken in the step that queues the SUBSCRIBE (nothing else runs in between): what
        # was begun before it may have gone out ahead of it (see UplinkReceiver._online).
        self._online_asked, self._online_asked_clock = self.monotonic(), self.kit.clock()
        try:
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
