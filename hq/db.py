"""HQ's database through SQLAlchemy Core: SQLite by default, PostgreSQL in production.

Tables are declared here once, as they stand in this release; every change to them comes
with an Alembic revision in ``hq/migrations/versions/`` (``make migration MSG=...`` writes
one; a test fails when the two disagree), which :func:`make_engine` applies in place.

Longer than most modules on purpose: it is one thing, the schema. Every table hangs off the
one :data:`metadata` that Alembic's autogenerate and the drift test compare with the
migrations, and the foreign keys cross the areas (ingest, register, invitations, schedules,
vault); the sections below say which module reads and writes each group of tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
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
    Column("status", String(16), nullable=False, default="active"),  # active/revoked
    Column("revoked_at", DateTime(timezone=True)),  # rekam-hq device revoke
    Column("revoke_reason", String(16)),  # lost, stolen, retired
    # base64 raw hybrid public key worklists are sealed to (edge.worklist_key): made with the
    # bundle, or announced in the heartbeat of a kit provisioned before (NULL until then)
    Column("worklist_key", Text),
    # Registered for training (rekam-hq device add --training): the only kits that may use
    # simulated devices, whose packets are never real recordings. Existing kits: production.
    Column("training", Boolean, nullable=False, default=False, server_default=false()),
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
    Index("packets_state", "state", "received_at"),  # the vault's queue: state "stored"
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


# --- what HQ sent each kit, and what each kit said of its audit log ---------------------------

worklist_issues = Table(  # every worklist HQ signed for a kit (the breach report's source)
    "worklist_issues",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("residents", Integer, nullable=False),
)

worklist_residents = Table(  # who was on each of those worklists
    "worklist_residents",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("nik", String(16), primary_key=True),
    Column("kelurahan", String(13), nullable=False),
    Column("name", Text, nullable=False),
    Index("worklist_residents_device_nik", "device_id", "nik"),
)

audit_heads = Table(  # each (seq, hash) of a kit's audit chain that HQ was shown, and when
    "audit_heads",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),  # the kit's time of the claim
    Column("source", String(80), nullable=False),  # "status" or "packet <id>"
    Column("received_at", DateTime(timezone=True), nullable=False),
)

device_alerts = Table(  # what HQ raised about a kit (audit log forks and roll-backs, ...)
    "device_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("code", String(32), nullable=False),
    Column("detail", Text, nullable=False),
)


# --- The monitoring dashboard's logins (hq/web/auth.py) ---------------------------------------

web_users = Table(  # HQ staff who log in to `rekam-hq serve`
    "web_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer | clerk | admin
    Column("scope_level", String(16)),  # None (the whole kota) | kecamatan | kelurahan
    Column("scope_code", String(16)),  # Kemendagri code of that kecamatan or kelurahan
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

web_sessions = Table(  # a session cookie's token is kept only as its SHA-256
    "web_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(64), nullable=False, default=""),
    Column("user_agent", Text, nullable=False, default=""),
)

web_auth_events = Table(  # every login, failure, refusal and logout; the rate limit counts here
    "web_auth_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", String(64), nullable=False),  # as typed (may name nobody)
    Column("ip", String(64), nullable=False),
    Column("event", String(24), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("web_auth_events_user_at", "user_id", "at"),
    Index("web_auth_events_ip_at", "ip", "at"),
)


# --- The programme's register (hq/register.py) ---------------------------------------------
#
# ``residents`` holds each resident who must record as the register stands now;
# ``resident_events`` every later change to one of them (status or details: what, when,
# from which import or packet, by whom), so a resident's history is their row's first
# import plus their events. ``coverage_daily`` is what monitoring sums: per day and RT, by
# how much the residents who must record ("must_record": belum rekam, diundang, perlu
# tinjau, terekam) and those recorded ("recorded": terekam) changed that day. Every change
# to a resident's status or area writes its delta there in the same transaction, so the
# base "as it stood" on any day, for any area from the kota down to an RT, is one indexed
# sum over a table of (days x RTs) rows, never a scan of millions of residents.

register_imports = Table(  # each file that changed the register
    "register_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", String(64), nullable=False),
    Column("rows", Integer, nullable=False),  # rows read (good and bad)
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
)

residents = Table(
    "residents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("nik", String(16), nullable=False, unique=True),
    Column("no_kk", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("sex", String(1), nullable=False),  # L / P
    Column("birth_place", Text, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("marital_status", String(16), nullable=False),
    Column("address", Text, nullable=False),
    Column("rt", String(3), nullable=False),  # zero-padded, "003"
    Column("rw", String(3), nullable=False),
    Column("kelurahan", String(13), nullable=False),  # "32.75.01.1001"
    Column("kecamatan", String(8), nullable=False),  # "32.75.01"
    Column("status", String(32), nullable=False),  # hq.register.Status
    Column("status_at", DateTime(timezone=True), nullable=False),
    Column("added_import_id", Integer, ForeignKey("register_imports.id"), nullable=False),
    Index("residents_area", "kelurahan", "rw", "rt"),
    Index("residents_status", "status"),
)

resident_events = Table(  # every change to a resident after the import that added them
    "resident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident_id", Integer, ForeignKey("residents.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),  # "status" or "details"
    Column("status_from", String(32)),
    Column("status_to", String(32)),
    Column("changes", Text, nullable=False, default=""),  # JSON {field: [old, new]}
    Column("import_id", Integer, ForeignKey("register_imports.id")),  # from which file
    Column("source", Text, nullable=False, default=""),  # packet, review, invitation...
    Column("by", String(64), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Index("resident_events_resident", "resident_id", "id"),
    Index("resident_events_at", "at"),
)

coverage_daily = Table(  # per day (WIB) and RT: the change in must-record and recorded
    "coverage_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kelurahan", String(13), primary_key=True),
    Column("rw", String(3), primary_key=True),
    Column("rt", String(3), primary_key=True),
    Column("must_record", Integer, nullable=False, default=0),
    Column("recorded", Integer, nullable=False, default=0),
    Index("coverage_daily_area", "kelurahan", "day"),
)


# --- Invitation letters and their delivery (hq/invitations.py, hq/delivery.py) --------------
#
# One row per letter: a resident invited to a visit (date, kelurahan, RW). Printing the same
# resident for the same visit again reuses the row, so its number, date, expiry and QR code
# stay what the first print said. Numbers come from a series per year of the letter's date.

invitation_series = Table(  # the last letter number HQ gave out, per year
    "invitation_series",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", Integer, nullable=False),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(80), nullable=False, unique=True),  # nomor surat, as printed
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("resident_id", Integer, ForeignKey("residents.id"), nullable=False),
    Column("invitation_code", String(16), nullable=False),  # as keyed: "K7QFR2M9XA"
    Column("kelurahan", String(13), nullable=False),  # the visit: where and when
    Column("rw", String(3), nullable=False),
    Column("visit_date", Date, nullable=False),
    Column("visit_place", Text, nullable=False),
    Column("visit_time", String(32), nullable=False, default=""),
    Column("letter_date", Date, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("printed_at", DateTime(timezone=True)),  # the latest print
    Column("printed_by", String(64)),
    Column("prints", Integer, nullable=False, default=0),
    Column("delivery", String(16)),  # the latest mark (hq.delivery.Mark)
    Column("delivery_at", DateTime(timezone=True)),
    UniqueConstraint("year", "seq", name="invitations_year_seq"),
    UniqueConstraint("resident_id", "visit_date", "kelurahan", "rw",
                     name="invitations_resident_visit"),
    Index("invitations_area", "kelurahan", "rw", "visit_date"),
    Index("invitations_code", "invitation_code"),
)

invitation_prints = Table(  # every print run: who printed what, when, into which file
    "invitation_prints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("printed_at", DateTime(timezone=True), nullable=False),
    Column("printed_by", String(64), nullable=False),
    Column("kelurahan", String(13), nullable=False),
    Column("rw", String(3)),  # None: every RW with a visit
    Column("schedule_date", Date),
    Column("slips", Boolean, nullable=False),
    Column("letters", Integer, nullable=False),
    Column("new_letters", Integer, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("file", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
)

invitation_marks = Table(  # what the Satgas Pamor reported for a letter, oldest first
    "invitation_marks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("invitation_id", Integer, ForeignKey("invitations.id"), nullable=False),
    Column("mark", String(16), nullable=False),
    Column("by", String(64), nullable=False),  # the officer who delivered it
    Column("note", Text, nullable=False, default=""),
    Column("delivered_on", Date),  # the day the officer went, when the sheet says
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64), nullable=False),  # who entered it at HQ
    Column("source", Text, nullable=False),  # "command line" or "FILE.csv line N"
    Index("invitation_marks_invitation", "invitation_id", "id"),
)


# --- Visit schedules (hq/schedules.py) ---------------------------------------------------------

visits = Table(  # where and when a kit serves residents: a service point on a day
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("time", String(16), nullable=False, default=""),  # "08.00-15.00", or ""
    Column("place", Text, nullable=False),
    Column("kelurahan", String(13), nullable=False),
    Column("kind", String(20), nullable=False),  # balai-rw | sekolah | kunjungan-rumah
    Column("staff", Text, nullable=False, default=""),  # names, comma-separated
    Column("note", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Index("visits_device_date", "device_id", "date"),
    Index("visits_date", "date"),
)

visit_rws = Table(  # the RWs a visit serves (their residents are its worklist and letters)
    "visit_rws",
    metadata,
    Column("visit_id", Integer, ForeignKey("visits.id"), primary_key=True),
    Column("rw", String(3), primary_key=True),
)


coverage_kelurahan_daily = Table(  # coverage_daily summed per day and kelurahan
    # Kept by database triggers on coverage_daily (hq/monitoring/rollup.py, created by
    # migration 0008), so every writer of coverage_daily keeps it without knowing it. The
    # kota, kecamatan and kelurahan figures read it: 56 rows a day instead of every RT's.
    "coverage_kelurahan_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kelurahan", String(13), primary_key=True),
    Column("must_record", Integer, nullable=False, default=0),
    Column("recorded", Integer, nullable=False, default=0),
)


# --- The vault (hq/vault.py) and its review queue (hq/review.py) -------------------------------
#
# ``enrolments`` is what the vault keeps in clear of each packet it opened: who (NIK,
# resident), when, where (kit, operator, service point, the resident's area), quality and
# flags; the biometrics stay in ``packets`` as ciphertext. ``reviews`` is the supervisor's
# queue: every enrolment the vault would not accept by itself, and every packet it could
# not open, with the decision, who took it, when and why.

enrolments = Table(
    "enrolments",
    metadata,
    Column("packet_id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("nik", String(16), nullable=False),  # "" when the packet could not be read
    Column("resident_id", Integer, ForeignKey("residents.id")),  # None: not on the register
    Column("operator_id", String(64), nullable=False),
    Column("service_point", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),  # sealed at the kit
    Column("day", Date, nullable=False),  # recorded_at's day in WIB
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("kelurahan", String(13), nullable=False),  # the resident's area (else the kit's)
    Column("rw", String(3), nullable=False, default=""),
    Column("rt", String(3), nullable=False, default=""),
    Column("training", Boolean, nullable=False),  # from a kit registered for training
    Column("simulated", Boolean, nullable=False),  # some capture from a simulated device
    # accepted | review | rejected | training | unreadable
    Column("state", String(16), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),  # by the vault, or a supervisor
    Column("flags", Text, nullable=False, default="[]"),  # JSON [{code, message, field}]
    Column("quality", Text, nullable=False, default="{}"),  # JSON, see hq.vault.quality_summary
    Index("enrolments_day", "day", "kelurahan"),
    Index("enrolments_device_day", "device_id", "day"),
    Index("enrolments_nik", "nik"),
    Index("enrolments_state", "state"),
    Index("enrolments_accepted", "accepted_at"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("packet_id", String(64), ForeignKey("enrolments.packet_id"), nullable=False,
           unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("flags", Text, nullable=False),  # JSON, as in enrolments
    Column("state", String(16), nullable=False),  # open | accepted | rejected
    Column("status_before", String(32)),  # the resident's status to restore on reject
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(64)),
    Column("reason", Text),
    Index("reviews_state", "state", "id"),
)


enrolment_daily = Table(  # enrolments counted per day, area, kit, operator and verdict
    # Kept by database triggers on enrolments (hq/monitoring/rollup.py, created by migration
    # 0010), so the vault and review decisions keep it without knowing it: each operator's
    # and each kit's output per day for any period reads a few thousand rows, never the
    # million enrolments. ``kelurahan`` is the enrolment's ("" when HQ could not read it).
    "enrolment_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kelurahan", String(13), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("operator_id", String(64), primary_key=True),
    Column("state", String(16), primary_key=True),  # as in enrolments
    Column("recordings", Integer, nullable=False, default=0),
)


def make_engine(url: str, *, upgrade: bool = True) -> Engine:
    """An engine on HQ's database, brought to this release's schema first
    (:func:`hq.schema.upgrade`: Alembic migrations, in place)."""
    from sqlalchemy.engine import make_url

    connect_args: dict[str, object] = {}
    if make_url(url).get_backend_name() == "sqlite":
        # Python's sqlite3 keeps the parameters last bound to each cached statement: every
        # multi-row INSERT of packets (a distinct statement per row count) held its last
        # ~10 MB of ciphertext, ~1 GB per ingest worker under a fleet (bench/fleet_sim.py).
        # Preparing a statement again costs microseconds; a blob write, milliseconds.
        connect_args["cached_statements"] = 0
    engine = create_engine(url, future=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    if upgrade:
        from hq.schema import upgrade as upgrade_schema

        upgrade_schema(engine)
    return engine
