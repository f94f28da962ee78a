"""What a kit says of itself (``sync/PROTOCOL.md``, "Status" and "Reports"): its signed
status on ``up/status`` (the heartbeat, and the last will), the checks of every field HQ
takes from it, and its signed report of what it did with a downlink on ``up/report``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.signing import sign_document
from sync.errors import ProtocolError
from sync.protocol.documents import _SHA256, _body, _for_device, _time

STATUS_KIND = "status"
REPORT_KIND = "report"


@dataclass(frozen=True)
class Status:
    device_id: str
    state: str  # "online" (heartbeat) or "offline" (last will, or a clean stop)
    at: datetime
    software_version: str = ""
    queue_depth: int = 0  # sealed + sent: not yet acknowledged by HQ
    oldest_queued: str | None = None
    outbox: dict[str, int] = field(default_factory=dict)
    free_disk_mb: int = 0
    roster_version: int | None = None
    roster_expires_at: str | None = None
    pending_worklist_version: int | None = None
    config_version: int = 0
    session: str = ""  # when this connection began; the last will is signed then
    # The audit chain's head, {"seq": int, "hash": 64 hex}, or None while the log is empty;
    # signed with the status by the device key, so HQ keeps an anchor off the kit.
    audit_head: dict[str, Any] | None = None
    # The last `rekam doctor` summary (edge.readiness), None until doctor has run.
    readiness: dict[str, Any] | None = None
    # The kit's worklist public key (base64 of 1216 bytes, edge.worklist_key), None while
    # it has none: HQ takes it for a kit it holds no key for (provisioned before worklists
    # were sealed) and seals that kit's worklists to it.
    worklist_key: str | None = None
    # What the kit holds of HQ's decision (bundle, then HQ's config): a training kit may use
    # simulated devices. HQ trusts its own devices table; a difference is shown.
    training: bool = False

    def to_body(self) -> dict[str, Any]:
        body = asdict(self)
        body["at"] = self.at.isoformat()
        return body

    def order(self) -> tuple[str, bool, datetime]:
        """Newest last: by session, then the session's "offline" (its last will) after its
        heartbeats, then time. A will is signed at connect time, so ``at`` alone would put
        it before the heartbeats it ends."""
        return (self.session, self.state == "offline", self.at)


def sign_status(status: Status, key: ed25519.Ed25519PrivateKey) -> bytes:
    return sign_document(STATUS_KIND, canonical_json(status.to_body()), key)


def verify_status(data: bytes, *, device_key: ed25519.Ed25519PublicKey,
                  device_id: str) -> Status:
    """A heartbeat or last will signed by the device: every field of the type and length
    docs/protocol/messages.md gives (ProtocolError naming the first that is not); fields
    this version does not know are ignored."""
    from edge.keys import signing_key_id

    body = _body(data, kind=STATUS_KIND, trusted={signing_key_id(device_key): device_key})
    _for_device(body, device_id, "status")
    try:
        if body["state"] not in ("online", "offline"):
            raise ValueError(f"unknown state {str(body['state'])[:20]!r}")
        outbox = body.get("outbox", {})
        if (not isinstance(outbox, dict) or len(outbox) > 16
                or not all(isinstance(k, str) and 0 < len(k) <= 16 for k in outbox)):
            raise ValueError("outbox is not an object of at most 16 packet states")
        return Status(
            device_id=device_id, state=str(body["state"]), at=_time(body["at"], "status at"),
            software_version=_text(body, "software_version", 32),
            queue_depth=_count(body, "queue_depth"),
            oldest_queued=_text_or_null(body, "oldest_queued", 40),
            outbox={k: _count(outbox, k) for k in outbox},
            free_disk_mb=_count(body, "free_disk_mb"),
            roster_version=_count_or_null(body, "roster_version"),
            roster_expires_at=_text_or_null(body, "roster_expires_at", 40),
            pending_worklist_version=_count_or_null(body, "pending_worklist_version"),
            config_version=_count(body, "config_version"),
            session=_text(body, "session", 40),
            audit_head=check_audit_head(body.get("audit_head")),
            readiness=_readiness(body.get("readiness")),
            worklist_key=_public_key_or_null(body, "worklist_key"),
            training=_flag(body, "training"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ProtocolError(f"status body is malformed: {exc}") from None


def _public_key_or_null(body: Mapping[str, Any], name: str) -> str | None:
    from edge.keys import SealingPublicKey, unb64

    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise ValueError(f"{name} is not base64 text")
    SealingPublicKey(unb64(value, name))  # InvalidInput (a ValueError) unless 1216 bytes
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    """A boolean member, false when absent; anything but true or false is malformed."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ValueError(f"{name} is not true or false")
    return value


def _readiness(value: object) -> dict[str, Any] | None:
    from edge import readiness

    return None if value is None else readiness.from_dict(value).to_dict()


# HQ keeps counts and versions in 32-bit integer columns: a larger one is refused as
# malformed rather than failing in the database.
MAX_COUNT = 2**31 - 1


def _count_or_null(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{name} is not an integer from 0 to {MAX_COUNT} or null")
    return value


def _count(body: Mapping[str, Any], name: str) -> int:
    value = _count_or_null(body, name) if name in body else 0
    if value is None:
        raise ValueError(f"{name} is null")
    return value


def _text_or_null(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise ValueError(f"{name} is not text of at most {limit} printable characters")
    return value


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = _text_or_null(body, name, limit) if name in body else ""
    if value is None:
        raise ValueError(f"{name} is null")
    return value


def check_audit_head(value: object) -> dict[str, Any] | None:
    """An audit head as a kit sends it (status body, packet manifest): None, or exactly
    ``{"seq": int >= 1, "hash": 64 lower-case hex}``; ProtocolError otherwise."""
    if value is None:
        return None
    if (not isinstance(value, dict) or set(value) != {"seq", "hash"}
            or type(value["seq"]) is not int or value["seq"] < 1
            or not isinstance(value["hash"], str) or not _SHA256.fullmatch(value["hash"])):
        raise ProtocolError("audit_head is not {seq: a positive integer, hash: 64 hex digits}")
    return {"seq": value["seq"], "hash": value["hash"]}


# --- reports (what a kit did with a downlink message) -------------------------------------


@dataclass(frozen=True)
class Report:
    device_id: str
    at: datetime
    subject: str  # "worklist", "config", "packet" or "kit"
    result: str  # "staged", "applied", "rejected", "defaulted" or "wiped"
    version: int | None = None
    detail: str = ""

    def to_body(self) -> dict[str, Any]:
        body = asdict(self)
        body["at"] = self.at.isoformat()
        return body


def sign_report(report: Report, key: ed25519.Ed25519PrivateKey) -> bytes:
    return sign_document(REPORT_KIND, canonical_json(report.to_body()), key)


def verify_report(data: bytes, *, device_key: ed25519.Ed25519PublicKey,
                  device_id: str) -> Report:
    from edge.keys import signing_key_id

    body = _body(data, kind=REPORT_KIND, trusted={signing_key_id(device_key): device_key})
    _for_device(body, device_id, "report")
    try:
        for name in ("subject", "result"):
            if not isinstance(body[name], str) or not 0 < len(body[name]) <= 16:
                raise ValueError(f"{name} is not text of 1 to 16 characters")
        return Report(device_id=device_id, at=_time(body["at"], "report at"),
                      subject=body["subject"], result=body["result"],
                      version=_count_or_null(body, "version"),
                      detail=str(body.get("detail", ""))[:2000])
    except (KeyError, ValueError, TypeError) as exc:
        raise ProtocolError(f"report body is malformed: {exc}") from None


__all__ = ["Report", "Status", "check_audit_head", "sign_report", "sign_status",
           "verify_report", "verify_status"]
