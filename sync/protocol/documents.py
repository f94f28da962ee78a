"""What every signed message of the protocol shares (``sync/PROTOCOL.md``, "Signed
documents"): opening the envelope within a size limit into a JSON object, times with a
zone, the device a message is for, and the form of a SHA-256 hex digest (which chunk
frames carry too)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.errors import DocumentRejected
from edge.signing import open_document
from sync.errors import ProtocolError

MAX_DOCUMENT_SIZE = 16 * 1024 * 1024  # status, report, ack, config, worklist envelopes

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _body(data: bytes, *, kind: str, trusted: Mapping[str, ed25519.Ed25519PublicKey],
          limit: int = MAX_DOCUMENT_SIZE) -> dict[str, Any]:
    if len(data) > limit:
        raise ProtocolError(f"{kind} message is too large", reason="oversized")
    doc = open_document(data, kind=kind, trusted=trusted)
    try:
        body = json.loads(doc.body)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"{kind} body is not JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"{kind} body is not a JSON object")
    return body


def _time(value: object, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ProtocolError(f"{what} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ProtocolError(f"{what} has no time zone")
    return when


def _for_device(body: Mapping[str, Any], device_id: str, kind: str) -> None:
    if body.get("device_id") != device_id:
        raise DocumentRejected(f"{kind} is for device {body.get('device_id')!r}, "
                               f"not {device_id}")
