"""The ``rekam-hq`` subcommands of the MQTT link: ``broker-config``, ``ingest``, ``devices``,
``packets`` and ``push``. ``hq/cli.py`` wires them with one call to :func:`add_commands`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli_support import print_json, print_table
from edge.clock import wib
from edge.errors import InvalidInput
from hq.home import HqHome, hq_default_home

if TYPE_CHECKING:
    from hq.fleet import DeviceOverview


def _home(args: argparse.Namespace) -> HqHome:
    return HqHome(Path(args.home) if args.home else hq_default_home())


def _engine(home: HqHome) -> Any:
    from hq.db import make_engine

    return make_engine(home.database_url())


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("mqtt").setLevel(logging.INFO)


def cmd_broker_config(args: argparse.Namespace) -> int:
    from hq.broker import write_broker_config

    home = _home(args)
    conf = write_broker_config(home, Path(args.output), port=args.port,
                               hosts=tuple(args.host or ()), bind=args.bind, user=args.user)
    host = (args.host or ["localhost"])[0]
    url = f"mqtts://{host}:{args.port}"
    config = home.config()
    if args.record or not config.get("broker_url"):
        config["broker_url"] = url
        home.save_config(config)
    print(f"broker configuration written to {conf.parent}")
    print(f"  run:    mosquitto -c {conf}")
    print(f"  kits:   rekam-hq device add ID --broker {url} ...  "
          f"(or on a kit: rekam config set broker {url})")
    print(f"  ingest: rekam-hq ingest --broker {url}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from hq.ingest import Ingestor
    from hq.ingest_worker import ingest_options, run_ingest

    _logging(args.verbose)
    home = _home(args)
    keys = home.keys()
    options = ingest_options(home, args.broker, instance=args.instance)
    engine = _engine_when_up(home)
    ingestor = Ingestor(engine, keys)
    stop_vault = threading.Event()
    vault_thread = None
    if not args.no_vault:
        vault_thread = threading.Thread(target=_vault_beside_ingest, name="vault",
                                        args=(engine, keys, home.config(), stop_vault),
                                        daemon=True)
        vault_thread.start()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if args.seconds:
            loop.call_later(args.seconds, stop.set)
        await run_ingest(ingestor, options, stop)

    try:
        asyncio.run(main())
    finally:
        stop_vault.set()
        if vault_thread is not None:
            vault_thread.join(timeout=60)
    counts = dict(ingestor.counts)
    print(json.dumps(counts, sort_keys=True) if args.json else
          "ingest stopped: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                                or "nothing received"), file=sys.stderr if not args.json
          else sys.stdout)
    return 0


def _vault_beside_ingest(engine: Any, keys: Any, config: dict[str, Any],
                         stop: threading.Event) -> None:
    """The vault in a thread of ``rekam-hq ingest``: opens what ingest stores, logging each
    batch; a failure is logged and the loop goes on (ingest must keep acking)."""
    from hq.inspect import hq_sbi_trust
    from hq.vault import Vault, run_vault

    log = logging.getLogger("rekam.hq.vault")
    vault = Vault(engine, keys, sbi_trust=hq_sbi_trust(config))
    while not stop.is_set():
        try:
            run_vault(vault, stop=stop, on_batch=lambda c: log.info("vault: %s", c))
        except Exception:
            log.exception("vault: a batch failed; trying again in 10 s")
            stop.wait(10)


def _engine_when_up(home: HqHome) -> Any:
    """HQ's engine, waiting (with back-off) for a database that does not answer yet: a worker
    started with, or just before, PostgreSQL must not give up (systemd would stop restarting
    it after a few tries) but start as soon as it answers."""
    import time

    from sqlalchemy.exc import OperationalError

    from sync.uplink_base import Backoff

    backoff = Backoff(0.5, 5.0)
    while True:
        try:
            return _engine(home)
        except OperationalError as exc:
            delay = backoff.next()
            logging.getLogger("rekam.ingest").warning(
                "HQ's database does not answer (%s); trying again in %.1f s",
                str(exc).splitlines()[0], delay)
            time.sleep(delay)


def _ago(when: datetime | None) -> str:
    if when is None:
        return "-"
    seconds = (datetime.now(UTC) - when).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def cmd_devices(args: argparse.Namespace) -> int:
    from hq.anchors import alerts
    from hq.fleet import device_overview

    engine = _engine(_home(args))
    rows = list(device_overview(engine))
    if args.json:
        print_json(rows)
        return 0
    raised = alerts(engine, limit=20)
    print_table(["device", "use", "state", "heartbeat", "queue", "oldest queued", "disk MB",
                 "roster", "packets", "last packet", "refused", "audit head"], [
        (r.device_id, r.use, _registry_state(r),
         _ago(r.last_heartbeat), "-" if r.queue_depth is None else r.queue_depth,
         r.oldest_queued or "-", "-" if r.free_disk_mb is None else r.free_disk_mb,
         "-" if r.roster_version is None else f"v{r.roster_version}", r.packets,
         _ago(r.last_packet_at), r.dead_letters,
         ("-" if r.audit_seq is None else f"#{r.audit_seq} {(r.audit_hash or '')[:8]}")
         + (f" ALERT×{r.alerts}" if r.alerts else ""))
        for r in rows])
    for r in rows:
        if r.reported_training and not r.training:
            print(f"{r.device_id} says it is a training kit, but HQ registered it for "
                  "production: its simulated captures are flagged, never taken as real")
        if r.status == "revoked":
            print(f"{r.device_id} is REVOKED ({r.revoke_reason}) since "
                  f"{wib(r.revoked_at)}: the broker refuses it, ingest "
                  "refuses its packets")
        elif r.wiped_at is not None:
            print(f"{r.device_id} was WIPED at {r.wiped_at:%Y-%m-%d %H:%M} UTC ({r.wipe_detail});"
                  f" retire its certificate: rekam-hq device revoke {r.device_id} --reason "
                  "retired")
    if raised:
        print("\nalerts (newest first):")
        for a in raised:
            print(f"  ALERT {wib(a.at)} {a.device_id} {a.code}: {a.detail}")
    return 0


def _registry_state(row: DeviceOverview) -> str:
    if row.status != "active":
        return row.status.upper()
    if row.wiped_at is not None:
        return "WIPED"
    return row.state or "never seen"


def cmd_packets(args: argparse.Namespace) -> int:
    from hq.packets import PacketStore

    store = PacketStore(_engine(_home(args)))
    stored = store.list_packets(device_id=args.device, limit=args.limit)
    dead = store.list_dead_letters(limit=args.limit)
    if args.json:
        print_json({"packets": stored, "dead_letters": dead,
                    "dead_letter_counts": store.dead_letter_counts(),
                    "chunks_in_reassembly": store.chunks_pending()})
        return 0
    print_table(["device", "packet", "KB", "received", "state", "deliveries"], [
        (p.device_id, p.packet_id, f"{p.size / 1024:.0f}", wib(p.received_at, "%Y-%m-%d %H:%M:%S"),
         p.state, p.deliveries) for p in stored])
    print(f"{len(stored)} packets shown", file=sys.stderr)
    if dead:
        print("\ndead letters (refused by ingest):")
        print_table(["#", "received", "device", "reason", "detail"], [
            (d.id, wib(d.received_at, "%Y-%m-%d %H:%M:%S"), d.device_id or "-",
             ("ALERT " if d.alert else "") + d.reason_code, d.reason[:80]) for d in dead])
    return 0


def _print_added(added: list[Any], *, prefix: str = "") -> int:
    """One line per packet; the number of packets HQ does not hold."""
    missing = 0
    for a in added:
        if a.held:
            word = "stored" if a.status == "stored" else "already held"
            print(f"{prefix}{word:<12} {a.packet_id} ({a.device_id})")
        else:
            missing += 1
            print(f"{prefix}{a.status:<12} {a.packet_id or a.source}: {a.reason}")
    return missing


def cmd_packets_add(args: argparse.Namespace) -> int:
    from hq.ingest import Ingestor
    from hq.offline import add_packets

    home = _home(args)
    files = [(f, Path(f).read_bytes()) for f in args.files]
    added = add_packets(Ingestor(_engine(home), home.keys()), files)
    missing = _print_added(added)
    print(f"{len(added) - missing} of {len(added)} packets held by HQ", file=sys.stderr)
    return 1 if missing else 0


def cmd_import_usb(args: argparse.Namespace) -> int:
    from hq.ingest import Ingestor
    from hq.offline import import_stick

    home = _home(args)
    missing = 0
    for result in import_stick(Ingestor(_engine(home), home.keys()), Path(args.dir)):
        if result.already:
            print(f"{result.device_id}: already imported; the receipt on the stick stands "
                  "(nothing changed)")
            continue
        print(f"{result.device_id}: {len(result.added)} packets")
        for alert in result.alerts:
            print(f"  ALERT: {alert}")
        missing += _print_added(result.added, prefix="  ")
        held = sum(a.held for a in result.added)
        print(f"  receipt for {held} packets written to {result.folder}/receipt.json; "
              "back at the kit: rekam import-receipt")
    return 1 if missing else 0


def _publish_retained(home: HqHome, broker: str | None, name: str, payload: bytes) -> None:
    from dataclasses import replace

    from hq.ingest_worker import ingest_options
    from sync.mqtt import connect

    options = replace(  # a one-off publisher: no session left behind at the broker
        ingest_options(home, broker, client_id=f"rekam-hq-push-{datetime.now(UTC):%s}"),
        persistent=False, manual_ack=False, receive_maximum=0)

    async def main() -> None:
        async with connect(options) as link:
            await link.publish(name, payload, retain=True)

    asyncio.run(main())


def publish_worklist(home: HqHome, broker: str | None, device_id: str, data: bytes) -> str:
    """Send a signed worklist to its kit, retained; returns what to tell the user."""
    from sync.protocol.topics import Channel, topic

    name = topic(device_id, Channel.WORKLIST)
    _publish_retained(home, broker, name, data)
    return (f"worklist published (retained) on {name}; the kit stages it and its next "
            "operator login applies it")


def cmd_push_worklist(args: argparse.Namespace) -> int:
    from edge.signing import parse_document

    data = Path(args.file).read_bytes()
    if parse_document(data).kind != "worklist":
        raise InvalidInput(f"{args.file} is not a signed worklist")
    print(publish_worklist(_home(args), args.broker, args.device, data))
    return 0


def cmd_push_config(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hq.db import device_config
    from hq.devices import get_device
    from sync.protocol.config import ConfigUpdate, build_config
    from sync.protocol.topics import Channel, topic

    home = _home(args)
    engine = _engine(home)
    keys = home.keys()
    device = get_device(engine, args.device)
    settings: dict[str, str] = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"{item!r}: write settings as KEY=VALUE")
        settings[key.strip()] = value.strip()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        row = conn.execute(select(device_config.c.version)
                           .where(device_config.c.device_id == args.device)).first()
        version = (0 if row is None else int(row[0])) + 1
        update = ConfigUpdate(args.device, version, now, now + timedelta(days=args.days),
                              settings, training=device.training)
        data = build_config(update, keys.signing)
        values = {"version": version, "settings": json.dumps(settings, sort_keys=True),
                  "issued_at": now}
        if row is None:
            conn.execute(device_config.insert().values(device_id=args.device, **values))
        else:
            conn.execute(device_config.update()
                         .where(device_config.c.device_id == args.device).values(**values))
    name = topic(args.device, Channel.CONFIG)
    if args.output:
        Path(args.output).write_bytes(data)
    if not args.no_publish:
        _publish_retained(home, args.broker, name, data)
    print(f"config v{version} for {args.device} ({device.use} kit): "
          + ", ".join(f"{k}={v}" for k, v in settings.items())
          + ("" if args.no_publish else f" (published, retained, on {name})"))
    return 0


def add_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register the subcommands through ``hq.cli.build_parser``'s ``add`` helper."""
    p = add("broker-config", cmd_broker_config,
            "write a Mosquitto configuration (TLS 1.3, client certificates, per-kit ACL)")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--port", type=int, default=8883)
    p.add_argument("--host", action="append", metavar="NAME",
                   help="a name or address kits use to reach the broker (repeatable; "
                        "localhost and 127.0.0.1 are always included)")
    p.add_argument("--bind", metavar="ADDR", help="listen only on this address")
    p.add_argument("--user", help="system user mosquitto runs as (default: the current one)")
    p.add_argument("--record", action="store_true",
                   help="make this broker the one ingest uses by default")

    p = add("ingest", cmd_ingest, "store the kits' packets from the broker and ack them")
    p.add_argument("--broker", metavar="URL", help="mqtts://HOST:PORT (default: the one "
                   "recorded by broker-config)")
    p.add_argument("--instance", default="1", metavar="N",
                   help="this worker's name among HQ's ingest workers on this host (systemd: "
                        "%%i of rekam-hq-ingest@N): the broker keeps its session, and queues "
                        "its share, under it while it restarts; each worker needs its own")
    p.add_argument("--no-vault", action="store_true",
                   help="do not open the stored packets here (a separate rekam-hq vault run "
                        "does it)")
    p.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="counts as JSON when it stops")
    p.add_argument("-v", "--verbose", action="store_true")

    p = add("devices", cmd_devices, "each kit's last heartbeat, queue depth and last packet")
    p.add_argument("--json", action="store_true")

    p = add("packets", cmd_packets, "stored packets, and the messages ingest refused")
    p.add_argument("--device")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    pk_sub = p.add_subparsers(dest="packets_command", metavar="ACTION",
                              parser_class=type(p))
    q = add("add", cmd_packets_add, "store packet files that came by another route (a "
            "mail, a stick), exactly as ingest would", pk_sub)
    q.add_argument("files", nargs="+", metavar="FILE")

    p = add("import-usb", cmd_import_usb, "the offline route: store the packets a kit "
            "exported to a stick (rekam export --usb) and write HQ's signed receipt there")
    p.add_argument("dir", metavar="DIR", help="the mounted stick")

    push = add("push", None, "send a signed worklist or config to a kit over MQTT")
    sub = push.add_subparsers(dest="push_command", required=True, metavar="WHAT",
                              parser_class=type(push))
    p = add("worklist", cmd_push_worklist, "publish a signed worklist to a kit", sub)
    p.add_argument("device")
    p.add_argument("file", help="made by rekam-hq worklist")
    p.add_argument("--broker", metavar="URL")
    p = add("config", cmd_push_config, "sign and publish settings for a kit", sub)
    p.add_argument("device")
    p.add_argument("settings", nargs="*", metavar="KEY=VALUE",
                   help="settings to change (none: only restate the kit's registration, "
                   "training or production)")
    p.add_argument("--days", type=int, default=30, help="days until it expires")
    p.add_argument("--broker", metavar="URL")
    p.add_argument("-o", "--output", help="also write the signed document here")
    p.add_argument("--no-publish", action="store_true", help=argparse.SUPPRESS)
