"""Signed documents: the envelope HQ uses for worklists, config, acks and provisioning, and
kits use for status messages.

The signature covers a domain-separation prefix, the document kind and the body, so a
signature made for one kind of document (an ack) can never be replayed as another (a
worklist). The envelope is canonical JSON so it survives email, USB sticks and MQTT alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import IntegrityError, InvalidInput
from edge.keys import b64, signing_key_id, unb64

FORMAT = "rekam-signed/1"
_PREFIX = b"rekam-signed-v1\x00"


def _signed_bytes(kind: str, body: bytes) -> bytes:
    return _PREFIX + kind.encode("ascii") + b"\x00" + body


@dataclass(frozen=True)
class SignedDocument:
    kind: str
    key_id: str
    body: bytes
    signature: bytes


def sign_document(kind: str, body: bytes, key: ed25519.Ed25519PrivateKey) -> bytes:
    envelope = {
        "format": FORMAT,
        "kind": kind,
        "key_id": signing_key_id(key.public_key()),
        "body": b64(body),
        "signature": b64(key.sign(_signed_bytes(kind, body))),
    }
    return canonical_json(envelope)


def parse_document(data: bytes) -> SignedDocument:
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("not a Rekam signed document (not JSON)") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise InvalidInput("not a Rekam signed document (unknown format)")
    try:
        return SignedDocument(
            kind=str(envelope["kind"]),
            key_id=str(envelope["key_id"]),
            body=unb64(str(envelope["body"]), "document body"),
            signature=unb64(str(envelope["signature"]), "document signature"),
        )
    except KeyError as exc:
        raise InvalidInput(f"signed document lacks the field {exc.args[0]!r}") from exc


def open_document(
    data: bytes, *, kind: str, trusted: Mapping[str, ed25519.Ed25519PublicKey]
) -> SignedDocument:
    """Verify and return a document of ``kind`` signed by one of the ``trusted`` keys (by id)."""
    doc = parse_document(data)
    if doc.kind != kind:
        raise IntegrityError(f"expected a {kind} document, got a {doc.kind} document")
    key = trusted.get(doc.key_id)
    if key is None:
        raise IntegrityError(f"{kind} signed by an unknown key {doc.key_id}")
    try:
        key.verify(doc.signature, _signed_bytes(kind, doc.body))
    except InvalidSignature as exc:
        raise IntegrityError(f"{kind} signature does not verify: the file was altered") from exc
    return doc
