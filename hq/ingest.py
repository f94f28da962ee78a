"""HQ ingest's message handler (:class:`Ingestor`) behind ``rekam-hq ingest [--broker URL]``,
whose loop is :mod:`hq.ingest_worker` (and a batch's parts :mod:`hq.ingest_batch`).

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
database holds it and the broker holds the kit's ack, so the broker keeps a dead worker's
share and unacknowledged messages for its next process; a database that goes away means no
ack for the batch, a wait for the database and the batch again from the broker; and every
connection announces the worker on ``rekam/v1/hq/online`` (retained) so kits re-send at
once what a lost broker state dropped.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.clock import Clock, utc_now
from edge.errors import NotFound, RekamError
from edge.keys import SealingPublicKey, b64, key_id, unb64
from edge.packet import PacketHeader
from hq.accept import Rejected, accept_packet, check_device
from hq.devices import Device, get_device
from hq.home import HqKeys
from hq.ingest_batch import (
    DatabaseUnavailable,
    Prepared,
    _Held,
    _Item,
    _SetKey,
    _topic_device,
    _transient,
    _unavailable,
)
from hq.packets import NewPacket, PacketStore
from sync.errors import ProtocolError
from sync.mqtt import Incoming
from sync.protocol.acks import Ack, AckStatus, sign_ack
from sync.protocol.chunks import MAX_PACKET_SIZE, assemble, decode_chunk
from sync.protocol.status import verify_report, verify_status
from sync.protocol.topics import Channel, parse_topic, topic

log = logging.getLogger("rekam.ingest")

DEVICE_CACHE_SECONDS = 30.0
CLEAR_RETAINED = b""  # published retained on a kit's down/worklist once it staged it
HOLD_SECONDS = 1.0  # the longest chunks wait in memory for the rest of their packet


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
