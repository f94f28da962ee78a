"""Login: operator id and PIN. A wrong PIN says how many tries are left; a locked account
says until when, and counts down."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.widgets import Input, Label, Static

from edge.errors import LockedOut, NotFound, OperatorDisabled, RekamError, WrongPIN
from tui import events as flow
from tui.messages import Failed, LoggedIn
from tui.screens.base import RekamScreen, Words
from tui.text import esc
from tui.widgets.bottom import Bottom
from tui.widgets.fields import ChainedInput
from tui.widgets.top_bar import TopBar


class LoginScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not a priority binding: the inputs take Enter in order with the keys typed before
        # it (a fast typist's "budi⏎571846⏎" arrives in one burst).
        Binding("enter", "login", "login", id="login"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.locked_until: datetime | None = None
        self.locked_operator = ""
        self.message_key: Words | None = None  # said again after F2

    def compose(self) -> ComposeResult:
        yield TopBar("login.title")
        with Center(), Vertical(id="login-box", classes="box"):
            yield Static(id="intro")
            yield Static(id="device", classes="dim")
            yield Label(id="operator-label")
            yield ChainedInput(id="operator", max_length=32, restrict=r"[A-Za-z0-9._-]*",
                                   next_field="#pin")
            yield Label(id="pin-label")
            yield Input(id="pin", password=True, restrict=r"[0-9]*", max_length=12)
            yield Static(id="message", classes="message")
        yield Bottom()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#operator", Input))
        self.set_interval(1.0, self._tick)

    def on_screen_resume(self) -> None:
        """Back from a logout: a clean form."""
        self.query_one("#pin", Input).value = ""
        self.set_focus(self.query_one("#operator", Input))

    def refresh_text(self) -> None:
        self.query_one("#intro", Static).update(self.t("login.intro"))
        self.query_one("#device", Static).update(
            self.t("login.device", device=esc(self.services.kit.device_id)))
        self.query_one("#operator-label", Label).update(self.t("login.operator"))
        self.query_one("#pin-label", Label).update(self.t("login.pin"))
        self._show_message()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "login":
            return None if self.busy else True
        return True

    # --- logging in -------------------------------------------------------------------------

    @on(Input.Submitted, "#operator")
    def _operator_done(self) -> None:
        self.set_focus(self.query_one("#pin", Input))

    @on(Input.Submitted, "#pin")
    def _pin_done(self) -> None:
        self.action_login()

    def action_login(self) -> None:
        if self.busy:
            return
        operator = self.query_one("#operator", Input).value.strip()
        pin = self.query_one("#pin", Input).value
        if self.focused is self.query_one("#operator", Input) and operator and not pin:
            self.set_focus(self.query_one("#pin", Input))
            return
        if not operator or not pin:
            self.say("login.need_both")
            return
        self.busy = True
        self.refresh_bindings()
        self.say("login.checking")
        self._login(operator, pin)

    @work(thread=True, exclusive=True, exit_on_error=False, group="login")
    def _login(self, operator: str, pin: str) -> None:
        try:
            session = self.services.login(operator, pin)
        except RekamError as exc:
            self.post_message(Failed("login", exc, operator))
            return
        count: int | None = None
        worklist_error: BaseException | None = None
        try:
            count = self.services.apply_pending_worklist()
        except RekamError as exc:
            worklist_error = exc
        self.post_message(LoggedIn(session, count, worklist_error))

    def on_failed(self, message: Failed) -> None:
        message.stop()
        self.busy = False
        self.refresh_bindings()
        pin = self.query_one("#pin", Input)
        pin.value = ""
        error = message.error
        if isinstance(error, WrongPIN):
            left = error.attempts_left
            self.say("login.wrong_pin_last" if left == 1 else "login.wrong_pin", left=left)
            self.set_focus(pin)
        elif isinstance(error, LockedOut):
            self.locked_until = error.until
            self.locked_operator = message.context
            self._show_lock()
        elif isinstance(error, OperatorDisabled):
            self.say("login.disabled")
        elif isinstance(error, NotFound):
            self.say("login.unknown")
            self.set_focus(self.query_one("#operator", Input))
        else:
            self.message_key = self.error_words(error)
            self._show_message()

    def on_logged_in(self, message: LoggedIn) -> None:
        message.stop()
        self.busy = False
        self.locked_until = None
        self.message_key = None
        self.query_one("#message", Static).update("")
        self.query_one("#pin", Input).value = ""
        self.refresh_bindings()
        if message.worklist is not None:
            self.notify(self.t("login.worklist_applied", n=message.worklist), timeout=8)
        if message.worklist_error is not None:
            self.notify(self.t("login.worklist_rejected",
                               reason=esc(self.cat.error(message.worklist_error)[1])),
                        severity="error", timeout=15)
        self.happened(flow.LoggedIn())

    # --- the lockout countdown ------------------------------------------------------------

    def _tick(self) -> None:
        if self.locked_until is not None:
            self._show_lock()

    def _show_lock(self) -> None:
        assert self.locked_until is not None
        left = (self.locked_until - self.services.kit.clock()).total_seconds()
        if left <= 0:
            self.locked_until = None
            self.say("login.unlocked")
            return
        until = self.locked_until.astimezone(self.services.now().tzinfo)
        self.say("login.locked", operator=esc(self.locked_operator), until=f"{until:%H:%M}",
                  left=self.cat.duration(left))

    def say(self, key: str, **values: object) -> None:
        self.message_key = self.words(key, **values)
        self._show_message()

    def _show_message(self) -> None:
        if self.message_key is None:
            return
        self.query_one("#message", Static).update(self.message_key())
