"""What a screen says happened (a resident chosen, a recording started, captures done...),
posted as one :class:`Happened` message that the app hands to :class:`tui.flow.Flow`,
which decides the next screen. Plain frozen dataclasses; no screen imports here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from textual.message import Message

from edge.residents import Resident
from edge.workflow import Enrolment


class Place(StrEnum):
    """The screens Home opens on a key."""

    FIND = "find"
    SYNC = "sync"
    SERVICE_POINT = "service_point"
    TECHNICIAN = "technician"


@dataclass(frozen=True)
class LoggedIn:
    pass


@dataclass(frozen=True)
class LoggedOut:
    pass


@dataclass(frozen=True)
class Opened:
    place: Place


@dataclass(frozen=True)
class ResidentChosen:
    resident: Resident


@dataclass(frozen=True)
class RecordingStarted:
    enrolment: Enrolment


def _nothing() -> str:
    return ""


@dataclass(frozen=True)
class CapturesDone:
    enrolment: Enrolment
    notice: Callable[[], str] = _nothing  # how to say it, in the language of the moment (F2)


@dataclass(frozen=True)
class StepBack:
    """From the review, back to the captures of the same recording."""

    enrolment: Enrolment


@dataclass(frozen=True)
class RecordingCancelled:
    """Cancelled; ``again`` names the resident whose identity screen comes back (the
    operator stepped back from the first capture), else Home."""

    again: Resident | None = None


@dataclass(frozen=True)
class NextResident:
    """The recording is sealed and its receipt done: on to the next resident."""


@dataclass(frozen=True)
class BackHome:
    pass


Event = (LoggedIn | LoggedOut | Opened | ResidentChosen | RecordingStarted | CapturesDone
         | StepBack | RecordingCancelled | NextResident | BackHome)


class Happened(Message):
    """What a screen posts; the app hands it to its :class:`Flow`."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
