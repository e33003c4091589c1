"""Tongsuo / pyca against gmssl, an independent pure-Python implementation, both directions."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto.algos import DSASignature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto.asymciphers import ec as ts_ec
from tongsuopy.crypto.ciphers.aead import SM4GCM

from medfed.crypto import CryptoError
from medfed.crypto._sm2_ecdh import sm3_kdf
from medfed.crypto.gm import GmSigningKey, GmSuite, GmVerifyKey, sm3

pytestmark = pytest.mark.clause("5.5.1.3a")

gmssl_sm3 = pytest.importorskip("gmssl.sm3")
gmssl_sm4 = pytest.importorskip("gmssl.sm4")
gmssl_func = pytest.importorskip("gmssl.func")

MESSAGES = [b"", b"abc", b"model update round 7" * 50]


def _xy(key: GmVerifyKey) -> str:
    return key.point()[1:].hex()


@pytest.fixture(scope="module")
def keypair(gm: GmSuite) -> tuple[GmSigningKey, str]:
    key = gm.generate_signing_key()
    private = ts_ec.EllipticCurvePrivateKey
    assert isinstance(key._key, private)
    return key, f"{key._key.private_numbers().private_value:064x}"


@pytest.mark.parametrize("message", MESSAGES)
def test_tongsuo_sm2_signature_verifies_in_gmssl(
    keypair: tuple[GmSigningKey, str], message: bytes, gmssl_sm2: Callable[..., Any]
) -> None:
    key, _ = keypair
    verifier = gmssl_sm2(None, _xy(key.verify_key()), asn1=True)
    assert verifier.verify_with_sm3(key.sign(message).hex(), message)
    assert not verifier.verify_with_sm3(key.sign(message).hex(), message + b"x")


@pytest.mark.parametrize("message", MESSAGES)
def test_gmssl_sm2_signature_verifies_in_tongsuo(
    keypair: tuple[GmSigningKey, str], message: bytes, gmssl_sm2: Callable[..., Any]
) -> None:
    key, private_hex = keypair
    verify_key = key.verify_key()
    signer = gmssl_sm2(private_hex, _xy(verify_key), asn1=True)
    signature = bytes.fromhex(signer.sign_with_sm3(message, os.urandom(32).hex()))
    verify_key.verify(message, signature)
    with pytest.raises(CryptoError):
        verify_key.verify(message + b"x", signature)


def test_raw_r_s_signature_from_gmssl_verifies_after_der_encoding(
    keypair: tuple[GmSigningKey, str], gmssl_sm2: Callable[..., Any]
) -> None:
    key, private_hex = keypair
    signer = gmssl_sm2(private_hex, _xy(key.verify_key()))
    rs = signer.sign_with_sm3(b"abc", os.urandom(32).hex())
    der = DSASignature({"r": int(rs[:64], 16), "s": int(rs[64:], 16)}).dump()
    key.verify_key().verify(b"abc", der)


@pytest.mark.parametrize("message", [b"abc", b"abcd" * 16, os.urandom(1000)])
def test_sm3_matches_gmssl(message: bytes) -> None:
    assert sm3(message).hex() == gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(message))


def test_sm3_kdf_matches_gmssl() -> None:
    z = os.urandom(48)
    assert sm3_kdf(z, 80).hex() == gmssl_sm3.sm3_kdf(z.hex().encode(), 80)


def test_sm4_ecb_and_cbc_match_gmssl() -> None:
    key, iv, data = os.urandom(16), os.urandom(16), os.urandom(64)
    ours = Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update(data)
    theirs = gmssl_sm4.CryptSM4(padding_mode=None)
    theirs.set_key(key, gmssl_sm4.SM4_ENCRYPT)
    assert ours == bytes(theirs.crypt_ecb(data))
    ours_cbc = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor().update(data)
    # gmssl's CBC always appends a PKCS#7 block; compare the blocks of the data itself.
    assert ours_cbc == bytes(theirs.crypt_cbc(iv, data))[: len(data)]


def test_sm4_gcm_seal_opens_with_tongsuo_and_back(gm: GmSuite) -> None:
    key = gm.generate_seal_key()
    sealed = gm.seal(key, b"weights", aad=b"round-1")
    assert SM4GCM(key).decrypt(sealed[:12], sealed[12:], b"round-1") == b"weights"
    nonce = os.urandom(12)
    assert gm.open(key, nonce + SM4GCM(key).encrypt(nonce, b"w", b"a"), aad=b"a") == b"w"


def test_sm2_curve_ecdh_matches_gmssl_scalar_multiplication(
    gm: GmSuite, gmssl_sm2: Callable[..., Any]
) -> None:
    from medfed.crypto._sm2_ecdh import _ecdh_x

    mine, peer = gm.generate_agreement_key(), gm.generate_agreement_key()
    peer_point = peer.public_bytes()
    d = mine._key.private_numbers().private_value
    calc = gmssl_sm2(f"{d:064x}", peer_point[1:].hex())
    expected_x = calc._kg(d, peer_point[1:].hex())[:64]
    peer_key = ts_ec.EllipticCurvePublicKey.from_encoded_point(ts_ec.SM2(), peer_point)
    assert _ecdh_x(mine._key, peer_key).hex() == expected_x
    assert mine.agree(peer_point, info=b"i") == sm3_kdf(bytes.fromhex(expected_x) + b"i", 32)
