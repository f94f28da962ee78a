"""Benchmark of the encrypted roster: replace, exact NIK lookup and name search at 100,000.

Builds a roster of realistic residents in a temporary directory, then times a few hundred
lookups and name searches (full names, first names, partial surnames, typos, short prefixes,
half of them narrowed to an RW); each query's time is the median of three runs. Each figure
is printed beside a naive baseline measured the same way in the same run — a Python scan
over the same residents held in a list — and the target.

    .venv/bin/python bench/bench_roster.py [--residents 100000] [--queries 400] [--seed 7]
                                           [--names synth|local]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex
from edge.roster import RosterMeta, RosterStore
from edge.roster_search import name_key

NIK_TARGET_MS = 1.0
SEARCH_TARGET_MS = 20.0
REPLACE_TARGET_S = 5.0
KELURAHAN = ("32.75.01.1001", "32.75.01.1002", "32.75.01.1003", "32.75.01.1004")

# --- realistic residents: the fallback when edge.synth is not there, or --names local --------


def _words(text: str) -> list[str]:
    return text.split()


# Weighted: Siti, Muhammad, Nur, Sri and Dewi are far more common than the rest.
_MALE_FIRST = ["Muhammad"] * 30 + ["Ahmad"] * 10 + ["Agus"] * 6 + ["Budi"] * 5 + _words(
    "Dedi Eko Joko Rudi Andi Hendra Rizky Fajar Dimas Yusuf Ilham Arif Bayu Wahyu Taufik "
    "Irfan Hadi Slamet Bambang Asep Ujang Dadang Cecep Iwan Yanto Sugeng Rahmat Hasan Imam "
    "Aditya Reza Fauzi Galih Gilang Haris Jajang Kiki Lukman Mamat Nanang Oman Rohmat Sandi "
    "Teguh Udin Wawan Yayan Zaenal Firman Heru Indra Kurnia Lutfi Rian Sholeh Sutrisno "
    "Suparman Sukardi Suryadi Tatang Engkos Maman Odih Ruslan Adi Dani Doni Eman Endang Hamdan"
)
_FEMALE_FIRST = ["Siti"] * 30 + ["Nur"] * 12 + ["Sri"] * 10 + ["Dewi"] * 8 + _words(
    "Nurul Ayu Putri Rina Yuni Fitri Indah Lestari Wulan Ratna Eka Dwi Tri Neng Euis Enung "
    "Ani Aisyah Anisa Annisa Aulia Bunga Cici Dian Dina Elis Erna Fatimah Halimah Ida Ika "
    "Imas Intan Irma Juju Kartini Lilis Lina Maya Mega Nia Nining Novi Nuraini Oktaviani "
    "Popon Rahma Rani Ria Rosita Sari Sinta Suci Susi Tuti Umi Vina Wati Yanti Yati Zahra"
)
_MIDDLE = _words(
    "Nur Dwi Eka Tri Adi Putra Putri Sari Indah Ayu Aulia Rahma Kurnia Wahyu Dewi Puspita "
    "Ratna Budi Agung Dian Fitri Nurul Siti Aminah Maulana Rizki"
)
_LAST = ["Saputra"] * 6 + ["Hidayat"] * 6 + ["Setiawan"] * 5 + ["Kurniawan"] * 5 + _words(
    "Rahmawati Pratama Wijaya Santoso Susanto Nurhaliza Lestari Handayani Permata Sari Wati "
    "Maulana Ramadhan Firmansyah Hermawan Nugroho Syahputra Siregar Nasution Harahap Lubis "
    "Simanjuntak Sitompul Aminah Fauziah Nurjanah Rohmah Hasanah Mulyani Suryani Yulianti "
    "Kusuma Purnama Gunawan Hakim Halim Irawan Januar Prasetyo Wibowo Utomo Hartono Sutrisno "
    "Sulistyo Anggraini Puspitasari Wulandari Safitri Oktavia Febrianti Maharani Pertiwi "
    "Rachman Abdullah Hamzah Hasibuan Pohan Tanjung Daulay Batubara Manurung Sinaga Pane "
    "Nainggolan Panjaitan Silalahi Sembiring Ginting Tarigan Hutagalung Hutapea Matondang "
    "Sopandi Suhendar Supriatna Sumarna Kosasih Mulyana Hidayatullah Ruhiyat Sobari Juhana "
    "Iskandar Zulkarnain Syahrial Effendi Mustofa Ma'ruf Bahtiar Ridwan Sya'bani"
)
_SINGLE = _words(  # Javanese single names
    "Suparman Sutini Sumarni Paijo Sukinem Tukiman Painem Sarmini Kasiyem Wagiman Sumiati "
    "Ngatini Karsih Sanem Darsih Warsono Rasimin Kamto Juminah Tarmuji"
)


def _old_spelling(word: str, rng: random.Random) -> str:
    """Spelling variation as on real civil records (Achmad, Moch., Soeparman, Djoko)."""
    variants = {
        "Muhammad": ["Muhamad", "Mohammad", "Mochammad", "Mohamad", "Moch.", "M."],
        "Ahmad": ["Achmad", "Akhmad"],
        "Yusuf": ["Yusup"],
        "Rizky": ["Rizki", "Rizqi"],
        "Nurhaliza": ["Nurhalizah"],
    }
    if word in variants:
        return rng.choice(variants[word])
    word = word.replace("u", "oe") if rng.random() < 0.5 else word
    return word.replace("J", "Dj").replace("c", "tj").replace("y", "j")


def _name(sex: Sex, rng: random.Random) -> str:
    first = rng.choice(_MALE_FIRST if sex is Sex.MALE else _FEMALE_FIRST)
    shape = rng.random()
    if shape < 0.12:
        words = [rng.choice(_SINGLE)]
    elif shape < 0.65:
        words = [first, rng.choice(_LAST)]
    else:
        words = [first, rng.choice(_MIDDLE), rng.choice(_LAST)]
    if rng.random() < 0.1:
        i = rng.randrange(len(words))
        words[i] = _old_spelling(words[i], rng)
    return " ".join(words).upper()  # SIAK keeps names in capitals


def _code(nik: str) -> str:
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    n = int.from_bytes(hashlib.sha256(b"bench:" + nik.encode()).digest()[:8], "big")
    chars = []
    for _ in range(8):
        n, r = divmod(n, len(alphabet))
        chars.append(alphabet[r])
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


def _local_residents(count: int, seed: int) -> Iterator[Resident]:
    rng = random.Random(seed)
    serials: dict[str, int] = {}
    for i in range(count):
        sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 59))
        day = born.day + (40 if sex is Sex.FEMALE else 0)
        kelurahan = KELURAHAN[i % len(KELURAHAN)]
        head = f"327501{day:02d}{born:%m%y}"
        serials[head] = serials.get(head, 0) + 1
        nik = f"{head}{serials[head]:04d}"
        rw, rt = rng.randint(1, 15), rng.randint(1, 10)
        yield Resident(
            nik=nik, no_kk=f"327501{rng.randrange(10**10):010d}", name=_name(sex, rng), sex=sex,
            birth_place=rng.choice(["BEKASI", "JAKARTA", "BOGOR", "KARAWANG", "CIREBON"]),
            birth_date=born, marital_status=rng.choice(list(MaritalStatus)),
            address=f"JL. {rng.choice(_LAST).upper()} NO. {rng.randint(1, 200)}",
            rt=f"{rt:03d}", rw=f"{rw:03d}", kelurahan=kelurahan, kecamatan="32.75.01",
            invitation_code=_code(nik),
        )


def residents(count: int, seed: int, source: str = "synth") -> tuple[list[Resident], str]:
    """``source="synth"``: edge.synth (Faker id_ID pools) when it is there; ``"local"``: the
    generator above, with common names weighted as in real rolls and old spellings."""
    if source == "synth":
        try:
            from edge.synth import generate_residents
        except ImportError:
            pass
        else:
            return list(generate_residents(list(KELURAHAN), count, seed)), "edge.synth"
    return list(_local_residents(count, seed)), "bench's local generator (weighted names)"


def time_worklist_import(people: Sequence[Resident], path: Path, key: bytes) -> str:
    """The kit's whole import of a sealed worklist (verify, open, parse, replace), as in
    ``Kit.import_worklist``; HQ's signing is not timed."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        from edge.keys import SealingPrivateKey, signing_key_id
        from edge.worklist import build_worklist, verify_worklist
    except ImportError as exc:
        return f"skipped ({exc})"
    hq = ed25519.Ed25519PrivateKey.generate()
    kit_key = SealingPrivateKey.generate()
    now = datetime.now(UTC)
    data = build_worklist(device_id="kit-bench", version=2, issued_at=now,
                          expires_at=now + timedelta(days=30), kelurahan=KELURAHAN,
                          residents=people, signing_key=hq, kit_key=kit_key.public())
    start = time.perf_counter()
    worklist = verify_worklist(data, trusted={signing_key_id(hq.public_key()): hq.public_key()},
                               device_id="kit-bench", kit_key=kit_key, current_version=1,
                               now=now)
    verified = time.perf_counter() - start
    with RosterStore.open(path, key) as store:
        store.replace(worklist.meta, worklist.residents())
    total = time.perf_counter() - start
    return (f"{total:.2f} s ({verified:.2f} s verify + parse, {len(data) / 1e6:.1f} MB signed) "
            f"| target < 15 s: {'ok' if total < 15 else 'MISSED'}")


# --- queries --------------------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "sub", "double"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "sub":
        return word[:i] + rng.choice("aiueoszkn") + word[i + 1:]
    return word[:i] + word[i] + word[i:]


Query = tuple[str, str | None, str, str]  # query, RW or None, kind, the name it aims at


def name_queries(people: Sequence[Resident], n: int, rng: random.Random) -> list[Query]:
    """What operators type, in a realistic mix."""
    queries: list[Query] = []
    kinds = ["full", "full", "first", "partial", "partial", "typo", "typo", "two_words", "short"]
    while len(queries) < n:
        person = rng.choice(people)
        words = [w for w in name_key(person.name).split() if len(w) >= 3] or ["siti"]
        kind = rng.choice(kinds)
        if kind == "full":
            q = person.name.title()
        elif kind == "first":
            q = words[0].capitalize()
        elif kind == "partial":
            w = words[-1]
            q = w[: max(3, len(w) - rng.randint(1, 3))]
        elif kind == "typo":
            long = [i for i, w in enumerate(words) if len(w) >= 5]
            if not long:
                continue
            i = rng.choice(long)
            words[i] = _typo(words[i], rng)
            q = " ".join(words)
        elif kind == "two_words":
            q = " ".join(words[:2])
        else:
            q = words[0][:2]
        rw = person.rw if rng.random() < 0.5 else None
        queries.append((q, rw, kind, name_key(person.name)))
    return queries


# --- measuring ------------------------------------------------------------------------------


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Milliseconds for one call: the median of ``repeat`` runs, so that a moment when the
    machine was busy elsewhere does not pass for the query's own cost."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        runs.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(runs)


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(label: str, ours: Sequence[float], base: Sequence[float] | None, target: float) -> None:
    p50, p99 = pct(ours, 50), pct(ours, 99)
    line = f"{label:<34} p50 {p50:8.3f} ms  p99 {p99:8.3f} ms"
    if base is not None:
        b50, b99 = pct(base, 50), pct(base, 99)
        line += (f"  | baseline p50 {b50:8.3f} p99 {b99:8.3f} ms"
                 f"  ({b50 / p50:4.0f}x / {b99 / p99:3.0f}x faster)")
    verdict = "ok" if p99 < target else "MISSED"
    print(f"{line}  | target p99 < {target:g} ms: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--names", choices=["synth", "local"], default="synth",
                        help="edge.synth's residents, or the bench's weighted-name generator")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    start = time.perf_counter()
    people, source = residents(args.residents, args.seed, args.names)
    print(f"{len(people):,} residents from {source} in {time.perf_counter() - start:.1f} s")
    # The bench holds 100,000 Residents (and the baseline's list) that a kit never holds: move
    # them out of the collector's sight so its full passes do not land in the timings.
    gc.collect()
    gc.freeze()
    now = datetime.now(UTC)
    meta = RosterMeta(device_id="kit-bench", version=1, issued_at=now,
                      expires_at=now + timedelta(days=30), kelurahan=KELURAHAN)

    with tempfile.TemporaryDirectory(prefix="rekam-bench-") as tmp:
        path, key = Path(tmp) / "roster" / "roster.db", os.urandom(32)
        with RosterStore.open(path, key) as store:
            start = time.perf_counter()
            count = store.replace(meta, iter(people))
            replace_s = time.perf_counter() - start
            start = time.perf_counter()
            store.replace(meta, iter(people))  # over an existing roster, as an update does
            again_s = time.perf_counter() - start
        size = sum(f.stat().st_size for f in path.parent.iterdir()) / 1e6
        print(f"replace() of {count:,} residents: {replace_s:.2f} s new, {again_s:.2f} s over "
              f"an existing roster ({size:.0f} MB on disk) | target < {REPLACE_TARGET_S:g} s: "
              f"{'ok' if max(replace_s, again_s) < REPLACE_TARGET_S else 'MISSED'}")
        print(f"signed worklist import: {time_worklist_import(people, path, key)}")

        with RosterStore.open(path, key) as store:
            # Exact NIK: present and absent NIKs, against a scan of the list.
            niks = [rng.choice(people).nik for _ in range(args.queries)]
            niks += [f"3275019999{i:06d}" for i in range(args.queries // 10)]
            for nik in niks[:20]:
                store.get(nik)  # warm up
            ours = [timed(lambda nik=nik: store.get(nik)) for nik in niks]
            base = [timed(lambda nik=nik: next((p for p in people if p.nik == nik), None))
                    for nik in niks]
            report("exact NIK  get()", ours, base, NIK_TARGET_MS)
            ours = [timed(lambda nik=nik: store.search(nik)) for nik in niks]
            report("exact NIK  search()", ours, base, NIK_TARGET_MS)

            # Names: the realistic mix, against a case-insensitive substring scan over names
            # lowered in advance (a fair baseline that neither ranks nor forgives typos).
            queries = name_queries(people, args.queries, rng)
            lowered = [p.name.lower() for p in people]

            def scan(q: str, rw: str | None) -> list[int]:
                q = q.lower()
                return [i for i, n in enumerate(lowered)
                        if q in n and (rw is None or people[i].rw == rw)][:20]

            for q, rw, _, _ in queries[:20]:
                store.search(q, rw=rw)  # warm up
            ours = [timed(lambda q=q, rw=rw: store.search(q, rw=rw)) for q, rw, _, _ in queries]
            base = [timed(lambda q=q, rw=rw: scan(q, rw)) for q, rw, _, _ in queries]
            report(f"name search ({len(queries)} queries)", ours, base, SEARCH_TARGET_MS)
            for kind in sorted({k for _, _, k, _ in queries}):
                idx = [i for i, (_, _, k, _) in enumerate(queries) if k == kind]
                report(f"  {kind} ({len(idx)})", [ours[i] for i in idx], [base[i] for i in idx],
                       SEARCH_TARGET_MS)
            slowest = sorted(zip(ours, queries, strict=True), key=lambda t: t[0])[-3:]
            print("  slowest:", "; ".join(f"{q!r} rw={rw} {ms:.1f} ms"
                                          for ms, (q, rw, _, _) in reversed(slowest)))

            # Home's "invited residents expected here today": an RW's residents not yet
            # recorded (some are), first 12 by RW and name, and how many; against a scan.
            recorded = {p.nik for p in people[::7][:2000]}
            for nik in recorded:
                store.mark_enrolled(nik, f"p-{nik}", now)
            rws = sorted({p.rw for p in people})
            picks = [rng.choice(rws) for _ in range(100)]

            def scan_awaiting(rw: str | None) -> int:
                left = [p for p in people
                        if (rw is None or p.rw == rw) and p.nik not in recorded]
                left.sort(key=lambda p: (p.rw, name_key(p.name)))
                return len(left[:12]) + len(left)

            ours = [timed(lambda rw=rw: store.awaiting(rw=[rw], limit=12)) for rw in picks]
            base = [timed(lambda rw=rw: scan_awaiting(rw)) for rw in picks]
            report(f"expected here today, one RW ({len(rws)} RWs)", ours, base,
                   SEARCH_TARGET_MS)
            ours = [timed(lambda: store.awaiting(limit=12)) for _ in range(20)]
            base = [timed(lambda: scan_awaiting(None)) for _ in range(20)]
            report("expected here today, whole roster", ours, base, SEARCH_TARGET_MS)
            typos = [(q, rw, aim) for q, rw, k, aim in queries if k == "typo"]
            found = [any(name_key(h.resident.name) == aim for h in store.search(q, rw=rw))
                     for q, rw, aim in typos]
            naive = [any(name_key(people[i].name) == aim for i in scan(q, rw))
                     for q, rw, aim in typos]
            print(f"  typo queries whose intended name is among the hits: "
                  f"{sum(found)}/{len(found)} (baseline: {sum(naive)}/{len(naive)})")

        # How edge.kit calls it: a fresh connection (cold page cache) per search.
        cold = []
        for q, rw, _, _ in queries[:100]:
            def one(q: str = q, rw: str | None = rw) -> None:
                with RosterStore.open(path, key) as s:
                    s.search(q, rw=rw)
            cold.append(timed(one))  # each run opens afresh: every run is cold
        report("open + name search (cold, 100)", cold, None, SEARCH_TARGET_MS)
    print(f"{statistics.fmean(ours):.2f} ms mean name search")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
