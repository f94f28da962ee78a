"""The supervisor's review queue: enrolments the vault would not accept by itself.

``rekam-hq review list`` shows what waits and why; ``rekam-hq review decide ID
accept|reject --reason TEXT`` decides, once, and the decision is kept with who took it,
when and why (``reviews``), as is the resident's status change it causes
(``resident_events``, source "review ID"). Accepting marks the resident terekam; rejecting
returns a resident the vault had put on "perlu tinjau" to their status before, unless
another of their enrolments still waits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, select, update

from edge.clock import wib
from edge.errors import InvalidInput, NotFound
from hq.db import enrolments, residents, reviews
from hq.dialect import as_utc
from hq.register import Status, change_status

DECISIONS = ("accept", "reject")


@dataclass(frozen=True)
class ReviewItem:
    id: int
    packet_id: str
    created_at: datetime
    state: str  # open | accepted | rejected
    flags: list[dict[str, Any]]
    device_id: str
    nik: str
    name: str  # from the register; "" when the NIK is not on it
    kelurahan: str
    operator_id: str
    service_point: str
    recorded_at: datetime
    enrolment_state: str
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    rw: str = ""  # the resident's RW ("" when HQ could not read the packet)
    training: bool = False  # from a kit registered for training

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "packet_id": self.packet_id, "state": self.state,
            "created_at": self.created_at.isoformat(), "flags": self.flags,
            "kit": self.device_id, "nik": self.nik, "nama": self.name,
            "kode_kelurahan": self.kelurahan, "rw": self.rw, "operator": self.operator_id,
            "service_point": self.service_point, "recorded_at": self.recorded_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decided_by": self.decided_by, "reason": self.reason,
        }


def list_reviews(engine: Engine, *, include_decided: bool = False, limit: int = 500,
                 where: Sequence[ColumnElement[bool]] = ()) -> list[ReviewItem]:
    """The reviews, oldest first; ``where``: conditions on ``enrolments`` (an area)."""
    v, e, r = reviews.c, enrolments.c, residents.c
    query = (select(v.id, v.packet_id, v.created_at, v.state, v.flags, v.decided_at,
                    v.decided_by, v.reason, e.device_id, e.nik, e.kelurahan, e.operator_id,
                    e.service_point, e.recorded_at, e.state.label("enrolment_state"),
                    e.rw, e.training, r.name)
             .select_from(reviews.join(enrolments, v.packet_id == e.packet_id)
                          .outerjoin(residents, e.resident_id == r.id))
             .where(*where).order_by(v.id).limit(limit))
    if not include_decided:
        query = query.where(v.state == "open")
    with engine.connect() as conn:
        return [ReviewItem(
            id=int(row.id), packet_id=row.packet_id, created_at=as_utc(row.created_at)
            or datetime.now(UTC), state=row.state, flags=json.loads(row.flags),
            device_id=row.device_id, nik=row.nik, name=row.name or "",
            kelurahan=row.kelurahan, operator_id=row.operator_id,
            service_point=row.service_point,
            recorded_at=as_utc(row.recorded_at) or datetime.now(UTC),
            enrolment_state=row.enrolment_state, decided_at=as_utc(row.decided_at),
            decided_by=row.decided_by, reason=row.reason, rw=row.rw or "",
            training=bool(row.training)) for row in conn.execute(query)]


@dataclass(frozen=True)
class Decision:
    review_id: int
    decision: str
    nik: str
    resident_status: Status | None  # after the decision; None: not on the register


def decide(engine: Engine, review_id: int, decision: str, *, reason: str, by: str,
           now: datetime | None = None) -> Decision:
    """Accept or reject one open review (see the module docstring)."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decide {decision!r}: say accept or reject")
    reason = " ".join(reason.split())
    if len(reason) < 3:
        raise InvalidInput("--reason: say why, in words (it is kept with the decision)")
    now = now or datetime.now(UTC)
    v, e = reviews.c, enrolments.c
    with engine.begin() as conn:
        row = conn.execute(
            select(v.id, v.state, v.status_before, v.decided_by, v.decided_at, e.packet_id,
                   e.nik, e.state.label("enrolment_state"), e.resident_id)
            .select_from(reviews.join(enrolments, v.packet_id == e.packet_id))
            .where(v.id == review_id)).first()
        if row is None:
            raise NotFound(f"no review {review_id}; see: rekam-hq review list")
        if row.state != "open":
            raise InvalidInput(
                f"review {review_id} was already decided ({row.state}) by {row.decided_by} "
                f"on {wib(row.decided_at)}")
        if decision == "accept" and row.enrolment_state == "unreadable":
            raise InvalidInput(f"review {review_id}: HQ cannot open that packet, so there is "
                               "nothing to accept; reject it (the kit keeps no copy once "
                               "acked: record the resident again)")
        claimed = conn.execute(
            update(reviews).where(v.id == review_id, v.state == "open")
            .values(state="accepted" if decision == "accept" else "rejected", decided_at=now,
                    decided_by=by[:64], reason=reason).returning(v.id)).first()
        if claimed is None:  # a second supervisor decided meanwhile
            raise InvalidInput(f"review {review_id} was decided meanwhile by someone else")
        conn.execute(update(enrolments).where(e.packet_id == row.packet_id).values(
            state="accepted" if decision == "accept" else "rejected",
            accepted_at=now if decision == "accept" else None))
        status: Status | None = None
        if row.resident_id is not None:
            source = f"review {review_id} (packet {row.packet_id})"
            if decision == "accept":
                change_status(conn, row.nik, Status.TEREKAM, at=now, by=by, reason=reason,
                              source=source)
                status = Status.TEREKAM
            else:
                still_waiting = conn.execute(
                    select(v.id).select_from(reviews.join(enrolments,
                                                          v.packet_id == e.packet_id))
                    .where(and_(e.resident_id == row.resident_id, v.state == "open"))
                    .limit(1)).first()
                if row.status_before and still_waiting is None:
                    change_status(conn, row.nik, Status(row.status_before), at=now, by=by,
                                  reason=reason, source=source,
                                  only_from=[Status.PERLU_TINJAU])
                status = Status(conn.execute(
                    select(residents.c.status)
                    .where(residents.c.id == row.resident_id)).scalar_one())
    return Decision(review_id, decision, row.nik, status)
