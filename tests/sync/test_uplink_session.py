"""The kit's session against a scripted link (no broker): what goes on the wire in which
order, and what it waits for. Round trips are what a slow 3G/4G link charges for."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from edge.config import KitConfig, KitPaths
from edge.kit import Kit, install_bundle
from edge.operators import KdfParams
from edge.provisioning import open_bundle
from sync.errors import NotAuthorized
from sync.mqtt import Incoming
from sync.protocol.acks import Ack, AckStatus, sign_ack
from sync.protocol.chunks import decode_chunk
from sync.protocol.topics import Channel, topic
from sync.settings import SyncSettings
from sync.uplink import Uplink
from sync.window import AckWindow

KELURAHAN = "32.75.01.1001"
FAST = {"ack_timeout": 3.0, "publish_timeout": 3.0, "connect_timeout": 3.0, "keepalive": 5,
        "heartbeat": 1.0, "poll": 0.2, "backoff_initial": 0.2, "backoff_max": 1.0,
        "purge_every": 0.5, "tcp_congestion": ""}


def make_packet(kit, size: int):  # type: ignore[no-untyped-def]
    import uuid6

    from edge.packet import Manifest, seal

    now = datetime.now(UTC)
    manifest = Manifest(packet_id=str(uuid6.uuid7()), nik="3275014101050001",
                        kelurahan="32.75.01.1001",
                        device_id=kit.device_id, operator_id="budi", service_point="test",
                        started_at=now.isoformat(), sealed_at=now.isoformat(),
                        software_version="test")
    return seal(manifest, {"face.jpg": os.urandom(size)}, hq_key=kit.hq_sealing_key(),
                device_key=kit.device_key(), created_at=now)


class ScriptedLink:
    """Records every call in order; the SUBACK and the PUBACKs of status messages come only
    when the test says so; HQ's acks are made by the test."""

    def __init__(self, hq_keys) -> None:  # type: ignore[no-untyped-def]
        self.calls: list[str] = []
        self.suback = asyncio.Event()
        self.refuse_subscription = False
        self.inbox: asyncio.Queue[Incoming] = asyncio.Queue()
        self.hq_keys = hq_keys
        self.status_pubacks = asyncio.Event()
        self.hq_silent = False  # HQ's ingest down: no acks
        self.sent: list[tuple[str, float]] = []  # (packet id, when its last chunk went)

    def sends(self, packet_id: str) -> list[float]:
        return [at for pid, at in self.sent if pid == packet_id]

    async def subscribe(self, name: str, *, timeout: float | None = None) -> None:
        self.calls.append(f"subscribe {name}")
        await self.suback.wait()
        if self.refuse_subscription:
            raise NotAuthorized(f"subscribe to {name}: refused by the broker")
        self.calls.append("suback")

    async def publish(self, name: str, payload: bytes, *, retain: bool = False,
                      timeout: float | None = None) -> None:
        if name.endswith("/up/packet"):
            chunk = decode_chunk(payload)
            self.calls.append(f"chunk {chunk.index}/{chunk.count}")
            if chunk.index == chunk.count - 1:
                self.sent.append((chunk.packet_id, asyncio.get_running_loop().time()))
            if chunk.index == chunk.count - 1 and not self.hq_silent:  # HQ stores it, acks
                device = name.split("/")[2]
                ack = Ack(device, chunk.packet_id, chunk.sha256, AckStatus.STORED,
                          datetime.now(UTC))
                await self.inbox.put(Incoming(topic(device, Channel.ACK),
                                              sign_ack(ack, self.hq_keys.signing), False))
            return
        self.calls.append(f"publish {name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}")
        await self.status_pubacks.wait()

    async def messages(self):  # type: ignore[no-untyped-def]
        while True:
            yield await self.inbox.get()

    def queued(self) -> int:
        return self.inbox.qsize()


@pytest.fixture
def kit(hq_home, tmp_path):  # type: ignore[no-untyped-def]
    from hq.db import make_engine
    from hq.devices import add_device

    engine = make_engine(hq_home.database_url())
    bundle, code = add_device(engine, hq_home.keys(), "kit-s", [KELURAHAN],
                              "mqtts://localhost:1")
    paths = KitPaths(tmp_path / "kit-s")
    install_bundle(paths, open_bundle(bundle, code))
    KitConfig.load(paths).with_setting("ack_grace_hours", "0").save(paths)
    kit = Kit(tmp_path / "kit-s", kdf=KdfParams(memory_kib=8192, iterations=1))
    yield kit
    kit.close()
    engine.dispose()


def _uplink(kit, link):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def connector(_options):  # type: ignore[no-untyped-def]
        yield link

    settings = SyncSettings(**{**FAST, "chunk_size": 1024, "once_timeout": 10.0})
    return Uplink(kit, settings, connector=connector)


async def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_packets_go_out_before_the_suback_and_once_ends_without_waiting_for_pubacks(
        kit, hq_home):
    """The SUBSCRIBE is sent first, the chunks follow it without waiting for the SUBACK;
    ``--once`` ends as soon as the last ack is in, and its goodbye status waits for no
    PUBACK (each wait would be a round trip on a slow link). Acked bytes are purged at once
    when the grace is zero."""
    kit.outbox.add(make_packet(kit, 3000))
    link = ScriptedLink(hq_home.keys())
    uplink = _uplink(kit, link)

    async def main() -> None:
        run = asyncio.create_task(uplink.run(asyncio.Event(), once=True))
        await _until(lambda: any(c.startswith("chunk") for c in link.calls))
        assert link.calls[0] == "subscribe rekam/v1/kit-s/down/#"
        assert "suback" not in link.calls  # chunks in flight, SUBACK still outstanding
        # the run ends with neither the SUBACK nor a status PUBACK ever coming
        stats = await asyncio.wait_for(run, timeout=5)
        assert stats.acked == 1 and stats.purged == 1

    asyncio.run(main())
    assert link.calls[-1] == "publish up/status"  # the goodbye, the last thing it said
    assert kit.outbox.counts()["purged"] == 1


def test_a_refused_subscription_still_ends_the_session(kit, hq_home):
    link = ScriptedLink(hq_home.keys())
    link.refuse_subscription = True
    link.suback.set()
    uplink = _uplink(kit, link)

    async def main() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(uplink.run(stop))
        await _until(lambda: "refused" in uplink.stats.last_error)
        stop.set()
        await asyncio.wait_for(run, timeout=5)

    asyncio.run(main())
    assert uplink.stats.connects >= 1


def test_waiting_for_an_event_never_swallows_a_cancellation():
    """``asyncio.wait_for(event.wait())`` on Python 3.11 returns normally when it is
    cancelled in the loop turn the event is set in: a session's task woken by an ack batch
    as the session ended then lived on, and ``--once`` never returned."""
    from sync.uplink_base import _wait_event

    async def main() -> None:
        event = asyncio.Event()
        task = asyncio.create_task(_wait_event(event, 10))
        await asyncio.sleep(0)
        event.set()
        task.cancel()  # in the same turn
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_ending_a_session_outlasts_a_swallowed_cancellation():
    from sync.uplink_base import _cancel_all

    async def stubborn() -> None:
        with suppress(asyncio.CancelledError):  # swallowed, as a library may
            await asyncio.sleep(10)
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(_cancel_all([task]), timeout=5)
        assert task.cancelled()

    asyncio.run(main())


def test_re_sends_back_off_while_hq_acks_nothing_and_recover_on_an_ack(kit, hq_home):
    """HQ's ingest down, the broker up: each unanswered round waits twice as long before
    the next (a metered modem must not re-send a window every few minutes all day); the
    first ack brings the wait back to ``ack_timeout``."""
    packet = make_packet(kit, 3000)
    kit.outbox.add(packet)
    link = ScriptedLink(hq_home.keys())
    link.suback.set()
    link.hq_silent = True

    @asynccontextmanager
    async def connector(_options):  # type: ignore[no-untyped-def]
        yield link

    settings = SyncSettings(**{**FAST, "ack_timeout": 0.2, "ack_timeout_max": 0.8,
                               "poll": 0.02})
    uplink = Uplink(kit, settings, connector=connector)

    async def main() -> list[float]:
        stop = asyncio.Event()
        run = asyncio.create_task(uplink.run(stop))
        await asyncio.sleep(2.5)
        sends = link.sends(packet.packet_id)
        link.hq_silent = False  # ingest is back: the next re-send is acked
        await _until(lambda: kit.outbox.counts().waiting == 0)
        assert uplink._ack_wait == 0.2
        stop.set()
        await run
        return sends

    sends = asyncio.run(main())
    # 0, 0.4, 1.2, 2.0 s: waits of 0.2, then 0.4, then 0.8 (the cap). At a fixed 0.2 s
    # it would have been sent a dozen times.
    assert 3 <= len(sends) <= 5, sends
    gaps = [b - a for a, b in pairwise(sends)]
    assert all(b >= a - 0.05 for a, b in pairwise(gaps)) and gaps[-1] >= 0.7, gaps


def test_heartbeats_and_the_last_will_carry_the_signed_audit_head(kit):
    from sync.protocol.status import verify_status

    uplink = _uplink(kit, ScriptedLink(None))
    assert uplink.status("online").audit_head is None  # a new kit's log is empty
    kit.audit.append("siti", "login")
    entry = kit.audit.append("siti", "enrolment_started")
    head = {"seq": entry.seq, "hash": entry.hash}
    _, will = uplink.connect_options().will  # type: ignore[misc]
    signed = verify_status(will, device_key=kit.device_key().public_key(),
                           device_id=kit.device_id)
    assert signed.audit_head == head
    assert uplink.status("online").audit_head == head


def test_heartbeats_carry_the_last_readiness_check_without_probing_devices(kit):
    from edge import readiness

    uplink = _uplink(kit, ScriptedLink(None))
    assert uplink.status("online").readiness is None  # doctor never ran
    summary = readiness.Readiness(checked_at="2026-11-24T07:00:00+00:00", ready=True,
                                  devices={"camera": "ok"}, paper="low")
    readiness.save(kit.paths.root, summary)
    assert uplink.status("online").readiness == summary.to_dict()


def test_a_wrong_broker_falls_back_to_the_last_one_that_worked(kit, hq_home):
    from edge.kitdb import atomic
    from sync.errors import ConnectFailed

    with atomic(kit.conn):
        kit.state.set("broker_last_good", "mqtts://hq.example:8883")
    kit.config = kit.config.with_setting("broker", "mqtts://typo.example:8883")
    link = ScriptedLink(hq_keys=hq_home.keys())
    link.suback.set()
    link.status_pubacks.set()
    tried: list[str] = []

    @asynccontextmanager
    async def connector(options):  # type: ignore[no-untyped-def]
        tried.append(str(options.address))
        if options.address.host == "typo.example":
            raise ConnectFailed("typo.example: name does not resolve")
        yield link

    kit.outbox.add(make_packet(kit, 2000))
    settings = SyncSettings(**{**FAST, "once_timeout": 10.0})
    stats = asyncio.run(Uplink(kit, settings, connector=connector).run(asyncio.Event(),
                                                                        once=True))
    assert tried == ["mqtts://typo.example:8883", "mqtts://hq.example:8883"]
    assert stats.acked == 1 and stats.connect_failures == 1
    assert kit.config.broker == "mqtts://typo.example:8883"  # HQ's to correct, now it can


def test_settings_out_of_range_in_config_json_are_reported_to_hq_once(kit):
    import json

    from edge.kit import Kit

    path = kit.paths.config
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "lockout_minutes": 0}))
    with Kit(kit.paths.root, kdf=KdfParams(memory_kib=8192, iterations=1)) as reopened:
        assert reopened.config.lockout_minutes == 5
        report = _uplink(reopened, ScriptedLink(None)).config_problems_report()
        assert report is not None and report.result == "defaulted"
        assert "lockout_minutes must be from 1 to 1440, not 0" in report.detail
        reopened.state.set("config_problems_reported", report.detail)
        assert _uplink(reopened, ScriptedLink(None)).config_problems_report() is None


def test_hq_online_again_makes_unacked_packets_go_again_at_once_but_not_on_every_restart(
        kit, hq_home):
    """HQ's ingest comes back and announces it (retained "online since"): packets sent
    before and still unacked go again after ``resend_settle``, not after the (doubling) ack
    timeout, and that early round does not grow the back-off. An ingest that announces
    again without having acked anything meanwhile (a crash loop) gets no second early round:
    a metered modem is not spent on every restart."""
    from sync.protocol.acks import Online, sign_online
    from sync.protocol.topics import ONLINE_TOPIC

    packets = [make_packet(kit, 3000) for _ in range(2)]
    for p in packets:
        kit.outbox.add(p)
    link = ScriptedLink(hq_home.keys())
    link.suback.set()
    link.hq_silent = True
    signing = hq_home.keys().signing

    def announce(at: datetime) -> None:
        link.inbox.put_nowait(Incoming(ONLINE_TOPIC, sign_online(Online(at, "w1"), signing),
                                       False))  # live: made while the kit is connected

    @asynccontextmanager
    async def connector(_options):  # type: ignore[no-untyped-def]
        yield link

    settings = SyncSettings(**{**FAST, "ack_timeout": 30.0, "ack_timeout_max": 60.0,
                               "poll": 0.02, "resend_settle": 0.2})
    uplink = Uplink(kit, settings, connector=connector)
    # Room for the extra packet below beside the two HQ leaves unanswered (a kit starts
    # with two; sync.window).
    uplink._window = AckWindow(settings.window, initial=settings.window)

    async def main() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(uplink.run(stop))
        await _until(lambda: all(len(link.sends(p.packet_id)) == 1 for p in packets))
        first = datetime.now(UTC)
        announce(first)
        await _until(lambda: all(len(link.sends(p.packet_id)) == 2 for p in packets))
        assert uplink._ack_wait == 30.0  # an early round is not an unanswered one
        announce(first)  # the same retained announcement again (a reconnect): nothing
        announce(datetime.now(UTC))  # a new one, but HQ acked nothing since: nothing
        await asyncio.sleep(0.6)
        assert all(len(link.sends(p.packet_id)) == 2 for p in packets)
        link.hq_silent = False  # HQ acks again: the next announcement counts
        kit.outbox.add(extra := make_packet(kit, 3000))
        uplink.send_now()
        await _until(lambda: kit.outbox.get(extra.packet_id).state.value == "purged")
        link.hq_silent = True
        announce(datetime.now(UTC))
        await _until(lambda: all(len(link.sends(p.packet_id)) == 3 for p in packets))
        stop.set()
        await run

    asyncio.run(main())
    assert kit.state.get("hq_online_since") is not None


def test_a_connection_asks_for_hq_announcements_before_its_first_chunk(kit, hq_home):
    """Both SUBSCRIBEs go out ahead of the first chunk, neither waiting for a SUBACK: a
    retained announcement was then made before any chunk of this connection reached the
    broker. Were the announcements' SUBSCRIBE behind the chunks (after the first SUBACK), a
    worker subscribing and announcing itself in that round trip (ingest coming up, a broker
    restarted without its sessions) would not have been there for them, and the kit would
    take them for delivered and wait out its ack timeout."""
    from sync.protocol.topics import ONLINE_TOPIC

    kit.outbox.add(make_packet(kit, 3000))
    link = ScriptedLink(hq_home.keys())  # no SUBACK until the test says so
    uplink = _uplink(kit, link)

    async def main() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(uplink.run(stop))
        await _until(lambda: any(c.startswith("chunk") for c in link.calls))
        link.suback.set()
        stop.set()
        await run

    asyncio.run(main())
    first_chunk = next(i for i, c in enumerate(link.calls) if c.startswith("chunk"))
    assert link.calls[:2] == ["subscribe rekam/v1/kit-s/down/#", f"subscribe {ONLINE_TOPIC}"]
    assert first_chunk > 1


def test_an_early_round_sent_after_a_reconnect_does_not_silence_the_next_announcement(
        kit, hq_home):
    """HQ announces itself, and the broker dies before the early re-send: the kit reconnects
    to the restarted broker and re-sends before any worker subscribed there (the broker drops
    it). The worker's announcement that follows still brings an early round (the crash-loop
    guard counts only a round sent on the connection its announcement came on)."""
    from sync.errors import Disconnected
    from sync.protocol.acks import Online, sign_online
    from sync.protocol.topics import ONLINE_TOPIC

    packets = [make_packet(kit, 3000) for _ in range(2)]
    for p in packets:
        kit.outbox.add(p)

    class DroppingLink(ScriptedLink):
        async def messages(self):  # type: ignore[no-untyped-def]
            while True:
                message = await self.inbox.get()
                if message is None:
                    raise Disconnected("receiving: the broker went away")
                yield message

    link = DroppingLink(hq_home.keys())
    link.suback.set()
    link.hq_silent = True
    signing = hq_home.keys().signing

    def announce() -> None:
        link.inbox.put_nowait(Incoming(ONLINE_TOPIC, sign_online(
            Online(datetime.now(UTC), "w1"), signing), False))

    @asynccontextmanager
    async def connector(_options):  # type: ignore[no-untyped-def]
        yield link

    settings = SyncSettings(**{**FAST, "ack_timeout": 30.0, "ack_timeout_max": 60.0,
                               "poll": 0.02, "resend_settle": 1.0, "backoff_initial": 0.05,
                               "reconnect_fast_max": 0.1})
    uplink = Uplink(kit, settings, connector=connector)

    def sends(n: int) -> bool:
        return all(len(link.sends(p.packet_id)) == n for p in packets)

    async def main() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(uplink.run(stop))
        await _until(lambda: all(kit.outbox.get(p.packet_id).state.value == "sent"
                                 for p in packets))
        announce()
        await _until(lambda: uplink._early_at < float("inf"))
        link.inbox.put_nowait(None)  # the broker dies before the early round
        await _until(lambda: uplink.stats.connects == 2)
        await _until(lambda: sends(2))  # the early round, into a broker with no worker
        announce()  # the worker is back on the restarted broker
        await _until(lambda: sends(3))
        stop.set()
        await run

    asyncio.run(main())
    assert uplink._ack_wait == 30.0


def test_an_announcement_says_whether_the_broker_may_have_lost_messages(hq_home):
    """A worker back with its session kept, on a broker that did not restart, lost nothing
    (the broker queued its share): kits re-send nothing. A new session, a broker that
    restarted (a crash loses what it had not saved) or an unknown start: they re-send."""
    from datetime import timedelta

    from sync.protocol.acks import Online, sign_online, verify_online

    key = hq_home.keys().signing
    trusted = {hq_home.keys().signing_key_id: key.public_key()}
    now = datetime.now(UTC)
    booted = now - timedelta(hours=3)
    kept = verify_online(sign_online(Online(now, "w1", True, booted), key), trusted=trusted)
    assert kept.broker_since == booted and kept.session_resumed
    assert not kept.may_have_lost(booted + timedelta(seconds=2))  # $SYS uptime's jitter
    assert kept.may_have_lost(booted - timedelta(minutes=1))  # the broker restarted
    assert kept.may_have_lost(None)  # the kit never heard of this broker
    assert Online(now, "w1", False, booted).may_have_lost(booted)  # the queue was dropped
    assert Online(now, "w1", True, None).may_have_lost(booted)  # an old broker ACL


def test_a_packet_cut_by_a_broker_crash_goes_again_whole_on_hq_s_retained_announcement(
        kit, hq_home):
    """The broker crashes after PUBACKing a packet's first chunks (it had not saved them);
    the kit resumes the packet on its next connection where its PUBACKs stopped, and HQ's
    ingest, back first, announced itself before the kit subscribed (so the kit gets the
    announcement as retained). The packet began on the earlier connection, so its first
    chunks may be lost: it goes again from its first chunk after ``resend_settle``, not
    after the ack timeout (the intermittent wait of the broker SIGKILL recovery test)."""
    from sync.errors import Disconnected
    from sync.protocol.acks import Online, sign_online
    from sync.protocol.topics import ONLINE_TOPIC

    packet = make_packet(kit, 3000)  # several chunks of 1024 bytes
    kit.outbox.add(packet)
    dropped = Incoming("drop", b"", False)

    class CrashingLink(ScriptedLink):
        async def publish(self, name: str, payload: bytes, *, retain: bool = False,
                          timeout: float | None = None) -> None:
            if name.endswith("/up/packet") and decode_chunk(payload).index >= 2:
                self.inbox.put_nowait(dropped)  # the broker is gone: no PUBACK
                await asyncio.Event().wait()
            await super().publish(name, payload, retain=retain, timeout=timeout)

        async def messages(self):  # type: ignore[no-untyped-def]
            while (message := await self.inbox.get()) is not dropped:
                yield message
            raise Disconnected("the broker went away")

    first, second = CrashingLink(hq_home.keys()), ScriptedLink(hq_home.keys())
    for link in (first, second):
        link.suback.set()
        link.status_pubacks.set()
        link.hq_silent = True
    links = iter([first, second])

    @asynccontextmanager
    async def connector(_options):  # type: ignore[no-untyped-def]
        yield next(links)

    settings = SyncSettings(**{**FAST, "chunk_size": 1024, "ack_timeout": 60.0,
                               "poll": 0.02, "resend_settle": 0.2})
    uplink = Uplink(kit, settings, connector=connector)

    async def main() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(uplink.run(stop))
        await _until(lambda: any(c.startswith("chunk 2/") for c in second.calls))  # resumed
        assert not any(c.startswith("chunk 0/") for c in second.calls)
        second.inbox.put_nowait(Incoming(  # then the retained announcement arrives
            ONLINE_TOPIC, sign_online(Online(datetime.now(UTC), "w1"),
                                      hq_home.keys().signing), True))
        await _until(lambda: any(c.startswith("chunk 0/") for c in second.calls))
        stop.set()
        await run

    asyncio.run(main())
