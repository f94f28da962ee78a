"""Messages that workers post back to the UI. Workers never touch widgets: they do the slow
thing (a device, Argon2, sealing, the network) and post one of these; the screen's handler
updates what is shown. Messages that stand for "the latest state" replace older ones still
queued (``can_replace``), after toolong's habit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from edge.operators import Session
from edge.packet import SealedPacket
from edge.roster import ScheduleEntry, SearchHit
from edge.workflow import AttemptOutcome, Enrolment, Slot
from tui.views import HomeOverview, KitSnapshot, SyncOverview, TechnicianReport

if TYPE_CHECKING:
    from sync.send_now import SyncResult


class Failed(Message):
    """A worker's expected failure: a typed error from the core or a device. ``context``
    names what it concerned (the operator id of a failed login)."""

    def __init__(self, what: str, error: BaseException, context: str = "") -> None:
        super().__init__()
        self.what = what
        self.error = error
        self.context = context


class StatusUpdated(Message):
    """``seq`` orders the requests: a slower, older worker's answer must not overwrite a
    newer one (a worker replaced by an exclusive newer one still runs to its end)."""

    def __init__(self, snapshot: KitSnapshot, seq: int = 0) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.seq = seq

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusUpdated)


class LoggedIn(Message):
    def __init__(self, session: Session, worklist: int | None,
                 worklist_error: BaseException | None) -> None:
        super().__init__()
        self.session = session
        self.worklist = worklist
        self.worklist_error = worklist_error


class SearchDone(Message):
    def __init__(self, query: str, hits: list[SearchHit]) -> None:
        super().__init__()
        self.query = query
        self.hits = hits

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SearchDone)


class CodeScanned(Message):
    def __init__(self, code: str, hit: SearchHit | None) -> None:
        super().__init__()
        self.code = code
        self.hit = hit


class EnrolmentStarted(Message):
    def __init__(self, enrolment: Enrolment) -> None:
        super().__init__()
        self.enrolment = enrolment


class Captured(Message):
    def __init__(self, outcome: AttemptOutcome, seconds: float) -> None:
        super().__init__()
        self.outcome = outcome
        self.seconds = seconds


class CaptureFailed(Message):
    def __init__(self, slot: Slot, error: BaseException) -> None:
        super().__init__()
        self.slot = slot
        self.error = error


class Sealed(Message):
    def __init__(self, packet: SealedPacket) -> None:
        super().__init__()
        self.packet = packet


class Printed(Message):
    pass


class SyncLoaded(Message):
    def __init__(self, overview: SyncOverview, result: SyncResult | None = None) -> None:
        super().__init__()
        self.overview = overview
        self.result = result


class ReportLoaded(Message):
    def __init__(self, report: TechnicianReport) -> None:
        super().__init__()
        self.report = report


class HomeLoaded(Message):
    def __init__(self, overview: HomeOverview) -> None:
        super().__init__()
        self.overview = overview

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HomeLoaded)


class ScheduleLoaded(Message):
    """HQ's schedule of visits for this kit, soonest first."""

    def __init__(self, schedule: list[ScheduleEntry]) -> None:
        super().__init__()
        self.schedule = schedule


class Approved(Message):
    """A supervisor's PIN approved an exception; ``by`` is the supervisor's id."""

    def __init__(self, by: str) -> None:
        super().__init__()
        self.by = by
