"""Invitation letters as paper: Indonesian dates, walking order, one page per letter however
long the name, hostile text printed as text, four slips per sheet, and every QR code on
every page decodes to a token the kit accepts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from letter_pages import read_pages

from edge.invitation_token import encode_token, verify_token
from edge.keys import signing_key_id
from hq.letters import (
    Batch,
    Letter,
    LetterSettings,
    Visit,
    chunks,
    hari_tanggal,
    render,
    tanggal,
    waktu,
    walking_order,
)

KELURAHAN = "32.75.01.1001"  # Bekasijaya, Bekasi Timur
KEY = ed25519.Ed25519PrivateKey.generate()
TRUSTED = {signing_key_id(KEY.public_key()): KEY.public_key()}
EXPIRES = datetime(2027, 1, 3, 16, 59, 59, tzinfo=UTC)
HOSTILE = "#set page(fill: red) *Budi* _x_ $a^2$ [b] <l> @ref \\ // x = y `raw` #{1+1}"
LONG_NAME = ("Raden Roro Kusumawardhani Ayu Prameswari Wulandari Setyaningrum Hadiningrat "
             "binti Soekarno Djojohadikusumo")
LONG_ADDRESS = ("Perumahan Taman Galaxy Indah Blok C-17 No. 123, Jalan Pulau Sumatera Raya, "
                "dekat Masjid Al-Ikhlas, seberang warung Bu Haji Romlah, belakang pos ronda "
                "RT 004 yang bercat hijau muda")
VISIT5 = Visit(date(2026, 12, 4), "Balai RW 005", "08.00-15.00", KELURAHAN, "005")
VISIT7 = Visit(date(2026, 12, 5), "SMAN 4 Bekasi", "", KELURAHAN, "007")


def _letter(i: int, visit: Visit, **over: object) -> Letter:
    code = f"K7QFR{i:05d}"
    letter = Letter(
        number=f"470/{i:05d}/Disdukcapil/XI/2026", letter_date=date(2026, 11, 27),
        name=f"Warga Nomor {i}", sex="P" if i % 2 else "L", address=f"Jl. Merdeka No. {i}",
        rt=f"{1 + i % 3:03d}", rw=visit.rw, kelurahan=KELURAHAN,
        invitation_code=f"{code[:5]}-{code[5:]}", visit=visit, valid_until=date(2027, 1, 3),
        token=encode_token(invitation_code=code, kelurahan=KELURAHAN, rw=visit.rw,
                           visit_date=visit.date, expires_at=EXPIRES, signing_key=KEY))
    return replace(letter, **over)  # type: ignore[arg-type]


def test_dates_and_hours_as_an_indonesian_letter_writes_them() -> None:
    assert tanggal(date(2026, 12, 4)) == "4 Desember 2026"
    assert hari_tanggal(date(2026, 12, 4)) == "Jumat, 4 Desember 2026"
    assert hari_tanggal(date(2027, 1, 3)) == "Minggu, 3 Januari 2027"
    assert waktu("08.00-15.00") == "08.00–15.00 WIB"
    assert waktu("8:00 - 12:30") == "08.00–12.30 WIB"
    assert waktu("") == "08.00 WIB s.d. selesai"


def test_walking_order_is_rw_rt_then_house_numbers() -> None:
    letters = [_letter(1, VISIT5, rt="002", address="Jl. Merdeka No. 10"),
               _letter(2, VISIT5, rt="001", address="Jl. Merdeka No. 10"),
               _letter(3, VISIT5, rt="002", address="Jl. Merdeka No. 9"),
               _letter(4, VISIT5, rt="002", address="Gg. Haji Naim No. 2")]
    assert [x.number for x in walking_order(letters)] == [
        letters[1].number, letters[3].number, letters[2].number, letters[0].number]


def test_letters_with_covers_one_page_each_hostile_text_as_text_every_qr_verifies() -> None:
    rw5 = [_letter(1, VISIT5, name=HOSTILE), _letter(2, VISIT5, name=LONG_NAME,
                                                     address=LONG_ADDRESS),
           _letter(3, VISIT5)]
    rw7 = [_letter(4, VISIT7, name="Ni Luh Putu Ayu", address="Jl. Kemakmuran No. 1 {x}")]
    rendered = render([Batch(VISIT5, rw5), Batch(VISIT7, rw7)], LetterSettings(), size=2)
    pages = read_pages(rendered.pdf)
    assert rendered.pages == len(pages) == 1 + 3 + 1 + 1  # a cover and its letters, per RW
    assert all(p.size_pt == pytest.approx((595.28, 841.89), abs=0.5) for p in pages)  # A4
    cover5, *letters5 = pages[:4]
    assert "DAFTAR PENERIMA UNDANGAN" in cover5.text and "RW 005" in cover5.text
    assert "3 undangan" in cover5.text and "Jumat, 4 Desember 2026" in cover5.text
    assert not cover5.codes
    for page, letter in zip(letters5 + pages[5:], rw5 + rw7):
        assert page.text.startswith("PEMERINTAH KOTA BEKASI\nDINAS KEPENDUDUKAN DAN")
        assert letter.number in page.text and "Kode undangan" in page.text
        assert "Bekasi, 27 November 2026" in page.text
        assert "Berlaku s.d. 3 Januari 2027" in page.text
        [code] = page.codes
        token = verify_token(code, trusted=TRUSTED, now=datetime(2026, 12, 1, tzinfo=UTC),
                             kelurahan=[KELURAHAN])
        assert token.invitation_code == letter.invitation_code.replace("-", "")
        assert (token.rw, token.visit_date) == (letter.rw, letter.visit.date)
    flat = " ".join(pages[1].text.split())
    assert HOSTILE in flat  # printed character for character, never read as markup
    assert "Sdri." in flat and "Jumat, 4 Desember 2026" in flat and "08.00–15.00 WIB" in flat
    long_page = " ".join(pages[2].text.split())
    assert LONG_NAME in long_page and LONG_ADDRESS in long_page
    assert "Saudara/i" in long_page and "Kepala Dinas" in long_page  # nothing pushed off
    assert "Sabtu, 5 Desember 2026" in pages[5].text and "{x}" in pages[5].text


def test_four_slips_per_sheet_each_with_its_own_code() -> None:
    letters = [_letter(i, VISIT5) for i in range(1, 7)]
    rendered = render([Batch(VISIT5, letters)], LetterSettings(), slips=True)
    pages = read_pages(rendered.pdf)
    assert len(pages) == 1 + 2  # the cover, then 4 + 2 slips
    assert len(pages[1].codes) == 4 and len(pages[2].codes) == 2
    decoded = [verify_token(c, trusted=TRUSTED, now=datetime(2026, 12, 1, tzinfo=UTC))
               for p in pages[1:] for c in p.codes]
    assert [t.invitation_code for t in decoded] == [
        x.invitation_code.replace("-", "") for x in letters]
    assert pages[1].text.count("UNDANGAN PEREKAMAN KTP-el") == 4


def test_runs_split_by_letters_and_slips_only_between_sheets() -> None:
    a = Batch(VISIT5, [_letter(i, VISIT5) for i in range(7)])
    b = Batch(VISIT7, [_letter(i, VISIT7) for i in range(7, 10)])
    runs = list(chunks([a, b], 4))
    assert [[(p[0].visit.rw, p[1], len(p[2])) for p in run] for run in runs] == [
        [("005", True, 4)], [("005", False, 3), ("007", True, 1)], [("007", False, 2)]]
    slips = list(chunks([a, b], 6, slips=True))  # 6 -> sheets of 4
    assert [[(p[1], len(p[2])) for p in run] for run in slips] == [
        [(True, 4)], [(False, 3)], [(True, 3)]]


def test_letter_settings_from_config_are_checked() -> None:
    settings = LetterSettings.from_config({"letters": {"signatory_name": "Dra. Hj. Sri Ayu",
                                                       "number_format": "470/{seq}/{year}"}})
    assert settings.letter_number(12, date(2026, 12, 1)) == "470/12/2026"
    with pytest.raises(ValueError, match="unknown letters setting"):
        LetterSettings.from_config({"letters": {"logo": "x.png"}})
    with pytest.raises(ValueError, match="placeholders"):
        LetterSettings.from_config({"letters": {"number_format": "470/{nomor}"}})
