"""What a bundle does on the test split: AUC/KS through the SDK itself, size, CPU latency."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from medfed.evaluation import Metrics, classification_metrics
from medfed_runtime import Bundle

_BATCH = 256


@dataclass(frozen=True)
class BundleScores:
    metrics: Metrics
    probabilities: np.ndarray  # (N, K) float64
    latency_ms: float  # median single-image predict() on CPU, pre/post-processing included


def bundle_probabilities(bundle: Bundle, images: np.ndarray) -> np.ndarray:
    """(N, K) probabilities of raw ``uint8`` images (N, H, W[, C]) through the SDK's own pipeline."""
    parts = [bundle.probabilities(bundle.preprocess(images[i : i + _BATCH])) for i in range(0, len(images), _BATCH)]
    return np.concatenate(parts)


def single_image_latency_ms(bundle: Bundle, image: np.ndarray, *, repeats: int = 100) -> float:
    """Median wall time of one ``predict`` on one image, after a warm-up."""
    for _ in range(10):
        bundle.predict(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        bundle.predict(image)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def score_bundle(bundle: Bundle, images: np.ndarray, labels: np.ndarray, *, latency_repeats: int = 100) -> BundleScores:
    proba = bundle_probabilities(bundle, images)
    return BundleScores(
        metrics=classification_metrics(labels, proba),
        probabilities=proba,
        latency_ms=single_image_latency_ms(bundle, images[0], repeats=latency_repeats),
    )
