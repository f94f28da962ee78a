"""Delivery of invitation letters: what the Satgas Pamor report for each letter.

A mark is one of :class:`Mark` (typed in English or Indonesian, or as the one- or two-letter
code of the cover sheet's "Hasil" column). Marks come one at a time (``rekam-hq invitations
mark NUMBER ...``) or as the officers' return sheet, a CSV kept in Excel
(:func:`read_return_sheet`): every row is checked before anything is applied, and every bad
row is reported as "line N, column X: reason".

Return sheet columns (header names in any case; comma, semicolon or tab; UTF-8 with or
without a BOM):

================ ==========================================================================
``nomor_surat``  the letter's number as printed (or ``kode_undangan``: the invitation code)
``hasil``        diterima / tidak ditemukan / pindah / meninggal / menolak (or D, T, P, M,
                 TL, or delivered, not-found, moved, died, refused)
``petugas``      who delivered it (optional when the command gives ``--by``)
``catatan``      optional note
``tanggal``      optional day of delivery, DD-MM-YYYY or YYYY-MM-DD (default: today)
================ ==========================================================================
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from edge.clock import WIB
from edge.errors import InvalidInput, NotFound
from edge.resident_record import parse_date
from edge.text import hidden_problem
from hq.db import invitation_marks, invitations, residents
from hq.register import TO_RECORD, Coverage, Status, StatusChange, change_status


class Mark(StrEnum):
    DELIVERED = "delivered"
    NOT_FOUND = "not-found"
    MOVED = "moved"
    DIED = "died"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        """The Indonesian word, as on the cover sheet."""
        return _LABELS[self]


_LABELS = {Mark.DELIVERED: "diterima", Mark.NOT_FOUND: "tidak ditemukan",
           Mark.MOVED: "pindah", Mark.DIED: "meninggal", Mark.REFUSED: "menolak"}

_ALIASES: dict[str, Mark] = {
    **{m.value: m for m in Mark}, **{v.replace(" ", "-"): m for m, v in _LABELS.items()},
    "d": Mark.DELIVERED, "terima": Mark.DELIVERED, "sampai": Mark.DELIVERED,
    "terkirim": Mark.DELIVERED, "diserahkan": Mark.DELIVERED,
    "t": Mark.NOT_FOUND, "tidak-ada": Mark.NOT_FOUND, "notfound": Mark.NOT_FOUND,
    "not-at-home": Mark.NOT_FOUND, "tidak-dikenal": Mark.NOT_FOUND,
    "p": Mark.MOVED, "pindah-alamat": Mark.MOVED, "pindah-domisili": Mark.MOVED,
    "m": Mark.DIED, "wafat": Mark.DIED, "meninggal-dunia": Mark.DIED, "dead": Mark.DIED,
    "tl": Mark.REFUSED, "tolak": Mark.REFUSED, "ditolak": Mark.REFUSED,
}
MARKS_HELP = ("diterima (D), tidak ditemukan (T), pindah (P), meninggal (M), menolak (TL); "
              "or delivered, not-found, moved, died, refused")


def parse_mark(text: str) -> Mark:
    key = "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    found = _ALIASES.get(key)
    if found is None:
        raise InvalidInput(f"{text!r} is not a delivery result: {MARKS_HELP}")
    return found


# --- the return sheet ------------------------------------------------------------------------

COLUMNS = ("nomor_surat", "hasil", "petugas", "catatan", "tanggal")
_HEADER_ALIASES = {
    **{c: c for c in (*COLUMNS, "kode_undangan")},
    "nomor": "nomor_surat", "no_surat": "nomor_surat", "nomor_undangan": "nomor_surat",
    "no_undangan": "nomor_surat", "number": "nomor_surat",
    "kode": "kode_undangan", "undangan": "kode_undangan", "code": "kode_undangan",
    "status": "hasil", "hasil_antar": "hasil", "result": "hasil", "mark": "hasil",
    "nama_petugas": "petugas", "satgas": "petugas", "oleh": "petugas", "by": "petugas",
    "pengantar": "petugas",
    "keterangan": "catatan", "ket": "catatan", "note": "catatan",
    "tgl": "tanggal", "tanggal_antar": "tanggal", "tgl_antar": "tanggal", "date": "tanggal",
}
_HEADER_SEPARATORS = re.compile(r"[\s.\-/]+")
MAX_BY = 64
MAX_NOTE = 500


def _header_key(name: str) -> str:
    return _HEADER_SEPARATORS.sub("_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class ReturnRow:
    line: int
    reference: str  # a letter number, or an invitation code (``by_code``)
    by_code: bool
    mark: Mark
    by: str
    note: str
    day: date | None  # when it was delivered; None: the day it is entered


class SheetRejected(InvalidInput):
    """A return sheet with bad rows; ``problems`` holds each as "line N, column X: ..."."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        bad = len({_line_of(p) for p in problems})
        super().__init__(f"{path}: {bad} bad row{'s' if bad > 1 else ''}; "
                         "nothing was marked (fix them in Excel and import the sheet again)")
        self.problems = problems


def clean_text(value: str, column: str, limit: int) -> str:
    """A cell as it may be stored: no control characters, within ``limit``."""
    value = unicodedata.normalize("NFC", value.strip())
    problem = hidden_problem(value)
    if problem is not None:
        raise InvalidInput(f"{column} {problem}")
    if len(value) > limit:
        raise InvalidInput(f"{column} is longer than {limit} characters")
    return value


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) of each non-empty row, as Excel writes CSV: UTF-8 with or
    without a BOM, CRLF or LF, comma, semicolon or tab."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            if not first.strip():
                raise InvalidInput(f"{path} is empty: expected a header line with "
                                   "nomor_surat, hasil, petugas")
            counts = {d: first.count(d) for d in (",", ";", "\t")}
            delimiter = max(counts, key=lambda d: (counts[d], d == ","))
            header = [_HEADER_ALIASES.get(_header_key(h), "") for h in
                      next(csv.reader([first], delimiter=delimiter))]
            if "nomor_surat" not in header and "kode_undangan" not in header:
                raise InvalidInput(f"{path}, line 1: missing column nomor_surat (or "
                                   "kode_undangan); the header needs nomor_surat, hasil, "
                                   "petugas and may have catatan, tanggal")
            if "hasil" not in header:
                raise InvalidInput(f"{path}, line 1: missing column hasil")
            reader = csv.reader(fh, delimiter=delimiter)
            consumed = 0  # lines read after the header (a quoted cell may span lines)
            for row in reader:
                line, consumed = consumed + 2, reader.line_num
                if "".join(row).strip():
                    yield line, {k: v for k, v in zip(header, row) if k}
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; in Excel save it as "
                           "'CSV UTF-8 (Comma delimited)'") from None


def read_return_sheet(path: Path, *, by: str | None = None, today: date) -> list[ReturnRow]:
    """Every row of a return sheet, checked; SheetRejected lists every bad one."""
    rows, problems = _check_rows(path, by=by, today=today)
    if problems:
        raise SheetRejected(path, problems)
    return rows


def _check_rows(path: Path, *, by: str | None, today: date) -> tuple[list[ReturnRow], list[str]]:
    """The sheet's good rows, and every problem of its bad ones ("line N, column X: ...")."""
    rows: list[ReturnRow] = []
    problems: list[str] = []
    for line, cells in _rows(path):
        faults: list[str] = []

        def bad(column: str, reason: str, line: int = line, faults: list[str] = faults) -> None:
            faults.append(f"line {line}, column {column}: {reason}")

        number = cells.get("nomor_surat", "").strip()
        code = cells.get("kode_undangan", "").strip()
        if not number and not code:
            bad("nomor_surat", "empty (the number printed on the letter and on the cover "
                               "sheet)")
        try:
            mark = parse_mark(cells.get("hasil", ""))
        except InvalidInput:
            bad("hasil", f"{cells.get('hasil', '')!r} is not a result: {MARKS_HELP}")
        try:
            who = clean_text(cells.get("petugas", "") or by or "", "petugas", MAX_BY)
            if not who:
                bad("petugas", "empty (who delivered it), and no --by given")
        except ValueError as exc:
            bad("petugas", str(exc))
        try:
            note = clean_text(cells.get("catatan", ""), "catatan", MAX_NOTE)
        except ValueError as exc:
            bad("catatan", str(exc))
        day = None
        if cells.get("tanggal", "").strip():
            try:
                day = parse_date(cells["tanggal"].strip())
                if day > today:
                    bad("tanggal", f"{cells['tanggal'].strip()} is in the future")
            except ValueError as exc:
                bad("tanggal", str(exc))
        try:
            reference = clean_text(number or code, "nomor_surat", 80)
        except ValueError as exc:
            bad("nomor_surat" if number else "kode_undangan", str(exc))
        if faults:
            problems += faults
            continue
        by_code = not number or _looks_like_code(number)  # a code typed in nomor_surat
        rows.append(ReturnRow(line, reference, by_code, mark, who, note, day))
    if not rows and not problems:
        raise InvalidInput(f"{path} has a header but no rows")
    return rows, problems


def duplicates(rows: Sequence[ReturnRow], numbers: Sequence[str]) -> list[str]:
    """Rows naming the same letter twice with different results ("line N, column X: ...").
    ``numbers`` is each row's resolved letter number."""
    seen: dict[str, ReturnRow] = {}
    problems = []
    for row, number in zip(rows, numbers):
        first = seen.setdefault(number, row)
        if first is not row and (first.mark, first.by, first.note, first.day) != (
                row.mark, row.by, row.note, row.day):
            column = "kode_undangan" if row.by_code else "nomor_surat"
            problems.append(f"line {row.line}, column {column}: letter {number} is also on "
                            f"line {first.line} with another result; keep one")
    return problems


# --- applying marks --------------------------------------------------------------------------

#: The register's status a mark moves a resident still to record to.
_STATUS_FOR = {Mark.MOVED: Status.PINDAH, Mark.DIED: Status.MENINGGAL}


@dataclass(frozen=True)
class MarkResult:
    number: str
    mark: Mark
    applied: bool  # False: the same mark was already the letter's latest
    status: StatusChange | None  # moved / died: the resident's new status
    kept_status: Status | None  # moved / died of a resident no longer to record: unchanged


def _find(conn: Connection, reference: str, by_code: bool) -> Any:
    """The letter with this number; for an invitation code, its latest letter."""
    i = invitations.c
    columns = (i.id, i.number, i.delivery, residents.c.nik, residents.c.status)
    query = select(*columns).join(residents, residents.c.id == i.resident_id)
    if by_code:
        code = reference.replace("-", "").replace(" ", "").upper()
        return conn.execute(query.where(i.invitation_code == code)
                            .order_by(i.id.desc()).limit(1)).first()
    return conn.execute(query.where(i.number == reference.strip())).first()


def _apply(conn: Connection, letter: Any, mark: Mark, *, by: str, note: str,
           day: date | None, now: datetime, recorded_by: str, source: str,
           coverage: Coverage) -> MarkResult:
    m = invitation_marks.c
    last = conn.execute(select(m.mark, m.by, m.note, m.delivered_on)
                        .where(m.invitation_id == letter.id)
                        .order_by(m.id.desc()).limit(1)).first()
    if last is not None and tuple(last) == (mark.value, by, note, day):
        return MarkResult(letter.number, mark, False, None, None)  # entered twice: once
    conn.execute(insert(invitation_marks).values(
        invitation_id=letter.id, mark=mark.value, by=by, note=note, delivered_on=day,
        recorded_at=now, recorded_by=recorded_by[:64], source=source))
    conn.execute(update(invitations).where(invitations.c.id == letter.id)
                 .values(delivery=mark.value, delivery_at=now))
    status = kept = None
    if mark in _STATUS_FOR:
        reason = f"Satgas Pamor: {mark.label}" + (f" ({note})" if note else "")
        status = change_status(conn, letter.nik, _STATUS_FOR[mark], at=now, by=by,
                               reason=reason, source=f"undangan {letter.number}",
                               only_from=TO_RECORD, coverage=coverage)
        if status is None and Status(letter.status) is not _STATUS_FOR[mark]:
            kept = Status(letter.status)  # recorded meanwhile, or under review: HQ decides
    return MarkResult(letter.number, mark, True, status, kept)


def mark_one(engine: Engine, reference: str, mark: Mark, *, by: str, note: str = "",
             now: datetime, recorded_by: str) -> MarkResult:
    """``rekam-hq invitations mark NUMBER MARK --by NAME``: a letter number as printed, or
    the invitation code (its latest letter)."""
    by = clean_text(by, "--by", MAX_BY)
    note = clean_text(note, "--note", MAX_NOTE)
    if not by:
        raise InvalidInput("--by: say who delivered the letter")
    with engine.begin() as conn:
        letter = _find(conn, reference, by_code=_looks_like_code(reference))
        if letter is None:
            raise NotFound(f"no invitation letter {reference} (the number is on the letter "
                           "and on the RW's cover sheet; rekam-hq invitations list shows them)")
        coverage = Coverage()
        result = _apply(conn, letter, mark, by=by, note=note, day=None, now=now,
                        recorded_by=recorded_by, source="command line", coverage=coverage)
        coverage.flush(conn)
    return result


_CODE = re.compile(r"[A-Z0-9]{5}-?[A-Z0-9]{5}")


def _looks_like_code(reference: str) -> bool:
    return "/" not in reference and bool(_CODE.fullmatch(reference.strip().upper()))


@dataclass(frozen=True)
class SheetResult:
    rows: int
    results: list[MarkResult]

    @property
    def applied(self) -> int:
        return sum(r.applied for r in self.results)


def apply_sheet(engine: Engine, path: Path, *, by: str | None, now: datetime,
                recorded_by: str) -> SheetResult:
    """The Satgas Pamor's return sheet, all or nothing: every row is checked (its cells,
    that its letter exists, that no letter is on it twice with different results) before
    one transaction applies them all. SheetRejected lists every bad row."""
    today = now.astimezone(WIB).date()
    # Letters are looked up for every row whose cells are right, so the clerk sees every
    # problem of the sheet at once, not the unknown numbers only after fixing the rest.
    rows, problems = _check_rows(path, by=by, today=today)
    with engine.begin() as conn:
        letters = []
        for row in rows:
            letter = _find(conn, row.reference, row.by_code)
            if letter is None:
                column = "kode_undangan" if row.by_code else "nomor_surat"
                problems.append(f"line {row.line}, column {column}: no invitation letter "
                                f"{row.reference}")
            letters.append(letter)
        problems += duplicates([r for r, x in zip(rows, letters) if x is not None],
                               [x.number for x in letters if x is not None])
        if problems:
            raise SheetRejected(path, sorted(problems, key=_line_of))
        coverage = Coverage()
        done: set[str] = set()
        results = []
        for row, letter in zip(rows, letters):
            if letter.number in done:
                continue  # the same row twice
            done.add(letter.number)
            results.append(_apply(conn, letter, row.mark, by=row.by, note=row.note,
                                  day=row.day, now=now, recorded_by=recorded_by,
                                  source=f"{path.name} line {row.line}", coverage=coverage))
        coverage.flush(conn)
    return SheetResult(len(rows), results)


def _line_of(problem: str) -> int:
    return int(problem.split(",")[0].removeprefix("line "))
