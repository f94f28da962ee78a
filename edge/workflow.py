"""The enrolment workflow: an explicit state machine with no UI, driven through hal ports.

    IDENTIFY → FACE → SIGNATURE → FINGERPRINTS → IRISES → VERIFICATION → REVIEW → SEALED
                              (CANCELLED from any step before SEALED)

Each step has *slots* (the face; each of ten fingers; each eye; both index fingers again).
A slot is done when a capture passes its quality gate, when ``max_attempts`` were used (the
best attempt is kept and flagged), or when a supervisor approved an exception for it.
Captures live only in this object's memory; :meth:`Enrolment.cancel` and sealing drop them.
A device error leaves the slot exactly as it was, so the operator can simply try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from edge.clock import Clock, utc_now
from edge.errors import ApprovalRequired, InvalidInput, WorkflowError
from edge.packet import CaptureRecord, ExceptionRecord, Manifest, VerificationRecord
from edge.residents import Resident
from hal.ports import Camera, FingerprintScanner, IrisScanner, SignaturePad
from hal.types import Capture, Eye, Finger, Modality


class Step(StrEnum):
    IDENTIFY = "identify"
    FACE = "face"
    SIGNATURE = "signature"
    FINGERPRINTS = "fingerprints"
    IRISES = "irises"
    VERIFICATION = "verification"
    REVIEW = "review"
    SEALED = "sealed"
    CANCELLED = "cancelled"


STEP_ORDER: tuple[Step, ...] = (
    Step.IDENTIFY, Step.FACE, Step.SIGNATURE, Step.FINGERPRINTS, Step.IRISES,
    Step.VERIFICATION, Step.REVIEW,
)


class ExceptionReason(StrEnum):
    AMPUTATED = "amputated"
    BANDAGED = "bandaged"  # temporary: a wound or a cast
    UNABLE = "unable"  # present but cannot be captured (worn ridges, tremor, ...)
    BLIND = "blind"  # irises only


EXCEPTION_REASONS: dict[Modality, tuple[ExceptionReason, ...]] = {
    Modality.FINGER: (ExceptionReason.AMPUTATED, ExceptionReason.BANDAGED, ExceptionReason.UNABLE),
    Modality.IRIS: (ExceptionReason.BLIND, ExceptionReason.AMPUTATED, ExceptionReason.BANDAGED,
                    ExceptionReason.UNABLE),
}
"""The reasons a supervisor may approve for a finger or an eye that cannot be captured,
in the order the UI offers them; every other modality has none."""


@dataclass(frozen=True)
class Slot:
    step: Step
    modality: Modality
    position: str | None

    @property
    def key(self) -> str:
        return f"{self.step}:{self.position or self.modality}"


@dataclass
class SlotState:
    slot: Slot
    best: Capture | None = None
    attempts: int = 0
    scores: list[int] = field(default_factory=list)
    passed: bool = False
    exception: ExceptionRecord | None = None
    match_score: float | None = None  # verification slots only

    @property
    def done(self) -> bool:
        return self.passed or self.exception is not None or self.exhausted

    @property
    def exhausted(self) -> bool:
        return self._max_attempts is not None and self.attempts >= self._max_attempts

    _max_attempts: int | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    slot: Slot
    capture: Capture
    score: int
    passed: bool
    attempts: int
    attempts_left: int
    best_score: int
    match_score: float | None = None

    @property
    def slot_done(self) -> bool:
        return self.passed or self.attempts_left == 0


@dataclass(frozen=True)
class Thresholds:
    face: int = 50
    signature: int = 30
    finger: int = 40
    iris: int = 60
    match: float = 0.5

    def for_modality(self, modality: Modality) -> int:
        return {
            Modality.FACE: self.face, Modality.SIGNATURE: self.signature,
            Modality.FINGER: self.finger, Modality.IRIS: self.iris,
        }[modality]


class CaptureDevices(Protocol):
    @property
    def camera(self) -> Camera: ...
    @property
    def fingerprint(self) -> FingerprintScanner: ...
    @property
    def iris(self) -> IrisScanner: ...
    @property
    def signature(self) -> SignaturePad: ...


class Approver(Protocol):
    """Checks a supervisor's PIN (``OperatorStore.approve``); returns the approver's id."""

    def __call__(self, supervisor_id: str, pin: str, purpose: str) -> str: ...


_VERIFY_FALLBACK = {
    Finger.RIGHT_INDEX: (Finger.RIGHT_THUMB, Finger.RIGHT_MIDDLE, Finger.RIGHT_RING,
                         Finger.RIGHT_LITTLE),
    Finger.LEFT_INDEX: (Finger.LEFT_THUMB, Finger.LEFT_MIDDLE, Finger.LEFT_RING,
                        Finger.LEFT_LITTLE),
}


def _slots_for(step: Step) -> list[Slot]:
    if step is Step.FACE:
        return [Slot(step, Modality.FACE, None)]
    if step is Step.SIGNATURE:
        return [Slot(step, Modality.SIGNATURE, None)]
    if step is Step.FINGERPRINTS:
        return [Slot(step, Modality.FINGER, f.value) for f in Finger]
    if step is Step.IRISES:
        return [Slot(step, Modality.IRIS, e.value) for e in Eye]
    if step is Step.VERIFICATION:
        return [Slot(step, Modality.FINGER, f.value) for f in (Finger.RIGHT_INDEX,
                                                                Finger.LEFT_INDEX)]
    return []


@dataclass(frozen=True)
class ReviewLine:
    slot: Slot
    status: str  # "ok", "low_quality", "exception", "not_matched"
    score: int | None
    attempts: int
    detail: str = ""


class Enrolment:
    """One resident's recording, from confirmed identity to a sealed packet."""

    def __init__(
        self,
        *,
        resident: Resident,
        operator_id: str,
        device_id: str,
        service_point: str,
        devices: CaptureDevices,
        approver: Approver,
        packet_id: str,
        thresholds: Thresholds = Thresholds(),
        max_attempts: int = 3,
        clock: Clock = utc_now,
        software_version: str = "0",
    ) -> None:
        if max_attempts < 1:
            raise InvalidInput("max_attempts must be at least 1")
        self.resident = resident
        self.operator_id = operator_id
        self.device_id = device_id
        self.service_point = service_point
        self.packet_id = packet_id
        self.thresholds = thresholds
        self.max_attempts = max_attempts
        self.software_version = software_version
        self._devices = devices
        self._approver = approver
        self._clock = clock
        self.started_at: datetime = clock()
        self._step = Step.IDENTIFY
        self._states: dict[str, SlotState] = {}
        self.events: list[tuple[str, dict[str, str]]] = []  # for the audit log
        for step in STEP_ORDER:
            for slot in _slots_for(step):
                self._states[slot.key] = SlotState(slot, _max_attempts=max_attempts)

    # --- where we are -------------------------------------------------------------------

    @property
    def step(self) -> Step:
        return self._step

    def slots(self, step: Step | None = None) -> list[SlotState]:
        step = step or self._step
        return [self._states[s.key] for s in _slots_for(step)]

    def next_slot(self) -> Slot | None:
        for state in self.slots():
            if not state.done:
                return state.slot
        return None

    def state_of(self, slot: Slot) -> SlotState:
        return self._states[slot.key]

    def missing(self) -> list[Slot]:
        return [s.slot for s in self.slots() if not s.done]

    # --- moving between steps -------------------------------------------------------------

    def confirm_identity(self) -> None:
        """The operator checked the demographics with the resident; capture can begin."""
        self._require(Step.IDENTIFY)
        self._step = Step.FACE
        self._event("identity_confirmed")

    def advance(self) -> Step:
        if self._step in (Step.IDENTIFY,):
            self.confirm_identity()
            return self._step
        if self._step in (Step.REVIEW, Step.SEALED, Step.CANCELLED):
            raise WorkflowError(f"cannot advance from {self._step}")
        missing = self.missing()
        if missing:
            names = ", ".join(s.position or s.modality for s in missing)
            raise WorkflowError(f"{self._step} is not finished: {names}", missing=names)
        self._step = STEP_ORDER[STEP_ORDER.index(self._step) + 1]
        return self._step

    def back(self) -> Step:
        """One step back; captures already made are kept and can be redone."""
        if self._step in (Step.IDENTIFY, Step.SEALED, Step.CANCELLED):
            raise WorkflowError(f"cannot go back from {self._step}")
        self._step = STEP_ORDER[STEP_ORDER.index(self._step) - 1]
        return self._step

    def cancel(self) -> None:
        """Abandon the enrolment; every capture is dropped from memory, nothing was written."""
        if self._step is Step.SEALED:
            raise WorkflowError("this enrolment is already sealed")
        self._wipe()
        self._step = Step.CANCELLED
        self._event("enrolment_cancelled")

    # --- capturing ---------------------------------------------------------------------------

    def capture(self, slot: Slot | None = None) -> AttemptOutcome:
        """One attempt at ``slot`` (default: the next unfinished one in this step).

        Device errors (hal.errors) propagate unchanged and leave the slot as it was.
        """
        slot = slot or self.next_slot()
        if slot is None:
            raise WorkflowError(f"every capture of {self._step} is done; advance to go on")
        if slot.step is not self._step:
            raise WorkflowError(f"{slot.key} belongs to {slot.step}, not {self._step}")
        state = self._states[slot.key]
        if state.exception is not None:
            raise WorkflowError(f"{slot.position} has an approved exception; clear it first")
        if state.attempts >= self.max_attempts and not state.passed:
            # The operator chose to try once more after the limit: a fresh round of attempts.
            state.attempts = 0
        capture = self._capture_from_device(slot)
        score = capture.quality.score
        threshold = self.thresholds.for_modality(slot.modality)
        match: float | None = None
        passed = score >= threshold
        if slot.step is Step.VERIFICATION:
            match = self._match(slot, capture)
            passed = passed and match >= self.thresholds.match
        state.attempts += 1
        state.scores.append(score)
        better = state.best is None or (
            (passed, score) > (state.passed, state.best.quality.score)
        )
        if better:
            state.best = capture
            state.match_score = match
        state.passed = state.passed or passed
        self._event(
            "capture", slot=slot.key, score=str(score), attempt=str(state.attempts),
            passed=str(passed),
        )
        best_score = state.best.quality.score if state.best else score
        return AttemptOutcome(
            slot=slot, capture=capture, score=score, passed=passed, attempts=state.attempts,
            attempts_left=0 if state.passed else self.max_attempts - state.attempts,
            best_score=best_score, match_score=match,
        )

    def _capture_from_device(self, slot: Slot) -> Capture:
        d = self._devices
        if slot.modality is Modality.FACE:
            return d.camera.capture_face(birth_year=self.resident.birth_date.year)
        if slot.modality is Modality.SIGNATURE:
            return d.signature.capture_signature()
        if slot.modality is Modality.FINGER:
            return d.fingerprint.capture(Finger(self._verification_finger(slot)))
        return d.iris.capture(Eye(str(slot.position)))

    def _verification_finger(self, slot: Slot) -> str:
        """The finger to re-scan: the index finger, or the hand's best other finger when the
        index finger is an exception (the chip's fallback rule)."""
        assert slot.position is not None
        if slot.step is not Step.VERIFICATION:
            return slot.position
        index = Finger(slot.position)
        enrolled = self._states[f"{Step.FINGERPRINTS}:{index.value}"]
        if enrolled.best is not None:
            return index.value
        candidates = [
            self._states[f"{Step.FINGERPRINTS}:{f.value}"] for f in _VERIFY_FALLBACK[index]
        ]
        usable = [c for c in candidates if c.best is not None]
        if not usable:
            raise WorkflowError(f"no captured finger on the {index.value.split('_')[0]} hand")
        best = max(usable, key=lambda c: c.best.quality.score if c.best else -1)
        assert best.slot.position is not None
        return best.slot.position

    def _match(self, slot: Slot, capture: Capture) -> float:
        # Imported here: it pulls in OpenCV, which the sync daemon (importing edge.kit) and
        # other processes that never capture should not pay ~60 MB of memory for.
        from hal.quality import match_fingerprints

        enrolled = self._states[f"{Step.FINGERPRINTS}:{self._verification_finger(slot)}"]
        assert enrolled.best is not None
        return float(match_fingerprints(enrolled.best.pixels, capture.pixels))

    def except_slot(
        self, slot: Slot, reason: ExceptionReason | str, *, supervisor_id: str, pin: str,
        note: str = "",
    ) -> ExceptionRecord:
        """Record a missing or unusable finger or eye, approved by a supervisor's PIN."""
        try:
            reason = ExceptionReason(reason)
        except ValueError as exc:
            raise InvalidInput(f"unknown exception reason {reason!r}") from exc
        allowed = EXCEPTION_REASONS.get(slot.modality, ())
        if slot.step not in (Step.FINGERPRINTS, Step.IRISES) or reason not in allowed:
            raise InvalidInput(f"{reason} is not an exception for {slot.position or slot.modality}")
        if not supervisor_id or not pin:
            raise ApprovalRequired("a supervisor must approve this exception with their PIN")
        approver = self._approver(supervisor_id, pin, f"exception {slot.key} {reason}")
        record = ExceptionRecord(
            modality=slot.modality.value, position=str(slot.position), reason=reason.value,
            approved_by=approver, approved_at=self._clock().isoformat(), note=note,
        )
        state = self._states[slot.key]
        state.exception = record
        state.best = None
        state.passed = False
        self._event("exception_approved", slot=slot.key, reason=reason.value, by=approver)
        if slot.step is Step.FINGERPRINTS:
            # An excepted index finger changes which finger verification re-scans.
            for key in (f"{Step.VERIFICATION}:{Finger.RIGHT_INDEX}",
                        f"{Step.VERIFICATION}:{Finger.LEFT_INDEX}"):
                v = self._states[key]
                v.best, v.passed, v.attempts, v.scores, v.match_score = None, False, 0, [], None
        return record

    def clear_exception(self, slot: Slot) -> None:
        self._states[slot.key].exception = None

    # --- review and sealing -------------------------------------------------------------------

    def review(self) -> list[ReviewLine]:
        lines = []
        for step in (Step.FACE, Step.SIGNATURE, Step.FINGERPRINTS, Step.IRISES,
                     Step.VERIFICATION):
            for s in self.slots(step):
                if s.exception is not None:
                    lines.append(ReviewLine(s.slot, "exception", None, s.attempts,
                                            s.exception.reason))
                elif s.best is None:
                    lines.append(ReviewLine(s.slot, "missing", None, s.attempts))
                elif step is Step.VERIFICATION and not s.passed:
                    lines.append(ReviewLine(s.slot, "not_matched", s.best.quality.score,
                                            s.attempts, f"{s.match_score or 0:.2f}"))
                else:
                    status = "ok" if s.passed else "low_quality"
                    lines.append(ReviewLine(s.slot, status, s.best.quality.score, s.attempts))
        return lines

    def build_packet_contents(self, sealed_at: datetime) -> tuple[Manifest, dict[str, bytes]]:
        """The manifest and images to seal. Only valid in REVIEW."""
        self._require(Step.REVIEW)
        captures: list[CaptureRecord] = []
        images: dict[str, bytes] = {}
        exceptions: list[ExceptionRecord] = []
        verification: list[VerificationRecord] = []
        warnings: list[str] = []
        for step in (Step.FACE, Step.SIGNATURE, Step.FINGERPRINTS, Step.IRISES):
            for s in self.slots(step):
                if s.exception is not None:
                    exceptions.append(s.exception)
                    continue
                if s.best is None:
                    raise WorkflowError(f"{s.slot.key} has no capture")
                c = s.best
                name = f"{c.modality}_{c.position}" if c.position else str(c.modality)
                fname = f"{name}.{c.image_format}"
                images[fname] = c.image
                evidence = None
                if c.evidence is not None:  # the device's signed capture, for HQ to check
                    evidence = f"{name}.jws"
                    images[evidence] = c.evidence.encode()
                captures.append(CaptureRecord(
                    modality=c.modality.value, position=c.position, file=fname,
                    image_format=c.image_format.value, width=c.width, height=c.height,
                    quality=c.quality.score, quality_reasons=list(c.quality.reasons),
                    passed=s.passed, attempts=s.attempts, device_model=c.device.model,
                    device_serial=c.device.serial, device_backend=c.device.backend,
                    captured_at=c.captured_at.isoformat(), evidence=evidence,
                ))
                warnings.extend(f"{name}:{w}" for w in c.warnings)
                if not s.passed:
                    warnings.append(f"{name}:below_threshold")
        for s in self.slots(Step.VERIFICATION):
            if s.best is not None:
                verification.append(VerificationRecord(
                    position=self._verification_finger(s.slot),
                    match_score=round(s.match_score or 0.0, 3), matched=s.passed,
                    quality=s.best.quality.score,
                ))
                if not s.passed:
                    warnings.append(f"verification_{s.slot.position}:not_matched")
        manifest = Manifest(
            packet_id=self.packet_id, nik=self.resident.nik, device_id=self.device_id,
            operator_id=self.operator_id, service_point=self.service_point,
            started_at=self.started_at.isoformat(), sealed_at=sealed_at.isoformat(),
            software_version=self.software_version, captures=captures, exceptions=exceptions,
            verification=verification, warnings=warnings,
            audit=[{"action": a, **d} for a, d in self.events],
            kelurahan=self.resident.kelurahan,
        )
        return manifest, images

    def mark_sealed(self) -> None:
        self._require(Step.REVIEW)
        self._wipe()
        self._step = Step.SEALED

    def simulated_backends(self) -> list[str]:
        return sorted({
            s.best.device.kind for s in self._states.values()
            if s.best is not None and s.best.device.simulated
        })

    # --- helpers -----------------------------------------------------------------------------

    def _require(self, step: Step) -> None:
        if self._step is not step:
            raise WorkflowError(f"this needs the {step} step; the enrolment is at {self._step}")

    def _wipe(self) -> None:
        for state in self._states.values():
            state.best = None

    def _event(self, action: str, **detail: str) -> None:
        self.events.append((action, {"at": self._clock().isoformat(), **detail}))


def run_clean(enrolment: Enrolment, on_attempt: Callable[[AttemptOutcome], None] | None = None
              ) -> None:
    """Drive every step to REVIEW, taking each slot's attempts until it is done (scripts,
    ``rekam enrol --sim`` and benchmarks; the UI drives the same methods one key at a time)."""
    if enrolment.step is Step.IDENTIFY:
        enrolment.confirm_identity()
    while enrolment.step is not Step.REVIEW:
        slot = enrolment.next_slot()
        while slot is not None:
            outcome = enrolment.capture(slot)
            if on_attempt is not None:
                on_attempt(outcome)
            if outcome.slot_done:
                slot = enrolment.next_slot()
        enrolment.advance()
