"""HQ's store of received packets, chunks in reassembly, dead letters, and what kits report
about themselves. SQLAlchemy Core; the same code on SQLite and PostgreSQL.

Idempotence rules (sync/PROTOCOL.md): a packet id is stored once. The same id with the
same SHA-256 again is a duplicate (stored once, acked again); the same id with another
hash is a conflict: refused, kept as a dead letter flagged as an alert.

Several ingest processes may share the work (MQTT shared subscription), so every write is
safe against a concurrent twin: inserts ignore an existing key and re-read, and a chunk is
committed before its packet's completeness is checked, so of two workers storing the last
two chunks at least one sees the set complete.

What HQ shows of each kit from all this (``rekam-hq devices``) is :mod:`hq.fleet`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from edge.packet import PacketHeader
from hq.db import dead_letters, device_reports, device_status, packet_chunks, packets
from hq.dialect import as_utc, insert_ignore, insert_many_ignore
from sync.protocol.chunks import Chunk, assemble
from sync.protocol.status import Report, Status

MAX_KEPT_PAYLOAD = 4 * 1024 * 1024


@dataclass(frozen=True)
class StoreResult:
    status: str  # "stored", "duplicate" or "conflict"
    existing_sha256: str = ""
    existing_device: str = ""


@dataclass(frozen=True)
class NewPacket:
    device_id: str
    header: PacketHeader
    data: bytes
    sha256: str
    chunk_key: tuple[str, int] | None = None  # (sha256, count) of the chunks it came from


@dataclass(frozen=True)
class StoredPacket:
    packet_id: str
    device_id: str
    sha256: str
    size: int
    created_at: str
    received_at: datetime
    state: str
    deliveries: int


@dataclass(frozen=True)
class DeadLetter:
    id: int
    received_at: datetime
    topic: str
    device_id: str | None
    packet_id: str | None
    reason_code: str
    reason: str
    alert: bool
    size: int


class PacketStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- packets ----------------------------------------------------------------------------

    def existing_many(self, packet_ids: set[str]) -> dict[str, tuple[str, str]]:
        """packet id → (device id, sha256) for those already stored."""
        if not packet_ids:
            return {}
        with self.engine.connect() as conn:
            return {str(r[0]): (str(r[1]), str(r[2])) for r in conn.execute(
                select(packets.c.packet_id, packets.c.device_id, packets.c.sha256)
                .where(packets.c.packet_id.in_(sorted(packet_ids))))}

    def store_packets(self, items: list[NewPacket], now: datetime) -> list[StoreResult]:
        """Several packets in one transaction: one multi-row ``INSERT … ON CONFLICT DO
        NOTHING RETURNING packet_id`` for the batch (not a statement per packet); the
        packets it did not insert are then told apart, by a re-read in the same transaction,
        as duplicates (same device and hash: the delivery is counted) or conflicts. A twin
        worker inserting the same id meanwhile is seen that way, never overwritten. In the
        same transaction, drop the chunks each packet was assembled from."""
        if not items:
            return []
        first: dict[str, int] = {}  # packet id → its first item (a batch may hold it twice)
        rows: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            header = item.header
            if header.packet_id in first:
                continue
            first[header.packet_id] = i
            rows.append({
                "packet_id": header.packet_id, "device_id": item.device_id,
                "sha256": item.sha256, "size": len(item.data),
                "device_key_id": header.device_key_id, "hq_key_id": header.hq_key_id,
                "suite": header.suite, "created_at": header.created_at, "received_at": now,
                "state": "stored", "deliveries": 1, "data": item.data,
            })
        rows.sort(key=lambda row: str(row["packet_id"]))  # twin workers lock in one order
        results: list[StoreResult | None] = [None] * len(items)
        with self.engine.begin() as conn:
            inserted = insert_many_ignore(conn, packets, rows)
            for packet_id, i in first.items():
                if packet_id in inserted:
                    results[i] = StoreResult("stored")
            rest = [i for i, r in enumerate(results) if r is None]
            if rest:
                ids = sorted({items[i].header.packet_id for i in rest})
                held = {str(r[0]): (str(r[1]), str(r[2])) for r in conn.execute(
                    select(packets.c.packet_id, packets.c.device_id, packets.c.sha256)
                    .where(packets.c.packet_id.in_(ids)))}
                for i in rest:
                    item = items[i]
                    device_id, sha256 = held[item.header.packet_id]
                    if sha256 == item.sha256 and device_id == item.device_id:
                        conn.execute(update(packets)
                                     .where(packets.c.packet_id == item.header.packet_id)
                                     .values(deliveries=packets.c.deliveries + 1))
                        results[i] = StoreResult("duplicate")
                    else:
                        results[i] = StoreResult("conflict", sha256, device_id)
            for item in items:
                if item.chunk_key is not None:
                    self._drop_chunks(conn, item.device_id, item.header.packet_id,
                                      *item.chunk_key)
        return [r for r in results if r is not None]

    def existing(self, packet_id: str) -> tuple[str, str] | None:
        """(device id, sha256) of a stored packet, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(packets.c.device_id, packets.c.sha256)
                               .where(packets.c.packet_id == packet_id)).first()
        return None if row is None else (str(row[0]), str(row[1]))

    def store_packet(self, device_id: str, header: PacketHeader, data: bytes, sha256: str,
                     now: datetime, *, chunk_key: tuple[str, int] | None = None) -> StoreResult:
        """Store once; in the same transaction drop the chunks it was assembled from."""
        return self.store_packets([NewPacket(device_id, header, data, sha256, chunk_key)],
                                  now)[0]

    def count_delivery(self, packet_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(packets).where(packets.c.packet_id == packet_id)
                         .values(deliveries=packets.c.deliveries + 1))

    def packet_data(self, packet_id: str) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(packets.c.data)
                               .where(packets.c.packet_id == packet_id)).first()
        return None if row is None else bytes(row[0])

    def list_packets(self, *, device_id: str | None = None, limit: int = 1000
                     ) -> list[StoredPacket]:
        q = select(packets.c.packet_id, packets.c.device_id, packets.c.sha256, packets.c.size,
                   packets.c.created_at, packets.c.received_at, packets.c.state,
                   packets.c.deliveries).order_by(packets.c.received_at.desc()).limit(limit)
        if device_id:
            q = q.where(packets.c.device_id == device_id)
        with self.engine.connect() as conn:
            return [StoredPacket(r[0], r[1], r[2], r[3], r[4], as_utc(r[5]), r[6], r[7])
                    for r in conn.execute(q)]

    def count_packets(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(packets)).scalar_one())

    # --- chunks -------------------------------------------------------------------------

    def store_chunks(self, items: list[tuple[str, Chunk]], now: datetime) -> None:
        """(device id, chunk) pairs in one transaction; chunks already held are ignored."""
        if not items:
            return
        rows = [{"device_id": device_id, "packet_id": c.packet_id, "sha256": c.sha256,
                 "count": c.count, "idx": c.index, "offset": c.offset, "total": c.total,
                 "received_at": now, "data": c.data} for device_id, c in items]
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                conn.execute(pg_insert(packet_chunks).on_conflict_do_nothing(), rows)
            elif conn.dialect.name == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                conn.execute(sqlite_insert(packet_chunks).on_conflict_do_nothing(), rows)
            else:  # pragma: no cover
                for row in rows:
                    insert_ignore(conn, packet_chunks, row)

    def chunk_counts(self, keys: set[tuple[str, str, str, int]]
                     ) -> dict[tuple[str, str, str, int], int]:
        """Of (device, packet id, sha256, count) sets, how many chunks the table holds."""
        if not keys:
            return {}
        c = packet_chunks.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.device_id, c.packet_id, c.sha256, c.count, func.count())
                .where(c.packet_id.in_(sorted({k[1] for k in keys})))
                .group_by(c.device_id, c.packet_id, c.sha256, c.count)).all()
        found = {(r[0], r[1], r[2], r[3]): int(r[4]) for r in rows}
        return {k: found[k] for k in keys if k in found}

    def chunk_indexes(self, keys: set[tuple[str, str, str, int]]
                      ) -> dict[tuple[str, str, str, int], set[int]]:
        """Of (device, packet id, sha256, count) sets, the chunk indexes the table holds
        (no bytes read)."""
        if not keys:
            return {}
        c = packet_chunks.c
        found: dict[tuple[str, str, str, int], set[int]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(select(c.device_id, c.packet_id, c.sha256, c.count, c.idx)
                                  .where(c.packet_id.in_(sorted({k[1] for k in keys})))):
                key = (r[0], r[1], r[2], int(r[3]))
                if key in keys:
                    found.setdefault(key, set()).add(int(r[4]))
        return found

    def chunk_pieces(self, key: tuple[str, str, str, int], indexes: set[int]
                     ) -> list[tuple[int, int, bytes]]:
        """(index, offset, bytes) of the given chunks of one set, as far as the table still
        holds them (a twin worker may have completed the packet and dropped them)."""
        if not indexes:
            return []
        c = packet_chunks.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.idx, c.offset, c.data)
                                .where(self._chunk_filter(*key), c.idx.in_(sorted(indexes))))
            return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    def complete_sets(self, keys: set[tuple[str, str, str, int]]
                      ) -> list[tuple[str, str, str, int]]:
        """Of (device, packet id, sha256, count) sets, those with every chunk stored."""
        return [key for key, held in self.chunk_counts(keys).items() if held >= key[3]]

    def assemble_set(self, device_id: str, packet_id: str, sha256: str, count: int,
                     total: int) -> bytes | None:
        where = self._chunk_filter(device_id, packet_id, sha256, count)
        c = packet_chunks.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.idx, c.offset, c.data).where(where)).all()
        if len(rows) < count:
            return None  # a twin worker assembled it and dropped the chunks meanwhile
        return assemble([(int(r[0]), int(r[1]), bytes(r[2])) for r in rows], total=total,
                        count=count, sha256=sha256)

    def store_chunk(self, device_id: str, chunk: Chunk, now: datetime) -> None:
        with self.engine.begin() as conn:
            insert_ignore(conn, packet_chunks, {
                "device_id": device_id, "packet_id": chunk.packet_id, "sha256": chunk.sha256,
                "count": chunk.count, "idx": chunk.index, "offset": chunk.offset,
                "total": chunk.total, "received_at": now, "data": chunk.data,
            })

    def _chunk_filter(self, device_id: str, packet_id: str, sha256: str, count: int) -> Any:
        c = packet_chunks.c
        return and_(c.device_id == device_id, c.packet_id == packet_id, c.sha256 == sha256,
                    c.count == count)

    def assemble(self, device_id: str, chunk: Chunk) -> bytes | None:
        """The whole packet once every chunk is in; None while some are missing."""
        where = self._chunk_filter(device_id, chunk.packet_id, chunk.sha256, chunk.count)
        c = packet_chunks.c
        with self.engine.connect() as conn:
            have = conn.execute(select(func.count()).select_from(packet_chunks)
                                .where(where)).scalar_one()
            if have < chunk.count:
                return None
            rows = conn.execute(select(c.idx, c.offset, c.data).where(where)).all()
        pieces = [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]
        if len(pieces) < chunk.count:
            return None  # a twin worker assembled it and dropped the chunks meanwhile
        return assemble(pieces, total=chunk.total, count=chunk.count, sha256=chunk.sha256)

    def _drop_chunks(self, conn: Connection, device_id: str, packet_id: str, sha256: str,
                     count: int) -> None:
        conn.execute(delete(packet_chunks)
                     .where(self._chunk_filter(device_id, packet_id, sha256, count)))

    def drop_chunks(self, device_id: str, chunk: Chunk) -> None:
        with self.engine.begin() as conn:
            self._drop_chunks(conn, device_id, chunk.packet_id, chunk.sha256, chunk.count)

    def purge_stale_chunks(self, older_than: timedelta, now: datetime) -> int:
        """Chunks of uploads never finished (the kit sends the whole packet again)."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(packet_chunks)
                                  .where(packet_chunks.c.received_at < now - older_than))
        return int(result.rowcount or 0)

    def chunks_pending(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(packet_chunks))
                       .scalar_one())

    # --- dead letters -----------------------------------------------------------------------

    def dead_letter(self, *, topic: str, payload: bytes, reason_code: str, reason: str,
                    now: datetime, device_id: str | None = None, packet_id: str | None = None,
                    alert: bool = False) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(dead_letters).values(
                received_at=now, topic=topic[:1000], device_id=device_id,
                packet_id=packet_id, reason_code=reason_code[:32], reason=reason[:2000],
                alert=alert, size=len(payload),
                payload_sha256=hashlib.sha256(payload).hexdigest(),
                payload=payload[:MAX_KEPT_PAYLOAD],
            ))

    def list_dead_letters(self, *, limit: int = 1000) -> list[DeadLetter]:
        d = dead_letters.c
        q = (select(d.id, d.received_at, d.topic, d.device_id, d.packet_id, d.reason_code,
                    d.reason, d.alert, d.size).order_by(d.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [DeadLetter(r[0], as_utc(r[1]), r[2], r[3], r[4], r[5], r[6], bool(r[7]),
                               r[8]) for r in conn.execute(q)]

    def dead_letter_counts(self) -> dict[str, int]:
        d = dead_letters.c
        with self.engine.connect() as conn:
            return {str(r[0]): int(r[1]) for r in conn.execute(
                select(d.reason_code, func.count()).group_by(d.reason_code))}

    # --- heartbeats and reports -----------------------------------------------------------

    def record_status(self, status: Status, now: datetime) -> bool:
        """Keep the newest heartbeat per kit (an older one arriving late is ignored)."""
        values = {
            "state": status.state, "at": status.at, "session": status.session,
            "received_at": now,
            "queue_depth": status.queue_depth, "oldest_queued": status.oldest_queued,
            "free_disk_mb": status.free_disk_mb, "software_version": status.software_version,
            "roster_version": status.roster_version,
            "body": json.dumps(status.to_body(), sort_keys=True),
        }
        with self.engine.begin() as conn:
            if insert_ignore(conn, device_status, {"device_id": status.device_id, **values}):
                return True
            s = device_status.c
            row = conn.execute(select(s.session, s.state, s.at)
                               .where(s.device_id == status.device_id)).one()
            if (row[0], row[1] == "offline", as_utc(row[2])) > status.order():
                return False
            conn.execute(update(device_status)
                         .where(device_status.c.device_id == status.device_id).values(**values))
        return True

    def record_report(self, report: Report, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(device_reports).values(
                device_id=report.device_id, at=report.at, received_at=now,
                subject=report.subject[:16], result=report.result[:16],
                version=report.version, detail=report.detail))

    def reports(self, device_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        r = device_reports.c
        q = select(r.device_id, r.at, r.subject, r.result, r.version, r.detail).order_by(
            r.id.desc()).limit(limit)
        if device_id:
            q = q.where(r.device_id == device_id)
        with self.engine.connect() as conn:
            return [{"device_id": x[0], "at": as_utc(x[1]), "subject": x[2], "result": x[3],
                     "version": x[4], "detail": x[5]} for x in conn.execute(q)]
