"""Invitation codes and invitation letters.

An invitation code is a short, typeable code printed on each resident's letter. It is
derived from the resident's NIK under HQ's invitation secret (HMAC-SHA256), so the letter
printed today and the worklist sent next week agree without storing a table, and nobody
without the secret can mint a valid code for a NIK.

Each letter is a row of ``invitations``: a resident invited to a visit, with a number from
HQ's series (``invitation_series``, per year), its date and its expiry. :func:`issue`
numbers new letters and finds the old ones again (a reprint shows the same number and the
same QR code), :func:`record_print` records the print and marks the residents "diundang";
the PDF itself is :mod:`hq.letters`, the delivery marks :mod:`hq.delivery`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from edge import regions
from edge.clock import WIB
from edge.errors import NotFound
from edge.invitation_token import encode_token
from edge.keys import write_private
from hq.db import invitation_prints, invitation_series, invitations, residents
from hq.dialect import as_utc
from hq.home import HqKeys
from hq.letters import Batch, Letter, LetterSettings, Visit, render, walking_key
from hq.register import TO_RECORD, Coverage, Status, change_status
from hq.register_read import Filters, RegisterResident, list_residents

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def invitation_code(secret: bytes, nik: str) -> str:
    digest = hmac.new(secret, b"rekam-invitation:" + nik.encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):  # ~50 bits: two of 100,000 residents share a code ~1 in 160,000
        n, r = divmod(n, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return "".join(chars[:5]) + "-" + "".join(chars[5:])


# --- invitation letters: numbered, recorded, reprinted with the same number -----------------

#: Days after the visit that a letter (and its QR code) is still accepted at a service point.
VALID_DAYS = 30


@dataclass(frozen=True)
class Issued:
    """A letter ready to print: its row in ``invitations`` and what the page shows."""

    invitation_id: int
    nik: str
    new: bool  # numbered by this run; False: a reprint
    letter: Letter


def expiry(visit_date: date, valid_days: int) -> datetime:
    """The last second (WIB) of the last day the letter is accepted."""
    last = visit_date + timedelta(days=valid_days)
    return datetime.combine(last, time(23, 59, 59), WIB).astimezone(UTC)


def _reserve(conn: Connection, year: int, n: int) -> int:
    """Take ``n`` numbers from the year's series; returns the first. The series row is
    updated in the caller's transaction, so concurrent runs never share a number."""
    dialect = conn.dialect.name
    insert_fn = sqlite_insert if dialect == "sqlite" else pg_insert
    conn.execute(insert_fn(invitation_series).values(year=year, last_seq=0)
                 .on_conflict_do_nothing(index_elements=["year"]))
    s = invitation_series.c
    conn.execute(update(invitation_series).where(s.year == year)
                 .values(last_seq=s.last_seq + n))
    last = conn.execute(select(s.last_seq).where(s.year == year)).scalar_one()
    return int(last) - n + 1


def issue(
    engine: Engine, keys: HqKeys, settings: LetterSettings,
    wanted: Sequence[tuple[RegisterResident, Visit]], *, now: datetime, by: str,
    valid_days: int = VALID_DAYS,
) -> list[Issued]:
    """The letters for ``wanted`` (resident, visit) pairs, in that order, in one
    transaction: a resident already invited to the same visit keeps the letter's number,
    date and expiry (so the reprint's QR code is the same); the others get the next numbers
    of this year's series. Nothing is marked printed here (:func:`record_print`)."""
    for attempt in (1, 2):
        try:
            return _issue(engine, keys, settings, wanted, now=now, by=by,
                          valid_days=valid_days)
        except IntegrityError:
            # Another run numbered some of the same letters meanwhile: theirs are kept,
            # ours are taken from the table on the second try.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _issue(
    engine: Engine, keys: HqKeys, settings: LetterSettings,
    wanted: Sequence[tuple[RegisterResident, Visit]], *, now: datetime, by: str,
    valid_days: int,
) -> list[Issued]:
    i = invitations.c
    today = now.astimezone(WIB).date()
    with engine.begin() as conn:
        known: dict[tuple[int, date, str, str], Any] = {}
        for kelurahan in {v.kelurahan for _, v in wanted}:
            dates = sorted({v.date for _, v in wanted if v.kelurahan == kelurahan})
            for row in conn.execute(select(invitations).where(
                    i.kelurahan == kelurahan, i.visit_date.in_(dates))):
                known[(row.resident_id, row.visit_date, row.kelurahan, row.rw)] = row
        fresh = [(r, v) for r, v in wanted
                 if (r.id, v.date, v.kelurahan, v.rw) not in known]
        first = _reserve(conn, today.year, len(fresh)) if fresh else 0
        rows = []
        for seq, (resident, visit) in enumerate(fresh, start=first):
            rows.append({
                "number": settings.letter_number(seq, today), "year": today.year, "seq": seq,
                "resident_id": resident.id,
                "invitation_code": invitation_code(keys.invitation_secret,
                                                   resident.nik).replace("-", ""),
                "kelurahan": visit.kelurahan, "rw": visit.rw, "visit_date": visit.date,
                "visit_place": visit.place, "visit_time": visit.time, "letter_date": today,
                "expires_at": expiry(visit.date, valid_days), "created_at": now,
                "created_by": by[:64], "prints": 0,
            })
        if rows:
            conn.execute(insert(invitations), rows)
            numbers = [row["number"] for row in rows]
            for chunk in _chunked(numbers, 500):
                for row in conn.execute(select(invitations).where(i.number.in_(chunk))):
                    known[(row.resident_id, row.visit_date, row.kelurahan, row.rw)] = row
        # A visit moved to another hall keeps its letters' numbers; the reprint says where.
        for resident, visit in wanted:
            row = known[(resident.id, visit.date, visit.kelurahan, visit.rw)]
            if (row.visit_place, row.visit_time) != (visit.place, visit.time):
                conn.execute(update(invitations).where(i.id == row.id)
                             .values(visit_place=visit.place, visit_time=visit.time))
    fresh_ids = {(r.id, v.date, v.kelurahan, v.rw) for r, v in fresh}
    issued = []
    for resident, visit in wanted:
        key = (resident.id, visit.date, visit.kelurahan, visit.rw)
        row = known[key]
        expires = as_utc(row.expires_at)
        code = str(row.invitation_code)
        letter = Letter(
            number=row.number, letter_date=row.letter_date, name=resident.name,
            sex=resident.sex, address=resident.address, rt=resident.rt, rw=resident.rw,
            kelurahan=resident.kelurahan, invitation_code=f"{code[:5]}-{code[5:]}",
            visit=visit, valid_until=expires.astimezone(WIB).date(),
            token=encode_token(invitation_code=code, kelurahan=visit.kelurahan, rw=visit.rw,
                               visit_date=visit.date, expires_at=expires,
                               signing_key=keys.signing),
        )
        issued.append(Issued(row.id, resident.nik, key in fresh_ids, letter))
    return issued


def _chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def record_print(
    engine: Engine, issued: Sequence[Issued], *, now: datetime, by: str, kelurahan: str,
    rw: str | None, schedule_date: date | None, slips: bool, pages: int, file: str,
    sha256: str,
) -> int:
    """After the PDF is written: each letter's latest print, the print run, and the
    residents still "belum rekam" become "diundang" (with history). Returns how many
    residents changed status."""
    i = invitations.c
    changed = 0
    with engine.begin() as conn:
        for chunk in _chunked([x.invitation_id for x in issued], 500):
            conn.execute(update(invitations).where(i.id.in_(chunk)).values(
                printed_at=now, printed_by=by[:64], prints=i.prints + 1))
        conn.execute(insert(invitation_prints).values(
            printed_at=now, printed_by=by[:64], kelurahan=kelurahan, rw=rw,
            schedule_date=schedule_date, slips=slips, letters=len(issued),
            new_letters=sum(x.new for x in issued), pages=pages, file=file[-1000:],
            sha256=sha256))
        coverage = Coverage()
        for x in issued:
            if change_status(conn, x.nik, Status.DIUNDANG, at=now, by=by,
                             reason=f"undangan {x.letter.number} dicetak",
                             source=f"undangan {x.letter.number}",
                             only_from=(Status.BELUM_REKAM,), coverage=coverage):
                changed += 1
        coverage.flush(conn)
    return changed


@dataclass(frozen=True)
class InvitationRow:
    number: str
    nik: str
    name: str
    rt: str
    rw: str
    kelurahan: str
    visit_date: date
    visit_place: str
    letter_date: date
    expires_at: datetime
    prints: int
    printed_at: datetime | None
    printed_by: str | None
    delivery: str | None
    status: str  # the resident's, now

    def to_dict(self) -> dict[str, Any]:
        return {
            "nomor_surat": self.number, "nik": self.nik, "nama": self.name, "rt": self.rt,
            "rw": self.rw, "kode_kelurahan": self.kelurahan,
            "tanggal_kunjungan": self.visit_date.isoformat(), "tempat": self.visit_place,
            "tanggal_surat": self.letter_date.isoformat(),
            "berlaku_sampai": as_utc(self.expires_at).isoformat(), "dicetak": self.prints,
            "terakhir_dicetak": None if self.printed_at is None
            else as_utc(self.printed_at).isoformat(),
            "dicetak_oleh": self.printed_by, "hasil_antar": self.delivery,
            "status": self.status,
        }


def list_invitations(
    engine: Engine, *, kelurahan: str | None = None, rw: str | None = None,
    delivery: str | None = None, limit: int | None = None,
) -> list[InvitationRow]:
    """Letters in walking order per visit; ``delivery`` one of hq.delivery.Mark's values,
    or "none" for letters nobody has reported on yet."""
    i, r = invitations.c, residents.c
    query = (select(i.number, r.nik, r.name, r.rt, i.rw, i.kelurahan, i.visit_date,
                    i.visit_place, i.letter_date, i.expires_at, i.prints, i.printed_at,
                    i.printed_by, i.delivery, r.status)
             .join(residents, r.id == i.resident_id)
             .order_by(i.kelurahan, i.visit_date, i.rw, r.rt, r.address, r.name))
    if kelurahan:
        query = query.where(i.kelurahan == kelurahan)
    if rw:
        query = query.where(i.rw == rw)
    if delivery == "none":
        query = query.where(i.delivery.is_(None))
    elif delivery:
        query = query.where(i.delivery == delivery)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [InvitationRow(*tuple(row)) for row in conn.execute(query)]


# --- a print run: which residents, which visit, the PDF --------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """What a print run covers: per RW (in order) its visit and its residents still to
    record, in walking order; and the RWs with such residents but no visit to invite to."""

    kelurahan: str
    batches: list[tuple[Visit, list[RegisterResident]]]
    without_visit: dict[str, int]

    @property
    def letters(self) -> int:
        return sum(len(people) for _, people in self.batches)


def plan_run(engine: Engine, *, kelurahan: str, rw: str | None = None,
             schedule_date: date | None = None, today: date) -> RunPlan:
    """The residents of ``kelurahan`` (and ``rw``) still to record (belum rekam, diundang),
    each invited to their RW's visit: the one on ``schedule_date``, or else the next one
    from ``today`` on. Home visits (kunjungan rumah) are arranged person by person, not by
    letter, and are left out. NotFound says what is missing: residents, or a visit."""
    from hq.schedules import list_visits

    name = regions.get(kelurahan).name
    area = f"Kelurahan {name}" + (f" RW {rw}" if rw else "")
    when = f"on {schedule_date:%d-%m-%Y}" if schedule_date else f"from {today:%d-%m-%Y} on"
    per_rw: dict[str, Visit] = {}
    for v in list_visits(engine, kelurahan=kelurahan, since=schedule_date or today,
                         until=schedule_date):
        if v.kind == "kunjungan-rumah":
            continue
        for served in v.rws:
            per_rw.setdefault(served, Visit(v.date, v.place, v.time, v.kelurahan, served))
    people: dict[str, list[RegisterResident]] = {}
    for resident in list_residents(engine, Filters(kelurahan=kelurahan, rw=rw,
                                                   statuses=TO_RECORD)):
        people.setdefault(resident.rw, []).append(resident)
    if not people:
        raise NotFound(f"no residents still to record (belum rekam, diundang) in {area}")
    hint = (f"add one: rekam-hq schedule add --kit KIT --date DATE --place TEXT "
            f"--kelurahan {kelurahan} --rw N")
    if rw is not None and rw not in per_rw:
        raise NotFound(f"{area} has no visit scheduled {when}; {hint.replace('N', rw)}")
    batches = [(per_rw[key], sorted(found, key=lambda r: walking_key(r.rw, r.rt, r.address,
                                                                     r.name)))
               for key, found in sorted(people.items()) if key in per_rw]
    without = {key: len(found) for key, found in sorted(people.items()) if key not in per_rw}
    if not batches:
        raise NotFound(f"no visit scheduled {when} for the RWs of {area} with residents "
                       f"still to record (RW {', '.join(without)}); {hint}")
    return RunPlan(kelurahan, batches, without)


@dataclass(frozen=True)
class PrintResult:
    letters: int
    new: int
    pages: int
    invited: int  # residents who became "diundang"
    per_rw: list[tuple[str, date, int]]  # RW, visit date, letters


def print_run(
    engine: Engine, keys: HqKeys, settings: LetterSettings, plan: RunPlan, *,
    output: Path, now: datetime, by: str, slips: bool = False, rw: str | None = None,
    schedule_date: date | None = None, valid_days: int = VALID_DAYS,
    progress: Callable[[int], None] | None = None,
) -> PrintResult:
    """Number (or find again) the plan's letters, typeset them into ``output`` (0600: it
    holds names and addresses), then record the print. A failure before the file is
    written records no print and marks nobody invited; the numbers it took are kept and
    reused by the next run."""
    wanted = [(resident, visit) for visit, people in plan.batches for resident in people]
    issued = issue(engine, keys, settings, wanted, now=now, by=by, valid_days=valid_days)
    batches, start = [], 0
    for visit, people in plan.batches:
        batches.append(Batch(visit, [x.letter for x in issued[start:start + len(people)]]))
        start += len(people)
    rendered = render(batches, settings, slips=slips, when=now, progress=progress)
    write_private(output, rendered.pdf)
    invited = record_print(
        engine, issued, now=now, by=by, kelurahan=plan.kelurahan, rw=rw,
        schedule_date=schedule_date, slips=slips, pages=rendered.pages,
        file=str(output.resolve()), sha256=hashlib.sha256(rendered.pdf).hexdigest())
    return PrintResult(len(issued), sum(x.new for x in issued), rendered.pages, invited,
                       [(v.rw, v.date, len(p)) for v, p in plan.batches])
