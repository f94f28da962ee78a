"""What the capture wizard shows: the steps, who is in front of the kit (and the backdrop
their birth year calls for), the prompt, the slots as a hand map or a row, the quality of
the latest attempt and why it failed, a device's error, and on a wide terminal every
attempt so far. :class:`CaptureView` lays the screen out and draws it from the recording's
state; :class:`~tui.screens.capture.CaptureScreen` adds the keys and the capturing.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from edge.workflow import AttemptOutcome, Enrolment, Slot, SlotState, Step
from hal.types import CAPTURE_DEVICE, Eye, Finger, Modality
from tui.screens.base import RekamScreen, Words, nothing
from tui.text import esc
from tui.widgets.bottom import Bottom
from tui.widgets.slots import Cell, Group, QualityMeter, SlotGrid
from tui.widgets.top_bar import TopBar

CAPTURE_STEPS = (Step.FACE, Step.SIGNATURE, Step.FINGERPRINTS, Step.IRISES, Step.VERIFICATION)

LEFT_HAND = (Finger.LEFT_LITTLE, Finger.LEFT_RING, Finger.LEFT_MIDDLE, Finger.LEFT_INDEX,
             Finger.LEFT_THUMB)
RIGHT_HAND = (Finger.RIGHT_THUMB, Finger.RIGHT_INDEX, Finger.RIGHT_MIDDLE, Finger.RIGHT_RING,
              Finger.RIGHT_LITTLE)

PROMPTS = {Step.FACE: "cap.face_prompt", Step.SIGNATURE: "cap.signature_prompt",
           Step.FINGERPRINTS: "cap.finger_prompt", Step.IRISES: "cap.iris_prompt",
           Step.VERIFICATION: "cap.verify_prompt"}


@dataclass
class _Last:
    """The latest attempt (or device error) of the current step, for the result panel."""

    outcome: AttemptOutcome | None = None
    error: BaseException | None = None
    error_slot: Slot | None = None


def slot_cell_state(state: SlotState, busy: bool) -> str:
    if state.exception is not None:
        return "exception"
    if busy:
        return "busy"
    if state.passed:
        return "ok"
    if state.attempts == 0:
        return "pending"
    if state.done:
        return "not_matched" if state.slot.step is Step.VERIFICATION else "low"
    return "retry"


class CaptureView(RekamScreen):
    """The capture screen's layout and drawing, and which slot is selected and next."""

    def __init__(self, enrolment: Enrolment) -> None:
        super().__init__()
        self.enrolment = enrolment
        self.busy_slot: Slot | None = None
        self.selected: dict[Step, str] = {}
        self.last = _Last()
        self.notice: Words = nothing
        self.history: list[AttemptOutcome] = []  # every attempt, for the wide screen's log

    # --- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar("cap.title", name=self.enrolment.resident.name)
        with Horizontal(id="cap-main"):
            with Vertical(id="cap-body"):
                yield Static(id="steps", classes="steps")
                yield Static(id="who", classes="who")
                yield Static(id="prompt", classes="prompt")
                yield SlotGrid(id="grid")
                yield QualityMeter(id="meter")
                yield Static(id="detail")
                yield Static(id="reasons", classes="reasons")
                yield Static(id="error", classes="error-panel")
                yield Static(id="notice", classes="notice")
            yield Static(id="history", classes="side-panel")
        yield Bottom()

    @property
    def step(self) -> Step:
        return self.enrolment.step

    # --- slots ---------------------------------------------------------------------------------

    def visual_order(self) -> list[Slot]:
        slots = {s.slot.position: s.slot for s in self.enrolment.slots(self.step)} \
            if self.step in CAPTURE_STEPS else {}
        if self.step is Step.FINGERPRINTS:
            return [slots[f.value] for f in (*LEFT_HAND, *RIGHT_HAND)]
        return list(slots.values())

    def selected_slot(self) -> Slot | None:
        order = self.visual_order()
        key = self.selected.get(self.step)
        for slot in order:
            if slot.key == key:
                return slot
        return order[0] if order else None

    def target(self) -> Slot | None:
        """The slot Enter captures: the selected one when it is not finished, else the next
        unfinished one in capture order."""
        selected = self.selected_slot()
        if selected is not None and not self.enrolment.state_of(selected).done:
            return selected
        return self.enrolment.next_slot()

    def _follow(self) -> None:
        target = self.enrolment.next_slot()
        if target is not None:
            self.selected[self.step] = target.key

    # --- drawing -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._follow()

    def refresh_text(self) -> None:
        cat, e = self.cat, self.enrolment
        steps = []
        for step in (*CAPTURE_STEPS, Step.REVIEW):
            name = cat.step(step.value)
            if step is self.step:
                steps.append(f"[b reverse] {name} [/]")
            elif step in CAPTURE_STEPS and all(s.done for s in e.slots(step)):
                steps.append(f"[green]{name}[/]")
            else:
                steps.append(f"[dim]{name}[/]")
        self.query_one("#steps", Static).update(" > ".join(steps))
        r = e.resident
        colour = "red" if r.birth_year_is_odd else "blue"
        key = "cap.background_red" if r.birth_year_is_odd else "cap.background_blue"
        parity = self.t("cap.odd") if r.birth_year_is_odd else self.t("cap.even")
        backdrop = f"[b reverse {colour}] {self.t(key)} [/] " \
                   f"{self.t('cap.background_why', year=r.birth_date.year, parity=parity)}"
        self.query_one("#who", Static).update(  # the whole name: the title bar may cut it
            f"[b]{esc(r.name)}[/b] · NIK {r.nik} · {r.birth_date:%d-%m-%Y}   " + backdrop)
        self._draw_prompt()
        self._draw_grid()
        self._draw_result()
        self.query_one("#notice", Static).update(self.notice())
        self._draw_history()

    def on_resize(self) -> None:
        self._draw_history()

    def _draw_history(self) -> None:
        """On a wide terminal: every attempt of this recording, newest first."""
        panel = self.query_one("#history", Static)
        panel.display = self.size.width >= 110
        if not panel.display:
            return
        lines = [f"[b]{self.t('cap.history')}[/b]"]
        for outcome in reversed(self.history[-30:]):
            slot = outcome.slot
            name = self.cat.slot(slot.modality.value, slot.position, slot.step.value)
            mark = "[green]+[/]" if outcome.passed else "[red]![/]"
            lines.append(f"{mark} {outcome.score:3d} {name}")
        if not self.history:
            lines.append(f"[dim]{self.t('cap.history_none')}[/]")
        panel.update("\n".join(lines))

    def _draw_prompt(self) -> None:
        prompt = self.query_one("#prompt", Static)
        if self.step not in CAPTURE_STEPS:
            prompt.update("")
            return
        text = self.t(PROMPTS[self.step])
        target = self.busy_slot or self.target()
        if target is not None and self.step in (Step.FINGERPRINTS, Step.IRISES,
                                                Step.VERIFICATION):
            name = self.cat.slot(target.modality.value, target.position, target.step.value)
            key = "cap.place_now" if target.modality is Modality.FINGER else "cap.look_now"
            text += f"\n[b]{self.t(key, what=name)}[/b]"
        if self.busy_slot is not None:
            device = self.t(f"devnoun.{CAPTURE_DEVICE[self.busy_slot.modality]}")
            text += f"  [yellow]{self.t('cap.waiting_device', device=device.lower())}[/]"
        prompt.update(text)

    def _cells(self, slots: list[Slot]) -> tuple[Cell, ...]:
        cells = []
        for slot in slots:
            state = self.enrolment.state_of(slot)
            kind = slot_cell_state(state, slot == self.busy_slot)
            if kind == "exception" and state.exception is not None:  # a six-letter word
                label = self.t(f"exccell.{state.exception.reason}")
            else:
                label = self.t(f"cap.state.{kind}")
            if slot.modality is Modality.FINGER:
                finger = str(slot.position).partition("_")[2]
                short = self.cat.finger(str(slot.position), short=True)
                name = self.t(f"finger.{finger}") if self.step is Step.FINGERPRINTS \
                    else self.cat.finger(str(slot.position))
            else:
                name = short = self.cat.slot(slot.modality.value, slot.position)
            score = state.best.quality.score if state.best is not None else None
            cells.append(Cell(slot.key, name, short, score, kind, label))
        return tuple(cells)

    def _draw_grid(self) -> None:
        grid = self.query_one(SlotGrid)
        e, selected = self.enrolment, self.selected_slot()
        sel = selected.key if selected is not None else None
        groups: tuple[Group, ...]
        if self.step is Step.FINGERPRINTS:
            by_pos = {s.slot.position: s.slot for s in e.slots(Step.FINGERPRINTS)}
            groups = (
                Group(self.t("cap.hand_left"), self._cells([by_pos[f.value] for f in LEFT_HAND])),
                Group(self.t("cap.hand_right"),
                      self._cells([by_pos[f.value] for f in RIGHT_HAND])),
            )
        elif self.step is Step.IRISES:
            slots = [s.slot for s in e.slots(Step.IRISES)]
            by_pos = {s.position: s for s in slots}
            groups = (Group(self.cat.step("irises"),
                            self._cells([by_pos[Eye.RIGHT.value], by_pos[Eye.LEFT.value]])),)
        elif self.step is Step.VERIFICATION:
            groups = (Group(self.cat.step("verification"),
                            self._cells([s.slot for s in e.slots(Step.VERIFICATION)])),)
        else:
            groups = ()
        grid.show(groups, sel)
        grid.display = bool(groups)

    def _draw_result(self) -> None:
        meter = self.query_one(QualityMeter)
        detail = self.query_one("#detail", Static)
        reasons = self.query_one("#reasons", Static)
        error = self.query_one("#error", Static)
        outcome = self.last.outcome
        if self.step not in CAPTURE_STEPS:
            meter.display = False
            return
        meter.display = True
        modality = self.enrolment.slots()[0].slot.modality
        threshold = self.enrolment.thresholds.for_modality(modality)
        if outcome is not None:
            meter.show(self.t("cap.quality"), outcome.score, threshold,
                       self.t("cap.threshold", t=threshold),
                       self.t("cap.passed") if outcome.passed else self.t("cap.failed"),
                       outcome.passed)
        else:
            meter.show(self.t("cap.quality"), None, threshold,
                       self.t("cap.threshold", t=threshold), "", False)
        detail.update(self._detail_text())
        reasons.update(self._reasons_text())
        if self.last.error is not None:
            title, message = self.cat.error(self.last.error)
            error.update(f"[b]{title}[/b]: {esc(message)}")
            error.display = True
        else:
            error.update("")
            error.display = False

    def _detail_text(self) -> str:
        slot = self.selected_slot()
        lines = []
        outcome = self.last.outcome
        if outcome is not None:
            lines.append(self.t("cap.attempt", n=outcome.attempts, max=self.enrolment.max_attempts))
        if slot is not None and len(self.visual_order()) > 1:
            state = self.enrolment.state_of(slot)
            name = self.cat.slot(slot.modality.value, slot.position, slot.step.value)
            if state.exception is not None:
                text = self.t("cap.slot_exception", what=name,
                              reason=self.cat.exception_reason(state.exception.reason,
                                                               short=True),
                              by=esc(state.exception.approved_by))
            elif state.best is None:
                text = self.t("cap.slot_detail_none", what=name)
            else:
                text = self.t("cap.slot_detail", what=name, score=state.best.quality.score,
                              attempts=state.attempts)
            lines.append(self.t("cap.selected", what=text))
        return "   ".join(lines)

    def _reasons_text(self) -> str:
        outcome = self.last.outcome
        lines: list[str] = []
        if outcome is None:
            return ""
        capture = outcome.capture
        modality = capture.modality.value
        if not outcome.passed:
            for code in capture.quality.reasons[:3]:
                lines.append(f"• {self.cat.reason(modality, code)}")
            if outcome.match_score is not None and capture.quality.score >= \
                    self.enrolment.thresholds.for_modality(capture.modality):
                lines.append(f"• {self.t('cap.no_match', score=f'{outcome.match_score:.2f}')}")
            if outcome.attempts_left > 0:
                lines.append(self.t("cap.retry_left", left=outcome.attempts_left))
            else:
                lines.append(self.t("cap.kept_best", score=outcome.best_score))
        elif outcome.match_score is not None:
            lines.append(self.t("cap.match", score=f"{outcome.match_score:.2f}"))
        for code in capture.warnings:
            if code.startswith("background_"):
                lines.append(f"[b yellow]• {self.cat.reason(modality, code)}[/]")
        return "\n".join(lines)

    def _redraw(self) -> None:
        self.refresh_text()
        self.refresh_bindings()

