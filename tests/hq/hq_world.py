"""An HQ with one registered kit and a worklist HQ recorded sending it, and packets crafted
as a kit (honest or hostile) would seal them."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.canonical import canonical_json
from edge.config import KitPaths
from edge.kit import Kit, install_bundle
from edge.operators import KdfParams
from edge.packet import (
    _SUITES,
    LAYOUT_VERSION,
    MAGIC,
    PACKET_FORMAT,
    SUITE_NAME,
    CaptureRecord,
    ExceptionRecord,
    Manifest,
    PacketHeader,
    seal,
)
from edge.provisioning import open_bundle

KELURAHAN = "32.75.01.1001"
FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JP2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 300


@dataclass
class HqWorld:
    home: Any  # HqHome
    engine: Any
    kit: Kit
    niks: list[str]
    tmp: Path
    kits: dict[str, Kit] = field(default_factory=dict)

    @property
    def keys(self):  # type: ignore[no-untyped-def]
        return self.home.keys()

    def add_kit(self, device_id: str, kelurahan: str = KELURAHAN, *,
                training: bool = False) -> Kit:
        from hq.devices import add_device

        bundle, code = add_device(self.engine, self.keys, device_id, [kelurahan],
                                  "mqtts://localhost:1", training=training)
        install_bundle(KitPaths(self.tmp / device_id), open_bundle(bundle, code))
        kit = Kit(self.tmp / device_id, kdf=KdfParams(memory_kib=8192, iterations=1))
        self.kits[device_id] = kit
        return kit

    def inspect(self, data: bytes, **kwargs: Any):  # type: ignore[no-untyped-def]
        from hq.inspect import inspect_packet

        return inspect_packet(self.engine, self.keys, data, **kwargs)


def make_world(tmp: Path, db_url: str) -> HqWorld:
    from edge.synth import write_synthetic_csv
    from hq.db import make_engine
    from hq.home import HqHome
    from hq.worklists import make_worklist

    home = HqHome(tmp / "hq")
    home.init()
    engine = make_engine(db_url)
    world = HqWorld(home, engine, None, [], tmp)  # type: ignore[arg-type]
    world.kit = world.add_kit("kit-a")
    csv_path = tmp / "residents.csv"
    write_synthetic_csv(csv_path, [KELURAHAN], 20, 5)
    make_worklist(engine, world.keys, "kit-a", csv_path)
    import csv

    with csv_path.open(encoding="utf-8-sig") as fh:
        world.niks = [r["nik"] for r in csv.DictReader(fh)]
    return world


def full_manifest(kit: Kit, nik: str, *, backend: str = "sim",
                  now: datetime | None = None) -> tuple[Manifest, dict[str, bytes]]:
    """A complete enrolment's manifest and files (face, signature, ten fingers, two irises)."""
    now = now or datetime.now(UTC)
    t = now.isoformat()
    import uuid6

    captures, files = [], {}
    slots = [("face", None, "jpeg", JPEG), ("signature", None, "png", PNG)]
    slots += [("finger", f, "jp2", JP2) for f in FINGERS]
    slots += [("iris", e, "jp2", JP2) for e in ("right", "left")]
    for modality, position, fmt, body in slots:
        name = f"{modality}_{position}" if position else modality
        files[f"{name}.{fmt}"] = body + name.encode()
        captures.append(CaptureRecord(
            modality=modality, position=position, file=f"{name}.{fmt}", image_format=fmt,
            width=400, height=500, quality=80, quality_reasons=[], passed=True, attempts=1,
            device_model="m", device_serial="s",
            device_backend=(backend if backend == "sim" or modality in ("finger", "iris")
                            else "opencv"),
            captured_at=t))
    manifest = Manifest(
        packet_id=str(uuid6.uuid7()), nik=nik, device_id=kit.device_id, operator_id="budi",
        service_point="Balai RW 005", started_at=(now - timedelta(minutes=5)).isoformat(),
        sealed_at=t, software_version="test", captures=captures, kelurahan=KELURAHAN)
    return manifest, files


SUBTYPE = {"right_thumb": "Right Thumb", "right_index": "Right IndexFinger",
           "right_middle": "Right MiddleFinger", "right_ring": "Right RingFinger",
           "right_little": "Right LittleFinger", "left_thumb": "Left Thumb",
           "left_index": "Left IndexFinger", "left_middle": "Left MiddleFinger",
           "left_ring": "Left RingFinger", "left_little": "Left LittleFinger",
           "right": "Right", "left": "Left"}


def with_sbi_evidence(manifest: Manifest, files: dict[str, bytes], *, mode: str = "good",
                      swap_image: bool = False) -> tuple[Manifest, dict[str, bytes]]:
    """Each finger and iris carries its SBI device's signed capture, as the SBI backend
    puts it in the packet (``sbi_fakes``' test PKI signs it)."""
    import base64

    from sbi_fakes import iso_record, sign_jws

    files = dict(files)
    captures = []
    for c in manifest.captures:
        if c.modality in ("finger", "iris"):
            image = files[c.file] if not swap_image else files[c.file] + b"x"
            bio = base64.urlsafe_b64encode(iso_record(image)).rstrip(b"=").decode()
            token = sign_jws({"bioType": c.modality.title(), "bioSubType": SUBTYPE[c.position],
                              "bioValue": bio, "qualityScore": 80}, mode=mode)
            name = f"{c.modality}_{c.position}.jws"
            files[name] = token.encode()
            c = replace(c, evidence=name)
        captures.append(c)
    return replace(manifest, captures=captures), files


def with_exception(manifest: Manifest, files: dict[str, bytes], finger: str
                   ) -> tuple[Manifest, dict[str, bytes]]:
    kept = [c for c in manifest.captures if c.position != finger]
    files = {n: b for n, b in files.items() if finger not in n}
    exc = ExceptionRecord("finger", finger, "amputated", "siti", manifest.sealed_at)
    return replace(manifest, captures=kept, exceptions=[exc]), files


def sealed(kit: Kit, manifest: Manifest, files: dict[str, bytes]) -> bytes:
    return seal(manifest, files, hq_key=kit.hq_sealing_key(), device_key=kit.device_key(),
                created_at=datetime.fromisoformat(manifest.sealed_at)).data


def craft(kit: Kit, plaintext: bytes, *, packet_id: str = "crafted-1",
          header: dict[str, Any] | None = None, hq_key: Any = None) -> bytes:
    """A packet as a hostile kit would seal it: any plaintext (and header), the kit's own
    valid signature, encrypted to HQ's key (or ``hq_key``)."""
    hq_key = hq_key or kit.hq_sealing_key()
    fields = {"format": PACKET_FORMAT, "suite": SUITE_NAME, "hq_key_id": hq_key.key_id,
              "device_id": kit.device_id,
              "device_key_id": hashlib.sha256(
                  kit.device_key().public_key().public_bytes_raw()).hexdigest()[:16],
              "packet_id": packet_id, "created_at": datetime.now(UTC).isoformat(),
              **(header or {})}
    header_bytes = canonical_json(fields)
    suite = _SUITES.get(fields["suite"], _SUITES[SUITE_NAME])
    ciphertext = suite.encrypt(plaintext, hq_key.to_hpke(), info=header_bytes)
    body = b"".join((MAGIC, struct.pack(">BI", LAYOUT_VERSION, len(header_bytes)),
                     header_bytes, struct.pack(">I", len(ciphertext)), ciphertext))
    return body + kit.device_key().sign(body)


def zip_of(entries: list[tuple[str | zipfile.ZipInfo, bytes]], *,
           compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def manifest_zip(manifest: dict[str, Any] | Manifest, files: dict[str, bytes]) -> bytes:
    body = manifest.to_dict() if isinstance(manifest, Manifest) else manifest
    return zip_of([("manifest.json", json.dumps(body).encode()), *files.items()])


_ = PacketHeader  # re-exported for tests
