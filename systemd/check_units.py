"""``make check-units``: every unit Rekam ships is accepted by systemd, runs a command the
installed ``rekam``/``rekam-hq`` understands, and is hardened.

It installs the units into a throw-away root with ``image-build/install-rekam --units-only
--hq`` (next to a copy of this machine's own systemd units, so targets resolve), points
``/opt/rekam/.venv/bin/rekam`` and ``rekam-hq`` there at this checkout's, and then:

- ``systemd-analyze verify --root=...`` on each unit: ANY line it prints fails the check
  (it exits 0 on typos such as ``Afterr=`` or ``Type=notfy``);
- each ``ExecStart`` of Rekam is parsed by the CLI it names (not run): an option or
  command the CLI no longer has fails;
- ``systemd-analyze security --offline=true``: every long-running unit (not a oneshot)
  must score an exposure of at most 2.0.

Run it as ``python systemd/check_units.py`` from the repo's venv.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
APP_BIN = "/opt/rekam/.venv/bin/"
THRESHOLD = 2.0
EXEC_KEYS = ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecReload", "ExecStop",
             "ExecStopPost", "ExecCondition")


@dataclass
class Unit:
    name: str  # as systemd is asked for it (a template gets instance 1)
    files: list[Path]  # the unit, then its drop-ins

    def values(self, key: str) -> list[str]:
        found: list[str] = []
        for path in self.files:
            for line in path.read_text().splitlines():
                if line.startswith(f"{key}="):
                    value = line.split("=", 1)[1]
                    found = [] if value == "" else [*found, value]  # "Key=" resets a list
        return found

    @property
    def long_running(self) -> bool:
        return (self.values("Type") or ["simple"])[-1] != "oneshot"


def _units(root: Path) -> list[Unit]:
    units = []
    for path in sorted([*(REPO / "systemd").glob("*.service"),
                        *(REPO / "systemd" / "hq").glob("*.service")]):
        name = path.name.replace("@.service", "@1.service")
        units.append(Unit(name, [path]))
    for dropin_dir in sorted((REPO / "systemd" / "hq").glob("*.service.d")):
        base = dropin_dir.name.removesuffix(".d")
        shipped = root / "usr/lib/systemd/system" / base
        if not shipped.exists():
            raise SystemExit(f"check-units: {base} is not installed on this machine; the "
                             f"drop-in {dropin_dir.name} needs it (apt-get install "
                             f"{base.removesuffix('.service')})")
        units.append(Unit(base, [shipped, *sorted(dropin_dir.glob("*.conf"))]))
    return units


def _command(value: str) -> list[str]:
    return shlex.split(value.lstrip("-@:+!"))


def _build_root(root: Path) -> None:
    host_units = Path("/usr/lib/systemd/system")
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True)
    legacy = Path("/lib/systemd/system")
    if legacy.is_dir() and legacy.resolve() != host_units.resolve():
        shutil.copytree(legacy, root / "usr/lib/systemd/system", symlinks=True,
                        dirs_exist_ok=True)
    done = subprocess.run([str(REPO / "image-build/install-rekam"), "--units-only", "--hq",
                           str(root)], capture_output=True, text=True, check=False)
    noise = [ln for ln in done.stderr.splitlines()
             if ln and "no --ssh-keys" not in ln and "authorized_keys" not in ln
             and "installed into" not in ln and not ln.startswith("Creating ")]
    if done.returncode != 0 or noise:
        raise SystemExit(f"check-units: install-rekam failed:\n{done.stdout}{done.stderr}")
    app = root / APP_BIN.lstrip("/")
    app.mkdir(parents=True, exist_ok=True)
    for entry in ("rekam", "rekam-hq"):
        wrapper = app / entry
        wrapper.write_text(f'#!/bin/sh\nexec {VENV_BIN / entry} "$@"\n')
        wrapper.chmod(0o755)


def _bring_binaries(root: Path, unit: Unit) -> list[str]:
    """Copy the host's binaries the unit runs (not Rekam's) into the root, so systemd can
    check they exist and are executable."""
    problems = []
    for key in EXEC_KEYS:
        for value in unit.values(key):
            binary = _command(value)[0]
            if binary.startswith(APP_BIN) or (root / binary.lstrip("/")).exists():
                continue
            if not Path(binary).exists():
                problems.append(f"{unit.name}: {key} runs {binary}, not on this machine")
                continue
            target = root / binary.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(binary).resolve(), target)
    return problems


def _verify(root: Path, unit: Unit) -> list[str]:
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", unit.name],
                          capture_output=True, text=True, check=False)
    printed = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    if done.returncode != 0 and not printed:
        printed = [f"exit {done.returncode}"]
    # Its lines name the unit file they are about (often another unit this one pulls in),
    # so the same line from several verifications is reported once.
    return [f"systemd-analyze verify: {ln}" if unit.name in ln or "/" in ln
            else f"systemd-analyze verify {unit.name}: {ln}" for ln in printed]


def _parse(entry: str, args: list[str]) -> str | None:
    """None when the CLI accepts ``args`` (parsed, not run), else what argparse said."""
    import contextlib
    import io

    if entry == "rekam":
        from rekam.cli import build_parser
    else:
        from hq.cli import build_parser  # type: ignore[assignment]
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as exc:
        return said.getvalue().strip() or f"exit {exc.code}"
    return None


def _commands(unit: Unit) -> list[str]:
    problems = []
    for value in unit.values("ExecStart"):
        argv = _command(value)
        if not argv[0].startswith(APP_BIN):
            continue
        entry = Path(argv[0]).name
        refused = _parse(entry, argv[1:])
        if refused is not None:
            problems.append(f"{unit.name}: `{' '.join(argv[1:])}` is refused by {entry}: "
                            f"{refused}")
    return problems


def _exposure(root: Path, unit: Unit) -> float:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}",
                           "--no-pager", unit.name], capture_output=True, text=True, check=False)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout + done.stderr)
    if not match:
        raise SystemExit(f"check-units: no exposure score for {unit.name}:\n{done.stderr}")
    return float(match[1])


def main() -> int:
    if shutil.which("systemd-analyze") is None:
        print("check-units: systemd-analyze is missing (apt-get install systemd)",
              file=sys.stderr)
        return 1
    problems: list[str] = []
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rekam-units-") as tmp:
        root = Path(tmp)
        _build_root(root)
        for unit in _units(root):
            found = _bring_binaries(root, unit)
            found += _verify(root, unit)
            found += _commands(unit)
            score = _exposure(root, unit)
            mark = "-"
            if unit.long_running:
                mark = "ok" if score <= THRESHOLD else "TOO HIGH"
                if score > THRESHOLD:
                    found.append(f"{unit.name}: exposure {score:.1f} is above {THRESHOLD}")
            rows.append((unit.name, f"{score:.1f}", mark))
            problems += [p for p in found if p not in problems]
    width = max(len(r[0]) for r in rows)
    print(f"{'unit':<{width}}  exposure  (long-running: at most {THRESHOLD})")
    for name, score, mark in rows:
        print(f"{name:<{width}}  {score:>8}  {mark}")
    for line in problems:
        print(f"FAIL: {line}", file=sys.stderr)
    print(f"check-units: {len(rows)} units, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
