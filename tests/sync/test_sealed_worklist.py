"""A worklist is sealed to the kit's worklist key, which only an operator's PIN unwraps:
a stolen kit's disk, or the retained message its TLS key can read, yields no resident.

The attacker here holds everything a thief of the SD card holds (every file under the kit's
home, its TLS key and certificate) and no PIN. They peel every layer they can without a
key: the signed envelope's base64, gzip, JSON strings, base64 inside them, plain SQLite
databases (kit.db and its WAL), and look for the residents' NIK, KK number, name, address
and birth date.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import gzip
import json
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from test_downlink import _reports, _until

from edge.errors import NotAllowed
from sync.mqtt import connect
from sync.protocol.topics import Channel, topic
from sync.uplink import Uplink

KELURAHAN = "32.75.01.1001"
SUPERVISOR_PIN = "483920"
OPERATOR_PIN = "571846"

pytestmark = pytest.mark.broker


# --- what a thief can read without a key --------------------------------------------------


def _peel(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """``data`` and everything inside it that opens without a key."""
    yield data
    if depth > 6 or not data:
        return
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError, zlib.error):
            yield from _peel(gzip.decompress(data), depth + 1)
    if data[:16] == b"SQLite format 3\x00":
        yield from _sqlite_values(data, depth)
    if data[:1] in (b"{", b"["):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            yield from _json_strings(json.loads(data), depth)


def _json_strings(value: object, depth: int) -> Iterator[bytes]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item, depth)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, depth)
    elif isinstance(value, str):
        yield value.encode()
        if len(value) >= 16:
            with contextlib.suppress(binascii.Error, ValueError):
                yield from _peel(base64.b64decode(value, validate=True), depth + 1)


def _sqlite_values(data: bytes, depth: int) -> Iterator[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        copy.write_bytes(data)
        try:
            conn = sqlite3.connect(copy)
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        if isinstance(value, str):
                            yield from _peel(value.encode(), depth + 1)
                        elif isinstance(value, bytes):
                            yield from _peel(value, depth + 1)
            conn.close()
        except sqlite3.DatabaseError:
            return


def _secrets(csv_path: Path) -> list[str]:
    from edge.residents_csv import read_csv

    found = []
    for r in read_csv(csv_path):
        found += [r.nik, r.no_kk, r.name.lower(), r.address.lower(),
                  r.birth_date.isoformat(), f"{r.birth_date:%d-%m-%Y}"]
    return found


def _leaks(blobs: Iterator[bytes], secrets: list[str]) -> set[str]:
    leaked: set[str] = set()
    for blob in blobs:
        text = blob.decode("utf-8", "replace").lower()
        leaked.update(s for s in secrets if s in text)
    return leaked


def _disk_leaks(home: Path, secrets: list[str]) -> dict[str, set[str]]:
    leaks = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            found = _leaks(_peel(path.read_bytes()), secrets)
            if found:
                leaks[str(path.relative_to(home))] = found
    return leaks


# --- the scenario ---------------------------------------------------------------------------


async def _retained(options, device: str, seconds: float = 1.0) -> list[bytes]:
    """What the broker hands whoever connects with the kit's TLS key: its retained
    worklist, if any."""
    got: list[bytes] = []
    async with connect(options) as link:
        await link.subscribe(topic(device, Channel.WORKLIST))

        async def take() -> None:
            async for message in link.messages():
                if message.payload:
                    got.append(message.payload)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(take(), timeout=seconds)
    return got


def test_a_stolen_kit_and_its_tls_key_yield_no_resident_without_a_pin(net, tmp_path):
    from edge.synth import write_synthetic_csv
    from hq.worklists import make_worklist

    home = net.add_kit("kit-a")
    assert (home / "keys" / "worklist.key").exists()  # as the bundle brought it
    with net.kit("kit-a") as kit:
        kit.operators.add("siti", "Siti", "supervisor", SUPERVISOR_PIN, by=None)
        # The first operator's roster key wrapped it: no clear copy is left.
        assert not (home / "keys" / "worklist.key").exists()
        session = kit.login("siti", SUPERVISOR_PIN)
        kit.operators.add("budi", "Budi", "operator", OPERATOR_PIN, by=session)
        options = replace(Uplink(kit, net.settings("kit-a")).connect_options(),
                          persistent=False, will=None)

    csv = tmp_path / "residents.csv"
    write_synthetic_csv(csv, [KELURAHAN], 40, seed=11, today=date.today())
    secrets = _secrets(csv)
    v1 = make_worklist(net.engine, net.keys, "kit-a", csv)
    v2 = make_worklist(net.engine, net.keys, "kit-a", csv)
    with net.kit("kit-a") as kit:
        assert kit.import_worklist(v1.data, kit.login("budi", OPERATOR_PIN)) == v1.residents
        net.seal(kit, 2, size=2_000)
    # The worklist as HQ hands it out holds no resident either.
    assert _leaks(_peel(v2.data), secrets) == set()

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        async with connect(net.ingest_options("hq-push")) as hq:
            await hq.publish(topic("kit-a", Channel.WORKLIST), v2.data, retain=True)
        before = await _retained(options, "kit-a")
        async with net.running_ingest():
            with net.kit("kit-a") as kit:
                stop = asyncio.Event()
                daemon = asyncio.create_task(Uplink(kit, net.settings("kit-a")).run(stop))
                await _until(lambda: any(r["result"] == "staged" for r in _reports(net)))
                await asyncio.sleep(0.5)  # the clearing publish follows the report
                stop.set()
                await daemon
        after = await _retained(options, "kit-a")
        return before, after

    before, after = asyncio.run(scenario())
    assert before == [v2.data]  # the thief's TLS key reads the retained worklist ...
    assert _leaks(_peel(before[0]), secrets) == set()  # ... and finds no resident in it
    assert after == []  # HQ cleared it once the kit reported it staged

    with net.kit("kit-a") as kit:
        assert kit.pending_worklist_path.exists()  # staged, sealed, for the next login
    assert (home / "roster" / "roster.db").exists()
    assert _disk_leaks(home, secrets) == {}

    # The PIN is what opens it all: the next login applies the staged worklist.
    with net.kit("kit-a") as kit:
        session = kit.login("budi", OPERATOR_PIN)
        assert kit.apply_pending_worklist(session) == v2.residents
        resident = next(iter(kit.search(session, secrets[0])))
        assert resident.resident.nik == secrets[0]
    assert _disk_leaks(home, secrets) == {}


def test_a_kit_provisioned_before_sealing_announces_its_key_and_hq_seals_to_it(net, tmp_path):
    from sqlalchemy import update

    from edge.synth import write_synthetic_csv
    from hq.db import devices
    from hq.devices import get_device
    from hq.worklists import make_worklist

    home = net.add_kit("kit-old")
    # As a kit of the previous release: no worklist key in its bundle, none at HQ.
    (home / "keys" / "worklist.key").unlink()
    with net.engine.begin() as conn:
        conn.execute(update(devices).values(worklist_key=None))
    csv = tmp_path / "residents.csv"
    write_synthetic_csv(csv, [KELURAHAN], 10, seed=2, today=date.today())
    with pytest.raises(NotAllowed, match="has not sent its worklist key yet"):
        make_worklist(net.engine, net.keys, "kit-old", csv)

    with net.kit("kit-old") as kit:
        kit.operators.add("siti", "Siti", "supervisor", SUPERVISOR_PIN, by=None)
        announced = kit.worklist_public_key()
        assert announced is not None  # made at once, wrapped under the roster key

    async def heartbeat() -> None:
        async with net.running_ingest():
            with net.kit("kit-old") as kit:
                stop = asyncio.Event()
                daemon = asyncio.create_task(Uplink(kit, net.settings("kit-old")).run(stop))
                await _until(lambda: get_device(net.engine, "kit-old").worklist_key
                             is not None)
                stop.set()
                await daemon

    asyncio.run(heartbeat())
    assert get_device(net.engine, "kit-old").worklist_key == announced
    worklist = make_worklist(net.engine, net.keys, "kit-old", csv)
    with net.kit("kit-old") as kit:
        assert kit.import_worklist(worklist.data, kit.login("siti", SUPERVISOR_PIN)) == \
            worklist.residents


def test_hq_never_takes_an_announced_key_in_place_of_the_one_it_holds(net):
    from edge.keys import SealingPrivateKey
    from hq.devices import adopt_worklist_key, get_device

    net.add_kit("kit-a")
    held = get_device(net.engine, "kit-a").worklist_key
    thief = SealingPrivateKey.generate().public()
    assert adopt_worklist_key(net.engine, "kit-a", thief) == "refused"
    assert adopt_worklist_key(net.engine, "kit-a", held) == "same"
    assert get_device(net.engine, "kit-a").worklist_key == held


def test_the_scan_finds_the_residents_a_worklist_of_the_old_format_carried(tmp_path):
    """The attacker's peeling is not blind: the unsealed (gzipped, signed) worklist kits
    staged before this release gives every resident away."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from edge.canonical import canonical_json
    from edge.residents_csv import read_csv
    from edge.signing import sign_document
    from edge.synth import write_synthetic_csv

    csv = tmp_path / "residents.csv"
    write_synthetic_csv(csv, [KELURAHAN], 5, seed=3, today=date.today())
    payload = {"residents": [r.to_record() for r in read_csv(csv)]}
    old = sign_document("worklist", gzip.compress(canonical_json(payload)),
                        ed25519.Ed25519PrivateKey.generate())
    (tmp_path / "kit" / "pending").mkdir(parents=True)
    (tmp_path / "kit" / "pending" / "worklist").write_bytes(old)
    people = list(read_csv(csv))
    leaked = _disk_leaks(tmp_path / "kit", _secrets(csv))
    assert set(leaked) == {"pending/worklist"}
    assert {p.nik for p in people} | {p.name.lower() for p in people} | {
        p.address.lower() for p in people} <= leaked["pending/worklist"]


def test_a_worklist_staged_in_clear_before_the_update_is_shredded_at_first_open(net, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from edge.canonical import canonical_json
    from edge.kit_roster import PENDING_WORKLIST_VERSION
    from edge.residents_csv import read_csv
    from edge.signing import sign_document
    from edge.synth import write_synthetic_csv
    from sync.downlink import unreported_apply_result

    home = net.add_kit("kit-a")
    csv = tmp_path / "residents.csv"
    write_synthetic_csv(csv, [KELURAHAN], 5, seed=3, today=date.today())
    old = sign_document("worklist", gzip.compress(canonical_json(
        {"residents": [r.to_record() for r in read_csv(csv)]})),
        ed25519.Ed25519PrivateKey.generate())
    (home / "pending").mkdir()
    (home / "pending" / "worklist").write_bytes(old)
    with net.kit("kit-a") as kit:  # the first open after the update
        assert not kit.pending_worklist_path.exists()
        assert kit.state.get(PENDING_WORKLIST_VERSION) == ""
        report = unreported_apply_result(kit)
        assert report is not None and report.result == "rejected"
    assert _disk_leaks(home, _secrets(csv)) == {}
