"""The daemon's small parts: backoff, settings, sd_notify."""

from __future__ import annotations

import socket

import pytest

from edge.errors import InvalidInput
from sync.sdnotify import Notifier
from sync.settings import SyncSettings
from sync.uplink_base import Backoff


def test_backoff_grows_exponentially_with_jitter_and_caps():
    low = Backoff(1.0, 60.0, rng=lambda: 0.0)
    assert [low.next() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    high = Backoff(1.0, 60.0, rng=lambda: 1.0)
    assert [high.next() for _ in range(3)] == [1, 2, 4]
    high.reset()
    assert high.next() == 1


def test_settings_from_file_and_overrides(tmp_path):
    (tmp_path / "sync.json").write_text('{"window": 3, "ack_timeout": 9}')
    s = SyncSettings.load(tmp_path, ack_timeout=2.5, chunk_size=None)
    assert (s.window, s.ack_timeout, s.chunk_size) == (3, 2.5, 64 * 1024)
    with pytest.raises(InvalidInput):
        SyncSettings(chunk_size=10)
    with pytest.raises(InvalidInput, match="window"):  # a flag is typed by someone present
        SyncSettings.load(tmp_path, window=0)


def test_a_bad_sync_json_never_stops_the_daemon(tmp_path):
    # Each bad line keeps its default and is kept to be logged; the good ones still count.
    (tmp_path / "sync.json").write_text(
        '{"windw": 3, "window": 5, "heartbeat": 1e12, "backoff_max": -1, "poll": "often"}')
    s = SyncSettings.load(tmp_path)
    defaults = SyncSettings()
    assert s.window == 5
    assert (s.heartbeat, s.backoff_max, s.poll) == (defaults.heartbeat, defaults.backoff_max,
                                                     defaults.poll)
    assert len(s.problems) == 4 and any("windw" in p for p in s.problems)
    (tmp_path / "sync.json").write_text("{not json")
    assert SyncSettings.load(tmp_path).window == defaults.window


def test_sd_notify_ready_watchdog_stopping(tmp_path, monkeypatch):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(1)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    n = Notifier()
    assert n.enabled and n.watchdog_interval == 15
    n.ready("up")
    n.watchdog()
    n.stopping()
    got = [sock.recv(1024).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=up", "WATCHDOG=1", "STOPPING=1"]
    sock.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    Notifier().ready()  # not under systemd: nothing happens


def test_a_daemon_state_left_by_a_dead_or_stopped_daemon_reads_as_none(tmp_path):
    import os
    import subprocess
    import sys

    from sync.daemon_state import DaemonState, read_state, state_path, wake

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = state_path(tmp_path)
    path.write_text(DaemonState(dead.pid, "connected", 0.0).to_json())
    assert read_state(tmp_path) is None and wake(tmp_path) is None
    path.write_text(DaemonState(os.getpid(), "stopped", 0.0).to_json())
    assert read_state(tmp_path) is None
    path.write_text("{half a file")
    assert read_state(tmp_path) is None
    path.write_text(DaemonState(os.getpid(), "retrying", 0.0, retry_at=5.0).to_json())
    assert read_state(tmp_path).retry_at == 5.0  # this very test process runs Python


def test_the_daemon_state_says_since_when_hq_has_not_been_reached(tmp_path, monkeypatch):
    from sync import daemon_state
    from sync.daemon_state import StateFileNotifier, read_state

    now = [1000.0]
    monkeypatch.setattr(daemon_state.time, "time", lambda: now[0])
    notifier = StateFileNotifier(tmp_path)
    assert read_state(tmp_path).down_since is None  # starting: nothing known yet
    notifier.retrying(5, "connection refused")
    now[0] = 1060.0
    notifier.retrying(10, "connection refused")  # a second failure: still down since 1000
    state = read_state(tmp_path)
    assert state.state == "retrying" and state.down_since == 1000.0 and state.since == 1060.0
    notifier.connected("mqtts://hq:8883")
    assert read_state(tmp_path).down_since is None
    now[0] = 2000.0
    notifier.retrying(1, "the link dropped")
    assert read_state(tmp_path).down_since == 2000.0  # a new outage, a new start


def test_the_window_grows_while_hq_keeps_up_and_shrinks_when_it_queues_or_goes_silent():
    """A lone kit HQ acks promptly reaches its configured window after a few packets (a
    3G/4G link needs several in flight); when HQ's acks come late (hundreds of kits queue
    at the broker) it halves, once per round of acks, down to one; a packet whose ack
    timeout passed brings it to one at once."""
    from sync.window import TARGET, AckWindow

    window = AckWindow(8)
    assert window.size == 2  # before HQ was heard from
    for n in range(6):
        window.acked(TARGET / 4, now=float(n))
    assert window.size == 8
    window.acked(TARGET / 4, now=6.0)
    assert window.size == 8  # never beyond the configured window
    window.acked(TARGET * 3, now=10.0)
    window.acked(TARGET * 3, now=10.1)  # the same round's acks: one halving
    assert window.size == 4
    window.acked(TARGET * 3, now=10.0 + TARGET)
    window.acked(TARGET * 3, now=10.0 + 2 * TARGET)
    window.acked(TARGET * 3, now=10.0 + 3 * TARGET)
    assert window.size == 1  # never below one
    window.acked(TARGET / 4, now=20.0)
    assert window.size == 2
    window.timed_out(now=21.0)
    assert window.size == 1
    assert AckWindow(1).size == 1  # a kit configured for one packet at a time keeps it
