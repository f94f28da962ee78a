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

import base64
import binascii
import http.client
import json
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from hal.encode import decode_gray, sniff_format
from hal.errors import (
    CaptureTimeout,
    CaptureUntrusted,
    DeviceBusy,
    DeviceClosed,
    DeviceNotFound,
    DeviceUnplugged,
    HalError,
)
from hal.ports import FingerprintScanner, IrisScanner
from hal.quality import fingerprint_quality, iris_quality
from hal.types import Capture, DeviceInfo, Eye, Finger, Modality, Quality

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
_IMAGE_MAGICS = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51", b"\x89PNG",
                 b"\xff\xd8\xff")


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


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the device's signature over a capture -----------------------------------------------

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
TRUST_ENV = "REKAM_SBI_CA"


@dataclass(frozen=True)
class SbiTrust:
    """Which device certificates the kit trusts. ``cas`` empty: any certificate the device
    presents (the signature is still verified against it: ``level == "self"``); else the
    ``x5c`` chain must lead to one of these device-provider CAs (``level == "ca"``). The
    CAs themselves are held to the web-PKI CA profile, so the chain check is only as lax
    as MOSIP's device certificates need: any extensions on the device's own certificate."""

    cas: tuple[x509.Certificate, ...] = ()

    @property
    def level(self) -> str:
        return "ca" if self.cas else "self"

    @classmethod
    def from_bundle(cls, path: str | os.PathLike[str]) -> SbiTrust:
        """The CA certificates in a PEM file (a configuration error raises HalError)."""
        try:
            cas = x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise HalError(f"the SBI trusted CA bundle {path} cannot be read: {exc}",
                           device="sbi") from exc
        return cls(tuple(cas))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SbiTrust:
        """:meth:`from_bundle` of the file ``REKAM_SBI_CA`` names, else self-trust."""
        path = (os.environ if environ is None else environ).get(TRUST_ENV, "").strip()
        return cls.from_bundle(path) if path else cls()


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())  # errors are shown on one line


def _der(entry: object) -> bytes:
    # RFC 7515 says standard base64; some SBI implementations send base64url
    text = str(entry).strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _check_signature(alg: str, key: object, signature: bytes, signed: bytes) -> None:
    family, bits = alg[:2], alg[2:]
    digest = _HASHES.get(bits)
    if digest is None:
        raise UnsupportedAlgorithm(alg)
    if family in ("RS", "PS") and isinstance(key, rsa.RSAPublicKey):
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15() if family == "RS"
            else padding.PSS(mgf=padding.MGF1(digest()), salt_length=padding.PSS.DIGEST_LENGTH))
        key.verify(signature, signed, pad, digest())
    elif family == "ES" and isinstance(key, ec.EllipticCurvePublicKey):
        half = len(signature) // 2  # JWS: r || s, each the curve's size
        if half == 0 or len(signature) % 2:
            raise InvalidSignature
        der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                   int.from_bytes(signature[half:], "big"))
        key.verify(der, signed, ec.ECDSA(digest()))
    else:
        raise UnsupportedAlgorithm(f"{alg} with a {type(key).__name__}")


def verify_jws(token: str, trust: SbiTrust, *, device: str = "sbi",
               now: datetime | None = None) -> dict[str, Any]:
    """The payload of a device-signed JWS (``header.payload.signature``), after checking its
    signature against the certificate in its header's ``x5c`` and, when ``trust`` names
    CAs, that certificate's chain. Raises :class:`CaptureUntrusted` on any failure."""
    parts = token.split(".")
    if len(parts) != 3:
        raise HalError("the SBI capture data is not a JWT", device=device)
    try:
        header = json.loads(_b64url(parts[0]))
        payload = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise HalError(f"the SBI capture data is not a readable JWT: {exc}",
                       device=device) from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise HalError("the SBI capture data is not a JWT", device=device)
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain:
        raise CaptureUntrusted("the device sent no certificate (x5c) with its capture",
                               device=device)
    try:
        certs = [x509.load_der_x509_certificate(_der(c)) for c in chain]
    except (ValueError, binascii.Error) as exc:
        raise CaptureUntrusted(f"the device's certificate cannot be read: {_line(exc)}",
                               device=device) from exc
    alg = str(header.get("alg", ""))
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    try:
        _check_signature(alg, certs[0].public_key(), signature, signed)
    except UnsupportedAlgorithm as exc:
        raise CaptureUntrusted(f"the device signed with an unsupported algorithm ({exc})",
                               device=device) from exc
    except InvalidSignature as exc:
        raise CaptureUntrusted("the device's signature over the capture does not verify",
                               device=device) from exc
    if trust.cas:
        verifier = (PolicyBuilder().store(Store(list(trust.cas)))
                    .time(now or datetime.now(UTC))
                    # device certificates are no web-PKI client certificates: only the CAs
                    # are held to the web-PKI profile (basic constraints, key usage)
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            verifier.verify(certs[0], certs[1:])
        except VerificationError as exc:
            raise CaptureUntrusted(
                f"the device certificate is not from a trusted device provider: {_line(exc)}",
                device=device) from exc
    return payload


def image_from_record(record: bytes) -> bytes:
    """The image inside an ISO/IEC 19794-4/-6 record (or the bytes if already an image).
    Records are searched for the image's signature rather than parsed field by field:
    the 2005 and 2011 editions lay their headers out differently."""
    found = [i for i in (record.find(m) for m in _IMAGE_MAGICS) if i >= 0]
    if not found:
        if b"\xff\xa0" in record[:64] or b"\xff\xa0\xff\xa8" in record:
            raise HalError("the device sent WSQ, which the kit cannot read: configure "
                           "it for JPEG 2000 (MOSIP registration)", device="sbi")
        raise HalError("no image in the device's biometric record", device="sbi")
    return record[min(found):]


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

    def _rcapture(self, subtype: str, timeout: float) -> tuple[bytes, dict[str, Any]]:
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
        payload = verify_jws(str(first.get("data", "")), self.trust, device=self.kind)
        image = image_from_record(_b64url(str(payload.get("bioValue", ""))))
        return image, payload

    def _capture(self, modality: Modality, position: str, subtype: str,
                 timeout: float) -> Capture:
        if self.closed:  # type: ignore[attr-defined]
            raise DeviceClosed(f"the SBI {self.kind} is closed", device=self.kind)
        image, payload = self._rcapture(subtype, timeout)
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
                       info, pixels=gray, warnings=warnings)


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


