"""The key bar: every action the screen offers, on a visible key, in the current language.

Textual's own Footer shows each binding's fixed ``description``; ours looks the label up in
the catalogue by the binding's ``id`` (``key.<id>``), lets the screen give a label that
depends on its state (``key_label``: Enter is "Ambil", then "Lanjut"), and keeps to one
line: when the keys do not fit (an 80-column console), they are shown a page at a time,
each page ending with the "more keys" key (F1) that shows the next; every key works
whichever page is shown.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from tui.catalogue import Catalogue

_KEY_NAMES = {
    "enter": "Enter", "escape": "Esc", "tab": "Tab", "space": "Spasi", "backspace": "Bksp",
    "left": "←", "right": "→", "up": "↑", "down": "↓", "delete": "Del",
}


MORE_KEY = "F1"
"""Shows the next page of keys (a binding of every screen, see ``tui.screens.base``)."""


def key_display(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    first = binding.key.split(",")[0].strip()
    if first in _KEY_NAMES:
        return _KEY_NAMES[first]
    if first.startswith("ctrl+"):
        return "^" + first[5:].upper()
    return first.upper()


class KeyBar(Static):
    """The screen's keys, e.g. ``Enter Ambil  R Ulangi  Esc Batal  F2 English``."""

    DEFAULT_CSS = """
    KeyBar { height: auto; width: 1fr; dock: bottom; }
    """

    page = 0  # which page of keys shows (see _pages)

    def __init__(self) -> None:
        super().__init__()
        self.cat: Catalogue | None = None

    def show(self, cat: Catalogue) -> None:
        """The catalogue its labels come from (the app's: F2 switches its language)."""
        self.cat = cat
        self.refresh_keys()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.refresh_keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self.refresh_keys()

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached:
            self.call_after_refresh(self.refresh_keys)

    def refresh_keys(self) -> None:
        if not self.is_attached or self.cat is None:
            return
        cat = self.cat
        screen = self.screen
        seen: set[str] = set()
        items: list[tuple[str, str, bool]] = []
        for key, active in screen.active_bindings.items():
            binding, enabled = active.binding, active.enabled
            if not binding.show:
                # A focused widget's hidden binding (an Input's Enter) shadows the screen's:
                # the key still does the screen's job (the Input submits), so show it.
                shown = [b for b in screen._bindings.key_to_bindings.get(key, []) if b.show]
                if not shown:
                    continue
                binding = shown[0]
                name = binding.action.split("(")[0]
                enabled = screen.check_action(name, ()) is True
            if binding.action in seen:
                continue
            seen.add(binding.action)
            label = None
            getter = getattr(screen, "key_label", None)
            if getter is not None and binding.id:
                label = getter(binding.id)
            if label is None:
                label = cat.t(f"key.{binding.id}") if binding.id else binding.description
            items.append((key_display(binding), label, enabled))
        width = max(20, self.size.width or 80)
        pages = _pages(items, width, (MORE_KEY, cat.t("key.more_keys")))
        self.page %= len(pages)
        text = Text(no_wrap=True, overflow="ellipsis")
        for key, label, enabled in pages[self.page]:
            key_style = "bold reverse" if enabled else "dim reverse"
            text.append(f" {key} ", style=key_style)
            text.append(f" {label} ", style="" if enabled else "dim")
        self.update(text)

    def next_page(self) -> None:
        """The "more keys" key: the next page of keys (every key works on every page)."""
        self.page += 1
        self.refresh_keys()


def _pages(items: list[tuple[str, str, bool]], width: int, more: tuple[str, str]
           ) -> list[list[tuple[str, str, bool]]]:
    """The keys on one line each page. When they do not all fit, each page ends with the
    "more keys" key, and its label says which page this is ("Tombol lain 1/2")."""

    def cells(item: tuple[str, str, bool]) -> int:
        return len(item[0]) + len(item[1]) + 4

    if sum(cells(i) for i in items) <= width:
        return [items]
    room = width - (len(more[0]) + len(more[1]) + 4 + 4)  # "F1  Tombol lain 1/2"
    pages: list[list[tuple[str, str, bool]]] = [[]]
    used = 0
    for item in items:
        if pages[-1] and used + cells(item) > room:
            pages.append([])
            used = 0
        pages[-1].append(item)
        used += cells(item)
    return [[*page, (more[0], f"{more[1]} {n}/{len(pages)}", True)]
            for n, page in enumerate(pages, 1)]
