"""The hospital's independent check of every task's grant, and of the code it is about to run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from medfed.authz import GrantBook, GrantError, GrantRefusal, InMemoryAuthzStore
from medfed.authz.study_use import algorithm_code, grant_request
from medfed.core.config import load_study
from medfed.crypto import get_suite
from medfed.node.consent import NodeConsent

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
SUITE = get_suite("intl")


@pytest.fixture
def granted():
    study = load_study(EXAMPLE)
    owners = {h: SUITE.generate_signing_key() for h in study.hospitals}
    store = InMemoryAuthzStore()
    book = GrantBook(store, {h: k.verify_key() for h, k in owners.items()})
    now = time.time()
    grants = {}
    for h, key in owners.items():
        app = book.request(grant_request(study, h, "initiator", SUITE, now=now), now=now)
        grants[h] = book.approve(app.application_id, key, now=now)
    return study, owners, store, book, grants


def _node(study, owners, store, hospital, code=None) -> NodeConsent:
    return NodeConsent(study, hospital, owner_key=owners[hospital].verify_key(), suite=SUITE, store=store, code=code)


@pytest.mark.clause("5.5.1.2g")
def test_a_valid_grant_passes_and_a_missing_one_is_refused(granted) -> None:
    study, owners, store, _, grants = granted
    h = study.hospitals[0]
    node = _node(study, owners, store, h)
    assert node.verify({"grant": grants[h].to_bytes().hex()}, now=time.time()).grant_id == grants[h].grant_id
    with pytest.raises(GrantError) as refused:
        node.verify({}, now=time.time())
    assert refused.value.reason is GrantRefusal.NO_GRANT


@pytest.mark.clause("5.4.2.3b", "5.5.1.2g")
def test_one_changed_byte_in_the_algorithm_is_refused_even_with_a_valid_grant(granted) -> None:
    study, owners, store, _, grants = granted
    h = study.hospitals[0]
    code = algorithm_code()
    altered = dict(code)
    altered["training/local.py"] = code["training/local.py"].replace(b"lr=cfg.lr", b"lr=cfg.lR", 1)
    assert altered["training/local.py"] != code["training/local.py"]
    node = _node(study, owners, store, h, code=altered)
    with pytest.raises(GrantError) as refused:
        node.verify({"grant": grants[h].to_bytes().hex()}, now=time.time())
    assert refused.value.reason is GrantRefusal.WRONG_ALGORITHM


@pytest.mark.clause("5.5.1.2g")
def test_another_hospitals_grant_and_a_revoked_grant_are_refused(granted) -> None:
    study, owners, store, book, grants = granted
    a, b = study.hospitals[:2]
    node = _node(study, owners, store, a)
    with pytest.raises(GrantError):  # signed by b's owner, not ours
        node.verify({"grant": grants[b].to_bytes().hex()}, now=time.time())
    book.revoke(grants[a].grant_id, "consent withdrawn", now=time.time())
    with pytest.raises(GrantError) as refused:
        node.verify({"grant": grants[a].to_bytes().hex()}, now=time.time())
    assert refused.value.reason is GrantRefusal.REVOKED


def test_a_malformed_grant_is_a_protocol_error(granted) -> None:
    from medfed.errors import ProtocolError

    study, owners, store, _, _ = granted
    node = _node(study, owners, store, study.hospitals[0])
    with pytest.raises(ProtocolError):
        node.verify({"grant": "zz-not-hex"}, now=time.time())
