"""CKKS: approximate arithmetic on encrypted float vectors (5.4.3.4-1, -3, -4).

Parameters, for the default ``max_addends=64``, ``max_abs=2**17`` and ``depth=0``:

* ring degree N = 4096 (2048 values per ciphertext), coefficient moduli of 60 + 49 bits
  = 109 bits, the 128-bit classical security limit for N = 4096 (SEAL enforces it);
* scale 2**35: a sum of 64 values of magnitude <= 2**17 stays below 2**23, half of what the
  60-bit ciphertext modulus decodes, so sums never wrap;
* SEAL symmetric encryption, one 60-bit modulus per ciphertext: 32 bytes per value
  (8x the 4 bytes of float32); the seed-compressed form SEAL offers is not reachable
  through TenSEAL.

Precision: ``error_bound(a)`` bounds the absolute error per value of a decrypted sum of
``a`` fresh vectors: a Hoeffding bound on SEAL's encryption noise (|e| <= 21 per
coefficient, exceeded with probability below 2**-64 per value) plus a floating-point
allowance for SEAL's FFT encoding and decoding. Defaults: about 1.1e-5 for 64 vectors.

``depth=d`` adds d primes of the scale's size, each allowing one multiplication (plaintext
or ciphertext, 5.4.3.4-3) and costing 32 more bytes per value of a fresh ciphertext; d >= 1
needs N = 8192 or more, and the public blob then carries relinearization keys (~700 KB at
N = 8192) so the aggregator can multiply ciphertexts. TenSEAL labels a rescaled ciphertext with the nominal scale
although the true scale differs by the dropped prime's ratio to 2**scale_bits; the headers
carry that ratio and decryption divides it out.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import replace
from typing import Any

import numpy as np
import tenseal as ts

from medfed.errors import HEError
from medfed.privacy.he._seal import (
    DEFAULT_MAX_ABS,
    DEFAULT_MAX_ADDENDS,
    MAX_BITS_128,
    NOISE_MAX,
    ChunkMeta,
    SealVectors,
    check_chain,
    check_options,
    fingerprint,
    load_vectors,
    opaque,
    ring_degree,
    seal_chain,
)

__all__ = ["CKKSVectors", "generate", "load"]

_Q0_BITS = 60  # the last modulus left after all rescales: it bounds every decrypted value
_MIN_SCALE_BITS = 20  # below this CKKS precision is worse than float16
# SEAL needs the scale below q0, and float64 decoding cannot use more than about 50 bits.
_MAX_SCALE_BITS = 50
# Fraction of q0/2 values may fill; the rest (2**49 units) dwarfs the largest summed noise
# (65535 addends * 32768 coefficients * 21.5 < 2**36 units).
_HEADROOM = 1 - 2.0**-10


def generate(
    *,
    max_addends: int = DEFAULT_MAX_ADDENDS,
    max_abs: float = DEFAULT_MAX_ABS,
    depth: int = 0,
    poly_modulus_degree: int | None = None,
) -> CKKSVectors:
    """A new CKKS key (secret instance) able to sum ``max_addends`` vectors of values of
    magnitude <= ``max_abs`` and to take ``depth`` multiplications.

    ``max_abs`` bounds every value a ciphertext may come to hold, products included;
    ``encrypt_vector(x, bound=...)`` declares a smaller bound for fresh values to leave
    room for products. ``poly_modulus_degree`` defaults to the smallest ring that holds the
    moduli at 128-bit security.
    """
    check_options(max_addends, max_abs, depth)
    scale_bits = _scale_bits(max_addends, max_abs)
    degree, bits = _moduli(depth, scale_bits, poly_modulus_degree)
    with opaque("key generation"):
        context = ts.context(
            ts.SCHEME_TYPE.CKKS,
            degree,
            coeff_mod_bit_sizes=bits,
            encryption_type=ts.ENCRYPTION_TYPE.SYMMETRIC,
        )
        context.global_scale = 2.0**scale_bits
        public = context.serialize(
            save_public_key=False, save_galois_keys=False, save_relin_keys=False
        )
    params = {
        "scheme": "ckks",
        "security_bits": 128,
        "poly_modulus_degree": degree,
        "coeff_mod_bit_sizes": bits,
        "scale_bits": scale_bits,
        "max_addends": max_addends,
        "max_abs": float(max_abs),
        "depth": depth,
        "fingerprint": fingerprint(secrets.token_bytes(16), public).hex(),
    }
    return CKKSVectors(context, params)


def load(blob: bytes) -> CKKSVectors:
    """The CKKS scheme whose public or secret key material ``blob`` holds."""
    return load_vectors("ckks", blob, CKKSVectors)


def _scale_bits(max_addends: int, max_abs: float) -> int:
    """The largest scale at which max_addends values of magnitude max_abs still decode."""
    room = 2.0 ** (_Q0_BITS - 1) * _HEADROOM / (max_addends * max_abs)
    scale_bits = min(_MAX_SCALE_BITS, math.floor(math.log2(room)))
    if scale_bits < _MIN_SCALE_BITS:
        raise HEError(
            f"max_addends x max_abs = {max_addends * max_abs:g} leaves a CKKS scale of "
            f"2**{scale_bits}, below 2**{_MIN_SCALE_BITS}; lower max_abs or max_addends"
        )
    return scale_bits


def _moduli(depth: int, scale_bits: int, degree: int | None) -> tuple[int, list[int]]:
    """(ring degree, coefficient-modulus bit sizes): q0, ``depth`` scale primes, special prime."""
    if depth == 0:
        # Additions only: one data prime; the special prime (never used, TenSEAL requires
        # key switching) takes what the 128-bit limit leaves, up to 60 bits.
        degree = degree or 4096
        special = min(60, MAX_BITS_128.get(degree, 0) - _Q0_BITS)
        if special < 40:
            raise HEError(f"poly_modulus_degree must be one of {sorted(MAX_BITS_128)}")
        return degree, [_Q0_BITS, special]
    bits = [_Q0_BITS] + [scale_bits] * depth + [60]
    smallest = ring_degree(sum(bits), minimum=8192)
    if degree is None:
        return smallest, bits
    if degree not in MAX_BITS_128 or degree < smallest:
        raise HEError(
            f"depth {depth} needs {sum(bits)} modulus bits: poly_modulus_degree >= {smallest} "
            "for 128-bit security"
        )
    return degree, bits


class CKKSVectors(SealVectors):
    """CKKS encryption of float64 vectors, chunked by N/2 slots (see the module docstring)."""

    name = "ckks"

    def __init__(self, context: Any, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self._degree = int(params["poly_modulus_degree"])
        self._scale_bits = int(params["scale_bits"])
        self._chain = seal_chain(self._degree, [int(b) for b in params["coeff_mod_bit_sizes"]])
        expected = _scale_bits(self._max_addends, self._max_abs)
        if len(self._chain) != self._depth + 2 or self._scale_bits != expected:
            raise HEError("malformed ckks key material")
        check_chain(context, self._chain)
        with opaque("key loading"):
            context.global_scale = 2.0**self._scale_bits
        # Largest |plaintext coefficient| q0 decodes without wrapping, less room for noise.
        self._capacity = self._chain[0] / 2 * _HEADROOM

    @property
    def slot_count(self) -> int:
        return self._degree // 2

    def error_bound(self, addends: int | None = None) -> float:
        """Absolute error per value of a decrypted sum of ``addends`` (default max_addends)
        fresh vectors, exceeded with probability below 2**-64 per value."""
        a = self._max_addends if addends is None else addends
        n = self._degree
        noise = NOISE_MAX * math.sqrt(2 * a * n * 65 * math.log(2)) / 2.0**self._scale_bits
        # FFT round-off: about log2(N) ulps of the slot vector's 2-norm, for encode and decode.
        fft = 8 * math.log2(n) * 2.0**-52 * math.sqrt(n / 2) * a * self._max_abs
        return noise + fft

    def _encrypt_chunk(self, values: np.ndarray) -> Any:
        return ts.ckks_vector(self._context, values.tolist())

    def _load_chunk(self, body: bytes) -> Any:
        return ts.ckks_vector_from(self._context, body)

    def _check_loaded(self, vectors: list[Any], meta: ChunkMeta) -> None:
        # Each rescale drops one prime: the header's level must match the ciphertext's.
        limbs = self._depth + 1 - meta.levels_used
        with opaque("ciphertext loading"):
            found = {ct.coeff_modulus_size() for v in vectors for ct in v.data.ciphertext()}
        if found != {limbs}:
            raise HEError("ciphertext level does not match its header")

    def _fresh_meta(self, size: int, bound: float) -> ChunkMeta:
        return ChunkMeta(self._fingerprint, size, 1, 0, 0, 1.0, bound)

    def _decode(self, values: np.ndarray, meta: ChunkMeta) -> np.ndarray:
        return values[: meta.size] / meta.scale_ratio

    def _sum_meta(self, a: ChunkMeta, b: ChunkMeta) -> ChunkMeta:
        if a.scale_ratio != b.scale_ratio:
            raise HEError("add needs operands multiplied alike (their CKKS scales differ)")
        return self._fit("add", replace(a, addends=a.addends + b.addends, bound=a.bound + b.bound))

    def _mul_plain_meta(self, meta: ChunkMeta, factor: np.ndarray, levels_used: int) -> ChunkMeta:
        ratio = meta.scale_ratio * self._rescale_ratio(levels_used)
        bound = meta.bound * float(np.max(np.abs(factor)))
        return self._fit(
            "mul_plain", replace(meta, levels_used=levels_used, scale_ratio=ratio, bound=bound)
        )

    def _mul_meta(self, a: ChunkMeta, b: ChunkMeta, levels_used: int) -> ChunkMeta:
        return self._fit(
            "mul",
            replace(
                a,
                addends=max(a.addends, b.addends),
                levels_used=levels_used,
                scale_ratio=a.scale_ratio * b.scale_ratio * self._rescale_ratio(levels_used),
                bound=a.bound * b.bound,
            ),
        )

    def _plain(self, factor: np.ndarray) -> Any:
        # A constant factor is encoded as a scalar: one plaintext, no per-slot list.
        return float(factor[0]) if np.all(factor == factor[0]) else factor.tolist()

    def _rescale_ratio(self, levels_used: int) -> float:
        # The k-th multiplication drops the k-th prime from the top of the data chain.
        return 2.0**self._scale_bits / self._chain[self._depth + 1 - levels_used]

    def _fit(self, operation: str, meta: ChunkMeta) -> ChunkMeta:
        if meta.bound * 2.0**self._scale_bits * meta.scale_ratio > self._capacity:
            raise HEError(
                f"{operation} could reach magnitude {meta.bound:.6g}, more than these CKKS "
                f"parameters decode (about {self._capacity / 2.0**self._scale_bits:.6g})"
            )
        return meta
