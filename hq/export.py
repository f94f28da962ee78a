"""``rekam-hq export``: the accepted enrolments for the national system, one folder each.

Each folder (named by the packet id) holds the face as JPEG, each fingerprint as an
ISO/IEC 19794-4:2011 finger image record (``finger_right_index.fir``), each iris as an
ISO/IEC 19794-6:2011 iris image record (``iris_left.iir``), the signature as PNG, and
``manifest.json`` (format ``rekam-export/1``, documented in docs/export.md): who, when,
where, each file with its SHA-256, the quality, exceptions and how it was accepted.

An export is idempotent: a folder whose manifest is already what it would write is left
alone, one that differs is replaced whole, and every folder appears at once (written
beside, then renamed). The files hold plain biometrics: folders are 0700, files 0600;
copy them to the national system's channel and delete them (HQ keeps the ciphertext).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from edge.clock import WIB
from edge.keys import write_private
from edge.packet import Manifest
from hq.db import enrolments, packets, residents, reviews
from hq.dialect import as_utc
from hq.home import HqKeys
from hq.inspect import inspect_packet
from hq.iso19794 import finger_record, iris_record

EXPORT_FORMAT = "rekam-export/1"


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)  # packet ids
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (packet id, why)


def _files(manifest: Manifest, files: dict[str, bytes]) -> dict[str, bytes]:
    """The folder's biometric files, named for the national system."""
    out: dict[str, bytes] = {}
    for c in manifest.captures:
        image = files[c.file]
        captured = as_utc(datetime.fromisoformat(c.captured_at))
        if c.modality == "face":
            out["face.jpg"] = image
        elif c.modality == "signature":
            out["signature.png"] = image
        elif c.modality == "finger" and c.position:
            out[f"finger_{c.position}.fir"] = finger_record(
                image, position=c.position, width=c.width, height=c.height,
                quality=c.quality, captured_at=captured, image_format=c.image_format)
        elif c.modality == "iris" and c.position:
            out[f"iris_{c.position}.iir"] = iris_record(
                image, eye=c.position, width=c.width, height=c.height, quality=c.quality,
                captured_at=captured, image_format=c.image_format)
    return out


def _manifest(row: Any, manifest: Manifest, files: dict[str, bytes]) -> dict[str, Any]:
    captures = {(c.modality, c.position): c for c in manifest.captures}

    def described(name: str) -> dict[str, Any]:
        stem = name.rsplit(".", 1)[0]
        modality, _, position = stem.partition("_")
        c = captures[(modality, position or None)]
        return {"file": name, "sha256": hashlib.sha256(files[name]).hexdigest(),
                "modality": modality, "position": position or None,
                "image_format": c.image_format, "width": c.width, "height": c.height,
                "quality": c.quality, "attempts": c.attempts,
                "captured_at": c.captured_at, "device": {
                    "model": c.device_model, "serial": c.device_serial,
                    "backend": c.device_backend}}

    return {
        "format": EXPORT_FORMAT,
        "packet_id": row.packet_id,
        "nik": row.nik,
        "resident": None if row.name is None else {
            "nama": row.name, "jenis_kelamin": row.sex,
            "tanggal_lahir": row.birth_date.isoformat(), "no_kk": row.no_kk,
            "alamat": row.address, "rt": row.rt, "rw": row.rw,
            "kode_kelurahan": row.kelurahan, "kode_kecamatan": row.kecamatan},
        "recorded": {"at": as_utc(row.recorded_at).isoformat(), "kit": row.device_id,
                     "operator": row.operator_id, "service_point": row.service_point,
                     "software_version": manifest.software_version},
        "accepted": {"at": as_utc(row.accepted_at).isoformat(),
                     "by": row.decided_by or "vault",
                     "review": None if row.review_id is None else {
                         "id": row.review_id, "reason": row.reason,
                         "flags": json.loads(row.flags)}},
        "files": [described(name) for name in sorted(files)],
        "exceptions": [{"modality": e.modality, "position": e.position, "reason": e.reason,
                        "approved_by": e.approved_by, "approved_at": e.approved_at}
                       for e in manifest.exceptions],
        "verification": [{"position": v.position, "matched": v.matched,
                          "match_score": v.match_score} for v in manifest.verification],
    }


def export_enrolments(engine: Engine, keys: HqKeys, since: date, out: Path, *,
                      on_progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Every enrolment accepted on or after ``since`` (WIB), into ``out`` (see above)."""
    start = datetime.combine(since, time(0), WIB).astimezone(UTC)
    e, r, v = enrolments.c, residents.c, reviews.c
    query = (select(e.packet_id, e.nik, e.device_id, e.operator_id, e.service_point,
                    e.recorded_at, e.accepted_at, e.flags, r.name, r.sex, r.birth_date,
                    r.no_kk, r.address, r.rt, r.rw, r.kelurahan, r.kecamatan,
                    v.id.label("review_id"), v.decided_by, v.reason)
             .select_from(enrolments.outerjoin(residents, e.resident_id == r.id)
                          .outerjoin(reviews, v.packet_id == e.packet_id))
             .where(e.state == "accepted", e.training.is_(False), e.accepted_at >= start)
             .order_by(e.accepted_at, e.packet_id))
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    result = ExportResult()
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for n, row in enumerate(rows, start=1):
        try:
            if _export_one(engine, keys, row, out):
                result.written.append(row.packet_id)
            else:
                result.unchanged += 1
        except (ValueError, KeyError, OSError) as exc:
            result.failed.append((row.packet_id, str(exc)))
        if on_progress is not None:
            on_progress(n, len(rows))
    return result


def _export_one(engine: Engine, keys: HqKeys, row: Any, out: Path) -> bool:
    """Write one enrolment's folder; False when it is already there as it would be."""
    with engine.connect() as conn:
        data = conn.execute(select(packets.c.data)
                            .where(packets.c.packet_id == row.packet_id)).scalar_one()
    inspection = inspect_packet(engine, keys, bytes(data), record_anchor=False)
    if inspection.manifest is None:
        raise ValueError("its manifest can no longer be read")
    files = _files(inspection.manifest, inspection.files)
    manifest = json.dumps(_manifest(row, inspection.manifest, files), ensure_ascii=False,
                          indent=2, sort_keys=True).encode() + b"\n"
    target = out / row.packet_id
    existing = target / "manifest.json"
    if existing.exists() and existing.read_bytes() == manifest:
        return False
    staging = Path(tempfile.mkdtemp(prefix=f".{row.packet_id}.", dir=out))
    try:
        for name, body in files.items():
            write_private(staging / name, body)
        write_private(staging / "manifest.json", manifest)
        if target.exists():
            old = out / f".{row.packet_id}.old"
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True
