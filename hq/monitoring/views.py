"""What one dashboard page shows, gathered in one call (no web framework here): the area's
figures, its children's, its progress over time, and at RW level the residents still to
record. The chart configurations are plain data for Chart.js, never code."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from edge.clock import WIB
from hq.monitoring import coverage, invitations
from hq.register import TO_RECORD
from hq.register_read import Filters, RegisterResident, list_residents

TARGET = 0.95  # the programme's target coverage (the dashed line on progress charts)
MAX_LISTED = 2000  # residents listed on one RW page (an RW has a few hundred)


def today() -> date:
    return datetime.now(WIB).date()


def area_view(engine: Engine, area: coverage.Area, period: coverage.Period,
              language: str = "id") -> dict[str, Any]:
    total = coverage.total(engine, area, period)
    level = area.child_level
    children = coverage.figures(engine, area, level, period) if level else []
    span = coverage.data_span(engine, area)
    start = period.start or (span[0] if span else period.end)
    weekly = (period.end - start).days > 62
    points = coverage.series(engine, area, coverage.Period(start, period.end), weekly=weekly)
    residents = not_recorded(engine, area) if area.level in ("rw", "rt") else []
    funnel_area = area if area.level != "rt" else coverage.Area("rw", area.code, area.rw)
    funnel = invitations.total(engine, funnel_area, period)
    return {
        "funnel": funnel, "marks": invitations.MARKS,
        "total": total, "children": children, "child_level": level, "points": points,
        "weekly": weekly, "residents": residents, "listed_max": MAX_LISTED,
        "children_chart": children_chart(children),
        "progress_chart": progress_chart(points, TARGET, language),
        "target": TARGET,
    }


def not_recorded(engine: Engine, area: coverage.Area) -> list[RegisterResident]:
    """The residents of an RW (or RT) still to record, in walking order: what the Lurah or
    the RT head needs to knock on doors."""
    filters = Filters(kelurahan=area.code, rw=area.rw or None, rt=area.rt or None,
                      statuses=TO_RECORD)
    return list(list_residents(engine, filters, limit=MAX_LISTED))


def resident_json(r: RegisterResident) -> dict[str, Any]:
    return {"nik": r.nik, "nama": r.name, "alamat": r.address, "rt": r.rt, "rw": r.rw,
            "kode_kelurahan": r.kelurahan, "status": r.status.value}


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def children_chart(rows: list[coverage.Figures]) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {"labels": [r.area.name for r in rows],
                 "datasets": [{"label": "%", "data": [_pct(r.coverage) for r in rows],
                               "backgroundColor": "#1b7f3b"}]},
        "options": {"indexAxis": "y", "plugins": {"legend": {"display": False}},
                    "scales": {"x": {"min": 0, "max": 100}}},
    }


def progress_chart(points: list[coverage.Point], target: float,
                   language: str = "id") -> dict[str, Any]:
    labels = [p.day.isoformat() for p in points]
    names = ("cakupan %", "target %") if language == "id" else ("coverage %", "target %")
    return {
        "type": "line",
        "data": {"labels": labels, "datasets": [
            {"label": names[0], "data": [_pct(p.coverage) for p in points],
             "borderColor": "#0b5cad", "backgroundColor": "#0b5cad",
             "pointRadius": 4 if len(points) == 1 else 0, "tension": 0},  # one day: a dot
            {"label": names[1], "data": [round(100 * target, 1)] * len(points),
             "borderColor": "#b3261e", "borderDash": [6, 4], "pointRadius": 0},
        ]},
        "options": {"scales": {"y": {"min": 0, "max": 100}}},
    }
