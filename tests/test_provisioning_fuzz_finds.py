"""What fuzzing found in the provisioning bundle reader: a bundle whose salt or nonce has
the wrong size crashed it (Argon2id and ChaCha20-Poly1305 raise plain ValueErrors) instead
of saying it is not a bundle."""

from __future__ import annotations

import pytest

from edge.errors import InvalidInput
from edge.provisioning import open_bundle


@pytest.mark.parametrize("salt,nonce", [("", "AAAAAAAAAAAAAAAA"),
                                        ("AAAAAAAAAAAAAAAAAAAAAA==", ""),
                                        ("AAAA", "AAAA")])
def test_a_bundle_with_odd_sizes_is_refused_in_words(salt, nonce):
    data = ('{"ciphertext":"","device_id":"kit-a","format":"rekam-bundle/1",'
            f'"nonce":"{nonce}","salt":"{salt}"}}').encode()
    with pytest.raises(InvalidInput, match="not a Rekam provisioning bundle"):
        open_bundle(data, "ABCDE-FGH23-JKMNP-QRS45")
