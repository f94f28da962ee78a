"""A device that no backend finds falls back to the simulated one where that is allowed,
with a BackendFallback warning (after gpiozero's PinFactoryFallback) that people read as
one sentence in their language, never Python's warning format with a source path."""

from __future__ import annotations

import warnings

import pytest

from hal.errors import BackendFallback
from hal.registry import open_devices
from rekam.bootstrap import _fallbacks_worded


def test_a_missing_camera_warns_with_a_backend_fallback() -> None:
    with pytest.warns(BackendFallback) as record, \
            open_devices({"camera": "auto", "*": "sim"}, allow_simulated=True) as devices:
        assert devices.camera.info.simulated
    assert record[0].message.kind == "camera"  # type: ignore[union-attr]


@pytest.mark.parametrize(("language", "sentence"), [
    ("id", "Kamera: tidak ditemukan (dicari: kamera modul Raspberry Pi (konektor CSI), kamera "
           "USB (/dev/video*)); sementara memakai perangkat simulasi. Periksa kabel pita kamera "
           "atau kabel USB kamera."),
    ("en", "Camera: not found (looked for: Raspberry Pi camera module (CSI connector), USB "
           "camera (/dev/video*)); a simulated device stands in for now. Check the camera's "
           "ribbon cable or USB cable."),
])
def test_people_read_the_fallback_as_one_sentence(language: str, sentence: str) -> None:
    told: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may reach Python's own warning output
        with _fallbacks_worded(language, told.append), \
                open_devices({"camera": "auto", "*": "sim"}, allow_simulated=True):
            pass
    assert told == [sentence]
