"""Homomorphic encryption for aggregation: Paillier (packed), CKKS and BFV.

``generate_scheme`` makes a fresh key pair; ``load_scheme`` rebuilds a scheme from the
bytes of ``public_bytes()`` or ``secret_bytes()``. Every blob starts with
``b"medfed-he/<name>/v1\\n"`` so the loader knows which scheme it holds.
"""

from __future__ import annotations

from typing import Any

from medfed.privacy.he.base import HEError, VectorScheme

SCHEMES = ("paillier", "ckks", "bfv")


def _module(name: str) -> Any:
    # Imported on demand: TenSEAL is heavy and most studies never load it.
    if name == "paillier":
        from medfed.privacy.he import paillier

        return paillier
    if name == "ckks":
        from medfed.privacy.he import ckks

        return ckks
    if name == "bfv":
        from medfed.privacy.he import bfv

        return bfv
    raise HEError(f"unknown homomorphic scheme {name!r}; choose one of: {', '.join(SCHEMES)}")


def generate_scheme(name: str, **options: Any) -> VectorScheme:
    """A new key pair of scheme ``name`` (options: the scheme's key-size parameters)."""
    return _module(name).generate(**options)


def load_scheme(blob: bytes) -> VectorScheme:
    """The scheme whose public or secret key material ``blob`` holds."""
    head, sep, _ = blob.partition(b"\n")
    parts = head.split(b"/")
    if not sep or len(parts) != 3 or parts[0] != b"medfed-he":
        raise HEError("not medfed homomorphic key material")
    return _module(parts[1].decode("ascii", "replace")).load(blob)


__all__ = ["HEError", "SCHEMES", "VectorScheme", "generate_scheme", "load_scheme"]
