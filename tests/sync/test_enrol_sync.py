"""The whole story through the real command lines: enrol on simulated devices → seal →
``rekam sync --once`` → Mosquitto → ``rekam-hq`` ingest → signed ack → purge; and a
technician's ``rekam wipe`` telling HQ first. Uses the suite's ``world`` fixture
(tests/conftest.py); skipped until the simulated devices exist."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator

import pytest

pytest.importorskip("hal.registry")
pytestmark = pytest.mark.broker

OPERATOR_PIN = "571846"
SUPERVISOR_PIN = "483920"
TECH_PIN = "860412"


@contextlib.contextmanager
def _ingest(world, broker_for) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """HQ's broker and ``rekam-hq ingest`` running (in a thread); the kit pointed at the
    broker. Yields HQ's engine."""
    from hq.db import make_engine
    from hq.home import HqHome
    from hq.ingest import Ingestor
    from hq.ingest_worker import ingest_options, run_ingest

    home = HqHome(world.hq_home)
    broker = broker_for(home)
    engine = make_engine(home.database_url())
    stop_ingest = threading.Event()

    def ingest() -> None:
        async def main() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(run_ingest(
                Ingestor(engine, home.keys()), ingest_options(home, broker.url), stop))
            while not stop_ingest.is_set():
                await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(main())

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        for key, value in (("broker", broker.url), ("ack_grace_hours", "0")):
            assert world.kit("config", "set", key, value, "--by", "siti",
                             pin=SUPERVISOR_PIN) == 0
        yield engine
    finally:
        stop_ingest.set()
        thread.join(timeout=30)
        engine.dispose()


def test_enrol_on_sim_then_sync_once(world, broker_for, capsys):
    from hq.packets import PacketStore

    with _ingest(world, broker_for) as engine:
        niks = world.niks(2)
        capsys.readouterr()
        assert world.kit("enrol", *[a for n in niks for a in ("--nik", n)], "--sim",
                         "--json", pin=OPERATOR_PIN) == 0
        sealed = json.loads(capsys.readouterr().out)
        assert world.kit("sync", "--once", "--json", "--ack-timeout", "5",
                         "--tcp-congestion", "") == 0
        summary = json.loads(capsys.readouterr().out)
        stored = {p.packet_id: p.sha256 for p in PacketStore(engine).list_packets()}
    assert summary["unacknowledged"] == 0 and summary["after"]["purged"] == 2
    assert stored == {p["packet_id"]: p["sha256"] for p in sealed}


def test_a_wiped_kit_tells_hq_and_hq_shows_it(world, broker_for, capsys, tmp_path):
    """A retired kit's packets went onto a stick; the technician wipes it while HQ's
    broker answers: HQ hears it from the kit (signed) and shows it beside the kit."""
    import time

    with _ingest(world, broker_for):
        assert world.kit("operator", "add", "tek", "--role", "technician", "--by", "siti",
                         pin=SUPERVISOR_PIN, new_pin=TECH_PIN) == 0
        assert world.kit("enrol", "--nik", world.niks(1)[0], "--sim", pin=OPERATOR_PIN) == 0
        stick = tmp_path / "stick"
        stick.mkdir()
        assert world.kit("export", "--usb", str(stick)) == 0
        capsys.readouterr()
        assert world.kit("wipe", "--by", "tek", "--yes", "--force", pin=TECH_PIN) == 0
        said = capsys.readouterr()
        assert "HQ was told that kit-test-01 is wiped" in said.out, said.err
        deadline = time.monotonic() + 20
        while True:  # ingest stores the report as it comes
            assert world.hq("devices", "--json") == 0
            (row,) = json.loads(capsys.readouterr().out)
            if row["wiped_at"] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert "wiped by tek; 1 packets not acknowledged (exported to USB)" in row["wipe_detail"]
    assert world.hq("devices") == 0
    shown = capsys.readouterr().out
    assert "WIPED" in shown
    assert "rekam-hq device revoke kit-test-01 --reason retired" in shown
