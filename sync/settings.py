"""The uplink's tunables: defaults for a Raspberry Pi on 3G/4G, overridable per kit in
``sync.json`` in the kit's home, and per run by ``rekam sync`` flags (tests use small
timeouts). Build defaults here, never at import time elsewhere."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from edge.errors import InvalidInput
from sync.protocol import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE

FILE_NAME = "sync.json"


@dataclass(frozen=True)
class SyncSettings:
    chunk_size: int = DEFAULT_CHUNK_SIZE  # bytes per MQTT message on up/packet
    window: int = 64  # packets sent and awaiting HQ's ack at once (their bytes are not held)
    max_inflight: int = 16  # MQTT publishes awaiting PUBACK at once
    ack_timeout: float = 180.0  # seconds after a send before the packet is sent again
    # While HQ acks nothing (its ingest down, the broker up), each round of re-sends waits
    # twice as long as the last, up to this: a window of packets every 3 minutes would
    # cost a metered 3G/4G kit gigabytes a day. Any ack brings it back to ack_timeout.
    ack_timeout_max: float = 3600.0
    publish_timeout: float = 120.0  # seconds for one PUBACK (size it to the link, MQTT.md)
    connect_timeout: float = 30.0
    keepalive: int = 60
    session_expiry: int = 14 * 24 * 3600  # the broker keeps our acks while we are offline
    heartbeat: float = 300.0  # seconds between signed status messages
    poll: float = 2.0  # seconds between looks at the outbox when idle
    purge_every: float = 600.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    once_timeout: float = 300.0  # rekam sync --once: give up waiting for acks after this
    tcp_congestion: str = "bbr"  # per socket; "" keeps the system default (see bench/)

    def __post_init__(self) -> None:
        if not 1024 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidInput(f"chunk_size must be 1024..{MAX_CHUNK_SIZE} bytes")
        if self.window < 1 or self.max_inflight < 1:
            raise InvalidInput("window and max_inflight must be at least 1")
        if self.ack_timeout_max < self.ack_timeout:
            raise InvalidInput("ack_timeout_max must be at least ack_timeout")
        for name in ("ack_timeout", "publish_timeout", "connect_timeout", "heartbeat", "poll",
                     "purge_every", "backoff_initial", "backoff_max", "once_timeout"):
            if float(getattr(self, name)) <= 0:
                raise InvalidInput(f"{name} must be positive")

    @classmethod
    def load(cls, home: Path, **overrides: Any) -> SyncSettings:
        data: dict[str, Any] = {}
        path = home / FILE_NAME
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except ValueError as exc:
                raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
            if not isinstance(data, dict):
                raise InvalidInput(f"{path} must hold a JSON object")
        data.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidInput(f"unknown sync setting(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(known))}")
        converted: dict[str, Any] = {}
        for key, value in data.items():
            kind = known[key]
            try:
                converted[key] = (int(value) if kind in ("int", int) else
                                  float(value) if kind in ("float", float) else str(value))
            except (TypeError, ValueError):
                raise InvalidInput(f"sync setting {key} has a bad value {value!r}") from None
        return replace(cls(), **converted)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
