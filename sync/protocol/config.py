"""HQ's signed settings on ``down/config`` (``sync/PROTOCOL.md``, "Config"): which settings
HQ may change remotely, building the message at HQ and verifying it at the kit, both
through the one validation of :mod:`edge.config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge import config as config_settings
from edge.canonical import canonical_json
from edge.clock import wib
from edge.errors import DocumentRejected, InvalidInput, RekamError
from edge.signing import sign_document
from sync.errors import ProtocolError
from sync.protocol.documents import _body, _for_device, _time

CONFIG_KIND = "config"

# Settings HQ may change remotely: edge.config.SETTINGS says which, and their ranges. Never:
# device_id, kelurahan (bound to the certificate and worklists), hal/allow_simulated
# (simulated biometrics must never be enabled from afar), or the PIN hashing cost (it only
# applies to new PINs and is a local security decision). Beside the settings, HQ states
# whether the kit is registered for training (its devices table): not a setting anyone
# pushes, but HQ's decision restated in every config, so a production kit stays one.
REMOTE_SETTINGS = config_settings.REMOTE_SETTINGS


@dataclass(frozen=True)
class ConfigUpdate:
    device_id: str
    version: int
    issued_at: datetime
    expires_at: datetime
    settings: dict[str, str]
    training: bool | None = None  # HQ's registration of the kit; None: not stated

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "device_id": self.device_id, "version": self.version,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(), "settings": dict(self.settings)}
        if self.training is not None:
            body["training"] = self.training
        return body


def _check_settings(settings: Mapping[str, object]) -> dict[str, str]:
    """Only settings HQ may change, each in range (the one validation of edge.config, run
    by HQ before signing and by the kit before applying)."""
    if "training" in settings:
        raise DocumentRejected("config refused: training is decided when HQ registers the kit "
                               "(rekam-hq device add --training), not pushed as a setting")
    try:
        config_settings.check_remote_settings(settings)
    except InvalidInput as exc:
        raise DocumentRejected(f"config refused: {exc}") from None
    return {str(k): str(v) for k, v in settings.items()}


def build_config(update: ConfigUpdate, key: ed25519.Ed25519PrivateKey) -> bytes:
    _check_settings(update.settings)
    return sign_document(CONFIG_KIND, canonical_json(update.to_body()), key)


def verify_config(data: bytes, *, trusted: Mapping[str, ed25519.Ed25519PublicKey],
                  device_id: str, current_version: int, now: datetime) -> ConfigUpdate:
    """Signature, device, a version newer than ``current_version``, not expired, and only
    settings in :data:`REMOTE_SETTINGS`; raises before anything is changed."""
    body = _body(data, kind=CONFIG_KIND, trusted=trusted)
    _for_device(body, device_id, "config")
    try:
        settings = body["settings"]
        if not isinstance(settings, dict):
            raise TypeError("settings is not an object")
        training = body.get("training")
        if training is not None and not isinstance(training, bool):
            raise ValueError("training is not true or false")
        update = ConfigUpdate(device_id=device_id, version=int(body["version"]),
                              issued_at=_time(body["issued_at"], "config issued_at"),
                              expires_at=_time(body["expires_at"], "config expires_at"),
                              settings=_check_settings(settings), training=training)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, RekamError):
            raise
        raise ProtocolError(f"config body is malformed: {exc}") from None
    if update.version <= current_version:
        raise DocumentRejected(f"config version {update.version} is not newer than "
                               f"version {current_version}")
    if update.expires_at <= now:
        raise DocumentRejected(f"config expired on {wib(update.expires_at)}")
    return update


__all__ = ["REMOTE_SETTINGS", "ConfigUpdate", "build_config", "verify_config"]
