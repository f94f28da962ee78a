"""The kit's use cases: provisioning, logging in, search, settings, enrolment, status.

:class:`Kit` wires the kit's stores together over one home directory. It is what the CLI,
the UI and the sync daemon call; devices come in from outside (``rekam.bootstrap``), so the
core never chooses a backend itself. The roster's life (opening it, importing and staging
worklists, expiry and wipe) is :class:`edge.kit_roster.KitRoster`, which ``Kit`` inherits.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import uuid6
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge import __version__
from edge.audit import AuditLog
from edge.clock import Clock, utc_now
from edge.config import (
    HQ_DECIDED,
    KitConfig,
    KitPaths,
    hal_uses_sim,
    production_refusal,
    setting,
)
from edge.errors import (
    AlreadyEnrolled,
    AlreadyExists,
    InsufficientDisk,
    InvitationNotOnRoster,
    InvitationRefused,
    NotAllowed,
    NotFound,
    NotProvisioned,
)
from edge.invitation_token import InvitationToken, looks_like_token, verify_token
from edge.keys import (
    SealingPrivateKey,
    SealingPublicKey,
    key_id,
    load_signing_private,
    load_signing_public,
    read_private,
    signing_key_id,
    unb64,
    write_private,
    write_public,
)
from edge.kit_roster import (
    ROSTER_COUNT,
    ROSTER_EXPIRES,
    ROSTER_IMPORTED,
    ROSTER_VERSION,
    KitRoster,
)
from edge.kitdb import StateTable, connect
from edge.operator_store import OperatorStore
from edge.operators import (
    ADMIN_ROLES,
    KdfParams,
    LockoutPolicy,
    Role,
    Session,
)
from edge.outbox import Outbox, OutboxEntry
from edge.packet import SealedPacket, seal
from edge.provisioning import ProvisioningBundle
from edge.roster import RosterStore, SearchHit
from edge.workflow import CaptureDevices, Enrolment, Thresholds
from edge.worklist_key import WorklistKeyStore


@dataclass(frozen=True)
class KitStatus:
    device_id: str
    software_version: str
    device_key_id: str
    hq_signing_key_id: str
    hq_sealing_key_id: str
    roster_version: int | None
    roster_size: int
    roster_imported_at: str | None
    roster_expires_at: str | None
    outbox: dict[str, int]
    oldest_unsent: str | None
    free_disk_mb: int
    disk_floor_mb: int
    operators: int
    audit_entries: int
    broker: str

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def install_bundle(paths: KitPaths, bundle: ProvisioningBundle, *, force: bool = False) -> None:
    """Write the bundle's keys (0600) and the first config. Refuses to overwrite a provisioned
    kit that still holds packets HQ has not acknowledged (they are signed by the old key)."""
    if paths.config.exists():
        if not force:
            raise AlreadyExists(
                f"this kit is already provisioned as {KitConfig.load(paths).device_id}; "
                "use --force to replace it"
            )
        if paths.kit_db.exists():
            conn = connect(paths.kit_db)
            try:
                outbox = Outbox(conn)
                outbox.ensure_schema()
                counts = outbox.counts()
            finally:
                conn.close()
            if counts.waiting:
                raise NotAllowed(
                    f"{counts.waiting} packets are not yet acknowledged by "
                    "HQ; sync them before re-provisioning"
                )
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o700)
    paths.keys.mkdir(exist_ok=True)
    paths.keys.chmod(0o700)
    write_private(paths.device_signing_key, unb64(bundle.device_signing_key, "device key"))
    write_private(paths.device_tls_key, bundle.device_tls_key_pem.encode())
    write_public(paths.device_cert, bundle.device_cert_pem.encode())
    write_public(paths.ca_cert, bundle.ca_cert_pem.encode())
    write_public(paths.hq_signing_public, unb64(bundle.hq_signing_public, "HQ signing key"))
    write_public(paths.hq_sealing_public, unb64(bundle.hq_sealing_public, "HQ sealing key"))
    if bundle.worklist_key:  # wrapped under the roster key by the first operator (or login)
        write_private(paths.worklist_key_from_bundle,
                      SealingPrivateKey.from_bytes(unb64(bundle.worklist_key,
                                                         "worklist key")).to_bytes())
    # A production bundle wins over whatever the kit held before (--force): training, and
    # with it any way to simulated devices, comes only from HQ.
    KitConfig(device_id=bundle.device_id, kelurahan=list(bundle.kelurahan),
              broker=bundle.broker, training=bundle.training,
              allow_simulated=bundle.training).save(paths)


class Kit(KitRoster):
    def __init__(self, home: Path, *, clock: Clock = utc_now,
                 kdf: KdfParams | None = None) -> None:
        self.paths = KitPaths(home)
        self.config = KitConfig.load(self.paths)
        self.clock = clock
        self.conn = connect(self.paths.kit_db)
        self.state = StateTable(self.conn)
        self.audit = AuditLog(self.conn, clock=clock)
        self.outbox = Outbox(self.conn, clock=clock)
        self.worklist_keys = WorklistKeyStore(self.conn, self.paths.worklist_key_from_bundle)
        for table in (self.state, self.audit, self.outbox, self.worklist_keys):
            table.ensure_schema()
        self.operators = OperatorStore(
            self.conn, self.audit,
            kdf=kdf or KdfParams(memory_kib=self.config.kdf_memory_kib,
                                 iterations=self.config.kdf_iterations),
            lockout=LockoutPolicy(max_failures=self.config.lockout_failures,
                                  duration=timedelta(minutes=self.config.lockout_minutes)),
            clock=clock, on_first_roster_key=self._settle_worklist_key,
        )
        self.operators.ensure_schema()
        self._device_key: ed25519.Ed25519PrivateKey | None = None
        self._roster_lock = threading.RLock()
        self._roster_store = None
        self._roster_key = None
        self._shred_unsealed_pending()
        self.wipe_roster_if_due()

    def close(self) -> None:
        with self._roster_lock:
            self._close_roster()
        self.conn.close()

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- keys -------------------------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.config.device_id

    def device_key(self) -> ed25519.Ed25519PrivateKey:
        if self._device_key is None:
            self._device_key = load_signing_private(read_private(self.paths.device_signing_key))
        return self._device_key

    def hq_signing_key(self) -> ed25519.Ed25519PublicKey:
        return load_signing_public(self.paths.hq_signing_public.read_bytes())

    def hq_sealing_key(self) -> SealingPublicKey:
        return SealingPublicKey(self.paths.hq_sealing_public.read_bytes())

    def trusted_hq_keys(self) -> dict[str, ed25519.Ed25519PublicKey]:
        key = self.hq_signing_key()
        return {signing_key_id(key): key}

    # --- logging in, searching the roster --------------------------------------------------

    def login(self, operator_id: str, pin: str) -> Session:
        session = self.operators.authenticate(operator_id, pin)
        self._settle_worklist_key(session.roster_key, session.operator.id)
        return session

    def search(self, session: Session, query: str, *, rw: str | None = None,
               rt: str | None = None, limit: int = 20) -> list[SearchHit]:
        """Search the roster; a scanned invitation QR code (``REKAM1:...``) is verified and
        answers with exactly its resident, whatever the RW/RT filter, or is refused. Refused
        once the worklist has expired (:meth:`require_current_roster`)."""
        self.require_current_roster()
        if looks_like_token(query):
            return [self.find_invitation(session, query)[1]]
        with self.roster(session) as store:
            return store.search(query, rw=rw, rt=rt, limit=limit)

    def find_invitation(self, session: Session, text: str) -> tuple[InvitationToken, SearchHit]:
        """A scanned invitation token, verified, and the resident it invites."""
        self.require_current_roster()
        token = self.verify_invitation(session, text)
        with self.roster(session) as store:
            return token, invited_resident(store, token)

    def verify_invitation(self, session: Session, text: str) -> InvitationToken:
        """Check a scanned invitation token offline: HQ's signature, expiry, and that it is
        for a kelurahan this kit serves. A refusal is audited (a forged letter is worth
        knowing about) and raised (:class:`~edge.errors.InvitationRefused`)."""
        try:
            return verify_token(text, trusted=self.trusted_hq_keys(), now=self.clock(),
                                kelurahan=self.config.kelurahan)
        except InvitationRefused as exc:
            self.audit.append(session.operator.id, "invitation_refused", reason=exc.code)
            raise

    # --- settings ---------------------------------------------------------------------------

    def check_setting(self, key: str, value: str) -> KitConfig:
        """The config with one setting changed, if the kit may change it to that value.

        A production kit refuses any value that would let it use simulated devices
        (``allow_simulated``, ``hal`` naming ``sim``), whoever asks: only HQ makes a kit a
        training kit, when it registers it."""
        if key in HQ_DECIDED:
            raise NotAllowed(f"{key} is decided by HQ when it registers the kit (rekam-hq "
                             "device add), carried in the signed provisioning bundle; it "
                             "cannot be changed at the kit")
        if not setting(key).local:
            raise NotAllowed(f"{key} is decided by HQ (rekam-hq push config), not at the kit")
        config = self.config.with_setting(key, value)
        if not config.training and (config.allow_simulated or hal_uses_sim(config.hal)):
            raise NotAllowed(production_refusal(self.config.language))
        return config

    def set_setting(self, key: str, value: str, *, operator_id: str | None = None,
                    pin: str | None = None) -> KitConfig:
        """Change one setting at the kit (``rekam config set``), range-checked and audited.

        A security-relevant one (:data:`edge.config.SECURITY_SETTINGS`) needs the PIN of an
        active supervisor or technician, checked like an approval (lockout included); only
        before the kit's first operator exists is it set without one. What HQ decides
        (``training``) and what the provisioning bundle fixed are refused here, and so is
        anything that would give a production kit simulated devices.
        """
        spec = setting(key)
        config = self.check_setting(key, value)
        actor = operator_id or "(local)"
        if spec.security and self.operators.count() > 0:
            if not operator_id or pin is None:
                raise NotAllowed(f"{key} is a security setting: a supervisor or technician "
                                 "must approve it with their PIN (--by ID)")
            actor = self.operators.approve(operator_id, pin, roles=ADMIN_ROLES,
                                           purpose=f"config set {key}").id
        elif spec.security:
            actor = "(setup)"  # provisioned, no operator yet: the technician setting it up
        previous = getattr(self.config, key)
        config.save(self.paths)
        self.config = config
        self.audit.append(actor, "config_changed", setting=key, value=getattr(config, key),
                          previous=previous)
        return config

    # --- enrolment ----------------------------------------------------------------------------

    def free_disk_mb(self) -> int:
        return shutil.disk_usage(self.paths.root).free // (1024 * 1024)

    def start_enrolment(self, session: Session, nik: str, devices: CaptureDevices) -> Enrolment:
        """Refuse early (worklist expired, disk below the floor, resident unknown or already
        recorded here)."""
        self.require_current_roster()
        free = self.free_disk_mb()
        if free < self.config.disk_floor_mb:
            raise InsufficientDisk(
                f"only {free} MB free, below the floor of {self.config.disk_floor_mb} MB; "
                "sync and purge the outbox before recording"
            )
        with self.roster(session) as store:
            resident = store.get(nik)
            if resident is None:
                raise NotFound(f"NIK {nik} is not on this kit's roster")
            if store.is_enrolled(nik):
                raise AlreadyEnrolled(f"NIK {nik} was already recorded on this kit")
        cfg = self.config
        self.audit.append(session.operator.id, "enrolment_started")
        return Enrolment(
            resident=resident, operator_id=session.operator.id, device_id=self.device_id,
            service_point=cfg.service_point, devices=devices, approver=self._approve,
            packet_id=str(uuid6.uuid7()), max_attempts=cfg.max_attempts, clock=self.clock,
            software_version=__version__,
            thresholds=Thresholds(face=cfg.face_threshold, finger=cfg.finger_threshold,
                                  iris=cfg.iris_threshold),
        )

    def _approve(self, supervisor_id: str, pin: str, purpose: str) -> str:
        return self.operators.approve(supervisor_id, pin, roles=(Role.SUPERVISOR,),
                                      purpose=purpose).id

    def seal_enrolment(self, session: Session, enrolment: Enrolment) -> SealedPacket:
        """Seal to HQ, sign, commit to the outbox (durable on return), mark the resident."""
        now = self.clock()
        manifest, images = enrolment.build_packet_contents(now)
        manifest = replace(manifest, audit_head=self.audit.head_record())
        packet = seal(manifest, images, hq_key=self.hq_sealing_key(),
                      device_key=self.device_key(), created_at=now)
        del images
        self.outbox.add(packet)
        enrolment.mark_sealed()
        with self.roster(session) as store:
            store.mark_enrolled(enrolment.resident.nik, packet.packet_id, now)
        self.audit.append(session.operator.id, "enrolment_sealed", packet_id=packet.packet_id,
                          sha256=packet.sha256, size=packet.size)
        return packet

    def cancel_enrolment(self, session: Session, enrolment: Enrolment) -> None:
        enrolment.cancel()
        self.audit.append(session.operator.id, "enrolment_cancelled")

    # --- status ------------------------------------------------------------------------------

    def status(self) -> KitStatus:
        version = self.state.get(ROSTER_VERSION)
        oldest = self.outbox.oldest_unacked()
        sealing = self.hq_sealing_key()
        return KitStatus(
            device_id=self.device_id,
            software_version=__version__,
            device_key_id=signing_key_id(self.device_key().public_key()),
            hq_signing_key_id=signing_key_id(self.hq_signing_key()),
            hq_sealing_key_id=key_id(sealing.raw),
            roster_version=None if version is None else int(version),
            roster_size=int(self.state.get(ROSTER_COUNT, "0") or 0),
            roster_imported_at=self.state.get(ROSTER_IMPORTED),
            roster_expires_at=self.state.get(ROSTER_EXPIRES),
            outbox=self.outbox.counts(),
            oldest_unsent=None if oldest is None else oldest.isoformat(),
            free_disk_mb=self.free_disk_mb(),
            disk_floor_mb=self.config.disk_floor_mb,
            operators=self.operators.count(),
            audit_entries=self.audit.head()[0],
            broker=self.config.broker,
        )

    def outbox_entries(self) -> list[OutboxEntry]:
        return list(self.outbox.entries())


def invited_resident(store: RosterStore, token: InvitationToken) -> SearchHit:
    """The roster's resident for a verified token, or InvitationNotOnRoster."""
    hit = store.invited(token.invitation_code)
    if hit is None:
        raise InvitationNotOnRoster(
            f"invitation {token.invitation_code} is genuine but not on this kit's roster "
            "(the resident may have moved, or the roster is older than the letter)",
            code=token.invitation_code)
    return hit


def open_kit(home: Path, **kwargs: Any) -> Kit:
    if not KitPaths(home).config.exists():
        raise NotProvisioned(f"no kit at {home}; run: rekam provision BUNDLE")
    return Kit(home, **kwargs)


def pin_from_env(var: str) -> str | None:
    return os.environ.get(var)
