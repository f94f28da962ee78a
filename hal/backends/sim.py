"""The simulated backend: every device of a kit, in software, shipped in the package (like
gpiozero's ``MockPin``). The default for ``make demo`` and the tests.

One :class:`~hal.backends.sim_control.SimulationControl` stands for one simulated kit and
the resident in front of it. Its verbs stage what happens next, like gpiozero's
``drive_high()``::

    sim = SimulationControl(seed=7)
    camera, scanner = SimulatedCamera(sim), SimulatedFingerprintScanner(sim)
    sim.set_subject("3275014101050001", birth_year=2005)   # blue backdrop: even year
    sim.present_finger(quality=0.2)          # the next finger is a poor one
    sim.queue("camera", "blur")              # the next face frame is out of focus
    sim.unplug("iris")                       # DeviceUnplugged until sim.replug("iris")
    sim.timeout_next("fingerprint")          # the next capture raises CaptureTimeout
    sim.busy_next("signature")               # ... DeviceBusy

and ``sim.history`` records every verb and capture with a timestamp. Captures are real
images (drawn by :mod:`hal.synth`), scored by :mod:`hal.quality` and encoded by
:mod:`hal.encode`, exactly as a real backend's would be. Printers keep their jobs;
the receipt printer's bytes are real ESC/POS from python-escpos's ``Dummy``; the
indicators are real gpiozero devices on gpiozero's ``MockFactory``.

This module holds the simulated devices by kind (:data:`SIMULATED`) and makes a kit's worth
of them (:func:`simulated_devices`); the parts live beside it: the control in
:mod:`hal.backends.sim_control`, the capture devices in :mod:`hal.backends.sim_capture`,
the code reader, printers and indicators in :mod:`hal.backends.sim_peripherals`, the
drawn images and their faults in :mod:`hal.backends.sim_images`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hal.backends.sim_capture import (
    SimulatedCamera,
    SimulatedFingerprintScanner,
    SimulatedIrisScanner,
    SimulatedSignaturePad,
)
from hal.backends.sim_control import KINDS, SimulationControl
from hal.backends.sim_peripherals import (
    SimulatedCodeReader,
    SimulatedDocumentPrinter,
    SimulatedIndicators,
    SimulatedReceiptPrinter,
)
from hal.ports import Device

SIMULATED: dict[str, type[Any]] = {
    "camera": SimulatedCamera,
    "fingerprint": SimulatedFingerprintScanner,
    "iris": SimulatedIrisScanner,
    "signature": SimulatedSignaturePad,
    "code_reader": SimulatedCodeReader,
    "receipt_printer": SimulatedReceiptPrinter,
    "document_printer": SimulatedDocumentPrinter,
    "indicators": SimulatedIndicators,
}


def simulated_devices(control: SimulationControl, *, delay: float = 0.0,
                      kinds: Iterable[str] = KINDS) -> dict[str, Device]:
    """Simulated devices on ``control`` (one of each kind by default), keyed by kind."""
    return {kind: SIMULATED[kind](control, delay=delay) for kind in kinds}
