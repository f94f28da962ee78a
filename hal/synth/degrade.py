"""What goes wrong at capture time, as image operations. ``severity`` runs from 0 (no
effect) to 1 (clearly unusable); the simulated devices use these for queued faults."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import u8

Image = NDArray[np.uint8]


def blur(img: Image, severity: float, *, max_sigma: float = 4.0) -> Image:
    """Out of focus, or moved during the capture."""
    sigma = max(0.0, severity) * max_sigma
    return img if sigma < 0.1 else u8(cv2.GaussianBlur(img, (0, 0), sigma))


def darken(img: Image, severity: float) -> Image:
    """Too little light: gain down to 15 % at full severity."""
    gain = 1.0 - 0.85 * float(np.clip(severity, 0.0, 1.0))
    return u8(cv2.convertScaleAbs(img, alpha=gain))


def brighten(img: Image, severity: float) -> Image:
    """Over-exposed: lifted and clipped."""
    s = float(np.clip(severity, 0.0, 1.0))
    return u8(cv2.convertScaleAbs(img, alpha=1.0 + 1.5 * s, beta=120 * s))


def noise(img: Image, severity: float, rng: np.random.Generator) -> Image:
    """Sensor noise up to a standard deviation of 60 gray levels."""
    sd = 60.0 * float(np.clip(severity, 0.0, 1.0))
    if sd < 0.5:
        return img
    out = img.astype(np.float32) + rng.standard_normal(img.shape, dtype=np.float32) * sd
    return np.clip(out, 0, 255).astype(np.uint8)


def smear(img: Image, severity: float, rng: np.random.Generator) -> Image:
    """A smudge: the finger slid in a random direction (motion blur), smearing the ridges
    it crossed (a little blur everywhere), plus noise."""
    severity = float(np.clip(severity, 0.0, 1.0))
    img = blur(img, severity, max_sigma=1.8)
    length = int(1 + 18 * severity)
    if length < 2:
        return img
    kernel = np.zeros((length, length), np.float32)
    angle = rng.uniform(0, 180)
    centre = (length - 1) / 2
    d = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))]) * centre
    cv2.line(kernel, (round(centre - d[0]), round(centre - d[1])),
             (round(centre + d[0]), round(centre + d[1])), 1.0, 1)
    kernel /= max(float(kernel.sum()), 1.0)
    return noise(u8(cv2.filter2D(img, -1, kernel)), 0.3 * severity, rng)
