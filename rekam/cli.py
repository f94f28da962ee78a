"""``rekam``: the kit's command line, for technicians (often over a slow SSH link) and scripts.

Every command takes ``--home DIR`` (or ``$REKAM_HOME``). PINs come from a no-echo prompt, or
from ``$REKAM_PIN`` (the acting operator) and ``$REKAM_NEW_PIN`` (a new operator) in scripts.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.cli_support import (
    OneLineParser,
    command_parser,
    fail,
    print_json,
    print_table,
    read_secret,
    run,
)
from edge.clock import WIB, utc_now, wib
from edge.config import KitConfig, KitPaths
from edge.errors import InvalidInput, InvitationRefused, RekamError, WorklistExpired
from edge.invitation_token import looks_like_token
from edge.kit import Kit, install_bundle, open_kit
from edge.operators import Role, Session
from edge.packet import SealedPacket
from edge.provisioning import open_bundle
from edge.workflow import AttemptOutcome, Enrolment, run_clean
from hal.registry import KitDevices
from rekam.bootstrap import kit_home, open_kit_devices, ui_services

PIN_ENV = "REKAM_PIN"
NEW_PIN_ENV = "REKAM_NEW_PIN"
OPERATOR_ENV = "REKAM_OPERATOR"


def _wib_iso(stored: str | None) -> str:
    """A stored ISO time (UTC) as the technician reads it: in WIB, saying so."""
    return wib(datetime.fromisoformat(stored)) if stored else "-"


def _kit(args: argparse.Namespace) -> Kit:
    return open_kit(kit_home(args.home))


def _login(kit: Kit, operator_id: str | None) -> Session:
    import os

    operator_id = operator_id or os.environ.get(OPERATOR_ENV)
    if not operator_id:
        raise InvalidInput(f"say who you are: --operator ID (or set {OPERATOR_ENV})")
    pin = read_secret(f"PIN for {operator_id}: ", PIN_ENV)
    session = kit.login(operator_id, pin)
    # A worklist the sync daemon received while nobody was logged in is applied now.
    try:
        applied = kit.apply_pending_worklist(session)
    except RekamError as exc:  # dropped and reported to HQ; the operator can still work
        print(f"warning: the worklist received from HQ was refused: {exc}", file=sys.stderr)
        applied = None
    if applied is not None:
        print(f"applied the worklist received from HQ: {applied} residents", file=sys.stderr)
    return session


# --- provisioning, status, config ---------------------------------------------------------


def cmd_provision(args: argparse.Namespace) -> int:
    paths = KitPaths(kit_home(args.home))
    code = args.code or read_secret("provisioning code: ", "REKAM_PROVISION_CODE")
    bundle = open_bundle(Path(args.bundle).read_bytes(), code)
    install_bundle(paths, bundle, force=args.force)
    print(f"provisioned {bundle.device_id} in {paths.root}")
    print(f"HQ signing key id {bundle.hq_signing_key_id}: compare it with HQ's before use")
    return 0


def cmd_firstboot(args: argparse.Namespace) -> int:
    from rekam.firstboot import main_firstboot

    return main_firstboot(kit_home(args.home), search=args.search, wait=args.wait,
                          root=args.root, user=args.user)


def cmd_logs(args: argparse.Namespace) -> int:
    from rekam.logs import show_logs

    return show_logs(since=args.since, follow=args.follow, lines=args.lines)


def cmd_status(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
        status = kit.status()
        expired: WorklistExpired | None = None
        try:
            kit.require_current_roster()
        except WorklistExpired as exc:
            expired = exc
    if args.json:
        print_json(status.to_dict())
        return 0
    s = status
    print(f"device        {s.device_id}  (rekam {s.software_version})")
    print(f"keys          device {s.device_key_id}  HQ signing {s.hq_signing_key_id}  "
          f"HQ sealing {s.hq_sealing_key_id}")
    roster = "none imported" if s.roster_version is None else (
        f"version {s.roster_version}, {s.roster_size} residents, expires "
        f"{_wib_iso(s.roster_expires_at)}")
    print(f"roster        {roster}")
    if expired is not None:
        print(f"              EXPIRED: {expired}")
    print("outbox        " + ", ".join(f"{k} {v}" for k, v in s.outbox.items()))
    print(f"free disk     {s.free_disk_mb} MB (floor {s.disk_floor_mb} MB)")
    print(f"operators     {s.operators}")
    print(f"audit log     {s.audit_entries} entries")
    print(f"broker        {s.broker or '(not set)'}")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    config = KitConfig.load(KitPaths(kit_home(args.home)))
    values = asdict(config)
    del values["problems"]
    if args.json:
        print_json(values)
    else:
        for key, value in values.items():
            print(f"{key:18} {value}")
    for problem in config.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_config_set(args: argparse.Namespace) -> int:
    import os

    from edge.config import setting

    if args.key == "hal":  # which devices and backends exist is the device layer's to say
        from hal.registry import parse_spec

        try:
            parse_spec(args.value)
        except ValueError as exc:
            raise InvalidInput(f"hal: {exc}") from None
    with _kit(args) as kit:
        kit.check_setting(args.key, args.value)  # a bad value is refused before any PIN
        by = args.by or os.environ.get(OPERATOR_ENV)
        pin = None
        if setting(args.key).security and kit.operators.count() > 0:
            if not by:
                raise InvalidInput(f"{args.key} is a security setting: a supervisor or "
                                   f"technician approves it: --by ID (or set {OPERATOR_ENV})")
            pin = read_secret(f"PIN for {by}: ", PIN_ENV)
        config = kit.set_setting(args.key, args.value, operator_id=by, pin=pin)
    print(f"{args.key} = {getattr(config, args.key)}")
    return 0


# --- operators ----------------------------------------------------------------------------


def cmd_operator_add(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
        by = None
        if kit.operators.count() > 0:
            if not args.by:
                raise InvalidInput("adding an operator needs a supervisor or technician: --by ID")
            by = _login(kit, args.by)
        pin = read_secret(f"new PIN for {args.id}: ", NEW_PIN_ENV, confirm=True)
        op = kit.operators.add(args.id, args.name or args.id, Role(args.role), pin, by=by)
    print(f"added {op.role} {op.id} ({op.name})")
    return 0


def cmd_operator_list(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
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
    with _kit(args) as kit:
        by = _login(kit, args.by)
        kit.operators.disable(args.id, by=by)
    print(f"disabled {args.id}")
    return 0


# --- roster -------------------------------------------------------------------------------


def cmd_roster_import(args: argparse.Namespace) -> int:
    data = Path(args.file).read_bytes()
    with _kit(args) as kit:
        session = _login(kit, args.operator)
        started = time.perf_counter()
        count = kit.import_worklist(data, session)
        status = kit.status()
        with kit.roster(session) as store:
            meta = store.meta()
    print(f"roster version {status.roster_version}: {count} residents "
          f"({time.perf_counter() - started:.1f} s), expires {_wib_iso(status.roster_expires_at)}")
    for visit in meta.schedule if meta else ():
        note = f" ({visit.note})" if visit.note else ""
        print(f"  visit {visit.date:%d-%m-%Y}: {visit.place}, RW {visit.rw}{note}")
    return 0


def cmd_roster_search(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
        session = _login(kit, args.operator)
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
    with _kit(args) as kit, open_kit_devices(kit, sim=args.sim, seed=args.seed) as devices:
        session = _login(kit, args.operator)
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

    with _kit(args) as kit:
        report = diagnose(kit, language=args.lang, sim=args.sim)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render(shutil.get_terminal_size((80, 24)).columns))
    return report.exit_code


# --- outbox and audit ----------------------------------------------------------------------


def cmd_outbox(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
        entries = kit.outbox_entries()
        counts = kit.outbox.counts()
    if args.json:
        print_json({"counts": counts, "packets": [
            {"packet_id": e.packet_id, "state": e.state.value, "size": e.size,
             "sha256": e.sha256, "created_at": e.created_at, "sent_at": e.sent_at,
             "acked_at": e.acked_at, "send_count": e.send_count} for e in entries]})
        return 0
    print_table(["packet", "state", "KB", "created"], [
        (e.packet_id, e.state.value, f"{e.size / 1024:.0f}", wib(e.created_at, "%Y-%m-%d %H:%M:%S"))
        for e in entries
    ])
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_outbox_export(args: argparse.Namespace) -> int:
    from edge.keys import write_public

    with _kit(args) as kit:
        entry = kit.outbox.find(args.id)
        data = kit.outbox.data(entry.packet_id)
    write_public(Path(args.output), data)
    print(f"wrote {entry.packet_id} ({len(data)} bytes, sha256 {entry.sha256}) to {args.output}")
    return 0


def cmd_export_usb(args: argparse.Namespace) -> int:
    from sync.usb import export_usb

    with _kit(args) as kit:
        result = export_usb(kit, Path(args.usb), actor="usb")
    print(f"{result.packets} packets ({result.size / 1024 / 1024:.1f} MB) and the signed "
          f"manifest written to {result.folder}")
    print("take the stick to HQ (rekam-hq import-usb), then bring it back for "
          "rekam import-receipt")
    return 0


def cmd_import_receipt(args: argparse.Namespace) -> int:
    from sync.usb import import_receipt

    with _kit(args) as kit:
        outcome = import_receipt(kit, Path(args.usb), actor="usb")
        counts = kit.outbox.counts()
    print(f"HQ's receipt: {len(outcome.acked)} packets acknowledged now, "
          f"{len(outcome.repeated)} already; {len(outcome.rejected)} refused by HQ, "
          f"{len(outcome.refused)} acks not accepted")
    print("outbox " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0 if not outcome.refused else 1


def cmd_wipe(args: argparse.Namespace) -> int:
    from edge.config import KitConfig
    from rekam.wipe import confirm, wipe_kit

    home = kit_home(args.home)
    device_id = KitConfig.load(KitPaths(home)).device_id
    confirm(device_id, yes=args.yes)
    pin = read_secret(f"PIN for {args.by}: ", PIN_ENV)
    result = wipe_kit(home, by=args.by, pin=pin, force=args.force)
    if result.told_hq:
        print(f"HQ was told that {result.device_id} is wiped")
    else:
        print(f"warning: HQ could not be told ({result.hq_problem}); tell HQ that "
              f"{result.device_id} was wiped", file=sys.stderr)
    print(f"{result.device_id} wiped: {result.files} files (keys, roster, outbox, log, "
          "state) overwritten and deleted; a new bundle makes it a kit again")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
        report = kit.audit.verify()
    if args.json:
        print_json({"ok": report.ok, "entries": report.count, "problem": report.problem,
                    "seq": report.seq})
    elif report.ok:
        print(f"audit log intact: {report.count} entries")
    else:
        print(f"audit log BROKEN: {report.problem}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_audit_list(args: argparse.Namespace) -> int:
    with _kit(args) as kit:
        entries = list(kit.audit.entries())[-args.limit :]
    if args.json:
        print_json([{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                     "detail": e.detail} for e in entries])
        return 0
    print_table(["#", "at", "actor", "action", "detail"], [
        (e.seq, wib(e.at, "%Y-%m-%d %H:%M:%S"), e.actor, e.action,
         " ".join(f"{k}={v}" for k, v in e.detail.items())) for e in entries
    ])
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from sync.cli import run_sync

    return run_sync(kit_home(args.home), args)


def cmd_tui(args: argparse.Namespace) -> int:

    from tui.run import run_app

    with _kit(args) as kit:
        # The operator's screen is the terminal: a fallback's sentence goes to tui.log.
        notify = logging.getLogger("rekam.tui").warning
        return run_app(ui_services(kit, lambda: open_kit_devices(
            kit, sim=args.sim, seed=args.seed, notify=notify)), args)


# --- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser, add = command_parser("rekam", "Rekam e-KTP recording kit.",
                                 "the kit's state directory (default: $REKAM_HOME)")

    p = add("provision", cmd_provision, "install a provisioning bundle from HQ")
    p.add_argument("bundle", help="the .bundle file made by rekam-hq device add")
    p.add_argument("--code", help="the one-time code HQ printed (default: prompt)")
    p.add_argument("--force", action="store_true", help="replace an existing provisioning")

    p = add("firstboot", cmd_firstboot, "provision a new kit from a USB stick or the boot "
            "partition (rekam-firstboot.service runs it as root)")
    p.add_argument("--search", action="append", metavar="DIR",
                   help="look here for the bundle (repeatable; default: USB sticks and "
                        "/boot/firmware)")
    p.add_argument("--wait", action="store_true",
                   help="keep looking until a good bundle turns up (the service does)")
    p.add_argument("--root", default="/", help=argparse.SUPPRESS)
    p.add_argument("--user", default="rekam", help="who owns the kit's files (default rekam)")

    p = add("logs", cmd_logs, "the kit's journal: the sync daemon, the UI and first boot, "
            "wrapped to the terminal")
    p.add_argument("--since", metavar="WHEN",
                   help="e.g. '1h ago', today, '2026-11-24 08:00' (default: the last lines)")
    p.add_argument("-n", "--lines", type=int, default=200, help="how many (default 200)")
    p.add_argument("-f", "--follow", action="store_true", help="keep showing new lines")

    p = add("status", cmd_status, "device, keys, roster, outbox and disk at a glance")
    p.add_argument("--json", action="store_true")

    cfg = add("config", None, "show or change the kit's settings")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="ACTION",
                                 parser_class=OneLineParser)
    p = add("show", cmd_config_show, "show every setting", cfg_sub)
    p.add_argument("--json", action="store_true")
    p = add("set", cmd_config_set, "change one setting (a security setting needs a "
            "supervisor's or technician's PIN)", cfg_sub)
    p.add_argument("key")
    p.add_argument("value")
    p.add_argument("--by", help=f"supervisor or technician approving (default: "
                                f"${OPERATOR_ENV}); needs their PIN")

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

    ob = add("outbox", cmd_outbox, "sealed packets waiting for HQ")
    ob.add_argument("--json", action="store_true")
    ob_sub = ob.add_subparsers(dest="outbox_command", metavar="ACTION",
                               parser_class=OneLineParser)
    p = add("export", cmd_outbox_export, "write one sealed packet to a file", ob_sub)
    p.add_argument("id", help="packet id (or an unambiguous prefix)")
    p.add_argument("-o", "--output", required=True)

    p = add("export", cmd_export_usb, "the offline route: every packet HQ has not "
            "acknowledged, and a signed manifest, onto a USB stick")
    p.add_argument("--usb", required=True, metavar="DIR", help="the mounted stick")

    p = add("import-receipt", cmd_import_receipt, "the offline route: take HQ's signed "
            "receipt from the stick; the packets it names are acknowledged")
    p.add_argument("usb", metavar="DIR", help="the mounted stick")

    p = add("wipe", cmd_wipe, "destroy the kit's keys, roster, outbox and state (a retired "
            "kit); HQ is told first when it can be")
    p.add_argument("--by", required=True, metavar="TECHNICIAN", help="a technician (PIN)")
    p.add_argument("--force", action="store_true",
                   help="even with unacknowledged packets, once all were exported to USB")
    p.add_argument("--yes", action="store_true", help="do not ask to type the device id")

    au = add("audit", None, "the hash-chained audit log")
    au_sub = au.add_subparsers(dest="audit_command", required=True, metavar="ACTION",
                               parser_class=OneLineParser)
    p = add("verify", cmd_audit_verify, "check that no entry was edited or deleted", au_sub)
    p.add_argument("--json", action="store_true")
    p = add("list", cmd_audit_list, "show the latest entries", au_sub)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")

    from sync.cli import add_arguments as add_sync_arguments  # MQTT uplink (issue 4)

    p = add("sync", cmd_sync, "send sealed packets to HQ; take HQ's acks, worklists, config")
    add_sync_arguments(p)

    from tui.run import add_arguments as add_tui_arguments  # operator UI (issue 5)

    p = add("tui", cmd_tui, "the operator's screens (Textual), on the console or over SSH")
    add_tui_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # --home may come before or after the command; argparse shares the action between the
    # parsers, so its default is set here rather than with set_defaults (which would leak).
    args.home = getattr(args, "home", None)
    return run(_said_to_operators(args.handler), args)


def _said_to_operators(handler: Any) -> Any:
    """Refusals an operator must understand at once (an expired worklist) in the
    catalogue's words, Bahasa Indonesia then English, as the operator UI says them."""

    def said(args: argparse.Namespace) -> int | None:
        try:
            result: int | None = handler(args)
            return result
        except WorklistExpired as exc:
            from tui.catalogue import Catalogue

            return fail(" / ".join(Catalogue(lang).error(exc)[1] for lang in ("id", "en")))

    return said


if __name__ == "__main__":
    sys.exit(main())
