"""The ``.mfbundle`` file format, shared by the writer (``medfed.deployment``) and the reader.

A bundle is one ZIP archive with exactly these members:

``descriptor.json``  the model card and every declarative parameter (UTF-8 JSON):
                     format, format_version, suite, study id, model version, opset, quantization,
                     input/output names, shapes and dtypes, pre-processing, post-processing,
                     metrics, and ``members``: for every other member its byte size and digest.
``descriptor.sig``   the signer's signature over the exact bytes of ``descriptor.json``
                     (``intl``: ECDSA P-256 with SHA-256, DER; ``gm``: SM2 with SM3 and the
                     default user ID, DER).
``signer.pem``       the signer's certificate (the result party's), which must chain to the
                     CA the loader trusts.
``model.onnx``       the ONNX model (opset in the descriptor).

Member digests use the suite's hash: SHA-256 under ``intl``, SM3 under ``gm``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

FORMAT = "medfed-bundle"
FORMAT_VERSION = 1
EXTENSION = ".mfbundle"
DESCRIPTOR = "descriptor.json"
SIGNATURE = "descriptor.sig"
SIGNER = "signer.pem"
MODEL = "model.onnx"
MEMBERS = (DESCRIPTOR, SIGNATURE, SIGNER, MODEL)
# Members listed (with size and digest) inside the descriptor.
HASHED_MEMBERS = (MODEL,)
# A bundle larger than this is refused before anything is decompressed (zip bombs).
MAX_MEMBER_BYTES = 512 * 1024 * 1024
SIGNER_ROLE = "result"
SUITE_DIGESTS = {"intl": "sha256", "gm": "sm3"}


def member_digest(algorithm: str, data: bytes) -> str:
    """Hex digest of ``data`` under ``algorithm`` ("sha256" or "sm3")."""
    algo = {"sha256": hashes.SHA256, "sm3": hashes.SM3}[algorithm]()
    h = hashes.Hash(algo)
    h.update(data)
    return h.finalize().hex()
