"""The kit's roster: the residents HQ asked this kit to record, encrypted at rest, and search.

The roster lives in one SQLCipher file (:func:`edge.sqlcipher.connect_encrypted`) opened with
a random 32-byte key that an operator's PIN unwraps. A signed worklist replaces the whole
roster in one transaction (:meth:`RosterStore.replace`); the marks of who was already recorded
on this kit live in their own table and survive every replacement. The tables are in
:mod:`edge.roster_schema`.

Search (:meth:`RosterStore.search`) takes what an operator types at the service point:

* 16 digits (spaces allowed) — the exact NIK;
* an invitation code (``ABCDE-FGH23``, any case, with or without the dash or spaces);
* anything else — a name, ranked and forgiving typos as :mod:`edge.roster_search` says, with
  bounded work whatever is typed.

``rw``/``rt`` filters narrow every kind of search, exact lookups included.

Speed at 100,000 residents (``bench/bench_roster.py``, on the development machine): NIK
lookup ~0.05 ms; name search p50 ~2 ms, p99 under 10 ms on an open store; replace() ~3 s.
Opening costs ~2 ms and starts with a cold page cache (every page read is decrypted again),
so a caller that searches often should keep one store open rather than one per search.

Driver errors come out as the core's: :class:`~edge.errors.StorageError` for I/O, locking or
a full disk, :class:`~edge.errors.IntegrityError` for a page that fails SQLCipher's HMAC (the
file was altered or damaged) and for a wrong key.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from edge.errors import AlreadyEnrolled, IntegrityError, InvalidInput, StorageError
from edge.residents import Resident
from edge.roster_schema import (
    INSERT_RESIDENT,
    NIK_INDEX,
    OTHER_TABLES,
    RESIDENT_INDEXES,
    RESIDENT_TABLES,
    SCHEMA_VERSION,
    SELECT_RESIDENT,
    SELECT_RESIDENT_BY_ID,
    resident_from_row,
)
from edge.roster_search import (
    MAX_QUERY_INPUT,
    Area,
    NameSearch,
    area_key,
    bounded_key,
    invitation_key,
    is_digits,
    name_key,
    stored_area,
)
from edge.sqlcipher import connect_encrypted, dbapi

_NIK_SEPARATORS = re.compile(r"[\s.\-]+")
_CODE = re.compile(r"[A-Z0-9]{8,10}")  # an invitation code, as invitation_key() writes it

# --- the worklist header ------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleEntry:
    """One visit on the kit's schedule from HQ: where it stands on a given day."""

    date: dt.date
    place: str  # e.g. "Balai RW 005"
    kelurahan: str  # Kemendagri code
    rw: str
    note: str = ""


@dataclass(frozen=True)
class RosterMeta:
    """The header of the worklist the roster came from."""

    device_id: str
    version: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    kelurahan: tuple[str, ...]
    count: int = 0  # residents in the worklist; 0 when the caller does not know
    schedule: tuple[ScheduleEntry, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    resident: Resident
    matched: str  # "nik" | "invitation" | "name" | "token" (a verified invitation QR)
    #               | "expected" (listed, not searched)
    score: float  # 1.0 for an exact NIK, code or full name; lower is a weaker match
    enrolled: bool  # already recorded on this kit


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _database_errors(
    method: Callable[Concatenate[RosterStore, _P], _T],
) -> Callable[Concatenate[RosterStore, _P], _T]:
    """Turn the driver's errors into the core's: a failed read or write (locked, disk full,
    I/O) is a :class:`StorageError`; a page that does not decrypt or verify (SQLCipher's
    per-page HMAC: the file was altered or damaged) is an :class:`IntegrityError`."""

    @functools.wraps(method)
    def guarded(self: RosterStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(self, *args, **kwargs)
        except (dbapi.IntegrityError, dbapi.ProgrammingError, dbapi.InterfaceError):
            raise  # constraint errors are handled where they can happen; the rest are bugs
        except dbapi.OperationalError as exc:
            raise StorageError(f"roster {self.path}: {exc}", path=str(self.path)) from exc
        except dbapi.DatabaseError as exc:
            raise IntegrityError(f"roster {self.path} is damaged or was altered: {exc}",
                                 path=str(self.path)) from exc

    return guarded


class RosterStore:
    """The encrypted roster of one kit. Open with :meth:`open`; use as a context manager."""

    def __init__(self, db: Any, path: Path) -> None:
        self._db = db  # sqlite_utils.Database over a sqlcipher3 connection
        self._conn: Any = db.conn
        self.path = path

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key: bytes) -> RosterStore:
        """Open (creating if need be) the roster at ``path``; a wrong key raises
        :class:`~edge.errors.IntegrityError`."""
        db = connect_encrypted(path, key)
        store = cls(db, path)
        try:
            _database_errors(RosterStore._ensure_schema)(store)
        except BaseException:
            db.close()
            raise
        return store

    def _ensure_schema(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} has roster schema {version}; this software knows {SCHEMA_VERSION}"
            )
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for script in (RESIDENT_TABLES, NIK_INDEX, RESIDENT_INDEXES, OTHER_TABLES):
                self._run_script(script)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _run_script(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)

    def close(self) -> None:
        """Close the database; calling it again does nothing."""
        if self._conn is not None:
            self._db.close()
            self._conn = None

    def __enter__(self) -> RosterStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the whole roster --------------------------------------------------------------------

    @_database_errors
    def meta(self) -> RosterMeta | None:
        row = self._conn.execute(
            "SELECT device_id, version, issued_at, expires_at, kelurahan, count, schedule "
            "FROM roster_meta WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        return RosterMeta(
            device_id=row[0],
            version=int(row[1]),
            issued_at=dt.datetime.fromisoformat(row[2]),
            expires_at=dt.datetime.fromisoformat(row[3]),
            kelurahan=tuple(json.loads(row[4])),
            count=int(row[5]),
            schedule=tuple(
                ScheduleEntry(
                    date=dt.date.fromisoformat(s["date"]), place=s["place"],
                    kelurahan=s["kelurahan"], rw=s["rw"], note=s.get("note", ""),
                )
                for s in json.loads(row[6])
            ),
        )

    @_database_errors
    def replace(self, meta: RosterMeta, residents: Iterable[Resident]) -> int:
        """Replace the whole roster with ``residents`` in one transaction; return their number.

        The iterable is streamed, never held in memory whole. If anything fails (a duplicate
        NIK, a count that disagrees with a non-zero ``meta.count``, an exception from the
        iterable itself) the transaction rolls back and the previous roster is intact.
        Enrolment marks are kept.
        """
        conn = self._conn
        words: set[str] = set()
        seen = _Progress()

        def rows() -> Iterator[tuple[Any, ...]]:
            for r in residents:
                key = name_key(r.name)
                words.update(key.split())
                seen.rows += 1
                seen.nik = r.nik
                code = invitation_key(r.invitation_code)
                yield (
                    r.nik, r.no_kk, r.name, str(r.sex), r.birth_place, r.birth_date.isoformat(),
                    str(r.marital_status), r.address, stored_area(r.rt), stored_area(r.rw),
                    r.kelurahan, r.kecamatan, r.invitation_code,
                    json.dumps(r.extra, ensure_ascii=False) if r.extra else None,
                    key, code or None,
                )

        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("name_fts", "name_tokens", "name_words", "residents"):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DELETE FROM roster_meta")
            self._run_script(RESIDENT_TABLES)
            try:
                conn.executemany(INSERT_RESIDENT, rows())
            except dbapi.IntegrityError as exc:
                raise InvalidInput(
                    f"roster row {seen.rows} (NIK {seen.nik}) is refused: {exc}",
                    row=seen.rows, nik=seen.nik,
                ) from exc
            count = seen.rows
            if meta.count and meta.count != count:
                raise InvalidInput(
                    f"the worklist announces {meta.count} residents but holds {count}"
                )
            try:  # built from sorted keys, faster than keeping it up row by row
                conn.execute(NIK_INDEX)
            except dbapi.IntegrityError:
                (twice,) = conn.execute(
                    "SELECT nik FROM residents GROUP BY nik HAVING count(*) > 1 LIMIT 1"
                ).fetchone()
                raise InvalidInput(f"NIK {twice} is on the worklist more than once",
                                   nik=twice) from None
            # The full-text rowids follow (length, name): a tier read in rowid order comes
            # out ranked, and a LIMIT stops it early however common the query is.
            conn.execute(
                "INSERT INTO name_fts (rowid, doc, rw, rt, resident) "
                "SELECT row_number() OVER (ORDER BY length(name_key), name_key, id), "
                "' ' || name_key || ' ', rw, rt, id FROM residents"
            )
            conn.execute("INSERT INTO name_tokens (rowid, doc) SELECT rowid, doc FROM name_fts")
            conn.executemany(
                "INSERT INTO name_words (doc, size) VALUES (?, ?)",
                ((f" {w} ", len(w)) for w in sorted(words)),
            )
            self._run_script(RESIDENT_INDEXES)
            meta = dc_replace(meta, count=count)
            conn.execute(
                "INSERT INTO roster_meta (id, device_id, version, issued_at, expires_at, "
                "kelurahan, count, schedule) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                (
                    meta.device_id, meta.version, meta.issued_at.isoformat(),
                    meta.expires_at.isoformat(), json.dumps(list(meta.kelurahan)), count,
                    json.dumps([
                        {"date": s.date.isoformat(), "place": s.place, "kelurahan": s.kelurahan,
                         "rw": s.rw, "note": s.note}
                        for s in meta.schedule
                    ], ensure_ascii=False),
                ),
            )
        except BaseException:
            if conn.in_transaction:  # an I/O error may have ended it already
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        # Fold the big write back into the database file and cut the WAL down to nothing.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    @_database_errors
    def count(self) -> int:
        """Residents on the roster."""
        row = self._conn.execute("SELECT count FROM roster_meta WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    # --- single residents --------------------------------------------------------------------

    @_database_errors
    def get(self, nik: str) -> Resident | None:
        row = self._conn.execute(SELECT_RESIDENT + " WHERE r.nik = ?", (nik,)).fetchone()
        return None if row is None else resident_from_row(row)

    @_database_errors
    def by_invitation(self, code: str) -> Resident | None:
        """The resident whose invitation letter carries ``code`` (case, spaces and dashes
        do not matter). Raises :class:`~edge.errors.InvalidInput` if the worklist gave the
        same code to more than one resident."""
        rows = self._conn.execute(
            SELECT_RESIDENT + " WHERE r.invitation_key = ? LIMIT 2", (invitation_key(code),)
        ).fetchall()
        if len(rows) > 1:
            raise InvalidInput(
                f"invitation code {code} is on more than one resident; search by NIK or name"
            )
        return resident_from_row(rows[0]) if rows else None

    def invited(self, code: str) -> SearchHit | None:
        """The resident a verified invitation token names (by its invitation code), with
        whether they were already recorded here; None when the code is not on the roster."""
        resident = self.by_invitation(code)
        if resident is None:
            return None
        return SearchHit(resident, "token", 1.0, self.is_enrolled(resident.nik))

    # --- enrolment marks ---------------------------------------------------------------------

    @_database_errors
    def mark_enrolled(self, nik: str, packet_id: str, at: dt.datetime) -> None:
        """Record that ``nik`` was recorded on this kit in packet ``packet_id``.

        Marking again with the same packet does nothing; with another packet it raises
        :class:`~edge.errors.AlreadyEnrolled`. The mark does not need the resident to be on
        the current roster: it is a fact about this kit, and it outlives roster versions.
        """
        added = self._conn.execute(
            "INSERT INTO enrolments (nik, packet_id, enrolled_at) VALUES (?, ?, ?)"
            " ON CONFLICT (nik) DO NOTHING",
            (nik, packet_id, at.isoformat()),
        ).rowcount  # one statement, committed (durably) when it returns
        if not added:
            (first,) = self._conn.execute(
                "SELECT packet_id FROM enrolments WHERE nik = ?", (nik,)
            ).fetchone()
            if first != packet_id:
                raise AlreadyEnrolled(
                    f"NIK {nik} was already recorded on this kit (packet {first})",
                    nik=nik, packet_id=first,
                )

    @_database_errors
    def is_enrolled(self, nik: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM enrolments WHERE nik = ?", (nik,)).fetchone()
        return row is not None

    @_database_errors
    def enrolled_count(self, *, on_roster: bool = False) -> int:
        """Residents recorded on this kit; with ``on_roster``, only those on the current
        roster (a resident recorded under an older worklist may have left it)."""
        sql = "SELECT count(*) FROM enrolments"
        if on_roster:
            sql += " e JOIN residents r ON r.nik = e.nik"
        (n,) = self._conn.execute(sql).fetchone()
        return int(n)

    @_database_errors
    def awaiting(
        self, *, rw: Sequence[str] = (), limit: int = 50
    ) -> tuple[list[Resident], int]:
        """Residents on the roster not yet recorded on this kit, in ``rw`` (any of them;
        every RW when empty), ordered by RW and name: the people the service point
        expects. Returns at most ``limit`` of them and how many there are in all.

        Both parts ride the (rw, name) index: the list walks it in order and stops after
        ``limit``; the count is the RW's residents (from the index alone) less the few
        recorded here, never a pass over every row of a large RW."""
        areas = sorted({area_key(r) for r in rw if r.strip()})
        in_area = f" AND r.rw IN ({', '.join('?' * len(areas))})" if areas else ""
        (everyone,) = self._conn.execute(
            "SELECT count(*) FROM residents r WHERE 1 = 1" + in_area, areas).fetchone()
        (recorded,) = self._conn.execute(
            # CROSS JOIN keeps SQLite walking the kit's few enrolments, not the RW's rows
            "SELECT count(*) FROM enrolments e CROSS JOIN residents r ON r.nik = e.nik"
            " WHERE 1 = 1" + in_area, areas).fetchone()
        rows = self._conn.execute(
            SELECT_RESIDENT + " WHERE e.nik IS NULL" + in_area
            + " ORDER BY r.rw, r.name_key LIMIT ?",
            (*areas, max(0, limit)),
        ).fetchall()
        return [resident_from_row(row) for row in rows], int(everyone) - int(recorded)

    # --- search ------------------------------------------------------------------------------

    @_database_errors
    def search(
        self, query: str, *, rw: str | None = None, rt: str | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """Find residents by NIK, invitation code or name; see the module docstring.

        ``rw`` and ``rt`` ("5" or "005") narrow every kind of search.
        """
        if limit <= 0:
            return []
        query = query[:MAX_QUERY_INPUT]  # a NIK, a code or a name is far shorter
        area = Area(
            None if rw is None or not rw.strip() else area_key(rw),
            None if rt is None or not rt.strip() else area_key(rt),
        )
        digits = _NIK_SEPARATORS.sub("", query)
        if len(digits) == 16 and is_digits(digits):
            return self._exact("r.nik = ?", digits, "nik", area)
        code = invitation_key(query)
        if _CODE.fullmatch(code):
            hits = self._exact("r.invitation_key = ?", code, "invitation", area, limit)
            if hits or any(ch.isdigit() for ch in code):
                return hits  # names hold no digits
        if is_digits(digits):
            return []  # a partial NIK: no name has digits
        key = bounded_key(name_key(query))
        if not key:
            return []
        return self._hits(NameSearch(self._conn, key, area, limit).run())

    def _exact(
        self, where: str, value: str, matched: str, area: Area, limit: int = 1
    ) -> list[SearchHit]:
        area_sql, area_args = area.where("r")
        rows = self._conn.execute(
            SELECT_RESIDENT + " WHERE " + where + area_sql + " ORDER BY r.nik LIMIT ?",
            (value, *area_args, limit),
        ).fetchall()
        return [SearchHit(resident_from_row(row), matched, 1.0, bool(row[-1])) for row in rows]

    def _hits(self, scored: list[tuple[int, float]]) -> list[SearchHit]:
        """Name hits for ``(resident id, score)`` pairs, in the given order."""
        if not scored:
            return []
        ids = [rowid for rowid, _ in scored]
        rows = self._conn.execute(
            SELECT_RESIDENT_BY_ID + f" WHERE r.id IN ({', '.join('?' * len(ids))})",
            ids,
        ).fetchall()
        by_id = {row[0]: row[1:] for row in rows}
        return [
            SearchHit(resident_from_row(by_id[rowid]), "name", score, bool(by_id[rowid][-1]))
            for rowid, score in scored
            if rowid in by_id
        ]


@dataclass
class _Progress:
    """How far :meth:`RosterStore.replace` got through its iterable (for error messages)."""

    rows: int = 0
    nik: str = ""

