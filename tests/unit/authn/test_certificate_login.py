"""Certificate login for people (clauses 5.5.1.2b, 5.5.1.2c)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from medfed.authn import (
    AuthenticationError,
    CertificateLogin,
    Credential,
    NonceCache,
    Principal,
    ReplayError,
    sign_login,
)
from medfed.crypto import Suite
from medfed.pki import CertificateAuthority, IssuedIdentity
from medfed.roles import Role

from .support import STUDY, Recorder


@pytest.fixture(scope="module")
def alice(ca: CertificateAuthority) -> IssuedIdentity:
    return ca.issue("alice", Role.INITIATOR)


@pytest.fixture
def login(suite: Suite, ca: CertificateAuthority, recorder: Recorder) -> CertificateLogin:
    return CertificateLogin(
        suite, study_id=STUDY, ca_pem=ca.cert_pem, nonces=NonceCache(), audit=recorder.audit
    )


def answer(suite: Suite, who: IssuedIdentity, nonce: bytes) -> bytes:
    """What the user's client does with the server nonce."""
    return sign_login(suite.load_signing_key(who.key_pem), study_id=STUDY, nonce=nonce)


@pytest.mark.clause("5.5.1.2b")
def test_certificate_holder_logs_in_with_the_role_in_the_certificate(
    suite: Suite, login: CertificateLogin, alice: IssuedIdentity, recorder: Recorder
) -> None:
    now = time.time()
    nonce = login.challenge(now=now)
    principal = login.authenticate(alice.cert_pem, nonce, answer(suite, alice, nonce), now=now)
    assert principal == Principal("alice", Role.INITIATOR, STUDY, Credential.CERTIFICATE)
    assert recorder.refusals == []


@pytest.mark.clause("5.5.1.2c")
def test_certificate_from_another_ca_is_refused(
    suite: Suite, login: CertificateLogin, recorder: Recorder
) -> None:
    # Same study name, but a CA the study never trusted.
    stranger = CertificateAuthority.create(STUDY).issue("alice", Role.INITIATOR)
    now = time.time()
    nonce = login.challenge(now=now)
    with pytest.raises(AuthenticationError, match="not issued by this study's CA"):
        login.authenticate(stranger.cert_pem, nonce, answer(suite, stranger, nonce), now=now)
    assert recorder.last == {
        "who": "alice",
        "what": "certificate",
        "reason": "wrong_ca",
        "when": now,
    }


@pytest.mark.clause("5.5.1.2c")
def test_expired_certificate_is_refused(
    suite: Suite, ca: CertificateAuthority, login: CertificateLogin, recorder: Recorder
) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    old = ca.issue("bob", Role.RESULT, not_before=start, not_after=start + timedelta(days=1))
    now = time.time()
    nonce = login.challenge(now=now)
    with pytest.raises(AuthenticationError, match="expired"):
        login.authenticate(old.cert_pem, nonce, answer(suite, old, nonce), now=now)
    assert recorder.reasons == ["expired"]


@pytest.mark.clause("5.5.1.2c")
def test_signature_by_a_key_other_than_the_certificates_is_refused(
    suite: Suite,
    ca: CertificateAuthority,
    login: CertificateLogin,
    alice: IssuedIdentity,
    recorder: Recorder,
) -> None:
    mallory = ca.issue("mallory", Role.INITIATOR)
    now = time.time()
    nonce = login.challenge(now=now)
    with pytest.raises(AuthenticationError, match="did not prove possession"):
        login.authenticate(alice.cert_pem, nonce, answer(suite, mallory, nonce), now=now)
    assert recorder.reasons == ["bad_signature"]


@pytest.mark.clause("5.5.1.2c")
def test_login_nonce_is_accepted_once(
    suite: Suite, login: CertificateLogin, alice: IssuedIdentity, recorder: Recorder
) -> None:
    now = time.time()
    nonce = login.challenge(now=now)
    signature = answer(suite, alice, nonce)
    login.authenticate(alice.cert_pem, nonce, signature, now=now)
    with pytest.raises(ReplayError):
        login.authenticate(alice.cert_pem, nonce, signature, now=now + 1)
    assert recorder.reasons == ["replay"]


@pytest.mark.clause("5.5.1.2c")
def test_expired_login_nonce_is_refused(
    suite: Suite, login: CertificateLogin, alice: IssuedIdentity, recorder: Recorder
) -> None:
    now = time.time()
    nonce = login.challenge(now=now)
    with pytest.raises(AuthenticationError, match="expired"):
        login.authenticate(alice.cert_pem, nonce, answer(suite, alice, nonce), now=now + 121)
    assert recorder.reasons == ["expired"]


@pytest.mark.clause("5.5.1.2c")
def test_nonce_not_issued_by_this_server_is_refused(
    suite: Suite,
    ca: CertificateAuthority,
    login: CertificateLogin,
    alice: IssuedIdentity,
    recorder: Recorder,
) -> None:
    other = CertificateLogin(suite, study_id=STUDY, ca_pem=ca.cert_pem, nonces=NonceCache())
    now = time.time()
    foreign = other.challenge(now=now)
    stretched = bytearray(login.challenge(now=now))
    stretched[33] ^= 0x01  # push the expiry out
    for nonce in (foreign, bytes(stretched), b"\x00" * 10):
        with pytest.raises(AuthenticationError, match="not issued by this server"):
            login.authenticate(alice.cert_pem, nonce, answer(suite, alice, nonce), now=now)
    assert recorder.reasons == ["tampered"] * 3


@pytest.mark.clause("5.5.1.2c")
def test_certificate_of_another_study_is_refused(
    suite: Suite, ca: CertificateAuthority, alice: IssuedIdentity, recorder: Recorder
) -> None:
    # A login page for study-2 that (wrongly) trusts study-1's CA still refuses its people.
    login = CertificateLogin(
        suite, study_id="study-2", ca_pem=ca.cert_pem, nonces=NonceCache(), audit=recorder.audit
    )
    now = time.time()
    nonce = login.challenge(now=now)
    signature = sign_login(suite.load_signing_key(alice.key_pem), study_id="study-2", nonce=nonce)
    with pytest.raises(AuthenticationError, match="another study"):
        login.authenticate(alice.cert_pem, nonce, signature, now=now)
    assert recorder.reasons == ["wrong_study"]
