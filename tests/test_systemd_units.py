"""The kit's systemd units: systemd accepts every line, and each command they run is one
the ``rekam`` command line understands (a renamed option must not strand a kit)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from rekam.cli import build_parser

UNITS = sorted((Path(__file__).resolve().parent.parent / "systemd").glob("*.service"))


def _values(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit.read_text().splitlines()
            if line.startswith(f"{key}=")]


def test_the_kit_ships_the_sync_daemon_and_the_console_ui() -> None:
    assert {u.name for u in UNITS} >= {"rekam-sync.service", "rekam-tui.service"}
    tui = next(u for u in UNITS if u.name == "rekam-tui.service")
    assert _values(tui, "TTYPath") == ["/dev/tty1"]
    assert _values(tui, "Conflicts") == ["getty@tty1.service"]  # no login prompt under it
    assert _values(tui, "Restart") == ["always"]  # Ctrl+Q brings the login screen back


@pytest.mark.parametrize("unit", [u for u in UNITS if "/rekam " in u.read_text()],
                         ids=lambda u: u.name)
def test_each_command_parses_with_the_rekam_cli(unit: Path) -> None:
    (command,) = _values(unit, "ExecStart")
    argv = shlex.split(command)
    assert argv[0].endswith("/rekam")
    args = build_parser().parse_args(argv[1:])  # SystemExit on an unknown option
    assert args.home == "/var/lib/rekam"
    # Only first boot runs as root (it mounts the stick and names the host).
    assert _values(unit, "User") == ([] if unit.name == "rekam-firstboot.service" else ["rekam"])


def test_the_ui_and_the_sync_daemon_wait_for_first_boot() -> None:
    firstboot = next(u for u in UNITS if u.name == "rekam-firstboot.service")
    assert _values(firstboot, "ConditionPathExists") == ["!/var/lib/rekam/config.json"]
    assert "rekam-tui.service" in _values(firstboot, "Before")[0]
    for name in ("rekam-tui.service", "rekam-sync.service"):
        unit = next(u for u in UNITS if u.name == name)
        assert any("rekam-firstboot.service" in v for v in _values(unit, "After"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_every_line(unit: Path, tmp_path: Path) -> None:
    copy = tmp_path / unit.name  # the kit's venv is not on this machine: any binary will do
    copy.write_text(unit.read_text().replace("/opt/rekam/.venv/bin/rekam", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                          capture_output=True, text=True, check=False)
    problems = [line for line in done.stderr.splitlines() if unit.name in line]
    assert done.returncode == 0 and not problems, done.stderr
