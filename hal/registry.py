"""Choosing a backend for each device of the kit (after gpiozero's pin-factory fallback).

A *spec* says which backend each device uses:

* ``"sim"`` — every device simulated (one :class:`~hal.backends.sim_control.SimulationControl`);
* ``"auto"`` — for each device, the real backends in :data:`AUTO_ORDER` are probed in turn;
  a device none of them finds falls back to the simulated one, with a
  :class:`~hal.errors.BackendFallback` warning saying what was probed, but only when
  ``allow_simulated`` (else :class:`~hal.errors.SimulatedDeviceRefused`);
* a mapping, or its text form ``"camera=opencv,fingerprint=sbi"``: the named backend for
  those devices (no fallback: a named backend that fails raises), ``"auto"`` for the rest.
  ``"*=sim"`` sets the default for unnamed devices.

Backend modules are imported only when chosen or probed (:data:`BACKENDS`), so a kit
without, say, picamera2 never imports it. The kit's bootstrap reads the spec from its
configuration or from ``REKAM_HAL`` (:func:`spec_from_env`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from hal.errors import (
    BackendFallback,
    BackendUnavailable,
    DeviceNotFound,
    SimulatedDeviceRefused,
)
from hal.ports import (
    Camera,
    CodeReader,
    Device,
    DocumentPrinter,
    FingerprintScanner,
    Indicators,
    IrisScanner,
    ReceiptPrinter,
    SignaturePad,
)
from hal.types import DeviceKind

if TYPE_CHECKING:
    from hal.backends.sim_control import SimulationControl

KINDS: tuple[str, ...] = tuple(DeviceKind)
"""Every device kind, as the spec's keys (:class:`~hal.types.DeviceKind`)."""

# kind -> backend name -> "module:factory". A factory takes no arguments and returns an
# open device or raises BackendUnavailable / DeviceNotFound. ``auto`` probes each kind's
# backends in the order written here (certified SBI devices before libfprint's consumer
# readers).
BACKENDS: dict[str, dict[str, str]] = {
    "camera": {"picamera2": "hal.backends.picamera2_camera:Picamera2Camera.open",
               "opencv": "hal.backends.opencv_camera:OpenCVCamera.open"},
    "fingerprint": {"sbi": "hal.backends.sbi:SbiFingerprintScanner.open",
                    "libfprint": "hal.backends.libfprint:LibfprintScanner.open"},
    "iris": {"sbi": "hal.backends.sbi:SbiIrisScanner.open"},
    "signature": {"evdev": "hal.backends.evdev_signature:EvdevSignaturePad.open"},
    "code_reader": {"evdev": "hal.backends.evdev_reader:EvdevCodeReader.open"},
    "receipt_printer": {"escpos": "hal.backends.escpos_receipt:EscposReceiptPrinter.open"},
    "document_printer": {"cups": "hal.backends.cups_printer:CupsDocumentPrinter.open"},
    "indicators": {"gpiozero": "hal.backends.gpio:GpioIndicators.open"},
}
AUTO_ORDER: dict[str, tuple[str, ...]] = {kind: tuple(b) for kind, b in BACKENDS.items()}


@dataclass
class KitDevices:
    """One device of each kind, with the simulation control when any is simulated."""

    camera: Camera
    fingerprint: FingerprintScanner
    iris: IrisScanner
    signature: SignaturePad
    code_reader: CodeReader
    receipt_printer: ReceiptPrinter
    document_printer: DocumentPrinter
    indicators: Indicators
    sim: SimulationControl | None = None

    def devices(self) -> Iterator[tuple[str, Device]]:
        for f in fields(self):
            if f.name in KINDS:
                yield f.name, getattr(self, f.name)

    def simulated_kinds(self) -> list[str]:
        return [kind for kind, device in self.devices() if device.info.simulated]

    def close(self) -> None:
        """Close every device (idempotent); the first error is raised after all tried."""
        first: BaseException | None = None
        for _, device in self.devices():
            try:
                device.close()
            except Exception as exc:  # keep closing the rest
                first = first or exc
        if first is not None:
            raise first

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def parse_spec(text: str) -> str | dict[str, str]:
    """``"sim"``, ``"auto"``, or ``"camera=opencv, fingerprint=sbi"`` as a mapping."""
    text = text.strip()
    if text in ("sim", "auto"):
        return text
    if not text:
        raise ValueError("an empty device spec; use sim, auto or kind=backend,...")
    spec: dict[str, str] = {}
    for part in text.split(","):
        kind, sep, backend = (p.strip() for p in part.partition("="))
        if not sep or not kind or not backend:
            raise ValueError(f"bad device spec item {part.strip()!r}; expected kind=backend")
        spec[kind] = backend
    _check_mapping(spec)
    return spec


def spec_from_env(default: str | Mapping[str, str] = "auto", *,
                  environ: Mapping[str, str] | None = None) -> str | dict[str, str]:
    """The spec in ``REKAM_HAL`` if set, else ``default``; parsed either way."""
    env = os.environ if environ is None else environ
    value = env.get("REKAM_HAL", "").strip()
    if value:
        return parse_spec(value)
    if isinstance(default, str):
        return parse_spec(default)
    _check_mapping(default)
    return dict(default)


def _check_mapping(spec: Mapping[str, str]) -> None:
    for kind, backend in spec.items():
        if kind != "*" and kind not in KINDS:
            raise ValueError(f"unknown device {kind!r}; one of {', '.join(KINDS)}")
        choices = {"sim", "auto"} | set(BACKENDS.get(kind, {}))
        if kind == "*":
            choices = {"sim", "auto"}
        if backend not in choices:
            raise ValueError(f"unknown backend {backend!r} for {kind}; one of {sorted(choices)}")


def _load(target: str) -> Callable[[], Device]:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    factory: Callable[[], Device] = obj
    return factory


def open_backend(kind: str, backend: str) -> Device:
    """Open one real backend by name (imports its module now)."""
    try:
        target = BACKENDS[kind][backend]
    except KeyError:
        raise ValueError(f"no backend {backend!r} for {kind}") from None
    try:
        factory = _load(target)
    except ImportError as exc:
        raise BackendUnavailable(f"{kind} backend {backend}: {exc}", device=kind) from exc
    return factory()


def open_devices(
    spec: str | Mapping[str, str] = "sim",
    *,
    seed: int = 0,
    allow_simulated: bool = True,
    delay: float = 0.0,
) -> KitDevices:
    """Open one device of each kind as ``spec`` says (see the module docstring).

    ``seed`` and ``delay`` go to simulated devices. Raises SimulatedDeviceRefused naming
    every device that would be simulated when ``allow_simulated`` is False.
    """
    wanted: dict[str, str]
    if isinstance(spec, str):
        parsed = parse_spec(spec)
        wanted = {k: parsed for k in KINDS} if isinstance(parsed, str) else _expand(parsed)
    else:
        _check_mapping(spec)
        wanted = _expand(spec)

    explicit_sim = [k for k in KINDS if wanted[k] == "sim"]
    if explicit_sim and not allow_simulated:
        raise SimulatedDeviceRefused(
            f"simulated devices are not allowed on this kit: {', '.join(explicit_sim)}",
            device=",".join(explicit_sim))

    opened: dict[str, Device] = {}
    fallback: list[str] = []
    try:
        for kind in KINDS:
            backend = wanted[kind]
            if backend == "sim":
                continue
            if backend != "auto":
                opened[kind] = open_backend(kind, backend)
                continue
            probed: list[tuple[str, str]] = []
            for name in AUTO_ORDER[kind]:
                try:
                    opened[kind] = open_backend(kind, name)
                    break
                except (BackendUnavailable, DeviceNotFound) as exc:
                    probed.append((name, str(exc)))
            else:
                fallback.append(kind)
                if allow_simulated:
                    warnings.warn(BackendFallback(kind, tuple(probed)), stacklevel=2)
        if fallback and not allow_simulated:
            raise SimulatedDeviceRefused(
                f"no real device found, and simulated devices are not allowed, for: "
                f"{', '.join(fallback)}", device=",".join(fallback))
    except BaseException:
        for device in opened.values():
            _close_quietly(device)
        raise

    sim = None
    simulated = [k for k in KINDS if k not in opened]
    if simulated:
        from hal.backends.sim import simulated_devices
        from hal.backends.sim_control import SimulationControl

        sim = SimulationControl(seed)
        made = simulated_devices(sim, delay=delay, kinds=simulated)
        opened.update(made)
    return KitDevices(**{k: opened[k] for k in KINDS}, sim=sim)  # type: ignore[arg-type]


def _expand(spec: Mapping[str, str]) -> dict[str, str]:
    default = spec.get("*", "auto")
    return {k: spec.get(k, default) for k in KINDS}


def _close_quietly(device: Device) -> None:
    # a vendor library failing to close must not hide the error that got us here
    with contextlib.suppress(Exception):
        device.close()
