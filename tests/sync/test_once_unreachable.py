"""``rekam sync --once`` with HQ out of reach: a technician gets one line saying what was
tried and what to check, after one connect timeout per broker, not five minutes of retries."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from kit_world import SUPERVISOR_PIN


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A port that accepts TCP and then says nothing (a broker behind a dead route, a
    firewall that swallows the TLS handshake)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"mqtts://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"mqtts://127.0.0.1:{sock.getsockname()[1]}"


def test_a_silent_broker_fails_after_one_connect_timeout(world, capsys, silent_broker) -> None:
    assert world.kit("config", "set", "broker", silent_broker, "--by", "siti",
                     pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("sync", "--once", "--connect-timeout", "1") == 1
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert f"HQ not reached (cannot connect to {silent_broker}: timed out" in line
    assert "connect timeout 1 s" in line and "check the kit's network" in line
    assert "reconnecting in" not in err  # no retry loop


def test_a_refused_connection_names_the_broker_and_what_to_check(world, capsys) -> None:
    url = _closed_port()
    assert world.kit("config", "set", "broker", url, "--by", "siti", pin=SUPERVISOR_PIN) == 0
    capsys.readouterr()
    assert world.kit("sync", "--once") == 1
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert url in line and "connect timeout 15 s" in line
    assert "the broker address (rekam config show)" in line
    assert "reconnecting in" not in err


def test_someone_waiting_hears_within_one_connect_timeout_even_with_two_brokers(
        world, capsys, silent_broker) -> None:
    """The configured broker and the last one that worked both silent: the first uses up
    the connect timeout, so the second is not tried (it would double the wait)."""
    from edge.kit import Kit
    from sync.uplink import LAST_GOOD_BROKER

    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    try:
        last_good = f"mqtts://127.0.0.1:{other.getsockname()[1]}"
        kit = Kit(world.kit_home)
        kit.state.set(LAST_GOOD_BROKER, last_good)
        kit.close()
        assert world.kit("config", "set", "broker", silent_broker, "--by", "siti",
                         pin=SUPERVISOR_PIN) == 0
        capsys.readouterr()
        assert world.kit("sync", "--once", "--connect-timeout", "1") == 1
        (line,) = [ln for ln in capsys.readouterr().err.splitlines()
                   if ln.startswith("error:")]
        assert silent_broker in line and last_good not in line
    finally:
        other.close()
