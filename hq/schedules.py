"""Visit schedules: where a kit stands on which day, for which RWs.

HQ keeps them in its database (``visits``, ``visit_rws``): ``rekam-hq schedule add`` one at
a time, ``rekam-hq schedule import`` from the CSV an HQ clerk keeps in Excel. Worklists
built from the register carry the residents still to record in the RWs of a kit's coming
visits, and the visits themselves (the operator's service point screen offers today's);
invitation letters print the place, day and time of the resident's RW's visit.

The CSV (header names in any case; comma, semicolon or tab; UTF-8 with or without a BOM):
``tanggal`` (DD-MM-YYYY or YYYY-MM-DD), ``tempat`` (e.g. "Balai RW 005"), ``rw``, and
optionally ``kode_kelurahan`` (a code or a name; needed only when the kit serves more than
one kelurahan), ``catatan`` (a note the operator sees), ``waktu`` ("08.00-15.00"),
``jenis`` (balai-rw, sekolah, kunjungan-rumah), ``petugas`` (staff, comma-separated) and,
for ``schedule import``, ``kit`` (else ``--kit`` says whose visits they are). Rows of one
kit, day, place and time form one visit serving their RWs.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, insert, select

from edge import regions
from edge.errors import InvalidInput, NotFound, RowsRejected
from edge.resident_record import parse_date
from edge.residents_csv import header_key
from edge.roster import ScheduleEntry
from edge.text import hidden_problem
from hq.db import residents, visit_rws, visits

COLUMNS = ("tanggal", "tempat", "rw")
OPTIONAL = ("kode_kelurahan", "catatan", "waktu", "jenis", "petugas", "kit")
_ALIASES = {"tgl": "tanggal", "date": "tanggal", "lokasi": "tempat", "place": "tempat",
            "no_rw": "rw", "kelurahan": "kode_kelurahan", "kode_kel": "kode_kelurahan",
            "keterangan": "catatan", "jam": "waktu", "pukul": "waktu", "time": "waktu",
            "kind": "jenis", "staf": "petugas", "staff": "petugas", "perangkat": "kit",
            "device": "kit"}
KINDS = ("balai-rw", "sekolah", "kunjungan-rumah")

_RW = re.compile(r"\d{1,3}")
_TIME = re.compile(r"(\d{1,2})[.:](\d{2})\s*[-–]\s*(\d{1,2})[.:](\d{2})")
MAX_TEXT = 200


@dataclass(frozen=True)
class Visit:
    """A kit's visit: a place on a day, serving some RWs of one kelurahan."""

    device_id: str
    date: date
    place: str
    kelurahan: str  # Kemendagri code
    rws: tuple[str, ...]  # zero-padded, sorted
    time: str = ""  # "08.00-15.00", or "" (all day)
    kind: str = "balai-rw"
    staff: tuple[str, ...] = ()
    note: str = ""
    id: int | None = None
    created_at: datetime | None = None
    created_by: str = ""

    def entries(self) -> list[ScheduleEntry]:
        """The kit's schedule entries for this visit (one per RW), its note saying the
        time and the staff."""
        note = "; ".join(x for x in (
            f"pukul {self.time}" if self.time else "", self.note,
            f"petugas: {', '.join(self.staff)}" if self.staff else "") if x)
        return [ScheduleEntry(self.date, self.place, self.kelurahan, rw, note)
                for rw in self.rws]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kit": self.device_id, "tanggal": self.date.isoformat(),
                "waktu": self.time, "tempat": self.place, "kode_kelurahan": self.kelurahan,
                "kelurahan": regions.get(self.kelurahan).name, "rw": list(self.rws),
                "jenis": self.kind, "petugas": list(self.staff), "catatan": self.note}


# --- values, as clerks type them --------------------------------------------------------------


def clean_text(value: str, what: str = "", *, required: bool = True) -> str:
    """Free text from a person: trimmed, no control or bidi-override characters, at most
    :data:`MAX_TEXT` characters. ``what`` names it in the error (a CSV cell needs not)."""
    text = value.strip()
    subject = f"{what} " if what else ""
    if required and not text:
        raise InvalidInput(f"{subject}is empty" if what else "empty")
    problem = hidden_problem(text)
    if problem is not None:
        raise InvalidInput(f"{subject}{problem}")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{subject}is longer than {MAX_TEXT} characters")
    return text


def parse_rws(value: str) -> tuple[str, ...]:
    """ "5", "005", "5,6", "5, 6 7" -> ("005", "006", ...)."""
    parts = [p for p in re.split(r"[\s,;/]+", value.strip()) if p]
    if not parts:
        raise InvalidInput("no RW given")
    out = []
    for part in parts:
        if not (_RW.fullmatch(part) and int(part) > 0):
            raise InvalidInput(f"{part!r} is not an RW number (1 to 999)")
        out.append(f"{int(part):03d}")
    return tuple(sorted(set(out)))


def parse_time(value: str) -> str:
    """ "08.00-15.00", "8:00 - 15:00" -> "08.00-15.00"; "" stays ""."""
    text = value.strip()
    if not text:
        return ""
    m = _TIME.fullmatch(text)
    if not m:
        raise InvalidInput(f"{text!r} is not a time range like 08.00-15.00")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)):
        raise InvalidInput(f"{text!r} is not a time range within one day")
    return f"{h1:02d}.{m1:02d}-{h2:02d}.{m2:02d}"


def parse_kind(value: str) -> str:
    key = "-".join(value.strip().lower().replace("_", " ").split()) or "balai-rw"
    if key not in KINDS:
        raise InvalidInput(f"{value!r} is not a kind of visit: {', '.join(KINDS)}")
    return key


def parse_staff(value: str | Sequence[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else [
        x for v in value for x in v.split(",")]
    return tuple(clean_text(x, "a staff name") for x in items if x.strip())


# --- the CSV --------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; in Excel save it as 'CSV UTF-8'") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput(f"{path} is empty: expected a header line with "
                           f"{', '.join(COLUMNS)}")
    first = lines[0]
    delimiter = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    reader = csv.reader(lines, delimiter=delimiter)
    header = []
    for cell in next(reader):
        key = header_key(cell)
        header.append(_ALIASES.get(key, key))
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"{path}, line 1: missing column {', '.join(missing)} (the header "
                           f"needs {', '.join(COLUMNS)}; optional {', '.join(OPTIONAL)})")
    rows = []
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append((reader.line_num, {k: v.strip() for k, v in zip(header, row)}))
    return rows


def _kelurahan(value: str, served: Sequence[str]) -> str:
    if not value:
        if len(served) == 1:
            return served[0]
        raise InvalidInput(f"empty, and the kit serves {len(served)} kelurahan "
                           f"({', '.join(served)}): say which")
    code = regions.find(value, "kelurahan").code
    if code not in served:
        raise InvalidInput(f"{code} ({regions.get(code).name}) is not served by this kit "
                           f"({', '.join(served)})")
    return code


_T = TypeVar("_T")


@dataclass(frozen=True)
class _Row:
    """One row of the CSV: its cells parsed one by one, a fault naming line and column."""

    path: Path
    line: int
    record: dict[str, str]

    def get(self, column: str, parse: Callable[[str], _T]) -> _T:
        try:
            return parse(self.record.get(column, ""))
        except (InvalidInput, NotFound, ValueError) as exc:
            raise InvalidInput(f"{self.path}, line {self.line}, column {column}: {exc}",
                               line=self.line, column=column) from None


def read_schedule(path: Path, kelurahan: Sequence[str]) -> list[ScheduleEntry]:
    """The visits in ``path`` for a kit serving ``kelurahan``, sorted by date (for
    ``rekam-hq worklist --from CSV --schedule FILE``). A visit outside the kit's
    kelurahan, a bad date or RW, or a missing column is refused with the line and column
    named, so the clerk can find the cell in Excel."""
    entries: list[ScheduleEntry] = []
    problems: list[str] = []
    for line, record in _read_rows(path):
        row = _Row(path, line, record)
        try:
            day = row.get("tanggal", parse_date)
            place = row.get("tempat", lambda v: clean_text(v))
            kel = row.get("kode_kelurahan", lambda v: _kelurahan(v, kelurahan))
            rws = row.get("rw", parse_rws)
            note = row.get("catatan", lambda v: clean_text(v, required=False))
            time = row.get("waktu", parse_time)
        except InvalidInput as exc:  # every bad row is told, not only the first
            problems.append(str(exc))
            continue
        if time:
            note = "; ".join(x for x in (f"pukul {time}", note) if x)
        entries.extend(ScheduleEntry(day, place, kel, rw, note) for rw in rws)
    if problems:
        raise RowsRejected(f"{path}: {len(problems)} bad row{'s' if len(problems) > 1 else ''}",
                           problems)
    return sorted(entries, key=lambda e: (e.date, e.rw))


# --- the database ---------------------------------------------------------------------------


def _today() -> date:
    from hq.register import wib_day

    return wib_day(datetime.now(UTC))


@dataclass
class _Checked:
    visit: Visit
    line: int | None = None


def check_visit(conn: Connection, visit: Visit, *, today: date) -> Visit:
    """A visit as HQ will keep it, or InvalidInput/NotFound saying what is wrong: an
    unknown or inactive kit, a kelurahan the kit does not serve, an RW with nobody on the
    register, a day in the past."""
    from hq.devices import get_device_in

    device = get_device_in(conn, visit.device_id)
    if device.status != "active":
        raise InvalidInput(f"kit {device.device_id} is {device.status}; schedule an active kit")
    if visit.kelurahan not in device.kelurahan:
        names = ", ".join(f"{regions.get(k).name} ({k})" for k in device.kelurahan)
        raise InvalidInput(f"kit {device.device_id} does not serve "
                           f"{regions.get(visit.kelurahan).name} ({visit.kelurahan}); it "
                           f"serves {names} (rekam-hq device list)")
    if visit.date < today:
        raise InvalidInput(f"{visit.date:%d-%m-%Y} is in the past (today is "
                           f"{today:%d-%m-%Y})")
    r = residents.c
    known = {row[0] for row in conn.execute(
        select(r.rw).where(r.kelurahan == visit.kelurahan, r.rw.in_(visit.rws)).distinct())}
    unknown = [rw for rw in visit.rws if rw not in known]
    if unknown:
        raise InvalidInput(
            f"RW {', '.join(unknown)} of {regions.get(visit.kelurahan).name} has nobody on "
            "the register (rekam-hq residents list --kelurahan ... shows who is)")
    return visit


def _clash(conn: Connection, visit: Visit) -> tuple[int, str] | None:
    """An existing visit of the same kit, day and kelurahan serving one of these RWs."""
    v, w = visits.c, visit_rws.c
    row = conn.execute(
        select(v.id, v.place, v.time).select_from(visits.join(visit_rws, v.id == w.visit_id))
        .where(v.device_id == visit.device_id, v.date == visit.date,
               v.kelurahan == visit.kelurahan, w.rw.in_(visit.rws)).limit(1)).first()
    return None if row is None else (int(row[0]), f"{row[1]} {row[2]}".strip())


def _insert(conn: Connection, visit: Visit, by: str, now: datetime) -> int:
    visit_id = conn.execute(insert(visits).values(
        device_id=visit.device_id, date=visit.date, time=visit.time, place=visit.place,
        kelurahan=visit.kelurahan, kind=visit.kind, staff=", ".join(visit.staff),
        note=visit.note, created_at=now, created_by=by[:64]).returning(visits.c.id)
    ).scalar_one()
    conn.execute(insert(visit_rws), [{"visit_id": visit_id, "rw": rw} for rw in visit.rws])
    return int(visit_id)


def add_visit(engine: Engine, visit: Visit, *, by: str, today: date | None = None) -> Visit:
    """Check and keep one visit; nothing is written when anything is wrong (including a
    visit of the same kit, day and kelurahan for one of its RWs already scheduled)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        check_visit(conn, visit, today=today or _today())
        clash = _clash(conn, visit)
        if clash is not None:
            raise InvalidInput(f"kit {visit.device_id} already visits an RW of these on "
                               f"{visit.date:%d-%m-%Y} (visit {clash[0]}: {clash[1]})")
        visit_id = _insert(conn, visit, by, now)
    return Visit(**{**visit.__dict__, "id": visit_id, "created_at": now, "created_by": by})


@dataclass
class ImportedSchedule:
    added: list[Visit] = field(default_factory=list)
    already: int = 0  # visits already scheduled exactly so


def import_schedule(engine: Engine, path: Path, *, kit: str | None, by: str,
                    today: date | None = None) -> ImportedSchedule:
    """Every row checked first (every problem reported, line and column); then all the
    visits kept in one transaction, or none. A visit already scheduled exactly so is
    skipped, so importing the same file again changes nothing."""
    from hq.devices import get_device_in

    day = today or _today()
    rows = _read_rows(path)
    problems: list[str] = []
    groups: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = {}
    with engine.connect() as conn:
        for line, record in rows:
            row = _Row(path, line, record)
            try:
                device = row.get("kit", lambda v: get_device_in(conn, _kit(v, kit)))
                values: dict[str, Any] = {
                    "date": row.get("tanggal", parse_date),
                    "place": row.get("tempat", lambda v: clean_text(v)),
                    "kelurahan": row.get("kode_kelurahan", partial(_kelurahan,
                                                                  served=device.kelurahan)),
                    "rws": row.get("rw", parse_rws),
                    "time": row.get("waktu", parse_time),
                    "kind": row.get("jenis", parse_kind),
                    "staff": row.get("petugas", parse_staff),
                    "note": row.get("catatan",
                                    lambda v: clean_text(v, required=False)),
                }
            except (InvalidInput, NotFound) as exc:
                problems.append(str(exc))
                continue
            key = (device.device_id, values["date"], values["place"], values["kelurahan"],
                   values["time"], values["kind"])
            groups.setdefault(key, []).append((line, {**values, "device_id": device.device_id}))
        planned: list[tuple[int, Visit]] = []
        for members in groups.values():
            line, first = members[0]
            rws = tuple(sorted({rw for _, m in members for rw in m["rws"]}))
            staff = tuple(dict.fromkeys(s for _, m in members for s in m["staff"]))
            note = "; ".join(dict.fromkeys(m["note"] for _, m in members if m["note"]))
            visit = Visit(first["device_id"], first["date"], first["place"], first["kelurahan"],
                          rws, first["time"], first["kind"], staff, note)
            try:
                check_visit(conn, visit, today=day)
            except (InvalidInput, NotFound) as exc:
                problems.append(f"{path}, line {line}: {exc}")
                continue
            planned.append((line, visit))
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20
                                 else [])
        raise InvalidInput(f"{len(problems)} problem(s), nothing scheduled: "
                           + " | ".join(shown))
    result = ImportedSchedule()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for line, visit in planned:
            existing = _same(conn, visit)
            if existing:
                result.already += 1
                continue
            clash = _clash(conn, visit)
            if clash is not None:
                raise InvalidInput(f"{path}, line {line}: kit {visit.device_id} already visits "
                                   f"an RW of these on {visit.date:%d-%m-%Y} (visit "
                                   f"{clash[0]}: {clash[1]}); nothing scheduled")
            visit_id = _insert(conn, visit, by, now)
            result.added.append(Visit(**{**visit.__dict__, "id": visit_id,
                                         "created_at": now, "created_by": by}))
    return result


def _kit(value: str, default: str | None) -> str:
    device_id = value.strip() or (default or "")
    if not device_id:
        raise InvalidInput("empty, and no --kit given")
    return device_id


def _same(conn: Connection, visit: Visit) -> bool:
    v = visits.c
    for row in conn.execute(select(v.id).where(
            v.device_id == visit.device_id, v.date == visit.date, v.place == visit.place,
            v.kelurahan == visit.kelurahan, v.time == visit.time)):
        rws = tuple(sorted(r[0] for r in conn.execute(
            select(visit_rws.c.rw).where(visit_rws.c.visit_id == row[0]))))
        if rws == visit.rws:
            return True
    return False


def list_visits(engine: Engine, *, device_id: str | None = None, since: date | None = None,
                until: date | None = None, kelurahan: str | None = None) -> list[Visit]:
    """Visits in date order (``since``/``until`` inclusive)."""
    v, w = visits.c, visit_rws.c
    where: list[Any] = []
    if device_id:
        where.append(v.device_id == device_id)
    if since:
        where.append(v.date >= since)
    if until:
        where.append(v.date <= until)
    if kelurahan:
        where.append(v.kelurahan == kelurahan)
    with engine.connect() as conn:
        rows = conn.execute(select(visits).where(and_(*where))
                            .order_by(v.date, v.time, v.device_id, v.id)).all()
        rws: dict[int, list[str]] = {}
        if rows:
            for visit_id, rw in conn.execute(
                    select(w.visit_id, w.rw).where(w.visit_id.in_([r.id for r in rows]))
                    .order_by(w.visit_id, w.rw)):
                rws.setdefault(int(visit_id), []).append(rw)
    return [_visit(r, rws.get(int(r.id), [])) for r in rows]


def _visit(row: Any, rws: Iterable[str]) -> Visit:
    created = row.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Visit(device_id=row.device_id, date=row.date, place=row.place,
                 kelurahan=row.kelurahan, rws=tuple(rws), time=row.time, kind=row.kind,
                 staff=tuple(s.strip() for s in row.staff.split(",") if s.strip()),
                 note=row.note, id=int(row.id), created_at=created,
                 created_by=row.created_by)
