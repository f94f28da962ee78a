"""The kit's plain database ``kit.db``: outbox, audit log, operators and kit state.

It holds ciphertext, hashes and operator records, never resident data (that lives in the
encrypted roster). ``synchronous=FULL`` in WAL mode makes a commit durable when it returns,
which is what "a sealed packet is durable when ``enrol`` returns" asks for; ``secure_delete``
overwrites purged packets instead of leaving them in free pages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    path.chmod(0o600)
    return conn


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[None]:
    """One atomic unit of work on ``conn``: commit on success, roll back on any exception.

    Outside a transaction it opens ``BEGIN IMMEDIATE`` (the write lock is taken up front, so a
    read-then-write such as "next sequence number" cannot race another writer); inside one it
    nests as a ``SAVEPOINT``, so a caller can wrap its own change together with
    :meth:`AuditLog.append` and have both or neither. Plain ``with conn:`` is not enough here:
    ``kit.db`` is opened with ``isolation_level=None``, where it opens no transaction at all.
    """
    if conn.in_transaction:
        conn.execute("SAVEPOINT rekam_atomic")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO rekam_atomic")
            conn.execute("RELEASE rekam_atomic")
            raise
        conn.execute("RELEASE rekam_atomic")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


class StateTable:
    """Small key/value facts about the kit (roster version and size, last sync, ...)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def ensure_schema(self) -> None:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kit_state (key TEXT PRIMARY KEY, value TEXT)"
        )

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM kit_state WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO kit_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
