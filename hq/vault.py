"""The vault: opening sealed packets with HQ's sealing key, after checking who signed them,
and filing what they hold.

:class:`Vault` (``rekam-hq vault run``, also started by ``rekam-hq ingest``) takes each
stored packet, runs HQ's checks on it (:func:`hq.inspect.inspect_packet`), matches its NIK
and the details the kit was given against the register, and either marks the resident
terekam (kit, operator, service point and time kept in ``enrolments``) or puts the
enrolment up for a supervisor's review (:mod:`hq.review`): an unknown NIK, details that
disagree, a resident who left the register, a NIK recorded twice (the later one waits),
and anything the checks flag. It never accepts silently. A training kit's packets are
kept as such (state ``training``) and never mark anyone. The images stay in ``packets``
as ciphertext; only who, when, where, quality and flags are kept in clear.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from edge.clock import wib
from edge.errors import InvalidInput, RekamError
from edge.keys import write_private
from edge.packet import SAFE_NAME, Manifest, OpenedPacket, open_packet, read_header
from hal.sbi_evidence import SbiTrust
from hq.anchors import record_head
from hq.db import enrolments, packets, residents, reviews
from hq.devices import get_device
from hq.home import HqKeys
from hq.inspect import FlagCode, Inspection, flags_json, inspect_packet
from hq.issued import IssuedWorklists, KnownResident
from hq.register import TO_RECORD, Coverage, Status, change_status, wib_day

log = logging.getLogger("rekam.hq.vault")


def open_sealed(engine: Engine, keys: HqKeys, data: bytes) -> OpenedPacket:
    header = read_header(data)
    device = get_device(engine, header.device_id)
    return open_packet(data, hq_key=keys.sealing, device_key=device.signing_public)


def extract_files(files: Mapping[str, bytes], out: Path) -> list[Path]:
    """Write each file as a single safe name directly inside ``out`` (0700), 0600 each.

    ``files`` should come from :func:`hq.inspect.inspect_packet` (only what the manifest
    lists, names and sizes already checked); the names are checked again here, so nothing
    can land outside ``out``: no separators, no ``..``, no absolute path. Each file is
    written to a new temporary file and renamed over the name, so a link planted at that
    name is replaced, never followed."""
    for name in files:
        if not SAFE_NAME.fullmatch(name) or ".." in name or Path(name).name != name:
            raise InvalidInput(f"refusing to write {name[:60]!r}: not a single safe file name")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    root = out.resolve()
    written = []
    for name, data in files.items():
        path = root / name
        if path.parent != root:
            raise InvalidInput(f"refusing to write {name[:60]!r} outside {out}")
        write_private(path, data)
        written.append(path)
    return written


# --- the vault worker: stored packets become recorded residents ----------------------------


class VaultFlag(StrEnum):
    """What the vault itself doubts, besides hq.inspect's checks."""

    UNREADABLE = "unreadable"  # HQ cannot attribute or decrypt the packet at all
    UNKNOWN_NIK = "unknown_nik"  # the NIK is not on the register
    DETAILS_DIFFER = "details_differ"  # the kit's worklist and the register disagree
    RESIDENT_LEFT = "resident_left"  # the register says moved, died or recorded elsewhere
    RECORDED_TWICE = "recorded_twice"  # another enrolment of the NIK is accepted or waiting


@dataclass
class VaultCounts:
    accepted: int = 0
    review: int = 0
    training: int = 0
    unreadable: int = 0
    skipped: int = 0  # a twin vault filed them first

    @property
    def opened(self) -> int:
        return self.accepted + self.review + self.training + self.unreadable

    def add(self, other: VaultCounts) -> None:
        for name in ("accepted", "review", "training", "unreadable", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (f"{self.opened} packets opened: {self.accepted} accepted (residents marked "
                f"terekam), {self.review} for review, {self.training} from training kits, "
                f"{self.unreadable} unreadable")


class _RememberingSource:
    """hq.inspect's ResidentSource (the worklists HQ sent), remembering its answers: the
    vault compares the details the kit was given with the register's."""

    def __init__(self, engine: Engine) -> None:
        self.inner = IssuedWorklists(engine)
        self.seen: dict[tuple[str, str], KnownResident | None] = {}

    def resident_for_kit(self, device_id: str, nik: str) -> KnownResident | None:
        key = (device_id, nik)
        if key not in self.seen:
            self.seen[key] = self.inner.resident_for_kit(device_id, nik)
        return self.seen[key]


@dataclass(frozen=True)
class _Opened:
    packet_id: str
    device_id: str
    created_at: str
    inspection: Inspection | None
    error: str = ""


def quality_summary(manifest: Manifest) -> dict[str, Any]:
    """What the programme keeps in clear of a recording's quality: each capture's score
    and attempts, the exceptions and the verification, never an image."""
    captures = {
        (f"{c.modality}_{c.position}" if c.position else c.modality): {
            "quality": c.quality, "passed": c.passed, "attempts": c.attempts,
            "backend": c.device_backend}
        for c in manifest.captures}
    return {
        "captures": captures,
        "exceptions": [{"modality": e.modality, "position": e.position, "reason": e.reason,
                        "approved_by": e.approved_by} for e in manifest.exceptions],
        "verification": [{"position": v.position, "matched": v.matched,
                          "score": v.match_score} for v in manifest.verification],
        "warnings": list(manifest.warnings),
    }


def _when(value: str, fallback: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return fallback
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Vault:
    """Opens the stored packets (state ``stored``) a batch at a time, and files each:
    ``enrolments`` row, resident marked terekam or the enrolment put up for review."""

    def __init__(self, engine: Engine, keys: HqKeys, *, batch: int = 50,
                 sbi_trust: Any = None, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.keys = keys
        self.batch = batch
        # Read once: hq.inspect would read REKAM_SBI_CA's bundle for every packet.
        self.sbi_trust = sbi_trust if sbi_trust is not None else SbiTrust.from_env()
        self.clock = clock or (lambda: datetime.now(UTC))

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(packets)
                                     .where(packets.c.state == "stored")).scalar_one())

    def run_batch(self) -> VaultCounts:
        """Open and file up to ``batch`` stored packets; how they were filed. Safe beside
        other vault workers: PostgreSQL skips rows a twin holds, and every packet is
        filed only if it is still ``stored`` when its result is written."""
        p = packets.c
        counts = VaultCounts()
        with self.engine.connect() as conn, conn.begin():
            rows = conn.execute(
                select(p.packet_id, p.device_id, p.created_at, p.data)
                .where(p.state == "stored").order_by(p.received_at, p.packet_id)
                .limit(self.batch).with_for_update(skip_locked=True)).all()
            if not rows:
                return counts
            source = _RememberingSource(self.engine)
            opened = [self._open(r, source) for r in rows]
            now = self.clock()
            coverage = Coverage()
            for item in opened:
                outcome = self._file(conn, item, source, now, coverage)
                setattr(counts, outcome, getattr(counts, outcome) + 1)
            coverage.flush(conn)
        return counts

    def _open(self, row: Any, source: _RememberingSource) -> _Opened:
        try:
            # The audit anchor is kept in the batch's transaction (_file), not committed
            # packet by packet.
            inspection = inspect_packet(self.engine, self.keys, bytes(row.data),
                                        residents=source, sbi_trust=self.sbi_trust,
                                        record_anchor=False)
        except RekamError as exc:
            return _Opened(row.packet_id, row.device_id, row.created_at, None, str(exc))
        return _Opened(row.packet_id, row.device_id, row.created_at, inspection)

    def _file(self, conn: Connection, item: _Opened, source: _RememberingSource,
              now: datetime, coverage: Coverage) -> str:
        state_after = "unreadable" if item.inspection is None else "opened"
        claimed = conn.execute(
            update(packets).where(packets.c.packet_id == item.packet_id,
                                  packets.c.state == "stored")
            .values(state=state_after).returning(packets.c.packet_id)).first()
        if claimed is None:
            return "skipped"
        fallback = _when(item.created_at, now)
        if item.inspection is None:
            flags = [{"code": VaultFlag.UNREADABLE.value, "field": None,
                      "message": f"HQ cannot open this packet: {item.error}"}]
            self._insert(conn, item.packet_id, item.device_id, nik="", resident=None,
                         operator="", service_point="", recorded_at=fallback, now=now,
                         kelurahan="", training=False, simulated=False, state="unreadable",
                         flags=flags, quality={})
            self._review(conn, item.packet_id, flags, now, status_before=None)
            return "unreadable"
        inspection = item.inspection
        manifest = inspection.manifest
        raw = inspection.raw_manifest if isinstance(inspection.raw_manifest, dict) else {}
        nik = manifest.nik if manifest else str(raw.get("nik", ""))[:16]
        flags = flags_json(inspection) + self._anchor(conn, item, manifest, now)
        training = inspection.training  # HQ's registration of the kit, not the packet's word
        simulated = manifest is not None and any(c.device_backend == "sim"
                                                 for c in manifest.captures)
        resident = self._resident(conn, nik)
        if not training:
            flags += self._doubts(conn, item, nik, resident, source)
        recorded_at = _when(manifest.sealed_at, fallback) if manifest else fallback
        state = "training" if training else ("review" if flags else "accepted")
        kelurahan = resident.kelurahan if resident else (
            manifest.kelurahan if manifest else "")
        self._insert(
            conn, item.packet_id, item.device_id, nik=nik, resident=resident,
            operator=manifest.operator_id if manifest else str(raw.get("operator_id", "")),
            service_point=manifest.service_point if manifest else "",
            recorded_at=recorded_at, now=now, kelurahan=kelurahan[:13], training=training,
            simulated=simulated, state=state, flags=flags,
            quality=quality_summary(manifest) if manifest else {})
        if state == "training":
            return "training"
        if state == "accepted":
            assert resident is not None and manifest is not None
            change_status(conn, nik, Status.TEREKAM, at=recorded_at, by="vault",
                          source=f"packet {item.packet_id}",
                          reason=f"kit {item.device_id}, operator {manifest.operator_id}, "
                                 f"{manifest.service_point}", coverage=coverage)
            return "accepted"
        before = None
        if resident is not None and Status(resident.status) in TO_RECORD:
            before = resident.status
            change_status(conn, nik, Status.PERLU_TINJAU, at=now, by="vault",
                          source=f"packet {item.packet_id}",
                          reason="; ".join(str(f["code"]) for f in flags),
                          coverage=coverage)
        self._review(conn, item.packet_id, flags, now, status_before=before)
        return "review"

    @staticmethod
    def _anchor(conn: Connection, item: _Opened, manifest: Manifest | None, now: datetime
                ) -> list[dict[str, Any]]:
        """hq.inspect's audit-anchor check, in the batch's transaction."""
        if manifest is None:
            return []
        try:
            alerts = record_head(conn, item.device_id, manifest.audit_head,
                                 _when(manifest.sealed_at, now), f"packet {item.packet_id}",
                                 now)
        except RekamError:
            return []
        return [{"code": FlagCode.AUDIT_ANCHOR.value, "message": a.detail,
                 "field": "audit_head"} for a in alerts]

    @staticmethod
    def _resident(conn: Connection, nik: str) -> Any:
        if not nik:
            return None
        r = residents.c
        return conn.execute(select(r.id, r.status, r.name, r.kelurahan, r.rw, r.rt)
                            .where(r.nik == nik)).first()

    @staticmethod
    def _doubts(conn: Connection, item: _Opened, nik: str, resident: Any,
                source: _RememberingSource) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def flag(code: VaultFlag, message: str, fld: str | None = None) -> None:
            found.append({"code": code.value, "message": message, "field": fld})

        if resident is None:
            flag(VaultFlag.UNKNOWN_NIK, f"NIK {nik} is not on the register", "nik")
            return found
        sent = source.seen.get((item.device_id, nik))
        if sent is not None:
            if sent.kelurahan != resident.kelurahan:
                flag(VaultFlag.DETAILS_DIFFER, f"the kit's worklist placed NIK {nik} in "
                     f"{sent.kelurahan}, the register now in {resident.kelurahan}",
                     "kelurahan")
            if sent.name and " ".join(sent.name.upper().split()) != " ".join(
                    resident.name.upper().split()):
                flag(VaultFlag.DETAILS_DIFFER, f"the kit's worklist named NIK {nik} "
                     f"{sent.name!r}, the register {resident.name!r}", "nama")
        status = Status(resident.status)
        if status in (Status.PINDAH, Status.MENINGGAL, Status.REKAM_LAIN):
            flag(VaultFlag.RESIDENT_LEFT, f"the register says {status.label} for NIK {nik}")
        e = enrolments.c
        twice = conn.execute(
            select(e.packet_id, e.device_id, e.recorded_at, e.state)
            .where(e.nik == nik, e.state.in_(("accepted", "review")),
                   e.packet_id != item.packet_id)
            .order_by(e.recorded_at).limit(1)).first()
        if twice is not None:
            what = "accepted" if twice.state == "accepted" else "waiting for review"
            flag(VaultFlag.RECORDED_TWICE, f"NIK {nik} was already recorded by kit "
                 f"{twice.device_id} on {wib(twice.recorded_at)} "
                 f"(packet {twice.packet_id}, {what}): this later enrolment waits for a "
                 "decision", "nik")
        return found

    @staticmethod
    def _insert(conn: Connection, packet_id: str, device_id: str, *, nik: str, resident: Any,
                operator: str, service_point: str, recorded_at: datetime, now: datetime,
                kelurahan: str, training: bool, simulated: bool, state: str,
                flags: list[dict[str, Any]], quality: dict[str, Any]) -> None:
        conn.execute(insert(enrolments).values(
            packet_id=packet_id, device_id=device_id, nik=nik[:16],
            resident_id=resident.id if resident else None, operator_id=operator[:64],
            service_point=service_point, recorded_at=recorded_at,
            day=wib_day(recorded_at), opened_at=now, kelurahan=kelurahan,
            rw=resident.rw if resident else "", rt=resident.rt if resident else "",
            training=training, simulated=simulated, state=state,
            accepted_at=now if state == "accepted" else None,
            flags=json.dumps(flags, ensure_ascii=False), quality=json.dumps(quality)))

    @staticmethod
    def _review(conn: Connection, packet_id: str, flags: list[dict[str, Any]], now: datetime,
                *, status_before: str | None) -> None:
        conn.execute(insert(reviews).values(
            packet_id=packet_id, created_at=now, flags=json.dumps(flags, ensure_ascii=False),
            state="open", status_before=status_before))


def run_vault(vault: Vault, *, once: bool = False, poll: float = 2.0,
              stop: threading.Event | None = None,
              on_batch: Callable[[VaultCounts], None] | None = None) -> VaultCounts:
    """Open packets until there are none (``once``) or until ``stop`` is set, looking for
    new ones every ``poll`` seconds; a database that fails is retried, never fatal."""
    stop = stop or threading.Event()
    total = VaultCounts()
    while not stop.is_set():
        try:
            counts = vault.run_batch()
        except (OperationalError, DBAPIError) as exc:
            if once:
                raise
            log.warning("vault: the database failed (%s); retrying in %.0f s", exc, poll)
            stop.wait(poll)
            continue
        total.add(counts)
        if counts.opened or counts.skipped:
            if on_batch is not None:
                on_batch(counts)
            continue
        if once:
            break
        stop.wait(poll)
    return total
