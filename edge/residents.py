"""Residents who must still record (*wajib rekam*): :class:`Resident`, and who is *wajib KTP*.

Rows from outside become Residents only through :meth:`Resident.from_record`, which validates
a SIAK-like record (:mod:`edge.resident_record`), or, for a worklist HQ validated before
signing it, :meth:`Resident.from_signed_record`. The CSV that carries them is read and
written by :mod:`edge.residents_csv`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from edge.errors import InvalidInput
from edge.nik import Sex as Sex  # a resident's field; NIK decides it, so it lives there
from edge.resident_record import INVITATION_COLUMN, MaritalStatus, RecordChecker, record_values


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
        """The CSV/worklist record: :data:`~edge.resident_record.CSV_COLUMNS`, plus
        ``kode_undangan`` when set."""
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


#: Age from which everyone is *wajib KTP* (UU 23/2006 as amended, Pasal 63).
WAJIB_KTP_AGE = 17


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
