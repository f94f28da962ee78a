"""The NIK (*Nomor Induk Kependudukan*), the 16-digit national identity number.

Layout ``PP KK CC DDMMYY SSSS``: province, regency/city (kabupaten 01-69, kota 71-99) and
kecamatan where the person was *first registered* (not where they live now), the birth date
with 40 added to the day for women, and a serial. There is no checksum, so the checks here
are structural: known province and regency codes (:mod:`edge.regions`), a real calendar date,
a non-zero kecamatan and serial.

The NIK's date can differ from the recorded birth date and cannot be changed, so a mismatch
is a warning (:func:`birth_date_mismatch`), never a rejection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from edge import regions
from edge.errors import InvalidNIK


class Sex(StrEnum):
    """Jenis kelamin, as SIAK writes it; the NIK says it too (women's birth day + 40)."""

    MALE = "L"  # laki-laki
    FEMALE = "P"  # perempuan


FEMALE_DAY_OFFSET = 40

_SEPARATORS = re.compile(r"[\s.\-]+")
# What Excel shows for a 16-digit number in a General-formatted cell: "3.27501E+15".
_EXCEL_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE]\+?\d{1,2}")

EXCEL_HINT = (
    "Excel turned the number into scientific notation and lost its last digits; "
    "format the column as text and enter the NIKs again"
)


@dataclass(frozen=True, slots=True)
class NIK:
    """A structurally valid NIK. Parts are the digit strings; ``value`` is all 16 digits."""

    value: str
    province: str  # "32"
    regency: str  # "75" (kabupaten 01-69, kota 71-99) within the province
    kecamatan: str  # "01", of first registration
    birth_date: date  # century inferred, see parse_nik
    sex: Sex
    serial: str  # "0001"

    @property
    def regency_code(self) -> str:
        """Kemendagri code of the regency of first registration, e.g. "32.75"."""
        return f"{self.province}.{self.regency}"

    @property
    def region_prefix(self) -> str:
        """The first six digits, e.g. "327501"."""
        return self.value[:6]

    def __str__(self) -> str:
        return self.value


def _shown(text: str) -> str:
    # Keep error messages one short line even for a pasted paragraph.
    return text if len(text) <= 40 else text[:37] + "..."


def parse_nik(text: str, *, today: date | None = None) -> NIK:
    """Parse and check a NIK; spaces, dots and dashes between digits are ignored.

    The two-digit year becomes 20YY unless that date is after ``today`` (default: the real
    date), else 19YY. Raises :class:`~edge.errors.InvalidNIK` naming the part at fault.
    """
    shown = _shown(text)
    stripped = text.strip()
    if _EXCEL_SCIENTIFIC.fullmatch(stripped):
        raise InvalidNIK(shown, "characters", EXCEL_HINT)
    digits = _SEPARATORS.sub("", stripped)
    bad = sorted({c for c in digits if not ("0" <= c <= "9")})
    if bad:
        listed = " ".join(repr(c) for c in bad[:5])
        raise InvalidNIK(
            shown, "characters", f"contains {listed}; only digits, spaces, dots and dashes"
        )
    if len(digits) != 16:
        raise InvalidNIK(shown, "length", f"has {len(digits)} digits, a NIK has 16")

    province, regency, kecamatan = digits[0:2], digits[2:4], digits[4:6]
    if province not in regions.provinces():
        raise InvalidNIK(shown, "province", f"{province} is not a province code (Kemendagri)")
    if f"{province}.{regency}" not in regions.regencies():
        name = regions.provinces()[province]
        raise InvalidNIK(
            shown, "regency", f"{province}.{regency} is not a kabupaten or kota of {name}"
        )
    if kecamatan == "00":
        raise InvalidNIK(shown, "kecamatan", "kecamatan code 00 does not exist")

    birth_date, sex = _birth_date(shown, digits[6:12], today or date.today())

    serial = digits[12:16]
    if serial == "0000":
        # Excel keeps 15 significant digits: a serial 0001-0009 comes back as 0000.
        raise InvalidNIK(
            shown, "serial",
            "0000 is never issued (if the file passed through Excel, the last digit was "
            "rounded away: format the column as text)",
        )
    return NIK(digits, province, regency, kecamatan, birth_date, sex, serial)


def _birth_date(shown: str, ddmmyy: str, today: date) -> tuple[date, Sex]:
    day, month, yy = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    sex = Sex.MALE
    if day > FEMALE_DAY_OFFSET:
        day -= FEMALE_DAY_OFFSET
        sex = Sex.FEMALE
    if not 1 <= day <= 31 or not 1 <= month <= 12:
        raise InvalidNIK(
            shown, "birth date",
            f"{ddmmyy} is not DDMMYY (day 01-31, or 41-71 for women; month 01-12)",
        )
    # 20YY unless that lies in the future; python-stdnum tries 19YY first and would make
    # someone born in 2005 a 1905 birth.
    exists = False
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, month, day)
        except ValueError:
            continue  # 29 Feb exists in 2000 but not in 1900
        exists = True
        if candidate <= today:
            return candidate, sex
    reason = "lies in the future" if exists else "is not a date in the calendar"
    raise InvalidNIK(shown, "birth date", f"{day:02d}-{month:02d}-{yy:02d} {reason}")


def birth_date_mismatch(nik: NIK, birth_date: date, sex: Sex) -> list[str]:
    """Warnings when the NIK's date or sex differ from the recorded ones (never an error).

    Only day, month and the year's last two digits are compared: the NIK does not carry
    the century, so inferring it must not cause a warning.
    """
    warnings: list[str] = []
    encoded = nik.birth_date
    if (encoded.day, encoded.month, encoded.year % 100) != (
        birth_date.day, birth_date.month, birth_date.year % 100
    ):
        warnings.append(
            f"NIK {nik.value} carries birth date {nik.value[6:12]} "
            f"({encoded:%d-%m-%y}), the record says {birth_date:%d-%m-%Y}"
        )
    if nik.sex != sex:
        warnings.append(
            f"NIK {nik.value} encodes jenis kelamin {nik.sex.value} (birth day "
            f"{nik.value[6:8]}; women have day + 40), the record says {sex.value}"
        )
    return warnings
