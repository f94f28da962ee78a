"""Sync: the outbox by state, the last contact with HQ, the last problem in plain words,
and "kirim sekarang" (send now): it wakes the sync daemon when one runs, else runs the
uplink once (``sync.uplink``, the same code as ``rekam sync --once``) in a worker.
Without an HQ server address the key stays disabled and the screen says why."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from edge.errors import RekamError
from hal.errors import code_of
from tui.messages import Failed, SyncLoaded
from tui.screens.base import RekamScreen
from tui.text import esc
from tui.views import SyncOverview
from tui.widgets.bottom import Bottom
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from sync.send_now import SyncResult

SEND_TIMEOUT = 60.0
LINK_ERRORS = ("transport", "connect_failed", "hq_unreachable", "disconnected",
               "publish_timeout")


class SyncScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "send", "send now", id="send_now"),
        Binding("m", "load", "refresh", id="refresh"),
        Binding("pagedown", "page(1)", "scroll", id="scroll", key_display="PgUp/PgDn"),
        Binding("pageup", "page(-1)", "scroll", show=False),
        Binding("escape", "back", "back", id="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overview: SyncOverview | None = None
        self.result: SyncResult | None = None
        self.sending = False
        # the send's failure, kept as the error (words are chosen when drawn: F2)
        self.error: BaseException | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("sync.title")
        with Vertical(id="sync-body"):
            yield Static(id="counts")
            yield Static(id="facts")
            yield Static(id="state")
            with VerticalScroll(id="sync-list"):
                yield Static(id="packets")
        yield Bottom()

    def on_mount(self) -> None:
        self.action_load()

    def action_load(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync-load")
    def _load(self) -> None:
        try:
            self.post_message(SyncLoaded(self.services.sync_overview()))
        except RekamError as exc:
            self.post_message(Failed("load", exc))

    def on_sync_loaded(self, message: SyncLoaded) -> None:
        message.stop()
        self.overview = message.overview
        if message.result is not None:
            self.result = message.result
            self.sending = False
            self.rekam.refresh_status()
        self.refresh_text()
        self.refresh_bindings()

    def on_failed(self, message: Failed) -> None:
        message.stop()
        self.sending = False
        self.error = message.error
        self.refresh_text()
        self.refresh_bindings()
        self._load()

    def refresh_text(self) -> None:
        o = self.overview
        if o is None:
            return
        now = self.services.now()
        counts = [f"{self.t('sync.state.' + state)}: [b]{o.counts.get(state, 0)}[/b]"
                  for state in ("sealed", "sent")]
        # what HQ received stays counted after the kit purges the packets' bytes
        counts.append(self.t("sync.received", today=o.received_today, total=o.received_total))
        self.query_one("#counts", Static).update("\n".join(counts))
        facts = [self.t("sync.last_contact", when=self.cat.when(o.last_contact, now))]
        if o.oldest_waiting is not None:
            facts.append(self.t("sync.oldest", when=self.cat.when(o.oldest_waiting, now)))
        if o.broker:
            facts.append(self.t("sync.broker", broker=esc(o.broker)))
            if o.daemon == "retrying" and o.daemon_retry_at is not None:
                facts.append(self.t("sync.daemon.retrying",
                                    when=f"{o.daemon_retry_at.astimezone(now.tzinfo):%H:%M:%S}"))
            elif o.daemon:
                facts.append(self.t(f"sync.daemon.{o.daemon}"))
            else:
                facts.append(f"[dim]{self.t('sync.daemon.none')}[/]")
            if o.daemon:
                facts.append(f"[dim]{self.t('sync.auto')}[/]")
        else:
            facts.append(f"[yellow]{self.t('sync.no_broker')}[/]")
        self.query_one("#facts", Static).update("\n".join(facts))
        state = self.query_one("#state", Static)
        if self.sending:
            state.update(self.t("sync.sending", seconds=int(SEND_TIMEOUT)))
        else:
            lines = []
            if self.result is not None:
                r = self.result
                lines.append(self.t("sync.result", sent=r.sent, acked=r.acked, waiting=r.waiting))
            problem = self._problem(o)
            lines.append(f"[b yellow]{self.t('sync.last_error', text=problem)}[/]" if problem
                         else self.t("sync.no_error"))
            state.update("\n".join(lines))
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for key in ("sync.col.packet", "sync.col.state", "sync.col.size", "sync.col.created"):
            table.add_column(self.t(key))
        for packet_id, state_name, size, created in o.recent:
            table.add_row(packet_id[-12:].upper(), self.t(f"sync.state.{state_name}"),
                          f"{size / 1024:.0f} KB", f"{created.astimezone(now.tzinfo):%d-%m %H:%M}")
        self.query_one("#packets", Static).update(table)

    def _problem(self, o: SyncOverview) -> str:
        """The last problem in words of the language shown, and what to check: with no
        network at all, the kit's own modem or cable; with one, HQ's side."""
        if self.error is not None:
            code, text = code_of(self.error, ""), self.cat.error(self.error)[1]
        elif o.last_error:
            code = o.last_error
            text = self.t(f"err.{code}") if self.cat.has(f"err.{code}") else o.last_error_detail
        else:
            return ""
        snap = self.rekam.snapshot
        if code in LINK_ERRORS and snap is not None and not snap.link_up:
            return self.t("sync.no_network")
        return esc(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            return None if self.sending or not self.services.can_send() else True
        return True

    def action_send(self) -> None:
        if self.sending or not self.services.can_send():
            return
        self.sending = True
        self.error = None
        self.refresh_text()
        self.refresh_bindings()
        self._send()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync-send")
    def _send(self) -> None:
        try:
            result = self.services.send_now(timeout=SEND_TIMEOUT)
        except RekamError as exc:
            self.post_message(Failed("send", exc))
            return
        self.post_message(SyncLoaded(self.services.sync_overview(), result))

    def action_page(self, direction: int) -> None:
        body = self.query_one("#sync-list", VerticalScroll)
        if direction > 0:
            body.scroll_page_down()
        else:
            body.scroll_page_up()

    def action_back(self) -> None:
        self.dismiss()
