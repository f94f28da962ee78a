"""Our small MQTT client interface, and the ONLY module that imports aiomqtt.

What the rest of the code sees: :class:`ConnectOptions` in, an async context manager
:func:`connect` giving a :class:`Connection` with ``publish``, ``subscribe`` and
``messages``, and the errors of :mod:`sync.errors`. Facts measured with aiomqtt 2.x
and Mosquitto shape it:

- a **fresh aiomqtt.Client per connection attempt** (reusing one across broker restarts
  left stale socket registrations and once hung the next connect);
- TLS 1.3 only, client certificate always, server name checked against the broker's cert;
- ``TCP_NODELAY`` (a 40 ms delayed-ACK stall per publish otherwise) and an optional
  ``TCP_CONGESTION`` per socket (BBR is ~4.5× cubic on a lossy 3G/4G link);
- persistent sessions (clean start off, session expiry, fixed client id) for kits and for
  ingest workers, which also acknowledge each message themselves (``manual_ack``: PUBACK
  only once HQ's database holds it; the broker sends an unacknowledged one again when the
  session reconnects) and bound what the broker sends them unacknowledged
  (``receive_maximum``);
- a publish timeout is not "not delivered": it surfaces as :class:`PublishTimeout` and the
  caller relies on HQ's signed ack;
- aiomqtt/paho log on the ``mqtt`` logger; a refused client certificate only shows as a
  timeout or a TLS alert there, so connect failures are logged with the underlying text.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.errors import InvalidInput
from sync.errors import ConnectFailed, Disconnected, NotAuthorized, PublishTimeout, TransportError

log = logging.getLogger("mqtt")

TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = True

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtts://HOST:PORT`` (TLS, default port 8883) or ``mqtt://HOST:PORT``."""
        if not url:
            raise InvalidInput("no broker configured; run: rekam config set broker "
                               "mqtts://HOST:PORT")
        parts = urlsplit(url)
        if parts.scheme not in ("mqtts", "mqtt") or not parts.hostname:
            raise InvalidInput(f"broker {url!r} is not a URL like mqtts://hq.example:8883")
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput(f"broker {url!r} has a bad port") from None
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, port or (8883 if tls else 1883), tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    cert: Path | None  # None: no client certificate (only to show that the broker refuses it)
    key: Path | None


@dataclass(frozen=True)
class ConnectOptions:
    address: BrokerAddress
    client_id: str
    tls: TlsFiles | None
    persistent: bool = False  # kit: keep the session (and queued acks) across reconnects
    session_expiry: int = 7 * 24 * 3600
    keepalive: int = 30
    connect_timeout: float = 20.0
    publish_timeout: float = 60.0
    will: tuple[str, bytes] | None = None  # (topic, payload), QoS 1
    max_inflight: int = 20
    tcp_congestion: str = ""  # e.g. "bbr"; "" keeps the system default
    manual_ack: bool = False  # PUBACK received messages only through Connection.ack
    receive_maximum: int = 0  # QoS 1 messages the broker may send us unacknowledged (0: its)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    retain: bool
    mid: int = 0  # the broker's message id (what Connection.ack acknowledges); 0: none


def tls_context(files: TlsFiles) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(files.ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if files.cert is not None:
        ctx.load_cert_chain(str(files.cert), None if files.key is None else str(files.key))
    return ctx


def _rc_value(exc: aiomqtt.MqttCodeError) -> int | None:
    rc = exc.rc
    if rc is None:
        return None
    return rc if isinstance(rc, int) else int(rc.value)


def _map(exc: BaseException, doing: str) -> TransportError:
    if isinstance(exc, aiomqtt.MqttCodeError) and _rc_value(exc) in (0x87, 5):
        return NotAuthorized(f"{doing}: not authorised by the broker ({exc})")
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return Disconnected(f"{doing}: {text}")


class Connection:
    """One live MQTT session. Made only by :func:`connect`."""

    def __init__(self, client: aiomqtt.Client, options: ConnectOptions,
                 session_present: bool = False) -> None:
        self._client = client
        self._options = options
        self.session_present = session_present  # the broker kept our session (CONNACK)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                      timeout: float | None = None) -> None:
        """QoS 1; returns on PUBACK. PublishTimeout does not mean "not delivered"."""
        try:
            await self._client.publish(topic, payload, qos=1, retain=retain,
                                       timeout=timeout or self._options.publish_timeout)
        except aiomqtt.MqttCodeError as exc:
            raise _map(exc, f"publish to {topic}") from None
        except aiomqtt.MqttError as exc:
            if "timed out" in str(exc):
                raise PublishTimeout(f"no PUBACK for {topic} within "
                                     f"{timeout or self._options.publish_timeout:.0f} s") from None
            raise _map(exc, f"publish to {topic}") from None

    async def subscribe(self, topic: str, *, timeout: float | None = None) -> None:
        """QoS 1; NotAuthorized when the broker's ACL refuses the filter."""
        try:
            granted = await self._client.subscribe(
                topic, qos=1, timeout=timeout or self._options.connect_timeout)
        except aiomqtt.MqttError as exc:
            raise _map(exc, f"subscribe to {topic}") from None
        for rc in granted:
            value = rc if isinstance(rc, int) else int(rc.value)
            if value >= 0x80:
                raise NotAuthorized(f"subscribe to {topic}: refused by the broker ({rc})")

    async def messages(self) -> AsyncIterator[Incoming]:
        """Incoming messages until the connection drops (then Disconnected)."""
        iterator = self._client.messages.__aiter__()
        while True:
            try:
                message = await iterator.__anext__()
            except aiomqtt.MqttError as exc:
                raise _map(exc, "receiving") from None
            payload = message.payload
            if isinstance(payload, str):
                payload = payload.encode()
            elif not isinstance(payload, bytes | bytearray):
                payload = b"" if payload is None else str(payload).encode()
            yield Incoming(str(message.topic), bytes(payload), bool(message.retain),
                           int(message.mid) if message.qos else 0)

    def ack(self, message: Incoming) -> None:
        """PUBACK a message received with ``manual_ack`` (on the event loop's thread). A
        dropped connection leaves it unacknowledged: the broker sends it again."""
        if self._options.manual_ack and message.mid:
            self._client._client.ack(message.mid, 1)

    def queued(self) -> int:
        """Messages received and not yet taken from :meth:`messages`."""
        return len(self._client.messages)


def _socket_options(options: ConnectOptions) -> list[tuple[int, int, int | bytes]]:
    opts: list[tuple[int, int, int | bytes]] = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    if options.tcp_congestion:
        opts.append((socket.IPPROTO_TCP, TCP_CONGESTION, options.tcp_congestion.encode()))
    return opts


def _apply_congestion(client: aiomqtt.Client, options: ConnectOptions) -> None:
    """Set TCP_NODELAY and the congestion control on the live socket; warn if refused."""
    sock = client._client.socket()
    if not isinstance(sock, socket.socket):
        return
    for level, name, value in _socket_options(options):
        try:
            sock.setsockopt(level, name, value)
        except OSError as exc:
            log.warning("cannot set socket option %s=%r: %s (kept the default)", name, value,
                        exc)


@asynccontextmanager
async def connect(options: ConnectOptions) -> AsyncIterator[Connection]:
    """A fresh client, connected; ConnectFailed when no session could be made."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = options.session_expiry if options.persistent else 0
    if options.receive_maximum:
        props.ReceiveMaximum = options.receive_maximum
    will = None
    if options.will is not None:
        will = aiomqtt.Will(options.will[0], options.will[1], qos=1, retain=False)
    try:
        ctx = tls_context(options.tls) if options.tls else None
    except (OSError, ssl.SSLError) as exc:
        raise ConnectFailed(f"cannot load the TLS certificate or key: {exc}") from None
    client = aiomqtt.Client(
        options.address.host, options.address.port, identifier=options.client_id,
        protocol=aiomqtt.ProtocolVersion.V5, clean_start=not options.persistent,
        properties=props, keepalive=options.keepalive, timeout=options.connect_timeout,
        tls_context=ctx, will=will, max_inflight_messages=options.max_inflight,
        logger=log,
    )
    # aiomqtt warns above 10 pending publishes; we keep a bounded window of our own.
    client.pending_calls_threshold = max(10, options.max_inflight * 4)
    paho = client._client
    # paho's own socket and TLS-handshake timeout (5 s unless set) under aiomqtt's: the
    # connect timeout is the one setting, both for a slow 3G handshake and for someone
    # waiting on a dead server
    paho.connect_timeout = options.connect_timeout
    paho.manual_ack_set(options.manual_ack)
    session: dict[str, bool] = {}
    on_connect = paho.on_connect

    def _on_connect(*args: Any) -> None:  # remember CONNACK's "session present"
        session["present"] = bool(getattr(args[2], "session_present", False))
        if on_connect is not None:
            on_connect(*args)

    paho.on_connect = _on_connect
    try:
        await client.__aenter__()
    except aiomqtt.MqttError as exc:
        text = str(exc)
        if isinstance(exc, aiomqtt.MqttCodeError) and _rc_value(exc) in (0x87, 0x86, 4, 5):
            text = f"refused by the broker: {exc}"
        elif "timed out" in text:
            text = ("timed out (a missing or refused client certificate shows up as a "
                    "timeout; see the mqtt log)")
        log.warning("connect to %s as %s failed: %s", options.address, options.client_id,
                    text)
        raise ConnectFailed(f"cannot connect to {options.address}: {text}") from None
    except (OSError, ssl.SSLError) as exc:
        log.warning("connect to %s failed: %s", options.address, exc)
        raise ConnectFailed(f"cannot connect to {options.address}: {exc}") from None
    _apply_congestion(client, options)
    log.info("connected to %s as %s", options.address, options.client_id)
    try:
        yield Connection(client, options, session.get("present", False))
    finally:
        try:
            await asyncio.wait_for(client.__aexit__(None, None, None), timeout=5)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            log.debug("disconnect from %s: %s", options.address, exc)
        except asyncio.CancelledError:
            raise
