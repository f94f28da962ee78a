"""USB barcode/QR scanners, which type what they read like a keyboard, ending with Enter.

The scanner's input device is *grabbed* (exclusive), so codes never leak into the UI as
typing. evdev is imported only here; the key translation is a pure function
(:func:`decode_keys`) over Linux input key codes, which are a stable kernel ABI.
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterable
from typing import Any

from hal.errors import BackendUnavailable, DeviceClosed, DeviceNotFound, DeviceUnplugged
from hal.ports import CodeReader
from hal.types import DeviceInfo

EV_KEY = 1
KEY_DOWN = 1
KEY_ENTER, KEY_KPENTER = 28, 96
SHIFTS = {42, 54}  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
# US layout: code -> (plain, shifted)
KEYMAP: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"),
    7: ("6", "^"), 8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"),
    12: ("-", "_"), 13: ("=", "+"), 16: ("q", "Q"), 17: ("w", "W"), 18: ("e", "E"),
    19: ("r", "R"), 20: ("t", "T"), 21: ("y", "Y"), 22: ("u", "U"), 23: ("i", "I"),
    24: ("o", "O"), 25: ("p", "P"), 26: ("[", "{"), 27: ("]", "}"), 30: ("a", "A"),
    31: ("s", "S"), 32: ("d", "D"), 33: ("f", "F"), 34: ("g", "G"), 35: ("h", "H"),
    36: ("j", "J"), 37: ("k", "K"), 38: ("l", "L"), 39: (";", ":"), 40: ("'", '"'),
    41: ("`", "~"), 43: ("\\", "|"), 44: ("z", "Z"), 45: ("x", "X"), 46: ("c", "C"),
    47: ("v", "V"), 48: ("b", "B"), 49: ("n", "N"), 50: ("m", "M"), 51: (",", "<"),
    52: (".", ">"), 53: ("/", "?"), 57: (" ", " "),
}
SCANNER_NAMES = ("barcode", "scanner", "qr", "honeywell", "zebra", "datalogic", "newland")


class KeyDecoder:
    """Turns key events into text lines; keeps the shift state between calls."""

    def __init__(self) -> None:
        self.shift = False
        self.buffer: list[str] = []

    def feed(self, events: Iterable[tuple[int, int, int]]) -> list[str]:
        """``(type, code, value)`` events in; completed lines (codes) out."""
        lines = []
        for etype, code, value in events:
            if etype != EV_KEY:
                continue
            if code in SHIFTS:
                self.shift = value != 0
            elif value == KEY_DOWN:
                if code in (KEY_ENTER, KEY_KPENTER):
                    lines.append("".join(self.buffer))
                    self.buffer.clear()
                elif code in KEYMAP:
                    self.buffer.append(KEYMAP[code][1 if self.shift else 0])
        return lines


def decode_keys(events: Iterable[tuple[int, int, int]]) -> list[str]:
    return KeyDecoder().feed(events)


class EvdevCodeReader(CodeReader):
    """``device`` is an ``evdev.InputDevice`` (or a fake with ``fd``, ``read_one()``,
    ``grab()``, ``ungrab()``, ``close()`` and ``name``)."""

    def __init__(self, device: Any, *, grab: bool = True) -> None:
        super().__init__(DeviceInfo("code_reader", str(getattr(device, "name", "scanner")),
                                    str(getattr(device, "path", "")), "", "evdev"))
        self._device = device
        self._decoder = KeyDecoder()
        self._pending: list[str] = []
        self._grabbed = False
        if grab:
            device.grab()
            self._grabbed = True

    @classmethod
    def open(cls, path: str | None = None) -> EvdevCodeReader:
        try:
            import evdev
        except ImportError as exc:
            raise BackendUnavailable("python-evdev is not installed (extra 'pi')",
                                     device="code_reader") from exc
        if path is not None:
            return cls(evdev.InputDevice(path))
        for candidate in evdev.list_devices():
            device = evdev.InputDevice(candidate)
            if any(word in device.name.lower() for word in SCANNER_NAMES):
                return cls(device)
            device.close()
        raise DeviceNotFound("no barcode scanner among the input devices",
                             device="code_reader")

    def read(self, *, timeout: float = 0.0) -> str | None:
        if self.closed:
            raise DeviceClosed("the code reader is closed", device="code_reader")
        deadline = time.monotonic() + max(0.0, timeout)
        while not self._pending:
            remaining = deadline - time.monotonic()
            try:
                ready, _, _ = select.select([self._device.fd], [], [], max(0.0, remaining))
            except (OSError, ValueError) as exc:
                raise DeviceUnplugged(f"the code reader went away: {exc}",
                                      device="code_reader") from exc
            if not ready:
                return None
            events = []
            while (event := self._device.read_one()) is not None:
                events.append((event.type, event.code, event.value))
            self._pending.extend(code for code in self._decoder.feed(events) if code)
        return self._pending.pop(0)

    def _close(self) -> None:
        if self._grabbed:
            self._device.ungrab()
        self._device.close()
