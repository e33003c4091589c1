"""BFV: exact integer arithmetic on encrypted fixed-point vectors (5.4.3.4-1, -3, -4).

A float x is sent as the integer round(x * 2**frac_bits) in one of N batching slots modulo a
prime plain modulus t; sums are exact, so the only error is that rounding.

Parameters, for the default ``max_addends=64``, ``max_abs=2**17`` and ``depth=0``:

* ring degree N = 4096 (4096 values per ciphertext), coefficient moduli of 60 + 49 bits
  = 109 bits, the 128-bit classical security limit for N = 4096 (SEAL enforces it);
* plain modulus t: the largest prime below 2**46 with t = 1 (mod 2N) that is not a
  coefficient modulus. Decryption is exact while t times the summed noise stays below
  q0 / 2; fresh symmetric noise is at most 21.5 per coefficient and q0 > 2**59, so 64
  addends need t < 2**59 / (43 * 64) ~ 2**47.6; one bit is kept spare;
* frac_bits = 21: 64 values of magnitude <= 2**17 sum to < 2**44 < (t - 1) / 2. Every
  encryption and every operation checks this overflow bound before it runs;
* 16 bytes per value (4x float32): one 60-bit modulus per ciphertext and N slots, twice
  CKKS's density.

Precision: ``error_bound(a)`` = a * 2**-(frac_bits + 1), the fixed-point rounding of a
summed vectors (about 1.5e-5 for 64); nothing else is lost.

``depth=d`` adds d 60-bit primes (N >= 8192); each absorbs one multiplication's noise
growth (50-58 bits measured at t ~ 2**46). ``EncryptedVector.noise_budget_bits`` reports
SEAL's own measurement of what is left to a holder of the secret key. Plaintext factors
must be integers (a fixed-point factor would double frac_bits and overflow t); a
ciphertext product adds its operands' frac_bits, so it suits integer data (frac_bits=0).
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
    primes_below,
    ring_degree,
    seal_chain,
)
from medfed.privacy.he.depth import EncryptedVector

__all__ = ["BFVVectors", "generate", "load"]

_PRIME_BITS = 60  # every data prime; q0 > 2**59 bounds the noise of additions
_MIN_FRAC_BITS = 10  # coarser fixed point than 1e-3 would change FedAvg results


def generate(
    *,
    max_addends: int = DEFAULT_MAX_ADDENDS,
    max_abs: float = DEFAULT_MAX_ABS,
    depth: int = 0,
    poly_modulus_degree: int | None = None,
    frac_bits: int | None = None,
) -> BFVVectors:
    """A new BFV key (secret instance) able to sum ``max_addends`` vectors of values of
    magnitude <= ``max_abs`` and to take ``depth`` multiplications.

    ``max_abs`` bounds every value a ciphertext may come to hold, products included;
    ``encrypt_vector(x, bound=...)`` declares a smaller bound for fresh values to leave
    room for products. ``frac_bits`` defaults to the most the plain modulus allows; fewer
    (0 for integer data) leave room for ciphertext products, which add their operands'
    fraction bits.
    """
    check_options(max_addends, max_abs, depth)
    degree, bits = _moduli(depth, poly_modulus_degree)
    t_bits = math.floor(math.log2(2.0 ** (_PRIME_BITS - 1) / (2 * NOISE_MAX * max_addends))) - 1
    if t_bits < 20:
        raise HEError(f"max_addends={max_addends} leaves no room for a BFV plain modulus")
    # t must differ from every coefficient modulus (SEAL needs them coprime).
    chain = seal_chain(degree, bits)
    plain = next(p for p in primes_below(t_bits, 2 * degree, len(chain) + 1) if p not in chain)
    most = _max_frac_bits(plain, max_addends, max_abs)
    frac_bits = _choose_frac_bits(frac_bits, most, max_addends, max_abs)
    with opaque("key generation"):
        context = ts.context(
            ts.SCHEME_TYPE.BFV,
            degree,
            plain_modulus=plain,
            coeff_mod_bit_sizes=bits,
            encryption_type=ts.ENCRYPTION_TYPE.SYMMETRIC,
        )
        public = context.serialize(
            save_public_key=False, save_galois_keys=False, save_relin_keys=False
        )
    params = {
        "scheme": "bfv",
        "security_bits": 128,
        "poly_modulus_degree": degree,
        "coeff_mod_bit_sizes": bits,
        "plain_modulus": plain,
        "frac_bits": frac_bits,
        "max_addends": max_addends,
        "max_abs": float(max_abs),
        "depth": depth,
        "fingerprint": fingerprint(secrets.token_bytes(16), public).hex(),
    }
    return BFVVectors(context, params)


def load(blob: bytes) -> BFVVectors:
    """The BFV scheme whose public or secret key material ``blob`` holds."""
    return load_vectors("bfv", blob, BFVVectors)


def _moduli(depth: int, degree: int | None) -> tuple[int, list[int]]:
    """(ring degree, coefficient-modulus bit sizes): 1 + depth data primes, then the special one."""
    if depth == 0:
        degree = degree or 4096
        special = min(60, MAX_BITS_128.get(degree, 0) - _PRIME_BITS)
        if special < 40:
            raise HEError(f"poly_modulus_degree must be one of {sorted(MAX_BITS_128)}")
        return degree, [_PRIME_BITS, special]
    bits = [_PRIME_BITS] * (depth + 2)
    smallest = ring_degree(sum(bits), minimum=8192)
    if degree is None:
        return smallest, bits
    if degree not in MAX_BITS_128 or degree < smallest:
        raise HEError(
            f"depth {depth} needs {sum(bits)} modulus bits: poly_modulus_degree >= {smallest} "
            "for 128-bit security"
        )
    return degree, bits


def _max_frac_bits(plain: int, max_addends: int, max_abs: float) -> int:
    """Most fraction bits f with max_addends * (max_abs * 2**f + 1) <= (t - 1) / 2 (may be < 0)."""
    room = ((plain - 1) // 2 // max_addends - 1) / max_abs
    return math.floor(math.log2(room)) if room >= 1 else -1


def _choose_frac_bits(frac_bits: int | None, most: int, max_addends: int, max_abs: float) -> int:
    if frac_bits is None:
        if most < _MIN_FRAC_BITS:
            raise HEError(
                f"max_addends x max_abs = {max_addends * max_abs:g} leaves {most} BFV fraction "
                f"bits, below {_MIN_FRAC_BITS}; lower max_abs or max_addends, or use CKKS"
            )
        return most
    if not (isinstance(frac_bits, int) and 0 <= frac_bits <= most):
        raise HEError(
            f"frac_bits must be an integer in 0..{most} for these bounds, not {frac_bits!r}"
        )
    return frac_bits


class BFVVectors(SealVectors):
    """BFV encryption of fixed-point float64 vectors, chunked by N slots (see the module docstring)."""

    name = "bfv"

    def __init__(self, context: Any, params: dict[str, Any]) -> None:
        super().__init__(context, params)
        self._degree = int(params["poly_modulus_degree"])
        self._t = int(params["plain_modulus"])
        self._frac = int(params["frac_bits"])
        chain = seal_chain(self._degree, [int(b) for b in params["coeff_mod_bit_sizes"]])
        most = _max_frac_bits(self._t, self._max_addends, self._max_abs)
        if len(chain) != self._depth + 2 or not 0 <= self._frac <= most:
            raise HEError("malformed bfv key material")
        check_chain(context, chain)
        with opaque("key loading"):
            threshold = (
                context.seal_context().data.first_context_data().plain_upper_half_threshold()
            )
        if threshold != (self._t + 1) // 2:
            raise HEError("malformed bfv key material")
        self._half = (self._t - 1) // 2  # largest |integer| a slot holds without wrapping

    @property
    def slot_count(self) -> int:
        return self._degree

    @property
    def frac_bits(self) -> int:
        """Fixed-point fraction bits of a fresh ciphertext."""
        return self._frac

    def error_bound(self, addends: int | None = None) -> float:
        """Absolute error per value of a decrypted sum of ``addends`` (default max_addends)
        fresh vectors: their fixed-point rounding, exactly bounded."""
        a = self._max_addends if addends is None else addends
        return a * 2.0 ** -(self._frac + 1)

    def _encrypt_chunk(self, values: np.ndarray) -> Any:
        return ts.bfv_vector(
            self._context, np.rint(values * 2.0**self._frac).astype(np.int64).tolist()
        )

    def _load_chunk(self, body: bytes) -> Any:
        return ts.bfv_vector_from(self._context, body)

    def _fresh_meta(self, size: int, bound: float) -> ChunkMeta:
        # Integer units: rounding adds at most 1/2 to bound * 2**frac_bits.
        units = math.floor(bound * 2.0**self._frac) + 1
        return ChunkMeta(self._fingerprint, size, 1, 0, self._frac, 1.0, float(units))

    def _decode(self, values: np.ndarray, meta: ChunkMeta) -> np.ndarray:
        return values[: meta.size] / 2.0**meta.frac_bits

    def _sum_meta(self, a: ChunkMeta, b: ChunkMeta) -> ChunkMeta:
        if a.frac_bits != b.frac_bits:
            raise HEError("add needs operands multiplied alike (their fixed-point scales differ)")
        return self._fit("add", replace(a, addends=a.addends + b.addends, bound=a.bound + b.bound))

    def _mul_plain_meta(self, meta: ChunkMeta, factor: np.ndarray, levels_used: int) -> ChunkMeta:
        if not np.all(factor == np.rint(factor)):
            raise HEError(
                "BFV multiplies by integer factors only (e.g. sample counts); use CKKS for fractions"
            )
        bound = meta.bound * float(np.max(np.abs(factor)))
        return self._fit("mul_plain", replace(meta, levels_used=levels_used, bound=bound))

    def _mul_meta(self, a: ChunkMeta, b: ChunkMeta, levels_used: int) -> ChunkMeta:
        return self._fit(
            "mul",
            replace(
                a,
                addends=max(a.addends, b.addends),
                levels_used=levels_used,
                frac_bits=a.frac_bits + b.frac_bits,
                bound=a.bound * b.bound,
            ),
        )

    def _plain(self, factor: np.ndarray) -> Any:
        # A constant factor is a constant polynomial: noise grows by |k|, not by N * t. SEAL
        # refuses a scalar 0 (its product would be a transparent ciphertext); a list is fine.
        ints = np.rint(factor).astype(np.int64)
        return int(ints[0]) if ints[0] != 0 and np.all(ints == ints[0]) else ints.tolist()

    def _noise_budget(self, a: EncryptedVector) -> int | None:
        if not self._can_decrypt:
            return None
        with opaque("noise measurement"):
            decryptor = self._context.data.decryptor()
            return min(
                decryptor.invariant_noise_budget(ct) for v in a.chunks for ct in v.data.ciphertext()
            )

    def _fit(self, operation: str, meta: ChunkMeta) -> ChunkMeta:
        if meta.bound > self._half or meta.frac_bits > 255:
            raise HEError(
                f"{operation} could overflow the BFV plain modulus: values up to "
                f"{meta.bound / 2.0**meta.frac_bits:.6g} at {meta.frac_bits} fraction bits "
                f"exceed {self._half / 2.0**meta.frac_bits:.6g}"
            )
        return meta
