"""Pilot tests of the screens around the recording: the invitation QR, the service point,
the sync queue, the technician's screen and who may open it, language from the config."""

from __future__ import annotations

import asyncio
import json

import pytest
from tui_drive import enter, fill, find, login, login_to_home, screen_name, screen_text
from tui_world import TECHNICIAN_PIN, settle

from rekam.bootstrap import ui_services
from tui.app import RekamApp


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_scanning_the_invitation_qr_opens_the_resident(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await enter(pilot)
            assert screen_name(pilot) == "FindScreen"
            rig.devices.code_reader.scan("ZZZZ-ZZZZ")  # not on this kit's list
            await pilot.pause(0.5)
            await settle(pilot)
            assert "ZZZZ-ZZZZ tidak ada di daftar" in screen_text(pilot)
            rig.devices.code_reader.scan(resident.invitation_code)
            await pilot.pause(0.5)
            await settle(pilot)
            assert screen_name(pilot) == "IdentityScreen"
            assert resident.name in screen_text(pilot)

    run(go())


def _invitation(kit_template, resident, **over):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from tui_world import KELURAHAN, NOW, TODAY

    from edge.invitation_token import encode_token
    from hq.home import HqHome

    fields = dict(invitation_code=resident.invitation_code, kelurahan=KELURAHAN,
                  rw=resident.rw, visit_date=TODAY, expires_at=NOW + timedelta(days=30),
                  signing_key=HqHome(kit_template.parent / "hq").keys().signing)
    fields.update(over)
    return encode_token(**fields)


@pytest.mark.parametrize("language", ["id", "en"])
def test_a_scanned_invitation_qr_is_verified_and_opens_its_resident(
        rig_factory, kit_template, language) -> None:
    from datetime import timedelta

    from cryptography.hazmat.primitives.asymmetric import ed25519
    from tui_world import NOW

    rig = rig_factory(language=language)
    resident = rig.residents(1)[0]
    forged = _invitation(kit_template, resident,
                         signing_key=ed25519.Ed25519PrivateKey.generate())
    expired = _invitation(kit_template, resident, expires_at=NOW - timedelta(hours=1))
    elsewhere = _invitation(kit_template, resident, kelurahan="32.75.02.1002")
    words = {"id": ("dipalsukan atau diubah", "kedaluwarsa", "Kranji"),
             "en": ("forged or altered", "expired", "Kranji")}[language]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await enter(pilot)
            for token, word in zip((forged, expired, elsewhere), words):
                rig.devices.code_reader.scan(token)
                await pilot.pause(0.5)
                await settle(pilot)
                assert screen_name(pilot) == "FindScreen"
                assert word in screen_text(pilot), word
            rig.devices.code_reader.scan(_invitation(kit_template, resident))
            await pilot.pause(0.5)
            await settle(pilot)
            assert screen_name(pilot) == "IdentityScreen"
            assert resident.name in screen_text(pilot)

    run(go())


def test_an_invitation_qr_typed_by_a_keyboard_scanner_is_checked_once(
        rig_factory, kit_template) -> None:
    """A keyboard-wedge scanner types ~160 characters and Enter: the half-typed text is not
    refused (nor audited) on the way; a forged letter is refused once and the field emptied
    for the next scan; a genuine one opens its resident."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from textual import events

    rig = rig_factory()
    resident = rig.residents(1)[0]
    forged = _invitation(kit_template, resident,
                         signing_key=ed25519.Ed25519PrivateKey.generate())

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await enter(pilot)
            for token in (forged, _invitation(kit_template, resident)):
                for ch in token + "\r":
                    key = "enter" if ch == "\r" else ch
                    pilot.app._driver.send_message(events.Key(key, ch))
                await settle(pilot)
                if token is forged:
                    assert screen_name(pilot) == "FindScreen"
                    assert "dipalsukan" in screen_text(pilot)
                    assert pilot.app.screen.query_one("#query").value == ""
            assert screen_name(pilot) == "IdentityScreen"
            assert resident.name in screen_text(pilot)
        refused = [e for e in rig.kit.audit.entries() if e.action == "invitation_refused"]
        assert [e.detail["reason"] for e in refused] == ["invitation_forged"]

    run(go())


def test_a_code_typed_with_enter_in_one_burst_picks_the_resident(rig_factory) -> None:
    """A keyboard-wedge scanner types the code and Enter faster than the search answers."""
    from textual import events

    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await enter(pilot)
            for ch in resident.nik + "\r":
                key = "enter" if ch == "\r" else ch
                pilot.app._driver.send_message(events.Key(key, ch))
            await settle(pilot)
            assert screen_name(pilot) == "IdentityScreen"
            assert resident.nik[:4] in screen_text(pilot)

    run(go())


@pytest.mark.parametrize("between", ["\r", "\t"], ids=["enter", "tab"])
def test_login_keys_typed_ahead_reach_the_pin(rig_factory, between) -> None:
    """One burst, as a slow SSH link delivers it: the keys after Enter or Tab are the
    PIN's, though they arrive before the focus has moved."""
    from textual import events

    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for ch in f"budi{between}571846\r":
                key = {"\r": "enter", "\t": "tab"}.get(ch, ch)
                pilot.app._driver.send_message(events.Key(key, ch))
            await settle(pilot)
            assert screen_name(pilot) == "ServicePointScreen"

    run(go())


def test_the_rw_filter_narrows_the_search(rig_factory) -> None:
    rig = rig_factory()
    residents = [r for r in rig.residents(80) if r.rw != "005"]
    other = residents[0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await find(pilot, other.name)
            assert other.name in screen_text(pilot)
            await pilot.press("f3")
            await settle(pilot)
            text = screen_text(pilot)
            assert "Hanya RW 005" in text and "Tekan F3" in text, text

    run(go())


def test_service_point_is_kept_for_the_day_and_named_in_packets(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert screen_name(pilot) == "ServicePointScreen"
            assert "Balai RW 005" in screen_text(pilot)  # from HQ's schedule for today
            await pilot.press("down")  # Balai RW → Sekolah, keys only
            await pilot.press("space")  # Space chooses it (Enter would choose and save)
            fill(pilot, "#rw", "")
            fill(pilot, "#name", "SMAN 4 Bekasi")
            await pilot.press("f10")
            await settle(pilot)
            assert screen_name(pilot) == "ServicePointScreen"
            assert "RW harus angka" in screen_text(pilot)
            fill(pilot, "#rw", "7")
            await pilot.press("enter", "enter")  # Enter: RW → name; Enter in the name: save
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            assert "SMAN 4 Bekasi" in screen_text(pilot) and "Sekolah" in screen_text(pilot)
            await pilot.press("escape", "y")  # log out; the next login goes straight home
            await settle(pilot)
            await login(pilot)
            assert screen_name(pilot) == "HomeScreen"

    run(go())
    assert "SMAN 4 Bekasi" in rig.kit.config.service_point
    state = json.loads((rig.home / "tui-state.json").read_text())
    assert state["service_point"]["rw"] == "007"


def test_sync_without_a_server_says_why_send_is_off(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await pilot.press("s")
            await settle(pilot)
            text = screen_text(pilot)
            assert screen_name(pilot) == "SyncScreen"
            assert "belum diatur" in text and "Kontak terakhir dengan pusat: belum pernah" in text
            assert pilot.app.screen.check_action("send", ()) is None  # shown, disabled
            await pilot.press("k")
            await settle(pilot)
            assert "Mengirim" not in screen_text(pilot)

    run(go())


def test_technician_screen_only_for_technicians(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(120, 40)) as pilot:
            await login_to_home(pilot)
            assert "Teknisi" not in screen_text(pilot)
            await pilot.press("t")
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            await pilot.press("escape")  # log out, after a question
            await settle(pilot)
            assert screen_name(pilot) == "ConfirmDialog"
            await pilot.press("y")
            await settle(pilot)
            await login(pilot, "tono", TECHNICIAN_PIN)
            assert screen_name(pilot) == "HomeScreen"
            await pilot.press("t")
            await settle(pilot)
            text = screen_text(pilot)
            assert screen_name(pilot) == "TechnicianScreen"
            assert "Log audit utuh" in text and "kit-bekasijaya-01" in text
            assert "Kesiapan (rekam doctor)" in text and "Kunci keamanan" in text
            assert "SIM-CAMERA-1" in text
            rig.sim.unplug("iris")
            await pilot.press("d")
            await settle(pilot)
            assert "GAGAL: unplugged" in screen_text(pilot)

    run(go())


def test_language_comes_from_the_config(rig_factory, kit_template) -> None:
    rig = rig_factory()
    app = RekamApp(ui_services(rig.kit, rig.devices), status_every=0)
    assert app.cat.language == "id"
    from dataclasses import replace

    rig.kit.config = replace(rig.kit.config, language="en")
    assert RekamApp(ui_services(rig.kit, rig.devices), status_every=0).cat.language == "en"


def test_devices_open_after_the_login_screen_and_faults_are_shown(rig_factory) -> None:
    """``rekam tui`` hands a function that opens the devices; if that fails (``rekam tui
    --sim`` on a production kit), the operator reads why, not a traceback."""
    from dataclasses import replace

    from rekam.bootstrap import open_kit_devices

    rig = rig_factory()
    rig.kit.config = replace(rig.kit.config, training=False)  # as HQ registered it

    app = RekamApp(ui_services(rig.kit, lambda: open_kit_devices(rig.kit, sim=True)),
                   status_every=0, theme="textual-dark")

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert screen_name(pilot) == "ProblemDialog"
            assert "Perangkat simulasi ditolak" in screen_text(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert screen_name(pilot) == "LoginScreen"

    run(go())


def test_send_now_without_a_reachable_server_says_so_in_words(rig_factory, monkeypatch) -> None:
    from dataclasses import replace

    import tui.screens.sync

    monkeypatch.setattr(tui.screens.sync, "SEND_TIMEOUT", 2.0)
    rig = rig_factory()
    rig.kit.config = replace(rig.kit.config, broker="mqtt://127.0.0.1:1")
    rig.kit.config.save(rig.kit.paths)

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert pilot.app.screen.check_action("send", ()) is True
            await pilot.press("k")
            await settle(pilot)
            text = screen_text(pilot)
            assert "Server pusat tidak menjawab" in " ".join(text.split()), text
            assert "Traceback" not in text

    run(go())


def test_home_lists_the_invited_residents_expected_here_and_enter_picks_one(
        rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(120, 40)) as pilot:
            await login_to_home(pilot)  # today's visit from HQ: Balai RW 005
            expected = rig.app.services.expected(limit=5)
            assert expected.rws == ("005",) and expected.total > 0
            assert all(r.rw == "005" for r in expected.residents)
            text = screen_text(pilot)
            assert f"RW 005: {expected.total} belum direkam" in text, text
            assert expected.residents[0].name in text
            await enter(pilot)  # Find, before anything is typed: the same list
            assert "belum direkam di sini" in screen_text(pilot)
            await pilot.press("down")
            await enter(pilot)
            assert screen_name(pilot) == "IdentityScreen"
            assert expected.residents[1].name in screen_text(pilot)

    run(go())


def test_an_idle_kit_logs_out_and_cancels_the_open_recording(rig_factory) -> None:
    from tui_drive import start_recording

    rig = rig_factory()
    resident = rig.residents(1)[0]
    now = [1000.0]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            app = rig.app
            app.idle_clock = lambda: now[0]
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            enrolment = app.screen.enrolment
            now[0] += 9 * 60  # nine minutes: still the operator's
            app.check_unattended()
            await settle(pilot)
            assert screen_name(pilot) == "CaptureScreen"
            await pilot.press("right")  # a key: the idle time starts again
            now[0] += 9 * 60
            app.check_unattended()
            assert screen_name(pilot) == "CaptureScreen"
            now[0] += 60.5
            app.check_unattended()
            await settle(pilot)
            assert screen_name(pilot) == "LoginScreen"
            assert app.services.session is None
            assert enrolment.step.value == "cancelled"
            assert "keluar otomatis" in screen_text(pilot).lower()

    run(go())
    actions = [e.action for e in rig.kit.audit.entries(0)]
    assert actions[-2:] == ["idle_logout", "enrolment_cancelled"]


@pytest.mark.parametrize(("language", "said"), [
    ("id", "Daftar warga dari pusat sudah kedaluwarsa sejak"),
    ("en", "The resident list from HQ expired on"),
])
def test_an_expired_worklist_refuses_search_and_says_why(rig_factory, language, said) -> None:
    from datetime import timedelta

    rig = rig_factory(language=language)
    resident = rig.residents(1)[0]
    expires, wipe_at = rig.kit.roster_expiry()
    assert expires is not None and wipe_at is not None

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            rig.clock.set(expires + timedelta(hours=1))  # the kit stayed on past the expiry
            await find(pilot, resident.name)
            text = screen_text(pilot)
            assert said in " ".join(text.split()), text
            assert resident.nik not in text  # no result listed
            await pilot.press("escape")  # home says it too, and expects nobody
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            home = " ".join(screen_text(pilot).split())
            assert said in home, home
            assert "sudah direkam." not in home and "have been recorded" not in home

    run(go())


def test_each_screen_draws_its_bars_once_when_it_opens(rig_factory, monkeypatch) -> None:
    """Textual runs every class's on_mount in a screen's MRO: a screen that also called
    its base's would feed its bars and redraw its words twice each time it opens."""
    from tui.screens.base import RekamScreen

    rig = rig_factory()
    opened: list[str] = []
    base_on_mount = RekamScreen.on_mount

    def counting(self):  # type: ignore[no-untyped-def]
        opened.append(type(self).__name__)
        base_on_mount(self)

    monkeypatch.setattr(RekamScreen, "on_mount", counting)

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await enter(pilot)
            await settle(pilot)
            assert screen_name(pilot) == "FindScreen"

    run(go())
    assert opened.count("LoginScreen") == 1, opened
    assert opened.count("HomeScreen") == 1, opened
    assert opened.count("FindScreen") == 1, opened
