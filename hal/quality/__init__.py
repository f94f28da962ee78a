"""Image quality measures and the verification matcher: pure functions on numpy arrays.

Every measure returns a :class:`hal.types.Quality`: a 0-100 score (the weakest of the
modality's graded measures), reason codes for what pulled it under the default pass mark,
and the raw measures behind it. Pass thresholds live in :class:`QualityThresholds`.

* :func:`face_quality` — :mod:`hal.quality.face`
* :func:`fingerprint_quality` — :mod:`hal.quality.finger`
* :func:`iris_quality` — :mod:`hal.quality.iris`
* :func:`signature_quality` — :mod:`hal.quality.signature`
* :func:`match_fingerprints` — :mod:`hal.quality.match`
"""

from hal.imaging import Box
from hal.quality.face import FaceAssessment, face_quality
from hal.quality.finger import fingerprint_quality
from hal.quality.iris import iris_quality
from hal.quality.match import match_fingerprints
from hal.quality.signature import signature_quality
from hal.quality.thresholds import QualityThresholds

__all__ = [
    "Box",
    "FaceAssessment",
    "QualityThresholds",
    "face_quality",
    "fingerprint_quality",
    "iris_quality",
    "match_fingerprints",
    "signature_quality",
]
