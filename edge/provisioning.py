"""The provisioning bundle: everything a kit needs to become a known device, in one file.

HQ makes it (``rekam-hq device add``); the technician carries it to the kit on a USB stick
and installs it with ``rekam provision``. It contains the kit's private keys, so the file is
encrypted under a one-time provisioning code that HQ prints and never stores: a lost stick
reveals nothing without the code. Inside, the bundle is a document signed by HQ's signing
key, and the kit shows that key's id so the technician can compare it with HQ's.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from edge.canonical import canonical_json
from edge.errors import IntegrityError, InvalidInput
from edge.keys import b64, load_signing_public, signing_key_id, unb64
from edge.signing import open_document, parse_document, sign_document

FORMAT = "rekam-bundle/1"
KIND = "provisioning"
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over a phone
_CODE_LENGTH = 20  # ~99 bits


@dataclass(frozen=True)
class ProvisioningBundle:
    device_id: str
    kelurahan: list[str]
    broker: str
    issued_at: str
    device_signing_key: str  # base64 raw Ed25519 private key
    device_tls_key_pem: str
    device_cert_pem: str
    ca_cert_pem: str
    hq_signing_public: str  # base64 raw Ed25519
    hq_sealing_public: str  # base64 raw hybrid public key
    # base64 raw hybrid private key (96 bytes) HQ seals this kit's worklists to; "" in
    # bundles made before worklists were sealed (the kit then makes its own)
    worklist_key: str = ""
    # HQ registered the kit for training (rekam-hq device add --training): only then may it
    # use simulated devices. Absent in bundles made before this field: a production kit.
    training: bool = False

    def __repr__(self) -> str:
        return f"ProvisioningBundle(device_id={self.device_id!r}, <keys>)"

    @property
    def hq_signing_key_id(self) -> str:
        return signing_key_id(load_signing_public(unb64(self.hq_signing_public, "HQ key")))


def new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    return "-".join(raw[i : i + 5] for i in range(0, _CODE_LENGTH, 5))


def _normalise_code(code: str) -> bytes:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(cleaned) != _CODE_LENGTH or any(ch not in _CODE_ALPHABET for ch in cleaned):
        raise InvalidInput("the provisioning code is 20 letters and digits, like ABCDE-FGH23-...")
    return cleaned.encode("ascii")


def _kek(code: str, salt: bytes) -> bytes:
    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=32768).derive(
        _normalise_code(code)
    )


def seal_bundle(
    bundle: ProvisioningBundle, *, hq_signing_key: ed25519.Ed25519PrivateKey, code: str
) -> bytes:
    signed = sign_document(KIND, canonical_json(asdict(bundle)), hq_signing_key)
    salt, nonce = os.urandom(16), os.urandom(12)
    aad = f"{FORMAT}:{bundle.device_id}".encode()
    ciphertext = ChaCha20Poly1305(_kek(code, salt)).encrypt(nonce, signed, aad)
    outer = {
        "format": FORMAT,
        "device_id": bundle.device_id,
        "salt": b64(salt),
        "nonce": b64(nonce),
        "ciphertext": b64(ciphertext),
    }
    return canonical_json(outer)


def open_bundle(data: bytes, code: str) -> ProvisioningBundle:
    try:
        outer = json.loads(data)
        if outer.get("format") != FORMAT:
            raise ValueError
        device_id = str(outer["device_id"])
        salt = base64.b64decode(outer["salt"])
        nonce = base64.b64decode(outer["nonce"])
        ciphertext = base64.b64decode(outer["ciphertext"])
        if len(salt) != 16 or len(nonce) != 12:  # what seal_bundle writes (Argon2id and
            raise ValueError  # ChaCha20-Poly1305 raise on other sizes)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput("not a Rekam provisioning bundle") from exc
    aad = f"{FORMAT}:{device_id}".encode()
    try:
        signed = ChaCha20Poly1305(_kek(code, salt)).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise IntegrityError("wrong provisioning code, or the bundle file is damaged") from exc
    # The bundle brings HQ's key with it; trust on first use, shown to the technician.
    doc = parse_document(signed)
    fields = json.loads(doc.body)
    hq_key = load_signing_public(unb64(str(fields["hq_signing_public"]), "HQ key"))
    open_document(signed, kind=KIND, trusted={signing_key_id(hq_key): hq_key})
    if not isinstance(fields.get("training", False), bool):
        raise InvalidInput("the bundle's training field is not true or false")
    bundle = ProvisioningBundle(**fields)
    if bundle.device_id != device_id:
        raise IntegrityError("bundle names two different devices")
    return bundle
