"""HQ ingest's handler on hostile and odd input, without a network: it never raises, refuses
with a reason, keeps dead letters, reassembles durably and stores exactly once."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from edge.config import KitConfig, KitPaths
from edge.kit import Kit, install_bundle
from edge.operators import KdfParams
from edge.provisioning import open_bundle
from sync.protocol import AckStatus, Channel, Chunk, Status, sign_status, split_packet, topic

KELURAHAN = "32.75.01.1001"


@pytest.fixture
def env(hq_home, tmp_path):
    from hq.db import make_engine
    from hq.devices import add_device
    from hq.ingest import Ingestor

    engine = make_engine(hq_home.database_url())
    keys = hq_home.keys()
    kits = {}
    for device in ("kit-a", "kit-b"):
        bundle, code = add_device(engine, keys, device, [KELURAHAN], "mqtts://localhost:1")
        install_bundle(KitPaths(tmp_path / device), open_bundle(bundle, code))
        kits[device] = Kit(tmp_path / device, kdf=KdfParams(memory_kib=8192, iterations=1))
    yield Ingestor(engine, keys), kits
    for kit in kits.values():
        kit.close()
    engine.dispose()


def _packet(kit, size=3000):
    import datetime as dt

    import uuid6

    from edge.packet import Manifest, seal

    now = dt.datetime.now(dt.UTC)
    m = Manifest(packet_id=str(uuid6.uuid7()), nik="3275014101050001", device_id=kit.device_id,
                 operator_id="budi", service_point="x", started_at=now.isoformat(),
                 sealed_at=now.isoformat(), software_version="t")
    return seal(m, {"face.jpg": os.urandom(size)}, hq_key=kit.hq_sealing_key(),
                device_key=kit.device_key(), created_at=now)


def _frames(packet, chunk_size=65536):
    return [c.encode() for c in split_packet(packet.packet_id, packet.data,
                                             chunk_size=chunk_size)]


def _ack(ingestor, kit, result):
    from sync.protocol import verify_ack

    name, payload = result
    assert name == topic(kit.device_id, Channel.ACK)
    return verify_ack(payload, trusted=kit.trusted_hq_keys(), device_id=kit.device_id)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_hostile_input_is_refused_with_reasons_and_never_raises(env):
    ingestor, kits = env
    a = kits["kit-a"]
    good = _packet(a)
    whole = Chunk(good.packet_id, good.sha256, good.size, 1, 0, 0, good.data)
    flipped = bytearray(good.data)
    flipped[-100] ^= 1  # in the ciphertext, before the signature
    other = _packet(a)
    up = topic("kit-a", Channel.PACKET)
    cases = {
        "unknown_topic": ("rekam/v1/kit-a/up/nope", b"x"),
        "wrong_direction": ("rekam/v1/kit-a/down/ack", b"x"),
        "unknown_device": (topic("kit-zz", Channel.PACKET), whole.encode()),
        "malformed_chunk": (up, b"\x00" * 40),
        "oversized": (up, b"RKMC" + os.urandom(2 * 1024 * 1024)),
        "hash_mismatch": (up, Chunk(good.packet_id, "0" * 64, good.size, 1, 0, 0,
                                    good.data).encode()),
        "malformed_packet": (up, Chunk("junk", hashlib.sha256(b"junk!").hexdigest(), 5, 1, 0,
                                       0, b"junk!").encode()),
        "bad_signature": (up, Chunk(good.packet_id, hashlib.sha256(flipped).hexdigest(),
                                    good.size, 1, 0, 0, bytes(flipped)).encode()),
        "id_mismatch": (up, Chunk("another-id", other.sha256, other.size, 1, 0, 0,
                                  other.data).encode()),
        "bad_status": (topic("kit-a", Channel.STATUS), b"{not json"),
        "bad_report": (topic("kit-a", Channel.REPORT), b"[]"),
    }
    for name, payload in cases.values():
        ingestor.handle(name, payload)
    from hq.packets import PacketStore

    store = PacketStore(ingestor.engine)
    assert store.list_packets() == []
    assert store.dead_letter_counts() == {code: 1 for code in cases}
    assert {k: ingestor.counts[k] for k in cases} == {k: 1 for k in cases}
    # A status signed by kit-b's key, claiming to be kit-a, on kit-a's topic: refused too.
    status = sign_status(Status("kit-a", "online", __import__("datetime").datetime.now(
        __import__("datetime").UTC)), kits["kit-b"].device_key())
    assert ingestor.handle(topic("kit-a", Channel.STATUS), status) is None
    assert store.dead_letter_counts()["bad_status"] == 2
    # ... and after all that, a good packet is still stored and acked.
    ack = _ack(ingestor, a, ingestor.handle(up, whole.encode()))
    assert ack.status is AckStatus.STORED and ack.sha256 == good.sha256


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_chunks_reassemble_durably_across_an_ingest_restart_and_store_once(env):
    from hq.ingest import Ingestor
    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    packet = _packet(a, 300_000)
    frames = _frames(packet)
    up = topic("kit-a", Channel.PACKET)
    assert len(frames) == 5
    for frame in frames[:3]:
        assert ingestor.handle(up, frame) is None
    store = PacketStore(ingestor.engine)
    assert store.chunks_pending() == 3
    restarted = Ingestor(ingestor.engine, ingestor.keys)  # a new process: nothing in memory
    assert restarted.handle(up, frames[4]) is None
    assert restarted.handle(up, frames[3]) is not None  # the last missing one, out of order
    assert store.packet_data(packet.packet_id) == packet.data
    assert store.chunks_pending() == 0
    # Sent again whole (lost ack): one duplicate ack, on the last chunk; stored once.
    results = [restarted.handle(up, f) for f in frames]
    assert results[:-1] == [None] * 4
    assert _ack(restarted, a, results[-1]).status is AckStatus.DUPLICATE
    assert store.count_packets() == 1 and store.chunks_pending() == 0


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_same_id_with_another_hash_is_refused_and_raises_an_alert(env):
    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    first = _packet(a)
    up = topic("kit-a", Channel.PACKET)
    assert _ack(ingestor, a, ingestor.handle(up, _frames(first)[0])).status is AckStatus.STORED
    # A second, validly signed packet that reuses the id (a kit bug, or a replayed clone).
    import dataclasses

    from edge.packet import Manifest, seal

    now = __import__("datetime").datetime.now(__import__("datetime").UTC)
    m = Manifest(packet_id=first.packet_id, nik="3275014101050001", device_id="kit-a",
                 operator_id="budi", service_point="x", started_at=now.isoformat(),
                 sealed_at=now.isoformat(), software_version="t")
    clash = seal(m, {"face.jpg": b"other"}, hq_key=a.hq_sealing_key(),
                 device_key=a.device_key(), created_at=now)
    assert clash.sha256 != first.sha256
    ack = _ack(ingestor, a, ingestor.handle(up, _frames(clash)[0]))
    assert ack.status is AckStatus.REJECTED and not ack.confirms_storage
    store = PacketStore(ingestor.engine)
    assert store.packet_data(first.packet_id) == first.data
    (dead,) = store.list_dead_letters()
    assert dead.reason_code == "conflict" and dead.alert and dead.packet_id == first.packet_id
    assert dataclasses.is_dataclass(dead)


def test_old_heartbeats_do_not_replace_newer_ones_but_a_last_will_does(env):
    import datetime as dt

    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    t0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    session = t0.isoformat()
    will = Status("kit-a", "offline", t0, session=session)
    beat = Status("kit-a", "online", t0 + dt.timedelta(minutes=5), queue_depth=7,
                  session=session)
    stale = Status("kit-a", "online", t0 + dt.timedelta(minutes=1), queue_depth=99,
                   session=session)
    name = topic("kit-a", Channel.STATUS)
    for status in (beat, stale):
        ingestor.handle(name, sign_status(status, a.device_key()))
    store = PacketStore(ingestor.engine)
    row = next(d for d in store.overview() if d.device_id == "kit-a")
    assert (row.state, row.queue_depth) == ("online", 7)
    ingestor.handle(name, sign_status(will, a.device_key()))
    row = next(d for d in store.overview() if d.device_id == "kit-a")
    assert row.state == "offline"
    assert json.loads(json.dumps(row.queue_depth)) == 0


def test_kit_config_keeps_its_device_id():
    cfg = KitConfig(device_id="kit-a")
    assert cfg.device_id == "kit-a"
