"""The ``operators`` and ``roster_key`` tables of ``kit.db``: adding, disabling and unlocking
operators, changing a PIN, logging in, approvals and lockout.

What an operator is, the rules for ids and PINs, and how a PIN wraps the roster key are in
:mod:`edge.operators`; this module keeps them in the kit's database and audits every change.

The authorisation fields (role, disabled, failures) are protected by the file's permissions,
not by cryptography: someone who can write ``kit.db`` can edit them. The audit log (see
:mod:`edge.audit`) is what makes such edits visible.

Errors: :class:`~edge.errors.InvalidInput`, :class:`~edge.errors.NotFound`,
:class:`~edge.errors.AlreadyExists`, :class:`~edge.errors.WrongPIN`,
:class:`~edge.errors.LockedOut`, :class:`~edge.errors.OperatorDisabled`,
:class:`~edge.errors.NotAllowed`, :class:`~edge.errors.IntegrityError`. No message ever
contains a PIN.
"""

from __future__ import annotations

import builtins
import hmac
import os
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.audit import AuditLog
from edge.clock import Clock, utc_now
from edge.errors import (
    AlreadyExists,
    AuthError,
    IntegrityError,
    InvalidInput,
    LockedOut,
    NotAllowed,
    NotFound,
    OperatorDisabled,
    RekamError,
    WrongPIN,
)
from edge.kitdb import atomic
from edge.operators import (
    ADMIN_ROLES,
    OPERATOR_ID_RE,
    ROSTER_KEY_BYTES,
    SALT_BYTES,
    KdfParams,
    LockoutPolicy,
    Operator,
    Role,
    Session,
    check_operator_id,
    check_operator_name,
    check_pin,
    check_role,
    derive_kek,
    roster_key_check,
    unwrap_roster_key,
    wrap_roster_key,
)

UNKNOWN_ACTOR = "(unknown)"
"""Audit actor for a login under an id that does not exist. The typed id is not recorded:
people type their PIN into the id field."""

_OP_COLUMNS = "id, name, role, disabled, created_at, failures, locked_until"
_ROW_COLUMNS = (
    f"{_OP_COLUMNS}, kdf_memory_kib, kdf_iterations, kdf_lanes, salt, nonce, wrapped_key"
)


@dataclass(frozen=True)
class _Row:
    operator: Operator
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    wrapped: bytes


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _operator(row: tuple[Any, ...]) -> Operator:
    return Operator(
        id=str(row[0]),
        name=str(row[1]),
        role=Role(str(row[2])),
        disabled=bool(row[3]),
        created_at=datetime.fromisoformat(str(row[4])),
        failures=int(row[5]),
        locked_until=None if row[6] is None else datetime.fromisoformat(str(row[6])),
    )


class OperatorStore:
    """The ``operators`` and ``roster_key`` tables of ``kit.db``; every change is audited.

    Argon2 runs outside the database's write lock; the outcome of a login is settled in one
    transaction together with its audit entries, so a failure count and its audit entry are
    saved both or neither. Like :class:`~edge.audit.AuditLog`, it is not thread-safe on a
    shared connection: one connection per thread, or serialise the calls.
    """

    def __init__(self, conn: sqlite3.Connection, audit: AuditLog, *,
                 kdf: KdfParams | None = None, lockout: LockoutPolicy | None = None,
                 clock: Clock = utc_now,
                 on_first_roster_key: Callable[[bytes, str], None] | None = None) -> None:
        self._conn = conn
        # Told (roster key, operator id) once the first operator's roster key is committed:
        # the kit wraps its worklist key under it at once (edge.worklist_key).
        self._on_first_roster_key = on_first_roster_key
        self._audit = audit
        self._kdf = kdf if kdf is not None else KdfParams()
        self._lockout = lockout if lockout is not None else LockoutPolicy()
        self._clock = clock

    def ensure_schema(self) -> None:
        with atomic(self._conn):
            self._conn.execute(
                """CREATE TABLE IF NOT EXISTS operators (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL,
                    failures INTEGER NOT NULL DEFAULT 0,
                    locked_until TEXT,
                    kdf_memory_kib INTEGER NOT NULL,
                    kdf_iterations INTEGER NOT NULL,
                    kdf_lanes INTEGER NOT NULL,
                    salt BLOB NOT NULL,
                    nonce BLOB NOT NULL,
                    wrapped_key BLOB NOT NULL
                )"""
            )
            self._conn.execute(
                """CREATE TABLE IF NOT EXISTS roster_key (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    key_check TEXT NOT NULL,
                    created_at TEXT NOT NULL
                )"""
            )

    # --- queries --------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM operators").fetchone()[0])

    def list(self) -> builtins.list[Operator]:
        """Every operator, disabled ones included, in the order they were added."""
        rows = self._conn.execute(
            f"SELECT {_OP_COLUMNS} FROM operators ORDER BY rowid"
        ).fetchall()
        return [_operator(r) for r in rows]

    def get(self, operator_id: str) -> Operator:
        row = self._row(operator_id)
        if row is None:
            raise NotFound(f"no operator {operator_id!r} on this kit")
        return row.operator

    def _row(self, operator_id: str) -> _Row | None:
        r = self._conn.execute(
            f"SELECT {_ROW_COLUMNS} FROM operators WHERE id = ?", (operator_id,)
        ).fetchone()
        if r is None:
            return None
        return _Row(_operator(r), KdfParams(int(r[7]), int(r[8]), int(r[9])), bytes(r[10]),
                    bytes(r[11]), bytes(r[12]))

    def _stored_check(self) -> str | None:
        r = self._conn.execute("SELECT key_check FROM roster_key WHERE id = 1").fetchone()
        return None if r is None else str(r[0])

    # --- managing operators ---------------------------------------------------------------

    def add(self, operator_id: str, name: str, role: Role | str, pin: str, *,
            by: Session | None) -> Operator:
        """Add an operator whose PIN unwraps the roster key.

        The first operator of a kit is added with ``by=None``, must be a supervisor or a
        technician, and creates the roster key. Every later one needs ``by``: the session of
        an active supervisor or technician, whose roster key is wrapped for the newcomer.
        """
        operator_id = check_operator_id(operator_id)
        name = check_operator_name(name)
        role = check_role(role)
        check_pin(pin)
        self._check_add(operator_id, role, by)  # fail fast, before the slow KDF
        params, salt = self._kdf, os.urandom(SALT_BYTES)
        kek = derive_kek(pin, salt, params)
        now = self._clock()
        with atomic(self._conn):
            first = self._check_add(operator_id, role, by)
            if first:
                roster_key = os.urandom(ROSTER_KEY_BYTES)
                self._conn.execute(
                    "INSERT OR REPLACE INTO roster_key (id, key_check, created_at) "
                    "VALUES (1, ?, ?)", (roster_key_check(roster_key), _iso(now)),
                )
                actor = operator_id
            else:
                assert by is not None
                roster_key, actor = by.roster_key, by.operator.id
            nonce, wrapped = wrap_roster_key(kek, roster_key, operator_id)
            self._conn.execute(
                f"INSERT INTO operators ({_ROW_COLUMNS}) "
                "VALUES (?, ?, ?, 0, ?, 0, NULL, ?, ?, ?, ?, ?, ?)",
                (operator_id, name, role.value, _iso(now), params.memory_kib,
                 params.iterations, params.lanes, salt, nonce, wrapped),
            )
            self._audit.append(actor, "operator_added", operator=operator_id, role=role,
                               first_operator=first)
        if first and self._on_first_roster_key is not None:
            self._on_first_roster_key(roster_key, operator_id)
        return self.get(operator_id)

    def _check_add(self, operator_id: str, role: Role, by: Session | None) -> bool:
        """Raise if this add is not allowed; return whether it is the kit's first operator."""
        if self.count() == 0:
            if by is not None:
                raise NotAllowed(
                    "this kit has no operators yet: add the first one without a session"
                )
            if role not in ADMIN_ROLES:
                raise NotAllowed(
                    "the first operator must be a supervisor or technician, "
                    "so that someone can add the others"
                )
            return True
        if by is None:
            raise NotAllowed("adding an operator needs a supervisor or technician to log in")
        self._require_admin(by, "add operators")
        if self._row(operator_id) is not None:
            raise AlreadyExists(f"operator {operator_id!r} already exists")
        return False

    def _require_admin(self, by: Session, doing: str) -> Operator:
        """The session's operator, as stored now, if they may manage operators."""
        row = self._row(by.operator.id)
        if row is None:
            raise NotAllowed(f"only a supervisor or technician may {doing}")
        if row.operator.disabled:
            raise OperatorDisabled(f"operator {by.operator.id!r} is disabled")
        if row.operator.role not in ADMIN_ROLES:
            raise NotAllowed(f"only a supervisor or technician may {doing}")
        check = self._stored_check()
        if check is None or not hmac.compare_digest(check, roster_key_check(by.roster_key)):
            raise NotAllowed("this session does not hold the kit's roster key; log in again")
        return row.operator

    def disable(self, operator_id: str, *, by: Session) -> Operator:
        """Disable an operator (kept for the record, never deleted). The last active supervisor
        or technician cannot be disabled, so the kit always has someone to manage it."""
        with atomic(self._conn):
            admin = self._require_admin(by, "disable operators")
            target = self.get(operator_id)
            if target.disabled:
                return target
            if target.role in ADMIN_ROLES:
                (active,) = self._conn.execute(
                    "SELECT COUNT(*) FROM operators WHERE disabled = 0 AND role IN (?, ?)",
                    tuple(r.value for r in ADMIN_ROLES),
                ).fetchone()
                if int(active) <= 1:
                    raise NotAllowed(
                        f"{operator_id!r} is the last active supervisor or technician; "
                        "add another before disabling this one"
                    )
            self._conn.execute("UPDATE operators SET disabled = 1 WHERE id = ?", (operator_id,))
            self._audit.append(admin.id, "operator_disabled", operator=operator_id)
        return self.get(operator_id)

    def unlock(self, operator_id: str, *, by: Session) -> Operator:
        """End a lockout early and clear the failure count."""
        with atomic(self._conn):
            admin = self._require_admin(by, "unlock operators")
            target = self.get(operator_id)
            self._conn.execute(
                "UPDATE operators SET failures = 0, locked_until = NULL WHERE id = ?",
                (operator_id,),
            )
            self._audit.append(admin.id, "operator_unlocked", operator=operator_id,
                               was_locked=target.locked_at(self._clock()),
                               failures=target.failures)
        return self.get(operator_id)

    def change_pin(self, operator_id: str, old_pin: str, new_pin: str) -> None:
        """Check the old PIN (a wrong one counts towards lockout) and rewrap under the new one,
        with a fresh salt and the current KDF parameters."""
        check_pin(new_pin)
        if hmac.compare_digest(old_pin.encode(), new_pin.encode()):
            raise InvalidInput("the new PIN must differ from the old one")
        session = self._login(operator_id, old_pin, "login", {"purpose": "change_pin"})
        old = self._row(operator_id)
        assert old is not None
        params, salt = self._kdf, os.urandom(SALT_BYTES)
        nonce, wrapped = wrap_roster_key(derive_kek(new_pin, salt, params), session.roster_key,
                                         operator_id)
        with atomic(self._conn):
            cur = self._conn.execute(
                "UPDATE operators SET kdf_memory_kib = ?, kdf_iterations = ?, kdf_lanes = ?, "
                "salt = ?, nonce = ?, wrapped_key = ? WHERE id = ? AND salt = ?",
                (params.memory_kib, params.iterations, params.lanes, salt, nonce, wrapped,
                 operator_id, old.salt),
            )
            if cur.rowcount != 1:
                raise AuthError(f"the PIN of {operator_id!r} was changed meanwhile; try again")
            self._audit.append(operator_id, "pin_changed")

    # --- logging in -----------------------------------------------------------------------

    def authenticate(self, operator_id: str, pin: str) -> Session:
        """Check a PIN; on success return a :class:`Session` holding the roster key.

        Unknown id: :class:`NotFound` (ids are listed on the kit anyway, so hiding them would
        buy nothing; the typed id is not echoed or audited, in case it is a PIN). Disabled:
        :class:`OperatorDisabled`. Locked: :class:`LockedOut`, without running Argon2. Wrong:
        :class:`WrongPIN`, or :class:`LockedOut` on the failure that reaches the limit.
        Every outcome is audited; failures are saved in ``kit.db`` and survive a restart.
        """
        return self._login(operator_id, pin, "login", {})

    def approve(self, operator_id: str, pin: str, *,
                roles: Collection[Role] = (Role.SUPERVISOR,), purpose: str) -> Operator:
        """A second person's PIN, for an exception such as a missing finger.

        The approver must hold one of ``roles`` (:class:`NotAllowed` otherwise, checked before
        the PIN so no attempt is wasted); the PIN is checked as in :meth:`authenticate`,
        lockout included. Audited as ``approval`` with ``purpose`` (no resident data in it).
        """
        purpose = purpose.strip() if isinstance(purpose, str) else ""
        if not purpose or len(purpose) > 200 or not purpose.isprintable():
            raise InvalidInput("an approval needs a purpose of 1 to 200 printable characters")
        row = self._row(operator_id)
        if row is not None and row.operator.role not in roles:
            self._audit.append(operator_id, "approval_refused", purpose=purpose,
                               reason="role", role=row.operator.role)
            needed = " or ".join(sorted(Role(r).value for r in roles))
            raise NotAllowed(f"{operator_id!r} is a {row.operator.role}; this needs a {needed}")
        return self._login(operator_id, pin, "approval", {"purpose": purpose}).operator

    def _login(self, operator_id: str, pin: str, action: str,
               detail: dict[str, Any]) -> Session:
        for _ in range(3):
            known = (isinstance(operator_id, str)
                     and OPERATOR_ID_RE.fullmatch(operator_id) is not None)
            row = self._row(operator_id) if known else None
            if row is None:
                self._audit.append(UNKNOWN_ACTOR, "login_refused", reason="unknown_operator",
                                   **detail)
                raise NotFound("no operator with that id on this kit")
            refusal = self._refuse(row.operator, self._clock(), detail)
            if refusal is not None:
                raise refusal
            roster_key = unwrap_roster_key(derive_kek(pin, row.salt, row.kdf), row.nonce,
                                           row.wrapped, row.operator.id)  # outside the write lock
            outcome = self._settle(row, roster_key, action, detail)
            if isinstance(outcome, Session):
                return outcome
            if outcome is not None:
                raise outcome
            # else the PIN was changed while Argon2 ran: check again against the new wrap
        raise AuthError(f"the PIN of {operator_id!r} kept changing during login; try again")

    def _refuse(self, op: Operator, now: datetime, detail: dict[str, Any]) -> AuthError | None:
        """Audit and return the refusal for a disabled or locked-out operator, else None."""
        if op.disabled:
            self._audit.append(op.id, "login_refused", reason="disabled", **detail)
            return OperatorDisabled(f"operator {op.id!r} is disabled")
        if op.locked_until is not None and op.locked_until > now:
            self._audit.append(op.id, "login_refused", reason="locked_out",
                               until=op.locked_until, **detail)
            return LockedOut(op.id, op.locked_until)
        return None

    def _settle(self, seen: _Row, roster_key: bytes | None, action: str,
                detail: dict[str, Any]) -> Session | RekamError | None:
        """Record the outcome of one PIN check in one transaction with its audit entries.

        Returns the session, or the error to raise once the transaction has committed, or
        None when the operator's wrap changed since ``seen`` was read.
        """
        with atomic(self._conn):
            row = self._row(seen.operator.id)
            if row is None:
                return NotFound("no operator with that id on this kit")
            if (row.salt, row.nonce, row.wrapped) != (seen.salt, seen.nonce, seen.wrapped):
                return None
            op, now = row.operator, self._clock()
            refusal = self._refuse(op, now, detail)  # disabled or locked meanwhile
            if refusal is not None:
                return refusal
            if roster_key is None:
                return self._failed(op, now, detail)
            check = self._stored_check()
            if check is None or not hmac.compare_digest(check, roster_key_check(roster_key)):
                self._audit.append(op.id, "login_refused", reason="foreign_roster_key", **detail)
                return IntegrityError(
                    f"operator {op.id!r} holds a key that is not this kit's roster key"
                )
            self._conn.execute(
                "UPDATE operators SET failures = 0, locked_until = NULL WHERE id = ?", (op.id,)
            )
            self._audit.append(op.id, action, **detail)
            return Session(self.get(op.id), roster_key)

    def _failed(self, op: Operator, now: datetime, detail: dict[str, Any]) -> AuthError:
        # A lockout that has run out (locked_until in the past) starts the count again.
        failures = (0 if op.locked_until is not None else op.failures) + 1
        policy = self._lockout
        if failures >= policy.max_failures:
            until = now + policy.duration
            self._conn.execute(
                "UPDATE operators SET failures = ?, locked_until = ? WHERE id = ?",
                (failures, _iso(until), op.id),
            )
            self._audit.append(op.id, "login_failed", failures=failures, attempts_left=0,
                               **detail)
            self._audit.append(op.id, "lockout", until=until, failures=failures, **detail)
            return LockedOut(op.id, until)
        self._conn.execute(
            "UPDATE operators SET failures = ?, locked_until = NULL WHERE id = ?",
            (failures, op.id),
        )
        left = policy.max_failures - failures
        self._audit.append(op.id, "login_failed", failures=failures, attempts_left=left,
                           **detail)
        return WrongPIN(op.id, left)
