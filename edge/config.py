"""Kit configuration (``config.json`` in the kit's home) and where that home is.

The home is ``--home DIR``, else ``$REKAM_HOME``, else ``/var/lib/rekam`` on the appliance
(where the image creates it), else a per-user data directory. Everything the kit keeps —
keys, ``kit.db``, the encrypted ``roster.db`` — lives under it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    def worklist_key_from_bundle(self) -> Path:
        """The worklist key as the bundle brought it, kept only until the first operator's
        roster key wraps it (:mod:`edge.worklist_key`)."""
        return self.keys / "worklist.key"

    @property
    def kit_db(self) -> Path:
        return self.root / "kit.db"

    @property
    def roster_db(self) -> Path:
        return self.root / "roster" / "roster.db"


# --- settings: one table, one validation -----------------------------------------------------
#
# Every setting's type and range lives here, once. ``rekam config set`` parses through it,
# the kit checks HQ's signed config with it before applying anything, and HQ checks
# ``rekam-hq push config`` with it before signing: a value one end would refuse never
# travels. A value that is out of range in ``config.json`` (hand-edited, or written by an
# older version) falls back to its default when the kit starts, and the kit says so: no
# setting can stop the kit from opening, and so from syncing with HQ for a fix.

_HAL_PAIR = r"\s*[a-z0-9_*]+\s*=\s*[a-z0-9_]+\s*"
_HAL_RE = re.compile(rf"^(sim|auto|{_HAL_PAIR}(,{_HAL_PAIR})*)$")


@dataclass(frozen=True)
class Setting:
    """What one setting accepts, and who may change it.

    ``security``: changing it at the kit needs a supervisor's or technician's PIN and is
    audited. ``local``: ``rekam config set`` may change it. ``remote``: HQ's signed config
    may change it.
    """

    name: str
    kind: type
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 200
    security: bool = False
    local: bool = True
    remote: bool = True
    meaning: str = ""

    def parse(self, text: str) -> object:
        """The typed value of ``text``; InvalidInput (one line) when it is not acceptable."""
        if not isinstance(text, str):
            raise InvalidInput(f"{self.name} takes text, not {type(text).__name__}")
        if self.kind is bool:
            word = text.strip().lower()
            if word not in ("true", "false", "yes", "no", "1", "0"):
                raise InvalidInput(f"{self.name} takes true or false, not {_shown(text)}")
            return self.check(word in ("true", "yes", "1"))
        if self.kind is int:
            try:
                number = int(text.strip())
            except ValueError:
                raise InvalidInput(
                    f"{self.name} takes a whole number, not {_shown(text)}") from None
            return self.check(number)
        return self.check(text.strip())

    def check(self, value: object) -> object:
        """``value`` if it is of the right type and in range, else InvalidInput (one line)."""
        name = self.name
        if self.kind is bool:
            if not isinstance(value, bool):
                raise InvalidInput(f"{name} takes true or false")
            return value
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"{name} takes a whole number")
            if (self.low is not None and value < self.low) or (
                    self.high is not None and value > self.high):
                raise InvalidInput(
                    f"{name} must be from {self.low} to {self.high}, not {value}"
                    + (f" ({self.meaning})" if self.meaning else ""))
            return value
        if not isinstance(value, str):
            raise InvalidInput(f"{name} takes text")
        if len(value) > self.max_length or not value.isprintable():
            raise InvalidInput(f"{name} takes at most {self.max_length} printable characters")
        if self.choices and value not in self.choices:
            raise InvalidInput(f"{name} is one of {', '.join(self.choices)}, "
                               f"not {_shown(value)}")
        if name == "broker" and value and not _valid_broker(value):
            raise InvalidInput("broker takes a URL like mqtts://hq.example:8883")
        if name == "hal" and not _HAL_RE.match(value):
            raise InvalidInput(
                "hal is sim, auto, or kind=backend pairs like camera=opencv,*=sim")
        return value


def _valid_broker(url: str) -> bool:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme in ("mqtts", "mqtt") and bool(parts.hostname)
            and parts.username is None and parts.path in ("", "/")
            and not parts.query and not parts.fragment and port != 0)


def _shown(text: str) -> str:
    """A value quoted for an error message: bounded, control characters escaped."""
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("broker", str, security=True),
    Setting("service_point", str),
    Setting("language", str, choices=("id", "en")),
    Setting("hal", str, security=True, remote=False),
    Setting("allow_simulated", bool, security=True, remote=False),
    Setting("disk_floor_mb", int, 50, 1_000_000, security=True),
    Setting("max_attempts", int, 1, 10, security=True),
    Setting("lockout_failures", int, 3, 10, security=True),
    Setting("lockout_minutes", int, 1, 1440, security=True,
            meaning="a lockout needs a duration"),
    Setting("idle_logout_minutes", int, 0, 240, security=True, meaning="0 turns it off"),
    Setting("kdf_memory_kib", int, 8192, 1_048_576, security=True, remote=False),
    Setting("kdf_iterations", int, 1, 10, security=True, remote=False),
    Setting("ack_grace_hours", int, 0, 2160, security=True),
    # Days an expired worklist's roster is kept before the kit wipes it: HQ decides.
    Setting("roster_grace_days", int, 0, 90, security=True, local=False,
            meaning="days an expired roster is kept before it is wiped"),
    Setting("finger_threshold", int, 10, 100, security=True),
    Setting("iris_threshold", int, 10, 100, security=True),
    Setting("face_threshold", int, 10, 100, security=True),
)}
"""Every setting a person or HQ may change (``device_id`` and ``kelurahan`` come only with
the provisioning bundle: they are bound to the kit's certificate and worklists)."""

REMOTE_SETTINGS: frozenset[str] = frozenset(n for n, s in SETTINGS.items() if s.remote)
SECURITY_SETTINGS: frozenset[str] = frozenset(n for n, s in SETTINGS.items() if s.security)


# Decided by HQ when it registers the kit (rekam-hq device add --training), carried in the
# signed provisioning bundle and in HQ's signed config: never a setting a person changes at
# the kit, even with a PIN.
HQ_DECIDED = frozenset({"training", "device_id", "kelurahan"})

PRODUCTION_REFUSAL = {
    "id": "kit produksi: perangkat simulasi tidak diizinkan (HQ mendaftarkan kit ini untuk "
          "perekaman sungguhan; kit latihan didaftarkan HQ dengan rekam-hq device add "
          "--training)",
    "en": "a production kit: simulated devices are not allowed (HQ registered this kit for "
          "real recordings; a training kit is registered at HQ with rekam-hq device add "
          "--training)",
}


def production_refusal(language: str) -> str:
    """Why a production kit refuses simulated devices, in one line, in ``language``."""
    return PRODUCTION_REFUSAL.get(language, PRODUCTION_REFUSAL["id"])


def hal_uses_sim(spec: str) -> bool:
    """Whether a ``hal`` spec names the simulated backend for any device."""
    parts = [p.strip() for p in spec.split(",")]
    return any(p == "sim" or p.partition("=")[2].strip() == "sim" for p in parts)


def setting(name: str) -> Setting:
    spec = SETTINGS.get(name)
    if spec is None:
        settable = ", ".join(sorted(SETTINGS))
        raise InvalidInput(f"unknown setting {_shown(name)}; settable: {settable}")
    return spec


def check_remote_settings(settings: Mapping[str, object]) -> dict[str, object]:
    """HQ's signed settings, each parsed and range-checked: the typed values, or
    InvalidInput naming the first refused one. HQ calls it before signing, the kit before
    applying."""
    out: dict[str, object] = {}
    for name in sorted(settings):
        spec = SETTINGS.get(name)
        if spec is None or not spec.remote:
            refused = sorted(k for k in settings
                             if k not in SETTINGS or not SETTINGS[k].remote)
            raise InvalidInput(f"HQ may not change {', '.join(map(_shown, refused))}")
        out[name] = spec.parse(str(settings[name]))
    return out


@dataclass(frozen=True)
class KitConfig:
    """What a technician may tune; the provisioning bundle writes the first version."""

    device_id: str
    kelurahan: list[str] = field(default_factory=list)
    broker: str = ""
    service_point: str = ""
    language: str = "id"
    # HQ registered the kit for training (from the signed bundle, then HQ's signed config):
    # only a training kit may use simulated devices. Fake biometrics must never be recorded
    # on a production kit, whatever hal or allow_simulated say.
    training: bool = False
    # Devices: "sim", "auto", or "camera=opencv,fingerprint=sbi,...". On a training kit,
    # allow_simulated lets "auto" fall back to, and hal name, simulated devices.
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
    # After its worklist expires the kit refuses search and recording at once, and wipes the
    # roster this many days later (HQ's signed config sets it; 0: at once).
    roster_grace_days: int = 7
    finger_threshold: int = 40
    iris_threshold: int = 60
    face_threshold: int = 50
    # Settings found out of range in config.json when it was loaded, each replaced by its
    # default: one line each, for rekam doctor, the sync daemon's log and HQ's report.
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def load(cls, paths: KitPaths) -> KitConfig:
        if not paths.config.exists():
            raise NotProvisioned(
                f"this kit is not provisioned (no {paths.config}); run: rekam provision BUNDLE"
            )
        data: dict[str, Any] = json.loads(paths.config.read_text())
        known = {f.name for f in fields(cls)} - {"problems"}
        values = {k: v for k, v in data.items() if k in known}
        problems: list[str] = []
        for name in sorted(values):
            spec = SETTINGS.get(name)
            if spec is None:
                continue
            try:
                spec.check(values[name])
            except InvalidInput as exc:
                del values[name]
                problems.append(f"config.json: {exc}; using the default")
        if not isinstance(values.get("training", False), bool):
            del values["training"]
            problems.append("config.json: training takes true or false; using the default "
                            "(a production kit)")
        config = cls(**values, problems=tuple(problems))
        return config.without_simulation_if_production()

    @property
    def simulation_allowed(self) -> bool:
        """Simulated devices may be opened: a training kit that allows them."""
        return self.training and self.allow_simulated

    def without_simulation_if_production(self) -> KitConfig:
        """A production kit's config with any way to simulated devices turned off (a
        config.json hand-edited, or left from before HQ decided training), saying so."""
        if self.training or not (self.allow_simulated or hal_uses_sim(self.hal)):
            return self
        off = (["allow_simulated=true"] if self.allow_simulated else []) + (
            [f"hal={self.hal}"] if hal_uses_sim(self.hal) else [])
        return replace(self, allow_simulated=False,
                       hal="auto" if hal_uses_sim(self.hal) else self.hal,
                       problems=(*self.problems, f"config.json: {', '.join(off)} ignored: a "
                                 "production kit never uses simulated devices"))

    def save(self, paths: KitPaths) -> None:
        data = asdict(self)
        del data["problems"]
        write_public(paths.config, json.dumps(data, indent=2).encode() + b"\n")

    def with_setting(self, key: str, value: str) -> KitConfig:
        """A copy with one setting changed from its text form; one-line error if invalid."""
        spec = setting(key)
        changes: dict[str, Any] = {key: spec.parse(value)}
        return replace(self, **changes)
