"""The MFD1 frame decoder on hostile bytes: every failure is a ProtocolError, never a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.core import serde
from medfed.core.messages import Ack, NodeUpdate, SecAggMessage, StudyEnd
from medfed.errors import ProtocolError

pytestmark = pytest.mark.clause("5.5.1.1e")
FUZZ = settings(max_examples=100, deadline=1000)
VALID = [
    serde.encode(NodeUpdate("s", 1, "h", {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, 5, 0.5, {})),
    serde.encode(SecAggMessage("s", 2, "h", "masked", {"k": [1, 2]}, {"masked": np.zeros(8, np.uint8)}, {})),
    serde.encode(StudyEnd("s", True, "")),
    serde.encode(Ack(False, "protocol", "no")),
]


def _decodes_or_refuses(frame: bytes) -> None:
    try:
        serde.decode(frame)
    except ProtocolError as exc:
        assert str(exc)  # a reason, not an empty refusal


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _decodes_or_refuses(data)
    _decodes_or_refuses(serde.MAGIC + data)


@FUZZ
@given(st.sampled_from(VALID), st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_truncated_and_bit_flipped_frames(frame: bytes, position: int, byte: int) -> None:
    cut = position % len(frame)
    _decodes_or_refuses(frame[:cut])
    flipped = bytearray(frame)
    flipped[cut] = byte
    _decodes_or_refuses(bytes(flipped))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["type", "study_id", "round", "node", "num_samples", "train_seconds", "metrics", "stage"]),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.lists(st.integers(), max_size=3),
        max_size=8,
    ),
    st.binary(max_size=256),
)
def test_headers_of_wrong_shape(header: dict, blob: bytes) -> None:
    head = json.dumps(header).encode()
    _decodes_or_refuses(serde.MAGIC + len(head).to_bytes(4, "big") + head + blob)


def test_header_length_beyond_the_frame_is_refused() -> None:
    with pytest.raises(ProtocolError):
        serde.decode(serde.MAGIC + (10**9).to_bytes(4, "big") + b"{}")


@pytest.mark.parametrize("kind", [[1], {"a": 1}])
def test_unhashable_message_type_is_refused(kind) -> None:
    head = json.dumps({"type": kind}).encode()
    with pytest.raises(ProtocolError):
        serde.decode(serde.MAGIC + len(head).to_bytes(4, "big") + head)


@FUZZ
@given(st.text(max_size=30), st.integers(min_value=-(2**31), max_value=2**31), st.text(max_size=10))
def test_valid_messages_round_trip(study: str, round_number: int, node: str) -> None:
    msg = NodeUpdate(study, round_number, node, {"w": np.ones(3, np.float32)}, 1, 0.0, {})
    back = serde.decode(serde.encode(msg))
    assert isinstance(back, NodeUpdate) and (back.study_id, back.round, back.node) == (study, round_number, node)
    np.testing.assert_array_equal(back.params["w"], msg.params["w"])
