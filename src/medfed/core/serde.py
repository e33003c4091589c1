"""Wire encoding of messages: a small JSON header plus tensors in safetensors format.

Frame = b"MFD1" | uint32 big-endian header length | JSON header | safetensors blob.
safetensors is used because it cannot execute code on load (unlike pickle).
"""

from __future__ import annotations

import json
import struct
from dataclasses import fields
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from medfed.core.messages import (
    Ack,
    Arrays,
    Message,
    NodeFailure,
    NodeHello,
    NodeUpdate,
    RelayMessage,
    SecAggMessage,
    StudyEnd,
    StudyResult,
    TrainTask,
)
from medfed.errors import ProtocolError

MAGIC = b"MFD1"
MAX_FRAME_BYTES = 512 * 1024 * 1024
_HEADER = struct.Struct(">I")
_TYPES: dict[str, type[Message]] = {
    "train_task": TrainTask,
    "node_update": NodeUpdate,
    "node_failure": NodeFailure,
    "study_end": StudyEnd,
    "ack": Ack,
    "study_result": StudyResult,
    "secagg": SecAggMessage,
    "relay": RelayMessage,
    "node_hello": NodeHello,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}


def encode_arrays(arrays: Arrays) -> bytes:
    # np.ascontiguousarray would turn 0-d arrays (BatchNorm counters) into shape (1,).
    items = {k: np.asarray(v) for k, v in arrays.items()}
    return st_save({k: v if v.flags.c_contiguous else v.copy(order="C") for k, v in items.items()})


def decode_arrays(blob: bytes) -> Arrays:
    try:
        return dict(st_load(blob))
    except (SafetensorError, ValueError) as exc:
        raise ProtocolError(f"tensor payload is malformed: {exc}") from None


def encode(message: Message) -> bytes:
    """Serialise one message into a frame."""
    header: dict[str, Any] = {"type": _NAMES[type(message)]}
    blob = b""
    for f in fields(message):
        value = getattr(message, f.name)
        if f.name == "params":
            blob = encode_arrays(value)
        else:
            header[f.name] = value
    head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    return MAGIC + _HEADER.pack(len(head)) + head + blob


def decode(frame: bytes) -> Message:
    """Parse a frame; any malformation is a :class:`ProtocolError` naming the problem."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds the {MAX_FRAME_BYTES} limit")
    if len(frame) < 8 or frame[:4] != MAGIC:
        raise ProtocolError("not a medfed frame (bad magic)")
    (head_len,) = _HEADER.unpack_from(frame, 4)
    if 8 + head_len > len(frame):
        raise ProtocolError("frame truncated inside its header")
    try:
        header = json.loads(frame[8 : 8 + head_len])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame header is not JSON: {exc}") from None
    kind = header.get("type") if isinstance(header, dict) else None
    # Checked as a string first: a list or object here is unhashable and must be refused, not crash.
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ProtocolError(f"unknown message type {kind!r}" if isinstance(header, dict) else "frame header is not a JSON object")
    cls = _TYPES[header.pop("type")]
    names = {f.name for f in fields(cls)}
    if "params" in names:
        header["params"] = decode_arrays(frame[8 + head_len :])
    if set(header) != names:
        raise ProtocolError(
            f"{cls.__name__} fields differ: missing {sorted(names - set(header))}, "
            f"unexpected {sorted(set(header) - names)}"
        )
    _check_types(cls, header)
    try:
        return cls(**header)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"{cls.__name__}: {exc}") from None


_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def _check_types(cls: type[Message], header: dict[str, Any]) -> None:
    """Refuse a header field of the wrong JSON type before any code relies on it."""
    for f in fields(cls):
        if f.name == "params":
            continue
        kind = str(f.type).split("[")[0]
        value = header[f.name]
        if kind == "dict":
            ok = isinstance(value, dict)
        else:
            expected = _SCALARS[kind]
            ok = isinstance(value, expected) and (bool in expected or not isinstance(value, bool))
        if not ok:
            raise ProtocolError(f"{cls.__name__}.{f.name} must be {kind}, not {type(value).__name__}")


def header_of(frame: bytes) -> dict[str, Any]:
    """The JSON header alone (for inspection and logs), without decoding tensors."""
    (head_len,) = _HEADER.unpack_from(frame, 4)
    result: dict[str, Any] = json.loads(frame[8 : 8 + head_len])
    return result

