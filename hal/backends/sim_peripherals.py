"""The simulated devices around the captures: the QR code reader, the receipt and A4
printers, and the kit's LEDs, buzzer and button. Printers keep their jobs; the receipt
printer's bytes are real ESC/POS from python-escpos's ``Dummy``; the indicators are real
gpiozero devices on gpiozero's ``MockFactory``. Each has test verbs (a code held under the
reader, paper out, a button press).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from hal.backends.gpio import GpioIndicators
from hal.backends.sim_control import SimulationControl, _info, _Simulated
from hal.errors import PaperOut, PrinterOffline
from hal.ports import CodeReader, DocumentPrinter, ReceiptPrinter
from hal.types import Receipt


class SimulatedCodeReader(_Simulated, CodeReader):
    """A barcode/QR scanner; :meth:`scan` is the test verb (a code held under it)."""

    kind = "code_reader"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "QR code reader"))
        self.control, self.delay = control, delay
        self._codes: deque[str] = deque()
        self._arrived = threading.Condition()

    def scan(self, code: str) -> None:
        with self._arrived:
            self._codes.append(code)
            self._arrived.notify_all()
        self.control.record(self.kind, "scan", code)

    def read(self, *, timeout: float = 0.0) -> str | None:
        self._begin(None)
        with self._arrived:
            if not self._codes and timeout > 0:
                self._arrived.wait_for(lambda: bool(self._codes), timeout)
            code = self._codes.popleft() if self._codes else None
        if code is not None:
            self.control.record(self.kind, "read", code)
        return code


class _SimulatedPrinter(_Simulated):
    """Paper and connection state shared by the two printers (test verbs)."""

    _paper = True
    _online = True

    def paper_out(self) -> None:
        """The paper runs out: every print raises PaperOut until :meth:`load_paper`."""
        self._paper = False
        self.control.record(self.kind, "paper_out")

    def load_paper(self) -> None:
        self._paper = True
        self.control.record(self.kind, "load_paper")

    def go_offline(self) -> None:
        """The printer drops off (cover open, power): PrinterOffline until :meth:`go_online`."""
        self._online = False
        self.control.record(self.kind, "offline")

    def go_online(self) -> None:
        self._online = True
        self.control.record(self.kind, "online")

    def _check_ready(self) -> None:
        self._begin(None)
        if not self._online:
            self.control.record(self.kind, "error", "offline")
            raise PrinterOffline(f"the {self.kind.replace('_', ' ')} is offline", device=self.kind)
        if not self._paper:
            self.control.record(self.kind, "error", "paper_out")
            raise PaperOut(f"the {self.kind.replace('_', ' ')} is out of paper", device=self.kind)


class SimulatedReceiptPrinter(_SimulatedPrinter, ReceiptPrinter):
    """Keeps every receipt in :attr:`jobs` and the ESC/POS bytes sent in :attr:`output`."""

    kind = "receipt_printer"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "58 mm ESC/POS receipt printer"))
        self.control, self.delay = control, delay
        self.jobs: list[Receipt] = []
        self._dummy: Any = None

    def paper(self) -> str:
        return "ok" if self._paper else "out"

    def print_receipt(self, receipt: Receipt) -> None:
        self._check_ready()
        if self._dummy is None:
            # python-escpos takes ~0.3 s to import (its printer profiles): only when used
            from escpos.printer import Dummy

            self._dummy = Dummy()
        from hal.backends.escpos_receipt import render_receipt

        render_receipt(self._dummy, receipt)
        self.jobs.append(receipt)
        self.control.record(self.kind, "print", receipt.title)

    @property
    def output(self) -> bytes:
        return bytes(self._dummy.output) if self._dummy is not None else b""

    def last_receipt_text(self) -> str:
        """The last receipt as the paper shows it, in plain text ("" before the first)."""
        from hal.backends.escpos_receipt import receipt_text

        return receipt_text(self.jobs[-1]) if self.jobs else ""

    def text(self) -> str:
        """The printable text of :attr:`output` (commands stripped roughly), for tests."""
        return "".join(ch if ch.isprintable() or ch == "\n" else " "
                       for ch in self.output.decode("latin-1"))


@dataclass(frozen=True, slots=True)
class PrintJob:
    job_id: str
    title: str
    pdf: bytes


class SimulatedDocumentPrinter(_SimulatedPrinter, DocumentPrinter):
    """An A4 printer that keeps its jobs in :attr:`jobs`."""

    kind = "document_printer"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "A4 printer"))
        self.control, self.delay = control, delay
        self.jobs: list[PrintJob] = []

    def print_pdf(self, pdf: bytes, *, title: str = "rekam") -> str:
        if not pdf.startswith(b"%PDF-"):
            raise ValueError("not a PDF document")
        self._check_ready()
        job = PrintJob(f"sim-{len(self.jobs) + 1}", title, bytes(pdf))
        self.jobs.append(job)
        self.control.record(self.kind, "print", f"{job.job_id} {title}")
        return job.job_id


class SimulatedIndicators(GpioIndicators):
    """The kit's LEDs, buzzer and button as real gpiozero devices on ``MockFactory`` pins.
    :attr:`factory` exposes the pins (``factory.pin(17).states``); :meth:`press_button` is
    the test verb."""

    kind = "indicators"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        from gpiozero.pins.mock import MockFactory

        self.control, self.delay = control, delay
        self.factory = MockFactory()
        super().__init__(pin_factory=self.factory, background=False, backend="sim",
                         beep_seconds=0.0)
        self.info = _info(control, self.kind, "LEDs, buzzer and button (gpiozero MockFactory)")

    def show(self, state: str) -> None:
        super().show(state)
        self.control.record(self.kind, "show", state)

    def beep(self, pattern: str = "ok") -> None:
        super().beep(pattern)
        self.control.record(self.kind, "beep", pattern)

    def press_button(self) -> None:
        """Press and hold the capture button until a :meth:`wait_for_button` sees it."""
        self.factory.pin(self.pins.button).drive_low()
        self.control.record(self.kind, "press_button")

    def wait_for_button(self, *, timeout: float | None = None) -> bool:
        pressed = super().wait_for_button(timeout=timeout)
        if pressed:
            self.factory.pin(self.pins.button).drive_high()  # released
        return pressed

    def _close(self) -> None:
        super()._close()
        self.factory.close()
