"""The protocol's topics (``sync/PROTOCOL.md``, "Topics"): names, channels, device ids.

``{device}`` is the device id, which is also the CN of the kit's TLS certificate and
therefore its MQTT username; the broker's ACL confines each kit to its own topics::

    rekam/v1/{device}/up/packet     chunk frames of sealed packets      kit → HQ  QoS 1
    rekam/v1/{device}/up/status     signed heartbeat / last will        kit → HQ  QoS 1
    rekam/v1/{device}/up/report     signed result of a downlink         kit → HQ  QoS 1
    rekam/v1/{device}/down/ack      HQ's signed ack of a packet         HQ → kit  QoS 1
    rekam/v1/{device}/down/worklist HQ's signed worklist (retained)     HQ → kit  QoS 1
    rekam/v1/{device}/down/config   HQ's signed settings (retained)     HQ → kit  QoS 1
    rekam/v1/hq/online              HQ ingest online since (retained)   HQ → kits QoS 1
"""

from __future__ import annotations

import re
from enum import StrEnum

from sync.errors import ProtocolError

VERSION = "v1"
PREFIX = f"rekam/{VERSION}"
SHARE_GROUP = "rekam-hq"
INGEST_FILTER = f"{PREFIX}/+/up/#"
INGEST_SUBSCRIPTION = f"$share/{SHARE_GROUP}/{INGEST_FILTER}"
# One retained message for the whole fleet: four levels, so never a device's topic (those
# have five), and readable by every kit through the broker's ACL.
ONLINE_TOPIC = f"{PREFIX}/hq/online"

_DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


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


__all__ = [
    "INGEST_FILTER", "INGEST_SUBSCRIPTION", "ONLINE_TOPIC", "PREFIX", "SHARE_GROUP", "VERSION",
    "Channel", "check_device_id", "kit_subscription", "parse_topic", "topic",
]
