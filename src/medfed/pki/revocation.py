"""Certificate revocation for a study (5.5.1.3c): a revocation list the dispatcher checks at
every connection.

The list lives in the dispatcher's kit (``revoked.json``) and is read again at each
challenge–response, so a revocation takes effect for the next connection without a restart.
Entries name the certificate by the SHA-256 fingerprint of its PEM, with the party, the reason
and the time.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from medfed.errors import ConfigError, IdentityError

REVOKED_FILE = "revoked.json"
REASONS = ("unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded", "cessation_of_operation")


def cert_fingerprint(cert_pem: bytes) -> str:
    return hashlib.sha256(cert_pem.strip()).hexdigest()


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        # An unreadable list must not silently admit revoked parties.
        raise IdentityError(f"revocation list {path} is unreadable: {exc}") from None
    if not isinstance(data, list):
        raise IdentityError(f"revocation list {path} is malformed")
    return data


def revoke_certificate(kit_dir: Path, party: str, cert_pem: bytes, *, reason: str = "unspecified") -> dict[str, str]:
    """Add a party's certificate to the list in the dispatcher's kit ``kit_dir``."""
    if reason not in REASONS:
        raise ConfigError(f"revocation reason must be one of {', '.join(REASONS)}, not {reason!r}")
    path = kit_dir / REVOKED_FILE
    entries = _read(path)
    entry = {
        "party": party,
        "fingerprint": cert_fingerprint(cert_pem),
        "reason": reason,
        "revoked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if all(e.get("fingerprint") != entry["fingerprint"] for e in entries):
        entries.append(entry)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return entry


def check_not_revoked(kit_dir: Path, *cert_pems: bytes) -> None:
    """IdentityError naming the party and reason if any of these certificates is revoked."""
    revoked = {e.get("fingerprint"): e for e in _read(kit_dir / REVOKED_FILE)}
    for pem in cert_pems:
        hit = revoked.get(cert_fingerprint(pem))
        if hit is not None:
            raise IdentityError(
                f"the certificate of {hit.get('party')} was revoked ({hit.get('reason')}, {hit.get('revoked_at')})"
            )
