"""UVC/V4L2 webcams through OpenCV's ``VideoCapture`` (the capture object is injected, so
tests pass a fake that returns frames)."""

from __future__ import annotations

import glob
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hal.backends.frame_camera import FrameCamera
from hal.errors import DeviceNotFound, DeviceUnplugged
from hal.types import DeviceInfo


def _node_number(path: str) -> int:
    digits = re.search(r"\d+$", path)
    return int(digits.group()) if digits else 0


class OpenCVCamera(FrameCamera):
    def __init__(self, capture: Any, *, name: str = "video", warmup: int = 3) -> None:
        super().__init__(DeviceInfo("camera", "V4L2 camera", name, "", "opencv"))
        self._capture = capture
        self.warmup = warmup

    @classmethod
    def open(cls, device: int | str | None = None, *, width: int = 1280,
             height: int = 960) -> OpenCVCamera:
        """``device``, or the first ``/dev/video*`` that delivers a frame (on a Pi, most
        video nodes are the codec and ISP, not cameras), asking for ``width`` x ``height``."""
        import cv2

        nodes = [device] if device is not None else sorted(glob.glob("/dev/video*"),
                                                           key=_node_number)
        if not nodes:
            raise DeviceNotFound("no /dev/video* camera", device="camera")
        for node in nodes:
            capture = cv2.VideoCapture(node, cv2.CAP_V4L2)
            if capture.isOpened():
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
                if capture.read()[0]:
                    return cls(capture, name=str(node))
            capture.release()
        raise DeviceNotFound(f"no camera delivers frames ({', '.join(map(str, nodes))})",
                             device="camera")

    def _grab(self) -> NDArray[np.uint8] | None:
        if not self._capture.isOpened():
            raise DeviceUnplugged("the camera went away", device="camera")
        ok, frame = self._capture.read()
        return np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None

    def _close(self) -> None:
        self._capture.release()
