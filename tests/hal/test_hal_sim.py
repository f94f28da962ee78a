"""The simulated backend's test verbs, history, determinism, printers and indicators."""

from __future__ import annotations

import threading
import time

import pytest

from hal.backends.sim import simulated_devices
from hal.backends.sim_control import DEFAULT_SUBJECT, SimulationControl
from hal.backends.sim_peripherals import (
    SimulatedDocumentPrinter,
    SimulatedIndicators,
    SimulatedReceiptPrinter,
)
from hal.errors import (
    CaptureTimeout,
    DeviceBusy,
    DeviceClosed,
    DeviceUnplugged,
    HalError,
    PaperOut,
    PrinterOffline,
)
from hal.types import Eye, Finger, Receipt

CAPTURES = {
    "camera": lambda d: d["camera"].capture_face(),
    "fingerprint": lambda d: d["fingerprint"].capture(Finger.RIGHT_INDEX),
    "iris": lambda d: d["iris"].capture(Eye.LEFT),
    "signature": lambda d: d["signature"].capture_signature(),
}


@pytest.fixture
def kit():
    sim = SimulationControl(seed=41)
    devices = simulated_devices(sim)
    yield sim, devices
    for device in devices.values():
        device.close()


@pytest.mark.parametrize("kind", list(CAPTURES))
def test_fault_verbs_raise_the_typed_errors(kit, kind):
    sim, d = kit
    sim.unplug(kind)
    with pytest.raises(DeviceUnplugged) as err:
        CAPTURES[kind](d)
    assert err.value.device == kind and isinstance(err.value, ConnectionError)
    with pytest.raises(DeviceUnplugged):  # stays unplugged
        CAPTURES[kind](d)
    assert not d[kind].self_test().ok
    sim.replug(kind)
    sim.timeout_next(kind)
    with pytest.raises(CaptureTimeout) as timeout:
        CAPTURES[kind](d)
    assert isinstance(timeout.value, TimeoutError)
    sim.busy_next(kind, times=2)
    for _ in range(2):
        with pytest.raises(DeviceBusy):
            CAPTURES[kind](d)
    assert CAPTURES[kind](d).quality.score > 0  # works again
    actions = [e.action for e in sim.events(kind)]
    assert actions[:2] == ["unplug", "error"] and "replug" in actions
    assert actions[-1] == "capture"


def test_history_is_timestamped_and_filterable(kit):
    sim, d = kit
    sim.set_subject("3275010101900001", birth_year=1990)
    sim.queue("camera", "blur")
    d["camera"].capture_face()
    times = [e.at for e in sim.history]
    assert times == sorted(times)
    assert [e.action for e in sim.events("camera")] == ["queue", "capture"]
    assert "blur:1" in sim.events("camera", "capture")[0].detail
    assert sim.events(action="set_subject")[0].detail == "3275010101900001 1990"


def test_queued_faults_apply_in_order_then_clean(kit):
    sim, d = kit
    sim.queue("fingerprint", "partial")
    sim.queue("fingerprint", "blur", times=2)
    assert [str(f) for f in sim.pending("fingerprint")] == ["partial:1", "blur:1", "blur:1"]
    reasons = [d["fingerprint"].capture(Finger.LEFT_INDEX).quality.reasons for _ in range(4)]
    assert "partial" in reasons[0] and reasons[3] == ()
    sim.queue("iris", "occluded")
    sim.clear("iris")
    assert sim.pending("iris") == []
    with pytest.raises(ValueError):
        sim.queue("fingerprint", "occluded")
    with pytest.raises(ValueError):
        sim.queue("printer", "blur")
    with pytest.raises(ValueError):
        sim.unplug("toaster")


def test_captures_are_deterministic_for_a_seed():
    def run(seed: int) -> list[bytes]:
        sim = SimulationControl(seed=seed)
        d = simulated_devices(sim, kinds=["camera", "fingerprint", "iris", "signature"])
        sim.set_subject("3275014101050001", birth_year=2005)
        out = [d["fingerprint"].capture(Finger.RIGHT_THUMB).image,
               d["fingerprint"].capture(Finger.RIGHT_THUMB).image,
               d["iris"].capture(Eye.RIGHT).image, d["camera"].capture_face().image,
               d["signature"].capture_signature().image]
        sim.queue("fingerprint", "smudge")
        out.append(d["fingerprint"].capture(Finger.LEFT_LITTLE).image)
        return out

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    assert first[0] != first[1]  # a re-scan is placed differently


def test_images_are_distinct_per_subject_finger_and_eye(kit):
    sim, d = kit
    seen = set()
    for subject in ("A", "B"):
        sim.set_subject(subject)
        for finger in Finger:
            seen.add(d["fingerprint"].capture(finger).image)
        for eye in Eye:
            seen.add(d["iris"].capture(eye).image)
        seen.add(d["camera"].capture_face().image)
        seen.add(d["signature"].capture_signature().image)
    assert len(seen) == 2 * (10 + 2 + 1 + 1)


def test_captures_carry_what_the_core_needs(kit):
    sim, d = kit
    sim.set_subject("3275015508060006", birth_year=2006)
    face = d["camera"].capture_face()
    assert face.device.simulated and face.device.backend == "sim"
    assert face.warnings == () and face.quality.score >= 50
    assert face.pixels.shape == (face.height, face.width, 3)
    sim.queue("camera", "wrong_background")
    assert d["camera"].capture_face().warnings == ("background_blue_expected",)
    finger = d["fingerprint"].capture(Finger.LEFT_RING)
    assert finger.position == "left_ring" and finger.pixels.shape == (336, 256)
    assert d["iris"].capture(Eye.RIGHT).position == "right"


def test_delay_emulates_device_time_and_timeout():
    sim = SimulationControl()
    scanner = simulated_devices(sim, kinds=["fingerprint"], delay=0.05)["fingerprint"]
    started = time.perf_counter()
    scanner.capture(Finger.RIGHT_INDEX)
    assert time.perf_counter() - started >= 0.05
    with pytest.raises(CaptureTimeout):
        scanner.capture(Finger.RIGHT_INDEX, timeout=0.01)


def test_closed_devices_refuse_and_close_is_idempotent(kit):
    _, d = kit
    with d["fingerprint"] as scanner:
        pass
    scanner.close()
    assert scanner.closed and not scanner.self_test().ok
    with pytest.raises(DeviceClosed) as err:
        scanner.capture(Finger.RIGHT_INDEX)
    assert isinstance(err.value, HalError)


def test_code_reader_scans_in_order_and_waits(kit):
    _, d = kit
    reader = d["code_reader"]
    assert reader.read() is None
    reader.scan("K7QF-2M9X")
    reader.scan("3275014101050001")
    assert reader.read() == "K7QF-2M9X" and reader.read() == "3275014101050001"
    threading.Timer(0.02, reader.scan, args=("LATE-0001",)).start()
    assert reader.read(timeout=2.0) == "LATE-0001"


def test_receipt_printer_renders_real_escpos(kit):
    sim, d = kit
    printer: SimulatedReceiptPrinter = d["receipt_printer"]
    receipt = Receipt("TANDA TERIMA", (("NIK", "3275014101050001"), ("Nama", "Siti Rahmawati")),
                      qr_payload="rekam:abc123", footer="Terima kasih")
    printer.print_receipt(receipt)
    assert printer.jobs == [receipt]
    out = printer.output
    assert out.startswith(b"\x1b") and b"\x1dV" in out  # ESC/POS commands, ending in a cut
    assert b"\x1d(k" in out and b"rekam:abc123" in out  # the printer's own QR code
    text = printer.text()
    for part in ("TANDA TERIMA", "NIK", "3275014101050001", "Siti Rahmawati", "Terima kasih"):
        assert part in text
    printer.paper_out()
    with pytest.raises(PaperOut) as err:
        printer.print_receipt(receipt)
    assert isinstance(err.value, OSError) and len(printer.jobs) == 1
    printer.load_paper()
    printer.go_offline()
    with pytest.raises(PrinterOffline):
        printer.print_receipt(receipt)
    printer.go_online()
    printer.print_receipt(receipt)
    assert len(printer.jobs) == 2
    assert [e.action for e in sim.events("receipt_printer")].count("print") == 2


def test_document_printer_keeps_jobs(kit):
    _, d = kit
    printer: SimulatedDocumentPrinter = d["document_printer"]
    job = printer.print_pdf(b"%PDF-1.7\n...", title="undangan")
    assert job == "sim-1" and printer.jobs[0].title == "undangan"
    with pytest.raises(ValueError):
        printer.print_pdf(b"not a pdf")
    printer.paper_out()
    with pytest.raises(PaperOut):
        printer.print_pdf(b"%PDF-1.7\n")


def test_indicators_are_gpiozero_on_mock_pins(kit):
    sim, d = kit
    lights: SimulatedIndicators = d["indicators"]
    lights.show("busy")
    assert lights.lit() == {"green": False, "amber": True, "red": False}
    assert lights.factory.pin(lights.pins.amber).state
    lights.show("offline")
    assert lights.lit() == {"green": False, "amber": True, "red": True}
    with pytest.raises(ValueError):
        lights.show("disco")
    buzzer = lights.factory.pin(lights.pins.buzzer)
    buzzer.clear_states()
    lights.beep("error")
    assert [s.state for s in buzzer.states][1:] == [True, False] * 3
    assert lights.wait_for_button(timeout=0.01) is False
    lights.press_button()
    assert lights.wait_for_button(timeout=1.0) is True
    assert lights.wait_for_button(timeout=0.01) is False  # released after it was seen
    assert [e.action for e in sim.events("indicators")][-1] == "press_button"


def test_the_camera_takes_the_birth_year_from_the_caller(kit):
    sim, d = kit
    sim.set_subject("3275015508060006", birth_year=2006)  # the subject's: even, blue
    sim.queue("camera", "wrong_background")  # a red backdrop behind a 2006 resident ...
    assert d["camera"].capture_face().warnings == ("background_blue_expected",)
    sim.queue("camera", "wrong_background")  # ... is right for a 2005 one, if told so
    assert d["camera"].capture_face(birth_year=2005).warnings == ("background_red_expected",)
    assert d["camera"].capture_face(birth_year=2005, timeout=5).warnings == ()



def test_the_resident_steps_away_and_nobody_is_in_front_of_the_kit(kit):
    sim, d = kit
    sim.set_subject("3275014101050001", birth_year=2005)
    theirs = d["signature"].capture_signature().image
    sim.step_away()
    assert (sim.subject, sim.birth_year) == (DEFAULT_SUBJECT, None)
    assert d["signature"].capture_signature().image != theirs  # someone else's, now
    assert [e.action for e in sim.events("kit")][-1] == "step_away"
    sim.set_subject("3275014101050001", birth_year=2005)  # back again: drawn alike
    assert d["signature"].capture_signature().image == theirs
