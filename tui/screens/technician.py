"""The technician's screen (technician role only): device details and self-tests, the
audit log's state and its latest lines, key ids, versions — what ``rekam status`` and
``rekam audit verify`` show, on the kit's own screen."""

from __future__ import annotations

import platform
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from edge.errors import RekamError
from edge.text import visible
from hal.errors import code_of
from tui.messages import Failed, ReportLoaded
from tui.screens.base import RekamScreen, Words, nothing
from tui.text import esc, plain
from tui.views import TechnicianReport
from tui.widgets.bottom import Bottom
from tui.widgets.top_bar import TopBar


class TechnicianScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "load", "self-test", id="self_test"),
        Binding("pagedown", "page(1)", "scroll", id="scroll", key_display="PgUp/PgDn"),
        Binding("pageup", "page(-1)", "scroll", show=False),
        Binding("escape", "back", "back", id="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: TechnicianReport | None = None
        self.error_text: Words = nothing

    def compose(self) -> ComposeResult:
        yield TopBar("tech.title")
        with VerticalScroll(id="tech-body"):
            yield Static(id="facts")
            yield Static(id="checks")
            yield Static(id="devices")
            yield Static(id="audit")
        yield Bottom()

    def on_mount(self) -> None:
        self.action_load()

    def action_load(self) -> None:
        self.report = None
        self.refresh_text()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tech")
    def _load(self) -> None:
        try:
            self.post_message(ReportLoaded(
                self.services.technician_report(self.cat.language)))
        except RekamError as exc:
            self.post_message(Failed("report", exc))

    def on_report_loaded(self, message: ReportLoaded) -> None:
        message.stop()
        self.report = message.report
        self.refresh_text()
        self.rekam.refresh_status()

    def on_failed(self, message: Failed) -> None:
        message.stop()
        code = code_of(message.error, "")
        self.error_text = self.words("tech.not_allowed") if code == "not_allowed" \
            else self.error_words(message.error)
        self.refresh_text()

    def refresh_text(self) -> None:
        facts = self.query_one("#facts", Static)
        if self.error_text():
            facts.update(self.error_text())
            return
        r = self.report
        if r is None:
            facts.update(self.t("tech.loading"))
            self.query_one("#devices", Static).update("")
            self.query_one("#checks", Static).update("")
            self.query_one("#audit", Static).update("")
            return
        lines = [
            f"[b]{self.t('tech.kit')} {esc(r.device_id)}[/b]",
            self.t("tech.versions", rekam=esc(r.software_version), textual=r.textual_version,
                   python=platform.python_version()),
            self.t("tech.keys", device=esc(r.device_key_id), signing=esc(r.hq_signing_key_id),
                   sealing=esc(r.hq_sealing_key_id)),
            self.t("tech.roster", version=r.roster_version if r.roster_version is not None
                   else "-", size=r.roster_size, expires=esc((r.roster_expires_at or "-")[:10])),
            self.t("tech.disk", free=r.free_disk_mb, operators=r.operators, hal=esc(r.hal),
                   broker=esc(r.broker or "-")),
            self.t("tech.audit_ok", n=r.audit_entries) if r.audit_ok
            else f"[b red]{self.t('tech.audit_broken', problem=esc(r.audit_problem))}[/]",
        ]
        facts.update("\n".join(lines))
        devices = Table(title=self.t("tech.devices"), title_justify="left", box=None,
                        padding=(0, 1), show_edge=False)
        for key in ("tech.col.device", "tech.col.state", "tech.col.model", "tech.col.serial",
                    "tech.col.backend"):
            devices.add_column(self.t(key))
        for d in r.devices:
            state = Text(self.t("tech.test_ok"), style="green") if d.ok else \
                Text(self.t("tech.test_fail", detail=visible(d.detail)), style="bold red")
            devices.add_row(self.cat.device(d.kind), state, plain(d.model), plain(d.serial),
                            plain(d.backend))
        self.query_one("#devices", Static).update(devices)
        checks = Table(title=self.t("tech.readiness"), title_justify="left", box=None,
                       padding=(0, 1), show_edge=False, show_header=False)
        checks.add_column(no_wrap=True)
        checks.add_column(no_wrap=True)
        checks.add_column()
        for c in r.checks:
            style = {"ok": "green", "warn": "yellow", "fail": "bold red"}.get(c.status, "")
            checks.add_row(Text(c.status_text, style=style), plain(c.label), plain(c.detail))
        self.query_one("#checks", Static).update(checks)
        audit = Table(title=self.t("tech.audit"), title_justify="left", box=None,
                      padding=(0, 1), show_edge=False)
        for key in ("tech.col.at", "tech.col.actor", "tech.col.action", "tech.col.detail"):
            audit.add_column(self.t(key), no_wrap=key != "tech.col.detail")
        tz = self.services.now().tzinfo
        for at, actor, action, detail in r.audit_tail:
            audit.add_row(f"{at.astimezone(tz):%d-%m %H:%M:%S}", plain(actor),
                          plain(self.cat.audit_action(action)), plain(detail, limit=60))
        self.query_one("#audit", Static).update(audit)

    def action_page(self, direction: int) -> None:
        body = self.query_one("#tech-body", VerticalScroll)
        if direction > 0:
            body.scroll_page_down()
        else:
            body.scroll_page_up()

    def action_back(self) -> None:
        self.dismiss()
