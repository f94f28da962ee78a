"""Write the protocol's test vectors (``make vectors``): docs/protocol/vectors/*.json.

Run it deliberately, after a change to a format, and commit what it writes with the change:
tests/test_protocol_vectors.py checks every vector in the repository against the code, so
the vectors and the code cannot drift apart silently.

Every key here is a throw-away key derived from a fixed label (never used anywhere real),
so a run writes the same bytes again, except where the algorithm itself is randomized: an
HPKE ciphertext (a fresh ephemeral key per seal) and the ZIP's entry times. For those the
vector gives the bytes to *open* and what they must open to.

    .venv/bin/python docs/protocol/vectors/generate.py [--out DIR]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from edge.canonical import canonical_json  # noqa: E402
from edge.errors import RekamError  # noqa: E402
from edge.keys import SEALING_SUITE, SealingPrivateKey, signing_key_id  # noqa: E402
from edge.packet import (  # noqa: E402
    PACKET_FORMAT,
    SUITE_NAME,
    CaptureRecord,
    ExceptionRecord,
    Manifest,
    PacketHeader,
    VerificationRecord,
    decrypt_packet,
    open_packet,
    read_header,
    seal,
)
from edge.provisioning import ProvisioningBundle  # noqa: E402
from edge.readiness import Readiness  # noqa: E402
from edge.resident_record import MaritalStatus  # noqa: E402
from edge.residents import Resident, Sex  # noqa: E402
from edge.roster import ScheduleEntry  # noqa: E402
from edge.signing import sign_document  # noqa: E402
from edge.worklist import build_worklist, verify_worklist  # noqa: E402
from sync.protocol.acks import Ack, AckStatus, Online, sign_ack, sign_online  # noqa: E402
from sync.protocol.chunks import split_packet  # noqa: E402
from sync.protocol.config import ConfigUpdate, build_config  # noqa: E402
from sync.protocol.status import Report, Status, sign_report, sign_status  # noqa: E402

OUT = Path(__file__).resolve().parent
NOTE = ("Throw-away keys for test vectors only: derived from a public label, never used by "
        "any real kit or HQ.")
WHEN = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
DEVICE_ID = "kit-vector-01"
KELURAHAN = "32.75.01.1001"
PACKET_ID = "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
SIGNED_PREFIX = b"rekam-signed-v1\x00"


def _seed(label: str, n: int = 32) -> bytes:
    return hashlib.shake_256(f"rekam test vector: {label}".encode()).digest(n)


def hq_sealing_key() -> SealingPrivateKey:
    return SealingPrivateKey(_seed("HQ sealing ML-KEM-768 seed", 64),
                             _seed("HQ sealing X25519"))


def kit_worklist_key() -> SealingPrivateKey:
    return SealingPrivateKey(_seed("kit worklist ML-KEM-768 seed", 64),
                             _seed("kit worklist X25519"))


def hq_signing_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed("HQ signing Ed25519"))


def device_signing_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed("device signing Ed25519"))


def _ed25519(key: ed25519.Ed25519PrivateKey) -> dict[str, str]:
    return {"private_hex": key.private_bytes_raw().hex(),
            "public_hex": key.public_key().public_bytes_raw().hex(),
            "key_id": signing_key_id(key.public_key())}


def keys_vector() -> dict[str, Any]:
    sealing = hq_sealing_key()
    public = sealing.public().raw
    return {
        "description": "Key encodings and key ids. " + NOTE,
        "hq_sealing": {
            "private_hex": sealing.to_bytes().hex(),
            "private_layout": "ML-KEM-768 seed d||z (64 bytes, FIPS 203) || X25519 private "
                              "key (32 bytes)",
            "public_hex": public.hex(),
            "public_layout": "ML-KEM-768 encapsulation key (1184 bytes) || X25519 public key "
                             "(32 bytes)",
            "mlkem768_public_hex": public[:1184].hex(),
            "x25519_public_hex": public[1184:].hex(),
            "key_id": sealing.public().key_id,
        },
        "kit_worklist": {
            "private_hex": kit_worklist_key().to_bytes().hex(),
            "public_hex": kit_worklist_key().public().raw.hex(),
            "key_id": kit_worklist_key().public().key_id,
        },
        "hq_signing": _ed25519(hq_signing_key()),
        "device_signing": _ed25519(device_signing_key()),
    }


def canonical_vector() -> dict[str, Any]:
    cases: list[tuple[str, Any]] = [
        ("keys sorted at every level, no spaces",
         {"b": 1, "a": [True, False, None], "c": {"z": "", "y": [], "x": {}}}),
        ("keys sorted by Unicode code point (not UTF-16 code units as in RFC 8785)",
         {"a": 1, "B": 2, "_": 3, "é": 4, "\uffff": 5, "\U0001f600": 6}),
        ("non-ASCII text written as UTF-8, not escaped",
         {"nama": "Siti Aḥmad", "tempat": "Bekasi — Jawa Barat", "emoji": "🙂"}),
        ("escapes: quote, backslash, the two-letter forms, \\u00XX in lower case for other "
         "control characters; '/', DEL and U+2028 written as they are",
         {"s": "q\"b\\s/t\tn\nr\rb\bf\f0\u0000e\u001bd\u007fl\u2028"}),
        ("integers in decimal, of any size",
         {"zero": 0, "neg": -12, "big": 9007199254740993}),
        ("floats as the shortest text that reads back as the same double (Python's repr)",
         {"half": 0.5, "one": 1.0, "tiny": 1e-07, "huge": 1e16, "score": 0.8125}),
    ]
    return {
        "description": "Canonical JSON: value (as this file's JSON holds it) and the exact "
                       "bytes it must encode to.",
        "cases": [{"name": name, "value": value,
                   "canonical_hex": canonical_json(value).hex(),
                   "canonical_text": canonical_json(value).decode("utf-8")}
                  for name, value in cases],
    }


def _document(kind: str, body: bytes, key: ed25519.Ed25519PrivateKey,
              envelope: bytes) -> dict[str, Any]:
    signed = SIGNED_PREFIX + kind.encode("ascii") + b"\x00" + body
    return {
        "kind": kind,
        "signer_key_id": signing_key_id(key.public_key()),
        "body_text": body.decode("utf-8"),
        "body_hex": body.hex(),
        "signed_bytes_hex": signed.hex(),
        "signature_hex": key.sign(signed).hex(),
        "envelope_text": envelope.decode("utf-8"),
        "envelope_hex": envelope.hex(),
    }


def signed_documents_vector() -> dict[str, Any]:
    device, hq = device_signing_key(), hq_signing_key()
    sha = hashlib.sha256(b"a packet").hexdigest()
    heartbeat = Status(DEVICE_ID, "online", WHEN, software_version="0.1.0", queue_depth=2,
                    oldest_queued=(WHEN - timedelta(hours=3)).isoformat(),
                    outbox={"acked": 5, "purged": 40, "sealed": 1, "sent": 1},
                    free_disk_mb=51234, roster_version=3,
                    roster_expires_at=(WHEN + timedelta(days=20)).isoformat(),
                    pending_worklist_version=None, config_version=2,
                    session=(WHEN - timedelta(minutes=30)).isoformat(),
                    audit_head={"seq": 1234, "hash": hashlib.sha256(b"audit").hexdigest()},
                    readiness=Readiness(
                        checked_at=(WHEN - timedelta(hours=1)).isoformat(timespec="seconds"),
                        ready=True, devices={"camera": "ok", "fingerprint": "ok",
                                             "iris": "ok", "receipt_printer": "warn"},
                        free_disk_mb=51300, roster_version=3, roster_age_days=2,
                        paper="low", warnings=["paper"]).to_dict(),
                    worklist_key=base64.b64encode(kit_worklist_key().public().raw).decode())
    fresh = Status(DEVICE_ID, "offline", WHEN, software_version="0.1.0",
                   session=WHEN.isoformat())
    stored = Ack(DEVICE_ID, PACKET_ID, sha, AckStatus.STORED, WHEN)
    rejected = Ack(DEVICE_ID, PACKET_ID, sha, AckStatus.REJECTED, WHEN,
                   reason="foreign_key: packet sealed to key 0123456789abcdef, not one of "
                          "HQ's sealing keys")
    report = Report(DEVICE_ID, WHEN, "config", "applied", version=2,
                    detail="lockout_minutes")
    config = ConfigUpdate(DEVICE_ID, 2, WHEN, WHEN + timedelta(days=7),
                          {"lockout_minutes": "30"}, training=False)
    announcement = Online(WHEN, worker="rekam-hq-ingest-hq1-1", session_resumed=True)
    docs = [
        ("status: a heartbeat", "status", heartbeat.to_body(), device,
         sign_status(heartbeat, device)),
        ("status: the last will of a kit with no roster, no packets and an empty audit log",
         "status", fresh.to_body(), device, sign_status(fresh, device)),
        ("report", "report", report.to_body(), device, sign_report(report, device)),
        ("ack: stored", "ack", stored.to_body(), hq, sign_ack(stored, hq)),
        ("ack: rejected, with its reason", "ack", rejected.to_body(), hq,
         sign_ack(rejected, hq)),
        ("config", "config", config.to_body(), hq, build_config(config, hq)),
        ("online: an ingest worker's announcement", "online", announcement.to_body(), hq,
         sign_online(announcement, hq)),
    ]
    return {
        "description": "Signed documents (format rekam-signed/1): body, the bytes the "
                       "Ed25519 signature covers, and the envelope. Ed25519 is deterministic, "
                       "so signing body_hex with the key gives exactly signature_hex. " + NOTE,
        "device_signing_public_hex": device.public_key().public_bytes_raw().hex(),
        "hq_signing_public_hex": hq.public_key().public_bytes_raw().hex(),
        "documents": [{"name": name, **_document(kind, canonical_json(body), key, env)}
                      for name, kind, body, key, env in docs],
    }


# --- the sealed packet ---------------------------------------------------------------------

FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")


def _image(fmt: str, label: str) -> bytes:
    magic = {"jpeg": b"\xff\xd8\xff\xe0", "png": b"\x89PNG\r\n\x1a\n",
             "jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n"}[fmt]
    return magic + f"test vector image: {label}".encode()


def _capture(modality: str, position: str | None, fmt: str, at: datetime
             ) -> tuple[CaptureRecord, bytes]:
    name = f"{modality}_{position}" if position else modality
    record = CaptureRecord(
        modality=modality, position=position, file=f"{name}.{fmt}", image_format=fmt,
        width=640 if modality == "face" else 320, height=480 if modality == "face" else 320,
        quality=80, quality_reasons=[], passed=True, attempts=1, device_model="Test Vector",
        device_serial="TV-0001", device_backend="sim", captured_at=at.isoformat())
    return record, _image(fmt, name)


def packet_manifest() -> tuple[Manifest, dict[str, bytes]]:
    started = WHEN - timedelta(minutes=9)
    captures, images = [], {}
    slots: list[tuple[str, str | None, str]] = [("face", None, "jpeg"),
                                                ("signature", None, "png")]
    slots += [("finger", f, "jp2") for f in FINGERS if f != "left_little"]
    slots += [("iris", "right", "jp2"), ("iris", "left", "jp2")]
    for i, (modality, position, fmt) in enumerate(slots):
        record, image = _capture(modality, position, fmt, started + timedelta(seconds=20 * i))
        captures.append(record)
        images[record.file] = image
    manifest = Manifest(
        packet_id=PACKET_ID, nik="3275014101050001", device_id=DEVICE_ID, operator_id="budi",
        service_point="Balai RW 05", started_at=started.isoformat(),
        sealed_at=WHEN.isoformat(), software_version="0.1.0", captures=captures,
        exceptions=[ExceptionRecord(
            modality="finger", position="left_little", reason="bandaged", approved_by="sari",
            approved_at=(WHEN - timedelta(minutes=2)).isoformat(), note="luka, diperban")],
        verification=[VerificationRecord(position="right_index", match_score=0.8125,
                                         matched=True, quality=80)],
        warnings=[], audit=[{"action": "enrol_start", "at": started.isoformat(),
                             "operator": "budi"}],
        audit_head={"seq": 1234, "hash": hashlib.sha256(b"audit").hexdigest()},
        kelurahan=KELURAHAN)
    return manifest, images


def _still_valid(previous: bytes | None, manifest: Manifest, images: dict[str, bytes]
                 ) -> bool:
    """Whether an earlier run's packet still opens to exactly what this run would seal
    (then it is kept, so a run changes only what changed)."""
    if previous is None:
        return False
    try:
        opened = open_packet(previous, hq_key=hq_sealing_key(),
                             device_key=device_signing_key().public_key())
    except RekamError:
        return False
    return (opened.manifest == manifest and opened.images == images
            and opened.header.to_bytes() == _expected_header(manifest))


def _expected_header(manifest: Manifest) -> bytes:
    return PacketHeader(PACKET_FORMAT, SUITE_NAME, hq_sealing_key().public().key_id,
                        DEVICE_ID, signing_key_id(device_signing_key().public_key()),
                        manifest.packet_id, WHEN.isoformat()).to_bytes()


def sealed_packet_vector(previous: bytes | None = None) -> dict[str, Any]:
    hq, device = hq_sealing_key(), device_signing_key()
    manifest, images = packet_manifest()
    if _still_valid(previous, manifest, images):
        assert previous is not None
        data = previous
    else:
        data = seal(manifest, images, hq_key=hq.public(), device_key=device,
                    created_at=WHEN).data
    header_len = int.from_bytes(data[5:9], "big")
    header_bytes = data[9:9 + header_len]
    ct_len = int.from_bytes(data[9 + header_len:13 + header_len], "big")
    ciphertext = data[13 + header_len:13 + header_len + ct_len]
    _, plaintext = decrypt_packet(data, hq_key=hq, device_key=device.public_key())
    return {
        "description": "A sealed packet and every layer of it. HPKE is randomized: seal "
                       "your own with the same inputs and it differs, but it must open to "
                       "the same plaintext; this one must open with hq_sealing_private_hex "
                       "to plaintext_zip_hex. " + NOTE,
        "hq_sealing_private_hex": hq.to_bytes().hex(),
        "hq_sealing_public_hex": hq.public().raw.hex(),
        "device_signing_private_hex": device.private_bytes_raw().hex(),
        "device_signing_public_hex": device.public_key().public_bytes_raw().hex(),
        "packet_hex": data.hex(),
        "packet_sha256": hashlib.sha256(data).hexdigest(),
        "header": asdict(read_header(data)),
        "header_hex": header_bytes.hex(),
        "header_text": header_bytes.decode("utf-8"),
        "hpke": {"mode": "base (0x00)", "kem_id": "0x647A", "kdf_id": "0x0001",
                 "aead_id": "0x0003", "info": "header_hex", "aad": "empty"},
        "hpke_ciphertext_hex": ciphertext.hex(),
        "signature_hex": data[-64:].hex(),
        "plaintext_zip_hex": plaintext.hex(),
        "manifest": manifest.to_dict(),
        "manifest_json_hex": canonical_json(manifest.to_dict()).hex(),
        "files_hex": {name: body.hex() for name, body in sorted(images.items())},
    }


def chunk_frames_vector(packet: bytes) -> dict[str, Any]:
    sha = hashlib.sha256(packet).hexdigest()
    sets = []
    for size in (1024, 65536):
        frames = [c.encode() for c in split_packet(PACKET_ID, packet, chunk_size=size)]
        sets.append({"chunk_size": size, "frames_hex": [f.hex() for f in frames],
                     "metas": [json.loads(f[7:7 + int.from_bytes(f[5:7], "big")])
                               for f in frames]})
    return {
        "description": "The chunk frames of sealed-packet.json's packet_hex, cut at two chunk "
                       "sizes. Frames are deterministic: cutting the same packet at the same "
                       "size gives exactly these bytes.",
        "packet_id": PACKET_ID,
        "packet_sha256": sha,
        "packet_size": len(packet),
        "sets": sets,
    }


# --- the provisioning bundle ----------------------------------------------------------------

BUNDLE_CODE = "ABCDE-FGH23-JKMNP-QRS45"


def _tls_material() -> tuple[str, str, str]:
    ca_key = ec.derive_private_key(int.from_bytes(_seed("CA P-256"), "big"), ec.SECP256R1())
    kit_key = ec.derive_private_key(int.from_bytes(_seed("device TLS P-256"), "big"),
                                    ec.SECP256R1())
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rekam test vector"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca = (x509.CertificateBuilder().subject_name(name("Rekam HQ CA"))
          .issuer_name(name("Rekam HQ CA")).public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(start).not_valid_after(start + timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True))
    cert = (x509.CertificateBuilder().subject_name(name(DEVICE_ID))
            .issuer_name(ca.subject).public_key(kit_key.public_key()).serial_number(2)
            .not_valid_before(start).not_valid_after(start + timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True))
    pem = serialization.Encoding.PEM
    return (kit_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode(),
            cert.public_bytes(pem).decode(), ca.public_bytes(pem).decode())


def bundle_vector() -> dict[str, Any]:
    tls_key, cert, ca = _tls_material()
    b64 = base64.b64encode
    bundle = ProvisioningBundle(
        device_id=DEVICE_ID, kelurahan=[KELURAHAN], broker="mqtts://hq.example:8883",
        issued_at=WHEN.isoformat(),
        device_signing_key=b64(device_signing_key().private_bytes_raw()).decode(),
        device_tls_key_pem=tls_key, device_cert_pem=cert, ca_cert_pem=ca,
        hq_signing_public=b64(hq_signing_key().public_key().public_bytes_raw()).decode(),
        hq_sealing_public=b64(hq_sealing_key().public().raw).decode(),
        worklist_key=b64(kit_worklist_key().to_bytes()).decode())
    fields = asdict(bundle)
    signed = sign_document("provisioning", canonical_json(fields), hq_signing_key())
    salt, nonce = _seed("bundle salt", 16), _seed("bundle nonce", 12)
    code = "".join(ch for ch in BUNDLE_CODE if ch.isalnum()).encode("ascii")
    kek = Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=32768).derive(code)
    aad = f"rekam-bundle/1:{DEVICE_ID}".encode()
    ciphertext = ChaCha20Poly1305(kek).encrypt(nonce, signed, aad)
    outer = canonical_json({"format": "rekam-bundle/1", "device_id": DEVICE_ID,
                            "salt": b64(salt).decode(), "nonce": b64(nonce).decode(),
                            "ciphertext": b64(ciphertext).decode()})
    return {
        "description": "A provisioning bundle file, its one-time code, the key the code "
                       "derives, and the signed document inside. " + NOTE,
        "code": BUNDLE_CODE,
        "bundle_text": outer.decode("ascii"),
        "kek_hex": kek.hex(),
        "aad_text": aad.decode("ascii"),
        "signed_document_text": signed.decode("utf-8"),
        "fields": fields,
    }


# --- the sealed worklist --------------------------------------------------------------------


def worklist_residents() -> list[Resident]:
    return [
        Resident(nik="3275014101050001", no_kk="3275010101200003", name="SITI RAHMAWATI",
                 sex=Sex.FEMALE, birth_place="BEKASI", birth_date=date(2005, 1, 1),
                 marital_status=MaritalStatus.SINGLE, address="JL. MERDEKA NO. 5", rt="003",
                 rw="005", kelurahan=KELURAHAN, kecamatan="32.75.01",
                 invitation_code="K7QFR-2M9XA"),
        Resident(nik="3275010202060002", no_kk="3275010101200003", name="Ma'ruf Nasution",
                 sex=Sex.MALE, birth_place="MEDAN", birth_date=date(2006, 2, 2),
                 marital_status=MaritalStatus.SINGLE, address="JL. MERDEKA NO. 5", rt="003",
                 rw="005", kelurahan=KELURAHAN, kecamatan="32.75.01",
                 invitation_code="M3XWZ-8TQ4B"),
    ]


WORKLIST_SCHEDULE = (ScheduleEntry(date(2025, 3, 5), "Balai RW 005", KELURAHAN, "005",
                                   "pukul 08.00-15.00"),)


def _worklist_opens(previous: bytes | None) -> bool:
    """Whether an earlier run's worklist still opens to exactly what this run would seal."""
    if previous is None:
        return False
    hq = hq_signing_key().public_key()
    try:
        opened = verify_worklist(previous, trusted={signing_key_id(hq): hq}, device_id=DEVICE_ID,
                                 kit_key=kit_worklist_key(), current_version=None, now=WHEN)
    except RekamError:
        return False
    return (list(opened.residents()) == worklist_residents()
            and opened.meta.schedule == WORKLIST_SCHEDULE and opened.meta.version == 7)


def sealed_worklist_vector(previous: bytes | None = None) -> dict[str, Any]:
    kit = kit_worklist_key()
    if _worklist_opens(previous):
        assert previous is not None
        data = previous
    else:
        data = build_worklist(device_id=DEVICE_ID, version=7, issued_at=WHEN,
                              expires_at=WHEN + timedelta(days=30), kelurahan=[KELURAHAN],
                              residents=worklist_residents(), schedule=WORKLIST_SCHEDULE,
                              signing_key=hq_signing_key(), kit_key=kit.public())
    envelope = json.loads(data)
    body = base64.b64decode(envelope["body"])
    fields = json.loads(body)
    header = canonical_json({k: v for k, v in fields.items() if k != "ciphertext"})
    ciphertext = base64.b64decode(fields["ciphertext"])
    plaintext = SEALING_SUITE.decrypt(ciphertext, kit.to_hpke(), info=header)
    return {
        "description": "A worklist sealed to a kit's worklist key and signed by HQ, every "
                       "layer of it. HPKE is randomized: seal your own with the same inputs "
                       "and it differs, but it must open with kit_worklist_private_hex to "
                       "plaintext_gzip_hex, whose payload is payload. " + NOTE,
        "kit_worklist_private_hex": kit.to_bytes().hex(),
        "kit_worklist_public_hex": kit.public().raw.hex(),
        "hq_signing_public_hex": hq_signing_key().public_key().public_bytes_raw().hex(),
        "worklist_text": data.decode("utf-8"),
        "body_text": body.decode("utf-8"),
        "header_text": header.decode("utf-8"),
        "hpke": {"mode": "base (0x00)", "kem_id": "0x647A", "kdf_id": "0x0001",
                 "aead_id": "0x0003", "info": "header_text (UTF-8)", "aad": "empty"},
        "hpke_ciphertext_hex": ciphertext.hex(),
        "plaintext_gzip_hex": plaintext.hex(),
        "payload": json.loads(gzip.decompress(plaintext)),
    }


def write(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    previous = None
    if (out / "sealed-packet.json").exists():
        previous = bytes.fromhex(json.loads((out / "sealed-packet.json").read_text())
                                 ["packet_hex"])
    sealed = sealed_packet_vector(previous)
    old_worklist = None
    if (out / "sealed-worklist.json").exists():
        old_worklist = json.loads((out / "sealed-worklist.json").read_text())[
            "worklist_text"].encode()
    vectors = {
        "keys.json": keys_vector(),
        "canonical-json.json": canonical_vector(),
        "signed-documents.json": signed_documents_vector(),
        "sealed-packet.json": sealed,
        "chunk-frames.json": chunk_frames_vector(bytes.fromhex(sealed["packet_hex"])),
        "provisioning-bundle.json": bundle_vector(),
        "sealed-worklist.json": sealed_worklist_vector(old_worklist),
    }
    written = []
    for name, content in vectors.items():
        path = out / name
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help="where to write (default: %(default)s)")
    args = parser.parse_args()
    for path in write(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
