"""A revoked kit cannot connect to the real broker any more (HQ's CRL, re-read on SIGHUP),
and a connection it still holds is cut off from every topic; another kit still connects."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.broker


def _connects(net, device_id: str, timeout: float = 3.0) -> bool:
    import paho.mqtt.client as mqtt

    from edge.config import KitPaths

    paths = KitPaths(net.kit_homes[device_id])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device_id}-probe",
                         protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(paths.ca_cert), certfile=str(paths.device_cert),
                   keyfile=str(paths.device_tls_key))
    result: dict[str, str] = {}
    client.on_connect = lambda c, u, f, rc, props=None: result.setdefault("rc", str(rc))
    try:
        client.connect("localhost", net.broker.port, 5)
        deadline = time.monotonic() + timeout
        while not result and time.monotonic() < deadline:
            client.loop(0.1)
    except OSError:
        return False
    finally:
        client.disconnect()
    return result.get("rc") == "Success"


def test_a_revoked_kit_cannot_connect_and_another_still_can(net, capsys):
    from hq.cli import main

    net.add_kit("kit-a")
    net.add_kit("kit-b")
    assert _connects(net, "kit-a") and _connects(net, "kit-b")
    assert main(["--home", str(net.hq.root), "device", "revoke", "kit-a", "--reason", "lost",
                 "--broker-pid", str(net.broker.proc.pid)]) == 0
    out = capsys.readouterr().out
    assert f"broker (pid {net.broker.proc.pid}) told to re-read them" in out
    assert str(net.broker.dir / "crl.pem") in out
    time.sleep(0.5)  # the broker re-reads its configuration on its next loop
    assert not _connects(net, "kit-a")
    assert _connects(net, "kit-b")
    assert "certificate revoked" in net.broker.log.read_text() or \
        "certificate verify failed" in net.broker.log.read_text()
    # The broker restarted (a reboot, an upgrade) reads the same CRL: still refused.
    net.broker.stop()
    net.broker.start()
    assert not _connects(net, "kit-a") and _connects(net, "kit-b")
