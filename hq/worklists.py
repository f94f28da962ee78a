"""Building a kit's signed worklist from a SIAK-like CSV export."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from edge.errors import InvalidInput
from edge.residents import read_csv
from edge.worklist import build_worklist
from hq.devices import get_device, next_worklist_version
from hq.home import HqKeys
from hq.invitations import invitation_code
from hq.issued import record_worklist
from hq.schedules import read_schedule


@dataclass(frozen=True)
class WorklistResult:
    data: bytes
    version: int
    residents: int
    skipped_other_kelurahan: int
    expires_at: datetime
    visits: int = 0


def make_worklist(
    engine: Engine, keys: HqKeys, device_id: str, csv_path: Path, *, days: int = 30,
    schedule_path: Path | None = None,
) -> WorklistResult:
    """Residents of the kit's kelurahan only: a kit carries no more personal data than its
    schedule needs. Every row, and every visit of the schedule (a CSV, see
    :mod:`hq.schedules`), is validated before anything is signed."""
    device = get_device(engine, device_id)
    wanted = set(device.kelurahan)
    schedule = read_schedule(schedule_path, sorted(wanted)) if schedule_path else []
    residents = []
    skipped = 0
    codes: dict[str, str] = {}
    for resident in read_csv(csv_path):
        if resident.kelurahan not in wanted:
            skipped += 1
            continue
        code = invitation_code(keys.invitation_secret, resident.nik)
        if codes.setdefault(code, resident.nik) != resident.nik:
            raise InvalidInput(
                f"NIK {resident.nik} appears twice in {csv_path.name}, or shares invitation "
                f"code {code} with NIK {codes[code]}"
            )
        residents.append(replace(resident, invitation_code=code))
    now = datetime.now(UTC)
    version = next_worklist_version(engine, device_id)
    expires = now + timedelta(days=days)
    data = build_worklist(
        device_id=device_id, version=version, issued_at=now, expires_at=expires,
        kelurahan=sorted(wanted), residents=residents, schedule=schedule,
        signing_key=keys.signing,
    )
    # Who this kit now carries: HQ checks the NIKs of its packets against it, and a lost
    # kit's breach report lists them.
    record_worklist(engine, device_id, version, now, expires, residents)
    return WorklistResult(data, version, len(residents), skipped, expires, len(schedule))
