"""What each kind of ledger entry holds (standard 5.4.2.3i, 5.5.1.4b, 5.5.1.4d).

A payload is a JSON object. Each kind names the keys it requires (and a few optional
ones with a fixed type); other keys are allowed so that a later version can add evidence
without breaking older auditors. Every key anywhere in a payload is checked against
:data:`DENIED_PAYLOAD_KEYS`: the ledger is evidence *about* data, never the data itself.

=================  =========================================================================
kind               payload keys (``?`` optional)
=================  =========================================================================
STUDY_CREATED      manifest_hash (hex), question? (text)
ROLE_ASSIGNED      assignee (party), role (a :class:`~medfed.roles.Role` value)
ALGORITHM          algorithm_id (text), version (text), code_hash (hex)
INPUT              dataset_id (text), fingerprint (hex), num_samples? (int)
GRANT              grant_id (text), decision ("approved" | "denied" | "revoked"),
                   hospital (party), dataset_fingerprint? (hex)
ROUND              round (int), participants ([party]), update_digests ({party: hex}, keys
                   among participants), privacy (object: mechanism, noise, clip, δ, ...),
                   epsilon_spent (number, {party: number} or null when no DP)
RESULT             model_hash (hex), metrics ({name: number})
ANOMALY            description (text), suspect? (party), resumed_at_round? (int: a restart
                   re-ran the study from this round)
LOG_ANCHOR         log_head (hex digest of a line of the party's operation log), lines (int:
                   how many lines the log held up to and including that line)
=================  =========================================================================
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from medfed.ledger._canonical import canonical_json, is_hex
from medfed.ledger.errors import EntryRejectedError
from medfed.roles import Role

MAX_PAYLOAD_BYTES = 64 * 1024
"""Evidence is metadata: a payload larger than this is refused (it is probably data)."""

DENIED_PAYLOAD_KEYS = frozenset(
    {
        "image",
        "images",
        "pixels",
        "pixel_data",
        "pixel_array",
        "voxels",
        "dicom",
        "label",
        "labels",
        "records",
        "rows",
        "samples",
        "raw",
        "raw_data",
        "patient_id",
        "patient_name",
    }
)
"""Keys that look like raw data or identifiers, refused anywhere in a payload (compared in
lower case, with ``-`` read as ``_``). A defensive check, not a proof: it catches the
accidental ``{"labels": [...]}``, not a determined leak."""


class EntryKind(enum.StrEnum):
    STUDY_CREATED = "study_created"
    ROLE_ASSIGNED = "role_assigned"
    ALGORITHM = "algorithm"
    INPUT = "input"
    GRANT = "grant"
    ROUND = "round"
    RESULT = "result"
    ANOMALY = "anomaly"
    LOG_ANCHOR = "log_anchor"


class GrantDecision(enum.StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _parties(v: Any) -> bool:
    return isinstance(v, list) and all(map(_text, v)) and len(set(v)) == len(v)


def _digests(v: Any) -> bool:
    return isinstance(v, dict) and all(_text(k) and is_hex(d) for k, d in v.items())


def _metrics(v: Any) -> bool:
    return isinstance(v, dict) and all(map(_number, v.values()))


def _epsilon(v: Any) -> bool:
    return v is None or (_number(v) and v >= 0) or (_metrics(v) and min(v.values(), default=0) >= 0)


def _one_of(values: type[enum.StrEnum]) -> Callable[[Any], bool]:
    return lambda v: v in {m.value for m in values}


_Check = Callable[[Any], bool]
_REQUIRED: dict[EntryKind, dict[str, tuple[_Check, str]]] = {
    EntryKind.STUDY_CREATED: {"manifest_hash": (is_hex, "hex digest")},
    EntryKind.ROLE_ASSIGNED: {
        "assignee": (_text, "party name"),
        "role": (_one_of(Role), f"one of {', '.join(Role)}"),
    },
    EntryKind.ALGORITHM: {
        "algorithm_id": (_text, "text"),
        "version": (_text, "text"),
        "code_hash": (is_hex, "hex digest"),
    },
    EntryKind.INPUT: {"dataset_id": (_text, "text"), "fingerprint": (is_hex, "hex digest")},
    EntryKind.GRANT: {
        "grant_id": (_text, "text"),
        "decision": (_one_of(GrantDecision), f"one of {', '.join(GrantDecision)}"),
        "hospital": (_text, "party name"),
    },
    EntryKind.ROUND: {
        "round": (_count, "non-negative integer"),
        "participants": (_parties, "list of distinct party names"),
        "update_digests": (_digests, "object of party name to hex digest"),
        "privacy": (lambda v: isinstance(v, dict), "object"),
        "epsilon_spent": (_epsilon, "non-negative number, object of them, or null"),
    },
    EntryKind.RESULT: {
        "model_hash": (is_hex, "hex digest"),
        "metrics": (_metrics, "object of name to number"),
    },
    EntryKind.ANOMALY: {"description": (_text, "text")},
    EntryKind.LOG_ANCHOR: {
        "log_head": (is_hex, "hex digest"),
        "lines": (lambda v: _count(v) and v >= 1, "positive integer"),
    },
}
_OPTIONAL: dict[EntryKind, dict[str, tuple[_Check, str]]] = {
    EntryKind.STUDY_CREATED: {"question": (_text, "text")},
    EntryKind.INPUT: {"num_samples": (_count, "non-negative integer")},
    EntryKind.GRANT: {"dataset_fingerprint": (is_hex, "hex digest")},
    EntryKind.ANOMALY: {
        "suspect": (_text, "party name"),
        # A dispatcher restart: rounds from this one on were re-run after the crash (5.4.3.2).
        "resumed_at_round": (_count, "non-negative integer"),
    },
}


def _denied_keys(obj: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            here = f"{path}.{key}"
            if key.lower().replace("-", "_") in DENIED_PAYLOAD_KEYS:
                found.append(here)
            found.extend(_denied_keys(value, here))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            found.extend(_denied_keys(item, f"{path}[{i}]"))
    return found


def check_payload(kind: EntryKind, payload: Mapping[str, Any]) -> None:
    """Refuse a payload that is not JSON, too large, holds raw-data keys, or misses its kind's keys.

    Raises :class:`EntryRejectedError` naming the first problem found.
    """
    if not isinstance(payload, dict):
        raise EntryRejectedError(
            f"a {kind.value} payload must be a dict, not {type(payload).__name__}"
        )
    size = len(canonical_json(payload))  # also refuses non-JSON values
    if size > MAX_PAYLOAD_BYTES:
        raise EntryRejectedError(
            f"{kind.value} payload is {size} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit: "
            "record digests and summaries, not data"
        )
    denied = _denied_keys(payload, "payload")
    if denied:
        raise EntryRejectedError(
            f"{kind.value} payload has keys that look like raw data or identifiers "
            f"({', '.join(denied)}): record a fingerprint or a count instead"
        )
    for key, (check, expected) in _REQUIRED[kind].items():
        if key not in payload:
            raise EntryRejectedError(f"{kind.value} payload lacks {key!r} ({expected})")
        if not check(payload[key]):
            raise EntryRejectedError(f"{kind.value} payload {key!r} must be {expected}")
    for key, (check, expected) in _OPTIONAL.get(kind, {}).items():
        if key in payload and not check(payload[key]):
            raise EntryRejectedError(f"{kind.value} payload {key!r} must be {expected}")
    if kind is EntryKind.ROUND:
        strangers = set(payload["update_digests"]) - set(payload["participants"])
        if strangers:
            raise EntryRejectedError(
                f"round payload has update digests of non-participants {sorted(strangers)}"
            )
