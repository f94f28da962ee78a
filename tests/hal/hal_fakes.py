"""Stand-ins for vendor objects, injected into the real adapters so the contract suite can
run them here: a V4L2 capture, a Picamera2, an SBI service on a free localhost port, a CUPS
``lp``, an ESC/POS printer that answers status queries, and an evdev input device."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from escpos.printer import Dummy

from hal.backends.sbi import BIO_SUBTYPE
from hal.backends.sim_images import SubjectImages
from hal.encode import encode_fingerprint, encode_iris
from hal.synth import rng_for
from hal.types import Eye, Finger

SUBJECT = SubjectImages(seed=99, subject="fake-vendor-subject")


class FakeVideoCapture:
    """cv2.VideoCapture returning the simulated subject's face."""

    def __init__(self, frames: int = 100) -> None:
        self.frames, self.opened, self.reads = frames, True, 0

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, Any]:
        self.reads += 1
        if self.reads > self.frames:
            return False, None
        return True, SUBJECT.face(1990, None).copy()

    def release(self) -> None:
        self.opened = False


class FakePicamera2:
    def __init__(self) -> None:
        self.started = self.closed = False

    def capture_array(self, stream: str = "main") -> Any:
        return SUBJECT.face(1991, None).copy()

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


class StatusDummy(Dummy):
    """An ESC/POS Dummy that answers real-time status queries (DLE EOT n)."""

    def __init__(self) -> None:
        super().__init__()
        self.paper = 0x12  # RT_MASK_PAPER: paper adequate
        self.online = 0x00  # bit 3 clear: online
        self._last = b""

    def _raw(self, msg: bytes) -> None:
        self._last = msg
        super()._raw(msg)

    def _read(self) -> bytes:
        if self._last == b"\x10\x04\x04":
            return bytes([self.paper])
        if self._last == b"\x10\x04\x01":
            return bytes([self.online])
        return b""


def fake_lp(tmp: Path, *, fail: bool = False) -> str:
    """An ``lp`` that keeps the PDF it is given and answers like CUPS."""
    script = tmp / "lp"
    out = tmp / "printed.pdf"
    body = ('echo "lp: Error - The printer or class does not exist." >&2; exit 1'
            if fail else f'cat > "{out}"; echo "request id is kit-printer-42 (1 file(s))"')
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


class FakeInputDevice:
    """An evdev.InputDevice fed through a pipe (so select() works)."""

    name = "Newland Barcode Scanner"
    path = "/dev/input/event-fake"

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.events: deque[Any] = deque()
        self.grabbed = False

    def type_code(self, text: str) -> None:
        from hal.backends.evdev_reader import KEY_ENTER, KEYMAP

        reverse = {v[0]: k for k, v in KEYMAP.items()}
        reverse.update({v[1]: k for k, v in KEYMAP.items() if v[1] != v[0]})
        for ch in text:
            code = reverse[ch]
            shifted = KEYMAP[code][0] != ch
            if shifted:
                self._key(42, 1)
            self._key(code, 1)
            self._key(code, 0)
            if shifted:
                self._key(42, 0)
        self._key(KEY_ENTER, 1)
        self._key(KEY_ENTER, 0)
        os.write(self._w, b"x")

    def _key(self, code: int, value: int) -> None:
        self.events.append(SimpleNamespace(type=1, code=code, value=value))

    def read_one(self) -> Any:
        if not self.events:
            os.read(self._r, 1024)  # drain the wake-up bytes
            return None
        return self.events.popleft()

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


# --- a fake SBI service ----------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def iso_record(image: bytes, magic: bytes = b"FIR\x00") -> bytes:
    """A stand-in for an ISO/IEC 19794 record: a header, then the image."""
    return magic + b"020\x00" + len(image).to_bytes(4, "big") + b"\x00" * 20 + image


class SbiState:
    def __init__(self) -> None:
        self.status = "Ready"
        self.error_code = "0"
        self.requests: list[dict[str, Any]] = []


def _handler(state: SbiState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _reply(self, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_MOSIPDISC(self) -> None:
            kind = self._body().get("type")
            devices = {"Finger": "2", "Iris": "1"}
            self._reply([{"deviceId": devices[kind], "deviceStatus": state.status,
                          "deviceSubId": [1], "serviceVersion": "0.9.5",
                          "deviceCode": f"fake-{kind.lower()}", "purpose": "Registration",
                          "specVersion": ["0.9.5"],
                          "error": {"errorCode": "0", "errorInfo": "Success"}}]
                        if kind in devices else [])

        def do_RCAPTURE(self) -> None:
            body = self._body()
            state.requests.append(body)
            bio = body["bio"][0]
            subtype = bio["bioSubType"][0]
            rng = rng_for(99, subtype, len(state.requests))
            position = {v: k for k, v in BIO_SUBTYPE.items() if type(k).__name__ ==
                        ("Finger" if bio["type"] == "Finger" else "Eye")}[subtype]
            if isinstance(position, Finger):
                image = encode_fingerprint(SUBJECT.finger(position, rng, None))
            else:
                image = encode_iris(SUBJECT.eye(Eye(position), rng, None))
            payload = {"bioType": bio["type"], "bioSubType": subtype, "qualityScore": 88,
                       "bioValue": _b64(iso_record(image)), "purpose": "Registration"}
            jwt = ".".join([_b64(b'{"alg":"RS256"}'), _b64(json.dumps(payload).encode()),
                            _b64(b"signature")])
            info = "Success" if state.error_code == "0" else "Device is busy"
            self._reply({"biometrics": [{"specVersion": "0.9.5", "data": jwt, "hash": "",
                                         "error": {"errorCode": state.error_code,
                                                   "errorInfo": info}}]})

    return Handler


@contextmanager
def sbi_service() -> Iterator[tuple[int, SbiState]]:
    """An SBI service on a free localhost port, for as long as the context lasts."""
    state = SbiState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
