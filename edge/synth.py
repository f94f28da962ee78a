"""A synthetic SIAK-like population of residents who must still record (*wajib rekam*).

For demos, tests and load tests: nobody in it is real. Rows look like a Disdukcapil export:

- NIKs with the real structure (:mod:`edge.nik`): women's day + 40; the kecamatan of first
  registration is mostly the resident's own (80 %), sometimes another Bekasi kecamatan (10 %),
  and 10 % were first registered elsewhere in Indonesia (60 % of those on Java), since the
  NIK keeps the place of first registration. 1 % carry a NIK date a few days off the recorded
  birth date, as happens in SIAK (a warning, never an error).
- Everyone is *wajib KTP* on ``today``: mostly 17-25 (the ones still without KTP-el, many
  just turned 17), some older, and some married 16-year-olds.
- Names from Faker ``id_ID`` matching sex, place of birth BEKASI or another city, a street
  address, RT 001-015 / RW 001-030, and a KK number built like a NIK (kecamatan prefix +
  issue date + serial). About one household in five has two or three residents on the
  list, sharing KK number and address.

Determinism: the same ``(kelurahan_codes, count, seed, today)`` gives the same rows, byte
for byte, with the same Faker version (its word lists change between releases). Ages are
relative to ``today``, which defaults to the fixed :data:`DEFAULT_TODAY`, never the clock:
the CLI passes ``date.today()`` explicitly, so a rerun on another day is a deliberate
change. People only get older, so a file generated for an earlier ``today`` stays valid.

Speed: Faker is slow per call, so it only fills word pools once (seeded); the rows are then
drawn from those pools with one ``random.Random(seed)``.
"""

from __future__ import annotations

import bisect
import functools
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from faker import Faker

from edge import regions
from edge.errors import InvalidInput
from edge.nik import FEMALE_DAY_OFFSET
from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex
from edge.residents_csv import write_csv

#: The reference date when the caller gives none (see the module docstring).
DEFAULT_TODAY = date(2025, 7, 1)

# Age weights (per cent). 16-year-olds appear only when married: the law makes them wajib
# KTP, and recording may start at 16.
_AGE_WEIGHTS: tuple[tuple[int, float], ...] = (
    (16, 4.0),
    (17, 30.0), (18, 12.0), (19, 8.0), (20, 6.0), (21, 5.0),
    (22, 4.0), (23, 3.0), (24, 3.0), (25, 3.0),
    *((age, 1.0) for age in range(26, 36)),  # 10 % aged 26-35
    *((age, 8 / 15) for age in range(36, 51)),  # 8 % aged 36-50
    *((age, 4 / 25) for age in range(51, 76)),  # 4 % aged 51-75
)
_AGES = tuple(a for a, _ in _AGE_WEIGHTS)
_AGE_CUM = tuple(
    sum(w for _, w in _AGE_WEIGHTS[: i + 1]) for i in range(len(_AGE_WEIGHTS))
)

_S, _M, _D, _W = (MaritalStatus.SINGLE, MaritalStatus.MARRIED, MaritalStatus.DIVORCED,
                  MaritalStatus.WIDOWED)
# (upper age, statuses, cumulative weights): marital status by age band.
_MARITAL_BANDS: tuple[tuple[int, tuple[MaritalStatus, ...], tuple[float, ...]], ...] = (
    (16, (_M,), (1.0,)),
    (19, (_S, _M), (0.96, 1.0)),
    (25, (_S, _M, _D), (0.72, 0.97, 1.0)),
    (40, (_S, _M, _D, _W), (0.30, 0.92, 0.98, 1.0)),
    (200, (_S, _M, _D, _W), (0.10, 0.80, 0.88, 1.0)),
)
_MARITAL_BY_AGE = {
    age: next((s, w) for upper, s, w in _MARITAL_BANDS if age <= upper) for age in _AGES
}
_JAVA = ("31", "32", "33", "34", "35", "36")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Pools:
    """Words drawn once from a seeded Faker, uppercase as in SIAK."""

    male_first: tuple[str, ...]
    male_last: tuple[str, ...]
    female_first: tuple[str, ...]
    female_last: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]


def _pools(seed: int) -> _Pools:
    fake = Faker("id_ID")
    fake.seed_instance(seed)

    def draw(make: Callable[[], str], n: int) -> tuple[str, ...]:
        # dict.fromkeys: unique words, in the (deterministic) order drawn.
        return tuple(dict.fromkeys(make().upper() for _ in range(n)))

    # Places of birth as SIAK writes them: "JAKARTA TIMUR", not "KOTA ADMINISTRASI ...".
    # Bekasi is drawn separately, at its own rate.
    cities = [
        city.removeprefix("KOTA ADMINISTRASI ").removeprefix("KOTA ")
        for city in draw(fake.city, 2000)
    ]
    return _Pools(
        male_first=draw(fake.first_name_male, 3000),
        male_last=draw(fake.last_name_male, 1000),
        female_first=draw(fake.first_name_female, 3000),
        female_last=draw(fake.last_name_female, 1000),
        streets=draw(fake.street_name, 6000),
        cities=tuple(c for c in dict.fromkeys(cities) if c != "BEKASI"),
    )


@functools.lru_cache(maxsize=65536)
def _ddmmyy(day: date, plus: int = 0) -> str:
    # Hand-formatted and remembered: a city's 2.6 million rows hold a few thousand dates.
    return f"{day.day + plus:02d}{day.month:02d}{day.year % 100:02d}"


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


class _Dice:
    """Draws from one seeded random.Random with a single random() call each: its
    randint/choice/choices cost about a microsecond apiece, too much for 100,000 rows."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def pick(self, items: Sequence[_T]) -> _T:
        return items[int(self.random() * len(items))]

    def weighted(self, items: Sequence[_T], cum_weights: Sequence[float]) -> _T:
        return items[bisect.bisect(cum_weights, self.random() * cum_weights[-1])]


@dataclass(slots=True)
class _Household:
    no_kk: str
    address: str
    rt: str
    rw: str
    kelurahan: regions.Region
    left: int  # residents still to draw into this household


class _Generator:
    def __init__(self, kelurahan: Sequence[regions.Region], seed: int, today: date) -> None:
        self.rng = _Dice(seed)
        self.pools = _pools(seed)
        self.today = today
        self.kelurahan = kelurahan
        self.bekasi_prefixes = [regions.nik_kecamatan_code(k.code) for k in
                                regions.kecamatan_list()]
        self.prefix_of = {k.code: regions.nik_kecamatan_code(k.code) for k in kelurahan}
        others = [
            c.replace(".", "") for c in regions.regencies(current_only=True)
            if c != regions.KOTA_BEKASI
        ]
        self.elsewhere = others
        self.elsewhere_java = [c for c in others if c[:2] in _JAVA]
        self.serials: dict[str, int] = {}  # prefix + DDMMYY -> last serial issued

    def serial(self, key: str) -> str:
        # Serials count up per prefix and date, as Dukcapil issues them; that also makes
        # every NIK unique. The random start keeps them from all being 0001.
        n = self.serials.get(key)
        n = self.rng.between(1, 30) if n is None else n + 1
        if n > 9999:
            raise InvalidInput(f"more than 9999 synthetic NIKs for {key}: ask for fewer rows")
        self.serials[key] = n
        return f"{n:04d}"

    def household(self) -> _Household:
        rng = self.rng
        kelurahan = rng.pick(self.kelurahan)
        prefix = self.prefix_of[kelurahan.code]
        issued = _ddmmyy(self.today - timedelta(days=rng.between(30, 15 * 365)))
        no_kk = prefix + issued + self.serial("KK" + prefix + issued)
        street = rng.pick(self.pools.streets)
        r = rng.random()
        size = 1 if r < 0.80 else 2 if r < 0.95 else 3
        return _Household(
            no_kk=no_kk,
            address=f"{street} NO. {rng.between(1, 200)}",
            rt=f"{rng.between(1, 15):03d}",
            rw=f"{rng.between(1, 30):03d}",
            kelurahan=kelurahan,
            left=size,
        )

    def nik(self, kecamatan_prefix: str, birth_date: date, sex: Sex) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.80:
            prefix = kecamatan_prefix
        elif r < 0.90:
            prefix = rng.pick(self.bekasi_prefixes)
        else:
            pool = self.elsewhere_java if rng.random() < 0.6 else self.elsewhere
            prefix = rng.pick(pool) + f"{rng.between(1, 20):02d}"
        nik_date = birth_date
        if rng.random() < 0.01:
            nik_date = birth_date - timedelta(days=rng.between(1, 20))
        ddmmyy = _ddmmyy(nik_date, FEMALE_DAY_OFFSET if sex is Sex.FEMALE else 0)
        return prefix + ddmmyy + self.serial(prefix + ddmmyy)

    def resident(self, home: _Household) -> Resident:
        rng, pools = self.rng, self.pools
        age = rng.weighted(_AGES, _AGE_CUM)
        birth_date = _years_before(self.today, age) - timedelta(days=rng.between(0, 364))
        statuses, weights = _MARITAL_BY_AGE[age]
        marital = rng.weighted(statuses, weights)
        sex = Sex.FEMALE if rng.random() < 0.5 else Sex.MALE
        if sex is Sex.FEMALE:
            first, last = pools.female_first, pools.female_last
        else:
            first, last = pools.male_first, pools.male_last
        # Many Indonesians carry a single name.
        name = rng.pick(first)
        if rng.random() < 0.85:
            name += " " + rng.pick(last)
        birth_place = "BEKASI" if rng.random() < 0.55 else rng.pick(pools.cities)
        kecamatan = home.kelurahan.kecamatan_code
        return Resident(
            nik=self.nik(self.prefix_of[home.kelurahan.code], birth_date, sex),
            no_kk=home.no_kk,
            name=name,
            sex=sex,
            birth_place=birth_place,
            birth_date=birth_date,
            marital_status=marital,
            address=home.address,
            rt=home.rt,
            rw=home.rw,
            kelurahan=home.kelurahan.code,
            kecamatan=kecamatan,
        )

    def __call__(self, count: int) -> Iterator[Resident]:
        home: _Household | None = None
        for _ in range(count):
            if home is None or home.left == 0:
                home = self.household()
            home.left -= 1
            yield self.resident(home)


def _kelurahan(codes: Sequence[str]) -> list[regions.Region]:
    if not codes:
        raise InvalidInput("name at least one kelurahan code, e.g. 32.75.01.1001")
    found = [regions.get(code) for code in codes]
    for region in found:
        if region.level != "kelurahan":
            raise InvalidInput(f"{region.code} is a {region.level}, not a kelurahan")
    return found


def generate_residents(
    kelurahan_codes: Sequence[str], count: int, seed: int, *, today: date | None = None
) -> Iterator[Resident]:
    """``count`` synthetic residents living in the given kelurahan, all wajib KTP on
    ``today`` (default :data:`DEFAULT_TODAY`). Deterministic for the same arguments."""
    if count < 0:
        raise InvalidInput(f"count must be 0 or more, not {count}")
    generator = _Generator(_kelurahan(kelurahan_codes), seed, today or DEFAULT_TODAY)
    return generator(count)


def write_synthetic_csv(
    path: str | os.PathLike[str],
    kelurahan_codes: Sequence[str],
    count: int,
    seed: int,
    today: date | None = None,
) -> int:
    """Generate residents and write them as the SIAK-like CSV; returns the row count."""
    return write_csv(path, generate_residents(kelurahan_codes, count, seed, today=today))
