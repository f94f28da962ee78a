"""HQ's data, backed up while HQ runs and restored into an empty home: ``rekam-hq backup``
and ``rekam-hq restore``.

- **SQLite**: SQLite's online backup API copies the live database in one read transaction
  (WAL mode lets ingest keep writing meanwhile), so the copy is one consistent moment. The
  backup is itself a SQLite file.
- **PostgreSQL**: ``pg_dump --format=custom`` (a consistent snapshot by MVCC, ingest keeps
  writing), restored with ``pg_restore``. ``rekam-hq backup`` runs it when it is installed
  (``postgresql-client``), else says exactly what to run.

Restore goes only into an **empty** database (a new home, or a new PostgreSQL database named
in the home's ``config.json``): one that holds no row in any table. A SQLite backup may also
be restored into PostgreSQL (every table, whatever Alembic created, is reflected and copied
row by row, then each serial counter is moved past its highest id): the way to move an HQ
from SQLite to PostgreSQL. After a restore the database is upgraded to this release's schema.

HQ's keys are not in the database and not in these backups (see README: back them up apart,
once, encrypted).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, func, insert, select, text
from sqlalchemy.engine import make_url

from edge.errors import AlreadyExists, InvalidInput, RekamError
from hq.db import make_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
ALEMBIC_TABLE = "alembic_version"
COPY_ROWS = 200  # rows per INSERT when copying between databases (packets are ~170 KB)


class BackupError(RekamError):
    """A backup or restore that cannot be done as asked (one line, nothing changed)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    kind: str  # "sqlite" or "pg_dump"
    size: int
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    url: str
    kind: str
    rows: dict[str, int]  # every table of the restored database → its rows
    seconds: float


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput(f"{url} is not a database file")
    return Path(parsed.database)


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://…`` → ``postgresql://…`` (what pg_dump and psql take)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def file_kind(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(16)
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    raise InvalidInput(f"{path} is neither a SQLite backup nor a pg_dump archive (made by "
                       "rekam-hq backup)")


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


# --- progress ---------------------------------------------------------------------------------


def _with_progress(label: str, work: Callable[[], None], watch: Path, expected: int) -> None:
    """Run ``work`` on a thread while showing the bytes written to ``watch`` so far (a Rich
    bar on a terminal, a summary line every few seconds otherwise: hq.progress)."""
    from hq.progress import Progress

    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="rekam-backup", daemon=True)
    with Progress(label, total=max(expected, 1), unit="MB") as progress:
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            size = watch.stat().st_size if watch.exists() else 0
            progress.update(min(size, expected), count=size // 1_000_000)
    if failure:
        raise failure[0]


# --- backup -----------------------------------------------------------------------------------


def backup(url: str, out: Path, *, force: bool = False) -> BackupResult:
    """Back up HQ's database at ``url`` to ``out`` while it runs (see the module docstring)."""
    if out.exists() and not force:
        raise AlreadyExists(f"{out} exists; choose another file or pass --force")
    if out.is_dir():
        raise InvalidInput(f"{out} is a directory, not a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    source = sqlite_path(url)
    try:
        if source is not None:
            kind = "sqlite"
            _sqlite_backup(source, partial)
        else:
            kind = "pg_dump"
            _pg_dump(url, partial)
        os.chmod(partial, 0o600)  # it holds every sealed packet and who was on each worklist
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(out, kind, out.stat().st_size, time.monotonic() - started)


def _sqlite_backup(source: Path, out: Path) -> None:
    if not source.exists():
        raise InvalidInput(f"no HQ database at {source}")
    _with_progress(f"backing up {source.name}", lambda: _sqlite_copy(source, out), out,
                   source.stat().st_size)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API, all pages in one step: one read transaction, so one
    consistent moment (stepping would restart the copy each time ingest, on another
    connection, writes, and never end under a busy fleet). WAL lets writers go on."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()


def _pg_dump(url: str, out: Path) -> None:
    target = libpq_url(url)
    pg_dump = _tool("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (apt-get install postgresql-client); "
                          f"or run: pg_dump --format=custom --file {out.with_suffix('')} "
                          f"'{target}'")
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            expected = int(conn.execute(text("SELECT pg_database_size(current_database())"))
                           .scalar_one())
    finally:
        engine.dispose()

    def dump() -> None:
        result = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--file", str(out),
                                 target], capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {_last_line(result.stderr)}")

    _with_progress("pg_dump of HQ's database", dump, out, expected)


def _last_line(text_: str) -> str:
    lines = [line for line in text_.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# --- restore ----------------------------------------------------------------------------------


def table_rows(engine: Engine) -> dict[str, int]:
    """Every table of the database (reflected, whatever Alembic created) → its rows."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in sorted(meta.tables.items()) if name != ALEMBIC_TABLE}


def _check_empty(url: str) -> None:
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return
    engine = make_engine(url, upgrade=False)
    try:
        held = {name: n for name, n in table_rows(engine).items() if n}
    finally:
        engine.dispose()
    if held:
        what = ", ".join(f"{n} {name}" for name, n in sorted(held.items())[:4])
        raise BackupError(f"HQ's database {make_url(url).render_as_string()} already holds "
                          f"data ({what}); restore only into an empty database (a new home, "
                          "or a new PostgreSQL database)")


def restore(url: str, backup_file: Path) -> RestoreResult:
    """Restore ``backup_file`` into HQ's (empty) database at ``url``; upgrade it to this
    release's schema; every table's rows."""
    if not backup_file.is_file():
        raise FileNotFoundError(2, "no such file", str(backup_file))
    kind = file_kind(backup_file)
    _check_empty(url)
    started = time.monotonic()
    target = sqlite_path(url)
    if kind == "sqlite":
        if target is not None:
            _sqlite_restore(backup_file, target)
        else:
            _copy_tables(backup_file, url)
    else:
        if target is not None:
            raise BackupError(f"{backup_file} is a PostgreSQL dump: restore it into a "
                              "PostgreSQL database (set database_url in the home's "
                              "config.json or REKAM_HQ_DATABASE_URL)")
        _pg_restore(url, backup_file)
    engine = make_engine(url)  # this release's schema, in place (Alembic)
    try:
        rows = table_rows(engine)
    finally:
        engine.dispose()
    return RestoreResult(url, kind, rows, time.monotonic() - started)


def _sqlite_restore(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):  # of an empty database, checked above
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    _with_progress(f"restoring {backup_file.name}", lambda: _sqlite_copy(backup_file, target),
                   target, backup_file.stat().st_size)
    os.chmod(target, 0o600)


def _pg_restore(url: str, backup_file: Path) -> None:
    target = libpq_url(url)
    pg_restore = _tool("pg_restore")
    if pg_restore is None:
        raise BackupError("pg_restore is not installed (apt-get install postgresql-client); "
                          f"or run: pg_restore --clean --if-exists --no-owner --dbname "
                          f"'{target}' {backup_file}, then: rekam-hq db upgrade")

    def run() -> None:
        # --clean --if-exists: the empty tables a first start of rekam-hq may have made
        # (checked empty above) are replaced by the backup's.
        result = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner",
                                 "--single-transaction", "--dbname", target, str(backup_file)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {_last_line(result.stderr)}")

    print(f"pg_restore of {backup_file.name} ...", file=sys.stderr)
    run()


# Rollups the target's own triggers fill as their source tables' rows are copied in
# (hq/monitoring/rollup.py): copying them as well would count every row twice.
KEPT_BY_TRIGGERS = ("coverage_kelurahan_daily", "enrolment_daily")


def _copy_tables(backup_file: Path, url: str) -> None:
    """A SQLite backup into another database: bring a private copy of it to this release's
    schema, create the same schema in the target, then copy every table's rows (the
    rollups are rebuilt by the target's triggers as their sources arrive)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rekam-restore-") as tmp:
        copy = Path(tmp) / "backup.db"
        _sqlite_restore(backup_file, copy)
        source = make_engine(f"sqlite:///{copy}")  # upgraded to this release's head
        dest = make_engine(url)
        try:
            meta = MetaData()
            meta.reflect(source)
            with source.connect() as src, dest.begin() as dst:
                for table in meta.sorted_tables:
                    if table.name in (ALEMBIC_TABLE, *KEPT_BY_TRIGGERS):
                        continue
                    target_table = _reflect_one(dest, table.name)
                    _copy_rows(src, dst, table, target_table)
                _advance_sequences(dst)
        finally:
            source.dispose()
            dest.dispose()


def _reflect_one(engine: Engine, name: str) -> Any:
    meta = MetaData()
    meta.reflect(engine, only=[name])
    return meta.tables[name]


def _copy_rows(src: Any, dst: Any, table: Any, target_table: Any) -> None:
    columns = [c.name for c in table.columns if c.name in target_table.columns]
    result = src.execution_options(stream_results=True).execute(
        select(*(table.c[name] for name in columns)))
    while True:
        rows = result.fetchmany(COPY_ROWS)
        if not rows:
            break
        dst.execute(insert(target_table), [dict(zip(columns, row, strict=True))
                                           for row in rows])


def _advance_sequences(conn: Any) -> None:
    """PostgreSQL: each serial column's sequence past the highest id copied into it."""
    if conn.dialect.name != "postgresql":
        return
    serials = conn.execute(text(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "WHERE c.table_schema = current_schema() "
        "AND (c.column_default LIKE 'nextval(%' OR c.is_identity = 'YES')"
    )).all()
    for table_name, column in serials:
        conn.execute(text(
            f'SELECT setval(pg_get_serial_sequence(:t, :c), '
            f'COALESCE((SELECT max("{column}") FROM "{table_name}"), 0) + 1, false)'),
            {"t": table_name, "c": column})
