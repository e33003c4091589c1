"""Synthetic run summaries and test-set predictions for the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


def make_results(
    question: str = "Can three hospitals match a central pneumonia model?",
) -> dict[str, Any]:
    """A ``results.json``-shaped summary with distinctive figures to look for in the page."""
    clients = ("hospital-a", "hospital-b")
    rounds = [
        {
            "round": r,
            "seconds": 2.0 + r,
            "server": {"bytes_sent": 2_500_000 * r, "bytes_received": 2_400_000 * r},
            "clients": {
                name: {"bytes_sent": 1_200_000 * r, "bytes_received": 1_250_000 * r, "seconds": 1.5}
                for name in clients
            },
            "metrics": {
                "train_loss": 0.7 / r,
                "val_auc": 0.8 + 0.03 * r,
                "val_accuracy": 0.75 + 0.02 * r,
            },
        }
        for r in (1, 2, 3)
    ]
    return {
        "study": {"id": "pneumonia-2024", "question": question},
        "dataset": {
            "flag": "pneumoniamnist",
            "size": 5856,
            "n_classes": 2,
            "partition": "dirichlet",
            "alpha": 0.5,
            "hospitals": {
                "hospital-a": {"0": 12, "1": 300, "total": 312},
                "hospital-b": {"0": 777, "1": 41, "total": 818},
            },
        },
        "parties": [
            {"name": "coordinator", "role": "dispatcher"},
            {"name": "hospital-a", "role": "data provider"},
            {"name": "hospital-b", "role": "data provider"},
        ],
        "config": {"rounds": 3, "local_epochs": 1, "optimizer": {"name": "adam", "lr": 0.001}},
        "federated": {"auc": 0.9312, "ks": 0.7421, "accuracy": 0.8813, "seconds": 41.5},
        "centralized": {"auc": 0.9468, "ks": 0.7702, "accuracy": 0.8905, "seconds": 12.25},
        "delta": {"auc": 0.0156, "ks": 0.0281, "accuracy": 0.0092},
        "rounds": rounds,
        "wall_seconds": 63.0,
        "totals": {
            "server": {"bytes_sent": 15_000_000, "bytes_received": 14_400_000},
            "clients": {n: {"bytes_sent": 7_200_000, "bytes_received": 7_500_000} for n in clients},
        },
    }


def make_binary_curves(n: int = 200, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Two models' predictions on one test set; class-1 score rises with the label."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    curves = {}
    for label, noise in (("federated", 0.35), ("centralized", 0.25)):
        p1 = np.clip(0.3 + 0.4 * y + rng.normal(0, noise, size=n), 0.0, 1.0)
        curves[label] = (y, np.column_stack([1 - p1, p1]))
    return curves


@pytest.fixture
def results() -> dict[str, Any]:
    return make_results()


@pytest.fixture
def results_with_question() -> Callable[[str], dict[str, Any]]:
    """Factory: the summary with a given study question (fixtures, not imports, so that
    this conftest never has to be importable by module name)."""
    return make_results


@pytest.fixture
def binary_curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return make_binary_curves()


@pytest.fixture(scope="session")
def sample_page() -> str:
    """The report of the standard sample, rendered once (rendering takes about a second)."""
    from medfed.evaluation import render_report

    return render_report(make_results(), make_binary_curves())
