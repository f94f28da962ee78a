"""What every real camera backend shares: take a frame, judge it as an e-KTP photo, crop
and encode it. A backend only says how to grab one BGR frame (:meth:`FrameCamera._grab`)."""

from __future__ import annotations

import time
from abc import abstractmethod

import numpy as np
from numpy.typing import NDArray

from hal.encode import encode_face
from hal.errors import CaptureTimeout, DeviceClosed
from hal.ports import Camera
from hal.quality import face_quality
from hal.types import Capture, ImageFormat, Modality


class FrameCamera(Camera):
    """A camera that delivers frames. The resident's birth year, passed to
    :meth:`capture_face` (or set as the ``birth_year`` attribute, the older way), turns on
    the backdrop-colour advice; ``warmup`` frames are dropped after opening so
    auto-exposure settles."""

    birth_year: int | None = None
    warmup: int = 3

    @abstractmethod
    def _grab(self) -> NDArray[np.uint8] | None:
        """One BGR frame, or None when the camera had none ready."""

    def capture_face(self, *, timeout: float = 10.0, birth_year: int | None = None) -> Capture:
        if self.closed:
            raise DeviceClosed("the camera is closed", device="camera")
        deadline = time.monotonic() + timeout
        frame = None
        while frame is None or self.warmup > 0:
            if time.monotonic() > deadline:
                raise CaptureTimeout(f"no frame from the camera in {timeout:g} s",
                                     device="camera")
            got = self._grab()
            if got is not None:
                frame = got
                self.warmup = max(0, self.warmup - 1)
            else:
                time.sleep(0.01)
        year = birth_year if birth_year is not None else self.birth_year
        assessment = face_quality(frame, birth_year=year)
        h, w = frame.shape[:2]
        x, y, cw, ch = assessment.crop or (0, 0, w, h)
        pixels = np.ascontiguousarray(frame[y:y + ch, x:x + cw])
        return Capture(Modality.FACE, None, encode_face(pixels), ImageFormat.JPEG,
                       pixels.shape[1], pixels.shape[0], assessment.quality, self.info,
                       pixels=pixels, warnings=assessment.warnings)
