"""Packets that reach HQ by another route than MQTT: ``rekam-hq packets add FILE...`` and
``rekam-hq import-usb DIR`` (the kit's ``rekam export --usb``).

Both go through HQ ingest's own handler (:meth:`hq.ingest.Ingestor.handle_batch`): each
packet file is framed exactly as the kit's uplink frames it (chunks on
``rekam/v1/<device>/up/packet``) and handed in, so it meets the same checks (a registered,
active kit; the header's device, the kit's registered signing key and its signature;
whatever else ingest refuses) and the same exactly-once storage, and comes back with the
same signed ack. The device a file claims is only believed once the packet's signature
verifies with that device's registered key, as on the broker, where the topic is tied to
the certificate. For a stick, the kit's signed manifest must list the packet with the same
hash, and the receipt HQ writes back holds the acks of every packet stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import NotAllowed, NotFound, RekamError
from hq.accept import Rejected, check_device
from hq.anchors import record_head
from hq.devices import get_device
from hq.ingest import Ingestor
from sync.mqtt import Incoming
from sync.protocol.acks import Ack, AckStatus, verify_ack
from sync.protocol.chunks import MAX_CHUNK_SIZE, split_packet
from sync.protocol.topics import Channel, topic
from sync.usb import (
    MANIFEST,
    RECEIPT,
    Receipt,
    kit_folders,
    manifest_device,
    sign_receipt,
    stick_packets,
    verify_manifest,
    verify_receipt,
    write_file,
)

_ID_IN_HEADER = b'"packet_id"'


@dataclass(frozen=True)
class Added:
    """What became of one packet file."""

    source: str
    packet_id: str | None
    device_id: str | None
    status: str  # "stored", "duplicate", "rejected" or "refused"
    reason: str = ""
    ack: bytes | None = field(default=None, repr=False)  # HQ's signed ack, when one is due

    @property
    def held(self) -> bool:
        return self.status in (AckStatus.STORED.value, AckStatus.DUPLICATE.value)


def _peek(data: bytes) -> tuple[str, str]:
    """(device id, packet id) the packet's header claims; checked later by ingest."""
    from edge.packet import read_header

    header = read_header(data)
    return header.device_id, header.packet_id


def add_packets(ingestor: Ingestor, files: Sequence[tuple[str, bytes]], *,
                device_id: str | None = None) -> list[Added]:
    """Hand packet files to ingest as the kit's uplink would; one :class:`Added` each.

    ``device_id``: the kit the files come from (a stick's signed manifest says); else each
    file's header names it, and ingest holds it to that kit's registered key."""
    results: dict[int, Added] = {}
    batch: list[Incoming] = []
    wanted: dict[str, int] = {}  # packet id -> index in files
    for n, (source, data) in enumerate(files):
        try:
            claimed, packet_id = _peek(data)
        except RekamError as exc:
            results[n] = Added(source, None, None, "refused", f"not a Rekam packet: {exc}")
            continue
        device = device_id or claimed
        if packet_id in wanted:
            results[n] = Added(source, packet_id, device, "refused",
                               f"packet {packet_id} is given twice")
            continue
        wanted[packet_id] = n
        sha = hashlib.sha256(data).hexdigest()
        name = topic(device, Channel.PACKET)
        batch += [Incoming(name, chunk.encode(), False)
                  for chunk in split_packet(packet_id, data, chunk_size=MAX_CHUNK_SIZE,
                                            sha256=sha)]
        results[n] = Added(source, packet_id, device, "refused",
                           "refused by ingest (rekam-hq packets lists the reason)")
    out = ingestor.handle_batch(batch) + ingestor.flush()
    trusted = {ingestor.keys.signing_key_id: ingestor.keys.signing.public_key()}
    for ack_topic, payload in out:
        device = ack_topic.split("/")[2]
        ack: Ack = verify_ack(payload, trusted=trusted, device_id=device)
        n = wanted.get(ack.packet_id, -1)
        if n < 0:
            continue
        prior = results[n]
        results[n] = Added(prior.source, ack.packet_id, device, ack.status.value, ack.reason,
                           payload)
    return [results[n] for n in range(len(files))]


@dataclass(frozen=True)
class StickResult:
    folder: Path
    device_id: str
    added: list[Added]
    already: bool  # the receipt on the stick already answered this manifest
    alerts: list[str]  # the manifest's audit head forks or goes back (hq.anchors)


def _already_imported(ingestor: Ingestor, folder: Path, manifest_sha: str, device_id: str,
                      listed: dict[str, str]) -> bool:
    """True when the stick's receipt is HQ's, answers this very manifest, and HQ still
    holds every packet it names: a second import then changes nothing at all."""
    path = folder / RECEIPT
    if not path.is_file():
        return False
    trusted = {ingestor.keys.signing_key_id: ingestor.keys.signing.public_key()}
    try:
        receipt = verify_receipt(path.read_bytes(), trusted=trusted, device_id=device_id)
    except RekamError:
        return False
    if receipt.manifest_sha256 != manifest_sha:
        return False
    held = ingestor.store.existing_many(set(listed))
    return all(held.get(pid) == (device_id, sha) for pid, sha in listed.items())


def import_stick(ingestor: Ingestor, stick: Path) -> list[StickResult]:
    """Every kit folder on the stick: the kit's signed manifest, its packets through
    ingest, and HQ's signed receipt written beside them."""
    results = []
    for folder in kit_folders(stick):
        raw = (folder / MANIFEST).read_bytes()
        device_id = manifest_device(raw)
        try:
            device = get_device(ingestor.engine, device_id)
        except NotFound as exc:
            raise NotFound(f"{folder}: {exc}") from None
        try:
            check_device(device)  # a revoked kit's stick is refused like its messages
        except Rejected as exc:
            raise NotAllowed(f"{folder}: {exc.reason}") from None
        manifest = verify_manifest(raw, device_key=device.signing_public,
                                   device_id=device_id)
        manifest_sha = hashlib.sha256(raw).hexdigest()
        listed = {p.packet_id: p.sha256 for p in manifest.packets}
        if _already_imported(ingestor, folder, manifest_sha, device_id, listed):
            results.append(StickResult(folder, device_id, [], True, []))
            continue
        # The manifest's audit head leaves the kit as a heartbeat's does: HQ keeps it and
        # raises a fork or a roll-back.
        alerts = record_head(ingestor.engine, device_id, manifest.audit_head,
                             manifest.created_at, "usb manifest", ingestor.clock())
        files: list[tuple[str, bytes]] = []
        refused: list[Added] = []
        for entry, path in stick_packets(folder, manifest):
            data = path.read_bytes()
            if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
                refused.append(Added(path.name, entry.packet_id, device_id, "refused",
                                     "the file does not match the kit's manifest (damaged "
                                     "or altered on the stick)"))
                continue
            files.append((path.name, data))
        added = add_packets(ingestor, files, device_id=device_id) + refused
        receipt = Receipt(device_id, manifest_sha, ingestor.clock(),
                          [a.ack for a in added if a.held and a.ack is not None])
        write_file(folder / RECEIPT, sign_receipt(receipt, ingestor.keys.signing))
        results.append(StickResult(folder, device_id, added, False,
                                   [a.detail for a in alerts]))
    return results
