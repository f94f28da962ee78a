"""One exception tree for every device; each class also subclasses the matching builtin
(after gpiozero's ``exc.py``), so ``except TimeoutError`` still catches a capture timeout."""

from __future__ import annotations


class ShownError(Exception):
    """Base of every error shown to a person: devices' and the domain's (edge.errors
    .RekamError) alike, so the UI's catalogue reads ``code``, ``details`` and ``device``
    with their types instead of guessing with getattr. It lives here, in the lowest layer,
    because both trees stand on it."""

    code: str = "error"

    def __init__(self, message: str, *, device: str = "",
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.device = device  # the device kind at fault, or "" when no device is
        self.details: dict[str, object] = dict(details or {})


def code_of(error: BaseException | None, default: str = "error") -> str:
    """The catalogue code of an error shown to a person, or ``default`` for anything else
    (a bug's exception has no words of its own)."""
    return error.code if isinstance(error, ShownError) else default


class HalError(ShownError):
    """Base of every device error. ``device`` names the device kind ("fingerprint", ...)."""

    code = "hal"

    def __init__(self, message: str, *, device: str = "") -> None:
        super().__init__(message, device=device)

    def __str__(self) -> str:
        return self.message


class DeviceNotFound(HalError, LookupError):
    code = "device_not_found"


class DeviceClosed(HalError, RuntimeError):
    """The device was used after ``close()``: a programming error, not a hardware fault."""

    code = "device_closed"


class DeviceBusy(HalError, BlockingIOError):
    code = "device_busy"


class CaptureTimeout(HalError, TimeoutError):
    code = "capture_timeout"


class DeviceUnplugged(HalError, ConnectionError):
    code = "device_unplugged"


class PaperOut(HalError, OSError):
    code = "paper_out"


class PrinterOffline(HalError, ConnectionError):
    code = "printer_offline"


class CaptureUntrusted(HalError, ValueError):
    """A capture whose device signature does not verify, or whose device certificate does
    not lead to a trusted device provider: its image is never used."""

    code = "capture_untrusted"


class BackendUnavailable(HalError, ImportError):
    """A backend's vendor library or hardware is not present on this machine."""

    code = "backend_unavailable"


class SimulatedDeviceRefused(HalError, PermissionError):
    """A production kit was asked to record with a simulated device without explicit consent."""

    code = "simulated_device_refused"


class BackendFallback(RuntimeWarning):
    """Under ``auto``, no real device of a kind was found and the simulated one stands in
    (only where simulated devices are allowed). ``probed`` says what was looked for: each
    backend tried, and why it did not answer, so a person can be told what to check."""

    def __init__(self, kind: str, probed: tuple[tuple[str, str], ...]) -> None:
        reasons = "; ".join(f"{name}: {why}" for name, why in probed) or "no backends"
        super().__init__(f"no {kind} found ({reasons}); using the simulated one")
        self.kind = kind
        self.probed = probed
        self.reasons = reasons
