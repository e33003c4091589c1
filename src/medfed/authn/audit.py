"""Every refusal leaves a structured record (clause 5.5.1.2c: wrong credentials never enter,
and an auditor can see each attempt that was turned away).

A refusal is logged on the ``medfed.authn`` logger at WARNING with the fields ``who``,
``what``, ``reason`` and ``when`` in ``extra`` (so a JSON log handler picks them up), and
handed as a dict with the same keys to an optional ``on_refusal`` callback (e.g. a ledger
writer). The error returned to the caller stays terse; the reason is only recorded here.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from medfed.errors import MedfedError

LOGGER_NAME = "medfed.authn"

RefusalCallback = Callable[[dict[str, object]], None]

_E = TypeVar("_E", bound=MedfedError)


class Credential(enum.StrEnum):
    """What kind of credential was presented."""

    CHALLENGE_RESPONSE = "challenge_response"
    PASSWORD = "password"
    CERTIFICATE = "certificate"
    TOKEN = "token"


class Reason(enum.StrEnum):
    """Why a credential was refused (recorded locally, never sent to the peer)."""

    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"
    LOCKED = "locked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    TAMPERED = "tampered"
    WRONG_STUDY = "wrong_study"
    WRONG_PEER = "wrong_peer"
    WRONG_CA = "wrong_ca"
    BAD_CERTIFICATE = "bad_certificate"
    BAD_SIGNATURE = "bad_signature"
    REPLAY = "replay"
    MALFORMED = "malformed"
    OUT_OF_ORDER = "out_of_order"


@dataclass(frozen=True)
class Refusal:
    """One refused attempt: ``when`` is the caller's clock in Unix seconds."""

    who: str
    what: Credential
    reason: Reason
    when: float

    def as_dict(self) -> dict[str, object]:
        return {
            "who": self.who,
            "what": self.what.value,
            "reason": self.reason.value,
            "when": self.when,
        }


class Audit:
    """Records refusals; shared by every authenticator of a service."""

    def __init__(
        self,
        on_refusal: RefusalCallback | None = None,
        *,
        logger: logging.Logger | None = None,
    ) -> None:
        self._on_refusal = on_refusal
        self._logger = logger or logging.getLogger(LOGGER_NAME)

    def refuse(self, error: _E, *, who: str, what: Credential, reason: Reason, when: float) -> _E:
        """Record the refusal and hand ``error`` back so the call site reads ``raise audit.refuse(...)``."""
        record = Refusal(who=who, what=what, reason=reason, when=when)
        fields = record.as_dict()
        self._logger.warning(
            "authentication refused: %s by %r (%s)", what.value, who, reason.value, extra=fields
        )
        if self._on_refusal is not None:
            self._on_refusal(fields)
        return error
