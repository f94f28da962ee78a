"""Progress of long HQ work (imports, the vault, exports): a Rich progress bar with counts
and time left when stderr is a terminal, a plain summary line every few seconds when it is
not (a log, a pipe, systemd's journal)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO, Any

from edge.cli_support import terminal
from edge.text import for_terminal, visible


class Progress:
    """``with Progress("importing x.csv", total=size, unit="rows") as p: p.update(done,
    count=rows)``: ``done`` is measured against ``total`` (bytes of a file, packets...);
    ``count`` is what people read (rows so far). ``p.print`` writes a line above the bar."""

    def __init__(self, description: str, total: float | None, *, unit: str = "rows",
                 stream: IO[str] | None = None, interval: float = 10.0) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interval = interval
        self.done = 0.0
        self.count = 0
        self._rich: Any = None
        self._task: Any = None
        self._started = time.monotonic()
        self._last_line = self._started

    def __enter__(self) -> Progress:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("{task.description}", markup=False), BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[count]:>12,} " + self.unit), TimeElapsedColumn(),
                TextColumn("left"), TimeRemainingColumn(),
                # The terminal itself: the bar's escape sequences are the point; what it
                # shows of data (a file's name, a row's fault) is made safe here.
                console=Console(file=terminal(self.stream)), transient=False)
            self._rich.__enter__()
            self._task = self._rich.add_task(visible(self.description), total=self.total,
                                             count=0)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.__exit__(kind, exc, tb)
        elif kind is None and time.monotonic() - self._started >= self.interval:
            self._line(final=True)

    def update(self, done: float, *, count: int | None = None,
               total: float | None = None) -> None:
        self.done = done
        if count is not None:
            self.count = count
        if total is not None:
            self.total = total
        if self._rich is not None:
            self._rich.update(self._task, completed=done, count=self.count, total=self.total)
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self._line()

    def print(self, message: str) -> None:
        if self._rich is not None:
            self._rich.console.print(for_terminal(message), markup=False, highlight=False)
        else:
            print(message, file=self.stream)

    def _line(self, *, final: bool = False) -> None:
        elapsed = time.monotonic() - self._started
        parts = [f"{self.description}: {self.count:,} {self.unit}"]
        if self.total:
            share = min(self.done / self.total, 1.0)
            parts.append(f"{share:.0%}")
            if share > 0 and not final:
                parts.append(f"~{elapsed * (1 - share) / share:.0f} s left")
        parts.append(f"{elapsed:.0f} s")
        print(", ".join(parts), file=self.stream, flush=True)
