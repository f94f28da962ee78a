"""The worst name searches one can type, paste or scan, against an ordinary one, on a roster
of 30,000 residents.

A search must do bounded work whatever the query (``edge.roster_search``: the query read up to 60
characters and 8 words, a few close spellings per word, the spelling combinations walked
best first). This bench builds queries meant to break that: the roster's words with the
most close spellings, each typed with a typo so that only the fuzzy search can answer, eight
of them and then twenty; 100,000 characters of letters; unicode (accents, combining marks,
CJK, emoji); digits among words; markup and control characters. Each query's time is the
median of three runs; its peak memory is the most Python allocated during one run
(tracemalloc, in a separate run so that tracing does not slow the timed ones). The baseline,
measured the same way in the same run, is the ordinary search: a resident's full name.

    .venv/bin/python bench/bench_search_worst.py [--residents 30000] [--seed 7] [--only TEXT]

``--only`` runs the queries whose label holds TEXT (to measure an older ``edge.roster``,
where the twenty-word query would not finish).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_roster import KELURAHAN, residents  # noqa: E402

from edge.roster import RosterMeta, RosterStore  # noqa: E402
from edge.roster_search import Area, NameSearch, name_key  # noqa: E402


def timed_ms(fn: object, repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def peak_kb(fn: object) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024


def spelling_rich_words(store: RosterStore, words: list[str], n: int) -> list[str]:
    """The ``n`` roster words with the most close spellings on the roster."""
    search = NameSearch(store._conn, "", Area(None, None), 20)
    counted = sorted(((len(search._variants(w)), w) for w in words), reverse=True)
    return [w for _, w in counted[:n]]


def spelling_rich_typo(store: RosterStore, word: str, on_roster: set[str]) -> str:
    """A one-letter typo of ``word`` that is on no name and has the most close spellings
    that are: a word only the typo search can answer, with as much as can be for it to
    combine."""
    search = NameSearch(store._conn, "", Area(None, None), 20)
    typos = {word[:i] + c + word[i + 1:] for i in range(1, len(word))
             for c in "aiueokrnst"} - on_roster
    return max(sorted(typos), key=lambda t: len(search._variants(t)))


def queries(store: RosterStore, people: Sequence[object],
            rng: random.Random) -> list[tuple[str, str, str | None]]:
    """(label, query, RW or None for the whole roster)."""
    on_roster = {w for p in people for w in name_key(p.name).split()}  # type: ignore[attr-defined]
    words = sorted(w for w in on_roster if 4 <= len(w) <= 10 and w.isalpha())
    rich = spelling_rich_words(store, rng.sample(words, min(600, len(words))), 20)
    search = NameSearch(store._conn, "", Area(None, None), 20)
    typed = sorted((spelling_rich_typo(store, w, on_roster) for w in rich),
                   key=lambda t: -len(search._variants(t)))
    some_name = name_key(rng.choice(people).name)  # type: ignore[attr-defined]
    unicode_junk = "".join(rng.choice("éàöñçøåßΩж中文字👩‍👩‍👧\u0301\u0308\u200d\u202e")
                           for _ in range(10_000))
    whole = [
        ("8 typo'd words, most spellings", " ".join(typed[:8])),
        ("8 roster words, most spellings", " ".join(rich[:8])),
        ("20 typo'd words", " ".join(typed)),
        ("8 short common words", "nur sri dwi tri eka ayu adi sari"),
        ("the issue's shape (8 words, 34 ch)", " ".join(w[:3] for w in typed[:8]) + " ab"),
        ("100,000 letters", "a" * 100_000),
        ("100,000 chars, words of 3", ("abc " * 25_000)),
        ("10,000 unicode chars", unicode_junk),
        ("digits among words", f"{some_name} 3275 0101 99 {some_name} 12345"),
        ("15 digits, then 17", "327501010199000"),
        ("17 digits", "32750101019900011"),
        ("markup and controls", ("[/] [bold]\x1b[2J\x07 [@click=app.quit] " * 2000)),
        ("invitation-code shape", "ABCDE-FGH23 " * 1000),
    ]
    rw = people[0].rw  # type: ignore[attr-defined]
    return [(label, query, None) for label, query in whole] + [
        ("8 typo'd words, in one RW", " ".join(typed[:8]), rw),
        ("8 roster words, in one RW", " ".join(rich[:8]), rw),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="only the queries whose label holds this")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    people, source = residents(args.residents, args.seed)
    print(f"{len(people):,} residents from {source}")
    now = datetime.now(UTC)
    meta = RosterMeta(device_id="kit-bench", version=1, issued_at=now,
                      expires_at=now + timedelta(days=30), kelurahan=KELURAHAN)
    with tempfile.TemporaryDirectory(prefix="rekam-bench-") as tmp:
        path = Path(tmp) / "roster" / "roster.db"
        with RosterStore.open(path, os.urandom(32)) as store:
            store.replace(meta, iter(people))
            gc.collect()
            gc.freeze()

            names = [p.name.title() for p in rng.sample(people, 30)]
            for name in names[:5]:
                store.search(name)  # warm the page cache
            base_ms = statistics.median(timed_ms(lambda n=name: store.search(n))
                                        for name in names)
            base_kb = statistics.median(peak_kb(lambda n=name: store.search(n))
                                        for name in names)
            print(f"baseline: a resident's full name (median of {len(names)} names): "
                  f"{base_ms:.2f} ms, {base_kb:.0f} KB peak")

            worst: tuple[float, float, str] = (0.0, 0.0, "")
            heaviest: tuple[float, float, str] = (0.0, 0.0, "")
            for label, query, area in queries(store, people, rng):
                if args.only not in label:
                    continue
                ms = timed_ms(lambda q=query, a=area: store.search(q, rw=a))
                kb = peak_kb(lambda q=query, a=area: store.search(q, rw=a))
                hits = len(store.search(query, rw=area))
                shown = query if len(query) <= 48 else f"{query[:45]!r}... ({len(query):,} ch)"
                print(f"{label:<36} {ms:9.2f} ms {kb:9.0f} KB peak  {hits:2d} hits  {shown}")
                worst = max(worst, (ms, kb, label))
                heaviest = max(heaviest, (kb, ms, label))
    print(f"worst time:   {worst[2]}: {worst[0]:.2f} ms, {worst[1]:.0f} KB peak "
          f"= {worst[0] / base_ms:.1f}x the baseline's time")
    print(f"worst memory: {heaviest[2]}: {heaviest[0]:.0f} KB peak, {heaviest[1]:.2f} ms "
          f"= {heaviest[0] / max(base_kb, 1):.1f}x the baseline's memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
