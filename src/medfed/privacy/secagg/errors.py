"""The one error secure aggregation raises: a ``MedfedError`` with code ``"secagg"``."""

from __future__ import annotations

from medfed.errors import MedfedError


class SecAggError(MedfedError):
    """A secure-aggregation round cannot go on.

    Raised for an invalid configuration, a message out of order or malformed, an update
    outside the overflow bound, a share ciphertext that fails authentication, a request
    that would unmask an input, and a round with too few survivors (nothing is revealed).
    """

    code = "secagg"
