"""Grading raw quality measures onto 0..1, and a modality's score from its grades."""

from __future__ import annotations


def grade(value: float, limit: float, good: float, pass_mark: float) -> float:
    """Map a raw measure onto 0..1 along the line through ``(limit, pass_mark)`` and
    ``(good, 1.0)``, clamped. ``good`` may be below ``limit`` for measures where less is
    better. A measure exactly at its limit therefore grades ``pass_mark``: each modality's
    score is its weakest grade, so a measure on the wrong side of its limit always pulls the
    score under that modality's default pass threshold, and its reason code is never shown
    on a capture that passes."""
    if good == limit:
        raise ValueError("good and limit must differ")
    slope = (1.0 - pass_mark) / (good - limit)
    return min(1.0, max(0.0, pass_mark + (value - limit) * slope))


def score_of(grades: dict[str, float]) -> int:
    """The score is the weakest grade: one bad aspect is enough to retake a capture."""
    return round(100 * min(grades.values())) if grades else 0
