"""Short-lived bearer tokens (clauses 5.5.1.2b, 5.5.1.2c)."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from medfed.authn import (
    AuthenticationError,
    AuthStore,
    Credential,
    InMemoryAuthStore,
    Principal,
    SqliteAuthStore,
    TokenService,
)
from medfed.crypto import Suite
from medfed.errors import ConfigError
from medfed.roles import Role

from .support import NOW, STUDY, Recorder

KEY = bytes(range(32))
ALICE = Principal("alice", Role.INITIATOR, STUDY, Credential.PASSWORD)


def service(
    suite: Suite, recorder: Recorder, *, store: AuthStore | None = None, **options: object
) -> TokenService:
    return TokenService(
        suite,
        key=options.pop("key", KEY),
        store=store or InMemoryAuthStore(),
        study_id=options.pop("study_id", STUDY),
        ttl_s=600,
        audit=recorder.audit,
    )


@pytest.mark.clause("5.5.1.2b")
def test_token_issued_after_login_verifies_with_its_claims(
    suite: Suite, recorder: Recorder
) -> None:
    tokens = service(suite, recorder)
    claims = tokens.verify(tokens.issue(ALICE, now=NOW), now=NOW + 599)
    assert (claims.subject, claims.role, claims.study_id) == ("alice", Role.INITIATOR, STUDY)
    assert claims.expires_at == int(NOW) + 600
    assert claims.principal == Principal("alice", Role.INITIATOR, STUDY, Credential.TOKEN)
    assert recorder.refusals == []


@pytest.mark.clause("5.5.1.2c")
def test_expired_token_is_refused(suite: Suite, recorder: Recorder) -> None:
    tokens = service(suite, recorder)
    token = tokens.issue(ALICE, now=NOW)
    with pytest.raises(AuthenticationError, match="expired"):
        tokens.verify(token, now=NOW + 600)
    assert recorder.last == {
        "who": "alice",
        "what": "token",
        "reason": "expired",
        "when": NOW + 600,
    }


@pytest.mark.clause("5.5.1.2c")
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_revoked_token_is_refused(suite: Suite, recorder: Recorder, backend: str) -> None:
    store: AuthStore = InMemoryAuthStore() if backend == "memory" else SqliteAuthStore(":memory:")
    tokens = service(suite, recorder, store=store)
    token = tokens.issue(ALICE, now=NOW)
    other = tokens.issue(ALICE, now=NOW)
    tokens.revoke(token, now=NOW + 1)
    with pytest.raises(AuthenticationError, match="revoked"):
        tokens.verify(token, now=NOW + 2)
    assert tokens.verify(other, now=NOW + 2).subject == "alice"  # only that one token
    assert recorder.reasons == ["revoked"]


def _tamper(token: str, **changes: object) -> str:
    prefix, payload, tag = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return f"{prefix}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{tag}"


@pytest.mark.clause("5.5.1.2c")
@pytest.mark.parametrize(
    "changes", [{"role": "dispatcher"}, {"exp": int(NOW) + 10**6}, {"sub": "bob"}]
)
def test_tampered_token_is_refused(
    suite: Suite, recorder: Recorder, changes: dict[str, object]
) -> None:
    tokens = service(suite, recorder)
    forged = _tamper(tokens.issue(ALICE, now=NOW), **changes)
    with pytest.raises(AuthenticationError, match="integrity"):
        tokens.verify(forged, now=NOW)
    assert recorder.last["reason"] == "tampered"
    assert recorder.last["who"] == "<unverified token>"  # the forged name is not trusted


@pytest.mark.clause("5.5.1.2c")
def test_token_of_another_study_is_refused(suite: Suite, recorder: Recorder) -> None:
    # Even a service sharing the key (a misconfiguration) refuses another study's token.
    other = service(suite, recorder, study_id="study-2")
    token = other.issue(Principal("alice", Role.INITIATOR, "study-2", Credential.PASSWORD), now=NOW)
    with pytest.raises(AuthenticationError, match="another study"):
        service(suite, recorder).verify(token, now=NOW)
    assert recorder.reasons == ["wrong_study"]


@pytest.mark.clause("5.5.1.2c")
def test_token_under_another_key_is_refused(suite: Suite, recorder: Recorder) -> None:
    token = service(suite, recorder, key=secrets.token_bytes(32)).issue(ALICE, now=NOW)
    with pytest.raises(AuthenticationError, match="integrity"):
        service(suite, recorder).verify(token, now=NOW)
    assert recorder.reasons == ["tampered"]


@pytest.mark.clause("5.5.1.2c")
@pytest.mark.parametrize("garbage", ["", "mf1", "mf1.a.b.c", "jwt.eyJ.sig", "mf1.!!!.abc"])
def test_malformed_token_is_refused(suite: Suite, recorder: Recorder, garbage: str) -> None:
    with pytest.raises(AuthenticationError, match="malformed"):
        service(suite, recorder).verify(garbage, now=NOW)
    assert recorder.reasons == ["malformed"]


def test_token_service_refuses_weak_settings(suite: Suite) -> None:
    with pytest.raises(ConfigError, match="32 random bytes"):
        TokenService(suite, key=b"short", store=InMemoryAuthStore(), study_id=STUDY)
    with pytest.raises(ConfigError, match="ttl_s"):
        TokenService(suite, key=KEY, store=InMemoryAuthStore(), study_id=STUDY, ttl_s=10**6)
    other = Principal("bob", Role.RESULT, "study-2", Credential.PASSWORD)
    with pytest.raises(ConfigError, match="study"):
        TokenService(suite, key=KEY, store=InMemoryAuthStore(), study_id=STUDY).issue(
            other, now=NOW
        )
