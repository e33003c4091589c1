"""`medfed serve kit`: the service gets its own certificate, naming the hosts clients check."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509

from medfed.cli import main
from medfed.pki import CertificateAuthority, load_kit
from medfed.roles import Role


@pytest.mark.clause("5.7.2.1")
def test_service_kit_names_its_hosts_and_is_not_the_result_party(tmp_path: Path, capsys) -> None:
    CertificateAuthority.create("serve-study").save(tmp_path / "ca")
    kit_dir = tmp_path / "inference"
    assert main(["serve", "kit", "--kit", str(kit_dir), "--ca", str(tmp_path / "ca"),
                 "--service-host", "ai.hospital.example", "--service-host", "10.0.0.7"]) == 0
    kit = load_kit(kit_dir)
    assert kit.role is Role.AUX  # a network-facing server never holds the bundle signer's role
    assert (kit_dir / "key.pem").stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate((kit_dir / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "ai.hospital.example" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("10.0.0.7") in names.get_values_for_type(x509.IPAddress)

    # A second run never overwrites the key in place.
    assert main(["serve", "kit", "--kit", str(kit_dir), "--ca", str(tmp_path / "ca"),
                 "--service-host", "x"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["serve", "kit", "--kit", str(tmp_path / "other"), "--ca", str(tmp_path / "ca")]) == 2
