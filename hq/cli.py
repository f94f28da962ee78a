"""``rekam-hq``: headquarters' command line (keys, kits, worklists, the vault, synthetic data).

Every command takes ``--home DIR`` (or ``$REKAM_HQ_HOME``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from edge.cli_support import (
    OneLineParser,
    command_parser,
    fail,
    print_json,
    print_table,
    run,
)
from edge.errors import AlreadyExists, InvalidInput
from edge.keys import write_private
from hq.db import make_engine
from hq.home import HqHome, hq_default_home


def _home(args: argparse.Namespace) -> HqHome:
    return HqHome(Path(args.home) if args.home else hq_default_home())


def _engine(home: HqHome) -> Engine:
    return make_engine(home.database_url())


def cmd_init(args: argparse.Namespace) -> int:
    home = _home(args)
    keys = home.init(force=args.force)
    _engine(home)
    print(f"HQ keys created in {home.keys_dir} (private keys 0600)")
    print(f"  signing key id  {keys.signing_key_id}")
    print(f"  sealing key id  {keys.sealing_key_id}  (ML-KEM-768 + X25519)")
    print(f"  CA certificate  {home.ca_cert_path}")
    print(f"  database        {home.database_url()}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from hq import schema

    home = _home(args)
    engine = make_engine(home.database_url(), upgrade=False)
    current, head = schema.current(engine), schema.head()
    print(f"database  {home.database_url()}")
    print(f"schema    {current or 'empty'} (this rekam-hq: {head})")
    if current != head:
        print("run: rekam-hq db upgrade (every rekam-hq command also upgrades it on start)")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from hq import schema

    home = _home(args)
    result = schema.upgrade(make_engine(home.database_url(), upgrade=False))
    if result.changed:
        print(f"database upgraded from {result.before or 'empty'} to {result.after}")
    else:
        print(f"database already at {result.after}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from edge.synth import write_synthetic_csv

    started = time.perf_counter()
    from edge import regions

    today = date.fromisoformat(args.today) if args.today else date.today()
    kelurahan = ([k.code for k in regions.kelurahan_list()] if args.kelurahan == ["all"]
                 else [regions.find(k, "kelurahan").code for k in args.kelurahan])
    n = write_synthetic_csv(Path(args.output), kelurahan, args.count, args.seed,
                            today=today)
    print(f"wrote {n} synthetic residents to {args.output} "
          f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


def cmd_device_add(args: argparse.Namespace) -> int:
    from hq.devices import add_device

    home = _home(args)
    keys = home.keys()
    out = Path(args.output)
    if out.exists() and not args.force:
        raise FileExistsError(out)
    bundle, code = add_device(_engine(home), keys, args.id, args.kelurahan, args.broker or "",
                              training=args.training)
    write_private(out, bundle)
    print(f"registered {args.id} as a "
          + ("TRAINING kit: simulated devices allowed, its packets never count as real "
             "recordings" if args.training else
             "production kit: it refuses simulated devices (a training kit: --training)")
          + f"; provisioning bundle written to {out}")
    print(f"provisioning code (give it to the technician separately): {code}")
    print(f"HQ signing key id the kit will show: {keys.signing_key_id}")
    return 0


def cmd_device_list(args: argparse.Namespace) -> int:
    from hq.devices import list_devices

    devices = list_devices(_engine(_home(args)))
    if args.json:
        print_json([{"device_id": d.device_id, "kelurahan": list(d.kelurahan),
                     "broker": d.broker, "signing_key_id": d.signing_key_id,
                     "created_at": d.created_at, "worklist_version": d.worklist_version,
                     "status": d.status, "revoked_at": d.revoked_at,
                     "revoke_reason": d.revoke_reason, "training": d.training,
                     "worklist_key_id": d.worklist_key.key_id if d.worklist_key else None}
                    for d in devices])
        return 0
    # "wl key": the key its worklists are sealed to; "-" until the kit announces one
    print_table(["device", "use", "kelurahan", "worklist", "wl key", "registered", "status"], [
        (d.device_id, d.use, ",".join(d.kelurahan), d.worklist_version,
         d.worklist_key.key_id if d.worklist_key else "-", f"{d.created_at:%Y-%m-%d}",
         d.status if d.revoked_at is None
         else f"REVOKED {d.revoke_reason} {d.revoked_at:%Y-%m-%d}")
        for d in devices
    ])
    return 0


def cmd_device_revoke(args: argparse.Namespace) -> int:
    import os
    import signal
    from datetime import UTC, datetime

    from hq import revoke

    home = _home(args)
    keys = home.keys()
    engine = _engine(home)
    now = datetime.now(UTC)
    revoke.revoke(engine, args.id, args.reason, now)
    written = revoke.publish_revocations(engine, home, keys, now)
    print(f"{args.id} revoked ({args.reason}): ingest refuses its messages from now on")
    print("  certificate revocation list and broker ACL written: "
          + ", ".join(str(p) for p in written))
    signalled = False
    if args.broker_pid:
        try:
            os.kill(args.broker_pid, signal.SIGHUP)
            signalled = True
            print(f"  broker (pid {args.broker_pid}) told to re-read them (SIGHUP): it "
                  f"refuses {args.id}'s next connection and cuts off the one it holds")
        except OSError as exc:  # the revocation stands; the report must still be printed
            print(f"  could not signal pid {args.broker_pid} ({exc.strerror}): reload the "
                  "broker yourself: systemctl reload mosquitto", file=sys.stderr)
    if not signalled and revoke.broker_dir(home) is None:
        print("  no broker directory recorded: run rekam-hq broker-config -o DIR again, or "
              f"copy {written[0]} over the broker's crlfile, then reload the broker")
    elif not signalled:
        print("  now reload the broker so it re-reads them: systemctl reload mosquitto "
              "(or kill -HUP <mosquitto's pid>); it then refuses the kit's next connection")
    report = revoke.breach_report(engine, args.id)
    csv_path = Path(args.report) if args.report else revoke.default_report_path(
        home, args.id, now)
    revoke.write_report_csv(report, csv_path)
    print()
    print(revoke.report_text(report, csv_path))
    return 0


def cmd_worklist(args: argparse.Namespace) -> int:
    from edge.errors import RowsRejected

    try:
        return _worklist(args)
    except RowsRejected as exc:  # every bad row, one a line, then the verdict
        if len(exc.problems) == 1:
            return fail(f"{exc.problems[0]}; nothing signed, no worklist version used")
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return fail(str(exc))


def _worklist(args: argparse.Namespace) -> int:
    from hq.worklists import (
        make_worklist,
        plan_from_csv,
        plan_from_register,
        worklist_from_register,
    )

    home = _home(args)
    engine = _engine(home)
    if args.source is None and args.schedule:
        raise InvalidInput("--schedule goes with --from CSV; a worklist from the register "
                           "takes the kit's visits from rekam-hq schedule")
    if not (args.output or args.push or args.dry_run):
        raise InvalidInput("say where the worklist goes: -o FILE (for USB), --push (over "
                           "MQTT), or both; --dry-run only counts")
    if args.output and Path(args.output).exists() and not args.force and not args.dry_run:
        raise AlreadyExists(f"{args.output} exists; --force overwrites it")
    started = time.perf_counter()
    if args.source is None and args.dry_run:
        plan = plan_from_register(engine, args.device)
        print(f"worklist for {args.device} (dry run, no version used): "
              f"{len(plan.residents)} residents still to record, {len(plan.visits)} visits")
        _print_visits(plan.per_visit)
        return 0
    if args.source is not None and args.dry_run:
        csv_plan = plan_from_csv(engine, args.device, Path(args.source),
                                 schedule_path=Path(args.schedule) if args.schedule else None)
        print(f"worklist for {args.device} from {args.source} (dry run, every row checked, "
              f"nothing signed, no version used): {len(csv_plan.residents)} residents"
              + (f", {len(csv_plan.schedule)} visits" if args.schedule else ""))
        if csv_plan.skipped_other_kelurahan:
            print(f"  would skip {csv_plan.skipped_other_kelurahan} residents of other "
                  "kelurahan", file=sys.stderr)
        return 0
    if args.source is None:
        result = worklist_from_register(engine, home.keys(), args.device, days=args.days)
    else:
        result = make_worklist(engine, home.keys(), args.device, Path(args.source),
                               days=args.days,
                               schedule_path=Path(args.schedule) if args.schedule else None)
    if args.output:
        write_private(Path(args.output), result.data)
    visits = f"{result.visits} visits, " if (args.schedule or args.source is None) else ""
    where = f" -> {args.output}" if args.output else ""
    print(f"worklist v{result.version} for {args.device}: {result.residents} residents, "
          f"{visits}"
          f"expires {result.expires_at:%Y-%m-%d}, {len(result.data) / 1024:.0f} KB, sealed to "
          f"the kit and signed "
          f"({time.perf_counter() - started:.1f} s){where}")
    _print_visits(result.per_visit)
    if result.skipped_other_kelurahan:
        print(f"  skipped {result.skipped_other_kelurahan} residents of other kelurahan",
              file=sys.stderr)
    if args.push:
        from hq.sync_cli import publish_worklist

        print("  " + publish_worklist(home, args.broker, args.device, result.data))
    return 0


def _print_visits(per_visit: Sequence[tuple[Any, int]]) -> None:
    from edge import regions

    for visit, count in per_visit:
        print(f"  {visit.date:%d-%m-%Y} {visit.time or '':<11} {visit.place}, "
              f"{regions.get(visit.kelurahan).name} RW {', '.join(visit.rws)}: "
              f"{count} to record")


EXIT_FLAGGED = 4  # `rekam-hq open`: opened, but HQ flags it for review


def cmd_open(args: argparse.Namespace) -> int:
    from hq.inspect import flags_json, hq_sbi_trust, inspect_packet
    from hq.vault import extract_files

    home = _home(args)
    inspection = inspect_packet(_engine(home), home.keys(), Path(args.packet).read_bytes(),
                                sbi_trust=hq_sbi_trust(home.config()))
    written = extract_files(inspection.files, Path(args.extract)) if args.extract else []
    m, h = inspection.manifest, inspection.header
    if args.json:
        print_json({"header": h, "manifest": None if m is None else m.to_dict(),
                    "images": {n: len(d) for n, d in inspection.files.items()},
                    "flags": flags_json(inspection),
                    "extracted": [str(p) for p in written]})
        return 0 if inspection.clean else EXIT_FLAGGED
    print(f"packet {h.packet_id} from {h.device_id}: signature valid, decrypted")
    if m is not None:
        print(f"  NIK {m.nik}  kelurahan {m.kelurahan}  operator {m.operator_id}  "
              f"sealed {m.sealed_at}")
        print(f"  {len(m.captures)} captures, {len(m.exceptions)} exceptions, "
              f"{len(m.verification)} verifications")
        for c in m.captures:
            size = len(inspection.files.get(c.file, b"")) / 1024
            print(f"  {c.modality:<9} {c.position or '':<13} q={c.quality:3d} "
                  f"attempts={c.attempts} {c.image_format} {size:.1f} KB ({c.device_backend}"
                  f"{', signed by the device' if c.evidence else ''})")
        for e in m.exceptions:
            print(f"  exception {e.position}: {e.reason}, approved by {e.approved_by}")
        for w in m.warnings:
            print(f"  warning {w}")
    if written:
        print(f"  extracted {len(written)} files to {args.extract}")
    if inspection.clean:
        print("  HQ's checks: nothing to flag")
        return 0
    print(f"  FLAGGED for review ({len(inspection.flags)}):")
    for flag in inspection.flags:
        print(f"  - {flag.code}: {flag.message}")
    return EXIT_FLAGGED


def cmd_backup(args: argparse.Namespace) -> int:
    from hq.backup import backup

    home = _home(args)
    result = backup(home.database_url(), Path(args.output), force=args.force)
    what = "SQLite online backup" if result.kind == "sqlite" else "pg_dump (custom format)"
    print(f"backed up HQ's database to {result.path}: {result.size / 1e6:.1f} MB, {what}, "
          f"{result.seconds:.1f} s (0600; HQ's keys are not in it: back up {home.keys_dir} "
          "apart)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from hq.backup import restore

    home = _home(args)
    home.root.mkdir(parents=True, exist_ok=True)
    result = restore(home.database_url(), Path(args.file))
    rows = result.rows
    print(f"restored {args.file} into {home.database_url()} in {result.seconds:.1f} s: "
          f"{rows.get('packets', 0)} packets, {rows.get('devices', 0)} devices, "
          f"{sum(rows.values())} rows in {len(rows)} tables")
    if not home.initialised():
        print(f"HQ's keys are not in a backup: restore them into {home.keys_dir} (README, "
              "\"Backups\") before running ingest or opening packets", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser, add = command_parser("rekam-hq", "Rekam headquarters.",
                                 "HQ's state directory (default: $REKAM_HQ_HOME)")

    p = add("init", cmd_init, "create HQ's sealing, signing and CA keys")
    p.add_argument("--force", action="store_true", help=argparse.SUPPRESS)

    db = add("db", None, "HQ's database schema: show it or upgrade it in place")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION",
                               parser_class=OneLineParser)
    add("current", cmd_db_current, "the database's schema revision and this release's", db_sub)
    add("upgrade", cmd_db_upgrade, "apply this release's migrations (done on every start)",
        db_sub)

    p = add("synth", cmd_synth, "write a synthetic SIAK-like CSV of residents who must record")
    p.add_argument("--kelurahan", nargs="+", required=True, metavar="K",
                   help="kelurahan codes or names; 'all' for the whole kota")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--today", help="reference date for ages (YYYY-MM-DD; default today)")
    p.add_argument("-o", "--output", required=True)

    dev = add("device", None, "register kits and make their provisioning bundles")
    dev_sub = dev.add_subparsers(dest="device_command", required=True, metavar="ACTION",
                                 parser_class=OneLineParser)
    p = add("add", cmd_device_add, "register a kit; writes its provisioning bundle", dev_sub)
    p.add_argument("id", help="device id, e.g. kit-bekasi-timur-01")
    p.add_argument("--kelurahan", nargs="+", required=True, metavar="K",
                   help="kelurahan the kit serves (codes or names)")
    p.add_argument("--broker", help="mqtts://HOST:PORT the kit syncs to")
    p.add_argument("--training", action="store_true",
                   help="a training kit (practice, demonstrations): may use simulated devices, "
                   "and its packets never count as real recordings; without it the kit is a "
                   "production kit and refuses simulated devices")
    p.add_argument("-o", "--output", required=True, help="bundle file to write")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p = add("revoke", cmd_device_revoke, "revoke a lost, stolen or retired kit: CRL, broker "
            "ACL, and the breach report UU 27/2022 needs", dev_sub)
    p.add_argument("id", help="device id")
    p.add_argument("--reason", required=True, choices=["lost", "stolen", "retired"])
    p.add_argument("--report", metavar="FILE.csv", help="where to write the list of residents "
                   "the kit carried (default: HQ's home, breach/KIT-TIME.csv), 0600")
    p.add_argument("--broker-pid", type=int, metavar="PID",
                   help="send the broker SIGHUP so it re-reads the CRL and ACL at once")
    p = add("list", cmd_device_list, "list registered kits", dev_sub)
    p.add_argument("--json", action="store_true")

    p = add("worklist", cmd_worklist, "sign a kit's worklist: from the register and the "
            "kit's schedule (residents still to record in the RWs of its coming visits), or "
            "from a SIAK-like CSV")
    p.add_argument("device")
    p.add_argument("--from", dest="source", metavar="FILE.csv",
                   help="an ad-hoc list instead of the register (the kit's kelurahan only)")
    p.add_argument("--days", type=int, default=30,
                   help="days until it expires (default 30; from the register, never before "
                        "the end of the last visit)")
    p.add_argument("--schedule", metavar="VISITS.csv",
                   help="with --from: the kit's visits: columns tanggal, tempat, rw[, "
                        "kode_kelurahan, catatan, waktu]")
    p.add_argument("-o", "--output", help="write it (0600) for a USB stick")
    p.add_argument("--push", action="store_true",
                   help="send it to the kit over MQTT (retained until the kit takes it)")
    p.add_argument("--broker", help="with --push: mqtts://HOST:PORT (default: HQ's config)")
    p.add_argument("--dry-run", action="store_true",
                   help="count the residents and visits (with --from: check every row of the "
                        "CSV and the schedule, listing every bad one); sign nothing, use no "
                        "version")
    p.add_argument("--force", action="store_true", help="overwrite the output file")

    p = add("open", cmd_open, "verify and decrypt a sealed packet, check it, print its "
            "manifest and what HQ flags (exit 4 when flagged)")
    p.add_argument("packet")
    p.add_argument("--extract", metavar="DIR",
                   help="also write the files the manifest lists (images, device evidence; "
                        "0600) to DIR")
    p.add_argument("--json", action="store_true")

    p = add("backup", cmd_backup, "back up HQ's database while HQ runs (SQLite online "
            "backup; pg_dump for PostgreSQL); not the keys")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--force", action="store_true", help="overwrite FILE")
    p = add("restore", cmd_restore, "restore a backup into this home's empty database, "
            "then upgrade it to this release's schema")
    p.add_argument("file", metavar="FILE")

    from hq.sync_cli import add_commands as add_sync_commands  # MQTT link (issue 4)

    add_sync_commands(add)

    from hq.monitoring_cli import add_commands as add_monitoring_commands  # dashboard, reports

    add_monitoring_commands(add)

    from hq.register_cli import add_commands as add_register_commands  # the register

    add_register_commands(add)

    from hq.invitations_cli import add_commands as add_invitation_commands  # letters

    add_invitation_commands(add)
    return parser


#: Commands that work before ``rekam-hq init`` (they touch neither keys nor the database).
# restore: into an empty home; HQ's keys are restored apart (README, "Backups").
WITHOUT_HOME = frozenset({"init", "synth", "regions", "restore"})


def _require_init(args: argparse.Namespace) -> int | None:
    home = _home(args)
    if args.command in WITHOUT_HOME or home.initialised():
        return None
    print(f"error: HQ is not set up in {home.root} (no keys there); run: rekam-hq init "
          "(or give --home / $REKAM_HQ_HOME the home that has them)", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.home = getattr(args, "home", None)  # see rekam.cli.main
    refused = _require_init(args)
    if refused is not None:
        return refused
    return run(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
