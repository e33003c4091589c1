"""Every refusal reaches the ``medfed.authn`` logger as a structured record (5.5.1.2c)."""

from __future__ import annotations

import logging

import pytest

from medfed.authn import (
    Argon2Params,
    Audit,
    AuthenticationError,
    Credential,
    InMemoryAuthStore,
    PasswordAuthenticator,
    Reason,
)

from .support import NOW, STUDY


@pytest.mark.clause("5.5.1.2c")
def test_refusal_is_logged_with_who_what_reason_and_when(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = PasswordAuthenticator(
        InMemoryAuthStore(), study_id=STUDY, params=Argon2Params.fast_insecure(), audit=Audit()
    )
    with caplog.at_level(logging.WARNING, logger="medfed.authn"):
        with pytest.raises(AuthenticationError):
            auth.authenticate("mallory", "some password", now=NOW)
    [record] = [r for r in caplog.records if r.name == "medfed.authn"]
    assert record.levelno == logging.WARNING
    fields = {k: getattr(record, k) for k in ("who", "what", "reason", "when")}
    assert fields == {"who": "mallory", "what": "password", "reason": "unknown_user", "when": NOW}
    assert "some password" not in record.getMessage()  # secrets never reach the log


def test_refusal_callback_and_logger_both_receive_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[dict[str, object]] = []
    audit = Audit(seen.append, logger=logging.getLogger("medfed.authn.test"))
    error = AuthenticationError("refused")
    with caplog.at_level(logging.WARNING, logger="medfed.authn.test"):
        returned = audit.refuse(
            error, who="x", what=Credential.TOKEN, reason=Reason.REVOKED, when=1.0
        )
    assert returned is error
    assert seen == [{"who": "x", "what": "token", "reason": "revoked", "when": 1.0}]
    assert [r.name for r in caplog.records] == ["medfed.authn.test"]
