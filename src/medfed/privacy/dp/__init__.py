"""Differential-privacy mechanisms (T/SCGS 313007-2024, 5.4.3.3-1, -2 and -5).

Laplace and Gaussian noise calibrated to a query's sensitivity, the exponential mechanism
for discrete choices, and k-ary randomized response for local DP at a node. Noise comes
from :class:`SecureRandom` (the OS CSPRNG) unless a test passes :class:`SeededRandom`.
Pure: numpy and scipy only.
"""

from medfed.privacy.dp.mechanisms import (
    GaussianCalibration,
    exponential_mechanism,
    gaussian_mechanism,
    gaussian_sigma_analytic,
    gaussian_sigma_classic,
    laplace_mechanism,
)
from medfed.privacy.dp.randomized_response import (
    keep_probability,
    randomized_response,
    rr_unbiased_frequencies,
)
from medfed.privacy.dp.randomness import RandomSource, SecureRandom, SeededRandom

__all__ = [
    "GaussianCalibration",
    "RandomSource",
    "SecureRandom",
    "SeededRandom",
    "exponential_mechanism",
    "gaussian_mechanism",
    "gaussian_sigma_analytic",
    "gaussian_sigma_classic",
    "keep_probability",
    "laplace_mechanism",
    "randomized_response",
    "rr_unbiased_frequencies",
]
