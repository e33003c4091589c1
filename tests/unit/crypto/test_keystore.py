"""Key management (5.5.1.3c): generation, encrypted storage, rotation, revocation, destruction."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from medfed.crypto import (
    CryptoError,
    KdfParams,
    KeyStatus,
    KeyStore,
    RevocationReason,
    get_suite,
)
from medfed.errors import ConfigError

pytestmark = pytest.mark.clause("5.5.1.3c")

# The smallest cost the store accepts: keeps the tests fast; production uses the default.
FAST = KdfParams(time_cost=1, memory_cost_kib=8 * 1024, parallelism=1)
PASS = b"hospital-a passphrase"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(params=["gm", "intl"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[KeyStore, str]:
    return KeyStore(tmp_path / "keys", kdf=FAST), request.param


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_then_load_signs_with_the_recorded_key(store: tuple[KeyStore, str]) -> None:
    keys, suite_name = store
    rec = keys.generate(suite_name, PASS, now=T0)
    assert rec.status is KeyStatus.CURRENT and rec.created == T0 and rec.suite == suite_name
    key = keys.load(PASS)
    suite = get_suite(suite_name)
    suite.load_verify_key(rec.public_pem.encode()).verify(b"m", key.sign(b"m"))
    assert keys.current() == rec


def test_key_file_is_encrypted_private_and_left_without_temporaries(
    store: tuple[KeyStore, str],
) -> None:
    keys, suite_name = store
    rec = keys.generate(suite_name, PASS)
    key = keys.load(PASS)
    path = keys.root / "keys" / f"{rec.fingerprint}.key"
    data = path.read_bytes()
    plain_pem = key.private_bytes(None)
    body = b"".join(plain_pem.splitlines()[1:-1])
    assert plain_pem not in data and body[:40] not in data and b"PRIVATE KEY" not in data
    scalar = key._key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[attr-defined]
    assert scalar not in data and scalar.hex().encode() not in data
    assert json.loads(data)["kdf"]["name"] == "argon2id"
    assert _mode(path) == 0o600 and _mode(keys.root / "index.json") == 0o600
    assert _mode(keys.root) == 0o700
    assert not [p for p in keys.root.rglob("*.tmp")]


def test_wrong_passphrase_is_refused_and_leaves_nothing(store: tuple[KeyStore, str]) -> None:
    keys, suite_name = store
    keys.generate(suite_name, PASS)
    before = sorted(p.name for p in keys.root.rglob("*"))
    with pytest.raises(CryptoError):
        keys.load(b"wrong passphrase")
    assert sorted(p.name for p in keys.root.rglob("*")) == before


def test_tampered_key_file_header_is_refused(store: tuple[KeyStore, str]) -> None:
    keys, suite_name = store
    rec = keys.generate(suite_name, PASS)
    path = keys.root / "keys" / f"{rec.fingerprint}.key"
    document = json.loads(path.read_bytes())
    document["kdf"]["time_cost"] = 2
    path.write_text(json.dumps(document))
    with pytest.raises(CryptoError):
        keys.load(PASS)


def test_empty_passphrase_is_a_config_error(store: tuple[KeyStore, str]) -> None:
    keys, suite_name = store
    with pytest.raises(ConfigError, match="passphrase"):
        keys.generate(suite_name, b"")


def test_second_generate_for_a_label_must_be_a_rotation(store: tuple[KeyStore, str]) -> None:
    keys, suite_name = store
    keys.generate(suite_name, PASS)
    with pytest.raises(ConfigError, match="rotate"):
        keys.generate(suite_name, PASS)
    keys.generate(suite_name, PASS, label="transport")  # another lineage is fine


def test_rotate_retires_the_old_key_and_keeps_it_loadable(store: tuple[KeyStore, str]) -> None:
    keys, suite_name = store
    old = keys.generate(suite_name, PASS, now=T0)
    new = keys.rotate(b"new passphrase", now=T1, old_passphrase=PASS)
    assert new.fingerprint != old.fingerprint and keys.current() == new
    retired = keys.record(old.fingerprint)
    assert retired.status is KeyStatus.RETIRED and retired.retired == T1
    assert retired.created == T0
    keys.load(PASS, fingerprint=old.fingerprint)
    keys.load(b"new passphrase")


def test_revoke_lists_fingerprint_reason_time_and_stops_loading(
    store: tuple[KeyStore, str],
) -> None:
    keys, suite_name = store
    rec = keys.generate(suite_name, PASS)
    assert not keys.is_revoked(rec.fingerprint)
    entry = keys.revoke(rec.fingerprint, "key_compromise", now=T1)
    assert entry.reason is RevocationReason.KEY_COMPROMISE and entry.time == T1
    assert keys.is_revoked(rec.fingerprint)
    assert keys.revocations() == [entry]
    assert keys.record(rec.fingerprint).status is KeyStatus.REVOKED
    with pytest.raises(CryptoError, match="revoked"):
        keys.load(PASS, fingerprint=rec.fingerprint)
    with pytest.raises(ConfigError):
        keys.current()  # a revoked key is not current: generate a new one
    keys.generate(suite_name, PASS)
    assert keys.revoke(rec.fingerprint, "superseded") == entry  # first entry kept


def test_a_peer_fingerprint_can_be_revoked(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, kdf=FAST)
    keys.revoke("ab" * 32, RevocationReason.CESSATION_OF_OPERATION)
    assert keys.is_revoked("ab" * 32) and not keys.is_revoked("cd" * 32)
    with pytest.raises(ValueError):
        keys.revoke("ef" * 32, "no such reason")


def test_destroy_overwrites_and_deletes_but_remembers_the_fingerprint(
    store: tuple[KeyStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys, suite_name = store
    rec = keys.generate(suite_name, PASS)
    path = keys.root / "keys" / f"{rec.fingerprint}.key"
    original = path.read_bytes()
    overwritten: list[bytes] = []
    import medfed.crypto._keyfile as keyfile

    real_unlink = Path.unlink

    def spy_unlink(self: Path, missing_ok: bool = False) -> None:
        if self == path:
            overwritten.append(self.read_bytes())
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(keyfile.Path, "unlink", spy_unlink)
    destroyed = keys.destroy(rec.fingerprint, now=T1)
    assert not path.exists()
    assert overwritten and overwritten[0] != original and len(overwritten[0]) == len(original)
    assert destroyed.status is KeyStatus.DESTROYED and destroyed.destroyed == T1
    assert keys.record(rec.fingerprint).public_pem == rec.public_pem
    with pytest.raises(CryptoError, match="destroyed"):
        keys.load(PASS, fingerprint=rec.fingerprint)


def test_weak_kdf_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="memory_cost"):
        KdfParams(memory_cost_kib=1024)


def test_malformed_fingerprint_never_becomes_a_path(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, kdf=FAST)
    with pytest.raises(ConfigError):
        keys.destroy("../../etc/passwd")


def test_adding_a_key_of_another_suite_is_refused_at_once(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, kdf=FAST)
    with pytest.raises(CryptoError):
        keys.add(get_suite("intl").generate_signing_key(), "gm", PASS, label="ca")
    assert keys.records() == []
    ca_key = get_suite("gm").generate_signing_key()
    rec = keys.add(ca_key, "gm", PASS, label="ca")
    assert rec.fingerprint == ca_key.verify_key().fingerprint()
    assert keys.load(PASS, label="ca").verify_key().fingerprint() == rec.fingerprint


@pytest.mark.clause("5.5.1.3c")
def test_rotation_needs_the_current_keys_passphrase(tmp_path) -> None:
    from medfed.crypto import CryptoError, KdfParams, KeyStore, get_suite

    store = KeyStore(tmp_path / "keys", kdf=KdfParams(time_cost=1, memory_cost_kib=8192, parallelism=1))
    first = store.generate(get_suite("intl"), b"the right passphrase")
    with pytest.raises(CryptoError):
        store.rotate(b"not the passphrase!")
    assert store.current().fingerprint == first.fingerprint
    assert store.rotate(b"the right passphrase").fingerprint != first.fingerprint
