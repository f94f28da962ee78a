"""Invitation codes: short, typeable codes printed on each resident's invitation letter.

A code is derived from the resident's NIK under HQ's invitation secret (HMAC-SHA256), so the
letter printed today and the worklist sent next week agree without storing a table, and
nobody without the secret can mint a valid code for a NIK.
"""

from __future__ import annotations

import hashlib
import hmac

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def invitation_code(secret: bytes, nik: str) -> str:
    digest = hmac.new(secret, b"rekam-invitation:" + nik.encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):  # ~50 bits: two of 100,000 residents share a code ~1 in 160,000
        n, r = divmod(n, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return "".join(chars[:5]) + "-" + "".join(chars[5:])
