"""The programme's register: the residents of Kota Bekasi who must record their KTP-el, each
with a status and its history. This module holds the statuses and how one changes:

- :class:`Status`, and the sets monitoring and worklists count by (:data:`MUST_RECORD`,
  :data:`TO_RECORD`);
- :func:`change_status` is the one place a resident's status changes after an import (the
  vault, review decisions, invitation deliveries): it writes the event and the coverage
  delta (``coverage_daily``) in the caller's transaction, so monitoring's figures always
  add up; :class:`Coverage` gathers those deltas.

Applying an office export is :mod:`hq.register_import`; reading the register (list, show,
search) is :mod:`hq.register_read`.
"""

from __future__ import annotations

import getpass
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from edge.clock import WIB
from edge.errors import InvalidInput, NotFound
from hq.db import coverage_daily, resident_events, residents


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


#: Columns of ``residents`` holding a resident's details: what an import compares and
#: writes, in :data:`edge.resident_record.CSV_COLUMNS` order, and what reading the register shows.
RESIDENT_FIELDS = ("nik", "no_kk", "name", "sex", "birth_place", "birth_date",
                   "marital_status", "address", "rt", "rw", "kelurahan", "kecamatan")


def login_name() -> str:
    """Who changes the register when nobody says (``--by``): the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


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
