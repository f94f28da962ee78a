"""Kit configuration (``config.json`` in the kit's home) and where that home is.

The home is ``--home DIR``, else ``$REKAM_HOME``, else ``/var/lib/rekam`` on the appliance
(where the image creates it), else a per-user data directory. Everything the kit keeps —
keys, ``kit.db``, the encrypted ``roster.db`` — lives under it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edge.errors import InvalidInput, NotProvisioned
from edge.keys import write_public

APPLIANCE_HOME = Path("/var/lib/rekam")


def default_home(env_var: str, appliance: Path, app: str) -> Path:
    if os.environ.get(env_var):
        return Path(os.environ[env_var])
    if appliance.is_dir() and os.access(appliance, os.W_OK):
        return appliance
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / app


@dataclass(frozen=True)
class KitPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def device_signing_key(self) -> Path:
        return self.keys / "device-signing.key"

    @property
    def device_tls_key(self) -> Path:
        return self.keys / "device-tls.key"

    @property
    def device_cert(self) -> Path:
        return self.keys / "device.crt"

    @property
    def ca_cert(self) -> Path:
        return self.keys / "hq-ca.crt"

    @property
    def hq_signing_public(self) -> Path:
        return self.keys / "hq-signing.pub"

    @property
    def hq_sealing_public(self) -> Path:
        return self.keys / "hq-sealing.pub"

    @property
    def kit_db(self) -> Path:
        return self.root / "kit.db"

    @property
    def roster_db(self) -> Path:
        return self.root / "roster" / "roster.db"


@dataclass(frozen=True)
class KitConfig:
    """What a technician may tune; the provisioning bundle writes the first version."""

    device_id: str
    kelurahan: list[str] = field(default_factory=list)
    broker: str = ""
    service_point: str = ""
    language: str = "id"
    # Devices: "sim", "auto", or "camera=opencv,fingerprint=sbi,...". A production kit
    # refuses simulated devices unless allow_simulated is set: fake biometrics must never
    # reach HQ silently.
    hal: str = "auto"
    allow_simulated: bool = False
    disk_floor_mb: int = 200
    max_attempts: int = 3
    lockout_failures: int = 5
    lockout_minutes: int = 5
    # An unattended kit in a public hall logs its operator out (0: never); a recording in
    # progress is cancelled, so no biometrics wait in memory for the next passer-by.
    idle_logout_minutes: int = 10
    kdf_memory_kib: int = 65536
    kdf_iterations: int = 3
    ack_grace_hours: int = 24
    finger_threshold: int = 40
    iris_threshold: int = 60
    face_threshold: int = 50

    @classmethod
    def load(cls, paths: KitPaths) -> KitConfig:
        if not paths.config.exists():
            raise NotProvisioned(
                f"this kit is not provisioned (no {paths.config}); run: rekam provision BUNDLE"
            )
        data: dict[str, Any] = json.loads(paths.config.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, paths: KitPaths) -> None:
        write_public(paths.config, json.dumps(asdict(self), indent=2).encode() + b"\n")

    def with_setting(self, key: str, value: str) -> KitConfig:
        """A copy with one setting changed from its text form; one-line error if invalid."""
        types = {f.name: f.type for f in fields(self)}
        if key not in types or key == "device_id":
            settable = ", ".join(sorted(k for k in types if k != "device_id"))
            raise InvalidInput(f"unknown setting {key!r}; settable: {settable}")
        kind = types[key]
        converted: object
        if kind in ("int", int):
            try:
                converted = int(value)
            except ValueError as exc:
                raise InvalidInput(f"{key} takes a whole number, not {value!r}") from exc
        elif kind in ("bool", bool):
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise InvalidInput(f"{key} takes true or false, not {value!r}")
            converted = value.lower() in ("true", "yes", "1")
        elif key == "kelurahan":
            converted = [v.strip() for v in value.split(",") if v.strip()]
        else:
            converted = value
        if key == "broker" and value and not value.startswith(("mqtts://", "mqtt://")):
            raise InvalidInput("broker takes a URL like mqtts://hq.example:8883")
        if key == "language" and value not in ("id", "en"):
            raise InvalidInput("language is id or en")
        changes: dict[str, Any] = {key: converted}
        return replace(self, **changes)
