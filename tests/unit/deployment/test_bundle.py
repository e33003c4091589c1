"""Signed one-file bundles (5.7.3.4): what they hold, and refusal of every kind of tampering."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from medfed.pki.suite_identity import signing_key
from medfed_runtime import BundleError, load_bundle

pytestmark = [pytest.mark.clause("5.7.3.4"), pytest.mark.slow]  # the first test builds the bundles


def _rewrite(src: Path, dst: Path, **replace: bytes) -> Path:
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members.update({k.replace("__", "."): v for k, v in replace.items()})
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def _member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def test_bundle_is_one_file_with_model_pre_post_processing_and_descriptor(export_fp32) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(export_fp32.bundle_path) as archive:
        assert sorted(archive.namelist()) == ["descriptor.json", "descriptor.sig", "model.onnx", "signer.pem"]
    d = json.loads(_member(export_fp32.bundle_path, "descriptor.json"))
    assert d["format"] == "medfed-bundle" and d["model_format"] == "onnx" and d["opset"] == 17
    assert d["study_id"] == "deploy-test" and d["model_version"].startswith("deploy-test/")
    assert d["input"] == {"name": "image", "shape": ["batch", 1, 28, 28], "dtype": "float32"}
    assert d["output"]["shape"] == ["batch", 2]
    pre = d["preprocessing"]
    # Exactly the training pipeline: uint8 / 255, one channel first, no normalisation.
    assert (pre["scale"], pre["mean"], pre["std"], pre["layout"]) == (255.0, [0.0], [1.0], "NCHW")
    assert d["postprocessing"]["class_names"] == ["normal", "pneumonia"]
    assert d["postprocessing"]["activation"] == "softmax"
    assert set(d["members"]["model.onnx"]) == {"bytes", "sha256"}
    assert d["metrics"]["test"]["auc"] == export_fp32.row("none").auc


def test_untouched_bundle_loads_and_names_its_signer(export_fp32) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(export_fp32.bundle_path, trusted_ca=export_fp32.trusted_ca_pem)
    assert (bundle.signer.name, bundle.signer.role, bundle.signer.study_id) == ("result", "result", "deploy-test")


def test_flipped_model_byte_is_refused(export_fp32, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = bytearray(_member(export_fp32.bundle_path, "model.onnx"))
    model[len(model) // 2] ^= 0x01
    bad = _rewrite(export_fp32.bundle_path, tmp_path / "b.mfbundle", model__onnx=bytes(model))
    with pytest.raises(BundleError, match=r"model\.onnx does not match .* digest"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


def test_edited_descriptor_is_refused(export_fp32, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = json.loads(_member(export_fp32.bundle_path, "descriptor.json"))
    d["postprocessing"]["decision"]["threshold"] = 0.01  # would call everyone ill
    bad = _rewrite(export_fp32.bundle_path, tmp_path / "d.mfbundle", descriptor__json=json.dumps(d).encode())
    with pytest.raises(BundleError, match="signature does not verify"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


def test_swapped_signer_certificate_is_refused(export_fp32, kits_intl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = (kits_intl / "hospital-a" / "cert.pem").read_bytes()
    bad = _rewrite(export_fp32.bundle_path, tmp_path / "s.mfbundle", signer__pem=other)
    with pytest.raises(BundleError, match="only the study's result party"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


def test_bundle_re_signed_by_a_hospital_is_refused(export_fp32, kits_intl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    descriptor = _member(export_fp32.bundle_path, "descriptor.json")
    hospital = kits_intl / "hospital-a"
    signature = signing_key(hospital, "intl").sign(descriptor)
    bad = _rewrite(
        export_fp32.bundle_path, tmp_path / "h.mfbundle",
        descriptor__sig=signature, signer__pem=(hospital / "cert.pem").read_bytes(),
    )
    with pytest.raises(BundleError, match="'hospital-a' acting as 'data'"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


def test_bundle_from_another_study_ca_is_refused(export_fp32, kits_gm: Path) -> None:  # type: ignore[no-untyped-def]
    foreign_ca = (kits_gm / "result" / "ca.pem").read_bytes()  # a different study CA
    with pytest.raises(BundleError, match="not issued by the trusted CA"):
        load_bundle(export_fp32.bundle_path, trusted_ca=foreign_ca)


def test_gm_bundle_is_signed_with_sm2_and_hashed_with_sm3(export_gm, kits_gm: Path) -> None:  # type: ignore[no-untyped-def]
    d = json.loads(_member(export_gm.bundle_path, "descriptor.json"))
    assert d["suite"] == "gm" and set(d["members"]["model.onnx"]) == {"bytes", "sm3"}
    sm2_ca = kits_gm / "result" / "sm2-ca.pem"
    bundle = load_bundle(export_gm.bundle_path, trusted_ca=sm2_ca)
    assert bundle.signer.role == "result"
    # The same study's ECDSA CA does not certify the SM2 signer.
    with pytest.raises(BundleError, match="not issued by the trusted CA"):
        load_bundle(export_gm.bundle_path, trusted_ca=kits_gm / "result" / "ca.pem")
    # A trust bundle holding both of the study's CAs works.
    both = sm2_ca.read_bytes() + (kits_gm / "result" / "ca.pem").read_bytes()
    assert load_bundle(export_gm.bundle_path, trusted_ca=both).descriptor["suite"] == "gm"


def test_tampered_gm_bundle_is_refused(export_gm, kits_gm: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = json.loads(_member(export_gm.bundle_path, "descriptor.json"))
    d["metrics"]["test"]["auc"] = 0.999
    bad = _rewrite(export_gm.bundle_path, tmp_path / "g.mfbundle", descriptor__json=json.dumps(d).encode())
    with pytest.raises(BundleError, match="signature does not verify"):
        load_bundle(bad, trusted_ca=kits_gm / "result" / "sm2-ca.pem")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a zip", "not a ZIP archive"), (None, "does not exist")],
)
def test_unreadable_bundle_is_refused_with_the_reason(export_fp32, tmp_path: Path, content, message) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.mfbundle"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BundleError, match=message):
        load_bundle(path, trusted_ca=export_fp32.trusted_ca_pem)


def test_extra_member_is_refused(export_fp32, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _rewrite(export_fp32.bundle_path, tmp_path / "e.mfbundle", extra__py=b"print('hi')")
    with pytest.raises(BundleError, match="holds members"):
        load_bundle(bad, trusted_ca=export_fp32.trusted_ca_pem)


def test_unreadable_trusted_ca_is_refused(export_fp32, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BundleError, match="cannot read the trusted CA file"):
        load_bundle(export_fp32.bundle_path, trusted_ca=tmp_path / "missing.pem")
    with pytest.raises(BundleError, match="not a PEM certificate"):
        load_bundle(export_fp32.bundle_path, trusted_ca=b"garbage")
