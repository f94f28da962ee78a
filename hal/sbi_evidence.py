"""An SBI device's signed capture (a compact JWS whose payload carries ``bioValue``, the
ISO/IEC 19794 record of the image), verified without any device library: the kit's SBI
backend checks it before using a capture, and HQ checks it again when it opens a packet
(the JWS travels in the packet), so neither takes the other's word for which device
captured what. Only ``cryptography``: light enough for HQ to import without OpenCV.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
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

from hal.errors import CaptureUntrusted, HalError

_IMAGE_MAGICS = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51", b"\x89PNG",
                 b"\xff\xd8\xff")


def b64url_decode(text: str) -> bytes:
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
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
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
