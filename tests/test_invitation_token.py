"""The invitation token in a letter's QR code: HQ signs it, the kit checks it offline, and
every kind of bad token is refused with its own reason."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.errors import (
    InvitationExpired,
    InvitationForged,
    InvitationMalformed,
    InvitationOtherArea,
    InvitationRefused,
)
from edge.invitation_token import PREFIX, encode_token, looks_like_token, verify_token
from edge.keys import signing_key_id

KELURAHAN = "32.75.01.1001"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
NIK = "3275014101050001"


@pytest.fixture(scope="module")
def hq_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _trusted(key: ed25519.Ed25519PrivateKey) -> dict[str, ed25519.Ed25519PublicKey]:
    return {signing_key_id(key.public_key()): key.public_key()}


def _token(key: ed25519.Ed25519PrivateKey, **over: object) -> str:
    fields: dict[str, object] = dict(
        invitation_code="K7QFR-2M9XA", kelurahan=KELURAHAN, rw="005",
        visit_date=date(2026, 12, 4),
        expires_at=datetime(2027, 1, 3, 16, 59, 59, tzinfo=UTC),  # 3 Jan 23:59:59 WIB
        signing_key=key)
    fields.update(over)
    return encode_token(**fields)  # type: ignore[arg-type]


def test_a_genuine_token_says_which_invitation_and_visit(hq_key) -> None:
    token = verify_token(_token(hq_key), trusted=_trusted(hq_key), now=NOW,
                         kelurahan=[KELURAHAN])
    assert token.invitation_code == "K7QFR2M9XA"
    assert (token.kelurahan, token.rw, token.visit_date) == (KELURAHAN, "005", date(2026, 12, 4))
    assert token.expires_at == datetime(2027, 1, 3, 16, 59, 59, tzinfo=UTC)
    assert token.key_id == signing_key_id(hq_key.public_key())


def test_the_text_is_compact_qr_alphanumeric_and_holds_no_nik(hq_key) -> None:
    text = _token(hq_key)
    assert text.startswith(PREFIX) and looks_like_token(text)
    assert re.fullmatch(r"[0-9A-Z:]+", text)  # QR alphanumeric mode; a US keyboard types it
    assert len(text) <= 170  # a version 7 QR code at level M holds 178 such characters
    raw = base64.b32decode(text[len(PREFIX):] + "=" * (-len(text[len(PREFIX):]) % 8))
    assert NIK.encode() not in raw and NIK not in text


def test_what_a_scanner_adds_is_forgiven(hq_key) -> None:
    text = _token(hq_key)
    mangled = "  " + text[:40].lower() + "\n" + text[40:] + "\r\n"
    assert verify_token(mangled, trusted=_trusted(hq_key), now=NOW).invitation_code == \
        "K7QFR2M9XA"


def test_every_altered_character_is_refused(hq_key) -> None:
    text = _token(hq_key)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i in range(len(PREFIX), len(text)):
        other = alphabet[(alphabet.index(text[i]) + 1) % 32]
        altered = text[:i] + other + text[i + 1:]
        with pytest.raises(InvitationRefused) as caught:
            verify_token(altered, trusted=_trusted(hq_key), now=NOW)
        assert caught.value.code in ("invitation_forged", "invitation_malformed"), i


def test_a_token_signed_by_another_key_is_forged(hq_key) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(InvitationForged, match="does not trust"):
        verify_token(_token(stranger), trusted=_trusted(hq_key), now=NOW)
    # The stranger puts HQ's key id in front of its own signature: still forged.
    forged = _token(stranger)
    body = base64.b32decode(forged[len(PREFIX):] + "=" * (-len(forged[len(PREFIX):]) % 8))
    body = bytes.fromhex(signing_key_id(hq_key.public_key())) + body[8:]
    text = PREFIX + base64.b32encode(body).decode().rstrip("=")
    with pytest.raises(InvitationForged, match="does not verify"):
        verify_token(text, trusted=_trusted(hq_key), now=NOW)


def test_an_expired_token_is_refused_and_says_until_when(hq_key) -> None:
    text = _token(hq_key)
    after = datetime(2027, 1, 3, 17, 0, tzinfo=UTC)  # 4 Jan 00:00 WIB
    with pytest.raises(InvitationExpired) as caught:
        verify_token(text, trusted=_trusted(hq_key), now=after)
    assert caught.value.details["valid_until"] == "03-01-2027"
    verify_token(text, trusted=_trusted(hq_key), now=after - timedelta(seconds=2))


def test_a_token_for_another_kelurahan_is_refused(hq_key) -> None:
    text = _token(hq_key, kelurahan="32.75.02.1001")
    with pytest.raises(InvitationOtherArea) as caught:
        verify_token(text, trusted=_trusted(hq_key), now=NOW, kelurahan=[KELURAHAN])
    assert "32.75.02.1001" in caught.value.details["kelurahan"]
    assert caught.value.details["kelurahan"] == "Bintara (32.75.02.1001)"


@pytest.mark.parametrize("text", [
    "REKAM1:", "REKAM1:AAAA", "REKAM1:!!!!", "REKAM1:" + "A" * 500, "K7QFR-2M9XA",
])
def test_damaged_or_foreign_text_is_malformed(hq_key, text) -> None:
    with pytest.raises(InvitationMalformed):
        verify_token(text, trusted=_trusted(hq_key), now=NOW)


def test_a_cut_token_is_refused(hq_key) -> None:
    text = _token(hq_key)
    with pytest.raises(InvitationRefused):
        verify_token(text[:-8], trusted=_trusted(hq_key), now=NOW)


# --- on the kit: `rekam roster search` takes the scanned text -----------------------------


def _world_token(world, nik: str | None = None, **over: object) -> str:  # type: ignore[no-untyped-def]
    from hq.home import HqHome
    from hq.invitations import invitation_code

    keys = HqHome(world.hq_home).keys()
    fields: dict[str, object] = dict(
        invitation_code=invitation_code(keys.invitation_secret, nik or world.niks(1)[0]),
        kelurahan=KELURAHAN, rw="005", visit_date=date.today() + timedelta(days=3),
        expires_at=datetime.now(UTC) + timedelta(days=30), signing_key=keys.signing)
    fields.update(over)
    return encode_token(**fields)  # type: ignore[arg-type]


def test_roster_search_goes_straight_to_the_invited_resident(world, capsys) -> None:
    from kit_world import OPERATOR_PIN, read_json

    nik = world.niks(3)[2]
    token = _world_token(world, nik)
    assert world.kit("roster", "search", token, "--rw", "999", pin=OPERATOR_PIN) == 0
    out = capsys.readouterr()
    assert nik in out.out and len(out.out.strip().splitlines()) == 3  # header, rule, one row
    assert "invitation valid: visit" in out.err
    assert world.kit("roster", "search", token.lower(), "--json", pin=OPERATOR_PIN) == 0
    [hit] = read_json(capsys)
    assert (hit["nik"], hit["matched"]) == (nik, "token")


@pytest.mark.parametrize("case, reason", [
    ("forged", "does not trust"),
    ("altered", "forged or altered"),
    ("expired", "valid until"),
    ("other_area", "32.75.01.1002"),
    ("not_on_roster", "not on this kit's roster"),
])
def test_roster_search_refuses_bad_invitations_with_a_reason(world, capsys, case,
                                                             reason) -> None:
    from kit_world import OPERATOR_PIN, read_json

    if case == "forged":
        token = _world_token(world, signing_key=ed25519.Ed25519PrivateKey.generate())
    elif case == "altered":  # the same letter, pointed at another resident's code
        genuine = _world_token(world)
        i = len(PREFIX) + 20
        token = genuine[:i] + ("B" if genuine[i] != "B" else "C") + genuine[i + 1:]
    elif case == "expired":
        token = _world_token(world, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    elif case == "other_area":
        token = _world_token(world, kelurahan="32.75.01.1002")
    else:
        token = _world_token(world, invitation_code="ZZZZZZZZZZ")
    assert world.kit("roster", "search", token, pin=OPERATOR_PIN) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invitation refused: ") and reason in err
    assert len(err.strip().splitlines()) == 1
    assert world.kit("audit", "list", "--json") == 0
    refused = [e for e in read_json(capsys) if e["action"] == "invitation_refused"]
    assert len(refused) == (0 if case == "not_on_roster" else 1)
