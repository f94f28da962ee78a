"""The checks before HQ stores a packet, and so acks it "stored": one function, used by MQTT
ingest and by anything else that takes packets in (``accept_packet``).

A kit purges a packet once HQ acks it stored, so HQ acks only what it can later open: a
packet of a registered, active kit, with a well-formed header (every field of its
documented form and length, checked before the database sees it), a known format and
suite, sealed to one of HQ's current sealing keys, and signed by the kit's registered key.
Anything else is refused with a reason code and a sentence the kit shows and keeps the
packet for (sync/PROTOCOL.md).
"""

from __future__ import annotations

from edge.errors import RekamError
from edge.packet import (
    KNOWN_PACKET_FORMATS,
    KNOWN_SUITES,
    PacketHeader,
    read_header,
    verify_packet,
)
from hq.devices import Device
from hq.home import HqKeys


class Rejected(Exception):
    """A message refused: the reason code is counted and kept with the dead letter."""

    def __init__(self, code: str, reason: str, packet_id: str | None = None,
                 sha256: str | None = None, *, alert: bool = False) -> None:
        super().__init__(reason)
        self.code, self.reason, self.packet_id, self.sha256 = code, reason, packet_id, sha256
        self.alert = alert


def check_device(device: Device) -> None:
    """Only an active kit's messages are taken in (a revoked kit's never)."""
    if device.status == "revoked":
        raise Rejected("device_revoked", f"device {device.device_id} is revoked at HQ")
    if device.status != "active":
        raise Rejected("device_disabled", f"device {device.device_id} is {device.status}")


def accept_packet(device: Device, keys: HqKeys, data: bytes, *, packet_id: str | None = None,
                  sha256: str | None = None) -> PacketHeader:
    """The packet's header when HQ may store and ack ``data`` from ``device``; else
    :class:`Rejected` (``packet_id``/``sha256``: what the transport named, for the ack)."""
    ids = (packet_id, sha256)
    check_device(device)
    try:
        header = read_header(data)
    except RekamError as exc:
        raise Rejected("malformed_packet", str(exc), *ids) from None
    if packet_id is not None and header.packet_id != packet_id:
        raise Rejected("id_mismatch", f"frame names packet {packet_id}, its header "
                       f"{header.packet_id}", *ids)
    if header.device_id != device.device_id:
        raise Rejected("misrouted", f"packet {header.packet_id} of {header.device_id} arrived "
                       f"on the topic of {device.device_id}", *ids)
    if header.format not in KNOWN_PACKET_FORMATS:
        raise Rejected("unknown_format", f"packet format {header.format} is not one HQ reads "
                       f"({', '.join(sorted(KNOWN_PACKET_FORMATS))})", *ids)
    if header.suite not in KNOWN_SUITES:
        raise Rejected("unknown_suite", f"packet sealed with suite {header.suite}, which HQ "
                       f"cannot open ({', '.join(sorted(KNOWN_SUITES))})", *ids)
    if header.hq_key_id not in keys.sealing_key_ids:
        raise Rejected("foreign_key", f"packet sealed to key {header.hq_key_id}, not one of "
                       f"HQ's sealing keys ({', '.join(sorted(keys.sealing_key_ids))}): HQ "
                       "could never open it; re-provision the kit", *ids)
    try:
        verify_packet(data, device.signing_public)
    except RekamError as exc:
        raise Rejected("bad_signature", str(exc), *ids) from None
    return header
