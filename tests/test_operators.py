"""Operators: PIN policy, roles, lockout, the wrapped roster key, and the audit of it all."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

import edge.operator_store as operator_store_module
from edge.audit import AuditLog
from edge.clock import FakeClock
from edge.errors import (
    AlreadyExists,
    IntegrityError,
    InvalidInput,
    LockedOut,
    NotAllowed,
    NotFound,
    OperatorDisabled,
    WrongPIN,
)
from edge.kitdb import connect
from edge.operator_store import OperatorStore
from edge.operators import (
    KdfParams,
    LockoutPolicy,
    Operator,
    Role,
    Session,
    check_pin,
)

SITI_PIN = "483920"  # supervisor
BUDI_PIN = "571846"  # operator
WRONG_PIN = "902817"
START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


class Kit:
    """kit.db opened the way the kit opens it, with a store on it; ``reopen`` is a restart."""

    def __init__(self, path, clock, kdf=KdfParams.FAST_FOR_TESTS):
        self.path, self.clock, self.kdf = path, clock, kdf
        self.conn = connect(path)
        self.audit = AuditLog(self.conn, clock=clock)
        self.audit.ensure_schema()
        self.store = OperatorStore(self.conn, self.audit, kdf=kdf, clock=clock)
        self.store.ensure_schema()

    def reopen(self, kdf=None):
        self.conn.close()
        self.__init__(self.path, self.clock, kdf or self.kdf)
        return self

    def actions(self):
        return [(e.actor, e.action) for e in self.audit.entries()]


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def kit(tmp_path, clock):
    k = Kit(tmp_path / "kit.db", clock)
    yield k
    k.conn.close()


@pytest.fixture
def staffed(kit):
    """siti (supervisor, the first operator) and budi (operator), added by siti."""
    kit.store.add("siti", "Siti Rahma", Role.SUPERVISOR, SITI_PIN, by=None)
    siti = kit.store.authenticate("siti", SITI_PIN)
    kit.store.add("budi", "Budi Santoso", Role.OPERATOR, BUDI_PIN, by=siti)
    return kit


def _siti(kit) -> Session:
    return kit.store.authenticate("siti", SITI_PIN)


# --- policies -----------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["12345", "1234567890123", "111111", "999999999", "123456",
                                 "654321", "3456789", "890123", "210987", "12a456", " 483920",
                                 "483920\n", "١٢٣٤٥٦", ""])
def test_weak_or_malformed_pins_are_refused_without_repeating_them(pin):
    with pytest.raises(InvalidInput) as exc:
        check_pin(pin)
    assert "\n" not in str(exc.value)
    assert not pin.strip() or pin.strip() not in str(exc.value)


@pytest.mark.parametrize("pin", ["483920", "112233", "135790", "000001", "902817364501"])
def test_ordinary_pins_pass(pin):
    check_pin(pin)


@pytest.mark.parametrize("operator_id", ["a", "Siti", "siti rahma", "x" * 33, "siti!", ""])
def test_operator_ids_are_short_lowercase_tokens(kit, operator_id):
    with pytest.raises(InvalidInput):
        kit.store.add(operator_id, "Siti", Role.SUPERVISOR, SITI_PIN, by=None)
    assert kit.store.count() == 0


def test_a_duplicate_id_is_refused(staffed):
    with pytest.raises(AlreadyExists):
        staffed.store.add("budi", "Budi Lain", Role.OPERATOR, "692047", by=_siti(staffed))


def test_kdf_test_preset_is_cheaper_than_the_default():
    fast, default = KdfParams.FAST_FOR_TESTS, KdfParams()
    assert (default.memory_kib, default.iterations, default.lanes) == (65536, 3, 1)
    assert fast.memory_kib < default.memory_kib
    with pytest.raises(InvalidInput):
        KdfParams(memory_kib=4, iterations=1)


# --- the first operator and roles ---------------------------------------------------------


def test_the_first_operator_must_be_able_to_add_the_others(kit):
    with pytest.raises(NotAllowed, match="first operator must be a supervisor or technician"):
        kit.store.add("budi", "Budi", Role.OPERATOR, BUDI_PIN, by=None)
    tech = kit.store.add("teguh", "Teguh", Role.TECHNICIAN, "740152", by=None)
    assert tech.role is Role.TECHNICIAN and kit.store.count() == 1
    assert kit.actions() == [("teguh", "operator_added")]


def test_later_operators_need_a_supervisor_or_technician_session(staffed):
    store = staffed.store
    with pytest.raises(NotAllowed):
        store.add("rina", "Rina", Role.OPERATOR, "692047", by=None)
    budi = store.authenticate("budi", BUDI_PIN)
    with pytest.raises(NotAllowed, match="supervisor or technician"):
        store.add("rina", "Rina", Role.OPERATOR, "692047", by=budi)
    assert [o.id for o in store.list()] == ["siti", "budi"]


def test_a_forged_session_cannot_add_operators(staffed):
    siti = staffed.store.get("siti")
    forged = Session(operator=siti, roster_key=os.urandom(32))
    with pytest.raises(NotAllowed, match="roster key"):
        staffed.store.add("rina", "Rina", Role.SUPERVISOR, "692047", by=forged)


def test_approval_needs_the_role_and_the_pin(staffed):
    store = staffed.store
    approver = store.approve("siti", SITI_PIN, purpose="missing finger: right thumb")
    assert approver.id == "siti"
    with pytest.raises(NotAllowed, match="needs a supervisor"):
        store.approve("budi", BUDI_PIN, purpose="missing finger")
    assert store.get("budi").failures == 0  # refused on role, no attempt spent
    with pytest.raises(WrongPIN):
        store.approve("siti", WRONG_PIN, purpose="missing finger")
    assert store.get("siti").failures == 1
    entries = list(staffed.audit.entries())
    approval = next(e for e in entries if e.action == "approval")
    assert approval.actor == "siti"
    assert approval.detail == {"purpose": "missing finger: right thumb"}
    assert [e.action for e in entries[-2:]] == ["approval_refused", "login_failed"]
    assert entries[-1].detail["purpose"] == "missing finger"


def test_a_technician_may_approve_when_the_caller_allows_it(staffed):
    staffed.store.add("teguh", "Teguh", Role.TECHNICIAN, "740152", by=_siti(staffed))
    with pytest.raises(NotAllowed):
        staffed.store.approve("teguh", "740152", purpose="x")
    op = staffed.store.approve("teguh", "740152", roles=(Role.SUPERVISOR, Role.TECHNICIAN),
                               purpose="x")
    assert op.role is Role.TECHNICIAN


# --- the roster key -----------------------------------------------------------------------


def test_every_operator_unwraps_the_same_roster_key(staffed):
    siti = staffed.store.authenticate("siti", SITI_PIN)
    budi = staffed.store.authenticate("budi", BUDI_PIN)
    assert len(siti.roster_key) == 32 and siti.roster_key == budi.roster_key
    assert budi.operator.role is Role.OPERATOR


def test_a_session_never_shows_its_key(staffed):
    session = _siti(staffed)
    assert "roster_key" not in repr(session) and session.roster_key.hex() not in repr(session)
    assert repr(session.roster_key) not in repr(session) and str(session) == repr(session)


def test_the_database_holds_neither_pins_nor_the_roster_key(staffed, tmp_path):
    key = _siti(staffed).roster_key
    with pytest.raises(WrongPIN):
        staffed.store.authenticate("budi", WRONG_PIN)
    staffed.store.change_pin("budi", BUDI_PIN, "736158")
    staffed.conn.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("kit.db"))
    assert b"siti" in data  # the check can see the content
    for pin in (SITI_PIN, BUDI_PIN, WRONG_PIN, "736158"):
        assert pin.encode() not in data
    assert key not in data and key.hex().encode() not in data
    staffed.reopen()


def test_wraps_cannot_be_swapped_between_operators(staffed):
    staffed.conn.execute(
        "UPDATE operators SET (salt, nonce, wrapped_key) = "
        "(SELECT salt, nonce, wrapped_key FROM operators WHERE id = 'budi') WHERE id = 'siti'"
    )
    with pytest.raises(WrongPIN):  # budi's wrap is bound to budi's id
        staffed.store.authenticate("siti", BUDI_PIN)


def test_a_row_copied_from_another_kit_is_refused(staffed, tmp_path, clock):
    other = Kit(tmp_path / "other.db", clock)
    other.store.add("siti", "Siti", Role.SUPERVISOR, "271828", by=None)
    row = other.conn.execute(
        "SELECT salt, nonce, wrapped_key FROM operators WHERE id = 'siti'").fetchone()
    other.conn.close()
    staffed.conn.execute("UPDATE operators SET salt = ?, nonce = ?, wrapped_key = ? "
                         "WHERE id = 'siti'", row)
    with pytest.raises(IntegrityError, match="not this kit's roster key"):
        staffed.store.authenticate("siti", "271828")


def test_change_pin_rewraps_the_same_key(staffed):
    before = _siti(staffed).roster_key
    with pytest.raises(InvalidInput):
        staffed.store.change_pin("siti", SITI_PIN, "111111")
    with pytest.raises(WrongPIN):
        staffed.store.change_pin("siti", WRONG_PIN, "736158")
    staffed.store.change_pin("siti", SITI_PIN, "736158")
    with pytest.raises(WrongPIN):
        staffed.store.authenticate("siti", SITI_PIN)
    assert staffed.store.authenticate("siti", "736158").roster_key == before
    assert ("siti", "pin_changed") in staffed.actions()


def test_changing_the_kdf_defaults_keeps_old_pins_working(staffed):
    stronger = KdfParams(memory_kib=16384, iterations=2)
    staffed.reopen(kdf=stronger)
    key = staffed.store.authenticate("budi", BUDI_PIN).roster_key
    staffed.store.change_pin("budi", BUDI_PIN, "736158")  # rewraps under the new defaults
    params = staffed.conn.execute(
        "SELECT kdf_memory_kib, kdf_iterations FROM operators WHERE id = ?", ("budi",)
    ).fetchone()
    assert params == (16384, 2)
    assert staffed.store.authenticate("budi", "736158").roster_key == key


# --- lockout ------------------------------------------------------------------------------


def test_five_wrong_pins_lock_out_for_five_minutes(staffed, clock):
    store = staffed.store
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPIN) as exc:
            store.authenticate("budi", WRONG_PIN)
        assert exc.value.attempts_left == left
        clock.advance(timedelta(seconds=10))
    with pytest.raises(LockedOut) as exc:
        store.authenticate("budi", WRONG_PIN)
    until = START + timedelta(seconds=40) + timedelta(minutes=5)
    assert exc.value.until == until
    assert store.get("budi").locked_until == until
    clock.advance(timedelta(minutes=4, seconds=59))
    with pytest.raises(LockedOut):
        store.authenticate("budi", BUDI_PIN)  # even the right PIN
    clock.advance(timedelta(seconds=1))
    session = store.authenticate("budi", BUDI_PIN)
    assert session.operator.failures == 0 and session.operator.locked_until is None


def test_a_locked_operator_is_refused_without_running_argon2(staffed, clock, monkeypatch):
    store = OperatorStore(staffed.conn, staffed.audit, kdf=KdfParams.FAST_FOR_TESTS,
                          lockout=LockoutPolicy(max_failures=1), clock=clock)
    with pytest.raises(LockedOut):
        store.authenticate("budi", WRONG_PIN)
    calls = []
    real = operator_store_module.derive_kek
    monkeypatch.setattr(operator_store_module, "derive_kek",
                        lambda *a: calls.append(1) or real(*a))
    with pytest.raises(LockedOut):
        store.authenticate("budi", BUDI_PIN)
    assert calls == []


def test_a_lockout_survives_a_restart(staffed, clock):
    for _ in range(5):
        with pytest.raises((WrongPIN, LockedOut)):
            staffed.store.authenticate("budi", WRONG_PIN)
    staffed.reopen()
    with pytest.raises(LockedOut):
        staffed.store.authenticate("budi", BUDI_PIN)
    assert staffed.store.get("budi").failures == 5


def test_failures_survive_a_restart_and_reset_on_success(staffed):
    for _ in range(3):
        with pytest.raises(WrongPIN):
            staffed.store.authenticate("budi", WRONG_PIN)
    staffed.reopen()
    with pytest.raises(WrongPIN) as exc:
        staffed.store.authenticate("budi", WRONG_PIN)
    assert exc.value.attempts_left == 1
    staffed.store.authenticate("budi", BUDI_PIN)
    with pytest.raises(WrongPIN) as exc:
        staffed.store.authenticate("budi", WRONG_PIN)
    assert exc.value.attempts_left == 4


def test_after_a_lockout_runs_out_the_count_starts_again(staffed, clock):
    for _ in range(5):
        with pytest.raises((WrongPIN, LockedOut)):
            staffed.store.authenticate("budi", WRONG_PIN)
    clock.advance(timedelta(minutes=5))
    with pytest.raises(WrongPIN) as exc:
        staffed.store.authenticate("budi", WRONG_PIN)
    assert exc.value.attempts_left == 4


def test_a_supervisor_can_unlock(staffed):
    for _ in range(5):
        with pytest.raises((WrongPIN, LockedOut)):
            staffed.store.authenticate("budi", WRONG_PIN)
    budi = staffed.store.unlock("budi", by=_siti(staffed))
    assert budi.locked_until is None and budi.failures == 0
    staffed.store.authenticate("budi", BUDI_PIN)
    unlock = next(e for e in staffed.audit.entries() if e.action == "operator_unlocked")
    assert unlock.actor == "siti" and unlock.detail["was_locked"] is True


def test_every_login_failure_refusal_and_lockout_is_audited(staffed, clock):
    store = staffed.store
    store.authenticate("budi", BUDI_PIN)
    for _ in range(5):
        with pytest.raises((WrongPIN, LockedOut)):
            store.authenticate("budi", WRONG_PIN)
    with pytest.raises(LockedOut):
        store.authenticate("budi", BUDI_PIN)
    with pytest.raises(NotFound):
        store.authenticate("483921", SITI_PIN)  # a PIN typed into the id field
    entries = list(staffed.audit.entries())
    assert [(e.actor, e.action) for e in entries[-9:]] == [
        ("budi", "login"), *[("budi", "login_failed")] * 5, ("budi", "lockout"),
        ("budi", "login_refused"), ("(unknown)", "login_refused"),
    ]
    failed = [e.detail for e in entries if e.action == "login_failed"]
    assert [d["attempts_left"] for d in failed] == [4, 3, 2, 1, 0]
    assert entries[-3].detail == {"until": "2026-11-24T08:05:00+00:00", "failures": 5}
    assert entries[-2].detail["reason"] == "locked_out"
    assert entries[-1].detail == {"reason": "unknown_operator"}
    assert not any("483921" in str(e.as_dict()) for e in entries)
    assert staffed.audit.verify().ok


# --- disabling ----------------------------------------------------------------------------


def test_a_disabled_operator_cannot_log_in(staffed):
    staffed.store.disable("budi", by=_siti(staffed))
    with pytest.raises(OperatorDisabled):
        staffed.store.authenticate("budi", BUDI_PIN)
    assert staffed.store.get("budi").disabled
    assert staffed.actions()[-2:] == [("siti", "operator_disabled"), ("budi", "login_refused")]


def test_an_operator_may_not_disable_anyone(staffed):
    budi = staffed.store.authenticate("budi", BUDI_PIN)
    with pytest.raises(NotAllowed):
        staffed.store.disable("siti", by=budi)
    with pytest.raises(NotAllowed):
        staffed.store.unlock("siti", by=budi)


def test_the_last_supervisor_or_technician_cannot_be_disabled(staffed):
    siti = _siti(staffed)
    with pytest.raises(NotAllowed, match="last active supervisor or technician"):
        staffed.store.disable("siti", by=siti)
    staffed.store.add("teguh", "Teguh", Role.TECHNICIAN, "740152", by=siti)
    staffed.store.disable("siti", by=siti)
    teguh = staffed.store.authenticate("teguh", "740152")
    with pytest.raises(NotAllowed):
        staffed.store.disable("teguh", by=teguh)
    with pytest.raises(OperatorDisabled):  # siti's old session dies with her account
        staffed.store.unlock("budi", by=siti)


def test_operators_are_listed_in_the_order_they_were_added(staffed, clock):
    clock.advance(timedelta(minutes=1))
    staffed.store.add("ani", "Ani", Role.OPERATOR, "692047", by=_siti(staffed))
    listed = staffed.store.list()
    assert [o.id for o in listed] == ["siti", "budi", "ani"]
    assert all(isinstance(o, Operator) for o in listed) and staffed.store.count() == 3
    with pytest.raises(NotFound):
        staffed.store.get("nobody")
