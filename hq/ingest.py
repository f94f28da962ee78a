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
refused with a reason, counted, and kept in ``dead_letters``; no input crashes ingest.

Crashes and restarts cost seconds and lose nothing (sync/PROTOCOL.md): each worker keeps a
persistent session under a stable id (``--instance``) and PUBACKs a message only once the
database holds it, so the broker keeps a dead worker's share and unacknowledged messages for
its next process; a database that goes away means no ack for the batch, a wait for the
database and the batch again from the broker; and every connection announces the worker on
``rekam/v1/hq/online`` (retained) so kits re-send at once what a lost broker state dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.clock import Clock, utc_now
from edge.errors import InvalidInput, NotFound, RekamError
from edge.keys import SealingPublicKey, b64, key_id, unb64
from edge.packet import PacketHeader
from hq.accept import Rejected, accept_packet, check_device
from hq.devices import Device, get_device
from hq.home import HqHome, HqKeys
from hq.packets import NewPacket, PacketStore
from sync.errors import ProtocolError, TransportError
from sync.mqtt import BrokerAddress, ConnectOptions, Incoming, TlsFiles
from sync.protocol import (
    INGEST_SUBSCRIPTION,
    MAX_PACKET_SIZE,
    ONLINE_TOPIC,
    Ack,
    AckStatus,
    Channel,
    Chunk,
    Online,
    assemble,
    decode_chunk,
    parse_topic,
    sign_ack,
    sign_online,
    topic,
    verify_report,
    verify_status,
)

log = logging.getLogger("rekam.ingest")

DEVICE_CACHE_SECONDS = 30.0
CLEAR_RETAINED = b""  # published retained on a kit's down/worklist once it staged it
HOLD_SECONDS = 1.0  # the longest chunks wait in memory for the rest of their packet
HOLD_IDLE = 0.05  # ... and the longest they wait for the next message when none is queued

_SetKey = tuple[str, str, str, int]  # (device id, packet id, sha256, chunk count)


@dataclass(frozen=True)
class _Item:
    device: Device
    chunk: Chunk
    name: str
    payload: bytes
    source: Incoming | None = None  # the message it came in (PUBACKed once it is durable)

    @property
    def set_key(self) -> _SetKey:
        c = self.chunk
        return (self.device.device_id, c.packet_id, c.sha256, c.count)


@dataclass
class Prepared:
    """A batch checked and ready to store (:meth:`Ingestor.prepare_batch`)."""

    now: datetime
    out: list[tuple[str, bytes]] = field(default_factory=list)  # acks due whatever happens
    packets: list[NewPacket] = field(default_factory=list)  # verified, to store
    # The messages HQ's database holds once this batch commits (stored, written to the
    # chunk table, refused into a dead letter, a status or report kept): the ingest loop
    # PUBACKs them to the broker then, and only then. Chunks still held in memory are not.
    settled: list[Incoming] = field(default_factory=list)


class DatabaseUnavailable(RekamError):
    """HQ's database cannot be reached (or is busy) for a whole batch: nothing of it is
    acknowledged, to the broker or to a kit; the ingest loop waits for the database and
    takes the batch again from the broker (persistent session: unacknowledged messages
    come again on reconnect)."""


@dataclass
class _Held:
    """Chunks of one packet kept in memory between batches (see Ingestor.handle_batch)."""

    parts: dict[int, _Item]
    since: float  # monotonic


def _transient(exc: SQLAlchemyError) -> bool:
    """The database is unreachable or busy (retry the whole batch later), as opposed to a
    statement it refuses (a bad row: find it and refuse only it)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _unavailable(what: str, exc: SQLAlchemyError) -> DatabaseUnavailable:
    return DatabaseUnavailable(f"HQ's database is unavailable ({what}): "
                               f"{str(exc).splitlines()[0][:300]}")


def _topic_device(name: str) -> str | None:
    try:
        return parse_topic(name)[0]
    except ProtocolError:
        return None


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
        self._counts_lock = threading.Lock()
        self._devices: dict[str, tuple[float, Device]] = {}
        self._held: dict[_SetKey, _Held] = {}

    @property
    def holding(self) -> bool:
        """Chunks wait in memory: call :meth:`flush` within HOLD_IDLE if nothing comes."""
        return bool(self._held)

    def reset(self) -> None:
        """Forget chunks held in memory (their messages were never PUBACKed: the broker
        sends them again when the session reconnects) and the device cache."""
        self._held = {}
        self._devices = {}

    def flush(self) -> list[tuple[str, bytes]]:
        """Write every chunk held in memory to the chunk table; the acks of packets that
        this completes (with chunks a twin worker wrote)."""
        return self.handle_batch([]) if self._held else []

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

    def handle(self, name: str, payload: bytes) -> tuple[str, bytes] | None:
        """One message; (ack topic, signed ack) when one is due. Never raises on input."""
        acks = self.handle_batch([Incoming(name, payload, False)])
        return acks[0] if acks else None

    def handle_batch(self, batch: Sequence[Incoming], *, hold: bool = False
                     ) -> list[tuple[str, bytes]]:
        """A batch of messages with a few commits in all (not a few per chunk): the acks to
        publish, each after its packet was committed. Never raises on input; a database
        that cannot be reached raises :class:`DatabaseUnavailable` (nothing of the batch is
        acked). The same as :meth:`commit_batch` of :meth:`prepare_batch`."""
        return self.commit_batch(self.prepare_batch(batch, hold=hold))

    def prepare_batch(self, batch: Sequence[Incoming], *, hold: bool = False) -> Prepared:
        """Everything but storing the batch's whole packets: classify, refuse, reassemble,
        check hashes, headers and signatures. The ingest loop prepares the next batch while
        the previous one commits (see :meth:`commit_batch`).

        Packets whose every chunk is in the batch are assembled in memory. With ``hold``,
        the chunks of a packet still incomplete stay in memory while each batch brings the
        next of them (at most HOLD_SECONDS), so a packet cut by a batch boundary is
        assembled with the next batch instead of going through the chunk table (its bytes
        written once, not three times). Chunks are written to the chunk table, and their
        packet's completeness checked there, as soon as a batch brings none of the missing
        ones or they arrive out of order (a twin worker is given the others, or the kit's
        link dropped), when the rest is in the table already, when held too long, on any
        batch without ``hold`` and on :meth:`flush`. Nothing is acked before its packet is
        committed, and held chunks are not in :attr:`Prepared.settled` (not PUBACKed), so
        held chunks lost in a crash come again from the broker."""
        now = self.clock()
        prepared = Prepared(now)
        out = prepared.out
        held, self._held = self._held, {}
        items: list[_Item] = [i for h in held.values() for i in h.parts.values()]
        earlier = [i.source for i in items if i.source is not None]
        for message in batch:
            device_id = _topic_device(message.topic)
            try:
                item = self._classify(message.topic, message.payload, now, out)
                if item is not None:
                    items.append(replace(item, source=message))
            except Rejected as rej:
                self._reject(rej, message.topic, message.payload, device_id, now, out)
            except SQLAlchemyError as exc:
                self._db_error(message.topic, exc)
            except DatabaseUnavailable:
                raise
            except Exception as exc:  # never crash on input: keep it for a person
                log.exception("unexpected error on %s", message.topic)
                self._reject(Rejected("internal", f"{type(exc).__name__}: {exc}"),
                             message.topic, message.payload, device_id, now, out)
        if items:
            try:
                prepared.packets = self._packets(items, now, out, held if hold else None)
            except SQLAlchemyError as exc:
                self._db_error(f"{len(items)} packet messages", exc)
            except DatabaseUnavailable:
                raise
            except Exception as exc:
                log.exception("unexpected error storing packets")
                for item in items:
                    self._reject(Rejected("internal", f"{type(exc).__name__}: {exc}"),
                                 item.name, item.payload, item.device.device_id, now, out)
        still_held = {id(i.source) for h in self._held.values() for i in h.parts.values()}
        prepared.settled = [m for m in (*earlier, *batch) if id(m) not in still_held]
        return prepared

    def commit_batch(self, prepared: Prepared) -> list[tuple[str, bytes]]:
        """Store a prepared batch's packets in one transaction; the batch's acks (those
        of its packets only once committed). Safe on another thread than
        :meth:`prepare_batch`: it only touches the database (its own connection), the
        counters (under a lock) and HQ's signing key."""
        out, now = prepared.out, prepared.now
        if not prepared.packets:
            return out
        try:
            results = self.store.store_packets(prepared.packets, now)
        except SQLAlchemyError as exc:
            if _transient(exc):
                raise _unavailable(f"storing {len(prepared.packets)} packets", exc) from None
            if len(prepared.packets) == 1:
                self._store_failed(prepared.packets[0], exc, now, out)
                return out
            # One packet the database refuses must not hold back its batch mates: store
            # them one by one, and refuse (dead letter, rejected ack) only the one that fails.
            self._count("batch_split")
            log.warning("a batch of %d packets failed (%s); storing them one by one",
                        len(prepared.packets), str(exc).splitlines()[0])
            for packet in prepared.packets:
                self.commit_batch(Prepared(now, out, [packet]))
            return out
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            log.exception("unexpected error storing packets")
            for packet in prepared.packets:
                self._reject(Rejected("internal", f"{type(exc).__name__}: {exc}"),
                             topic(packet.device_id, Channel.PACKET), packet.data,
                             packet.device_id, now, out)
            return out
        for packet, result in zip(prepared.packets, results, strict=True):
            packet_id = packet.header.packet_id
            if result.status == "conflict":
                self._reject(Rejected(
                    "conflict", f"packet {packet_id} is already stored with another hash "
                    f"({result.existing_sha256[:16]}… from {result.existing_device})",
                    packet_id, packet.sha256, alert=True),
                    topic(packet.device_id, Channel.PACKET), packet.data, packet.device_id,
                    now, out)
                continue
            status = AckStatus.STORED if result.status == "stored" else AckStatus.DUPLICATE
            self._ack(Ack(packet.device_id, packet_id, packet.sha256, status, now), out)
        return out

    def _store_failed(self, packet: NewPacket, exc: SQLAlchemyError, now: datetime,
                      out: list[tuple[str, bytes]]) -> None:
        self._reject(Rejected("store_failed", "HQ's database refused the packet: "
                              f"{str(exc).splitlines()[0][:200]}", packet.header.packet_id,
                              packet.sha256, alert=True),
                     topic(packet.device_id, Channel.PACKET), packet.data, packet.device_id,
                     now, out)

    def _count(self, name: str, n: int = 1) -> None:
        with self._counts_lock:  # prepare and commit may run on two threads
            self.counts[name] += n

    def _db_error(self, what: str, exc: SQLAlchemyError) -> None:
        """A statement the database refused (kept as before: counted, logged, not acked);
        a database that cannot be reached raises DatabaseUnavailable (the whole batch)."""
        if _transient(exc):
            raise _unavailable(what, exc) from None
        self._count("db_error")
        log.error("database error on %s (not acked; the kit will send again): %s", what,
                  str(exc).splitlines()[0])

    def _classify(self, name: str, payload: bytes, now: datetime,
                  out: list[tuple[str, bytes]]) -> _Item | None:
        try:
            device_id, channel = parse_topic(name)
        except ProtocolError as exc:
            raise Rejected(exc.reason, str(exc)) from None
        if not channel.uplink:
            raise Rejected("wrong_direction", f"{channel.value} is not an uplink topic")
        device = self._device(device_id)
        check_device(device)
        if channel is Channel.STATUS:
            self._status(device, payload, now)
            return None
        if channel is Channel.REPORT:
            self._report(device, payload, now, out)
            return None
        try:
            chunk = decode_chunk(payload, max_packet=self.max_packet)
        except ProtocolError as exc:
            raise Rejected(exc.reason if exc.reason != "malformed" else "malformed_chunk",
                           str(exc)) from None
        if chunk.whole and hashlib.sha256(chunk.data).hexdigest() != chunk.sha256:
            raise Rejected("hash_mismatch", f"packet {chunk.packet_id} does not match its "
                           "sha256", chunk.packet_id, chunk.sha256)
        return _Item(device, chunk, name, payload)

    def _reject(self, rej: Rejected, name: str, payload: bytes, device_id: str | None,
                now: datetime, out: list[tuple[str, bytes]]) -> None:
        self._count(rej.code)
        (log.error if rej.alert else log.warning)(
            "%srefused %s (%s): %s", "ALERT: " if rej.alert else "", name, rej.code, rej.reason)
        try:
            self.store.dead_letter(topic=name, payload=payload, reason_code=rej.code,
                                   reason=rej.reason, now=now, device_id=device_id,
                                   packet_id=rej.packet_id, alert=rej.alert)
        except SQLAlchemyError as exc:
            if _transient(exc):  # taken again from the broker once the database is back
                raise _unavailable(f"a dead letter of {name}", exc) from None
            log.error("cannot keep the dead letter: %s", str(exc).splitlines()[0])
        if device_id and rej.packet_id and rej.sha256:  # tell the kit why (it keeps it)
            self._ack(Ack(device_id, rej.packet_id, rej.sha256, AckStatus.REJECTED, now,
                          reason=f"{rej.code}: {rej.reason}"[:300]), out)

    def _ack(self, ack: Ack, out: list[tuple[str, bytes]]) -> None:
        if ack.status is not AckStatus.REJECTED:
            self._count(ack.status.value)
        out.append((topic(ack.device_id, Channel.ACK), sign_ack(ack, self.keys.signing)))

    # --- packets ----------------------------------------------------------------------

    def _packets(self, items: list[_Item], now: datetime, out: list[tuple[str, bytes]],
                 held: dict[_SetKey, _Held] | None) -> list[NewPacket]:
        """The whole packets, verified, for :meth:`commit_batch` to store."""
        store = self.store
        known = store.existing_many({i.chunk.packet_id for i in items})
        wholes: list[tuple[_Item, bytes, tuple[str, int] | None]] = []
        chunks: list[_Item] = []
        repeats: list[str] = []
        for item in items:
            chunk, device_id = item.chunk, item.device.device_id
            if known.get(chunk.packet_id) == (device_id, chunk.sha256):
                # Sent again after a lost ack: ack once per send (on its last chunk).
                if chunk.index == chunk.count - 1:
                    repeats.append(chunk.packet_id)
                    self._ack(Ack(device_id, chunk.packet_id, chunk.sha256,
                                  AckStatus.DUPLICATE, now), out)
                continue
            if chunk.whole:
                wholes.append((item, chunk.data, None))
            else:
                chunks.append(item)
        for packet_id in repeats:
            store.count_delivery(packet_id)
        chunks, incomplete = self._complete_in_batch(chunks, wholes)
        if held is None:
            hold: dict[_SetKey, _Held] = {}
        else:
            # Held while it grows in order (a kit streams a packet's chunks in order; a
            # gap means a twin worker on the shared subscription is given the others).
            hold = {key: _Held(parts, held[key].since if key in held else time.monotonic())
                    for key, parts in incomplete.items()
                    if max(parts) - min(parts) + 1 == len(parts)
                    and (key not in held or (len(parts) > len(held[key].parts)
                                             and time.monotonic() - held[key].since
                                             <= HOLD_SECONDS))}
            # The rest of a set that does not start at chunk 0 may be in the chunk table
            # already (a resumed send, a twin worker's share): then writing completes it,
            # holding would only wait.
            resumed = {key for key, h in hold.items() if min(h.parts) > 0}
            for key, n in store.chunk_counts(resumed).items():
                if n + len(hold[key].parts) >= key[3]:
                    del hold[key]
        self._held = hold
        for key, parts in incomplete.items():
            if key not in hold:
                chunks.extend(parts.values())  # to the chunk table, now ...
        chunks = self._complete_from_table(chunks, wholes)  # ... unless the table has the rest
        if chunks:
            store.store_chunks([(i.device.device_id, i.chunk) for i in chunks], now)
            sets: dict[_SetKey, _Item] = {i.set_key: i for i in chunks}
            complete = set(store.complete_sets(set(sets)))
            self._count("chunk", sum(1 for key in sets if key not in complete))
            for key in complete:
                item = sets[key]
                try:
                    data = store.assemble_set(*key, total=item.chunk.total)
                except ProtocolError as exc:
                    store.drop_chunks(key[0], item.chunk)
                    self._reject(Rejected(exc.reason, f"packet {key[1]}: {exc}", key[1],
                                          key[2]), item.name, item.payload, key[0], now, out)
                    continue
                if data is not None:
                    wholes.append((item, data, (key[2], key[3])))
        verified: list[NewPacket] = []
        for item, data, chunk_key in wholes:
            try:
                header = self._verify(item.device, item.chunk.packet_id, item.chunk.sha256,
                                      data)
            except Rejected as rej:
                if chunk_key is not None:
                    store.drop_chunks(item.device.device_id, item.chunk)
                self._reject(rej, item.name, data, item.device.device_id, now, out)
                continue
            verified.append(NewPacket(item.device.device_id, header, data, item.chunk.sha256,
                                      chunk_key))
        return verified

    def _complete_from_table(self, chunks: list[_Item],
                             wholes: list[tuple[_Item, bytes, tuple[str, int] | None]]
                             ) -> list[_Item]:
        """Packets whose missing chunks the chunk table holds (a twin worker's share on the
        shared subscription, an earlier send's, or our own earlier batches') are assembled
        from memory and the table, without writing this batch's chunks: they go to
        ``wholes``, and their set is dropped from the table when the packet is stored.
        Returns the chunks still to be written. One query without bytes for all the sets;
        the bytes only of the sets it completes.

        Still safe against a twin doing the same at once: a set that cannot complete here
        is written, committed, and only then checked (as before), so of two workers
        holding the two halves of a packet, the later to commit sees it complete."""
        groups: dict[_SetKey, dict[int, _Item]] = {}
        for item in chunks:
            groups.setdefault(item.set_key, {})[item.chunk.index] = item
        if not groups:
            return chunks
        in_table = self.store.chunk_indexes(set(groups))
        rest: list[_Item] = []
        for key, parts in groups.items():
            count = key[3]
            have = in_table.get(key, set())
            missing = have - set(parts)
            if len(set(parts) | have) != count:
                rest.extend(parts.values())
                continue
            pieces = self.store.chunk_pieces(key, missing)
            if len(pieces) != len(missing):  # a twin completed it meanwhile: the durable
                rest.extend(parts.values())  # path finds out and reports
                continue
            first = parts[min(parts)]
            try:
                data = assemble([*pieces, *((i, p.chunk.offset, p.chunk.data)
                                            for i, p in parts.items())],
                                total=first.chunk.total, count=count, sha256=key[2])
            except ProtocolError:
                rest.extend(parts.values())  # the durable path reports it
                continue
            self._count("chunks_joined", len(missing))
            wholes.append((first, data, (key[2], count)))
        return rest

    @staticmethod
    def _complete_in_batch(chunks: list[_Item],
                           wholes: list[tuple[_Item, bytes, tuple[str, int] | None]]
                           ) -> tuple[list[_Item], dict[_SetKey, dict[int, _Item]]]:
        """Packets whose every chunk is in this batch are assembled in memory (into
        ``wholes``). Returns the chunks for the chunk table now (sets that do not assemble:
        the durable path reports them) and the incomplete sets."""
        groups: dict[_SetKey, dict[int, _Item]] = {}
        for item in chunks:
            groups.setdefault(item.set_key, {})[item.chunk.index] = item
        rest: list[_Item] = []
        incomplete: dict[_SetKey, dict[int, _Item]] = {}
        for key, parts in groups.items():
            _, _, sha256, count = key
            first = parts[min(parts)]
            if len(parts) == count:
                try:
                    data = assemble([(i, p.chunk.offset, p.chunk.data) for i, p in parts.items()],
                                    total=first.chunk.total, count=count, sha256=sha256)
                except ProtocolError:
                    rest.extend(parts.values())  # let the durable path report it
                    continue
                wholes.append((first, data, None))
            else:
                incomplete[key] = parts
        return rest, incomplete

    def _verify(self, device: Device, packet_id: str, sha256: str, data: bytes
                ) -> PacketHeader:
        return accept_packet(device, self.keys, data, packet_id=packet_id, sha256=sha256)

    # --- status and reports -----------------------------------------------------------------

    def _status(self, device: Device, payload: bytes, now: datetime) -> None:
        try:
            status = verify_status(payload, device_key=device.signing_public,
                                   device_id=device.device_id)
        except RekamError as exc:
            raise Rejected("bad_status", str(exc)) from None
        self.store.record_status(status, now)
        self._count("status")
        if status.worklist_key is not None and device.worklist_key is None:
            self._adopt_worklist_key(device, status.worklist_key)
        elif (status.worklist_key is not None and device.worklist_key is not None
              and status.worklist_key != b64(device.worklist_key.raw)):
            self._count("worklist_key_refused")
            log.error("ALERT: %s announces worklist key %s, not the one HQ holds (%s): kept "
                      "HQ's; its worklists stay sealed to that", device.device_id,
                      key_id(unb64(status.worklist_key, "worklist key")),
                      device.worklist_key.key_id)
        from hq.anchors import record_head

        for alert in record_head(self.engine, device.device_id, status.audit_head, status.at,
                                 "heartbeat" if status.state == "online" else "last will",
                                 now):
            self._count("audit_alert")
            log.error("ALERT: %s: %s", device.device_id, alert.detail)

    def _adopt_worklist_key(self, device: Device, announced: str) -> None:
        from hq.devices import adopt_worklist_key

        key = SealingPublicKey(unb64(announced, "worklist key"))
        outcome = adopt_worklist_key(self.engine, device.device_id, key)
        self._devices.pop(device.device_id, None)  # read it again, key included
        if outcome == "adopted":
            log.info("%s announced its worklist key %s: its worklists are sealed to it from "
                     "now on", device.device_id, key.key_id)

    def _report(self, device: Device, payload: bytes, now: datetime,
                out: list[tuple[str, bytes]]) -> None:
        try:
            report = verify_report(payload, device_key=device.signing_public,
                                   device_id=device.device_id)
        except RekamError as exc:
            raise Rejected("bad_report", str(exc)) from None
        self.store.record_report(report, now)
        self._count("report")
        log.info("%s reports %s %s v%s: %s", device.device_id, report.subject, report.result,
                 report.version, report.detail)
        if (report.subject == "worklist" and report.result in ("staged", "applied")
                and report.version is not None
                and report.version >= get_device(self.engine, device.device_id).worklist_version):
            # The kit holds the newest worklist HQ made for it: the broker need not keep
            # a copy any longer (an empty retained message clears it, MQTT 3.3.1.3).
            out.append((topic(device.device_id, Channel.WORKLIST), CLEAR_RETAINED))


# --- the async loop ------------------------------------------------------------------------

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
    (``instance``: systemd's ``%i``), messages PUBACKed only once the database holds them."""
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
    from sync.uplink import Backoff

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

    from sync.uplink import Backoff

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
    broker then (not before: a worker killed before its commit leaves them unacknowledged
    in its session, and the broker sends them again to its next incarnation). At most
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

    def deliver(acks: list[tuple[str, bytes]], settled: list[Incoming],
                taken: int) -> None:  # on this loop
        for message in settled:  # HQ's database holds them: the broker may forget them
            link.ack(message)
        for _ in range(taken):
            room.release()
        for name, payload in acks:
            task = asyncio.create_task(publish(name, payload))
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
