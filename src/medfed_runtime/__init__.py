"""medfed_runtime: the edge SDK. Runs a signed ``.mfbundle`` with onnxruntime; no torch, no medfed.

    from medfed_runtime import load_bundle
    bundle = load_bundle("model.mfbundle", trusted_ca="kits/result/ca.pem")
    bundle.descriptor["metrics"]          # the signed model card
    p = bundle.predict(png_bytes)         # or a numpy array HxW / HxWxC, or a path
    p.index, p.label, p.probabilities     # 1, "pneumonia", {"normal": 0.1, "pneumonia": 0.9}

Errors:

    BundleError   the bundle is unreadable, tampered with, or not signed by the trusted study's
                  result party (each message names the failed check)
    ImageError    (a ValueError) an input is not a valid PNG, JPEG, DICOM or pixel array

Dependencies: numpy, onnxruntime, cryptography; Pillow for PNG/JPEG input, pydicom for DICOM
input and tongsuopy for bundles signed with SM2, each imported only when needed.
"""

from __future__ import annotations

from medfed_runtime._bundle import Bundle, Prediction, load_bundle
from medfed_runtime._errors import BundleError, ImageError, ImageTooLargeError
from medfed_runtime._format import EXTENSION, FORMAT, FORMAT_VERSION
from medfed_runtime._images import read_image

__all__ = [
    "EXTENSION",
    "FORMAT",
    "FORMAT_VERSION",
    "Bundle",
    "BundleError",
    "ImageError",
    "ImageTooLargeError",
    "Prediction",
    "load_bundle",
    "read_image",
]
