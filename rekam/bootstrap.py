"""The kit's one wiring point: open the home, choose device backends, connect the UI to
the uplink and the readiness checks, hand the lot to the caller.

Every kit process starts here: ``rekam`` (its subcommands open the kit and devices with
:func:`open_kit` and :func:`open_kit_devices`), the operator UI (:func:`ui_services`:
the kit, a function that opens its devices, the one-shot send to HQ and the link check),
``rekam doctor`` (the same checks, and each device opened afresh). Tests call the same
functions with a temporary home and the simulated backend. Imports stay light: the MQTT
client and the device backends load when first used, not when a screen first shows.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config import APPLIANCE_HOME, default_home, production_refusal
from edge.kit import Kit, open_kit
from hal.errors import BackendFallback, SimulatedDeviceRefused
from hal.registry import KitDevices, open_devices, spec_from_env

if TYPE_CHECKING:
    from tui.services import KitServices
    from tui.services_devices import Devices, DevicesFactory


def kit_home(arg: str | None) -> Path:
    return Path(arg) if arg else default_home("REKAM_HOME", APPLIANCE_HOME, "rekam")


def open_kit_devices(kit: Kit, *, sim: bool = False, seed: int = 0,
                     notify: Callable[[str], None] | None = None) -> KitDevices:
    """``sim=True`` is an explicit request (``--sim``); otherwise the config's ``hal`` spec
    (or ``REKAM_HAL``) decides. Simulated devices only on a kit HQ registered for training
    (``--sim`` there; else when the config allows them): a production kit refuses every way
    to them with one line saying why (SimulatedDeviceRefused). A device that falls back to
    the simulated one (:class:`~hal.errors.BackendFallback`) is told as one sentence in the
    kit's language to ``notify`` (default: stderr)."""
    config = kit.config
    try:
        if sim and not config.training:
            raise SimulatedDeviceRefused(production_refusal(config.language), device="all")
        if sim:
            return open_devices("sim", seed=seed, allow_simulated=True)
        spec = spec_from_env(config.hal) if os.environ.get("REKAM_HAL") else config.hal
        try:
            with _fallbacks_worded(config.language, notify or _to_stderr):
                return open_devices(spec, seed=seed, allow_simulated=config.simulation_allowed)
        except SimulatedDeviceRefused as exc:
            if config.training:
                raise
            raise SimulatedDeviceRefused(f"{production_refusal(config.language)}: {exc.device}",
                                         device=exc.device) from None
    except SimulatedDeviceRefused as exc:
        # Someone tried to record fake biometrics here: worth a line in the audit log.
        kit.audit.append("(local)", "simulated_devices_refused", devices=exc.device,
                         training=config.training)
        raise


@contextmanager
def _fallbacks_worded(language: str, notify: Callable[[str], None]) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BackendFallback)
        yield
    for found in caught:
        if isinstance(found.message, BackendFallback):
            notify(fallback_sentence(found.message, language))
        else:  # not ours to word: shown as Python would have
            warnings.showwarning(found.message, found.category, found.filename, found.lineno)


def fallback_sentence(fallback: BackendFallback, language: str) -> str:
    """"Kamera: tidak ditemukan (dicari: kamera USB (/dev/video*), ...); sementara memakai
    perangkat simulasi. Periksa ..." (or English): what was looked for, what to check."""
    from tui.catalogue import LANGUAGES, Catalogue

    cat = Catalogue(language if language in LANGUAGES else "id")
    names = tuple(name for name, _ in fallback.probed)
    return cat.t("check.fallback", label=cat.t(f"check.label.{fallback.kind}"),
                 **cat.probed(fallback.kind, names))


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


def ui_services(kit: Kit, devices: Devices | DevicesFactory,
                cls: type[KitServices] | None = None) -> KitServices:
    """What the operator UI works with: ``kit`` and its devices (open, or a function the UI
    calls in a worker once its first screen is up), the one-shot send to HQ and the check
    of the link to HQ. ``cls`` lets tests fix the host's facts for their snapshots."""
    from sync.link import broker_check
    from sync.send_now import SendNow
    from tui.services import KitServices

    return (cls or KitServices)(kit, devices, sender=SendNow(kit.paths.root),
                                link_check=lambda: broker_check(kit))


__all__ = ["kit_home", "open_devices", "open_kit", "open_kit_devices", "ui_services"]
