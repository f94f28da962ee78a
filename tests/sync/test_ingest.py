"""HQ ingest's handler on hostile and odd input, without a network: it never raises, refuses
with a reason, keeps dead letters, reassembles durably and stores exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from contextlib import asynccontextmanager

import pytest

from edge.config import KitConfig, KitPaths
from edge.kit import Kit, install_bundle
from edge.operators import KdfParams
from edge.provisioning import open_bundle
from sync.mqtt import Incoming
from sync.protocol.acks import AckStatus
from sync.protocol.chunks import Chunk, split_packet
from sync.protocol.status import Status, sign_status
from sync.protocol.topics import ONLINE_TOPIC, Channel, topic

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
    m = Manifest(packet_id=str(uuid6.uuid7()), nik="3275014101050001",
                 kelurahan="32.75.01.1001", device_id=kit.device_id,
                 operator_id="budi", service_point="x", started_at=now.isoformat(),
                 sealed_at=now.isoformat(), software_version="t")
    return seal(m, {"face.jpg": os.urandom(size)}, hq_key=kit.hq_sealing_key(),
                device_key=kit.device_key(), created_at=now)


def _frames(packet, chunk_size=65536):
    return [c.encode() for c in split_packet(packet.packet_id, packet.data,
                                             chunk_size=chunk_size)]


def _chunked_packet(env):
    """kit-a's 300 kB packet as the five chunk messages HQ receives, and HQ's store."""
    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    up = topic("kit-a", Channel.PACKET)
    packet = _packet(a, 300_000)
    frames = [Incoming(up, f, False) for f in _frames(packet)]
    return ingestor, a, up, packet, frames, PacketStore(ingestor.engine)


def _ack(ingestor, kit, result):
    from sync.protocol.acks import verify_ack

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
    m = Manifest(packet_id=first.packet_id, nik="3275014101050001",
                 kelurahan="32.75.01.1001", device_id="kit-a",
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

    from hq.fleet import device_overview

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
    row = next(d for d in device_overview(ingestor.engine) if d.device_id == "kit-a")
    assert (row.state, row.queue_depth) == ("online", 7)
    ingestor.handle(name, sign_status(will, a.device_key()))
    row = next(d for d in device_overview(ingestor.engine) if d.device_id == "kit-a")
    assert row.state == "offline"
    assert json.loads(json.dumps(row.queue_depth)) == 0


def test_kit_config_keeps_its_device_id():
    cfg = KitConfig(device_id="kit-a")
    assert cfg.device_id == "kit-a"


def _seal_with_id(kit, packet_id, payload=b"other"):
    import datetime as dt

    from edge.packet import Manifest, seal

    now = dt.datetime.now(dt.UTC)
    m = Manifest(packet_id=packet_id, nik="3275014101050001",
                 kelurahan="32.75.01.1001", device_id=kit.device_id,
                 operator_id="budi", service_point="x", started_at=now.isoformat(),
                 sealed_at=now.isoformat(), software_version="t")
    return seal(m, {"face.jpg": payload}, hq_key=kit.hq_sealing_key(),
                device_key=kit.device_key(), created_at=now)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_one_batch_stores_each_packet_once_and_tells_repeats_and_conflicts_apart(env):
    """A batch is stored with one multi-row insert: new packets stored, the same packet
    twice in the batch stored once (then a duplicate), a reused id refused as a conflict."""
    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    up = topic("kit-a", Channel.PACKET)
    stored = _packet(a)
    assert _ack(ingestor, a, ingestor.handle(up, _frames(stored)[0])).status is AckStatus.STORED
    new1, new2 = _packet(a), _packet(a, 100_000)
    clash = _seal_with_id(a, stored.packet_id)
    batch = [*_frames(new1), *_frames(new2), *_frames(new1), *_frames(clash)]
    acks = [_ack(ingestor, a, r) for r in
            ingestor.handle_batch([Incoming(up, f, False) for f in batch], hold=True)]
    got = sorted((k.packet_id, k.status.value) for k in acks)
    assert got == sorted([(new1.packet_id, "stored"), (new2.packet_id, "stored"),
                          (new1.packet_id, "duplicate"), (stored.packet_id, "rejected")])
    store = PacketStore(ingestor.engine)
    assert store.count_packets() == 3 and store.chunks_pending() == 0
    assert store.packet_data(stored.packet_id) == stored.data
    assert {p.packet_id: p.deliveries for p in store.list_packets()}[new1.packet_id] == 2
    assert [d.reason_code for d in store.list_dead_letters()] == ["conflict"]


def test_chunks_cut_by_a_batch_boundary_are_assembled_in_memory(env):
    ingestor, a, _up, packet, frames, store = _chunked_packet(env)
    assert ingestor.handle_batch(frames[:2], hold=True) == []
    assert ingestor.holding and store.chunks_pending() == 0  # held, not written
    assert ingestor.handle_batch(frames[2:4], hold=True) == []  # it grew: still held
    assert store.chunks_pending() == 0
    (result,) = ingestor.handle_batch(frames[4:], hold=True)
    assert _ack(ingestor, a, result).status is AckStatus.STORED
    assert not ingestor.holding and store.chunks_pending() == 0
    assert store.packet_data(packet.packet_id) == packet.data


def test_held_chunks_are_written_when_none_of_the_missing_ones_come_and_on_flush(env):
    from hq.ingest import Ingestor

    ingestor, a, up, packet, frames, store = _chunked_packet(env)
    ingestor.handle_batch(frames[:2], hold=True)
    other = Incoming(up, _frames(_packet(a))[0], False)  # another kit's packet, say
    assert len(ingestor.handle_batch([other], hold=True)) == 1
    assert store.chunks_pending() == 2 and not ingestor.holding  # no progress: written
    ingestor.handle_batch(frames[2:3], hold=True)
    assert ingestor.holding and store.chunks_pending() == 2
    assert ingestor.flush() == []  # an idle link, or a stop: written too
    assert store.chunks_pending() == 3 and not ingestor.holding
    restarted = Ingestor(ingestor.engine, ingestor.keys)  # nothing held survives, none needed
    (result,) = restarted.handle_batch(frames[3:], hold=True)
    assert _ack(restarted, a, result).status is AckStatus.STORED
    assert store.packet_data(packet.packet_id) == packet.data and store.chunks_pending() == 0


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_twin_workers_holding_chunks_store_every_packet_exactly_once(env):
    """The shared subscription deals a packet's chunks round-robin to two workers: neither
    can assemble it in memory, so both write their chunks and one completes it."""
    from hq.ingest import Ingestor
    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    up = topic("kit-a", Channel.PACKET)
    twin = Ingestor(ingestor.engine, ingestor.keys)
    packets = [_packet(a, 200_000) for _ in range(3)]
    frames = [Incoming(up, f, False) for p in packets for f in _frames(p)]
    acks = []
    for start in range(0, len(frames), 4):  # batches of two chunks for each worker
        part = frames[start : start + 4]
        acks += ingestor.handle_batch(part[0::2], hold=True)
        acks += twin.handle_batch(part[1::2], hold=True)
    acks += ingestor.flush() + twin.flush()
    statuses = sorted((_ack(ingestor, a, r).packet_id, _ack(ingestor, a, r).status.value)
                      for r in acks)
    assert statuses == sorted((p.packet_id, "stored") for p in packets)
    store = PacketStore(ingestor.engine)
    assert store.count_packets() == 3 and store.chunks_pending() == 0
    for p in packets:
        assert store.packet_data(p.packet_id) == p.data


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_worker_completes_a_packet_from_its_twins_chunks_without_writing_its_own(env):
    """The worker holding the rest of a packet whose other chunks a twin wrote assembles it
    from memory and the chunk table: its own chunks are never written, the twin's are
    dropped with the store, and the packet is acked once, as stored."""
    from hq.ingest import Ingestor

    ingestor, a, _up, packet, frames, store = _chunked_packet(env)
    assert ingestor.handle_batch(frames[0::2], hold=True) == []  # a gap: to the table
    assert store.chunks_pending() == len(frames[0::2]) and not ingestor.holding
    twin = Ingestor(ingestor.engine, ingestor.keys)

    def no_writes(*_args, **_kw):  # pragma: no cover - fails the test when called
        pytest.fail("the twin wrote chunks it could complete the packet with")

    twin.store.store_chunks = no_writes  # type: ignore[method-assign]
    (result,) = twin.handle_batch(frames[1::2], hold=True)
    assert _ack(twin, a, result).status is AckStatus.STORED
    assert twin.counts["chunks_joined"] == len(frames[0::2])
    assert store.chunks_pending() == 0 and store.count_packets() == 1
    assert store.packet_data(packet.packet_id) == packet.data


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_two_workers_in_parallel_threads_store_each_chunked_packet_exactly_once(env):
    """Two ingest workers, each with its own database connections, on parallel threads,
    dealt every packet's chunks round-robin (as Mosquitto's shared subscription does) in
    batches of varying size: every packet is stored exactly once, acked as stored exactly
    once, and no chunk is left behind."""
    import random
    import threading

    from hq.db import make_engine
    from hq.ingest import Ingestor
    from hq.packets import PacketStore

    ingestor, kits = env
    a = kits["kit-a"]
    up = topic("kit-a", Channel.PACKET)
    packets = [_packet(a, random.randrange(70_000, 300_000)) for _ in range(8)]
    frames = [Incoming(up, f, False) for p in packets for f in _frames(p)]
    url = ingestor.engine.url.render_as_string(hide_password=False)
    engines = [ingestor.engine, make_engine(url)]
    workers = [Ingestor(e, ingestor.keys) for e in engines]
    acks: list[tuple[str, bytes]] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(2)

    def run(worker: Ingestor, mine: list[Incoming], seed: int) -> None:
        rng = random.Random(seed)
        try:
            gate.wait()
            i = 0
            while i < len(mine):
                n = rng.randint(1, 5)
                acks.extend(worker.handle_batch(mine[i : i + n], hold=True))
                i += n
            acks.extend(worker.flush())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, frames[k::2], k))
               for k, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    engines[1].dispose()
    assert not errors
    stored = sorted(_ack(ingestor, a, r).packet_id for r in acks
                    if _ack(ingestor, a, r).status is AckStatus.STORED)
    assert stored == sorted(p.packet_id for p in packets)
    assert all(_ack(ingestor, a, r).confirms_storage for r in acks)
    store = PacketStore(ingestor.engine)
    assert store.count_packets() == len(packets) and store.chunks_pending() == 0
    for p in packets:
        assert store.packet_data(p.packet_id) == p.data



class _ScriptedLink:
    """The broker as ingest's loop sees it, scripted by a test: messages put in ``inbox``,
    the kits' acks it publishes in ``published`` (the worker's "online" announcement left
    out), the mids it PUBACKs in ``pubacked``. With ``broker_has_acks``, each ack's publish
    waits for that event: the broker's PUBACK for the kit's ack."""

    def __init__(self, broker_has_acks: asyncio.Event | None = None) -> None:
        self.inbox: asyncio.Queue[Incoming] = asyncio.Queue()
        self.published: list[tuple[str, bytes]] = []
        self.pubacked: list[int] = []
        self.broker_has_acks = broker_has_acks

    async def subscribe(self, name, *, timeout=None):  # type: ignore[no-untyped-def]
        pass

    async def publish(self, name, payload, *, retain=False, timeout=None):  # type: ignore[no-untyped-def]
        if name == ONLINE_TOPIC:
            return
        self.published.append((name, payload))
        if self.broker_has_acks is not None:
            await self.broker_has_acks.wait()

    def ack(self, message: Incoming) -> None:
        self.pubacked.append(message.mid)

    async def messages(self):  # type: ignore[no-untyped-def]
        while True:
            yield await self.inbox.get()

    def queued(self) -> int:
        return self.inbox.qsize()

    @asynccontextmanager
    async def connector(self, options):  # type: ignore[no-untyped-def]
        yield self


async def _until(check) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


def test_ingest_loop_writes_held_chunks_when_the_link_goes_quiet_and_on_stop(env, monkeypatch):
    import asyncio

    import hq.ingest_worker as ingest_module
    from hq.packets import PacketStore
    from sync.mqtt import BrokerAddress, ConnectOptions

    monkeypatch.setattr(ingest_module, "HOLD_IDLE", 0.2)
    ingestor, kits = env
    a = kits["kit-a"]
    up = topic("kit-a", Channel.PACKET)
    store = PacketStore(ingestor.engine)
    first, second = _packet(a, 300_000), _packet(a, 300_000)

    link = _ScriptedLink()
    connector, until = link.connector, _until

    async def main() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        options = ConnectOptions(BrokerAddress("localhost", 1, tls=False), "ingest-t", None)
        task = asyncio.create_task(ingest_module.run_ingest(
            ingestor, options, stop, connector=connector, on_ready=ready.set))
        await ready.wait()
        frames = [Incoming(up, f, False, mid) for mid, f in enumerate(_frames(first), 1)]
        for frame in frames[:2]:
            link.inbox.put_nowait(frame)
        await asyncio.sleep(0.05)
        assert link.pubacked == []  # held in memory: not yet HQ's, so not the broker's to drop
        await until(lambda: store.chunks_pending() == 2)  # quiet link: held, then written
        await until(lambda: sorted(link.pubacked) == [1, 2])  # ... and only then PUBACKed
        assert link.published == []
        for frame in frames[2:]:
            link.inbox.put_nowait(frame)
        await until(lambda: len(link.published) == 1)  # after the commit
        assert _ack(ingestor, a, link.published[0]).status is AckStatus.STORED
        assert store.packet_data(first.packet_id) == first.data
        assert sorted(link.pubacked) == [f.mid for f in frames]
        for mid, frame in enumerate(_frames(second)[:3], 100):
            link.inbox.put_nowait(Incoming(up, frame, False, mid))
        await until(lambda: link.inbox.empty())
        stop.set()
        await task
        assert store.chunks_pending() == 3  # what was received is kept across the stop
        assert sorted(link.pubacked)[-3:] == [100, 101, 102]

    asyncio.run(main())


def test_ingest_loop_pubacks_a_packet_only_once_the_broker_has_its_ack(env):
    """A worker killed after its commit but before the broker had the kit's ack must leave
    the packet's messages unacknowledged in its session: its next process gets them again
    and acks them as duplicates. Had it PUBACKed them first, the packet would be stored with
    its ack lost and the kit waiting out its ack timeout (test_recovery's SIGKILL case)."""
    import asyncio

    from hq.ingest_worker import run_ingest
    from hq.packets import PacketStore
    from sync.mqtt import BrokerAddress, ConnectOptions

    ingestor, kits = env
    a = kits["kit-a"]
    up = topic("kit-a", Channel.PACKET)
    packet = _packet(a, 3000)

    # the kits' acks wait for the broker's PUBACK until the test says it came
    link = _ScriptedLink(broker_has_acks=asyncio.Event())
    connector, until = link.connector, _until

    async def main() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        options = ConnectOptions(BrokerAddress("localhost", 1, tls=False), "ingest-t", None)
        task = asyncio.create_task(run_ingest(ingestor, options, stop, connector=connector,
                                              on_ready=ready.set))
        await ready.wait()
        link.inbox.put_nowait(Incoming(up, _frames(packet)[0], False, 7))
        await until(lambda: len(link.published) == 1)  # committed, its ack on the way
        assert PacketStore(ingestor.engine).count_packets() == 1
        await asyncio.sleep(0.1)
        assert link.pubacked == []  # the broker still has the message: a kill loses nothing
        assert link.broker_has_acks is not None
        link.broker_has_acks.set()
        await until(lambda: link.pubacked == [7])
        stop.set()
        await task

    asyncio.run(main())
    assert _ack(ingestor, a, link.published[0]).status is AckStatus.STORED


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_keeps_ciphertext_out_of_line_uncompressed(db_url):
    """Ciphertext does not compress: PostgreSQL must not try (EXTERNAL storage). A database
    made before migrations gets it too (tests/hq/test_hq_schema.py)."""
    from sqlalchemy import text

    from hq.db import make_engine

    engine = make_engine(db_url)
    query = text("SELECT c.relname, a.attstorage FROM pg_attribute a JOIN pg_class c "
                 "ON c.oid = a.attrelid WHERE c.relname IN ('packets', 'packet_chunks') "
                 "AND a.attname = 'data'")
    try:
        with engine.begin() as conn:
            assert dict(conn.execute(query).all()) == {"packets": "e", "packet_chunks": "e"}
    finally:
        engine.dispose()
