"""Building a kit's signed worklist: from the register and the kit's schedule (the usual
way), or from a SIAK-like CSV (ad-hoc lists).

From the register a kit carries only the residents still to record (belum rekam,
diundang) in the RWs of its coming visits: a kit never holds a whole kelurahan it will not
visit. Every worklist HQ signs is recorded (:func:`hq.issued.record_worklist`: version,
who was on it), which the vault's checks and a lost kit's breach report read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine, and_, or_, select

from edge.clock import WIB
from edge.errors import InvalidInput, RowsRejected
from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex
from edge.residents_csv import check_csv
from edge.roster import ScheduleEntry
from edge.worklist import build_worklist
from hq.db import residents
from hq.devices import Device, get_device, next_worklist_version
from hq.home import HqKeys
from hq.invitations import invitation_code
from hq.issued import record_worklist
from hq.register import TO_RECORD, wib_day
from hq.schedules import Visit, list_visits, read_schedule


@dataclass(frozen=True)
class WorklistResult:
    data: bytes
    version: int
    residents: int
    skipped_other_kelurahan: int
    expires_at: datetime
    visits: int = 0
    per_visit: tuple[tuple[Visit, int], ...] = ()  # register worklists: residents per visit


@dataclass(frozen=True)
class WorklistPlan:
    """What a worklist from the register would carry (``--dry-run`` shows it)."""

    device: Device
    visits: tuple[Visit, ...]
    residents: tuple[Resident, ...]
    per_visit: tuple[tuple[Visit, int], ...]


def _with_codes(keys: HqKeys, residents_: Iterable[Resident], source: str) -> list[Resident]:
    coded = []
    codes: dict[str, str] = {}
    for resident in residents_:
        code = invitation_code(keys.invitation_secret, resident.nik)
        if codes.setdefault(code, resident.nik) != resident.nik:
            raise InvalidInput(
                f"NIK {resident.nik} appears twice in {source}, or shares invitation "
                f"code {code} with NIK {codes[code]}"
            )
        coded.append(replace(resident, invitation_code=code))
    return coded


def _issue(engine: Engine, keys: HqKeys, device: Device, residents_: Sequence[Resident],
           schedule: Sequence[ScheduleEntry], expires: datetime, now: datetime
           ) -> tuple[int, bytes]:
    """Sign the kit's next worklist version and record who is on it."""
    kit_key = device.require_worklist_key()
    version = next_worklist_version(engine, device.device_id)
    data = build_worklist(
        device_id=device.device_id, version=version, issued_at=now, expires_at=expires,
        kelurahan=sorted(device.kelurahan), residents=residents_, schedule=schedule,
        signing_key=keys.signing, kit_key=kit_key,
    )
    # Who this kit now carries: HQ checks the NIKs of its packets against it, and a lost
    # kit's breach report lists them.
    record_worklist(engine, device.device_id, version, now, expires, residents_)
    return version, data


@dataclass(frozen=True)
class CsvPlan:
    """What a worklist from a CSV would carry (``--from FILE --dry-run`` shows it)."""

    device: Device
    residents: tuple[Resident, ...]  # of the kit's kelurahan
    skipped_other_kelurahan: int
    schedule: tuple[ScheduleEntry, ...]


def plan_from_csv(engine: Engine, device_id: str, csv_path: Path, *,
                  schedule_path: Path | None = None) -> CsvPlan:
    """Every row of the CSV, and every visit of the schedule (a CSV, see
    :mod:`hq.schedules`), checked; :class:`~edge.errors.RowsRejected` lists every bad row
    of either. Signs nothing and uses no worklist version."""
    device = get_device(engine, device_id)
    wanted = set(device.kelurahan)
    problems: list[str] = []
    schedule: list[ScheduleEntry] = []
    if schedule_path:
        try:
            schedule = read_schedule(schedule_path, sorted(wanted))
        except RowsRejected as exc:
            problems += exc.problems
    everyone, bad = check_csv(csv_path)
    problems += [f"{csv_path}, {problem}" for problem in bad]
    if problems:
        rows = len({p.split(", column")[0] for p in problems})
        several = f" ({len(problems)} problems)" if len(problems) > rows else ""
        raise RowsRejected(f"{rows} bad row{'s' if rows > 1 else ''}{several}: nothing signed, "
                           "no worklist version used; fix them and run again (--dry-run "
                           "checks without signing)", problems)
    chosen = tuple(r for r in everyone if r.kelurahan in wanted)
    return CsvPlan(device, chosen, len(everyone) - len(chosen), tuple(schedule))


def make_worklist(
    engine: Engine, keys: HqKeys, device_id: str, csv_path: Path, *, days: int = 30,
    schedule_path: Path | None = None,
) -> WorklistResult:
    """From a CSV: the residents of the kit's kelurahan only. Every row, and every visit of
    the schedule, is checked before anything is signed (:func:`plan_from_csv`)."""
    plan = plan_from_csv(engine, device_id, csv_path, schedule_path=schedule_path)
    coded = _with_codes(keys, plan.residents, csv_path.name)
    now = datetime.now(UTC)
    expires = now + timedelta(days=days)
    version, data = _issue(engine, keys, plan.device, coded, list(plan.schedule), expires, now)
    return WorklistResult(data, version, len(coded), plan.skipped_other_kelurahan, expires,
                          len(plan.schedule))


def plan_from_register(engine: Engine, device_id: str, *, today: date | None = None
                       ) -> WorklistPlan:
    """The kit's visits from ``today`` (WIB) on, and the residents still to record in
    their RWs, in walking order. InvalidInput when the kit has no visit ahead."""
    device = get_device(engine, device_id)
    day = today or wib_day(datetime.now(UTC))
    coming = tuple(list_visits(engine, device_id=device_id, since=day))
    if not coming:
        raise InvalidInput(f"kit {device_id} has no visit scheduled from {day:%d-%m-%Y} on; "
                           "schedule one first: rekam-hq schedule add --kit "
                           f"{device_id} --date ... --place ... --kelurahan ... --rw ...")
    areas = sorted({(v.kelurahan, rw) for v in coming for rw in v.rws})
    r = residents.c
    query = (select(r.nik, r.no_kk, r.name, r.sex, r.birth_place, r.birth_date,
                    r.marital_status, r.address, r.rt, r.rw, r.kelurahan, r.kecamatan)
             .where(r.status.in_([s.value for s in TO_RECORD]),
                    or_(*(and_(r.kelurahan == k, r.rw == rw) for k, rw in areas)))
             .order_by(r.kelurahan, r.rw, r.rt, r.address, r.name, r.nik))
    with engine.connect() as conn:
        found = tuple(Resident(
            nik=row.nik, no_kk=row.no_kk, name=row.name, sex=Sex(row.sex),
            birth_place=row.birth_place, birth_date=row.birth_date,
            marital_status=MaritalStatus(row.marital_status), address=row.address,
            rt=row.rt, rw=row.rw, kelurahan=row.kelurahan, kecamatan=row.kecamatan)
            for row in conn.execute(query))
    by_area: dict[tuple[str, str], int] = {}
    for resident in found:
        key = (resident.kelurahan, resident.rw)
        by_area[key] = by_area.get(key, 0) + 1
    per_visit = tuple((v, sum(by_area.get((v.kelurahan, rw), 0) for rw in v.rws))
                      for v in coming)
    return WorklistPlan(device, coming, found, per_visit)


def worklist_from_register(engine: Engine, keys: HqKeys, device_id: str, *, days: int = 30,
                           today: date | None = None) -> WorklistResult:
    """Sign the kit's worklist from the register and its schedule (see
    :func:`plan_from_register`). It expires ``days`` from now, and never before the end
    of its last visit's day (WIB)."""
    plan = plan_from_register(engine, device_id, today=today)
    coded = _with_codes(keys, plan.residents, "the register")
    schedule = [e for v in plan.visits for e in v.entries()]
    now = datetime.now(UTC)
    last = max(v.date for v in plan.visits)
    end_of_last = datetime.combine(last + timedelta(days=1), time(0), WIB).astimezone(UTC)
    expires = max(now + timedelta(days=days), end_of_last)
    version, data = _issue(engine, keys, plan.device, coded, schedule, expires, now)
    return WorklistResult(data, version, len(coded), 0, expires, len(plan.visits),
                          plan.per_visit)
