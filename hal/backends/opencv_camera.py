"""UVC/V4L2 webcams through OpenCV's ``VideoCapture`` (the capture object is injected, so
tests pass a fake that returns frames)."""

from __future__ import annotations

import glob
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hal.backends.frame_camera import FrameCamera
from hal.errors import DeviceNotFound, DeviceUnplugged
from hal.types import DeviceInfo


class OpenCVCamera(FrameCamera):
    def __init__(self, capture: Any, *, name: str = "video", warmup: int = 3) -> None:
        super().__init__(DeviceInfo("camera", "V4L2 camera", name, "", "opencv"))
        self._capture = capture
        self.warmup = warmup

    @classmethod
    def open(cls, device: int | str | None = None, *, width: int = 1280,
             height: int = 960) -> OpenCVCamera:
        """The first ``/dev/video*`` (or ``device``), asking for ``width`` x ``height``."""
        import cv2

        if device is None:
            nodes = sorted(glob.glob("/dev/video*"))
            if not nodes:
                raise DeviceNotFound("no /dev/video* camera", device="camera")
            device = nodes[0]
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise DeviceNotFound(f"cannot open camera {device}", device="camera")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return cls(capture, name=str(device))

    def _grab(self) -> NDArray[np.uint8] | None:
        if not self._capture.isOpened():
            raise DeviceUnplugged("the camera went away", device="camera")
        ok, frame = self._capture.read()
        return np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None

    def _close(self) -> None:
        self._capture.release()
