"""Protocol messages to and from JSON-safe dicts (bytes as base64), for any transport.

The masked input itself is not encoded here: its ``data`` travels as raw tensor bytes
beside the JSON header, so the upload stays ~1.0x the plaintext update.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

from medfed.privacy.secagg.config import SecAggConfig
from medfed.privacy.secagg.errors import SecAggError
from medfed.privacy.secagg.messages import (
    AdvertiseKeys,
    EncryptedShare,
    ForwardedShares,
    MaskedInput,
    NodeShare,
    Roster,
    ShareKeys,
    UnmaskRequest,
    UnmaskShares,
)

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        AdvertiseKeys, EncryptedShare, ForwardedShares, MaskedInput, NodeShare,
        Roster, ShareKeys, UnmaskRequest, UnmaskShares,
    )
}


def to_jsonable(message: Any) -> Any:
    if isinstance(message, bytes):
        return {"b64": base64.b64encode(message).decode()}
    if isinstance(message, tuple):
        return [to_jsonable(item) for item in message]
    if dataclasses.is_dataclass(message) and not isinstance(message, type):
        out: dict[str, Any] = {"type": type(message).__name__}
        for f in dataclasses.fields(message):
            out[f.name] = to_jsonable(getattr(message, f.name))
        return out
    if isinstance(message, int) and not isinstance(message, bool):
        return message
    raise SecAggError(f"cannot encode {type(message).__name__} in a secure-aggregation message")


def from_jsonable(value: Any, *, expect: type | None = None) -> Any:
    """Rebuild a message; anything malformed is a SecAggError naming the problem."""
    try:
        message = _decode(value)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise SecAggError(f"malformed secure-aggregation message: {exc}") from None
    if expect is not None and not isinstance(message, expect):
        raise SecAggError(f"expected {expect.__name__}, got {type(message).__name__}")
    return message


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"], validate=True)
    if isinstance(value, dict):
        cls = _TYPES[value["type"]]
        names = {f.name for f in dataclasses.fields(cls)}
        if set(value) - {"type"} != names:
            raise ValueError(f"{cls.__name__} fields differ: {sorted(set(value) - {'type'} ^ names)}")
        return cls(**{name: _decode(value[name]) for name in names})
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"unexpected {type(value).__name__}")


def config_to_jsonable(config: SecAggConfig) -> dict[str, Any]:
    return {
        "client_ids": list(config.client_ids),
        "threshold": config.threshold,
        "clip": config.clip,
        "round_seed": config.round_seed.hex(),
        "scale_bits": config.scale_bits,
        "modulus_bits": config.modulus_bits,
        "neighbours": config.degree,
    }


def config_from_jsonable(value: dict[str, Any]) -> SecAggConfig:
    try:
        return SecAggConfig(
            client_ids=tuple(int(c) for c in value["client_ids"]),
            threshold=int(value["threshold"]),
            clip=float(value["clip"]),
            round_seed=bytes.fromhex(value["round_seed"]),
            scale_bits=int(value["scale_bits"]),
            modulus_bits=int(value["modulus_bits"]),
            neighbours=int(value["neighbours"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SecAggError(f"malformed secure-aggregation configuration: {exc}") from None
