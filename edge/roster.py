"""The kit's roster: the residents HQ asked this kit to record, encrypted at rest, and search.

The roster lives in one SQLCipher file (:func:`edge.sqlcipher.connect_encrypted`) opened with
a random 32-byte key that an operator's PIN unwraps. A signed worklist replaces the whole
roster in one transaction (:meth:`RosterStore.replace`); the marks of who was already recorded
on this kit live in their own table and survive every replacement.

Search (:meth:`RosterStore.search`) takes what an operator types at the service point:

* 16 digits (spaces allowed) — the exact NIK;
* an invitation code (``ABCDE-FGH23``, any case, with or without the dash or spaces);
* anything else — a name. Names are compared in a normal form (:func:`name_key`: case-folded,
  accents and punctuation dropped, single spaces). Hits are ranked: the exact full name,
  then names that start with the query, then a word that starts with it, then the query
  anywhere, then names holding every word of the query in any order, and last, when fewer
  than ``limit`` were found, a fuzzy match that forgives typos ("siti nurhalisa" finds
  "Siti Nurhaliza").

``rw``/``rt`` filters narrow every kind of search, exact lookups included.

Whatever is typed (or pasted, or sent by a scanner), one search does bounded work: a name
query is read up to its first :data:`MAX_QUERY_CHARS` characters and :data:`MAX_QUERY_WORDS`
words (no name on a KTP is longer), each word gets at most :data:`_FUZZY_VARIANTS` close
spellings, and the spelling combinations are walked best first, stopping after
:data:`_FUZZY_COMBOS` (``bench/bench_search_worst.py`` measures the worst queries).

Tables: ``residents`` (one row per resident; unique NIK, indexes on invitation code, name and
RW + name); ``name_fts`` (FTS5, trigram tokenizer, each name padded with spaces so that a
leading space marks a word start; its rowids follow (length, name), so a tier read in rowid
order is already ranked and stops after ``limit`` rows, however common the query);
``name_tokens`` (FTS5, one token per word, no content: whole-word lookups for the typo
fallback); ``name_words`` (the distinct name words under a trigram index, where a typo finds
its close spellings); ``roster_meta`` (the worklist's header); ``enrolments`` (the marks).

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
import heapq
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from edge.errors import AlreadyEnrolled, IntegrityError, InvalidInput, StorageError
from edge.residents import MaritalStatus, Resident, Sex
from edge.sqlcipher import connect_encrypted, dbapi

SCHEMA_VERSION = 1

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


# --- normal forms -------------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'’`")
_NIK_SEPARATORS = re.compile(r"[\s.\-]+")
_CODE = re.compile(r"[A-Z0-9]{8,10}")


def name_key(name: str) -> str:
    """The form names are compared in: case-folded, without accents, apostrophes or other
    punctuation, words separated by one space (``"Ma'ruf  AMIN, S.Pd"`` → ``"maruf amin s pd"``)."""
    if not name.isascii():
        name = "".join(
            ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
        )
    return _NON_WORD.sub(" ", name.translate(_APOSTROPHES).casefold()).strip()


def invitation_key(code: str) -> str:
    """An invitation code as stored and looked up: upper case, no spaces or dashes."""
    return "".join(code.split()).replace("-", "").upper()


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def area_key(value: str) -> str:
    """An RW or RT number as stored: zero-padded to three digits ("5" → "005")."""
    value = value.strip()
    if not _is_digits(value) or len(value) > 3:
        raise InvalidInput(f"RT/RW {value!r} is not a number of up to three digits")
    return value.zfill(3)


def _stored_area(value: str) -> str:
    if len(value) == 3:
        return value  # "005", as SIAK writes it
    value = value.strip()
    return value.zfill(3) if _is_digits(value) and len(value) < 3 else value


# --- the store ----------------------------------------------------------------------------

_RESIDENT_COLUMNS = (
    "nik", "no_kk", "name", "sex", "birth_place", "birth_date", "marital_status", "address",
    "rt", "rw", "kelurahan", "kecamatan", "invitation_code", "extra",
)
_SELECT_RESIDENT = (
    "SELECT " + ", ".join(f"r.{c}" for c in _RESIDENT_COLUMNS)
    + ", e.nik IS NOT NULL FROM residents r LEFT JOIN enrolments e ON e.nik = r.nik"
)
_SELECT_RESIDENT_BY_ID = _SELECT_RESIDENT.replace("SELECT ", "SELECT r.id, ", 1)
_INSERT_RESIDENT = (
    "INSERT INTO residents (" + ", ".join(_RESIDENT_COLUMNS) + ", name_key, invitation_key) "
    "VALUES (" + ", ".join("?" * (len(_RESIDENT_COLUMNS) + 2)) + ")"
)

_RESIDENT_TABLES = """
CREATE TABLE IF NOT EXISTS residents (
    id INTEGER PRIMARY KEY,
    nik TEXT NOT NULL,  -- unique: residents_nik, built after a bulk load
    no_kk TEXT NOT NULL,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_place TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    marital_status TEXT NOT NULL,
    address TEXT NOT NULL,
    rt TEXT NOT NULL,
    rw TEXT NOT NULL,
    kelurahan TEXT NOT NULL,
    kecamatan TEXT NOT NULL,
    invitation_code TEXT NOT NULL,
    extra TEXT,
    name_key TEXT NOT NULL,
    invitation_key TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_fts USING fts5(
    doc, rw UNINDEXED, rt UNINDEXED, resident UNINDEXED, tokenize = 'trigram', detail = full
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_tokens USING fts5(
    doc, tokenize = 'unicode61 remove_diacritics 2', content = '', detail = none
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_words USING fts5(
    doc, size UNINDEXED, tokenize = 'trigram', detail = full
);
"""
_NIK_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS residents_nik ON residents (nik)"
_RESIDENT_INDEXES = """
CREATE INDEX IF NOT EXISTS residents_invitation ON residents (invitation_key)
    WHERE invitation_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS residents_name ON residents (name_key);
CREATE INDEX IF NOT EXISTS residents_area_name ON residents (rw, name_key, rt);
"""
_OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS roster_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    kelurahan TEXT NOT NULL,
    count INTEGER NOT NULL,
    schedule TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enrolments (
    nik TEXT PRIMARY KEY,
    packet_id TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
) WITHOUT ROWID;
"""


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
            for script in (_RESIDENT_TABLES, _NIK_INDEX, _RESIDENT_INDEXES, _OTHER_TABLES):
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
                    str(r.marital_status), r.address, _stored_area(r.rt), _stored_area(r.rw),
                    r.kelurahan, r.kecamatan, r.invitation_code,
                    json.dumps(r.extra, ensure_ascii=False) if r.extra else None,
                    key, code or None,
                )

        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("name_fts", "name_tokens", "name_words", "residents"):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DELETE FROM roster_meta")
            self._run_script(_RESIDENT_TABLES)
            try:
                conn.executemany(_INSERT_RESIDENT, rows())
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
                conn.execute(_NIK_INDEX)
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
            self._run_script(_RESIDENT_INDEXES)
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
        row = self._conn.execute(_SELECT_RESIDENT + " WHERE r.nik = ?", (nik,)).fetchone()
        return None if row is None else _resident(row)

    @_database_errors
    def by_invitation(self, code: str) -> Resident | None:
        """The resident whose invitation letter carries ``code`` (case, spaces and dashes
        do not matter). Raises :class:`~edge.errors.InvalidInput` if the worklist gave the
        same code to more than one resident."""
        rows = self._conn.execute(
            _SELECT_RESIDENT + " WHERE r.invitation_key = ? LIMIT 2", (invitation_key(code),)
        ).fetchall()
        if len(rows) > 1:
            raise InvalidInput(
                f"invitation code {code} is on more than one resident; search by NIK or name"
            )
        return _resident(rows[0]) if rows else None

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
            _SELECT_RESIDENT + " WHERE e.nik IS NULL" + in_area
            + " ORDER BY r.rw, r.name_key LIMIT ?",
            (*areas, max(0, limit)),
        ).fetchall()
        return [_resident(row) for row in rows], int(everyone) - int(recorded)

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
        area = _Area(
            None if rw is None or not rw.strip() else area_key(rw),
            None if rt is None or not rt.strip() else area_key(rt),
        )
        digits = _NIK_SEPARATORS.sub("", query)
        if len(digits) == 16 and _is_digits(digits):
            return self._exact("r.nik = ?", digits, "nik", area)
        code = invitation_key(query)
        if _CODE.fullmatch(code):
            hits = self._exact("r.invitation_key = ?", code, "invitation", area, limit)
            if hits or any(ch.isdigit() for ch in code):
                return hits  # names hold no digits
        if _is_digits(digits):
            return []  # a partial NIK: no name has digits
        key = _bounded(name_key(query))
        if not key:
            return []
        return self._hits(_NameSearch(self._conn, key, area, limit).run())

    def _exact(
        self, where: str, value: str, matched: str, area: _Area, limit: int = 1
    ) -> list[SearchHit]:
        area_sql, area_args = area.where("r")
        rows = self._conn.execute(
            _SELECT_RESIDENT + " WHERE " + where + area_sql + " ORDER BY r.nik LIMIT ?",
            (value, *area_args, limit),
        ).fetchall()
        return [SearchHit(_resident(row), matched, 1.0, bool(row[-1])) for row in rows]

    def _hits(self, scored: list[tuple[int, float]]) -> list[SearchHit]:
        """Name hits for ``(resident id, score)`` pairs, in the given order."""
        if not scored:
            return []
        ids = [rowid for rowid, _ in scored]
        rows = self._conn.execute(
            _SELECT_RESIDENT_BY_ID + f" WHERE r.id IN ({', '.join('?' * len(ids))})",
            ids,
        ).fetchall()
        by_id = {row[0]: row[1:] for row in rows}
        return [
            SearchHit(_resident(by_id[rowid]), "name", score, bool(by_id[rowid][-1]))
            for rowid, score in scored
            if rowid in by_id
        ]


@dataclass
class _Progress:
    """How far :meth:`RosterStore.replace` got through its iterable (for error messages)."""

    rows: int = 0
    nik: str = ""


@dataclass(frozen=True)
class _Area:
    rw: str | None
    rt: str | None

    def where(self, alias: str) -> tuple[str, list[str]]:
        sql, args = "", []
        if self.rw is not None:
            sql, args = f" AND {alias}.rw = ?", [self.rw]
        if self.rt is not None:
            sql, args = sql + f" AND {alias}.rt = ?", [*args, self.rt]
        return sql, args


def _resident(row: Sequence[Any]) -> Resident:
    return Resident(
        nik=row[0], no_kk=row[1], name=row[2], sex=Sex(row[3]), birth_place=row[4],
        birth_date=dt.date.fromisoformat(row[5]), marital_status=MaritalStatus(row[6]),
        address=row[7], rt=row[8], rw=row[9], kelurahan=row[10], kecamatan=row[11],
        invitation_code=row[12], extra=json.loads(row[13]) if row[13] else {},
    )


# --- name search --------------------------------------------------------------------------

#: Scores by tier; a fuzzy hit scores FUZZY times its similarity (0..1).
EXACT, PREFIX, WORD_PREFIX, SUBSTRING, ALL_WORDS, FUZZY = 1.0, 0.9, 0.8, 0.7, 0.6, 0.5
_FUZZY_VARIANTS = 8  # spellings tried per query word
_FUZZY_CANDIDATES = 64  # name words looked at per query word
_FUZZY_COMBOS = 24  # spelling combinations tried, best first
_FUZZY_WALK = 4 * _FUZZY_COMBOS  # combinations looked at (some are skipped) at most
#: A name query is read up to this many characters (of its normal form) and words.
MAX_QUERY_CHARS = 60
MAX_QUERY_WORDS = 8
MAX_QUERY_INPUT = 4 * MAX_QUERY_CHARS  # what is typed, before its punctuation is dropped


def _phrase(text: str) -> str:
    """An FTS5 string literal (with the trigram tokenizer it matches as a substring)."""
    return '"' + text.replace('"', '""') + '"'


class _NameSearch:
    """One name query, tier by tier, each tier only asked for the places still free.

    The exact name and names starting with the query come from the ``name_key`` index in
    name order. The other tiers read ``name_fts`` in rowid order, which is (length, name)
    order, so each stops after the rows it needs; within an RW they scan that RW's slice of
    the (rw, name_key, rt) index instead. Tiers exclude each other by predicate (a
    word-prefix hit is one whose name does not start with the query, and so on), so no
    resident is listed twice.
    """

    def __init__(self, conn: Any, key: str, area: _Area, limit: int) -> None:
        self.conn = conn
        self.key = key
        self.words = key.split()
        self.long_words = [w for w in self.words if len(w) >= 3]
        self.area = area
        self.limit = limit
        self.found: list[tuple[int, float]] = []  # (resident id, score)

    def need(self) -> int:
        return self.limit - len(self.found)

    def run(self) -> list[tuple[int, float]]:
        self._prefix()
        if not self.long_words:
            return self.found  # too short for trigrams: a prefix search only
        if self.area.rw is not None:
            self._area_tiers()
        elif len(self.words) == 1:
            self._word_tiers()
        else:
            self._words_tiers()
        if self.need() > 0:
            self._fuzzy()
        return self.found

    def _prefix(self) -> None:
        """The exact name, then names that start with the query, in name order."""
        where, args = self.area.where("r")
        rows = self.conn.execute(
            "SELECT r.id, r.name_key = ? FROM residents r"
            " WHERE r.name_key >= ? AND r.name_key < ?" + where
            + " ORDER BY r.name_key LIMIT ?",
            (self.key, self.key, self.key + "\uffff", *args, self.limit),
        ).fetchall()
        self.found += [(row[0], EXACT if row[1] else PREFIX) for row in rows]

    def _short_words(self) -> tuple[str, list[str]]:
        """Words under three letters cannot use trigrams: they must start a word."""
        sql, args = "", []
        for w in self.words:
            if len(w) < 3:
                sql += " AND instr(f.doc, ?) > 0"
                args.append(f" {w}")
        return sql, args

    def _area_tiers(self) -> None:
        """Within one RW: scan its slice of the (rw, name_key, rt) index, a few thousand
        entries at most, which costs the same for a common word as for a rare one (the
        trigram index would hand over every match in the roster, to be sifted by RW)."""
        if self.need() <= 0:
            return
        key, spaced = self.key, f" {self.key}"
        where, args = self.area.where("r")
        words_sql = "".join(" AND instr(r.name_key, ?) > 0" for _ in self.long_words)
        words_sql += "".join(
            " AND instr(' ' || r.name_key, ?) > 0" for w in self.words if len(w) < 3
        )
        rows = self.conn.execute(
            "SELECT r.id, CASE WHEN instr(' ' || r.name_key, ?) > 0 THEN 0"
            " WHEN instr(r.name_key, ?) > 0 THEN 1 ELSE 2 END AS tier"
            " FROM residents r INDEXED BY residents_area_name"
            " WHERE substr(r.name_key, 1, ?) != ?" + where + words_sql
            + " ORDER BY tier, length(r.name_key), r.name_key LIMIT ?",
            (spaced, key, len(key), key, *args, *self.long_words,
             *(f" {w}" for w in self.words if len(w) < 3), self.need()),
        ).fetchall()
        scores = (WORD_PREFIX, SUBSTRING, ALL_WORDS)
        self.found += [(row[0], scores[row[1]]) for row in rows]

    def _word_tiers(self) -> None:
        """One word: a word of the name starts with it, then it is anywhere in the name.
        One query per tier, read in rank order: a common word stops after ``need`` rows."""
        padded = f" {self.key}"
        area_sql, area_args = self.area.where("f")
        for score, match, exclude, args in (
            (WORD_PREFIX, _phrase(padded), "substr(f.doc, 1, ?) != ?", [len(padded), padded]),
            (SUBSTRING, _phrase(self.key), "instr(f.doc, ?) = 0", [padded]),
        ):
            if self.need() <= 0:
                return
            rows = self.conn.execute(
                "SELECT f.resident FROM name_fts f WHERE name_fts MATCH ? AND " + exclude
                + area_sql + " ORDER BY f.rowid LIMIT ?",
                (match, *args, *area_args, self.need()),
            ).fetchall()
            self.found += [(row[0], score) for row in rows]

    def _words_tiers(self) -> None:
        """Several words: every word is in the name (one trigram query, whose result is
        small since the words must meet in one name), ranked: the words together at a word
        start, together anywhere, then apart."""
        if self.need() <= 0:
            return
        padded = f" {self.key}"
        short_sql, short_args = self._short_words()
        area_sql, area_args = self.area.where("f")
        rows = self.conn.execute(
            "SELECT f.resident,"
            " CASE WHEN instr(f.doc, ?) > 0 THEN 0 WHEN instr(f.doc, ?) > 0 THEN 1 ELSE 2 END"
            " AS tier FROM name_fts f WHERE name_fts MATCH ? AND substr(f.doc, 1, ?) != ?"
            + short_sql + area_sql + " ORDER BY tier, f.rowid LIMIT ?",
            (padded, self.key, " AND ".join(_phrase(w) for w in self.long_words),
             len(padded), padded, *short_args, *area_args, self.need()),
        ).fetchall()
        scores = (WORD_PREFIX, SUBSTRING, ALL_WORDS)
        self.found += [(row[0], scores[row[1]]) for row in rows]

    def _fuzzy(self) -> None:
        """Names where every word of the query is there as typed or in a close spelling
        (see :meth:`_variants`), scored by the mean similarity of the spellings.

        Spelling combinations are tried best first, each as a whole-word query on
        ``name_tokens`` read in rank order, so a common spelling ("siti" for "sitti") stops
        after the rows still needed. A query word with no close spelling on the roster ends
        the search: a fuzzy hit must account for every word.
        """
        many = len(self.long_words) > 1
        groups: list[list[tuple[str, float]]] = []
        for w in self.long_words:
            group = self._variants(w)
            if many and self.conn.execute(
                "SELECT 1 FROM name_tokens WHERE name_tokens MATCH ? LIMIT 1", (_phrase(w),)
            ).fetchone():
                group.insert(0, (w, 1.0))
            if not group:
                return
            groups.append(group)
        # The tiers above listed every name holding each typed word as a substring: the
        # predicate leaves those out, and a combination whose every spelling holds its typed
        # word ("laksmiwati" for "laksmiwa") could only find those, so it is not tried.
        combos = [
            (similarity, words) for similarity, words in _best_combinations(groups)
            if not all(typed in word for typed, word in zip(self.long_words, words))
        ]
        exclude = " AND NOT (" + " AND ".join("instr(f.doc, ?) > 0" for _ in self.long_words)
        short_sql, short_args = self._short_words()
        area_sql, area_args = self.area.where("f")
        seen: set[int] = set()
        for similarity, words in combos[:_FUZZY_COMBOS]:
            rows = self.conn.execute(
                "SELECT f.resident FROM name_tokens t JOIN name_fts f ON f.rowid = t.rowid"
                " WHERE name_tokens MATCH ?" + exclude + ")" + short_sql + area_sql
                + " ORDER BY t.rowid LIMIT ?",
                (" AND ".join(_phrase(w) for w in words), *self.long_words, *short_args,
                 *area_args, self.need() + len(seen)),
            ).fetchall()
            for (resident,) in rows:
                if resident not in seen:
                    seen.add(resident)
                    self.found.append((resident, FUZZY * similarity))
                    if self.need() <= 0:
                        return

    def _variants(self, word: str) -> list[tuple[str, float]]:
        """Other name words on the roster within a few edits of ``word`` (two for words of
        eight letters or more, else one), closest first, each with a similarity in 0..1."""
        allowed = 1 if len(word) <= 7 else 2
        grams = {f" {word} "[i:i + 3] for i in range(len(word))}
        rows = self.conn.execute(
            "SELECT doc FROM name_words WHERE name_words MATCH ? AND size BETWEEN ? AND ?"
            " ORDER BY rank LIMIT ?",
            (" OR ".join(_phrase(g) for g in sorted(grams)), len(word) - allowed,
             len(word) + allowed, _FUZZY_CANDIDATES),
        ).fetchall()
        found: list[tuple[str, float]] = []
        for (doc,) in rows:
            candidate = doc.strip()
            if candidate == word:
                continue
            distance = _edit_distance(word, candidate, allowed)
            if distance <= allowed:
                found.append((candidate, 1.0 - distance / max(len(word), len(candidate))))
        found.sort(key=lambda v: (-v[1], v[0]))
        return found[:_FUZZY_VARIANTS]


def _bounded(key: str) -> str:
    """A name key cut to :data:`MAX_QUERY_CHARS` and :data:`MAX_QUERY_WORDS` (a word cut
    in the middle is still a prefix of the name's word)."""
    return " ".join(key[:MAX_QUERY_CHARS].split()[:MAX_QUERY_WORDS])


def _best_combinations(
    groups: list[list[tuple[str, float]]],
) -> Iterator[tuple[float, list[str]]]:
    """One spelling from each group, best mean similarity first (ties in the groups'
    order), at most :data:`_FUZZY_WALK` of them: a lazy walk from the best combination to
    its neighbours (one group's next spelling), so the work is that many steps whatever the
    number of words and spellings, never the product of their counts."""
    start = (0,) * len(groups)
    heap = [(-sum(group[0][1] for group in groups), start)]
    queued = {start}
    for _ in range(_FUZZY_WALK):
        if not heap:
            return
        negative, picks = heapq.heappop(heap)
        yield -negative / len(groups), [group[i][0] for group, i in zip(groups, picks)]
        for g, i in enumerate(picks):
            if i + 1 < len(groups[g]):
                nxt = (*picks[:g], i + 1, *picks[g + 1:])
                if nxt not in queued:
                    queued.add(nxt)
                    heapq.heappush(heap, (-sum(group[k][1] for group, k in zip(groups, nxt)),
                                          nxt))


def _edit_distance(a: str, b: str, cap: int) -> int:
    """Optimal-string-alignment distance (edits, with adjacent transpositions), or
    ``cap + 1`` once it must exceed ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            cur[j] = d
        if min(cur) > cap and min(prev) >= cap:  # no later row can come back under cap
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]
