from __future__ import annotations

import medfed.pki


def test_public_api_is_exactly_this() -> None:
    assert sorted(medfed.pki.__all__) == [
        "CertificateAuthority",
        "IssuedIdentity",
        "PeerIdentity",
        "StartupKit",
        "check_validity",
        "identity_from_cert",
        "load_kit",
        "verify_issued_by",
        "write_kit",
    ]
    for name in medfed.pki.__all__:
        assert getattr(medfed.pki, name).__module__.startswith("medfed.pki.")
