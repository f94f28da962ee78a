"""An exception for one finger or eye: the reason, and a supervisor's approval with their
PIN, checked here (in a worker: Argon2 takes a moment) so a wrong PIN is answered in the
dialog and can be typed again. Returns the approver's id, or None when cancelled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, RadioSet, Select, Static

from edge.errors import RekamError, WrongPIN
from edge.workflow import Enrolment, ExceptionReason, Slot
from hal.errors import code_of
from tui.messages import Approved, Failed
from tui.screens.base import RekamModal
from tui.text import esc, plain
from tui.widgets.choice import Choice
from tui.widgets.keybar import KeyBar


class ExceptionDialog(RekamModal[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f10", "approve", "approve", id="approve"),
        Binding("tab", "app.focus_next", "next field", id="next_field"),
        Binding("escape", "cancel", "cancel", id="cancel"),
    ]

    def __init__(self, enrolment: Enrolment, slot: Slot, slot_name: str,
                 reasons: Sequence[ExceptionReason], supervisors: list[tuple[str, str]]) -> None:
        super().__init__()
        self.enrolment, self.slot, self.slot_name = enrolment, slot, slot_name
        self.reasons = list(reasons)
        self.supervisors = supervisors
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide"):
            yield Static(id="title", classes="dialog-title")
            yield Static(id="intro", classes="dim")
            with Horizontal(classes="form-row"):
                yield Label(id="reason-label", classes="form-label")
                with RadioSet(id="reason"):
                    for i, reason in enumerate(self.reasons):
                        yield Choice(self.cat.exception_reason(reason.value), value=i == 0,
                                     id=f"reason-{reason.value}")
            with Horizontal(classes="form-row"):
                yield Label(id="supervisor-label", classes="form-label")
                yield Select([(plain(f"{name} ({sid})"), sid) for sid, name in self.supervisors],
                             allow_blank=not self.supervisors, id="supervisor")
            with Horizontal(classes="form-row"):
                yield Label(id="pin-label", classes="form-label")
                yield Input(password=True, id="pin", restrict=r"[0-9]*", max_length=12)
            with Horizontal(classes="form-row"):
                yield Label(id="note-label", classes="form-label")
                yield Input(id="note", max_length=200)
            yield Static(id="message", classes="message")
            yield KeyBar()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#reason", RadioSet))
        if not self.supervisors:
            self.query_one("#message", Static).update(self.t("exc.no_supervisor"))

    def refresh_text(self) -> None:
        self.query_one("#title", Static).update(self.t("exc.title", what=esc(self.slot_name)))
        self.query_one("#intro", Static).update(self.t("exc.intro"))
        self.query_one("#reason-label", Label).update(self.t("exc.reason"))
        for reason in self.reasons:
            button = self.query_one(f"#reason-{reason.value}", Choice)
            button.label = self.cat.exception_reason(reason.value)
        self.query_one("#supervisor-label", Label).update(self.t("exc.supervisor"))
        self.query_one("#pin-label", Label).update(self.t("exc.pin"))
        self.query_one("#note-label", Label).update(self.t("exc.note"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "approve":
            return None if self.busy or not self.supervisors else True
        return True

    @on(Input.Submitted, "#pin")
    @on(Input.Submitted, "#note")
    def _submitted(self) -> None:
        self.action_approve()

    def action_approve(self) -> None:
        if self.busy or not self.supervisors:
            return
        pin = self.query_one("#pin", Input).value
        if not pin:
            self._say(self.t("exc.need_pin"))
            self.set_focus(self.query_one("#pin", Input))
            return
        radio = self.query_one("#reason", RadioSet)
        index = radio.pressed_index if radio.pressed_index >= 0 else 0
        reason = self.reasons[index]
        supervisor = self.query_one("#supervisor", Select).value
        note = self.query_one("#note", Input).value
        self.busy = True
        self.refresh_bindings()
        self._say(self.t("exc.checking"))
        self._approve(reason, str(supervisor), pin, note)

    @work(thread=True, exclusive=True, exit_on_error=False, group="approve")
    def _approve(self, reason: ExceptionReason, supervisor: str, pin: str, note: str) -> None:
        try:
            by = self.services.approve_exception(self.enrolment, self.slot, reason, supervisor,
                                                 pin, note)
        except RekamError as exc:
            self.post_message(Failed("approve", exc))
        else:
            self.post_message(Approved(by))

    def on_approved(self, message: Approved) -> None:
        message.stop()
        self.dismiss(message.by)

    def on_failed(self, message: Failed) -> None:
        message.stop()
        self.busy = False
        self.refresh_bindings()
        pin = self.query_one("#pin", Input)
        pin.value = ""
        self.set_focus(pin)
        error = message.error
        if isinstance(error, WrongPIN):
            self._say(self.t("exc.wrong_pin", left=error.attempts_left))
        elif code_of(error, "") == "not_allowed":
            self._say(self.t("exc.not_supervisor"))
        elif code_of(error, "") == "locked_out":
            until = getattr(error, "until", None)
            left = self.cat.duration((until - self.services.kit.clock()).total_seconds()) \
                if until else ""
            self._say(self.t("login.locked", operator=esc(getattr(error, "details", {}).get(
                "operator_id", "")),
                             until=f"{until.astimezone(self.services.now().tzinfo):%H:%M}"
                             if until else "", left=left))
        else:
            self._say(esc(self.cat.error(error)[1]))

    def _say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)
