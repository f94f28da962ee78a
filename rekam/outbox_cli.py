"""The ``rekam`` commands for what the kit keeps and how it leaves: ``outbox`` (sealed
packets waiting for HQ, and ``outbox export``), the offline route over a USB stick
(``export``, ``import-receipt``), ``wipe`` (a retired kit) and ``audit verify|list`` (the
hash-chained audit log). ``rekam/cli.py`` wires them with one call to :func:`add_commands`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.cli_support import OneLineParser, SubcommandAdder, print_json, print_table, read_secret
from edge.clock import wib
from edge.config import KitPaths
from rekam.bootstrap import kit_home
from rekam.cli_common import PIN_ENV, open_home_kit


def cmd_outbox(args: argparse.Namespace) -> int:
    with open_home_kit(args) as kit:
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

    with open_home_kit(args) as kit:
        entry = kit.outbox.find(args.id)
        data = kit.outbox.data(entry.packet_id)
    write_public(Path(args.output), data)
    print(f"wrote {entry.packet_id} ({len(data)} bytes, sha256 {entry.sha256}) to {args.output}")
    return 0


def cmd_export_usb(args: argparse.Namespace) -> int:
    from sync.usb import export_usb

    with open_home_kit(args) as kit:
        result = export_usb(kit, Path(args.usb), actor="usb")
    print(f"{result.packets} packets ({result.size / 1024 / 1024:.1f} MB) and the signed "
          f"manifest written to {result.folder}")
    print("take the stick to HQ (rekam-hq import-usb), then bring it back for "
          "rekam import-receipt")
    return 0


def cmd_import_receipt(args: argparse.Namespace) -> int:
    from sync.usb import import_receipt

    with open_home_kit(args) as kit:
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
    with open_home_kit(args) as kit:
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
    with open_home_kit(args) as kit:
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


def add_commands(add: SubcommandAdder) -> None:
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
