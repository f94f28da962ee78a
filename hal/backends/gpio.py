"""The kit's status LEDs, buzzer and capture button on the Pi's GPIO header, via gpiozero.

The simulated backend uses this same class on gpiozero's ``MockFactory``: the LEDs and the
buzzer are real gpiozero devices on mock pins, so tests read their pin histories.

=========  =====  ================================================
part       BCM    meaning
=========  =====  ================================================
green LED  17     idle / ok
amber LED  27     busy (capturing, sealing, printing)
red LED    22     error; with amber: offline
buzzer     23     one short beep for ok, three for an error
button     24     the capture button (to ground, internal pull-up)
=========  =====  ================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hal.errors import BackendUnavailable, DeviceNotFound
from hal.ports import Indicators
from hal.types import DeviceInfo


@dataclass(frozen=True, slots=True)
class IndicatorPins:
    green: int = 17
    amber: int = 27
    red: int = 22
    buzzer: int = 23
    button: int = 24


# which LEDs are lit in each state: (green, amber, red)
STATES: dict[str, tuple[bool, bool, bool]] = {
    "idle": (True, False, False),
    "busy": (False, True, False),
    "ok": (True, False, False),
    "error": (False, False, True),
    "offline": (False, True, True),
    "off": (False, False, False),
}
BEEPS: dict[str, int] = {"ok": 1, "error": 3, "attention": 2}
BEEP_SECONDS = 0.08


def on_a_raspberry_pi() -> bool:
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text().lower()
    except OSError:
        return False


class GpioIndicators(Indicators):
    """LEDs, buzzer and button through gpiozero. ``pin_factory`` is injected (None: gpiozero's
    default for this machine); ``background`` beeps without blocking the caller."""

    def __init__(self, *, pin_factory: Any = None, pins: IndicatorPins = IndicatorPins(),
                 background: bool = True, backend: str = "gpiozero",
                 beep_seconds: float = BEEP_SECONDS) -> None:
        try:
            from gpiozero import LED, Button, Buzzer
        except ImportError as exc:  # pragma: no cover - a dependency of the kit
            raise BackendUnavailable("gpiozero is not installed", device="indicators") from exc
        super().__init__(DeviceInfo("indicators", "GPIO LEDs, buzzer and button",
                                    f"bcm{pins.green}-{pins.button}", "", backend))
        self.pins = pins
        self._background = background
        self._beep_seconds = beep_seconds
        made: list[Any] = []
        try:
            for cls, pin in ((LED, pins.green), (LED, pins.amber), (LED, pins.red),
                             (Buzzer, pins.buzzer)):
                made.append(cls(pin, pin_factory=pin_factory))
            made.append(Button(pins.button, pull_up=True, bounce_time=None,
                               pin_factory=pin_factory))
        except Exception as exc:  # gpiozero's BadPinFactory, PinInUse, ...
            for device in made:
                device.close()
            raise DeviceNotFound(f"GPIO indicators unavailable: {exc}",
                                 device="indicators") from exc
        self.green, self.amber, self.red, self.buzzer, self.button = made
        self.state = "off"

    @classmethod
    def open(cls) -> GpioIndicators:
        if not on_a_raspberry_pi():
            raise DeviceNotFound("not a Raspberry Pi: no GPIO header", device="indicators")
        return cls()

    def show(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown indicator state {state!r}; one of {sorted(STATES)}")
        for led, lit in zip((self.green, self.amber, self.red), STATES[state], strict=True):
            led.value = lit
        self.state = state

    def beep(self, pattern: str = "ok") -> None:
        if pattern not in BEEPS:
            raise ValueError(f"unknown beep {pattern!r}; one of {sorted(BEEPS)}")
        self.buzzer.beep(on_time=self._beep_seconds, off_time=self._beep_seconds, n=BEEPS[pattern],
                         background=self._background)

    def wait_for_button(self, *, timeout: float | None = None) -> bool:
        return bool(self.button.wait_for_press(timeout))

    def lit(self) -> dict[str, bool]:
        return {"green": bool(self.green.value), "amber": bool(self.amber.value),
                "red": bool(self.red.value)}

    def _close(self) -> None:
        for device in (self.button, self.buzzer, self.red, self.amber, self.green):
            device.close()
