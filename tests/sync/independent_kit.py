"""A minimal Rekam kit written from the documents alone (sync/PROTOCOL.md, docs/protocol/),
as another vendor would write one: its own canonical JSON, envelopes, packet layout, ZIP and
chunk frames; ``cryptography``'s primitives, ``paho-mqtt`` and ``fastjsonschema`` on the
published schema file, and nothing of Rekam's own code (test_independent_client.py checks
its imports). Where the documents were not enough to write it, the documents were fixed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import math
import os
import queue
import ssl
import struct
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fastjsonschema
import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

# --- encoding.md: canonical JSON ----------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError("a lone surrogate has no canonical form")
        else:
            out.append(ch)
    return "".join(out) + '"'


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinities are never written")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, dict):
        # keys in Unicode code point order (Python compares str that way)
        return "{" + ",".join(f"{_string(k)}:{_encode(value[k])}" for k in sorted(value)) + "}"
    raise TypeError(f"no JSON for {type(value).__name__}")


def canonical(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


# --- encoding.md: base64, key ids, signed documents ---------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def _signed_bytes(kind: str, body: bytes) -> bytes:
    return b"rekam-signed-v1\x00" + kind.encode("ascii") + b"\x00" + body


def sign_document(kind: str, body: bytes, key: ed25519.Ed25519PrivateKey) -> bytes:
    return canonical({"body": b64(body), "format": "rekam-signed/1",
                      "key_id": key_id(key.public_key().public_bytes_raw()), "kind": kind,
                      "signature": b64(key.sign(_signed_bytes(kind, body)))})


def open_document(data: bytes, kind: str, signer: ed25519.Ed25519PublicKey) -> bytes:
    """The verified body bytes of a signed document of ``kind`` by ``signer``."""
    envelope = json.loads(data)
    if envelope.get("format") != "rekam-signed/1" or envelope.get("kind") != kind:
        raise ValueError(f"not a rekam-signed/1 {kind} document")
    if envelope.get("key_id") != key_id(signer.public_bytes_raw()):
        raise ValueError(f"{kind} signed by an unknown key {envelope.get('key_id')}")
    body = unb64(envelope["body"])
    signer.verify(unb64(envelope["signature"]), _signed_bytes(kind, body))
    return body


def now_text() -> str:
    return datetime.now(UTC).isoformat()


# --- encoding.md: the provisioning bundle, the kit's key files ------------------------------

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@dataclass
class Identity:
    """What the bundle gives, as the files of encoding.md's table."""

    device_id: str
    kelurahan: list[str]
    broker: str
    keys: Path

    @property
    def signing_key(self) -> ed25519.Ed25519PrivateKey:
        return ed25519.Ed25519PrivateKey.from_private_bytes(
            _private(self.keys / "device-signing.key"))

    @property
    def hq_signing(self) -> ed25519.Ed25519PublicKey:
        return ed25519.Ed25519PublicKey.from_public_bytes(
            (self.keys / "hq-signing.pub").read_bytes())

    @property
    def hq_sealing_raw(self) -> bytes:
        return (self.keys / "hq-sealing.pub").read_bytes()

    @property
    def worklist_key(self) -> hpke.MLKEM768X25519PrivateKey:
        raw = _private(self.keys / "worklist.key")  # ML-KEM-768 seed (64) || X25519 (32)
        return hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:64]),
                                             x25519.X25519PrivateKey.from_private_bytes(raw[64:]))


def _private(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others")
    return path.read_bytes()


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def provision(bundle_file: Path, code: str, home: Path) -> Identity:
    outer = json.loads(bundle_file.read_bytes())
    if outer["format"] != "rekam-bundle/1":
        raise ValueError("not a rekam-bundle/1 file")
    password = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(password) != 20 or any(ch not in CODE_ALPHABET for ch in password):
        raise ValueError("the code is 20 letters and digits")
    kek = Argon2id(salt=unb64(outer["salt"]), length=32, iterations=2, lanes=1,
                   memory_cost=32768).derive(password.encode("ascii"))
    signed = ChaCha20Poly1305(kek).decrypt(unb64(outer["nonce"]), unb64(outer["ciphertext"]),
                                           f"rekam-bundle/1:{outer['device_id']}".encode())
    # HQ's signing key comes in the bundle (trust on first use, its id shown to the
    # technician): take it from the body, then verify the document with it
    claimed = json.loads(unb64(json.loads(signed)["body"]))
    hq_signing = ed25519.Ed25519PublicKey.from_public_bytes(unb64(claimed["hq_signing_public"]))
    fields = json.loads(open_document(signed, "provisioning", hq_signing))
    if fields["device_id"] != outer["device_id"]:
        raise ValueError("the bundle names two devices")
    keys = home / "keys"
    keys.mkdir(parents=True, mode=0o700)
    _write(keys / "device-signing.key", unb64(fields["device_signing_key"]), 0o600)
    _write(keys / "device-tls.key", fields["device_tls_key_pem"].encode(), 0o600)
    _write(keys / "device.crt", fields["device_cert_pem"].encode(), 0o644)
    _write(keys / "hq-ca.crt", fields["ca_cert_pem"].encode(), 0o644)
    _write(keys / "hq-signing.pub", unb64(fields["hq_signing_public"]), 0o644)
    _write(keys / "hq-sealing.pub", unb64(fields["hq_sealing_public"]), 0o644)
    # This test kit has no operators: it keeps the worklist key in a 0600 file. A kit in the
    # field MUST keep it only wrapped under a key an operator's PIN unwraps (encoding.md).
    _write(keys / "worklist.key", unb64(fields["worklist_key"]), 0o600)
    return Identity(fields["device_id"], list(fields["kelurahan"]), fields["broker"], keys)


# --- sync/PROTOCOL.md: status, worklist, acks ----------------------------------------------


@dataclass
class Kit:
    me: Identity
    session: str = field(default_factory=now_text)
    audit_head: dict[str, Any] | None = None

    def topic(self, channel: str) -> str:
        return f"rekam/v1/{self.me.device_id}/{channel}"

    def status(self, state: str) -> bytes:
        body = {"device_id": self.me.device_id, "state": state, "at": now_text(),
                "session": self.session, "software_version": "indie-0.1",
                "queue_depth": 0, "oldest_queued": None,
                "outbox": {"sealed": 0, "sent": 0, "acked": 0, "purged": 0},
                "free_disk_mb": 20000, "roster_version": None, "roster_expires_at": None,
                "pending_worklist_version": None, "config_version": 0,
                "audit_head": self.audit_head, "readiness": None}
        return sign_document("status", canonical(body), self.me.signing_key)

    def read_worklist(self, data: bytes) -> dict[str, Any]:
        body = json.loads(open_document(data, "worklist", self.me.hq_signing))
        if body["format"] != "rekam-worklist/2":
            raise ValueError(f"a worklist format this kit does not know: {body['format']}")
        if body["device_id"] != self.me.device_id:
            raise ValueError("a worklist for another kit")
        if datetime.fromisoformat(body["expires_at"]) <= datetime.now(UTC):
            raise ValueError("an expired worklist")
        header = {k: v for k, v in body.items() if k != "ciphertext"}
        suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                           hpke.AEAD.CHACHA20_POLY1305)
        plaintext = suite.decrypt(unb64(body["ciphertext"]), self.me.worklist_key,
                                  info=canonical(header))
        payload: dict[str, Any] = json.loads(gzip.decompress(plaintext))
        for name in ("device_id", "version", "issued_at", "expires_at"):
            if payload[name] != body[name]:
                raise ValueError(f"the sealed worklist's {name} is not its header's")
        if len(payload["residents"]) != body["residents"]:
            raise ValueError("the sealed worklist's residents are not as many as its header says")
        return payload

    def read_ack(self, data: bytes) -> dict[str, Any]:
        ack: dict[str, Any] = json.loads(open_document(data, "ack", self.me.hq_signing))
        if ack["device_id"] != self.me.device_id:
            raise ValueError("an ack for another kit")
        if ack["status"] not in ("stored", "duplicate", "rejected"):
            raise ValueError(f"an ack status this kit does not know: {ack['status']}")
        if ack["status"] == "rejected" and "reason" not in ack:
            raise ValueError("a rejected ack without its reason")
        return ack


# --- packet.md: the manifest, the ZIP, the header, sealing, the layout ------------------------

FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")
SBI_NAMES = {"right_thumb": "Right Thumb", "right_index": "Right IndexFinger",
             "right_middle": "Right MiddleFinger", "right_ring": "Right RingFinger",
             "right_little": "Right LittleFinger", "left_thumb": "Left Thumb",
             "left_index": "Left IndexFinger", "left_middle": "Left MiddleFinger",
             "left_ring": "Left RingFinger", "left_little": "Left LittleFinger",
             "right": "Right", "left": "Left"}
SIGNATURES = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n",
              "jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class SbiDevice:
    """A fingerprint/iris device that signs its captures (ES256 JWS with its certificate
    chain in x5c), as packet.md's device evidence asks."""

    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]

    def sign(self, image: bytes, position: str, modality: str) -> bytes:
        header = {"alg": "ES256", "x5c": [base64.b64encode(c.public_bytes(
            serialization.Encoding.DER)).decode() for c in self.chain]}
        payload = {"bioType": modality.title(), "bioSubType": SBI_NAMES[position],
                   "bioValue": b64url(image)}
        signing_input = (b64url(json.dumps(header).encode()) + "."
                         + b64url(json.dumps(payload).encode()))
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(),
                                                  ec.ECDSA(hashes.SHA256())))
        return (signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
                ).encode("ascii")


def record_enrolment(kit: Kit, resident: dict[str, str], device: SbiDevice,
                     schema_file: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A full capture set (face, signature, ten fingers, two irises) with device evidence,
    as the manifest table and the schema say; checked against the schema file."""
    started = datetime.now(UTC) - timedelta(minutes=4)
    slots: list[tuple[str, str | None, str, str]] = [("face", None, "jpeg", "picamera2"),
                                                     ("signature", None, "png", "evdev")]
    slots += [("finger", f, "jp2", "sbi") for f in FINGERS]
    slots += [("iris", e, "jp2", "sbi") for e in ("right", "left")]
    captures, files = [], {}
    for i, (modality, position, fmt, backend) in enumerate(slots):
        name = f"{modality}_{position}" if position else modality
        image = SIGNATURES[fmt] + os.urandom(2000)
        files[f"{name}.{fmt}"] = image
        evidence = None
        if modality in ("finger", "iris"):
            assert position is not None
            evidence = f"{name}.jws"
            files[evidence] = device.sign(image, position, modality)
        captures.append({
            "modality": modality, "position": position, "file": f"{name}.{fmt}",
            "image_format": fmt, "width": 500, "height": 500, "quality": 85,
            "quality_reasons": [], "passed": True, "attempts": 1,
            "device_model": "Indie Scanner 2", "device_serial": f"IS2-{i:04d}",
            "device_backend": backend,
            "captured_at": (started + timedelta(seconds=10 * (i + 1))).isoformat(),
            "evidence": evidence})
    manifest = {
        "format": "rekam-manifest/1", "packet_id": str(uuid.uuid4()),
        "nik": resident["nik"], "device_id": kit.me.device_id,
        "kelurahan": resident["kode_kelurahan"], "operator_id": "indie-operator",
        "service_point": "Balai RW " + resident["rw"], "started_at": started.isoformat(),
        "sealed_at": now_text(), "software_version": "indie-0.1", "captures": captures,
        "exceptions": [], "verification": [], "warnings": [],
        "audit": [{"action": "enrol", "at": started.isoformat(), "operator": "indie-operator"}],
        "audit_head": kit.audit_head}
    fastjsonschema.compile(json.loads(schema_file.read_text()), handlers={})(manifest)
    return manifest, files


def container(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", canonical(manifest))
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def seal_packet(kit: Kit, manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    me = kit.me
    header = canonical({
        "format": "rekam-packet/1", "suite": "MLKEM768X25519/HKDF-SHA256/CHACHA20POLY1305",
        "hq_key_id": key_id(me.hq_sealing_raw), "device_id": me.device_id,
        "device_key_id": key_id(me.signing_key.public_key().public_bytes_raw()),
        "packet_id": manifest["packet_id"], "created_at": manifest["sealed_at"]})
    raw = me.hq_sealing_raw
    hq_key = hpke.MLKEM768X25519PublicKey(mlkem.MLKEM768PublicKey.from_public_bytes(raw[:1184]),
                                          x25519.X25519PublicKey.from_public_bytes(raw[1184:]))
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                       hpke.AEAD.CHACHA20_POLY1305)
    ciphertext = suite.encrypt(container(manifest, files), hq_key, info=header)
    body = (b"RKMP" + struct.pack(">BI", 1, len(header)) + header
            + struct.pack(">I", len(ciphertext)) + ciphertext)
    return body + me.signing_key.sign(body)


def chunk_frames(packet_id: str, packet: bytes, chunk_size: int) -> list[bytes]:
    digest = hashlib.sha256(packet).hexdigest()
    count = max(1, -(-len(packet) // chunk_size))
    frames = []
    for index in range(count):
        offset = index * chunk_size
        meta = canonical({"packet_id": packet_id, "sha256": digest, "total": len(packet),
                          "count": count, "index": index, "offset": offset})
        frames.append(b"RKMC" + struct.pack(">BH", 1, len(meta)) + meta
                      + packet[offset:offset + chunk_size])
    return frames


# --- sync/PROTOCOL.md: the MQTT session --------------------------------------------------------


class Session:
    """MQTT 5 over TLS 1.3 with the device certificate; client id = device id, a persistent
    session, a signed last will; subscribed to down/# first."""

    def __init__(self, kit: Kit) -> None:
        me = kit.me
        self.kit = kit
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=me.device_id,
                                  protocol=mqtt.MQTTv5)
        context = ssl.create_default_context(cafile=str(me.keys / "hq-ca.crt"))
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(me.keys / "device.crt", me.keys / "device-tls.key")
        self.client.tls_set_context(context)
        self.client.will_set(kit.topic("up/status"), kit.status("offline"), qos=1)
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_message = lambda _c, _u, m: self.inbox.put((m.topic, bytes(m.payload)))

    def __enter__(self) -> Session:
        url = urlsplit(self.kit.me.broker)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 14 * 24 * 3600
        self.client.connect(url.hostname or "", url.port or 8883, keepalive=30,
                            clean_start=False, properties=properties)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError("the broker did not accept the connection")
        self.client.subscribe(self.kit.topic("down/#"), qos=1)
        return self

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def receive(self, channel: str, timeout: float = 20.0) -> bytes:
        wanted = self.kit.topic(channel)
        while True:
            topic, payload = self.inbox.get(timeout=timeout)
            if topic == wanted:
                return payload

    def __exit__(self, *exc: object) -> None:
        self.publish(self.kit.topic("up/status"), self.kit.status("offline"))
        self.client.disconnect()
        self.client.loop_stop()
