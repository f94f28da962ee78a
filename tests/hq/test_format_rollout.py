"""A new manifest or packet format is rolled out kit by kit: HQ, updated first, reads the old
and the new one side by side (docs/protocol/versioning.md), each manifest against the schema
of the format it names, and takes in and opens exactly the packet formats it lists."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hq_world import full_manifest, make_world, sealed, with_sbi_evidence

from edge import manifest_schema, packet
from edge.errors import InvalidInput
from edge.manifest_schema import ManifestInvalid, validate_manifest
from hal.sbi_evidence import SbiTrust
from hq import accept
from hq.accept import Rejected, accept_packet
from hq.devices import get_device

V2 = "rekam-manifest/2"


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


@pytest.fixture
def two_manifest_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """HQ's release that reads rekam-manifest/1 and a /2 whose one change is a shorter
    service_point: two schema files side by side, as a real rollout would ship them."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    (folder / "manifest.schema.json").write_text(manifest_schema.schema_text())
    v2 = copy.deepcopy(manifest_schema.schema())
    v2["title"] = f"Rekam packet manifest, format {V2}"
    v2["properties"]["format"]["const"] = V2
    v2["properties"]["service_point"]["maxLength"] = 60
    (folder / "manifest-2.schema.json").write_text(json.dumps(v2))
    manifest_schema.schema.cache_clear()
    manifest_schema._validator.cache_clear()
    monkeypatch.setattr(manifest_schema, "SCHEMA_DIR", folder)
    monkeypatch.setitem(manifest_schema.SCHEMA_FILES, V2, "manifest-2.schema.json")
    yield
    manifest_schema.schema.cache_clear()
    manifest_schema._validator.cache_clear()


def test_hq_opens_old_and_new_manifest_formats_side_by_side(hq, provider_ca,
                                                            two_manifest_formats):
    new_kit = hq.add_kit("kit-new")
    from hq.issued import record_worklist

    # both kits were sent the resident (HQ checks the NIK against what it sent each kit)
    record_worklist(hq.engine, "kit-new", 1, *_times(), [_resident(hq, hq.niks[1])])
    old = with_sbi_evidence(*full_manifest(hq.kit, hq.niks[0], backend="sbi"))
    new_manifest, new_files = with_sbi_evidence(*full_manifest(new_kit, hq.niks[1],
                                                               backend="sbi"))
    new_manifest = replace(new_manifest, format=V2)
    for data in (sealed(hq.kit, *old), sealed(new_kit, new_manifest, new_files)):
        inspection = hq.inspect(data, sbi_trust=provider_ca)
        assert inspection.flags == ()
    assert inspection.manifest is not None and inspection.manifest.format == V2


def test_each_manifest_is_held_to_the_schema_of_the_format_it_names(hq, two_manifest_formats):
    manifest, _ = full_manifest(hq.kit, hq.niks[0])
    long_place = replace(manifest, service_point="Balai Pertemuan Warga RW 005 " * 3)
    validate_manifest(long_place.to_dict())  # fine under /1
    with pytest.raises(ManifestInvalid, match="service_point"):
        validate_manifest(replace(long_place, format=V2).to_dict())  # /2 is stricter
    with pytest.raises(ManifestInvalid, match="unknown manifest format 'rekam-manifest/3'"):
        validate_manifest(replace(manifest, format="rekam-manifest/3").to_dict())


def test_a_kit_cannot_seal_a_manifest_of_a_format_it_does_not_know(hq):
    manifest, files = full_manifest(hq.kit, hq.niks[0])
    with pytest.raises(ManifestInvalid, match="unknown manifest format"):
        sealed(hq.kit, replace(manifest, format=V2), files)


def test_ingest_and_opening_take_exactly_the_packet_formats_hq_lists(hq, provider_ca,
                                                                    monkeypatch):
    from hq_world import craft, manifest_zip

    manifest, files = with_sbi_evidence(*full_manifest(hq.kit, hq.niks[0], backend="sbi"))
    data = craft(hq.kit, manifest_zip(manifest, files), packet_id=manifest.packet_id,
                 header={"format": "rekam-packet/2", "created_at": manifest.sealed_at})
    device = get_device(hq.engine, hq.kit.device_id)
    with pytest.raises(Rejected) as refused:
        accept_packet(device, hq.keys, data)
    assert refused.value.code == "unknown_format"
    with pytest.raises(InvalidInput, match="rekam-packet/2 is not one HQ reads"):
        hq.inspect(data, sbi_trust=provider_ca)
    # HQ's release that reads /1 and /2 lists both: one set for ingest and for opening
    both = frozenset({packet.PACKET_FORMAT, "rekam-packet/2"})
    monkeypatch.setattr(packet, "KNOWN_PACKET_FORMATS", both)
    monkeypatch.setattr(accept, "KNOWN_PACKET_FORMATS", both)
    assert accept_packet(device, hq.keys, data).format == "rekam-packet/2"
    old = sealed(hq.kit, *with_sbi_evidence(*full_manifest(hq.kit, hq.niks[1],
                                                           backend="sbi")))
    assert accept_packet(device, hq.keys, old).format == "rekam-packet/1"
    assert hq.inspect(data, sbi_trust=provider_ca).flags == ()


def _times():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return now, now + timedelta(days=30)


def _resident(hq, nik):  # type: ignore[no-untyped-def]
    from edge.residents_csv import read_csv

    return next(r for r in read_csv(hq.tmp / "residents.csv") if r.nik == nik)
