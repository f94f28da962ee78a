"""Whether HQ's broker answers: the readiness check of the kit's link (``rekam doctor``,
the technician's screen). A TLS handshake with the kit's own certificate, nothing sent."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from edge.checks import Check, Status
from edge.kit import Kit


def broker_check(kit: Kit, timeout: float = 3.0) -> Check:
    """May wait up to ``timeout`` seconds on the network. An unreachable broker is only a
    warning: the kit records offline and uploads later."""
    url = kit.config.broker
    if not url:
        return Check("broker", Status.WARN, "broker_unset")
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if parts.scheme == "mqtts":
                ctx = ssl.create_default_context(cafile=str(kit.paths.ca_cert))
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                ctx.load_cert_chain(str(kit.paths.device_cert), str(kit.paths.device_tls_key))
                with ctx.wrap_socket(raw, server_hostname=host):
                    pass
    except (OSError, ssl.SSLError) as exc:
        return Check("broker", Status.WARN, "broker_down",
                     {"url": url, "error": exc.strerror or exc})
    return Check("broker", Status.OK, "broker_ok", {"url": url})
