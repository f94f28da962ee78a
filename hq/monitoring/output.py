"""Each kit's and each operator's output per day, from what the vault filed.

The vault keeps one row per opened packet in ``enrolments`` (kit, operator, the WIB day of
the recording, the resident's kelurahan, and its verdict: accepted, waiting for review,
rejected, training, unreadable); the database counts them per day, kelurahan, kit,
operator and verdict in ``enrolment_daily`` (hq/monitoring/rollup.py). This module reads
only that rollup, so a month of the whole city's output is a few thousand rows.

An operator id is the kit's own (two kits may both have an "ani"), so an operator is always
named with their kit. Training recordings (a kit registered for training) are counted
apart from real ones, never added to them; an unreadable packet belongs to its kit, not to
an operator (HQ could not read who recorded it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select

from hq.db import enrolment_daily
from hq.monitoring.coverage import Area, _within

STATES = ("accepted", "review", "rejected", "training", "unreadable")
REAL = ("accepted", "review", "rejected", "unreadable")  # recordings of residents


@dataclass
class Tally:
    """Recordings by the vault's verdict."""

    accepted: int = 0
    review: int = 0  # waiting for a supervisor's decision
    rejected: int = 0
    training: int = 0  # from a kit registered for training: never a real recording
    unreadable: int = 0

    @property
    def recorded(self) -> int:
        """Real recordings, whatever the verdict (training apart)."""
        return self.accepted + self.review + self.rejected + self.unreadable

    def add(self, state: str, n: int) -> None:
        if state in STATES:
            setattr(self, state, getattr(self, state) + n)

    def to_dict(self) -> dict[str, int]:
        return {"direkam": self.recorded, "diterima": self.accepted,
                "menunggu_tinjauan": self.review, "ditolak": self.rejected,
                "tidak_terbaca": self.unreadable, "latihan": self.training}


@dataclass
class OutputRow:
    """One kit's (``operator_id`` "") or one operator's output over the days."""

    device_id: str
    operator_id: str
    per_day: list[int]  # real recordings each day
    training_per_day: list[int]
    tally: Tally = field(default_factory=Tally)
    is_kit: bool = False

    @property
    def days_active(self) -> int:
        return sum(1 for n in self.per_day if n)

    @property
    def per_active_day(self) -> float | None:
        return self.tally.recorded / self.days_active if self.days_active else None

    @property
    def best_day(self) -> int:
        return max(self.per_day, default=0)

    def to_dict(self, days: list[date]) -> dict[str, Any]:
        return {"kit": self.device_id,
                **({} if self.is_kit else {"operator": self.operator_id}),
                **self.tally.to_dict(), "hari_aktif": self.days_active,
                "per_hari": {d.isoformat(): n for d, n in zip(days, self.per_day) if n},
                "latihan_per_hari": {d.isoformat(): n for d, n in
                                     zip(days, self.training_per_day) if n}}


@dataclass
class Output:
    days: list[date]
    kits: list[OutputRow]  # every kit with a recording in the days, by id
    operators: list[OutputRow]  # every (kit, operator), by kit then operator
    total: Tally
    daily: list[tuple[date, str, str, str, int]]  # (day, kit, operator, state, n)

    def kit(self, device_id: str) -> OutputRow | None:
        return next((k for k in self.kits if k.device_id == device_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"dari": self.days[0].isoformat() if self.days else None,
                "sampai": self.days[-1].isoformat() if self.days else None,
                "jumlah": self.total.to_dict(),
                "kit": [k.to_dict(self.days) for k in self.kits],
                "operator": [o.to_dict(self.days) for o in self.operators]}


def last_days(days: int, now: datetime | None = None) -> tuple[date, date]:
    """The last ``days`` WIB days, today included."""
    from edge.clock import WIB

    today = (now or datetime.now(UTC)).astimezone(WIB).date()
    return today - timedelta(days=days - 1), today


def output(engine: Engine, within: Area, first: date, last: date) -> Output:
    """Every kit's and operator's recordings per day from ``first`` to ``last`` (WIB days)
    whose resident lives inside ``within`` (the kota: also the packets HQ could not read,
    which have no area)."""
    d = enrolment_daily.c
    conds = [d.day >= first, d.day <= last, *_within(d, within)]
    q = (select(d.day, d.device_id, d.operator_id, d.state, func.sum(d.recordings))
         .where(and_(*conds)).group_by(d.day, d.device_id, d.operator_id, d.state))
    with engine.connect() as conn:
        rows = [(r[0], str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in conn.execute(q)]
    return build(rows, first, last)


def build(rows: Iterable[tuple[date, str, str, str, int]], first: date,
          last: date) -> Output:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {day: i for i, day in enumerate(days)}
    kits: dict[str, OutputRow] = {}
    operators: dict[tuple[str, str], OutputRow] = {}
    total = Tally()
    kept = []
    for day, kit, operator, state, n in rows:
        if not n or day not in index:
            continue
        kept.append((day, kit, operator, state, n))
        i = index[day]
        total.add(state, n)
        targets = [kits.setdefault(kit, OutputRow(kit, "", [0] * len(days), [0] * len(days),
                                                  is_kit=True))]
        if state != "unreadable":
            targets.append(operators.setdefault((kit, operator), OutputRow(
                kit, operator, [0] * len(days), [0] * len(days))))
        for row in targets:
            row.tally.add(state, n)
            if state == "training":
                row.training_per_day[i] += n
            else:
                row.per_day[i] += n
    kept.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    return Output(days, [kits[k] for k in sorted(kits)],
                  [operators[k] for k in sorted(operators)], total, kept)
