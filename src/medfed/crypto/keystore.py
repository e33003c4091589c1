"""A directory-backed key store (standard 5.5.1.3c): generate, store, load, rotate, revoke,
destroy.

Layout of ``root`` (directory mode 0700, every file 0600, every write atomic)::

    index.json          every key ever held: label, suite, fingerprint, public PEM, status, dates
    revocations.json    revoked fingerprints with reason and time (also of keys held elsewhere)
    keys/<fp>.key       one private key each, sealed under an argon2id-derived key (``_keyfile``)

A label (default "identity") names one key lineage: at most one CURRENT key per label;
``rotate`` retires it and makes a new one current; a retired key stays loadable so old
material can still be opened. ``revoke`` lists a fingerprint as revoked and stops it loading;
``destroy`` overwrites and deletes the private key, and the index keeps its fingerprint as
DESTROYED. One process at a time mutates a store (an exclusive ``flock`` on ``.lock``).
Decrypted key bytes live only in memory (Python cannot wipe them reliably).
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medfed.crypto._keyfile import KdfParams, open_key_file, seal_key_file, shred, write_private
from medfed.crypto.registry import get_suite
from medfed.crypto.suite import CryptoError, SigningKey, Suite
from medfed.errors import ConfigError

__all__ = ["KdfParams", "KeyRecord", "KeyStatus", "KeyStore", "Revocation", "RevocationReason"]

DEFAULT_LABEL = "identity"


class KeyStatus(enum.StrEnum):
    CURRENT = "current"
    RETIRED = "retired"
    REVOKED = "revoked"
    DESTROYED = "destroyed"


class RevocationReason(enum.StrEnum):
    """The reasons of RFC 5280 §5.3.1 that apply to a party's own keys."""

    KEY_COMPROMISE = "key_compromise"
    CA_COMPROMISE = "ca_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"


@dataclass(frozen=True)
class KeyRecord:
    """What the index knows of one key (never the private key itself)."""

    label: str
    suite: str
    fingerprint: str
    public_pem: str
    status: KeyStatus
    created: datetime
    retired: datetime | None = None
    revoked: datetime | None = None
    destroyed: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> KeyRecord:
        dates = {
            k: datetime.fromisoformat(raw[k]) if raw.get(k) else None
            for k in ("retired", "revoked", "destroyed")
        }
        return cls(
            label=raw["label"],
            suite=raw["suite"],
            fingerprint=raw["fingerprint"],
            public_pem=raw["public_pem"],
            status=KeyStatus(raw["status"]),
            created=datetime.fromisoformat(raw["created"]),
            **dates,
        )


@dataclass(frozen=True)
class Revocation:
    fingerprint: str
    reason: RevocationReason
    time: datetime


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


class KeyStore:
    """Keys of one party under ``root``; every method is one key-management action."""

    def __init__(self, root: Path | str, *, kdf: KdfParams | None = None) -> None:
        self.root = Path(root)
        self.kdf = kdf or KdfParams()

    # -- reading ---------------------------------------------------------------------------

    def records(self) -> list[KeyRecord]:
        """Every key the store has held, oldest first."""
        return [KeyRecord.from_json(raw) for raw in self._read("index.json", "keys")]

    def record(self, fingerprint: str) -> KeyRecord:
        """The record of ``fingerprint``; ConfigError if the store never held it."""
        for rec in self.records():
            if rec.fingerprint == fingerprint:
                return rec
        raise ConfigError(f"no key {fingerprint} in {self.root}")

    def current(self, label: str = DEFAULT_LABEL) -> KeyRecord:
        """The CURRENT key of ``label``; ConfigError if there is none (never generated, or
        revoked without a rotation)."""
        for rec in self.records():
            if rec.label == label and rec.status is KeyStatus.CURRENT:
                return rec
        raise ConfigError(f"no current {label!r} key in {self.root}; generate or rotate one")

    def load(
        self, passphrase: bytes, *, label: str = DEFAULT_LABEL, fingerprint: str | None = None
    ) -> SigningKey:
        """The private key ``fingerprint`` (default: the current key of ``label``).

        CryptoError for a wrong passphrase or a tampered file (one opaque error), and for a
        revoked or destroyed key.
        """
        rec = self.record(fingerprint) if fingerprint else self.current(label)
        if rec.status in (KeyStatus.REVOKED, KeyStatus.DESTROYED) or self.is_revoked(
            rec.fingerprint
        ):
            raise CryptoError(f"key {rec.fingerprint} is {rec.status.value}; it cannot be used")
        suite = get_suite(rec.suite)
        try:
            data = self._key_path(rec.fingerprint).read_bytes()
        except FileNotFoundError as exc:
            raise CryptoError("cannot open key file") from exc
        pem, recorded = open_key_file(suite, data, passphrase)
        key = suite.load_signing_key(pem)
        if recorded != rec.fingerprint or key.verify_key().fingerprint() != rec.fingerprint:
            raise CryptoError("cannot open key file")
        return key

    def revocations(self) -> list[Revocation]:
        """The revocation list, oldest first."""
        return [
            Revocation(
                raw["fingerprint"],
                RevocationReason(raw["reason"]),
                datetime.fromisoformat(raw["time"]),
            )
            for raw in self._read("revocations.json", "revoked")
        ]

    def is_revoked(self, fingerprint: str) -> bool:
        """Whether ``fingerprint`` is on the revocation list."""
        return any(r.fingerprint == fingerprint for r in self.revocations())

    # -- actions ---------------------------------------------------------------------------

    def generate(
        self,
        suite: Suite | str,
        passphrase: bytes,
        *,
        label: str = DEFAULT_LABEL,
        now: datetime | None = None,
    ) -> KeyRecord:
        """Generate a signing key of ``suite`` as the CURRENT key of ``label``.

        ConfigError if ``label`` already has a current key (use ``rotate``).
        """
        chosen = self._suite(suite)
        with self._locked():
            return self._add(chosen.generate_signing_key(), chosen, passphrase, label, _now(now))

    def add(
        self,
        key: SigningKey,
        suite: Suite | str,
        passphrase: bytes,
        *,
        label: str = DEFAULT_LABEL,
        now: datetime | None = None,
    ) -> KeyRecord:
        """Store an existing ``key`` (e.g. a CA key) as the CURRENT key of ``label``."""
        with self._locked():
            return self._add(key, self._suite(suite), passphrase, label, _now(now))

    def rotate(
        self,
        passphrase: bytes,
        *,
        label: str = DEFAULT_LABEL,
        now: datetime | None = None,
        old_passphrase: bytes | None = None,
    ) -> KeyRecord:
        """Retire the current key of ``label`` and make a new key of the same suite current.

        The retired key stays (encrypted) and loadable by fingerprint. ``old_passphrase``
        (default: ``passphrase``) must open the current key — whoever rotates must hold it,
        CryptoError otherwise; ``passphrase`` protects the new key. Returns the new record.
        """
        when = _now(now)
        self.load(old_passphrase or passphrase, label=label)  # proves the caller holds the current key
        with self._locked():
            old = self.current(label)
            self._update(old.fingerprint, status=KeyStatus.RETIRED, retired=when)
            suite = get_suite(old.suite)
            return self._add(suite.generate_signing_key(), suite, passphrase, label, when)

    def revoke(
        self, fingerprint: str, reason: RevocationReason | str, *, now: datetime | None = None
    ) -> Revocation:
        """Put ``fingerprint`` on the revocation list (any key, held here or not); a key held
        here is marked REVOKED and will no longer load. Revoking twice keeps the first entry."""
        entry = Revocation(fingerprint, RevocationReason(reason), _now(now))
        with self._locked():
            for existing in self.revocations():
                if existing.fingerprint == fingerprint:
                    return existing
            listed = self._read("revocations.json", "revoked")
            listed.append(
                {
                    "fingerprint": fingerprint,
                    "reason": entry.reason.value,
                    "time": entry.time.isoformat(),
                }
            )
            self._write("revocations.json", "revoked", listed)
            if any(r.fingerprint == fingerprint for r in self.records()):
                rec = self.record(fingerprint)
                status = (
                    KeyStatus.DESTROYED if rec.status is KeyStatus.DESTROYED else KeyStatus.REVOKED
                )
                self._update(fingerprint, status=status, revoked=entry.time)
        return entry

    def destroy(self, fingerprint: str, *, now: datetime | None = None) -> KeyRecord:
        """Overwrite and delete the private key file; the index keeps the fingerprint (and
        public key) as DESTROYED so old signatures can still be attributed."""
        with self._locked():
            self.record(fingerprint)  # ConfigError for an unknown key
            path = self._key_path(fingerprint)
            if path.exists():
                shred(path)
            return self._update(fingerprint, status=KeyStatus.DESTROYED, destroyed=_now(now))

    # -- internals -------------------------------------------------------------------------

    def _suite(self, suite: Suite | str) -> Suite:
        return get_suite(suite) if isinstance(suite, str) else suite

    def _add(
        self, key: SigningKey, suite: Suite, passphrase: bytes, label: str, when: datetime
    ) -> KeyRecord:
        if any(r.label == label and r.status is KeyStatus.CURRENT for r in self.records()):
            raise ConfigError(f"{label!r} already has a current key in {self.root}; rotate it")
        pem = key.private_bytes(None)
        suite.load_signing_key(pem)  # CryptoError now, not at load time, for a foreign key
        verify_key = key.verify_key()
        fingerprint = verify_key.fingerprint()
        sealed = seal_key_file(suite, pem, fingerprint, passphrase, self.kdf)
        write_private(self._key_path(fingerprint), sealed)
        rec = KeyRecord(
            label=label,
            suite=suite.name,
            fingerprint=fingerprint,
            public_pem=verify_key.public_bytes().decode(),
            status=KeyStatus.CURRENT,
            created=when,
        )
        self._write("index.json", "keys", [*self._read("index.json", "keys"), rec.to_json()])
        return rec

    def _update(self, fingerprint: str, **changes: Any) -> KeyRecord:
        records = [
            replace(r, **changes) if r.fingerprint == fingerprint else r for r in self.records()
        ]
        self._write("index.json", "keys", [r.to_json() for r in records])
        return next(r for r in records if r.fingerprint == fingerprint)

    def _key_path(self, fingerprint: str) -> Path:
        if not fingerprint.isalnum():  # a fingerprint is hex: never a path
            raise ConfigError(f"malformed key fingerprint {fingerprint!r}")
        return self.root / "keys" / f"{fingerprint}.key"

    def _read(self, name: str, field: str) -> list[dict[str, Any]]:
        try:
            return list(json.loads((self.root / name).read_text())[field])
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{self.root / name} is corrupt") from exc

    def _write(self, name: str, field: str, items: list[dict[str, Any]]) -> None:
        document = {"format": f"medfed-{name.removesuffix('.json')}/1", field: items}
        write_private(self.root / name, json.dumps(document, indent=1).encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        (self.root / "keys").mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
