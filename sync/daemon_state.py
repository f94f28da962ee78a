"""What the running sync daemon tells the rest of the kit, and how the kit nudges it.

The operator UI must not open a second MQTT session beside the daemon's: both would use
the kit's client id, and the broker would drop one for the other. Instead the daemon
keeps a small JSON file in the kit's home (its pid, whether it is connected, when it
retries, the last problem), and ``SIGUSR1`` wakes it: it looks at the outbox at once and,
when offline, ends its back-off wait and reconnects ("kirim sekarang").

The file holds no personal data and no secret; it is written atomically, so a reader
never sees half of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sync.sdnotify import Notifier

STATE_FILE = "sync-daemon.json"
WAKE_SIGNAL = signal.SIGUSR1

STARTING, CONNECTED, RETRYING, STOPPED = "starting", "connected", "retrying", "stopped"


@dataclass(frozen=True)
class DaemonState:
    pid: int
    state: str  # starting / connected / retrying / stopped
    since: float  # unix time of the last change
    broker: str = ""
    retry_at: float | None = None  # retrying: when it reconnects on its own
    last_error: str = ""
    # retrying: since when HQ has not been reached (the first failure after it last was,
    # or after the daemon started), for "HQ not reachable since 10:42"
    down_since: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def read_state(home: Path) -> DaemonState | None:
    """The daemon's last word, or None when no daemon runs (no file, an unreadable one,
    or one left by a daemon that died without saying so)."""
    try:
        data = json.loads(state_path(home).read_text())
        found = DaemonState(**data)
    except (OSError, ValueError, TypeError):
        return None
    if found.state == STOPPED or not _alive(found.pid):
        return None
    return found


def wake(home: Path) -> DaemonState | None:
    """Ask the running daemon to send now; returns its state, or None when none runs
    (then the caller may run the uplink itself)."""
    found = read_state(home)
    if found is None:
        return None
    try:
        os.kill(found.pid, WAKE_SIGNAL)
    except OSError:  # gone since we read the file, or not ours
        return None
    return found


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    # A recycled pid would be some other program: a sync daemon runs Python.
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"python" in cmdline or b"rekam" in cmdline
    return True


class StateFileNotifier(Notifier):
    """systemd's notifications, and the same news written to the kit's state file."""

    def __init__(self, home: Path, address: str | None = None) -> None:
        super().__init__(address)
        self.path = state_path(home)
        self.broker = ""
        self._down_since: float | None = None
        self._write(STARTING)

    def _write(self, state: str, *, retry_at: float | None = None, error: str = "") -> None:
        now = time.time()
        if state == RETRYING:
            self._down_since = self._down_since or now
        elif state == CONNECTED:
            self._down_since = None
        record = DaemonState(os.getpid(), state, now, self.broker, retry_at, error,
                             self._down_since if state == RETRYING else None)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):  # a full disk must not stop the uploads
            tmp.write_text(record.to_json())
            os.replace(tmp, self.path)

    def connected(self, broker: str) -> None:
        self.broker = broker
        super().connected(broker)
        self._write(CONNECTED)

    def retrying(self, delay: float, error: str) -> None:
        super().retrying(delay, error)
        self._write(RETRYING, retry_at=time.time() + delay, error=error)

    def stopping(self) -> None:
        super().stopping()
        self._write(STOPPED)
