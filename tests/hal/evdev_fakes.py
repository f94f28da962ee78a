"""Stand-ins for evdev input devices: a keyboard-like barcode scanner, a pen tablet used as
a signature pad, any other input device, and an ``evdev`` module listing them; each fed
through a pipe so the adapters' select() works."""

from __future__ import annotations

import contextlib
import errno
import os
from collections import deque
from types import SimpleNamespace
from typing import Any

import numpy as np


class FakeInputDevice:
    """An evdev.InputDevice fed through a pipe (so select() works)."""

    name = "Newland Barcode Scanner"
    path = "/dev/input/event-fake"

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.events: deque[Any] = deque()
        self.grabbed = False

    def type_code(self, text: str) -> None:
        from hal.backends.evdev_reader import KEY_ENTER, KEYMAP

        reverse = {v[0]: k for k, v in KEYMAP.items()}
        reverse.update({v[1]: k for k, v in KEYMAP.items() if v[1] != v[0]})
        for ch in text:
            code = reverse[ch]
            shifted = KEYMAP[code][0] != ch
            if shifted:
                self._key(42, 1)
            self._key(code, 1)
            self._key(code, 0)
            if shifted:
                self._key(42, 0)
        self._key(KEY_ENTER, 1)
        self._key(KEY_ENTER, 0)
        os.write(self._w, b"x")

    def _key(self, code: int, value: int) -> None:
        self.events.append(SimpleNamespace(type=1, code=code, value=value))

    def read_one(self) -> Any:
        if not self.events:
            os.read(self._r, 1024)  # drain the wake-up bytes
            return None
        return self.events.popleft()

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


# --- a fake evdev pen tablet / signature pad ---------------------------------------------

UNPLUG = object()  # in a pen script: the device goes away here


def pen_signature(words: int = 3, *, x_max: int = 15200, y_max: int = 9500,
                  points: int = 40) -> list[list[tuple[int, int]]]:
    """A made-up signature in pad units: ``words`` wavy strokes across 10-90 % of the pad."""
    strokes = []
    gap = 0.8 * x_max / words
    for i in range(words):
        t = np.linspace(0.0, 1.0, points)
        xs = 0.1 * x_max + i * gap + 0.85 * gap * t
        ys = y_max * (0.5 + 0.15 * np.sin(2 * np.pi * (2 + i) * t) + 0.05 * np.cos(9 * t))
        strokes.append([(int(a), int(b)) for a, b in zip(xs, ys, strict=True)])
    return strokes


class FakePenDevice:
    """An ``evdev.InputDevice`` for a pen tablet (by default a Wacom One S pen's ranges: a
    1.6:1 area), fed through a non-blocking pipe so select() works. ``sign()`` stages what
    the resident does; it starts once the adapter has read the pad empty (so a capture's
    drain of stale events does not eat it). ``scribble_now()`` puts events in the buffer at
    once."""

    name = "Wacom One by Wacom S Pen"
    path = "/dev/input/event-pen"
    uniq = "8CH00A1234"
    info = SimpleNamespace(bustype=3, vendor=0x056A, product=0x037A, version=0x0110)

    def __init__(self, *, x_max: int = 15200, y_max: int = 9500, pressure: bool = True,
                 touch: bool = True) -> None:
        self.ranges = {0: (0, x_max), 1: (0, y_max)}
        keys = [320, 331] + ([330] if touch else [])
        axes = [0, 1]
        if pressure:
            self.ranges[24] = (0, 1023)
            axes.append(24)
        self.caps = {1: keys, 3: axes}
        self.x_max, self.y_max = x_max, y_max
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.fd = self._r
        self.buffer: deque[Any] = deque()
        self.staged: list[Any] = []
        self.grabbed = False
        self.unplugged = False
        self.grab_error: OSError | None = None

    # --- test verbs
    def sign(self, strokes: list[list[tuple[int, int]]] | None = None, *,
             confirm: bool = True, unplug_after: int | None = None) -> None:
        """Stage a signature; ``confirm`` ends it with a press of the pen's button; the
        device is unplugged after ``unplug_after`` points when given."""
        events = self.events_for(strokes or pen_signature(x_max=self.x_max, y_max=self.y_max))
        if unplug_after is not None:
            cut = [i for i, e in enumerate(events) if e.type == 0][unplug_after]
            events = [*events[:cut + 1], UNPLUG]
        elif confirm:
            events += [self._ev(1, 331, 1), self._ev(0, 0, 0), self._ev(1, 331, 0),
                       self._ev(0, 0, 0)]
        self.staged.extend(events)

    def scribble_now(self, strokes: list[list[tuple[int, int]]]) -> None:
        self.buffer.extend(self.events_for(strokes))
        os.write(self._w, b"x")

    def events_for(self, strokes: list[list[tuple[int, int]]]) -> list[Any]:
        ev = self._ev
        out = [ev(1, 320, 1), ev(0, 0, 0)]
        for stroke in strokes:
            for i, (x, y) in enumerate(stroke):
                out += [ev(3, 0, x), ev(3, 1, y), ev(3, 24, 600)]
                if i == 0:
                    out.append(ev(1, 330, 1))
                out.append(ev(0, 0, 0))
            out += [ev(3, 24, 0), ev(1, 330, 0), ev(0, 0, 0)]
        return out

    @staticmethod
    def _ev(etype: int, code: int, value: int) -> Any:
        return SimpleNamespace(type=etype, code=code, value=value)

    # --- the evdev.InputDevice API
    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict[int, list[int]]:
        return {k: list(v) for k, v in self.caps.items()}

    def absinfo(self, code: int) -> Any:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        low, high = self.ranges[code]
        return SimpleNamespace(value=0, min=low, max=high, fuzz=0, flat=0, resolution=40)

    def read_one(self) -> Any:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if self.buffer:
            event = self.buffer.popleft()
            if event is UNPLUG:
                self.unplugged = True
                raise OSError(errno.ENODEV, "No such device")
            return event
        with contextlib.suppress(BlockingIOError):
            os.read(self._r, 1024)  # drain the wake-up bytes
        if self.staged:  # the resident starts now
            self.buffer.extend(self.staged)
            self.staged.clear()
            os.write(self._w, b"x")
        return None

    def grab(self) -> None:
        if self.grab_error is not None:
            raise self.grab_error
        self.grabbed = True

    def ungrab(self) -> None:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        self.grabbed = False

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class FakeCapsDevice:
    """Any other input device: only a name and capabilities."""

    def __init__(self, name: str, caps: dict[int, list[int]]) -> None:
        self.name, self.caps, self.closed = name, caps, False

    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict[int, list[int]]:
        return self.caps

    def close(self) -> None:
        self.closed = True


def fake_evdev_module(devices: dict[str, Any]) -> Any:
    """An ``evdev`` module over ``devices`` (path -> device, or an OSError to raise)."""
    def input_device(path: str) -> Any:
        device = devices[path]
        if isinstance(device, OSError):
            raise device
        return device

    return SimpleNamespace(list_devices=lambda: list(devices), InputDevice=input_device)
