"""The kit's readiness summary: what ``rekam doctor`` last found, in a few fields HQ can show
beside each scheduled visit (the instruction asks the office to ready devices, network,
stationery and staff at every service point).

``rekam doctor`` writes it to ``readiness.json`` in the kit's home after each run; every
heartbeat carries the latest one, signed with the rest of the status, so HQ's dashboard
shows the readiness of the kit that will stand at tomorrow's RW hall. Probing devices takes
seconds and would fight the operator UI for them, so the heartbeat never probes: it sends
what the last check found, with the time of that check, and HQ judges its age.

No personal data: device kinds and states, disk, clock, roster version and age, paper.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.errors import InvalidInput

FILE = "readiness.json"
STATES = ("ok", "warn", "fail")
PAPER = ("ok", "low", "out", "unknown")


@dataclass(frozen=True)
class Readiness:
    checked_at: str  # ISO 8601, the kit's clock when doctor ran
    ready: bool  # no check failed: the kit can serve residents
    devices: dict[str, str] = field(default_factory=dict)  # kind -> ok / warn / fail
    simulated: list[str] = field(default_factory=list)  # kinds on a simulated backend
    disk: str = "ok"
    free_disk_mb: int = 0
    clock: str = "ok"
    roster: str = "ok"
    roster_version: int | None = None
    roster_age_days: int | None = None  # since the roster was imported
    paper: str = "unknown"  # receipt paper: ok / low / out / unknown
    failing: list[str] = field(default_factory=list)  # check keys that failed
    warnings: list[str] = field(default_factory=list)  # check keys that warned

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_dict(value: object) -> Readiness:
    """A summary as a heartbeat carries it, checked field by field (HQ distrusts what it
    reads); :class:`InvalidInput` names the first bad field."""
    if not isinstance(value, Mapping):
        raise InvalidInput("readiness is not an object")

    def text(name: str, allowed: tuple[str, ...]) -> str:
        v = value.get(name, allowed[-1] if name == "paper" else "ok")
        if v not in allowed:
            raise InvalidInput(f"readiness.{name} is {v!r}, not one of {', '.join(allowed)}")
        return str(v)

    def names(name: str) -> list[str]:
        v = value.get(name, [])
        if not isinstance(v, list) or len(v) > 32 or not all(
                isinstance(x, str) and 0 < len(x) <= 32 for x in v):
            raise InvalidInput(f"readiness.{name} is not a short list of names")
        return list(v)

    def count(name: str) -> int | None:
        v = value.get(name)
        if v is None:
            return None
        if type(v) is not int or v < 0:
            raise InvalidInput(f"readiness.{name} is not a non-negative integer")
        return v

    checked = value.get("checked_at")
    try:
        datetime.fromisoformat(str(checked))
    except ValueError:
        raise InvalidInput("readiness.checked_at is not an ISO time") from None
    devices = value.get("devices", {})
    if not isinstance(devices, Mapping) or len(devices) > 16 or not all(
            isinstance(k, str) and len(k) <= 32 and v in STATES for k, v in devices.items()):
        raise InvalidInput("readiness.devices is not {kind: ok|warn|fail}")
    if not isinstance(value.get("ready"), bool):
        raise InvalidInput("readiness.ready is not true or false")
    return Readiness(
        checked_at=str(checked), ready=bool(value["ready"]), devices=dict(devices),
        simulated=names("simulated"), disk=text("disk", STATES),
        free_disk_mb=count("free_disk_mb") or 0, clock=text("clock", STATES),
        roster=text("roster", STATES), roster_version=count("roster_version"),
        roster_age_days=count("roster_age_days"), paper=text("paper", PAPER),
        failing=names("failing"), warnings=names("warnings"))


def save(home: Path, readiness: Readiness) -> None:
    """Write atomically (a heartbeat may read it at the same moment)."""
    path = home / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(readiness.to_dict(), sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load(home: Path) -> Readiness | None:
    """The last summary doctor wrote, or None (never run, or a damaged file)."""
    try:
        return from_dict(json.loads((home / FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, InvalidInput):
        return None
