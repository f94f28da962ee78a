"""HQ's answers to the fleet (``sync/PROTOCOL.md``, "Acks" and "Ingest online"): the signed
ack of one packet on ``down/ack``, which alone lets a kit mark it acknowledged, and the
retained "ingest online" announcement on ``rekam/v1/hq/online``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.signing import sign_document
from sync.errors import ProtocolError
from sync.protocol.documents import _SHA256, _body, _for_device, _time

ACK_KIND = "ack"
ONLINE_KIND = "online"


class AckStatus(StrEnum):
    STORED = "stored"  # HQ stored the packet now
    DUPLICATE = "duplicate"  # HQ already had these exact bytes
    REJECTED = "rejected"  # HQ refused it (reason says why); the kit keeps the packet


@dataclass(frozen=True)
class Ack:
    device_id: str
    packet_id: str
    sha256: str
    status: AckStatus
    received_at: datetime
    reason: str = ""

    @property
    def confirms_storage(self) -> bool:
        """Only this lets a kit mark a packet acked (and later purge it)."""
        return self.status in (AckStatus.STORED, AckStatus.DUPLICATE)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"device_id": self.device_id, "packet_id": self.packet_id,
                                "sha256": self.sha256, "status": self.status.value,
                                "received_at": self.received_at.isoformat()}
        if self.reason:
            body["reason"] = self.reason
        return body


def sign_ack(ack: Ack, key: ed25519.Ed25519PrivateKey) -> bytes:
    return sign_document(ACK_KIND, canonical_json(ack.to_body()), key)


def verify_ack(data: bytes, *, trusted: Mapping[str, ed25519.Ed25519PublicKey],
               device_id: str) -> Ack:
    """An ack signed by HQ for this device; IntegrityError/DocumentRejected/ProtocolError."""
    body = _body(data, kind=ACK_KIND, trusted=trusted)
    _for_device(body, device_id, "ack")
    try:
        ack = Ack(device_id=device_id, packet_id=str(body["packet_id"]),
                  sha256=str(body["sha256"]), status=AckStatus(body["status"]),
                  received_at=_time(body["received_at"], "ack received_at"),
                  reason=str(body.get("reason", "")))
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"ack body is malformed: {exc}") from None
    if not _SHA256.fullmatch(ack.sha256):
        raise ProtocolError("ack sha256 is not 64 lower-case hex digits")
    return ack


# --- HQ ingest online (retained, for every kit) ---------------------------------------------


@dataclass(frozen=True)
class Online:
    """An HQ ingest worker (re)connected at ``since`` and now takes packets. Published,
    retained, by every worker on every connection: it may follow an outage in which the
    broker dropped or lost messages kits had handed it, so a kit that sees a new ``since``
    sends its unacknowledged packets again shortly instead of waiting out its ack timeout."""

    since: datetime
    worker: str = ""
    session_resumed: bool = False  # the broker kept the worker's share queued meanwhile
    broker_since: datetime | None = None  # when the broker started (its $SYS uptime), ±2 s

    def to_body(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "worker": self.worker,
                "session_resumed": self.session_resumed,
                "broker_since": None if self.broker_since is None
                else self.broker_since.isoformat()}

    def may_have_lost(self, last_broker_since: datetime | None) -> bool:
        """Whether messages kits handed the broker before this announcement may be gone: the
        worker's session was not kept (it was away past its expiry, or new), or the broker
        restarted since ``last_broker_since`` (the one the kit saw last; a crash loses what
        the broker had not saved), or either is unknown. A worker that restarted with its
        session kept lost nothing: the broker queued its share."""
        if not self.session_resumed or self.broker_since is None or last_broker_since is None:
            return True
        return abs((self.broker_since - last_broker_since).total_seconds()) > 5


def sign_online(online: Online, key: ed25519.Ed25519PrivateKey) -> bytes:
    return sign_document(ONLINE_KIND, canonical_json(online.to_body()), key)


def verify_online(data: bytes, *, trusted: Mapping[str, ed25519.Ed25519PublicKey]) -> Online:
    """An announcement signed by HQ; IntegrityError/DocumentRejected/ProtocolError."""
    body = _body(data, kind=ONLINE_KIND, trusted=trusted, limit=4096)
    try:
        broker = body.get("broker_since")
        return Online(since=_time(body["since"], "online since"),
                      worker=str(body.get("worker", ""))[:200],
                      session_resumed=bool(body.get("session_resumed", False)),
                      broker_since=None if broker is None else _time(broker, "broker since"))
    except KeyError as exc:
        raise ProtocolError(f"online body is malformed: {exc}") from None


__all__ = ["Ack", "AckStatus", "Online", "sign_ack", "sign_online", "verify_ack",
           "verify_online"]
