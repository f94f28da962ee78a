"""``rekam-hq ingest`` opens what it stores (the vault runs beside it unless --no-vault)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from edge.packet import read_header
from hq.db import enrolments
from hq.packets import PacketStore

pytestmark = pytest.mark.broker


def test_ingest_starts_the_vault_unless_told_not_to(net, monkeypatch, capsys):
    from sqlalchemy import func, select

    from hq.cli import main

    net.add_kit("kit-a")
    monkeypatch.setenv("REKAM_HQ_HOME", str(net.hq.root))
    with net.kit("kit-a") as kit:
        data = net.make_packet(kit, 2000).data
    header = read_header(data)
    PacketStore(net.engine).store_packet("kit-a", header, data,
                                         hashlib.sha256(data).hexdigest(), datetime.now(UTC))

    def opened() -> int:
        with net.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(enrolments)).scalar_one())

    assert main(["ingest", "--broker", net.broker.url, "--seconds", "2", "--no-vault"]) == 0
    assert opened() == 0
    assert main(["ingest", "--broker", net.broker.url, "--seconds", "3"]) == 0
    assert opened() == 1  # flagged (a bare test packet), but opened and filed
    capsys.readouterr()
