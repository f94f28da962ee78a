"""The UI tests' world: a provisioned kit built once per session through the real command
lines and copied into each test's temporary home; the app runs on simulated devices and a
fake clock (2026-11-24 09:30 WIB).

Everything shown on a snapshot is fixed: HQ's invitation secret, the residents (a seeded
synthetic export), the worklist's dates and schedule, the clock. What the host decides
(free disk, power, network) and what is random by design (key ids, the audit log's
times from setup) come from :class:`FixedServices`.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.clock import FakeClock
from edge.keys import SealingPublicKey
from edge.kit import Kit, open_kit
from edge.residents_csv import read_csv
from edge.roster import ScheduleEntry
from edge.worklist import build_worklist
from hal.host import PowerState
from tui.app import RekamApp
from tui.services import KitServices
from tui.views import SyncOverview, TechnicianReport

SUPERVISOR_PIN = "483920"
OPERATOR_PIN = "571846"
TECHNICIAN_PIN = "602817"
KELURAHAN = "32.75.01.1001"
DEVICE = "kit-bekasijaya-01"
NOW = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)  # 09:30 WIB
TODAY = date(2026, 11, 24)
INVITATION_SECRET = bytes(range(32))


def _quiet(main: Callable[[list[str]], int], *argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    if code:
        raise RuntimeError(f"setup failed: {' '.join(argv)}\n{out.getvalue()}")
    return out.getvalue()


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_kit(root: Path) -> Path:
    """HQ and a provisioned kit with three operators and a roster of 80 residents."""
    from hq.cli import main as hq_main
    from hq.home import HqHome
    from hq.invitations import invitation_code
    from rekam.cli import main as kit_main

    hq_home, kit_home = root / "hq", root / "kit"
    with _env(REKAM_HQ_HOME=str(hq_home), REKAM_HOME=str(kit_home)):
        _quiet(hq_main, "init")
        (hq_home / "keys" / "invitation.key").write_bytes(INVITATION_SECRET)
        csv_path = root / "residents.csv"
        _quiet(hq_main, "synth", "--kelurahan", KELURAHAN, "--count", "80", "--seed", "3",
               "--today", TODAY.isoformat(), "-o", str(csv_path))
        out = _quiet(hq_main, "device", "add", DEVICE, "--kelurahan", KELURAHAN,
                     "--training", "-o", str(root / "kit.bundle"))
        code = out.split("separately): ")[1].split()[0]
        _quiet(kit_main, "provision", str(root / "kit.bundle"), "--code", code)
        for key, value in (("kdf_memory_kib", "8192"), ("kdf_iterations", "1"),
                           ("allow_simulated", "true"), ("hal", "sim")):
            _quiet(kit_main, "config", "set", key, value)
        with _env(REKAM_NEW_PIN=SUPERVISOR_PIN):
            _quiet(kit_main, "operator", "add", "siti", "--name", "Siti Rahmawati",
                   "--role", "supervisor")
        with _env(REKAM_PIN=SUPERVISOR_PIN, REKAM_NEW_PIN=OPERATOR_PIN):
            _quiet(kit_main, "operator", "add", "budi", "--name", "Budi Santoso", "--by", "siti")
        with _env(REKAM_PIN=SUPERVISOR_PIN, REKAM_NEW_PIN=TECHNICIAN_PIN):
            _quiet(kit_main, "operator", "add", "tono", "--name", "Tono Wijaya",
                   "--role", "technician", "--by", "siti")
        keys = HqHome(hq_home).keys()
        residents = [replace(r, invitation_code=invitation_code(INVITATION_SECRET, r.nik))
                     for r in read_csv(csv_path, today=TODAY)]
        schedule = (
            ScheduleEntry(TODAY, "Balai RW 005", KELURAHAN, "005", "pukul 08.00-15.00"),
            ScheduleEntry(TODAY + timedelta(days=1), "SMAN 4 Bekasi", KELURAHAN, "007",
                          "siswa kelas XII"),
            ScheduleEntry(TODAY + timedelta(days=2), "Balai RW 002", KELURAHAN, "002"),
        )
        data = build_worklist(device_id=DEVICE, version=1, issued_at=NOW - timedelta(days=1),
                              expires_at=NOW + timedelta(days=30), kelurahan=[KELURAHAN],
                              residents=residents, schedule=schedule, signing_key=keys.signing,
                              kit_key=kit_worklist_key(kit_home))
        worklist = root / "v1.worklist"
        worklist.write_bytes(data)
        with _env(REKAM_PIN=OPERATOR_PIN, REKAM_OPERATOR="budi"):
            _quiet(kit_main, "roster", "import", str(worklist))
    return kit_home


def kit_worklist_key(kit_home: Path) -> SealingPublicKey:
    """What HQ holds for the kit since it registered it (the bundle's worklist key)."""
    with open_kit(kit_home) as kit:
        key = kit.worklist_public_key()
    assert key is not None
    return key


class FixedServices(KitServices):
    """The host's facts (disk, power, network) and random ids fixed, for snapshots."""

    def free_disk_mb(self) -> int:
        return 12_400

    def power(self) -> PowerState:
        return PowerState("battery", 76)

    def link_up(self) -> bool:
        return True

    def sync_overview(self) -> SyncOverview:
        overview = super().sync_overview()
        return replace(overview, recent=tuple(
            (f"packet-{i:07d}", state, size, created)
            for i, (_, state, size, created) in enumerate(overview.recent, start=1)))

    def technician_report(self, language: str = "id") -> TechnicianReport:
        report = super().technician_report(language)
        return replace(report, device_key_id="dk-0001", hq_signing_key_id="hs-0001",
                       hq_sealing_key_id="hk-0001", textual_version="8.x",
                       free_disk_mb=self.free_disk_mb(),
                       audit_tail=tuple((NOW, actor, action, "")
                                        for _, actor, action, _ in report.audit_tail),
                       checks=tuple(replace(c, detail="") if c.key in ("disk", "roster") else c
                                    for c in report.checks))


@dataclass
class Rig:
    """One app on one kit home, with its simulated devices."""

    home: Path
    kit: Kit
    devices: Any
    clock: FakeClock
    app: RekamApp

    @property
    def sim(self) -> Any:
        return self.devices.sim

    def residents(self, n: int, *, odd_year: bool | None = None) -> list[Any]:
        """Residents of the roster, not yet recorded (optionally by birth-year parity)."""
        from edge.roster import RosterStore

        session = self.kit.login("budi", OPERATOR_PIN)
        with RosterStore.open(self.kit.paths.roster_db, session.roster_key) as store:
            hits = store.search("a", limit=80)
        found = [h.resident for h in hits if not h.enrolled and
                 (odd_year is None or h.resident.birth_year_is_odd == odd_year)]
        return found[:n]


async def settle(pilot: Any, *, rounds: int = 300) -> None:
    """Until no worker runs and the message queues are empty (a worker's message may start
    another worker or push a screen). A worker cancelled by a newer one (a search replaced
    by the next keystroke's) is fine."""
    from textual.worker import WorkerCancelled

    app = pilot.app
    quiet = 0
    for _ in range(rounds):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        quiet = 0 if any(w.is_running for w in app.workers) else quiet + 1
        if quiet >= 2:
            return
    raise AssertionError("the app did not settle")
