"""The outbox: sealed packets waiting for HQ, the only durable queue on the kit.

States move one way: ``sealed`` → ``sent`` → ``acked`` → ``purged``. A packet becomes
``acked`` only on a valid signed HQ ack naming its id and the SHA-256 of its bytes (never on
an MQTT PUBACK alone). Purging drops the ciphertext (overwritten, ``secure_delete``) but keeps
the row, so after a lost kit HQ and the kit can both say exactly which packets it held.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from edge.clock import Clock, utc_now
from edge.errors import AlreadyExists, IntegrityError, NotFound
from edge.kitdb import atomic
from edge.packet import SealedPacket


class PacketState(StrEnum):
    SEALED = "sealed"
    SENT = "sent"
    ACKED = "acked"
    PURGED = "purged"


class OutboxCounts(dict[str, int]):
    """Packets per state (every :class:`PacketState` present, zero when none)."""

    @property
    def waiting(self) -> int:
        """Sealed or sent, not yet acknowledged by HQ: what the kit still owes."""
        return self[PacketState.SEALED] + self[PacketState.SENT]


@dataclass(frozen=True)
class OutboxEntry:
    packet_id: str
    state: PacketState
    size: int
    sha256: str
    created_at: datetime
    sent_at: datetime | None
    acked_at: datetime | None
    purged_at: datetime | None
    send_count: int


_COLUMNS = "packet_id, state, size, sha256, created_at, sent_at, acked_at, purged_at, send_count"


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _entry(row: tuple[object, ...]) -> OutboxEntry:
    created = _dt(str(row[4]))
    assert created is not None
    return OutboxEntry(
        packet_id=str(row[0]),
        state=PacketState(str(row[1])),
        size=int(str(row[2])),
        sha256=str(row[3]),
        created_at=created,
        sent_at=_dt(row[5] if row[5] is None else str(row[5])),
        acked_at=_dt(row[6] if row[6] is None else str(row[6])),
        purged_at=_dt(row[7] if row[7] is None else str(row[7])),
        send_count=int(str(row[8])),
    )


class Outbox:
    def __init__(self, conn: sqlite3.Connection, clock: Clock = utc_now) -> None:
        self._conn = conn
        self._clock = clock

    def ensure_schema(self) -> None:
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS outbox (
                packet_id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                acked_at TEXT,
                purged_at TEXT,
                send_count INTEGER NOT NULL DEFAULT 0,
                data BLOB  -- unused since the bytes moved to outbox_data; kept for old kits
            );
            CREATE INDEX IF NOT EXISTS outbox_state_created ON outbox (state, created_at);
            CREATE TABLE IF NOT EXISTS outbox_data (
                packet_id TEXT PRIMARY KEY REFERENCES outbox (packet_id),
                data BLOB NOT NULL
            );
            """
        )
        # Older kits kept the bytes in outbox.data: move them (once) to outbox_data, so a
        # state change never rewrites a packet's 200 KB again.
        if self._conn.execute("SELECT 1 FROM outbox WHERE data IS NOT NULL LIMIT 1").fetchone():
            with atomic(self._conn):
                self._conn.execute(
                    "INSERT OR IGNORE INTO outbox_data (packet_id, data) "
                    "SELECT packet_id, data FROM outbox WHERE data IS NOT NULL")
                self._conn.execute("UPDATE outbox SET data = NULL WHERE data IS NOT NULL")

    def add(self, packet: SealedPacket) -> OutboxEntry:
        """Store a sealed packet; durable when this returns (WAL + synchronous=FULL)."""
        now = self._clock().isoformat()
        try:
            with atomic(self._conn):
                self._conn.execute(
                    "INSERT INTO outbox (packet_id, state, size, sha256, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (packet.packet_id, PacketState.SEALED, packet.size, packet.sha256, now),
                )
                self._conn.execute("INSERT INTO outbox_data (packet_id, data) VALUES (?, ?)",
                                   (packet.packet_id, packet.data))
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"packet {packet.packet_id} is already in the outbox") from exc
        return self.get(packet.packet_id)

    def get(self, packet_id: str) -> OutboxEntry:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE packet_id = ?", (packet_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no packet {packet_id!r} in the outbox")
        return _entry(row)

    def find(self, prefix: str) -> OutboxEntry:
        """A packet by its id or an unambiguous prefix of it (technicians type short ids)."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE packet_id LIKE ? || '%' LIMIT 2", (prefix,)
        ).fetchall()
        if not rows:
            raise NotFound(f"no packet {prefix!r} in the outbox")
        if len(rows) > 1:
            raise NotFound(f"{prefix!r} matches more than one packet; give more of the id")
        return _entry(rows[0])

    def data(self, packet_id: str) -> bytes:
        row = self._conn.execute(
            "SELECT data FROM outbox_data WHERE packet_id = ?", (packet_id,)
        ).fetchone()
        if row is None:
            self.get(packet_id)  # NotFound for an unknown id
            raise NotFound(f"packet {packet_id} was acknowledged by HQ and purged from the kit")
        return bytes(row[0])

    def entries(self, state: PacketState | None = None) -> Iterator[OutboxEntry]:
        """Oldest first, streamed from SQLite, never loaded whole."""
        if state is None:
            cursor = self._conn.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY created_at")
        else:
            cursor = self._conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = ? ORDER BY created_at", (state,)
            )
        for row in cursor:
            yield _entry(row)

    def counts(self) -> OutboxCounts:
        counts = OutboxCounts({state.value: 0 for state in PacketState})
        for state, n in self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
            counts[str(state)] = int(n)
        return counts

    def received(self, since: datetime | None = None) -> int:
        """Packets HQ acknowledged, ``since`` a time or ever: purged ones too (a purge
        drops the bytes, the row stays), so the count stays true after a purge."""
        sql = "SELECT COUNT(*) FROM outbox WHERE state IN ('acked', 'purged')"
        if since is None:
            return int(self._conn.execute(sql).fetchone()[0])
        return int(self._conn.execute(sql + " AND acked_at >= ?",
                                      (since.astimezone(UTC).isoformat(),)).fetchone()[0])

    def pending(self, *, resend_after: timedelta, limit: int = 100) -> list[OutboxEntry]:
        """Packets to (re)send, oldest first: sealed ones, and sent ones whose ack is overdue."""
        cutoff = (self._clock() - resend_after).isoformat()
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 'sealed' "
            "OR (state = 'sent' AND sent_at < ?) ORDER BY created_at LIMIT ?",
            (cutoff, limit),
        ).fetchall()
        return [_entry(r) for r in rows]

    def oldest_unacked(self) -> datetime | None:
        row = self._conn.execute(
            "SELECT MIN(created_at) FROM outbox WHERE state IN ('sealed', 'sent')"
        ).fetchone()
        return _dt(None if row[0] is None else str(row[0]))

    def mark_sent(self, packet_id: str) -> None:
        with atomic(self._conn):
            cur = self._conn.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, send_count = send_count + 1 "
                "WHERE packet_id = ? AND state IN ('sealed', 'sent')",
                (self._clock().isoformat(), packet_id),
            )
        if cur.rowcount == 0:
            self.get(packet_id)  # raises NotFound for an unknown id; else already acked

    def mark_acked(self, packet_id: str, sha256: str) -> bool:
        """Record HQ's (already verified) ack. False when it was acked before (a repeat ack)."""
        entry = self.get(packet_id)
        if entry.sha256 != sha256:
            raise IntegrityError(
                f"HQ acknowledged packet {packet_id} with a different hash; keeping it queued"
            )
        if entry.state in (PacketState.ACKED, PacketState.PURGED):
            return False
        with atomic(self._conn):
            self._conn.execute(
                "UPDATE outbox SET state = 'acked', acked_at = ? WHERE packet_id = ?",
                (self._clock().isoformat(), packet_id),
            )
        return True

    def purge_acked(self, *, grace: timedelta) -> int:
        """Drop the ciphertext of packets acked longer ago than ``grace``; rows stay as a record."""
        cutoff = (self._clock() - grace).isoformat()
        with atomic(self._conn):
            self._conn.execute(
                "DELETE FROM outbox_data WHERE packet_id IN (SELECT packet_id FROM outbox "
                "WHERE state = 'acked' AND acked_at <= ?)", (cutoff,))
            cur = self._conn.execute(
                "UPDATE outbox SET state = 'purged', purged_at = ?, data = NULL "
                "WHERE state = 'acked' AND acked_at <= ?",
                (self._clock().isoformat(), cutoff),
            )
        return cur.rowcount
