"""The edge SDK reproduces the framework (5.7.1.2, 5.7.3.4): same labels, same probabilities,
from raw arrays and from PNG-encoded bytes, on the whole PneumoniaMNIST test split."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medfed.data import load_medmnist
from medfed.deployment import load_trained_run, reference_probabilities
from medfed_runtime import load_bundle

pytestmark = pytest.mark.slow  # trains and exports the shared model on first use


@pytest.fixture(scope="module")
def test_split(medmnist_dir: Path):  # type: ignore[no-untyped-def]
    return load_medmnist("pneumoniamnist", data_dir=medmnist_dir).test


@pytest.fixture(scope="module")
def framework(run_dir: Path, test_split) -> np.ndarray:  # type: ignore[no-untyped-def]
    return reference_probabilities(load_trained_run(run_dir), test_split.images)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _check(predictions, framework: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    sdk = np.array([[p.probabilities["normal"], p.probabilities["pneumonia"]] for p in predictions])
    assert [p.index for p in predictions] == framework.argmax(axis=1).tolist()
    assert [p.label for p in predictions] == [("normal", "pneumonia")[k] for k in framework.argmax(axis=1)]
    assert np.abs(sdk - framework).max() <= 1e-4


@pytest.mark.clause("5.7.1.2")
@pytest.mark.clause("5.7.3.4")
def test_sdk_equals_framework_on_the_test_split_from_arrays(export_fp32, test_split, framework) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    _check(bundle.predict_batch(list(test_split.images)), framework)


@pytest.mark.clause("5.7.1.2")
@pytest.mark.clause("5.7.3.4")
def test_sdk_equals_framework_on_the_test_split_from_png_bytes(export_fp32, test_split, framework) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    _check(bundle.predict_batch([_png(image) for image in test_split.images]), framework)


@pytest.mark.clause("5.7.1.2")
def test_single_predict_from_array_bytes_and_path_agree(export_fp32, test_split, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=str(_ca_file(export_fp32, tmp_path)))
    image = test_split.images[3]
    path = tmp_path / "x.png"
    path.write_bytes(_png(image))
    a, b, c = bundle.predict(image), bundle.predict(_png(image)), bundle.predict(path)
    assert a == b == c
    assert a.label in ("normal", "pneumonia") and sum(a.probabilities.values()) == pytest.approx(1.0)


def _ca_file(export, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "ca.pem"
    path.write_bytes(export.trusted_ca_pem)
    return path


@pytest.mark.clause("5.7.3.3")
def test_quantized_bundles_run_in_the_sdk_and_mostly_agree_with_fp32(export_int8, export_16x, test_split, framework) -> None:  # type: ignore[no-untyped-def]
    for export, min_agreement in ((export_int8, 0.97), (export_16x, 0.85)):
        bundle = load_bundle(export.bundle_path, trusted_ca=export.trusted_ca_pem)
        labels = [p.index for p in bundle.predict_batch(list(test_split.images))]
        agreement = float(np.mean(np.array(labels) == framework.argmax(axis=1)))
        assert agreement >= min_agreement, (export.mode, agreement)


@pytest.mark.clause("5.7.3.4")
def test_declarative_preprocessing_is_bit_identical_to_the_training_pipeline(export_fp32, test_split) -> None:  # type: ignore[no-untyped-def]
    from medfed.data import images_to_float

    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    assert np.array_equal(bundle.preprocess(list(test_split.images)), images_to_float(test_split.images, dims=2))


@pytest.mark.clause("5.7.3.4")
def test_larger_images_are_resized_to_the_training_size(export_fp32, test_split) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    image = test_split.images[0]
    doubled = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)  # 56x56
    x = bundle.preprocess([doubled])
    assert x.shape == (1, 1, 28, 28)
    # Bilinear halving of a 2x2-replicated image returns the original pixels.
    assert np.array_equal(x[0, 0], image / np.float32(255))
    assert bundle.predict(doubled) == bundle.predict(image)
