"""The dashboard as a person uses it, in headless Chromium (Debian's chromium package; the
CI installs it): log in, drill down kota → kecamatan → kelurahan → RW, see the recorded
count change when the vault marks a resident recorded (server-sent events, no reload), log
out; a Lurah's account cannot reach another kelurahan's pages or data. Screenshots go to
``$REKAM_SCREENSHOTS`` when set (to look at them), else the test's temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from monitoring_world import KELURAHAN, build, record_one

from hq.db import make_engine
from hq.web import auth

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "rahasia-sekali-123"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dashboard(tmp_path, monkeypatch):
    monkeypatch.setenv("REKAM_HQ_ARGON2_MEMORY_KIB", "1024")
    home = tmp_path / "hq"
    env = {**os.environ, "REKAM_HQ_HOME": str(home), "REKAM_HQ_ARGON2_MEMORY_KIB": "1024"}
    env.pop("REKAM_HQ_DATABASE_URL", None)
    exe = Path(sys.executable).parent / "rekam-hq"
    subprocess.run([exe, "init"], env=env, check=True, capture_output=True)
    engine = make_engine(f"sqlite:///{home / 'hq.db'}")
    build(engine, tmp_path)
    auth.add_user(engine, "kadis", "admin", PASSWORD)
    auth.add_user(engine, "lurah", "viewer", PASSWORD, kelurahan=KELURAHAN[1])
    port = _free_port()
    server = subprocess.Popen([exe, "serve", "--port", str(port), "--poll", "0.2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.terminate()
        server.wait(timeout=10)
        engine.dispose()


@pytest.fixture
def browser(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Playwright adds --headless itself and gives Chromium a fresh profile directory
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS[1:])
        yield b
        b.close()


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("REKAM_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _log_in(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    page.fill("#user_id", user)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_load_state("domcontentloaded")


def test_log_in_drill_down_see_a_recording_arrive_log_out(dashboard, browser, tmp_path):
    from playwright.sync_api import expect

    base, engine = dashboard
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else external.append(r.url))
    _log_in(page, base, "kadis")
    assert page.url == base + "/area/32.75"
    page.wait_for_selector("canvas[data-chart=progress]")
    page.screenshot(path=str(shots / "1-kota.png"), full_page=True)
    page.click("#children >> text=Bekasi Timur")
    page.click("#children >> text=Margahayu")
    assert page.url == f"{base}/area/{KELURAHAN[1]}"
    page.click("#children a >> nth=0")
    page.wait_for_selector("#not-recorded")
    rw = page.url.rsplit("/", 1)[1]
    before = page.inner_text("#fig-recorded")
    # (no wait_for_function: the page's CSP refuses eval, as it should)
    page.wait_for_selector("body[data-sse=open]")  # the event stream is open
    record_one(engine, KELURAHAN[1], rw, datetime.now(UTC))
    expect(page.locator("#fig-recorded")).not_to_have_text(before, timeout=10_000)
    after = page.inner_text("#fig-recorded")
    assert int(after.replace(".", "")) == int(before.replace(".", "")) + 1
    page.screenshot(path=str(shots / "2-rw-after-recording.png"), full_page=True)
    page.click("#switch-language")
    page.wait_for_selector("text=Recording coverage")
    page.click("#logout")
    page.wait_for_selector("#login-form")
    page.goto(f"{base}/area/32.75")
    assert "/login" in page.url  # the session is gone
    assert external == []  # every script, style and chart came from the dashboard


def test_a_lurah_cannot_reach_another_kelurahan(dashboard, browser, tmp_path):
    base, _ = dashboard
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in(page, base, "lurah")
    assert page.url == f"{base}/area/{KELURAHAN[1]}"
    page.screenshot(path=str(shots / "3-lurah-own.png"), full_page=True)
    response = page.goto(f"{base}/area/{KELURAHAN[0]}")
    assert response is not None and response.status == 404
    page.screenshot(path=str(shots / "4-lurah-other.png"))
    assert "Bekasijaya" not in page.content()
    for path in (f"/api/coverage/{KELURAHAN[0]}", "/api/coverage/32.75",
                 f"/api/residents/{KELURAHAN[0]}/rw/001"):
        assert page.request.get(base + path).status == 404, path
