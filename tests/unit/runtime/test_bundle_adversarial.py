"""Hostile bundles, certificates and pixels: each is refused with a clear error (5.7.3.4, 5.7.1.2)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medfed.pki.suite_identity import signing_key
from medfed_runtime import BundleError, ImageError, load_bundle
from medfed_runtime._preprocess import preprocess
from medfed_runtime._trust import verify_signed

MEMBERS = ("descriptor.json", "descriptor.sig", "signer.pem", "model.onnx")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


# --- certificates made here, so every certificate trick is cheap and exact ------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(key: ec.EllipticCurvePrivateKey, start: datetime, end: datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name("study CA"))
        .issuer_name(_name("study CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def _key_usage(*allowed: str) -> x509.KeyUsage:
    bits = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )
    return x509.KeyUsage(**{bit: bit in allowed for bit in bits})


_SIGNING = _key_usage("digital_signature")


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    key_usage: x509.KeyUsage | None = _SIGNING,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("result"))
        .issuer_name(_name("study CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("medfed://s1/result/result")]), critical=False
        )
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(ca_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _verify(leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey, trusted: list[x509.Certificate]) -> Any:
    data = b"descriptor"
    return verify_signed(
        suite="intl",
        signer_pem=_pem(leaf),
        data=data,
        signature=key.sign(data, ec.ECDSA(hashes.SHA256())),
        trusted=trusted,
        now=NOW,
    )


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _ca(ca_key, NOW - timedelta(days=10), NOW + timedelta(days=365))
    return {"ca_key": ca_key, "leaf_key": leaf_key, "ca": ca}


@pytest.mark.clause("5.7.3.4")
def test_a_ca_certificate_cannot_sign_a_bundle(pki: dict[str, Any]) -> None:
    ordinary = _leaf(pki["ca_key"], pki["leaf_key"], ca=False)
    assert _verify(ordinary, pki["leaf_key"], [pki["ca"]]).study_id == "s1"  # the control loads
    as_ca = _leaf(pki["ca_key"], pki["leaf_key"], ca=True)
    with pytest.raises(BundleError, match="is a CA certificate"):
        _verify(as_ca, pki["leaf_key"], [pki["ca"]])


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize(
    ("key_usage", "message"),
    [
        (None, "has no KeyUsage extension"),
        (_key_usage("key_encipherment", "key_agreement"), "lacks digitalSignature"),
        (_key_usage("content_commitment"), "lacks digitalSignature"),
    ],
)
def test_a_certificate_whose_key_usage_does_not_allow_signing_cannot_sign_a_bundle(
    pki: dict[str, Any], key_usage: x509.KeyUsage | None, message: str
) -> None:
    signing = _leaf(pki["ca_key"], pki["leaf_key"], ca=False, key_usage=_key_usage("digital_signature", "key_encipherment"))
    assert _verify(signing, pki["leaf_key"], [pki["ca"]]).role == "result"  # the control loads
    leaf = _leaf(pki["ca_key"], pki["leaf_key"], ca=False, key_usage=key_usage)
    with pytest.raises(BundleError, match=message):
        _verify(leaf, pki["leaf_key"], [pki["ca"]])


@pytest.mark.clause("5.7.3.4")
def test_a_renewed_ca_beside_its_expired_predecessor_is_used(pki: dict[str, Any]) -> None:
    expired = _ca(pki["ca_key"], NOW - timedelta(days=400), NOW - timedelta(days=35))
    leaf = _leaf(pki["ca_key"], pki["leaf_key"], ca=False)
    assert _verify(leaf, pki["leaf_key"], [expired, pki["ca"]]).role == "result"
    with pytest.raises(BundleError, match="trusted CA certificate is outside its validity"):
        _verify(leaf, pki["leaf_key"], [expired])


# --- archives and descriptors that are refused before any signature is checked --------------


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _patch_headers(raw: bytes, field: str, value: int) -> bytes:
    """Set the flag bits (OR) or the compression method of every local and central header."""
    out = bytearray(raw)
    for magic, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = out.find(magic)
        while i >= 0:
            if field == "flags":
                out[i + flag_at] |= value
            else:
                out[i + method_at : i + method_at + 2] = value.to_bytes(2, "little")
            i = out.find(magic, i + 4)
    return bytes(out)


def _dummy() -> dict[str, bytes]:
    return {name: b"x" * 200 for name in MEMBERS}


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _patch_headers(_zip(_dummy()), "flags", 0x1), "encrypted or use a compression"),
        (lambda: _patch_headers(_zip(_dummy()), "method", 99), "encrypted or use a compression"),
        # A deflate stream whose first block type is invalid: zlib fails mid-read.
        (
            lambda: (lambda raw: raw[:30 + 15] + b"\xff" + raw[30 + 16 :])(_zip(_dummy(), zipfile.ZIP_DEFLATED)),
            "is corrupt",
        ),
    ],
    ids=["encrypted", "unknown-compression", "corrupt-deflate"],
)
def test_hostile_archive_members_raise_bundle_error(make, message, pki: dict[str, Any], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "z.mfbundle"
    path.write_bytes(make())
    with pytest.raises(BundleError, match=message):
        load_bundle(path, trusted_ca=_pem(pki["ca"]))


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize(
    ("descriptor", "message"),
    [
        (b'{"format": "medfed-bundle", "format": "other"}', r"repeats the keys \['format'\]"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (
            json.dumps({"format": "medfed-bundle", "format_version": 1, "suite": ["intl"], "members": {},
                        "input": {}, "output": {}, "preprocessing": {}, "postprocessing": {}}).encode(),
            "unknown suite",
        ),
    ],
    ids=["duplicate-keys", "huge-integer", "deep-nesting", "unhashable-suite"],
)
def test_hostile_descriptor_json_raises_bundle_error(descriptor: bytes, message: str, pki: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "d.mfbundle"
    path.write_bytes(_zip({**_dummy(), "descriptor.json": descriptor}))
    with pytest.raises(BundleError, match=message):
        load_bundle(path, trusted_ca=_pem(pki["ca"]))


# --- correctly signed descriptors that ask for something the SDK does not do -----------------


def _resigned(export, kits_intl: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    """The exported bundle with its descriptor edited by ``edit`` and re-signed by the result party."""
    with zipfile.ZipFile(export.bundle_path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    descriptor = json.loads(members["descriptor.json"])
    edit(descriptor)
    raw = json.dumps(descriptor, indent=1, sort_keys=True).encode()
    members["descriptor.json"] = raw
    members["descriptor.sig"] = signing_key(kits_intl / "result", "intl").sign(raw)
    path = tmp_path / "resigned.mfbundle"
    path.write_bytes(_zip(members))
    return path


def _set(path: str, value: Any):  # type: ignore[no-untyped-def]
    def edit(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            d = d[key]
        if value is _DELETE:
            del d[last]
        else:
            d[last] = value

    return edit


_DELETE = object()


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("preprocessing.resize", "nearest", "resize is 'nearest'"),
        ("preprocessing.colour_to_grey", "average", "colour_to_grey"),
        ("preprocessing.layout", "NHWC", "layout"),
        ("preprocessing.clahe", True, r"steps \['clahe'\]"),
        ("preprocessing.std", [0.0], "std holds a zero"),
        ("preprocessing.mean", [0.5, 0.5, 0.5], "one number per channel"),
        ("preprocessing.height", 64, "input of shape"),
        ("postprocessing.activation", "sigmoid", "activation"),
        ("postprocessing.class_names", ["a", "b", "c"], "threshold decision needs exactly two"),
        ("postprocessing.decision.threshold", 2.0, "threshold must lie in 0..1"),
        ("study_id", _DELETE, "descriptor is for study None"),
    ],
)
def test_signed_descriptor_the_sdk_cannot_honour_is_refused(  # type: ignore[no-untyped-def]
    export_fp32, kits_intl: Path, tmp_path: Path, path: str, value: Any, message: str
) -> None:
    bad = _resigned(export_fp32, kits_intl, tmp_path, _set(path, value))
    with pytest.raises(BundleError, match=message):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


@pytest.mark.clause("5.7.3.4")
def test_re_signed_unchanged_descriptor_still_loads(export_fp32, kits_intl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The control for the refusals above: re-signing itself is not what they catch.
    good = _resigned(export_fp32, kits_intl, tmp_path, lambda d: None)
    assert load_bundle(good, trusted_ca=export_fp32.trusted_ca_pem).class_names == ["normal", "pneumonia"]


@pytest.mark.clause("5.7.3.4")
def test_class_names_that_do_not_match_the_model_output_are_refused(export_fp32, kits_intl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def three_classes(d: dict[str, Any]) -> None:
        d["postprocessing"]["class_names"] = ["a", "b", "c"]
        d["postprocessing"]["decision"] = {"rule": "argmax"}

    bad = _resigned(export_fp32, kits_intl, tmp_path, three_classes)
    with pytest.raises(BundleError, match="names 3 classes"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


# --- pixels ------------------------------------------------------------------------------------

SPEC = {"height": 4, "width": 4, "channels": 1, "scale": 255.0, "mean": [0.0], "std": [1.0]}


@pytest.mark.clause("5.7.1.2")
@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (np.full((4, 4), 1 + 1j), "real numeric pixels"),
        (np.array([[-1e308, 1e308], [0.0, 0.0]]), "too wide to scale"),
    ],
    ids=["complex", "overflowing-range"],
)
def test_pixels_that_cannot_be_scaled_faithfully_are_refused(pixels: np.ndarray, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        preprocess(pixels, SPEC)


@pytest.mark.clause("5.7.1.2")
def test_colour_palette_png_keeps_its_colours_and_grey_palette_stays_grey() -> None:
    from PIL import Image

    from medfed_runtime import read_image

    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[:4, :, 0], rgb[4:, :, 1] = 200, 150
    out = io.BytesIO()
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(out, "PNG")
    np.testing.assert_array_equal(read_image(out.getvalue()), rgb)  # a colour model sees red and green

    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = io.BytesIO()
    Image.fromarray(grey).convert("P").save(out, "PNG")
    decoded = read_image(out.getvalue())
    assert decoded.shape == (8, 8) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, grey)


@pytest.mark.clause("5.7.1.2")
@pytest.mark.parametrize(
    "inputs",
    [np.zeros((1, 1, 28, 28)), np.zeros((1, 1, 27, 28), np.float32), np.zeros((1, 28, 28), np.float32), [[0.0]]],
    ids=["float64", "wrong-size", "wrong-rank", "not-an-array"],
)
def test_probabilities_refuses_inputs_onnxruntime_would_choke_on(export_fp32, inputs: Any) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    with pytest.raises(ImageError, match="pre-processed"):
        bundle.probabilities(inputs)
    assert bundle.probabilities(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 2)


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize("location", ["/etc/passwd", "../../../../etc/passwd", "passwd"])
def test_signed_model_reading_files_through_external_data_is_refused(  # type: ignore[no-untyped-def]
    export_fp32, kits_intl: Path, tmp_path: Path, location: str
) -> None:
    import onnx
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("length", "8")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["image", "w"], ["logits"])], "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    assert onnx.load_model_from_string(model).graph.initializer[0].data_location == TensorProto.EXTERNAL
    from medfed_runtime._format import member_digest

    def swap_model(d: dict[str, Any]) -> None:
        d["members"]["model.onnx"] = {"bytes": len(model), "sha256": member_digest("sha256", model)}

    bad = _resigned(export_fp32, kits_intl, tmp_path, swap_model)
    with zipfile.ZipFile(bad) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    bad.write_bytes(_zip({**members, "model.onnx": model}))
    with pytest.raises(BundleError, match="onnxruntime cannot load model.onnx"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)
