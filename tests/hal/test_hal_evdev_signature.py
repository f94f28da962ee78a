"""The evdev signature pad over a fake pen tablet: probing by capabilities, how a signature
ends (button, quiet pen, timeout), unplugging, and drawing to the sim's canvas."""

from __future__ import annotations

import errno
import time

import numpy as np
import pytest
from evdev_fakes import FakeCapsDevice, FakePenDevice, fake_evdev_module, pen_signature

from hal.backends.evdev_signature import (
    AxisRange,
    EvdevSignaturePad,
    is_signature_pad,
    render_strokes,
)
from hal.encode import decode_gray
from hal.errors import CaptureTimeout, DeviceBusy, DeviceNotFound, DeviceUnplugged
from hal.registry import AUTO_ORDER
from hal.types import Modality

MOUSE = {1: [272, 273], 2: [0, 1, 8]}
TOUCHSCREEN = {1: [330], 3: [0, 1, 47, 53, 54, 57]}
TOUCHPAD = {1: [272, 325, 330], 3: [0, 1, 24, 53, 54]}
JOYSTICK = {1: [304, 305], 3: [0, 1]}
KEYBOARD = {1: list(range(1, 100))}
WACOM_PEN = {1: [320, 321, 330, 331, 332], 3: [0, 1, 24, 25, 26, 27]}
HID_PAD = {1: [330], 3: [0, 1, 24]}  # a generic digitizer: contact and pressure, no tool


def test_pens_are_told_from_mice_touchscreens_and_keyboards():
    assert is_signature_pad(WACOM_PEN) and is_signature_pad(HID_PAD)
    for caps in (MOUSE, TOUCHSCREEN, TOUCHPAD, JOYSTICK, KEYBOARD, {}):
        assert not is_signature_pad(caps), caps


def test_open_probes_the_input_devices_and_grabs_the_pad():
    pen = FakePenDevice()
    others = {"/dev/input/event0": FakeCapsDevice("mouse", MOUSE),
              "/dev/input/event1": FakeCapsDevice("ft5x06 touchscreen", TOUCHSCREEN),
              "/dev/input/event2": PermissionError(errno.EACCES, "denied"),
              "/dev/input/event3": FakeCapsDevice("Newland scanner", KEYBOARD)}
    pad = EvdevSignaturePad.open(evdev_module=fake_evdev_module(
        {**others, "/dev/input/event4": pen}))
    assert pen.grabbed and pad.info.backend == "evdev" and pad.info.kind == "signature"
    assert pad.info.serial == "8CH00A1234" and pad.info.firmware == "056a:037a v272"
    assert all(d.closed for d in others.values() if isinstance(d, FakeCapsDevice))
    pad.close()
    assert not pen.grabbed

    with pytest.raises(DeviceNotFound, match="'input' group"):
        EvdevSignaturePad.open(evdev_module=fake_evdev_module(others))
    with pytest.raises(DeviceNotFound, match="event0"):
        EvdevSignaturePad.open("/dev/input/event0", evdev_module=fake_evdev_module(others))


def test_auto_knows_the_evdev_pad():
    assert AUTO_ORDER["signature"] == ("evdev",)


def test_a_pad_held_by_another_program_is_busy():
    pen = FakePenDevice()
    pen.grab_error = OSError(errno.EBUSY, "Device or resource busy")
    with pytest.raises(DeviceBusy):
        EvdevSignaturePad(pen)


def test_the_button_confirms_and_stale_strokes_are_dropped():
    pen = FakePenDevice()
    pad = EvdevSignaturePad(pen, quiet=30.0)  # only the button can end this one quickly
    pen.scribble_now([[(100, 100), (15000, 9400)]])  # before the capture: not signed
    pen.sign()
    capture = pad.capture_signature(timeout=5)
    assert capture.modality is Modality.SIGNATURE
    assert (capture.width, capture.height) == (480, 160)  # the simulated pad's size
    assert capture.quality.measures["strokes"] == 3 and capture.quality.score >= 60
    fresh = FakePenDevice()
    fresh.sign()
    assert np.array_equal(EvdevSignaturePad(fresh).capture_signature(timeout=5).pixels,
                          capture.pixels)
    assert np.array_equal(decode_gray(capture.image) < 128, capture.pixels < 128)


def test_a_quiet_pen_ends_the_signature():
    pen = FakePenDevice(touch=False)  # contact from pressure alone
    pad = EvdevSignaturePad(pen, quiet=0.05)
    pen.sign(confirm=False)
    started = time.monotonic()
    capture = pad.capture_signature(timeout=5)
    assert time.monotonic() - started < 2.0
    assert capture.quality.measures["strokes"] == 3 and capture.quality.reasons == ()


def test_nothing_signed_times_out_and_a_button_alone_does_not_confirm():
    pen = FakePenDevice()
    pad = EvdevSignaturePad(pen, quiet=0.05)
    pen.staged.extend([pen._ev(1, 331, 1), pen._ev(0, 0, 0)])
    with pytest.raises(CaptureTimeout, match="nothing was signed"):
        pad.capture_signature(timeout=0.1)


def test_unplugging_mid_signature_raises_and_the_pad_still_closes():
    pen = FakePenDevice()
    pad = EvdevSignaturePad(pen)
    pen.sign(unplug_after=20)
    with pytest.raises(DeviceUnplugged):
        pad.capture_signature(timeout=5)
    assert not pad.self_test().ok
    pad.close()
    assert pad.closed


def test_rendering_keeps_the_pad_width_and_fits_tall_ink():
    wide = AxisRange(0, 9600)
    # a 3:1 pad: the whole pad is the canvas
    full = render_strokes([[(0, 1600), (9600, 1600)]], wide, AxisRange(0, 3200))
    cols = np.flatnonzero((full < 128).any(axis=0))
    assert full.shape == (160, 480) and cols[0] <= 2 and cols[-1] >= 477
    # a 1.6:1 pad (Wacom One S): ink from top to bottom is shrunk to fit, never cut off
    tall = render_strokes([[(4800, 0), (4800, 6000)], [(1000, 3000), (8600, 3000)]], wide,
                          AxisRange(0, 6000))
    rows = np.flatnonzero((tall < 128).any(axis=1))
    assert rows[0] > 0 and rows[-1] < 159
    # a dot is ink too
    dot = render_strokes([[(4800, 3000)]], wide, AxisRange(0, 6000))
    assert (dot < 128).sum() > 0
    assert (render_strokes([], wide, AxisRange(0, 6000)) == 255).all()


def test_a_small_signature_stays_small():
    pen = FakePenDevice()
    pad = EvdevSignaturePad(pen)
    tiny = [[(x // 10 + 6000, y // 10 + 4200) for x, y in s] for s in pen_signature()]
    pen.sign(tiny)
    capture = pad.capture_signature(timeout=5)
    assert "too_small" in capture.quality.reasons
