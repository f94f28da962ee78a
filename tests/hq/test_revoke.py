"""Revoking a lost, stolen or retired kit: marked at HQ, its certificate on HQ's CRL, its
packets refused by ingest, and the breach report UU 27/2022 needs printed at once."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from cryptography import x509
from hq_world import full_manifest, make_world, sealed

from hq.cli import main
from sync.protocol.chunks import Chunk
from sync.protocol.status import Status, sign_status
from sync.protocol.topics import Channel, topic


@pytest.fixture
def hq(tmp_path, db_url, monkeypatch):
    world = make_world(tmp_path, db_url)
    monkeypatch.setenv("REKAM_HQ_DATABASE_URL",
                       world.engine.url.render_as_string(hide_password=False))
    yield world
    for kit in world.kits.values():
        kit.close()
    world.engine.dispose()


def _packet_message(kit, data: bytes, packet_id: str):
    import hashlib

    from sync.mqtt import Incoming

    chunk = Chunk(packet_id, hashlib.sha256(data).hexdigest(), len(data), 1, 0, 0, data)
    return Incoming(topic(kit.device_id, Channel.PACKET), chunk.encode(), False)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_revoke_marks_the_kit_lists_its_data_and_ingest_refuses_it(hq, tmp_path, capsys):
    from hq.ingest import Ingestor
    from hq.packets import PacketStore

    kit, home = hq.kit, str(hq.home.root)
    ingestor = Ingestor(hq.engine, hq.keys)
    status = Status(kit.device_id, "online", datetime.now(UTC), queue_depth=3,
                    oldest_queued="2026-11-24T08:00:00+00:00", roster_version=1,
                    session="s", audit_head={"seq": 41, "hash": "a" * 64})
    ingestor.handle(topic(kit.device_id, Channel.STATUS), sign_status(status, kit.device_key()))
    manifest, files = full_manifest(kit, hq.niks[0])
    first = sealed(kit, manifest, files)
    ingestor.handle_batch([_packet_message(kit, first, manifest.packet_id)])
    capsys.readouterr()

    report = tmp_path / "breach.csv"
    assert main(["--home", home, "device", "revoke", "kit-a", "--reason", "stolen",
                 "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "kit-a revoked (stolen)" in out and "systemctl reload mosquitto" not in out
    assert "LAPORAN KEGAGALAN PELINDUNGAN DATA PRIBADI (UU 27/2022) - kit kit-a" in out
    assert "batas pemberitahuan" in out and "3 x 24 jam" in out
    assert f"total {len(hq.niks)} penduduk berbeda" in out
    assert "3 paket belum dikonfirmasi HQ" in out
    assert "sejak itu HQ menerima 1; perkiraan belum diterima: 2 paket" in out
    assert "entri #41" in out
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert sorted(r["nik"] for r in rows) == sorted(hq.niks)
    assert oct(report.stat().st_mode & 0o777) == "0o600"

    crl = x509.load_pem_x509_crl((hq.home.keys_dir / "crl.pem").read_bytes())
    assert crl.is_signature_valid(hq.keys.ca_cert.public_key())
    cert = x509.load_pem_x509_certificate(kit.paths.device_cert.read_bytes())
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert revoked is not None
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason \
        is x509.ReasonFlags.key_compromise

    fresh = Ingestor(hq.engine, hq.keys)  # (a running ingest re-reads kits within 30 s)
    manifest, files = full_manifest(kit, hq.niks[1])
    fresh.handle_batch([_packet_message(kit, sealed(kit, manifest, files),
                                        manifest.packet_id)])
    assert fresh.counts["device_revoked"] == 1
    assert [p.packet_id for p in PacketStore(hq.engine).list_packets()] != [manifest.packet_id]

    assert main(["--home", home, "devices"]) == 0
    assert "kit-a is REVOKED (stolen) since" in capsys.readouterr().out
    assert main(["--home", home, "device", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["status"] == "revoked" and row["revoke_reason"] == "stolen"
    assert main(["--home", home, "device", "revoke", "kit-a", "--reason", "lost"]) == 1
    assert "already revoked" in capsys.readouterr().err


def test_a_broker_that_cannot_be_signalled_still_gets_the_report(hq, capsys):
    hq.add_kit("kit-b")
    assert main(["--home", str(hq.home.root), "device", "revoke", "kit-b", "--reason",
                 "retired", "--broker-pid", "999999999"]) == 0
    captured = capsys.readouterr()
    assert "could not signal pid 999999999" in captured.err
    assert "LAPORAN KEGAGALAN PELINDUNGAN DATA PRIBADI (UU 27/2022) - kit kit-b" in captured.out
    assert "HQ tidak mencatat daftar kerja apa pun untuk kit ini" in captured.out
