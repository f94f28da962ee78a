"""``rekam-hq report``: the same figures as table, CSV (UTF-8 with BOM), JSON, Excel and the
Wali Kota's PDF; bad ranges, unknown areas and empty periods refused in one line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from monitoring_world import HOSTILE_OPERATOR, KELURAHAN, add_enrolments, add_kits, build

from hq.cli import main
from hq.db import make_engine

HOME: list[str] = []


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    home = tmp / "hq"
    assert main(["init", "--home", str(home)]) == 0
    engine = make_engine(f"sqlite:///{home / 'hq.db'}")
    expected = build(engine, tmp)
    now = datetime.now(UTC)
    add_kits(engine, now)
    expected.update(add_enrolments(engine, now))
    engine.dispose()
    HOME[:] = [str(home)]
    return home, expected


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch):
    monkeypatch.delenv("REKAM_HQ_DATABASE_URL", raising=False)


def run(*argv: str) -> int:
    return main(["report", "--home", HOME[0], *argv])


def test_csv_is_utf8_with_bom_and_adds_up(home, capsysbinary):
    _, expected = home
    assert run("--by", "kelurahan", "--to", "2026-12-01", "--format", "csv") == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(out[3:].decode("utf-8"))))
    assert [r["kode"] for r in rows] == sorted(KELURAHAN)
    assert sum(int(r["sudah_rekam"]) for r in rows) == expected["recorded"]
    assert sum(int(r["wajib_rekam"]) for r in rows) == expected["must_record"]


def test_json_carries_the_period_and_the_series(home, capsys):
    assert run("--by", "rw", "--kelurahan", "Margahayu", "--from", "01-11-2026", "--to",
               "10-11-2026", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["periode"] == {"dari": "2026-11-01", "sampai": "2026-11-10"}
    assert data["wilayah"]["nama"] == "Margahayu" and data["per"] == "rw"
    assert all(r["code"] == KELURAHAN[1] and r["rw"] for r in data["baris"])
    assert len(data["kemajuan"]) == 10
    assert sum(r["recorded"] for r in data["baris"]) == data["jumlah"]["recorded"]
    funnel = data["undangan"]
    assert funnel["jumlah"]["letters"] == sum(r["letters"] for r in funnel["baris"]) > 0
    assert 0 < funnel["jumlah"]["attended"] <= funnel["jumlah"]["letters"]


def test_table_prints_the_total(home, capsys):
    assert run("--by", "kecamatan", "--to", "2026-12-01", "--format", "table") == 0
    out = capsys.readouterr().out
    assert "Bekasi Timur" in out and "JUMLAH" in out and "coverage" in out


def test_xlsx_has_typed_cells_formats_frozen_headers_filters_and_charts(home, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "laporan.xlsx"
    assert run("--by", "kelurahan", "--to", "2026-12-01", "--format", "xlsx", "-o",
               str(out)) == 0
    book = load_workbook(out)
    assert {"Ringkasan", "Kecamatan", "Kelurahan", "Kemajuan", "Undangan", "Kit"} <= set(
        book.sheetnames)
    sheet = book["Kelurahan"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert isinstance(sheet["D2"].value, int) and sheet["F2"].number_format == "0.0%"
    assert 0 < sheet["F2"].value < 1
    assert sheet._charts  # a native Excel chart
    progress = book["Kemajuan"]
    assert progress["A2"].is_date and progress._charts


def test_pdf_is_the_evaluation_report_in_bahasa_indonesia(home, tmp_path):
    import pypdfium2

    out = tmp_path / "laporan.pdf"
    assert run("--by", "kecamatan", "--from", "2026-11-01", "--to", "2026-11-30", "--format",
               "pdf", "-o", str(out)) == 0
    pdf = pypdfium2.PdfDocument(out.read_bytes())
    text = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    assert "Laporan Evaluasi Penuntasan" in text[0] and "1 November 2026" in text[0]
    assert "30 November 2026" in text[0]
    assert "Ringkasan" in text[1] and "Cakupan perekaman" in text[1]
    assert any("Cakupan per kelurahan" in t and "Margahayu" in t for t in text)
    assert any("Kit dan operator" in t and "Hasil per operator" in t for t in text)
    assert any("Hasil per kit" in t and "kit-01" in t for t in text)
    assert any("Undangan" in t and "Satgas Pamor" in t for t in text)
    flagged = next(t for t in text if "Perekaman yang ditandai" in t)
    assert "5 perekaman menunggu putusan supervisor" in " ".join(flagged.split())
    assert "NIK tidak ada di daftar wajib rekam" in flagged and "NIK direkam dua kali" in flagged
    assert "rekaman ganda" not in "".join(text)  # a decided review is not waiting
    assert len(pdf) >= 6


@pytest.mark.parametrize(("argv", "message"), [
    (("--by", "kecamatan", "--from", "2026-11-20", "--to", "2026-11-10"), "starts"),
    (("--by", "kecamatan", "--to", "2099-01-01"), "future"),
    (("--by", "kecamatan", "--to", "2026-10-01"), "no data"),
    (("--by", "kelurahan", "--kelurahan", "Atlantis"), "no kelurahan named"),
    (("--by", "kelurahan", "--kecamatan", "Pondokgede"), "nothing on the register"),
    (("--by", "kota", "--kelurahan", "Margahayu"), "above"),
    (("--by", "kecamatan", "--to", "31-02-2026"), "not a date"),
])
def test_bad_requests_say_why_and_exit_non_zero(home, capsys, argv, message):
    assert run(*argv, "--format", "csv") == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_binary_formats_need_a_file(home, capsys):
    assert run("--by", "kecamatan", "--format", "pdf") == 1
    assert "-o FILE" in capsys.readouterr().err


def test_each_kits_and_operators_output_in_json_and_excel(home, capsys, tmp_path):
    from openpyxl import load_workbook

    assert run("--by", "kelurahan", "--from", "2026-11-01", "--to", "2026-11-30", "--format",
               "json") == 0
    report = json.loads(capsys.readouterr().out)
    data = report["perekaman"]
    assert data["jumlah"]["diterima"] == 180 and data["jumlah"]["latihan"] == 0
    waiting = report["ditandai"]  # the queue now, whatever the period
    assert waiting["menunggu_tinjauan"] == len(waiting["daftar"]) == 5
    assert waiting["per_tanda"]["unreadable"] == 1
    assert not any("nik" in item or "nama" in item for item in waiting["daftar"])
    by_operator = {(o["kit"], o["operator"]): o for o in data["operator"]}
    assert set(by_operator) == {("kit-01", "ani"), ("kit-01", "budi"), ("kit-02", "citra"),
                                ("kit-03", "dedi")}
    ani = by_operator[("kit-01", "ani")]
    assert sum(ani["per_hari"].values()) == ani["direkam"] > 0
    assert sum(k["diterima"] for k in data["kit"]) == 180
    out = tmp_path / "laporan.xlsx"
    assert run("--by", "kelurahan", "--format", "xlsx", "-o", str(out)) == 0
    book = load_workbook(out)
    sheet = book["Operator per hari"]
    heads = [c.value for c in sheet[1]]
    assert heads[:4] == ["Tanggal", "Kit", "Operator", "Direkam"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert all(isinstance(r[0], datetime) and isinstance(r[3], int) for r in rows)
    assert sum(r[heads.index("Diterima")] for r in rows) == 185
    assert sum(r[heads.index("Latihan (tidak dihitung)")] for r in rows) == 2
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    operators = {r[2] for r in rows}
    assert "ani" in operators and HOSTILE_OPERATOR[:20] in "".join(operators)
    assert not any("\u202e" in o or "\x1b" in o for o in operators)  # shown, not obeyed
    kits = book["Kit"]
    k_heads = [c.value for c in kits[1]]
    kit01 = next(r for r in kits.iter_rows(min_row=2, values_only=True) if r[0] == "kit-01")
    assert (kit01[k_heads.index("Menunggu tinjauan")], kit01[k_heads.index("Ditolak")]) == (3, 1)
    assert kit01[k_heads.index("Direkam")] == kit01[k_heads.index("Diterima")] + 4
    practice = next(r for r in kits.iter_rows(min_row=2, values_only=True)
                    if r[0] == "kit-latihan")
    assert practice[k_heads.index("Kit latihan")] is True
    assert practice[k_heads.index("Direkam")] == 0
    assert practice[k_heads.index("Latihan (tidak dihitung)")] == 2
    flagged = book["Ditandai"]
    f_rows = list(flagged.iter_rows(min_row=2, values_only=True))
    assert len(f_rows) == 5 and all(isinstance(r[1], datetime) for r in f_rows)
    assert flagged.freeze_panes == "A2" and flagged.auto_filter.ref
    assert any("data berbeda dengan daftar" in r[-1] for r in f_rows)


def test_operator_ids_from_packets_are_printed_as_text_never_obeyed(home, tmp_path):
    """An operator id and a service point from a packet that failed the schema hold Typst
    and HTML markup, a right-to-left override and an escape sequence: the PDF shows the
    characters (the first 64), obeys none of them, and keeps the tables on the page."""
    import pypdfium2

    out = tmp_path / "laporan.pdf"
    assert run("--by", "kelurahan", "--format", "pdf", "-o", str(out)) == 0
    pdf = pypdfium2.PdfDocument(out.read_bytes())
    pages = [pdf[i] for i in range(len(pdf))]
    text = "".join(p.get_textpage().get_text_range() for p in pages)
    flat = text.replace("\u200b", "").replace("\r\n", "").replace("\n", "")
    assert '#set page(fill: red)</td><script>alert("x")</script>*tebal*' in flat
    assert "\u202e" not in text and "\x1b" not in text
    margin = 2.2 / 2.54 * 72 - 1  # the report's side margins, in points
    for page in pages:  # no page turned red: the markup was never run
        image = page.render(scale=0.2).to_pil().convert("RGB")
        assert image.getpixel((2, 2)) == (255, 255, 255)
        width, _ = page.get_size()
        textpage = page.get_textpage()
        for i in range(textpage.count_chars()):  # every glyph inside the text area
            left, _, right, _ = textpage.get_charbox(i)
            assert margin <= left and right <= width - margin, (i, left, right)
