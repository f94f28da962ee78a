"""What the operator UI asks of the kit, in one object with no Textual import.

:class:`KitServices` receives everything it works with from the bootstrap
(:func:`rekam.bootstrap.ui_services`): a :class:`~edge.kit.Kit`, the kit's devices (real,
or simulated for demos and tests, or a function that opens them), the one-shot send to HQ
(:class:`sync.send_now.SendNow`) and the link check (:func:`sync.link.broker_check`). It
offers the UI exactly the calls it makes: login, the service point, the roster, the open
enrolment, sealing, the receipt, status, the sync queue and the technician's report.
Everything here is synchronous; the screens call it from Textual thread workers, never
from the event loop, so a slow device or Argon2 never freezes the UI.

Threading: ``kit.db`` is one SQLite connection shared by the UI and its workers, so every
call that touches it holds :attr:`KitServices.lock`. The encrypted roster is the kit's
one store (:meth:`edge.kit.Kit.roster`), opened once per login and serialised by the kit's
own lock; logging out closes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from edge import checks
from edge.clock import WIB
from edge.errors import NotAllowed, RekamError, WorklistExpired
from edge.invitation_token import looks_like_token
from edge.kit import Kit, invited_resident
from edge.operators import Role, Session
from edge.outbox import PacketState
from edge.packet import SealedPacket
from edge.roster import RosterMeta, RosterStore, ScheduleEntry, SearchHit
from edge.service_point import DayBook, Expected, ServicePoint, expected_rws
from edge.workflow import CaptureDevices, Enrolment, ExceptionReason, Slot
from hal import host
from hal.errors import DeviceNotFound, code_of
from hal.ports import CodeReader, Device, ReceiptPrinter
from hal.types import DeviceKind, Receipt
from tui.catalogue import Catalogue
from tui.memory import release as release_memory
from tui.views import (
    DeviceState,
    HomeOverview,
    KitSnapshot,
    ReadinessCheck,
    SyncOverview,
    TechnicianReport,
    Today,
)

if TYPE_CHECKING:  # the MQTT side loads only when the operator sends
    from sync.daemon_state import DaemonState
    from sync.send_now import SyncResult

T = TypeVar("T")

STATUS_DEVICES = (DeviceKind.CAMERA, DeviceKind.FINGERPRINT, DeviceKind.IRIS,
                  DeviceKind.SIGNATURE, DeviceKind.CODE_READER, DeviceKind.RECEIPT_PRINTER)
"""The devices the status bar shows, in its order (the A4 printer and the lights have no
place on an 80-column line)."""


class Devices(CaptureDevices, Protocol):
    """What the UI needs of ``hal.registry.KitDevices`` (the bootstrap builds it): the
    workflow's capture devices, and the code reader and receipt printer."""

    @property
    def code_reader(self) -> CodeReader: ...
    @property
    def receipt_printer(self) -> ReceiptPrinter: ...
    @property
    def sim(self) -> Any: ...


class Sender(Protocol):
    """The one-shot send to HQ (:class:`sync.send_now.SendNow`)."""

    def __call__(self, waiting: Callable[[], int], *, timeout: float = ...) -> SyncResult: ...
    def daemon(self) -> DaemonState | None: ...


DevicesFactory = Callable[[], Devices]
"""Opens the kit's devices; the app calls it in a worker once the login screen is up, so
the screen appears before the device backends (numpy, OpenCV, vendor libraries) load."""

LinkCheck = Callable[[], checks.Check]
"""Whether HQ's broker answers (:func:`sync.link.broker_check`); may wait on the network."""

DEVICE_WAIT = 60.0
NAME_QUERY_MAX = 60


class KitServices:
    """The kit as the UI sees it. The bootstrap builds it; tests pass a kit in a temporary
    home and simulated devices, and leave out the sender and the link check they need not."""

    def __init__(self, kit: Kit, devices: Devices | DevicesFactory, *,
                 sender: Sender | None = None, link_check: LinkCheck | None = None,
                 sysfs: Path = host.SYSFS) -> None:
        self.kit = kit
        self._devices: Devices | None = None
        self._factory: DevicesFactory | None = None
        self._devices_ready = threading.Event()
        self._devices_error: BaseException | None = None
        if callable(devices):  # a factory (KitDevices itself is not callable)
            self._factory = devices
        else:
            self._devices = devices
            self._devices_ready.set()
        self._sender = sender
        self._link_check = link_check
        self.lock = threading.RLock()
        self.session: Session | None = None
        self.enrolment: Enrolment | None = None
        """The one open recording (its screens replace each other), until sealed or
        cancelled; logging out cancels it."""
        self._sysfs = sysfs
        self._day = DayBook(kit.paths.root)
        self._device_faults: dict[str, str] = {}
        self.last_sync_error: tuple[str, str] = ("", "")

    # --- devices ------------------------------------------------------------------------------

    def open_devices(self) -> Devices:
        """Open the devices now (a worker calls this once, at start); raises what the
        bootstrap raised, e.g. a production kit refusing simulated devices."""
        if self._devices is None and self._factory is not None:
            try:
                self._devices = self._factory()
            except BaseException as exc:
                self._devices_error = exc
                raise
            finally:
                self._devices_ready.set()
        assert self._devices is not None
        return self._devices

    @property
    def devices_ready(self) -> bool:
        return self._devices is not None

    @property
    def devices(self) -> Devices:
        """The devices, waiting (in a worker) for them to finish opening."""
        if self._devices is None:
            self._devices_ready.wait(DEVICE_WAIT)
        if self._devices is None:
            if self._devices_error is not None:
                raise self._devices_error
            raise DeviceNotFound("the kit's devices are not open yet")
        return self._devices

    def close_devices(self) -> None:
        devices, self._devices = self._devices, None
        close = getattr(devices, "close", None)
        if close is not None and self._factory is not None:  # we opened them: we close them
            close()

    def device(self, kind: str) -> Device:
        dev: Device = getattr(self.devices, kind)
        return dev

    def note_device_fault(self, kind: str, code: str) -> None:
        """A capture or print failed: show it in the status bar until the device works."""
        if kind:
            self._device_faults[kind] = code

    def note_device_ok(self, kind: str) -> None:
        self._device_faults.pop(kind, None)

    def device_states(self, *, self_test: bool = True) -> tuple[DeviceState, ...]:
        if not self.devices_ready:
            return ()
        states = []
        for kind in STATUS_DEVICES:
            try:
                dev = self.device(kind)
            except AttributeError:
                states.append(DeviceState(kind, False, "missing"))
                continue
            info = dev.info
            ok, detail = True, ""
            if self_test:
                try:
                    result = dev.self_test()
                    ok, detail = result.ok, result.detail
                except Exception as exc:  # a self-test must never take the status bar down
                    ok, detail = False, code_of(exc)
            if ok and kind in self._device_faults:
                # A device that failed during use but self-tests fine: trust the self-test
                # for unplug faults (it checks presence), keep printer faults (paper).
                fault = self._device_faults[kind]
                if fault in ("paper_out", "printer_offline"):
                    ok, detail = False, fault
                else:
                    self._device_faults.pop(kind, None)
            states.append(DeviceState(kind, ok, detail, info.model, info.serial, info.firmware,
                                      info.backend))
        return tuple(states)

    # --- time ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.kit.clock().astimezone(WIB)

    def today(self) -> date:
        return self.now().date()

    # --- operators -------------------------------------------------------------------------

    def login(self, operator_id: str, pin: str) -> Session:
        with self.lock:
            session = self.kit.login(operator_id.strip().lower(), pin)
        self.logout()
        self.session = session
        return session

    def apply_pending_worklist(self) -> int | None:
        """A worklist the sync daemon staged, applied now that a PIN opened the roster."""
        session = self._need_session()
        with self.lock:
            return self.kit.apply_pending_worklist(session)

    def logout(self) -> None:
        """End the session: an open recording is cancelled (its captures wiped from
        memory, the audit log says so) and the roster closed."""
        try:
            self.cancel()
        finally:
            self.enrolment = None
            self.kit.close_roster()
            self.session = None

    def close(self) -> None:
        self.logout()

    def supervisors(self) -> list[tuple[str, str]]:
        """(id, name) of every active supervisor, for the approval dialog."""
        with self.lock:
            ops = self.kit.operators.list()
        return [(o.id, o.name) for o in ops if o.role is Role.SUPERVISOR and not o.disabled]

    def is_technician(self) -> bool:
        return self.session is not None and self.session.operator.role is Role.TECHNICIAN

    def require_technician(self) -> None:
        if not self.is_technician():
            raise NotAllowed("the technician screen needs the technician role")

    def _need_session(self) -> Session:
        if self.session is None:
            raise NotAllowed("log in first")
        return self.session

    # --- the roster ------------------------------------------------------------------------

    def _store(self, fn: Callable[[RosterStore], T]) -> T:
        with self.kit.roster(self._need_session()) as store:
            return fn(store)

    def roster_meta(self) -> RosterMeta | None:
        return self._store(lambda s: s.meta())

    def schedule(self) -> list[ScheduleEntry]:
        meta = self.roster_meta()
        return sorted(meta.schedule, key=lambda s: s.date) if meta else []

    def schedule_today(self) -> list[ScheduleEntry]:
        today = self.today()
        return [s for s in self.schedule() if s.date == today]

    def _require_current(self) -> None:
        """WorklistExpired once the roster's worklist expired (RosterWiped once the kit
        wiped it; the kit closes its store then, so the next read opens anew)."""
        with self.lock:
            self.kit.require_current_roster()

    def roster_refusal(self) -> WorklistExpired | None:
        """Why search and recording are refused (an expired worklist), or None."""
        try:
            self._require_current()
        except WorklistExpired as exc:
            return exc
        return None

    def roster_counts(self) -> tuple[int, int]:
        """(residents on the roster, of whom recorded on this kit)."""
        return self._store(lambda s: (s.count(), s.enrolled_count(on_roster=True)))

    def expected(self, limit: int = 30) -> Expected:
        """Invited residents of today's RWs not yet recorded on this kit (none once the
        worklist expired: the home screen says so)."""
        rws = expected_rws(self.service_point(), self.schedule(), self.today())
        if self.roster_refusal() is not None:
            return Expected(rws, (), 0)
        residents, total = self._store(lambda s: s.awaiting(rw=rws, limit=limit))
        return Expected(rws, tuple(residents), total)

    def home_overview(self, expected_limit: int = 30) -> HomeOverview:
        total, done = self.roster_counts()
        meta = self.roster_meta()
        return HomeOverview(
            today=self.today_summary(), point=self.service_point(),
            schedule=tuple(self.schedule_today()), total=total, done=done,
            expires=meta.expires_at if meta else None, has_roster=meta is not None,
            expected=self.expected(limit=expected_limit) if meta else None,
            refused=self.roster_refusal())

    def search(self, query: str, *, rw: str | None = None, limit: int = 20) -> list[SearchHit]:
        """Roster search; the text of an invitation QR code (typed by a scanner that works
        as a keyboard) is verified and answers with its one resident, or is refused
        (:class:`~edge.errors.InvitationRefused`)."""
        query = query.strip()
        if not query:
            return []
        self._require_current()
        if looks_like_token(query):
            return [self.find_invitation(query)]
        query = query[:NAME_QUERY_MAX]  # no name is longer; keeps the search's work bounded
        return self._store(lambda s: s.search(query, rw=rw, limit=limit))

    def find_invitation(self, text: str) -> SearchHit:
        """The resident a scanned invitation token names, after checking it offline (HQ's
        signature, expiry, this kit's kelurahan); InvitationRefused says why not."""
        session = self._need_session()
        self._require_current()
        with self.lock:
            token = self.kit.verify_invitation(session, text)
        return self._store(lambda s: invited_resident(s, token))

    def resident_for_code(self, code: str) -> SearchHit | None:
        """What a scanned invitation QR (or a typed code or NIK) names, or None. A signed
        invitation token that fails its checks raises InvitationRefused."""
        code = code.strip()
        if looks_like_token(code):
            return self.find_invitation(code)
        for prefix in ("REKAM:", "rekam:", "REKAM-INV:"):
            if code.startswith(prefix):
                code = code[len(prefix):]
        hits = self.search(code, limit=2)
        exact = [h for h in hits if h.matched in ("nik", "invitation")]
        return exact[0] if len(exact) == 1 else None

    def read_code(self, timeout: float) -> str | None:
        """The next code held under the QR reader (blocks up to ``timeout``)."""
        return self.devices.code_reader.read(timeout=timeout)

    # --- the service point and the queue -----------------------------------------------------

    def service_point(self) -> ServicePoint | None:
        """Today's service point, or None when it was not set today."""
        with self.lock:
            return self._day.service_point(self.today())

    def last_service_point(self) -> ServicePoint | None:
        with self.lock:
            return self._day.last_service_point()

    def set_service_point(self, point: ServicePoint) -> ServicePoint:
        with self.lock:
            point = self._day.set_service_point(point, self.today())
            config = replace(self.kit.config, service_point=point.label())
            config.save(self.kit.paths)
            self.kit.config = config
            self.kit.audit.append(self._need_session().operator.id, "service_point_set",
                                  place_type=point.place_type, kelurahan=point.kelurahan,
                                  rw=point.rw)
        return point

    def call_next(self) -> int:
        """Call the next queue number; returns it."""
        with self.lock:
            return self._day.call_next(self.today())

    def today_summary(self) -> Today:
        start = datetime.combine(self.today(), datetime.min.time(), WIB)
        with self.lock:
            called, issued = self._day.queue(self.today())
            recorded = sum(1 for e in self.kit.outbox.entries() if e.created_at >= start)
        return Today(recorded=recorded, called=called, issued=issued)

    # --- the open enrolment -----------------------------------------------------------------

    def start_enrolment(self, nik: str) -> Enrolment:
        """Open a recording of ``nik`` (a recording still open is cancelled first)."""
        session = self._need_session()
        self.cancel()
        with self.lock:
            enrolment = self.kit.start_enrolment(session, nik, self.devices)
        self.enrolment = enrolment
        sim = getattr(self.devices, "sim", None)
        if sim is not None:  # the simulated resident in front of the simulated devices
            sim.set_subject(nik, birth_year=enrolment.resident.birth_date.year)
        return enrolment

    def approve_exception(self, enrolment: Enrolment, slot: Slot, reason: ExceptionReason,
                          supervisor_id: str, pin: str, note: str = "") -> str:
        with self.lock:
            record = enrolment.except_slot(slot, reason, supervisor_id=supervisor_id,
                                           pin=pin, note=note)
        return record.approved_by

    def seal(self, enrolment: Enrolment | None = None) -> SealedPacket:
        session = self._need_session()
        enrolment = enrolment or self.enrolment
        if enrolment is None:
            raise NotAllowed("no recording is open")
        with self.lock:
            packet = self.kit.seal_enrolment(session, enrolment)
        self._resident_leaves(enrolment)
        return packet

    def cancel(self, enrolment: Enrolment | None = None) -> None:
        """Cancel ``enrolment`` (the open one by default); nothing when none is open or it
        was sealed or cancelled already."""
        enrolment = enrolment or self.enrolment
        if enrolment is None or enrolment.step.value in ("sealed", "cancelled"):
            if enrolment is self.enrolment:
                self.enrolment = None
            return
        session = self._need_session()
        with self.lock:
            self.kit.cancel_enrolment(session, enrolment)
        self._resident_leaves(enrolment)

    def _resident_leaves(self, enrolment: Enrolment) -> None:
        if enrolment is self.enrolment:
            self.enrolment = None
        sim = getattr(self._devices, "sim", None)
        if sim is not None:
            sim.step_away()
        release_memory()

    def print_receipt(self, receipt: Receipt) -> None:
        self.devices.receipt_printer.print_receipt(receipt)

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
