"""Key material: generation, serialisation, key ids and private files kept at 0600.

Key ids are the first 16 hex digits of SHA-256 over the raw public key, so HQ can rotate
keys and a packet can name the key it was sealed to (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from edge.errors import InvalidInput

_MLKEM768_PUBLIC_LEN = 1184
_MLKEM_SEED_LEN = 64


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidInput(f"{what} is not valid base64") from exc


# --- Ed25519 signing keys --------------------------------------------------------------


def signing_public_raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes_raw()


def signing_key_id(key: ed25519.Ed25519PublicKey) -> str:
    return key_id(key.public_bytes_raw())


def load_signing_private(raw: bytes) -> ed25519.Ed25519PrivateKey:
    if len(raw) != 32:
        raise InvalidInput("an Ed25519 private key is 32 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw)


def load_signing_public(raw: bytes) -> ed25519.Ed25519PublicKey:
    if len(raw) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


# --- sealing keys: ML-KEM-768 + X25519 hybrid -------------------------------------------

#: The HPKE suite every sealed thing uses: packets (to HQ's key) and worklists (to a kit's).
SUITE_NAME = "MLKEM768X25519/HKDF-SHA256/CHACHA20POLY1305"
SEALING_SUITE = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)


@dataclass(frozen=True)
class SealingPrivateKey:
    """A hybrid sealing key: HQ's (lives only at HQ, the vault; kits hold the public half),
    or a kit's worklist key (wrapped under the roster key on the kit; HQ holds the public
    half)."""

    mlkem_seed: bytes
    x25519_raw: bytes

    def __repr__(self) -> str:
        return "SealingPrivateKey(<secret>)"

    @classmethod
    def generate(cls) -> SealingPrivateKey:
        seed = os.urandom(_MLKEM_SEED_LEN)
        x = x25519.X25519PrivateKey.generate()
        return cls(seed, x.private_bytes_raw())

    def to_hpke(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed),
            x25519.X25519PrivateKey.from_private_bytes(self.x25519_raw),
        )

    def public(self) -> SealingPublicKey:
        m = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed).public_key()
        x = x25519.X25519PrivateKey.from_private_bytes(self.x25519_raw).public_key()
        return SealingPublicKey(m.public_bytes_raw() + x.public_bytes_raw())

    def to_bytes(self) -> bytes:
        return self.mlkem_seed + self.x25519_raw

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealingPrivateKey:
        if len(raw) != _MLKEM_SEED_LEN + 32:
            raise InvalidInput("a sealing private key is 96 bytes")
        return cls(raw[:_MLKEM_SEED_LEN], raw[_MLKEM_SEED_LEN:])


@dataclass(frozen=True)
class SealingPublicKey:
    raw: bytes  # ML-KEM-768 public key (1184 bytes) followed by X25519 public key (32 bytes)

    def __post_init__(self) -> None:
        if len(self.raw) != _MLKEM768_PUBLIC_LEN + 32:
            raise InvalidInput("a sealing public key is 1216 bytes")

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    def to_hpke(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:_MLKEM768_PUBLIC_LEN]),
            x25519.X25519PublicKey.from_public_bytes(self.raw[_MLKEM768_PUBLIC_LEN:]),
        )


# --- private files ----------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file with ``mode`` set before any byte, then rename: a reader
    sees the old file or the new one, never half of one, and a secret is never readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes) -> None:
    """A secret: mode 0600 from the first byte."""
    _write_atomic(path, data, 0o600)


def write_public(path: Path, data: bytes) -> None:
    _write_atomic(path, data, 0o644)


def read_private(path: Path) -> bytes:
    """Read a secret, refusing one that others can read: a loose key is a leaked key."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise InvalidInput(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    return path.read_bytes()


def shred(path: Path) -> None:
    """Overwrite a file with random bytes, then delete it: what the file system held is
    gone (an SD card's controller may keep old blocks; a kit has no swap and no backups)."""
    if not path.exists():
        return
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        while size > 0:
            step = min(size, 1 << 20)
            fh.write(os.urandom(step))
            size -= step
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
