"""What HQ sent each kit: every signed worklist and who was on it.

Two questions need it. When HQ opens a packet: was this NIK on a worklist HQ sent that kit
(:class:`IssuedWorklists`, the default :class:`ResidentSource` of ``hq.inspect``)? When a
kit is lost: whose data did it carry (the breach report of ``rekam-hq device revoke``)?
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, func, insert, select

from edge.residents import Resident
from hq.db import worklist_issues, worklist_residents
from hq.dialect import as_utc


@dataclass(frozen=True)
class KnownResident:
    nik: str
    kelurahan: str
    name: str = ""


class ResidentSource(Protocol):
    """Who HQ expects a kit to record. ``hq.inspect`` asks it of every packet it opens; the
    programme register (when HQ has one) answers from the register, this module from the
    worklists HQ sent."""

    def resident_for_kit(self, device_id: str, nik: str) -> KnownResident | None: ...


def record_worklist(engine: Engine, device_id: str, version: int, issued_at: datetime,
                    expires_at: datetime, residents: Iterable[Resident]) -> int:
    """Keep who is on a worklist signed for a kit; returns how many."""
    rows = [{"device_id": device_id, "version": version, "nik": r.nik,
             "kelurahan": r.kelurahan, "name": r.name} for r in residents]
    with engine.begin() as conn:
        conn.execute(insert(worklist_issues).values(
            device_id=device_id, version=version, issued_at=issued_at, expires_at=expires_at,
            residents=len(rows)))
        for start in range(0, len(rows), 5000):
            conn.execute(insert(worklist_residents), rows[start:start + 5000])
    return len(rows)


class IssuedWorklists:
    """:class:`ResidentSource` from the worklists HQ signed for each kit (any version)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def resident_for_kit(self, device_id: str, nik: str) -> KnownResident | None:
        w = worklist_residents.c
        with self.engine.connect() as conn:
            row = conn.execute(select(w.nik, w.kelurahan, w.name)
                               .where(w.device_id == device_id, w.nik == nik)
                               .order_by(w.version.desc()).limit(1)).first()
        return None if row is None else KnownResident(row[0], row[1], row[2])


@dataclass(frozen=True)
class IssuedWorklist:
    version: int
    issued_at: datetime
    expires_at: datetime
    residents: int


def worklists_sent(engine: Engine, device_id: str) -> list[IssuedWorklist]:
    i = worklist_issues.c
    with engine.connect() as conn:
        return [IssuedWorklist(int(r[0]), as_utc(r[1]), as_utc(r[2]), int(r[3]))
                for r in conn.execute(select(i.version, i.issued_at, i.expires_at, i.residents)
                                      .where(i.device_id == device_id).order_by(i.version))]


def residents_sent(engine: Engine, device_id: str) -> list[tuple[KnownResident, int, int]]:
    """Every resident on any worklist sent to the kit, once: (resident, first version, last
    version), by NIK."""
    w = worklist_residents.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(w.nik, func.max(w.kelurahan), func.max(w.name), func.min(w.version),
                   func.max(w.version))
            .where(w.device_id == device_id).group_by(w.nik).order_by(w.nik)).all()
    return [(KnownResident(r[0], r[1], r[2]), int(r[3]), int(r[4])) for r in rows]
