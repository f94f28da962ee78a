"""What the screens show, as plain frozen dataclasses (no Textual): the services build them in
workers, messages carry them, screens and widgets draw them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.errors import WorklistExpired
from edge.roster import ScheduleEntry
from edge.service_point import Expected, ServicePoint
from hal.host import PowerState


@dataclass(frozen=True)
class DeviceState:
    kind: str
    ok: bool
    detail: str = ""  # a code: "unplugged", "paper_out", "simulated", ...
    model: str = ""
    serial: str = ""
    firmware: str = ""
    backend: str = ""


@dataclass(frozen=True)
class KitSnapshot:
    """Everything the always-visible status bar shows."""

    devices: tuple[DeviceState, ...]
    power: PowerState
    free_disk_mb: int
    disk_floor_mb: int
    link_up: bool
    waiting: int  # sealed + sent, not yet acknowledged by HQ
    outbox: dict[str, int]
    last_contact: datetime | None
    simulated: bool
    # HQ as the sync daemon last found it: "connected", "unreachable", or "" (no daemon
    # runs, or it is still starting: only the network is known)
    hq: str = ""
    hq_down_since: datetime | None = None  # unreachable: since when


@dataclass(frozen=True)
class Today:
    recorded: int  # sealed today on this kit
    called: int  # the queue number being served
    issued: int  # the last queue number handed out


@dataclass(frozen=True)
class HomeOverview:
    """The home screen's day: the place, the queue, the schedule, the roster's progress."""

    today: Today
    point: ServicePoint | None
    schedule: tuple[ScheduleEntry, ...]  # today's visits on HQ's schedule
    total: int  # residents on the roster
    done: int  # of whom recorded on this kit
    expires: datetime | None  # the roster's end
    has_roster: bool
    expected: Expected | None
    # Why search and recording are refused (the worklist expired), or None
    refused: WorklistExpired | None = None


@dataclass(frozen=True)
class SyncOverview:
    counts: dict[str, int]
    waiting: int
    oldest_waiting: datetime | None
    last_contact: datetime | None
    last_error: str  # an error code, "" when none
    last_error_detail: str
    broker: str
    recent: tuple[tuple[str, str, int, datetime], ...]  # packet id, state, size, created
    daemon: str = ""  # the sync daemon: connected / retrying / starting; "" when none runs
    daemon_retry_at: datetime | None = None  # retrying: when it reconnects on its own
    received_today: int = 0  # acknowledged by HQ since midnight WIB (purged ones too)
    received_total: int = 0  # acknowledged by HQ, ever


@dataclass(frozen=True)
class ReadinessCheck:
    """One readiness finding (:mod:`edge.checks`), already in words."""

    key: str
    status: str
    status_text: str
    label: str
    detail: str


@dataclass(frozen=True)
class TechnicianReport:
    device_id: str
    software_version: str
    textual_version: str
    device_key_id: str
    hq_signing_key_id: str
    hq_sealing_key_id: str
    roster_version: int | None
    roster_size: int
    roster_expires_at: str | None
    free_disk_mb: int
    operators: int
    audit_entries: int
    audit_ok: bool
    audit_problem: str
    broker: str
    hal: str
    devices: tuple[DeviceState, ...]
    audit_tail: tuple[tuple[datetime, str, str, str], ...]  # at, actor, action, detail
    checks: tuple[ReadinessCheck, ...] = ()
