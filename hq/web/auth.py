"""Logins for the monitoring dashboard: HQ staff accounts, sessions and the login rate limit.

No web framework here: the dashboard calls these from its session gate
(:mod:`hq.web.gate`) and its request handlers (:mod:`hq.web.login`,
:mod:`hq.web.operations`), and the ``rekam-hq user`` commands call them from the terminal.

- Passwords are hashed with Argon2id (``cryptography``; a PHC string per account, its own
  salt and cost). A login for an unknown account still runs Argon2 against a dummy hash,
  so the answer's timing does not tell which accounts exist.
- A session is a random 256-bit token in a cookie; the database keeps only its SHA-256,
  so a copy of the database opens no session. Each session has its own CSRF token, sent
  back by every form and every htmx request. Sessions end after ``IDLE`` without a
  request, after ``LIFETIME`` in any case, on logout, and when the account is disabled or
  its password changed.
- Every login, failure, refusal and logout is written to ``web_auth_events``; the rate
  limit counts failures there (per account and per client address over ``WINDOW``), so it
  holds across restarts and across several server processes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from sqlalchemy import Engine, delete, func, insert, select, update

from edge import regions
from edge.errors import AlreadyExists, AuthError, InvalidInput, NotFound
from hq.db import web_auth_events, web_sessions, web_users
from hq.dialect import as_utc

ROLES = ("viewer", "clerk", "admin")
SCOPE_LEVELS = ("kecamatan", "kelurahan")

IDLE = timedelta(minutes=60)
LIFETIME = timedelta(hours=10)
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD = 10
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often

# Argon2id cost for staff passwords: 64 MiB, 3 passes (about 0.1-0.2 s on HQ's server).
# Tests lower it through REKAM_HQ_ARGON2_MEMORY_KIB; the PHC string records what was used.
_ITERATIONS = 3
_LANES = 1


def _memory_kib() -> int:
    return max(8 * _LANES, int(os.environ.get("REKAM_HQ_ARGON2_MEMORY_KIB", 64 * 1024)))


def hash_password(password: str) -> str:
    kdf = Argon2id(salt=os.urandom(16), length=32, iterations=_ITERATIONS, lanes=_LANES,
                   memory_cost=_memory_kib())
    return kdf.derive_phc_encoded(password.encode())


def password_matches(password: str, phc: str) -> bool:
    try:
        Argon2id.verify_phc_encoded(password.encode(), phc)
    except (InvalidKey, ValueError):
        return False
    return True


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_password_strength(password: str, user_id: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if password.lower() == user_id.lower() or len(set(password)) < 4:
        raise InvalidInput("the password is too easy to guess; choose another")


# --- areas a login may see ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What part of the kota an account sees: everything (level "kota"), one kecamatan or
    one kelurahan. Kemendagri codes nest (32.75.01 ⊃ 32.75.01.1001), so containment is a
    prefix test on whole segments."""

    level: str = "kota"
    code: str = regions.KOTA_BEKASI

    def allows(self, code: str) -> bool:
        return code == self.code or code.startswith(self.code + ".")

    def covers(self, code: str) -> bool:
        """True when ``code`` lies inside the scope or is an ancestor of it (a Lurah's page
        shows the path kota → kecamatan → kelurahan, but only its own figures)."""
        return self.allows(code) or self.code.startswith(code + ".")

    @property
    def whole_city(self) -> bool:
        return self.level == "kota"


def resolve_area(level: str, text: str) -> str:
    """A kecamatan or kelurahan's Kemendagri code from its code or its unambiguous name
    (:func:`edge.regions.find`, the resolver every command uses)."""
    return regions.find(text, "kecamatan" if level == "kecamatan" else "kelurahan").code


# --- accounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: str
    role: str
    scope: Scope
    disabled: bool = False
    created_at: datetime | None = None

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row: object) -> User:
    r = row._mapping  # type: ignore[attr-defined]
    scope = Scope(r["scope_level"], r["scope_code"]) if r["scope_level"] else Scope()
    return User(r["user_id"], r["role"], scope, bool(r["disabled"]), as_utc(r["created_at"]))


def _check_user_id(user_id: str) -> str:
    if not (1 <= len(user_id) <= 64) or not all(c.isalnum() or c in "._-@" for c in user_id):
        raise InvalidInput("a user id is 1-64 letters, digits, '.', '_', '-' or '@'")
    return user_id.lower()


def add_user(engine: Engine, user_id: str, role: str, password: str, *,
             kecamatan: str | None = None, kelurahan: str | None = None) -> User:
    user_id = _check_user_id(user_id)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if kecamatan and kelurahan:
        raise InvalidInput("give --kecamatan or --kelurahan, not both")
    scope = (Scope("kecamatan", resolve_area("kecamatan", kecamatan)) if kecamatan
             else Scope("kelurahan", resolve_area("kelurahan", kelurahan)) if kelurahan
             else Scope())
    check_password_strength(password, user_id)
    hashed = hash_password(password)
    now = _now()
    with engine.begin() as conn:
        if conn.execute(select(web_users.c.user_id)
                        .where(web_users.c.user_id == user_id)).first():
            raise AlreadyExists(f"user {user_id} already exists")
        conn.execute(insert(web_users).values(
            user_id=user_id, role=role,
            scope_level=None if scope.whole_city else scope.level,
            scope_code=None if scope.whole_city else scope.code,
            password_hash=hashed, created_at=now, password_changed_at=now, disabled=False))
        _event(conn, user_id, "", "user_added", f"{role} {scope.level} {scope.code}")
    return User(user_id, role, scope, False, now)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(web_users).order_by(web_users.c.user_id))]


def get_user(engine: Engine, user_id: str) -> User:
    with engine.connect() as conn:
        row = conn.execute(select(web_users)
                           .where(web_users.c.user_id == user_id.lower())).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return _user(row)


def set_disabled(engine: Engine, user_id: str, disabled: bool) -> None:
    user_id = user_id.lower()
    with engine.begin() as conn:
        done = conn.execute(update(web_users).where(web_users.c.user_id == user_id)
                            .values(disabled=disabled)).rowcount
        if not done:
            raise NotFound(f"no user {user_id}")
        if disabled:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
        _event(conn, user_id, "", "user_disabled" if disabled else "user_enabled")


def set_password(engine: Engine, user_id: str, password: str) -> None:
    user_id = user_id.lower()
    check_password_strength(password, user_id)
    hashed = hash_password(password)
    with engine.begin() as conn:
        done = conn.execute(update(web_users).where(web_users.c.user_id == user_id)
                            .values(password_hash=hashed, password_changed_at=_now())).rowcount
        if not done:
            raise NotFound(f"no user {user_id}")
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
        _event(conn, user_id, "", "password_changed")


# --- logins and sessions --------------------------------------------------------------------


class LoginRefused(AuthError):
    """Wrong account or password, a disabled account, or too many failures: the page says
    only which of "wrong" and "wait" applies, never whether the account exists."""

    def __init__(self, reason: str, retry_after: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason  # "wrong" | "wait"
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    token: str  # only in the cookie; the database has its SHA-256
    user: User
    csrf: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _event(conn: object, user_id: str, ip: str, event: str, detail: str = "") -> None:
    conn.execute(insert(web_auth_events).values(  # type: ignore[attr-defined]
        at=_now(), user_id=user_id[:64], ip=ip[:64], event=event, detail=detail))


def _failures(engine: Engine, user_id: str, ip: str, now: datetime) -> tuple[int, int, datetime]:
    e = web_auth_events.c
    since = now - WINDOW
    failed = e.event.in_(("login_failed",))
    with engine.connect() as conn:
        per_account, first_a = conn.execute(
            select(func.count(), func.min(e.at))
            .where(e.user_id == user_id, e.at >= since, failed)).one()
        per_address, first_b = conn.execute(
            select(func.count(), func.min(e.at))
            .where(e.ip == ip, e.at >= since, failed)).one()
    firsts = [as_utc(t) for t in (first_a, first_b) if t is not None]
    return int(per_account), int(per_address), min(firsts) if firsts else now


def login(engine: Engine, user_id: str, password: str, *, ip: str,
          user_agent: str = "") -> Session:
    """A new session for the right password; :class:`LoginRefused` otherwise. Refusals
    for too many failures come before Argon2 runs (a flood costs the server nothing)."""
    user_id = user_id.strip().lower()[:64]
    now = _now()
    per_account, per_address, first = _failures(engine, user_id, ip, now)
    if per_account >= MAX_FAILURES_PER_ACCOUNT or per_address >= MAX_FAILURES_PER_ADDRESS:
        with engine.begin() as conn:
            _event(conn, user_id, ip, "login_refused", "too many failures")
        raise LoginRefused("wait", retry_after=max(1, int((first + WINDOW - now)
                                                           .total_seconds())))
    with engine.connect() as conn:
        row = conn.execute(select(web_users).where(web_users.c.user_id == user_id)).first()
    stored = row._mapping["password_hash"] if row is not None else _dummy_hash()
    ok = password_matches(password, stored) and row is not None
    user = _user(row) if row is not None else None
    if not ok or user is None or user.disabled:
        detail = ("disabled account" if user is not None and user.disabled and ok
                  else "wrong password" if user is not None else "unknown account")
        with engine.begin() as conn:
            _event(conn, user_id, ip, "login_failed", detail)
        raise LoginRefused("wrong")
    with engine.begin() as conn:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + LIFETIME
        conn.execute(insert(web_sessions).values(
            token_sha256=_token_hash(token), user_id=user.user_id, csrf=csrf, created_at=now,
            last_seen_at=now, expires_at=expires, ip=ip[:64], user_agent=user_agent[:300]))
        conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
        _event(conn, user.user_id, ip, "login_ok")
    return Session(token, user, csrf, expires)


def session_for(engine: Engine, token: str | None) -> Session | None:
    """The live session a cookie names, or None (unknown, expired, idle too long, or its
    account disabled)."""
    if not token or len(token) > 100:
        return None
    key = _token_hash(token)
    now = _now()
    s = web_sessions.c
    with engine.connect() as conn:
        row = conn.execute(
            select(s.csrf, s.expires_at, s.last_seen_at, web_users)
            .join(web_users, web_users.c.user_id == s.user_id)
            .where(s.token_sha256 == key)).first()
    if row is None:
        return None
    r = row._mapping
    expires, seen = as_utc(r["expires_at"]), as_utc(r["last_seen_at"])
    if now >= expires or now - seen >= IDLE or r["disabled"]:
        with engine.begin() as conn:
            conn.execute(delete(web_sessions).where(s.token_sha256 == key))
        return None
    if now - seen >= SEEN_EVERY:
        with engine.begin() as conn:
            conn.execute(update(web_sessions).where(s.token_sha256 == key)
                         .values(last_seen_at=now))
    return Session(token, _user(row), r["csrf"], expires)


def logout(engine: Engine, session: Session, *, ip: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(web_sessions)
                     .where(web_sessions.c.token_sha256 == _token_hash(session.token)))
        _event(conn, session.user.user_id, ip, "logout")


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def auth_events(engine: Engine, limit: int = 200) -> list[dict[str, object]]:
    e = web_auth_events.c
    with engine.connect() as conn:
        return [{"at": as_utc(r[0]), "user_id": r[1], "ip": r[2], "event": r[3],
                 "detail": r[4]}
                for r in conn.execute(select(e.at, e.user_id, e.ip, e.event, e.detail)
                                      .order_by(e.id.desc()).limit(limit))]
