"""The uplink's tunables: defaults for a Raspberry Pi on 3G/4G, overridable per kit in
``sync.json`` in the kit's home, and per run by ``rekam sync`` flags (tests use small
timeouts). Build defaults here, never at import time elsewhere."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edge.errors import InvalidInput
from sync.protocol.chunks import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE

FILE_NAME = "sync.json"
ONCE_CONNECT_TIMEOUT = 15.0
"""A person waits (``rekam sync --once``, "Kirim sekarang"): a dead link says so within
this, unless ``sync.json`` (or a flag) sets another connect timeout."""


@dataclass(frozen=True)
class SyncSettings:
    chunk_size: int = DEFAULT_CHUNK_SIZE  # bytes per MQTT message on up/packet
    # Packets sent and awaiting HQ's ack at once (their bytes are not held). 8 × ~170 KB is
    # several times a 3G/4G link's bandwidth-delay product, and bounds what a fleet can
    # park at the broker at kits × window packets (bench/fleet_sim.py: 500 kits at 64 put
    # the whole day's 1.7 GB in the broker's memory, and a worker's restart then took a
    # minute to drain).
    window: int = 8  # at most this many packets awaiting HQ's ack (it adapts: sync.window)
    max_inflight: int = 16  # MQTT publishes awaiting PUBACK at once
    ack_timeout: float = 180.0  # seconds after a send before the packet is sent again
    # While HQ acks nothing (its ingest down, the broker up), each round of re-sends waits
    # twice as long as the last, up to this: a window of packets every 3 minutes would
    # cost a metered 3G/4G kit gigabytes a day. Any ack brings it back to ack_timeout.
    ack_timeout_max: float = 3600.0
    publish_timeout: float = 120.0  # seconds for one PUBACK (0.3 Mbit/s: 13 s per 500 KB)
    connect_timeout: float = 30.0
    keepalive: int = 60
    session_expiry: int = 14 * 24 * 3600  # the broker keeps our acks while we are offline
    heartbeat: float = 300.0  # seconds between signed status messages
    poll: float = 2.0  # seconds between looks at the outbox when idle
    purge_every: float = 600.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    # For this long after a session ended, reconnect tries are at most reconnect_fast_max
    # apart (between half of it and all of it, at random): a broker restart costs seconds,
    # not the grown back-off. A try while the broker is down costs a refused TCP connect.
    reconnect_fast_for: float = 600.0
    reconnect_fast_max: float = 5.0
    # After HQ announces its ingest online again, how long unacked packets sent before the
    # announcement wait for their acks (what the broker kept for ingest) before going again.
    resend_settle: float = 5.0
    once_timeout: float = 300.0  # rekam sync --once: give up waiting for acks after this
    tcp_congestion: str = "bbr"  # per socket; "" keeps the system default (see bench/)
    # Lines of sync.json that were refused (each setting falling back to its default).
    problems: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not 1024 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidInput(f"chunk_size must be 1024..{MAX_CHUNK_SIZE} bytes")
        if not 1 <= self.window <= 10_000 or not 1 <= self.max_inflight <= 1000:
            raise InvalidInput("window must be 1..10000 and max_inflight 1..1000")
        if self.ack_timeout_max < self.ack_timeout:
            raise InvalidInput("ack_timeout_max must be at least ack_timeout")
        if not 5 <= self.keepalive <= 3600 or self.session_expiry < 0:
            raise InvalidInput("keepalive must be 5..3600 s and session_expiry not negative")
        # Upper bounds too: a heartbeat or a back-off of a year would be a kit HQ never
        # hears from again, which is what a bad setting must never do.
        for name, most in (("ack_timeout", 86400), ("ack_timeout_max", 86400),
                           ("publish_timeout", 3600), ("connect_timeout", 600),
                           ("heartbeat", 3600), ("poll", 60), ("purge_every", 86400),
                           ("backoff_initial", 600), ("backoff_max", 3600),
                           ("reconnect_fast_for", 86400), ("reconnect_fast_max", 3600),
                           ("resend_settle", 600),
                           ("once_timeout", 86400)):
            if not 0 < float(getattr(self, name)) <= most:
                raise InvalidInput(f"{name} must be more than 0 and at most {most} s")

    @classmethod
    def load(cls, home: Path, **overrides: Any) -> SyncSettings:
        """``sync.json`` over the defaults, then ``overrides`` (command-line flags).

        A flag that is wrong is an error (the person typing it is there to fix it). A line of
        ``sync.json`` that is wrong is not: that setting keeps its default and the problem is
        kept in :attr:`problems` for the log, so a bad file never stops the daemon."""
        settings, problems = cls(), []
        path = home / FILE_NAME
        data: Any = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (ValueError, OSError) as exc:
                problems.append(f"{path} is not readable JSON ({exc}); using the defaults")
            if not isinstance(data, dict):
                problems.append(f"{path} does not hold a JSON object; using the defaults")
                data = {}
        for key in sorted(data):
            try:
                settings = replace(settings, **{key: _convert(key, data[key])})
            except InvalidInput as exc:
                problems.append(f"{path}: {exc}; {key} keeps its default")
        given = {k: _convert(k, v) for k, v in overrides.items() if v is not None}
        return replace(settings, **given, problems=tuple(problems))

    def for_a_person(self) -> SyncSettings:
        """These settings for a run someone waits on: the shorter connect timeout, unless
        one was set (:data:`ONCE_CONNECT_TIMEOUT`)."""
        if self.connect_timeout != SyncSettings().connect_timeout:
            return self
        return replace(self, connect_timeout=ONCE_CONNECT_TIMEOUT)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["problems"]
        return data


def _convert(key: str, value: Any) -> Any:
    known = {f.name: f.type for f in fields(SyncSettings) if f.name != "problems"}
    if key not in known:
        raise InvalidInput(f"unknown sync setting {key!r}; known: {', '.join(sorted(known))}")
    kind = known[key]
    try:
        return (int(value) if kind in ("int", int) else
                float(value) if kind in ("float", float) else str(value))
    except (TypeError, ValueError):
        raise InvalidInput(f"sync setting {key} has a bad value {str(value)[:40]!r}") from None
