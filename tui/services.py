"""What the operator UI asks of the kit, in one object with no Textual import.

:class:`KitServices` receives everything it works with from the bootstrap
(:func:`rekam.bootstrap.ui_services`): a :class:`~edge.kit.Kit`, the kit's devices (real,
or simulated for demos and tests, or a function that opens them), the one-shot send to HQ
(:class:`sync.send_now.SendNow`) and the link check (:func:`sync.link.broker_check`). It
offers the UI exactly the calls it makes: login, the service point, the roster, the open
enrolment, sealing, the receipt, status, the sync queue and the technician's report.
Everything here is synchronous; the screens call it from Textual thread workers, never
from the event loop, so a slow device or Argon2 never freezes the UI.

This module holds the operator's day (login, the roster, the service point and the queue,
the open recording); the devices are :mod:`tui.services_devices`, and the kit's status,
sync and the technician's report :mod:`tui.services_status`, the classes it builds on.

Threading: ``kit.db`` is one SQLite connection shared by the UI and its workers, so every
call that touches it holds :attr:`KitServices.lock`. The encrypted roster is the kit's
one store (:meth:`edge.kit.Kit.roster`), opened once per login and serialised by the kit's
own lock; logging out closes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from edge.clock import WIB
from edge.errors import NotAllowed, WorklistExpired
from edge.invitation_token import looks_like_token
from edge.kit import Kit, invited_resident
from edge.operators import Role, Session
from edge.packet import SealedPacket
from edge.roster import RosterMeta, RosterStore, ScheduleEntry, SearchHit
from edge.service_point import DayBook, Expected, ServicePoint, expected_rws
from edge.workflow import Enrolment, ExceptionReason, Slot
from hal import host
from hal.types import Receipt
from tui.memory import release as release_memory
from tui.services_devices import Devices, DevicesFactory
from tui.services_status import LinkCheck, Sender, StatusServices
from tui.views import HomeOverview, Today

T = TypeVar("T")

NAME_QUERY_MAX = 60


class KitServices(StatusServices):
    """The kit as the UI sees it. The bootstrap builds it; tests pass a kit in a temporary
    home and simulated devices, and leave out the sender and the link check they need not."""

    def __init__(self, kit: Kit, devices: Devices | DevicesFactory, *,
                 sender: Sender | None = None, link_check: LinkCheck | None = None,
                 sysfs: Path = host.SYSFS) -> None:
        super().__init__(devices)
        self.kit = kit
        self._sender = sender
        self._link_check = link_check
        self.lock = threading.RLock()
        self.session: Session | None = None
        self.enrolment: Enrolment | None = None
        """The one open recording (its screens replace each other), until sealed or
        cancelled; logging out cancels it."""
        self._sysfs = sysfs
        self._day = DayBook(kit.paths.root)
        self.last_sync_error = ("", "")

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
