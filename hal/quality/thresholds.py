"""Pass thresholds of the quality gates, in one configurable place."""

from __future__ import annotations

from dataclasses import dataclass

from hal.types import Modality

# The pass marks the grades are calibrated to (see ``hal.quality.grading.grade``). They are
# the default thresholds below; a kit may configure stricter or looser gates without
# changing scores.
FACE_PASS = 0.50
FINGER_PASS = 0.40  # MOSIP's registration threshold for fingers
IRIS_PASS = 0.60  # MOSIP's registration threshold for irises
SIGNATURE_PASS = 0.30


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Minimum scores (0-100) for a capture to pass, and the minimum verification match
    (0-1, from :func:`hal.quality.match_fingerprints`)."""

    face: int = round(FACE_PASS * 100)
    finger: int = round(FINGER_PASS * 100)
    iris: int = round(IRIS_PASS * 100)
    signature: int = round(SIGNATURE_PASS * 100)
    match: float = 0.5

    def for_modality(self, modality: Modality | str) -> int:
        return int(getattr(self, Modality(modality).value))

    def passes(self, modality: Modality | str, score: int) -> bool:
        return score >= self.for_modality(modality)
