"""HQ distrusts what it opens: every packet is checked against the manifest schema and the
programme's rules, and what fails is flagged in words, never silently accepted."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hq_world import (
    craft,
    full_manifest,
    make_world,
    manifest_zip,
    sealed,
    with_exception,
    with_sbi_evidence,
    zip_of,
)

from edge.errors import IntegrityError
from edge.manifest_schema import ManifestInvalid, schema, validate_manifest
from hal.sbi_evidence import SbiTrust
from hq.inspect import FlagCode


@pytest.fixture
def hq(tmp_path, db_url):
    world = make_world(tmp_path, db_url)
    yield world
    for kit in world.kits.values():
        kit.close()
    world.engine.dispose()


@pytest.fixture
def provider_ca(tmp_path):
    from sbi_fakes import sbi_keys

    keys = sbi_keys()
    path = tmp_path / "providers.pem"
    path.write_bytes(keys.pem(keys.root))
    return SbiTrust.from_bundle(path)


def codes(inspection) -> set[str]:
    return {f.code.value for f in inspection.flags}


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_real_recording_with_signed_device_evidence_is_clean(hq, provider_ca):
    manifest, files = with_sbi_evidence(*full_manifest(hq.kit, hq.niks[0], backend="sbi"))
    inspection = hq.inspect(sealed(hq.kit, manifest, files), sbi_trust=provider_ca)
    assert inspection.flags == ()
    assert inspection.manifest == manifest and inspection.files == files


def test_an_approved_exception_completes_the_set(hq, provider_ca):
    manifest, files = with_sbi_evidence(*with_exception(
        *full_manifest(hq.kit, hq.niks[0], backend="sbi"), "left_ring"))
    assert hq.inspect(sealed(hq.kit, manifest, files), sbi_trust=provider_ca).clean


def test_simulated_captures_from_a_production_kit_are_flagged(hq):
    inspection = hq.inspect(sealed(hq.kit, *full_manifest(hq.kit, hq.niks[0])))
    [flag] = inspection.flagged(FlagCode.SIMULATED)
    assert "14 captures come from simulated devices" in flag.message
    assert "not registered for training" in flag.message


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_training_kits_simulated_packet_is_marked_training_not_flagged_as_fake(hq):
    """HQ's registration decides (devices.training), not the packet: the same simulated
    captures are training from a training kit, and flagged from a production one."""
    from hq.worklists import make_worklist

    trainer = hq.add_kit("kit-latihan", training=True)
    make_worklist(hq.engine, hq.keys, "kit-latihan", hq.tmp / "residents.csv")
    inspection = hq.inspect(sealed(trainer, *full_manifest(trainer, hq.niks[0])))
    assert inspection.training is True
    assert codes(inspection) == {"training"}
    [flag] = inspection.flagged(FlagCode.TRAINING)
    assert "kit-latihan is registered for training" in flag.message
    production = hq.inspect(sealed(hq.kit, *full_manifest(hq.kit, hq.niks[0])))
    assert production.training is False
    assert codes(production) == {"simulated"}


def test_a_real_finger_without_device_evidence_is_flagged(hq):
    manifest, files = full_manifest(hq.kit, hq.niks[0], backend="libfprint")
    flags = hq.inspect(sealed(hq.kit, manifest, files)).flagged(FlagCode.EVIDENCE_MISSING)
    assert len(flags) == 12
    assert "finger right_thumb from libfprint" in flags[0].message


@pytest.mark.parametrize("mode,swap,code,words", [
    ("tampered", False, FlagCode.EVIDENCE_INVALID, "does not verify"),
    ("stranger", False, FlagCode.EVIDENCE_INVALID, "does not verify"),
    ("good", True, FlagCode.EVIDENCE_INVALID, "not the one the device signed"),
])
def test_device_evidence_that_fails_is_flagged(hq, provider_ca, mode, swap, code, words):
    manifest, files = with_sbi_evidence(*full_manifest(hq.kit, hq.niks[0], backend="sbi"),
                                        mode=mode, swap_image=swap)
    flags = hq.inspect(sealed(hq.kit, manifest, files), sbi_trust=provider_ca).flagged(code)
    assert len(flags) == 12 and words in flags[0].message


def test_evidence_hq_cannot_trace_to_a_provider_ca_is_flagged(hq, tmp_path):
    from sbi_fakes import sbi_keys

    manifest, files = with_sbi_evidence(*full_manifest(hq.kit, hq.niks[0], backend="sbi"))
    data = sealed(hq.kit, manifest, files)
    [flag] = hq.inspect(data, sbi_trust=SbiTrust()).flagged(FlagCode.EVIDENCE_UNTRUSTED)
    assert "holds no device-provider CA" in flag.message
    other = tmp_path / "other.pem"
    other.write_bytes(sbi_keys().pem(sbi_keys().stranger))
    flags = hq.inspect(data, sbi_trust=SbiTrust.from_bundle(other)).flagged(
        FlagCode.EVIDENCE_UNTRUSTED)
    assert len(flags) == 12 and "not from a trusted device provider" in flags[0].message


def test_an_incomplete_set_and_unlisted_files_are_flagged(hq):
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    manifest = replace(manifest, captures=manifest.captures[:-1])  # no left iris
    files["../../etc/cron.d/x"] = b"* * * * * root sh"
    inspection = hq.inspect(craft(hq.kit, manifest_zip(manifest, files),
                                  packet_id=manifest.packet_id))
    [incomplete] = inspection.flagged(FlagCode.INCOMPLETE)
    assert incomplete.message.endswith("iris left")
    assert any("not a single safe file name" in f.message
               for f in inspection.flagged(FlagCode.CONTAINER))
    assert any("does not list" in f.message for f in inspection.flagged(FlagCode.FILES))
    assert "iris_left.jp2" not in inspection.files
    assert all("/" not in n for n in inspection.files)


def test_a_nik_hq_never_sent_the_kit_and_another_kelurahan_are_flagged(hq):
    manifest, files = full_manifest(hq.kit, "3275014101059999")
    manifest = replace(manifest, kelurahan="32.75.01.1002")
    inspection = hq.inspect(sealed(hq.kit, manifest, files))
    [nik] = inspection.flagged(FlagCode.NOT_ON_WORKLIST)
    assert "3275014101059999 is on no worklist HQ sent kit kit-a" in nik.message
    [place] = inspection.flagged(FlagCode.KELURAHAN)
    assert "32.75.01.1002 is not one kit kit-a serves" in place.message


def test_insane_times_are_flagged(hq):
    future = datetime.now(UTC) + timedelta(days=3)
    manifest, files = full_manifest(hq.kit, hq.niks[0], now=future)
    flags = hq.inspect(sealed(hq.kit, manifest, files)).flagged(FlagCode.TIMESTAMPS)
    assert any("sealed in the future" in f.message for f in flags)
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    late = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    manifest = replace(manifest, captures=[replace(manifest.captures[0], captured_at=late),
                                           *manifest.captures[1:]])
    flags = hq.inspect(sealed(hq.kit, manifest, files)).flagged(FlagCode.TIMESTAMPS)
    assert any("outside the enrolment's start and seal: face" in f.message for f in flags)


@pytest.mark.parametrize("change,field,words", [
    (lambda m: m["captures"][3].update(position="nose"), "captures[3].position",
     "must be one of"),
    (lambda m: m.update(nik="32750141010500"), "nik", "must match pattern"),
    (lambda m: m.update(colour="red"), "manifest", "must not contain {'colour'}"),
    (lambda m: m.pop("kelurahan"), "manifest", "must contain"),
    (lambda m: m.update(service_point="x" * 5000), "service_point", "shorter than"),
    (lambda m: m.update(service_point="Balai\x1b[2J"), "service_point", "must match"),
    (lambda m: m["captures"][0].update(evidence="../../x.jws"), "captures[0].evidence",
     "must be null"),
])
def test_a_manifest_failing_the_schema_is_flagged_naming_the_field(hq, change, field, words):
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    body = json.loads(json.dumps(manifest.to_dict()))
    change(body)
    inspection = hq.inspect(craft(hq.kit, manifest_zip(body, files),
                                  packet_id=manifest.packet_id))
    [flag] = inspection.flags
    assert flag.code is FlagCode.SCHEMA and flag.field == field, flag
    assert words in flag.message and "TypeError" not in flag.message
    assert inspection.manifest is None and inspection.files == {}


def test_an_unknown_manifest_format_is_flagged(hq):
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    body = {**manifest.to_dict(), "format": "rekam-manifest/9"}
    [flag] = hq.inspect(craft(hq.kit, manifest_zip(body, files))).flags
    assert flag.code is FlagCode.UNKNOWN_FORMAT and "rekam-manifest/9" in flag.message


def test_a_packet_hq_cannot_read_raises(hq):
    from edge.keys import SealingPrivateKey

    foreign = SealingPrivateKey.generate().public()
    with pytest.raises(IntegrityError, match="sealed to HQ key"):
        hq.inspect(craft(hq.kit, b"PK", hq_key=foreign))


def test_the_kit_refuses_to_seal_a_manifest_that_breaks_the_schema(hq):
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    with pytest.raises(ManifestInvalid, match="manifest field nik"):
        sealed(hq.kit, replace(manifest, nik="12"), files)


def test_the_schema_file_is_the_one_both_ends_use():
    data = schema()
    assert data["properties"]["format"] == {"const": "rekam-manifest/1",
                                            "description": data["properties"]["format"]
                                            ["description"]}
    assert data["additionalProperties"] is False
    path = Path(__file__).parent.parent.parent / "edge" / "schemas" / "manifest.schema.json"
    assert json.loads(path.read_text()) == data
    with pytest.raises(ManifestInvalid):
        validate_manifest([])


def test_cli_open_prints_each_flag_and_exits_4(hq, tmp_path, capsys, monkeypatch):
    from hq.cli import main

    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", str(hq.engine.url.render_as_string(
        hide_password=False)))
    packet = tmp_path / "p.rkp"
    packet.write_bytes(sealed(hq.kit, *full_manifest(hq.kit, hq.niks[0])))
    assert main(["--home", str(hq.home.root), "open", str(packet)]) == 4
    out = capsys.readouterr().out
    assert "FLAGGED for review (1):" in out and "- simulated: 14 captures" in out


def test_cli_open_extracts_only_listed_files_as_safe_names(hq, tmp_path, capsys, monkeypatch):
    from hq.cli import main

    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", str(hq.engine.url.render_as_string(
        hide_password=False)))
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    hostile = zip_of([("manifest.json", json.dumps(manifest.to_dict()).encode()),
                      *files.items(), ("../escape.txt", b"x"), ("/tmp/abs.txt", b"x"),
                      ("sub/dir.txt", b"x")])
    packet = tmp_path / "p.rkp"
    packet.write_bytes(craft(hq.kit, hostile, packet_id=manifest.packet_id))
    out = tmp_path / "out"
    assert main(["--home", str(hq.home.root), "open", str(packet), "--extract", str(out)]) == 4
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    assert not (tmp_path / "escape.txt").exists() and not os.path.exists("/tmp/abs.txt")
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in out.iterdir())
    text = capsys.readouterr().out
    assert "not a single safe file name" in text


def test_a_packet_whose_audit_head_goes_back_is_flagged(hq):
    from hq.anchors import record_head

    now = datetime.now(UTC)
    record_head(hq.engine, "kit-a", {"seq": 50, "hash": "f" * 64}, now - timedelta(hours=1),
                "heartbeat", now)
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    manifest = replace(manifest, audit_head={"seq": 40, "hash": "0" * 64})
    [flag] = hq.inspect(sealed(hq.kit, manifest, files)).flagged(FlagCode.AUDIT_ANCHOR)
    assert "went back from entry 50" in flag.message
