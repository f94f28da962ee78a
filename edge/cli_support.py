"""What both command lines share: one-line errors instead of tracebacks, PIN prompts, JSON,
and output that a terminal only displays.

Diagnostics go to stderr; results to stdout, so ``--json`` output pipes cleanly. While a
command runs (:func:`run`), whatever it writes to a terminal goes through
:class:`TerminalText`: a resident's name, a QR's text or an error that quotes a CSV cell may
hold an ESC or a BEL, which would otherwise clear the screen, retitle the window or ring.
Output to a file or a pipe is left byte for byte as the command wrote it.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from edge.errors import InvalidInput, RekamError
from edge.text import for_terminal

EXIT_ERROR = 1
EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line and exits 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


SubcommandAdder = Callable[..., argparse.ArgumentParser]


def command_parser(
    prog: str, description: str, home_help: str
) -> tuple[argparse.ArgumentParser, SubcommandAdder]:
    """A top-level parser and an ``add(name, handler, help, parent=...)`` helper that gives
    every subcommand ``--home`` (so it works before or after the command) and its handler."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help=home_help)
    parser = OneLineParser(prog=prog, description=description, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OneLineParser)

    def add(name: str, handler: Callable[[argparse.Namespace], int] | None, help: str,
            parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help,
                                                       parents=[common])
        p.set_defaults(handler=handler)
        return p

    return parser, add


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


class TerminalText:
    """A text stream to a terminal that writes control and invisible characters as escapes
    (``\\x1b``, ``\\u202e``; see :func:`edge.text.for_terminal`); the rest is the stream's."""

    def __init__(self, stream: Any) -> None:
        self.terminal = stream

    def write(self, text: str) -> int:
        self.terminal.write(for_terminal(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.terminal, name)


def terminal(stream: Any) -> Any:
    """The stream itself beneath a :class:`TerminalText`: for a progress bar, whose own
    escape sequences are the point (what it shows of data must be made safe first)."""
    return stream.terminal if isinstance(stream, TerminalText) else stream


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


@contextlib.contextmanager
def terminal_output() -> Iterator[None]:
    """stdout and stderr, where they are terminals, through :class:`TerminalText`."""
    saved = sys.stdout, sys.stderr
    if _is_terminal(sys.stdout) and not isinstance(sys.stdout, TerminalText):
        sys.stdout = TerminalText(sys.stdout)
    if _is_terminal(sys.stderr) and not isinstance(sys.stderr, TerminalText):
        sys.stderr = TerminalText(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def run(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a command; every expected failure becomes one line on stderr and exit 1. What it
    writes to a terminal shows data's control characters instead of obeying them."""
    with terminal_output():
        return _run(handler, args)


def _run(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    try:
        return handler(args) or 0
    except RekamError as exc:
        return fail(str(exc))
    except FileNotFoundError as exc:
        return fail(f"no such file: {exc.filename}")
    except PermissionError as exc:  # a file's mode, or a refusal that says why itself
        return fail(f"permission denied: {exc.filename}" if exc.filename else str(exc))
    except IsADirectoryError as exc:
        return fail(f"{exc.filename} is a directory, not a file")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head, less...: the reader has had enough
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # device errors and the like: still one line, never a traceback
        name = type(exc).__name__
        code = getattr(exc, "code", None)
        if isinstance(code, str):
            return fail(f"{exc} ({code})")
        if os.environ.get("REKAM_DEBUG"):
            raise
        return fail(f"unexpected {name}: {exc} (set REKAM_DEBUG=1 for details)")


def read_secret(prompt: str, env_var: str, *, confirm: bool = False) -> str:
    """A PIN or code from the environment (scripts) or typed without echo (people)."""
    value = os.environ.get(env_var)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InvalidInput(f"{prompt.rstrip(': ')} needed: type it in a terminal or set {env_var}")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != first:
        raise InvalidInput("the two entries differ; nothing was changed")
    return first


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


def print_json(value: Any) -> None:
    print(json.dumps(value, default=_default, ensure_ascii=False, indent=2))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
