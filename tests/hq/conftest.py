"""HQ tests reuse the fake SBI device of the hardware tests (its PKI and signed captures),
and get an initialised HQ home on SQLite or PostgreSQL driven through the real rekam-hq."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hq_home import Hq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hal"))

from hq.cli import main as hq_main


@pytest.fixture
def hq(db_url: str, tmp_path: Path, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    home = tmp_path / "hq"
    monkeypatch.setenv("REKAM_HQ_HOME", str(home))
    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", db_url)

    def run(*argv: str) -> int:
        return hq_main(list(argv))

    def out() -> tuple[str, str]:
        captured = capsys.readouterr()
        return captured.out, captured.err

    assert run("init") == 0
    capsys.readouterr()
    world = Hq(home, db_url, tmp_path, run, out)
    yield world
    if world._engine is not None:
        world._engine.dispose()
