"""The test of the documents: a kit written from them alone (independent_kit.py: its own
canonical JSON, envelopes, packet layout and chunk frames, ``cryptography``, ``paho-mqtt``)
provisions from HQ's bundle file, takes its worklist from a real Mosquitto, records a
resident, seals and signs a packet, uploads it in chunks, verifies HQ's signed `stored` ack
with its own code, and HQ's inspection opens the packet without a single flag."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import independent_kit as indie
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "edge" / "schemas" / "manifest.schema.json"
VECTORS = ROOT / "docs" / "protocol" / "vectors"
KELURAHAN = "32.75.01.1001"


def _vector(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_independent_kit_uses_none_of_rekams_code():
    tree = ast.parse(Path(indie.__file__).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"edge", "sync", "hq", "hal", "rekam", "tui", "aiomqtt"}
    assert {"cryptography", "paho", "fastjsonschema"} <= imported


def test_its_encodings_agree_with_the_vectors():
    for case in _vector("canonical-json.json")["cases"]:
        assert indie.canonical(case["value"]).hex() == case["canonical_hex"], case["name"]
    keys = _vector("keys.json")
    signers = {k["key_id"]: indie.ed25519.Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(k["private_hex"])) for k in (keys["hq_signing"], keys["device_signing"])}
    for doc in _vector("signed-documents.json")["documents"]:
        body = bytes.fromhex(doc["body_hex"])
        envelope = indie.sign_document(doc["kind"], body, signers[doc["signer_key_id"]])
        assert envelope.hex() == doc["envelope_hex"], doc["name"]
    frames = _vector("chunk-frames.json")
    packet = bytes.fromhex(_vector("sealed-packet.json")["packet_hex"])
    for chunk_set in frames["sets"]:
        made = indie.chunk_frames(frames["packet_id"], packet, chunk_set["chunk_size"])
        assert [f.hex() for f in made] == chunk_set["frames_hex"]


def _provider_pki(folder: Path) -> tuple[indie.SbiDevice, Path]:
    """A device provider's CA and one SBI device's key and certificate (ES256): the part of
    the world the kit vendor does not write. HQ is given the CA (its sbi_ca)."""
    now = datetime.now(UTC)

    def cert(name: str, key, issuer, issuer_key, ca: bool):  # type: ignore[no-untyped-def]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        return (x509.CertificateBuilder().subject_name(subject)
                .issuer_name(issuer.subject if issuer else subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=not ca, content_commitment=False,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False),
                    critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()), critical=False)
                .sign(issuer_key, hashes.SHA256()))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("Indie Device Provider CA", ca_key, None, ca_key, True)
    device_key = ec.generate_private_key(ec.SECP256R1())
    device = cert("indie-scanner-0001", device_key, ca, ca_key, False)
    pem = folder / "device-provider-ca.pem"
    pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return indie.SbiDevice(device_key, [device, ca]), pem


@pytest.mark.broker
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_kit_from_the_documents_alone_is_stored_acked_and_opened_clean(net, tmp_path):
    from edge.synth import write_synthetic_csv
    from hal.sbi_evidence import SbiTrust
    from hq.devices import add_device
    from hq.inspect import inspect_packet
    from hq.packets import PacketStore
    from hq.sync_cli import _publish_retained
    from hq.worklists import make_worklist
    from sync.protocol.topics import Channel, topic

    # HQ: registers the kit (its bundle file and one-time code) and publishes its worklist
    bundle, code = add_device(net.engine, net.keys, "kit-indie", [KELURAHAN], net.broker.url)
    bundle_file = tmp_path / "kit-indie.bundle"
    bundle_file.write_bytes(bundle)
    residents = tmp_path / "residents.csv"
    write_synthetic_csv(residents, [KELURAHAN], 6, 3)
    worklist = make_worklist(net.engine, net.keys, "kit-indie", residents)
    _publish_retained(net.hq, net.broker.url, topic("kit-indie", Channel.WORKLIST),
                      worklist.data)
    device, provider_ca = _provider_pki(tmp_path)

    # the independent kit
    me = indie.provision(bundle_file, code, tmp_path / "indie")
    assert oct((me.keys / "device-signing.key").stat().st_mode & 0o777) == "0o600"
    kit = indie.Kit(me, audit_head={"seq": 7, "hash": hashlib.sha256(b"indie").hexdigest()})

    def run_the_kit() -> tuple[dict, bytes, dict]:  # type: ignore[type-arg]
        with indie.Session(kit) as link:
            link.publish(kit.topic("up/status"), kit.status("online"))
            roster = kit.read_worklist(link.receive("down/worklist"))
            manifest, files = indie.record_enrolment(kit, roster["residents"][0], device,
                                                     SCHEMA)
            packet = indie.seal_packet(kit, manifest, files)
            for frame in indie.chunk_frames(manifest["packet_id"], packet, 16 * 1024):
                link.publish(kit.topic("up/packet"), frame)
            ack = kit.read_ack(link.receive("down/ack"))
        return manifest, packet, ack

    async def scenario():  # type: ignore[no-untyped-def]
        async with net.running_ingest():
            result = await asyncio.to_thread(run_the_kit)
            await asyncio.to_thread(_until_offline, net.engine)
            return result

    manifest, packet, ack = asyncio.run(scenario())
    assert len(packet) > 3 * 16 * 1024  # it went in several chunk frames
    assert ack["status"] == "stored" and "reason" not in ack
    assert ack["packet_id"] == manifest["packet_id"]
    assert ack["sha256"] == hashlib.sha256(packet).hexdigest()

    store = PacketStore(net.engine)
    assert store.packet_data(manifest["packet_id"]) == packet
    assert store.list_dead_letters() == []  # every status and frame was taken
    inspection = inspect_packet(net.engine, net.keys, packet,
                                sbi_trust=SbiTrust.from_bundle(provider_ca))
    assert inspection.flags == ()
    assert inspection.manifest is not None
    assert inspection.manifest.to_dict() == manifest
    assert set(inspection.files) == {c["file"] for c in manifest["captures"]} | {
        c["evidence"] for c in manifest["captures"] if c["evidence"]}


def _until_offline(engine, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """The kit's goodbye status reached HQ (a heartbeat and the offline status were taken)."""
    from hq.fleet import device_overview

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {d.device_id: d.state for d in device_overview(engine)}
        if states.get("kit-indie") == "offline":
            return
        time.sleep(0.05)
    raise AssertionError(f"HQ never recorded the kit's offline status: {states}")
