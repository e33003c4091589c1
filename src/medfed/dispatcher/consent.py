"""The dispatcher's side of consent (5.5.1.2e–g): applications for missing grants, a check each round.

A hospital without a valid grant is not given work. The first time a check finds no grant,
the request becomes a data-use application that waits for that hospital's data owner
(``medfed grant approve``); the study starts, or goes on, as soon as the signed grant is in
the store. Every round checks again, so a revocation stops that hospital's next round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from medfed.authz import GrantBook, GrantError, GrantRefusal, GrantRequest
from medfed.authz.study_use import grant_request
from medfed.core.config import StudyConfig
from medfed.crypto import Suite

log = logging.getLogger("medfed.dispatcher")

# Refusals that an owner's decision can still turn into a grant: the study waits for those.
_AWAITING_OWNER = {GrantRefusal.NO_GRANT, GrantRefusal.PENDING, GrantRefusal.UNKNOWN_GRANT}


class ConsentGate:
    """Callable ``(hospital) -> grant hex``; GrantError with the reason and the application id."""

    def __init__(
        self,
        study: StudyConfig,
        book: GrantBook,
        suite: Suite,
        *,
        requester: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book = book
        self._clock = clock
        now = clock()
        self._requests: dict[str, GrantRequest] = {
            h: grant_request(study, h, requester, suite, now=now) for h in study.hospitals
        }
        self.applications: dict[str, str] = {}

    def __call__(self, hospital: str) -> str:
        now = self._clock()
        request = self._requests[hospital]
        try:
            grant = self.book.check(
                task=request.task_id,
                hospital=hospital,
                dataset=request.dataset_id,
                algorithm_hash=request.algorithm_hash,
                now=now,
            )
        except GrantError as exc:
            if exc.reason not in _AWAITING_OWNER:
                raise
            if hospital not in self.applications:
                app = self.book.request(request, now=now)
                self.applications[hospital] = app.application_id
                log.warning(
                    "no data-use grant from %s: application %s awaits its data owner", hospital, app.application_id
                )
            raise GrantError(
                exc.reason, f"{exc}; application {self.applications[hospital]} awaits {hospital}'s data owner"
            ) from None
        return grant.to_bytes().hex()
