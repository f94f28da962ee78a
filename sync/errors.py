"""Errors of the sync layer. Transport errors are ours, never aiomqtt's or paho's: only
:mod:`sync.mqtt` knows those and maps them here, so callers (the uplink, HQ ingest) catch
one tree whatever the MQTT library underneath."""

from __future__ import annotations

from edge.errors import InvalidInput, RekamError


class ProtocolError(InvalidInput):
    """A message that does not follow sync/PROTOCOL.md (malformed, oversized, misrouted)."""

    code = "protocol"

    def __init__(self, message: str, *, reason: str = "malformed") -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class TransportError(RekamError, ConnectionError):
    """The broker could not be reached, or the connection dropped."""

    code = "transport"


class ConnectFailed(TransportError):
    """No MQTT session: refused, TLS handshake failed, unreachable, timed out."""

    code = "connect_failed"


class Disconnected(TransportError):
    """An established connection dropped."""

    code = "disconnected"


class PublishTimeout(TransportError):
    """No PUBACK in time. The message may still be delivered (paho sends it again after a
    reconnect): never treat this as "not delivered"; only HQ's signed ack counts."""

    code = "publish_timeout"


class NotAuthorized(TransportError):
    """The broker refused a subscription or publication (ACL)."""

    code = "not_authorized"


class HqUnreachable(ConnectFailed):
    """``rekam sync --once`` reached no broker: one line saying what was tried and what to
    check, instead of retrying until ``once_timeout``."""

    code = "hq_unreachable"
