"""A problem in plain words, with "try again" when trying again can help."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from tui.screens.base import RekamModal
from tui.text import esc
from tui.widgets.keybar import KeyBar


class ProblemDialog(RekamModal[bool]):
    """Shows ``catalogue.error(exc)`` (or a given text); returns True for "try again"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "primary", "retry", id="retry_device"),
        Binding("escape", "close", "close", id="close"),
    ]

    def __init__(self, error: BaseException | None = None, *, text: str = "",
                 retry: bool = False) -> None:
        super().__init__()
        self.error, self.text, self.retry = error, text, retry

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-error"):
            yield Static(id="title", classes="dialog-title")
            yield Static(id="message")
            yield KeyBar()

    def refresh_text(self) -> None:
        if self.error is not None:
            title, message = self.cat.error(self.error)
        else:
            title, message = self.t("dlg.error_title"), self.text
        self.query_one("#title", Static).update(esc(title))
        self.query_one("#message", Static).update(esc(message))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "close" and not self.retry)

    def key_label(self, binding_id: str) -> str | None:
        if binding_id == "retry_device" and not self.retry:
            return self.t("dlg.ok")
        return None

    def action_primary(self) -> None:
        self.dismiss(self.retry)

    def action_close(self) -> None:
        self.dismiss(False)
