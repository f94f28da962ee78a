"""Alembic's environment for HQ's database: the schema is :data:`hq.db.metadata`.

At run time :func:`hq.schema.upgrade` hands Alembic an open connection (inside a locked
transaction); from a shell, ``alembic -c alembic.ini ...`` connects to
``$REKAM_HQ_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from hq.db import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=True,  # SQLite alters tables by copying them
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = os.environ.get("REKAM_HQ_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set REKAM_HQ_DATABASE_URL to the database to migrate")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
