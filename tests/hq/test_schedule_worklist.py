"""Visit schedules and worklists built from the register: only residents still to record,
only in the RWs of the kit's coming visits; bad schedules refused with nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hq_home import both
from sqlalchemy import func, select

from edge.clock import WIB
from edge.keys import SealingPrivateKey, unb64
from edge.provisioning import open_bundle
from edge.synth import generate_residents
from edge.worklist import verify_worklist
from hq.db import visits, worklist_issues, worklist_residents

KEL = "32.75.01.1001"  # Bekasijaya
KEL2 = "32.75.01.1002"  # Margahayu
TODAY = datetime.now(WIB).date()


def _register(hq, n: int = 150) -> list[dict[str, str]]:
    from edge.residents_csv import write_csv

    people = list(generate_residents([KEL, KEL2], n, 21, today=TODAY))
    write_csv(hq.tmp / "wajib.csv", people)
    assert hq.run("residents", "import", str(hq.tmp / "wajib.csv")) == 0
    assert hq.run("device", "add", "kit-01", "--kelurahan", "Bekasijaya", "-o",
                  str(hq.tmp / "kit.bundle")) == 0
    code = hq.out()[0].split("separately): ")[1].split()[0]
    (hq.tmp / "kit.code").write_text(code)
    return [p.to_record() for p in people]


def _rw_counts(people, kel):
    counts: dict[str, int] = {}
    for p in people:
        if p["kode_kelurahan"] == kel:
            counts[p["rw"]] = counts.get(p["rw"], 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def _visits(hq) -> int:
    with hq.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(visits)).scalar_one()


@both
def test_schedule_add_and_list(hq):
    people = _register(hq)
    (rw1, _), (rw2, _) = _rw_counts(people, KEL)[:2]
    tomorrow = TODAY + timedelta(days=1)
    assert hq.run("schedule", "add", "--kit", "kit-01", "--date", f"{tomorrow:%d-%m-%Y}",
                  "--place", "Balai RW " + rw1, "--kelurahan", "bekasijaya", "--rw",
                  f"{int(rw1)},{rw2}", "--time", "8.00-15:00", "--staff", "Budi,Siti",
                  "--kind", "balai rw") == 0
    out, _ = hq.out()
    assert out.startswith("visit 1 scheduled: kit-01 ")
    assert hq.run("schedule", "list", "--json") == 0
    (listed,) = json.loads(hq.out()[0])
    assert listed == {"id": 1, "kit": "kit-01", "tanggal": tomorrow.isoformat(),
                      "waktu": "08.00-15.00", "tempat": "Balai RW " + rw1,
                      "kode_kelurahan": KEL, "kelurahan": "Bekasijaya",
                      "rw": sorted([rw1, rw2]), "jenis": "balai-rw",
                      "petugas": ["Budi", "Siti"], "catatan": ""}


@both
@pytest.mark.parametrize(("change", "error"), [
    ({"--kit": "kit-99"}, "device 'kit-99' is not registered"),
    ({"--kelurahan": "Margahayu"}, "kit kit-01 does not serve Margahayu (32.75.01.1002)"),
    ({"--kelurahan": "Kalibaruu"}, "did you mean Kalibaru"),
    ({"--rw": "999"}, "RW 999 of Bekasijaya has nobody on the register"),
    ({"--date": "past"}, "is in the past"),
    ({"--time": "15.00-08.00"}, "not a time range within one day"),
    ({"--kind": "pasar"}, "not a kind of visit"),
    ({"--place": "Balai\x1b[31m"}, "control or invisible character (U+001B)"),
    ({"--place": "Balai \u202e500 WR"}, "control or invisible character (U+202E)"),
])
def test_a_bad_visit_is_refused_in_one_line_and_nothing_written(hq, change, error):
    people = _register(hq)
    rw = _rw_counts(people, KEL)[0][0]
    args = {"--kit": "kit-01", "--date": f"{TODAY:%d-%m-%Y}", "--place": "Balai",
            "--kelurahan": KEL, "--rw": rw, **change}
    if args["--date"] == "past":
        args["--date"] = f"{TODAY - timedelta(days=1):%Y-%m-%d}"
    argv = [x for kv in args.items() for x in kv]
    assert hq.run("schedule", "add", *argv) == 1
    err = hq.out()[1]
    assert error in err and len(err.strip().splitlines()) == 1, err
    assert _visits(hq) == 0


@both
def test_schedule_import_is_all_or_nothing_and_idempotent(hq):
    people = _register(hq)
    (rw1, _), (rw2, _), (rw3, _) = _rw_counts(people, KEL)[:3]
    day = TODAY + timedelta(days=2)
    form = hq.tmp / "jadwal.csv"
    good = (f"Tanggal;Tempat;RW;Waktu;Petugas;Kit\n"
            f"{day:%d-%m-%Y};Balai RW {rw1};{rw1};08.00-12.00;Budi;kit-01\n"
            f"{day:%d-%m-%Y};Balai RW {rw1};{rw2};08.00-12.00;Siti;kit-01\n"
            f"{day + timedelta(days=1):%d-%m-%Y};SMAN 4;{rw3};;;kit-01\n")
    form.write_text(good + f"{day:%d-%m-%Y};Balai;999;;;kit-01\n"
                    f"31-02-2027;Balai;{rw1};;;kit-01\n", encoding="utf-8-sig")
    assert hq.run("schedule", "import", str(form)) == 1
    err = hq.out()[1]
    assert "2 problem(s), nothing scheduled" in err
    assert "line 6, column tanggal: 31-02-2027 is not a date" in err
    assert "line 5: RW 999 of Bekasijaya has nobody on the register" in err
    assert _visits(hq) == 0

    form.write_text(good, encoding="utf-8-sig")
    assert hq.run("schedule", "import", str(form)) == 0
    assert "2 visits scheduled" in hq.out()[0]  # the first two rows are one visit
    assert hq.run("schedule", "import", str(form)) == 0
    assert "0 visits scheduled, 2 already were" in hq.out()[0]
    assert _visits(hq) == 2


@both
def test_a_worklist_from_the_register_carries_only_the_scheduled_rws_still_to_record(hq):
    from hq.register import Status, change_status

    people = _register(hq)
    (rw1, n1), (rw2, n2) = _rw_counts(people, KEL)[:2]
    day = TODAY + timedelta(days=1)
    assert hq.run("worklist", "kit-01", "-o", str(hq.tmp / "none.worklist")) == 1
    assert "has no visit scheduled" in hq.out()[1]
    assert hq.run("schedule", "add", "--kit", "kit-01", "--date", day.isoformat(),
                  "--place", "Balai RW", "--kelurahan", KEL, "--rw", f"{rw1},{rw2}",
                  "--time", "08.00-15.00", "--staff", "Budi") == 0
    recorded = next(p["nik"] for p in people if p["kode_kelurahan"] == KEL and p["rw"] == rw1)
    with hq.engine.begin() as conn:
        change_status(conn, recorded, Status.TEREKAM, at=datetime.now(UTC), by="test")
    hq.out()

    assert hq.run("worklist", "kit-01", "--dry-run") == 0
    out, _ = hq.out()
    assert f"{n1 + n2 - 1} residents still to record, 1 visits" in out
    with hq.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(worklist_issues)).scalar() == 0

    path = hq.tmp / "kit-01.worklist"
    assert hq.run("worklist", "kit-01", "-o", str(path)) == 0
    assert f"worklist v1 for kit-01: {n1 + n2 - 1} residents, 1 visits" in hq.out()[0]
    assert path.stat().st_mode & 0o777 == 0o600  # resident data
    keys = __import__("hq.home", fromlist=["HqHome"]).HqHome(hq.home).keys()
    bundle = open_bundle((hq.tmp / "kit.bundle").read_bytes(),
                         (hq.tmp / "kit.code").read_text())
    kit_key = SealingPrivateKey.from_bytes(unb64(bundle.worklist_key, "worklist key"))
    verified = verify_worklist(path.read_bytes(),
                               trusted={keys.signing_key_id: keys.signing.public_key()},
                               device_id="kit-01", kit_key=kit_key, current_version=None,
                               now=datetime.now(UTC))
    carried = {r["nik"]: r for r in verified.records}
    expected = {p["nik"] for p in people if p["kode_kelurahan"] == KEL
                and p["rw"] in (rw1, rw2)} - {recorded}
    assert set(carried) == expected
    assert all(r["kode_undangan"] for r in carried.values())
    assert [(e.date, e.rw, e.note) for e in verified.meta.schedule] == [
        (day, min(rw1, rw2), "pukul 08.00-15.00; petugas: Budi"),
        (day, max(rw1, rw2), "pukul 08.00-15.00; petugas: Budi")]
    assert verified.meta.expires_at >= datetime.now(UTC) + timedelta(days=29)
    # HQ records what it sent, for the vault's checks and a lost kit's breach report.
    with hq.engine.connect() as conn:
        sent = {r[0] for r in conn.execute(select(worklist_residents.c.nik)
                                           .where(worklist_residents.c.version == 1))}
    assert sent == expected

    assert hq.run("worklist", "kit-01", "-o", str(path)) == 1
    assert "exists" in hq.out()[1]
    assert hq.run("worklist", "kit-01") == 1
    assert "-o FILE" in hq.out()[1]


@both
def test_a_worklist_csv_with_bad_rows_lists_every_one_and_a_trial_uses_no_version(hq):
    from edge.resident_record import CSV_COLUMNS

    people = [p for p in _register(hq) if p["kode_kelurahan"] == KEL][:6]
    lines = [",".join(CSV_COLUMNS)] + [",".join(p[c] for c in CSV_COLUMNS) for p in people]
    good = "\n".join(lines) + "\n"
    bad = lines[:]
    bad[2] = bad[2].replace(people[1]["nik"], "12345")  # line 3: a short NIK
    fields = bad[4].split(",")  # line 5: a bad sex and a date that is not one
    fields[CSV_COLUMNS.index("jenis_kelamin")] = "X"
    fields[CSV_COLUMNS.index("tanggal_lahir")] = "31-02-2001"
    bad[4] = ",".join(fields)
    source = hq.tmp / "daftar.csv"
    source.write_text("\n".join(bad) + "\n", encoding="utf-8")
    schedule = hq.tmp / "jadwal.csv"
    day = TODAY + timedelta(days=3)
    schedule.write_text(f"tanggal,tempat,rw\n{day:%d-%m-%Y},Balai,{people[0]['rw']}\n"
                        f"32-13-2026,Balai,{people[0]['rw']}\n", encoding="utf-8")

    for trial in (["--dry-run"], ["-o", str(hq.tmp / "v.worklist")]):
        assert hq.run("worklist", "kit-01", "--from", str(source), "--schedule",
                      str(schedule), *trial) == 1
        err = hq.out()[1].splitlines()
        assert f"{schedule}, line 3, column tanggal: 32-13-2026 is not a date" in err[0]
        assert err[1].startswith(f"{source}, line 3, column nik: ")
        assert {e.split(":")[0] for e in err[2:4]} == {
            f"{source}, line 5, column jenis_kelamin", f"{source}, line 5, column tanggal_lahir"}
        assert err[-1] == ("error: 3 bad rows (4 problems): nothing signed, no worklist version "
                           "used; fix them and run again (--dry-run checks without signing)")
    assert not (hq.tmp / "v.worklist").exists()

    source.write_text(good, encoding="utf-8")
    schedule.write_text(f"tanggal,tempat,rw\n{day:%d-%m-%Y},Balai,{people[0]['rw']}\n",
                        encoding="utf-8")
    assert hq.run("worklist", "kit-01", "--from", str(source), "--schedule", str(schedule),
                  "--dry-run") == 0
    assert "(dry run, every row checked, nothing signed, no version used): 6 residents, " \
           "1 visits" in hq.out()[0]
    with hq.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(worklist_issues)).scalar() == 0
    assert hq.run("worklist", "kit-01", "--from", str(source), "-o",
                  str(hq.tmp / "v.worklist")) == 0
    assert hq.out()[0].startswith("worklist v1 for kit-01: 6 residents")  # no version lost
