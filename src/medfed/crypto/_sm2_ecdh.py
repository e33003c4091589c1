"""ECDH on the SM2 curve (Tongsuo) followed by the SM3 key-derivation function of GB/T 32918.3.

This is *not* the two-pass SM2 key-exchange protocol of GB/T 32918.3 §6 (with Z_A/Z_B and
confirmation hashes): no vetted Python binding exposes it (tongsuopy 1.0.1 wraps Tongsuo
1.1.1h, whose SM2 EVP method has no ``derive``). What is computed instead:

    shared = x-coordinate of d_A · P_B on the SM2 curve (32 bytes), by Tongsuo's ECDH
    key    = KDF_SM3(shared ‖ info, 32)     KDF of GB/T 32918.3 §5.4.3: SM3(Z ‖ ct₁) ‖ …

Authentication of the public keys is the caller's job (sign them with the SM2 identity key,
as ``medfed.authn`` does); put both public keys and the session id into ``info``.
Tongsuo checks that a peer point is on the curve when it is decoded, and the SM2 cofactor is
1, so no small-subgroup point gets through.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import hashes
from tongsuopy.backends.tongsuo import backend as _tongsuo
from tongsuopy.crypto import serialization as ts_serialization
from tongsuopy.crypto.asymciphers import ec as ts_ec
from tongsuopy.crypto.exceptions import InternalError, UnsupportedAlgorithm

from medfed.crypto.policy import SM4_KEY_BYTES
from medfed.crypto.suite import AgreementKey, CryptoError

_AGREED = 32


def sm3_kdf(z: bytes, length: int) -> bytes:
    """KDF of GB/T 32918.3 §5.4.3: SM3(Z ‖ 1) ‖ SM3(Z ‖ 2) ‖ …, first ``length`` bytes."""
    out = b""
    counter = 1
    while len(out) < length:
        h = hashes.Hash(hashes.SM3())
        h.update(z + counter.to_bytes(4, "big"))
        out += h.finalize()
        counter += 1
    return out[:length]


def _ecdh_x(private: ts_ec.EllipticCurvePrivateKey, peer: ts_ec.EllipticCurvePublicKey) -> bytes:
    # Tongsuo tags SM2-curve keys with the SM2 EVP method, which cannot derive; the plain EC
    # method does ECDH on the same curve. Re-tag both keys for the derive only, then restore,
    # so the objects behave as SM2 keys again (signing included) afterwards.
    lib = _tongsuo._lib
    keys = (private._evp_pkey, peer._evp_pkey)
    for evp_pkey in keys:
        if lib.EVP_PKEY_set_alias_type(evp_pkey, lib.EVP_PKEY_EC) != 1:
            raise CryptoError("key agreement failed")
    try:
        return private.exchange(ts_ec.ECDH(), peer)
    finally:
        for evp_pkey in keys:
            lib.EVP_PKEY_set_alias_type(evp_pkey, lib.EVP_PKEY_SM2)


class GmAgreementKey(AgreementKey):
    """An SM2-curve key for ECDH; ``public_bytes`` is the 65-byte uncompressed point 04‖x‖y."""

    seal_key_size = SM4_KEY_BYTES

    def __init__(self, key: ts_ec.EllipticCurvePrivateKey | None = None) -> None:
        self._key = key or ts_ec.generate_private_key(ts_ec.SM2())
        # ``_ecdh_x`` re-tags this key for the duration of a derive: one derive at a time.
        self._lock = threading.Lock()

    def public_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            ts_serialization.Encoding.X962, ts_serialization.PublicFormat.UncompressedPoint
        )

    def agree(self, peer_public: bytes, *, info: bytes) -> bytes:
        """KDF_SM3(x(d·P_peer) ‖ info) → 32 bytes; CryptoError for a point not on SM2."""
        data = bytes(peer_public)
        if len(data) != 65 or data[0] != 0x04:
            raise CryptoError("key agreement failed")
        try:
            peer = ts_ec.EllipticCurvePublicKey.from_encoded_point(ts_ec.SM2(), data)
            with self._lock:
                shared = _ecdh_x(self._key, peer)
        except (ValueError, TypeError, InternalError, UnsupportedAlgorithm) as exc:
            raise CryptoError("key agreement failed") from exc
        return sm3_kdf(shared + info, _AGREED)
