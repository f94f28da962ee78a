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
    for _ in range(8):
        n, r = divmod(n, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return "".join(chars[:4]) + "-" + "".join(chars[4:])
