"""Synthetic biometric images for the simulated backend: deterministic for a random
generator, vectorised with numpy and OpenCV, and realistic enough that the real quality
measures (:mod:`hal.quality`) and the verification matcher work on them.

* :mod:`hal.synth.finger` — ridge patterns with cores and deltas, and their impressions;
* :mod:`hal.synth.face` — a drawn frontal face on the SOP's red or blue backdrop;
* :mod:`hal.synth.iris` — a near-infrared eye: pupil, textured iris, eyelids and lashes;
* :mod:`hal.synth.signature` — pen strokes on a pad;
* :mod:`hal.synth.degrade` — what goes wrong at capture time (blur, darkness, ...).

``rng_for`` derives an independent, stable generator from a seed and a few labels (Python's
``hash`` is salted per process, so it cannot be used).
"""

from __future__ import annotations

import hashlib

import numpy as np


def rng_for(seed: int, *labels: object) -> np.random.Generator:
    digest = hashlib.blake2b(repr((seed, *labels)).encode(), digest_size=16).digest()
    return np.random.default_rng(list(np.frombuffer(digest, dtype=np.uint32)))
