"""Fixtures for the UI tests; the world they run in is built by :mod:`tui_world`."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tui_world import NOW, FixedServices, Rig, build_kit

from edge.clock import FakeClock
from edge.kit import Kit
from edge.operators import KdfParams
from hal.registry import open_devices
from rekam.bootstrap import ui_services
from tui.app import RekamApp
from tui.services import KitServices


@pytest.fixture(scope="session")
def kit_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kit(tmp_path_factory.mktemp("tui-world"))


@pytest.fixture
def rig_factory(kit_template: Path, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(*, language: str = "id", fixed: bool = True, **kwargs: Any) -> Rig:
        home = tmp_path / f"kit{len(made)}"
        shutil.copytree(kit_template, home)
        clock = FakeClock(NOW)
        kit = Kit(home, clock=clock, kdf=KdfParams.FAST_FOR_TESTS)
        devices = open_devices("sim", seed=1, allow_simulated=True)
        services = ui_services(kit, devices, FixedServices if fixed else KitServices)
        app = RekamApp(services, language=language, status_every=0,
                       theme="textual-dark", **kwargs)
        rig = Rig(home, kit, devices, clock, app)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.app.services.close()
        rig.devices.close()
        rig.kit.close()
