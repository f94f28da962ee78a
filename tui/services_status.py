"""The kit's state as the UI shows it, one part of :class:`tui.services.KitServices`: the
clock, power, disk and network, the link to HQ (from the sync daemon's state), the sync
queue and the one-shot send, and the technician's readiness checks and report. No Textual
import (the technician's report names Textual's version, importing it then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from edge import checks
from edge.clock import WIB
from edge.errors import NotAllowed, RekamError
from edge.kit import Kit
from edge.operators import Role, Session
from edge.outbox import PacketState
from hal import host
from tui.catalogue import Catalogue
from tui.services_devices import DeviceServices
from tui.views import KitSnapshot, ReadinessCheck, SyncOverview, TechnicianReport

if TYPE_CHECKING:  # the MQTT side loads only when the operator sends
    from sync.daemon_state import DaemonState
    from sync.send_now import SyncResult


class Sender(Protocol):
    """The one-shot send to HQ (:class:`sync.send_now.SendNow`)."""

    def __call__(self, waiting: Callable[[], int], *, timeout: float = ...) -> SyncResult: ...
    def daemon(self) -> DaemonState | None: ...


LinkCheck = Callable[[], checks.Check]
"""Whether HQ's broker answers (:func:`sync.link.broker_check`); may wait on the network."""


class StatusServices(DeviceServices):
    """The kit's clock, health, link and queue, as the status bar, the sync screen and the
    technician's screen show them."""

    # set by KitServices.__init__
    kit: Kit
    lock: threading.RLock
    session: Session | None
    last_sync_error: tuple[str, str]
    _sender: Sender | None
    _link_check: LinkCheck | None
    _sysfs: Path

    # --- time ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.kit.clock().astimezone(WIB)

    def today(self) -> date:
        return self.now().date()

    # --- status --------------------------------------------------------------------------------

    def power(self) -> host.PowerState:
        return host.power(self._sysfs)

    def link_up(self) -> bool:
        return host.link_up(self._sysfs)

    def last_contact(self) -> datetime | None:
        """The latest time HQ acknowledged a packet from this kit."""
        with self.lock:
            acks = [e.acked_at for e in self.kit.outbox.entries() if e.acked_at is not None]
        return max(acks) if acks else None

    def free_disk_mb(self) -> int:
        return self.kit.free_disk_mb()

    def snapshot(self, *, self_test: bool = True) -> KitSnapshot:
        devices = self.device_states(self_test=self_test)
        free = self.free_disk_mb()
        with self.lock:
            counts = self.kit.outbox.counts()
            floor = self.kit.config.disk_floor_mb
        hq, down_since = self.hq_link()
        return KitSnapshot(
            devices=devices, power=self.power(), free_disk_mb=free, disk_floor_mb=floor,
            link_up=self.link_up(), waiting=counts.waiting, outbox=counts,
            last_contact=self.last_contact(),
            simulated=any(d.backend == "sim" for d in devices),
            hq=hq, hq_down_since=down_since,
        )

    def hq_link(self) -> tuple[str, datetime | None]:
        """Whether HQ is reached, from the sync daemon's state (it holds the one MQTT
        session): "connected", "unreachable" (and since when), or "" when no daemon runs
        or it is still starting."""
        daemon = self._sender.daemon() if self._sender is not None else None
        if daemon is None:
            return "", None
        if daemon.state == "connected":
            return "connected", None
        if daemon.state == "retrying":
            since = daemon.down_since or daemon.since
            return "unreachable", datetime.fromtimestamp(since, UTC)
        return "", None

    # --- sync ----------------------------------------------------------------------------------

    def waiting(self) -> int:
        """Packets not yet acknowledged by HQ."""
        with self.lock:
            return self.kit.outbox.counts().waiting

    def sync_overview(self) -> SyncOverview:
        with self.lock:
            counts = self.kit.outbox.counts()
            oldest = self.kit.outbox.oldest_unacked()
            entries = [e for e in self.kit.outbox.entries() if e.state is not PacketState.PURGED]
            broker = self.kit.config.broker
            midnight = datetime.combine(self.today(), datetime.min.time(), WIB)
            received_today = self.kit.outbox.received(since=midnight)
            received_total = self.kit.outbox.received()
        recent = tuple((e.packet_id, e.state.value, e.size, e.created_at)
                       for e in sorted(entries, key=lambda e: e.created_at, reverse=True)[:20])
        code, detail = self.last_sync_error
        daemon = self._sender.daemon() if self._sender is not None else None
        retry_at = None
        if daemon is not None and daemon.retry_at is not None:
            retry_at = datetime.fromtimestamp(daemon.retry_at, UTC)
        if daemon is not None and daemon.last_error and not code:
            code, detail = "transport", daemon.last_error
        return SyncOverview(counts=counts, waiting=counts.waiting,
                            oldest_waiting=oldest, last_contact=self.last_contact(),
                            last_error=code, last_error_detail=detail, broker=broker,
                            recent=recent, daemon=daemon.state if daemon else "",
                            daemon_retry_at=retry_at, received_today=received_today,
                            received_total=received_total)

    def can_send(self) -> bool:
        return self._sender is not None and bool(self.kit.config.broker)

    def send_now(self, *, timeout: float = 60.0) -> SyncResult:
        """Send what waits, once (:class:`sync.send_now.SendNow`: the running daemon is
        woken and watched, else one uplink session runs)."""
        if self._sender is None:
            raise NotAllowed("this kit's UI was started without a link to HQ")
        try:
            result = self._sender(self.waiting, timeout=timeout)
        except RekamError as exc:
            self.last_sync_error = (exc.code, str(exc))
            raise
        self.last_sync_error = (result.error_code, result.error_detail)
        return result

    # --- technician ----------------------------------------------------------------------------

    def is_technician(self) -> bool:
        return self.session is not None and self.session.operator.role is Role.TECHNICIAN

    def require_technician(self) -> None:
        if not self.is_technician():
            raise NotAllowed("the technician screen needs the technician role")

    def readiness(self, language: str) -> tuple[ReadinessCheck, ...]:
        """The kit's readiness checks (:mod:`edge.checks`) and the link to HQ, in words.
        ``rekam doctor`` also opens each device afresh, which a running UI holding the
        hardware would contend with: the open devices' own self-tests stand in for those."""
        with self.lock:
            found = checks.kit_checks(self.kit)
        if self._link_check is not None:
            found.append(self._link_check())  # the network: outside the lock
        cat = Catalogue(language)
        return tuple(ReadinessCheck(c.key, str(c.status), *cat.check(c)) for c in found)

    def technician_report(self, language: str = "id") -> TechnicianReport:
        import textual

        self.require_technician()
        with self.lock:
            status = self.kit.status()
            report = self.kit.audit.verify()
            tail = list(self.kit.audit.entries(max(0, status.audit_entries - 12)))
            hal_spec = self.kit.config.hal
        return TechnicianReport(
            device_id=status.device_id, software_version=status.software_version,
            textual_version=getattr(textual, "__version__", "?"),
            device_key_id=status.device_key_id, hq_signing_key_id=status.hq_signing_key_id,
            hq_sealing_key_id=status.hq_sealing_key_id, roster_version=status.roster_version,
            roster_size=status.roster_size, roster_expires_at=status.roster_expires_at,
            free_disk_mb=status.free_disk_mb, operators=status.operators,
            audit_entries=status.audit_entries, audit_ok=report.ok,
            audit_problem=report.problem or "", broker=status.broker, hal=hal_spec,
            devices=self.device_states(self_test=True),
            audit_tail=tuple((e.at, e.actor, e.action,
                              " ".join(f"{k}={v}" for k, v in e.detail.items()))
                             for e in tail[-12:]),
            checks=self.readiness(language),
        )
