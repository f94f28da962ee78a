"""The libfprint adapter over a fake FPrint namespace: probing, 500 ppi images, and every
GLib error the reader can raise mapped to the HAL's tree."""

from __future__ import annotations

import sys
import time

import pytest
from libfprint_fakes import fake_libfprint

from hal.backends.libfprint import FP_ERROR, FP_RETRY, USB_ERROR, LibfprintScanner, load_api
from hal.encode import decode_gray, resolution_ppi
from hal.errors import (
    BackendUnavailable,
    CaptureTimeout,
    DeviceBusy,
    DeviceNotFound,
    DeviceUnplugged,
    HalError,
)
from hal.registry import AUTO_ORDER
from hal.types import Finger, ImageFormat

BUSY, REMOVED, NOT_SUPPORTED = 4, 0x100, 1


def test_probe_skips_readers_without_images():
    api, fprint = fake_libfprint(devices=2)
    fprint.devices[0].can_capture = False
    fprint.devices[0].name = "Goodix MOC"
    scanner = LibfprintScanner.open(api=api)
    assert scanner._device is fprint.devices[1] and fprint.devices[1].opened
    assert scanner.info.backend == "libfprint" and scanner.info.serial == "fake-0001"
    assert "press sensor" in scanner.info.model and "consumer grade" in scanner.info.model
    assert "not SBI-certified" in scanner.self_test().detail

    fprint.devices[1].can_capture = False
    with pytest.raises(DeviceNotFound, match="match-on-chip only: Goodix MOC"):
        LibfprintScanner.open(api=api)
    with pytest.raises(DeviceNotFound, match="no libfprint reader"):
        LibfprintScanner.open(api=fake_libfprint(devices=0)[0])


def test_auto_tries_sbi_before_libfprint():
    assert AUTO_ORDER["fingerprint"] == ("sbi", "libfprint")


def test_without_pygobject_the_backend_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "gi", None)  # import gi -> ImportError
    with pytest.raises(BackendUnavailable, match=r"gir1\.2-fprint-2\.0"):
        load_api()


@pytest.mark.parametrize(("domain", "code", "error"), [
    (FP_ERROR, BUSY, DeviceBusy),
    (FP_ERROR, 3, DeviceBusy),  # ALREADY_OPEN: fprintd holds it
    (FP_ERROR, REMOVED, DeviceNotFound),  # gone between probe and open
    (USB_ERROR, 9, DeviceNotFound),  # permission denied
])
def test_open_errors(domain, code, error):
    api, fprint = fake_libfprint()
    fprint.devices[0].fail_next(domain, code)
    with pytest.raises(error) as err:
        LibfprintScanner.open(api=api)
    if code == 9:
        assert "udev" in str(err.value)


@pytest.mark.parametrize(("domain", "code", "error"), [
    (FP_ERROR, BUSY, DeviceBusy),
    (FP_ERROR, REMOVED, DeviceUnplugged),  # unplugged mid-capture
    (USB_ERROR, 4, DeviceUnplugged),  # GUsb NO_DEVICE
    (USB_ERROR, 2, CaptureTimeout),  # GUsb TIMED_OUT
    (FP_ERROR, NOT_SUPPORTED, HalError),
])
def test_capture_errors_map_to_the_tree_and_the_next_capture_works(domain, code, error):
    api, fprint = fake_libfprint()
    scanner = LibfprintScanner.open(api=api)
    fprint.devices[0].fail_next(domain, code)
    with pytest.raises(error):
        scanner.capture(Finger.RIGHT_INDEX)
    assert scanner.capture(Finger.RIGHT_INDEX).quality.score > 40


def test_an_unplugged_reader_still_closes():
    api, fprint = fake_libfprint()
    scanner = LibfprintScanner.open(api=api)
    device = fprint.devices[0]
    device.fail_next(FP_ERROR, REMOVED, times=2)  # the capture, then close_sync
    with pytest.raises(DeviceUnplugged):
        scanner.capture(Finger.LEFT_THUMB)
    scanner.close()
    assert scanner.closed and device.calls[-1] == "close"


def test_no_finger_times_out_by_cancelling_the_capture():
    api, fprint = fake_libfprint()
    scanner = LibfprintScanner.open(api=api)
    fprint.devices[0].no_finger()
    started = time.monotonic()
    with pytest.raises(CaptureTimeout) as err:
        scanner.capture(Finger.LEFT_INDEX, timeout=0.15)
    assert time.monotonic() - started < 2.0
    assert isinstance(err.value, TimeoutError)  # GIO's CANCELLED from our timer
    scanner.close()


def test_retry_errors_ask_again_until_the_timeout():
    api, fprint = fake_libfprint(scan_type=0)  # a swipe sensor
    scanner = LibfprintScanner.open(api=api)
    device = fprint.devices[0]
    device.fail_next(FP_RETRY, 1)  # swipe too short
    capture = scanner.capture(Finger.RIGHT_THUMB)
    assert device.calls.count("capture") == 2 and capture.quality.score > 40
    device.fail_always(FP_RETRY, 2)  # the finger is never centred
    with pytest.raises(CaptureTimeout, match="center_finger"):
        scanner.capture(Finger.RIGHT_THUMB, timeout=0.05)


@pytest.mark.parametrize("ppi", [363.0, 500.0, 700.0, 0.0])
def test_images_are_resampled_to_500_ppi(ppi):
    api, _ = fake_libfprint(ppi=ppi)
    scanner = LibfprintScanner.open(api=api)
    capture = scanner.capture(Finger.LEFT_MIDDLE)
    # the fake's finger is 256x336 at 500 ppi, sent at the sensor's resolution
    assert abs(capture.width - 256) <= 1 and abs(capture.height - 336) <= 1
    assert capture.quality.measures["source_ppi"] == (ppi or 500.0)
    assert capture.image_format is ImageFormat.JP2 and resolution_ppi(capture.image) == 500
    assert decode_gray(capture.image).shape == capture.pixels.shape
    assert capture.warnings == ()


def test_a_small_sensor_is_flagged_and_judged_by_the_gate():
    api, _ = fake_libfprint(window=(180, 150))  # ~9 x 7.6 mm, like a laptop sensor
    capture = LibfprintScanner.open(api=api).capture(Finger.LEFT_INDEX)
    assert capture.warnings == ("small_sensor",)
    assert capture.quality.measures["width_mm"] < 12.8
