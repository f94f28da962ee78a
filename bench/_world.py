"""A provisioned kit and HQ in a temporary directory, built through the real code paths,
for benchmarks. Not a test fixture: benchmarks print figures, they never assert timings."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from edge.kit import Kit
from edge.operators import KdfParams

DEVICE = "kit-bench-01"
KELURAHAN = "32.75.01.1001"
SUPERVISOR_PIN = "483920"
OPERATOR_PIN = "571846"


@dataclass
class BenchWorld:
    root: Path
    csv: Path

    @property
    def kit_home(self) -> Path:
        return self.root / "kit"

    def open_kit(self) -> Kit:
        return Kit(self.kit_home, kdf=KdfParams(memory_kib=8192, iterations=1))


def _quiet(fn, *argv: str) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = fn(list(argv))
    if code:
        raise SystemExit(f"setup failed: {' '.join(argv)}\n{out.getvalue()}")


@contextlib.contextmanager
def bench_world(
    residents: int, *, kelurahan: tuple[str, ...] = (KELURAHAN,)
) -> Iterator[BenchWorld]:
    # Imported here: a benchmark's child process that only needs the constants above must
    # not carry HQ's modules (SQLAlchemy and more), which a kit never loads.
    from hq.cli import main as hq_main
    from rekam.cli import main as kit_main

    with tempfile.TemporaryDirectory(prefix="rekam-bench-") as tmp:
        root = Path(tmp)
        os.environ["REKAM_HQ_HOME"] = str(root / "hq")
        os.environ["REKAM_HOME"] = str(root / "kit")
        csv_path = root / "residents.csv"
        _quiet(hq_main, "init")
        _quiet(hq_main, "synth", "--kelurahan", *kelurahan, "--count", str(residents),
               "--seed", "11", "--today", date.today().isoformat(), "-o", str(csv_path))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            hq_main(["device", "add", DEVICE, "--kelurahan", *kelurahan,
                     "-o", str(root / "kit.bundle")])
        code = out.getvalue().split("separately): ")[1].split()[0]
        _quiet(kit_main, "provision", str(root / "kit.bundle"), "--code", code)
        for key, value in (("kdf_memory_kib", "8192"), ("kdf_iterations", "1"),
                           ("allow_simulated", "true"), ("hal", "sim")):
            _quiet(kit_main, "config", "set", key, value)
        os.environ["REKAM_NEW_PIN"] = SUPERVISOR_PIN
        _quiet(kit_main, "operator", "add", "siti", "--role", "supervisor")
        os.environ["REKAM_PIN"] = SUPERVISOR_PIN
        os.environ["REKAM_NEW_PIN"] = OPERATOR_PIN
        _quiet(kit_main, "operator", "add", "budi", "--by", "siti")
        yield BenchWorld(root, csv_path)


def import_worklist(world: BenchWorld) -> None:
    """HQ signs the kit's worklist from the world's CSV; the kit imports it (quietly)."""
    from hq.cli import main as hq_main
    from rekam.cli import main as kit_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        hq_main(["worklist", DEVICE, "--from", str(world.csv), "-o", str(world.root / "w")])
        os.environ["REKAM_PIN"] = OPERATOR_PIN
        kit_main(["roster", "import", str(world.root / "w"), "--operator", "budi"])
