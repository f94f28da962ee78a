"""Worklists: signed by HQ, bound to one kit, newer than the roster, not expired, well formed."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import DocumentRejected, IntegrityError, InvalidInput
from edge.keys import signing_key_id
from edge.residents import MaritalStatus, Resident, Sex
from edge.roster import ScheduleEntry
from edge.signing import sign_document
from edge.worklist import build_worklist, verify_worklist

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
HQ = ed25519.Ed25519PrivateKey.generate()
TRUSTED = {signing_key_id(HQ.public_key()): HQ.public_key()}

RESIDENT = Resident(
    nik="3275014101050001", no_kk="3275010101200003", name="SITI RAHMAWATI", sex=Sex.FEMALE,
    birth_place="BEKASI", birth_date=date(2005, 1, 1), marital_status=MaritalStatus.SINGLE,
    address="JL. MERDEKA NO. 5", rt="003", rw="005", kelurahan="32.75.01.1001",
    kecamatan="32.75.01", invitation_code="K7QFR-2M9XA",
)


def _worklist(**overrides):
    fields = dict(device_id="kit-01", version=2, issued_at=NOW, expires_at=NOW + timedelta(days=30),
                  kelurahan=["32.75.01.1001"], residents=[RESIDENT], signing_key=HQ,
                  schedule=[ScheduleEntry(date(2026, 11, 25), "Balai RW 005", "32.75.01.1001",
                                          "005")])
    fields.update(overrides)
    return build_worklist(**fields)


def test_round_trip_keeps_residents_and_schedule():
    verified = verify_worklist(_worklist(), trusted=TRUSTED, device_id="kit-01",
                               current_version=1, now=NOW)
    assert list(verified.residents()) == [RESIDENT]
    assert verified.meta.schedule[0].place == "Balai RW 005"
    assert verified.meta.count == 1 and verified.meta.version == 2


@pytest.mark.parametrize(("overrides", "error", "message"), [
    ({"device_id": "kit-02"}, DocumentRejected, "for device kit-02"),
    ({"version": 1}, DocumentRejected, "not newer"),
    ({"expires_at": NOW - timedelta(seconds=1)}, DocumentRejected, "expired"),
    ({"signing_key": ed25519.Ed25519PrivateKey.generate()}, IntegrityError, "unknown key"),
])
def test_refusals(overrides, error, message):
    with pytest.raises(error, match=message):
        verify_worklist(_worklist(**overrides), trusted=TRUSTED, device_id="kit-01",
                        current_version=1, now=NOW)


def test_a_malformed_row_is_named_even_when_signed():
    record = RESIDENT.to_record()
    del record["tanggal_lahir"]
    payload = {"device_id": "kit-01", "version": 2, "issued_at": NOW.isoformat(),
               "expires_at": (NOW + timedelta(days=1)).isoformat(), "kelurahan": [],
               "residents": [RESIDENT.to_record(), record]}
    data = sign_document("worklist", gzip.compress(canonical_json(payload)), HQ)
    verified = verify_worklist(data, trusted=TRUSTED, device_id="kit-01", current_version=None,
                               now=NOW)
    with pytest.raises(InvalidInput, match="row 2: column tanggal_lahir is missing"):
        list(verified.residents())
