"""The ``rekam`` commands of the recording work: ``operator add|list|disable`` (operators
and their PINs), ``roster import|search`` (the residents this kit may record), ``enrol``
(recording residents end to end, scripted) and ``doctor`` (whether the kit is ready to
serve residents). ``rekam/cli.py`` wires them with one call to :func:`add_commands`."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from edge.cli_support import (
    OneLineParser,
    SubcommandAdder,
    fail,
    print_json,
    print_table,
    read_secret,
)
from edge.clock import WIB, utc_now, wib
from edge.errors import InvalidInput, InvitationRefused
from edge.invitation_token import looks_like_token
from edge.kit import Kit
from edge.operators import Role, Session
from edge.packet import SealedPacket
from edge.workflow import AttemptOutcome, Enrolment, run_clean
from hal.registry import KitDevices
from rekam.bootstrap import open_kit_devices
from rekam.cli_common import NEW_PIN_ENV, OPERATOR_ENV, login, open_home_kit, wib_iso

# --- operators ----------------------------------------------------------------------------


def cmd_operator_add(args: argparse.Namespace) -> int:
    with open_home_kit(args) as kit:
        by = None
        if kit.operators.count() > 0:
            if not args.by:
                raise InvalidInput("adding an operator needs a supervisor or technician: --by ID")
            by = login(kit, args.by)
        pin = read_secret(f"new PIN for {args.id}: ", NEW_PIN_ENV, confirm=True)
        op = kit.operators.add(args.id, args.name or args.id, Role(args.role), pin, by=by)
    print(f"added {op.role} {op.id} ({op.name})")
    return 0


def cmd_operator_list(args: argparse.Namespace) -> int:
    with open_home_kit(args) as kit:
        ops = kit.operators.list()
    if args.json:
        print_json([{"id": o.id, "name": o.name, "role": o.role.value, "disabled": o.disabled,
                     "locked_until": o.locked_until, "failures": o.failures} for o in ops])
        return 0
    print_table(["id", "name", "role", "state"], [
        (o.id, o.name, o.role.value,
         "disabled" if o.disabled else f"locked until {wib(o.locked_until, '%H:%M')}"
         if o.locked_until and o.locked_until > utc_now() else "active")
        for o in ops
    ])
    return 0


def cmd_operator_disable(args: argparse.Namespace) -> int:
    with open_home_kit(args) as kit:
        by = login(kit, args.by)
        kit.operators.disable(args.id, by=by)
    print(f"disabled {args.id}")
    return 0


# --- roster -------------------------------------------------------------------------------


def cmd_roster_import(args: argparse.Namespace) -> int:
    data = Path(args.file).read_bytes()
    with open_home_kit(args) as kit:
        session = login(kit, args.operator)
        started = time.perf_counter()
        count = kit.import_worklist(data, session)
        status = kit.status()
        with kit.roster(session) as store:
            meta = store.meta()
    print(f"roster version {status.roster_version}: {count} residents "
          f"({time.perf_counter() - started:.1f} s), expires {wib_iso(status.roster_expires_at)}")
    for visit in meta.schedule if meta else ():
        note = f" ({visit.note})" if visit.note else ""
        print(f"  visit {visit.date:%d-%m-%Y}: {visit.place}, RW {visit.rw}{note}")
    return 0


def cmd_roster_search(args: argparse.Namespace) -> int:
    with open_home_kit(args) as kit:
        session = login(kit, args.operator)
        if looks_like_token(args.query):  # a scanned invitation QR: verified, then its resident
            try:
                token, hit = kit.find_invitation(session, args.query)
            except InvitationRefused as exc:
                return fail(f"invitation refused: {exc}")
            hits = [hit]
            if not args.json:
                print(f"invitation valid: visit {token.visit_date:%d-%m-%Y}, kelurahan "
                      f"{token.kelurahan} RW {token.rw}, valid until "
                      f"{token.expires_at.astimezone(WIB):%d-%m-%Y}", file=sys.stderr)
        else:
            hits = kit.search(session, args.query, rw=args.rw, rt=args.rt, limit=args.limit)
    if args.json:
        print_json([{
            "nik": h.resident.nik, "nama": h.resident.name, "jenis_kelamin": h.resident.sex,
            "tanggal_lahir": h.resident.birth_date, "alamat": h.resident.address,
            "rt": h.resident.rt, "rw": h.resident.rw, "kode_kelurahan": h.resident.kelurahan,
            "kode_undangan": h.resident.invitation_code, "matched": h.matched,
            "score": round(h.score, 3), "enrolled": h.enrolled,
        } for h in hits])
        return 0
    if not hits:
        print("no resident found", file=sys.stderr)
        return 1
    print_table(["NIK", "nama", "lahir", "RT/RW", "undangan", "rekam"], [
        (h.resident.nik, h.resident.name, h.resident.birth_date, f"{h.resident.rt}/{h.resident.rw}",
         h.resident.invitation_code, "sudah" if h.enrolled else "belum") for h in hits
    ])
    return 0


# --- enrolment ----------------------------------------------------------------------------


def cmd_enrol(args: argparse.Namespace) -> int:
    results = []
    # Devices first: a production kit refuses --sim before anyone types a PIN.
    with open_home_kit(args) as kit, open_kit_devices(kit, sim=args.sim, seed=args.seed) as devices:
        session = login(kit, args.operator)
        for nik in args.nik:
            started = time.perf_counter()
            enrolment = kit.start_enrolment(session, nik, devices)
            if devices.sim is not None:
                devices.sim.set_subject(nik, birth_year=enrolment.resident.birth_date.year)

            def report(outcome: AttemptOutcome) -> None:
                if not args.json and not args.quiet:
                    slot = outcome.slot.position or outcome.slot.modality
                    mark = ("ok" if outcome.passed
                            else "retry" if outcome.attempts_left else "low")
                    print(f"  {outcome.slot.step:<13} {slot:<13} "
                          f"quality {outcome.score:3d} {mark}")

            if not args.json:
                print(f"{nik} {enrolment.resident.name}")
            try:
                run_clean(enrolment, on_attempt=report)
                packet = kit.seal_enrolment(session, enrolment)
            except BaseException:
                if enrolment.step.value not in ("sealed", "cancelled"):
                    kit.cancel_enrolment(session, enrolment)
                raise
            elapsed = time.perf_counter() - started
            results.append({"nik": nik, "packet_id": packet.packet_id, "bytes": packet.size,
                            "sha256": packet.sha256, "elapsed_ms": round(elapsed * 1000, 1)})
            if not args.json:
                print(f"  sealed packet {packet.packet_id} ({packet.size / 1024:.0f} KB, "
                      f"{elapsed * 1000:.0f} ms)")
            if args.receipt:
                _print_receipt(kit, session, enrolment, packet, devices, quiet=args.json)
    if args.json:
        print_json(results if len(results) > 1 else results[0])
    return 0


def _print_receipt(kit: Kit, session: Session, enrolment: Enrolment, packet: SealedPacket,
                   devices: KitDevices, *, quiet: bool) -> None:
    """The resident's receipt, as the operator UI prints it after sealing; a simulated
    printer's paper is shown here as text (the demo shows what a resident takes home)."""
    from edge.service_point import ServicePoint
    from hal.backends.sim_peripherals import SimulatedReceiptPrinter
    from tui.screens.review import build_receipt

    place = kit.config.service_point.split(";")[0].strip()
    point = ServicePoint("", "", "", place) if place else None
    exceptions = sum(1 for line in enrolment.review() if line.status == "exception")
    receipt = build_receipt(enrolment.resident.name, enrolment.resident.nik, packet,
                            kit.clock().astimezone(WIB), point, session.operator.name, 0,
                            exceptions)
    printer = devices.receipt_printer
    printer.print_receipt(receipt)
    if quiet:
        return
    if isinstance(printer, SimulatedReceiptPrinter):
        print("  receipt (simulated printer, 58 mm paper):")
        print("\n".join(f"    | {line}" for line in printer.last_receipt_text().splitlines()))
    else:
        print(f"  receipt printed on {printer.info.model}")


def cmd_doctor(args: argparse.Namespace) -> int:
    from rekam.doctor import diagnose

    with open_home_kit(args) as kit:
        report = diagnose(kit, language=args.lang, sim=args.sim)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render(shutil.get_terminal_size((80, 24)).columns))
    return report.exit_code


def add_commands(add: SubcommandAdder) -> None:
    op = add("operator", None, "operators and their PINs")
    op_sub = op.add_subparsers(dest="operator_command", required=True, metavar="ACTION",
                               parser_class=OneLineParser)
    p = add("add", cmd_operator_add, "add an operator (the first must be a supervisor "
            "or technician)", op_sub)
    p.add_argument("id")
    p.add_argument("--name", help="full name shown in the UI")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR.value)
    p.add_argument("--by", help="supervisor or technician approving (needs their PIN)")
    p = add("list", cmd_operator_list, "list operators", op_sub)
    p.add_argument("--json", action="store_true")
    p = add("disable", cmd_operator_disable, "disable an operator", op_sub)
    p.add_argument("id")
    p.add_argument("--by", required=True, help="supervisor or technician")

    ro = add("roster", None, "the residents this kit may record")
    ro_sub = ro.add_subparsers(dest="roster_command", required=True, metavar="ACTION",
                               parser_class=OneLineParser)
    p = add("import", cmd_roster_import, "import a signed worklist from HQ", ro_sub)
    p.add_argument("file")
    p.add_argument("--operator", help=f"who is importing (default: ${OPERATOR_ENV})")
    p = add("search", cmd_roster_search, "find a resident by NIK, invitation code or name, or "
            "by the text of a scanned invitation QR code (REKAM1:...), verified offline", ro_sub)
    p.add_argument("query")
    p.add_argument("--rw")
    p.add_argument("--rt")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--operator", help=f"who is searching (default: ${OPERATOR_ENV})")

    p = add("enrol", cmd_enrol, "record residents end to end (scripted; the UI is rekam tui)")
    p.add_argument("--nik", action="append", required=True, help="repeat for several residents")
    p.add_argument("--sim", action="store_true", help="use simulated devices")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated devices")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="one line per resident")
    p.add_argument("--receipt", action="store_true",
                   help="print each resident's receipt, as the UI does after sealing (a "
                        "simulated printer's receipt is shown as text)")
    p.add_argument("--operator", help=f"who is recording (default: ${OPERATOR_ENV})")

    p = add("doctor", cmd_doctor, "check that devices, disk, clock, keys, roster and the link "
            "to HQ are ready; exit 0 only when the kit can serve residents, 1 when something "
            "failed, 3 on simulated devices (a training kit)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--lang", choices=("id", "en"), help="language (default: the kit's)")
    p.add_argument("--sim", action="store_true", help="check with simulated devices")
