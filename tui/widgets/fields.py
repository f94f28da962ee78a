"""An input that passes keys typed ahead to the next field.

A fast typist (or a terminal that delivers a burst, as over SSH) sends ``budi⏎571846⏎``
or ``budi⇥571846⏎`` before the screen has moved the focus from the operator field to the
PIN: Textual queues every key for the field focused when it arrived. This field notices
its own Enter or Tab and hands whatever follows in its queue to the next field, in order,
until the focus leaves.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Input


class ChainedInput(Input):
    def __init__(self, *args: Any, next_field: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_field = next_field
        self._ahead: Input | None = None

    async def _on_key(self, event: events.Key) -> None:
        ahead = self._ahead
        if ahead is not None:
            event.stop()
            event.prevent_default()
            if event.key == "enter":
                await ahead.action_submit()
            elif event.key == "backspace":
                ahead.action_delete_left()
            elif event.is_printable and event.character:
                ahead.insert_text_at_cursor(event.character)
            return
        if event.key == "enter":
            self._ahead = self.screen.query_one(self.next_field, Input)
        elif event.key == "tab":  # moved here, not by the screen's binding: keys queued
            event.stop()          # behind the Tab must already find the next field
            event.prevent_default()
            self._ahead = self.screen.query_one(self.next_field, Input)
            self._ahead.focus()
            return
        await super()._on_key(event)

    def _on_focus(self, event: events.Focus) -> None:
        self._ahead = None
        super()._on_focus(event)
