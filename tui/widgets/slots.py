"""Slot grids (the two-hand map of ten fingers, the two eyes, the two verification fingers)
and the quality meter. Each cell shows a finger's or eye's name, its best score and its
state in words and colour, so the state reads on a 16-colour console and without colour."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

STATE_STYLES = {
    "pending": "dim",
    "busy": "bold reverse yellow",
    "ok": "bold green",
    "retry": "bold red",
    "low": "bold yellow",
    "exception": "bold magenta",
    "not_matched": "bold red",
}


@dataclass(frozen=True)
class Cell:
    key: str
    name: str  # full name, used when the cell is wide enough
    short: str  # at most 7 characters
    score: int | None
    state: str  # a key of STATE_STYLES
    state_label: str


@dataclass(frozen=True)
class Group:
    title: str
    cells: tuple[Cell, ...]


class SlotGrid(Static):
    """Groups of cells side by side, e.g. LEFT HAND (little..thumb) | RIGHT HAND."""

    DEFAULT_CSS = """
    SlotGrid { height: auto; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.groups: tuple[Group, ...] = ()
        self.selected: str | None = None

    def show(self, groups: tuple[Group, ...], selected: str | None) -> None:
        self.groups, self.selected = groups, selected
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.groups:
            self.update("")
            return
        width = max(40, self.size.width or 78)
        count = sum(len(g.cells) for g in self.groups)
        gaps = len(self.groups) - 1
        side_by_side = max(7, min(14, (width - 3 * gaps) // max(1, count)))
        widest = max(len(c.name) for g in self.groups for c in g.cells)
        if widest < side_by_side or len(self.groups) == 1:
            self.update(self._rows(self.groups, side_by_side))
            return
        # The full names ("Kelingking", "Telunjuk") do not fit side by side on an 80-column
        # console: one group above the other, each with the whole width, rather than
        # names cut to letters an operator has to guess.
        most = max(len(g.cells) for g in self.groups)
        stacked = max(7, min(14, width // most))
        self.update(Text("\n").join(self._rows((g,), stacked) for g in self.groups))

    def _rows(self, groups: tuple[Group, ...], cell_w: int) -> Text:
        lines = [Text(), Text(), Text(), Text()]
        for gi, group in enumerate(groups):
            if gi:
                for line in lines:
                    line.append(" │ ", style="dim")
            span = cell_w * len(group.cells)
            lines[0].append(group.title[:span].center(span), style="bold")
            for cell in group.cells:
                name = cell.name if len(cell.name) <= cell_w - 1 else cell.short
                style = STATE_STYLES.get(cell.state, "")
                name_style = "bold reverse" if cell.key == self.selected else "bold"
                lines[1].append(name[: cell_w - 1].center(cell_w - 1), style=name_style)
                lines[1].append(" ")
                score = "--" if cell.score is None else str(cell.score)
                lines[2].append(score.center(cell_w - 1), style=style)
                lines[2].append(" ")
                lines[3].append(cell.state_label[: cell_w - 1].center(cell_w - 1), style=style)
                lines[3].append(" ")
        return Text("\n").join(lines)


class QualityMeter(Static):
    """``Kualitas ██████████░░░░ 72  batas lulus 40  LULUS``."""

    DEFAULT_CSS = """
    QualityMeter { height: 1; width: 1fr; }
    """

    BAR = 20

    def show(self, label: str, score: int | None, threshold: int, threshold_text: str,
             verdict: str, passed: bool) -> None:
        text = Text(f"{label} ", style="bold")
        if score is None:
            text.append("░" * self.BAR, style="dim")
            text.append(f"  --  {threshold_text}")
            self.update(text)
            return
        filled = round(self.BAR * max(0, min(100, score)) / 100)
        mark = round(self.BAR * threshold / 100)
        colour = "green" if passed else "red"
        for i in range(self.BAR):
            if i < filled:
                text.append("█", style=colour)
            else:
                text.append("│" if i == mark else "░", style="dim")
        text.append(f" {score:3d}  ", style=f"bold {colour}")
        text.append(f"{threshold_text}  ")
        text.append(f" {verdict} ", style=f"bold reverse {colour}")
        self.update(text)
