"""The kit's command line end to end: provision, roster, enrol, outbox, HQ opens the packet."""

from __future__ import annotations

import json

import pytest
from kit_world import DEVICE, KELURAHAN, OPERATOR_PIN, SUPERVISOR_PIN, read_json


def test_enrol_seals_a_packet_that_hq_opens(world, capsys):
    nik = world.niks(1)[0]
    assert world.kit("enrol", "--nik", nik, "--sim", "--seed", "1", "--json",
                     pin=OPERATOR_PIN) == 0
    result = read_json(capsys)
    assert result["nik"] == nik and result["bytes"] < 300_000
    packet_file = world.tmp / "p.rkp"
    assert world.kit("outbox", "export", result["packet_id"][:13], "-o", str(packet_file)) == 0
    assert packet_file.read_bytes()[:4] == b"RKMP"
    capsys.readouterr()
    # A training kit's packet: opened, and marked as never a real recording.
    assert world.hq("open", str(packet_file), "--json") == 4
    opened = read_json(capsys)
    assert [f["code"] for f in opened["flags"]] == ["training"]
    manifest = opened["manifest"]
    assert manifest["nik"] == nik and manifest["device_id"] == DEVICE
    assert manifest["operator_id"] == "budi"
    kinds = sorted((c["modality"], c["position"]) for c in manifest["captures"])
    assert len([k for k in kinds if k[0] == "finger"]) == 10
    assert len([k for k in kinds if k[0] == "iris"]) == 2
    assert {"face", "signature"} <= {k[0] for k in kinds}
    assert all(c["device_backend"] == "sim" for c in manifest["captures"])
    assert len(manifest["verification"]) == 2


def test_the_same_resident_cannot_be_enrolled_twice(world, capsys):
    nik = world.niks(1)[0]
    assert world.kit("enrol", "--nik", nik, "--sim", "--json", pin=OPERATOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("enrol", "--nik", nik, "--sim", pin=OPERATOR_PIN) == 1
    assert "already recorded" in capsys.readouterr().err


def test_enrol_refused_below_the_disk_floor(world, capsys):
    assert world.kit("config", "set", "disk_floor_mb", "1000000", "--by", "siti",
                     pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("enrol", "--nik", world.niks(1)[0], "--sim", pin=OPERATOR_PIN) == 1
    err = capsys.readouterr().err
    assert "below the floor" in err and err.count("\n") == 1
    assert world.kit("outbox", "--json") == 0
    assert read_json(capsys)["packets"] == []


def test_status_reports_roster_outbox_and_keys(world, capsys):
    assert world.kit("status", "--json") == 0
    status = read_json(capsys)
    assert status["device_id"] == DEVICE
    assert status["roster_version"] == 1 and status["roster_size"] > 0
    assert status["outbox"] == {"sealed": 0, "sent": 0, "acked": 0, "purged": 0}
    assert len(status["device_key_id"]) == 16 and status["free_disk_mb"] > 0


def test_search_by_nik_code_and_name(world, capsys):
    nik = world.niks(1)[0]
    assert world.kit("roster", "search", nik, "--json", pin=OPERATOR_PIN) == 0
    hits = read_json(capsys)
    assert hits[0]["nik"] == nik and hits[0]["matched"] == "nik"
    code, name = hits[0]["kode_undangan"], hits[0]["nama"]
    assert world.kit("roster", "search", code.lower(), "--json", pin=OPERATOR_PIN) == 0
    assert read_json(capsys)[0]["nik"] == nik
    assert world.kit("roster", "search", name.split()[0].upper(), "--json",
                     pin=OPERATOR_PIN) == 0
    assert any(h["nik"] == nik for h in read_json(capsys))


def test_wrong_pin_is_one_line_and_counts_toward_lockout(world, capsys):
    assert world.kit("roster", "search", "siti", pin="999999") == 1
    err = capsys.readouterr().err
    assert "wrong PIN" in err and "4 attempts left" in err and "Traceback" not in err


def test_worklist_checks_change_nothing(world, capsys):
    """Older, foreign, expired and tampered worklists are refused; the roster stays."""
    assert world.kit("roster", "import", str(world.tmp / "v1.worklist"), pin=OPERATOR_PIN) == 1
    assert "not newer" in capsys.readouterr().err
    # A worklist for another kit.
    assert world.hq("device", "add", "kit-other", "--kelurahan", KELURAHAN, "-o",
                    str(world.tmp / "other.bundle")) == 0
    assert world.hq("worklist", "kit-other", "--from", str(world.csv), "-o",
                    str(world.tmp / "other.worklist")) == 0
    capsys.readouterr()
    assert world.kit("roster", "import", str(world.tmp / "other.worklist"),
                     pin=OPERATOR_PIN) == 1
    assert "for device kit-other" in capsys.readouterr().err
    # Expired.
    assert world.hq("worklist", DEVICE, "--from", str(world.csv), "--days", "0", "-o",
                    str(world.tmp / "expired.worklist")) == 0
    capsys.readouterr()
    assert world.kit("roster", "import", str(world.tmp / "expired.worklist"),
                     pin=OPERATOR_PIN) == 1
    assert "expired" in capsys.readouterr().err
    # Tampered: a changed byte in the signed body.
    assert world.hq("worklist", DEVICE, "--from", str(world.csv), "-o",
                    str(world.tmp / "v3.worklist")) == 0
    envelope = json.loads((world.tmp / "v3.worklist").read_bytes())
    body = envelope["body"]
    envelope["body"] = body[:100] + ("A" if body[100] != "A" else "B") + body[101:]
    (world.tmp / "tampered.worklist").write_text(json.dumps(envelope))
    capsys.readouterr()
    assert world.kit("roster", "import", str(world.tmp / "tampered.worklist"),
                     pin=OPERATOR_PIN) == 1
    assert "signature does not verify" in capsys.readouterr().err
    assert world.kit("status", "--json") == 0
    assert read_json(capsys)["roster_version"] == 1
    # And the good, newer one is accepted.
    assert world.kit("roster", "import", str(world.tmp / "v3.worklist"), pin=OPERATOR_PIN) == 0


def test_operator_management(world, capsys):
    assert world.kit("operator", "add", "ani", "--role", "operator", new_pin="246813") == 1
    assert "--by" in capsys.readouterr().err
    assert world.kit("operator", "add", "ani", "--by", "budi", pin=OPERATOR_PIN,
                     new_pin="246813") == 1
    assert world.kit("operator", "list", "--json") == 0
    assert {o["id"] for o in read_json(capsys)} == {"siti", "budi"}
    assert world.kit("operator", "disable", "budi", "--by", "siti", pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("roster", "search", "x", pin=OPERATOR_PIN) == 1
    assert "disabled" in capsys.readouterr().err


def test_audit_verify_and_list(world, capsys):
    assert world.kit("audit", "verify") == 0
    assert "intact" in capsys.readouterr().out
    assert world.kit("audit", "list", "--json") == 0
    actions = [e["action"] for e in read_json(capsys)]
    assert "login" in actions and "roster_imported" in actions


def test_bad_input_is_one_line(world, capsys):
    assert world.kit("roster", "import", str(world.tmp / "missing.worklist"),
                     pin=OPERATOR_PIN) == 1
    missing = world.tmp / "missing.worklist"
    assert capsys.readouterr().err.strip() == f"error: no such file: {missing}"
    assert world.kit("config", "set", "disk_floor_mb", "banyak") == 1
    assert "whole number" in capsys.readouterr().err
    assert world.hq("device", "add", "Kit One", "--kelurahan", KELURAHAN, "-o", "x") == 1
    assert "device id" in capsys.readouterr().err
    assert world.hq("device", "add", "kit-x", "--kelurahan", "32.75.01", "-o", "x") == 1
    assert "not a kelurahan" in capsys.readouterr().err


def test_keys_are_private(world):
    for key in ("device-signing.key", "device-tls.key"):
        assert (world.kit_home / "keys" / key).stat().st_mode & 0o777 == 0o600
    for key in ("hq-sealing.key", "hq-signing.key", "ca.key", "invitation.key"):
        assert (world.hq_home / "keys" / key).stat().st_mode & 0o777 == 0o600


def test_a_visit_schedule_from_an_excel_csv_reaches_the_kit(world, capsys):
    visits = world.tmp / "jadwal.csv"
    visits.write_text("Tanggal;Tempat;RW;Catatan\n25-11-2026;Balai RW 005;5;pukul 08.00\n"
                      "2026-11-24;SMAN 4 Bekasi;7;\n", encoding="utf-8-sig")
    assert world.hq("worklist", DEVICE, "--from", str(world.csv), "--schedule", str(visits),
                    "-o", str(world.tmp / "v2.worklist")) == 0
    assert "2 visits" in capsys.readouterr().out
    assert world.kit("roster", "import", str(world.tmp / "v2.worklist"), pin=OPERATOR_PIN) == 0
    out = capsys.readouterr().out
    assert "visit 24-11-2026: SMAN 4 Bekasi, RW 007\n" in out  # sorted by date
    assert "visit 25-11-2026: Balai RW 005, RW 005 (pukul 08.00)" in out


@pytest.mark.parametrize(("row", "error"), [
    ("31-11-2026;Balai RW 005;5", "line 2, column tanggal: 31-11-2026 is not a date"),
    ("25-11-2026;;5", "line 2, column tempat: empty"),
    ("25-11-2026;Balai;RW5", "line 2, column rw: 'RW5' is not an RW number"),
    ("25-11-2026;Balai;5;32.75.01.1002", "column kode_kelurahan: 32.75.01.1002 (Margahayu) "
                                         "is not served by this kit"),
])
def test_a_bad_visit_is_named_and_nothing_is_written(world, capsys, row, error):
    visits = world.tmp / "jadwal.csv"
    visits.write_text(f"tanggal;tempat;rw;kode_kelurahan\n{row}\n")
    out = world.tmp / "bad.worklist"
    assert world.hq("worklist", DEVICE, "--from", str(world.csv), "--schedule", str(visits),
                    "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert error in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_security_setting_needs_a_supervisors_pin_and_is_audited(world, capsys,
                                                                   monkeypatch):
    monkeypatch.delenv("REKAM_OPERATOR")

    def lockout() -> int:
        capsys.readouterr()
        assert world.kit("config", "show", "--json") == 0
        return int(read_json(capsys)["lockout_failures"])

    # No PIN, an operator's PIN, a wrong PIN: refused, nothing changed.
    assert world.kit("config", "set", "lockout_failures", "9") == 1
    assert world.kit("config", "set", "lockout_failures", "9", "--by", "budi",
                     pin=OPERATOR_PIN) == 1
    assert world.kit("config", "set", "lockout_failures", "9", "--by", "siti",
                     pin="000111") == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and "supervisor or technician" in errors[0]
    assert "budi" in errors[1] and "wrong PIN" in errors[2]
    assert lockout() == 5
    assert world.kit("config", "set", "lockout_failures", "9", "--by", "siti",
                     pin=SUPERVISOR_PIN) == 0
    assert lockout() == 9
    capsys.readouterr()
    assert world.kit("audit", "list", "--json") == 0
    changed = [e for e in read_json(capsys) if e["action"] == "config_changed"][-1]
    assert changed["actor"] == "siti"
    assert changed["detail"] == {"setting": "lockout_failures", "value": 9, "previous": 5}
    # A plain setting (the language) needs no PIN, and is audited too.
    assert world.kit("config", "set", "language", "en") == 0


@pytest.mark.parametrize(("key", "value", "error"), [
    ("lockout_minutes", "0", "lockout_minutes must be from 1 to 1440, not 0"),
    ("lockout_failures", "1", "lockout_failures must be from 3 to 10"),
    ("kdf_memory_kib", "64", "kdf_memory_kib must be from 8192"),
    ("finger_threshold", "0", "finger_threshold must be from 10 to 100"),
    ("broker", "mqtts://", "broker takes a URL"),
    ("broker", "http://hq.example", "broker takes a URL"),
    ("hal", "camera=nokia", "hal: "),
    ("service_point", "Balai\x1b[2J", "printable"),
    ("device_id", "kit-other", "decided by HQ"),
    ("kelurahan", "32.75.01.1002", "decided by HQ"),
    ("training", "true", "decided by HQ"),
])
def test_a_setting_out_of_range_is_refused_in_one_line(world, capsys, key, value, error):
    assert world.kit("config", "show", "--json") == 0
    before = read_json(capsys)
    assert world.kit("config", "set", key, value, "--by", "siti", pin=SUPERVISOR_PIN) == 1
    err = capsys.readouterr().err
    assert error in err and len(err.strip().splitlines()) == 1, err
    assert "\x1b" not in err
    assert world.kit("config", "show", "--json") == 0
    assert read_json(capsys) == before


def test_a_config_json_out_of_range_never_stops_the_kit(world, capsys):
    # What today's HQ could push (lockout_minutes=0) left the kit unable to open at all,
    # sync included: the lockout policy refused a zero duration in the kit's constructor.
    config = world.kit_home / "config.json"
    data = json.loads(config.read_text())
    data.update(lockout_minutes=0, kdf_memory_kib=1, broker="not a url", language="xx")
    config.write_text(json.dumps(data))
    assert world.kit("status", "--json") == 0
    capsys.readouterr()
    assert world.kit("config", "show", "--json") == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert (shown["lockout_minutes"], shown["kdf_memory_kib"], shown["broker"],
            shown["language"]) == (5, 65536, "", "id")
    assert captured.err.count("using the default") == 4
    assert world.kit("roster", "search", "a", "--json", pin=OPERATOR_PIN) == 0


# --- a production kit never records simulated biometrics ---------------------------------


def _make_production(world, capsys) -> None:
    """Re-provision the world's kit with a bundle HQ made for production (the default): the
    bundle wins over the training kit's config, its operators stay."""
    assert world.hq("device", "add", "kit-prod", "--kelurahan", KELURAHAN, "-o",
                    str(world.tmp / "prod.bundle")) == 0
    out = capsys.readouterr().out
    assert "production kit" in out
    code = out.split("separately): ")[1].split()[0]
    assert world.kit("provision", str(world.tmp / "prod.bundle"), "--code", code,
                     "--force") == 0
    capsys.readouterr()


def test_a_production_kit_refuses_enrol_sim_before_any_pin(world, capsys):
    _make_production(world, capsys)
    assert world.kit("enrol", "--nik", world.niks(1)[0], "--sim") == 1  # no PIN asked
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "kit produksi: perangkat simulasi tidak diizinkan" in err
    assert "rekam-hq device add --training" in err
    assert world.kit("config", "set", "language", "en") == 0
    assert world.kit("enrol", "--nik", world.niks(1)[0], "--sim") == 1
    assert "a production kit: simulated devices are not allowed" in capsys.readouterr().err
    assert world.kit("outbox", "--json") == 0
    assert read_json(capsys)["packets"] == []
    assert world.kit("audit", "list", "--json") == 0
    assert "simulated_devices_refused" in {e["action"] for e in read_json(capsys)}


@pytest.mark.parametrize("key,value", [("allow_simulated", "true"), ("hal", "sim"),
                                       ("hal", "camera=opencv,*=sim")])
def test_a_production_kit_cannot_be_given_simulated_devices_even_with_a_pin(
        world, capsys, key, value):
    _make_production(world, capsys)
    assert world.kit("config", "set", key, value, "--by", "siti", pin=SUPERVISOR_PIN) == 1
    err = capsys.readouterr().err
    assert "kit produksi" in err and len(err.strip().splitlines()) == 1
    assert world.kit("config", "show", "--json") == 0
    config = read_json(capsys)
    assert config["training"] is False and config["allow_simulated"] is False
    assert config["hal"] == "auto"


def test_a_production_kit_ignores_simulation_written_into_its_config_file(world, capsys):
    """config.json edited by hand (or left from a training bundle): the kit turns the
    simulation off, says so, and still refuses hal=sim."""
    _make_production(world, capsys)
    path = world.kit_home / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "allow_simulated": True, "hal": "sim"}))
    assert world.kit("config", "show", "--json") == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["allow_simulated"] is False and shown["hal"] == "auto"
    assert "production kit never uses simulated devices" in captured.err
    assert world.kit("enrol", "--nik", world.niks(1)[0]) == 1  # auto finds no real device
    err = capsys.readouterr().err
    assert "kit produksi: perangkat simulasi tidak diizinkan" in err
    assert len(err.strip().splitlines()) == 1


def test_the_training_kit_may_record_on_simulated_devices(world, capsys):
    assert world.kit("config", "show", "--json") == 0
    assert read_json(capsys)["training"] is True
    assert world.kit("enrol", "--nik", world.niks(1)[0], "--sim", "--json",
                     pin=OPERATOR_PIN) == 0


def test_enrol_prints_the_residents_receipt_as_the_simulated_printer_printed_it(world, capsys):
    world.kit("config", "set", "service_point", "Balai RW 005", "--by", "siti",
              pin=SUPERVISOR_PIN)
    nik = world.niks(1)[0]
    capsys.readouterr()
    assert world.kit("enrol", "--nik", nik, "--sim", "--quiet", "--receipt",
                     pin=OPERATOR_PIN) == 0
    out = capsys.readouterr().out
    receipt = [line.removeprefix("    | ") for line in out.splitlines()
               if line.startswith("    | ")]
    assert receipt[0].strip() == "TANDA TERIMA REKAM KTP-el"  # the resident's paper
    fields = {line[:11].strip(): line[11:] for line in receipt[2:8]}
    assert fields["NIK"] == f"{nik[:6]}******{nik[-4:]}"  # never the whole NIK
    assert fields["Lokasi"] == "Balai RW 005" and fields["Petugas"] == "budi"
    assert fields["Tanggal"].endswith(" WIB")
    assert any(line.strip().startswith("[QR: rekam:") for line in receipt)


def test_devices_auto_did_not_find_are_told_in_one_sentence_each_not_python_warnings(
        world, capsys):
    assert world.kit("config", "set", "hal", "auto", "--by", "siti", pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("enrol", "--nik", world.niks(1)[0], "--quiet", pin=OPERATOR_PIN) == 0
    err = capsys.readouterr().err
    assert "Warning" not in err and ".py:" not in err  # no source path, no warning class
    assert ("Pemindai iris: tidak ditemukan (dicari: pemindai bersertifikat (layanan SBI)); "
            "sementara memakai perangkat simulasi. Periksa kabel USB pemindai iris dan "
            "layanan SBI-nya.") in err.splitlines()
