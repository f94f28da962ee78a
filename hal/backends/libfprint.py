"""Fingerprint readers that libfprint 2 drives, through PyGObject (``gi``, ``FPrint`` 2.0).

libfprint supports consumer readers (laptop and USB login sensors): many are *swipe*
sensors whose image is stitched from strips, the rest small *press* sensors, and none is
certified for registration as SBI devices are. The adapter says so in its
:class:`~hal.types.DeviceInfo` and adds the warning ``small_sensor`` when an image covers
less than a flat-finger area (12.8 x 16.5 mm); the quality gate then judges each image like
any other. Match-on-chip readers (most Goodix, Synaptics) deliver no image and are skipped.

Images come from ``capture_sync(wait_for_finger=True, cancellable)``: 8-bit gray, ridges
dark (libfprint normalises inverted and flipped sensors), at ``get_ppmm()`` pixels per
millimetre, which this adapter resamples to 500 ppi. A timer cancels the capture at the
timeout. ``FP_DEVICE_RETRY`` errors (swipe too short, finger off centre) ask the resident
to try again and are retried until the timeout. GLib errors map to :mod:`hal.errors`.

PyGObject and the typelib are imported only in :func:`load_api`; the adapter takes the
API as an object (:class:`FprintApi`), so the tests hand it a fake ``FPrint`` module.
"""

from __future__ import annotations

import math
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.encode import FINGER_PPI, encode_fingerprint
from hal.errors import (
    BackendUnavailable,
    CaptureTimeout,
    DeviceBusy,
    DeviceClosed,
    DeviceNotFound,
    DeviceUnplugged,
    HalError,
)
from hal.ports import FingerprintScanner
from hal.quality import fingerprint_quality
from hal.types import Capture, DeviceInfo, Finger, ImageFormat, Modality, Quality, SelfTestResult

MM_PER_INCH = 25.4
FLAT_FINGER_MM = (12.8, 16.5)  # width x height of a flat single finger (FAP 10 minimum)
PPI_TOLERANCE = 0.02  # closer to 500 ppi than this: used as it is

# GError domains, by the name PyGObject gives them (``GLib.Error.domain``)
FP_ERROR = "fp-device-error-quark"
FP_RETRY = "fp-device-retry-quark"
IO_ERROR = "g-io-error-quark"
USB_ERROR = "g-usb-device-error-quark"
# GUsbDeviceError codes (GUsb's typelib is not always installed, so they are spelled out)
USB_IO, USB_TIMED_OUT, USB_NO_DEVICE, USB_CANCELLED, USB_DENIED, USB_BUSY = 1, 2, 4, 7, 9, 10
RETRY_REASONS = {0: "general", 1: "too_short", 2: "center_finger", 3: "remove_finger"}


@dataclass(frozen=True)
class FprintApi:
    """The three GI namespaces the adapter uses (real ones from :func:`load_api`)."""

    FPrint: Any
    Gio: Any
    GLib: Any


def load_api() -> FprintApi:
    try:
        import gi

        gi.require_version("FPrint", "2.0")
        from gi.repository import FPrint, Gio, GLib
    except (ImportError, ValueError) as exc:  # ValueError: the FPrint typelib is missing
        raise BackendUnavailable(
            f"libfprint unavailable ({exc}): install python3-gi and gir1.2-fprint-2.0, "
            "and create the venv with --system-site-packages", device="fingerprint") from exc
    return FprintApi(FPrint, Gio, GLib)


def _captures_images(device: Any, api: FprintApi) -> bool:
    feature = getattr(api.FPrint, "DeviceFeature", None)  # libfprint >= 1.92
    if feature is not None:
        return bool(device.has_feature(feature.CAPTURE))
    return bool(device.supports_capture())


def map_error(err: Any, api: FprintApi, *, action: str) -> HalError:
    """The :mod:`hal.errors` exception for a GLib error from libfprint, GUsb or GIO."""
    domain, code = str(getattr(err, "domain", "")), int(getattr(err, "code", -1))
    message = f"fingerprint reader: {action} failed: {getattr(err, 'message', err)}"
    fp, io = api.FPrint.DeviceError, api.Gio.IOErrorEnum
    if (domain, code) in ((FP_ERROR, int(fp.BUSY)), (FP_ERROR, int(fp.ALREADY_OPEN)),
                          (USB_ERROR, USB_BUSY), (IO_ERROR, int(io.BUSY))):
        return DeviceBusy(f"{message} (is fprintd or another program using the reader?)",
                          device="fingerprint")
    if (domain, code) in ((FP_ERROR, int(fp.REMOVED)), (USB_ERROR, USB_NO_DEVICE),
                          (USB_ERROR, USB_IO)):
        return DeviceUnplugged(message, device="fingerprint")
    if (domain, code) in ((USB_ERROR, USB_TIMED_OUT), (USB_ERROR, USB_CANCELLED),
                          (IO_ERROR, int(io.TIMED_OUT)), (IO_ERROR, int(io.CANCELLED))):
        return CaptureTimeout(message, device="fingerprint")
    if (domain, code) in ((USB_ERROR, USB_DENIED), (IO_ERROR, int(io.PERMISSION_DENIED))):
        return DeviceNotFound(f"{message}: install libfprint's udev rules or add the kit's "
                              "user to the plugdev group", device="fingerprint")
    if (domain, code) == (IO_ERROR, int(io.NOT_FOUND)):
        return DeviceNotFound(message, device="fingerprint")
    return HalError(message, device="fingerprint")


def to_500_ppi(gray: NDArray[np.uint8], ppi: float) -> NDArray[np.uint8]:
    """``gray`` resampled from ``ppi`` to 500 ppi (area averaging down, cubic up)."""
    factor = FINGER_PPI / ppi
    if abs(factor - 1.0) <= PPI_TOLERANCE:
        return gray
    h, w = gray.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(gray, size, interpolation=method), dtype=np.uint8)


class LibfprintScanner(FingerprintScanner):
    """One libfprint reader. ``device`` is an ``FPrint.Device`` (opened here), ``api`` the
    GI namespaces; ``context`` is kept so the device outlives the probe."""

    def __init__(self, device: Any, api: FprintApi, *, context: Any = None,
                 image_format: ImageFormat = ImageFormat.JP2) -> None:
        self._device, self._api, self._context = device, api, context
        self.image_format = image_format
        self.scan_type = "swipe" if device.get_scan_type() == api.FPrint.ScanType.SWIPE \
            else "press"
        self.driver = str(device.get_driver())
        super().__init__(DeviceInfo(
            "fingerprint",
            f"{device.get_name()} (libfprint {self.driver}, {self.scan_type} sensor, "
            "consumer grade)",
            str(device.get_device_id()), "", "libfprint"))
        try:
            device.open_sync(None)
        except api.GLib.Error as err:
            error = map_error(err, api, action="opening")
            if isinstance(error, DeviceUnplugged):  # gone between probe and open
                raise DeviceNotFound(str(error), device="fingerprint") from err
            raise error from err

    @classmethod
    def open(cls, *, api: FprintApi | None = None) -> LibfprintScanner:
        """The first reader libfprint finds that delivers images."""
        api = api or load_api()
        try:
            context = api.FPrint.Context()
            devices = list(context.get_devices())
        except api.GLib.Error as err:  # e.g. no USB access at all
            raise DeviceNotFound(f"libfprint cannot list readers: {err}",
                                 device="fingerprint") from err
        usable = [d for d in devices if _captures_images(d, api)]
        if not usable:
            found = ", ".join(str(d.get_name()) for d in devices)
            raise DeviceNotFound(
                "no libfprint reader that delivers images"
                + (f" (match-on-chip only: {found})" if found else ""),
                device="fingerprint")
        return cls(usable[0], api, context=context)

    def self_test(self) -> SelfTestResult:
        if self.closed:
            return SelfTestResult(False, "closed")
        if not self._device.is_open():
            return SelfTestResult(False, "the reader is no longer open")
        return SelfTestResult(True, f"libfprint {self.driver}: {self.scan_type} sensor, "
                                    "not SBI-certified")

    def capture(self, finger: Finger, *, timeout: float = 10.0) -> Capture:
        finger = Finger(finger)
        if self.closed:
            raise DeviceClosed("the fingerprint reader is closed", device="fingerprint")
        image = self._capture_image(timeout)
        gray, ppi = self._pixels(image)
        gray = to_500_ppi(gray, ppi)
        ours = fingerprint_quality(gray)
        width_mm = gray.shape[1] / FINGER_PPI * MM_PER_INCH
        height_mm = gray.shape[0] / FINGER_PPI * MM_PER_INCH
        measures = {**ours.measures, "source_ppi": round(ppi, 1),
                    "width_mm": round(width_mm, 1), "height_mm": round(height_mm, 1)}
        small = width_mm < FLAT_FINGER_MM[0] or height_mm < FLAT_FINGER_MM[1]
        return Capture(Modality.FINGER, finger.value,
                       encode_fingerprint(gray, fmt=self.image_format), self.image_format,
                       gray.shape[1], gray.shape[0], Quality(ours.score, ours.reasons, measures),
                       self.info, pixels=gray, warnings=("small_sensor",) if small else ())

    def _capture_image(self, timeout: float) -> Any:
        """One image; one cancellable, cancelled by a timer at the deadline, serves the
        retries too (a swipe too short is swiped again within the same timeout)."""
        api = self._api
        retries: list[str] = []
        cancellable = api.Gio.Cancellable()
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            cancellable.cancel()

        def timed_out() -> CaptureTimeout:
            tried = f" (asked to retry: {', '.join(retries)})" if retries else ""
            return CaptureTimeout(f"no usable finger on the reader in {timeout:g} s{tried}",
                                  device="fingerprint")

        timer = threading.Timer(max(0.0, timeout), expire)
        timer.daemon = True
        timer.start()
        try:
            while not expired.is_set():
                try:
                    return self._device.capture_sync(True, cancellable)
                except api.GLib.Error as err:
                    if expired.is_set():
                        raise timed_out() from err
                    if str(getattr(err, "domain", "")) != FP_RETRY:
                        raise map_error(err, api, action="capture") from err
                    retries.append(RETRY_REASONS.get(int(err.code), "general"))
            raise timed_out()
        finally:
            timer.cancel()

    @staticmethod
    def _pixels(image: Any) -> tuple[NDArray[np.uint8], float]:
        w, h = int(image.get_width()), int(image.get_height())
        data = bytes(image.get_data())
        if w <= 0 or h <= 0 or len(data) < w * h:
            raise HalError(f"the reader sent a broken image ({w}x{h}, {len(data)} bytes)",
                           device="fingerprint")
        gray = np.frombuffer(data, dtype=np.uint8, count=w * h).reshape(h, w).copy()
        ppmm = float(image.get_ppmm())
        # libfprint documents 500 ppi as what most drivers assume; trust that when unset
        ppi = ppmm * MM_PER_INCH if math.isfinite(ppmm) and ppmm > 0 else float(FINGER_PPI)
        return gray, ppi

    def _close(self) -> None:
        # an unplugged reader cannot be closed cleanly; nothing is left to release then
        with suppress(self._api.GLib.Error):
            self._device.close_sync(None)
