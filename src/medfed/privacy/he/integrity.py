"""Well-formedness of one party's fresh ciphertexts, checked by the aggregator before adding.

The aggregator holds the public key only, so it cannot read an update; what it can check
is that the bytes are a ciphertext of the study's scheme, under the study's key, of the
study's vector size, and fresh (one addend, no levels used):

* Paillier: the chunk count is ⌈size / slots⌉, every chunk carries the study key's
  fingerprint, an addend count of 1 and a body of 2·|n|/8 bytes holding c with
  0 < c < n² and gcd(c, n) = 1;
* CKKS / BFV (TenSEAL): every chunk deserialises under the study context (SEAL refuses
  coefficients outside the coefficient modulus), headers agree (count, order, size, key),
  the scale / fixed-point parameters and the bound are those of a fresh encryption.

What no such check can catch: a well-formed ciphertext of a wrong plaintext (a random unit
mod n² is a valid Paillier ciphertext of a random message). That needs proofs of plaintext
knowledge and range, which these schemes do not carry; such a fault is bounded at
decryption instead (packed slots overflow into their headroom, CKKS values exceed the bound).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfed.errors import HEError
from medfed.privacy.he.base import VectorScheme


def check_fresh_update(scheme: VectorScheme, chunks: Sequence[bytes], size: int) -> None:
    """Raise HEError naming the defect unless ``chunks`` is a fresh encryption of ``size`` values."""
    if isinstance(chunks, bytes | bytearray) or not chunks:
        raise HEError("an encrypted update is a non-empty list of chunks")
    if any(not isinstance(c, bytes | bytearray) for c in chunks):
        raise HEError("every ciphertext chunk must be bytes")
    # Imported here: each scheme module pulls in its own library (gmpy2, TenSEAL).
    if scheme.name == "paillier":
        from medfed.privacy.he.paillier import PackedPaillier

        assert isinstance(scheme, PackedPaillier)
        expected = -(-size // scheme.slots)
        if len(chunks) != expected:
            raise HEError(f"{len(chunks)} ciphertext chunks; {size} values need {expected}")
        addends, _ = scheme._read(chunks, check_unit=True)  # length, range and unit checks
        if addends != 1:
            raise HEError(f"a fresh update must carry 1 addend, not {addends}")
        return
    from medfed.privacy.he._seal import SealVectors

    if not isinstance(scheme, SealVectors):
        raise HEError(f"no integrity check for scheme {scheme.name!r}")
    vector = scheme.open(chunks)  # deserialises every chunk under the study context
    meta = vector.meta
    fresh = scheme._fresh_meta(size, scheme.max_abs)
    if meta.size != size:
        raise HEError(f"the ciphertext holds {meta.size} values, not {size}")
    if meta.addends != 1 or meta.levels_used != 0:
        raise HEError(f"a fresh update must be 1 addend at level 0, not {meta.addends} at {meta.levels_used}")
    if (meta.frac_bits, meta.scale_ratio, meta.bound) != (fresh.frac_bits, fresh.scale_ratio, fresh.bound):
        raise HEError("ciphertext scale or bound differs from a fresh encryption under the study's parameters")


def header_bytes(scheme: VectorScheme, chunk: bytes) -> int:
    """Bytes of framing before the ciphertext body of ``chunk`` (what a fault injector keeps)."""
    if scheme.name == "paillier":
        from medfed.privacy.he._packing import _HEADER

        return _HEADER.size
    from medfed.privacy.he.depth import unpack_chunk

    return len(chunk) - len(unpack_chunk(chunk)[3])


def check_decrypted_sum(values: np.ndarray, *, addends: int, bound: float) -> None:
    """At a key holder: every value of a sum of ``addends`` vectors bounded by ``bound`` must
    itself be within ``addends · bound``. A random (well-formed) Paillier ciphertext decodes
    to values far outside in almost every packed slot, so its sum is refused here; which
    party sent it cannot be told from the sum."""
    limit = addends * bound
    outside = int(np.count_nonzero(~(np.abs(values) <= limit)))
    if outside:
        raise HEError(f"{outside} value(s) of the decrypted sum exceed {addends} × the encryption bound")
