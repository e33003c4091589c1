"""Key-length policy (5.5.1.3b): short or foreign keys are refused on load, seal and open."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from tongsuopy.crypto.asymciphers import ec as ts_ec

from medfed.crypto import CryptoError, KeyPolicyError, check_key_policy, get_suite
from medfed.errors import ConfigError

pytestmark = pytest.mark.clause("5.5.1.3b")


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_policy_error_is_both_config_and_crypto_error() -> None:
    assert issubclass(KeyPolicyError, ConfigError) and issubclass(KeyPolicyError, CryptoError)


@pytest.mark.parametrize(("name", "size"), [("gm", 32), ("gm", 24), ("intl", 16), ("intl", 24)])
def test_symmetric_key_of_wrong_length_is_refused(name: str, size: int) -> None:
    suite = get_suite(name)
    algorithm = "SM4" if name == "gm" else "AES-256-GCM"
    with pytest.raises(KeyPolicyError, match=f"key policy: {algorithm}"):
        suite.seal(b"k" * size, b"x")
    with pytest.raises(KeyPolicyError, match="key policy"):
        suite.open(b"k" * size, b"\0" * 40)


def test_short_ecdsa_curve_is_refused_on_load() -> None:
    key = ec.generate_private_key(ec.SECP224R1())
    with pytest.raises(KeyPolicyError, match="at least 256 bits"):
        get_suite("intl").load_signing_key(_pem(key))
    with pytest.raises(KeyPolicyError, match="at least 256 bits"):
        get_suite("intl").load_verify_key(_public_pem(key))


def test_larger_ecdsa_curve_is_accepted_by_intl() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    get_suite("intl").load_verify_key(_public_pem(key))


def test_short_rsa_key_is_refused_naming_the_policy() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyPolicyError, match="RSA keys must be at least 2048"):
        get_suite("intl").load_signing_key(_pem(key))
    with pytest.raises(KeyPolicyError, match="RSA"):
        check_key_policy(key.public_key())


def test_rsa_2048_meets_the_policy_but_is_not_an_intl_signing_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    check_key_policy(key)
    with pytest.raises(CryptoError) as caught:
        get_suite("intl").load_signing_key(_pem(key))
    assert not isinstance(caught.value, KeyPolicyError)


def test_sm2_x25519_and_symmetric_keys_meet_the_policy() -> None:
    check_key_policy(ts_ec.generate_private_key(ts_ec.SM2()))
    check_key_policy(x25519.X25519PrivateKey.generate())
    check_key_policy(ec.generate_private_key(ec.SECP256R1()).public_key())
    check_key_policy(b"\0" * 16)
    check_key_policy(b"\0" * 32)


@pytest.mark.parametrize("bad", [b"\0" * 8, b"\0" * 24, object()])
def test_unknown_or_short_keys_are_refused(bad: object) -> None:
    with pytest.raises(KeyPolicyError):
        check_key_policy(bad)


def test_sm2_key_on_a_smaller_curve_is_refused() -> None:
    class FakeCurve:
        name = "SM2"
        key_size = 192

    class FakeKey:
        curve = FakeCurve()
        key_size = 192

    with pytest.raises(KeyPolicyError, match="SM2 keys must be on the 256-bit"):
        check_key_policy(FakeKey())
