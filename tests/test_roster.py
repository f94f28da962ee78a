"""The encrypted roster: nothing readable on disk, atomic replacement, lookups and search."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from edge.errors import AlreadyEnrolled, IntegrityError, InvalidInput
from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex
from edge.roster import RosterMeta, RosterStore, ScheduleEntry, SearchHit
from edge.roster_search import invitation_key, name_key

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SECRET_NIK = "3275014107990123"
SECRET_NAME = "Kartosoewiryo Pamungkas Wibisono"


def resident(nik: str, name: str, *, rw: str = "001", rt: str = "001", code: str = "",
             **extra: str) -> Resident:
    return Resident(
        nik=nik, no_kk="3275010101200001", name=name, sex=Sex.FEMALE, birth_place="BEKASI",
        birth_date=date(1999, 7, 1), marital_status=MaritalStatus.SINGLE,
        address="JL. MAWAR NO. 7", rt=rt, rw=rw, kelurahan="32.75.01.1001",
        kecamatan="32.75.01", invitation_code=code, extra=dict(extra),
    )


def meta(version: int = 1, count: int = 0) -> RosterMeta:
    return RosterMeta(
        device_id="kit-test-01", version=version, issued_at=NOW,
        expires_at=NOW + timedelta(days=30), kelurahan=("32.75.01.1001",), count=count,
        schedule=(ScheduleEntry(date(2026, 11, 25), "Balai RW 005", "32.75.01.1001", "005",
                                "bawa KK"),),
    )


PEOPLE = [
    resident("3275010101990001", "SITI", rw="005", rt="002", code="ABCD-EFGH"),
    resident("3275010101990002", "SITI AMINAH", rw="005", rt="003"),
    resident("3275010101990003", "NUR SITI RAHMA", rw="003"),
    resident("3275010101990004", "NURSITI AMALIA", rw="005"),
    resident("3275010101990005", "RAHMA DEWI SITI", rw="007"),
    resident("3275010101990006", "SITI NURHALIZA", rw="005", code="HJKM-2345"),
    resident("3275010101990007", "AGUS SAPUTRA", rw="002", rt="004"),
    resident("3275010101990008", "MUHAMMAD RIZKY", rw="002"),
    resident("3275010101990009", "MA'RUF AMIN", rw="010"),
    resident(SECRET_NIK, SECRET_NAME, rw="009", code="QRST-6789", ibu="SRI WAHYUNI"),
]


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "roster" / "roster.db"


@pytest.fixture
def store(path: Path, key: bytes) -> Iterator[RosterStore]:
    with RosterStore.open(path, key) as s:
        s.replace(meta(), PEOPLE)
        yield s


def names(hits: list[SearchHit]) -> list[str]:
    return [h.resident.name for h in hits]


# --- at rest ------------------------------------------------------------------------------


def _assert_no_plaintext(directory: Path) -> None:
    files = [f for f in directory.iterdir() if f.is_file()]
    assert any(f.name == "roster.db" for f in files)
    needles = [SECRET_NIK.encode()]
    for text in (SECRET_NAME, SECRET_NAME.upper(), SECRET_NAME.lower(), name_key(SECRET_NAME),
                 "Kartosoewiryo", "KARTOSOEWIRYO", "kartosoewiryo", "QRST6789", "SRI WAHYUNI"):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            needles.append(text.encode(encoding))
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} in {f.name}"


def test_roster_files_hold_no_plaintext(path: Path, key: bytes) -> None:
    with RosterStore.open(path, key) as s:
        s.replace(meta(), PEOPLE)
        assert s.search("kartosoewiryo")[0].resident.nik == SECRET_NIK
        s.mark_enrolled(SECRET_NIK, "0193-0001", NOW)
        _assert_no_plaintext(path.parent)  # open: the -wal and -shm files are there too
    _assert_no_plaintext(path.parent)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_wrong_key_raises_integrity_error(path: Path, key: bytes) -> None:
    with RosterStore.open(path, key) as s:
        s.replace(meta(), PEOPLE[:2])
    with pytest.raises(IntegrityError) as caught:
        RosterStore.open(path, os.urandom(32))
    assert str(caught.value) == f"roster key does not open {path}"
    assert caught.value.__cause__ is None
    with RosterStore.open(path, key) as s:  # the right key still opens it
        assert s.count() == 2


def test_an_altered_roster_file_is_refused(path: Path, key: bytes) -> None:
    with RosterStore.open(path, key) as s:
        s.replace(meta(), PEOPLE)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page + 1000, len(data), page):  # one bit in every later page
        data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with RosterStore.open(path, key) as s, pytest.raises(IntegrityError, match="altered"):
        for r in PEOPLE:
            s.get(r.nik)
        s.search("siti nurhalisa")


def test_a_key_is_32_bytes(path: Path) -> None:
    with pytest.raises(InvalidInput):
        RosterStore.open(path, b"short")


def test_sqlite_utils_catches_sqlcipher_errors_whatever_the_import_order(tmp_path: Path) -> None:
    code = (
        "import sqlite3, sqlite_utils, os, pathlib;"  # sqlite_utils first: stdlib driver
        "from edge.sqlcipher import connect_encrypted;"
        f"db = connect_encrypted(pathlib.Path({str(tmp_path / 'x.db')!r}), os.urandom(32));"
        "db['absent'].drop(ignore=True);"  # catches sqlite3.OperationalError inside
        "print(type(db.conn).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip().startswith("sqlcipher3")


# --- replacing the roster -----------------------------------------------------------------


def test_replace_returns_the_count_and_keeps_the_header(store: RosterStore, path: Path,
                                                        key: bytes) -> None:
    assert store.count() == len(PEOPLE)
    store.close()
    with RosterStore.open(path, key) as again:
        assert again.meta() == meta(count=len(PEOPLE))
        assert again.get(SECRET_NIK) == PEOPLE[-1]
        assert again.get(SECRET_NIK).extra == {"ibu": "SRI WAHYUNI"}  # type: ignore[union-attr]


def test_an_empty_roster_answers_nothing(path: Path, key: bytes) -> None:
    with RosterStore.open(path, key) as s:
        assert s.meta() is None
        assert s.count() == 0
        assert s.search("siti") == []
        assert s.get(SECRET_NIK) is None


def _failing(residents: Iterable[Resident], after: int) -> Iterator[Resident]:
    for i, r in enumerate(residents):
        if i == after:
            raise RuntimeError("worklist stream broke")
        yield r


def test_replace_is_atomic(store: RosterStore) -> None:
    newcomers = [resident(f"32750102029900{i:02d}", f"WARGA BARU {i}") for i in range(10)]
    with pytest.raises(RuntimeError, match="stream broke"):
        store.replace(meta(version=2), _failing(newcomers, after=5))
    assert store.meta() == meta(count=len(PEOPLE))
    assert store.count() == len(PEOPLE)
    assert store.get(newcomers[0].nik) is None
    assert store.get(SECRET_NIK) is not None
    assert names(store.search("siti aminah"))[0] == "SITI AMINAH"  # the indexes came back too
    assert store.search("warga baru") == []


def test_a_duplicate_nik_rolls_back(store: RosterStore) -> None:
    twice = [resident("3275010303990001", "A"), resident("3275010303990001", "B")]
    with pytest.raises(InvalidInput, match="3275010303990001"):
        store.replace(meta(version=2), twice)
    assert store.count() == len(PEOPLE)


def test_a_short_worklist_rolls_back(store: RosterStore) -> None:
    with pytest.raises(InvalidInput, match="announces 5"):
        store.replace(meta(version=2, count=5), PEOPLE[:3])
    assert store.meta() == meta(count=len(PEOPLE))


def test_replace_streams_its_iterable(store: RosterStore) -> None:
    pulled: list[int] = []

    def stream() -> Iterator[Resident]:
        for i in range(3000):
            pulled.append(i)
            yield resident(f"32750104049{i:05d}", f"WARGA {i}")

    assert store.replace(meta(version=2), stream()) == 3000
    assert len(pulled) == 3000
    assert store.get("3275010404902999") is not None
    assert store.get(SECRET_NIK) is None


# --- single residents ---------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["ABCD-EFGH", "abcd-efgh", " abcd efgh ", "ab-cd-ef-gh",
                                   "ABCDEFGH"])
def test_invitation_codes_are_normalised(store: RosterStore, typed: str) -> None:
    found = store.by_invitation(typed)
    assert found is not None and found.nik == "3275010101990001"
    hits = store.search(typed)
    assert [(h.resident.nik, h.matched, h.score) for h in hits] == [
        ("3275010101990001", "invitation", 1.0)
    ]


def test_an_unknown_invitation_code_finds_nobody(store: RosterStore) -> None:
    assert store.by_invitation("ZZZZ-9999") is None
    assert store.search("ZZZZ-9999") == []
    assert invitation_key(" hjkm - 2345 ") == "HJKM2345"


def test_a_code_given_twice_is_refused_not_guessed(path: Path, key: bytes) -> None:
    with RosterStore.open(path, key) as s:
        s.replace(meta(), [resident("3275010101990001", "A", code="ABCD-EFGH"),
                           resident("3275010101990002", "B", code="abcd efgh")])
        with pytest.raises(InvalidInput, match="more than one"):
            s.by_invitation("ABCD-EFGH")
        assert len(s.search("ABCD-EFGH")) == 2


def test_a_nik_query_finds_exactly_that_nik(store: RosterStore) -> None:
    hits = store.search("3275 0141 0799 0123")
    assert [(h.resident.name, h.matched, h.score) for h in hits] == [(SECRET_NAME, "nik", 1.0)]
    assert store.search("3275014107990124") == []


# --- name search --------------------------------------------------------------------------


def test_name_search_ranks_exact_prefix_word_substring_then_words(store: RosterStore) -> None:
    hits = store.search("siti")
    assert names(hits) == ["SITI", "SITI AMINAH", "SITI NURHALIZA", "NUR SITI RAHMA",
                           "RAHMA DEWI SITI", "NURSITI AMALIA"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == 1.0 and all(h.matched == "name" for h in hits)
    hits = store.search("Siti Rahma")  # both words, apart, in any order
    assert names(hits)[:2] == ["NUR SITI RAHMA", "RAHMA DEWI SITI"]


def test_name_search_ignores_case_accents_and_punctuation(store: RosterStore) -> None:
    assert names(store.search("ma'ruf"))[0] == "MA'RUF AMIN"
    assert names(store.search("MARUF amin"))[0] == "MA'RUF AMIN"
    assert names(store.search("Sití  Áminah"))[0] == "SITI AMINAH"
    assert name_key("  Ma'ruf  AMIN, S.Pd ") == "maruf amin s pd"


def test_name_search_filters_by_rw_and_rt(store: RosterStore) -> None:
    assert names(store.search("siti", rw="5")) == names(store.search("siti", rw="005"))
    assert set(names(store.search("siti", rw="5"))) == {
        "SITI", "SITI AMINAH", "SITI NURHALIZA", "NURSITI AMALIA"}
    assert names(store.search("siti", rw="005", rt="3")) == ["SITI AMINAH"]
    assert store.search("siti", rw="9") == []
    assert store.search(SECRET_NIK, rw="1") == []  # filters narrow exact lookups too
    with pytest.raises(InvalidInput):
        store.search("siti", rw="lima")


def test_a_typo_still_finds_the_name(store: RosterStore) -> None:
    hits = store.search("siti nurhalisa")
    assert names(hits)[0] == "SITI NURHALIZA"
    assert 0 < hits[0].score < 0.6
    assert names(store.search("nurhalisa")) == ["SITI NURHALIZA"]
    assert names(store.search("agus saptura")) == ["AGUS SAPUTRA"]  # a transposition
    assert "MUHAMMAD RIZKY" in names(store.search("muhamad rizky"))
    assert names(store.search("nurhalisa", rw="5")) == ["SITI NURHALIZA"]
    assert store.search("nurhalisa", rw="3") == []
    assert store.search("siti xqzvw") == []  # every word must be accounted for


def test_a_short_query_is_a_prefix_search(store: RosterStore) -> None:
    assert names(store.search("si")) == ["SITI", "SITI AMINAH", "SITI NURHALIZA"]
    assert names(store.search("mu", rw="2")) == ["MUHAMMAD RIZKY"]
    assert store.search("  ") == []
    assert len(store.search("siti", limit=2)) == 2
    assert store.search("siti", limit=0) == []


def test_search_fills_up_to_the_limit_on_a_large_roster(path: Path, key: bytes) -> None:
    many = [resident(f"32750105059{i:05d}", f"DEWI {'SARI' if i % 2 else 'LESTARI'} {i}",
                     rw=f"{i % 4 + 1:03d}") for i in range(400)]
    with RosterStore.open(path, key) as s:
        s.replace(meta(), many)
        hits = s.search("dewi", limit=25)
        assert len(hits) == 25 and len({h.resident.nik for h in hits}) == 25
        assert all(h.resident.rw == "002" for h in s.search("sari", rw="2", limit=50))
        assert len(s.search("lestari", rw="1", limit=500)) == 100


def _spelling_maze(words: int) -> tuple[list[Resident], str]:
    """Residents whose names give each of ``words`` query words eight close spellings (its
    last letter changed), none holding them all: every spelling combination is a candidate
    and none finds anyone, so the typo search has all of them to consider."""
    bases = ["sarim", "budom", "kemam", "lupim", "tarom", "wigem", "hosum", "jadem",
             "pokim", "ruvam"][:words]
    people = []
    for b, base in enumerate(bases):
        for v, last in enumerate("bdgklnpt"):
            people.append(resident(f"3275010101{b:02d}{v + 1:04d}", f"{base[:-1]}{last}".upper()))
    return people, " ".join(bases)


def test_a_search_s_memory_does_not_grow_with_the_spellings_it_could_combine(
        path: Path, key: bytes) -> None:
    """Six words of eight spellings each are 531,441 combinations; a search looks at a
    bounded few of them, best first, and keeps no list of the rest."""
    import tracemalloc

    people, query = _spelling_maze(6)
    with RosterStore.open(path, key) as s:
        s.replace(meta(), people)
        assert s.search(query) == []
        tracemalloc.start()
        try:
            assert s.search(query) == []
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 4_000_000, f"{peak / 1e6:.0f} MB for one search"


def test_a_search_reads_a_bounded_query(store: RosterStore) -> None:
    """A pasted page, a scanner's junk or a name with dozens of words: the query is read
    up to its first 60 characters and 8 words, and still finds what those name."""
    assert "SITI NURHALIZA" in names(store.search("siti " * 8 + "xqzvw " * 10_000))
    assert store.search("s" * 100_000) == []
    assert store.search("nurhalisa " + "x" * 100_000) == []  # a word no name accounts for
    assert store.search("[/] \x1b[2J \x07 " * 5000) == []
    assert store.search("é" * 50_000) == []


# --- enrolment marks ----------------------------------------------------------------------


def test_enrolment_marks_survive_replace(store: RosterStore) -> None:
    assert not store.is_enrolled(SECRET_NIK)
    store.mark_enrolled(SECRET_NIK, "0193-0001", NOW)
    store.mark_enrolled(SECRET_NIK, "0193-0001", NOW)  # the same mark again: no change
    assert store.is_enrolled(SECRET_NIK)
    assert store.search(SECRET_NIK)[0].enrolled
    assert not store.search("siti")[0].enrolled

    store.replace(meta(version=2), PEOPLE)  # a new worklist version
    assert store.is_enrolled(SECRET_NIK)
    assert store.search("kartosoewiryo")[0].enrolled
    store.replace(meta(version=3), PEOPLE[:3])  # one that no longer lists the resident
    assert store.is_enrolled(SECRET_NIK)
    assert store.enrolled_count() == 1
    assert store.enrolled_count(on_roster=True) == 0


def test_a_second_packet_for_the_same_resident_is_refused(store: RosterStore) -> None:
    store.mark_enrolled(SECRET_NIK, "0193-0001", NOW)
    with pytest.raises(AlreadyEnrolled):
        store.mark_enrolled(SECRET_NIK, "0193-0002", NOW)
    assert store.enrolled_count() == 1


def test_close_is_idempotent(path: Path, key: bytes) -> None:
    s = RosterStore.open(path, key)
    s.close()
    s.close()


def test_awaiting_lists_the_rw_s_residents_not_yet_recorded_by_name(
    store: RosterStore,
) -> None:
    waiting, total = store.awaiting(rw=["5"])
    assert total == 4
    assert [r.name for r in waiting] == ["NURSITI AMALIA", "SITI", "SITI AMINAH",
                                         "SITI NURHALIZA"]
    store.mark_enrolled("3275010101990001", "0193-0001", NOW)  # SITI
    waiting, total = store.awaiting(rw=["005"], limit=2)
    assert total == 3 and [r.name for r in waiting] == ["NURSITI AMALIA", "SITI AMINAH"]
    both, total = store.awaiting(rw=["005", "002"])
    assert total == 5 and {r.rw for r in both} == {"002", "005"}
    _, everyone = store.awaiting()
    assert everyone == len(PEOPLE) - 1
