"""Reading the register: residents by area and status (:func:`list_residents`,
:func:`count_residents`), one resident with their history (:func:`get_resident`), and
search by NIK, KK number or name (:func:`search_residents`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from edge import regions
from edge.errors import InvalidInput, NotFound
from hq.db import register_imports, resident_events, residents
from hq.dialect import as_utc
from hq.register import RESIDENT_FIELDS, Status


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


_RESIDENT_COLUMNS = (residents.c.id, *(residents.c[f] for f in RESIDENT_FIELDS),
                     residents.c.status, residents.c.status_at)


def _resident(row: Any) -> RegisterResident:
    m = row._mapping
    return RegisterResident(
        id=m["id"], nik=m["nik"], no_kk=m["no_kk"], name=m["name"], sex=m["sex"],
        birth_place=m["birth_place"], birth_date=m["birth_date"],
        marital_status=m["marital_status"], address=m["address"], rt=m["rt"], rw=m["rw"],
        kelurahan=m["kelurahan"], kecamatan=m["kecamatan"], status=Status(m["status"]),
        status_at=as_utc(m["status_at"]))


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
            at=as_utc(added.imported_at), kind="added", status_from=None,
            status_to=None, changes={}, file_name=added.file_name, import_id=added.id,
            source="", by=added.imported_by, reason="")]
        for ev in conn.execute(
                select(e.at, e.kind, e.status_from, e.status_to, e.changes, e.import_id,
                       e.source, e.by, e.reason, i.file_name)
                .select_from(resident_events.outerjoin(register_imports,
                                                       e.import_id == i.id))
                .where(e.resident_id == resident.id).order_by(e.id)):
            history.append(HistoryEntry(
                at=as_utc(ev.at), kind=ev.kind, status_from=ev.status_from,
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
