"""The wire protocol, without a network: topics, chunk frames, reassembly, signed documents."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.errors import DocumentRejected, IntegrityError, RekamError
from edge.keys import signing_key_id
from sync.errors import ProtocolError
from sync.protocol.acks import Ack, AckStatus, sign_ack, verify_ack
from sync.protocol.chunks import assemble, decode_chunk, split_packet
from sync.protocol.config import ConfigUpdate, build_config, verify_config
from sync.protocol.status import (
    Report,
    Status,
    sign_report,
    sign_status,
    verify_report,
    verify_status,
)
from sync.protocol.topics import Channel, parse_topic, topic

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_topics_round_trip_and_refuse_strangers():
    assert topic("kit-a", Channel.PACKET) == "rekam/v1/kit-a/up/packet"
    assert parse_topic("rekam/v1/kit-a/down/ack") == ("kit-a", Channel.ACK)
    for bad in ("rekam/v2/kit-a/up/packet", "rekam/v1/kit-a/up/nope", "rekam/v1/+/up/packet",
                "rekam/v1/KIT/up/packet", "rekam/v1/kit-a/up/packet/x", ""):
        with pytest.raises(ProtocolError):
            parse_topic(bad)
    with pytest.raises(ProtocolError):
        topic("kit/#", Channel.PACKET)


@pytest.mark.parametrize("size", [1, 1000, 64 * 1024, 64 * 1024 + 1, 300_001])
def test_split_and_reassemble_in_any_order(size):
    data = os.urandom(size)
    chunks = list(split_packet("p-1", data, chunk_size=64 * 1024))
    assert len(chunks) == max(1, -(-size // (64 * 1024)))
    decoded = [decode_chunk(c.encode()) for c in reversed(chunks)]
    assert {c.sha256 for c in decoded} == {hashlib.sha256(data).hexdigest()}
    whole = assemble([(c.index, c.offset, c.data) for c in decoded], total=size,
                     count=len(chunks), sha256=chunks[0].sha256)
    assert whole == data


def test_resume_starts_at_a_chunk():
    data = os.urandom(200_000)
    rest = list(split_packet("p", data, chunk_size=65536, start=2))
    assert [c.index for c in rest] == [2, 3]
    assert rest[0].offset == 2 * 65536


def test_reassembly_refuses_gaps_and_wrong_hashes():
    data = os.urandom(150_000)
    chunks = list(split_packet("p", data, chunk_size=65536))
    pieces = [(c.index, c.offset, c.data) for c in chunks]
    with pytest.raises(ProtocolError, match="2 of 3"):
        assemble(pieces[:2], total=len(data), count=3, sha256=chunks[0].sha256)
    with pytest.raises(ProtocolError) as err:
        assemble(pieces, total=len(data), count=3, sha256="0" * 64)
    assert err.value.reason == "hash_mismatch"


def _frame(meta: bytes, data: bytes = b"x") -> bytes:
    return b"RKMC" + bytes([1]) + len(meta).to_bytes(2, "big") + meta + data


@pytest.mark.parametrize("payload", [
    b"", b"RKMC", b"XXXX\x01\x00\x02{}", _frame(b"not json"), _frame(b"[]"),
    _frame(b'{"packet_id":"p","sha256":"00","total":1,"count":1,"index":0,"offset":0}'),
    _frame(b'{"packet_id":"p/#","sha256":"' + b"0" * 64 + b'","total":1,"count":1,'
           b'"index":0,"offset":0}'),
    _frame(b'{"packet_id":"p","sha256":"' + b"0" * 64 + b'","total":1,"count":1,'
           b'"index":1,"offset":0}'),
    _frame(b'{"packet_id":"p","sha256":"' + b"0" * 64 + b'","total":1,"count":1,'
           b'"index":0,"offset":0,"extra":1}'),
    _frame(b'{"packet_id":"p","sha256":"' + b"0" * 64 + b'","total":"1","count":1,'
           b'"index":0,"offset":0}'),
    _frame(b'{"packet_id":"p","sha256":"' + b"0" * 64 + b'","total":5,"count":2,'
           b'"index":0,"offset":4}', b"xx"),
])
def test_malformed_frames_fail_in_one_line(payload):
    with pytest.raises(ProtocolError) as err:
        decode_chunk(payload)
    assert "\n" not in str(err.value)


def test_oversized_packets_are_refused():
    meta = (b'{"count":2,"index":0,"offset":0,"packet_id":"p","sha256":"' + b"0" * 64 +
            b'","total":999999999}')
    with pytest.raises(ProtocolError) as err:
        decode_chunk(_frame(meta), max_packet=10_000_000)
    assert err.value.reason == "oversized"
    with pytest.raises(ProtocolError) as err:
        decode_chunk(b"RKMC" + os.urandom(2 * 1024 * 1024))
    assert err.value.reason == "oversized"


@pytest.fixture
def hq_key():
    return ed25519.Ed25519PrivateKey.generate()


def _trusted(key):
    return {signing_key_id(key.public_key()): key.public_key()}


def test_ack_verifies_only_for_its_device_and_key(hq_key):
    ack = Ack("kit-a", "p-1", "a" * 64, AckStatus.STORED, NOW)
    data = sign_ack(ack, hq_key)
    assert verify_ack(data, trusted=_trusted(hq_key), device_id="kit-a") == ack
    with pytest.raises(DocumentRejected):
        verify_ack(data, trusted=_trusted(hq_key), device_id="kit-b")
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(IntegrityError):
        verify_ack(data, trusted=_trusted(other), device_id="kit-a")
    tampered = data.replace(b'"signature":"', b'"signature":"A', 1)
    with pytest.raises(RekamError):
        verify_ack(tampered, trusted=_trusted(hq_key), device_id="kit-a")
    # A status signed by the same key is not an ack (domain separation).
    status = sign_status(Status("kit-a", "online", NOW), hq_key)
    with pytest.raises(IntegrityError):
        verify_ack(status, trusted=_trusted(hq_key), device_id="kit-a")


def test_only_stored_and_duplicate_confirm_storage():
    assert Ack("k1", "p", "a" * 64, AckStatus.DUPLICATE, NOW).confirms_storage
    assert not Ack("k1", "p", "a" * 64, AckStatus.REJECTED, NOW, "bad").confirms_storage


def test_status_and_report_are_signed_by_the_device():
    device = ed25519.Ed25519PrivateKey.generate()
    status = Status("kit-a", "online", NOW, queue_depth=3, outbox={"sealed": 3})
    assert verify_status(sign_status(status, device), device_key=device.public_key(),
                         device_id="kit-a").queue_depth == 3
    report = Report("kit-a", NOW, "worklist", "staged", version=4)
    assert verify_report(sign_report(report, device), device_key=device.public_key(),
                         device_id="kit-a") == report
    with pytest.raises(IntegrityError):
        verify_status(sign_status(status, device),
                      device_key=ed25519.Ed25519PrivateKey.generate().public_key(),
                      device_id="kit-a")


def test_a_status_carries_the_audit_head_signed_and_well_formed():
    device = ed25519.Ed25519PrivateKey.generate()
    head = {"seq": 42, "hash": "ab" * 32}
    status = Status("kit-a", "online", NOW, audit_head=head)
    kw = {"device_key": device.public_key(), "device_id": "kit-a"}
    assert verify_status(sign_status(status, device), **kw).audit_head == head
    assert verify_status(sign_status(Status("kit-a", "online", NOW), device),
                         **kw).audit_head is None
    for bad in ({"seq": 0, "hash": "ab" * 32}, {"seq": True, "hash": "ab" * 32},
                {"seq": 3, "hash": "AB" * 32}, {"seq": 3}, [3, "ab" * 32],
                {"seq": 3, "hash": "ab" * 32, "extra": 1}):
        with pytest.raises(ProtocolError, match="audit_head"):
            verify_status(sign_status(Status("kit-a", "online", NOW, audit_head=bad),
                                      device), **kw)


def test_config_checks_version_expiry_device_and_whitelist(hq_key):
    update = ConfigUpdate("kit-a", 3, NOW, NOW + timedelta(days=1), {"disk_floor_mb": "300"})
    data = build_config(update, hq_key)
    kw = {"trusted": _trusted(hq_key), "device_id": "kit-a"}
    assert verify_config(data, current_version=2, now=NOW, **kw).settings == {
        "disk_floor_mb": "300"}
    with pytest.raises(DocumentRejected, match="not newer"):
        verify_config(data, current_version=3, now=NOW, **kw)
    with pytest.raises(DocumentRejected, match="expired"):
        verify_config(data, current_version=0, now=NOW + timedelta(days=2), **kw)
    with pytest.raises(DocumentRejected):
        verify_config(data, current_version=0, now=NOW, trusted=_trusted(hq_key),
                      device_id="kit-b")
    with pytest.raises(DocumentRejected, match="allow_simulated"):
        build_config(ConfigUpdate("kit-a", 4, NOW, NOW + timedelta(days=1),
                                  {"allow_simulated": "true"}), hq_key)


def test_a_status_carries_the_readiness_summary_checked_field_by_field():
    device = ed25519.Ed25519PrivateKey.generate()
    kw = {"device_key": device.public_key(), "device_id": "kit-a"}
    summary = {"checked_at": NOW.isoformat(), "ready": False, "devices": {"camera": "fail"},
               "failing": ["camera"], "paper": "low", "roster_age_days": 3}
    got = verify_status(sign_status(Status("kit-a", "online", NOW, readiness=summary),
                                    device), **kw).readiness
    assert got is not None and got["devices"] == {"camera": "fail"} and got["paper"] == "low"
    for bad in ({**summary, "ready": "yes"}, {**summary, "paper": "<b>"},
                {**summary, "devices": {"camera": "on fire"}}, {**summary, "checked_at": "x"},
                {**summary, "roster_age_days": -1}, ["ready"]):
        with pytest.raises(ProtocolError, match="readiness"):
            verify_status(sign_status(Status("kit-a", "online", NOW, readiness=bad),
                                      device), **kw)
