"""Sync pipeline goodput on loopback, against raw aiomqtt QoS 1 publishing in the same run.

    outbox → chunk frames → Mosquitto (TLS 1.3, mTLS, ACL) → rekam-hq ingest → DB → signed ack
           → outbox acked → purged

The baselines, measured in every round just before the pipeline runs (the machine is shared,
so only same-round ratios mean anything): the same packet bytes published raw by the same
client code (the kit's TLS identity and connect options, QoS 1, the kit's in-flight limit)
to the same broker,

- with no subscriber (the broker drops them: the publisher's and broker's ceiling), and
- to one and to two subscriber *processes* on HQ's shared subscription (what ingest
  competes with: the broker delivering every byte again, a receiving process on the
  same 2 vCPUs), each as whole packets and as messages of the pipeline's chunk size.

Then the pipeline with one and two ingest processes and each chunk size, the CPU seconds
per packet of the kit, each ingest process and the broker, HQ's handler alone (no MQTT),
and the sync daemon's peak RSS draining a queue of 10,000 packets (``--rss-packets``).
Medians of ``--rounds``. Prints figures and ratios; asserts nothing.

    .venv/bin/python bench/bench_sync_loopback.py [--packets 300] [--size 200000]
        [--db sqlite|postgres|URL] [--rounds 3] [--chunks 64,256] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
KELURAHAN = "32.75.01.1001"
DEVICE = "kit-bench-01"
PG_ADMIN = os.environ.get("REKAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"rekam_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://",
                                                 1) + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Rig:
    """HQ, a broker and one kit in a temporary directory."""

    def __init__(self, root: Path, db_url: str | None) -> None:
        from edge.config import KitConfig, KitPaths
        from edge.kit import install_bundle
        from edge.provisioning import open_bundle
        from hq.broker import write_broker_config
        from hq.db import make_engine
        from hq.devices import add_device
        from hq.home import HqHome

        self.root = root
        if db_url:
            os.environ["REKAM_HQ_DATABASE_URL"] = db_url
        self.hq = HqHome(root / "hq")
        self.hq.init()
        self.engine = make_engine(self.hq.database_url())
        self.port = free_port()
        self.url = f"mqtts://localhost:{self.port}"
        write_broker_config(self.hq, root / "broker", port=self.port, bind="127.0.0.1")
        self.broker = subprocess.Popen([MOSQUITTO, "-c", str(root / "broker/mosquitto.conf")],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        bundle, code = add_device(self.engine, self.hq.keys(), DEVICE, [KELURAHAN], self.url)
        self.kit_home = root / "kit"
        paths = KitPaths(self.kit_home)
        install_bundle(paths, open_bundle(bundle, code))
        KitConfig.load(paths).with_setting("ack_grace_hours", "0").save(paths)

    def kit(self):  # type: ignore[no-untyped-def]
        from edge.kit import Kit

        return Kit(self.kit_home)

    def seal(self, n: int, size: int) -> int:
        from datetime import UTC, datetime

        import uuid6

        from edge.packet import Manifest, seal

        total = 0
        with self.kit() as kit:
            hq_key, dev_key = kit.hq_sealing_key(), kit.device_key()
            for _ in range(n):
                now = datetime.now(UTC)
                m = Manifest(packet_id=str(uuid6.uuid7()), nik="3275014101050001",
                             kelurahan="32.75.01.1001",
                             device_id=kit.device_id, operator_id="bench", service_point="b",
                             started_at=now.isoformat(), sealed_at=now.isoformat(),
                             software_version="bench")
                p = seal(m, {"face.jpg": os.urandom(size)}, hq_key=hq_key, device_key=dev_key,
                         created_at=now)
                kit.outbox.add(p)
                total += p.size
        return total

    def _wait_logs(self, names: list[str], needle: bytes) -> None:
        for name in names:
            deadline = time.monotonic() + 30
            while needle not in (self.root / name).read_bytes():
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name}: did not start")
                time.sleep(0.02)

    def start_ingest(self, workers: int) -> list[subprocess.Popen[bytes]]:
        procs = []
        for i in range(workers):
            log = (self.root / f"ingest-{i}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "hq.cli", "ingest", "--home", str(self.hq.root),
                 "--broker", self.url, "--json", "--no-vault"], stdout=subprocess.PIPE, stderr=log))
        self._wait_logs([f"ingest-{i}.log" for i in range(workers)], b"subscribed")
        return procs

    @staticmethod
    def stop_ingest(procs: list[subprocess.Popen[bytes]]) -> list[dict[str, int]]:
        counts = []
        for p in procs:
            p.terminate()
            out, _ = p.communicate(timeout=60)
            counts.append(json.loads(out.decode() or "{}"))
        return counts

    def start_subscribers(self, n: int) -> list[subprocess.Popen[bytes]]:
        procs = []
        for i in range(n):
            log = (self.root / f"sub-{i}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--raw-subscriber", str(self.hq.root), self.url,
                 f"bench-raw-sub-{i}"], stdout=subprocess.PIPE, stderr=log))
        self._wait_logs([f"sub-{i}.log" for i in range(n)], b"subscribed")
        return procs

    def reset(self) -> None:
        """Forget every packet on both ends (for another round)."""
        from sqlalchemy import delete

        from hq.db import packet_chunks, packets

        with self.kit() as kit:
            tables = {r[0] for r in kit.conn.execute("SELECT name FROM sqlite_master")}
            for table in ("outbox_data", "outbox"):  # outbox_data: a later schema
                if table in tables:
                    kit.conn.execute(f"DELETE FROM {table}")
        with self.engine.begin() as conn:
            conn.execute(delete(packets))
            conn.execute(delete(packet_chunks))

    def close(self) -> None:
        self.broker.terminate()
        self.broker.wait(timeout=10)
        self.engine.dispose()


# --- raw publishing -----------------------------------------------------------------------


async def _raw_subscriber(hq_root: str, url: str, client_id: str) -> None:
    """A subscriber process on HQ's shared subscription that only counts: prints the count
    and the wall-clock time of the last message once nothing came for a second."""
    from hq.home import HqHome
    from hq.ingest_worker import ingest_options
    from sync.mqtt import connect
    from sync.protocol.topics import INGEST_SUBSCRIPTION

    options = ingest_options(HqHome(Path(hq_root)), url, client_id=client_id)
    count, last, size = 0, 0.0, 0
    async with connect(options) as link:
        await link.subscribe(INGEST_SUBSCRIPTION)
        print("subscribed", file=sys.stderr, flush=True)
        cpu0 = cpu_self()
        messages = link.messages().__aiter__()
        while True:
            try:
                message = await asyncio.wait_for(messages.__anext__(),
                                                 timeout=1.0 if count else 120)
            except TimeoutError:
                break
            count, last, size = count + 1, time.time(), size + len(message.payload)
    print(json.dumps({"count": count, "last": last, "bytes": size, "cpu": cpu_self() - cpu0}),
          flush=True)


async def raw_publish(rig: Rig, messages: list[bytes], inflight: int) -> float:
    """Wall-clock start; every message published QoS 1, ``inflight`` at a time, by the
    kit's own connect options (its TLS identity, TCP_NODELAY)."""
    from sync.mqtt import connect
    from sync.protocol.topics import Channel, topic
    from sync.uplink import Uplink

    with rig.kit() as kit:
        options = Uplink(kit, _settings(rig)).connect_options()
    name = topic(DEVICE, Channel.PACKET)
    async with connect(options) as pub:
        slots = asyncio.Semaphore(inflight)

        async def one(payload: bytes) -> None:
            try:
                await pub.publish(name, payload)
            finally:
                slots.release()

        started = time.time()
        tasks = []
        for payload in messages:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(payload)))
        await asyncio.gather(*tasks)
        return started


def raw_run(rig: Rig, messages: list[bytes], subscribers: int, inflight: int
            ) -> tuple[float, dict[str, float]]:
    """Seconds until every message was published (no subscriber) or received by the
    subscriber processes; CPU seconds of each party."""
    subs = rig.start_subscribers(subscribers)
    broker0, self0 = cpu_of(rig.broker.pid), cpu_self()
    ended = 0.0
    try:
        started = asyncio.run(raw_publish(rig, messages, inflight))
        ended = time.time()
        cpu = {"publisher": cpu_self() - self0}
        got = 0
        for i, p in enumerate(subs):
            out, _ = p.communicate(timeout=180)
            result = json.loads(out)
            got += result["count"]
            ended = max(ended, result["last"])
            cpu[f"subscriber{i}"] = result["cpu"]
        cpu["broker"] = cpu_of(rig.broker.pid) - broker0
    finally:
        for p in subs:
            if p.poll() is None:
                p.kill()
    if subscribers and got != len(messages):
        print(f"  (raw: subscribers got {got} of {len(messages)} messages)")
    return ended - started, cpu


# --- the pipeline -------------------------------------------------------------------------


def _settings(rig: Rig, **kw):  # type: ignore[no-untyped-def]
    from sync.settings import SyncSettings

    return SyncSettings.load(rig.kit_home, **{"tcp_congestion": "", "poll": 0.05,
                                              "once_timeout": 600.0, **kw})


def pipeline(rig: Rig, workers: int, **settings) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
    from sync.uplink import Uplink

    procs = rig.start_ingest(workers)
    try:
        broker0, self0 = cpu_of(rig.broker.pid), cpu_self()
        ingest0 = [cpu_of(p.pid) for p in procs]
        with rig.kit() as kit:
            uplink = Uplink(kit, _settings(rig, **settings))
            started = time.perf_counter()
            stats = asyncio.run(uplink.run(asyncio.Event(), once=True))
            elapsed = time.perf_counter() - started
            left = kit.outbox.counts()
        cpu = {"kit": cpu_self() - self0, "broker": cpu_of(rig.broker.pid) - broker0}
        for i, p in enumerate(procs):
            cpu[f"ingest{i}"] = cpu_of(p.pid) - ingest0[i]
    finally:
        counts = rig.stop_ingest(procs)
    if left["sealed"] or left["sent"] or left["acked"]:
        raise SystemExit(f"pipeline did not finish: {left}")
    return elapsed, {"stats": stats.to_dict(), "ingest": counts, "cpu": cpu}


def _ingest_only(rig: Rig, chunk_size: int, batch: int = 64) -> float:
    """Seconds for HQ's handler alone to store every queued packet from its chunk frames,
    ``batch`` messages per call (no MQTT, no acks sent)."""
    from hq.ingest import Ingestor
    from sync.mqtt import Incoming
    from sync.protocol.chunks import split_packet
    from sync.protocol.topics import Channel, topic

    with rig.kit() as kit:
        frames = [(e.packet_id, kit.outbox.data(e.packet_id)) for e in kit.outbox.entries()]
    name = topic(DEVICE, Channel.PACKET)
    messages = [Incoming(name, c.encode(), False) for pid, data in frames
                for c in split_packet(pid, data, chunk_size=chunk_size)]
    ingestor = Ingestor(rig.engine, rig.hq.keys())
    started = time.perf_counter()
    for i in range(0, len(messages), batch):
        ingestor.handle_batch(messages[i : i + batch])
    elapsed = time.perf_counter() - started
    if ingestor.counts["stored"] != len(frames):
        raise SystemExit(f"ingest alone stored {ingestor.counts['stored']} of {len(frames)}")
    return elapsed


def rss_run(rig: Rig, n: int, size: int) -> dict[str, float]:
    """The daemon (``rekam sync --once`` as its own process) draining n queued packets:
    its peak RSS (VmHWM, reported by the command itself)."""
    rig.reset()
    started = time.perf_counter()
    rig.seal(n, size)
    sealed = time.perf_counter() - started
    procs = rig.start_ingest(1)
    try:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "sync.cli", "--home", str(rig.kit_home),
                              "--once", "--json", "--tcp-congestion", "", "--poll", "0.05",
                              "--once-timeout", "900"], capture_output=True, check=False)
        elapsed = time.perf_counter() - started
    finally:
        rig.stop_ingest(procs)
    text = out.stdout.decode()
    summary = json.loads(text[text.find("{"):] or "{}")
    return {"packets": n, "seal_s": sealed, "seconds": elapsed,
            "peak_rss_mb": summary.get("max_rss_mb", -1),
            "unacknowledged": summary.get("unacknowledged", -1),
            "sent_again": summary.get("packets_resent", -1)}


# --- report ------------------------------------------------------------------------------


@dataclass
class Series:
    seconds: list[float] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.seconds)

    def cpu_ms(self, packets: int) -> str:
        keys = self.cpu[0].keys()
        return ", ".join(f"{k} {statistics.median(c[k] for c in self.cpu) / packets * 1e3:.1f}"
                         for k in keys)


def _chunks(payloads: list[bytes], size: int) -> list[bytes]:
    return [p[i : i + size] for p in payloads for i in range(0, len(p), size)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=300)
    ap.add_argument("--size", type=int, default=200_000, help="image bytes per packet")
    ap.add_argument("--db", default="sqlite",
                    help="sqlite (default), postgres (a fresh database at REKAM_TEST_PG), or "
                         "an SQLAlchemy URL")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunks", default="64,256", help="chunk sizes in KiB")
    ap.add_argument("--workers", default="1,2", help="ingest process counts")
    ap.add_argument("--rss-packets", type=int, default=10_000)
    ap.add_argument("--rss-size", type=int, default=2_000)
    ap.add_argument("--raw-subscriber", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.raw_subscriber:
        asyncio.run(_raw_subscriber(*args.raw_subscriber))
        return
    if not os.path.exists(MOSQUITTO):
        print("mosquitto is not installed (apt-get install mosquitto); skipped")
        return
    with contextlib_db(args.db) as db_url, tempfile.TemporaryDirectory(
            prefix="rekam-bench-sync-") as tmp:
        rig = Rig(Path(tmp), db_url)
        try:
            _bench(rig, args)
        finally:
            rig.close()


@contextmanager
def contextlib_db(choice: str) -> Iterator[str | None]:
    if choice == "sqlite":
        yield None
    elif choice == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield choice


def _bench(rig: Rig, args: argparse.Namespace) -> None:
    n = args.packets
    chunk_sizes = [int(c) * 1024 for c in args.chunks.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    inflight = _settings(rig).max_inflight
    raws: dict[str, Series] = {}
    pipes: dict[tuple[int, int], Series] = {}
    total = 0
    for rnd in range(args.rounds):
        for workers in worker_counts:
            for chunk in chunk_sizes:
                rig.reset()
                total = rig.seal(n, args.size)
                with rig.kit() as kit:
                    payloads = [kit.outbox.data(e.packet_id) for e in kit.outbox.entries()]
                # the same round's baselines, just before (the machine is shared)
                for subs in sorted({0, workers}):
                    for label, messages in (("whole packets", payloads),
                                            (f"{chunk // 1024} KiB messages",
                                             _chunks(payloads, chunk))):
                        if len(messages) == len(payloads) and not label.startswith("whole"):
                            continue  # packets fit one chunk: the same as whole packets
                        key = (f"{subs} subscriber process(es), {label}" if subs else
                               f"no subscriber, {label}")
                        seconds, cpu = raw_run(rig, messages, subs, inflight)
                        raws.setdefault(key, Series()).seconds.append(seconds)
                        raws[key].cpu.append(cpu)
                elapsed, detail = pipeline(rig, workers, chunk_size=chunk)
                series = pipes.setdefault((workers, chunk), Series())
                series.seconds.append(elapsed)
                series.cpu.append(detail["cpu"])
                per = [c.get("stored", 0) for c in detail["ingest"]]
                tabled = sum(c.get("chunk", 0) for c in detail["ingest"])
                print(f"  round {rnd + 1}: {workers} ingest, {chunk // 1024} KiB: "
                      f"{n / elapsed:.0f} packets/s (stored per process {per}; packets "
                      f"through the chunk table {tabled}; sent again "
                      f"{detail['stats']['packets_resent']})", flush=True)
    mb = total / 1e6
    print(f"\n{n} sealed packets, {mb:.1f} MB ({total / n / 1024:.0f} KB each), database "
          f"{rig.hq.database_url().split(':')[0]}, {os.cpu_count()} CPUs; medians of "
          f"{args.rounds} rounds; CPU in ms per packet (a PostgreSQL server's own is not "
          f"counted)")
    base = raws["no subscriber, whole packets"].median()
    base_sub = raws["1 subscriber process(es), whole packets"].median()
    for key, s in raws.items():
        print(f"raw QoS 1, {inflight} in flight, {key}: {mb / s.median():6.1f} MB/s "
              f"{n / s.median():5.0f} packets/s  [cpu {s.cpu_ms(n)}]")
    for (workers, chunk), s in pipes.items():
        t = s.median()
        print(f"pipeline, {chunk // 1024} KiB chunks, {workers} ingest process(es): "
              f"{mb / t:6.1f} MB/s {n / t:5.0f} packets/s = {base / t:4.0%} of raw "
              f"publishing, {base_sub / t:4.0%} of raw to a subscriber  [cpu {s.cpu_ms(n)}]")
    for chunk in chunk_sizes:
        rig.reset()
        rig.seal(n, args.size)
        alone = _ingest_only(rig, chunk)
        print(f"ingest alone (in-process handler, {chunk // 1024} KiB chunks, batches of 64 "
              f"messages): {n / alone:6.0f} packets/s")
    if args.rss_packets:
        r = rss_run(rig, args.rss_packets, args.rss_size)
        print(f"sync daemon draining {r['packets']} queued packets of ~{args.rss_size} B: "
              f"{r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.1f} MB, "
              f"{r['unacknowledged']} left unacknowledged, {r['sent_again']} sent again")


if __name__ == "__main__":
    main()
