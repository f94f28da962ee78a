"""The Linux console a kit has: 80 columns by 24 lines. Names whole, finger names as words
an operator knows, the keys on one line (a page at a time, F1 for the next), toasts above
the bars, lists that say how many more there are."""

from __future__ import annotations

import asyncio

from tui_drive import enter, fill, login, login_to_home, screen_name, screen_text, start_recording
from tui_world import TECHNICIAN_PIN, settle


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _bottom(pilot) -> list[str]:  # type: ignore[no-untyped-def]
    lines = screen_text(pilot).splitlines()
    return lines[-2:]  # the status bar, the key bar


def test_the_keys_fit_one_line_and_f1_shows_the_others_which_work_on_any_page(
        rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            lines = screen_text(pilot).splitlines()
            assert len(lines) == 24
            keys = lines[-1]
            assert "Cari warga" in keys and "Tombol lain 1/2" in keys
            assert "Kirim data" in lines[-1] and "Lokasi" not in lines[-2]  # not wrapped
            await pilot.press("f1")
            await settle(pilot)
            keys = screen_text(pilot).splitlines()[-1]
            assert "Lokasi" in keys and "English" in keys and "Tombol lain 2/2" in keys
            await pilot.press("f1")
            await settle(pilot)
            assert "Tombol lain 1/2" in screen_text(pilot).splitlines()[-1]
            await pilot.press("l")  # a key of the page not shown still works
            await settle(pilot)
            assert screen_name(pilot) == "ServicePointScreen"

    run(go())


def test_a_toast_stands_above_the_status_and_key_bars(rig_factory) -> None:
    from textual.widgets._toast import Toast

    from tui.widgets.status_bar import StatusBar

    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24), notifications=True) as pilot:
            await login_to_home(pilot)
            await pilot.press("n")  # "call number 1": a toast
            await pilot.pause(0.3)
            await settle(pilot)
            toasts = list(pilot.app.screen.query(Toast))
            assert toasts
            bars_top = pilot.app.screen.query_one(StatusBar).region.y
            assert bars_top == 22  # the status bar and the key bar: the last two lines
            assert all(t.region.bottom <= bars_top for t in toasts)

    run(go())


def test_finger_names_are_whole_words_and_the_residents_name_is_whole(rig_factory) -> None:
    rig = rig_factory()
    resident = max(rig.residents(40), key=lambda r: len(r.name))

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await start_recording(pilot, rig, resident)
            assert resident.name in screen_text(pilot)
            await enter(pilot)  # face
            await enter(pilot)  # signature
            text = screen_text(pilot)
            assert "TANGAN KIRI" in text and "TANGAN KANAN" in text
            for word in ("Kelingking", "Manis", "Tengah", "Telunjuk", "Jempol"):
                assert text.count(word) >= 2, (word, text)  # both hands, never "Keling"
            assert "Telunj" not in text.replace("Telunjuk", "")
            assert resident.name in text
            assert len(text.splitlines()) == 24

    run(go())


def test_find_says_what_its_list_holds_and_how_many_more(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await enter(pilot)
            text = screen_text(pilot)
            assert "Semua RW" not in text and "Mencari di semua RW" not in text
            assert "Diundang, RW 005, belum direkam: " in text  # today's RW, and how many
            fill(pilot, "#query", "a")
            await settle(pilot)
            assert "Mencari di semua RW" in screen_text(pilot)

    run(go())


def test_home_says_how_many_more_residents_wait_than_it_shows(rig_factory) -> None:
    from collections import Counter

    rig = rig_factory()
    busiest = Counter(r.rw for r in rig.residents(80)).most_common(1)[0][0]
    # (the test roster invites a few per RW; a real one a dozen, which 24 lines do not hold)

    async def go() -> None:
        async with rig.app.run_test(size=(80, 21)) as pilot:
            await login_to_home(pilot)
            await pilot.press("l")  # today at the RW with the most residents
            await settle(pilot)
            fill(pilot, "#rw", busiest)
            await pilot.press("f10")
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            text = screen_text(pilot)
            overview = rig.app.screen.overview  # type: ignore[attr-defined]
            assert overview is not None and overview.expected is not None
            shown = sum(1 for r in overview.expected.residents if r.name in text)
            left = overview.expected.total - shown
            assert left > 0, text  # a short console: not every one fits
            assert f"…dan {left} lagi" in text

    run(go())


def test_enter_saves_the_service_point_while_a_kind_of_place_is_focused(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert screen_name(pilot) == "ServicePointScreen"  # today's visit, filled in
            assert type(rig.app.focused).__name__ == "RadioSet"
            await pilot.press("enter")
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            assert rig.app.services.service_point() is not None

    run(go())


def test_t_on_home_tells_an_operator_why_the_technician_screen_does_not_open(
        rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24), notifications=True) as pilot:
            await login_to_home(pilot)
            await pilot.press("t")
            await pilot.pause(0.3)
            await settle(pilot)
            assert screen_name(pilot) == "HomeScreen"
            assert "hanya untuk teknisi" in screen_text(pilot)

    run(go())


def test_the_technician_screen_names_audit_actions_in_words(rig_factory) -> None:
    rig = rig_factory()

    async def go() -> None:
        async with rig.app.run_test(size=(100, 60)) as pilot:
            await login_to_home(pilot, "tono", TECHNICIAN_PIN)
            await pilot.press("t")
            await settle(pilot)
            assert screen_name(pilot) == "TechnicianScreen"
            text = screen_text(pilot)
            assert "Masuk" in text and "Daftar warga diimpor" in text
            for code in ("login", "roster_imported", "operator_added", "service_point_set"):
                assert f" {code} " not in text

    run(go())


def test_the_status_bar_tells_no_network_from_hq_unreachable_from_connected(
        rig_factory, monkeypatch) -> None:
    from datetime import UTC, datetime

    from sync import daemon_state
    from sync.daemon_state import StateFileNotifier

    rig = rig_factory()

    async def status(pilot) -> str:  # type: ignore[no-untyped-def]
        pilot.app.refresh_status()
        await settle(pilot)
        return screen_text(pilot).splitlines()[-2]

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            assert "Jaringan ada" in await status(pilot)  # no sync daemon: HQ not known
            down = datetime(2026, 11, 24, 3, 42, tzinfo=UTC)  # 10:42 WIB
            monkeypatch.setattr(daemon_state.time, "time", lambda: down.timestamp())
            daemon = StateFileNotifier(rig.home)  # the daemon's state file (this process)
            daemon.retrying(5, "connection refused")
            monkeypatch.setattr(daemon_state.time, "time", lambda: down.timestamp() + 600)
            daemon.retrying(30, "connection refused")  # still down: since 10:42 all the same
            line = await status(pilot)
            assert "Pusat tak terjangkau sejak 10:42" in line and "Jaringan ada" not in line
            daemon.connected("mqtts://hq.example:8883")
            assert "Terhubung ke pusat" in await status(pilot)
            monkeypatch.setattr(rig.app.services, "link_up", lambda: False)
            line = await status(pilot)
            assert "Tanpa jaringan" in line and "Terhubung" not in line
            daemon.stopping()

    run(go())


def test_the_sync_screen_counts_what_hq_received_today_and_in_all_after_a_purge(
        rig_factory) -> None:
    import os
    from datetime import timedelta

    from edge.packet import SealedPacket

    rig = rig_factory()
    outbox = rig.kit.outbox
    for n in range(2):
        packet = SealedPacket(f"0193-test-{n}", os.urandom(500))
        outbox.add(packet)
        outbox.mark_sent(packet.packet_id)
        outbox.mark_acked(packet.packet_id, packet.sha256)
    assert outbox.purge_acked(grace=timedelta(0)) == 2

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert screen_name(pilot) == "SyncScreen"
            assert "Diterima pusat: hari ini 2 · semuanya 2" in screen_text(pilot)

    run(go())


def test_send_now_with_hq_down_answers_and_says_what_to_check(rig_factory, monkeypatch) -> None:
    import json
    import socket
    from dataclasses import replace

    rig = rig_factory()
    silent = socket.socket()  # HQ's address answers TCP, then nothing (a dead server)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    config = replace(rig.kit.config, broker=f"mqtts://127.0.0.1:{silent.getsockname()[1]}")
    config.save(rig.kit.paths)
    rig.kit.config = config
    (rig.home / "sync.json").write_text(json.dumps({"connect_timeout": 1}))

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await login_to_home(pilot)
            await pilot.press("s")
            await settle(pilot)
            await pilot.press("k")
            await pilot.pause(0.2)
            await settle(pilot)
            text = " ".join(screen_text(pilot).split())
            assert "Server pusat tidak menjawab. Periksa sinyal dan kuota modem" in text
            monkeypatch.setattr(rig.app.services, "link_up", lambda: False)
            pilot.app.refresh_status()
            await settle(pilot)
            await pilot.press("k")
            await pilot.pause(0.2)
            await settle(pilot)
            text = " ".join(screen_text(pilot).split())
            assert "Kit tidak tersambung ke jaringan: periksa modem, SIM" in text
            await pilot.press("f2")  # the problem is said again in the other language
            await settle(pilot)
            text = " ".join(screen_text(pilot).split())
            assert "The kit has no network" in text and "tidak tersambung" not in text

    try:
        run(go())
    finally:
        silent.close()


def test_f2_says_again_in_the_other_language_what_is_already_on_screen(rig_factory) -> None:
    rig = rig_factory()
    resident = rig.residents(1)[0]

    async def switch(pilot) -> str:  # type: ignore[no-untyped-def]
        await pilot.press("f2")
        await settle(pilot)
        return " ".join(screen_text(pilot).split())

    async def go() -> None:
        async with rig.app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            fill(pilot, "#operator", "budi")
            fill(pilot, "#pin", "000000")
            await pilot.press("enter")
            await settle(pilot)
            assert "PIN salah" in screen_text(pilot)
            text = await switch(pilot)
            assert "Wrong PIN" in text and "PIN salah" not in text
            await switch(pilot)  # back to Indonesian
            await login_to_home(pilot)
            await enter(pilot)
            fill(pilot, "#query", "zzqqxx")
            await settle(pilot)
            assert "Tidak ditemukan" in screen_text(pilot)
            text = await switch(pilot)
            assert "Nothing found" in text and "Tidak ditemukan" not in text
            await switch(pilot)
            await pilot.press("escape")
            await settle(pilot)
            await start_recording(pilot, rig, resident)
            await enter(pilot)  # the face
            await pilot.press("b")  # back to the face step: a notice
            await settle(pilot)
            assert "Kembali ke langkah" in screen_text(pilot)
            text = await switch(pilot)
            assert "Back to" in text and "Kembali ke langkah" not in text

    run(go())
