"""The fleet simulator (bench/fleet_sim.py), small: dozens of kits, real Mosquitto, real
ingest worker processes, every fault on its schedule (`make fleet`; slow, not in `make
test`). Every packet stored exactly once, nothing lost, every fault recovered from."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

pytestmark = [pytest.mark.slow, pytest.mark.broker]


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_fleet_under_every_fault_loses_nothing_and_stores_each_packet_once(db, tmp_path):
    import fleet_parts
    import fleet_report
    import fleet_sim

    if not shutil.which("mosquitto") and not os.path.exists(fleet_parts.MOSQUITTO):
        pytest.skip("mosquitto is not installed")
    if db == "postgres" and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    # Many small packets, one awaiting its ack per kit, each fault 1 s after the last one's
    # recovery: every fault lands while packets are on their way.
    args = fleet_sim.parse_args(["--kits", "40", "--packets", "80", "--size", "20000",
                                 "--db", db, "--workers", "2", "--window", "1",
                                 "--settle", "1", "--timeout", "600",
                                 "--keep", str(tmp_path / "fleet")])
    results = fleet_sim.simulate(args)
    print(fleet_report.report(results))
    assert results.stored == results.packets == 3200
    assert results.lost == 0 and results.stored_twice == 0 and results.wrong_hash == 0
    assert results.dead_letters == 0
    assert results.drain_seconds is not None
    names = [f.name for f in results.faults]
    assert len(names) == 5 and all(f.injected for f in results.faults), names
    assert results.faults[0].cut > 0, "no kit's link was cut mid-packet"
    assert all(f.recovery is not None for f in results.faults), fleet_report.report(results)
    assert results.broker_peak_mb > 0 and results.ingest_peak_mb > 0
