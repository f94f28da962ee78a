"""What HQ knows of each kit, as ``rekam-hq devices`` shows it: the registry (status,
training, revocation) beside the kit's latest heartbeat, its stored packets and dead
letters, the highest audit head HQ saw and the alerts raised on it, and its last wipe
report.

It reads what ingest stores (:mod:`hq.packets`) and the audit anchor keeps
(:mod:`hq.anchors`), and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select

from hq.anchors import alert_counts, latest_heads
from hq.db import dead_letters, device_reports, device_status, devices, packets
from hq.dialect import as_utc


@dataclass(frozen=True)
class DeviceOverview:
    device_id: str
    status: str  # registry status: active / disabled
    state: str | None  # last heartbeat: online / offline
    last_heartbeat: datetime | None
    queue_depth: int | None
    oldest_queued: str | None
    free_disk_mb: int | None
    software_version: str | None
    roster_version: int | None
    packets: int
    last_packet_at: datetime | None
    dead_letters: int
    audit_seq: int | None = None  # the highest audit head HQ saw (heartbeats, packets)
    audit_hash: str | None = None
    alerts: int = 0  # audit forks and roll-backs raised for this kit
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    # The kit's last word before a technician wiped it (``rekam wipe``: report kit/wiped,
    # signed by its device key; a wiped kit's id is never provisioned again).
    wiped_at: datetime | None = None
    wipe_detail: str | None = None
    training: bool = False  # registered for training (HQ's decision, devices.training)
    # What the kit's latest heartbeat said of itself (None: no heartbeat, or one from a
    # version that did not say); a kit claiming training HQ never granted is shown.
    reported_training: bool | None = None

    @property
    def use(self) -> str:
        use = "training" if self.training else "production"
        if self.reported_training is not None and self.reported_training != self.training:
            return f"{use} (KIT SAYS {'training' if self.reported_training else 'production'})"
        return use


def device_overview(engine: Engine) -> Iterator[DeviceOverview]:
    """Every registered kit, in id order, with what HQ has heard from and of it."""
    heads, raised = latest_heads(engine), alert_counts(engine)

    s, p, d = device_status.c, packets.c, dead_letters.c
    with engine.connect() as conn:
        stats = {r[0]: (int(r[1]), r[2]) for r in conn.execute(
            select(p.device_id, func.count(), func.max(p.received_at))
            .group_by(p.device_id))}
        dead = {r[0]: int(r[1]) for r in conn.execute(
            select(d.device_id, func.count()).group_by(d.device_id))}
        wiped = _wipes(conn)
        rows = conn.execute(
            select(devices.c.device_id, devices.c.status, s.state, s.at, s.queue_depth,
                   s.oldest_queued, s.free_disk_mb, s.software_version, s.roster_version,
                   devices.c.revoked_at, devices.c.revoke_reason, devices.c.training,
                   s.body)
            .select_from(devices.outerjoin(device_status,
                                           devices.c.device_id == s.device_id))
            .order_by(devices.c.device_id)).all()
    for r in rows:
        count, last = stats.get(r[0], (0, None))
        wiped_at, wipe_detail = wiped.get(r[0], (None, None))
        yield DeviceOverview(
            device_id=r[0], status=r[1], state=r[2],
            last_heartbeat=None if r[3] is None else as_utc(r[3]), queue_depth=r[4],
            oldest_queued=r[5], free_disk_mb=r[6], software_version=r[7],
            roster_version=r[8], packets=count,
            last_packet_at=None if last is None else as_utc(last),
            dead_letters=dead.get(r[0], 0),
            audit_seq=heads[r[0]].seq if r[0] in heads else None,
            audit_hash=heads[r[0]].hash if r[0] in heads else None,
            alerts=raised.get(r[0], 0),
            revoked_at=None if r[9] is None else as_utc(r[9]), revoke_reason=r[10],
            wiped_at=wiped_at, wipe_detail=wipe_detail,
            training=bool(r[11]), reported_training=_reported_training(r[12]))


def _wipes(conn: Connection) -> dict[str, tuple[datetime, str]]:
    """Each kit's latest ``kit``/``wiped`` report: (its time, its detail)."""
    r = device_reports.c
    found: dict[str, tuple[datetime, str]] = {}
    for device_id, at, detail in conn.execute(
            select(r.device_id, r.at, r.detail)
            .where(r.subject == "kit", r.result == "wiped").order_by(r.at)):
        found[device_id] = (as_utc(at), detail)
    return found


def _reported_training(body: str | None) -> bool | None:
    """The ``training`` member of a stored heartbeat body (verified when it was stored)."""
    if not body:
        return None
    try:
        value = json.loads(body).get("training")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, bool) else None
