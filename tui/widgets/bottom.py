"""The bottom of every screen: the status bar above the key bar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from tui.widgets.keybar import KeyBar
from tui.widgets.status_bar import StatusBar


class Bottom(Vertical):
    DEFAULT_CSS = """
    Bottom { dock: bottom; height: auto; }
    Bottom KeyBar { dock: none; }
    Bottom StatusBar { dock: none; }
    """

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield KeyBar()
