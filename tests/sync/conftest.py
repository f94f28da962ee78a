"""Fixtures for the MQTT link: a real Mosquitto started from ``rekam-hq broker-config``'s
output on a free loopback port (stopped by its pid), HQ with SQLite or a fresh PostgreSQL
database, and kits provisioned through the real bundle path."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
KELURAHAN = "32.75.01.1001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    dir: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtts://localhost:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port")

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


@pytest.fixture
def broker(tmp_path: Path, hq_home):  # type: ignore[no-untyped-def]
    if not os.path.exists(MOSQUITTO):
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    from hq.broker import write_broker_config

    port = free_port()
    out = tmp_path / "broker"
    write_broker_config(hq_home, out, port=port, bind="127.0.0.1")
    b = Broker(out, port, tmp_path / "mosquitto.log")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def broker_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A function starting a broker for a given HQ home (for tests with their own HQ)."""
    started: list[Broker] = []

    def start(hq_home) -> Broker:  # type: ignore[no-untyped-def]
        if not os.path.exists(MOSQUITTO):
            pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
        from hq.broker import write_broker_config

        port = free_port()
        out = tmp_path / f"broker-{len(started)}"
        write_broker_config(hq_home, out, port=port, bind="127.0.0.1")
        b = Broker(out, port, tmp_path / f"mosquitto-{len(started)}.log")
        b.start()
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


# --- databases ------------------------------------------------------------------------------


@pytest.fixture
def hq_home(tmp_path: Path, db_url: str, monkeypatch):  # type: ignore[no-untyped-def]
    from hq.home import HqHome

    monkeypatch.setenv("REKAM_HQ_DATABASE_URL", db_url)
    home = HqHome(tmp_path / "hq")
    home.init()
    return home


# --- kits -------------------------------------------------------------------------------


FAST = {
    "ack_timeout": 3.0, "publish_timeout": 3.0, "connect_timeout": 3.0, "keepalive": 5,
    "heartbeat": 1.0, "poll": 0.2, "backoff_initial": 0.2, "backoff_max": 1.0,
    "once_timeout": 30.0, "purge_every": 0.5, "tcp_congestion": "",
}


@dataclass
class SyncWorld:
    tmp: Path
    hq: object  # HqHome
    engine: object  # sqlalchemy Engine
    broker: Broker
    kit_homes: dict[str, Path] = field(default_factory=dict)

    @property
    def keys(self):  # type: ignore[no-untyped-def]
        return self.hq.keys()  # type: ignore[attr-defined]

    def add_kit(self, device_id: str, **settings: str) -> Path:
        from edge.config import KitConfig, KitPaths
        from edge.kit import install_bundle
        from edge.provisioning import open_bundle
        from hq.devices import add_device

        bundle, code = add_device(self.engine, self.keys, device_id, [KELURAHAN],  # type: ignore[arg-type]
                                  self.broker.url)
        home = self.tmp / device_id
        paths = KitPaths(home)
        install_bundle(paths, open_bundle(bundle, code))
        config = KitConfig.load(paths)
        for key, value in {"ack_grace_hours": "0", "kdf_memory_kib": "8192",
                           "kdf_iterations": "1", **settings}.items():
            config = config.with_setting(key, value)
        config.save(paths)
        (home / "sync.json").write_text(__import__("json").dumps(FAST))
        self.kit_homes[device_id] = home
        return home

    def kit(self, device_id: str):  # type: ignore[no-untyped-def]
        from edge.kit import Kit
        from edge.operators import KdfParams

        return Kit(self.kit_homes[device_id], kdf=KdfParams(memory_kib=8192, iterations=1))

    def settings(self, device_id: str, **overrides: object):  # type: ignore[no-untyped-def]
        from sync.settings import SyncSettings

        return SyncSettings.load(self.kit_homes[device_id], **overrides)

    def seal(self, kit, n: int, size: int = 20_000) -> list:  # type: ignore[no-untyped-def]
        """n sealed packets of about ``size`` bytes in the kit's outbox (no devices needed)."""
        return [_seal_into(kit, size) for _ in range(n)]

    @staticmethod
    def make_packet(kit, size: int):  # type: ignore[no-untyped-def]
        return make_packet(kit, size)

    def ingestor(self):  # type: ignore[no-untyped-def]
        from hq.ingest import Ingestor

        return Ingestor(self.engine, self.keys)  # type: ignore[arg-type]

    def ingest_options(self, client_id: str = "ingest-test"):  # type: ignore[no-untyped-def]
        from hq.ingest_worker import ingest_options

        return ingest_options(self.hq, self.broker.url, client_id=client_id,  # type: ignore[arg-type]
                              connect_timeout=3)

    @asynccontextmanager
    async def running_ingest(self, workers: int = 1) -> AsyncIterator[list]:
        from hq.ingest_worker import run_ingest

        stop = asyncio.Event()
        ready = [asyncio.Event() for _ in range(workers)]
        ingestors = [self.ingestor() for _ in range(workers)]
        tasks = [asyncio.create_task(run_ingest(ing, self.ingest_options(f"ingest-{i}"), stop,
                                                on_ready=ev.set))
                 for i, (ing, ev) in enumerate(zip(ingestors, ready))]
        await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in ready)), timeout=10)
        try:
            yield ingestors
        finally:
            stop.set()
            await asyncio.gather(*tasks)


def make_packet(kit, size: int):  # type: ignore[no-untyped-def]
    import uuid6

    from edge.packet import Manifest, seal

    now = datetime.now(UTC)
    packet_id = str(uuid6.uuid7())
    manifest = Manifest(packet_id=packet_id, nik="3275014101050001",
                        kelurahan="32.75.01.1001", device_id=kit.device_id,
                        operator_id="budi", service_point="test", started_at=now.isoformat(),
                        sealed_at=now.isoformat(), software_version="test")
    return seal(manifest, {"face.jpg": os.urandom(size)}, hq_key=kit.hq_sealing_key(),
                device_key=kit.device_key(), created_at=now)


def _seal_into(kit, size: int):  # type: ignore[no-untyped-def]
    packet = make_packet(kit, size)
    kit.outbox.add(packet)
    return packet


@pytest.fixture
def net(tmp_path: Path, hq_home, broker) -> SyncWorld:  # type: ignore[no-untyped-def]
    from hq.db import make_engine

    engine = make_engine(hq_home.database_url())
    w = SyncWorld(tmp_path, hq_home, engine, broker)
    yield w
    engine.dispose()


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
