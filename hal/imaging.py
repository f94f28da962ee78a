"""Array helpers every part of ``hal`` shares: turning any image into 8-bit grayscale,
typing OpenCV's loosely typed results, and fast percentiles of 8-bit images."""

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


def percentiles_u8(image: Gray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles of an 8-bit image from its histogram: O(n), unlike a sort."""
    counts = np.cumsum(np.bincount(image.ravel(), minlength=256))
    total = counts[-1]
    return [float(np.searchsorted(counts, q / 100.0 * total)) for q in qs]
