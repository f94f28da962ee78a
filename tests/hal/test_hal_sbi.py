"""The SBI adapter refuses captures whose device signature does not verify, and checks the
device certificate against the providers' CAs when the kit is given them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sbi_fakes import sbi_keys, sbi_service, sign_jws

from hal.backends.sbi import (
    SbiFingerprintScanner,
    SbiIrisScanner,
    SbiTrust,
    find_device,
    verify_jws,
)
from hal.errors import CaptureUntrusted, HalError
from hal.types import Eye, Finger


@pytest.fixture
def ca_bundle(tmp_path):
    keys = sbi_keys()
    path = tmp_path / "providers.pem"
    path.write_bytes(keys.pem(keys.root))
    return path


def test_without_a_ca_the_signature_is_checked_and_the_capture_says_self_trust():
    with sbi_service() as (port, _state):
        scanner = SbiFingerprintScanner(*find_device("Finger", ports=[port]))
        capture = scanner.capture(Finger.LEFT_INDEX)
        assert capture.warnings == ("trust_self",)
        assert capture.quality.measures["trust_ca"] == 0.0


@pytest.mark.parametrize("mode", ["tampered", "stranger", "no_x5c", "alg_none"])
def test_a_bad_signature_is_refused(mode):
    with sbi_service() as (port, state):
        scanner = SbiFingerprintScanner(*find_device("Finger", ports=[port]))
        state.sign_mode = mode
        with pytest.raises(CaptureUntrusted) as err:
            scanner.capture(Finger.RIGHT_THUMB)
        assert isinstance(err.value, HalError) and err.value.code == "capture_untrusted"
        assert "\n" not in str(err.value) and err.value.device == "fingerprint"
        state.sign_mode = "good"  # the next capture is fine again
        assert scanner.capture(Finger.RIGHT_THUMB).image


def test_a_configured_ca_bundle_is_enforced(ca_bundle, tmp_path):
    keys = sbi_keys()
    with sbi_service() as (port, _state):
        trusted = SbiTrust.from_env({"REKAM_SBI_CA": str(ca_bundle)})
        assert trusted.level == "ca"
        iris = SbiIrisScanner.open(ports=[port], trust=trusted)
        capture = iris.capture(Eye.LEFT)
        assert capture.warnings == () and capture.quality.measures["trust_ca"] == 1.0

        other = tmp_path / "other.pem"
        other.write_bytes(keys.pem(keys.stranger))
        iris = SbiIrisScanner.open(ports=[port], trust=SbiTrust.from_bundle(other))
        with pytest.raises(CaptureUntrusted, match="trusted device provider"):
            iris.capture(Eye.LEFT)


def test_the_chain_is_checked_for_time_and_a_provider_ca_may_be_the_anchor():
    keys = sbi_keys()
    token = sign_jws({"bioValue": ""})
    provider_only = SbiTrust((keys.provider,))
    assert verify_jws(token, provider_only) == {"bioValue": ""}
    later = datetime.now(UTC) + timedelta(days=400)  # the device certificate has expired
    with pytest.raises(CaptureUntrusted):
        verify_jws(token, SbiTrust((keys.root,)), now=later)
    assert verify_jws(token, SbiTrust(), now=later) == {"bioValue": ""}  # self: no chain


def test_trust_configuration_errors_are_loud(tmp_path):
    assert SbiTrust.from_env({}).level == "self"
    with pytest.raises(HalError, match="cannot be read"):
        SbiTrust.from_env({"REKAM_SBI_CA": str(tmp_path / "missing.pem")})
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(HalError, match="cannot be read"):
        SbiTrust.from_bundle(junk)


def test_malformed_tokens_are_errors_not_crashes():
    for token in ("", "a.b", "a.b.c.d", "!!!.???.***"):
        with pytest.raises(HalError):
            verify_jws(token, SbiTrust())
