"""The kit's worklist key: the hybrid key HQ seals worklists to (:mod:`edge.worklist`).

Its private half is never at rest in the clear: ``kit.db`` keeps it wrapped under a key
derived from the roster key, which only an operator's PIN unwraps (:mod:`edge.operators`)::

    wrap key = HKDF-SHA256(roster key, salt = none, info = "rekam/worklist-key-wrap/v1")
    wrapped  = ChaCha20Poly1305(wrap key).encrypt(nonce = 12 random bytes, private key (96
               bytes), associated data = "rekam/worklist-key/v1" NUL public key (1216 bytes))

So the sync daemon, which holds no PIN, can keep a sealed worklist but never open it, and a
stolen kit's disk yields no resident. The public half is in the clear (``kit.db``), and
every heartbeat announces it, signed by the device key.

Where the key comes from: HQ makes it when it registers the kit and puts it in the
provisioning bundle (HQ keeps the public half); ``rekam provision`` writes it to
``keys/worklist.key`` (0600) and the first operator's roster key wraps it and deletes the
file, in the same transaction that creates the roster key (``rekam firstboot`` does both at
once). A kit provisioned before worklists were sealed (its bundle had no worklist key)
makes its own at the first login after the upgrade, and announces it in its heartbeat;
HQ takes an announced key only for a kit it holds none for.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.errors import IntegrityError, NotFound
from edge.keys import SealingPrivateKey, SealingPublicKey, read_private, shred

_WRAP_INFO = b"rekam/worklist-key-wrap/v1"
_AAD_PREFIX = b"rekam/worklist-key/v1\x00"


def _wrap_key(roster_key: bytes) -> ChaCha20Poly1305:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_WRAP_INFO)
    return ChaCha20Poly1305(kdf.derive(roster_key))


class WorklistKeyStore:
    """The ``worklist_key`` table of ``kit.db`` (one row), and the bundle's key file until
    it is wrapped."""

    def __init__(self, conn: sqlite3.Connection, from_bundle: Path) -> None:
        self._conn = conn
        self._from_bundle = from_bundle

    def ensure_schema(self) -> None:
        self._conn.execute(
            """CREATE TABLE IF NOT EXISTS worklist_key (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                public BLOB NOT NULL,
                nonce BLOB NOT NULL,
                wrapped BLOB NOT NULL,
                created_at TEXT NOT NULL
            )"""
        )

    def _row(self) -> tuple[bytes, bytes, bytes] | None:
        row = self._conn.execute(
            "SELECT public, nonce, wrapped FROM worklist_key WHERE id = 1").fetchone()
        return None if row is None else (bytes(row[0]), bytes(row[1]), bytes(row[2]))

    def _bundle_key(self) -> SealingPrivateKey | None:
        if not self._from_bundle.exists():
            return None
        return SealingPrivateKey.from_bytes(read_private(self._from_bundle))

    def public(self) -> SealingPublicKey | None:
        """The key HQ must seal to: the bundle's until it is wrapped, then the wrapped one."""
        waiting = self._bundle_key()
        if waiting is not None:
            return waiting.public()
        row = self._row()
        return None if row is None else SealingPublicKey(row[0])

    def unwrap(self, roster_key: bytes) -> SealingPrivateKey:
        row = self._row()
        if row is None:
            raise NotFound("this kit has no worklist key yet; log in once to make it")
        public, nonce, wrapped = row
        try:
            raw = _wrap_key(roster_key).decrypt(nonce, wrapped, _AAD_PREFIX + public)
        except InvalidTag:
            raise IntegrityError("the worklist key does not unwrap with this roster key "
                                 "(kit.db was altered)") from None
        return SealingPrivateKey.from_bytes(raw)

    def settle(self, roster_key: bytes, now: datetime) -> bool:
        """With the roster key in hand: wrap the bundle's key (and delete its file), or make
        a key when the kit has none (a kit provisioned before worklists were sealed).
        Returns whether the key changed. Call inside the caller's transaction."""
        key = self._bundle_key()
        if key is None:
            if self._row() is not None:
                return False
            key = SealingPrivateKey.generate()
        public = key.public().raw
        nonce = os.urandom(12)
        wrapped = _wrap_key(roster_key).encrypt(nonce, key.to_bytes(), _AAD_PREFIX + public)
        self._conn.execute(
            "INSERT OR REPLACE INTO worklist_key (id, public, nonce, wrapped, created_at) "
            "VALUES (1, ?, ?, ?, ?)", (public, nonce, wrapped, now.isoformat()))
        return True

    def forget_bundle_key(self) -> None:
        """Delete the bundle's clear copy once its wrap is committed (overwritten first:
        the SD card may keep the old blocks, but not through the file system)."""
        shred(self._from_bundle)
