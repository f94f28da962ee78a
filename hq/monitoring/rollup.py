"""The per-kelurahan rollup of the register's coverage deltas, kept by the database itself.

``coverage_daily`` has a row per day and RT (about 17,000 RTs in Kota Bekasi): the city's
figures from it read hundreds of thousands of rows. ``coverage_kelurahan_daily`` holds the
same deltas summed per day and kelurahan (56), kept in step by triggers on every insert,
update and delete of ``coverage_daily`` — in the same transaction as the change, whoever
writes it (imports, the vault, review decisions), on SQLite and PostgreSQL alike.
:func:`create` installs the triggers and fills the rollup from what is there (migration
0008); :func:`check` compares the two tables (tests, and after a restore).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from hq.db import coverage_daily, coverage_kelurahan_daily

_UPSERT = """INSERT INTO coverage_kelurahan_daily {alias}(day, kelurahan, must_record, recorded)
VALUES ({row}.day, {row}.kelurahan, {sign}{row}.must_record, {sign}{row}.recorded)
ON CONFLICT (day, kelurahan) DO UPDATE SET
    must_record = {target}must_record + excluded.must_record,
    recorded = {target}recorded + excluded.recorded"""

_PG_FUNCTION = """CREATE OR REPLACE FUNCTION coverage_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {old};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {new};
    END IF;
    RETURN NULL;
END
$$"""


def _upsert(row: str, sign: str, *, pg: bool) -> str:
    return _UPSERT.format(row=row, sign=sign, alias="AS c " if pg else "",
                          target="c." if pg else "")


def create(conn: Connection) -> None:
    """Install the triggers and fill the rollup from coverage_daily."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_FUNCTION.format(old=_upsert("OLD", "-", pg=True),
                                                 new=_upsert("NEW", "", pg=True)))
        conn.exec_driver_sql(
            "CREATE TRIGGER coverage_rollup AFTER INSERT OR UPDATE OR DELETE ON "
            "coverage_daily FOR EACH ROW EXECUTE FUNCTION coverage_rollup()")
    else:
        conn.exec_driver_sql(
            "CREATE TRIGGER coverage_rollup_insert AFTER INSERT ON coverage_daily BEGIN "
            + _upsert("NEW", "", pg=False) + "; END")
        conn.exec_driver_sql(
            "CREATE TRIGGER coverage_rollup_update AFTER UPDATE ON coverage_daily BEGIN "
            + _upsert("OLD", "-", pg=False) + "; " + _upsert("NEW", "", pg=False) + "; END")
        conn.exec_driver_sql(
            "CREATE TRIGGER coverage_rollup_delete AFTER DELETE ON coverage_daily BEGIN "
            + _upsert("OLD", "-", pg=False) + "; END")
    conn.exec_driver_sql("DELETE FROM coverage_kelurahan_daily")
    conn.exec_driver_sql(
        "INSERT INTO coverage_kelurahan_daily (day, kelurahan, must_record, recorded) "
        "SELECT day, kelurahan, SUM(must_record), SUM(recorded) FROM coverage_daily "
        "GROUP BY day, kelurahan")


def drop(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS coverage_rollup ON coverage_daily")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS coverage_rollup()")
    else:
        for name in ("insert", "update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS coverage_rollup_{name}")


def check(conn: Connection) -> list[tuple[object, ...]]:
    """(day, kelurahan, rollup, sums) wherever the rollup disagrees with coverage_daily."""
    c, k = coverage_daily.c, coverage_kelurahan_daily.c
    sums = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in conn.execute(
        select(c.day, c.kelurahan, func.sum(c.must_record), func.sum(c.recorded))
        .group_by(c.day, c.kelurahan))}
    kept = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in conn.execute(
        select(k.day, k.kelurahan, k.must_record, k.recorded))}
    return [(key[0], key[1], kept.get(key), sums.get(key))
            for key in sorted(set(sums) | set(kept))
            if kept.get(key, (0, 0)) != sums.get(key, (0, 0))]
