"""One port per kind of device. The core depends on these, never on a backend.

A backend **must** override: ``info`` (via ``__init__``), ``_close()`` and each capture
method of its port. It **may** override ``self_test()`` (the default captures nothing and
reports the device present) and ``_open()``.

Every device is a context manager with an idempotent ``close()``. Drivers are synchronous;
the UI calls them from worker threads. Capture methods raise :mod:`hal.errors` exceptions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from hal.types import Capture, DeviceInfo, Eye, Finger, Receipt, SelfTestResult


class Device(ABC):  # noqa: B024 - abstract by intent; the ports add the abstract methods
    def __init__(self, info: DeviceInfo) -> None:
        self.info = info
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release the hardware; called once."""

    def self_test(self) -> SelfTestResult:
        return SelfTestResult(ok=not self._closed, detail="" if not self._closed else "closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Camera(Device):
    @abstractmethod
    def capture_face(self, *, timeout: float = 10.0, birth_year: int | None = None) -> Capture:
        """A face photo, cropped, encoded as JPEG, with its quality. ``birth_year`` (the
        resident's) turns on the backdrop-colour advice: red for odd years, blue for even."""


class FingerprintScanner(Device):
    @abstractmethod
    def capture(self, finger: Finger, *, timeout: float = 10.0) -> Capture:
        """One flat finger image, 500 ppi 8-bit grayscale, with its quality."""


class IrisScanner(Device):
    @abstractmethod
    def capture(self, eye: Eye, *, timeout: float = 10.0) -> Capture:
        """One iris image (JPEG 2000), with its quality."""


class SignaturePad(Device):
    @abstractmethod
    def capture_signature(self, *, timeout: float = 60.0) -> Capture:
        """The resident's signature as a PNG."""


class CodeReader(Device):
    @abstractmethod
    def read(self, *, timeout: float = 0.0) -> str | None:
        """The next scanned code, or None when nothing was scanned within ``timeout``."""


class ReceiptPrinter(Device):
    @abstractmethod
    def print_receipt(self, receipt: Receipt) -> None:
        """Print one receipt; raise PaperOut or PrinterOffline when it cannot."""

    def paper(self) -> str:
        """The paper as the printer reports it: "ok", "low" (near its end), "out", or
        "unknown" (the default: a connection that cannot read status back). May override."""
        return "unknown"


class DocumentPrinter(Device):
    @abstractmethod
    def print_pdf(self, pdf: bytes, *, title: str = "rekam") -> str:
        """Queue an A4 PDF; return the job id."""


class Indicators(Device):
    @abstractmethod
    def show(self, state: str) -> None:
        """Show the kit's state on the LEDs: "idle", "busy", "ok", "error", "offline"."""

    @abstractmethod
    def beep(self, pattern: str = "ok") -> None:
        """Sound the buzzer: "ok" (one short), "error" (three short)."""

    @abstractmethod
    def wait_for_button(self, *, timeout: float | None = None) -> bool:
        """Block until the capture button is pressed; False on timeout."""
