"""Entries: canonical encoding, the suite's digest, and the payload checks (5.4.2.3i, 5.5.1.4b)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from medfed.crypto import get_suite
from medfed.ledger import (
    DENIED_PAYLOAD_KEYS,
    EntryKind,
    EntryRejectedError,
    EntryRequest,
    LedgerEntry,
    SignedRequest,
)

from .support import TASK, World

pytestmark = pytest.mark.clause("5.4.2.3i", "5.5.1.4b")


def _request(kind: EntryKind = EntryKind.INPUT, **payload: Any) -> EntryRequest:
    body = payload or {"dataset_id": "cxr", "fingerprint": "ab" * 32}
    return EntryRequest(TASK, kind, "hospital-a", 1.5, body)


@pytest.mark.parametrize("name", ["intl", "gm"])
def test_entry_hash_is_sha256_under_intl_and_sm3_under_gm(name: str) -> None:
    suite = get_suite(name)
    entry = LedgerEntry.chain(_request(), b"sig", sequence=0, prev_hash="00" * 32, suite=suite)
    body = entry.body()
    if name == "intl":
        independent = hashlib.sha256(body).hexdigest()
    else:
        from gmssl import func, sm3  # an independent SM3 implementation

        independent = sm3.sm3_hash(func.bytes_to_list(body))
    assert entry.entry_hash == suite.digest(body).hex() == independent


def test_body_is_canonical_json_of_every_field_but_hash_and_signature() -> None:
    suite = get_suite("intl")
    entry = LedgerEntry.chain(_request(), b"sig", sequence=3, prev_hash="0f" * 32, suite=suite)
    body = entry.body()
    assert b" " not in body
    decoded = json.loads(body)
    assert list(decoded) == sorted(decoded)
    assert set(decoded) == {
        "schema",
        "sequence",
        "task_id",
        "kind",
        "party",
        "timestamp",
        "payload",
        "prev_hash",
    }
    assert entry.to_dict()["signature"] == b"sig".hex()
    assert LedgerEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry


def test_unicode_payload_is_encoded_as_utf8() -> None:
    request = _request(EntryKind.ANOMALY, description="节点 hospital-a 超时")
    suite = get_suite("gm")
    entry = LedgerEntry.chain(request, b"s", sequence=0, prev_hash="00" * 32, suite=suite)
    assert "超时".encode() in entry.body()


@pytest.mark.parametrize(
    "bad",
    [
        b"bytes",
        {1, 2},
        (1, 2),
        float("nan"),
        float("inf"),
        object(),
        {1: "int key"},
    ],
    ids=["bytes", "set", "tuple", "nan", "inf", "object", "int-key"],
)
def test_payload_with_a_non_json_value_is_refused(bad: object) -> None:
    with pytest.raises(EntryRejectedError):
        _request(EntryKind.ANOMALY, description="x", extra={"nested": [bad]})


@pytest.mark.parametrize("key", ["images", "labels", "pixels", "records", "Patient-ID"])
def test_payload_key_that_looks_like_raw_data_is_refused_at_any_depth(key: str) -> None:
    with pytest.raises(EntryRejectedError, match="raw data"):
        _request(EntryKind.RESULT, model_hash="ab", metrics={}, extra={"deep": [{key: [1]}]})


def test_deny_list_is_small_and_documented() -> None:
    assert {"images", "labels", "pixels", "records"} <= DENIED_PAYLOAD_KEYS
    assert len(DENIED_PAYLOAD_KEYS) < 30


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(EntryRejectedError, match="limit"):
        _request(EntryKind.ANOMALY, description="x" * 70_000)


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        (EntryKind.INPUT, {"dataset_id": "d"}, "fingerprint"),
        (EntryKind.INPUT, {"dataset_id": "d", "fingerprint": "not-hex"}, "fingerprint"),
        (EntryKind.ROLE_ASSIGNED, {"assignee": "h", "role": "overlord"}, "role"),
        (EntryKind.GRANT, {"grant_id": "g", "decision": "maybe", "hospital": "h"}, "decision"),
        (
            EntryKind.ROUND,
            {
                "round": 0,
                "participants": ["a"],
                "update_digests": {"b": "00"},
                "privacy": {},
                "epsilon_spent": None,
            },
            "non-participants",
        ),
        (EntryKind.ROUND, {"round": -1}, "round"),
        (EntryKind.RESULT, {"model_hash": "ab", "metrics": {"auc": "high"}}, "metrics"),
        (EntryKind.LOG_ANCHOR, {"log_head": "ab", "lines": 0}, "lines"),
    ],
)
def test_payload_that_does_not_fit_its_kind_is_refused(
    kind: EntryKind, payload: dict[str, Any], problem: str
) -> None:
    with pytest.raises(EntryRejectedError, match=problem):
        EntryRequest(TASK, kind, "p", 1.0, payload)


def test_request_owns_its_payload() -> None:
    payload = {"dataset_id": "cxr", "fingerprint": "ab" * 32}
    request = EntryRequest(TASK, EntryKind.INPUT, "hospital-a", 1, payload)
    payload["fingerprint"] = "cd" * 32
    assert request.payload["fingerprint"] == "ab" * 32
    assert request.timestamp == 1.0 and isinstance(request.timestamp, float)


def test_signed_request_travels_as_json(world: World) -> None:
    signed = world.builder("hospital-a").input(
        TASK, dataset_id="cxr", fingerprint="ab" * 32, timestamp=2.0
    )
    again = SignedRequest.from_dict(json.loads(json.dumps(signed.to_dict())))
    assert again == signed
    with pytest.raises(EntryRejectedError):
        SignedRequest.from_dict({"request": {"task_id": TASK}, "signature": "00"})
