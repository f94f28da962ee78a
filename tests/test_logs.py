"""``rekam logs``: Rekam's journal entries only, wrapped to 80 columns, with no control
characters reaching the technician's terminal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rekam.cli import main as kit_main
from rekam.logs import render

ENTRIES = [
    {"__REALTIME_TIMESTAMP": "1795000000000000", "_SYSTEMD_UNIT": "rekam-sync.service",
     "PRIORITY": "6", "MESSAGE": "connected to mqtts://hq.bekasikota.go.id:8883 as kit-01"},
    {"__REALTIME_TIMESTAMP": "1795000060000000", "_SYSTEMD_UNIT": "rekam-sync.service",
     "PRIORITY": "4", "MESSAGE": "cannot connect to mqtts://hq.bekasikota.go.id:8883: timed "
                                 "out (a missing or refused client certificate shows up as "
                                 "a timeout; see the mqtt log)"},
    {"__REALTIME_TIMESTAMP": "1795000120000000", "_SYSTEMD_UNIT": "rekam-tui.service",
     "PRIORITY": "3", "MESSAGE": "bad \x1b]0;pwned\x07 title"},
]


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journalctl on PATH that records its arguments and prints our entries as JSON."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (tmp_path / "entries.json").write_text("\n".join(json.dumps(e) for e in ENTRIES) + "\n")
    fake = bindir / "journalctl"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/argv\n'
                    f'cat {tmp_path}/entries.json\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("COLUMNS", "80")
    return tmp_path


def test_only_rekam_units_are_asked_for_and_lines_fit_80_columns(journal, capsys) -> None:
    assert kit_main(["logs", "--since", "1h ago"]) == 0
    argv = (journal / "argv").read_text().splitlines()
    assert "--unit=rekam-*" in argv and "--since=1h ago" in argv and "--follow" not in argv
    out = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in out)
    assert out[0].endswith("sync      connected to mqtts://hq.bekasikota.go.id:8883 as kit-01")
    warn = [ln for ln in out if "WARN" in ln]
    assert len(warn) == 1 and out[out.index(warn[0]) + 1].startswith(" " * 25)  # wrapped


def test_control_characters_never_reach_the_terminal(journal, capsys) -> None:
    assert kit_main(["logs", "-n", "10"]) == 0
    assert "--lines=10" in (journal / "argv").read_text().splitlines()
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "ERR bad ?]0;pwned? title" in out


def test_follow_asks_journalctl_to_follow(journal, capsys) -> None:
    assert kit_main(["logs", "-f"]) == 0
    assert "--follow" in (journal / "argv").read_text().splitlines()


def test_without_a_journal_it_says_so_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert kit_main(["logs"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: journalctl not found: rekam logs reads the systemd journal of the kit")


def test_a_multi_line_message_keeps_its_lines_under_the_header() -> None:
    lines = render({"__REALTIME_TIMESTAMP": "0", "_SYSTEMD_UNIT": "rekam-firstboot.service",
                    "MESSAGE": "first\nsecond"}, 80)
    assert lines[0].endswith("firstboot first") and lines[1].strip() == "second"


def test_a_journal_without_rekam_units_says_so(tmp_path, monkeypatch, capsys) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "journalctl"  # what journalctl says when no unit matches the pattern
    fake.write_text('#!/bin/sh\necho "Failed to add filter for units: No data available" >&2\n'
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    assert kit_main(["logs"]) == 0
    assert capsys.readouterr().err.strip() == "no Rekam entries in the journal"
