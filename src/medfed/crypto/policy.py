"""Key-length policy (standard 5.5.1.3): which key sizes medfed accepts on load and generate.

    SM2      the 256-bit recommended curve only (GB/T 32918.5)
    SM4      128-bit keys only (the cipher has no other size)
    AES-GCM  256-bit keys only in the intl suite
    ECDSA    curves of at least 256 bits
    RSA      at least 2048 bits (never used to sign here, but refused loudly if offered)
    Paillier at least 2048 bits (enforced in ``medfed.privacy``)

A violation raises ``KeyPolicyError``, which is both a ``ConfigError`` (it names the policy,
because an operator must be able to fix it) and a ``CryptoError`` (so callers that follow the
``Suite`` contract and catch only ``CryptoError`` still catch it).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa, x25519

from medfed.crypto.suite import CryptoError
from medfed.errors import ConfigError

MIN_EC_BITS = 256
MIN_RSA_BITS = 2048
SM2_BITS = 256
SM4_KEY_BYTES = 16
AES_KEY_BYTES = 32


class KeyPolicyError(CryptoError, ConfigError):
    """A key is shorter than (or otherwise outside) the key-length policy; the message names it."""

    # Travels as a ConfigError between processes: the remote side needs the policy text,
    # and ``medfed.errors.from_code`` knows "config".
    code = "config"


def check_symmetric_key(key: bytes, *, algorithm: str, size: int) -> None:
    """KeyPolicyError unless ``key`` is exactly ``size`` bytes (``algorithm`` names the policy)."""
    if not isinstance(key, bytes | bytearray | memoryview) or len(key) != size:
        got = len(key) * 8 if isinstance(key, bytes | bytearray | memoryview) else "a non-bytes"
        raise KeyPolicyError(f"key policy: {algorithm} keys must be {size * 8} bits, got {got}")


def check_key_policy(key: Any) -> None:
    """Return if ``key`` meets the policy above; KeyPolicyError naming the rule otherwise.

    Accepts a ``bytes`` symmetric key (SM4 or AES-256: 16 or 32 bytes), a pyca/cryptography
    or tongsuopy EC/RSA key object (private or public), or any object with ``curve`` /
    ``key_size`` attributes. Keys of a type the policy does not know are refused.
    """
    if isinstance(key, bytes | bytearray | memoryview):
        if len(key) not in (SM4_KEY_BYTES, AES_KEY_BYTES):
            raise KeyPolicyError(
                f"key policy: symmetric keys must be 128 (SM4) or 256 (AES) bits, got {len(key) * 8}"
            )
        return
    curve = getattr(key, "curve", None)
    size = getattr(key, "key_size", None)
    if curve is not None:
        name = str(getattr(curve, "name", "")).lower()
        if name == "sm2":
            if getattr(curve, "key_size", None) != SM2_BITS:
                raise KeyPolicyError(
                    "key policy: SM2 keys must be on the 256-bit recommended curve"
                )
            return
        if not isinstance(size, int) or size < MIN_EC_BITS:
            raise KeyPolicyError(
                f"key policy: elliptic-curve keys must be at least {MIN_EC_BITS} bits, "
                f"got {size} ({name or 'unknown curve'})"
            )
        return
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyPolicyError(
                f"key policy: RSA keys must be at least {MIN_RSA_BITS} bits, got {key.key_size}"
            )
        return
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey):
        return
    raise KeyPolicyError(f"key policy: unsupported key type {type(key).__name__}")
