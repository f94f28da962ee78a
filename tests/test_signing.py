"""Signed documents and provisioning bundles."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.errors import IntegrityError, InvalidInput
from edge.keys import signing_key_id
from edge.provisioning import ProvisioningBundle, new_code, open_bundle, seal_bundle
from edge.signing import open_document, sign_document


@pytest.fixture(scope="module")
def hq_key():
    return ed25519.Ed25519PrivateKey.generate()


def test_document_round_trip(hq_key):
    data = sign_document("worklist", b"body", hq_key)
    trusted = {signing_key_id(hq_key.public_key()): hq_key.public_key()}
    assert open_document(data, kind="worklist", trusted=trusted).body == b"body"


def test_a_signature_for_one_kind_cannot_serve_another(hq_key):
    """An ack signed by HQ must never pass as a worklist."""
    data = sign_document("ack", b"body", hq_key)
    trusted = {signing_key_id(hq_key.public_key()): hq_key.public_key()}
    forged = data.replace(b'"kind":"ack"', b'"kind":"worklist"')
    with pytest.raises(IntegrityError):
        open_document(forged, kind="worklist", trusted=trusted)


def test_unknown_signer_rejected(hq_key):
    other = ed25519.Ed25519PrivateKey.generate()
    data = sign_document("worklist", b"body", other)
    trusted = {signing_key_id(hq_key.public_key()): hq_key.public_key()}
    with pytest.raises(IntegrityError, match="unknown key"):
        open_document(data, kind="worklist", trusted=trusted)


def _bundle(hq_key) -> ProvisioningBundle:
    from edge.keys import b64

    return ProvisioningBundle(
        device_id="kit-01", kelurahan=["32.75.01.1001"], broker="", issued_at="2026-11-24",
        device_signing_key=b64(b"\x01" * 32), device_tls_key_pem="-", device_cert_pem="-",
        ca_cert_pem="-", hq_signing_public=b64(hq_key.public_key().public_bytes_raw()),
        hq_sealing_public=b64(b"\x02" * 1216),
    )


def test_bundle_needs_its_code(hq_key):
    code = new_code()
    data = seal_bundle(_bundle(hq_key), hq_signing_key=hq_key, code=code)
    assert b"kit-01" in data and b"\x01" * 32 not in data
    assert open_bundle(data, code.lower().replace("-", " ")).device_id == "kit-01"
    with pytest.raises(IntegrityError, match="wrong provisioning code"):
        open_bundle(data, new_code())
    with pytest.raises(InvalidInput, match="20 letters"):
        open_bundle(data, "1234")
