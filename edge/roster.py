"""The kit's roster: the residents HQ asked this kit to record, encrypted at rest, and search.

The roster lives in one SQLCipher file (:func:`edge.sqlcipher.connect_encrypted`) opened with
a random 32-byte key that an operator's PIN unwraps. A signed worklist replaces the whole
roster in one transaction (:meth:`RosterStore.replace`); the marks of who was already recorded
on this kit live in their own table and survive every replacement.

Search (:meth:`RosterStore.search`) takes what an operator types at the service point:

* 16 digits (spaces allowed) — the exact NIK;
* an invitation code (``ABCD-EFGH``, any case, with or without the dash or spaces);
* anything else — a name. Names are compared in a normal form (:func:`name_key`: case-folded,
  accents and punctuation dropped, single spaces). Hits are ranked: the exact full name,
  then names that start with the query, then a word that starts with it, then the query
  anywhere, then names holding every word of the query in any order, and last, when fewer
  than ``limit`` were found, a fuzzy match that forgives typos ("siti nurhalisa" finds
  "Siti Nurhaliza").

Tables: ``residents`` (one row per resident; unique NIK, indexes on invitation code, name and
RW/RT), ``name_fts`` (FTS5, trigram tokenizer, over each name padded with spaces so a leading
space marks a word start), ``name_words`` (FTS5 trigram index of the distinct name words, for
the typo fallback), ``roster_meta`` (the worklist's header) and ``enrolments`` (the marks).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path
from types import TracebackType
from typing import Any

from edge.errors import AlreadyEnrolled, InvalidInput, StorageError
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
    matched: str  # "nik" | "invitation" | "name"
    score: float  # 1.0 for an exact NIK, code or full name; lower is a weaker match
    enrolled: bool  # already recorded on this kit


# --- normal forms -------------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'’`")
_NIK_SEPARATORS = re.compile(r"[\s.\-]+")
_CODE_SEPARATORS = re.compile(r"[\s\-]+")
_CODE = re.compile(r"[A-Z0-9]{8}")


def name_key(name: str) -> str:
    """The form names are compared in: case-folded, without accents, apostrophes or other
    punctuation, words separated by one space (``"Ma'ruf  AMIN, S.Pd"`` → ``"maruf amin s pd"``)."""
    if not name.isascii():
        name = "".join(
            ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
        )
    return " ".join(_NON_WORD.sub(" ", name.translate(_APOSTROPHES).casefold()).split())


def invitation_key(code: str) -> str:
    """An invitation code as stored and looked up: upper case, no spaces or dashes."""
    return _CODE_SEPARATORS.sub("", code).upper()


def area_key(value: str) -> str:
    """An RW or RT number as stored: zero-padded to three digits ("5" → "005")."""
    value = value.strip()
    if not value.isdigit() or len(value) > 3:
        raise InvalidInput(f"RT/RW {value!r} is not a number of up to three digits")
    return value.zfill(3)


def _stored_area(value: str) -> str:
    value = value.strip()
    return value.zfill(3) if value.isdigit() and len(value) < 3 else value


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
    nik TEXT NOT NULL UNIQUE,
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
    doc, rw UNINDEXED, rt UNINDEXED, tokenize = 'trigram', detail = full
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_tokens USING fts5(
    doc, tokenize = 'unicode61 remove_diacritics 2', content = '', detail = none
);
CREATE VIRTUAL TABLE IF NOT EXISTS name_words USING fts5(
    doc, size UNINDEXED, tokenize = 'trigram', detail = full
);
"""
_RESIDENT_INDEXES = """
CREATE INDEX IF NOT EXISTS residents_invitation ON residents (invitation_key)
    WHERE invitation_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS residents_name ON residents (name_key);
CREATE INDEX IF NOT EXISTS residents_area_name ON residents (rw, rt, name_key);
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
            store._ensure_schema()
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
            for script in (_RESIDENT_TABLES, _RESIDENT_INDEXES, _OTHER_TABLES):
                self._run_script(script)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
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
            conn.execute(
                "INSERT INTO name_fts (rowid, doc, rw, rt) "
                "SELECT id, ' ' || name_key || ' ', rw, rt FROM residents"
            )
            conn.execute(
                "INSERT INTO name_tokens (rowid, doc) SELECT id, name_key FROM residents"
            )
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
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        # Fold the big write back into the database file and cut the WAL down to nothing.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def count(self) -> int:
        """Residents on the roster."""
        row = self._conn.execute("SELECT count FROM roster_meta WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    # --- single residents --------------------------------------------------------------------

    def get(self, nik: str) -> Resident | None:
        row = self._conn.execute(_SELECT_RESIDENT + " WHERE r.nik = ?", (nik,)).fetchone()
        return None if row is None else _resident(row)

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

    # --- enrolment marks ---------------------------------------------------------------------

    def mark_enrolled(self, nik: str, packet_id: str, at: dt.datetime) -> None:
        """Record that ``nik`` was recorded on this kit in packet ``packet_id``.

        Marking again with the same packet does nothing; with another packet it raises
        :class:`~edge.errors.AlreadyEnrolled`. The mark does not need the resident to be on
        the current roster: it is a fact about this kit, and it outlives roster versions.
        """
        with self._db.atomic():
            row = self._conn.execute(
                "SELECT packet_id FROM enrolments WHERE nik = ?", (nik,)
            ).fetchone()
            if row is not None:
                if row[0] != packet_id:
                    raise AlreadyEnrolled(
                        f"NIK {nik} was already recorded on this kit (packet {row[0]})",
                        nik=nik, packet_id=row[0],
                    )
                return
            self._conn.execute(
                "INSERT INTO enrolments (nik, packet_id, enrolled_at) VALUES (?, ?, ?)",
                (nik, packet_id, at.isoformat()),
            )

    def is_enrolled(self, nik: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM enrolments WHERE nik = ?", (nik,)).fetchone()
        return row is not None

    def enrolled_count(self, *, on_roster: bool = False) -> int:
        """Residents recorded on this kit; with ``on_roster``, only those on the current
        roster (a resident recorded under an older worklist may have left it)."""
        sql = "SELECT count(*) FROM enrolments"
        if on_roster:
            sql += " e JOIN residents r ON r.nik = e.nik"
        (n,) = self._conn.execute(sql).fetchone()
        return int(n)

    # --- search ------------------------------------------------------------------------------

    def search(
        self, query: str, *, rw: str | None = None, rt: str | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """Find residents by NIK, invitation code or name; see the module docstring.

        ``rw`` and ``rt`` ("5" or "005") narrow every kind of search.
        """
        if limit <= 0:
            return []
        area = _Area(
            None if rw is None or not rw.strip() else area_key(rw),
            None if rt is None or not rt.strip() else area_key(rt),
        )
        digits = _NIK_SEPARATORS.sub("", query)
        if len(digits) == 16 and digits.isdigit():
            return self._exact("r.nik = ?", digits, "nik", area)
        code = invitation_key(query)
        if _CODE.fullmatch(code):
            hits = self._exact("r.invitation_key = ?", code, "invitation", area, limit)
            if hits or any(ch.isdigit() for ch in code):
                return hits
        key = name_key(query)
        if not key:
            return []
        return _NameSearch(self._conn, key, area, limit).run(self._hits)

    def _exact(
        self, where: str, value: str, matched: str, area: _Area, limit: int = 1
    ) -> list[SearchHit]:
        sql, args = _SELECT_RESIDENT + " WHERE " + where, [value]
        if area.rw is not None:
            sql, args = sql + " AND r.rw = ?", [*args, area.rw]
        if area.rt is not None:
            sql, args = sql + " AND r.rt = ?", [*args, area.rt]
        rows = self._conn.execute(sql + " ORDER BY r.nik LIMIT ?", (*args, limit)).fetchall()
        return [SearchHit(_resident(row), matched, 1.0, bool(row[-1])) for row in rows]

    def _hits(self, scored: list[tuple[int, float]]) -> list[SearchHit]:
        """Residents for ``(rowid, score)`` pairs, in the given order."""
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
_TIER_SCORES = (EXACT, PREFIX, WORD_PREFIX, SUBSTRING, ALL_WORDS)
_FUZZY_VARIANTS = 8  # per query word
_FUZZY_CANDIDATES = 64  # name words looked at per query word


def _phrase(text: str) -> str:
    """An FTS5 string literal (the trigram tokenizer matches it as a substring)."""
    return '"' + text.replace('"', '""') + '"'


class _NameSearch:
    """One name query: ranked substring tiers from the trigram index, then the fuzzy fill."""

    def __init__(self, conn: Any, key: str, area: _Area, limit: int) -> None:
        self.conn = conn
        self.key = key
        self.words = key.split()
        self.area = area
        self.limit = limit

    def run(self, fetch: Callable[[list[tuple[int, float]]], list[SearchHit]]) -> list[SearchHit]:
        long_words = [w for w in self.words if len(w) >= 3]
        if not long_words:
            scored = self._prefix()
        else:
            scored = self._substring(long_words)
            if len(scored) < self.limit:
                scored += self._fuzzy(exclude={rowid for rowid, _ in scored})
        return fetch(scored)

    def _prefix(self) -> list[tuple[int, float]]:
        """Queries too short for trigrams: names that start with the query."""
        where, args = self.area.where("r")
        rows = self.conn.execute(
            "SELECT r.id, r.name_key = ? FROM residents r "
            "WHERE r.name_key >= ? AND r.name_key < ?" + where
            + " ORDER BY r.name_key, r.id LIMIT ?",
            (self.key, self.key, self.key + "\uffff", *args, self.limit),
        ).fetchall()
        return [(row[0], EXACT if row[1] else PREFIX) for row in rows]

    def _short_word_filter(self) -> tuple[str, list[str]]:
        """Words under three letters cannot use trigrams: they must start a word."""
        sql, args = "", []
        for w in self.words:
            if len(w) < 3:
                sql += " AND instr(f.doc, ?) > 0"
                args.append(f" {w}")
        return sql, args

    def _substring(self, long_words: list[str]) -> list[tuple[int, float]]:
        padded = f" {self.key} "
        match = " AND ".join(_phrase(w) for w in long_words)
        short_sql, short_args = self._short_word_filter()
        area_sql, area_args = self.area.where("f")
        rows = self.conn.execute(
            "SELECT f.rowid, CASE"
            " WHEN f.doc = ? THEN 0"
            " WHEN substr(f.doc, 1, ?) = ? THEN 1"
            " WHEN instr(f.doc, ?) > 0 THEN 2"
            " WHEN instr(f.doc, ?) > 0 THEN 3"
            " ELSE 4 END AS tier"
            " FROM name_fts f WHERE name_fts MATCH ?" + short_sql + area_sql
            + " ORDER BY tier, length(f.doc), f.doc, f.rowid LIMIT ?",
            (
                padded, len(self.key) + 1, f" {self.key}", f" {self.key}", self.key, match,
                *short_args, *area_args, self.limit,
            ),
        ).fetchall()
        return [(row[0], _TIER_SCORES[row[1]]) for row in rows]

    def _fuzzy(self, exclude: set[int]) -> list[tuple[int, float]]:
        """Names whose words are each close (a few edits) to a word of the query.

        Candidates come from ``name_tokens`` (one token per whole word, so a lookup costs one
        short list per spelling, unlike a trigram phrase); the score is the mean over the
        query's words of the best similarity found in the name.
        """
        long_words = [w for w in self.words if len(w) >= 3]
        groups: list[list[tuple[str, float]]] = []
        for w in long_words:
            variants = self._variants(w)
            # The word as typed already had its turn in the substring tiers; it only joins
            # a group to be combined with the other words' variants.
            if len(long_words) > 1:
                variants.insert(0, (w, 1.0))
            if variants:
                groups.append(variants)
        if not groups or all(len(g) == 1 and g[0][0] in long_words for g in groups):
            return []
        match = " AND ".join(
            "(" + " OR ".join(
                _phrase(text) + (" *" if text in long_words else "") for text, _ in group
            ) + ")"
            for group in groups
        )
        score_sql, score_args = [], []
        for group in groups:
            cases = " ".join("WHEN instr(f.doc, ?) > 0 THEN ?" for _ in group)
            score_sql.append(f"(CASE {cases} ELSE 0 END)")
            for text, sim in group:
                score_args += [f" {text}" + ("" if text in long_words else " "), sim]
        short_sql, short_args = self._short_word_filter()
        area_sql, area_args = self.area.where("f")
        exclude_sql = ""
        if exclude:
            exclude_sql = f" AND f.rowid NOT IN ({', '.join(str(i) for i in sorted(exclude))})"
        rows = self.conn.execute(
            f"SELECT f.rowid, ({' + '.join(score_sql)}) / ? AS sim FROM name_fts f"
            " WHERE f.rowid IN (SELECT rowid FROM name_tokens WHERE name_tokens MATCH ?)"
            + short_sql + area_sql + exclude_sql
            + " ORDER BY sim DESC, length(f.doc), f.doc, f.rowid LIMIT ?",
            (*score_args, float(len(long_words)), match, *short_args, *area_args,
             self.limit - len(exclude)),
        ).fetchall()
        return [(row[0], FUZZY * float(row[1])) for row in rows]

    def _variants(self, word: str) -> list[tuple[str, float]]:
        """Other name words on the roster within a few edits of ``word`` (more edits allowed
        for longer words), best first, each with a similarity in 0..1."""
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
