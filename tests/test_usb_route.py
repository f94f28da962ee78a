"""The offline route end to end: kit → stick → HQ (the same checks and exactly-once storage
as MQTT ingest) → receipt → kit; and ``rekam-hq packets add`` for single files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kit_world import OPERATOR_PIN

from edge.kit import open_kit
from hq.db import make_engine
from hq.home import HqHome
from hq.packets import PacketStore
from sync.usb import PACKETS, RECEIPT


@pytest.fixture
def sealed(world, capsys) -> list[str]:
    assert world.kit("enrol", *[a for n in world.niks(3) for a in ("--nik", n)], "--sim",
                     "--json", pin=OPERATOR_PIN) == 0
    return [r["packet_id"] for r in json.loads(capsys.readouterr().out)]


def _store(world) -> PacketStore:
    return PacketStore(make_engine(HqHome(world.hq_home).database_url()))


def _states(world) -> dict[str, str]:
    with open_kit(world.kit_home) as kit:
        return {e.packet_id: e.state.value for e in kit.outbox_entries()}


def _stick(world, tmp_path: Path) -> Path:
    stick = tmp_path / "stick"
    stick.mkdir()
    assert world.kit("export", "--usb", str(stick)) == 0
    return stick


def test_a_stick_carries_the_records_to_hq_and_the_receipt_back(
        world, sealed, tmp_path, capsys) -> None:
    stick = _stick(world, tmp_path)
    capsys.readouterr()
    assert world.hq("import-usb", str(stick)) == 0
    out = capsys.readouterr().out
    assert "kit-test-01: 3 packets" in out and "receipt for 3 packets" in out
    held = _store(world).existing_many(set(sealed))
    assert set(held) == set(sealed)
    assert world.kit("import-receipt", str(stick)) == 0
    assert set(_states(world).values()) == {"acked"}


def test_the_same_stick_twice_changes_nothing_at_either_end(
        world, sealed, tmp_path, capsys) -> None:
    stick = _stick(world, tmp_path)
    assert world.hq("import-usb", str(stick)) == 0
    receipt = (stick / "kit-test-01" / RECEIPT).read_bytes()
    deliveries = {p.packet_id: p.deliveries for p in _store(world).list_packets()}
    capsys.readouterr()
    assert world.hq("import-usb", str(stick)) == 0
    assert "already imported" in capsys.readouterr().out
    assert (stick / "kit-test-01" / RECEIPT).read_bytes() == receipt
    assert {p.packet_id: p.deliveries for p in _store(world).list_packets()} == deliveries
    assert world.kit("import-receipt", str(stick)) == 0
    states = _states(world)
    with open_kit(world.kit_home) as kit:
        head = kit.audit.head()
    assert world.kit("import-receipt", str(stick)) == 0
    assert _states(world) == states
    with open_kit(world.kit_home) as kit:
        assert kit.audit.head() == head


def test_a_packet_altered_on_the_stick_is_refused_and_stays_on_the_kit(
        world, sealed, tmp_path, capsys) -> None:
    stick = _stick(world, tmp_path)
    victim = stick / "kit-test-01" / PACKETS / f"{sealed[1]}.pkt"
    data = bytearray(victim.read_bytes())
    data[-10] ^= 1
    victim.write_bytes(bytes(data))
    capsys.readouterr()
    assert world.hq("import-usb", str(stick)) == 1
    out = capsys.readouterr().out
    assert "does not match the kit's manifest" in out and "receipt for 2 packets" in out
    assert sealed[1] not in _store(world).existing_many(set(sealed))
    assert world.kit("import-receipt", str(stick)) == 0
    states = _states(world)
    assert [states[p] for p in sealed] == ["acked", "sent", "acked"]


def test_a_manifest_not_signed_by_the_kit_is_refused(world, sealed, tmp_path, capsys) -> None:
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from edge.signing import parse_document
    from sync.usb import MANIFEST, Manifest, ManifestEntry, sign_manifest

    stick = _stick(world, tmp_path)
    path = stick / "kit-test-01" / MANIFEST
    body = json.loads(parse_document(path.read_bytes()).body)
    forged = Manifest("kit-test-01", datetime.now(UTC),
                      [ManifestEntry(**p) for p in body["packets"]], None)
    path.write_bytes(sign_manifest(forged, ed25519.Ed25519PrivateKey.generate()))
    capsys.readouterr()
    assert world.hq("import-usb", str(stick)) == 1
    assert "error:" in capsys.readouterr().err
    assert not _store(world).existing_many(set(sealed))
    assert not (stick / "kit-test-01" / RECEIPT).exists()


def test_packets_add_stores_a_file_as_ingest_would_and_refuses_what_ingest_refuses(
        world, sealed, tmp_path, capsys) -> None:
    one = tmp_path / "one.pkt"
    assert world.kit("outbox", "export", sealed[0], "-o", str(one)) == 0
    junk = tmp_path / "junk.pkt"
    junk.write_bytes(b"not a packet at all")
    capsys.readouterr()
    assert world.hq("packets", "add", str(one)) == 0
    assert f"stored       {sealed[0]} (kit-test-01)" in capsys.readouterr().out
    assert world.hq("packets", "add", str(one)) == 0
    assert f"already held {sealed[0]}" in capsys.readouterr().out
    assert world.hq("packets", "add", str(junk)) == 1
    assert "not a Rekam packet" in capsys.readouterr().out
    # A packet whose signature does not verify with its kit's key is refused, not stored.
    data = bytearray(one.read_bytes())
    data[-5] ^= 1
    (tmp_path / "bad.pkt").write_bytes(bytes(data))
    store_before = len(_store(world).list_packets())
    assert world.hq("packets", "add", str(tmp_path / "bad.pkt")) == 1
    assert len(_store(world).list_packets()) == store_before


def test_the_manifest_audit_head_reaches_hq(world, sealed, tmp_path) -> None:
    from hq.anchors import latest_heads

    stick = _stick(world, tmp_path)
    assert world.hq("import-usb", str(stick)) == 0
    with open_kit(world.kit_home) as kit:
        seq, digest = kit.audit.head()
    head = latest_heads(_store(world).engine)["kit-test-01"]
    assert (head.seq, head.hash) == (seq, digest)


def test_a_revoked_kits_stick_is_refused(world, sealed, tmp_path, capsys) -> None:
    from sqlalchemy import update

    from hq.db import devices

    stick = _stick(world, tmp_path)
    with _store(world).engine.begin() as conn:
        conn.execute(update(devices).values(status="revoked"))
    capsys.readouterr()
    assert world.hq("import-usb", str(stick)) == 1
    assert "revoked" in capsys.readouterr().err
    assert not _store(world).existing_many(set(sealed))
    assert not (stick / "kit-test-01" / RECEIPT).exists()
