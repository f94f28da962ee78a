"""Ingest acks "stored" only what HQ can open, and one bad packet never blocks its batch:
a packet sealed to a key that is not HQ's, in an unknown suite or with a header field out
of form is refused with a reason the kit is told (and keeps the packet); a packet the
database refuses is dead-lettered alone while its batch mates are stored and acked."""

from __future__ import annotations

import pytest
from hq_world import craft, full_manifest, make_world, manifest_zip, sealed
from sqlalchemy.exc import DataError

from edge.keys import SealingPrivateKey
from hq.packets import PacketStore
from sync.mqtt import Incoming
from sync.protocol.acks import AckStatus, verify_ack
from sync.protocol.chunks import Chunk
from sync.protocol.topics import Channel, topic

both = pytest.mark.parametrize("db_url", ["sqlite", pytest.param(
    "postgres", marks=pytest.mark.postgres)], indirect=True)


@pytest.fixture
def hq(tmp_path, db_url):
    world = make_world(tmp_path, db_url)
    yield world
    for kit in world.kits.values():
        kit.close()
    world.engine.dispose()


def _message(kit, data: bytes, packet_id: str) -> Incoming:
    import hashlib

    chunk = Chunk(packet_id, hashlib.sha256(data).hexdigest(), len(data), 1, 0, 0, data)
    return Incoming(topic(kit.device_id, Channel.PACKET), chunk.encode(), False)


def _acks(kit, out) -> dict[str, object]:
    acks = [verify_ack(p, trusted=kit.trusted_hq_keys(), device_id=kit.device_id)
            for _, p in out]
    return {a.packet_id: a for a in acks}


def _good(hq, i: int) -> tuple[str, bytes]:
    manifest, files = full_manifest(hq.kit, hq.niks[i])
    return manifest.packet_id, sealed(hq.kit, manifest, files)


@both
def test_refused_packets_are_told_why_and_their_batch_mates_are_stored(hq):
    from hq.ingest import Ingestor

    kit = hq.kit
    foreign = SealingPrivateKey.generate().public()
    zipped = manifest_zip(*full_manifest(kit, hq.niks[0]))
    bad = {
        "foreign-key": craft(kit, zipped, packet_id="foreign-key", hq_key=foreign),
        "unknown-suite": craft(kit, zipped, packet_id="unknown-suite",
                               header={"suite": "X25519/HKDF-SHA256/AES128GCM"}),
        "long-created": craft(kit, zipped, packet_id="long-created",
                              header={"created_at": "2026-11-24T09:30:00+00:00" + "0" * 80}),
        "long-suite": craft(kit, zipped, packet_id="long-suite", header={"suite": "S" * 65}),
        "old-format": craft(kit, zipped, packet_id="old-format",
                            header={"format": "rekam-packet/0"}),
    }
    good = [_good(hq, i) for i in range(3)]
    batch = [_message(kit, good[0][1], good[0][0])]
    batch += [_message(kit, data, pid) for pid, data in bad.items()]
    batch += [_message(kit, data, pid) for pid, data in good[1:]]
    ingestor = Ingestor(hq.engine, hq.keys)
    acks = _acks(kit, ingestor.handle_batch(batch))
    assert {pid: acks[pid].status for pid, _ in good} == {pid: AckStatus.STORED
                                                          for pid, _ in good}
    reasons = {pid: acks[pid].reason for pid in bad}
    assert all(acks[pid].status is AckStatus.REJECTED for pid in bad)
    assert reasons["foreign-key"].startswith("foreign_key: packet sealed to key "
                                             f"{foreign.key_id}, not one of HQ's")
    assert reasons["unknown-suite"].startswith("unknown_suite: ")
    assert reasons["long-created"].startswith("malformed_packet: packet header field "
                                              "created_at is not an ISO 8601 time")
    assert reasons["long-suite"].startswith("malformed_packet: packet header field suite")
    assert reasons["old-format"].startswith("unknown_format: packet format rekam-packet/0")
    store = PacketStore(hq.engine)
    assert {p.packet_id for p in store.list_packets()} == {pid for pid, _ in good}
    assert store.dead_letter_counts() == {"foreign_key": 1, "unknown_suite": 1,
                                          "malformed_packet": 2, "unknown_format": 1}


@both
def test_a_packet_the_database_refuses_is_dead_lettered_alone(hq, monkeypatch):
    from hq.ingest import Ingestor

    kit = hq.kit
    good = [_good(hq, i) for i in range(4)]
    poison = good[1][0]
    real = PacketStore.store_packets

    def store_packets(self, items, now):  # type: ignore[no-untyped-def]
        if any(i.header.packet_id == poison for i in items):
            raise DataError("INSERT", {}, Exception("value too long for type"))
        return real(self, items, now)

    monkeypatch.setattr(PacketStore, "store_packets", store_packets)
    ingestor = Ingestor(hq.engine, hq.keys)
    acks = _acks(kit, ingestor.handle_batch([_message(kit, d, p) for p, d in good]))
    assert acks[poison].status is AckStatus.REJECTED
    assert acks[poison].reason.startswith("store_failed: HQ's database refused the packet")
    assert [acks[p].status for p, _ in good if p != poison] == [AckStatus.STORED] * 3
    store = PacketStore(hq.engine)
    assert len(store.list_packets()) == 3
    [dead] = store.list_dead_letters()
    assert dead.packet_id == poison and dead.reason_code == "store_failed" and dead.alert


@both
def test_hq_keeps_the_audit_anchor_and_alerts_when_it_goes_back_or_forks(hq, capsys,
                                                                          monkeypatch):
    from datetime import UTC, datetime, timedelta

    from hq.cli import main
    from hq.ingest import Ingestor
    from sync.protocol.status import Status, sign_status

    kit = hq.kit
    ingestor = Ingestor(hq.engine, hq.keys)
    t0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    def heartbeat(minutes: int, seq: int, digest: str) -> None:
        status = Status(kit.device_id, "online", t0 + timedelta(minutes=minutes),
                        session=t0.isoformat(), audit_head={"seq": seq, "hash": digest})
        ingestor.handle(topic(kit.device_id, Channel.STATUS),
                        sign_status(status, kit.device_key()))

    heartbeat(0, 10, "a" * 64)
    heartbeat(5, 12, "b" * 64)
    heartbeat(3, 11, "c" * 64)  # a heartbeat arriving late: consistent, no alert
    assert ingestor.counts["audit_alert"] == 0
    heartbeat(10, 9, "d" * 64)  # the log lost entries 10-12
    heartbeat(15, 12, "e" * 64)  # entry 12 with another hash: rewritten
    assert ingestor.counts["audit_alert"] == 2
    monkeypatch.setenv("REKAM_HQ_DATABASE_URL",
                       hq.engine.url.render_as_string(hide_password=False))
    capsys.readouterr()
    assert main(["--home", str(hq.home.root), "devices"]) == 0
    out = capsys.readouterr().out
    assert "#12 bbbbbbbb ALERT×2" in out
    assert "audit_backwards: the audit log went back from entry 12" in out
    assert "audit_fork: audit entry 12 has hash eeeeeeeeeeeeeeee" in out
    assert main(["--home", str(hq.home.root), "devices", "--json"]) == 0
    import json

    [row] = json.loads(capsys.readouterr().out)
    assert (row["audit_seq"], row["alerts"]) == (12, 2)
