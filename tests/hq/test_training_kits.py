"""Whether a kit may use simulated devices is HQ's decision, taken when it registers the kit
(``rekam-hq device add --training``), kept in its devices table and carried in the signed
provisioning bundle; every kit registered before is a production kit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hq_home import both
from sqlalchemy import text

from edge.config import KitConfig, KitPaths
from edge.kit import install_bundle
from edge.provisioning import open_bundle
from hq import schema
from hq.devices import get_device

KELURAHAN = "32.75.01.1001"


def _add(hq, device_id: str, *flags: str) -> str:
    assert hq.run("device", "add", device_id, "--kelurahan", KELURAHAN, *flags,
                  "-o", str(hq.tmp / f"{device_id}.bundle")) == 0
    return str(hq.out()[0])


@both
def test_hq_registers_training_kits_and_says_which_they_are(hq):
    assert "TRAINING kit" in _add(hq, "kit-latihan", "--training")
    assert "production kit: it refuses simulated devices" in _add(hq, "kit-01")
    assert get_device(hq.engine, "kit-latihan").training is True
    assert get_device(hq.engine, "kit-01").training is False

    assert hq.run("device", "list") == 0
    table, _ = hq.out()
    lines = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert lines["kit-latihan"].split()[1] == "training"
    assert lines["kit-01"].split()[1] == "production"
    assert hq.run("device", "list", "--json") == 0
    listed = {d["device_id"]: d["training"] for d in json.loads(hq.out()[0])}
    assert listed == {"kit-latihan": True, "kit-01": False}
    assert hq.run("devices") == 0
    table, _ = hq.out()
    assert table.splitlines()[0].split()[:2] == ["device", "use"]
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[2:]}
    assert rows == {"kit-01": "production", "kit-latihan": "training"}


@both
def test_the_signed_bundle_carries_the_decision_to_the_kit(hq, tmp_path):
    from hq.devices import add_device
    from hq.home import HqHome

    keys = HqHome(hq.home).keys()
    for device_id, training in (("kit-latihan", True), ("kit-01", False)):
        data, code = add_device(hq.engine, keys, device_id, [KELURAHAN], "", training=training)
        bundle = open_bundle(data, code)
        assert bundle.training is training
        paths = KitPaths(tmp_path / device_id)
        install_bundle(paths, bundle)
        config = KitConfig.load(paths)
        assert (config.training, config.allow_simulated) == (training, training)
        assert config.simulation_allowed is training


@both
def test_kits_registered_before_training_existed_are_production_kits(db_url):
    """The migration adds devices.training, false for every kit HQ already had."""
    from alembic import command

    from hq.db import make_engine

    engine = make_engine(db_url, upgrade=False)
    try:
        with engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), "0011")
            conn.execute(text(
                "INSERT INTO devices (device_id, kelurahan, broker, signing_public, "
                "signing_key_id, cert_pem, created_at, worklist_version, status) VALUES "
                "('kit-lama', :kel, '', :pub, 'k', '', :at, 0, 'active')"),
                {"kel": KELURAHAN, "pub": "A" * 43 + "=",
                 "at": datetime(2026, 11, 1, tzinfo=UTC)})
            command.upgrade(schema.alembic_config(conn), "head")
        assert get_device(engine, "kit-lama").training is False
    finally:
        engine.dispose()
