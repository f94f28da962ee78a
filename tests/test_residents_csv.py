"""Residents as SIAK-like records and CSV files: validation, Excel quirks, round trips."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date

import pytest

from edge.errors import InvalidInput, NotFound
from edge.resident_record import CSV_COLUMNS, MaritalStatus
from edge.residents import Resident, Sex, age_on, is_wajib_ktp
from edge.residents_csv import read_csv, write_csv

TODAY = date(2025, 6, 30)

SITI = Resident(
    nik="3275015203080012",
    no_kk="3275011504150003",
    name="SITI AMINAH",
    sex=Sex.FEMALE,
    birth_place="BEKASI",
    birth_date=date(2008, 3, 12),
    marital_status=MaritalStatus.SINGLE,
    address="JL. MAWAR NO. 12",
    rt="003",
    rw="005",
    kelurahan="32.75.01.1001",
    kecamatan="32.75.01",
)
BUDI = replace(
    SITI, nik="3275030707990004", name="BUDI SANTOSO", sex=Sex.MALE,
    birth_date=date(1999, 7, 7), marital_status=MaritalStatus.MARRIED,
    kelurahan="32.75.03.1002", kecamatan="32.75.03", rt="015", rw="030",
)


def record(**changes: str) -> dict[str, str]:
    return {**SITI.to_record(), **changes}


def test_to_record_has_the_csv_columns():
    assert list(SITI.to_record()) == list(CSV_COLUMNS)
    assert SITI.to_record()["tanggal_lahir"] == "2008-03-12"
    assert replace(SITI, invitation_code="BKS-7Q2X").to_record()["kode_undangan"] == "BKS-7Q2X"


def test_record_round_trip():
    assert Resident.from_record(SITI.to_record(), today=TODAY) == SITI
    coded = replace(SITI, invitation_code="BKS-7Q2X")
    assert Resident.from_record(coded.to_record(), today=TODAY).invitation_code == "BKS-7Q2X"


def test_siak_spellings_are_accepted_and_normalised():
    resident = Resident.from_record(
        {
            **{k.upper(): v for k, v in record().items()},
            "JENIS_KELAMIN": "Perempuan",
            "TANGGAL_LAHIR": "12-03-2008",
            "STATUS_KAWIN": "kawin  tercatat",
            "RT": "3",
            "RW": "05",
            "NIK": "3275 0152 0308 0012",
            "KODE_KELURAHAN": "3275011001",
            "KODE_KECAMATAN": "327501",
        },
        today=TODAY,
    )
    assert resident == replace(SITI, marital_status=MaritalStatus.MARRIED)
    assert (resident.rt, resident.rw) == ("003", "005")


def test_the_documented_error_format():
    with pytest.raises(InvalidInput) as caught:
        Resident.from_record(record(tanggal_lahir="31-02-1990"), line=17, today=TODAY)
    assert str(caught.value) == "line 17, column tanggal_lahir: 31-02-1990 is not a date"
    assert caught.value.details == {"line": 17, "column": "tanggal_lahir"}


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"nik": "3.27502E+15"}, "nik", "format the column as text"),
        ({"nik": "3275019903080012"}, "nik", "birth date"),
        ({"no_kk": "3.27501E+15"}, "no_kk", "format the column as text"),
        ({"no_kk": "32750115041500"}, "no_kk", "16 digits"),
        ({"nama": "  "}, "nama", "is empty"),
        ({"jenis_kelamin": "W"}, "jenis_kelamin", "L or P"),
        ({"tanggal_lahir": "12/03/08"}, "tanggal_lahir", "not a date"),
        ({"tanggal_lahir": "2030-01-01"}, "tanggal_lahir", "in the future"),
        ({"status_kawin": "JANDA"}, "status_kawin", "BELUM KAWIN"),
        ({"rt": "0"}, "rt", "not an RT number"),
        ({"rw": "1000"}, "rw", "not an RW number"),
        ({"rw": "5a"}, "rw", "not an RW number"),
        ({"kode_kelurahan": "32.75.01.9999"}, "kode_kelurahan", "no region"),
        ({"kode_kelurahan": "32.75.01"}, "kode_kelurahan", "not a kelurahan"),
        ({"kode_kelurahan": "32.75.02.1001"}, "kode_kelurahan", "not in kecamatan 32.75.01"),
        ({"kode_kecamatan": "banyak"}, "kode_kecamatan", "not a Kemendagri region code"),
    ],
)
def test_each_bad_value_is_named_by_line_and_column(changes, column, words):
    with pytest.raises(InvalidInput) as caught:
        Resident.from_record(record(**changes), line=4, today=TODAY)
    message = str(caught.value)
    assert message.startswith(f"line 4, column {column}: ")
    assert words in message
    assert "\n" not in message


def test_a_missing_column_is_named():
    incomplete = record()
    del incomplete["alamat"]
    with pytest.raises(InvalidInput, match=r"^column alamat: is missing$"):
        Resident.from_record(incomplete, today=TODAY)


def test_wajib_ktp_from_the_17th_birthday_or_marriage():
    turning = replace(SITI, birth_date=date(2008, 6, 30))
    assert age_on(turning.birth_date, TODAY) == 17
    assert is_wajib_ktp(turning, TODAY)
    assert not is_wajib_ktp(turning, date(2025, 6, 29))
    for status in (MaritalStatus.MARRIED, MaritalStatus.DIVORCED, MaritalStatus.WIDOWED):
        assert is_wajib_ktp(replace(turning, marital_status=status), date(2025, 6, 29))


def test_leap_day_births_turn_17_on_1_march():
    leap = replace(SITI, birth_date=date(2008, 2, 29))
    assert not is_wajib_ktp(leap, date(2025, 2, 28))
    assert is_wajib_ktp(leap, date(2025, 3, 1))


def test_csv_round_trip_with_bom(tmp_path):
    path = tmp_path / "warga.csv"
    assert write_csv(path, [SITI, BUDI]) == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # so Excel reads UTF-8
    assert raw.splitlines()[0] == b"\xef\xbb\xbf" + ",".join(CSV_COLUMNS).encode()
    assert list(read_csv(path, today=TODAY)) == [SITI, BUDI]
    assert os.stat(path).st_mode & 0o077 == 0  # personal data: owner only


def test_invitation_codes_are_written_only_when_asked(tmp_path):
    path = tmp_path / "worklist.csv"
    coded = replace(SITI, invitation_code="BKS-7Q2X")
    with pytest.raises(InvalidInput, match="invitation_codes=True"):
        write_csv(path, [coded])
    assert not path.exists()
    write_csv(path, [coded, BUDI], invitation_codes=True)
    assert [r.invitation_code for r in read_csv(path, today=TODAY)] == ["BKS-7Q2X", ""]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "warga.csv"
    write_csv(path, [SITI])
    before = path.read_bytes()

    def failing():
        yield BUDI
        raise RuntimeError("disk pulled out")

    with pytest.raises(RuntimeError):
        write_csv(path, failing())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["warga.csv"]


def test_semicolon_csv_from_indonesian_excel(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text(
        "NIK;No_KK;Nama;Jenis_Kelamin;Tempat_Lahir;Tanggal_Lahir;Status_Kawin;Alamat;RT;RW;"
        "Kode_Kelurahan;Kode_Kecamatan;Keterangan\r\n"
        "3275015203080012;3275011504150003;SITI AMINAH;P;BEKASI;12/03/2008;BELUM KAWIN;"
        '"JL. MAWAR; NO. 12";3;5;32.75.01.1001;32.75.01;pindahan\r\n'
        ";;;;;;;;;;;;\r\n",
        encoding="utf-8",
    )
    (resident,) = read_csv(path, today=TODAY)
    assert resident == replace(SITI, address="JL. MAWAR; NO. 12")
    assert resident.extra == {"keterangan": "pindahan"}


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"nama": "SITI\x1b[2J\x07AMINAH"}, "nama", "control or invisible character (U+001B)"),
        ({"nama": "SITI \u202eHANIMA"}, "nama", "(U+202E)"),  # reads as another name
        ({"nama": "SITI\u200bAMINAH"}, "nama", "(U+200B)"),
        ({"alamat": "JL. MAWAR\rNO. 7"}, "alamat", "(U+000D)"),
        ({"tempat_lahir": "BEKASI\x9b2J"}, "tempat_lahir", "(U+009B)"),
        ({"nama": "A" * 101}, "nama", "longer than 100 characters"),
        ({"alamat": "JL. " * 12_500}, "alamat", "longer than 200 characters (49,999)"),
        ({"tempat_lahir": "B" * 101}, "tempat_lahir", "longer than 100 characters"),
        ({"nik": "3" * 50_000}, "nik", "longer than 100 characters"),
    ],
)
def test_control_characters_and_huge_values_are_refused(changes, column, words):
    with pytest.raises(InvalidInput) as caught:
        Resident.from_record(record(**changes), line=7, today=TODAY)
    message = str(caught.value)
    assert message.startswith(f"line 7, column {column}: ") and words in message, message
    assert "\x1b" not in message and len(message) < 200


def test_a_no_break_space_from_excel_is_text(tmp_path):
    assert Resident.from_record(record(nama="SITI\u00a0AMINAH"), today=TODAY).name == \
        "SITI\u00a0AMINAH"


def test_extra_columns_and_codes_of_a_file_are_checked_too(tmp_path):
    path = tmp_path / "extra.csv"
    good = ",".join(SITI.to_record().values())
    path.write_text(",".join(CSV_COLUMNS) + ",kode_undangan,ibu\n" + good + ",ABCD-EFGH,SRI\n"
                    + good + ",ABCD-EFGH,SRI\x1b]0;owned\x07\n", encoding="utf-8")
    rows = read_csv(path, today=TODAY)
    assert next(rows).extra == {"ibu": "SRI"}
    with pytest.raises(InvalidInput, match=r"^line 3, column ibu: holds a control"):
        next(rows)


def test_excel_mangled_nik_in_a_file_names_line_and_hint(tmp_path):
    path = tmp_path / "excel.csv"
    good = ",".join(SITI.to_record().values())
    bad = good.replace(SITI.nik, "3.27502E+15")
    path.write_text(",".join(CSV_COLUMNS) + "\n" + good + "\n" + bad + "\n", encoding="utf-8")
    rows = read_csv(path, today=TODAY)
    assert next(rows) == SITI
    with pytest.raises(InvalidInput, match=r"^line 3, column nik: .*format the column as text"):
        next(rows)


def test_missing_required_column_is_one_line(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("nik,nama\n3275015203080012,SITI\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        list(read_csv(path, today=TODAY))
    message = str(caught.value)
    assert "missing columns no_kk, jenis_kelamin" in message
    assert "\n" not in message


def test_non_utf8_file_gets_a_hint(tmp_path):
    path = tmp_path / "ansi.csv"
    line = ",".join(SITI.to_record().values()).replace("SITI AMINAH", "SITI AMÍNAH")
    path.write_bytes((",".join(CSV_COLUMNS) + "\n" + line + "\n").encode("cp1252"))
    with pytest.raises(InvalidInput, match="CSV UTF-8"):
        list(read_csv(path, today=TODAY))


def test_empty_and_absent_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf\n")
    with pytest.raises(InvalidInput, match="empty"):
        list(read_csv(empty))
    with pytest.raises(NotFound):
        list(read_csv(tmp_path / "absent.csv"))


def test_every_fault_of_a_row_is_named_in_column_order():
    from edge.resident_record import RecordChecker, RowFaults, record_values

    values, _, _ = record_values(record(nik="12", tanggal_lahir="kemarin", rt="0",
                                        kode_kelurahan="32.75.02.1001"))
    with pytest.raises(RowFaults) as caught:
        RecordChecker(TODAY).check(values, line=9)
    assert [column for column, _ in caught.value.faults] == [
        "nik", "tanggal_lahir", "rt", "kode_kelurahan"]
    assert str(caught.value).startswith("line 9, column nik: ")


def test_the_checker_remembers_only_good_values():
    """A value seen once is not checked again, and a bad one is never remembered."""
    from edge.resident_record import RecordChecker, RowFaults, record_values

    checker = RecordChecker(TODAY)
    good, _, _ = record_values(record())
    assert checker.check(good)[5] == SITI.birth_date
    bad, _, _ = record_values(record(tanggal_lahir="2030-01-01"))
    for _ in range(2):
        with pytest.raises(RowFaults, match="in the future"):
            checker.check(bad)


@pytest.mark.parametrize(("delimiter", "newline", "bom"), [
    ("\t", "\r\n", False), (";", "\n", True), (",", "\r\n", True)])
def test_tab_semicolon_or_comma_crlf_or_lf_bom_or_not(tmp_path, delimiter, newline, bom):
    path = tmp_path / "x.csv"
    lines = [delimiter.join(CSV_COLUMNS), delimiter.join(SITI.to_record().values())]
    path.write_bytes(("\ufeff" if bom else "").encode() + newline.join(lines).encode()
                     + newline.encode())
    assert list(read_csv(path, today=TODAY)) == [SITI]


def test_indonesian_header_aliases(tmp_path):
    from edge.residents_csv import open_siak_csv

    path = tmp_path / "x.csv"
    path.write_text("NIK;NO KK;Nama Lengkap;JK;Tmpt Lhr;Tgl. Lahir;Stat Kwn;Alamat;No RT;"
                    "No RW;Kode Kel;Kode Kec;Catatan\n", encoding="utf-8")
    with open_siak_csv(path) as (layout, _rows):
        assert [layout.index[c] for c in CSV_COLUMNS] == list(range(12))
        assert layout.others == {"catatan": 12}
