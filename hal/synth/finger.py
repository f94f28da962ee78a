"""Synthetic flat fingerprints at 500 ppi.

A ridge pattern is ``cos(2π·s/period)`` where ``s`` is a distance-like field whose level
lines are the ridges. Each pattern class combines distance fields, joined with a smooth
minimum, so the ridge systems meet the way they do on fingers:

* **loop** — the distance to a ray from the core: hairpins around the core (a +1/2
  singularity) opening to the left or right; the flat ridges near the flexion crease are the
  distance to a line, and where both systems and the arches above meet is the **delta**;
* **whorl** — the distance to a short segment (nested ovals around the centre, optionally
  twisted into a spiral), with a delta on each side where the ovals meet the flat ridges;
* **arch** — ridges that rise over the middle of the finger, no core or delta.

A smooth random warp (elastic skin) and each finger's own core position, ridge period and
tilt make every pattern distinct. The fields are smooth, so they are computed on a
quarter-resolution grid; the cosine is taken at half size and the ridge image scaled up.
An *impression* places the finger on the sensor: a small shift and rotation, pressure
(ridge width and darkness) and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import f32, u8

# FBI PIV / FAP 10 single-finger sensor: at least 0.5" x 0.65" at 500 ppi (e.g. 258x336)
HEIGHT, WIDTH = 336, 256
PPI = 500
BACKGROUND = 226.0  # an optical sensor's empty glass
CLASSES = ("left_loop", "right_loop", "whorl", "arch")
CLASS_WEIGHTS = (0.33, 0.32, 0.28, 0.07)  # rough population frequencies


@dataclass(frozen=True, slots=True)
class FingerPattern:
    """One finger of one subject: the ridge field and the footprint on the sensor."""

    pattern_class: str
    ridges: NDArray[np.float32]  # cos of the ridge phase, -1 (valley) .. 1 (ridge centre)
    footprint: NDArray[np.float32]  # 0..1, the part of the finger touching the glass
    period: float  # ridge period in pixels
    core: tuple[float, float]  # (x, y) of the core or whorl centre; the arch's summit


def _softmin(a: NDArray[np.float32], b: NDArray[np.float32], tau: float) -> NDArray[np.float32]:
    m = np.minimum(a, b)
    return f32(m - tau * np.log1p(np.exp(-np.abs(a - b) / tau)))


def finger_pattern(rng: np.random.Generator, *, thumb: bool = False) -> FingerPattern:
    kind = str(rng.choice(CLASSES, p=CLASS_WEIGHTS))
    q = 4  # fields are smooth: evaluate them on a quarter-resolution grid
    h, w = HEIGHT // q, WIDTH // q
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) * q
    warp = rng.normal(0.0, 1.0, (2, 5, 4)).astype(np.float32)
    amp = float(rng.uniform(5.0, 9.0))
    x += cv2.resize(warp[0], (w, h), interpolation=cv2.INTER_CUBIC) * amp
    y += cv2.resize(warp[1], (w, h), interpolation=cv2.INTER_CUBIC) * amp
    # a small overall rotation of the finger on the glass
    a = float(rng.uniform(-0.12, 0.12))
    cx, cy = WIDTH / 2 + rng.uniform(-22, 22), HEIGHT * 0.45 + rng.uniform(-25, 20)
    x, y = (cx + (x - cx) * np.cos(a) - (y - cy) * np.sin(a),
            cy + (x - cx) * np.sin(a) + (y - cy) * np.cos(a))
    period = float(rng.uniform(8.5, 10.5))
    crease_y = cy + rng.uniform(75, 105)
    flat = np.abs((y - crease_y) - rng.uniform(-0.12, 0.12) * (x - cx))
    dx, dy = x - cx, y - cy
    if kind in ("left_loop", "right_loop"):
        side = -1.0 if kind == "left_loop" else 1.0
        ang = rng.uniform(0.15, 0.5)
        ux, uy = side * np.cos(ang), np.sin(ang)
        t = np.maximum(0.0, dx * ux + dy * uy)
        field = _softmin(np.hypot(dx - t * ux, dy - t * uy), flat, 2.0)
    elif kind == "whorl":
        half = rng.uniform(0.0, 16.0)
        t = np.clip(dx, -half, half)
        rings = np.hypot(dx - t, dy * rng.uniform(1.0, 1.25))
        if rng.random() < 0.5:  # a spiral whorl: one extra ridge per turn
            rings = rings + rng.choice((-1.0, 1.0)) * period / (2 * np.pi) * np.arctan2(dy, dx)
        field = _softmin(rings, flat, 2.0)
    else:
        summit = rng.uniform(25, 55)
        field = (cy - y) + summit * np.exp(-(dx / rng.uniform(45, 70)) ** 2)
    # ridge spacing varies across a finger by ~5 %: without it, the flat ridges of any two
    # fingers would be near-identical gratings
    spacing = 1.0 + 0.05 * cv2.resize(rng.normal(0.0, 1.0, (4, 3)).astype(np.float32), (w, h),
                                      interpolation=cv2.INTER_CUBIC)
    # The cosine is taken at half size (a 9-10 px period is still ~5 samples) and the
    # ridge image scaled up: a quarter of the trigonometry.
    half_size = (WIDTH // 2, HEIGHT // 2)
    phase = cv2.resize((field * spacing).astype(np.float32) * np.float32(2 * np.pi / period),
                       half_size, interpolation=cv2.INTER_LINEAR)
    re, im = _individual_phase(rng, x, y, half_size)
    # cos(phase + minutiae) without an arctan: expand with the minutiae's unit phasor
    ridges = cv2.resize(np.cos(phase) * re - np.sin(phase) * im, (WIDTH, HEIGHT),
                        interpolation=cv2.INTER_CUBIC)
    return FingerPattern(kind, ridges.astype(np.float32, copy=False),
                         _footprint(rng, thumb, (w, h)), period, (float(cx), float(cy)))


def _individual_phase(
    rng: np.random.Generator, x: NDArray[np.float32], y: NDArray[np.float32],
    size: tuple[int, int],
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """What makes a finger individual beyond its class: minutiae and wandering ridges.

    Each minutia is a spiral phase ``±arg(z - m)`` (Larkin & Fletcher, 2007): one ridge
    ends or forks at ``m``. The sum of arguments is the argument of one product, so the
    set costs a complex product per minutia on the coarse grid; the unit phasor (smooth
    except right at a minutia) is upsampled. A smooth random phase makes ridges drift
    independently of the class's geometry. Returns the phasor's real and imaginary parts.
    """
    count = int(rng.integers(25, 45))
    minutiae = (rng.uniform(10, WIDTH - 10, count) + 1j * rng.uniform(10, HEIGHT - 10, count))
    polarity = rng.choice((-1, 1), count)
    # scaled by 1/200 so a product of ~40 factors stays inside complex64's range
    z = ((x + 1j * y) / 200.0).astype(np.complex64)[None]
    m = (minutiae / 200.0).astype(np.complex64)[:, None, None]
    prod = np.prod(z - m[polarity > 0], axis=0) * np.conj(np.prod(z - m[polarity < 0], axis=0))
    drift = rng.normal(0.0, 1.0, (9, 7)).astype(np.float32)
    coarse = x.shape[1], x.shape[0]
    wander = cv2.resize(drift, coarse, interpolation=cv2.INTER_CUBIC) * float(rng.uniform(1.5, 2.5))
    prod *= (np.cos(wander) + 1j * np.sin(wander)).astype(np.complex64) / (np.abs(prod) + 1e-30)
    re = f32(cv2.resize(np.ascontiguousarray(prod.real), size, interpolation=cv2.INTER_LINEAR))
    im = f32(cv2.resize(np.ascontiguousarray(prod.imag), size, interpolation=cv2.INTER_LINEAR))
    return re, im


def _footprint(
    rng: np.random.Generator, thumb: bool, coarse: tuple[int, int]
) -> NDArray[np.float32]:
    """A fingertip pressed flat: an ellipse running off the sensor's bottom edge, with a
    soft rim (computed coarse and upsampled: it is smooth)."""
    ax = WIDTH * (0.47 if thumb else 0.41) * rng.uniform(0.93, 1.05)
    ay = HEIGHT * 0.52 * rng.uniform(0.93, 1.05)
    ex, ey = WIDTH / 2 + rng.uniform(-10, 10), HEIGHT * 0.56 + rng.uniform(-10, 10)
    q = WIDTH / coarse[0]
    y, x = np.ogrid[0:coarse[1], 0:coarse[0]]
    r = ((x * q - ex) / ax) ** 2 + ((y * q - ey) / ay) ** 2
    small = np.clip((1.0 - r) / 0.18, 0.0, 1.0).astype(np.float32)
    return f32(cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR))


def render(pattern: FingerPattern, *, pressure: float = 0.0, contrast: float = 1.0,
           footprint: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """The print as gray levels (float): ``pressure`` > 0 widens and darkens ridges (a wet
    or pressed finger), < 0 thins and lightens them (dry or light touch)."""
    ink = 0.5 + 0.5 * pattern.ridges
    if pressure:
        ink = np.clip(ink + 0.6 * pressure, 0.0, 1.0)
    fp = pattern.footprint if footprint is None else footprint
    valley, ridge = 205.0 - 40 * max(pressure, 0.0), 55.0 + 60 * max(-pressure, 0.0)
    tone = valley - (valley - ridge) * contrast * ink
    return (BACKGROUND + fp * (tone - BACKGROUND)).astype(np.float32)


def impression(
    print_gray: NDArray[np.float32] | NDArray[np.uint8],
    rng: np.random.Generator,
    *,
    shift: float = 8.0,
    rotation: float = 2.0,
    noise: float = 1.0,
) -> NDArray[np.uint8]:
    """Place a rendered print on the sensor: random shift (px) and rotation (degrees) up
    to the given sizes, plus sensor noise scaled by ``noise``."""
    dx, dy = rng.uniform(-shift, shift, 2)
    angle = rng.uniform(-rotation, rotation)
    m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), float(angle), 1.0)
    m[:, 2] += np.array([dx, dy])
    if not noise and print_gray.dtype == np.uint8:  # the common case: no float round trip
        return u8(cv2.warpAffine(print_gray, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=BACKGROUND))
    src = np.asarray(print_gray, dtype=np.float32)
    placed = f32(cv2.warpAffine(src, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=BACKGROUND))
    if noise:
        # uniform integer noise (sd 2 at noise=1): a quarter of the cost of Gaussian draws
        placed += f32(rng.integers(-3, 4, placed.shape, dtype=np.int8) * np.float32(noise))
    return u8(np.clip(placed, 0, 255))
