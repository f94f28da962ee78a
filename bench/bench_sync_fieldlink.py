"""Sync goodput over an emulated 3G/4G field link, against raw TCP over the same link.

The link is the repo's own emulator (``bench/fieldlink/``, see its README): namespaces
rk-hq (10.77.0.1) and rk-kit (10.77.0.2), 150 ms each way, 2 % loss each way, 2 Mbit/s,
a 1000-packet queue. Mosquitto and HQ ingest run in rk-hq, ``rekam sync --once`` in
rk-kit. For cubic and for BBR (``TCP_CONGESTION`` on the kit's socket) it measures a raw
TCP bulk transfer of the same number of bytes, then the whole pipeline (outbox → broker →
ingest → signed ack → purge), and prints goodput against raw TCP and against the link rate.
Root only; prints figures, asserts nothing.

The backlog is a realistic day at a service point: ``--packets 50`` enrolments (a service
point records 50–150 residents a day) of ``--size 163000`` image bytes, about 165 KB sealed
each (8.3 MB in all); the raw TCP transfer moves exactly the same total number of bytes.
Fixed per-session costs (TCP, TLS, MQTT CONNECT, the last ack) weigh more on a smaller
backlog. ``--rounds N`` repeats raw-then-sync N times per congestion control.

    sudo .venv/bin/python bench/bench_sync_fieldlink.py [--packets 50] [--size 163000]
        [--rounds 1] [--cc cubic,bbr] [--delay 150] [--loss 2] [--rate 2] [--window 2,8]

Then it prints the link's own counters each way (packets delivered, lost, tail-dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "fieldlink"))

from fieldlink import FieldLink, FieldLinkError, LinkShape, field_link  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
HQ_ADDR, LINK_BPS = "10.77.0.1", 2_000_000
PORT = 18883

RECEIVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); print("READY", flush=True)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    n += len(b)
c.sendall(b"k"); c.close(); print(n, flush=True)
"""

SENDER = r"""
import socket, sys, time
host, port, total, cc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
t = time.monotonic(); s.connect((host, port))
block = b"x" * 65536; left = total
while left > 0:
    left -= s.send(block[: min(left, len(block))])
s.shutdown(socket.SHUT_WR); s.recv(1)
print(time.monotonic() - t)
"""


def raw_tcp(link: FieldLink, total: int, cc: str) -> float:
    recv = subprocess.Popen(link.in_hq(sys.executable, "-c", RECEIVER, HQ_ADDR, "19999"),
                            stdout=subprocess.PIPE, text=True)
    assert recv.stdout is not None
    recv.stdout.readline()
    out = subprocess.run(link.in_kit(sys.executable, "-c", SENDER, HQ_ADDR, "19999",
                                     str(total), cc), capture_output=True, text=True, check=True)
    recv.wait(timeout=30)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=50)
    ap.add_argument("--size", type=int, default=163_000, help="image bytes per packet")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--cc", default="cubic,bbr", help="congestion controls to compare")
    ap.add_argument("--delay", type=float, default=150.0, help="ms each way")
    ap.add_argument("--loss", type=float, default=2.0, help="%% each way")
    ap.add_argument("--rate", type=float, default=LINK_BPS / 1e6, help="Mbit/s each way")
    ap.add_argument("--window", default="",
                    help="comma-separated kit windows to compare (default: the kit's own)")
    args = ap.parse_args()
    shape = LinkShape(delay_ms=args.delay, loss_pct=args.loss, rate_bps=args.rate * 1e6)
    try:
        with field_link(shape, name="rk", replace=True) as link:
            print(f"link: {link.describe()}")
            run(link, args)
    except FieldLinkError as e:
        print(f"field link unavailable ({e}); skipped")
        return
    for direction, c in link.counters().items():
        print(f"link {direction}: {c['delivered']} packets delivered, {c['dropped_loss']} lost, "
              f"{c['dropped_queue']} tail-dropped, at most {c['max_queued']} queued")


def run(link: FieldLink, args: argparse.Namespace) -> None:
    import bench_sync_loopback as loop  # the same rig: HQ, broker config, one kit

    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rekam-fieldlink-") as tmp:
            root = Path(tmp)
            loop.free_port = lambda: PORT  # type: ignore[assignment]
            rig = loop.Rig.__new__(loop.Rig)
            _setup(rig, root)
            procs.append(subprocess.Popen(
                link.in_hq(MOSQUITTO, "-c", str(root / "broker/mosquitto.conf")),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
            ingest_log = (root / "ingest.log").open("wb")
            procs.append(subprocess.Popen(
                link.in_hq(sys.executable, "-m", "hq.cli", "ingest", "--home",
                           str(rig.hq.root), "--broker", f"mqtts://{HQ_ADDR}:{PORT}",
                           "--no-vault"),
                stdout=subprocess.DEVNULL, stderr=ingest_log, cwd=str(HERE.parent)))
            while b"subscribed" not in (root / "ingest.log").read_bytes():
                time.sleep(0.1)
            windows = [w for w in args.window.split(",") if w] or [""]
            for cc, window in [(c, w) for _ in range(args.rounds) for c in args.cc.split(",")
                               for w in windows]:
                rig.reset()
                total = rig.seal(args.packets, args.size)
                raw = raw_tcp(link, total, cc)
                kit = subprocess.Popen(
                    link.in_kit(sys.executable, "-m", "sync.cli", "--home",
                                str(rig.kit_home), "--once", "--json", "--tcp-congestion", cc,
                                "--once-timeout", "900", "--ack-timeout", "120",
                                *(["--window", window] if window else [])),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(HERE.parent))
                if os.environ.get("SHOW_SS"):
                    time.sleep(float(os.environ["SHOW_SS"]))
                    print(subprocess.run(link.in_kit("ss", "-tin"), capture_output=True,
                                         text=True).stdout)
                stdout, _ = kit.communicate()
                summary = json.loads(stdout or b"{}")
                elapsed = float(summary.get("elapsed_s", 0)) or float("nan")
                raw_mbit = total * 8 / raw / 1e6
                mbit = total * 8 / elapsed / 1e6
                shown = f"{cc} window {window}" if window else cc
                print(f"{shown:5}: {args.packets} packets, {total / 1e6:.2f} MB  raw TCP "
                      f"{raw_mbit:.2f} Mbit/s ({raw:.1f} s)"
                      f"  sync {mbit:.2f} Mbit/s ({elapsed:.1f} s) = {mbit / raw_mbit:.0%} of "
                      f"raw TCP, {mbit / args.rate:.0%} of the link; "
                      f"{summary.get('unacknowledged', '?')} unacked, "
                      f"{summary.get('packets_resent', '?')} resent")
            rig.close = lambda: None  # type: ignore[method-assign]
            rig.engine.dispose()
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=10)


def _setup(rig, root: Path) -> None:  # type: ignore[no-untyped-def]
    """Rig's set-up without starting a broker on loopback (it runs in rk-hq instead)."""
    from edge.config import KitConfig, KitPaths
    from edge.kit import install_bundle
    from edge.provisioning import open_bundle
    from hq.broker import write_broker_config
    from hq.db import make_engine
    from hq.devices import add_device
    from hq.home import HqHome

    rig.root = root
    rig.hq = HqHome(root / "hq")
    rig.hq.init()
    rig.engine = make_engine(rig.hq.database_url())
    rig.port = PORT
    rig.url = f"mqtts://{HQ_ADDR}:{PORT}"
    write_broker_config(rig.hq, root / "broker", port=PORT, hosts=(HQ_ADDR,))
    bundle, code = add_device(rig.engine, rig.hq.keys(), "kit-bench-01", ["32.75.01.1001"],
                              rig.url)
    rig.kit_home = root / "kit"
    paths = KitPaths(rig.kit_home)
    install_bundle(paths, open_bundle(bundle, code))
    KitConfig.load(paths).with_setting("ack_grace_hours", "0").save(paths)


if __name__ == "__main__":
    main()
