"""Suite-neutral crypto recipes: every caller signs, verifies, seals, opens, digests and agrees
through a ``Suite``, never through a primitive, so a study can switch between ``gm``
(SM2 / SM3 / SM4-GCM) and ``intl`` (ECDSA P-256 / X25519, SHA-256, AES-256-GCM).

Every failure of a recipe is one opaque ``CryptoError`` (no oracle: a wrong key, a bad tag
and a truncated input look the same to the caller).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from medfed.errors import IdentityError


class CryptoError(IdentityError):
    """A signature, seal or key failed to verify or load (deliberately without detail)."""

    code = "crypto"


class VerifyKey(ABC):
    """A party's public signing key."""

    @abstractmethod
    def verify(self, data: bytes, signature: bytes) -> None:
        """Return if ``signature`` is valid for ``data``; CryptoError otherwise."""

    @abstractmethod
    def public_bytes(self) -> bytes:
        """PEM (SubjectPublicKeyInfo) of the key: what a ledger or certificate records."""

    @abstractmethod
    def fingerprint(self) -> str:
        """Hex digest (the suite's hash) of ``public_bytes()``: a short stable key id."""


class SigningKey(ABC):
    """A party's private signing key."""

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """A signature over ``data`` (SM2 with SM3 and the default user ID, or ECDSA-SHA256)."""

    @abstractmethod
    def verify_key(self) -> VerifyKey: ...

    @abstractmethod
    def private_bytes(self, passphrase: bytes | None) -> bytes:
        """PEM of the private key, encrypted under ``passphrase`` when given."""


class AgreementKey(ABC):
    """An ephemeral or static key-agreement key (SM2-curve ECDH or X25519).

    ``seal_key_size`` is the key length (bytes) of the matching suite's ``seal``.
    """

    seal_key_size: int = 32

    @abstractmethod
    def public_bytes(self) -> bytes: ...

    @abstractmethod
    def agree(self, peer_public: bytes, *, info: bytes) -> bytes:
        """32 bytes of shared key material, derived with the suite's KDF and ``info``.

        CryptoError if ``peer_public`` is not a valid point of the suite's curve. Put both
        parties' public keys and the session id into ``info`` to bind the key to the session.
        """

    def agree_seal_key(self, peer_public: bytes, *, info: bytes) -> bytes:
        """A key for the suite's ``seal``/``open`` (16 bytes for SM4, 32 for AES-256).

        The KDFs (HKDF, SM3-KDF) produce prefix-consistent output, so this is the first
        ``seal_key_size`` bytes of ``agree``.
        """
        return self.agree(peer_public, info=info)[: self.seal_key_size]


class Suite(ABC):
    """One coherent set of algorithms; ``name`` is "gm" or "intl"."""

    name: str
    digest_size: int
    seal_key_size: int

    def generate_seal_key(self) -> bytes:
        """A fresh random key of ``seal_key_size`` bytes for ``seal``/``open``."""
        return os.urandom(self.seal_key_size)

    @abstractmethod
    def digest(self, data: bytes) -> bytes:
        """SM3 or SHA-256."""

    @abstractmethod
    def hmac(self, key: bytes, data: bytes) -> bytes: ...

    @abstractmethod
    def generate_signing_key(self) -> SigningKey: ...

    @abstractmethod
    def load_signing_key(self, pem: bytes, passphrase: bytes | None = None) -> SigningKey:
        """CryptoError on a wrong passphrase or a key of another suite; a key outside the
        key-length policy raises ``KeyPolicyError`` (a CryptoError and a ConfigError)."""

    @abstractmethod
    def load_verify_key(self, pem: bytes) -> VerifyKey: ...

    @abstractmethod
    def generate_agreement_key(self) -> AgreementKey: ...

    @abstractmethod
    def seal(self, key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        """Authenticated encryption (SM4-GCM or AES-256-GCM) with a fresh nonce inside.

        ``key`` must be ``seal_key_size`` bytes (KeyPolicyError otherwise)."""

    @abstractmethod
    def open(self, key: bytes, sealed: bytes, *, aad: bytes = b"") -> bytes:
        """The plaintext of ``seal``; CryptoError on any tampering or a wrong key."""
