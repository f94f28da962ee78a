"""``rekam-hq invitations``: the letters of a kelurahan's residents still to record, from the
register and the visit schedule, one A4 page each behind each RW's cover sheet (or four
slips a sheet). Every QR code on every page is decoded and checked with the kit's verifier;
a reprint keeps every number; residents become "diundang". On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime, timedelta

from hq_home import both
from letter_pages import read_pages
from sqlalchemy import select

from edge.invitation_token import verify_token
from edge.keys import load_signing_public, signing_key_id
from edge.resident_record import CSV_COLUMNS
from edge.synth import generate_residents
from hq.db import invitation_prints, invitations, residents

KEL = "32.75.01.1001"  # Bekasijaya
NUMBER = re.compile(r"470/\d{5}/Disdukcapil/[IVX]+/\d{4}")


def _setup(hq, n: int = 14) -> tuple[list[str], date]:  # type: ignore[no-untyped-def]
    """n residents of Bekasijaya; a kit; a visit for every RW but the last. Returns the
    RWs with a visit and its date."""
    path = hq.tmp / "warga.csv"
    people = [r.to_record() for r in generate_residents([KEL], n, 3)]
    people[0]["nama"] = "#set page(fill: red) *Budi* $x$ [y] <z> @w \\ Santoso"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows([p[c] for c in CSV_COLUMNS] for p in people)
    assert hq.run("residents", "import", str(path)) == 0
    assert hq.run("device", "add", "kit-01", "--kelurahan", KEL, "-o",
                  str(hq.tmp / "kit.bundle")) == 0
    rws = sorted({p["rw"] for p in people})
    assert len(rws) >= 2, rws
    day = date.today() + timedelta(days=7)
    visited = rws[:-1]
    assert hq.run("schedule", "add", "--kit", "kit-01", "--date", day.isoformat(),
                  "--place", "Balai RW [Utama] #1", "--kelurahan", "Bekasijaya", "--rw",
                  ",".join(str(int(x)) for x in visited), "--time", "08.00-15.00") == 0
    hq.out()
    return visited, day


def _trusted(hq):  # type: ignore[no-untyped-def]
    """What a provisioned kit trusts: HQ's public signing key, by key id."""
    key = load_signing_public((hq.home / "keys" / "hq-signing.pub").read_bytes())
    return {signing_key_id(key): key}


@both
def test_letters_for_the_kelurahan_every_qr_verifies_and_a_reprint_keeps_numbers(hq) -> None:
    visited, day = _setup(hq)
    out_pdf = hq.tmp / "undangan.pdf"
    assert hq.run("invitations", "--kelurahan", "Bekasijaya", "-o", str(out_pdf)) == 0
    out, err = hq.out()
    assert "in RWs with no visit scheduled: RW" in err  # the last RW has none
    with hq.engine.connect() as conn:
        letters = conn.execute(select(invitations.c.number, invitations.c.invitation_code,
                                      invitations.c.rw, residents.c.nik, residents.c.name,
                                      residents.c.status)
                               .join(residents, residents.c.id == invitations.c.resident_id)
                               ).all()
    assert letters and {x.rw for x in letters} == set(visited)
    assert {x.status for x in letters} == {"diundang"}
    assert f"{len(letters)} invitations ({len(letters)} new, 0 printed again" in out
    assert (out_pdf.stat().st_mode & 0o777) == 0o600  # names and addresses

    pages = read_pages(out_pdf.read_bytes())
    assert len(pages) == len(letters) + len(visited)  # a cover sheet per RW
    by_code = {x.invitation_code: x for x in letters}
    trusted, seen = _trusted(hq), []
    for page in pages:
        if "DAFTAR PENERIMA UNDANGAN" in page.text:
            assert not page.codes
            continue
        [text] = page.codes
        token = verify_token(text, trusted=trusted, now=datetime.now(UTC), kelurahan=[KEL])
        letter = by_code[token.invitation_code]
        assert letter.number in page.text and token.visit_date == day
        assert token.rw == letter.rw and letter.nik not in text
        assert " ".join(letter.name.split()) in " ".join(page.text.split())
        seen.append(letter.number)
    assert sorted(seen) == sorted(x.number for x in letters)  # every letter, once
    # Walking order: RW, then RT, as printed.
    walk = [re.search(r"RT (\d{3}) / RW (\d{3})", p.text).groups()[::-1]  # type: ignore
            for p in pages if p.codes]
    assert walk == sorted(walk)

    # Printed again (as slips): the same numbers, nobody numbered twice.
    slips_pdf = hq.tmp / "slip.pdf"
    assert hq.run("invitations", "--kelurahan", KEL, "--slips", "-o", str(slips_pdf)) == 0
    out = hq.out()[0]
    assert f"(0 new, {len(letters)} printed again with their numbers)" in out
    slip_pages = read_pages(slips_pdf.read_bytes())
    codes = [c for p in slip_pages for c in p.codes]
    assert len(codes) == len(letters)
    assert all(len(p.codes) <= 4 for p in slip_pages)
    assert sorted(NUMBER.findall(" ".join(p.text for p in slip_pages if p.codes))) == sorted(
        x.number for x in letters)
    for text in codes:
        verify_token(text, trusted=trusted, now=datetime.now(UTC), kelurahan=[KEL])
    with hq.engine.connect() as conn:
        assert set(conn.execute(select(invitations.c.prints)).scalars()) == {2}
        runs = conn.execute(select(invitation_prints.c.letters, invitation_prints.c.slips,
                                   invitation_prints.c.new_letters)).all()
    assert sorted(runs) == [(len(letters), False, len(letters)), (len(letters), True, 0)]


@both
def test_bad_requests_say_why_and_write_nothing(hq) -> None:
    visited, day = _setup(hq, 8)
    out_pdf = hq.tmp / "x.pdf"
    with hq.engine.connect() as conn:
        last_rw = sorted({r for r in conn.execute(select(residents.c.rw)).scalars()})[-1]
    assert hq.run("invitations", "--kelurahan", KEL, "--rw", last_rw, "-o", str(out_pdf)) == 1
    assert f"RW {last_rw} has no visit scheduled" in hq.out()[1]
    assert hq.run("invitations", "--kelurahan", KEL, "--schedule-date",
                  (day + timedelta(days=1)).strftime("%d-%m-%Y"), "-o", str(out_pdf)) == 1
    assert "no visit scheduled on" in hq.out()[1]
    assert hq.run("invitations", "--kelurahan", "Atlantis", "-o", str(out_pdf)) == 1
    assert hq.out()[1].startswith("error: ")
    assert hq.run("invitations", "--kelurahan", "Margahayu", "-o", str(out_pdf)) == 1
    assert "no residents still to record" in hq.out()[1]
    assert hq.run("invitations", "--kelurahan", KEL) == 1
    assert "-o FILE.pdf" in hq.out()[1]
    assert not out_pdf.exists()
    with hq.engine.connect() as conn:
        assert conn.execute(select(invitations.c.id)).first() is None
    assert hq.run("invitations", "--kelurahan", KEL, "--rw", visited[0], "--schedule-date",
                  day.isoformat(), "-o", str(out_pdf)) == 0
    assert "RW " + visited[0] in hq.out()[0]
