"""Choosing backends: specs, REKAM_HAL, fallback warnings, refusal of simulated devices."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from hal.errors import BackendUnavailable, SimulatedDeviceRefused
from hal.registry import KINDS, KitDevices, open_backend, open_devices, parse_spec, spec_from_env


def test_sim_spec_opens_every_device_on_one_control():
    with open_devices("sim", seed=3) as kit:
        assert isinstance(kit, KitDevices) and kit.sim is not None and kit.sim.seed == 3
        assert kit.simulated_kinds() == list(KINDS)
        assert [k for k, _ in kit.devices()] == list(KINDS)
        assert all(getattr(d, "control", kit.sim) is kit.sim for _, d in kit.devices())
    assert all(d.closed for _, d in kit.devices())
    kit.close()  # idempotent


def test_sim_is_refused_on_a_production_kit():
    with pytest.raises(SimulatedDeviceRefused) as err:
        open_devices("sim", allow_simulated=False)
    assert "camera" in str(err.value) and "indicators" in str(err.value)
    assert isinstance(err.value, PermissionError)
    with pytest.raises(SimulatedDeviceRefused, match="fingerprint"):
        open_devices({"fingerprint": "sim", "*": "auto"}, allow_simulated=False)


def test_auto_falls_back_to_sim_with_a_warning_only_when_allowed():
    with pytest.warns(RuntimeWarning) as record:
        kit = open_devices("auto", allow_simulated=True)
    with kit:
        assert "camera" in kit.simulated_kinds() and kit.sim is not None
    messages = [str(w.message) for w in record]
    assert any(m.startswith("no camera found") for m in messages)
    assert {m.split()[1] for m in messages} == set(kit.simulated_kinds())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refusing must not warn first
        with pytest.raises(SimulatedDeviceRefused) as err:
            open_devices("auto", allow_simulated=False)
    assert "signature" in str(err.value)  # no pen tablet (nor python-evdev) here


def test_a_named_backend_that_fails_raises_instead_of_falling_back():
    with pytest.raises(BackendUnavailable):
        open_devices({"code_reader": "evdev", "*": "sim"})
    with pytest.raises(ValueError, match="no backend"):
        open_backend("camera", "webcam9000")


def test_parse_spec_and_env():
    assert parse_spec("sim") == "sim" and parse_spec(" auto ") == "auto"
    assert parse_spec("camera=opencv, fingerprint=sbi") == {"camera": "opencv",
                                                            "fingerprint": "sbi"}
    assert parse_spec("*=sim,camera=picamera2") == {"*": "sim", "camera": "picamera2"}
    for bad in ("", "camera", "camera=", "toaster=sim", "camera=sbi", "*=opencv"):
        with pytest.raises(ValueError):
            parse_spec(bad)
    assert spec_from_env("auto", environ={}) == "auto"
    assert spec_from_env("auto", environ={"REKAM_HAL": "sim"}) == "sim"
    assert spec_from_env("sim", environ={"REKAM_HAL": "iris=sbi"}) == {"iris": "sbi"}
    assert spec_from_env({"camera": "opencv"}, environ={}) == {"camera": "opencv"}


def test_mixed_spec_shares_one_simulation_control():
    with open_devices({"*": "sim"}, seed=9, delay=0.0) as kit:
        assert kit.sim is not None and kit.sim.seed == 9


def test_importing_the_registry_loads_no_backend_or_vendor_library():
    code = ("import sys, hal.registry, hal.quality, hal.encode;"
            "bad = [m for m in ('hal.backends.sim', 'hal.backends.sim_control',"
            " 'hal.backends.sim_capture', 'hal.backends.sim_peripherals',"
            " 'escpos', 'gpiozero', 'picamera2', 'evdev',"
            " 'gi', 'hal.backends.sbi', 'hal.backends.libfprint',"
            " 'hal.backends.evdev_signature', 'edge', 'tui', 'sync', 'hq')"
            " if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_opening_the_sim_kit_does_not_import_escpos():
    code = ("import sys; from hal.registry import open_devices; k = open_devices('sim');"
            "print('escpos' in sys.modules); k.close()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
