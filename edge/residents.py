"""Residents who must still record (*wajib rekam*), and the SIAK-like CSV that carries them.

The CSV is what ``rekam-hq synth`` writes and what HQ's importer reads; its columns are
listed in :data:`CSV_COLUMNS` (plus an optional trailing ``kode_undangan``) and documented
in the README. :meth:`Resident.from_record` validates one row and is the only way rows from
outside become Residents; :func:`read_csv` and :func:`write_csv` cope with what Excel does
to such files (BOM, semicolons, scientific-notation NIKs).
"""

from __future__ import annotations

import csv
import io
import operator
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from edge import regions
from edge.errors import InvalidInput, InvalidNIK, NotFound
from edge.nik import EXCEL_HINT, parse_nik
from edge.nik import Sex as Sex  # a resident's field; NIK decides it, so it lives there
from edge.text import hidden_problem


class MaritalStatus(StrEnum):
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


@dataclass(frozen=True, slots=True)
class Resident:
    """One resident on a kit's roster. ``rt``/``rw`` are zero-padded 3-digit strings ("005")."""

    nik: str
    no_kk: str
    name: str
    sex: Sex
    birth_place: str
    birth_date: date
    marital_status: MaritalStatus
    address: str
    rt: str
    rw: str
    kelurahan: str  # Kemendagri code, e.g. "32.75.01.1001"
    kecamatan: str  # e.g. "32.75.01"
    invitation_code: str = ""  # assigned by HQ when it builds a worklist
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def birth_year_is_odd(self) -> bool:
        """The face photo's background rule: red for odd birth years, blue for even."""
        return self.birth_date.year % 2 == 1

    def to_record(self) -> dict[str, str]:
        """The CSV/worklist record: :data:`CSV_COLUMNS`, plus ``kode_undangan`` when set."""
        record = {
            "nik": self.nik,
            "no_kk": self.no_kk,
            "nama": self.name,
            "jenis_kelamin": self.sex.value,
            "tempat_lahir": self.birth_place,
            "tanggal_lahir": self.birth_date.isoformat(),
            "status_kawin": self.marital_status.value,
            "alamat": self.address,
            "rt": self.rt,
            "rw": self.rw,
            "kode_kelurahan": self.kelurahan,
            "kode_kecamatan": self.kecamatan,
        }
        if self.invitation_code:
            record[INVITATION_COLUMN] = self.invitation_code
        return record

    @classmethod
    def from_record(
        cls, record: Mapping[str, str], *, line: int | None = None, today: date | None = None
    ) -> Resident:
        """Validate one SIAK-like record (column names case-insensitive) into a Resident.

        Raises InvalidInput with one line naming the line and column, e.g.
        ``line 17, column tanggal_lahir: 31-02-1990 is not a date``. ``today`` (default:
        the real date) decides the NIK's century and rejects births in the future.
        """
        values, code, extra = record_values(record)
        row = RecordChecker(today or date.today()).check(values, line)
        return Resident(*row, invitation_code=code, extra=extra)

    @classmethod
    def from_signed_record(cls, record: Mapping[str, str], *, line: int) -> Resident:
        """A worklist row that HQ validated with :meth:`from_record` before signing it.

        The signature already proves where the row came from, so the kit checks only its
        shape (every field present, canonical values): a 100,000-row worklist then imports
        in a third of the time, which a Raspberry Pi needs. Raises InvalidInput in one line.
        """
        try:
            nik = record["nik"]
            if len(nik) != 16 or not nik.isdigit():
                raise ValueError(f"nik {nik!r} is not 16 digits")
            return cls(
                nik=nik,
                no_kk=record["no_kk"],
                name=record["nama"],
                sex=Sex(record["jenis_kelamin"]),
                birth_place=record["tempat_lahir"],
                birth_date=date.fromisoformat(record["tanggal_lahir"]),
                marital_status=MaritalStatus(record["status_kawin"]),
                address=record["alamat"],
                rt=record["rt"],
                rw=record["rw"],
                kelurahan=record["kode_kelurahan"],
                kecamatan=record["kode_kecamatan"],
                invitation_code=record.get(INVITATION_COLUMN, ""),
            )
        except KeyError as exc:
            raise InvalidInput(f"worklist row {line}: column {exc.args[0]} is missing") from exc
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"worklist row {line}: {exc}") from exc


#: Optional trailing column of the CSV: the invitation code HQ assigns to a worklist row.
INVITATION_COLUMN = "kode_undangan"

#: Age from which everyone is *wajib KTP* (UU 23/2006 as amended, Pasal 63).
WAJIB_KTP_AGE = 17
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


def age_on(birth_date: date, today: date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month,
                                                                       birth_date.day))


def is_wajib_ktp(resident: Resident, today: date) -> bool:
    """Must hold a KTP-el: aged 17 or more, or married or ever married (UU 24/2013)."""
    return (
        age_on(resident.birth_date, today) >= WAJIB_KTP_AGE
        or resident.marital_status is not MaritalStatus.SINGLE
    )


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


def write_csv(
    path: str | os.PathLike[str], residents: Iterable[Resident], *,
    invitation_codes: bool = False,
) -> int:
    """Write residents as the SIAK-like CSV and return how many were written.

    UTF-8 with a BOM so that Excel shows names right; written to a temporary file beside
    ``path`` and renamed over it, so readers never see half a file. The file is private to
    its owner (mode 0600): it holds personal data. ``invitation_codes`` adds the
    ``kode_undangan`` column; without it a resident carrying a code is refused rather than
    silently losing it.
    """
    target = Path(path)
    columns = CSV_COLUMNS + ((INVITATION_COLUMN,) if invitation_codes else ())
    count = 0
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8-sig", newline="", dir=target.parent or ".",
        prefix=f".{target.name}.", suffix=".tmp", delete=False,
    ) as fh:
        tmp = Path(fh.name)
        try:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for resident in residents:
                if resident.invitation_code and not invitation_codes:
                    raise InvalidInput(
                        f"resident {resident.nik} has invitation code "
                        f"{resident.invitation_code}: write with invitation_codes=True"
                    )
                # The columns of to_record(), without building a dict per row.
                row = [resident.nik, resident.no_kk, resident.name, resident.sex.value,
                       resident.birth_place, resident.birth_date.isoformat(),
                       resident.marital_status.value, resident.address, resident.rt,
                       resident.rw, resident.kelurahan, resident.kecamatan]
                if invitation_codes:
                    row.append(resident.invitation_code)
                writer.writerow(row)
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, target)
    return count


#: Header names that mean a column of :data:`CSV_COLUMNS` (after :func:`header_key`:
#: lower case, spaces, dots and dashes as ``_``). SIAK's own short names and what office
#: clerks type in Excel; README.md lists them for users.
HEADER_ALIASES: Mapping[str, str] = MappingProxyType({
    **{c: c for c in (*CSV_COLUMNS, INVITATION_COLUMN)},
    "no_nik": "nik", "nomor_nik": "nik", "nik_penduduk": "nik",
    "kk": "no_kk", "nokk": "no_kk", "nomor_kk": "no_kk", "no_kartu_keluarga": "no_kk",
    "nama_lengkap": "nama", "nama_lgkp": "nama", "nama_penduduk": "nama",
    "jk": "jenis_kelamin", "jns_klmin": "jenis_kelamin", "jns_kelamin": "jenis_kelamin",
    "kelamin": "jenis_kelamin", "l_p": "jenis_kelamin", "lp": "jenis_kelamin",
    "tmpt_lhr": "tempat_lahir", "tmp_lahir": "tempat_lahir", "tempat_lhr": "tempat_lahir",
    "tmpt_lahir": "tempat_lahir",
    "tgl_lahir": "tanggal_lahir", "tgl_lhr": "tanggal_lahir", "tanggal_lhr": "tanggal_lahir",
    "stat_kwn": "status_kawin", "status_perkawinan": "status_kawin",
    "sts_kawin": "status_kawin", "kawin": "status_kawin",
    "alamat_lengkap": "alamat", "alamat_rumah": "alamat",
    "no_rt": "rt", "rt_": "rt", "no_rw": "rw", "rw_": "rw",
    "kode_kel": "kode_kelurahan", "kd_kel": "kode_kelurahan", "kode_desa": "kode_kelurahan",
    "kd_desa": "kode_kelurahan", "kode_wilayah": "kode_kelurahan",
    "kode_kec": "kode_kecamatan", "kd_kec": "kode_kecamatan",
    "undangan": INVITATION_COLUMN, "kd_undangan": INVITATION_COLUMN,
})

_HEADER_SEPARATORS = re.compile(r"[\s.\-/]+")


def header_key(name: str) -> str:
    """A header cell as a key: "Tgl. Lahir" -> "tgl_lahir", "NO RT" -> "no_rt"."""
    return _HEADER_SEPARATORS.sub("_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class CsvLayout:
    """Where each column of a SIAK-like file is: resolved once from its header line."""

    delimiter: str
    header: list[str]  # as written in the file
    index: dict[str, int]  # canonical column -> position
    others: dict[str, int]  # every other column (header key -> position)
    _all: Callable[[Sequence[str]], tuple[str, ...]] | None = field(init=False, repr=False)
    _last: int = field(init=False, repr=False)

    def values(self, row: Sequence[str], columns: Sequence[str] = CSV_COLUMNS
               ) -> Sequence[str | None]:
        """The row's cells for ``columns`` (None where the file or a short row has none)."""
        if columns is CSV_COLUMNS and self._all is not None and len(row) > self._last:
            return self._all(row)
        n = len(row)
        return [row[i] if (i := self.index.get(c, n)) < n else None for c in columns]

    def __post_init__(self) -> None:
        # Rows with every column present (nearly all) are picked with one itemgetter.
        have = all(c in self.index for c in CSV_COLUMNS)
        getter = operator.itemgetter(*(self.index[c] for c in CSV_COLUMNS)) if have else None
        object.__setattr__(self, "_all", getter)
        object.__setattr__(self, "_last", max(self.index.values(), default=0))


def _layout(target: Path, first: str, columns: Mapping[str, str] | None,
            required: Sequence[str]) -> CsvLayout:
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    header = next(csv.reader([first], delimiter=delimiter))
    keys = [header_key(cell) for cell in header]
    explicit: dict[str, str] = {}  # header key -> canonical column, from --columns
    for column, name in (columns or {}).items():
        if HEADER_ALIASES.get(column) != column:
            raise InvalidInput(f"--columns: {column} is not a column of the residents CSV "
                               f"({', '.join(CSV_COLUMNS)})")
        if header_key(name) not in keys:
            raise InvalidInput(f"--columns {column}={name}: {target} has no column {name}")
        explicit[header_key(name)] = column
    index: dict[str, int] = {}
    others: dict[str, int] = {}
    for i, (cell, key) in enumerate(zip(header, keys)):
        if not key:
            continue
        found = explicit.get(key)
        if found is None:
            found = HEADER_ALIASES.get(key)
            if columns and found in columns:
                found = None  # --columns said which column gives it
        if found is None:
            others.setdefault(key, i)
            continue
        if found in index:
            raise InvalidInput(
                f"{target}, line 1: columns {header[index[found]].strip()} and "
                f"{cell.strip()} both give {found}; keep one, or say which with "
                f"--columns {found}=NAME")
        index[found] = i
    missing = [c for c in required if c not in index]
    if missing:
        raise InvalidInput(
            f"{target}, line 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the header needs {', '.join(required)}; other "
            f"names are mapped with --columns COLUMN=NAME)"
        )
    return CsvLayout(delimiter, header, index, others)


class _CountingReader(io.RawIOBase):
    """A binary file that reports how many bytes were read (for progress bars)."""

    def __init__(self, raw: io.BufferedReader, on_read: Callable[[int], None]) -> None:
        self.raw = raw
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        if n:
            self.on_read(n)
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


@contextmanager
def open_siak_csv(
    path: str | os.PathLike[str], *, columns: Mapping[str, str] | None = None,
    required: Sequence[str] = CSV_COLUMNS, on_read: Callable[[int], None] | None = None,
) -> Iterator[tuple[CsvLayout, Iterator[tuple[int, list[str]]]]]:
    """Open a SIAK-like CSV as Excel and SIAK write them: UTF-8 with or without a BOM,
    CRLF or LF, comma, semicolon or tab between cells, header names in any case or as one
    of :data:`HEADER_ALIASES` (``columns`` maps others: canonical -> name in the file).
    Yields the layout and the (line number, cells) of each row that is not wholly empty;
    line numbers are the file's, which Excel shows as its row numbers. ``on_read`` is
    told the bytes read as the file is read (a progress bar's measure)."""
    target = Path(path)
    try:
        if on_read is None:
            fh = target.open(encoding="utf-8-sig", newline="")
        else:
            raw = io.BufferedReader(_CountingReader(target.open("rb"), on_read), 1 << 20)
            fh = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise NotFound(f"{target}: no such file") from None
    with fh:
        try:
            first = fh.readline()
            if not first.strip():
                raise InvalidInput(f"{target} is empty: expected a header line")
            layout = _layout(target, first, columns, required)
            reader = csv.reader(fh, delimiter=layout.delimiter)

            def rows() -> Iterator[tuple[int, list[str]]]:
                for row in reader:
                    if "".join(row).strip():
                        yield reader.line_num + 1, row

            yield layout, rows()
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{target} is not UTF-8 text; in Excel save it as 'CSV UTF-8'"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(f"{target}: not a readable CSV file: {exc}") from None


def check_csv(path: str | os.PathLike[str], *, today: date | None = None
              ) -> tuple[list[Resident], list[str]]:
    """Every row of a SIAK-like CSV checked (see :func:`read_csv`): the residents of the
    good rows, and each fault of every bad row as "line N, column X: problem", so that a
    clerk can fix the whole file in one pass."""
    checker = RecordChecker(today or date.today())
    residents: list[Resident] = []
    problems: list[str] = []
    with open_siak_csv(path) as (layout, rows):
        others = list(layout.others.items())
        for line, row in rows:
            code = layout.values(row, (INVITATION_COLUMN,))[0]
            extra = {k: v for k, i in others if i < len(row) and (v := row[i].strip())}
            try:
                residents.append(Resident(*checker.check(layout.values(row), line),
                                          invitation_code=(code or "").strip(), extra=extra))
            except RowFaults as exc:
                problems += [f"line {line}, column {column}: {problem}"
                             for column, problem in exc.faults]
    return residents, problems


def read_csv(path: str | os.PathLike[str], *, today: date | None = None) -> Iterator[Resident]:
    """Residents from a SIAK-like CSV (see :func:`open_siak_csv`), validated row by row
    (:class:`RecordChecker`); the first bad row raises InvalidInput naming its line and
    column. An optional ``kode_undangan`` column and extra columns (kept in
    ``Resident.extra``) are read too.
    """
    checker = RecordChecker(today or date.today())
    with open_siak_csv(path) as (layout, rows):
        others = list(layout.others.items())
        for line, row in rows:
            checked = checker.check(layout.values(row), line)
            code = layout.values(row, (INVITATION_COLUMN,))[0]
            extra = {k: v for k, i in others if i < len(row) and (v := row[i].strip())}
            faults = []
            for column, value in ((INVITATION_COLUMN, code), *extra.items()):
                try:
                    if value and value.strip():
                        _text(value)
                except _Bad as exc:
                    faults.append((column, str(exc)))
            if faults:
                raise RowFaults(line, faults)
            yield Resident(*checked, invitation_code=(code or "").strip(), extra=extra)
