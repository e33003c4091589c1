"""Privacy accounting (T/SCGS 313007-2024, 5.4.3.3-3 and -4): how much ε a hospital has spent.

One interface (:class:`Accountant`: ``step``, ``epsilon``, ``state_dict``), pure math
beneath it: Rényi DP of the subsampled Gaussian mechanism (agreeing with Opacus), a
Gaussian-DP approximation, and the inverse: the noise that meets a budget.
Pure: numpy and scipy only.
"""

from medfed.privacy.accounting.base import Accountant, Step
from medfed.privacy.accounting.calibrate import noise_for_epsilon
from medfed.privacy.accounting.gdp import GDPAccountant
from medfed.privacy.accounting.rdp import DEFAULT_ORDERS, RDPAccountant
from medfed.privacy.accounting.tight import TightAccountant

__all__ = [
    "Accountant",
    "DEFAULT_ORDERS",
    "GDPAccountant",
    "RDPAccountant",
    "Step",
    "TightAccountant",
    "noise_for_epsilon",
]
