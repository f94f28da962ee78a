"""Small helpers shared by the quality measures: grading a raw measure onto 0..1 and
turning any image array into the grayscale the measures work on."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

Gray = NDArray[np.uint8]
Box = tuple[int, int, int, int]  # x, y, width, height in the frame's pixels


def u8(image: object) -> Gray:
    """``image`` typed as an 8-bit array (OpenCV's results are loosely typed; no copy)."""
    return np.asarray(image, dtype=np.uint8)


def f32(image: object) -> NDArray[np.float32]:
    return np.asarray(image, dtype=np.float32)


def grade(value: float, limit: float, good: float, pass_mark: float) -> float:
    """Map a raw measure onto 0..1 along the line through ``(limit, pass_mark)`` and
    ``(good, 1.0)``, clamped. ``good`` may be below ``limit`` for measures where less is
    better. A measure exactly at its limit therefore grades ``pass_mark``: each modality's
    score is its weakest grade, so a measure on the wrong side of its limit always pulls the
    score under that modality's default pass threshold, and its reason code is never shown
    on a capture that passes."""
    if good == limit:
        raise ValueError("good and limit must differ")
    slope = (1.0 - pass_mark) / (good - limit)
    return min(1.0, max(0.0, pass_mark + (value - limit) * slope))


def as_gray(image: NDArray[np.generic]) -> Gray:
    """8-bit grayscale from an 8-bit gray or BGR array (any other dtype is clipped)."""
    arr = np.asarray(image)
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        else:
            arr = cv2.cvtColor(np.ascontiguousarray(arr[:, :, :3]).astype(np.uint8, copy=False),
                               cv2.COLOR_BGR2GRAY)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D gray or 3-channel BGR image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


def score_of(grades: dict[str, float]) -> int:
    """The score is the weakest grade: one bad aspect is enough to retake a capture."""
    return round(100 * min(grades.values())) if grades else 0
