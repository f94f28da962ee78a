"""Fingerprint image quality, computed here because no NFIQ 2 binding exists for the kit.

Three measures that NFIQ 2 also builds on, on 16x16 blocks of a 500 ppi image (a block
holds one or two ridge periods):

* **foreground area** — blocks that show ridges or the finger's tone, as a share of the image;
* **ridge contrast** — the median spread (standard deviation) inside foreground blocks;
* **orientation coherence** — how consistently the gradients in a block share one
  direction (structure tensor from Sobel gradients): ridges give ~0.6-0.9, smudges and noise
  ~0.1-0.3.

Dry and wet prints are told apart by how light or dark the foreground is overall (limits
for an optical sensor whose empty glass reads ~220; recalibrate for other sensors). Each
measure is graded (:func:`hal.quality.grading.grade`) and the score is the weakest grade,
so a score under 40 (MOSIP's threshold) always comes with the reason.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import as_gray, f32
from hal.quality.grading import grade, score_of
from hal.quality.thresholds import FINGER_PASS
from hal.types import Quality

BLOCK = 16
FOREGROUND_STD = 12.0  # a block with less gray-level spread than this holds no ridges


def block_stats(gray: NDArray[np.uint8]) -> tuple[NDArray[np.float32], ...]:
    """Per-block mean, standard deviation and orientation coherence (image cropped to whole
    blocks). Block sums come from ``cv2.resize(INTER_AREA)``, which averages exact blocks."""
    h, w = (gray.shape[0] // BLOCK) * BLOCK, (gray.shape[1] // BLOCK) * BLOCK
    g = gray[:h, :w].astype(np.float32)
    grid = (w // BLOCK, h // BLOCK)
    mean = cv2.resize(g, grid, interpolation=cv2.INTER_AREA)
    mean_sq = cv2.resize(g * g, grid, interpolation=cv2.INTER_AREA)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    gxx = cv2.resize(gx * gx, grid, interpolation=cv2.INTER_AREA)
    gyy = cv2.resize(gy * gy, grid, interpolation=cv2.INTER_AREA)
    gxy = cv2.resize(gx * gy, grid, interpolation=cv2.INTER_AREA)
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2) / (gxx + gyy + 1e-6)
    return f32(mean), f32(std), f32(coherence)


def foreground_blocks(mean: NDArray[np.float32], std: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Blocks the finger touches: they show ridges (gray-level spread), or — blurred, dry or
    wet — at least differ in tone from the empty glass (the lightest blocks, as optical
    sensors show it). A 3x3 majority vote removes isolated blocks."""
    glass = float(np.percentile(mean, 95))
    toned = np.abs(mean - glass) > max(8.0, 0.1 * glass)
    fg = ((std > FOREGROUND_STD) | toned).astype(np.uint8)
    votes = cv2.blur(fg.astype(np.float32), (3, 3), borderType=cv2.BORDER_REPLICATE)
    return np.asarray(votes > 0.5)


def fingerprint_quality(image: NDArray[np.uint8]) -> Quality:
    """Score one flat fingerprint (8-bit gray, 500 ppi, dark ridges on a light ground).

    Reasons: ``no_finger`` (nothing on the sensor), ``partial`` (too little of the finger),
    ``low_contrast``, ``smudged`` (ridge directions incoherent: smudge, motion, noise),
    ``dry`` (light, broken ridges), ``wet`` (dark, merged ridges).
    """
    gray = as_gray(image)
    if min(gray.shape) < 2 * BLOCK:
        return Quality(0, ("no_finger",), {"foreground": 0.0})
    mean, std, coherence = block_stats(gray)
    fg = foreground_blocks(mean, std)
    area = float(fg.mean())
    measures = {"foreground": area}
    if not fg.any():
        return Quality(0, ("no_finger",), measures)
    contrast = float(np.median(std[fg]))
    coh = float(np.mean(coherence[fg]))
    level = float(np.mean(mean[fg]))
    measures.update(ridge_contrast=contrast, coherence=coh, foreground_mean=level)
    grades = {
        "partial": grade(area, 0.30, 0.60, FINGER_PASS),
        "low_contrast": grade(contrast, 15.0, 40.0, FINGER_PASS),
        "smudged": grade(coh, 0.35, 0.65, FINGER_PASS),
        "dry": grade(level, 190.0, 165.0, FINGER_PASS),
        "wet": grade(level, 95.0, 120.0, FINGER_PASS),
    }
    reasons = tuple(r for r, g in grades.items() if g < FINGER_PASS)
    return Quality(score_of(grades), reasons, measures)
