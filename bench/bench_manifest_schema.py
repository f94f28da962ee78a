"""What checking a manifest against ``edge/schemas/manifest.schema.json`` costs the kit.

Every packet's manifest is validated (fastjsonschema, compiled once) before it is sealed.
Baseline, measured in the same run: sealing the same enrolment (HPKE ML-KEM-768 + X25519,
ChaCha20-Poly1305 over ~165 KB of images, Ed25519 signature), which the check precedes.
Also prints the one-off cost of compiling the schema (the first packet a process seals).

    .venv/bin/python bench/bench_manifest_schema.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge import manifest_schema
from edge.keys import SealingPrivateKey
from edge.packet import CaptureRecord, ExceptionRecord, Manifest, VerificationRecord, seal

FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")


def enrolment() -> tuple[Manifest, dict[str, bytes]]:
    now = datetime.now(UTC).isoformat()
    slots = [("face", None, "jpeg", 60_000), ("signature", None, "png", 2_000)]
    slots += [("finger", f, "jp2", 12_000) for f in FINGERS[:-1]]
    slots += [("iris", e, "jp2", 12_000) for e in ("right", "left")]
    captures, files, audit = [], {}, []
    for modality, position, fmt, size in slots:
        name = f"{modality}_{position}" if position else modality
        files[f"{name}.{fmt}"] = os.urandom(size)
        captures.append(CaptureRecord(modality, position, f"{name}.{fmt}", fmt, 500, 500, 77,
                                      ["blur"], True, 2, "Model X", "SN-1", "sbi", now,
                                      f"{name}.jws" if modality in ("finger", "iris")
                                      else None))
        audit += [{"action": "capture", "at": now, "slot": f"fingerprints:{position}",
                   "score": "77", "attempt": str(i), "passed": "True"} for i in (1, 2)]
    manifest = Manifest(
        packet_id="0193aaaa-0000-7000-8000-000000000001", nik="3275014101050001",
        device_id="kit-bench", operator_id="budi", service_point="Balai RW 005; balai; "
        "32.75.01.1001; RW 005", started_at=now, sealed_at=now, software_version="0.1.0",
        captures=captures,
        exceptions=[ExceptionRecord("finger", "left_little", "amputated", "siti", now)],
        verification=[VerificationRecord("right_index", 0.91, True, 80),
                      VerificationRecord("left_index", 0.88, True, 78)],
        warnings=["finger_right_thumb:trust_self"], audit=audit,
        audit_head={"seq": 1234, "hash": "ab" * 32}, kelurahan="32.75.01.1001")
    return manifest, files


def per_call(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        times.append((time.perf_counter() - start) / rounds)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    manifest_schema._validator()
    compile_ms = (time.perf_counter() - start) * 1000
    manifest, files = enrolment()
    body = manifest.to_dict()
    hq = SealingPrivateKey.generate().public()
    device = ed25519.Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    check = per_call(lambda: manifest_schema.validate_manifest(body), args.rounds)
    sealing = per_call(lambda: seal(manifest, files, hq_key=hq, device_key=device,
                                    created_at=now), max(20, args.rounds // 100))
    print(f"schema compile (once per process): {compile_ms:.1f} ms")
    print(f"validate one manifest ({len(manifest.captures)} captures, {len(manifest.audit)} "
          f"audit events): {check * 1e6:.0f} µs")
    print(f"baseline, seal the same enrolment ({sum(map(len, files.values())) // 1024} KB, "
          f"check included): {sealing * 1e3:.2f} ms")
    print(f"ratio check / seal: {check / sealing:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
