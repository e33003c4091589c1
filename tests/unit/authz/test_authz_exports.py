from __future__ import annotations

import medfed.authz


def test_public_api_is_exactly_this() -> None:
    assert sorted(medfed.authz.__all__) == [
        "Action",
        "AlgorithmApproval",
        "AlgorithmError",
        "AlgorithmPackage",
        "AlgorithmRefusal",
        "AlgorithmRegistry",
        "Application",
        "ApplicationStatus",
        "AuthzStore",
        "Code",
        "CodeKind",
        "Grant",
        "GrantBook",
        "GrantError",
        "GrantRefusal",
        "GrantRequest",
        "GrantScope",
        "InMemoryAuthzStore",
        "PERMISSIONS",
        "PermissionDeniedError",
        "Revocation",
        "SqliteAuthzStore",
        "code_hash_of",
        "files_manifest",
        "is_permitted",
        "require",
        "sign_grant",
        "sign_package",
        "verify_algorithm",
        "verify_grant",
        "verify_package_signature",
    ]
    for name in medfed.authz.__all__:
        if name not in ("PERMISSIONS", "Code"):  # a mapping and a type alias have no module
            assert getattr(medfed.authz, name).__module__.startswith("medfed.authz.")
