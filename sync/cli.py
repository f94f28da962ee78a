"""``rekam sync``: the arguments and the runner, kept here so ``rekam/cli.py`` only wires
them (one subcommand, two lines)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from sync.daemon_state import WAKE_SIGNAL, StateFileNotifier
from sync.settings import SyncSettings

log = logging.getLogger("rekam.sync")

_TUNABLES = {
    "chunk_size": int, "window": int, "max_inflight": int, "ack_timeout": float,
    "ack_timeout_max": float,
    "publish_timeout": float, "connect_timeout": float, "keepalive": int, "heartbeat": float,
    "poll": float, "backoff_initial": float, "backoff_max": float, "once_timeout": float,
    "tcp_congestion": str,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="send everything pending, wait for HQ's acks, purge, exit "
                             "(for technicians)")
    parser.add_argument("--json", action="store_true", help="--once: the summary as JSON")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, including the MQTT client's")
    for name, kind in _TUNABLES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=f"sync_{name}", type=kind,
                            default=None, help=argparse.SUPPRESS)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("mqtt").setLevel(logging.INFO)


def _max_rss_mb() -> float:
    """Peak RSS of this process image (VmHWM; ru_maxrss would include the parent's RSS at
    fork time when started by a big parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_sync(home: Path, args: argparse.Namespace) -> int:
    from edge.kit import open_kit
    from sync.uplink import Uplink

    _setup_logging(args.verbose)
    overrides = {name: getattr(args, f"sync_{name}", None) for name in _TUNABLES}
    settings = SyncSettings.load(home, **overrides)
    if args.once:  # a technician waits at the terminal: a dead link should say so quickly
        settings = settings.for_a_person()
    for problem in settings.problems:
        log.warning("%s", problem)
    with open_kit(home) as kit:
        for problem in kit.config.problems:
            log.warning("%s", problem)
        # The daemon tells the operator UI how it fares, and wakes on its "send now";
        # --once is a technician's run beside it and must not speak for it.
        notifier = None if args.once else StateFileNotifier(kit.paths.root)
        uplink = Uplink(kit, settings, notifier=notifier)
        before = kit.outbox.counts()

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            if not args.once:
                loop.add_signal_handler(WAKE_SIGNAL, uplink.send_now)
            await uplink.run(stop, once=args.once)

        started = time.monotonic()
        asyncio.run(main())
        elapsed = time.monotonic() - started
        after = kit.outbox.counts()
    left = after.waiting
    if args.once:
        summary = {"device_id": kit.device_id, "before": before, "after": after,
                   "unacknowledged": left, "elapsed_s": round(elapsed, 3),
                   "max_rss_mb": round(_max_rss_mb(), 1),
                   **uplink.stats.to_dict()}
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            s = uplink.stats
            print(f"sent {s.packets_sent} packets ({s.packets_resent} again), acked "
                  f"{s.acked}, purged {s.purged}; {left} still unacknowledged")
            print("outbox " + ", ".join(f"{k} {v}" for k, v in after.items()))
            if s.last_error and left:
                print(f"last error: {s.last_error}", file=sys.stderr)
        return 0 if left == 0 else 3
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sync.cli --home DIR [--once]``: the same as ``rekam sync``, without the
    rest of the kit's CLI (used by tests that run the daemon as a separate process)."""
    from edge.cli_support import OneLineParser, run
    from edge.config import APPLIANCE_HOME, default_home

    parser = OneLineParser(prog="rekam sync")
    parser.add_argument("--home")
    add_arguments(parser)
    args = parser.parse_args(argv)
    home = Path(args.home) if args.home else default_home("REKAM_HOME", APPLIANCE_HOME, "rekam")
    return run(lambda a: run_sync(home, a), args)


if __name__ == "__main__":
    sys.exit(main())
