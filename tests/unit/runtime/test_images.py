"""Reading images on the edge: PNG, JPEG and DICOM sniffed; bad files get a clear ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from medfed_runtime import Bundle, ImageError, load_bundle, read_image

pytestmark = pytest.mark.clause("5.7.1.2")


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_png_round_trips_exactly() -> None:
    image = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    assert np.array_equal(Bundle.read_image(_encode(image, "PNG")), image)


def test_jpeg_is_decoded() -> None:
    image = np.full((28, 28), 128, dtype=np.uint8)
    decoded = read_image(_encode(image, "JPEG"))
    assert decoded.shape == (28, 28) and abs(int(decoded.mean()) - 128) <= 2


def test_dicom_is_decoded_to_display_values() -> None:
    pydicom_data = pytest.importorskip("pydicom.data")
    path = pydicom_data.get_testdata_file("CT_small.dcm", download=False)
    if path is None:
        pytest.skip("pydicom's CT_small.dcm is not installed")
    with open(path, "rb") as fh:
        array = read_image(fh.read())
    assert array.shape == (128, 128)


def test_dicom_input_is_resized_and_predicted(export_fp32) -> None:  # type: ignore[no-untyped-def]
    pydicom_data = pytest.importorskip("pydicom.data")
    path = pydicom_data.get_testdata_file("CT_small.dcm", download=False)
    if path is None:
        pytest.skip("pydicom's CT_small.dcm is not installed")
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    prediction = bundle.predict(path)
    assert prediction.label in ("normal", "pneumonia")


def test_rgb_image_for_a_grey_model_is_converted(export_fp32) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    grey = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert bundle.predict(rgb) == bundle.predict(grey)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"expected a PNG, JPEG or DICOM file.*\(empty\)"),
        (b"GIF89a....", "expected a PNG, JPEG or DICOM file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "looks like PNG but cannot be decoded"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "looks like JPEG but cannot be decoded"),
        (b"\x00" * 128 + b"DICM" + b"\x00" * 20, "looks like DICOM but its pixel data cannot be read"),
    ],
)
def test_invalid_or_corrupt_files_raise_image_error_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        read_image(data)


def test_truncated_png_is_refused() -> None:
    png = _encode(np.zeros((28, 28), dtype=np.uint8), "PNG")
    with pytest.raises(ImageError, match="PNG"):
        read_image(png[: len(png) // 2])


def test_bad_arrays_are_refused_by_predict(export_fp32) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    with pytest.raises(ImageError, match="HxW or HxWxC"):
        bundle.predict(np.zeros((2, 2, 2, 2), dtype=np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        bundle.predict(np.full((28, 28), np.nan))
    with pytest.raises(ImageError, match="not int"):
        bundle.predict(42)  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="cannot read image file"):
        bundle.predict("/nonexistent/x.png")
