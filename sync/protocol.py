"""The wire protocol between kits and HQ over MQTT 5 (specified in ``sync/PROTOCOL.md``).

Pure: no network, no database. Both ends import it: the kit's uplink encodes packets into
chunk frames and verifies HQ's acks; HQ ingest decodes the frames, reassembles them and
signs the acks.

Topics (``{device}`` is the device id, which is also the CN of the kit's TLS certificate
and therefore its MQTT username; the broker's ACL confines each kit to its own topics)::

    rekam/v1/{device}/up/packet     chunk frames of sealed packets      kit → HQ  QoS 1
    rekam/v1/{device}/up/status     signed heartbeat / last will        kit → HQ  QoS 1
    rekam/v1/{device}/up/report     signed result of a downlink         kit → HQ  QoS 1
    rekam/v1/{device}/down/ack      HQ's signed ack of a packet         HQ → kit  QoS 1
    rekam/v1/{device}/down/worklist HQ's signed worklist (retained)     HQ → kit  QoS 1
    rekam/v1/{device}/down/config   HQ's signed settings (retained)     HQ → kit  QoS 1
    rekam/v1/hq/online              HQ ingest online since (retained)   HQ → kits QoS 1
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge import config as config_settings
from edge.canonical import canonical_json
from edge.clock import wib
from edge.errors import DocumentRejected, IntegrityError, InvalidInput, RekamError
from edge.signing import open_document, sign_document
from sync.errors import ProtocolError

VERSION = "v1"
PREFIX = f"rekam/{VERSION}"
SHARE_GROUP = "rekam-hq"
INGEST_FILTER = f"{PREFIX}/+/up/#"
INGEST_SUBSCRIPTION = f"$share/{SHARE_GROUP}/{INGEST_FILTER}"
# One retained message for the whole fleet: four levels, so never a device's topic (those
# have five), and readable by every kit through the broker's ACL.
ONLINE_TOPIC = f"{PREFIX}/hq/online"

DEFAULT_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 1024 * 1024  # a frame larger than this is refused, whatever its metadata
MAX_PACKET_SIZE = 64 * 1024 * 1024
MAX_CHUNKS = 4096
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024  # status, report, ack, config, worklist envelopes

CHUNK_MAGIC = b"RKMC"
CHUNK_LAYOUT = 1
_CHUNK_FIXED = struct.Struct(">4sBH")  # magic, layout, metadata length
MAX_CHUNK_META = 1024

_DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
_PACKET_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

ACK_KIND = "ack"
STATUS_KIND = "status"
REPORT_KIND = "report"
CONFIG_KIND = "config"
ONLINE_KIND = "online"


class Channel(StrEnum):
    PACKET = "up/packet"
    STATUS = "up/status"
    REPORT = "up/report"
    ACK = "down/ack"
    WORKLIST = "down/worklist"
    CONFIG = "down/config"

    @property
    def uplink(self) -> bool:
        return self.value.startswith("up/")


# --- topics -----------------------------------------------------------------------------


def check_device_id(device_id: str) -> str:
    if not _DEVICE_ID.fullmatch(device_id):
        raise ProtocolError(f"{device_id!r} is not a device id", reason="bad_device_id")
    return device_id


def topic(device_id: str, channel: Channel) -> str:
    return f"{PREFIX}/{check_device_id(device_id)}/{channel.value}"


def kit_subscription(device_id: str) -> str:
    """What a kit subscribes to: everything HQ sends it."""
    return f"{PREFIX}/{check_device_id(device_id)}/down/#"


def parse_topic(name: str) -> tuple[str, Channel]:
    """``rekam/v1/{device}/{up|down}/{kind}`` → (device id, channel); ProtocolError else."""
    parts = name.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise ProtocolError(f"topic {name!r} is not a Rekam {VERSION} topic",
                            reason="unknown_topic")
    try:
        channel = Channel(f"{parts[3]}/{parts[4]}")
    except ValueError:
        raise ProtocolError(f"topic {name!r} names no known channel",
                            reason="unknown_topic") from None
    return check_device_id(parts[2]), channel


# --- chunk frames -----------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One MQTT message on ``up/packet``: a slice of one sealed packet.

    Every chunk repeats the whole packet's id, SHA-256 (of its exact wire bytes, the hash
    HQ's ack names), total size and chunk count, so HQ can reassemble chunks arriving in
    any order, from any number of sends, across disconnects.
    """

    packet_id: str
    sha256: str
    total: int
    count: int
    index: int
    offset: int
    data: bytes

    def meta(self) -> dict[str, Any]:
        return {"packet_id": self.packet_id, "sha256": self.sha256, "total": self.total,
                "count": self.count, "index": self.index, "offset": self.offset}

    def encode(self) -> bytes:
        meta = canonical_json(self.meta())
        return _CHUNK_FIXED.pack(CHUNK_MAGIC, CHUNK_LAYOUT, len(meta)) + meta + self.data

    @property
    def whole(self) -> bool:
        return self.count == 1


def chunk_count(total: int, chunk_size: int) -> int:
    return max(1, -(-total // chunk_size))


def split_packet(packet_id: str, data: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 start: int = 0, sha256: str | None = None) -> Iterator[Chunk]:
    """The chunks of a packet from index ``start`` on (a resumed upload skips the rest)."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ProtocolError(f"chunk size {chunk_size} is out of range 1..{MAX_CHUNK_SIZE}")
    if not data:
        raise ProtocolError("an empty packet cannot be sent")
    digest = sha256 or hashlib.sha256(data).hexdigest()
    count = chunk_count(len(data), chunk_size)
    if count > MAX_CHUNKS:
        raise ProtocolError(f"packet {packet_id} needs {count} chunks; raise the chunk size")
    view = memoryview(data)
    for index in range(start, count):
        offset = index * chunk_size
        yield Chunk(packet_id, digest, len(data), count, index, offset,
                    bytes(view[offset : offset + chunk_size]))


def decode_chunk(payload: bytes, *, max_packet: int = MAX_PACKET_SIZE) -> Chunk:
    """Parse and sanity-check a chunk frame; one-line ProtocolError on anything odd."""
    if len(payload) > MAX_CHUNK_SIZE + MAX_CHUNK_META + _CHUNK_FIXED.size:
        raise ProtocolError(f"chunk frame of {len(payload)} bytes is too large",
                            reason="oversized")
    if len(payload) < _CHUNK_FIXED.size:
        raise ProtocolError("message is too short to be a chunk frame")
    magic, layout, meta_len = _CHUNK_FIXED.unpack_from(payload)
    if magic != CHUNK_MAGIC:
        raise ProtocolError("message is not a Rekam chunk frame (bad magic)")
    if layout != CHUNK_LAYOUT:
        raise ProtocolError(f"unknown chunk frame layout {layout}")
    if meta_len > MAX_CHUNK_META or _CHUNK_FIXED.size + meta_len > len(payload):
        raise ProtocolError("chunk metadata length is out of range")
    raw_meta = payload[_CHUNK_FIXED.size : _CHUNK_FIXED.size + meta_len]
    data = payload[_CHUNK_FIXED.size + meta_len :]
    try:
        meta = json.loads(raw_meta)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("chunk metadata is not JSON") from None
    if not isinstance(meta, dict) or set(meta) != {"packet_id", "sha256", "total", "count",
                                                   "index", "offset"}:
        raise ProtocolError("chunk metadata has missing or unknown fields")
    packet_id, sha, total, count, index, offset = (
        meta["packet_id"], meta["sha256"], meta["total"], meta["count"], meta["index"],
        meta["offset"])
    if not isinstance(packet_id, str) or not _PACKET_ID.fullmatch(packet_id):
        raise ProtocolError("chunk names no valid packet id")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ProtocolError(f"chunk of {packet_id}: sha256 is not 64 lower-case hex digits")
    if not all(type(v) is int for v in (total, count, index, offset)):
        raise ProtocolError(f"chunk of {packet_id}: sizes must be integers")
    if not 0 < total <= max_packet:
        raise ProtocolError(f"packet {packet_id} of {total} bytes exceeds the limit of "
                            f"{max_packet} bytes", reason="oversized")
    if not 1 <= count <= MAX_CHUNKS or not 0 <= index < count:
        raise ProtocolError(f"chunk of {packet_id}: index {index} of {count} is out of range")
    if not data or offset < 0 or offset + len(data) > total:
        raise ProtocolError(f"chunk {index} of {packet_id} lies outside the packet's "
                            f"{total} bytes")
    if count == 1 and (offset != 0 or len(data) != total):
        raise ProtocolError(f"single-chunk packet {packet_id} is not whole")
    return Chunk(packet_id, sha, total, count, index, offset, data)


def assemble(chunks: Iterable[tuple[int, int, bytes]], *, total: int, count: int,
             sha256: str) -> bytes:
    """Join (index, offset, data) pieces into the packet; checks order, coverage and hash."""
    parts = sorted(chunks)
    if [i for i, _, _ in parts] != list(range(count)):
        raise ProtocolError(f"have {len(parts)} of {count} chunks", reason="incomplete")
    position = 0
    for index, offset, data in parts:
        if offset != position:
            raise ProtocolError(f"chunk {index} starts at {offset}, expected {position}",
                                reason="bad_chunks")
        position += len(data)
    if position != total:
        raise ProtocolError(f"chunks add up to {position} bytes, not {total}",
                            reason="bad_chunks")
    whole = b"".join(d for _, _, d in parts)
    if hashlib.sha256(whole).hexdigest() != sha256:
        raise ProtocolError("reassembled packet does not match its sha256",
                            reason="hash_mismatch")
    return whole


# --- signed documents: helpers ----------------------------------------------------------


def _body(data: bytes, *, kind: str, trusted: Mapping[str, ed25519.Ed25519PublicKey],
          limit: int = MAX_DOCUMENT_SIZE) -> dict[str, Any]:
    if len(data) > limit:
        raise ProtocolError(f"{kind} message is too large", reason="oversized")
    doc = open_document(data, kind=kind, trusted=trusted)
    try:
        body = json.loads(doc.body)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"{kind} body is not JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"{kind} body is not a JSON object")
    return body


def _time(value: object, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ProtocolError(f"{what} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ProtocolError(f"{what} has no time zone")
    return when


def _for_device(body: Mapping[str, Any], device_id: str, kind: str) -> None:
    if body.get("device_id") != device_id:
        raise DocumentRejected(f"{kind} is for device {body.get('device_id')!r}, "
                               f"not {device_id}")


# --- acks -------------------------------------------------------------------------------


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


# --- kit status (heartbeat and last will) -------------------------------------------------


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


# --- config downlink ------------------------------------------------------------------------

# Settings HQ may change remotely: edge.config.SETTINGS says which, and their ranges. Never:
# device_id, kelurahan (bound to the certificate and worklists), hal/allow_simulated
# (simulated biometrics must never be enabled from afar), or the PIN hashing cost (it only
# applies to new PINs and is a local security decision). Beside the settings, HQ states
# whether the kit is registered for training (its devices table): not a setting anyone
# pushes, but HQ's decision restated in every config, so a production kit stays one.
REMOTE_SETTINGS = config_settings.REMOTE_SETTINGS


@dataclass(frozen=True)
class ConfigUpdate:
    device_id: str
    version: int
    issued_at: datetime
    expires_at: datetime
    settings: dict[str, str]
    training: bool | None = None  # HQ's registration of the kit; None: not stated

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "device_id": self.device_id, "version": self.version,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(), "settings": dict(self.settings)}
        if self.training is not None:
            body["training"] = self.training
        return body


def _check_settings(settings: Mapping[str, object]) -> dict[str, str]:
    """Only settings HQ may change, each in range (the one validation of edge.config, run
    by HQ before signing and by the kit before applying)."""
    if "training" in settings:
        raise DocumentRejected("config refused: training is decided when HQ registers the kit "
                               "(rekam-hq device add --training), not pushed as a setting")
    try:
        config_settings.check_remote_settings(settings)
    except InvalidInput as exc:
        raise DocumentRejected(f"config refused: {exc}") from None
    return {str(k): str(v) for k, v in settings.items()}


def build_config(update: ConfigUpdate, key: ed25519.Ed25519PrivateKey) -> bytes:
    _check_settings(update.settings)
    return sign_document(CONFIG_KIND, canonical_json(update.to_body()), key)


def verify_config(data: bytes, *, trusted: Mapping[str, ed25519.Ed25519PublicKey],
                  device_id: str, current_version: int, now: datetime) -> ConfigUpdate:
    """Signature, device, a version newer than ``current_version``, not expired, and only
    settings in :data:`REMOTE_SETTINGS`; raises before anything is changed."""
    body = _body(data, kind=CONFIG_KIND, trusted=trusted)
    _for_device(body, device_id, "config")
    try:
        settings = body["settings"]
        if not isinstance(settings, dict):
            raise TypeError("settings is not an object")
        training = body.get("training")
        if training is not None and not isinstance(training, bool):
            raise ValueError("training is not true or false")
        update = ConfigUpdate(device_id=device_id, version=int(body["version"]),
                              issued_at=_time(body["issued_at"], "config issued_at"),
                              expires_at=_time(body["expires_at"], "config expires_at"),
                              settings=_check_settings(settings), training=training)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, RekamError):
            raise
        raise ProtocolError(f"config body is malformed: {exc}") from None
    if update.version <= current_version:
        raise DocumentRejected(f"config version {update.version} is not newer than "
                               f"version {current_version}")
    if update.expires_at <= now:
        raise DocumentRejected(f"config expired on {wib(update.expires_at)}")
    return update


__all__ = [
    "Ack", "AckStatus", "Channel", "Chunk", "ConfigUpdate", "IntegrityError", "Report",
    "Status", "assemble", "build_config", "check_audit_head", "decode_chunk",
    "kit_subscription", "parse_topic",
    "sign_ack", "sign_report", "sign_status", "split_packet", "topic", "verify_ack",
    "verify_config", "verify_report", "verify_status",
]
