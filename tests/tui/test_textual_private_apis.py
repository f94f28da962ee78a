"""The UI leans on two private parts of Textual (pinned to its major version in
pyproject.toml): the memory workaround clears a cache that keeps dead widgets alive, and
the key bar reads a screen's bindings by key. A Textual that moves either must fail here,
not silently in the field (a kit whose memory grows all day, a key bar missing keys)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static


def test_the_memory_workaround_still_finds_the_cache_it_clears() -> None:
    from textual._styles_cache import StylesCache

    cache_clear = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    assert callable(cache_clear), "Textual no longer caches get_inner_outer with lru_cache: " \
        "see tui/memory.py _forget_dead_widgets (and Textualize/textual#6665)"
    from tui.memory import release

    release()  # runs end to end on this Textual


def test_the_key_bar_still_reads_a_screens_bindings_by_key() -> None:
    class Keys(Screen[None]):
        BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "go", "go", id="go")]

        def compose(self) -> ComposeResult:
            yield Static()

    class Probe(App[None]):
        def on_mount(self) -> None:
            self.push_screen(Keys())

    async def go() -> None:
        app = Probe()
        async with app.run_test() as pilot:
            await pilot.pause()
            bindings = app.screen._bindings.key_to_bindings.get("enter", [])
            assert [b.id for b in bindings] == ["go"]

    asyncio.run(go())
