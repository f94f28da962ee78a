"""Open a SQLCipher database as a ``sqlite_utils.Database``: the kit's data encrypted at rest.

SQLCipher comes from the ``sqlcipher3`` wheel, which bundles its own SQLite (with FTS5 and
the trigram tokenizer). sqlite-utils picks its driver when it is first imported: it takes
``pysqlite3`` if that imports, else the standard library's ``sqlite3``, and it catches that
driver's exceptions (``except sqlite3.OperationalError``). So this module registers
``sqlcipher3`` as ``pysqlite3`` *before* it imports sqlite_utils. If something imported
sqlite_utils earlier, it is already bound to the stdlib driver and would let SQLCipher's
exceptions escape; :func:`_bind_sqlite_utils` then rebinds it to ``sqlcipher3``, whose
SQLite opens plain (unkeyed) databases too, so other users of sqlite-utils keep working.

The key is 32 random bytes from the caller (unwrapped from an operator's PIN elsewhere). It
is given to SQLCipher as a raw key (``PRAGMA key = "x'…'"``), so no password KDF runs here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlcipher3
import sqlcipher3.dbapi2

sys.modules.setdefault("pysqlite3", sqlcipher3)
sys.modules.setdefault("pysqlite3.dbapi2", sqlcipher3.dbapi2)

import sqlite_utils  # noqa: E402  (must follow the sys.modules registration above)
import sqlite_utils.db  # noqa: E402
import sqlite_utils.utils  # noqa: E402

from edge.errors import IntegrityError, InvalidInput, StorageError  # noqa: E402

KEY_BYTES = 32

#: The DB-API module every encrypted connection comes from (``sqlcipher3.dbapi2``).
dbapi: Any = sqlcipher3.dbapi2


def _bind_sqlite_utils() -> None:
    """Make sqlite-utils use (and catch the exceptions of) ``sqlcipher3``, whatever the
    import order was."""
    for module in (sqlite_utils.utils, sqlite_utils.db, sys.modules.get("sqlite_utils.cli")):
        if not isinstance(module, ModuleType):
            continue
        if getattr(module, "sqlite3", None) is not sqlcipher3:
            module.sqlite3 = sqlcipher3  # type: ignore[attr-defined]
        if hasattr(module, "OperationalError"):
            module.OperationalError = sqlcipher3.dbapi2.OperationalError
        if hasattr(module, "dbapi2"):
            module.dbapi2 = sqlcipher3.dbapi2


_bind_sqlite_utils()


def connect_encrypted(
    path: Path, key: bytes, *, memory_security: bool = False, timeout: float = 10.0
) -> sqlite_utils.Database:
    """Open (or create) the SQLCipher database at ``path`` with a raw 32-byte key.

    Raises :class:`~edge.errors.IntegrityError` when the key does not open an existing file.
    The connection runs in WAL mode with ``synchronous=FULL`` (a commit is durable when it
    returns) and ``secure_delete`` (deleted rows are overwritten); temporary tables stay in
    memory.

    ``memory_security`` turns on SQLCipher's *enhanced* memory security (off by default
    since SQLCipher 4.5): every allocation of its SQLite is locked in RAM and wiped when
    freed; SQLCipher wipes its own key material either way. It is off here because it is
    **process-wide and cannot be turned off again** once on, and because it costs a lot
    (an mlock/munlock per malloc): on the roster at 100,000 residents, replace() 2.7 s →
    14 s, name search p50 1.9 ms → 16 ms and p99 5.9 ms → 101 ms, NIK lookup p50 0.07 →
    0.16 ms. Its gain is small: the Python objects made from the rows (names, NIKs, the
    query) are neither locked nor wiped, so the real guard against plaintext reaching the
    SD card is a kit without disk swap (zram or none).
    """
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise InvalidInput(f"a roster key is {KEY_BYTES} random bytes")
    _bind_sqlite_utils()  # cheap; guards against a later re-import of sqlite_utils
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Create the file 0600 before SQLite does, so it (and the -wal/-shm files, which SQLite
    # gives the database's mode) is never readable by others, even as ciphertext.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    # isolation_level=None: no implicit transactions; writers say BEGIN themselves (and
    # sqlite-utils' atomic() does), so a lone statement is committed when it returns.
    # check_same_thread=False: the UI's worker threads use the store; Kit serialises access.
    conn = dbapi.connect(str(path), timeout=timeout, isolation_level=None,
                         check_same_thread=False)
    try:
        # Both are process-wide in SQLCipher. Its log goes to stderr, where it would scribble
        # over the TUI; every failure it logs also surfaces here as an exception.
        conn.execute(f"PRAGMA cipher_memory_security = {'ON' if memory_security else 'OFF'}")
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{bytes(key).hex()}'\"")
        try:
            # The first read decrypts page 1: this is where a wrong key shows.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except dbapi.OperationalError as exc:  # locked, unreadable: not a key problem
            raise StorageError(f"cannot read {path}: {exc}", path=str(path)) from exc
        except dbapi.DatabaseError:  # SQLITE_NOTADB: the key does not decrypt page 1
            raise IntegrityError(f"roster key does not open {path}", path=str(path)) from None
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageError(f"{path}: could not switch to WAL (journal mode is {mode})")
        conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn, execute_plugins=False)
