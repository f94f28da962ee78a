"""The operator UI's own costs, each beside a baseline measured in the same run.

1. Cold start to the login screen (goal < 1.0 s): a fresh process that opens the kit and
   the simulated devices and runs ``RekamApp`` headless until the login screen is on
   screen — what ``rekam tui --sim`` does. Baselines: ``python -c "import textual"`` and an
   empty Textual app brought to its first screen, both in fresh processes.
2. RSS after 50 enrolments (goal < 150 MB): 50 residents recorded end to end through the UI
   (keys only, simulated devices, sealing, receipt) in one process, once with the console's
   theme (the kit's tty1) and once with a true-colour one (a technician over SSH). The
   shared libraries are evicted from the page cache before each run (see
   :func:`evict_libraries`), so file-backed pages count as on a kit that just booted, not
   as pip or the previous run left them.
3. The UI's own time per capture step against the simulated device time: for each capture,
   the time from the key that starts it to the screen having drawn its result, minus the
   worker's time in ``Enrolment.capture`` (device + quality + workflow), beside that device
   time itself.

    .venv/bin/python bench/bench_tui_startup.py [--enrolments 50] [--runs 5] [--theme T]

The enrolments run in fresh processes (the world is built in-process with HQ's modules,
which a kit never loads); the same enrolments through the core alone (no UI) give the
memory baseline. Figures are printed, never asserted: the development machines are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

THEMES = {
    "ansi-dark": "on the Linux console (tty1, TERM=linux: the terminal's 16 colours)",
    "textual-dark": "over SSH in a true-colour terminal (Textual converts ANSI colours, "
                    "and caches the converted lines)",
}

STARTUP_GOAL_S = 1.0
RSS_GOAL_MB = 150.0

_LOGIN_PROBE = r"""
import sys, time
t0 = float(sys.argv[1])
from edge.kit import open_kit
from hal.registry import open_devices
from rekam.bootstrap import ui_services
from tui.app import RekamApp
from tui.screens.login import LoginScreen
kit = open_kit(__import__("pathlib").Path(sys.argv[2]))
app = RekamApp(ui_services(kit, lambda: open_devices("sim", seed=0, allow_simulated=True)),
               status_every=0)
async def probe(pilot):
    while not isinstance(app.screen, LoginScreen) or not app.screen.is_mounted:
        await pilot.pause(0.001)
    await pilot.pause()
    print(f"READY {time.time() - t0:.4f}")
    app.exit()
app.run(headless=True, auto_pilot=probe, size=(80, 24))
"""

_EMPTY_APP = r"""
import sys, time
t0 = float(sys.argv[1])
from textual.app import App
from textual.widgets import Static
class Empty(App):
    def compose(self):
        yield Static("hello")
async def probe(pilot):
    await pilot.pause()
    print(f"READY {time.time() - t0:.4f}")
    pilot.app.exit()
Empty().run(headless=True, auto_pilot=probe, size=(80, 24))
"""


def _fresh(code: str, *args: str) -> float:
    """Seconds from spawning a fresh interpreter to its READY line (or its exit)."""
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, repr(t0), *args], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in out.stdout.splitlines():
        if line.startswith("READY "):
            return float(line.split()[1])
    return time.time() - t0


def startup(home: Path, runs: int) -> None:
    _fresh(_LOGIN_PROBE, str(home))  # warm the OS page cache and .pyc files once
    imports = [_fresh("import textual") for _ in range(runs)]
    empty = [_fresh(_EMPTY_APP) for _ in range(runs)]
    login = [_fresh(_LOGIN_PROBE, str(home)) for _ in range(runs)]
    med_i, med_e, med_l = (statistics.median(v) for v in (imports, empty, login))
    print(f"cold start to login screen  median {med_l * 1000:6.0f} ms   "
          f"(goal < {STARTUP_GOAL_S * 1000:.0f} ms; {runs} runs, fresh processes)")
    print(f"  baseline: import textual  median {med_i * 1000:6.0f} ms   "
          f"empty Textual app {med_e * 1000:6.0f} ms   ratio login/empty {med_l / med_e:4.2f}x")


def evict_libraries() -> int:
    """Drop the environment's shared libraries from the page cache, so their pages come
    back as a kit that just booted reads them. Pages that ``pip install`` has just written
    can sit in the cache as large folios, which recent kernels map whole on the first
    touch: right after an install, OpenCV alone then shows ~40 MB of file-backed RSS
    instead of ~14 MB, and the run measures the installer rather than the kit."""
    import site
    import sysconfig

    roots = {Path(p) for p in site.getsitepackages()}
    roots.add(Path(sysconfig.get_config_var("LIBDIR") or sys.prefix))
    evicted = 0
    for root in roots:
        for lib in root.rglob("*.so*"):
            with contextlib.suppress(OSError), lib.open("rb") as fh:
                os.fsync(fh.fileno())  # only clean pages can be dropped
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
                evicted += 1
    return evicted


def rss_parts() -> str:
    """RSS split into anonymous memory (the heap: what the process really costs) and
    file-backed pages (shared libraries' code, which the kernel can drop and share)."""
    parts = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
            parts[line.split(":")[0][3:].lower()] = int(line.split()[1]) / 1024
    return ", ".join(f"{k} {v:.0f}" for k, v in parts.items())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def core_only(home: Path, count: int) -> None:
    """Baseline: the same enrolments through the core alone (no UI), in a fresh process."""
    from _world import OPERATOR_PIN

    from edge.kit import Kit
    from edge.operators import KdfParams
    from edge.workflow import run_clean
    from hal.registry import open_devices

    kit = Kit(home, kdf=KdfParams(memory_kib=8192, iterations=1))
    niks = (home / "bench-niks.txt").read_text().split()[:count]
    session = kit.login("budi", OPERATOR_PIN)
    devices = open_devices("sim", seed=3, allow_simulated=True)
    rss0 = rss_mb()
    for nik in niks:
        enrolment = kit.start_enrolment(session, nik, devices)
        assert devices.sim is not None
        devices.sim.set_subject(nik, birth_year=enrolment.resident.birth_date.year)
        run_clean(enrolment)
        kit.seal_enrolment(session, enrolment)
        devices.sim.step_away()  # as the UI does after each recording
    print(f"baseline: the core alone   RSS after {len(niks)} enrolments {rss_mb():6.1f} MB "
          f"({rss_parts()}; {rss0:.1f} MB before them, no UI)")
    devices.close()
    kit.close()


def enrolments(home: Path, count: int, theme: str) -> None:
    from _world import OPERATOR_PIN

    from edge.kit import Kit
    from edge.operators import KdfParams
    from hal.registry import open_devices
    from rekam.bootstrap import ui_services
    from tui.app import RekamApp
    from tui.memory import limit_arenas
    from tui.screens.capture import CaptureScreen

    limit_arenas()  # as ``rekam tui`` does before its first worker thread
    kit = Kit(home, kdf=KdfParams(memory_kib=8192, iterations=1))
    niks = (home / "bench-niks.txt").read_text().split()[:count]
    devices = open_devices("sim", seed=3, allow_simulated=True)
    app = RekamApp(ui_services(kit, devices), status_every=0, theme=theme)

    started: dict[int, float] = {}
    ui_ms: list[float] = []
    device_ms: list[float] = []
    original_start = CaptureScreen._start
    original_captured = CaptureScreen.on_captured

    def timed_start(self: Any, slot: Any, *, chain: bool) -> None:
        started[id(self)] = time.perf_counter()
        original_start(self, slot, chain=chain)

    def timed_captured(self: Any, message: Any) -> None:
        begun = started.pop(id(self), None)
        original_captured(self, message)  # may start the next capture of a chain
        if begun is not None:
            # drawn: the handler has updated every widget; the next frame paints it
            total = time.perf_counter() - begun
            ui_ms.append((total - message.seconds) * 1000)
            device_ms.append(message.seconds * 1000)

    CaptureScreen._start = timed_start  # type: ignore[method-assign]
    CaptureScreen.on_captured = timed_captured  # type: ignore[method-assign]

    async def settle(pilot: Any) -> None:
        """Until no worker runs and the queues are empty (a worker's message can start
        another worker, or push a screen)."""
        from textual.worker import WorkerCancelled

        quiet = 0
        for _ in range(1000):
            with contextlib.suppress(WorkerCancelled):  # a search replaced by a newer one
                await app.workers.wait_for_complete()
            await pilot.pause()
            quiet = 0 if any(w.is_running for w in app.workers) else quiet + 1
            if quiet >= 2:
                return

    trace: list[str] = []

    async def drive() -> tuple[float, float, float]:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.query_one("#operator").value = "budi"
            screen.query_one("#pin").value = OPERATOR_PIN
            screen.set_focus(screen.query_one("#pin"))
            await pilot.press("enter")
            await settle(pilot)
            if type(app.screen).__name__ == "ServicePointScreen":
                app.screen.query_one("#rw").value = "1"
                app.screen.query_one("#name").value = "Balai RW 001"
                await pilot.press("f10")
                await settle(pilot)
            rss_before = rss_mb()
            t0 = time.perf_counter()
            for i, nik in enumerate(niks):
                await pilot.press("enter")  # home (or the review screen): find
                await settle(pilot)
                app.screen.query_one("#query").value = nik
                await settle(pilot)
                for _ in range(7):  # pick, confirm, five capture steps
                    await pilot.press("enter")
                    await settle(pilot)
                await pilot.press("enter")  # seal and print
                await settle(pilot)
                assert app.screen.phase == "done", f"enrolment {i} did not finish"
                if i % 10 == 9:
                    trace.append(f"{i + 1}: {rss_mb():.0f}")
            elapsed = time.perf_counter() - t0
            return rss_before, rss_mb(), elapsed

    rss0 = rss_mb()
    rss_before, rss_after, elapsed = asyncio.run(drive())
    parts = rss_parts()
    sealed = kit.outbox.counts()["sealed"]
    printed = len(devices.receipt_printer.jobs)
    devices.close()
    kit.close()
    print(f"[{THEMES[theme]}]")
    print(f"enrolments through the UI   {sealed} sealed, {printed} receipts, "
          f"{elapsed / max(1, sealed):.2f} s each under the test pilot")
    print(f"RSS after {sealed} enrolments   {rss_after:6.1f} MB   (goal < {RSS_GOAL_MB:.0f} MB; "
          f"{rss_before:.1f} MB after login, {rss0:.1f} MB before the app)")
    print(f"  of which (MB)             {parts}")
    print(f"  RSS along the way (MB)    {', '.join(trace)}")
    if ui_ms:
        med_ui, med_dev = statistics.median(ui_ms), statistics.median(device_ms)
        p90_ui = statistics.quantiles(ui_ms, n=10)[-1]
        print(f"UI time per capture         median {med_ui:6.1f} ms   p90 {p90_ui:6.1f} ms   "
              f"({len(ui_ms)} captures)")
        print(f"  sim device time (worker)  median {med_dev:6.1f} ms   "
              f"ratio UI/device {med_ui / med_dev:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child-home", help=argparse.SUPPRESS)
    parser.add_argument("--child-core", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--theme", choices=sorted(THEMES),
                        help="only this theme (default: both, each in its own process)")
    args = parser.parse_args()
    if args.child_home:  # the enrolments, in a process that never loaded HQ's modules
        if args.child_core:
            core_only(Path(args.child_home), args.enrolments)
        else:
            enrolments(Path(args.child_home), args.enrolments, args.theme)
        return
    from _world import bench_world, import_worklist

    with bench_world(max(300, args.enrolments * 3)) as world:
        import_worklist(world)
        import csv

        with world.csv.open(encoding="utf-8-sig") as fh:
            niks = [row["nik"] for row in csv.DictReader(fh)
                    if row["kode_kelurahan"] == "32.75.01.1001"]
        (world.kit_home / "bench-niks.txt").write_text("\n".join(niks))
        startup(world.kit_home, args.runs)
        print(f"(before each memory run, {evict_libraries()} shared libraries are evicted "
              "from the page cache, as after a boot)")
        import shutil

        core_home = world.root / "kit-core"
        shutil.copytree(world.kit_home, core_home)
        evict_libraries()
        subprocess.run([sys.executable, __file__, "--child-home", str(core_home),
                        "--enrolments", str(args.enrolments), "--child-core"], check=True)
        for theme in [args.theme] if args.theme else THEMES:  # a fresh kit home for each
            home = world.root / f"kit-{theme}"
            shutil.copytree(world.kit_home, home)
            evict_libraries()
            subprocess.run([sys.executable, __file__, "--child-home", str(home),
                            "--enrolments", str(args.enrolments), "--theme", theme],
                           check=True)


if __name__ == "__main__":
    main()
