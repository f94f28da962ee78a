"""The audit log: append-only, hash-chained; edits, deletions and reordering are found."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from edge.audit import ZERO_HASH, AuditLog, atomic, entry_hash
from edge.canonical import canonical_json
from edge.clock import FakeClock
from edge.errors import InvalidInput
from edge.kitdb import connect
from edge.operators import Role


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))


@pytest.fixture
def conn(tmp_path):
    c = connect(tmp_path / "kit.db")
    yield c
    c.close()


@pytest.fixture
def log(conn, clock):
    audit = AuditLog(conn, clock=clock)
    audit.ensure_schema()
    return audit


def _fill(log, clock, n):
    for i in range(1, n + 1):
        log.append("siti", "enrolment_sealed", packet_id=f"p-{i}", size=1000 + i)
        clock.advance(timedelta(seconds=30))


def _as_attacker(conn, *statements):
    """What someone with the file does: drop the guards, then edit."""
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    conn.execute("DROP TRIGGER IF EXISTS audit_only_at_head")
    for sql, params in statements:
        conn.execute(sql, params)


def _assert_one_line(report):
    assert report.problem and "\n" not in report.problem


# --- writing ------------------------------------------------------------------------------


def test_entries_form_a_chain_from_64_zeros(log, clock):
    first = log.append("siti", "login")
    clock.advance(timedelta(minutes=1))
    second = log.append("siti", "roster_imported", version=3, residents=120)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == ZERO_HASH and second.prev_hash == first.hash
    body = {"seq": 2, "at": "2026-11-24T08:01:00+00:00", "actor": "siti",
            "action": "roster_imported", "detail": {"residents": 120, "version": 3}}
    expected = hashlib.sha256(first.hash.encode() + canonical_json(body)).hexdigest()
    assert second.hash == expected
    assert entry_hash(first.hash, 2, "2026-11-24T08:01:00+00:00", "siti", "roster_imported",
                      {"version": 3, "residents": 120}) == expected
    assert log.head() == (2, second.hash)
    assert list(log.entries()) == [first, second]
    assert list(log.entries(since_seq=1)) == [second]


def test_an_empty_log_has_a_zero_head_and_verifies(log):
    assert log.head() == (0, ZERO_HASH)
    report = log.verify()
    assert report.ok and report.count == 0 and report.problem is None


def test_detail_is_stored_as_plain_json(log, clock):
    entry = log.append("siti", "approval", role=Role.SUPERVISOR, until=clock(),
                       fingers=("left_thumb", "right_index"))
    assert entry.detail == {"role": "supervisor", "until": "2026-11-24T08:00:00+00:00",
                            "fingers": ["left_thumb", "right_index"]}
    assert next(log.entries()) == entry
    assert log.verify().ok


@pytest.mark.parametrize("detail", [{"pin": "483920"}, {"new_pin": "1"}, {"roster_key": "x"},
                                    {"template": b"\x00\x01"}, {"x": object()}])
def test_detail_refuses_secrets_and_raw_bytes(log, detail):
    with pytest.raises(InvalidInput):
        log.append("siti", "login", **detail)
    assert log.head()[0] == 0


def test_update_and_delete_are_refused_by_the_database(log, conn, clock):
    _fill(log, clock, 3)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'budi' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("INSERT INTO audit VALUES (2, 'x', 'x', 'x', '{}', ?, ?)",
                     (ZERO_HASH, ZERO_HASH))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("INSERT INTO audit VALUES (9, 'x', 'x', 'x', '{}', ?, ?)",
                     (log.head()[1], ZERO_HASH))
    assert log.verify().ok and log.verify().count == 3


def test_ensure_schema_restores_dropped_triggers(log, conn, clock):
    _fill(log, clock, 2)
    conn.execute("DROP TRIGGER audit_no_delete")
    log.ensure_schema()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM audit")


def test_atomic_rolls_back_the_callers_change_with_its_audit_entry(log, conn):
    conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError), atomic(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        log.append("siti", "something")
        raise RuntimeError("boom")
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    assert log.head()[0] == 0
    with atomic(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        log.append("siti", "something")
    assert log.head()[0] == 1 and not conn.in_transaction


def test_works_on_a_connection_in_pythons_default_transaction_mode(tmp_path, clock):
    conn = sqlite3.connect(tmp_path / "legacy.db")  # isolation_level="" (implicit BEGIN)
    log = AuditLog(conn, clock=clock)
    log.ensure_schema()
    _fill(log, clock, 3)
    conn.close()
    reopened = AuditLog(sqlite3.connect(tmp_path / "legacy.db"))
    assert reopened.verify().count == 3


# --- verifying ----------------------------------------------------------------------------


def test_an_edited_entry_is_found(log, conn, clock):
    _fill(log, clock, 20)
    _as_attacker(conn, ("UPDATE audit SET detail = ? WHERE seq = 17",
                        ('{"packet_id":"p-99","size":1017}',)))
    report = log.verify()
    assert not report.ok and report.seq == 17 and report.count == 16
    assert report.problem == "entry 17 was changed after it was written"


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_link_to_the_next(log, conn, clock):
    _fill(log, clock, 5)
    e3 = list(log.entries())[2]
    forged = entry_hash(e3.prev_hash, 3, e3.at.isoformat(), "budi", e3.action, e3.detail)
    _as_attacker(conn, ("UPDATE audit SET actor = 'budi', hash = ? WHERE seq = 3", (forged,)))
    report = log.verify()
    assert not report.ok and report.seq == 4
    assert "entry 4 does not follow entry 3" in report.problem
    _assert_one_line(report)


def test_a_deleted_entry_is_found(log, conn, clock):
    _fill(log, clock, 6)
    _as_attacker(conn, ("DELETE FROM audit WHERE seq = 4", ()))
    report = log.verify()
    assert not report.ok and report.seq == 4 and report.count == 3
    assert report.problem == "entry 4 is missing: it was deleted"


def test_deleted_oldest_entries_are_found(log, conn, clock):
    _fill(log, clock, 6)
    _as_attacker(conn, ("DELETE FROM audit WHERE seq <= 2", ()))
    report = log.verify()
    assert not report.ok and report.seq == 1
    assert report.problem == "entries 1 to 2 are missing: they were deleted"


def test_a_deleted_entry_hidden_by_renumbering_is_found(log, conn, clock):
    _fill(log, clock, 6)
    _as_attacker(conn, ("DELETE FROM audit WHERE seq = 4", ()),
                 ("UPDATE audit SET seq = seq - 1 WHERE seq > 4", ()))
    report = log.verify()
    assert not report.ok and report.seq == 4
    _assert_one_line(report)


def test_reordered_entries_are_found(log, conn, clock):
    _fill(log, clock, 6)
    _as_attacker(conn, ("UPDATE audit SET seq = 100 WHERE seq = 3", ()),
                 ("UPDATE audit SET seq = 3 WHERE seq = 4", ()),
                 ("UPDATE audit SET seq = 4 WHERE seq = 100", ()))
    report = log.verify()
    assert not report.ok and report.seq == 3
    assert report.problem == "entries were reordered: entry 3 was written after entry 4"


def test_truncation_is_found_only_against_the_head_hq_has_seen(log, conn, clock):
    _fill(log, clock, 8)
    anchor = log.head()
    assert log.verify(expected_head=anchor).ok
    _as_attacker(conn, ("DELETE FROM audit WHERE seq > 6", ()))
    assert log.verify().ok  # the rest is still a valid chain
    report = log.verify(expected_head=anchor)
    assert not report.ok and report.seq == 7
    assert report.problem == (
        "the log ends at entry 6 but HQ has seen entry 8: the newest entries were removed"
    )


def test_a_rewritten_tail_is_found_against_the_anchor(log, conn, clock):
    _fill(log, clock, 5)
    anchor = log.head()
    # Rewrite entry 5 with a correct hash: the chain alone cannot tell.
    e5 = list(log.entries())[4]
    forged = entry_hash(e5.prev_hash, 5, e5.at.isoformat(), e5.actor, e5.action, {"size": 1})
    _as_attacker(conn, ("UPDATE audit SET detail = '{\"size\":1}', hash = ? WHERE seq = 5",
                        (forged,)))
    assert log.verify().ok
    report = log.verify(expected_head=anchor)
    assert not report.ok and report.seq == 5
    assert report.problem == "entry 5 is not the one HQ has seen: the log was rewritten"
    # Appending after an older anchor is fine.
    log.ensure_schema()
    log.append("siti", "login")
    assert log.verify(expected_head=(3, list(log.entries())[2].hash)).ok


def test_an_unreadable_entry_counts_as_changed(log, conn, clock):
    _fill(log, clock, 3)
    _as_attacker(conn, ("UPDATE audit SET detail = 'not json' WHERE seq = 2", ()))
    report = log.verify()
    assert report.problem == "entry 2 was changed after it was written"
