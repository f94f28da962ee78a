"""Residents who must still record (*wajib rekam*), and the SIAK-like CSV that carries them.

The CSV is what ``rekam-hq synth`` writes and what HQ's importer reads; its columns are
listed in :data:`CSV_COLUMNS` and documented in the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


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
