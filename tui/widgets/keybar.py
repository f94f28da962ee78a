"""The key bar: every action the screen offers, on a visible key, in the current language.

Textual's own Footer shows each binding's fixed ``description``; ours looks the label up in
the catalogue by the binding's ``id`` (``key.<id>``), lets the screen give a label that
depends on its state (``key_label``: Enter is "Ambil", then "Lanjut"), and wraps onto a
second line on an 80-column console instead of hiding keys off the edge.
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
        text = Text(no_wrap=True, overflow="ellipsis")
        column = 0
        for key, label, enabled in items:
            chunk = len(key) + len(label) + 3
            if column and column + chunk > width:
                text.append("\n")
                column = 0
            key_style = "bold reverse" if enabled else "dim reverse"
            text.append(f" {key} ", style=key_style)
            text.append(f" {label} ", style="" if enabled else "dim")
            column += chunk
        self.update(text)
