"""The simulated kit's control, and what every simulated device shares.

One :class:`SimulationControl` stands for one simulated kit and the resident in front of
it; its verbs stage what happens next (see :mod:`hal.backends.sim`). :class:`_Simulated`
is the base of the simulated devices (:mod:`hal.backends.sim_capture`,
:mod:`hal.backends.sim_peripherals`): the control, device time, closed checks.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from hal.backends.sim_images import FAULTS, Fault, SubjectImages
from hal.errors import CaptureTimeout, DeviceBusy, DeviceClosed, DeviceUnplugged
from hal.ports import Device
from hal.types import DeviceInfo, DeviceKind, SelfTestResult

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
