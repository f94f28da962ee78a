"""Snapshots of every screen at 80x24 (the Pi's console) and 120x40, in both languages.

One app per language walks an operator's day and a technician's visit at 80x24; each screen
on the way is also resized to 120x40, and both pictures are compared with their SVGs under
``__snapshots__`` (pytest-textual-snapshot's
SVG extension; cursor blink off). After a deliberate change to the UI, look at the new
pictures and accept them with ``pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Input
from tui_drive import enter, fill, find, login, screen_name
from tui_world import SUPERVISOR_PIN, TECHNICIAN_PIN, settle

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.mark.parametrize("language", ["id", "en"])
def test_every_screen(rig_factory, snapshot, language: str) -> None:
    rig = rig_factory(language=language)
    snapshot = snapshot.use_extension(SVGImageExtension)
    resident = rig.residents(1, odd_year=True)[0]
    shots: dict[str, str] = {}

    async def shot(pilot: Any, name: str) -> None:
        await settle(pilot)
        # The status bar is fed by workers that may finish in any order under load (the
        # newest request wins): ask once more, so the picture shows the settled state.
        pilot.app.refresh_status()
        await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        pilot.app.clear_notifications()
        for size in ("120x40", "80x24"):  # the walk goes on at 80x24
            await pilot.resize_terminal(*SIZES[size])
            await pilot.pause()
            await pilot.pause()
            shots[f"{size}-{name}"] = pilot.app.export_screenshot(
                title=f"{name} {language} {size}")

    async def go() -> None:
        async with rig.app.run_test(size=SIZES["80x24"]) as pilot:
            await settle(pilot)
            await shot(pilot, "01-login")
            await login(pilot, "budi", "000111")
            await shot(pilot, "02-login-wrong-pin")
            await login(pilot, "budi")
            assert screen_name(pilot) == "ServicePointScreen"
            await shot(pilot, "03-service-point")
            await pilot.press("f10")
            await pilot.press("n")
            await shot(pilot, "04-home")
            await find(pilot, "nur")
            await shot(pilot, "05-find")
            fill(pilot, "#query", resident.nik)
            await settle(pilot)
            await enter(pilot)
            await shot(pilot, "06-identity")
            await enter(pilot)
            rig.sim.unplug("camera")
            await enter(pilot)
            await shot(pilot, "07-capture-device-error")
            rig.sim.replug("camera")
            rig.sim.queue("camera", "dark")
            await enter(pilot)
            await shot(pilot, "08-capture-face-retry")
            await enter(pilot)  # face, clean
            await enter(pilot)  # signature
            rig.sim.present_finger(quality=0.0)
            await enter(pilot)
            for _ in range(3):
                await pilot.press("left")
            await shot(pilot, "09-capture-fingers")
            await pilot.press("e")
            await settle(pilot)
            fill(pilot, "#pin", "000111")
            await enter(pilot)
            await shot(pilot, "10-exception-wrong-pin")
            fill(pilot, "#pin", SUPERVISOR_PIN)
            await enter(pilot)
            await enter(pilot)  # the rest of the fingers
            await enter(pilot)  # irises
            await shot(pilot, "11-capture-verification")
            await enter(pilot)  # verification
            await shot(pilot, "12-review")
            rig.devices.receipt_printer.paper_out()
            await enter(pilot)
            await shot(pilot, "13-review-paper-out")
            rig.devices.receipt_printer.load_paper()
            await enter(pilot)
            await shot(pilot, "14-review-printed")
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("s")
            await shot(pilot, "15-sync")
            await pilot.press("escape", "escape", "y")
            await login(pilot, "tono", TECHNICIAN_PIN)
            await pilot.press("t")
            await shot(pilot, "16-technician")

    asyncio.run(go())
    for name, svg in shots.items():
        assert svg == snapshot(name=name), f"{name} changed: look at it, then --snapshot-update"
