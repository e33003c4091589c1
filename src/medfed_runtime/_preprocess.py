"""Declarative pre- and post-processing: the exact steps the model was trained with.

Pre-processing (the ``preprocessing`` object of the descriptor)::

    {"height": 28, "width": 28, "channels": 1, "layout": "NCHW",
     "to_uint8": "minmax", "colour_to_grey": "bt601", "resize": "bilinear",
     "scale": 255.0, "mean": [0.0], "std": [1.0]}

applied in this order to an HxW or HxWxC array:

1. ``to_uint8``: a non-``uint8`` image (16-bit PNG, DICOM after its window) is mapped linearly
   from its own min..max to 0..255 and rounded, because the model saw 8-bit images only;
2. channels: a colour image for a grey model becomes ITU-R BT.601 luma (rounded), a grey one
   for a colour model is repeated per channel;
3. ``resize`` to height x width (bilinear, half-pixel centres, rounded back to uint8) when the
   size differs — a 28x28 image is left untouched;
4. float32 ``x / scale``, then ``(x - mean[c]) / std[c]`` — for MedMNIST exactly the training
   code's ``uint8 / 255`` — and channels first.

Post-processing: ``softmax`` over the logits, then ``argmax`` or, for two classes, a
``threshold`` (strictly above) on the probability of ``positive_index``; the winner is named by ``class_names``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medfed_runtime._errors import ImageError

_LUMA = np.array([0.299, 0.587, 0.114])


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if (
        image.dtype == np.bool_
        or not np.issubdtype(image.dtype, np.number)
        or np.issubdtype(image.dtype, np.complexfloating)  # casting would silently drop the imaginary part
    ):
        raise ImageError(f"expected real numeric pixels, got dtype {image.dtype}")
    values = image.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ImageError("the image holds NaN or infinite pixel values")
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.zeros(image.shape, dtype=np.uint8)
    if not np.isfinite(high - low):
        raise ImageError(f"the image's pixel range {low}..{high} is too wide to scale to 8 bits")
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _channels(image: np.ndarray, channels: int) -> np.ndarray:
    """HxWxC uint8 with C == ``channels``."""
    if image.ndim == 2:
        image = image[:, :, None]
    have = image.shape[2]
    if have == 4:
        image, have = image[:, :, :3], 3
    if have == channels:
        return image
    if channels == 1 and have == 3:
        return np.rint(image.astype(np.float64) @ _LUMA).clip(0, 255).astype(np.uint8)[:, :, None]
    if channels == 3 and have == 1:
        return np.repeat(image, 3, axis=2)
    raise ImageError(f"expected an image with 1, 3 or 4 channels for a {channels}-channel model, got {have}")


def _resize_axis(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (low, high) and weight of high, half-pixel centres (as OpenCV/PIL bilinear)."""
    centres = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    centres = np.clip(centres, 0, size_in - 1)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, centres - low


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    y0, y1, wy = _resize_axis(image.shape[0], height)
    x0, x1, wx = _resize_axis(image.shape[1], width)
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - wx)[None, :, None] + img[y0][:, x1] * wx[None, :, None]
    bottom = img[y1][:, x0] * (1 - wx)[None, :, None] + img[y1][:, x1] * wx[None, :, None]
    out = top * (1 - wy)[:, None, None] + bottom * wy[:, None, None]
    return np.rint(out).clip(0, 255).astype(np.uint8)


def preprocess(image: Any, spec: dict[str, Any]) -> np.ndarray:
    """One raw image (HxW or HxWxC) to the model's float32 input (C, H, W)."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy array of pixels, not {type(image).__name__}")
    if image.ndim not in (2, 3) or image.size == 0 or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ImageError(f"expected pixels of shape HxW or HxWxC (C in 1, 3, 4), got {image.shape}")
    pixels = _resize(_channels(_to_uint8(image), int(spec["channels"])), int(spec["height"]), int(spec["width"]))
    scaled = np.divide(pixels, np.float32(spec["scale"]), dtype=np.float32)
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    normalised = (scaled - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, (N, K) -> (N, K)."""
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def decide(probabilities: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Predicted class index per row of (N, K) probabilities, by the bundle's decision rule."""
    rule = spec["decision"]
    if rule["rule"] == "threshold":
        positive = int(rule["positive_index"])
        negative = 1 - positive
        return np.where(probabilities[:, positive] > float(rule["threshold"]), positive, negative)
    return probabilities.argmax(axis=1)
