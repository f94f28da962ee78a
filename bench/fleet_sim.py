"""The fleet simulator: hundreds of kits against a real Mosquitto and real ingest workers,
with faults on a schedule. Prints what a fleet manager asks after a bad day:

- packets sent, stored, stored twice (must be 0), lost (must be 0);
- the time to drain the fleet's whole backlog;
- for each fault, the time from the failed part coming back until every packet the kits
  had sent before it was acknowledged (recovery), and how long the part was away;
- the broker's and the ingest workers' peak memory.

Everything is real but the radio: each kit is provisioned through HQ's own bundle path (its
own certificate from HQ's CA, its own device key), seals its packets with the kit's sealing
code (a complete enrolment's manifest and files of realistic sizes, about 170 KB sealed)
into its own SQLite outbox, and runs the kit's own uplink (`sync.uplink.Uplink`, shipped
settings) over its own MQTT session, all kits in this one process. The broker is Mosquitto
from `rekam-hq broker-config`; the ingest workers are `rekam-hq ingest --instance N`
processes; PostgreSQL is a private cluster (initdb on a free port) so its restarts touch
nobody else.

Faults one at a time, in this order: each once a share of the fleet's packets is acked (its
trigger, the earliest point) and the previous fault has recovered (every packet sent before it
acked) plus a settle gap (3 s by default), so no two recoveries overlap and each figure
measures its own fault. A fault the backlog drained before is not injected, and the run
says so and fails its goal:

1. links: 20 kits' TCP connections cut while a packet is half sent;
2. ingest: SIGKILL every worker at once (the only one, as far as the broker can tell);
   restarted 1 s later, as systemd does;
3. database: PostgreSQL stopped in immediate mode (a crash) and started 3 s later; on
   SQLite, another process holding the write lock for 10 s (past ingest's busy timeout);
4. broker: SIGKILL, restarted 2 s later (it loses what it had not saved);
5. ingest: SIGKILL one worker of several; restarted 1 s later (skipped with one worker).

    .venv/bin/python bench/fleet_sim.py [--kits 500] [--packets 20] [--size 170000]
        [--db sqlite|postgres] [--workers 2] [--no-faults] [--json FILE] [--keep DIR]

Asserts nothing but that every fault was injected (exit status 1 if not);
tests/test_fleet.py runs it small and checks the counts (`make fleet`).
The simulation and its faults are here; the parts it runs are in fleet_parts.py, the kits
in fleet_kits.py, the figures and the report in fleet_report.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_kits import Fleet, build_fleet
from fleet_parts import (
    Broker,
    PrivatePostgres,
    Process,
    _tree_rss_kb,
    free_port,
    rss_kb,
    say,
    tree_cpu_seconds,
)
from fleet_report import FaultRecord, Results, Sample, fault_timeline, report

log = logging.getLogger("fleet")


class Simulation:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.acked: set[str] = set()
        self.live_links: dict[str, Any] = {}
        self.started = 0.0
        self.workers: list[Process] = []
        self.postgres: PrivatePostgres | None = None
        self.db_url = ""
        self.faults: list[FaultRecord] = []

    def now(self) -> float:
        return time.monotonic() - self.started

    # --- setup

    def setup(self) -> Fleet:
        from hq.broker import write_broker_config
        from hq.db import make_engine
        from hq.home import HqHome

        t0 = time.monotonic()
        if self.args.db == "postgres":
            self.postgres = PrivatePostgres(self.root / "pg")
            self.postgres.init()
            self.db_url = self.postgres.create_database("rekam_fleet")
        else:
            self.db_url = f"sqlite:///{self.root / 'hq' / 'hq.db'}"
        os.environ["REKAM_HQ_DATABASE_URL"] = self.db_url
        self.hq = HqHome(self.root / "hq")
        self.hq.init()
        self.engine = make_engine(self.db_url)
        port = free_port()
        write_broker_config(self.hq, self.root / "broker", port=port, bind="127.0.0.1")
        self.broker = Broker(self.root / "broker", port, self.root / "mosquitto.log")
        self.broker.start()
        sync = {"window": self.args.window} if self.args.window else {}
        fleet = build_fleet(self.hq, self.engine, self.root / "kits", self.args.kits,
                            self.args.packets, self.args.size, self.broker.url, sync)
        env = {**os.environ, "REKAM_HQ_DATABASE_URL": self.db_url, "PYTHONUNBUFFERED": "1"}
        for i in range(1, self.args.workers + 1):
            self.workers.append(Process(
                f"ingest@{i}", [sys.executable, "-m", "hq.cli", "ingest", "--home",
                                str(self.hq.root), "--broker", self.broker.url,
                                "--instance", str(i), "--no-vault"],
                self.root / f"ingest-{i}.log", env))
        self.setup_seconds = time.monotonic() - t0
        return fleet

    # --- the kits

    def connector(self) -> Callable[[Any], Any]:
        from sync.mqtt import connect

        live = self.live_links

        @contextlib.asynccontextmanager
        async def connecting(options: Any) -> AsyncIterator[Any]:
            async with connect(options) as link:
                live[options.client_id] = link
                try:
                    yield link
                finally:
                    if live.get(options.client_id) is link:
                        del live[options.client_id]

        return connecting

    def watch_acks(self) -> None:
        """Every packet any kit takes as acknowledged (the kit's own ack handling)."""
        from sync import downlink

        original = downlink.handle_acks
        acked = self.acked

        def handle_acks(kit: Any, payloads: Any) -> Any:
            outcome = original(kit, payloads)
            acked.update(outcome.acked)
            acked.update(outcome.repeated)
            if outcome.acked or outcome.repeated:
                for f in self.faults:
                    if f.back and f.first_ack is None:
                        f.first_ack = self.now() - f.back
            return outcome

        downlink.handle_acks = handle_acks  # type: ignore[assignment]

    def outstanding(self, uplinks: dict[str, Any], only: set[str] | None = None) -> set[str]:
        """Packets the kits have sent (or are sending) and that are not acked."""
        out: set[str] = set()
        for device_id, uplink in uplinks.items():
            if only is not None and device_id not in only:
                continue
            out.update(uplink._flights)
            rows = uplink.kit.conn.execute(
                "SELECT packet_id FROM outbox WHERE state = 'sent'").fetchall()
            out.update(r[0] for r in rows)
        return out - self.acked

    # --- faults

    async def fault(self, record: FaultRecord, uplinks: dict[str, Any]) -> set[str]:
        """Inject one fault; returns the packets to watch for its recovery."""
        record.injected = self.now()
        name = record.name
        only: set[str] | None = None
        if name == "ingest: SIGKILL one worker of several":
            victim = self.workers[-1]
            await asyncio.to_thread(victim.signal, signal.SIGKILL)
            await asyncio.sleep(1.0)  # systemd's RestartSec
            victim.start()
        elif name == "ingest: SIGKILL every worker (the only one)":
            for w in self.workers:
                await asyncio.to_thread(w.signal, signal.SIGKILL)
            await asyncio.sleep(1.0)
            for w in self.workers:
                w.start()
        elif name == "broker: SIGKILL and restart":
            await asyncio.to_thread(self.broker.signal, signal.SIGKILL)
            await asyncio.sleep(2.0)
            await asyncio.to_thread(self.broker.start)
        elif name == "database: PostgreSQL crash and restart":
            assert self.postgres is not None
            await asyncio.to_thread(self.postgres.crash)
            await asyncio.sleep(3.0)
            await asyncio.to_thread(self.postgres.start)
        elif name == "database: SQLite locked by another process 10 s":
            await asyncio.to_thread(_lock_sqlite, self.db_url, 10.0)
        elif name.startswith("links:"):
            only = set()
            # Small packets are in flight only for moments: look again until some are.
            until = time.monotonic() + 10.0
            while not only and time.monotonic() < until:
                for device_id, uplink in uplinks.items():
                    if len(only) >= 20:
                        break
                    sending = any(f.deadline == float("inf")
                                  for f in uplink._flights.values())
                    link = self.live_links.get(device_id)
                    if sending and link is not None:
                        sock = link._client._client.socket()
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                        only.add(device_id)
                if not only:
                    await asyncio.sleep(0.005)
            record.cut = len(only)
            record.name = f"links: {len(only)} kits cut mid-packet"
        record.back = self.now()
        watch = self.outstanding(uplinks, only)
        record.outstanding = len(watch)
        say(f"FAULT {record.name}: away {record.away:.1f} s; {len(watch)} packets sent and "
            "unacked to recover")
        return watch

    def schedule(self) -> list[FaultRecord]:
        if self.args.no_faults:
            return []
        plan = [FaultRecord("links: kits cut mid-packet", 0.03),
                FaultRecord("ingest: SIGKILL every worker (the only one)", 0.10),
                FaultRecord("database: PostgreSQL crash and restart"
                            if self.args.db == "postgres" else
                            "database: SQLite locked by another process 10 s", 0.20),
                FaultRecord("broker: SIGKILL and restart", 0.30)]
        if self.args.workers > 1:
            plan.append(FaultRecord("ingest: SIGKILL one worker of several", 0.40))
        return plan

    # --- the run

    def sample(self, results: Results, uplinks: dict[str, Any], lag: float) -> None:
        """Once a second, a Sample of the fleet (see fleet_report.fault_timeline)."""
        self.lag = max(getattr(self, "lag", 0.0), lag)
        now = self.now()
        if results.timeline and now - results.timeline[-1].t < 1.0:
            return
        parts = {"sim": os.getpid(), "broker": self.broker.proc.pid if self.broker.proc else 0}
        for w in self.workers:
            parts[w.name] = w.proc.pid if w.proc else 0
        if self.postgres is not None:
            parts["pg"] = self.postgres.postmaster_pid()
        used = {name: tree_cpu_seconds(pid) for name, pid in parts.items()}
        last, self.cpu_used = getattr(self, "cpu_used", None), (now, used)
        cpu = {} if last is None else {
            name: max(0.0, used[name] - last[1].get(name, used[name])) / max(now - last[0], 0.1)
            for name in used}
        results.timeline.append(Sample(
            now, len(self.acked), len(self.live_links),
            sum(len(u._flights) for u in uplinks.values()), self.lag, cpu))
        self.lag = 0.0

    def sample_memory(self) -> None:
        self.broker.sample()
        for w in self.workers:
            w.sample()
        if self.postgres is not None:
            self.pg_peak_kb = max(getattr(self, "pg_peak_kb", 0), _tree_rss_kb(
                self.postgres.postmaster_pid()))

    async def run(self, fleet: Fleet) -> Results:
        from edge.kit import Kit
        from edge.operators import KdfParams
        from sync.settings import SyncSettings
        from sync.uplink import Uplink

        results = Results(self.args.kits, len(fleet.packets), fleet.bytes, self.args.db,
                          self.args.workers, setup_seconds=self.setup_seconds)
        if not self.args.verbose:  # hundreds of kits reconnecting: one line each is noise
            for name in ("mqtt", "rekam", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        self.watch_acks()
        for w in self.workers:
            w.start()
        await asyncio.sleep(1.0)  # the workers connect (and announce) first
        connector = self.connector()
        kits = {d: Kit(home, kdf=KdfParams(memory_kib=8192, iterations=1))
                for d, home in fleet.homes.items()}
        uplinks = {d: Uplink(kit, SyncSettings.load(kit.paths.root), connector=connector)
                   for d, kit in kits.items()}
        stop = asyncio.Event()
        total = len(fleet.packets)
        self.started = time.monotonic()
        say(f"{len(kits)} kits start sending {total} packets "
            f"({fleet.bytes / 1e9:.2f} GB) to {self.args.workers} ingest worker(s) on "
            f"{self.args.db}")
        tasks = [asyncio.create_task(u.run(stop)) for u in uplinks.values()]
        plan = self.schedule()
        results.faults = self.faults = plan
        watching: list[tuple[FaultRecord, set[str]]] = []
        last_line = 0.0
        deadline = self.started + self.args.timeout
        try:
            while time.monotonic() < deadline:
                slept = time.monotonic()
                await asyncio.sleep(0.25)
                self.sample(results, uplinks, time.monotonic() - slept - 0.25)
                self.sample_memory()
                acked = len(self.acked)
                for record in plan:
                    if (record.back and record.kits_back is None
                            and len(self.live_links) >= len(uplinks)):
                        record.kits_back = self.now() - record.back
                for record, watch in list(watching):
                    if record.most_acked is None and len(watch & self.acked) >= 0.9 * len(watch):
                        record.most_acked = self.now() - record.back
                    if watch <= self.acked:
                        record.recovered = self.now()
                        say(f"recovered from {record.name} in {record.recovery:.1f} s")
                        watching.remove((record, watch))
                pending = [f for f in plan if not f.injected and not f.skipped]
                # One fault at a time: the next once the last has recovered and settled, so
                # its figure is not the sum of two overlapping recoveries.
                settled = not watching and all(
                    f.recovered is not None and self.now() - f.recovered >= self.args.settle
                    for f in plan if f.injected)
                if pending and acked >= total:
                    for record in pending:
                        record.skipped = True
                    say("the backlog drained before " + ", ".join(f.name for f in pending)
                        + ": NOT INJECTED, the run fails its goal (lower the trigger shares, "
                        "the settle gap, or send more packets)")
                    pending = []
                if pending and settled and acked >= pending[0].at_share * total:
                    record = pending[0]
                    watching.append((record, await self.fault(record, uplinks)))
                if acked >= total and not watching and not pending:
                    results.drain_seconds = self.now()
                    break
                if self.now() - last_line >= 5:
                    last_line = self.now()
                    say(f"{acked}/{total} acked ({acked / max(self.now(), 0.1):.0f}/s)")
            else:
                say(f"gave up after {self.args.timeout:.0f} s")
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for w in self.workers:
                w.signal(signal.SIGTERM)
            for uplink in uplinks.values():
                results.sends += uplink.stats.packets_sent
                results.resent += uplink.stats.packets_resent
            for kit in kits.values():
                kit.close()
        results.sent = len(fleet.packets)
        self.count(results, fleet)
        results.broker_peak_mb = self.broker.peak_kb / 1024
        results.ingest_peak_mb = max((w.peak_kb for w in self.workers), default=0) / 1024
        results.postgres_peak_mb = getattr(self, "pg_peak_kb", 0) / 1024
        results.simulator_peak_mb = rss_kb(os.getpid()) / 1024
        return results

    def count(self, results: Results, fleet: Fleet) -> None:
        from sqlalchemy import func, select

        from hq.db import dead_letters, packets

        self.engine.dispose()  # its pooled connections may have died with PostgreSQL
        with self.engine.connect() as conn:
            rows = conn.execute(select(packets.c.packet_id, packets.c.sha256,
                                       packets.c.deliveries)).all()
            dups = conn.execute(select(packets.c.packet_id).group_by(packets.c.packet_id)
                                .having(func.count() > 1)).all()
            results.dead_letters = int(conn.execute(
                select(func.count()).select_from(dead_letters)).scalar_one())
        stored = {r[0]: r[1] for r in rows}
        results.stored = len(stored)
        results.stored_twice = len(dups)
        results.delivered_again = sum(1 for r in rows if int(r[2]) > 1)
        results.lost = sum(1 for p in fleet.packets if p not in stored)
        results.wrong_hash = sum(1 for p, (_, sha, _) in fleet.packets.items()
                                 if p in stored and stored[p] != sha)

    def close(self) -> None:
        """Stop what setup started (it may have failed half-way)."""
        for w in self.workers:
            w.signal(signal.SIGTERM)
        if hasattr(self, "broker"):
            self.broker.signal(signal.SIGTERM)
        if hasattr(self, "engine"):
            self.engine.dispose()
        if self.postgres is not None:
            self.postgres.stop()


def _lock_sqlite(db_url: str, seconds: float) -> None:
    import sqlite3

    from sqlalchemy.engine import make_url

    conn = sqlite3.connect(str(make_url(db_url).database), isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def simulate(args: argparse.Namespace) -> Results:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    keep = Path(args.keep) if args.keep else None
    root = keep or Path(tempfile.mkdtemp(prefix="rekam-fleet-"))
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        root.chmod(0o755)
    sim = Simulation(args, root)
    try:
        fleet = sim.setup()
        say(f"set up in {sim.setup_seconds:.0f} s: {len(fleet.homes)} kits, "
            f"{len(fleet.packets)} packets of {fleet.bytes / max(len(fleet.packets), 1) / 1e3:.0f}"
            f" KB, broker on {sim.broker.url}, database {sim.db_url}")
        return asyncio.run(sim.run(fleet))
    finally:
        sim.close()
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:+.1f} s"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--kits", type=int, default=500)
    parser.add_argument("--packets", type=int, default=20, help="per kit")
    parser.add_argument("--size", type=int, default=170_000, help="bytes of files per packet")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--window", type=int, default=0,
                        help="the most packets each kit may have awaiting HQ's ack (each kit "
                             "adapts below it, sync/window.py; default: the kit's)")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds from one fault's recovery (every packet sent before it "
                             "acked) to the next fault, at the earliest")
    parser.add_argument("--baseline", action="store_true",
                        help="first the same fleet without faults (a fresh HQ, broker and "
                             "kits): the faults' cost is the difference in drain time")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="give up draining after this many seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (logs)")
    parser.add_argument("--timeline", action="store_true",
                        help="print each fault's timeline (acks/s, kits connected, CPU)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    figures: dict[str, Any] = {}
    baseline = None
    if args.baseline and not args.no_faults:
        quiet = argparse.Namespace(**{**vars(args), "no_faults": True,
                                      "keep": args.keep and str(Path(args.keep) / "baseline")})
        say("baseline: the same fleet without faults")
        baseline = simulate(quiet)
        print(report(baseline), end="")
        figures["baseline"] = baseline.to_json()
    results = simulate(args)
    print(report(results), end="")
    if args.timeline:
        for f in results.faults:
            if f.injected:
                print(f"  {f.name}: injected at {f.injected - f.back:+.1f} s, every kit "
                      f"connected again at {_s(f.kits_back)}, 90 % of its packets acked at "
                      f"{_s(f.most_acked)}, all at {_s(f.recovery)}")
                print(fault_timeline(results, f))
    figures["run"] = results.to_json()
    if baseline is not None and baseline.drain_seconds and results.drain_seconds:
        cost = results.drain_seconds - baseline.drain_seconds
        print(f"  every fault together cost the fleet {cost:.1f} s: drained in "
              f"{results.drain_seconds:.1f} s against {baseline.drain_seconds:.1f} s without "
              f"faults (ratio {results.drain_seconds / baseline.drain_seconds:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if any(not f.injected for f in results.faults):
        say("FAILED: not every fault was injected (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
