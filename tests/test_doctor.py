"""`rekam doctor`: a readable checklist that exits 0 only when the kit can serve residents."""

from __future__ import annotations

import os

import pytest
from kit_world import SUPERVISOR_PIN, read_json


def test_a_kit_on_simulated_devices_is_a_training_kit_never_ready(world, capsys):
    assert world.kit("doctor") == 3  # not 0: a script must not take it for a ready kit
    out = capsys.readouterr().out
    assert "Pemeriksaan kesiapan kit kit-test-01" in out  # Bahasa Indonesia by default
    assert "MODE LATIHAN — perangkat simulasi (kamera, pemindai sidik jari" in out
    assert "BUKAN untuk melayani warga" in out
    assert "KIT SIAP" not in out and "SIMULASI" in out
    assert world.kit("doctor", "--lang", "en") == 3
    out = capsys.readouterr().out
    assert "TRAINING MODE — simulated devices" in out and "KIT READY" not in out
    assert world.kit("doctor", "--json") == 3
    report = read_json(capsys)
    assert report["ready"] is False and report["training"] is True
    assert {"camera", "fingerprint", "iris", "signature"} <= set(report["simulated"])


@pytest.fixture
def real_devices(monkeypatch):
    """The simulated backends answering as real hardware would (backend not "sim")."""
    from hal.backends import sim_capture, sim_peripherals
    from hal.types import DeviceInfo

    for module in (sim_capture, sim_peripherals):  # each looks _info up in its own globals
        monkeypatch.setattr(module, "_info", lambda control, kind, model: DeviceInfo(
            kind=kind, model=f"Bench {model}", serial=f"BENCH-{kind}", firmware="1",
            backend="bench"))


def test_a_kit_on_real_devices_is_ready(world, capsys, real_devices):
    assert world.kit("doctor") == 0
    out = capsys.readouterr().out
    assert "KIT SIAP melayani warga." in out and "MODE LATIHAN" not in out
    assert world.kit("doctor", "--lang", "en") == 0
    assert "KIT READY" in capsys.readouterr().out


def test_every_line_fits_a_technicians_80_column_terminal(world, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    world.kit("doctor", "--lang", "en")
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    # A long detail goes on under its own column, whole words: "(rekam roster import FILE)"
    # and the simulated devices' names are never cut in two.
    text = " ".join(line.strip() for line in lines)
    assert "SIMULATED, not real hardware" in text
    assert any(line.startswith(" " * 20) for line in lines)


def test_times_are_in_wib_and_say_so(world, capsys):
    from datetime import UTC, datetime

    from edge.clock import WIB

    world.kit("doctor", "--json")
    clock = next(c for c in read_json(capsys)["checks"] if c["key"] == "clock")
    shown = datetime.strptime(clock["detail"][:16], "%Y-%m-%d %H:%M").replace(tzinfo=WIB)
    assert clock["detail"].endswith("WIB")
    assert abs((datetime.now(UTC) - shown).total_seconds()) < 3600  # WIB, not UTC read as WIB


def test_auto_finding_nothing_says_what_it_looked_for_and_what_to_check(world, capsys):
    assert world.kit("config", "set", "hal", "auto", "--by", "siti", pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("doctor", "--json") == 3  # simulated stand-ins: a training kit
    checks = {c["key"]: c for c in read_json(capsys)["checks"]}
    iris = checks["iris"]  # no SBI service here (a camera might be plugged in, an iris not)
    assert iris["status"] == "warn"
    assert iris["detail"].startswith("tidak ditemukan; dicari: pemindai bersertifikat "
                                     "(layanan SBI). Periksa kabel USB pemindai iris")
    assert "sementara memakai perangkat simulasi" in iris["detail"]
    assert world.kit("config", "set", "allow_simulated", "false", "--by", "siti",
                     pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("doctor", "--lang", "en", "--json") == 1
    iris = next(c for c in read_json(capsys)["checks"] if c["key"] == "iris")
    assert iris["status"] == "fail"
    assert iris["detail"] == ("not found; looked for: certified scanner (SBI service). Check "
                              "the iris scanner's USB cable and its SBI service, then run "
                              "'rekam doctor' again")


def test_production_kit_refuses_simulated_capture_devices(world, capsys):
    assert world.kit("config", "set", "allow_simulated", "false", "--by", "siti",
                     pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("doctor", "--json") == 1
    report = read_json(capsys)
    assert report["ready"] is False
    failing = {c["key"] for c in report["checks"] if c["status"] == "fail"}
    assert {"camera", "fingerprint", "iris", "signature"} <= failing


def test_loose_key_permissions_fail(world, capsys):
    key = world.kit_home / "keys" / "device-signing.key"
    os.chmod(key, 0o644)
    assert world.kit("doctor", "--json") == 1
    keys = next(c for c in read_json(capsys)["checks"] if c["key"] == "keys")
    assert keys["status"] == "fail" and "readable by others" in keys["detail"]


def test_unreachable_broker_is_only_a_warning(world, capsys, real_devices):
    assert world.kit("config", "set", "broker", "mqtts://127.0.0.1:9", "--by", "siti",
                     pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("doctor", "--json") == 0
    broker = next(c for c in read_json(capsys)["checks"] if c["key"] == "broker")
    assert broker["status"] == "warn" and "tidak terjangkau" in broker["detail"]


def test_missing_roster_fails(world, capsys, tmp_path, monkeypatch):
    from edge.kit import Kit
    from edge.kit_roster import ROSTER_VERSION

    kit = Kit(world.kit_home)
    kit.state.set(ROSTER_VERSION, "")
    kit.close()
    assert world.kit("doctor", "--json") == 1
    roster = next(c for c in read_json(capsys)["checks"] if c["key"] == "roster")
    assert roster["status"] == "fail"


def test_a_setting_out_of_range_in_config_json_is_a_warning_not_a_dead_kit(world, capsys,
                                                                           real_devices):
    import json

    path = world.kit_home / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "lockout_minutes": 0}))
    assert world.kit("doctor", "--json") == 0
    settings = next(c for c in read_json(capsys)["checks"] if c["key"] == "settings")
    assert settings["status"] == "warn" and "lockout_minutes" in settings["detail"]


def test_doctor_keeps_a_readiness_summary_for_the_heartbeat(world, capsys):
    from edge import readiness

    assert readiness.load(world.kit_home) is None  # never checked yet
    assert world.kit("doctor") == 3
    summary = readiness.load(world.kit_home)
    assert summary is not None and not summary.ready  # a training kit: HQ sees it not ready
    assert summary.devices["camera"] == "warn"  # simulated, and said so
    assert "camera" in summary.simulated and summary.paper == "ok"
    assert summary.roster == "ok" and summary.roster_age_days == 0
    assert summary.free_disk_mb > 0 and not summary.failing
    text = (world.kit_home / readiness.FILE).read_text()
    assert "nik" not in text.lower()  # no personal data in it


def test_receipt_paper_out_is_a_warning_and_in_the_summary(world, capsys, monkeypatch):
    from edge import readiness
    from hal.backends.sim_peripherals import SimulatedReceiptPrinter

    monkeypatch.setattr(SimulatedReceiptPrinter, "paper", lambda self: "out")
    assert world.kit("doctor") == 3  # a kit without receipts still records (a training one)
    assert "kertas struk habis" in capsys.readouterr().out
    summary = readiness.load(world.kit_home)
    assert summary is not None and summary.paper == "out"
    assert "receipt_printer" in summary.warnings
