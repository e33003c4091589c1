"""How a party builds and signs the entries it submits to the notary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medfed.crypto import SigningKey, Suite
from medfed.ledger.entries import EntryRequest
from medfed.ledger.errors import EntryRejectedError
from medfed.ledger.schema import EntryKind, GrantDecision
from medfed.roles import Role


def sign_request(suite: Suite, key: SigningKey, request: EntryRequest) -> bytes:
    """The party's signature over ``request.digest(suite)``."""
    return key.sign(request.digest(suite))


@dataclass(frozen=True)
class SignedRequest:
    """A request with its party's signature: what travels to the notary."""

    request: EntryRequest
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.request.to_dict(), "signature": self.signature.hex()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SignedRequest:
        try:
            return cls(EntryRequest.from_dict(raw["request"]), bytes.fromhex(raw["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryRejectedError(f"malformed signed request: {exc}") from None


class EntryBuilder:
    """Builds and signs one party's requests; one method per entry kind.

    Timestamps are Unix seconds supplied by the caller (the builder keeps no clock, so
    tests and simulations are deterministic).
    """

    def __init__(self, suite: Suite, party: str, key: SigningKey) -> None:
        self.suite = suite
        self.party = party
        self._key = key

    def build(
        self, task_id: str, kind: EntryKind, payload: Mapping[str, Any], *, timestamp: float
    ) -> SignedRequest:
        """Any entry: EntryRejectedError if the payload does not fit ``kind``."""
        request = EntryRequest(task_id, kind, self.party, timestamp, dict(payload))
        return SignedRequest(request, sign_request(self.suite, self._key, request))

    def study_created(
        self, task_id: str, *, manifest_hash: str, timestamp: float, question: str | None = None
    ) -> SignedRequest:
        payload: dict[str, Any] = {"manifest_hash": manifest_hash}
        if question is not None:
            payload["question"] = question
        return self.build(task_id, EntryKind.STUDY_CREATED, payload, timestamp=timestamp)

    def role_assigned(
        self, task_id: str, *, assignee: str, role: Role, timestamp: float
    ) -> SignedRequest:
        payload = {"assignee": assignee, "role": Role(role).value}
        return self.build(task_id, EntryKind.ROLE_ASSIGNED, payload, timestamp=timestamp)

    def algorithm(
        self, task_id: str, *, algorithm_id: str, version: str, code_hash: str, timestamp: float
    ) -> SignedRequest:
        payload = {"algorithm_id": algorithm_id, "version": version, "code_hash": code_hash}
        return self.build(task_id, EntryKind.ALGORITHM, payload, timestamp=timestamp)

    def input(
        self,
        task_id: str,
        *,
        dataset_id: str,
        fingerprint: str,
        timestamp: float,
        num_samples: int | None = None,
    ) -> SignedRequest:
        payload: dict[str, Any] = {"dataset_id": dataset_id, "fingerprint": fingerprint}
        if num_samples is not None:
            payload["num_samples"] = num_samples
        return self.build(task_id, EntryKind.INPUT, payload, timestamp=timestamp)

    def grant(
        self,
        task_id: str,
        *,
        grant_id: str,
        decision: GrantDecision,
        hospital: str,
        timestamp: float,
        dataset_fingerprint: str | None = None,
    ) -> SignedRequest:
        payload = {
            "grant_id": grant_id,
            "decision": GrantDecision(decision).value,
            "hospital": hospital,
        }
        if dataset_fingerprint is not None:
            payload["dataset_fingerprint"] = dataset_fingerprint
        return self.build(task_id, EntryKind.GRANT, payload, timestamp=timestamp)

    def round(
        self,
        task_id: str,
        *,
        number: int,
        participants: Sequence[str],
        update_digests: Mapping[str, str],
        privacy: Mapping[str, Any],
        epsilon_spent: float | Mapping[str, float] | None,
        timestamp: float,
    ) -> SignedRequest:
        """One finished round: who took part, the digest of each update received, the privacy
        parameters in force and the ε spent (one number, or per party)."""
        payload = {
            "round": number,
            "participants": list(participants),
            "update_digests": dict(update_digests),
            "privacy": dict(privacy),
            "epsilon_spent": dict(epsilon_spent)
            if isinstance(epsilon_spent, Mapping)
            else epsilon_spent,
        }
        return self.build(task_id, EntryKind.ROUND, payload, timestamp=timestamp)

    def result(
        self, task_id: str, *, model_hash: str, metrics: Mapping[str, float], timestamp: float
    ) -> SignedRequest:
        payload = {"model_hash": model_hash, "metrics": dict(metrics)}
        return self.build(task_id, EntryKind.RESULT, payload, timestamp=timestamp)

    def anomaly(
        self,
        task_id: str,
        *,
        description: str,
        timestamp: float,
        suspect: str | None = None,
        resumed_at_round: int | None = None,
    ) -> SignedRequest:
        payload: dict[str, Any] = {"description": description}
        if suspect is not None:
            payload["suspect"] = suspect
        if resumed_at_round is not None:
            payload["resumed_at_round"] = resumed_at_round
        return self.build(task_id, EntryKind.ANOMALY, payload, timestamp=timestamp)

    def log_anchor(
        self, task_id: str, *, log_head: str, lines: int, timestamp: float
    ) -> SignedRequest:
        """Anchor the party's operation log: its ``lines``-th line has digest ``log_head``."""
        payload = {"log_head": log_head, "lines": lines}
        return self.build(task_id, EntryKind.LOG_ANCHOR, payload, timestamp=timestamp)
