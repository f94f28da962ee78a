"""The simulated subject in front of the simulated devices: every image the sim backend
captures for one subject, with the faults a test queued applied.

What is static for a subject — finger patterns and their clean prints, iris textures, the
face frame, the signature — is drawn once (lazily, on first use) and kept; each capture
then only places the print, jitters the gaze or applies a fault. Everything is derived
from ``(seed, subject, ...)`` through :func:`hal.synth.rng_for`, so a sequence of captures
is identical for identical calls, and distinct per subject, finger and eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import u8
from hal.synth import degrade, rng_for
from hal.synth import face as synth_face
from hal.synth import finger as synth_finger
from hal.synth import iris as synth_iris
from hal.synth import signature as synth_signature
from hal.types import Eye, Finger

FAULTS: dict[str, frozenset[str]] = {
    "camera": frozenset({"blur", "dark", "bright", "no_face", "multiple_faces", "off_centre",
                         "far", "wrong_background", "degraded"}),
    "fingerprint": frozenset({"blur", "dark", "partial", "dry", "wet", "smudge", "noisy",
                              "degraded"}),
    "iris": frozenset({"blur", "dark", "bright", "occluded", "closed", "off_centre", "far",
                       "degraded"}),
    "signature": frozenset({"empty", "too_small", "smeared", "degraded"}),
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued capture fault; ``severity`` 0 (none) .. 1 (clearly unusable)."""

    name: str
    severity: float = 1.0

    def __str__(self) -> str:
        return f"{self.name}:{self.severity:g}"


Gray = NDArray[np.uint8]


class SubjectImages:
    """Everything one subject shows the devices, drawn on first use."""

    def __init__(self, seed: int, subject: str) -> None:
        self.seed = seed
        self.subject = subject
        self._fingers: dict[str, tuple[synth_finger.FingerPattern, Gray]] = {}
        self._irises: dict[str, synth_iris.IrisPattern] = {}
        self._eyes: dict[str, Gray] = {}
        self._faces: dict[tuple[int, int, int], NDArray[np.uint8]] = {}
        self._signature: Gray | None = None

    def rng(self, *labels: object) -> np.random.Generator:
        return rng_for(self.seed, self.subject, *labels)

    # --- fingers ----------------------------------------------------------------------

    def finger_print(self, finger: Finger) -> tuple[synth_finger.FingerPattern, Gray]:
        """The finger's ridge pattern and its clean print (8-bit, before placement)."""
        cached = self._fingers.get(finger.value)
        if cached is None:
            thumb = finger in (Finger.RIGHT_THUMB, Finger.LEFT_THUMB)
            pattern = synth_finger.finger_pattern(self.rng("finger", finger.value), thumb=thumb)
            clean = u8(np.clip(synth_finger.render(pattern) + 0.5, 0, 255))
            cached = (pattern, clean)
            self._fingers[finger.value] = cached
        return cached

    def finger(self, finger: Finger, rng: np.random.Generator, fault: Fault | None) -> Gray:
        pattern, clean = self.finger_print(finger)
        name, s = (fault.name, fault.severity) if fault else ("clean", 0.0)
        src: NDArray[np.float32] | Gray = clean
        if name == "dry":
            src = synth_finger.render(pattern, pressure=-0.7 * s, contrast=1.0 - 0.8 * s)
        elif name == "wet":
            src = synth_finger.render(pattern, pressure=1.2 * s)
        elif name == "degraded":
            src = synth_finger.render(pattern, contrast=1.0 - 0.75 * s)
        elif name == "partial":
            # only the fingertip touches: keep the top (1 - 0.85 s) of the footprint
            keep = synth_finger.HEIGHT * (1.0 - 0.85 * s)
            rows = np.clip((keep - np.arange(synth_finger.HEIGHT, dtype=np.float32)) / 12.0,
                           0.0, 1.0)[:, None]
            src = synth_finger.render(pattern, footprint=pattern.footprint * rows)
        img = synth_finger.impression(src, rng, noise=0.0)
        if name == "blur":
            img = degrade.blur(img, s, max_sigma=3.5)
        elif name == "dark":
            img = degrade.darken(img, 0.9 * s)
        elif name == "wet":  # moisture also smears the ridges a little
            img = degrade.blur(img, s, max_sigma=1.2)
        elif name == "smudge":
            img = degrade.smear(img, s, rng)
        elif name == "noisy":
            img = degrade.noise(img, s, rng)
        elif name == "degraded":
            img = degrade.noise(degrade.blur(img, s, max_sigma=2.5), 0.4 * s, rng)
        return img

    # --- irises -----------------------------------------------------------------------

    def iris_pattern(self, eye: Eye) -> synth_iris.IrisPattern:
        pattern = self._irises.get(eye.value)
        if pattern is None:
            pattern = synth_iris.iris_pattern(self.rng("iris", eye.value))
            self._irises[eye.value] = pattern
        return pattern

    def eye(self, eye: Eye, rng: np.random.Generator, fault: Fault | None) -> Gray:
        pattern = self.iris_pattern(eye)
        name, s = (fault.name, fault.severity) if fault else ("clean", 0.0)
        look = self.rng("eye", eye.value)  # the eye's own lashes, the same every capture
        if name == "occluded":
            img = synth_iris.eye_image(pattern, look, lid_open=pattern.lid_open * (1 - 0.7 * s))
        elif name == "closed":
            img = synth_iris.eye_image(pattern, look, lid_open=0.0)
        elif name == "off_centre":
            img = synth_iris.eye_image(pattern, look, offset=(0.35 * s, 0.0))
        elif name == "far":
            img = synth_iris.eye_image(pattern, look, scale=1.0 - 0.5 * s)
        else:
            base = self._eyes.get(eye.value)
            if base is None:
                base = self._eyes[eye.value] = synth_iris.eye_image(pattern, look)
            img = base
        img = synth_iris.gaze(img, rng)
        if name == "blur":
            img = degrade.blur(img, s, max_sigma=3.5)
        elif name == "dark":
            img = degrade.darken(img, s)
        elif name == "bright":
            img = degrade.brighten(img, s)
        elif name == "degraded":
            img = degrade.blur(degrade.darken(img, 0.5 * s), s, max_sigma=3.0)
        return img

    # --- face ------------------------------------------------------------------------

    def backdrop(self, birth_year: int | None) -> tuple[int, int, int]:
        """The SOP's backdrop for the birth year; without one, a colour the subject's
        seed picks (a production kit always knows the birth year)."""
        if birth_year is None:
            birth_year = int(self.rng("birth_year_parity").integers(0, 2))
        return synth_face.backdrop_for(birth_year)

    def face(self, birth_year: int | None, fault: Fault | None) -> NDArray[np.uint8]:
        name, s = (fault.name, fault.severity) if fault else ("clean", 0.0)
        backdrop = self.backdrop(birth_year)
        if name == "wrong_background":
            backdrop = (synth_face.BLUE_BGR if backdrop == synth_face.RED_BGR
                        else synth_face.RED_BGR)
        rng = self.rng("face")
        if name == "no_face":
            return synth_face.face_frame(rng, backdrop=backdrop, faces=0)
        if name == "multiple_faces":
            return synth_face.face_frame(rng, backdrop=backdrop, faces=2)
        if name == "off_centre":
            return synth_face.face_frame(rng, backdrop=backdrop, offset=(0.25 * s, 0.0))
        if name == "far":
            return synth_face.face_frame(rng, backdrop=backdrop, scale=1.0 - 0.5 * s)
        base = self._faces.get(backdrop)
        if base is None:
            base = synth_face.face_frame(rng, backdrop=backdrop)
            self._faces[backdrop] = base
        if name == "blur":
            return degrade.blur(base, s, max_sigma=5.0)
        if name == "dark":
            return degrade.darken(base, s)
        if name == "bright":
            return degrade.brighten(base, s)
        if name == "degraded":
            return degrade.blur(degrade.darken(base, 0.6 * s), s, max_sigma=4.0)
        return base

    # --- signature -------------------------------------------------------------------

    def signature(self, fault: Fault | None) -> Gray:
        name, s = (fault.name, fault.severity) if fault else ("clean", 0.0)
        if name == "empty":
            return synth_signature.signature_image(self.rng("signature"), ink=False)
        if name in ("too_small", "degraded"):
            return synth_signature.signature_image(self.rng("signature"),
                                                   scale=1.0 - 0.9 * s)
        if self._signature is None:
            self._signature = synth_signature.signature_image(self.rng("signature"))
        if name == "smeared":
            size = 1 + 2 * int(1 + 8 * s)
            return u8(cv2.erode(self._signature, np.ones((size, size), np.uint8)))
        return self._signature
