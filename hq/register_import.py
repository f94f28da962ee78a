"""Applying an office export to the register: ``rekam-hq residents import``.

:func:`import_residents` applies a SIAK-like CSV (:mod:`edge.resident_record` validates every row)
in one transaction: new residents are added, changed details and statuses (moved, died,
recorded elsewhere) are applied with their history, the same file again changes nothing,
bad rows are reported and written to a rejects CSV the clerk fixes and imports again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from edge.errors import InvalidInput, NotFound
from edge.resident_record import CSV_COLUMNS, RecordChecker, Row, RowFaults
from edge.residents_csv import CsvLayout, header_key, open_siak_csv
from hq.db import register_imports, resident_events, residents
from hq.dialect import as_utc
from hq.register import (
    MUST_RECORD,
    RESIDENT_FIELDS,
    Area,
    Coverage,
    Status,
    login_name,
    wib_day,
)

# --- the status column of an office export ---------------------------------------------------

#: Residents who left the programme (moved, died, recorded elsewhere).
_LEFT = frozenset(Status) - MUST_RECORD

#: Header names of the optional status column (after :func:`edge.residents_csv.header_key`).
STATUS_COLUMNS = ("status", "status_rekam", "status_perekaman", "status_ktp_el",
                  "keterangan", "ket")
_MUST = None  # the file says: still must record
_FILE_STATUS: dict[str, Status | None] = {
    "": _MUST, "BELUM REKAM": _MUST, "WAJIB REKAM": _MUST, "BELUM": _MUST,
    "BELUM PEREKAMAN": _MUST, "BELUM REKAM KTP EL": _MUST, "PINDAH DATANG": _MUST,
    "PINDAH": Status.PINDAH, "PINDAH KELUAR": Status.PINDAH, "PINDAH DOMISILI": Status.PINDAH,
    "MENINGGAL": Status.MENINGGAL, "MENINGGAL DUNIA": Status.MENINGGAL,
    "MATI": Status.MENINGGAL, "WAFAT": Status.MENINGGAL,
    "SUDAH REKAM": Status.REKAM_LAIN, "SUDAH REKAM DI TEMPAT LAIN": Status.REKAM_LAIN,
    "REKAM DI TEMPAT LAIN": Status.REKAM_LAIN, "SUDAH PEREKAMAN": Status.REKAM_LAIN,
    "TEREKAM": Status.REKAM_LAIN, "SUDAH": Status.REKAM_LAIN,
}
_FILE_STATUS_HELP = ("empty or BELUM REKAM (must record), PINDAH, MENINGGAL, "
                     "SUDAH REKAM (recorded elsewhere)")


def _file_status(value: str) -> Status | None:
    key = " ".join(value.upper().replace("_", " ").replace("-", " ").split())
    if key not in _FILE_STATUS:
        raise ValueError(f"{value!r} is not a status: {_FILE_STATUS_HELP}")
    return _FILE_STATUS[key]


def _after_file(current: Status, said: Status | None) -> Status:
    """What a resident's status becomes when an export says ``said`` of them."""
    if said is _MUST:
        # Listed again as still to record: back from moved / died / elsewhere (a return or
        # a correction); otherwise the register knows more (invited, recorded) and stays.
        return Status.BELUM_REKAM if current in _LEFT else current
    if said is Status.REKAM_LAIN and current is Status.TEREKAM:
        return current  # SIAK learnt of our own recording
    return said


# --- the import --------------------------------------------------------------------------------

_CHUNK = 5000
#: Rejected rows printed on screen; all of them are in the rejects CSV.
SCREEN_REJECTS = 1000
REJECT_COLUMNS = ("baris_asal", "kesalahan")  # added to the rejects CSV; ignored on import


@dataclass
class ImportResult:
    file: Path
    sha256: str
    rows: int = 0  # rows read, good and bad
    added: int = 0
    changed: int = 0  # residents whose details or status changed
    unchanged: int = 0
    rejected: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # new status -> residents
    absent: int = 0  # on the register in the file's kelurahan, not in the file
    rejects_path: Path | None = None
    import_id: int | None = None  # None: dry run, or nothing changed
    dry_run: bool = False
    imported_before: datetime | None = None  # the same file (by SHA-256) changed it then

    @property
    def good(self) -> int:
        return self.added + self.changed + self.unchanged


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    return digest.hexdigest()


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


class _Rejects:
    """The rejects CSV: the file's own header, delimiter and cells, plus the line each row
    came from and what is wrong with it, so the clerk fixes it in Excel and imports it
    again. Written beside the input (0600: personal data) and renamed into place at the
    end; created only when a row is rejected."""

    def __init__(self, path: Path, layout: CsvLayout) -> None:
        self.path = path
        self.layout = layout
        self.count = 0
        self._fh: Any = None
        self._writer: Any = None
        self._tmp: Path | None = None
        # A rejects file imported again: its own extra columns are not copied twice.
        self._skip = {i for i, h in enumerate(layout.header) if header_key(h) in REJECT_COLUMNS}

    def add(self, line: int, cells: Sequence[str], faults: Sequence[tuple[str, str]]) -> None:
        if self._writer is None:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                        dir=self.path.parent)
            self._tmp = Path(name)
            self._fh = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._fh, delimiter=self.layout.delimiter)
            self._writer.writerow([h for i, h in enumerate(self.layout.header)
                                   if i not in self._skip] + list(REJECT_COLUMNS))
        width = len(self.layout.header)
        kept = [c for i, c in enumerate(list(cells[:width]) + [""] * (width - len(cells)))
                if i not in self._skip]
        reasons = "; ".join(f"column {column}: {problem}" for column, problem in faults)
        self._writer.writerow([*kept, str(line), reasons])
        self.count += 1

    def close(self, keep: bool) -> Path | None:
        if self._fh is None:
            return None
        self._fh.close()
        assert self._tmp is not None
        if not keep:
            self._tmp.unlink(missing_ok=True)
            return None
        os.replace(self._tmp, self.path)
        return self.path


def _status_column(layout: CsvLayout, name: str | None, path: Path) -> int | None:
    if name is not None:
        key = header_key(name)
        if key not in layout.others:
            raise InvalidInput(f"--columns status={name}: {path} has no column {name}")
        return layout.others[key]
    return next((layout.others[k] for k in STATUS_COLUMNS if k in layout.others), None)


@dataclass
class _Good:
    line: int
    row: Row
    said: Status | None  # the file's status column


class _Importer:
    def __init__(self, engine: Engine, path: Path, *, dry_run: bool, by: str, now: datetime,
                 today: date, on_reject: Callable[[int, list[tuple[str, str]]], None] | None,
                 on_progress: Callable[[int, int], None] | None) -> None:
        self.engine = engine
        self.path = path
        self.dry_run = dry_run
        self.by = by
        self.now = now
        self.day = wib_day(now)
        self.checker = RecordChecker(today)
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.bytes_read = 0
        self.seen: dict[int, int] = {}  # NIK -> line, for duplicates within the file
        self.coverage = Coverage()

    def progress(self, n: int) -> None:
        self.bytes_read += n

    def good_rows(self, rows: Iterator[tuple[int, list[str]]], layout: CsvLayout,
                  status_at: int | None, rejects: _Rejects, result: ImportResult
                  ) -> Iterator[_Good]:
        check, values, seen = self.checker.check, layout.values, self.seen
        report = self.on_progress
        for line, cells in rows:
            result.rows += 1
            if report is not None and not result.rows % 10_000:
                report(self.bytes_read, result.rows)
            try:
                row = check(values(cells), line)
                said = None
                if status_at is not None and status_at < len(cells) and cells[status_at]:
                    try:
                        said = _file_status(cells[status_at])
                    except ValueError as exc:
                        raise RowFaults(line, [("status", str(exc))]) from None
                key = int(row[0])
                first = seen.setdefault(key, line)
                if first != line:
                    raise RowFaults(line, [("nik", f"{row[0]} is also on line {first}; "
                                                   "each resident once")])
            except RowFaults as exc:
                result.rejected += 1
                rejects.add(line, cells, exc.faults)
                if self.on_reject is not None:
                    self.on_reject(line, exc.faults)
                continue
            yield _Good(line, row, said)


def import_residents(
    engine: Engine, path: Path, *, dry_run: bool = False, columns: Mapping[str, str] | None = None,
    by: str | None = None, rejects_path: Path | None = None, now: datetime | None = None,
    today: date | None = None,
    on_reject: Callable[[int, list[tuple[str, str]]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Apply an office export to the register (see the module docstring). Every row is
    validated; the good ones are applied in one transaction, the bad ones reported to
    ``on_reject(line, [(column, problem), ...])`` and written to the rejects CSV.
    ``dry_run`` reads the register to say what would change, and writes nothing to it.
    ``on_progress(bytes_read, rows)`` is called every 10,000 rows."""
    now = now or datetime.now(UTC)
    result = ImportResult(file=path, sha256=file_sha256(path), dry_run=dry_run)
    wanted = dict(columns or {})
    status_name = wanted.pop("status", None)
    importer = _Importer(engine, path, dry_run=dry_run, by=by or login_name(), now=now,
                         today=today or wib_day(now), on_reject=on_reject,
                         on_progress=on_progress)
    rejects_target = rejects_path or default_rejects_path(path)
    with open_siak_csv(path, columns=wanted, on_read=importer.progress) as (layout, rows), \
            engine.connect() as conn:
        status_at = _status_column(layout, status_name, path)
        rejects = _Rejects(rejects_target, layout)
        try:
            with conn.begin() as tx:
                before = conn.execute(
                    select(register_imports.c.imported_at)
                    .where(register_imports.c.sha256 == result.sha256)
                    .order_by(register_imports.c.id.desc()).limit(1)).scalar()
                result.imported_before = as_utc(before) if before is not None else None
                empty = conn.execute(select(residents.c.id).limit(1)).first() is None
                if not dry_run:
                    result.import_id = conn.execute(insert(register_imports).values(
                        file_name=path.name, sha256=result.sha256, imported_at=now,
                        imported_by=importer.by[:64], rows=0, added=0, changed=0,
                        unchanged=0, rejected=0).returning(register_imports.c.id)).scalar_one()
                good = importer.good_rows(rows, layout, status_at, rejects, result)
                if empty:
                    _insert_all(conn, importer, good, result)
                else:
                    file_kelurahan: set[str] = set()
                    while chunk := list(islice(good, _CHUNK)):
                        file_kelurahan.update(g.row[10] for g in chunk)
                        _apply_chunk(conn, importer, chunk, result)
                    result.absent = _count_absent(conn, file_kelurahan, importer.seen)
                if importer.on_progress is not None:
                    importer.on_progress(importer.bytes_read, result.rows)
                if dry_run or not (result.added or result.changed):
                    tx.rollback()
                    result.import_id = None
                else:
                    importer.coverage.flush(conn)
                    conn.execute(update(register_imports)
                                 .where(register_imports.c.id == result.import_id)
                                 .values(rows=result.rows, added=result.added,
                                         changed=result.changed, unchanged=result.unchanged,
                                         rejected=result.rejected))
        except BaseException:
            rejects.close(keep=False)
            raise
        result.rejects_path = rejects.close(keep=True)
    return result


def _insert_all(conn: Connection, importer: _Importer, good: Iterator[_Good],
                result: ImportResult) -> None:
    """The first import into an empty register: every good row is new. Streamed straight
    into the table (PostgreSQL: COPY; SQLite: one executemany), no look-ups."""
    areas: Counter[Area] = Counter()
    statuses: Counter[str] = Counter()
    dialect = conn.dialect
    stamp = residents.c.status_at.type.dialect_impl(dialect).bind_processor(dialect)
    status_at: Any = stamp(importer.now) if stamp is not None else importer.now
    import_id = result.import_id
    isoformat = date.isoformat

    def records() -> Iterator[tuple[Any, ...]]:
        for g in good:
            row, said = g.row, g.said
            status = Status.BELUM_REKAM if said is None else said
            if status is Status.BELUM_REKAM:
                areas[(row[10], row[9], row[8])] += 1
            else:
                statuses[status.value] += 1
            yield (row[0], row[1], row[2], row[3].value, row[4], isoformat(row[5]),
                   row[6].value, row[7], row[8], row[9], row[10], row[11], status.value,
                   status_at, import_id)

    if importer.dry_run:
        result.added = sum(1 for _ in records())
    else:
        columns = (*RESIDENT_FIELDS, "status", "status_at", "added_import_id")
        raw = conn.connection.driver_connection
        assert raw is not None
        if dialect.name == "postgresql":
            with raw.cursor() as cur, cur.copy(
                    f"COPY residents ({', '.join(columns)}) FROM STDIN") as copy:
                for record in records():
                    copy.write_row(record)
                    result.added += 1
        else:
            cur = raw.cursor()
            counted = _counting(records(), result)
            cur.executemany(f"INSERT INTO residents ({', '.join(columns)}) VALUES "
                            f"({', '.join('?' * len(columns))})", counted)
            cur.close()
    importer.coverage.add_many(importer.day, areas, "must_record")
    result.statuses.update({Status.BELUM_REKAM.value: sum(areas.values())} if areas else {})
    result.statuses.update(statuses)


def _counting(records: Iterator[tuple[Any, ...]], result: ImportResult
              ) -> Iterator[tuple[Any, ...]]:
    for record in records:
        result.added += 1
        yield record


def _apply_chunk(conn: Connection, importer: _Importer, chunk: list[_Good],
                 result: ImportResult) -> None:
    """A chunk of good rows against a register that has residents: new ones inserted,
    changed ones updated with their events, the rest counted unchanged."""
    r = residents.c
    existing = {row.nik: row for row in conn.execute(
        select(r.id, r.status, r.status_at, *(r[f] for f in RESIDENT_FIELDS))
        .where(r.nik.in_([g.row[0] for g in chunk])))}
    new: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    now, day, coverage = importer.now, importer.day, importer.coverage
    for g in chunk:
        row = g.row
        fields = dict(zip(RESIDENT_FIELDS, _db_values(row)))
        area = (row[10], row[9], row[8])
        old = existing.get(row[0])
        if old is None:
            status = Status.BELUM_REKAM if g.said is None else g.said
            new.append({**fields, "status": status.value, "status_at": now,
                        "added_import_id": result.import_id})
            coverage.move(day, None, (area, status))
            result.added += 1
            result.statuses[status.value] += 1
            continue
        before = Status(old.status)
        after = _after_file(before, g.said)
        changes = {f: [_shown(old_value), _shown(fields[f])] for f in RESIDENT_FIELDS
                   if (old_value := old._mapping[f]) != fields[f]}
        if not changes and after is before:
            result.unchanged += 1
            continue
        result.changed += 1
        values: dict[str, Any] = {"rid": old.id, **fields, "status": after.value,
                                  "status_at": now if after is not before else old.status_at}
        if after is not before:
            result.statuses[after.value] += 1
            events.append(_event(old.id, now, "status", result.import_id, importer.by,
                                 status_from=before.value, status_to=after.value,
                                 reason=f"{importer.path.name}, line {g.line}"))
        if changes:
            events.append(_event(old.id, now, "details", result.import_id, importer.by,
                                 changes=json.dumps(changes, ensure_ascii=False),
                                 reason=f"{importer.path.name}, line {g.line}"))
        updates.append(values)
        coverage.move(day, ((old.kelurahan, old.rw, old.rt), before), (area, after))
    if importer.dry_run:
        return
    if new:
        conn.execute(insert(residents), new)
    if updates:
        conn.execute(update(residents).where(r.id == bindparam("rid")).values(
            **{f: bindparam(f) for f in (*RESIDENT_FIELDS, "status", "status_at")}),
            updates)
    if events:
        conn.execute(insert(resident_events), events)


def _db_values(row: Row) -> tuple[Any, ...]:
    return (row[0], row[1], row[2], row[3].value, row[4], row[5], row[6].value, row[7],
            row[8], row[9], row[10], row[11])


def _shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _event(resident_id: int, at: datetime, kind: str, import_id: int | None, by: str, *,
           status_from: str | None = None, status_to: str | None = None, changes: str = "",
           reason: str = "", source: str = "") -> dict[str, Any]:
    return {"resident_id": resident_id, "at": at, "kind": kind, "status_from": status_from,
            "status_to": status_to, "changes": changes, "import_id": import_id,
            "source": source, "by": by[:64], "reason": reason}


def _count_absent(conn: Connection, kelurahan: set[str], seen: dict[int, int]) -> int:
    """Residents still to record in the file's kelurahan whom the file does not list (left
    as they are: an export says moved or died in its status column)."""
    if not kelurahan:
        return 0
    r = residents.c
    absent = 0
    result = conn.execute(
        select(r.nik).where(r.kelurahan.in_(sorted(kelurahan)),
                            r.status.in_([s.value for s in MUST_RECORD
                                          if s is not Status.TEREKAM]))
        .execution_options(yield_per=50_000))
    for (nik,) in result:
        if int(nik) not in seen:
            absent += 1
    return absent


def columns_option(pairs: Sequence[str]) -> dict[str, str]:
    """``--columns nama=NAMA_WARGA,rt=RT_WARGA`` (or repeated) -> {column: header}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split(","):
            if not item.strip():
                continue
            column, sep, name = item.partition("=")
            if not sep or not column.strip() or not name.strip():
                raise InvalidInput(f"--columns {item!r}: write COLUMN=NAME, e.g. "
                                   "nama=NAMA_WARGA")
            key = column.strip().lower()
            if key not in (*CSV_COLUMNS, "status", "kode_undangan"):
                raise InvalidInput(f"--columns: {key} is not a column of the residents CSV "
                                   f"({', '.join((*CSV_COLUMNS, 'status'))})")
            mapping[key] = name.strip()
    return mapping
