"""The device registry and provisioning: each kit's certificate, keys and signing identity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from edge import regions
from edge.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound
from edge.keys import (
    SealingPrivateKey,
    SealingPublicKey,
    b64,
    load_signing_public,
    signing_key_id,
    unb64,
)
from edge.provisioning import ProvisioningBundle, new_code, seal_bundle
from hq import ca
from hq.db import devices
from hq.home import HqKeys

_DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


@dataclass(frozen=True)
class Device:
    device_id: str
    kelurahan: tuple[str, ...]
    broker: str
    signing_key_id: str
    signing_public: ed25519.Ed25519PublicKey
    created_at: datetime
    worklist_version: int
    status: str
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    worklist_key: SealingPublicKey | None = None  # what its worklists are sealed to
    # Registered for training: the only kits allowed simulated devices, and whose packets HQ
    # never takes as real recordings. Decided here, at registration, never at the kit.
    training: bool = False

    def require_worklist_key(self) -> SealingPublicKey:
        if self.worklist_key is None:
            raise NotAllowed(
                f"kit {self.device_id} has not sent its worklist key yet, so HQ cannot seal "
                "a worklist to it: update the kit's software and let an operator log in; its "
                "next heartbeat (rekam sync) announces the key")
        return self.worklist_key

    @property
    def use(self) -> str:
        """``training`` or ``production``, as ``rekam-hq device list`` and ``devices`` say."""
        return "training" if self.training else "production"


def validate_device_id(device_id: str) -> str:
    if not _DEVICE_ID.fullmatch(device_id):
        raise InvalidInput(
            f"device id {device_id!r}: use 2-32 lower-case letters, digits and dashes, "
            "e.g. kit-bekasi-timur-01"
        )
    return device_id


def validate_kelurahan(codes: list[str]) -> list[str]:
    if not codes:
        raise InvalidInput("name at least one kelurahan code, e.g. --kelurahan 32.75.01.1001")
    return [regions.find(code, "kelurahan").code for code in codes]


def add_device(
    engine: Engine, keys: HqKeys, device_id: str, kelurahan: list[str], broker: str, *,
    training: bool = False,
) -> tuple[bytes, str]:
    """Register a kit and make its provisioning bundle; returns (bundle bytes, one-time code).

    ``training``: a kit for practice and demonstrations, allowed simulated devices; HQ keeps
    every packet it seals apart from real recordings. The signed bundle carries the choice,
    and a production kit (the default) refuses simulated devices whatever it is told locally.
    """
    validate_device_id(device_id)
    codes = validate_kelurahan(kelurahan)
    if broker and not broker.startswith(("mqtts://", "mqtt://")):
        raise InvalidInput("--broker takes a URL like mqtts://hq.example:8883")
    now = datetime.now(UTC)
    signing = ed25519.Ed25519PrivateKey.generate()
    # The kit's worklist key: HQ keeps only the public half; the private half goes in the
    # bundle and, on the kit, under the roster key (edge.worklist_key).
    worklist_key = SealingPrivateKey.generate()
    tls_key = ca.new_ec_key()
    cert = ca.issue(keys.ca_key, keys.ca_cert, common_name=device_id,
                    public_key=tls_key.public_key(), now=now)
    try:
        with engine.begin() as conn:
            conn.execute(insert(devices).values(
                device_id=device_id, kelurahan=",".join(codes), broker=broker,
                signing_public=b64(signing.public_key().public_bytes_raw()),
                signing_key_id=signing_key_id(signing.public_key()),
                cert_pem=ca.cert_pem(cert).decode(), created_at=now, worklist_version=0,
                status="active", worklist_key=b64(worklist_key.public().raw),
                training=training,
            ))
    except SqlIntegrityError as exc:
        raise AlreadyExists(f"device {device_id} is already registered") from exc
    bundle = ProvisioningBundle(
        device_id=device_id, kelurahan=codes, broker=broker, issued_at=now.isoformat(),
        device_signing_key=b64(signing.private_bytes_raw()),
        device_tls_key_pem=ca.key_pem(tls_key).decode(),
        device_cert_pem=ca.cert_pem(cert).decode(),
        ca_cert_pem=ca.cert_pem(keys.ca_cert).decode(),
        hq_signing_public=b64(keys.signing.public_key().public_bytes_raw()),
        hq_sealing_public=b64(keys.sealing.public().raw),
        worklist_key=b64(worklist_key.to_bytes()),
        training=training,
    )
    code = new_code()
    return seal_bundle(bundle, hq_signing_key=keys.signing, code=code), code


def _device(row: object) -> Device:
    r = row._mapping  # type: ignore[attr-defined]
    created = r["created_at"]
    if created.tzinfo is None:  # SQLite drops the zone
        created = created.replace(tzinfo=UTC)
    return Device(
        device_id=r["device_id"], kelurahan=tuple(r["kelurahan"].split(",")),
        broker=r["broker"], signing_key_id=r["signing_key_id"],
        signing_public=load_signing_public(unb64(r["signing_public"], "device key")),
        created_at=created, worklist_version=r["worklist_version"], status=r["status"],
        revoked_at=None if r["revoked_at"] is None else (
            r["revoked_at"] if r["revoked_at"].tzinfo else r["revoked_at"].replace(tzinfo=UTC)),
        revoke_reason=r["revoke_reason"], training=bool(r["training"]),
        worklist_key=None if r["worklist_key"] is None else SealingPublicKey(
            unb64(r["worklist_key"], "worklist key")),
    )


def get_device(engine: Engine, device_id: str) -> Device:
    with engine.connect() as conn:
        return get_device_in(conn, device_id)


def get_device_in(conn: Connection, device_id: str) -> Device:
    """:func:`get_device` in the caller's transaction."""
    row = conn.execute(select(devices).where(devices.c.device_id == device_id)).first()
    if row is None:
        raise NotFound(f"device {device_id!r} is not registered; see: rekam-hq device list")
    return _device(row)


def list_devices(engine: Engine) -> list[Device]:
    with engine.connect() as conn:
        return [_device(r) for r in conn.execute(select(devices).order_by(devices.c.device_id))]


def next_worklist_version(engine: Engine, device_id: str) -> int:
    with engine.begin() as conn:
        row = conn.execute(
            select(devices.c.worklist_version).where(devices.c.device_id == device_id)
        ).first()
        if row is None:
            raise NotFound(f"device {device_id!r} is not registered")
        version = int(row[0]) + 1
        conn.execute(update(devices).where(devices.c.device_id == device_id)
                     .values(worklist_version=version))
    return version


def adopt_worklist_key(engine: Engine, device_id: str, announced: SealingPublicKey) -> str:
    """A key announced in a kit's signed heartbeat: taken when HQ holds none for the kit
    (a kit provisioned before worklists were sealed), never in place of one it holds (the
    device key that signed it may be in a thief's hands). Returns "adopted", "same" or
    "refused"."""
    value = b64(announced.raw)
    with engine.begin() as conn:
        taken = conn.execute(update(devices).where(devices.c.device_id == device_id,
                                                   devices.c.worklist_key.is_(None))
                             .values(worklist_key=value)).rowcount
        if taken:
            return "adopted"
        held = conn.execute(select(devices.c.worklist_key)
                            .where(devices.c.device_id == device_id)).scalar()
    return "same" if held == value else "refused"
