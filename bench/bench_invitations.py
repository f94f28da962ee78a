"""1,000 invitation letters in one PDF through ``rekam-hq invitations``.

Goal (issue 11): under 15 s. Two baselines measured in the same run, with the same library
(Typst through the typst package, QR codes from segno):

- **QR pages**: 1,000 A4 pages holding only each letter's QR code (segno makes the codes,
  Typst sets one per page) — the issue's baseline: the floor of "1,000 pages with a QR";
- **letters without QR**: the very same letters, cover sheets and layout, with a blank
  square where each QR goes — what the letters' text and layout cost without the codes.

The command's time includes what the baselines leave out: reading the register and the
schedule, numbering and recording every letter, signing every token, joining the Typst
runs, writing the file and marking the residents "diundang".

    .venv/bin/python bench/bench_invitations.py [--letters 1000] [--db postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

KELURAHAN = "32.75.01.1001"
PG = os.environ.get("REKAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _quiet(fn, *argv: str) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = fn(list(argv))
    if code:
        raise SystemExit(f"failed: {' '.join(argv)}\n{out.getvalue()}")
    return out.getvalue()


@contextlib.contextmanager
def _database(kind: str, root: Path):  # type: ignore[no-untyped-def]
    if kind == "sqlite":
        yield f"sqlite:///{root / 'hq.db'}"
        return
    import psycopg

    name = f"rekam_bench_{os.getpid()}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _qr_pages(tokens: list[str]) -> float:
    """Baseline 1: a Typst page per QR code, the codes made by segno as the letters' are."""
    import typst

    from hq.letters import _qr_codes

    started = time.perf_counter()
    with _qr_codes(tokens, True) as codes:  # made as the command makes them
        svgs = list(codes)
    source = (b'#set page(paper: "a4")\n'
              b'#for s in json(bytes(sys.inputs.data)) [#image(bytes(s), format: "svg", '
              b'width: 3.3cm) #pagebreak(weak: true)]\n')
    pdf = typst.Compiler(source, ignore_system_fonts=True,
                         sys_inputs={"data": json.dumps(svgs)}).compile(format="pdf",
                                                                        pdf_tags=False)
    assert isinstance(pdf, bytes)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()

    from edge.synth import write_synthetic_csv
    from hq.cli import main as hq_main

    with tempfile.TemporaryDirectory(prefix="rekam-bench-") as tmp:
        root = Path(tmp)
        with _database(args.db, root) as url:
            os.environ["REKAM_HQ_HOME"] = str(root / "hq")
            os.environ["REKAM_HQ_DATABASE_URL"] = url
            _quiet(hq_main, "init")
            csv_path = root / "warga.csv"
            write_synthetic_csv(csv_path, [KELURAHAN], args.letters, 11, today=date.today())
            _quiet(hq_main, "residents", "import", str(csv_path))
            _quiet(hq_main, "device", "add", "kit-bench-01", "--kelurahan", KELURAHAN,
                   "-o", str(root / "kit.bundle"))
            from hq.db import make_engine
            from hq.register import TO_RECORD
            from hq.register_read import Filters, list_residents

            engine = make_engine(url)
            rws = sorted({r.rw for r in list_residents(
                engine, Filters(kelurahan=KELURAHAN, statuses=TO_RECORD))})
            day = date.today() + timedelta(days=7)
            _quiet(hq_main, "schedule", "add", "--kit", "kit-bench-01", "--date",
                   day.isoformat(), "--place", "Balai Kelurahan Bekasijaya", "--kelurahan",
                   KELURAHAN, "--rw", ",".join(str(int(rw)) for rw in rws),
                   "--time", "08.00-15.00")

            pdf = root / "undangan.pdf"
            cpu_before = _cpu()
            started = time.perf_counter()
            _quiet(hq_main, "invitations", "--kelurahan", KELURAHAN, "-o", str(pdf))
            command = time.perf_counter() - started
            cpu = _cpu() - cpu_before

            # The same letters again (numbers reused), for the baselines.
            from hq.home import HqHome
            from hq.invitations import issue, plan_run
            from hq.letters import Batch, LetterSettings, render

            home = HqHome(root / "hq")
            plan = plan_run(engine, kelurahan=KELURAHAN, today=date.today())
            wanted = [(r, v) for v, people in plan.batches for r in people]
            issued = issue(engine, home.keys(), LetterSettings(), wanted,
                           now=datetime.now(UTC), by="bench")
            n = len(issued)
            batches, start = [], 0
            for visit, people in plan.batches:
                batches.append(Batch(visit, [x.letter for x in issued[start:start + len(people)]]))
                start += len(people)
            started = time.perf_counter()
            render(batches, LetterSettings(), qr=False)
            no_qr = time.perf_counter() - started
            qr_only = _qr_pages([x.letter.token for x in issued])
            engine.dispose()

    print(f"invitation letters ({args.db}, {n} letters in {len(plan.batches)} RWs, "
          f"{pdf.name}):")
    print(f"  rekam-hq invitations      {command:6.2f} s  {command * 1000 / n:5.1f} ms/letter"
          f"   (goal: {n} letters under 15 s: {'met' if command < 15 else 'NOT met'})")
    print(f"  its CPU time (all threads) {cpu:6.2f} s  {cpu * 1000 / n:5.1f} ms/letter"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall "
          "times grow with other work)")
    print(f"  baseline: QR-only pages   {qr_only:6.2f} s  {qr_only * 1000 / n:5.1f} ms/page"
          f"   -> command is {command / qr_only:.2f}x")
    print(f"  baseline: letters, no QR  {no_qr:6.2f} s  {no_qr * 1000 / n:5.1f} ms/letter"
          f"   -> command is {command / no_qr:.2f}x")


if __name__ == "__main__":
    main()
