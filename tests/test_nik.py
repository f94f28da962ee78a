"""NIK parsing: the structure PP KK CC DDMMYY SSSS and the rules in docs/domain.md."""

from __future__ import annotations

from datetime import date

import pytest

from edge.errors import InvalidInput, InvalidNIK
from edge.nik import birth_date_mismatch, parse_nik
from edge.residents import Sex

TODAY = date(2025, 6, 30)


def test_a_mans_nik_parses_into_its_parts():
    nik = parse_nik("3275010101900001", today=TODAY)
    assert (nik.province, nik.regency, nik.kecamatan, nik.serial) == ("32", "75", "01", "0001")
    assert nik.birth_date == date(1990, 1, 1)
    assert nik.sex is Sex.MALE
    assert nik.regency_code == "32.75"
    assert nik.region_prefix == "327501"
    assert str(nik) == nik.value == "3275010101900001"


@pytest.mark.parametrize(
    ("digits", "born"),
    [("41", date(1990, 1, 1)), ("71", date(1990, 1, 31))],
)
def test_a_womans_day_carries_40(digits, born):
    nik = parse_nik(f"327501{digits}01900001", today=TODAY)
    assert nik.sex is Sex.FEMALE
    assert nik.birth_date == born


@pytest.mark.parametrize(
    "text",
    ["32 75 01 410190 0001", "32.75.01.410190.0001", "3275-01-410190-0001", " 3275014101900001 "],
)
def test_spaces_dots_and_dashes_are_separators(text):
    assert parse_nik(text, today=TODAY).value == "3275014101900001"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "length"),
        ("327501410190001", "length"),
        ("32750141019000011", "length"),
        ("32750141019O0001", "characters"),  # letter O for zero
        ("3275014101900001/", "characters"),
        ("３２７５０１４１０１９０００１", "characters"),  # full-width digits
        ("9975014101900001", "province"),
        ("2075014101900001", "province"),
        ("3299014101900001", "regency"),
        ("3200014101900001", "regency"),
        ("9371014101900001", "regency"),  # Papua Selatan has no kota
        ("3275004101900001", "kecamatan"),
        ("3275013202900001", "birth date"),  # day 32
        ("3275014002900001", "birth date"),  # day 40: neither a man's nor a woman's
        ("3275017202900001", "birth date"),  # day 72 = a woman's 32
        ("3275010113900001", "birth date"),  # month 13
        ("3275013102900001", "birth date"),  # 31 February
        ("3275012902010001", "birth date"),  # 29 February 2001/1901
        ("3275014101900000", "serial"),
    ],
)
def test_each_invalid_part_is_rejected_by_name(text, field):
    with pytest.raises(InvalidNIK) as caught:
        parse_nik(text, today=TODAY)
    assert caught.value.field == field
    message = str(caught.value)
    assert f": {field}: " in message
    assert "\n" not in message
    assert isinstance(caught.value, InvalidInput)  # callers that catch InvalidInput see it


def test_excel_scientific_notation_gets_a_hint():
    with pytest.raises(InvalidNIK, match="format the column as text") as caught:
        parse_nik("3.27501E+15", today=TODAY)
    assert caught.value.field == "characters"


def test_serial_0000_hints_at_excel_rounding():
    with pytest.raises(InvalidNIK, match="Excel"):
        parse_nik("3275014101900000", today=TODAY)


def test_a_pasted_paragraph_still_gives_a_short_one_line_message():
    with pytest.raises(InvalidNIK) as caught:
        parse_nik("not a nik\n" * 50, today=TODAY)
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 160


@pytest.mark.parametrize(
    ("yymmdd_part", "year"),
    [
        ("300625", 2025),  # today itself is not in the future
        ("010725", 1925),  # 1 July 2025 is after today
        ("010105", 2005),  # python-stdnum would say 1905
        ("010100", 2000),
        ("311299", 1999),
        ("290200", 2000),  # 29 Feb 2000 exists
    ],
)
def test_century_is_20yy_unless_that_is_in_the_future(yymmdd_part, year):
    nik = parse_nik(f"327501{yymmdd_part}0001", today=TODAY)
    assert nik.birth_date.year == year


def test_century_follows_today():
    assert parse_nik("3275010101260001", today=date(2025, 12, 31)).birth_date.year == 1926
    assert parse_nik("3275010101260001", today=date(2026, 1, 1)).birth_date.year == 2026


@pytest.mark.parametrize(
    "prefix",
    [
        "9171",  # Kota Jayapura, Papua, before and after 2022
        "9101",  # Merauke under Papua until 2022: NIKs issued then keep it
        "9301",  # Merauke under Papua Selatan since 2022
        "9671",  # Kota Sorong, Papua Barat Daya
        "9271",  # Kota Sorong under Papua Barat until 2022
        "6571",  # Kota Tarakan, Kalimantan Utara
        "6473",  # Kota Tarakan under Kalimantan Timur until 2012
        "3101",  # Kepulauan Seribu, the only kabupaten of Jakarta
    ],
)
def test_regency_codes_old_and_new_are_accepted(prefix):
    assert parse_nik(f"{prefix}011203050007", today=TODAY).regency_code == (
        f"{prefix[:2]}.{prefix[2:]}"
    )


def test_no_warning_when_nik_matches_the_record():
    nik = parse_nik("3275015203050012", today=TODAY)
    assert birth_date_mismatch(nik, date(2005, 3, 12), Sex.FEMALE) == []


def test_mismatched_birth_date_is_a_warning_not_an_error():
    nik = parse_nik("3275011203050012", today=TODAY)
    warnings = birth_date_mismatch(nik, date(2005, 3, 14), Sex.MALE)
    assert len(warnings) == 1
    assert "120305" in warnings[0] and "14-03-2005" in warnings[0]


def test_mismatched_sex_is_a_warning():
    nik = parse_nik("3275015203050012", today=TODAY)
    warnings = birth_date_mismatch(nik, date(2005, 3, 12), Sex.MALE)
    assert len(warnings) == 1
    assert "jenis kelamin P" in warnings[0]


def test_the_inferred_century_alone_never_warns():
    # The NIK says only "25"; a record of 1925 is consistent with it.
    nik = parse_nik("3275010101250001", today=TODAY)
    assert nik.birth_date.year == 2025
    assert birth_date_mismatch(nik, date(1925, 1, 1), Sex.MALE) == []
