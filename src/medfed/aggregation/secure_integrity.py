"""Integrity checks on secure-aggregation shares (standard 5.5.1.1e: detect a malicious party).

Shamir shares of one secret all lie on one polynomial of degree t − 1. When more than t
shares of a secret reach the aggregator, a wrong share shows itself: the polynomial through
any t honest shares misses it. With k shares, up to ⌊(k − t) / 2⌋ wrong ones can be named
and left out (the unique-decoding radius of the Reed–Solomon code the shares form); more
wrong shares than that are detected (no polynomial fits enough of them) but not attributed.
Exactly t shares cannot be checked at all: every set of t points fits some polynomial.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from medfed.privacy.secagg._shamir import PRIME

# Enough subsets to find an honest t-subset when few shares are wrong, bounded so a hostile
# round cannot make the aggregator search C(k, t) subsets.
MAX_SUBSETS = 2_000


@dataclass(frozen=True)
class ShareCheck:
    """The outcome for one secret: which holders' shares fit, and which do not."""

    consistent: tuple[int, ...]  # share points x that lie on the decoded polynomial
    faulty: tuple[int, ...]  # share points x that do not
    decided: bool  # False: too many disagree to tell honest from faulty (nobody is named)


def _evaluate(points: list[tuple[int, int]], x: int) -> int:
    """The value at ``x`` of the polynomial through ``points`` (Lagrange, mod PRIME)."""
    total = 0
    for i, (xi, yi) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if j != i:
                num = num * (x - xj) % PRIME
                den = den * (xi - xj) % PRIME
        total = (total + yi * num * pow(den, -1, PRIME)) % PRIME
    return total


def check_shares(shares: Mapping[int, int], threshold: int) -> ShareCheck:
    """Find the degree-(t − 1) polynomial most shares lie on; name the shares off it.

    ``shares`` maps share point x to value y. The answer is decided when at least
    ``k − ⌊(k − t) / 2⌋`` shares agree, which no second polynomial can also reach.
    """
    xs = sorted(shares)
    k = len(xs)
    if k <= threshold:
        return ShareCheck(tuple(xs), (), True)
    needed = k - (k - threshold) // 2
    best: tuple[int, ...] = ()
    for subset in itertools.islice(itertools.combinations(xs, threshold), MAX_SUBSETS):
        points = [(x, shares[x]) for x in subset]
        agree = tuple(x for x in xs if x in subset or _evaluate(points, x) == shares[x])
        if len(agree) > len(best):
            best = agree
        if len(agree) >= needed:
            return ShareCheck(agree, tuple(x for x in xs if x not in agree), True)
    # Too many disagree: the round cannot trust any reconstruction, and naming anyone would guess.
    return ShareCheck(best, (), False)


@dataclass(frozen=True)
class ShareFault:
    """A share holder whose share of ``owner``'s secret is off the polynomial."""

    holder: int  # node id of the share holder (share point x = holder + 1)
    owner: int  # node id whose secret the share belongs to
    secret: str  # "self-mask" or "mask key"


def find_share_faults(
    shares_by_owner: Mapping[tuple[int, str], Mapping[int, int]], threshold: int
) -> tuple[list[ShareFault], list[tuple[int, str]]]:
    """Faulty shares over all secrets of a round, and the secrets that could not be decided.

    ``shares_by_owner`` maps (owner id, secret kind) to {share point x: value}.
    """
    faults: list[ShareFault] = []
    undecided: list[tuple[int, str]] = []
    for (owner, kind), shares in sorted(shares_by_owner.items()):
        result = check_shares(shares, threshold)
        if not result.decided:
            undecided.append((owner, kind))
        faults += [ShareFault(holder=x - 1, owner=owner, secret=kind) for x in result.faulty]
    return faults, undecided
