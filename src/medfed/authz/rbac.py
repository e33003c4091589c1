"""Role-based access control (5.5.1.2d): what each of the nine parties may do.

Every party is a distinct identity with one role (clause map, section 3); a service asks
:func:`require` before it acts on a request. The matrix (``x`` = permitted):

    action               initiator dispatcher algorithm data compute aux result ca notary
    create_study         x         .          .         .    .       .   .      .  .
    launch_task          x         .          .         .    .       .   .      .  .
    view_task            x         x          .         x    .       .   x      .  .
    assign_task          .         x          .         .    .       .   .      .  .
    request_data_use     x         x          .         .    .       .   .      .  .
    approve_grant        .         .          .         x    .       .   .      .  .
    revoke_grant         .         .          .         x    .       .   .      .  .
    register_dataset     .         .          .         x    .       .   .      .  .
    publish_algorithm    .         .          x         .    .       .   .      .  .
    approve_algorithm    .         .          .         x    .       .   .      .  .
    join_training        .         .          .         x    x       .   .      .  .
    submit_update        .         .          .         x    x       .   .      .  .
    aggregate            .         .          .         .    x       x   .      .  .
    assist_computation   .         .          .         .    .       x   .      .  .
    download_model       .         .          .         .    .       .   x      .  .
    submit_evidence      x         x          x         x    x       x   x      x  .
    read_ledger          x         .          .         x    .       .   x      .  x
    audit                .         .          .         .    .       .   .      .  x
    issue_certificate    .         .          .         .    .       .   .      x  .
    revoke_certificate   .         .          .         .    .       .   .      x  .

Why these rows: only the result party obtains the model (5.4.2.3g), even when the
initiator is the same organisation it holds a second identity; only the data owner decides
on the use of its data and on the algorithms that may touch it (5.5.1.2f, site policy);
the dispatcher asks for data use on the initiator's behalf (5.5.1.2e) but never decides;
the notary records and audits but submits no evidence of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from medfed.authz.errors import PermissionDeniedError
from medfed.roles import Role


class Action(enum.StrEnum):
    """Something a party asks a service to do."""

    CREATE_STUDY = "create_study"
    LAUNCH_TASK = "launch_task"
    VIEW_TASK = "view_task"
    ASSIGN_TASK = "assign_task"
    REQUEST_DATA_USE = "request_data_use"
    APPROVE_GRANT = "approve_grant"  # approve or deny an application
    REVOKE_GRANT = "revoke_grant"
    REGISTER_DATASET = "register_dataset"
    PUBLISH_ALGORITHM = "publish_algorithm"
    APPROVE_ALGORITHM = "approve_algorithm"
    JOIN_TRAINING = "join_training"
    SUBMIT_UPDATE = "submit_update"
    AGGREGATE = "aggregate"
    ASSIST_COMPUTATION = "assist_computation"
    DOWNLOAD_MODEL = "download_model"
    SUBMIT_EVIDENCE = "submit_evidence"
    READ_LEDGER = "read_ledger"
    AUDIT = "audit"
    ISSUE_CERTIFICATE = "issue_certificate"
    REVOKE_CERTIFICATE = "revoke_certificate"


_A = Action
_EVERY_PARTY_BUT_NOTARY = frozenset(Role) - {Role.NOTARY}

_GRANTED_TO: dict[Action, frozenset[Role]] = {
    _A.CREATE_STUDY: frozenset({Role.INITIATOR}),
    _A.LAUNCH_TASK: frozenset({Role.INITIATOR}),
    _A.VIEW_TASK: frozenset({Role.INITIATOR, Role.DISPATCHER, Role.DATA, Role.RESULT}),
    _A.ASSIGN_TASK: frozenset({Role.DISPATCHER}),
    _A.REQUEST_DATA_USE: frozenset({Role.INITIATOR, Role.DISPATCHER}),
    _A.APPROVE_GRANT: frozenset({Role.DATA}),
    _A.REVOKE_GRANT: frozenset({Role.DATA}),
    _A.REGISTER_DATASET: frozenset({Role.DATA}),
    _A.PUBLISH_ALGORITHM: frozenset({Role.ALGORITHM}),
    _A.APPROVE_ALGORITHM: frozenset({Role.DATA}),
    _A.JOIN_TRAINING: frozenset({Role.DATA, Role.COMPUTE}),
    _A.SUBMIT_UPDATE: frozenset({Role.DATA, Role.COMPUTE}),
    _A.AGGREGATE: frozenset({Role.COMPUTE, Role.AUX}),
    _A.ASSIST_COMPUTATION: frozenset({Role.AUX}),
    _A.DOWNLOAD_MODEL: frozenset({Role.RESULT}),
    _A.SUBMIT_EVIDENCE: _EVERY_PARTY_BUT_NOTARY,
    _A.READ_LEDGER: frozenset({Role.INITIATOR, Role.DATA, Role.RESULT, Role.NOTARY}),
    _A.AUDIT: frozenset({Role.NOTARY}),
    _A.ISSUE_CERTIFICATE: frozenset({Role.CA}),
    _A.REVOKE_CERTIFICATE: frozenset({Role.CA}),
}

#: Role -> the actions it may do; read-only, and complete for every role.
PERMISSIONS: Mapping[Role, frozenset[Action]] = MappingProxyType(
    {
        role: frozenset(action for action, roles in _GRANTED_TO.items() if role in roles)
        for role in Role
    }
)


def is_permitted(role: Role, action: Action) -> bool:
    """Whether ``role`` may do ``action`` (False for an unknown role or action)."""
    return action in PERMISSIONS.get(role, frozenset())


def require(role: Role, action: Action) -> None:
    """Return if ``role`` may do ``action``; :class:`PermissionDeniedError` naming both otherwise."""
    if not is_permitted(role, action):
        allowed = sorted(r.value for r in Role if is_permitted(r, action))
        raise PermissionDeniedError(
            f"role {str(role)!r} may not {str(action)!r} (permitted to: {', '.join(allowed) or 'none'})"
        )
