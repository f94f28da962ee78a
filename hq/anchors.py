"""The audit anchor: HQ keeps every (seq, hash) head of each kit's hash-chained audit log that
a signed heartbeat or an opened packet showed it, with the kit's time of the claim, and
raises an alert when a new claim cannot belong to the same growing chain:

- **fork**: a sequence number HQ saw before, with another hash (the log was rewritten);
- **backwards**: a claim whose sequence number is lower than one the kit made earlier (the
  newest entries were deleted), or higher than one it made later (a claim HQ receives
  late that the later one contradicts).

A kit's log only grows, so both mean its log was truncated, rewritten or restored from an
old copy. Alerts are kept in ``device_alerts`` and shown by ``rekam-hq devices``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from edge.clock import wib
from hq.db import audit_heads, device_alerts
from hq.dialect import as_utc, insert_ignore


@dataclass(frozen=True)
class Alert:
    device_id: str
    at: datetime
    code: str  # "audit_fork", "audit_backwards", ...
    detail: str


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    at: datetime
    source: str


def record_head(db: Engine | Connection, device_id: str, head: dict[str, Any] | None,
                at: datetime, source: str, now: datetime) -> list[Alert]:
    """Keep a claimed audit head (``{"seq", "hash"}``, already checked) of ``device_id``
    made at the kit's time ``at``; the alerts it raises (also stored). Given a connection,
    in the caller's transaction (the vault files a batch of packets in one)."""
    if head is None:
        return []
    seq, digest = int(head["seq"]), str(head["hash"])
    at = as_utc(at).astimezone(UTC)  # SQLite keeps no zone: compare in UTC throughout
    a = audit_heads.c
    alerts: list[Alert] = []
    with db.begin() if isinstance(db, Engine) else nullcontext(db) as conn:
        same = conn.execute(select(a.hash, a.source).where(a.device_id == device_id,
                                                           a.seq == seq)).first()
        if same is not None and same[0] != digest:
            alerts.append(Alert(device_id, now, "audit_fork",
                                f"audit entry {seq} has hash {digest[:16]}… in {source}, but "
                                f"{same[0][:16]}… in {same[1]}: the kit's log was rewritten"))
        later_lower = conn.execute(
            select(a.seq, a.source, a.at).where(a.device_id == device_id, a.at > at,
                                                a.seq < seq)
            .order_by(a.seq).limit(1)).first()
        earlier_higher = conn.execute(
            select(a.seq, a.source, a.at).where(a.device_id == device_id, a.at < at,
                                                a.seq > seq)
            .order_by(a.seq.desc()).limit(1)).first()
        if earlier_higher is not None:
            then = wib(earlier_higher[2])
            alerts.append(Alert(device_id, now, "audit_backwards",
                                f"the audit log went back from entry {earlier_higher[0]} "
                                f"({earlier_higher[1]}, {then}) to {seq} ({source}, "
                                f"{wib(at)}): entries were deleted"))
        elif later_lower is not None:
            then = wib(later_lower[2])
            alerts.append(Alert(device_id, now, "audit_backwards",
                                f"{source} ({wib(at)}) claims audit entry {seq}, "
                                f"but later ({later_lower[1]}, {then}) the log ended at "
                                f"entry {later_lower[0]}: entries were deleted"))
        if same is None:  # a twin ingest worker may insert the same head at once
            insert_ignore(conn, audit_heads, {
                "device_id": device_id, "seq": seq, "hash": digest, "at": at,
                "source": source[:80], "received_at": now})
        for alert in alerts:
            conn.execute(insert(device_alerts).values(
                device_id=alert.device_id, at=alert.at, code=alert.code,
                detail=alert.detail))
    return alerts


def latest_heads(engine: Engine) -> dict[str, Head]:
    """Each kit's highest audit head HQ has seen."""
    a = audit_heads.c
    top = (select(a.device_id, func.max(a.seq).label("seq")).group_by(a.device_id)
           .subquery())
    with engine.connect() as conn:
        rows = conn.execute(select(a.device_id, a.seq, a.hash, a.at, a.source)
                            .join(top, (a.device_id == top.c.device_id)
                                  & (a.seq == top.c.seq))).all()
    return {r[0]: Head(int(r[1]), r[2], as_utc(r[3]), r[4]) for r in rows}


def alerts(engine: Engine, device_id: str | None = None, limit: int = 100) -> list[Alert]:
    d = device_alerts.c
    q = select(d.device_id, d.at, d.code, d.detail).order_by(d.id.desc()).limit(limit)
    if device_id:
        q = q.where(d.device_id == device_id)
    with engine.connect() as conn:
        return [Alert(r[0], as_utc(r[1]), r[2], r[3]) for r in conn.execute(q)]


def alert_counts(engine: Engine) -> dict[str, int]:
    d = device_alerts.c
    with engine.connect() as conn:
        return {r[0]: int(r[1]) for r in conn.execute(
            select(d.device_id, func.count()).group_by(d.device_id))}


def record_alert(engine: Engine, device_id: str, code: str, detail: str, now: datetime
                 ) -> Alert:
    with engine.begin() as conn:
        conn.execute(insert(device_alerts).values(device_id=device_id, at=now, code=code,
                                                  detail=detail))
    return Alert(device_id, now, code, detail)
