"""``rekam wipe --by TECHNICIAN``: a retired, lost-and-found or reassigned kit forgets
everything: its keys, roster, outbox, audit log and state.

Only a technician may, and never at the cost of a record: while HQ has not acknowledged
some packets the wipe is refused, unless every one of them went onto a USB stick (``rekam
export --usb``) and the technician says ``--force``. HQ is told first (a signed report on
``up/report``: who, when, what was left, the audit head) when the broker can be reached;
otherwise the technician is told to tell HQ. The sync daemon is stopped, then each file is
overwritten and deleted. The kit is then unprovisioned: a new bundle makes it a kit again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from edge.errors import InvalidInput, NotAllowed, RekamError
from edge.kit import Kit, open_kit
from edge.operators import Role
from edge.outbox import PacketState
from sync.daemon_state import read_state
from sync.protocol.status import Report

ONCE_CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class WipeResult:
    device_id: str
    files: int
    unacknowledged: int
    told_hq: bool
    hq_problem: str


def tell_hq(kit: Kit, report: Report) -> None:
    """One short MQTT session that publishes the signed report (raises when HQ's broker
    cannot be reached within the connect timeout)."""
    from sync.mqtt import connect
    from sync.protocol.status import sign_report
    from sync.protocol.topics import Channel, topic
    from sync.settings import SyncSettings
    from sync.uplink import Uplink

    settings = replace(SyncSettings.load(kit.paths.root), connect_timeout=ONCE_CONNECT_TIMEOUT)
    options = replace(Uplink(kit, settings).connect_options(), persistent=False, will=None)

    async def publish() -> None:
        async with connect(options) as link:
            await link.publish(topic(kit.device_id, Channel.REPORT),
                               sign_report(report, kit.device_key()))

    asyncio.run(publish())


def _stop_daemon(home: Path, wait: float = 10.0) -> None:
    """SIGTERM to the running sync daemon (its unit restarts it only on failure)."""
    found = read_state(home)
    if found is None:
        return
    try:
        os.kill(found.pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and read_state(home) is not None:
        time.sleep(0.1)


def _destroy(home: Path) -> int:
    """Overwrite every file with zeros, flush, delete; then the folders. The home stays."""
    count = 0
    for dirpath, _dirnames, filenames in os.walk(home, topdown=False):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                path.unlink(missing_ok=True)
                continue
            try:
                size = path.stat().st_size
                with path.open("r+b") as fh:
                    while fh.tell() < size:
                        fh.write(b"\0" * min(1 << 20, size - fh.tell()))
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError:
                pass  # deleted all the same
            path.unlink(missing_ok=True)
            count += 1
        if Path(dirpath) != home:
            shutil.rmtree(dirpath, ignore_errors=True)
    return count


def wipe_kit(home: Path, *, by: str, pin: str, force: bool,
             tell: Callable[[Kit, Report], None] = tell_hq) -> WipeResult:
    from sync.usb import exported_ids

    with open_kit(home) as kit:
        session = kit.login(by, pin)
        if session.operator.role is not Role.TECHNICIAN:
            raise NotAllowed("only a technician may wipe a kit")
        unacked = [e.packet_id for state in (PacketState.SEALED, PacketState.SENT)
                   for e in kit.outbox.entries(state)]
        if unacked and not force:
            raise NotAllowed(
                f"{len(unacked)} packets are not yet acknowledged by HQ: sync them (rekam "
                "sync --once), or export them (rekam export --usb DIR) and wipe with --force")
        never = set(unacked) - exported_ids(kit)
        if never:
            raise NotAllowed(
                f"{len(never)} unacknowledged packets were never exported: rekam export "
                "--usb DIR first, then rekam wipe --force")
        entry = kit.audit.append(by, "wipe", unacknowledged=len(unacked), forced=force)
        detail = (f"wiped by {by}; {len(unacked)} packets not acknowledged"
                  + (" (exported to USB)" if unacked else "")
                  + f"; audit head {entry.seq} {entry.hash}")
        report = Report(kit.device_id, kit.clock(), "kit", "wiped", detail=detail)
        device_id = kit.device_id
        told, problem = True, ""
        try:
            tell(kit, report)
        except (RekamError, OSError) as exc:
            told, problem = False, str(exc)
    _stop_daemon(home)
    files = _destroy(home)
    return WipeResult(device_id, files, len(unacked), told, problem)


def confirm(device_id: str, *, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInput("wiping needs confirmation: type the device id in a terminal, "
                           "or add --yes")
    typed = input(f"This destroys the keys, roster, outbox and log of {device_id}. "
                  "Type its device id to go on: ").strip()
    if typed != device_id:
        raise InvalidInput("the device id was not typed; nothing was changed")
