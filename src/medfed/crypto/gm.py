"""The ``gm`` suite (GB/T national cryptography): SM2 signatures, SM2-curve ECDH, SM3, SM4-GCM.

Which library does what:

* SM2 signatures: tongsuopy (Tongsuo). ``sign(data, ECDSA(SM3()))`` on an SM2 key computes the
  real GB/T 32918.2 signature: e = SM3(Z_A ‖ M) with Z_A over the default user ID
  "1234567812345678", the curve parameters and the public key (checked against gmssl, which
  computes Z_A itself, and against the GB/T 32918.5 Annex A example). Signatures are DER
  ``SEQUENCE { r, s }`` (GB/T 35276).
* Key agreement: ECDH on the SM2 curve by Tongsuo + the GB/T 32918.3 SM3 KDF (see
  ``_sm2_ecdh``: not the two-pass SM2 key-exchange protocol).
* SM3, HMAC-SM3 and SM4-GCM: pyca/cryptography. Sealed bytes are
  ``nonce (12) ‖ ciphertext ‖ tag (16)``.
* Keys: PKCS#8 PEM (public keys: SubjectPublicKeyInfo, id-ecPublicKey + SM2 curve OID
  1.2.156.10197.1.301). With a passphrase Tongsuo's ``BestAvailableEncryption`` writes PKCS#8
  PBES2 with SM4-CBC (PBKDF2, OpenSSL's default 2048 iterations: weak on its own, so the
  key store wraps keys again under argon2id).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto import hashes as ts_hashes
from tongsuopy.crypto import serialization as ts_serialization
from tongsuopy.crypto.asymciphers import ec as ts_ec
from tongsuopy.crypto.exceptions import InternalError, InvalidSignature, UnsupportedAlgorithm

from medfed.crypto._sm2_ecdh import GmAgreementKey
from medfed.crypto.policy import SM4_KEY_BYTES, check_key_policy, check_symmetric_key
from medfed.crypto.suite import CryptoError, SigningKey, Suite, VerifyKey

_NONCE = 12
_TAG = 16
# What a tongsuopy call raises for a malformed key, signature or point.
_TONGSUO_ERRORS = (ValueError, TypeError, InternalError, UnsupportedAlgorithm)

DEFAULT_USER_ID = b"1234567812345678"


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905), 32 bytes."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _is_sm2(key: object) -> bool:
    return isinstance(getattr(key, "curve", None), ts_ec.SM2)


class GmVerifyKey(VerifyKey):
    """An SM2 public key on the 256-bit recommended curve."""

    def __init__(self, key: ts_ec.EllipticCurvePublicKey) -> None:
        check_key_policy(key)
        self._key = key

    def verify(self, data: bytes, signature: bytes) -> None:
        try:
            self._key.verify(bytes(signature), bytes(data), ts_ec.ECDSA(ts_hashes.SM3()))
        except (InvalidSignature, *_TONGSUO_ERRORS) as exc:
            raise CryptoError("signature verification failed") from exc

    def public_bytes(self) -> bytes:
        return self._key.public_bytes(
            ts_serialization.Encoding.PEM, ts_serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_der(self) -> bytes:
        """DER SubjectPublicKeyInfo (for certificates)."""
        return self._key.public_bytes(
            ts_serialization.Encoding.DER, ts_serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def point(self) -> bytes:
        """The 65-byte uncompressed point 04 ‖ x ‖ y."""
        return self._key.public_bytes(
            ts_serialization.Encoding.X962, ts_serialization.PublicFormat.UncompressedPoint
        )

    def fingerprint(self) -> str:
        return sm3(self.public_bytes()).hex()


class GmSigningKey(SigningKey):
    """An SM2 private key; signs with SM3 and the default user ID (Z_A included)."""

    def __init__(self, key: ts_ec.EllipticCurvePrivateKey) -> None:
        check_key_policy(key)
        self._key = key

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(bytes(data), ts_ec.ECDSA(ts_hashes.SM3()))

    def verify_key(self) -> GmVerifyKey:
        return GmVerifyKey(self._key.public_key())

    def private_bytes(self, passphrase: bytes | None) -> bytes:
        encryption: ts_serialization.KeySerializationEncryption = (
            ts_serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else ts_serialization.NoEncryption()
        )
        return self._key.private_bytes(
            ts_serialization.Encoding.PEM, ts_serialization.PrivateFormat.PKCS8, encryption
        )


class GmSuite(Suite):
    """SM2 (SM3, default user ID), SM2-curve ECDH + SM3-KDF, SM3, HMAC-SM3, SM4-GCM."""

    name = "gm"
    digest_size = 32
    seal_key_size = SM4_KEY_BYTES

    def digest(self, data: bytes) -> bytes:
        return sm3(data)

    def hmac(self, key: bytes, data: bytes) -> bytes:
        mac = hmac.HMAC(key, hashes.SM3())
        mac.update(data)
        return mac.finalize()

    def generate_signing_key(self) -> GmSigningKey:
        return GmSigningKey(ts_ec.generate_private_key(ts_ec.SM2()))

    def load_signing_key(self, pem: bytes, passphrase: bytes | None = None) -> GmSigningKey:
        try:
            key = ts_serialization.load_pem_private_key(bytes(pem), password=passphrase or None)
        except _TONGSUO_ERRORS as exc:
            raise CryptoError("cannot load signing key") from exc
        check_key_policy(key)
        if not _is_sm2(key):
            raise CryptoError("cannot load signing key")
        return GmSigningKey(key)

    def load_verify_key(self, pem: bytes) -> GmVerifyKey:
        try:
            key = ts_serialization.load_pem_public_key(bytes(pem))
        except _TONGSUO_ERRORS as exc:
            raise CryptoError("cannot load verify key") from exc
        check_key_policy(key)
        if not _is_sm2(key):
            raise CryptoError("cannot load verify key")
        return GmVerifyKey(key)

    def load_verify_key_der(self, der: bytes) -> GmVerifyKey:
        """Like ``load_verify_key`` for a DER SubjectPublicKeyInfo (as inside a certificate)."""
        try:
            key = ts_serialization.load_der_public_key(bytes(der))
        except _TONGSUO_ERRORS as exc:
            raise CryptoError("cannot load verify key") from exc
        check_key_policy(key)
        if not _is_sm2(key):
            raise CryptoError("cannot load verify key")
        return GmVerifyKey(key)

    def generate_agreement_key(self) -> GmAgreementKey:
        return GmAgreementKey()

    def seal(self, key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        check_symmetric_key(key, algorithm="SM4", size=SM4_KEY_BYTES)
        nonce = os.urandom(_NONCE)
        enc = Cipher(algorithms.SM4(bytes(key)), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        body = enc.update(plaintext) + enc.finalize()
        return nonce + body + enc.tag

    def open(self, key: bytes, sealed: bytes, *, aad: bytes = b"") -> bytes:
        check_symmetric_key(key, algorithm="SM4", size=SM4_KEY_BYTES)
        if len(sealed) < _NONCE + _TAG:
            raise CryptoError("cannot open sealed data")
        nonce, body, tag = sealed[:_NONCE], sealed[_NONCE:-_TAG], sealed[-_TAG:]
        dec = Cipher(algorithms.SM4(bytes(key)), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag as exc:
            raise CryptoError("cannot open sealed data") from exc
