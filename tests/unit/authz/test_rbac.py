"""Role-based access control (5.5.1.2d): every role against every action."""

from __future__ import annotations

import itertools

import pytest

import medfed.authz.rbac as rbac
from medfed.authz import PERMISSIONS, Action, PermissionDeniedError, is_permitted, require
from medfed.errors import IdentityError
from medfed.roles import Role

# The policy written out independently of the implementation: action -> roles permitted.
EXPECTED: dict[str, set[str]] = {
    "create_study": {"initiator"},
    "launch_task": {"initiator"},
    "view_task": {"initiator", "dispatcher", "data", "result"},
    "assign_task": {"dispatcher"},
    "request_data_use": {"initiator", "dispatcher"},
    "approve_grant": {"data"},
    "revoke_grant": {"data"},
    "register_dataset": {"data"},
    "publish_algorithm": {"algorithm"},
    "approve_algorithm": {"data"},
    "join_training": {"data", "compute"},
    "submit_update": {"data", "compute"},
    "aggregate": {"compute", "aux"},
    "assist_computation": {"aux"},
    "download_model": {"result"},
    "submit_evidence": {r.value for r in Role} - {"notary"},
    "read_ledger": {"initiator", "data", "result", "notary"},
    "audit": {"notary"},
    "issue_certificate": {"ca"},
    "revoke_certificate": {"ca"},
}

pytestmark = pytest.mark.clause("5.5.1.2d")


def test_the_expected_table_names_every_action() -> None:
    assert set(EXPECTED) == {a.value for a in Action}


@pytest.mark.parametrize(("role", "action"), list(itertools.product(Role, Action)))
def test_every_role_and_action_follows_the_matrix(role: Role, action: Action) -> None:
    permitted = role.value in EXPECTED[action.value]
    assert is_permitted(role, action) is permitted
    if permitted:
        require(role, action)
    else:
        with pytest.raises(PermissionDeniedError) as refused:
            require(role, action)
        assert repr(role.value) in str(refused.value)
        assert repr(action.value) in str(refused.value)


def test_only_the_result_party_downloads_the_model() -> None:
    assert [r for r in Role if is_permitted(r, Action.DOWNLOAD_MODEL)] == [Role.RESULT]


def test_the_docstring_table_is_the_matrix() -> None:
    doc = rbac.__doc__ or ""
    lines = [line.split() for line in doc.splitlines() if line.startswith("    ")]
    header, rows = lines[0], lines[1:]
    assert header[0] == "action" and header[1:] == [r.value for r in Role]
    documented = {
        row[0]: {r for r, mark in zip(header[1:], row[1:], strict=True) if mark == "x"}
        for row in rows
    }
    assert documented == {a.value: {r.value for r in Role if a in PERMISSIONS[r]} for a in Action}


def test_refusal_is_an_identity_error_coded_forbidden() -> None:
    with pytest.raises(IdentityError) as refused:
        require(Role.INITIATOR, Action.DOWNLOAD_MODEL)
    assert refused.value.code == "forbidden"
    assert "result" in str(refused.value)  # names who may


def test_permissions_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        PERMISSIONS[Role.INITIATOR] = frozenset(Action)  # type: ignore[index]
