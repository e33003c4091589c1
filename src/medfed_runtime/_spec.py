"""Is the signed descriptor's pre/post-processing one this SDK actually implements?

The SDK applies a fixed sequence of steps (see ``_preprocess``). A descriptor naming another
resize, grey conversion, layout or activation would otherwise be run with the SDK's own
steps — silently different from what was trained — so anything unknown is refused at load.
"""

from __future__ import annotations

import math
from typing import Any

from medfed_runtime._errors import BundleError

SUPPORTED_PREPROCESSING = {
    "layout": "NCHW",
    "to_uint8": "minmax",
    "colour_to_grey": "bt601",
    "resize": "bilinear",
}
SUPPORTED_ACTIVATIONS = ("softmax",)
MAX_SIDE = 4096  # the SDK never decodes larger images either


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BundleError(f"the descriptor's {what} must be an integer in {low}..{high}, not {value!r}")
    return value


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BundleError(f"the descriptor's {what} must be a finite number, not {value!r}")
    return float(value)


def check_preprocessing(pre: Any) -> None:
    """BundleError unless ``pre`` names exactly the steps and parameters ``preprocess`` applies."""
    if not isinstance(pre, dict):
        raise BundleError("the descriptor's preprocessing is not an object")
    for key, supported in SUPPORTED_PREPROCESSING.items():
        if pre.get(key) != supported:
            raise BundleError(
                f"the descriptor's preprocessing {key} is {pre.get(key)!r}; this SDK implements only {supported!r}"
            )
    unknown = sorted(set(pre) - set(SUPPORTED_PREPROCESSING) - {"height", "width", "channels", "scale", "mean", "std"})
    if unknown:
        raise BundleError(f"the descriptor's preprocessing has steps {unknown} this SDK does not implement")
    channels = pre.get("channels")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise BundleError(f"the descriptor's preprocessing channels must be 1 or 3, not {channels!r}")
    _int(pre.get("height"), "preprocessing height", 1, MAX_SIDE)
    _int(pre.get("width"), "preprocessing width", 1, MAX_SIDE)
    if _finite(pre.get("scale"), "preprocessing scale") <= 0:
        raise BundleError(f"the descriptor's preprocessing scale must be positive, not {pre.get('scale')!r}")
    for key in ("mean", "std"):
        values = pre.get(key)
        if not isinstance(values, list) or len(values) != channels:
            raise BundleError(f"the descriptor's preprocessing {key} must list one number per channel ({channels})")
        for v in values:
            _finite(v, f"preprocessing {key}")
    if any(float(v) == 0.0 for v in pre["std"]):
        raise BundleError("the descriptor's preprocessing std holds a zero (division by zero)")


def check_postprocessing(post: Any) -> None:
    """BundleError unless ``post`` is an activation and decision rule ``decide`` implements."""
    if not isinstance(post, dict):
        raise BundleError("the descriptor's postprocessing is not an object")
    if post.get("activation") not in SUPPORTED_ACTIVATIONS:
        raise BundleError(
            f"the descriptor's activation is {post.get('activation')!r}; this SDK implements only {list(SUPPORTED_ACTIVATIONS)}"
        )
    names = post.get("class_names")
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise BundleError("the descriptor's class_names must list at least two class names")
    rule = post.get("decision")
    if not isinstance(rule, dict) or rule.get("rule") not in ("argmax", "threshold"):
        raise BundleError(f"the descriptor's decision rule {rule!r} is not 'argmax' or 'threshold'")
    if rule["rule"] == "threshold":
        if len(names) != 2:
            raise BundleError("a threshold decision needs exactly two classes")
        if rule.get("positive_index") not in (0, 1) or isinstance(rule.get("positive_index"), bool):
            raise BundleError(f"the threshold's positive_index must be 0 or 1, not {rule.get('positive_index')!r}")
        threshold = _finite(rule.get("threshold"), "decision threshold")
        if not 0.0 <= threshold <= 1.0:
            raise BundleError(f"the decision threshold must lie in 0..1, not {threshold}")


def check_model_shapes(pre: dict[str, Any], classes: int, input_shape: list[Any], output_shape: list[Any]) -> None:
    """BundleError when the model's fixed input/output sizes contradict the descriptor."""
    expected_in = [None, pre["channels"], pre["height"], pre["width"]]
    if len(input_shape) != 4 or any(
        isinstance(have, int) and want is not None and have != want for have, want in zip(input_shape, expected_in, strict=True)
    ):
        raise BundleError(
            f"the model takes input of shape {input_shape}; the descriptor's preprocessing makes "
            f"(batch, {pre['channels']}, {pre['height']}, {pre['width']})"
        )
    if len(output_shape) != 2 or (isinstance(output_shape[1], int) and output_shape[1] != classes):
        raise BundleError(f"the model's output has shape {output_shape}; the descriptor names {classes} classes")
