"""The simulated kit's full clean enrolment: face, signature, ten fingers, two irises and
the two verification re-scans with their matches, for residents the kit has not seen yet
(so each one's fingers, irises and face are drawn from scratch).

Prints the median against the target, where the time goes, and the baseline measured in
the same run: the JPEG 2000 encoding alone of the same fourteen images, which the
simulated devices must do like real ones and which no drawing or scoring can undercut.

    .venv/bin/python bench/bench_hal_sim.py [--residents 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hal.backends.sim_capture as sim_capture
from hal.backends.sim import simulated_devices
from hal.backends.sim_control import SimulationControl
from hal.encode import encode_fingerprint, encode_iris
from hal.quality import match_fingerprints
from hal.types import Eye, Finger

TARGET_MS = 90.0


def _timed(store: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            store[name] += time.perf_counter() - t

    return wrapper


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20)
    args = parser.parse_args(argv)

    spent: dict[str, float] = defaultdict(float)
    # Time the stages inside the simulated devices without changing what they do.
    for name in ("encode_face", "encode_fingerprint", "encode_iris", "encode_signature",
                 "face_quality", "fingerprint_quality", "iris_quality", "signature_quality"):
        setattr(sim_capture, name, _timed(spent, name, getattr(sim_capture, name)))

    control = SimulationControl(seed=3)
    d = simulated_devices(control, kinds=("camera", "fingerprint", "iris", "signature"))
    totals, encode_only, parts = [], [], []
    for i in range(args.residents + 1):
        spent.clear()
        t = time.perf_counter()
        control.set_subject(f"32750141010500{i:02d}", birth_year=1980 + i)
        d["camera"].capture_face()
        d["signature"].capture_signature()
        fingers = {f: d["fingerprint"].capture(f) for f in Finger}
        irises = [d["iris"].capture(e) for e in Eye]
        for f in (Finger.RIGHT_INDEX, Finger.LEFT_INDEX):
            again = d["fingerprint"].capture(f)
            match_fingerprints(fingers[f].pixels, again.pixels)
        elapsed = time.perf_counter() - t
        t = time.perf_counter()
        for c in list(fingers.values()) + [fingers[Finger.RIGHT_INDEX]] * 2:
            encode_fingerprint(c.pixels)
        for c in irises:
            encode_iris(c.pixels)
        if i:  # the first run loads cascades and warms caches
            totals.append(elapsed * 1000)
            encode_only.append((time.perf_counter() - t) * 1000)
            parts.append(dict(spent))

    median = statistics.median(totals)
    jp2 = statistics.median(encode_only)
    print(f"{args.residents} new residents, full clean enrolment on the simulated kit")
    print(f"  median {median:6.1f} ms   p90 {sorted(totals)[int(0.9 * len(totals))]:6.1f} ms"
          f"   target < {TARGET_MS:g} ms: {'ok' if median < TARGET_MS else 'OVER'}")
    print(f"  baseline: JPEG 2000 encoding of the 14 images alone {jp2:6.1f} ms "
          f"= {jp2 / median:4.0%} of the enrolment (the floor for any simulated kit)")
    stages = {k: statistics.median(p.get(k, 0.0) for p in parts) * 1000 for k in parts[0]}
    for name, ms in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<20} {ms:6.1f} ms")
    rest = median - sum(stages.values())
    print(f"    {'drawing and rest':<20} {rest:6.1f} ms (patterns, impressions, matching)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
