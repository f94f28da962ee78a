"""Typed values that devices hand to the core: what was captured, by which device, how good."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Modality(StrEnum):
    FACE = "face"
    SIGNATURE = "signature"
    FINGER = "finger"
    IRIS = "iris"


class DeviceKind(StrEnum):
    """Every device a kit has, by its attribute name on ``KitDevices`` and its key in a
    ``hal`` spec (``camera=opencv,*=sim``); the order is the order they open and show."""

    CAMERA = "camera"
    FINGERPRINT = "fingerprint"
    IRIS = "iris"
    SIGNATURE = "signature"
    CODE_READER = "code_reader"
    RECEIPT_PRINTER = "receipt_printer"
    DOCUMENT_PRINTER = "document_printer"
    INDICATORS = "indicators"

    @property
    def captures(self) -> bool:
        """A device a recording cannot do without (the others only help)."""
        return self in CAPTURE_DEVICE.values()


CAPTURE_DEVICE: dict[Modality, DeviceKind] = {
    Modality.FACE: DeviceKind.CAMERA, Modality.SIGNATURE: DeviceKind.SIGNATURE,
    Modality.FINGER: DeviceKind.FINGERPRINT, Modality.IRIS: DeviceKind.IRIS,
}
"""The device that captures each modality."""


class Finger(StrEnum):
    """The ten fingers, in the order the kit captures them (right hand first, thumb to little)."""

    RIGHT_THUMB = "right_thumb"
    RIGHT_INDEX = "right_index"
    RIGHT_MIDDLE = "right_middle"
    RIGHT_RING = "right_ring"
    RIGHT_LITTLE = "right_little"
    LEFT_THUMB = "left_thumb"
    LEFT_INDEX = "left_index"
    LEFT_MIDDLE = "left_middle"
    LEFT_RING = "left_ring"
    LEFT_LITTLE = "left_little"


class Eye(StrEnum):
    RIGHT = "right"
    LEFT = "left"


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    JP2 = "jp2"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    kind: str  # "camera", "fingerprint", "iris", "signature", "code_reader", ...
    model: str
    serial: str
    firmware: str
    backend: str  # "sim", "picamera2", "opencv", "sbi", "libfprint", "escpos", ...

    @property
    def simulated(self) -> bool:
        return self.backend == "sim"


@dataclass(frozen=True, slots=True)
class Quality:
    """A 0-100 score and the machine-readable reasons that lowered it ("blur", "dark", ...).

    Reasons are codes, not sentences: the UI's catalogue turns them into Bahasa Indonesia.
    ``measures`` keeps the raw numbers behind the score for the manifest and for tuning.
    """

    score: int
    reasons: tuple[str, ...] = ()
    measures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture, held in memory only. ``image`` is encoded (``image_format``); ``pixels``
    is the decoded grayscale or BGR array kept for verification matching, never persisted."""

    modality: Modality
    position: str | None  # a Finger or Eye value, None for face and signature
    image: bytes
    image_format: ImageFormat
    width: int
    height: int
    quality: Quality
    device: DeviceInfo
    captured_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    pixels: Any = field(default=None, repr=False, compare=False)
    # advice that does not lower the score, e.g. "background_red_expected"
    warnings: tuple[str, ...] = ()
    # the device's own signed statement of this capture (an SBI device's compact JWS), which
    # travels in the packet so HQ can verify it; None for devices that sign nothing
    evidence: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the receipt printer prints after sealing: plain facts, no biometrics."""

    title: str
    lines: tuple[tuple[str, str], ...]  # (label, value) pairs, already in the reader's language
    qr_payload: str | None = None
    footer: str = ""
