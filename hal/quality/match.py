"""Fingerprint verification: is a re-scan the same finger as the enrolled capture?

Band-limited phase-only correlation (BLPOC; Ito et al., IEICE Trans. Fundamentals, 2004):
both prints are normalised (local mean and contrast), windowed, and Fourier transformed;
the cross-power spectrum is reduced to its phase and kept only in the band of ridge
frequencies, and its inverse transform has a sharp peak at the translation between the two
prints when their ridge phases agree (same finger) and only noise when they do not. Shifts
come for free; small rotations are searched (±6° in 3° steps, stopping early once a peak
is clear).

The score is the peak-to-sidelobe ratio (PSR: the peak's height above the correlation
surface's mean, in standard deviations, over shifts up to :data:`MAX_SHIFT`), mapped
linearly from :data:`PSR_FLOOR` (0) to :data:`PSR_FULL` (1). Unrelated ridge-free texture
peaks at PSR ~5 (chance over ~9,000 cells); different synthetic fingers at a median of 7
(99th percentile 14, because all fingers share ridge spacing and layout); re-scans of one
finger at 33-200. The default verification threshold of 0.5 is PSR 20. These constants
were calibrated on the simulated backend's prints and must be re-checked with field
captures (see tests/hal and bench/bench_hal_quality.py).

This confirms a re-scan at the kit; it is not a minutiae matcher and not the 1:N
deduplication, which HQ runs.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import as_gray, f32

FFT_SIZE = 256  # prints are halved (to ~128x168) and zero-padded to this square
MAX_SHIFT = 48  # halved pixels: a re-scan placed up to ~96 px (5 mm) away still matches
PSR_FLOOR, PSR_FULL = 12.0, 28.0
ANGLES = (0.0, -3.0, 3.0, -6.0, 6.0)
CLEAR_PSR = 30.0  # a peak this clear needs no rotation search
BAND = (0.08, 0.40)  # cycles per (halved) pixel: ridge periods of ~5-25 px at 500 ppi


def _normalise(gray: NDArray[np.uint8], angle: float = 0.0) -> NDArray[np.float32]:
    g = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                   interpolation=cv2.INTER_AREA).astype(np.float32)
    if angle:
        h, w = g.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        g = f32(cv2.warpAffine(g, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    local = g - cv2.GaussianBlur(g, (0, 0), 4.0)
    spread = np.sqrt(cv2.GaussianBlur(local * local, (0, 0), 6.0)) + 1e-3
    # Normalised ridges; weak regions (background, smudges) weigh little because their
    # spread is near zero (and clipped so noise on bare glass is not amplified).
    weight = np.clip((spread - 4.0) / 8.0, 0.0, 1.0)
    out = local / spread * weight
    return f32(out * _hann(out.shape))


@lru_cache(maxsize=8)
def _hann(shape: tuple[int, ...]) -> NDArray[np.float32]:
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)


def _spectrum(norm: NDArray[np.float32]) -> NDArray[np.complex64]:
    return np.fft.rfft2(norm, s=(FFT_SIZE, FFT_SIZE)).astype(np.complex64)


def _band_mask() -> NDArray[np.bool_]:
    fy = np.fft.fftfreq(FFT_SIZE)[:, None]
    fx = np.fft.rfftfreq(FFT_SIZE)[None, :]
    r = np.sqrt(fx * fx + fy * fy)
    return np.asarray((r >= BAND[0]) & (r <= BAND[1]))


_BAND = _band_mask()
_SHIFTS = np.arange(-MAX_SHIFT, MAX_SHIFT + 1) % FFT_SIZE


def _psr(fa: NDArray[np.complex64], fb: NDArray[np.complex64]) -> float:
    cross = fa * np.conj(fb)
    cross = np.where(_BAND, cross / (np.abs(cross) + 1e-9), 0)
    surface = np.fft.irfft2(cross, s=(FFT_SIZE, FFT_SIZE))
    # Only plausible shifts count, and the side lobes are measured over the same window:
    # far shifts barely overlap the Hann windows, and their near-zero values would make
    # any peak look significant.
    window = surface[np.ix_(_SHIFTS, _SHIFTS)]  # shifts -MAX_SHIFT..MAX_SHIFT, wrapped
    py, px = np.unravel_index(int(np.argmax(window)), window.shape)
    height = float(window[py, px])
    window[max(0, py - 5):py + 6, max(0, px - 5):px + 6] = np.nan
    mean, std = float(np.nanmean(window)), float(np.nanstd(window))
    return (height - mean) / (std + 1e-12)


def match_psr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    """The best peak-to-sidelobe ratio over the rotation search (the raw measure)."""
    ga, gb = as_gray(a), as_gray(b)
    fa = _spectrum(_normalise(ga))
    best = 0.0
    for angle in ANGLES:
        best = max(best, _psr(fa, _spectrum(_normalise(gb, angle))))
        if best >= CLEAR_PSR:
            break
    return best


def match_fingerprints(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    """Similarity 0..1 of two 500 ppi fingerprint images (see the module docstring)."""
    if a is None or b is None:
        raise ValueError("both fingerprints need their pixels (Capture.pixels)")
    psr = match_psr(a, b)
    return float(np.clip((psr - PSR_FLOOR) / (PSR_FULL - PSR_FLOOR), 0.0, 1.0))
