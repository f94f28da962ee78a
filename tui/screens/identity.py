"""Confirm the resident: the demographics to check with the resident and the invitation,
and the face photo's backdrop colour to prepare. Enter starts the recording."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from edge.errors import RekamError
from edge.residents import Resident
from tui import events as flow
from tui.messages import EnrolmentStarted, Failed
from tui.screens.base import RekamScreen
from tui.screens.place import kelurahan_name
from tui.widgets.bottom import Bottom
from tui.widgets.resident_card import ResidentCard, resident_table
from tui.widgets.top_bar import TopBar


def backdrop(resident: Resident) -> tuple[str, str]:
    """("LATAR MERAH", "red") or ("LATAR BIRU", "blue") for the resident's birth year."""
    odd = resident.birth_year_is_odd
    return ("cap.background_red", "red") if odd else ("cap.background_blue", "blue")


class IdentityScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "start", "start", id="confirm_identity"),
        Binding("escape", "back", "back", id="back"),
    ]

    def __init__(self, resident: Resident) -> None:
        super().__init__()
        self.resident = resident
        self.busy = False

    def compose(self) -> ComposeResult:
        yield TopBar("who.title")
        with Vertical(id="who-body"):
            yield Static(id="ask", classes="dim")
            yield ResidentCard(id="card")
            yield Static(id="backdrop", classes="backdrop")
            yield Static(id="message", classes="message")
        yield Bottom()

    def refresh_text(self) -> None:
        r = self.resident
        self.query_one("#ask", Static).update(self.t("who.ask"))
        self.query_one("#card", ResidentCard).update(
            resident_table(self.cat, r, kelurahan_name(r.kelurahan)))
        key, colour = backdrop(r)
        parity = self.t("cap.odd") if r.birth_year_is_odd else self.t("cap.even")
        widget = self.query_one("#backdrop", Static)
        widget.update(f"{self.t(key)} — "
                      f"{self.t('cap.background_why', year=r.birth_date.year, parity=parity)}")
        widget.set_classes(f"backdrop backdrop-{colour}")
        if self.busy:
            self.query_one("#message", Static).update(self.t("who.starting"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return None if self.busy else True
        return True

    def action_start(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.refresh_bindings()
        self.query_one("#message", Static).update(self.t("who.starting"))
        self._start(self.resident.nik)

    @work(thread=True, exclusive=True, exit_on_error=False, group="start")
    def _start(self, nik: str) -> None:
        try:
            enrolment = self.services.start_enrolment(nik)
        except RekamError as exc:
            self.post_message(Failed("start", exc))
            return
        self.post_message(EnrolmentStarted(enrolment))

    def on_enrolment_started(self, message: EnrolmentStarted) -> None:
        message.stop()
        enrolment = message.enrolment
        enrolment.confirm_identity()
        self.happened(flow.RecordingStarted(enrolment))

    def on_failed(self, message: Failed) -> None:
        message.stop()
        from tui.dialogs.problem import ProblemDialog

        self.busy = False
        self.refresh_bindings()
        self.query_one("#message", Static).update("")
        self.app.push_screen(ProblemDialog(message.error))

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss()
