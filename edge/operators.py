"""Operators, their PINs, and the roster key.

The roster key
--------------
The resident roster (names, NIK, addresses) is encrypted under one random 32-byte **roster
key**, made when the first operator is added. The key is never stored in the clear. Each
operator's row holds it *wrapped*:

    KEK     = Argon2id(PIN, salt = 16 random bytes, params stored in the row) -> 32 bytes
    wrapped = ChaCha20Poly1305(KEK).encrypt(nonce = 12 random bytes, roster key,
                                            associated data = "rekam/roster-key/v1" NUL id)

The PIN itself is stored nowhere: a PIN is correct when it unwraps. The operator id in the
associated data means a row's wrap cannot be copied onto another operator's row. The Argon2
parameters are stored per row, so changing the defaults later keeps old PINs working (a PIN
change rewraps under the current defaults). The ``roster_key`` table keeps only a SHA-256
check value of the key, so a login that unwraps a foreign key (a row copied from another kit)
and a :class:`Session` that was not made by a login are both refused.

What a PIN is worth
-------------------
A 6-digit PIN is only a million guesses. On the kit, :class:`LockoutPolicy` stops guessing at
the keypad. But anyone who copies ``kit.db`` can try every PIN offline: at the default
64 MiB x 3 passes (about 0.25 s per guess on one core) that is days on one machine, and less on
many. So the wrap keeps a stolen kit's roster from a casual thief, not from a determined one:
keep the roster to what the kit's schedule needs, and report a lost kit as a data loss.
Longer PINs (up to 12 digits) raise the cost tenfold per digit.

The rules for operator ids, names, roles and PINs are here too; the operators themselves are
kept, logged in and locked out by :class:`~edge.operator_store.OperatorStore`. A rule broken
raises :class:`~edge.errors.InvalidInput`, whose message never contains a PIN.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from edge.errors import InvalidInput

ROSTER_KEY_BYTES = 32
SALT_BYTES = 16

OPERATOR_ID_RE = re.compile(r"[a-z0-9._-]{2,32}")
_PIN_RE = re.compile(r"[0-9]{6,12}")
_AAD_PREFIX = b"rekam/roster-key/v1\x00"
_CHECK_PREFIX = b"rekam/roster-key-check/v1\x00"


class Role(StrEnum):
    OPERATOR = "operator"
    """Records residents."""
    SUPERVISOR = "supervisor"
    """Also approves exceptions (a missing finger) and manages operators."""
    TECHNICIAN = "technician"
    """Also manages operators; sets the kit up."""


ADMIN_ROLES: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.TECHNICIAN})
"""Roles that may add, disable and unlock operators."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The default (64 MiB, 3 passes, 1 lane) takes ~0.25 s on a Pi 4 core.

    ``KdfParams.FAST_FOR_TESTS`` (8 MiB, 1 pass) is for tests only: never on a kit.
    """

    memory_kib: int = 65536
    iterations: int = 3
    lanes: int = 1

    FAST_FOR_TESTS: ClassVar[KdfParams]

    def __post_init__(self) -> None:
        if self.lanes < 1 or self.iterations < 1 or self.memory_kib < 8 * self.lanes:
            raise InvalidInput(
                f"Argon2id parameters out of range: memory {self.memory_kib} KiB, "
                f"{self.iterations} passes, {self.lanes} lanes"
            )


KdfParams.FAST_FOR_TESTS = KdfParams(memory_kib=8192, iterations=1)


@dataclass(frozen=True)
class LockoutPolicy:
    """``max_failures`` wrong PINs in a row lock the operator out for ``duration``."""

    max_failures: int = 5
    duration: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.duration <= timedelta(0):
            raise InvalidInput("a lockout needs at least 1 failure and a positive duration")


@dataclass(frozen=True)
class Operator:
    """One person who may use the kit.

    ``failures`` counts wrong PINs since the last good one; a lockout that has run out starts
    the count again at the next attempt.
    """

    id: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    failures: int
    locked_until: datetime | None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class Session:
    """A logged-in operator and the roster key their PIN unwrapped (hidden from ``repr``)."""

    operator: Operator
    roster_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.roster_key) != ROSTER_KEY_BYTES:
            raise InvalidInput(f"a roster key is {ROSTER_KEY_BYTES} bytes")


# --- policies -----------------------------------------------------------------------------


def check_operator_id(operator_id: str) -> str:
    """2-32 characters from a-z, 0-9, ``.``, ``_``, ``-``; returns it or raises InvalidInput."""
    if not isinstance(operator_id, str) or not OPERATOR_ID_RE.fullmatch(operator_id):
        raise InvalidInput(
            "an operator id is 2-32 characters: lowercase letters, digits, '.', '_' or '-'"
        )
    return operator_id


def check_pin(pin: str) -> None:
    """6-12 digits, not all the same digit, not a straight run up or down (123456, 654321,
    also wrapping round: 890123). Raises InvalidInput; the message never repeats the PIN."""
    if not isinstance(pin, str) or not _PIN_RE.fullmatch(pin):
        raise InvalidInput("a PIN is 6 to 12 digits")
    if len(set(pin)) == 1:
        raise InvalidInput("a PIN may not repeat one digit; choose one that is hard to guess")
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    if steps in ({1}, {9}):
        raise InvalidInput("a PIN may not be a run of digits counting up or down")


def check_operator_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 80 or not name.isprintable():
        raise InvalidInput("an operator's name is 1 to 80 printable characters")
    return name


def check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}"
        ) from None


# --- the wrap -----------------------------------------------------------------------------


def derive_kek(pin: str, salt: bytes, params: KdfParams) -> bytes:
    """The key that wraps the roster key for one operator: Argon2id of their PIN."""
    kdf = Argon2id(salt=salt, length=32, iterations=params.iterations, lanes=params.lanes,
                   memory_cost=params.memory_kib)
    return kdf.derive(pin.encode("utf-8"))


def _aad(operator_id: str) -> bytes:
    return _AAD_PREFIX + operator_id.encode("utf-8")


def wrap_roster_key(kek: bytes, roster_key: bytes, operator_id: str) -> tuple[bytes, bytes]:
    """(nonce, wrapped key) for the operator's row."""
    nonce = os.urandom(12)
    return nonce, ChaCha20Poly1305(kek).encrypt(nonce, roster_key, _aad(operator_id))


def unwrap_roster_key(kek: bytes, nonce: bytes, wrapped: bytes,
                      operator_id: str) -> bytes | None:
    """The roster key, or None when the PIN (hence the KEK) is wrong or the row was copied
    from another operator."""
    try:
        return ChaCha20Poly1305(kek).decrypt(nonce, wrapped, _aad(operator_id))
    except InvalidTag:
        return None


def roster_key_check(roster_key: bytes) -> str:
    """The check value the ``roster_key`` table keeps instead of the key."""
    return hashlib.sha256(_CHECK_PREFIX + roster_key).hexdigest()
