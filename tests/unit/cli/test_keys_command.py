"""`medfed keys`: the key life cycle from the command line (5.5.1.3c)."""

from __future__ import annotations

import pytest

from medfed.cli import main
from medfed.crypto import KeyStatus, KeyStore


@pytest.mark.clause("5.5.1.3c", "5.5.1.3a")
def test_generate_rotate_revoke_destroy(tmp_path, monkeypatch, capsys) -> None:
    store = tmp_path / "keys"
    monkeypatch.setenv("MEDFED_KEY_PASSPHRASE", "a long enough passphrase")
    assert main(["keys", "generate", "--store", str(store)]) == 0  # gm (SM2) by default
    first = KeyStore(store).current()
    assert first.suite == "gm"
    assert main(["keys", "rotate", "--store", str(store)]) == 0
    second = KeyStore(store).current()
    assert second.fingerprint != first.fingerprint
    assert main(["keys", "revoke", "--store", str(store), "--fingerprint", first.fingerprint, "--reason", "key_compromise"]) == 0
    assert main(["keys", "destroy", "--store", str(store), "--fingerprint", first.fingerprint]) == 0
    assert KeyStore(store).record(first.fingerprint).status is KeyStatus.DESTROYED
    assert not any(first.fingerprint in p.name for p in (store / "keys").iterdir())
    out = capsys.readouterr().out
    assert "destroyed" in out and "key_compromise" in out
    # The private key never appears in clear on disk.
    pem = KeyStore(store).load(b"a long enough passphrase").private_bytes(None)
    body = b"".join(pem.splitlines()[1:-1])
    assert all(body not in p.read_bytes() for p in store.rglob("*") if p.is_file())


@pytest.mark.clause("5.5.1.3c", "5.5.1.2c")
def test_a_wrong_passphrase_cannot_rotate_or_export_and_a_short_one_is_refused(tmp_path, monkeypatch) -> None:
    store = tmp_path / "keys"
    monkeypatch.setenv("MEDFED_KEY_PASSPHRASE", "a long enough passphrase")
    assert main(["keys", "generate", "--store", str(store), "--suite", "intl"]) == 0
    before = KeyStore(store).current().fingerprint
    monkeypatch.setenv("MEDFED_KEY_PASSPHRASE", "the wrong passphrase")
    assert main(["keys", "rotate", "--store", str(store)]) != 0
    assert KeyStore(store).current().fingerprint == before
    monkeypatch.setenv("MEDFED_KEY_PASSPHRASE", "short")
    assert main(["keys", "generate", "--store", str(tmp_path / "other")]) != 0
