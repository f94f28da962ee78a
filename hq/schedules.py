"""Visit schedules: where a kit stands on which day, read from a CSV an HQ clerk keeps in
Excel and carried, signed, in the kit's worklist.

Columns (header names in any case, comma or semicolon separated, UTF-8 with or without
a BOM): ``tanggal`` (DD-MM-YYYY or YYYY-MM-DD), ``tempat`` (e.g. "Balai RW 005"), ``rw``,
and optionally ``kode_kelurahan`` (required only when the kit serves more than one
kelurahan) and ``catatan`` (a note the operator sees, e.g. "pukul 08.00-15.00").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from edge import regions
from edge.errors import InvalidInput, NotFound
from edge.residents import parse_date
from edge.roster import ScheduleEntry

COLUMNS = ("tanggal", "tempat", "rw")
OPTIONAL = ("kode_kelurahan", "catatan")

_RW = re.compile(r"\d{1,3}")

_Fail = Callable[[str, str], InvalidInput]  # a row's error: (column, problem)


def read_schedule(path: Path, kelurahan: Sequence[str]) -> list[ScheduleEntry]:
    """The visits in ``path`` for a kit serving ``kelurahan``, sorted by date. A visit
    outside the kit's kelurahan, a bad date or RW, or a missing column is refused with
    the line and column named, so the clerk can find the cell in Excel."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; in Excel save it as 'CSV UTF-8'") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput(f"{path} is empty: expected a header line with "
                           f"{', '.join(COLUMNS)}")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"{path}, line 1: missing column {', '.join(missing)} (the header "
                           f"needs {', '.join(COLUMNS)}; optional {', '.join(OPTIONAL)})")
    entries = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        record = {k: v.strip() for k, v in zip(header, row)}

        def fail(column: str, problem: str, line: int = reader.line_num) -> InvalidInput:
            return InvalidInput(f"{path}, line {line}, column {column}: {problem}")

        entries.append(ScheduleEntry(
            date=_date(record.get("tanggal", ""), fail),
            place=_required(record, "tempat", fail),
            kelurahan=_kelurahan(record.get("kode_kelurahan", ""), kelurahan, fail),
            rw=_rw(record.get("rw", ""), fail),
            note=record.get("catatan", ""),
        ))
    return sorted(entries, key=lambda e: (e.date, e.rw))


def _required(record: dict[str, str], column: str, fail: _Fail) -> str:
    value = record.get(column, "")
    if not value:
        raise fail(column, "empty")
    return value


def _date(value: str, fail: _Fail) -> date:
    try:
        return parse_date(value)
    except ValueError as exc:
        raise fail("tanggal", str(exc)) from None


def _rw(value: str, fail: _Fail) -> str:
    if not (_RW.fullmatch(value) and int(value) > 0):
        raise fail("rw", f"{value!r} is not an RW number (1 to 999)")
    return value.zfill(3)


def _kelurahan(value: str, served: Sequence[str], fail: _Fail) -> str:
    if not value:
        if len(served) == 1:
            return served[0]
        raise fail("kode_kelurahan", f"empty, and the kit serves {len(served)} kelurahan "
                                     f"({', '.join(served)}): say which")
    try:
        code = regions.get(value).code
    except (InvalidInput, NotFound) as exc:
        raise fail("kode_kelurahan", str(exc)) from None
    if code not in served:
        raise fail("kode_kelurahan", f"{code} is not served by this kit "
                                     f"({', '.join(served)})")
    return code
