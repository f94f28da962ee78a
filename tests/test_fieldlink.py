"""The emulated field link (bench/fieldlink/) the sync benchmark and fault tests run over.

Real namespaces, real TUN devices and the kernel's TCP: bytes sent from the kit's side
arrive intact on HQ's side, the link really drops and delays packets, and ``down`` leaves
nothing behind. Root only (skipped otherwise); each test uses its own namespace names so
that parallel runs do not meet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "fieldlink"))

import fieldlink
from fieldlink import FieldLink, FieldLinkError, LinkShape, field_link

TOOL = Path(fieldlink.__file__)
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/dev/net/tun").exists() or shutil.which("ip") is None,
    reason="needs root, /dev/net/tun and iproute2")

RECEIVER = r"""
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9100)); s.listen(1); print("READY", flush=True)
c, _ = s.accept(); h = hashlib.sha256()
while b := c.recv(65536):
    h.update(b)
print(h.hexdigest(), flush=True)
"""
SENDER = r"""
import socket, sys, time
data = bytes(range(256)) * int(sys.argv[2])
t = time.monotonic(); s = socket.create_connection((sys.argv[1], 9100))
print(time.monotonic() - t, flush=True); s.sendall(data); s.close()
"""


@pytest.fixture
def name() -> Iterator[str]:
    unique = f"t{os.getpid() % 100000}{time.monotonic_ns() % 100}"
    yield unique
    fieldlink.down(unique)


def _send(link: FieldLink, blocks: int) -> tuple[str, str, float]:
    """(sha256 sent, sha256 received, seconds the TCP handshake took) kit -> HQ."""
    receiver = subprocess.Popen(link.in_hq(sys.executable, "-c", RECEIVER, link.hq_addr),
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    assert receiver.stdout.readline().strip() == "READY"
    sent = subprocess.run(link.in_kit(sys.executable, "-c", SENDER, link.hq_addr, str(blocks)),
                          capture_output=True, text=True, check=True, timeout=60)
    received, _ = receiver.communicate(timeout=60)
    return (hashlib.sha256(bytes(range(256)) * blocks).hexdigest(), received.strip(),
            float(sent.stdout))


@needs_root
def test_bytes_cross_a_lossy_link_intact_and_the_losses_are_counted(name: str) -> None:
    shape = LinkShape(delay_ms=5, loss_pct=10, rate_bps=50_000_000)
    with field_link(shape, name=name) as link:
        expected, received, _ = _send(link, blocks=2000)  # 512 KB, ~350 packets
    assert received == expected  # TCP recovered every lost segment
    kit_to_hq = link.counters()[f"{link.kit_ns}->{link.hq_ns}"]
    assert kit_to_hq["dropped_loss"] > 0
    assert kit_to_hq["delivered_bytes"] > 512_000


@needs_root
def test_a_connection_waits_at_least_one_round_trip_of_the_link(name: str) -> None:
    # A lower bound: however loaded the machine, the emulator never delivers early.
    with field_link(LinkShape(delay_ms=100, loss_pct=0), name=name) as link:
        _, _, handshake = _send(link, blocks=1)
    assert handshake >= 0.2


@needs_root
def test_down_leaves_no_namespace_and_a_second_up_is_refused(name: str) -> None:
    link = fieldlink.up(LinkShape(loss_pct=0), name=name)
    with pytest.raises(FieldLinkError, match="already exist"):
        fieldlink.up(LinkShape(), name=name)
    fieldlink.down(name)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert link.hq_ns not in namespaces and link.kit_ns not in namespaces


def test_a_bad_shape_is_refused_in_one_line_and_changes_nothing() -> None:
    out = subprocess.run([sys.executable, str(TOOL), "up", "--loss", "150", "--name", "tbad"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "fieldlink: delay must be >= 0 ms and loss between 0 and 100 %"]
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "tbad-" not in namespaces
