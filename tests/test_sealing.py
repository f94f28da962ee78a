"""Sealed packets: only HQ can open them, the kit cannot, and any change is detected."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from edge.errors import IntegrityError, InvalidInput
from edge.keys import SealingPrivateKey
from edge.packet import (
    SUITE_NAME,
    Manifest,
    _split,
    open_packet,
    read_header,
    seal,
    verify_packet,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _manifest() -> Manifest:
    return Manifest(
        packet_id="01936c4e-0000-7000-8000-000000000001", nik="3275014101050001",
        kelurahan="32.75.01.1001",
        device_id="kit-01", operator_id="op01", service_point="Balai RW 05",
        started_at=NOW.isoformat(), sealed_at=NOW.isoformat(), software_version="test",
    )


@pytest.fixture(scope="module")
def keys():
    return SealingPrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def sealed(keys):
    hq, device = keys
    images = {"face.jpeg": os.urandom(30_000), "finger_right_index.jp2": os.urandom(12_000)}
    return seal(_manifest(), images, hq_key=hq.public(), device_key=device, created_at=NOW), images


def test_hq_opens_what_the_kit_sealed(keys, sealed):
    hq, device = keys
    packet, images = sealed
    opened = open_packet(packet.data, hq_key=hq, device_key=device.public_key())
    assert opened.manifest.nik == "3275014101050001"
    assert opened.images == images
    assert opened.header.suite == SUITE_NAME
    assert opened.header.hq_key_id == hq.public().key_id


def test_header_carries_no_personal_data(sealed):
    packet, _ = sealed
    header = read_header(packet.data)
    assert "3275014101050001" not in header.to_bytes().decode()
    assert b"3275014101050001" not in packet.data  # the NIK is only inside the ciphertext


def test_the_kits_own_keys_cannot_open_a_packet(keys, sealed):
    """The kit holds its Ed25519 key and HQ's *public* sealing key; neither decrypts."""
    _, device = keys
    packet, _ = sealed
    parts = _split(packet.data)
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                       hpke.AEAD.CHACHA20_POLY1305)
    # The device signing key, reinterpreted as an X25519 key, with a random ML-KEM half.
    impostor = hpke.MLKEM768X25519PrivateKey(
        mlkem.MLKEM768PrivateKey.generate(),
        x25519.X25519PrivateKey.from_private_bytes(device.private_bytes_raw()),
    )
    with pytest.raises(InvalidTag):
        suite.decrypt(parts.ciphertext, impostor, info=parts.header_bytes)
    other_hq = SealingPrivateKey.generate()
    with pytest.raises(IntegrityError):
        open_packet(packet.data, hq_key=other_hq, device_key=device.public_key())


def test_a_flipped_bit_anywhere_is_detected(keys, sealed):
    hq, device = keys
    packet, _ = sealed
    data = packet.data
    # Every region: magic, lengths, header, ciphertext start/middle/end, signature.
    positions = [0, 4, 6, 12, 40, 200, len(data) // 2, len(data) - 70, len(data) - 1]
    for pos in positions:
        for bit in (0, 7):
            tampered = bytearray(data)
            tampered[pos] ^= 1 << bit
            with pytest.raises((IntegrityError, InvalidInput)):
                open_packet(bytes(tampered), hq_key=hq, device_key=device.public_key())


def test_signature_from_another_kit_is_rejected(sealed):
    packet, _ = sealed
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(IntegrityError):
        verify_packet(packet.data, other.public_key())


def test_ciphertext_cannot_be_moved_under_another_header(keys, sealed):
    """HPKE binds the header through ``info``: re-signing a changed header does not help."""
    hq, device = keys
    packet, _ = sealed
    parts = _split(packet.data)
    forged_header = parts.header_bytes.replace(b"kit-01", b"kit-02")
    import struct

    body = (b"RKMP" + struct.pack(">BI", 1, len(forged_header)) + forged_header
            + struct.pack(">I", len(parts.ciphertext)) + parts.ciphertext)
    forged = body + device.sign(body)
    with pytest.raises(IntegrityError):
        open_packet(forged, hq_key=hq, device_key=device.public_key())


def test_garbage_is_a_clear_error():
    with pytest.raises(InvalidInput, match="not a Rekam packet"):
        read_header(b"hello")
