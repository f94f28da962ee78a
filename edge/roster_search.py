"""How the roster is searched: the forms names, invitation codes and RT/RW numbers are
compared in, and the name search behind :meth:`edge.roster.RosterStore.search`.

Names are compared in a normal form (:func:`name_key`: case-folded, accents and punctuation
dropped, single spaces). Hits are ranked: the exact full name, then names that start with the
query, then a word that starts with it, then the query anywhere, then names holding every
word of the query in any order, and last, when fewer than ``limit`` were found, a fuzzy
match that forgives typos ("siti nurhalisa" finds "Siti Nurhaliza"). :class:`NameSearch`
runs those tiers over the tables of :mod:`edge.roster_schema`.

Whatever is typed (or pasted, or sent by a scanner), one search does bounded work: a name
query is read up to its first :data:`MAX_QUERY_CHARS` characters and :data:`MAX_QUERY_WORDS`
words (no name on a KTP is longer), each word gets at most :data:`_FUZZY_VARIANTS` close
spellings, and the spelling combinations are walked best first, stopping after
:data:`_FUZZY_COMBOS` (``bench/bench_search_worst.py`` measures the worst queries).
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edge.errors import InvalidInput

# --- normal forms -------------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'’`")


def name_key(name: str) -> str:
    """The form names are compared in: case-folded, without accents, apostrophes or other
    punctuation, words separated by one space (``"Ma'ruf  AMIN, S.Pd"`` → ``"maruf amin s pd"``)."""
    if not name.isascii():
        name = "".join(
            ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
        )
    return _NON_WORD.sub(" ", name.translate(_APOSTROPHES).casefold()).strip()


def invitation_key(code: str) -> str:
    """An invitation code as stored and looked up: upper case, no spaces or dashes."""
    return "".join(code.split()).replace("-", "").upper()


def is_digits(value: str) -> bool:
    """ASCII digits only (``str.isdigit`` alone accepts "٣" and "²")."""
    return value.isascii() and value.isdigit()


def area_key(value: str) -> str:
    """An RW or RT number as stored: zero-padded to three digits ("5" → "005")."""
    value = value.strip()
    if not is_digits(value) or len(value) > 3:
        raise InvalidInput(f"RT/RW {value!r} is not a number of up to three digits")
    return value.zfill(3)


def stored_area(value: str) -> str:
    """An RT or RW from a worklist as stored: three characters kept as they are, one or two
    digits zero-padded to three ("5" → "005"), anything else kept, trimmed."""
    if len(value) == 3:
        return value  # "005", as SIAK writes it
    value = value.strip()
    return value.zfill(3) if is_digits(value) and len(value) < 3 else value


@dataclass(frozen=True)
class Area:
    """The RW and RT a search is narrowed to (None: any), as SQL conditions."""

    rw: str | None
    rt: str | None

    def where(self, alias: str) -> tuple[str, list[str]]:
        sql, args = "", []
        if self.rw is not None:
            sql, args = f" AND {alias}.rw = ?", [self.rw]
        if self.rt is not None:
            sql, args = sql + f" AND {alias}.rt = ?", [*args, self.rt]
        return sql, args


# --- name search --------------------------------------------------------------------------

#: Scores by tier; a fuzzy hit scores FUZZY times its similarity (0..1).
EXACT, PREFIX, WORD_PREFIX, SUBSTRING, ALL_WORDS, FUZZY = 1.0, 0.9, 0.8, 0.7, 0.6, 0.5
_FUZZY_VARIANTS = 8  # spellings tried per query word
_FUZZY_CANDIDATES = 64  # name words looked at per query word
_FUZZY_COMBOS = 24  # spelling combinations tried, best first
_FUZZY_WALK = 4 * _FUZZY_COMBOS  # combinations looked at (some are skipped) at most
#: A name query is read up to this many characters (of its normal form) and words.
MAX_QUERY_CHARS = 60
MAX_QUERY_WORDS = 8
MAX_QUERY_INPUT = 4 * MAX_QUERY_CHARS  # what is typed, before its punctuation is dropped


def _phrase(text: str) -> str:
    """An FTS5 string literal (with the trigram tokenizer it matches as a substring)."""
    return '"' + text.replace('"', '""') + '"'


class NameSearch:
    """One name query, tier by tier, each tier only asked for the places still free.

    The exact name and names starting with the query come from the ``name_key`` index in
    name order. The other tiers read ``name_fts`` in rowid order, which is (length, name)
    order, so each stops after the rows it needs; within an RW they scan that RW's slice of
    the (rw, name_key, rt) index instead. Tiers exclude each other by predicate (a
    word-prefix hit is one whose name does not start with the query, and so on), so no
    resident is listed twice.
    """

    def __init__(self, conn: Any, key: str, area: Area, limit: int) -> None:
        self.conn = conn
        self.key = key
        self.words = key.split()
        self.long_words = [w for w in self.words if len(w) >= 3]
        self.area = area
        self.limit = limit
        self.found: list[tuple[int, float]] = []  # (resident id, score)

    def need(self) -> int:
        return self.limit - len(self.found)

    def run(self) -> list[tuple[int, float]]:
        self._prefix()
        if not self.long_words:
            return self.found  # too short for trigrams: a prefix search only
        if self.area.rw is not None:
            self._area_tiers()
        elif len(self.words) == 1:
            self._word_tiers()
        else:
            self._words_tiers()
        if self.need() > 0:
            self._fuzzy()
        return self.found

    def _prefix(self) -> None:
        """The exact name, then names that start with the query, in name order."""
        where, args = self.area.where("r")
        rows = self.conn.execute(
            "SELECT r.id, r.name_key = ? FROM residents r"
            " WHERE r.name_key >= ? AND r.name_key < ?" + where
            + " ORDER BY r.name_key LIMIT ?",
            (self.key, self.key, self.key + "\uffff", *args, self.limit),
        ).fetchall()
        self.found += [(row[0], EXACT if row[1] else PREFIX) for row in rows]

    def _short_words(self) -> tuple[str, list[str]]:
        """Words under three letters cannot use trigrams: they must start a word."""
        sql, args = "", []
        for w in self.words:
            if len(w) < 3:
                sql += " AND instr(f.doc, ?) > 0"
                args.append(f" {w}")
        return sql, args

    def _area_tiers(self) -> None:
        """Within one RW: scan its slice of the (rw, name_key, rt) index, a few thousand
        entries at most, which costs the same for a common word as for a rare one (the
        trigram index would hand over every match in the roster, to be sifted by RW)."""
        if self.need() <= 0:
            return
        key, spaced = self.key, f" {self.key}"
        where, args = self.area.where("r")
        words_sql = "".join(" AND instr(r.name_key, ?) > 0" for _ in self.long_words)
        words_sql += "".join(
            " AND instr(' ' || r.name_key, ?) > 0" for w in self.words if len(w) < 3
        )
        rows = self.conn.execute(
            "SELECT r.id, CASE WHEN instr(' ' || r.name_key, ?) > 0 THEN 0"
            " WHEN instr(r.name_key, ?) > 0 THEN 1 ELSE 2 END AS tier"
            " FROM residents r INDEXED BY residents_area_name"
            " WHERE substr(r.name_key, 1, ?) != ?" + where + words_sql
            + " ORDER BY tier, length(r.name_key), r.name_key LIMIT ?",
            (spaced, key, len(key), key, *args, *self.long_words,
             *(f" {w}" for w in self.words if len(w) < 3), self.need()),
        ).fetchall()
        scores = (WORD_PREFIX, SUBSTRING, ALL_WORDS)
        self.found += [(row[0], scores[row[1]]) for row in rows]

    def _word_tiers(self) -> None:
        """One word: a word of the name starts with it, then it is anywhere in the name.
        One query per tier, read in rank order: a common word stops after ``need`` rows."""
        padded = f" {self.key}"
        area_sql, area_args = self.area.where("f")
        for score, match, exclude, args in (
            (WORD_PREFIX, _phrase(padded), "substr(f.doc, 1, ?) != ?", [len(padded), padded]),
            (SUBSTRING, _phrase(self.key), "instr(f.doc, ?) = 0", [padded]),
        ):
            if self.need() <= 0:
                return
            rows = self.conn.execute(
                "SELECT f.resident FROM name_fts f WHERE name_fts MATCH ? AND " + exclude
                + area_sql + " ORDER BY f.rowid LIMIT ?",
                (match, *args, *area_args, self.need()),
            ).fetchall()
            self.found += [(row[0], score) for row in rows]

    def _words_tiers(self) -> None:
        """Several words: every word is in the name (one trigram query, whose result is
        small since the words must meet in one name), ranked: the words together at a word
        start, together anywhere, then apart."""
        if self.need() <= 0:
            return
        padded = f" {self.key}"
        short_sql, short_args = self._short_words()
        area_sql, area_args = self.area.where("f")
        rows = self.conn.execute(
            "SELECT f.resident,"
            " CASE WHEN instr(f.doc, ?) > 0 THEN 0 WHEN instr(f.doc, ?) > 0 THEN 1 ELSE 2 END"
            " AS tier FROM name_fts f WHERE name_fts MATCH ? AND substr(f.doc, 1, ?) != ?"
            + short_sql + area_sql + " ORDER BY tier, f.rowid LIMIT ?",
            (padded, self.key, " AND ".join(_phrase(w) for w in self.long_words),
             len(padded), padded, *short_args, *area_args, self.need()),
        ).fetchall()
        scores = (WORD_PREFIX, SUBSTRING, ALL_WORDS)
        self.found += [(row[0], scores[row[1]]) for row in rows]

    def _fuzzy(self) -> None:
        """Names where every word of the query is there as typed or in a close spelling
        (see :meth:`_variants`), scored by the mean similarity of the spellings.

        Spelling combinations are tried best first, each as a whole-word query on
        ``name_tokens`` read in rank order, so a common spelling ("siti" for "sitti") stops
        after the rows still needed. A query word with no close spelling on the roster ends
        the search: a fuzzy hit must account for every word.
        """
        many = len(self.long_words) > 1
        groups: list[list[tuple[str, float]]] = []
        for w in self.long_words:
            group = self._variants(w)
            if many and self.conn.execute(
                "SELECT 1 FROM name_tokens WHERE name_tokens MATCH ? LIMIT 1", (_phrase(w),)
            ).fetchone():
                group.insert(0, (w, 1.0))
            if not group:
                return
            groups.append(group)
        # The tiers above listed every name holding each typed word as a substring: the
        # predicate leaves those out, and a combination whose every spelling holds its typed
        # word ("laksmiwati" for "laksmiwa") could only find those, so it is not tried.
        combos = [
            (similarity, words) for similarity, words in _best_combinations(groups)
            if not all(typed in word for typed, word in zip(self.long_words, words))
        ]
        exclude = " AND NOT (" + " AND ".join("instr(f.doc, ?) > 0" for _ in self.long_words)
        short_sql, short_args = self._short_words()
        area_sql, area_args = self.area.where("f")
        seen: set[int] = set()
        for similarity, words in combos[:_FUZZY_COMBOS]:
            rows = self.conn.execute(
                "SELECT f.resident FROM name_tokens t JOIN name_fts f ON f.rowid = t.rowid"
                " WHERE name_tokens MATCH ?" + exclude + ")" + short_sql + area_sql
                + " ORDER BY t.rowid LIMIT ?",
                (" AND ".join(_phrase(w) for w in words), *self.long_words, *short_args,
                 *area_args, self.need() + len(seen)),
            ).fetchall()
            for (resident,) in rows:
                if resident not in seen:
                    seen.add(resident)
                    self.found.append((resident, FUZZY * similarity))
                    if self.need() <= 0:
                        return

    def _variants(self, word: str) -> list[tuple[str, float]]:
        """Other name words on the roster within a few edits of ``word`` (two for words of
        eight letters or more, else one), closest first, each with a similarity in 0..1."""
        allowed = 1 if len(word) <= 7 else 2
        grams = {f" {word} "[i:i + 3] for i in range(len(word))}
        rows = self.conn.execute(
            "SELECT doc FROM name_words WHERE name_words MATCH ? AND size BETWEEN ? AND ?"
            " ORDER BY rank LIMIT ?",
            (" OR ".join(_phrase(g) for g in sorted(grams)), len(word) - allowed,
             len(word) + allowed, _FUZZY_CANDIDATES),
        ).fetchall()
        found: list[tuple[str, float]] = []
        for (doc,) in rows:
            candidate = doc.strip()
            if candidate == word:
                continue
            distance = _edit_distance(word, candidate, allowed)
            if distance <= allowed:
                found.append((candidate, 1.0 - distance / max(len(word), len(candidate))))
        found.sort(key=lambda v: (-v[1], v[0]))
        return found[:_FUZZY_VARIANTS]


def bounded_key(key: str) -> str:
    """A name key cut to :data:`MAX_QUERY_CHARS` and :data:`MAX_QUERY_WORDS` (a word cut
    in the middle is still a prefix of the name's word)."""
    return " ".join(key[:MAX_QUERY_CHARS].split()[:MAX_QUERY_WORDS])


def _best_combinations(
    groups: list[list[tuple[str, float]]],
) -> Iterator[tuple[float, list[str]]]:
    """One spelling from each group, best mean similarity first (ties in the groups'
    order), at most :data:`_FUZZY_WALK` of them: a lazy walk from the best combination to
    its neighbours (one group's next spelling), so the work is that many steps whatever the
    number of words and spellings, never the product of their counts."""
    start = (0,) * len(groups)
    heap = [(-sum(group[0][1] for group in groups), start)]
    queued = {start}
    for _ in range(_FUZZY_WALK):
        if not heap:
            return
        negative, picks = heapq.heappop(heap)
        yield -negative / len(groups), [group[i][0] for group, i in zip(groups, picks)]
        for g, i in enumerate(picks):
            if i + 1 < len(groups[g]):
                nxt = (*picks[:g], i + 1, *picks[g + 1:])
                if nxt not in queued:
                    queued.add(nxt)
                    heapq.heappush(heap, (-sum(group[k][1] for group, k in zip(groups, nxt)),
                                          nxt))


def _edit_distance(a: str, b: str, cap: int) -> int:
    """Optimal-string-alignment distance (edits, with adjacent transpositions), or
    ``cap + 1`` once it must exceed ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            cur[j] = d
        if min(cur) > cap and min(prev) >= cap:  # no later row can come back under cap
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]
