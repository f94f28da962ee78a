"""Both command lines show data's control characters instead of obeying them: a resident
whose name holds ESC[2J (clear the screen) and a BEL, printed by ``rekam roster search`` and
``rekam-hq residents show`` on a real terminal (a pty), reaches it as visible escapes.
Output to a pipe or a file stays byte for byte what the command wrote."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit_world import DEVICE, KELURAHAN, OPERATOR_PIN
from sqlalchemy import update

from edge.keys import SealingPublicKey
from edge.kit import Kit
from edge.residents_csv import read_csv

HOSTILE = "SITI\x1b[2JAMINAH\x07\u202eHANIMA\x9b31m"
SHOWN = "SITI\\x1b[2JAMINAH\\x07\\u202eHANIMA\\x9b31m"
FORBIDDEN = ("\x1b[2J", "\x07", "\u202e", "\x9b")


def on_a_terminal(argv: list[str], env: dict[str, str]) -> str:
    """The command's stdout and stderr as a terminal receives them."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
                            env={**os.environ, **env}, close_fds=True)
    os.close(terminal)
    received = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output for 60 s: {received!r}")
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0, received
    return received.decode("utf-8")


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _worklist_key(kit_home: Path) -> SealingPublicKey:
    """The key HQ seals the kit's worklists to (it has it since it registered the kit)."""
    with Kit(kit_home) as kit:
        key = kit.worklist_public_key()
    assert key is not None
    return key


def test_the_kit_prints_a_hostile_name_as_text(world, tmp_path) -> None:
    from edge.worklist import build_worklist
    from hq.home import HqHome

    people = list(read_csv(world.csv, today=datetime(2026, 11, 24).date()))
    people = [p for p in people if p.kelurahan == KELURAHAN]
    people[0] = replace(people[0], name=HOSTILE, address="JL. \x1b]0;owned\x07 NO. 1")
    now = datetime.now(UTC)
    data = build_worklist(device_id=DEVICE, version=2, issued_at=now,
                          expires_at=now + timedelta(days=30), kelurahan=[KELURAHAN],
                          residents=people, signing_key=HqHome(world.hq_home).keys().signing,
                          kit_key=_worklist_key(world.kit_home))
    (tmp_path / "v2.worklist").write_bytes(data)
    assert world.kit("roster", "import", str(tmp_path / "v2.worklist"), pin=OPERATOR_PIN) == 0

    env = {"REKAM_HOME": str(world.kit_home), "REKAM_PIN": OPERATOR_PIN,
           "REKAM_OPERATOR": "budi"}
    shown = on_a_terminal([tool("rekam"), "roster", "search", people[0].nik], env)
    assert SHOWN in shown, shown
    assert not any(c in shown for c in FORBIDDEN), repr(shown)
    as_json = on_a_terminal([tool("rekam"), "roster", "search", people[0].nik, "--json"], env)
    assert "\\u001b[2J" in as_json and not any(c in as_json for c in FORBIDDEN)

    piped = subprocess.run([tool("rekam"), "roster", "search", people[0].nik],
                           capture_output=True, text=True, env={**os.environ, **env},
                           check=True)
    assert HOSTILE in piped.stdout  # a pipe gets the data as it is


def test_hq_prints_a_hostile_name_as_text(world) -> None:
    """A name in the register that predates the import's checks (or an operator id from a
    packet): shown, not obeyed."""
    from hq.db import make_engine, residents
    from hq.home import HqHome

    assert world.hq("residents", "import", str(world.csv)) == 0
    nik = next(read_csv(world.csv, today=datetime(2026, 11, 24).date())).nik
    engine = make_engine(HqHome(world.hq_home).database_url())
    with engine.begin() as conn:
        conn.execute(update(residents).where(residents.c.nik == nik).values(name=HOSTILE))
    engine.dispose()

    env = {"REKAM_HQ_HOME": str(world.hq_home)}
    shown = on_a_terminal([tool("rekam-hq"), "residents", "show", nik], env)
    assert SHOWN in shown, shown
    assert not any(c in shown for c in FORBIDDEN), repr(shown)
    listed = on_a_terminal([tool("rekam-hq"), "residents", "search", "aminah"], env)
    assert "SITI\\x1b[2JAMINAH" in listed and not any(c in listed for c in FORBIDDEN)
