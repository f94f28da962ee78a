"""Quality scoring and encoding: what judging a capture costs next to just reading it.

For a face frame, a fingerprint and an iris image (drawn by the simulated backend) it
prints the median time to score one, beside the baseline measured in the same run: the
time to decode the same image from its encoded form (what any consumer of the image pays
anyway). Then the bytes of one full enrolment (face, signature, ten fingers, two irises)
against the raw pixels and the 280 KB budget, and the verification matcher's time.

    .venv/bin/python bench/bench_hal_quality.py [--samples 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hal.backends.sim import simulated_devices
from hal.backends.sim_control import SimulationControl
from hal.encode import decode_image, encode_fingerprint, encode_iris
from hal.quality import (
    face_quality,
    fingerprint_quality,
    iris_quality,
    match_fingerprints,
)
from hal.types import Eye, Finger

BUDGET_BYTES = 280_000
SCORE_TARGET_MS = {"face": 10.0, "fingerprint": 3.0, "iris": 3.0}


def decode_jpeg(data: bytes) -> Any:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def median_ms(fn: Callable[[Any], object], items: Sequence[Any], repeat: int = 3) -> float:
    for item in items[:2]:
        fn(item)  # warm caches (cascades, FFT plans)
    times = []
    for _ in range(repeat):
        for item in items:
            t = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args(argv)

    sim = SimulationControl(seed=7)
    images = []
    for i in range(args.samples):
        sim.set_subject(f"bench-{i}", birth_year=1990 + i % 2)
        subject = sim.images()
        frame = subject.face(1990 + i % 2, None)
        finger = subject.finger(Finger.RIGHT_INDEX, subject.rng("bench", i), None)
        eye = subject.eye(Eye.LEFT, subject.rng("bench", i), None)
        images.append((frame, finger, eye))
    frames = [f for f, _, _ in images]
    fingers = [g for _, g, _ in images]
    eyes = [e for _, _, e in images]
    frame_jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
                   for f in frames]
    finger_jp2 = [encode_fingerprint(g) for g in fingers]
    eye_jp2 = [encode_iris(e) for e in eyes]

    print(f"{args.samples} samples of each, median per image")
    rows = [
        ("face", lambda f: face_quality(f, birth_year=1990), frames, decode_jpeg, frame_jpegs,
         "640x480 JPEG"),
        ("fingerprint", fingerprint_quality, fingers, decode_image, finger_jp2,
         "256x336 JPEG 2000"),
        ("iris", iris_quality, eyes, decode_image, eye_jp2, "320x240 JPEG 2000"),
    ]
    for name, score, items, decode, encoded, what in rows:
        scoring = median_ms(score, items)
        decoding = median_ms(decode, encoded)
        verdict = "ok" if scoring < SCORE_TARGET_MS[name] else "OVER"
        print(f"  score {name:<12} {scoring:6.2f} ms | decode {what} {decoding:6.2f} ms | "
              f"ratio {scoring / decoding:5.2f}x | target < {SCORE_TARGET_MS[name]:g} ms: "
              f"{verdict}")

    pairs = list(zip(fingers, fingers[1:] + fingers[:1], strict=True))
    same = [(g, sim.images().finger(Finger.RIGHT_INDEX, sim.images().rng("again", i), None))
            for i, g in enumerate(fingers[-1:])]
    different = median_ms(lambda p: match_fingerprints(*p), pairs)
    rescan = median_ms(lambda p: match_fingerprints(*p), same * 10)
    print(f"  match, different fingers  {different:6.2f} ms (rotation search runs to the end)")
    print(f"  match, same finger        {rescan:6.2f} ms (stops at the first clear peak)")

    # bytes of one full enrolment against raw pixels
    control = SimulationControl(seed=8)
    d = simulated_devices(control, kinds=("camera", "fingerprint", "iris", "signature"))
    sizes, raw = [], []
    for i in range(5):
        control.set_subject(f"bytes-{i}", birth_year=2000 + i)
        caps = [d["camera"].capture_face(), d["signature"].capture_signature()]
        caps += [d["fingerprint"].capture(f) for f in Finger]
        caps += [d["iris"].capture(e) for e in Eye]
        sizes.append(sum(len(c.image) for c in caps))
        raw.append(sum(c.pixels.nbytes for c in caps))
    size, raw_size = statistics.median(sizes), statistics.median(raw)
    print(f"bytes per enrolment  {size / 1000:6.1f} KB encoded vs {raw_size / 1000:6.1f} KB raw "
          f"pixels: ratio {raw_size / size:4.1f}x smaller | budget < {BUDGET_BYTES / 1000:g} KB:"
          f" {'ok' if size < BUDGET_BYTES else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
