"""The forms docs/protocol/ and sync/PROTOCOL.md give are what the code enforces, exactly:
a pattern matches the whole value (a trailing newline is not a device id), and a status
whose member breaks its documented type or length is refused as bad_status, with a dead
letter, instead of failing in HQ's database."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime

import pytest

from edge.canonical import canonical_json
from edge.config import KitPaths
from edge.errors import InvalidInput
from edge.kit import Kit, install_bundle
from edge.operators import KdfParams
from edge.packet import PacketHeader
from edge.provisioning import open_bundle
from edge.signing import sign_document
from sync.errors import ProtocolError
from sync.protocol.chunks import Chunk, decode_chunk
from sync.protocol.status import Status, sign_status, verify_status
from sync.protocol.topics import Channel, parse_topic, topic

KELURAHAN = "32.75.01.1001"
HEADER = PacketHeader(format="rekam-packet/1",
                      suite="MLKEM768X25519/HKDF-SHA256/CHACHA20POLY1305",
                      hq_key_id="0123456789abcdef", device_id="kit-a",
                      device_key_id="fedcba9876543210", packet_id="p-1",
                      created_at="2026-03-04T05:06:07.123456+00:00")


@pytest.mark.parametrize("field", ["format", "suite", "hq_key_id", "device_id",
                                   "device_key_id", "packet_id", "created_at"])
def test_a_header_member_with_a_trailing_newline_is_refused(field):
    HEADER.check()
    bad = replace(HEADER, **{field: getattr(HEADER, field) + "\n"})
    with pytest.raises(InvalidInput, match=f"field {field} is not"):
        bad.check()


def test_created_at_takes_at_most_six_decimals_and_a_zone():
    replace(HEADER, created_at="2026-03-04T05:06:07Z").check()
    for bad in ("2026-03-04T05:06:07.123456789+00:00", "2026-03-04T05:06:07",
                "2026-03-04 05:06:07+00:00"):
        with pytest.raises(InvalidInput, match="created_at"):
            replace(HEADER, created_at=bad).check()


def test_chunk_frames_and_topics_take_whole_ids_only():
    chunk = Chunk("p-1\n", "a" * 64, 3, 1, 0, 0, b"abc")
    with pytest.raises(ProtocolError, match="no valid packet id"):
        decode_chunk(chunk.encode())
    with pytest.raises(ProtocolError, match="sha256"):
        decode_chunk(replace(chunk, packet_id="p-1", sha256="a" * 64 + "\n").encode())
    with pytest.raises(ProtocolError, match="not a device id"):
        parse_topic("rekam/v1/kit-a\n/up/packet")


def test_hq_registers_no_device_id_with_a_trailing_newline(hq_home):
    from hq.db import make_engine
    from hq.devices import add_device

    engine = make_engine(hq_home.database_url())
    try:
        with pytest.raises(InvalidInput, match="device id"):
            add_device(engine, hq_home.keys(), "kit-a\n", [KELURAHAN], "mqtts://localhost:1")
    finally:
        engine.dispose()


# --- status bodies ------------------------------------------------------------------------


@pytest.fixture
def kit(hq_home, tmp_path):
    from hq.db import make_engine
    from hq.devices import add_device

    engine = make_engine(hq_home.database_url())
    bundle, code = add_device(engine, hq_home.keys(), "kit-a", [KELURAHAN],
                              "mqtts://localhost:1")
    install_bundle(KitPaths(tmp_path / "kit-a"), open_bundle(bundle, code))
    k = Kit(tmp_path / "kit-a", kdf=KdfParams(memory_kib=8192, iterations=1))
    yield k
    k.close()
    engine.dispose()


@pytest.fixture
def ingestor(kit, hq_home):
    from hq.db import make_engine
    from hq.ingest import Ingestor

    engine = make_engine(hq_home.database_url())
    yield Ingestor(engine, hq_home.keys())
    engine.dispose()


def _signed(kit, **members):  # type: ignore[no-untyped-def]
    body = Status("kit-a", "online", datetime.now(UTC), session="s").to_body()
    body.update(members)
    return sign_document("status", canonical_json(body), kit.device_key())


def test_a_fresh_kit_s_status_as_documented_verifies(kit):
    status = Status("kit-a", "offline", datetime.now(UTC), software_version="0.1.0",
                    session=datetime.now(UTC).isoformat())
    got = verify_status(sign_status(status, kit.device_key()),
                        device_key=kit.device_key().public_key(), device_id="kit-a")
    assert got == status
    assert asdict(got)["roster_version"] is None and got.config_version == 0
    # members this version does not know are ignored
    assert verify_status(_signed(kit, readiness_future={"x": 1}),
                         device_key=kit.device_key().public_key(), device_id="kit-a")


@pytest.mark.parametrize("member,value,words", [
    ("roster_version", "3", "roster_version is not an integer"),
    ("queue_depth", True, "queue_depth is not an integer"),
    ("queue_depth", 2**31, "queue_depth is not an integer"),
    ("free_disk_mb", -1, "free_disk_mb is not an integer"),
    ("config_version", None, "config_version is null"),
    ("software_version", "1" * 33, "software_version is not text of at most 32"),
    ("session", "s\n", "session is not text"),
    ("oldest_queued", 5, "oldest_queued is not text"),
    ("outbox", {"sealed": "1"}, "sealed is not an integer"),
    ("outbox", [1], "outbox is not an object"),
])
def test_a_status_member_of_another_type_or_length_is_refused(kit, member, value, words):
    with pytest.raises(ProtocolError, match=words):
        verify_status(_signed(kit, **{member: value}),
                      device_key=kit.device_key().public_key(), device_id="kit-a")


def test_ingest_dead_letters_a_malformed_status_instead_of_failing_in_the_database(
        kit, ingestor):
    from hq.packets import PacketStore

    assert ingestor.handle(topic("kit-a", Channel.STATUS),
                           _signed(kit, software_version="x" * 33)) is None
    assert PacketStore(ingestor.engine).dead_letter_counts() == {"bad_status": 1}
    assert ingestor.counts["db_error"] == 0


def test_a_report_subject_or_result_longer_than_its_column_is_refused(kit):
    from sync.protocol.status import Report, sign_report, verify_report

    key, now = kit.device_key(), datetime.now(UTC)
    ok = Report("kit-a", now, "worklist_key", "made", version=None, detail="d")
    assert verify_report(sign_report(ok, key), device_key=key.public_key(),
                         device_id="kit-a") == ok
    for bad in (replace(ok, subject="s" * 17), replace(ok, result="")):
        with pytest.raises(ProtocolError, match="is not text of 1 to 16"):
            verify_report(sign_report(bad, key), device_key=key.public_key(),
                          device_id="kit-a")
