"""The ``rekam`` commands that set a kit up and show how it stands: ``provision``,
``firstboot``, ``logs``, ``status`` and ``config show|set``. ``rekam/cli.py`` wires them
with one call to :func:`add_commands`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.cli_support import OneLineParser, SubcommandAdder, print_json, read_secret
from edge.config import KitConfig, KitPaths
from edge.errors import InvalidInput, WorklistExpired
from edge.kit import install_bundle
from edge.provisioning import open_bundle
from rekam.bootstrap import kit_home
from rekam.cli_common import OPERATOR_ENV, PIN_ENV, open_home_kit, wib_iso


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
    with open_home_kit(args) as kit:
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
        f"{wib_iso(s.roster_expires_at)}")
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
    with open_home_kit(args) as kit:
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


def add_commands(add: SubcommandAdder) -> None:
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
