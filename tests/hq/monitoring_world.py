"""A register with a history, for the monitoring tests and the dashboard's browser test:
residents of three kelurahan in two kecamatan imported on 1 November 2026, recorded over
the following days (as the vault records them: hq.register.change_status), some moved
away or died, and one resident added by a later export."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from edge.synth import write_synthetic_csv
from hq.db import invitations, residents
from hq.register import Status, change_status, import_residents

KELURAHAN = ("32.75.01.1001", "32.75.01.1002", "32.75.02.1001")
IMPORTED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 09:00 WIB
DAYS = 20


def build(engine: Engine, tmp: Path, *, count: int = 300, seed: int = 7) -> dict[str, int]:
    """Import ``count`` residents, then over DAYS days record about 60 % of them, move
    3 % away and mark 1 % dead. Returns the expected kota totals."""
    csv_path = tmp / "register.csv"
    write_synthetic_csv(csv_path, list(KELURAHAN), count, seed, today=date(2026, 11, 1))
    import_residents(engine, csv_path, by="clerk", now=IMPORTED, today=date(2026, 11, 1))
    with engine.connect() as conn:
        niks = [r[0] for r in conn.execute(select(residents.c.nik).order_by(residents.c.nik))]
    rng = random.Random(seed)
    rng.shuffle(niks)
    n = len(niks)
    recorded = niks[: int(n * 0.6)]
    moved = niks[int(n * 0.6): int(n * 0.63)]
    died = niks[int(n * 0.63): int(n * 0.64)]
    with engine.begin() as conn:
        for i, nik in enumerate(recorded):
            at = IMPORTED + timedelta(days=1 + i * DAYS // len(recorded), hours=1)
            change_status(conn, nik, Status.TEREKAM, at=at, by="kit-01", source="packet")
        for nik in moved:
            change_status(conn, nik, Status.PINDAH, at=IMPORTED + timedelta(days=5),
                          by="clerk", source="import")
        for nik in died:
            change_status(conn, nik, Status.MENINGGAL, at=IMPORTED + timedelta(days=7),
                          by="clerk", source="import")
    invite(engine, niks[: int(n * 0.5)] + niks[int(n * 0.64): int(n * 0.8)], rng)
    return {"must_record": n - len(moved) - len(died), "recorded": len(recorded)}


MARK_SHARES = (("delivered", 0.7), ("not-found", 0.05), ("moved", 0.02), ("refused", 0.01))


def invite(engine: Engine, niks: list[str], rng: random.Random) -> None:
    """Letters for these residents, made the day after the import for a visit on day 3,
    90 % printed, and the Satgas Pamor's marks on most of the printed ones (as
    hq.invitations and hq.delivery keep them)."""
    r = residents.c
    made = IMPORTED + timedelta(hours=20)
    with engine.begin() as conn:
        rows = conn.execute(select(r.id, r.kelurahan, r.rw).where(r.nik.in_(niks))).all()
        values = []
        for seq, (rid, kel, rw) in enumerate(rows, start=1):
            printed = rng.random() < 0.9
            mark, roll, edge = None, rng.random(), 0.0
            for name, share in MARK_SHARES:
                edge += share
                if printed and roll < edge:
                    mark = name
                    break
            values.append({
                "number": f"470/{seq:05d}/Disdukcapil/2026", "year": 2026, "seq": seq,
                "resident_id": rid, "invitation_code": f"CODE{seq:06d}", "kelurahan": kel,
                "rw": rw, "visit_date": date(2026, 11, 4), "visit_place": f"Balai RW {rw}",
                "visit_time": "08.00-15.00", "letter_date": date(2026, 11, 2),
                "expires_at": made + timedelta(days=30), "created_at": made,
                "created_by": "clerk", "printed_at": made if printed else None,
                "printed_by": "clerk" if printed else None, "prints": 1 if printed else 0,
                "delivery": mark, "delivery_at": made + timedelta(days=1) if mark else None})
        conn.execute(invitations.insert(), values)


def record_one(engine: Engine, kelurahan: str, rw: str, at: datetime) -> str:
    """Mark one resident of an RW still to record as recorded (a packet opened)."""
    with engine.begin() as conn:
        nik = conn.execute(select(residents.c.nik).where(
            residents.c.kelurahan == kelurahan, residents.c.rw == rw,
            residents.c.status == Status.BELUM_REKAM.value).limit(1)).scalar_one()
        change_status(conn, nik, Status.TEREKAM, at=at, by="kit-01", source="packet")
    return str(nik)


def add_kits(engine: Engine, now: datetime) -> None:
    """Two kits as ingest leaves them: kit-01 (Margahayu) heard a minute ago with a
    readiness summary and three packets today; kit-02 (Bintara) silent for three days."""
    import json

    from hq.db import device_status, devices, packets

    with engine.begin() as conn:
        for dev, kel, heard, readiness in (
                ("kit-01", KELURAHAN[1], now - timedelta(minutes=1),
                 {"checked_at": (now - timedelta(hours=2)).isoformat(), "ready": True,
                  "devices": {"camera": "ok"}, "paper": "low"}),
                ("kit-02", KELURAHAN[2], now - timedelta(days=3), None)):
            conn.execute(devices.insert().values(
                device_id=dev, kelurahan=kel, broker="", signing_public="x" * 43,
                signing_key_id="k" * 16, cert_pem="", created_at=now - timedelta(days=30),
                worklist_version=1, status="active"))
            body = {"state": "online", "audit_head": {"seq": 7, "hash": "ab" * 32},
                    "readiness": readiness}
            conn.execute(device_status.insert().values(
                device_id=dev, state="online", at=heard, session="s", received_at=heard,
                queue_depth=2, oldest_queued=None, free_disk_mb=9000,
                software_version="0.1.0", roster_version=1, body=json.dumps(body)))
        conn.execute(packets.insert(), [{
            "packet_id": f"p{i}", "device_id": "kit-01", "sha256": "0" * 64, "size": 1,
            "device_key_id": "k", "hq_key_id": "h", "suite": "s",
            "created_at": now.isoformat(), "received_at": now - timedelta(minutes=5 + i),
            "state": "stored", "deliveries": 1, "data": b"x"} for i in range(3)])


def add_visits(engine: Engine, now: datetime, today: date) -> None:
    """Tomorrow kit-01 serves Margahayu RW 001 with staff and its worklist on board (on
    track); the day after, kit-02 (silent) serves Bintara RW 002 with no staff and no
    worklist (at risk)."""
    from hq.db import visit_rws, visits, worklist_issues

    with engine.begin() as conn:
        for vid, dev, kel, rw, day, staff in (
                (1, "kit-01", KELURAHAN[1], "001", today + timedelta(days=1), "Ani, Budi"),
                (2, "kit-02", KELURAHAN[2], "002", today + timedelta(days=2), "")):
            conn.execute(visits.insert().values(
                id=vid, device_id=dev, date=day, time="08.00-15.00",
                place=f"Balai RW {rw}", kelurahan=kel, kind="balai-rw", staff=staff, note="",
                created_at=now - timedelta(hours=3), created_by="clerk"))
            conn.execute(visit_rws.insert().values(visit_id=vid, rw=rw))
        conn.execute(worklist_issues.insert().values(
            device_id="kit-01", version=1, issued_at=now - timedelta(hours=2),
            expires_at=now + timedelta(days=30), residents=40))
