"""Text from kits and registers, made safe to show: operator ids, service points, names and
flag messages reach HQ inside packets a kit (or a thief with a kit's keys) wrote, so the
dashboard and the PDF treat them as data and show them as such.

Escaping is the templates' job (Jinja2 autoescapes; the Typst report places every string as
a value, never as markup). What is left is what escaping cannot stop (:mod:`edge.text`).
"""

from __future__ import annotations

from edge.text import visible


def shown(text: object, limit: int = 64) -> str:
    """``text`` as one line of visible characters: hidden ones removed, runs of spaces made
    one space, cut to ``limit`` characters with an ellipsis."""
    return visible(text, limit)
