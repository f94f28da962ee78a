"""An emulated 3G/4G field link between two network namespaces, for benchmarks and fault tests.

    sudo .venv/bin/python bench/fieldlink/fieldlink.py up [--delay 150] [--loss 2]
        [--rate 2000000] [--limit 1000] [--cc cubic] [--name rk]
    sudo .venv/bin/python bench/fieldlink/fieldlink.py down [--name rk]

``up`` makes the namespaces ``rk-hq`` (10.77.0.1) and ``rk-kit`` (10.77.0.2) and joins them
with :mod:`linkemu` (delay, loss, rate and a queue limit, each way), running in the
background; run HQ's side with ``ip netns exec rk-hq ...`` and the kit with ``ip netns exec
rk-kit ...``. ``down`` stops the emulator, deletes both namespaces and prints the emulator's
counters (packets delivered, lost, tail-dropped). ``--name`` keeps several links apart (tests
run in parallel). From Python, :func:`field_link` does both around a ``with`` block.

Only the namespaces' own addresses are used; the host's network is not touched. Needs root,
``/dev/net/tun`` and iproute2's ``ip``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from linkemu import LinkShape  # noqa: E402

__all__ = ["FieldLink", "FieldLinkError", "LinkShape", "down", "field_link", "up"]

STATE_ROOT = Path(os.environ.get("FIELDLINK_STATE", "/run/fieldlink"))
HQ_ADDR, KIT_ADDR = "10.77.0.1", "10.77.0.2"


class FieldLinkError(Exception):
    """The link cannot be set up here (not root, no TUN, no ``ip``, already up ...)."""


@dataclass(frozen=True)
class FieldLink:
    """A link that is up: where each end lives and how to run a command there."""

    name: str
    shape: LinkShape
    hq_addr: str = HQ_ADDR
    kit_addr: str = KIT_ADDR

    @property
    def hq_ns(self) -> str:
        return f"{self.name}-hq"

    @property
    def kit_ns(self) -> str:
        return f"{self.name}-kit"

    @property
    def state(self) -> Path:
        return STATE_ROOT / self.name

    def in_hq(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.hq_ns, *cmd]

    def in_kit(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.kit_ns, *cmd]

    def counters(self) -> dict[str, dict[str, int]]:
        """Each direction's counters, once the link is down (empty before)."""
        stats = self.state / "stats.json"
        if not stats.exists():
            return {}
        report = json.loads(stats.read_text())
        return {k: v for k, v in report.items() if "->" in k}

    def describe(self) -> str:
        s = self.shape
        return (f"{self.hq_ns} {self.hq_addr} <-> {self.kit_ns} {self.kit_addr}: "
                f"{s.delay_ms:g} ms each way, {s.loss_pct:g} % loss each way, "
                f"{s.rate_bps / 1e6:g} Mbit/s, queue {s.limit} packets")


def _ip(*args: str) -> None:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise FieldLinkError(f"ip {' '.join(args)}: {out.stderr.strip()}")


def _check_host(name: str) -> None:
    if os.geteuid() != 0:
        raise FieldLinkError("needs root (network namespaces and TUN devices)")
    if not Path("/dev/net/tun").exists():
        raise FieldLinkError("no /dev/net/tun on this machine")
    if shutil.which("ip") is None:
        raise FieldLinkError("needs iproute2's `ip`")
    if len(name) > 10 or not name.replace("-", "").isalnum():
        raise FieldLinkError(f"name {name!r}: at most 10 letters, digits or dashes")


def up(shape: LinkShape, *, name: str = "rk", cc: str = "cubic", seed: int = 12345,
       replace: bool = False) -> FieldLink:
    """Bring the link up; the emulator keeps running in the background until :func:`down`.
    ``replace`` first takes down a link of the same name left by an interrupted run."""
    _check_host(name)
    link = FieldLink(name, shape)
    if replace:
        down(name)
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if any(line.split()[0] in (link.hq_ns, link.kit_ns)
           for line in existing.splitlines() if line.strip()):
        raise FieldLinkError(f"{link.hq_ns}/{link.kit_ns} already exist: run `down --name {name}`")
    link.state.mkdir(parents=True, exist_ok=True)
    (link.state / "stats.json").unlink(missing_ok=True)
    try:
        for ns in (link.hq_ns, link.kit_ns):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        dev_hq, dev_kit = f"{name}q0", f"{name}q1"
        log = (link.state / "linkemu.log").open("w")
        emulator = subprocess.Popen(
            [sys.executable, str(HERE / "linkemu.py"), link.hq_ns, dev_hq, link.kit_ns, dev_kit,
             "--delay", str(shape.delay_ms), "--loss", str(shape.loss_pct),
             "--rate", str(shape.rate_bps), "--limit", str(shape.limit), "--seed", str(seed),
             "--stats", str(link.state / "stats.json")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (link.state / "linkemu.pid").write_text(f"{emulator.pid}\n")
        deadline = time.monotonic() + 10
        while b"READY" not in (link.state / "linkemu.log").read_bytes():
            if emulator.poll() is not None or time.monotonic() > deadline:
                raise FieldLinkError("the link emulator did not start: "
                                     + (link.state / "linkemu.log").read_text()[-300:])
            time.sleep(0.05)
        for ns, dev, mine, peer in ((link.hq_ns, dev_hq, link.hq_addr, link.kit_addr),
                                    (link.kit_ns, dev_kit, link.kit_addr, link.hq_addr)):
            _ip("-n", ns, "addr", "add", mine, "peer", peer, "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            # Congestion control is per namespace; a kernel may allow only some as a default
            # (then a program sets it per socket with TCP_CONGESTION, as the kit's uplink does).
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                            f"net.ipv4.tcp_congestion_control={cc}"],
                           capture_output=True, check=False)
    except BaseException:
        down(name)
        raise
    return link


def _exited(pid: int) -> bool:
    """Whether the emulator is gone: reaped if it is our child (started by :func:`up` in
    this process), else no longer there (started by an earlier ``fieldlink.py up``)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def down(name: str = "rk") -> dict[str, object] | None:
    """Stop the emulator, delete the namespaces; the emulator's counters, if it wrote any."""
    state = STATE_ROOT / name
    pid_file = state / "linkemu.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):  # up to 5 s for it to write its counters and exit
                if _exited(pid):
                    break
                time.sleep(0.05)
        except ProcessLookupError:
            pass
        pid_file.unlink(missing_ok=True)
    for ns in (f"{name}-hq", f"{name}-kit"):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    stats = state / "stats.json"
    return json.loads(stats.read_text()) if stats.exists() else None


@contextmanager
def field_link(shape: LinkShape, *, name: str = "rk", cc: str = "cubic", seed: int = 12345,
               replace: bool = False) -> Iterator[FieldLink]:
    """The link up for the ``with`` block, then down (also on an exception); its counters
    are then in :meth:`FieldLink.counters`."""
    link = up(shape, name=name, cc=cc, seed=seed, replace=replace)
    try:
        yield link
    finally:
        down(name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="An emulated field link between two network namespaces.")
    sub = ap.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="make the namespaces and start the emulator")
    p_up.add_argument("--delay", type=float, default=LinkShape.delay_ms, help="ms each way")
    p_up.add_argument("--loss", type=float, default=LinkShape.loss_pct, help="%% each way")
    p_up.add_argument("--rate", type=float, default=LinkShape.rate_bps, help="bit/s each way")
    p_up.add_argument("--limit", type=int, default=LinkShape.limit,
                      help="packets queued each way before tail drop")
    p_up.add_argument("--cc", default="cubic", help="namespaces' default congestion control")
    p_up.add_argument("--seed", type=int, default=12345, help="of the loss generator")
    p_down = sub.add_parser("down", help="stop the emulator, delete the namespaces")
    for p in (p_up, p_down):
        p.add_argument("--name", default="rk", help="namespaces NAME-hq and NAME-kit")
    args = ap.parse_args(argv)
    try:
        if args.command == "up":
            shape = LinkShape(args.delay, args.loss, args.rate, args.limit)
            link = up(shape, name=args.name, cc=args.cc, seed=args.seed)
            print(f"field link up: {link.describe()}")
        else:
            stats = down(args.name)
            if stats is not None:
                print(json.dumps(stats, indent=1))
    except (FieldLinkError, ValueError) as e:
        print(f"fieldlink: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
