from __future__ import annotations

import numpy as np
import pytest

from medfed.core import serde
from medfed.core.messages import Ack, NodeUpdate, StudyEnd, TrainTask
from medfed.errors import ProtocolError


def test_round_trip_keeps_every_field_and_tensor_bit_for_bit() -> None:
    params = {"a": np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32), "n": np.array(7)}
    task = TrainTask("s", 3, params, {"lr": 0.001, "model": "cnn2d"})
    back = serde.decode(serde.encode(task))
    assert isinstance(back, TrainTask)
    assert back.round == 3 and back.config == task.config
    assert back.params["a"].tobytes() == params["a"].tobytes()
    assert serde.decode(serde.encode(StudyEnd("s", False, "why"))) == StudyEnd("s", False, "why")
    assert serde.decode(serde.encode(Ack(True))) == Ack(True)


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (b"", "magic"),
        (b"XXXX\x00\x00\x00\x02{}", "magic"),
        (b"MFD1\x00\x00\x10\x00{}", "truncated"),
        (b"MFD1\x00\x00\x00\x03abc", "JSON"),
        (b'MFD1\x00\x00\x00\x0e{"type":"zap"}', "unknown message type"),
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment):
        serde.decode(frame)


def test_extra_header_fields_and_bad_tensors_are_refused() -> None:
    frame = serde.encode(Ack(True))
    head = b'{"type":"ack","accepted":true,"code":"","message":"","image":"x"}'
    with pytest.raises(ProtocolError, match="unexpected"):
        serde.decode(b"MFD1" + len(head).to_bytes(4, "big") + head)
    update = serde.encode(NodeUpdate("s", 1, "h", {"w": np.zeros(4, np.float32)}, 5, 0.1))
    with pytest.raises(ProtocolError, match="tensor payload"):
        serde.decode(update[:-3])
    assert serde.decode(frame) == Ack(True)


@pytest.mark.clause("5.4.2.1")
def test_updates_cannot_carry_undeclared_metrics() -> None:
    with pytest.raises(ProtocolError, match="undeclared"):
        NodeUpdate("s", 1, "h", {}, 5, 0.1, {"patient_id": 3.0})
