"""Benchmark: the vault, packets opened and matched per second, against bare HPKE opening of
the same packets in the same run.

Run as ``.venv/bin/python bench/bench_vault.py [PACKETS] [--db sqlite|postgres]``
(default 200 packets on SQLite). A kit on simulated devices records PACKETS residents of a
register of 5,000 (real enrolments: 165 KB sealed each); HQ stores the packets as ingest
does. Then, on the same bytes:

- **baseline**: bare HPKE opening (ML-KEM-768 + X25519, ChaCha20-Poly1305) of each
  packet's ciphertext, nothing else;
- **vault**: ``hq.vault.Vault``: the device signature, HPKE, the container and manifest
  checks of ``hq.inspect`` (schema, capture set, times, worklist, audit anchor), the match
  against the register, and filing: the enrolment row, the resident's status and history,
  the coverage delta, one transaction per batch of 50. These packets come from simulated
  devices on a production kit, so each is filed for review (slightly more writing than an
  acceptance: a review row too).

The ratio says how much the vault's checks and bookkeeping cost over the cryptography.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _world import DEVICE, KELURAHAN, OPERATOR_PIN, bench_world, import_worklist

from edge.packet import _SUITES, _split, read_header
from edge.workflow import run_clean
from hal.registry import open_devices
from hq.db import make_engine
from hq.home import HqHome
from hq.packets import NewPacket, PacketStore
from hq.register_import import import_residents
from hq.vault import Vault, run_vault

PG_ADMIN = os.environ.get("REKAM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def record(world, count: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    kit = world.open_kit()
    session = kit.login("budi", OPERATOR_PIN)
    with world.csv.open(encoding="utf-8-sig") as fh:
        niks = [r["nik"] for r in csv.DictReader(fh) if r["kode_kelurahan"] == KELURAHAN]
    devices = open_devices("sim", seed=5, allow_simulated=True)
    out = []
    for nik in niks[:count]:
        enrolment = kit.start_enrolment(session, nik, devices)
        assert devices.sim is not None
        devices.sim.set_subject(nik, birth_year=enrolment.resident.birth_date.year)
        run_clean(enrolment)
        out.append(kit.seal_enrolment(session, enrolment).data)
    devices.close()
    kit.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packets", nargs="?", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    pg_name = None
    if args.db == "postgres":
        import psycopg

        pg_name = f"rekam_bench_{os.urandom(4).hex()}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        os.environ["REKAM_HQ_DATABASE_URL"] = f"{base}/{pg_name}"
    try:
        with bench_world(5000) as world:
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                import_worklist(world)
            home = HqHome(world.root / "hq")
            engine = make_engine(home.database_url())
            keys = home.keys()
            import_residents(engine, world.csv, by="bench")
            started = time.perf_counter()
            packets = record(world, args.packets)
            size = sum(map(len, packets)) / len(packets) / 1024
            print(f"{len(packets)} real enrolments recorded on the simulated kit in "
                  f"{time.perf_counter() - started:.0f} s, {size:.0f} KB each; {args.db}",
                  flush=True)
            store = PacketStore(engine)
            now = datetime.now(UTC)
            for start in range(0, len(packets), 50):
                store.store_packets([NewPacket(DEVICE, read_header(p), p,
                                               hashlib.sha256(p).hexdigest())
                                     for p in packets[start:start + 50]], now)

            started = time.perf_counter()
            for data in packets:
                parts = _split(data)
                _SUITES[parts.header.suite].decrypt(bytes(parts.ciphertext),
                                                    keys.sealing.to_hpke(),
                                                    info=parts.header_bytes)
            bare = time.perf_counter() - started

            vault = Vault(engine, keys)
            started = time.perf_counter()
            counts = run_vault(vault, once=True)
            ours = time.perf_counter() - started
            assert counts.opened == len(packets), counts
            engine.dispose()
    finally:
        if pg_name is not None:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    n = len(packets)
    print(f"baseline: bare HPKE opening  {bare:6.2f} s  {n / bare:8.1f} packets/s")
    print(f"vault: open, check, match, file  {ours:6.2f} s  {n / ours:8.1f} packets/s "
          f"({counts})")
    print(f"ratio (vault / bare HPKE)  {ours / bare:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
