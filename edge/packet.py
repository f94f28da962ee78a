"""Enrolment packets: the manifest, the sealed container, and opening it at HQ.

Wire layout of a sealed packet (all integers big-endian)::

    b"RKMP" | u8 layout version (1) | u32 header length | header (canonical JSON)
            | u32 ciphertext length | HPKE ciphertext (enc || AEAD output)
            | 64-byte Ed25519 signature over every byte before it

The header names the format, the HPKE suite, HQ's sealing key id, the device, the device's
signing key id, the packet id and the creation time. It holds no personal data, and it is
passed to HPKE as ``info``, so a ciphertext cannot be moved under another header. The
plaintext is a stored (uncompressed: images are compressed already) ZIP with
``manifest.json`` and the images, which only HQ's vault can open.

The manifest follows ``edge/schemas/manifest.schema.json`` (:mod:`edge.manifest_schema`):
:func:`seal` refuses one that breaks it. Reading a container (:func:`read_container`) trusts
nothing in it: only single safe names, regular uncompressed entries, declared and actual
sizes within :class:`ContainerLimits`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import IntegrityError, InvalidInput
from edge.keys import (
    SEALING_SUITE,
    SUITE_NAME,
    SealingPrivateKey,
    SealingPublicKey,
    signing_key_id,
)
from edge.manifest_schema import MANIFEST_FORMAT, validate_manifest

MAGIC = b"RKMP"
LAYOUT_VERSION = 1
PACKET_FORMAT = "rekam-packet/1"  # what this kit writes
# Every packet format HQ takes in and opens (a rollout lists the old and the new one:
# docs/protocol/versioning.md).
KNOWN_PACKET_FORMATS = frozenset({PACKET_FORMAT})
SIGNATURE_LEN = 64
MAX_HEADER = 4096
MANIFEST_NAME = "manifest.json"

# What a header field may hold (sync/PROTOCOL.md): checked before a packet is stored, so a
# kit cannot make HQ's database fail on a field longer than its column.
HEADER_FIELDS: dict[str, tuple[re.Pattern[str], str]] = {
    "format": (re.compile(r"^[a-z0-9-]{1,24}/[0-9]{1,4}$"), "a format such as rekam-packet/1"),
    "suite": (re.compile(r"^[A-Za-z0-9/+._-]{1,64}$"), "a suite name of at most 64 characters"),
    "hq_key_id": (re.compile(r"^[0-9a-f]{16}$"), "16 lower-case hex digits"),
    "device_id": (re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$"), "a device id"),
    "device_key_id": (re.compile(r"^[0-9a-f]{16}$"), "16 lower-case hex digits"),
    "packet_id": (re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"),
                  "at most 64 letters, digits, '.', '_' or '-'"),
    "created_at": (re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,15}"
                              r"(Z|[+-][0-9]{2}:[0-9]{2})$"),
                   "an ISO 8601 time with a zone, at most 40 characters"),
}

_SUITES = {SUITE_NAME: SEALING_SUITE}
KNOWN_SUITES = frozenset(_SUITES)


@dataclass(frozen=True)
class CaptureRecord:
    """What the manifest says of one kept capture (the image is a file in the packet)."""

    modality: str
    position: str | None
    file: str
    image_format: str
    width: int
    height: int
    quality: int
    quality_reasons: list[str]
    passed: bool  # reached the quality threshold (else the best of all attempts was kept)
    attempts: int
    device_model: str
    device_serial: str
    device_backend: str
    captured_at: str
    # The device's own signed capture, a file in the packet (an SBI device's JWS), or None:
    # HQ checks it itself rather than take the kit's word for which device captured what.
    evidence: str | None = None


@dataclass(frozen=True)
class ExceptionRecord:
    """A finger or eye that could not be captured, approved by a supervisor."""

    modality: str
    position: str
    reason: str  # "amputated", "bandaged", "unable", "blind", ...
    approved_by: str
    approved_at: str
    note: str = ""


@dataclass(frozen=True)
class VerificationRecord:
    position: str
    match_score: float
    matched: bool
    quality: int


@dataclass(frozen=True)
class Manifest:
    packet_id: str
    nik: str
    device_id: str
    operator_id: str
    service_point: str
    started_at: str
    sealed_at: str
    software_version: str
    captures: list[CaptureRecord] = field(default_factory=list)
    exceptions: list[ExceptionRecord] = field(default_factory=list)
    verification: list[VerificationRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    # The kit's audit chain head ({"seq", "hash"}) when the packet was sealed: signed with
    # the packet, so HQ holds an anchor that catches a truncated or rewritten log.
    audit_head: dict[str, Any] | None = None
    kelurahan: str = ""  # Kemendagri code of the resident's kelurahan, from the worklist
    format: str = MANIFEST_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            **{
                **data,
                "captures": [CaptureRecord(**c) for c in data.get("captures", [])],
                "exceptions": [ExceptionRecord(**e) for e in data.get("exceptions", [])],
                "verification": [VerificationRecord(**v) for v in data.get("verification", [])],
            }
        )


@dataclass(frozen=True)
class PacketHeader:
    format: str
    suite: str
    hq_key_id: str
    device_id: str
    device_key_id: str
    packet_id: str
    created_at: str

    def to_bytes(self) -> bytes:
        return canonical_json(asdict(self))

    def check(self) -> PacketHeader:
        """Every field a string of its documented form and length; InvalidInput naming the
        first that is not."""
        for name, (pattern, what) in HEADER_FIELDS.items():
            value = getattr(self, name)
            if not isinstance(value, str) or not pattern.fullmatch(value):
                shown = repr(value)[:40] + ("..." if len(repr(value)) > 40 else "")
                raise InvalidInput(f"packet header field {name} is not {what}: {shown}")
        return self


@dataclass(frozen=True)
class SealedPacket:
    packet_id: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class OpenedPacket:
    header: PacketHeader
    manifest: Manifest
    images: dict[str, bytes]


def seal(
    manifest: Manifest,
    images: Mapping[str, bytes],
    *,
    hq_key: SealingPublicKey,
    device_key: ed25519.Ed25519PrivateKey,
    created_at: datetime,
) -> SealedPacket:
    """Encrypt to HQ and sign with the device key. The plaintext exists only in memory.

    The manifest must pass the schema (:class:`edge.manifest_schema.ManifestInvalid`
    otherwise): a kit never seals what HQ would flag as malformed."""
    validate_manifest(manifest.to_dict())
    header = PacketHeader(
        format=PACKET_FORMAT,
        suite=SUITE_NAME,
        hq_key_id=hq_key.key_id,
        device_id=manifest.device_id,
        device_key_id=signing_key_id(device_key.public_key()),
        packet_id=manifest.packet_id,
        created_at=created_at.isoformat(),
    ).check()
    header_bytes = header.to_bytes()
    plaintext = _zip(manifest, images)
    ciphertext = _SUITES[SUITE_NAME].encrypt(plaintext, hq_key.to_hpke(), info=header_bytes)
    body = b"".join(
        (
            MAGIC,
            struct.pack(">BI", LAYOUT_VERSION, len(header_bytes)),
            header_bytes,
            struct.pack(">I", len(ciphertext)),
            ciphertext,
        )
    )
    return SealedPacket(manifest.packet_id, body + device_key.sign(body))


@dataclass(frozen=True)
class _Parts:
    header: PacketHeader
    header_bytes: bytes
    ciphertext: memoryview  # views into the packet, not copies (HQ checks 200 KB packets
    signed: memoryview  # by the hundred per second)
    signature: bytes


def _split(data: bytes) -> _Parts:
    if len(data) < 9 + SIGNATURE_LEN or data[:4] != MAGIC:
        raise InvalidInput("not a Rekam packet")
    version, header_len = struct.unpack_from(">BI", data, 4)
    if version != LAYOUT_VERSION:
        raise InvalidInput(f"unknown packet layout version {version}")
    if header_len > MAX_HEADER or 9 + header_len + 4 > len(data) - SIGNATURE_LEN:
        raise InvalidInput("packet header length is out of range")
    header_bytes = data[9 : 9 + header_len]
    (ct_len,) = struct.unpack_from(">I", data, 9 + header_len)
    ct_start = 9 + header_len + 4
    if ct_start + ct_len != len(data) - SIGNATURE_LEN:
        raise InvalidInput("packet length does not match its ciphertext length")
    try:
        fields = json.loads(header_bytes)
        header = PacketHeader(**fields)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput("packet header is not a JSON object of the header's fields"
                           ) from exc
    header.check()
    if header.to_bytes() != header_bytes:
        raise InvalidInput("packet header is not canonical")
    view = memoryview(data)
    return _Parts(
        header=header,
        header_bytes=header_bytes,
        ciphertext=view[ct_start : ct_start + ct_len],
        signed=view[: len(data) - SIGNATURE_LEN],
        signature=data[len(data) - SIGNATURE_LEN :],
    )


def read_header(data: bytes) -> PacketHeader:
    """The packet's plaintext header, without verifying or decrypting anything."""
    return _split(data).header


def verify_packet(data: bytes, device_key: ed25519.Ed25519PublicKey) -> PacketHeader:
    """Check the device signature (HQ ingest does this before storing)."""
    parts = _split(data)
    if parts.header.device_key_id != signing_key_id(device_key):
        raise IntegrityError(
            f"packet {parts.header.packet_id} names signing key {parts.header.device_key_id}, "
            f"not the key registered for {parts.header.device_id}"
        )
    try:
        device_key.verify(parts.signature, parts.signed)
    except InvalidSignature as exc:
        raise IntegrityError(f"packet {parts.header.packet_id}: signature does not verify") from exc
    return parts.header


def decrypt_packet(
    data: bytes, *, hq_key: SealingPrivateKey, device_key: ed25519.Ed25519PublicKey
) -> tuple[PacketHeader, bytes]:
    """Verify the device signature, then decrypt: (header, plaintext container). HQ only."""
    header = verify_packet(data, device_key)
    parts = _split(data)
    if header.format not in KNOWN_PACKET_FORMATS:
        raise InvalidInput(f"packet format {header.format} is not one HQ reads")
    if header.suite not in _SUITES:
        raise InvalidInput(f"packet sealed with unknown suite {header.suite}")
    if header.hq_key_id != hq_key.public().key_id:
        raise IntegrityError(f"packet was sealed to HQ key {header.hq_key_id}, not this one")
    try:
        plaintext = _SUITES[header.suite].decrypt(
            bytes(parts.ciphertext), hq_key.to_hpke(), info=parts.header_bytes
        )
    except InvalidTag as exc:
        raise IntegrityError(f"packet {header.packet_id} does not decrypt") from exc
    return header, plaintext


def open_packet(
    data: bytes, *, hq_key: SealingPrivateKey, device_key: ed25519.Ed25519PublicKey
) -> OpenedPacket:
    """Verify the device signature, then decrypt, read the container safely and check the
    manifest against the schema (HQ's vault only; ``hq.inspect`` flags rather than raises)."""
    header, plaintext = decrypt_packet(data, hq_key=hq_key, device_key=device_key)
    container = read_container(plaintext)
    if container.problems:
        raise IntegrityError(f"packet {header.packet_id}: {container.problems[0]}")
    validate_manifest(container.manifest)
    manifest = Manifest.from_dict(container.manifest)
    if manifest.packet_id != header.packet_id or manifest.device_id != header.device_id:
        raise IntegrityError("packet manifest does not match its header")
    return OpenedPacket(header, manifest, container.files)


def _zip(manifest: Manifest, images: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST_NAME, canonical_json(manifest.to_dict()))
        for name, data in images.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- reading a container that may be hostile --------------------------------------------------

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}(\.[A-Za-z0-9]{1,8})?$")


@dataclass(frozen=True)
class ContainerLimits:
    """Caps on what one packet's ZIP may hold, declared and actual."""

    max_entries: int = 64
    max_entry: int = 16 * 1024 * 1024
    max_total: int = 64 * 1024 * 1024
    max_manifest: int = 1024 * 1024


@dataclass(frozen=True)
class Container:
    """A packet's plaintext as read: the manifest's parsed JSON (None when unreadable), the
    other entries by name (only safe single names, each within the caps), and every problem
    found, in words (an empty tuple for a clean container)."""

    manifest: Any
    files: dict[str, bytes]
    problems: tuple[str, ...]


def _entry_problem(info: zipfile.ZipInfo, limits: ContainerLimits) -> str | None:
    name = info.filename
    shown = repr(name)[:60]
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        return f"entry {shown} is not a single safe file name"
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: no type recorded
        return f"entry {shown} is not a regular file (a link, directory or device)"
    if info.flag_bits & 0x1:
        return f"entry {shown} is encrypted"
    if info.compress_type != zipfile.ZIP_STORED:
        return f"entry {shown} is compressed (method {info.compress_type}); entries are stored"
    cap = limits.max_manifest if name == MANIFEST_NAME else limits.max_entry
    if info.file_size > cap or info.compress_size > cap:
        return f"entry {shown} declares {info.file_size} bytes, over the cap of {cap}"
    return None


def read_container(plaintext: bytes, limits: ContainerLimits | None = None) -> Container:
    """Read a packet's ZIP without trusting it; never raises on its content."""
    limits = limits or ContainerLimits()
    problems: list[str] = []
    files: dict[str, bytes] = {}
    manifest: Any = None
    try:
        with zipfile.ZipFile(io.BytesIO(plaintext)) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                return Container(None, {}, (f"the packet holds {len(infos)} entries, over the "
                                            f"cap of {limits.max_entries}",))
            seen: set[str] = set()
            declared = 0
            for info in infos:
                problem = _entry_problem(info, limits)
                if problem is None and info.filename in seen:
                    problem = f"entry {info.filename!r} appears twice"
                seen.add(info.filename)
                declared += max(info.file_size, 0)
                if problem is None and declared > limits.max_total:
                    problem = (f"the entries declare more than {limits.max_total} bytes "
                               "in all")
                if problem is not None:
                    problems.append(problem)
                    continue
                with zf.open(info) as fh:
                    body = fh.read(info.file_size + 1)
                if len(body) != info.file_size:
                    problems.append(f"entry {info.filename!r} holds {len(body)} bytes, not the "
                                    f"{info.file_size} it declares")
                    continue
                if info.filename == MANIFEST_NAME:
                    try:
                        manifest = json.loads(body)
                    except (ValueError, RecursionError):
                        problems.append("manifest.json is not JSON")
                else:
                    files[info.filename] = body
    except Exception as exc:  # zipfile raises many kinds on hostile bytes; all are "unreadable"
        problems.append(f"the packet's content is not a readable ZIP ({type(exc).__name__})")
        return Container(None, {}, tuple(problems))
    if manifest is None and not any("manifest.json" in p for p in problems):
        problems.append("the packet holds no manifest.json")
    return Container(manifest, files, tuple(problems))
