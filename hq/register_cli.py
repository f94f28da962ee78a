"""The ``rekam-hq`` subcommands of the register: ``residents import|list|show|search`` and
``regions``. ``hq/cli.py`` wires them with one call to :func:`add_commands`."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from edge import regions
from edge.cli_support import OneLineParser, SubcommandAdder, print_json, print_table
from edge.clock import wib
from edge.errors import InvalidInput
from hq.home import HqHome, hq_default_home

EXIT_SOME_REJECTED = 3


def _home(args: argparse.Namespace) -> HqHome:
    return HqHome(Path(args.home) if args.home else hq_default_home())


def _engine(args: argparse.Namespace) -> Any:
    from hq.db import make_engine

    return make_engine(_home(args).database_url())


def kelurahan_code(text: str | None) -> str | None:
    """A --kelurahan option: code or unambiguous name (edge.regions.find)."""
    return None if text is None else regions.find(text, "kelurahan").code


def kecamatan_code(text: str | None) -> str | None:
    return None if text is None else regions.find(text, "kecamatan").code


def cmd_import(args: argparse.Namespace) -> int:
    from hq.progress import Progress
    from hq.register_import import SCREEN_REJECTS, columns_option, import_residents

    path = Path(args.file)
    engine = _engine(args)
    size = path.stat().st_size if path.exists() else None
    shown = 0
    action = "checking" if args.dry_run else "importing"
    with Progress(f"{action} {path.name}", size, unit="rows") as progress:

        def on_reject(line: int, faults: list[tuple[str, str]]) -> None:
            nonlocal shown
            for column, problem in faults:
                shown += 1
                if shown <= SCREEN_REJECTS:
                    progress.print(f"line {line}, column {column}: {problem}")

        result = import_residents(
            engine, path, dry_run=args.dry_run, columns=columns_option(args.columns or []),
            by=args.by, rejects_path=Path(args.rejects) if args.rejects else None,
            on_reject=on_reject,
            on_progress=lambda done, rows: progress.update(done, count=rows))
    if shown > SCREEN_REJECTS:
        print(f"... and {shown - SCREEN_REJECTS:,} more problems (every one is in the rejects "
              "file)", file=sys.stderr)
    would = "would be " if args.dry_run else ""
    print(f"{path.name}: {result.rows:,} rows: {result.added:,} {would}added, "
          f"{result.changed:,} {would}changed, {result.unchanged:,} unchanged, "
          f"{result.rejected:,} rejected")
    if result.statuses:
        print("  statuses set: " + ", ".join(
            f"{status.replace('-', ' ')} {n:,}" for status, n in sorted(result.statuses.items())))
    if result.absent:
        print(f"  {result.absent:,} residents still to record in this file's kelurahan are not "
              "in it; they stay as they are (a status column saying PINDAH, MENINGGAL or "
              "SUDAH REKAM changes them)")
    if result.imported_before and not (result.added or result.changed):
        print(f"  this file was imported before, on {wib(result.imported_before)}: "
              "nothing to change")
    if result.rejects_path:
        print(f"  rejected rows, with what is wrong, in {result.rejects_path}: fix them in "
              f"Excel and import that file again", file=sys.stderr)
    if args.dry_run:
        print("  dry run: nothing was changed")
    elif result.import_id is None:
        print("  the register is unchanged")
    else:
        print(f"  import {result.import_id} committed")
    if result.rejected:
        return EXIT_SOME_REJECTED if result.good else 1
    return 0


def _filters(args: argparse.Namespace) -> Any:
    from hq.register import parse_status
    from hq.register_read import Filters, rt_rw_number

    return Filters(
        kecamatan=kecamatan_code(args.kecamatan), kelurahan=kelurahan_code(args.kelurahan),
        rw=rt_rw_number(args.rw, "RW") if args.rw else None,
        rt=rt_rw_number(args.rt, "RT") if args.rt else None,
        statuses=tuple(parse_status(s) for s in args.status or ()))


def cmd_list(args: argparse.Namespace) -> int:
    from hq.register_read import list_residents

    filters = _filters(args)
    if (filters.rt or filters.rw) and not filters.kelurahan:
        raise InvalidInput("RW and RT numbers repeat in every kelurahan: name one with "
                           "--kelurahan")
    rows = list_residents(_engine(args), filters, limit=args.limit)
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        sys.stdout.write("\ufeff")  # so Excel reads UTF-8
        first = True
        for r in rows:
            record = r.to_dict()
            if first:
                writer.writerow(record.keys())
                first = False
            writer.writerow(record.values())
        return 0
    table = [(r.nik, r.name, r.sex, f"{r.birth_date:%d-%m-%Y}", r.address, r.rt, r.rw,
              r.kelurahan_name, r.status.label) for r in rows]
    print_table(["NIK", "nama", "L/P", "tgl lahir", "alamat", "RT", "RW", "kelurahan",
                 "status"], table)
    print(f"{len(table):,} residents", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from hq.register_read import get_resident

    resident, history = get_resident(_engine(args), args.nik)
    if args.json:
        print_json({**resident.to_dict(), "riwayat": [
            {"at": h.at, "kind": h.kind, "status_from": h.status_from,
             "status_to": h.status_to, "changes": h.changes, "file": h.file_name,
             "import_id": h.import_id, "source": h.source, "by": h.by, "reason": h.reason}
            for h in history]})
        return 0
    kel = regions.get(resident.kelurahan)
    kec = regions.get(resident.kecamatan)
    print(f"{resident.nik}  {resident.name}")
    print(f"  KK {resident.no_kk}, {resident.sex}, lahir {resident.birth_place} "
          f"{resident.birth_date:%d-%m-%Y}, {resident.marital_status.lower()}")
    print(f"  {resident.address}, RT {resident.rt} / RW {resident.rw}, {kel.name}, "
          f"{kec.name} ({resident.kelurahan})")
    print(f"  status: {resident.status.label} since {wib(resident.status_at)}")
    print("  history:")
    for h in history:
        where = f" from {h.file_name} (import {h.import_id})" if h.file_name else ""
        if h.kind == "added":
            what = f"added as {(h.status_to or '').replace('-', ' ')}"
        elif h.kind == "status":
            what = (f"status {(h.status_from or '').replace('-', ' ')} -> "
                    f"{(h.status_to or '').replace('-', ' ')}")
        else:
            what = "details: " + ", ".join(f"{k} {v[0]!r} -> {v[1]!r}"
                                           for k, v in h.changes.items())
        extra = "".join(f"; {x}" for x in (h.source, h.reason) if x)
        print(f"    {wib(h.at)}  {what}{where}, by {h.by}{extra}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from hq.register_read import search_residents

    found = search_residents(_engine(args), " ".join(args.text), limit=args.limit)
    if args.json:
        print_json([r.to_dict() for r in found])
        return 0
    if not found:
        print("no resident found", file=sys.stderr)
        return 1
    print_table(["NIK", "nama", "tgl lahir", "alamat", "RT", "RW", "kelurahan", "status"], [
        (r.nik, r.name, f"{r.birth_date:%d-%m-%Y}", r.address, r.rt, r.rw, r.kelurahan_name,
         r.status.label) for r in found])
    if len(found) == args.limit:
        print(f"(first {args.limit}; narrow the search or raise --limit)", file=sys.stderr)
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    kecamatan = [regions.find(args.kecamatan, "kecamatan")] if args.kecamatan else (
        regions.kecamatan_list())
    if args.json:
        print_json([{"kode": k.code, "nama": k.name, "kelurahan": [
            {"kode": x.code, "nama": x.name} for x in regions.kelurahan_list(k.code)]}
            for k in kecamatan])
        return 0
    rows: list[tuple[str, str, str]] = []
    for k in kecamatan:
        rows.append((k.code, f"Kecamatan {k.name}", ""))
        rows.extend((x.code, f"  {x.name}", "kelurahan") for x in regions.kelurahan_list(k.code))
    print_table(["kode", "nama", "tingkat"], rows)
    print("a kelurahan or kecamatan may be named by its code or its name wherever a command "
          "takes one", file=sys.stderr)
    return 0


def _who(args: argparse.Namespace) -> str:
    from hq.register import login_name

    return str(args.by or login_name())


def cmd_schedule_add(args: argparse.Namespace) -> int:
    from edge.resident_record import parse_date
    from hq.schedules import Visit, add_visit, clean_text, parse_kind, parse_rws, parse_staff
    from hq.schedules import parse_time as parse_hours

    try:
        day = parse_date(args.date.strip())
    except ValueError as exc:
        raise InvalidInput(f"--date: {exc}") from None
    visit = Visit(
        device_id=args.kit, date=day, place=clean_text(args.place, "--place"),
        kelurahan=regions.find(args.kelurahan, "kelurahan").code, rws=parse_rws(args.rw),
        time=parse_hours(args.time or ""), kind=parse_kind(args.kind or ""),
        staff=parse_staff(args.staff or []),
        note=clean_text(args.note or "", "--note", required=False))
    added = add_visit(_engine(args), visit, by=_who(args))
    print(f"visit {added.id} scheduled: {_visit_line(added)}")
    return 0


def _visit_line(v: Any) -> str:
    kel = regions.get(v.kelurahan).name
    staff = f"; petugas {', '.join(v.staff)}" if v.staff else ""
    hours = f" {v.time}" if v.time else ""
    return (f"{v.device_id} {v.date:%d-%m-%Y}{hours} at {v.place} ({v.kind}), {kel} "
            f"RW {', '.join(v.rws)}{staff}")


def cmd_schedule_import(args: argparse.Namespace) -> int:
    from hq.schedules import import_schedule

    result = import_schedule(_engine(args), Path(args.file), kit=args.kit, by=_who(args))
    for v in result.added:
        print(f"visit {v.id} scheduled: {_visit_line(v)}")
    print(f"{len(result.added)} visits scheduled"
          + (f", {result.already} already were" if result.already else ""))
    return 0


def cmd_schedule_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from hq.register import wib_day
    from hq.schedules import list_visits

    since = None if args.all else wib_day(datetime.now(UTC))
    found = list_visits(_engine(args), device_id=args.kit, since=since,
                        kelurahan=kelurahan_code(args.kelurahan))
    if args.json:
        print_json([v.to_dict() for v in found])
        return 0
    print_table(["id", "kit", "tanggal", "waktu", "tempat", "jenis", "kelurahan", "RW",
                 "petugas"], [
        (v.id, v.device_id, f"{v.date:%d-%m-%Y}", v.time or "-", v.place, v.kind,
         regions.get(v.kelurahan).name, ",".join(v.rws), ", ".join(v.staff) or "-")
        for v in found])
    if not found:
        print("no visits" + ("" if args.all else " from today on (--all shows past ones)"),
              file=sys.stderr)
    return 0


def cmd_vault_run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from hq.inspect import hq_sbi_trust
    from hq.progress import Progress
    from hq.vault import Vault, VaultCounts, run_vault

    home = _home(args)
    vault = Vault(_engine(args), home.keys(), batch=args.batch,
                  sbi_trust=hq_sbi_trust(home.config()))
    stop = threading.Event()
    if not args.once:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        log = logging.getLogger("rekam.hq.vault")
        log.info("vault: waiting for stored packets (Ctrl+C stops)")
        total = run_vault(vault, poll=args.poll, stop=stop,
                          on_batch=lambda c: log.info("vault: %s", c))
        print(f"vault stopped: {total}", file=sys.stderr)
        return 0
    pending = vault.pending()
    done = VaultCounts()
    with Progress("opening packets", pending or None, unit="packets") as progress:

        def on_batch(counts: VaultCounts) -> None:
            done.add(counts)
            progress.update(done.opened + done.skipped, count=done.opened)

        total = run_vault(vault, once=True, stop=stop, on_batch=on_batch)
    print(f"vault: {total}")
    return 0


def cmd_review_list(args: argparse.Namespace) -> int:
    from hq.review import list_reviews

    items = list_reviews(_engine(args), include_decided=args.all)
    if args.json:
        print_json([i.to_dict() for i in items])
        return 0
    if not items:
        print("nothing waits for review" if not args.all else "no reviews yet",
              file=sys.stderr)
        return 0
    for i in items:
        who = f"{i.nik} {i.name}".strip() or "(unreadable packet)"
        print(f"review {i.id} [{i.state}]  {who}  kit {i.device_id}, operator "
              f"{i.operator_id or '-'}, {wib(i.recorded_at)}  (packet "
              f"{i.packet_id})")
        for f in i.flags:
            print(f"    {f['code']}: {f['message']}")
        if i.decided_by:
            print(f"    decided by {i.decided_by} on {wib(i.decided_at)}: "
                  f"{i.reason}")
    print(f"{sum(i.state == 'open' for i in items)} waiting; decide with: rekam-hq review "
          "decide ID accept|reject --reason TEXT", file=sys.stderr)
    return 0


def cmd_review_decide(args: argparse.Namespace) -> int:
    from hq.review import decide

    result = decide(_engine(args), args.id, args.decision, reason=args.reason, by=_who(args))
    after = (f"; resident {result.nik} is now {result.resident_status.label}"
             if result.resident_status else
             (f"; NIK {result.nik} is not on the register" if result.nik else ""))
    print(f"review {result.review_id}: {result.decision}ed{after}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from edge.resident_record import parse_date
    from hq.export import export_enrolments
    from hq.progress import Progress

    try:
        since = parse_date(args.since.strip())
    except ValueError as exc:
        raise InvalidInput(f"--since: {exc}") from None
    home = _home(args)
    out = Path(args.output)
    with Progress(f"exporting to {out}", None, unit="enrolments") as progress:

        def on_progress(n: int, total: int) -> None:
            progress.update(n, count=n, total=total)

        result = export_enrolments(_engine(args), home.keys(), since, out,
                                   on_progress=on_progress)
    print(f"{len(result.written)} enrolments written to {out}, {result.unchanged} already "
          f"there unchanged (accepted since {since:%d-%m-%Y})")
    for packet_id, why in result.failed:
        print(f"error: enrolment {packet_id} not exported: {why}", file=sys.stderr)
    if result.written:
        print("  the folders hold plain biometrics (0700/0600): hand them to the national "
              "system, then delete them; HQ keeps the sealed packets", file=sys.stderr)
    return 1 if result.failed else 0


def _area_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kecamatan", metavar="K", help="code or name")
    p.add_argument("--kelurahan", metavar="K", help="code or name")
    p.add_argument("--rw", metavar="N")
    p.add_argument("--rt", metavar="N")


def add_commands(add: SubcommandAdder) -> None:
    res = add("residents", None, "the register of residents who must record their KTP-el")
    sub = res.add_subparsers(dest="residents_command", required=True, metavar="ACTION",
                             parser_class=OneLineParser)
    p = add("import", cmd_import, "apply an office export (CSV) to the register", sub)
    p.add_argument("file", help="CSV: comma, semicolon or tab separated, UTF-8 (BOM or not)")
    p.add_argument("--dry-run", action="store_true",
                   help="check every row and say what would change; change nothing")
    p.add_argument("--columns", action="append", metavar="COLUMN=NAME[,...]",
                   help="the file's name for a column, e.g. nama=NAMA_WARGA,rt=RT_WARGA")
    p.add_argument("--rejects", metavar="FILE.csv",
                   help="where the rejected rows go (default: FILE.rejects.csv beside it)")
    p.add_argument("--by", metavar="NAME", help="who imports (default: the login name)")
    p = add("list", cmd_list, "residents by area and status", sub)
    _area_options(p)
    p.add_argument("--status", action="append", metavar="S",
                   help="belum-rekam, diundang, terekam, perlu-tinjau, pindah, meninggal, "
                        "sudah-rekam-di-tempat-lain (repeatable)")
    p.add_argument("--limit", type=int)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true",
                     help="UTF-8 CSV for Excel, in the import's columns plus status")
    p = add("show", cmd_show, "one resident, with their history", sub)
    p.add_argument("nik")
    p.add_argument("--json", action="store_true")
    p = add("search", cmd_search, "find residents by NIK, KK number or name", sub)
    p.add_argument("text", nargs="+")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")

    sched = add("schedule", None, "the kits' visits: where a kit stands on which day")
    sub = sched.add_subparsers(dest="schedule_command", required=True, metavar="ACTION",
                               parser_class=OneLineParser)
    p = add("add", cmd_schedule_add, "schedule one visit of a kit", sub)
    p.add_argument("--kit", required=True, metavar="KIT")
    p.add_argument("--date", required=True, help="DD-MM-YYYY or YYYY-MM-DD, today or later")
    p.add_argument("--place", required=True, help='e.g. "Balai RW 005"')
    p.add_argument("--kelurahan", required=True, metavar="K", help="code or name")
    p.add_argument("--rw", required=True, metavar="N[,N...]", help="the RWs it serves")
    p.add_argument("--time", metavar="08.00-15.00")
    p.add_argument("--kind", metavar="KIND", help="balai-rw (default), sekolah, "
                   "kunjungan-rumah")
    p.add_argument("--staff", action="append", metavar="NAME[,NAME...]",
                   help="the staff HQ assigns to this service point")
    p.add_argument("--note", help="a note the operator sees")
    p.add_argument("--by", metavar="NAME", help="who schedules (default: the login name)")
    p = add("import", cmd_schedule_import, "schedule visits from a CSV (the Excel form)", sub)
    p.add_argument("file", help="columns tanggal, tempat, rw[, kode_kelurahan, waktu, jenis, "
                   "petugas, catatan, kit]")
    p.add_argument("--kit", metavar="KIT", help="the kit, when the file has no kit column")
    p.add_argument("--by", metavar="NAME")
    p = add("list", cmd_schedule_list, "visits from today on", sub)
    p.add_argument("--kit", metavar="KIT")
    p.add_argument("--kelurahan", metavar="K")
    p.add_argument("--all", action="store_true", help="past visits too")
    p.add_argument("--json", action="store_true")

    vault = add("vault", None, "open the stored packets: mark residents terekam, or put the "
                "enrolment up for review")
    sub = vault.add_subparsers(dest="vault_command", required=True, metavar="ACTION",
                               parser_class=OneLineParser)
    p = add("run", cmd_vault_run, "open packets as they arrive (--once: those stored now)",
            sub)
    p.add_argument("--once", action="store_true", help="open what is stored now, then stop")
    p.add_argument("--batch", type=int, default=50, help=argparse.SUPPRESS)
    p.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)

    rev = add("review", None, "the enrolments waiting for a supervisor's decision")
    sub = rev.add_subparsers(dest="review_command", required=True, metavar="ACTION",
                             parser_class=OneLineParser)
    p = add("list", cmd_review_list, "what waits, and why", sub)
    p.add_argument("--all", action="store_true", help="decided ones too")
    p.add_argument("--json", action="store_true")
    p = add("decide", cmd_review_decide, "accept or reject one (kept: who, when, why)", sub)
    p.add_argument("id", type=int)
    p.add_argument("decision", choices=("accept", "reject"))
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.add_argument("--by", metavar="NAME", help="who decides (default: the login name)")

    p = add("export", cmd_export, "the accepted enrolments for the national system, one "
            "folder each (face JPEG, ISO/IEC 19794 finger and iris records, signature, "
            "manifest.json)")
    p.add_argument("--since", required=True, metavar="DATE",
                   help="enrolments accepted on or after this day (DD-MM-YYYY or YYYY-MM-DD)")
    p.add_argument("-o", "--output", required=True, metavar="DIR")

    p = add("regions", cmd_regions, "Kota Bekasi's kecamatan and kelurahan, codes and names")
    p.add_argument("--kecamatan", metavar="K", help="only this kecamatan (code or name)")
    p.add_argument("--json", action="store_true")
