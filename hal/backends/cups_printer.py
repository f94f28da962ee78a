"""A4 documents (invitation letters, reports) through CUPS, by piping the PDF to ``lp``.

The ``lp`` command is the whole interface: no Python binding to install, and tests point
``lp`` at a small script that behaves like it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from hal.errors import BackendUnavailable, DeviceClosed, DeviceNotFound, PrinterOffline
from hal.ports import DocumentPrinter
from hal.types import DeviceInfo

_REQUEST_ID = re.compile(r"request id is (\S+)")


class CupsDocumentPrinter(DocumentPrinter):
    def __init__(self, *, printer: str | None = None, lp: str = "lp",
                 timeout: float = 30.0) -> None:
        super().__init__(DeviceInfo("document_printer", printer or "CUPS default printer",
                                    printer or "default", "", "cups"))
        self.printer, self.lp, self.timeout = printer, lp, timeout

    @classmethod
    def open(cls, printer: str | None = None) -> CupsDocumentPrinter:
        lp, lpstat = shutil.which("lp"), shutil.which("lpstat")
        if lp is None or lpstat is None:
            raise BackendUnavailable("CUPS client (lp, lpstat) is not installed",
                                     device="document_printer")
        try:
            default = subprocess.run([lpstat, "-d"], capture_output=True, text=True,
                                     timeout=5)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeviceNotFound(f"CUPS is not answering: {exc}",
                                 device="document_printer") from exc
        if printer is None and "system default destination:" not in default.stdout:
            raise DeviceNotFound("CUPS has no default printer", device="document_printer")
        return cls(printer=printer, lp=lp)

    def print_pdf(self, pdf: bytes, *, title: str = "rekam") -> str:
        if self.closed:
            raise DeviceClosed("the document printer is closed", device="document_printer")
        if not pdf.startswith(b"%PDF-"):
            raise ValueError("not a PDF document")
        args = [self.lp, "-t", title]
        if self.printer:
            args += ["-d", self.printer]
        try:
            done = subprocess.run([*args, "--", "-"], input=pdf, capture_output=True,
                                  timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrinterOffline(f"lp failed: {exc}", device="document_printer") from exc
        out = done.stdout.decode(errors="replace")
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip() or out.strip()
            raise PrinterOffline(f"lp refused the job: {err}", device="document_printer")
        match = _REQUEST_ID.search(out)
        if match is None:
            raise PrinterOffline(f"lp gave no job id: {out.strip()!r}",
                                 device="document_printer")
        return match.group(1)
