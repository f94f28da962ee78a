"""The broker's configuration, made from HQ's CA: ``rekam-hq broker-config -o DIR``.

Writes, for ``mosquitto -c DIR/mosquitto.conf``:

- ``broker.crt``/``broker.key``: the broker's TLS certificate, issued by HQ's CA, with
  ``localhost``, ``127.0.0.1`` and every ``--host`` as subject alternative names;
- ``ca.crt``: HQ's CA, the only issuer of client certificates the broker accepts;
- ``acl``: each device may write only ``rekam/v1/<its id>/up/#`` and read only
  ``rekam/v1/<its id>/down/#`` (its id is its certificate's CN, used as the MQTT username);
  HQ ingest reads every ``up`` topic (also as the shared subscription) and writes every
  ``down`` topic and the fleet's retained ``rekam/v1/hq/online``, which every kit reads;
- ``crl.pem``: HQ's certificate revocation list (revoked kits), which the listener checks;
- ``mosquitto.conf``: one TLS 1.3 listener requiring a client certificate, no anonymous
  access, persistence in ``DIR/data`` (queued acks survive a broker restart), raised queue
  limits (Mosquitto 2.0 silently drops messages past 1,000 queued per client).

HQ ingest's own client certificate and key go into HQ's home (``keys/ingest.crt``,
``keys/ingest.key``, 0600). Its CN, ``ingest.rekam-hq``, contains a dot, which device ids
never do, so no kit can be registered under the ingest identity.
"""

from __future__ import annotations

import getpass
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.keys import write_private, write_public
from hq import ca
from hq.crl import CRL_NAME, build_crl, revoked_devices
from hq.db import make_engine
from hq.home import HqHome, HqKeys
from sync.protocol.topics import INGEST_FILTER, INGEST_SUBSCRIPTION, ONLINE_TOPIC, PREFIX

BROKER_UPTIME = "$SYS/broker/uptime"  # ingest tells kits when the broker (re)started

INGEST_IDENTITY = "ingest.rekam-hq"
BROKER_IDENTITY = "broker.rekam-hq"
DEFAULT_PORT = 8883


@dataclass(frozen=True)
class IngestIdentity:
    cert: Path
    key: Path
    ca_cert: Path


def ingest_identity(home: HqHome) -> IngestIdentity:
    return IngestIdentity(home.keys_dir / "ingest.crt", home.keys_dir / "ingest.key",
                          home.ca_cert_path)


def ensure_ingest_identity(home: HqHome, keys: HqKeys, *, force: bool = False
                           ) -> IngestIdentity:
    """Issue HQ ingest's client certificate once (kept across broker-config runs)."""
    ident = ingest_identity(home)
    if ident.cert.exists() and ident.key.exists() and not force:
        return ident
    key = ca.new_ec_key()
    cert = ca.issue(keys.ca_key, keys.ca_cert, common_name=INGEST_IDENTITY,
                    public_key=key.public_key(), now=datetime.now(UTC))
    write_private(ident.key, ca.key_pem(key))
    write_public(ident.cert, ca.cert_pem(cert))
    return ident


def acl_text(revoked: list[str] | tuple[str, ...] = ()) -> str:
    """The ACL; ``revoked`` kits are denied every topic (Mosquitto applies a re-read ACL to
    connections it already holds, so a revoked kit still connected is cut off too)."""
    deny = [line for device in revoked for line in (f"user {device}", "topic deny #")]
    return "\n".join([
        "# Rekam broker ACL (written by rekam-hq broker-config). The username is the CN of",
        "# the client certificate (use_identity_as_username).",
        "",
        "# HQ ingest: every kit's uplink (plain and as the shared subscription), every",
        "# kit's downlink.",
        f"user {INGEST_IDENTITY}",
        f"topic read {INGEST_FILTER}",
        f"topic read {INGEST_SUBSCRIPTION}",
        f"topic write {PREFIX}/+/down/#",
        f"topic write {ONLINE_TOPIC}",
        f"topic read {BROKER_UPTIME}",
        "",
        "# Each kit: only its own topics, and HQ's signed, retained \"ingest online since\".",
        f"pattern write {PREFIX}/%u/up/#",
        f"pattern read {PREFIX}/%u/down/#",
        f"pattern read {ONLINE_TOPIC}",
        "",
        *(["# Revoked kits (rekam-hq device revoke): nothing at all.", *deny, ""]
          if deny else []),
    ])


def conf_text(out: Path, *, port: int, bind: str | None, user: str,
              max_packet_size: int = 16 * 1024 * 1024) -> str:
    listener = f"listener {port}" + (f" {bind}" if bind else "")
    return "\n".join([
        "# Rekam broker (written by rekam-hq broker-config). Run: mosquitto -c " +
        str(out / "mosquitto.conf"),
        f"user {user}",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {out / 'acl'}",
        "",
        "# Durable sessions: a kit offline for days still gets its acks and downlinks.",
        "persistence true",
        f"persistence_location {out / 'data'}/",
        "autosave_interval 10",
        "max_queued_messages 100000",
        "max_queued_bytes 0",
        "max_inflight_messages 32",
        f"max_packet_size {max_packet_size}",
        "persistent_client_expiration 30d",
        "# $SYS/broker/uptime every second: ingest's announcement says when the broker",
        "# started, so kits can tell a broker restart (which loses what was not saved).",
        "sys_interval 1",
        "",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "",
        listener,
        "protocol mqtt",
        f"cafile {out / 'ca.crt'}",
        f"certfile {out / 'broker.crt'}",
        f"keyfile {out / 'broker.key'}",
        "require_certificate true",
        "use_identity_as_username true",
        "# Revoked kits' certificates (rekam-hq device revoke rewrites it; SIGHUP re-reads it)",
        f"crlfile {out / 'crl.pem'}",
        "tls_version tlsv1.3",
        "",
    ])


def write_broker_config(home: HqHome, out: Path, *, port: int = DEFAULT_PORT,
                        hosts: tuple[str, ...] = (), bind: str | None = None,
                        user: str | None = None) -> Path:
    """Write the whole broker directory; returns the path of ``mosquitto.conf``."""
    keys = home.keys()
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    dns = ["localhost"]
    ips = ["127.0.0.1", "::1"]
    for host in hosts:
        try:
            ipaddress.ip_address(host)
            ips.append(host)
        except ValueError:
            dns.append(host)
    broker_key = ca.new_ec_key()
    cert = ca.issue(keys.ca_key, keys.ca_cert, common_name=BROKER_IDENTITY,
                    public_key=broker_key.public_key(), now=datetime.now(UTC), server=True,
                    dns_names=tuple(dict.fromkeys(dns)), ip_addresses=tuple(dict.fromkeys(ips)))
    write_private(out / "broker.key", ca.key_pem(broker_key))
    write_public(out / "broker.crt", ca.cert_pem(cert))
    write_public(out / "ca.crt", ca.cert_pem(keys.ca_cert))
    engine = make_engine(home.database_url())
    try:
        revoked = revoked_devices(engine)
    finally:
        engine.dispose()
    write_public(out / CRL_NAME, build_crl(keys, revoked, datetime.now(UTC)))
    write_public(out / "acl", acl_text([r.device_id for r in revoked]).encode())
    config = home.config()
    config["broker_dir"] = str(out)  # where rekam-hq device revoke writes the CRL and ACL
    home.save_config(config)
    conf = out / "mosquitto.conf"
    write_public(conf, conf_text(out, port=port, bind=bind,
                                 user=user or getpass.getuser()).encode())
    ensure_ingest_identity(home, keys)
    return conf


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())
