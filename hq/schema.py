"""HQ's database schema over time: Alembic migrations, applied in place on start.

HQ's production database is upgraded, never recreated. Every process that opens it
(:func:`hq.db.make_engine`) brings it to this release's head revision first:

- an empty database gets every revision, in order;
- a database made before HQ used Alembic (its tables exist, no ``alembic_version``) is
  stamped with the baseline revision, which is exactly that schema, then upgraded;
- a database at an older revision is upgraded; one at a revision this release does not
  know (made by a newer ``rekam-hq``) is refused rather than touched.

Upgrades run in one transaction under a lock (PostgreSQL: an advisory lock; SQLite: an
exclusive transaction), so ingest workers starting together upgrade once and the others
wait, then see the head. ``rekam-hq db current`` and ``rekam-hq db upgrade`` show and do
the same by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.pool import NullPool

from edge.errors import RekamError

log = logging.getLogger("rekam.hq.schema")

BASELINE = "0001"
_MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK = 0x72656B616D  # "rekam": the advisory lock held while a database is upgraded


class SchemaTooNew(RekamError):
    """The database was upgraded by a newer rekam-hq than this one."""


@dataclass(frozen=True)
class Upgrade:
    before: str | None  # None: the database was empty
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:  # two branches merged without a merge revision: a developer's slip
        raise RuntimeError(f"HQ's migrations have {len(heads)} heads: {', '.join(heads)}")
    return heads[0]


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> Upgrade:
    """Bring the database to this release's head (see the module docstring)."""
    target = head()
    before = current(engine)
    if before == target:
        return Upgrade(before, target)
    _refuse_unknown(before)
    with _locked(engine) as conn:
        before = MigrationContext.configure(conn).get_current_revision()  # a twin may have won
        _refuse_unknown(before)
        if before is None and inspect(conn).has_table("devices"):
            log.info("database made before migrations: stamping it %s", BASELINE)
            command.stamp(alembic_config(conn), BASELINE)
            store_ciphertext_uncompressed(conn)  # the baseline's one change beyond tables
            before = BASELINE
        if before != target:
            command.upgrade(alembic_config(conn), "head")
    if before != target:
        log.info("database upgraded from %s to %s", before or "empty", target)
    return Upgrade(before, target)


def store_ciphertext_uncompressed(conn: Connection) -> None:
    """PostgreSQL only, idempotent: ciphertext does not compress, but the default storage
    (EXTENDED) tries before moving a value out of line, which halved ingest's rate
    (bench/bench_sync_loopback.py --db postgres). EXTERNAL moves it out uncompressed."""
    if conn.dialect.name != "postgresql":
        return
    for table in ("packets", "packet_chunks"):
        storage = conn.execute(text(
            "SELECT a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.oid = to_regclass(:t) AND a.attname = 'data'"), {"t": table}).scalar()
        if storage is not None and storage != "e":
            conn.execute(text(f'ALTER TABLE "{table}" ALTER COLUMN "data" SET STORAGE EXTERNAL'))


def _refuse_unknown(revision: str | None) -> None:
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(
            f"the database is at schema revision {revision}, which this rekam-hq does not "
            "know: it was upgraded by a newer release; upgrade rekam-hq on this machine"
        )


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other upgrader can enter; committed on a
    clean exit, rolled back on an error."""
    private: Engine | None = None
    if engine.dialect.name == "sqlite":
        # pysqlite opens transactions only before DML, so DDL would run outside one:
        # begin explicitly, and exclusively, on a private engine.
        private = _sqlite_engine(engine)
        conn = private.connect()
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
    else:
        conn = engine.connect()
        conn.begin()
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
        if private is not None:
            private.dispose()


def _sqlite_engine(engine: Engine) -> Engine:
    private = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(private, "connect")
    def _manual_transactions(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we say BEGIN and COMMIT ourselves

    return private
