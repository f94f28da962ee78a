"""Kemendagri region codes: Kota Bekasi's kecamatan and kelurahan, and the national table."""

from __future__ import annotations

import pytest

from edge import regions
from edge.errors import InvalidInput, NotFound


def test_kota_bekasi_has_12_kecamatan_and_56_kelurahan():
    assert regions.kota().name == "Kota Bekasi"
    kecamatan = regions.kecamatan_list()
    assert [k.code for k in kecamatan] == [f"32.75.{n:02d}" for n in range(1, 13)]
    assert len(regions.kelurahan_list()) == 56
    assert sum(len(regions.kelurahan_list(k.code)) for k in kecamatan) == 56


def test_kelurahan_of_one_kecamatan():
    bantargebang = regions.kelurahan_list("32.75.07")
    assert [k.name for k in bantargebang] == ["Bantargebang", "Cikiwul", "Ciketingudik",
                                              "Sumurbatu"]
    assert all(k.level == "kelurahan" and k.kecamatan_code == "32.75.07" for k in bantargebang)


@pytest.mark.parametrize("code", ["32.75.01.1001", "3275011001", " 3275011001 "])
def test_get_accepts_dotted_and_undotted_codes(code):
    region = regions.get(code)
    assert (region.code, region.name, region.level) == ("32.75.01.1001", "Bekasijaya",
                                                        "kelurahan")


@pytest.mark.parametrize(
    ("text", "normal"),
    [("32", "32"), ("3275", "32.75"), ("327501", "32.75.01"), ("3275011001", "32.75.01.1001"),
     ("32.75.01", "32.75.01")],
)
def test_normalize_code(text, normal):
    assert regions.normalize_code(text) == normal


@pytest.mark.parametrize("text", ["", "32.7501", "32750", "32-75-01", "kelurahan", "3275.01"])
def test_normalize_code_rejects_other_shapes(text):
    with pytest.raises(InvalidInput, match="not a Kemendagri region code"):
        regions.normalize_code(text)


def test_unknown_region_is_not_found_in_one_line():
    with pytest.raises(NotFound) as caught:
        regions.get("32.75.13")
    assert "32.75.13" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(NotFound):
        regions.get("32.16.01.2001")  # Kabupaten Bekasi is another regency


def test_kecamatan_of_a_kelurahan():
    assert regions.kecamatan_of("32.75.02.1001").name == "Bekasi Barat"
    assert regions.kecamatan_of("3275121004").code == "32.75.12"
    with pytest.raises(NotFound, match="not a kelurahan"):
        regions.kecamatan_of("32.75.02")


def test_kelurahan_list_wants_a_kecamatan():
    with pytest.raises(NotFound, match="not a kecamatan"):
        regions.kelurahan_list("32.75.01.1001")


def test_nik_prefix_of_a_kecamatan():
    assert regions.nik_kecamatan_code("32.75.01") == "327501"
    assert regions.nik_kecamatan_code("32.75.12.1004") == "327512"
    with pytest.raises(NotFound):
        regions.nik_kecamatan_code("32.75")


def test_national_table_has_38_provinces_and_514_current_regencies():
    provinces = regions.provinces()
    assert len(provinces) == 38
    assert provinces["32"] == "Jawa Barat"
    assert provinces["96"] == "Papua Barat Daya"
    regencies = regions.regencies()
    assert regencies["32.75"] == "Kota Bekasi"
    assert all(code[:2] in provinces for code in regencies)
    # 416 kabupaten + 98 kota in force; retired codes are still found on NIKs.
    current = regions.regencies(current_only=True)
    assert len(current) == 514
    assert sum(int(c[3:]) < 70 for c in current) == 416
    assert "91.01" in regencies and "91.01" not in current  # Merauke before 2022
    assert current["93.01"] == "Kabupaten Merauke"


@pytest.mark.parametrize(("text", "code"), [
    ("32.75.03.1004", "32.75.03.1004"), ("3275031004", "32.75.03.1004"),
    ("Teluk Pucung", "32.75.03.1004"), ("telukpucung", "32.75.03.1004"),
    ("Kel. Kranji", "32.75.02.1002"), ("bintara", "32.75.02.1001"),
    ("Bantargebang", "32.75.07.1003"),
])
def test_a_kelurahan_by_code_or_name(text, code):
    assert regions.find(text, "kelurahan").code == code


def test_a_kecamatan_by_name_and_the_ambiguous_or_unknown_refused():
    assert regions.find("Bantar Gebang", "kecamatan").code == "32.75.07"
    assert regions.find("kec. bekasi timur", "kecamatan").code == "32.75.01"
    with pytest.raises(InvalidInput, match=r"could be Bekasi Timur \(32.75.01\), Bekasi Barat"):
        regions.find("Bekasi", "kecamatan")
    with pytest.raises(NotFound, match="did you mean Jatiasih"):
        regions.find("Jatiasi h x", "kecamatan")
    with pytest.raises(NotFound, match="is a kecamatan, not a kelurahan"):
        regions.find("32.75.01", "kelurahan")
