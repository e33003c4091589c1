"""What the service serves: a model that turns image bytes into a prediction.

The service depends only on :class:`ServedModel`; :func:`load_bundle_model` adapts a
signed bundle of the edge SDK (``medfed_runtime``), so the cloud service and an edge
device run the very same pre-processing and graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from medfed.deployment.serve.errors import (
    ImageTooLargeError,
    ServiceConfigError,
    UnsupportedImageError,
)


@dataclass(frozen=True)
class ServedPrediction:
    """The predicted class (``index`` into the class names, ``label``) and every class's probability."""

    index: int
    label: str
    probabilities: dict[str, float]


class ServedModel(Protocol):
    """A loaded model the service can call from several threads at once."""

    @property
    def card(self) -> Mapping[str, Any]:
        """The model card: study, version, metrics, class names, shapes."""
        ...

    def predict(self, image: bytes) -> ServedPrediction:
        """Predict from PNG/JPEG/DICOM bytes; :class:`UnsupportedImageError` if unreadable,
        :class:`ImageTooLargeError` if it declares too many pixels."""
        ...

    def warm_up(self) -> None:
        """Run one prediction so the first request does not pay for lazy initialisation."""
        ...


def model_version(card: Mapping[str, Any]) -> str:
    """The version a model card states (``version`` or ``model_version``), else ``unknown``."""
    for key in ("version", "model_version"):
        value = card.get(key)
        if isinstance(value, str | int | float) and str(value):
            return str(value)
    return "unknown"


def model_study(card: Mapping[str, Any]) -> str:
    for key in ("study_id", "study"):
        value = card.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            return str(value["id"])
    return "unknown"


class _BundleModel:
    """A ``medfed_runtime`` bundle seen as a :class:`ServedModel`."""

    def __init__(
        self, bundle: Any, image_error: type[Exception], too_large: type[Exception]
    ) -> None:
        self._bundle = bundle
        self._image_error = image_error
        self._too_large = too_large
        self._card: Mapping[str, Any] = dict(bundle.descriptor)

    @property
    def card(self) -> Mapping[str, Any]:
        return self._card

    def predict(self, image: bytes) -> ServedPrediction:
        try:
            result = self._bundle.predict(image)
        except self._too_large as exc:
            raise ImageTooLargeError(str(exc)) from None
        except self._image_error as exc:
            raise UnsupportedImageError(str(exc)) from None
        return ServedPrediction(
            index=int(result.index),
            label=str(result.label),
            probabilities={str(k): float(v) for k, v in result.probabilities.items()},
        )

    def warm_up(self) -> None:
        self._bundle.predict(self._blank_image())

    def _blank_image(self) -> Any:
        import numpy as np

        return np.zeros(_input_hw(self._card), dtype=np.uint8)


def _input_hw(card: Mapping[str, Any]) -> tuple[int, int]:
    """Height and width of the model's input image, from the card (28×28 if it says nothing)."""
    pre = card.get("preprocessing")
    if (
        isinstance(pre, Mapping)
        and isinstance(pre.get("height"), int)
        and isinstance(pre.get("width"), int)
    ):
        return int(pre["height"]), int(pre["width"])
    model_input = card.get("input")
    shape = model_input.get("shape") if isinstance(model_input, Mapping) else None
    if (
        isinstance(shape, list | tuple)
        and len(shape) >= 2
        and all(isinstance(v, int) for v in shape[-2:])
    ):
        return int(shape[-2]), int(shape[-1])
    return 28, 28


def load_bundle_model(path: Path, *, trusted_ca: Path) -> ServedModel:
    """Load and verify the signed bundle at ``path`` against ``trusted_ca``.

    A missing file, a bundle not signed by the study's result party, or a tampered one
    raises :class:`ServiceConfigError` with the reason: the service never starts on it.
    """
    try:
        import medfed_runtime
    except ImportError as exc:  # pragma: no cover - installed with medfed
        raise ServiceConfigError(
            f"the edge runtime medfed_runtime is not installed: {exc}"
        ) from None
    if not path.is_file():
        raise ServiceConfigError(f"bundle {path} does not exist")
    if not trusted_ca.is_file():
        raise ServiceConfigError(f"trusted CA {trusted_ca} does not exist")
    try:
        # One thread per prediction: concurrent requests spread over the cores instead.
        bundle = medfed_runtime.load_bundle(path, trusted_ca=trusted_ca, threads=1)
    except medfed_runtime.BundleError as exc:
        raise ServiceConfigError(f"refusing to serve {path}: {exc}") from None
    return _BundleModel(bundle, medfed_runtime.ImageError, medfed_runtime.ImageTooLargeError)
