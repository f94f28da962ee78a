"""Each kit's state as HQ last heard it: online, late, silent for days, offline, never.

A kit sends a signed heartbeat every 5 minutes while it has a link, and a signed last will
("offline") when it stops or drops. From the newest one HQ keeps (``device_status``):

- *online*: a heartbeat within :data:`LATE_AFTER`;
- *late*: the last heartbeat is older than that but younger than :data:`SILENT_AFTER`
  (a kit in a hall with a weak signal; its packets wait in its outbox);
- *silent*: nothing for :data:`SILENT_AFTER` or more, shown in hours or days (a kit that
  stays silent for days is one to phone: it may be lost);
- *offline*: its last word was "offline" (switched off at the end of the day), shown with
  how long ago;
- *never*: registered but never heard from; *revoked*: HQ revoked it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from hq.db import device_status, devices, packets
from hq.dialect import as_utc

LATE_AFTER = timedelta(minutes=15)
SILENT_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class KitState:
    device_id: str
    kelurahan: tuple[str, ...]
    state: str  # online | late | silent | offline | never | revoked
    last_heartbeat: datetime | None
    silent_for: timedelta | None
    queue_depth: int | None
    oldest_queued: str | None
    free_disk_mb: int | None
    software_version: str
    roster_version: int | None
    audit_head: dict[str, Any] | None
    packets: int
    last_packet_at: datetime | None
    waiting: int = 0  # packets stored but not opened by the vault yet
    training: bool = False  # registered for training (devices.training)
    readiness: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def silent_days(self) -> int:
        return 0 if self.silent_for is None else self.silent_for.days

    @property
    def silent_hours(self) -> int:
        return 0 if self.silent_for is None else int(self.silent_for.total_seconds() // 3600)


def classify(status: str, state: str | None, at: datetime | None,
             now: datetime) -> tuple[str, timedelta | None]:
    if status not in ("active", ""):
        return "revoked", None
    if state is None or at is None:
        return "never", None
    age = max(timedelta(0), now - at)
    if state == "offline":
        return "offline", age
    if age < LATE_AFTER:
        return "online", age
    if age < SILENT_AFTER:
        return "late", age
    return "silent", age


def kit_states(engine: Engine, *, area: str | None = None,
               now: datetime | None = None) -> list[KitState]:
    """Every registered kit (or those serving a kelurahan inside ``area``, a Kemendagri
    code prefix), newest heartbeat first within each state."""
    now = now or datetime.now(UTC)
    s, p, d = device_status.c, packets.c, devices.c
    with engine.connect() as conn:
        stats = {r[0]: (int(r[1]), r[2]) for r in conn.execute(
            select(p.device_id, func.count(), func.max(p.received_at)).group_by(p.device_id))}
        waiting = {r[0]: int(r[1]) for r in conn.execute(
            select(p.device_id, func.count()).where(p.state == "stored")
            .group_by(p.device_id))}
        rows = conn.execute(
            select(d.device_id, d.kelurahan, d.status, s.state, s.at, s.received_at,
                   s.queue_depth, s.oldest_queued, s.free_disk_mb, s.software_version,
                   s.roster_version, s.body, d.training)
            .select_from(devices.outerjoin(device_status, d.device_id == s.device_id))
            .order_by(d.device_id)).all()
    kits = []
    for r in rows:
        kelurahan = tuple(k for k in str(r[1]).split(",") if k)
        if area and not any(k == area or k.startswith(area + ".") for k in kelurahan):
            continue
        body: dict[str, Any] = json.loads(r[11]) if r[11] else {}
        heard = as_utc(r[5])  # HQ's clock: a kit's clock may be wrong
        state, age = classify(str(r[2] or "active"), r[3], heard, now)
        count, last = stats.get(r[0], (0, None))
        readiness = body.get("readiness")
        kits.append(KitState(
            device_id=r[0], kelurahan=kelurahan, state=state, last_heartbeat=heard,
            silent_for=age, queue_depth=r[6], oldest_queued=r[7], free_disk_mb=r[8],
            software_version=r[9] or "", roster_version=r[10],
            audit_head=body.get("audit_head"), packets=count, last_packet_at=as_utc(last),
            waiting=waiting.get(r[0], 0),
            training=bool(r[12]),  # HQ's registration, not what the kit says of itself
            readiness=readiness if isinstance(readiness, dict) else None))
    return kits


def summary(kits: list[KitState]) -> dict[str, int]:
    counts = {"online": 0, "late": 0, "silent": 0, "offline": 0, "never": 0, "revoked": 0}
    for k in kits:
        counts[k.state] += 1
    return counts
