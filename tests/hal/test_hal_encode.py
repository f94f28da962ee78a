"""Encoders: the formats and sizes the packet carries, readable again by the decoders."""

from __future__ import annotations

import numpy as np
import pytest

from hal import encode
from hal.backends.sim import simulated_devices
from hal.backends.sim_control import SimulationControl
from hal.types import Eye, Finger, ImageFormat

ENROLMENT_BUDGET = 280_000


@pytest.fixture(scope="module")
def enrolment():
    """The captures of one full clean enrolment on the simulated kit."""
    sim = SimulationControl(seed=31)
    d = simulated_devices(sim, kinds=("camera", "fingerprint", "iris", "signature"))
    sim.set_subject("3275016703040005", birth_year=2004)
    caps = {"face": d["camera"].capture_face(), "signature": d["signature"].capture_signature()}
    caps.update({f.value: d["fingerprint"].capture(f) for f in Finger})
    caps.update({f"iris_{e.value}": d["iris"].capture(e) for e in Eye})
    for device in d.values():
        device.close()
    return caps


def test_full_enrolment_is_well_under_the_size_budget(enrolment):
    total = sum(len(c.image) for c in enrolment.values())
    assert total < 0.7 * ENROLMENT_BUDGET, total
    raw = sum(c.pixels.nbytes for c in enrolment.values())
    assert total < raw / 5


def test_formats_and_resolution(enrolment):
    assert encode.sniff_format(enrolment["face"].image) is ImageFormat.JPEG
    assert encode.sniff_format(enrolment["signature"].image) is ImageFormat.PNG
    finger = enrolment[Finger.RIGHT_INDEX.value]
    assert finger.image_format is ImageFormat.JP2
    assert encode.sniff_format(finger.image) is ImageFormat.JP2
    assert encode.resolution_ppi(finger.image) == pytest.approx(500.0, abs=0.01)
    assert 9_000 <= len(finger.image) <= 15_000
    assert encode.sniff_format(enrolment["iris_left"].image) is ImageFormat.JP2


def test_decoders_give_back_the_pixels(enrolment):
    finger = enrolment[Finger.LEFT_THUMB.value]
    decoded = encode.decode_image(finger.image)
    assert decoded.shape == finger.pixels.shape == (finger.height, finger.width)
    assert np.abs(decoded.astype(int) - finger.pixels).mean() < 3  # lossy, but close
    face = encode.decode_image(enrolment["face"].image)
    assert face.ndim == 3 and face.shape[:2] == (enrolment["face"].height,
                                                  enrolment["face"].width)
    assert np.abs(face.astype(int) - enrolment["face"].pixels).mean() < 4
    signature = encode.decode_gray(enrolment["signature"].image)
    ink = enrolment["signature"].pixels < encode.SIGNATURE_INK_LEVEL
    assert np.array_equal(signature < 128, ink)  # 1 bit: ink is exactly kept


def test_png_fingerprint_is_lossless():
    gray = np.random.default_rng(0).integers(0, 256, (336, 256)).astype(np.uint8)
    data = encode.encode_fingerprint(gray, fmt=ImageFormat.PNG)
    assert np.array_equal(encode.decode_gray(data), gray)
    assert encode.resolution_ppi(data) == pytest.approx(500, abs=0.5)
    with pytest.raises(ValueError):
        encode.encode_fingerprint(gray, fmt=ImageFormat.JPEG)


def test_resolution_box_for_other_ppi_and_bad_input():
    gray = np.full((64, 64), 128, np.uint8)
    jp2 = encode.encode_jp2(gray, target_bytes=500, ppi=1000)
    assert encode.resolution_ppi(jp2) == pytest.approx(1000, abs=0.01)
    with pytest.raises(ValueError):
        encode.with_resolution(b"not a jp2", 500)
    with pytest.raises(ValueError):
        encode.sniff_format(b"GIF89a")
