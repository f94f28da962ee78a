"""Verification matching: re-scans of one finger match, other fingers and people do not."""

from __future__ import annotations

import numpy as np
import pytest

from hal.backends.sim import simulated_devices
from hal.backends.sim_control import SimulationControl
from hal.quality import QualityThresholds, match_fingerprints
from hal.types import Finger

THRESHOLD = QualityThresholds().match


@pytest.fixture(scope="module")
def prints():
    """Two captures (enrolment and verification re-scan) of every finger of three people."""
    sim = SimulationControl(seed=21)
    scanner = simulated_devices(sim, kinds=["fingerprint"])["fingerprint"]
    out = {}
    for person in ("3275010101900001", "3275014505950002", "3275011212000003"):
        sim.set_subject(person)
        for finger in Finger:
            first = scanner.capture(finger).pixels
            out[person, finger] = (first, scanner.capture(finger).pixels)
    scanner.close()
    return out


def test_rescans_of_the_same_finger_match(prints):
    scores = [match_fingerprints(a, b) for a, b in prints.values()]
    assert min(scores) >= 0.9, sorted(scores)[:5]


def test_other_fingers_and_other_people_do_not_match(prints):
    keys = list(prints)
    scores = []
    for i, key in enumerate(keys):
        other = keys[(i + 7) % len(keys)]  # a different finger, often of another person
        scores.append(match_fingerprints(prints[key][0], prints[other][1]))
    assert max(scores) < THRESHOLD, sorted(scores)[-5:]
    assert float(np.median(scores)) < 0.15


def test_the_same_finger_of_another_person_does_not_match(prints):
    people = sorted({p for p, _ in prints})
    for finger in (Finger.RIGHT_INDEX, Finger.LEFT_INDEX):
        score = match_fingerprints(prints[people[0], finger][0], prints[people[1], finger][1])
        assert score < THRESHOLD


def test_match_survives_a_poorer_rescan():
    sim = SimulationControl(seed=22)
    scanner = simulated_devices(sim, kinds=["fingerprint"])["fingerprint"]
    enrolled = scanner.capture(Finger.RIGHT_INDEX)
    sim.present_finger(quality=0.6)
    rescan = scanner.capture(Finger.RIGHT_INDEX)
    assert rescan.quality.score < enrolled.quality.score
    assert match_fingerprints(enrolled.pixels, rescan.pixels) >= THRESHOLD


def test_match_needs_pixels():
    with pytest.raises(ValueError):
        match_fingerprints(None, np.zeros((336, 256), np.uint8))  # type: ignore[arg-type]


def test_match_tolerates_a_few_degrees_of_rotation(prints):
    import cv2

    person = sorted({p for p, _ in prints})[0]
    for finger in (Finger.RIGHT_INDEX, Finger.LEFT_MIDDLE):
        a, b = prints[person, finger]
        turn = cv2.getRotationMatrix2D((b.shape[1] / 2, b.shape[0] / 2), 5.0, 1.0)
        turned = cv2.warpAffine(b, turn, (b.shape[1], b.shape[0]), borderValue=226)
        assert match_fingerprints(a, turned) >= THRESHOLD
