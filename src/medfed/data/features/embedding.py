"""CNN embeddings: the activations of one layer of a ``torch.nn.Module`` as features.

The network runs in eval mode without gradients, in fixed-size batches, so the same
weights and inputs give the same vector. uint8 images are scaled by 1/255; float images
are taken as already in [0, 1]. The signature includes the SHA-256 of the weights, so two
hospitals with different weights never pass the same-extractor check (5.3.2d).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from medfed.data.features.base import Extractor, FeatureSpec, FeatureType
from medfed.errors import ConfigError, DataError

__all__ = ["CnnEmbedding", "weights_digest"]


def weights_digest(model: nn.Module) -> str:
    """SHA-256 hex over every parameter and buffer: name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        array = value.detach().cpu().contiguous().numpy()
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class CnnEmbedding(Extractor):
    """Output of the submodule ``layer`` of ``model`` (e.g. ``"head.2"``, the ReLU after the
    128-unit dense layer of medfed's ``cnn2d``), flattened to (k,) per image.

    ``dims``: 2 for (H, W) images, 3 for (D, H, W) volumes; the channel axis is added here.
    ``probe_shape``: the image shape used once to find k (networks with adaptive pooling
    give the same k for any input size).
    """

    name = "cnn_embedding"
    version = 1

    def __init__(
        self,
        model: nn.Module,
        *,
        layer: str,
        model_name: str,
        dims: int = 2,
        batch_size: int = 64,
        probe_shape: tuple[int, ...] = (28, 28),
    ) -> None:
        modules = dict(model.named_modules())
        if layer not in modules:
            raise ConfigError(
                f"{model_name} has no layer {layer!r}; layers: {', '.join(k for k in modules if k)}"
            )
        if batch_size < 1 or dims not in (2, 3) or len(probe_shape) != dims:
            raise ConfigError(
                f"bad batch_size {batch_size}, dims {dims} or probe_shape {probe_shape}"
            )
        self._model = model.eval()
        self._layer = modules[layer]
        self._layer_name = layer
        self._model_name = model_name
        self._dims = dims
        self._batch_size = batch_size
        self._weights = weights_digest(model)
        self._size = int(self._forward(np.zeros((1, *probe_shape), np.float32)).shape[1])

    def params(self) -> dict[str, Any]:
        return {
            "model": self._model_name,
            "layer": self._layer_name,
            "weights_sha256": self._weights,
            "dims": self._dims,
            "batch_size": self._batch_size,
            "input": "uint8/255 or float [0, 1]",
        }

    def feature_set(self) -> tuple[FeatureSpec, ...]:
        return tuple(
            FeatureSpec(f"e{k:03d}", FeatureType.EMBEDDING, "", f"{self._layer_name} unit {k}")
            for k in range(self._size)
        )

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """float64 (N, k) activations of ``layer`` for images (N, *spatial)."""
        captured: list[torch.Tensor] = []
        hook = self._layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
        rows = []
        try:
            with torch.no_grad():
                for start in range(0, batch.shape[0], self._batch_size):
                    chunk = torch.from_numpy(batch[start : start + self._batch_size]).unsqueeze(1)
                    captured.clear()
                    self._model(chunk)
                    rows.append(captured[-1].flatten(1).double().numpy())
        finally:
            hook.remove()
        return np.concatenate(rows)

    @staticmethod
    def _as_float(image: np.ndarray) -> np.ndarray:
        if image.dtype == np.uint8:
            return image.astype(np.float32) / np.float32(255.0)
        return image.astype(np.float32)

    def _extract(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return self.extract_many([image])[0]

    def extract_many(
        self, images: Sequence[np.ndarray] | np.ndarray, masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """float64 (N, k); all images must share one shape. Masks are not used (the network
        sees the whole image), so passing them is an error rather than silently ignored."""
        if masks is not None:
            raise DataError("cnn_embedding does not use masks")
        if len(images) == 0:
            return np.zeros((0, self._size))
        shapes = {np.shape(i) for i in images}
        if len(shapes) != 1 or len(next(iter(shapes))) != self._dims:
            raise DataError(
                f"cnn_embedding needs {self._dims}-D images of one shape, got {sorted(shapes)}"
            )
        batch = np.stack([self._as_float(np.asarray(i)) for i in images])
        return self._forward(batch)

    def extract(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self.extract_many([image], None if mask is None else [mask])[0]


def build_cnn_embedding(
    *,
    model: str = "cnn2d",
    layer: str = "head.2",
    n_classes: int = 2,
    in_channels: int = 1,
    image_size: int = 28,
    seed: int = 0,
    state: Mapping[str, np.ndarray] | None = None,
    batch_size: int = 64,
) -> CnnEmbedding:
    """A medfed model by name (seeded weights, or ``state`` arrays loaded over them)."""
    # imported here: the rest of the feature package works without torch's model zoo
    from medfed.models import build_model, load_arrays

    dims = 3 if model.startswith("cnn3d") else 2
    network = build_model(
        model,
        in_channels=in_channels,
        n_classes=n_classes,
        dims=dims,
        image_size=image_size,
        seed=seed,
    )
    if state is not None:
        load_arrays(network, state)
    return CnnEmbedding(
        network,
        layer=layer,
        model_name=model,
        dims=dims,
        batch_size=batch_size,
        probe_shape=(image_size,) * dims,
    )
