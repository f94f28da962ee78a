"""Receipt printers that speak ESC/POS, through python-escpos.

:func:`render_receipt` lays a :class:`~hal.types.Receipt` out on any python-escpos printer
object; the simulated printer uses it with ``escpos.printer.Dummy``, so its bytes are the
real commands. :class:`EscposReceiptPrinter` drives a real printer and checks, before each
receipt, that it is online and has paper (where the connection can read status back).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from hal.errors import BackendUnavailable, DeviceNotFound, PaperOut, PrinterOffline
from hal.ports import ReceiptPrinter
from hal.types import DeviceInfo, Receipt

COLUMNS = 32  # font A on 58 mm paper; 80 mm printers take 48


def receipt_lines(receipt: Receipt, columns: int = COLUMNS) -> list[str]:
    """The label/value lines as printed: on one line when they fit, else two."""
    width = max((len(label) for label, _ in receipt.lines), default=0) + 1
    out = []
    for label, value in receipt.lines:
        if width + len(value) <= columns:
            out.append(f"{label:<{width}}{value}")
        else:
            out.append(label)
            out.append(f"  {value}")
    return out


def receipt_text(receipt: Receipt, columns: int = COLUMNS) -> str:
    """The receipt as plain text, laid out as :func:`render_receipt` prints it (the QR code
    shown as its payload): what a demo or a log shows of a simulated printer's paper."""
    lines = [receipt.title.center(columns).rstrip(), "-" * columns,
             *receipt_lines(receipt, columns), "-" * columns]
    if receipt.qr_payload:
        lines.append(f"[QR: {receipt.qr_payload}]".center(columns).rstrip())
    if receipt.footer:  # the printer wraps a long line at the paper's edge
        lines += [part.center(columns).rstrip() for part in textwrap.wrap(receipt.footer,
                                                                           columns)]
    return "\n".join(lines)


def render_receipt(printer: Any, receipt: Receipt, *, columns: int = COLUMNS) -> None:
    """Send one receipt to a python-escpos printer object."""
    printer.set(align="center", bold=True, double_height=True)
    printer.textln(receipt.title)
    printer.set(align="left", normal_textsize=True)
    printer.textln("-" * columns)
    for line in receipt_lines(receipt, columns):
        printer.textln(line)
    printer.textln("-" * columns)
    if receipt.qr_payload:
        # native: the printer draws the QR code itself (no image rendering here); alignment
        # centres it, as escpos's own center= is not implemented for native codes
        printer.set(align="center")
        printer.qr(receipt.qr_payload, size=5, native=True)
    if receipt.footer:
        printer.set(align="center")
        printer.textln(receipt.footer)
    printer.cut()


class EscposReceiptPrinter(ReceiptPrinter):
    """A real ESC/POS printer. Pass a python-escpos printer object (tests pass a Dummy that
    answers status queries), or use :meth:`open` with a target."""

    def __init__(self, printer: Any, *, target: str = "", check_status: bool | None = None,
                 columns: int = COLUMNS) -> None:
        super().__init__(DeviceInfo("receipt_printer", type(printer).__name__, target or "-",
                                    "", "escpos"))
        self._printer = printer
        self._columns = columns
        # Only connections that can read can ask for status; a device file cannot.
        self._check = check_status if check_status is not None else type(printer).__name__ in (
            "Usb", "Serial", "Network")

    @classmethod
    def open(cls, target: str | None = None) -> EscposReceiptPrinter:
        """``usb:VID:PID`` (hex), ``serial:/dev/ttyUSB0``, ``network:HOST[:PORT]``,
        ``file:/dev/usb/lp0``; without a target, the first ``/dev/usb/lp*``."""
        try:
            from escpos import printer as ep
        except ImportError as exc:  # pragma: no cover - a dependency of the kit
            raise BackendUnavailable("python-escpos is not installed",
                                     device="receipt_printer") from exc
        if not target:
            found = sorted(Path("/dev/usb").glob("lp*")) if Path("/dev/usb").is_dir() else []
            if not found:
                raise DeviceNotFound("no USB printer (/dev/usb/lp*)", device="receipt_printer")
            target = f"file:{found[0]}"
        kind, _, rest = target.partition(":")
        try:
            if kind == "usb":
                vid, _, pid = rest.partition(":")
                dev: Any = ep.Usb(int(vid, 16), int(pid, 16))
            elif kind == "serial":
                dev = ep.Serial(rest)
            elif kind == "network":
                host, _, port = rest.partition(":")
                dev = ep.Network(host, int(port or 9100), timeout=5)
            elif kind == "file":
                if not os.access(rest, os.W_OK):
                    raise DeviceNotFound(f"cannot write to {rest}", device="receipt_printer")
                dev = ep.File(rest)
            else:
                raise ValueError(f"unknown receipt printer target {target!r}")
        except (DeviceNotFound, ValueError):
            raise
        except Exception as exc:  # escpos raises its own tree and OSErrors
            raise DeviceNotFound(f"receipt printer {target}: {exc}",
                                 device="receipt_printer") from exc
        return cls(dev, target=target)

    def paper(self) -> str:
        if not self._check:
            return "unknown"
        try:  # ESC/POS: 2 paper adequate, 1 near its end, 0 out
            return {2: "ok", 1: "low", 0: "out"}.get(self._printer.paper_status(), "unknown")
        except Exception:  # a printer that does not answer status requests
            return "unknown"

    def print_receipt(self, receipt: Receipt) -> None:
        try:
            if self._check:
                if not self._printer.is_online():
                    raise PrinterOffline("the receipt printer is offline",
                                         device="receipt_printer")
                if self._printer.paper_status() == 0:
                    raise PaperOut("the receipt printer is out of paper",
                                   device="receipt_printer")
            render_receipt(self._printer, receipt, columns=self._columns)
        except (PrinterOffline, PaperOut):
            raise
        except Exception as exc:
            raise PrinterOffline(f"the receipt printer failed: {exc}",
                                 device="receipt_printer") from exc

    def _close(self) -> None:
        self._printer.close()
