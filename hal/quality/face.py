"""Face photo quality: exactly one frontal face, large enough, centred, sharp, well exposed,
and the background colour the SOP asks for (red for odd birth years, blue for even).

Detection uses OpenCV's bundled Haar cascades (``cv2.data.haarcascades``; they ship with
opencv-python before 5.0), loaded once on first use. The face is found on a copy of the
frame scaled to :data:`DETECT_WIDTH` pixels wide, which keeps a 640x480 frame to a few
milliseconds; every measure is reported in the full frame's pixels.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from hal.imaging import Box, Gray, as_gray
from hal.quality.grading import grade, score_of
from hal.quality.thresholds import FACE_PASS
from hal.types import Quality

DETECT_WIDTH = 128  # a 640x480 frame scaled by 5: ~5 ms, and faces 1/5 of the frame still found
EYE_ROI_WIDTH = 100
MIN_EYE_DISTANCE = 90.0  # pixels between eye centres (ISO/IEC 19794-5 full frontal)
EYE_DISTANCE_PER_FACE_WIDTH = 0.40  # a Haar face box is ~2.5 inter-eye distances wide
SHARPNESS_WIDTH = 128  # the face is scaled to this width before the Laplacian, so the
#                        sharpness measure does not depend on how big the face is

_cascades: dict[str, cv2.CascadeClassifier] = {}
_cascade_lock = threading.Lock()


def _cascade(name: str) -> cv2.CascadeClassifier:
    """Load a bundled cascade once; the XML parse costs ~20 ms, detection far less."""
    with _cascade_lock:
        cascade = _cascades.get(name)
        if cascade is None:
            cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
            if cascade.empty():
                raise RuntimeError(f"OpenCV's Haar cascade {name} is missing (opencv>=5?)")
            _cascades[name] = cascade
        return cascade


class FaceAssessment(NamedTuple):
    """What :func:`face_quality` found. Unpacks as ``quality, warnings, crop``."""

    quality: Quality
    warnings: tuple[str, ...]
    crop: Box | None  # the ID-photo crop (3:4 portrait) around the face, None without one


def detect_faces(gray: Gray) -> list[Box]:
    """Frontal faces in ``gray``, largest first, in the frame's pixels."""
    h, w = gray.shape
    k = w / DETECT_WIDTH if w > DETECT_WIDTH else 1.0
    small = gray if k == 1.0 else cv2.resize(
        gray, (DETECT_WIDTH, max(1, round(h / k))), interpolation=cv2.INTER_AREA)
    # Equalised first: a dark face on a dark backdrop (blue is dark in gray) still shows the
    # light/dark pattern the cascade looks for. Without it the detector misses dark skin.
    small = cv2.equalizeHist(small)
    side = min(small.shape)
    found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        small, scaleFactor=1.1, minNeighbors=3,
        minSize=(max(20, side // 5), max(20, side // 5)),
    )
    boxes = [(round(x * k), round(y * k), round(bw * k), round(bh * k)) for x, y, bw, bh in found]
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


def eye_centres(gray: Gray, face: Box) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The two eye centres inside ``face`` (frame pixels), or None when the eye cascade
    does not find one on each side of the face's middle."""
    x, y, w, h = face
    top, bottom = y + h // 6, y + (h * 3) // 5
    roi = gray[max(0, top):max(0, bottom), max(0, x):max(0, x + w)]
    if roi.size == 0:
        return None
    s = EYE_ROI_WIDTH / roi.shape[1]
    small = cv2.resize(roi, (EYE_ROI_WIDTH, max(1, round(roi.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        small, scaleFactor=1.15, minNeighbors=3, minSize=(14, 14), maxSize=(36, 36))
    left = [e for e in eyes if e[0] + e[2] / 2 < EYE_ROI_WIDTH / 2]
    right = [e for e in eyes if e[0] + e[2] / 2 >= EYE_ROI_WIDTH / 2]
    if not left or not right:
        return None

    def centre(e: Sequence[int]) -> tuple[float, float]:
        ex, ey, ew, eh = (float(v) for v in e)
        return (max(0, x) + (ex + ew / 2) / s, max(0, top) + (ey + eh / 2) / s)

    def biggest(es: list[Sequence[int]]) -> Sequence[int]:
        return max(es, key=lambda e: int(e[2] * e[3]))

    return centre(biggest(left)), centre(biggest(right))


def background_colour(bgr: NDArray[np.uint8]) -> tuple[str, float, float]:
    """("red" | "blue" | "other", median hue 0-180, median saturation) of the frame's top
    strip and upper side strips, where an ID photo shows only the backdrop."""
    k = max(1, bgr.shape[1] // DETECT_WIDTH)
    small = bgr[::k, ::k]
    sh, sw = small.shape[:2]
    top = small[: max(1, sh // 12)].reshape(-1, 3)
    sides = np.concatenate([small[: sh // 2, : max(1, sw // 12)].reshape(-1, 3),
                            small[: sh // 2, sw - max(1, sw // 12):].reshape(-1, 3)])
    strip = np.concatenate([top, sides]).reshape(-1, 1, 3)
    hsv = cv2.cvtColor(strip, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.float32)
    # Red wraps around hue 0: measure hue as a distance that is continuous across it.
    hue = hsv[:, 0]
    red_share = float(np.mean((hue <= 10) | (hue >= 165)))
    hue_med = float(np.median(np.where(hue >= 150, hue - 180, hue)) % 180)
    sat, val = float(np.median(hsv[:, 1])), float(np.median(hsv[:, 2]))
    if sat < 80 or val < 50:
        colour = "other"
    elif red_share > 0.5:
        colour = "red"
    elif 95 <= hue_med <= 135:
        colour = "blue"
    else:
        colour = "other"
    return colour, hue_med, sat


def crop_box(face: Box, frame_w: int, frame_h: int) -> Box:
    """A 3:4 portrait around the face, about twice the face box wide, with the face's
    centre 45 % from the top, shrunk (keeping the aspect) to fit inside the frame."""
    x, y, w, h = face
    cx, cy = x + w / 2, y + h / 2
    cw = 2.0 * w
    cw = min(cw, frame_w, frame_h * 3 / 4)
    ch = cw * 4 / 3
    left = min(max(0.0, cx - cw / 2), frame_w - cw)
    top = min(max(0.0, cy - 0.45 * ch), frame_h - ch)
    return round(left), round(top), round(cw), round(ch)


def face_quality(
    image: NDArray[np.uint8], *, birth_year: int | None = None
) -> FaceAssessment:
    """Score a camera frame (BGR, or gray without the background rule) for an e-KTP photo.

    Reasons: ``no_face``, ``multiple_faces``, ``eyes_too_close`` (inter-eye distance under
    90 px), ``off_centre``, ``blur``, ``too_dark``, ``too_bright``. Warnings (they do not
    lower the score): ``eye_distance_estimated`` when the eye cascade missed an eye and the
    distance was estimated from the face box's width, and ``background_red_expected`` /
    ``background_blue_expected`` when the backdrop does not match the birth year's parity.
    """
    frame = np.asarray(image)
    gray = as_gray(frame)
    fh, fw = gray.shape
    faces = detect_faces(gray)
    measures: dict[str, float] = {"faces": float(len(faces))}
    warnings: list[str] = []
    if frame.ndim == 3 and frame.shape[2] >= 3:
        colour, hue, sat = background_colour(np.ascontiguousarray(frame[:, :, :3]))
        measures.update(background_hue=hue, background_saturation=sat,
                        background_red=float(colour == "red"),
                        background_blue=float(colour == "blue"))
        if birth_year is not None:
            expected = "red" if birth_year % 2 else "blue"
            if colour != expected:
                warnings.append(f"background_{expected}_expected")
    if not faces:
        return FaceAssessment(Quality(0, ("no_face",), measures), tuple(warnings), None)

    face = faces[0]
    x, y, w, h = face
    grades: dict[str, float] = {}
    reasons: list[str] = []
    if len(faces) > 1:
        grades["multiple_faces"] = 0.2
        reasons.append("multiple_faces")

    eyes = eye_centres(gray, face)
    if eyes is None:
        eye_distance = EYE_DISTANCE_PER_FACE_WIDTH * w
        warnings.append("eye_distance_estimated")
    else:
        (lx, ly), (rx, ry) = eyes
        eye_distance = float(np.hypot(rx - lx, ry - ly))
    measures.update(eye_distance=eye_distance, eyes_found=float(eyes is not None),
                    face_x=float(x), face_y=float(y), face_width=float(w),
                    face_height=float(h))
    grades["eyes_too_close"] = grade(eye_distance, MIN_EYE_DISTANCE, 120.0, FACE_PASS)

    dx = abs((x + w / 2) / fw - 0.5)
    dy = abs((y + h / 2) / fh - 0.45)
    measures.update(offset_x=dx, offset_y=dy)
    grades["off_centre"] = min(grade(dx, 0.15, 0.05, FACE_PASS), grade(dy, 0.20, 0.08, FACE_PASS))

    roi = gray[max(0, y):y + h, max(0, x):x + w]
    scale = SHARPNESS_WIDTH / max(1, roi.shape[1])
    roi_small = cv2.resize(roi, (SHARPNESS_WIDTH, max(1, round(roi.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(roi_small, cv2.CV_32F).var())
    # log scale: Laplacian variance spans decades between a soft and a crisp face
    grades["blur"] = grade(float(np.log10(sharpness + 1.0)), np.log10(40.0), np.log10(200.0),
                           FACE_PASS)
    p10, p90 = (float(v) for v in np.percentile(roi_small, (10, 90)))
    clipped = float(np.mean(roi_small >= 250))
    measures.update(sharpness=sharpness, brightness_p10=p10, brightness_p90=p90,
                    clipped_bright=clipped, brightness_mean=float(roi_small.mean()))
    grades["too_dark"] = grade(p90, 70.0, 120.0, FACE_PASS)
    grades["too_bright"] = min(grade(p10, 190.0, 140.0, FACE_PASS),
                               grade(clipped, 0.25, 0.05, FACE_PASS))

    reasons += [r for r, g in grades.items() if g < FACE_PASS and r not in reasons]
    quality = Quality(score_of(grades), tuple(reasons), measures)
    return FaceAssessment(quality, tuple(warnings), crop_box(face, fw, fh))
