"""The ``rekam-hq invitations`` commands: print the letters, list them, and enter what the
Satgas Pamor report (``mark``). ``hq/cli.py`` wires them with :func:`add_commands`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.cli_support import OneLineParser, SubcommandAdder, fail, print_json, print_table
from edge.clock import WIB
from edge.errors import InvalidInput
from hq.home import HqHome, hq_default_home
from hq.register_cli import kelurahan_code


def _home(args: argparse.Namespace) -> HqHome:
    return HqHome(Path(args.home) if args.home else hq_default_home())


def _engine(args: argparse.Namespace) -> Any:
    from hq.db import make_engine

    return make_engine(_home(args).database_url())


def _user(by: str | None) -> str:
    from hq.register import login_name

    return by or login_name()


def _rw(text: str | None) -> str | None:
    from hq.register_read import rt_rw_number

    return None if text is None else rt_rw_number(text, "--rw")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# --- print ----------------------------------------------------------------------------------


def cmd_print(args: argparse.Namespace) -> int:
    import time

    from edge.resident_record import parse_date
    from hq.invitations import VALID_DAYS, plan_run, print_run
    from hq.letters import LetterSettings
    from hq.progress import Progress

    if not args.kelurahan or not args.output:
        raise InvalidInput("say which kelurahan and where the PDF goes: rekam-hq invitations "
                           "--kelurahan K -o FILE.pdf (or an ACTION: mark, list)")
    kelurahan = kelurahan_code(args.kelurahan)
    assert kelurahan is not None
    rw = _rw(args.rw)
    try:
        schedule_date = parse_date(args.schedule_date) if args.schedule_date else None
    except ValueError as exc:
        raise InvalidInput(f"--schedule-date: {exc}") from None
    valid_days = VALID_DAYS if args.valid_days is None else args.valid_days
    if not 0 <= valid_days <= 366:
        raise InvalidInput("--valid-days: from 0 to 366 days after the visit")
    output = Path(args.output)
    if output.is_dir():
        raise InvalidInput(f"-o {output}: a directory; give a file name such as rw005.pdf")
    home = _home(args)
    keys, settings = home.keys(), LetterSettings.from_config(home.config())
    engine = _engine(args)
    now = datetime.now(UTC)
    plan = plan_run(engine, kelurahan=kelurahan, rw=rw, schedule_date=schedule_date,
                    today=now.astimezone(WIB).date())
    if plan.without_visit:
        left = sum(plan.without_visit.values())
        rws = ", ".join(f"{rw} ({n})" for rw, n in plan.without_visit.items())
        print(f"no letters for {_n(left, 'resident')} still to record in RWs with no visit "
              f"scheduled: RW {rws} (rekam-hq schedule add ... --rw N)", file=sys.stderr)
    started = time.perf_counter()
    what = "slips" if args.slips else "letters"
    with Progress(f"typesetting {what}", plan.letters, unit=what) as progress:
        result = print_run(engine, keys, settings, plan, output=output, now=now,
                           by=_user(args.by), slips=args.slips, rw=rw,
                           schedule_date=schedule_date, valid_days=valid_days,
                           progress=lambda done: progress.update(done, count=done))
    elapsed = time.perf_counter() - started
    for served, day, count in result.per_rw:
        print(f"  RW {served}: {_n(count, 'letter')}, visit {day:%d-%m-%Y}")
    reprinted = result.letters - result.new
    print(f"{_n(result.letters, 'invitation')} ({result.new} new, {reprinted} printed again "
          f"with their numbers) on {_n(result.pages, 'page')}, {result.invited} residents "
          f"now diundang ({elapsed:.1f} s, {elapsed * 1000 / result.letters:.0f} ms a "
          f"letter) -> {output}")
    return 0


# --- mark -----------------------------------------------------------------------------------


def _describe(result: Any) -> str:
    from hq.delivery import MarkResult

    assert isinstance(result, MarkResult)
    text = f"{result.number}: {result.mark.label}"
    if not result.applied:
        return text + " (already recorded)"
    if result.status is not None:
        text += f"; resident's status {result.status.before.label} -> {result.status.after.label}"
    if result.kept_status is not None:
        text += (f"; resident's status stays {result.kept_status.label} (check the register: "
                 "rekam-hq residents show NIK)")
    return text


def cmd_mark(args: argparse.Namespace) -> int:
    from hq.delivery import SheetRejected, apply_sheet, mark_one, parse_mark

    now = datetime.now(UTC)
    engine = _engine(args)
    clerk = _user(None)
    if args.sheet:
        if args.number or args.result:
            raise InvalidInput("give either NUMBER RESULT or --from FILE.csv, not both")
        try:
            result = apply_sheet(engine, Path(args.sheet), by=args.by, now=now,
                                 recorded_by=clerk)
        except SheetRejected as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return fail(str(exc))
        for r in result.results:
            if r.applied and (r.status is not None or r.kept_status is not None):
                print(_describe(r))
        unchanged = len(result.results) - result.applied
        print(f"{Path(args.sheet).name}: {_n(result.rows, 'row')}, "
              f"{_n(result.applied, 'mark')} recorded"
              + (f", {unchanged} already recorded" if unchanged else ""))
        return 0
    if not (args.number and args.result):
        raise InvalidInput("say which letter and what happened: mark NUMBER RESULT --by NAME "
                           "(or --from FILE.csv)")
    if not args.by:
        raise InvalidInput("--by NAME: who delivered the letter")
    one = mark_one(engine, args.number, parse_mark(args.result), by=args.by,
                   note=args.note or "", now=now, recorded_by=clerk)
    print(_describe(one))
    return 0


# --- list -----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from hq.delivery import parse_mark
    from hq.invitations import list_invitations

    delivery = None
    if args.delivery:
        delivery = "none" if args.delivery.lower() in ("none", "belum") else \
            parse_mark(args.delivery).value
    rows = list_invitations(_engine(args), kelurahan=kelurahan_code(args.kelurahan),
                            rw=_rw(args.rw), delivery=delivery, limit=args.limit)
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    if not rows:
        print("no invitation letters", file=sys.stderr)
        return 0
    print_table(["nomor surat", "nama", "RT/RW", "kunjungan", "dicetak", "hasil", "status"], [
        (r.number, r.name, f"{r.rt}/{r.rw}", f"{r.visit_date:%d-%m-%Y}", r.prints,
         r.delivery or "-", r.status) for r in rows])
    return 0


def add_commands(add: SubcommandAdder) -> None:
    inv = add("invitations", cmd_print,
              "print invitation letters (A4 PDF) for the residents still to record; list "
              "them; enter what the Satgas Pamor report (mark)")
    inv.add_argument("--kelurahan", metavar="K", help="code or name")
    inv.add_argument("--rw", metavar="N", help="only this RW (default: every RW with a visit)")
    inv.add_argument("--schedule-date", metavar="DATE",
                     help="the visits on this day (default: each RW's next visit)")
    inv.add_argument("-o", "--output", metavar="FILE.pdf")
    inv.add_argument("--slips", action="store_true",
                     help="four cut-out invitations per A4 sheet instead of letters")
    inv.add_argument("--valid-days", type=int, metavar="N",
                     help="days after the visit the letter is accepted (default 30)")
    inv.add_argument("--by", metavar="NAME", help="who prints (default: the login name)")
    sub = inv.add_subparsers(dest="invitations_command", required=False, metavar="ACTION",
                             parser_class=OneLineParser)
    p = add("mark", cmd_mark, "what happened to a letter: delivered, not-found, moved, died, "
                              "refused (moved and died update the resident's status)", sub)
    p.add_argument("number", nargs="?", metavar="NUMBER",
                   help="the letter's number as printed (or its invitation code)")
    p.add_argument("result", nargs="?", metavar="RESULT",
                   help="delivered|not-found|moved|died|refused (or diterima, tidak "
                        "ditemukan, pindah, meninggal, menolak; D, T, P, M, TL)")
    p.add_argument("--by", metavar="NAME", help="the officer who delivered it")
    p.add_argument("--note", metavar="TEXT")
    p.add_argument("--from", dest="sheet", metavar="FILE.csv",
                   help="the Satgas Pamor's return sheet: nomor_surat, hasil, petugas[, "
                        "catatan, tanggal]; all rows or none")
    p = add("list", cmd_list, "invitation letters and what became of them", sub)
    p.add_argument("--kelurahan", metavar="K", help="code or name")
    p.add_argument("--rw", metavar="N")
    p.add_argument("--delivery", metavar="RESULT",
                   help="only letters with this latest result, or 'none' (not reported yet)")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
