"""Readiness checks that are facts of the kit itself: disk, clock, keys, roster, settings.

Each check answers a :class:`Check` holding a status and a *code* with its values, never a
sentence: the words live in the one string catalogue (``check.<code>`` in
:mod:`tui.catalogue`), so ``rekam doctor`` and the technician's screen say the same thing
in the reader's language. The checks that need a device (``rekam doctor`` opens each one)
or the network (a TLS handshake with HQ's broker, :mod:`sync.link`) live with those.

All of these read only the kit's own files and database: quick, and safe to run while the
operator UI holds the devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from edge.clock import WIB
from edge.config import KitPaths
from edge.kit import Kit
from edge.kit_roster import ROSTER_COUNT, ROSTER_EXPIRES, ROSTER_IMPORTED, ROSTER_VERSION

EARLIEST_SANE = datetime(2025, 1, 1, tzinfo=UTC)
"""A clock before this was never set."""
ROSTER_WARN_DAYS = 3


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # something to fix soon; residents can still be recorded
    FAIL = "fail"  # residents cannot be recorded


@dataclass(frozen=True)
class Check:
    key: str  # stable id: "camera", "disk", "roster", ...
    status: Status
    code: str  # the catalogue's ``check.<code>``: "disk_low", "roster_expired", ...
    values: dict[str, Any] = field(default_factory=dict)  # filled into the words


def kit_checks(kit: Kit) -> list[Check]:
    """Disk, clock, keys and roster; the settings too when some were out of range."""
    checks = [disk(kit), clock(kit), keys(kit.paths), roster(kit)]
    if kit.config.problems:  # shown only when there is something to fix
        checks.append(Check("settings", Status.WARN, "settings_defaulted",
                            {"problems": "; ".join(kit.config.problems)}))
    return checks


def disk(kit: Kit) -> Check:
    free, floor = kit.free_disk_mb(), kit.config.disk_floor_mb
    status = Status.FAIL if free < floor else Status.WARN if free < 2 * floor else Status.OK
    return Check("disk", status, "disk_ok" if status is Status.OK else "disk_low",
                 {"free": free, "floor": floor})


def clock(kit: Kit) -> Check:
    now = kit.clock()
    newest = [e.at for e in kit.audit.entries(max(0, kit.audit.head()[0] - 1))]
    # A clock before the newest audit entry went backwards; one before 2025 never was set.
    sane = now >= EARLIEST_SANE and all(now >= at - timedelta(minutes=5) for at in newest)
    return Check("clock", Status.OK if sane else Status.FAIL,  # read by people: in WIB
                 "clock_ok" if sane else "clock_wrong", {"now": now.astimezone(WIB)})


def keys(paths: KitPaths) -> Check:
    private = (paths.device_signing_key, paths.device_tls_key)
    public = (paths.device_cert, paths.ca_cert, paths.hq_signing_public, paths.hq_sealing_public)
    missing = [p.name for p in (*private, *public) if not p.exists()]
    loose = [p.name for p in private if p.exists() and p.stat().st_mode & 0o077]
    if missing or loose:
        problem = ", ".join([*(f"{m} missing" for m in missing),
                             *(f"{m} readable by others" for m in loose)])
        return Check("keys", Status.FAIL, "keys_bad", {"problem": problem})
    return Check("keys", Status.OK, "keys_ok")


def roster(kit: Kit) -> Check:
    version = kit.state.get(ROSTER_VERSION)
    if not version:
        return Check("roster", Status.FAIL, "roster_none")
    # stored in UTC; the days a person reads are Bekasi's
    expires = datetime.fromisoformat(kit.state.get(ROSTER_EXPIRES) or "").astimezone(WIB)
    imported = datetime.fromisoformat(kit.state.get(ROSTER_IMPORTED) or "").astimezone(WIB)
    now = kit.clock()
    values = {"version": version, "size": kit.state.get(ROSTER_COUNT, "0"),
              "imported": imported, "expires": expires}
    if expires <= now:
        return Check("roster", Status.FAIL, "roster_expired", values)
    if expires - now < timedelta(days=ROSTER_WARN_DAYS):
        return Check("roster", Status.WARN, "roster_soon", values)
    return Check("roster", Status.OK, "roster_ok", values)
