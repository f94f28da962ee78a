"""The kit's audit log: append-only, each entry hashing the one before it.

Every login, refusal, lockout, approval, operator change and enrolment step is appended as an
:class:`AuditEntry` to the ``audit`` table of ``kit.db``. Entry *n* stores

    hash = SHA-256( prev_hash  ||  canonical_json({"seq", "at", "actor", "action", "detail"}) )

as lowercase hex, where ``prev_hash`` is the hash of entry *n-1* (64 zeros for entry 1) taken as
ASCII text, ``at`` is the ISO 8601 UTC time of the entry and ``canonical_json`` is
:func:`edge.canonical.canonical_json`. SQLite triggers abort any ``UPDATE`` or ``DELETE`` and any
insert that is not the next entry of the chain, so the kit's own code cannot rewrite history.

What the chain can and cannot prove
-----------------------------------
:meth:`AuditLog.verify` finds an entry that was edited, deleted from the middle, or moved,
by someone who went around the triggers (``DROP TRIGGER``, or a copy of the file). It cannot
find, on its own:

* the newest entries cut off the end (the rest is still a valid chain), or
* a chain rewritten from the tampered entry onwards (the hash is unkeyed: anyone who can write
  the file can recompute it).

Both are caught only against an **external anchor**: a ``(seq, hash)`` head that left the kit
earlier. HQ receives the head in the kit's status messages; pass the last one HQ saw as
``verify(expected_head=...)``.

What goes in ``detail``
-----------------------
``detail`` is for ids, counts, hashes and reasons. It must **never** hold a PIN, a key, a
biometric sample or template, or resident data (NIK, name, address): the log is kept in the
clear and leaves the kit. Keeping it so is the caller's job; :meth:`AuditLog.append` refuses
only the obvious mistakes (bytes values, keys named like a PIN or a key).
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from edge.canonical import canonical_json
from edge.clock import Clock, utc_now
from edge.errors import InvalidInput
from edge.kitdb import atomic

ZERO_HASH = "0" * 64
"""``prev_hash`` of the first entry."""

_PAGE = 500
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"pin", "old_pin", "new_pin", "password", "passphrase", "secret", "roster_key", "kek"}
)
_COLUMNS = "seq, at, actor, action, detail, prev_hash, hash"


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str,
               detail: dict[str, Any]) -> str:
    """The chain hash of one entry (see the module docstring); ``at`` is the stored ISO text."""
    body = {"seq": seq, "at": at, "actor": actor, "action": action, "detail": detail}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with everything needed to recompute :attr:`hash`."""
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "action": self.action, "detail": self.detail, "prev_hash": self.prev_hash,
                "hash": self.hash}


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :meth:`AuditLog.verify`.

    ``count`` is the number of entries found intact (all of them when ``ok``); ``problem`` is
    one plain line and ``seq`` the first entry at fault, both ``None`` when ``ok``.
    """

    ok: bool
    count: int
    problem: str | None = None
    seq: int | None = None


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (datetimes as ISO text, enums as their value)."""
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"audit detail {where}: keys must be text, got {key!r}")
            out[key] = _plain(v, f"{where}.{key}")
        return out
    raise InvalidInput(
        f"audit detail {where}: {type(value).__name__} is not allowed (ids, counts, text only)"
    )


def _clean_detail(detail: dict[str, Any]) -> dict[str, Any]:
    for key in detail:
        if key.lower() in _FORBIDDEN_DETAIL_KEYS:
            raise InvalidInput(f"audit detail must not hold secrets: drop the {key!r} field")
    plain = _plain(detail, "detail")
    try:
        # Round trip once, so the entry we return is exactly what verify() will read back.
        parsed: dict[str, Any] = json.loads(canonical_json(plain))
    except ValueError as exc:
        raise InvalidInput(f"audit detail is not valid JSON data: {exc}") from None
    return parsed


def _label(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or not value.isprintable():
        raise InvalidInput(f"audit {what} must be 1-64 printable characters, got {value!r}")
    return value


def _utc_iso(when: datetime) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput("the clock returned a naive datetime; the audit log needs UTC")
    return when.astimezone(UTC).isoformat()


def _range(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} is missing: it was deleted"
    return f"entries {first} to {last} are missing: they were deleted"


class AuditLog:
    """The ``audit`` table of ``kit.db``. See the module docstring for the chain and its limits.

    Calls on one connection are not thread-safe as a unit; give each thread its own
    connection, or serialise the calls.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock = utc_now) -> None:
        self._conn = conn
        self._clock = clock

    def ensure_schema(self) -> None:
        """Create the table and its append-only triggers (again, if someone dropped them)."""
        with atomic(self._conn):
            self._conn.execute(
                """CREATE TABLE IF NOT EXISTS audit (
                    seq INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    prev_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                )"""
            )
            self._conn.execute(
                """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT,
                  'the audit log is append-only: entries cannot be changed');
                END"""
            )
            self._conn.execute(
                """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT,
                  'the audit log is append-only: entries cannot be deleted');
                END"""
            )
            self._conn.execute(
                f"""CREATE TRIGGER IF NOT EXISTS audit_only_at_head BEFORE INSERT ON audit
                WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit)
                  OR NEW.prev_hash IS NOT COALESCE(
                       (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), '{ZERO_HASH}')
                BEGIN SELECT RAISE(ABORT,
                  'the audit log is append-only: a new entry must follow the newest one');
                END"""
            )

    def append(self, actor: str, action: str, **detail: Any) -> AuditEntry:
        """Append one entry, atomically; returns it. ``detail`` holds no secrets (module doc)."""
        actor = _label(actor, "actor")
        action = _label(action, "action")
        clean = _clean_detail(detail)
        with atomic(self._conn):
            last_seq, prev_hash = self.head()
            seq = last_seq + 1
            at = _utc_iso(self._clock())
            digest = entry_hash(prev_hash, seq, at, actor, action, clean)
            self._conn.execute(
                f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, at, actor, action, canonical_json(clean).decode("utf-8"), prev_hash,
                 digest),
            )
        return AuditEntry(seq, datetime.fromisoformat(at), actor, action, clean, prev_hash,
                          digest)

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest entry; ``(0, ZERO_HASH)`` for an empty log."""
        row = self._conn.execute(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (0, ZERO_HASH) if row is None else (int(row[0]), str(row[1]))

    def head_record(self) -> dict[str, Any] | None:
        """The head as it leaves the kit (heartbeats, packet manifests): ``{"seq", "hash"}``,
        or None while the log is empty. Whoever signs the message signs the head with it."""
        seq, digest = self.head()
        return None if seq == 0 else {"seq": seq, "hash": digest}

    def _rows(self, since_seq: int) -> Iterator[tuple[Any, ...]]:
        # Paged, so no statement stays open on the shared connection between yields.
        last = since_seq
        while True:
            page = self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _PAGE),
            ).fetchall()
            yield from page
            if len(page) < _PAGE:
                return
            last = int(page[-1][0])

    def entries(self, since_seq: int = 0) -> Iterator[AuditEntry]:
        """Entries with ``seq > since_seq``, oldest first (as stored: use :meth:`verify`)."""
        for seq, at, actor, action, detail, prev_hash, digest in self._rows(since_seq):
            yield AuditEntry(int(seq), datetime.fromisoformat(str(at)), str(actor), str(action),
                             json.loads(detail), str(prev_hash), str(digest))

    def verify(self, expected_head: tuple[int, str] | None = None) -> AuditReport:
        """Walk the whole chain; report the first edited, deleted or reordered entry.

        ``expected_head`` is an external anchor: a ``(seq, hash)`` this log had earlier (HQ's
        last copy of the head). With it, truncation and a rewritten tail are found too.
        """
        count = 0
        expected_seq, prev_hash = 1, ZERO_HASH
        anchor_hash: str | None = None
        for row in self._rows(0):
            seq = int(row[0])
            if seq != expected_seq:
                return AuditReport(False, count, _range(expected_seq, seq - 1), expected_seq)
            if row[5] != prev_hash:
                return AuditReport(False, count, self._chain_break(seq, str(row[5])), seq)
            try:
                detail = json.loads(row[4])
                recomputed = entry_hash(prev_hash, seq, str(row[1]), str(row[2]), str(row[3]),
                                        detail)
                datetime.fromisoformat(str(row[1]))
            except (ValueError, TypeError, UnicodeError):
                recomputed = None
            if recomputed != row[6]:
                return AuditReport(False, count, f"entry {seq} was changed after it was written",
                                   seq)
            if expected_head is not None and seq == expected_head[0]:
                anchor_hash = str(row[6])
            count += 1
            expected_seq, prev_hash = seq + 1, str(row[6])
        if expected_head is not None and expected_head[0] > 0:
            want_seq, want_hash = expected_head
            if anchor_hash is None:
                return AuditReport(
                    False, count,
                    f"the log ends at entry {count} but HQ has seen entry {want_seq}: "
                    "the newest entries were removed",
                    count + 1,
                )
            if anchor_hash != want_hash:
                return AuditReport(
                    False, count,
                    f"entry {want_seq} is not the one HQ has seen: the log was rewritten",
                    want_seq,
                )
        return AuditReport(True, count)

    def _chain_break(self, seq: int, prev_hash: str) -> str:
        row = self._conn.execute(
            "SELECT seq FROM audit WHERE hash = ? ORDER BY seq LIMIT 1", (prev_hash,)
        ).fetchone()
        if row is not None and int(row[0]) != seq - 1:
            return f"entries were reordered: entry {seq} was written after entry {int(row[0])}"
        return f"entry {seq} does not follow entry {seq - 1}: one of them was changed or replaced"
