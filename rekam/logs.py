"""``rekam logs``: the kit's journal, only Rekam's units, readable at 80 columns.

A technician on a weak SSH link wants the sync daemon's and the UI's lines, not the whole
journal: this asks ``journalctl`` for the ``rekam-*`` units as JSON and prints each entry
as ``MM-DD HH:MM:SS unit  message``, wrapped under itself to the terminal's width, with
warnings and errors marked. Control characters in a message are shown as ``?``: the journal
is data, never terminal commands.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TextIO

from edge.errors import InvalidInput, NotFound

UNITS = "rekam-*"
_LEVELS = {"0": "ERR", "1": "ERR", "2": "ERR", "3": "ERR", "4": "WARN"}
_FIELDS = "MESSAGE,PRIORITY,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER"


def journal_argv(journalctl: str, *, since: str | None, follow: bool, lines: int) -> list[str]:
    argv = [journalctl, "--no-pager", "--quiet", "--output=json", f"--output-fields={_FIELDS}",
            f"--unit={UNITS}"]
    argv += [f"--since={since}"] if since else [f"--lines={lines}"]
    if follow:
        argv.append("--follow")
    return argv


def _text(value: object) -> str:
    if isinstance(value, list):  # journald gives non-UTF-8 messages as a byte array
        value = bytes(v for v in value if isinstance(v, int)).decode("utf-8", "replace")
    text = str(value or "")
    return "".join(ch if ch.isprintable() or ch in "\t\n" else "?" for ch in text)


def render(entry: dict[str, object], width: int) -> list[str]:
    """One journal entry as lines no wider than ``width``."""
    micros = int(str(entry.get("__REALTIME_TIMESTAMP") or 0))
    when = datetime.fromtimestamp(micros / 1_000_000).strftime("%m-%d %H:%M:%S")
    unit = _text(entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "?")
    unit = unit.removesuffix(".service").removeprefix("rekam-")[:9]
    level = _LEVELS.get(str(entry.get("PRIORITY", "6")), "")
    head = f"{when} {unit:<9} " + (f"{level} " if level else "")
    indent = " " * len(f"{when} {unit:<9} ")
    message = _text(entry.get("MESSAGE")).expandtabs(4)
    lines: list[str] = []
    for n, part in enumerate(message.splitlines() or [""]):
        lines += textwrap.wrap(part, width=max(width, 40), initial_indent=head if n == 0
                               else indent, subsequent_indent=indent,
                               break_long_words=True, break_on_hyphens=False) or [head]
    return lines


def entries(stream: Iterable[str]) -> Iterator[dict[str, object]]:
    for raw in stream:
        raw = raw.strip()
        if not raw:
            continue
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a line journalctl did not mean as an entry
        if isinstance(entry, dict):
            yield entry


def show_logs(*, since: str | None, follow: bool, lines: int = 200,
              out: TextIO | None = None, width: int | None = None) -> int:
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        raise NotFound("journalctl not found: rekam logs reads the systemd journal of the kit")
    if lines < 1:
        raise InvalidInput("--lines must be at least 1")
    out = out or sys.stdout
    width = width or shutil.get_terminal_size((80, 24)).columns
    argv = journal_argv(journalctl, since=since, follow=follow, lines=lines)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, encoding="utf-8", errors="replace") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        shown = 0
        try:
            for entry in entries(proc.stdout):
                for line in render(entry, width):
                    print(line, file=out, flush=follow)
                shown += 1
        finally:
            if proc.poll() is None:
                proc.terminate()
        problem = proc.stderr.read().strip()
    # "No data available" is journalctl's word for "no such unit in the journal yet".
    if proc.returncode not in (0, None, -15) and problem and \
            "No data available" not in problem:
        raise InvalidInput(f"journalctl: {problem.splitlines()[0]}")
    if not shown and not follow:
        print("no Rekam entries in the journal" + (f" since {since}" if since else ""),
              file=sys.stderr)
    return 0
