"""HQ's database through SQLAlchemy Core: SQLite by default, PostgreSQL in production.

Tables are declared here once; ``create_all`` is idempotent. Later issues add packets,
dead letters, residents, invitations and schedules to the same metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)

metadata = MetaData()

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("kelurahan", Text, nullable=False),  # comma-separated Kemendagri codes
    Column("broker", Text, nullable=False, default=""),
    Column("signing_public", String(64), nullable=False),  # base64 raw Ed25519
    Column("signing_key_id", String(16), nullable=False),
    Column("cert_pem", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("worklist_version", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="active"),
)


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    metadata.create_all(engine)
    return engine
