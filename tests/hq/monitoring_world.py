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
from hq.register import Status, change_status
from hq.register_import import import_residents

KELURAHAN = ("32.75.01.1001", "32.75.01.1002", "32.75.02.1001")
TRAINING_KIT = "kit-latihan"
# An operator id as a kit that fails the schema may send it: markup for the dashboard and
# for Typst, a right-to-left override, and more than the 64 characters HQ keeps.
HOSTILE_OPERATOR = ('#set page(fill: red)</td><script>alert("x")</script>*tebal*'
                    '\u202eani\x1b[31m' + "x" * 40)
HOSTILE_PLACE = "Balai RW 002 \u202e<img src=x onerror=alert(1)> #pagebreak() $x^2$ " * 3
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
    """Kits as ingest leaves them: kit-01 (Margahayu) heard a minute ago with a readiness
    summary and three packets today; kit-02 (Bintara) silent for three days; kit-03
    (Bekasijaya) and kit-latihan (a training kit in Margahayu) heard an hour ago."""
    import json

    from hq.db import device_status, devices, packets

    with engine.begin() as conn:
        for dev, kel, heard, readiness in (
                ("kit-01", KELURAHAN[1], now - timedelta(minutes=1),
                 {"checked_at": (now - timedelta(hours=2)).isoformat(), "ready": True,
                  "devices": {"camera": "ok"}, "paper": "low"}),
                ("kit-02", KELURAHAN[2], now - timedelta(days=3), None),
                ("kit-03", KELURAHAN[0], now - timedelta(hours=1), None),
                (TRAINING_KIT, KELURAHAN[1], now - timedelta(hours=1), None)):
            conn.execute(devices.insert().values(
                device_id=dev, kelurahan=kel, broker="", signing_public="x" * 43,
                signing_key_id="k" * 16, cert_pem="", created_at=now - timedelta(days=30),
                worklist_version=1, status="active", training=dev == TRAINING_KIT))
            body = {"state": "online", "audit_head": {"seq": 7, "hash": "ab" * 32},
                    "readiness": readiness, "training": dev == TRAINING_KIT}
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


def _enrolment(conn, packet_id: str, device: str, operator: str, at: datetime, *,  # type: ignore[no-untyped-def]
               resident=None, kelurahan: str = "", state: str = "accepted", nik: str = "",
               flags: list[dict[str, object]] | None = None, training: bool = False,
               service_point: str = "Balai RW 001") -> None:
    import json

    from hq.db import enrolments
    from hq.register import wib_day

    conn.execute(enrolments.insert().values(
        packet_id=packet_id, device_id=device, nik=resident.nik if resident else nik,
        resident_id=resident.id if resident else None, operator_id=operator[:64],
        service_point=service_point, recorded_at=at, day=wib_day(at), opened_at=at,
        kelurahan=resident.kelurahan if resident else kelurahan,
        rw=resident.rw if resident else "", rt=resident.rt if resident else "",
        training=training, simulated=training, state=state,
        accepted_at=at if state == "accepted" else None,
        flags=json.dumps(flags or [], ensure_ascii=False), quality="{}"))


def _review(conn, packet_id: str, flags: list[dict[str, object]], at: datetime,  # type: ignore[no-untyped-def]
            before: str | None, *, decided: tuple[str, str, str] | None = None) -> None:
    import json

    from hq.db import reviews

    conn.execute(reviews.insert().values(
        packet_id=packet_id, created_at=at, flags=json.dumps(flags, ensure_ascii=False),
        state=decided[0] if decided else "open", status_before=before,
        decided_at=at + timedelta(hours=1) if decided else None,
        decided_by=decided[1] if decided else None, reason=decided[2] if decided else None))


def _flag(code: str, message: str) -> dict[str, object]:
    return {"code": code, "message": message, "field": None}


def add_enrolments(engine: Engine, now: datetime) -> dict[str, int]:
    """What the vault filed (after build() and add_kits()): an accepted enrolment for every
    resident build() recorded (kit-03 in Bekasijaya, kit-01 in Margahayu, kit-02 in
    Bintara; operators dedi, ani and budi, citra), five more residents recorded by kit-01
    today and yesterday, five enrolments waiting for review (a Margahayu resident whose
    details differ, an unknown NIK, a packet with a hostile operator id that failed the
    schema, a Bintara resident recorded twice, an unreadable packet), one rejected, and two
    practice recordings from the training kit. Returns the counts the pages should show."""
    from edge.clock import WIB

    midnight = datetime.combine(now.astimezone(WIB).date(), datetime.min.time(), tzinfo=WIB)

    def today(k: int) -> datetime:  # strictly between this WIB day's start and now
        return midnight + (now - midnight) * (k + 1) / 12

    r = residents.c
    with engine.begin() as conn:
        recorded = conn.execute(select(r.id, r.nik, r.kelurahan, r.rw, r.rt, r.status_at)
                                .where(r.status == Status.TEREKAM.value)
                                .order_by(r.id)).all()
        for i, res in enumerate(recorded):
            device, operators = {KELURAHAN[0]: ("kit-03", ("dedi",)),
                                 KELURAHAN[1]: ("kit-01", ("ani", "budi")),
                                 KELURAHAN[2]: ("kit-02", ("citra",))}[res.kelurahan]
            at = res.status_at if res.status_at.tzinfo else res.status_at.replace(tzinfo=UTC)
            _enrolment(conn, f"past-{i:04d}", device, operators[i % len(operators)], at,
                       resident=res)
        waiting = conn.execute(select(r.id, r.nik, r.kelurahan, r.rw, r.rt, r.status)
                               .where(r.status == Status.BELUM_REKAM.value)
                               .order_by(r.kelurahan, r.id)).all()
        margahayu = [w for w in waiting if w.kelurahan == KELURAHAN[1]]
        bintara = [w for w in waiting if w.kelurahan == KELURAHAN[2]]
        for i, res in enumerate(margahayu[:5]):  # today (3) and yesterday (2)
            at = today(i) if i < 3 else midnight - timedelta(hours=2, minutes=i)
            _enrolment(conn, f"recent-{i}", "kit-01", "ani" if i != 1 else "budi", at,
                       resident=res)
            change_status(conn, res.nik, Status.TEREKAM, at=at, by="vault",
                          source=f"packet recent-{i}")
        at = today(5)
        items: list[tuple[str, str, str, object, list[dict[str, object]], str]] = [
            ("flag-details", "kit-01", "budi", margahayu[5], [_flag(
                "details_differ", "the kit's worklist named NIK x 'SITI', the register "
                "'SITI AMINAH'")], KELURAHAN[1]),
            ("flag-unknown", "kit-01", "ani", None, [_flag(
                "unknown_nik", "NIK 3275019999990001 is not on the register")], KELURAHAN[1]),
            ("flag-hostile", "kit-01", HOSTILE_OPERATOR, margahayu[6], [_flag(
                "schema", "manifest field operator_id: does not match the pattern "
                + HOSTILE_OPERATOR)], KELURAHAN[1]),
            ("flag-twice", "kit-02", "citra", bintara[0], [_flag(
                "recorded_twice", "NIK x was already recorded by kit kit-02")], KELURAHAN[2]),
            ("flag-unreadable", "kit-03", "", None, [_flag(
                "unreadable", "HQ cannot open this packet: bad signature")], ""),
        ]
        for packet_id, device, operator, res, flags, kel in items:
            _enrolment(conn, packet_id, device, operator, at, resident=res, kelurahan=kel,
                       state="unreadable" if packet_id == "flag-unreadable" else "review",
                       nik="3275019999990001" if packet_id == "flag-unknown" else "",
                       flags=flags, service_point=HOSTILE_PLACE
                       if packet_id == "flag-hostile" else "Balai RW 001")
            before = None
            if res is not None:
                before = res.status  # type: ignore[attr-defined]
                change_status(conn, res.nik, Status.PERLU_TINJAU, at=at,  # type: ignore[attr-defined]
                              by="vault", source=f"packet {packet_id}")
            _review(conn, packet_id, flags, at, before)
        _enrolment(conn, "flag-rejected", "kit-01", "budi", midnight - timedelta(hours=5),
                   kelurahan=KELURAHAN[1], state="rejected", nik="3275019999990002",
                   flags=[_flag("unknown_nik", "not on the register")])
        _review(conn, "flag-rejected", [_flag("unknown_nik", "not on the register")],
                midnight - timedelta(hours=5), None,
                decided=("rejected", "siti", "rekaman ganda"))
        for i in range(2):
            _enrolment(conn, f"practice-{i}", TRAINING_KIT, "pelatih", today(8 + i),
                       resident=margahayu[7 + i], state="training", training=True,
                       flags=[_flag("training", "kit kit-latihan is registered for training")])
    return {"accepted": len(recorded) + 5, "open_reviews": 5, "open_reviews_margahayu": 3,
            "open_reviews_bintara": 1, "training": 2}
