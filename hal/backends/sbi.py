"""Fingerprint and iris scanners behind MOSIP's Secure Biometric Interface (SBI 0.9.5/1.0).

An SBI service runs on the kit and answers HTTP on ``127.0.0.1`` at a port in 4501-4600,
with its own methods: ``MOSIPDISC`` (discover devices of a type), ``MOSIPDINFO`` (device
info) and ``RCAPTURE`` (registration capture). A capture's ``data`` is a signed JWT whose
payload carries ``bioValue``: base64url of an ISO/IEC 19794-4 (finger) or -6 (iris)
record, which wraps the image (JPEG 2000 for registration). The kit keeps the device's own
image bytes and scores them with :mod:`hal.quality` (the device's score is kept in the
measures as ``device_score``).

Every capture's JWT is verified before its image is used (:func:`verify_jws`): the
signature must verify against the device certificate the JWS header carries (``x5c``), or
the capture is refused with :class:`CaptureUntrusted`. Trust in that certificate is
configurable (:class:`SbiTrust`): with a bundle of the device providers' CA certificates
(``REKAM_SBI_CA`` names the file for :meth:`SbiFingerprintScanner.open`), the ``x5c``
chain must lead to one of them; without one the signature is still checked, and the
capture carries the warning ``trust_self`` (so the packet manifest says the device was
only self-attested) and the measure ``trust_ca`` = 0.

Not done here: the ``STREAM`` preview call some devices want before ``RCAPTURE`` (a
long-lived multipart response that needs its own reader thread), and the ``previousHash``
/ ``hash`` chain across captures. Slap scanners (4-4-2) are driven one finger at a time.
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from hal.encode import decode_gray, sniff_format
from hal.errors import (
    CaptureTimeout,
    DeviceBusy,
    DeviceClosed,
    DeviceNotFound,
    DeviceUnplugged,
    HalError,
)
from hal.ports import FingerprintScanner, IrisScanner
from hal.quality import fingerprint_quality, iris_quality
from hal.sbi_evidence import (  # re-exported: the kit's SBI backend and HQ share them
    TRUST_ENV,
    SbiTrust,
    b64url_decode,
    image_from_record,
    verify_jws,
)
from hal.types import Capture, DeviceInfo, Eye, Finger, Modality, Quality

__all__ = ["TRUST_ENV", "SbiFingerprintScanner", "SbiIrisScanner", "SbiTrust",
           "image_from_record", "verify_jws"]

PORTS = range(4501, 4601)
HOST = "127.0.0.1"
SPEC_VERSION = "0.9.5"

BIO_SUBTYPE = {
    Finger.RIGHT_THUMB: "Right Thumb", Finger.RIGHT_INDEX: "Right IndexFinger",
    Finger.RIGHT_MIDDLE: "Right MiddleFinger", Finger.RIGHT_RING: "Right RingFinger",
    Finger.RIGHT_LITTLE: "Right LittleFinger", Finger.LEFT_THUMB: "Left Thumb",
    Finger.LEFT_INDEX: "Left IndexFinger", Finger.LEFT_MIDDLE: "Left MiddleFinger",
    Finger.LEFT_RING: "Left RingFinger", Finger.LEFT_LITTLE: "Left LittleFinger",
    Eye.RIGHT: "Right", Eye.LEFT: "Left",
}
BUSY_CODES = {"111", "703"}
NOT_READY_CODES = {"100", "106", "110"}


class SbiClient:
    """The HTTP side of one SBI service (one port)."""

    def __init__(self, port: int, *, host: str = HOST, timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def call(self, method: str, body: Any = None, *, timeout: float | None = None) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            conn.request(method, "/", body=payload,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except TimeoutError as exc:
            raise CaptureTimeout(f"SBI {method} timed out", device="sbi") from exc
        except OSError as exc:
            raise DeviceUnplugged(f"SBI service on port {self.port}: {exc}",
                                  device="sbi") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise HalError(f"SBI {method} answered HTTP {response.status}", device="sbi")
        return json.loads(data)

    def discover(self, device_type: str) -> list[dict[str, Any]]:
        answer = self.call("MOSIPDISC", {"type": device_type})
        return [d for d in answer if isinstance(d, dict)] if isinstance(answer, list) else []


def find_device(device_type: str, *, ports: Iterable[int] = PORTS, host: str = HOST,
                connect_timeout: float = 0.05) -> tuple[SbiClient, dict[str, Any]]:
    """The first port whose SBI service lists a ready device of ``device_type``."""
    for port in ports:
        try:  # a refused connection costs microseconds; only open ports get an HTTP call
            with socket.create_connection((host, port), timeout=connect_timeout):
                pass
        except OSError:
            continue
        client = SbiClient(port, host=host, timeout=1.0)  # some other service may listen
        try:
            devices = client.discover(device_type)
        except (HalError, ValueError):
            continue
        for device in devices:
            if str(device.get("deviceStatus", "")).lower() not in ("not registered",):
                return SbiClient(port, host=host), device
    raise DeviceNotFound(f"no SBI {device_type} device on {host}", device="sbi")


class _SbiDevice:
    """Shared capture logic: one RCAPTURE for one finger or eye."""

    bio_type = ""
    kind = ""
    requested_score = 40

    def _setup(self, client: SbiClient, device: dict[str, Any],
               trust: SbiTrust | None) -> DeviceInfo:
        self.client, self.device = client, device
        self.trust = trust or SbiTrust()
        sub = device.get("deviceSubId") or [0]
        self.device_sub_id = sub[0] if isinstance(sub, list) else sub
        return DeviceInfo(self.kind, str(device.get("deviceCode", "SBI device")),
                          str(device.get("deviceId", "")), str(device.get("serviceVersion", "")),
                          "sbi")

    def _rcapture(self, subtype: str, timeout: float) -> tuple[bytes, dict[str, Any], str]:
        body = {
            "env": "Production", "purpose": "Registration", "specVersion": SPEC_VERSION,
            "timeout": int(timeout * 1000),
            "captureTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "transactionId": uuid.uuid4().hex,
            "bio": [{"type": self.bio_type, "count": 1, "bioSubType": [subtype],
                     "exception": [], "requestedScore": self.requested_score,
                     "deviceId": str(self.device.get("deviceId", "")),
                     "deviceSubId": self.device_sub_id, "previousHash": ""}],
            "customOpts": None,
        }
        answer = self.client.call("RCAPTURE", body, timeout=timeout + 2.0)
        biometrics = answer.get("biometrics") or []
        if not biometrics:
            raise HalError("the SBI device returned no biometrics", device=self.kind)
        first = biometrics[0]
        error = first.get("error") or {}
        code, info = str(error.get("errorCode", "0")), str(error.get("errorInfo", ""))
        if code in BUSY_CODES:
            raise DeviceBusy(f"SBI device busy: {info}", device=self.kind)
        if code in NOT_READY_CODES:
            raise DeviceUnplugged(f"SBI device not ready: {info}", device=self.kind)
        if code != "0":
            if "timeout" in info.lower():
                raise CaptureTimeout(f"SBI capture timed out: {info}", device=self.kind)
            raise HalError(f"SBI capture failed ({code}): {info}", device=self.kind)
        token = str(first.get("data", ""))
        payload = verify_jws(token, self.trust, device=self.kind)
        image = image_from_record(b64url_decode(str(payload.get("bioValue", ""))))
        return image, payload, token

    def _capture(self, modality: Modality, position: str, subtype: str,
                 timeout: float) -> Capture:
        if self.closed:  # type: ignore[attr-defined]
            raise DeviceClosed(f"the SBI {self.kind} is closed", device=self.kind)
        image, payload, token = self._rcapture(subtype, timeout)
        gray = decode_gray(image)
        measure = fingerprint_quality if modality is Modality.FINGER else iris_quality
        ours = measure(gray)
        measures = dict(ours.measures)
        if "qualityScore" in payload:
            measures["device_score"] = float(payload["qualityScore"])
        measures["trust_ca"] = 1.0 if self.trust.cas else 0.0
        quality = Quality(ours.score, ours.reasons, measures)
        fmt = sniff_format(image)
        info: DeviceInfo = self.info  # type: ignore[attr-defined]
        warnings = () if self.trust.cas else ("trust_self",)
        return Capture(modality, position, image, fmt, gray.shape[1], gray.shape[0], quality,
                       info, pixels=gray, warnings=warnings, evidence=token)


class SbiFingerprintScanner(_SbiDevice, FingerprintScanner):
    bio_type, kind = "Finger", "fingerprint"

    def __init__(self, client: SbiClient, device: dict[str, Any], *,
                 trust: SbiTrust | None = None) -> None:
        super().__init__(self._setup(client, device, trust))

    @classmethod
    def open(cls, *, ports: Iterable[int] = PORTS,
             trust: SbiTrust | None = None) -> SbiFingerprintScanner:
        """The first finger device on the SBI ports; ``trust`` defaults to
        :meth:`SbiTrust.from_env` (``REKAM_SBI_CA``)."""
        trust = SbiTrust.from_env() if trust is None else trust
        return cls(*find_device("Finger", ports=ports), trust=trust)

    def capture(self, finger: Finger, *, timeout: float = 10.0) -> Capture:
        finger = Finger(finger)
        return self._capture(Modality.FINGER, finger.value, BIO_SUBTYPE[finger], timeout)


class SbiIrisScanner(_SbiDevice, IrisScanner):
    bio_type, kind, requested_score = "Iris", "iris", 60

    def __init__(self, client: SbiClient, device: dict[str, Any], *,
                 trust: SbiTrust | None = None) -> None:
        super().__init__(self._setup(client, device, trust))

    @classmethod
    def open(cls, *, ports: Iterable[int] = PORTS,
             trust: SbiTrust | None = None) -> SbiIrisScanner:
        """The first iris device on the SBI ports; ``trust`` defaults to
        :meth:`SbiTrust.from_env` (``REKAM_SBI_CA``)."""
        trust = SbiTrust.from_env() if trust is None else trust
        return cls(*find_device("Iris", ports=ports), trust=trust)

    def capture(self, eye: Eye, *, timeout: float = 10.0) -> Capture:
        eye = Eye(eye)
        return self._capture(Modality.IRIS, eye.value, BIO_SUBTYPE[eye], timeout)


