"""The protocol's test vectors (docs/protocol/vectors/) against the code, so neither drifts:
each deterministic layer is checked both ways (the code makes exactly the vector's bytes,
and reads them back), and the randomized one (the HPKE seal) is opened. The same checks run
on the vectors in the repository and on a fresh run of their generator (``make vectors``),
so the generator cannot rot either.

The HPKE parameters the documents give (mode, KEM/KDF/AEAD identifiers, ``info``, no AAD)
are checked with an RFC 9180 key schedule written here from the RFC, not with the library
the code uses: that is what another implementation would have to match.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from edge.canonical import canonical_json
from edge.keys import SealingPrivateKey, load_signing_private, signing_key_id
from edge.manifest_schema import validate_manifest
from edge.packet import PacketHeader, decrypt_packet, open_packet, read_container, read_header
from edge.provisioning import open_bundle
from edge.signing import open_document, sign_document
from sync.protocol.chunks import assemble, decode_chunk, split_packet

REPO_VECTORS = Path(__file__).resolve().parents[1] / "docs" / "protocol" / "vectors"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("rekam_vectors", REPO_VECTORS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["rekam_vectors"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=["repository", "fresh"])
def vectors(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Path:
    if request.param == "repository":
        return REPO_VECTORS
    out = tmp_path_factory.mktemp("vectors")
    _generator().write(out)
    return out


def load(vectors: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((vectors / name).read_text(encoding="utf-8"))
    return data


def test_canonical_json(vectors: Path) -> None:
    for case in load(vectors, "canonical-json.json")["cases"]:
        expected = bytes.fromhex(case["canonical_hex"])
        assert canonical_json(case["value"]) == expected, case["name"]
        assert expected.decode("utf-8") == case["canonical_text"]
        assert json.loads(expected) == case["value"]


def test_key_encodings_and_ids(vectors: Path) -> None:
    keys = load(vectors, "keys.json")
    sealing = SealingPrivateKey.from_bytes(bytes.fromhex(keys["hq_sealing"]["private_hex"]))
    public = sealing.public()
    assert public.raw.hex() == keys["hq_sealing"]["public_hex"]
    assert public.raw[:1184].hex() == keys["hq_sealing"]["mlkem768_public_hex"]
    assert public.raw[1184:].hex() == keys["hq_sealing"]["x25519_public_hex"]
    # each half is the public key of its half of the private key
    seed, x_raw = sealing.to_bytes()[:64], sealing.to_bytes()[64:]
    assert (mlkem.MLKEM768PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()
            == public.raw[:1184])
    assert (x25519.X25519PrivateKey.from_private_bytes(x_raw).public_key().public_bytes_raw()
            == public.raw[1184:])
    assert public.key_id == keys["hq_sealing"]["key_id"] == hashlib.sha256(
        public.raw).hexdigest()[:16]
    for name in ("hq_signing", "device_signing"):
        key = load_signing_private(bytes.fromhex(keys[name]["private_hex"]))
        assert key.public_key().public_bytes_raw().hex() == keys[name]["public_hex"]
        assert signing_key_id(key.public_key()) == keys[name]["key_id"]


def test_signed_documents_both_ways(vectors: Path) -> None:
    keys = load(vectors, "keys.json")
    signers = {k["key_id"]: load_signing_private(bytes.fromhex(k["private_hex"]))
               for k in (keys["hq_signing"], keys["device_signing"])}
    docs = load(vectors, "signed-documents.json")["documents"]
    assert {d["kind"] for d in docs} >= {"status", "report", "ack", "config"}
    for doc in docs:
        key = signers[doc["signer_key_id"]]
        body = bytes.fromhex(doc["body_hex"])
        envelope = bytes.fromhex(doc["envelope_hex"])
        assert body.decode("utf-8") == doc["body_text"]
        assert canonical_json(json.loads(body)) == body, "bodies are canonical JSON"
        signed = b"rekam-signed-v1\x00" + doc["kind"].encode() + b"\x00" + body
        assert signed.hex() == doc["signed_bytes_hex"]
        assert key.sign(signed).hex() == doc["signature_hex"]
        assert sign_document(doc["kind"], body, key) == envelope, doc["name"]
        opened = open_document(envelope, kind=doc["kind"],
                               trusted={doc["signer_key_id"]: key.public_key()})
        assert opened.body == body
        key.public_key().verify(bytes.fromhex(doc["signature_hex"]), signed)


def test_chunk_frames_both_ways(vectors: Path) -> None:
    frames = load(vectors, "chunk-frames.json")
    packet = bytes.fromhex(load(vectors, "sealed-packet.json")["packet_hex"])
    assert hashlib.sha256(packet).hexdigest() == frames["packet_sha256"]
    assert len(packet) == frames["packet_size"]
    assert any(len(s["frames_hex"]) > 1 for s in frames["sets"])
    assert any(len(s["frames_hex"]) == 1 for s in frames["sets"])
    for chunk_set in frames["sets"]:
        made = [c.encode() for c in split_packet(frames["packet_id"], packet,
                                                 chunk_size=chunk_set["chunk_size"])]
        assert [f.hex() for f in made] == chunk_set["frames_hex"]
        pieces = []
        for raw, meta in zip(made, chunk_set["metas"], strict=True):
            assert raw[:5] == b"RKMC\x01"
            meta_len = struct.unpack(">H", raw[5:7])[0]
            assert json.loads(raw[7:7 + meta_len]) == meta
            assert raw[7:7 + meta_len] == canonical_json(meta)
            chunk = decode_chunk(raw)
            pieces.append((chunk.index, chunk.offset, chunk.data))
        assert assemble(reversed(pieces), total=len(packet), count=len(pieces),
                        sha256=frames["packet_sha256"]) == packet


# --- the sealed packet --------------------------------------------------------------------


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def rfc9180_open(ciphertext: bytes, private: bytes, info: bytes, *, kem_id: int,
                 kdf_id: int, aead_id: int) -> bytes:
    """HPKE base-mode single-shot open (RFC 9180 §5, §6.1) with the X-Wing KEM
    (draft-connolly-cfrg-xwing-kem: ML-KEM-768 + X25519, SHA3-256 combiner), AAD empty."""
    m_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(private[:64])
    x_key = x25519.X25519PrivateKey.from_private_bytes(private[64:])
    ct_m, ct_x, sealed = ciphertext[:1088], ciphertext[1088:1120], ciphertext[1120:]
    ss_m = m_key.decapsulate(ct_m)
    ss_x = x_key.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    pk_x = x_key.public_key().public_bytes_raw()
    shared = hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + b"\\.//^\\").digest()
    suite_id = b"HPKE" + struct.pack(">HHH", kem_id, kdf_id, aead_id)

    def labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return _hkdf_extract(salt, b"HPKE-v1" + suite_id + label + ikm)

    def labeled_expand(prk: bytes, label: bytes, ctx: bytes, length: int) -> bytes:
        return _hkdf_expand(prk, struct.pack(">H", length) + b"HPKE-v1" + suite_id + label
                            + ctx, length)

    context = (b"\x00" + labeled_extract(b"", b"psk_id_hash", b"")
               + labeled_extract(b"", b"info_hash", info))
    secret = labeled_extract(shared, b"secret", b"")
    key = labeled_expand(secret, b"key", context, 32)
    nonce = labeled_expand(secret, b"base_nonce", context, 12)
    return ChaCha20Poly1305(key).decrypt(nonce, sealed, None)


def test_sealed_packet_layers(vectors: Path) -> None:
    v = load(vectors, "sealed-packet.json")
    data = bytes.fromhex(v["packet_hex"])
    assert hashlib.sha256(data).hexdigest() == v["packet_sha256"]
    # the byte layout, by hand, as docs/protocol/packet.md gives it
    assert data[:5] == b"RKMP\x01"
    header_len = struct.unpack(">I", data[5:9])[0]
    header = data[9:9 + header_len]
    ct_len = struct.unpack(">I", data[9 + header_len:13 + header_len])[0]
    ciphertext = data[13 + header_len:13 + header_len + ct_len]
    assert 13 + header_len + ct_len + 64 == len(data)
    assert header.hex() == v["header_hex"] and ciphertext.hex() == v["hpke_ciphertext_hex"]
    assert data[-64:].hex() == v["signature_hex"]
    # the header: the code writes exactly these bytes from the fields, and reads them back
    assert PacketHeader(**v["header"]).to_bytes() == header
    assert read_header(data) == PacketHeader(**v["header"])
    # the signature: Ed25519 over every byte before it (deterministic: both ways)
    device = load_signing_private(bytes.fromhex(v["device_signing_private_hex"]))
    assert device.public_key().public_bytes_raw().hex() == v["device_signing_public_hex"]
    assert device.sign(data[:-64]) == data[-64:]
    assert v["header"]["device_key_id"] == signing_key_id(device.public_key())
    # the seal: the code opens it to the vector's plaintext, and so does RFC 9180 by hand
    hq = SealingPrivateKey.from_bytes(bytes.fromhex(v["hq_sealing_private_hex"]))
    assert hq.public().raw.hex() == v["hq_sealing_public_hex"]
    assert v["header"]["hq_key_id"] == hq.public().key_id
    _, plaintext = decrypt_packet(data, hq_key=hq, device_key=device.public_key())
    assert plaintext.hex() == v["plaintext_zip_hex"]
    assert rfc9180_open(ciphertext, hq.to_bytes(), header, kem_id=0x647A, kdf_id=0x0001,
                        aead_id=0x0003) == plaintext
    with pytest.raises(InvalidTag):  # another KEM id is another suite: the docs must be exact
        rfc9180_open(ciphertext, hq.to_bytes(), header, kem_id=0x0020, kdf_id=1, aead_id=3)
    # the container and the manifest
    container = read_container(plaintext)
    assert container.problems == ()
    assert container.manifest == v["manifest"]
    validate_manifest(v["manifest"])
    assert canonical_json(v["manifest"]).hex() == v["manifest_json_hex"]
    assert {n: b.hex() for n, b in container.files.items()} == v["files_hex"]
    opened = open_packet(data, hq_key=hq, device_key=device.public_key())
    assert opened.manifest.to_dict() == v["manifest"]


def test_provisioning_bundle_opens(vectors: Path) -> None:
    v = load(vectors, "provisioning-bundle.json")
    bundle = open_bundle(v["bundle_text"].encode(), v["code"])
    from dataclasses import asdict

    assert asdict(bundle) == v["fields"]
    keys = load(vectors, "keys.json")
    assert bundle.hq_signing_key_id == keys["hq_signing"]["key_id"]


def test_sealed_worklist_layers(vectors: Path) -> None:
    import base64
    import gzip
    from datetime import datetime

    from edge.keys import load_signing_public
    from edge.worklist import verify_worklist

    v = load(vectors, "sealed-worklist.json")
    keys = load(vectors, "keys.json")
    kit = SealingPrivateKey.from_bytes(bytes.fromhex(v["kit_worklist_private_hex"]))
    assert kit.public().raw.hex() == v["kit_worklist_public_hex"] == keys["kit_worklist"][
        "public_hex"]
    hq = load_signing_public(bytes.fromhex(v["hq_signing_public_hex"]))
    # the envelope, then the body: canonical JSON, its header the HPKE info
    body = open_document(v["worklist_text"].encode(), kind="worklist",
                         trusted={signing_key_id(hq): hq}).body
    assert body.decode("utf-8") == v["body_text"]
    fields = json.loads(body)
    assert canonical_json(fields) == body
    assert fields["format"] == "rekam-worklist/2" and fields["kit_key_id"] == kit.public().key_id
    header = canonical_json({k: val for k, val in fields.items() if k != "ciphertext"})
    assert header.decode("utf-8") == v["header_text"]
    ciphertext = base64.b64decode(fields["ciphertext"])
    assert ciphertext.hex() == v["hpke_ciphertext_hex"]
    # RFC 9180 by hand opens it to the vector's plaintext, with the header as info
    plaintext = rfc9180_open(ciphertext, kit.to_bytes(), header, kem_id=0x647A,
                             kdf_id=0x0001, aead_id=0x0003)
    assert plaintext.hex() == v["plaintext_gzip_hex"]
    payload = json.loads(gzip.decompress(plaintext))
    assert payload == v["payload"] and len(payload["residents"]) == fields["residents"]
    # and the code opens it to the same residents
    opened = verify_worklist(v["worklist_text"].encode(), trusted={signing_key_id(hq): hq},
                             device_id=fields["device_id"], kit_key=kit, current_version=None,
                             now=datetime.fromisoformat(fields["issued_at"]))
    assert opened.records == payload["residents"]
    # the bundle carries that private key
    bundle = load(vectors, "provisioning-bundle.json")
    assert base64.b64decode(bundle["fields"]["worklist_key"]) == kit.to_bytes()
