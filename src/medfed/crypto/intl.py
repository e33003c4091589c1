"""The ``intl`` suite: ECDSA P-256 with SHA-256, X25519 + HKDF-SHA256, SHA-256, AES-256-GCM.

Everything is pyca/cryptography. Private keys serialise as PKCS#8 PEM; with a passphrase the
library's ``BestAvailableEncryption`` is used (PBES2: PBKDF2-HMAC-SHA256 with 2048 iterations
and AES-256-CBC; the key store wraps keys again under argon2id).
Sealed bytes are ``nonce (12) ‖ ciphertext ‖ tag (16)``.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import os

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from medfed.crypto.policy import AES_KEY_BYTES, check_key_policy, check_symmetric_key
from medfed.crypto.suite import AgreementKey, CryptoError, SigningKey, Suite, VerifyKey

_NONCE = 12
_TAG = 16
_AGREED = 32


def _pem_private(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


class IntlVerifyKey(VerifyKey):
    """An ECDSA public key (P-256 generated; any NIST curve of at least 256 bits loads)."""

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        check_key_policy(key)
        self._key = key

    def verify(self, data: bytes, signature: bytes) -> None:
        try:
            self._key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise CryptoError("signature verification failed") from exc

    def public_bytes(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def fingerprint(self) -> str:
        return hashlib.sha256(self.public_bytes()).hexdigest()

    @property
    def raw(self) -> ec.EllipticCurvePublicKey:
        """The pyca key object (for certificate building in ``medfed.pki``)."""
        return self._key


class IntlSigningKey(SigningKey):
    """An ECDSA private key; signatures are DER ``ECDSA-Sig-Value`` over SHA-256."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        check_key_policy(key)
        self._key = key

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def verify_key(self) -> IntlVerifyKey:
        return IntlVerifyKey(self._key.public_key())

    def private_bytes(self, passphrase: bytes | None) -> bytes:
        return _pem_private(self._key, passphrase)

    @property
    def raw(self) -> ec.EllipticCurvePrivateKey:
        """The pyca key object (for certificate building in ``medfed.pki``)."""
        return self._key


class IntlAgreementKey(AgreementKey):
    """An X25519 key; ``public_bytes`` is the raw 32-byte public value."""

    seal_key_size = AES_KEY_BYTES

    def __init__(self, key: x25519.X25519PrivateKey | None = None) -> None:
        self._key = key or x25519.X25519PrivateKey.generate()

    def public_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def agree(self, peer_public: bytes, *, info: bytes) -> bytes:
        """HKDF-SHA256 (no salt, ``info``) over the X25519 shared secret; 32 bytes."""
        try:
            peer = x25519.X25519PublicKey.from_public_bytes(bytes(peer_public))
            # pyca refuses an all-zero result (a low-order peer point) with ValueError.
            shared = self._key.exchange(peer)
        except (ValueError, TypeError) as exc:
            raise CryptoError("key agreement failed") from exc
        return HKDF(algorithm=hashes.SHA256(), length=_AGREED, salt=None, info=info).derive(shared)


class IntlSuite(Suite):
    """ECDSA P-256/SHA-256, X25519 + HKDF-SHA256, SHA-256, HMAC-SHA256, AES-256-GCM."""

    name = "intl"
    digest_size = 32
    seal_key_size = AES_KEY_BYTES

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def hmac(self, key: bytes, data: bytes) -> bytes:
        return _hmac.new(key, data, hashlib.sha256).digest()

    def generate_signing_key(self) -> IntlSigningKey:
        return IntlSigningKey(ec.generate_private_key(ec.SECP256R1()))

    def load_signing_key(self, pem: bytes, passphrase: bytes | None = None) -> IntlSigningKey:
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase or None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise CryptoError("cannot load signing key") from exc
        check_key_policy(key)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CryptoError("cannot load signing key")
        return IntlSigningKey(key)

    def load_verify_key(self, pem: bytes) -> IntlVerifyKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise CryptoError("cannot load verify key") from exc
        check_key_policy(key)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CryptoError("cannot load verify key")
        return IntlVerifyKey(key)

    def generate_agreement_key(self) -> IntlAgreementKey:
        return IntlAgreementKey()

    def seal(self, key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        check_symmetric_key(key, algorithm="AES-256-GCM", size=AES_KEY_BYTES)
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(bytes(key)).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, sealed: bytes, *, aad: bytes = b"") -> bytes:
        check_symmetric_key(key, algorithm="AES-256-GCM", size=AES_KEY_BYTES)
        if len(sealed) < _NONCE + _TAG:
            raise CryptoError("cannot open sealed data")
        try:
            return AESGCM(bytes(key)).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except InvalidTag as exc:
            raise CryptoError("cannot open sealed data") from exc
