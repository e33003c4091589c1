"""Open a signed bundle, check everything, and run its model with onnxruntime."""

from __future__ import annotations

import copy
import json
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medfed_runtime._errors import BundleError, ImageError
from medfed_runtime._format import (
    DESCRIPTOR,
    FORMAT,
    FORMAT_VERSION,
    HASHED_MEMBERS,
    MAX_MEMBER_BYTES,
    MEMBERS,
    MODEL,
    SIGNATURE,
    SIGNER,
    SUITE_DIGESTS,
    member_digest,
)
from medfed_runtime._images import read_image
from medfed_runtime._preprocess import decide, preprocess, softmax
from medfed_runtime._spec import check_model_shapes, check_postprocessing, check_preprocessing
from medfed_runtime._trust import Signer, read_trusted_cas, verify_signed

Source = np.ndarray | bytes | str | Path
# The writer stores members; a bundle re-zipped with deflate still holds the same bytes.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True)
class Prediction:
    """One image's result: the winning class (index and name) and every class probability."""

    index: int
    label: str
    probabilities: dict[str, float] = field(default_factory=dict)


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"bundle {path} does not exist") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path} is not a readable bundle (not a ZIP archive: {exc})") from None
    with archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)) or sorted(names) != sorted(MEMBERS):
            raise BundleError(
                f"{path} holds members {sorted(names)}; a bundle holds exactly {sorted(MEMBERS)}"
            )
        too_big = [i.filename for i in infos if i.file_size > MAX_MEMBER_BYTES]
        if too_big:
            raise BundleError(f"{path}: members {too_big} exceed {MAX_MEMBER_BYTES} bytes")
        # Encrypted or exotically compressed members make zipfile raise untyped errors mid-read.
        odd = [i.filename for i in infos if i.flag_bits & 0x1 or i.compress_type not in _COMPRESSIONS]
        if odd:
            raise BundleError(f"{path}: members {odd} are encrypted or use a compression a bundle never has")
        try:
            return {i.filename: archive.read(i) for i in infos}
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
            raise BundleError(f"{path} is corrupt: {exc}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing repeated keys: parsers disagree on which one wins."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        repeated = sorted({k for k, _ in pairs if sum(1 for j, _ in pairs if j == k) > 1})
        raise BundleError(f"{DESCRIPTOR} repeats the keys {repeated}; the writer never does")
    return obj


def _parse_descriptor(raw: bytes) -> dict[str, Any]:
    try:
        descriptor = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError also covers integers too long to convert; RecursionError absurd nesting.
        raise BundleError(f"{DESCRIPTOR} is not valid JSON: {exc}") from None
    if not isinstance(descriptor, dict) or descriptor.get("format") != FORMAT:
        raise BundleError(f"{DESCRIPTOR} is not a {FORMAT} descriptor")
    if descriptor.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"bundle format version {descriptor.get('format_version')!r} is not supported "
            f"(this SDK reads version {FORMAT_VERSION})"
        )
    for key in ("suite", "members", "input", "output", "preprocessing", "postprocessing"):
        if key not in descriptor:
            raise BundleError(f"{DESCRIPTOR} lacks {key!r}")
    return descriptor


def _check_members(descriptor: dict[str, Any], members: dict[str, bytes]) -> None:
    algorithm = SUITE_DIGESTS[descriptor["suite"]]
    listed = descriptor["members"]
    if not isinstance(listed, dict) or sorted(listed) != sorted(HASHED_MEMBERS):
        raise BundleError(f"{DESCRIPTOR} must list the digests of {list(HASHED_MEMBERS)}")
    for name in HASHED_MEMBERS:
        entry, data = listed[name], members[name]
        if not isinstance(entry, dict) or entry.get("bytes") != len(data) or entry.get(algorithm) != member_digest(algorithm, data):
            raise BundleError(
                f"{name} does not match the {algorithm} digest in the signed descriptor: "
                "the bundle was tampered with or corrupted"
            )


def _session(model: bytes, providers: Sequence[str] | None, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        if threads < 1:
            raise BundleError(f"threads must be >= 1, not {threads}")
        # A server runs many requests side by side: each on its own thread, none spinning idle.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model, options, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors for bad models
        raise BundleError(f"onnxruntime cannot load {MODEL}: {exc}") from None


class Bundle:
    """A verified bundle, ready to predict. Build it with :func:`load_bundle`."""

    def __init__(self, descriptor: dict[str, Any], signer: Signer, session: Any) -> None:
        self._descriptor = descriptor
        self.signer = signer
        self._session = session
        self._pre = descriptor["preprocessing"]
        self._post = descriptor["postprocessing"]
        self._classes: list[str] = list(self._post["class_names"])
        self._input = descriptor["input"]["name"]

    @property
    def descriptor(self) -> dict[str, Any]:
        """The signed model card: study id, version, metrics, class names, shapes (a copy)."""
        return copy.deepcopy(self._descriptor)

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)

    @staticmethod
    def read_image(source: bytes | str | Path) -> np.ndarray:
        """Decode PNG/JPEG/DICOM bytes or a file; :class:`ImageError` if it is not a valid image."""
        return read_image(source)

    def _pixels(self, source: Source) -> np.ndarray:
        if isinstance(source, np.ndarray):
            return source
        if isinstance(source, (bytes, bytearray, memoryview, str, Path)):
            return read_image(source)
        raise ImageError(
            f"expected a numpy array, PNG/JPEG/DICOM bytes or a file path, not {type(source).__name__}"
        )

    def preprocess(self, sources: Iterable[Source]) -> np.ndarray:
        """The model input (N, C, H, W) float32 for raw images, as the training pipeline made it."""
        batch = [preprocess(self._pixels(s), self._pre) for s in sources]
        if not batch:
            raise ImageError("expected at least one image")
        return np.stack(batch)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) float64 for pre-processed inputs (N, C, H, W)."""
        self._check_inputs(inputs)
        (logits,) = self._session.run(None, {self._input: inputs})
        return softmax(logits) if self._post.get("activation") == "softmax" else logits.astype(np.float64)

    def _check_inputs(self, inputs: Any) -> None:
        """ImageError for a batch onnxruntime would refuse with its own untyped error."""
        expected = (int(self._pre["channels"]), int(self._pre["height"]), int(self._pre["width"]))
        if not isinstance(inputs, np.ndarray) or inputs.dtype != np.float32:
            raise ImageError(
                f"expected pre-processed float32 inputs, not {getattr(inputs, 'dtype', type(inputs).__name__)}; "
                "use preprocess() or predict() for raw images"
            )
        if inputs.ndim != 4 or inputs.shape[0] < 1 or tuple(inputs.shape[1:]) != expected:
            raise ImageError(f"expected pre-processed inputs of shape (N, {', '.join(map(str, expected))}), got {inputs.shape}")

    def predict_batch(self, sources: Iterable[Source]) -> list[Prediction]:
        """Predictions for several images (arrays, encoded bytes or paths), one model call."""
        proba = self.probabilities(self.preprocess(sources))
        winners = decide(proba, self._post)
        return [
            Prediction(
                index=int(k),
                label=self._classes[int(k)],
                probabilities={name: float(p) for name, p in zip(self._classes, row, strict=True)},
            )
            for k, row in zip(winners, proba, strict=True)
        ]

    def predict(self, source: Source) -> Prediction:
        """Prediction for one image: a numpy array (HxW or HxWxC), PNG/JPEG/DICOM bytes, or a path."""
        return self.predict_batch([source])[0]


def load_bundle(
    path: str | Path,
    *,
    trusted_ca: bytes | str | Path,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
) -> Bundle:
    """Open ``path``, check it, and return a :class:`Bundle` ready to predict.

    Checks, in order: the archive holds exactly the expected members; the descriptor is a
    supported one; the signer certificate chains to ``trusted_ca`` (PEM bytes or a path; may
    hold several CA certificates), is valid now, is no CA, has KeyUsage digitalSignature and
    names the study's result party; the signature over the descriptor verifies; every member
    matches its signed digest. Any failure raises :class:`BundleError` naming it.
    ``providers``: onnxruntime execution providers (default CPU). ``threads``: onnxruntime's
    threads per prediction (default: all cores, busy-waiting between calls — right for batch
    work; a server wants 1).
    """
    trusted = read_trusted_cas(trusted_ca)
    members = _read_members(Path(path))
    descriptor = _parse_descriptor(members[DESCRIPTOR])
    if not isinstance(descriptor["suite"], str) or descriptor["suite"] not in SUITE_DIGESTS:
        raise BundleError(f"unknown suite {descriptor['suite']!r} in {DESCRIPTOR}")
    signer = verify_signed(
        suite=descriptor["suite"],
        signer_pem=members[SIGNER],
        data=members[DESCRIPTOR],
        signature=members[SIGNATURE],
        trusted=trusted,
    )
    _check_members(descriptor, members)
    # A descriptor without a study could be replayed under any study the CA serves.
    study = descriptor.get("study_id")
    if study != signer.study_id:
        raise BundleError(f"the descriptor is for study {study!r} but the signer belongs to {signer.study_id!r}")
    check_preprocessing(descriptor["preprocessing"])
    check_postprocessing(descriptor["postprocessing"])
    if not isinstance(descriptor["input"], dict) or not isinstance(descriptor["output"], dict):
        raise BundleError(f"{DESCRIPTOR}'s input and output must be objects")
    session = _session(members[MODEL], providers, threads)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = [i.name for i in inputs]
    if names != [descriptor["input"].get("name")]:
        raise BundleError(f"{MODEL} takes inputs {names}, the descriptor declares {descriptor['input'].get('name')!r}")
    if len(outputs) != 1:
        raise BundleError(f"{MODEL} has outputs {[o.name for o in outputs]}; a bundle's model has exactly one")
    check_model_shapes(
        descriptor["preprocessing"],
        len(descriptor["postprocessing"]["class_names"]),
        list(inputs[0].shape),
        list(outputs[0].shape),
    )
    return Bundle(descriptor, signer, session)
