"""The top line: the app and screen title on the left, the operator and the time on the
right, and a loud SIMULASI mark when any device is simulated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from edge.text import visible

if TYPE_CHECKING:
    from tui.app import RekamApp


class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: 1; dock: top; background: $primary; color: $text; }
    """

    def __init__(self, title_key: str, **values: str) -> None:
        super().__init__()
        self.title_key = title_key
        self.values = values

    def on_mount(self) -> None:
        self.set_interval(30, self.refresh_bar)
        self.refresh_bar()

    def set_title(self, title_key: str, **values: str) -> None:
        self.title_key, self.values = title_key, values
        self.refresh_bar()

    def on_resize(self) -> None:
        self.refresh_bar()

    def refresh_bar(self) -> None:
        app: RekamApp = self.app  # type: ignore[assignment]
        cat = app.cat
        values = {key: visible(value) for key, value in self.values.items()}  # names: data
        left = Text(f" {cat.t('app.title')} │ {cat.t(self.title_key, **values)}",
                    style="bold")
        right = Text()
        snapshot = app.snapshot
        if snapshot is not None and snapshot.simulated:
            right.append(f" {cat.t('app.sim_banner')} ", style="bold reverse yellow")
            right.append(" ")
        session = app.services.session
        if session is not None:
            right.append(f"{visible(session.operator.name)} · ")
        right.append(f"{app.services.now():%H:%M} ")
        width = max(20, self.size.width or 80)
        room = width - right.cell_len
        if left.cell_len > room:
            left.truncate(max(0, room - 1), overflow="ellipsis")
        pad = max(1, width - left.cell_len - right.cell_len)
        self.update(Text.assemble(left, " " * pad, right))
