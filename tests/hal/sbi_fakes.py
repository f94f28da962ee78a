"""A fake MOSIP SBI service on a free localhost port, signing its captures (the simulated
subject's fingers and irises, as ISO records) with a test PKI like MOSIP's."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hal_fakes import SUBJECT

from hal.backends.sbi import BIO_SUBTYPE
from hal.encode import encode_fingerprint, encode_iris
from hal.synth import rng_for
from hal.types import Eye, Finger


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

