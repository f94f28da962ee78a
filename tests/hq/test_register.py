"""The register: importing office exports as clerks make them, history, listing, searching;
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from hq_home import both
from sqlalchemy import func, select

from edge.resident_record import CSV_COLUMNS
from edge.synth import generate_residents
from hq.db import coverage_daily, register_imports, resident_events, residents
from hq.register import MUST_RECORD, Status

TODAY = date(2026, 11, 24)
KEL = "32.75.01.1001"  # Bekasijaya
KEL2 = "32.75.01.1002"  # Margahayu


def population(n: int = 40, seed: int = 5) -> list[dict[str, str]]:
    return [r.to_record() for r in generate_residents([KEL, KEL2], n, seed, today=TODAY)]


def write(path, rows, *, columns=CSV_COLUMNS, delimiter=",", bom=True, crlf=False,
          header=None):
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(header or columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (residents, resident_events, register_imports, coverage_daily)}


def coverage_adds_up(engine) -> None:
    """coverage_daily's running sums equal the register as it stands, for every RT."""
    with engine.connect() as conn:
        must = {(r[0], r[1], r[2]): r[3] for r in conn.execute(
            select(coverage_daily.c.kelurahan, coverage_daily.c.rw, coverage_daily.c.rt,
                   func.sum(coverage_daily.c.must_record))
            .group_by(coverage_daily.c.kelurahan, coverage_daily.c.rw, coverage_daily.c.rt))}
        actual = {(r[0], r[1], r[2]): r[3] for r in conn.execute(
            select(residents.c.kelurahan, residents.c.rw, residents.c.rt, func.count())
            .where(residents.c.status.in_([s.value for s in MUST_RECORD]))
            .group_by(residents.c.kelurahan, residents.c.rw, residents.c.rt))}
    assert {k: v for k, v in must.items() if v} == actual


@both
def test_an_excel_export_with_aliases_semicolons_and_bad_rows(hq):
    """A clerk's file: Indonesian header names in any case, semicolons, CRLF, DD-MM-YYYY;
    every bad row is reported by line and column, on screen and in a rejects CSV that
    imports once fixed; the good rows are in."""
    rows = population(6)
    right_nik = rows[3]["nik"]
    for r in rows:
        y, m, d = r["tanggal_lahir"].split("-")
        r["tanggal_lahir"] = f"{d}-{m}-{y}"
        r["rt"] = str(int(r["rt"]))
    rows[1]["tanggal_lahir"] = "31-02-1990"
    rows[3]["nik"] = "3.27501E+15"
    rows[3]["jenis_kelamin"] = "X"
    rows[4]["kode_kelurahan"] = "32.75.02.1001"  # not in the row's kecamatan
    header = ["NIK", "No_KK", "NAMA_LENGKAP", "jk", "Tempat Lahir", "TGL_LAHIR",
              "STATUS_KAWIN", "Alamat", "NO_RT", "NO_RW", "KODE_KEL", "kode_kecamatan"]
    path = write(hq.tmp / "ekspor.csv", rows, delimiter=";", crlf=True, header=header)

    assert hq.run("residents", "import", str(path)) == 3  # some rows rejected
    out, err = hq.out()
    assert "6 rows: 3 added, 0 changed, 0 unchanged, 3 rejected" in out
    assert "line 3, column tanggal_lahir: 31-02-1990 is not a date" in err
    assert "line 5, column nik: " in err and "format the column as text" in err
    assert "line 5, column jenis_kelamin: 'X' is not one of L or P" in err
    assert "line 6, column kode_kelurahan: 32.75.02.1001 (Bintara) is not in kecamatan" in err
    assert counts(hq.engine)["residents"] == 3

    rejects = hq.tmp / "ekspor.rejects.csv"
    raw = rejects.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh, delimiter=";"))
    assert table[0] == [*header, "baris_asal", "kesalahan"]
    assert [r[-2] for r in table[1:]] == ["3", "5", "6"]
    assert "column jenis_kelamin" in table[2][-1] and "column nik" in table[2][-1]

    # The clerk fixes the cells in Excel and imports the rejects file as it is.
    fixed = [list(r) for r in table]
    fixed[1][5] = "28-02-1990"
    fixed[2][0], fixed[2][3] = right_nik, "P"
    fixed[3][10] = KEL
    with rejects.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(fixed)
    assert hq.run("residents", "import", str(rejects), "--columns",
                  "jenis_kelamin=jk") == 0, hq.out()
    out, _ = hq.out()
    assert "3 rows: 3 added" in out
    assert counts(hq.engine)["residents"] == 6
    coverage_adds_up(hq.engine)


@both
def test_hidden_characters_and_overlong_cells_are_rejected(hq):
    """Names and addresses go on letters, screens and the kit: a control character, a
    direction-changing one or a pasting accident's 5,000 characters are reported by line
    and column, and only the clean rows are imported."""
    rows = population(5)
    rows[0]["nama"] = "SITI\x07AMINAH"
    rows[1]["alamat"] = "JL. MAWAR \u202eNO. 5"  # right-to-left override
    rows[2]["nama"] = "A" * 5000
    rows[3]["tempat_lahir"] = "BEKASI\u200b"  # zero-width space
    path = write(hq.tmp / "kotor.csv", rows)

    assert hq.run("residents", "import", str(path)) == 3
    out, err = hq.out()
    assert "5 rows: 1 added, 0 changed, 0 unchanged, 4 rejected" in out
    assert "line 2, column nama: holds a control or invisible character (U+0007)" in err
    assert "line 3, column alamat: holds a control or invisible character (U+202E)" in err
    assert "line 4, column nama: is longer than 100 characters (5,000)" in err
    assert "line 5, column tempat_lahir: holds a control or invisible character (U+200B)" in err
    with hq.engine.connect() as conn:
        assert conn.execute(select(residents.c.nik)).scalars().all() == [rows[4]["nik"]]


@both
def test_tab_separated_without_bom_and_a_columns_mapping(hq):
    rows = population(3)
    header = [c.upper() for c in CSV_COLUMNS]
    header[2] = "NAMA_WARGA"
    path = write(hq.tmp / "tab.txt", rows, delimiter="\t", bom=False, header=header)
    assert hq.run("residents", "import", str(path)) == 1
    _, err = hq.out()
    assert "missing column nama" in err and "--columns" in err
    assert counts(hq.engine)["residents"] == 0
    assert hq.run("residents", "import", str(path), "--columns", "nama=nama_warga") == 0
    assert counts(hq.engine)["residents"] == 3


@both
def test_dry_run_and_the_same_file_again_change_nothing(hq):
    path = write(hq.tmp / "a.csv", population(30))
    assert hq.run("residents", "import", str(path), "--dry-run") == 0
    out, _ = hq.out()
    assert "30 would be added" in out and "dry run: nothing was changed" in out
    assert set(counts(hq.engine).values()) == {0}

    assert hq.run("residents", "import", str(path)) == 0
    first = counts(hq.engine)
    hq.out()
    assert hq.run("residents", "import", str(path)) == 0
    out, _ = hq.out()
    assert "0 added, 0 changed, 30 unchanged" in out and "imported before" in out
    assert counts(hq.engine) == first


@both
def test_a_later_export_applies_changes_and_keeps_history(hq):
    rows = population(20)
    first = write(hq.tmp / "wajib-rekam-2026-10.csv", rows)
    assert hq.run("residents", "import", str(first), "--by", "ani") == 0
    hq.out()

    moved, died, elsewhere, corrected = rows[0], rows[1], rows[2], rows[3]
    later = [dict(r) for r in rows[4:]]
    later += [{**moved, "status": "PINDAH"}, {**died, "status": "meninggal dunia"},
              {**elsewhere, "status": "Sudah Rekam"},
              {**corrected, "alamat": "JL. BARU NO. 1", "rt": "009"}]
    newcomer = population(1, seed=99)[0]
    later.append(newcomer)
    second = write(hq.tmp / "wajib-rekam-2026-11.csv", later, columns=(*CSV_COLUMNS,
                                                                        "status"))
    assert hq.run("residents", "import", str(second), "--by", "budi") == 0
    out, _ = hq.out()
    assert "1 added, 4 changed, 16 unchanged, 0 rejected" in out

    def status(nik: str) -> str:
        with hq.engine.connect() as conn:
            return conn.execute(select(residents.c.status)
                                .where(residents.c.nik == nik)).scalar_one()

    assert status(moved["nik"]) == Status.PINDAH
    assert status(died["nik"]) == Status.MENINGGAL
    assert status(elsewhere["nik"]) == Status.REKAM_LAIN
    assert status(corrected["nik"]) == Status.BELUM_REKAM
    assert status(newcomer["nik"]) == Status.BELUM_REKAM

    assert hq.run("residents", "show", corrected["nik"], "--json") == 0
    shown = json.loads(hq.out()[0])
    assert shown["alamat"] == "JL. BARU NO. 1" and shown["rt"] == "009"
    added, details = shown["riwayat"]
    assert (added["kind"], added["file"], added["by"], added["status_to"]) == (
        "added", "wajib-rekam-2026-10.csv", "ani", "belum-rekam")
    assert details["kind"] == "details" and details["file"] == "wajib-rekam-2026-11.csv"
    assert details["changes"]["address"] == [corrected["alamat"], "JL. BARU NO. 1"]
    assert details["changes"]["rt"] == [corrected["rt"], "009"]
    assert details["by"] == "budi"

    assert hq.run("residents", "show", moved["nik"]) == 0
    out, _ = hq.out()
    assert "status: pindah since" in out
    assert "status belum rekam -> pindah from wajib-rekam-2026-11.csv (import 2), by budi" \
        in out
    coverage_adds_up(hq.engine)

    # Listed again without a status: back on the list (a return, or a correction).
    back = write(hq.tmp / "wajib-rekam-2026-12.csv", [moved])
    assert hq.run("residents", "import", str(back)) == 0
    assert status(moved["nik"]) == Status.BELUM_REKAM
    coverage_adds_up(hq.engine)


@both
def test_a_nik_twice_in_one_file_is_rejected_the_second_time(hq):
    rows = population(3)
    path = write(hq.tmp / "dup.csv", [*rows, {**rows[0], "nama": "ORANG LAIN"}])
    assert hq.run("residents", "import", str(path)) == 3
    _, err = hq.out()
    assert f"line 5, column nik: {rows[0]['nik']} is also on line 2" in err
    assert counts(hq.engine)["residents"] == 3


@both
def test_list_show_and_search(hq):
    rows = population(60)
    assert hq.run("residents", "import", str(write(hq.tmp / "a.csv", rows))) == 0
    hq.out()
    in_rw = [r for r in rows if r["kode_kelurahan"] == KEL and r["rw"] == rows[0]["rw"]]
    assert hq.run("residents", "list", "--kelurahan", "bekasijaya", "--rw",
                  str(int(rows[0]["rw"])), "--json") == 0
    listed = json.loads(hq.out()[0])
    assert sorted(r["nik"] for r in listed) == sorted(r["nik"] for r in in_rw) or \
        rows[0]["kode_kelurahan"] != KEL

    assert hq.run("residents", "list", "--kecamatan", "Bekasi Timur", "--status",
                  "belum rekam", "--csv") == 0
    text = hq.out()[0]
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(text.lstrip("\ufeff").splitlines()))
    assert len(table) == 60 and table[0]["status"] == "belum-rekam"
    # The CSV imports again, unchanged.
    again = hq.tmp / "again.csv"
    again.write_text(text, encoding="utf-8")
    assert hq.run("residents", "import", str(again)) == 0
    assert "60 unchanged" in hq.out()[0]

    assert hq.run("residents", "list", "--status", "terekam") == 0
    assert "0 residents" in hq.out()[1]
    assert hq.run("residents", "list", "--rw", "5") == 1
    assert "name one with --kelurahan" in hq.out()[1]
    assert hq.run("residents", "list", "--status", "hilang") == 1
    assert "not a status" in hq.out()[1]

    target = rows[7]
    assert hq.run("residents", "search", target["nama"].split()[0].lower(), "--json") == 0
    assert target["nik"] in [r["nik"] for r in json.loads(hq.out()[0])]
    assert hq.run("residents", "search", target["nik"], "--json") == 0
    assert [r["nik"] for r in json.loads(hq.out()[0])] == [target["nik"]]
    assert hq.run("residents", "search", "100%_", "--json") == 0
    assert json.loads(hq.out()[0]) == []
    assert hq.run("residents", "show", "3275010101900001") == 1
    assert "not on the register" in hq.out()[1]


@both
def test_names_work_wherever_a_kelurahan_is_taken(hq):
    assert hq.run("regions", "--json") == 0
    listed = json.loads(hq.out()[0])
    assert len(listed) == 12 and sum(len(k["kelurahan"]) for k in listed) == 56
    assert hq.run("device", "add", "kit-01", "--kelurahan", "Teluk Pucung", "kel. kranji",
                  "-o", str(hq.tmp / "kit.bundle")) == 0
    hq.out()
    assert hq.run("device", "list", "--json") == 0
    assert json.loads(hq.out()[0])[0]["kelurahan"] == ["32.75.03.1004", "32.75.02.1002"]
    assert hq.run("device", "add", "kit-02", "--kelurahan", "jati", "-o",
                  str(hq.tmp / "kit2.bundle")) == 1
    err = hq.out()[1]
    assert "could be Jatiwaringin (32.75.08.1001)" in err and "\n" not in err.strip()
    assert hq.run("residents", "list", "--kelurahan", "Kalibaruu") == 1
    assert "did you mean Kalibaru" in hq.out()[1]


@pytest.mark.parametrize("argv", [
    ("residents", "list"), ("device", "list"), ("devices",), ("packets",),
    ("worklist", "kit-01", "--from", "x.csv", "-o", "w"), ("db", "current"),
])
def test_every_command_on_a_home_never_initialised_says_run_init(argv, tmp_path,
                                                                 monkeypatch, capsys):
    from hq.cli import main

    monkeypatch.setenv("REKAM_HQ_HOME", str(tmp_path / "nothing"))
    monkeypatch.delenv("REKAM_HQ_DATABASE_URL", raising=False)
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    assert "run: rekam-hq init" in err and "Traceback" not in err
    assert not (tmp_path / "nothing").exists()
