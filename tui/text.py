"""Data on the operator's screens is text, never markup.

A Static, a notification or a DataTable cell given a ``str`` reads it as Textual markup: a
resident named ``SITI [/]`` would crash the screen, ``[@click=app.quit]`` in a QR code would
make a link that quits. Every value that did not come from the catalogue (names, addresses,
places, schedule notes, QR contents, operator ids, error messages that quote data) goes
through :func:`esc` where it joins a markup string, or :func:`plain` where a widget takes a
renderable. Both also drop control and invisible characters (:func:`edge.text.visible`).
"""

from __future__ import annotations

from rich.text import Text
from textual.markup import escape

from edge.text import visible

LIMIT = 300  # characters of one value on screen; no name or address comes near it


def esc(value: object, limit: int = LIMIT) -> str:
    """``value`` for a markup string: one visible line, its markup escaped."""
    return escape(visible(value, limit))


def plain(value: object, style: str = "", limit: int = LIMIT) -> Text:
    """``value`` as a renderable that is never parsed (a DataTable or Rich table cell)."""
    return Text(visible(value, limit), style=style)
