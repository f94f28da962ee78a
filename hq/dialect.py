"""Statements SQLite and PostgreSQL spell differently, for the modules beside ``hq/db.py``:
insert a row, or many, unless its primary key is already there (``ON CONFLICT DO
NOTHING``), and tell which rows this call inserted; and times read back, which SQLite
returns without their zone.

Several ingest processes may store the same row at once (MQTT shared subscription): these
inserts let a twin's row stand and say so, instead of failing the transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import Connection, Table, insert


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert unless the primary key exists; True when this call inserted the row.

    ``RETURNING`` tells, not ``rowcount`` (psycopg 3 under SQLAlchemy 2.1 reports -1)."""
    dialect = conn.dialect.name
    key = next(iter(table.primary_key.columns))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(table).values(**values).on_conflict_do_nothing().returning(key)
        return conn.execute(pg).first() is not None
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(table).values(**values).on_conflict_do_nothing().returning(key)
        return conn.execute(lite).first() is not None
    from sqlalchemy.exc import IntegrityError  # pragma: no cover - other databases

    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True


def insert_many_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]
                       ) -> set[Any]:
    """Insert the rows whose primary key is new, as multi-row statements (SQLAlchemy's
    "insertmanyvalues", not a statement per row); the keys this call inserted."""
    if not rows:
        return set()
    dialect = conn.dialect.name
    key = next(iter(table.primary_key.columns))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).on_conflict_do_nothing().returning(key)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing().returning(key)
    else:  # pragma: no cover - other databases: one row at a time
        return {row[key.name] for row in rows if insert_ignore(conn, table, row)}
    return {r[0] for r in conn.execute(stmt, rows)}


@overload
def as_utc(when: datetime) -> datetime: ...
@overload
def as_utc(when: None) -> None: ...
def as_utc(when: datetime | None) -> datetime | None:
    """A time read back from HQ's database, in UTC with its zone: every time is stored in
    UTC, and PostgreSQL's ``timestamptz`` returns it so, but SQLite drops the zone."""
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
