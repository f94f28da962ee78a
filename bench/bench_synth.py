"""Benchmark: generate and write 100,000 synthetic residents (target: under 10 s).

Run as ``.venv/bin/python bench/bench_synth.py [ROWS]``. Alongside the real job it times a
baseline in the same run, on the same machine: merely writing the same rows, already built
as lists of strings, with ``csv.writer``. The ratio says what generating the rows costs over
the floor of writing those bytes at all; unlike seconds, it stays comparable between a fast
laptop and a slow CI runner.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from edge import regions
from edge.resident_record import CSV_COLUMNS
from edge.synth import generate_residents, write_synthetic_csv

TARGET_SECONDS = 10.0
TODAY = date(2025, 6, 30)  # fixed, so every run writes the same file


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    kelurahan = [k.code for k in regions.kelurahan_list()]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "synth.csv"
        start = time.perf_counter()
        written = write_synthetic_csv(out, kelurahan, rows, seed=1, today=TODAY)
        real = time.perf_counter() - start
        size = out.stat().st_size

        start = time.perf_counter()
        residents = list(generate_residents(kelurahan, rows, seed=1, today=TODAY))
        generate_only = time.perf_counter() - start

        prebuilt = [list(r.to_record().values()) for r in residents]
        baseline_path = Path(tmp) / "baseline.csv"
        start = time.perf_counter()
        with baseline_path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(prebuilt)
        baseline = time.perf_counter() - start
        assert baseline_path.read_bytes() == out.read_bytes(), "baseline wrote other bytes"

    print(f"rows                      {written:>10,}")
    print(f"file size                 {size / 1e6:>10.1f} MB")
    print(f"generate + write          {real:>10.2f} s   {written / real:>10,.0f} rows/s")
    print(f"generate alone (re-run)   {generate_only:>10.2f} s")
    print(f"baseline: csv.writer only {baseline:>10.2f} s   {written / baseline:>10,.0f} rows/s")
    print(f"ratio to baseline         {real / baseline:>10.1f} x")
    budget = TARGET_SECONDS * rows / 100_000
    verdict = "OK" if real <= budget else "TOO SLOW"
    print(f"target {budget:.1f} s               {real / budget:>10.0%} of budget  {verdict}")
    return 0 if real <= budget else 1


if __name__ == "__main__":
    sys.exit(main())
