"""The uplink's receiving side: HQ's signed acks (the packets they settle), worklists and
config from HQ (each result reported on ``up/report``), and HQ's "ingest online"
announcement, which brings the re-send of what the broker may have lost forward.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from edge.errors import RekamError
from edge.kitdb import atomic
from sync import downlink
from sync.mqtt import Incoming
from sync.protocol.acks import verify_online
from sync.protocol.status import Report
from sync.protocol.topics import ONLINE_TOPIC, Channel, parse_topic
from sync.uplink_base import Link, UplinkBase

log = logging.getLogger("rekam.sync")


HQ_ONLINE_SINCE = "hq_online_since"  # the last "ingest online since" HQ announced
HQ_BROKER_SINCE = "hq_broker_since"  # ... and when it said the broker had started


class UplinkReceiver(UplinkBase):
    """Receiving from HQ (a part of :class:`sync.uplink.Uplink`)."""

    async def _receiver(self, link: Link) -> None:
        messages = link.messages().__aiter__()
        while True:
            batch = [await messages.__anext__()]
            while link.queued() and len(batch) < 256:
                batch.append(await messages.__anext__())
            await self._dispatch(link, batch)

    async def _dispatch(self, link: Link, batch: list[Incoming]) -> None:
        acks: list[bytes] = []
        reports: list[Report] = []
        for message in batch:
            if message.topic == ONLINE_TOPIC:
                self._online(message.payload, retained=message.retain)
                continue
            try:
                device, channel = parse_topic(message.topic)
            except RekamError as exc:
                log.warning("ignored a message on %s: %s", message.topic, exc)
                continue
            if device != self.kit.device_id:
                log.warning("ignored a message for %s on our session", device)
                continue
            if channel is Channel.ACK:
                acks.append(message.payload)
            elif channel is Channel.WORKLIST and message.payload:
                report = downlink.handle_worklist(self.kit, message.payload)
                if report:
                    reports.append(report)
            elif channel is Channel.CONFIG and message.payload:
                report = downlink.handle_config(self.kit, message.payload)
                if report:
                    reports.append(report)
        if acks:
            outcome = downlink.handle_acks(self.kit, acks)
            self.stats.acked += len(outcome.acked)
            self.stats.repeated_acks += len(outcome.repeated)
            self.stats.refused_acks += len(outcome.refused)
            now = self.monotonic()
            for packet_id in [*outcome.acked, *outcome.repeated]:
                flight = self._flights.pop(packet_id, None)
                self._resume.pop(packet_id, None)
                if flight is not None:  # HQ's queue (sync.window); for an ack that beat
                    # the kit's own "sent" mark, the time since the send began bounds it
                    self._window.acked(now - (flight.sent or flight.started), now)
            if outcome.acked or outcome.repeated:
                self._ack_wait = self.settings.ack_timeout  # HQ is listening again
                self._early_armed = True
                backlog = self._early_pending & {*outcome.acked, *outcome.repeated}
                if backlog:  # HQ is still storing what the broker kept from before
                    self._early_pending -= backlog
                    self._postpone_early()
            for ack in outcome.rejected:
                self.stats.rejected_by_hq += 1
                self._flights.pop(ack.packet_id, None)
                self._parked[ack.packet_id] = (self.monotonic()
                                               + 10 * self.settings.ack_timeout)
                reports.append(Report(self.kit.device_id, self.kit.clock(), "packet",
                                      "rejected", detail=f"{ack.packet_id}: {ack.reason}"))
            if outcome.acked and self.kit.config.ack_grace_hours <= 0:
                self.purge(on_ack=True)  # no grace: bytes go now, before the next acks
            self._wake()
            if self._acks_in is not None:
                self._acks_in.set()
        for report in reports:
            await self._publish_report(link, report)

    def _postpone_early(self) -> None:
        """Acks for packets sent before the announcement are coming in while an early re-send
        waits: HQ is working through what the broker kept (a backlog may take longer than
        ``resend_settle``), so sending it all again now would only double HQ's work. The
        early re-send waits until no such ack came for ``resend_settle``; what the broker
        lost goes then (acks for packets sent since do not hold it back)."""
        now = self.monotonic()
        if not now < self._early_at < math.inf:
            return
        self._early_at = now + self.settings.resend_settle
        for flight in self._flights.values():
            if flight.early and flight.deadline < math.inf:
                flight.deadline = max(flight.deadline, self._early_at)

    def _online(self, payload: bytes, *, retained: bool = False) -> None:
        """HQ's ingest announced itself online (retained, so also on every connect). A new
        announcement may follow an outage in which the broker lost or dropped what the kit
        handed it (ingest down past its session, a broker crash): every packet sent before
        it and not acked within ``resend_settle`` seconds (time for what the broker kept to
        be stored and acked, longer while acks keep coming: :meth:`_postpone_early`) is sent
        again, instead of after the ack timeout."""
        try:
            online = verify_online(payload, trusted=self.kit.trusted_hq_keys())
        except RekamError as exc:
            log.warning("ignored an HQ online announcement: %s", exc)
            return
        since = online.since.isoformat()
        if self.kit.state.get(HQ_ONLINE_SINCE) == since:
            return  # the retained one again
        last_broker = self.kit.state.get(HQ_BROKER_SINCE)
        with atomic(self.kit.conn):
            self.kit.state.set(HQ_ONLINE_SINCE, since)
            if online.broker_since is not None:
                self.kit.state.set(HQ_BROKER_SINCE, online.broker_since.isoformat())
        if not online.may_have_lost(datetime.fromisoformat(last_broker) if last_broker
                                    else None):
            log.info("HQ ingest online since %s (%s) with its queue kept at the broker: "
                     "nothing to send again", since, online.worker or "?")
            return
        if not self._early_armed:
            log.info("HQ ingest online since %s, but HQ acked nothing since the last early "
                     "re-send: unacked packets wait for their ack timeout", since)
            return
        now = self.monotonic()
        self._early_at = now + self.settings.resend_settle
        self._early_connection = self.stats.connects
        # Delivered as retained (on our subscribe): made before the broker had that
        # SUBSCRIBE, so what was begun after it went to the worker that made it (the broker
        # handles one connection's packets in order); what was begun before it may be
        # lost. The SUBSCRIBE goes out ahead of this connection's first chunk
        # (Uplink._subscribe_online): were it behind them, a worker subscribing and
        # announcing itself in between would not have been there for them. Delivered
        # live: everything so far.
        if retained and self._online_asked_clock is not None:
            before, self._early_cutoff = self._online_asked, self._online_asked_clock
        else:
            before, self._early_cutoff = now, self.kit.clock()
        # A packet cut by a dropped connection resumes where its PUBACKs stopped; the
        # broker may have lost chunks it had PUBACKed: those go again from the first.
        self._resume.clear()
        self._early_pending = {r[0] for r in self.kit.conn.execute(
            "SELECT packet_id FROM outbox WHERE state = 'sent' AND sent_at < ?",
            (self._early_cutoff.isoformat(),))}
        for packet_id, flight in self._flights.items():
            # A packet resumed on this connection began on an earlier one: the chunks it
            # had then (even all of them, PUBACKed just before the drop) may be lost too.
            if flight.started >= before and not flight.resumed:
                continue
            self._early_pending.add(packet_id)
            if flight.deadline == math.inf:  # still going out: early once it is marked sent
                flight.early = True
            elif self._early_at < flight.deadline:
                flight.deadline, flight.early = self._early_at, True
        log.info("HQ ingest online since %s (%s): unacked packets go again in %.0f s",
                 since, online.worker or "?", self.settings.resend_settle)
        self._wake()
