"""The vault: stored packets become recorded residents, or wait for a supervisor; never a
silent acceptance. On SQLite and PostgreSQL, with packets sealed as kits seal them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hq_home import both
from hq_world import (
    FINGERS,
    KELURAHAN,
    craft,
    full_manifest,
    make_world,
    sealed,
    with_sbi_evidence,
)
from sqlalchemy import func, select

from edge.keys import SealingPrivateKey
from edge.packet import read_header
from hal.sbi_evidence import SbiTrust
from hq.db import coverage_daily, enrolments, packets, resident_events, residents, reviews
from hq.packets import PacketStore
from hq.register import Status
from hq.register_import import import_residents
from hq.review import decide, list_reviews
from hq.vault import Vault, run_vault


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url)
    # The register holds the kit's residents (the CSV its worklist came from), but one.
    rows = (tmp_path / "residents.csv").read_text(encoding="utf-8-sig").splitlines()
    (tmp_path / "register.csv").write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    import_residents(w.engine, tmp_path / "register.csv", by="ani")
    yield w
    for kit in w.kits.values():
        kit.close()
    w.engine.dispose()


@pytest.fixture
def trust(tmp_path) -> SbiTrust:
    from sbi_fakes import sbi_keys

    keys = sbi_keys()
    path = tmp_path / "providers.pem"
    path.write_bytes(keys.pem(keys.root))
    return SbiTrust.from_bundle(path)


def store(world, data: bytes) -> str:
    header = read_header(data)
    PacketStore(world.engine).store_packet(header.device_id, header, data,
                                           hashlib.sha256(data).hexdigest(), datetime.now(UTC))
    return header.packet_id


def recording(world, nik: str, *, backend: str = "sbi", **changes) -> bytes:
    manifest, files = full_manifest(world.kit, nik, backend=backend)
    if backend != "sim":
        manifest, files = with_sbi_evidence(manifest, files)
    return sealed(world.kit, replace(manifest, **changes), files)


def status(world, nik: str) -> str:
    with world.engine.connect() as conn:
        return conn.execute(select(residents.c.status).where(residents.c.nik == nik)
                            ).scalar_one()


def enrolment(world, packet_id: str):
    with world.engine.connect() as conn:
        return conn.execute(select(enrolments).where(enrolments.c.packet_id == packet_id)
                            ).one()


def recorded_total(world) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(coverage_daily.c.recorded), 0))
                                ).scalar_one())


@both
def test_a_clean_recording_marks_the_resident_terekam_with_kit_operator_place_and_time(
        world, trust):
    nik = world.niks[0]
    packet_id = store(world, recording(world, nik))
    vault = Vault(world.engine, world.keys, sbi_trust=trust)
    assert vault.pending() == 1
    counts = run_vault(vault, once=True)
    assert (counts.accepted, counts.review, counts.opened) == (1, 0, 1)
    assert status(world, nik) == Status.TEREKAM
    row = enrolment(world, packet_id)
    assert (row.state, row.device_id, row.operator_id, row.service_point, row.kelurahan) == (
        "accepted", "kit-a", "budi", "Balai RW 005", KELURAHAN)
    assert json.loads(row.flags) == []
    quality = json.loads(row.quality)
    assert quality["captures"]["finger_right_index"]["quality"] == 80
    assert "jp2" not in row.quality and not row.simulated and not row.training
    assert recorded_total(world) == 1
    with world.engine.connect() as conn:
        event = conn.execute(select(resident_events)).one()
        assert (event.status_from, event.status_to, event.source, event.by) == (
            "belum-rekam", "terekam", f"packet {packet_id}", "vault")
        assert conn.execute(select(packets.c.state)).scalar_one() == "opened"
    # Nothing left: a second run opens nothing and changes nothing.
    assert run_vault(vault, once=True).opened == 0


@both
def test_what_the_vault_doubts_waits_for_review_and_a_supervisor_decides(world, trust):
    vault = Vault(world.engine, world.keys, sbi_trust=trust)
    first, sim_nik = world.niks[0], world.niks[2]
    unknown = world.niks[-1]  # on the kit's worklist, not on the register
    ok = store(world, recording(world, first))
    twice = store(world, recording(world, first))
    simulated = store(world, recording(world, sim_nik, backend="sim"))
    stranger = store(world, recording(world, unknown))
    counts = run_vault(vault, once=True)
    assert (counts.accepted, counts.review) == (1, 3)

    def codes(packet_id: str) -> set[str]:
        return {f["code"] for f in json.loads(enrolment(world, packet_id).flags)}

    assert enrolment(world, ok).state == "accepted"
    assert "recorded_twice" in codes(twice) and status(world, first) == Status.TEREKAM
    assert "simulated" in codes(simulated) and status(world, sim_nik) == Status.PERLU_TINJAU
    assert "unknown_nik" in codes(stranger)
    waiting = {r.packet_id: r for r in list_reviews(world.engine)}
    assert set(waiting) == {twice, simulated, stranger}

    before = recorded_total(world)
    decided = decide(world.engine, waiting[simulated].id, "accept",
                     reason="latihan petugas, diterima", by="siti")
    assert decided.resident_status is Status.TEREKAM
    assert status(world, sim_nik) == Status.TEREKAM and recorded_total(world) == before + 1
    with pytest.raises(Exception, match="already decided"):
        decide(world.engine, waiting[simulated].id, "reject", reason="again", by="budi")
    decide(world.engine, waiting[twice].id, "reject", reason="duplikat", by="siti")
    assert status(world, first) == Status.TEREKAM  # the first recording stands
    assert enrolment(world, twice).state == "rejected"
    decide(world.engine, waiting[stranger].id, "accept", reason="NIK benar, di luar daftar",
           by="siti")
    assert enrolment(world, stranger).state == "accepted"
    with world.engine.connect() as conn:
        audit = conn.execute(select(reviews.c.id, reviews.c.decided_by, reviews.c.reason,
                                    reviews.c.state).order_by(reviews.c.id)).all()
        assert [(a.decided_by, a.state) for a in audit] == [
            ("siti", "rejected"), ("siti", "accepted"), ("siti", "accepted")]
        event = conn.execute(select(resident_events).where(
            resident_events.c.source.like(f"review {waiting[simulated].id} %"))).one()
        assert (event.status_from, event.status_to, event.by, event.reason) == (
            "perlu-tinjau", "terekam", "siti", "latihan petugas, diterima")
    assert list_reviews(world.engine) == []
    # the database's count per day, kit and operator followed every filing and decision
    from hq.monitoring import coverage, output, rollup

    with world.engine.connect() as conn:
        assert rollup.check_enrolments(conn) == []
        first, last = conn.execute(select(func.min(enrolments.c.day),
                                          func.max(enrolments.c.day))).one()
    made = output.output(world.engine, coverage.KOTA, first, last)
    assert (made.total.accepted, made.total.review, made.total.rejected) == (3, 0, 1)
    assert [(o.device_id, o.tally.recorded) for o in made.operators] == [
        (world.kit.device_id, 4)]


@both
def test_a_rejected_review_returns_the_resident_to_their_status(world, trust):
    nik = world.niks[3]
    packet_id = store(world, recording(world, nik, backend="sim"))
    run_vault(Vault(world.engine, world.keys, sbi_trust=trust), once=True)
    assert status(world, nik) == Status.PERLU_TINJAU
    (item,) = list_reviews(world.engine)
    decide(world.engine, item.id, "reject", reason="perangkat simulasi di lapangan", by="siti")
    assert status(world, nik) == Status.BELUM_REKAM
    assert enrolment(world, packet_id).state == "rejected"
    assert recorded_total(world) == 0


@both
def test_details_that_changed_since_the_kit_got_them_are_flagged(world, trust, tmp_path):
    nik = world.niks[4]
    rows = (tmp_path / "register.csv").read_text(encoding="utf-8").splitlines()
    changed = [r if not r.startswith(nik) else r.replace(r.split(",")[2], "NAMA LAIN", 1)
               for r in rows]
    (tmp_path / "later.csv").write_text("\n".join(changed) + "\n", encoding="utf-8")
    import_residents(world.engine, tmp_path / "later.csv", by="ani")
    packet_id = store(world, recording(world, nik))
    run_vault(Vault(world.engine, world.keys, sbi_trust=trust), once=True)
    flags = json.loads(enrolment(world, packet_id).flags)
    assert [f["code"] for f in flags] == ["details_differ"]
    assert "NAMA LAIN" in flags[0]["message"]


@both
def test_a_packet_hq_cannot_open_is_kept_for_review_and_cannot_be_accepted(world, trust):
    other = SealingPrivateKey.generate().public()
    data = craft(world.kit, b"not even a zip", packet_id="p-unreadable", hq_key=other)
    packet_id = store(world, data)
    counts = run_vault(Vault(world.engine, world.keys, sbi_trust=trust), once=True)
    assert counts.unreadable == 1
    row = enrolment(world, packet_id)
    assert row.state == "unreadable" and row.nik == ""
    (item,) = list_reviews(world.engine)
    assert item.flags[0]["code"] == "unreadable"
    with pytest.raises(Exception, match="nothing to accept"):
        decide(world.engine, item.id, "accept", reason="tetap", by="siti")
    decide(world.engine, item.id, "reject", reason="tidak terbaca", by="siti")


@both
def test_vault_and_review_commands(world, trust, monkeypatch, capsys, tmp_path):
    from hq.cli import main

    monkeypatch.setenv("REKAM_HQ_HOME", str(world.home.root))
    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", str(world.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("REKAM_SBI_CA", str(tmp_path / "providers.pem"))
    store(world, recording(world, world.niks[5]))
    store(world, recording(world, world.niks[6], backend="sim"))
    assert main(["vault", "run", "--once"]) == 0
    out = capsys.readouterr().out
    assert "2 packets opened: 1 accepted (residents marked terekam), 1 for review" in out
    assert main(["review", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{world.niks[6]}" in out and "simulated:" in out
    review_id = list_reviews(world.engine)[0].id
    assert main(["review", "decide", str(review_id), "accept", "--reason", "ok",
                 "--by", "siti"]) == 1
    assert "say why" in capsys.readouterr().err
    assert main(["review", "decide", str(review_id), "accept", "--reason",
                 "uji coba perangkat", "--by", "siti"]) == 0
    assert "now terekam" in capsys.readouterr().out
    assert main(["residents", "list", "--status", "terekam", "--json"]) == 0
    assert {r["nik"] for r in json.loads(capsys.readouterr().out)} == set(world.niks[5:7])
    out = tmp_path / "ekspor"
    assert main(["export", "--since", f"{datetime.now(UTC):%d-%m-%Y}", "-o", str(out)]) == 0
    assert "2 enrolments written" in capsys.readouterr().out
    assert main(["export", "--since", f"{datetime.now(UTC):%Y-%m-%d}", "-o", str(out)]) == 0
    assert "0 enrolments written" in capsys.readouterr().out and len(list(out.iterdir())) == 2
    assert main(["export", "--since", "kemarin", "-o", str(out)]) == 1
    assert "--since" in capsys.readouterr().err


@both
def test_the_export_for_the_national_system_is_complete_documented_and_idempotent(
        world, trust, tmp_path):
    from hq.export import EXPORT_FORMAT, export_enrolments
    from hq.iso19794 import read_image

    nik = world.niks[7]
    manifest, files = with_sbi_evidence(*full_manifest(world.kit, nik, backend="sbi"))
    packet_id = store(world, sealed(world.kit, manifest, files))
    flagged = store(world, recording(world, world.niks[8], backend="sim"))
    run_vault(Vault(world.engine, world.keys, sbi_trust=trust), once=True)
    out = tmp_path / "ekspor"
    today = datetime.now(UTC).date()
    result = export_enrolments(world.engine, world.keys, today, out)
    assert result.written == [packet_id] and not result.failed  # not the one in review
    folder = out / packet_id
    assert folder.stat().st_mode & 0o777 == 0o700
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["face.jpg", "signature.png", "manifest.json",
                            *(f"finger_{f}.fir" for f in FINGERS),
                            "iris_right.iir", "iris_left.iir"])
    assert all((folder / n).stat().st_mode & 0o777 == 0o600 for n in names)
    by_capture = {c.file: files[c.file] for c in manifest.captures}
    assert (folder / "face.jpg").read_bytes() == by_capture["face.jpeg"]
    record = (folder / "finger_left_index.fir").read_bytes()
    assert record.startswith(b"FIR\x00020\x00")
    assert read_image(record) == by_capture["finger_left_index.jp2"]
    assert read_image((folder / "iris_left.iir").read_bytes()) == by_capture["iris_left.jp2"]
    doc = json.loads((folder / "manifest.json").read_text())
    assert doc["format"] == EXPORT_FORMAT and doc["nik"] == nik
    assert doc["accepted"]["by"] == "vault" and doc["recorded"]["kit"] == "kit-a"
    assert doc["resident"]["kode_kelurahan"] == KELURAHAN
    listed = {f["file"]: f["sha256"] for f in doc["files"]}
    assert set(listed) == set(names) - {"manifest.json"}
    assert all(hashlib.sha256((folder / n).read_bytes()).hexdigest() == h
               for n, h in listed.items())

    # Again: nothing changes. After a supervisor accepts the other, it comes along.
    again = export_enrolments(world.engine, world.keys, today, out)
    assert again.written == [] and again.unchanged == 1
    (item,) = list_reviews(world.engine)
    decide(world.engine, item.id, "accept", reason="diperiksa ulang", by="siti")
    third = export_enrolments(world.engine, world.keys, today, out)
    assert third.written == [flagged] and third.unchanged == 1
    doc = json.loads((out / flagged / "manifest.json").read_text())
    assert doc["accepted"]["by"] == "siti" and doc["accepted"]["review"]["reason"] == \
        "diperiksa ulang"
    assert sorted(p.name for p in out.iterdir()) == sorted([packet_id, flagged])


@both
def test_a_training_kits_recordings_are_kept_apart_and_mark_nobody(world, trust):
    """A kit HQ registered for training (devices.training): its packet is filed as
    training, never terekam, never a review; the same captures from a production kit wait
    for a supervisor, flagged as simulated."""
    from hq.worklists import make_worklist

    trainer = world.add_kit("kit-latihan", training=True)
    make_worklist(world.engine, world.keys, "kit-latihan", world.tmp / "residents.csv")
    practice = store(world, sealed(trainer, *full_manifest(trainer, world.niks[0])))
    faked = store(world, recording(world, world.niks[1], backend="sim"))
    counts = run_vault(Vault(world.engine, world.keys, sbi_trust=trust), once=True)
    assert (counts.training, counts.review, counts.accepted) == (1, 1, 0)
    row = enrolment(world, practice)
    assert (row.state, row.training, row.simulated) == ("training", True, True)
    assert status(world, world.niks[0]) == Status.BELUM_REKAM
    doubted = enrolment(world, faked)
    assert (doubted.state, doubted.training) == ("review", False)
    assert "simulated" in {f["code"] for f in json.loads(doubted.flags)}
    assert [r.packet_id for r in list_reviews(world.engine)] == [faked]
