"""The hospital's own check of every task's data-use grant (5.5.1.2g, site policy).

The node does not trust the dispatcher's check: it verifies the grant's signature with its
own data owner's key, and derives the task, dataset and algorithm hash itself — the last
from the code it is about to run, so an altered algorithm is refused even with a valid grant.
Revocations come from the hospital's own store (``medfed grant revoke --kit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medfed.authz import AuthzStore, Grant, GrantError, GrantRefusal, verify_grant
from medfed.authz.study_use import algorithm_hash, dataset_id, task_id
from medfed.core.config import StudyConfig
from medfed.crypto import Suite, VerifyKey
from medfed.errors import ConfigError, MedfedError, ProtocolError


class NodeConsent:
    def __init__(
        self,
        study: StudyConfig,
        hospital: str,
        *,
        owner_key: VerifyKey,
        suite: Suite,
        store: AuthzStore,
        code: Mapping[str, bytes] | None = None,
    ) -> None:
        """``code``: the algorithm package as this node runs it (default: the installed code)."""
        self.hospital = hospital
        self._owner_key = owner_key
        self._store = store
        self._task = task_id(study)
        self._dataset = dataset_id(study, hospital)
        self._algorithm = algorithm_hash(study, suite, code)

    def verify(self, config: Mapping[str, Any], *, now: float) -> Grant:
        """The task's grant if it covers this hospital, this dataset and this code; GrantError otherwise."""
        carried = config.get("grant")
        if not isinstance(carried, str) or not carried:
            raise GrantError(
                GrantRefusal.NO_GRANT, f"the task carries no data-use grant; {self.hospital} runs only granted tasks"
            )
        try:
            grant = Grant.from_bytes(bytes.fromhex(carried))
        except (ValueError, ConfigError, ProtocolError) as exc:
            raise ProtocolError(f"the task's grant is malformed: {exc}") from None
        except MedfedError as exc:
            raise ProtocolError(f"the task's grant is malformed: {exc}") from None
        verify_grant(
            grant,
            self._owner_key,
            task=self._task,
            dataset=self._dataset,
            algorithm_hash=self._algorithm,
            now=now,
            revocation=self._store.get_revocation(grant.grant_id),
            hospital=self.hospital,
        )
        return grant
