"""Pilot tests: an operator's day on simulated devices, keys only, waiting on workers
(never sleeping)."""

from __future__ import annotations

import asyncio
import gc
from datetime import timedelta

from textual.widgets import Input
from tui_drive import (
    enter,
    fill,
    login,
    login_to_home,
    screen_name,
    screen_text,
    start_recording,
    type_text,
)
from tui_world import SUPERVISOR_PIN, settle

from edge.workflow import Step
from hal.backends.sim_control import DEFAULT_SUBJECT
from hal.types import Finger


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def record_clean(pilot, rig, resident) -> None:  # type: ignore[no-untyped-def]
    """One key per step: face, signature, fingers, irises, verification, then seal."""
    await start_recording(pilot, rig, resident)
    screen = pilot.app.screen
    for step in (Step.FACE, Step.SIGNATURE, Step.FINGERPRINTS, Step.IRISES, Step.VERIFICATION):
        assert screen.enrolment.step is step
        await enter(pilot)
    assert screen_name(pilot) == "ReviewScreen"
    await enter(pilot)  # seal and print


def test_full_enrolment_seals_one_packet_and_prints_a_receipt(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await pilot.press("n", "n")  # the queue: number 2 is called
            await settle(pilot)
            assert "Dipanggil: 2" in screen_text(pilot)
            await record_clean(pilot, rig, resident)
            review = pilot.app.screen
            assert review.phase == "done", screen_text(pilot)
            assert "Tanda terima tercetak" in screen_text(pilot)
            assert rig.kit.outbox.counts()["sealed"] == 1
            jobs = rig.devices.receipt_printer.jobs
            assert len(jobs) == 1
            lines = dict(jobs[0].lines)
            assert lines["Nama"] == resident.name
            assert lines["NIK"].endswith(resident.nik[-4:]) and "*" in lines["NIK"]
            assert lines["Lokasi"] == "Balai RW 005"
            assert lines["No. antrean"] == "2"
            assert "1 menunggu kirim" in screen_text(pilot)
            # Enter: the next resident, straight into the search
            await enter(pilot)
            assert screen_name(pilot) == "FindScreen"
            fill(pilot, "#query", resident.nik)
            await settle(pilot)
            assert "sudah" in screen_text(pilot)
            await enter(pilot)
            assert "sudah direkam" in screen_text(pilot)
            assert screen_name(pilot) == "FindScreen"

    run(go())
    entries = list(rig.kit.outbox.entries())
    assert len(entries) == 1
    actions = [e.action for e in rig.kit.audit.entries()]
    assert actions[-2:] == ["enrolment_started", "enrolment_sealed"]


def test_finger_exception_approved_by_a_supervisor(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            await enter(pilot)  # face
            await enter(pilot)  # signature
            screen = pilot.app.screen
            assert screen.enrolment.step is Step.FINGERPRINTS
            # The map starts at the right thumb; the left little finger is the far left.
            for _ in range(5):
                await pilot.press("left")
            assert screen.selected_slot().position == Finger.LEFT_LITTLE.value
            await pilot.press("e")
            await settle(pilot)
            assert screen_name(pilot) == "ExceptionDialog"
            assert "Kelingking kiri" in screen_text(pilot)
            fill(pilot, "#pin", SUPERVISOR_PIN)
            await enter(pilot)
            assert screen_name(pilot) == "CaptureScreen"
            little = next(s.slot for s in screen.enrolment.slots(Step.FINGERPRINTS)
                          if s.slot.position == Finger.LEFT_LITTLE.value)
            state = screen.enrolment.state_of(little)
            assert state.exception is not None
            assert state.exception.approved_by == "siti"
            assert state.exception.reason == "amputated"
            assert "Pengecualian dicatat" in screen_text(pilot)
            # The other nine fingers, one key; the excepted finger is skipped
            await enter(pilot)
            assert screen.enrolment.step is Step.IRISES
            await enter(pilot)
            await enter(pilot)
            assert screen_name(pilot) == "ReviewScreen"
            assert "pengecualian: tidak ada" in screen_text(pilot)
            await enter(pilot)
            assert pilot.app.screen.phase == "done"

    run(go())
    assert rig.kit.outbox.counts()["sealed"] == 1
    receipt = dict(rig.devices.receipt_printer.jobs[0].lines)
    assert receipt["Pengecualian"] == "1"
    approvals = [e for e in rig.kit.audit.entries() if e.actor == "siti"]
    assert approvals, "the supervisor's approval is in the audit log"


def test_a_rejected_supervisor_pin_keeps_the_finger_open(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            await enter(pilot)
            await enter(pilot)
            screen = pilot.app.screen
            await pilot.press("e")
            await settle(pilot)
            dialog = pilot.app.screen
            await pilot.press("tab", "tab")  # reason, supervisor, PIN: keys only
            assert dialog.focused is dialog.query_one("#pin", Input)
            await type_text(pilot, "111222")
            await enter(pilot)
            assert screen_name(pilot) == "ExceptionDialog", "a wrong PIN keeps the dialog open"
            assert "PIN supervisor salah" in screen_text(pilot)
            assert "Sisa 4 kali" in screen_text(pilot)
            assert dialog.query_one("#pin", Input).value == ""
            await pilot.press("escape")
            await settle(pilot)
            assert screen_name(pilot) == "CaptureScreen"
            slot = screen.selected_slot()
            assert screen.enrolment.state_of(slot).exception is None

    run(go())
    refused = [e for e in rig.kit.audit.entries() if "fail" in e.action or "refus" in e.action]
    assert refused, [e.action for e in rig.kit.audit.entries()][-5:]


def test_device_unplugged_mid_capture_then_retried(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            await enter(pilot)
            await enter(pilot)
            screen = pilot.app.screen
            rig.sim.present_finger(quality=1.0)
            # Three fingers go through, then the scanner's cable comes out.
            original = screen._capture

            captured = []

            def counting(slot):  # type: ignore[no-untyped-def]
                captured.append(slot)
                if len(captured) == 4:
                    rig.sim.unplug("fingerprint")
                return original(slot)

            screen._capture = counting
            await enter(pilot)
            text = screen_text(pilot)
            assert "terlepas" in text, text
            assert "Pasang lagi kabelnya" in text
            assert "SJ:terlepas" in text, "the status bar shows the fault"
            assert "Traceback" not in text
            done = [s for s in screen.enrolment.slots() if s.passed]
            assert len(done) == 3
            assert screen.key_label("capture") == "Coba lagi"
            rig.sim.replug("fingerprint")
            await enter(pilot)  # retry: the fourth finger and the rest
            assert screen.enrolment.step is Step.IRISES
            assert "SJ:terlepas" not in screen_text(pilot)

    run(go())


def test_low_quality_finger_says_what_to_do_and_retries(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            await enter(pilot)
            await enter(pilot)
            screen = pilot.app.screen
            rig.sim.present_finger(quality=0.0)
            await enter(pilot)
            text = screen_text(pilot)
            assert "KURANG" in text
            assert "masih 2 kesempatan" in text
            assert "—" in screen.query_one("#reasons").render().plain  # advice, not codes
            assert screen.key_label("capture") == "Ambil lagi"
            await enter(pilot)  # a clean finger this time, and the chain goes on
            assert screen.enrolment.step is Step.IRISES

    run(go())


def test_a_finished_recording_leaves_nothing_of_itself_in_memory(rig_factory) -> None:
    """A day of recordings must not pile up: once a recording is sealed (or cancelled),
    the resident has left the devices and the screens it drew, with every line they
    rendered, can be freed. (Textual's styles cache alone once kept 1,024 dead widgets'
    lines alive, ~20 MB by midday.)"""
    from textual._styles_cache import StylesCache
    from textual.widget import Widget

    rig = rig_factory()
    first, second = rig.residents(2)

    def census() -> tuple[int, int]:
        gc.collect()
        objects = gc.get_objects()
        widgets = sum(isinstance(o, Widget) for o in objects)
        return widgets, sum(isinstance(o, StylesCache) for o in objects)

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await record_clean(pilot, rig, first)
            assert pilot.app.screen.phase == "done"
            assert rig.sim.subject == DEFAULT_SUBJECT  # the resident has stepped away
            widgets, styles_caches = census()
            assert styles_caches <= widgets  # one per live widget, none for the dead
            await enter(pilot)  # the next resident: found, started, then cancelled
            fill(pilot, "#query", second.nik)
            await settle(pilot)
            await enter(pilot)
            await enter(pilot)
            assert screen_name(pilot) == "CaptureScreen"
            await enter(pilot)  # their face
            await pilot.press("escape", "y")
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            assert rig.sim.subject == DEFAULT_SUBJECT
            widgets, styles_caches = census()
            assert styles_caches <= widgets

    run(go())


def test_cancel_asks_first_and_stores_nothing(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            await enter(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert screen_name(pilot) == "ConfirmDialog"
            await pilot.press("enter")  # the safe answer: no
            await settle(pilot)
            assert screen_name(pilot) == "CaptureScreen"
            await pilot.press("escape", "y")
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"

    run(go())
    assert rig.kit.outbox.counts()["sealed"] == 0
    assert [e.action for e in rig.kit.audit.entries()][-1] == "enrolment_cancelled"


def test_paper_out_says_why_and_prints_again(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            rig.devices.receipt_printer.paper_out()
            await record_clean(pilot, rig, resident)
            review = pilot.app.screen
            assert review.phase == "print_failed"
            text = screen_text(pilot)
            assert "Kertas printer habis" in text
            assert rig.kit.outbox.counts()["sealed"] == 1, "sealed before printing"
            assert review.key_label("seal") == "Cetak ulang"
            rig.devices.receipt_printer.load_paper()
            await enter(pilot)  # Enter prints again
            assert review.phase == "done"
            assert len(rig.devices.receipt_printer.jobs) == 1
            await pilot.press("r")  # and once more, for a resident who asks
            await settle(pilot)
            assert len(rig.devices.receipt_printer.jobs) == 2

    run(go())


def test_lockout_after_wrong_pins_shows_the_time_left(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login(pilot, "budi", "000111")
            assert "Sisa 4 kali" in screen_text(pilot)
            for _ in range(3):
                await login(pilot, "budi", "000111")
            assert "Satu kali lagi" in screen_text(pilot)
            await login(pilot, "budi", "000111")
            text = screen_text(pilot)
            assert "dikunci sampai 09:35" in text, text
            assert "5 menit lagi" in text
            # Even the right PIN is refused while locked.
            await login(pilot, "budi")
            assert screen_name(pilot) == "LoginScreen"
            assert "dikunci" in screen_text(pilot)
            rig.clock.advance(timedelta(minutes=5, seconds=1))
            pilot.app.screen._tick()
            await settle(pilot)
            assert "Kunci sudah dibuka" in screen_text(pilot)
            await login_to_home(pilot)

    run(go())


def test_language_switch_on_every_screen(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "Masuk petugas" in screen_text(pilot)
            await pilot.press("f2")
            await settle(pilot)
            text = screen_text(pilot)
            assert "Operator log in" in text and "Log in" in text
            await pilot.press("f2")
            await login_to_home(pilot)
            assert "Cari warga" in screen_text(pilot)
            await pilot.press("f2")
            await settle(pilot)
            assert "Find resident" in screen_text(pilot)
            await pilot.press("f2")
            await start_recording(pilot, rig, resident)
            await pilot.press("f2")
            await settle(pilot)
            text = screen_text(pilot)
            assert "Capture" in text and "Face" in text and "Cancel" in text, text
            await enter(pilot)
            text = screen_text(pilot)
            assert "Face done" in text, text
            await pilot.press("f2")
            await settle(pilot)
            assert "Tanda tangan" in screen_text(pilot)

    run(go())
