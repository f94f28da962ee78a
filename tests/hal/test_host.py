"""The host probes the status bar shows: battery or mains, and whether a network link is up,
read from a sysfs tree laid out as the kernel lays it out."""

from __future__ import annotations

from pathlib import Path

from hal import host


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


def test_a_discharging_battery_shows_its_level(tmp_path: Path) -> None:
    sysfs = _write(tmp_path, {"class/power_supply/BAT0/type": "Battery",
                              "class/power_supply/BAT0/capacity": "76",
                              "class/power_supply/BAT0/status": "Discharging"})
    assert host.power(sysfs) == host.PowerState("battery", 76)


def test_a_charging_battery_means_mains(tmp_path: Path) -> None:
    sysfs = _write(tmp_path, {"class/power_supply/BAT0/type": "Battery",
                              "class/power_supply/BAT0/capacity": "40",
                              "class/power_supply/BAT0/status": "Charging"})
    assert host.power(sysfs) == host.PowerState("mains", 40)


def test_a_pi_without_battery_reports_under_voltage(tmp_path: Path) -> None:
    sysfs = _write(tmp_path, {"class/hwmon/hwmon0/name": "rpi_volt",
                              "class/hwmon/hwmon0/in0_lcrit_alarm": "1"})
    assert host.power(sysfs).source == "undervoltage"


def test_no_power_information_is_unknown_not_an_error(tmp_path: Path) -> None:
    assert host.power(tmp_path) == host.PowerState("unknown")


def test_the_link_is_up_only_when_an_interface_other_than_loopback_is(tmp_path: Path) -> None:
    _write(tmp_path, {"class/net/lo/operstate": "unknown", "class/net/eth0/operstate": "down"})
    assert not host.link_up(tmp_path)
    _write(tmp_path, {"class/net/wlan0/operstate": "up"})
    assert host.link_up(tmp_path)
    assert not host.link_up(tmp_path / "missing")
