"""Residents who must still record (*wajib rekam*), and the SIAK-like CSV that carries them.

The CSV is what ``rekam-hq synth`` writes and what HQ's importer reads; its columns are
listed in :data:`CSV_COLUMNS` (plus an optional trailing ``kode_undangan``) and documented
in the README. :meth:`Resident.from_record` validates one row and is the only way rows from
outside become Residents; :func:`read_csv` and :func:`write_csv` cope with what Excel does
to such files (BOM, semicolons, scientific-notation NIKs).
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from edge import regions
from edge.errors import InvalidInput, InvalidNIK, NotFound


class Sex(StrEnum):
    MALE = "L"  # laki-laki
    FEMALE = "P"  # perempuan


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
        return _RecordReader(record, line, today or date.today()).resident()

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
    """Must hold a KTP-el: aged 17 or more, or married or ever married (DOMAIN.md)."""
    return (
        age_on(resident.birth_date, today) >= WAJIB_KTP_AGE
        or resident.marital_status is not MaritalStatus.SINGLE
    )


class _RecordReader:
    """Checks one record's fields in turn, naming the line and column of the first fault."""

    def __init__(self, record: Mapping[str, str], line: int | None, today: date) -> None:
        # Keys from spreadsheets come in any case and with stray spaces; values may be
        # None when csv.DictReader pads a short row.
        self.values = {
            str(k).strip().lower(): (v or "").strip() for k, v in record.items() if k
        }
        self.line = line
        self.today = today

    def fail(self, column: str, problem: str) -> InvalidInput:
        where = f"line {self.line}, column {column}" if self.line is not None else (
            f"column {column}"
        )
        return InvalidInput(f"{where}: {problem}", line=self.line, column=column)

    def text(self, column: str) -> str:
        if column not in self.values:
            raise self.fail(column, "is missing")
        value = self.values[column]
        if not value:
            raise self.fail(column, "is empty")
        return value

    def resident(self) -> Resident:
        # Checked in column order, so the first fault reported is the leftmost one.
        nik, no_kk, name = self.nik(), self.no_kk(), self.text("nama")
        sex = self.choice("jenis_kelamin", _SEX_ALIASES, "L or P")
        birth_place, birth_date = self.text("tempat_lahir"), self.birth_date()
        marital = self.choice("status_kawin", _MARITAL_ALIASES, _MARITAL_EXPECTED)
        address, rt, rw = self.text("alamat"), self.rt_rw("rt"), self.rt_rw("rw")
        kelurahan, kecamatan = self.region()
        return Resident(
            nik=nik,
            no_kk=no_kk,
            name=name,
            sex=sex,
            birth_place=birth_place,
            birth_date=birth_date,
            marital_status=marital,
            address=address,
            rt=rt,
            rw=rw,
            kelurahan=kelurahan,
            kecamatan=kecamatan,
            invitation_code=self.values.get(INVITATION_COLUMN, ""),
            extra={k: v for k, v in self.values.items() if v and k not in _KNOWN_COLUMNS},
        )

    def nik(self) -> str:
        from edge.nik import parse_nik  # edge.nik imports Sex from this module

        value = self.text("nik")
        try:
            return parse_nik(value, today=self.today).value
        except InvalidNIK as exc:
            raise self.fail("nik", f"{value} ({exc.field}): {exc.reason}") from exc

    def no_kk(self) -> str:
        from edge.nik import EXCEL_HINT

        value = self.text("no_kk")
        digits = _SEPARATORS.sub("", value)
        if "E+" in value.upper():
            raise self.fail("no_kk", f"{value}: {EXCEL_HINT}")
        if not (digits.isascii() and digits.isdigit() and len(digits) == 16):
            raise self.fail("no_kk", f"{value} is not a KK number (16 digits)")
        return digits

    def birth_date(self) -> date:
        value = self.text("tanggal_lahir")
        try:
            born = parse_date(value)
        except ValueError as exc:
            raise self.fail("tanggal_lahir", str(exc)) from None
        if born > self.today:
            raise self.fail("tanggal_lahir", f"{value} is in the future")
        return born

    def choice(self, column: str, allowed: Mapping[str, _T], expected: str) -> _T:
        value = self.text(column)
        found = allowed.get(" ".join(value.upper().split()))
        if found is None:
            raise self.fail(column, f"{value!r} is not one of {expected}")
        return found

    def rt_rw(self, column: str) -> str:
        value = self.text(column)
        if not (_RT_RW.fullmatch(value) and int(value) > 0):
            raise self.fail(column, f"{value!r} is not an {column.upper()} number (1 to 999)")
        return value.zfill(3)

    def region(self) -> tuple[str, str]:
        kelurahan = self.bekasi_region("kode_kelurahan", "kelurahan")
        kecamatan = self.bekasi_region("kode_kecamatan", "kecamatan")
        if kelurahan.kecamatan_code != kecamatan.code:
            raise self.fail(
                "kode_kelurahan",
                f"{kelurahan.code} ({kelurahan.name}) is not in kecamatan {kecamatan.code} "
                f"({kecamatan.name})",
            )
        return kelurahan.code, kecamatan.code

    def bekasi_region(self, column: str, level: str) -> regions.Region:
        value = self.text(column)
        try:
            region = regions.get(value)
        except (InvalidInput, NotFound) as exc:
            raise self.fail(column, str(exc)) from exc
        if region.level != level:
            raise self.fail(column, f"{region.code} is a {region.level}, not a {level}")
        return region


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
                record = resident.to_record()
                writer.writerow([record.get(c, "") for c in columns])
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, target)
    return count


def read_csv(path: str | os.PathLike[str], *, today: date | None = None) -> Iterator[Resident]:
    """Residents from a SIAK-like CSV, validated row by row (see :meth:`Resident.from_record`).

    Accepts UTF-8 with or without a BOM, comma or semicolon delimiters (Indonesian Excel
    writes semicolons), header names in any case, an optional ``kode_undangan`` column and
    extra columns (kept in ``Resident.extra``). Wholly empty rows are skipped. Errors name
    the file's line number, which is also Excel's row number.
    """
    target = Path(path)
    day = today or date.today()
    try:
        fh = target.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise NotFound(f"{target}: no such file") from None
    with fh:
        try:
            first = fh.readline()
            if not first.strip():
                raise InvalidInput(f"{target} is empty: expected a header line")
            delimiter = ";" if first.count(";") > first.count(",") else ","
            reader = csv.reader(itertools.chain([first], fh), delimiter=delimiter)
            header = [h.strip().lower() for h in next(reader)]
            _check_header(target, header)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                yield Resident.from_record(dict(zip(header, row)), line=reader.line_num,
                                           today=day)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{target} is not UTF-8 text; in Excel save it as 'CSV UTF-8'"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(f"{target}: not a readable CSV file: {exc}") from None


def _check_header(target: Path, header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InvalidInput(f"{target}, line 1: column {name} appears twice")
        seen.add(name)
    missing = [c for c in CSV_COLUMNS if c not in seen]
    if missing:
        raise InvalidInput(
            f"{target}, line 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the header needs {', '.join(CSV_COLUMNS)})"
        )
