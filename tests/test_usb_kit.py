"""The offline route at the kit, and the technician's wipe: ``rekam export --usb`` puts
every unacknowledged packet and a signed manifest on a stick, ``rekam import-receipt``
takes HQ's signed receipt back exactly as MQTT acks would, and ``rekam wipe`` refuses to
lose a record."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kit_world import OPERATOR_PIN, SUPERVISOR_PIN

from edge.config import KitPaths
from edge.kit import open_kit
from hq.home import HqHome
from sync.protocol.acks import Ack, AckStatus, sign_ack
from sync.usb import MANIFEST, PACKETS, RECEIPT, Receipt, sign_receipt, verify_manifest

TECH_PIN = "860412"


@pytest.fixture
def sealed(world, capsys) -> list[str]:
    """Three residents recorded: three sealed packets HQ has not seen."""
    assert world.kit("enrol", *[a for n in world.niks(3) for a in ("--nik", n)], "--sim",
                     "--json", pin=OPERATOR_PIN) == 0
    return [r["packet_id"] for r in json.loads(capsys.readouterr().out)]


def _states(world) -> dict[str, str]:
    with open_kit(world.kit_home) as kit:
        return {e.packet_id: e.state.value for e in kit.outbox_entries()}


def _receipt(world, stick: Path, packet_ids: list[str], *, key=None) -> None:
    """What HQ's import-usb writes: one signed ack per stored packet, bound to the
    manifest (made here with HQ's key, as HQ would)."""
    folder = stick / "kit-test-01"
    manifest = (folder / MANIFEST).read_bytes()
    signing = key or HqHome(world.hq_home).keys().signing
    acks = []
    for pid in packet_ids:
        digest = hashlib.sha256((folder / PACKETS / f"{pid}.pkt").read_bytes()).hexdigest()
        acks.append(sign_ack(Ack("kit-test-01", pid, digest, AckStatus.STORED,
                                 datetime.now(UTC)), signing))
    receipt = Receipt("kit-test-01", hashlib.sha256(manifest).hexdigest(), datetime.now(UTC),
                      acks)
    (folder / RECEIPT).write_bytes(sign_receipt(receipt, signing))


def test_export_puts_every_unacknowledged_packet_and_a_signed_manifest_on_the_stick(
        world, sealed, tmp_path, capsys) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    assert world.kit("export", "--usb", str(stick)) == 0
    assert "3 packets" in capsys.readouterr().out
    folder = stick / "kit-test-01"
    with open_kit(world.kit_home) as kit:
        key = kit.device_key().public_key()
    manifest = verify_manifest((folder / MANIFEST).read_bytes(), device_key=key,
                               device_id="kit-test-01")
    assert sorted(p.packet_id for p in manifest.packets) == sorted(sealed)
    assert manifest.audit_head is not None and manifest.audit_head["seq"] > 0
    with open_kit(world.kit_home) as kit:
        for pid in sealed:  # the exact wire bytes, still in the outbox (never purged by this)
            assert (folder / PACKETS / f"{pid}.pkt").read_bytes() == kit.outbox.data(pid)
    assert set(_states(world).values()) == {"sent"}
    # A second export writes the same packets again, and nothing else.
    assert world.kit("export", "--usb", str(stick)) == 0
    assert sorted(p.name for p in (folder / PACKETS).iterdir()) == sorted(
        f"{pid}.pkt" for pid in sealed)


def test_the_receipt_acknowledges_exactly_the_packets_it_names_and_twice_changes_nothing(
        world, sealed, tmp_path, capsys) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    assert world.kit("export", "--usb", str(stick)) == 0
    _receipt(world, stick, sealed[:2])
    capsys.readouterr()
    assert world.kit("import-receipt", str(stick)) == 0
    assert "2 packets acknowledged now, 0 already" in capsys.readouterr().out
    states = _states(world)
    assert [states[p] for p in sealed] == ["acked", "acked", "sent"]
    with open_kit(world.kit_home) as kit:
        audit_before = kit.audit.head()
    assert world.kit("import-receipt", str(stick)) == 0
    assert "0 packets acknowledged now, 2 already" in capsys.readouterr().out
    assert _states(world) == states
    with open_kit(world.kit_home) as kit:  # not even the log changes
        assert kit.audit.head() == audit_before


def test_a_receipt_not_signed_by_hq_changes_nothing(world, sealed, tmp_path, capsys) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    stick = tmp_path / "stick"
    stick.mkdir()
    assert world.kit("export", "--usb", str(stick)) == 0
    _receipt(world, stick, sealed, key=ed25519.Ed25519PrivateKey.generate())
    capsys.readouterr()
    assert world.kit("import-receipt", str(stick)) == 1
    assert "error:" in capsys.readouterr().err
    assert set(_states(world).values()) == {"sent"}


def test_a_receipt_for_another_manifest_is_refused(world, sealed, tmp_path, capsys) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    assert world.kit("export", "--usb", str(stick)) == 0
    _receipt(world, stick, sealed)
    receipt = (stick / "kit-test-01" / RECEIPT).read_bytes()
    assert world.kit("export", "--usb", str(stick)) == 0  # a new manifest since
    (stick / "kit-test-01" / RECEIPT).write_bytes(receipt)
    capsys.readouterr()
    assert world.kit("import-receipt", str(stick)) == 1
    assert "another manifest" in capsys.readouterr().err
    assert set(_states(world).values()) == {"sent"}


@pytest.fixture
def technician(world) -> str:
    assert world.kit("operator", "add", "tek", "--role", "technician", "--by", "siti",
                     pin=SUPERVISOR_PIN, new_pin=TECH_PIN) == 0
    return "tek"


def test_wipe_refuses_while_packets_are_unacknowledged_and_not_exported(
        world, sealed, technician, tmp_path, capsys) -> None:
    capsys.readouterr()
    assert world.kit("wipe", "--by", technician, "--yes", pin=TECH_PIN) == 1
    assert "3 packets are not yet acknowledged" in capsys.readouterr().err
    assert world.kit("wipe", "--by", technician, "--yes", "--force", pin=TECH_PIN) == 1
    assert "were never exported" in capsys.readouterr().err
    assert KitPaths(world.kit_home).config.exists()


def test_only_a_technician_may_wipe(world, technician, capsys) -> None:
    capsys.readouterr()
    assert world.kit("wipe", "--by", "siti", "--yes", pin=SUPERVISOR_PIN) == 1
    assert "only a technician" in capsys.readouterr().err


def test_wipe_after_export_destroys_keys_roster_outbox_and_state(
        world, sealed, technician, tmp_path, capsys) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    assert world.kit("export", "--usb", str(stick)) == 0
    secret = KitPaths(world.kit_home).device_signing_key.read_bytes()
    capsys.readouterr()
    assert world.kit("wipe", "--by", technician, "--yes", "--force", pin=TECH_PIN) == 0
    captured = capsys.readouterr()
    assert "kit-test-01 wiped" in captured.out
    assert "HQ could not be told" in captured.err  # no broker in this test
    assert world.kit_home.is_dir() and not any(world.kit_home.iterdir())
    # The packets survive only on the stick, sealed for HQ.
    assert len(list((stick / "kit-test-01" / PACKETS).iterdir())) == 3
    assert world.kit("status") == 1
    assert secret not in b"".join(p.read_bytes() for p in stick.rglob("*") if p.is_file())
