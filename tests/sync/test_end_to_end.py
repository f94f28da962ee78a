"""Kit outbox → Mosquitto (mTLS, ACL) → HQ ingest → signed ack → kit purge, for real."""

from __future__ import annotations

import asyncio

import pytest

from edge.outbox import PacketState
from sync.uplink import Uplink

pytestmark = pytest.mark.broker


async def _once(net, device: str, **overrides):
    with net.kit(device) as kit:
        uplink = Uplink(kit, net.settings(device, **overrides))
        stats = await uplink.run(asyncio.Event(), once=True)
        return stats, kit.outbox.counts()


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_upload_store_ack_purge(net):
    from hq.fleet import device_overview
    from hq.packets import PacketStore

    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        small = net.seal(kit, 3, size=5_000)
        big = net.seal(kit, 2, size=200_000)  # 4 chunks of 64 KiB each

    def hq_state() -> str | None:
        return {d.device_id: d.state for d in device_overview(net.engine)}["kit-a"]

    async def scenario():
        async with net.running_ingest() as (ingestor,):
            stats, counts = await _once(net, "kit-a")
            # The goodbye "offline" status was not waited for (no PUBACK), yet it arrives;
            # a clean DISCONNECT sends no last will, so only the goodbye can say it.
            await _until(lambda: hq_state() == "offline", timeout=10)
            return stats, counts, dict(ingestor.counts)

    stats, counts, ingested = asyncio.run(scenario())
    assert counts == {"sealed": 0, "sent": 0, "acked": 0, "purged": 5}
    assert stats.acked == 5 and stats.purged == 5
    assert ingested["stored"] == 5
    store = PacketStore(net.engine)
    stored = {p.packet_id: p for p in store.list_packets()}
    for packet in small + big:
        assert stored[packet.packet_id].sha256 == packet.sha256
        assert store.packet_data(packet.packet_id) == packet.data  # the exact ciphertext
    assert store.chunks_pending() == 0
    assert store.list_dead_letters() == []
    with net.kit("kit-a") as kit:
        for packet in small + big:
            assert kit.outbox.get(packet.packet_id).state is PacketState.PURGED


async def _until(predicate, timeout: float = 30.0, step: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def _stored(net) -> dict[str, str]:
    from hq.packets import PacketStore

    return {p.packet_id: p.sha256 for p in PacketStore(net.engine).list_packets(limit=10**6)}


def _unacked(net, device: str) -> int:
    with net.kit(device) as kit:
        counts = kit.outbox.counts()
    return counts.waiting


def test_same_packet_delivered_twice_is_stored_once(net):
    """A re-send after a lost ack, and a raw duplicate delivery: HQ keeps one copy and acks
    each time; the kit's outbox ends empty."""
    from sync.mqtt import connect
    from sync.protocol.chunks import split_packet
    from sync.protocol.topics import Channel, topic
    from sync.uplink import Uplink

    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 3, size=150_000)

    async def scenario():
        async with net.running_ingest() as (ingestor,):
            with net.kit("kit-a") as kit:
                uplink = Uplink(kit, net.settings("kit-a"))
                opts = uplink.connect_options()
            async with connect(opts) as link:  # the kit's own identity, sending twice
                for _ in range(2):
                    for p in packets:
                        for chunk in split_packet(p.packet_id, p.data):
                            await link.publish(topic("kit-a", Channel.PACKET), chunk.encode())
            await _until(lambda: len(_stored(net)) == 3)
            stats, counts = await _once(net, "kit-a")  # and a third time, through the kit
            return stats, counts, dict(ingestor.counts)

    _stats, counts, ingested = asyncio.run(scenario())
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}
    assert ingested["stored"] == 3 and ingested["duplicate"] >= 3
    assert counts["sealed"] == counts["sent"] == 0 and counts["purged"] == 3
    from hq.packets import PacketStore

    assert all(p.deliveries >= 2 for p in PacketStore(net.engine).list_packets())


def test_broker_killed_and_restarted_mid_upload(net):
    from sync.uplink import Uplink

    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 40, size=120_000)

    async def scenario():
        async with net.running_ingest():
            with net.kit("kit-a") as kit:
                stop = asyncio.Event()
                uplink = Uplink(kit, net.settings("kit-a", window=2, max_inflight=2))
                daemon = asyncio.create_task(uplink.run(stop))
                await _until(lambda: len(_stored(net)) >= 3, step=0.01)
                await asyncio.to_thread(net.broker.kill)
                assert len(_stored(net)) < 40, "the upload finished before the kill"
                await asyncio.sleep(1.0)
                await asyncio.to_thread(net.broker.start)
                await _until(lambda: _unacked(net, "kit-a") == 0, timeout=40)
                stop.set()
                return await daemon

    stats = asyncio.run(scenario())
    assert stats.connects >= 2
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}


def test_sync_daemon_sigkilled_mid_upload_and_restarted(net, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 40, size=120_000)
    home = str(net.kit_homes["kit-a"])
    cmd = [sys.executable, "-m", "sync.cli", "--home", home, "--window", "2",
           "--max-inflight", "2"]

    async def scenario():
        from hq.fleet import device_overview

        async with net.running_ingest():
            with (tmp_path / "daemon.log").open("wb") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
                try:
                    await _until(lambda: len(_stored(net)) >= 3, step=0.01)
                finally:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
            assert len(_stored(net)) < 40, "the upload finished before the kill"
            # The broker publishes the kit's last will: HQ sees it offline.
            await _until(lambda: any(d.state == "offline" for d in
                                     device_overview(net.engine)), timeout=10)
            once = await asyncio.create_subprocess_exec(
                *cmd, "--once", "--json", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            out, _ = await once.communicate()
            return once.returncode, out

    code, out = asyncio.run(scenario())
    assert code == 0, out
    import json

    summary = json.loads(out)
    assert summary["unacknowledged"] == 0
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}
    assert _unacked(net, "kit-a") == 0


def test_two_ingest_workers_share_the_load(net):
    net.add_kit("kit-a")
    net.add_kit("kit-b")
    sealed = []
    for device in ("kit-a", "kit-b"):
        with net.kit(device) as kit:
            sealed += net.seal(kit, 15, size=100_000)

    async def scenario():
        async with net.running_ingest(workers=2) as ingestors:
            results = await asyncio.gather(_once(net, "kit-a"), _once(net, "kit-b"))
            return results, [dict(i.counts) for i in ingestors]

    results, counts = asyncio.run(scenario())
    assert all(c["sealed"] == c["sent"] == 0 for _, c in results)
    assert _stored(net) == {p.packet_id: p.sha256 for p in sealed}
    assert all(c.get("chunk", 0) + c.get("stored", 0) > 0 for c in counts), counts


def test_heartbeat_and_hq_commands(net, capsys):
    import json

    from hq.cli import main as hq_main

    net.add_kit("kit-a")
    net.add_kit("kit-b")
    with net.kit("kit-a") as kit:
        net.seal(kit, 2)

    async def scenario():
        async with net.running_ingest():
            await _once(net, "kit-a")
            await asyncio.sleep(0.3)

    asyncio.run(scenario())
    capsys.readouterr()
    assert hq_main(["devices", "--json", "--home", str(net.hq.root)]) == 0
    devices = {d["device_id"]: d for d in json.loads(capsys.readouterr().out)}
    assert devices["kit-a"]["packets"] == 2 and devices["kit-a"]["queue_depth"] == 0
    assert devices["kit-a"]["state"] in ("online", "offline")
    assert devices["kit-b"]["state"] is None and devices["kit-b"]["packets"] == 0
    assert hq_main(["packets", "--json", "--home", str(net.hq.root)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert len(listing["packets"]) == 2 and listing["dead_letters"] == []
    assert hq_main(["devices", "--home", str(net.hq.root)]) == 0
    assert "kit-a" in capsys.readouterr().out


def test_send_now_wakes_the_daemon_out_of_its_back_off(net, tmp_path):
    """The operator's "kirim sekarang" while the daemon waits minutes to reconnect: the
    daemon is woken (no second MQTT session under the kit's name) and the queue drains
    long before its own retry."""
    import subprocess
    import sys
    import time

    from rekam.bootstrap import ui_services
    from sync.daemon_state import RETRYING, read_state

    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 3, size=30_000)
    home = net.kit_homes["kit-a"]
    net.broker.stop()
    cmd = [sys.executable, "-m", "sync.cli", "--home", str(home), "--backoff-initial", "300",
           "--backoff-max", "300"]

    async def scenario():
        with (tmp_path / "daemon.log").open("wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            try:
                await _until(lambda: (s := read_state(home)) is not None
                             and s.state == RETRYING, timeout=20)
                state = read_state(home)
                assert state.pid == proc.pid and state.last_error
                assert state.retry_at > time.time() + 100  # on its own: minutes from now
                await asyncio.to_thread(net.broker.start)
                async with net.running_ingest():
                    with net.kit("kit-a") as kit:
                        services = ui_services(kit, lambda: None)
                        woke = time.monotonic()
                        result = await asyncio.to_thread(services.send_now, timeout=30)
                        took = time.monotonic() - woke
                    overview_daemon = read_state(home).state
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        return result, took, overview_daemon

    result, took, daemon_state = asyncio.run(scenario())
    assert result.waiting == 0 and result.acked == 3 and not result.error_code, result
    assert took < 30 and daemon_state == "connected"
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}
    assert read_state(home) is None  # it said it stopped
