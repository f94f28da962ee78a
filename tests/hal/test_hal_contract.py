"""One contract, every backend (after gpiozero's ``tests/test_real_pins.py``).

Each device kind is tested against: the simulated backend; each real adapter driven through
an injected fake of its vendor object (so the adapter's own code runs here); and each real
adapter on this machine's hardware, which skips itself with the reason when there is none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from evdev_fakes import FakeInputDevice, FakePenDevice
from gpiozero.pins.mock import MockFactory
from hal_fakes import FakePicamera2, FakeVideoCapture, StatusDummy, fake_lp
from libfprint_fakes import fake_libfprint
from sbi_fakes import sbi_service

from hal.backends.cups_printer import CupsDocumentPrinter
from hal.backends.escpos_receipt import EscposReceiptPrinter
from hal.backends.evdev_reader import EvdevCodeReader
from hal.backends.evdev_signature import EvdevSignaturePad
from hal.backends.gpio import GpioIndicators
from hal.backends.libfprint import LibfprintScanner
from hal.backends.opencv_camera import OpenCVCamera
from hal.backends.picamera2_camera import Picamera2Camera
from hal.backends.sbi import SbiClient, SbiFingerprintScanner, SbiIrisScanner, find_device
from hal.backends.sim import SIMULATED
from hal.backends.sim_control import SimulationControl
from hal.encode import decode_image, sniff_format
from hal.errors import BackendUnavailable, DeviceClosed, DeviceNotFound, HalError
from hal.ports import Device
from hal.registry import BACKENDS, open_backend
from hal.types import Capture, Eye, Finger, ImageFormat, Modality, Receipt

Factory = Callable[[Path], contextlib.AbstractContextManager[Device]]


@contextlib.contextmanager
def _simulated(kind: str, tmp: Path) -> Iterator[Device]:
    yield SIMULATED[kind](SimulationControl(seed=5))


@contextlib.contextmanager
def _hardware(kind: str, backend: str, tmp: Path) -> Iterator[Device]:
    try:
        device = open_backend(kind, backend)
    except (BackendUnavailable, DeviceNotFound) as exc:
        pytest.skip(f"{backend} {kind} not here: {exc}")
    yield device


@contextlib.contextmanager
def _sbi(cls: type[Device], device_type: str, tmp: Path) -> Iterator[Device]:
    with sbi_service() as (port, _state):
        yield cls(*find_device(device_type, ports=[port]))  # type: ignore[call-arg]


def _pad() -> EvdevSignaturePad:
    fake = FakePenDevice()
    fake.sign()  # the resident signs and presses the pen's button once a capture starts
    return EvdevSignaturePad(fake)


FAKES: dict[str, dict[str, Factory]] = {
    "camera": {
        "opencv(fake capture)": lambda tmp: contextlib.nullcontext(
            OpenCVCamera(FakeVideoCapture())),
        "picamera2(fake)": lambda tmp: contextlib.nullcontext(Picamera2Camera(FakePicamera2())),
    },
    "fingerprint": {
        "sbi(fake service)": lambda tmp: _sbi(SbiFingerprintScanner, "Finger", tmp),
        "libfprint(fake FPrint)": lambda tmp: contextlib.nullcontext(
            LibfprintScanner.open(api=fake_libfprint()[0])),
        "libfprint(fake FPrint, 363 ppi swipe)": lambda tmp: contextlib.nullcontext(
            LibfprintScanner.open(api=fake_libfprint(ppi=363.0, scan_type=0)[0])),
    },
    "iris": {"sbi(fake service)": lambda tmp: _sbi(SbiIrisScanner, "Iris", tmp)},
    "signature": {"evdev(fake pen tablet)": lambda tmp: contextlib.nullcontext(_pad())},
    "code_reader": {"evdev(fake device)": lambda tmp: contextlib.nullcontext(
        EvdevCodeReader(FakeInputDevice()))},
    "receipt_printer": {"escpos(status dummy)": lambda tmp: contextlib.nullcontext(
        EscposReceiptPrinter(StatusDummy(), check_status=True))},
    "document_printer": {"cups(fake lp)": lambda tmp: contextlib.nullcontext(
        CupsDocumentPrinter(lp=fake_lp(tmp)))},
    "indicators": {"gpiozero(mock pins)": lambda tmp: contextlib.nullcontext(
        GpioIndicators(pin_factory=MockFactory(), background=False, beep_seconds=0.0))},
}


def _cases() -> list[object]:
    cases = []
    for kind in FAKES:
        cases.append(pytest.param((kind, lambda tmp, k=kind: _simulated(k, tmp)),
                                  id=f"{kind}-sim"))
        for name, factory in FAKES[kind].items():
            cases.append(pytest.param((kind, factory), id=f"{kind}-{name}"))
        for backend in BACKENDS[kind]:
            cases.append(pytest.param(
                (kind, lambda tmp, k=kind, b=backend: _hardware(k, b, tmp)),
                id=f"{kind}-{backend}(hardware)"))
    return cases


@pytest.fixture(params=_cases())
def device(request, tmp_path) -> Iterator[tuple[str, Device]]:
    kind, factory = request.param
    with factory(tmp_path) as dev:
        try:
            yield kind, dev
        finally:
            dev.close()


def _check_capture(capture: Capture, modality: Modality, position: str | None,
                   formats: set[ImageFormat], device: Device) -> None:
    assert capture.modality is modality and capture.position == position
    assert capture.image_format in formats
    assert sniff_format(capture.image) is capture.image_format
    decoded = decode_image(capture.image)
    assert decoded.shape[:2] == (capture.height, capture.width)
    assert capture.pixels is not None and capture.pixels.shape[:2] == decoded.shape[:2]
    assert 0 <= capture.quality.score <= 100
    assert all(isinstance(r, str) for r in capture.quality.reasons)
    assert capture.device == device.info
    assert capture.captured_at.tzinfo is not None


def test_device_contract(device):
    kind, dev = device
    assert dev.info.kind == kind and dev.info.backend
    assert dev.self_test().ok and not dev.closed

    if kind == "camera":
        _check_capture(dev.capture_face(timeout=5), Modality.FACE, None, {ImageFormat.JPEG}, dev)
    elif kind == "fingerprint":
        _check_capture(dev.capture(Finger.LEFT_INDEX, timeout=5), Modality.FINGER,
                       "left_index", {ImageFormat.JP2, ImageFormat.PNG}, dev)
    elif kind == "iris":
        _check_capture(dev.capture(Eye.RIGHT, timeout=5), Modality.IRIS, "right",
                       {ImageFormat.JP2}, dev)
    elif kind == "signature":
        _check_capture(dev.capture_signature(timeout=5), Modality.SIGNATURE, None,
                       {ImageFormat.PNG}, dev)
    elif kind == "code_reader":
        assert dev.read(timeout=0.0) is None
    elif kind == "receipt_printer":
        dev.print_receipt(Receipt("REKAM", (("NIK", "3275014101050001"),), footer="ok"))
    elif kind == "document_printer":
        assert isinstance(dev.print_pdf(b"%PDF-1.4\n%%EOF\n", title="contract"), str)
        with pytest.raises(ValueError):
            dev.print_pdf(b"plain text")
    elif kind == "indicators":
        for state in ("idle", "busy", "ok", "error", "offline"):
            dev.show(state)
        dev.beep("ok")
        assert dev.wait_for_button(timeout=0.0) is False

    with dev as same:  # a context manager that closes, and close() is idempotent
        assert same is dev
    assert dev.closed
    dev.close()
    assert not dev.self_test().ok


def test_capture_after_close_is_refused(tmp_path):
    for kind, factory in (("camera", FAKES["camera"]["opencv(fake capture)"]),
                          ("code_reader", FAKES["code_reader"]["evdev(fake device)"])):
        with factory(tmp_path) as dev:
            dev.close()
            with pytest.raises(DeviceClosed):
                dev.capture_face() if kind == "camera" else dev.read()


def test_frame_cameras_take_the_birth_year_per_capture():
    camera = OpenCVCamera(FakeVideoCapture(), warmup=0)  # the fake's backdrop: blue (1990)
    assert camera.capture_face().warnings == ()  # no birth year: no advice
    assert camera.capture_face(birth_year=1990).warnings == ()
    assert camera.capture_face(birth_year=1991).warnings == ("background_red_expected",)
    camera.birth_year = 1991  # the older way still works; the argument wins
    assert camera.capture_face().warnings == ("background_red_expected",)
    assert camera.capture_face(birth_year=1990).warnings == ()


def test_sbi_errors_map_to_the_tree():
    with sbi_service() as (port, state):
        scanner = SbiFingerprintScanner(*find_device("Finger", ports=[port]))
        capture = scanner.capture(Finger.RIGHT_THUMB)
        assert capture.quality.measures["device_score"] == 88
        assert state.requests[-1]["bio"][0]["bioSubType"] == ["Right Thumb"]
        assert state.requests[-1]["purpose"] == "Registration"
        state.error_code = "111"
        with pytest.raises(HalError) as err:
            scanner.capture(Finger.RIGHT_THUMB)
        assert err.value.code == "device_busy"
        state.error_code = "110"
        with pytest.raises(HalError) as err:
            scanner.capture(Finger.RIGHT_THUMB)
        assert err.value.code == "device_unplugged"
    with pytest.raises(DeviceNotFound):
        find_device("Finger", ports=[port])  # the service is gone
    with pytest.raises(HalError):
        SbiClient(port).discover("Finger")


def test_escpos_printer_detects_paper_out_and_offline():
    from hal.errors import PaperOut, PrinterOffline

    dummy = StatusDummy()
    printer = EscposReceiptPrinter(dummy, check_status=True)
    receipt = Receipt("TANDA TERIMA", (("Nama", "Budi"),))
    printer.print_receipt(receipt)
    assert b"TANDA TERIMA" in dummy.output
    dummy.paper = 0x72  # RT_MASK_NOPAPER
    with pytest.raises(PaperOut):
        printer.print_receipt(receipt)
    dummy.paper, dummy.online = 0x12, 0x08
    with pytest.raises(PrinterOffline):
        printer.print_receipt(receipt)


def test_evdev_reader_decodes_a_scanned_code():
    fake = FakeInputDevice()
    reader = EvdevCodeReader(fake)
    assert fake.grabbed
    fake.type_code("K7QF-2M9X")
    assert reader.read(timeout=1.0) == "K7QF-2M9X"
    fake.type_code("rekam:3275014101050001")
    assert reader.read(timeout=1.0) == "rekam:3275014101050001"
    reader.close()
    assert not fake.grabbed


def test_cups_printer_reports_the_job_and_refusals(tmp_path):
    printer = CupsDocumentPrinter(lp=fake_lp(tmp_path))
    assert printer.print_pdf(b"%PDF-1.7\nhello", title="undangan") == "kit-printer-42"
    assert (tmp_path / "printed.pdf").read_bytes() == b"%PDF-1.7\nhello"
    bad = tmp_path / "bad"
    bad.mkdir()
    from hal.errors import PrinterOffline

    with pytest.raises(PrinterOffline, match="does not exist"):
        CupsDocumentPrinter(lp=fake_lp(bad, fail=True)).print_pdf(b"%PDF-1.7\n")
