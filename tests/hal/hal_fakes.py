"""Stand-ins for vendor objects, injected into the real adapters so the contract suite can
run them here: a V4L2 capture, a Picamera2, an SBI service on a free localhost port that
signs its captures with a test PKI, a CUPS ``lp``, an ESC/POS printer that answers status
queries, an evdev keyboard-like scanner and pen tablet, and libfprint's FPrint namespace."""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import json
import os
import stat
import threading
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
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


class SbiKeys:
    """A test PKI like MOSIP's: a root CA, a device provider's CA under it, and the device's
    own key and certificate under that (RSA, RS256, as SBI devices sign). Generated once
    per test session; tests make their own keys."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _cert("Test MOSIP Root", self.root_key, None, self.root_key, now, ca=True)
        self.provider_key = ec.generate_private_key(ec.SECP256R1())
        self.provider = _cert("Test Device Provider CA", self.provider_key, self.root,
                              self.root_key, now, ca=True)
        self.device_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.device = _cert("fake-sbi-device", self.device_key, self.provider,
                            self.provider_key, now, ca=False)
        self.stranger_key = ec.generate_private_key(ec.SECP256R1())
        self.stranger = _cert("Some Other CA", self.stranger_key, None, self.stranger_key, now,
                              ca=True)

    def pem(self, *certs: x509.Certificate) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _cert(name: str, key: Any, issuer: x509.Certificate | None, issuer_key: Any,
          now: datetime, *, ca: bool) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                   crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ski, critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_key.public_key()), critical=False))
    return builder.sign(issuer_key, hashes.SHA256())


@functools.cache
def sbi_keys() -> SbiKeys:
    return SbiKeys()


def sign_jws(payload: dict[str, Any], *, mode: str = "good",
             keys: SbiKeys | None = None) -> str:
    """A JWS as an SBI device makes it: RS256 with the device key, ``x5c`` = [device cert,
    provider CA]. ``mode`` spoils it: "tampered" (payload changed after signing),
    "stranger" (signed by another key than the certificate's), "no_x5c", "alg_none"."""
    keys = keys or sbi_keys()
    der = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
           for c in (keys.device, keys.provider)]
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "x5c": der}
    if mode == "no_x5c":
        del header["x5c"]
    if mode == "alg_none":
        header["alg"] = "none"
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024) \
        if mode == "stranger" else keys.device_key
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    if mode == "tampered":
        payload = {**payload, "qualityScore": 99}
        head = signing_input.split(".")[0]
        signing_input = f"{head}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(b'' if mode == 'alg_none' else signature)}"


class SbiState:
    def __init__(self) -> None:
        self.status = "Ready"
        self.error_code = "0"
        self.sign_mode = "good"  # see sign_jws
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
            jwt = sign_jws(payload, mode=state.sign_mode)
            info = "Success" if state.error_code == "0" else "Device is busy"
            self._reply({"biometrics": [{"specVersion": "0.9.5", "data": jwt, "hash": "",
                                         "error": {"errorCode": state.error_code,
                                                   "errorInfo": info}}]})

    return Handler


@contextlib.contextmanager
def sbi_service() -> Iterator[tuple[int, SbiState]]:
    """An SBI service on a free localhost port, for as long as the context lasts."""
    state = SbiState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1], state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- a fake libfprint (the FPrint, Gio and GLib namespaces PyGObject gives) --------------

class FakeGLibError(Exception):
    """PyGObject's GLib.Error: a message, a domain name and a code."""

    def __init__(self, message: str, domain: str, code: int) -> None:
        super().__init__(message)
        self.message, self.domain, self.code = message, domain, int(code)


class FakeCancellable:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class FakeFPrintImage:
    def __init__(self, gray: Any, ppmm: float) -> None:
        self._gray, self._ppmm = gray, ppmm

    def get_width(self) -> int:
        return int(self._gray.shape[1])

    def get_height(self) -> int:
        return int(self._gray.shape[0])

    def get_ppmm(self) -> float:
        return self._ppmm

    def get_data(self) -> bytes:
        return self._gray.tobytes()


class FakeFPrintDevice:
    """An image reader as libfprint presents it. Test verbs: ``fail_next(domain, code)``
    (the next call raises that GLib error), ``fail_always(domain, code)``, ``no_finger()``
    (captures wait until cancelled); ``calls`` records what the adapter did."""

    def __init__(self, fprint: Any, *, name: str = "Fake U.are.U 4500", ppi: float = 500.0,
                 scan_type: int = 1, capture: bool = True,
                 window: tuple[int, int] | None = None) -> None:
        self._fp = fprint
        self.name, self.ppmm, self.scan_type = name, ppi / 25.4, scan_type
        self.can_capture = capture
        self.window = window  # (height, width) at 500 ppi the sensor sees, centred
        self.opened = False
        self.finger = True
        self.failures: deque[tuple[str, int]] = deque()
        self.failing: tuple[str, int] | None = None
        self.calls: list[str] = []
        self.shots = 0

    # verbs
    def fail_next(self, domain: str, code: int, times: int = 1) -> None:
        self.failures.extend([(domain, int(code))] * times)

    def fail_always(self, domain: str, code: int) -> None:
        self.failing = (domain, int(code))

    def no_finger(self) -> None:
        self.finger = False

    def _maybe_fail(self) -> None:
        if self.failures or self.failing:
            domain, code = self.failures.popleft() if self.failures else self.failing
            raise FakeGLibError(f"fake {domain} {code}", domain, code)

    # the FPrint.Device API
    def get_name(self) -> str:
        return self.name

    def get_driver(self) -> str:
        return "uru4000"

    def get_device_id(self) -> str:
        return "fake-0001"

    def get_scan_type(self) -> int:
        return self.scan_type

    def has_feature(self, feature: int) -> bool:
        return self.can_capture if feature == self._fp.DeviceFeature.CAPTURE else False

    def supports_capture(self) -> bool:
        return self.can_capture

    def is_open(self) -> bool:
        return self.opened

    def open_sync(self, cancellable: Any) -> bool:
        self.calls.append("open")
        self._maybe_fail()
        if self.opened:
            raise FakeGLibError("already open", "fp-device-error-quark",
                                self._fp.DeviceError.ALREADY_OPEN)
        self.opened = True
        return True

    def close_sync(self, cancellable: Any) -> bool:
        self.calls.append("close")
        self._maybe_fail()
        self.opened = False
        return True

    def capture_sync(self, wait_for_finger: bool, cancellable: Any) -> FakeFPrintImage:
        self.calls.append("capture")
        if not self.opened:
            raise FakeGLibError("not open", "fp-device-error-quark",
                                self._fp.DeviceError.NOT_OPEN)
        self._maybe_fail()
        if not self.finger:
            cancellable.wait(10.0)
            raise FakeGLibError("Operation was cancelled", "g-io-error-quark",
                                FakeGio.IOErrorEnum.CANCELLED)
        self.shots += 1
        gray = SUBJECT.finger(Finger.LEFT_INDEX, rng_for(7, "libfprint", self.shots), None)
        if self.window is not None:
            (h, w), (fh, fw) = gray.shape, self.window
            gray = gray[(h - fh) // 2:(h + fh) // 2, (w - fw) // 2:(w + fw) // 2]
        factor = self.ppmm * 25.4 / 500.0 if self.ppmm > 0 else 1.0  # 0: "unknown"
        if abs(factor - 1) > 1e-6:
            gray = cv2.resize(gray, (round(gray.shape[1] * factor),
                                     round(gray.shape[0] * factor)))
        return FakeFPrintImage(gray, self.ppmm)


class _DeviceError:
    GENERAL, NOT_SUPPORTED, NOT_OPEN, ALREADY_OPEN, BUSY, PROTO = 0, 1, 2, 3, 4, 5
    REMOVED = 0x100


class _DeviceRetry:
    GENERAL, TOO_SHORT, CENTER_FINGER, REMOVE_FINGER = 0, 1, 2, 3


FakeGio = SimpleNamespace(
    Cancellable=FakeCancellable,
    IOErrorEnum=SimpleNamespace(FAILED=0, NOT_FOUND=1, PERMISSION_DENIED=14, CANCELLED=19,
                                TIMED_OUT=24, BUSY=26))
FakeGLib = SimpleNamespace(Error=FakeGLibError)


class FakeFPrint:
    """The FPrint namespace: ``Context().get_devices()`` lists ``devices``."""

    DeviceError = _DeviceError
    DeviceRetry = _DeviceRetry
    ScanType = SimpleNamespace(SWIPE=0, PRESS=1)
    DeviceFeature = SimpleNamespace(NONE=0, CAPTURE=1 << 0, IDENTIFY=1 << 1)

    def __init__(self, devices: int = 1, **kwargs: Any) -> None:
        self.devices = [FakeFPrintDevice(self, **kwargs) for _ in range(devices)]
        outer = self

        class Context:
            def get_devices(self) -> list[FakeFPrintDevice]:
                return list(outer.devices)

        self.Context = Context


def fake_libfprint(**kwargs: Any) -> tuple[Any, FakeFPrint]:
    """An :class:`hal.backends.libfprint.FprintApi` over fakes, and its FPrint namespace."""
    from hal.backends.libfprint import FprintApi

    fprint = FakeFPrint(**kwargs)
    return FprintApi(fprint, FakeGio, FakeGLib), fprint


# --- a fake evdev pen tablet / signature pad ---------------------------------------------

UNPLUG = object()  # in a pen script: the device goes away here


def pen_signature(words: int = 3, *, x_max: int = 15200, y_max: int = 9500,
                  points: int = 40) -> list[list[tuple[int, int]]]:
    """A made-up signature in pad units: ``words`` wavy strokes across 10-90 % of the pad."""
    strokes = []
    gap = 0.8 * x_max / words
    for i in range(words):
        t = np.linspace(0.0, 1.0, points)
        xs = 0.1 * x_max + i * gap + 0.85 * gap * t
        ys = y_max * (0.5 + 0.15 * np.sin(2 * np.pi * (2 + i) * t) + 0.05 * np.cos(9 * t))
        strokes.append([(int(a), int(b)) for a, b in zip(xs, ys, strict=True)])
    return strokes


class FakePenDevice:
    """An ``evdev.InputDevice`` for a pen tablet (by default a Wacom One S pen's ranges: a
    1.6:1 area), fed through a non-blocking pipe so select() works. ``sign()`` stages what
    the resident does; it starts once the adapter has read the pad empty (so a capture's
    drain of stale events does not eat it). ``scribble_now()`` puts events in the buffer at
    once."""

    name = "Wacom One by Wacom S Pen"
    path = "/dev/input/event-pen"
    uniq = "8CH00A1234"
    info = SimpleNamespace(bustype=3, vendor=0x056A, product=0x037A, version=0x0110)

    def __init__(self, *, x_max: int = 15200, y_max: int = 9500, pressure: bool = True,
                 touch: bool = True) -> None:
        self.ranges = {0: (0, x_max), 1: (0, y_max)}
        keys = [320, 331] + ([330] if touch else [])
        axes = [0, 1]
        if pressure:
            self.ranges[24] = (0, 1023)
            axes.append(24)
        self.caps = {1: keys, 3: axes}
        self.x_max, self.y_max = x_max, y_max
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.fd = self._r
        self.buffer: deque[Any] = deque()
        self.staged: list[Any] = []
        self.grabbed = False
        self.unplugged = False
        self.grab_error: OSError | None = None

    # --- test verbs
    def sign(self, strokes: list[list[tuple[int, int]]] | None = None, *,
             confirm: bool = True, unplug_after: int | None = None) -> None:
        """Stage a signature; ``confirm`` ends it with a press of the pen's button; the
        device is unplugged after ``unplug_after`` points when given."""
        events = self.events_for(strokes or pen_signature(x_max=self.x_max, y_max=self.y_max))
        if unplug_after is not None:
            cut = [i for i, e in enumerate(events) if e.type == 0][unplug_after]
            events = [*events[:cut + 1], UNPLUG]
        elif confirm:
            events += [self._ev(1, 331, 1), self._ev(0, 0, 0), self._ev(1, 331, 0),
                       self._ev(0, 0, 0)]
        self.staged.extend(events)

    def scribble_now(self, strokes: list[list[tuple[int, int]]]) -> None:
        self.buffer.extend(self.events_for(strokes))
        os.write(self._w, b"x")

    def events_for(self, strokes: list[list[tuple[int, int]]]) -> list[Any]:
        ev = self._ev
        out = [ev(1, 320, 1), ev(0, 0, 0)]
        for stroke in strokes:
            for i, (x, y) in enumerate(stroke):
                out += [ev(3, 0, x), ev(3, 1, y), ev(3, 24, 600)]
                if i == 0:
                    out.append(ev(1, 330, 1))
                out.append(ev(0, 0, 0))
            out += [ev(3, 24, 0), ev(1, 330, 0), ev(0, 0, 0)]
        return out

    @staticmethod
    def _ev(etype: int, code: int, value: int) -> Any:
        return SimpleNamespace(type=etype, code=code, value=value)

    # --- the evdev.InputDevice API
    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict[int, list[int]]:
        return {k: list(v) for k, v in self.caps.items()}

    def absinfo(self, code: int) -> Any:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        low, high = self.ranges[code]
        return SimpleNamespace(value=0, min=low, max=high, fuzz=0, flat=0, resolution=40)

    def read_one(self) -> Any:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if self.buffer:
            event = self.buffer.popleft()
            if event is UNPLUG:
                self.unplugged = True
                raise OSError(errno.ENODEV, "No such device")
            return event
        with contextlib.suppress(BlockingIOError):
            os.read(self._r, 1024)  # drain the wake-up bytes
        if self.staged:  # the resident starts now
            self.buffer.extend(self.staged)
            self.staged.clear()
            os.write(self._w, b"x")
        return None

    def grab(self) -> None:
        if self.grab_error is not None:
            raise self.grab_error
        self.grabbed = True

    def ungrab(self) -> None:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        self.grabbed = False

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class FakeCapsDevice:
    """Any other input device: only a name and capabilities."""

    def __init__(self, name: str, caps: dict[int, list[int]]) -> None:
        self.name, self.caps, self.closed = name, caps, False

    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict[int, list[int]]:
        return self.caps

    def close(self) -> None:
        self.closed = True


def fake_evdev_module(devices: dict[str, Any]) -> Any:
    """An ``evdev`` module over ``devices`` (path -> device, or an OSError to raise)."""
    def input_device(path: str) -> Any:
        device = devices[path]
        if isinstance(device, OSError):
            raise device
        return device

    return SimpleNamespace(list_devices=lambda: list(devices), InputDevice=input_device)
