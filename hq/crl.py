"""HQ's certificate revocation list: the revoked kits, as the registry holds them, and the CRL
HQ's CA signs for the broker (``crl.pem``).

Both writers of the broker's files use it: ``rekam-hq broker-config`` (:mod:`hq.broker`)
when it makes the broker's directory, and ``rekam-hq device revoke`` (:mod:`hq.revoke`) on
every revocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import Engine, select

from hq.db import devices
from hq.dialect import as_utc
from hq.home import HqKeys

REASONS = {
    "lost": x509.ReasonFlags.key_compromise,  # whoever finds it holds its keys
    "stolen": x509.ReasonFlags.key_compromise,
    "retired": x509.ReasonFlags.cessation_of_operation,
}
CRL_NAME = "crl.pem"


@dataclass(frozen=True)
class Revoked:
    device_id: str
    serial: int
    reason: str
    at: datetime


def revoked_devices(engine: Engine) -> list[Revoked]:
    d = devices.c
    with engine.connect() as conn:
        rows = conn.execute(select(d.device_id, d.cert_pem, d.revoke_reason, d.revoked_at)
                            .where(d.status == "revoked").order_by(d.device_id)).all()
    return [Revoked(r[0], x509.load_pem_x509_certificate(r[1].encode()).serial_number,
                    r[2] or "retired", as_utc(r[3])) for r in rows]


def build_crl(keys: HqKeys, revoked: list[Revoked], now: datetime) -> bytes:
    """HQ's CRL (PEM), signed by its CA. ``next_update`` is the CA's own expiry: OpenSSL
    refuses every client once a CRL is past it, and HQ re-issues it on every revocation."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(keys.ca_cert.subject)
               .last_update(now - timedelta(minutes=5))
               .next_update(keys.ca_cert.not_valid_after_utc))
    for r in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(r.serial).revocation_date(r.at)
            .add_extension(x509.CRLReason(REASONS.get(r.reason, x509.ReasonFlags.unspecified)),
                           critical=False).build())
    return builder.sign(keys.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
