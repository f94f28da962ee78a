"""`enrol --sim` to a durable sealed packet, in-process.

Targets (issue 2): median under 150 ms; sealing and signing at most 10% of it. Baseline
measured in the same run: the simulated devices' own capture time for the same enrolment
(what a kit could never go below), so the ratio shows what the core adds.
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _world import KELURAHAN, OPERATOR_PIN, bench_world, import_worklist

import edge.kit as kit_module
from edge.workflow import run_clean
from hal.registry import open_devices

N = 40


def main() -> None:
    with bench_world(300) as world:
        import_worklist(world)
        kit = world.open_kit()
        session = kit.login("budi", OPERATOR_PIN)
        with world.csv.open(encoding="utf-8-sig") as fh:
            niks = [r["nik"] for r in csv.DictReader(fh) if r["kode_kelurahan"] == KELURAHAN][:N]
        devices = open_devices("sim", seed=5, allow_simulated=True)

        seal_times: list[float] = []
        original_seal = kit_module.seal

        def timed_seal(*args, **kwargs):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            result = original_seal(*args, **kwargs)
            seal_times.append(time.perf_counter() - t)
            return result

        kit_module.seal = timed_seal  # type: ignore[assignment]
        totals, sizes, device_only = [], [], []
        for nik in niks:
            t0 = time.perf_counter()
            enrolment = kit.start_enrolment(session, nik, devices)
            assert devices.sim is not None
            devices.sim.set_subject(nik, birth_year=enrolment.resident.birth_date.year)
            run_clean(enrolment)
            packet = kit.seal_enrolment(session, enrolment)
            totals.append(time.perf_counter() - t0)
            sizes.append(packet.size)
            # Baseline: the same captures straight from the simulated devices.
            t1 = time.perf_counter()
            devices.camera.capture_face()
            devices.signature.capture_signature()
            for finger in _fingers():
                devices.fingerprint.capture(finger)
            for eye in _eyes():
                devices.iris.capture(eye)
            for finger in _fingers()[1:2] + _fingers()[6:7]:
                devices.fingerprint.capture(finger)
            device_only.append(time.perf_counter() - t1)
        devices.close()
        kit.close()

    med = statistics.median(totals)
    med_dev = statistics.median(device_only)
    med_seal = statistics.median(seal_times)
    print(f"enrolments                {len(totals)}")
    print(f"enrol --sim to durable    median {med * 1000:6.1f} ms   p90 "
          f"{statistics.quantiles(totals, n=10)[-1] * 1000:6.1f} ms   (target < 150 ms)")
    print(f"  device captures alone   median {med_dev * 1000:6.1f} ms   "
          f"core overhead ratio {med / med_dev:4.2f}x")
    print(f"  sealing + signing       median {med_seal * 1000:6.2f} ms   "
          f"= {100 * med_seal / med:4.1f}% of enrolment (target <= 10%)")
    print(f"packet bytes              median {statistics.median(sizes) / 1024:6.1f} KB   "
          f"max {max(sizes) / 1024:.1f} KB (target <= 300 KB)")


def _fingers():  # type: ignore[no-untyped-def]
    from hal.types import Finger

    return list(Finger)


def _eyes():  # type: ignore[no-untyped-def]
    from hal.types import Eye

    return list(Eye)


if __name__ == "__main__":
    main()
