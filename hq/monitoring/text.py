"""Text from kits and registers, made safe to show: operator ids, service points, names and
flag messages reach HQ inside packets a kit (or a thief with a kit's keys) wrote, so the
dashboard and the PDF treat them as data and show them as such.

Escaping is the templates' job (Jinja2 autoescapes; the Typst report places every string as
a value, never as markup). What is left is what escaping cannot stop: control characters,
bidirectional overrides that make "ani" read as "ina" or reorder a line, invisible
characters, and strings long enough to push a table off the page.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Controls (C0, C1), format characters (the bidirectional embeddings, overrides and
# isolates, zero-width joiners and spaces, the byte-order mark, tag characters), lone
# surrogates, and the line and paragraph separators.
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def shown(text: object, limit: int = 64) -> str:
    """``text`` as one line of visible characters: hidden ones removed, runs of spaces made
    one space, cut to ``limit`` characters with an ellipsis."""
    value = _SPACES.sub(" ", unicodedata.normalize("NFC", "" if text is None else str(text)))
    value = "".join(c for c in value if unicodedata.category(c) not in _HIDDEN).strip()
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value
