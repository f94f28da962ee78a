"""The top line: the app and screen title on the left, the operator and the time on the
right (WIB, and saying so), and a loud SIMULASI mark when any device is simulated. The app
hands it what it shows (:meth:`TopBar.show`); the screen gives the title. On a narrow
console the app's name gives way first, so the screen's title (a resident's name) stays
whole as long as it can; the screens show the full name in their body too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from edge.text import visible
from tui.catalogue import Catalogue
from tui.views import KitSnapshot


class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: 1; dock: top; background: $primary; color: $text; }
    """

    def __init__(self, title_key: str, **values: str) -> None:
        super().__init__()
        self.title_key = title_key
        self.values = values
        self.cat: Catalogue | None = None
        self.snapshot: KitSnapshot | None = None
        self.operator = ""  # who is logged in; "" when nobody
        self.clock: Callable[[], datetime] | None = None

    def show(self, cat: Catalogue, snapshot: KitSnapshot | None, operator: str,
             clock: Callable[[], datetime]) -> None:
        self.cat, self.snapshot, self.operator, self.clock = cat, snapshot, operator, clock
        self.refresh_bar()

    def on_mount(self) -> None:
        self.set_interval(30, self.refresh_bar)
        self.refresh_bar()

    def set_title(self, title_key: str, **values: str) -> None:
        self.title_key, self.values = title_key, values
        self.refresh_bar()

    def on_resize(self) -> None:
        self.refresh_bar()

    def refresh_bar(self) -> None:
        cat = self.cat
        if cat is None or self.clock is None:
            return
        values = {key: visible(value) for key, value in self.values.items()}  # names: data
        title = cat.t(self.title_key, **values)
        left = Text(f" {cat.t('app.title')} │ {title}", style="bold")
        right = Text()
        snapshot = self.snapshot
        if snapshot is not None and snapshot.simulated:
            right.append(f" {cat.t('app.sim_banner')} ", style="bold reverse yellow")
            right.append(" ")
        if self.operator:
            right.append(f"{visible(self.operator)} · ")
        right.append(f"{self.clock():%H:%M} WIB ")
        width = max(20, self.size.width or 80)
        room = width - right.cell_len
        if left.cell_len > room:  # the screen's title (a resident's name) before the app's
            left = Text(f" {title}", style="bold")
        if left.cell_len > room:
            left.truncate(max(0, room - 1), overflow="ellipsis")
        pad = max(1, width - left.cell_len - right.cell_len)
        self.update(Text.assemble(left, " " * pad, right))
