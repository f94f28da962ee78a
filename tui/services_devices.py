"""The kit's devices as the UI holds them, one part of :class:`tui.services.KitServices`.

The devices arrive open, or as a function the app calls in a worker once its first screen
is up (so the screen appears before the device backends load); calls that need them wait
for them. A fault seen during use (a capture or a print that failed) shows in the status
bar until the device works again. No Textual import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from edge.workflow import CaptureDevices
from hal.errors import DeviceNotFound, code_of
from hal.ports import CodeReader, Device, ReceiptPrinter
from hal.types import DeviceKind
from tui.views import DeviceState

STATUS_DEVICES = (DeviceKind.CAMERA, DeviceKind.FINGERPRINT, DeviceKind.IRIS,
                  DeviceKind.SIGNATURE, DeviceKind.CODE_READER, DeviceKind.RECEIPT_PRINTER)
"""The devices the status bar shows, in its order (the A4 printer and the lights have no
place on an 80-column line)."""


class Devices(CaptureDevices, Protocol):
    """What the UI needs of ``hal.registry.KitDevices`` (the bootstrap builds it): the
    workflow's capture devices, and the code reader and receipt printer."""

    @property
    def code_reader(self) -> CodeReader: ...
    @property
    def receipt_printer(self) -> ReceiptPrinter: ...
    @property
    def sim(self) -> Any: ...


DevicesFactory = Callable[[], Devices]
"""Opens the kit's devices; the app calls it in a worker once the login screen is up, so
the screen appears before the device backends (numpy, OpenCV, vendor libraries) load."""

DEVICE_WAIT = 60.0


class DeviceServices:
    """Opening, waiting for and checking the kit's devices (:class:`Devices`), and the
    faults seen while using them."""

    def __init__(self, devices: Devices | DevicesFactory) -> None:
        self._devices: Devices | None = None
        self._factory: DevicesFactory | None = None
        self._devices_ready = threading.Event()
        self._devices_error: BaseException | None = None
        if callable(devices):  # a factory (KitDevices itself is not callable)
            self._factory = devices
        else:
            self._devices = devices
            self._devices_ready.set()
        self._device_faults: dict[str, str] = {}

    # --- devices ------------------------------------------------------------------------------

    def open_devices(self) -> Devices:
        """Open the devices now (a worker calls this once, at start); raises what the
        bootstrap raised, e.g. a production kit refusing simulated devices."""
        if self._devices is None and self._factory is not None:
            try:
                self._devices = self._factory()
            except BaseException as exc:
                self._devices_error = exc
                raise
            finally:
                self._devices_ready.set()
        assert self._devices is not None
        return self._devices

    @property
    def devices_ready(self) -> bool:
        return self._devices is not None

    @property
    def devices(self) -> Devices:
        """The devices, waiting (in a worker) for them to finish opening."""
        if self._devices is None:
            self._devices_ready.wait(DEVICE_WAIT)
        if self._devices is None:
            if self._devices_error is not None:
                raise self._devices_error
            raise DeviceNotFound("the kit's devices are not open yet")
        return self._devices

    def close_devices(self) -> None:
        devices, self._devices = self._devices, None
        close = getattr(devices, "close", None)
        if close is not None and self._factory is not None:  # we opened them: we close them
            close()

    def device(self, kind: str) -> Device:
        dev: Device = getattr(self.devices, kind)
        return dev

    def note_device_fault(self, kind: str, code: str) -> None:
        """A capture or print failed: show it in the status bar until the device works."""
        if kind:
            self._device_faults[kind] = code

    def note_device_ok(self, kind: str) -> None:
        self._device_faults.pop(kind, None)

    def device_states(self, *, self_test: bool = True) -> tuple[DeviceState, ...]:
        if not self.devices_ready:
            return ()
        states = []
        for kind in STATUS_DEVICES:
            try:
                dev = self.device(kind)
            except AttributeError:
                states.append(DeviceState(kind, False, "missing"))
                continue
            info = dev.info
            ok, detail = True, ""
            if self_test:
                try:
                    result = dev.self_test()
                    ok, detail = result.ok, result.detail
                except Exception as exc:  # a self-test must never take the status bar down
                    ok, detail = False, code_of(exc)
            if ok and kind in self._device_faults:
                # A device that failed during use but self-tests fine: trust the self-test
                # for unplug faults (it checks presence), keep printer faults (paper).
                fault = self._device_faults[kind]
                if fault in ("paper_out", "printer_offline"):
                    ok, detail = False, fault
                else:
                    self._device_faults.pop(kind, None)
            states.append(DeviceState(kind, ok, detail, info.model, info.serial, info.firmware,
                                      info.backend))
        return tuple(states)
