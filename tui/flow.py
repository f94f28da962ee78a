"""Where the operator goes next, decided in one place.

Screens say what happened (``self.happened(ResidentChosen(resident))``: a
:class:`~tui.events.Happened` message that bubbles to the app) and :class:`Flow` picks the
next screen, after Textual's screen guide. The screens of one recording (identity,
capture, review) replace each other on top of Home, so Esc from any of them never lands
on a stale one; dialogs and the screens that simply close (``dismiss``) stay with the
screen that opened them.

The whole map::

    Login ──LoggedIn──► Home (+ ServicePoint on top when today's is not set)
    Home ──Opened(FIND/SYNC/SERVICE_POINT/TECHNICIAN)──► that screen, over Home
    Find ──ResidentChosen──► Identity ──RecordingStarted──► Capture
    Capture ──CapturesDone──► Review ──StepBack──► Capture
    Capture ──RecordingCancelled(resident)──► Identity (that resident again)
    Review ──NextResident──► Find;  RecordingCancelled / BackHome ──► Home
    any ──LoggedOut──► Login
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from tui.context import RekamContext
from tui.events import (
    BackHome,
    CapturesDone,
    Event,
    LoggedIn,
    LoggedOut,
    NextResident,
    Opened,
    Place,
    RecordingCancelled,
    RecordingStarted,
    ResidentChosen,
    StepBack,
)
from tui.memory import release as release_memory


class Flow:
    """The screen map of the operator UI. It pushes and pops screens on ``app``; the
    screens themselves never choose what comes after them."""

    def __init__(self, app: App[Any], context: RekamContext) -> None:
        self.app = app  # the screen stack
        self.context = context  # the services, the log, the status bar

    def start(self) -> None:
        from tui.screens.login import LoginScreen

        self.app.push_screen(LoginScreen())

    def handle(self, event: Event) -> None:
        from tui.screens.capture import CaptureScreen
        from tui.screens.find import FindScreen
        from tui.screens.identity import IdentityScreen
        from tui.screens.review import ReviewScreen

        match event:
            case LoggedIn():
                self._logged_in()
            case LoggedOut():
                self._logout()
            case Opened(place):
                self._open(place)
            case ResidentChosen(resident):
                self.app.push_screen(IdentityScreen(resident))
            case RecordingStarted(enrolment):
                self._recording(CaptureScreen(enrolment))
            case CapturesDone(enrolment, notice):
                self._recording(ReviewScreen(enrolment, notice=notice))
            case StepBack(enrolment):
                self._recording(CaptureScreen(enrolment))
            case RecordingCancelled(again) if again is not None:
                self._recording(IdentityScreen(again))
            case NextResident():
                self._recording(FindScreen())
            case RecordingCancelled() | BackHome():
                self._home()

    def _logged_in(self) -> None:
        from tui.screens.home import HomeScreen
        from tui.screens.place import ServicePointScreen

        self.app.push_screen(HomeScreen())
        if self.context.services.service_point() is None:
            self.app.push_screen(ServicePointScreen())
        self.context.refresh_status()

    def _open(self, place: Place) -> None:
        from tui.screens.find import FindScreen
        from tui.screens.place import ServicePointScreen
        from tui.screens.sync import SyncScreen
        from tui.screens.technician import TechnicianScreen

        screens = {Place.FIND: FindScreen, Place.SYNC: SyncScreen,
                   Place.SERVICE_POINT: ServicePointScreen, Place.TECHNICIAN: TechnicianScreen}
        self.app.push_screen(screens[place]())

    def _logout(self) -> None:
        """The session ends (the open recording is cancelled: :meth:`KitServices.logout`),
        and every screen above the login goes."""
        from edge.errors import RekamError
        from tui.screens.login import LoginScreen

        try:
            self.context.services.logout()
        except RekamError as exc:
            self.context.write_log("cancelling a recording at logout failed", exc)

        while len(self.app.screen_stack) > 1 and not isinstance(self.app.screen, LoginScreen):
            self.app.pop_screen()

    def _home(self) -> None:
        """Pop everything above Home (a recording's screens)."""
        from tui.screens.home import HomeScreen

        popped = False
        while len(self.app.screen_stack) > 1 and not isinstance(self.app.screen, HomeScreen):
            self.app.pop_screen()
            popped = True
        if popped:  # the screens just closed are cycles only a full collection frees
            self.app.call_after_refresh(release_memory)

    def _recording(self, screen: object) -> None:
        """Home, then ``screen`` on top: a recording's screens replace each other."""
        from textual.screen import Screen

        assert isinstance(screen, Screen)
        self._home()
        self.app.push_screen(screen)
