"""The ingest worker's loop: ``rekam-hq ingest --instance N``.

Connects to the broker under a stable client id with a persistent session, subscribes to
the shared subscription, announces the worker on ``rekam/v1/hq/online`` (retained, signed),
then receives on the event loop, stores on one database thread (:class:`hq.ingest.Ingestor`)
and publishes the acks, PUBACKing each message only once HQ's database holds it and the
broker holds its ack to the kit. A dropped broker connection means a fresh client with
back-off; a database that goes away means no acknowledgement for the batch in hand, a wait
for the database and the batch again from the broker (sync/PROTOCOL.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from edge.clock import utc_now
from edge.errors import InvalidInput, RekamError
from hq.home import HqHome
from hq.ingest import CLEAR_RETAINED, Ingestor
from hq.ingest_batch import DatabaseUnavailable, Prepared
from sync.errors import TransportError
from sync.mqtt import BrokerAddress, ConnectOptions, Incoming, TlsFiles
from sync.protocol.acks import Online, sign_online
from sync.protocol.topics import INGEST_SUBSCRIPTION, ONLINE_TOPIC

log = logging.getLogger("rekam.ingest")

HOLD_IDLE = 0.05  # the longest held chunks wait for the next message when none is queued

# How long the broker keeps a worker's session (its share of the shared subscription queued,
# the messages it had not acknowledged) while the worker is away: a systemd restart, a
# reboot. A worker gone for longer loses what was queued for it; the kits send it again
# when a worker announces itself online (ONLINE_TOPIC).
SESSION_EXPIRY = 300
RECEIVE_MAXIMUM = 256  # messages the broker sends a worker before it PUBACKs (≥ 3 batches)
DB_RETRY_MAX = 5.0  # seconds between looks at a database that went away


class SessionTakenOver(RekamError):
    """Another ingest process connected under this worker's client id."""


def ingest_client_id(instance: str) -> str:
    """The stable MQTT client id of ingest worker ``instance`` on this host: the broker keeps
    its session (and queues its share) across restarts under this name."""
    return f"rekam-hq-ingest-{socket.gethostname()}-{instance}"[:64]


def ingest_options(home: HqHome, broker_url: str | None, *, client_id: str | None = None,
                   instance: str = "1", connect_timeout: float = 20.0,
                   session_expiry: int = SESSION_EXPIRY) -> ConnectOptions:
    """A worker's connection: its own certificate, a persistent session under a stable id
    (``instance``: systemd's ``%i``), messages PUBACKed only once the database holds them
    (and the broker their acks to the kits)."""
    from hq.broker import ingest_identity

    url = broker_url or str(home.config().get("broker_url") or "")
    if not url:
        raise InvalidInput("no broker: pass --broker mqtts://HOST:PORT (or run "
                           "rekam-hq broker-config, which records it)")
    address = BrokerAddress.parse(url)
    ident = ingest_identity(home)
    if address.tls and not ident.cert.exists():
        raise InvalidInput(f"no ingest certificate in {ident.cert.parent}; run: "
                           "rekam-hq broker-config -o DIR")
    return ConnectOptions(
        address=address, client_id=client_id or ingest_client_id(instance),
        tls=TlsFiles(ident.ca_cert, ident.cert, ident.key) if address.tls else None,
        persistent=True, session_expiry=session_expiry, keepalive=30,
        connect_timeout=connect_timeout, max_inflight=64, manual_ack=True,
        receive_maximum=RECEIVE_MAXIMUM,
    )


Connector = Callable[[ConnectOptions], Any]


async def run_ingest(ingestor: Ingestor, options: ConnectOptions, stop: asyncio.Event, *,
                     connector: Connector | None = None, batch_size: int = 64,
                     on_ready: Callable[[], None] | None = None,
                     backoff_max: float = 5.0) -> Counter[str]:
    """Consume until ``stop``.

    A dropped broker connection: a fresh client, with back-off (``backoff_max``: the broker
    is on HQ's own network, a try costs nothing). A database that goes away: the batch in
    hand is not acknowledged, the connection is closed (the session stays at the broker,
    with every message not yet PUBACKed), the database is probed with back-off, and on its
    return the worker reconnects and the broker sends those messages again. On every
    connection the worker announces itself on ONLINE_TOPIC (retained, signed)."""
    from sync.mqtt import connect
    from sync.uplink_base import Backoff

    if connector is None:
        connector = connect

    loop = asyncio.get_running_loop()
    worker = ThreadPoolExecutor(1, thread_name_prefix="ingest-db")
    backoff = Backoff(0.5, backoff_max)
    last_chunk_gc = 0.0
    try:
        while not stop.is_set():
            try:
                async with connector(options) as link:
                    await link.subscribe(INGEST_SUBSCRIPTION)
                    backoff.reset()
                    resumed = bool(getattr(link, "session_present", False))
                    log.info("ingest %s subscribed to %s on %s (session %s)",
                             options.client_id, INGEST_SUBSCRIPTION, options.address,
                             "resumed" if resumed else "new")
                    broker_since = (await _broker_since(options)
                                    if connector is connect else None)
                    await _announce(link, ingestor, options.client_id, resumed, broker_since)
                    if on_ready:
                        on_ready()
                    await _consume(link, ingestor, worker, stop, batch_size)
            except DatabaseUnavailable as exc:
                ingestor.reset()
                ingestor._count("db_unavailable")
                log.error("%s; nothing of the batch was acknowledged: waiting for the "
                          "database, then taking it again from the broker", exc)
                await _wait_for_database(ingestor, worker, stop)
                continue
            except TransportError as exc:
                if "taken over" in str(exc).lower():
                    raise SessionTakenOver(
                        f"another ingest process connected as {options.client_id}: give "
                        "each worker its own --instance (systemd: rekam-hq-ingest@N)"
                    ) from None
                ingestor.reset()
                log.warning("ingest: %s", exc)
            if stop.is_set():
                break
            if time.monotonic() - last_chunk_gc > 3600:
                last_chunk_gc = time.monotonic()
                await loop.run_in_executor(worker, _gc_chunks, ingestor)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff.next())
    finally:
        worker.shutdown(wait=True)
    return ingestor.counts


async def _broker_since(options: ConnectOptions) -> datetime | None:
    """When the broker started, from its ``$SYS/broker/uptime`` (retained, refreshed every
    second by broker-config's ``sys_interval``), on a short connection of its own (the
    worker's session must not carry $SYS messages); None when it does not say in 3 s."""
    from dataclasses import replace as replace_options

    from hq.broker import BROKER_UPTIME
    from sync.mqtt import connect

    probe = replace_options(options, client_id=f"{options.client_id}-clock"[:64],
                            persistent=False, manual_ack=False, receive_maximum=0)
    try:
        async with connect(probe) as link:
            await link.subscribe(BROKER_UPTIME)
            async with asyncio.timeout(3):
                async for message in link.messages():
                    if message.topic == BROKER_UPTIME:
                        seconds = int(message.payload.split()[0])
                        return utc_now() - timedelta(seconds=seconds)
    except (TransportError, TimeoutError, ValueError, IndexError) as exc:
        log.info("the broker's uptime is unknown (%s): kits will re-send what is unacked",
                 exc or type(exc).__name__)
    return None


async def _announce(link: Any, ingestor: Ingestor, worker: str, resumed: bool,
                    broker_since: datetime | None) -> None:
    """Tell every kit (retained) that this worker takes packets from now on."""
    payload = sign_online(Online(ingestor.clock(), worker, resumed, broker_since),
                          ingestor.keys.signing)
    try:
        await link.publish(ONLINE_TOPIC, payload, retain=True)
    except TransportError as exc:  # the kits then fall back on their ack timeout
        log.warning("could not announce ingest online on %s: %s", ONLINE_TOPIC, exc)


async def _wait_for_database(ingestor: Ingestor, worker: ThreadPoolExecutor,
                             stop: asyncio.Event) -> None:
    from sqlalchemy import text

    from sync.uplink_base import Backoff

    def probe() -> str | None:
        try:
            with ingestor.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except SQLAlchemyError as exc:
            return str(exc).splitlines()[0]

    loop = asyncio.get_running_loop()
    backoff = Backoff(0.25, DB_RETRY_MAX)
    started = time.monotonic()
    last = ""
    while not stop.is_set():
        error = await loop.run_in_executor(worker, probe)
        if error is None:
            log.info("HQ's database answers again after %.1f s", time.monotonic() - started)
            return
        if error != last:
            log.warning("HQ's database does not answer: %s", error)
            last = error
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff.next())


def _gc_chunks(ingestor: Ingestor) -> None:
    try:
        n = ingestor.store.purge_stale_chunks(timedelta(days=7), ingestor.clock())
        if n:
            log.info("dropped %d chunks of uploads unfinished for 7 days", n)
    except SQLAlchemyError as exc:
        log.error("chunk clean-up failed: %s", str(exc).splitlines()[0])


async def _consume(link: Any, ingestor: Ingestor, worker: ThreadPoolExecutor,
                   stop: asyncio.Event, batch_size: int) -> None:
    """Receive on this loop, store on the DB thread, publish the acks on this loop.

    The DB thread pulls its next batch (whatever arrived meanwhile, up to ``batch_size``
    messages) the moment it has prepared one (checked, reassembled, verified), instead of
    waiting for this loop to be scheduled and hand it over, and hands the prepared batch to
    a commit thread: the next batch is checked while the previous one is written and
    synced (the database releases the GIL meanwhile), one commit at a time, in order; the
    acks of a batch are published once it committed, and its messages PUBACKed to the
    broker once the broker has those acks (not before: a worker killed before its commit,
    or after it but before its acks reached the broker, leaves the messages unacknowledged
    in its session, and the broker sends them again to its next incarnation, which acks
    them as duplicates; a PUBACK ahead of the ack would leave the packet stored and its kit
    waiting out its ack timeout). At most
    ``3 * batch_size`` messages are between this loop and a commit; beyond that this loop
    stops reading (the rest wait in the client and the broker, which sends at most
    RECEIVE_MAXIMUM unacknowledged). On a stop or a dropped connection, what was received
    is still stored (a lost ack only means one more send). A database that cannot be
    reached ends it with DatabaseUnavailable: that batch and every later one unacknowledged."""
    loop = asyncio.get_running_loop()
    inbox: queue.SimpleQueue[Incoming | None] = queue.SimpleQueue()
    room = asyncio.Semaphore(3 * batch_size)
    publishing: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(256)

    async def publish(name: str, payload: bytes) -> None:
        async with slots:
            try:
                await link.publish(name, payload, retain=payload == CLEAR_RETAINED)
            except TransportError as exc:
                log.info("ack on %s not confirmed: %s (the kit sends again if it is lost)",
                         name, exc)

    async def settle(acks: list[tuple[str, bytes]], settled: list[Incoming]) -> None:
        # The kits' acks first, the PUBACKs once the broker has them: until then the broker
        # must keep the messages, or a worker killed in between loses the acks for good.
        await asyncio.gather(*(publish(name, payload) for name, payload in acks))
        for message in settled:  # HQ's database holds them, the broker the acks
            link.ack(message)

    def deliver(acks: list[tuple[str, bytes]], settled: list[Incoming],
                taken: int) -> None:  # on this loop
        for _ in range(taken):
            room.release()
        task = asyncio.create_task(settle(acks, settled))
        publishing.add(task)
        task.add_done_callback(publishing.discard)

    def next_batch() -> tuple[list[Incoming], bool]:
        """(messages, whether more may come): waits for the first message, or until chunks
        held in memory are due for the chunk table (then with no messages)."""
        try:
            first = inbox.get(timeout=HOLD_IDLE if ingestor.holding else None)
        except queue.Empty:
            return [], True
        if first is None:
            return [], False
        batch = [first]
        while len(batch) < batch_size:
            try:
                more = inbox.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, False
            batch.append(more)
        return batch, True

    def commit(prepared: Prepared, taken: int) -> None:  # the commit thread
        try:
            acks = ingestor.commit_batch(prepared)
        except DatabaseUnavailable:
            raise  # nothing of this batch is acknowledged; the loop reconnects
        except Exception:  # commit_batch never raises on input; a bug must not stop us
            log.exception("unexpected error storing a batch (not acked; the kits send again)")
            acks = []
        with contextlib.suppress(RuntimeError):  # the loop is gone: the kits send again
            loop.call_soon_threadsafe(deliver, acks, prepared.settled, taken)

    def store() -> None:  # the DB thread: prepares a batch while the previous one commits
        going = True
        committing: Future[None] | None = None
        try:
            while going:
                batch, going = next_batch()
                try:
                    prepared = ingestor.prepare_batch(batch, hold=going and bool(batch))
                except DatabaseUnavailable:
                    raise
                except Exception:  # prepare_batch never raises on input
                    log.exception("unexpected error on a batch of %d messages (not acked; "
                                  "the kits send again)", len(batch))
                    prepared = Prepared(ingestor.clock(), settled=list(batch))
                if committing is not None:
                    committing.result()  # one commit at a time, in order
                committing = committer.submit(commit, prepared, len(batch))
        finally:
            if committing is not None:
                committing.result()

    committer = ThreadPoolExecutor(1, thread_name_prefix="ingest-commit")
    storing = loop.run_in_executor(worker, store)
    messages = link.messages().__aiter__()
    stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        while True:
            if room.locked():  # the DB thread is behind: read no more until it catches up
                acquire = asyncio.ensure_future(room.acquire())
                done, _ = await asyncio.wait({acquire, stopper, storing},
                                             return_when=asyncio.FIRST_COMPLETED)
                if acquire not in done:
                    acquire.cancel()
                    if storing in done:  # the DB thread ended: surface its error
                        storing.result()
                    return
            else:
                await room.acquire()
            nxt = asyncio.ensure_future(messages.__anext__())
            waiting: set[asyncio.Future[Any]] = {nxt, stopper, storing}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                nxt.cancel()
                if storing in done:  # the DB thread died: surface its error
                    storing.result()
                return
            inbox.put(nxt.result())
            while link.queued() and not room.locked():  # already here: no need to wait
                await room.acquire()
                inbox.put(await messages.__anext__())
    finally:
        stopper.cancel()
        inbox.put(None)
        try:
            await storing
        finally:
            committer.shutdown(wait=True)
        if publishing:
            await asyncio.wait(publishing, timeout=5)
