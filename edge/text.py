"""Text that came from outside (residents' records, visit schedules, QR codes, operator ids,
packets, CSV files) made safe to show.

Markup is each surface's own business (the operator UI escapes it, Jinja2 autoescapes, the
Typst report places strings as values). What no escaping of markup stops is handled here:
control characters (an ESC starts a terminal escape sequence that can clear the screen or
retitle the window, BEL rings, a lone CR overwrites the line), bidirectional overrides that
make "ani" read as "ina" or reorder a line, invisible characters, and strings long enough to
push everything else off the screen.
"""

from __future__ import annotations

import re
import unicodedata

# Controls (C0, C1), format characters (the bidirectional embeddings, overrides and
# isolates, zero-width joiners and spaces, the byte-order mark, tag characters), lone
# surrogates, and the line and paragraph separators.
HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))

_SPACES = re.compile(r"\s+")
# What may hide in ASCII and Latin-1 text (all of it Cc): checked by one regex, so that the
# usual all-ASCII output costs one scan. Newline and tab are layout, and CR before LF is the
# line end of a CSV file; a lone CR overwrites what is on the line.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def is_hidden(ch: str) -> bool:
    return unicodedata.category(ch) in HIDDEN_CATEGORIES


def first_hidden(text: str) -> str | None:
    """The first control or invisible character of ``text``, or None (one C-speed scan for
    the usual text, which has none)."""
    if text.isprintable():
        return None
    return next((c for c in text if is_hidden(c)), None)


def hidden_problem(text: str) -> str | None:
    """Why ``text`` may not be stored as a person's or a place's name (for an error that
    names its column), or None."""
    hidden = first_hidden(text)
    return None if hidden is None else \
        f"holds a control or invisible character (U+{ord(hidden):04X})"


def visible(text: object, limit: int | None = None) -> str:
    """``text`` as one line of visible characters: hidden ones removed, runs of white space
    made one space, cut to ``limit`` characters with an ellipsis."""
    value = _SPACES.sub(" ", unicodedata.normalize("NFC", "" if text is None else str(text)))
    if not value.isprintable():
        value = "".join(c for c in value if not is_hidden(c))
    value = value.strip()
    if limit is not None and len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def for_terminal(text: str) -> str:
    """``text`` about to be written to a terminal: every hidden character but newline and
    tab (and CR ending a line) written as its escape (``\\x1b``, ``\\u202e``), so it is
    seen and does nothing. Layout is kept: this is for whole lines of output."""
    text = _CONTROLS.sub(lambda m: _escaped(m.group()[0]), text)
    if text.isascii():
        return text
    return "".join(_escaped(c) if c not in "\n\t\r" and is_hidden(c) else c for c in text)
