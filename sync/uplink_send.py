"""The uplink's sending side: the outbox oldest first, a window of packets at a time, cut
into chunk frames published on ``up/packet`` (at most ``max_inflight`` awaiting PUBACK);
marked sent once every chunk is published; sent again when no ack came within the ack
timeout (doubling while HQ acks nothing) or early after HQ's "ingest online" announcement.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from contextlib import suppress
from datetime import timedelta

from edge.errors import NotFound
from edge.kitdb import atomic
from edge.outbox import OutboxEntry, PacketState
from sync.errors import PublishTimeout
from sync.protocol.chunks import Chunk, split_packet
from sync.protocol.topics import Channel, topic
from sync.uplink_base import Link, UplinkBase, _Flight, _wait_event

log = logging.getLogger("rekam.sync")


MARK_SENT_DELAY = 0.02  # seconds: packets published within it are marked sent together


class UplinkSender(UplinkBase):
    """Sending packets (a part of :class:`sync.uplink.Uplink`)."""

    def _expire(self) -> None:
        now = self.monotonic()
        for packet_id, flight in list(self._flights.items()):
            if flight.deadline <= now:
                del self._flights[packet_id]
                self._resume.pop(packet_id, None)
                if flight.early:  # HQ's ingest came back: not a round HQ left unanswered
                    log.info("packet %s sent again after HQ's ingest came back", packet_id)
                    self._early_ids.add(packet_id)
                    self._spend_early_round()
                    continue
                log.info("no ack for packet %s within %.0f s; it will be sent again",
                         packet_id, flight.wait)
                self._window.timed_out(now)
                at_current_wait = flight.wait >= self._ack_wait  # not one of an older round
                if at_current_wait and self._ack_wait < self.settings.ack_timeout_max:
                    # A whole round went unanswered: HQ's ingest is down or cut off.
                    self._ack_wait = min(2 * self._ack_wait, self.settings.ack_timeout_max)
                    log.warning("HQ acknowledged nothing for %.1f s; next re-sends after "
                                "%.1f s", flight.wait, self._ack_wait)
        for packet_id, until in list(self._parked.items()):
            if until <= now:
                del self._parked[packet_id]

    def _next_wait(self) -> float:
        deadlines = [f.deadline for f in self._flights.values() if f.deadline < math.inf]
        if self._early_at > self.monotonic():
            deadlines.append(self._early_at)
        wait = self.settings.poll
        if deadlines:
            wait = min(wait, max(0.0, min(deadlines) - self.monotonic()))
        return max(wait, 0.01)

    async def _wait_change(self) -> None:
        assert self._changed is not None
        await _wait_event(self._changed, self._next_wait())
        self._changed.clear()

    def _due(self, room: int) -> list[OutboxEntry]:
        skip = len(self._flights) + len(self._parked)
        wait = self._ack_wait
        early = self._early_cutoff is not None and self.monotonic() >= self._early_at
        if early:
            # Also due: sent before HQ's announcement (in this process or an earlier one)
            # and not acked since. Sent after it, they wait for the ack timeout as usual.
            assert self._early_cutoff is not None
            wait = min(wait, max(0.0, (self.kit.clock() - self._early_cutoff).total_seconds()))
        entries = self.kit.outbox.pending(resend_after=timedelta(seconds=wait),
                                          limit=room + skip)
        chosen = [e for e in entries
                  if e.packet_id not in self._flights and e.packet_id not in self._parked]
        if early and any(e.state is PacketState.SENT for e in chosen):
            self._spend_early_round()
        while self._early_ids and len(chosen) < room:  # went out as HQ came back (marked
            packet_id = self._early_ids.pop()           # sent after the announcement)
            with suppress(NotFound):
                entry = self.kit.outbox.get(packet_id)
                if (entry.state in (PacketState.SEALED, PacketState.SENT)
                        and packet_id not in self._flights
                        and all(e.packet_id != packet_id for e in chosen)):
                    chosen.append(entry)
        return chosen[:room]

    async def _sender(self, link: Link) -> None:
        slots = asyncio.Semaphore(self.settings.max_inflight)
        while True:
            self._expire()
            room = self._window.size - len(self._flights)
            entries = self._due(room) if room > 0 else []
            if not entries:
                await self._wait_change()
                continue
            for entry in entries:
                await self._start_packet(link, entry, slots)

    async def _start_packet(self, link: Link, entry: OutboxEntry,
                            slots: asyncio.Semaphore) -> None:
        try:
            data = self.kit.outbox.data(entry.packet_id)
        except NotFound:
            return  # purged meanwhile
        start = self._resume.pop(entry.packet_id, 0)
        chunks = list(split_packet(entry.packet_id, data, chunk_size=self.settings.chunk_size,
                                   start=start, sha256=entry.sha256))
        del data
        count = chunks[0].count if chunks else 0
        flight = _Flight(entry.sha256, count, done=set(range(start)), started=self.monotonic(),
                         resumed=start > 0)
        self._flights[entry.packet_id] = flight
        if entry.state is PacketState.SENT or entry.send_count:
            self.stats.packets_resent += 1
        if start:
            log.info("resuming packet %s at chunk %d of %d", entry.packet_id, start, count)
        name = topic(self.kit.device_id, Channel.PACKET)
        for chunk in chunks:
            await slots.acquire()
            task = asyncio.create_task(self._publish_chunk(link, name, chunk, flight, slots))
            flight.tasks.append(task)
            self._chunk_tasks.add(task)
            task.add_done_callback(self._chunk_tasks.discard)
        finisher = asyncio.create_task(self._finish_packet(entry.packet_id, flight))
        self._chunk_tasks.add(finisher)
        finisher.add_done_callback(self._chunk_tasks.discard)

    async def _publish_chunk(self, link: Link, name: str, chunk: Chunk, flight: _Flight,
                             slots: asyncio.Semaphore) -> bool:
        try:
            payload = chunk.encode()
            await link.publish(name, payload)
        except PublishTimeout as exc:
            self.stats.publish_timeouts += 1
            log.info("%s (it may still arrive; HQ's ack decides)", exc)
            return False
        finally:
            slots.release()
        flight.done.add(chunk.index)
        self.stats.chunks_published += 1
        self.stats.bytes_published += len(chunk.data)
        return True

    async def _finish_packet(self, packet_id: str, flight: _Flight) -> None:
        results = await asyncio.gather(*flight.tasks, return_exceptions=True)
        flight.tasks.clear()
        if any(isinstance(r, BaseException) for r in results):
            return  # the connection dropped: _end_session records where to resume
        if self._flights.get(packet_id) is not flight:
            return  # acked (or expired) while its last chunks were in the air
        # Packets finishing within MARK_SENT_DELAY are marked in one transaction (on
        # loopback a few hundred finish per second: one commit each cost the kit ~1 ms).
        if not self._to_mark:
            self._mark_timer = asyncio.get_running_loop().call_later(MARK_SENT_DELAY,
                                                                     self._mark_sent)
        self._to_mark.append((packet_id, flight))

    def _mark_sent(self) -> None:
        if self._mark_timer is not None:
            self._mark_timer.cancel()  # when called directly (the end of run)
            self._mark_timer = None
        if not self._to_mark:
            return
        try:
            self._mark_sent_batch()
        except sqlite3.Error as exc:  # kit.db busy or full: those packets are simply re-sent
            log.error("cannot mark packets sent: %s", exc)

    def _mark_sent_batch(self) -> None:
        batch, self._to_mark = self._to_mark, []
        now = self.monotonic()
        deadline = now + self._ack_wait
        for _, flight in batch:  # the ack clock runs even if the mark below fails
            flight.deadline, flight.wait, flight.sent = deadline, self._ack_wait, now
            if flight.early:  # begun before HQ's "online" announcement
                flight.deadline = min(deadline, max(self._early_at, self.monotonic()))
        with atomic(self.kit.conn):
            for packet_id, flight in batch:
                self.stats.packets_sent += 1  # every chunk of it was published
                if self._flights.get(packet_id) is not flight:
                    continue  # acked in the meantime: nothing to mark
                with suppress(NotFound):
                    self.kit.outbox.mark_sent(packet_id)
        self._wake()
