"""The Rekam operator UI: a Textual app that runs a service point.

``RekamApp(services)`` receives everything it works with in its constructor (after
harlequin): the :class:`~tui.services.KitServices` the bootstrap wired
(:func:`rekam.bootstrap.ui_services`): the kit core, its devices (real or simulated), the
send to HQ and the readiness checks. Tests wire a kit in a temporary home with simulated
devices the same way; ``rekam tui`` wires the configured kit.

How the parts fit:

- :mod:`tui.services` — the kit as the UI sees it (no Textual): login, roster, enrolment,
  sealing, receipt, status, sync, technician report; thread-safe, called from workers
  (its parts: :mod:`tui.services_devices`, :mod:`tui.services_status`).
- :mod:`tui.views` — what the screens show, as frozen dataclasses the services build.
- :mod:`tui.catalogue` — every displayed string, Bahasa Indonesia and English, and the
  error codes of the core and the devices as plain sentences.
- :mod:`tui.messages` — what workers post back; workers never touch widgets.
- :mod:`tui.events` and :mod:`tui.flow` — screens post what happened (a resident chosen,
  captures done); the one :class:`~tui.flow.Flow` decides the next screen.
- :mod:`tui.context` — what screens may ask of the app (a Protocol: no import of the app).
- :mod:`tui.screens`, :mod:`tui.widgets`, :mod:`tui.dialogs` — what is shown; the bars are
  handed their data by the app (``feed_bars``) instead of reaching into it.

Every key a screen offers is in the key bar at the bottom; F2 switches the language on
every screen; the status bar above it is always visible.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker

from hal.errors import code_of
from tui.catalogue import Catalogue
from tui.events import Happened, LoggedOut
from tui.flow import Flow
from tui.messages import Failed, StatusUpdated
from tui.services import KitServices
from tui.views import KitSnapshot

log = logging.getLogger("rekam.tui")

IDLE_CHECK_EVERY = 15.0
"""Seconds between checks for an operator who walked away (``idle_logout_minutes``)."""

CONSOLE_THEME = "ansi-dark"
"""On the Linux console (16 colours) the UI uses the terminal's own ANSI colours."""


def default_theme() -> str:
    """``ansi-dark`` on the Linux console or a 16-colour terminal, else Textual's default."""
    term = os.environ.get("TERM", "")
    if term == "linux" or os.environ.get("TEXTUAL_COLOR_SYSTEM") == "standard":
        return CONSOLE_THEME
    return "textual-dark"


class RekamApp(App[None]):
    CSS_PATH = "rekam.tcss"
    TITLE = "Rekam"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "switch_language", "language", id="language", priority=True),
    ]

    language: reactive[str] = reactive("id")
    snapshot: reactive[KitSnapshot | None] = reactive(None, always_update=True)

    def __init__(
        self,
        services: KitServices,
        *,
        language: str | None = None,
        keymap: dict[str, str] | None = None,
        theme: str | None = None,
        status_every: float = 5.0,
        log_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.kit = kit = services.kit
        self.cat = Catalogue(language or kit.config.language)
        self.set_reactive(RekamApp.language, self.cat.language)
        self._keymap = keymap or {}
        self._theme_name = theme or default_theme()
        self.status_every = status_every
        self._status_requested = 0
        self._status_applied = 0
        self.log_path = log_path or kit.paths.root / "tui.log"
        self.flow = Flow(self, self)
        self.idle_clock = time.monotonic
        self._last_input = self.idle_clock()

    def on_mount(self) -> None:
        self.theme = self._theme_name
        if self._keymap:
            self.set_keymap(self._keymap)
        self.flow.start()
        if not self.services.devices_ready:
            self.open_devices()
        self.refresh_status()
        if self.status_every > 0:
            self.set_interval(self.status_every, self.refresh_status)
        self.set_interval(IDLE_CHECK_EVERY, self.check_unattended)

    # --- where the operator goes next: the flow decides ----------------------------------------

    def on_happened(self, message: Happened) -> None:
        message.stop()
        self.flow.handle(message.event)

    def logout(self) -> None:
        """Back to the login screen; the open recording is cancelled first (its captures
        are wiped from memory, the audit log says so)."""
        self.flow.handle(LoggedOut())

    # --- the unattended kit --------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self._last_input = self.idle_clock()
        await super().on_event(event)

    def check_unattended(self) -> None:
        """Log out an operator who left the kit (``idle_logout_minutes``), unless a device
        is capturing right now."""
        minutes = self.kit.config.idle_logout_minutes
        if minutes <= 0 or self.services.session is None:
            return
        if any(getattr(s, "busy_slot", None) is not None for s in self.screen_stack):
            return
        if self.idle_clock() - self._last_input < minutes * 60:
            return
        with contextlib.suppress(Exception):  # the audit log must not keep a kit open
            self.kit.audit.append(self.services.session.operator.id, "idle_logout",
                                  minutes=minutes)
        self.logout()
        from tui.screens.login import LoginScreen

        if isinstance(self.screen, LoginScreen):  # stays until the next login
            self.screen.say("app.idle_logout", minutes=minutes)

    # --- language ---------------------------------------------------------------------------

    def action_switch_language(self) -> None:
        self.language = self.cat.switch()

    def watch_language(self) -> None:
        self._redraw_stack(language=True)

    def watch_snapshot(self) -> None:
        self._redraw_stack(language=False)

    def feed_bars(self, screen: Screen[Any]) -> None:
        """Hand a screen's bars what they show: widgets never reach into the app."""
        from tui.widgets.keybar import KeyBar
        from tui.widgets.status_bar import StatusBar
        from tui.widgets.top_bar import TopBar

        session = self.services.session
        operator = session.operator.name if session is not None else ""
        for bar in screen.query(StatusBar):
            bar.show(self.cat, self.snapshot)
        for top in screen.query(TopBar):
            top.show(self.cat, self.snapshot, operator, self.services.now)
        for keys in screen.query(KeyBar):
            keys.show(self.cat)

    def _redraw_stack(self, *, language: bool) -> None:
        """Every screen of the stack (the ones under a dialog show through it) and their
        bars, told directly: widgets never watch the app (see ``language_changed``)."""
        from tui.screens.base import _Shared

        for screen in self.screen_stack:
            if not screen.is_mounted:
                continue
            self.feed_bars(screen)
            if isinstance(screen, _Shared):
                if language:
                    screen.language_changed()
                else:
                    screen.snapshot_changed()

    # --- devices ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="devices")
    def open_devices(self) -> None:
        """After the login screen is up: the device backends load while the operator types."""
        from edge.errors import RekamError
        from hal.errors import HalError

        try:
            self.services.open_devices()
        except (HalError, RekamError) as exc:
            self.post_message(Failed("devices", exc))
            return
        self.call_from_thread(self.refresh_status)

    def on_failed(self, message: Failed) -> None:
        from tui.dialogs.problem import ProblemDialog

        if message.what == "devices":
            self.write_log("opening the devices failed", message.error)
            self.push_screen(ProblemDialog(message.error))

    # --- the status bar's data ------------------------------------------------------------------

    def refresh_status(self) -> None:
        """Ask for a fresh status (after a device fault, a seal, a sync; and every few
        seconds); the newest request's answer wins."""
        self._status_requested += 1
        self._status_worker(self._status_requested)

    @work(thread=True, exit_on_error=False, group="status")
    def _status_worker(self, seq: int) -> None:
        self.post_message(StatusUpdated(self.services.snapshot(), seq))

    def on_status_updated(self, message: StatusUpdated) -> None:
        if message.seq < self._status_applied:
            return
        self._status_applied = message.seq
        self.snapshot = message.snapshot

    # --- one handler for workers that fail unexpectedly -----------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        from textual.worker import WorkerState

        if event.state is WorkerState.ERROR:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker[Any]) -> None:
        """A worker raised something no screen expected: log the traceback to the log file
        (for the technician), and tell the operator in plain words. Never a traceback on
        screen."""
        from tui.dialogs.problem import ProblemDialog

        error = worker.error
        self.write_log(f"worker {worker.name!r} failed", error)
        if code_of(error, ""):
            self.push_screen(ProblemDialog(error))
        else:
            self.push_screen(ProblemDialog(text=self.cat.t("app.unexpected",
                                                           log=str(self.log_path))))

    def write_log(self, what: str, error: BaseException | None) -> None:
        try:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(f"{self.services.now().isoformat()} {what}\n")
                if error is not None:
                    fh.write("".join(traceback.format_exception(error)))
        except OSError:
            log.exception("%s", what)

    # --- leaving -----------------------------------------------------------------------------

    def on_unmount(self) -> None:
        self.services.close()
        self.services.close_devices()
