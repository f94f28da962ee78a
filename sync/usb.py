"""The offline route: a USB stick carries a kit's unacknowledged packets to HQ, and HQ's
signed receipt back, when a kelurahan has had no signal for days.

On the stick, one folder per kit (``STICK/<device id>/``):

- ``packets/<packet id>.pkt`` — each packet's exact wire bytes (sealed to HQ, signed by the
  kit: the stick reveals nothing);
- ``manifest.json`` — signed by the kit (``usb-manifest``): the packet ids, their SHA-256
  and sizes, and the kit's audit head, so HQ sees a truncated log as it would from a
  heartbeat;
- ``receipt.json`` — written by HQ (``usb-receipt``), signed by HQ: one signed ack per
  packet HQ stored (the very acks ingest would have sent over MQTT), bound to the
  manifest's hash.

``rekam export --usb STICK`` writes the first two and marks the packets sent (never purged:
only an ack does that); ``rekam-hq import-usb STICK`` stores the packets through the same
code as MQTT ingest and writes the receipt; ``rekam import-receipt STICK`` checks HQ's
signature and feeds the acks to the same code as the MQTT downlink. Every step may be
repeated: the same stick twice changes nothing at either end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import DocumentRejected, IntegrityError, InvalidInput, NotFound
from edge.keys import b64, signing_key_id, unb64
from edge.kit import Kit
from edge.kitdb import atomic
from edge.outbox import PacketState
from edge.signing import parse_document, sign_document
from sync.downlink import AckOutcome, handle_acks
from sync.protocol.documents import _body, _for_device, _time
from sync.protocol.topics import check_device_id

MANIFEST_KIND = "usb-manifest"
RECEIPT_KIND = "usb-receipt"
MANIFEST = "manifest.json"
RECEIPT = "receipt.json"
PACKETS = "packets"
SUFFIX = ".pkt"
EXPORTED = "usb_exported"  # kit state: ids of unacknowledged packets already on a stick
MAX_MANIFEST = 64 * 1024 * 1024
_PACKET_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ManifestEntry:
    packet_id: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    device_id: str
    created_at: datetime
    packets: list[ManifestEntry]
    audit_head: dict[str, Any] | None

    def to_body(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "created_at": self.created_at.isoformat(),
                "packets": [{"packet_id": p.packet_id, "sha256": p.sha256, "size": p.size}
                            for p in self.packets],
                "audit_head": self.audit_head}


@dataclass(frozen=True)
class Receipt:
    device_id: str
    manifest_sha256: str
    issued_at: datetime
    acks: list[bytes]  # each a signed ack, exactly as HQ ingest publishes on down/ack

    def to_body(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "manifest_sha256": self.manifest_sha256,
                "issued_at": self.issued_at.isoformat(), "acks": [b64(a) for a in self.acks]}


def sign_manifest(manifest: Manifest, key: ed25519.Ed25519PrivateKey) -> bytes:
    return sign_document(MANIFEST_KIND, canonical_json(manifest.to_body()), key)


def manifest_device(data: bytes) -> str:
    """The device a manifest claims to come from (unverified: to find its key)."""
    try:
        body = json.loads(parse_document(data).body)
        return check_device_id(str(body["device_id"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("manifest.json is not a Rekam USB manifest") from exc


def verify_manifest(data: bytes, *, device_key: ed25519.Ed25519PublicKey,
                    device_id: str) -> Manifest:
    body = _body(data, kind=MANIFEST_KIND,
                 trusted={signing_key_id(device_key): device_key}, limit=MAX_MANIFEST)
    _for_device(body, device_id, "manifest")
    try:
        packets = [ManifestEntry(str(p["packet_id"]), str(p["sha256"]), int(p["size"]))
                   for p in body["packets"]]
        head = body.get("audit_head")
        if head is not None:
            head = {"seq": int(head["seq"]), "hash": str(head["hash"])}
            if head["seq"] < 1 or not _SHA256.match(head["hash"]):
                raise ValueError("the audit head is not (sequence, SHA-256)")
        manifest = Manifest(device_id, _time(body["created_at"], "manifest created_at"),
                            packets, head)
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"manifest.json is malformed: {exc}") from None
    for p in manifest.packets:  # names that become file names: nothing but the expected form
        if not _PACKET_ID.fullmatch(p.packet_id) or not _SHA256.fullmatch(p.sha256) or p.size <= 0:
            raise InvalidInput(f"manifest.json lists a malformed packet {p.packet_id[:40]!r}")
    if len({p.packet_id for p in manifest.packets}) != len(manifest.packets):
        raise InvalidInput("manifest.json lists a packet twice")
    return manifest


def sign_receipt(receipt: Receipt, key: ed25519.Ed25519PrivateKey) -> bytes:
    return sign_document(RECEIPT_KIND, canonical_json(receipt.to_body()), key)


def verify_receipt(data: bytes, *, trusted: Mapping[str, ed25519.Ed25519PublicKey],
                   device_id: str) -> Receipt:
    body = _body(data, kind=RECEIPT_KIND, trusted=trusted, limit=MAX_MANIFEST)
    _for_device(body, device_id, "receipt")
    try:
        return Receipt(device_id, str(body["manifest_sha256"]),
                       _time(body["issued_at"], "receipt issued_at"),
                       [unb64(str(a), "ack") for a in body["acks"]])
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"receipt.json is malformed: {exc}") from None


def kit_folders(stick: Path) -> list[Path]:
    """The kit folders on a stick (``STICK/<device>/manifest.json``), or STICK itself."""
    if not stick.is_dir():
        raise NotFound(f"{stick} is not a folder (is the stick mounted?)")
    if (stick / MANIFEST).is_file():
        return [stick]
    found = sorted(p.parent for p in stick.glob(f"*/{MANIFEST}"))
    if not found:
        raise NotFound(f"no {MANIFEST} in {stick} or its folders: run rekam export --usb "
                       "on the kit first")
    return found


def write_file(path: Path, data: bytes) -> None:
    """Whole or not at all, and on the stick before we say so (a stick is pulled early)."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (FAT on some kernels) refuse fsync on a directory
    finally:
        os.close(fd)


# --- the kit's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    packets: int
    size: int
    audit_head: dict[str, Any] | None


def export_usb(kit: Kit, stick: Path, *, actor: str) -> ExportResult:
    """Every packet HQ has not acknowledged, and the signed manifest, into STICK/<device>/;
    the packets are marked sent (an ack, by MQTT or receipt, is what lets them go)."""
    if not stick.is_dir():
        raise NotFound(f"{stick} is not a folder (is the stick mounted?)")
    folder = stick / kit.device_id
    (folder / PACKETS).mkdir(parents=True, exist_ok=True)
    entries = sorted([*kit.outbox.entries(PacketState.SEALED),
                      *kit.outbox.entries(PacketState.SENT)], key=lambda e: e.created_at)
    listed: list[ManifestEntry] = []
    for entry in entries:
        target = folder / PACKETS / f"{entry.packet_id}{SUFFIX}"
        if target.is_file() and target.stat().st_size == entry.size and \
                hashlib.sha256(target.read_bytes()).hexdigest() == entry.sha256:
            listed.append(ManifestEntry(entry.packet_id, entry.sha256, entry.size))
            continue  # already on the stick from an earlier export
        data = kit.outbox.data(entry.packet_id)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise IntegrityError(f"packet {entry.packet_id} no longer matches its hash")
        write_file(target, data)
        listed.append(ManifestEntry(entry.packet_id, entry.sha256, entry.size))
    wanted = {f"{e.packet_id}{SUFFIX}" for e in listed}
    for old in (folder / PACKETS).iterdir():  # acknowledged since the last export
        if old.name not in wanted:
            old.unlink()
    kit.audit.append(actor, "usb_export", packets=len(listed))
    manifest = Manifest(kit.device_id, kit.clock(), listed, kit.audit.head_record())
    (folder / RECEIPT).unlink(missing_ok=True)  # a receipt answers an older manifest
    write_file(folder / MANIFEST, sign_manifest(manifest, kit.device_key()))
    _sync_dir(folder / PACKETS)
    _sync_dir(folder)
    with atomic(kit.conn):
        for item in listed:
            kit.outbox.mark_sent(item.packet_id)
        kit.state.set(EXPORTED, json.dumps(sorted(e.packet_id for e in listed)))
    return ExportResult(folder, len(listed), sum(e.size for e in listed),
                        manifest.audit_head)


def exported_ids(kit: Kit) -> set[str]:
    raw = kit.state.get(EXPORTED)
    return set(json.loads(raw)) if raw else set()


def import_receipt(kit: Kit, stick: Path, *, actor: str) -> AckOutcome:
    """HQ's receipt from STICK/<device>/receipt.json: its signature, this device, then each
    ack exactly as if it had come over MQTT."""
    folder = stick / kit.device_id if (stick / kit.device_id).is_dir() else stick
    path = folder / RECEIPT
    if not path.is_file():
        raise NotFound(f"no {RECEIPT} for {kit.device_id} in {stick}: has HQ run "
                       "rekam-hq import-usb on this stick?")
    receipt = verify_receipt(path.read_bytes(), trusted=kit.trusted_hq_keys(),
                             device_id=kit.device_id)
    manifest = folder / MANIFEST
    if manifest.is_file() and \
            hashlib.sha256(manifest.read_bytes()).hexdigest() != receipt.manifest_sha256:
        raise DocumentRejected("receipt.json answers another manifest than the one on the "
                               "stick; export again and take the stick to HQ")
    outcome = handle_acks(kit, receipt.acks)
    if outcome.acked:  # the same receipt again changes nothing, not even the log
        kit.audit.append(actor, "usb_receipt", acked=len(outcome.acked),
                         repeated=len(outcome.repeated), refused=len(outcome.refused))
    return outcome


def stick_packets(folder: Path, manifest: Manifest) -> Sequence[tuple[ManifestEntry, Path]]:
    """Each listed packet's file, checked present (HQ reads and hashes it itself)."""
    found = []
    for listed in manifest.packets:
        path = folder / PACKETS / f"{listed.packet_id}{SUFFIX}"
        if not path.is_file():
            raise NotFound(f"{folder.name}: packet {listed.packet_id} is listed in the "
                           "manifest but missing from the stick")
        found.append((listed, path))
    return found
