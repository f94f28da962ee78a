"""The vault: opening sealed packets with HQ's sealing key, after checking who signed them."""

from __future__ import annotations

from sqlalchemy import Engine

from edge.packet import OpenedPacket, open_packet, read_header
from hq.devices import get_device
from hq.home import HqKeys


def open_sealed(engine: Engine, keys: HqKeys, data: bytes) -> OpenedPacket:
    header = read_header(data)
    device = get_device(engine, header.device_id)
    return open_packet(data, hq_key=keys.sealing, device_key=device.signing_public)
