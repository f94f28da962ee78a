"""What one batch of ingest is made of: the chunks it carries (with the message each came in,
PUBACKed once durable), a batch prepared for the commit, chunks held in memory between
batches, and the one exception that makes the ingest loop wait for the database
(:class:`DatabaseUnavailable`: nothing of the batch is acknowledged).

Used by the message handler (:mod:`hq.ingest`) and the worker loop (:mod:`hq.ingest_worker`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from edge.errors import RekamError
from hq.devices import Device
from hq.packets import NewPacket
from sync.errors import ProtocolError
from sync.mqtt import Incoming
from sync.protocol.chunks import Chunk
from sync.protocol.topics import parse_topic

_SetKey = tuple[str, str, str, int]  # (device id, packet id, sha256, chunk count)


@dataclass(frozen=True)
class _Item:
    device: Device
    chunk: Chunk
    name: str
    payload: bytes
    source: Incoming | None = None  # the message it came in (PUBACKed once it is durable)

    @property
    def set_key(self) -> _SetKey:
        c = self.chunk
        return (self.device.device_id, c.packet_id, c.sha256, c.count)


@dataclass
class Prepared:
    """A batch checked and ready to store (:meth:`Ingestor.prepare_batch`)."""

    now: datetime
    out: list[tuple[str, bytes]] = field(default_factory=list)  # acks due whatever happens
    packets: list[NewPacket] = field(default_factory=list)  # verified, to store
    # The messages HQ's database holds once this batch commits (stored, written to the
    # chunk table, refused into a dead letter, a status or report kept): the ingest loop
    # PUBACKs them to the broker then, and only then. Chunks still held in memory are not.
    settled: list[Incoming] = field(default_factory=list)


class DatabaseUnavailable(RekamError):
    """HQ's database cannot be reached (or is busy) for a whole batch: nothing of it is
    acknowledged, to the broker or to a kit; the ingest loop waits for the database and
    takes the batch again from the broker (persistent session: unacknowledged messages
    come again on reconnect)."""


@dataclass
class _Held:
    """Chunks of one packet kept in memory between batches (see Ingestor.handle_batch)."""

    parts: dict[int, _Item]
    since: float  # monotonic


def _transient(exc: SQLAlchemyError) -> bool:
    """The database is unreachable or busy (retry the whole batch later), as opposed to a
    statement it refuses (a bad row: find it and refuse only it)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _unavailable(what: str, exc: SQLAlchemyError) -> DatabaseUnavailable:
    return DatabaseUnavailable(f"HQ's database is unavailable ({what}): "
                               f"{str(exc).splitlines()[0][:300]}")


def _topic_device(name: str) -> str | None:
    try:
        return parse_topic(name)[0]
    except ProtocolError:
        return None

