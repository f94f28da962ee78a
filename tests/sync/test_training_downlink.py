"""HQ's decision on training travels in every config it signs and in the kit's heartbeat:
a config that says production turns a kit's simulated devices off, the heartbeat says what
the kit holds, and HQ shows a kit claiming a training it never granted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.config import KitPaths
from edge.kit import Kit, install_bundle
from edge.operators import KdfParams
from edge.provisioning import open_bundle
from sync import downlink
from sync.protocol.config import ConfigUpdate, build_config, verify_config
from sync.protocol.status import sign_status, verify_status

KELURAHAN = "32.75.01.1001"


@pytest.fixture
def hq(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    from hq.db import make_engine
    from hq.home import HqHome

    home = HqHome(tmp_path / "hq")
    home.init()
    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", f"sqlite:///{tmp_path / 'hq.db'}")
    engine = make_engine(f"sqlite:///{tmp_path / 'hq.db'}")
    yield home, engine
    engine.dispose()


def _kit(hq, tmp_path: Path, device_id: str, *, training: bool) -> Kit:
    from hq.devices import add_device

    home, engine = hq
    data, code = add_device(engine, home.keys(), device_id, [KELURAHAN], "",
                            training=training)
    install_bundle(KitPaths(tmp_path / device_id), open_bundle(data, code))
    return Kit(tmp_path / device_id, kdf=KdfParams(memory_kib=8192, iterations=1))


def _config(hq, device_id: str, version: int, training: bool | None,
            settings: dict[str, str] | None = None) -> bytes:
    now = datetime.now(UTC)
    return build_config(ConfigUpdate(device_id, version, now, now + timedelta(days=1),
                                     settings or {}, training=training), hq[0].keys().signing)


def test_a_config_saying_production_turns_the_kits_simulated_devices_off(hq, tmp_path):
    with _kit(hq, tmp_path, "kit-latihan", training=True) as kit:
        kit.set_setting("hal", "sim")
        assert kit.config.simulation_allowed
        report = downlink.handle_config(kit, _config(hq, "kit-latihan", 1, False,
                                                     {"service_point": "Balai RW 5"}))
        assert report is not None and report.result == "applied"
        config = kit.config
        assert (config.training, config.allow_simulated, config.hal) == (False, False, "auto")
        assert config.service_point == "Balai RW 5"
    with Kit(tmp_path / "kit-latihan") as again:  # saved: the next start is production too
        assert again.config.training is False and not again.config.problems
        [entry] = [e for e in again.audit.entries() if e.action == "config_applied"]
        assert entry.detail["training"] is False


def test_a_config_that_does_not_say_keeps_what_the_kit_holds(hq, tmp_path):
    with _kit(hq, tmp_path, "kit-latihan", training=True) as kit:
        report = downlink.handle_config(kit, _config(hq, "kit-latihan", 1, None,
                                                     {"disk_floor_mb": "300"}))
        assert report is not None and report.result == "applied"
        assert kit.config.training is True and kit.config.disk_floor_mb == 300


def test_training_is_never_a_setting_hq_pushes(hq, tmp_path):
    from edge.errors import DocumentRejected

    with pytest.raises(DocumentRejected, match="decided when HQ registers the kit"):
        _config(hq, "kit-01", 1, None, {"training": "true"})


def test_rekam_hq_push_config_restates_the_kits_registration(hq, tmp_path, capsys):
    from hq.cli import main as hq_main

    home, _ = hq
    _kit(hq, tmp_path, "kit-01", training=False).close()
    out = tmp_path / "config.signed"
    assert hq_main(["--home", str(home.root), "push", "config", "kit-01", "--no-publish",
                    "-o", str(out)]) == 0
    assert "config v1 for kit-01 (production kit)" in capsys.readouterr().out
    keys = home.keys()
    update = verify_config(out.read_bytes(),
                           trusted={keys.signing_key_id: keys.signing.public_key()},
                           device_id="kit-01", current_version=0, now=datetime.now(UTC))
    assert update.training is False and update.settings == {}


def test_the_heartbeat_says_whether_the_kit_is_a_training_kit(hq, tmp_path):
    from sync.settings import SyncSettings
    from sync.uplink import Uplink

    for device_id, training in (("kit-latihan", True), ("kit-01", False)):
        with _kit(hq, tmp_path, device_id, training=training) as kit:
            status = Uplink(kit, SyncSettings.load(kit.paths.root)).status("online")
            signed = sign_status(status, kit.device_key())
            heard = verify_status(signed, device_key=kit.device_key().public_key(),
                                  device_id=device_id)
            assert heard.training is training


def test_a_status_with_a_training_that_is_not_a_boolean_is_refused(hq, tmp_path):
    from edge.canonical import canonical_json
    from edge.signing import sign_document
    from sync.errors import ProtocolError

    with _kit(hq, tmp_path, "kit-01", training=False) as kit:
        body = {"device_id": "kit-01", "state": "online",
                "at": datetime.now(UTC).isoformat(), "training": "yes"}
        signed = sign_document("status", canonical_json(body), kit.device_key())
        with pytest.raises(ProtocolError, match="training is not true or false"):
            verify_status(signed, device_key=kit.device_key().public_key(),
                          device_id="kit-01")


def test_hq_shows_a_kit_claiming_a_training_hq_never_granted(hq, tmp_path, capsys):
    """A production kit whose heartbeat says training (its config.json edited by hand):
    HQ keeps its own decision and says so in rekam-hq devices."""
    from dataclasses import replace

    from hq.cli import main as hq_main
    from hq.packets import PacketStore
    from sync.settings import SyncSettings
    from sync.uplink import Uplink

    home, engine = hq
    with _kit(hq, tmp_path, "kit-01", training=False) as kit:
        kit.config = replace(kit.config, training=True)  # what a hand-edited file claims
        status = Uplink(kit, SyncSettings.load(kit.paths.root)).status("online")
        heard = verify_status(sign_status(status, kit.device_key()),
                              device_key=kit.device_key().public_key(), device_id="kit-01")
    assert PacketStore(engine).record_status(heard, datetime.now(UTC))
    assert hq_main(["--home", str(home.root), "devices"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("kit-01 "))
    assert "production (KIT SAYS training)" in row
    assert "kit-01 says it is a training kit, but HQ registered it for production" in out
