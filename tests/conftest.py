"""Shared fixtures: a provisioned kit and an initialised HQ in temporary homes, driven through
the real command lines (in-process, so the suite stays fast)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kit_world import DEVICE, KELURAHAN, OPERATOR_PIN, SUPERVISOR_PIN

from hq.cli import main as hq_main
from rekam.cli import main as kit_main


@dataclass
class World:
    hq_home: Path
    kit_home: Path
    csv: Path
    tmp: Path
    kit: Callable[..., int]
    hq: Callable[..., int]

    def niks(self, n: int) -> list[str]:
        import csv

        with self.csv.open(encoding="utf-8-sig") as fh:
            rows = [r for r in csv.DictReader(fh) if r["kode_kelurahan"] == KELURAHAN]
        return [r["nik"] for r in rows[:n]]


@pytest.fixture
def world(tmp_path, monkeypatch, capsys) -> World:
    hq_home, kit_home = tmp_path / "hq", tmp_path / "kit"
    monkeypatch.setenv("REKAM_HQ_HOME", str(hq_home))
    monkeypatch.setenv("REKAM_HOME", str(kit_home))
    monkeypatch.delenv("REKAM_PIN", raising=False)

    def kit(*argv: str, pin: str | None = None, new_pin: str | None = None) -> int:
        if pin:
            monkeypatch.setenv("REKAM_PIN", pin)
        if new_pin:
            monkeypatch.setenv("REKAM_NEW_PIN", new_pin)
        try:
            return kit_main(list(argv))
        finally:
            monkeypatch.delenv("REKAM_PIN", raising=False)
            monkeypatch.delenv("REKAM_NEW_PIN", raising=False)

    def hq(*argv: str) -> int:
        return hq_main(list(argv))

    csv_path = tmp_path / "residents.csv"
    assert hq("init") == 0
    assert hq("synth", "--kelurahan", KELURAHAN, "32.75.01.1002", "--count", "120", "--seed",
              "3", "--today", "2026-11-24", "-o", str(csv_path)) == 0
    # A training kit: the suite records on simulated devices, which a production kit refuses.
    assert hq("device", "add", DEVICE, "--kelurahan", KELURAHAN, "--training", "-o",
              str(tmp_path / "kit.bundle")) == 0
    out = capsys.readouterr().out
    code = out.split("separately): ")[1].split()[0]
    assert kit("provision", str(tmp_path / "kit.bundle"), "--code", code) == 0
    # Fast PIN hashing for tests only; the default is 64 MiB, 3 passes.
    for key, value in (("kdf_memory_kib", "8192"), ("kdf_iterations", "1"),
                       ("allow_simulated", "true"), ("hal", "sim")):
        assert kit("config", "set", key, value) == 0
    assert kit("operator", "add", "siti", "--role", "supervisor", new_pin=SUPERVISOR_PIN) == 0
    assert kit("operator", "add", "budi", "--by", "siti", pin=SUPERVISOR_PIN,
               new_pin=OPERATOR_PIN) == 0
    assert hq("worklist", DEVICE, "--from", str(csv_path), "-o",
              str(tmp_path / "v1.worklist")) == 0
    monkeypatch.setenv("REKAM_OPERATOR", "budi")
    assert kit("roster", "import", str(tmp_path / "v1.worklist"), pin=OPERATOR_PIN) == 0
    capsys.readouterr()
    return World(hq_home, kit_home, csv_path, tmp_path, kit, hq)



# --- HQ's databases: SQLite, and a fresh PostgreSQL database per test -----------------------

PG_ADMIN = os.environ.get("REKAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not _pg_reachable():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (CI must start it)")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}")
    import psycopg

    name = f"rekam_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite"])
def db_url(request, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'hq.db'}"
