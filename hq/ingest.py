"""HQ ingest: ``rekam-hq ingest [--broker URL]``.

Subscribes to ``$share/rekam-hq/rekam/v1/+/up/#`` (so any number of ingest processes split
the kits' traffic) with its own client certificate (CN ``ingest.rekam-hq``) and a clean
session. For each message:

``up/packet``
    decode the chunk frame; store the chunk durably; once all chunks are in, reassemble
    and check the whole packet's SHA-256; then accept it only when the topic's device (the
    broker's ACL ties it to the certificate identity), the header's device and the
    registered signing key agree and the signature verifies; store it idempotently;
    publish HQ's signed ack on ``rekam/v1/{device}/down/ack``.
``up/status``
    a heartbeat (or last will) signed by the device key: keep the newest per kit.
``up/report``
    a kit's signed word on a worklist or config: keep it.

Anything malformed, oversized, unsigned, badly signed, misrouted or from an unknown kit is
refused with a reason, counted, and kept in ``dead_letters``; no input crashes ingest. If
the database itself fails, the message is not acked: the kit sends it again after its ack
timeout (paho acks the broker before we commit, so that re-send is what recovers it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.clock import Clock, utc_now
from edge.errors import InvalidInput, NotFound, RekamError
from edge.packet import read_header, verify_packet
from hq.devices import Device, get_device
from hq.home import HqHome, HqKeys
from hq.packets import PacketStore
from sync.errors import ProtocolError, TransportError
from sync.mqtt import BrokerAddress, ConnectOptions, Incoming, TlsFiles
from sync.protocol import (
    INGEST_SUBSCRIPTION,
    MAX_PACKET_SIZE,
    Ack,
    AckStatus,
    Channel,
    decode_chunk,
    parse_topic,
    sign_ack,
    topic,
    verify_report,
    verify_status,
)

log = logging.getLogger("rekam.ingest")

DEVICE_CACHE_SECONDS = 30.0


class Rejected(Exception):
    """A message refused: the reason code is counted and kept with the dead letter."""

    def __init__(self, code: str, reason: str, packet_id: str | None = None,
                 sha256: str | None = None, *, alert: bool = False) -> None:
        super().__init__(reason)
        self.code, self.reason, self.packet_id, self.sha256 = code, reason, packet_id, sha256
        self.alert = alert


class Ingestor:
    """The message handler, synchronous and network-free: (topic, payload) in, the acks to
    publish out. The async loop runs it on one worker thread."""

    def __init__(self, engine: Engine, keys: HqKeys, *, max_packet: int = MAX_PACKET_SIZE,
                 clock: Clock = utc_now) -> None:
        self.store = PacketStore(engine)
        self.engine = engine
        self.keys = keys
        self.max_packet = max_packet
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._devices: dict[str, tuple[float, Device]] = {}

    def _device(self, device_id: str) -> Device:
        cached = self._devices.get(device_id)
        if cached and time.monotonic() - cached[0] < DEVICE_CACHE_SECONDS:
            return cached[1]
        try:
            device = get_device(self.engine, device_id)
        except NotFound:
            raise Rejected("unknown_device", f"device {device_id} is not registered") from None
        self._devices[device_id] = (time.monotonic(), device)
        return device

    def handle_batch(self, batch: Sequence[Incoming]) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for message in batch:
            ack = self.handle(message.topic, message.payload)
            if ack is not None:
                out.append(ack)
        return out

    def handle(self, name: str, payload: bytes) -> tuple[str, bytes] | None:
        """Never raises for bad input; returns (ack topic, signed ack) when one is due."""
        now = self.clock()
        device_id: str | None = None
        try:
            try:
                device_id, channel = parse_topic(name)
            except ProtocolError as exc:
                raise Rejected(exc.reason, str(exc)) from None
            if not channel.uplink:
                raise Rejected("wrong_direction", f"{channel.value} is not an uplink topic")
            device = self._device(device_id)
            if device.status != "active":
                raise Rejected("device_disabled", f"device {device_id} is {device.status}")
            if channel is Channel.PACKET:
                ack = self._packet(device, payload, now)
            elif channel is Channel.STATUS:
                self._status(device, payload, now)
                ack = None
            else:
                self._report(device, payload, now)
                ack = None
        except Rejected as rej:
            return self._reject(rej, name, payload, device_id, now)
        except SQLAlchemyError as exc:
            self.counts["db_error"] += 1
            log.error("database error on %s (not acked; the kit will send again): %s", name,
                      str(exc).splitlines()[0])
            return None
        except Exception as exc:  # never crash on input: keep it for a person to look at
            log.exception("unexpected error on %s", name)
            return self._reject(Rejected("internal", f"{type(exc).__name__}: {exc}"), name,
                                payload, device_id, now)
        if ack is None:
            return None
        self.counts[ack.status.value] += 1
        return topic(ack.device_id, Channel.ACK), sign_ack(ack, self.keys.signing)

    def _reject(self, rej: Rejected, name: str, payload: bytes, device_id: str | None,
                now: datetime) -> tuple[str, bytes] | None:
        self.counts[rej.code] += 1
        (log.error if rej.alert else log.warning)(
            "%srefused %s (%s): %s", "ALERT: " if rej.alert else "", name, rej.code, rej.reason)
        try:
            self.store.dead_letter(topic=name, payload=payload, reason_code=rej.code,
                                   reason=rej.reason, now=now, device_id=device_id,
                                   packet_id=rej.packet_id, alert=rej.alert)
        except SQLAlchemyError as exc:
            log.error("cannot keep the dead letter: %s", str(exc).splitlines()[0])
        if device_id and rej.packet_id and rej.sha256:  # tell the kit why (it keeps it)
            ack = Ack(device_id, rej.packet_id, rej.sha256, AckStatus.REJECTED, now,
                      reason=f"{rej.code}: {rej.reason}"[:300])
            return topic(device_id, Channel.ACK), sign_ack(ack, self.keys.signing)
        return None

    # --- packets ----------------------------------------------------------------------

    def _packet(self, device: Device, payload: bytes, now: datetime) -> Ack | None:
        try:
            chunk = decode_chunk(payload, max_packet=self.max_packet)
        except ProtocolError as exc:
            raise Rejected(exc.reason if exc.reason != "malformed" else "malformed_chunk",
                           str(exc)) from None
        if not chunk.whole:
            known = self.store.existing(chunk.packet_id)
            if known == (device.device_id, chunk.sha256):
                # Sent again after a lost ack: ack once per send (on its last chunk).
                if chunk.index != chunk.count - 1:
                    return None
                self.store.count_delivery(chunk.packet_id)
                return Ack(device.device_id, chunk.packet_id, chunk.sha256,
                           AckStatus.DUPLICATE, now)
            self.store.store_chunk(device.device_id, chunk, now)
            try:
                data = self.store.assemble(device.device_id, chunk)
            except ProtocolError as exc:
                self.store.drop_chunks(device.device_id, chunk)
                raise Rejected(exc.reason, f"packet {chunk.packet_id}: {exc}",
                               chunk.packet_id, chunk.sha256) from None
            if data is None:
                self.counts["chunk"] += 1
                return None
        else:
            data = chunk.data
            if hashlib.sha256(data).hexdigest() != chunk.sha256:
                raise Rejected("hash_mismatch", f"packet {chunk.packet_id} does not match "
                               "its sha256", chunk.packet_id, chunk.sha256)
        return self._whole(device, chunk.packet_id, chunk.sha256, data, now,
                           None if chunk.whole else (chunk.sha256, chunk.count))

    def _whole(self, device: Device, packet_id: str, sha256: str, data: bytes,
               now: datetime, chunk_key: tuple[str, int] | None) -> Ack:
        ids = (packet_id, sha256)
        try:
            header = read_header(data)
        except RekamError as exc:
            raise Rejected("malformed_packet", str(exc), *ids) from None
        if header.packet_id != packet_id:
            raise Rejected("id_mismatch", f"frame names packet {packet_id}, its header "
                           f"{header.packet_id}", *ids)
        if header.device_id != device.device_id:
            raise Rejected("misrouted", f"packet {packet_id} of {header.device_id} arrived "
                           f"on the topic of {device.device_id}", *ids)
        try:
            verify_packet(data, device.signing_public)
        except RekamError as exc:
            raise Rejected("bad_signature", str(exc), *ids) from None
        result = self.store.store_packet(device.device_id, header, data, sha256, now,
                                         chunk_key=chunk_key)
        if result.status == "conflict":
            raise Rejected("conflict", f"packet {packet_id} is already stored with another "
                           f"hash ({result.existing_sha256[:16]}… from "
                           f"{result.existing_device})", *ids, alert=True)
        status = AckStatus.STORED if result.status == "stored" else AckStatus.DUPLICATE
        return Ack(device.device_id, packet_id, sha256, status, now)

    # --- status and reports -----------------------------------------------------------------

    def _status(self, device: Device, payload: bytes, now: datetime) -> None:
        try:
            status = verify_status(payload, device_key=device.signing_public,
                                   device_id=device.device_id)
        except RekamError as exc:
            raise Rejected("bad_status", str(exc)) from None
        self.store.record_status(status, now)
        self.counts["status"] += 1

    def _report(self, device: Device, payload: bytes, now: datetime) -> None:
        try:
            report = verify_report(payload, device_key=device.signing_public,
                                   device_id=device.device_id)
        except RekamError as exc:
            raise Rejected("bad_report", str(exc)) from None
        self.store.record_report(report, now)
        self.counts["report"] += 1
        log.info("%s reports %s %s v%s: %s", device.device_id, report.subject, report.result,
                 report.version, report.detail)


# --- the async loop ------------------------------------------------------------------------


def ingest_options(home: HqHome, broker_url: str | None, *, client_id: str | None = None,
                   connect_timeout: float = 20.0) -> ConnectOptions:
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
        address=address,
        client_id=client_id or f"rekam-hq-ingest-{socket.gethostname()}-{os.getpid()}",
        tls=TlsFiles(ident.ca_cert, ident.cert, ident.key) if address.tls else None,
        persistent=False, keepalive=30, connect_timeout=connect_timeout, max_inflight=64,
    )


Connector = Callable[[ConnectOptions], Any]


async def run_ingest(ingestor: Ingestor, options: ConnectOptions, stop: asyncio.Event, *,
                     connector: Connector | None = None, batch_size: int = 64,
                     on_ready: Callable[[], None] | None = None,
                     backoff_max: float = 30.0) -> Counter[str]:
    """Consume until ``stop``; reconnects (fresh client) with backoff on any drop."""
    from sync.uplink import Backoff

    if connector is None:
        from sync.mqtt import connect

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
                    log.info("ingest subscribed to %s on %s", INGEST_SUBSCRIPTION,
                             options.address)
                    if on_ready:
                        on_ready()
                    await _consume(link, ingestor, worker, stop, batch_size)
            except TransportError as exc:
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


def _gc_chunks(ingestor: Ingestor) -> None:
    try:
        n = ingestor.store.purge_stale_chunks(timedelta(days=7), ingestor.clock())
        if n:
            log.info("dropped %d chunks of uploads unfinished for 7 days", n)
    except SQLAlchemyError as exc:
        log.error("chunk clean-up failed: %s", str(exc).splitlines()[0])


async def _consume(link: Any, ingestor: Ingestor, worker: ThreadPoolExecutor,
                   stop: asyncio.Event, batch_size: int) -> None:
    loop = asyncio.get_running_loop()
    publishing: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(256)

    async def publish(name: str, payload: bytes) -> None:
        try:
            await link.publish(name, payload)
        except TransportError as exc:
            log.info("ack on %s not confirmed: %s (the kit sends again if it is lost)",
                     name, exc)
        finally:
            slots.release()

    messages = link.messages().__aiter__()
    stopper = asyncio.create_task(stop.wait())
    try:
        while True:
            nxt = asyncio.ensure_future(messages.__anext__())
            done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                nxt.cancel()
                return
            batch = [nxt.result()]
            while link.queued() and len(batch) < batch_size:
                batch.append(await messages.__anext__())
            acks = await loop.run_in_executor(worker, ingestor.handle_batch, batch)
            for name, payload in acks:
                await slots.acquire()
                task = asyncio.create_task(publish(name, payload))
                publishing.add(task)
                task.add_done_callback(publishing.discard)
    finally:
        stopper.cancel()
        if publishing:
            await asyncio.wait(publishing, timeout=5)
