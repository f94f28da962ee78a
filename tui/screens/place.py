"""Today's service point: the kind of place (balai RW, school, home visit), the kelurahan,
the RW and the place's name, with the day's schedule from HQ's worklist to pick from.
Saved in the kit's config, so every packet names where it was recorded."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, RadioSet, Select, Static

from edge import regions
from edge.errors import RekamError
from edge.roster import ScheduleEntry
from edge.service_point import PlaceType, ServicePoint
from tui.messages import Failed, ScheduleLoaded
from tui.screens.base import RekamScreen, Words, nothing
from tui.text import esc, plain
from tui.widgets.bottom import Bottom
from tui.widgets.choice import Choice
from tui.widgets.fields import ChainedInput
from tui.widgets.top_bar import TopBar


def kelurahan_name(code: str) -> str:
    try:
        return regions.get(code).name
    except RekamError:
        return code


class ServicePointScreen(RekamScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f10", "save", "save", id="save"),
        # Enter saves from the kinds of place too (a radio button would take it as "choose"),
        # as from the last field: the README's "F10 or Enter"
        Binding("enter", "enter", "save", show=False, priority=True),
        Binding("tab", "app.focus_next", "next field", id="next_field"),
        Binding("escape", "back", "back", id="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.schedule: list[ScheduleEntry] = []
        self.message: Words = nothing

    def compose(self) -> ComposeResult:
        kelurahan = list(self.services.kit.config.kelurahan)
        current = self.services.service_point() or self.services.last_service_point()
        yield TopBar("place.title")
        with VerticalScroll(id="place-body"):
            yield Static(id="intro", classes="dim")
            with Horizontal(classes="form-row"):
                yield Label(id="type-label", classes="form-label")
                with RadioSet(id="place-type"):
                    for kind in PlaceType:
                        yield Choice(self.t(f"place.type.{kind}"), id=f"type-{kind}",
                                     value=(current.place_type == kind) if current
                                     else kind == PlaceType.BALAI_RW)
            with Horizontal(classes="form-row"):
                yield Label(id="kelurahan-label", classes="form-label")
                yield Select([(plain(f"{kelurahan_name(c)} ({c})"), c) for c in kelurahan],
                             allow_blank=not kelurahan, id="kelurahan",
                             value=current.kelurahan if current and current.kelurahan
                             in kelurahan else (kelurahan[0] if kelurahan else Select.BLANK))
            with Horizontal(classes="form-row"):
                yield Label(id="rw-label", classes="form-label")
                yield ChainedInput(id="rw", restrict=r"[0-9]*", max_length=3,
                                   value=current.rw if current else "", next_field="#name")
            with Horizontal(classes="form-row"):
                yield Label(id="name-label", classes="form-label")
                yield Input(id="name", max_length=60, value=current.name if current else "")
            yield Static(id="message", classes="message")
            with Vertical(id="place-schedule", classes="box"):
                yield Static(id="schedule-title", classes="section-title")
                yield Static(id="schedule")
        yield Bottom()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#place-type", RadioSet))
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def _load(self) -> None:
        try:
            self.post_message(ScheduleLoaded(self.services.schedule()))
        except RekamError as exc:
            self.post_message(Failed("schedule", exc))

    def on_schedule_loaded(self, message: ScheduleLoaded) -> None:
        message.stop()
        self.schedule = message.schedule
        today = [s for s in self.schedule if s.date == self.services.today()]
        name = self.query_one("#name", Input)
        if today and not name.value:  # fill in today's visit from HQ's schedule
            entry = today[0]
            name.value = entry.place
            self.query_one("#rw", Input).value = entry.rw
            if entry.kelurahan in self.services.kit.config.kelurahan:
                self.query_one("#kelurahan", Select).value = entry.kelurahan
            self.message = self.words("place.use_schedule")
        self.refresh_text()

    def on_failed(self, message: Failed) -> None:
        message.stop()
        self.message = self.error_words(message.error)
        self.refresh_text()

    def refresh_text(self) -> None:
        self.query_one("#intro", Static).update(self.t("place.intro"))
        self.query_one("#type-label", Label).update(self.t("place.type"))
        for kind in PlaceType:
            self.query_one(f"#type-{kind}", Choice).label = self.t(f"place.type.{kind}")
        self.query_one("#kelurahan-label", Label).update(self.t("place.kelurahan"))
        self.query_one("#rw-label", Label).update(self.t("place.rw"))
        self.query_one("#name-label", Label).update(self.t("place.name"))
        self.query_one("#name", Input).placeholder = self.t("place.name_hint")
        self.query_one("#message", Static).update(self.message())
        self.query_one("#schedule-title", Static).update(self.t("place.schedule"))
        self.query_one("#schedule", Static).update(self._schedule_text())

    def _schedule_text(self) -> str:
        if not self.schedule:
            return self.t("place.no_schedule")
        today = self.services.today()
        lines = []
        for s in self.schedule:
            if s.date < today:
                continue
            mark = f"  [b]{self.t('place.today_mark')}[/b]" if s.date == today else ""
            note = f" — {esc(s.note)}" if s.note else ""
            lines.append(f"{s.date:%d-%m} {esc(s.place)}, {esc(kelurahan_name(s.kelurahan))} "
                         f"RW {esc(s.rw)}{note}{mark}")
        return "\n".join(lines) or self.t("place.no_schedule")

    @on(Input.Submitted, "#name")
    def _name_done(self) -> None:
        self.action_save()

    @on(Input.Submitted, "#rw")
    def _rw_done(self) -> None:
        self.set_focus(self.query_one("#name", Input))

    def action_enter(self) -> None:
        radio = self.focused
        if not isinstance(radio, RadioSet):
            raise SkipAction()  # an input's own Enter: next field, or save from the last
        radio.action_toggle_button()  # the highlighted kind, as Enter on it always chose
        self.call_after_refresh(self.action_save)

    def action_save(self) -> None:
        radio = self.query_one("#place-type", RadioSet)
        kind = tuple(PlaceType)[radio.pressed_index if radio.pressed_index >= 0 else 0]
        kelurahan = self.query_one("#kelurahan", Select).value
        rw = self.query_one("#rw", Input).value.strip()
        name = self.query_one("#name", Input).value.strip()
        if not rw.isdigit():
            self.message = self.words("place.need_rw")
            self.set_focus(self.query_one("#rw", Input))
        elif not name:
            self.message = self.words("place.need_name")
            self.set_focus(self.query_one("#name", Input))
        else:
            point = ServicePoint(kind, "" if kelurahan is Select.BLANK else str(kelurahan),
                                 rw, name)
            saved = self.services.set_service_point(point)
            self.notify(self.t("place.saved", name=esc(saved.name)))
            self.dismiss()
            return
        self.refresh_text()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.services.service_point() is not None
        return True

    def action_back(self) -> None:
        if self.services.service_point() is not None:
            self.dismiss()
