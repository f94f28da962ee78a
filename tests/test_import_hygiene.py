"""The domain core loads without any UI, MQTT, HQ or device-backend module."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_adapters():
    code = (
        "import sys, edge.kit, edge.workflow, edge.roster, edge.packet;"
        "bad = [m for m in ('textual', 'aiomqtt', 'paho', 'sqlalchemy', 'hq', 'tui', 'sync',"
        " 'hal.backends', 'hal.registry', 'gpiozero', 'escpos') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
