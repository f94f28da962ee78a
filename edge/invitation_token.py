"""Invitation tokens: what the QR code on an invitation letter holds, signed by HQ.

A token names an invitation code, the visit it invites to (kelurahan, RW, date) and when it
expires, under HQ's Ed25519 signing key. It carries no NIK and no name: a photographed
letter tells a stranger nothing the printed letter does not already say. The kit checks it
offline against the HQ signing key from its provisioning bundle, then looks the invitation
code up in its roster.

Text form (``sync/PROTOCOL.md``, "Invitation tokens")::

    REKAM1:<base32 of body || signature>

``body`` (big-endian, 32 bytes for a 10-character code):

====== ======================================================================
bytes  field
====== ======================================================================
8      HQ signing key id (the 16 hex digits of :func:`edge.keys.key_id`)
1      length n of the invitation code (1 to 32)
n      invitation code, ASCII upper case without the dash ("K7QFR2M9XA")
5      kelurahan code as 10 BCD digits ("32.75.01.1001" -> 32 75 01 10 01)
2      RW number (1 to 999)
2      visit date, days since 1970-01-01
4      expiry, seconds since 1970-01-01 UTC
====== ======================================================================

``signature`` is Ed25519 (64 bytes) over ``b"rekam-invitation-v1\\0" + body``: the prefix
keeps a signature made for anything else HQ signs from ever passing as a token.

Every character is upper case, a digit or ``:``, so the QR code uses its dense alphanumeric
mode (about 160 characters: a version 7 code) and a scanner that types like a US keyboard
reproduces it exactly; lower case, spaces and line breaks a scanner adds are forgiven.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge import regions
from edge.clock import WIB
from edge.errors import (
    InvalidInput,
    InvitationExpired,
    InvitationForged,
    InvitationMalformed,
    InvitationOtherArea,
    NotFound,
)
from edge.keys import signing_key_id

PREFIX = "REKAM1:"
_DOMAIN = b"rekam-invitation-v1\x00"
_EPOCH = date(1970, 1, 1)
_SIG_LEN = 64
_TAIL = struct.Struct(">5sHHI")  # kelurahan (BCD), RW, visit day, expiry
_KELURAHAN = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")
_CODE = re.compile(r"[A-Z0-9]{1,32}")
_NOISE = re.compile(r"\s+")
MAX_TEXT = 400  # a genuine token is ~160 characters; anything far longer is not one


@dataclass(frozen=True)
class InvitationToken:
    """What a verified token says."""

    invitation_code: str  # as the roster stores it: upper case, no dash
    kelurahan: str  # Kemendagri code, dotted
    rw: str  # zero-padded: "005"
    visit_date: date
    expires_at: datetime  # UTC
    key_id: str  # the HQ key that signed it


def looks_like_token(text: str) -> bool:
    """Whether ``text`` is meant as a token (so a refusal, not a name search, is the answer)."""
    return text.strip().upper().startswith(PREFIX)


def _bcd(kelurahan: str) -> bytes:
    if not _KELURAHAN.fullmatch(kelurahan):
        raise InvalidInput(f"{kelurahan!r} is not a kelurahan code like 32.75.01.1001")
    return binascii.unhexlify(kelurahan.replace(".", ""))


def _unbcd(raw: bytes) -> str:
    digits = binascii.hexlify(raw).decode("ascii")
    if not digits.isdigit():
        raise InvitationMalformed("the invitation QR code names no kelurahan")
    return f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:]}"


def encode_token(
    *,
    invitation_code: str,
    kelurahan: str,
    rw: str,
    visit_date: date,
    expires_at: datetime,
    signing_key: ed25519.Ed25519PrivateKey,
) -> str:
    """The signed token for one invitation (HQ side)."""
    code = invitation_code.replace("-", "").upper()
    if not _CODE.fullmatch(code):
        raise InvalidInput(f"invitation code {invitation_code!r}: 1 to 32 letters and digits")
    if not (rw.isdigit() and 0 < int(rw) < 1000):
        raise InvalidInput(f"RW {rw!r} is not a number from 1 to 999")
    if expires_at.tzinfo is None:
        raise InvalidInput("an invitation's expiry needs a time zone")
    key_id = bytes.fromhex(signing_key_id(signing_key.public_key()))
    body = (key_id + bytes([len(code)]) + code.encode("ascii")
            + _TAIL.pack(_bcd(kelurahan), int(rw), (visit_date - _EPOCH).days,
                         int(expires_at.timestamp())))
    signature = signing_key.sign(_DOMAIN + body)
    return PREFIX + base64.b32encode(body + signature).decode("ascii").rstrip("=")


def _decode(text: str) -> tuple[bytes, bytes]:
    if len(text) > MAX_TEXT:
        raise InvitationMalformed("the scanned text is far longer than an invitation QR code")
    cleaned = _NOISE.sub("", text).upper()
    if not cleaned.startswith(PREFIX):
        raise InvitationMalformed("not an invitation QR code (it does not start with REKAM1:)")
    payload = cleaned[len(PREFIX):]
    try:
        raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    except (binascii.Error, ValueError):
        raise InvitationMalformed("the invitation QR code is damaged (not base32)") from None
    if base64.b32encode(raw).decode("ascii").rstrip("=") != payload:
        # Only one text per token: the unused bits of the last character must be zero.
        raise InvitationMalformed("the invitation QR code is damaged (not base32)")
    if len(raw) < 8 + 1 + _TAIL.size + _SIG_LEN:
        raise InvitationMalformed("the invitation QR code is cut short")
    return raw[:-_SIG_LEN], raw[-_SIG_LEN:]


def verify_token(
    text: str,
    *,
    trusted: Mapping[str, ed25519.Ed25519PublicKey],
    now: datetime,
    kelurahan: Sequence[str] | None = None,
) -> InvitationToken:
    """Check a scanned token: signed by a ``trusted`` HQ key (by key id), not expired at
    ``now``, and (when ``kelurahan`` is given) for a kelurahan this kit serves. Each refusal
    is its own error (:class:`~edge.errors.InvitationMalformed`, ``InvitationForged``,
    ``InvitationExpired``, ``InvitationOtherArea``) so the operator is told why."""
    body, signature = _decode(text)
    key_id = body[:8].hex()
    key = trusted.get(key_id)
    if key is None:
        raise InvitationForged(
            f"the invitation is signed by key {key_id}, which this kit does not trust: "
            "a forged letter, or one from another HQ", key_id=key_id)
    try:
        key.verify(signature, _DOMAIN + body)
    except InvalidSignature:
        raise InvitationForged("the invitation's signature does not verify: the QR code "
                               "was forged or altered", key_id=key_id) from None
    # Signed by HQ from here on: a malformed field is HQ's bug, still refused cleanly.
    n = body[8]
    if len(body) != 9 + n + _TAIL.size:
        raise InvitationMalformed("the invitation QR code has the wrong length")
    code = body[9:9 + n].decode("ascii", errors="replace")
    bcd, rw, day, expiry = _TAIL.unpack(body[9 + n:])
    token = InvitationToken(
        invitation_code=code, kelurahan=_unbcd(bcd), rw=f"{rw:03d}",
        visit_date=_EPOCH + timedelta(days=day),
        expires_at=datetime.fromtimestamp(expiry, UTC), key_id=key_id,
    )
    if token.expires_at <= now:
        day = f"{token.expires_at.astimezone(WIB):%d-%m-%Y}"
        raise InvitationExpired(f"the invitation was valid until {day}", valid_until=day)
    if kelurahan is not None and token.kelurahan not in kelurahan:
        try:
            name = f"{regions.get(token.kelurahan).name} ({token.kelurahan})"
        except (InvalidInput, NotFound):
            name = token.kelurahan
        raise InvitationOtherArea(
            f"the invitation is for kelurahan {name}; this kit serves "
            f"{', '.join(kelurahan)}", kelurahan=name)
    return token
