"""The dashboard's live updates: ``/events``, a server-sent event stream that names the
topics whose figures moved, and the one :class:`Watcher` per process that notices them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hq.web.gate import session_of


class EventStream:
    """The ``/events`` handler: each browser's stream of topic names, and a keepalive
    comment after ``keepalive_seconds`` without one (when the browser is still there)."""

    def __init__(self, keepalive_seconds: float) -> None:
        self.keepalive_seconds = keepalive_seconds

    async def events(self, request: Request) -> Response:
        session_of(request)
        watcher: Watcher = request.app.state.watcher
        queue = watcher.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 3000\n\n"
                while True:
                    try:
                        name = await asyncio.wait_for(
                            queue.get(), timeout=self.keepalive_seconds)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keepalive\n\n"
                        continue
                    if name is None:  # the server is stopping
                        return
                    yield f"event: {name}\ndata: {json.dumps({'at': _iso_now()})}\n\n"
            finally:
                watcher.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- change watcher for the event stream -------------------------------------------------


class Watcher:
    """One poller per server process: every ``poll_seconds`` it asks the database for a
    cheap change stamp per topic and tells every open event stream which topics moved.
    Each browser then fetches its own (scoped) fragments again, so the stream itself
    carries no figures and needs no per-user filtering."""

    def __init__(self, stamps: Callable[[], Awaitable[dict[str, object]]],
                 poll_seconds: float) -> None:
        self._stamps = stamps
        self._poll = poll_seconds
        self._queues: set[asyncio.Queue[str | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, object] = {}

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=16)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._queues.discard(queue)

    async def start(self) -> None:
        self._last = await self._stamps()
        self._task = asyncio.create_task(self._run(), name="dashboard-watcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            try:
                current = await self._stamps()
            except Exception:  # a database hiccup: try again next round
                continue
            moved = [k for k, v in current.items() if self._last.get(k) != v]
            self._last = current
            for name in moved:
                for queue in list(self._queues):
                    with contextlib.suppress(asyncio.QueueFull):  # a stuck browser skips one
                        queue.put_nowait(name)
