"""Homomorphically encrypted FedAvg (standard 5.4.3.4-1): the aggregator adds ciphertexts.

Each hospital encrypts ``[w * params..., w]`` (w = its sample count, float entries in
key order) under the study's shared key; the aggregator, holding the public key only,
adds the ciphertexts; a hospital decrypts the sum and divides by the summed weight.
The aggregator therefore never sees an update, a sample count, or the global model:
after the first round the global model exists only as ciphertext (``sealed/…`` arrays
of bytes), and only a key holder (hospital or result party) can open it.

What the aggregator cannot do under encryption is look inside an update: NaN/Inf and
shape checks move to the node, which refuses to seal a non-finite vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfed.aggregation.strategy import Arrays
from medfed.errors import HEError, ModelError, UpdateRejectedError
from medfed.privacy.he import VectorScheme

SEALED_PREFIX = "sealed/"


def _float_keys(params: Arrays) -> list[str]:
    return sorted(k for k, v in params.items() if np.issubdtype(v.dtype, np.floating))


def is_sealed(params: Arrays) -> bool:
    """True when ``params`` is an encrypted model or update rather than plaintext tensors."""
    return bool(params) and all(k.startswith(SEALED_PREFIX) for k in params)


def seal(scheme: VectorScheme, vector: np.ndarray) -> Arrays:
    """The ciphertext chunks of ``vector`` as uint8 arrays, ready for the wire."""
    if not np.all(np.isfinite(vector)):
        raise ModelError("refusing to encrypt an update holding NaN/Inf values")
    chunks = scheme.encrypt(np.asarray(vector, dtype=np.float64))
    return {f"{SEALED_PREFIX}{i:05d}": np.frombuffer(c, dtype=np.uint8) for i, c in enumerate(chunks)}


def chunks_of(params: Arrays) -> list[bytes]:
    """The ciphertext chunks in order; UpdateRejectedError if ``params`` is not sealed."""
    if not is_sealed(params):
        raise UpdateRejectedError("an encrypted study needs an encrypted update, not plaintext tensors")
    keys = sorted(params)
    if keys != [f"{SEALED_PREFIX}{i:05d}" for i in range(len(keys))]:
        raise UpdateRejectedError("encrypted update chunks are not numbered 0..n-1")
    for key in keys:
        if params[key].dtype != np.uint8 or params[key].ndim != 1:
            raise UpdateRejectedError(f"encrypted chunk {key!r} must be a 1-D uint8 array")
    return [params[k].tobytes() for k in keys]


def sealed_sum(scheme: VectorScheme, updates: Sequence[Arrays]) -> Arrays:
    """The encrypted sum of sealed updates (public key only)."""
    lists = [chunks_of(u) for u in updates]
    total = scheme.add(lists)
    return {f"{SEALED_PREFIX}{i:05d}": np.frombuffer(c, dtype=np.uint8) for i, c in enumerate(total)}


def weighted_vector(params: Arrays, weight: int) -> np.ndarray:
    """float64 (D + 1,): every float entry times ``weight``, flattened in key order, then ``weight``."""
    parts = [params[k].astype(np.float64).ravel() * weight for k in _float_keys(params)]
    return np.concatenate(parts + [np.array([float(weight)])])


def vector_size(template: Arrays) -> int:
    return 1 + sum(int(template[k].size) for k in _float_keys(template))


def open_sealed(scheme: VectorScheme, sealed: Arrays, template: Arrays) -> Arrays:
    """Decrypt a sealed weighted sum into model parameters shaped like ``template``.

    Non-float entries (e.g. BatchNorm step counters) are not aggregated: they come
    from ``template``.
    """
    if not scheme.can_decrypt:
        raise HEError("this party holds no secret key: it cannot open the encrypted model")
    size = vector_size(template)
    total = scheme.decrypt(chunks_of(sealed), size)
    weight = float(total[-1])
    if not weight >= 0.5:
        raise HEError("the encrypted sum holds no samples: nothing to open")
    result = dict(template)
    offset = 0
    for key in _float_keys(template):
        base = template[key]
        result[key] = (total[offset : offset + base.size] / weight).reshape(base.shape).astype(base.dtype)
        offset += base.size
    return result
