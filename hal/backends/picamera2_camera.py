"""Raspberry Pi cameras through picamera2 (libcamera).

picamera2 fails at import on machines without libcamera, so it is imported only here and
any import failure means the backend is unavailable; ``Picamera2.global_camera_info()``
lists attached cameras before one is opened (after pibooth's ``libcamera.py``). The
``Picamera2`` object is injected, so tests pass a fake.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hal.backends.frame_camera import FrameCamera
from hal.errors import BackendUnavailable, DeviceNotFound
from hal.types import DeviceInfo


class Picamera2Camera(FrameCamera):
    def __init__(self, camera: Any, *, model: str = "Raspberry Pi camera", warmup: int = 3) -> None:
        super().__init__(DeviceInfo("camera", model, "csi0", "", "picamera2"))
        self._camera = camera
        self.warmup = warmup

    @classmethod
    def open(cls, *, size: tuple[int, int] = (1280, 960)) -> Picamera2Camera:
        try:
            from picamera2 import Picamera2
        except Exception as exc:  # ImportError, or libcamera failing inside the import
            raise BackendUnavailable(f"picamera2 unavailable: {exc}", device="camera") from exc
        cameras = Picamera2.global_camera_info()
        if not cameras:
            raise DeviceNotFound("no camera on the CSI connector", device="camera")
        camera = Picamera2()
        # "RGB888" is laid out B, G, R in memory: the order OpenCV expects
        camera.configure(camera.create_still_configuration(main={"size": size,
                                                                 "format": "RGB888"}))
        camera.start()
        return cls(camera, model=str(cameras[0].get("Model", "Raspberry Pi camera")))

    def _grab(self) -> NDArray[np.uint8] | None:
        frame = self._camera.capture_array("main")
        return None if frame is None else np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)

    def _close(self) -> None:
        try:
            self._camera.stop()
        finally:
            self._camera.close()
