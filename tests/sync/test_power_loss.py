"""Power loss: the enrolment and the sync daemon are killed with SIGKILL at random points,
round after round (``make power-loss``; REKAM_POWER_LOSS_ROUNDS, default 100), against a
real broker and HQ ingest. After each kill the kit must still hold every packet it reported
sealed, intact (or HQ holds it, when it was acknowledged and purged), its audit chain must
verify, every database must pass ``PRAGMA integrity_check``, and no resident data or
biometric image may be readable anywhere on disk.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kit_world import DEVICE, KELURAHAN, OPERATOR_PIN, SUPERVISOR_PIN

pytestmark = [pytest.mark.slow, pytest.mark.broker]

ROUNDS = int(os.environ.get("REKAM_POWER_LOSS_ROUNDS", "100"))
SEALED = re.compile(r"sealed packet (\S+) ")
# What an image in the clear starts with: JPEG (JFIF/Exif), JPEG 2000, PNG.
IMAGE_MAGIC = (b"JFIF\x00", b"Exif\x00\x00", b"\x00\x00\x00\x0cjP  \r\n\x87\n",
               b"\x89PNG\r\n\x1a\n")
FAST_SYNC = {"ack_timeout": 3.0, "publish_timeout": 3.0, "connect_timeout": 3.0,
             "keepalive": 5, "heartbeat": 1.0, "poll": 0.2, "backoff_initial": 0.2,
             "backoff_max": 1.0, "purge_every": 0.5, "tcp_congestion": ""}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _residents(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return [r for r in csv.DictReader(fh) if r["kode_kelurahan"] == KELURAHAN]


def _secrets_on_disk(roots: list[Path], needles: list[bytes]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            for needle in needles:
                if needle in data:
                    found.append(f"{path.relative_to(root.parent)}: {needle[:20]!r}")
    return found


def test_power_loss_mid_enrolment_and_mid_sync_loses_nothing_sealed(
        world, broker_for, tmp_path, capsys) -> None:
    from edge.kit import open_kit
    from edge.packet import verify_packet
    from edge.sqlcipher import connect_encrypted
    from hq.home import HqHome

    hq = HqHome(world.hq_home)
    broker = broker_for(hq)
    # A roster big enough for every round's residents.
    big = tmp_path / "many.csv"
    assert world.hq("synth", "--kelurahan", KELURAHAN, "--count", str(16 * ROUNDS + 40),
                    "--seed", "11", "--today", "2026-11-24", "-o", str(big)) == 0
    assert world.hq("worklist", DEVICE, "--from", str(big), "-o", str(tmp_path / "v2")) == 0
    assert world.kit("roster", "import", str(tmp_path / "v2"), pin=OPERATOR_PIN) == 0
    for key, value in (("broker", broker.url), ("ack_grace_hours", "0")):
        assert world.kit("config", "set", key, value, "--by", "siti", pin=SUPERVISOR_PIN) == 0
    (world.kit_home / "sync.json").write_text(json.dumps(FAST_SYNC))
    residents = _residents(big)
    needles = [r["nik"].encode() for r in residents] + \
              [r["nama"].encode() for r in residents if len(r["nama"]) >= 12] + \
              list(IMAGE_MAGIC)
    capsys.readouterr()

    tmpdir = tmp_path / "proc-tmp"  # where the processes' temporary files would go
    tmpdir.mkdir()
    env = {**os.environ, "REKAM_HOME": str(world.kit_home), "REKAM_HQ_HOME": str(hq.root),
           "REKAM_PIN": OPERATOR_PIN, "REKAM_OPERATOR": "budi", "PYTHONUNBUFFERED": "1",
           "TMPDIR": str(tmpdir)}
    logs = tmp_path / "logs"
    logs.mkdir()
    ingest = subprocess.Popen([_bin("rekam-hq"), "ingest", "--broker", broker.url,
                               "--no-vault"], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=(logs / "ingest.log").open("wb"))
    seed = int(os.environ.get("REKAM_POWER_LOSS_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    print(f"power loss: seed {seed} (REKAM_POWER_LOSS_SEED to repeat)")
    reported: dict[str, int] = {}  # packet id -> round it was reported sealed in
    nik_queue = [r["nik"] for r in residents]
    kills = {"enrol": 0, "sync": 0}
    try:
        for round_no in range(ROUNDS):
            niks, nik_queue = nik_queue[:15], nik_queue[15:]
            out = logs / f"enrol-{round_no}.out"
            enrol = subprocess.Popen(
                [_bin("rekam"), "enrol", *[a for n in niks for a in ("--nik", n)], "--sim",
                 "--seed", str(round_no), "--quiet"],
                env=env, stdout=out.open("wb"), stderr=subprocess.STDOUT)
            sync = subprocess.Popen([_bin("rekam"), "sync"], env=env,
                                    stdout=subprocess.DEVNULL,
                                    stderr=(logs / f"sync-{round_no}.log").open("wb"))
            # A random point of the recording: after some residents were sealed (or none),
            # a random moment into the next one (capture, sealing, the commit).
            after = rng.randrange(len(niks))
            deadline = time.monotonic() + 60
            while (enrol.poll() is None and time.monotonic() < deadline
                   and len(SEALED.findall(out.read_text(errors="replace"))) < after):
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.6))
            victims = [("enrol", enrol), ("sync", sync)]
            rng.shuffle(victims)
            for name, proc in victims:  # the power goes: both die, in either order
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills[name] += 1
                proc.wait()
            for match in SEALED.finditer(out.read_text(errors="replace")):
                reported.setdefault(match[1], round_no)
            # Residents whose recording was cut short come back in a later round.
            nik_queue += [n for n in niks if n not in out.read_text(errors="replace")]

            # --- the kit after the restart -------------------------------------------------
            with open_kit(world.kit_home) as kit:
                entries = {e.packet_id: e for e in kit.outbox_entries()}
                key = kit.device_key().public_key()
                held_at_hq = _hq_packets(hq.root / "hq.db")
                for pid, seen in reported.items():
                    assert pid in entries, f"round {round_no}: packet {pid} (sealed in " \
                                           f"round {seen}) is gone"
                    entry = entries[pid]
                    if entry.state.value == "purged":
                        assert held_at_hq.get(pid) == entry.sha256, \
                            f"packet {pid} purged but not held by HQ"
                        continue
                    data = kit.outbox.data(pid)
                    assert hashlib.sha256(data).hexdigest() == entry.sha256, pid
                    verify_packet(data, key)
                audit = kit.audit.verify()
                assert audit.ok, f"round {round_no}: audit chain broken: {audit.problem}"
                session = kit.login("budi", OPERATOR_PIN)
                roster_key = session.roster_key
            for db in sorted(world.kit_home.glob("*.db")):
                if db.name == "roster.db":
                    conn = connect_encrypted(db, roster_key).conn
                else:
                    conn = sqlite3.connect(db)
                try:
                    (result,) = conn.execute("PRAGMA integrity_check").fetchone()
                finally:
                    conn.close()
                assert result == "ok", f"round {round_no}: {db.name}: {result}"
            leaks = _secrets_on_disk([world.kit_home, tmpdir], needles)
            assert not leaks, f"round {round_no}: readable on disk: {leaks[:5]}"
            if (round_no + 1) % 10 == 0:  # a soak of many minutes shows it is moving
                with capsys.disabled():
                    print(f"power loss: round {round_no + 1}/{ROUNDS}, {len(reported)} packets "
                          "reported sealed so far, all intact", flush=True)
    finally:
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ingest.kill()
            ingest.wait()
    (hq_check,) = sqlite3.connect(hq.root / "hq.db").execute(
        "PRAGMA integrity_check").fetchone()
    assert hq_check == "ok"
    at_hq = _hq_packets(hq.root / "hq.db")
    with capsys.disabled():
        print(f"\npower loss: {ROUNDS} rounds, {kills['enrol']} enrolment and {kills['sync']} "
              f"sync processes killed with SIGKILL; {len(reported)} packets reported sealed, "
              f"all intact on the kit or held by HQ ({len(at_hq)} at HQ); seed {seed}")
    assert ROUNDS >= 1 and reported, "no packet was ever sealed: the rounds were too short"


def _hq_packets(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT packet_id, sha256 FROM packets").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
