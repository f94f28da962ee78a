"""Signature quality: is there ink, and does it span enough of the pad to be a signature?

The SOP lets a resident who cannot sign draw a line, so stroke complexity is not judged:
only emptiness, a mark too small to be deliberate, and a smeared (over-inked) pad.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hal.imaging import as_gray
from hal.quality.grading import grade, score_of
from hal.quality.thresholds import SIGNATURE_PASS
from hal.types import Quality

INK_STEP = 60  # a pixel this much darker than the pad's background is ink


def ink_mask(image: NDArray[np.uint8]) -> NDArray[np.bool_]:
    gray = as_gray(image)
    background = float(np.percentile(gray, 90))  # the pad is the lightest part
    return np.asarray(gray < background - INK_STEP)


def signature_quality(image: NDArray[np.uint8]) -> Quality:
    """Score a signature image (dark ink on a light pad).

    Reasons: ``empty``, ``too_small`` (the ink spans under 15 % of the pad's width),
    ``smeared`` (more than 35 % of the pad inked).
    """
    ink = ink_mask(image)
    share = float(ink.mean())
    measures = {"ink": share}
    if share < 0.0005:
        return Quality(0, ("empty",), measures)
    cols = np.flatnonzero(ink.any(axis=0))
    rows = np.flatnonzero(ink.any(axis=1))
    extent = (cols[-1] - cols[0] + 1) / ink.shape[1]
    measures.update(extent=float(extent), height=float((rows[-1] - rows[0] + 1) / ink.shape[0]))
    grades = {
        "too_small": grade(float(extent), 0.15, 0.35, SIGNATURE_PASS),
        "smeared": grade(share, 0.35, 0.20, SIGNATURE_PASS),
    }
    reasons = tuple(r for r, g in grades.items() if g < SIGNATURE_PASS)
    return Quality(score_of(grades), reasons, measures)
