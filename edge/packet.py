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
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import IntegrityError, InvalidInput
from edge.keys import SealingPrivateKey, SealingPublicKey, signing_key_id

MAGIC = b"RKMP"
LAYOUT_VERSION = 1
PACKET_FORMAT = "rekam-packet/1"
SUITE_NAME = "MLKEM768X25519/HKDF-SHA256/CHACHA20POLY1305"
SIGNATURE_LEN = 64
MAX_HEADER = 4096

_SUITES = {
    SUITE_NAME: hpke.Suite(
        hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
    ),
}


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
    """Encrypt to HQ and sign with the device key. The plaintext exists only in memory."""
    header = PacketHeader(
        format=PACKET_FORMAT,
        suite=SUITE_NAME,
        hq_key_id=hq_key.key_id,
        device_id=manifest.device_id,
        device_key_id=signing_key_id(device_key.public_key()),
        packet_id=manifest.packet_id,
        created_at=created_at.isoformat(),
    )
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
    except (ValueError, TypeError) as exc:
        raise InvalidInput("packet header is not valid") from exc
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


def open_packet(
    data: bytes, *, hq_key: SealingPrivateKey, device_key: ed25519.Ed25519PublicKey
) -> OpenedPacket:
    """Verify the device signature, then decrypt (HQ's vault only)."""
    header = verify_packet(data, device_key)
    parts = _split(data)
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
    manifest, images = _unzip(plaintext)
    if manifest.packet_id != header.packet_id or manifest.device_id != header.device_id:
        raise IntegrityError("packet manifest does not match its header")
    return OpenedPacket(header, manifest, images)


def _zip(manifest: Manifest, images: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", canonical_json(manifest.to_dict()))
        for name, data in images.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _unzip(plaintext: bytes) -> tuple[Manifest, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(plaintext)) as zf:
        manifest = Manifest.from_dict(json.loads(zf.read("manifest.json")))
        images = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
    return manifest, images
