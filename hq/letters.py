"""Invitation letters as PDF: official A4 letters (one per resident) or four cut-out slips
per sheet, each RW's batch behind a cover sheet for the RT/RW head, set by Typst.

The layout is ``hq/templates/invitations.typ``. Everything printed travels to it as JSON
data (never pasted into the markup), so a hostile name prints as the characters it holds.
QR codes are made here with segno (SVG) and hold the signed token of
:mod:`edge.invitation_token`. Typst's own fonts (Libertinus Serif, DejaVu Sans Mono) are
used and the machine's ignored, so a letter looks the same on every HQ server.

Only HQ imports this (the ``hq`` extra: typst, segno).
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from edge import regions
from edge.errors import InvalidInput

BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
         "September", "Oktober", "November", "Desember")
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
ROMAWI = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def tanggal(day: date) -> str:
    """An Indonesian date as letters write it: "4 Desember 2026"."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def hari_tanggal(day: date) -> str:
    """"Jumat, 4 Desember 2026"."""
    return f"{HARI[day.weekday()]}, {tanggal(day)}"


def bulan_romawi(day: date) -> str:
    """The month in Roman numerals, as letter numbers carry it ("XII")."""
    return ROMAWI[day.month - 1]


_TIME = re.compile(r"(\d{1,2})[.:](\d{2})\s*[-–]\s*(\d{1,2})[.:](\d{2})")


def waktu(text: str) -> str:
    """A visit's hours as letters write them: "08.00-15.00" -> "08.00–15.00 WIB"; an
    empty time is "sesuai jadwal" (as scheduled)."""
    text = text.strip()
    if not text:
        return "08.00 WIB s.d. selesai"
    m = _TIME.fullmatch(text)
    if m:
        return f"{int(m[1]):02d}.{m[2]}–{int(m[3]):02d}.{m[4]} WIB"
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Text as it may be printed: control and bidi-override characters (which the register
    refuses anyway) become spaces, runs of spaces one."""
    return " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", text)).split())


# --- what is printed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """Where and when the residents of one RW are invited."""

    date: date
    place: str
    time: str  # "08.00-15.00" as scheduled, or ""
    kelurahan: str  # Kemendagri code
    rw: str  # zero-padded


@dataclass(frozen=True)
class Letter:
    number: str  # nomor surat
    letter_date: date
    name: str
    sex: str  # "L" / "P"
    address: str
    rt: str
    rw: str
    kelurahan: str  # Kemendagri code
    invitation_code: str  # "K7QFR-2M9XA"
    visit: Visit
    valid_until: date  # last day (WIB) the token is accepted
    token: str  # the signed text the QR code holds


@dataclass(frozen=True)
class Batch:
    """One RW's letters, in walking order, behind their cover sheet."""

    visit: Visit
    letters: Sequence[Letter]


@dataclass(frozen=True)
class LetterSettings:
    """The letterhead and signatory; HQ's ``config.json`` may override each (``letters``)."""

    government: str = "PEMERINTAH KOTA BEKASI"
    office: str = "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL"
    address: str = "Kota Bekasi, Jawa Barat"
    city: str = "Bekasi"
    on_behalf: str = ""
    signatory_title: str = "Kepala Dinas Kependudukan dan Pencatatan Sipil Kota Bekasi"
    signatory_name: str = ""
    signatory_nip: str = ""
    number_format: str = "470/{seq:05d}/Disdukcapil/{roman}/{year}"
    bring: tuple[str, ...] = field(default=(
        "Surat undangan ini (kode QR-nya dipindai petugas);",
        "Kartu Keluarga (KK) asli atau fotokopinya;",
        "Buku nikah / akta perkawinan, bagi yang belum berusia 17 tahun tetapi sudah atau "
        "pernah kawin.",
    ))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LetterSettings:
        """``config["letters"]``: any of the fields above, e.g. ``{"signatory_name": ...}``."""
        given = config.get("letters") or {}
        if not isinstance(given, dict):
            raise InvalidInput("config.json: 'letters' must be an object")
        unknown = sorted(set(given) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInput(f"config.json: unknown letters setting {', '.join(unknown)}; "
                               f"known: {', '.join(cls.__dataclass_fields__)}")
        values: dict[str, Any] = {}
        for key, value in given.items():
            if key == "bring":
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise InvalidInput("config.json: letters.bring must be a list of texts")
                values[key] = tuple(clean(v) for v in value)
            elif not isinstance(value, str):
                raise InvalidInput(f"config.json: letters.{key} must be a text")
            else:
                values[key] = clean(value)
        settings = cls(**values)
        settings.letter_number(1, date(2026, 1, 1))  # a bad number_format fails here, early
        return settings

    def letter_number(self, seq: int, day: date) -> str:
        try:
            return self.number_format.format(seq=seq, roman=bulan_romawi(day), year=day.year,
                                             month=day.month)
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidInput(
                f"letters.number_format {self.number_format!r}: {exc} (placeholders: "
                "{seq}, {roman}, {year}, {month})") from None


SUBJECT = "Undangan Perekaman KTP Elektronik"
OPENING = (
    "Menindaklanjuti Instruksi Wali Kota Bekasi tentang Penuntasan Wajib Rekam KTP-el bagi "
    "Warga Kota Bekasi, berdasarkan data kependudukan Saudara/i termasuk penduduk wajib "
    "KTP-el yang belum melakukan perekaman data biometrik (foto, sidik jari, iris mata dan "
    "tanda tangan). Untuk itu kami mengundang Saudara/i hadir pada layanan perekaman keliling:"
)
CLOSING = (
    "Perekaman tidak dipungut biaya. Apabila berhalangan hadir pada jadwal tersebut, "
    "Saudara/i dapat datang ke layanan perekaman lain di kelurahan Saudara/i atau ke kantor "
    "Dinas Kependudukan dan Pencatatan Sipil Kota Bekasi dengan membawa surat ini, paling "
    "lambat {valid_until}."
)
SLIP_OPENING = ("Saudara/i diundang melakukan perekaman KTP-el (foto, sidik jari, iris, tanda "
                "tangan), tanpa biaya, pada:")
SLIP_BRING = "Undangan ini dan Kartu Keluarga (KK)."
FOOTER = ("Undangan ini dicetak oleh sistem Rekam. Keasliannya diperiksa petugas dengan "
          "memindai kode QR; kode QR tidak memuat NIK.")
COVER_NOTE = (
    "Mohon bantuan Bapak/Ibu Ketua RW dan Ketua RT menyampaikan undangan berikut kepada "
    "warga yang bersangkutan bersama Satgas Pamor. Daftar ini diisi kolom Hasil dan Paraf-nya, "
    "lalu dikembalikan ke kelurahan."
)
RESULT_LEGEND = (
    "* Hasil: D = diterima, T = tidak ditemukan, P = pindah, M = meninggal, "
    "TL = menolak. Petugas HQ memasukkannya dengan rekam-hq invitations mark."
)


def salutation(sex: str) -> str:
    return "Sdri." if sex.upper() == "P" else "Sdr."


def _name_size(name: str, sizes: tuple[float, float, float]) -> float:
    """Long names step down in size so that they stay on one or two lines."""
    n = len(name)
    return sizes[0] if n <= 34 else sizes[1] if n <= 60 else sizes[2]


def qr_svg(token: str) -> str:
    """The QR code of a token as SVG text (runs in worker processes: keep it importable)."""
    import segno

    # Level M, boosted when the version has room; alphanumeric mode (the token is made for
    # it); the 4-module quiet zone the standard asks for is part of the image.
    code = segno.make(token, error="m", micro=False)
    buf = io.BytesIO()
    code.save(buf, kind="svg", scale=1, border=4, xmldecl=False, svgclass=None,
              lineclass=None, nl=False)
    return buf.getvalue().decode("ascii")


def _place_names(kelurahan: str) -> tuple[str, str]:
    region = regions.get(kelurahan)
    return region.name, regions.kecamatan_of(region.code).name


def _letter_data(letter: Letter, settings: LetterSettings, qr: str) -> dict[str, Any]:
    kelurahan, kecamatan = _place_names(letter.kelurahan)
    name = clean(letter.name)
    visit = letter.visit
    visit_kelurahan = _place_names(visit.kelurahan)[0]
    return {
        "number": letter.number,
        "place_date": f"{settings.city}, {tanggal(letter.letter_date)}",
        "salutation": salutation(letter.sex),
        "name": name,
        "name_size": _name_size(name, (12, 11, 10)),
        "slip_name_size": _name_size(name, (11, 9.5, 8.5)),
        "address": clean(letter.address),
        "rt": letter.rt, "rw": letter.rw, "kelurahan": kelurahan, "kecamatan": kecamatan,
        "visit_day": hari_tanggal(visit.date),
        "visit_time": waktu(visit.time),
        "visit_place": f"{clean(visit.place)}, Kelurahan {visit_kelurahan}",
        "code": letter.invitation_code,
        "valid_until": tanggal(letter.valid_until),
        "qr": qr,
    }


_BLANK_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="53" height="53">'
              '<rect width="53" height="53" fill="#fff"/></svg>')


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that walks "No. 2" before "No. 10"."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", text))


def walking_key(rw: str, rt: str, address: str, name: str) -> tuple[Any, ...]:
    """RW, RT, then address (house numbers in numeric order), then name: one round."""
    return (rw, rt, _natural(address), _natural(name))


def walking_order(letters: Iterable[Letter]) -> list[Letter]:
    return sorted(letters, key=lambda x: walking_key(x.rw, x.rt, x.address, x.name))


def _cover_data(batch: Batch, letters: list[dict[str, Any]],
                sources: Sequence[Letter]) -> dict[str, Any]:
    """The RW's cover sheet: the visit, the count (per RT too) and every letter's row."""
    visit = batch.visit
    kelurahan, kecamatan = _place_names(visit.kelurahan)
    per_rt = Counter(x.rt for x in sources)
    return {
        "rw": visit.rw, "kelurahan": kelurahan, "kecamatan": kecamatan,
        "visit_day": hari_tanggal(visit.date), "visit_time": waktu(visit.time),
        "visit_place": f"{clean(visit.place)}, Kelurahan {kelurahan}",
        "count_text": f"{len(sources)} undangan",
        "per_rt": ", ".join(f"RT {rt}: {n}" for rt, n in sorted(per_rt.items())) or "—",
        "rows": [{"n": str(i), "number": d["number"], "name": d["name"],
                  "address": d["address"], "rt": d["rt"]}
                 for i, d in enumerate(letters, start=1)],
    }


def build_document(parts: Sequence[tuple[Batch, bool, Sequence[Letter]]],
                   settings: LetterSettings, *, slips: bool = False,
                   codes: Iterator[str] | None = None) -> dict[str, Any]:
    """The JSON data the template lays out for one chunk of a print run: for each part, an
    RW's batch, whether its cover sheet is in this chunk, and the letters that are.
    ``codes`` gives the letters' QR codes (SVG) in order; None makes them here, one by one.
    """
    groups = []
    for batch, with_cover, letters in parts:
        data = [_letter_data(letter, settings,
                             qr_svg(letter.token) if codes is None else next(codes))
                for letter in letters]
        cover = None
        if with_cover:
            cover = _cover_data(batch, [_letter_row(x, settings) for x in batch.letters],
                                batch.letters)
        groups.append({"cover": cover, "letters": data})
    return {
        "title": SUBJECT,
        "slips": slips,
        "letterhead": {"government": settings.government, "office": settings.office,
                       "address": settings.address},
        "signatory": {"on_behalf": settings.on_behalf, "title": settings.signatory_title,
                      "name": settings.signatory_name, "nip": settings.signatory_nip},
        "subject": SUBJECT, "opening": OPENING, "closing": CLOSING,
        "bring": list(settings.bring), "footer": FOOTER, "cover_note": COVER_NOTE,
        "result_legend": RESULT_LEGEND, "slip_opening": SLIP_OPENING,
        "slip_bring": SLIP_BRING,
        "groups": groups,
    }


def _letter_row(letter: Letter, settings: LetterSettings) -> dict[str, Any]:
    """What a cover sheet lists of a letter (no QR code needed)."""
    return {"number": letter.number, "name": clean(letter.name),
            "address": clean(letter.address), "rt": letter.rt}


def template() -> bytes:
    return (Path(__file__).parent / "templates" / "invitations.typ").read_bytes()


def typeset(document: Mapping[str, Any], *, when: datetime | None = None) -> bytes:
    """The PDF of one :func:`build_document` result (Typst; releases the GIL)."""
    import typst

    compiler = typst.Compiler(template(), ignore_system_fonts=True,
                              sys_inputs={"data": json.dumps(document, ensure_ascii=False)})
    try:
        pdf = compiler.compile(format="pdf", pdf_tags=False,
                               timestamp=None if when is None else when.replace(microsecond=0))
    except typst.TypstError as exc:  # a bug of ours, never the data: say where
        raise RuntimeError(f"typesetting the letters failed: {exc.message} "
                           f"{exc.diagnostic}") from exc
    assert isinstance(pdf, bytes)
    return pdf


#: Letters per Typst run. Typst holds ~0.9 MB per letter until the PDF is written, so a
#: kelurahan's 5,000 letters in one run would take 4.5 GB; typst-py keeps the caches of the
#: last ten runs only, so in runs of 50 the process stays under ~500 MB however many letters
#: are printed. Progress moves run by run, and the next run's QR codes are made (Python)
#: while Typst sets the previous one (Rust, off the GIL): both CPUs work. The runs' PDFs are
#: joined with PDFium (pypdfium2), which also drops what they repeat.
CHUNK = 50


def chunks(batches: Sequence[Batch], size: int = CHUNK, *, slips: bool = False
           ) -> Iterator[list[tuple[Batch, bool, Sequence[Letter]]]]:
    """Split a print run into Typst runs of at most ``size`` letters: parts of (batch, with
    its cover sheet, letters). An RW's cover sheet goes with its first letters; slips split
    only between sheets of four."""
    unit = 4 if slips else 1
    per_run = max(unit, size - size % unit)
    current: list[tuple[Batch, bool, Sequence[Letter]]] = []
    count = 0
    for batch in batches:
        letters = list(batch.letters)
        start = 0
        while start < len(letters):
            room = per_run - count
            take = min(len(letters) - start, room - room % unit)
            if take == 0:
                yield current
                current, count = [], 0
                continue
            current.append((batch, start == 0, letters[start:start + take]))
            count += take + (-take % unit)  # a batch's last sheet of slips is a whole sheet
            start += take
            if count >= per_run:
                yield current
                current, count = [], 0
    if current:
        yield current


@contextmanager
def _qr_codes(tokens: Sequence[str], qr: bool) -> Iterator[Iterator[str]]:
    """The tokens' QR codes as SVG, in order, made as they are needed. segno is pure Python
    and choosing each code's mask by the standard's penalty rules (8 masks scored) is most
    of a letter's cost: it runs here while Typst sets the previous run in its thread.
    (Worker processes for it gained nothing measurable on a 2-CPU machine that Typst
    already keeps busy, and made every caller need a ``__main__`` guard.)"""
    yield map(qr_svg, tokens) if qr else iter([_BLANK_SVG] * len(tokens))


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    letters: int


def render(batches: Sequence[Batch], settings: LetterSettings, *, slips: bool = False,
           qr: bool = True, when: datetime | None = None, size: int = CHUNK,
           progress: Callable[[int], None] | None = None) -> Rendered:
    """The whole print run as one PDF. ``progress(letters)`` as each Typst run finishes."""
    import pypdfium2 as pdfium

    runs: list[bytes] = []
    done = 0
    tokens = [letter.token for batch in batches for letter in batch.letters]
    with (_qr_codes(tokens, qr) as codes,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="typst") as typesetter):
        pending: deque[tuple[Future[bytes], int]] = deque()

        def finish_oldest() -> None:
            nonlocal done
            future, count = pending.popleft()
            runs.append(future.result())
            done += count
            if progress is not None:
                progress(done)

        for parts in chunks(batches, size, slips=slips):
            document = build_document(parts, settings, slips=slips, codes=codes)
            pending.append((typesetter.submit(typeset, document, when=when),
                            sum(len(p[2]) for p in parts)))
            if len(pending) > 1:  # one run in Typst, the next one being prepared
                finish_oldest()
        while pending:
            finish_oldest()
    merged = pdfium.PdfDocument.new()
    for run in runs:
        merged.import_pages(pdfium.PdfDocument(run))
    out = io.BytesIO()
    merged.save(out)
    return Rendered(out.getvalue(), len(merged), done)
