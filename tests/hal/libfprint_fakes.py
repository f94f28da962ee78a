"""A fake libfprint: the FPrint, Gio and GLib namespaces PyGObject gives, over an image
reader that shows the simulated subject's finger, with test verbs for its failures."""

from __future__ import annotations

import threading
from collections import deque
from types import SimpleNamespace
from typing import Any

import cv2
from hal_fakes import SUBJECT

from hal.synth import rng_for
from hal.types import Finger


class FakeGLibError(Exception):
    """PyGObject's GLib.Error: a message, a domain name and a code."""

    def __init__(self, message: str, domain: str, code: int) -> None:
        super().__init__(message)
        self.message, self.domain, self.code = message, domain, int(code)


class FakeCancellable:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class FakeFPrintImage:
    def __init__(self, gray: Any, ppmm: float) -> None:
        self._gray, self._ppmm = gray, ppmm

    def get_width(self) -> int:
        return int(self._gray.shape[1])

    def get_height(self) -> int:
        return int(self._gray.shape[0])

    def get_ppmm(self) -> float:
        return self._ppmm

    def get_data(self) -> bytes:
        return self._gray.tobytes()


class FakeFPrintDevice:
    """An image reader as libfprint presents it. Test verbs: ``fail_next(domain, code)``
    (the next call raises that GLib error), ``fail_always(domain, code)``, ``no_finger()``
    (captures wait until cancelled); ``calls`` records what the adapter did."""

    def __init__(self, fprint: Any, *, name: str = "Fake U.are.U 4500", ppi: float = 500.0,
                 scan_type: int = 1, capture: bool = True,
                 window: tuple[int, int] | None = None) -> None:
        self._fp = fprint
        self.name, self.ppmm, self.scan_type = name, ppi / 25.4, scan_type
        self.can_capture = capture
        self.window = window  # (height, width) at 500 ppi the sensor sees, centred
        self.opened = False
        self.finger = True
        self.failures: deque[tuple[str, int]] = deque()
        self.failing: tuple[str, int] | None = None
        self.calls: list[str] = []
        self.shots = 0

    # verbs
    def fail_next(self, domain: str, code: int, times: int = 1) -> None:
        self.failures.extend([(domain, int(code))] * times)

    def fail_always(self, domain: str, code: int) -> None:
        self.failing = (domain, int(code))

    def no_finger(self) -> None:
        self.finger = False

    def _maybe_fail(self) -> None:
        if self.failures or self.failing:
            domain, code = self.failures.popleft() if self.failures else self.failing
            raise FakeGLibError(f"fake {domain} {code}", domain, code)

    # the FPrint.Device API
    def get_name(self) -> str:
        return self.name

    def get_driver(self) -> str:
        return "uru4000"

    def get_device_id(self) -> str:
        return "fake-0001"

    def get_scan_type(self) -> int:
        return self.scan_type

    def has_feature(self, feature: int) -> bool:
        return self.can_capture if feature == self._fp.DeviceFeature.CAPTURE else False

    def supports_capture(self) -> bool:
        return self.can_capture

    def is_open(self) -> bool:
        return self.opened

    def open_sync(self, cancellable: Any) -> bool:
        self.calls.append("open")
        self._maybe_fail()
        if self.opened:
            raise FakeGLibError("already open", "fp-device-error-quark",
                                self._fp.DeviceError.ALREADY_OPEN)
        self.opened = True
        return True

    def close_sync(self, cancellable: Any) -> bool:
        self.calls.append("close")
        self._maybe_fail()
        self.opened = False
        return True

    def capture_sync(self, wait_for_finger: bool, cancellable: Any) -> FakeFPrintImage:
        self.calls.append("capture")
        if not self.opened:
            raise FakeGLibError("not open", "fp-device-error-quark",
                                self._fp.DeviceError.NOT_OPEN)
        self._maybe_fail()
        if not self.finger:
            cancellable.wait(10.0)
            raise FakeGLibError("Operation was cancelled", "g-io-error-quark",
                                FakeGio.IOErrorEnum.CANCELLED)
        self.shots += 1
        gray = SUBJECT.finger(Finger.LEFT_INDEX, rng_for(7, "libfprint", self.shots), None)
        if self.window is not None:
            (h, w), (fh, fw) = gray.shape, self.window
            gray = gray[(h - fh) // 2:(h + fh) // 2, (w - fw) // 2:(w + fw) // 2]
        factor = self.ppmm * 25.4 / 500.0 if self.ppmm > 0 else 1.0  # 0: "unknown"
        if abs(factor - 1) > 1e-6:
            gray = cv2.resize(gray, (round(gray.shape[1] * factor),
                                     round(gray.shape[0] * factor)))
        return FakeFPrintImage(gray, self.ppmm)


class _DeviceError:
    GENERAL, NOT_SUPPORTED, NOT_OPEN, ALREADY_OPEN, BUSY, PROTO = 0, 1, 2, 3, 4, 5
    REMOVED = 0x100


class _DeviceRetry:
    GENERAL, TOO_SHORT, CENTER_FINGER, REMOVE_FINGER = 0, 1, 2, 3


FakeGio = SimpleNamespace(
    Cancellable=FakeCancellable,
    IOErrorEnum=SimpleNamespace(FAILED=0, NOT_FOUND=1, PERMISSION_DENIED=14, CANCELLED=19,
                                TIMED_OUT=24, BUSY=26))
FakeGLib = SimpleNamespace(Error=FakeGLibError)


class FakeFPrint:
    """The FPrint namespace: ``Context().get_devices()`` lists ``devices``."""

    DeviceError = _DeviceError
    DeviceRetry = _DeviceRetry
    ScanType = SimpleNamespace(SWIPE=0, PRESS=1)
    DeviceFeature = SimpleNamespace(NONE=0, CAPTURE=1 << 0, IDENTIFY=1 << 1)

    def __init__(self, devices: int = 1, **kwargs: Any) -> None:
        self.devices = [FakeFPrintDevice(self, **kwargs) for _ in range(devices)]
        outer = self

        class Context:
            def get_devices(self) -> list[FakeFPrintDevice]:
                return list(outer.devices)

        self.Context = Context


def fake_libfprint(**kwargs: Any) -> tuple[Any, FakeFPrint]:
    """An :class:`hal.backends.libfprint.FprintApi` over fakes, and its FPrint namespace."""
    from hal.backends.libfprint import FprintApi

    fprint = FakeFPrint(**kwargs)
    return FprintApi(fprint, FakeGio, FakeGLib), fprint

