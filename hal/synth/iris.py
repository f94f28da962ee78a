"""A synthetic near-infrared eye image (320x240, like ISO/IEC 19794-6's cropped formats):
skin, sclera, a textured iris annulus, the pupil with the illuminator's reflection, and
eyelids with lashes that hide part of the iris. The eye is drawn once per subject and eye;
each capture moves it slightly (:func:`gaze`).

The iris texture is made in polar coordinates — noise that is long along the radius and
short around it, like the iris's radial fibres, plus dark crypts and a collarette ring —
and wrapped onto the disc with ``cv2.warpPolar``. It is drawn once per subject and eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import f32, u8

WIDTH, HEIGHT = 320, 240


@dataclass(frozen=True, slots=True)
class IrisPattern:
    texture: NDArray[np.float32]  # the iris in polar form: rows are angles, columns radii
    iris_radius: float
    pupil_ratio: float  # pupil radius / iris radius
    iris_level: float
    skin_level: float
    lid_open: float  # how far the eyelids stand from the iris centre, in iris radii


def iris_pattern(rng: np.random.Generator) -> IrisPattern:
    angles, radii = 360, 64
    fibres = rng.normal(0.0, 1.0, (angles, radii // 8)).astype(np.float32)
    fibres = f32(cv2.resize(fibres, (radii, angles), interpolation=cv2.INTER_CUBIC))
    fine = cv2.GaussianBlur(rng.normal(0.0, 1.0, (angles, radii)).astype(np.float32), (0, 0), 1.0)
    texture = 14.0 * fibres + 8.0 * fine
    # crypts: dark lacunae between the pupil and the collarette
    for _ in range(int(rng.integers(6, 14))):
        a, r = int(rng.integers(0, angles)), int(rng.integers(8, radii - 8))
        cv2.ellipse(texture, (r, a), (int(rng.integers(2, 6)), int(rng.integers(4, 12))), 0, 0,
                    360, float(-rng.uniform(20, 35)), -1, cv2.LINE_AA)
    collarette = int(radii * rng.uniform(0.3, 0.45))
    texture[:, collarette - 1:collarette + 2] += 12.0
    return IrisPattern(
        texture=texture,
        iris_radius=float(rng.uniform(66, 76)),
        pupil_ratio=float(rng.uniform(0.3, 0.48)),
        iris_level=float(rng.uniform(85, 120)),
        skin_level=float(rng.uniform(150, 175)),
        lid_open=float(rng.uniform(0.85, 1.0)),
    )


def eye_image(
    pattern: IrisPattern,
    rng: np.random.Generator,
    *,
    lid_open: float | None = None,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
) -> NDArray[np.uint8]:
    """The eye as the camera sees it looking straight in: ``lid_open`` below the pattern's
    own closes the eyelids over the iris (0 is a closed eye); ``scale`` < 1 an eye too far
    away; ``offset`` moves it by a share of the frame. See :func:`gaze` for each capture's
    small movement."""
    ri = pattern.iris_radius * scale
    rp = ri * pattern.pupil_ratio
    cx = WIDTH / 2 + offset[0] * WIDTH
    cy = HEIGHT / 2 + offset[1] * HEIGHT
    # skin, lit from slightly off-axis: a gentle ramp
    ramp_x = (np.arange(WIDTH, dtype=np.float32) - WIDTH / 2) * 0.05
    ramp_y = (np.arange(HEIGHT, dtype=np.float32) - HEIGHT / 2) * -0.04
    img = np.add.outer(ramp_y, ramp_x) + np.float32(pattern.skin_level)

    opening = pattern.lid_open if lid_open is None else lid_open
    # eyelid edges: parabolas through the corners of the eye, apart by ``opening`` radii
    half = ri * 2.3
    u = np.linspace(-1.0, 1.0, 41)
    xs = cx + u * half
    upper = cy - ri * opening * 1.05 * (1 - u * u) + ri * 0.05
    lower = cy + ri * opening * 0.95 * (1 - u * u)
    outline = np.concatenate([np.stack([xs, upper], 1), np.stack([xs, lower], 1)[::-1]])
    eye = np.zeros((HEIGHT, WIDTH), np.uint8)
    if opening > 0:
        cv2.fillPoly(eye, [np.round(outline).astype(np.int32)], 1)
    eye_mask = eye.astype(bool)
    img[eye_mask] = pattern.skin_level + 25.0  # sclera, bright under near infrared

    # the iris disc, unwrapped texture wrapped back around (cx, cy) inside its bounding box
    polar = pattern.texture + pattern.iris_level
    size = max(1, int(ri))
    polar_img = cv2.resize(polar, (size, polar.shape[0]), interpolation=cv2.INTER_LINEAR)
    box = 2 * size + 2
    disc = cv2.warpPolar(polar_img, (box, box), (box / 2, box / 2), ri,
                         cv2.WARP_POLAR_LINEAR | cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
                         | cv2.WARP_FILL_OUTLIERS)
    rings = np.zeros((box, box), np.float32)
    c = (box // 2, box // 2)
    cv2.circle(rings, c, int(ri), 1.0, -1)  # iris
    cv2.circle(rings, c, int(ri), 2.0, 2)  # limbus, darker
    cv2.circle(rings, c, max(1, int(rp)), 3.0, -1)  # pupil
    gx, gy = round(box / 2 + rp * 0.35), round(box / 2 - rp * 0.35)
    cv2.circle(rings, (gx, gy), max(2, int(rp * 0.12)), 4.0, -1)  # the illuminator's glint
    patch = np.full((box, box), np.nan, np.float32)
    patch[rings == 1] = disc[rings == 1]
    patch[rings == 2] = disc[rings == 2] - 15.0
    patch[rings == 3] = 24.0
    patch[rings == 4] = 250.0
    x0, y0 = round(cx) - box // 2, round(cy) - box // 2
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = min(box, WIDTH - x0), min(box, HEIGHT - y0)
    if sx1 > sx0 and sy1 > sy0:
        region = img[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
        sub = patch[sy0:sy1, sx0:sx1]
        keep = ~np.isnan(sub) & eye_mask[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
        region[keep] = sub[keep]

    # lashes: dark strokes hanging from the upper lid
    for _ in range(int(rng.integers(25, 40))):
        lx = cx + rng.uniform(-half * 0.9, half * 0.9)
        ly = cy - ri * opening * 1.05 * (1 - ((lx - cx) / half) ** 2) + ri * 0.05
        length = rng.uniform(8, 22)
        angle = np.pi / 2 + rng.uniform(-0.5, 0.5) + 0.6 * (lx - cx) / half
        tip = (int(lx + length * np.cos(angle) * 0.6), int(ly + length * np.sin(angle) * 0.6))
        cv2.line(img, (int(lx), int(ly)), tip, 35.0, 1, cv2.LINE_AA)
    return u8(np.clip(img, 0, 255))


def gaze(eye: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """One capture's view of the eye: the gaze and head move by a few pixels and the
    pupil breathes a little (a slight zoom about the centre)."""
    m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), float(rng.uniform(-2, 2)),
                                float(rng.uniform(0.98, 1.02)))
    m[:, 2] += np.array([rng.uniform(-6, 6), rng.uniform(-5, 5)])
    return u8(cv2.warpAffine(eye, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE))
