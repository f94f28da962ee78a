"""Coverage: residents recorded ÷ residents who must record, for any area and period.

The register keeps, per day (WIB) and RT, how much "must record" and "recorded" changed
that day (``coverage_daily``, written by :func:`hq.register.change_status` and the imports
in the same transaction as the change). So the base *as it stood* on any day — moved,
died and recorded-elsewhere residents out, newly added ones in — is the sum of the deltas
up to that day, and every level (kota, kecamatan, kelurahan, RW, RT) is the sum of the
level below it: the figures add up by construction, and no query reads the residents.

Areas are Kemendagri codes (``32.75``, ``32.75.01``, ``32.75.01.1001``); an RW or RT is
given with its kelurahan. Days are WIB days (what "per day" means in Bekasi).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, select

from edge import regions
from edge.errors import InvalidInput, NotFound
from hq.db import coverage_daily, coverage_kelurahan_daily

LEVELS = ("kota", "kecamatan", "kelurahan", "rw", "rt")


@dataclass(frozen=True)
class Area:
    """A place in the drill-down: the kota, a kecamatan, a kelurahan, an RW of a kelurahan
    or an RT of an RW."""

    level: str
    code: str  # Kemendagri code of the kota / kecamatan / kelurahan (of the RW's kelurahan)
    rw: str = ""  # "005"
    rt: str = ""

    @property
    def key(self) -> str:
        return "/".join(p for p in (self.code, self.rw, self.rt) if p)

    @property
    def name(self) -> str:
        if self.level == "rw":
            return f"RW {self.rw}"
        if self.level == "rt":
            return f"RT {self.rt}"
        return regions.get(self.code).name

    @property
    def child_level(self) -> str | None:
        i = LEVELS.index(self.level)
        return LEVELS[i + 1] if i + 1 < len(LEVELS) else None

    def path(self) -> list[Area]:
        """From the kota down to this area (the breadcrumbs)."""
        out = [Area("kota", regions.KOTA_BEKASI)]
        if self.level != "kota":
            out.append(Area("kecamatan", self.code[:8]))
        if self.level in ("kelurahan", "rw", "rt"):
            out.append(Area("kelurahan", self.code))
        if self.level in ("rw", "rt"):
            out.append(Area("rw", self.code, self.rw))
        if self.level == "rt":
            out.append(self)
        return out


KOTA = Area("kota", regions.KOTA_BEKASI)


def _table(level: str) -> Any:
    """The per-kelurahan rollup (kept by triggers, hq/monitoring/rollup.py) answers every
    level down to the kelurahan; RWs and RTs read the per-RT deltas of one kelurahan."""
    return coverage_kelurahan_daily if level in ("kota", "kecamatan", "kelurahan") \
        else coverage_daily


def area_of(code: str, rw: str = "", rt: str = "") -> Area:
    """The area for a code (and RW, RT): NotFound for a code that is not in Kota Bekasi."""
    region = regions.get(code)
    if rw or rt:
        if region.level != "kelurahan":
            raise InvalidInput("an RW or RT is given with its kelurahan")
        rw = _number(rw, "RW")
        if rt:
            return Area("rt", region.code, rw, _number(rt, "RT"))
        return Area("rw", region.code, rw)
    return Area(region.level, region.code)


def _number(text: str, what: str) -> str:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 1000:
        raise InvalidInput(f"{what} {text!r} is not a number from 1 to 999")
    return f"{int(text):03d}"


@dataclass(frozen=True)
class Figures:
    area: Area
    must_record: int  # the base at the end of the period
    recorded: int  # recorded by the end of the period
    must_record_start: int  # the base the day before the period began
    recorded_start: int

    @property
    def coverage(self) -> float | None:
        return self.recorded / self.must_record if self.must_record else None

    @property
    def recorded_in_period(self) -> int:
        return self.recorded - self.recorded_start

    @property
    def base_change(self) -> int:
        """How the base moved in the period (newly added in, moved/died/elsewhere out)."""
        return self.must_record - self.must_record_start

    @property
    def remaining(self) -> int:
        return self.must_record - self.recorded

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.area.level, "code": self.area.code, "rw": self.area.rw or None,
                "rt": self.area.rt or None, "name": self.area.name,
                "must_record": self.must_record, "recorded": self.recorded,
                "remaining": self.remaining,
                "coverage": None if self.coverage is None else round(self.coverage, 6),
                "recorded_in_period": self.recorded_in_period,
                "must_record_start": self.must_record_start,
                "base_change": self.base_change}


@dataclass(frozen=True)
class Period:
    start: date | None  # None: from the beginning
    end: date

    def __post_init__(self) -> None:
        if self.start is not None and self.start > self.end:
            raise InvalidInput(f"the period starts ({self.start}) after it ends ({self.end})")


def _within(c: Any, area: Area) -> list[Any]:
    """Conditions on coverage_daily's columns for the rows inside ``area``. A code prefix
    is a range on the indexed kelurahan column ('.' < '/'), never a LIKE."""
    if area.level in ("kota", "kecamatan"):
        if area.level == "kota":
            return []
        return [c.kelurahan > area.code + ".", c.kelurahan < area.code + "/"]
    conds = [c.kelurahan == area.code]
    if area.rw:
        conds.append(c.rw == area.rw)
    if area.rt:
        conds.append(c.rt == area.rt)
    return conds


def _group(c: Any, level: str) -> list[Any]:
    if level == "kota":
        return []
    if level == "kecamatan":
        return [func.substr(c.kelurahan, 1, 8)]
    if level == "kelurahan":
        return [c.kelurahan]
    if level == "rw":
        return [c.kelurahan, c.rw]
    return [c.kelurahan, c.rw, c.rt]


def _area(level: str, key: Sequence[Any]) -> Area:
    if level == "kota":
        return KOTA
    if level == "kecamatan":
        return Area("kecamatan", str(key[0]))
    if level == "kelurahan":
        return Area("kelurahan", str(key[0]))
    if level == "rw":
        return Area("rw", str(key[0]), str(key[1]))
    return Area("rt", str(key[0]), str(key[1]), str(key[2]))


def figures(engine: Engine, within: Area, level: str, period: Period) -> list[Figures]:
    """One row per area of ``level`` inside ``within`` (``level == within.level``: the one
    row of that area), in code order. Areas with no resident ever are left out."""
    if LEVELS.index(level) < LEVELS.index(within.level):
        raise InvalidInput(f"cannot list {level} figures inside a {within.level}")
    c = _table(level).c
    group = _group(c, level)
    before = c.day < period.start if period.start else None
    zero = 0
    q = select(
        *group,
        func.coalesce(func.sum(c.must_record), zero),
        func.coalesce(func.sum(c.recorded), zero),
        func.coalesce(func.sum(case((before, c.must_record), else_=zero)), zero)
        if before is not None else func.sum(zero),
        func.coalesce(func.sum(case((before, c.recorded), else_=zero)), zero)
        if before is not None else func.sum(zero),
    ).where(and_(c.day <= period.end, *_within(c, within)))
    if group:
        q = q.group_by(*group).order_by(*group)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    n = len(group)
    out = []
    for r in rows:
        if r[n] is None:  # no rows at all (the kota with an empty register)
            continue
        f = Figures(_area(level, r[:n]) if n else within, int(r[n]), int(r[n + 1]),
                    int(r[n + 2] or 0), int(r[n + 3] or 0))
        if f.must_record or f.recorded or f.must_record_start:
            out.append(f)
    return out


def total(engine: Engine, area: Area, period: Period) -> Figures:
    rows = figures(engine, area, area.level, period)
    return rows[0] if rows else Figures(area, 0, 0, 0, 0)


@dataclass(frozen=True)
class Point:
    day: date  # the day (or the Monday of the week)
    must_record: int  # the base at the end of that day / week
    recorded: int  # recorded by the end of that day / week
    recorded_that_day: int  # recorded in that day / week (net of reversals)

    @property
    def coverage(self) -> float | None:
        return self.recorded / self.must_record if self.must_record else None


def series(engine: Engine, area: Area, period: Period, *, weekly: bool = False) -> list[Point]:
    """Coverage of ``area`` at the end of each day (or ISO week, Monday first) of the
    period, with what was recorded in it. Days with no change carry the day before."""
    c = _table(area.level).c
    q = (select(c.day, func.sum(c.must_record), func.sum(c.recorded))
         .where(and_(c.day <= period.end, *_within(c, area))).group_by(c.day).order_by(c.day))
    with engine.connect() as conn:
        rows = [(r[0], int(r[1]), int(r[2])) for r in conn.execute(q)]
    if not rows:
        return []
    start = period.start or rows[0][0]
    must = rec = 0
    by_day: dict[date, tuple[int, int]] = {}
    for day, dm, dr in rows:
        if day < start:
            must, rec = must + dm, rec + dr
        else:
            by_day[day] = (dm, dr)
    points: list[Point] = []
    day = start
    while day <= period.end:
        dm, dr = by_day.get(day, (0, 0))
        must, rec = must + dm, rec + dr
        points.append(Point(day, must, rec, dr))
        day += timedelta(days=1)
    return _weekly(points) if weekly else points


def _weekly(points: Iterable[Point]) -> list[Point]:
    weeks: dict[date, Point] = {}
    for p in points:
        monday = p.day - timedelta(days=p.day.weekday())
        prev = weeks.get(monday)
        weeks[monday] = Point(monday, p.must_record, p.recorded,
                              p.recorded_that_day + (prev.recorded_that_day if prev else 0))
    return list(weeks.values())


def data_span(engine: Engine, area: Area = KOTA) -> tuple[date, date] | None:
    """The first and last day with any change in ``area`` (None: the register is empty
    there)."""
    c = _table(area.level).c
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(c.day), func.max(c.day))
                                   .where(*_within(c, area))).one()
    return None if first is None else (first, last)


def check_area_has_data(engine: Engine, area: Area) -> None:
    if data_span(engine, area) is None:
        raise NotFound(f"no resident of {area.name} ({area.key}) is on the register")
