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

Faults at a share of the fleet's packets acked, at least 10 s after the last one's part came
back (8 s by default; their recoveries may overlap, each is watched on its own):

1. links: 20 kits' TCP connections cut while a packet is half sent;
2. ingest: SIGKILL every worker at once (the only one, as far as the broker can tell);
   restarted 1 s later, as systemd does;
3. database: PostgreSQL stopped in immediate mode (a crash) and started 3 s later; on
   SQLite, another process holding the write lock for 10 s (past ingest's busy timeout);
4. broker: SIGKILL, restarted 2 s later (it loses what it had not saved);
5. ingest: SIGKILL one worker of several; restarted 1 s later (skipped with one worker).

    .venv/bin/python bench/fleet_sim.py [--kits 500] [--packets 20] [--size 170000]
        [--db sqlite|postgres] [--workers 2] [--no-faults] [--json FILE] [--keep DIR]

Asserts nothing (tests/test_fleet.py runs it small and checks the counts; `make fleet`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
KELURAHAN = "32.75.01.1001"
GOAL_RECOVERY = 30.0  # seconds from the failed part back to every earlier packet acked
FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")
log = logging.getLogger("fleet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- the parts: broker, PostgreSQL, ingest workers -----------------------------------------


@dataclass
class Process:
    name: str
    cmd: list[str]
    log: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    peak_kb: int = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env)

    def sample(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.peak_kb = max(self.peak_kb, rss_kb(self.proc.pid))

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.sample()
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=60)
        self.proc = None


class Broker(Process):
    def __init__(self, conf_dir: Path, port: int, log_path: Path) -> None:
        super().__init__("mosquitto", [MOSQUITTO, "-c", str(conf_dir / "mosquitto.conf")],
                         log_path)
        self.port = port

    @property
    def url(self) -> str:
        return f"mqtts://localhost:{self.port}"

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port")


class PrivatePostgres:
    """A PostgreSQL cluster of our own on a free port (initdb), to restart at will."""

    def __init__(self, root: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
        if not bins:
            raise SystemExit("PostgreSQL server binaries not found (apt-get install "
                             "postgresql)")
        self.bin = bins[0].parent
        self.as_root = os.geteuid() == 0
        # As root, the cluster runs as postgres, who may not reach into root's folders
        # (pytest's tmp_path is 0700): it gets a folder of its own under /tmp.
        self.root = Path(tempfile.mkdtemp(prefix="rekam-fleet-pg-")) if self.as_root else root
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.started_at = 0.0

    def _run(self, *argv: str) -> None:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_root:  # initdb and postgres refuse root
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise RuntimeError(f"{argv[0]} failed (exit {done.returncode}): "
                               + " / ".join(said))

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=200 -c shared_buffers=256MB", "start")

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        if self.as_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def postmaster_pid(self) -> int:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0


# --- the fleet: kits provisioned and packets sealed --------------------------------------------


def _files(size: int, rng: random.Random) -> dict[str, bytes]:
    """A complete enrolment's files, about ``size`` bytes in all, in the usual proportions
    (face 30 %, signature 4 %, ten fingers 46 %, two irises 20 %). Random bytes: sealed
    ciphertext does not compress anyway, and HQ never opens them here."""
    shares = {"face.jpeg": 0.30, "signature.png": 0.04}
    shares |= {f"finger_{f}.jp2": 0.046 for f in FINGERS}
    shares |= {f"iris_{e}.jp2": 0.10 for e in ("right", "left")}
    return {name: rng.randbytes(max(64, int(size * share))) for name, share in shares.items()}


def _manifest(device_id: str, files: dict[str, bytes], nik: str) -> Any:
    import uuid6

    from edge.packet import CaptureRecord, Manifest

    now = datetime.now(UTC)
    t = now.isoformat()
    captures = []
    for name in files:
        stem, fmt = name.rsplit(".", 1)
        modality, _, position = stem.partition("_")
        captures.append(CaptureRecord(
            modality=modality, position=position or None, file=name, image_format=fmt,
            width=480, height=640, quality=80, quality_reasons=[], passed=True, attempts=1,
            device_model="sim", device_serial=f"{device_id}-{modality}",
            device_backend="sim", captured_at=t))
    return Manifest(packet_id=str(uuid6.uuid7()), nik=nik, device_id=device_id,
                    operator_id="budi", service_point="Balai RW 005",
                    started_at=(now - timedelta(minutes=6)).isoformat(), sealed_at=t,
                    software_version="fleet-sim", captures=captures, kelurahan=KELURAHAN)


def provision_kit(home: str, bundle: bytes, code: str, packets: int, size: int,
                  seed: int, sync: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(In a worker process.) Install a kit from its bundle and seal ``packets`` packets
    into its outbox with the kit's own code; their (packet id, sha256, size)."""
    from edge.config import KitConfig, KitPaths
    from edge.kit import Kit, install_bundle
    from edge.operators import KdfParams
    from edge.packet import seal
    from edge.provisioning import open_bundle

    paths = KitPaths(Path(home))
    install_bundle(paths, open_bundle(bundle, code))
    config = KitConfig.load(paths)
    for key, value in {"ack_grace_hours": "0", "kdf_memory_kib": "8192",
                       "kdf_iterations": "1"}.items():
        config = config.with_setting(key, value)
    config.save(paths)
    # The shipped settings, but the system's congestion control (loopback; BBR may be
    # unavailable to this process).
    (Path(home) / "sync.json").write_text(json.dumps({"tcp_congestion": "", **sync}))
    rng = random.Random(seed)
    made = []
    with Kit(Path(home), kdf=KdfParams(memory_kib=8192, iterations=1)) as kit:
        kit.conn.execute("PRAGMA synchronous=OFF")  # setup speed; not what is measured
        for i in range(packets):
            files = _files(size, rng)
            manifest = _manifest(kit.device_id, files, f"3275014101{seed % 10000:04d}{i:02d}"[:16])
            packet = seal(manifest, files, hq_key=kit.hq_sealing_key(),
                          device_key=kit.device_key(), created_at=datetime.now(UTC))
            kit.outbox.add(packet)
            made.append((packet.packet_id, packet.sha256, len(packet.data)))
    return made


@dataclass
class Fleet:
    homes: dict[str, Path]
    packets: dict[str, tuple[str, str, int]]  # packet id -> (device id, sha256, size)

    @property
    def bytes(self) -> int:
        return sum(p[2] for p in self.packets.values())


def build_fleet(hq_home: Any, engine: Any, root: Path, kits: int, packets: int, size: int,
                broker_url: str, sync: dict[str, Any]) -> Fleet:
    from hq.devices import add_device

    keys = hq_home.keys()
    homes: dict[str, Path] = {}
    jobs = []
    started = time.monotonic()
    for i in range(kits):
        device_id = f"kit-{i:04d}"
        bundle, code = add_device(engine, keys, device_id, [KELURAHAN], broker_url)
        homes[device_id] = root / device_id
        jobs.append((str(homes[device_id]), bundle, code, packets, size, i, sync))
    found: dict[str, tuple[str, str, int]] = {}
    with ProcessPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        futures = [pool.submit(provision_kit, *job) for job in jobs]
        for n, (future, job) in enumerate(zip(futures, jobs, strict=True), 1):
            device_id = Path(job[0]).name
            for packet_id, sha256, length in future.result():
                found[packet_id] = (device_id, sha256, length)
            if n % 50 == 0 or n == kits:
                say(f"provisioned {n}/{kits} kits, {len(found)} packets sealed "
                    f"({time.monotonic() - started:.0f} s)")
    return Fleet(homes, found)


# --- faults and their recovery ---------------------------------------------------------------


@dataclass
class FaultRecord:
    name: str
    at_share: float
    injected: float = 0.0  # seconds since the fleet started
    back: float = 0.0  # when the failed part was back
    recovered: float | None = None  # when every packet sent before it was acked
    outstanding: int = 0  # packets sent and unacked when the part came back
    first_ack: float | None = None  # seconds from the part back to the fleet's next ack
    cut: int = 0  # kits whose link was cut (the links fault)

    @property
    def recovery(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.back

    @property
    def away(self) -> float:
        return self.back - self.injected


@dataclass
class Results:
    kits: int
    packets: int
    bytes: int
    db: str
    workers: int
    sent: int = 0
    sends: int = 0
    resent: int = 0
    stored: int = 0
    stored_twice: int = 0
    lost: int = 0
    wrong_hash: int = 0
    delivered_again: int = 0
    dead_letters: int = 0
    drain_seconds: float | None = None
    faults: list[FaultRecord] = field(default_factory=list)
    broker_peak_mb: float = 0.0
    ingest_peak_mb: float = 0.0
    postgres_peak_mb: float = 0.0
    simulator_peak_mb: float = 0.0
    setup_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = [{**asdict(f), "recovery": f.recovery, "away": f.away}
                          for f in self.faults]
        return data


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
                await asyncio.sleep(0.25)
                self.sample_memory()
                acked = len(self.acked)
                for record, watch in list(watching):
                    if watch <= self.acked:
                        record.recovered = self.now()
                        say(f"recovered from {record.name} in {record.recovery:.1f} s")
                        watching.remove((record, watch))
                pending = [f for f in plan if not f.injected]
                spaced = all(self.now() - f.back >= self.args.spacing
                             for f in plan if f.injected)
                if pending and spaced and acked >= pending[0].at_share * total:
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


def _tree_rss_kb(pid: int) -> int:
    """RSS of a process and its children (PostgreSQL's backends)."""
    if not pid:
        return 0
    total = rss_kb(pid)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += rss_kb(int(child))
    return total


def _lock_sqlite(db_url: str, seconds: float) -> None:
    import sqlite3

    from sqlalchemy.engine import make_url

    conn = sqlite3.connect(str(make_url(db_url).database), isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def report(results: Results) -> str:
    out = io.StringIO()
    p = print
    p(f"fleet: {results.kits} kits, {results.packets} packets, {results.bytes / 1e9:.2f} GB, "
      f"{results.workers} ingest worker(s), {results.db}", file=out)
    p(f"  packets sent            {results.packets} (sends {results.sends}, of which "
      f"re-sends {results.resent})", file=out)
    p(f"  stored                  {results.stored}", file=out)
    p(f"  stored twice            {results.stored_twice}   (must be 0)", file=out)
    p(f"  lost                    {results.lost}   (must be 0)", file=out)
    p(f"  stored with wrong hash  {results.wrong_hash}", file=out)
    p(f"  delivered again         {results.delivered_again} (kept once, acked duplicate)",
      file=out)
    p(f"  dead letters            {results.dead_letters}", file=out)
    drain = "not drained" if results.drain_seconds is None else f"{results.drain_seconds:.1f} s"
    rate = ("" if not results.drain_seconds else
            f" ({results.packets / results.drain_seconds:.0f} packets/s, "
            f"{results.bytes / 1e6 / results.drain_seconds:.0f} MB/s)")
    p(f"  drain of the backlog    {drain}{rate}", file=out)
    for f in results.faults:
        rec = "NOT RECOVERED" if f.recovery is None else f"{f.recovery:.1f} s"
        if not f.injected:
            rec = "not injected"
        first = "-" if f.first_ack is None else f"{f.first_ack:.1f} s"
        p(f"  fault at {f.injected:6.1f} s  {f.name:<48} away {f.away:4.1f} s, next ack "
          f"{first}, {f.outstanding:5d} unacked, all acked {rec}", file=out)
    recoveries = [f.recovery for f in results.faults if f.injected]
    met = (results.lost == 0 and results.stored_twice == 0 and results.wrong_hash == 0
           and results.drain_seconds is not None
           and all(r is not None and r < GOAL_RECOVERY for r in recoveries))
    p(f"  goal (0 lost, 0 stored twice, drained, every recovery under {GOAL_RECOVERY:.0f} s): "
      + ("met" if met else "NOT MET"), file=out)
    p(f"  peak memory             broker {results.broker_peak_mb:.0f} MB, ingest worker "
      f"{results.ingest_peak_mb:.0f} MB" + (f", PostgreSQL {results.postgres_peak_mb:.0f} MB"
                                           if results.postgres_peak_mb else "")
      + f", simulator (all kits) {results.simulator_peak_mb:.0f} MB", file=out)
    return out.getvalue()


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--kits", type=int, default=500)
    parser.add_argument("--packets", type=int, default=20, help="per kit")
    parser.add_argument("--size", type=int, default=170_000, help="bytes of files per packet")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--window", type=int, default=0,
                        help="packets each kit has awaiting HQ's ack (default: the kit's)")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--spacing", type=float, default=8.0,
                        help="seconds from one fault's part coming back to the next fault")
    parser.add_argument("--baseline", action="store_true",
                        help="first the same fleet without faults (a fresh HQ, broker and "
                             "kits): the faults' cost is the difference in drain time")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="give up draining after this many seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (logs)")
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
    figures["run"] = results.to_json()
    if baseline is not None and baseline.drain_seconds and results.drain_seconds:
        cost = results.drain_seconds - baseline.drain_seconds
        print(f"  every fault together cost the fleet {cost:.1f} s: drained in "
              f"{results.drain_seconds:.1f} s against {baseline.drain_seconds:.1f} s without "
              f"faults (ratio {results.drain_seconds / baseline.drain_seconds:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
