"""Data-use applications and grants (5.5.1.2e–g, 5.2e): the records and their signature.

A :class:`GrantRequest` becomes an :class:`Application` (PENDING). Only when the hospital's
data owner approves does a :class:`Grant` exist, signed by the owner's key over the canonical
JSON (sorted keys, no spaces) of::

    {"type": "medfed.data-use-grant", "format": 1, "grant_id": ..., "owner_key": <fingerprint>,
     "task_id", "study_id", "requester", "hospital", "dataset_id", "dataset_fingerprint",
     "algorithm_hash", "purpose", "application_id", "issued_at", "expires_at"}

Times are Unix seconds (floats) from the caller's clock. :func:`verify_grant` needs nothing
but the grant, the owner's public key and the site's own revocation record, so a hospital
node can check a grant independently of the dispatcher.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from typing import Any

from medfed.authz._canonical import canonical_json, check_text, check_time, parse_json
from medfed.authz.errors import GrantError, GrantRefusal
from medfed.crypto import CryptoError, SigningKey, VerifyKey
from medfed.errors import ConfigError

_GRANT_TYPE = "medfed.data-use-grant"
_GRANT_FORMAT = 1


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


def _from_fields(cls: type, data: dict[str, Any], what: str) -> Any:
    """Build a flat dataclass from a dict, refusing missing or unknown keys."""
    names = {f.name for f in fields(cls)}
    if set(data) != names:
        raise ConfigError(f"{what} has fields {sorted(data)}, expected {sorted(names)}")
    return cls(**data)


@dataclass(frozen=True)
class GrantRequest:
    """What a party asks to do with one hospital's dataset (5.5.1.2e)."""

    task_id: str
    study_id: str
    requester: str
    hospital: str
    dataset_id: str
    dataset_fingerprint: str  # the dataset's registered checksum at the hospital
    algorithm_hash: str  # code hash of the algorithm package that will touch the data
    purpose: str
    expires_at: float  # the expiry asked for; the owner may grant a shorter one

    def __post_init__(self) -> None:
        check_text(
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "expires_at"}
        )
        object.__setattr__(self, "expires_at", check_time("expires_at", self.expires_at))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GrantRequest:
        return _from_fields(cls, data, "grant request")


@dataclass(frozen=True)
class Application:
    """A request awaiting (or having had) the data owner's decision."""

    application_id: str
    request: GrantRequest
    status: ApplicationStatus
    created_at: float
    decided_at: float | None = None
    reason: str = ""  # why the owner denied it
    grant_id: str | None = None  # set once approved

    def __post_init__(self) -> None:
        check_text(application_id=self.application_id)
        object.__setattr__(self, "status", ApplicationStatus(self.status))
        object.__setattr__(self, "created_at", check_time("created_at", self.created_at))
        if self.decided_at is not None:
            object.__setattr__(self, "decided_at", check_time("decided_at", self.decided_at))
        if (self.status is ApplicationStatus.APPROVED) != (self.grant_id is not None):
            raise ConfigError("an application has a grant id exactly when it is approved")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "request": self.request.to_dict(), "status": self.status.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Application:
        data = dict(data)
        data["request"] = GrantRequest.from_dict(data.get("request") or {})
        return _from_fields(cls, data, "application")


@dataclass(frozen=True)
class GrantScope:
    """Exactly what a grant permits: one task's use of one dataset by one algorithm, until expiry."""

    task_id: str
    study_id: str
    requester: str
    hospital: str
    dataset_id: str
    dataset_fingerprint: str
    algorithm_hash: str
    purpose: str
    application_id: str
    issued_at: float
    expires_at: float

    def __post_init__(self) -> None:
        times = ("issued_at", "expires_at")
        check_text(**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in times})
        for name in times:
            object.__setattr__(self, name, check_time(name, getattr(self, name)))
        if self.expires_at <= self.issued_at:
            raise ConfigError("a grant must expire after it is issued")

    @classmethod
    def of(cls, application: Application, *, issued_at: float, expires_at: float) -> GrantScope:
        r = application.request
        return cls(
            task_id=r.task_id,
            study_id=r.study_id,
            requester=r.requester,
            hospital=r.hospital,
            dataset_id=r.dataset_id,
            dataset_fingerprint=r.dataset_fingerprint,
            algorithm_hash=r.algorithm_hash,
            purpose=r.purpose,
            application_id=application.application_id,
            issued_at=issued_at,
            expires_at=expires_at,
        )


@dataclass(frozen=True)
class Grant:
    """A data-use authorization signed by the hospital's data owner (5.5.1.2f)."""

    grant_id: str
    scope: GrantScope
    owner_key: str  # fingerprint of the data owner's verify key
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The canonical bytes the owner's signature covers."""
        return _signed_payload(self.grant_id, self.scope, self.owner_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "scope": asdict(self.scope),
            "owner_key": self.owner_key,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grant:
        try:
            signature = bytes.fromhex(data["signature"])
            return cls(
                grant_id=data["grant_id"],
                scope=_from_fields(GrantScope, data["scope"], "grant scope"),
                owner_key=data["owner_key"],
                signature=signature,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed grant: {exc!r}") from None

    def to_bytes(self) -> bytes:
        """The grant as canonical JSON, to send to a node or record as evidence."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> Grant:
        return cls.from_dict(parse_json(data, "grant"))


@dataclass(frozen=True)
class Revocation:
    """The data owner withdrew a grant; it covers no use from then on."""

    grant_id: str
    reason: str
    revoked_at: float

    def __post_init__(self) -> None:
        check_text(grant_id=self.grant_id)
        object.__setattr__(self, "revoked_at", check_time("revoked_at", self.revoked_at))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Revocation:
        return _from_fields(cls, data, "revocation")


def _signed_payload(grant_id: str, scope: GrantScope, owner_key: str) -> bytes:
    return canonical_json(
        {
            "type": _GRANT_TYPE,  # a grant signature can never pass for another signed object
            "format": _GRANT_FORMAT,
            "grant_id": grant_id,
            "owner_key": owner_key,
            **asdict(scope),
        }
    )


def sign_grant(scope: GrantScope, owner_key: SigningKey, *, grant_id: str) -> Grant:
    """The grant for ``scope``, signed by the data owner's ``owner_key``."""
    check_text(grant_id=grant_id)
    fingerprint = owner_key.verify_key().fingerprint()
    signature = owner_key.sign(_signed_payload(grant_id, scope, fingerprint))
    return Grant(grant_id=grant_id, scope=scope, owner_key=fingerprint, signature=signature)


def verify_grant(
    grant: Grant,
    owner_key: VerifyKey,
    *,
    task: str,
    dataset: str,
    algorithm_hash: str,
    now: float,
    revocation: Revocation | None,
    hospital: str | None = None,
    dataset_fingerprint: str | None = None,
    purpose: str | None = None,
) -> None:
    """Return if ``grant`` covers this use at ``now``; :class:`GrantError` with the reason otherwise.

    ``owner_key`` is the hospital data owner's key, taken from its certificate, never from
    the grant. ``revocation`` is the verifier's own record for this grant (None if it holds
    none); it is required so that no caller forgets to look. The optional checks apply when
    given: a node passes its own hospital name and the current fingerprint of its dataset.
    """
    if revocation is not None and revocation.grant_id != grant.grant_id:
        raise ConfigError(f"revocation of {revocation.grant_id} given for grant {grant.grant_id}")
    # The signature first: the fields of an unsigned grant mean nothing.
    expected_owner = owner_key.fingerprint()
    if grant.owner_key != expected_owner:
        raise GrantError(
            GrantRefusal.WRONG_OWNER,
            f"grant {grant.grant_id} names owner key {grant.owner_key[:16]}, "
            f"not the data owner's key {expected_owner[:16]}",
        )
    try:
        owner_key.verify(grant.signed_bytes(), grant.signature)
    except CryptoError:
        raise GrantError(
            GrantRefusal.BAD_SIGNATURE,
            f"grant {grant.grant_id} is not signed by the data owner's key",
        ) from None
    if revocation is not None:
        # A revocation counts whatever its time: clocks of owner and verifier may differ.
        raise GrantError(
            GrantRefusal.REVOKED,
            f"grant {grant.grant_id} was revoked at {revocation.revoked_at}: {revocation.reason}",
        )
    s = grant.scope
    if now >= s.expires_at:
        raise GrantError(
            GrantRefusal.EXPIRED, f"grant {grant.grant_id} expired at {s.expires_at} (now {now})"
        )
    checks = (
        (GrantRefusal.WRONG_TASK, "task", task, s.task_id),
        (GrantRefusal.WRONG_DATASET, "dataset", dataset, s.dataset_id),
        (GrantRefusal.WRONG_ALGORITHM, "algorithm", algorithm_hash, s.algorithm_hash),
        (GrantRefusal.WRONG_HOSPITAL, "hospital", hospital, s.hospital),
        (
            GrantRefusal.WRONG_FINGERPRINT,
            "dataset fingerprint",
            dataset_fingerprint,
            s.dataset_fingerprint,
        ),
        (GrantRefusal.WRONG_PURPOSE, "purpose", purpose, s.purpose),
    )
    for reason, what, asked, granted in checks:
        if asked is not None and asked != granted:
            raise GrantError(
                reason, f"grant {grant.grant_id} covers {what} {granted!r}, not {asked!r}"
            )
