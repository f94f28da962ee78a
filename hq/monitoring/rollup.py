"""Rollups kept by the database itself: the register's coverage deltas per kelurahan, and
the vault's enrolments per day, area, kit, operator and verdict.

``coverage_daily`` has a row per day and RT (about 17,000 RTs in Kota Bekasi): the city's
figures from it read hundreds of thousands of rows. ``coverage_kelurahan_daily`` holds the
same deltas summed per day and kelurahan (56), kept in step by triggers on every insert,
update and delete of ``coverage_daily`` — in the same transaction as the change, whoever
writes it (imports, the vault, review decisions), on SQLite and PostgreSQL alike.
:func:`create` installs the triggers and fills the rollup from what is there (migration
0008); :func:`check` compares the two tables (tests, and after a restore).

``enrolment_daily`` counts ``enrolments`` per (day, kelurahan, kit, operator, state) the
same way (:func:`create_enrolments`, migration 0010): a row's insert adds one, its delete
takes one away, and an update (a review decided) moves one from the old key to the new.
Each operator's output per day over any period then reads a few thousand rows.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from hq.db import coverage_daily, coverage_kelurahan_daily, enrolment_daily, enrolments

_UPSERT = """INSERT INTO coverage_kelurahan_daily {alias}(day, kelurahan, must_record, recorded)
VALUES ({row}.day, {row}.kelurahan, {sign}{row}.must_record, {sign}{row}.recorded)
ON CONFLICT (day, kelurahan) DO UPDATE SET
    must_record = {target}must_record + excluded.must_record,
    recorded = {target}recorded + excluded.recorded"""

# One PostgreSQL trigger function per rollup: take the old row out, put the new one in.
_PG_FUNCTION = """CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
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
        conn.exec_driver_sql(_PG_FUNCTION.format(name="coverage_rollup",
                                                 old=_upsert("OLD", "-", pg=True),
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


# --- enrolments per day, area, kit, operator and verdict --------------------------------------

_KEY = ("day", "kelurahan", "device_id", "operator_id", "state")

_ENROLMENT_UPSERT = """INSERT INTO enrolment_daily {alias}({keys}, recordings)
VALUES ({values}, {sign}1)
ON CONFLICT ({keys}) DO UPDATE SET recordings = {target}recordings + excluded.recordings"""


def _enrolment_upsert(row: str, sign: str, *, pg: bool) -> str:
    return _ENROLMENT_UPSERT.format(
        alias="AS d " if pg else "", keys=", ".join(_KEY),
        values=", ".join(f"{row}.{k}" for k in _KEY), sign=sign, target="d." if pg else "")


def create_enrolments(conn: Connection) -> None:
    """Install the triggers on enrolments and fill enrolment_daily from what is there."""
    keys = ", ".join(_KEY)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_FUNCTION.format(
            name="enrolment_rollup", old=_enrolment_upsert("OLD", "-", pg=True),
            new=_enrolment_upsert("NEW", "", pg=True)))
        conn.exec_driver_sql(
            f"CREATE TRIGGER enrolment_rollup AFTER INSERT OR DELETE OR UPDATE OF {keys} ON "
            "enrolments FOR EACH ROW EXECUTE FUNCTION enrolment_rollup()")
    else:
        conn.exec_driver_sql(
            "CREATE TRIGGER enrolment_rollup_insert AFTER INSERT ON enrolments BEGIN "
            + _enrolment_upsert("NEW", "", pg=False) + "; END")
        conn.exec_driver_sql(
            f"CREATE TRIGGER enrolment_rollup_update AFTER UPDATE OF {keys} ON enrolments "
            "BEGIN " + _enrolment_upsert("OLD", "-", pg=False) + "; "
            + _enrolment_upsert("NEW", "", pg=False) + "; END")
        conn.exec_driver_sql(
            "CREATE TRIGGER enrolment_rollup_delete AFTER DELETE ON enrolments BEGIN "
            + _enrolment_upsert("OLD", "-", pg=False) + "; END")
    conn.exec_driver_sql("DELETE FROM enrolment_daily")
    conn.exec_driver_sql(
        f"INSERT INTO enrolment_daily ({keys}, recordings) "
        f"SELECT {keys}, COUNT(*) FROM enrolments GROUP BY {keys}")


def drop_enrolments(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS enrolment_rollup ON enrolments")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS enrolment_rollup()")
    else:
        for name in ("insert", "update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS enrolment_rollup_{name}")


def check_enrolments(conn: Connection) -> list[tuple[object, ...]]:
    """(key, rollup, count) wherever enrolment_daily disagrees with enrolments."""
    e, d = enrolments.c, enrolment_daily.c
    counted = {tuple(r[:5]): int(r[5]) for r in conn.execute(
        select(*(e[k] for k in _KEY), func.count()).group_by(*(e[k] for k in _KEY)))}
    kept = {tuple(r[:5]): int(r[5]) for r in conn.execute(
        select(*(d[k] for k in _KEY), d.recordings))}
    return [(key, kept.get(key), counted.get(key))
            for key in sorted(set(counted) | set(kept), key=str)
            if kept.get(key, 0) != counted.get(key, 0)]
