"""The public API of medfed.privacy.dp and .accounting, and their layer: no torch, no Opacus."""

from __future__ import annotations

import subprocess
import sys

import medfed.privacy.accounting
import medfed.privacy.dp


def test_exported_members() -> None:
    assert sorted(medfed.privacy.dp.__all__) == [
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
    assert sorted(medfed.privacy.accounting.__all__) == [
        "Accountant",
        "DEFAULT_ORDERS",
        "GDPAccountant",
        "RDPAccountant",
        "Step",
        "TightAccountant",
        "noise_for_epsilon",
    ]


def test_privacy_mechanisms_import_neither_torch_nor_opacus() -> None:
    code = (
        "import sys, medfed.privacy.dp, medfed.privacy.accounting; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'opacus', 'sklearn')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
