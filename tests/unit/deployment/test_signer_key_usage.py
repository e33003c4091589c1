"""Only a certificate whose KeyUsage allows signing may sign a bundle: the export refuses any
other kit, and the edge runtime refuses a bundle that such a certificate signed anyway."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medfed.deployment.bundle import write_bundle
from medfed.deployment.errors import SignerKitError
from medfed.deployment.signer import BundleSigner, load_signer
from medfed.pki.suite_identity import signing_key
from medfed_runtime import BundleError, load_bundle

_BITS = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
)


def _key_usage(*allowed: str) -> x509.KeyUsage:
    return x509.KeyUsage(**{bit: bit in allowed for bit in _BITS})


def _recertified_kit(kits_intl: Path, tmp_path: Path, key_usage: x509.KeyUsage | None) -> Path:
    """The result party's kit, its certificate re-issued by a fresh CA with ``key_usage``.

    Everything else (key, names, SAN identity) stays, so the kit still loads and only the
    KeyUsage differs from what the study CA issues.
    """
    kit = tmp_path / "result"
    shutil.copytree(kits_intl / "result", kit)
    original = x509.load_pem_x509_certificate((kit / "cert.pem").read_bytes())
    party_key = serialization.load_pem_private_key((kit / "key.pem").read_bytes(), password=None)
    assert isinstance(party_key, ec.EllipticCurvePrivateKey)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another CA")])
    now = datetime.now(UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("key_cert_sign", "crl_sign"), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    san = original.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(original.subject)
        .issuer_name(ca_name)
        .public_key(party_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(san, critical=False)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    cert = builder.sign(ca_key, hashes.SHA256())
    (kit / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (kit / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return kit


@pytest.mark.clause("5.7.3.4")
def test_study_ca_issued_result_kit_signs(kits_intl: Path) -> None:
    signer = load_signer(kits_intl / "result")
    usage = x509.load_pem_x509_certificate(signer.cert_pem).extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.value.digital_signature


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize(
    ("key_usage", "message"),
    [
        (None, "has no KeyUsage extension"),
        (_key_usage("key_encipherment", "key_agreement"), "has KeyUsage without digitalSignature"),
    ],
)
def test_kit_whose_certificate_may_not_sign_is_refused_before_signing(
    kits_intl: Path, tmp_path: Path, key_usage: x509.KeyUsage | None, message: str
) -> None:
    # The control: the same re-issued kit with digitalSignature is accepted.
    good = _recertified_kit(kits_intl, tmp_path / "good", _key_usage("digital_signature"))
    assert load_signer(good).name == "result"
    bad = _recertified_kit(kits_intl, tmp_path / "bad", key_usage)
    with pytest.raises(SignerKitError, match=message):
        load_signer(bad)


@pytest.mark.clause("5.7.3.4")
@pytest.mark.parametrize(
    ("key_usage", "message"),
    [
        (None, "has no KeyUsage extension"),
        (_key_usage("key_encipherment"), "lacks digitalSignature"),
    ],
)
def test_bundle_signed_by_a_certificate_that_may_not_sign_does_not_load(  # type: ignore[no-untyped-def]
    export_fp32, kits_intl: Path, tmp_path: Path, key_usage: x509.KeyUsage | None, message: str
) -> None:
    """A signer that skips the export's check still produces a bundle no edge runtime loads."""
    with zipfile.ZipFile(export_fp32.bundle_path) as archive:
        model = archive.read("model.onnx")
        descriptor = json.loads(archive.read("descriptor.json"))

    def signed_with(kit: Path, name: str) -> tuple[Path, bytes]:
        ca_pem = (kit / "ca.pem").read_bytes()
        signer = BundleSigner(
            name="result", study_id=descriptor["study_id"], suite="intl",
            key=signing_key(kit, "intl"), cert_pem=(kit / "cert.pem").read_bytes(), ca_pem=ca_pem,
        )
        return write_bundle(tmp_path / name, descriptor=descriptor, model_bytes=model, signer=signer), ca_pem

    good, good_ca = signed_with(_recertified_kit(kits_intl, tmp_path / "good", _key_usage("digital_signature")), "good.mfbundle")
    assert load_bundle(good, trusted_ca=good_ca).signer.role == "result"  # the control loads
    bad, bad_ca = signed_with(_recertified_kit(kits_intl, tmp_path / "bad", key_usage), "bad.mfbundle")
    with pytest.raises(BundleError, match=message):
        load_bundle(bad, trusted_ca=bad_ca)
