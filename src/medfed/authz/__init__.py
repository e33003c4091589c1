"""Authorization: role permissions, data-use grants with the data owner's consent, the algorithm registry.

* :mod:`~medfed.authz.rbac` — :class:`Action`, the permission matrix and :func:`require` (5.5.1.2d).
* :mod:`~medfed.authz.grants` and :class:`GrantBook` — request → application → the data
  owner's signed grant, verified before every task request and round (5.5.1.2e–g, 5.2e).
* :mod:`~medfed.authz.algorithms` and :class:`AlgorithmRegistry` — signed algorithm packages,
  code hashes, per-hospital approvals (5.4.2.3a–b).
* :class:`AuthzStore` with :class:`InMemoryAuthzStore` and :class:`SqliteAuthzStore`.
"""

from medfed.authz.algorithms import (
    AlgorithmApproval,
    AlgorithmPackage,
    Code,
    CodeKind,
    code_hash_of,
    files_manifest,
    sign_package,
    verify_algorithm,
    verify_package_signature,
)
from medfed.authz.errors import (
    AlgorithmError,
    AlgorithmRefusal,
    GrantError,
    GrantRefusal,
    PermissionDeniedError,
)
from medfed.authz.grantbook import GrantBook
from medfed.authz.grants import (
    Application,
    ApplicationStatus,
    Grant,
    GrantRequest,
    GrantScope,
    Revocation,
    sign_grant,
    verify_grant,
)
from medfed.authz.memory import InMemoryAuthzStore
from medfed.authz.rbac import PERMISSIONS, Action, is_permitted, require
from medfed.authz.registry import AlgorithmRegistry
from medfed.authz.sqlite import SqliteAuthzStore
from medfed.authz.store import AuthzStore

__all__ = [
    "PERMISSIONS",
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
