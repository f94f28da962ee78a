"""The simulated backend: every device of a kit, in software, shipped in the package (like
gpiozero's ``MockPin``). The default for ``make demo`` and the tests.

One :class:`SimulationControl` stands for one simulated kit and the resident in front of
it. Its verbs stage what happens next, like gpiozero's ``drive_high()``::

    sim = SimulationControl(seed=7)
    camera, scanner = SimulatedCamera(sim), SimulatedFingerprintScanner(sim)
    sim.set_subject("3275014101050001", birth_year=2005)   # blue backdrop: even year
    sim.present_finger(quality=0.2)          # the next finger is a poor one
    sim.queue("camera", "blur")              # the next face frame is out of focus
    sim.unplug("iris")                       # DeviceUnplugged until sim.replug("iris")
    sim.timeout_next("fingerprint")          # the next capture raises CaptureTimeout
    sim.busy_next("signature")               # ... DeviceBusy

and ``sim.history`` records every verb and capture with a timestamp. Captures are real
images (drawn by :mod:`hal.synth`), scored by :mod:`hal.quality` and encoded by
:mod:`hal.encode`, exactly as a real backend's would be. Printers keep their jobs;
the receipt printer's bytes are real ESC/POS from python-escpos's ``Dummy``; the
indicators are real gpiozero devices on gpiozero's ``MockFactory``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hal.backends.gpio import GpioIndicators
from hal.backends.sim_images import FAULTS, Fault, SubjectImages
from hal.encode import encode_face, encode_fingerprint, encode_iris, encode_signature
from hal.errors import (
    CaptureTimeout,
    DeviceBusy,
    DeviceClosed,
    DeviceUnplugged,
    PaperOut,
    PrinterOffline,
)
from hal.ports import (
    Camera,
    CodeReader,
    Device,
    DocumentPrinter,
    FingerprintScanner,
    IrisScanner,
    ReceiptPrinter,
    SignaturePad,
)
from hal.quality import face_quality, fingerprint_quality, iris_quality, signature_quality
from hal.types import (
    Capture,
    DeviceInfo,
    DeviceKind,
    Eye,
    Finger,
    ImageFormat,
    Modality,
    Receipt,
    SelfTestResult,
)

KINDS: tuple[str, ...] = tuple(DeviceKind)
DEFAULT_SUBJECT = "sim-subject"
SUBJECTS_KEPT = 1  # subjects whose drawn patterns stay cached (~8 MB each; redrawn alike)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One entry of the history: seconds since the control was made, device kind, what."""

    at: float
    kind: str
    action: str
    detail: str = ""


class SimulationControl:
    """The state of one simulated kit: the subject in front of it, queued faults, device
    errors to raise, and the history. Thread-safe: the UI captures from worker threads."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.subject = DEFAULT_SUBJECT
        self.birth_year: int | None = None
        self.history: list[SimEvent] = []
        self._lock = threading.RLock()
        self._started = time.monotonic()
        self._faults: dict[str, deque[Fault]] = {k: deque() for k in KINDS}
        self._errors: dict[str, deque[str]] = {k: deque() for k in KINDS}
        self._unplugged: set[str] = set()
        self._presented: dict[tuple[str, str, str], int] = {}
        self._subjects: OrderedDict[str, SubjectImages] = OrderedDict()

    # --- verbs ---------------------------------------------------------------------------

    def set_subject(self, subject_id: str, *, birth_year: int | None = None) -> None:
        """Put a resident in front of the kit. Images depend on (seed, subject, finger or
        eye); the birth year's parity picks the face's backdrop (red odd, blue even)."""
        with self._lock:
            self.subject, self.birth_year = subject_id, birth_year
            self._record("kit", "set_subject", f"{subject_id} {birth_year or ''}".strip())

    def step_away(self) -> None:
        """The resident leaves the kit (their recording sealed or cancelled): nobody in
        front of it, and the patterns drawn for them dropped, so a day of recordings
        keeps no one's images in memory."""
        with self._lock:
            self.subject, self.birth_year = DEFAULT_SUBJECT, None
            self._subjects.clear()
            self._record("kit", "step_away")

    def queue(self, kind: str, fault: str, *, severity: float = 1.0, times: int = 1) -> None:
        """The next ``times`` captures of ``kind`` suffer ``fault`` (see
        :data:`hal.backends.sim_images.FAULTS`), at ``severity`` 0..1."""
        allowed = FAULTS.get(kind)
        if allowed is None:
            raise ValueError(f"{kind!r} does not capture images; one of {sorted(FAULTS)}")
        if fault not in allowed:
            raise ValueError(f"unknown {kind} fault {fault!r}; one of {sorted(allowed)}")
        if not 0.0 <= severity <= 1.0 or times < 1:
            raise ValueError("severity is 0..1 and times at least 1")
        with self._lock:
            self._faults[kind].extend([Fault(fault, severity)] * times)
            self._record(kind, "queue", f"{fault}:{severity:g} x{times}")

    def present_finger(self, *, quality: float = 1.0, times: int = 1) -> None:
        """The next finger(s) are presented at ``quality`` 0 (unusable) .. 1 (clean): dry,
        light, blurred and noisy in proportion."""
        if not 0.0 <= quality <= 1.0:
            raise ValueError("quality is 0..1")
        if quality < 1.0:
            self.queue("fingerprint", "degraded", severity=1.0 - quality, times=times)

    def unplug(self, kind: str) -> None:
        """Every use of the device raises DeviceUnplugged until :meth:`replug`."""
        with self._lock:
            self._unplugged.add(self._kind(kind))
            self._record(kind, "unplug")

    def replug(self, kind: str) -> None:
        with self._lock:
            self._unplugged.discard(self._kind(kind))
            self._record(kind, "replug")

    def timeout_next(self, kind: str, *, times: int = 1) -> None:
        """The next ``times`` uses raise CaptureTimeout (at once: tests do not wait)."""
        with self._lock:
            self._errors[self._kind(kind)].extend(["timeout"] * times)
            self._record(kind, "timeout_next", f"x{times}")

    def busy_next(self, kind: str, *, times: int = 1) -> None:
        with self._lock:
            self._errors[self._kind(kind)].extend(["busy"] * times)
            self._record(kind, "busy_next", f"x{times}")

    def clear(self, kind: str | None = None) -> None:
        """Drop queued faults and errors (of one device kind, or all) and replug."""
        with self._lock:
            for k in [self._kind(kind)] if kind else list(KINDS):
                self._faults[k].clear()
                self._errors[k].clear()
                self._unplugged.discard(k)
            self._record(kind or "kit", "clear")

    def pending(self, kind: str) -> list[Fault]:
        with self._lock:
            return list(self._faults[self._kind(kind)])

    def events(self, kind: str | None = None, action: str | None = None) -> list[SimEvent]:
        with self._lock:
            return [e for e in self.history
                    if (kind is None or e.kind == kind) and (action is None or e.action == action)]

    def is_unplugged(self, kind: str) -> bool:
        return self._kind(kind) in self._unplugged

    # --- used by the simulated devices ---------------------------------------------------

    def images(self) -> SubjectImages:
        """The current subject's images (cached for the last few subjects)."""
        with self._lock:
            images = self._subjects.get(self.subject)
            if images is None:
                images = SubjectImages(self.seed, self.subject)
                self._subjects[self.subject] = images
                while len(self._subjects) > SUBJECTS_KEPT:
                    self._subjects.popitem(last=False)
            self._subjects.move_to_end(self.subject)
            return images

    def begin(self, kind: str, *, delay: float = 0.0, timeout: float | None = None) -> Fault | None:
        """Called by a device before it acts: raise the staged error, take device time,
        and hand back the next queued fault (None for a clean capture)."""
        with self._lock:
            if kind in self._unplugged:
                self._record(kind, "error", "unplugged")
                raise DeviceUnplugged(f"the {kind} is unplugged", device=kind)
            error = self._errors[kind].popleft() if self._errors[kind] else None
            if error:
                self._record(kind, "error", error)
            if error == "busy":
                raise DeviceBusy(f"the {kind} is busy", device=kind)
            if error == "timeout":
                raise CaptureTimeout(f"the {kind} timed out", device=kind)
        if delay > 0:
            if timeout is not None and 0 < timeout < delay:
                time.sleep(timeout)
                self._record(kind, "error", "timeout")
                raise CaptureTimeout(f"the {kind} took longer than {timeout:g} s", device=kind)
            time.sleep(delay)
        with self._lock:
            return self._faults[kind].popleft() if self._faults[kind] else None

    def presentation(self, kind: str, position: str) -> int:
        """How many times this subject has shown this finger/eye/face before (0, 1, ...):
        part of each capture's random seed, so re-scans differ but replay identically."""
        with self._lock:
            key = (self.subject, kind, position)
            n = self._presented.get(key, 0)
            self._presented[key] = n + 1
            return n

    def record(self, kind: str, action: str, detail: str = "") -> None:
        with self._lock:
            self._record(kind, action, detail)

    def _record(self, kind: str, action: str, detail: str = "") -> None:
        self.history.append(SimEvent(time.monotonic() - self._started, kind, action, detail))

    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown device kind {kind!r}; one of {list(KINDS)}")
        return kind


def _info(control: SimulationControl, kind: str, model: str) -> DeviceInfo:
    return DeviceInfo(kind=kind, model=f"Rekam simulated {model}",
                      serial=f"SIM-{kind.upper()}-{control.seed}", firmware="sim-1", backend="sim")


class _Simulated(Device):
    """What every simulated device shares: the control, device time, closed checks."""

    kind = ""
    control: SimulationControl
    delay: float

    def _begin(self, timeout: float | None = None) -> Fault | None:
        if self.closed:
            raise DeviceClosed(f"the simulated {self.kind} is closed", device=self.kind)
        return self.control.begin(self.kind, delay=self.delay, timeout=timeout)

    def self_test(self) -> SelfTestResult:
        if self.closed:
            return SelfTestResult(False, "closed")
        if self.control.is_unplugged(self.kind):
            return SelfTestResult(False, "unplugged")
        return SelfTestResult(True, "simulated")


class SimulatedCamera(_Simulated, Camera):
    kind = "camera"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "camera 640x480"))
        self.control, self.delay = control, delay

    def capture_face(self, *, timeout: float = 10.0, birth_year: int | None = None) -> Capture:
        """``birth_year``, when given, stands for the resident's (the backdrop is drawn and
        judged for it); else the subject's from :meth:`SimulationControl.set_subject`."""
        fault = self._begin(timeout)
        c = self.control
        self.control.presentation(self.kind, "face")
        year = birth_year if birth_year is not None else c.birth_year
        frame = c.images().face(year, fault)
        assessment = face_quality(frame, birth_year=year)
        h, w = frame.shape[:2]
        crop = assessment.crop or (0, 0, w, h)
        x, y, cw, ch = crop
        pixels = frame[y:y + ch, x:x + cw].copy()
        c.record(self.kind, "capture", f"face {fault or 'clean'} {assessment.quality.score}")
        return Capture(Modality.FACE, None, encode_face(frame, crop), ImageFormat.JPEG,
                       pixels.shape[1], pixels.shape[0], assessment.quality, self.info,
                       pixels=pixels, warnings=assessment.warnings)


class SimulatedFingerprintScanner(_Simulated, FingerprintScanner):
    kind = "fingerprint"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0,
                 image_format: ImageFormat = ImageFormat.JP2) -> None:
        super().__init__(_info(control, self.kind, "500 ppi single-finger scanner"))
        self.control, self.delay, self.image_format = control, delay, image_format

    def capture(self, finger: Finger, *, timeout: float = 10.0) -> Capture:
        finger = Finger(finger)
        fault = self._begin(timeout)
        c = self.control
        images = c.images()
        n = c.presentation(self.kind, finger.value)
        gray = images.finger(finger, images.rng("impression", finger.value, n, str(fault)), fault)
        quality = fingerprint_quality(gray)
        c.record(self.kind, "capture", f"{finger.value} {fault or 'clean'} {quality.score}")
        return Capture(Modality.FINGER, finger.value,
                       encode_fingerprint(gray, fmt=self.image_format), self.image_format,
                       gray.shape[1], gray.shape[0], quality, self.info, pixels=gray)


class SimulatedIrisScanner(_Simulated, IrisScanner):
    kind = "iris"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "near-infrared iris camera"))
        self.control, self.delay = control, delay

    def capture(self, eye: Eye, *, timeout: float = 10.0) -> Capture:
        eye = Eye(eye)
        fault = self._begin(timeout)
        c = self.control
        images = c.images()
        n = c.presentation(self.kind, eye.value)
        gray = images.eye(eye, images.rng("gaze", eye.value, n, str(fault)), fault)
        quality = iris_quality(gray)
        c.record(self.kind, "capture", f"{eye.value} {fault or 'clean'} {quality.score}")
        return Capture(Modality.IRIS, eye.value, encode_iris(gray), ImageFormat.JP2,
                       gray.shape[1], gray.shape[0], quality, self.info, pixels=gray)


class SimulatedSignaturePad(_Simulated, SignaturePad):
    kind = "signature"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "signature pad 480x160"))
        self.control, self.delay = control, delay

    def capture_signature(self, *, timeout: float = 60.0) -> Capture:
        fault = self._begin(timeout)
        c = self.control
        c.presentation(self.kind, "signature")
        gray = c.images().signature(fault)
        quality = signature_quality(gray)
        c.record(self.kind, "capture", f"signature {fault or 'clean'} {quality.score}")
        return Capture(Modality.SIGNATURE, None, encode_signature(gray), ImageFormat.PNG,
                       gray.shape[1], gray.shape[0], quality, self.info, pixels=gray)


class SimulatedCodeReader(_Simulated, CodeReader):
    """A barcode/QR scanner; :meth:`scan` is the test verb (a code held under it)."""

    kind = "code_reader"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "QR code reader"))
        self.control, self.delay = control, delay
        self._codes: deque[str] = deque()
        self._arrived = threading.Condition()

    def scan(self, code: str) -> None:
        with self._arrived:
            self._codes.append(code)
            self._arrived.notify_all()
        self.control.record(self.kind, "scan", code)

    def read(self, *, timeout: float = 0.0) -> str | None:
        self._begin(None)
        with self._arrived:
            if not self._codes and timeout > 0:
                self._arrived.wait_for(lambda: bool(self._codes), timeout)
            code = self._codes.popleft() if self._codes else None
        if code is not None:
            self.control.record(self.kind, "read", code)
        return code


class _SimulatedPrinter(_Simulated):
    """Paper and connection state shared by the two printers (test verbs)."""

    _paper = True
    _online = True

    def paper_out(self) -> None:
        """The paper runs out: every print raises PaperOut until :meth:`load_paper`."""
        self._paper = False
        self.control.record(self.kind, "paper_out")

    def load_paper(self) -> None:
        self._paper = True
        self.control.record(self.kind, "load_paper")

    def go_offline(self) -> None:
        """The printer drops off (cover open, power): PrinterOffline until :meth:`go_online`."""
        self._online = False
        self.control.record(self.kind, "offline")

    def go_online(self) -> None:
        self._online = True
        self.control.record(self.kind, "online")

    def _check_ready(self) -> None:
        self._begin(None)
        if not self._online:
            self.control.record(self.kind, "error", "offline")
            raise PrinterOffline(f"the {self.kind.replace('_', ' ')} is offline", device=self.kind)
        if not self._paper:
            self.control.record(self.kind, "error", "paper_out")
            raise PaperOut(f"the {self.kind.replace('_', ' ')} is out of paper", device=self.kind)


class SimulatedReceiptPrinter(_SimulatedPrinter, ReceiptPrinter):
    """Keeps every receipt in :attr:`jobs` and the ESC/POS bytes sent in :attr:`output`."""

    kind = "receipt_printer"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "58 mm ESC/POS receipt printer"))
        self.control, self.delay = control, delay
        self.jobs: list[Receipt] = []
        self._dummy: Any = None

    def paper(self) -> str:
        return "ok" if self._paper else "out"

    def print_receipt(self, receipt: Receipt) -> None:
        self._check_ready()
        if self._dummy is None:
            # python-escpos takes ~0.3 s to import (its printer profiles): only when used
            from escpos.printer import Dummy

            self._dummy = Dummy()
        from hal.backends.escpos_receipt import render_receipt

        render_receipt(self._dummy, receipt)
        self.jobs.append(receipt)
        self.control.record(self.kind, "print", receipt.title)

    @property
    def output(self) -> bytes:
        return bytes(self._dummy.output) if self._dummy is not None else b""

    def last_receipt_text(self) -> str:
        """The last receipt as the paper shows it, in plain text ("" before the first)."""
        from hal.backends.escpos_receipt import receipt_text

        return receipt_text(self.jobs[-1]) if self.jobs else ""

    def text(self) -> str:
        """The printable text of :attr:`output` (commands stripped roughly), for tests."""
        return "".join(ch if ch.isprintable() or ch == "\n" else " "
                       for ch in self.output.decode("latin-1"))


@dataclass(frozen=True, slots=True)
class PrintJob:
    job_id: str
    title: str
    pdf: bytes


class SimulatedDocumentPrinter(_SimulatedPrinter, DocumentPrinter):
    """An A4 printer that keeps its jobs in :attr:`jobs`."""

    kind = "document_printer"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "A4 printer"))
        self.control, self.delay = control, delay
        self.jobs: list[PrintJob] = []

    def print_pdf(self, pdf: bytes, *, title: str = "rekam") -> str:
        if not pdf.startswith(b"%PDF-"):
            raise ValueError("not a PDF document")
        self._check_ready()
        job = PrintJob(f"sim-{len(self.jobs) + 1}", title, bytes(pdf))
        self.jobs.append(job)
        self.control.record(self.kind, "print", f"{job.job_id} {title}")
        return job.job_id


class SimulatedIndicators(GpioIndicators):
    """The kit's LEDs, buzzer and button as real gpiozero devices on ``MockFactory`` pins.
    :attr:`factory` exposes the pins (``factory.pin(17).states``); :meth:`press_button` is
    the test verb."""

    kind = "indicators"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        from gpiozero.pins.mock import MockFactory

        self.control, self.delay = control, delay
        self.factory = MockFactory()
        super().__init__(pin_factory=self.factory, background=False, backend="sim",
                         beep_seconds=0.0)
        self.info = _info(control, self.kind, "LEDs, buzzer and button (gpiozero MockFactory)")

    def show(self, state: str) -> None:
        super().show(state)
        self.control.record(self.kind, "show", state)

    def beep(self, pattern: str = "ok") -> None:
        super().beep(pattern)
        self.control.record(self.kind, "beep", pattern)

    def press_button(self) -> None:
        """Press and hold the capture button until a :meth:`wait_for_button` sees it."""
        self.factory.pin(self.pins.button).drive_low()
        self.control.record(self.kind, "press_button")

    def wait_for_button(self, *, timeout: float | None = None) -> bool:
        pressed = super().wait_for_button(timeout=timeout)
        if pressed:
            self.factory.pin(self.pins.button).drive_high()  # released
        return pressed

    def _close(self) -> None:
        super()._close()
        self.factory.close()


SIMULATED: dict[str, type[Any]] = {
    "camera": SimulatedCamera,
    "fingerprint": SimulatedFingerprintScanner,
    "iris": SimulatedIrisScanner,
    "signature": SimulatedSignaturePad,
    "code_reader": SimulatedCodeReader,
    "receipt_printer": SimulatedReceiptPrinter,
    "document_printer": SimulatedDocumentPrinter,
    "indicators": SimulatedIndicators,
}


def simulated_devices(control: SimulationControl, *, delay: float = 0.0,
                      kinds: Iterable[str] = KINDS) -> dict[str, Device]:
    """Simulated devices on ``control`` (one of each kind by default), keyed by kind."""
    return {kind: SIMULATED[kind](control, delay=delay) for kind in kinds}
