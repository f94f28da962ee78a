"""What the operator UI asks of the kit, in one object with no Textual import.

:class:`KitServices` wraps a :class:`~edge.kit.Kit` and the kit's devices (handed in by the
bootstrap: real, or simulated for demos and tests) and offers the UI exactly the calls it
makes: login, the service point, the roster, an enrolment, sealing, the receipt, status,
the sync queue and the technician's report. Everything here is synchronous; the screens
call it from Textual thread workers, never from the event loop, so a slow device or
Argon2 never freezes the UI.

Threading: ``kit.db`` is one SQLite connection shared by the UI and its workers, so every
call that touches it holds :attr:`KitServices.lock`. The encrypted roster (SQLCipher)
connection may only be used by the thread that opened it, so roster reads run on one
dedicated thread (:class:`_RosterThread`) that keeps the store open for the session, as
``edge.roster`` advises for frequent searches.

The few facts the kit core does not keep (today's service point, the queue numbers) live
in ``tui-state.json`` in the kit's home.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from edge.clock import WIB
from edge.errors import NotAllowed, RosterWiped, WorklistExpired
from edge.invitation_token import looks_like_token
from edge.kit import Kit, invited_resident
from edge.operators import Role, Session
from edge.outbox import PacketState
from edge.packet import SealedPacket
from edge.residents import Resident
from edge.roster import RosterMeta, RosterStore, ScheduleEntry, SearchHit
from edge.workflow import CaptureDevices, Enrolment, ExceptionReason, Slot
from hal.errors import DeviceNotFound
from hal.ports import (
    CodeReader,
    Device,
    ReceiptPrinter,
)
from hal.types import Receipt
from tui.memory import release as release_memory

if TYPE_CHECKING:  # sync is imported only when the UI syncs
    from sync.daemon_state import DaemonState

T = TypeVar("T")

DAEMON_WAIT = 30.0
"""How long "kirim sekarang" watches the woken sync daemon before reporting what it saw."""
DAEMON_POLL = 0.5

DEVICE_KINDS = ("camera", "fingerprint", "iris", "signature", "code_reader", "receipt_printer")
"""The devices the status bar shows, in its order."""


class Devices(CaptureDevices, Protocol):
    """What the UI needs of ``hal.registry.KitDevices`` (the bootstrap builds it): the
    workflow's capture devices, and the code reader and receipt printer."""

    @property
    def code_reader(self) -> CodeReader: ...
    @property
    def receipt_printer(self) -> ReceiptPrinter: ...
    @property
    def sim(self) -> Any: ...


# --- value types the screens show ----------------------------------------------------------


class PlaceType:
    BALAI_RW = "balai_rw"
    SCHOOL = "school"
    HOME_VISIT = "home_visit"
    ALL = ("balai_rw", "school", "home_visit")


@dataclass(frozen=True)
class ServicePoint:
    """Where the kit stands today: a balai RW, a school, or a resident's home."""

    place_type: str
    kelurahan: str  # Kemendagri code
    rw: str  # "005"
    name: str  # "Balai RW 005", "SMAN 1 Bekasi", "Rumah Ibu Sari"
    day: str = ""  # ISO date it was set for

    def label(self) -> str:
        """The text stored in each packet's manifest (``KitConfig.service_point``)."""
        return f"{self.name}; {self.place_type}; {self.kelurahan}; RW {self.rw}"


@dataclass(frozen=True)
class Expected:
    """The invited residents the service point still awaits today."""

    rws: tuple[str, ...]  # the RWs they live in; empty: the whole roster
    residents: tuple[Resident, ...]  # the first of them, by RW and name
    total: int  # how many in all


@dataclass(frozen=True)
class DeviceState:
    kind: str
    ok: bool
    detail: str = ""  # a code: "unplugged", "paper_out", "simulated", ...
    model: str = ""
    serial: str = ""
    firmware: str = ""
    backend: str = ""


@dataclass(frozen=True)
class PowerState:
    source: str  # "mains", "battery", "unknown"
    percent: int | None = None


@dataclass(frozen=True)
class KitSnapshot:
    """Everything the always-visible status bar shows."""

    devices: tuple[DeviceState, ...]
    power: PowerState
    free_disk_mb: int
    disk_floor_mb: int
    link_up: bool
    waiting: int  # sealed + sent, not yet acknowledged by HQ
    outbox: dict[str, int]
    last_contact: datetime | None
    simulated: bool


@dataclass(frozen=True)
class Today:
    recorded: int  # sealed today on this kit
    called: int  # the queue number being served
    issued: int  # the last queue number handed out


@dataclass(frozen=True)
class SyncOverview:
    counts: dict[str, int]
    waiting: int
    oldest_waiting: datetime | None
    last_contact: datetime | None
    last_error: str  # an error code, "" when none
    last_error_detail: str
    broker: str
    recent: tuple[tuple[str, str, int, datetime], ...]  # packet id, state, size, created
    daemon: str = ""  # the sync daemon: connected / retrying / starting; "" when none runs
    daemon_retry_at: datetime | None = None  # retrying: when it reconnects on its own


@dataclass(frozen=True)
class SyncResult:
    sent: int
    acked: int
    waiting: int
    error_code: str = ""
    error_detail: str = ""


@dataclass(frozen=True)
class TechnicianReport:
    device_id: str
    software_version: str
    textual_version: str
    device_key_id: str
    hq_signing_key_id: str
    hq_sealing_key_id: str
    roster_version: int | None
    roster_size: int
    roster_expires_at: str | None
    free_disk_mb: int
    operators: int
    audit_entries: int
    audit_ok: bool
    audit_problem: str
    broker: str
    hal: str
    devices: tuple[DeviceState, ...]
    audit_tail: tuple[tuple[datetime, str, str, str], ...]  # at, actor, action, detail
    checks: tuple[ReadinessCheck, ...] = ()


@dataclass(frozen=True)
class ReadinessCheck:
    """One of ``rekam doctor``'s findings: status "ok", "warn" or "fail", already in words."""

    key: str
    status: str
    status_text: str
    label: str
    detail: str


@dataclass
class _TuiState:
    service_point: dict[str, str] | None = None
    queue_day: str = ""
    called: int = 0
    issued: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# --- the roster's own thread ------------------------------------------------------------------


class _RosterThread:
    """One thread that owns the open roster store for a session (SQLCipher connections are
    bound to the thread that opened them)."""

    def __init__(self, kit: Kit, session: Session) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roster")
        self._store: RosterStore | None = None
        self._kit, self._session = kit, session

    def call(self, fn: Callable[[RosterStore], T]) -> T:
        def run() -> T:
            if self._store is None:
                self._store = RosterStore.open(self._kit.paths.roster_db,
                                               self._session.roster_key)
            return fn(self._store)

        future: Future[T] = self._pool.submit(run)
        return future.result()

    def close(self) -> None:
        def shut() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        try:
            self._pool.submit(shut).result(timeout=5)
        finally:
            self._pool.shutdown(wait=False)


# --- the services ----------------------------------------------------------------------------


DevicesFactory = Callable[[], Devices]
"""Opens the kit's devices; the app calls it in a worker once the login screen is up, so
the screen appears before the device backends (numpy, OpenCV, vendor libraries) load."""

DEVICE_WAIT = 60.0
NAME_QUERY_MAX = 60


class KitServices:
    """The kit as the UI sees it. Construct with a kit and its devices (or a function that
    opens them); tests pass a kit in a temporary home and simulated devices."""

    def __init__(self, kit: Kit, devices: Devices | DevicesFactory, *,
                 sysfs: Path = Path("/sys")) -> None:
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
        self.lock = threading.RLock()
        self.session: Session | None = None
        self._roster: _RosterThread | None = None
        self._sysfs = sysfs
        self._state_path = kit.paths.root / "tui-state.json"
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
        self._roster = _RosterThread(self.kit, session)
        return session

    def apply_pending_worklist(self) -> int | None:
        """A worklist the sync daemon staged, applied now that a PIN opened the roster."""
        session = self._need_session()
        if self._roster is not None:  # the import replaces the roster under the open store
            self._roster.close()
            self._roster = None
        try:
            with self.lock:
                return self.kit.apply_pending_worklist(session)
        finally:
            self._roster = _RosterThread(self.kit, session)

    def logout(self) -> None:
        if self._roster is not None:
            self._roster.close()
        self._roster = None
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
        self._need_session()
        assert self._roster is not None
        return self._roster.call(fn)

    def roster_meta(self) -> RosterMeta | None:
        return self._store(lambda s: s.meta())

    def schedule(self) -> list[ScheduleEntry]:
        meta = self.roster_meta()
        return sorted(meta.schedule, key=lambda s: s.date) if meta else []

    def schedule_today(self) -> list[ScheduleEntry]:
        today = self.today()
        return [s for s in self.schedule() if s.date == today]

    def _require_current(self) -> None:
        """WorklistExpired once the roster's worklist expired (the kit may wipe it now)."""
        with self.lock:
            try:
                self.kit.require_current_roster()
            except RosterWiped:
                if self._roster is not None and self.session is not None:
                    # the open store reads a file that is gone: the next read opens anew
                    self._roster.close()
                    self._roster = _RosterThread(self.kit, self.session)
                raise

    def _worklist_expired(self) -> bool:
        try:
            self._require_current()
        except WorklistExpired:
            return True
        return False

    def roster_counts(self) -> tuple[int, int]:
        """(residents on the roster, of whom recorded on this kit)."""
        return self._store(lambda s: (s.count(), s.enrolled_count(on_roster=True)))

    def expected_rws(self) -> tuple[str, ...]:
        """The RWs whose residents are expected here today: the service point's RW, else
        those on HQ's schedule for today, else none (the whole roster)."""
        point = self.service_point()
        if point is not None and point.rw:
            return (point.rw,)
        return tuple(sorted({s.rw for s in self.schedule_today() if s.rw}))

    def expected(self, limit: int = 30) -> Expected:
        """Invited residents of today's RWs not yet recorded on this kit (none once the
        worklist expired: the home screen says so)."""
        rws = self.expected_rws()
        if self._worklist_expired():
            return Expected(rws, (), 0)
        residents, total = self._store(lambda s: s.awaiting(rw=rws, limit=limit))
        return Expected(rws, tuple(residents), total)

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

    def _load_state(self) -> _TuiState:
        try:
            data = json.loads(self._state_path.read_text())
            return _TuiState(**{k: v for k, v in data.items()
                                if k in _TuiState.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return _TuiState()

    def _save_state(self, state: _TuiState) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=1))
        os.replace(tmp, self._state_path)

    def service_point(self) -> ServicePoint | None:
        """Today's service point, or None when it was not set today."""
        data = self._load_state().service_point
        if not data:
            return None
        point = ServicePoint(**data)
        return point if point.day == self.today().isoformat() else None

    def last_service_point(self) -> ServicePoint | None:
        data = self._load_state().service_point
        return ServicePoint(**data) if data else None

    def set_service_point(self, point: ServicePoint) -> ServicePoint:
        point = replace(point, day=self.today().isoformat(),
                        rw=point.rw.strip().zfill(3) if point.rw.strip() else "")
        state = self._load_state()
        state.service_point = asdict(point)
        self._save_state(state)
        with self.lock:
            config = replace(self.kit.config, service_point=point.label())
            config.save(self.kit.paths)
            self.kit.config = config
            self.kit.audit.append(self._need_session().operator.id, "service_point_set",
                                  place_type=point.place_type, kelurahan=point.kelurahan,
                                  rw=point.rw)
        return point

    def _queue(self) -> _TuiState:
        state = self._load_state()
        if state.queue_day != self.today().isoformat():
            state.queue_day, state.called, state.issued = self.today().isoformat(), 0, 0
        return state

    def call_next(self) -> int:
        """Call the next queue number; returns it."""
        state = self._queue()
        state.called += 1
        state.issued = max(state.issued, state.called)
        self._save_state(state)
        return state.called

    def today_summary(self) -> Today:
        state = self._queue()
        start = datetime.combine(self.today(), datetime.min.time(), WIB)
        with self.lock:
            recorded = sum(1 for e in self.kit.outbox.entries() if e.created_at >= start)
        return Today(recorded=recorded, called=state.called, issued=state.issued)

    # --- enrolment ---------------------------------------------------------------------------

    def start_enrolment(self, nik: str) -> Enrolment:
        session = self._need_session()
        with self.lock:
            enrolment = self.kit.start_enrolment(session, nik, self.devices)
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

    def seal(self, enrolment: Enrolment) -> SealedPacket:
        session = self._need_session()
        with self.lock:
            packet = self.kit.seal_enrolment(session, enrolment)
        self._resident_leaves()
        return packet

    def cancel(self, enrolment: Enrolment) -> None:
        if enrolment.step.value in ("sealed", "cancelled"):
            return
        session = self._need_session()
        with self.lock:
            self.kit.cancel_enrolment(session, enrolment)
        self._resident_leaves()

    def _resident_leaves(self) -> None:
        sim = getattr(self.devices, "sim", None)
        if sim is not None:
            sim.step_away()
        release_memory()

    def print_receipt(self, receipt: Receipt) -> None:
        self.devices.receipt_printer.print_receipt(receipt)

    # --- devices -----------------------------------------------------------------------------

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
        for kind in DEVICE_KINDS:
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
                    ok, detail = False, getattr(exc, "code", "error")
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

    # --- status --------------------------------------------------------------------------------

    def power(self) -> PowerState:
        """Battery (and its level) or mains, from the kernel's power-supply class; on a Pi
        without a battery, the firmware's under-voltage alarm (``rpi_volt``)."""
        battery: int | None = None
        on_mains: bool | None = None
        for supply in _children(self._sysfs / "class" / "power_supply"):
            kind = _read(supply / "type")
            if kind == "Battery":
                level = _read(supply / "capacity")
                if level.isdigit():
                    battery = int(level)
                status = _read(supply / "status")
                if status in ("Charging", "Full"):
                    on_mains = True
                elif status == "Discharging" and on_mains is None:
                    on_mains = False
            elif kind in ("Mains", "USB", "USB_PD") and _read(supply / "online") == "1":
                on_mains = True
        if battery is not None:
            return PowerState("mains" if on_mains else "battery", battery)
        for hwmon in _children(self._sysfs / "class" / "hwmon"):
            if _read(hwmon / "name") == "rpi_volt":
                alarm = _read(hwmon / "in0_lcrit_alarm") == "1"
                return PowerState("undervoltage" if alarm else "mains")
        return PowerState("mains" if on_mains else "unknown")

    def link_up(self) -> bool:
        """A network interface other than loopback is up (carrier), so HQ may be reachable."""
        root = self._sysfs / "class" / "net"
        try:
            names = [p.name for p in root.iterdir() if p.name != "lo"]
        except OSError:
            return False
        return any(_read(root / n / "operstate") == "up" for n in names)

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
        return KitSnapshot(
            devices=devices, power=self.power(), free_disk_mb=free, disk_floor_mb=floor,
            link_up=self.link_up(), waiting=counts["sealed"] + counts["sent"], outbox=counts,
            last_contact=self.last_contact(),
            simulated=any(d.backend == "sim" for d in devices),
        )

    # --- sync ----------------------------------------------------------------------------------

    def sync_overview(self) -> SyncOverview:
        with self.lock:
            counts = self.kit.outbox.counts()
            oldest = self.kit.outbox.oldest_unacked()
            entries = [e for e in self.kit.outbox.entries() if e.state is not PacketState.PURGED]
            broker = self.kit.config.broker
        recent = tuple((e.packet_id, e.state.value, e.size, e.created_at)
                       for e in sorted(entries, key=lambda e: e.created_at, reverse=True)[:20])
        code, detail = self.last_sync_error
        daemon = self.sync_daemon()
        retry_at = None
        if daemon is not None and daemon.retry_at is not None:
            retry_at = datetime.fromtimestamp(daemon.retry_at, UTC)
        if daemon is not None and daemon.last_error and not code:
            code, detail = "transport", daemon.last_error
        return SyncOverview(counts=counts, waiting=counts["sealed"] + counts["sent"],
                            oldest_waiting=oldest, last_contact=self.last_contact(),
                            last_error=code, last_error_detail=detail, broker=broker,
                            recent=recent, daemon=daemon.state if daemon else "",
                            daemon_retry_at=retry_at)

    def sync_daemon(self) -> DaemonState | None:
        """The running sync daemon's state, or None when none runs."""
        from sync.daemon_state import read_state

        return read_state(self.kit.paths.root)

    def can_send(self) -> bool:
        return bool(self.kit.config.broker)

    def send_now(self, *, timeout: float = 60.0) -> SyncResult:
        """Send what waits, once, through ``sync.uplink`` (the same code as ``rekam sync
        --once``), on a connection to ``kit.db`` of its own. When the sync daemon runs, it
        is asked to send instead (a second MQTT session under the kit's name would knock
        the daemon's off the broker), and this waits while it does."""
        import asyncio

        from sync.daemon_state import wake

        with self.lock:
            counts = self.kit.outbox.counts()
        waiting_before = counts["sealed"] + counts["sent"]
        woken_at = time.time()
        daemon = wake(self.kit.paths.root)
        if daemon is not None:
            return self._watch_daemon(waiting_before, woken_at, min(timeout, DAEMON_WAIT))

        from edge.errors import RekamError
        from edge.kit import open_kit
        from sync.settings import SyncSettings
        from sync.uplink import Uplink

        home = self.kit.paths.root
        settings = SyncSettings.load(home, once_timeout=timeout)
        with open_kit(home) as kit:
            uplink = Uplink(kit, settings)

            async def run() -> None:
                await uplink.run(asyncio.Event(), once=True)

            try:
                asyncio.run(run())
            except RekamError as exc:
                self.last_sync_error = (exc.code, str(exc))
                raise
            counts = kit.outbox.counts()
        stats = uplink.stats
        waiting = counts["sealed"] + counts["sent"]
        failed = stats.last_error and (waiting or stats.connects == 0)
        error = ("transport", stats.last_error) if failed else ("", "")
        self.last_sync_error = error
        return SyncResult(sent=stats.packets_sent, acked=stats.acked, waiting=waiting,
                          error_code=error[0], error_detail=error[1])

    def _watch_daemon(self, waiting_before: int, woken_at: float, timeout: float) -> SyncResult:
        """Watch the woken daemon work: done when nothing waits, failed when it had to go
        back to waiting for a retry after it was woken, else what it managed in time."""
        from sync.daemon_state import RETRYING, read_state

        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                counts = self.kit.outbox.counts()
            waiting = counts["sealed"] + counts["sent"]
            daemon = read_state(self.kit.paths.root)
            done = waiting_before - waiting if waiting_before > waiting else 0
            if daemon is None:
                error = ("sync_stopped", "")
            elif daemon.state == RETRYING and daemon.since > woken_at:
                error = ("transport", daemon.last_error)
            else:
                error = ("", "")
            if waiting == 0 or error[0] or time.monotonic() >= deadline:
                self.last_sync_error = error
                return SyncResult(sent=done, acked=done, waiting=waiting,
                                  error_code=error[0], error_detail=error[1])
            time.sleep(DAEMON_POLL)

    # --- technician ----------------------------------------------------------------------------

    def readiness(self, language: str) -> tuple[ReadinessCheck, ...]:
        """``rekam doctor``'s checks of disk, clock, keys, roster and the link to HQ. Its
        device checks open each device afresh, which a running UI holding the hardware
        would contend with: the open devices' own self-tests stand in for them."""
        try:
            from rekam import doctor
        except ImportError:
            return ()
        text = doctor.TEXT[doctor.language_of(self.kit, language)]
        with self.lock:
            found = doctor.kit_checks(self.kit, language)
        found.append(doctor.link_check(self.kit, language))  # network: outside the lock
        return tuple(ReadinessCheck(c.key, c.status, text[c.status], c.label, c.detail)
                     for c in found)

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


def _children(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir())
    except OSError:
        return []


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


