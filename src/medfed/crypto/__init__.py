"""Cryptography for medfed (standard 5.5.1.3): suite-neutral recipes over vetted primitives.

With ``privacy``, ``pki`` and ``ledger`` this is the only package that touches raw primitives;
everyone else signs, verifies, seals, opens, digests and agrees through a ``Suite``::

    suite = get_suite("gm")        # or "intl"; ConfigError for any other name
    key = suite.generate_signing_key()
    key.verify_key().verify(data, key.sign(data))          # CryptoError if not valid

Two suites:

=========  ==========================================  =====================================
           ``gm`` (GB/T national cryptography)         ``intl``
=========  ==========================================  =====================================
sign       SM2 with SM3, Z_A over the default user ID  ECDSA P-256 with SHA-256
           "1234567812345678" (tongsuopy / Tongsuo)    (pyca/cryptography)
agree      ECDH on the SM2 curve (Tongsuo) +           X25519 + HKDF-SHA256
           GB/T 32918.3 SM3-KDF (*not* the SM2
           two-pass key-exchange protocol)
digest     SM3, HMAC-SM3                               SHA-256, HMAC-SHA256
seal       SM4-GCM, 128-bit keys                       AES-256-GCM, 256-bit keys
key files  PKCS#8 PEM; PBES2 (PBKDF2-SHA256, SM4-CBC)  PKCS#8 PEM; PBES2 (PBKDF2-SHA256,
           with a passphrase                           AES-256-CBC) with a passphrase
=========  ==========================================  =====================================

What is protected by what (a deployment that selects ``gm``):

1. **The channel** between two parties is TLS 1.3 (``medfed.transport``), authenticated by
   both sides' **intl** (ECDSA P-256) certificates from ``medfed.pki.authority``: Python's
   ``ssl`` module cannot negotiate SM2/SM4 cipher suites (RFC 8998), so confidentiality and
   integrity on the wire come from TLS 1.3 with AES-GCM/ChaCha20, not from SM4.
2. **The SM2 identity** of each party is bound at the application layer: over the open TLS
   session the peer answers an SM2 challenge–response (``medfed.authn``, using
   ``Suite.sign`` / ``VerifyKey.verify`` of ``gm``) with the key certified by its SM2
   certificate (``medfed.pki.gm_certs``, signature algorithm SM2-with-SM3, OID
   1.2.156.10197.1.501). The challenge should include the TLS session binding (exporter or
   both certificates' fingerprints) so the SM2 proof cannot be relayed into another session.
3. **Payloads** (model updates, results) can additionally be sealed with SM4-GCM under a key
   from ``AgreementKey.agree_seal_key`` between SM2-curve agreement keys whose public halves
   were signed with the parties' SM2 identity keys. Those bytes are then protected by SM4
   end to end, inside the TLS channel.
4. **At rest**, private keys live in ``keystore.KeyStore``: PKCS#8 wrapped again with an
   argon2id-derived key under SM4-GCM (``gm``) or AES-256-GCM (``intl``).

Key-length policy (``policy``): SM2 256-bit curve only, SM4 128-bit keys only, ECDSA curves of
at least 256 bits, RSA at least 2048 bits; violations raise ``KeyPolicyError`` (a
``ConfigError`` naming the policy, and a ``CryptoError``). Every other failure of a recipe is
one opaque ``CryptoError``.
"""

from __future__ import annotations

from medfed.crypto.keystore import (
    KdfParams,
    KeyRecord,
    KeyStatus,
    KeyStore,
    Revocation,
    RevocationReason,
)
from medfed.crypto.policy import KeyPolicyError, check_key_policy
from medfed.crypto.registry import SUITE_NAMES, get_suite
from medfed.crypto.suite import AgreementKey, CryptoError, SigningKey, Suite, VerifyKey

__all__ = [
    "SUITE_NAMES",
    "AgreementKey",
    "CryptoError",
    "KdfParams",
    "KeyPolicyError",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "Revocation",
    "RevocationReason",
    "SigningKey",
    "Suite",
    "VerifyKey",
    "check_key_policy",
    "get_suite",
]
