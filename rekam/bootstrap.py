"""The kit's one bootstrap: open the home, choose device backends, hand both to the caller.

Tests call the same functions with a temporary home and the simulated backend.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.config import APPLIANCE_HOME, default_home
from edge.kit import Kit, open_kit
from hal.registry import KitDevices, open_devices, spec_from_env


def kit_home(arg: str | None) -> Path:
    return Path(arg) if arg else default_home("REKAM_HOME", APPLIANCE_HOME, "rekam")


def open_kit_devices(kit: Kit, *, sim: bool = False, seed: int = 0) -> KitDevices:
    """``sim=True`` is an explicit request (``--sim``); otherwise the config's ``hal`` spec
    (or ``REKAM_HAL``) decides, and simulated devices are refused unless the config allows."""
    if sim:
        return open_devices("sim", seed=seed, allow_simulated=True)
    spec = spec_from_env(kit.config.hal) if os.environ.get("REKAM_HAL") else kit.config.hal
    return open_devices(spec, seed=seed, allow_simulated=kit.config.allow_simulated)


__all__ = ["kit_home", "open_devices", "open_kit", "open_kit_devices"]
