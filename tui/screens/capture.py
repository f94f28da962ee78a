"""The capture wizard: face → signature → ten fingers → irises → verification.

One key per step when the devices capture cleanly: Enter captures the step's slots one
after another (each in a worker), and a step whose every slot passed moves on by itself.
A capture below the pass mark stops and says why and what to do; Enter tries again (up to
the kit's limit, then the best attempt is kept and flagged). R redoes the selected finger or
eye, E records an exception with a supervisor's PIN, the arrows select on the hand map,
B goes back a step, Esc cancels (after asking). A device fault shows a message and Enter
tries again; it never leaves the wizard.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType

from edge.errors import RekamError
from edge.workflow import EXCEPTION_REASONS, Enrolment, Slot, Step
from hal.errors import HalError, code_of
from hal.types import CAPTURE_DEVICE
from tui import events as flow
from tui.messages import Captured, CaptureFailed
from tui.screens.base import Words, nothing
from tui.screens.capture_view import CaptureView, _Last
from tui.text import esc


class CaptureScreen(CaptureView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "primary", "capture", id="capture", priority=True),
        Binding("r", "retry", "retry", id="retry"),
        Binding("e", "exception", "exception", id="exception"),
        Binding("left", "select(-1)", "select", id="select", key_display="←→"),
        Binding("right", "select(1)", "select", show=False),
        Binding("b", "step_back", "step back", id="step_back"),
        Binding("escape", "cancel", "cancel", id="cancel"),
    ]

    def __init__(self, enrolment: Enrolment) -> None:
        super().__init__(enrolment)
        self.chain = False
        self.device_seconds: list[float] = []

    # --- what the keys do now ------------------------------------------------------------------

    def primary_mode(self) -> str:
        if self.busy_slot is not None:
            return "busy"
        if self.last.error is not None:
            return "retry_device"
        if self.target() is None:
            return "next_step"
        state = self.enrolment.state_of(self.target())  # type: ignore[arg-type]
        if state.attempts and not state.passed and not state.done:
            return "capture_again"
        return "capture"

    def key_label(self, binding_id: str) -> str | None:
        if binding_id == "capture":
            mode = self.primary_mode()
            if mode == "busy":
                return self.t("key.capture")
            return self.t(f"key.{mode}")
        if binding_id == "cancel" and self.busy_slot is not None:
            return self.t("key.stop")
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        busy = self.busy_slot is not None
        if action == "primary":
            return None if busy else True
        if action == "retry":
            slot = self.selected_slot()
            if slot is None or self.enrolment.state_of(slot).attempts == 0:
                return False  # nothing to redo yet: Enter captures
            return None if busy or self.enrolment.state_of(slot).exception is not None \
                else True
        if action == "exception":
            return None if busy else (self.step in (Step.FINGERPRINTS, Step.IRISES))
        if action == "select":
            return len(self.visual_order()) > 1
        if action == "step_back":
            return None if busy else True
        return True

    # --- capturing -------------------------------------------------------------------------

    def action_primary(self) -> None:
        mode = self.primary_mode()
        if mode == "busy":
            return
        if mode == "next_step":
            self._advance()
            return
        slot = self.last.error_slot if mode == "retry_device" and self.last.error_slot \
            else self.target()
        if slot is None:
            return
        self._start(slot, chain=True)

    def action_retry(self) -> None:
        slot = self.selected_slot()
        if slot is None or self.busy_slot is not None:
            return
        if self.enrolment.state_of(slot).exception is not None:
            return
        self._start(slot, chain=False)

    def _start(self, slot: Slot, *, chain: bool) -> None:
        self.busy_slot = slot
        self.chain = chain
        self.selected[self.step] = slot.key
        self.last = _Last(outcome=self.last.outcome)
        self.notice = nothing
        self._redraw()
        self._capture(slot)

    @work(thread=True, exclusive=True, exit_on_error=False, group="capture")
    def _capture(self, slot: Slot) -> None:
        started = time.perf_counter()
        try:
            outcome = self.enrolment.capture(slot)
        except (HalError, RekamError) as exc:
            self.post_message(CaptureFailed(slot, exc))
            return
        self.post_message(Captured(outcome, time.perf_counter() - started))

    def on_captured(self, message: Captured) -> None:
        message.stop()
        outcome = message.outcome
        self.device_seconds.append(message.seconds)
        self.history.append(outcome)
        slot = outcome.slot
        self.busy_slot = None
        self.last = _Last(outcome=outcome)
        device = CAPTURE_DEVICE[slot.modality]
        snapshot = self.rekam.snapshot
        if snapshot is not None and any(d.kind == device and not d.ok for d in snapshot.devices):
            self.services.note_device_ok(device)
            self.rekam.refresh_status()
        if outcome.passed and self.chain:
            next_slot = self.target() if self.target() != slot else None
            if next_slot is not None and next_slot.step is self.step:
                self._start(next_slot, chain=True)
                self.last = _Last(outcome=outcome)
                self._redraw()
                return
        slots = self.enrolment.slots()
        if self.enrolment.next_slot() is None and all(
                s.passed or s.exception is not None for s in slots):
            step, score = self.step.value, outcome.score
            passed = sum(s.passed for s in slots)
            one = len(slots) == 1

            def notice() -> str:
                name = self.cat.step(step)
                return (self.t("cap.step_done_auto", step=name, score=score) if one
                        else self.t("cap.step_done_many", step=name, n=passed))

            self._advance(auto_notice=notice)
            return
        if outcome.passed or outcome.slot_done:
            self._follow()
        if self.enrolment.next_slot() is None:
            step = self.step.value
            self.notice = lambda: self.t("cap.step_done", step=self.cat.step(step))
        self._redraw()

    def on_capture_failed(self, message: CaptureFailed) -> None:
        message.stop()
        self.busy_slot = None
        self.chain = False
        self.last = _Last(outcome=self.last.outcome, error=message.error,
                          error_slot=message.slot)
        kind = getattr(message.error, "device", "") or CAPTURE_DEVICE[message.slot.modality]
        self.services.note_device_fault(kind, code_of(message.error))
        self.rekam.refresh_status()
        self._redraw()

    # --- moving between steps --------------------------------------------------------------

    def _advance(self, auto_notice: Words = nothing) -> None:
        try:
            step = self.enrolment.advance()
        except RekamError as exc:
            slots, error = list(self.enrolment.missing()), exc

            def missing() -> str:
                if not slots:
                    return esc(self.cat.error(error)[1])
                return self.t("cap.missing", what=", ".join(
                    self.cat.slot(s.modality.value, s.position, s.step.value) for s in slots))

            self.notice = missing
            self._redraw()
            return
        self.last = _Last()
        self.notice = auto_notice
        if step is Step.REVIEW:
            self.happened(flow.CapturesDone(self.enrolment, notice=auto_notice))
            return
        self._follow()
        self._redraw()

    def action_step_back(self) -> None:
        if self.busy_slot is not None:
            return
        if self.step is Step.FACE:
            from tui.dialogs.confirm import ConfirmDialog

            self.app.push_screen(ConfirmDialog("cap.back_title", "cap.back_question",
                                               name=self.enrolment.resident.name),
                                 self._back_to_identity)
            return
        step = self.enrolment.back()
        self.last = _Last()
        self.notice = lambda: self.t("cap.back_to", step=self.cat.step(step.value))
        self._follow()
        self._redraw()

    def _back_to_identity(self, yes: bool | None) -> None:
        if not yes:
            return
        resident = self.enrolment.resident
        self.services.cancel(self.enrolment)
        self.happened(flow.RecordingCancelled(again=resident))

    def action_select(self, delta: int) -> None:
        order = self.visual_order()
        if len(order) < 2:
            return
        current = self.selected_slot()
        index = order.index(current) if current in order else 0
        self.selected[self.step] = order[(index + delta) % len(order)].key
        self._redraw()

    # --- exceptions ------------------------------------------------------------------------

    def action_exception(self) -> None:
        if self.busy_slot is not None:
            return
        slot = self.selected_slot()
        if slot is None or self.step not in (Step.FINGERPRINTS, Step.IRISES):
            self.notice = self.words("cap.exception_not_here")
            self._redraw()
            return
        from tui.dialogs.exception import ExceptionDialog

        name = self.cat.slot(slot.modality.value, slot.position, slot.step.value)

        def done(by: str | None) -> None:
            if by is None:
                return
            state = self.enrolment.state_of(slot)
            reason = state.exception.reason if state.exception else ""
            self.notice = lambda: self.t(
                "cap.exception_done",
                what=self.cat.slot(slot.modality.value, slot.position, slot.step.value),
                reason=self.cat.exception_reason(reason, short=True), by=esc(by))
            self.last = _Last()
            self._follow()
            self._redraw()

        self.app.push_screen(
            ExceptionDialog(self.enrolment, slot, name, EXCEPTION_REASONS[slot.modality],
                            self.services.supervisors()), done)

    # --- cancelling ---------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if self.busy_slot is not None:
            self.chain = False  # stop after the capture under way
            return
        from tui.dialogs.confirm import ConfirmDialog

        self.app.push_screen(ConfirmDialog("cap.cancel_title", "cap.cancel_question",
                                           name=self.enrolment.resident.name), self._cancelled)

    def _cancelled(self, yes: bool | None) -> None:
        if not yes:
            return
        self.services.cancel(self.enrolment)
        self.notify(self.t("cap.cancelled"))
        self.happened(flow.RecordingCancelled())

