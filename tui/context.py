"""What screens and dialogs may ask of the app, as a Protocol: they import this, never
``tui.app`` (the app imports the screens, so the other way round would be a cycle)."""

from __future__ import annotations

from typing import Any, Protocol

from textual.screen import Screen
from textual.worker import Worker

from tui.catalogue import Catalogue
from tui.services import KitServices
from tui.views import KitSnapshot


class RekamContext(Protocol):
    cat: Catalogue
    services: KitServices

    @property
    def snapshot(self) -> KitSnapshot | None: ...

    def refresh_status(self) -> None: ...

    def feed_bars(self, screen: Screen[Any]) -> None: ...

    def worker_failed(self, worker: Worker[Any]) -> None: ...

    def write_log(self, what: str, error: BaseException | None) -> None: ...
