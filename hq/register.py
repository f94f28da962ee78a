"""The programme's register: the residents of Kota Bekasi who must record their KTP-el, each
with a status and its history.

- :func:`import_residents` applies an office export (a SIAK-like CSV, :mod:`edge.residents`
  validates every row) in one transaction: new residents are added, changed details and
  statuses (moved, died, recorded elsewhere) are applied with their history, the same file
  again changes nothing, bad rows are reported and written to a rejects CSV.
- :func:`change_status` is the one place a resident's status changes after an import (the
  vault, review decisions, invitation deliveries): it writes the event and the coverage
  delta (``coverage_daily``) in the caller's transaction, so monitoring's figures always
  add up.
- :func:`list_residents`, :func:`get_resident` and :func:`search_residents` read it.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update

from edge import regions
from edge.clock import WIB
from edge.errors import InvalidInput, NotFound
from edge.residents import (
    CSV_COLUMNS,
    CsvLayout,
    MaritalStatus,
    RecordChecker,
    Row,
    RowFaults,
    Sex,
    header_key,
    open_siak_csv,
)
from hq.db import coverage_daily, register_imports, resident_events, residents


class Status(StrEnum):
    """A resident's status on the register (the issue's words, hyphenated as codes)."""

    BELUM_REKAM = "belum-rekam"  # must still record
    DIUNDANG = "diundang"  # invited
    TEREKAM = "terekam"  # recorded by a kit, accepted by the vault or a supervisor
    PERLU_TINJAU = "perlu-tinjau"  # a recording waits for a supervisor's review
    PINDAH = "pindah"  # moved away
    MENINGGAL = "meninggal"  # died
    REKAM_LAIN = "sudah-rekam-di-tempat-lain"  # recorded elsewhere (another office)

    @property
    def label(self) -> str:
        return self.value.replace("-", " ")


#: Residents who count in the base of "must record" (the others left the programme).
MUST_RECORD = frozenset({Status.BELUM_REKAM, Status.DIUNDANG, Status.PERLU_TINJAU,
                         Status.TEREKAM})
#: Residents a kit should still record (what worklists carry).
TO_RECORD = (Status.BELUM_REKAM, Status.DIUNDANG)
_LEFT = frozenset(Status) - MUST_RECORD

_STATUS_ALIASES = {
    **{s.value: s for s in Status},
    "belum": Status.BELUM_REKAM, "undang": Status.DIUNDANG, "rekam": Status.TEREKAM,
    "tinjau": Status.PERLU_TINJAU, "review": Status.PERLU_TINJAU,
    "tempat-lain": Status.REKAM_LAIN, "rekam-lain": Status.REKAM_LAIN,
    "rekam-di-tempat-lain": Status.REKAM_LAIN,
}


def parse_status(text: str) -> Status:
    """A status as people type it: "belum rekam", "BELUM_REKAM", "terekam"..."""
    key = "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    found = _STATUS_ALIASES.get(key)
    if found is None:
        raise InvalidInput(f"{text!r} is not a status; one of: "
                           f"{', '.join(s.value for s in Status)}")
    return found


# --- the status column of an office export ---------------------------------------------------

#: Header names of the optional status column (after :func:`edge.residents.header_key`).
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


# --- coverage deltas ---------------------------------------------------------------------------

Area = tuple[str, str, str]  # kelurahan, rw, rt


class Coverage:
    """Changes to ``coverage_daily`` gathered in memory, written once per transaction."""

    def __init__(self) -> None:
        self.deltas: Counter[tuple[date, str, str, str, str]] = Counter()

    def move(self, day: date, before: tuple[Area, Status] | None,
             after: tuple[Area, Status] | None) -> None:
        """A resident went from ``before`` (area, status; None: not on the register) to
        ``after``."""
        for state, sign in ((before, -1), (after, 1)):
            if state is None:
                continue
            (kelurahan, rw, rt), status = state
            if status in MUST_RECORD:
                self.deltas[(day, kelurahan, rw, rt, "must_record")] += sign
            if status is Status.TEREKAM:
                self.deltas[(day, kelurahan, rw, rt, "recorded")] += sign

    def add_many(self, day: date, counts: Mapping[Area, int], column: str) -> None:
        for (kelurahan, rw, rt), n in counts.items():
            self.deltas[(day, kelurahan, rw, rt, column)] += n

    def flush(self, conn: Connection) -> None:
        rows: dict[tuple[date, str, str, str], dict[str, Any]] = {}
        for (day, kelurahan, rw, rt, column), n in self.deltas.items():
            row = rows.setdefault((day, kelurahan, rw, rt), {
                "day": day, "kelurahan": kelurahan, "rw": rw, "rt": rt,
                "must_record": 0, "recorded": 0})
            row[column] += n
        self.deltas.clear()
        values = [r for r in rows.values() if r["must_record"] or r["recorded"]]
        if not values:
            return
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(coverage_daily)
        c = coverage_daily.c
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[c.day, c.kelurahan, c.rw, c.rt],
            set_={"must_record": c.must_record + stmt.excluded.must_record,
                  "recorded": c.recorded + stmt.excluded.recorded}), values)


def wib_day(when: datetime) -> date:
    """The day in Bekasi (WIB) of an instant: what "per day" means in the figures."""
    return when.astimezone(WIB).date()


# --- status changes after an import --------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    resident_id: int
    nik: str
    before: Status
    after: Status


def change_status(
    conn: Connection, nik: str, to: Status, *, at: datetime, by: str, reason: str = "",
    source: str = "", only_from: Iterable[Status] | None = None,
    coverage: Coverage | None = None,
) -> StatusChange | None:
    """Set a resident's status in the caller's transaction, with its event (who, when, why,
    from what) and its coverage delta. ``only_from``: change only a resident whose status
    is one of these (else nothing happens and None is returned). NotFound for an unknown
    NIK. Pass a ``coverage`` to gather deltas of many changes and flush them once."""
    r = residents.c
    row = conn.execute(select(r.id, r.status, r.kelurahan, r.rw, r.rt)
                       .where(r.nik == nik)).first()
    if row is None:
        raise NotFound(f"NIK {nik} is not on the register")
    before = Status(row.status)
    allowed = None if only_from is None else set(only_from)
    if before is to or (allowed is not None and before not in allowed):
        return None
    conn.execute(update(residents).where(r.id == row.id).values(status=to.value, status_at=at))
    conn.execute(insert(resident_events).values(
        resident_id=row.id, at=at, kind="status", status_from=before.value,
        status_to=to.value, changes="", import_id=None, source=source, by=by[:64],
        reason=reason))
    area = (row.kelurahan, row.rw, row.rt)
    deltas = coverage or Coverage()
    deltas.move(wib_day(at), (area, before), (area, to))
    if coverage is None:
        deltas.flush(conn)
    return StatusChange(row.id, nik, before, to)


# --- the import --------------------------------------------------------------------------------

#: Columns of ``residents`` that an import compares and writes, in :data:`CSV_COLUMNS` order.
_FIELDS = ("nik", "no_kk", "name", "sex", "birth_place", "birth_date", "marital_status",
           "address", "rt", "rw", "kelurahan", "kecamatan")
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
    importer = _Importer(engine, path, dry_run=dry_run, by=by or _user(), now=now,
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
                result.imported_before = _aware(before) if before is not None else None
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


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


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
        columns = (*_FIELDS, "status", "status_at", "added_import_id")
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
        select(r.id, r.status, r.status_at, *(r[f] for f in _FIELDS))
        .where(r.nik.in_([g.row[0] for g in chunk])))}
    new: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    now, day, coverage = importer.now, importer.day, importer.coverage
    for g in chunk:
        row = g.row
        fields = dict(zip(_FIELDS, _db_values(row)))
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
        changes = {f: [_shown(old_value), _shown(fields[f])] for f in _FIELDS
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
            **{f: bindparam(f) for f in (*_FIELDS, "status", "status_at")}), updates)
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


# --- reading the register ----------------------------------------------------------------


@dataclass(frozen=True)
class RegisterResident:
    id: int
    nik: str
    no_kk: str
    name: str
    sex: str
    birth_place: str
    birth_date: date
    marital_status: str
    address: str
    rt: str
    rw: str
    kelurahan: str
    kecamatan: str
    status: Status
    status_at: datetime

    @property
    def kelurahan_name(self) -> str:
        return regions.get(self.kelurahan).name

    def to_dict(self) -> dict[str, Any]:
        return {
            "nik": self.nik, "no_kk": self.no_kk, "nama": self.name,
            "jenis_kelamin": self.sex, "tempat_lahir": self.birth_place,
            "tanggal_lahir": self.birth_date.isoformat(), "status_kawin": self.marital_status,
            "alamat": self.address, "rt": self.rt, "rw": self.rw,
            "kode_kelurahan": self.kelurahan, "kode_kecamatan": self.kecamatan,
            "status": self.status.value, "status_sejak": self.status_at.isoformat(),
        }


_RESIDENT_COLUMNS = (residents.c.id, *(residents.c[f] for f in _FIELDS), residents.c.status,
                     residents.c.status_at)


def _resident(row: Any) -> RegisterResident:
    m = row._mapping
    return RegisterResident(
        id=m["id"], nik=m["nik"], no_kk=m["no_kk"], name=m["name"], sex=m["sex"],
        birth_place=m["birth_place"], birth_date=m["birth_date"],
        marital_status=m["marital_status"], address=m["address"], rt=m["rt"], rw=m["rw"],
        kelurahan=m["kelurahan"], kecamatan=m["kecamatan"], status=Status(m["status"]),
        status_at=_aware(m["status_at"]))


@dataclass(frozen=True)
class Filters:
    kecamatan: str | None = None  # codes, resolved by the caller (edge.regions.find)
    kelurahan: str | None = None
    rw: str | None = None  # zero-padded
    rt: str | None = None
    statuses: tuple[Status, ...] = ()


def rt_rw_number(text: str, what: str) -> str:
    value = text.strip()
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 1000):
        raise InvalidInput(f"{what} {text!r} is not a number from 1 to 999")
    return f"{int(value):03d}"


def _where(filters: Filters) -> list[Any]:
    r = residents.c
    where: list[Any] = []
    if filters.kecamatan:
        where.append(r.kecamatan == filters.kecamatan)
    if filters.kelurahan:
        where.append(r.kelurahan == filters.kelurahan)
    if filters.rw:
        where.append(r.rw == filters.rw)
    if filters.rt:
        where.append(r.rt == filters.rt)
    if filters.statuses:
        where.append(r.status.in_([s.value for s in filters.statuses]))
    return where


def list_residents(engine: Engine, filters: Filters, *, limit: int | None = None
                   ) -> Iterator[RegisterResident]:
    """Residents in area order (kelurahan, RW, RT, address, name), streamed."""
    r = residents.c
    query = (select(*_RESIDENT_COLUMNS).where(*_where(filters))
             .order_by(r.kelurahan, r.rw, r.rt, r.address, r.name, r.nik))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        for row in conn.execute(query.execution_options(yield_per=10_000)):
            yield _resident(row)


def count_residents(engine: Engine, filters: Filters) -> Counter[str]:
    r = residents.c
    with engine.connect() as conn:
        return Counter({row[0]: int(row[1]) for row in conn.execute(
            select(r.status, func.count()).where(*_where(filters)).group_by(r.status))})


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # "added", "status", "details"
    status_from: str | None
    status_to: str | None
    changes: dict[str, list[str]]
    file_name: str | None
    import_id: int | None
    source: str
    by: str
    reason: str


def get_resident(engine: Engine, nik: str) -> tuple[RegisterResident, list[HistoryEntry]]:
    """A resident and their history, oldest first: the import that added them, then
    every change."""
    from edge.nik import parse_nik

    value = parse_nik(nik).value
    r, e, i = residents.c, resident_events.c, register_imports.c
    with engine.connect() as conn:
        row = conn.execute(select(*_RESIDENT_COLUMNS, r.added_import_id)
                           .where(r.nik == value)).first()
        if row is None:
            raise NotFound(f"NIK {value} is not on the register")
        resident = _resident(row)
        added = conn.execute(select(i.id, i.file_name, i.imported_at, i.imported_by)
                             .where(i.id == row.added_import_id)).one()
        history = [HistoryEntry(
            at=_aware(added.imported_at), kind="added", status_from=None,
            status_to=None, changes={}, file_name=added.file_name, import_id=added.id,
            source="", by=added.imported_by, reason="")]
        for ev in conn.execute(
                select(e.at, e.kind, e.status_from, e.status_to, e.changes, e.import_id,
                       e.source, e.by, e.reason, i.file_name)
                .select_from(resident_events.outerjoin(register_imports,
                                                       e.import_id == i.id))
                .where(e.resident_id == resident.id).order_by(e.id)):
            history.append(HistoryEntry(
                at=_aware(ev.at), kind=ev.kind, status_from=ev.status_from,
                status_to=ev.status_to, changes=json.loads(ev.changes) if ev.changes else {},
                file_name=ev.file_name, import_id=ev.import_id, source=ev.source, by=ev.by,
                reason=ev.reason))
    # The status the resident was added with: the first status event's "from", else now.
    first_status = next((h.status_from for h in history if h.kind == "status"),
                        resident.status.value)
    history[0] = HistoryEntry(**{**history[0].__dict__, "status_to": first_status})
    return resident, history


def search_residents(engine: Engine, text: str, *, limit: int = 50) -> list[RegisterResident]:
    """By NIK (exact, or its first digits), by KK number, or by name (every word, in any
    order, case-insensitive)."""
    query = text.strip()
    if not query:
        raise InvalidInput("search for a NIK, a KK number or a name")
    r = residents.c
    digits = "".join(query.split()).replace(".", "").replace("-", "")
    if digits.isascii() and digits.isdigit():
        if len(digits) == 16:
            condition: Any = or_(r.nik == digits, r.no_kk == digits)
        elif len(digits) >= 6:
            condition = r.nik.startswith(digits)
        else:
            raise InvalidInput("give at least 6 digits of a NIK")
    else:
        words = [w for w in query.split() if w]
        if any(len(w) < 2 for w in words) and len(words) == 1:
            raise InvalidInput("give at least 2 letters of a name")
        condition = and_(*(r.name.ilike(f"%{_escape_like(w)}%", escape="\\") for w in words))
    with engine.connect() as conn:
        return [_resident(row) for row in conn.execute(
            select(*_RESIDENT_COLUMNS).where(condition)
            .order_by(r.name, r.kelurahan, r.nik).limit(limit))]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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


__all__ = ["MUST_RECORD", "TO_RECORD", "Coverage", "Filters", "ImportResult",
           "MaritalStatus", "RegisterResident", "Sex", "Status", "change_status",
           "get_resident", "import_residents", "list_residents", "parse_status",
           "search_residents"]
