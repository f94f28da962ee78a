"""Worklists: signed by HQ, sealed to one kit's worklist key, newer than the roster, not
expired, well formed; the sync daemon checks the header without being able to open them."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import DocumentRejected, IntegrityError, InvalidInput
from edge.keys import SEALING_SUITE, SUITE_NAME, SealingPrivateKey, b64, signing_key_id
from edge.resident_record import MaritalStatus
from edge.residents import Resident, Sex
from edge.roster import ScheduleEntry
from edge.signing import parse_document, sign_document
from edge.worklist import FORMAT, build_worklist, read_worklist, verify_worklist

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
HQ = ed25519.Ed25519PrivateKey.generate()
TRUSTED = {signing_key_id(HQ.public_key()): HQ.public_key()}
KIT_KEY = SealingPrivateKey.generate()

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
                                          "005")], kit_key=KIT_KEY.public())
    fields.update(overrides)
    return build_worklist(**fields)


def _verify(data, **overrides):
    fields = dict(trusted=TRUSTED, device_id="kit-01", kit_key=KIT_KEY, current_version=1,
                  now=NOW)
    fields.update(overrides)
    return verify_worklist(data, **fields)


def _seal_by_hand(payload: dict, header: dict | None = None) -> bytes:
    """What a buggy (or hostile, holding HQ's key) issuer could sign."""
    header = header or {"format": FORMAT, "suite": SUITE_NAME,
                        "kit_key_id": KIT_KEY.public().key_id, "device_id": "kit-01",
                        "version": 2, "issued_at": payload["issued_at"],
                        "expires_at": payload["expires_at"],
                        "residents": len(payload["residents"])}
    ciphertext = SEALING_SUITE.encrypt(gzip.compress(canonical_json(payload)),
                                       KIT_KEY.public().to_hpke(), info=canonical_json(header))
    return sign_document("worklist", canonical_json({**header, "ciphertext": b64(ciphertext)}),
                         HQ)


def test_round_trip_keeps_residents_and_schedule():
    verified = _verify(_worklist())
    assert list(verified.residents()) == [RESIDENT]
    assert verified.meta.schedule[0].place == "Balai RW 005"
    assert verified.meta.count == 1 and verified.meta.version == 2


def test_the_signed_bytes_hold_no_resident_and_the_header_is_readable_without_the_key():
    data = _worklist()
    body = parse_document(data).body
    for secret in (RESIDENT.nik, RESIDENT.name, RESIDENT.no_kk, RESIDENT.address, "BEKASI"):
        assert secret.encode() not in data and secret.encode() not in body
    sealed = read_worklist(data, trusted=TRUSTED, device_id="kit-01",
                           kit_key_id=KIT_KEY.public().key_id, current_version=1, now=NOW)
    assert (sealed.version, sealed.residents) == (2, 1)
    assert json.loads(body)["format"] == "rekam-worklist/2"


@pytest.mark.parametrize(("overrides", "error", "message"), [
    ({"device_id": "kit-02"}, DocumentRejected, "for device kit-02"),
    ({"version": 1}, DocumentRejected, "not newer"),
    ({"expires_at": NOW - timedelta(seconds=1)}, DocumentRejected, "expired"),
    ({"signing_key": ed25519.Ed25519PrivateKey.generate()}, IntegrityError, "unknown key"),
    ({"kit_key": SealingPrivateKey.generate().public()}, DocumentRejected,
     "sealed to worklist key"),
])
def test_refusals(overrides, error, message):
    with pytest.raises(error, match=message):
        _verify(_worklist(**overrides))


def test_another_kits_key_cannot_open_it_even_if_the_header_is_rewritten():
    other = SealingPrivateKey.generate()
    with pytest.raises(DocumentRejected, match="sealed to worklist key"):
        _verify(_worklist(), kit_key=other)
    payload = {"device_id": "kit-01", "version": 2, "issued_at": NOW.isoformat(),
               "expires_at": (NOW + timedelta(days=1)).isoformat(), "kelurahan": [],
               "residents": [RESIDENT.to_record()]}
    data = _seal_by_hand(payload)
    body = json.loads(parse_document(data).body)
    body["version"] = 7  # the header is HPKE's info: changing it breaks the seal
    forged = sign_document("worklist", canonical_json(body), HQ)
    with pytest.raises(IntegrityError, match="does not decrypt"):
        _verify(forged)


def test_an_unsealed_worklist_of_the_old_format_is_refused():
    payload = {"device_id": "kit-01", "version": 2, "issued_at": NOW.isoformat(),
               "expires_at": (NOW + timedelta(days=1)).isoformat(), "kelurahan": [],
               "residents": [RESIDENT.to_record()]}
    plain = sign_document("worklist", gzip.compress(canonical_json(payload)), HQ)
    with pytest.raises(DocumentRejected, match="not sealed"):
        _verify(plain)


def test_a_sealed_payload_that_contradicts_its_header_is_refused():
    payload = {"device_id": "kit-01", "version": 2, "issued_at": NOW.isoformat(),
               "expires_at": (NOW + timedelta(days=400)).isoformat(), "kelurahan": [],
               "residents": [RESIDENT.to_record()]}
    header = {"format": FORMAT, "suite": SUITE_NAME, "kit_key_id": KIT_KEY.public().key_id,
              "device_id": "kit-01", "version": 2, "issued_at": NOW.isoformat(),
              "expires_at": (NOW + timedelta(days=1)).isoformat(), "residents": 1}
    with pytest.raises(IntegrityError, match="does not say what its signed header says"):
        _verify(_seal_by_hand(payload, header))


def test_a_malformed_row_is_named_even_when_signed():
    record = RESIDENT.to_record()
    del record["tanggal_lahir"]
    payload = {"device_id": "kit-01", "version": 2, "issued_at": NOW.isoformat(),
               "expires_at": (NOW + timedelta(days=1)).isoformat(), "kelurahan": [],
               "residents": [RESIDENT.to_record(), record]}
    verified = _verify(_seal_by_hand(payload), current_version=None)
    with pytest.raises(InvalidInput, match="row 2: column tanggal_lahir is missing"):
        list(verified.residents())
