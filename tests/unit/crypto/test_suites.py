"""Both suites behave the same through the ``Suite`` interface: round trips and refusals."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from medfed.crypto import CryptoError, Suite, get_suite
from medfed.crypto.gm import sm3
from medfed.errors import ConfigError

pytestmark = pytest.mark.clause("5.5.1.3a")

SUITES = ["gm", "intl"]


@pytest.fixture(scope="module", params=SUITES)
def suite(request: pytest.FixtureRequest) -> Suite:
    return get_suite(request.param)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_unknown_suite_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="gm, intl"):
        get_suite("rsa")


def test_sign_verify_round_trip_through_pem(suite: Suite) -> None:
    key = suite.generate_signing_key()
    verify_key = suite.load_verify_key(key.verify_key().public_bytes())
    verify_key.verify(b"algorithm package v1", key.sign(b"algorithm package v1"))
    assert verify_key.fingerprint() == key.verify_key().fingerprint()
    assert len(verify_key.fingerprint()) == 2 * suite.digest_size


def test_tampered_data_or_signature_is_refused(suite: Suite) -> None:
    key = suite.generate_signing_key()
    signature = key.sign(b"payload")
    with pytest.raises(CryptoError):
        key.verify_key().verify(b"payloaD", signature)
    for index in (0, len(signature) // 2, len(signature) - 1):
        with pytest.raises(CryptoError):
            key.verify_key().verify(b"payload", _flip(signature, index))
    for junk in (b"", b"\x30\x00", signature[:-1]):
        with pytest.raises(CryptoError):
            key.verify_key().verify(b"payload", junk)


def test_signature_of_another_key_is_refused(suite: Suite) -> None:
    signature = suite.generate_signing_key().sign(b"payload")
    with pytest.raises(CryptoError):
        suite.generate_signing_key().verify_key().verify(b"payload", signature)


def test_keys_of_the_other_suite_are_refused(suite: Suite) -> None:
    other = get_suite("intl" if suite.name == "gm" else "gm")
    key = other.generate_signing_key()
    with pytest.raises(CryptoError):
        suite.load_signing_key(key.private_bytes(None))
    with pytest.raises(CryptoError):
        suite.load_verify_key(key.verify_key().public_bytes())
    with pytest.raises(CryptoError):
        suite.generate_signing_key().verify_key().verify(b"m", key.sign(b"m"))


def test_private_key_pem_encrypted_under_passphrase(suite: Suite) -> None:
    key = suite.generate_signing_key()
    pem = key.private_bytes(b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    loaded = suite.load_signing_key(pem, b"correct horse")
    key.verify_key().verify(b"m", loaded.sign(b"m"))
    for wrong in (b"wrong horse", None):
        with pytest.raises(CryptoError):
            suite.load_signing_key(pem, wrong)
    plain = key.private_bytes(None)
    assert b"BEGIN PRIVATE KEY" in plain
    suite.load_signing_key(plain).verify_key().verify(b"m", key.sign(b"m"))


def test_garbage_pem_is_refused(suite: Suite) -> None:
    with pytest.raises(CryptoError):
        suite.load_signing_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CryptoError):
        suite.load_verify_key(b"not a key")


def test_seal_open_round_trip_with_aad(suite: Suite) -> None:
    key = suite.generate_seal_key()
    assert len(key) == suite.seal_key_size
    sealed = suite.seal(key, b"weights", aad=b"round 3")
    assert suite.open(key, sealed, aad=b"round 3") == b"weights"
    assert suite.seal(key, b"weights", aad=b"round 3") != sealed  # fresh nonce inside
    assert suite.open(key, suite.seal(key, b"")) == b""


def test_tampered_sealed_bytes_are_refused(suite: Suite) -> None:
    key = suite.generate_seal_key()
    sealed = suite.seal(key, b"model update", aad=b"a")
    for index in (0, 11, 12, len(sealed) - 17, len(sealed) - 1):  # nonce, body, tag
        with pytest.raises(CryptoError):
            suite.open(key, _flip(sealed, index), aad=b"a")
    for broken in (sealed[:-1], sealed[:27], b""):
        with pytest.raises(CryptoError):
            suite.open(key, broken, aad=b"a")
    with pytest.raises(CryptoError):
        suite.open(key, sealed, aad=b"b")


def test_seal_with_another_key_is_refused(suite: Suite) -> None:
    sealed = suite.seal(suite.generate_seal_key(), b"x")
    with pytest.raises(CryptoError):
        suite.open(suite.generate_seal_key(), sealed)


def test_agreement_gives_both_sides_the_same_key(suite: Suite) -> None:
    alice, bob = suite.generate_agreement_key(), suite.generate_agreement_key()
    info = b"medfed/session-1/" + alice.public_bytes() + bob.public_bytes()
    shared = alice.agree(bob.public_bytes(), info=info)
    assert len(shared) == 32 and shared == bob.agree(alice.public_bytes(), info=info)
    assert alice.agree(bob.public_bytes(), info=b"other") != shared
    seal_key = alice.agree_seal_key(bob.public_bytes(), info=info)
    assert seal_key == shared[: suite.seal_key_size]
    sealed = suite.seal(seal_key, b"update")
    assert suite.open(bob.agree_seal_key(alice.public_bytes(), info=info), sealed) == b"update"


def test_agreement_refuses_a_malformed_peer_key(suite: Suite) -> None:
    key = suite.generate_agreement_key()
    good = suite.generate_agreement_key().public_bytes()
    # Not on the curve / wrong length / all-zero (X25519 low-order point).
    for bad in (good[:-1] + bytes([good[-1] ^ 1]), good[:-1], b"", bytes(len(good))):
        if suite.name == "intl" and bad == good[:-1] + bytes([good[-1] ^ 1]):
            continue  # every 32-byte string is an X25519 u-coordinate
        with pytest.raises(CryptoError):
            key.agree(bad, info=b"i")


def test_hmac_matches_rfc_2104(suite: Suite) -> None:
    key, data = b"k" * 20, b"message"
    if suite.name == "intl":
        assert suite.hmac(key, data) == hmac.new(key, data, hashlib.sha256).digest()
        assert suite.digest(b"abc") == hashlib.sha256(b"abc").digest()
        return
    block = key.ljust(64, b"\0")
    inner = sm3(bytes(b ^ 0x36 for b in block) + data)
    assert suite.hmac(key, data) == sm3(bytes(b ^ 0x5C for b in block) + inner)
