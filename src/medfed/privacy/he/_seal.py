"""What the two SEAL-backed schemes (CKKS, BFV) share: key blobs, chunk headers, primes.

Key blob: ``b"medfed-he/<name>/v1\\n"`` + one line of JSON (the parameters, the key
fingerprint and whether the blob is "public" or "secret") + ``b"\\n"`` + a serialized
TenSEAL context. A public blob holds no secret key, no Galois keys, and relinearization
keys only when the parameters allow ciphertext-ciphertext multiplication.

Chunk: a fixed 45-byte header (``ChunkMeta`` plus index and count) + a serialized TenSEAL
vector. The header lets the aggregator refuse ciphertexts of another key, vectors of
another length and sums of more than ``max_addends`` vectors without any key.

Security: every context uses SEAL's default 128-bit classical security level; SEAL itself
refuses a coefficient modulus above ``MAX_BITS_128`` for the ring degree.
"""

from __future__ import annotations

import hashlib
import json
import struct
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from medfed.errors import HEError
from medfed.privacy.he.base import VectorScheme
from medfed.privacy.he.depth import DepthBudget, EncryptedVector

# Largest total coefficient-modulus bits at 128-bit classical security (HomomorphicEncryption.org
# standard, the table SEAL enforces by default), per ring degree N.
MAX_BITS_128 = {4096: 109, 8192: 218, 16384: 438, 32768: 881}

# SEAL's fresh noise is below 21 per coefficient (centred binomial of variance 10.5; the older
# clipped normal stops at 6 * 3.2 = 19.2); encoding rounds by at most 1/2 more.
NOISE_MAX = 21.5

# Precision target the parameters are sized for when no option says otherwise.
DEFAULT_MAX_ADDENDS = 64
DEFAULT_MAX_ABS = 2.0**17  # 131072: covers sample-weighted parameters and sample counts (~1e5)


@contextmanager
def opaque(operation: str) -> Iterator[None]:
    """Turn any TenSEAL failure inside the block into one HEError that reveals nothing more."""
    try:
        yield
    except (ValueError, RuntimeError, TypeError, OverflowError):
        # One message per operation, no chaining: a detailed cause could serve as an oracle.
        raise HEError(f"homomorphic {operation} failed: malformed ciphertext or key material") from None


# --- key material ---------------------------------------------------------------------------


def pack_key(name: str, meta: dict[str, Any], context: bytes) -> bytes:
    """Key blob bytes: the scheme line, the JSON parameter line, then the TenSEAL context."""
    line = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    return f"medfed-he/{name}/v1\n".encode() + line + b"\n" + context


def unpack_key(name: str, blob: bytes) -> tuple[dict[str, Any], bytes]:
    """(parameters, TenSEAL context bytes) of a key blob of scheme ``name``."""
    prefix = f"medfed-he/{name}/v1\n".encode()
    if not blob.startswith(prefix):
        raise HEError(f"not medfed {name} key material")
    line, sep, context = blob[len(prefix) :].partition(b"\n")
    try:
        meta = json.loads(line)
    except ValueError:
        meta = None
    if not sep or not isinstance(meta, dict) or meta.get("kind") not in ("public", "secret"):
        raise HEError(f"not medfed {name} key material")
    return meta, context


def fingerprint(key_id: bytes, public_context: bytes) -> bytes:
    """8 bytes naming a key. A symmetric public context carries no key at all, so a random
    key id drawn at generation is hashed in: two keys with equal parameters still differ."""
    return hashlib.sha256(key_id + public_context).digest()[:8]


# --- chunks ---------------------------------------------------------------------------------

_MAGIC = b"MFHE"
_VERSION = 1
_HEADER = struct.Struct(">4sB8sIIIHBBdd")


@dataclass(frozen=True)
class ChunkMeta:
    """What every chunk of one encrypted vector says about it.

    ``bound`` is the largest magnitude the plaintext may hold, in the scheme's plaintext
    units (CKKS: real values; BFV: fixed-point integers); it is derived from public
    parameters only, never from the data. ``scale_ratio`` (CKKS) is the true scale over the
    nominal one after rescaling; ``frac_bits`` (BFV) the fixed-point fraction bits.
    """

    fingerprint: bytes
    size: int
    addends: int
    levels_used: int
    frac_bits: int
    scale_ratio: float
    bound: float


def pack_chunk(meta: ChunkMeta, index: int, count: int, body: bytes) -> bytes:
    """Header + serialized TenSEAL vector."""
    return (
        _HEADER.pack(
            _MAGIC,
            _VERSION,
            meta.fingerprint,
            index,
            count,
            meta.size,
            meta.addends,
            meta.levels_used,
            meta.frac_bits,
            meta.scale_ratio,
            meta.bound,
        )
        + body
    )


def unpack_chunk(blob: bytes) -> tuple[ChunkMeta, int, int, bytes]:
    """(meta, index, count, TenSEAL body) of one chunk; HEError if it is not one."""
    if not isinstance(blob, bytes | bytearray) or len(blob) <= _HEADER.size:
        raise HEError("not a medfed ciphertext chunk")
    magic, version, fp, index, count, size, addends, levels, frac, ratio, bound = _HEADER.unpack_from(
        blob
    )
    if magic != _MAGIC or version != _VERSION or not 0 <= index < count:
        raise HEError("not a medfed ciphertext chunk")
    meta = ChunkMeta(fp, size, addends, levels, frac, ratio, bound)
    return meta, index, count, bytes(blob[_HEADER.size :])


# --- primes: SEAL's choice of coefficient moduli, re-derived to know the rescaling primes ------


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin, exact for n < 3.3e24 (far above SEAL's 61-bit primes)."""
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    if n < 2:
        return False
    for p in bases:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def primes_below(bits: int, step: int, count: int) -> list[int]:
    """The ``count`` largest primes p < 2**bits with p = 1 (mod step), largest first
    (SEAL's ``get_primes``; BFV batching wants step = 2N, RNS moduli too)."""
    found: list[int] = []
    value = (1 << bits) - step + 1
    while len(found) < count and value > 1 << (bits - 1):
        if is_prime(value):
            found.append(value)
        value -= step
    if len(found) < count:
        raise HEError(f"no {count} primes of {bits} bits fit ring step {step}; choose other sizes")
    return found


def seal_chain(degree: int, bit_sizes: list[int]) -> list[int]:
    """The primes SEAL's ``CoeffModulus::Create(degree, bit_sizes)`` picks, in chain order:
    per bit size, the largest primes = 1 (mod 2N), handed out smallest first."""
    pools = {b: primes_below(b, 2 * degree, n) for b, n in Counter(bit_sizes).items()}
    return [pools[b].pop() for b in bit_sizes]


def check_chain(context: Any, primes: list[int]) -> None:
    """Compare the derived primes with the context's own moduli (each level's product mod
    2**64, all SEAL exposes); a mismatch would make CKKS rescale corrections wrong."""
    data = context.seal_context().data.key_context_data()
    level = len(primes)
    while data is not None:
        product = 1
        for p in primes[:level]:
            product *= p
        if data.total_coeff_modulus() != product % 2**64:
            raise HEError("the SEAL coefficient moduli differ from the expected chain")
        data, level = data.next_context_data(), level - 1


def ring_degree(total_bits: int, minimum: int = 4096) -> int:
    """The smallest ring degree N >= ``minimum`` whose 128-bit security limit fits ``total_bits``."""
    for degree, limit in MAX_BITS_128.items():
        if degree >= minimum and total_bits <= limit:
            return degree
    raise HEError(f"a {total_bits}-bit coefficient modulus exceeds 128-bit security at any ring degree")


# --- the shared scheme ----------------------------------------------------------------------


class SealVectors(VectorScheme):
    """Float vectors chunked over the ciphertexts of one symmetric-key TenSEAL context.

    Encryption is SEAL's symmetric (secret-key) mode: every encrypting hospital holds the
    secret key anyway; fresh noise is one error term instead of three (about 8x smaller);
    and the aggregator's public context holds no key at all, so it can add ciphertexts but
    can neither decrypt nor make fresh encryptions. Subclasses supply the encoding.
    """

    def __init__(self, context: Any, params: dict[str, Any]) -> None:
        self._context = context
        self._params = {k: v for k, v in params.items() if k != "kind"}
        self._fingerprint = bytes.fromhex(params["fingerprint"])
        self._depth = int(params["depth"])
        self._max_addends = int(params["max_addends"])
        self._max_abs = float(params["max_abs"])
        with opaque("key loading"):
            self._can_decrypt = bool(context.has_secret_key())

    @property
    def params(self) -> dict[str, Any]:
        """The public parameters (ring degree, moduli, bounds, depth, fingerprint)."""
        return dict(self._params)

    @property
    def can_decrypt(self) -> bool:
        return self._can_decrypt

    @property
    def max_addends(self) -> int:
        return self._max_addends

    @property
    def max_abs(self) -> float:
        """The largest magnitude a value may have when encrypted."""
        return self._max_abs

    @property
    def depth(self) -> int:
        """Multiplicative levels a fresh ciphertext allows."""
        return self._depth

    @property
    @abstractmethod
    def slot_count(self) -> int:
        """Values per ciphertext chunk."""

    @abstractmethod
    def error_bound(self, addends: int | None = None) -> float:
        """Largest absolute error per value of a decrypted sum of ``addends`` fresh vectors."""

    def public_bytes(self) -> bytes:
        return self._key_blob("public")

    def secret_bytes(self) -> bytes:
        self._require_secret("export the secret key")
        return self._key_blob("secret")

    def encrypt(self, vector: np.ndarray) -> list[bytes]:
        return self.encrypt_vector(vector).to_chunks()

    def encrypt_vector(self, vector: np.ndarray) -> EncryptedVector:
        """The encrypted (size,) vector, chunked by ``slot_count``, with a full depth budget."""
        self._require_secret("encrypt")
        values = self._checked(vector)
        step = self.slot_count
        with opaque("encryption"):
            chunks = [self._encrypt_chunk(values[i : i + step]) for i in range(0, values.size, step)]
        return EncryptedVector(self, chunks, self._fresh_meta(values.size), DepthBudget(self._depth))

    def open(self, chunks: Sequence[bytes]) -> EncryptedVector:
        """The ``EncryptedVector`` held by ``chunks`` (public key material suffices)."""
        meta, bodies = self._headers(chunks)
        with opaque("ciphertext loading"):
            vectors = [self._load_chunk(body) for body in bodies]
            sizes = [v.size() for v in vectors]
        step = self.slot_count
        if sizes != [min(step, meta.size - i) for i in range(0, meta.size, step)]:
            raise HEError("ciphertext chunks do not match the vector length in their headers")
        self._check_loaded(vectors, meta)
        return EncryptedVector(self, vectors, meta, DepthBudget(self._depth, meta.levels_used))

    def add(self, vectors: Sequence[Sequence[bytes]]) -> list[bytes]:
        if not vectors:
            raise HEError("add needs at least one encrypted vector")
        metas = [self._headers(v)[0] for v in vectors]  # headers only: refuse before loading
        total = sum(m.addends for m in metas)
        if total > self._max_addends:
            raise HEError(f"the sum would hold {total} vectors but these keys allow at most {self._max_addends}")
        if len({(m.size, m.levels_used) for m in metas}) != 1:
            raise HEError("add needs vectors of one length and level (chunk counts differ)")
        result = self.open(vectors[0])
        for chunks in vectors[1:]:
            result = result.add(self.open(chunks))  # one vector loaded at a time
        return result.to_chunks()

    def decrypt(self, chunks: Sequence[bytes], size: int) -> np.ndarray:
        self._require_secret("decrypt")
        vector = self.open(chunks)
        if vector.size != size:
            raise HEError(f"the ciphertext holds {vector.size} values, not {size}")
        return self.decrypt_vector(vector)

    def decrypt_vector(self, vector: EncryptedVector) -> np.ndarray:
        """float64 (size,): the plaintext of ``vector``; HEError without the secret key."""
        self._require_secret("decrypt")
        if vector.meta.fingerprint != self._fingerprint:
            raise HEError("ciphertext made under another key")
        with opaque("decryption"):
            parts = [np.asarray(c.decrypt(), dtype=np.float64) for c in vector.chunks]
        return self._decode(np.concatenate(parts), vector.meta)

    # EncryptedVector's arithmetic (VectorBackend)

    def _add_chunks(self, a: EncryptedVector, b: EncryptedVector) -> tuple[list[Any], ChunkMeta]:
        meta = self._sum_meta(a.meta, b.meta)
        with opaque("addition"):
            return [x + y for x, y in zip(a.chunks, b.chunks, strict=True)], meta

    def _mul_plain_chunks(
        self, a: EncryptedVector, factor: np.ndarray, levels_used: int
    ) -> tuple[list[Any], ChunkMeta]:
        meta = self._mul_plain_meta(a.meta, factor, levels_used)
        step = self.slot_count
        with opaque("plaintext multiplication"):
            chunks = [c.mul(self._plain(factor[i * step : (i + 1) * step])) for i, c in enumerate(a.chunks)]
        return chunks, meta

    def _mul_chunks(
        self, a: EncryptedVector, b: EncryptedVector, levels_used: int
    ) -> tuple[list[Any], ChunkMeta]:
        meta = self._mul_meta(a.meta, b.meta, levels_used)
        with opaque("multiplication"):
            return [x * y for x, y in zip(a.chunks, b.chunks, strict=True)], meta

    def _pack_chunks(self, a: EncryptedVector) -> list[bytes]:
        with opaque("ciphertext serialization"):
            bodies = [c.serialize() for c in a.chunks]
        return [pack_chunk(a.meta, i, len(bodies), body) for i, body in enumerate(bodies)]

    def _noise_budget(self, a: EncryptedVector) -> int | None:
        return None

    # helpers and subclass hooks

    def _key_blob(self, kind: str) -> bytes:
        with opaque("key serialization"):
            context = self._context.serialize(
                save_public_key=False,  # symmetric keys: there is none
                save_secret_key=kind == "secret",
                save_galois_keys=False,  # no rotations are ever needed
                save_relin_keys=self._depth > 0,  # only ciphertext products relinearize
            )
        return pack_key(self.name, {**self._params, "kind": kind}, context)

    def _require_secret(self, operation: str) -> None:
        if not self._can_decrypt:
            raise HEError(f"cannot {operation}: this key material holds no secret key")

    def _checked(self, vector: np.ndarray) -> np.ndarray:
        try:
            values = np.asarray(vector, dtype=np.float64)
        except (TypeError, ValueError):
            raise HEError("encrypt takes a 1-D float vector") from None
        if values.ndim != 1 or values.size == 0:
            raise HEError("encrypt takes a non-empty 1-D float vector")
        if not np.all(np.isfinite(values)):
            raise HEError("cannot encrypt NaN or infinite values")
        peak = float(np.max(np.abs(values)))
        if peak > self._max_abs:
            raise HEError(
                f"a value of magnitude {peak:.6g} exceeds max_abs={self._max_abs:g}, the bound "
                "these keys were sized for; generate keys with a larger max_abs"
            )
        return values

    def _headers(self, chunks: Sequence[bytes]) -> tuple[ChunkMeta, list[bytes]]:
        if isinstance(chunks, bytes | bytearray) or not chunks:
            raise HEError("an encrypted vector is a non-empty list of chunks")
        parsed = [unpack_chunk(c) for c in chunks]
        meta = parsed[0][0]
        if meta.fingerprint != self._fingerprint:
            raise HEError("ciphertext made under another key")
        count = -(-meta.size // self.slot_count)
        for i, (other, index, total, _) in enumerate(parsed):
            if other != meta or index != i or total != len(parsed) or total != count:
                raise HEError("inconsistent ciphertext chunks (count, order or headers differ)")
        if not 1 <= meta.addends <= self._max_addends or not 0 <= meta.levels_used <= self._depth:
            raise HEError("ciphertext chunk headers out of range for these keys")
        return meta, [p[3] for p in parsed]

    @abstractmethod
    def _encrypt_chunk(self, values: np.ndarray) -> Any: ...

    @abstractmethod
    def _load_chunk(self, body: bytes) -> Any: ...

    def _check_loaded(self, vectors: list[Any], meta: ChunkMeta) -> None:
        """Subclass check that loaded ciphertexts agree with their header."""

    @abstractmethod
    def _fresh_meta(self, size: int) -> ChunkMeta: ...

    @abstractmethod
    def _decode(self, values: np.ndarray, meta: ChunkMeta) -> np.ndarray: ...

    @abstractmethod
    def _sum_meta(self, a: ChunkMeta, b: ChunkMeta) -> ChunkMeta: ...

    @abstractmethod
    def _mul_plain_meta(self, meta: ChunkMeta, factor: np.ndarray, levels_used: int) -> ChunkMeta: ...

    @abstractmethod
    def _mul_meta(self, a: ChunkMeta, b: ChunkMeta, levels_used: int) -> ChunkMeta: ...

    @abstractmethod
    def _plain(self, factor: np.ndarray) -> Any: ...
