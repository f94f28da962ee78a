"""Steps a test takes through the UI, as an operator would: keys only."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input
from tui_world import OPERATOR_PIN, settle


def screen_name(pilot: Any) -> str:
    return type(pilot.app.screen).__name__


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


def fill(pilot: Any, selector: str, text: str) -> None:
    """Put ``text`` in an input at once (typing it key by key costs ~0.2 s a key under the
    Pilot; the keys themselves are tested where they matter)."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = text
    field.cursor_position = len(text)


async def login(pilot: Any, operator: str = "budi", pin: str = OPERATOR_PIN) -> None:
    await settle(pilot)
    fill(pilot, "#operator", operator)
    fill(pilot, "#pin", pin)
    await pilot.press("enter")
    await settle(pilot)


async def login_to_home(pilot: Any, operator: str = "budi", pin: str = OPERATOR_PIN) -> None:
    await login(pilot, operator, pin)
    if screen_name(pilot) == "ServicePointScreen":  # today's visit from HQ's schedule
        await pilot.press("f10")
        await settle(pilot)
    assert screen_name(pilot) == "HomeScreen", screen_name(pilot)


async def find(pilot: Any, query: str) -> None:
    assert screen_name(pilot) == "HomeScreen"
    await pilot.press("enter")
    await settle(pilot)
    fill(pilot, "#query", query)
    await settle(pilot)


async def start_recording(pilot: Any, rig: Any, resident: Any) -> None:
    """Home → find by NIK → confirm → the capture wizard at the face step."""
    await find(pilot, resident.nik)
    await pilot.press("enter")
    await settle(pilot)
    assert screen_name(pilot) == "IdentityScreen"
    await pilot.press("enter")
    await settle(pilot)
    assert screen_name(pilot) == "CaptureScreen"


async def enter(pilot: Any) -> None:
    await pilot.press("enter")
    await settle(pilot)


def text_of(pilot: Any, selector: str) -> str:
    from textual.widgets import Static

    widget = pilot.app.screen.query_one(selector, Static)
    return str(widget.render())


def screen_text(pilot: Any) -> str:
    """Everything on the screen as plain text (what the operator reads)."""
    strips = pilot.app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)
