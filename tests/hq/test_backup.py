"""``rekam-hq backup`` while HQ runs and ``rekam-hq restore`` into an empty home: every
packet, resident on a worklist and device comes back, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hq_world import full_manifest, make_world, sealed
from sqlalchemy import select

from hq.cli import main as hq_main

BOTH = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@contextmanager
def another_pg_database(pg_url: str) -> Iterator[str]:
    import psycopg

    admin = os.environ.get("REKAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"rekam_restore_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _store_packets(world, n: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from edge.packet import read_header
    from hq.packets import NewPacket, PacketStore

    store = PacketStore(world.engine)
    made = {}
    for nik in world.niks[:n]:
        data = sealed(world.kit, *full_manifest(world.kit, nik))
        header = read_header(data)
        sha = hashlib.sha256(data).hexdigest()
        store.store_packets([NewPacket("kit-a", header, data, sha)], datetime.now(UTC))
        made[header.packet_id] = sha
    store.dead_letter(topic="rekam/v1/kit-a/up/packet", payload=b"junk",
                      reason_code="malformed_chunk", reason="test", now=datetime.now(UTC),
                      device_id="kit-a")
    return made


def _snapshot(engine) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from hq.backup import table_rows
    from hq.db import devices, packets, residents, worklist_residents

    with engine.connect() as conn:
        return {
            "rows": table_rows(engine),
            "packets": {r[0]: hashlib.sha256(bytes(r[1])).hexdigest()
                        for r in conn.execute(select(packets.c.packet_id, packets.c.data))},
            "devices": sorted(tuple(r) for r in conn.execute(
                select(devices.c.device_id, devices.c.signing_key_id, devices.c.kelurahan))),
            "residents": sorted(tuple(r) for r in conn.execute(
                select(worklist_residents.c.device_id, worklist_residents.c.nik,
                       worklist_residents.c.name))),
            "register": sorted(r[0] for r in conn.execute(select(residents.c.nik))),
        }


@BOTH
def test_backup_while_running_and_restore_into_an_empty_home(tmp_path, db_url, monkeypatch,
                                                             capsys):
    from hq.db import make_engine

    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", db_url)
    world = make_world(tmp_path, db_url)
    made = _store_packets(world, 6)
    assert hq_main(["residents", "import", str(tmp_path / "residents.csv"), "--by", "test",
                    "--home", str(world.home.root)]) == 0
    before = _snapshot(world.engine)
    assert before["packets"] == made and len(before["residents"]) == 20  # type: ignore[arg-type]
    assert before["register"] == sorted(world.niks)

    # Ingest keeps writing while the backup runs: the backup is one consistent moment.
    writing = threading.Event()
    more: dict[str, str] = {}

    def writer() -> None:
        writing.set()
        more.update(_store_packets(world, 3))

    thread = threading.Thread(target=writer)
    thread.start()
    writing.wait()
    out = tmp_path / "hq-backup.bin"
    assert hq_main(["backup", "-o", str(out), "--home", str(world.home.root)]) == 0
    thread.join()
    assert "backed up HQ's database" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600

    # An existing file is not overwritten without --force.
    assert hq_main(["backup", "-o", str(out), "--home", str(world.home.root)]) == 1
    assert "exists" in capsys.readouterr().err

    # Restore into an empty home (its database too: a new SQLite file, or a new PostgreSQL
    # database named for it).
    empty = tmp_path / "restored"
    with _target(db_url) as target_url:
        if target_url:
            monkeypatch.setenv("REKAM_HQ_DATABASE_URL", target_url)
        else:
            monkeypatch.delenv("REKAM_HQ_DATABASE_URL")
        assert hq_main(["restore", str(out), "--home", str(empty)]) == 0
        printed = capsys.readouterr()
        assert "restored" in printed.out and "keys are not in a backup" in printed.err
        engine = make_engine(target_url or f"sqlite:///{empty / 'hq.db'}")
        try:
            after = _snapshot(engine)
        finally:
            engine.dispose()
        # Every packet (byte for byte), device and resident; each table as it was at one
        # moment: before the concurrent writer, or with some of its packets.
        assert after["devices"] == before["devices"]
        assert after["residents"] == before["residents"]
        assert after["register"] == before["register"]  # the residents register
        restored = after["packets"]
        assert isinstance(restored, dict)
        assert {k: v for k, v in restored.items() if k in made} == made
        assert set(restored) <= set(made) | set(more)
        rows = after["rows"]
        assert isinstance(rows, dict) and isinstance(before["rows"], dict)
        assert set(rows) == set(before["rows"])  # every table, whatever Alembic created
        assert rows["packets"] == len(restored)

        # A restore never lands on data: one line, exit 1, nothing changed.
        assert hq_main(["restore", str(out), "--home", str(empty)]) == 1
        assert "already holds data" in capsys.readouterr().err


@contextmanager
def _target(db_url: str) -> Iterator[str]:
    if db_url.startswith("sqlite"):
        yield ""
        return
    with another_pg_database(db_url) as url:
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_sqlite_backup_restores_into_postgresql(tmp_path, db_url, monkeypatch, capsys,
                                                  pg_url):
    """The way from a first SQLite HQ to PostgreSQL: every table copied, and new rows get
    new ids (the serial counters moved past the copied ones)."""
    from hq.db import make_engine
    from hq.monitoring import rollup
    from hq.packets import PacketStore
    from hq.register_import import import_residents
    from hq.vault import Vault

    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", db_url)
    world = make_world(tmp_path, db_url)
    import_residents(world.engine, tmp_path / "residents.csv", by="ani")
    _store_packets(world, 3)
    assert Vault(world.engine, world.keys).run_batch().opened == 3
    before = _snapshot(world.engine)
    assert before["rows"]["enrolment_daily"] and before["rows"]["coverage_kelurahan_daily"]
    out = tmp_path / "hq.sqlite"
    assert hq_main(["backup", "-o", str(out), "--home", str(world.home.root)]) == 0
    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", pg_url)
    assert hq_main(["restore", str(out), "--home", str(tmp_path / "pg-home")]) == 0
    engine = make_engine(pg_url)
    try:
        assert _snapshot(engine) == before
        with engine.connect() as conn:  # the rollups were rebuilt, not counted twice
            assert rollup.check(conn) == [] and rollup.check_enrolments(conn) == []
        PacketStore(engine).dead_letter(topic="t", payload=b"x", reason_code="internal",
                                        reason="after the move", now=datetime.now(UTC))
        assert len(PacketStore(engine).list_dead_letters()) == 2
    finally:
        engine.dispose()


def test_bad_backup_files_are_refused_in_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all")
    assert hq_main(["restore", str(junk), "--home", str(tmp_path / "h")]) == 1
    assert "neither a SQLite backup nor a pg_dump archive" in capsys.readouterr().err
    assert hq_main(["restore", str(tmp_path / "missing"), "--home", str(tmp_path / "h")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_a_pg_dump_archive_is_not_restored_into_sqlite(tmp_path, capsys, monkeypatch):
    archive = tmp_path / "hq.dump"
    archive.write_bytes(b"PGDMP" + b"\x00" * 64)
    monkeypatch.delenv("REKAM_HQ_DATABASE_URL", raising=False)
    assert hq_main(["restore", str(archive), "--home", str(tmp_path / "h")]) == 1
    assert "restore it into a PostgreSQL database" in capsys.readouterr().err
    assert not (tmp_path / "h" / "hq.db").exists()


def test_backup_needs_a_database(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REKAM_HQ_DATABASE_URL", raising=False)
    assert hq_main(["backup", "-o", str(tmp_path / "b"), "--home", str(tmp_path / "h")]) == 1
    assert "rekam-hq init" in capsys.readouterr().err
    assert not Path(tmp_path / "b").exists()
