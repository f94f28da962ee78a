"""The fleet simulator's kits (bench/fleet_sim.py): each provisioned through HQ's own bundle
path and its outbox filled with sealed packets of realistic size, by the kit's own code.
"""

import json
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_parts import say

KELURAHAN = "32.75.01.1001"
FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")


def _files(size: int, rng: random.Random) -> dict[str, bytes]:
    """A complete enrolment's files, about ``size`` bytes in all, in the usual proportions
    (face 30 %, signature 4 %, ten fingers 46 %, two irises 20 %). Random bytes: sealed
    ciphertext does not compress anyway, and HQ never opens them here."""
    shares = {"face.jpeg": 0.30, "signature.png": 0.04}
    shares |= {f"finger_{f}.jp2": 0.046 for f in FINGERS}
    shares |= {f"iris_{e}.jp2": 0.10 for e in ("right", "left")}
    return {name: rng.randbytes(max(64, int(size * share))) for name, share in shares.items()}


def _manifest(device_id: str, files: dict[str, bytes], nik: str) -> Any:
    import uuid6

    from edge.packet import CaptureRecord, Manifest

    now = datetime.now(UTC)
    t = now.isoformat()
    captures = []
    for name in files:
        stem, fmt = name.rsplit(".", 1)
        modality, _, position = stem.partition("_")
        captures.append(CaptureRecord(
            modality=modality, position=position or None, file=name, image_format=fmt,
            width=480, height=640, quality=80, quality_reasons=[], passed=True, attempts=1,
            device_model="sim", device_serial=f"{device_id}-{modality}",
            device_backend="sim", captured_at=t))
    return Manifest(packet_id=str(uuid6.uuid7()), nik=nik, device_id=device_id,
                    operator_id="budi", service_point="Balai RW 005",
                    started_at=(now - timedelta(minutes=6)).isoformat(), sealed_at=t,
                    software_version="fleet-sim", captures=captures, kelurahan=KELURAHAN)


def provision_kit(home: str, bundle: bytes, code: str, packets: int, size: int,
                  seed: int, sync: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(In a worker process.) Install a kit from its bundle and seal ``packets`` packets
    into its outbox with the kit's own code; their (packet id, sha256, size)."""
    from edge.config import KitConfig, KitPaths
    from edge.kit import Kit, install_bundle
    from edge.operators import KdfParams
    from edge.packet import seal
    from edge.provisioning import open_bundle

    paths = KitPaths(Path(home))
    install_bundle(paths, open_bundle(bundle, code))
    config = KitConfig.load(paths)
    for key, value in {"ack_grace_hours": "0", "kdf_memory_kib": "8192",
                       "kdf_iterations": "1"}.items():
        config = config.with_setting(key, value)
    config.save(paths)
    # The shipped settings, but the system's congestion control (loopback; BBR may be
    # unavailable to this process).
    (Path(home) / "sync.json").write_text(json.dumps({"tcp_congestion": "", **sync}))
    rng = random.Random(seed)
    made = []
    with Kit(Path(home), kdf=KdfParams(memory_kib=8192, iterations=1)) as kit:
        kit.conn.execute("PRAGMA synchronous=OFF")  # setup speed; not what is measured
        for i in range(packets):
            files = _files(size, rng)
            manifest = _manifest(kit.device_id, files, f"3275014101{seed % 10000:04d}{i:02d}"[:16])
            packet = seal(manifest, files, hq_key=kit.hq_sealing_key(),
                          device_key=kit.device_key(), created_at=datetime.now(UTC))
            kit.outbox.add(packet)
            made.append((packet.packet_id, packet.sha256, len(packet.data)))
    return made


@dataclass
class Fleet:
    homes: dict[str, Path]
    packets: dict[str, tuple[str, str, int]]  # packet id -> (device id, sha256, size)

    @property
    def bytes(self) -> int:
        return sum(p[2] for p in self.packets.values())


def build_fleet(hq_home: Any, engine: Any, root: Path, kits: int, packets: int, size: int,
                broker_url: str, sync: dict[str, Any]) -> Fleet:
    from hq.devices import add_device

    keys = hq_home.keys()
    homes: dict[str, Path] = {}
    jobs = []
    started = time.monotonic()
    for i in range(kits):
        device_id = f"kit-{i:04d}"
        bundle, code = add_device(engine, keys, device_id, [KELURAHAN], broker_url)
        homes[device_id] = root / device_id
        jobs.append((str(homes[device_id]), bundle, code, packets, size, i, sync))
    found: dict[str, tuple[str, str, int]] = {}
    with ProcessPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        futures = [pool.submit(provision_kit, *job) for job in jobs]
        for n, (future, job) in enumerate(zip(futures, jobs, strict=True), 1):
            device_id = Path(job[0]).name
            for packet_id, sha256, length in future.result():
                found[packet_id] = (device_id, sha256, length)
            if n % 50 == 0 or n == kits:
                say(f"provisioned {n}/{kits} kits, {len(found)} packets sealed "
                    f"({time.monotonic() - started:.0f} s)")
    return Fleet(homes, found)
