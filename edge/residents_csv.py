"""The SIAK-like CSV that carries residents: what ``rekam-hq synth`` writes, and what HQ's
importer and the kit read.

Its columns are :data:`~edge.resident_record.CSV_COLUMNS` (plus an optional trailing
``kode_undangan``), documented in the README; a header may also name them as one of
:data:`HEADER_ALIASES`. :func:`read_csv`, :func:`check_csv` and :func:`write_csv` cope with
what Excel does to such files (BOM, semicolons, scientific-notation NIKs);
:func:`open_siak_csv` is the reader under them and under HQ's register import.
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
from pathlib import Path
from types import MappingProxyType
from typing import Any

from edge.errors import InvalidInput, NotFound
from edge.resident_record import (
    CSV_COLUMNS,
    INVITATION_COLUMN,
    RecordChecker,
    RowFaults,
    text_faults,
)
from edge.residents import Resident


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
            faults = text_faults(((INVITATION_COLUMN, code), *extra.items()))
            if faults:
                raise RowFaults(line, faults)
            yield Resident(*checked, invitation_code=(code or "").strip(), extra=extra)
