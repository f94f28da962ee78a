"""Stand-ins for vendor objects, injected into the real adapters so the contract suite can
run them here. This module holds the simulated subject every fake shows (:data:`SUBJECT`)
and the small ones: a V4L2 capture, a Picamera2, an ESC/POS printer that answers status
queries and a CUPS ``lp``. The others live beside it, one vendor API each:
:mod:`sbi_fakes` (an SBI service signing its captures with a test PKI), :mod:`evdev_fakes`
(a keyboard-like scanner and a pen tablet) and :mod:`libfprint_fakes` (libfprint's FPrint
namespace)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from escpos.printer import Dummy

from hal.backends.sim_images import SubjectImages

SUBJECT = SubjectImages(seed=99, subject="fake-vendor-subject")


class FakeVideoCapture:
    """cv2.VideoCapture returning the simulated subject's face."""

    def __init__(self, frames: int = 100) -> None:
        self.frames, self.opened, self.reads = frames, True, 0

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, Any]:
        self.reads += 1
        if self.reads > self.frames:
            return False, None
        return True, SUBJECT.face(1990, None).copy()

    def release(self) -> None:
        self.opened = False


class FakePicamera2:
    def __init__(self) -> None:
        self.started = self.closed = False

    def capture_array(self, stream: str = "main") -> Any:
        return SUBJECT.face(1991, None).copy()

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


class StatusDummy(Dummy):
    """An ESC/POS Dummy that answers real-time status queries (DLE EOT n)."""

    def __init__(self) -> None:
        super().__init__()
        self.paper = 0x12  # RT_MASK_PAPER: paper adequate
        self.online = 0x00  # bit 3 clear: online
        self._last = b""

    def _raw(self, msg: bytes) -> None:
        self._last = msg
        super()._raw(msg)

    def _read(self) -> bytes:
        if self._last == b"\x10\x04\x04":
            return bytes([self.paper])
        if self._last == b"\x10\x04\x01":
            return bytes([self.online])
        return b""


def fake_lp(tmp: Path, *, fail: bool = False) -> str:
    """An ``lp`` that keeps the PDF it is given and answers like CUPS."""
    script = tmp / "lp"
    out = tmp / "printed.pdf"
    body = ('echo "lp: Error - The printer or class does not exist." >&2; exit 1'
            if fail else f'cat > "{out}"; echo "request id is kit-printer-42 (1 file(s))"')
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)
