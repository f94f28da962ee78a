"""The invitations funnel: letters made, printed, marked by the Satgas Pamor (delivered,
not found, moved, died, refused), and attended — the invited resident recorded after the
letter was made — by area, for letters whose visit falls in the period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, case, func, select

from hq.db import invitations, residents
from hq.delivery import Mark
from hq.monitoring.coverage import Area, Period, _area, _group, _within
from hq.register import Status

MARKS = tuple(m.value for m in Mark)


@dataclass(frozen=True)
class Funnel:
    area: Area
    letters: int
    printed: int
    marks: dict[str, int]  # latest mark of each letter -> letters
    attended: int  # invited residents recorded after their letter was made

    @property
    def delivered(self) -> int:
        return self.marks.get(Mark.DELIVERED.value, 0)

    @property
    def unmarked(self) -> int:
        return self.printed - sum(self.marks.values())

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.area.code, "rw": self.area.rw or None, "name": self.area.name,
                "letters": self.letters, "printed": self.printed, "marks": self.marks,
                "unmarked": self.unmarked, "attended": self.attended}


def funnel(engine: Engine, within: Area, level: str, period: Period) -> list[Funnel]:
    """One row per area of ``level`` (kota, kecamatan, kelurahan or rw) inside ``within``."""
    i, r = invitations.c, residents.c
    group = _group(i, level)
    attended = and_(r.status == Status.TEREKAM.value, r.status_at >= i.created_at)
    columns = [
        func.count(),
        func.sum(case((i.prints > 0, 1), else_=0)),
        *(func.sum(case((i.delivery == m, 1), else_=0)) for m in MARKS),
        func.sum(case((attended, 1), else_=0)),
    ]
    conds = [i.visit_date <= period.end, *_within(i, within)]
    if period.start:
        conds.append(i.visit_date >= period.start)
    q = (select(*group, *columns).select_from(invitations.join(
        residents, residents.c.id == i.resident_id)).where(and_(*conds)))
    if group:
        q = q.group_by(*group).order_by(*group)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    n = len(group)
    out = []
    for row in rows:
        if not row[n]:
            continue
        marks = {m: int(row[n + 2 + k] or 0) for k, m in enumerate(MARKS)}
        out.append(Funnel(_area(level, row[:n]) if n else within, int(row[n]),
                          int(row[n + 1] or 0), {m: v for m, v in marks.items() if v},
                          int(row[n + 2 + len(MARKS)] or 0)))
    return out


def total(engine: Engine, area: Area, period: Period) -> Funnel:
    rows = funnel(engine, area, area.level, period)
    return rows[0] if rows else Funnel(area, 0, 0, {}, 0)
