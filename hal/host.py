"""The host the kit runs on: its power supply and its network link, read from the kernel's
sysfs (``/sys/class/power_supply``, ``/sys/class/hwmon``, ``/sys/class/net``).

Probes beside the other device code: no vendor library, nothing to open or close. Tests
point ``sysfs`` at a directory of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys")


@dataclass(frozen=True)
class PowerState:
    source: str  # "mains", "battery", "undervoltage", "unknown"
    percent: int | None = None


def power(sysfs: Path = SYSFS) -> PowerState:
    """Battery (and its level) or mains, from the kernel's power-supply class; on a Pi
    without a battery, the firmware's under-voltage alarm (``rpi_volt``)."""
    battery: int | None = None
    on_mains: bool | None = None
    for supply in _children(sysfs / "class" / "power_supply"):
        kind = _read(supply / "type")
        if kind == "Battery":
            level = _read(supply / "capacity")
            if level.isdigit():
                battery = int(level)
            status = _read(supply / "status")
            if status in ("Charging", "Full"):
                on_mains = True
            elif status == "Discharging" and on_mains is None:
                on_mains = False
        elif kind in ("Mains", "USB", "USB_PD") and _read(supply / "online") == "1":
            on_mains = True
    if battery is not None:
        return PowerState("mains" if on_mains else "battery", battery)
    for hwmon in _children(sysfs / "class" / "hwmon"):
        if _read(hwmon / "name") == "rpi_volt":
            alarm = _read(hwmon / "in0_lcrit_alarm") == "1"
            return PowerState("undervoltage" if alarm else "mains")
    return PowerState("mains" if on_mains else "unknown")


def link_up(sysfs: Path = SYSFS) -> bool:
    """A network interface other than loopback is up (carrier), so HQ may be reachable."""
    root = sysfs / "class" / "net"
    try:
        names = [p.name for p in root.iterdir() if p.name != "lo"]
    except OSError:
        return False
    return any(_read(root / n / "operstate") == "up" for n in names)


def _children(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir())
    except OSError:
        return []


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
