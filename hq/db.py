"""HQ's database through SQLAlchemy Core: SQLite by default, PostgreSQL in production.

Tables are declared here once; ``create_all`` is idempotent. Later issues add packets,
dead letters, residents, invitations and schedules to the same metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
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


# --- MQTT ingest (hq/ingest.py, hq/packets.py) ----------------------------------------------

packets = Table(  # sealed packets as received: ciphertext only; the vault opens them
    "packets",
    metadata,
    Column("packet_id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),  # of the exact wire bytes, as acked
    Column("size", Integer, nullable=False),
    Column("device_key_id", String(16), nullable=False),
    Column("hq_key_id", String(16), nullable=False),
    Column("suite", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),  # the kit's clock, from the header
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(16), nullable=False, default="stored"),
    Column("deliveries", Integer, nullable=False, default=1),  # 2+ = sent again, acked again
    Column("data", LargeBinary, nullable=False),
)

packet_chunks = Table(  # chunks of packets still being reassembled (durable across restarts)
    "packet_chunks",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("packet_id", String(64), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("count", Integer, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("offset", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("data", LargeBinary, nullable=False),
)

dead_letters = Table(  # every message ingest refused, with the reason
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("topic", Text, nullable=False),
    Column("device_id", String(64)),  # from the topic (the broker's ACL vouches for it)
    Column("packet_id", String(64)),
    Column("reason_code", String(32), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("alert", Boolean, nullable=False, default=False),
    Column("size", Integer, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("payload", LargeBinary),  # kept up to hq.packets.MAX_KEPT_PAYLOAD bytes
)

device_status = Table(  # each kit's latest signed heartbeat (or last will)
    "device_status",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("session", String(40), nullable=False, default=""),  # when the kit connected
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("queue_depth", Integer, nullable=False, default=0),
    Column("oldest_queued", String(40)),
    Column("free_disk_mb", Integer, nullable=False, default=0),
    Column("software_version", String(32), nullable=False, default=""),
    Column("roster_version", Integer),
    Column("body", Text, nullable=False),
)

device_reports = Table(  # what kits did with worklists and config sent to them
    "device_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("subject", String(16), nullable=False),
    Column("result", String(16), nullable=False),
    Column("version", Integer),
    Column("detail", Text, nullable=False, default=""),
    Index("device_reports_device_at", "device_id", "at"),
)

device_config = Table(  # the monotonic version of the config HQ last signed for each kit
    "device_config",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("settings", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
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
    if engine.dialect.name == "postgresql":
        _store_ciphertext_uncompressed(engine)
    return engine


# Columns holding ciphertext (incompressible): PostgreSQL's default storage (EXTENDED) tries
# to compress every value before moving it out of line, in vain, which halved ingest's rate
# (bench/bench_sync_loopback.py --db postgres). EXTERNAL stores out of line, uncompressed.
_CIPHERTEXT_COLUMNS = (("packets", "data"), ("packet_chunks", "data"))


def _store_ciphertext_uncompressed(engine: Engine) -> None:
    """Idempotent, for new and existing databases; only alters a column still EXTENDED
    (ALTER TABLE takes a lock, so not on every start)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        for table, column in _CIPHERTEXT_COLUMNS:
            storage = conn.execute(text(
                "SELECT a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.oid = to_regclass(:t) AND a.attname = :c"), {"t": table, "c": column}
            ).scalar()
            if storage is not None and storage != "e":
                conn.execute(text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" '
                                  "SET STORAGE EXTERNAL"))
