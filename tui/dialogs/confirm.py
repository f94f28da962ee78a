"""Yes or no, for a step that cannot be undone (cancel a recording). The safe answer is
the default: Enter and Esc both say no; only Y says yes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from tui.screens.base import RekamModal
from tui.text import esc
from tui.widgets.keybar import KeyBar


class ConfirmDialog(RekamModal[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes", id="yes"),
        Binding("n,escape,enter", "answer(False)", "no", id="no", key_display="N/Esc"),
    ]

    def __init__(self, title_key: str, question_key: str, **values: str) -> None:
        super().__init__()
        self.title_key, self.question_key, self.values = title_key, question_key, values

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(id="title", classes="dialog-title")
            yield Static(id="question")
            yield KeyBar()

    def refresh_text(self) -> None:
        values = {key: esc(value) for key, value in self.values.items()}  # names: data
        self.query_one("#title", Static).update(self.t(self.title_key, **values))
        self.query_one("#question", Static).update(self.t(self.question_key, **values))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
