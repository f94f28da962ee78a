"""``make demo`` leaves nothing running: however it ends (Ctrl+C, SIGTERM, or SIGHUP from a
closed terminal), the broker and the other servers it started stop with it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

# The demo's own Background, starting a real Mosquitto (which takes SIGHUP as "reload")
# and a Python server, then waiting as the demo waits in the operator UI.
DRIVER = """
import sys, time
from pathlib import Path
from rekam.demo import Background

mosquitto, port, logs = sys.argv[1], sys.argv[2], Path(sys.argv[3])
with Background() as background:
    broker = background.start([mosquitto, "-p", port], logs / "mosquitto.log")
    server = background.start([sys.executable, "-c", "import time; time.sleep(600)"],
                              logs / "server.log")
    print(broker.pid, server.pid, flush=True)
    time.sleep(600)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gone(pid: int) -> bool:
    """The process no longer runs (ended, or a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="no mosquitto binary")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_the_demo_stops_every_server_it_started(tmp_path, signum):
    port = _free_port()
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, MOSQUITTO, str(port),
                               str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)  # a terminal of its own, as it were
    try:
        assert driver.stdout is not None
        shown = [driver.stdout.readline() for _ in range(3)]  # the two commands, the pids
        assert shown[0].startswith(f"$ {MOSQUITTO} -p {port} &")
        pids = [int(p) for p in shown[2].split()]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
        # the broker really serves before the signal comes
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "mosquitto never listened"
            time.sleep(0.05)
        # A closed terminal sends SIGHUP to the demo's process group; Ctrl+C sends SIGINT.
        os.killpg(driver.pid, signum)
        driver.wait(timeout=30)
        for pid in pids:
            assert _wait_gone(pid), f"process {pid} outlived the demo ({signum.name})"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
