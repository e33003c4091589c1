"""What the two SEAL-backed schemes (CKKS, BFV) share: key blobs, primes, the chunking base.

Key blob: ``b"medfed-he/<name>/v1\\n"`` + one line of JSON (the parameters, the key
fingerprint and whether the blob is "public" or "secret") + ``b"\\n"`` + a serialized
TenSEAL context. A public blob holds no secret key, no Galois keys, and relinearization
keys only when the parameters allow ciphertext-ciphertext multiplication.

Chunk: the header of ``depth.pack_chunk`` + a serialized TenSEAL vector of up to
``slot_count`` values; a vector of any length takes as many chunks as it needs.

Security: every context uses SEAL's default 128-bit classical security level; SEAL itself
refuses a coefficient modulus above ``MAX_BITS_128`` for the ring degree.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import gmpy2
import numpy as np

from medfed.errors import HEError
from medfed.privacy.he.base import VectorScheme
from medfed.privacy.he.depth import (
    ChunkMeta,
    DepthBudget,
    EncryptedVector,
    pack_chunk,
    unpack_chunk,
)

# Largest total coefficient-modulus bits at 128-bit classical security (HomomorphicEncryption.org
# standard, the table SEAL enforces by default), per ring degree N.
MAX_BITS_128 = {4096: 109, 8192: 218, 16384: 438, 32768: 881}

# SEAL's fresh noise is below 21 per coefficient (centred binomial of variance 10.5; the older
# clipped normal stops at 6 * 3.2 = 19.2); encoding rounds by at most 1/2 more.
NOISE_MAX = 21.5

# Precision target the parameters are sized for when no option says otherwise.
DEFAULT_MAX_ADDENDS = 64
DEFAULT_MAX_ABS = 2.0**17  # 131072: covers sample-weighted parameters and sample counts (~1e5)


def check_options(max_addends: int, max_abs: float, depth: int) -> None:
    """HEError unless the key-size options are in range (headers count addends in 16 bits)."""
    if not (isinstance(max_addends, int) and 1 <= max_addends <= 65535):
        raise HEError(f"max_addends must be an integer in 1..65535, not {max_addends!r}")
    if not (isinstance(depth, int) and 0 <= depth <= 20):
        raise HEError(f"depth must be an integer in 0..20, not {depth!r}")
    if not (isinstance(max_abs, int | float) and math.isfinite(max_abs) and max_abs > 0):
        raise HEError(f"max_abs must be a finite positive number, not {max_abs!r}")


@contextmanager
def opaque(operation: str) -> Iterator[None]:
    """Turn any TenSEAL failure inside the block into one HEError that reveals nothing more."""
    try:
        yield
    except (ValueError, RuntimeError, TypeError, OverflowError):
        # One message per operation, no chaining: a detailed cause could serve as an oracle.
        raise HEError(
            f"homomorphic {operation} failed: malformed ciphertext or key material"
        ) from None


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


T = TypeVar("T")


def load_vectors(name: str, blob: bytes, build: Callable[[Any, dict[str, Any]], T]) -> T:
    """A scheme instance of ``name`` from key material: the context, then ``build(context, params)``."""
    import tenseal as ts  # only where a TenSEAL scheme is loaded

    params, body = unpack_key(name, blob)
    with opaque("key loading"):
        context = ts.context_from(body)
    try:
        return build(context, params)
    except (KeyError, TypeError, ValueError):
        raise HEError(f"malformed {name} key material") from None


def fingerprint(key_id: bytes, public_context: bytes) -> bytes:
    """8 bytes naming a key. A symmetric public context carries no key at all, so a random
    key id drawn at generation is hashed in: two keys with equal parameters still differ."""
    return hashlib.sha256(key_id + public_context).digest()[:8]


# --- primes: SEAL's choice of coefficient moduli, re-derived to know the rescaling primes ------


def primes_below(bits: int, step: int, count: int) -> list[int]:
    """The ``count`` largest primes p < 2**bits with p = 1 (mod step), largest first
    (SEAL's ``get_primes``; BFV batching wants step = 2N, RNS moduli too)."""
    found: list[int] = []
    value = (1 << bits) - step + 1
    while len(found) < count and value > 1 << (bits - 1):
        if gmpy2.is_prime(value, 40):  # 4**-40 error; check_chain confirms SEAL agrees
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
    raise HEError(
        f"a {total_bits}-bit coefficient modulus exceeds 128-bit security at any ring degree"
    )


# --- the shared scheme ----------------------------------------------------------------------


class SealVectors(VectorScheme):
    """Float vectors chunked over the ciphertexts of one symmetric-key TenSEAL context.

    Encryption is SEAL's symmetric (secret-key) mode: every encrypting hospital holds the
    secret key anyway; fresh noise is one error term instead of three (about 8x smaller);
    and the aggregator's public context holds neither a secret nor a public key, so it can
    add ciphertexts but can neither decrypt nor make fresh encryptions. Subclasses supply
    the encoding.
    """

    def __init__(self, context: Any, params: dict[str, Any]) -> None:
        self._context = context
        self._params = {k: v for k, v in params.items() if k != "kind"}
        self._fingerprint = bytes.fromhex(params["fingerprint"])
        if len(self._fingerprint) != 8:
            raise HEError(f"malformed {self.name} key material")
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

    def encrypt_vector(self, vector: np.ndarray, *, bound: float | None = None) -> EncryptedVector:
        """The encrypted (size,) vector, chunked by ``slot_count``, with a full depth budget.

        ``bound`` (<= max_abs) declares a tighter public bound on |values|, leaving room for
        plaintext multiplications; it must be agreed for the study, never taken from the
        data (the header carries it in the clear).
        """
        self._require_secret("encrypt")
        limit = self._max_abs if bound is None else float(bound)
        if not 0 < limit <= self._max_abs:
            raise HEError(f"bound must be in (0, max_abs={self._max_abs:g}], not {bound!r}")
        values = self._checked(vector, limit)
        step = self.slot_count
        with opaque("encryption"):
            chunks = [
                self._encrypt_chunk(values[i : i + step]) for i in range(0, values.size, step)
            ]
        meta = self._fresh_meta(values.size, limit)
        return EncryptedVector(self, chunks, meta, DepthBudget(self._depth))

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
            raise HEError(
                f"the sum would hold {total} vectors but these keys allow at most {self._max_addends}"
            )
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
            chunks = [
                c.mul(self._plain(factor[i * step : (i + 1) * step]))
                for i, c in enumerate(a.chunks)
            ]
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

    def _checked(self, vector: np.ndarray, limit: float) -> np.ndarray:
        try:
            values = np.asarray(vector, dtype=np.float64)
        except (TypeError, ValueError):
            raise HEError("encrypt takes a 1-D float vector") from None
        if values.ndim != 1 or values.size == 0:
            raise HEError("encrypt takes a non-empty 1-D float vector")
        if not np.all(np.isfinite(values)):
            raise HEError("cannot encrypt NaN or infinite values")
        peak = float(np.max(np.abs(values)))
        if peak > limit:
            raise HEError(
                f"a value of magnitude {peak:.6g} exceeds the bound {limit:g} (max_abs="
                f"{self._max_abs:g} is what these keys were sized for)"
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
    def _fresh_meta(self, size: int, bound: float) -> ChunkMeta: ...

    @abstractmethod
    def _decode(self, values: np.ndarray, meta: ChunkMeta) -> np.ndarray: ...

    @abstractmethod
    def _sum_meta(self, a: ChunkMeta, b: ChunkMeta) -> ChunkMeta: ...

    @abstractmethod
    def _mul_plain_meta(
        self, meta: ChunkMeta, factor: np.ndarray, levels_used: int
    ) -> ChunkMeta: ...

    @abstractmethod
    def _mul_meta(self, a: ChunkMeta, b: ChunkMeta, levels_used: int) -> ChunkMeta: ...

    @abstractmethod
    def _plain(self, factor: np.ndarray) -> Any: ...
