"""Signature pads and pen tablets that the Linux kernel drives as evdev input devices: HID
pen digitizers such as Wacom's Intuos and One, Huion and XP-Pen tablets, and signature pads
that are HID-compliant. Wacom's STU signature pads are *not* among them: the kernel's wacom
driver does not support the STU series (linuxwacom/input-wacom#52); they need Wacom's STU
SDK over hidraw, which would be a backend of its own.

A pad is recognised by what it declares (:func:`is_signature_pad`): absolute X and Y, pen
contact (``BTN_TOUCH`` or ``ABS_PRESSURE``) and a pen tool, and no relative axes (a mouse)
or multi-touch axes (the kit's touchscreen, which must never be grabbed). The device is
*grabbed* while open, so the pen never moves a pointer elsewhere.

A capture drops whatever the pen did before it started, then records pen-down strokes
until the resident is done: a press of a pen or pad button (``BTN_STYLUS``, ``BTN_0``...)
after signing, or ``quiet`` seconds with the pen up after the last stroke. No signature
before the timeout raises :class:`~hal.errors.CaptureTimeout`; the device going away
(``ENODEV``) raises :class:`~hal.errors.DeviceUnplugged`. Strokes are scaled from the
pad's ``absinfo`` ranges and drawn with Pillow (:func:`render_strokes`) on a 480x160
canvas like the simulated pad's, without distorting the pad's aspect ratio, then scored
and stored as a 1-bit PNG like every signature.

evdev is imported only in :meth:`EvdevSignaturePad.open`; the device object is injected,
so the tests pass a fake ``InputDevice``.
"""

from __future__ import annotations

import contextlib
import errno
import select
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from hal.encode import encode_signature
from hal.errors import (
    BackendUnavailable,
    CaptureTimeout,
    DeviceBusy,
    DeviceClosed,
    DeviceNotFound,
    DeviceUnplugged,
)
from hal.ports import SignaturePad
from hal.quality import signature_quality
from hal.types import Capture, DeviceInfo, ImageFormat, Modality, Quality, SelfTestResult

# Linux input event codes (a stable kernel ABI, as in evdev_reader)
EV_SYN, EV_KEY, EV_REL, EV_ABS = 0, 1, 2, 3
SYN_REPORT = 0
ABS_X, ABS_Y, ABS_PRESSURE, ABS_MT_POSITION_X = 0, 1, 24, 53
REL_X = 0
BTN_0 = 256
BTN_TOOL_PEN, BTN_TOOL_FINGER = 320, 325
BTN_TOUCH, BTN_STYLUS, BTN_STYLUS2 = 330, 331, 332
CONFIRM_BUTTONS = frozenset({BTN_STYLUS, BTN_STYLUS2, *range(BTN_0, BTN_0 + 10)})

CANVAS = (480, 160)  # the simulated pad's size (hal.synth.signature)
PEN_WIDTH = 3
QUIET_SECONDS = 2.0
PRESSURE_SHARE = 0.02  # without BTN_TOUCH: pen down above 2 % of the pressure range

Point = tuple[int, int]


def is_signature_pad(capabilities: Mapping[int, Sequence[Any]]) -> bool:
    """Whether ``capabilities`` (``InputDevice.capabilities(absinfo=False)``) are a pen's."""
    axes = set(capabilities.get(EV_ABS, ()))
    keys = set(capabilities.get(EV_KEY, ()))
    rel = set(capabilities.get(EV_REL, ()))
    if not {ABS_X, ABS_Y} <= axes or REL_X in rel:
        return False  # no absolute position, or a mouse
    if BTN_TOUCH not in keys and ABS_PRESSURE not in axes:
        return False  # no pen contact: a joystick or a knob
    if BTN_TOOL_PEN in keys or BTN_STYLUS in keys:
        return True
    # pressure without a declared pen tool: a pad, unless it is a touchscreen or touchpad
    return ABS_PRESSURE in axes and ABS_MT_POSITION_X not in axes \
        and BTN_TOOL_FINGER not in keys


@dataclass(frozen=True, slots=True)
class AxisRange:
    low: int
    high: int

    @property
    def span(self) -> int:
        return self.high - self.low


def render_strokes(strokes: Iterable[Sequence[Point]], x: AxisRange, y: AxisRange, *,
                   size: tuple[int, int] = CANVAS, pen: int = PEN_WIDTH) -> NDArray[np.uint8]:
    """Pen strokes (pad units) as black ink on white, ``size`` pixels.

    The pad's width fills the canvas width (so how much of the pad a signature spans is kept,
    which the quality gate judges); one scale for both axes. A pad taller than the canvas's
    ratio shows the band around the ink; ink too tall for that band is scaled down to fit.
    """
    width, height = size
    paths = [list(s) for s in strokes if len(s)]
    scale = width / x.span
    margin = pen + 1
    top = float(y.low)
    left = 0.0
    if paths:
        ys = [p[1] for path in paths for p in path]
        ink_low, ink_high = min(ys), max(ys)
        if (ink_high - ink_low) * scale > height - 2 * margin:
            scale = (height - 2 * margin) / max(1, ink_high - ink_low)
            left = (width - x.span * scale) / 2
        window = height / scale
        if window < y.span:
            top = (ink_low + ink_high) / 2 - window / 2
            top = min(max(top, y.low), y.high - window)
        else:
            top = y.low - (window - y.span) / 2
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    for path in paths:
        pts = [(left + (px - x.low) * scale, (py - top) * scale) for px, py in path]
        if len(pts) == 1:
            (cx, cy), r = pts[0], pen / 2
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
        else:
            draw.line(pts, fill=0, width=pen, joint="curve")
    return np.asarray(img, dtype=np.uint8)


def _import_evdev() -> Any:
    try:
        import evdev
    except ImportError as exc:
        raise BackendUnavailable("python-evdev is not installed (extra 'pi')",
                                 device="signature") from exc
    return evdev


class EvdevSignaturePad(SignaturePad):
    """``device`` is an ``evdev.InputDevice`` (or a fake with ``fd``, ``read_one()``,
    ``capabilities(absinfo=False)``, ``absinfo(code)``, ``grab()``, ``ungrab()``,
    ``close()``, ``name``, ``path``)."""

    def __init__(self, device: Any, *, quiet: float = QUIET_SECONDS, grab: bool = True,
                 size: tuple[int, int] = CANVAS, pen_width: int = PEN_WIDTH) -> None:
        self._device = device
        self.quiet, self.size, self.pen_width = quiet, size, pen_width
        try:
            caps = device.capabilities(absinfo=False)
            self.x, self.y = self._range(ABS_X), self._range(ABS_Y)
            axes = set(caps.get(EV_ABS, ()))
            self.pressure = self._range(ABS_PRESSURE) if ABS_PRESSURE in axes else None
        except OSError as exc:
            raise DeviceUnplugged(f"the signature pad went away: {exc}",
                                  device="signature") from exc
        self.has_touch = BTN_TOUCH in set(caps.get(EV_KEY, ()))
        if self.x.span <= 0 or self.y.span <= 0 or (not self.has_touch and self.pressure is None):
            raise DeviceNotFound(f"{getattr(device, 'name', 'the input device')} reports no "
                                 "usable pen area", device="signature")
        info = getattr(device, "info", None)
        firmware = (f"{info.vendor:04x}:{info.product:04x} v{info.version}"
                    if info is not None else "")
        serial = getattr(device, "uniq", "") or getattr(device, "path", "")
        super().__init__(DeviceInfo("signature", str(getattr(device, "name", "pen tablet")),
                                    str(serial), firmware, "evdev"))
        self._grabbed = False
        if grab:
            try:
                device.grab()
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise DeviceBusy("another program holds the signature pad",
                                     device="signature") from exc
                raise DeviceUnplugged(f"the signature pad went away: {exc}",
                                      device="signature") from exc
            self._grabbed = True

    def _range(self, code: int) -> AxisRange:
        info = self._device.absinfo(code)
        return AxisRange(int(info.min), int(info.max))

    @classmethod
    def open(cls, path: str | None = None, *, evdev_module: Any = None,
             quiet: float = QUIET_SECONDS) -> EvdevSignaturePad:
        """The pad at ``path``, or the first input device that is a pen (see
        :func:`is_signature_pad`)."""
        evdev = evdev_module if evdev_module is not None else _import_evdev()
        denied = []
        for candidate in [path] if path is not None else evdev.list_devices():
            try:
                device = evdev.InputDevice(candidate)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    denied.append(candidate)
                continue
            if is_signature_pad(device.capabilities(absinfo=False)):
                return cls(device, quiet=quiet)
            device.close()
        hint = (f"; no permission to read {', '.join(denied)}: add the kit's user to the "
                "'input' group" if denied else "")
        where = path if path is not None else "the input devices"
        raise DeviceNotFound(f"no pen tablet or signature pad among {where}{hint}",
                             device="signature")

    def self_test(self) -> SelfTestResult:
        if self.closed:
            return SelfTestResult(False, "closed")
        try:
            self._range(ABS_X)  # an ioctl: fails once the pad is unplugged
        except OSError as exc:
            return SelfTestResult(False, f"unplugged: {exc}")
        return SelfTestResult(True, f"pen area {self.x.span}x{self.y.span}")

    def capture_signature(self, *, timeout: float = 60.0) -> Capture:
        if self.closed:
            raise DeviceClosed("the signature pad is closed", device="signature")
        strokes = self._record(timeout)
        gray = render_strokes(strokes, self.x, self.y, size=self.size, pen=self.pen_width)
        ours = signature_quality(gray)
        measures = {**ours.measures, "strokes": float(len(strokes)),
                    "points": float(sum(len(s) for s in strokes))}
        return Capture(Modality.SIGNATURE, None, encode_signature(gray), ImageFormat.PNG,
                       gray.shape[1], gray.shape[0], Quality(ours.score, ours.reasons, measures),
                       self.info, pixels=gray)

    # --- reading the pen ---------------------------------------------------------------

    def _read_events(self) -> list[Any]:
        events = []
        try:
            while (event := self._device.read_one()) is not None:
                events.append(event)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise DeviceUnplugged(f"the signature pad went away: {exc}",
                                  device="signature") from exc
        return events

    def _wait(self, seconds: float) -> bool:
        try:
            ready, _, _ = select.select([self._device.fd], [], [], max(0.0, seconds))
        except (OSError, ValueError) as exc:
            raise DeviceUnplugged(f"the signature pad went away: {exc}",
                                  device="signature") from exc
        return bool(ready)

    def _record(self, timeout: float) -> list[list[Point]]:
        self._read_events()  # whatever the pen did before the capture started
        deadline = time.monotonic() + timeout
        threshold = (self.pressure.low + PRESSURE_SHARE * self.pressure.span
                     if self.pressure else 0.0)
        strokes: list[list[Point]] = []
        current: list[Point] = []
        x = y = None
        touching, pressure = False, 0
        last_up = time.monotonic()
        while True:
            now = time.monotonic()
            if strokes and not current and now - last_up >= self.quiet:
                return strokes
            if now >= deadline:
                raise CaptureTimeout(
                    f"the signature was not finished in {timeout:g} s" if strokes or current
                    else f"nothing was signed in {timeout:g} s", device="signature")
            wait = deadline - now
            if strokes and not current:
                wait = min(wait, last_up + self.quiet - now)
            if not self._wait(wait):
                continue
            for event in self._read_events():
                if event.type == EV_ABS:
                    if event.code == ABS_X:
                        x = event.value
                    elif event.code == ABS_Y:
                        y = event.value
                    elif event.code == ABS_PRESSURE:
                        pressure = event.value
                elif event.type == EV_KEY:
                    if event.code == BTN_TOUCH:
                        touching = event.value != 0
                    elif event.code in CONFIRM_BUTTONS and event.value == 1 and \
                            (strokes or current):
                        if current:
                            strokes.append(current)
                        return strokes
                elif event.type == EV_SYN and event.code == SYN_REPORT:
                    down = touching if self.has_touch else pressure > threshold
                    if down and x is not None and y is not None:
                        current.append((int(x), int(y)))
                    elif not down and current:
                        strokes.append(current)
                        current = []
                        last_up = time.monotonic()

    def _close(self) -> None:
        try:
            if self._grabbed:
                with contextlib.suppress(OSError):  # an unplugged pad cannot be ungrabbed
                    self._device.ungrab()
        finally:
            self._device.close()

