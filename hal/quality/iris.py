"""Iris image quality (after ISO/IEC 29794-6's main measures), on a near-infrared eye image.

1. **Pupil**: the darkest compact blob (a dark-disc search; eyelashes are dark too but thin,
   so blobs that fill little of their bounding box are skipped).
2. **Iris boundary**: the image is unwrapped around the pupil centre (``cv2.warpPolar``);
   the limbus is the strongest dark-to-light step along rays to the left and right, where
   eyelids rarely reach.
3. **Usable iris**: the share of angles whose iris band looks like the iris at the sides
   (eyelids are much lighter, lash curtains much darker): ISO asks for 70 % visible.
4. **Focus**: variance of the Laplacian inside the iris annulus.
5. Iris diameter, pupil dilation, margins and pupil-iris contrast.

Images wider than :data:`WORK_WIDTH` are scaled down first; sizes are reported in the
original pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import as_gray, percentiles_u8, u8
from hal.quality.grading import grade, score_of
from hal.quality.thresholds import IRIS_PASS
from hal.types import Quality

WORK_WIDTH = 320
ANGLES = 90  # rows of the polar unwrap: one every 4 degrees


def find_pupil(gray: NDArray[np.uint8]) -> tuple[float, float, float] | None:
    """(x, y, radius) of the darkest compact blob, or None."""
    blur = u8(cv2.GaussianBlur(gray, (5, 5), 0))
    lo, mid = percentiles_u8(blur, (1, 50))
    if mid - lo < 15:
        return None
    mask = (blur <= lo + 0.25 * (mid - lo)).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    best: tuple[float, float, float] | None = None
    best_area = 0
    # a pupil under 3 % of the image width is a lash clump or an iris far too small to use
    min_area = np.pi * (0.03 * gray.shape[1]) ** 2
    for i in range(1, count):
        w, h, area = (int(v) for v in stats[i][2:5])
        if area < min_area or not 0.5 < w / h < 2.0:
            continue
        if area / (w * h) < 0.55:  # a disc fills ~0.785 of its box; lashes far less
            continue
        if area > best_area:
            best_area = area
            best = (float(centroids[i][0]), float(centroids[i][1]), (w + h) / 4.0)
    return best


def iris_quality(image: NDArray[np.uint8]) -> Quality:
    """Score one eye image (8-bit gray, near infrared).

    Reasons: ``no_iris``, ``iris_too_small`` (diameter under 120 px), ``off_centre`` (iris
    cut by the frame), ``occluded`` (less than 70 % of the iris visible), ``blur``,
    ``low_contrast``, ``too_dark``, ``too_bright``, ``pupil_dilation``.
    """
    full = as_gray(image)
    k = full.shape[1] / WORK_WIDTH if full.shape[1] > WORK_WIDTH else 1.0
    gray = full if k == 1.0 else u8(cv2.resize(
        full, (WORK_WIDTH, round(full.shape[0] / k)), interpolation=cv2.INTER_AREA))
    h, w = gray.shape
    measures: dict[str, float] = {"brightness_p99": percentiles_u8(gray, (99,))[0]}
    pupil = find_pupil(gray)
    if pupil is None:
        return Quality(0, ("no_iris",), measures)
    px, py, pr = pupil

    max_r = int(min(w, h) * 0.75)
    polar = cv2.warpPolar(gray, (max_r, ANGLES), (px, py), max_r,
                          cv2.WARP_POLAR_LINEAR | cv2.INTER_LINEAR).astype(np.float32)
    # rows are angles from 0 (right) clockwise; the sides are rows near 0 and ANGLES/2
    side_rows = np.r_[0:8, ANGLES - 8:ANGLES, ANGLES // 2 - 8:ANGLES // 2 + 8]
    profile = cv2.GaussianBlur(polar[side_rows].mean(axis=0, keepdims=True), (9, 1), 0)[0]
    step = np.diff(profile)
    lo, hi = int(pr * 1.5), min(len(step) - 1, int(pr * 6))
    if hi <= lo:
        return Quality(0, ("no_iris",), measures)
    ir = float(lo + int(np.argmax(step[lo:hi])))

    band = polar[:, int(pr * 1.15):max(int(pr * 1.15) + 1, int(ir * 0.9))]
    reference = float(np.median(band[side_rows]))
    row_level = np.median(band, axis=1)
    tolerance = max(18.0, 0.3 * reference)
    visible = float(np.mean(np.abs(row_level - reference) < tolerance))

    ring = np.zeros((h, w), np.uint8)
    cv2.circle(ring, (round(px), round(py)), round(ir * 0.9), 1, -1)
    cv2.circle(ring, (round(px), round(py)), round(pr * 1.15), 0, -1)
    annulus = ring.astype(bool)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    focus = float(lap[annulus].var()) if annulus.any() else 0.0
    pupil_level = float(np.median(polar[:, : max(1, int(pr * 0.8))]))
    margin = min(px - ir, py - ir, w - px - ir, h - py - ir) / ir
    diameter = 2 * ir * k
    measures.update(
        pupil_x=px * k, pupil_y=py * k, pupil_radius=pr * k, iris_radius=ir * k,
        iris_diameter=diameter, dilation=pr / ir, visible=visible, focus=focus,
        iris_level=reference, pupil_level=pupil_level, margin=margin,
    )
    grades = {
        "iris_too_small": grade(diameter, 120.0, 150.0, IRIS_PASS),
        "off_centre": grade(margin, -0.15, 0.1, IRIS_PASS),
        "occluded": grade(visible, 0.70, 0.90, IRIS_PASS),
        "blur": grade(float(np.log10(focus + 1.0)), np.log10(30.0), np.log10(120.0), IRIS_PASS),
        "low_contrast": grade(reference - pupil_level, 20.0, 45.0, IRIS_PASS),
        "too_dark": grade(measures["brightness_p99"], 90.0, 150.0, IRIS_PASS),
        "too_bright": grade(reference, 190.0, 150.0, IRIS_PASS),
        "pupil_dilation": min(grade(pr / ir, 0.75, 0.6, IRIS_PASS),
                              grade(pr / ir, 0.15, 0.25, IRIS_PASS)),
    }
    reasons = tuple(r for r, g in grades.items() if g < IRIS_PASS)
    return Quality(score_of(grades), reasons, measures)
