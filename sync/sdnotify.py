"""systemd's notify protocol in a few lines of stdlib (no dependency): READY, WATCHDOG,
STATUS, STOPPING. Does nothing when ``NOTIFY_SOCKET`` is unset (not under systemd)."""

from __future__ import annotations

import contextlib
import os
import socket


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        usec = os.environ.get("WATCHDOG_USEC", "")
        # Ping at half the watchdog period, as sd_watchdog_enabled(3) advises.
        self.watchdog_interval = int(usec) / 2_000_000 if usec.isdigit() else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *lines: str) -> None:
        if not self.address:
            return
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        with sock, contextlib.suppress(OSError):  # systemd gone: never fatal for the daemon
            sock.sendto("\n".join(lines).encode(), addr)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def connected(self, broker: str) -> None:
        self.status(f"connected to {broker}")

    def retrying(self, delay: float, error: str) -> None:
        self.status(f"offline, retrying in {delay:.0f} s" + (f": {error}" if error else ""))

    def stopping(self) -> None:
        self.notify("STOPPING=1")
