"""Where the kit stands today and the queue in front of it.

The operator sets the *service point* each morning (a balai RW, a school, a resident's home:
the programme's three kinds of place) and calls residents by queue number. Neither is in the
kit's database: they are facts of one day, kept in a small JSON file in the kit's home
(``tui-state.json``, its name from when only the UI kept it) and started afresh each day.
:func:`expected_rws` says whose residents the day's point expects.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from edge.residents import Resident
from edge.roster import ScheduleEntry

STATE_FILE = "tui-state.json"


class PlaceType(StrEnum):
    BALAI_RW = "balai_rw"
    SCHOOL = "school"
    HOME_VISIT = "home_visit"


@dataclass(frozen=True)
class ServicePoint:
    """Where the kit stands today: a balai RW, a school, or a resident's home."""

    place_type: str  # a PlaceType value
    kelurahan: str  # Kemendagri code
    rw: str  # "005"
    name: str  # "Balai RW 005", "SMAN 1 Bekasi", "Rumah Ibu Sari"
    day: str = ""  # ISO date it was set for

    def label(self) -> str:
        """The text stored in each packet's manifest (``KitConfig.service_point``)."""
        return f"{self.name}; {self.place_type}; {self.kelurahan}; RW {self.rw}"


@dataclass(frozen=True)
class Expected:
    """The invited residents the service point still awaits today."""

    rws: tuple[str, ...]  # the RWs they live in; empty: the whole roster
    residents: tuple[Resident, ...]  # the first of them, by RW and name
    total: int  # how many in all


def expected_rws(point: ServicePoint | None, schedule: list[ScheduleEntry],
                 today: date) -> tuple[str, ...]:
    """The RWs whose residents are expected here today: the service point's RW, else
    those on HQ's schedule for today, else none (the whole roster)."""
    if point is not None and point.rw:
        return (point.rw,)
    return tuple(sorted({s.rw for s in schedule if s.date == today and s.rw}))


@dataclass
class _DayState:
    service_point: dict[str, str] | None = None
    queue_day: str = ""
    called: int = 0
    issued: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class DayBook:
    """Today's service point and queue numbers, in the kit's home. Not thread-safe on its
    own: the caller serialises (the UI's services hold the kit's lock)."""

    def __init__(self, home: Path) -> None:
        self._path = home / STATE_FILE

    def _load(self) -> _DayState:
        try:
            data = json.loads(self._path.read_text())
            return _DayState(**{k: v for k, v in data.items()
                                if k in _DayState.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return _DayState()

    def _save(self, state: _DayState) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=1))
        os.replace(tmp, self._path)

    def service_point(self, today: date) -> ServicePoint | None:
        """Today's service point, or None when it was not set today."""
        point = self.last_service_point()
        return point if point is not None and point.day == today.isoformat() else None

    def last_service_point(self) -> ServicePoint | None:
        data = self._load().service_point
        return ServicePoint(**data) if data else None

    def set_service_point(self, point: ServicePoint, today: date) -> ServicePoint:
        """Keep ``point`` as today's (its RW padded to three digits); returns it."""
        rw = point.rw.strip()
        point = replace(point, day=today.isoformat(), rw=rw.zfill(3) if rw else "")
        state = self._load()
        state.service_point = asdict(point)
        self._save(state)
        return point

    def _queue(self, today: date) -> _DayState:
        state = self._load()
        if state.queue_day != today.isoformat():
            state.queue_day, state.called, state.issued = today.isoformat(), 0, 0
        return state

    def call_next(self, today: date) -> int:
        """Call the next queue number; returns it."""
        state = self._queue(today)
        state.called += 1
        state.issued = max(state.issued, state.called)
        self._save(state)
        return state.called

    def queue(self, today: date) -> tuple[int, int]:
        """(the number being served, the last one handed out) today."""
        state = self._queue(today)
        return state.called, state.issued
