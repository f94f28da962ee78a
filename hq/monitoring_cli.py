"""The ``rekam-hq`` subcommands of monitoring: ``user`` (dashboard logins), ``serve`` (the
dashboard) and ``report`` (the evaluation report). ``hq/cli.py`` wires them with one call to
:func:`add_commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from edge.cli_support import OneLineParser, print_json, print_table, read_secret
from edge.errors import InvalidInput
from hq.home import HqHome, hq_default_home


def _home(args: argparse.Namespace) -> HqHome:
    return HqHome(Path(args.home) if args.home else hq_default_home())


def _engine(home: HqHome) -> Any:
    from hq.db import make_engine

    home.keys()  # a home that was never initialised says so, not a raw database error
    return make_engine(home.database_url())


def cmd_user_add(args: argparse.Namespace) -> int:
    from hq.web import auth

    engine = _engine(_home(args))
    password = read_secret(f"password for {args.id}: ", "REKAM_HQ_NEW_PASSWORD", confirm=True)
    user = auth.add_user(engine, args.id, args.role, password, kecamatan=args.kecamatan,
                         kelurahan=args.kelurahan)
    area = "the whole kota" if user.scope.whole_city else f"{user.scope.level} {user.scope.code}"
    print(f"user {user.user_id} added: {user.role}, sees {area}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from hq.web import auth

    users = auth.list_users(_engine(_home(args)))
    if args.json:
        print_json([{"user_id": u.user_id, "role": u.role, "scope_level": u.scope.level,
                     "scope_code": u.scope.code, "disabled": u.disabled,
                     "created_at": u.created_at} for u in users])
        return 0
    print_table(["user", "role", "area", "state", "added"], [
        (u.user_id, u.role, "kota" if u.scope.whole_city else
         f"{u.scope.level} {u.scope.code}", "disabled" if u.disabled else "active",
         f"{u.created_at:%Y-%m-%d}" if u.created_at else "") for u in users])
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    from hq.web import auth

    auth.set_disabled(_engine(_home(args)), args.id, True)
    print(f"user {args.id} disabled; its sessions ended")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    from hq.web import auth

    auth.set_disabled(_engine(_home(args)), args.id, False)
    print(f"user {args.id} enabled")
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    from hq.web import auth

    engine = _engine(_home(args))
    auth.get_user(engine, args.id)
    password = read_secret(f"new password for {args.id}: ", "REKAM_HQ_NEW_PASSWORD",
                           confirm=True)
    auth.set_password(engine, args.id, password)
    print(f"password of {args.id} changed; its sessions ended")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hq.web.app import Settings, create_app

    if (args.tls_cert is None) != (args.tls_key is None):
        raise InvalidInput("give both --tls-cert and --tls-key, or neither")
    engine = _engine(_home(args))
    app = create_app(Settings(engine=engine, poll_seconds=args.poll))
    scheme = "https" if args.tls_cert else "http"
    print(f"dashboard on {scheme}://{args.host}:{args.port}/ (Ctrl+C stops it)",
          file=sys.stderr)
    if scheme == "http" and args.host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: plain HTTP on a network address; put a TLS reverse proxy in front "
              "(README: The dashboard)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
                ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                timeout_graceful_shutdown=3, server_header=False)
    return 0


def _day(text: str | None, what: str) -> date | None:
    from edge.resident_record import parse_date

    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {exc}") from None


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from edge.cli_support import print_table
    from hq.monitoring import report
    from hq.monitoring.evaluation import evaluate

    started = time.perf_counter()
    binary = args.format in ("xlsx", "pdf")
    if binary and not args.output:
        raise InvalidInput(f"--format {args.format} needs -o FILE")
    engine = _engine(_home(args))
    ev = evaluate(engine, by=args.by, kecamatan=args.kecamatan, kelurahan=args.kelurahan,
                  start=_day(args.start, "--from"), end=_day(args.end, "--to"))
    if args.format == "table":
        headers, rows = report.to_table(ev)
        if args.output:
            raise InvalidInput("--format table prints to the terminal; use csv for a file")
        print(f"{ev.within.name}, {ev.first_day} to {ev.period.end}: coverage "
              f"{100 * (ev.total.coverage or 0):.1f}% ({ev.total.recorded:,} of "
              f"{ev.total.must_record:,})")
        print_table(headers, rows)
        return 0
    data = report.RENDERERS[args.format](ev)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"{args.format.upper()} report for {ev.within.name}, {ev.first_day} to "
              f"{ev.period.end}: {len(ev.rows)} rows by {ev.by}, {len(data) / 1024:.0f} KB "
              f"({time.perf_counter() - started:.1f} s) -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0


def add_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register the subcommands through ``hq.cli.build_parser``'s ``add`` helper."""
    user = add("user", None, "dashboard logins for HQ staff")
    sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION",
                              parser_class=OneLineParser)
    p = add("add", cmd_user_add, "add a login (password typed, or REKAM_HQ_NEW_PASSWORD)", sub)
    p.add_argument("id")
    p.add_argument("--role", required=True, choices=("viewer", "clerk", "admin"),
                   help="viewer: figures and lists; clerk: also downloads reports; "
                        "admin: also sees accounts and the login record")
    area = p.add_mutually_exclusive_group()
    area.add_argument("--kecamatan", metavar="K", help="only this kecamatan (code or name)")
    area.add_argument("--kelurahan", metavar="K", help="only this kelurahan (code or name)")
    p = add("list", cmd_user_list, "list logins", sub)
    p.add_argument("--json", action="store_true")
    p = add("disable", cmd_user_disable, "disable a login and end its sessions", sub)
    p.add_argument("id")
    p = add("enable", cmd_user_enable, "enable a disabled login again", sub)
    p.add_argument("id")
    p = add("password", cmd_user_password, "set a new password (ends the login's sessions)",
            sub)
    p.add_argument("id")

    p = add("report", cmd_report, "the evaluation report: coverage by area for a period "
            "(table, CSV, JSON, Excel, or the Wali Kota's PDF)")
    p.add_argument("--by", required=True, choices=("kota", "kecamatan", "kelurahan", "rw"),
                   help="one row per area of this level")
    area = p.add_mutually_exclusive_group()
    area.add_argument("--kecamatan", metavar="K", help="only this kecamatan (code or name)")
    area.add_argument("--kelurahan", metavar="K", help="only this kelurahan (code or name)")
    p.add_argument("--from", dest="start", metavar="DATE",
                   help="first day (DD-MM-YYYY or YYYY-MM-DD; default: the register's first)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day (default: today, WIB)")
    p.add_argument("--format", required=True, choices=("table", "csv", "xlsx", "pdf", "json"))
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (required for xlsx and pdf; csv and json print otherwise)")

    p = add("serve", cmd_serve, "the monitoring dashboard (behind a TLS reverse proxy)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS directly with this "
                   "certificate (else plain HTTP for a reverse proxy on the same machine)")
    p.add_argument("--tls-key", metavar="PEM")
    p.add_argument("--forwarded-allow-ips", default="127.0.0.1", metavar="ADDRS",
                   help="proxies whose X-Forwarded-For/-Proto are trusted (default 127.0.0.1)")
    p.add_argument("--poll", type=float, default=2.0, metavar="SECONDS",
                   help="how often live updates look for new recordings (default 2)")
