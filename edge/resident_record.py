"""One resident's record as SIAK-like exports carry it, and the one place it is validated.

A record's columns are :data:`CSV_COLUMNS`, plus an optional trailing
:data:`INVITATION_COLUMN` (documented in the README); :class:`MaritalStatus` holds the values
of ``status_kawin``. :class:`RecordChecker` checks a row's values, whether they come from the
kit's CSV reader, HQ's worklists or HQ's register import, and :class:`RowFaults` names every
bad one with its line and column. :func:`record_values` picks a record's values out of a
mapping; :func:`parse_date` reads a date as SIAK exports and Excel write it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from edge import regions
from edge.errors import InvalidInput, InvalidNIK, NotFound
from edge.nik import EXCEL_HINT, Sex, parse_nik
from edge.text import hidden_problem


class MaritalStatus(StrEnum):
    """``status_kawin`` as SIAK writes it (its longer spellings are aliases of these)."""

    SINGLE = "BELUM KAWIN"
    MARRIED = "KAWIN"
    DIVORCED = "CERAI HIDUP"
    WIDOWED = "CERAI MATI"


#: Column order of the SIAK-like export, as written by ``rekam-hq synth``.
CSV_COLUMNS: tuple[str, ...] = (
    "nik",
    "no_kk",
    "nama",
    "jenis_kelamin",
    "tempat_lahir",
    "tanggal_lahir",
    "status_kawin",
    "alamat",
    "rt",
    "rw",
    "kode_kelurahan",
    "kode_kecamatan",
)

#: Optional trailing column of the CSV: the invitation code HQ assigns to a worklist row.
INVITATION_COLUMN = "kode_undangan"

#: The longest values a register or worklist takes (a KTP prints far less): a 50 KB cell is
#: a mistake or an attack, refused like any bad value with its line and column.
MAX_NAME = 100
MAX_PLACE = 100
MAX_ADDRESS = 200
MAX_VALUE = 100  # any other column, the codes and numbers included

# SIAK exports spell sex out in full, and may say whether a marriage or divorce is
# registered ("tercatat"); all of these map onto our values.
_SEX_ALIASES = {"L": Sex.MALE, "LAKI-LAKI": Sex.MALE, "LAKI LAKI": Sex.MALE,
                "P": Sex.FEMALE, "PEREMPUAN": Sex.FEMALE}
_MARITAL_ALIASES = {
    **{s.value: s for s in MaritalStatus},
    "KAWIN TERCATAT": MaritalStatus.MARRIED,
    "KAWIN BELUM TERCATAT": MaritalStatus.MARRIED,
    "CERAI HIDUP TERCATAT": MaritalStatus.DIVORCED,
    "CERAI HIDUP BELUM TERCATAT": MaritalStatus.DIVORCED,
}
_MARITAL_EXPECTED = ", ".join(s.value for s in MaritalStatus)
_KNOWN_COLUMNS = frozenset((*CSV_COLUMNS, INVITATION_COLUMN))
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DMY_DATE = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_RT_RW = re.compile(r"\d{1,3}")
_SEPARATORS = re.compile(r"[\s.\-]+")
_T = TypeVar("_T")


class RowFaults(InvalidInput):
    """Every fault of one row, in column order; the message names the first (leftmost)."""

    def __init__(self, line: int | None, faults: list[tuple[str, str]]) -> None:
        column, problem = faults[0]
        where = f"line {line}, column {column}" if line is not None else f"column {column}"
        super().__init__(f"{where}: {problem}", line=line, column=column)
        self.line = line
        self.faults = faults


class _Bad(Exception):
    """One value's fault, inside :class:`RecordChecker`."""


#: A validated row: the values of :data:`CSV_COLUMNS`, normalised (``sex`` and
#: ``marital_status`` as enums, ``birth_date`` a date).
Row = tuple[str, str, str, Sex, str, date, MaritalStatus, str, str, str, str, str]


class RecordChecker:
    """Validates SIAK-like rows, the only code that does (the kit's CSV reader, HQ's
    worklists and HQ's register import all come through here).

    Built once per file: the values of the columns that repeat from row to row (sex,
    marital status, dates, RT/RW, region codes, the NIK's region and date parts) are each
    checked once and remembered, so a row costs a few dictionary look-ups and a file of
    2.6 million rows is checked in seconds. Only valid values are remembered, so a
    hostile file cannot grow the memory with junk. ``today`` decides the NIK's century and
    refuses births in the future.
    """

    def __init__(self, today: date) -> None:
        self.today = today
        self._sex: dict[str, Sex] = {}
        self._marital: dict[str, MaritalStatus] = {}
        self._dates: dict[str, date] = {}
        self._numbers: dict[str, str] = {}
        self._kelurahan: dict[str, regions.Region] = {}
        self._kecamatan: dict[str, regions.Region] = {}
        self._nik_region: set[str] = set()
        self._nik_dates: set[str] = set()
        self._pairs: set[tuple[str, str]] = set()

    def check(self, values: Sequence[str | None], line: int | None = None) -> Row:
        """The row's values in :data:`CSV_COLUMNS` order (None for a column the file does
        not have) -> the normalised row; :class:`RowFaults` naming every bad value."""
        # The fast path: look-ups of values seen before (all of them truthy), a method
        # call only for a value met for the first time; any fault -> the slow path.
        try:
            nik, no_kk, name, sex, place, born, marital, address, rt, rw, kel, kec = values
            kelurahan = self._kelurahan.get(kel) or self.kelurahan(kel)  # type: ignore[arg-type]
            kecamatan = self._kecamatan.get(kec) or self.kecamatan(kec)  # type: ignore[arg-type]
            numbers = self._numbers
            row: Row = (
                self.nik(nik), self.no_kk(no_kk), _text(name, MAX_NAME),
                self._sex.get(sex) or self.sex(sex),  # type: ignore[arg-type]
                _text(place, MAX_PLACE),
                self._dates.get(born) or self.birth_date(born),  # type: ignore[arg-type]
                self._marital.get(marital) or self.marital(marital),  # type: ignore[arg-type]
                _text(address, MAX_ADDRESS),
                numbers.get(rt) or self.number(rt, "RT"),  # type: ignore[arg-type]
                numbers.get(rw) or self.number(rw, "RW"),  # type: ignore[arg-type]
                kelurahan.code, kecamatan.code)
            if (kelurahan.code, kecamatan.code) not in self._pairs:
                self._pair(kelurahan, kecamatan)
            return row
        except (_Bad, ValueError):
            raise RowFaults(line, self.faults(values)) from None

    def faults(self, values: Sequence[str | None]) -> list[tuple[str, str]]:
        """Every fault of a row, column by column (the slow path, for bad rows only)."""
        found: list[tuple[str, str]] = []
        checks: tuple[Callable[[Any], object], ...] = (
            self.nik, self.no_kk, _name, self.sex, _place, self.birth_date, self.marital,
            _address, lambda v: self.number(v, "RT"), lambda v: self.number(v, "RW"),
            self.kelurahan, self.kecamatan)
        results: list[object] = []
        for column, check, value in zip(CSV_COLUMNS, checks, values, strict=True):
            try:
                results.append(check(value))
            except _Bad as exc:
                found.append((column, str(exc)))
                results.append(None)
        kelurahan, kecamatan = results[10], results[11]
        if isinstance(kelurahan, regions.Region) and isinstance(kecamatan, regions.Region):
            try:
                self._pair(kelurahan, kecamatan)
            except _Bad as exc:
                found.append(("kode_kelurahan", str(exc)))
        return found

    def nik(self, value: str | None) -> str:
        # Fast path: 16 ASCII digits whose region and date parts were seen before.
        if (value is not None and len(value) == 16 and value.isascii() and value.isdigit()
                and value[:6] in self._nik_region and value[6:12] in self._nik_dates
                and value[12:] != "0000"):
            return value
        text = _text(value)
        if (len(text) == 16 and text.isascii() and text.isdigit()
                and text[:6] in self._nik_region and text[6:12] in self._nik_dates
                and text[12:] != "0000"):
            return text
        try:
            nik = parse_nik(text, today=self.today)
        except InvalidNIK as exc:
            raise _Bad(f"{text} ({exc.field}): {exc.reason}") from None
        self._nik_region.add(nik.value[:6])
        self._nik_dates.add(nik.value[6:12])
        return nik.value

    def no_kk(self, value: str | None) -> str:
        if value is not None and len(value) == 16 and value.isascii() and value.isdigit():
            return value
        text = _text(value)
        if len(text) == 16 and text.isascii() and text.isdigit():
            return text
        if "E+" in text.upper():
            raise _Bad(f"{text}: {EXCEL_HINT}")
        digits = _SEPARATORS.sub("", text)
        if not (digits.isascii() and digits.isdigit() and len(digits) == 16):
            raise _Bad(f"{text} is not a KK number (16 digits)")
        return digits

    def sex(self, value: str | None) -> Sex:
        found = self._sex.get(value) if value is not None else None
        if found is None:
            found = self._sex[_text(value)] = _choice(value, _SEX_ALIASES, "L or P")
        return found

    def marital(self, value: str | None) -> MaritalStatus:
        found = self._marital.get(value) if value is not None else None
        if found is None:
            found = self._marital[_text(value)] = _choice(value, _MARITAL_ALIASES,
                                                          _MARITAL_EXPECTED)
        return found

    def birth_date(self, value: str | None) -> date:
        found = self._dates.get(value) if value is not None else None
        if found is None:
            text = _text(value)
            try:
                found = parse_date(text)
            except ValueError as exc:
                raise _Bad(str(exc)) from None
            if found > self.today:
                raise _Bad(f"{text} is in the future")
            self._dates[text] = found
        return found

    def number(self, value: str | None, what: str) -> str:
        found = self._numbers.get(value) if value is not None else None
        if found is None:
            text = _text(value)
            if not (_RT_RW.fullmatch(text) and int(text) > 0):
                raise _Bad(f"{text!r} is not an {what} number (1 to 999)")
            found = self._numbers[text] = text.zfill(3)
        return found

    def kelurahan(self, value: str | None) -> regions.Region:
        found = self._kelurahan.get(value) if value is not None else None
        if found is None:
            found = self._kelurahan[_text(value)] = _region(value, "kelurahan")
        return found

    def kecamatan(self, value: str | None) -> regions.Region:
        found = self._kecamatan.get(value) if value is not None else None
        if found is None:
            found = self._kecamatan[_text(value)] = _region(value, "kecamatan")
        return found

    def _pair(self, kelurahan: regions.Region, kecamatan: regions.Region) -> None:
        if kelurahan.kecamatan_code != kecamatan.code:
            raise _Bad(f"{kelurahan.code} ({kelurahan.name}) is not in kecamatan "
                       f"{kecamatan.code} ({kecamatan.name})")
        self._pairs.add((kelurahan.code, kecamatan.code))


def _text(value: str | None, limit: int = MAX_VALUE) -> str:
    """A cell's text, trimmed: present, at most ``limit`` characters, and free of control
    and invisible characters (an ESC in a name would reach every terminal that prints it,
    a right-to-left override would make it read as another name)."""
    if value is None:
        raise _Bad("is missing")
    text = value.strip()
    if not text:
        raise _Bad("is empty")
    if len(text) > limit:
        raise _Bad(f"is longer than {limit} characters ({len(text):,})")
    problem = hidden_problem(text)
    if problem is not None:
        raise _Bad(problem)
    return text


def _name(value: str | None) -> str:
    return _text(value, MAX_NAME)


def _place(value: str | None) -> str:
    return _text(value, MAX_PLACE)


def _address(value: str | None) -> str:
    return _text(value, MAX_ADDRESS)


def _choice(value: str | None, allowed: Mapping[str, _T], expected: str) -> _T:
    text = _text(value)
    found = allowed.get(" ".join(text.upper().split()))
    if found is None:
        raise _Bad(f"{text!r} is not one of {expected}")
    return found


def _region(value: str | None, level: str) -> regions.Region:
    text = _text(value)
    try:
        region = regions.get(text)
    except (InvalidInput, NotFound) as exc:
        raise _Bad(str(exc)) from None
    if region.level != level:
        raise _Bad(f"{region.code} is a {region.level}, not a {level}")
    return region


def text_faults(cells: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """The faults of free-text cells given as (column, value): the invitation code and the
    columns Rekam does not know, which may be blank but not hold what a checked value may
    not (control or invisible characters, more than :data:`MAX_VALUE` characters)."""
    faults = []
    for column, value in cells:
        try:
            if value and value.strip():
                _text(value)
        except _Bad as exc:
            faults.append((column, str(exc)))
    return faults


def record_values(
    record: Mapping[str, str | None],
) -> tuple[list[str | None], str, dict[str, str]]:
    """A record's values in :data:`CSV_COLUMNS` order (keys in any case, with stray
    spaces; None for a column it lacks), its invitation code, and its other non-empty
    columns. (``csv.DictReader`` pads a short row with None.)"""
    values = {str(k).strip().lower(): (v or "").strip() for k, v in record.items() if k}
    extra = {k: v for k, v in values.items() if v and k not in _KNOWN_COLUMNS}
    return [values.get(c) for c in CSV_COLUMNS], values.get(INVITATION_COLUMN, ""), extra


def parse_date(value: str) -> date:
    """A date as SIAK exports and Excel write it: ``YYYY-MM-DD`` or ``DD-MM-YYYY`` (``/``
    or ``.`` also separate); ValueError saying why otherwise."""
    if m := _ISO_DATE.fullmatch(value):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _DMY_DATE.fullmatch(value):
        day, month, year = int(m[1]), int(m[3]), int(m[4])
    else:
        raise ValueError(f"{value} is not a date (YYYY-MM-DD or DD-MM-YYYY)")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{value} is not a date") from None

