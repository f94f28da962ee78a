"""Data is shown as text, never read as markup: a roster, a schedule and a scanned QR full
of Textual/Rich markup walk through every screen an operator sees without a crash, each
string shown exactly as it was written."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from tui_drive import enter, fill, login, screen_name, screen_text
from tui_world import (
    DEVICE,
    INVITATION_SECRET,
    KELURAHAN,
    NOW,
    OPERATOR_PIN,
    SUPERVISOR_PIN,
    TECHNICIAN_PIN,
    TODAY,
    kit_worklist_key,
    settle,
)

from edge.residents_csv import read_csv
from edge.roster import ScheduleEntry
from edge.worklist import build_worklist

# What a hostile HQ export, a typo'd register or a forged letter could carry: a closing tag
# with nothing open (Textual raises on it), styles, an action link, a variable.
NAME = "SITI [/] [bold]RAHMA[@click=app.quit] $x"
ADDRESS = "JL. [red]MAWAR[/red] [/] NO. 1"
PLACE = "BEKASI [@click=app.quit]"
# A worklist is signed by HQ, which refuses control characters at import; one signed before
# that check (or by a compromised HQ) still must not reach the terminal as an escape.
CONTROLS = "\x1b[2J\x07\u202e"
VISIT = "Balai [/] RW 005 [b]"
NOTE = "[@click=app.quit]bawa KK[/]"
SUPERVISOR = "ANI [/][@click=app.quit]"
QR = "[/][bold]X[@click=app.quit]"


def _hostile_worklist(kit_template) -> tuple[bytes, str]:  # type: ignore[no-untyped-def]
    """A newer worklist in which one resident of RW 005 and the visits carry markup;
    returns it and that resident's NIK."""
    from hq.home import HqHome
    from hq.invitations import invitation_code

    residents = [replace(r, invitation_code=invitation_code(INVITATION_SECRET, r.nik))
                 for r in read_csv(kit_template.parent / "residents.csv", today=TODAY)]
    i = next(i for i, r in enumerate(residents) if r.rw == "005")
    residents[i] = replace(residents[i], name=NAME, address=ADDRESS + CONTROLS,
                           birth_place=PLACE)
    schedule = (ScheduleEntry(TODAY, VISIT, KELURAHAN, "005", NOTE),
                ScheduleEntry(TODAY + timedelta(days=1), VISIT, KELURAHAN, "007", NOTE))
    data = build_worklist(device_id=DEVICE, version=2, issued_at=NOW - timedelta(hours=1),
                          expires_at=NOW + timedelta(days=30), kelurahan=[KELURAHAN],
                          residents=residents, schedule=schedule,
                          signing_key=HqHome(kit_template.parent / "hq").keys().signing,
                          kit_key=kit_worklist_key(kit_template))
    return data, residents[i].nik


def test_markup_in_residents_schedule_and_qr_is_shown_literally(rig_factory,
                                                                 kit_template) -> None:
    rig = rig_factory()
    worklist, nik = _hostile_worklist(kit_template)
    rig.kit.import_worklist(worklist, rig.kit.login("budi", OPERATOR_PIN))
    rig.kit.operators.add("ani", SUPERVISOR, "supervisor", "739104",
                          by=rig.kit.login("siti", SUPERVISOR_PIN))

    async def go() -> None:
        async with rig.app.run_test(size=(130, 40)) as pilot:
            await login(pilot)
            # The service point, prefilled from today's visit; the schedule with its notes.
            assert screen_name(pilot) == "ServicePointScreen"
            text = screen_text(pilot)
            assert VISIT in text and NOTE in text, text
            await pilot.press("f10")  # save the place HQ named
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            text = screen_text(pilot)
            assert VISIT in text, text  # the place line and today's visit
            assert NAME in text, text  # the residents expected here
            # Find: the results table and the resident's card.
            await enter(pilot)
            fill(pilot, "#query", "rahma")
            await settle(pilot)
            assert NAME in screen_text(pilot), screen_text(pilot)
            # A QR that is not an invitation: its text is named as it is.
            rig.devices.code_reader.scan(QR)
            await pilot.pause(0.5)
            await settle(pilot)
            assert screen_name(pilot) == "FindScreen"
            assert QR in screen_text(pilot), screen_text(pilot)
            fill(pilot, "#query", nik)
            await settle(pilot)
            await enter(pilot)
            assert screen_name(pilot) == "IdentityScreen"
            await pilot.pause(0.2)
            text = screen_text(pilot)
            assert NAME in text and ADDRESS in text and PLACE in text, text
            assert ADDRESS + "[2J" in text and not any(c in text for c in "\x1b\x07\u202e")
            # The recording: a supervisor's name in the exception dialog; the cancel
            # question names the resident.
            await enter(pilot)
            assert screen_name(pilot) == "CaptureScreen"
            await enter(pilot)  # face
            await enter(pilot)  # signature
            await pilot.press("e")
            await settle(pilot)
            assert screen_name(pilot) == "ExceptionDialog"
            await pilot.press("tab", "enter")  # open the supervisors' list
            await settle(pilot)
            assert f"{SUPERVISOR} (ani)" in screen_text(pilot), screen_text(pilot)
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert screen_name(pilot) == "CaptureScreen", screen_name(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert NAME in screen_text(pilot), screen_text(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            # The technician's screen: the roster, the audit log.
            await pilot.press("escape", "y")
            await settle(pilot)
            await login(pilot, "tono", TECHNICIAN_PIN)
            await pilot.press("t")
            await settle(pilot)
            assert screen_name(pilot) == "TechnicianScreen", screen_name(pilot)
            assert pilot.app.is_running

    asyncio.run(go())
