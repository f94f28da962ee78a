"""Synthetic signatures: a few cursive strokes and a flourish on a 480x160 pad."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

WIDTH, HEIGHT = 480, 160
PAD = 250


def _stroke(
    rng: np.random.Generator, x0: float, x1: float, mid: float, amp: float
) -> NDArray[np.int32]:
    """A smooth pen path from x0 to x1: loops and waves from a few sinusoids."""
    t = np.linspace(0.0, 1.0, 120)
    x = x0 + (x1 - x0) * t
    y = np.full_like(t, mid)
    for _ in range(3):
        f, ph = rng.uniform(2, 9), rng.uniform(0, 2 * np.pi)
        y += amp * rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + ph)
        x += amp * 0.4 * rng.uniform(0, 1) * np.cos(2 * np.pi * f * t + ph)
    return np.stack([x, y], axis=1).astype(np.int32).reshape(-1, 1, 2)


def signature_image(
    rng: np.random.Generator, *, scale: float = 1.0, ink: bool = True
) -> NDArray[np.uint8]:
    """The pad's image: dark ink on a light ground. ``scale`` < 1 shrinks the signature to a
    small scribble; ``ink=False`` leaves the pad empty."""
    img = np.full((HEIGHT, WIDTH), PAD, np.uint8)
    if not ink:
        return img
    width = WIDTH * 0.8 * scale
    left = (WIDTH - width) / 2
    words = int(rng.integers(1, 4))
    gap = width / words
    for i in range(words):
        path = _stroke(rng, left + i * gap, left + (i + 0.85) * gap, HEIGHT * 0.45,
                       HEIGHT * 0.18 * scale)
        cv2.polylines(img, [path], False, 20, int(rng.integers(2, 4)), cv2.LINE_AA)
    flourish = _stroke(rng, left, left + width, HEIGHT * 0.72, HEIGHT * 0.05 * scale)
    cv2.polylines(img, [flourish], False, 20, 2, cv2.LINE_AA)
    return img
