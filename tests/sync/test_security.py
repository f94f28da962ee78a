"""No kit may speak for another: the broker's ACL and mTLS, and ingest's own checks."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.errors import ConnectFailed
from sync.mqtt import ConnectOptions, TlsFiles, connect
from sync.protocol.chunks import split_packet
from sync.protocol.topics import Channel, topic

pytestmark = pytest.mark.broker


def _options(net, device: str, **kw) -> ConnectOptions:
    from sync.uplink import Uplink

    with net.kit(device) as kit:
        return Uplink(kit, net.settings(device)).connect_options()


async def _collect(link, into: list, seconds: float) -> None:
    async def take():
        async for m in link.messages():
            into.append(m)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(take(), timeout=seconds)


def test_a_kit_cannot_publish_for_or_read_another(net):
    net.add_kit("kit-a")
    net.add_kit("kit-b")
    a, b = _options(net, "kit-a"), _options(net, "kit-b")
    hq = net.ingest_options("hq-watch")

    async def scenario():
        seen_by_hq: list = []
        seen_by_a: list = []
        seen_by_b: list = []
        async with connect(hq) as hq_link, connect(a) as a_link, connect(b) as b_link:
            await hq_link.subscribe("rekam/v1/+/up/#")
            await a_link.subscribe("rekam/v1/kit-b/down/#")  # Mosquitto grants, never delivers
            await a_link.subscribe("rekam/v1/+/down/#")
            await b_link.subscribe("rekam/v1/kit-b/down/#")
            await a_link.publish(topic("kit-b", Channel.PACKET), b"forged by kit-a")
            await a_link.publish(topic("kit-b", Channel.STATUS), b"forged by kit-a")
            await a_link.publish("rekam/v1/kit-b/down/ack", b"a fake ack from kit-a")
            await a_link.publish(topic("kit-a", Channel.STATUS), b"kit-a's own")
            await hq_link.publish(topic("kit-b", Channel.ACK), b"for kit-b only")
            await asyncio.gather(_collect(hq_link, seen_by_hq, 1.0),
                                 _collect(a_link, seen_by_a, 1.0),
                                 _collect(b_link, seen_by_b, 1.0))
        return seen_by_hq, seen_by_a, seen_by_b

    seen_by_hq, seen_by_a, seen_by_b = asyncio.run(scenario())
    assert [(m.topic, m.payload) for m in seen_by_hq] == [
        ("rekam/v1/kit-a/up/status", b"kit-a's own")]
    assert seen_by_a == []
    assert [(m.topic, m.payload) for m in seen_by_b] == [
        ("rekam/v1/kit-b/down/ack", b"for kit-b only")]


def test_no_certificate_or_another_ca_is_refused(net, tmp_path: Path):
    from edge.keys import write_private, write_public
    from hq import ca

    net.add_kit("kit-a")
    good = _options(net, "kit-a")
    assert good.tls is not None
    no_cert = ConnectOptions(good.address, "kit-a", TlsFiles(good.tls.ca_cert, None, None),
                             connect_timeout=2)
    rogue_key = ca.new_ec_key()
    rogue_ca = ca.make_ca(rogue_key, datetime.now(UTC))
    key = ca.new_ec_key()
    cert = ca.issue(rogue_key, rogue_ca, common_name="kit-a", public_key=key.public_key(),
                    now=datetime.now(UTC))
    write_private(tmp_path / "rogue.key", ca.key_pem(key))
    write_public(tmp_path / "rogue.crt", ca.cert_pem(cert))
    rogue = ConnectOptions(good.address, "kit-a",
                           TlsFiles(good.tls.ca_cert, tmp_path / "rogue.crt",
                                    tmp_path / "rogue.key"), connect_timeout=2)
    plain = ConnectOptions(type(good.address)("localhost", good.address.port, tls=False),
                           "kit-a", None, connect_timeout=2)

    async def attempt(options):
        async with connect(options) as link:
            await link.subscribe("rekam/v1/kit-a/down/#")

    for options in (no_cert, rogue, plain):
        with pytest.raises(ConnectFailed):
            asyncio.run(attempt(options))
    asyncio.run(attempt(good))  # while the real certificate still works


def test_a_packet_signed_by_a_but_published_by_b_is_rejected(net):
    from hq.packets import PacketStore

    net.add_kit("kit-a")
    net.add_kit("kit-b")
    with net.kit("kit-a") as kit_a:
        stolen = net.make_packet(kit_a, 5_000)
    b = _options(net, "kit-b")

    async def scenario():
        async with net.running_ingest() as (ingestor,), connect(b) as link:
            acks: list = []
            await link.subscribe("rekam/v1/kit-b/down/#")
            for chunk in split_packet(stolen.packet_id, stolen.data):
                await link.publish(topic("kit-b", Channel.PACKET), chunk.encode())
            await _collect(link, acks, 1.5)
            return dict(ingestor.counts), acks

    counts, acks = asyncio.run(scenario())
    store = PacketStore(net.engine)
    assert store.list_packets() == []
    dead = store.list_dead_letters()
    assert [d.reason_code for d in dead] == ["misrouted"] and counts["misrouted"] == 1
    assert dead[0].device_id == "kit-b" and dead[0].packet_id == stolen.packet_id
    # kit-b is told (signed) that HQ refused it; it never counts as an ack of storage.
    from sync.protocol.acks import verify_ack

    with net.kit("kit-b") as kit_b:
        ack = verify_ack(acks[0].payload, trusted=kit_b.trusted_hq_keys(), device_id="kit-b")
    assert not ack.confirms_storage and "misrouted" in ack.reason
