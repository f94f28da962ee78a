"""What every screen and dialog shares: the catalogue, the services, relabelling when the
language changes, and one route for workers that fail unexpectedly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from tui.catalogue import Catalogue
from tui.context import RekamContext
from tui.events import Event, Happened
from tui.services import KitServices
from tui.text import esc

R = TypeVar("R")

Words = Callable[[], str]
"""Text a screen shows, kept as how to say it (not the words): drawn again after F2, it is
said in the language of the moment. Markup-safe (data in it escaped)."""


def nothing() -> str:
    return ""


class _Shared:
    """Mixed into screens and modals."""

    @property
    def rekam(self) -> RekamContext:
        return cast(RekamContext, self.app)  # type: ignore[attr-defined]

    @property
    def cat(self) -> Catalogue:
        return self.rekam.cat

    @property
    def services(self) -> KitServices:
        return self.rekam.services

    def happened(self, event: Event) -> None:
        """Tell the flow what happened here; it decides the next screen (:mod:`tui.flow`)."""
        self.post_message(Happened(event))  # type: ignore[attr-defined]

    def t(self, key: str, **values: Any) -> str:
        return self.rekam.cat.t(key, **values)

    def words(self, key: str, **values: Any) -> Words:
        """A catalogue message to show now and say again after F2 (its values fixed)."""
        return lambda: self.t(key, **values)

    def error_words(self, error: BaseException) -> Words:
        """An error's message to show now and say again after F2."""
        return lambda: esc(self.cat.error(error)[1])

    def refresh_text(self) -> None:
        """Write every label from the catalogue (on mount and on a language switch)."""

    def language_changed(self) -> None:
        """Called by the app on every screen of the stack when F2 switches the language.
        (Not ``self.watch(app, ...)``: Textual keeps such watchers, and with them the whole
        screen and its captures, until the watched value next changes.)"""
        self.refresh_text()
        self.refresh_bindings()  # type: ignore[attr-defined]

    def snapshot_changed(self) -> None:
        """Called by the app on every screen of the stack when the kit's status changes."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.rekam.worker_failed(event.worker)

    def key_label(self, binding_id: str) -> str | None:
        """A label for a key that depends on the screen's state; None: the catalogue's."""
        return None


class RekamScreen(_Shared, Screen[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [
        # shown by the key bar itself, and only when the keys need more than one line
        Binding("f1", "more_keys", "more keys", id="more_keys", show=False),
    ]

    # Textual calls the on_mount of every class in a screen's MRO, subclass first, so a
    # screen's own on_mount must not call super().on_mount(): that would feed the bars and
    # redraw the text twice on every mount (tests/tui/test_tui_screens.py counts them).
    def on_mount(self) -> None:
        self.rekam.feed_bars(self)
        self.refresh_text()

    def action_more_keys(self) -> None:
        from tui.widgets.keybar import KeyBar

        for bar in self.query(KeyBar):
            bar.next_page()


class RekamModal(_Shared, ModalScreen[R]):
    # as RekamScreen's: subclasses' on_mount never call super().on_mount()
    def on_mount(self) -> None:
        self.rekam.feed_bars(self)
        self.refresh_text()
