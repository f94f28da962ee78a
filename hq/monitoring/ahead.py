"""Readiness of the service points ahead: for every scheduled visit in the coming days, the
kit's last readiness check (the summary of ``rekam doctor`` its heartbeats carry), whether
its worklist reached it, the staff assigned, and whether the visit is at risk.

The instruction asks the office to ready computers, network, recording and printing
devices, stationery and staff at each service point; this is the page that says, the day
before, which RW hall will find a kit that cannot serve it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select

from hq.db import device_reports, visit_rws, visits, worklist_issues
from hq.dialect import as_utc
from hq.monitoring.kits import KitState, kit_states

DAYS_AHEAD = 7
STALE_CHECK = timedelta(days=3)  # a readiness check older than this no longer vouches


@dataclass(frozen=True)
class VisitReadiness:
    visit_id: int
    day: date
    time: str
    place: str
    kelurahan: str
    rws: list[str]
    kind: str
    staff: list[str]
    device_id: str
    kit: KitState | None
    worklist: str  # applied | staged | sent | none
    worklist_version: int | None
    risks: list[str] = field(default_factory=list)  # codes, worded by the page

    @property
    def at_risk(self) -> bool:
        return bool(self.risks)

    def to_dict(self) -> dict[str, Any]:
        return {"visit_id": self.visit_id, "date": self.day.isoformat(), "time": self.time,
                "place": self.place, "kelurahan": self.kelurahan, "rws": self.rws,
                "kind": self.kind, "staff": self.staff, "device_id": self.device_id,
                "kit_state": self.kit.state if self.kit else None,
                "readiness": self.kit.readiness if self.kit else None,
                "worklist": self.worklist, "worklist_version": self.worklist_version,
                "at_risk": self.at_risk, "risks": self.risks}


def visits_ahead(engine: Engine, *, area: str | None, today: date,
                 days: int = DAYS_AHEAD, now: datetime | None = None) -> list[VisitReadiness]:
    """Visits from ``today`` to ``today + days`` in ``area`` (a Kemendagri code prefix; None:
    the whole kota), soonest first."""
    now = now or datetime.now(UTC)
    v, r = visits.c, visit_rws.c
    conds = [v.date >= today, v.date <= today + timedelta(days=days)]
    if area:
        conds.append(func.substr(v.kelurahan, 1, len(area)) == area)
    with engine.connect() as conn:
        rows = conn.execute(select(v.id, v.date, v.time, v.place, v.kelurahan, v.kind,
                                   v.staff, v.device_id, v.created_at)
                            .where(and_(*conds)).order_by(v.date, v.time, v.id)).all()
        ids = [row[0] for row in rows]
        rws: dict[int, list[str]] = {}
        if ids:
            for vid, rw in conn.execute(select(r.visit_id, r.rw).where(r.visit_id.in_(ids))
                                        .order_by(r.visit_id, r.rw)):
                rws.setdefault(vid, []).append(rw)
        devices = {row[7] for row in rows}
        w = worklist_issues.c
        issued: dict[str, list[tuple[int, datetime]]] = {}
        staged: dict[str, set[int]] = {}
        if devices:
            for dev, version, at in conn.execute(
                    select(w.device_id, w.version, w.issued_at)
                    .where(w.device_id.in_(devices)).order_by(w.version)):
                issued.setdefault(dev, []).append((int(version), as_utc(at)))
            d = device_reports.c
            for dev, version in conn.execute(
                    select(d.device_id, d.version).where(
                        d.device_id.in_(devices), d.subject == "worklist",
                        d.result.in_(("staged", "applied")))):
                if version is not None:
                    staged.setdefault(dev, set()).add(int(version))
    kits = {k.device_id: k for k in kit_states(engine, now=now)}
    out = []
    for vid, day, time, place, kel, kind, staff, dev, created in rows:
        kit = kits.get(dev)
        created = as_utc(created)
        after = [ver for ver, at in issued.get(dev, []) if created is None or at >= created]
        version = max(after) if after else None
        roster = kit.roster_version if kit else None
        if version is None:
            worklist = "none"
        elif roster is not None and roster >= version:
            worklist = "applied"
        elif version in staged.get(dev, set()) or any(s >= version for s in staged.get(dev,
                                                                                       set())):
            worklist = "staged"
        else:
            worklist = "sent"
        risks = []
        if worklist in ("none", "sent"):
            risks.append(f"worklist_{worklist}")
        if kit is None or kit.state in ("never", "revoked", "silent"):
            risks.append(f"kit_{kit.state if kit else 'never'}")
        summary = kit.readiness if kit else None
        if summary is None:
            risks.append("no_check")
        else:
            checked = as_utc(datetime.fromisoformat(str(summary.get("checked_at"))))
            if not summary.get("ready"):
                risks.append("not_ready")
            elif checked is not None and now - checked > STALE_CHECK:
                risks.append("check_stale")
            if summary.get("paper") == "out":
                risks.append("paper_out")
        names = [s.strip() for s in str(staff or "").split(",") if s.strip()]
        if not names:
            risks.append("no_staff")
        out.append(VisitReadiness(int(vid), day, time or "", place, kel, rws.get(vid, []),
                                  kind, names, dev, kit, worklist, version, risks))
    return out
