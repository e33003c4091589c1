"""The public API of ``medfed.crypto`` is exactly what ``__all__`` lists."""

from __future__ import annotations

import medfed.crypto


def test_exported_members() -> None:
    assert sorted(medfed.crypto.__all__) == sorted(
        [
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
    )
    for name in medfed.crypto.__all__:
        assert hasattr(medfed.crypto, name)
