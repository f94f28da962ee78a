"""Benchmark: importing the whole city's residents into the register (goal: within 2.5x of
the bare insert of the same rows).

Run as ``.venv/bin/python bench/bench_register_import.py [ROWS] [--db sqlite|postgres|both]
[--csv FILE]`` (default 2,600,000 rows, Kota Bekasi's population, on both databases;
PostgreSQL from ``REKAM_BENCH_PG``, default ``postgresql://postgres@127.0.0.1:5432/postgres``,
in a database made and dropped for the run).

The file comes from ``edge.synth`` (``--csv`` reuses one). For each database, in the same
run, on fresh databases at this release's schema:

- **baseline**: the bare insert of the same rows with no validation: the CSV read with
  ``csv.reader`` and its rows, with the register's three bookkeeping columns, written into
  the same ``residents`` table (indexes and all) in one transaction: SQLite
  ``executemany``, PostgreSQL psycopg 3 ``COPY``;
- **import**: ``hq.register_import.import_residents``, as ``rekam-hq residents import`` runs it:
  every row validated (NIK, KK, dates, regions, RT/RW...), duplicates looked for, the
  coverage deltas and the import record written, in one transaction.

The ratio is import ÷ baseline; it stays comparable between machines where seconds do not.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, insert, select

from edge import regions
from edge.synth import write_synthetic_csv
from hq.db import make_engine, register_imports, residents
from hq.register_import import import_residents

GOAL = 2.5
PG_ADMIN = os.environ.get("REKAM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TODAY = date(2026, 11, 24)
COLUMNS = ("nik", "no_kk", "name", "sex", "birth_place", "birth_date", "marital_status",
           "address", "rt", "rw", "kelurahan", "kecamatan", "status", "status_at",
           "added_import_id")


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[Engine]:
    """A fresh HQ database at this release's schema."""
    if kind == "sqlite":
        path = tmp / f"bench-{secrets.token_hex(4)}.db"
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
            for leftover in tmp.glob(path.name + "*"):
                leftover.unlink()
        return
    import psycopg

    name = f"rekam_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(f"{base}/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def baseline(engine: Engine, path: Path) -> float:
    """Read the CSV and insert its rows as they are (see the module docstring)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        import_id = conn.execute(insert(register_imports).values(
            file_name=path.name, sha256="0" * 64, imported_at=now, imported_by="bench",
            rows=0, added=0, changed=0, unchanged=0, rejected=0)
            .returning(register_imports.c.id)).scalar_one()
    dialect = engine.dialect
    stamp = residents.c.status_at.type.dialect_impl(dialect).bind_processor(dialect)
    status_at = stamp(now) if stamp is not None else now
    started = time.perf_counter()
    with path.open(encoding="utf-8-sig", newline="") as fh, engine.begin() as conn:
        reader = csv.reader(fh)
        next(reader)
        extra = ("belum-rekam", status_at, import_id)
        rows = (tuple(row) + extra for row in reader)
        raw = conn.connection.driver_connection
        assert raw is not None
        if dialect.name == "postgresql":
            with raw.cursor() as cur, cur.copy(
                    f"COPY residents ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur = raw.cursor()
            cur.executemany(f"INSERT INTO residents ({', '.join(COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(COLUMNS))})", rows)
            cur.close()
    return time.perf_counter() - started


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(residents)).scalar_one())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=2_600_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--csv", type=Path, help="reuse this synthetic CSV (else made here)")
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory(prefix="rekam-bench-") as tmp_name:
        tmp = Path(tmp_name)
        path = args.csv
        if path is None or not path.exists():
            path = path or tmp / "wajib-rekam.csv"
            started = time.perf_counter()
            n = write_synthetic_csv(path, [k.code for k in regions.kelurahan_list()],
                                    args.rows, seed=1, today=TODAY)
            print(f"synthetic CSV: {n:,} rows, {path.stat().st_size / 1e6:,.0f} MB in "
                  f"{time.perf_counter() - started:.1f} s (edge.synth)", flush=True)
        ok = True
        for kind in kinds:
            with database(kind, tmp) as engine:
                bare = baseline(engine, path)
                rows = count(engine)
            with database(kind, tmp) as engine:
                started = time.perf_counter()
                result = import_residents(engine, path, by="bench", today=TODAY)
                ours = time.perf_counter() - started
                assert result.added == rows == count(engine), (result, rows)
            ratio = ours / bare
            ok &= ratio <= GOAL
            print(f"{kind:<10} rows {rows:>10,}   baseline (bare insert) {bare:7.1f} s "
                  f"{rows / bare:>9,.0f} rows/s   import {ours:7.1f} s {rows / ours:>9,.0f} "
                  f"rows/s   ratio {ratio:4.2f}x  (goal <= {GOAL}x: "
                  f"{'OK' if ratio <= GOAL else 'MISSED'})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
