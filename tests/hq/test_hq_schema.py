"""HQ's database is upgraded in place, never recreated: Alembic migrations from every earlier
schema, on SQLite and on PostgreSQL, with data in the tables."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    func,
    insert,
    select,
    text,
)

from hq import schema
from hq.db import make_engine, metadata

both = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres",
                                                                 marks=pytest.mark.postgres)],
                               indirect=True)


def _raw(url: str) -> Engine:
    """An engine that does not migrate: the database as an older release left it."""
    return make_engine(url, upgrade=False)


def _migrate(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), revision)


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(schema.alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def _sample_value(column, n: int):  # type: ignore[no-untyped-def]
    """A value for ``column``, distinct for each ``n`` (so keys never collide)."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, DateTime):
        return datetime(2026, 11, 30, 8, n % 60, tzinfo=UTC)
    if isinstance(kind, Date):
        return date(2026, 11, 30) + timedelta(days=n)
    if isinstance(kind, LargeBinary):
        return b"\x00sealed"
    if isinstance(kind, String) and kind.length:
        return f"{n}x"[: kind.length]
    return f"sample {n}"


_rows = iter(range(1, 10_000))


#: Tables the database fills itself (triggers): a row in the table they derive from is
#: a row in them too.
DERIVED = ("coverage_kelurahan_daily",)


def _fill_every_table(engine: Engine) -> dict[str, int]:
    """One more row in every table, with a value in every column (as a running HQ would
    have); returns the row count of each."""
    n = next(_rows)
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.begin() as conn:
        for table in reflected.sorted_tables:
            if table.name in ("alembic_version", *DERIVED):
                continue
            conn.execute(insert(table).values(**{c.name: _sample_value(c, n)
                                                 for c in table.columns}))
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in reflected.sorted_tables if t.name != "alembic_version"}


@both
def test_a_new_database_gets_every_revision_and_matches_the_code(db_url):
    """A new HQ database is at this release's head, and its tables are exactly what
    hq/db.py declares (a change to the tables without a migration fails here)."""
    engine = make_engine(db_url)
    try:
        assert schema.current(engine) == schema.head()
        with engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn, opts={
                "compare_type": True}), metadata)
        assert drift == [], f"hq/db.py and the migrations disagree: {drift}"
    finally:
        engine.dispose()


@both
def test_every_revision_upgrades_a_database_holding_data(db_url):
    """From each earlier revision, with a row in every table, to the head: nothing lost
    (a new NOT NULL column on a table with rows needs a server default)."""
    revisions = _revisions()
    engine = _raw(db_url)
    try:
        for previous in revisions[:-1]:
            _migrate(engine, previous)
            _fill_every_table(engine)
        _migrate(engine, revisions[-1])
        counts = _fill_every_table(engine)  # the head accepts rows too
        assert schema.current(engine) == schema.head()
        assert all(n >= 1 for n in counts.values()), counts
    finally:
        engine.dispose()


@both
def test_a_database_made_before_migrations_is_stamped_and_upgraded(db_url):
    """The releases before Alembic created their tables directly: such a database keeps its
    rows and is brought to the head."""
    engine = _raw(db_url)
    try:
        _migrate(engine, schema.BASELINE)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
            if conn.dialect.name == "postgresql":  # as the oldest releases left it
                conn.execute(text("ALTER TABLE packets ALTER COLUMN data SET STORAGE EXTENDED"))
        before = _fill_every_table(engine)
        assert schema.current(engine) is None

        upgraded = make_engine(db_url)
        assert schema.current(upgraded) == schema.head()
        with upgraded.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM devices")).scalar_one() == \
                before["devices"]
            if conn.dialect.name == "postgresql":
                storage = conn.execute(text(
                    "SELECT a.attstorage FROM pg_attribute a JOIN pg_class c ON "
                    "c.oid = a.attrelid WHERE c.relname = 'packets' AND a.attname = 'data'"
                )).scalar_one()
                assert storage == "e"  # ciphertext stored out of line, uncompressed
        upgraded.dispose()
    finally:
        engine.dispose()


@both
def test_a_database_from_a_newer_release_is_refused_untouched(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        with pytest.raises(schema.SchemaTooNew, match="newer release"):
            make_engine(db_url)
        assert schema.current(engine) == "9999"
    finally:
        engine.dispose()


@both
def test_workers_starting_together_upgrade_once(db_url):
    """Ingest workers started together by systemd: each waits for the one that upgrades."""
    errors: list[BaseException] = []
    engines: list[Engine] = []

    def start() -> None:
        try:
            engines.append(make_engine(db_url))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert {schema.current(e) for e in engines} == {schema.head()}
    finally:
        for e in engines:
            e.dispose()


def test_db_commands_show_and_apply_the_schema(tmp_path: Path, monkeypatch, capsys):
    from hq.cli import main

    monkeypatch.setenv("REKAM_HQ_HOME", str(tmp_path / "hq"))
    monkeypatch.delenv("REKAM_HQ_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    db = tmp_path / "hq" / "hq.db"
    for leftover in db.parent.glob("hq.db*"):  # as the first release with Alembic left it
        leftover.unlink()
    engine = _raw(f"sqlite:///{db}")
    _migrate(engine, schema.BASELINE)
    engine.dispose()
    capsys.readouterr()

    assert main(["db", "current"]) == 0
    out = capsys.readouterr().out
    assert f"schema    {schema.BASELINE}" in out
    if schema.head() != schema.BASELINE:
        assert "rekam-hq db upgrade" in out
    assert main(["db", "upgrade"]) == 0
    assert schema.head() in capsys.readouterr().out
