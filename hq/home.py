"""HQ's home directory: its keys (0600), its configuration and, by default, its SQLite file.

``--home DIR``, else ``$REKAM_HQ_HOME``, else ``/var/lib/rekam-hq`` when installed, else a
per-user data directory. ``config.json`` may name ``database_url`` (PostgreSQL in
production: ``postgresql+psycopg://user@host/rekam``); the default is ``hq.db`` here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from edge.config import default_home
from edge.errors import AlreadyExists, NotProvisioned
from edge.keys import (
    SealingPrivateKey,
    load_signing_private,
    read_private,
    signing_key_id,
    write_private,
    write_public,
)
from hq import ca

APPLIANCE_HOME = Path("/var/lib/rekam-hq")


def hq_default_home() -> Path:
    return default_home("REKAM_HQ_HOME", APPLIANCE_HOME, "rekam-hq")


@dataclass(frozen=True)
class HqKeys:
    sealing: SealingPrivateKey
    signing: ed25519.Ed25519PrivateKey
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    invitation_secret: bytes

    @property
    def signing_key_id(self) -> str:
        return signing_key_id(self.signing.public_key())

    @property
    def sealing_key_id(self) -> str:
        return self.sealing.public().key_id

    @property
    def sealing_key_ids(self) -> frozenset[str]:
        """Every key id HQ can open packets sealed to (ingest acks nothing else)."""
        return frozenset({self.sealing_key_id})


class HqHome:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys_dir = root / "keys"

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def _key(self, name: str) -> Path:
        return self.keys_dir / name

    @property
    def ca_cert_path(self) -> Path:
        return self._key("ca.crt")

    def initialised(self) -> bool:
        return self._key("hq-signing.key").exists()

    def init(self, *, force: bool = False) -> HqKeys:
        if self.initialised() and not force:
            raise AlreadyExists(
                f"HQ keys already exist in {self.keys_dir}; replacing them would orphan every "
                "kit and every sealed packet"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.keys_dir.mkdir(exist_ok=True)
        self.keys_dir.chmod(0o700)
        now = datetime.now(UTC)
        sealing = SealingPrivateKey.generate()
        signing = ed25519.Ed25519PrivateKey.generate()
        ca_key = ca.new_ec_key()
        ca_cert = ca.make_ca(ca_key, now)
        secret = os.urandom(32)
        write_private(self._key("hq-sealing.key"), sealing.to_bytes())
        write_private(self._key("hq-signing.key"), signing.private_bytes_raw())
        write_private(self._key("ca.key"), ca.key_pem(ca_key))
        write_private(self._key("invitation.key"), secret)
        write_public(self.ca_cert_path, ca.cert_pem(ca_cert))
        write_public(self._key("hq-sealing.pub"), sealing.public().raw)
        write_public(self._key("hq-signing.pub"), signing.public_key().public_bytes_raw())
        if not self.config_path.exists():
            self.save_config({"database_url": ""})
        return HqKeys(sealing, signing, ca_key, ca_cert, secret)

    def keys(self) -> HqKeys:
        if not self.initialised():
            raise NotProvisioned(f"no HQ keys in {self.keys_dir}; run: rekam-hq init")
        ca_key = serialization.load_pem_private_key(read_private(self._key("ca.key")), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        return HqKeys(
            sealing=SealingPrivateKey.from_bytes(read_private(self._key("hq-sealing.key"))),
            signing=load_signing_private(read_private(self._key("hq-signing.key"))),
            ca_key=ca_key,
            ca_cert=x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes()),
            invitation_secret=read_private(self._key("invitation.key")),
        )

    def config(self) -> dict[str, Any]:
        if not self.config_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.config_path.read_text())
        return data

    def save_config(self, data: dict[str, Any]) -> None:
        write_public(self.config_path, json.dumps(data, indent=2).encode() + b"\n")

    def database_url(self) -> str:
        url = os.environ.get("REKAM_HQ_DATABASE_URL") or self.config().get("database_url")
        return str(url) if url else f"sqlite:///{self.root / 'hq.db'}"
