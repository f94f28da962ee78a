"""The outbox: durable, streamed, acked only on a matching hash, purged after a grace."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from edge.clock import FakeClock
from edge.errors import AlreadyExists, IntegrityError, NotFound
from edge.kitdb import connect
from edge.outbox import Outbox, PacketState
from edge.packet import SealedPacket


@pytest.fixture
def clock():
    from datetime import UTC, datetime

    return FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))


@pytest.fixture
def outbox(tmp_path, clock):
    conn = connect(tmp_path / "kit.db")
    box = Outbox(conn, clock=clock)
    box.ensure_schema()
    yield box
    conn.close()


def _packet(n: int) -> SealedPacket:
    return SealedPacket(f"0193-{n:04d}", os.urandom(1000 + n))


def test_states_move_sealed_sent_acked_purged(outbox, clock):
    p = _packet(1)
    outbox.add(p)
    assert outbox.get(p.packet_id).state is PacketState.SEALED
    outbox.mark_sent(p.packet_id)
    assert outbox.get(p.packet_id).state is PacketState.SENT
    assert outbox.mark_acked(p.packet_id, p.sha256) is True
    assert outbox.mark_acked(p.packet_id, p.sha256) is False  # a repeated ack changes nothing
    assert outbox.purge_acked(grace=timedelta(hours=1)) == 0  # still inside the grace period
    clock.advance(timedelta(hours=2))
    assert outbox.purge_acked(grace=timedelta(hours=1)) == 1
    entry = outbox.get(p.packet_id)
    assert entry.state is PacketState.PURGED
    with pytest.raises(NotFound, match="purged"):
        outbox.data(p.packet_id)


def test_an_ack_with_another_hash_keeps_the_packet(outbox):
    p = _packet(2)
    outbox.add(p)
    outbox.mark_sent(p.packet_id)
    with pytest.raises(IntegrityError):
        outbox.mark_acked(p.packet_id, "0" * 64)
    assert outbox.get(p.packet_id).state is PacketState.SENT


def test_durable_across_reopen(tmp_path, clock):
    conn = connect(tmp_path / "kit.db")
    box = Outbox(conn, clock=clock)
    box.ensure_schema()
    p = _packet(3)
    box.add(p)
    conn.close()
    conn = connect(tmp_path / "kit.db")
    assert Outbox(conn).data(p.packet_id) == p.data
    conn.close()


def test_same_packet_twice_is_refused(outbox):
    p = _packet(4)
    outbox.add(p)
    with pytest.raises(AlreadyExists):
        outbox.add(p)


def test_pending_is_oldest_first_and_resends_overdue(outbox, clock):
    packets = [_packet(n) for n in range(5, 9)]
    for p in packets:
        outbox.add(p)
        clock.advance(timedelta(seconds=1))
    outbox.mark_sent(packets[0].packet_id)
    pending = outbox.pending(resend_after=timedelta(minutes=5))
    assert [e.packet_id for e in pending] == [p.packet_id for p in packets[1:]]
    clock.advance(timedelta(minutes=6))
    pending = outbox.pending(resend_after=timedelta(minutes=5))
    assert pending[0].packet_id == packets[0].packet_id
    assert outbox.counts()["sealed"] == 3 and outbox.counts()["sent"] == 1


def test_export_by_prefix(outbox):
    p = _packet(9)
    outbox.add(p)
    assert outbox.find("0193-0009").packet_id == p.packet_id
    outbox.add(_packet(90))
    with pytest.raises(NotFound, match="more than one"):
        outbox.find("0193-00")


def test_state_changes_leave_the_ciphertext_alone_and_old_kits_migrate(tmp_path, clock):
    """The bytes live apart from the row whose state changes twice per packet (a 200 KB
    rewrite each time otherwise); an outbox from an older kit moves them over once."""
    conn = connect(tmp_path / "kit.db")
    conn.execute(
        "CREATE TABLE outbox (packet_id TEXT PRIMARY KEY, state TEXT NOT NULL, size INTEGER "
        "NOT NULL, sha256 TEXT NOT NULL, created_at TEXT NOT NULL, sent_at TEXT, acked_at "
        "TEXT, purged_at TEXT, send_count INTEGER NOT NULL DEFAULT 0, data BLOB)")
    old = _packet(42)
    conn.execute("INSERT INTO outbox (packet_id, state, size, sha256, created_at, data) "
                 "VALUES (?, 'sealed', ?, ?, ?, ?)",
                 (old.packet_id, old.size, old.sha256, clock().isoformat(), old.data))
    box = Outbox(conn, clock=clock)
    box.ensure_schema()
    assert box.data(old.packet_id) == old.data
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE data IS NOT NULL").fetchone()[0] == 0
    box.mark_sent(old.packet_id)
    assert box.mark_acked(old.packet_id, old.sha256)
    assert box.purge_acked(grace=timedelta(0)) == 1
    assert conn.execute("SELECT COUNT(*) FROM outbox_data").fetchone()[0] == 0
    conn.close()


def test_received_by_hq_counts_stay_true_across_a_purge(outbox, clock):
    from datetime import datetime

    from edge.clock import WIB

    for n in range(3):
        p = _packet(10 + n)
        outbox.add(p)
        outbox.mark_sent(p.packet_id)
        if n < 2:
            outbox.mark_acked(p.packet_id, p.sha256)  # 15:00 WIB on the 24th
    clock.advance(timedelta(hours=12))  # 03:00 WIB on the 25th: a new day at the kit
    late = _packet(20)
    outbox.add(late)
    outbox.mark_acked(late.packet_id, late.sha256)
    midnight = datetime(2026, 11, 25, tzinfo=WIB)
    assert (outbox.received(since=midnight), outbox.received()) == (1, 3)
    clock.advance(timedelta(hours=1))
    assert outbox.purge_acked(grace=timedelta(0)) == 3
    assert outbox.counts()["acked"] == 0  # what the Sync screen once showed: 0
    assert (outbox.received(since=midnight), outbox.received()) == (1, 3)
