"""Quality measures: they find what the SOP asks for, and scores fall as captures degrade."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hal.backends.sim import simulated_devices
from hal.backends.sim_control import SimulationControl
from hal.quality import (
    QualityThresholds,
    face_quality,
    fingerprint_quality,
    iris_quality,
    signature_quality,
)
from hal.quality.grading import grade
from hal.synth import degrade, rng_for
from hal.synth.face import BLUE_BGR, RED_BGR, face_frame
from hal.synth.finger import finger_pattern, impression, render
from hal.synth.iris import eye_image, iris_pattern
from hal.synth.signature import signature_image
from hal.types import Eye, Finger, Modality


@pytest.fixture(scope="module")
def kit():
    sim = SimulationControl(seed=11)
    devices = simulated_devices(sim, kinds=("camera", "fingerprint", "iris", "signature"))
    sim.set_subject("3275014101050001", birth_year=2005)
    yield sim, devices
    for d in devices.values():
        d.close()


def _falls(scores: list[int], slack: int = 0) -> bool:
    """Scores never rise by more than ``slack`` (measures jitter a little, e.g. where the eye
    cascade puts an eye) and end clearly lower."""
    return all(b <= a + slack for a, b in itertools.pairwise(scores)) and scores[0] > scores[-1]


# --- face ----------------------------------------------------------------------------------


def test_haar_detector_finds_exactly_one_sim_face_for_many_subjects():
    for i in range(25):
        frame = face_frame(rng_for(5, "subject", i), backdrop=RED_BGR if i % 2 else BLUE_BGR)
        assessment = face_quality(frame, birth_year=1981 if i % 2 else 1990)
        assert assessment.quality.measures["faces"] == 1, i
        assert assessment.quality.score >= QualityThresholds().face, assessment.quality
        assert assessment.quality.measures["eye_distance"] >= 90
        assert assessment.warnings == ()
        x, y, w, h = assessment.crop
        assert w * 4 == pytest.approx(h * 3, abs=4) and x >= 0 and y >= 0


def test_face_reasons_and_background_rule():
    rng = rng_for(5, "face")
    assert face_quality(face_frame(rng, faces=0)).quality.reasons == ("no_face",)
    assert face_quality(face_frame(rng, faces=0)).crop is None
    assert "multiple_faces" in face_quality(face_frame(rng, faces=2)).quality.reasons
    far = face_quality(face_frame(rng, scale=0.55)).quality
    assert "eyes_too_close" in far.reasons and far.measures["eye_distance"] < 90
    assert "off_centre" in face_quality(face_frame(rng, offset=(0.3, 0))).quality.reasons
    red = face_frame(rng, backdrop=RED_BGR)
    assert face_quality(red, birth_year=1987).warnings == ()
    wrong = face_quality(red, birth_year=1988)
    assert wrong.warnings == ("background_blue_expected",)
    assert wrong.quality.score == face_quality(red).quality.score  # advice only
    assert face_quality(face_frame(rng, backdrop=BLUE_BGR), birth_year=1987).warnings == (
        "background_red_expected",)


@pytest.mark.parametrize(("fault", "reason", "worst"), [
    ("blur", "blur", 1.0), ("dark", "too_dark", 0.7), ("bright", "too_bright", 0.7)])
def test_face_score_falls_with_degradation(fault, reason, worst):
    frame = face_frame(rng_for(5, "face"), backdrop=RED_BGR)
    op = {"blur": degrade.blur, "dark": degrade.darken, "bright": degrade.brighten}[fault]
    scores = [face_quality(op(frame, s)).quality.score for s in (0.0, worst / 2, worst)]
    assert _falls(scores, slack=10), scores
    assert reason in face_quality(op(frame, worst)).quality.reasons


# --- fingerprint ---------------------------------------------------------------------------


def test_clean_fingerprints_pass_with_measures():
    for i in range(10):
        img = impression(render(finger_pattern(rng_for(2, "f", i))), rng_for(2, "i", i))
        q = fingerprint_quality(img)
        assert q.score >= 80 and q.reasons == ()
        assert {"foreground", "ridge_contrast", "coherence", "foreground_mean"} <= set(q.measures)


@pytest.mark.parametrize("fault", ["blur", "partial", "dry", "wet", "smudge", "noisy", "dark"])
def test_fingerprint_score_falls_as_the_fault_worsens(kit, fault):
    sim, devices = kit
    scores = []
    for severity in (0.0, 0.5, 1.0):
        if severity:
            sim.queue("fingerprint", fault, severity=severity)
        scores.append(devices["fingerprint"].capture(Finger.LEFT_MIDDLE).quality.score)
    assert _falls(scores), scores
    assert scores[-1] < QualityThresholds().finger


def test_present_finger_quality_orders_scores(kit):
    sim, devices = kit
    scores = []
    for q in (1.0, 0.7, 0.4, 0.1):
        sim.present_finger(quality=q)
        scores.append(devices["fingerprint"].capture(Finger.RIGHT_RING).quality.score)
    assert _falls(scores), scores
    assert scores[0] >= 40 > scores[-1]


def test_fingerprint_reason_codes():
    blank = np.full((336, 256), 226, np.uint8)
    assert fingerprint_quality(blank).reasons == ("no_finger",)
    noise = np.random.default_rng(0).integers(0, 255, (336, 256)).astype(np.uint8)
    assert "smudged" in fingerprint_quality(noise).reasons


# --- iris and signature -------------------------------------------------------------------


def test_iris_clean_and_reasons():
    pattern = iris_pattern(rng_for(3, "eye"))
    clean = iris_quality(eye_image(pattern, rng_for(3, "look")))
    assert clean.score >= QualityThresholds().iris and clean.reasons == ()
    assert clean.measures["visible"] > 0.9
    occluded = iris_quality(eye_image(pattern, rng_for(3, "look"), lid_open=0.3))
    assert "occluded" in occluded.reasons
    assert iris_quality(eye_image(pattern, rng_for(3, "look"), lid_open=0.0)).reasons == (
        "no_iris",)
    assert iris_quality(np.full((240, 320), 128, np.uint8)).reasons == ("no_iris",)


@pytest.mark.parametrize("fault", ["blur", "dark", "occluded", "far"])
def test_iris_score_falls_as_the_fault_worsens(kit, fault):
    sim, devices = kit
    scores = []
    for severity in (0.0, 0.5, 1.0):
        if severity:
            sim.queue("iris", fault, severity=severity)
        scores.append(devices["iris"].capture(Eye.RIGHT).quality.score)
    assert _falls(scores), scores
    assert scores[-1] < QualityThresholds().iris


def test_signature_quality():
    rng = rng_for(4, "sig")
    assert signature_quality(signature_image(rng)).score == 100
    assert signature_quality(signature_image(rng, ink=False)).reasons == ("empty",)
    assert "too_small" in signature_quality(signature_image(rng, scale=0.1)).reasons
    line = np.full((160, 480), 250, np.uint8)
    line[80:83, 40:440] = 10  # a resident who cannot sign draws a line: accepted
    assert signature_quality(line).score >= QualityThresholds().signature


# --- helpers and thresholds -----------------------------------------------------------


def test_grade_puts_the_limit_at_the_pass_mark():
    assert grade(90, 90, 120, 0.5) == 0.5
    assert grade(120, 90, 120, 0.5) == 1.0
    assert grade(0.2, 0.35, 0.2, 0.5) == 1.0  # less is better
    assert grade(0.35, 0.35, 0.2, 0.5) == 0.5
    with pytest.raises(ValueError):
        grade(1, 1, 1, 0.5)


def test_thresholds_are_configurable():
    t = QualityThresholds(finger=50)
    assert t.for_modality(Modality.FINGER) == 50 and t.for_modality("iris") == 60
    assert t.passes(Modality.FACE, 50) and not t.passes("signature", 29)
    assert QualityThresholds().match == 0.5


def test_scoring_accepts_gray_or_bgr_and_rejects_other_shapes():
    frame = face_frame(rng_for(1, "f"))
    assert face_quality(frame[:, :, 0]).quality.measures["faces"] == 1  # gray: no backdrop rule
    with pytest.raises(ValueError):
        fingerprint_quality(np.zeros((2, 2, 2, 2), np.uint8))
