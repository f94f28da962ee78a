"""Import of a signed 100,000-row worklist into the encrypted roster.

Target (issue 2): under 15 s. Baseline measured in the same run: parsing the same records
from JSON and inserting them into a plain, unindexed, unencrypted SQLite table — the floor
of "getting 100,000 rows onto disk" — so the ratio shows what verification, validation,
encryption and the search index cost.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _world import DEVICE, OPERATOR_PIN, bench_world

from edge.signing import parse_document
from hq.cli import main as hq_main

ROWS = 100_000


def main() -> None:
    with bench_world(ROWS) as world:
        worklist = world.root / "big.worklist"
        t = time.perf_counter()
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            hq_main(["worklist", DEVICE, "--from", str(world.csv), "-o", str(worklist)])
        sign_time = time.perf_counter() - t
        data = worklist.read_bytes()

        kit = world.open_kit()
        session = kit.login("budi", OPERATOR_PIN)
        t = time.perf_counter()
        count = kit.import_worklist(data, session)
        import_time = time.perf_counter() - t
        kit.close()

        # Baseline: decode the same body and insert plain rows, no checks, no index.
        t = time.perf_counter()
        records = json.loads(gzip.decompress(parse_document(data).body))["residents"]
        with tempfile.TemporaryDirectory() as tmp:
            conn = sqlite3.connect(Path(tmp) / "plain.db")
            cols = list(records[0])
            conn.execute(f"CREATE TABLE r ({', '.join(cols)})")
            with conn:
                conn.executemany(
                    f"INSERT INTO r VALUES ({', '.join('?' * len(cols))})",
                    ([rec[c] for c in cols] for rec in records),
                )
            conn.close()
        baseline = time.perf_counter() - t

    print(f"worklist                  {count} residents, {len(data) / 1e6:.1f} MB signed "
          f"(HQ built and signed it in {sign_time:.1f} s)")
    print(f"rekam roster import       {import_time:6.2f} s   (target < 15 s)")
    print(f"  baseline plain insert   {baseline:6.2f} s   ratio {import_time / baseline:4.1f}x")
    print(f"  rows per second         {count / import_time:8.0f}")


if __name__ == "__main__":
    main()
