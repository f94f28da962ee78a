"""HQ recovers in seconds, not after the kits' ack timeout, and loses nothing: the only
ingest worker SIGKILLed and restarted, the broker SIGKILLed and restarted, the database
going away under ingest mid-batch. A real Mosquitto each; kits wait 300 s before re-sending
on their own, so everything acked within the tests' waits was recovered by HQ's side."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sync.uplink import Uplink

pytestmark = pytest.mark.broker

PATIENT = {"ack_timeout": 300.0, "ack_timeout_max": 600.0, "window": 4, "max_inflight": 4}
RECOVERY_WAIT = 150.0  # under the kits' 300 s ack timeout, with room for a loaded CI machine


async def _until(predicate, timeout: float = RECOVERY_WAIT, step: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def _stored(net) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from hq.packets import PacketStore

    return {p.packet_id: p.sha256 for p in PacketStore(net.engine).list_packets(limit=10**6)}


def _unacked(kit) -> int:  # type: ignore[no-untyped-def]
    counts = kit.outbox.counts()
    return int(counts.waiting)


class IngestProcess:
    """``rekam-hq ingest --instance 1`` as systemd runs it: a process to SIGKILL."""

    def __init__(self, net, log: Path) -> None:  # type: ignore[no-untyped-def]
        self.cmd = [sys.executable, "-m", "hq.cli", "ingest", "--home", str(net.hq.root),
                    "--broker", net.broker.url, "--instance", "1",
                    "--no-vault"]  # ingest alone: the vault has its own tests
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                         env=os.environ.copy())

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def test_the_only_ingest_worker_sigkilled_and_restarted_costs_seconds(net, tmp_path):
    """Its persistent session keeps its share queued at the broker, and what it had
    received but not committed, or committed with its acks not yet at the broker,
    unacknowledged (PUBACK only then): the next process gets all of it. Nothing waits for
    the kits' ack timeout."""
    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 30, size=60_000)
    ingest = IngestProcess(net, tmp_path / "ingest.log")

    async def scenario():  # type: ignore[no-untyped-def]
        with net.kit("kit-a") as kit:
            stop = asyncio.Event()
            uplink = Uplink(kit, net.settings("kit-a", **PATIENT))
            ingest.start()
            daemon = asyncio.create_task(uplink.run(stop))
            try:
                await _until(lambda: len(_stored(net)) >= 3, step=0.01)
                await asyncio.to_thread(ingest.kill)
                assert len(_stored(net)) < 30, "the upload finished before the kill"
                await asyncio.sleep(1.0)  # the kit goes on sending meanwhile
                ingest.start()  # as systemd would (RestartSec)
                await _until(lambda: _unacked(kit) == 0)
            finally:
                stop.set()
                await daemon
                await asyncio.to_thread(ingest.stop)
            return uplink._ack_wait

    ack_wait = asyncio.run(scenario())
    assert ack_wait == 300.0  # never an unanswered round
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}
    assert "subscribed" in (tmp_path / "ingest.log").read_text()


def test_broker_sigkilled_and_restarted_costs_seconds(net):
    """The broker loses what it had not saved (kits' chunks it had PUBACKed, acks on their
    way): every ingest worker reconnects and announces itself online, and the kits send
    what is unacknowledged again at once."""
    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 30, size=60_000)

    async def scenario():  # type: ignore[no-untyped-def]
        async with net.running_ingest():
            with net.kit("kit-a") as kit:
                stop = asyncio.Event()
                uplink = Uplink(kit, net.settings("kit-a", **PATIENT,
                                                  reconnect_fast_max=1.0))
                daemon = asyncio.create_task(uplink.run(stop))
                try:
                    await _until(lambda: len(_stored(net)) >= 3, step=0.01)
                    await asyncio.to_thread(net.broker.kill)
                    assert len(_stored(net)) < 30, "the upload finished before the kill"
                    await asyncio.sleep(1.0)
                    await asyncio.to_thread(net.broker.start)
                    await _until(lambda: _unacked(kit) == 0)
                finally:
                    stop.set()
                    await daemon
                return uplink._ack_wait

    assert asyncio.run(scenario()) == 300.0
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}


class DbProxy:
    """A TCP proxy in front of PostgreSQL that can be cut: the database "goes away" for
    ingest (every connection dropped, new ones refused) and comes back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_database_away_mid_batch_means_no_ack_then_stored_once(net, db_url):
    """SQLite locked by another process past the busy timeout, or PostgreSQL's connections
    dropped and refused: the batch in hand is not acked (to the broker or the kit), ingest
    waits for the database, takes the batch again from the broker and stores it once."""
    from sqlalchemy.engine import make_url

    from hq.db import make_engine
    from hq.ingest import Ingestor
    from hq.ingest_worker import run_ingest

    net.add_kit("kit-a")
    with net.kit("kit-a") as kit:
        packets = net.seal(kit, 30, size=60_000)

    async def scenario():  # type: ignore[no-untyped-def]
        proxy = None
        url = db_url
        if not db_url.startswith("sqlite"):
            proxy = DbProxy(make_url(db_url).port or 5432)
            await proxy.open()
            url = make_url(db_url).set(port=proxy.port).render_as_string(hide_password=False)
        engine = make_engine(url, upgrade=False)
        ingestor = Ingestor(engine, net.keys)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_ingest(ingestor, net.ingest_options("ingest-db"), stop,
                                              on_ready=ready.set))
        await asyncio.wait_for(ready.wait(), 10)
        with net.kit("kit-a") as kit:
            uplink = Uplink(kit, net.settings("kit-a", **PATIENT))
            kit_stop = asyncio.Event()
            daemon = asyncio.create_task(uplink.run(kit_stop))
            try:
                await _until(lambda: len(_stored(net)) >= 3, step=0.01)
                if proxy is not None:
                    await proxy.cut()
                    await asyncio.sleep(1.5)
                    await proxy.open()
                else:
                    await asyncio.to_thread(_lock_sqlite, db_url, 7.0)
                await _until(lambda: _unacked(kit) == 0)
            finally:
                kit_stop.set()
                await daemon
                stop.set()
                await task
                engine.dispose()
        return dict(ingestor.counts)

    counts = asyncio.run(scenario())
    assert counts.get("db_unavailable", 0) >= 1, counts  # the outage did hit a batch
    assert _stored(net) == {p.packet_id: p.sha256 for p in packets}
    from hq.packets import PacketStore

    assert PacketStore(net.engine).list_dead_letters() == []


def _lock_sqlite(db_url: str, seconds: float) -> None:
    """Another process holding HQ's SQLite database for longer than its busy timeout."""
    import sqlite3
    import time

    from sqlalchemy.engine import make_url

    conn = sqlite3.connect(make_url(db_url).database, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()
