"""Model zoo: networks selectable by name, and their parameters as plain arrays."""

from medfed.models.registry import MODEL_NAMES, build_model
from medfed.models.state import arrays_to_state, load_arrays, model_arrays

__all__ = ["MODEL_NAMES", "arrays_to_state", "build_model", "load_arrays", "model_arrays"]
