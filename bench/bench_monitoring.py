"""Benchmark of monitoring: the dashboard's drill-down and the Wali Kota's report over a
register of the whole city (2.6 million residents, 1 million of them recorded), on SQLite
and on PostgreSQL; the whole-city PDF; and the dashboard under 20 logged-in viewers.

The register is written straight into the tables (residents, and coverage_daily as the
register keeps it: one row per RT for the import day, one per RT and day with recordings
over 120 days), since what is measured here is reading it. Each query's time is the median
of five runs, printed beside a baseline measured in the same run: the same figures computed
by a plain full scan of the residents table (what the drill-down would cost without the
register's per-day, per-RT deltas). Goal: every drill-down level and the report's queries
under 200 ms.

The load test starts ``rekam-hq serve`` on loopback, logs 20 viewers in, and has each fetch
pages and data endpoints in turn (bounded: a fixed count of requests, then it stops):
p50/p95 latency of pages and of data, against the bare static file served by the same
server as the baseline.

    .venv/bin/python bench/bench_monitoring.py [--residents 2600000] [--recorded 1000000]
        [--db sqlite|postgres|both] [--viewers 20] [--requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func, insert, select, text

from edge import regions
from hq.db import coverage_daily, make_engine, register_imports, residents
from hq.monitoring import coverage, views
from hq.monitoring.evaluation import evaluate
from hq.monitoring.report_pdf import to_pdf
from hq.monitoring.report_xlsx import to_xlsx
from hq.register import TO_RECORD, Status

GOAL_MS = 200.0
IMPORT_DAY = date(2026, 8, 1)
DAYS = 120
PG_ADMIN = os.environ.get("REKAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pages(pdf: bytes) -> int:
    import pypdfium2

    return len(pypdfium2.PdfDocument(pdf))


def median_ms(fn: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


# --- the register of the whole city ---------------------------------------------------------


def _layout(n: int, seed: int) -> list[tuple[str, str, str, int]]:
    """(kelurahan, rw, rt, residents) for every RT, summing to n: kelurahan sizes vary
    (the biggest three times the smallest), 10-30 RWs each, 6-15 RTs per RW."""
    rng = random.Random(seed)
    kel = [r.code for r in regions.kelurahan_list()]
    weights = [rng.uniform(1, 3) for _ in kel]
    rts: list[tuple[str, str, str, float]] = []
    for code, w in zip(kel, weights):
        for rw in range(1, rng.randint(10, 30) + 1):
            for rt in range(1, rng.randint(6, 15) + 1):
                rts.append((code, f"{rw:03d}", f"{rt:03d}", w * rng.uniform(0.5, 1.5)))
    total = sum(r[3] for r in rts)
    out = [(k, rw, rt, max(1, int(n * w / total))) for k, rw, rt, w in rts]
    short = n - sum(r[3] for r in out)
    k, rw, rt, c = out[0]
    out[0] = (k, rw, rt, c + short)
    return out


def _rows(n: int, recorded: int, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    left = int(n * 0.02)  # moved, died, recorded elsewhere
    import_at = datetime(2026, 8, 1, 2, tzinfo=UTC)
    serial = 0
    for kel, rw, rt, count in _layout(n, seed):
        kec = kel[:8]
        for _ in range(count):
            serial += 1
            r = rng.random() * n
            if r < recorded:
                status, at = Status.TEREKAM.value, import_at + timedelta(
                    days=1 + int(rng.random() * DAYS))
            elif r < recorded + left:
                status, at = rng.choice((Status.PINDAH, Status.MENINGGAL,
                                         Status.REKAM_LAIN)).value, import_at + timedelta(days=30)
            else:
                status, at = (Status.DIUNDANG.value if rng.random() < 0.3
                              else Status.BELUM_REKAM.value), import_at
            yield (serial, f"3275{serial:012d}", f"3275{serial:012d}", f"WARGA {serial}",
                   "L" if serial % 2 else "P", "BEKASI", date(1990, 1, 1) + timedelta(
                       days=serial % 9000), "KAWIN", f"JL. MAWAR NO. {serial % 200}", rt,
                   rw, kel, kec, status, at, 1)


_COLUMNS = ("id", "nik", "no_kk", "name", "sex", "birth_place", "birth_date",
            "marital_status", "address", "rt", "rw", "kelurahan", "kecamatan", "status",
            "status_at", "added_import_id")


def fill(engine: Engine, n: int, recorded: int, seed: int = 7) -> float:
    """The residents and the register's coverage deltas; returns seconds taken."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(register_imports).values(
            id=1, file_name="bench.csv", sha256="0" * 64,
            imported_at=datetime(2026, 8, 1, 2, tzinfo=UTC), imported_by="bench",
            rows=n, added=n, changed=0, unchanged=0, rejected=0))
    deltas: Counter[tuple[date, str, str, str, str]] = Counter()
    must = {Status.BELUM_REKAM.value, Status.DIUNDANG.value, Status.TEREKAM.value}
    batch: list[tuple[Any, ...]] = []

    def flush_sqlite(conn: Any) -> None:
        conn.exec_driver_sql(
            f"INSERT INTO residents ({', '.join(_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(_COLUMNS))})",
            [(*r[:6], r[6].isoformat(), *r[7:14], r[14].strftime("%Y-%m-%d %H:%M:%S.000000"),
              r[15]) for r in batch])

    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        copy_ctx = None
        if pg:
            cur = raw.cursor()  # type: ignore[union-attr]
            copy_ctx = cur.copy(f"COPY residents ({', '.join(_COLUMNS)}) FROM STDIN")
            copy = copy_ctx.__enter__()
        for row in _rows(n, recorded, seed):
            kel, rw, rt, status, at = row[11], row[10], row[9], row[13], row[14]
            deltas[(IMPORT_DAY, kel, rw, rt, "must_record")] += 1
            if status not in must:
                deltas[(IMPORT_DAY + timedelta(days=30), kel, rw, rt, "must_record")] -= 1
            if status == Status.TEREKAM.value:
                deltas[((at + timedelta(hours=7)).date(), kel, rw, rt, "recorded")] += 1
            if pg:
                copy.write_row(row)
            else:
                batch.append(row)
                if len(batch) >= 50_000:
                    flush_sqlite(conn)
                    batch.clear()
        if pg:
            copy_ctx.__exit__(None, None, None)  # type: ignore[union-attr]
        elif batch:
            flush_sqlite(conn)
            batch.clear()
        cells: dict[tuple[date, str, str, str], list[int]] = {}
        for (day, kel, rw, rt, col), v in deltas.items():
            cell = cells.setdefault((day, kel, rw, rt), [0, 0])
            cell[0 if col == "must_record" else 1] += v
        conn.execute(insert(coverage_daily), [
            {"day": d, "kelurahan": k, "rw": w, "rt": t, "must_record": m, "recorded": r}
            for (d, k, w, t), (m, r) in cells.items()])
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


# --- the baseline: the same figures by a full scan of the residents ---------------------------


def _plain(engine: Engine, q: Any) -> list[Any]:
    """Run ``q`` as a plain scan of the residents table: no index may answer it
    (PostgreSQL: index scans off; SQLite: ``NOT INDEXED``, which SQLAlchemy's hints do
    not render for SQLite, so it goes into the SQL text)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_indexscan = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            conn.exec_driver_sql("SET enable_indexonlyscan = off")
            return list(conn.execute(q))
        sql = str(q.compile(engine, compile_kwargs={"literal_binds": True}))
        assert "FROM residents" in sql
        return list(conn.exec_driver_sql(sql.replace("FROM residents",
                                                     "FROM residents NOT INDEXED", 1)))


def scan(engine: Engine, level: str, area: coverage.Area) -> list[tuple[Any, ...]]:
    r = residents.c
    group = {"kecamatan": [r.kecamatan], "kelurahan": [r.kelurahan],
             "rw": [r.kelurahan, r.rw], "rt": [r.kelurahan, r.rw, r.rt]}[level]
    must = r.status.in_([Status.BELUM_REKAM.value, Status.DIUNDANG.value,
                         Status.PERLU_TINJAU.value, Status.TEREKAM.value])
    q = select(*group, func.sum(func.cast(must, type_=residents.c.id.type)),
               func.sum(func.cast(r.status == Status.TEREKAM.value, type_=residents.c.id.type)))
    if area.level == "kecamatan":
        q = q.where(r.kecamatan == area.code)
    elif area.level in ("kelurahan", "rw"):
        q = q.where(r.kelurahan == area.code)
        if area.rw:
            q = q.where(r.rw == area.rw)
    return _plain(engine, q.group_by(*group))


def scan_not_recorded(engine: Engine, area: coverage.Area) -> int:
    r = residents.c
    q = (select(r.nik, r.name, r.address, r.rt).where(
        r.kelurahan == area.code, r.rw == area.rw, r.status.in_([s.value for s in TO_RECORD]))
        .order_by(r.rt, r.address, r.name))
    return len(_plain(engine, q))


def queries(engine: Engine, label: str, today: date) -> list[tuple[str, float, float]]:
    period = coverage.Period(None, today)
    span = coverage.Period(today - timedelta(days=30), today)
    kec = coverage.Area("kecamatan", "32.75.01")
    with engine.connect() as conn:
        kel_code, rw = conn.execute(select(residents.c.kelurahan, residents.c.rw)
                                    .where(residents.c.kelurahan.like("32.75.01.%"))
                                    .limit(1)).one()
    kel = coverage.Area("kelurahan", kel_code)
    rwa = coverage.Area("rw", kel_code, rw)
    rows = []

    def row(name: str, fn: Callable[[], Any], base: Callable[[], Any]) -> None:
        ms, base_ms = median_ms(fn), median_ms(base, runs=3)
        rows.append((name, ms, base_ms))
        print(f"  {label:<8} {name:<44} {ms:8.1f} ms   scan {base_ms:8.1f} ms   "
              f"x{base_ms / ms:7.1f} faster   {'OK' if ms < GOAL_MS else 'SLOW'}")

    row("kota: coverage by kecamatan", lambda: coverage.figures(engine, coverage.KOTA,
        "kecamatan", period), lambda: scan(engine, "kecamatan", coverage.KOTA))
    row("kecamatan: coverage by kelurahan", lambda: coverage.figures(engine, kec, "kelurahan",
        period), lambda: scan(engine, "kelurahan", kec))
    row("kelurahan: coverage by RW", lambda: coverage.figures(engine, kel, "rw", period),
        lambda: scan(engine, "rw", kel))
    row("RW: coverage by RT", lambda: coverage.figures(engine, rwa, "rt", period),
        lambda: scan(engine, "rt", rwa))
    row("RW: residents not yet recorded", lambda: views.not_recorded(engine, rwa),
        lambda: scan_not_recorded(engine, rwa))
    row("kota: progress per day (120 days)", lambda: coverage.series(
        engine, coverage.KOTA, coverage.Period(IMPORT_DAY, today)),
        lambda: scan(engine, "kecamatan", coverage.KOTA))
    row("kota: a 30-day period by kelurahan", lambda: coverage.figures(
        engine, coverage.KOTA, "kelurahan", span), lambda: scan(engine, "kelurahan",
                                                                 coverage.KOTA))
    row("report: whole city, every query", lambda: evaluate(
        engine, by="kelurahan", end=today, today=today),
        lambda: (scan(engine, "kecamatan", coverage.KOTA),
                 scan(engine, "kelurahan", coverage.KOTA)))
    return rows


# --- the dashboard under load -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _viewer(base: str, password: str, user: str, paths: list[str], n: int,
                  pages: list[float], data: list[float], static: list[float]) -> None:
    import httpx2 as httpx

    async with httpx.AsyncClient(base_url=base, timeout=60, verify=False) as c:
        page = await c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = await c.post("/login", data={"user_id": user, "password": password, "csrf": token})
        assert r.status_code == 303, r.status_code
        for i in range(n):
            path = paths[i % len(paths)]
            t = time.perf_counter()
            r = await c.get(path)
            elapsed = (time.perf_counter() - t) * 1000
            assert r.status_code == 200, (path, r.status_code)
            (data if path.startswith("/api/") else static if path.startswith("/static/")
             else pages).append(elapsed)


def _self_signed(home: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = home / "bench-web.crt", home / "bench-web.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def load(home: Path, env: dict[str, str], viewers: int, requests: int, kel: str,
         rw: str) -> None:
    password = "bench-" + secrets.token_hex(8)
    exe = Path(sys.executable).parent / "rekam-hq"
    for i in range(viewers):
        subprocess.run([exe, "user", "add", f"viewer{i}", "--role", "viewer"], check=True,
                       env={**env, "REKAM_HQ_NEW_PASSWORD": password}, capture_output=True)
    cert, key = _self_signed(home)
    port = _free_port()
    # HTTPS, as browsers reach it behind the proxy: the session cookie is Secure
    server = subprocess.Popen([exe, "serve", "--port", str(port), "--tls-cert", str(cert),
                               "--tls-key", str(key)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"https://127.0.0.1:{port}"
        paths = ["/area/32.75", f"/api/coverage/{kel[:8]}", f"/area/{kel}",
                 f"/api/coverage/{kel}/rw/{rw}", f"/area/{kel}/rw/{rw}",
                 "/static/app.css", "/api/kits", "/kits"]
        pages: list[float] = []
        data: list[float] = []
        static: list[float] = []

        async def run() -> float:
            t = time.perf_counter()
            await asyncio.gather(*(_viewer(base, password, f"viewer{i}", paths[i % 3:]
                                           + paths[:i % 3], requests, pages, data, static)
                                   for i in range(viewers)))
            return time.perf_counter() - t

        took = asyncio.run(run())

        def p(xs: list[float], q: float) -> float:
            return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 2 else max(xs)

        total = len(pages) + len(data) + len(static)
        print(f"  {viewers} viewers x {requests} requests: {total} in {took:.1f} s "
              f"({total / took:.0f}/s)")
        print(f"  pages   p50 {p(pages, 50):7.1f} ms  p95 {p(pages, 95):7.1f} ms  ({len(pages)})")
        print(f"  data    p50 {p(data, 50):7.1f} ms  p95 {p(data, 95):7.1f} ms  ({len(data)})")
        print(f"  static  p50 {p(static, 50):7.1f} ms  p95 {p(static, 95):7.1f} ms  "
              f"(baseline: a file from the same server, {len(static)})")
    finally:
        server.terminate()
        server.wait(timeout=15)


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, default=2_600_000)
    ap.add_argument("--recorded", type=int, default=1_000_000)
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    today = IMPORT_DAY + timedelta(days=DAYS + 5)
    os.environ.setdefault("REKAM_HQ_ARGON2_MEMORY_KIB", str(64 * 1024))
    with tempfile.TemporaryDirectory(prefix="rekam-bench-mon-") as tmp:
        targets: list[tuple[str, str]] = []
        if args.db in ("sqlite", "both"):
            targets.append(("sqlite", f"sqlite:///{tmp}/hq/hq.db"))
        if args.db in ("postgres", "both"):
            import psycopg

            name = f"rekam_bench_{secrets.token_hex(4)}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            targets.append(("postgres", f"{base}/{name}"))
        try:
            for label, url in targets:
                home = Path(tmp) / "hq"
                env = {**os.environ, "REKAM_HQ_HOME": str(home), "REKAM_HQ_DATABASE_URL": url}
                if not (home / "keys").exists():
                    subprocess.run([Path(sys.executable).parent / "rekam-hq", "init"], env=env,
                                   check=True, capture_output=True)
                engine = make_engine(url)
                took = fill(engine, args.residents, args.recorded)
                with engine.connect() as conn:
                    cells = conn.execute(select(func.count()).select_from(coverage_daily)
                                         ).scalar()
                print(f"== {label}: {args.residents:,} residents, {args.recorded:,} recorded, "
                      f"{cells:,} coverage_daily rows (written in {took:.0f} s)")
                queries(engine, label, today)
                t = time.perf_counter()
                ev = evaluate(engine, by="kelurahan", end=today, today=today)
                pdf = to_pdf(ev)
                pdf_s = time.perf_counter() - t
                t = time.perf_counter()
                to_xlsx(ev)
                xlsx_s = time.perf_counter() - t
                print(f"  {label:<8} whole-city PDF (56 kelurahan): {pdf_s:.2f} s, "
                      f"{len(pdf) / 1024:.0f} KB, {_pages(pdf)} pages; "
                      f"XLSX {xlsx_s:.2f} s")
                with engine.connect() as conn:
                    kel, rw = conn.execute(select(residents.c.kelurahan, residents.c.rw)
                                           .limit(1)).one()
                load(home, env, args.viewers, args.requests, kel, rw)
                engine.dispose()
                if label == "sqlite":
                    for f in home.glob("hq.db*"):
                        f.unlink()
        finally:
            if args.db in ("postgres", "both"):
                import psycopg

                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    _ = text
    sys.exit(main())
