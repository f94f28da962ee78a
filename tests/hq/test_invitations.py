"""Invitation letters in HQ's database: numbered from a series, the same number on every
reprint, residents marked "diundang" when printed; the Satgas Pamor's delivery marks, one by
one and from the return sheet (all or nothing), moving residents to "pindah" / "meninggal"
with history. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta

import pytest
from hq_home import both
from sqlalchemy import func, select

from edge.errors import InvalidInput, NotFound
from edge.resident_record import CSV_COLUMNS
from edge.synth import generate_residents
from hq.db import invitation_marks, invitation_prints, invitations, resident_events, residents
from hq.delivery import Mark, SheetRejected, apply_sheet, mark_one, parse_mark
from hq.home import HqHome
from hq.invitations import issue, record_print
from hq.letters import LetterSettings, Visit, walking_order
from hq.register import TO_RECORD, Status
from hq.register_read import Filters, list_residents

KEL = "32.75.01.1001"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 09:00 WIB
TODAY = date(2026, 11, 24)


def _import(hq, n: int = 24, seed: int = 7) -> None:  # type: ignore[no-untyped-def]
    path = hq.tmp / "warga.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for r in generate_residents([KEL], n, seed, today=TODAY):
            record = r.to_record()
            writer.writerow([record[c] for c in CSV_COLUMNS])
    assert hq.run("residents", "import", str(path)) == 0
    hq.out()


def _wanted(hq, visit_date: date = date(2026, 12, 4)):  # type: ignore[no-untyped-def]
    people = list(list_residents(hq.engine, Filters(kelurahan=KEL, statuses=TO_RECORD)))
    visits = {rw: Visit(visit_date, f"Balai RW {rw}", "08.00-15.00", KEL, rw)
              for rw in {p.rw for p in people}}
    by_nik = {p.nik: p for p in people}
    pairs = [(p, visits[p.rw]) for p in people]
    order = walking_order([_as_letter(p, v) for p, v in pairs])
    return [(by_nik[x.name], visits[x.rw]) for x in order]


def _as_letter(p, v):  # type: ignore[no-untyped-def]
    from hq.letters import Letter

    # walking_order only reads rw, rt, address and name; carry the NIK in the name slot
    return Letter("", TODAY, p.nik, p.sex, p.address, p.rt, p.rw, p.kelurahan, "", v, TODAY,
                  "")


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@both
def test_numbers_come_from_the_series_and_a_reprint_keeps_them(hq) -> None:
    _import(hq)
    keys, settings = HqHome(hq.home).keys(), LetterSettings()
    wanted = _wanted(hq)
    first = issue(hq.engine, keys, settings, wanted, now=NOW, by="clerk")
    assert [x.letter.number for x in first] == [
        f"470/{n:05d}/Disdukcapil/XI/2026" for n in range(1, len(wanted) + 1)]
    assert all(x.new for x in first)
    assert first[0].letter.valid_until == date(2027, 1, 3)  # the visit + 30 days, WIB
    # Printed again a week later, in another month: the same letters, the same QR codes.
    again = issue(hq.engine, keys, settings, list(reversed(wanted)),
                  now=NOW + timedelta(days=7), by="other")
    assert [x.letter.number for x in again] == [x.letter.number for x in reversed(first)]
    assert [x.letter.token for x in again] == [x.letter.token for x in reversed(first)]
    assert not any(x.new for x in again)
    assert {x.letter.letter_date for x in again} == {date(2026, 11, 27)}
    # A second visit to the same RWs is a new letter, numbered on from the series.
    later = issue(hq.engine, keys, settings, _wanted(hq, date(2027, 1, 8))[:2],
                  now=NOW + timedelta(days=40), by="clerk")
    assert [x.letter.number for x in later] == [
        f"470/{n:05d}/Disdukcapil/I/2027" for n in (1, 2)]  # a new year, a new series
    assert _count(hq.engine, invitations) == len(wanted) + 2


@both
def test_printing_records_the_run_and_marks_residents_invited_with_history(hq) -> None:
    _import(hq, 6)
    keys = HqHome(hq.home).keys()
    issued = issue(hq.engine, keys, LetterSettings(), _wanted(hq), now=NOW, by="clerk")
    changed = record_print(hq.engine, issued, now=NOW, by="siti", kelurahan=KEL, rw=None,
                           schedule_date=None, slips=False, pages=9, file="u.pdf",
                           sha256="0" * 64)
    assert changed == 6
    with hq.engine.connect() as conn:
        statuses = set(conn.execute(select(residents.c.status)).scalars())
        events = conn.execute(select(resident_events.c.status_to, resident_events.c.source,
                                     resident_events.c.by)).all()
        prints = conn.execute(select(invitations.c.prints, invitations.c.printed_by)).all()
    assert statuses == {Status.DIUNDANG.value}
    assert {(e.status_to, e.by) for e in events} == {("diundang", "siti")}
    assert all(e.source.startswith("undangan 470/") for e in events)
    assert set(prints) == {(1, "siti")}
    record_print(hq.engine, issued, now=NOW, by="budi", kelurahan=KEL, rw=None,
                 schedule_date=None, slips=True, pages=3, file="u.pdf", sha256="0" * 64)
    with hq.engine.connect() as conn:
        assert set(conn.execute(select(invitations.c.prints)).scalars()) == {2}
    assert _count(hq.engine, invitation_prints) == 2
    assert _count(hq.engine, resident_events) == 6  # already diundang: no second event


def test_delivery_results_in_both_languages_and_the_cover_sheet_codes() -> None:
    assert parse_mark("Diterima") is parse_mark("D") is Mark.DELIVERED
    assert parse_mark("tidak ditemukan") is parse_mark("T") is Mark.NOT_FOUND
    assert parse_mark("PINDAH") is parse_mark("moved") is Mark.MOVED
    assert parse_mark("meninggal dunia") is parse_mark("M") is Mark.DIED
    assert parse_mark("menolak") is parse_mark("TL") is Mark.REFUSED
    with pytest.raises(InvalidInput, match="not a delivery result"):
        parse_mark("hilang")


@both
def test_marks_one_by_one_move_and_bury_residents_with_history(hq) -> None:
    _import(hq, 4)
    keys = HqHome(hq.home).keys()
    issued = issue(hq.engine, keys, LetterSettings(), _wanted(hq), now=NOW, by="clerk")
    a, b, c, d = issued
    assert mark_one(hq.engine, a.letter.number, Mark.DELIVERED, by="Pak Darto", now=NOW,
                    recorded_by="clerk").applied
    moved = mark_one(hq.engine, b.letter.invitation_code, Mark.MOVED, by="Pak Darto",
                     note="pindah ke Bogor", now=NOW, recorded_by="clerk")
    assert moved.status is not None and moved.status.after is Status.PINDAH
    died = mark_one(hq.engine, c.letter.number, Mark.DIED, by="Bu Sri", now=NOW,
                    recorded_by="clerk")
    assert died.status is not None and died.status.after is Status.MENINGGAL
    again = mark_one(hq.engine, c.letter.number, Mark.DIED, by="Bu Sri", now=NOW,
                     recorded_by="clerk")
    assert not again.applied  # typed twice, recorded once
    with hq.engine.begin() as conn:  # d was recorded meanwhile: a "moved" does not undo it
        conn.execute(residents.update().where(residents.c.nik == d.nik)
                     .values(status=Status.TEREKAM.value))
    kept = mark_one(hq.engine, d.letter.number, Mark.MOVED, by="Bu Sri", now=NOW,
                    recorded_by="clerk")
    assert kept.applied and kept.status is None and kept.kept_status is Status.TEREKAM
    with hq.engine.connect() as conn:
        status = dict(conn.execute(select(residents.c.nik, residents.c.status)).all())
        history = conn.execute(select(resident_events.c.status_to, resident_events.c.reason,
                                      resident_events.c.source)
                               .where(resident_events.c.status_to == "pindah")).one()
        delivery = dict(conn.execute(select(invitations.c.number,
                                            invitations.c.delivery)).all())
    assert (status[a.nik], status[b.nik], status[c.nik], status[d.nik]) == (
        "belum-rekam", "pindah", "meninggal", "terekam")
    assert history.reason == "Satgas Pamor: pindah (pindah ke Bogor)"
    assert history.source == f"undangan {b.letter.number}"
    assert delivery[a.letter.number] == "delivered" and delivery[d.letter.number] == "moved"
    assert _count(hq.engine, invitation_marks) == 4
    with pytest.raises(NotFound, match="no invitation letter"):
        mark_one(hq.engine, "470/99999/Disdukcapil/XI/2026", Mark.DELIVERED, by="x",
                 now=NOW, recorded_by="clerk")
    for by in ("Pak\x1b[31mDarto", "Pak \u202eotraD"):  # an ESC; a right-to-left override
        with pytest.raises(InvalidInput, match="control or invisible character"):
            mark_one(hq.engine, a.letter.number, Mark.DELIVERED, by=by, now=NOW,
                     recorded_by="clerk")


def _sheet(path, rows, header=("Nomor Surat", "HASIL", "Petugas", "Catatan", "Tgl"),
           delimiter=";"):  # type: ignore[no-untyped-def]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@both
def test_the_return_sheet_is_all_or_nothing_and_names_every_bad_cell(hq) -> None:
    _import(hq, 5)
    keys = HqHome(hq.home).keys()
    a, b, c, d, e = issue(hq.engine, keys, LetterSettings(), _wanted(hq), now=NOW,
                          by="clerk")
    bad = _sheet(hq.tmp / "kembali.csv", [
        (a.letter.number, "D", "Pak Darto", "", "27-11-2026"),
        (b.letter.number, "hilang", "Pak Darto", "", ""),  # line 3: not a result
        ("470/00777/Disdukcapil/XI/2026", "T", "Pak Darto", "", ""),  # line 4: no letter
        (c.letter.number, "P", "", "", ""),  # line 5: nobody named, and no --by
        (d.letter.number, "M", "Bu Sri", "", "30-02-2026"),  # line 6: no such date
        (e.letter.number, "TL", "Bu Sri", "", "01-12-2027"),  # line 7: in the future
        (a.letter.number, "T", "Bu Sri", "", ""),  # line 8: line 2 said otherwise
    ])
    with pytest.raises(SheetRejected) as caught:
        apply_sheet(hq.engine, bad, by=None, now=NOW, recorded_by="clerk")
    assert caught.value.problems == [
        "line 3, column hasil: 'hilang' is not a result: diterima (D), tidak ditemukan "
        "(T), pindah (P), meninggal (M), menolak (TL); or delivered, not-found, moved, "
        "died, refused",
        "line 4, column nomor_surat: no invitation letter 470/00777/Disdukcapil/XI/2026",
        "line 5, column petugas: empty (who delivered it), and no --by given",
        "line 6, column tanggal: 30-02-2026 is not a date",
        "line 7, column tanggal: 01-12-2027 is in the future",
        f"line 8, column nomor_surat: letter {a.letter.number} is also on line 2 with "
        "another result; keep one",
    ]  # every problem at once: the letters of the rows whose cells are right looked up too
    assert str(caught.value).endswith("6 bad rows; nothing was marked (fix them in Excel "
                                      "and import the sheet again)")
    assert _count(hq.engine, invitation_marks) == 0
    bad = _sheet(hq.tmp / "kembali.csv", [
        (a.letter.number, "D", "Pak Darto", "", "27-11-2026"),
        ("470/00777/Disdukcapil/XI/2026", "T", "Pak Darto", "", ""),
        (a.letter.number, "T", "Bu Sri", "", ""),
    ])
    with pytest.raises(SheetRejected) as caught:
        apply_sheet(hq.engine, bad, by=None, now=NOW, recorded_by="clerk")
    assert caught.value.problems == [
        "line 3, column nomor_surat: no invitation letter 470/00777/Disdukcapil/XI/2026",
        f"line 4, column nomor_surat: letter {a.letter.number} is also on line 2 with "
        "another result; keep one",
    ]
    assert _count(hq.engine, invitation_marks) == 0

    good = _sheet(hq.tmp / "kembali2.csv", [
        (a.letter.number, "diterima", "Pak Darto", "diterima ibunya", "27-11-2026"),
        (b.letter.number, "Pindah", "", "ke Depok", ""),
        (c.letter.invitation_code, "M", "Bu Sri", "", ""),
        (d.letter.number, "tidak ditemukan", "", "", ""),
        (d.letter.number, "tidak ditemukan", "", "", ""),  # typed twice: once
        ("", "", "", "", ""),  # Excel's empty rows are skipped
    ], header=("nomor_surat", "hasil", "petugas", "catatan", "tanggal"), delimiter=",")
    result = apply_sheet(hq.engine, good, by="Satgas Kel. Bekasijaya", now=NOW,
                         recorded_by="clerk")
    assert (result.rows, result.applied) == (5, 4)
    with hq.engine.connect() as conn:
        marks = conn.execute(select(invitation_marks.c.mark, invitation_marks.c.by,
                                    invitation_marks.c.delivered_on,
                                    invitation_marks.c.source)
                             .order_by(invitation_marks.c.id)).all()
        status = dict(conn.execute(select(residents.c.nik, residents.c.status)).all())
    assert [(m.mark, m.by) for m in marks] == [
        ("delivered", "Pak Darto"), ("moved", "Satgas Kel. Bekasijaya"), ("died", "Bu Sri"),
        ("not-found", "Satgas Kel. Bekasijaya")]
    assert marks[0].delivered_on == date(2026, 11, 27) and marks[1].delivered_on is None
    assert marks[0].source == "kembali2.csv line 2"
    assert (status[b.nik], status[c.nik], status[d.nik]) == ("pindah", "meninggal",
                                                             "belum-rekam")
    # The same sheet again changes nothing.
    assert apply_sheet(hq.engine, good, by="Satgas Kel. Bekasijaya", now=NOW,
                       recorded_by="clerk").applied == 0
    assert _count(hq.engine, invitation_marks) == 4


@both
def test_rekam_hq_invitations_mark_and_list(hq) -> None:
    import json

    _import(hq, 3)
    keys = HqHome(hq.home).keys()
    a, b, c = issue(hq.engine, keys, LetterSettings(), _wanted(hq), now=NOW, by="clerk")
    assert hq.run("invitations", "mark", a.letter.number, "diterima", "--by", "Pak Darto") == 0
    assert hq.out()[0].strip() == f"{a.letter.number}: diterima"
    assert hq.run("invitations", "mark", b.letter.number, "moved", "--by", "Pak Darto",
                  "--note", "ke Depok") == 0
    assert "status belum rekam -> pindah" in hq.out()[0]
    assert hq.run("invitations", "mark", c.letter.number, "hilang", "--by", "x") == 1
    assert "not a delivery result" in hq.out()[1]
    assert hq.run("invitations", "mark", c.letter.number, "D") == 1
    assert "--by NAME" in hq.out()[1]
    sheet = _sheet(hq.tmp / "kembali.csv", [(c.letter.number, "X", "Bu Sri", "", ""),
                                            ("nomor?", "D", "Bu Sri", "", "")])
    assert hq.run("invitations", "mark", "--from", str(sheet)) == 1
    err = hq.out()[1]
    assert err.splitlines()[0].startswith("line 2, column hasil: 'X' is not a result")
    assert err.splitlines()[1] == "line 3, column nomor_surat: no invitation letter nomor?"
    assert err.splitlines()[-1].startswith(f"error: {sheet}: 2 bad rows; nothing was marked")
    sheet = _sheet(hq.tmp / "kembali.csv", [(c.letter.number, "TL", "Bu Sri", "", "")])
    assert hq.run("invitations", "mark", "--from", str(sheet)) == 0
    assert hq.out()[0].strip() == "kembali.csv: 1 row, 1 mark recorded"
    assert hq.run("invitations", "list", "--kelurahan", "Bekasijaya", "--json") == 0
    listed = {r["nomor_surat"]: r for r in json.loads(hq.out()[0])}
    assert (listed[a.letter.number]["hasil_antar"], listed[b.letter.number]["status"],
            listed[c.letter.number]["hasil_antar"]) == ("delivered", "pindah", "refused")
    assert hq.run("invitations", "list", "--delivery", "none") == 0
    assert "no invitation letters" in hq.out()[1]
