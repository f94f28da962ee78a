"""Home: where the kit is, today's count, the queue numbers, the invited residents still
to record, and the way into everything else. One key (Enter) starts the next resident."""

from __future__ import annotations

from typing import ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from edge.errors import RekamError
from tui import events as flow
from tui.messages import Failed, HomeLoaded
from tui.screens.base import RekamScreen
from tui.screens.place import kelurahan_name
from tui.text import esc
from tui.views import HomeOverview
from tui.widgets.bottom import Bottom
from tui.widgets.top_bar import TopBar

EXPECTED_SHOWN = 12
"""Invited residents listed on Home; the tile shows as many as the terminal has room for."""


class HomeScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "find", "find", id="find"),
        Binding("n", "call_next", "call next", id="call_next"),
        Binding("s", "sync", "sync", id="sync"),
        Binding("l", "place", "place", id="place"),
        Binding("t", "technician", "technician", id="technician"),
        Binding("escape", "logout", "logout", id="logout"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overview: HomeOverview | None = None
        self.failure: BaseException | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("home.title")
        with Vertical(id="home-body"):
            yield Static(id="place-line")
            with Horizontal(id="home-tiles"):
                with Vertical(classes="tile"):
                    yield Static(id="today-title", classes="section-title")
                    yield Static(id="today")
                with Vertical(classes="tile"):
                    yield Static(id="queue-title", classes="section-title")
                    yield Static(id="queue")
            with Vertical(classes="tile", id="expected-tile"):
                yield Static(id="expected-title", classes="section-title")
                yield Static(id="expected")
            yield Static(id="warnings", classes="message")
            yield Static(id="hint", classes="hint")
        yield Bottom()

    def on_mount(self) -> None:
        self.load()

    def snapshot_changed(self) -> None:
        self.refresh_text()

    def on_screen_resume(self) -> None:
        self.load()
        self.rekam.refresh_status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="home")
    def load(self) -> None:
        try:
            overview = self.services.home_overview(expected_limit=EXPECTED_SHOWN)
        except RekamError as exc:
            self.post_message(Failed("home", exc))
            return
        self.post_message(HomeLoaded(overview))

    def on_home_loaded(self, message: HomeLoaded) -> None:
        message.stop()
        self.overview = message.overview
        self.failure = None
        self.refresh_text()

    def on_failed(self, message: Failed) -> None:
        message.stop()
        self.failure = message.error  # said in words when drawn (F2 says it again)
        self.refresh_text()

    def refresh_text(self) -> None:
        d = self.overview
        point = d.point if d is not None else None
        place = self.query_one("#place-line", Static)
        if point is not None:
            place.update(self.t("home.place", place=f"{esc(point.name)} · "
                                f"{esc(kelurahan_name(point.kelurahan))} RW {esc(point.rw)} "
                                f"({self.t('place.type.' + point.place_type)})"))
        else:
            place.update(self.t("home.place_unset"))
        self.query_one("#today-title", Static).update(self.t("home.today"))
        self.query_one("#queue-title", Static).update(self.t("home.queue"))
        today = d.today if d is not None else None
        snap = self.rekam.snapshot
        waiting = snap.waiting if snap is not None else 0
        if today is not None:
            self.query_one("#today", Static).update(
                f"{self.t('home.recorded')}: [b]{today.recorded}[/b]\n"
                f"{self.t('home.waiting')}: [b]{waiting}[/b]")
            called = str(today.called) if today.called else self.t("home.called_none")
            self.query_one("#queue", Static).update(
                f"{self.t('home.called')}: [b]{called}[/b]\n[dim]{self.t('home.queue_hint')}[/]")
        lines = []
        for entry in d.schedule if d is not None else ():
            lines.append(self.t("home.schedule_today", place=esc(entry.place), rw=esc(entry.rw)))
        if d is not None and not d.schedule:
            lines.append(self.t("home.schedule_none"))
        expected = d.expected if d is not None else None
        title = self.t("home.expected")
        if d is not None and d.has_roster:
            lines.append(self.t("home.expected_line", total=d.total, done=d.done,
                                left=max(0, d.total - d.done)))
        elif d is not None:
            lines.append(self.t("home.roster_missing"))
        refused = d.refused if d is not None else None
        if refused is not None:  # an expired worklist: nobody is expected, say why
            lines.append(self.cat.error(refused)[1])
            expected = None
        if expected is not None:
            where = (self.t("home.expected_rw", rw=esc(", ".join(expected.rws))) if expected.rws
                     else self.t("home.expected_all"))
            title = f"{title} · {where}: {self.t('home.expected_left', n=expected.total)}"
            if expected.total == 0:
                lines.append(self.t("home.expected_done"))
            else:
                lines.append(f"[dim]{self.t('home.expected_hint')}[/]")
            one_rw = len(expected.rws) == 1  # the RW is in the title already
            people = []
            for r in expected.residents:
                area = f"RT {r.rt}" if one_rw else f"RT {r.rt}/RW {r.rw}"
                people.append(f"{esc(area)}  {esc(r.name)}  [dim]{esc(r.invitation_code)}[/]")
            # As many as the tile has room for, and how many more there are (the list is
            # never cut silently: on 24 lines a few of a dozen fit)
            room = self.query_one("#expected", Static).size.height or len(lines) + len(people)
            shown = len(people)
            if len(lines) + shown > room or expected.total > shown:
                shown = max(0, min(shown, room - len(lines) - 1))
            lines += people[:shown]
            if expected.total > shown:
                lines.append(f"[b]{self.t('home.expected_more', n=expected.total - shown)}[/b]")
        self.query_one("#expected-title", Static).update(title)
        self.query_one("#expected", Static).update("\n".join(lines))
        warnings = []
        expires = d.expires if d is not None else None
        if refused is None and expires is not None and expires <= self.services.kit.clock():
            warnings.append(self.t("home.roster_expired",
                                   when=f"{expires.astimezone(self.services.now().tzinfo):%d-%m}"))
        if snap is not None and snap.free_disk_mb < snap.disk_floor_mb * 2:
            warnings.append(self.t("home.disk_low"))
        if self.failure is not None:
            warnings.append(esc(self.cat.error(self.failure)[1]))
        self.query_one("#warnings", Static).update("\n".join(warnings))
        self.query_one("#hint", Static).update(self.t("home.start_hint"))

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_text)  # how many residents fit changes

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "technician":  # shown to technicians only; T still answers others
            return self.services.is_technician()
        return True

    def on_key(self, event: events.Key) -> None:
        if event.key == "t" and not self.services.is_technician():
            event.stop()  # say why, rather than nothing at all
            self.notify(self.t("home.technician_only"), severity="warning")

    def action_find(self) -> None:
        self.happened(flow.Opened(flow.Place.FIND))

    def action_call_next(self) -> None:
        number = self.services.call_next()
        self.notify(self.t("home.called_now", n=number))
        self.load()

    def action_sync(self) -> None:
        self.happened(flow.Opened(flow.Place.SYNC))

    def action_place(self) -> None:
        self.happened(flow.Opened(flow.Place.SERVICE_POINT))

    def action_technician(self) -> None:
        self.happened(flow.Opened(flow.Place.TECHNICIAN))

    def action_logout(self) -> None:
        """Asks first: Esc is the key an operator presses to "go back", and a logout
        costs the ID and PIN again."""
        from tui.dialogs.confirm import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.happened(flow.LoggedOut())

        self.app.push_screen(ConfirmDialog("home.logout_title", "home.logout_question"),
                             answered)
