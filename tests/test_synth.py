"""The synthetic SIAK-like population: valid, wajib KTP, deterministic, plausibly spread."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from faker.providers.person.id_ID import Provider as IndonesianNames

from edge import regions
from edge.errors import InvalidInput, NotFound
from edge.nik import birth_date_mismatch, parse_nik
from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex, age_on, is_wajib_ktp
from edge.residents_csv import read_csv
from edge.synth import DEFAULT_TODAY, generate_residents, write_synthetic_csv

TODAY = date(2025, 6, 30)
ALL_KELURAHAN = [k.code for k in regions.kelurahan_list()]
N = 4000


@pytest.fixture(scope="module")
def population() -> list[Resident]:
    return list(generate_residents(ALL_KELURAHAN, N, seed=7, today=TODAY))


def test_every_row_is_a_valid_wajib_ktp_resident(population):
    for resident in population:
        nik = parse_nik(resident.nik, today=TODAY)
        assert nik.sex is resident.sex  # women's day + 40
        assert is_wajib_ktp(resident, TODAY)
        assert Resident.from_record(resident.to_record(), today=TODAY) == resident


def test_niks_are_unique_and_kk_numbers_are_shared_by_some_households(population):
    assert len({r.nik for r in population}) == N
    households = Counter(r.no_kk for r in population)
    shared = [kk for kk, n in households.items() if n > 1]
    assert 0.05 < len(shared) / len(households) < 0.4
    for kk in shared[:50]:
        members = [r for r in population if r.no_kk == kk]
        assert len({(r.address, r.rt, r.rw, r.kelurahan) for r in members}) == 1


def test_kk_numbers_have_the_nik_structure(population):
    for resident in population:
        kk = resident.no_kk
        assert kk[:6] == resident.kecamatan.replace(".", "")  # issued where they live
        assert date(2000 + int(kk[10:12]), int(kk[8:10]), int(kk[6:8])) <= TODAY
        assert kk[12:] != "0000"


def test_most_niks_were_first_registered_in_their_own_kecamatan(population):
    own = sum(r.nik[:6] == r.kecamatan.replace(".", "") for r in population) / N
    bekasi = sum(r.nik.startswith("3275") for r in population) / N
    assert 0.75 < own < 0.85
    assert 0.86 < bekasi < 0.94  # ~10 % came from elsewhere in Indonesia
    outsiders = {r.nik[:2] for r in population if not r.nik.startswith("3275")}
    assert len(outsiders) > 10


def test_ages_are_mostly_17_to_25_with_married_16_year_olds(population):
    ages = Counter(age_on(r.birth_date, TODAY) for r in population)
    assert min(ages) == 16 and max(ages) <= 75
    assert 0.65 < sum(n for a, n in ages.items() if 17 <= a <= 25) / N < 0.85
    assert ages[17] == max(ages.values())  # those just turned 17 lead the list
    sixteen = [r for r in population if age_on(r.birth_date, TODAY) == 16]
    assert sixteen and all(r.marital_status is MaritalStatus.MARRIED for r in sixteen)


def test_sex_names_places_and_neighbourhoods_look_real(population):
    women = [r for r in population if r.sex is Sex.FEMALE]
    assert 0.45 < len(women) / N < 0.55
    female_names = {n.upper() for n in IndonesianNames.first_names_female}
    male_names = {n.upper() for n in IndonesianNames.first_names_male}
    for resident in population:
        first = resident.name.split()[0]
        assert first in (female_names if resident.sex is Sex.FEMALE else male_names)
    assert 0.5 < sum(r.birth_place == "BEKASI" for r in population) / N < 0.6
    assert {int(r.rt) for r in population} == set(range(1, 16))
    assert {int(r.rw) for r in population} == set(range(1, 31))
    assert {r.kelurahan for r in population} == set(ALL_KELURAHAN)


def test_a_few_nik_dates_differ_from_the_record_as_in_siak(population):
    warned = sum(
        bool(birth_date_mismatch(parse_nik(r.nik, today=TODAY), r.birth_date, r.sex))
        for r in population
    )
    assert 0 < warned < 0.03 * N


def test_same_seed_same_bytes_other_seed_other_rows(tmp_path):
    one, two, other = tmp_path / "1.csv", tmp_path / "2.csv", tmp_path / "3.csv"
    assert write_synthetic_csv(one, ALL_KELURAHAN, 500, 42, today=TODAY) == 500
    write_synthetic_csv(two, ALL_KELURAHAN, 500, 42, today=TODAY)
    write_synthetic_csv(other, ALL_KELURAHAN, 500, 43, today=TODAY)
    assert one.read_bytes() == two.read_bytes()
    assert one.read_bytes() != other.read_bytes()
    assert [r.nik for r in read_csv(one, today=TODAY)] == [
        r.nik for r in generate_residents(ALL_KELURAHAN, 500, 42, today=TODAY)
    ]


def test_without_today_ages_are_fixed_not_wall_clock():
    implicit = list(generate_residents(ALL_KELURAHAN, 50, 1))
    explicit = list(generate_residents(ALL_KELURAHAN, 50, 1, today=DEFAULT_TODAY))
    assert implicit == explicit
    assert all(is_wajib_ktp(r, DEFAULT_TODAY) for r in implicit)


def test_only_the_kelurahan_asked_for():
    chosen = ["32.75.07.1003", "3275071004"]
    residents = list(generate_residents(chosen, 200, 3, today=TODAY))
    assert {r.kelurahan for r in residents} == {"32.75.07.1003", "32.75.07.1004"}
    assert {r.kecamatan for r in residents} == {"32.75.07"}


def test_bad_arguments():
    with pytest.raises(InvalidInput, match="not a kelurahan"):
        generate_residents(["32.75.07"], 10, 1)
    with pytest.raises(NotFound):
        generate_residents(["32.75.07.9999"], 10, 1)
    with pytest.raises(InvalidInput):
        generate_residents([], 10, 1)
    with pytest.raises(InvalidInput):
        generate_residents(ALL_KELURAHAN, -1, 1)
    assert list(generate_residents(ALL_KELURAHAN, 0, 1)) == []
