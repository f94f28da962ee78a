"""The whole story through the real command lines: enrol on simulated devices → seal →
``rekam sync --once`` → Mosquitto → ``rekam-hq`` ingest → signed ack → purge. Uses the
suite's ``world`` fixture (tests/conftest.py); skipped until the simulated devices exist."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

pytest.importorskip("hal.registry")
pytestmark = pytest.mark.broker

OPERATOR_PIN = "571846"
SUPERVISOR_PIN = "483920"


def test_enrol_on_sim_then_sync_once(world, broker_for, capsys):
    from hq.db import make_engine
    from hq.home import HqHome
    from hq.ingest import Ingestor, ingest_options, run_ingest
    from hq.packets import PacketStore

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
        niks = world.niks(2)
        for key, value in (("broker", broker.url), ("ack_grace_hours", "0")):
            assert world.kit("config", "set", key, value, "--by", "siti",
                             pin=SUPERVISOR_PIN) == 0
        capsys.readouterr()
        assert world.kit("enrol", *[a for n in niks for a in ("--nik", n)], "--sim",
                         "--json", pin=OPERATOR_PIN) == 0
        sealed = json.loads(capsys.readouterr().out)
        assert world.kit("sync", "--once", "--json", "--ack-timeout", "5",
                         "--tcp-congestion", "") == 0
        summary = json.loads(capsys.readouterr().out)
    finally:
        stop_ingest.set()
        thread.join(timeout=30)
    assert summary["unacknowledged"] == 0 and summary["after"]["purged"] == 2
    stored = {p.packet_id: p.sha256 for p in PacketStore(engine).list_packets()}
    assert stored == {p["packet_id"]: p["sha256"] for p in sealed}
    engine.dispose()
