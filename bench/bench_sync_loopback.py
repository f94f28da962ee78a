"""Sync pipeline goodput on loopback, against raw aiomqtt QoS 1 publishing in the same run.

    outbox → chunk frames → Mosquitto (TLS 1.3, mTLS, ACL) → rekam-hq ingest → DB → signed ack
           → outbox acked → purged

against the same bytes published raw (one message per packet, 20 in flight, QoS 1) to the
same broker, first with no subscriber and then to a subscriber that receives them all. Then
HQ ingest with one and with two processes on the shared subscription, and the sync daemon's
peak RSS draining a queue of 10,000 packets (``--rss-packets``).

Prints figures and ratios; asserts nothing (timings vary by machine).

    .venv/bin/python bench/bench_sync_loopback.py [--packets 300] [--size 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
KELURAHAN = "32.75.01.1001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        bundle, code = add_device(self.engine, self.hq.keys(), "kit-bench-01", [KELURAHAN],
                                  self.url)
        self.kit_home = root / "kit"
        paths = KitPaths(self.kit_home)
        install_bundle(paths, open_bundle(bundle, code))
        KitConfig.load(paths).with_setting("ack_grace_hours", "0").save(paths)

    def kit(self):  # type: ignore[no-untyped-def]
        from edge.kit import Kit

        return Kit(self.kit_home)

    def seal(self, n: int, size: int) -> int:
        import uuid6

        from edge.packet import Manifest, seal

        total = 0
        with self.kit() as kit:
            hq_key, dev_key = kit.hq_sealing_key(), kit.device_key()
            from datetime import UTC, datetime

            for _ in range(n):
                now = datetime.now(UTC)
                m = Manifest(packet_id=str(uuid6.uuid7()), nik="3275014101050001",
                             device_id=kit.device_id, operator_id="bench", service_point="b",
                             started_at=now.isoformat(), sealed_at=now.isoformat(),
                             software_version="bench")
                p = seal(m, {"face.jpg": os.urandom(size)}, hq_key=hq_key, device_key=dev_key,
                         created_at=now)
                kit.outbox.add(p)
                total += p.size
        return total

    def start_ingest(self, workers: int) -> list[subprocess.Popen[bytes]]:
        procs = []
        for i in range(workers):
            log = (self.root / f"ingest-{i}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "hq.cli", "ingest", "--home", str(self.hq.root),
                 "--broker", self.url, "--json"], stdout=subprocess.PIPE, stderr=log))
        for i in range(workers):
            deadline = time.monotonic() + 20
            while b"subscribed" not in (self.root / f"ingest-{i}.log").read_bytes():
                if time.monotonic() > deadline:
                    raise SystemExit("ingest did not start")
                time.sleep(0.05)
        return procs

    @staticmethod
    def stop_ingest(procs: list[subprocess.Popen[bytes]]) -> list[dict[str, int]]:
        counts = []
        for p in procs:
            p.terminate()
            out, _ = p.communicate(timeout=30)
            counts.append(json.loads(out.decode() or "{}"))
        return counts

    def close(self) -> None:
        self.broker.terminate()
        self.broker.wait(timeout=10)
        self.engine.dispose()


async def raw_publish(rig: Rig, payloads: list[bytes], *, subscriber: bool,
                      inflight: int = 20) -> float:
    """Seconds to publish every payload QoS 1, ``inflight`` at a time (and, with a
    subscriber, until it has received them all)."""
    from hq.ingest import ingest_options
    from sync.mqtt import connect
    from sync.uplink import Uplink

    with rig.kit() as kit:
        kit_opts = Uplink(kit, _settings(rig)).connect_options()
    sub_opts = ingest_options(rig.hq, rig.url, client_id="bench-raw-sub")
    received = 0
    done = asyncio.Event()

    async def consume(link) -> None:  # type: ignore[no-untyped-def]
        nonlocal received
        async for _ in link.messages():
            received += 1
            if received == len(payloads):
                done.set()
                return

    async with connect(kit_opts) as pub, connect(sub_opts) as sub:
        if subscriber:
            await sub.subscribe("rekam/v1/+/up/packet")
            consumer = asyncio.create_task(consume(sub))
        slots = asyncio.Semaphore(inflight)

        async def one(payload: bytes) -> None:
            try:
                await pub.publish("rekam/v1/kit-bench-01/up/packet", payload)
            finally:
                slots.release()

        started = time.perf_counter()
        tasks = []
        for payload in payloads:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(payload)))
        await asyncio.gather(*tasks)
        if subscriber:
            await asyncio.wait_for(done.wait(), timeout=120)
            consumer.cancel()
        return time.perf_counter() - started


def _settings(rig: Rig, **kw):  # type: ignore[no-untyped-def]
    from sync.settings import SyncSettings

    return SyncSettings.load(rig.kit_home, **{"tcp_congestion": "", "poll": 0.05,
                                              "once_timeout": 600.0, **kw})


def pipeline(rig: Rig, workers: int, **settings) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
    from sync.uplink import Uplink

    procs = rig.start_ingest(workers)
    try:
        with rig.kit() as kit:
            uplink = Uplink(kit, _settings(rig, **settings))
            started = time.perf_counter()
            stats = asyncio.run(uplink.run(asyncio.Event(), once=True))
            elapsed = time.perf_counter() - started
            left = kit.outbox.counts()
    finally:
        counts = rig.stop_ingest(procs)
    if left["sealed"] or left["sent"]:
        raise SystemExit(f"pipeline did not finish: {left}")
    return elapsed, {"stats": stats.to_dict(), "ingest": counts}


def reset_outbox(rig: Rig) -> None:
    """Make the stored packets pending again (and HQ forget them) for another run."""
    from sqlalchemy import delete

    from hq.db import packets

    with rig.kit() as kit:
        kit.conn.execute("DELETE FROM outbox")
    with rig.engine.begin() as conn:
        conn.execute(delete(packets))


def rss_run(rig: Rig, n: int) -> dict[str, float]:
    """The daemon as its own process draining n queued packets: peak RSS (ru_maxrss)."""
    import resource

    reset_outbox(rig)
    rig.seal(n, 2_000)
    procs = rig.start_ingest(1)
    try:
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = subprocess.run([sys.executable, "-m", "sync.cli", "--home", str(rig.kit_home),
                              "--once", "--json", "--tcp-congestion", "", "--poll", "0.05",
                              "--once-timeout", "900"],
                             capture_output=True, check=False)
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    finally:
        rig.stop_ingest(procs)
    summary = json.loads(out.stdout or b"{}")
    del before, peak  # children's maxima would include the ingest processes
    return {"packets": n, "seconds": elapsed, "peak_rss_mb": summary.get("max_rss_mb", -1),
            "unacknowledged": summary.get("unacknowledged", -1)}


def _ingest_only(rig: Rig, frames: list[tuple[str, bytes]]) -> float:
    """Seconds for HQ's handler alone to store every packet from its 64 KiB chunk frames."""
    from hq.ingest import Ingestor
    from sync.mqtt import Incoming
    from sync.protocol import Channel, split_packet, topic

    reset_outbox(rig)
    name = topic("kit-bench-01", Channel.PACKET)
    messages = [Incoming(name, c.encode(), False) for pid, data in frames
                for c in split_packet(pid, data)]
    ingestor = Ingestor(rig.engine, rig.hq.keys())
    started = time.perf_counter()
    for i in range(0, len(messages), 64):
        ingestor.handle_batch(messages[i : i + 64])
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=300)
    ap.add_argument("--size", type=int, default=200_000, help="image bytes per packet")
    ap.add_argument("--db", default=None, help="HQ database URL (default: SQLite)")
    ap.add_argument("--rss-packets", type=int, default=10_000)
    args = ap.parse_args()
    if not os.path.exists(MOSQUITTO):
        print("mosquitto is not installed (apt-get install mosquitto); skipped")
        return
    with tempfile.TemporaryDirectory(prefix="rekam-bench-sync-") as tmp:
        rig = Rig(Path(tmp), args.db)
        try:
            total = rig.seal(args.packets, args.size)
            with rig.kit() as kit:
                payloads = [kit.outbox.data(e.packet_id) for e in kit.outbox.entries()]
            mb = total / 1e6
            print(f"{args.packets} sealed packets, {mb:.1f} MB ({total / args.packets / 1024:.0f}"
                  f" KB each), database {rig.hq.database_url().split(':')[0]}")
            raw = asyncio.run(raw_publish(rig, payloads, subscriber=False))
            raw_sub = asyncio.run(raw_publish(rig, payloads, subscriber=True))
            print(f"raw aiomqtt QoS 1, 20 in flight, no subscriber: {mb / raw:7.1f} MB/s "
                  f"{args.packets / raw:7.0f} packets/s")
            print(f"raw aiomqtt QoS 1, 20 in flight, to a subscriber: {mb / raw_sub:6.1f} MB/s "
                  f"{args.packets / raw_sub:7.0f} packets/s")
            for workers, chunk in ((1, 64 * 1024), (2, 64 * 1024), (1, 256 * 1024)):
                reset_outbox(rig)
                rig.seal(args.packets, args.size)
                elapsed, detail = pipeline(rig, workers, chunk_size=chunk)
                per = [c.get("stored", 0) for c in detail["ingest"]]
                print(f"pipeline, {chunk // 1024} KiB chunks, {workers} ingest process(es): "
                      f"{mb / elapsed:6.1f} MB/s {args.packets / elapsed:6.0f} packets/s = "
                      f"{mb / elapsed / (mb / raw):.0%} of raw publishing, "
                      f"{mb / elapsed / (mb / raw_sub):.0%} of raw pub→sub "
                      f"(stored per ingest process {per})")
            reset_outbox(rig)
            rig.seal(args.packets, args.size)
            started = time.perf_counter()
            with rig.kit() as kit:
                frames = [(e.packet_id, kit.outbox.data(e.packet_id))
                          for e in kit.outbox.entries()]
            ingestor_only = _ingest_only(rig, frames)
            print(f"ingest alone (in-process handler, batches of 64 messages): "
                  f"{args.packets / ingestor_only:6.0f} packets/s "
                  f"({time.perf_counter() - started:.1f} s with set-up)")
            if args.rss_packets:
                r = rss_run(rig, args.rss_packets)
                print(f"sync daemon draining {r['packets']} queued packets: "
                      f"{r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
                      f"{r['unacknowledged']} left unacknowledged")
        finally:
            rig.close()


if __name__ == "__main__":
    main()
