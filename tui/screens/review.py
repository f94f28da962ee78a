"""Review and seal: what was captured and how good, then Enter seals the packet (in a
worker), stores it in the outbox and prints the receipt. A printer that cannot print says
why; R prints again, S goes on without a receipt. The data is safe once sealed."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from edge.errors import RekamError
from edge.packet import SealedPacket
from edge.service_point import ServicePoint
from edge.workflow import Enrolment, ReviewLine, Step
from hal.errors import HalError, code_of
from hal.types import Receipt
from tui import events as flow
from tui.catalogue import Catalogue
from tui.messages import Failed, Printed, Sealed
from tui.screens.base import RekamScreen, Words, nothing
from tui.text import esc
from tui.widgets.bottom import Bottom
from tui.widgets.top_bar import TopBar

STATE_STYLE = {"ok": "green", "low_quality": "yellow", "exception": "magenta",
               "not_matched": "red", "missing": "red"}


def mask_nik(nik: str) -> str:
    """The receipt shows enough of the NIK to recognise it, not all of it."""
    return nik[:6] + "******" + nik[-4:] if len(nik) == 16 else nik


def build_receipt(resident_name: str, nik: str, packet: SealedPacket, when: datetime,
                  point: ServicePoint | None, operator: str, queue: int,
                  exceptions: int) -> Receipt:
    """The receipt, always in Bahasa Indonesia: it is the resident's paper."""
    cat = Catalogue("id")
    lines = [
        (cat.t("receipt.name"), resident_name),
        (cat.t("receipt.nik"), mask_nik(nik)),
        (cat.t("receipt.date"), f"{when:%d-%m-%Y %H:%M} WIB"),
        (cat.t("receipt.place"), point.name if point else "-"),
        (cat.t("receipt.operator"), operator),
        (cat.t("receipt.code"), packet.packet_id[-12:].upper()),
    ]
    if queue:
        lines.append((cat.t("receipt.queue"), str(queue)))
    if exceptions:
        lines.append((cat.t("receipt.exceptions"), str(exceptions)))
    return Receipt(title=cat.t("receipt.title"), lines=tuple(lines),
                   qr_payload=f"rekam:{packet.packet_id}", footer=cat.t("receipt.footer"))


class ReviewScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "primary", "seal", id="seal", priority=True),
        Binding("r", "reprint", "reprint", id="reprint"),
        Binding("s", "skip_print", "skip", id="skip_print"),
        Binding("b", "step_back", "back", id="step_back"),
        Binding("escape", "cancel", "cancel", id="cancel"),
    ]

    def __init__(self, enrolment: Enrolment, *, notice: Words = nothing) -> None:
        super().__init__()
        self.enrolment = enrolment
        self.lines: list[ReviewLine] = enrolment.review()
        self.phase = "review"  # review, sealing, printing, print_failed, done
        self.packet: SealedPacket | None = None
        self.receipt: Receipt | None = None
        self.print_error: BaseException | None = None
        self.status_key = ""
        self.notice = notice

    def compose(self) -> ComposeResult:
        yield TopBar("rev.title", name=self.enrolment.resident.name)
        with Vertical(id="rev-body"):
            yield Static(id="intro", classes="dim")
            with VerticalScroll(id="rev-table"):
                yield Static(id="table")
            yield Static(id="summary")
            yield Static(id="state", classes="message")
        yield Bottom()

    # --- drawing -------------------------------------------------------------------------

    def refresh_text(self) -> None:
        cat = self.cat
        r = self.enrolment.resident  # the whole name: the title bar may cut it
        self.query_one("#intro", Static).update(
            f"[b]{esc(r.name)}[/b] · NIK {r.nik}\n" + self.notice()
            + ("\n" if self.notice() else "") + self.t("rev.intro"))
        self.query_one("#table", Static).update(self._table())
        counts = {k: sum(1 for line in self.lines if line.status == k)
                  for k in ("ok", "low_quality", "exception", "not_matched", "missing")}
        self.query_one("#summary", Static).update(self.t(
            "rev.summary", ok=counts["ok"], low=counts["low_quality"] + counts["not_matched"],
            exc=counts["exception"]))
        state = self.query_one("#state", Static)
        if self.phase == "print_failed" and self.print_error is not None:
            message = esc(cat.error(self.print_error)[1])
            state.update(f"[b]{self.t('rev.print_failed')}[/b]: {message}")
        elif self.status_key:
            packet = self.packet.packet_id[-12:].upper() if self.packet else ""
            state.update(self.t(self.status_key, packet=packet)
                         + ("\n" + self.t("rev.done_hint") if self.phase == "done" else ""))
        else:
            state.update("")

    def _table(self) -> Table:
        cat = self.cat
        table = Table(box=None, padding=(0, 1), expand=False, show_edge=False)
        table.add_column(self.t("rev.col.what"), no_wrap=True)
        table.add_column(self.t("rev.col.state"))
        table.add_column(self.t("rev.col.score"), justify="right")
        table.add_column(self.t("rev.col.tries"), justify="right")
        wide = (self.size.width or 80) >= 110
        rows: list[tuple[str, str, str, str, str]] = []
        for line in self.lines:
            slot = line.slot
            name = cat.slot(slot.modality.value, slot.position, slot.step.value)
            state = self.t(f"rev.state.{line.status}",
                           reason=cat.exception_reason(line.detail, short=True)
                           if line.status == "exception" else "")
            rows.append((name, state, "" if line.score is None else str(line.score),
                         str(line.attempts), STATE_STYLE.get(line.status, "")))
        if not wide and len(rows) > 8:
            # 80x24: fold the good fingers into one line per hand, keep every problem visible
            folded: list[tuple[str, str, str, str, str]] = []
            good_fingers = [r for r, line in zip(rows, self.lines, strict=True)
                            if line.slot.step is Step.FINGERPRINTS and line.status == "ok"]
            for row, line in zip(rows, self.lines, strict=True):
                if line.slot.step is Step.FINGERPRINTS and line.status == "ok":
                    if row is good_fingers[0]:
                        scores = [int(r[2]) for r in good_fingers]
                        span = f"{min(scores)}-{max(scores)}" if min(scores) != max(scores) \
                            else str(scores[0])
                        folded.append((f"{cat.step('fingerprints')} ({len(good_fingers)})",
                                       self.t("rev.state.ok"), span,
                                       str(max(int(r[3]) for r in good_fingers)), "green"))
                    continue
                folded.append(row)
            rows = folded
        for name, state, score, tries, style in rows:
            table.add_row(name, Text(state, style=style), score, tries)
        return table

    def on_resize(self) -> None:
        self.refresh_text()  # the table folds the good fingers into one line when narrow

    def key_label(self, binding_id: str) -> str | None:
        if binding_id == "seal":
            if self.phase == "done":
                return self.t("key.next_resident")
            if self.phase == "print_failed":
                return self.t("key.reprint")
        if binding_id == "cancel" and self.phase == "done":
            return self.t("home.title")
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        phase = self.phase
        if action == "primary":
            return None if phase in ("sealing", "printing") else True
        if action == "reprint":  # after a failure Enter prints again: R only once done
            return phase == "done" and self.receipt is not None
        if action == "skip_print":
            return phase == "print_failed"
        if action == "step_back":
            return phase == "review"
        if action == "cancel":
            return phase in ("review", "done")
        return True

    # --- sealing -------------------------------------------------------------------------

    def action_primary(self) -> None:
        if self.phase == "review":
            self.phase = "sealing"
            self.status_key = "rev.sealing"
            self._update()
            self._seal()
        elif self.phase == "print_failed":
            self.action_reprint()
        elif self.phase == "done":
            self.happened(flow.NextResident())

    def _update(self) -> None:
        self.refresh_text()
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="seal")
    def _seal(self) -> None:
        try:
            packet = self.services.seal(self.enrolment)
        except RekamError as exc:
            self.post_message(Failed("seal", exc))
            return
        self.post_message(Sealed(packet))

    def on_sealed(self, message: Sealed) -> None:
        message.stop()
        self.packet = message.packet
        s = self.services
        session = s.session
        exceptions = sum(1 for line in self.lines if line.status == "exception")
        self.receipt = build_receipt(
            self.enrolment.resident.name, self.enrolment.resident.nik, message.packet,
            s.now(), s.service_point(), session.operator.name if session else "",
            s.today_summary().called, exceptions)
        self.rekam.refresh_status()
        self.action_reprint()

    # --- printing ------------------------------------------------------------------------

    def action_reprint(self) -> None:
        if self.receipt is None:
            return
        self.phase = "printing"
        self.status_key = "rev.printing"
        self.print_error = None
        self._update()
        self._print(self.receipt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="print")
    def _print(self, receipt: Receipt) -> None:
        try:
            self.services.print_receipt(receipt)
        except HalError as exc:
            self.post_message(Failed("print", exc))
            return
        self.post_message(Printed())

    def on_printed(self, message: Printed) -> None:
        message.stop()
        self.services.note_device_ok("receipt_printer")
        self.phase = "done"
        self.status_key = "rev.printed"
        self.rekam.refresh_status()
        self._update()

    def on_failed(self, message: Failed) -> None:
        message.stop()
        if message.what == "print":
            self.phase = "print_failed"
            self.print_error = message.error
            self.services.note_device_fault("receipt_printer",
                                            code_of(message.error))
            self.rekam.refresh_status()
            self._update()
            return
        from tui.dialogs.problem import ProblemDialog

        self.phase = "review"  # sealing failed: nothing was stored; the operator may retry
        self.status_key = ""
        self._update()
        self.app.push_screen(ProblemDialog(message.error))

    def action_skip_print(self) -> None:
        self.phase = "done"
        self.status_key = "rev.print_skipped"
        self._update()

    # --- back and cancel -----------------------------------------------------------------

    def action_step_back(self) -> None:
        self.enrolment.back()
        self.happened(flow.StepBack(self.enrolment))

    def action_cancel(self) -> None:
        from tui.dialogs.confirm import ConfirmDialog

        if self.phase == "done":
            self.happened(flow.BackHome())
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.services.cancel(self.enrolment)
                self.notify(self.t("cap.cancelled"))
                self.happened(flow.RecordingCancelled())

        self.app.push_screen(ConfirmDialog("cap.cancel_title", "cap.cancel_question",
                                           name=self.enrolment.resident.name), done)
