"""HQ → kit: signed worklists (staged, applied at the next login) and config, over the real
broker; forged, replayed, foreign or stale documents change nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.signing import sign_document
from sync.mqtt import connect
from sync.protocol.config import ConfigUpdate, build_config
from sync.protocol.topics import Channel, topic
from sync.uplink import Uplink

KELURAHAN = "32.75.01.1001"

pytestmark = pytest.mark.broker
PIN = "483920"


def _reports(net) -> list[dict]:
    from hq.packets import PacketStore

    return list(reversed(PacketStore(net.engine).reports()))


async def _until(predicate, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _online(net, device: str) -> bool:
    from hq.fleet import device_overview

    return any(d.device_id == device and d.state == "online"
               for d in device_overview(net.engine))


async def _push_all(net, device: str, channel: Channel, documents: list[bytes],
                    expect_reports: int) -> None:
    """Run the kit's daemon, wait until HQ sees it online, publish each document (retained,
    like rekam-hq push), and wait for the kit's reports."""
    async with net.running_ingest():
        with net.kit(device) as kit:
            stop = asyncio.Event()
            daemon = asyncio.create_task(Uplink(kit, net.settings(device)).run(stop))
            await _until(lambda: _online(net, device))
            async with connect(net.ingest_options("hq-push")) as hq:
                for doc in documents:
                    await hq.publish(topic(device, channel), doc, retain=True)
            await _until(lambda: len(_reports(net)) >= expect_reports)
            stop.set()
            await daemon


def test_worklists_forged_replayed_or_foreign_are_refused_and_a_good_one_staged(net, tmp_path):
    from edge.synth import write_synthetic_csv
    from edge.worklist import build_worklist
    from hq.devices import get_device
    from hq.worklists import make_worklist

    net.add_kit("kit-a")
    net.add_kit("kit-b")
    csv = tmp_path / "residents.csv"
    write_synthetic_csv(csv, [KELURAHAN], 30, seed=5, today=date.today())
    keys = net.keys
    v1, v2, v3 = (make_worklist(net.engine, keys, "kit-a", csv) for _ in range(3))
    for_b = make_worklist(net.engine, keys, "kit-b", csv)
    now = datetime.now(UTC)
    forged = build_worklist(device_id="kit-a", version=99, issued_at=now,
                            expires_at=now + timedelta(days=5), kelurahan=[KELURAHAN],
                            residents=[], signing_key=ed25519.Ed25519PrivateKey.generate(),
                            kit_key=get_device(net.engine, "kit-a").require_worklist_key())
    with net.kit("kit-a") as kit:
        kit.operators.add("siti", "Siti", "supervisor", PIN, by=None)
        kit.import_worklist(v2.data, kit.login("siti", PIN))
        roster_before = kit.status().roster_size

    asyncio.run(_push_all(net, "kit-a", Channel.WORKLIST,
                          [v1.data, forged, for_b.data, v2.data, v3.data], expect_reports=5))
    results = [(r["result"], r["version"]) for r in _reports(net)]
    assert results == [("rejected", None)] * 4 + [("staged", 3)]
    details = " | ".join(r["detail"] for r in _reports(net))
    assert "not newer" in details and "unknown key" in details and "kit-b" in details
    with net.kit("kit-a") as kit:
        status = kit.status()
        assert status.roster_version == 2 and status.roster_size == roster_before
        assert kit.pending_worklist_path.exists()
        assert kit.pending_worklist_path.stat().st_mode & 0o777 == 0o600
        # The next operator login applies it, with the same checks as rekam roster import.
        assert kit.apply_pending_worklist(kit.login("siti", PIN)) == v3.residents
        assert kit.status().roster_version == 3
        assert not kit.pending_worklist_path.exists()
        assert kit.apply_pending_worklist(kit.login("siti", PIN)) is None

    async def report_applied():
        async with net.running_ingest():
            with net.kit("kit-a") as kit:
                stop = asyncio.Event()
                daemon = asyncio.create_task(Uplink(kit, net.settings("kit-a")).run(stop))
                await _until(lambda: _reports(net)[-1]["result"] == "applied")
                stop.set()
                await daemon

    asyncio.run(report_applied())
    assert _reports(net)[-1]["version"] == 3


def test_config_is_applied_once_and_stale_forged_or_forbidden_ones_are_refused(net, capsys):
    from hq.cli import main as hq_main

    net.add_kit("kit-a")
    now = datetime.now(UTC)
    keys = net.keys
    good = build_config(ConfigUpdate("kit-a", 5, now, now + timedelta(days=1),
                                     {"disk_floor_mb": "321", "service_point": "RW 05"}),
                        keys.signing)
    stale = build_config(ConfigUpdate("kit-a", 4, now, now + timedelta(days=1),
                                      {"disk_floor_mb": "100"}), keys.signing)
    forged = build_config(ConfigUpdate("kit-a", 9, now, now + timedelta(days=1),
                                       {"disk_floor_mb": "200"}),
                          ed25519.Ed25519PrivateKey.generate())
    forbidden = sign_document("config", canonical_json(
        {"device_id": "kit-a", "version": 10, "issued_at": now.isoformat(),
         "expires_at": (now + timedelta(days=1)).isoformat(),
         "settings": {"allow_simulated": "true"}}), keys.signing)
    # Signed as an HQ without the range check would have (build_config now refuses it):
    # a zero lockout once made the kit unable to open, sync included.
    bricking = sign_document("config", canonical_json(
        {"device_id": "kit-a", "version": 11, "issued_at": now.isoformat(),
         "expires_at": (now + timedelta(days=1)).isoformat(),
         "settings": {"lockout_minutes": "0", "disk_floor_mb": "300"}}), keys.signing)

    asyncio.run(_push_all(net, "kit-a", Channel.CONFIG,
                          [good, stale, forged, forbidden, bricking], expect_reports=5))
    assert [(r["result"], r["version"]) for r in _reports(net)] == [
        ("applied", 5)] + [("rejected", None)] * 4
    assert "lockout_minutes must be from 1 to 1440" in _reports(net)[-1]["detail"]
    with net.kit("kit-a") as kit:
        assert kit.config.disk_floor_mb == 321 and kit.config.service_point == "RW 05"
        assert kit.config.allow_simulated is False
        assert kit.state.get("config_version") == "5"

    # rekam-hq push config signs the next version for the kit, and publishes it.
    capsys.readouterr()
    assert hq_main(["push", "config", "kit-a", "disk_floor_mb=400", "--home",
                    str(net.hq.root), "--broker", net.broker.url, "--no-publish"]) == 0
    assert "config v1 for kit-a" in capsys.readouterr().out
    # HQ refuses, before signing, what the kit would refuse: one line, no version used.
    for bad in ("lockout_minutes=0", "disk_floor_mb=lots", "hal=sim", "allow_simulated=true",
                "broker=mqtts://"):
        assert hq_main(["push", "config", "kit-a", bad, "--home", str(net.hq.root),
                        "--broker", net.broker.url, "--no-publish"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: config refused: ") and err.count("\n") == 1, err
    assert hq_main(["push", "config", "kit-a", "lockout_minutes=15", "--home",
                    str(net.hq.root), "--broker", net.broker.url, "--no-publish"]) == 0
    assert "config v2 for kit-a" in capsys.readouterr().out


def test_a_worklist_from_the_register_is_pushed_and_staged(net, tmp_path, monkeypatch, capsys):
    """rekam-hq worklist KIT --push: built from the register and the schedule, published
    retained, staged by the kit's daemon, applied at the next login."""
    from edge.residents_csv import write_csv
    from edge.synth import generate_residents
    from hq.cli import main as hq_main

    net.add_kit("kit-a")
    monkeypatch.setenv("REKAM_HQ_HOME", str(net.hq.root))
    people = list(generate_residents([KELURAHAN], 60, 8, today=date.today()))
    write_csv(tmp_path / "wajib.csv", people)
    assert hq_main(["residents", "import", str(tmp_path / "wajib.csv")]) == 0
    rw = max({p.rw for p in people}, key=lambda r: sum(p.rw == r for p in people))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert hq_main(["schedule", "add", "--kit", "kit-a", "--date", tomorrow.isoformat(),
                    "--place", f"Balai RW {rw}", "--kelurahan", KELURAHAN, "--rw", rw]) == 0
    capsys.readouterr()
    assert hq_main(["worklist", "kit-a", "--push", "--broker", net.broker.url]) == 0
    out = capsys.readouterr().out
    wanted = sum(p.rw == rw for p in people)
    assert f"worklist v1 for kit-a: {wanted} residents, 1 visits" in out
    assert "published (retained)" in out

    async def stage() -> None:
        async with net.running_ingest():
            with net.kit("kit-a") as kit:
                stop = asyncio.Event()
                daemon = asyncio.create_task(Uplink(kit, net.settings("kit-a")).run(stop))
                await _until(lambda: any(r["result"] == "staged" for r in _reports(net)))
                stop.set()
                await daemon

    asyncio.run(stage())
    with net.kit("kit-a") as kit:
        kit.operators.add("siti", "Siti", "supervisor", PIN, by=None)
        assert kit.apply_pending_worklist(kit.login("siti", PIN)) == wanted
        assert kit.status().roster_version == 1
