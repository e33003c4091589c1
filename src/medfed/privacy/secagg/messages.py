"""The protocol's messages: frozen dataclasses of ints, bytes and tuples of them.

That shape lets any module serialise them (e.g. JSON with base64 bytes) without knowing the
protocol. Sizes in bytes: public keys 32, share values 66, sealed share pairs 160.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class AdvertiseKeys:
    """Stage 1, client → server: X25519 public keys (c: share encryption, s: pairwise masks)."""

    sender: int
    c_public: bytes
    s_public: bytes


@dataclass(frozen=True)
class Roster:
    """Stage 1, server → client: the advertised keys of the receiver's surviving neighbours."""

    receiver: int
    keys: tuple[AdvertiseKeys, ...]


@dataclass(frozen=True)
class EncryptedShare:
    """The sender's shares (self-mask seed b, mask key s_sk) for one receiver, AES-GCM sealed."""

    sender: int
    receiver: int
    ciphertext: bytes


@dataclass(frozen=True)
class ShareKeys:
    """Stage 2, client → server: one sealed share pair per neighbour in the roster."""

    sender: int
    shares: tuple[EncryptedShare, ...]


@dataclass(frozen=True)
class ForwardedShares:
    """Stage 2, server → client: the sealed shares addressed to the receiver."""

    receiver: int
    shares: tuple[EncryptedShare, ...]


@dataclass(frozen=True)
class MaskedInput:
    """Stage 3, client → server: the masked ring vector, (d,) little-endian uint32 or uint64."""

    sender: int
    data: bytes


@dataclass(frozen=True)
class UnmaskRequest:
    """Stage 4, server → client: reveal b-shares of ``survivors``, s-shares of ``dropped``."""

    receiver: int
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]


@dataclass(frozen=True)
class NodeShare:
    """One Shamir share of ``owner``'s secret, held by the message's sender (x = sender + 1)."""

    owner: int
    value: bytes


@dataclass(frozen=True)
class UnmaskShares:
    """Stage 4, client → server: the shares the request asked for, nothing more."""

    sender: int
    b_shares: tuple[NodeShare, ...]
    s_shares: tuple[NodeShare, ...]


def payload_size(message: object) -> int:
    """Bytes a message carries: bytes fields at their length, each int as 8 bytes.

    A floor for any encoding (framing and field names come on top); used for the upload ratio.
    """
    if isinstance(message, bytes):
        return len(message)
    if isinstance(message, int):
        return 8
    if isinstance(message, tuple):
        return sum(payload_size(item) for item in message)
    if dataclasses.is_dataclass(message):
        return sum(payload_size(getattr(message, f.name)) for f in dataclasses.fields(message))
    raise TypeError(f"not a secagg message part: {type(message).__name__}")
