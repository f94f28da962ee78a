"""pyproject.toml and the lock files agree: what `make test` installs (requirements/dev.lock)
and what the kit image installs (requirements/kit-aarch64.lock) pin every dependency
pyproject.toml names, at versions it allows, hash-checked, and the same versions at both
ends. A dependency added to pyproject.toml without `make lock` fails here, in a second."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
DEV_LOCK = ROOT / "requirements" / "dev.lock"
KIT_LOCK = ROOT / "requirements" / "kit-aarch64.lock"
FIX = "pyproject.toml and requirements/*.lock disagree: run `make lock`"
# The kit's environment: Raspberry Pi OS (Debian trixie) on a Pi 4/5.
KIT_ENV = {"python_version": "3.13", "python_full_version": "3.13.5", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}


@dataclass
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: int = 0
    via: list[str] = field(default_factory=list)


def _pins(lock: Path) -> list[Pin]:
    pins: list[Pin] = []
    for line in lock.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line):
            marker = Marker(m[3]) if m[3] else None
            pins.append(Pin(canonicalize_name(m[1]), m[2], marker))
        elif pins and "--hash=sha256:" in line:
            pins[-1].hashes += 1
        elif pins and (v := re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line)) and v[1] != "via":
            pins[-1].via.append(v[1].strip())
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(extras: bool) -> list[Requirement]:
    project = _project()
    reqs = [Requirement(r) for r in project["dependencies"]]
    if extras:  # `make lock` pins every extra but `pi` (that one comes from the Pi's apt)
        for name, group in project.get("optional-dependencies", {}).items():
            if name != "pi":
                reqs += [Requirement(r) for r in group]
    return reqs


def _direct(pins: list[Pin]) -> set[str]:
    return {p.name for p in pins if any(v.startswith("rekam (") for v in p.via)}


@pytest.mark.parametrize(("lock", "extras"), [(DEV_LOCK, True), (KIT_LOCK, False)],
                         ids=["dev", "kit"])
def test_every_dependency_is_pinned_at_a_version_pyproject_allows(lock: Path, extras: bool) -> None:
    pins = _pins(lock)
    assert pins, f"{lock.name} pins nothing"
    for req in _requirements(extras):
        name = canonicalize_name(req.name)
        if lock is KIT_LOCK and req.marker is not None and not req.marker.evaluate(KIT_ENV):
            continue
        found = [p for p in pins if p.name == name]
        assert found, f"{req} is not in {lock.name}: {FIX}"
        for pin in found:
            assert req.specifier.contains(pin.version, prereleases=True), (
                f"{lock.name} pins {name}=={pin.version}, pyproject.toml wants {req}: {FIX}")


@pytest.mark.parametrize(("lock", "extras"), [(DEV_LOCK, True), (KIT_LOCK, False)],
                         ids=["dev", "kit"])
def test_the_lock_holds_no_dependency_pyproject_dropped(lock: Path, extras: bool) -> None:
    wanted = {canonicalize_name(r.name) for r in _requirements(extras)}
    stale = _direct(_pins(lock)) - wanted
    assert not stale, f"{lock.name} still pins {sorted(stale)} for rekam: {FIX}"


@pytest.mark.parametrize("lock", [DEV_LOCK, KIT_LOCK], ids=["dev", "kit"])
def test_every_pin_is_hash_checked(lock: Path) -> None:
    unhashed = [p.name for p in _pins(lock) if p.hashes == 0]
    assert not unhashed, f"{lock.name}: no hash for {unhashed}: {FIX}"


def test_the_kit_runs_what_the_tests_ran() -> None:
    dev: dict[str, set[str]] = {}
    for pin in _pins(DEV_LOCK):
        dev.setdefault(pin.name, set()).add(pin.version)
    for pin in _pins(KIT_LOCK):
        assert pin.version in dev.get(pin.name, set()), (
            f"the kit would get {pin.name}=={pin.version}, the tests run "
            f"{sorted(dev.get(pin.name, set())) or 'none'}: {FIX}")


def test_the_kit_lock_leaves_out_headquarters_and_development_tools() -> None:
    project = _project()
    kit_only = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    elsewhere = {canonicalize_name(Requirement(r).name)
                 for name, group in project.get("optional-dependencies", {}).items()
                 for r in group} - kit_only
    shipped = {p.name for p in _pins(KIT_LOCK)}
    dev_pins = {p.name: p for p in _pins(DEV_LOCK)}
    # Only what nothing on the kit needs: a tool like pytest may still come in through a
    # kit dependency, so check the extras' own entries that no kit package pulls in.
    leaked = {n for n in elsewhere & shipped
              if all(v.startswith("rekam (") for v in dev_pins[n].via)}
    assert not leaked, f"the kit image would carry {sorted(leaked)}: {FIX}"
