"""Kemendagri region codes: Kota Bekasi in detail, and Indonesia's provinces and regencies.

Two tables ship as package data (``edge/data``), each read once on first use:

- ``bekasi_wilayah.csv``: the kota, its 12 kecamatan and 56 kelurahan, coded like
  ``32.75.01.1001`` (province . kota . kecamatan . kelurahan).
- ``provinsi_kabkota.csv``: the 38 provinces and every kabupaten/kota code a NIK may start
  with, including codes retired when regions moved to a new province (a NIK never changes).
  Its header comment names the sources.

Below the kelurahan come RW and RT numbers, which are not coded nationally.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Literal

from edge.errors import InvalidInput, NotFound

Level = Literal["kota", "kecamatan", "kelurahan"]
_LEVELS: dict[str, Level] = {"kota": "kota", "kecamatan": "kecamatan", "kelurahan": "kelurahan"}

#: Kota Bekasi's code; every region in :func:`get` lies below it.
KOTA_BEKASI = "32.75"

_DOTTED = re.compile(r"\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?")
_UNDOTTED = re.compile(r"\d{2}|\d{4}|\d{6}|\d{10}")


@dataclass(frozen=True, slots=True)
class Region:
    """A region of Kota Bekasi. ``code`` is dotted: "32.75", "32.75.01", "32.75.01.1001"."""

    code: str
    name: str
    level: Level

    @property
    def kecamatan_code(self) -> str:
        """The kecamatan this region lies in (itself for a kecamatan); "" for the kota."""
        return self.code[:8] if self.level != "kota" else ""


def _read_data(name: str) -> list[dict[str, str]]:
    text = resources.files("edge").joinpath("data", name).read_text(encoding="utf-8")
    # Lines starting with "#" document the table (its source); csv has no comment syntax.
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@functools.cache
def _bekasi() -> Mapping[str, Region]:
    regions: dict[str, Region] = {}
    for row in _read_data("bekasi_wilayah.csv"):
        level = _LEVELS.get(row["tingkat"])
        if level is None:
            raise RuntimeError(f"bekasi_wilayah.csv: unknown tingkat {row['tingkat']!r}")
        regions[row["kode"]] = Region(row["kode"], row["nama"], level)
    return MappingProxyType(regions)


@functools.cache
def _national() -> tuple[Mapping[str, str], Mapping[str, str], Mapping[str, str]]:
    provinces: dict[str, str] = {}
    regencies: dict[str, str] = {}
    current: dict[str, str] = {}
    for row in _read_data("provinsi_kabkota.csv"):
        code, name = row["kode"], row["nama"]
        if len(code) == 2:
            provinces[code] = name
            continue
        regencies[code] = name
        if row["status"] == "current":
            current[code] = name
    return MappingProxyType(provinces), MappingProxyType(regencies), MappingProxyType(current)


def normalize_code(code: str) -> str:
    """ "3275011001" or "32.75.01.1001" (or "3275", "327501") -> the dotted form.

    Only the shape is checked; use :func:`get` to know whether the region exists.
    """
    text = code.strip()
    if _DOTTED.fullmatch(text):
        return text
    if _UNDOTTED.fullmatch(text):
        parts = [text[0:2], text[2:4], text[4:6], text[6:10]]
        return ".".join(p for p in parts if p)
    raise InvalidInput(f"{code!r} is not a Kemendagri region code (like 32.75.01.1001)")


def get(code: str) -> Region:
    """The Kota Bekasi region with this code (dotted or not); NotFound if there is none."""
    normalized = normalize_code(code)
    region = _bekasi().get(normalized)
    if region is None:
        raise NotFound(f"no region {normalized} in Kota Bekasi (kecamatan 32.75.01 to 32.75.12)")
    return region


def kota() -> Region:
    return get(KOTA_BEKASI)


def kecamatan_list() -> list[Region]:
    """The 12 kecamatan, in code order."""
    return [r for r in _bekasi().values() if r.level == "kecamatan"]


def kelurahan_list(kecamatan: str | None = None) -> list[Region]:
    """The 56 kelurahan in code order, or those of one kecamatan (NotFound if unknown)."""
    if kecamatan is None:
        return [r for r in _bekasi().values() if r.level == "kelurahan"]
    parent = get(kecamatan)
    if parent.level != "kecamatan":
        raise NotFound(f"{parent.code} ({parent.name}) is a {parent.level}, not a kecamatan")
    return [
        r for r in _bekasi().values()
        if r.level == "kelurahan" and r.kecamatan_code == parent.code
    ]


def kecamatan_of(kelurahan_code: str) -> Region:
    """The kecamatan a kelurahan lies in."""
    region = get(kelurahan_code)
    if region.level != "kelurahan":
        raise NotFound(f"{region.code} ({region.name}) is a {region.level}, not a kelurahan")
    return get(region.kecamatan_code)


def nik_kecamatan_code(kecamatan_code: str) -> str:
    """The six digits a NIK or KK first registered in this kecamatan starts with.

    "32.75.01" -> "327501". A kelurahan code gives its kecamatan's prefix.
    """
    region = get(kecamatan_code)
    if region.level == "kota":
        raise NotFound(f"{region.code} is the kota; a NIK prefix needs a kecamatan")
    return region.kecamatan_code.replace(".", "")


def provinces() -> Mapping[str, str]:
    """The 38 provinces: code ("32") -> name."""
    return _national()[0]


def regencies(*, current_only: bool = False) -> Mapping[str, str]:
    """Kabupaten/kota codes ("32.75" -> name). By default every code a NIK may carry,
    including those retired when regions moved to a new province; ``current_only`` gives
    the 514 in force."""
    return _national()[2 if current_only else 1]


_NAME_PREFIXES = {
    "kecamatan": ("kecamatan", "kec."),
    "kelurahan": ("kelurahan", "kel.", "desa"),
}
_NAME_NOISE = re.compile(r"[\s.\-']+")


def _name_key(text: str) -> str:
    return _NAME_NOISE.sub("", text.lower())


def find(text: str, level: Literal["kecamatan", "kelurahan"]) -> Region:
    """The kecamatan or kelurahan a person means: its Kemendagri code (dotted or not), or
    its name in any case and spacing ("Teluk Pucung", "telukpucung", "Kel. Kranji"), or
    the unambiguous start of it ("Jatiras" -> Jatirasa). The one resolver behind every
    command that takes a kelurahan or kecamatan; an ambiguous or unknown name is refused
    in one line naming the candidates."""
    value = text.strip()
    if value and (value[0].isdigit()):
        region = get(value)
        if region.level != level:
            raise NotFound(f"{region.code} ({region.name}) is a {region.level}, not a {level}")
        return region
    lowered = value.lower()
    for prefix in _NAME_PREFIXES[level]:
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix):]
            break
    key = _name_key(lowered)
    if not key:
        example = "32.75.01.1001 or Bekasijaya" if level == "kelurahan" else (
            "32.75.01 or Bekasi Timur")
        raise InvalidInput(f"name a {level} by its code or its name, e.g. {example}")
    candidates = [r for r in _bekasi().values() if r.level == level]
    for prefix_ok in (False, True):
        found = [r for r in candidates if _name_key(r.name) == key
                 or (prefix_ok and _name_key(r.name).startswith(key))]
        if len(found) == 1:
            return found[0]
        if found:
            listed = ", ".join(f"{r.name} ({r.code})" for r in found[:8]) + (
                ", ..." if len(found) > 8 else "")
            raise InvalidInput(f"{text.strip()!r} could be {listed}: say which "
                               f"(the code is always unambiguous)")
    import difflib

    close = difflib.get_close_matches(key, [_name_key(r.name) for r in candidates], n=3,
                                      cutoff=0.7)
    hint = ""
    if close:
        by_key = {_name_key(r.name): r.name for r in candidates}
        names = [by_key[k] for k in close]
        hint = f"; did you mean {' or '.join(names)}?"
    raise NotFound(f"no {level} named {text.strip()!r} in Kota Bekasi{hint} "
                   f"(see: rekam-hq regions)")
